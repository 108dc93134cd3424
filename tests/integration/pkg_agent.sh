#!/usr/bin/env bash
# The image a VM runs, reported by the host (TR 103 308 §4.2): the libvirt
# QEMU hook (examples/libvirt/hooks/qemu), called exactly as libvirtd calls
# it with domain XML that libvirt's own test driver wrote, has lisec-agent
# hash the base image of the domain's disk and report it to a real lisecd
# holding an on-boarded, signed package. Checked: the right image is
# compliant (event instantiate), a changed one is not and is a violation in
# /v1/compliance (event resume), an accepted incoming migration reports
# event migrate and a refused one leaves no mark; at prepare begin the hook
# refuses to start a changed image (lisec-agent check-image); only the host running the
# VM (the certificate's CN, the model's hypervisor -> host) reports it, under
# the VM's own package; and the cases where there
# is nothing or no way to report (no package, no disk file, no server, a
# role that may not report, malformed, oversized or DTD-carrying XML).
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/model.sh"
. "$src/tests/integration/lib/csar.sh"
cd "$work"
command -v virsh >/dev/null || fail "virsh is not installed (libvirt-clients)"
pki=$work/pki
make_pki "$pki"
make_li_admin_key li-admin
mkca vca Vendor
mkca oca Operator
mkca lca "LI Administration"
issue vca vendor Vendor
issue oca operator Operator
mkpkg probe.csar vendor 1.0 20000 operator
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li-admin.pub" "[model]" "allow_declared_trust = true" \
  "[pkg]" "vendor_ca = $work/vca/ca.crt" "operator_ca = $work/oca/ca.crt" "li_admin_ca = $work/lca/ca.crt"
