#!/usr/bin/env bash
# A leader whose lease lapses steps down by itself (docs/ha.md, "the
# leader's own deadline"). The lease ([ha] lease_ms) is the server's
# idle_session_timeout on the leader's lock session, renewed by its watch
# every lock_poll_ms. A watch that is late (an overloaded host, a stall of
# its thread, a slow network) lets the server end the session and a standby
# take the lock while the old leader runs on; until its watch runs again it
# must not go on saying "leader" on /healthz and the probe's /readyz (what
# a load balancer routes by) nor answer from its memory, which the new
# leader's writes have made stale. The watch is stalled by a test hook
# (LISEC_TEST_HA_WATCH_STALL: while the file exists the watch skips its
# rounds), the rest of the process runs. Checked: a stalled leader a answers
# 503 "standby" on /healthz before standby b took the lock, and afterwards
# on /healthz, /readyz, /v1/status and a read of what b wrote (not a stale
# 404); released, its watch finds the lock gone and it exits. Then a alone
# (b stopped): stalled, it steps down no earlier than lease_ms less two
# polls, refuses the API as a standby does, and once released its watch
# takes the lock back (nobody else took it) and it leads again with a new
# epoch. A stepped-down a tells an NE nothing either: its X1 loop does not
# give a restarted, empty lisec-ne back the LI's task until a leads again
# (an X1 request goes out before any write the fence could refuse). With
# lease_ms = 0 a stalled watch changes nothing, as before.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
source "$src/tests/integration/lib/li_topology.sh"
for tool in psql openssl jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
pgdir=$(mktemp -d /tmp/lisec-pg-hastall-XXXXXX)
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
sql() { psql -qtA "$url" -c "$1"; }
ha_audit_key
head -c 32 /dev/urandom >"$work/kek.bin" && chmod 600 "$work/kek.bin"
make_li_admin_key "$work/li"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null || fail "pki issue admf"
LEASE=2000 POLL=200
stall=$work/stall

