#!/usr/bin/env bash
# The subject CN names a certificate's holder, to lisec-entropyd (the VNF
# identity) and to lisecd (the principal; a reporting daemon's name), so it
# must be one whole name (crypto_cert_cn; TR 103 308 §5.15, §5.3). Before,
# both read it with X509_NAME_get_text_by_NID: the first of several CNs,
# cut at a NUL byte and to the buffer. Certificates from the development CA
# made by `openssl` with two CNs (-subj '/CN=a/CN=b'), the first a
# registered name: lisec-entropyd with vnf-a registered refuses
# '/CN=vnf-a/CN=vnf-x' with UNKNOWN_CLIENT naming TR103308-5.15 and why,
# logs the refusal with the peer and no CN, and counts it (before: served
# as vnf-a); the same certificate with one CN is served. lisecd refuses a
# daemon's report certificate (role host) '/CN=entropyd-1/CN=x' (before:
# taken for entropyd-1), and takes the one-CN one. A CN with a NUL byte
# or longer than the buffer: test_crypto::test_cert_cn (openssl's -subj
# makes neither).
build=${1:?build dir}
src=${2:?source dir}
# shellcheck source=lib/common.sh
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/entropyd.sh"
driver="$build/tests/integration/rng_server_id_driver"
[ -x "$driver" ] || fail "rng_server_id_driver not built"

pki=$work/pki
make_pki "$pki"
vnf_ext=(extendedKeyUsage=clientAuth subjectAltName=URI:urn:lisec:role:vnf)
issue_cert onecn "/O=lisec test/CN=vnf-a" "${vnf_ext[@]}"
issue_cert twocn "/O=lisec test/CN=vnf-a/CN=vnf-x" "${vnf_ext[@]}"
openssl x509 -in "$pki/twocn.crt" -noout -subject -nameopt RFC2253 | grep -q "CN=vnf-x,CN=vnf-a" ||
  fail "openssl did not make a certificate with two CNs: $(openssl x509 -in "$pki/twocn.crt" -noout -subject)"

entropyd_start cn server
# shellcheck disable=SC2154 # set by entropyd_start
port=$cn_PORT mport=$cn_MPORT pid=$cn_PID
reseed() {
  env -u LISEC_RNG_ENTROPYD_NAME LISEC_RNG_CERT="$pki/$1.crt" LISEC_RNG_KEY="$pki/$1.key" \
    LISEC_RNG_CA="$pki/ca.crt" "$driver" "127.0.0.1:$port" "$port" >"$work/out" 2>&1
}
reseed onecn || { cat "$work/out" >&2; fail "the one-CN certificate of vnf-a is refused"; }
pass "one CN vnf-a: served"
if reseed twocn; then fail "a certificate with CNs vnf-a and vnf-x was served as vnf-a"; fi
grep -q "TR103308-5.15: the certificate's subject has more than one CN; a VNF's certificate names it in one CN" "$work/out" ||
  { cat "$work/out" >&2; fail "two CNs: the client is not told why"; }
for _ in $(seq 1 50); do grep -q "more than one CN" "$work/cn.log" && break; sleep 0.1; done
line=$(grep "more than one CN" "$work/cn.log") ||
  { cat "$work/cn.log" >&2; fail "two CNs: no refusal logged"; }
case $line in *"refused client from 127.0.0.1: TR103308-5.15: "*) ;; *) fail "two CNs: the log line lacks the peer or clause: $line" ;; esac
case $line in *vnf-a* | *vnf-x*) fail "two CNs: the log names a CN: $line" ;; esac
issued=$(curl -sf "http://127.0.0.1:$mport/metrics" | awk '/^lisec_entropyd_seeds_issued_total\{client="vnf-a"\}/ {print $2}')
[ "$issued" = 1 ] || fail "vnf-a was issued $issued seeds, not the one-CN certificate's 1"
unknown=$(curl -sf "http://127.0.0.1:$mport/metrics" | awk '/^lisec_entropyd_requests_refused_total\{reason="unknown_client"\}/ {print $2}')
[ "$unknown" = 1 ] || fail "refused unknown_client in /metrics: $unknown, not 1"
pass "CNs vnf-a and vnf-x: refused (UNKNOWN_CLIENT, TR103308-5.15), logged with the peer and no CN, counted"
kill -TERM "$pid"
wait "$pid" || fail "lisec-entropyd exit status"

# lisecd: the principal's name. A reporting daemon's certificate (role host).
start_lisecd "$pki"
host_ext=(extendedKeyUsage=clientAuth subjectAltName=URI:urn:lisec:role:host)
issue_cert rep1 "/O=lisec test/CN=entropyd-1" "${host_ext[@]}"
issue_cert rep2 "/O=lisec test/CN=entropyd-1/CN=x" "${host_ext[@]}"
report='{"v":1,"instance":"00112233445566778899aabbccddeeff","seq":1,"from":1800000000,"to":1800000060,"serving":true,"sources":[],"issuance":[]}'
post() { as "$1" -o "$work/post.out" -w '%{http_code}' -H 'Content-Type: application/json' -d "$report" "$LISECD_URL/v1/rng/events" || true; }
[ "$(post rep1)" = 200 ] || fail "the one-CN report certificate: $(cat "$work/post.out")"
code=$(post rep2)
case $code in 2*) fail "lisecd took a certificate with CNs entropyd-1 and x for entropyd-1 ($code)" ;; esac
grep -q "more than one CN" "$work/post.out" "$work/lisecd.log" ||
  { cat "$work/post.out" >&2; tail -5 "$work/lisecd.log" >&2; fail "two CNs at lisecd: refused ($code) without saying why"; }
pass "lisecd refuses a report certificate with two CNs ($code), takes the one-CN one"
echo "rng_cert_cn: all checks passed"
