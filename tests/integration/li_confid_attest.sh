#!/usr/bin/env bash
# A decision's "attestation" object, and a hypervisor move's "move", tell
# no role but li-admin which VM an LI monitors (TR 103 308 §4.1): a real
# lisecd, two hosts each attested by its own swtpm and lisec-agent (trusted
# in FI), an LI monitoring vm-target and vm-twin, which is vm-target in
# every declared respect but no LI names. Moving either to another
# hypervisor is allowed; each move needs a fresh attestation of the
# destination, asked for when its newest one is older than
# attestation_max_age_s, for the twin's as for the monitored VM's, so that
# neither the reply, its time nor the host's appraisals tell the two apart.
# As operator, hypervisor-admin, mano and host, the migration decisions
# about the two VMs read the same, ids aside (a placement is of a new VM,
# which no LI can name yet; an existing one is refused alike, 409), and so
# do operator's and hypervisor-admin's moves of the hypervisor running
# each to the other host; a VM
# declared "li" still reads "required", and li-admin reads it required for
# the monitored VM and its twin alike, and whether a quote was taken. The audit records of those allowed decisions and
# moves are sealed alike for the two VMs, as the operator reads the log
# ("sealed" in /v1/audit/entries at each reply's audit_index): a seal only
# the monitored VM's record had would name it.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/twins.sh"
source "$src/tests/integration/lib/li_topology.sh"
cd "$work"
two_hosts
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "fresh_wait_ms = 5000" "[model]" "attestation_max_age_s = 1" "[audit]" "li_admin_key = $work/li.pub" \
  "[api]" "refusal_rate = 0"

h1=${HID[1]} h2=${HID[2]}
for n in 1 2; do model_put operator host "{\"id\":\"${HID[$n]}\",\"protection\":\"li\"}"; done
# hv-t runs the monitored VM alone, hv-w the twin alone
for hv in hv-1 hv-1b hv-t hv-w; do model_put operator hypervisor "{\"id\":\"$hv\",\"host\":\"$h1\"}"; done
# lib/li_topology.sh's LI, its VMs unpaired on hv-1b, without the monitored
# VM's path to the LI VM (paths=store): the twin could not have one (4.2-KNOWN).
li_topology host= hv=hv-1b target_hv=hv-t paired=no paths=store
model_put operator vm '{"id":"vm-twin","hypervisor":"hv-w","sensitivity":"general","domain":"tenant"}'

two_hosts_trusted


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

# sealed_of INDEX: the "sealed" flag of audit entry INDEX as the operator
# reads it (an acknowledged decision is durable, so the entry is there).
sealed_of() {
  as operator "$LISECD_URL/v1/audit/entries?from=$1&count=1" |
    jq -er --argjson i "$1" '.entries[0] | select(.index == $i) | .sealed | tostring' ||
    fail "operator: audit entry $1 could not be read"
}
# same_seal A B (files holding the index): the two records are both sealed
# or both in the clear, else the seal bit tells which VM an LI monitors.
same_seal() {
  local a b
  a=$(sealed_of "$(cat "$1")") && b=$(sealed_of "$(cat "$2")") || return 1
  [ -n "$a" ] && [ "$a" = "$b" ] || { echo "$1: sealed=$a; $2: sealed=$b" >&2; return 1; }
}

for role in operator hypervisor-admin mano host; do
  # Each from a stale host: both take a fresh quote.
  stale 1
  decide "$role" vm-target "t-$role.json"
  stale 1
  decide "$role" vm-twin "w-$role.json"
  jq -e '.allow == true' "t-$role.json" "w-$role.json" >/dev/null ||
    fail "$role: the decisions were not both allowed: $(cat "t-$role.json" "w-$role.json")"
  same "t-$role.json" "w-$role.json" || fail "$role: the decision tells the monitored VM from its twin"
  jq -e .audit_index "t-$role.json" >"t-$role.idx" && jq -e .audit_index "w-$role.json" >"w-$role.idx" ||
    fail "$role: a decision has no audit_index"
  same_seal "t-$role.idx" "w-$role.idx" ||
    fail "$role: the operator reads the monitored VM's decision record sealed otherwise than the twin's"
done
jq -e '.attestation.fresh_quote == true' w-mano.json >/dev/null ||
  fail "the twin's decision from a stale host took no fresh quote: $(cat w-mano.json)"
pass "operator, hypervisor-admin, mano and host: the monitored VM's migration reads as its twin's, asked of a stale host; both take a fresh quote"
pass "the two decisions' audit records are sealed alike, as the operator reads the log"

