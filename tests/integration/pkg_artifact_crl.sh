#!/usr/bin/env bash
# Per-artifact signers of a VNF package judged like the package's own signer
# through a real lisecd: a package whose Scripts/install.sh carries a
# `Signature:` by a certificate of a second vendor CA (not the manifest's
# signer) is on-boarded while that certificate is valid; a CRL of that CA
# made later with `openssl ca -revoke` / `-gencrl` and loaded through the API
# makes the package and its VM non-compliant (TR103308-4.1-REVOKED naming
# the package and the artifact), fails its image check and its placement,
# and refuses its on-boarding again. Wrong cases: a CRL of the other vendor
# CA listing the same serial number is about another certificate and
# changes nothing; a stale CRL is refused (TR103308-4.1-CRL) with nothing
# held. A package stored before per-artifact signers were kept still loads
# and says its artifact signers are not judged.
set -euo pipefail
build=${1:?usage: pkg_artifact_crl.sh BUILD_DIR SRC_DIR}
src=${2:?usage: pkg_artifact_crl.sh BUILD_DIR SRC_DIR}
. "$src/tests/integration/lib/common.sh"
cd "$work"
pki=$work/pki
make_pki "$pki"
make_li_admin_key li-admin

# ---- the signing PKI: openssl CAs with databases, serials chosen --------------
# vca signs the manifests; aca the artifacts. vca's "other" and aca's
# "artsign" share the serial 0x1000, so a CRL of vca revoking "other" lists
# the serial of artsign under another issuer.
. "$src/tests/integration/lib/csar.sh"
mkca vca Vendor
mkca aca "Vendor Artifacts"
mkca oca Operator
cert() { # CA NAME ORG SERIAL
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$2.key" -out "$2.csr" \
    -subj "/O=$3/CN=$2" 2>/dev/null || fail "openssl req $2"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n' >ext.cnf
  openssl x509 -req -in "$2.csr" -CA "$1/ca.crt" -CAkey "$1/ca.key" -set_serial "$4" -days 7 \
    -extfile ext.cnf -out "$2.crt" 2>/dev/null || fail "openssl x509 $2"
}
cert vca vendor Vendor 0x2000
cert vca other Vendor 0x1000
cert aca artsign "Vendor Artifacts" 0x1000
cert aca artsign2 "Vendor Artifacts" 0x1001
cert oca operator Operator 0x3000
for ca in vca aca; do
  : >"$ca/index.txt"
  echo 01 >"$ca/crlnumber"
  printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\ncertificate = %s/ca.crt\nprivate_key = %s/ca.key\ndefault_md = sha256\ndefault_crl_days = 7\n' \
    "$work/$ca" "$work/$ca" "$work/$ca" "$work/$ca" >"$ca/ca.cnf"
done
gencrl() { openssl ca -config "$1/ca.cnf" -gencrl -out "$2" "${@:3}" 2>/dev/null || fail "openssl ca -gencrl $*"; }
cat vca/ca.crt aca/ca.crt >vendors.pem

