#!/usr/bin/env bash
# The trust model through a real lisecd (TR 103 308 §6.2): the Helsinki /
# London example of requirement 1 loaded entity by entity with `lisec model
# put`, then asked over HTTPS: Helsinki allowed, London denied naming
# TR103308-6.2-R11 (with the LI's details for li-admin only); placement;
# every kind of bad input a 400 naming its field with the stored model
# unchanged across a restart; 404 and 409; roles (operator cannot touch LI
# authorisations, tenant nothing, each LI attempt recorded sealed); declared
# trust refused without [model] allow_declared_trust and an LI decision
# then denied for want of a fresh attestation; every decision in the audit
# log, opened with the LI administration's key. Registered twice: on SQLite
# (model_api) and on PostgreSQL (model_api_postgres).
# With a third argument "postgres" the whole suite runs on PostgreSQL.
build=$1 src=$2 backend=${3:-sqlite}
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/model.sh"
pki=$work/pki
make_pki "$pki"
make_li_admin_key "$work/li"
openssl pkey -in "$work/li.x25519" -outform DER | tail -c 32 | base64 >"$work/li.sk"
li_cfg=("[audit]" "li_admin_key = $work/li.pub")
dev_cfg=("[model]" "allow_declared_trust = true")

cli_as() { local role=$1; shift; lisec --server "$LISECD_URL" --pki "$pki" --role "$role" "$@"; }
code() { as "$1" -o "$work/body" -w '%{http_code}' "${@:2}"; }
# What the store holds, asked of the store itself.
if [ "$backend" = postgres ]; then
  release_only "model_api runs the same routes on SQLite, test_store_postgres and audit_postgres the PostgreSQL store"
  pgdir=$(mktemp -d "$tmp_base/lisec-pg-XXXXXX")
  cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
  STORE_URL=$("$src/scripts/test/pg-start" "$pgdir")
  export STORE_URL
  db=$STORE_URL
  sql() { psql -qtA "$STORE_URL" -c "$1"; }
else
  db=$work/lisec.db
  sql() { sqlite3 "$work/lisec.db" "$1"; }
fi
rows() { sql 'SELECT COUNT(*) FROM audit_log'; }
store_docs() { sql "SELECT kind, id, body FROM documents WHERE kind LIKE 'model.%' ORDER BY kind, id"; }
store_doc() { sql "SELECT body FROM documents WHERE kind = 'model.$1' AND id = '$2'"; }
# expect_400 ROLE METHOD PATH BODY FIELD: a 400 whose message names FIELD.
expect_400() {
  local c
  c=$(code "$1" -X "$2" -d "$4" "$LISECD_URL$3")
  [ "$c" = 400 ] || fail "$2 $3 $4: HTTP $c, not 400: $(cat "$work/body")"
  grep -q -- "$5" "$work/body" || fail "$2 $3 $4: the reason does not name $5: $(cat "$work/body")"
}
# The whole model as every owner sees it, ids sorted, plus the stored rows.
sorted_json() { python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))'; }
# After lisecd stopped: no sanitizer report (leaks included) in its log.
clean_stop() {
  stop_lisecd
  if grep -q 'Sanitizer' "$work/lisecd.log"; then cat "$work/lisecd.log" >&2; fail "lisecd reported a sanitizer error"; fi
}
snapshot() {
  for k in jurisdiction lea host hypervisor vm storage connection group; do as operator "$LISECD_URL/v1/model/$k" | sorted_json; done
  as li-admin "$LISECD_URL/v1/model/li" | sorted_json
  store_docs
}

start_lisecd "$pki" "${li_cfg[@]}" "${dev_cfg[@]}"
grep -q 'DEVELOPMENT MODE: \[model\] allow_declared_trust' "$work/lisecd.log" || fail "no warning about declared trust"

