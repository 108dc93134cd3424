# Test PKI helpers (sourced after common.sh, which sets `build` and `fail`).
# make_pki DIR writes the development PKI layout of `lisec pki init DIR`:
#   ca.crt ca.key, server.crt server.key (SAN DNS:localhost, IP:127.0.0.1,
#   IP:::1), and <name>.crt <name>.key for each role below, each with a SAN
#   URI urn:lisec:role:<role> and OU=<role>, all ECDSA P-256.
# It uses the lisec CLI when it is built and openssl otherwise.
# make_pki_openssl DIR always uses openssl: tests use it for an independent
# rogue CA, and it keeps the layout defined outside the code under test.

pki_roles=(operator li-admin hypervisor-admin host mano auditor tenant-example)

# role_of NAME: the role a file name stands for (tenant-example -> tenant:example).
role_of() {
  case $1 in
    tenant-*) echo "tenant:${1#tenant-}" ;;
    *) echo "$1" ;;
  esac
}

make_pki() {
  local dir=$1
  if [ -x "${build:-}/cmd/lisec/lisec" ]; then
    "$build/cmd/lisec/lisec" pki init "$dir" >/dev/null 2>&1 || fail "lisec pki init $dir"
  else
    make_pki_openssl "$dir"
  fi
}

# _pki_issue DIR NAME SUBJECT EXTENSIONS: a P-256 key and a certificate signed by DIR/ca.
_pki_issue() {
  local dir=$1 name=$2 subj=$3 ext=$4
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null || fail "openssl req $name"
  printf '%s\n' "$ext" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null || fail "openssl x509 $name"
  rm -f "$dir/$name.csr" "$dir/$name.ext"
  chmod 600 "$dir/$name.key"
}

make_pki_openssl() {
  local dir=$1 name role
  mkdir -p "$dir"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -sha256 \
    -subj "/O=lisec test/CN=lisec test CA $(basename "$dir")" -keyout "$dir/ca.key" -out "$dir/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null || fail "openssl CA in $dir"
  chmod 600 "$dir/ca.key"
  _pki_issue "$dir" server "/O=lisec test/CN=localhost" \
    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth"
  for name in "${pki_roles[@]}"; do
    role=$(role_of "$name")
    _pki_issue "$dir" "$name" "/O=lisec test/OU=$role/CN=$name" \
      "subjectAltName=URI:urn:lisec:role:$role
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
  done
  rm -f "$dir/ca.srl"
}
