#!/usr/bin/env bash
# Tampering with the audit log directly in the database, and `lisec audit
# verify` catching it. A log of 200 entries (a fifth of them sealed LI
# entries, a checkpoint every 50) is written by the real appender, first to
# a SQLite file and then to a PostgreSQL server started for this test. Each
# scenario works on a fresh copy, drops the append-only trigger the way a
# tamperer would, edits rows with the sqlite3 CLI or psql, and expects exit 1
# with a finding that names what and where; the intact log must give 0. The
# checkpoint signatures and key id are also checked with openssl, and the
# proofs `lisec audit prove` prints with an independent Python reading of
# RFC 9162 (audit_reference.py).
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
release_only "test_audit finds the same tampering in memory, audit_api and audit_crash run the store paths"

driver=$build/src/audit/audit_crash_driver
cd "$work"
openssl genpkey -algorithm ed25519 -out cp.pem 2>/dev/null
openssl genpkey -algorithm ed25519 -out other.pem 2>/dev/null
lisec audit li-keygen li.key li.pub
lisec audit li-keygen other-li.key other-li.pub

# write_log URL COUNT: one writer that has a checkpoint signed at every
# multiple of 50 before it goes on.
write_log() {
  "$driver" --url "$1" --key cp.pem --li-pub li.pub --threads 1 --count "$2" --li-every 5 \
    --checkpoint-entries 100000 --checkpoint-sync 50 --vkey-out vkey >/dev/null 2>"$work/driver.log" || { cat "$work/driver.log"; fail "driver on $1"; }
}

# expect_tamper NAME DB STATE PATTERN: verify must exit 1 and say PATTERN.
expect_tamper() {
  local name=$1 db=$2 state=$3 pattern=$4 rc=0
  cp "$state" "$work/st-$name.json"
  lisec audit verify --db "$db" --pubkey vkey --state "$work/st-$name.json" >"$work/out-$name" 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || { cat "$work/out-$name"; fail "$name: verify exit $rc, want 1"; }
  grep -Eq "$pattern" "$work/out-$name" || { cat "$work/out-$name"; fail "$name: no finding matching /$pattern/"; }
  cmp -s "$state" "$work/st-$name.json" || fail "$name: a tampered log moved the auditor's state"
  pass "$name: $(grep -E -m1 "$pattern" "$work/out-$name" | sed 's/^ *//')"
}

# only_finding NAME PATTERN: the report of expect_tamper NAME holds exactly
# one finding, and it matches PATTERN (what happened, and nothing else).
only_finding() {
  local out=$work/out-$1
  grep -q "^audit log TAMPERED: 1 finding(s)" "$out" && [ "$(grep -c '^  ' "$out")" = 1 ] &&
    grep -Eq "^  $2" "$out" || { cat "$out"; fail "$1: want exactly one finding, /$2/"; }
}

# check_note NOTE_FILE: the signed note, checked without lisec (python for
# the format and key id, openssl for the Ed25519 signature).
check_note() {
  python3 - "$1" vkey "$work" <<'PY'
import base64, hashlib, sys
note = open(sys.argv[1]).read()
if note.endswith("\n\n"): note = note[:-1]  # the CLI's own newline
name, kid, kb = open(sys.argv[2]).read().strip().split("+", 2)
raw = base64.b64decode(kb); assert raw[0] == 1 and len(raw) == 33; pk = raw[1:]
assert hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4].hex() == kid, "key id"
i = note.rindex("\n\n"); text, sig_line = note[:i + 1], note[i + 2:]
lines = text.split("\n")
assert lines[0] == name and lines[1].isdigit() and len(base64.b64decode(lines[2])) == 32, "checkpoint body"
assert sig_line.startswith("\u2014 " + name + " ") and sig_line.endswith("\n"), "signature line"
sig = base64.b64decode(sig_line.split(" ")[2]); assert sig[:4].hex() == kid and len(sig) == 68
open(sys.argv[3] + "/body", "wb").write(text.encode())
open(sys.argv[3] + "/sig", "wb").write(sig[4:])
open(sys.argv[3] + "/pub.der", "wb").write(bytes.fromhex("302a300506032b6570032100") + pk)
PY
  openssl pkeyutl -verify -pubin -inkey "$work/pub.der" -keyform DER -rawin -in "$work/body" \
    -sigfile "$work/sig" >/dev/null || fail "openssl does not verify the checkpoint signature"
}

