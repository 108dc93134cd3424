# Helpers for integration scripts (sourced): a temporary directory cleaned on
# exit, free loopback ports, a development PKI, and a lisecd started on
# SQLite (or the store URL in $STORE_URL) and stopped with SIGTERM on exit.
# Callers set `build` and `src` first.
set -euo pipefail

# test_tmp: where the scripts' temporary directories go. A RAM file system
# (/dev/shm) where the machine has one that runs programs (not noexec) with
# 2 GiB free: the tests make thousands of durable writes (SQLite and
# PostgreSQL commits, audit records, SoftHSM2 tokens, PKI files), each an
# fsync of 50-150 ms on a busy disk and none on tmpfs, and no test checks
# what a power cut would leave. Otherwise $TMPDIR or /tmp; LISEC_TEST_TMP
# chooses.
test_tmp() {
  if [ -n "${LISEC_TEST_TMP:-}" ]; then echo "$LISEC_TEST_TMP"; return; fi
  if [ -d /dev/shm ] && [ -w /dev/shm ] &&
    ! findmnt -n -o OPTIONS --target /dev/shm 2>/dev/null | tr , '\n' | grep -qx noexec &&
    [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -ge 2097152 ] 2>/dev/null; then
    echo /dev/shm
  else
    echo "${TMPDIR:-/tmp}"
  fi
}
tmp_base=$(test_tmp)
# The PostgreSQL clusters of scripts/test/pg-start are the test's alone and
# gone after it: no fsync (what that keeps is said there).
export LISEC_PG_THROWAWAY=1
work=$(mktemp -d "$tmp_base/lisec-it-XXXXXX")
cleanup_hooks=()
on_exit() {
  local rc=$?
  for ((i = ${#cleanup_hooks[@]} - 1; i >= 0; i--)); do eval "${cleanup_hooks[$i]}" || true; done
  rm -rf "$work"
  exit $rc
}
trap on_exit EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# python3 is the system's (scripts/bootstrap installs it with the modules the
# scripts import: python3-yaml, python3-jsonschema, python3-nova), also for
# the scripts' children. A version manager's shim first in PATH (pyenv) runs
# a shell script and a larger site before every call: 0.3-0.5 s instead of
# 0.05 s, and the tests call python3 hundreds of times.
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
  mkdir "$work/.python"
  ln -s /usr/bin/python3 "$work/.python/python3"
  PATH=$work/.python:$PATH
fi

# psql, pg_ctl and the other PostgreSQL clients from their own directory
# (LISEC_PG_BIN, as scripts/test/pg-start): Debian's /usr/bin/psql is a Perl
# wrapper that picks a cluster first, ~60 ms of CPU a call more, and the tests
# call psql a few hundred times.
pg_bin=${LISEC_PG_BIN:-/usr/lib/postgresql/15/bin}
if [ -x "$pg_bin/psql" ]; then PATH=$pg_bin:$PATH; fi

# release_only WHY: skips (77) in the sanitizer build, saying WHY there is
# enough: a test of behaviour (a scan, a flood, a third-party cross-check, a
# second store) whose code paths the sanitizer build already runs in the
# tests WHY names. One run per make check keeps it within its 20 minutes.
release_only() {
  if grep -qs '^LISEC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
    echo "SKIP: runs in the release build; under the sanitizer: $1"
    exit 77
  fi
}
pass() { echo "ok: $*"; }

# wait_port PORT: until something listens on 127.0.0.1:PORT (5 s at most).
wait_port() { for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; fail "nothing listens on $1"; }

# The small Python helpers here need only the standard library: -S skips
# the site hooks (every .pth of dist-packages, some importing modules of
# their own), about half of a start's CPU (11 -> 5 ms), and a suite starts
# some hundreds of them.
free_port() { "$src/scripts/test/free-ports" 1; }

lisec() { "$build/cmd/lisec/lisec" "$@"; }

# make_pki DIR: the development PKI of `lisec pki init`.
make_pki() { lisec pki init "$1" >/dev/null 2>&1 || fail "lisec pki init $1"; }

# flip_byte FILE OFFSET: changes the byte at OFFSET (one bit), so the file
# surely differs; writing a fixed byte leaves it as it was when that byte
# happens to be there already.
flip_byte() {
  python3 -S -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1)
f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 1]))' "$1" "$2" || fail "cannot change byte $2 of $1"
}

# make_li_admin_key PREFIX: the LI administration's X25519 key pair, the
# private key in PREFIX.x25519 (PEM) and the public key in PREFIX.pub (raw,
# base64), the form [audit] li_admin_key reads.
make_li_admin_key() {
  openssl genpkey -algorithm X25519 -out "$1.x25519" 2>/dev/null || fail "openssl cannot make an X25519 key"
  openssl pkey -in "$1.x25519" -pubout -outform DER | tail -c 32 | base64 >"$1.pub"
}

