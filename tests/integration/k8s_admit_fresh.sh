#!/usr/bin/env bash
# The admission webhook (POST /k8s/admit) when a pod's node needs a fresh
# quote: a real lisecd with [model] attestation_max_age_s = 1 and one host
# with its own software TPM and lisec-agent, attested trusted in FI. An LI
# VM's pod created on that host's node once its newest appraisal is stale
# is parked (the request waits for the quote without holding lisecd's
# loops), answered allowed from the agent's fresh quote and recorded once;
# with the agent stopped the same pod is refused after one
# [attest] fresh_wait_ms, naming TR103308-6.2-K8S-NODE, MOVE2, the host's
# silence and no LI, and so is a pod of a VM no LI involves (the quote is
# asked for and required for every VM alike, so that the answer does not
# tell which VMs an LI involves); lisecd stops clean.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/li_topology.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
pki=$work/pki
agent_bin="$build/cmd/lisec-agent/lisec-agent"
BOUND_MS=2000

make_pki "$pki"
am_pki am
evgen --log fw.bin --extends fw.txt --reference ref.json
declare -A HID APID
agent_host 1

lisec audit li-keygen li.key li.pub >/dev/null 2>&1 || fail "li-keygen"
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "fresh_wait_ms = $BOUND_MS" "[model]" "attestation_max_age_s = 1" "[audit]" "li_admin_key = $work/li.pub"

# The model: the host with hv-1, the node the pods name, and hv-1b, where
# lib/li_topology.sh's LI (li-fi-1, its VMs unpaired) and vm-web run.
li_topology_post operator host "{\"id\":\"${HID[1]}\",\"protection\":\"li\"}"
li_topology_post operator hypervisor "{\"id\":\"hv-1\",\"host\":\"${HID[1]}\"}"
li_topology_post operator hypervisor "{\"id\":\"hv-1b\",\"host\":\"${HID[1]}\"}"
li_topology_post operator vm '{"id":"vm-web","hypervisor":"hv-1b","sensitivity":"general","domain":"web"}'
li_topology host= hv=hv-1b paired=no li=li-fi-1

show() { as operator "$LISECD_URL/v1/hosts/${HID[$1]}/attestation"; }
run_agent 1
wait_trusted 1 agent-1.log
pass "a host with its own swtpm and lisec-agent, attested: trusted in FI"

# review UID VM: a Pod's CREATE on node hv-1 as the API server sends it.
review() {
  python3 -S - "$@" <<'PY'
import json, sys
uid, vm = sys.argv[1], sys.argv[2]
kind = {"group": "", "version": "v1", "kind": "Pod"}
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "p-" + uid[-4:], "namespace": "li", "annotations": {"lisec.io/vm": vm}},
       "spec": {"containers": [{"name": "c", "image": "registry.example.net/li:1"}], "nodeName": "hv-1",
                "schedulerName": "default-scheduler"}, "status": {}}
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
    "uid": uid, "kind": kind, "resource": {"group": "", "version": "v1", "resource": "pods"},
    "requestKind": kind, "requestResource": {"group": "", "version": "v1", "resource": "pods"},
    "name": pod["metadata"]["name"], "namespace": "li", "operation": "CREATE",
    "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
    "object": pod, "oldObject": None, "dryRun": False,
    "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}))
