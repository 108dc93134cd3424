#!/usr/bin/env bash
# The lisec command's contract, checked with independent tools: the
# development PKI verifies with the openssl command for the purpose each
# certificate is for and shows its role URI; exit codes are 0 ok / 1 refused
# / 2 usage or error; --json prints JSON that python3 parses; and each way a
# connection can fail (closed port, a certificate of another CA, lisecd's
# certificate not from --ca, plain http) is a clear error naming its cause.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"

expect_rc() {
  local want=$1; shift
  set +e
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  set -e
  [ $rc = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "$* exited $rc, expected $want"; }
}
err_has() { grep -q -- "$1" "$work/err" || fail "expected \"$1\" in: $(cat "$work/err")"; }

# --- the development PKI --------------------------------------------------
pki=$work/pki
expect_rc 0 lisec pki init "$pki"
err_has DEVELOPMENT
[ -s "$pki/README-DEVELOPMENT-ONLY.txt" ] || fail "README-DEVELOPMENT-ONLY.txt missing"
roles="operator li-admin hypervisor-admin host mano auditor tenant-example"
for stem in $roles; do
  { [ -s "$pki/$stem.crt" ] && [ -s "$pki/$stem.key" ]; } || fail "$stem.crt/.key missing"
  openssl verify -CAfile "$pki/ca.crt" -purpose sslclient "$pki/$stem.crt" >/dev/null ||
    fail "openssl verify -purpose sslclient $stem.crt"
  if openssl verify -CAfile "$pki/ca.crt" -purpose sslserver "$pki/$stem.crt" >/dev/null 2>&1; then
    fail "$stem.crt passes as a server certificate"
  fi
  role=$stem; [ "$stem" = tenant-example ] && role=tenant:example
  text=$(openssl x509 -in "$pki/$stem.crt" -noout -text)
  grep -q "URI:urn:lisec:role:$role\$" <<<"$text" || fail "$stem.crt: SAN URI for $role missing"
  grep -q "OU *= *$role, CN *= *$stem-dev" <<<"$text" || fail "$stem.crt: subject is not OU=$role, CN=$stem-dev"
  grep -q "TLS Web Client Authentication" <<<"$text" || fail "$stem.crt: no clientAuth"
  [ "$(openssl x509 -in "$pki/$stem.crt" -noout -pubkey | openssl sha256)" = \
    "$(openssl pkey -in "$pki/$stem.key" -pubout | openssl sha256)" ] || fail "$stem.key does not match"
done
openssl verify -CAfile "$pki/ca.crt" -purpose sslserver "$pki/server.crt" >/dev/null || fail "server.crt"
openssl x509 -in "$pki/server.crt" -noout -ext subjectAltName | tr -d ' ' |
  grep -q 'DNS:localhost,IPAddress:127.0.0.1,IPAddress:0:0:0:0:0:0:0:1' || fail "server.crt SAN"
