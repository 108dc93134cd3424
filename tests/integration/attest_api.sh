#!/usr/bin/env bash
# Host attestation through lisecd with lisec-agent running on its own,
# against real software TPMs and a real lisecd: enrolment and a good quote
# make the host trusted with its attested location; a replayed nonce, a
# quote over the wrong nonce, a tampered quote and an AK from another TPM
# are refused with their reasons; a power cycle voids the location until
# asset management confirms it again (`lisec host confirm-location`); a
# host that stops attesting turns untrusted (overdue) and the quarantine
# command runs; wrong roles and an agent acting for another host get 403.
# The reports run on one bulk thread at nice 19 ([server] bulk_*), and a
# decision waiting for a fresh quote is still answered from one.
# Every result is checked in the audit log too. The evidence for the
# hand-made cases comes from the agent's offline commands and swtpm; the
# firmware log and reference values from the Python generator.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/li_topology.sh"
cd "$work"
[ -n "${KEEP:-}" ] && cleanup_hooks+=("cp -r $work /tmp/attest-keep")
pki=$work/pki
agent_bin="$build/cmd/lisec-agent/lisec-agent"
agent() { "$agent_bin" -c "$work/agent-$1.conf" "${@:2}"; }

# conf NAME: the agent's configuration for TPM NAME (the current one).
conf() {
  cat >"agent-$1.conf" <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
ek = rsa
ak = ecc
pcrs = 0,1,2,3,4,5,6,7,8,15
[agent]
state_dir = $work/state-$1
eventlog = $work/fw-$1.bin
poll_ms = 200
interval_s = 300
[server]
url = https://localhost:PORT
ca = $pki/ca.crt
cert = $pki/host-${1,,}.crt
key = $pki/host-${1,,}.key
CONF
}

