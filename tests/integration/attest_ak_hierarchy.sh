#!/usr/bin/env bash
# An AK outside the endorsement hierarchy, enrolled and quoting against
# lisecd with real swtpm and tpm2-tools. A restricted, fixedTPM signing key
# under the owner's storage key passes every attribute check and a real
# TPM2_ActivateCredential (it is in the EK's TPM), but the TPM obfuscates
# resetCount, restartCount and firmwareVersion in its quotes (TPM 2.0 Part
# 1, "Obfuscation"): lisecd would compare scrambled counters, and a host
# could pick the AK whose scrambling hides a TPM firmware rollback. Each
# quote names its signer's qualified name, which is the AK's under this
# host's EK only when the AK is the EK's child: anything else is refused
# (TR103308-5.1), and an AK made by tpm2_createak under the EK is trusted
# with its location, the counters as tpm2_readclock reads them. Before
# either enrols, a nonce is refused naming the requirement.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
pki=$work/pki

by_hand_host
SRK=0x81000001 AK_OWNER=0x81010002 AK_EK=0x81010003

# The owner's storage key, and under it an AK with every attribute an AK needs.
tpm2_createprimary -C o -g sha256 -G ecc -c srk.ctx >/dev/null || fail "tpm2_createprimary -C o"
tpm_flush
tpm2_evictcontrol -C o -c srk.ctx $SRK >/dev/null || fail "tpm2_evictcontrol SRK"
tpm_flush
tpm2_create -C $SRK -G ecc:ecdsa-sha256:null -g sha256 -u owner-ak.pub -r owner-ak.priv \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign' >/dev/null ||
  fail "tpm2_create (AK under the storage key)"
tpm_flush
tpm2_load -C $SRK -u owner-ak.pub -r owner-ak.priv -c owner-ak.ctx >/dev/null || fail "tpm2_load"
tpm_flush
tpm2_evictcontrol -C o -c owner-ak.ctx $AK_OWNER >/dev/null || fail "tpm2_evictcontrol owner AK"
tpm_flush
# and one under the EK, as lisec-agent and tpm2_createak make it
persist_ak $AK_EK -G ecc -g sha256 -s ecdsa -u ek-ak.pub

by_hand_location "$(tpm_reset_count)"
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt"
# without [attest] ek_ca any EK enrols, this software TPM's too: the start says so
grep -q 'attest: \[attest\] ek_ca is not set: any EK is accepted at enrolment, a software TPM.s too' lisecd.log ||
  fail "lisecd started without [attest] ek_ca and did not warn: $(grep -i attest lisecd.log)"
pass "started without [attest] ek_ca: lisecd warns that any EK, a software TPM's too, is accepted"

# before any enrolment: a nonce is refused, naming the requirement
[ "$(hreq host-a POST /v1/attest/nonce "{\"host\":\"$host\"}")" = 404 ] &&
  jq -e '.error.message | test("^TR103308-5.1: host [0-9a-f]{16}\\.\\. is not enrolled")' req.out >/dev/null ||
  { cat req.out >&2; fail "a nonce for a host never enrolled is not refused naming TR103308-5.1"; }
pass "a nonce for a host never enrolled: 404 naming TR103308-5.1"

enrol() { enrol_by_hand host-a "$host" $EK "$@"; }
attest() { attest_by_hand host-a "$host" "$1" $PCRS ev.bin loc.cms; }

# ---- the AK under the owner's storage key ------------------------------------
enrol $AK_OWNER owner-ak.pub
pass "an AK under the storage key passes the attribute checks and a real TPM2_ActivateCredential"
attest $AK_OWNER
tpm2_print -t TPMS_ATTEST q.msg | grep -q "resetCount: $(tpm_reset_count)\$" &&
  fail "the TPM did not obfuscate resetCount for an AK outside the endorsement hierarchy (test premise)"
jq -e '.trust != "trusted" and .location_ok == false' req.out >/dev/null ||
  { cat req.out >&2; fail "a quote by an AK outside the endorsement hierarchy made the host trusted"; }
jq -e '[.reasons[] | select(test("^TR103308-5.1: the quote.s signer is not an AK under this host.s EK"))] | length == 1' \
  req.out >/dev/null || { cat req.out >&2; fail "the refusal does not name TR103308-5.1 and the signer"; }
[ "$(audit_count "attest.appraise \\| denied .*TR103308-5.1: the quote.s signer is not an AK under")" = 1 ] ||
  fail "the refusal is not in the audit log"
pass "its quote (counters obfuscated by the TPM) is refused: TR103308-5.1, the signer is not the EK's child; recorded"

# The offline verifier with --ek checks the signer as lisecd does.
cli_quote() { # cli_quote AK: a quote by AK over a nonce of our own, in c.msg, c.sig, c.pcrs; nonce in $cn
  cn=$(openssl rand -hex 32)
  tpm2_quote -c "$1" -l $PCRS -q "$cn" -m c.msg -s c.sig -o c.pcrs -g sha256 >/dev/null || fail "tpm2_quote $1"
  tpm_flush
}
cli_quote $AK_OWNER
cli_verify() { lisec attest verify --ak "$1" --message c.msg --signature c.sig --pcrs c.pcrs --nonce "$cn" "${@:2}"; }
expect 1 "TR103308-5.1: the quote.s signer is not an AK under this host.s EK" cli_verify owner-ak.pub --ek ek.pub
expect 0 "" cli_verify owner-ak.pub
# a PEM AK carries no TPM Name: the signer cannot be checked, and the output says so
tpm2_readpublic -c $AK_OWNER -f pem -o owner-ak.pem >/dev/null || fail "tpm2_readpublic -f pem"
tpm_flush
expect 0 "note: the AK was given as PEM, which has no TPM Name: the quote.s signer was not checked" \
  cli_verify owner-ak.pem --ek ek.pub
cli_quote $AK_EK
expect 0 "" cli_verify ek-ak.pub --ek ek.pub
pass "lisec attest verify --ek refuses the quote of an AK outside the endorsement hierarchy (TR103308-5.1), as lisecd does; the EK's child passes; a PEM AK (no Name) is said not to be checked"

# ---- the AK under the EK -------------------------------------------------------
enrol $AK_EK ek-ak.pub
attest $AK_EK
jq -e '.trust == "trusted" and .location_ok == true and (.reasons | length) == 0' req.out >/dev/null ||
  { cat req.out >&2; fail "the AK under the EK is not trusted with its location"; }
as operator "$LISECD_URL/v1/hosts/$host/attestation" |
  jq -e --argjson r "$(tpm_reset_count)" '.lisec.tpm_reset_count == $r and .lisec.tpm_restart_count == 0' >/dev/null ||
  fail "the counters lisecd reports are not the TPM's"
pass "an AK made by tpm2_createak under the EK is trusted with its location; the counters are tpm2_readclock's"

stop_clean
echo "attest_ak_hierarchy: all passed"
