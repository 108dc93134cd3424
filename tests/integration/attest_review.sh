#!/usr/bin/env bash
# An outside tester's attacks on the verifier, as a host that controls its
# own agent would make them, with real evidence from swtpm and tpm2-tools:
# a TPM Restart (TPM2_Shutdown(STATE), power off, TPM2_Startup(CLEAR)) that
# resets the PCRs but keeps resetCount, so an old location certificate
# could be measured again after the host was moved; attestations of another
# type than a quote; a quote over fewer PCRs than the policy needs; a nonce
# prefix as qualifying data.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
release_only "the verifier's code paths run in test_attest; this one needs real TPM evidence only"
source "$src/tests/integration/attest_lib.sh"
cd "$work"

EK=0x81010001
AK=0x81010002
tpm_up A
tpm_use A
tpm2_createek -c $EK -G rsa -u ek.pub >/dev/null || fail "tpm2_createek"
tpm_flush
persist_ak $AK -G ecc -g sha256 -s ecdsa -u ak.pub
host=$(lisec attest host-id --ek ek.pub) || fail "lisec attest host-id"

am_pki am
reset=$(tpm_reset_count)
issue_location am "$host" "$reset" loc.cms
evgen --log ev.bin --extends ev.txt --reference ref.json --location loc.cms
tpm_extend ev.txt

PCRS=sha256:0,1,2,3,4,5,6,7,8,15
quote() { # quote NONCE PREFIX [PCRS]
  tpm2_quote -c $AK -l "${3:-$PCRS}" -q "$1" -m "$2.msg" -s "$2.sig" -o "$2.pcrs" -g sha256 \
    >/dev/null || fail "tpm2_quote"
  tpm_flush
}
verify() { # verify PREFIX NONCE [more lisec args]
  local p=$1 n=$2
  shift 2
  lisec attest verify --ak ak.pub --message "$p.msg" --signature "$p.sig" --pcrs "$p.pcrs" \
    --nonce "$n" "$@"
}
full=(--eventlog ev.bin --reference ref.json --location loc.cms --location-ca am/ca.crt --ek ek.pub)

n1=$(openssl rand -hex 32)
quote "$n1" good
expect 0 '^verified' verify good "$n1" "${full[@]}"
pass "baseline: the host's quote, log and location verify"

# ---- a TPM Restart keeps resetCount ----------------------------------------
# The host's root sends TPM2_Shutdown(STATE) (what the kernel sends before
# suspend or hibernation), the chassis is unplugged and moved, and the
# firmware's TPM2_Startup(CLEAR) at the next boot is a TPM Restart: the PCRs
# start from their reset values, restartCount goes up, resetCount does not.
restart0=$(tpm_restart_count)
tpm2_shutdown >/dev/null 2>&1 || fail "tpm2_shutdown (STATE)"
swtpm_ioctl --tcp "127.0.0.1:$SWTPM_CTRL_PORT" -i >/dev/null || fail "swtpm_ioctl -i"
tpm2_startup -c >/dev/null 2>&1 || fail "tpm2_startup -c"
[ "$(tpm_reset_count)" = "$reset" ] || fail "resetCount changed: $(tpm_reset_count), was $reset"
[ "$(tpm_restart_count)" -gt "$restart0" ] || fail "restartCount did not go up"
[ "$(tpm2_pcrread sha256:15 | awk '/0x/ {print $NF}')" = "0x0000000000000000000000000000000000000000000000000000000000000000" ] ||
  fail "PCR 15 was not reset by the TPM Restart"
# At the new site the host boots as before and its agent measures the
# certificate it still has.
tpm_extend ev.txt
n2=$(openssl rand -hex 32)
quote "$n2" moved
expect 1 'TR103308-6.2-R10: .*restartCount' verify moved "$n2" "${full[@]}"
grep -q 'TR103308-5.4' out.txt && fail "a TPM Restart alone must not fail the boot appraisal"
pass "a TPM Restart (Shutdown(STATE), power off, Startup(CLEAR)) voids the location like a Reset"
# Asset management checks the chassis and confirms it for both counters;
# the agent measures the new certificate after the old one.
printf '{"type":"lisec-location/1","host_id":"%s","country":"FI","subdivision":"FI-18","latitude":60.17,"longitude":24.94,"site":"HEL2","tpm_reset_count":%s,"tpm_restart_count":%s,"issued_at":"%s"}' \
  "$host" "$reset" "$(tpm_restart_count)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >loc2.json
openssl cms -sign -nodetach -binary -outform DER -in loc2.json -signer am/am.crt -inkey am/am.key \
  -out loc2.cms 2>/dev/null || fail "openssl cms -sign"
evgen --log ev2.bin --extends ev2.txt --reference ref.json --location loc.cms --location loc2.cms
tail -n 1 ev2.txt >ext2.txt
tpm_extend ext2.txt
n3=$(openssl rand -hex 32)
quote "$n3" reconfirmed
expect 0 'site HEL2' verify reconfirmed "$n3" --eventlog ev2.bin --reference ref.json \
  --location loc2.cms --location-ca am/ca.crt --ek ek.pub