# Moving a hypervisor to other hardware places its VMs there: hv-t (the
# monitored VM) and hv-w (the twin) to host 2 as the operator, and back to
# host 1 as hypervisor-admin, each from a stale destination. The replies
# ("move": from, to, vms, fresh_quote) read the same, ids aside.
# move ROLE HV HOST OUT: the hypervisor's move, answered 200, into OUT.
move() {
  post "$1" "/v1/model/hypervisor/$2" "{\"id\":\"$2\",\"host\":\"$3\"}" -X PUT >"$4.out"
  [ "$(tail -n1 "$4.out")" = 200 ] || { cat "$4.out" >&2; fail "$1: moving $2: not 200"; }
  sed '$d' "$4.out" | jq -e .move.audit_index >"$4.idx" || fail "$1: moving $2: no move.audit_index"
  sed '$d' "$4.out" | jq -S 'del(.version, .move.audit_index)' | sed 's/hv-[tw]/HV/g' >"$4"
}
for step in "operator $h2 2" "hypervisor-admin $h1 1"; do
  read -r role to n <<<"$step"
  stale "$n"
  move "$role" hv-t "$to" "mt-$role.json"
  stale "$n"
  move "$role" hv-w "$to" "mw-$role.json"
  jq -e '.move.vms == 1' "mt-$role.json" >/dev/null || fail "$role: the move: $(cat "mt-$role.json")"
  diff "mt-$role.json" "mw-$role.json" >&2 || fail "$role: moving hv-t reads otherwise than moving hv-w"
  same_seal "mt-$role.json.idx" "mw-$role.json.idx" ||
    fail "$role: the operator reads the move of hv-t's record sealed otherwise than hv-w's"
done
pass "operator and hypervisor-admin: moving the monitored VM's hypervisor reads as moving the twin's"
pass "the two moves' audit records are sealed alike, as the operator reads the log"

# The Kubernetes scheduler extender (mano) records one decision per call:
# pods of the two VMs keep the same node, and the records are sealed alike.
# k8s ROLE VM OUT: the filter of a pod annotated VM over node hv-1, into OUT.
k8s() {
  post "$1" /k8s/filter "{\"Pod\":{\"metadata\":{\"name\":\"p\",\"annotations\":{\"lisec.io/vm\":\"$2\"}}},\"NodeNames\":[\"hv-1\"]}" >"$3.out"
  [ "$(tail -n1 "$3.out")" = 200 ] || { cat "$3.out" >&2; fail "$1: the filter for $2: not 200"; }
  sed '$d' "$3.out" | jq -e .AuditIndex >"$3.idx" || fail "$1: the filter for $2: no AuditIndex"
  sed '$d' "$3.out" | jq -S 'del(.AuditIndex)' >"$3"
}
stale 1
k8s mano vm-target kt.json
stale 1
k8s mano vm-twin kw.json
jq -e '.NodeNames == ["hv-1"]' kt.json >/dev/null || fail "mano: the monitored VM's pod lost hv-1: $(cat kt.json)"
diff kt.json kw.json >&2 || fail "mano: the filter reads otherwise for the monitored VM's pod than the twin's"
same_seal kt.json.idx kw.json.idx ||
  fail "mano: the operator reads the monitored VM's filter record sealed otherwise than the twin's"
pass "mano: the scheduler extender keeps hv-1 for both pods, and the two records are sealed alike"

# A fresh attestation is required for every VM alike (docs/model.md): a VM
# declared "li" reads it for every role, and so do the monitored VM and its
# twin for li-admin.
decide mano vm-li li-mano.json
jq -e '.attestation.required == true' li-mano.json >/dev/null ||
  fail "mano: a VM declared li does not read attestation required: $(cat li-mano.json)"
stale 1
decide li-admin vm-target t-li-admin.json
# (the agent's own scheduled quote may land between "stale" and the
# decision: then the newest appraisal is recent enough, as attest_fresh)
jq -e '.allow == true and .attestation.required == true and
  ((.attestation.fresh_quote == true and .attestation.note == "a fresh quote was obtained for this decision") or
   (.attestation.fresh_quote == false and .attestation.note == "the newest appraisal is recent enough"))' \
  t-li-admin.json >/dev/null ||
  fail "li-admin: the monitored VM's decision does not say the LI required a fresh attestation: $(cat t-li-admin.json)"
decide li-admin vm-twin w-li-admin.json
jq -e '.attestation.required == true' w-li-admin.json >/dev/null ||
  fail "li-admin: the twin's decision does not read attestation required (it is for every VM): $(cat w-li-admin.json)"
pass "a VM declared li reads attestation required for mano; li-admin reads the fresh attestation required for the monitored VM and its twin alike"

for n in 1 2; do kill "${APID[$n]}" 2>/dev/null || true; wait "${APID[$n]}" 2>/dev/null || true; done
stop_lisecd
if grep -E 'Sanitizer|runtime error' lisecd.log; then fail "lisecd: sanitizer report"; fi
echo "li_confid_attest: all passed"
