#!/usr/bin/env bash
# The ADMF's loop keeps checking an NE ([x1] check_ms of its registration)
# when lisecd's wall clock is stepped back (as chrony steps a clock that ran
# ahead; review of 2026-12-07). The loop waited until a wall-clock time and
# each NE's next check and Keepalive were due at wall-clock times: a step
# back held every NE's checks, Keepalives (TS 103 221-1 clause 6.6.2) and
# task retries for the length of the step. lisec-ne poi-b is registered
# with check_ms 300; lisecd runs with clock_step_shim (LD_PRELOADed: its
# clock_gettime(CLOCK_REALTIME) reads the kernel's clock plus the seconds
# in a file; the machine's clock is not touched): it reads its clock an hour
# ahead, and once poi-b is reachable the file says 0: lisecd's wall clock
# is stepped back the hour, to the kernel's. Its status of poi-b
# (last_check, lisecd's wall clock at each check) must show a check made
# after the step, then more checks, within a few seconds.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/clock_step.sh"
for tool in jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator admf-1 >/dev/null
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null
cd "$work"
clock_step_env "$work/step" 3600
lisecd_env=("${clock_env[@]}")
port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-b --admf-id admf-1 2>>ne.log &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null || true")
start_lisecd "$pki" "[keys]" "x1_key_dir = $pki" "[audit]" "li_admin_key = $work/li-admin.pub"
code=$(as li-admin -X POST -H 'Content-Type: application/json' -o reg.json -w '%{http_code}' \
  "$LISECD_URL/v1/x1/nes" -d "{\"id\":\"poi-b\",\"url\":\"https://localhost:$port/X1/NE\",\"vm\":\"vm-li\",
  \"admf_id\":\"admf-1\",\"cert\":\"$pki/admf.crt\",\"key\":\"$pki/admf.key\",\"ca\":\"$pki/ca.crt\",\"check_ms\":300,
  \"destinations\":[{\"did\":\"2d7f1a4b-3c5e-4f60-9b0c-1d2e3f4a5b6c\",\"address\":\"192.0.2.200\",\"port\":4790}]}")
[ "$code" = 200 ] || fail "registering poi-b: $code $(cat reg.json)"
last_check() { as li-admin "$LISECD_URL/v1/x1/nes/poi-b" | jq -r '.last_check // empty'; }
for _ in $(seq 100); do as li-admin "$LISECD_URL/v1/x1/nes/poi-b" | jq -e '.state == "reachable"' >/dev/null && break; sleep 0.1; done
as li-admin "$LISECD_URL/v1/x1/nes/poi-b" | jq -e '.state == "reachable"' >/dev/null || fail "poi-b is not reachable"
pass "poi-b registered (check_ms 300) and reachable, lisecd's wall clock an hour ahead"

at=$(last_check)
[ -n "$at" ] && [ $(($(date -d "$at" +%s) - $(date +%s))) -ge 3500 ] ||
  fail "lisecd's wall clock is not an hour ahead (poi-b's last_check $at)"
step 0 # chrony steps lisecd's clock back the hour
# A check after the step shows lisecd's clock back on the kernel's; then
# more follow.
after=()
for _ in $(seq 1 50); do
  at=$(last_check)
  if [ -n "$at" ] && [ $(($(date -d "$at" +%s) - $(date +%s))) -le 600 ]; then
    case " ${after[*]-} " in *" $at "*) ;; *) after+=("$at") ;; esac
    [ ${#after[@]} -ge 3 ] && break
  fi
  sleep 0.1
done
[ ${#after[@]} -ge 3 ] ||
  fail "the ADMF did not go on checking poi-b after lisecd's wall clock was stepped back an hour: checks seen after it: ${after[*]-none} (last_check $(last_check))"
pass "lisecd's wall clock stepped back an hour: the ADMF goes on checking poi-b every check_ms (${after[*]})"
stop_clean
