#!/usr/bin/env bash
# Fresh quotes for LI decisions without blocking lisecd (issue 14 item 3):
# a real lisecd with 2 workers and attestation_max_age_s = 1, four hosts
# each with its own software TPM and lisec-agent. 16 concurrent placement
# and migration decisions about an LI VM (as mano and as host), all needing
# a fresh quote, are each answered allowed from a new quote of the target
# host's agent, while /healthz, polled throughout, always answers within
# 0.5 s (1 s under the sanitizer). /k8s/filter with one node listed 1,000
# times waits one bound, not 1,000, refusing the host ("did not attest
# within"); after that, decisions onto it no longer wait ("gave no fresh
# quote when last asked") until its agent attests again, when they take a
# fresh quote again; a client that gives up while its request waits, and
# lisecd stopping while one waits, leave nothing behind (the ASan build
# checks leaks at exit) and lisecd stops cleanly.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/li_topology.sh"
cd "$work"
BOUND_MS=3000
HOSTS="1 2 3 4"

# Hosts 1-4 with hv-1 to hv-4, the decisions' destinations, attested; and
# lib/li_topology.sh's LI, its VMs unpaired, on host 1's hv-1b.
show() { as operator "$LISECD_URL/v1/hosts/${HID[$1]}/attestation"; }
fresh_hosts $BOUND_MS 1
pass "four hosts, each with its own swtpm and lisec-agent, attested: trusted in FI"

post() { # post ROLE PATH JSON [curl args]: the body, then the HTTP status and time on the last line
  as "$1" "${@:4}" -H 'Content-Type: application/json' -d "$3" -w '\n%{http_code} %{time_total}\n' \
    "$LISECD_URL$2"
}

# ---- 16 concurrent LI decisions, every one needing a fresh quote ---------------
for n in $HOSTS; do stale "$n"; done
# /healthz throughout: a bounded loop that the decisions' end stops, once it
# has at least 5 samples (decisions that all take a fraction of a second
# left fewer, and the count then failed the test for being fast). The
# decisions start after its first sample, so the samples span them.
(
  for _ in $(seq 1 600); do
    [ -e decisions.done ] && [ "$(wc -l <health.txt)" -ge 5 ] && break
    as operator -o /dev/null -w '%{http_code} %{time_total} connect=%{time_connect} tls=%{time_appconnect} first=%{time_starttransfer}\n' "$LISECD_URL/healthz" >>health.txt
  done
) &
poller=$!
for _ in $(seq 1 300); do [ -s health.txt ] && break; sleep 0.05; done
[ -s health.txt ] || fail "the /healthz poller took no sample"
pids=()
i=0
for n in $HOSTS; do
  for k in 1 2 3 4; do
    i=$((i + 1))
    role=mano
    [ $((k % 2)) = 0 ] && role=host
    if [ "$k" -le 2 ]; then
      body="{\"vm\":\"vm-li\",\"hypervisor\":\"hv-$n\"}" path=/v1/decisions/migration
    else
      body="{\"id\":\"vm-li-$i\",\"hypervisor\":\"hv-$n\",\"sensitivity\":\"li\",\"domain\":\"li\",\"paired\":true}"
      path=/v1/decisions/placement
    fi
    post "$role" "$path" "$body" >"d-$i.out" &
    pids+=($!)
  done
done
for p in "${pids[@]}"; do wait "$p" || fail "a decision request failed"; done
touch decisions.done
wait "$poller"
declare -A asked
for i in $(seq 1 16); do
  read -r code secs < <(tail -n1 "d-$i.out")
  sed '$d' "d-$i.out" >"d-$i.json"
  [ "$code" = 200 ] || { cat "d-$i.out"; fail "decision $i answered $code"; }
  # Either this decision asked for the quote, or it reached the controller
  # just after the quote another decision about the same host asked for
  # (then under 1 s old): both are decided from a fresh quote. Each host's
  # four decisions must include at least one that asked.
  jq -e '.allow == true and .attestation.required == true and
    ((.attestation.fresh_quote == true and .attestation.note == "a fresh quote was obtained for this decision") or
     (.attestation.fresh_quote == false and .attestation.note == "the newest appraisal is recent enough"))' \
    "d-$i.json" >/dev/null || { cat "d-$i.json"; fail "decision $i was not allowed from a fresh quote"; }
  if jq -e '.attestation.fresh_quote == true' "d-$i.json" >/dev/null; then asked[$(((i + 3) / 4))]=1; fi
  echo "   decision $i: ${secs}s"
