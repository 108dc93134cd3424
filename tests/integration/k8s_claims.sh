#!/usr/bin/env bash
# Many pods, one VM, and a Kubernetes move: pods that claim the same lisec
# VM (lisec.io/vm) on several nodes, against a real lisecd and three hosts,
# each with its own swtpm, location certificate and lisec-agent reading
# libvirt's test driver. The admission webhook and the scheduler extender
# keep no claim table: each claim is judged as a move of the VM from where
# its host's attested inventory shows it to the pod's node. When a second
# copy runs (host B's inventory shows the VM running beside host A's), that
# evidence, TR103308-T.1.4-DUPLICATE, makes every further claim refused:
# the webhook's answer and every node of the filter name it, and the
# refusals are recorded. A claim the webhook allows onto another host
# (spec.nodeName, or the binding of a pod it admitted for lisec's
# scheduler) moves nothing by itself: it is remembered as an allowed
# migration, and the intent follows only when that host's attested
# inventory shows the VM (model.vm.arrived, no PLACEMENT finding left);
# the VM showing up on another host moves nothing (a PLACEMENT finding),
# and a later allowed claim replaces a stale one, as a later migration
# decision does.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/twins.sh"
cd "$work"
vm1_hosts
# host C, as vm1_hosts makes A and B: a node without vm-1, hypervisor hv-c
vm1_node node-c.xml 3
agent_host c "[agent]" "interval_s = 300" "[libvirt]" "uri = test://$work/node-c.xml"
model_put operator host "{\"id\":\"${HID[c]}\",\"protection\":\"li\"}"
model_put operator hypervisor "{\"id\":\"hv-c\",\"host\":\"${HID[c]}\"}"

# admit UID POD [NODE]: a Pod's CREATE claiming vm-1, written from the
# Kubernetes API reference (admission.k8s.io/v1), on NODE (spec.nodeName)
# or, without one, for lisec's scheduler; its metadata.uid $PODUID when set
# (the API server sets it before validating admission); the answer in
# $work/body.
admit() {
  PODUID=${PODUID:-} python3 -S - "$@" >"$work/review" <<'PY'
import json, os, sys
uid, name = sys.argv[1], sys.argv[2]
spec = {"containers": [{"name": "vm", "image": "registry.example.net/virt-launcher:1"}],
        "schedulerName": "lisec-scheduler"}
if len(sys.argv) > 3: spec["nodeName"] = sys.argv[3]
md = {"name": name, "namespace": "core", "annotations": {"lisec.io/vm": "vm-1"}}
if os.environ["PODUID"]: md["uid"] = os.environ["PODUID"]
pod = {"apiVersion": "v1", "kind": "Pod", "status": {}, "spec": spec, "metadata": md}
kind = {"group": "", "version": "v1", "kind": "Pod"}
res = {"group": "", "version": "v1", "resource": "pods"}
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
    "uid": uid, "kind": kind, "resource": res, "requestKind": kind, "requestResource": res,
    "name": name, "namespace": "core", "operation": "CREATE",
    "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                 "groups": ["system:serviceaccounts", "system:authenticated"]},
    "object": pod, "oldObject": None, "dryRun": False,
    "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}))
PY
  [ "$(as mano -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$work/review" "$LISECD_URL/k8s/admit")" = 200 ] || fail "admit $*: $(cat "$work/body")"
}
# bind UID POD POD-UID NODE: kube-scheduler's Binding of POD (its uid, as
# DefaultBinder sets it, no annotation) to NODE, through pods/binding.
bind() {
  python3 -S - "$@" >"$work/review" <<'PY'
import json, sys
uid, name, pod_uid, node = sys.argv[1:5]
b = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": "core", "uid": pod_uid},
     "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
kind = {"group": "", "version": "v1", "kind": "Binding"}
res = {"group": "", "version": "v1", "resource": "pods"}
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
    "uid": uid, "kind": kind, "resource": res, "subResource": "binding", "requestKind": kind,
    "requestResource": res, "requestSubResource": "binding", "name": name, "namespace": "core",
    "operation": "CREATE", "userInfo": {"username": "system:kube-scheduler", "groups": ["system:authenticated"]},
    "object": b, "oldObject": None, "dryRun": False,
    "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}))
PY
  [ "$(as mano -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$work/review" "$LISECD_URL/k8s/admit")" = 200 ] || fail "bind $*: $(cat "$work/body")"
}
# answer UID ALLOWED [MESSAGE-REGEX]
answer() {
  jq -e --arg u "$1" --argjson a "$2" --arg m "${3:-}" \
    '.response.uid == $u and .response.allowed == $a and (.response.status.message | test($m))' \
    "$work/body" >/dev/null || fail "answer $*: $(cat "$work/body")"
}
# filter: the extender's filter for a pod claiming vm-1, nodes hv-a and hv-b.
filter() {
  [ "$(as mano -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"Pod":{"metadata":{"name":"claim-f","namespace":"core","annotations":{"lisec.io/vm":"vm-1"}},"spec":{}},"NodeNames":["hv-a","hv-b"]}' \
    "$LISECD_URL/k8s/filter")" = 200 ] || fail "filter: $(cat "$work/body")"
}
# findings REQ: the compliance violations of one requirement id.
findings() { as operator "$LISECD_URL/v1/compliance" | jq -c --arg r "$1" '[.violations[] | select(.requirement == $r)]'; }
# arrivals HOST: the model.vm.arrived records naming host HOST (HID key).
arrivals() { audit_count "model.vm.arrived .*ok .*vm vm-1.*${HID[$1]}"; }

