#!/usr/bin/env bash
# `lisec attest verify` on evidence made by tpm2-tools against a real
# software TPM (swtpm), with event logs from the Python generator extended
# into the TPM's PCRs and location certificates signed with `openssl cms`:
# the good case and each way evidence can be wrong (tampered quote, PCR
# values or log, wrong or replayed or expired nonce, unknown bootloader or
# event type, an AK from another TPM, a power cycle voiding the location,
# truncated and oversized logs). tpm2_checkquote and tpm2_eventlog serve as
# independent references where they apply.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
release_only "test_attest and attest_agent run the same verifier (this one compares it with tpm2-tools)"
source "$src/tests/integration/attest_lib.sh"
cd "$work"

# ---- a host: TPM A with an RSA EK and an ECDSA P-256 AK --------------------
# Both persistent (as a provisioned host keeps them): saved contexts of
# transient objects do not survive the power cycles below.
EK=0x81010001
AK=0x81010002
tpm_up A
tpm_use A
tpm2_createek -c $EK -G rsa -u ek.pub >/dev/null || fail "tpm2_createek"
tpm2_readpublic -c $EK -f pem -o ek.pem >/dev/null
tpm_flush
persist_ak $AK -G ecc -g sha256 -s ecdsa -u ak.pub -n ak.name
tpm2_readpublic -c $AK -f pem -o ak.pem >/dev/null

host=$(lisec attest host-id --ek ek.pub) || fail "lisec attest host-id"
[ "$host" = "$(host_id_openssl ek.pem)" ] || fail "host id differs from openssl's SHA-256 of the EK SPKI"
pass "host id = SHA-256 of the EK's SubjectPublicKeyInfo (as openssl computes it)"

# ---- boot: a 40-event log plus the location certificate -------------------
am_pki am
reset=$(tpm_reset_count)
issue_location am "$host" "$reset" loc.cms
evgen --log ev.bin --extends ev.txt --reference ref.json --location loc.cms
tpm_extend ev.txt
# The generator's log replays, by tpm2-tools' own reckoning, to the PCRs.
tpm2_eventlog ev.bin 2>/dev/null >ev.yaml || fail "tpm2_eventlog cannot read the generated log"
for pcr in 0 4 7 8 15; do
  want=$(awk -v p="$pcr" '/^  sha256:/ {s=1; next} s && $1 == p {print tolower($NF); exit}' ev.yaml)
  got=$(tpm2_pcrread "sha256:$pcr" | awk '/0x/ {print tolower($NF)}')
  [ -n "$want" ] && [ "$want" = "$got" ] || fail "PCR $pcr: tpm2_eventlog $want, TPM $got"
done
pass "generated event log replays (tpm2_eventlog) to the TPM's PCRs"

PCRS=sha256:0,1,2,3,4,5,6,7,8,15
quote() { # quote NONCE PREFIX [extra tpm2_quote args]
  local n=$1 p=$2
  shift 2
  tpm2_quote -c $AK -l $PCRS -q "$n" -m "$p.msg" -s "$p.sig" -o "$p.pcrs" -g sha256 "$@" \
    >/dev/null || fail "tpm2_quote"
  tpm_flush
}
verify() { # verify PREFIX NONCE [more lisec args]
  local p=$1 n=$2
  shift 2
  lisec attest verify --ak ak.pem --message "$p.msg" --signature "$p.sig" --pcrs "$p.pcrs" \
    --nonce "$n" "$@"
}
full=(--eventlog ev.bin --reference ref.json --location loc.cms --location-ca am/ca.crt --ek ek.pub)

# ---- the good case --------------------------------------------------------
n1=$(lisec attest nonce --state nonces.json) || fail "lisec attest nonce"
quote "$n1" good
tpm2_checkquote -u ak.pem -m good.msg -s good.sig -f good.pcrs -g sha256 -q "$n1" >/dev/null ||
  fail "tpm2_checkquote rejects the good quote"
expect 0 '^verified' verify good "$n1" "${full[@]}" --nonce-state nonces.json
expect 0 '"verified": true' lisec --json attest verify --ak ak.pub --message good.msg \
  --signature good.sig --pcrs good.pcrs --nonce "$n1" "${full[@]}"
grep -q '"country": "FI"' out.txt || fail "the verdict does not carry the location"
expect 0 '"ear.status": "affirming"' verify good "$n1" "${full[@]}" --ear
grep -q '"executables": 3' out.txt && grep -q '"sourced-data": 2' out.txt ||
  fail "EAR trust vector: $(cat out.txt)"
pass "good quote: signature, nonce, PCR digest, replay of 40 events, reference values, location"

expect 0 'quote only' verify good "$n1"
pass "without --reference only the quote is checked, and the output says so"

