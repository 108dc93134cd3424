#!/usr/bin/env bash
# lisec-entropyd's cadences are durations, measured by the monotonic clock
# (review of 2026-12-07): the report thread waited report interval_s until
# a CLOCK_REALTIME time and the issuance summary in the log came when
# time(NULL) had moved 60 s, so a step of the wall clock (an operator, NTP,
# an attacker with the time) stalled the reports to lisecd for the length of
# a step back, or sent them back to back, and logged the summary at once on
# a step forward. Real lisecd and lisec-entropyd, the development PKI;
# entropyd runs with clock_step_shim (LD_PRELOADed: its clock_gettime
# (CLOCK_REALTIME), and with LISEC_TEST_CLOCK_STEP_TIME=1 its time() and
# gettimeofday() too, read the kernel's clock plus the seconds in a file;
# the machine's clock is not touched).
# - "ahead": reports every second, a seed issued, then the daemon's wall
#   clock stepped an hour forward: no issuance summary is logged before its
#   60 s (before: within a second), and the reports go on every second
#   (before: none after the step: the wait begun after it was until a time
#   an hour past the kernel's, as a wait is when the clock is stepped back
#   during it); stepped back the hour, they go on too.
# - "behind": reports every 60 s, the daemon's clock_gettime an hour behind
#   the kernel's, so a wait until a time taken from it ends at once, as one
#   does when the clock is stepped forward an hour during it: one report in
#   3 s (before: dozens, back to back, each one recorded by lisecd).
build=${1:?build dir}
src=${2:?source dir}
# shellcheck source=lib/common.sh
source "$src/tests/integration/lib/common.sh"
# shellcheck source=lib/clock_step.sh
source "$src/tests/integration/lib/clock_step.sh"
# shellcheck source=lib/entropyd.sh
source "$src/tests/integration/lib/entropyd.sh" # entropyd_up

entropyd="$build/cmd/lisec-entropyd/lisec-entropyd"
[ -x "$entropyd" ] || fail "lisec-entropyd not built"

pki=$work/pki
make_pki "$pki"
for n in entropyd-1 entropyd-2; do lisec pki issue "$pki" "$n" host "$n" >/dev/null || fail "issue $n"; done
lisec pki issue "$pki" vnf-a vnf vnf-a >/dev/null || fail "issue vnf-a"
start_lisecd "$pki"

# start_entropyd NAME IDENTITY INTERVAL_S STEP [time]: a daemon reporting
# to lisecd every INTERVAL_S, its wall clock STEP seconds off the kernel's
# ($work/NAME.step; "time": its time() and gettimeofday() too); sets
# NAME_PORT, NAME_MPORT, NAME_PID.
start_entropyd() {
  local name=$1 ident=$2 interval=$3 step0=$4 all=${5:-} port mport
  port=$(free_port)
  mport=$(free_port)
  printf '%s\n' "[server]" "listen = 127.0.0.1:$port" "[tls]" "cert = $pki/server.crt" "key = $pki/server.key" \
    "client_ca = $pki/ca.crt" "[clients]" "allowed = vnf-a" "[metrics]" "listen = 127.0.0.1:$mport" \
    "[report]" "url = $LISECD_URL" "cert = $pki/$ident.crt" "key = $pki/$ident.key" "ca = $pki/ca.crt" \
    "interval_s = $interval" "timeout_s = 3" >"$work/$name.conf"
  clock_step_env "$work/$name.step" "$step0" ${all:+"$all"}
  "${clock_env[@]}" "$entropyd" -c "$work/$name.conf" 2>>"$work/$name.log" &
  entropyd_up "$name" "$port" "$mport" $!
}
acked() { # MPORT: the reports lisecd acknowledged
  curl -sf "http://127.0.0.1:$1/metrics" | awk '/^lisec_entropyd_reports_total\{result="acknowledged"\}/ {print $NF}'
}
# wait_acked MPORT MIN SECONDS: until lisecd acknowledged MIN reports
wait_acked() {
  for _ in $(seq 1 $(($3 * 10))); do [ "$(acked "$1")" -ge "$2" ] 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
summaries() { grep -c 'audit seed-issuance client=vnf-a' "$work/$1.log" || true; }

# ---- ahead: the wall clock stepped an hour forward, then back -----------------
start_entropyd ahead entropyd-1 1 0 time
wait_acked "$ahead_MPORT" 1 10 || fail "no report acknowledged: $(tail -5 "$work/ahead.log")"
env LISEC_RNG_ENTROPYD="127.0.0.1:$ahead_PORT" LISEC_RNG_CERT="$pki/vnf-a.crt" LISEC_RNG_KEY="$pki/vnf-a.key" \
  LISEC_RNG_CA="$pki/ca.crt" "$build/cmd/lisec/lisec" rng reseed >"$work/reseed.out" 2>&1 ||
  fail "vnf-a could not reseed: $(cat "$work/reseed.out")"
step 3600 "$work/ahead.step"
# The summary is due 60 s after the start (by the monotonic clock): the
# server's loop looks every second; three seconds of it say none is logged.
for _ in $(seq 30); do
  [ "$(summaries ahead)" = 0 ] ||
    fail "the issuance summary was logged at once when the wall clock was stepped an hour forward: $(grep 'audit seed-issuance' "$work/ahead.log")"
  sleep 0.1
done
n=$(acked "$ahead_MPORT")
wait_acked "$ahead_MPORT" $((n + 3)) 10 ||
  fail "reports stopped after the wall clock was stepped an hour forward: $(acked "$ahead_MPORT") acknowledged, $n at the step ($(tail -3 "$work/ahead.log"))"
pass "entropyd's wall clock stepped an hour forward: no issuance summary before its 60 s; reports still every interval_s (1 s)"
step 0 "$work/ahead.step"
n=$(acked "$ahead_MPORT")
wait_acked "$ahead_MPORT" $((n + 3)) 10 ||
  fail "reports stopped after the wall clock was stepped back an hour: $(acked "$ahead_MPORT") acknowledged, $n at the step"
kill -TERM "$ahead_PID"
rc=0
wait "$ahead_PID" || rc=$?
[ "$rc" = 0 ] || fail "entropyd exited with $rc on SIGTERM: $(tail -5 "$work/ahead.log")"
[ "$(summaries ahead)" = 1 ] || fail "the issuance summary at the stop: $(grep 'audit seed-issuance' "$work/ahead.log")"
! grep -q Sanitizer "$work/ahead.log" || fail "sanitizer report: $(cat "$work/ahead.log")"
pass "stepped back the hour: reports still every interval_s; the stop logs its one issuance summary"

# ---- behind: a wait until a wall-clock time an hour in the past ----------------
start_entropyd behind entropyd-2 60 -3600
wait_acked "$behind_MPORT" 1 10 || fail "no report acknowledged: $(tail -5 "$work/behind.log")"
for _ in $(seq 30); do
  [ "$(acked "$behind_MPORT")" -le 2 ] ||
    fail "reports back to back under interval_s = 60 with the wall clock an hour behind: $(acked "$behind_MPORT") in 3 s"
  sleep 0.1
done
pass "entropyd's wall clock an hour behind: its reports keep their interval_s (60 s), not one after another"
stop_clean
