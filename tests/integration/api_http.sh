#!/usr/bin/env bash
# lisecd's transport against what an outside tester found (issue 14): a
# client certificate without the clientAuth extended key usage is refused
# while the development PKI's and `lisec pki issue`'s certificates work; a
# certificate whose OU and SAN URI name different roles is refused in both
# role_source modes; two Content-Length headers (or one beside
# Transfer-Encoding) get 400 and the connection is closed, so the bytes after
# are never read as a request; HEAD gets no body; /metrics shows per-route
# counts of LI routes to li-admin only. Raw requests go over TLS with
# api_client.py (Python's ssl module), certificates are made with openssl.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/pki.sh"

pki=$work/pki
make_pki "$pki"
make_li_admin_key "$work/li"
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li.pub"
client() { python3 "$src/tests/integration/api_client.py" "$@"; }
last_line() { printf '%s' "${1##*$'\n'}"; }

# cert NAME SUBJECT EXTENSIONS: a client certificate from the development CA, made by openssl.
cert() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
    -keyout "$work/$1.key" -out "$work/$1.csr" 2>/dev/null || fail "openssl req $1"
  printf '%b\n' "$3" >"$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -days 1 -sha256 \
    -extfile "$work/$1.ext" -out "$work/$1.crt" 2>/dev/null || fail "openssl x509 $1"
}
# with NAME curl-args...: curl with the certificate NAME made above.
with() {
  local name=$1
  shift
  curl -sS --cacert "$pki/ca.crt" --cert "$work/$name.crt" --key "$work/$name.key" "$@"
}

# ---- extended key usage ---------------------------------------------------
cert noeku "/O=t/CN=noeku" "subjectAltName=URI:urn:lisec:role:operator"
cert server-eku "/O=t/CN=server-eku" "subjectAltName=URI:urn:lisec:role:operator\nextendedKeyUsage=serverAuth"
cert client-eku "/O=t/CN=client-eku" "subjectAltName=URI:urn:lisec:role:operator\nextendedKeyUsage=serverAuth,clientAuth"
body=$(with noeku -w '\n%{http_code}' "$LISECD_URL/v1/status")
[ "$(last_line "$body")" = 403 ] || fail "certificate without EKU: $(last_line "$body")"
grep -q 'no extended key usage; clientAuth is required' <<<"$body" || fail "no-EKU refusal does not say why: $body"
# OpenSSL's own check of a TLS client's chain already refuses an EKU without
# clientAuth in the handshake; lisecd refuses it too should it get through.
body=$(with server-eku -w '\n%{http_code}' "$LISECD_URL/v1/status" 2>/dev/null || true)
[ "$(last_line "$body")" = 000 ] || { [ "$(last_line "$body")" = 403 ] && grep -q 'lacks clientAuth' <<<"$body"; } ||
  fail "serverAuth-only certificate: $body"
[ "$(with client-eku -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/status")" = 200 ] || fail "clientAuth certificate refused"
for role in "${pki_roles[@]}"; do
  openssl x509 -in "$pki/$role.crt" -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication' ||
    fail "lisec pki init: $role certificate lacks clientAuth"
  [ "$(as "$role" -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/status")" = 200 ] || fail "dev PKI $role refused"
done
lisec pki issue "$pki" host-9 host host-9.example >/dev/null || fail "lisec pki issue"
role=$(curl -sS --cacert "$pki/ca.crt" --cert "$pki/host-9.crt" --key "$pki/host-9.key" "$LISECD_URL/v1/status" |
  python3 -c 'import json,sys;print(json.load(sys.stdin)["you"]["role"])')
[ "$role" = host ] || fail "a host certificate of lisec pki issue: role '$role'"
pass "EKU: none is 403 saying clientAuth is required, serverAuth only fails the handshake; dev PKI and pki issue certificates admitted"

# ---- OU and SAN URI must agree --------------------------------------------
cert mismatch "/O=t/OU=li-admin/CN=mismatch" "subjectAltName=URI:urn:lisec:role:auditor\nextendedKeyUsage=clientAuth"
cert match "/O=t/OU=auditor/CN=match" "subjectAltName=URI:urn:lisec:role:auditor\nextendedKeyUsage=clientAuth"
check_ou_san() { # MODE
  body=$(with mismatch -w '\n%{http_code}' "$LISECD_URL/v1/audit/entries")
  [ "$(last_line "$body")" = 403 ] || fail "$1: OU li-admin with SAN URI auditor: $(last_line "$body")"
  grep -q 'names role .* and .*; OU and SAN URI must name the same role' <<<"$body" || fail "$1: mismatch refusal: $body"
  role=$(with match "$LISECD_URL/v1/status" | python3 -c 'import json,sys;print(json.load(sys.stdin)["you"]["role"])')
  [ "$role" = auditor ] || fail "$1: matching OU and SAN URI: role '$role'"
}
check_ou_san san-uri

