#!/usr/bin/env bash
# What lisecd keeps about a host's TPM, and does to a host, once its quote
# did not verify or it was removed, against lisecd with real swtpm and
# tpm2-tools (an outside review's follow-ups):
# - a quote signed by the host's AK but not over the nonce lisecd issued
#   leaves the TPM counters lisecd reports and confirm-location takes as
#   its baseline as the last verified quote had them;
# - the overdue timer that picked a host just before the operator removed
#   it neither rewrites "untrusted:deenrolled" as overdue nor runs the
#   quarantine command for it (the timer held between the two by the test
#   build's LISEC_TEST_ATTEST_OVERDUE_PAUSE);
# - a removed host gets no location offer (confirm-location refused,
#   recorded, nothing stored).
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
pki=$work/pki

by_hand_host ak
r0=$(tpm_reset_count)
by_hand_location "$r0"

show() { as operator "$LISECD_URL/v1/hosts/$host/attestation"; }
confirm() { # confirm CMS: POST confirm-location as the operator, prints the status
  hreq operator POST "/v1/hosts/$host/confirm-location" "{\"certificate\":\"$(base64 -w0 "$1")\"}"
}
attest_conf=("[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt")
start_lisecd "$pki" "${attest_conf[@]}"
enrol_by_hand host-a "$host" $EK $AK ak.pub
attest_by_hand host-a "$host" $AK $PCRS ev.bin loc.cms
jq -e '.trust == "trusted" and .location_ok' req.out >/dev/null || { cat req.out >&2; fail "first quote"; }

# ---- a quote that did not verify keeps no counters ------------------------------
tpm_power_cycle
tpm_extend ev.txt
r1=$(tpm_reset_count)
[ "$r1" -gt "$r0" ] || fail "the power cycle did not raise resetCount (test premise)"
[ "$(hreq host-a POST /v1/attest/nonce "{\"host\":\"$host\"}")" = 201 ] || fail "nonce"
nonce=$(jq -r .nonce req.out)
tpm2_quote -c $AK -l $PCRS -q "$(openssl rand -hex 32)" -m q.msg -s q.sig -o q.pcrs -g sha256 >/dev/null ||
  fail "tpm2_quote"
tpm_flush
body=$(jq -n --arg h "$host" --arg n "$nonce" --arg q "$(base64 -w0 q.msg)" --arg s "$(base64 -w0 q.sig)" \
  --arg p "$(base64 -w0 q.pcrs)" --arg l "$(base64 -w0 ev.bin)" --arg c "$(base64 -w0 loc.cms)" \
  '{host:$h, nonce:$n, quote:$q, signature:$s, pcrs:$p, eventlog:$l, location:$c}')
[ "$(hreq host-a POST /v1/attest/evidence "$body")" = 200 ] || { cat req.out >&2; fail "evidence"; }
jq -e '.verified == false and any(.reasons[]; test("^TR103308-5.1: quote does not carry this attestation.s nonce"))' \
  req.out >/dev/null || { cat req.out >&2; fail "a quote over another nonce was not refused for it"; }
show | jq -e --argjson r "$r0" '.lisec.tpm_reset_count == $r' >/dev/null ||
  fail "lisecd reports the resetCount of a quote that did not verify: $(show | jq -c '.lisec | {tpm_reset_count, tpm_restart_count}')"
issue_location am "$host" "$r1" loc1.cms
[ "$(confirm loc1.cms)" = 403 ] && jq -e --arg r "$r0" '.error.message |
    test("^TR103308-6.2-R10: the certificate is for TPM resetCount [0-9]+, the host.s last quote shows " + $r + "$")' \
  req.out >/dev/null || { cat req.out >&2; fail "confirm-location took a quote that did not verify as its baseline"; }
pass "a quote over another nonce: its resetCount ($r1) is neither reported nor confirm-location's baseline (still $r0)"
# the next verified quote is the baseline
attest_by_hand host-a "$host" $AK $PCRS ev.bin loc.cms
jq -e '.trust == "trusted" and .location_ok == false' req.out >/dev/null || { cat req.out >&2; fail "quote at $r1"; }
show | jq -e --argjson r "$r1" '.lisec.tpm_reset_count == $r' >/dev/null || fail "the verified quote's resetCount"
[ "$(confirm loc1.cms)" = 200 ] || { cat req.out >&2; fail "confirm-location at the verified quote's resetCount"; }
pass "the next verified quote's counters are reported and confirmed"

# ---- the overdue timer and a de-enrolment ---------------------------------------
stop_lisecd
cat >quarantine.sh <<SH
#!/bin/sh
echo "\$*" >>"$work/quarantine.log"
SH
chmod +x quarantine.sh
touch pause
lisecd_env=(env "LISEC_TEST_ATTEST_OVERDUE_PAUSE=$work/pause")
start_lisecd "$pki" "${attest_conf[@]}" "interval_s = 1" "grace_s = 0" "check_ms = 100" \
  "quarantine_command = $work/quarantine.sh"
overdue_rx="attest.overdue \\| denied .*host $host"
for _ in $(seq 1 100); do
  [ "$(audit_count "$overdue_rx")" -ge 1 ] && break
  sleep 0.1
done
[ "$(audit_count "$overdue_rx")" -ge 1 ] || fail "the timer did not record the host overdue"
# the timer holds between its record and its store; the operator removes the host
[ "$(hreq operator DELETE "/v1/hosts/$host")" = 200 ] || { cat req.out >&2; fail "de-enrolment"; }
rm pause
# it goes on: it either leaves the removed host be (said in lisecd's log) or quarantines it
for _ in $(seq 1 100); do
  grep -q "was de-enrolled before its overdue mark was stored" lisecd.log && break
  [ -s quarantine.log ] && break
  sleep 0.1
done
show | jq -e '.lisec.trust == "untrusted:deenrolled"' >/dev/null ||
  fail "the overdue timer rewrote a de-enrolled host's trust: $(show | jq -c .lisec.trust)"
[ ! -e quarantine.log ] && [ "$(audit_count "attest.quarantine \\| .*host $host")" = 0 ] ||
  fail "the quarantine command ran for a host removed before the timer stored it overdue: $(cat quarantine.log 2>/dev/null)"
grep -q "was de-enrolled before its overdue mark was stored" lisecd.log || fail "lisecd does not say why"
pass "the overdue timer that picked a host the operator then removed leaves it untrusted:deenrolled, no quarantine"

# ---- a removed host gets no location --------------------------------------------
[ "$(confirm loc1.cms)" = 409 ] && jq -e '.error.message |
    test("^NFV-SEC025-lifecycle, TR103308-5.1: host [0-9a-f]{16}\\.\\. was de-enrolled at .*: no location is confirmed")' \
  req.out >/dev/null || { cat req.out >&2; fail "a removed host got a location offer"; }
[ "$(audit_count "attest.confirm-location \\| denied .*was de-enrolled at")" = 1 ] ||
  fail "the refusal is not recorded"
sqlite3 "file:$work/lisec.db?mode=ro" "SELECT body FROM documents WHERE kind = 'attest.host' AND id = '$host'" |
  jq -e 'has("location_offer") | not' >/dev/null || fail "the removed host's document got a location offer"
pass "confirm-location for a removed host: 409 naming NFV-SEC025-lifecycle, TR103308-5.1, recorded, nothing stored"

stop_clean
echo "attest_removed: all passed"