# --- load the example through the API, one entity at a time -------------------------
load_example() { put_topology "$work/ents"; }
split_topology "$src/examples/helsinki-london.json" "$work/ents"
load_example
[ "$(ls "$work/ents" | wc -l)" = 17 ] || fail "the example has 17 entities"
cli_as operator model compliance >/dev/null || fail "the example is not compliant through lisecd"
pass "the Helsinki/London example loads through lisec model put and is compliant"

# --- decisions -----------------------------------------------------------------------
before=$(rows)
[ "$(code operator -d '{"vm":"vm-target","hypervisor":"hv-hel-1"}' "$LISECD_URL/v1/decisions/migration")" = 200 ] || fail "helsinki: $(cat "$work/body")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["allow"] is True and d["violations"]==[] and d["host"]=="hel-1" and d["audit_index"]>0, d' "$work/body" || fail "helsinki not allowed"
[ "$(code operator -d '{"vm":"vm-target","hypervisor":"hv-lon-1"}' "$LISECD_URL/v1/decisions/migration")" = 200 ] || fail "london: $(cat "$work/body")"
python3 - "$work/body" <<'PY' || fail "london (operator): $(cat "$work/body")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["allow"] is False, d
reqs = [v["requirement"] for v in d["violations"]]
assert "TR103308-6.2-R11" in reqs, reqs
text = json.dumps(d)
# The operator learns which requirement fails, not the LI, its jurisdiction or LEA.
assert "li-fi-1" not in text and "lea-fi" not in text and "issued in" not in text, text
assert d["redacted"] is True
PY
[ "$(code li-admin -d '{"vm":"vm-target","host":"lon-1"}' "$LISECD_URL/v1/decisions/migration")" = 200 ] || fail "london (li-admin)"
grep -q 'LI li-fi-1 is issued in FI; host lon-1 is located in GB' "$work/body" || fail "li-admin does not see the reason: $(cat "$work/body")"
cli_as mano model decide migration vm-target hv-hel-1 >/dev/null || fail "lisec model decide (Helsinki) did not exit 0"
set +e; cli_as mano model decide migration vm-target hv-lon-1 >"$work/out"; rc=$?; set -e
[ $rc = 1 ] && grep -q 'DENIED' "$work/out" && grep -q TR103308-6.2-R11 "$work/out" || fail "lisec model decide (London) exit $rc: $(cat "$work/out")"
# Placement: a sensitive VM on the sensitive host is fine; an LI VM is not (O.1.3).
[ "$(code mano -d '{"id":"vm-new","hypervisor":"hv-hel-2","sensitivity":"sensitive","domain":"core"}' "$LISECD_URL/v1/decisions/placement")" = 200 ] && grep -q '"allow":true' "$work/body" || fail "placement: $(cat "$work/body")"
[ "$(code mano -d '{"id":"vm-li2","host":"hel-2","sensitivity":"li","domain":"li","paired":true}' "$LISECD_URL/v1/decisions/placement")" = 200 ] && grep -q '"allow":false' "$work/body" && grep -q 'TR103308-7-O.1.3' "$work/body" || fail "LI placement on a sensitive host: $(cat "$work/body")"
after=$(rows)
[ "$after" -ge $((before + 7)) ] || fail "7 decisions, but the audit log grew by $((after - before))"
pass "Helsinki allowed, London denied by TR103308-6.2-R11 (details for li-admin only), placement by O.1.3; each decision in the audit log"

