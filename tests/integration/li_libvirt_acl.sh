#!/usr/bin/env bash
# The LI lock in libvirt (TR 103 308 §4.1): `lisec li libvirt-acl` against a
# real lisecd holding LI VMs of the Helsinki/London example (vm-li and
# vm-store paired by the LI administration's signed statements, vm-li-3
# enabled but not paired) writes polkit rules, which are then evaluated by
# Node.js (a JavaScript engine lisec did not write) through a stand-in of
# polkit's addRule/Result/action.lookup: libvirt's domain stop,
# init-control, reset, suspend, hibernate, delete, write and migrate on a
# paired VM, and snapshot, pm-control, inject-nmi, send-input, fs-freeze,
# block-write and every permission that reads its memory, disks or screen,
# are denied to root and any other user, not to the LI service account (default lisec-li, or
# --allow-user); other domains and other actions are left to other rules.
# After the LI administration's signed disable command, the regenerated file
# no longer locks that VM. Roles other than li-admin are refused (exit 1,
# no file, no LI VM named).
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/model.sh"
cd "$work"
command -v node >/dev/null || fail "node is not installed (nodejs)"
pki=$work/pki
make_pki "$pki"
make_li_admin_key li-audit
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out li-admin.key 2>/dev/null
openssl pkey -in li-admin.key -pubout -out li-admin.pub
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li-audit.pub" "[li]" "admin_pubkey = $work/li-admin.pub" \
  "[model]" "allow_declared_trust = true"
