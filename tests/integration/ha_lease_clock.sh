#!/usr/bin/env bash
# A leader's lease ([ha] lease_ms: the server's idle_session_timeout on its
# lock session, renewed by the watch at every lock_poll_ms) outlives a wall
# clock stepped back (docs/ha.md). A clock that ran an hour ahead and is
# stepped back by chrony is an ordinary bad day; the watch waits between
# its polls until a time, and a wait until a wall-clock time taken before
# the step lasts an hour longer: the lease, not renewed, ends the healthy
# leader's lock and a standby takes over. The step is made by
# clock_step_shim (LD_PRELOADed into the leader only: the machine's clock
# is not touched): leader a reads its wall clock an hour ahead, then
# normally again. a's lock session must go on being renewed for four
# leases after the step, b stay a standby, and a write through a succeed.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
source "$src/tests/integration/lib/clock_step.sh"
for tool in psql openssl jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
pgdir=$(mktemp -d /tmp/lisec-pg-haclock-XXXXXX)
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
sql() { psql -qtA "$url" -c "$1"; }
ha_audit_key
LEASE=3000
clock_step_env "$work/step" 0

declare -A PORT PID PROBE
ha_free_ports 4
PORT[a]=${free[0]} PROBE[a]=${free[1]} PORT[b]=${free[2]} PROBE[b]=${free[3]}
start() { # NAME [clock]: "clock", its wall clock stepped by $work/step
  local n=$1
  mapfile -t lines < <(ha_section "$n" "${PORT[$n]}")
  lines+=("lease_ms = $LEASE")
  ha_conf "$work/$n.conf" "${PORT[$n]}" "${PROBE[$n]}" "$url" "$work/$n.vkey" "${lines[@]}"
  if [ -n "${2:-}" ]; then
    "${clock_env[@]}" "$build/cmd/lisecd/lisecd" -c "$work/$n.conf" 2>>"$work/$n.log" &
  else
    "$build/cmd/lisecd/lisecd" -c "$work/$n.conf" 2>>"$work/$n.log" &
  fi
  PID[$n]=$!
  cleanup_hooks+=("kill -TERM ${PID[$n]} 2>/dev/null; wait ${PID[$n]} 2>/dev/null")
}
role() { [ "$(health "$1")" = "$2" ] && { [ "$2" != 200 ] || [ "$(jq -r .role "$work/h.json")" = leader ]; }; }
wait_role() { # NAME CODE WHAT
  for _ in $(seq 1 600); do role "$1" "$2" && return 0; sleep 0.1; done
  tail -8 "$work/$1.log" >&2
  fail "$1 is not $3"
}
write() { # LEADER ID
  local code
  code=$(as operator -o "$work/w.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"$2\",\"codes\":[\"FI\"]}" "https://localhost:${PORT[$1]}/v1/model/jurisdiction")
  [ "$code" = 201 ] || fail "write $2 through $1: $code $(cat "$work/w.json")"
}
# a's lock session: ms since its last statement, as the server counts
# (empty when the session is gone)
renewed_ago() {
  sql "SELECT (extract(epoch FROM clock_timestamp() - state_change) * 1000)::bigint FROM pg_stat_activity
       WHERE application_name = 'lisec-lock:a'"
}
server_ms() { sql "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint"; }

start a clock
wait_role a 200 "the leader"
start b
wait_role b 503 "a standby"
write a j-1
[ -n "$(renewed_ago)" ] || fail "a's lock session not found"

# ---- the clock an hour ahead, then stepped back -------------------------------------
step 3600
# the watch renews once after the clock went ahead (its wait then was taken
# from the ahead clock)
t=$(server_ms)
for _ in $(seq 1 100); do
  ago=$(renewed_ago)
  [ -n "$ago" ] && [ $(($(server_ms) - ago)) -gt "$t" ] && break
  sleep 0.05
done
[ $(($(server_ms) - ago)) -gt "$t" ] || fail "a's watch did not renew its lease with the clock ahead"
step 0
stepped=$(server_ms)
# four leases after the step: a's lock session renewed all along, b a standby
while [ $(($(server_ms) - stepped)) -lt $((4 * LEASE)) ]; do
  ago=$(renewed_ago)
  [ -n "$ago" ] || fail "a's lock session ended $(($(server_ms) - stepped)) ms after its clock was stepped back an hour ([ha] lease_ms = $LEASE); b: $(grep -o 'took the store.s writer lock.*' "$work/b.log" | tail -1)"
  [ "$ago" -lt "$LEASE" ] || fail "a's lock session was not renewed for $ago ms after its clock was stepped back"
  role b 503 || fail "b is no longer a standby $(($(server_ms) - stepped)) ms after a's clock was stepped back"
  sleep 0.2
done
role a 200 || fail "a no longer leads after its clock was stepped back"
write a j-2
pass "a's lease renewed for $((4 * LEASE)) ms after its wall clock was stepped back an hour: a leads, b waits, a write goes through"
for n in a b; do ! grep -q Sanitizer "$work/$n.log" || { cat "$work/$n.log" >&2; fail "sanitizer report in $n"; }; done
