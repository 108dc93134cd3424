#!/usr/bin/env bash
# lisec-agent runs as root on every host and reads what others write: the
# domain XML libvirt holds (whoever defines a domain names its disk files)
# and the "restart" list of lisecd's challenge reply. This checks that such
# input cannot take it beyond its remit:
#  - a disk "file" that is a FIFO (or any file that is not a regular file)
#    is refused without being opened: check-image (the libvirt hook's check
#    before a start) ends with exit 2, never waits for a writer that does
#    not come (libvirtd would wait for the hook), and `inventory` (what the
#    run loop binds into each quote) ends too, with that disk left out;
#  - the restart path starts or resumes only a domain whose urn:lisec:vm
#    metadata names the LI VM lisecd asked for: a domain without lisec
#    metadata is never started because its libvirt name equals the id
#    asked for, and such a domain (running) does not hide the stopped LI
#    VM that lisecd meant.
# libvirt's test driver over a node XML written here; swtpm for the host id.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
agent_bin=$build/cmd/lisec-agent/lisec-agent
driver=$build/tests/integration/agent_restart_driver
command -v virsh >/dev/null || fail "virsh is not installed (libvirt-clients)"

# wait_exit PID: the process's exit status once it ended; fails when it is
# still running after 60 s (each run here takes well under a second).
wait_exit() {
  local pid=$1
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    return 124
  fi
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}

# ---- a disk file that is a FIFO ---------------------------------------------
mkfifo disk.fifo
cat >fifo.xml <<XML
<domain type='test'><name>vm-f</name>
  <metadata><lisec:vm xmlns:lisec="urn:lisec:vm" id="vm-f" package="p"/></metadata>
  <devices><disk type='file' device='disk'><source file='$work/disk.fifo'/><target dev='vda'/></disk></devices>
</domain>
XML
# The server settings only need to be there: the image is hashed first.
export LISEC_SERVER=https://127.0.0.1:9 LISEC_CA=/dev/null LISEC_CERT=/dev/null LISEC_KEY=/dev/null
"$agent_bin" check-image --xml fifo.xml >check.out 2>check.err &
rc=0
wait_exit $! || rc=$?
[ "$rc" != 124 ] || fail "check-image still waits on a FIFO disk (a start would hang libvirtd's hook)"
[ "$rc" = 2 ] || fail "check-image with a FIFO disk: exit $rc (want 2): $(cat check.err)"
grep -q 'not a regular file' check.err || fail "check-image with a FIFO disk: $(cat check.err)"

# With a writer waiting on the FIFO, an open by the agent would let it go on.
( exec 3>disk.fifo; touch opened ) &
writer=$!
cleanup_hooks+=("kill $writer 2>/dev/null || true")
"$agent_bin" check-image --xml fifo.xml >check.out 2>check.err &
rc=0
wait_exit $! || rc=$?
[ "$rc" = 2 ] || fail "check-image with a FIFO disk and a writer: exit $rc (want 2): $(cat check.err)"
[ ! -e opened ] || fail "the agent opened a disk 'file' that is a FIFO"
kill "$writer" 2>/dev/null || true
pass "check-image: a FIFO as the disk is refused (exit 2, not a regular file) without being opened or waited on"

# The run loop's inventory over the same kind of disk.
head -c 4096 /dev/urandom >good.img
good_sha=$(sha256sum good.img | cut -d' ' -f1)
cat >node-fifo.xml <<XML
<node>
  <domain type='test'>
    <name>vm-f</name><uuid>6f1c2a3b-0000-4000-8000-0000000000f1</uuid><memory>65536</memory><os><type>hvm</type></os>
    <metadata><lisec:vm xmlns:lisec="urn:lisec:vm" id="vm-f" package="p"/></metadata>
    <devices>
      <disk type='file' device='disk'><source file='$work/disk.fifo'/><target dev='vda'/></disk>
      <disk type='file' device='disk'><source file='$work/good.img'/><target dev='vdb'/></disk>
    </devices>
  </domain>
</node>
XML
tpm_up A
tpm_use A
mkdir -p state
cat >agent.conf <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
[agent]
state_dir = $work/state
[libvirt]
uri = test://$work/node-fifo.xml
CONF
"$agent_bin" -c agent.conf inventory --out inv.json 2>inv.err &
rc=0
wait_exit $! || rc=$?
[ "$rc" != 124 ] || fail "inventory still waits on a FIFO disk (the run loop would stop attesting)"
[ "$rc" = 0 ] || fail "inventory: exit $rc: $(cat inv.err)"
jq -e --arg s "$good_sha" '.domains[0].images == [{disk: "vdb", sha256: $s}]' inv.json >/dev/null ||
  fail "inventory: the FIFO disk is not left out alone: $(cat inv.json)"
grep -q 'not a regular file' inv.err || fail "inventory does not say why vda is left out: $(cat inv.err)"
pass "inventory: a FIFO disk is left out and said, the regular disk reported; the agent does not hang"

# ---- the restart list ---------------------------------------------------------
# vm-li: a domain without lisec metadata, running, whose libvirt name is
# the LI VM's id; instance-7: the LI VM vm-li (its metadata), shut off;
# web-1: a domain without lisec metadata, shut off.
T='xmlns:test="http://libvirt.org/schemas/domain/test/1.0"'
cat >node.xml <<XML
<node>
  <domain type='test' $T>
    <name>vm-li</name><uuid>6f1c2a3b-0000-4000-8000-000000000001</uuid><memory>65536</memory><os><type>hvm</type></os>
  </domain>
  <domain type='test' $T>
    <name>instance-7</name><uuid>6f1c2a3b-0000-4000-8000-000000000002</uuid><memory>65536</memory><os><type>hvm</type></os>
    <metadata><lisec:vm xmlns:lisec="urn:lisec:vm" id="vm-li"/></metadata>
    <test:runstate>5</test:runstate>
  </domain>
  <domain type='test' $T>
    <name>web-1</name><uuid>6f1c2a3b-0000-4000-8000-000000000003</uuid><memory>65536</memory><os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
</node>
XML
uri=test://$work/node.xml
virsh -c "$uri" list --all | grep 'instance-7 *shut off' >/dev/null || fail "the test driver does not hold the node XML"

n=$("$driver" "$uri" web-1 2>restart.err) || fail "driver: $(cat restart.err)"
[ "$n" = 0 ] || fail "a domain without lisec metadata was started because its name was asked for: $(cat restart.err)"
grep -q 'web-1 to restart is not defined on this host' restart.err || fail "web-1: $(cat restart.err)"
pass "restart: a domain without urn:lisec:vm metadata is not started by its name (web-1)"

n=$("$driver" "$uri" vm-li 2>restart.err) || fail "driver: $(cat restart.err)"
[ "$n" = 1 ] && grep -q 'LI VM vm-li started again' restart.err ||
  fail "the stopped LI VM vm-li was not started (a domain named vm-li without lisec metadata hid it): $(cat restart.err)"
pass "restart: the LI VM named by its metadata is started, not hidden by a running domain whose name is its id"
