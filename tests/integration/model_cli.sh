#!/usr/bin/env bash
# lisec model check, offline and with no lisecd: the Helsinki/London example
# of TR 103 308 6.2 (compliant; moving the monitored VM to London denied,
# within Finland allowed), the larger example's violations read back through
# --json, LI validity through --at, and bad input refused with exit 2 and a
# message naming the field. Exit codes: 0 compliant/allowed, 1
# violations/denied, 2 bad input.
set -euo pipefail
build=$(cd "${1:?usage: model_cli.sh BUILD_DIR SRC_DIR}" && pwd)
src=$(cd "${2:?usage: model_cli.sh BUILD_DIR SRC_DIR}" && pwd)
. "$src/tests/integration/lib/common.sh"
[ -x "$build/cmd/lisec/lisec" ] || fail "build lisec first"
hl=$src/examples/helsinki-london.json
large=$src/examples/topology-large.json

# expect CODE CMD...: runs lisec, keeps stdout/stderr in $work/out, $work/err.
expect() {
  local want=$1 rc=0
  shift
  lisec "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "lisec $* exited $rc, not $want"; }
}
has() { grep -qF -- "$1" "$work/$2" || { cat "$work/$2" >&2; fail "$2 lacks: $1"; }; }

expect 0 model check "$hl"
has "compliant: no violations" out
pass "helsinki-london: compliant (exit 0)"

expect 1 model check "$hl" --move vm-target hv-lon-1
has "DENIED" out
has "TR103308-6.2-R11" out
has "LI li-fi-1 is issued in FI; host lon-1 is located in GB" out
pass "moving the monitored VM to London: denied, req. 11 (exit 1)"

expect 0 model check "$hl" --move vm-target hel-1
has "allowed" out
pass "moving it within Finland (host named, one hypervisor): allowed (exit 0)"

expect 0 model check "$hl" --move vm-target hv-lon-1 --at 2024-06-01T00:00:00Z
pass "before the LI is valid nothing binds the VM: allowed (exit 0)"

expect 1 --json model check "$hl" --move vm-target hv-hel-2
python3 - "$work/out" <<'PY' || fail "--json decision"
import json, sys
d = json.load(open(sys.argv[1]))["decision"]
assert d["allow"] is False, d
assert [v["requirement"] for v in d["violations"]] == ["TR103308-6.2-MOVE1"], d
PY
pass "moveVM onto its own hypervisor: MOVE1 in --json (exit 1)"

expect 1 --json model check "$large"
python3 - "$work/out" <<'PY' || fail "--json compliance of the larger example"
import json, sys
out = json.load(open(sys.argv[1]))
got = sorted((v["requirement"], v["subject"]) for v in out["compliance"]["violations"])
want = sorted([("TR103308-6.2-R2", "li li-se-1"), ("TR103308-6.2-R6", "group g-se-mon"),
               ("TR103308-6.2-R7", "group g-fi-mon"), ("TR103308-6.2-R8", "li li-fr-1"),
               ("TR103308-4.2-STORE", "li li-fi-1"), ("TR103308-4.2-STORE", "li li-se-1")])
assert got == want, got
assert out["topology"]["vms"] == 14 and out["topology"]["lis_active"] == 4, out["topology"]
for v in out["compliance"]["violations"]:
    assert v["sentence"] and v["fact"] and v["clauses"], v
PY
pass "topology-large: the six violations its description lists (exit 1)"

expect 0 model rules
! grep -q "TR103308-6.2-R15" "$work/out" || fail "rules list R15 separately"
has "TR103308-6.2-R11" out
has "11 and 15" out
pass "model rules: 12-15 folded into 8-11"

# Bad input: exit 2, the field named, nothing printed on stdout.
bad() {
  local name=$1 want=$2 json=$3
  printf '%s' "$json" >"$work/$name.json"
  expect 2 model check "$work/$name.json"
  has "$want" err
  [ ! -s "$work/out" ] || fail "$name: printed a result"
  pass "bad input $name: exit 2, \"$want\""
}
base_hosts='"hosts":[{"id":"h1","trust":"trusted","protection":"li","location":{"country":"FI"}}],"hypervisors":[{"id":"hv1","host":"h1"}]'
bad unknown-id 'vms[0].hypervisor: unknown hypervisor "hv-9"' \
  "{$base_hosts,\"vms\":[{\"id\":\"a\",\"hypervisor\":\"hv-9\",\"sensitivity\":\"li\",\"domain\":\"li\"}]}"
