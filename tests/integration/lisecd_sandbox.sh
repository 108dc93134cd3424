#!/usr/bin/env bash
# lisecd's per-process sandbox (issue 16, cmd/lisecd/sandbox.c). First each
# role's sandbox on its own, through sandbox_check (which enters it exactly
# as lisecd's processes do and then makes one call): the front cannot open
# the database or the token's files, create a socket, fork or map code, and
# dies on execve/ptrace/process_vm_readv; the controller opens and writes
# the database and connects out, but cannot mount, load BPF or exec; the
# keys process logs into a real SoftHSM2 token but has no network; the parent
# waits, signals and reads files (never writes one); with [security] sandbox = off the same opens work
# (so the refusals come from the filter, not from file permissions). Then a
# real lisecd: each child runs with no_new_privs and a seccomp filter
# (/proc/PID/status), the front's probe (a test build hook) cannot open the
# database or the token, and the controller's can.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
check=$build/tests/integration/sandbox_check
[ -x "$check" ] || fail "sandbox_check is not built ($check)"
asan=false
grep -q '^LISEC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && asan=true

eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/pin"
db=$work/lisec.db
sqlite3 "$db" 'CREATE TABLE t(x); INSERT INTO t VALUES (1);' || fail "cannot make a database"
token_file=$(find "$work/hsm/tokens" -type f -name '*.object' | head -1)
[ -n "$token_file" ] || fail "SoftHSM2 made no token file"

# expect WHAT WANT ROLE CHECK [ARG...]: WANT is a regex over the printed
# result, or "killed" for death by SIGSYS.
expect() {
  local what=$1 want=$2
  shift 2
  local out rc=0
  out=$("$check" "$@" 2>"$work/check.err") || rc=$?
  if [ "$want" = killed ]; then
    [ "$rc" -eq $((128 + 31)) ] || { cat "$work/check.err" >&2; fail "$what: expected death by SIGSYS, got exit $rc ($out)"; }
  else
    [ "$rc" -eq 0 ] && [[ "$out" =~ ^($want)$ ]] || { cat "$work/check.err" >&2; fail "$what: expected $want, got '$out' (exit $rc)"; }
  fi
}
denied='EACCES|EPERM'

# --- the front
expect "front opens the database" "$denied" front open "$db"
expect "front opens the database read-write (openat)" "$denied" front openat "$db"
expect "front opens a token file" "$denied" front open "$token_file"
expect "front opens the token directory's configuration" "$denied" front open "$SOFTHSM2_CONF"
expect "front creates a socket" EPERM front socket inet
expect "front forks" EPERM front fork
expect "front maps executable memory" EPERM front mmapexec
expect "front signals a process" EPERM front kill
expect "front uses a socket it held before" ok front pair
expect "front starts a thread" ok front thread
expect "front sets its own thread's scheduling slice" ok front slice
expect "front sets another process's scheduling slice" EPERM front sliceother
if $asan; then
  expect "front execs (sanitized build: refused, for the symbolizer's sake)" EPERM front exec
else
  expect "front execs" killed front exec
  expect "front calls ptrace" killed front ptrace
fi
expect "front reads another process's memory" killed front vmread
pass "front: no file, no new socket, no fork, no code, no other process's scheduling; process_vm_readv (and, unsanitized, execve and ptrace) kill it; its sockets, threads and their own slices work"

# --- the controller
expect "controller opens and writes the database (SQLite, WAL)" ok controller sqlite "$db"
port=$(free_port)
expect "controller connects out (nothing listens: refused by the peer, not the filter)" ECONNREFUSED controller connect "$port"
expect "controller creates a TCP socket" ok controller socket inet
expect "controller creates a packet socket" EPERM controller socket packet
expect "controller forks without a quarantine command" EPERM controller fork
expect "controller mounts" EPERM controller mount
expect "controller loads BPF" EPERM controller bpf
expect "controller uses the kernel keyring" EPERM controller keyctl
expect "controller starts a thread" ok controller thread
expect "controller sets its own thread's scheduling slice" ok controller slice
expect "controller sets another process's scheduling slice" EPERM controller sliceother
$asan || expect "controller execs" killed controller exec
expect "controller with a quarantine command starts it" ok --spawn controller spawn
pass "controller: database, client sockets, threads and their own slices; no other process's scheduling, no mount, BPF, keyring, fork or exec (a quarantine command allows spawning)"

# --- the keys process
expect "keys logs into the token and uses it (SoftHSM2)" ok keys pkcs11 "$LISEC_P11_MODULE" 4321
expect "keys creates a TCP socket" EPERM keys socket inet
expect "keys creates a UNIX socket" EPERM keys socket unix
expect "keys uses its socketpair" ok keys pair
$asan || expect "keys execs" killed keys exec
pass "keys: the token works, no network, no exec"

