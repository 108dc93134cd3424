#!/usr/bin/env bash
# lisecd's uptime (GET /v1/status uptime_seconds) is a duration, measured by
# the monotonic clock (review of 2026-12-07): it was time(NULL) less the
# start's, so a step of the wall clock moved it by the step (an hour back:
# an uptime of -3600 s; forward: an hour more than lisecd has run), while
# started_at, the time lisecd started, is a fact and stays the wall
# clock's. lisecd runs with clock_step_shim (LD_PRELOADed, with
# LISEC_TEST_CLOCK_STEP_TIME=1: its clock_gettime(CLOCK_REALTIME), time()
# and gettimeofday() read the kernel's clock plus the seconds in a file;
# the machine's clock is not touched), started an hour ahead, then stepped
# back the hour and two hours forward.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/clock_step.sh"
for tool in jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
clock_step_env "$work/step" 3600 time
lisecd_env=("${clock_env[@]}")
t0=$(date +%s) # lisecd starts after this
start_lisecd "$pki"
status() { as operator "$LISECD_URL/v1/status" >"$work/status.json" || fail "GET /v1/status"; jq -r ".$1" "$work/status.json"; }
# uptime_ok WHEN: the uptime is what the kernel's clock says lisecd has run, at most
uptime_ok() {
  local up ran=$(($(date +%s) - t0 + 1))
  up=$(status uptime_seconds)
  [ "$up" -ge 0 ] && [ "$up" -le "$ran" ] || fail "$1: uptime_seconds $up, lisecd has run at most ${ran} s"
}
started=$(status started_at)
ahead=$(($(date -d "$started" +%s) - t0))
[ "$ahead" -ge 3500 ] || fail "lisecd's wall clock is not an hour ahead: started_at $started"
uptime_ok "an hour ahead"
step 0 # stepped back the hour
uptime_ok "stepped back an hour"
[ "$(status started_at)" = "$started" ] || fail "started_at moved with the step: $(status started_at), was $started"
step 7200 # two hours forward
uptime_ok "stepped two hours forward"
[ "$(status started_at)" = "$started" ] || fail "started_at moved with the step: $(status started_at), was $started"
pass "lisecd's wall clock stepped back an hour and two hours forward: uptime_seconds counts what it ran, started_at stays $started"
stop_clean