# ---- one copy: a claim where it runs moves nothing, nor does the filter -------------
report_inventory a
report_inventory b
report_inventory c
vm1 | jq -e --arg h "${HID[a]}" '.hypervisor == "hv-a" and .observed.host == $h and .observed.hosts_running == 1' \
  >/dev/null || { vm1 >&2; fail "vm-1 is not observed on host A"; }
admit 7c1a0000-0001 claim-1 hv-a
answer 7c1a0000-0001 true 'hv-a'
filter
jq -e '.NodeNames == ["hv-a","hv-b"] and .FailedNodes == {}' "$work/body" >/dev/null ||
  fail "the filter of a second claim: $(cat "$work/body")"
vm1 | jq -e --arg h "${HID[a]}" '.hypervisor == "hv-a" and .observed.host == $h and (has("migrating_to") | not)' \
  >/dev/null || { vm1 >&2; fail "a claim on hv-a, or the filter, moved vm-1 or remembered a move"; }
pass "vm-1 observed on host A: a pod claiming it on hv-a is admitted and the filter keeps hv-a and hv-b; the model still shows vm-1 declared on hv-a, observed on A, no migration awaited"

# ---- two copies: host B runs vm-1 as well ----------------------------------------
vm1_node node-b.xml 2 with-vm-1
report_inventory b
vm1 | jq -e '.hypervisor == "hv-a" and .observed.host == null and .observed.hosts_running == 2' >/dev/null ||
  { vm1 >&2; fail "vm-1 is not observed on two hosts"; }
[ "$(findings TR103308-T.1.4-DUPLICATE | jq length)" = 1 ] || fail "no DUPLICATE finding: $(findings TR103308-T.1.4-DUPLICATE)"
dup='^TR103308-T\.1\.4-DUPLICATE: VM vm-1 is shown running or paused by 2 hosts. attested inventories: no pod may claim it'
# on a node that runs it, on one that does not, and for lisec's scheduler
admit 7c1a0000-0003 claim-3 hv-a
answer 7c1a0000-0003 false "$dup"
admit 7c1a0000-0004 claim-4 hv-c
answer 7c1a0000-0004 false "$dup"
admit 7c1a0000-0005 claim-5
answer 7c1a0000-0005 false "$dup"
filter
jq -e '(.NodeNames == []) and (.FailedNodes | length == 2) and
       ([.FailedNodes[] | test("^lisec: TR103308-T\\.1\\.4-DUPLICATE: VM vm-1 ")] | all)' "$work/body" >/dev/null ||
  fail "the filter while vm-1 runs twice: $(cat "$work/body")"
[ "$(audit_count 'decision\.k8s\.admit .*denied .*pod core/claim-[345] vm vm-1.*TR103308-T\.1\.4-DUPLICATE')" = 3 ] ||
  fail "the three refusals are not recorded naming TR103308-T.1.4-DUPLICATE"
[ "$(audit_count 'decision\.k8s\.filter .*denied .*pod core/claim-f vm vm-1.*TR103308-T\.1\.4-DUPLICATE')" = 1 ] ||
  fail "the filter's refusal is not recorded naming TR103308-T.1.4-DUPLICATE"