# artpkg OUT VERSION ARTIFACT_SIGNER: a SOL 004 CSAR made with sha256sum,
# openssl cms and zip, its Scripts/install.sh signed by ARTIFACT_SIGNER, its
# manifest by vendor, countersigned by the operator.
artpkg() {
  local out=$1 version=$2 signer=$3 d=src-$1 f
  rm -rf "$d" && mksrc "$d" 2000
  mkdir -p "$d/Scripts"
  printf '#!/bin/sh\necho installed %s\n' "$out" >"$d/Scripts/install.sh"
  openssl cms -sign -binary -in "$d/Scripts/install.sh" -signer "$signer.crt" -inkey "$signer.key" \
    -outform PEM -out "$d/Scripts/install.sh.sig.cms" || fail "openssl cms (artifact)"
  {
    printf 'metadata:\nvnf_provider_id: Acme\nvnf_product_name: vProbe\n'
    printf 'vnf_release_date_time: 2026-01-01T00:00:00+00:00\nvnf_package_version: %s\n' "$version"
    for f in Artifacts/Images/probe.qcow2 Definitions/probe.yaml Scripts/install.sh TOSCA-Metadata/TOSCA.meta; do
      printf '\nSource: %s\nAlgorithm: SHA-256\nHash: %s\n' "$f" "$(sha256sum "$d/$f" | cut -d' ' -f1)"
      [ "$f" = Scripts/install.sh ] && printf 'Signature: Scripts/install.sh.sig.cms\n'
    done
    echo
  } >body.mf
  openssl cms -sign -binary -in body.mf -signer vendor.crt -inkey vendor.key -outform PEM -out body.sig
  cat body.mf body.sig >"$d/probe.mf"
  mkdir -p "$d/Files" "$d/Countersignatures"
  cp vendor.crt "$d/Files/probe.cert"
  openssl cms -sign -binary -in "$d/probe.mf" -signer operator.crt -inkey operator.key -outform PEM \
    -out "$d/Countersignatures/operator.cms"
  (cd "$d" && rm -f "../$out" && zip -qrX "../$out" .)
}
artpkg pa.csar 1.0 artsign
artpkg pold.csar 1.0 artsign2
pass "two vendor CAs (openssl), artifact signers of serial 0x1000 (aca) and a vca certificate of the same serial; packages with a signed artifact"

start_lisecd "$pki" "[audit]" "li_admin_key = $work/li-admin.pub" \
  "[pkg]" "vendor_ca = $work/vendors.pem" "operator_ca = $work/oca/ca.crt"