# --- bad input: 400 naming the field, 404, 409; nothing stored ------------------------
snapshot >"$work/snap.before"
expect_400 operator PUT /v1/model/vm/vm-x '{"hypervisor":"hv-9","sensitivity":"general","domain":"d"}' 'hypervisor'
expect_400 operator PUT /v1/model/vm/vm-x '{"hypervisor":["hv-hel-1","hv-lon-1"],"sensitivity":"general","domain":"d"}' 'hypervisor'
expect_400 operator PUT /v1/model/vm/vm-target '{"hypervisor":"hv-hel-1","sensitivity":"secret","domain":"core"}' 'sensitivity'
expect_400 operator POST /v1/model/group '{"id":"g-bad","connections":["c-target-li","c-target-li"],"intermediates":[{"vm":"vm-li","stores":false}]}' 'connections'
expect_400 operator POST /v1/model/jurisdiction '{"id":"j-empty","codes":[]}' 'codes'
expect_400 operator POST /v1/model/jurisdiction '{"id":"j-uk","codes":["UK"]}' 'codes\[0\]'
expect_400 operator PUT /v1/model/host/hel-1 '{"protection":"li","trust":"trusted","location":{"country":"UK"}}' 'location.country'
expect_400 operator POST /v1/model/jurisdiction '{"id":"j-open","geometry":{"type":"Polygon","coordinates":[[[24,60],[25,60],[25,61],[24,61]]]}}' 'coordinates'
expect_400 li-admin POST /v1/model/li '{"id":"li-x","jurisdiction":"nowhere","lea":"lea-fi","monitored":"vm-target","host":"vm-li","storage":"st-li","valid_from":"2025-01-01T00:00:00Z","valid_until":"2035-01-01T00:00:00Z"}' 'jurisdiction'
expect_400 li-admin POST /v1/model/li '{"id":"li-y","jurisdiction":"fi","lea":"lea-fi","monitored":"vm-target","host":"vm-li","storage":"st-li","valid_from":"yesterday","valid_until":"2035-01-01T00:00:00Z"}' 'valid_from'
expect_400 operator PUT /v1/model/hypervisor/hv-a '{"id":"hv-b","host":"hel-1"}' 'id'
expect_400 operator POST /v1/model/hypervisor '{"id":"hv/a","host":"hel-1"}' 'id'
expect_400 operator POST /v1/model/hypervisor '{"id":"hv-a","host":"hel-1","colour":"red"}' 'colour'
expect_400 operator POST /v1/model/hypervisor '{"id":"hv-a","host":"hel-1"' 'line'
expect_400 operator POST /v1/decisions/migration '{"hypervisor":"hv-lon-1"}' 'vm'
expect_400 operator POST /v1/decisions/migration '{"vm":"vm-target","hypervisor":"hv-lon-1","host":"lon-1"}' 'hypervisor'
expect_400 operator POST /v1/decisions/migration '{"vm":7,"hypervisor":"hv-lon-1"}' 'vm'
expect_400 mano POST /v1/decisions/placement '{"id":"v","hypervisor":"hv-hel-1","sensitivity":"li"}' 'domain'
[ "$(code operator -d '{"vm":"vm-nope","hypervisor":"hv-lon-1"}' "$LISECD_URL/v1/decisions/migration")" = 404 ] || fail "unknown VM: $(cat "$work/body")"
[ "$(code operator -d '{"vm":"vm-target","hypervisor":"hv-nope"}' "$LISECD_URL/v1/decisions/migration")" = 404 ] || fail "unknown hypervisor"
[ "$(code operator "$LISECD_URL/v1/model/vm/vm-nope")" = 404 ] || fail "GET unknown vm"
[ "$(code operator -X DELETE "$LISECD_URL/v1/model/vm/vm-nope")" = 404 ] || fail "DELETE unknown vm"
[ "$(code operator "$LISECD_URL/v1/model/planet")" = 404 ] || fail "unknown kind"
[ "$(code operator -d '{"id":"hv-hel-1","host":"hel-1"}' "$LISECD_URL/v1/model/hypervisor")" = 409 ] || fail "POST of an existing id"
[ "$(code operator -X DELETE "$LISECD_URL/v1/model/host/hel-1")" = 409 ] || fail "DELETE of a host that runs a hypervisor: $(cat "$work/body")"
[ "$(code operator -X DELETE "$LISECD_URL/v1/model/vm/vm-li")" = 409 ] || fail "DELETE of an LI VM an LI names: $(cat "$work/body")"
set +e; cli_as operator model put vm "$src/docs/topology.schema.json" >/dev/null 2>&1; rc=$?; set -e
[ $rc = 2 ] || fail "lisec model put of a non-entity exited $rc"
snapshot >"$work/snap.after"
cmp -s "$work/snap.before" "$work/snap.after" || { diff "$work/snap.before" "$work/snap.after" >&2; fail "a refused change altered the model"; }
clean_stop
start_lisecd "$pki" "${li_cfg[@]}" "${dev_cfg[@]}"
snapshot >"$work/snap.restart"
cmp -s "$work/snap.before" "$work/snap.restart" || { diff "$work/snap.before" "$work/snap.restart" >&2; fail "the model differs after a restart"; }
cli_as operator model compliance >/dev/null || fail "not compliant after restart"
pass "19 bad inputs refused with 400 naming the field, 404s and 409s; the model is unchanged, also after a restart"

