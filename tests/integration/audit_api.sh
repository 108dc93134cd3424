#!/usr/bin/env bash
# The audit log through lisecd (TR 103 308 §4.1, §5.5, O.1.4): events that
# lisecd records (refused attempts on LI routes, sealed; refused reads of
# the log, plain) land in the checkpointed log; auditors fetch checkpoints,
# entries and proofs over the API; the proofs agree with an independent
# Python reading of RFC 9162 over the rows in the database file; `lisec
# audit verify` and `read` work online; malformed queries are 400s naming
# the parameter; and lisecd killed with SIGKILL amid concurrent recorded
# requests loses no acknowledged record and leaves a log that verifies.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"

pki=$work/pki
make_pki "$pki"
cd "$work"
lisec audit li-keygen li.key li.pub
lisec audit li-keygen other.key other.pub
conf=("[audit]" "li_admin_key = $work/li.pub" "checkpoint_entries = 4" "checkpoint_ms = 100"
      "vkey_file = $work/lisecd.vkey")
start_lisecd "$pki" "${conf[@]}"
grep -q "DEVELOPMENT MODE: the audit log's checkpoint key" "$work/lisecd.log" ||
  fail "a development checkpoint key is not announced at start"

# status CODE ROLE PATH: the HTTP status of a GET
status() { as "$1" -o "$work/body" -w '%{http_code}' "$LISECD_URL$2"; }

# Refused attempts: on an LI route (sealed) and on the log itself (plain).
for _ in 1 2 3 4 5; do [ "$(status operator /v1/targets)" = 403 ] || fail "operator read targets"; done
for _ in 1 2 3; do [ "$(status tenant-example /v1/audit/entries)" = 403 ] || fail "tenant read the log"; done
[ "$(status host /v1/audit/checkpoint)" = 403 ] || fail "a host read the checkpoint"
pass "refused roles get 403 on the log and on LI data"

[ "$(status auditor '/v1/audit/entries?from=0&count=100')" = 200 ] || fail "auditor entries: $(cat body)"
python3 - "$work/body" <<'PY' || fail "entries"
import json, sys, base64
j = json.load(open(sys.argv[1]))
e = j["entries"]
assert j["size"] == len(e) >= 9, j["size"]
assert [x["index"] for x in e] == list(range(len(e)))
sealed = [x for x in e if x["sealed"]]
plain = [x for x in e if not x["sealed"]]
assert len(sealed) == 5 and len(plain) >= 4, (len(sealed), len(plain))
for x in sealed:
    assert b"operator" not in base64.b64decode(x["data"]), "a sealed entry shows who asked"
assert any(b"audit.read" in base64.b64decode(x["data"]) for x in plain)
PY
pass "entries: refused LI reads sealed, refused log reads in the clear, indices contiguous"

# Wait for the checkpoint that covers them.
for _ in $(seq 1 50); do
  [ "$(status auditor /v1/audit/checkpoint)" = 200 ] &&
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["tree_size"] >= 9 else 1)' body && break
  sleep 0.1
done
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["tree_size"] >= 9 else 1)' body ||
  fail "no checkpoint of 9 or more entries: $(cat body)"
[ "$(status operator /v1/audit/vkey)" = 200 ] || fail "vkey"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["development"] is True; print(j["vkey"])' body >api.vkey
cmp -s <(tr -d '\n' <api.vkey) <(tr -d '\n' <lisecd.vkey) || fail "the API's verifier key differs from vkey_file"
pass "checkpoint published within checkpoint_ms; verifier key matches vkey_file"

# Proofs from the API against the reference over the database rows.
[ "$(status auditor '/v1/audit/proof/inclusion?index=3')" = 200 ] || fail "inclusion: $(cat body)"
cp body incl-3.json
grep -q '"checkpoint"' incl-3.json || fail "a proof at the checkpoint size carries no note"
leaf=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["leaf_hash"])' incl-3.json)
[ "$(status li-admin "/v1/audit/proof/inclusion?leaf_hash=$leaf")" = 200 ] || fail "by leaf: $(cat body)"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["index"] == 3' body || fail "leaf lookup"
cp body incl-leaf.json
[ "$(status operator '/v1/audit/proof/consistency?old=2&tree_size=8')" = 200 ] || fail "consistency: $(cat body)"
cp body cons.json
python3 "$src/tests/integration/audit_reference.py" check-db lisec.db incl-3.json incl-leaf.json cons.json ||
  fail "API proofs differ from the reference"
