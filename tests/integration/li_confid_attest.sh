#!/usr/bin/env bash
# A decision's "attestation" object tells no role but li-admin which VM an
# LI monitors (TR 103 308 §4.1): a real lisecd, one host attested by its
# own swtpm and lisec-agent (trusted in FI), an LI monitoring vm-target and
# vm-twin, which is vm-target in every declared respect but no LI names.
# Moving either to the host's other hypervisor is allowed; the monitored
# VM's decision needs a fresh attestation of the host (a quote is asked
# for when the host's newest one is older than attestation_max_age_s).
# As operator, hypervisor-admin, mano and host, the migration decisions
# about the two VMs read the same, ids aside (a placement is of a new VM,
# which no LI can name yet; an existing one is refused alike, 409); a VM
# declared "li" still reads "required", and li-admin still reads for the
# monitored VM that an LI required the fresh attestation and whether a
# quote was taken for it.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
pki=$work/pki
agent_bin="$build/cmd/lisec-agent/lisec-agent"

make_pki "$pki"
am_pki am
evgen --log fw.bin --extends fw.txt --reference ref.json
tpm_up T1
tpm_use T1
tpm_extend fw.txt
mkdir -p state
cat >agent.conf <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
pcrs = 0,1,2,3,4,5,6,7,8,15
[agent]
state_dir = $work/state
eventlog = $work/fw.bin
poll_ms = 200
[server]
url = https://localhost:PORT
ca = $pki/ca.crt
cert = $pki/host-1.crt
key = $pki/host-1.key
CONF
hid=$("$agent_bin" -c agent.conf host-id) || fail "lisec-agent host-id"
lisec pki issue "$pki" host-1 host "$hid" >/dev/null || fail "lisec pki issue host-1"
issue_location am "$hid" "$(tpm_reset_count)" state/location.cms

lisec audit li-keygen li.key li.pub >/dev/null 2>&1 || fail "lisec audit li-keygen"
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "fresh_wait_ms = 5000" "[model]" "attestation_max_age_s = 1" "[audit]" "li_admin_key = $work/li.pub" \
  "[api]" "refusal_rate = 0"

post() { # post ROLE PATH JSON: the body; the status on the last line
  as "$1" -H 'Content-Type: application/json' -d "$3" -w '\n%{http_code}\n' "$LISECD_URL$2"
}
model_put() { # model_put ROLE KIND JSON
  local out
  out=$(post "$1" "/v1/model/$2" "$3")
  [ "$(echo "$out" | tail -n1)" = 201 ] || fail "model: POST $2: $out"
}
model_put operator jurisdiction '{"id":"fi","name":"Finland","codes":["FI"]}'
model_put operator lea '{"id":"lea-fi","name":"Finnish LEA","jurisdiction":"fi"}'
model_put operator host "{\"id\":\"$hid\",\"protection\":\"li\"}"
model_put operator hypervisor "{\"id\":\"hv-1\",\"host\":\"$hid\"}"
model_put operator hypervisor "{\"id\":\"hv-1b\",\"host\":\"$hid\"}"
model_put operator vm '{"id":"vm-target","hypervisor":"hv-1b","sensitivity":"sensitive","domain":"core"}'
model_put operator vm '{"id":"vm-twin","hypervisor":"hv-1b","sensitivity":"sensitive","domain":"core"}'
model_put operator vm '{"id":"vm-li","hypervisor":"hv-1b","sensitivity":"li","domain":"li"}'
model_put operator vm '{"id":"vm-store","hypervisor":"hv-1b","sensitivity":"li","domain":"li"}'
model_put operator storage '{"id":"st-li","vm":"vm-store","provided_to":["vm-li"]}'
model_put operator connection '{"id":"c-target-li","between":["vm-target","vm-li"],"kind":"network","secure":true}'
model_put operator connection '{"id":"c-li-store","between":["vm-li","vm-store"],"kind":"nfs","secure":true}'
model_put operator group '{"id":"g-target-li","connections":["c-target-li"]}'
model_put operator group '{"id":"g-li-store","connections":["c-li-store"]}'
model_put li-admin li '{"id":"li-fi-1","jurisdiction":"fi","lea":"lea-fi","monitored":"vm-target","host":"vm-li","storage":"st-li","valid_from":"2025-01-01T00:00:00Z","valid_until":"2035-01-01T00:00:00Z"}'

