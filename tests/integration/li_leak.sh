#!/usr/bin/env bash
# Nothing about LI reaches a role other than li-admin (TR 103 308 §4.1):
# lisecd holds the example platform (examples/helsinki-london.json), and
# every route of lisecd's route tables (read from src/api/routes_*.c when
# the test runs, so a new route is walked too) is called by every non-LI
# role with every method the table names, over every entity of the
# platform: reads, no-op and changing puts, creates and deletes, the
# deletes in the order that leaves an LI as the last thing holding an
# entity. Each role starts from a copy of the same platform, so one role's
# successful deletes do not hide another's refusals. The walk fails if a
# reply names an LI authorisation (or an LEA outside the LEA routes of the
# roles that administer LEAs), if an unsealed audit entry or /metrics
# names either, if a refusal an LI causes is recorded unsealed, or if that
# refusal reads differently from one with no LI behind it.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
release_only "li_api, x1_admf and the LI unit tests run the same LI paths"
. "$src/tests/integration/lib/model.sh"

example=$src/examples/helsinki-london.json
pki=$work/pki
make_pki "$pki"
cd "$work"
lisec audit li-keygen li-audit.key li-audit.pub >/dev/null
# The walk is hundreds of refusals per certificate: the refusal allowance
# ([api] refusal_rate) is off so every reply is the use case's own.
conf=("[audit]" "li_admin_key = $work/li-audit.pub" "[model]" "allow_declared_trust = true"
  "[api]" "refusal_rate = 0")

# The route table, from the source: METHOD PATTERN per line.
grep -ho '{"[A-Z]*", "/[^"]*"' "$src"/src/api/routes_*.c | sed 's/^{"\([A-Z]*\)", "\([^"]*\)"/\1 \2/' |
  sort -u >routes.txt
[ "$(wc -l <routes.txt)" -ge 40 ] || fail "only $(wc -l <routes.txt) routes found in src/api/routes_*.c"
grep -q '^DELETE /v1/model/{kind}/{id}$' routes.txt || fail "the model routes are not in the table read"

start_lisecd "$pki" "${conf[@]}"
split_topology "$example" topo
put_topology topo
stop_lisecd
# copies through SQLite, so whatever is still in the WAL comes along
sqlite3 lisec.db ".backup platform.db"

