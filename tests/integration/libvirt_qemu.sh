#!/usr/bin/env bash
# The LI lock end to end with a real libvirtd and QEMU (TCG), issue 15
# items 1-3: a private libvirtd (tests/integration/lib/libvirtd.sh: its own
# mount namespace, socket, run and config dirs, its own D-Bus system bus and
# polkitd, access_drivers = ["polkit"]) runs a tiny TCG domain, the paired
# LI VM vm-li, whose start the lisec qemu hook (installed in the daemon's
# hooks dir) allowed after lisec-agent check-image found its disk the
# package's image. lisec-agent, with swtpm, reports the inventory bound to
# its quote to a real lisecd, which shows vm-li observed running on the
# host. Then:
#  - `virsh destroy`, `virsh suspend` and the rest (a snapshot, keys typed
#    in, an NMI, a memory dump, a screenshot...) as a non-lisec identity
#    (nobody) are refused by the rules `lisec li libvirt-acl` wrote;
#  - `virsh destroy` as root succeeds (polkitd always authorises uid 0:
#    root on the host is beyond polkit), and lisec detects it: a sealed
#    TR103308-4.1-LOCK finding, the agent asked to restart it, vm-li
#    running again in libvirt and in lisecd's observed view;
#  - with the disk's base image changed, the next start is refused by the
#    hook at prepare begin (TR103308-4.2-IMAGE) and the domain stays off;
#    so are a restore from a save file taken before the change and a
#    transient domain (virsh create) naming the same VM.
# Skipped (77) only when there is no /dev/kvm and QEMU cannot run TCG.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
release_only "libvirt_hook and observe run the same hook and observation code (this one boots a VM)"
. "$src/tests/integration/attest_lib.sh"
. "$src/tests/integration/lib/csar.sh"
. "$src/tests/integration/lib/libvirtd.sh"
cd "$work"
for c in libvirtd virsh qemu-system-x86_64 qemu-img node; do
  command -v "$c" >/dev/null || fail "$c is not installed (scripts/bootstrap installs it)"
done
if [ ! -e /dev/kvm ] && ! lv_tcg_ok; then
  echo "skip: no /dev/kvm and QEMU cannot run TCG here"
  exit 77
fi
lv_tcg_ok || fail "QEMU cannot run a TCG guest"
[ "$(id -u)" = 0 ] || fail "a private system libvirtd needs root"
polkit=polkit
if [ ! -x /usr/lib/polkit-1/polkitd ] || ! command -v dbus-daemon >/dev/null; then
  echo "note: polkitd or dbus-daemon missing: the ACL part is not run, detection is"
  polkit=
fi
agent_bin=$build/cmd/lisec-agent/lisec-agent

# ---- lisecd, the host's TPM and certificate ---------------------------------
pki=$work/pki
make_pki "$pki"
am_pki am
evgen --log fw.bin --extends fw.txt --reference ref.json
tpm_up T
tpm_use T
tpm_extend fw.txt
mkdir -p state
cat >agent.conf <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
pcrs = 0,1,2,3,4,5,6,7,8,15
[agent]
state_dir = $work/state
eventlog = $work/fw.bin
poll_ms = 200
interval_s = 300
[libvirt]
uri = LIBVIRT_URI
debounce_ms = 200
event_min_gap_ms = 500
[server]
url = https://localhost:PORT
ca = $pki/ca.crt
cert = $pki/host.crt
key = $pki/host.key
CONF
host=$("$agent_bin" -c agent.conf host-id) || fail "host-id"
lisec pki issue "$pki" host-a host "$host" >/dev/null || fail "pki issue"
sed -i "s|/host.crt|/host-a.crt|; s|/host.key|/host-a.key|" agent.conf
issue_location am "$host" "$(tpm_reset_count)" state/location.cms