# --- roles ------------------------------------------------------------------------------
before=$(rows)
LI='{"id":"li-z","jurisdiction":"fi","lea":"lea-fi","monitored":"vm-target","host":"vm-li","storage":"st-li","valid_from":"2025-01-01T00:00:00Z","valid_until":"2035-01-01T00:00:00Z"}'
for role in operator hypervisor-admin; do
  [ "$(code $role -X PUT -d "$LI" "$LISECD_URL/v1/model/li/li-z")" = 403 ] || fail "$role put an LI authorisation"
  [ "$(code $role "$LISECD_URL/v1/model/li/li-fi-1")" = 403 ] || fail "$role read an LI authorisation"
  [ "$(code $role -X DELETE "$LISECD_URL/v1/model/li/li-fi-1")" = 403 ] || fail "$role deleted an LI authorisation"
done
[ "$(rows)" -ge $((before + 6)) ] || fail "refused LI attempts were not recorded ($before -> $(rows))"
for path in /v1/model/host /v1/model/host/hel-1 /v1/model/li /v1/compliance; do
  [ "$(code tenant-example "$LISECD_URL$path")" = 403 ] || fail "tenant reached $path"
done
[ "$(code tenant-example -d '{"vm":"vm-target","hypervisor":"hv-hel-1"}' "$LISECD_URL/v1/decisions/migration")" = 403 ] || fail "tenant asked a decision"
[ "$(code tenant-example -X PUT -d '{"protection":"li"}' "$LISECD_URL/v1/model/host/h-t")" = 403 ] || fail "tenant put a host"
[ "$(code li-admin -X PUT -d '{"protection":"li"}' "$LISECD_URL/v1/model/host/h-t")" = 403 ] || fail "li-admin put a host"
[ "$(code auditor -X PUT -d '{"protection":"li"}' "$LISECD_URL/v1/model/host/h-t")" = 403 ] || fail "auditor put a host"
[ "$(code mano "$LISECD_URL/v1/compliance")" = 403 ] || fail "mano read compliance"
[ "$(code auditor "$LISECD_URL/v1/compliance")" = 200 ] || fail "auditor cannot read compliance"
[ "$(code hypervisor-admin -X PUT -d '{"host":"hel-2"}' "$LISECD_URL/v1/model/hypervisor/hv-hel-3")" = 201 ] || fail "hypervisor-admin cannot add a hypervisor"
[ "$(code hypervisor-admin -X DELETE "$LISECD_URL/v1/model/hypervisor/hv-hel-3")" = 200 ] || fail "hypervisor-admin cannot remove it"
pass "operator and hypervisor-admin cannot touch LI authorisations (each attempt recorded), tenant nothing, li-admin and auditor no platform entity"

