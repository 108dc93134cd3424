#!/usr/bin/env bash
# A standby's own lock backend stopped, and lisecd asked to stop while
# PostgreSQL stalls (docs/ha.md, failure cases). Real PostgreSQL, two
# lisecd a and b with [ha], a lease and [server] stop_timeout_s = 3.
# Checked:
#  1. b (the standby) has its lock session's backend stopped (SIGSTOP): its
#     try is given up within lock_timeout_ms and 2 s, saying so, and the
#     next one goes on on a new connection: b stays a standby answering 503
#     all along, a leads and acknowledges writes; a killed, b takes over
#     while its old backend is still stopped, and keeps leading once that
#     backend runs again (it ends).
#  2. the whole PostgreSQL stopped (its postmaster and every backend: a
#     connection is accepted by the kernel and never answered), and a
#     lisecd asked to stop (SIGTERM) in the middle of it, first the standby
#     while its try waits, then the leader: each ends within [server]
#     stop_timeout_s, never killed by its parent ("did not stop within").
#     Before: the standby noticed the stop only after its try and its
#     reconnect (up to libpq's 10 s connect_timeout) had ended.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
for tool in psql jq pgrep; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
ha_pg_stoppable sbstall
ha_audit_key
LOCK_TIMEOUT=2000 GRACE=2000 LEASE=2000 STOP_S=3
declare -A PORT PID PROBE
ha_free_ports 4
PORT[a]=${free[0]} PROBE[a]=${free[1]} PORT[b]=${free[2]} PROBE[b]=${free[3]}
start() { # NAME
  local lines
  mapfile -t lines < <(ha_section "$1" "${PORT[$1]}")
  ha_conf "$work/$1.conf" "${PORT[$1]}" "${PROBE[$1]}" "$url" "$work/$1.vkey" "${lines[@]}" "lease_ms = $LEASE"
  sed -i -e "/^url = /a timeout_ms = 1000" -e "/^workers = /a stop_timeout_s = $STOP_S" "$work/$1.conf"
  "$build/cmd/lisecd/lisecd" -c "$work/$1.conf" 2>>"$work/$1.log" &
  PID[$1]=$!
  cleanup_hooks+=("kill -TERM ${PID[$1]} 2>/dev/null; wait ${PID[$1]} 2>/dev/null")
}
post() { # NODE ID -> HTTP status of a jurisdiction's creation
  as operator --max-time 20 -o "$work/w.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"$2\",\"codes\":[\"FI\"]}" "https://localhost:${PORT[$1]}/v1/model/jurisdiction" 2>/dev/null || true
}
dump() { for n in a b; do echo "--- $n" >&2; grep -v '\[front\]' "$work/$n.log" | tail -8 >&2; done; }
t0=$(date +%s%N)
ms() { echo $((($(date +%s%N) - t0) / 1000000)); }

start a
for _ in $(seq 1 300); do leads a && break; alive a || break; sleep 0.1; done
leads a || { dump; fail "a did not lead"; }
start b
for _ in $(seq 1 300); do refuses b && break; alive b || break; sleep 0.1; done
refuses b || { dump; fail "b is not a standby"; }

# 1. b's lock backend stopped while b is a standby.
bk=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'lisec-lock:b'")
[ -n "$bk" ] || fail "b has no lock session"
kill -STOP "$bk"
stopped=$bk
t0=$(date +%s%N)
said=
for _ in $(seq 1 300); do
  refuses b || { dump; fail "b, a standby whose lock backend is stopped, answered /healthz $(cat "$work/h.json")"; }
  leads a || { dump; fail "a stopped leading while b's lock backend is stopped"; }
  grep -q "standby: cannot try the writer lock: .*no answer within \[ha\] lock_timeout_ms = $LOCK_TIMEOUT ms" \
    "$work/b.log" && { said=$(ms); break; }
  [ "$(ms)" -lt $((LOCK_TIMEOUT + GRACE + 6000)) ] || break
  sleep 0.05
