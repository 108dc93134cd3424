#!/usr/bin/env bash
# Trusted time against a real chronyd (issue 19, TR 103 308 §4.2): a local
# NTS server (chronyd -x, the test PKI's server key and certificate) and
# chronyd clients of it, each -x so the machine's clock is never touched,
# all on loopback at free ports. lisecd with [time] source = "chrony" reads
# the client's command socket:
#   - synchronised over NTS: proven; /v1/status and /metrics say so, with
#     the offset chronyc itself reports (lisecd speaks chrony's binary
#     protocol, chronyc is the independent reader);
#   - a client of the same server without NTS: unproven, naming NTS, and a
#     placement decision is refused naming TR103308-4.2-TIME and the clock;
#   - chronyd stopped: unproven, naming chronyd, decisions refused (the
#     Kubernetes extender's filter too: it keeps no node), the
#     refusals and the change of state in the audit log, nothing stored lost;
#   - a client 2 s off (chrony's `offset 2.0`): refused under
#     max_offset_ms = 100 naming the offset, proven under 10000.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
command -v chronyd >/dev/null || [ -x /usr/sbin/chronyd ] || { echo "SKIP: chronyd not installed (Debian chrony)"; exit 77; }
chrony=$src/scripts/test/chrony-start
pki=$work/pki
make_pki "$pki"

# the NTS server (NTP and NTS-KE on free loopback ports)
cleanup_hooks+=("'$chrony' stop '$work/ntp-server'")
read -r ntp nts < <("$chrony" server "$work/ntp-server" "$pki/server.crt" "$pki/server.key") ||
  fail "the NTS server did not start"
[ -n "$nts" ] || fail "chrony-start server printed no ports"
# three clients of it, synchronising side by side: over NTS, without NTS,
# and over NTS with chrony's `offset 2.0` (its clock 2 s off); lisecd reads
# whichever one the symbolic link $work/run/chrony.sock names
for c in nts plain offset; do cleanup_hooks+=("'$chrony' stop '$work/ntp-$c'"); done
"$chrony" client "$work/ntp-nts" "$ntp" "$nts" "$pki/ca.crt" nts >/dev/null & p1=$!
"$chrony" client "$work/ntp-plain" "$ntp" "$nts" "$pki/ca.crt" plain >/dev/null & p2=$!
"$chrony" client "$work/ntp-offset" "$ntp" "$nts" "$pki/ca.crt" nts offset 2.0 >/dev/null & p3=$!
wait $p1 && wait $p2 && wait $p3 || fail "a chronyd client did not synchronise"
tracking() { chronyc -c -h "$work/ntp-$1/chronyd.sock" tracking; }
chronyc -c -n -h "$work/ntp-nts/chronyd.sock" authdata | grep -q '^127.0.0.1,NTS,' ||
  fail "the client's source is not NTS: $(chronyc -c -n -h "$work/ntp-nts/chronyd.sock" authdata)"
chronyc -c -n -h "$work/ntp-plain/chronyd.sock" authdata | grep -q '^127.0.0.1,-,' ||
  fail "the plain client's source is authenticated: $(chronyc -c -n -h "$work/ntp-plain/chronyd.sock" authdata)"
tracking nts | grep -q ',Normal$' || fail "chronyd -x does not report sync: $(tracking nts)"
use() { ln -sfn "$work/ntp-$1/chronyd.sock" "$work/run/chrony.sock"; }

mkdir -m 700 "$work/run"
lisecd_time() { # max_offset_ms
  stop_lisecd
  start_lisecd "$pki" "[model]" "allow_declared_trust = true" "[time]" 'source = chrony' \
    "chrony_socket = $work/run/chrony.sock" "reply_socket = $work/run/chrony-reply.sock" \
    "max_offset_ms = $1" "poll_ms = 100" "stale_ms = 5000"
}
status() { as operator "$LISECD_URL/v1/status"; }
# wait_clock JQ-CONDITION WHAT: /v1/status's clock meets the condition within 30 s
wait_clock() {
  local until=$((SECONDS + 30))
  while [ $SECONDS -lt $until ]; do
    status | jq -e ".clock | $1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "$2: $(status)"
}
code() { as "$1" -o "$work/body" -w '%{http_code}' "${@:2}"; }
put() { case $(code operator -X PUT -d "$3" "$LISECD_URL/v1/model/$1/$2") in 200 | 201) ;; *) fail "PUT $1 $2: $(cat "$work/body")" ;; esac; }
place() { code mano -d '{"id":"vm-new","hypervisor":"hv-hel-1","sensitivity":"general","domain":"core"}' \
  "$LISECD_URL/v1/decisions/placement"; }
# refused SENTENCE-REGEX: the placement is refused naming the clock
refused() {
  [ "$(place)" = 200 ] && jq -e --arg re "$1" '.allow == false and any(.violations[]; .requirement == "TR103308-4.2-TIME"
    and .subject == "controller clock" and (.sentence | test($re)))' "$work/body" >/dev/null ||
    fail "placement not refused naming the clock ($1): $(cat "$work/body")"
}
# the Kubernetes extender's filter for a pod that names vm-a, on hv-hel-1
k8s() { code mano -H 'Content-Type: application/json' \
  -d '{"Pod":{"metadata":{"name":"p","annotations":{"lisec.io/vm":"vm-a"}}},"NodeNames":["hv-hel-1"]}' \
  "$LISECD_URL/k8s/filter"; }