split_topology "$src/examples/helsinki-london.json" "$work/ents"
put_topology "$work/ents"
# vm-target runs package probe (its model document says so) on hel-2; a
# host's certificate names the host in its CN.
for h in hel-1 hel-2 lon-1; do lisec pki issue "$pki" "$h" host "$h" >/dev/null; done
vm_on() { # HYPERVISOR: the operator records where vm-target runs
  [ "$(as operator -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    -d "{\"id\":\"vm-target\",\"hypervisor\":\"$1\",\"sensitivity\":\"sensitive\",\"domain\":\"core\",\"package\":\"probe\"}" \
    "$LISECD_URL/v1/model/vm/vm-target")" = 200 ] || fail "vm-target on $1 not recorded"
}
vm_on hv-hel-2
printf '{"id":"probe","li":false,"csar":"%s"}' "$(base64 -w0 probe.csar)" >onboard.json
[ "$(as operator -o /dev/null -w '%{http_code}' --data-binary @onboard.json "$LISECD_URL/v1/packages")" = 201 ] ||
  fail "the package was not on-boarded"

# The VM's disk: a qcow2-style overlay on the package's image as its base.
mkdir images
cp src-probe.csar/Artifacts/Images/probe.qcow2 images/base.img
head -c 8192 /dev/urandom >images/overlay.img
base_digest=sha256:$(sha256sum images/base.img | cut -d' ' -f1)

# domain NAME METADATA DISK_XML: the domain XML as libvirt's test driver writes it.
domain() {
  cat >"def-$1.xml" <<XML
<domain type='test'><name>$1</name><memory>65536</memory><os><type>hvm</type></os>
  <metadata>$2</metadata>
  <devices><disk type='file' device='cdrom'><source file='$work/images/boot.iso'/><target dev='hdc'/></disk>$3</devices>
</domain>
XML
  virsh -q -c test:///default "define def-$1.xml; dumpxml $1" >"$1.xml" || fail "virsh define $1"
}
chain="<disk type='file' device='disk'><source file='$work/images/overlay.img'/>
  <backingStore type='file'><format type='raw'/><source file='$work/images/base.img'/><backingStore/></backingStore>
  <target dev='vda'/></disk>"
meta="<lisec:vm xmlns:lisec='urn:lisec:vm' id='vm-target' package='probe'/>"
domain probe-1 "$meta" "$chain"
grep -q "package='probe'\|package=\"probe\"" probe-1.xml && grep -q backingStore probe-1.xml ||
  fail "libvirt did not keep the metadata or the backing chain: $(cat probe-1.xml)"

hook=$src/examples/libvirt/hooks/qemu
agent=$build/cmd/lisec-agent/lisec-agent
export LISEC_HOOK_CONF=$work/no-such.conf LISEC_SERVER=$LISECD_URL LISEC_CERT=$pki/hel-2.crt \
  LISEC_KEY=$pki/hel-2.key LISEC_CA=$pki/ca.crt LISEC_AGENT=$agent LISEC_RUN_DIR=$work/run \
  LISEC_REPORT_LOG=$work/reports.log
touch reports.log
# hook XML DOMAIN OPERATION: the hook as libvirtd calls it; its exit code, stderr in hook.err.
hook() {
  local rc=0
  seen=$(wc -l <reports.log)
  "$hook" "$2" "$3" begin - <"$1" 2>hook.err || rc=$?
  return $rc
}
# reported DOMAIN EVENT: waits (10 s at most) for the outcome line of the
# report the last hook call started (detached), then prints it.
reported() {
  local line
  for _ in $(seq 100); do
    line=$(tail -n +$((seen + 1)) reports.log | grep -F "domain $1 ($2): " | tail -n 1) || true
    [ -n "$line" ] && { printf '%s\n' "$line"; return 0; }
    sleep 0.1
  done
  fail "no report of domain $1 ($2): $(cat reports.log)"
}
report_of() { as operator "$LISECD_URL/v1/image-reports/$1"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

hook probe-1.xml probe-1 started || fail "started: hook exit $?: $(cat hook.err)"
reported probe-1 instantiate | grep -q 'exit 0' || fail "instantiate: $(cat reports.log)"
r=$(report_of vm-target)
[ "$(field compliant <<<"$r")" = True ] && [ "$(field event <<<"$r")" = instantiate ] &&
  [ "$(field digest <<<"$r")" = "$base_digest" ] || fail "instantiate report: $r"
[ -z "$(ls run)" ] || fail "the hook left files in its run directory: $(ls run)"
pass "started: the base image of the disk's backing chain is reported (sha256sum's digest), compliant, event instantiate"

before=$(sqlite3 lisec.db 'SELECT COUNT(*) FROM audit_log')
cp images/base.img images/base.good
flip_byte images/base.img 100
hook probe-1.xml probe-1 restore || fail "restore: hook exit $?: $(cat hook.err)"
reported probe-1 resume | grep -q 'exit 1' || fail "resume of a changed image: $(cat reports.log)"
r=$(report_of vm-target)
[ "$(field compliant <<<"$r")" = False ] && [ "$(field event <<<"$r")" = resume ] || fail "resume report: $r"
as operator "$LISECD_URL/v1/compliance" | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(v["requirement"] == "TR103308-4.2-IMAGE" and v["subject"] == "vm vm-target" for v in d["violations"]) else 1)' ||
  fail "a VM on a changed image is not a violation in /v1/compliance"
[ "$(sqlite3 lisec.db 'SELECT COUNT(*) FROM audit_log')" -gt "$before" ] || fail "the mismatch is not recorded"
pass "restore: a changed image is reported as event resume, non-compliant, recorded, a TR103308-4.2-IMAGE violation"

mv images/base.good images/base.img
hook probe-1.xml probe-1 migrate && fail "migrate begin without a hypervisor configured was accepted"
LISEC_HYPERVISOR=hv-lon-1 hook probe-1.xml probe-1 migrate && fail "a migration to London was accepted"
LISEC_HYPERVISOR=hv-lon-1 hook probe-1.xml probe-1 started || fail "started after a refused migration: $(cat hook.err)"
reported probe-1 instantiate >/dev/null
[ "$(report_of vm-target | field event)" = instantiate ] || fail "a refused migration marked the VM as migrated"
LISEC_HYPERVISOR=hv-hel-1 hook probe-1.xml probe-1 migrate || fail "migrate begin to Helsinki refused: $(cat hook.err)"
[ -e run/incoming-migration.vm-target ] || fail "an accepted migration left no mark"
vm_on hv-hel-1
export LISEC_CERT=$pki/hel-1.crt LISEC_KEY=$pki/hel-1.key
LISEC_HYPERVISOR=hv-hel-1 hook probe-1.xml probe-1 started || fail "started after the migration: $(cat hook.err)"
reported probe-1 migrate | grep -q 'exit 0' || fail "migrate: $(cat reports.log)"
r=$(report_of vm-target)
[ "$(field event <<<"$r")" = migrate ] && [ "$(field compliant <<<"$r")" = True ] || fail "migrate report: $r"
[ ! -e run/incoming-migration.vm-target ] || fail "the migration mark outlived the start"
pass "started after an accepted incoming migration reports event migrate (and the right image again); a refused one leaves no mark"

# prepare begin (before a domain starts here, also on the incoming side of a
# migration): the hook has lisec-agent check-image hash the base image and
# lisecd hold it to the VM's package; a changed image refuses the start
# (exit 1, the requirement on stderr) and is recorded, while nothing is
# kept as a report.
LISEC_HYPERVISOR=hv-hel-1 hook probe-1.xml probe-1 prepare || fail "prepare on the right image refused: $(cat hook.err)"
LISEC_CERT=$pki/hel-2.crt LISEC_KEY=$pki/hel-2.key LISEC_HYPERVISOR=hv-hel-2 hook probe-1.xml probe-1 prepare ||
  fail "incoming side of an allowed migration refused: $(cat hook.err)"
cp images/base.img images/base.good
flip_byte images/base.img 300
# checks_denied: audit entries of refused image checks (entries are binary).
checks_denied() {
  python3 -c 'import sqlite3, sys
print(sum(1 for (d,) in sqlite3.connect(sys.argv[1]).execute("SELECT data FROM audit_log") if b"pkg.image-check" in d and b"denied" in d))' lisec.db
}
before=$(checks_denied)
rc=0; LISEC_HYPERVISOR=hv-hel-1 hook probe-1.xml probe-1 prepare || rc=$?
[ "$rc" = 1 ] && grep -q 'prepare of domain probe-1 on hv-hel-1 refused' hook.err &&
  grep -q "TR103308-4.2-IMAGE" hook.err && grep -q "not its package's" hook.err ||
  fail "a changed image was let start: exit $rc $(cat hook.err)"
rc=0; LISEC_CERT=$pki/hel-2.crt LISEC_KEY=$pki/hel-2.key LISEC_HYPERVISOR=hv-hel-2 hook probe-1.xml probe-1 prepare || rc=$?
[ "$rc" = 1 ] && grep -q "TR103308-4.2-IMAGE" hook.err || fail "a changed image was let in by migration: exit $rc $(cat hook.err)"
[ "$(checks_denied)" -ge $((before + 2)) ] ||
  fail "the refused starts are not in the audit log"
[ "$(report_of vm-target | field compliant)" = True ] || fail "a check was kept as an image report"
[ -z "$(ls run)" ] || fail "the check left files in the hook's run directory: $(ls run)"
pass "prepare begin: the right image starts (here and on an allowed migration's destination), a changed one is refused (exit 1, TR103308-4.2-IMAGE), recorded, not kept as a report"

# lisecd binds the check to the host that will run the VM, under its own
# package; a check that cannot be made refuses (fail closed).
rc=0; LISEC_CERT=$pki/lon-1.crt LISEC_KEY=$pki/lon-1.key "$agent" check-image --xml probe-1.xml >out.txt 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'not recorded on host lon-1' out.txt && grep -q 'does not allow it to move there' out.txt ||
  fail "London checked a VM it may not run: exit $rc $(cat out.txt)"
rc=0; LISEC_CERT=$pki/auditor.crt LISEC_KEY=$pki/auditor.key "$agent" check-image --xml probe-1.xml >out.txt 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'refuses the start' out.txt || fail "auditor: exit $rc $(cat out.txt)"
sed "s/package=.probe./package='other'/" probe-1.xml >other.xml
rc=0; "$agent" check-image --xml other.xml >out.txt 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'names package other, but VM vm-target runs package probe' out.txt ||
  fail "another package's name was accepted: exit $rc $(cat out.txt)"
sed "s|$work/images/base.img|$work/images/gone.img|" probe-1.xml >gone.xml
rc=0; LISEC_HYPERVISOR=hv-hel-1 hook gone.xml probe-1 prepare || rc=$?
[ "$rc" = 1 ] && grep -q 'could not be checked (TR103308-4.2-IMAGE, fail closed): exit 2' hook.err ||
  fail "a disk that cannot be hashed was let start: exit $rc $(cat hook.err)"
domain probe-nodisk "$meta" ""
rc=0; "$agent" check-image --xml probe-nodisk.xml >out.txt 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'no disk image file to check' out.txt || fail "a packaged VM without a disk file: exit $rc $(cat out.txt)"
rc=0; LISEC_AGENT=$work/no-such-agent LISEC_HYPERVISOR=hv-hel-1 hook probe-1.xml probe-1 prepare || rc=$?
[ "$rc" = 1 ] && grep -q 'fail closed' hook.err || fail "a failing agent let the domain start: exit $rc $(cat hook.err)"
rc=0; LISEC_SERVER=https://127.0.0.1:1 "$agent" check-image --xml probe-1.xml >out.txt 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "no lisecd: exit $rc $(cat out.txt)"
# said in lisec's words (what to check), never libcurl's or OpenSSL's
grep -q 'nothing accepted the connection' out.txt || fail "no lisecd: the agent does not say nothing listens: $(cat out.txt)"
! grep -Eiq 'getpeername|errno|SSL_|OpenSSL|curl|Failed to connect|Connection refused' out.txt ||
  fail "libcurl's text reached the agent's user: $(cat out.txt)"
mv images/base.good images/base.img
pass "check-image: another host, a role other than host, another package, a missing disk file, a packaged VM without disk, a failing agent, no lisecd: all refused"

# Nothing to report, or no way to: the domain still starts (exit 0) and the
# reason is in the log.
domain plain-1 "<lisec:vm xmlns:lisec='urn:lisec:vm' id='vm-plain'/>" "$chain"
hook plain-1.xml plain-1 started || fail "no package: hook exit $?"
reported plain-1 instantiate | grep -q 'exit 0: .*names no package' || fail "no package: $(cat reports.log)"
[ "$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/image-reports/vm-plain")" = 404 ] ||
  fail "a VM without a package was reported"
domain lost-1 "<lisec:vm xmlns:lisec='urn:lisec:vm' id='vm-lost' package='probe'/>" \
  "<disk type='file' device='disk'><source file='$work/images/gone.img'/><target dev='vda'/></disk>"
hook lost-1.xml lost-1 started || fail "missing disk: hook exit $?"
reported lost-1 instantiate | grep -q 'exit 2: .*cannot open the disk image .*gone.img' || fail "missing disk: $(cat reports.log)"
domain nodisk-1 "<lisec:vm xmlns:lisec='urn:lisec:vm' id='vm-nodisk' package='probe'/>" ""
hook nodisk-1.xml nodisk-1 started || fail "no disk: hook exit $?"
reported nodisk-1 instantiate | grep -q 'exit 2: .*no disk with an image file' || fail "no disk: $(cat reports.log)"
LISEC_SERVER= hook probe-1.xml probe-1 started || fail "no server: hook exit $?"
grep -q 'its image is not reported: LISEC_SERVER is not configured' hook.err || fail "no server: $(cat hook.err)"
pass "no package, a missing disk file, no file disk, no server: nothing reported, the domain starts, the log says why"

# lisec-agent report-image on its own: exit codes and refusals.
rc=0; "$agent" report-image --event resume --xml probe-1.xml >out.txt 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q "runs its package's image" out.txt || fail "agent, right image: exit $rc $(cat out.txt)"
flip_byte images/base.img 7
rc=0; "$agent" report-image --event resume --xml probe-1.xml >out.txt 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "does NOT run its package's image" out.txt || fail "agent, changed image: exit $rc $(cat out.txt)"
rc=0; LISEC_CERT=$pki/auditor.crt LISEC_KEY=$pki/auditor.key "$agent" report-image --event resume <probe-1.xml >out.txt 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'refused the report of VM vm-target (HTTP 403)' out.txt || fail "auditor: exit $rc $(cat out.txt)"
# Only the host running the VM reports it: hel-2 (where it ran before) and
# lon-1 are refused with the requirement, and the finding of the changed
# image stays.
for h in hel-2 lon-1; do
  rc=0; LISEC_CERT=$pki/$h.crt LISEC_KEY=$pki/$h.key "$agent" report-image --event resume --xml probe-1.xml >out.txt 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q 'HTTP 403' out.txt && grep -q 'TR103308-4.2-IMAGE' out.txt ||
    fail "host $h reported the image of a VM it does not run: exit $rc $(cat out.txt)"
done
[ "$(report_of vm-target | field compliant)" = False ] || fail "another host's report cleared the finding"
# refuse XML TEXT: the agent refuses the domain XML with TEXT in its reason.
refuse() {
  local rc=0
  "$agent" report-image --event instantiate <"$1" >out.txt 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q "$2" out.txt || fail "$1: exit $rc, $(cat out.txt)"
}
head -c 300 probe-1.xml >cut.xml
refuse cut.xml 'not well-formed'
python3 -c "print('<domain><name>big</name><description>' + 'a' * (1 << 20) + '</description></domain>')" >big.xml
refuse big.xml 'larger than 1048576 bytes'
printf '<!DOCTYPE domain [<!ENTITY x "vm-target">]>\n<domain><name>&x;</name></domain>\n' >dtd.xml
refuse dtd.xml 'carries a DTD'
sed "s/id=.vm-target./id='vm target'/" probe-1.xml >badid.xml
refuse badid.xml 'is not a lisec id'
printf '<network><name>n</name></network>' >net.xml
refuse net.xml 'not a libvirt domain'
rc=0; "$agent" report-image --event boot --xml probe-1.xml >out.txt 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'instantiate, resume or migrate' out.txt || fail "bad event: exit $rc"
pass "lisec-agent report-image: exit 0 right image, 1 changed image, 2 refused (auditor 403, truncated, oversized, DTD, bad id, not a domain, bad event)"