# ---- SQLite ---------------------------------------------------------------
write_log "sqlite:$work/base.db" 100
sqlite3 base.db ".backup '$work/backup100.db'"
write_log "sqlite:$work/base.db" 100
[ "$(sqlite3 base.db 'SELECT count(*) FROM audit_log')" = 200 ] || fail "base log size"
[ "$(sqlite3 base.db 'SELECT group_concat(tree_size) FROM checkpoints')" = "50,100,150,200" ] ||
  fail "checkpoints at $(sqlite3 base.db 'SELECT group_concat(tree_size) FROM checkpoints')"
lisec audit verify --db base.db --pubkey vkey --state state.json >out-intact || fail "intact log: exit $?"
grep -q "audit log intact: 200 entries (40 sealed), 4 checkpoint(s) verified" out-intact || { cat out-intact; fail "intact summary"; }
pass "intact SQLite log verifies: $(head -c 80 out-intact)"
grep -q '"checkpoint": "lisec.test/audit\\n200\\n' state.json || fail "state holds the checkpoint at 200"
sqlite3 base.db "SELECT note FROM checkpoints WHERE tree_size = 150" >note150
check_note note150
pass "checkpoint note: C2SP format, key id and Ed25519 signature checked with python and openssl"

# Proofs against the independent reference.
for i in 0 1 49 77 150 199; do lisec audit prove --db base.db --index "$i" >"proof-i$i.json" || fail "prove --index $i"; done
for m in 1 7 50 64 100 199 200; do lisec audit prove --db base.db --old "$m" >"proof-c$m.json" || fail "prove --old $m"; done
lisec audit prove --db base.db --index 10 --size 37 >proof-s37.json
leaf=$(python3 -c 'import json;print(json.load(open("proof-i77.json"))["leaf_hash"])')
lisec audit prove --db base.db --leaf "$leaf" >proof-leaf.json
[ "$(python3 -c 'import json;print(json.load(open("proof-leaf.json"))["index"])')" = 77 ] || fail "prove --leaf"
python3 "$src/tests/integration/audit_reference.py" check-db base.db proof-*.json || fail "proofs differ from the reference"
grep -q '"checkpoint"' proof-i77.json || fail "the proof names the checkpoint it is against"
pass "inclusion and consistency proofs equal an independent RFC 9162 implementation's"

# Sealed entries: only the LI administration's key opens them.
lisec audit read --db base.db --li-key li.key >read-ok 2>read-ok.err || fail "read with the LI key: exit $?"
grep -q "40 sealed opened, 0 sealed left closed" read-ok.err || fail "LI key opens all sealed entries"
grep -q "li.target.activate" read-ok || fail "opened entries show their action"
rc=0; lisec audit read --db base.db --li-key other-li.key >read-bad 2>read-bad.err || rc=$?
[ "$rc" -eq 1 ] && grep -q "0 sealed opened, 40 sealed left closed" read-bad.err || fail "another key must open nothing"
! grep -q "li.target.activate" read-bad || fail "an LI action leaked without the key"
! sqlite3 base.db "SELECT hex(data) FROM audit_log" | grep -qi "$(printf 'li.target' | od -An -tx1 | tr -d ' \n')" || fail "LI text in the database"
pass "sealed LI entries open with the LI key only; the database holds ciphertext"

# fresh COPY: the base log with every trigger dropped, as a tamperer would.
fresh() {
  cp base.db "$1"
  local t
  for t in $(sqlite3 "$1" "SELECT name FROM sqlite_master WHERE type = 'trigger'"); do
    sqlite3 "$1" "DROP TRIGGER $t"
  done
}

fresh t1.db
sqlite3 t1.db "UPDATE audit_log SET data = CAST(substr(data, 1, 22) || X'58' || substr(data, 24) AS BLOB) WHERE idx = 77"
expect_tamper sqlite-changed t1.db state.json "entry 77: its data does not match its stored leaf hash"

fresh t2.db
python3 - t2.db <<'PY'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
data = bytearray(db.execute("SELECT data FROM audit_log WHERE idx = 77").fetchone()[0])
data[22] = ord("X")
db.execute("UPDATE audit_log SET data = ?, leaf_hash = ? WHERE idx = 77",
           (bytes(data), hashlib.sha256(b"\x00" + bytes(data)).digest()))
