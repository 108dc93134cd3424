#!/usr/bin/env bash
# A row is withheld for the LI VM it names by the mark the model sets where
# it makes the row (model_reason.li_vms), not by finding the LI VM's id in
# the row's words (docs/model.md, "What each role sees"). An id found in
# words may be another entity's: here the LI VM is called hel-3, as is a
# host. Before, every row that named host hel-3 was taken for one naming
# the LI VM:
# - vm-g, an ordinary "sensitive" VM on host hel-3 (protection "general"),
#   fails O.1.3; its row names host hel-3 and no LI VM. The auditor's
#   compliance report and its record must hold (count) it; before, it was
#   dropped and the auditor read "compliant".
# - mano's placement of vm-z ("sensitive") on hv-3 is refused (O.1.3); the
#   reason names host hel-3 and no LI VM, so mano reads it whole; before,
#   its sentence was withheld "for the LI VMs it names".
# Rows that do name the LI VM are still withheld: vm-x, an ordinary VM in
# domain "li" with the LI VM, fails DOMAIN ("... holds LI VM hel-3 ..."),
# and vm-li, declared "li" on hel-3, fails O.1.3; the auditor reads
# neither, the operator both.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/twins.sh"
cd "$work"
pki=$work/pki
make_pki "$pki"
# the puts of LI VMs are recorded sealed to the LI administration
lisec audit li-keygen li.key li.pub >/dev/null 2>&1 || fail "lisec audit li-keygen"
start_lisecd "$pki" "[model]" "allow_declared_trust = true" "[audit]" "li_admin_key = $work/li.pub"

model_put operator jurisdiction '{"id":"fi","codes":["FI"]}'
for h in hel-1:li hel-3:general; do
  model_put operator host "{\"id\":\"${h%:*}\",\"trust\":\"trusted\",\"protection\":\"${h#*:}\",\"location\":{\"country\":\"FI\"}}"
done
model_put operator hypervisor '{"id":"hv-1","host":"hel-1"}'
model_put operator hypervisor '{"id":"hv-3","host":"hel-3"}'
model_put operator vm '{"id":"hel-3","hypervisor":"hv-1","sensitivity":"li","domain":"li"}'
model_put operator vm '{"id":"vm-x","hypervisor":"hv-1","sensitivity":"general","domain":"li"}'
model_put operator vm '{"id":"vm-g","hypervisor":"hv-3","sensitivity":"sensitive","domain":"tenant"}'
model_put operator vm '{"id":"vm-li","hypervisor":"hv-3","sensitivity":"li","domain":"li2"}'

# --- the compliance report -----------------------------------------------------------
body=$(as auditor "$LISECD_URL/v1/compliance") || fail "auditor: GET /v1/compliance"
jq -e '.compliant == false and .counts["TR103308-7-O.1.3"] == 1 and
  ([.violations[] | select(.requirement == "TR103308-7-O.1.3") | .subject] == ["vm vm-g"]) and
  (.counts["TR103308-4.1-DOMAIN"] == null) and
  ([.violations[] | select(.subject == "vm vm-g") | .sentence][0] | test("host hel-3.s protection level"))' \
  <<<"$body" >/dev/null ||
  fail "the auditor's compliance report: vm-g's O.1.3 row (naming host hel-3, no LI VM) alone expected: $body"
case $body in *vm-li*|*"LI VM hel-3"*|*"vm hel-3"*) fail "the auditor's compliance report names an LI VM: $body" ;; esac
n=$(jq '.violations | length' <<<"$body")
rec=$(as auditor "$LISECD_URL/v1/audit/entries?from=$(jq -r .audit_index <<<"$body")&count=1" | python3 -c '
import base64, json, re, sys
e = json.load(sys.stdin)["entries"][0]
print("true" if e["sealed"] else re.sub(rb"[^ -~]+", b" | ", base64.b64decode(e["data"])).decode())')
case $rec in *"compliance.read"*" $n violations"*) ;; *) fail "the auditor's compliance.read record ($n expected): $rec" ;; esac
pass "the auditor reads vm-g's O.1.3 row, which names host hel-3 and no LI VM, and its record counts it ($n)"

body=$(as operator "$LISECD_URL/v1/compliance") || fail "operator: GET /v1/compliance"
jq -e '.counts["TR103308-7-O.1.3"] == 2 and .counts["TR103308-4.1-DOMAIN"] == 1 and
  ([.violations[] | select(.requirement == "TR103308-7-O.1.3") | .subject] | sort) == ["vm vm-g", "vm vm-li"] and
  ([.violations[] | select(.requirement == "TR103308-4.1-DOMAIN") | .sentence][0] | test("LI VM hel-3"))' \
  <<<"$body" >/dev/null || fail "the operator's compliance report: both O.1.3 rows and the DOMAIN row expected: $body"
case $body in *lisec.li*) fail "the operator's report holds the controller's mark: $body" ;; esac
pass "the operator reads the rows naming the LI VMs (O.1.3 of vm-li, DOMAIN naming hel-3) and vm-g's"

# --- a decision ------------------------------------------------------------------------
out=$(post mano /v1/decisions/placement '{"id":"vm-z","hypervisor":"hv-3","sensitivity":"sensitive","domain":"tenant"}')
[ "$(tail -n1 <<<"$out")" = 200 ] || fail "mano: POST /v1/decisions/placement: $out"
body=$(sed '$d' <<<"$out")
jq -e '.allow == false and
  ([.violations[] | select(.requirement == "TR103308-7-O.1.3")] | length == 1 and
    (.[0].subject == "vm vm-z") and (.[0].sentence | test("host hel-3.s protection level")) and
    (.[0].fact | test("protection\\(host hel-3\\)")))' <<<"$body" >/dev/null ||
  fail "mano's placement of vm-z on hv-3: its O.1.3 reason, naming host hel-3 and no LI VM, whole expected: $body"
case $body in *lisec.li*) fail "mano's decision holds the controller's mark: $body" ;; esac
pass "mano reads the O.1.3 reason of placing vm-z on hv-3 whole (host hel-3 is no LI VM)"

out=$(post mano /v1/decisions/placement '{"id":"vm-y","hypervisor":"hv-1","sensitivity":"general","domain":"li"}')
[ "$(tail -n1 <<<"$out")" = 200 ] || fail "mano: POST /v1/decisions/placement: $out"
body=$(sed '$d' <<<"$out")
jq -e '.allow == false and ([.violations[] | select(.requirement == "TR103308-4.1-DOMAIN")] | length == 1)' \
  <<<"$body" >/dev/null || fail "mano's placement of vm-y in domain li: refused by DOMAIN expected: $body"
case $body in *"LI VM hel-3"*|*"e.g. hel-3"*|*"(e.g. hel-3)"*) fail "mano's placement of vm-y names the LI VM hel-3: $body" ;; esac
pass "mano's placement of vm-y in domain li is refused by DOMAIN without naming the LI VM hel-3"
stop_clean
echo "li_confid_vmrows_mark: all passed"
