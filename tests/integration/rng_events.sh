#!/usr/bin/env bash
# lisec-entropyd reports to lisecd, end to end with both real daemons and the
# development PKI (TR 103 308 §4.2, §5.15, O.1.4): seed issuance is counted
# in lisecd's audit log (who, when, how many seeds and bytes, never a value;
# an LI VNF's record sealed), a stuck source (/dev/zero) becomes a finding
# at GET /v1/rng/findings and is closed when the source is healthy again, a
# daemon that fails closed becomes a critical finding, reports lisecd missed
# while it was down are resent and recorded once, and the route refuses the
# wrong role, oversized and malformed bodies.
build=${1:?build dir}
src=${2:?source dir}
# shellcheck source=lib/common.sh
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/entropyd.sh" # seed_replay, entropyd_up

entropyd="$build/cmd/lisec-entropyd/lisec-entropyd"
[ -x "$entropyd" ] || fail "lisec-entropyd not built"

pki=$work/pki
make_pki "$pki"
# The daemons report with their own certificates, role host; the VNFs have a
# role lisecd does not know (they never talk to lisecd).
for n in entropyd-1 entropyd-2; do lisec pki issue "$pki" "$n" host "$n" >/dev/null || fail "issue $n"; done
for n in vnf-a vnf-li; do lisec pki issue "$pki" "$n" vnf "$n" >/dev/null || fail "issue $n"; done
(cd "$work" && lisec audit li-keygen li.key li.pub >/dev/null) || fail "li-keygen"
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li.pub"

# start_entropyd NAME IDENTITY [config lines...]: sets <NAME>_PORT, _MPORT, _PID.
start_entropyd() {
  local name=$1 ident=$2
  shift 2
  local port mport
  port=$(free_port)
  mport=$(free_port)
  {
    echo "[server]"
    echo "listen = 127.0.0.1:$port"
    echo "[tls]"
    echo "cert = $pki/server.crt"
    echo "key = $pki/server.key"
    echo "client_ca = $pki/ca.crt"
    echo "[clients]"
    echo "allowed = vnf-a, vnf-li"
    echo "li = vnf-li"
    echo "[metrics]"
    echo "listen = 127.0.0.1:$mport"
    echo "[report]"
    echo "url = $LISECD_URL"
    echo "cert = $pki/$ident.crt"
    echo "key = $pki/$ident.key"
    echo "ca = $pki/ca.crt"
    echo "interval_s = 1"
    echo "timeout_s = 3"
    for line in "$@"; do echo "$line"; done
  } >"$work/$name.conf"
  "$entropyd" -c "$work/$name.conf" 2>>"$work/$name.log" &
  entropyd_up "$name" "$port" "$mport" $!
}
stop_entropyd() {
  local pid_var="${1}_PID" rc=0
  kill -TERM "${!pid_var}"
  wait "${!pid_var}" || rc=$?
  grep -q "Sanitizer" "$work/$1.log" && { cat "$work/$1.log" >&2; fail "$1: sanitizer report"; }
  [ "$rc" = 0 ] || { tail -20 "$work/$1.log" >&2; fail "$1 exited with $rc on SIGTERM"; }
}
metric() { curl -sf "http://127.0.0.1:$1/metrics" | grep -v '^#' | grep -F "$2" | awk '{print $NF}'; }
# metric_is PORT NAME VALUE / metric_ge PORT NAME MIN: for wait_for.
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }
metric_ge() { local v; v=$(metric "$1" "$2"); [ "${v:-0}" -ge "$3" ]; }
# wait_for SECONDS CMD...: polls CMD every 0.1 s.
wait_for() {
  local n=$(($1 * 10))
  shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
  "$@"
}
# reseed NAME VNF: one `lisec rng reseed` of VNF against entropyd NAME.
reseed() {
  local port_var="${1}_PORT"
  env LISEC_RNG_ENTROPYD="127.0.0.1:${!port_var}" LISEC_RNG_CERT="$pki/$2.crt" \
    LISEC_RNG_KEY="$pki/$2.key" LISEC_RNG_CA="$pki/ca.crt" "$build/cmd/lisec/lisec" rng reseed \
    >"$work/reseed.out" 2>&1 || { cat "$work/reseed.out" >&2; fail "$2 could not reseed from $1"; }
}
findings() { as "${1:-operator}" -o "$work/findings.json" -w '%{http_code}' "$LISECD_URL/v1/rng/findings${2:-}"; }
# finding_is REPORTER KIND SUBJECT OPEN [STATE]: the stored finding matches.
finding_is() {
  [ "$(findings)" = 200 ] || return 1
  python3 - "$work/findings.json" "$@" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))["findings"]