vm1 | jq -e 'has("migrating_to") | not' >/dev/null || { vm1 >&2; fail "a refused claim remembered a move"; }
pass "host B's inventory shows vm-1 too (DUPLICATE): a pod claiming it is refused on either node and for lisec's scheduler, every node of the filter fails, each naming TR103308-T.1.4-DUPLICATE, recorded; nothing remembered"

# ---- B stops its copy: claims are judged again from A --------------------------------
vm1_node node-b.xml 2
report_inventory b
vm1 | jq -e --arg h "${HID[a]}" '.observed.host == $h and .observed.hosts_running == 1 and .hypervisor == "hv-a"' \
  >/dev/null || { vm1 >&2; fail "vm-1 is not observed on host A alone"; }
filter
jq -e '.NodeNames == ["hv-a","hv-b"]' "$work/body" >/dev/null || fail "the filter after B stopped vm-1: $(cat "$work/body")"
[ "$(findings TR103308-T.1.4-DUPLICATE)" = "[]" ] && [ "$(findings TR103308-T.1.4-PLACEMENT)" = "[]" ] ||
  fail "after B stopped vm-1: $(as operator "$LISECD_URL/v1/compliance")"
pass "host B's inventory no longer shows vm-1: the filter keeps both nodes again; no finding"

# ---- a Kubernetes move (spec.nodeName): the intent follows B's evidence ---------------
# The new pod on hv-b is judged as a move from A and remembered; the old
# pod goes (A's inventory without vm-1), the new one runs on B.
admit 7c1a0000-0006 claim-6 hv-b
answer 7c1a0000-0006 true 'hv-b'
vm1 | jq -e --arg b "${HID[b]}" \
  '.hypervisor == "hv-a" and .migrating_to == {"hypervisor": "hv-b", "host": $b, "pod": "core/claim-6"}' >/dev/null ||
  { vm1 >&2; fail "the claim on hv-b moved vm-1, or is not remembered as an awaited move"; }
vm1_node node-a.xml 1
report_inventory a
vm1 | jq -e '.hypervisor == "hv-a" and .migrating_to.hypervisor == "hv-b"' >/dev/null ||
  { vm1 >&2; fail "the source's report moved vm-1"; }
vm1_node node-b.xml 2 with-vm-1
report_inventory b
vm1 | jq -e --arg h "${HID[b]}" '.hypervisor == "hv-b" and .observed.host == $h and (has("migrating_to") | not)' \
  >/dev/null || { vm1 >&2; fail "B's proof did not move vm-1's intent to hv-b"; }
[ "$(arrivals b)" = 1 ] || fail "the arrival on B is not recorded once"
[ "$(audit_count 'model.vm.arrived .*pod core/claim-6')" = 1 ] || fail "the arrival does not name the pod"
[ "$(findings TR103308-T.1.4-PLACEMENT)" = "[]" ] && [ "$(findings TR103308-T.1.4-DUPLICATE)" = "[]" ] ||
  fail "after the move: $(as operator "$LISECD_URL/v1/compliance")"
pass "a pod on hv-b for vm-1 declared on hv-a: admitted and remembered as an awaited move (migrating_to names the pod), nothing moved by it or by A's report; B's attested inventory showing vm-1 moves the intent to hv-b (model.vm.arrived naming B and the pod), no PLACEMENT finding"

# ---- a binding admitted to C, and vm-1 shows up on A: the intent stays ----------------
admit 7c1a0000-0007 claim-7
answer 7c1a0000-0007 true 'lisec-scheduler'
PODUID=0c1a0000-0008 admit 7c1a0000-0008 claim-8
answer 7c1a0000-0008 true 'lisec-scheduler'
PODUID=0c1a0000-0009 admit 7c1a0000-0009 claim-9
answer 7c1a0000-0009 true 'lisec-scheduler'
vm1 | jq -e 'has("migrating_to") | not' >/dev/null || { vm1 >&2; fail "a pod admitted for the scheduler remembered a move"; }
bind 7c1a0000-0010 claim-8 0c1a0000-0008 hv-c
answer 7c1a0000-0010 true '^lisec: VM vm-1 may run on node hv-c'
vm1 | jq -e --arg c "${HID[c]}" \
  '.hypervisor == "hv-b" and .migrating_to == {"hypervisor": "hv-c", "host": $c, "pod": "core/claim-8"}' >/dev/null ||
  { vm1 >&2; fail "the binding to hv-c moved vm-1, or is not remembered"; }
