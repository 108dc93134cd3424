#!/usr/bin/env bash
# Many pods, one VM: two pods that claim the same lisec VM (lisec.io/vm) on
# two nodes, against a real lisecd and two hosts, each with its own swtpm,
# location certificate and lisec-agent reading libvirt's test driver. The
# admission webhook and the scheduler extender keep no claim of their own:
# each claim is judged as a move of the VM from where its host's attested
# inventory shows it to the pod's node, and moves nothing in the model. When
# a second copy runs (host B's inventory shows the VM running beside host
# A's), that evidence, TR103308-T.1.4-DUPLICATE, makes every further claim
# refused: the webhook's answer and every node of the filter name it, and
# the refusals are recorded; once host A shows the VM gone, a claim on B's
# node is admitted again (and the intent, which no pod moves, is a
# PLACEMENT finding until MANO declares the VM on hv-b).
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/twins.sh"
cd "$work"
vm1_hosts

# admit UID POD [NODE]: a Pod's CREATE claiming vm-1, written from the
# Kubernetes API reference (admission.k8s.io/v1), on NODE (spec.nodeName)
# or, without one, for lisec's scheduler; the answer in $work/body.
admit() {
  python3 -S - "$@" >"$work/review" <<'PY'
import json, sys
uid, name = sys.argv[1], sys.argv[2]
spec = {"containers": [{"name": "vm", "image": "registry.example.net/virt-launcher:1"}],
        "schedulerName": "lisec-scheduler"}
if len(sys.argv) > 3: spec["nodeName"] = sys.argv[3]
pod = {"apiVersion": "v1", "kind": "Pod", "status": {}, "spec": spec,
       "metadata": {"name": name, "namespace": "core", "annotations": {"lisec.io/vm": "vm-1"}}}
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

# ---- one copy: each claim is judged, none moves the VM --------------------------
report_inventory a
report_inventory b
vm1 | jq -e --arg h "${HID[a]}" '.hypervisor == "hv-a" and .observed.host == $h and .observed.hosts_running == 1' \
  >/dev/null || { vm1 >&2; fail "vm-1 is not observed on host A"; }
admit 7c1a0000-0001 claim-1 hv-a
answer 7c1a0000-0001 true 'hv-a'
# a second pod on B's node: a move of vm-1 from host A, where it runs, to hv-b
admit 7c1a0000-0002 claim-2 hv-b
answer 7c1a0000-0002 true 'hv-b'
filter
jq -e '.NodeNames == ["hv-a","hv-b"] and .FailedNodes == {}' "$work/body" >/dev/null ||
  fail "the filter of a third claim: $(cat "$work/body")"
vm1 | jq -e --arg h "${HID[a]}" '.hypervisor == "hv-a" and .observed.host == $h and (has("migrating_to") | not)' \
  >/dev/null || { vm1 >&2; fail "an admitted claim moved vm-1 in the model"; }
pass "vm-1 observed on host A: pods claiming it on hv-a and on hv-b are admitted (the second judged as a move from A) and the filter keeps both nodes; the model still shows vm-1 declared on hv-a, observed on A, no migration awaited"

# ---- two copies: host B runs vm-1 as well ----------------------------------------
vm1_node node-b.xml 2 with-vm-1
report_inventory b
vm1 | jq -e '.hypervisor == "hv-a" and .observed.host == null and .observed.hosts_running == 2' >/dev/null ||
  { vm1 >&2; fail "vm-1 is not observed on two hosts"; }
as operator "$LISECD_URL/v1/compliance" |
  jq -e '[.violations[] | select(.requirement == "TR103308-T.1.4-DUPLICATE")] | length == 1' >/dev/null ||
  fail "no DUPLICATE finding: $(as operator "$LISECD_URL/v1/compliance")"
dup='^TR103308-T\.1\.4-DUPLICATE: VM vm-1 is shown running or paused by 2 hosts. attested inventories: no pod may claim it'
# on a node that runs it, on one that does not, and for lisec's scheduler
admit 7c1a0000-0003 claim-3 hv-a
answer 7c1a0000-0003 false "$dup"
admit 7c1a0000-0004 claim-4 hv-b
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
pass "host B's inventory shows vm-1 too (DUPLICATE): a pod claiming it is refused on either node and for lisec's scheduler, every node of the filter fails, each naming TR103308-T.1.4-DUPLICATE, recorded"

# ---- host A stops its copy: B's node takes claims again ----------------------------
vm1_node node-a.xml 1
report_inventory a
vm1 | jq -e --arg h "${HID[b]}" '.observed.host == $h and .observed.hosts_running == 1 and .hypervisor == "hv-a"' \
  >/dev/null || { vm1 >&2; fail "vm-1 is not observed on host B alone"; }
admit 7c1a0000-0006 claim-6 hv-b
answer 7c1a0000-0006 true 'hv-b'
filter
jq -e '.NodeNames == ["hv-a","hv-b"]' "$work/body" >/dev/null || fail "the filter after A stopped vm-1: $(cat "$work/body")"
as operator "$LISECD_URL/v1/compliance" |
  jq -e '[.violations[] | select(.requirement == "TR103308-T.1.4-DUPLICATE")] == [] and
         ([.violations[] | select(.requirement == "TR103308-T.1.4-PLACEMENT")] | length == 1)' >/dev/null ||
  fail "after A stopped vm-1: $(as operator "$LISECD_URL/v1/compliance")"
pass "host A's inventory no longer shows vm-1: a claim on hv-b is admitted, the filter keeps both nodes; no pod moved the intent, so vm-1 declared on hv-a but running on B is a PLACEMENT finding"

stop_agents a b
stop_clean
echo "k8s_claims: all passed"
