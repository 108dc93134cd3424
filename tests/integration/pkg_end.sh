#!/usr/bin/env bash
# The end of a package version's life through a real lisecd (issue 21 item
# 3 and its bad cases, item 6): a replacement by an older version is
# refused; a version is retired only once no VM of the model may run it
# (the refusal counts the VMs and names no LI VM), and a retired version is
# no longer placed or started; a vendor CA's CRL, made in this test with
# `openssl ca -revoke` / `-gencrl`, makes every package whose signer it
# revokes non-compliant with its VMs and stops on-boarding, placement and
# starts of it, while a CRL of another CA, of a CA with the vendor's name
# but another key, an expired, malformed, oversized or older one is refused
# naming TR103308-4.1-CRL with nothing held changed.
set -euo pipefail
build=${1:?usage: pkg_end.sh BUILD_DIR SRC_DIR}
src=${2:?usage: pkg_end.sh BUILD_DIR SRC_DIR}
. "$src/tests/integration/lib/common.sh"
cd "$work"
pki=$work/pki
make_pki "$pki"
make_li_admin_key li-admin

# ---- the signing PKI: the vendor CA is an `openssl ca` with a database -------
. "$src/tests/integration/lib/csar.sh"
mkca vca Vendor
mkca rca Vendor # the vendor's name, another key
mkca oca Operator
issue vca vendor Vendor
issue vca vendor2 Vendor
issue oca operator Operator
for ca in vca rca oca; do
  : >"$ca/index.txt"
  echo 01 >"$ca/crlnumber"
  printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\ncertificate = %s/ca.crt\nprivate_key = %s/ca.key\ndefault_md = sha256\ndefault_crl_days = 7\n' \
    "$work/$ca" "$work/$ca" "$work/$ca" "$work/$ca" >"$ca/ca.cnf"
done
gencrl() { openssl ca -config "$1/ca.cnf" -gencrl -out "$2" "${@:3}" 2>/dev/null || fail "openssl ca -gencrl $*"; }
gencrl vca before.pem -crl_lastupdate "$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)"
mkpkg a1.csar vendor 1.0 4000 operator
mkpkg a2.csar vendor 2.0 4000 operator
mkpkg a10.csar vendor 1.10 4000 operator
mkpkg b.csar vendor2 1.0 4000 operator
# version 2.0 again, spelled as the version order reads it equal
mkpkg a2z.csar vendor 02.0 4000 operator
mkpkg a2d.csar vendor 2-0 4000 operator
pass "vendor CA (openssl ca), a rogue CA of the same name, the operator's CA; packages 1.0, 2.0, 1.10 and another signer's"

start_lisecd "$pki" "[audit]" "li_admin_key = $work/li-admin.pub" \
  "[pkg]" "vendor_ca = $work/vca/ca.crt" "operator_ca = $work/oca/ca.crt" "max_crl = 4096"