declare -A PORT PID PROBE
ha_free_ports 4
PORT[a]=${free[0]} PROBE[a]=${free[1]} PORT[b]=${free[2]} PROBE[b]=${free[3]}
start() { # NAME LEASE_MS [stall]: lib/ha.sh's ha_stall_node with this test's settings
  ha_stall_node "$1" "$2" "${3:-}" "li_admin_key = $work/li.pub" \
    "[vault]" "development_key_file = $work/kek.bin" "allow_development_key = true" \
    "[model]" "allow_declared_trust = true" "[keys]" "x1_key_dir = $pki"
}
wait_for() { # WHAT COMMAND...: up to 60 s
  local what=$1
  shift
  for _ in $(seq 1 600); do "$@" && return 0; sleep 0.1; done
  for n in a b; do echo "--- $n" >&2; tail -8 "$work/$n.log" >&2; done
  sql "SELECT application_name, state, backend_start, state_change, query FROM pg_stat_activity
       WHERE application_name LIKE 'lisec-lock%'" >&2
  fail "$what within 60 s"
}
write() { # NODE ID
  local code
  code=$(as operator -o "$work/w.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"$2\",\"codes\":[\"FI\"]}" "https://localhost:${PORT[$1]}/v1/model/jurisdiction")
  [ "$code" = 201 ] || fail "write $2 through $1: $code $(cat "$work/w.json")"
}
no_lock_session() { [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lisec-lock:$1'")" = 0 ]; }
now_ms() { date +%s%3N; }

# ---- a leads, b waits; a's watch stalls ---------------------------------------------
start a $LEASE stall
wait_for "a leads" leads a
start b $LEASE
wait_for "b is a standby" refuses b
write a j-1
touch "$stall"
# a then b, each round: a must have stepped down before b took the lock
a_down=
for _ in $(seq 1 600); do
  if [ -z "$a_down" ] && ! leads a; then a_down=$(cat "$work/h.json"); fi
  leads b && break
  sleep 0.05
done
leads b || fail "b did not take over within 60 s of a's watch stalling ([ha] lease_ms = $LEASE)"
write b j-2
# a, still running, its watch still stalled: what a client routed to it gets
bad=()
alive a || fail "a exited while its watch was stalled: $(tail -3 "$work/a.log")"
refuses a || bad+=("/healthz $(cat "$work/h.json")")
code=$(curl -s -o "$work/r.json" -w '%{http_code}' "http://127.0.0.1:${PROBE[a]}/readyz")
[ "$code" = 503 ] || bad+=("probe /readyz $code $(cat "$work/r.json")")
code=$(as operator -o "$work/r.json" -w '%{http_code}' "https://localhost:${PORT[a]}/v1/status")
[ "$code" = 503 ] || bad+=("/v1/status $code")
code=$(as operator -o "$work/r.json" -w '%{http_code}' "https://localhost:${PORT[a]}/v1/model/jurisdiction/j-2")
[ "$code" = 503 ] && [ "$(jq -r .role "$work/r.json")" = standby ] &&
  jq -r .error.message "$work/r.json" | grep -q 'TR103308-5.3' || bad+=("GET j-2 (written by b) $code $(cat "$work/r.json")")
[ ${#bad[@]} = 0 ] || fail "deposed a (its session ended by the lease, b leads) still answers as a leader: $(printf '%s; ' "${bad[@]}")"
[ -n "$a_down" ] || fail "a said leader on /healthz until b took over"
[ "$(jq -r .leader <<<"$a_down")" = null ] ||
  fail "a's step-down names a leader it does not know: $a_down"
pass "a, its watch stalled, stepped down before b took the lock and refuses as a standby does (/healthz, /readyz, /v1/status, a read)"
rm -f "$stall"
for _ in $(seq 1 300); do alive a || break; sleep 0.1; done
! alive a || fail "a still runs 30 s after its watch was released, b leading"
grep -q "lost the store's writer lock" "$work/a.log" || fail "a exited without saying it lost the lock: $(tail -3 "$work/a.log")"
pass "released, a's watch found the lock gone and a exited"

# ---- a alone: it steps down at its own deadline and leads again once its watch ran ----
start a $LEASE stall
wait_for "a is b's standby" refuses a
kill -TERM "${PID[b]}"
wait "${PID[b]}" 2>/dev/null
wait_for "a leads once b stopped" leads a
e1=$(jq -r .epoch "$work/h.json")
write a j-3
t0=$(now_ms)
touch "$stall"
wait_for "a steps down with its watch stalled" refuses a
took=$(($(now_ms) - t0))
# its last renewal was at most one poll before the stall: not before lease_ms less two polls
[ "$took" -ge $((LEASE - 2 * POLL)) ] || fail "a stepped down $took ms after its watch stalled, before its lease could lapse ([ha] lease_ms = $LEASE, lock_poll_ms = $POLL)"
[ "$(jq -r .leader "$work/h.json")" = null ] || fail "a names a leader: $(cat "$work/h.json")"
jq -r .error.message "$work/h.json" | grep -q "TR103308-5.3.*lease" || fail "a's refusal does not say why: $(cat "$work/h.json")"
code=$(as operator -o "$work/r.json" -w '%{http_code}' "https://localhost:${PORT[a]}/v1/model/jurisdiction")
if [ "$code" != 503 ] || [ "$(jq -r .role "$work/r.json")" != standby ]; then
  fail "stepped-down a answers the API: $code $(cat "$work/r.json")"
fi
code=$(as operator -o "$work/r.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"id":"j-x","codes":["FI"]}' "https://localhost:${PORT[a]}/v1/model/jurisdiction")
[ "$code" = 503 ] || fail "stepped-down a takes a write: $code $(cat "$work/r.json")"
grep -q "TR103308-5.5: the leader's lease" "$work/a.log" || fail "a did not log its step-down"
# the server ends its lock session (nobody else takes the lock), then the watch is released
wait_for "the server ends a's lock session" no_lock_session a
rm -f "$stall"
wait_for "a leads again once its watch ran" leads a
e2=$(jq -r .epoch "$work/h.json")
[ "$e2" -gt "$e1" ] || fail "a leads again with epoch $e2, not above $e1"
alive a || fail "a exited"
write a j-4
[ "$(sql "SELECT count(*) FROM documents WHERE id = 'j-x'")" = 0 ] ||
  fail "the write refused while a had stepped down is stored"
pass "a alone stepped down $took ms into the stall (lease $LEASE ms, poll $POLL ms), refused as a standby, led again with a new epoch once its watch took the lock back"

# ---- a stepped-down leader tells NEs nothing ----------------------------------------
LISECD_URL=https://localhost:${PORT[a]}
li_topology
ne_port=$(free_port)
ne_start() { # a lisec-ne that holds no task
  rm -f "$work/ne-tasks.json"
  "$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
    --ca "$pki/ca.crt" --ne-id poi-1 --admf-id lisec-admf --state "$work/ne-tasks.json" 2>>"$work/ne.log" &
  ne_pid=$!
  cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null")
  for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$ne_port) 2>/dev/null && return 0; sleep 0.1; done
  fail "lisec-ne did not listen"
}
li_call() { # WANT ROLE METHOD PATH BODY: a request to a
  local code
  code=$(as "$2" -o "$work/c.json" -w '%{http_code}' -X "$3" -H 'Content-Type: application/json' -d "$5" "$LISECD_URL$4")
  [ "$code" = "$1" ] || fail "$2 $3 $4: $code $(cat "$work/c.json")"
}
ne_told() { grep -cE "(^|[^a-z])activate [0-9a-f]{8}-" "$work/ne.log" || true; } # times told to activate
ne_start
li_call 200 li-admin POST /v1/x1/nes "$(li_ne_json poi-1 "$ne_port" vm-li 192.0.2.200)"
li_call 201 li-admin POST /v1/targets '{"id":"t-1","authorisation":"li-1","identifiers":[{"kind":"ipv4","value":"192.0.2.1"}]}'
told_once() { [ "$(ne_told)" = 1 ]; }
wait_for "lisec-ne is given the LI's task" told_once
touch "$stall"
wait_for "a steps down with its watch stalled" refuses a
kill "$ne_pid"
wait "$ne_pid" 2>/dev/null
ne_start # it lost the task: a leader's X1 loop gives it back at its next check (check_ms 300)
t0=$(now_ms)
while [ $(($(now_ms) - t0)) -lt $((10 * 300)) ]; do
  told_once || fail "stepped-down a told the restarted NE to activate $(($(now_ms) - t0)) ms after it started: $(tail -3 "$work/ne.log")"
  sleep 0.1
done
rm -f "$stall"
wait_for "a leads again once its watch ran" leads a
told_twice() { [ "$(ne_told)" = 2 ]; }
wait_for "the restarted NE is given the task back once a leads again" told_twice
pass "stepped down, a told a restarted NE nothing for ten of its checks; leading again, it gave the NE its task back"

# ---- lease_ms = 0: a stalled watch changes nothing ----------------------------------
kill -TERM "${PID[a]}"
wait "${PID[a]}" 2>/dev/null
start a 0 stall
wait_for "a leads (lease_ms = 0)" leads a
touch "$stall"
wait_for "a's watch stalls" grep -q "watch skips its rounds" "$work/a.log"
t0=$(now_ms)
while [ $(($(now_ms) - t0)) -lt $((2 * LEASE)) ]; do
  leads a || fail "a with lease_ms = 0 stopped leading $(($(now_ms) - t0)) ms into its watch's stall: $(cat "$work/h.json")"
  sleep 0.2
done
write a j-5
rm -f "$stall"
pass "with lease_ms = 0 a stalled watch changes nothing: a leads and writes"
for n in a b; do ! grep -q Sanitizer "$work/$n.log" || { cat "$work/$n.log" >&2; fail "sanitizer report in $n"; }; done
