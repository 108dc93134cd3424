#!/usr/bin/env bash
# The records of a VM declared "li" being written (model.vm.put: created,
# replaced, refused) are sealed to the LI administration, as its arrival
# and termination are: the auditor reads every record in the clear and no
# LI VM (TR 103 308 §4.1; docs/audit.md). Before, the operator's put of
# vm-secret was recorded in the clear ("model.vm.put | ok | vm vm-secret")
# and the auditor read the LI VM's id over the API and with lisec audit read.
# - vm-plain, an ordinary VM, is recorded in the clear (the auditor reads
#   its id: what the auditor reads of a record in the clear is unchanged).
# - vm-secret is created, replaced, and refused a put declaring it paired
#   (no [model] allow_declared_trust): three records, each sealed; no
#   clear entry, over GET /v1/audit/entries or lisec audit read with
#   another key, names it. Nor does the refusal of a role the model's
#   routes do not admit naming it: mano's put and the auditor's own read
#   of vm-secret are denied (403) and recorded sealed too.
# - The LI administration opens the three with its key and reads vm-secret
#   and what was done.
# - A VM whose document said "li" and is replaced by one that does not is
#   recorded sealed too (the record names a VM that was an LI VM).
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/twins.sh"
cd "$work"
pki=$work/pki
make_pki "$pki"
lisec audit li-keygen li.key li.pub >/dev/null 2>&1 || fail "lisec audit li-keygen"
lisec audit li-keygen other.key other.pub >/dev/null 2>&1 || fail "lisec audit li-keygen (another key)"
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li.pub"

model_put operator host '{"id":"hel-1","protection":"li"}'
model_put operator hypervisor '{"id":"hv-1","host":"hel-1"}'
model_put operator vm '{"id":"vm-plain","hypervisor":"hv-1","sensitivity":"general","domain":"tenant"}'
from=$(size)
model_put operator vm '{"id":"vm-secret","hypervisor":"hv-1","sensitivity":"li","domain":"li"}'
out=$(as operator -X PUT -H 'Content-Type: application/json' -w '\n%{http_code}\n' \
  -d '{"id":"vm-secret","hypervisor":"hv-1","sensitivity":"li","domain":"li-2"}' "$LISECD_URL/v1/model/vm/vm-secret")
[ "$(tail -n1 <<<"$out")" = 200 ] || fail "operator: PUT vm-secret: $out"
out=$(as operator -X PUT -H 'Content-Type: application/json' -w '\n%{http_code}\n' \
  -d '{"id":"vm-secret","hypervisor":"hv-1","sensitivity":"li","domain":"li-2","paired":true}' "$LISECD_URL/v1/model/vm/vm-secret")
[ "$(tail -n1 <<<"$out")" = 403 ] || fail "operator: PUT vm-secret paired: 403 expected: $out"
out=$(as mano -X PUT -H 'Content-Type: application/json' -w '\n%{http_code}\n' \
  -d '{"id":"vm-secret","hypervisor":"hv-1","sensitivity":"general","domain":"x"}' "$LISECD_URL/v1/model/vm/vm-secret")
[ "$(tail -n1 <<<"$out")" = 403 ] || fail "mano: PUT vm-secret: 403 expected: $out"
out=$(as auditor -w '\n%{http_code}\n' "$LISECD_URL/v1/model/vm/vm-secret")
[ "$(tail -n1 <<<"$out")" = 403 ] || fail "auditor: GET vm-secret: 403 expected: $out"
model_put operator vm '{"id":"vm-was","hypervisor":"hv-1","sensitivity":"li","domain":"li"}'
out=$(as operator -X PUT -H 'Content-Type: application/json' -w '\n%{http_code}\n' \
  -d '{"id":"vm-was","hypervisor":"hv-1","sensitivity":"general","domain":"tenant"}' "$LISECD_URL/v1/model/vm/vm-was")
[ "$(tail -n1 <<<"$out")" = 200 ] || fail "operator: PUT vm-was: $out"
to=$(size)

# --- the auditor ---------------------------------------------------------------------
as auditor "$LISECD_URL/v1/audit/entries?from=0&count=10000" | python3 -c '
import base64, json, re, sys
for e in json.load(sys.stdin)["entries"]:
    text = "" if e["sealed"] else re.sub(rb"[^ -~]+", b" | ", base64.b64decode(e["data"])).decode()
    print(e["index"], str(e["sealed"]).lower(), text)' >auditor.txt || fail "auditor: GET /v1/audit/entries"
grep -q 'model.vm.put | ok | vm vm-plain' auditor.txt || fail "the auditor reads no clear record of vm-plain: $(cat auditor.txt)"
! grep -E 'vm-secret|vm-was' auditor.txt || fail "a record in the clear names an LI VM to the auditor"
sealed=$(awk -v f="$from" -v t="$to" '$1 >= f && $1 < t && $2 == "true"' auditor.txt | wc -l)
[ "$sealed" -ge 7 ] || fail "the puts of vm-secret and vm-was, mano's and the auditor's refusals: 7 sealed records expected, $sealed: $(cat auditor.txt)"
pass "the auditor reads the put of vm-plain and no record naming vm-secret or vm-was ($sealed sealed)"

cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
rc=0
cli auditor --json audit read --li-key other.key >auditor.json 2>auditor.err || rc=$?
[ $rc = 1 ] || fail "auditor: lisec audit read with another key: exit $rc (1 expected: entries left closed): $(cat auditor.err)"
jq -e '.closed >= 7' auditor.json >/dev/null || fail "auditor: lisec audit read: the sealed records left closed expected: $(cat auditor.json)"
! grep -E 'vm-secret|vm-was' auditor.json || fail "lisec audit read shows the auditor an LI VM in the clear part"
grep -q 'vm-plain' auditor.json || fail "lisec audit read: the auditor reads no record of vm-plain"
pass "lisec audit read, as the auditor without the LI key, names neither vm-secret nor vm-was"

# --- the LI administration -----------------------------------------------------------
cli li-admin --json audit read --li-key li.key >opened.json 2>opened.err ||
  fail "li-admin: lisec audit read: $(cat opened.err)"
jq -e '.closed == 0' opened.json >/dev/null || fail "li-admin: entries left closed: $(cat opened.json)"
jq -e '[.entries[] | select(.sealed and .action == "model.vm.put" and (.subjects == ["vm vm-secret"])) | [.role, .outcome]] ==
  [["operator", "ok"], ["operator", "ok"], ["operator", "denied"], ["mano", "denied"]] and
  [.entries[] | select(.sealed and .action == "model.vm.read" and (.subjects == ["vm vm-secret"])) | [.role, .outcome]] ==
  [["auditor", "denied"]]' opened.json >/dev/null ||
  fail "li-admin: the sealed records of vm-secret (the operator's two puts and refused one, mano's and the auditor's refusals) expected: $(jq -c '[.entries[] | select(.action | startswith("model.vm"))]' opened.json)"
jq -e '[.entries[] | select(.sealed and .action == "model.vm.put" and (.subjects == ["vm vm-was"])) | .outcome] == ["ok", "ok"]' \
  opened.json >/dev/null || fail "li-admin: the two sealed model.vm.put records of vm-was expected"
jq -e '[.entries[] | select(.action == "model.vm.put" and (.subjects == ["vm vm-plain"])) | .sealed] == [false]' \
  opened.json >/dev/null || fail "li-admin: vm-plain's record in the clear expected"
pass "the LI administration opens the sealed records of vm-secret (created, replaced, refused; mano's and the auditor's refusals) and vm-was"
stop_clean
echo "li_confid_vmput: all passed"
