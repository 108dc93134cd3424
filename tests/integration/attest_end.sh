#!/usr/bin/env bash
# The end of a host's enrolment (issue 21 items 2 and 6), against a real
# software TPM, lisec-agent and lisecd: the operator de-enrols a host
# (`lisec host remove`), which revokes its AK binding and its client
# certificate, voids its location and trust, and leaves its VMs' placement
# unproven; lisec refuses the revoked certificate for the host role while
# the CA still trusts it, serves its revocation list, and `lisec pki
# revoke` makes a CRL (checked with openssl crl -verify / openssl verify
# -crl_check) that [tls] crl then enforces at the handshake. Bad cases:
# wrong roles, an unknown or malformed host, a host still running an LI
# VM, declared li or only in the LI records (refused naming no LI VM),
# de-enrolling twice, a quote after
# de-enrolment, a TPM with another EK under the host's id, and replays of
# an enrolment's finish, an enrolment with the AK the de-enrolment revoked
# (NFV-SEC025-lifecycle, TR103308-5.1). Re-enrolment of the same TPM goes
# through a new AK (`lisec-agent enrol --new-ak` by hand; `run` makes one
# when lisecd refuses the kept one) and a fresh MakeCredential/
# ActivateCredential. Every step is checked in the audit log.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
pki=$work/pki
agent_bin="$build/cmd/lisec-agent/lisec-agent"
agent() { "$agent_bin" -c "$work/agent-$1.conf" "${@:2}"; }