openssl x509 -in "$pki/ca.crt" -noout -text | grep -q 'CA:TRUE, pathlen:0' || fail "CA is not CA:TRUE pathlen:0"
openssl x509 -in "$pki/ca.crt" -noout -text | grep -q 'Certificate Sign' || fail "CA lacks keyCertSign"
openssl x509 -in "$pki/ca.crt" -noout -text | grep -q 'ASN1 OID: prime256v1' || fail "CA key is not P-256"
for key in "$pki"/*.key; do
  [ "$(stat -c %a "$key")" = 600 ] || fail "$key is not 0600"
done
# 90 days by default
end=$(date -d "$(openssl x509 -in "$pki/operator.crt" -noout -enddate | cut -d= -f2)" +%s)
[ $(((end - $(date +%s) + 3600) / 86400)) = 90 ] || fail "operator.crt is not valid for 90 days"
cp "$pki/ca.crt" "$work/ca.before"
expect_rc 2 lisec pki init "$pki"
err_has "not empty"
cmp -s "$pki/ca.crt" "$work/ca.before" || fail "pki init overwrote a PKI without --force"
pass "pki init: every certificate verifies for its purpose, roles in SAN URI and OU, keys 0600, no overwrite"

expect_rc 0 lisec pki init "$work/forced" --days 7
expect_rc 0 lisec pki init "$work/forced" --force
cmp -s "$work/forced/ca.crt" "$pki/ca.crt" && fail "two PKIs share a CA"
expect_rc 0 lisec --json pki init "$work/json-pki"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["development_only"] is True and len(d["roles"]) == 7' \
  "$work/out" || fail "pki init --json"
expect_rc 0 lisec pki issue "$pki" host node-9.example
openssl x509 -in "$pki/node-9-example.crt" -noout -subject | grep -q 'CN *= *node-9.example' || fail "issue: CN"
openssl verify -CAfile "$pki/ca.crt" -purpose sslclient "$pki/node-9-example.crt" >/dev/null || fail "issue: verify"
expect_rc 0 lisec pki issue "$pki" nobody nobody x-1
expect_rc 2 lisec pki issue "$pki" ca host evil
err_has "exists already"
cmp -s "$pki/ca.crt" "$work/ca.before" || fail "pki issue overwrote the CA"
expect_rc 2 lisec pki issue "$pki" 'host,DNS:evil.example' evil
expect_rc 2 lisec pki init "$work/p2" --days 0
pass "pki init --force/--days/--json, pki issue, and its refusals"

# --- usage errors ---------------------------------------------------------
expect_rc 2 lisec frobnicate
err_has 'unknown command "frobnicate"'
expect_rc 2 lisec
expect_rc 0 lisec --help
grep -q 'exit status' "$work/out" || fail "--help does not document the exit status"
expect_rc 0 lisec help pki
expect_rc 2 lisec status --server
expect_rc 2 lisec --role operator status
expect_rc 2 lisec status extra
port=$(free_port)
expect_rc 2 lisec --server "https://localhost:$port" --pki "$pki" --role operator status
err_has 'is lisecd running there'
expect_rc 2 lisec --server "https://localhost:$port" status
err_has 'client certificate is needed'
expect_rc 2 lisec --server "http://localhost:$port" --pki "$pki" --role operator status
err_has 'must be an https:// URL'
expect_rc 2 lisec --server "https://localhost:$port" --pki "$pki" --role nosuch status
err_has 'cannot read the client certificate'
pass "exit code 2 for usage and connection errors, with clear messages"

# --- against a running lisecd ---------------------------------------------
start_lisecd "$pki"
for stem in operator auditor mano host; do
  expect_rc 0 lisec --server "$LISECD_URL" --pki "$pki" --role "$stem" status
  grep -q "role $stem\$" "$work/out" || fail "status as $stem: $(cat "$work/out")"
done
expect_rc 0 lisec --json --server="$LISECD_URL" --pki "$pki" --role operator status
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["you"]["role"]=="operator"' "$work/out" ||
  fail "--json output is not the status JSON"
expect_rc 0 lisec --server "$LISECD_URL" --pki "$pki" --role tenant-example status --json
grep -q '"tenant:example"' "$work/out" || fail "status as tenant:example"
LISEC_SERVER=$LISECD_URL LISEC_CERT=$pki/mano.crt LISEC_KEY=$pki/mano.key LISEC_CA=$pki/ca.crt \
  expect_rc 0 lisec status
grep -q 'role mano' "$work/out" || fail "environment variables not used"
pass "status as several roles, human and --json, options from the environment"

# A role lisecd does not know gets an HTTP answer: refused, exit 1.
expect_rc 1 lisec --server "$LISECD_URL" --pki "$pki" --role nobody status
err_has '403'
err_has 'unknown'
# A certificate of another CA never gets an HTTP answer: exit 2, named.
make_pki "$work/rogue"
expect_rc 2 lisec --server "$LISECD_URL" --pki "$work/rogue" --role operator --ca "$pki/ca.crt" status
err_has 'refused the client certificate'
# The server certificate used as a client certificate: wrong purpose, named.
expect_rc 2 lisec --server "$LISECD_URL" --cert "$pki/server.crt" --key "$pki/server.key" --ca "$pki/ca.crt" status
err_has 'not made for client authentication'
# lisecd checked against the wrong CA.
expect_rc 2 lisec --server "$LISECD_URL" --pki "$pki" --role operator --ca "$work/rogue/ca.crt" status
err_has 'not signed by the CA in'
# A key that is not the certificate's.
expect_rc 2 lisec --server "$LISECD_URL" --cert "$pki/operator.crt" --key "$pki/mano.key" --ca "$pki/ca.crt" status
err_has 'cannot use the client certificate'
pass "unknown role refused (1); another CA, wrong purpose, wrong server CA, wrong key named (2)"