rows() { sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log'; }
# call ROLE METHOD PATH [JSON]: the reply in out.json, the status printed.
call() {
  as "$1" -o out.json -w '%{http_code}' -X "$2" -H 'Content-Type: application/json' \
    ${4:+--data-binary "$4"} "$LISECD_URL$3"
}
upload() { # ROLE METHOD ID CSAR
  local path=/v1/packages body
  if [ "$2" = PUT ]; then path=$path/$3 body='{"csar":"'$(base64 -w0 "$4")'"}'
  else body='{"id":"'$3'","csar":"'$(base64 -w0 "$4")'"}'; fi
  printf '%s' "$body" >body.json
  as "$1" -o out.json -w '%{http_code}' -X "$2" -H 'Content-Type: application/json' \
    --data-binary @body.json "$LISECD_URL$path"
}
# refused STATUS TEXT ROLE METHOD PATH [JSON]: that status, TEXT in the reply, recorded.
refused() {
  local status=$1 text=$2 before code
  shift 2
  before=$(rows)
  code=$(call "$@")
  [ "$code" = "$status" ] && grep -qF -- "$text" out.json || fail "$*: expected $status '$text', got $code $(cat out.json)"
  [ "$(rows)" -gt "$before" ] || fail "$*: the refusal is not recorded"
}
pkgv() { as operator "$LISECD_URL/v1/packages/$1" | grep -o '"vnf_package_version":"[^"]*"' | cut -d'"' -f4; }

# ---- no downgrade ------------------------------------------------------------
[ "$(upload operator POST down a10.csar)" = 201 ] || fail "on-board 1.10: $(cat out.json)"
before=$(rows)
[ "$(upload operator PUT down a2.csar)" = 200 ] || fail "1.10 -> 2.0: $(cat out.json)"
code=$(upload operator PUT down a1.csar)
[ "$code" = 403 ] && grep -q 'NFV-SEC025-ROLLBACK' out.json && grep -q "older than the on-boarded version '2.0'" out.json ||
  fail "a downgrade 2.0 -> 1.0 was not refused: $code $(cat out.json)"
[ "$(rows)" -gt $((before + 1)) ] || fail "the refused downgrade is not recorded"
[ "$(pkgv down)" = 2.0 ] || fail "the refused downgrade changed the package"
pass "a replacement by an older version is refused (403 NFV-SEC025-ROLLBACK, recorded), the package stays 2.0"

# ---- retirement ----------------------------------------------------------------
model_put() { [ "$(call operator POST "/v1/model/$1" "$2")" = 201 ] || fail "model put $1 $2: $(cat out.json)"; }
model_put host '{"id":"host-dev","protection":"sensitive"}'
model_put hypervisor '{"id":"hv-dev","host":"host-dev"}'
vm() { echo "{\"id\":\"$1\",\"hypervisor\":\"hv-dev\",\"sensitivity\":\"$2\",\"domain\":\"core\",\"package\":\"$3\"}"; }
[ "$(upload operator POST app a1.csar)" = 201 ] || fail "on-board app: $(cat out.json)"
model_put vm "$(vm vm-1 general app)"
model_put vm "$(vm vm-secret-li li app)"
refused 409 'NFV-SEC025-RETIRED' operator POST /v1/packages/app/retire '{"version":"1.0"}'
grep -q 'in 2 VM(s)' out.json && grep -q 'vm-1' out.json && grep -q '1 not named' out.json ||
  fail "the refusal does not count both VMs: $(cat out.json)"
! grep -q 'vm-secret-li' out.json || fail "the refusal names the LI VM: $(cat out.json)"
[ "$(call operator POST /v1/packages/app/retire '{"versio":"1.0"}')" = 400 ] && grep -q 'versio: unknown field' out.json ||
  fail "a malformed retirement: $(cat out.json)"
refused 404 "no version '9.9'" operator POST /v1/packages/app/retire '{"version":"9.9"}'
[ "$(call auditor POST /v1/packages/app/retire '{"version":"1.0"}')" = 403 ] || fail "an auditor retired"
[ "$(call tenant-example POST /v1/packages/app/retire '{"version":"1.0"}')" = 404 ] || fail "a tenant reached the operator's package"
pass "retiring a version VMs may run is refused (409, counted: 2, the LI VM not named, recorded); bad body 400, unknown version 404, other roles refused"

# A newer version: once both VMs are known not to run 1.0, 1.0 can go.
[ "$(upload operator PUT app a2.csar)" = 200 ] || fail "app 2.0: $(cat out.json)"
img2=$(sha256sum src-a2.csar/Artifacts/Images/probe.qcow2 | cut -d' ' -f1)
refused 409 'in 2 VM(s)' operator POST /v1/packages/app/retire '{"version":"1.0"}'
[ "$(call host POST /v1/packages/app/image-reports "{\"vm\":\"vm-1\",\"digest\":\"sha256:$img2\",\"event\":\"resume\"}")" = 200 ] ||
  fail "vm-1's report: $(cat out.json)"
[ "$(call operator DELETE /v1/model/vm/vm-secret-li)" = 200 ] || fail "remove the LI VM: $(cat out.json)"
[ "$(call operator POST /v1/packages/app/retire '{"version":"1.0","reason":"superseded"}')" = 200 ] &&
  grep -q '"current":false' out.json || fail "1.0 not retired once no VM runs it: $(cat out.json)"
refused 409 'retired already' operator POST /v1/packages/app/retire '{"version":"1.0"}'
refused 409 'in 1 VM(s)' mano POST /v1/packages/app/retire '{"version":"2.0"}'
[ "$(call operator DELETE /v1/model/vm/vm-1)" = 200 ] || fail "remove vm-1"
[ "$(call mano POST /v1/packages/app/retire '{"version":"2.0"}')" = 200 ] && grep -q '"current":true' out.json ||
  fail "2.0 not retired once no VM runs it: $(cat out.json)"
as operator "$LISECD_URL/v1/packages/app" >app.json
grep -q '"retired":true' app.json &&
  grep -q '"retirements":\[{"reason":"superseded","retired_at":"[^"]*","retired_by":"[^"]*","version":"1.0"},{[^]]*"version":"2.0"}\]' app.json ||
  fail "the retirements are not readable: $(cat app.json)"
pass "retired once no VM may run it (the image report shows vm-1 on 2.0); readable in the package's history"

# A retired version is not instantiated: placement and the start check deny it.
call mano POST /v1/decisions/placement '{"id":"vm-new","host":"host-dev","sensitivity":"general","domain":"core","package":"app"}' >/dev/null
grep -q '"allow":false' out.json && grep -q '"requirement":"NFV-SEC025-RETIRED"' out.json ||
  fail "the placement of a retired version was not denied: $(cat out.json)"
model_put vm "$(vm vm-2 general app)"
[ "$(call host POST /v1/image-checks "{\"vm\":\"vm-2\",\"digest\":\"sha256:$img2\"}")" = 200 ] &&
  grep -q '"compliant":false' out.json && grep -q 'NFV-SEC025-RETIRED' out.json ||
  fail "the start of a retired version was not refused: $(cat out.json)"
[ "$(call operator DELETE /v1/model/vm/vm-2)" = 200 ] || fail "remove vm-2"
pass "a retired version is denied at placement and at the start check (NFV-SEC025-RETIRED)"

# The retired current version does not come back as a replacement that
# spells it otherwise ("02.0", "2-0": equal to 2.0 in the version order).
for c in a2z a2d; do
  before=$(rows)
  code=$(upload operator PUT app $c.csar)
  [ "$code" = 409 ] && grep -q "NFV-SEC025-onboarding-2" out.json && grep -q "not newer than the on-boarded version '2.0'" out.json ||
    fail "$c: the retired version 2.0 came back under another spelling: $code $(cat out.json)"
  [ "$(rows)" -gt "$before" ] || fail "$c: the refused replacement is not recorded"
  [ "$(pkgv app)" = 2.0 ] || fail "$c: the refused replacement changed the package"
done
call mano POST /v1/decisions/placement '{"id":"vm-new","host":"host-dev","sensitivity":"general","domain":"core","package":"app"}' >/dev/null
grep -q '"allow":false' out.json && grep -q '"requirement":"NFV-SEC025-RETIRED"' out.json ||
  fail "the retired version is placed again: $(cat out.json)"
pass "a replacement by the retired version spelled otherwise (02.0, 2-0) is refused (409, recorded); 2.0 stays retired"

# ---- vendor CRLs ------------------------------------------------------------------
[ "$(upload operator POST va a1.csar)" = 201 ] || fail "on-board va: $(cat out.json)"
[ "$(upload operator POST vb b.csar)" = 201 ] || fail "on-board vb: $(cat out.json)"
model_put vm "$(vm vm-a general va)"
model_put vm "$(vm vm-b general vb)"
model_put vm "$(vm vm-hidden-li li va)"
# An LI monitors vm-mon (declared general, running va; vm-hidden-li is its
# LI VM); vm-twin is vm-mon in every declared respect but no LI names it.
# Which VM an LI monitors is li-admin's alone to know (TR 103 308 §4.1):
# what the operator reads of a revoked package or of a refused retirement
# must name them alike.
model_put jurisdiction '{"id":"fi","codes":["FI"]}'
model_put lea '{"id":"lea-fi","name":"NBI","jurisdiction":"fi"}'
model_put vm "$(vm vm-mon general va)"
model_put vm "$(vm vm-twin general va)"
model_put vm '{"id":"vm-store","hypervisor":"hv-dev","sensitivity":"li","domain":"li"}'
model_put storage '{"id":"st-li","vm":"vm-store","provided_to":["vm-hidden-li"]}'
model_put connection '{"id":"c-li-store","between":["vm-hidden-li","vm-store"],"kind":"nfs","secure":true}'
model_put group '{"id":"g-li-store","connections":["c-li-store"]}'
[ "$(call li-admin POST /v1/model/li '{"id":"li-1","jurisdiction":"fi","lea":"lea-fi","monitored":"vm-mon","host":"vm-hidden-li","storage":"st-li","valid_from":"2025-01-01T00:00:00Z","valid_until":"2035-01-01T00:00:00Z"}')" = 201 ] ||
  fail "the LI: $(cat out.json)"
refused 409 'in 4 VM(s)' operator POST /v1/packages/va/retire '{"version":"1.0"}'
grep -q 'vm-mon' out.json && grep -q 'vm-twin' out.json && grep -q '1 not named' out.json && ! grep -q 'vm-hidden-li' out.json ||
  fail "the refused retirement names the monitored VM otherwise than its twin, or the LI VM: $(cat out.json)"
pass "a refused retirement names the monitored VM as its twin and counts the LI VM unnamed"
openssl ca -config vca/ca.cnf -revoke vendor.crt 2>/dev/null || fail "openssl ca -revoke"
gencrl vca crl.pem
openssl crl -in crl.pem -outform DER -out crl.der
gencrl vca expired.pem -crl_lastupdate "$(date -u -d '-2 days' +%Y%m%d%H%M%SZ)" -crl_nextupdate "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)"
openssl ca -config rca/ca.cnf -revoke vendor.crt 2>/dev/null || true
gencrl rca rogue.pem
gencrl oca operator.pem
# (PEM is base64, dashes and spaces: only its line ends need escaping)
crl_json() { printf '{"crl":"%s"}' "$(awk '{printf "%s\\n", $0}' "$1")"; }
held() { as operator "$LISECD_URL/v1/packages/vendors/crl" | grep -o '"issuer"' | wc -l; }
refused 403 'TR103308-4.1-CRL' operator PUT /v1/packages/vendors/crl "$(crl_json rogue.pem)"
grep -q 'does not verify' out.json || fail "the rogue CA's CRL: $(cat out.json)"
refused 403 'is not a vendor CA' operator PUT /v1/packages/vendors/crl "$(crl_json operator.pem)"
refused 403 'expired' operator PUT /v1/packages/vendors/crl "$(crl_json expired.pem)"
refused 400 'TR103308-4.1-CRL' operator PUT /v1/packages/vendors/crl "$(crl_json <(head -c 300 crl.pem))"
refused 400 'TR103308-4.1-CRL' operator PUT /v1/packages/vendors/crl '{"crl":"bm90IGEgQ1JMIGF0IGFsbA=="}'
refused 413 'max_crl' operator PUT /v1/packages/vendors/crl "{\"crl\":\"$(head -c 6000 /dev/urandom | base64 -w0)\"}"
[ "$(call mano PUT /v1/packages/vendors/crl "$(crl_json crl.pem)")" = 403 ] || fail "MANO loaded a CRL"
[ "$(held)" = 0 ] || fail "a refused CRL was kept"
as operator "$LISECD_URL/v1/compliance" | grep -q 'TR103308-4.1-REVOKED' && fail "a finding without any CRL held"
pass "CRLs of another CA, of a CA with the vendor's name and another key, expired, malformed, not a CRL, oversized (413) and from MANO are refused naming TR103308-4.1-CRL; none is held"

[ "$(call operator PUT /v1/packages/vendors/crl "$(crl_json crl.pem)")" = 200 ] || fail "the vendor's CRL: $(cat out.json)"
grep -q '"revoked":1,' out.json && grep -q '"revoked_packages":\["app","down","va"\]' out.json ||
  fail "the CRL's reply: $(cat out.json)"
[ "$(call operator GET /v1/packages/va)" = 200 ] && grep -q '"compliant":false' out.json && grep -q 'TR103308-4.1-REVOKED' out.json ||
  fail "va is not marked non-compliant: $(cat out.json)"
[ "$(call operator GET /v1/packages/vb)" = 200 ] && grep -q '"compliant":true' out.json || fail "vb (not revoked): $(cat out.json)"
as operator "$LISECD_URL/v1/compliance" >c.json
python3 - c.json <<'PY' || fail "the compliance view: $(cat c.json)"
import json, sys
d = json.load(open(sys.argv[1]))
rev = [v for v in d["violations"] if v["requirement"] == "TR103308-4.1-REVOKED"]
subjects = {v["subject"] for v in rev}
assert d["compliant"] is False and d["counts"]["TR103308-4.1-REVOKED"] == len(rev), d
assert {"package va", "vm vm-a"} <= subjects, subjects
# the monitored VM's finding reads as its twin's (both named)
assert {"vm vm-mon", "vm vm-twin"} <= subjects, subjects
assert "vm vm-b" not in subjects and "package vb" not in subjects, subjects
assert [v for v in rev if v["subject"] == "vm vm-a" and "was revoked" in v["sentence"]], rev
# the LI VM of a revoked package is neither named nor counted to the
# operator: its row is li-admin's only (docs/model.md, "What each role sees")
assert not [v for v in rev if "vm-hidden-li" in json.dumps(v) or v["subject"].startswith("li")], rev
PY
as li-admin "$LISECD_URL/v1/compliance" >c-li.json
jq -e --argjson n "$(jq '.counts["TR103308-4.1-REVOKED"]' c.json)" \
  '([.violations[] | select(.requirement == "TR103308-4.1-REVOKED" and .subject == "li-vm vm-hidden-li")] | length) == 1 and
   .counts["TR103308-4.1-REVOKED"] == $n + 1' c-li.json >/dev/null || fail "li-admin does not see its LI VM's finding: $(cat c-li.json)"
pass "the vendor's CRL (PEM) revokes its signer: va is not compliant, and vm-a in /v1/compliance (TR103308-4.1-REVOKED); vb and vm-b are; the LI VM's finding is li-admin's only"

refused 403 'TR103308-4.1-REVOKED' operator POST /v1/packages "{\"id\":\"va2\",\"csar\":\"$(base64 -w0 a1.csar)\"}"
[ "$(call mano POST /v1/decisions/placement '{"id":"vm-new","host":"host-dev","sensitivity":"general","domain":"core","package":"va"}')" = 200 ] &&
  grep -q '"allow":false' out.json && grep -q 'TR103308-4.1-REVOKED' out.json || fail "placement of a revoked package: $(cat out.json)"
[ "$(upload operator POST vb2 b.csar)" = 201 ] || fail "another signer's package after the CRL: $(cat out.json)"
pass "a revoked signer is not on-boarded (403) nor placed; another signer's package still is"

# The same CRL in DER is taken again; an older list of the same CA is not.
[ "$(call operator PUT /v1/packages/vendors/crl "{\"crl\":\"$(base64 -w0 crl.der)\"}")" = 200 ] || fail "the CRL in DER: $(cat out.json)"
refused 403 'older' operator PUT /v1/packages/vendors/crl "$(crl_json before.pem)"
[ "$(held)" = 1 ] || fail "not exactly one CRL held"
as operator "$LISECD_URL/v1/packages/va" | grep -q '"compliant":false' || fail "the older CRL un-revoked va"
pass "the CRL in DER is accepted; an older CRL of the same CA is refused (it would un-revoke), va stays revoked"

cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
cli operator pkg crl list | grep -q 'O=Vendor' || fail "lisec pkg crl list"
cli operator pkg crl load crl.pem | grep -q 'package va' || fail "lisec pkg crl load"
rc=0; cli operator pkg crl load expired.pem >out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q expired out || fail "lisec pkg crl load of an expired CRL: $rc $(cat out)"
rc=0; cli operator pkg retire vb --version 1.0 >out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'NFV-SEC025-RETIRED' out || fail "lisec pkg retire of a version vm-b runs: $rc $(cat out)"
cli operator pkg retire vb2 --version 1.0 | grep -q 'retired' || fail "lisec pkg retire"
cli operator pkg list >out
grep -q '^vb2 .*\[retired\]' out && grep -q '^va .*NOT compliant' out && ! grep -q '^vb .*\(retired\|NOT\)' out ||
  fail "lisec pkg list does not mark retired and revoked packages: $(cat out)"
pass "lisec pkg crl load / list, lisec pkg retire and the marks of lisec pkg list against lisecd"
stop_lisecd
if grep -E 'Sanitizer|runtime error' "$work/lisecd.log"; then fail "lisecd: sanitizer report"; fi