done
[ -n "$said" ] || { dump; fail "b did not give its stopped lock session up within lock_timeout_ms + $GRACE ms"; }
[ "$said" -le $((LOCK_TIMEOUT + GRACE + 3000)) ] || fail "b gave its lock session up after $said ms"
# its next try, on a new connection, is a standby's as before
for _ in $(seq 1 100); do
  [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lisec-lock:b' AND pid <> $bk")" = 1 ] && break
  sleep 0.05
done
[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lisec-lock:b' AND pid <> $bk")" = 1 ] ||
  { dump; fail "b did not try the lock on a new connection"; }
refuses b || fail "b is not a standby after giving its session up: $(cat "$work/h.json")"
[ "$(post a during-b)" = 201 ] || fail "a write to a while b's lock backend is stopped: $(cat "$work/w.json")"
pass "b's lock backend stopped: b gave it up after $said ms, tried again on a new connection, stayed a standby; a leads"
kill -KILL "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
t0=$(date +%s%N)
for _ in $(seq 1 200); do leads b && break; alive b || break; sleep 0.05; done
leads b || { dump; fail "b did not take over from the killed a while its old lock backend is stopped"; }
took=$(ms)
[ "$(post b after-a)" = 201 ] || fail "a write to b: $(cat "$work/w.json")"
kill -CONT "$bk"
stopped=
for _ in $(seq 1 100); do [ -z "$(sql "SELECT pid FROM pg_stat_activity WHERE pid = $bk")" ] && break; sleep 0.05; done
[ -z "$(sql "SELECT pid FROM pg_stat_activity WHERE pid = $bk")" ] || fail "b's old lock backend $bk did not end"
leads b || fail "b stopped leading when its old lock backend ran again"
[ "$(post b after-resume)" = 201 ] || fail "a write to b: $(cat "$work/w.json")"
pass "a killed: b took over after $took ms with its old lock backend still stopped; that backend ended once resumed, b leads"

# 2. The whole PostgreSQL stopped; each lisecd asked to stop in the middle.
start a
for _ in $(seq 1 300); do refuses a && break; alive a || break; sleep 0.1; done
refuses a || { dump; fail "a, started again, is not a standby"; }
pm=$(head -1 "$pgdir/data/postmaster.pid" 2>/dev/null || head -1 "$pgdir"/*/postmaster.pid)
[ -n "$pm" ] || fail "no postmaster pid under $pgdir"
procs="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
kill -STOP $procs
stopped=$procs
t0=$(date +%s%N)
# a's try meets the stall: given up, then its new connection is not answered
for _ in $(seq 1 200); do
  grep -q "standby: cannot try the writer lock: .*no answer within" "$work/a.log" && break
  sleep 0.05
done
grep -q "standby: cannot try the writer lock: .*no answer within" "$work/a.log" || { dump; fail "a's try did not meet the stall"; }
# and its new connection is made (the kernel accepts it for the stopped
# postmaster): a's controller has an established connection to it again
pgport=${url##*:}
pgport=${pgport%%/*}
ctl=$(grep -o 'controller [0-9]\+' "$work/a.log" | tail -1 | cut -d' ' -f2)
[ -n "$ctl" ] || fail "a's controller pid is not in its log"
for _ in $(seq 1 200); do
  ss -Htnp state established "( dport = :$pgport )" | grep -q "pid=$ctl," && break
  sleep 0.05
done
ss -Htnp state established "( dport = :$pgport )" | grep -q "pid=$ctl," || { dump; fail "a did not connect again"; }
stop_within() { # NODE WHAT
  local t1 took
  t1=$(date +%s%N)
  kill -TERM "${PID[$1]}"
  for _ in $(seq 1 300); do alive "$1" || break; sleep 0.05; done
  took=$((($(date +%s%N) - t1) / 1000000))
  alive "$1" && { dump; fail "$1 ($2), asked to stop while PostgreSQL stalls, still runs after $took ms"; }
  wait "${PID[$1]}" 2>/dev/null || true
  ! grep -q "did not stop within" "$work/$1.log" ||
    { dump; fail "$1 ($2): a process of it was killed: $(grep 'did not stop within' "$work/$1.log")"; }
  [ "$took" -le $((STOP_S * 1000 + 2500)) ] || fail "$1 ($2) stopped after $took ms, [server] stop_timeout_s = $STOP_S"
  pass "$1 ($2) asked to stop while PostgreSQL stalls: stopped in $took ms, within [server] stop_timeout_s = $STOP_S"
}
stop_within a standby
stop_within b leader
kill -CONT $stopped
stopped=
for n in a b; do
  ! grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:' "$work/$n.log" || { cat "$work/$n.log" >&2; fail "sanitizer report ($n)"; }
done