rep, kind, subj, want_open = sys.argv[2:6]
state = sys.argv[6] if len(sys.argv) > 6 else None
m = [x for x in f if x["reporter"] == rep and x["kind"] == kind and x["subject"] == subj]
sys.exit(0 if len(m) == 1 and m[0]["open"] == (want_open == "open") and
         (state is None or m[0]["state"] == state) else 1)
PY
}
entries() { as auditor -o "$work/entries.json" -w '%{http_code}' "$LISECD_URL/v1/audit/entries?from=0&count=10000"; }
# audit_count ACTION [TEXT]: plain entries holding ACTION (and TEXT).
audit_count() {
  [ "$(entries)" = 200 ] || fail "auditor could not read the log: $(cat "$work/entries.json")"
  python3 - "$work/entries.json" "$@" <<'PY'
import base64, json, sys
e = json.load(open(sys.argv[1]))["entries"]
want = [a.encode() for a in sys.argv[2:]]
print(sum(1 for x in e if not x["sealed"] and all(w in base64.b64decode(x["data"]) for w in want)))
PY
}

# --- configuration refused at start --------------------------------------------
bad_conf() {
  printf '%s\n' "[server]" "listen = 127.0.0.1:$(free_port)" "[tls]" "cert = $pki/server.crt" \
    "key = $pki/server.key" "client_ca = $pki/ca.crt" "[clients]" "allowed = vnf-a" "$@" >"$work/bad.conf"
  if "$entropyd" -c "$work/bad.conf" >"$work/bad.log" 2>&1; then fail "entropyd started with: $*"; fi
}
bad_conf "[report]" "url = http://127.0.0.1:1" "cert = $pki/entropyd-1.crt" "key = $pki/entropyd-1.key" "ca = $pki/ca.crt"
grep -q "must be https" "$work/bad.log" || fail "plain-http report url: $(cat "$work/bad.log")"
bad_conf "[report]" "url = $LISECD_URL"
grep -q "cert, key and ca are required" "$work/bad.log" || fail "report without a client certificate: $(cat "$work/bad.log")"
bad_conf "allowed = vnf-a, vnf+x" "[report]" "url = $LISECD_URL" "cert = $pki/entropyd-1.crt" \
  "key = $pki/entropyd-1.key" "ca = $pki/ca.crt"
grep -q "reports to lisecd cannot carry" "$work/bad.log" || fail "a client name reports cannot carry: $(cat "$work/bad.log")"
bad_conf "li = vnf-z"
grep -q "which allowed does not list" "$work/bad.log" || fail "[clients] li naming a stranger: $(cat "$work/bad.log")"
pass "entropyd refuses a plain-http report url, a report without its own certificate, a client name reports cannot carry, an unknown LI client"

# --- a daemon with a stuck source beside two healthy ones ----------------------
start_entropyd one entropyd-1 \
  "[entropy]" "min_sources = 2" "reseed_ms = 50" \
  "[source.rdseed]" "enabled = false" \
  "[source.device]" "enabled = true" "path = /dev/zero" "min_entropy = 4"
wait_for 5 metric_is "$one_MPORT" 'lisec_entropyd_serving ' 1 ||
  { cat "$work/one.log" >&2; fail "entropyd-1 not serving"; }
wait_for 10 finding_is entropyd-1 source device open failed_repetition_count ||
  { cat "$work/findings.json" "$work/one.log" >&2; fail "no open finding for the stuck source"; }