# ---- /metrics: LI routes for li-admin only ---------------------------------
for path in /v1/targets /v1/li/vms /v1/x1/nes /v1/tasks; do as li-admin -o /dev/null "$LISECD_URL$path"; done
as li-admin -o /dev/null -X POST -H 'Content-Type: application/json' -d '{}' "$LISECD_URL/v1/vault/rotate-kek"
as operator -o /dev/null "$LISECD_URL/v1/targets"
for role in operator auditor; do
  m=$(as $role "$LISECD_URL/metrics")
  grep -q '^lisec_http_requests_total{method="GET",route="/v1/status",code="200"} [1-9]' <<<"$m" ||
    fail "$role: /metrics lacks the ordinary routes"
  ! echo "$m" | grep -E '/v1/(li|targets|vault|x1|tasks)' || fail "$role: /metrics names LI routes"
  grep -q '^lisec_http_li_requests_total [1-9]' <<<"$m" || fail "$role: /metrics lacks the LI sum"
done
m=$(as li-admin "$LISECD_URL/metrics")
for path in /v1/targets /v1/li/vms /v1/x1/nes /v1/tasks /v1/vault/rotate-kek; do
  echo "$m" | grep -q "^lisec_http_requests_total{method=\"[A-Z]*\",route=\"$path\",code=\"[0-9a-z]*\"} [1-9]" ||
    fail "li-admin: /metrics lacks $path"
done
[ "$(as mano -o /dev/null -w '%{http_code}' "$LISECD_URL/metrics")" = 403 ] || fail "mano reads /metrics"
pass "/metrics: operator and auditor see no LI route, only their sum; li-admin sees each"

# ---- Content-Length and HEAD -----------------------------------------------
# raw [--head-first]: stdin over TLS as operator; JSON of what came back.
raw() { client raw "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key" "$@"; }
smuggled=$'GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n'
# Each case: headers, then the body as the first Content-Length (or the chunks) delimit it.
for case in $'Content-Length: 5\r\nContent-Length: 40|{"a":' $'Content-Length: 5\r\nContent-Length: 5|{"a":' \
  $'Content-Length: 5\r\nTransfer-Encoding: chunked|5\r\n{"a":\r\n0\r\n\r\n' \
  $'Transfer-Encoding: gzip\r\nContent-Length: 5|{"a":'; do
  headers=${case%%|*} body=${case#*|}
  printf 'POST /v1/model/vm HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n%s\r\n\r\n%s%s' \
    "$headers" "$body" "$smuggled" | raw >"$work/raw.json"
  python3 - "$work/raw.json" "$headers" <<'PY' || fail "duplicate Content-Length: $(cat "$work/raw.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["responses"]) == 1, "the bytes after the body were read as a request: %s" % r
resp = r["responses"][0]
assert resp["status"] == 400, resp
assert r["closed"], "connection left open"
msg = json.loads(resp["body"])["error"]["message"]
rule = "both Transfer-Encoding and Content-Length" if "Transfer-Encoding" in sys.argv[2] else "more than one Content-Length"
assert rule in msg and "RFC 9112" in msg, msg
PY
done
printf 'POST /v1/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}' | raw >"$work/raw.json"
python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); assert [x["status"] for x in r["responses"]] == [405], r' \
  "$work/raw.json" || fail "one Content-Length: $(cat "$work/raw.json")"
pass "two Content-Length headers (differing or not), or one beside Transfer-Encoding: 400 naming it, connection closed, nothing after it read"

printf 'HEAD /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' |
  raw --head-first >"$work/raw.json"
python3 - "$work/raw.json" <<'PY' || fail "HEAD /v1/status: $(cat "$work/raw.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["trailing"] == "", "bytes after the HEAD reply's headers: %r" % r["trailing"]
st = [x["status"] for x in r["responses"]]
assert st == [405, 200], st
assert r["responses"][0]["headers"]["allow"] == ["GET"], r["responses"][0]["headers"]
assert r["responses"][1]["body"] == "ok\n", r["responses"][1]
PY
printf 'HEAD /v1/nope HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' |
  raw --head-first >"$work/raw.json"
python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))
assert r["trailing"] == "" and [x["status"] for x in r["responses"]] == [404, 200], r' "$work/raw.json" ||
  fail "HEAD /v1/nope: $(cat "$work/raw.json")"
pass "HEAD: 405 with Allow (404 for an unknown path) and no body; the next request on the connection is read cleanly"
# HEAD of the compliance view's files is answered as GET without the body
# (docs/ui.md; 405 before): the GET's status, length and headers, and the
# next request on the connection read cleanly. Every TLS reply, an API
# one's too, carries the browser's headers with the CSP.
printf 'HEAD /ui/app.css HTTP/1.1\r\nHost: localhost\r\n\r\nGET /ui/app.css HTTP/1.1\r\nHost: localhost\r\n\r\nGET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n' |
  raw --head-first >"$work/raw.json"
