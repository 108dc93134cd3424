#!/usr/bin/env bash
# The old leader's *data* backend (not its lock's) stopped inside a write's
# transaction (docs/ha.md, failure cases): the backend holds the fence's
# lock shared and the rows it wrote, and only it can let them go, so the
# new leader's epoch bump cannot be made while it is stopped (a bump beside
# it would let that transaction commit under the old epoch once it runs).
# Real PostgreSQL, two lisecd a and b with [ha] and a lease; a trigger of
# the test's holds a's write of "stall-1" in pg_sleep, and the test stops
# (SIGSTOP) that backend there, then kills a (kill -9: its lock session
# ends, the lock is free). Checked:
#  1. b takes the lock at every poll, ends a's sessions, and cannot bump
#     while the backend stays stopped: b never answers as the leader (503
#     "standby" on /healthz and on a read), each try is bounded (b answers
#     its /healthz all along), and b's log names what it waits for: the
#     backend's pid, the node "a" whose session it is, that it was asked
#     to end and did not (stopped or hung). Before: "bump the leader epoch:
#     canceling statement due to lock timeout", naming nothing.
#  2. the backend resumed: its pending termination ends it (nobody ends it
#     by hand), b leads and acknowledges a write, nothing of "stall-1" is
#     stored, and the model equals the store.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
for tool in psql jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
ha_pg_stoppable datastall
ha_audit_key
LEASE=2000
declare -A PORT PID PROBE
ha_free_ports 4
PORT[a]=${free[0]} PROBE[a]=${free[1]} PORT[b]=${free[2]} PROBE[b]=${free[3]}
start() { # NAME
  local lines
  mapfile -t lines < <(ha_section "$1" "${PORT[$1]}")
  ha_conf "$work/$1.conf" "${PORT[$1]}" "${PROBE[$1]}" "$url" "$work/$1.vkey" "${lines[@]}" "lease_ms = $LEASE"
  sed -i "/^url = /a timeout_ms = 3000" "$work/$1.conf"
  "$build/cmd/lisecd/lisecd" -c "$work/$1.conf" 2>>"$work/$1.log" &
  PID[$1]=$!
  cleanup_hooks+=("kill -TERM ${PID[$1]} 2>/dev/null; wait ${PID[$1]} 2>/dev/null")
}
post() { # NODE ID -> HTTP status of a jurisdiction's creation
  as operator --max-time 30 -o "$work/w.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"$2\",\"codes\":[\"FI\"]}" "https://localhost:${PORT[$1]}/v1/model/jurisdiction" 2>/dev/null || true
}
read_code() { # NODE ID -> HTTP status of a jurisdiction's read
  as operator --max-time 10 -o "$work/r.json" -w '%{http_code}' \
    "https://localhost:${PORT[$1]}/v1/model/jurisdiction/$2" 2>/dev/null || true
}
dump() { for n in a b; do echo "--- $n" >&2; grep -v '\[front\]' "$work/$n.log" | tail -8 >&2; done; }

start a
for _ in $(seq 1 300); do leads a && break; alive a || break; sleep 0.1; done
leads a || { dump; fail "a did not lead"; }
start b
for _ in $(seq 1 300); do refuses b && break; alive b || break; sleep 0.1; done
refuses b || { dump; fail "b is not a standby"; }
[ "$(post a before)" = 201 ] || fail "a write before the stall: $(cat "$work/w.json")"

# a write of "stall-1" held inside its transaction by the test's trigger
sql "CREATE FUNCTION lisec_test_hold() RETURNS trigger LANGUAGE plpgsql AS
       \$\$ BEGIN IF NEW.id LIKE 'stall%' THEN PERFORM pg_sleep(60); END IF; RETURN NEW; END \$\$;
     CREATE TRIGGER lisec_test_hold BEFORE INSERT OR UPDATE ON documents
       FOR EACH ROW EXECUTE FUNCTION lisec_test_hold()" >/dev/null
post a stall-1 >/dev/null &
writer=$!
bk=
for _ in $(seq 1 200); do
  bk=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'lisec:a' AND wait_event = 'PgSleep'")
  [ -n "$bk" ] && break
  sleep 0.05
done
[ -n "$bk" ] || { dump; fail "a's write of stall-1 did not reach the trigger"; }
fence=$(sql "SELECT count(*) FROM pg_locks WHERE pid = $bk AND locktype = 'advisory' AND granted
             AND mode = 'ShareLock'")
[ "$fence" -ge 1 ] || fail "a's held write does not hold the fence's lock shared"
kill -STOP "$bk"
stopped=$bk
kill -KILL "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
wait "$writer" 2>/dev/null || true

# 1. b cannot bump while the backend is stopped; it never leads, and says why.
t0=$(date +%s%N)
ms() { echo $((($(date +%s%N) - t0) / 1000000)); }
said=
for _ in $(seq 1 120); do
  code=$(health b)
  [ "$code" = 503 ] && [ "$(jq -r .role "$work/h.json")" = standby ] ||
    { dump; fail "b answered /healthz $code while a's stopped backend holds the fence: $(cat "$work/h.json")"; }
  [ -n "$said" ] || ! grep -q "backend pid $bk.*node \"a\"" "$work/b.log" || said=$(ms)
  [ -n "$said" ] && [ "$(ms)" -ge 6000 ] && break
  [ "$(ms)" -lt 20000 ] || break
  sleep 0.1
done
alive b || { dump; fail "b exited"; }
code=$(read_code b before)
[ "$code" = 503 ] || fail "b answered a read $code while it cannot take over: $(cat "$work/r.json")"
[ -n "$said" ] || { dump; fail "b's log does not name the stopped backend $bk of node a that holds its take-over"; }
grep -q "backend pid $bk.*asked to end" "$work/b.log" || { dump; fail "b's log does not say the backend was asked to end"; }
[ -n "$(sql "SELECT pid FROM pg_stat_activity WHERE pid = $bk")" ] || fail "the stopped backend $bk is gone while stopped"
pass "a's data backend stopped inside its write, a killed: b a standby for $(ms) ms, its log naming backend $bk of node a after $said ms"

# 2. resumed: the termination b asked for ends it; b leads.
kill -CONT "$bk"
stopped=
t0=$(date +%s%N)
for _ in $(seq 1 300); do leads b && break; alive b || break; sleep 0.1; done
leads b || { dump; fail "b did not lead once the backend ran again"; }
took=$(ms)
[ -z "$(sql "SELECT pid FROM pg_stat_activity WHERE pid = $bk")" ] || fail "the resumed backend $bk did not end"
[ "$(post b after)" = 201 ] || fail "a write to b: $(cat "$work/w.json")"
[ "$(sql "SELECT count(*) FROM documents WHERE id LIKE 'stall%'")" = 0 ] || fail "the held write of stall-1 was stored"
[ "$(read_code b stall-1)" = 404 ] || fail "b has stall-1: $(cat "$work/r.json")"
for id in before after; do [ "$(read_code b $id)" = 200 ] || fail "b lost $id: $(cat "$work/r.json")"; done
pass "the backend running again ended (terminated while stopped); b leads after $took ms, a write acknowledged, nothing of the held write stored"
! grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:' "$work/b.log" || { cat "$work/b.log" >&2; fail "sanitizer report"; }
