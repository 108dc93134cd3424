#!/usr/bin/env bash
# lisecd over real TLS, driven by curl: every role reaches /v1/status; no
# certificate, a certificate of another CA, TLS 1.1 and weak TLS 1.2 suites
# fail the handshake; a certificate without a role gets 403; a role a route
# does not admit gets 403 naming the admitted ones; 404, 405, 413 (declared
# and chunked bodies); keep-alive; roles from the OU; metrics; SIGTERM ends
# it promptly with exit 0; an unreachable store at start is exit 2 with the
# reason; a store failing during requests is 503 and lisecd serves on.
# The request pipeline's 400/413/403/404/405 cases are unit-tested in
# tests/unit/test_api.c.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/pki.sh"

pki=$work/pki
make_pki "$pki"
make_pki_openssl "$work/rogue"
# The LI administration's X25519 public key (raw, base64), made by openssl:
# refused attempts on LI routes are recorded sealed to it.
make_li_admin_key "$work/li"
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li.pub"

# code CURL-ARGS...: the HTTP status, or 000 when TLS failed.
code() { curl -s -o /dev/null -w '%{http_code}' "$@" || true; }
# last_line TEXT: the status that curl -w '\n%{http_code}' put on the last line.
last_line() { printf '%s' "${1##*$'\n'}"; }
# stop_checked: SIGTERM, then exit 0 within 5 s, a clean stop in the log and
# no sanitizer report; sets stop_ms.
stop_checked() {
  local pid=$LISECD_PID rc t0
  t0=$(date +%s%N)
  kill -TERM "$pid"
  set +e
  wait "$pid"
  rc=$?
  set -e
  LISECD_PID=
  stop_ms=$((($(date +%s%N) - t0) / 1000000))
  [ $rc = 0 ] || { cat "$work/lisecd.log" >&2; fail "SIGTERM: exit $rc"; }
  [ $stop_ms -lt 5000 ] || fail "SIGTERM: took $stop_ms ms"
  grep -q 'lisecd stopped' "$work/lisecd.log" || fail "no clean stop in the log"
  ! grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:' "$work/lisecd.log" || fail "sanitizer report in the log"
}

for role in "${pki_roles[@]}"; do
  got=$(as "$role" "$LISECD_URL/v1/status" | python3 -c 'import json,sys;print(json.load(sys.stdin)["you"]["role"])')
  [ "$got" = "$(role_of "$role")" ] || fail "role $role: lisecd saw '$got'"
done
as operator "$LISECD_URL/v1/status" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["store"]["backend"] == "sqlite" and s["store"]["schema_version"] >= 1, s
assert isinstance(s["uptime_seconds"], int) and s["version"], s' || fail "status lacks version, store or uptime"
pass "every role authenticated by its certificate; status names version, store and uptime"

[ "$(code --cacert "$pki/ca.crt" "$LISECD_URL/v1/status")" = 000 ] || fail "no client certificate was served"
pass "no client certificate: handshake refused"

[ "$(code --cacert "$pki/ca.crt" --cert "$work/rogue/operator.crt" --key "$work/rogue/operator.key" \
  "$LISECD_URL/v1/status")" = 000 ] || fail "a certificate of another CA was served"
pass "certificate of another CA (with a valid role): handshake refused"

[ "$(as operator -o /dev/null -w '%{http_code}' --tls-max 1.1 "$LISECD_URL/v1/status" 2>/dev/null || true)" = 000 ] ||
  fail "TLS 1.1 was served"
[ "$(as operator -o /dev/null -w '%{http_code}' --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-SHA \
  "$LISECD_URL/v1/status" 2>/dev/null || true)" = 000 ] || fail "TLS 1.2 with a CBC suite was served"
[ "$(as operator -o /dev/null -w '%{http_code}' --tls-max 1.2 "$LISECD_URL/v1/status")" = 200 ] ||
  fail "TLS 1.2 with an AEAD suite refused"
as operator -o /dev/null -v "$LISECD_URL/healthz" 2>&1 | grep -q 'SSL connection using TLSv1.3' ||
  fail "TLS 1.3 not negotiated by default"
pass "TLS 1.1 and CBC suites refused; TLS 1.2 AEAD accepted; TLS 1.3 preferred"

# A certificate from the right CA without any role.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=norole" \
  -keyout "$work/norole.key" -out "$work/norole.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$work/client.ext"
