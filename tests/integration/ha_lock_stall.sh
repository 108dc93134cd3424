#!/usr/bin/env bash
# The leader's writer lock held by a PostgreSQL backend that does not run
# (docs/ha.md, failure cases): the lock session's backend SIGSTOPped (or
# hung) while lisecd and its host run on. The server's own timeouts
# (statement_timeout, idle_session_timeout: the lease) are the backend's
# to enforce, and its host's kernel still answers TCP, so nothing ends that
# session, and the advisory lock stays with it. Promised: fail closed (no
# lisecd answers as the leader meanwhile, the standby does not take over
# beside a leader that still holds the lock), no unbounded wait in lisecd,
# and a leader again without an operator once the backend runs again or is
# gone. Real PostgreSQL, two lisecd a and b with [ha] and a lease. Checked:
#  1. a's lock backend stopped: a steps down by its lease (503 "standby",
#     its writes refused), its watch gives the lock's connection up within
#     lock_timeout_ms and 2 s more, saying so, tries to take the lock back
#     for store_failover_ms, finds its own stopped session holding it, asks
#     the server to end it, then exits 1 naming it; b stays a standby all
#     along (never two leaders, never b while the lock is held). The
#     backend resumed: it ends, b leads, a write is acknowledged.
#     Before: a's watch waited for the stopped backend for good, said
#     nothing and never exited.
#  2. b's lock backend stopped and resumed while b still tries: one leader
#     (b taking its lock back, or a taking over), a write acknowledged.
#  3. the leader asked to stop (SIGTERM) while its lock backend is stopped:
#     it stops within the lock's bound. Before: the stop waited for the
#     watch, which waited for the backend, until lisecd killed its own
#     controller after [server] stop_timeout_s.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
for tool in psql jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
ha_pg_stoppable lockstall
ha_audit_key
LOCK_TIMEOUT=2000 GRACE=2000 FAILOVER=3000 LEASE=2000
declare -A PORT PID PROBE
ha_free_ports 4
PORT[a]=${free[0]} PROBE[a]=${free[1]} PORT[b]=${free[2]} PROBE[b]=${free[3]}
start() { # NAME
  local lines
  mapfile -t lines < <(ha_section "$1" "${PORT[$1]}")
  ha_conf "$work/$1.conf" "${PORT[$1]}" "${PROBE[$1]}" "$url" "$work/$1.vkey" "${lines[@]}" \
    "store_failover_ms = $FAILOVER" "lease_ms = $LEASE"
  "$build/cmd/lisecd/lisecd" -c "$work/$1.conf" 2>>"$work/$1.log" &
  PID[$1]=$!
  cleanup_hooks+=("kill -TERM ${PID[$1]} 2>/dev/null; wait ${PID[$1]} 2>/dev/null")
}
other() { [ "$1" = a ] && echo b || echo a; }
lock_backend() { sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'lisec-lock:$1'"; }
# the backend holding the writer lock (7151300020260017), none when free
lock_holder() {
  sql "SELECT COALESCE(MAX(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND granted
       AND classid = 1665041 AND objid = 3378760881 AND objsubid = 1"
}
post() { # NODE ID -> HTTP status of a jurisdiction's creation
  as operator --max-time 20 -o "$work/w.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"$2\",\"codes\":[\"FI\"]}" "https://localhost:${PORT[$1]}/v1/model/jurisdiction" 2>/dev/null || true
}
dump() { for n in a b; do echo "--- $n" >&2; grep -v '\[front\]' "$work/$n.log" | tail -6 >&2; done; }
# one_leader: until exactly one of the running nodes leads (30 s); $leader names it
one_leader() {
  local n
  for _ in $(seq 1 300); do
    leader=
    for n in a b; do alive $n && leads $n && leader=$leader$n; done
    [ ${#leader} = 1 ] && return 0
    [ ${#leader} -le 1 ] || { dump; fail "two leaders: $leader"; }
    sleep 0.1
  done
  dump
  fail "no leader within 30 s"
}

start a
for _ in $(seq 1 300); do leads a && break; alive a || break; sleep 0.1; done
leads a || { dump; fail "a did not lead"; }
start b
for _ in $(seq 1 300); do refuses b && break; alive b || break; sleep 0.1; done
refuses b || { dump; fail "b is not a standby"; }
[ "$(post a before)" = 201 ] || fail "a write before the stall: $(cat "$work/w.json")"

# 1. a's lock backend stopped, and resumed only after a gave up.
bk=$(lock_backend a)
[ -n "$bk" ] && [ "$(lock_holder)" = "$bk" ] || fail "a's lock session ($bk) does not hold the writer lock"
kill -STOP "$bk"
stopped=$bk
t0=$(date +%s%N)
ms() { echo $((($(date +%s%N) - t0) / 1000000)); }
down= said= gone= refused=
for _ in $(seq 1 400); do
  ha=$(health a) hb=$(health b)
  [ "$ha" != 200 ] || [ "$hb" != 200 ] || { dump; fail "a and b both answer as the leader"; }
  [ "$hb" != 200 ] || { dump; fail "b leads while a's stopped session holds the writer lock"; }
  [ -n "$down" ] || [ "$ha" = 200 ] || down=$(ms)
  if [ -n "$down" ] && [ -z "$refused" ] && alive a; then
    code=$(post a during)
    [ "$code" = 503 ] || fail "a, stepped down, answered a write $code: $(cat "$work/w.json")"
    refused=yes
  fi
  [ -n "$said" ] || ! grep -q "writer lock's connection.*no answer within \[ha\] lock_timeout_ms = $LOCK_TIMEOUT ms" \
    "$work/a.log" || said=$(ms)
  alive a || { gone=$(ms); break; }
  [ "$(ms)" -lt $((LEASE + LOCK_TIMEOUT + GRACE + FAILOVER + 8000)) ] || break
  sleep 0.05
done
[ -n "$down" ] && [ "$down" -le $((LEASE + 3000)) ] ||
  { dump; fail "a did not step down within its lease ($LEASE ms): ${down:-still leading}"; }
[ -n "$said" ] ||
  { dump; fail "a's watch did not give up its stopped lock session within lock_timeout_ms + ${GRACE} ms (it waits for it)"; }
[ "$said" -le $((LEASE + LOCK_TIMEOUT + GRACE + 3000)) ] || fail "a's watch gave its lock session up after $said ms"
[ -n "$gone" ] || { dump; fail "a did not exit while its stopped session held the writer lock"; }
rc=0
wait "${PID[a]}" || rc=$?
[ $rc = 1 ] || fail "a exited $rc, not 1"
grep -q "TR103308-5.5: this leader lost the store's writer lock (not taken back within \[ha\] store_failover_ms = $FAILOVER ms: the writer lock is still held by this lisecd's previous lock session (PostgreSQL backend pid $bk)" "$work/a.log" ||
  { dump; fail "a's exit does not name its stopped lock session"; }
refuses b || fail "b is not a standby while a's stopped session holds the writer lock"
[ "$(lock_holder)" = "$bk" ] || fail "the writer lock moved from the stopped backend $bk to $(lock_holder)"
pass "a's lock backend stopped: a stepped down after $down ms, gave its lock session up after $said ms, exited 1 after $gone ms naming it; b a standby throughout, never two leaders"
kill -CONT "$bk"
stopped=
t0=$(date +%s%N)
one_leader
[ "$leader" = b ] || fail "$leader leads, not b"
[ "$(post b after-a)" = 201 ] || fail "a write to b: $(cat "$work/w.json")"
[ -z "$(sql "SELECT pid FROM pg_stat_activity WHERE pid = $bk")" ] || fail "the resumed backend $bk did not end"
pass "the backend running again: it ended, b leads after $(ms) ms, a write acknowledged"
start a
for _ in $(seq 1 300); do refuses a && break; alive a || break; sleep 0.1; done
refuses a || { dump; fail "a, started again, is not a standby"; }

# 2. b's lock backend stopped, resumed while b still tries to take its lock back.
bk=$(lock_backend b)
kill -STOP "$bk"
stopped=$bk
t0=$(date +%s%N)
for _ in $(seq 1 200); do
  grep -q "writer lock's connection.*no answer within" "$work/b.log" && break
  [ "$(health a)" != 200 ] || { dump; fail "a leads while b's stopped session holds the writer lock"; }
  sleep 0.05
done
grep -q "writer lock's connection.*no answer within" "$work/b.log" || { dump; fail "b's watch did not give up"; }
kill -CONT "$bk"
stopped=
t0=$(date +%s%N)
one_leader
[ "$(post "$leader" after-b)" = 201 ] || fail "a write to $leader: $(cat "$work/w.json")"
pass "b's lock backend resumed while b tried to take its lock back: $leader leads after $(ms) ms, a write acknowledged"
alive a || start a
alive b || start b
one_leader

# 3. The leader stopped while its lock backend is stopped.
bk=$(lock_backend "$leader")
kill -STOP "$bk"
stopped=$bk
# its watch meets the stall: the lease it no longer renews lapses
for _ in $(seq 1 100); do refuses "$leader" && break; sleep 0.05; done
refuses "$leader" || { dump; fail "$leader did not step down with its lock backend stopped"; }
t0=$(date +%s%N)
kill -TERM "${PID[$leader]}"
for _ in $(seq 1 300); do alive "$leader" || break; sleep 0.05; done
took=$(ms)
alive "$leader" && { dump; fail "$leader, asked to stop with its lock backend stopped, still runs after $took ms"; }
[ "$took" -le $((LOCK_TIMEOUT + GRACE + 4000)) ] || fail "$leader stopped after $took ms"
! grep -q "did not stop within" "$work/$leader.log" || fail "$leader's controller had to be killed: $(grep 'did not stop within' "$work/$leader.log")"
kill -CONT "$bk"
stopped=
pass "$leader asked to stop while its lock backend is stopped: stopped in $took ms"
one_leader
[ "$(post "$leader" after-stop)" = 201 ] || fail "a write to $leader: $(cat "$work/w.json")"
pass "$leader leads after that, a write acknowledged"
for n in a b; do
  ! grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:' "$work/$n.log" || { cat "$work/$n.log" >&2; fail "sanitizer report ($n)"; }
done