# A violation of an LI rule as each role sees it: li-admin reads it naming
# the LI; the auditor's and the operator's reports leave the LI rows out and
# read as before the move (docs/model.md, "What each role sees").
# seen ROLE: ROLE's compliance report, its time and audit index left out.
seen() { as "$1" "$LISECD_URL/v1/compliance" | jq -S 'del(.time, .audit_index)'; }
seen auditor >"$work/au-before"
seen operator >"$work/op-before"
[ "$(code operator -X PUT -d '{"hypervisor":"hv-lon-1","sensitivity":"sensitive","domain":"core"}' "$LISECD_URL/v1/model/vm/vm-target")" = 200 ] || fail "recording the move: $(cat "$work/body")"
[ "$(code li-admin "$LISECD_URL/v1/compliance")" = 200 ] && grep -q 'li-fi-1' "$work/body" && grep -q 'TR103308-6.2-R1"' "$work/body" &&
  jq -e '.compliant == false and .counts["TR103308-6.2-R1"] >= 1' "$work/body" >/dev/null || fail "li-admin does not see the LI's R1 in compliance: $(cat "$work/body")"
cli_as auditor model compliance >"$work/out" || fail "the auditor's compliance after the move to London: exit $? $(cat "$work/out")"
grep -q 'TR103308-6.2\|li-fi-1\|issued in\|withheld' "$work/out" && fail "the auditor reads an LI row: $(cat "$work/out")"
seen auditor | diff "$work/au-before" - >&2 || fail "the auditor's report moved with the LI's state"
seen operator | diff "$work/op-before" - >&2 || fail "the operator's report moved with the LI's state"
jq -e '.compliant == true and .redacted == true' "$work/au-before" >/dev/null || fail "auditor: $(cat "$work/au-before")"
[ "$(code operator -X PUT -d '{"hypervisor":"hv-hel-2","sensitivity":"sensitive","domain":"core"}' "$LISECD_URL/v1/model/vm/vm-target")" = 200 ] || fail "moving back"
[ "$(code li-admin "$LISECD_URL/v1/compliance")" = 200 ] && jq -e '.compliant == true' "$work/body" >/dev/null || fail "not compliant after moving back: $(cat "$work/body")"
pass "compliance: TR103308-6.2-R1 once the VM sits in London, to li-admin naming the LI; the auditor's and operator's reports leave it out and read as before"

# --- concurrency: changes and decisions from several clients at once ---------------------
# Two workers serve four clients: two move vm-store between the Helsinki
# hypervisors (each move a recorded, stored change), two ask decisions. Every
# request must succeed and the model must end consistent with the store.
mover() {
  for _ in $(seq 1 12); do
    for hv in hv-hel-2 hv-hel-1; do
      c=$(as operator -o /dev/null -w '%{http_code}' -X PUT -d "{\"hypervisor\":\"$hv\",\"sensitivity\":\"li\",\"domain\":\"li\",\"paired\":true}" "$LISECD_URL/v1/model/vm/vm-store")
      [ "$c" = 200 ] || echo "PUT $hv: $c"
    done
  done
}
asker() {
  for _ in $(seq 1 25); do
    c=$(as mano -o /dev/null -w '%{http_code}' -d '{"vm":"vm-target","hypervisor":"hv-lon-1"}' "$LISECD_URL/v1/decisions/migration")
    [ "$c" = 200 ] || echo "decision: $c"
  done
}
mover >"$work/c1" & p1=$!
mover >"$work/c2" & p2=$!
asker >"$work/c3" & p3=$!
asker >"$work/c4" & p4=$!
wait $p1 $p2 $p3 $p4
cat "$work"/c[1-4] >"$work/conc"
[ ! -s "$work/conc" ] || fail "concurrent requests failed: $(sort "$work/conc" | uniq -c | head)"
[ "$(code operator "$LISECD_URL/v1/model/vm/vm-store")" = 200 ] && grep -q '"hypervisor":"hv-hel-1"' "$work/body" || fail "vm-store: $(cat "$work/body")"
store_doc vm vm-store | grep -q '"hypervisor":"hv-hel-1"' || fail "store and model disagree: $(store_doc vm vm-store)"
cli_as operator model compliance >/dev/null || fail "not compliant after the concurrent moves"
pass "48 changes and 50 decisions from four concurrent clients: all answered, model and store agree"

