#!/usr/bin/env bash
# A TPM whose state is rolled back (its NV restored from an earlier copy, as
# a virtual TPM's state file or a firmware TPM's flash can be) against
# lisecd, with real swtpm and tpm2-tools. Every TPM2_Startup raises
# resetCount or restartCount, so a host moved after its location was
# confirmed at (resetCount R, restartCount S) cannot show (R, S) again...
# unless its TPM is set back to a state saved at (R, S - 1) after
# TPM2_Shutdown(STATE): the next Startup(CLEAR) is a Restart to (R, S)
# again, and the old certificate matches. What gives it away is the TPM's
# clock, which runs on from the saved state's, below what lisecd already
# saw in that epoch (or a restartCount below one seen at that resetCount).
# lisecd voids the location then (TR103308-6.2-R10) until asset management
# confirms it, and the confirmation is the new baseline.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
pki=$work/pki

by_hand_host ak

# The host suspends (TPM2_Shutdown(STATE)); its TPM's state is copied
# there; it resumes through a Startup(CLEAR): a TPM Restart.
reset=$(tpm_reset_count)
tpm2_shutdown >/dev/null 2>&1 || fail "tpm2_shutdown (STATE)"
"$swtpm_stop" --keep "$work/A"
cp -a "$work/A" "$work/A.saved"
tpm_up A
tpm_use A
[ "$(tpm_restart_count)" = 1 ] && [ "$(tpm_reset_count)" = "$reset" ] ||
  fail "the Startup(CLEAR) after Shutdown(STATE) is not a TPM Restart (test premise)"

# Asset management confirms the host where it stands at (R, 1).
by_hand_location "$reset" FI FI-18 HEL1 1
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt"
enrol_by_hand host-a "$host" $EK $AK ak.pub
attest_by_hand host-a "$host" $AK $PCRS ev.bin loc.cms
jq -e '.trust == "trusted" and .location_ok == true' req.out >/dev/null ||
  { cat req.out >&2; fail "the confirmed host is not trusted with its location"; }
seen_clock=$(quote_field q.msg clock)
pass "the host is trusted in FI at resetCount $reset, restartCount 1"

# ---- the TPM set back to its saved state ----------------------------------------
# set_back: TPM A stopped and its state replaced by the copy A.saved; it
# starts again, the host boots (the log extended) and attests by hand.
set_back() {
  "$swtpm_stop" --keep "$work/A"
  rm -rf "$work/A"
  cp -a "$work/A.saved" "$work/A"
  tpm_up A
  tpm_use A
  tpm_extend ev.txt
  attest_by_hand host-a "$host" $AK $PCRS ev.bin loc.cms
}
# The host is taken away; its TPM's state is the copy made before the
# Restart, so the next Startup(CLEAR) is that Restart again.
set_back
[ "$(quote_field q.msg resetCount)" = "$reset" ] && [ "$(quote_field q.msg restartCount)" = 1 ] &&
  [ "$(quote_field q.msg safe)" = 1 ] && [ "$(quote_field q.msg clock)" -lt "$seen_clock" ] ||
  fail "premise: the rolled-back TPM quotes (R, 1), safe, with a lower clock: $(tpm2_print -t TPMS_ATTEST q.msg)"
jq -e '.trust == "trusted" and .location_ok == false' req.out >/dev/null ||
  { cat req.out >&2; fail "a TPM rolled back to an earlier state proved the old location again"; }
jq -e '[.reasons[] | select(test("^TR103308-6.2-R10: the TPM clock went back from [0-9]+ ms to [0-9]+ ms within resetCount [0-9]+, restartCount 1: the TPM.s state was rolled back"))] | length == 1' \
  req.out >/dev/null || { cat req.out >&2; fail "the void does not name TR103308-6.2-R10 and the clock"; }
[ "$(audit_count "attest.appraise \\| ok .*TR103308-6.2-R10: the TPM clock went back")" = 1 ] ||
  fail "the void is not in the audit log"
pass "a TPM rolled back to a state saved before the Restart quotes (R, 1) again with its clock behind: location void (TR103308-6.2-R10), the boot trusted; recorded"

# The restored clock runs on past what lisecd saw: the location stays void.
for _ in $(seq 1 300); do
  [ "$(tpm2_readclock | awk '/clock:/ {print $2; exit}')" -gt "$seen_clock" ] && break
  sleep 0.1
done
attest_by_hand host-a "$host" $AK $PCRS ev.bin loc.cms
[ "$(quote_field q.msg clock)" -gt "$seen_clock" ] || fail "premise: the restored TPM clock did not pass $seen_clock ms"
jq -e '.trust == "trusted" and .location_ok == false' req.out >/dev/null ||
  { cat req.out >&2; fail "the void ended once the restored clock passed the one seen"; }
jq -e '.reasons[0] | test("^TR103308-6.2-R10: the TPM clock went back")' req.out >/dev/null ||
  { cat req.out >&2; fail "the kept void does not repeat its reason"; }
pass "the void is kept once the restored clock runs past the one seen, until asset management confirms"

# ---- a restartCount below one seen at that resetCount ------------------------------
# Asset management confirms the host at (R, 1) again; its TPM then restarts
# (R, 2), attests, and is set back once more to the copy: (R, 1) again.
as operator -X POST -H 'Content-Type: application/json' \
  -d "{\"certificate\":\"$(base64 -w0 loc.cms)\"}" "$LISECD_URL/v1/hosts/$host/confirm-location" |
  jq -e '.status' >/dev/null || fail "confirm-location"
attest_by_hand host-a "$host" $AK $PCRS ev.bin loc.cms
jq -e '.trust == "trusted" and .location_ok == true' req.out >/dev/null ||
  { cat req.out >&2; fail "after the confirmation the host is not trusted with its location"; }
pass "asset management's confirmation is the new baseline: the location is proven again"
tpm2_shutdown >/dev/null 2>&1 || fail "tpm2_shutdown (STATE)"
"$swtpm_stop" --keep "$work/A"
tpm_up A
tpm_use A
tpm_extend ev.txt
attest_by_hand host-a "$host" $AK $PCRS ev.bin loc.cms
[ "$(quote_field q.msg restartCount)" = 2 ] || fail "premise: the second Restart is restartCount 2"
jq -e '.location_ok == false' req.out >/dev/null || { cat req.out >&2; fail "restartCount 2 kept the location"; }
set_back
jq -e '.location_ok == false' req.out >/dev/null ||
  { cat req.out >&2; fail "a restartCount below one seen proved the old location again"; }
jq -e '[.reasons[] | select(test("^TR103308-6.2-R10: the TPM.s restartCount went back from 2 to 1 within resetCount [0-9]+: the TPM.s state was rolled back"))] | length == 1' \
  req.out >/dev/null || { cat req.out >&2; fail "the void does not name TR103308-6.2-R10 and restartCount"; }
pass "a restartCount below one seen at that resetCount voids the location (TR103308-6.2-R10)"

stop_clean
echo "attest_rollback: all passed"