PY
}
# admit UID VM: the answer in $work/UID.json, "CODE SECONDS" on stdout.
admit() {
  as mano -o "$work/$1.json" -w '%{http_code} %{time_total}\n' -H 'Content-Type: application/json' \
    --data-binary "$(review "$1" "$2")" "$LISECD_URL/k8s/admit"
}
# answer UID ALLOWED MESSAGE-REGEX: the AdmissionReview answering UID; no LI named.
answer() {
  python3 -S - "$work/$1.json" "$@" <<'PY' || fail "answer $*: $(cat "$work/$1.json")"
import json, re, sys
r = json.load(open(sys.argv[1]))
resp = r["response"]
assert r["apiVersion"] == "admission.k8s.io/v1" and r["kind"] == "AdmissionReview", r
assert resp["uid"] == sys.argv[2] and resp["allowed"] is (sys.argv[3] == "true"), resp
assert resp["status"]["code"] == (200 if resp["allowed"] else 403), resp
assert re.search(sys.argv[4], resp["status"]["message"]), resp["status"]["message"]
assert int(resp["auditAnnotations"]["audit-index"]) > 0, resp
for li in ("li-fi-1", "lea-fi", "st-li", "vm-target"):
    assert li not in json.dumps(r), (li, r)
PY
}
last_ok() { show 1 | jq -r '.lisec.last_ok_at'; }

# ---- stale host, agent running: parked, then allowed from a fresh quote -----------
stale 1
before=$(last_ok)
read -r code secs < <(admit 7c0a0001-0001 vm-li)
[ "$code" = 200 ] || fail "the LI VM's pod on the stale host: $code $(cat 7c0a0001-0001.json)"
answer 7c0a0001-0001 true '^lisec: VM vm-li may run on node hv-1$'
[ "$(last_ok)" != "$before" ] || fail "the pod was admitted without a fresh quote (last_ok_at still $before)"
pass "an LI VM's pod created on a stale host's node: parked, answered allowed (${secs}s) after the host's agent sent a fresh quote"

# ---- agent stopped: refused after one bound; a VM no LI involves refused alike ------
kill -TERM "${APID[1]}"
wait "${APID[1]}" || true
stale 1
read -r code secs < <(admit 7c0a0001-0002 vm-li)
[ "$code" = 200 ] || fail "the LI VM's pod on the silent host: $code $(cat 7c0a0001-0002.json)"
answer 7c0a0001-0002 false "^TR103308-6\\.2-K8S-NODE: spec\\.nodeName hv-1: lisec: TR103308-6\\.2-MOVE2: host ${HID[1]} has no attestation .*did not attest within ${BOUND_MS}ms"
awk -v s="$secs" -v b="$BOUND_MS" 'BEGIN { exit !(s >= b / 1000 - 0.2 && s < 2 * b / 1000 + 1) }' ||
  fail "the refusal took ${secs}s; one bound is $BOUND_MS ms"
read -r code secs < <(admit 7c0a0001-0003 vm-web)
[ "$code" = 200 ] || fail "a general VM's pod on the silent host: $code $(cat 7c0a0001-0003.json)"
answer 7c0a0001-0003 false "^TR103308-6\\.2-K8S-NODE: spec\\.nodeName hv-1: lisec: TR103308-6\\.2-MOVE2: host ${HID[1]} has no attestation .*gave no fresh quote when last asked"
pass "agent stopped: the LI VM's pod refused after one bound naming TR103308-6.2-K8S-NODE, MOVE2 and the host's silence, no LI named; a general VM's pod refused alike (a fresh quote required for every VM)"

# ---- the records: one per judged pod, the parked one recorded once ----------------
lisec audit read --db lisec.db --li-key li.key --json >read.json || fail "lisec audit read"
python3 -S - read.json 7c0a0001-0001.json 7c0a0001-0002.json 7c0a0001-0003.json <<'PY' || fail "the admission records"
import json, sys
entries = [e for e in json.load(open(sys.argv[1]))["entries"] if e["action"] == "decision.k8s.admit"]
assert len(entries) == 3, [(e["index"], e["subjects"]) for e in entries]
for path, outcome, sealed in zip(sys.argv[2:], ("ok", "denied", "denied"), (True, True, False)):
    idx = int(json.load(open(path))["response"]["auditAnnotations"]["audit-index"])
    (e,) = [e for e in entries if e["index"] == idx]
    assert e["outcome"] == outcome and bool(e.get("sealed")) == sealed, e
PY
pass "three decision.k8s.admit records, the parked pod's once; sealed for the VM declared li"

stop_clean