[ "$(audit_count 'decision\.k8s\.admit .*ok .*pod core/claim-8 vm vm-1 \(binding\) node hv-c')" = 1 ] ||
  fail "the binding is not recorded"
# the binding fails in Kubernetes; vm-1 leaves B and shows up on A instead
vm1_node node-b.xml 2
report_inventory b
vm1_node node-a.xml 1 with-vm-1
report_inventory a
vm1 | jq -e --arg h "${HID[a]}" '.hypervisor == "hv-b" and .observed.host == $h and .migrating_to.hypervisor == "hv-c"' \
  >/dev/null || { vm1 >&2; fail "vm-1 showing up on A moved its intent"; }
[ "$(arrivals a)" = 0 ] || fail "an arrival on A was recorded"
findings TR103308-T.1.4-PLACEMENT | jq -e --arg a "${HID[a]}" 'length == 1 and (.[0].sentence | contains("host " + $a))' \
  >/dev/null || fail "no PLACEMENT finding for vm-1 on A: $(findings TR103308-T.1.4-PLACEMENT)"
pass "a binding of a pod admitted for lisec's scheduler to hv-c is judged, recorded and remembered; vm-1 then showing up on A moves nothing: declared on hv-b, a PLACEMENT finding"

# ---- the stale move is replaced by a later claim: C showing vm-1 then moves nothing ----
# the scheduler binds the pod again (a binding of another uid, claim-9's
# uid for claim-8, is not judged and replaces nothing)
bind 7c1a0000-0011 claim-8 0c1a0000-0009 hv-a
answer 7c1a0000-0011 true '^lisec\.io/vm not in the binding: binding of pod core/claim-8 allowed'
vm1 | jq -e '.migrating_to.pod == "core/claim-8" and .migrating_to.hypervisor == "hv-c"' >/dev/null ||
  { vm1 >&2; fail "a binding of another uid replaced the awaited move"; }
bind 7c1a0000-0012 claim-9 0c1a0000-0009 hv-b
answer 7c1a0000-0012 true '^lisec: VM vm-1 may run on node hv-b'
vm1 | jq -e --arg b "${HID[b]}" '.migrating_to == {"hypervisor": "hv-b", "host": $b, "pod": "core/claim-9"}' >/dev/null ||
  { vm1 >&2; fail "the later binding did not replace the stale move to hv-c"; }
vm1_node node-a.xml 1
report_inventory a
vm1_node node-c.xml 3 with-vm-1
report_inventory c
vm1 | jq -e --arg h "${HID[c]}" '.hypervisor == "hv-b" and .observed.host == $h' >/dev/null ||
  { vm1 >&2; fail "C, no longer the awaited destination, moved vm-1"; }
[ "$(arrivals c)" = 0 ] || fail "an arrival on C was recorded"
[ "$(findings TR103308-T.1.4-PLACEMENT | jq length)" = 1 ] || fail "no PLACEMENT finding for vm-1 on C"
vm1_node node-c.xml 3
report_inventory c
vm1_node node-b.xml 2 with-vm-1
report_inventory b
vm1 | jq -e --arg h "${HID[b]}" '.hypervisor == "hv-b" and .observed.host == $h and (has("migrating_to") | not)' \
  >/dev/null || { vm1 >&2; fail "B's proof did not end the awaited move"; }
[ "$(arrivals b)" = 2 ] && [ "$(audit_count 'model.vm.arrived .*pod core/claim-9')" = 1 ] ||
  fail "the second arrival on B is not recorded naming claim-9"
[ "$(findings TR103308-T.1.4-PLACEMENT)" = "[]" ] && [ "$(findings TR103308-T.1.4-DUPLICATE)" = "[]" ] ||
  fail "at the end: $(as operator "$LISECD_URL/v1/compliance")"
pass "a later binding (claim-9 to hv-b) replaces the stale move to hv-c, as a later migration decision would; C then showing vm-1 moves nothing (PLACEMENT); B showing it ends the awaited move (model.vm.arrived naming claim-9), no finding left"

stop_agents a b c
stop_clean
echo "k8s_claims: all passed"