python3 - "$work/findings.json" <<'PY' || fail "finding content"
import json, sys
f = [x for x in json.load(open(sys.argv[1]))["findings"] if x["subject"] == "device"][0]
assert f["requirement"] == "TR103308-4.2" and f["severity"] == "high", f
assert "repetition count" in f["detail"], f
PY
finding_is entropyd-1 service lisec-entropyd open && fail "a serving daemon has an open service finding"
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
cli operator rng findings --open >"$work/cli-findings.txt" || fail "lisec rng findings --open"
grep -q "^high .*open .*entropyd-1/device (source) failed_repetition_count" "$work/cli-findings.txt" ||
  { cat "$work/cli-findings.txt" >&2; fail "lisec rng findings does not show the stuck source"; }
rc=0
cli host rng findings >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "lisec rng findings as host: exit $rc, want 1 (refused)"
[ "$(findings auditor)" = 200 ] || fail "auditor cannot read the findings"
[ "$(audit_count rng.source.excluded 'entropy source device of entropyd-1')" = 1 ] ||
  fail "the exclusion is not recorded exactly once"
pass "stuck source: open finding at /v1/rng/findings (operator, auditor, lisec rng findings; host refused), exclusion audited once"

# --- issuance is counted in the audit log, LI VNFs sealed -------------------------
# li_opened N: the LI administration opens the sealed records with its key
# and finds vnf-li's N seeds (summed: they may fall in more than one report
# period). The LI VNF's reports are left out of the daemon's unacknowledged
# count (that would show them), so this is what says they all arrived.
li_opened() {
  lisec audit read --li-key "$work/li.key" --db "$work/lisec.db" >"$work/li-read.txt" 2>&1 || true
  python3 - "$work/li-read.txt" "$1" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
seeds = bytes_ = 0
for i, l in enumerate(lines):
    if "rng.issuance  vnf vnf-li  -> ok  [LI, opened]" in l:
        m = re.search(r"reason: TR103308-5.15: (\d+) seeds, (\d+) bytes from ", lines[i + 1])
        seeds += int(m.group(1)); bytes_ += int(m.group(2))
n = int(sys.argv[2])
assert n > 0 and seeds == n and bytes_ == 48 * n, (seeds, bytes_, n)
PY
}
for _ in 1 2 3; do reseed one vnf-a; done
reseed one vnf-li
issued=$(metric "$one_MPORT" 'lisec_entropyd_seeds_issued_total{client="vnf-a"}')
[ "${issued:-0}" -ge 6 ] || fail "entropyd counted $issued seeds for vnf-a"
wait_for 10 metric_is "$one_MPORT" 'lisec_entropyd_report_unacknowledged_seeds' 0 ||
  { curl -s "http://127.0.0.1:$one_MPORT/metrics" | grep -E "report|issued" >&2; tail -5 "$work/lisecd.log" >&2; fail "issuance not acknowledged by lisecd"; }
# vnf-li's two seeds: the library's start-up fetch and its one reseed's
# (the daemon's /metrics does not show them, below).
li_issued=2
wait_for 10 li_opened "$li_issued" 2>/dev/null ||
  { li_opened "$li_issued"; cat "$work/li-read.txt" >&2; fail "the sealed records do not open to vnf-li's $li_issued seeds"; }
[ "$(entries)" = 200 ] || fail "entries"
python3 - "$work/entries.json" "$issued" <<'PY' || fail "issuance records"
import base64, json, re, sys
e = json.load(open(sys.argv[1]))["entries"]
issued = int(sys.argv[2])
plain = [base64.b64decode(x["data"]) for x in e if not x["sealed"]]
rec = [d for d in plain if b"rng.issuance" in d and b"vnf vnf-a" in d]
assert rec, "no issuance record for vnf-a"
seeds = bytes_ = 0
for d in rec:
    m = re.search(rb"(\d+) seeds, (\d+) bytes from \d{4}-\d\d-\d\dT[0-9:]+Z to \d{4}-", d)
    assert m, d
    seeds += int(m.group(1)); bytes_ += int(m.group(2))
    assert b"entropyd-1" in d, "the record does not name the reporting daemon"