pass "inclusion (by index, by leaf hash) and consistency proofs equal the RFC 9162 reference"

# Malformed queries: 400 naming the parameter.
bad() {
  local code
  code=$(status auditor "$1")
  [ "$code" = "$2" ] || fail "$1: HTTP $code, want $2: $(cat body)"
  grep -q "$3" body || fail "$1: the error does not name '$3': $(cat body)"
}
bad '/v1/audit/entries?count=0' 400 count
bad '/v1/audit/entries?count=10001' 400 count
bad '/v1/audit/entries?from=abc' 400 from
bad '/v1/audit/entries?from=-1' 400 from
bad '/v1/audit/entries?from=99999999999999999999999' 400 from
bad '/v1/audit/proof/inclusion' 400 'exactly one'
bad '/v1/audit/proof/inclusion?index=1&leaf_hash=00' 400 'exactly one'
bad '/v1/audit/proof/inclusion?leaf_hash=zz' 400 leaf_hash
bad "/v1/audit/proof/inclusion?leaf_hash=$(printf '%064d' 0)" 404 'no audit entry'
bad '/v1/audit/proof/inclusion?index=100000' 400 'not below'
bad '/v1/audit/proof/inclusion?index=1&tree_size=100000' 400 'beyond'
bad '/v1/audit/proof/consistency' 400 old
bad '/v1/audit/proof/consistency?old=0' 400 old
bad '/v1/audit/proof/consistency?old=%31' 400 old
pass "malformed, out-of-range and unknown queries are refused naming the parameter"

# The CLI online: verify with a pinned key and a state file; read with the LI key.
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
cli auditor audit verify --pubkey lisecd.vkey --state st.json >verify.out || { cat verify.out; fail "online verify"; }
cli auditor audit read --li-key li.key >read.out || { cat read.out; fail "online read with the LI key"; }
[ "$(grep -c 'target.list' read.out)" -ge 5 ] || { cat read.out; fail "sealed entries not opened"; }
rc=0
cli auditor audit read --li-key other.key >read-other.out 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "another key: exit $rc, want 1"
! grep -q 'target.list' read-other.out || fail "another key opened a sealed entry"
pass "lisec audit verify and read online; another key leaves sealed entries closed"

# SIGKILL amid concurrent recorded requests: every acknowledged 403 is a
# durable record, so after a restart the log holds at least that many new
# entries and verifies. The workers stop once lisecd is gone (the file
# killed): their requests after it only fail to connect.
before=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from audit_log").fetchone()[0])' lisec.db)
for w in 1 2 3 4; do
  ( for i in $(seq 1 400); do
      [ -e killed ] && break
      c=$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/targets" 2>/dev/null || true)
      [ "$c" = 403 ] && echo ack
    done >"acks-$w" ) &
done
# The kill comes amid the load: once 20 requests were acknowledged.
for _ in $(seq 1 600); do [ "$(cat acks-* 2>/dev/null | wc -l)" -ge 20 ] && break; sleep 0.05; done
kill -KILL "$LISECD_PID"
touch killed
wait "$LISECD_PID" 2>/dev/null || true
LISECD_PID=
wait
acks=$(cat acks-* | wc -l)
[ "$acks" -gt 0 ] || fail "no request was acknowledged before the kill"
start_lisecd "$pki" "${conf[@]}"
after=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from audit_log").fetchone()[0])' lisec.db)
[ $((after - before)) -ge "$acks" ] || fail "$acks acknowledged, only $((after - before)) recorded"
stop_lisecd
lisec audit verify --db lisec.db --pubkey lisecd.vkey --state st.json >verify2.out ||
  { cat verify2.out; fail "the log does not verify after SIGKILL"; }
pass "SIGKILL during $acks acknowledged concurrent records: all durable, the log verifies"