# The example platform: vm-li and vm-store are its LI VMs, vm-target is not.
split_topology "$src/examples/helsinki-london.json" "$work/ents"
put_topology "$work/ents"
export LISEC_SERVER=$LISECD_URL
# post ROLE PATH BODY: a JSON POST that must answer 2xx.
post() {
  local code
  code=$(as "$1" -o reply.json -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$3" "$LISECD_URL$2")
  [[ $code == 2?? ]] || fail "$1 POST $2: $code $(cat reply.json)"
}
for vm in vm-li vm-store vm-li-3; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$vm.key" 2>/dev/null
  openssl pkey -in "$vm.key" -pubout -out "$vm.pub"
  post hypervisor-admin /v1/li/vms "$(jq -n --arg v "$vm" --rawfile k "$vm.pub" '{vm:$v,pubkey:$k}')"
  post hypervisor-admin "/v1/li/vms/$vm/enable" '{}'
done
for vm in vm-li vm-store; do
  lisec li pair-sign --key li-admin.key --vm "$vm" --pubkey "$vm.pub" -o "pair-$vm.json" 2>/dev/null
  post li-admin "/v1/li/vms/$vm/pair" "{\"statement\":$(cat "pair-$vm.json")}"
done

# check FILE LOCKED UNLOCKED USER: node evaluates FILE as polkit would and
# asserts the verdicts (LOCKED, UNLOCKED: space-separated domain names).
cat >standin.js <<'JS'
// A stand-in for polkitd's rule API: addRule collects the rules, a question
// walks them in order until one returns a Result, as polkitd does.
const fs = require("fs"), vm = require("vm");
const [file, lockedArg, unlockedArg, allowed] = process.argv.slice(2);
const rules = [];
const Result = { NO: "no", YES: "yes", AUTH_ADMIN: "auth_admin", NOT_HANDLED: null };
const polkit = { Result, addRule: (f) => rules.push(f), log: () => {} };
vm.runInNewContext(fs.readFileSync(file, "utf8"), { polkit }, { filename: file });
if (rules.length === 0) throw new Error("no rule added");
function ask(id, attrs, user) {
  const action = { id, lookup: (k) => attrs[k] };
  const subject = { user, isInGroup: () => user === "root", local: true, active: true };
  for (const r of rules) {
    const v = r(action, subject);
    if (v !== undefined && v !== null) return v;
  }
  return "not handled";
}
// Every libvirt domain permission that stops, pauses, resets or takes away
// the VM, or reads its memory, disks or screen (TR 103 308 section 4.1:
// only the LI administration switches it off; nobody reads it): besides
// the plain ones, snapshot (a revert puts the VM back into a shut-off or
// earlier state; a memory snapshot reads its RAM), pm-control (suspend to
// RAM or disk by the guest), inject-nmi (a guest panic), send-input
// (Ctrl-Alt-Del, SysRq), fs-freeze, block-write, core-dump, mem-read,
// block-read, checkpoint (a backup of the disks), screenshot, open-graphics
// and open-device (the display and consoles: screen and keyboard), and
// read-secure (the display's password).
const locked = ["stop", "init-control", "reset", "suspend", "hibernate", "delete", "write", "migrate",
  "snapshot", "pm-control", "inject-nmi", "send-input", "fs-freeze", "block-write", "core-dump",
  "mem-read", "block-read", "checkpoint", "screenshot", "open-graphics", "open-device", "read-secure"];
const free = ["start", "read", "getattr"];
const fails = [];
const expect = (what, got, want) => { if (got !== want) fails.push(`${what}: ${got}, want ${want}`); };
const names = (s) => s.split(" ").filter((x) => x);
for (const name of names(lockedArg)) {
  for (const p of locked) {
    const id = "org.libvirt.api.domain." + p, attrs = { connect_driver: "QEMU", domain_name: name, domain_uuid: "0f0e0d0c-0b0a-4908-8706-050403020100" };
    for (const user of ["root", "alice", "libvirt-qemu"]) expect(`${user} ${p} ${name}`, ask(id, attrs, user), "no");
    expect(`${allowed} ${p} ${name}`, ask(id, attrs, allowed), "not handled");
  }
  for (const p of free)
    expect(`root ${p} ${name}`, ask("org.libvirt.api.domain." + p, { domain_name: name }, "root"), "not handled");
  expect(`root unix.manage`, ask("org.libvirt.unix.manage", {}, "root"), "not handled");
}
for (const name of names(unlockedArg))
  for (const p of locked)
    expect(`root ${p} ${name}`, ask("org.libvirt.api.domain." + p, { connect_driver: "QEMU", domain_name: name }, "root"), "not handled");
if (fails.length) { console.error(fails.join("\n")); process.exit(1); }
console.log(`checked ${rules.length} rule(s)`);
JS
check() { node standin.js "$@" >node.out 2>&1 || fail "polkit verdicts of $1: $(cat node.out)"; }

lisec --pki "$pki" --role li-admin li libvirt-acl --out 60-lisec-li.rules >out.txt || fail "libvirt-acl: $(cat out.txt)"
grep -q '2 paired LI VM' out.txt || fail "libvirt-acl: $(cat out.txt)"
check 60-lisec-li.rules "vm-li vm-store" "vm-li-3 vm-target some-other-vm vm-li-x" lisec-li
pass "polkit rules (evaluated by node): stop, init-control, reset, suspend, hibernate, delete, write, migrate, snapshot, pm-control, inject-nmi, send-input, fs-freeze, block-write and the reading ones (core-dump, mem-read, block-read, checkpoint, screenshot, open-graphics, open-device, read-secure) of the paired vm-li and vm-store denied to root and others, left to lisec-li; the unpaired vm-li-3, other domains and start, read, getattr untouched"

lisec --pki "$pki" --role li-admin li libvirt-acl --out - --allow-user lisec-intercept >custom.rules || fail "--allow-user"
check custom.rules "vm-li vm-store" "vm-li-3" lisec-intercept
node standin.js custom.rules "vm-li" "" lisec-li >node.out 2>&1 && fail "lisec-li kept its exemption under --allow-user lisec-intercept"
for bad in root@x 'a"b' '' Upper "$(printf 'x%.0s' $(seq 40))"; do
  lisec --pki "$pki" --role li-admin li libvirt-acl --out - --allow-user "$bad" >/dev/null 2>err.txt && fail "--allow-user '$bad' accepted"
  grep -q 'a Unix user name' err.txt || fail "--allow-user '$bad': $(cat err.txt)"
done
pass "--allow-user names the exempt account (and only that one); a name that is not a Unix user name is refused"

# The LI administration's signed disable command: the lock goes with the pairing.
lisec li sign-disable --key li-admin.key --vm vm-store --counter 1 --expires +600 -o off.json 2>/dev/null
post li-admin /v1/li/vms/vm-store/disable-command "{\"command\":$(cat off.json)}"
lisec --pki "$pki" --role li-admin li libvirt-acl --out 60-lisec-li.rules >out.txt || fail "libvirt-acl after disable: $(cat out.txt)"
check 60-lisec-li.rules "vm-li" "vm-store vm-li-3" lisec-li
pass "after the LI administration's signed disable of vm-store, the regenerated rules lock vm-li alone"

# On the host the timer runs it with the hypervisor administration's
# credential (which may read LI VMs), never the LI administration's: the
# same VMs locked.
lisec --pki "$pki" --role hypervisor-admin li libvirt-acl --out hv.rules >out.txt || fail "libvirt-acl as hypervisor-admin: $(cat out.txt)"
check hv.rules "vm-li" "vm-store vm-li-3" lisec-li
pass "the hypervisor administration's credential writes the same rules (what the host's timer uses)"

cp 60-lisec-li.rules kept.rules
for role in operator host auditor tenant-example mano; do
  rc=0
  lisec --pki "$pki" --role "$role" li libvirt-acl --out 60-lisec-li.rules >out.txt 2>&1 || rc=$?
  [ "$rc" = 1 ] && grep -q 'TR103308-4.1' out.txt || fail "role $role: exit $rc $(cat out.txt)"
  grep -q 'vm-li\|vm-store' out.txt && fail "role $role learnt an LI VM: $(cat out.txt)"
  cmp -s kept.rules 60-lisec-li.rules || fail "role $role changed the rules file"
done
rc=0
LISEC_SERVER=https://127.0.0.1:1 lisec --pki "$pki" --role li-admin li libvirt-acl --out 60-lisec-li.rules >out.txt 2>&1 || rc=$?
[ "$rc" = 2 ] && cmp -s kept.rules 60-lisec-li.rules || fail "no lisecd: exit $rc, or the rules file changed"
pass "operator, host, auditor, tenant and MANO refused (exit 1, TR103308-4.1, no LI VM named, file untouched); no lisecd: exit 2, file untouched"