db.commit()
PY
expect_tamper sqlite-changed-rehashed t2.db state.json "checkpoint at size 100: the recomputed root differs .* index 50\.\.99"

# The sealed flag is not hashed: an LI entry listed as plain, or a plain
# one as sealed (hidden from whoever filters on it), is named all the same.
fresh tflag.db
plain=$(sqlite3 tflag.db "SELECT min(idx) FROM audit_log WHERE sealed = 0")
sealed=$(sqlite3 tflag.db "SELECT min(idx) FROM audit_log WHERE sealed = 1")
sqlite3 tflag.db "UPDATE audit_log SET sealed = 1 - sealed WHERE idx IN ($plain, $sealed)"
lisec audit verify --db tflag.db --pubkey vkey >out-flag 2>&1 && { cat out-flag; fail "a changed sealed flag passed"; }
grep -q "entry $plain: stored as sealed but its data is a plain record" out-flag &&
  grep -q "entry $sealed: stored as not sealed but its data is sealed" out-flag ||
  { cat out-flag; fail "the changed sealed flags are not named"; }
pass "a sealed flag changed in the store is named, either way"

fresh t3.db
sqlite3 t3.db "DELETE FROM audit_log WHERE idx = 120"
expect_tamper sqlite-deleted t3.db state.json "entries 120\.\.120 are missing \(deleted\)"
only_finding sqlite-deleted "entries 120\.\.120 are missing \(deleted\)$"
rc=0; lisec audit verify --db t3.db --pubkey vkey >out-deleted-nostate 2>&1 || rc=$?
[ "$rc" = 1 ] && ! grep -Eq "truncated|rolled back|root differs" out-deleted-nostate ||
  { cat out-deleted-nostate; fail "one deleted entry is reported as more than a deletion (no state)"; }
pass "one deleted entry is named exactly, and not also as a truncation or a changed root"

# A deletion in the middle and a truncated tail: two findings, each named.
fresh t3b.db
sqlite3 t3b.db "DELETE FROM audit_log WHERE idx = 120 OR idx >= 180"
expect_tamper sqlite-deleted-and-truncated t3b.db state.json "entries 120\.\.120 are missing \(deleted\)"
grep -q "checkpoint at size 200 is signed but the log holds only 180 entries: entries 180\.\.199 were removed (truncated)" \
  out-sqlite-deleted-and-truncated || { cat out-sqlite-deleted-and-truncated; fail "the truncation beside a deletion"; }

fresh t4.db
sqlite3 t4.db "DELETE FROM audit_log WHERE idx = 120; UPDATE audit_log SET idx = -idx WHERE idx > 120; UPDATE audit_log SET idx = -idx - 1 WHERE idx < 0;"
expect_tamper sqlite-deleted-renumbered t4.db state.json "entry 120: it says it is entry 121"

fresh t5.db
sqlite3 t5.db "UPDATE audit_log SET idx = -1 WHERE idx = 30; UPDATE audit_log SET idx = 30 WHERE idx = 31; UPDATE audit_log SET idx = 31 WHERE idx = -1;"
expect_tamper sqlite-reordered t5.db state.json "entry 30: it says it is entry 31"

fresh t6.db
sqlite3 t6.db "DELETE FROM audit_log WHERE idx >= 180"
expect_tamper sqlite-truncated t6.db state.json "checkpoint at size 200 is signed but the log holds only 180 entries"
! grep -q "missing (deleted)" out-sqlite-truncated || { cat out-sqlite-truncated; fail "a truncation called a deletion"; }

fresh t7.db
sqlite3 t7.db "DELETE FROM audit_log WHERE idx >= 180; DELETE FROM checkpoints WHERE tree_size > 150"
expect_tamper sqlite-truncated-hidden t7.db state.json "this auditor saw a checkpoint at size 200 but the log holds 180 entries"

cp backup100.db t8.db
expect_tamper sqlite-rollback t8.db state.json "rolled back"