lisec audit li-keygen li-audit.key li-audit.pub >/dev/null 2>&1 || fail "li-keygen"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out li-admin.key 2>/dev/null
openssl pkey -in li-admin.key -pubout -out li-admin.pub
mkca vca Vendor
mkca oca Operator
mkca lca "LI Administration"
issue vca vendor Vendor
issue oca operator Operator
mkpkg probe.csar vendor 1.0 65536 operator
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "interval_s = 300" "grace_s = 60" "[audit]" "li_admin_key = $work/li-audit.pub" \
  "[li]" "admin_pubkey = $work/li-admin.pub" \
  "[pkg]" "vendor_ca = $work/vca/ca.crt" "operator_ca = $work/oca/ca.crt" "li_admin_ca = $work/lca/ca.crt"

post() { # post ROLE PATH JSON: must answer 2xx
  local code
  code=$(as "$1" -o post.out -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$3" "$LISECD_URL$2")
  [[ $code == 2?? ]] || fail "$1 POST $2: $code $(cat post.out)"
}
printf '{"id":"probe","li":false,"csar":"%s"}' "$(base64 -w0 probe.csar)" >onboard.json
post operator /v1/packages @onboard.json
post operator /v1/model/host "{\"id\":\"$host\",\"protection\":\"li\"}"
post operator /v1/model/hypervisor "{\"id\":\"hv-a\",\"host\":\"$host\"}"
post operator /v1/model/vm '{"id":"vm-li","hypervisor":"hv-a","sensitivity":"li","domain":"li","package":"probe"}'

# ---- the private libvirtd: the hook, the administrators' polkit grant ------------
lv=$work/lv
mkdir -p "$lv/etc/hooks" "$lv/rules" hookrun
cat >hook.conf <<CONF
LISEC_SERVER=$LISECD_URL
LISEC_HOST_ID=$host
LISEC_CERT=$pki/host-a.crt
LISEC_KEY=$pki/host-a.key
LISEC_CA=$pki/ca.crt
LISEC_AGENT=$agent_bin
LISEC_RUN_DIR=$work/hookrun
LISEC_REPORT_LOG=$work/reports.log
CONF
chmod 0644 hook.conf
# libvirtd passes hooks no environment of ours: a wrapper names the settings.
printf '#!/bin/bash\nLISEC_HOOK_CONF=%s exec %s "$@"\n' "$work/hook.conf" "$src/examples/libvirt/hooks/qemu" >"$lv/etc/hooks/qemu"
chmod 0755 "$lv/etc/hooks/qemu"
# The platform's own grant, after lisec's rules: its administrators (root,
# and nobody standing for any other admin identity) may do anything else.
cat >"$lv/rules/70-test-admins.rules" <<'JS'
polkit.addRule(function (action, subject) {
  if (action.id.indexOf("org.libvirt.") == 0) return polkit.Result.YES;
});
JS
libvirtd_start "$lv" $polkit
sed -i "s|^url = .*|url = $LISECD_URL|; s|^uri = .*|uri = $LIBVIRTD_URI|" agent.conf

# The disk: the package's image as a raw disk (no OS needed: SeaBIOS finds
# nothing to boot and the domain runs anyway).
mkdir -p images
cp src-probe.csar/Artifacts/Images/probe.qcow2 images/base.img
cat >vm-li.xml <<XML
<domain type='qemu'>
  <name>vm-li</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <metadata><lisec:vm xmlns:lisec='urn:lisec:vm' id='vm-li' package='probe'/></metadata>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$work/images/base.img'/><target dev='vda' bus='virtio'/></disk>
    <video><model type='none'/></video><memballoon model='none'/>
  </devices>
</domain>
XML
lv_virsh define vm-li.xml >/dev/null || fail "virsh define"

"$agent_bin" -c agent.conf run >>agent.log 2>&1 &
AGENT_PID=$!
cleanup_hooks+=("kill $AGENT_PID 2>/dev/null || true")
show() { as operator "$LISECD_URL/v1/hosts/$host/attestation"; }
for _ in $(seq 1 300); do show | jq -e '.lisec.trust == "trusted"' >/dev/null 2>&1 && break; sleep 0.1; done
show | jq -e '.lisec.trust == "trusted"' >/dev/null || { tail agent.log; show; fail "the host was not attested trusted"; }

t0=$(date +%s)
lv_virsh start vm-li >start.out 2>&1 || fail "virsh start (the hook refused?): $(cat start.out)"
state() { lv_virsh domstate vm-li 2>/dev/null | head -n1; }
observed() { as operator "$LISECD_URL/v1/model/vm/vm-li" | jq -r '.observed.state // "none"'; }
# wait_for WHAT TEST: until the shell test TEST holds (30 s at most).
wait_for() {
  for _ in $(seq 1 300); do eval "$2" && return 0; sleep 0.1; done
  tail -20 agent.log >&2
  fail "never: $1"
}
wait_for "lisecd sees vm-li running" '[ "$(observed)" = running ]'
as operator "$LISECD_URL/v1/model/vm/vm-li" | jq -e --arg h "$host" '.observed.host == $h' >/dev/null ||
  fail "vm-li is not observed on its host: $(as operator "$LISECD_URL/v1/model/vm/vm-li")"
# Paired once it runs (a paired VM seen shut off would be started by lisec).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out vm-li.key 2>/dev/null
openssl pkey -in vm-li.key -pubout -out vm-li.pub
post hypervisor-admin /v1/li/vms "$(jq -n --rawfile k vm-li.pub '{vm:"vm-li",pubkey:$k}')"
post hypervisor-admin /v1/li/vms/vm-li/enable '{}'
lisec li pair-sign --key li-admin.key --vm vm-li --pubkey vm-li.pub -o pair.json 2>/dev/null
post li-admin /v1/li/vms/vm-li/pair "{\"statement\":$(cat pair.json)}"
lisec --pki "$pki" --role li-admin --server "$LISECD_URL" li libvirt-acl --out "$lv/rules/60-lisec-li.rules" >acl.out ||
  fail "libvirt-acl: $(cat acl.out)"
grep -q '1 paired LI VM' acl.out || fail "libvirt-acl: $(cat acl.out)"
pass "a TCG domain started through the lisec hook (image checked at prepare), reported by lisec-agent inside its quote, seen running by lisecd on host ${host:0:12}.. ($(($(date +%s) - t0)) s)"

# ---- the lock: polkit refuses other identities ---------------------------------
if [ -n "$polkit" ]; then
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups virsh -q -c "$LIBVIRTD_URI" "$@"; }
  # Stopping it, and what stops, pauses or reads it by another way: a
  # snapshot (a revert puts it back into an earlier or shut-off state),
  # Ctrl-Alt-Del typed in, an NMI, a suspend of the guest, a memory dump,
  # a screenshot, its file systems frozen.
  for op in destroy suspend shutdown reboot reset managedsave undefine "snapshot-create-as vm-li s1" \
    "send-key vm-li KEY_LEFTCTRL KEY_LEFTALT KEY_DELETE" "inject-nmi vm-li" "dompmsuspend vm-li mem" \
    "dump --memory-only vm-li $work/vm-li.core" "screenshot vm-li $work/vm-li.ppm" "domfsfreeze vm-li"; do
    read -ra argv <<<"$op"
    [ "${#argv[@]}" = 1 ] && argv+=(vm-li)
    as_nobody "${argv[@]}" >nobody.out 2>&1 && fail "nobody could $op vm-li"
    grep -q 'access denied' nobody.out || fail "nobody $op: $(cat nobody.out)"
  done
  [ ! -e "$work/vm-li.core" ] || fail "nobody dumped vm-li's memory"
  [ "$(state)" = running ] || fail "vm-li is $(state) after the refused attempts"
  as_nobody domstate vm-li >/dev/null || fail "nobody may not even read vm-li's state (the rules lock too much)"
  pass "polkit (the rules of lisec li libvirt-acl): destroy, suspend, shutdown, reboot, reset, managedsave, undefine, snapshot, send-key, inject-nmi, dompmsuspend, dump, screenshot and domfsfreeze of vm-li as nobody refused, reading its state allowed"
