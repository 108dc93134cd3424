# Signed VNF packages for integration tests (sourced after common.sh, in the
# directory the files should go to): a signing PKI made with openssl and
# SOL 004 CSARs signed with `lisec pkg sign` and countersigned with openssl
# cms, as docs/packages.md describes.

# mkca NAME ORG: a CA in NAME/ca.crt, NAME/ca.key.
mkca() {
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/ca.key" \
    -out "$1/ca.crt" -subj "/O=$2/CN=$2 CA" -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
# issue CA NAME ORG: a code-signing certificate NAME.crt, NAME.key from CA.
issue() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$2.key" -out "$2.csr" \
    -subj "/O=$3/CN=$2" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n' >ext.cnf
  openssl x509 -req -in "$2.csr" -CA "$1/ca.crt" -CAkey "$1/ca.key" -CAcreateserial -days 7 \
    -extfile ext.cnf -out "$2.crt" 2>/dev/null
}
# mksrc DIR IMAGE_BYTES: a package's files, its image random bytes.
mksrc() {
  mkdir -p "$1/TOSCA-Metadata" "$1/Definitions" "$1/Artifacts/Images"
  printf 'TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-By: lisec-tests\nEntry-Definitions: Definitions/probe.yaml\nETSI-Entry-Manifest: probe.mf\nETSI-Entry-Certificate: Files/probe.cert\n' \
    >"$1/TOSCA-Metadata/TOSCA.meta"
  echo "tosca_definitions_version: tosca_simple_yaml_1_3" >"$1/Definitions/probe.yaml"
  head -c "$2" /dev/urandom >"$1/Artifacts/Images/probe.qcow2"
}
# mkpkg OUT SIGNER VERSION IMAGE_BYTES COUNTERSIGNERS... [--li]
mkpkg() {
  local out=$1 signer=$2 version=$3 size=$4 li=()
  shift 4
  local d=src-$out
  mksrc "$d" "$size"
  for c in "$@"; do [ "$c" = --li ] && li=(--li); done
  lisec pkg sign "$d" -o "$out.0" --cert "$signer.crt" --key "$signer.key" "${li[@]}" \
    --meta vnf_provider_id=Acme --meta vnf_product_name=vProbe --meta "vnf_package_version=$version" \
    --meta vnf_release_date_time=2026-01-01T00:00:00Z >/dev/null
  # Countersignatures as SOL 004 readers see them: a detached CMS over the
  # whole manifest file, made with openssl cms (docs/packages.md).
  rm -rf "x-$out" && mkdir "x-$out" && (cd "x-$out" && unzip -q "../$out.0")
  for c in "$@"; do
    [ "$c" = --li ] && continue
    mkdir -p "x-$out/Countersignatures"
    openssl cms -sign -binary -in "x-$out/probe.mf" -signer "$c.crt" -inkey "$c.key" -outform PEM \
      -out "x-$out/Countersignatures/$c.cms"
  done
  (cd "x-$out" && rm -f "../$out" && zip -qrX "../$out" .)
}