python3 - "$work/raw.json" "$src/src/api/ui/app.css" <<'PY' || fail "HEAD /ui/app.css: $(cat "$work/raw.json")"
import json, sys
r = json.load(open(sys.argv[1]))
css = open(sys.argv[2], "rb").read()
st = [x["status"] for x in r["responses"]]
assert st == [200, 200, 200], st
head, get, api = r["responses"]
assert head["body"] == "" and r["trailing"] == "", "a body after HEAD: %r" % head
assert head["headers"]["content-length"] == [str(len(css))] == get["headers"]["content-length"], (head, len(css))
assert head["headers"]["content-type"] == get["headers"]["content-type"] == ["text/css; charset=utf-8"], head
assert get["body"].encode("latin-1") == css, "the GET after the HEAD is not the file"
for resp in (head, get, api):
    h = resp["headers"]
    assert h.get("referrer-policy") == ["no-referrer"], h
    assert h.get("cross-origin-opener-policy") == ["same-origin"], h
    assert h.get("cross-origin-resource-policy") == ["same-origin"], h
    assert len(h.get("content-security-policy", [])) == 1, h
PY
printf 'HEAD /ui/nothing.js HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' |
  raw --head-first >"$work/raw.json"
python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))
assert r["trailing"] == "" and [x["status"] for x in r["responses"]] == [404, 200], r' "$work/raw.json" ||
  fail "HEAD /ui/nothing.js: $(cat "$work/raw.json")"
pass "HEAD /ui/app.css: 200, the GET's length and type, no body; HEAD of a missing file 404, no body; the replies carry Referrer-Policy, COOP and CORP beside the CSP"

# ---- HTTP/1.1 framing (api/http1.c) ----------------------------------------
# Three requests in one write (pipelined): answered in order, the last one's
# Connection: close honoured.
printf 'GET /healthz HTTP/1.1\r\nHost: l\r\n\r\nGET /v1/nope HTTP/1.1\r\nHost: l\r\nX-Request-Id: pipe-2\r\n\r\nGET /healthz HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n' |
  raw >"$work/raw.json"
python3 - "$work/raw.json" <<'PY' || fail "pipelined requests: $(cat "$work/raw.json")"
import json, sys
r = json.load(open(sys.argv[1]))
st = [x["status"] for x in r["responses"]]
assert st == [200, 404, 200], st
assert r["responses"][1]["headers"]["x-request-id"] == ["pipe-2"], r["responses"][1]
assert r["responses"][2]["headers"]["connection"] == ["close"] and r["closed"], r
assert r["trailing"] == "", r
PY
# Requests sent with the handshake's last flight are read with it, before
# the handshake is done: a host's connection handed to a bulk worker
# ([server] bulk_workers = 1) takes them along, an operator's serves them
# where it is. After the Connection: close reply lisecd closes with
# close_notify, so the client can tell the end from a cut connection.
for role in host operator; do
  printf 'GET /healthz HTTP/1.1\r\nHost: l\r\n\r\nGET /v1/nope HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n' |
    client early "$LISECD_PORT" "$pki/ca.crt" "$pki/$role.crt" "$pki/$role.key" >"$work/raw.json"
  python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))
assert [x["status"] for x in r["responses"]] == [200, 404] and r["closed"] and r["trailing"] == "", r
assert r["close_notify"], "closed without close_notify (RFC 8446 6.1)"' "$work/raw.json" ||
    fail "$role: requests sent with the handshake's Finished: $(head -c 600 "$work/raw.json")"
done
# A body in chunks, split inside a JSON token, with an extension and a
# trailer: decoded as one body (a route that reads it names the missing
# field, not malformed JSON).
printf 'POST /v1/model/vm HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;x=y\r\n{"n\r\n6\r\note":1\r\n1\r\n}\r\n0\r\nX-T: 1\r\n\r\n' |
  raw >"$work/raw.json"