fi

# ---- root is beyond polkit: detected, sealed, restarted -------------------------
sealed() { sqlite3 lisec.db 'SELECT COUNT(*) FROM audit_log WHERE sealed = 1'; }
before=$(sealed)
lv_virsh destroy vm-li >/dev/null || fail "root could not destroy vm-li"
wait_for "the agent restarts vm-li" "grep -q 'LI VM vm-li started again' agent.log"
wait_for "vm-li running again in libvirt" '[ "$(state)" = running ]'
wait_for "lisecd sees vm-li running again" '[ "$(observed)" = running ]'
[ "$(sealed)" -gt "$before" ] || fail "no sealed audit record of the finding"
lisec --server "$LISECD_URL" --pki "$pki" --role auditor audit read --li-key li-audit.key >read.out 2>&1 ||
  fail "audit read: $(tail -3 read.out)"
grep -q 'TR103308-4.1-LOCK (high): paired LI VM vm-li observed shutoff' read.out ||
  fail "the finding is not in the sealed log: $(grep -a 'li\.' read.out | tail -5)"
grep -q 'li.restart' read.out && grep -q 'observed running again' read.out ||
  fail "the restart is not recorded: $(grep -a 'li\.' read.out | tail -5)"
lisec --server "$LISECD_URL" --pki "$pki" --role auditor audit read --li-key li-admin.key >other.out 2>&1 || true
grep -q 'TR103308-4.1-LOCK' other.out && fail "the finding opens without the LI administration's key"
pass "virsh destroy as root (polkitd authorises uid 0): a sealed TR103308-4.1-LOCK finding, the agent asked to restart vm-li, running again in libvirt and in lisecd"