bad two-hypervisors 'vms[1].id: VM "a" is listed twice' \
  "{$base_hosts,\"vms\":[{\"id\":\"a\",\"hypervisor\":\"hv1\",\"sensitivity\":\"li\",\"domain\":\"li\"},{\"id\":\"a\",\"hypervisor\":\"hv1\",\"sensitivity\":\"li\",\"domain\":\"li\"}]}"
bad not-a-path 'groups[0].connections[1]: connection c2 shares no VM with connection c1' \
  "{$base_hosts,\"vms\":[{\"id\":\"a\",\"hypervisor\":\"hv1\",\"sensitivity\":\"general\",\"domain\":\"d\"},{\"id\":\"b\",\"hypervisor\":\"hv1\",\"sensitivity\":\"general\",\"domain\":\"d\"},{\"id\":\"c\",\"hypervisor\":\"hv1\",\"sensitivity\":\"general\",\"domain\":\"d\"},{\"id\":\"e\",\"hypervisor\":\"hv1\",\"sensitivity\":\"general\",\"domain\":\"d\"}],\"connections\":[{\"id\":\"c1\",\"between\":[\"a\",\"b\"],\"kind\":\"network\",\"secure\":true},{\"id\":\"c2\",\"between\":[\"c\",\"e\"],\"kind\":\"network\",\"secure\":true}],\"groups\":[{\"id\":\"g\",\"connections\":[\"c1\",\"c2\"],\"intermediates\":[{\"vm\":\"b\",\"stores\":false}]}]}"
bad empty-jurisdiction 'jurisdictions[0].codes: the jurisdiction is empty' \
  '{"jurisdictions":[{"id":"fi","codes":[]}]}'
bad country-code 'hosts[0].location.country: "UK" is not an ISO 3166-1 alpha-2 code' \
  '{"hosts":[{"id":"h1","protection":"li","location":{"country":"UK"}}]}'
bad open-polygon 'jurisdictions[0].geometry.coordinates[0]: the ring does not close' \
  '{"jurisdictions":[{"id":"p","geometry":{"type":"Polygon","coordinates":[[[24,60],[25,60],[25,61],[24,61]]]}}]}'
bad malformed 'malformed JSON' '{"hosts":['
expect 2 model check "$hl" --move vm-nope hv-lon-1
has 'vm: unknown VM "vm-nope"' err
expect 2 model check "$hl" --move vm-target nowhere
has 'no hypervisor or host "nowhere"' err
expect 2 model check "$work/does-not-exist.json"
expect 2 model check
expect 2 model check "$hl" --at yesterday
pass "unknown --move ids, a missing file, missing arguments and a bad --at: exit 2"

# docs/topology.schema.json accepts both examples and refuses what it can see.
if python3 -c "import jsonschema" 2>/dev/null; then
  python3 - "$src" <<'PY' || fail "topology schema"
import json, sys, jsonschema
src = sys.argv[1]
schema = json.load(open(f"{src}/docs/topology.schema.json"))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
for f in ("helsinki-london.json", "topology-large.json"):
    v.validate(json.load(open(f"{src}/examples/{f}")))
bad = [{"hostz": []},
       {"hosts": [{"id": "h", "protection": "top"}]},
       {"vms": [{"id": "a", "hypervisor": ["x", "y"], "sensitivity": "li", "domain": "d"}]},
       {"jurisdictions": [{"id": "j", "codes": []}]},
       {"hosts": [{"id": "h", "protection": "li", "location": {"country": "fi"}}]}]
for b in bad:
    assert not v.is_valid(b), b
PY
  pass "docs/topology.schema.json: both examples valid, malformed documents not"
else
  echo "skip: python3-jsonschema not installed"
fi