# walk ROLE: every route, every entity, as ROLE; writes replies.jsonl.
walk() {
  python3 - "$1" "$LISECD_PORT" "$pki" "$example" routes.txt <<'PY'
import http.client, json, ssl, sys, urllib.parse
role, port, pki, example, routes = sys.argv[1:6]
t = json.load(open(example))
kinds = [("jurisdictions", "jurisdiction"), ("leas", "lea"), ("hosts", "host"),
         ("hypervisors", "hypervisor"), ("vms", "vm"), ("storage", "storage"),
         ("connections", "connection"), ("groups", "group"), ("lis", "li")]
ents = {k: t.get(a, []) for a, k in kinds}
vms = [v["id"] for v in ents["vm"]]
hosts = [h["id"] for h in ents["host"]]
hyps = [h["id"] for h in ents["hypervisor"]]
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/" + role + ".crt", pki + "/" + role + ".key")
out = open("replies.jsonl", "a")

def call(method, path, body=None):
    c = http.client.HTTPSConnection("localhost", int(port), context=ctx, timeout=30)
    data = None if body is None else json.dumps(body)
    hdr = {"Content-Type": "application/json"} if data is not None else {}
    c.request(method, path, body=data, headers=hdr)
    r = c.getresponse()
    text = r.read().decode("utf-8", "replace")
    c.close()
    out.write(json.dumps({"role": role, "method": method, "path": path, "status": r.status,
                          "body": text}) + "\n")
    return r.status, text

# The bodies a write is tried with: empty, and one naming the platform's
# entities in every field any route reads.
def bodies(vm):
    return [{}, {"vm": vm, "hypervisor": hyps[0], "host": hosts[0]},
            {"id": vm, "hypervisor": hyps[0], "sensitivity": "li", "domain": "li"},
            {"ne": "poi-1", "xml": "<X1Request/>"}, {"vm": vm, "digest": "sha256:" + "0" * 64,
                                                     "event": "instantiate"}]

model_routes = []
for line in open(routes):
    method, pattern = line.split()
    if pattern.startswith("/v1/model/"):
        model_routes.append((method, pattern))
        continue
    # Other routes: each parameter takes each VM and host id of the platform.
    values = vms + hosts if "{" in pattern else [None]
    for v in values:
        path = pattern
        if v is not None:
            path = "/".join(urllib.parse.quote(v, safe="") if p.startswith("{") else p
                            for p in pattern.split("/"))
        if method in ("GET", "DELETE"):
            call(method, path)
        else:
            for b in bodies(v or vms[0]):
                call(method, path, b)
    if pattern == "/v1/decisions/migration":
        for v in vms:
            for h in hyps:
                call("POST", pattern, {"vm": v, "hypervisor": h})

# The model: lists, reads, creates of what exists, puts (as stored, and a
# storage rooted elsewhere), then deletes from the last loaded kind back.
for a, k in kinds:
    call("GET", "/v1/model/" + k)
    for e in ents[k]:
        call("GET", "/v1/model/%s/%s" % (k, e["id"]))
        call("POST", "/v1/model/" + k, e)
        call("PUT", "/v1/model/%s/%s" % (k, e["id"]), e)
        if k == "storage":
            for v in vms:
                call("PUT", "/v1/model/storage/" + e["id"], dict(e, vm=v))
for a, k in reversed(kinds):
    for e in ents[k]:
        call("DELETE", "/v1/model/%s/%s" % (k, e["id"]))
PY
}

# audit_and_metrics: the unsealed audit entries (as the auditor), one JSON
# text per line in unsealed.txt, the sealed count in sealed.txt; /metrics
# as operator and auditor in metrics.txt.
audit_and_metrics() {
  as auditor "$LISECD_URL/v1/audit/entries?from=0&count=10000" >entries.json
  python3 - <<'PY'
import base64, json
d = json.load(open("entries.json"))
with open("unsealed.txt", "w") as u:
    for e in d["entries"]:
        if not e["sealed"]:
            u.write(base64.b64decode(e["data"]).decode("utf-8", "replace").replace("\n", " ") + "\n")
open("sealed.txt", "w").write(str(sum(1 for e in d["entries"] if e["sealed"])))
PY
  { as operator "$LISECD_URL/metrics"; as auditor "$LISECD_URL/metrics"; } >metrics.txt
}

# The LI and LEA ids of the example.
mapfile -t li_ids < <(jq -r '.lis[].id' "$example")
mapfile -t lea_ids < <(jq -r '.leas[].id' "$example")
[ "${#li_ids[@]}" -gt 0 ] && [ "${#lea_ids[@]}" -gt 0 ] || fail "no LI or LEA in $example"

: >replies.jsonl
for role in operator hypervisor-admin host mano auditor tenant-example; do
  cp platform.db lisec.db
  rm -f lisec.db-wal lisec.db-shm
  start_lisecd "$pki" "${conf[@]}"
  audit_and_metrics
  before_sealed=$(cat sealed.txt)
  walk "$role"
  audit_and_metrics
  for id in "${li_ids[@]}" "${lea_ids[@]}"; do
    if grep -aqF -- "$id" unsealed.txt; then
      grep -aF -- "$id" unsealed.txt | head -3 >&2
      fail "$role's walk: an unsealed audit entry names $id"
    fi
    if grep -qF -- "$id" metrics.txt; then
      grep -F -- "$id" metrics.txt | head -3 >&2
      fail "$role's walk: /metrics names $id"
    fi
  done
  if [ "$role" = operator ] || [ "$role" = hypervisor-admin ]; then
    # The refusals an LI causes are sealed: at least one per entity it holds.
    [ "$(cat sealed.txt)" -ge $((before_sealed + 5)) ] ||
      fail "$role's walk: the refusals an LI caused were not sealed ($before_sealed -> $(cat sealed.txt))"
  fi
  stop_lisecd
  if grep -E 'Sanitizer|runtime error' "$work/lisecd.log"; then fail "lisecd: sanitizer report"; fi
  pass "$role: $(grep -c "\"role\": \"$role\"" replies.jsonl) requests over every route"
  sqlite3 lisec.db ".backup after-$role.db"