sed -i "s|^url = .*|url = $LISECD_URL|" agent.conf
"$agent_bin" -c "$work/agent.conf" run >>agent.log 2>&1 &
agent_pid=$!
cleanup_hooks+=("kill $agent_pid 2>/dev/null || true")
show() { as operator "$LISECD_URL/v1/hosts/$hid/attestation"; }
for _ in $(seq 1 300); do
  show | jq -e '.lisec.trust == "trusted" and .lisec.location.country == "FI"' >/dev/null 2>&1 && break
  sleep 0.1
done
show | jq -e '.lisec.trust == "trusted"' >/dev/null || { tail agent.log >&2; fail "the host is not trusted"; }
pass "one host attested by its swtpm and lisec-agent: trusted in FI"

# stale: until the host's newest good appraisal is older than max_age_s
# (last_ok_at has whole seconds, so 2 s apart).
stale() {
  local at
  for _ in $(seq 1 100); do
    at=$(show | jq -r '.lisec.last_ok_at // empty')
    [ -n "$at" ] && [ $(($(date +%s) - $(date -d "$at" +%s))) -ge 2 ] && return 0
    sleep 0.1
  done
  fail "the host never went stale"
}

# decide ROLE VM OUT: the decision to migrate VM to hv-1, into OUT; it
# must be answered 200.
decide() {
  post "$1" /v1/decisions/migration "{\"vm\":\"$2\",\"hypervisor\":\"hv-1\"}" >"$3.out"
  [ "$(tail -n1 "$3.out")" = 200 ] || { cat "$3.out" >&2; fail "$1: the decision about $2: not 200"; }
  sed '$d' "$3.out" >"$3"
}

# same A B: the two decisions read the same once the VM's id and the
# record's position are left aside.
same() {
  python3 - "$1" "$2" <<'PY'
import json, sys
def norm(path):
    d = json.load(open(path))
    d.pop("audit_index", None)
    return json.dumps(d, sort_keys=True).replace("vm-target", "VM").replace("vm-twin", "VM")
a, b = norm(sys.argv[1]), norm(sys.argv[2])
if a != b:
    print("monitored VM: " + a + "\ntwin:         " + b, file=sys.stderr)
    sys.exit(1)
PY
}

for role in operator hypervisor-admin mano host; do
  # The monitored VM first, from a stale host: its decision takes a fresh
  # quote, the twin's (asked right after) does not need one.
  stale
  decide "$role" vm-target "t-$role.json"
  decide "$role" vm-twin "w-$role.json"
  jq -e '.allow == true' "t-$role.json" "w-$role.json" >/dev/null ||
    fail "$role: the decisions were not both allowed: $(cat "t-$role.json" "w-$role.json")"
  same "t-$role.json" "w-$role.json" || fail "$role: the decision tells the monitored VM from its twin"
done
pass "operator, hypervisor-admin, mano and host: the monitored VM's migration reads as its twin's, right after a fresh quote"

# What a role may know stays: a VM declared "li" needs a fresh attestation
# for every role, and li-admin reads the LI's requirement on the monitored VM.
decide mano vm-li li-mano.json
jq -e '.attestation.required == true' li-mano.json >/dev/null ||
  fail "mano: a VM declared li does not read attestation required: $(cat li-mano.json)"
stale
decide li-admin vm-target t-li-admin.json
jq -e '.allow == true and .attestation.required == true and .attestation.fresh_quote == true and
  .attestation.note == "a fresh quote was obtained for this decision"' t-li-admin.json >/dev/null ||
  fail "li-admin: the monitored VM's decision does not say the LI required a fresh quote: $(cat t-li-admin.json)"
decide li-admin vm-twin w-li-admin.json
jq -e '.attestation.required == false' w-li-admin.json >/dev/null ||
  fail "li-admin: the twin's decision reads attestation required: $(cat w-li-admin.json)"
pass "a VM declared li reads attestation required for mano; li-admin reads the monitored VM's fresh quote"

kill "$agent_pid" 2>/dev/null || true
wait "$agent_pid" 2>/dev/null || true
stop_lisecd
if grep -E 'Sanitizer|runtime error' lisecd.log; then fail "lisecd: sanitizer report"; fi
echo "li_confid_attest: all passed"
