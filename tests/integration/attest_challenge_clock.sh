#!/usr/bin/env bash
# Whether a host's attestation is due (POST /v1/attest/challenge,
# "attest_now") is a duration since its last appraisal, measured by the
# monotonic clock (docs/attestation.md): it was the wall clock's time()
# less the stored time of the last appraisal, so a wall clock stepped
# forward made every challenge ask for a quote at once (at every poll of
# every agent: a storm), and one stepped back made none ask for as long as
# the step (the hosts' trust lapses by the overdue timer if it is longer
# than grace_s). A real lisecd, one host with its swtpm and lisec-agent, [attest]
# interval_s = INTERVAL; the host is appraised, its agent stopped, and the
# challenges asked by hand with the host's certificate while lisecd's wall
# clock is stepped by clock_step_shim (LD_PRELOADed, with
# LISEC_TEST_CLOCK_STEP_TIME=1: its clock_gettime(CLOCK_REALTIME), time()
# and gettimeofday() read the kernel's clock plus the seconds in a file;
# the machine's clock is not touched). Checked: two hours forward, a
# challenge right after the appraisal does not ask; stepped back to BACK
# seconds behind, the challenge asks ("due") once INTERVAL seconds have
# passed since the appraisal, not BACK seconds later.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/clock_step.sh"
cd "$work"
for tool in swtpm tpm2_pcrextend jq; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# BACK: less than the 300 s the development PKI backdates its certificates
# by, or lisecd would refuse the host's as not yet valid
INTERVAL=20 MARGIN=15 BACK=200
clock_step_env "$work/step" 0 time
show() { as operator "$LISECD_URL/v1/hosts/${HID[$1]}/attestation"; }
challenge() { # -> "attest_now why" of host 1's challenge
  [ "$(hreq host-1 POST /v1/attest/challenge "{\"host\":\"${HID[1]}\"}")" = 200 ] ||
    { cat "$work/req.out" >&2; fail "challenge"; }
  jq -r '"\(.attest_now) \(.why // "-")"' "$work/req.out"
}
hosts_up 1
lisecd_env=("${clock_env[@]}")
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "interval_s = $INTERVAL" "grace_s = 600" "[audit]" "li_admin_key = $work/li.pub"
run_agent 1
wait_trusted 1 agent-1.log
stop_agents 1
appraised=$(date +%s%N) # the last appraisal was before this
ms() { echo $((($(date +%s%N) - appraised) / 1000000)); }
got=$(challenge)
[ "$got" = "false -" ] || fail "a challenge right after the appraisal: $got"
pass "host 1 appraised: its challenge does not ask for a quote yet"

step 7200 # two hours forward
got=$(challenge)
early=$(ms)
[ "$early" -lt $((INTERVAL * 1000)) ] || fail "the test was too slow: the check came $early ms after the appraisal"
[ "$got" = "false -" ] || fail "the wall clock two hours forward: a challenge ${early} ms after the appraisal asks for a quote: $got"
pass "the wall clock two hours forward: a challenge ${early} ms after the appraisal still does not ask"

step -$BACK # behind the kernel's clock
due=
for _ in $(seq 1 $(((INTERVAL + MARGIN) * 10))); do
  got=$(challenge)
  [ "$got" = "true due" ] && { due=$(ms); break; }
  [ "$got" = "false -" ] || fail "the wall clock $BACK s back: the challenge says $got"
  sleep 0.1
done
[ -n "$due" ] ||
  fail "the wall clock $BACK s back: no challenge asks for a quote $((INTERVAL + MARGIN)) s after the appraisal (interval_s = $INTERVAL)"
[ "$due" -ge $((INTERVAL * 1000 / 2)) ] || fail "due after $due ms, well before interval_s = $INTERVAL"
pass "the wall clock $BACK s back: the challenge asks (due) $due ms after the appraisal, interval_s = $INTERVAL"
stop_clean
