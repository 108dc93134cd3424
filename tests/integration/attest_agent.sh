#!/usr/bin/env bash
# The whole attestation path with lisec-agent on a real software TPM:
# enrolment (the agent's EK is tpm2_createek's; lisec's MakeCredential is
# activated by the agent, and tpm2_makecredential's too; credentials for
# another TPM or another AK are refused by the TPM), a quote over a 40-event
# firmware log plus the agent's location measurement in PCR 15 verified by
# `lisec attest verify` (and by tpm2_checkquote), a replayed nonce, and a
# power cycle that voids the location until asset management confirms it
# again. Also an ECC EK with an RSA AK on a second TPM.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
agent() { "$build/cmd/lisec-agent/lisec-agent" -c "$work/agent-$1.conf" "${@:2}"; }

# conf NAME EK AK: the agent's configuration for TPM NAME.
conf() {
  cat >"agent-$1.conf" <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
ek = $2
ak = $3
pcrs = 0,1,2,3,4,5,6,7,8,15
[agent]
state_dir = $work/state-$1
eventlog = $work/fw-$1.bin
CONF
}

# ---- host A: the firmware boots and measures 40 events ---------------------
tpm_up A
tpm_use A
conf A rsa ecc
evgen --log fw-A.bin --extends fw-A.txt --reference ref.json
tpm_extend fw-A.txt

# ---- the TPM vendor's EK certificate, in NV as manufacturers provision it ----
tpm2_createek -c ek.ctx -G rsa -u ek-tools.pub >/dev/null
tpm2_readpublic -c ek.ctx -f pem -o ek-tools.pem >/dev/null
tpm_flush
mfr_ca() { # mfr_ca NAME: a TPM manufacturer's CA
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
  openssl req -x509 -new -key "$1.key" -subj "/O=TPM Vendor $1/CN=EK CA" -days 30 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -out "$1.crt" 2>/dev/null || fail "openssl: manufacturer CA"
}
mfr_ca mfr
mfr_ca rogue
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,keyEncipherment\n' >ek.ext
openssl x509 -new -force_pubkey ek-tools.pem -subj "/CN=EK of TPM A" -CA mfr.crt -CAkey mfr.key \
  -days 30 -extfile ek.ext -outform DER -out ekcert.der 2>/dev/null || fail "openssl: EK certificate"
size=$(stat -c %s ekcert.der)
tpm2_nvdefine 0x01c00002 -C o -s "$size" -a "ownerread|ownerwrite|authread|authwrite|no_da" \
  >/dev/null || fail "tpm2_nvdefine"
tpm2_nvwrite 0x01c00002 -C o -i ekcert.der >/dev/null || fail "tpm2_nvwrite"

# ---- enrolment --------------------------------------------------------------
agent A enrol --out enrolA >/dev/null 2>enrol.err || { cat enrol.err; fail "agent enrol"; }
cmp -s enrolA/ek.pub ek-tools.pub || fail "the agent's EK is not the TCG default EK tpm2_createek makes"
cmp -s enrolA/ek.crt ekcert.der || fail "the agent did not hand over the EK certificate from NV"
host=$(cat enrolA/host_id)
[ "$host" = "$(host_id_openssl ek-tools.pem)" ] || fail "host id differs from openssl's"
[ "$host" = "$(lisec attest host-id --ek enrolA/ek.pub)" ] || fail "lisec attest host-id differs"
[ "$host" = "$(agent A host-id)" ] || fail "agent host-id differs"
pass "enrol: the TCG default EK and its NV certificate, host id = SHA-256 of its SPKI"

secret=$(openssl rand -hex 32)
lisec attest makecredential --ek enrolA/ek.pub --ak enrolA/ak.pub --secret "$secret" \
  --ek-cert enrolA/ek.crt --ek-ca mfr.crt -o credA.bin || fail "makecredential"
expect 1 'does not chain to a TPM manufacturer CA' lisec attest makecredential --ek enrolA/ek.pub \
  --ak enrolA/ak.pub --secret "$secret" --ek-cert enrolA/ek.crt --ek-ca rogue.crt -o x.bin
pass "the EK certificate chains to the manufacturer's CA, not to another"
agent A activate --credential credA.bin --out got.bin || fail "agent activate"
[ "$(xxd -p -c 256 got.bin)" = "$secret" ] || fail "activated secret differs"
pass "lisec MakeCredential -> agent TPM2_ActivateCredential returns the secret"
printf 'tools-made secret' >tsecret.bin
tpm2_makecredential -T none -u enrolA/ek.pub -s tsecret.bin -n "$(xxd -p -c 256 enrolA/ak.name)" \
  -o tcred.bin >/dev/null 2>&1 || fail "tpm2_makecredential"
agent A activate --credential tcred.bin --out tgot.bin || fail "agent activate (tpm2-tools credential)"
cmp -s tsecret.bin tgot.bin || fail "agent activation of tpm2_makecredential's credential"
pass "the agent also activates tpm2_makecredential's credential"

# ---- host B: ECC EK, RSA AK ------------------------------------------------
tpm_up B
tpm_use B
conf B ecc rsa
# No firmware log on host B: the agent's log then starts with its own header.
sed -i 's/^eventlog = .*/eventlog =/' agent-B.conf
agent B enrol --out enrolB >/dev/null 2>&1 || fail "agent B enrol"
lisec attest makecredential --ek enrolB/ek.pub --ak enrolB/ak.pub --secret "$secret" -o credB.bin ||
  fail "makecredential B"
[ -e enrolB/ek.crt ] && fail "host B has no EK certificate, yet one was handed over"
expect 1 'for another key than the EK' lisec attest makecredential --ek enrolB/ek.pub \
  --ak enrolB/ak.pub --secret "$secret" --ek-cert enrolA/ek.crt --ek-ca mfr.crt -o x.bin
