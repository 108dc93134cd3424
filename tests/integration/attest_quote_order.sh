#!/usr/bin/env bash
# Two quotes of a healthy TPM answered out of order, against lisecd, with
# real swtpm and tpm2-tools: a host holds up to four nonces at once, so a
# quote made over an earlier nonce can reach lisecd after a later quote of
# the same TPM was appraised (an agent's report held up in a slow lisecd,
# then sent again with a new nonce). Its clock is below the one lisecd saw
# in that epoch though the TPM's state never went back. That report may
# prove nothing new, but it must not void the location of a healthy host
# until asset management confirms it again (the kept tpm_rollback).
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
pki=$work/pki

by_hand_host ak
by_hand_location "$(tpm_reset_count)" FI FI-18 HEL1 0
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt"
enrol_by_hand host-a "$host" $EK $AK ak.pub
attest_by_hand host-a "$host" $AK $PCRS ev.bin loc.cms
jq -e '.trust == "trusted" and .location_ok == true' req.out >/dev/null ||
  { cat req.out >&2; fail "the host is not trusted with its location"; }
pass "the host is trusted in FI"

# nonce_for N: a nonce from lisecd, in nonce-N.
nonce_for() {
  [ "$(hreq host-a POST /v1/attest/nonce "{\"host\":\"$host\"}")" = 201 ] || { cat req.out >&2; fail "nonce"; }
  jq -r .nonce req.out >"nonce-$1"
}
# quote_for N: the TPM quotes over nonce-N now (qN.msg, qN.sig, qN.pcrs).
quote_for() {
  tpm2_quote -c $AK -l $PCRS -q "$(cat "nonce-$1")" -m "q$1.msg" -s "q$1.sig" -o "q$1.pcrs" -g sha256 \
    >/dev/null || fail "tpm2_quote"
  tpm_flush
}
# send N: the evidence of quote N; the reply in req.out.
send() {
  local body
  body=$(jq -n --arg h "$host" --arg n "$(cat "nonce-$1")" --arg q "$(base64 -w0 "q$1.msg")" \
    --arg s "$(base64 -w0 "q$1.sig")" --arg p "$(base64 -w0 "q$1.pcrs")" --arg l "$(base64 -w0 ev.bin)" \
    --arg c "$(base64 -w0 loc.cms)" '{host:$h, nonce:$n, quote:$q, signature:$s, pcrs:$p, eventlog:$l, location:$c}')
  [ "$(hreq host-a POST /v1/attest/evidence "$body")" = 200 ] || { cat req.out >&2; fail "evidence $1"; }
}

nonce_for 1
nonce_for 2
quote_for 1
for _ in $(seq 1 100); do
  quote_for 2
  [ "$(quote_field q2.msg clock)" -gt "$(quote_field q1.msg clock)" ] && break
  sleep 0.05
done
[ "$(quote_field q2.msg clock)" -gt "$(quote_field q1.msg clock)" ] &&
  [ "$(quote_field q2.msg restartCount)" = "$(quote_field q1.msg restartCount)" ] ||
  fail "premise: quote 2 is later than quote 1 in one epoch"
send 2
jq -e '.trust == "trusted" and .location_ok == true' req.out >/dev/null ||
  { cat req.out >&2; fail "the later quote did not prove the location"; }
send 1
cp req.out late.out
jq -e '.trust == "trusted" and .location_ok == false and ([.reasons[] | select(test("^TR103308-6.2-R10: the quote .* was made over a nonce issued before that of a later quote already appraised"))] | length == 1)' \
  late.out >/dev/null || { cat late.out >&2; fail "the quote answered late proved the location, or does not say why not"; }
pass "the earlier quote answered after the later one proves no location (TR103308-6.2-R10, answered late)"

# The host's next quote: nothing happened to its TPM, its location stands.
attest_by_hand host-a "$host" $AK $PCRS ev.bin loc.cms
jq -e '.trust == "trusted" and .location_ok == true' req.out >/dev/null ||
  { cat late.out req.out >&2; fail "a quote answered late voided a healthy host's location until asset management confirms it"; }
pass "a quote answered late leaves the healthy host's location standing"
stop_clean
echo "attest_quote_order: all passed"