openssl x509 -req -in "$work/norole.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -days 1 \
  -extfile "$work/client.ext" -out "$work/norole.crt" 2>/dev/null
body=$(curl -s -w '\n%{http_code}' --cacert "$pki/ca.crt" --cert "$work/norole.crt" --key "$work/norole.key" \
  "$LISECD_URL/v1/status")
[ "$(last_line "$body")" = 403 ] || fail "certificate without a role: $(last_line "$body")"
grep -q '"code":"forbidden".*carries no lisec role' <<<"$body" || fail "no-role refusal does not say why: $body"
pass "certificate without a role: 403 saying why"

body=$(as mano -w '\n%{http_code}' "$LISECD_URL/metrics")
[ "$(last_line "$body")" = 403 ] || fail "mano on /metrics: $(last_line "$body")"
grep -q '"message":"role mano may not GET /metrics; admitted roles: operator, li-admin, auditor, metrics"' <<<"$body" ||
  fail "403 does not name the roles: $body"
body=$(as auditor -w '\n%{http_code}' "$LISECD_URL/v1/targets")
[ "$(last_line "$body")" = 403 ] || fail "auditor on /v1/targets: $(last_line "$body")"
grep -q '"code":"forbidden".*admitted roles: li-admin' <<<"$body" || fail "auditor 403 does not name the roles: $body"
pass "wrong role: 403 JSON naming the admitted roles (mano on /metrics, auditor on /v1/targets)"

body=$(as operator -w '\n%{http_code}' "$LISECD_URL/v1/nope")
[ "$(last_line "$body")" = 404 ] && grep -q '"code":"not_found"' <<<"$body" || fail "unknown route: $body"
body=$(as operator -w '\n%{http_code}' -X DELETE "$LISECD_URL/v1/status")
[ "$(last_line "$body")" = 405 ] && grep -q '"code":"method_not_allowed"' <<<"$body" || fail "wrong method: $body"
head -c 2097152 /dev/zero | tr '\0' 'a' >"$work/big.json"
body=$(as operator -w '\n%{http_code}' -H 'Content-Type: application/json' --data-binary @"$work/big.json" \
  "$LISECD_URL/v1/status" || true)
