#!/usr/bin/env bash
# The lisec command's contract: the development PKI verifies with the openssl
# command, exit codes are 0 ok / 1 refused / 2 usage or error, --json prints
# JSON, and an unreachable server is a clear error.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"

pki=$work/pki
lisec pki init "$pki" >/dev/null 2>"$work/pki.err"
grep -q DEVELOPMENT "$work/pki.err" || fail "pki init does not warn that it is for development"
for crt in "$pki"/*.crt; do
  openssl verify -CAfile "$pki/ca.crt" "$crt" >/dev/null || fail "openssl verify $crt"
done
openssl x509 -in "$pki/li-admin.crt" -noout -text | grep -q 'URI:urn:lisec:role:li-admin' || fail "SAN URI missing"
[ "$(stat -c %a "$pki/ca.key")" = 600 ] || fail "ca.key is not 0600"
set +e
lisec pki init "$pki" >/dev/null 2>&1; rc=$?
set -e
[ $rc = 2 ] || fail "pki init over an existing PKI: exit $rc"
pass "pki init: verifiable certificates, private keys, no overwrite"

expect_rc() {
  local want=$1; shift
  set +e
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  set -e
  [ $rc = "$want" ] || { cat "$work/err" >&2; fail "$* exited $rc, expected $want"; }
}
expect_rc 2 lisec frobnicate
grep -q 'unknown command "frobnicate"' "$work/err" || fail "unknown command message"
expect_rc 2 lisec
expect_rc 0 lisec --help
port=$(free_port)
expect_rc 2 lisec --server "https://localhost:$port" --pki "$pki" --role operator status
grep -q 'is lisecd running there' "$work/err" || fail "closed port message: $(cat "$work/err")"
expect_rc 2 lisec --server "https://localhost:$port" status
grep -q 'client certificate is needed' "$work/err" || fail "missing certificate message"
pass "exit code 2 for usage and connection errors, with clear messages"

start_lisecd "$pki"
expect_rc 0 lisec --server "$LISECD_URL" --pki "$pki" --role auditor status
grep -q 'role auditor' "$work/out" || fail "human status output"
expect_rc 0 lisec --json --server "$LISECD_URL" --pki "$pki" --role operator status
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["you"]["role"]=="operator"' "$work/out" ||
  fail "--json output is not the status JSON"
LISEC_SERVER=$LISECD_URL LISEC_CERT=$pki/mano.crt LISEC_KEY=$pki/mano.key LISEC_CA=$pki/ca.crt \
  expect_rc 0 lisec status
grep -q 'role mano' "$work/out" || fail "environment variables not used"
pass "status as several roles, human and --json, options from the environment"