# softhsm_eddsa_token LABEL PIN: a SoftHSM2 token LABEL in $work/hsm
# (scripts/test/softhsm-start: SOFTHSM2_CONF, LISEC_P11_MODULE) for an
# Ed25519 key. Sanitizer builds: SoftHSM2 2.6 leaks the ASN.1 it decodes
# for EdDSA keys (OpenSSL d2i inside libsofthsm2). Full stacks let
# LeakSanitizer tell that apart from lisec's own allocations, which stay
# checked.
softhsm_eddsa_token() {
  eval "$("$src/scripts/test/softhsm-start" "$work/hsm" "$1" "$2")"
  printf 'leak:ASN1_item_d2i_ex\n' >"$work/lsan.supp"
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0
  export LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$work/lsan.supp
}

# start_lisecd PKI_DIR [extra config lines...]: sets LISECD_PORT, LISECD_PID, LISECD_URL.
# The words in the caller's array lisecd_env, if any, go before lisecd's
# command (env LD_PRELOAD=... for a clock shim: lisecd's alone, not the
# helpers' the function runs).
lisecd_env=()
lisecd_stores=() # the stores start_lisecd has started on
start_lisecd() {
  local pki=$1
  shift
  LISECD_PORT=$(free_port)
  LISECD_URL="https://localhost:$LISECD_PORT"
  # A store this test has not started on before (a SQLite file not made
  # yet, or a PostgreSQL the test just made) is a new log under the test's
  # one development key: to the key's witness (keys/witness.h) a fork, which
  # it refuses and records at a time of its own. An operator resets the
  # witness for a new log (lisec audit witness-reset, tested by audit_backup
  # and li_api); for the development key that removes this file.
  local store=${STORE_URL:-sqlite:$work/lisec.db}
  if [[ " ${lisecd_stores[*]} " != *" $store "* ]]; then
    [[ $store == sqlite:* && -e ${store#sqlite:} ]] || rm -f "$work/audit-dev.pem.witness"
    lisecd_stores+=("$store")
  fi
  cat >"$work/lisecd.conf" <<CONF
[server]
listen = 127.0.0.1:$LISECD_PORT
workers = 2
[tls]
cert = $pki/server.crt
key = $pki/server.key
client_ca = $pki/ca.crt
[store]
url = $store
[log]
level = info
[audit]
origin = lisec-test/audit
development_key_file = $work/audit-dev.pem
allow_development_key = true
checkpoint_ms = 500
CONF
  for line in "$@"; do echo "$line" >>"$work/lisecd.conf"; done
  "${lisecd_env[@]}" "$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>"$work/lisecd.log" &
  LISECD_PID=$!
  cleanup_hooks+=("stop_lisecd")
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null --cacert "$pki/ca.crt" --cert "$pki/operator.crt" --key "$pki/operator.key" \
      "$LISECD_URL/healthz"; then return 0; fi
    kill -0 "$LISECD_PID" 2>/dev/null || { cat "$work/lisecd.log" >&2; fail "lisecd exited at start"; }
    sleep 0.1
  done
  cat "$work/lisecd.log" >&2
  fail "lisecd did not answer /healthz"
}

stop_lisecd() {
  [ -n "${LISECD_PID:-}" ] || return 0
  kill -TERM "$LISECD_PID" 2>/dev/null || true
  wait "$LISECD_PID" 2>/dev/null || true
  LISECD_PID=
}

# stop_clean: stops lisecd and fails on a sanitizer report in its log (ASan builds).
stop_clean() {
  stop_lisecd
  ! grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:' "$work/lisecd.log" ||
    { cat "$work/lisecd.log" >&2; fail "sanitizer report in lisecd's log"; }
}

# refuses_setting 'KEY = VALUE' [DROP]: lisecd refuses [server] KEY = VALUE
# in the last start's $work/lisecd.conf, less its lines that match ^DROP
# (default: KEY): --check-config and the start both exit 2 naming
# [server] KEY.
refuses_setting() {
  local bad=$1 key=${1%% =*} rc_check=0 rc_start=0
  { grep -v "^${2:-$key}" "$work/lisecd.conf"; printf '[server]\n%s\n' "$bad"; } >"$work/bad.conf"
  "$build/cmd/lisecd/lisecd" -c "$work/bad.conf" --check-config >/dev/null 2>"$work/bad.err" || rc_check=$?
  timeout 30 "$build/cmd/lisecd/lisecd" -c "$work/bad.conf" 2>"$work/bad.log" || rc_start=$?
  [ $rc_check = 2 ] && grep -q "\[server\] $key" "$work/bad.err" ||
    fail "$bad: --check-config exit $rc_check: $(cat "$work/bad.err")"
  [ $rc_start = 2 ] && grep -q "\[server\] $key" "$work/bad.log" ||
    fail "$bad: lisecd started (exit $rc_start): $(cat "$work/bad.log")"
}

# as ROLE curl-args...: curl with the development PKI's certificate of ROLE.
as() {
  local role=$1
  shift
  curl -sS --cacert "$pki/ca.crt" --cert "$pki/$role.crt" --key "$pki/$role.key" "$@"
}
