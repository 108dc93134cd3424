#!/usr/bin/env bash
# A destination that is not trusted at the moment of a decision refuses
# every VM alike, to every role but li-admin (TR 103 308 §4.1; docs/audit.md,
# docs/model.md "Trust comes from evidence"): a real lisecd, two hosts each
# attested by its own swtpm and lisec-agent (trusted in FI); host 2 runs
# vm-target, which an LI monitors, and vm-twin, which is vm-target in every
# declared respect but no LI names. Host 1 is the destination.
# - Host 1's agent is stopped, so that it gives no fresh quote within
#   [attest] fresh_wait_ms: as mano, operator, hypervisor-admin and host,
#   the migrations of the two VMs onto it read the same byte for byte once
#   the VM's id and the record's position are left aside (status, the one
#   requirement TR103308-6.2-MOVE2, sentence, note, attestation object),
#   and so do mano's scheduler extender calls; each pair of records is
#   sealed alike as the operator reads the log, both in the clear, neither
#   naming R11 or the LI.
# - Host 1's TPM then measures something its reference values do not know
#   and its agent runs again: host 1 is untrusted:failed, and the same holds
#   onto it.
# Both times li-admin still reads R11 beside MOVE2 for the monitored VM, and
# moving hv-t (which runs the monitored VM alone) onto host 1 is refused
# as moving hv-w (which runs the twin alone) is, as operator and
# hypervisor-admin: the same status and words (MOVE2 alone), each recorded
# in the clear without an LI rule or the LI. (Untrusted, host 1 has no
# location: the monitored VM fails R1 there too, which is that trust
# failure; before, that row was in the refusal, redacted, and sealed the
# record: it told which hypervisor runs a VM an LI involves.)
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/twins.sh"
source "$src/tests/integration/lib/li_topology.sh"
cd "$work"
BOUND_MS=2000
two_hosts
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "fresh_wait_ms = $BOUND_MS" "[model]" "attestation_max_age_s = 1" "[audit]" "li_admin_key = $work/li.pub" \
  "[api]" "refusal_rate = 0"

h1=${HID[1]} h2=${HID[2]}
for n in 1 2; do model_put operator host "{\"id\":\"${HID[$n]}\",\"protection\":\"li\"}"; done
model_put operator hypervisor "{\"id\":\"hv-1\",\"host\":\"$h1\"}"
# hv-t runs the monitored VM alone, hv-w the twin alone, hv-2b the LI's VMs
for hv in hv-2b hv-t hv-w; do model_put operator hypervisor "{\"id\":\"$hv\",\"host\":\"$h2\"}"; done
# lib/li_topology.sh's LI, its VMs unpaired, without the monitored VM's
# path to the LI VM (paths=store): the twin could not have one.
li_topology host= hv=hv-2b target_hv=hv-t paired=no paths=store
model_put operator vm '{"id":"vm-twin","hypervisor":"hv-w","sensitivity":"general","domain":"tenant"}'
two_hosts_trusted

