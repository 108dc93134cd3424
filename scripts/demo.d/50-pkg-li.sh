# Chapter 5: only signed and countersigned VNF packages are on-boarded, and
# an LI VM's LI function, once paired, is switched off only by the LI
# administration's signed command.
# shellcheck shell=bash disable=SC2154  # sourced by scripts/demo

say "A signing PKI made with openssl: a vendor CA, the operator's CA and the LI administration's CA"
mkca() {
  mkdir -p "$work/sign/$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/sign/$1/ca.key" \
    -out "$work/sign/$1/ca.crt" -subj "/O=$2/CN=$2 CA" -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/sign/$1.key" \
    -out "$work/sign/$1.csr" -subj "/O=$2/CN=$1" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n' \
    >"$work/sign/ext.cnf"
  openssl x509 -req -in "$work/sign/$1.csr" -CA "$work/sign/$1/ca.crt" -CAkey "$work/sign/$1/ca.key" \
    -CAcreateserial -days 7 -extfile "$work/sign/ext.cnf" -out "$work/sign/$1.crt" 2>/dev/null
}
mkca vendor Acme
mkca operator Operator
mkca li-admin "LI Administration"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/sign/li-admin-cmd.key" 2>/dev/null
openssl pkey -in "$work/sign/li-admin-cmd.key" -pubout -out "$work/sign/li-admin-cmd.pub"
explain "and the LI administration's command key (ECDSA P-256); lisecd gets only its public half"

say "lisecd restarts with these trust anchors ([pkg]), the LI administration's key and a token for LI VM keys ([li])"
stop_lisecd
if [ -z "${LISEC_P11_MODULE:-}" ]; then
  eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
  echo 4321 >"$work/vault.pin"
fi
extra=()
[ -f "$work/li-admin.pub" ] && extra=("[audit]" "li_admin_key = $work/li-admin.pub" "[vault]"
  "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/vault.pin" "key_label = lisec-kek")
start_lisecd "$pki" "${extra[@]}" "[api]" "max_body = 4194304" \
  "[pkg]" "vendor_ca = $work/sign/vendor/ca.crt" "operator_ca = $work/sign/operator/ca.crt" \
  "li_admin_ca = $work/sign/li-admin/ca.crt" \
  "[li]" "admin_pubkey = $work/sign/li-admin-cmd.pub" "pkcs11_module = $LISEC_P11_MODULE" \
  "token = lisec" "pin_file = $work/vault.pin"

say "The vendor signs a package (SOL 004 CSAR); the operator countersigns it"
mkdir -p "$work/vnf/TOSCA-Metadata" "$work/vnf/Definitions" "$work/vnf/Artifacts/Images"
printf 'TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-By: Acme\nEntry-Definitions: Definitions/probe.yaml\nETSI-Entry-Manifest: probe.mf\n' \
  >"$work/vnf/TOSCA-Metadata/TOSCA.meta"
echo "tosca_definitions_version: tosca_simple_yaml_1_3" >"$work/vnf/Definitions/probe.yaml"
head -c 65536 /dev/urandom >"$work/vnf/Artifacts/Images/probe.qcow2"
run lisec pkg sign "$work/vnf" -o "$work/probe-vendor.csar" --cert "$work/sign/vendor.crt" \
  --key "$work/sign/vendor.key" --meta vnf_provider_id=Acme --meta vnf_product_name=vProbe \
  --meta vnf_package_version=1.0 --meta vnf_release_date_time=2026-01-01T00:00:00Z
run lisec pkg countersign "$work/probe-vendor.csar" -o "$work/probe.csar" --label operator \
  --cert "$work/sign/operator.crt" --key "$work/sign/operator.key" \
  --vendor-ca "$work/sign/vendor/ca.crt" --operator-ca "$work/sign/operator/ca.crt"

say "The operator on-boards it: lisecd verifies both signatures and every digest, then keeps the digests"
run cli_as operator pkg onboard "$work/probe.csar" --id probe

say "The vendor's package without the operator's countersignature is refused, and the refusal recorded"
expect_fail cli_as operator pkg onboard "$work/probe-vendor.csar" --id probe-unsigned

say "A tenant sees only its own packages (NFV-SEC 025 on-boarding threat 3)"
expect_fail cli_as tenant-example pkg show probe

