#!/usr/bin/env bash
# VNF package on-boarding through a real lisecd. A signing PKI is made with
# openssl (vendor, a second vendor identity, a rogue vendor CA, operator, LI
# administration); packages are built and signed with `lisec pkg sign` /
# `countersign` and changed with python3's zipfile. On-boarding must accept
# the good package (its digest equal to sha256sum's) and refuse, naming the
# requirement and leaving an audit record, a changed artifact, a wrong-CA
# signer, a missing operator countersignature, an LI VNF without the LI
# administration's, an oversized upload (api max_body and pkg max_package),
# a role that may not on-board, a tenant reading or replacing another's
# package and a new version from another vendor identity. Image reports
# (only from the host running the VM, under the VM's own package),
# the CLI's online subcommands, a package listing its image with SHA-512
# (made with sha512sum, openssl cms and zip: its image known by its SHA-256
# in reports and at retirement), and a restart that keeps everything.
set -euo pipefail
build=${1:?usage: pkg_api.sh BUILD_DIR SRC_DIR}
src=${2:?usage: pkg_api.sh BUILD_DIR SRC_DIR}
. "$src/tests/integration/lib/common.sh"
cd "$work"
# After lisecd stops: nothing the sanitizers found (ASan builds) in its log.
stop_checked() {
  stop_lisecd
  if grep -E 'Sanitizer|runtime error' "$work/lisecd.log"; then fail "lisecd: sanitizer report"; fi
}
pki=$work/pki
make_pki "$pki"
make_li_admin_key li-admin

# ---- the signing PKI ---------------------------------------------------------
. "$src/tests/integration/lib/csar.sh"
mkca vca Vendor
mkca oca Operator
mkca lca "LI Administration"
mkca rca Vendor
issue vca vendor Vendor
issue vca vendor2 "Other Vendor"
issue rca vendor-rogue Vendor
issue oca operator Operator
issue lca li-admin "LI Administration"
trust=(--vendor-ca vca/ca.crt --operator-ca oca/ca.crt --li-admin-ca lca/ca.crt)

mkpkg good.csar vendor 1.0 20000 operator
mkpkg v2.csar vendor 2.0 20000 operator
mkpkg other.csar vendor2 3.0 20000 operator
mkpkg rogue.csar vendor-rogue 1.0 20000 operator
mkpkg vendoronly.csar vendor 1.0 20000
mkpkg li.csar vendor 1.0 20000 operator li-admin --li
mkpkg big.csar vendor 1.0 300000 operator
mkpkg huge.csar vendor 1.0 900000 operator
python3 - good.csar tampered.csar <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
    for info in zi.infolist():
        data = zi.read(info)
        if info.filename.endswith("probe.qcow2"):
            data = bytes([data[0] ^ 1]) + data[1:]
        zo.writestr(info, data)
PY
pass "signing PKI and packages (good, v2, other vendor, rogue CA, vendor only, LI, big, tampered)"

start_lisecd "$pki" "[api]" "max_body = 1048576" "[audit]" "li_admin_key = $work/li-admin.pub" \
  "[pkg]" "vendor_ca = $work/vca/ca.crt" "operator_ca = $work/oca/ca.crt" \
  "li_admin_ca = $work/lca/ca.crt" "max_package = 200000" "[server]" "bulk_channels = 0"
# (bulk_channels 0: the on-boardings run on the request channels' threads,
# as before bulk work had threads of its own; the other lisecd below, and
# pkg_agent, run them on the bulk threads)

