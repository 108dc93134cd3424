#!/usr/bin/env bash
# An NE's silence ([x1] keepalive_timeout_s) is measured by lisecd's
# monotonic clock, not its wall clock (review of 2026-12-07): the status
# judged now_ms - last_keepalive_ms on the wall clock, so a step forward (an
# operator, NTP, an attacker with the time) made a healthy NE unreachable at
# once, and a step back kept a silent NE reachable for the length of the
# step. lisec-ne poi-hel-1 is registered (check_ms 300; lisecd's checks
# reach it) with keepalive_timeout_s = 8, and the test sends the NE's
# Keepalives itself (ETSI XML to /v1/x1/admf with the NE's certificate).
# lisecd runs with clock_step_shim (LD_PRELOADed: its
# clock_gettime(CLOCK_REALTIME) reads the kernel's clock plus the seconds in
# a file; the machine's clock is not touched). A Keepalive, then lisecd's
# wall clock stepped an hour forward: poi-hel-1 stays reachable (before: at
# once unreachable, "no Keepalive for 3600 s"). A Keepalive, then the clock
# stepped back the hour and the NE silent: unreachable after about 8 s
# (before: still reachable 20 s later). The status shows the Keepalive's
# time as lisecd's wall clock read it.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/clock_step.sh"
for tool in jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator admf-1 >/dev/null
lisec pki issue "$pki" poi-hel-1 host poi-hel-1 >/dev/null
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null
cd "$work"
clock_step_env "$work/step" 0
lisecd_env=("${clock_env[@]}")
port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-hel-1 --admf-id admf-1 2>>ne.log &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null || true")
wait_port "$port"
start_lisecd "$pki" "[keys]" "x1_key_dir = $pki" "[audit]" "li_admin_key = $work/li-admin.pub" \
  "[x1]" "keepalive_timeout_s = 8"
code=$(as li-admin -X POST -H 'Content-Type: application/json' -o reg.json -w '%{http_code}' \
  "$LISECD_URL/v1/x1/nes" -d "{\"id\":\"poi-hel-1\",\"url\":\"https://localhost:$port/X1/NE\",\"vm\":\"vm-li\",
  \"admf_id\":\"admf-1\",\"cert\":\"$pki/admf.crt\",\"key\":\"$pki/admf.key\",\"ca\":\"$pki/ca.crt\",\"check_ms\":300,
  \"destinations\":[{\"did\":\"2d7f1a4b-3c5e-4f60-9b0c-1d2e3f4a5b6c\",\"address\":\"192.0.2.200\",\"port\":4790}]}")
[ "$code" = 200 ] || fail "registering poi-hel-1: $code $(cat reg.json)"
status() { as li-admin "$LISECD_URL/v1/x1/nes/poi-hel-1" | jq -r ".$1 // empty"; }
keepalive() { # TXN-TAIL: one Keepalive from the NE, answered oK
  local msg
  msg=$(printf '<?xml version="1.0" encoding="UTF-8"?>\n<X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><x1RequestMessage xsi:type="KeepaliveRequest"><admfIdentifier>admf-1</admfIdentifier><neIdentifier>poi-hel-1</neIdentifier><messageTimestamp>2026-12-07T03:00:00.000000Z</messageTimestamp><version>v1.22.1</version><x1TransactionId>33333333-3333-4333-8333-333333333%s</x1TransactionId></x1RequestMessage></X1Request>' "$1")
  as poi-hel-1 -X POST -H 'Content-Type: application/xml' --data-binary "$msg" "$LISECD_URL/v1/x1/admf" |
    grep -q '<oK>AcknowledgedAndCompleted</oK>' || fail "Keepalive $1 not answered oK"
}
ahead_s() { # how far the status's wall-clock time FIELD is ahead of the kernel's clock
  echo $(($(date -d "$(status "$1")" +%s) - $(date +%s)))
}
for _ in $(seq 100); do [ "$(status state)" = reachable ] && break; sleep 0.1; done
[ "$(status state)" = reachable ] || fail "poi-hel-1 is not reachable: $(status why)"
pass "poi-hel-1 registered and reachable (keepalive_timeout_s = 8)"

# ---- forward: an hour of wall clock in a moment --------------------------------
keepalive 101
ka_ns=$(date +%s%N)
[ "$(status state)" = reachable ] && [ -n "$(status last_keepalive)" ] || fail "after a Keepalive: $(status why)"
step 3600 # lisecd's wall clock stepped an hour forward
# well within the timeout of the Keepalive (8 s): looked at up to ten times
# while less than 4 s have passed since it (a loaded machine looks fewer)
looks=0
for _ in $(seq 10); do
  st=$(status state)
  [ $((($(date +%s%N) - ka_ns) / 1000000)) -lt 4000 ] || break
  [ "$st" = reachable ] ||
    fail "lisecd's wall clock stepped an hour forward made poi-hel-1 unreachable a moment after its Keepalive: $(status why)"
  looks=$((looks + 1))
  sleep 0.1
done
[ "$looks" -ge 1 ] || fail "the status could not be read within 4 s of the Keepalive"
! grep -q 'X1: NE poi-hel-1 is unreachable' "$work/lisecd.log" ||
  fail "poi-hel-1 was logged unreachable after the step forward: $(grep 'X1: NE poi-hel-1' "$work/lisecd.log")"
keepalive 102
a=$(ahead_s last_keepalive)
[ "$a" -ge 3500 ] || fail "the Keepalive after the step is not shown at lisecd's wall-clock time (an hour ahead): ${a} s"
pass "lisecd's wall clock stepped an hour forward: poi-hel-1, a moment after its Keepalive, stays reachable; its next Keepalive is shown at the stepped time"

# ---- back: the silence counts all the same --------------------------------------
step 0 # and stepped back the hour
t0=$(date +%s%N)
for _ in $(seq 200); do [ "$(status state)" = unreachable ] && break; sleep 0.1; done
took_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$(status state)" = unreachable ] ||
  fail "poi-hel-1, silent since lisecd's wall clock was stepped back an hour, is still reachable ${took_ms} ms later: $(status why)"
[ "$took_ms" -ge 4000 ] || fail "poi-hel-1 unreachable only ${took_ms} ms after its Keepalive (timeout 8 s)"
why=$(status why)
silent=$(sed -n 's/^no Keepalive from the NE for \([0-9]*\) s .*/\1/p' <<<"$why")
[ -n "$silent" ] && [ "$silent" -ge 8 ] && [ "$silent" -lt 60 ] ||
  fail "the reason does not count the seconds of silence: $why"
# the loop's next pass (check_ms 300) logs the change once; the status's
# read decides by itself and may say it first
unreachable_lines() { grep -c 'X1: NE poi-hel-1 is unreachable' "$work/lisecd.log" || true; }
for _ in $(seq 50); do [ "$(unreachable_lines)" = 0 ] || break; sleep 0.1; done
[ "$(unreachable_lines)" = 1 ] ||
  fail "unreachable not logged once: $(grep 'X1: NE poi-hel-1' "$work/lisecd.log")"
keepalive 103
[ "$(status state)" = reachable ] || fail "the NE's next Keepalive did not make it reachable: $(status why)"
pass "lisecd's wall clock stepped back an hour: poi-hel-1, silent, is unreachable ${took_ms} ms after its last Keepalive (keepalive_timeout_s = 8) and reachable at its next"
stop_clean
