#!/usr/bin/env bash
# A restore of an older backup (`lisec restore`) must not undo the
# activation lock (TR 103 308 §4.1; docs/li.md, "After a restore"). vm1 is
# paired after the backup; the restore puts "enabled, not paired" back.
# Then every LI VM of the restored store is held as if paired: the
# hypervisor administration's direct switch-off is refused
# (TR103308-4.1-RESTORE) until the LI administration confirms the state
# (lisec li confirm) or pairs the VM again, with a statement signed after
# the restore (the one signed before it is refused). The LI administration
# may switch a held enabled VM off itself. Other roles are refused naming no
# LI VM. A VM registered after the restore is not held. The hold survives
# a restart, is recorded once, and its start and each end are in the log,
# sealed to the LI administration.
set -euo pipefail
build=${1:?usage: li_restore_unpair.sh BUILD_DIR SRC_DIR}
src=${2:?usage: li_restore_unpair.sh BUILD_DIR SRC_DIR}
. "$src/tests/integration/lib/common.sh"
cd "$work"
. "$src/tests/integration/li_restore_lib.sh"

start_lisecd "$pki" "${conf[@]}"
register vm1
register vm2
register vm3
lisec li pair-sign --key li-admin.key --vm vm1 --pubkey vm1.pub --last 0 --expires +604800 -o pair-early.json 2>/dev/null
backup b1.db
expect 200 '"paired"' li-admin /v1/li/vms/vm1/pair "{\"statement\":$(cat pair-early.json)}"
expect 403 'TR103308-4.1: VM vm1 is paired' hypervisor-admin /v1/li/vms/vm1/disable '{}'
pass "vm1 paired after the backup; the hypervisor administration cannot switch it off"

restore b1.db
[ "$(state vm1)" = '{"state":"enabled","last_counter":0,"held":true}' ] || fail "vm1 after the restore: $(state vm1)"
expect 403 'TR103308-4.1-RESTORE: the LI state of VM vm1 was put back from a backup' \
  hypervisor-admin /v1/li/vms/vm1/disable '{}'
[ "$(state vm1)" = '{"state":"enabled","last_counter":0,"held":true}' ] || fail "a refused disable changed vm1: $(state vm1)"
pass "after the restore vm1 is 'enabled' again but held: the hypervisor administration's disable is refused (TR103308-4.1-RESTORE)"

# Roles that are not the LI's: one answer, naming no VM.
for r in operator mano tenant-example; do
  for a in disable confirm; do
    code=$(post $r /v1/li/vms/vm1/$a '{}')
    [ "$code" = 403 ] || fail "$r $a: $code $(cat reply.json)"
    grep -q 'TR103308' reply.json || fail "$r $a: no requirement named: $(cat reply.json)"
    ! grep -q 'vm1' reply.json || fail "$r $a: the refusal names the LI VM: $(cat reply.json)"
  done
done
expect 403 'TR103308' hypervisor-admin /v1/li/vms/vm1/confirm '{}'
pass "operator, mano and a tenant are refused disable and confirm naming no LI VM; the hypervisor administration cannot confirm"

# The pairing statement signed before the restore is refused; a new one pairs.
expect 403 'TR103308-4.1-RESTORE: the store was restored from a backup at .* sign a new one' \
  li-admin /v1/li/vms/vm1/pair "{\"statement\":$(cat pair-early.json)}"
after_restore_second
pair vm1 0
[ "$(state vm1)" = '{"state":"paired","last_counter":0,"held":false}' ] || fail "vm1 paired again: $(state vm1)"
expect 403 'TR103308-4.1: VM vm1 is paired' hypervisor-admin /v1/li/vms/vm1/disable '{}'
pass "a pairing statement signed before the restore is refused; a new one pairs vm1 and ends its hold"

# vm2: the LI administration confirms the restored state; the hold ends.
[ "$(state vm2)" = '{"state":"enabled","last_counter":0,"held":true}' ] || fail "vm2: $(state vm2)"
expect 200 '"enabled"' li-admin /v1/li/vms/vm2/confirm '{}'
jq -e '.restore_hold == null' reply.json >/dev/null || fail "confirm's reply still holds vm2: $(cat reply.json)"
expect 409 'TR103308-4.1-RESTORE: VM vm2 is not held' li-admin /v1/li/vms/vm2/confirm '{}'
# vm3: the LI administration switches the held VM off itself.
expect 200 '"off"' li-admin /v1/li/vms/vm3/disable '{}'
[ "$(state vm3)" = '{"state":"off","last_counter":0,"held":false}' ] || fail "vm3: $(state vm3)"
# vm4, registered after the restore: not held.
register vm4
[ "$(state vm4)" = '{"state":"enabled","last_counter":0,"held":false}' ] || fail "vm4: $(state vm4)"
expect 200 '"off"' hypervisor-admin /v1/li/vms/vm4/disable '{}'
expect 403 'TR103308-4.1: only the hypervisor administration disables an unpaired' li-admin /v1/li/vms/vm4/disable '{}'
pass "li confirm ends vm2's hold (once); li-admin switches held vm3 off; vm4, registered after the restore, is not held"

# A restart keeps all of it and records no second hold.
stop_clean
start_lisecd "$pki" "${conf[@]}"
! grep -q 'LI VMs held until' lisecd.log || fail "the hold was recorded again at a restart"
[ "$(state vm1)" = '{"state":"paired","last_counter":0,"held":false}' ] || fail "vm1 after a restart: $(state vm1)"
expect 200 '"off"' hypervisor-admin /v1/li/vms/vm2/disable '{}'
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
rc=0; cli li-admin li confirm vm2 >confirm.out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'not held' confirm.out || fail "lisec li confirm of a VM not held: $rc $(cat confirm.out)"
pass "after a restart the holds ended stay ended and nothing is held again; lisec li confirm answers"

stop_clean
records
grep 'li.restore-hold' audit.txt | grep -q 'vm1.*vm2.*vm3\|3 LI VM' || fail "the hold's record: $(grep li.restore-hold audit.txt)"
[ "$(grep -c 'li.restore-hold' audit.txt)" = 1 ] || fail "the hold recorded $(grep -c 'li.restore-hold' audit.txt) times"
grep 'li.pair' audit.txt | grep -q 'the hold after the restore of .* ends' || fail "vm1's hold's end is not recorded"
grep 'li.confirm' audit.txt | grep -q 'the hold after the restore of .* ends' || fail "vm2's hold's end is not recorded"
grep 'li.disable' audit.txt | grep 'hypervisor-admin' | grep -q 'TR103308-4.1-RESTORE' || fail "the refused disable is not recorded"
if strings "$work/lisec.db"* | grep -q 'li.restore-hold'; then fail "the hold's record is readable in the database"; fi
pass "the hold (naming its VMs), each end and each refusal are in the audit log, sealed"
echo "li_restore_unpair: all passed"