pass "the location confirmed again at the new restartCount is accepted"



# ---- the agent after a TPM Restart -------------------------------------------
# An honest host's agent keeps its PCR 15 measurements for the boot they
# belong to. After a TPM Restart PCR 15 is empty again while resetCount is
# unchanged: the kept measurements must not be presented (the log would no
# longer replay and the whole boot would fail), and the certificate
# measured again.
tpm_up C
tpm_use C
cat >agent-C.conf <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
ek = rsa
ak = ecc
pcrs = 0,1,2,3,4,5,6,7,8,15
[agent]
state_dir = $work/state-C
eventlog = $work/fw-C.bin
CONF
agent() { "$build/cmd/lisec-agent/lisec-agent" -c "$work/agent-C.conf" "$@"; }
evgen --log fw-C.bin --extends fw-C.txt --reference refC.json
tpm_extend fw-C.txt
agent enrol --out enrolC >/dev/null 2>&1 || fail "agent enrol"
hostC=$(cat enrolC/host_id)
issue_location am "$hostC" "$(tpm_reset_count)" locC.cms
agent measure-location --cert locC.cms || fail "measure-location"
vc() { # vc DIR NONCE
  lisec attest verify --ak enrolC/ak.pub --reference refC.json --location-ca am/ca.crt \
    --ek enrolC/ek.pub --message "$1/quote.msg" --signature "$1/quote.sig" --pcrs "$1/quote.pcrs" \
    --eventlog "$1/eventlog.bin" --location "$1/location.cms" --nonce "$2"
}
n4=$(openssl rand -hex 32)
agent quote --nonce "$n4" --out c1 2>/dev/null || fail "agent quote"
expect 0 '^verified' vc c1 "$n4"
tpm2_shutdown >/dev/null 2>&1 || fail "tpm2_shutdown (STATE)"
swtpm_ioctl --tcp "127.0.0.1:$SWTPM_CTRL_PORT" -i >/dev/null || fail "swtpm_ioctl -i"
tpm2_startup -c >/dev/null 2>&1 || fail "tpm2_startup -c"
tpm_extend fw-C.txt
n5=$(openssl rand -hex 32)
agent quote --nonce "$n5" --out c2 2>c2.err || fail "agent quote after a TPM Restart"
grep -q 'run measure-location again' c2.err || fail "the agent did not notice PCR 15 was reset"
expect 1 'not the one last measured into PCR 15' vc c2 "$n5"
grep -q 'TR103308-5.4' out.txt && fail "after a TPM Restart the agent's log no longer replays: $(cat out.txt)"
printf '{"type":"lisec-location/1","host_id":"%s","country":"FI","subdivision":"FI-18","latitude":60.17,"longitude":24.94,"site":"HEL3","tpm_reset_count":%s,"tpm_restart_count":%s,"issued_at":"%s"}' \
  "$hostC" "$(tpm_reset_count)" "$(tpm_restart_count)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >locC2.json
openssl cms -sign -nodetach -binary -outform DER -in locC2.json -signer am/am.crt -inkey am/am.key \
  -out locC2.cms 2>/dev/null || fail "openssl cms -sign"
agent measure-location --cert locC2.cms || fail "measure-location after the restart"
n6=$(openssl rand -hex 32)
agent quote --nonce "$n6" --out c3 2>/dev/null || fail "agent quote"
expect 0 'site HEL3' vc c3 "$n6"
pass "after a TPM Restart the agent drops its stale PCR 15 log and measures the new certificate"
# ---- reference values for a PCR the quote need not cover --------------------
# The operator's policy describes the boot loaders (PCR 4) but left PCR 4
# out of "pcrs". The host boots an unapproved boot loader and its agent
# quotes every PCR but 4: the reference values for PCR 4 must still apply.
tpm_use A
tpm_power_cycle
evgen --log evil.bin --extends evil.txt --bootloader evil
tpm_extend evil.txt
jq -c '.pcrs -= [4]' ref.json >ref-no4.json
n7=$(openssl rand -hex 32)
quote "$n7" no4 sha256:0,1,2,3,5,6,7,8,15
expect 1 'TR103308-5.4: the quote covers PCRs 0x0081ef but the policy requires 0x0081ff' \
  verify no4 "$n7" --eventlog evil.bin --reference ref-no4.json
quote "$n7" all4
expect 1 'PCR 4 event EV_EFI_BOOT_SERVICES_APPLICATION digest [0-9a-f]{16}\.\. not in reference values' \
  verify all4 "$n7" --eventlog evil.bin --reference ref-no4.json
pass "a quote must cover every PCR the reference values describe, not only the policy's \"pcrs\""

echo "attest_review: all passed"