# ---- a changed image does not start -------------------------------------------
# A save file of vm-li taken while its image is the package's, restored
# below once the image changed (root saves: polkit does not bind it; the
# agent starts vm-li again as after the destroy).
lv_virsh save vm-li "$work/vm-li.save" >/dev/null || fail "root could not save vm-li"
wait_for "vm-li running again after the save" '[ "$(state)" = running ]'
flip_byte images/base.img 1000
lv_virsh destroy vm-li >/dev/null || fail "root could not destroy vm-li again"
rc=0
lv_virsh start vm-li >start.out 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "its image is not its package's (TR103308-4.2-IMAGE)" start.out ||
  fail "a changed image started: exit $rc $(cat start.out)"
# The agent's restart (asked again by lisecd) meets the same refusal.
wait_for "the agent's restart refused at prepare" "grep -q 'LI VM vm-li could not be started' agent.log"
[ "$(state)" = "shut off" ] || fail "vm-li is $(state) with a changed image"
pass "with its base image changed, vm-li's start is refused at prepare begin by the hook (virsh and the agent's restart alike)"
# The other ways a domain comes to run on the host go through prepare
# begin too: a restore from a save file (libvirtd calls restore begin, where
# the hook only reports, then prepare begin) and a transient domain
# (virsh create) naming the same VM.
rc=0
lv_virsh restore "$work/vm-li.save" >restore.out 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "its image is not its package's (TR103308-4.2-IMAGE)" restore.out ||
  fail "vm-li was restored from its save file with a changed image: exit $rc $(cat restore.out)"
[ "$(state)" = "shut off" ] || fail "vm-li is $(state) after the refused restore"
sed 's|<name>vm-li</name>|<name>vm-li-transient</name>|' vm-li.xml >transient.xml
rc=0
lv_virsh create transient.xml >create.out 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "its image is not its package's (TR103308-4.2-IMAGE)" create.out ||
  fail "a transient domain of vm-li with a changed image was created: exit $rc $(cat create.out)"
lv_virsh domstate vm-li-transient >/dev/null 2>&1 && fail "the refused transient domain exists"
pass "a restore from a save file and a transient domain (virsh create) of vm-li with its image changed are refused at prepare begin"
# The agent and lisecd stop cleanly, with nothing for the sanitizers (ASan builds).
kill -TERM "$AGENT_PID" 2>/dev/null || true
wait "$AGENT_PID" 2>/dev/null || true
stop_lisecd
if grep -E 'Sanitizer|runtime error' agent.log lisecd.log; then fail "a sanitizer report (above)"; fi