audit_rows() { sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log'; }
sealed_rows() { sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log WHERE sealed = 1'; }
# post ROLE ID CSAR [LI] [METHOD]: prints the reply, then the status on its own line.
post() {
  local role=$1 id=$2 csar=$3 li=${4:-false} method=${5:-POST} url=$LISECD_URL/v1/packages
  if [ "$method" = PUT ]; then
    printf '{"li":%s,"csar":"%s"}' "$li" "$(base64 -w0 "$csar")" >body.json
    url=$url/$id
  else
    printf '{"id":"%s","li":%s,"csar":"%s"}' "$id" "$li" "$(base64 -w0 "$csar")" >body.json
  fi
  as "$role" -X "$method" -w '\n%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @body.json "$url"
}
# expect STATUS TEXT ROLE ID CSAR [LI] [METHOD]: the status, TEXT in the reply, one audit record more.
expect() {
  local status=$1 text=$2 before after out
  shift 2
  before=$(audit_rows)
  out=$(post "$@")
  [ "${out##*$'\n'}" = "$status" ] || fail "expected $status from $*: $out"
  grep -qF -- "$text" <<<"$out" || fail "reply lacks '$text': $out"
  after=$(audit_rows)
  [ "$after" -gt "$before" ] || fail "no audit record for: $*"
  pass "$status ($text): $1 $2 $3"
}

out=$(post operator probe good.csar)
[ "${out##*$'\n'}" = 201 ] || fail "good package refused: $out"
want=$(sha256sum good.csar | cut -d' ' -f1)
grep -q "\"sha256\":\"$want\"" <<<"$out" || fail "stored digest is not sha256sum's ($want)"
pass "good package on-boarded; its digest is sha256sum's"

expect 403 "TR103308-4.2" operator tampered tampered.csar
expect 403 "TR103308-4.1" operator rogue rogue.csar
expect 403 "no operator countersignature" operator vendoronly vendoronly.csar
expect 403 "TR103308-4.1" operator li-noli good.csar true
expect 413 "max_package" operator big big.csar
out=$(post operator huge huge.csar)
[ "${out##*$'\n'}" = 413 ] && grep -q max_body <<<"$out" || fail "a body over [api] max_body: $out"
pass "413 (max_body): a body over [api] max_body is refused before parsing"
expect 409 "exists already" operator probe good.csar
before=$(sealed_rows)
expect 201 '"li":true' operator li-probe li.csar true
[ "$(sealed_rows)" -gt "$before" ] || fail "the LI VNF's on-boarding was not sealed to the LI administration"
pass "the LI VNF's on-boarding record is sealed to the LI administration"

for role in hypervisor-admin li-admin auditor host; do expect 403 "may not" "$role" x good.csar; done
expect 201 '"owner":"tenant:example"' tenant-example t-probe good.csar
[ "$(as tenant-example "$LISECD_URL/v1/packages" | python3 -c 'import json,sys; print(sorted(p["id"] for p in json.load(sys.stdin)["packages"]))')" = "['t-probe']" ] ||
  fail "a tenant sees other packages than its own"
[ "$(as operator "$LISECD_URL/v1/packages" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["packages"]))')" = 3 ] ||
  fail "the operator does not see every package"
# Each tenant has its own package ids: another owner's id answers exactly as
# an id nobody has (no 403/404 oracle), and can be taken by every tenant.
lisec pki issue "$pki" tenant-other tenant:other tenant-other >/dev/null
get_pkg() { as "$1" -o out.json -w '%{http_code}' "$LISECD_URL/v1/packages/$2"; }
[ "$(get_pkg tenant-example probe)" = 404 ] || fail "a tenant reached the operator's package: $(cat out.json)"
a=$(sed 's/probe/X/g' out.json)
[ "$(get_pkg tenant-example nobody-has-this)" = 404 ] || fail "an unknown id: $(cat out.json)"
[ "$a" = "$(sed 's/nobody-has-this/X/g' out.json)" ] || fail "another owner's id and an unknown id answer differently"
[ "$(get_pkg tenant-other t-probe)" = 404 ] || fail "a tenant reached another tenant's package: $(cat out.json)"
out=$(post tenant-example probe v2.csar false PUT)
[ "${out##*$'\n'}" = 404 ] || fail "a tenant's PUT of the operator's id: $out"
expect 201 '"owner":"tenant:other"' tenant-other t-probe v2.csar
expect 201 '"owner":"tenant:example"' tenant-example probe good.csar
[ "$(get_pkg tenant-example t-probe)" = 200 ] && grep -q '"package_version":"1.0"' out.json &&
  grep -q '"owner":"tenant:example"' out.json || fail "tenant-example's t-probe changed: $(cat out.json)"
[ "$(get_pkg tenant-other t-probe)" = 200 ] && grep -q '"package_version":"2.0"' out.json &&
  grep -q '"scoped_id":"tenant:other:t-probe"' out.json || fail "tenant-other's t-probe: $(cat out.json)"
[ "$(get_pkg operator probe)" = 200 ] && grep -q '"owner":"operator"' out.json || fail "the operator's probe: $(cat out.json)"
# The operator addresses a tenant's package by its scoped id; an operator
# package id may not look like one.
[ "$(get_pkg operator tenant:example:t-probe)" = 200 ] && grep -q '"owner":"tenant:example"' out.json &&
  grep -q '"id":"t-probe"' out.json || fail "the operator cannot read tenant:example:t-probe: $(cat out.json)"
out=$(post operator tenant:example:x good.csar)
[ "${out##*$'\n'}" = 400 ] && grep -q 'names a tenant' <<<"$out" || fail "an operator id in a tenant's namespace: $out"
as operator "$LISECD_URL/v1/packages" | python3 -c '
import json, sys
ids = sorted(p["scoped_id"] for p in json.load(sys.stdin)["packages"])
want = sorted(["probe", "li-probe", "tenant:example:t-probe", "tenant:other:t-probe", "tenant:example:probe"])
assert ids == want, ids' || fail "the operator's list does not show every package by its scoped id"
pass "each tenant has its own package ids: no oracle, no claiming another's id; the operator reads them scoped"

expect 403 "NFV-SEC025-onboarding-2" operator probe other.csar false PUT
expect 409 "NFV-SEC025-onboarding-2" operator probe good.csar false PUT
expect 200 '"package_version":"2.0"' operator probe v2.csar false PUT
as operator "$LISECD_URL/v1/packages/probe" | grep -q '"previous":\[{"images":\["sha256:[0-9a-f]\{64\}"\],"onboarded_at":"[^"]*","package_version":"1.0"' ||
  fail "the replaced version is not kept in the history (with its image)"

# ---- image reports ---------------------------------------------------------
img=$(sha256sum src-v2.csar/Artifacts/Images/probe.qcow2 | cut -d' ' -f1)
old=$(sha256sum src-good.csar/Artifacts/Images/probe.qcow2 | cut -d' ' -f1)
# The VMs run on host-dev (the CN of the development PKI's host certificate)
# and name their package in the trust model; vm-9 runs on another host.
lisec pki issue "$pki" other-host host other-host >/dev/null
model_put() { # KIND JSON
  [ "$(as operator -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$2" \
    "$LISECD_URL/v1/model/$1")" = 201 ] || fail "model put $1 $2"
}
model_put host '{"id":"host-dev","protection":"sensitive"}'
model_put host '{"id":"other-host","protection":"sensitive"}'
model_put hypervisor '{"id":"hv-dev","host":"host-dev"}'
model_put hypervisor '{"id":"hv-other","host":"other-host"}'
for vm in vm-1 vm-2 vm-3 vm-4; do
  model_put vm "{\"id\":\"$vm\",\"hypervisor\":\"hv-dev\",\"sensitivity\":\"general\",\"domain\":\"core\",\"package\":\"probe\"}"
done
model_put vm '{"id":"vm-9","hypervisor":"hv-other","sensitivity":"general","domain":"core","package":"probe"}'
model_put vm '{"id":"vm-nopkg","hypervisor":"hv-dev","sensitivity":"general","domain":"core"}'
before=$(audit_rows)
as host -d "{\"vm\":\"vm-1\",\"digest\":\"sha256:$img\",\"event\":\"instantiate\"}" \
  "$LISECD_URL/v1/packages/probe/image-reports" | grep -q '"compliant":true' || fail "the right image is not compliant"
as host -d "{\"vm\":\"vm-2\",\"digest\":\"sha256:$old\",\"event\":\"migrate\"}" \
  "$LISECD_URL/v1/packages/probe/image-reports" | grep -q '"compliant":false' || fail "the old image passed"
as operator "$LISECD_URL/v1/image-reports/vm-2" | grep -q 'TR103308-4.2' || fail "the report is not kept"
[ "$(audit_rows)" -ge $((before + 2)) ] || fail "image reports not recorded"
code=$(as host -o /dev/null -w '%{http_code}' -d '{"vm":"vm-3","digest":"md5:00","event":"resume"}' \
  "$LISECD_URL/v1/packages/probe/image-reports")
[ "$code" = 400 ] || fail "a malformed digest: $code"
pass "image reports: the package's image is compliant, an older one is not (recorded)"
# A VM running the wrong image is a violation of the platform until a report
# shows the right one.
image_finding() { # VM: 0 when /v1/compliance names VM's image
  as operator "$LISECD_URL/v1/compliance" >"$work/compliance.json"
  python3 - "$work/compliance.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
hit = [v for v in d["violations"] if v["requirement"] == "TR103308-4.2-IMAGE" and v["subject"] == "vm " + sys.argv[2]]
assert (not hit) or (d["compliant"] is False and d["counts"]["TR103308-4.2-IMAGE"] >= 1), d
sys.exit(0 if hit else 1)
PY
}
image_finding vm-2 || fail "vm-2 runs an old image, yet /v1/compliance does not say so: $(cat "$work/compliance.json")"
! image_finding vm-1 || fail "vm-1 runs its package's image, yet is reported"
# Only the host that runs the VM reports its image, and only under the VM's
# own package: another host's certificate, MANO, the operator, a package
# the VM does not run (t-probe holds the old image) and a VM with no
# package are refused naming the requirement and recorded; the finding stays.
refused_report() { # ROLE VM PACKAGE DIGEST TEXT
  local rows code
  rows=$(audit_rows)
  code=$(as "$1" -o out.json -w '%{http_code}' -d "{\"vm\":\"$2\",\"digest\":\"sha256:$4\",\"event\":\"resume\"}" \
    "$LISECD_URL/v1/packages/$3/image-reports")
  [ "$code" = 403 ] && grep -q '"requirement":"TR103308-4.2-IMAGE"' out.json && grep -qF -- "$5" out.json ||
    fail "$1's report of $2 under $3: $code $(cat out.json)"
  [ "$(audit_rows)" -gt "$rows" ] || fail "$1's refused report of $2 is not recorded"
}
refused_report other-host vm-2 probe "$img" "VM vm-2 does not run on host other-host"
! grep -q host-dev out.json || fail "another host is told where vm-2 runs: $(cat out.json)"
refused_report mano vm-2 probe "$img" "only the host that runs VM vm-2"
refused_report operator vm-2 probe "$img" "only the host that runs VM vm-2"
refused_report host vm-2 t-probe "$old" "runs package probe, not t-probe"
refused_report host vm-9 probe "$img" "VM vm-9 does not run on host host-dev"
cp out.json vm9.json
refused_report host vm-nopkg probe "$img" "names no package"
refused_report host vm-unknown probe "$img" "VM vm-unknown does not run on host host-dev"
[ "$(sed 's/vm-9/VM/g' vm9.json)" = "$(sed 's/vm-unknown/VM/g' out.json)" ] ||
  fail "a host tells a VM it does not run from an unknown one: $(cat vm9.json out.json)"
image_finding vm-2 || fail "a refused report cleared vm-2's finding"
pass "image reports only from the host running the VM, under its own package; others refused (403, recorded), the finding stays"
as host -d "{\"vm\":\"vm-2\",\"digest\":\"sha256:$img\",\"event\":\"resume\"}" \
  "$LISECD_URL/v1/packages/probe/image-reports" | grep -q '"compliant":true' || fail "vm-2's right image"
! image_finding vm-2 || fail "vm-2 now runs the right image, yet is still reported"
pass "a VM on the wrong image is non-compliant in /v1/compliance (TR103308-4.2-IMAGE) until it runs the right one"

# ---- the CLI against lisecd -------------------------------------------------
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
cli operator pkg list | grep -q 'probe' || fail "lisec pkg list"
cli operator pkg show probe --json | grep -q '"package_version": "2.0"' || fail "lisec pkg show"
cli operator pkg onboard good.csar --id cli-probe >/dev/null || fail "lisec pkg onboard"
rc=0; cli operator pkg onboard tampered.csar --id cli-bad >out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q TR103308-4.2 out || fail "lisec pkg onboard of a tampered package: $rc $(cat out)"
rc=0; cli host pkg image-report probe --vm vm-4 --digest "sha256:$old" --event resume >out 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "lisec pkg image-report of a wrong image: exit $rc"
cli host pkg image-report probe --vm vm-4 --digest "sha256:$img" --event resume >/dev/null ||
  fail "lisec pkg image-report of the right image"
pass "lisec pkg onboard / list / show / image-report against lisecd"

# ---- an image listed with SHA-512 -------------------------------------------
# SOL 004 allows SHA-384 and SHA-512 in the manifest; hosts report (and
# inventories show) the image a VM runs by its SHA-256. A package made by
# an independent producer (sha512sum, openssl cms, zip) with SHA-512
# digests: its image is still recognised by its SHA-256, and a VM running
# an earlier version's image still holds that version from retirement.
mk512() { # OUT VERSION: a SHA-512 package signed and countersigned with openssl
  local d=s512-$1
  rm -rf "$d" && mksrc "$d" 20000
  {
    printf 'metadata:\nvnf_provider_id: Acme\nvnf_product_name: vP512\n'
    printf 'vnf_release_date_time: 2026-01-01T00:00:00+00:00\nvnf_package_version: %s\n' "$2"
    for f in TOSCA-Metadata/TOSCA.meta Definitions/probe.yaml Artifacts/Images/probe.qcow2; do
      printf '\nSource: %s\nAlgorithm: SHA-512\nHash: %s\n' "$f" "$(sha512sum "$d/$f" | cut -d' ' -f1)"
    done
    echo
  } >"$d.body"
  openssl cms -sign -binary -in "$d.body" -signer vendor.crt -inkey vendor.key -outform PEM -out "$d.sig"
  cat "$d.body" "$d.sig" >"$d/probe.mf"
  mkdir -p "$d/Files" "$d/Countersignatures" && cp vendor.crt "$d/Files/probe.cert"
  openssl cms -sign -binary -in "$d/probe.mf" -signer operator.crt -inkey operator.key -outform PEM \
    -out "$d/Countersignatures/operator.cms"
  (cd "$d" && rm -f "../$1" && zip -qrX "../$1" .)
}
mk512 p512-1.csar 1.0
mk512 p512-2.csar 2.0
img1=$(sha256sum s512-p512-1.csar/Artifacts/Images/probe.qcow2 | cut -d' ' -f1)
img2=$(sha256sum s512-p512-2.csar/Artifacts/Images/probe.qcow2 | cut -d' ' -f1)
expect 201 '"algorithm":"SHA-512"' operator p512 p512-1.csar
model_put vm '{"id":"vm-5","hypervisor":"hv-dev","sensitivity":"general","domain":"core","package":"p512"}'
as host -d "{\"vm\":\"vm-5\",\"digest\":\"sha256:$img1\",\"event\":\"instantiate\"}" \
  "$LISECD_URL/v1/packages/p512/image-reports" >out.json
grep -q '"compliant":true' out.json || fail "the image of a SHA-512 package, reported by its SHA-256: $(cat out.json)"
expect 200 '"package_version":"2.0"' operator p512 p512-2.csar false PUT
as host -d "{\"vm\":\"vm-5\",\"digest\":\"sha256:$img1\",\"event\":\"resume\"}" \
  "$LISECD_URL/v1/packages/p512/image-reports" | grep -q '"compliant":false' || fail "version 1.0's image passed for 2.0"
code=$(as operator -o out.json -w '%{http_code}' -d '{"version":"1.0"}' "$LISECD_URL/v1/packages/p512/retire")
[ "$code" = 409 ] && grep -q 'vm-5' out.json ||
  fail "version 1.0 retired while vm-5 runs its image (a SHA-512 package): $code $(cat out.json)"
as host -d "{\"vm\":\"vm-5\",\"digest\":\"sha256:$img2\",\"event\":\"resume\"}" \
  "$LISECD_URL/v1/packages/p512/image-reports" | grep -q '"compliant":true' || fail "version 2.0's image"
code=$(as operator -o out.json -w '%{http_code}' -d '{"version":"1.0"}' "$LISECD_URL/v1/packages/p512/retire")
[ "$code" = 200 ] || fail "version 1.0 not retired once vm-5 runs 2.0: $code $(cat out.json)"
pass "a package listing its image with SHA-512: the image is known by its SHA-256 (reports, retirement)"

# A description stored before lisec kept an image's SHA-256 beside its
# SHA-512 (made here by taking the field out of the stored description):
# not compliant, naming the requirement and what to do; the same CSAR
# uploaded again is verified again and mends it (history and retirements
# kept); another CSAR of the same version is still refused.
python3 - "$work/lisec.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
(body,) = db.execute("SELECT body FROM documents WHERE kind = 'pkg' AND id = 'p512'").fetchone()
doc = json.loads(body)
for a in doc["verification"]["artifacts"]:
    a.pop("sha256", None)
db.execute("UPDATE documents SET body = ? WHERE kind = 'pkg' AND id = 'p512'",
           (json.dumps(doc, sort_keys=True, separators=(",", ":")),))
db.commit()
PY
as operator "$LISECD_URL/v1/packages/p512" >out.json
jq -e '.compliant == false and (.images_not_judged | test("^TR103308-4.2-IMAGE: images not judged: package p512 .*PUT /v1/packages/p512"))' \
  out.json >/dev/null || fail "a description without its image's SHA-256: $(cat out.json)"
as operator "$LISECD_URL/v1/compliance" >out.json
python3 - out.json <<'PY' || fail "compliance does not report p512 and vm-5: $(cat out.json)"
import json, sys
d = json.load(open(sys.argv[1]))
rows = [v for v in d["violations"] if v["requirement"] == "TR103308-4.2-IMAGE"]
subjects = sorted(v["subject"] for v in rows)
# the operator reads why (an image row names a VM, its host and package,
# no LI; an LI VM's row is withheld by its subject)
why = all("images not judged" in json.dumps(v) for v in rows)
sys.exit(0 if subjects == ["package p512", "vm vm-5"] and why and d["compliant"] is False else 1)
PY
mk512 p512-2b.csar 2.0
expect 409 "on-boarded already" operator p512 p512-2b.csar false PUT
expect 200 '"package_version":"2.0"' operator p512 p512-2.csar false PUT
as operator "$LISECD_URL/v1/packages/p512" >out.json
jq -e --arg s "$img2" '.compliant == true and (.images_not_judged == null) and
    ([.verification.artifacts[] | select(.image) | .sha256] == [$s]) and
    ([.previous[].package_version] == ["1.0"]) and ([.retirements[].version] == ["1.0"])' out.json >/dev/null ||
  fail "the same CSAR uploaded again: $(cat out.json)"
expect 409 "on-boarded already" operator p512 p512-2.csar false PUT
pass "a description stored without an image's SHA-256 is not compliant until the same CSAR is uploaded again"

# ---- a restart keeps everything ---------------------------------------------
rows=$(audit_rows)
stop_checked
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li-admin.pub" \
  "[pkg]" "vendor_ca = $work/vca/ca.crt" "operator_ca = $work/oca/ca.crt" "li_admin_ca = $work/lca/ca.crt"
as operator "$LISECD_URL/v1/packages/probe" | grep -q '"package_version":"2.0"' || fail "lost after restart"
expect 409 "NFV-SEC025-onboarding-2" operator probe v2.csar false PUT
[ "$(audit_rows)" -gt "$rows" ] || fail "audit log restarted"
pass "after a restart the packages, their versions and the audit log are kept"
stop_checked