rows() { sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log'; }
call() {
  as "$1" -o out.json -w '%{http_code}' -X "$2" -H 'Content-Type: application/json' \
    ${4:+--data-binary "$4"} "$LISECD_URL$3"
}
upload() { # ID CSAR
  printf '{"id":"%s","csar":"%s"}' "$1" "$(base64 -w0 "$2")" >body.json
  as operator -o out.json -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary @body.json "$LISECD_URL/v1/packages"
}
crl_json() { printf '{"crl":"%s"}' "$(awk '{printf "%s\\n", $0}' "$1")"; }
held() { as operator "$LISECD_URL/v1/packages/vendors/crl" | grep -o '"issuer"' | wc -l; }
revoked_rows() { as operator "$LISECD_URL/v1/compliance" | jq '[.violations[] | select(.requirement == "TR103308-4.1-REVOKED")] | length'; }

# ---- on-boarded while valid: the artifact's signer is kept with its chain ------
[ "$(upload pa pa.csar)" = 201 ] || fail "on-board pa: $(cat out.json)"
[ "$(upload pold pold.csar)" = 201 ] || fail "on-board pold: $(cat out.json)"
serial=$(openssl x509 -in artsign.crt -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//')
[ "$(call operator GET /v1/packages/pa)" = 200 ] || fail "GET pa: $(cat out.json)"
jq -e --arg s "$serial" '.compliant == true and (.artifact_signers | not) and
  ([.verification.signers[] | select(.artifact == "Scripts/install.sh" and .file == "Scripts/install.sh.sig.cms"
     and .subject == "CN=artsign,O=Vendor Artifacts" and .chain[0].serial == $s
     and .chain[0].issuer == "CN=Vendor Artifacts CA,O=Vendor Artifacts")] | length) == 1 and
  ([.verification.artifacts[] | select(.path == "Scripts/install.sh")][0].signer as $i |
     .verification.signers[$i].artifact == "Scripts/install.sh")' out.json >/dev/null ||
  fail "pa's artifact signer is not kept with its chain: $(cat out.json)"
call operator POST /v1/model/host '{"id":"host-dev","protection":"sensitive"}' >/dev/null
call operator POST /v1/model/hypervisor '{"id":"hv-1","host":"host-dev"}' >/dev/null
[ "$(call operator POST /v1/model/vm '{"id":"vm-a","hypervisor":"hv-1","sensitivity":"general","domain":"core","package":"pa"}')" = 201 ] ||
  fail "vm-a: $(cat out.json)"
img=$(sha256sum src-pa.csar/Artifacts/Images/probe.qcow2 | cut -d' ' -f1)
[ "$(call host POST /v1/image-checks "{\"vm\":\"vm-a\",\"digest\":\"sha256:$img\"}")" = 200 ] &&
  ! grep -q 'TR103308-4.1-REVOKED' out.json || fail "vm-a's image check before any CRL: $(cat out.json)"
pass "a package whose artifact signer is valid is on-boarded; its description keeps that signer (artifact, file, issuer, serial) and the artifact points at it"

# ---- a package stored before artifact signers were kept -----------------------
# pold as main's lisecd wrote it: no "signer" on its artifacts, no signer entry
# for its artifact signature.
python3 - "$work/lisec.db" <<'PY' || fail "rewriting pold in the old form"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
body, = db.execute("SELECT body FROM documents WHERE kind = 'pkg' AND id = 'pold'").fetchone()
d = json.loads(body)
v = d["verification"]
assert any("artifact" in s for s in v["signers"]), v["signers"]
v["signers"] = [s for s in v["signers"] if "artifact" not in s]
for a in v["artifacts"]:
    a.pop("signer", None)
db.execute("UPDATE documents SET body = ? WHERE kind = 'pkg' AND id = 'pold'",
           (json.dumps(d, sort_keys=True, separators=(",", ":")),))
db.commit()
PY
[ "$(call operator GET /v1/packages/pold)" = 200 ] && jq -e '.compliant == true and
  (.artifact_signers | startswith("artifact signers not kept: on-board again to have them judged")) and
  (.artifact_signers | contains("Scripts/install.sh"))' out.json >/dev/null ||
  fail "pold (old form) does not load or does not say its artifact signers are not kept: $(cat out.json)"
[ "$(call operator GET /v1/packages)" = 200 ] &&
  jq -e '([.packages[] | select(.id == "pold" and ((.artifact_signers // "") | test("^artifact signers not kept")))] | length == 1) and
         ([.packages[] | select(.id == "pa" and (.artifact_signers | not))] | length == 1)' out.json >/dev/null ||
  fail "the list does not mark pold alone: $(cat out.json)"
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
cli operator pkg show pold | grep -q '^  artifact signers not kept: on-board again to have them judged' ||
  fail "lisec pkg show pold does not say its artifact signers are not kept: $(cli operator pkg show pold 2>&1)"
cli operator pkg list >list.txt || fail "lisec pkg list"
grep -q '^pold .*\[artifact signers not kept\]' list.txt && ! grep -q '^pa .*\[artifact signers not kept\]' list.txt ||
  fail "lisec pkg list does not mark pold alone: $(cat list.txt)"
pass "a package stored without its artifact signers still loads and lists, saying 'artifact signers not kept: on-board again to have them judged'"

# ---- wrong cases: a stale CRL, another CA's CRL --------------------------------
openssl ca -config aca/ca.cnf -revoke artsign.crt 2>/dev/null || fail "openssl ca -revoke artsign"
gencrl aca stale.pem -crl_lastupdate "$(date -u -d '-2 days' +%Y%m%d%H%M%SZ)" -crl_nextupdate "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)"
before=$(rows)
[ "$(call operator PUT /v1/packages/vendors/crl "$(crl_json stale.pem)")" = 403 ] &&
  grep -q 'TR103308-4.1-CRL' out.json && grep -q 'expired' out.json || fail "a stale CRL: $(cat out.json)"
[ "$(rows)" -gt "$before" ] || fail "the refused stale CRL is not recorded"
[ "$(held)" = 0 ] || fail "the stale CRL is held"
[ "$(revoked_rows)" = 0 ] || fail "a finding from a stale CRL"
[ "$(upload pa-stale pa.csar)" = 201 ] || fail "on-boarding after a refused stale CRL: $(cat out.json)"
pass "a stale CRL revoking the artifact signer is refused (403 TR103308-4.1-CRL, recorded), none held, no finding"

openssl ca -config vca/ca.cnf -revoke other.crt 2>/dev/null || fail "openssl ca -revoke other"
gencrl vca vca-crl.pem
openssl crl -in vca-crl.pem -noout -text | grep -qi "Serial Number: 1000" || fail "vca's CRL does not list 1000"
[ "$(call operator PUT /v1/packages/vendors/crl "$(crl_json vca-crl.pem)")" = 200 ] &&
  jq -e '.revoked == 1 and .revoked_packages == [] and .artifact_signers_not_kept == ["pold"]' out.json >/dev/null ||
  fail "vca's CRL: $(cat out.json)"
[ "$(call operator GET /v1/packages/pa)" = 200 ] && grep -q '"compliant":true' out.json || fail "another CA's CRL revoked pa: $(cat out.json)"
[ "$(revoked_rows)" = 0 ] || fail "another CA's CRL made a finding"
pass "a CRL of the other vendor CA listing the artifact signer's serial is held but about another certificate: pa stays compliant; the reply names pold as not judged"

# ---- the artifact signer's CA revokes it ----------------------------------------
gencrl aca aca-crl.pem
[ "$(call operator PUT /v1/packages/vendors/crl "$(crl_json aca-crl.pem)")" = 200 ] &&
  jq -e '.revoked_packages == ["pa", "pa-stale"]' out.json >/dev/null || fail "aca's CRL: $(cat out.json)"
[ "$(call operator GET /v1/packages/pa)" = 200 ] && jq -e '.compliant == false and
  (.revoked | startswith("TR103308-4.1-REVOKED: package pa: the vendor signer '\''CN=artsign,O=Vendor Artifacts'\'' of artifact '\''Scripts/install.sh'\''"))' out.json >/dev/null ||
  fail "pa is not marked revoked by its artifact signer: $(cat out.json)"
as operator "$LISECD_URL/v1/compliance" >c.json
jq -e '.compliant == false and
  ([.violations[] | select(.requirement == "TR103308-4.1-REVOKED" and .subject == "package pa"
     and (.sentence | contains("of artifact '\''Scripts/install.sh'\''")))] | length) == 1 and
  ([.violations[] | select(.requirement == "TR103308-4.1-REVOKED" and .subject == "vm vm-a"
     and (.sentence | contains("runs package pa")))] | length) == 1 and
  ([.violations[] | select(.requirement == "TR103308-4.1-REVOKED" and .subject == "package pold")] | length) == 0' c.json >/dev/null ||
  fail "the compliance view: $(cat c.json)"
pass "the artifact signer's CA's CRL: pa and vm-a are not compliant (TR103308-4.1-REVOKED naming the package and the artifact)"

[ "$(call host POST /v1/image-checks "{\"vm\":\"vm-a\",\"digest\":\"sha256:$img\"}")" = 200 ] &&
  grep -q '"compliant":false' out.json && grep -q 'TR103308-4.1-REVOKED' out.json ||
  fail "vm-a's image check after the revocation: $(cat out.json)"
[ "$(call mano POST /v1/decisions/placement '{"id":"vm-new","host":"host-dev","sensitivity":"general","domain":"core","package":"pa"}')" = 200 ] &&
  grep -q '"allow":false' out.json && grep -q 'TR103308-4.1-REVOKED' out.json || fail "placement of pa: $(cat out.json)"
before=$(rows)
[ "$(upload pa2 pa.csar)" = 403 ] && grep -q 'TR103308-4.1-REVOKED' out.json && grep -q "of artifact 'Scripts/install.sh'" out.json ||
  fail "on-boarding a package whose artifact signer a held CRL revokes: $(cat out.json)"
[ "$(rows)" -gt "$before" ] || fail "the refused on-boarding is not recorded"
pass "its image check and placement are refused, and a package with that artifact signer is not on-boarded (403 TR103308-4.1-REVOKED, recorded)"

stop_clean
