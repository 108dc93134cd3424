#!/usr/bin/env bash
# lisecd over real TLS: every role reaches /v1/status; no certificate, a
# certificate of another CA, TLS 1.1 and a certificate without a role are
# refused; wrong role 403; unknown route 404; oversized body 413; a store
# that is unreachable at start is exit 2; SIGTERM stops it cleanly.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"

pki=$work/pki
make_pki "$pki"
make_pki "$work/rogue"
start_lisecd "$pki"

for role in operator li-admin hypervisor-admin host mano auditor tenant-example; do
  got=$(as "$role" "$LISECD_URL/v1/status" | python3 -c 'import json,sys;print(json.load(sys.stdin)["you"]["role"])')
  want=$role
  [ "$role" = tenant-example ] && want=tenant:example
  [ "$got" = "$want" ] || fail "role $role: lisecd saw '$got'"
done
pass "every role authenticated by its certificate"

code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$pki/ca.crt" "$LISECD_URL/v1/status" || true)
[ "$code" = 000 ] || fail "no client certificate got HTTP $code"
pass "no client certificate: TLS refused"

code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$pki/ca.crt" --cert "$work/rogue/operator.crt" \
  --key "$work/rogue/operator.key" "$LISECD_URL/v1/status" || true)
[ "$code" = 000 ] || fail "certificate of another CA got HTTP $code"
pass "certificate of another CA: TLS refused"

code=$(as operator -o /dev/null -w '%{http_code}' --tls-max 1.1 "$LISECD_URL/v1/status" 2>/dev/null || true)
[ "$code" = 000 ] || fail "TLS 1.1 got HTTP $code"
proto=$(as operator -o /dev/null -w '%{ssl_verify_result}' -v "$LISECD_URL/healthz" 2>&1 | grep -o 'TLSv1.3' | head -1)
[ "$proto" = TLSv1.3 ] || fail "TLS 1.3 not negotiated"
pass "TLS 1.1 refused, TLS 1.3 negotiated"

# A certificate from the right CA without any role.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=norole" \
  -keyout "$work/norole.key" -out "$work/norole.csr" 2>/dev/null
openssl x509 -req -in "$work/norole.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -days 1 \
  -out "$work/norole.crt" 2>/dev/null
body=$(curl -s -w '\n%{http_code}' --cacert "$pki/ca.crt" --cert "$work/norole.crt" --key "$work/norole.key" \
  "$LISECD_URL/v1/status")
[ "${body##*$'\n'}" = 403 ] || fail "certificate without a role: ${body##*$'\n'}"
echo "$body" | grep -q 'carries no lisec role' || fail "no-role refusal does not say why: $body"
pass "certificate without a role: 403 saying why"

body=$(as mano -w '\n%{http_code}' "$LISECD_URL/metrics")
[ "${body##*$'\n'}" = 403 ] || fail "mano on /metrics: ${body##*$'\n'}"
echo "$body" | grep -q '"admitted roles: operator, auditor"\|admitted roles: operator, auditor' || fail "403 does not name the roles: $body"
as auditor "$LISECD_URL/metrics" | grep -q '^lisec_http_requests_total{method="GET",route="/v1/status",code="2xx"}' ||
  fail "metrics do not count requests"
pass "wrong role 403 naming the admitted roles; metrics in Prometheus format"

[ "$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/nope")" = 404 ] || fail "unknown route"
[ "$(as operator -o /dev/null -w '%{http_code}' -X DELETE "$LISECD_URL/v1/status")" = 405 ] || fail "wrong method"
head -c 2097152 /dev/zero | tr '\0' 'a' >"$work/big.json"
code=$(as operator -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"$work/big.json" "$LISECD_URL/v1/status" || true)
[ "$code" = 413 ] || fail "2 MiB body got $code"
pass "404, 405, 413"

# Keep-alive: many requests on one connection.
n=$(as operator --parallel-max 1 $(for i in $(seq 1 20); do echo "$LISECD_URL/healthz"; done) | grep -c ok)
[ "$n" = 20 ] || fail "keep-alive: $n of 20"
pass "keep-alive"

stop_lisecd
grep -q 'lisecd stopped' "$work/lisecd.log" || fail "no clean stop in the log"
pass "SIGTERM: clean stop"

# An unreachable store at start: exit 2 with a message.
sed -i "s|^url = .*|url = postgresql://lisec@127.0.0.1:1/lisec?connect_timeout=2|" "$work/lisecd.conf"
set +e
"$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>"$work/err.log"
rc=$?
set -e
[ $rc = 2 ] || fail "unreachable store: exit $rc"
grep -q 'cannot open the store' "$work/err.log" || fail "unreachable store: $(cat "$work/err.log")"
echo "[store]" >"$work/typo.conf"; echo "urll = x" >>"$work/typo.conf"
set +e
"$build/cmd/lisecd/lisecd" -c "$work/typo.conf" 2>"$work/err.log"
rc=$?
set -e
[ $rc = 2 ] && grep -q 'unknown setting \[store\] urll' "$work/err.log" || fail "config typo accepted"
pass "unreachable store and misspelt setting: exit 2 with the reason"

# A store that fails during a request: 503 with a JSON error, and lisecd lives on.
pgdir=$(mktemp -d /tmp/lisec-pg-XXXXXX)
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
STORE_URL=$("$src/scripts/test/pg-start" "$pgdir") start_lisecd "$pki"
[ "$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/status")" = 200 ] || fail "status on PostgreSQL"
"$src/scripts/test/pg-stop" "$pgdir"
body=$(as operator -w '\n%{http_code}' "$LISECD_URL/v1/status")
[ "${body##*$'\n'}" = 503 ] && echo "$body" | grep -q '"code":"store_error"\|"code":"unavailable"' ||
  fail "store down during a request: $body"
[ "$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/healthz")" = 503 ] || fail "healthz with the store down"
kill -0 "$LISECD_PID" || fail "lisecd died when the store went away"
pass "store failing during requests: 503 with a JSON error, lisecd still serving"