done
for n in $HOSTS; do
  [ "${asked[$n]:-0}" = 1 ] || fail "no decision about hv-$n asked its agent for a fresh quote"
done
for n in $HOSTS; do
  grep -q 'appraised: trusted' "agent-$n.log" || fail "agent $n never quoted"
done
samples=$(wc -l <health.txt)
[ "$samples" -ge 5 ] || fail "only $samples /healthz samples during the decisions"
# The answer once the TLS session is up (request to first byte) shows a
# busy event loop: a loop blocked behind the decisions' quote waits held it
# 4.5 s. Unblocked, it still crosses from the front to the controller and
# back (since issue 16) on two cores shared with four swtpm, four agents,
# 16 clients and, in make check, other tests: 108 ms was seen in release,
# 530 ms under AddressSanitizer with three tests per two cores. So the
# answer is held to 0.5 s in release and 1 s under the sanitizer, both far
# below a blocked loop's; the whole probe, handshake included, to 2 s.
answer_max=0.5
grep -q '^LISEC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null && answer_max=1
awk -v max="$answer_max" '{ split($5, f, "="); split($4, t, "="); ans = f[2] - t[2] }
  $1 != 200 || ans >= max || $2 >= 2 { bad++; print "   slow or failed /healthz: " $0 }
  END { exit bad > 0 }' health.txt ||
  fail "/healthz was slow or failed while decisions waited for quotes"
pass "16 concurrent LI decisions on 4 hosts: all allowed from fresh agent quotes; /healthz answered within ${answer_max}s of its request in all $samples samples (slowest probe $(sort -k2 -n health.txt | tail -n1 | cut -d' ' -f2) s with its handshake)"

# ---- one node listed 1,000 times: one bound ----------------------------------
kill -TERM "${APID[4]}"
wait "${APID[4]}" || true
stale 4
pod='{"metadata":{"name":"li-pod","namespace":"li","annotations":{"lisec.io/vm":"vm-li"}}}'
names=$(python3 -c 'import json; print(json.dumps(["hv-4"] * 1000))')
post mano /k8s/filter "{\"Pod\":$pod,\"NodeNames\":$names}" >k8s.out
read -r code secs < <(tail -n1 k8s.out)
sed '$d' k8s.out >k8s.json
[ "$code" = 200 ] || { cat k8s.out; fail "k8s filter answered $code"; }
jq -e '.NodeNames == [] and (.FailedNodes | keys) == ["hv-4"] and
  (.FailedNodes["hv-4"] | test("did not attest within '"$BOUND_MS"'ms"))' k8s.json >/dev/null ||
  { cat k8s.json; fail "k8s filter: hv-4 not refused once for its silent agent"; }
awk -v s="$secs" -v b="$BOUND_MS" 'BEGIN { exit !(s >= b / 1000 - 0.2 && s < 2 * b / 1000) }' ||
  fail "k8s filter with hv-4 listed 1000 times took ${secs}s; one bound is $BOUND_MS ms"
pass "/k8s/filter with a node listed 1,000 times: one entry, refused after one bound (${secs}s), not 1,000 bounds"

# Two stale hosts in one filter (one agent answers, one is silent): one bound
# for the request, the answering host kept from its fresh quote.
stale 2
post mano /k8s/filter "{\"Pod\":$pod,\"NodeNames\":[\"hv-2\",\"hv-4\",\"hv-2\"]}" >k8s2.out
sed '$d' k8s2.out >k8s2.json
jq -e '.NodeNames == ["hv-2"] and (.FailedNodes | keys) == ["hv-4"]' k8s2.json >/dev/null ||
  { cat k8s2.json; fail "k8s filter with a fresh and a silent host"; }
