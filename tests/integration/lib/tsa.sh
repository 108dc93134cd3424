# A local RFC 3161 time-stamping authority for tests (sourced by the audit
# timestamp tests and run by test_tsa): make_tsa DIR makes a CA (ca.pem), a
# TSA certificate with extendedKeyUsage critical timeStamping (tsa.pem,
# tsa.key) and ts.cnf for `openssl ts -reply`; another CA with its own TSA
# (other-ca.pem, other.cnf) for the "wrong CA" cases (`openssl ts` itself
# refuses to sign with a certificate without the timeStamping purpose).
# tsa_reply DIR CNF REQ RESP answers one DER request.

make_tsa() {
  local d=$1
  mkdir -p "$d"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  local n
  for n in ca other-ca; do
    openssl req -x509 "${ec[@]}" -keyout "$d/$n.key" -out "$d/$n.pem" -days 2 -subj "/CN=lisec test $n" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  done
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n' >"$d/tsa.ext"
  local s=1 cn ca ext
  for n in tsa:ca:tsa other:other-ca:tsa; do
    IFS=: read -r cn ca ext <<<"$n"
    openssl req -new "${ec[@]}" -keyout "$d/$cn.key" -subj "/CN=lisec test $cn" -out "$d/$cn.csr" 2>/dev/null
    openssl x509 -req -in "$d/$cn.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" -set_serial $((s++)) -days 2 \
      -extfile "$d/$ext.ext" -out "$d/$cn.pem" 2>/dev/null
    echo 01 >"$d/$cn.serial"
    cat >"$d/$cn.cnf" <<CNF
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = $d/$cn.serial
crypto_device = builtin
signer_cert = $d/$cn.pem
signer_key = $d/$cn.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF
  done
  cp "$d/tsa.cnf" "$d/ts.cnf"
}

tsa_reply() {
  openssl ts -reply -config "$2" -queryfile "$3" -out "$4" 2>/dev/null
}