# decide ROLE VM OUT: the decision to migrate VM to hv-1 (host 1), into
# OUT, its audit_index into OUT.idx; it must be answered 200.
decide() {
  post "$1" /v1/decisions/migration "{\"vm\":\"$2\",\"hypervisor\":\"hv-1\"}" >"$3.out"
  [ "$(tail -n1 "$3.out")" = 200 ] || { cat "$3.out" >&2; fail "$1: the decision about $2: not 200"; }
  sed '$d' "$3.out" >"$3"
  jq -e .audit_index "$3" >"$3.idx" || fail "$1: the decision about $2 has no audit_index"
}
# k8s VM OUT: mano's filter of a pod annotated VM over node hv-1, into OUT
# without its AuditIndex (into OUT.idx).
k8s() {
  post mano /k8s/filter "{\"Pod\":{\"metadata\":{\"name\":\"p\",\"annotations\":{\"lisec.io/vm\":\"$1\"}}},\"NodeNames\":[\"hv-1\"]}" >"$2.out"
  [ "$(tail -n1 "$2.out")" = 200 ] || { cat "$2.out" >&2; fail "mano: the filter for $1: not 200"; }
  sed '$d' "$2.out" | jq -e .AuditIndex >"$2.idx" || fail "mano: the filter for $1: no AuditIndex"
  sed '$d' "$2.out" | jq -cS 'del(.AuditIndex)' >"$2"
}
# norm FILE: the reply without audit_index, the VM's id as VM, byte for byte.
norm() { jq -cS 'del(.audit_index)' "$1" | sed 's/vm-target/VM/g; s/vm-twin/VM/g'; }
# record INDEX: "sealed TEXT" of audit entry INDEX as the operator reads it.
record() { entries "$1" | awk -v i="$1" '$1 == i { $1 = ""; print substr($0, 2); exit }'; }
# alike WHAT: for every role but li-admin the two VMs' migrations onto hv-1
# read the same and are refused under MOVE2 alone, the note and the
# sentence naming host 1; their records sealed alike, in the clear, with
# MOVE2 and without R11 or the LI; mano's filter calls the same.
alike() {
  local role a b ra rb
  for role in mano operator hypervisor-admin host; do
    decide "$role" vm-target "t-$1-$role.json"
    decide "$role" vm-twin "w-$1-$role.json"
    a=$(norm "t-$1-$role.json") b=$(norm "w-$1-$role.json")
    [ "$a" = "$b" ] || fail "$1, $role: the monitored VM's answer differs from its twin's:
monitored VM: $a
twin:         $b"
    jq -e --arg h "$h1" '.allow == false and ([.violations[].requirement] | unique) == ["TR103308-6.2-MOVE2"] and
      .redacted == false and .attestation.required == true and
      (.attestation.note | contains("host " + $h)) and
      ([.violations[].sentence] | any(contains("host " + $h)))' "t-$1-$role.json" >/dev/null ||
      fail "$1, $role: not refused under MOVE2 alone, naming host 1: $a"
    ra=$(record "$(cat "t-$1-$role.json.idx")") rb=$(record "$(cat "w-$1-$role.json.idx")")
    [ "${ra%% *}" = "${rb%% *}" ] && [ "${ra%% *}" = false ] ||
      fail "$1, $role: the records are sealed otherwise (monitored VM: ${ra%% *}, twin: ${rb%% *}), or sealed"
    for r in "$ra" "$rb"; do
      [[ $r == *TR103308-6.2-MOVE2* && $r != *R11* && $r != *li-1* && $r != *lea-fi* ]] ||
        fail "$1, $role: a record does not read MOVE2 alone, or names R11 or the LI: $r"
    done
  done
  k8s vm-target "kt-$1.json"
  k8s vm-twin "kw-$1.json"
  diff "kt-$1.json" "kw-$1.json" >&2 || fail "$1: the filter reads otherwise for the monitored VM's pod"
  jq -e '.NodeNames == [] and (.FailedNodes["hv-1"] | contains("TR103308-6.2-MOVE2")) and
    (.FailedNodes["hv-1"] | contains("R11") | not)' "kt-$1.json" >/dev/null ||
    fail "$1: the filter did not refuse hv-1 under MOVE2 alone: $(cat "kt-$1.json")"
  ra=$(record "$(cat "kt-$1.json.idx")") rb=$(record "$(cat "kw-$1.json.idx")")
  [ "${ra%% *}" = "${rb%% *}" ] || fail "$1: the filter records are sealed otherwise"
}
# li_admin WHAT: li-admin reads R11 beside MOVE2 for the monitored VM, and
# MOVE2 alone for the twin.
li_admin() {
  decide li-admin vm-target "t-$1-li.json"
  decide li-admin vm-twin "w-$1-li.json"
  jq -e '.allow == false and ([.violations[].requirement] | unique) == ["TR103308-6.2-MOVE2", "TR103308-6.2-R11"]' \
    "t-$1-li.json" >/dev/null || fail "$1, li-admin: the monitored VM does not read MOVE2 and R11: $(cat "t-$1-li.json")"
  jq -e '.allow == false and ([.violations[].requirement] | unique) == ["TR103308-6.2-MOVE2"]' \
    "w-$1-li.json" >/dev/null || fail "$1, li-admin: the twin does not read MOVE2 alone: $(cat "w-$1-li.json")"
}