pass "/k8s/filter: hv-2 kept from its fresh quote, hv-4 refused, duplicates answered once"

# ---- a stopped agent: not waited for again until it attests ----------------------
# (as li-admin: other roles see an LI requirement's sentence withheld)
post li-admin /v1/decisions/migration '{"vm":"vm-li","hypervisor":"hv-4"}' >d4.out
read -r code secs < <(tail -n1 d4.out)
sed '$d' d4.out >d4.json
[ "$code" = 200 ] || { cat d4.out; fail "decision to hv-4 answered $code"; }
jq -e '.allow == false and .attestation.fresh_quote == false and
  ([.violations[].sentence] | any(test("gave no fresh quote when last asked")))' d4.json >/dev/null ||
  { cat d4.json; fail "the silent host was not refused as one that gave no fresh quote when last asked"; }
pass "a host whose agent let a wait pass: the next decision denied at once (${secs}s), naming its silence (TR103308-5.1)"
before=$(grep -c 'appraised: trusted' agent-4.log || true)
run_agent 4
for _ in $(seq 1 300); do
  [ "$(grep -c 'appraised: trusted' agent-4.log)" -gt "$before" ] && break
  sleep 0.1
done
[ "$(grep -c 'appraised: trusted' agent-4.log)" -gt "$before" ] || fail "hv-4's agent did not attest again"
stale 4
post li-admin /v1/decisions/migration '{"vm":"vm-li","hypervisor":"hv-4"}' >d4b.out
sed '$d' d4b.out >d4b.json
jq -e '.allow == true and .attestation.fresh_quote == true' d4b.json >/dev/null ||
  { cat d4b.out; fail "hv-4's agent attests again, yet a decision onto it took no fresh quote"; }
pass "once its agent attests again, a decision onto the stale host waits for and takes a fresh quote"

# ---- a client that gives up, and lisecd stopping, while a request waits -----------
# (host 3's agent stopped: its host is stale, and no wait passed yet)
kill -TERM "${APID[3]}"
wait "${APID[3]}" || true
stale 3
rc=0
post mano /v1/decisions/migration '{"vm":"vm-li","hypervisor":"hv-3"}' --max-time 0.5 >gone.out 2>&1 || rc=$?
[ "$rc" = 28 ] || { cat gone.out; fail "the client's timeout did not cut the wait (curl exit $rc)"; }
code=$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/healthz")
[ "$code" = 200 ] || fail "/healthz after a client gave up: $code"
post mano /v1/decisions/migration '{"vm":"vm-li","hypervisor":"hv-3"}' --trace-ascii trace.txt >stop.out 2>&1 &
waiter=$!
# lisecd stops while that decision waits (once curl has sent it): it is
# answered, 503 "stopping" when it was parked, or decided at once (denied)
# when the stop came first; either way nothing is left behind.
for _ in $(seq 1 100); do grep -q 'hv-3' trace.txt 2>/dev/null && break; sleep 0.05; done
grep -q 'hv-3' trace.txt || fail "curl never sent the decision"
kill -TERM "$LISECD_PID"
lrc=0
wait "$LISECD_PID" || lrc=$?
LISECD_PID=
wait "$waiter" || true
[ "$lrc" = 0 ] || { tail -20 lisecd.log >&2; fail "lisecd exited with $lrc when stopped while a request waited"; }
if tail -n1 stop.out | grep -q '^503 '; then
  grep -q 'stopping' stop.out || { cat stop.out; fail "the 503 does not say lisecd is stopping"; }
else
  sed '$d' stop.out | jq -e '.allow == false' >/dev/null || { cat stop.out; fail "the waiting request got no answer at the stop"; }
fi
! grep -q 'ERROR: AddressSanitizer\|LeakSanitizer' lisecd.log || { cat lisecd.log >&2; fail "sanitizer report"; }
pass "a client giving up while its decision waits, and lisecd stopping while one waits: answered, lisecd exits 0 and clean"