# ---- freshness ------------------------------------------------------------
expect 1 'nonce already used: replayed' verify good "$n1" "${full[@]}" --nonce-state nonces.json
pass "replayed nonce refused"
expect 1 "TR103308-5.1: quote does not carry this attestation's nonce" verify good "$(openssl rand -hex 32)" "${full[@]}"
tpm2_checkquote -u ak.pem -m good.msg -s good.sig -f good.pcrs -g sha256 -q "$(openssl rand -hex 32)" \
  >/dev/null 2>&1 && fail "tpm2_checkquote accepts a wrong nonce"
pass "wrong nonce refused (tpm2_checkquote agrees)"
n2=$(lisec attest nonce --state nonces.json --ttl 1)
quote "$n2" late
sleep 2
expect 1 'nonce expired' verify late "$n2" "${full[@]}" --nonce-state nonces.json
pass "expired nonce refused"

# ---- tampering ------------------------------------------------------------
cp good.msg bad.msg
# Byte 60 lies in clockInfo: an attacker rewinding resetCount, say.
flip_byte bad.msg 60
cp good.sig bad.sig
cp good.pcrs bad.pcrs
expect 1 'TR103308-5.1: quote signature' verify bad "$n1" "${full[@]}"
tpm2_checkquote -u ak.pem -m bad.msg -s bad.sig -f bad.pcrs -g sha256 -q "$n1" >/dev/null 2>&1 &&
  fail "tpm2_checkquote accepts a tampered quote"
pass "tampered quote refused (tpm2_checkquote agrees)"
cp good.msg pv.msg
cp good.sig pv.sig
cp good.pcrs pv.pcrs
flip_byte pv.pcrs 150
expect 1 'PCR values do not match the quoted PCR digest' verify pv "$n1" "${full[@]}"
pass "tampered PCR values refused"
evgen --log tampered.bin --extends /dev/null --location loc.cms --tamper 20
expect 1 'event log does not replay to PCR' verify good "$n1" --eventlog tampered.bin \
  --reference ref.json --location loc.cms --location-ca am/ca.crt --ek ek.pub
pass "event log that does not replay to the quoted PCRs refused"
cp ev.bin short.bin
truncate -s 1000 short.bin
expect 2 'event log cannot be read: .*truncated' verify good "$n1" --eventlog short.bin --reference ref.json
head -c $((9 * 1024 * 1024)) /dev/zero >huge.bin
expect 2 'larger than|more than' verify good "$n1" --eventlog huge.bin --reference ref.json
pass "truncated (exit 2) and oversized (exit 2) event logs refused"
printf '{"policy_id":"empty","pcrs":[0],"events":[]}' >empty.json
expect 2 'no reference values' verify good "$n1" --eventlog ev.bin --reference empty.json
pass "a policy without reference values is refused, not taken as accept-all"

# ---- location: wrong CA, wrong host ---------------------------------------
am_pki other
expect 1 'TR103308-6.2-R8: location certificate does not chain' verify good "$n1" \
  --eventlog ev.bin --reference ref.json --location loc.cms --location-ca other/ca.crt --ek ek.pub
issue_location am "$(openssl rand -hex 32)" "$reset" elsewhere.cms
expect 1 'TR103308-6.2-R12: location certificate names host' verify good "$n1" \
  --eventlog ev.bin --reference ref.json --location elsewhere.cms --location-ca am/ca.crt --ek ek.pub
pass "location certificate from another CA, or naming another host, refused"

# ---- a power cycle voids the location --------------------------------------
tpm_power_cycle
[ "$(tpm_reset_count)" -gt "$reset" ] || fail "resetCount did not increase"
# The host boots the same way and the agent measures the certificate it has.
tpm_extend ev.txt
n3=$(openssl rand -hex 32)
quote "$n3" cycled
expect 1 'TR103308-6.2-R10: location confirmed at TPM resetCount' verify cycled "$n3" "${full[@]}"
grep -q 'TR103308-5.4' out.txt && fail "a power cycle alone must not fail the boot appraisal"
pass "power cycle (swtpm_ioctl -i) voids the location; the boot itself still passes"
# Asset management confirms the location again for the new resetCount; the
# agent measures the new certificate after the old one.
issue_location am "$host" "$(tpm_reset_count)" loc2.cms
evgen --log ev2.bin --extends ev2.txt --location loc.cms --location loc2.cms
tail -n 1 ev2.txt >ext2.txt
tpm_extend ext2.txt
n4=$(openssl rand -hex 32)
quote "$n4" confirmed
expect 0 '^verified' verify confirmed "$n4" --eventlog ev2.bin --reference ref.json \
  --location loc2.cms --location-ca am/ca.crt --ek ek.pub
expect 1 'not the one last measured' verify confirmed "$n4" --eventlog ev2.bin \
  --reference ref.json --location loc.cms --location-ca am/ca.crt --ek ek.pub
pass "re-confirmed location accepted; the older certificate is not"

