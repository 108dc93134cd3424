#!/usr/bin/env bash
# lisecd as a parent and three processes (issue 16): lisecd has exactly
# three children, named lisecd-front, lisecd-ctl and lisecd-keys; the front
# holds no descriptor of the store (the controller does), and serves a
# host's connection on its bulk worker at nice 10; SIGTERM stops all
# of them and lisecd exits 0. SIGKILL to each child in turn, on a fresh
# lisecd with acknowledged writes behind it: lisecd exits non-zero, logs
# one line naming the child, leaves no process behind, and a restart finds
# every acknowledged record (model entities and audit entries). SIGKILL to
# the parent takes the children with it.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"

pki=$work/pki
make_pki "$pki"
db=$work/lisec.db

# children PID: "pid comm" of each child of PID.
children() {
  local p
  for p in /proc/[0-9]*; do
    [ -r "$p/stat" ] || continue
    # comm may hold spaces: the fields after its closing parenthesis.
    awk -v want="$1" -v pid="${p#/proc/}" '{
      s = $0; i = index(s, ") "); comm = substr(s, index(s, "(") + 1, i - index(s, "(") - 1)
      split(substr(s, i + 2), f, " "); if (f[2] == want) print pid, comm }' "$p/stat" 2>/dev/null || true
  done
}

# no_sanitizer_report: the log of the lisecd that just ended (ASan builds).
no_sanitizer_report() {
  ! grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:' "$work/lisecd.log" ||
    { cat "$work/lisecd.log" >&2; fail "sanitizer report in lisecd's log"; }
}

child_pid() { children "$1" | awk -v c="$2" '$2 == c {print $1}'; }

# wait_gone PID...: each PID ends within 10 s.
wait_gone() {
  local p
  for p in "$@"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$p" 2>/dev/null || fail "process $p still runs"
  done
}

audit_rows() {
  python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from audit_log").fetchone()[0])' "$db"
}

