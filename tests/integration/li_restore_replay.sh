#!/usr/bin/env bash
# A restore of an older backup (`lisec restore`) puts each LI VM's
# last_counter back, so the counter alone no longer refuses a signed
# message lisecd accepted after the backup (TR 103 308 §4.1; docs/li.md,
# "After a restore"). vm1's disable command 1, accepted after the backup
# and refused as a replay before the restore, is refused after it too
# (TR103308-4.1-RESTORE: it expires before the restore + 7 days, so it may
# predate the restore), as is a command signed after the restore with a
# short lifetime (it says what to sign); a new one with the longest
# lifetime switches vm1 off. vm2 did not exist at the backup: registered
# again after the restore under its old key, its pairing statement from
# before the restore is refused all the same. Each refusal is recorded,
# sealed to the LI administration.
set -euo pipefail
build=${1:?usage: li_restore_replay.sh BUILD_DIR SRC_DIR}
src=${2:?usage: li_restore_replay.sh BUILD_DIR SRC_DIR}
. "$src/tests/integration/lib/common.sh"
cd "$work"
. "$src/tests/integration/li_restore_lib.sh"

start_lisecd "$pki" "${conf[@]}"
register vm1
pair vm1 0
backup b1.db
lisec li sign-disable --key li-admin.key --vm vm1 --counter 1 --expires +3600 -o off1.json 2>/dev/null
expect 200 '"off"' li-admin /v1/li/vms/vm1/disable-command "{\"command\":$(cat off1.json)}"
expect 200 '"enabled"' hypervisor-admin /v1/li/vms/vm1/enable '{}'
pair vm1 1
expect 409 'replayed disable command' li-admin /v1/li/vms/vm1/disable-command "{\"command\":$(cat off1.json)}"
# vm2 lives and ends between the backup and the restore
register vm2
lisec li pair-sign --key li-admin.key --vm vm2 --pubkey vm2.pub --last 0 --expires +604800 -o pair2-early.json 2>/dev/null
expect 200 '"paired"' li-admin /v1/li/vms/vm2/pair "{\"statement\":$(cat pair2-early.json)}"
[ "$(state vm1)" = '{"state":"paired","last_counter":1,"held":false}' ] || fail "vm1 before the restore: $(state vm1)"
pass "disable command 1 accepted after the backup, then refused as a replay; vm1 paired again"

restore b1.db
[ "$(state vm1)" = '{"state":"paired","last_counter":0,"held":true}' ] || fail "vm1 after the restore: $(state vm1)"
expect 403 'TR103308-4.1-RESTORE: the store was restored from a backup at .* this disable command expires at .* sign a new one' \
  li-admin /v1/li/vms/vm1/disable-command "{\"command\":$(cat off1.json)}"
[ "$(state vm1)" = '{"state":"paired","last_counter":0,"held":true}' ] || fail "the refused replay changed vm1: $(state vm1)"
pass "after the restore (last_counter 1 -> 0) the replay of command 1 is refused (TR103308-4.1-RESTORE); vm1 stays paired"

after_restore_second
lisec li sign-disable --key li-admin.key --vm vm1 --counter 1 --expires +3600 -o short.json 2>/dev/null
expect 403 'TR103308-4.1-RESTORE: .* sign a new one expiring after' \
  li-admin /v1/li/vms/vm1/disable-command "{\"command\":$(cat short.json)}"
lisec li sign-disable --key li-admin.key --vm vm1 --counter 1 --expires +604800 -o fresh.json 2>/dev/null
expect 200 '"off"' li-admin /v1/li/vms/vm1/disable-command "{\"command\":$(cat fresh.json)}"
[ "$(state vm1)" = '{"state":"off","last_counter":1,"held":false}' ] || fail "vm1 after a fresh command: $(state vm1)"
pass "a command signed after the restore with a short lifetime is refused naming what to sign; one with the longest lifetime switches vm1 off and ends its hold"

# vm2 is gone with the restore; registered again with the key it had
[ "$(as li-admin -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/li/vms/vm2")" = 404 ] || fail "vm2 outlived the restore"
register vm2
[ "$(state vm2)" = '{"state":"enabled","last_counter":0,"held":false}' ] || fail "vm2 registered again: $(state vm2)"
expect 403 'TR103308-4.1-RESTORE' li-admin /v1/li/vms/vm2/pair "{\"statement\":$(cat pair2-early.json)}"
pair vm2 0
pass "vm2, registered again after the restore, is not paired by its statement from before the restore; a new one pairs it"

stop_clean
records
[ "$(grep 'li.disable-command' audit.txt | grep -c 'TR103308-4.1-RESTORE')" -ge 2 ] ||
  fail "the refused commands are not recorded: $(grep li.disable-command audit.txt)"
grep 'li.pair' audit.txt | grep -q 'TR103308-4.1-RESTORE' || fail "the refused pairing is not recorded"
grep 'li.disable-command' audit.txt | grep -q 'the hold after the restore of .* ends' || fail "vm1's hold's end is not recorded"
if strings "$work/lisec.db"* | grep -q 'li.disable-command'; then fail "an LI record is readable in the database"; fi
pass "each refusal and the hold's end are recorded, sealed"
echo "li_restore_replay: all passed"