# Each reseed asks for 48-byte seeds (the library's request size).
assert seeds == issued and bytes_ == 48 * issued, (seeds, bytes_, issued)
assert not any(b"vnf-li" in d for d in plain), "an LI VNF's issuance is in the clear"
sealed = [x for x in e if x["sealed"]]
assert sealed, "no sealed record for the LI VNF"
for x in sealed:
    assert b"vnf-li" not in base64.b64decode(x["data"])
PY
# The daemon's /metrics (read by the platform's monitoring, no LI role) must
# not name the LI VNF nor count its seeds: that is what the seal hides.
curl -sf "http://127.0.0.1:$one_MPORT/metrics" >"$work/one-metrics.txt" || fail "metrics"
grep -q "vnf-li" "$work/one-metrics.txt" &&
  { grep "vnf-li" "$work/one-metrics.txt" >&2; fail "the daemon's /metrics names the LI VNF vnf-li"; }
grep -q 'client="vnf-a"' "$work/one-metrics.txt" || fail "the daemon's /metrics lost vnf-a"
pass "issuance of $issued seeds to vnf-a recorded with counts and period; vnf-li's sealed, opened by the LI key, and not in /metrics"

# --- a replay: logged by reference, recorded at lisecd naming the client -----
# The daemon's log names a replaying client by its reference alone, alike
# for an LI VNF and another (rng_client_id); the next report carries the
# count with the reference, and lisecd records rng.replay naming the client
# with it: vnf-a's in the clear (the operator finds who replayed), the LI
# VNF vnf-li's sealed to the LI administration, as its issuance.
seed_replay "$one_PORT" vnf-a "$work/replay-a.out"
seed_replay "$one_PORT" vnf-li "$work/replay-li.out"
grep -q "^3 TR103308-5.12: replayed" "$work/replay-a.out" && grep -q "^3 TR103308-5.12: replayed" "$work/replay-li.out" ||
  fail "the repeated requests were not refused as replays"
ref_a=$(sed -n 's/^.*seed request from client ref \([0-9a-f]\{16\}\) refused: .*$/\1/p' "$work/one.log" | sed -n 1p)
ref_li=$(sed -n 's/^.*seed request from client ref \([0-9a-f]\{16\}\) refused: .*$/\1/p' "$work/one.log" | sed -n 2p)
[ -n "$ref_a" ] && [ -n "$ref_li" ] && [ "$ref_a" != "$ref_li" ] ||
  { grep "seed request" "$work/one.log" >&2; fail "the replays were not logged by two references"; }
replay_recorded() { [ "$(audit_count rng.replay "vnf vnf-a" "1 seed requests refused as replays" "reference $ref_a")" = 1 ]; }
wait_for 10 replay_recorded || { audit_count rng.replay >&2; fail "vnf-a's replay not recorded in the clear with its reference $ref_a"; }
li_replay_opened() {
  lisec audit read --li-key "$work/li.key" --db "$work/lisec.db" >"$work/li-read.txt" 2>&1 || true
  grep -A1 "rng.replay  vnf vnf-li  -> denied  \[LI, opened\]" "$work/li-read.txt" |
    grep -q "reason: TR103308-5.12: 1 seed requests refused as replays from .*reference $ref_li;"
}
wait_for 10 li_replay_opened || { grep -A1 rng.replay "$work/li-read.txt" >&2; fail "vnf-li's replay not sealed with its reference"; }
[ "$(audit_count rng.replay "vnf-li")" = 0 ] && [ "$(audit_count "$ref_li")" = 0 ] ||
  fail "the LI VNF's replay is in the clear"
pass "a replay by vnf-a and by the LI VNF vnf-li: logged by reference, recorded at lisecd naming the client with it (vnf-a's in the clear, vnf-li's sealed)"

# --- reports missed while lisecd is down are resent and recorded once ---------
stop_lisecd
for _ in 1 2; do reseed one vnf-a; done
reseed one vnf-li
wait_for 10 metric_ge "$one_MPORT" 'lisec_entropyd_reports_total{result="failed"}' 1 ||
  fail "no failed report while lisecd is down"
# vnf-a's four seeds; the LI VNF's two are kept too, but not counted here:
# with vnf-a's own counter beside it, this sum would show the LI VNF's.
unacked=$(metric "$one_MPORT" 'lisec_entropyd_report_unacknowledged_seeds')
[ "$unacked" = 4 ] ||
  fail "unacknowledged seeds while lisecd was down: $unacked, want vnf-a's 4 (and none of the LI VNF's)"