# write_records TAG N: N jurisdictions, each acknowledged with 201, and N
# refusals of auditor on /v1/targets, each a 403 that left an audit entry.
write_records() {
  local tag=$1 n=$2 i c
  for i in $(seq 1 "$n"); do
    c=$(as operator -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
      -d "{\"id\":\"j-$tag-$i\",\"codes\":[\"FI\"]}" "$LISECD_URL/v1/model/jurisdiction")
    [ "$c" = 201 ] || [ "$c" = 200 ] || fail "jurisdiction j-$tag-$i: HTTP $c"
    c=$(as auditor -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/targets")
    [ "$c" = 403 ] || fail "auditor on /v1/targets: HTTP $c"
  done
}

check_records() {
  local tag=$1 n=$2 i c
  for i in $(seq 1 "$n"); do
    c=$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/model/jurisdiction/j-$tag-$i")
    [ "$c" = 200 ] || fail "j-$tag-$i acknowledged before the kill, HTTP $c after the restart"
  done
}

# ---- three children, named; the front without the store; a clean stop ------------
start_lisecd "$pki" "[server]" "request_slice_us = 300"
kids=$(children "$LISECD_PID" | awk '{print $2}' | sort | tr '\n' ' ')
[ "$kids" = "lisecd-ctl lisecd-front lisecd-keys " ] || fail "lisecd's children: '$kids'"
front=$(child_pid "$LISECD_PID" lisecd-front)
ctl=$(child_pid "$LISECD_PID" lisecd-ctl)
if ls -l "/proc/$front/fd" 2>/dev/null | grep -q 'lisec\.db'; then fail "the front holds a descriptor of the store"; fi
ls -l "/proc/$ctl/fd" | grep -q 'lisec\.db' || fail "the controller holds no descriptor of the store"
grep -q '\[controller\] ' "$work/lisecd.log" || grep -q '"process":"controller"' "$work/lisecd.log" ||
  fail "no log line names its process"
[ "$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/status")" = 200 ] || fail "status through the front"
# Hosts' connections are served by the front's bulk worker (issue 22 item
# 6): a thread lisec-fbulk at [server] bulk_nice (10) spends the CPU of a
# host's requests (100 on one keep-alive connection a round, until its CPU
# time grows; at most 60 rounds).
fbulk=
for t in /proc/"$front"/task/*; do [ "$(cat "$t/comm")" = lisec-fbulk ] && fbulk=$t/stat; done
[ -n "$fbulk" ] || fail "the front has no bulk worker thread (lisec-fbulk)"
[ "$(awk '{print $19}' "$fbulk")" = 10 ] || fail "the bulk front worker runs at nice $(awk '{print $19}' "$fbulk"), want 10"
# With [server] request_slice_us = 300 the request threads ask for a 300 us
# slice and the bulk ones keep the kernel's: read from the kernel's own
# account of each thread (Linux 6.12 and later honour the request; earlier
# kernels ignore it, and this part is skipped there or where the kernel does
# not show a thread's slice).
slices() { # PID COMM: the se.slice (ns) of each thread of PID named COMM
  local t
  for t in /proc/"$1"/task/*; do
    [ "$(cat "$t/comm")" != "$2" ] || awk '$1 == "se.slice" {print $3}' "$t/sched"
  done
}
IFS=.- read -r kmaj kmin _ <<<"$(uname -r)"
if { [ "$kmaj" -gt 6 ] || { [ "$kmaj" = 6 ] && [ "$kmin" -ge 12 ]; }; } && grep -q '^se\.slice' /proc/self/sched 2>/dev/null; then
  for pc in "$front lisec-front" "$ctl lisec-chan"; do
    got=$(slices $pc | sort -u)
    [ "$got" = 300000 ] || fail "${pc#* } threads' slices: '${got//$'\n'/ }' ns, want 300000 ([server] request_slice_us)"
  done
  for pc in "$front lisec-fbulk" "$ctl lisec-bulk"; do
    got=$(slices $pc | sort -u)
    [ -n "$got" ] && ! grep -qx 300000 <<<"$got" || fail "${pc#* } threads' slices: '$got' ns, want the kernel's"
  done
  sliced=", request threads at a 300 us slice and bulk ones at the kernel's"
else
  sliced=" (slices not checked: Linux $kmaj.$kmin, before 6.12 or without se.slice in /proc/PID/sched)"
fi
urls=()
for _ in $(seq 1 100); do urls+=("$LISECD_URL/healthz"); done
t0=$(awk '{print $14 + $15}' "$fbulk")
for _ in $(seq 1 60); do
  [ "$(awk '{print $14 + $15}' "$fbulk")" -gt "$t0" ] && break
  as host "${urls[@]}" >/dev/null
done
[ "$(awk '{print $14 + $15}' "$fbulk")" -gt "$t0" ] || fail "6,000 requests of a host took no CPU on the bulk front worker"
pid=$LISECD_PID
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
LISECD_PID=
[ "$rc" = 0 ] || { cat "$work/lisecd.log" >&2; fail "SIGTERM: exit $rc"; }
wait_gone $front $ctl
grep -q 'lisecd stopped' "$work/lisecd.log" || fail "no 'lisecd stopped' in the log"
no_sanitizer_report
pass "three children (lisecd-front, lisecd-ctl, lisecd-keys); the front has no store descriptor; a host's requests served by its bulk worker at nice 10$sliced; SIGTERM stops all, exit 0"

# ---- SIGKILL to each child in turn --------------------------------------------------
for who in front:lisecd-front controller:lisecd-ctl keys:lisecd-keys; do
  name=${who%%:*} comm=${who#*:}
  start_lisecd "$pki"
  before=$(audit_rows)
  write_records "$name" 5
  acked=$(audit_rows)
  victim=$(child_pid "$LISECD_PID" "$comm")
  [ -n "$victim" ] || fail "no $comm child"
  others=$(children "$LISECD_PID" | awk -v c="$comm" '$2 != c {print $1}')
  kill -KILL "$victim"
  pid=$LISECD_PID
  rc=0
  # A watchdog that holds no output of the test's (ctest waits for its pipe
  # to close) and takes its sleep with it.
  ( sleep 60; kill -KILL "$pid" 2>/dev/null ) >/dev/null 2>&1 &
  watchdog=$!
  wait "$pid" || rc=$?
  pkill -P "$watchdog" 2>/dev/null || true
  kill "$watchdog" 2>/dev/null || true
  LISECD_PID=
  [ "$rc" != 0 ] || { cat "$work/lisecd.log" >&2; fail "lisecd exited 0 after its $name process was killed"; }
  grep -q "lisecd: the $name process exited (signal 9); stopping lisecd" "$work/lisecd.log" ||
    { cat "$work/lisecd.log" >&2; fail "no log line naming the $name process"; }
  # shellcheck disable=SC2086
  wait_gone $others
  no_sanitizer_report
  start_lisecd "$pki"
  check_records "$name" 5
  after=$(audit_rows)
  [ $((after - before)) -ge 5 ] && [ "$after" -ge "$acked" ] ||
    fail "$name killed: 5 acknowledged refusals ($acked rows before the kill), $((after - before)) new rows after the restart"
  stop_lisecd
  pass "SIGKILL to the $name process: lisecd exits $rc naming it, nothing left running, a restart has every acknowledged record"
done

# ---- SIGKILL to the parent ---------------------------------------------------------
start_lisecd "$pki"
kids=$(children "$LISECD_PID" | awk '{print $1}')
[ "$(wc -w <<<"$kids")" = 3 ] || fail "children before killing the parent: $kids"
kill -KILL "$LISECD_PID"
wait "$LISECD_PID" 2>/dev/null || true
LISECD_PID=
# shellcheck disable=SC2086
wait_gone $kids
pass "SIGKILL to lisecd itself: its three children end with it"

# ---- a child that cannot start: exit 2, the reason, nothing left ---------------------
sed -i "s|^url = .*|url = sqlite:$work/no-such-dir/lisec.db|" "$work/lisecd.conf"
rc=0
timeout 60 "$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>"$work/start.log" || rc=$?
[ "$rc" = 2 ] || { cat "$work/start.log" >&2; fail "a controller that cannot open its store: exit $rc"; }
grep -q 'the controller process exited at start' "$work/start.log" || { cat "$work/start.log" >&2; fail "start error not named"; }
pass "a controller that cannot start: lisecd exits 2 naming it"