docs() { sqlite3 "$work/lisec.db" "SELECT kind, id, body FROM documents WHERE kind LIKE 'model.%' ORDER BY kind, id"; }

# ---- proven over NTS ------------------------------------------------------
use nts
lisecd_time 100
wait_clock '.source == "chrony" and .proven == true and .chrony.nts == true' "lisecd did not find the clock proven over NTS"
status | jq -e '.clock.chrony.selected_source == "127.0.0.1" and .clock.chrony.synchronised and (.clock.reason == null)' >/dev/null ||
  fail "the status does not show the selected NTS source: $(status)"
[ "$(code operator "$LISECD_URL/metrics")" = 200 ] && grep -q '^lisec_time_proven 1$' "$work/body" ||
  fail "lisec_time_proven is not 1: $(grep lisec_time "$work/body")"
put jurisdiction fi '{"name":"Finland","codes":["FI"]}'
put host hel-1 '{"trust":"trusted","protection":"sensitive","location":{"country":"FI","site":"Helsinki DC1","source":"attested"}}'
put hypervisor hv-hel-1 '{"host":"hel-1"}'
[ "$(place)" = 200 ] && jq -e '.allow == true' "$work/body" >/dev/null || fail "placement with a proven clock: $(cat "$work/body")"
put vm vm-a '{"hypervisor":"hv-hel-1","sensitivity":"general","domain":"core"}'
[ "$(k8s)" = 200 ] && jq -e '.NodeNames == ["hv-hel-1"]' "$work/body" >/dev/null ||
  fail "the k8s filter with a proven clock: $(cat "$work/body")"
pass "synchronised over NTS: proven, decisions answered (placement, k8s filter)"

# ---- not NTS ----------------------------------------------------------------
use plain
wait_clock '.proven == false and (.reason | test("127.0.0.1 is not authenticated with NTS"))' "a source without NTS was accepted"
refused 'unproven.*NTS'
pass "require_nts: a source without NTS leaves the clock unproven, decisions refused naming the clock"

# ---- offset -------------------------------------------------------------------
use offset
off=$(tracking offset | cut -d, -f5)
python3 -c "import sys; sys.exit(not abs(abs($off) - 2.0) < 0.1)" || fail "chronyc reports offset $off, not about 2 s"
wait_clock '.proven == false and (.reason | test("[|]offset[|] 1999[.][0-9]* ms exceeds [[]time[]] max_offset_ms = 100"))' "a 2 s offset was accepted under 100 ms"
mine=$(status | jq -r '.clock.chrony.offset_ms')
python3 -c "import sys; sys.exit(not abs($mine / 1000 - $off) < 0.05)" ||
  fail "lisecd's offset ($mine ms) differs from chronyc's ($off s)"
refused 'offset'
pass "offset: 2 s refused under max_offset_ms = 100 naming the offset (as chronyc reports it)"

# ---- chronyd stopped ----------------------------------------------------------
use plain
before=$(docs)
"$chrony" stop "$work/ntp-plain"
wait_clock '.proven == false and (.reason | test("chronyd is not reachable"))' "a stopped chronyd was not noticed"
refused 'chronyd'
[ "$(k8s)" = 200 ] && jq -e '.NodeNames == [] and (.FailedNodes["hv-hel-1"] | test("TR103308-4.2-TIME.*chronyd"))' \
  "$work/body" >/dev/null || fail "the k8s filter kept a node with the clock unproven: $(cat "$work/body")"
[ "$(code operator "$LISECD_URL/metrics")" = 200 ] && grep -q '^lisec_time_proven 0$' "$work/body" || fail "lisec_time_proven is not 0"
[ "$(docs)" = "$before" ] || fail "the stored model changed while time was unproven"
# the change of state and each refused decision are in the audit log
grep -q "the controller's clock is UNPROVEN: chrony: the selected source" "$work/lisecd.log" || fail "lisecd did not log the unproven clock"
# the unsealed records' bytes, one a line, their length-prefixed fields apart
records() { python3 -c 'import sqlite3, sys
for (d,) in sqlite3.connect(sys.argv[1]).execute("SELECT data FROM audit_log WHERE sealed = 0"):
    print("".join(chr(b) if 32 <= b < 127 else " " for b in d))' "$work/lisec.db"; }
audit() { records | grep -c -- "$1" || true; }
[ "$(audit 'time.unproven.*TR103308-4.2-TIME: chrony: the selected source 127.0.0.1 is not authenticated with NTS')" -ge 1 ] ||
  fail "no audit record of the unproven clock: $(records | grep time)"
[ "$(audit 'decision.placement.*TR103308-4.2-TIME')" -ge 3 ] || fail "the refused decisions are not in the audit log"
[ "$(audit 'decision.k8s.filter.*TR103308-4.2-TIME')" -ge 1 ] || fail "the k8s filter's refusal is not in the audit log"
pass "chronyd stopped: unproven, decisions refused naming the clock (placement, k8s filter), nothing stored lost"

# ---- a wide bound ---------------------------------------------------------------
use offset
lisecd_time 10000
wait_clock '.proven == true' "a 2 s offset was refused under 10000 ms"
[ "$(place)" = 200 ] && jq -e '.allow == true' "$work/body" >/dev/null || fail "placement under a wide bound: $(cat "$work/body")"
pass "the same 2 s offset accepted under max_offset_ms = 10000"

stop_lisecd
if grep -q 'Sanitizer' "$work/lisecd.log"; then cat "$work/lisecd.log" >&2; fail "lisecd reported a sanitizer error"; fi