"$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>>"$work/lisecd.log" &
LISECD_PID=$!
wait_for 10 curl -s -o /dev/null --cacert "$pki/ca.crt" --cert "$pki/operator.crt" \
  --key "$pki/operator.key" "$LISECD_URL/healthz" || fail "lisecd did not restart"
wait_for 15 metric_is "$one_MPORT" 'lisec_entropyd_report_unacknowledged_seeds' 0 ||
  fail "kept issuance not acknowledged after lisecd came back"
issued=$(metric "$one_MPORT" 'lisec_entropyd_seeds_issued_total{client="vnf-a"}')
[ "$(entries)" = 200 ] || fail "entries"
python3 - "$work/entries.json" "$issued" <<'PY' || fail "resent issuance"
import base64, json, re, sys
e = json.load(open(sys.argv[1]))["entries"]
n = sum(int(m.group(1)) for x in e if not x["sealed"]
        for m in [re.search(rb"(\d+) seeds, \d+ bytes", base64.b64decode(x["data"]))]
        if m and b"vnf vnf-a" in base64.b64decode(x["data"]))
assert n == int(sys.argv[2]), (n, sys.argv[2])
PY
[ "$(audit_count rng.source.excluded 'entropy source device of entropyd-1')" = 1 ] ||
  fail "an unchanged finding was recorded again"
pass "reports kept while lisecd was down, resent, every seed counted exactly once"

# --- a duplicate report (lost acknowledgement) is recognised ------------------
dup='{"v":1,"instance":"00112233445566778899aabbccddeeff","seq":5,"from":1800000000,"to":1800000060,"serving":true,"sources":[],"issuance":[{"client":"vnf-z","seeds":2,"bytes":96}]}'
[ "$(as entropyd-2 -o "$work/r1" -w '%{http_code}' -H 'Content-Type: application/json' -d "$dup" "$LISECD_URL/v1/rng/events")" = 200 ] ||
  fail "report: $(cat "$work/r1")"
[ "$(as entropyd-2 -o "$work/r2" -w '%{http_code}' -H 'Content-Type: application/json' -d "$dup" "$LISECD_URL/v1/rng/events")" = 200 ] ||
  fail "resent report: $(cat "$work/r2")"
grep -q '"duplicate":true' "$work/r2" || fail "the resent report was not recognised: $(cat "$work/r2")"
[ "$(audit_count rng.issuance 'vnf vnf-z')" = 1 ] || fail "a resent report was recorded twice"
pass "a resent report (same instance and seq) is acknowledged and not recorded twice"

# --- wrong role, bad bodies ---------------------------------------------------------
post() { as "$1" -o "$work/post.out" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$2" "$LISECD_URL/v1/rng/events"; }
for role in operator auditor li-admin mano tenant-example; do
  [ "$(post "$role" "$dup")" = 403 ] || fail "$role may post rng events"
done
[ "$(findings host)" = 403 ] || fail "a host may read rng findings"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$pki/ca.crt" --cert "$pki/vnf-a.crt" \
  --key "$pki/vnf-a.key" -H 'Content-Type: application/json' -d "$dup" "$LISECD_URL/v1/rng/events" || true)
case "$code" in 2*) fail "a VNF certificate (unknown role) posted rng events" ;; esac
bad_body() {
  local code
  code=$(post entropyd-2 "$1")
  [ "$code" = "$2" ] || fail "body $3: got $code, want $2: $(cat "$work/post.out")"
}
b='"v":1,"instance":"00112233445566778899aabbccddeeff","from":1800000000,"to":1800000060,"serving":true,"sources":[]'
bad_body "{$b,\"seq\":9,\"issuance\":[],\"extra\":1}" 400 "with an unknown key"
bad_body "{$b,\"seq\":9,\"issuance\":[{\"client\":\"a\\nb\",\"seeds\":1,\"bytes\":48}]}" 400 "with a newline in a name"
bad_body "{$b,\"seq\":9,\"issuance\":[{\"client\":\"a\",\"seeds\":1,\"bytes\":1000000}]}" 400 "with impossible counts"
bad_body "{$b,\"seq\":9,\"issuance\":[{\"client\":\"a\",\"seeds\":-1,\"bytes\":0}]}" 400 "with a negative count"
bad_body "{$b,\"seq\":0,\"issuance\":[]}" 400 "with seq 0"
bad_body "{$b,\"seq\":9,\"issuance\":{}}" 400 "with issuance not an array"
bad_body "{$b,\"seq\":9" 400 "truncated"
big=$(python3 -c 'import json; print(json.dumps({"v":1,"instance":"0"*32,"seq":9,"from":1800000000,"to":1800000060,"serving":True,"sources":[],"issuance":[{"client":"c%d" % i,"seeds":1,"bytes":48} for i in range(1025)]}))')
bad_body "$big" 413 "with 1025 clients"
python3 -c 'print("{\"pad\":\"" + "x" * 3000000 + "\"}")' >"$work/huge.json"
code=$(post entropyd-2 "@$work/huge.json" || true)
[ "$code" = 413 ] || fail "a 3 MB body got $code"
pass "POST /v1/rng/events: other roles 403, unknown keys, bad names and counts 400, oversized 413"