# --- the parent
expect "parent opens a file to read it ([tls] files on SIGHUP)" ok parent open "$db"
expect "parent opens a file read-write (openat)" EPERM parent openat "$db"
expect "parent creates a socket" EPERM parent socket inet
expect "parent signals" ok parent kill
$asan || expect "parent execs" killed parent exec
pass "parent: waits, signals and reads files; never writes one, no socket, no exec"

# --- the same opens with the sandbox off: the refusals above are the filter's
expect "front with sandbox = off opens the database" ok --off front open "$db"
expect "front with sandbox = off opens a token file" ok --off front open "$token_file"
pass "with [security] sandbox = off the front opens them: the refusals come from the filter"

if $asan; then
  # The leak checker must run to its end inside every sandbox: a real leak
  # is found and reported (a sandbox that broke it would hide leaks).
  for role in parent front controller keys; do
    rc=0
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23 "$check" "$role" leaked >/dev/null 2>"$work/leak.err" || rc=$?
    [ "$rc" -eq 23 ] && grep -q 'detected memory leaks' "$work/leak.err" ||
      { cat "$work/leak.err" >&2; fail "$role: LeakSanitizer did not run inside the sandbox (exit $rc)"; }
  done
  pass "AddressSanitizer's leak check works inside every sandbox"
fi

# --- a real lisecd
if ! grep -q '^LISEC_TEST_HOOKS:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "skip: lisecd's probe needs a build with -DLISEC_TEST_HOOKS=ON (the Makefile's builds have it)"
  exit 0
fi
pki=$work/pki
make_pki "$pki"
export LISEC_TEST_SANDBOX_PROBE="$db:$token_file:@socket"
start_lisecd "$pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/pin" \
  "key_label = lisec-kek"
unset LISEC_TEST_SANDBOX_PROBE
# child_pid NAME: the pid of lisecd's child called NAME, or nothing.
child_pid() {
  local p
  for p in $(pgrep -P "$LISECD_PID" 2>/dev/null); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] && echo "$p" && return 0
  done
  return 0
}
front=$(child_pid lisecd-front)
if [ -z "$front" ]; then
  echo "skip: lisecd runs as one process (no lisecd-front child); the processes of issue 16 have not landed"
  exit 0
fi
for name in lisecd-front lisecd-ctl lisecd-keys; do
  p=$(child_pid "$name")
  [ -n "$p" ] || fail "lisecd has no $name child"
  grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$p/status" || fail "$name runs without no_new_privs"
  grep -q '^Seccomp:[[:space:]]*2' "/proc/$p/status" || fail "$name runs without a seccomp filter"
done
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$LISECD_PID/status" && grep -q '^Seccomp:[[:space:]]*2' "/proc/$LISECD_PID/status" ||
  fail "the parent lisecd runs without no_new_privs or a seccomp filter"
pass "lisecd and its lisecd-front, lisecd-ctl and lisecd-keys run with no_new_privs and a seccomp filter"

# wait_log REGEX WHAT: the log line appears within 10 s.
wait_log() {
  for _ in $(seq 1 100); do
    grep -Eq "$1" "$work/lisecd.log" && return 0
    sleep 0.1
  done
  cat "$work/lisecd.log" >&2
  fail "$2"
}
q() { sed 's/[].[^$*+?(){}|\\/]/\\&/g' <<<"$1"; }
wait_log "sandbox probe \(front\): $(q "$db") -> (EACCES|EPERM)" "the front's probe opened the database"
wait_log "sandbox probe \(front\): $(q "$token_file") -> (EACCES|EPERM)" "the front's probe opened the token file"
wait_log "sandbox probe \(front\): @socket -> EPERM" "the front's probe made a socket"
wait_log "sandbox probe \(controller\): $(q "$db") -> ok" "the controller's probe cannot open the database"
wait_log "sandbox probe \(keys\): $(q "$token_file") -> ok" "the keys process's probe cannot open the token file"
wait_log "sandbox probe \(keys\): @socket -> EPERM" "the keys process's probe made a socket"
pass "in a running lisecd the front cannot open the database or the token; the controller and keys open theirs"
if [ "$(id -u)" -eq 0 ] && ! $asan; then
  [ -z "$(ls -A "/proc/$front/root/" 2>/dev/null)" ] || fail "the front's root directory is not empty"
  pass "the front (run as root) sees an empty root directory"
fi
# The front still serves.
[ "$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/healthz")" = 200 ] || fail "/healthz through the sandboxed front"
pass "the sandboxed lisecd answers"