# ---- boot content the reference values do not approve ----------------------
tpm_power_cycle
evgen --log evil.bin --extends evil.txt --bootloader evil
tpm_extend evil.txt
n5=$(openssl rand -hex 32)
quote "$n5" evil
expect 1 'TR103308-5.4: PCR 4 event EV_EFI_BOOT_SERVICES_APPLICATION digest [0-9a-f]{16}\.\. not in reference values' \
  verify evil "$n5" --eventlog evil.bin --reference ref.json
pass "unknown bootloader digest refused, naming PCR, event type and digest"
tpm_power_cycle
evgen --log unk.bin --extends unk.txt --unknown-type
tpm_extend unk.txt
n6=$(openssl rand -hex 32)
quote "$n6" unk
expect 1 'PCR 4 event 0x800000ff \(unknown event type\) has no reference values' \
  verify unk "$n6" --eventlog unk.bin --reference ref.json
pass "unknown event type refused"

# ---- other formats and key types ------------------------------------------
quote "$n6" values -F values
expect 0 '' lisec attest verify --ak ak.pub --message values.msg --signature values.sig \
  --pcrs values.pcrs --nonce "$n6" --eventlog unk.bin
pass "tpm2_quote -F values output verified"
persist_ak 0x81010003 -G rsa -g sha256 -s rsassa -u rsa.pub -f pem
persist_ak 0x81010004 -G rsa -g sha256 -s rsapss -u pss.pub -f pem
declare -A handle=([rsa]=0x81010003 [pss]=0x81010004) scheme=([rsa]=rsassa [pss]=rsapss)
for k in rsa pss; do
  tpm2_quote -c ${handle[$k]} -l $PCRS -q "$n6" -m $k.msg -s $k.sig -o $k.pcrs -g sha256 \
    --scheme ${scheme[$k]} >/dev/null ||
    fail "tpm2_quote $k"
  tpm_flush
  expect 0 '^verified' lisec attest verify --ak $k.pub --message $k.msg --signature $k.sig \
    --pcrs $k.pcrs --nonce "$n6"
  expect 1 'quote signature' lisec attest verify --ak ak.pem --message $k.msg --signature $k.sig \
    --pcrs $k.pcrs --nonce "$n6"
done
pass "RSASSA and RSA-PSS AKs verified; an RSA quote under the ECDSA AK refused"

# ---- an AK from another TPM -----------------------------------------------
tpm_up B
tpm_use B
tpm2_createek -c $EK -G ecc -u ekB.pub >/dev/null
tpm_flush
persist_ak $AK -G ecc -g sha256 -s ecdsa -u akB.pub -f pem
tpm2_quote -c $AK -l $PCRS -q "$n6" -m B.msg -s B.sig -o B.pcrs -g sha256 >/dev/null
tpm_flush
expect 1 'TR103308-5.1: quote signature' lisec attest verify --ak ak.pem --message B.msg \
  --signature B.sig --pcrs B.pcrs --nonce "$n6"
pass "quote from another TPM refused under this host's AK"
# Enrolment: a credential for host A's EK cannot be activated by TPM B, and
# TPM A cannot activate a credential bound to TPM B's AK.
tpm2_readpublic -c $AK -o akB.tss >/dev/null
tpm_flush
tpm_use A
tpm2_readpublic -c $AK -o akA.tss >/dev/null
tpm_flush
secret=$(openssl rand -hex 32)
lisec attest makecredential --ek ek.pub --ak akA.tss --secret "$secret" -o credA.bin ||
  fail "makecredential for A"
lisec attest makecredential --ek ek.pub --ak akB.tss --secret "$secret" -o credAB.bin ||
  fail "makecredential for B's AK under A's EK"
activate() { # activate AK_CTX EK_CTX CRED OUT
  tpm2_startauthsession --policy-session -S sess.ctx >/dev/null &&
    tpm2_policysecret -S sess.ctx -c e >/dev/null &&
    tpm2_activatecredential -c "$1" -C "$2" -i "$3" -o "$4" -P session:sess.ctx >/dev/null 2>&1
  local rc=$?
  tpm2_flushcontext sess.ctx >/dev/null 2>&1 || true
  tpm_flush
  return $rc
}
activate $AK $EK credA.bin outA.bin || fail "TPM A cannot activate its own credential"
[ "$(xxd -p -c 256 outA.bin)" = "$secret" ] || fail "activated secret differs"
activate $AK $EK credAB.bin outAB.bin && fail "TPM A activated a credential for TPM B's AK"
tpm_use B
activate $AK $EK credA.bin outB.bin && fail "TPM B activated a credential for TPM A's EK"
pass "lisec's MakeCredential: activated by TPM A for its AK only; never by TPM B"
expect 1 'not an AK' lisec attest makecredential --ek ek.pub --ak ek.pub --secret "$secret" -o x.bin
pass "makecredential refuses a key that is not a restricted signing key"
echo "attest_tpm2tools: all passed"