done

# No reply names an LI; an LEA only on the LEA routes of the roles that
# administer LEAs (they created it).
python3 - replies.jsonl "$example" <<'PY' || fail "a reply leaks LI details (above)"
import json, sys
t = json.load(open(sys.argv[2]))
lis = [l["id"] for l in t["lis"]]
leas = [l["id"] for l in t["leas"]]
bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    names = [i for i in lis if i in r["body"]]
    lea_ok = r["role"] in ("operator", "hypervisor-admin") and r["path"].startswith("/v1/model/lea")
    if not lea_ok:
        names += [i for i in leas if i in r["body"]]
    if names:
        bad += 1
        if bad <= 5:
            print("LEAK %s %s %s -> %d names %s: %s" % (r["role"], r["method"], r["path"], r["status"],
                                                       names, r["body"][:300]), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
pass "no reply of $(wc -l <replies.jsonl) names an LI authorisation or an LEA it may not see"

# The refusal an LI causes reads like one that has nothing to do with an
# LI: deleting the monitored VM and deleting a hypervisor that still runs a
# VM answer the operator with the same sentence (kind and id aside).
python3 - replies.jsonl <<'PY' || fail "an LI-caused refusal is told apart from another refusal"
import json, sys
got = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["role"] == "operator" and r["method"] == "DELETE":
        got[r["path"]] = (r["status"], r["body"])
li = got["/v1/model/vm/vm-target"]
plain = got["/v1/model/hypervisor/hv-hel-2"]
stor = got["/v1/model/storage/st-li"]
lea = got["/v1/model/lea/lea-fi"]
assert li[0] == plain[0] == stor[0] == lea[0] == 409, (li, plain, stor, lea)
norm = lambda b, k, i: json.loads(b)["error"]["message"].replace("%s %s" % (k, i), "X")
m = {norm(li[1], "vm", "vm-target"), norm(plain[1], "hypervisor", "hv-hel-2"),
     norm(stor[1], "storage", "st-li"), norm(lea[1], "lea", "lea-fi")}
assert len(m) == 1, m
assert "TR103308" in m.pop()
PY
pass "a delete an LI refuses answers as a delete any reference refuses (409, one sentence)"

# The LI administration reads the full reason in the sealed record.
lisec audit read --li-key li-audit.key --db after-operator.db --json >audit.json 2>audit.err ||
  { cat audit.err; fail "lisec audit read"; }
python3 - audit.json <<'PY' || fail "the sealed records of the refused deletes do not name the LI for the LI administration"
import json, sys
text = open(sys.argv[1]).read()
try:
    d = json.loads(text)
    lines = [json.dumps(e) for e in (d if isinstance(d, list) else d.get("entries", []))]
except ValueError:
    lines = text.splitlines()
for action in ("model.vm.delete", "model.lea.delete", "model.storage.delete"):
    hits = [json.loads(l) for l in lines if action in l and "refused" in l]
    assert hits, action
    for e in hits:
        named = "li-fi-1" in json.dumps(e)
        if e["subjects"] in (["vm vm-target"], ["storage st-li"]):
            # not sealed for the LI naming them: a seal would name them to
            # every reader of the log; the record names no LI either
            assert not e["sealed"] and not named, (action, e)
        else:
            assert e["sealed"] and named, (action, e)
PY
pass "the LI administration opens the sealed records and reads which LI held each entity; the monitored VM's and the LI's storage's are in the clear, naming no LI"
echo "li_leak: all passed"