# One row copied to an index near 2^62 or at 2^63 - 3: the log's size
# (1 + the highest index) is then astronomical, and verify read it page by
# empty page for ever. It names the gap and ends (the bound only stops a
# hang from hanging the suite).
for far in 4611686018427387000 9223372036854775805; do
  fresh "tfar-$far.db"
  sqlite3 "tfar-$far.db" "INSERT INTO audit_log (idx, time_ms, sealed, data, leaf_hash) SELECT $far, time_ms, sealed, data, leaf_hash FROM audit_log WHERE idx = 199"
  cp state.json "st-far.json"
  rc=0
  timeout 300 "$build/cmd/lisec/lisec" audit verify --db "tfar-$far.db" --pubkey vkey --state st-far.json >"out-far" 2>&1 || rc=$?
  [ "$rc" = 1 ] && grep -q "entries 200\.\.$((far - 1)) are missing" out-far ||
    { cat out-far; fail "an entry at index $far: verify exit $rc, want 1 naming the gap"; }
done
pass "an entry at an index near 2^62 is named as a gap, not read for ever"
# At 2^63 - 1 the size overflows: the row could not be read, so verify
# refuses the store rather than call the log intact.
fresh tmax.db
sqlite3 tmax.db "INSERT INTO audit_log (idx, time_ms, sealed, data, leaf_hash) SELECT 9223372036854775807, time_ms, sealed, data, leaf_hash FROM audit_log WHERE idx = 199"
rc=0
timeout 300 "$build/cmd/lisec/lisec" audit verify --db tmax.db --pubkey vkey >out-max 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "entry at index 9223372036854775807, which lisec never writes" out-max ||
  { cat out-max; fail "an entry at index 2^63 - 1: verify exit $rc, want 2 naming the index"; }
pass "an entry at index 2^63 - 1 is refused, not left unread under an intact verdict"

# The state file is complete or absent (issue 14 item 17): an existing file
# that is empty, not JSON, or lacks the pinned key or the checkpoint seen is
# an error (exit 2) naming what is missing, and is left as it was; it was
# read as a fresh auditor, and the rolled-back copy then verified "intact".
vkey_json=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["vkey"]))' state.json)
note_json=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["checkpoint"]))' state.json)
bad_state() {
  local name=$1 content=$2 pattern=$3 rc=0
  printf '%s' "$content" >"st-bad-$name.json"
  cp "st-bad-$name.json" "st-bad-$name.orig"
  lisec audit verify --db t8.db --pubkey vkey --state "st-bad-$name.json" >"out-bad-$name" 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || { cat "out-bad-$name"; fail "state file $name: exit $rc, want 2"; }
  grep -Eq "$pattern" "out-bad-$name" || { cat "out-bad-$name"; fail "state file $name: the error does not say /$pattern/"; }
  cmp -s "st-bad-$name.json" "st-bad-$name.orig" || fail "state file $name was rewritten"
  pass "state file $name refused: $(head -c 150 "out-bad-$name")"
}
bad_state empty-object '{}' 'field "vkey" is required'
bad_state empty-file '' 'state file .*empty'
bad_state not-json '{"vkey": ' 'state file'
bad_state array '[]' 'not a JSON object'
bad_state key-only "{\"vkey\": $vkey_json}" 'field "checkpoint" is required: the checkpoint this auditor saw'
bad_state checkpoint-only "{\"checkpoint\": $note_json}" 'field "vkey" is required'
bad_state checkpoint-null "{\"vkey\": $vkey_json, \"checkpoint\": null}" 'field "checkpoint" is required'
bad_state checkpoint-number "{\"vkey\": $vkey_json, \"checkpoint\": 200}" 'field "checkpoint" must be a string'
# A missing file is a fresh auditor: the intact log verifies and the file appears.
lisec audit verify --db base.db --pubkey vkey --state fresh-state.json >/dev/null || fail "a fresh auditor (no state file)"
grep -q '"checkpoint": "lisec.test/audit\\n200\\n' fresh-state.json || fail "the fresh auditor's state names size 200"
pass "a missing state file is a fresh auditor; an incomplete one is refused"

fresh t9.db
sqlite3 t9.db "UPDATE checkpoints SET note = replace(note, char(10) || '150' || char(10), char(10) || '151' || char(10)) WHERE tree_size = 150"
expect_tamper sqlite-forged-checkpoint t9.db state.json "checkpoint filed at size 150: .*forged"

# A checkpoint signed by another key for a history that never was.
"$driver" --url "sqlite:$work/other.db" --key other.pem --threads 1 --count 150 --checkpoint-entries 100000 \
  --checkpoint-sync 150 >/dev/null 2>&1