# hmove ROLE HV OUT: the move of HV onto host 1, refused 409, into OUT with
# the hypervisor's id as HV; OUT.rec: the clear records of hypervisor
# moves written meanwhile (the agents' are others), as the operator reads
# them, from the action on.
hmove() {
  local from
  from=$(size)
  post "$1" "/v1/model/hypervisor/$2" "{\"id\":\"$2\",\"host\":\"$h1\"}" -X PUT >"$3.out"
  [ "$(tail -n1 "$3.out")" = 409 ] || { cat "$3.out" >&2; fail "$1: moving $2 onto host 1: not 409"; }
  sed '$d' "$3.out" | sed 's/hv-[tw]/HV/g' >"$3"
  entries "$from" | grep -o 'model\.hypervisor\.move.*' | sed 's/hv-[tw]/HV/g' >"$3.rec" || true
}
# hmoves WHAT: hv-t's and hv-w's moves onto host 1 read alike, under MOVE2
# alone, each with one record in the clear naming neither an LI rule nor
# the LI.
hmoves() {
  local role
  for role in operator hypervisor-admin; do
    hmove "$role" hv-t "mt-$1-$role.json"
    hmove "$role" hv-w "mw-$1-$role.json"
    diff "mt-$1-$role.json" "mw-$1-$role.json" >&2 ||
      fail "$1, $role: moving hv-t (the monitored VM's) onto host 1 reads otherwise than moving hv-w"
    grep -q 'TR103308-6.2-MOVE2' "mt-$1-$role.json" && ! grep -qE 'TR103308-6.2-R|withheld' "mt-$1-$role.json" ||
      fail "$1, $role: moving hv-t is not refused under MOVE2 alone: $(cat "mt-$1-$role.json")"
    for r in "mt-$1-$role.json.rec" "mw-$1-$role.json.rec"; do
      [ "$(wc -l <"$r")" = 1 ] && grep -q 'TR103308-6.2-MOVE2' "$r" && ! grep -qE 'TR103308-6.2-R|li-1|lea-fi' "$r" ||
        fail "$1, $role: the move's record is not one in the clear under MOVE2 alone: $(cat "$r")"
    done
    diff "mt-$1-$role.json.rec" "mw-$1-$role.json.rec" >&2 || fail "$1, $role: the two moves' records differ"
  done
}

# ---- host 1 silent ------------------------------------------------------------
kill -TERM "${APID[1]}"
wait "${APID[1]}" || true
stale 1
# The first decision onto it waits the bound and makes it silent; every
# one after is answered at once, saying when it was asked.
decide mano vm-twin first.json
alike silent
jq -e '.attestation.note | test("^no fresh attestation of host [0-9a-f]+: the host.s agent gave no fresh quote when last asked")' \
  t-silent-mano.json >/dev/null || fail "silent: the note does not say that host 1 gave no fresh quote: $(cat t-silent-mano.json)"
li_admin silent
hmoves silent
pass "host 1 silent: the monitored VM's migration and filter read as its twin's for mano, operator, hypervisor-admin and host (MOVE2, the same note and sentence), records sealed alike; li-admin reads R11 too; moving its hypervisor there reads as moving the twin's"

# ---- host 1 untrusted -----------------------------------------------------------
# PCR 0 measures something the reference values do not know.
tpm_use T1
tpm2_pcrextend "0:sha256=$(printf 'not in the reference' | sha256sum | cut -d' ' -f1)" >/dev/null ||
  fail "tpm2_pcrextend on host 1's TPM"
run_agent 1
for _ in $(seq 1 300); do
  show 1 | jq -e '.lisec.trust == "untrusted:failed"' >/dev/null 2>&1 && break
  sleep 0.1
done
show 1 | jq -e '.lisec.trust == "untrusted:failed"' >/dev/null || fail "host 1 is not untrusted:failed: $(show 1)"
alike untrusted
li_admin untrusted
hmoves untrusted
pass "host 1 untrusted: the same, MOVE2 for both VMs to every role but li-admin, R11 beside it for li-admin; moving the monitored VM's hypervisor there reads as moving the twin's, in the clear"

for n in 1 2; do kill "${APID[$n]}" 2>/dev/null || true; wait "${APID[$n]}" 2>/dev/null || true; done
stop_lisecd
if grep -E 'Sanitizer|runtime error' lisecd.log; then fail "lisecd: sanitizer report"; fi
echo "li_confid_silent: all passed"