# conf NAME CERT: the agent's configuration for TPM NAME with client certificate CERT.
conf() {
  cat >"agent-$1.conf" <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
ek = ecc
ak = ecc
pcrs = 0,1,2,3,4,5,6,7,8,15
[agent]
state_dir = $work/state-$1
eventlog = $work/fw-$1.bin
poll_ms = 100
interval_s = 300
[server]
url = ${LISECD_URL:-https://localhost:1}
ca = $pki/ca.crt
cert = $pki/$2.crt
key = $pki/$2.key
CONF
}
run_agent() {
  "$agent_bin" -c "$work/agent-$1.conf" run >>"agent-$1.log" 2>&1 &
  AGENT_PID=$!
  cleanup_hooks+=("kill $AGENT_PID 2>/dev/null || true")
}
stop_agent() {
  kill -TERM "$AGENT_PID" 2>/dev/null || true
  wait "$AGENT_PID" 2>/dev/null || true
}
show() { as operator "$LISECD_URL/v1/hosts/$1/attestation"; }
wait_for() { # wait_for HOST JQ-FILTER
  for _ in $(seq 1 300); do
    show "$1" | jq -e "$2" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  show "$1" >&2
  tail -20 agent-A.log >&2 || true
  fail "host ${1:0:12}.. never reached: $2"
}
# req CERT METHOD PATH [JSON]: body in req.out, prints the HTTP status.
req() {
  local data=()
  [ -n "${4:-}" ] && data=(-H 'Content-Type: application/json' -d "$4")
  curl -sS --cacert "$pki/ca.crt" --cert "$pki/$1.crt" --key "$pki/$1.key" -X "$2" "${data[@]}" \
    -o "$work/req.out" -w '%{http_code}' "$LISECD_URL$3"
}
expect_req() { # expect_req STATUS REGEX CERT METHOD PATH [JSON]
  local want=$1 re=$2 got
  shift 2
  got=$(req "$@")
  [ "$got" = "$want" ] && grep -Eq -- "$re" req.out ||
    { cat req.out >&2; fail "$2 $3: $got, expected $want matching /$re/"; }
}
b64() { base64 -w0 "$1"; }
sha256_of_cert() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

# ---- host A boots, lisecd with [tls] crl of the development CA ----------------
make_pki "$pki"
# the CA's first CRL revokes a certificate nobody uses ([tls] crl needs one)
lisec pki revoke "$pki" "$(serial_of "$pki/tenant-example.crt")" >/dev/null || fail "pki revoke (first CRL)"
tpm_up A
tpm_use A
evgen --log fw-A.bin --extends fw-A.txt --reference ref.json --events 8
tpm_extend fw-A.txt
conf A host-a
hostA=$(agent A host-id)
lisec pki issue "$pki" host-a host "$hostA" >/dev/null || fail "pki issue host-a"
am_pki am
mkdir -p state-A
issue_location am "$hostA" "$(tpm_reset_count)" state-A/location.cms
make_li_admin_key "$work/li-admin"
# the LI administration's signing key ([li] admin_pubkey) and an LI VM's own key
for k in li-cmd vm-li-p; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $k.key 2>/dev/null
  openssl pkey -in $k.key -pubout -out $k.pub
done
start() {
  start_lisecd "$pki" "[tls]" "crl = $pki/crl.pem" "[audit]" "li_admin_key = $work/li-admin.pub" \
    "[li]" "admin_pubkey = $work/li-cmd.pub" "[attest]" \
    "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" "interval_s = 60" "grace_s = 30" \
    "check_ms = 200"
  sed -i "s|^url = .*|url = $LISECD_URL|" agent-A.conf
}
start

model_put() { # model_put KIND JSON
  [ "$(req operator POST "/v1/model/$1" "$2")" = 201 ] || { cat req.out >&2; fail "model: POST $1"; }
}
model_put host "{\"id\":\"$hostA\",\"protection\":\"li\"}"
model_put hypervisor "{\"id\":\"hv-a\",\"host\":\"$hostA\"}"
model_put vm '{"id":"vm-web","hypervisor":"hv-a","sensitivity":"sensitive","domain":"core"}'
model_put vm '{"id":"vm-li-x","hypervisor":"hv-a","sensitivity":"li","domain":"li"}'
run_agent A
wait_for "$hostA" '.lisec.trust == "trusted" and .lisec.location.country == "FI"'
place='{"id":"vm-new","hypervisor":"hv-a","sensitivity":"sensitive","domain":"core"}'
[ "$(req mano POST /v1/decisions/placement "$place")" = 200 ] && jq -e '.allow == true' req.out >/dev/null ||
  { cat req.out >&2; fail "placement onto the trusted host"; }
pass "host A enrolled and trusted (location FI); a placement onto it is allowed"

# ---- bad cases: nothing changes -----------------------------------------------
expect_req 403 'role mano may not DELETE' mano DELETE "/v1/hosts/$hostA"
expect_req 403 'role host may not DELETE' host-a DELETE "/v1/hosts/$hostA"
expect_req 404 'NFV-SEC025-lifecycle: host 0000000000000000.. never enrolled' operator DELETE "/v1/hosts/$(printf '0%.0s' $(seq 64))"
expect_req 400 '' operator DELETE "/v1/hosts/NOT-A-HOST"
expect_req 409 'NFV-SEC025-lifecycle, TR103308-4.1: host .* still runs VMs' operator DELETE "/v1/hosts/$hostA"
grep -q 'vm-li-x' req.out && fail "the refusal names the LI VM to the operator"
show "$hostA" | jq -e '.lisec.trust == "trusted"' >/dev/null || fail "a refused de-enrolment changed the host"
[ "$(audit_count 'attest.deenrol \| (denied|refused)')" -ge 4 ] || fail "refusals not in the audit log"
pass "de-enrolment refused for mano and host (403), an unknown (404) or malformed (400) host, and a host running an LI VM (409, naming no VM); recorded; the host stays trusted"

# A VM the LI records know keeps the host as well, declared li or not: once
# the host is gone no inventory of it comes and no lock finding is raised.
model_put vm '{"id":"vm-li-p","hypervisor":"hv-a","sensitivity":"sensitive","domain":"core"}'
[ "$(req hypervisor-admin POST /v1/li/vms "$(jq -n --rawfile k vm-li-p.pub '{vm:"vm-li-p",pubkey:$k}')")" = 201 ] ||
  { cat req.out >&2; fail "register LI VM vm-li-p"; }
code=$(req operator DELETE /v1/model/vm/vm-li-x)
[ "$code" = 200 ] || [ "$code" = 204 ] || { cat req.out >&2; fail "model: DELETE vm-li-x -> $code"; }
expect_req 409 'NFV-SEC025-lifecycle, TR103308-4.1: host .* still runs VMs that only the LI administration' \
  operator DELETE "/v1/hosts/$hostA"
grep -q 'vm-li' req.out && fail "the refusal names the LI VM to the operator: $(cat req.out)"
show "$hostA" | jq -e '.lisec.trust == "trusted"' >/dev/null || fail "a refused de-enrolment changed the host"
# the LI administration retires it; then the host may go
lisec li sign-retire --key li-cmd.key --vm vm-li-p --counter 1 --expires +3600 -o retire.json 2>/dev/null ||
  fail "sign-retire"
[ "$(req li-admin POST /v1/li/vms/vm-li-p/retire "{\"command\":$(cat retire.json)}")" = 200 ] ||
  { cat req.out >&2; fail "retire vm-li-p"; }
code=$(req operator DELETE /v1/model/vm/vm-li-p)
[ "$code" = 200 ] || [ "$code" = 204 ] || { cat req.out >&2; fail "model: DELETE vm-li-p -> $code"; }
pass "a host running a VM registered in the LI records (declared sensitive) is not de-enrolled (409, naming no VM) until the LI administration retires it"

# ---- de-enrolment ---------------------------------------------------------------
lisec --server "$LISECD_URL" --pki "$pki" --role operator host remove "$hostA" >remove.out 2>&1 ||
  { cat remove.out >&2; fail "lisec host remove"; }
grep -q "certificate revoked: serial $(serial_of "$pki/host-a.crt")" remove.out ||
  { cat remove.out >&2; fail "host remove does not list host-a's certificate"; }
[ "$(audit_count 'attest.deenrol \| ok')" = 1 ] || fail "de-enrolment not recorded"
show "$hostA" | jq -e '.lisec.trust == "untrusted:deenrolled" and (.lisec.location == null)' >/dev/null ||
  { show "$hostA" >&2; fail "the host is not untrusted:deenrolled without a location"; }
as operator "$LISECD_URL/v1/model/host/$hostA" |
  jq -e '.state.trust == "untrusted" and .state.attestation == "untrusted:deenrolled" and (.state.location == null)' \
  >/dev/null || { as operator "$LISECD_URL/v1/model/host/$hostA" >&2; fail "the model still trusts the host"; }
[ "$(req mano POST /v1/decisions/placement "$place")" = 200 ] && jq -e '.allow == false' req.out >/dev/null ||
  { cat req.out >&2; fail "placement onto the de-enrolled host allowed"; }
pass "lisec host remove: AK binding and certificate revoked, trust untrusted:deenrolled, location void in the model, placement onto it denied; recorded"

# the revocation list, as lisec serves it, against openssl's view of the certificate
[ "$(req auditor GET /v1/attest/revoked)" = 200 ] || fail "GET /v1/attest/revoked"
jq -e --arg h "$(sha256_of_cert "$pki/host-a.crt")" --arg s "$(serial_of "$pki/host-a.crt")" \
  --arg host "$hostA" '.revoked | any(.sha256 == $h and .serial == $s and .host == $host)' req.out >/dev/null ||
  { cat req.out >&2; fail "the revocation list lacks host-a's certificate"; }
expect_req 403 'role host may not GET' host-a GET /v1/attest/revoked
lisec --server "$LISECD_URL" --pki "$pki" --role auditor host revoked | grep -q "$(sha256_of_cert "$pki/host-a.crt")" ||
  fail "lisec host revoked"
# the agent's certificate: refused for the host role, though the CA trusts it
expect_req 403 'TR103308-O.1.8, NFV-SEC025-lifecycle: this client certificate .* was revoked' host-a POST \
  /v1/attest/challenge "{\"host\":\"$hostA\"}"
[ "$(audit_count 'attest.revoked-certificate \| denied')" -ge 1 ] || fail "revoked certificate refusals not recorded"
expect_req 409 'was de-enrolled already' operator DELETE "/v1/hosts/$hostA"
stop_agent
pass "GET /v1/attest/revoked lists host-a's certificate (SHA-256, serial as openssl reads them); the agent's certificate is refused (403, recorded); a second de-enrolment is refused"

# ---- a quote after de-enrolment, with a certificate lisec did not revoke -----------
lisec pki issue "$pki" host-a2 host "$hostA" >/dev/null || fail "pki issue host-a2"
agent A quote --nonce "$(openssl rand -hex 32)" --out q1 >/dev/null 2>&1 || fail "agent quote"
jq -n --arg h "$hostA" --arg n "$(openssl rand -hex 32)" --arg q "$(b64 q1/quote.msg)" \
  --arg s "$(b64 q1/quote.sig)" --arg p "$(b64 q1/quote.pcrs)" --arg l "$(b64 q1/eventlog.bin)" \
  '{host:$h, nonce:$n, quote:$q, signature:$s, pcrs:$p, eventlog:$l}' >q1.json
expect_req 403 'NFV-SEC025-lifecycle, TR103308-5.1: host .* was de-enrolled: its AK binding is revoked' host-a2 \
  POST /v1/attest/evidence "$(cat q1.json)"
expect_req 404 'was de-enrolled' host-a2 POST /v1/attest/nonce "{\"host\":\"$hostA\"}"
pass "a quote signed by the revoked AK is refused (403 naming NFV-SEC025-lifecycle and TR103308-5.1), no nonce is issued"
# all of it is stored: a restarted lisecd refuses the same way
stop_lisecd
start
expect_req 403 'TR103308-O.1.8, NFV-SEC025-lifecycle: this client certificate .* was revoked' host-a POST \
  /v1/attest/challenge "{\"host\":\"$hostA\"}"
expect_req 403 'was de-enrolled: its AK binding is revoked' host-a2 POST /v1/attest/evidence "$(cat q1.json)"
show "$hostA" | jq -e '.lisec.trust == "untrusted:deenrolled"' >/dev/null || fail "restart: the host's trust"
as operator "$LISECD_URL/v1/model/host/$hostA" | jq -e '.state.attestation == "untrusted:deenrolled"' >/dev/null ||
  fail "restart: the model's view of the host"
pass "after a restart of lisecd: the certificate still revoked, the quote still refused, the host untrusted:deenrolled"

# ---- a TPM with another EK under host A's id --------------------------------------
tpm_up B
tpm_use B
conf B host-a2
agent B enrol --out enrB >/dev/null 2>&1 || fail "agent B enrol"
tpm_use A
enrol_body() { jq -n --arg e "$(b64 "$1/ek.pub")" --arg a "$(b64 "$1/ak.pub")" '{ek_pub:$e, ak_pub:$a}'; }
expect_req 403 "O.1.6, NFV-SEC025-lifecycle: this TPM's EK is host .* which was de-enrolled: a TPM replaced or re-seeded is a new host" \
  host-a2 POST /v1/attest/enrol "$(enrol_body enrB)"

# ---- the AK the de-enrolment revoked is never bound again ---------------------------
# TPM A's agent kept its AK (state-A/ak.pub): enrolling with it again is
# refused, naming the requirement and that the agent must make a new AK.
old_ak=$(sha256sum state-A/ak.pub | cut -c1-64)
agent A enrol --out enrA >/dev/null 2>&1 || fail "agent A enrol"
cmp -s enrA/ak.pub state-A/ak.pub || fail "enrol without --new-ak did not send the kept AK"
denied_before=$(audit_count 'attest.enrol \| denied')
expect_req 403 "NFV-SEC025-lifecycle, TR103308-5.1: AK revoked at de-enrolment: host ${hostA:0:16}\.\.'s AK \(SHA-256 ${old_ak:0:16}\.\.\) was revoked .* the agent must make a new AK" \
  host-a2 POST /v1/attest/enrol "$(enrol_body enrA)"
[ "$(audit_count 'attest.enrol \| denied')" -gt "$denied_before" ] || fail "the revoked AK's refusal was not recorded"
show "$hostA" | jq -e '.lisec.trust == "untrusted:deenrolled"' >/dev/null || fail "a refused AK changed the host"
pass "an enrolment with the AK the de-enrolment revoked is refused (403 naming NFV-SEC025-lifecycle, TR103308-5.1, a new AK), recorded"

# ---- re-enrolment of TPM A by hand: a new AK, a fresh credential activation --------
# (in a state directory of its own: state-A keeps the revoked AK for the
# agent's own re-enrolment below)
agent A --state "$work/state-hand" enrol --new-ak --out enrA >/dev/null 2>&1 || fail "agent A enrol --new-ak"
[ "$(sha256sum enrA/ak.pub | cut -c1-64)" != "$old_ak" ] || fail "enrol --new-ak kept the revoked AK"
[ "$(req host-a2 POST /v1/attest/enrol "$(enrol_body enrA)")" = 201 ] || { cat req.out >&2; fail "re-enrol"; }
jq -r .credential req.out | base64 -d >cred.bin
agent A --state "$work/state-hand" activate --credential cred.bin --out secret.bin >/dev/null 2>&1 || fail "agent activate"
finish=$(jq -n --arg h "$hostA" --arg s "$(b64 secret.bin)" '{host:$h, secret:$s}')
show "$hostA" | jq -e '.lisec.trust == "untrusted:deenrolled"' >/dev/null ||
  fail "the old binding came back before the activation"
expect_req 200 '"enrolled": *true' host-a2 POST /v1/attest/enrol/finish "$finish"
expect_req 409 'O.1.6: host .* has no enrolment waiting for activation' host-a2 POST /v1/attest/enrol/finish "$finish"
[ "$(req host-a2 POST /v1/attest/enrol "$(enrol_body enrA)")" = 201 ] || fail "enrol begin again"
expect_req 403 'O.1.6: the secret does not match' host-a2 POST /v1/attest/enrol/finish "$finish"
pass "re-enrolment needs a fresh activation; the finish replayed (no enrolment waiting, 409) or against a new credential (403) is refused"
tpm_use B
expect_req 403 "O.1.6, NFV-SEC025-lifecycle: this TPM's EK is host .*, not the EK host .* enrolled with: its TPM was replaced" \
  host-a2 POST /v1/attest/enrol "$(enrol_body enrB)"
tpm_use A
pass "a TPM with another EK under host A's id is refused as a different host, saying how it enrols (de-enrolled: under its own id; enrolled: de-enrol first)"

# the agent with its new certificate enrols and attests again: lisecd refuses
# the AK it kept (revoked), so it makes a new one and enrols with it;
# trusted with its location
sed -i "s|host-a\.|host-a2.|" agent-A.conf
denied_before=$(audit_count 'attest.enrol \| denied')
run_agent A
wait_for "$hostA" '.lisec.trust == "trusted" and .lisec.location.country == "FI"'
[ "$(audit_count 'attest.enrol.finish \| ok')" -ge 3 ] || fail "re-enrolments not recorded"
grep -q 'AK revoked at de-enrolment' agent-A.log && grep -q 'enrolling with a new AK' agent-A.log ||
  { tail -20 agent-A.log >&2; fail "the agent did not make a new AK when its kept one was refused"; }
[ "$(audit_count 'attest.enrol \| denied')" -gt "$denied_before" ] || fail "the agent's revoked AK was not refused"
new_ak=$(sha256sum state-A/ak.pub | cut -c1-64)
[ "$new_ak" != "$old_ak" ] || fail "the agent kept the revoked AK"
hand_ak=$(sha256sum state-hand/ak.pub | cut -c1-64)
[ "$new_ak" != "$hand_ak" ] || fail "the agent's new AK is the hand-made one"
pass "with a new certificate the agent is refused its revoked AK, makes a new one, enrols again (fresh activation) and the host is trusted again"
stop_agent

# ---- the development CA's CRL: openssl checks it, lisecd enforces it ---------------
lisec pki revoke "$pki" "$(serial_of "$pki/host-a.crt")" >/dev/null || fail "lisec pki revoke"
openssl crl -in "$pki/crl.pem" -CAfile "$pki/ca.crt" -noout -verify 2>&1 | grep -q 'verify OK' ||
  fail "openssl crl -verify"
openssl crl -in "$pki/crl.pem" -noout -text | grep -q "$(serial_of "$pki/host-a.crt")" || fail "serial not in the CRL"
! openssl verify -crl_check -CAfile "$pki/ca.crt" -CRLfile "$pki/crl.pem" "$pki/host-a.crt" >verify.out 2>&1 &&
  grep -q 'certificate revoked' verify.out || fail "openssl verify -crl_check accepts the revoked certificate"
openssl verify -crl_check -CAfile "$pki/ca.crt" -CRLfile "$pki/crl.pem" "$pki/host-a2.crt" >/dev/null 2>&1 ||
  fail "openssl verify -crl_check refuses the new certificate"
kill -HUP "$LISECD_PID"
for _ in $(seq 1 300); do
  code=$(req host-a POST /v1/attest/challenge "{\"host\":\"$hostA\"}" 2>/dev/null) || code=000
  [ "$code" = 000 ] && break
  sleep 0.1
done
[ "$code" = 000 ] || fail "lisecd still completes a handshake with the revoked certificate"
# the client sees the handshake fail before lisecd's line about it is written
for _ in $(seq 100); do grep -q 'certificate revoked' lisecd.log && break; sleep 0.1; done
grep -q 'certificate revoked' lisecd.log || fail "lisecd did not log the CRL refusal"
expect_req 200 '"attest_now"' host-a2 POST /v1/attest/challenge "{\"host\":\"$hostA\"}"
pass "lisec pki revoke: a CRL openssl verifies and that revokes host-a; after SIGHUP [tls] crl refuses it at the handshake, host-a2 is served"