say "A host reports the image a VM runs: lisec-agent reads the domain XML libvirt hands its hook, and hashes the disk"
mkdir -p "$work/images"
cp "$work/vnf/Artifacts/Images/probe.qcow2" "$work/images/vm-7.img"
cat >"$work/vm-7.def.xml" <<XML
<domain type='test'><name>vm-7</name><memory>65536</memory><os><type>hvm</type></os>
  <metadata><lisec:vm xmlns:lisec='urn:lisec:vm' id='vm-7' package='probe'/></metadata>
  <devices><disk type='file' device='disk'><source file='$work/images/vm-7.img'/><target dev='vda'/></disk></devices>
</domain>
XML
virsh -q -c test:///default "define $work/vm-7.def.xml; dumpxml vm-7" >"$work/vm-7.xml"
explain "(the domain XML comes from libvirt's test driver; its metadata names the VM and its package)"
# lisecd takes an image report only from the host that runs the VM, under
# the package the VM's model document names (TR103308-4.2-IMAGE).
printf '%s\n' '{"id":"host-dev","protection":"sensitive"}' >"$work/host-dev.json"
printf '%s\n' '{"id":"hv-dev","host":"host-dev"}' >"$work/hv-dev.json"
printf '%s\n' '{"id":"vm-7","hypervisor":"hv-dev","sensitivity":"general","domain":"core","package":"probe"}' >"$work/vm-7.json"
cli_as operator model put host "$work/host-dev.json" >/dev/null
cli_as operator model put hypervisor "$work/hv-dev.json" >/dev/null
cli_as operator model put vm "$work/vm-7.json" >/dev/null
explain "(the model says vm-7 runs package probe on host host-dev, the CN of the host certificate below)"
lisec-agent() { # as the host: its certificate, lisecd's address
  LISEC_SERVER=$LISECD_URL LISEC_CA=$pki/ca.crt LISEC_CERT=$pki/host.crt LISEC_KEY=$pki/host.key \
    "$build/cmd/lisec-agent/lisec-agent" "$@"
}
run lisec-agent report-image --event instantiate --xml "$work/vm-7.xml"
say "Someone changes the image on disk: at its next resume the VM is reported non-compliant, and it is recorded"
flip_byte "$work/images/vm-7.img" 4096
expect_fail lisec-agent report-image --event resume --xml "$work/vm-7.xml"
as operator "$LISECD_URL/v1/compliance" | grep -q '"requirement":"TR103308-4.2-IMAGE"' ||
  fail "/v1/compliance does not list vm-7's image"
explain "GET /v1/compliance now lists vm-7 under TR103308-4.2-IMAGE until it runs its package's image again." \
  "On a real host the libvirt hook (examples/libvirt/hooks/qemu) does this at every start, migration and restore."

say "The LI VM makes its own key pair (lisec-event keygen); MANO registers its public key"
run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/vm-li-1.key"
run openssl pkey -in "$work/vm-li-1.key" -pubout -out "$work/vm-li-1.pub"
run cli_as mano li instantiate vm-li-1 --pubkey "$work/vm-li-1.pub"

say "The hypervisor administration enables its LI function; the LI administration pairs it"
run cli_as hypervisor-admin li enable vm-li-1
run lisec li pair-sign --key "$work/sign/li-admin-cmd.key" --vm vm-li-1 --pubkey "$work/vm-li-1.pub" \
  -o "$work/pair.json"
run cli_as li-admin li pair vm-li-1 "$work/pair.json"

say "Once paired, the hypervisor administration cannot switch it off (TR 103 308 4.1); the attempt is recorded"
expect_fail cli_as hypervisor-admin li disable vm-li-1

say "Only the LI administration's signed command, with a fresh counter, switches it off"
run lisec li sign-disable --key "$work/sign/li-admin-cmd.key" --vm vm-li-1 --counter 1 --expires +600 \
  -o "$work/disable-1.json"
run cli_as li-admin li disable-command vm-li-1 "$work/disable-1.json"

say "The old pairing statement cannot pair it again: it was signed before disable command 1"
cli_as hypervisor-admin li enable vm-li-1 >/dev/null
expect_fail cli_as li-admin li pair vm-li-1 "$work/pair.json"

say "Paired again with a fresh statement, the same disable command replayed is refused: the counter is kept"
run lisec li pair-sign --key "$work/sign/li-admin-cmd.key" --vm vm-li-1 --pubkey "$work/vm-li-1.pub" \
  --last 1 -o "$work/pair-2.json"
cli_as li-admin li pair vm-li-1 "$work/pair-2.json" >/dev/null
expect_fail cli_as li-admin li disable-command vm-li-1 "$work/disable-1.json"
explain "audit log entries so far: $(sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log'), sealed to the LI administration: $(sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log WHERE sealed = 1')"