python3 - "$work/raw.json" <<'PY' || fail "chunked body: $(cat "$work/raw.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["responses"]) == 1, r
msg = json.loads(r["responses"][0]["body"])["error"]["message"]
assert r["responses"][0]["status"] == 400 and "malformed JSON" not in msg, r
PY
# What two parsers could frame differently: 400 (or 431, 505) naming the
# rule, the connection closed, the bytes after it never read.
for case in $'GET /healthz HTTP/1.1\nHost: l\n\n|400|bare LF' \
  $'GET /healthz HTTP/1.1\r\nHost: l\r\n folded\r\n\r\n|400|obs-fold' \
  $'GET /healthz HTTP/1.1\r\nHost : l\r\n\r\n|400|whitespace between a field name' \
  $'GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n|400|more than one Host' \
  $'GET /healthz HTTP/1.1\r\n\r\n|400|without Host' \
  $'GET /healthz HTTP/2.0\r\nHost: l\r\n\r\n|505|' \
  $'GET /healthz HTTP/1.1\r\nHost: l\r\nX-Big: '"$(head -c 9000 /dev/zero | tr '\0' a)"$'\r\n\r\n|431|'; do
  req=${case%%|*} rest=${case#*|}
  code=${rest%%|*} words=${rest#*|}
  printf '%s%s' "$req" "$smuggled" | raw >"$work/raw.json"
  python3 - "$work/raw.json" "$code" "$words" <<'PY' || fail "framing refusal $code $words: $(head -c 600 "$work/raw.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert [x["status"] for x in r["responses"]] == [int(sys.argv[2])], r["responses"]
assert r["closed"], "connection left open"
msg = json.loads(r["responses"][0]["body"])["error"]["message"]
assert sys.argv[3] in msg, msg
PY
done
# HTTP/1.0: closed after the reply, unless it asks to keep the connection.
printf 'GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n' | raw >"$work/raw.json"
python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))
assert [x["status"] for x in r["responses"]] == [200] and r["closed"], r' "$work/raw.json" ||
  fail "HTTP/1.0 without keep-alive: $(cat "$work/raw.json")"
printf 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n' | raw >"$work/raw.json"
python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))
assert [x["status"] for x in r["responses"]] == [200, 200] and r["closed"], r
assert r["responses"][0]["headers"]["connection"] == ["keep-alive"], r' "$work/raw.json" ||
  fail "HTTP/1.0 keep-alive: $(cat "$work/raw.json")"
# Expect: 100-continue: curl waits for the 100 before its body.
out=$(curl -sS -v --cacert "$pki/ca.crt" --cert "$pki/operator.crt" --key "$pki/operator.key" \
  -H 'Expect: 100-continue' -H 'Content-Type: application/json' --data-binary '{}' "$LISECD_URL/v1/status" 2>&1 || true)
grep -q '< HTTP/1.1 100 Continue' <<<"$out" && grep -q '< HTTP/1.1 405' <<<"$out" ||
  fail "Expect: 100-continue: $out"
printf 'POST /v1/status HTTP/1.1\r\nHost: l\r\nExpect: 100-continue\r\nContent-Length: 99999999\r\n\r\n' | raw >"$work/raw.json"
python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))
assert [x["status"] for x in r["responses"]] == [413] and r["closed"], r' "$work/raw.json" ||
  fail "Expect: 100-continue over max_body: $(cat "$work/raw.json")"
# A record that fails to decrypt ends the connection with the alert saying
# so (RFC 8446 5.2: bad_record_mac), sent before the socket closes.
why=$(client forged "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key")
[ "$why" = SSLV3_ALERT_BAD_RECORD_MAC ] || fail "a forged record: the connection ended with '$why', not the bad_record_mac alert"
pass "HTTP/1.1 framing: pipelined requests answered in order (also sent with the handshake's Finished, a host's through the hand-over to a bulk worker; closed with close_notify), chunked bodies decoded, ambiguous framing refused naming the rule and closed, HTTP/1.0 keep-alive, 100 Continue (413 at once over the limit), a forged record answered with its alert"

# ---- OU and SAN URI in ou mode ------------------------------------------------
stop_clean
start_lisecd "$pki" "[api]" "role_source = ou"
check_ou_san ou
pass "OU li-admin with SAN URI auditor: 403 in san-uri and ou mode; OU and SAN URI both auditor admitted in both"
stop_clean

# ---- idle connections and the head limit, configured ------------------------
start_lisecd "$pki" "[server]" "idle_timeout_s = 2" "max_header_bytes = 1024"
kept=$(client keep "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key" 4)
[ "$kept" = "200 closed" ] || fail "idle_timeout_s = 2: a connection idle for 4 s was kept ($kept)"
secs=$(client trickle "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key" 20)
python3 -c 'import sys; s = float(sys.argv[1]); assert 1.5 <= s < 6, s' "$secs" ||
  fail "a request trickled a byte every 200 ms was not closed at the idle bound ($secs s)"
printf 'GET /healthz HTTP/1.1\r\nHost: l\r\nX-Big: %s\r\n\r\n' "$(head -c 1100 /dev/zero | tr '\0' a)" | raw >"$work/raw.json"
python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))
assert [x["status"] for x in r["responses"]] == [431] and r["closed"], r' "$work/raw.json" ||
  fail "max_header_bytes = 1024: $(head -c 600 "$work/raw.json")"
pass "idle_timeout_s = 2: an idle connection and one trickling a request closed after ~2 s ($secs s); max_header_bytes = 1024: a 1.1 KB head is 431"
stop_clean
