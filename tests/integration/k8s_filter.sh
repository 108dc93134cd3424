#!/usr/bin/env bash
# The Kubernetes scheduler extender (POST /k8s/filter) against a real lisecd
# holding the Helsinki/London example, with kube-scheduler's wire format
# (ExtenderArgs in, ExtenderFilterResult out, capitalised keys): a pod
# annotated lisec.io/vm keeps only the nodes the model allows, each other node
# failed with its requirement; a node lisec does not know is filtered out
# (fail closed); Nodes (whole Node objects) and NodeNames (nodeCacheCapable)
# both work; many failing nodes are answered in full with the audit reason
# shortened; malformed arguments are a 400 with Error set; only the mano
# role may ask, and every call is recorded.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/model.sh"
pki=$work/pki
make_pki "$pki"
# lisec's own key format, so `lisec audit read` opens the sealed records.
lisec audit li-keygen "$work/li.key" "$work/li.pub" >/dev/null 2>&1 || fail "li-keygen"
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li.pub" "[model]" "allow_declared_trust = true"
split_topology "$src/examples/helsinki-london.json" "$work/ents"
put_topology "$work/ents"

filter() { as "${ROLE:-mano}" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' -d "$1" "$LISECD_URL/k8s/filter"; }
# check PYTHON-ASSERTIONS: run against the reply as r.
check() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); $1" "$work/body" || fail "$2: $(cat "$work/body")"; }
node() { printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s","labels":{"zone":"z"}},"status":{"capacity":{"cpu":"8"}}}' "$1"; }
POD='{"metadata":{"name":"vnf-target","namespace":"core","annotations":{"lisec.io/vm":"vm-target"}},"spec":{"containers":[{"name":"vnf","image":"x"}]}}'
before=$(sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log')

# Whole Node objects (nodeCacheCapable: false).
args="{\"Pod\":$POD,\"Nodes\":{\"items\":[$(node hv-hel-1),$(node hv-hel-2),$(node hv-lon-1),$(node lon-1),$(node edge-7)]}}"
[ "$(filter "$args")" = 200 ] || fail "filter: $(cat "$work/body")"
check '
names = [n["metadata"]["name"] for n in r["Nodes"]["items"]]
assert names == ["hv-hel-1", "hv-hel-2"], names
assert r["Nodes"]["items"][0]["status"]["capacity"]["cpu"] == "8"   # the Node objects come back whole
f = r["FailedNodes"]
assert set(f) == {"hv-lon-1", "lon-1", "edge-7"}, f
assert "TR103308-6.2-R11" in f["hv-lon-1"] and "TR103308-6.2-R11" in f["lon-1"], f
assert "fail closed" in f["edge-7"], f
assert r["Error"] == "" and r["NodeNames"] is None
assert "li-fi-1" not in json.dumps(r)' "Nodes"
pass "Nodes: the annotated pod keeps the Helsinki nodes (whole Node objects), London fails with TR103308-6.2-R11, the unknown node is filtered out"

# Node names only (nodeCacheCapable: true).
[ "$(filter "{\"Pod\":$POD,\"NodeNames\":[\"hv-lon-1\",\"hv-hel-1\",\"nowhere\"]}")" = 200 ] || fail "NodeNames"
check 'assert r["NodeNames"] == ["hv-hel-1"] and set(r["FailedNodes"]) == {"hv-lon-1", "nowhere"} and r["Error"] == "", r' "NodeNames"
# An LI VM stays where it runs, and may not land on a host of a lower
# protection level (O.1.3).
[ "$(filter '{"Pod":{"metadata":{"name":"li","annotations":{"lisec.io/vm":"vm-li"}}},"NodeNames":["hv-hel-1","hv-hel-2"]}')" = 200 ] || fail "LI pod"
check 'assert r["NodeNames"] == ["hv-hel-1"] and "TR103308-7-O.1.3" in r["FailedNodes"]["hv-hel-2"], r' "LI pod"
# A pod without the annotation: every node lisec knows, none it does not.
[ "$(filter '{"Pod":{"metadata":{"name":"web"}},"NodeNames":["hv-lon-1","hv-hel-2","ghost"]}')" = 200 ] || fail "plain pod"
check 'assert r["NodeNames"] == ["hv-lon-1", "hv-hel-2"] and list(r["FailedNodes"]) == ["ghost"], r' "plain pod"
pass "NodeNames; an LI VM's pod denied by TR103308-7-O.1.3; a pod without the annotation may use any node lisec knows, never an unknown one"

# Malformed ExtenderArgs: a 400 that says why, in Error too.
bad() {
  [ "$(filter "$1")" = 400 ] || fail "malformed args $1 answered $(cat "$work/body")"
  check "assert r['Error'] and '$2' in r['Error'], r" "malformed $1"
}
bad '[]' 'ExtenderArgs'
bad '{"NodeNames":["hv-hel-1"]}' 'Pod'
bad "{\"Pod\":$POD}" 'NodeNames'
bad "{\"Pod\":$POD,\"NodeNames\":\"hv-hel-1\"}" 'NodeNames'
bad "{\"Pod\":$POD,\"NodeNames\":[7]}" 'NodeNames[0]'
bad "{\"Pod\":$POD,\"Nodes\":{\"items\":[{\"metadata\":{}}]}}" 'Nodes.items[0].metadata.name'
bad '{"Pod":{"metadata":{"annotations":{"lisec.io/vm":7}}},"NodeNames":[]}' 'lisec.io/vm'
bad '{"Pod":{"metadata":{"annotations":{"lisec.io/vm":"vm-nope"}}},"NodeNames":["hv-hel-1"]}' 'unknown VM'
many=$(python3 -c 'import json; print(json.dumps({"Pod": {"metadata": {"name": "p"}}, "NodeNames": ["n%d" % i for i in range(5001)]}))')
bad "$many" 'more than 5000'
[ "$(filter '{"Pod":')" = 400 ] || fail "truncated JSON"
pass "malformed, truncated and oversized ExtenderArgs and an unknown VM: 400 with Error set (the scheduler keeps the pod Pending)"

# Many nodes fail at once (a real cluster): every node's reason is in the
# reply, and the one audit record of the call keeps a reason shortened to an
# audit string's 1,024 bytes that says how much it cut (before, a reason over
# 1,024 bytes failed the whole call with a 400 and the pod stayed Pending).
names=""
for i in $(seq -w 1 12); do
  id="hv-london-docklands-rack-$i"
  code=$(as operator -o "$work/put" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"id\":\"$id\",\"host\":\"lon-1\"}" "$LISECD_URL/v1/model/hypervisor")
  [ "$code" = 201 ] || fail "hypervisor $id: $code $(cat "$work/put")"
  names="$names${names:+,}\"$id\""
done
[ "$(filter "{\"Pod\":$POD,\"NodeNames\":[$names,\"hv-hel-1\"]}")" = 200 ] ||
  fail "12 non-compliant nodes: $(cat "$work/body")"
check '
assert r["NodeNames"] == ["hv-hel-1"], r["NodeNames"]
f = r["FailedNodes"]
assert len(f) == 12 and all("TR103308-6.2-R11" in why for why in f.values()), f
index = r["AuditIndex"]
open(sys.argv[1] + ".index", "w").write(str(index))' "12 failed nodes"
lisec audit read --db "$work/lisec.db" --li-key "$work/li.key" --json >"$work/read.json" ||
  fail "lisec audit read"
python3 - "$work/read.json" "$(cat "$work/body.index")" <<'PY' || fail "the shortened audit reason"
import json, re, sys
entries = {e["index"]: e for e in json.load(open(sys.argv[1]))["entries"]}
e = entries[int(sys.argv[2])]
assert e["action"] == "decision.k8s.filter", e
reason = e["reasons"][0]
assert len(reason.encode()) <= 1024, len(reason.encode())
m = re.search(r" \u2026 \((\d+) bytes cut\)$", reason)
assert m and int(m.group(1)) > 0, reason[-80:]
assert reason.startswith("TR103308-6.2-R11: "), reason[:80]
PY
pass "12 non-compliant nodes: 200 with every node's reason; the audit record's reason is shortened to 1,024 bytes and says how much was cut"

for role in operator tenant-example auditor host; do
  [ "$(ROLE=$role filter "{\"Pod\":$POD,\"NodeNames\":[\"hv-hel-1\"]}")" = 403 ] || fail "$role used the extender"
done
after=$(sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log')
[ "$after" -ge $((before + 4)) ] || fail "the filter calls were not recorded ($before -> $after)"
pass "only the mano role may ask; every answered filter call is in the audit log"