agent B activate --credential credB.bin --out gotB.bin || fail "agent B activate"
[ "$(xxd -p -c 256 gotB.bin)" = "$secret" ] || fail "B: activated secret differs"
pass "ECC EK (ECDH + KDFe) and RSA AK: credential activated"
# An AK from another TPM is never trusted: A's credential bound to B's AK
# cannot be activated by A (the AK is not A's), nor by B (the EK is not B's).
lisec attest makecredential --ek enrolA/ek.pub --ak enrolB/ak.pub --secret "$secret" -o credAB.bin
expect 1 'refused to activate' agent B activate --credential credAB.bin --out x.bin
tpm_use A
expect 1 'refused to activate' agent A activate --credential credAB.bin --out x.bin
expect 1 'refused to activate' agent A activate --credential credB.bin --out x.bin
pass "credentials for another TPM's EK or AK are refused by the TPM (exit 1)"

# ---- location and quote -----------------------------------------------------
am_pki am
issue_location am "$host" "$(tpm_reset_count)" loc1.cms
agent A measure-location --cert loc1.cms || fail "measure-location"
n1=$(lisec attest nonce --state nonces.json)
# An agent killed between loading its keys and flushing them leaves them in
# a TPM without a resource manager; three such leftovers fill swtpm's object
# slots. The next agent flushes them and quotes.
for i in 1 2 3; do tpm2_createprimary -C o -c "left$i.ctx" >/dev/null || fail "tpm2_createprimary"; done
[ "$(tpm2_getcap handles-transient | grep -c 0x8)" = 3 ] || fail "the leftovers are not loaded"
agent A quote --nonce "$n1" --out q1 2>q1.err || { cat q1.err; fail "agent quote beside 3 leftover objects"; }
grep -q 'flushed 3 object' q1.err || fail "the agent did not say it flushed the leftovers"
[ -z "$(tpm2_getcap handles-transient)" ] || fail "the agent left objects loaded"
pass "objects a killed client left in the TPM are flushed before the quote"
v=(--ak enrolA/ak.pub --reference ref.json --location-ca am/ca.crt --ek enrolA/ek.pub)
vq() { # vq DIR NONCE [more]
  local d=$1 n=$2
  shift 2
  lisec attest verify "${v[@]}" --message "$d/quote.msg" --signature "$d/quote.sig" \
    --pcrs "$d/quote.pcrs" --eventlog "$d/eventlog.bin" --location "$d/location.cms" --nonce "$n" "$@"
}
expect 0 '^verified' vq q1 "$n1" --nonce-state nonces.json
grep -q 'location: FI FI-18 site HEL1' out.txt || fail "location not reported"
tpm2_checkquote -u enrolA/ak.pem -m q1/quote.msg -s q1/quote.sig -f q1/quote.pcrs -g sha256 -q "$n1" \
  >/dev/null || fail "tpm2_checkquote rejects the agent's quote"
tpm2_eventlog q1/eventlog.bin >/dev/null 2>&1 || fail "tpm2_eventlog cannot read the agent's log"
pass "agent quote + firmware log + location measurement verified (tpm2_checkquote agrees)"
expect 1 'replayed' vq q1 "$n1" --nonce-state nonces.json
pass "the same evidence again: replay refused"

# ---- power cycle ------------------------------------------------------------
tpm_power_cycle
tpm_extend fw-A.txt
n2=$(openssl rand -hex 32)
agent A quote --nonce "$n2" --out q2 2>q2.err || fail "quote after power cycle"
grep -q 'run measure-location again' q2.err || fail "the agent did not notice the stale measurement"
expect 1 'not the one last measured into PCR 15' vq q2 "$n2"
# At boot the agent measures the certificate it has: its resetCount is old.
agent A measure-location --cert "$work/state-A/location.cms" || fail "re-measure"
n3=$(openssl rand -hex 32)
agent A quote --nonce "$n3" --out q3 || fail "quote"
expect 1 'TR103308-6.2-R10: location confirmed at TPM resetCount' vq q3 "$n3"
grep -q 'TR103308-5.4' out.txt && fail "the boot itself must still pass"
pass "power cycle voids the location (resetCount), boot still appraised as good"
# `lisec host confirm-location`: asset management checks the host and signs
# for the new resetCount; the agent measures the new certificate.
issue_location am "$host" "$(tpm_reset_count)" loc2.cms
agent A measure-location --cert loc2.cms || fail "measure new location"
n4=$(openssl rand -hex 32)
agent A quote --nonce "$n4" --out q4 || fail "quote"
expect 0 '^verified' vq q4 "$n4"
pass "location re-confirmed for the new resetCount: verified again"
cp q4/quote.msg q4/orig.msg
flip_byte q4/quote.msg 40
expect 1 'quote signature' vq q4 "$n4"
pass "a tampered agent quote is refused"

# ---- host B quotes with its RSA AK ----------------------------------------
tpm_use B
n5=$(openssl rand -hex 32)
agent B quote --nonce "$n5" --out qB >/dev/null 2>&1 || fail "agent B quote"
expect 0 'quote only' lisec attest verify --ak enrolB/ak.pub --message qB/quote.msg \
  --signature qB/quote.sig --pcrs qB/quote.pcrs --nonce "$n5" --eventlog qB/eventlog.bin
expect 1 'quote signature' lisec attest verify --ak enrolA/ak.pub --message qB/quote.msg \
  --signature qB/quote.sig --pcrs qB/quote.pcrs --nonce "$n5"
pass "RSA AK quote from host B verified; under host A's AK refused"
echo "attest_agent: all passed"