# run_agent NAME: starts `lisec-agent run` in the background (AGENT_PID).
run_agent() {
  sed -i "s|^url = .*|url = $LISECD_URL|" "agent-$1.conf"
  "$agent_bin" -c "$work/agent-$1.conf" run >>"agent-$1.log" 2>&1 &
  AGENT_PID=$!
  cleanup_hooks+=("kill $AGENT_PID 2>/dev/null || true")
}
# stop_agent: SIGTERM, and the agent must stop cleanly (exit 0) in time.
stop_agent() {
  kill -TERM "$AGENT_PID"
  local rc=0
  for _ in $(seq 1 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$AGENT_PID" 2>/dev/null && fail "the agent did not stop within 10 s of SIGTERM"
  wait "$AGENT_PID" || rc=$?
  [ "$rc" = 0 ] || fail "the agent exited with $rc after SIGTERM"
}

show() { as operator "$LISECD_URL/v1/hosts/$1/attestation"; }
# wait_for HOST JQ-FILTER: until the host's attestation satisfies the filter.
wait_for() {
  for _ in $(seq 1 150); do
    show "$1" | jq -e "$2" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  show "$1" >&2
  tail -20 agent-A.log >&2 || true
  fail "host ${1:0:12}.. never reached: $2"
}
# post_as CERT PATH JSON: prints the body, HTTP status on the last line.
post_as() {
  curl -sS --cacert "$pki/ca.crt" --cert "$pki/$1.crt" --key "$pki/$1.key" \
    -H 'Content-Type: application/json' -d "$3" -w '\n%{http_code}' "$LISECD_URL$2"
}
status_of() { tail -n1; }
body_of() { sed '$d'; }
nonce_for() { # nonce_for CERT HOST
  post_as "$1" /v1/attest/nonce "{\"host\":\"$2\"}" | body_of | jq -r .nonce
}
# evidence HOST NONCE DIR: the evidence JSON of the files in DIR.
evidence() {
  jq -n --arg host "$1" --arg nonce "$2" --arg q "$(base64 -w0 "$3/quote.msg")" \
    --arg s "$(base64 -w0 "$3/quote.sig")" --arg p "$(base64 -w0 "$3/quote.pcrs")" \
    --arg l "$(base64 -w0 "$3/eventlog.bin")" --arg c "$(base64 -w0 "$3/location.cms")" \
    '{host:$host, nonce:$nonce, quote:$q, signature:$s, pcrs:$p, eventlog:$l, location:$c}' >"$3/evidence.json"
}
submit() { # submit CERT DIR: posts DIR/evidence.json, prints the reply (200 required)
  local out
  out=$(curl -sS --cacert "$pki/ca.crt" --cert "$pki/$1.crt" --key "$pki/$1.key" \
    -H 'Content-Type: application/json' --data-binary "@$2/evidence.json" -w '\n%{http_code}' \
    "$LISECD_URL/v1/attest/evidence")
  [ "$(echo "$out" | status_of)" = 200 ] || { echo "$out" >&2; fail "evidence not appraised"; }
  echo "$out" | body_of
}

# ---- host A boots: 40 firmware events, a location certificate --------------
make_pki "$pki"
tpm_up A
tpm_use A
conf A
evgen --log fw-A.bin --extends fw-A.txt --reference ref.json
tpm_extend fw-A.txt
hostA=$(agent A host-id)
# The TPM vendor's EK certificate in NV, as manufacturers provision it;
# lisecd trusts the vendor's CA ([attest] ek_ca) and requires one.
tpm2_createek -c ek.ctx -G rsa -u ek-A.pub >/dev/null || fail "tpm2_createek"
tpm2_readpublic -c ek.ctx -f pem -o ek-A.pem >/dev/null || fail "tpm2_readpublic"
tpm_flush
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out mfr.key 2>/dev/null
openssl req -x509 -new -key mfr.key -subj "/O=TPM Vendor/CN=EK CA" -days 30 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
  -out mfr.crt 2>/dev/null || fail "openssl: manufacturer CA"
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,keyEncipherment\n' >ek.ext
openssl x509 -new -force_pubkey ek-A.pem -subj "/CN=EK of TPM A" -CA mfr.crt -CAkey mfr.key \
  -days 30 -extfile ek.ext -outform DER -out ekcert-A.der 2>/dev/null || fail "openssl: EK certificate"
# (platform-created, as the vendor's is, so that TPM2_Clear keeps it)
tpm2_nvdefine 0x01c00002 -C p -s "$(stat -c %s ekcert-A.der)" \
  -a "ppwrite|ppread|ownerread|authread|no_da|platformcreate" >/dev/null || fail "tpm2_nvdefine"
tpm2_nvwrite 0x01c00002 -C p -i ekcert-A.der >/dev/null || fail "tpm2_nvwrite"
lisec pki issue "$pki" host-a host "$hostA" >/dev/null || fail "pki issue host-a"
am_pki am
mkdir -p state-A
issue_location am "$hostA" "$(tpm_reset_count)" state-A/location.cms
cat >quarantine.sh <<'SH'
#!/bin/sh
echo "$*" >>"$(dirname "$0")/quarantined.txt"
SH
chmod +x quarantine.sh

lisec audit li-keygen li-admin.key li-admin.pub >/dev/null 2>&1 || fail "li-keygen"
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "interval_s = 4" "grace_s = 1" "check_ms = 200" "fresh_wait_ms = 3000" \
  "quarantine_command = $work/quarantine.sh" "ek_ca = $work/mfr.crt" "[model]" "attestation_max_age_s = 1" \
  "[audit]" "li_admin_key = $work/li-admin.pub" "[server]" "bulk_channels = 1" "bulk_nice = 19"
# The reports are bulk work on one controller thread at the lowest priority
# (issue 22 item 6): it runs at nice 19; the LI VM's migration below, which
# waits for the agent's fresh quote, is still answered from it (while a
# decision waits, reports run at the decisions' priority).
bulk_nice=""
for t in /proc/$(pgrep -P "$LISECD_PID" -x lisecd-ctl)/task/*; do
  [ "$(cat "$t/comm" 2>/dev/null)" = lisec-bulk ] && bulk_nice="$bulk_nice$(awk '{print $19}' "$t/stat")"
done
[ "$bulk_nice" = 19 ] || fail "the controller's bulk threads run at nice '$bulk_nice', not one at [server] bulk_nice = 19"

# ---- the model: host A runs lib/li_topology.sh's LI, its VMs unpaired ----
# (vm-target, vm-li and vm-store on hv-a; hv-a2, the migration's target)
li_topology_post operator host "{\"id\":\"$hostA\",\"protection\":\"li\"}"
li_topology_post operator hypervisor "{\"id\":\"hv-a\",\"host\":\"$hostA\"}"
li_topology_post operator hypervisor "{\"id\":\"hv-a2\",\"host\":\"$hostA\"}"
li_topology host= hv=hv-a paired=no
as operator "$LISECD_URL/v1/model/host/$hostA" | jq -e '.state.trust != "trusted"' >/dev/null ||
  fail "host A trusted before any attestation"

# ---- enrolment and a good quote ---------------------------------------------
run_agent A
wait_for "$hostA" '.lisec.trust == "trusted" and .lisec.location.country == "FI"'
show "$hostA" >a.json
jq -e '.submods["lisec-host"]["ear.status"] == "affirming"' a.json >/dev/null || fail "EAR status"
jq -e '.submods["lisec-host"]["ear.trustworthiness-vector"]["instance-identity"] == 2' a.json \
  >/dev/null || fail "EAR trust vector: instance-identity"
jq -e '.eat_profile == "tag:github.com,2023:veraison/ear"' a.json >/dev/null || fail "EAR profile"
[ "$(audit_count 'attest.enrol.finish \| ok')" -ge 1 ] || fail "enrolment not in the audit log"
[ "$(audit_count 'attest.appraise \| ok')" -ge 1 ] ||
  fail "appraisal not in the audit log"
pass "agent enrols (EK certificate from NV checked, MakeCredential/ActivateCredential) and attests: trusted, location FI, EAR affirming, audited"
as operator "$LISECD_URL/v1/model/host/$hostA" |
  jq -e '.state.trust == "trusted" and .state.trust_source == "attested" and .state.location.country == "FI"' \
  >/dev/null || fail "the model did not take host A's attested trust and location"
pass "the model holds host A as trusted (attested) in FI"

# An LI VM's migration needs an attestation younger than 1 s: lisec asks
# the agent for a fresh quote before it answers.
decide() { # decide [ROLE [curl args]]: the LI administration sees the reasons in full
  local role=mano
  if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then role=$1; shift; fi
  as "$role" "$@" -H 'Content-Type: application/json' -d '{"vm":"vm-li","hypervisor":"hv-a2"}' \
    "$LISECD_URL/v1/decisions/migration"
}
# The agent also attests when lisecd says it is due (interval_s 4): when
# that quote lands between "stale" and the decision, the host is fresh and
# no new quote is needed, so the decision is asked again (bounded).
for try in 1 2 3 4 5; do
  stale "$hostA"
  decide -w '\n%{time_total}' >d1.out
  sed '$d' d1.out >d1.json
  jq -e '.attestation.fresh_quote == false and .attestation.note == "the newest appraisal is recent enough"' \
    d1.json >/dev/null || break
  [ "$try" = 5 ] && fail "the host was never stale at a decision"
done
echo "   (the decision with a fresh quote took $(tail -n1 d1.out) s, agent poll_ms 200)"
jq -e '.allow == true and .attestation.required == true and .attestation.fresh_quote == true' d1.json \
  >/dev/null || { cat d1.json; fail "no fresh quote for the LI VM's migration"; }
pass "LI VM migration: a fresh quote obtained from the agent before the answer (allowed)"

lisec --server "$LISECD_URL" --pki "$pki" --role operator host list | grep -q "$hostA  trusted" ||
  fail "lisec host list"
lisec --server "$LISECD_URL" --pki "$pki" --role auditor host show "$hostA" | grep -q 'location: FI FI-18' ||
  fail "lisec host show (auditor)"
pass "lisec host list / show"

stop_agent
grep -q 'lisec-agent: stopped' agent-A.log || fail "the agent did not say it stopped"
pass "SIGTERM stops the agent cleanly (exit 0)"
stale "$hostA"
decide li-admin >d2.json
jq -e '.allow == false' d2.json >/dev/null || { cat d2.json; fail "allowed without a fresh quote"; }
grep -q 'did not attest within' d2.json || { cat d2.json; fail "the denial does not say why"; }
pass "agent silent: the LI VM's migration is denied (no fresh attestation, fail closed)"

# ---- roles and identities ------------------------------------------------------
[ "$(post_as operator /v1/attest/nonce "{\"host\":\"$hostA\"}" | status_of)" = 403 ] ||
  fail "an operator got a host's nonce"
[ "$(as auditor -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"certificate":"AA=="}' "$LISECD_URL/v1/hosts/$hostA/confirm-location")" = 403 ] ||
  fail "an auditor may not confirm a location"
# The development PKI's "host" certificate is a host, but not host A.
before=$(audit_count 'tried to act for another host')
[ "$(post_as host /v1/attest/nonce "{\"host\":\"$hostA\"}" | status_of)" = 403 ] ||
  fail "another host's certificate got host A's nonce"
[ "$(audit_count 'tried to act for another host')" -gt "$before" ] || fail "refusal not audited"
pass "wrong role -> 403; an agent acting for another host -> 403 (audited)"

# ---- evidence made by hand ---------------------------------------------------
n=$(nonce_for host-a "$hostA")
agent A quote --nonce "$n" --out q1 2>/dev/null || fail "agent quote"
evidence "$hostA" "$n" q1
submit host-a q1 | jq -e '.trust == "trusted" and .verified' >/dev/null || fail "good hand-made evidence"
submit host-a q1 | tee r.json | jq -e '.trust != "trusted"' >/dev/null || fail "replayed nonce accepted"
grep -q 'replay\|already used' r.json || { cat r.json; fail "replay not named"; }
pass "replayed nonce: untrusted, reason names the replay"

n=$(nonce_for host-a "$hostA")
agent A quote --nonce "$(openssl rand -hex 32)" --out q2 2>/dev/null || fail "agent quote"
evidence "$hostA" "$n" q2
submit host-a q2 | tee r.json | jq -e '.trust != "trusted"' >/dev/null || fail "wrong nonce accepted"
grep -q "does not carry this attestation's nonce" r.json || { cat r.json; fail "wrong nonce not named"; }
pass "quote over another nonce: untrusted"

n=$(nonce_for host-a "$hostA")
agent A quote --nonce "$n" --out q3 2>/dev/null || fail "agent quote"
flip_byte q3/quote.msg 40
evidence "$hostA" "$n" q3
submit host-a q3 | tee r.json | jq -e '.trust != "trusted"' >/dev/null || fail "tampered quote accepted"
grep -q 'quote signature' r.json || { cat r.json; fail "tampered quote not named"; }
[ "$(audit_count 'attest.appraise \| denied')" -ge 3 ] ||
  fail "refused appraisals not in the audit log"
as operator "$LISECD_URL/v1/model/host/$hostA" | jq -e '.state.trust == "untrusted"' >/dev/null ||
  fail "the model still trusts host A after a failed appraisal"
pass "tampered quote: untrusted (in the model too); every refusal audited with its reason"

# ---- an AK from another TPM ------------------------------------------------------
tpm_up B
tpm_use B
conf B
sed -i 's/^eventlog = .*/eventlog =/' agent-B.conf
agent B enrol --out enrolB >/dev/null 2>&1 || fail "enrol B"
hostB=$(cat enrolB/host_id)
lisec pki issue "$pki" host-b host "$hostB" >/dev/null || fail "pki issue host-b"
# Host B's TPM has no EK certificate: lisecd, which requires one, refuses it.
req=$(jq -n --arg ek "$(base64 -w0 enrolB/ek.pub)" --arg ak "$(base64 -w0 enrolB/ak.pub)" '{ek_pub:$ek, ak_pub:$ak}')
out=$(post_as host-b /v1/attest/enrol "$req")
[ "$(echo "$out" | status_of)" = 403 ] && grep -q 'EK certificate is required' <<<"$out" ||
  { echo "$out"; fail "enrolment without an EK certificate accepted"; }
# Nor does host A's EK certificate pass for host B's EK.
req=$(jq -n --arg ek "$(base64 -w0 enrolB/ek.pub)" --arg ak "$(base64 -w0 enrolB/ak.pub)" \
  --arg c "$(base64 -w0 ekcert-A.der)" '{ek_pub:$ek, ak_pub:$ak, ek_cert:$c}')
out=$(post_as host-b /v1/attest/enrol "$req")
[ "$(echo "$out" | status_of)" = 403 ] || { echo "$out"; fail "another EK's certificate accepted"; }
pass "O.1.6: enrolment needs an EK certificate from a trusted TPM vendor, for this EK"
tpm_use A
agent A enrol --out enrolA >/dev/null 2>&1 || fail "enrol A files"
cmp -s enrolA/ek.crt ekcert-A.der || fail "the agent did not read the EK certificate from NV"
req=$(jq -n --arg ek "$(base64 -w0 enrolA/ek.pub)" --arg ak "$(base64 -w0 enrolB/ak.pub)" \
  --arg c "$(base64 -w0 enrolA/ek.crt)" '{ek_pub:$ek, ak_pub:$ak, ek_cert:$c}')
out=$(post_as host-a /v1/attest/enrol "$req")
[ "$(echo "$out" | status_of)" = 201 ] || { echo "$out"; fail "enrol with B's AK: credential"; }
echo "$out" | body_of | jq -r .credential | base64 -d >credAB.bin
expect 1 'refused to activate' agent A activate --credential credAB.bin --out x.bin
out=$(post_as host-a /v1/attest/enrol/finish "{\"host\":\"$hostA\",\"secret\":\"$(openssl rand -base64 32)\"}")
[ "$(echo "$out" | status_of)" = 403 ] || { echo "$out"; fail "an unactivated AK was accepted"; }
grep -q 'never trusted' <<<"$out" || fail "the refusal does not say why"
# B's AK signs for host A: refused, and host A's own AK still works.
tpm_use B
n=$(nonce_for host-a "$hostA")
agent B quote --nonce "$n" --out qB 2>/dev/null || fail "agent B quote"
cp q1/location.cms qB/location.cms
evidence "$hostA" "$n" qB
submit host-a qB | tee r.json | jq -e '.trust != "trusted"' >/dev/null || fail "B's quote accepted for A"
grep -q 'quote signature' r.json || { cat r.json; fail "foreign AK not named"; }
# Host B's certificate cannot submit for host A either.
[ "$(post_as host-b /v1/attest/nonce "{\"host\":\"$hostA\"}" | status_of)" = 403 ] ||
  fail "host B acted for host A"
tpm_use A
pass "AK from another TPM: activation fails, enrolment refused (never trusted), its quotes refused"

# ---- power cycle: the location is void until asset management confirms ------
rm -f quarantined.txt
tpm_power_cycle
tpm_extend fw-A.txt
run_agent A
wait_for "$hostA" '.lisec.trust == "trusted" and .lisec.location == null and
  (.lisec.reasons | map(test("TR103308-6.2-R10")) | any)'
pass "power cycle: boot still trusted, location void (TR103308-6.2-R10)"
expect 1 'resetCount' lisec --server "$LISECD_URL" --pki "$pki" --role operator host \
  confirm-location "$hostA" --location state-A/location.cms
issue_location am "$hostA" "$(show "$hostA" | jq -r .lisec.tpm_reset_count)" loc2.cms
lisec --server "$LISECD_URL" --pki "$pki" --role operator host confirm-location "$hostA" \
  --location loc2.cms >confirm.out || { cat confirm.out; fail "confirm-location"; }
wait_for "$hostA" '.lisec.trust == "trusted" and .lisec.location.site == "HEL1" and
  (.lisec.location_confirmation_pending | not)'
[ "$(audit_count 'attest.confirm-location \| (ok|denied)')" -ge 2 ] || fail "confirmations not audited"
pass "lisec host confirm-location: an old certificate refused; the new one measured by the agent, location back"

# ---- a TPM Restart: resetCount kept, the location void until confirmed ----------
# Shutdown(STATE), power off, Startup(CLEAR): PCRs reset, restartCount up.
stop_agent
tpm2_shutdown >/dev/null 2>&1 || fail "tpm2_shutdown (STATE)"
swtpm_ioctl --tcp "127.0.0.1:$SWTPM_CTRL_PORT" -i >/dev/null || fail "swtpm_ioctl -i"
tpm2_startup -c >/dev/null 2>&1 || fail "tpm2_startup -c"
tpm_extend fw-A.txt
run_agent A
wait_for "$hostA" '.lisec.trust == "trusted" and .lisec.location == null and .lisec.tpm_restart_count > 0 and
  (.lisec.reasons | map(test("TR103308-6.2-R10.*restartCount")) | any)'
reset=$(show "$hostA" | jq -r .lisec.tpm_reset_count) restart=$(show "$hostA" | jq -r .lisec.tpm_restart_count)
lisec --server "$LISECD_URL" --pki "$pki" --role operator host show "$hostA" |
  grep -q "TPM: *resetCount $reset, restartCount $restart (its last quote)" ||
  fail "lisec host show does not give the last quote's counters"
issue_location am "$hostA" "$reset" loc3.cms
expect 1 'TR103308-6.2-R10: the certificate is for TPM restartCount 0' lisec --server "$LISECD_URL" \
  --pki "$pki" --role operator host confirm-location "$hostA" --location loc3.cms
issue_location am "$hostA" "$reset" loc4.cms FI FI-18 HEL1 "$restart"
lisec --server "$LISECD_URL" --pki "$pki" --role operator host confirm-location "$hostA" \
  --location loc4.cms >confirm.out || { cat confirm.out; fail "confirm-location at the restartCount"; }
wait_for "$hostA" '.lisec.trust == "trusted" and .lisec.location.tpm_restart_count > 0 and
  (.lisec.location_confirmation_pending | not)'
pass "a TPM Restart: location void (restartCount), a certificate without it refused at confirmation, one with it restores the location"

# ---- overdue -----------------------------------------------------------------
stop_agent
wait_for "$hostA" '.lisec.trust == "untrusted:overdue"'
# Every view of the host shows the trust decisions use, at once (before, the
# model said "trusted" until the overdue timer had run).
as operator "$LISECD_URL/v1/model/host/$hostA" |
  jq -e '.state.trust == "untrusted" and .state.attestation == "untrusted:overdue"' >/dev/null ||
  { as operator "$LISECD_URL/v1/model/host/$hostA" >&2; fail "GET /v1/model/host: not untrusted (overdue) as the attestation status says"; }
lisec --server "$LISECD_URL" --pki "$pki" --role operator model get host "$hostA" >mget.out ||
  fail "lisec model get host"
grep -q '"attestation": *"untrusted:overdue"' mget.out && ! grep -q '"trust": *"trusted"' mget.out ||
  { cat mget.out; fail "lisec model get host: not untrusted (overdue)"; }
as operator "$LISECD_URL/v1/model/host" | jq -e --arg h "$hostA" \
  '.hosts[] | select(.id == $h) | .state.attestation == "untrusted:overdue"' >/dev/null ||
  fail "GET /v1/model/host (list): not untrusted (overdue)"
pass "overdue: the model's host view (API get and list, lisec model get) says untrusted:overdue as the attestation status does"
for _ in $(seq 1 50); do [ -s quarantined.txt ] && break; sleep 0.1; done
grep -q "^$hostA .*overdue.* vm-li vm-store$" quarantined.txt ||
  { cat quarantined.txt; fail "quarantine command not run with host A's VMs of class li"; }
as operator "$LISECD_URL/v1/model/host/$hostA" | jq -e '.state.trust == "untrusted"' >/dev/null ||
  fail "the model still trusts the overdue host"
[ "$(sqlite3 lisec.db 'SELECT COUNT(*) FROM audit_log WHERE sealed = 1')" -ge 1 ] ||
  fail "no sealed LI finding"
[ "$(audit_count 'attest.overdue \| denied')" -ge 1 ] || fail "overdue not audited"
[ "$(audit_count 'attest.quarantine \| ok')" -ge 1 ] || fail "quarantine not audited"
pass "no attestation for interval + grace: untrusted:overdue, finding and quarantine command, audited"

# ---- lisecd restarts: the hosts' state comes back from the store -----------
stop_lisecd
LISECD_PID=
"$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>>"$work/lisecd.log" &
LISECD_PID=$!
for _ in $(seq 1 100); do as operator -o /dev/null "$LISECD_URL/healthz" 2>/dev/null && break; sleep 0.1; done
show "$hostA" | jq -e '.lisec.trust == "untrusted:overdue"' >/dev/null || fail "state lost on restart"
run_agent A
wait_for "$hostA" '.lisec.trust == "trusted" and .lisec.location.site == "HEL1"'
stop_agent
pass "after a restart of lisecd the agent attests again: trusted"

# ---- a TPM firmware older than one seen before: a rollback ---------------------
# (swtpm's version is fixed, so the store is made to remember a newer one)
stop_lisecd
sqlite3 lisec.db "UPDATE documents SET body = json_set(body, '\$.max_tpm_firmware', 'fffffffffffffff0')
  WHERE kind = 'attest.host' AND id = '$hostA'" || fail "sqlite3: the host's firmware baseline"
"$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>>"$work/lisecd.log" &
LISECD_PID=$!
for _ in $(seq 1 100); do as operator -o /dev/null "$LISECD_URL/healthz" 2>/dev/null && break; sleep 0.1; done
run_agent A
wait_for "$hostA" '.lisec.trust == "untrusted:failed" and
  (.lisec.reasons | map(test("TR103308-5.4: TPM firmware version [0-9a-f]{16} is lower than fffffffffffffff0")) | any)'
pass "a TPM firmware older than one the host ran before: untrusted (TR103308-5.4, firmware rollback)"
reset=$(show "$hostA" | jq -r .lisec.tpm_reset_count) restart=$(show "$hostA" | jq -r .lisec.tpm_restart_count)
issue_location am "$hostA" "$reset" loc5.cms FI FI-18 HEL1 "$restart"
lisec --server "$LISECD_URL" --pki "$pki" --role operator host confirm-location "$hostA" \
  --location loc5.cms >confirm.out || { cat confirm.out; fail "confirm-location after the rollback"; }
wait_for "$hostA" '.lisec.trust == "trusted" and .lisec.location.site == "HEL1"'
stop_agent
pass "asset management's confirmation makes the running firmware the baseline: trusted again"

# ---- TPM2_Clear sets resetCount back to 0 (and takes the AK with it) ------
# (a clear is followed by a reboot: firmware asks for physical presence)
tpm2_clear >/dev/null 2>&1 || fail "tpm2_clear"
[ "$(tpm_reset_count)" = 0 ] || fail "tpm2_clear did not reset resetCount"
tpm_power_cycle
tpm_extend fw-A.txt
expect 2 'loading the AK' agent A quote --nonce "$(openssl rand -hex 32)" --out x
rm -f state-A/ak.pub state-A/ak.priv # the operator enrols the host again
run_agent A
wait_for "$hostA" '.lisec.trust == "trusted" and .lisec.location == null and
  (.lisec.reasons | map(test("resetCount 1 is lower than")) | any)'
pass "TPM2_Clear: re-enrolled, boot trusted, but the resetCount decrease voids the location"
issue_location am "$hostA" 1 loc3.cms
lisec --server "$LISECD_URL" --pki "$pki" --role operator host confirm-location "$hostA" \
  --location loc3.cms >/dev/null || fail "confirm-location after clear"
wait_for "$hostA" '.lisec.trust == "trusted" and .lisec.location.site == "HEL1" and (.lisec.reasons == [])'
stop_agent
pass "asset management's confirmation at resetCount 1 is the new baseline: location back"
echo "attest_api: all passed"