# --- trust comes from evidence ---------------------------------------------------------
clean_stop
start_lisecd "$pki" "${li_cfg[@]}"
[ "$(code operator -X PUT -d '{"protection":"li","trust":"trusted"}' "$LISECD_URL/v1/model/host/hel-9")" = 403 ] && grep -q 'R8: trust: host hel-9' "$work/body" && grep -q 'allow_declared_trust' "$work/body" || fail "declared trust accepted: $(cat "$work/body")"
[ "$(code operator -X PUT -d '{"protection":"li","location":{"country":"FI"}}' "$LISECD_URL/v1/model/host/hel-9")" = 403 ] || fail "declared location accepted"
[ "$(code operator -X PUT -d '{"protection":"li"}' "$LISECD_URL/v1/model/host/hel-9")" = 201 ] || fail "a host without declarations: $(cat "$work/body")"
[ "$(code operator "$LISECD_URL/v1/model/host/hel-1")" = 200 ] && grep -q '"trust_source":"none"' "$work/body" && grep -q '"trust":"unknown"' "$work/body" || fail "a stored declaration still counts: $(cat "$work/body")"
[ "$(code li-admin -d '{"vm":"vm-target","hypervisor":"hv-hel-1"}' "$LISECD_URL/v1/decisions/migration")" = 200 ] || fail "decision"
python3 - "$work/body" <<'PY' || fail "an LI VM moved to an unattested host: $(cat "$work/body")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["allow"] is False and d["attestation"]["required"] is True and d["attestation"]["fresh_quote"] is False, d
assert any(v["requirement"] == "TR103308-6.2-R11" and "TR103308-5.1" in v["sentence"] for v in d["violations"]), d
PY
pass "without allow_declared_trust a host's trust/location cannot be declared (403 naming the field); an LI VM's move then needs a fresh attestation and is denied without one"

# --- a change whose record cannot be written is undone -----------------------------------
# Without the LI administration's key no LI record can be sealed: deleting the
# LI authorisation is refused after the model had already removed it, so the
# model must have put it back. MANO's question to move vm-target to London
# shows it: it fails R11 again, and its record, which must then be sealed,
# cannot be written (403); without the LI it would be allowed (200).
clean_stop
start_lisecd "$pki" "${dev_cfg[@]}"
[ "$(code li-admin -X DELETE "$LISECD_URL/v1/model/li/li-fi-1")" = 403 ] && grep -q 'TR103308-4.1' "$work/body" || fail "LI delete without an LI key: $(cat "$work/body")"
c=$(code mano -d '{"vm":"vm-target","hypervisor":"hv-lon-1"}' "$LISECD_URL/v1/decisions/migration")
[ "$c" = 403 ] && grep -q 'TR103308-4.1' "$work/body" || fail "the refused LI delete was not undone: $c $(cat "$work/body")"
store_doc li li-fi-1 | grep -q lea-fi || fail "the LI authorisation left the store"
pass "an LI change that cannot be recorded is refused and undone: the LI still binds the model and stays in the store"

# --- the audit log holds every decision -------------------------------------------------
clean_stop
lisec --json audit read --db "$db" --li-key "$work/li.sk" >"$work/audit.json" || fail "lisec audit read"
python3 - "$work/audit.json" <<'PY' || fail "audit log content"
import json, sys
entries = json.load(open(sys.argv[1]))["entries"]
def f(e, k): return e.get(k) or (e.get("record") or {}).get(k)
acts = [f(e, "action") for e in entries]
mig = acts.count("decision.migration"); plc = acts.count("decision.placement")
assert mig >= 56 and plc >= 2, (mig, plc)
denied = [e for e in entries if f(e, "action") == "model.li.put" and f(e, "outcome") == "denied"]
assert len(denied) >= 2, denied
print(f"audit: {mig} migration and {plc} placement decisions, {len(denied)} refused LI puts, {len(entries)} entries")
PY
pass "every decision and every refused LI attempt is in the audit log (LI ones opened with the LI administration's key)"