# --- the stuck source is readmitted after a restart with a healthy device ------------
stop_entropyd one
# (Its log, which the platform's operators read, has the issuance summary of
# vnf-a at exit, and no word of the LI VNF.)
grep -q "audit seed-issuance client=vnf-a" "$work/one.log" || fail "no issuance summary for vnf-a in the log"
grep -q "vnf-li" "$work/one.log" && { grep "vnf-li" "$work/one.log" >&2; fail "the daemon's log names the LI VNF vnf-li"; }
sed -i 's|path = /dev/zero|path = /dev/urandom|' "$work/one.conf"
"$entropyd" -c "$work/one.conf" 2>>"$work/one.log" &
one_PID=$!
cleanup_hooks+=("kill -TERM $one_PID 2>/dev/null; wait $one_PID 2>/dev/null")
wait_for 10 finding_is entropyd-1 source device closed ok ||
  { cat "$work/findings.json" >&2; fail "the healthy device's finding is not closed"; }
[ "$(audit_count rng.source.readmitted 'entropy source device of entropyd-1')" = 1 ] || fail "readmission not audited"
[ "$(findings operator '?open=true')" = 200 ] || fail "open findings"
grep -q '"subject":"device"' "$work/findings.json" && fail "?open=true lists a closed finding"
[ "$(audit_count rng.reporter.start entropyd-1)" = 2 ] || fail "the restarted daemon's new instance is not recorded"
stop_entropyd one
pass "the source healthy after a restart is readmitted, its finding closed and audited"

# --- a daemon whose only source is stuck fails closed: a critical finding ----------
start_entropyd two entropyd-2 \
  "[entropy]" "min_sources = 1" "reseed_ms = 50" \
  "[source.rdseed]" "enabled = false" "[source.getrandom]" "enabled = false" \
  "[source.jitter]" "enabled = false" \
  "[source.device]" "enabled = true" "path = /dev/zero" "min_entropy = 4"
wait_for 10 finding_is entropyd-2 service lisec-entropyd open fail_closed ||
  { cat "$work/findings.json" "$work/two.log" >&2; fail "no finding for the daemon that fails closed"; }
python3 - "$work/findings.json" <<'PY' || fail "fail-closed finding"
import json, sys
f = [x for x in json.load(open(sys.argv[1]))["findings"] if x["reporter"] == "entropyd-2" and x["kind"] == "service"][0]
assert f["severity"] == "critical" and "healthy entropy source" in f["detail"], f
PY
[ "$(audit_count rng.service.fail_closed 'entropy service entropyd-2')" = 1 ] || fail "fail-closed not audited"
stop_entropyd two
grep -q "Sanitizer" "$work/lisecd.log" && { cat "$work/lisecd.log" >&2; fail "lisecd: sanitizer report"; }
pass "a daemon without enough healthy sources: critical finding, audited"

echo "rng_events: all checks passed"