[ "$(last_line "$body")" = 413 ] && grep -q '"code":"too_large"' <<<"$body" || fail "2 MiB body: $(last_line "$body")"
# A chunked body is refused once it passes the limit, while the client is
# still sending; lisecd answers 413 and closes without reading the rest, so
# the kernel may reset the connection before curl reads the answer. What
# must hold either way: the refusal was a 413 (counted in the metrics) and
# the request never reached its route.
t413() { as auditor "$LISECD_URL/metrics" | awk '$1 ~ /code="413"/ {s += $2} END {print s + 0}'; }
before=$(t413)
body=$(as operator -w '\n%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$work/big.json" \
  "$LISECD_URL/v1/status" 2>/dev/null || true)
code=$(last_line "$body")
[ "$code" = 413 ] || [ "$code" = 100 ] || [ "$code" = 000 ] || fail "2 MiB chunked body: $code"
[ "$(t413)" -eq $((before + 1)) ] || fail "2 MiB chunked body: no 413 counted (client saw $code)"
pass "404, 405, 413 (Content-Length and chunked) as JSON errors"

# Keep-alive: 20 requests in one curl run, over one connection.
conns=$(as operator -o /dev/null -w '%{num_connects}\n' $(for _ in $(seq 1 20); do echo "$LISECD_URL/healthz"; done) |
  awk '{s += $1} END {print s}')
[ "$conns" = 1 ] || fail "keep-alive: 20 requests took $conns connections"
pass "keep-alive: 20 requests on one connection"

metrics=$(as auditor "$LISECD_URL/metrics")
grep -q '^lisec_http_requests_total{method="GET",route="/v1/status",code="200"} [1-9]' <<<"$metrics" ||
  fail "metrics do not count requests by route and status"
grep -q '^lisec_http_requests_total{method="GET",route="/metrics",code="403"} 1$' <<<"$metrics" ||
  fail "metrics do not count the 403"
grep -q '^lisec_tls_handshakes_total{result="failed"} [1-9]' <<<"$metrics" || fail "failed handshakes not counted"
grep -q '^lisec_tls_handshakes_total{result="ok"} [1-9]' <<<"$metrics" || fail "handshakes not counted"
grep -q '^lisec_http_request_duration_seconds_bucket{le="+Inf"} [1-9]' <<<"$metrics" || fail "no latency histogram"
grep -q '^lisec_uptime_seconds [0-9]' <<<"$metrics" || fail "no uptime"
pass "metrics: requests by route and status, handshakes, latency histogram, uptime"

# SIGTERM: prompt exit 0 with a clean stop logged.
stop_checked
pass "SIGTERM: exit 0 after $stop_ms ms, stop logged"

# Roles from the subject OU: a certificate with the OU and no role URI.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/OU=auditor/CN=ou-only" \
  -keyout "$work/ou.key" -out "$work/ou.csr" 2>/dev/null
openssl x509 -req -in "$work/ou.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -days 1 -extfile "$work/client.ext" \
  -out "$work/ou.crt" 2>/dev/null
start_lisecd "$pki" "[api]" "role_source = ou"
role=$(curl -s --cacert "$pki/ca.crt" --cert "$work/ou.crt" --key "$work/ou.key" "$LISECD_URL/v1/status" |
  python3 -c 'import json,sys;print(json.load(sys.stdin)["you"]["role"])')
[ "$role" = auditor ] || fail "role_source = ou: got '$role'"
[ "$(code --cacert "$pki/ca.crt" --cert "$work/norole.crt" --key "$work/norole.key" "$LISECD_URL/v1/status")" = 403 ] ||
  fail "role_source = ou: a certificate without an OU was admitted"
stop_checked
pass "role_source = ou reads the subject OU"

# Options and start errors.
"$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" --check-config --foreground >"$work/out.log" 2>&1 ||
  fail "--check-config: $(cat "$work/out.log")"
grep -q 'is valid, TLS files load and the store is reachable' "$work/out.log" || fail "--check-config said: $(cat "$work/out.log")"
cp "$work/lisecd.conf" "$work/badkey.conf"
sed -i "s|^key = .*|key = $work/rogue/server.key|" "$work/badkey.conf"
set +e
"$build/cmd/lisecd/lisecd" -c "$work/badkey.conf" --check-config >/dev/null 2>"$work/err.log"
rc=$?
set -e
[ $rc = 2 ] && grep -q 'does not match' "$work/err.log" || fail "--check-config passed a key of another certificate: $(cat "$work/err.log")"
set +e
"$build/cmd/lisecd/lisecd" --bogus 2>/dev/null; rc_opt=$?
"$build/cmd/lisecd/lisecd" 2>/dev/null; rc_noconf=$?
set -e
[ $rc_opt = 2 ] && [ $rc_noconf = 2 ] || fail "usage errors: exit $rc_opt and $rc_noconf"
sed -i "s|^url = .*|url = postgresql://lisec@127.0.0.1:1/lisec?connect_timeout=2|" "$work/lisecd.conf"
set +e
"$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>"$work/err.log"
rc=$?
set -e
[ $rc = 2 ] || fail "unreachable store: exit $rc"
grep -q 'cannot open the store (\[store\] url)' "$work/err.log" || fail "unreachable store: $(cat "$work/err.log")"
printf '[store]\nurll = x\n' >"$work/typo.conf"
set +e
"$build/cmd/lisecd/lisecd" -c "$work/typo.conf" 2>"$work/err.log"
rc=$?
set -e
[ $rc = 2 ] && grep -q 'unknown setting \[store\] urll' "$work/err.log" || fail "config typo accepted"
pass "--check-config (and a mismatched TLS key), usage errors, unreachable store and misspelt setting: exit 2 with the reason"

# A store that fails during a request: 503 with a JSON error, and lisecd lives on.
pgdir=$(mktemp -d "$tmp_base/lisec-pg-XXXXXX")
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
STORE_URL=$("$src/scripts/test/pg-start" "$pgdir") start_lisecd "$pki"
[ "$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/status")" = 200 ] || fail "status on PostgreSQL"
"$src/scripts/test/pg-stop" "$pgdir"
body=$(as operator -w '\n%{http_code}' "$LISECD_URL/v1/status")
[ "$(last_line "$body")" = 503 ] && grep -q '"code":"store_error"\|"code":"unavailable"' <<<"$body" ||
  fail "store down during a request: $body"
[ "$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/healthz")" = 503 ] || fail "healthz with the store down"
kill -0 "$LISECD_PID" || fail "lisecd died when the store went away"
pass "store failing during requests: 503 with a JSON error, lisecd still serving"