fresh t10.db
note=$(sqlite3 other.db "SELECT note FROM checkpoints WHERE tree_size = 150")
sqlite3 t10.db "UPDATE checkpoints SET note = '$note' || char(10) WHERE tree_size = 150"
expect_tamper sqlite-checkpoint-other-key t10.db state.json "checkpoint filed at size 150: .*not signed by lisec.test/audit"

# The untouched log still verifies, and a verifier without any state is
# still told about truncation by the signed checkpoints.
lisec audit verify --db base.db --pubkey vkey --state state.json >/dev/null || fail "intact log after the scenarios"
rc=0; lisec audit verify --db t6.db --pubkey vkey >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "truncation without state: exit $rc"
rc=0; lisec audit verify --db "$work/absent.db" --pubkey vkey >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] && [ ! -e "$work/absent.db" ] || fail "a missing database is an error (2) and is not created"

# ---- PostgreSQL -----------------------------------------------------------
pgdir=$(mktemp -d "$tmp_base/lisec-pg-audit-XXXXXX")
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
admin=${url%/*}/postgres
psql -q "$url" -c "SELECT 1" >/dev/null || fail "psql cannot reach $url"
write_log "$url" 100
psql -q "$admin" -c "CREATE DATABASE backup100 TEMPLATE lisec" >/dev/null
write_log "$url" 100
[ "$(psql -tA "$url" -c "SELECT string_agg(tree_size::text, ',' ORDER BY tree_size) FROM checkpoints")" = "50,100,150,200" ] ||
  fail "PostgreSQL checkpoints not at 50,100,150,200"
lisec audit verify --db "$url" --pubkey vkey --state pg-state.json >pg-intact || { cat pg-intact; fail "intact PostgreSQL log"; }
grep -q "audit log intact: 200 entries (40 sealed), 4 checkpoint(s) verified" pg-intact || fail "intact summary (PostgreSQL)"
pass "intact PostgreSQL log verifies"

# pg_case NAME SQL PATTERN: a copy of the database, the trigger disabled, SQL run.
pg_case() {
  local name=$1 sql=$2 pattern=$3 db
  db=t_${name//-/_}
  psql -q "$admin" -c "CREATE DATABASE $db TEMPLATE lisec" >/dev/null
  psql -q -v ON_ERROR_STOP=1 "${url%/*}/$db" -c "ALTER TABLE audit_log DISABLE TRIGGER USER; ALTER TABLE checkpoints DISABLE TRIGGER USER; $sql" >/dev/null
  expect_tamper "pg-$name" "${url%/*}/$db" pg-state.json "$pattern"
}
pg_case changed "UPDATE audit_log SET data = overlay(data placing '\\x58'::bytea from 23 for 1) WHERE idx = 77" \
  "entry 77: its data does not match its stored leaf hash"
pg_case changed-rehashed "UPDATE audit_log SET data = overlay(data placing '\\x58'::bytea from 23 for 1), leaf_hash = sha256('\\x00'::bytea || overlay(data placing '\\x58'::bytea from 23 for 1)) WHERE idx = 77" \
  "checkpoint at size 100: the recomputed root differs"
pg_case deleted "DELETE FROM audit_log WHERE idx = 120" "entries 120\.\.120 are missing"
only_finding pg-deleted "entries 120\.\.120 are missing \(deleted\)$"
pg_case reordered "UPDATE audit_log a SET data = b.data, leaf_hash = b.leaf_hash, sealed = b.sealed FROM audit_log b WHERE (a.idx = 30 AND b.idx = 31) OR (a.idx = 31 AND b.idx = 30)" \
  "entry 30: it says it is entry 31"
pg_case truncated "DELETE FROM audit_log WHERE idx >= 180; DELETE FROM checkpoints WHERE tree_size > 150" \
  "this auditor saw a checkpoint at size 200"
pg_case forged-checkpoint "UPDATE checkpoints SET note = replace(note, E'\\n150\\n', E'\\n151\\n') WHERE tree_size = 150" \
  "checkpoint filed at size 150: .*forged"
expect_tamper pg-rollback "${url%/*}/backup100" pg-state.json "rolled back"
lisec audit verify --db "$url" --pubkey vkey --state pg-state.json >/dev/null || fail "intact PostgreSQL log after the scenarios"
echo "audit_tamper: all scenarios detected"
