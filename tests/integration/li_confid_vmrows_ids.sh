#!/usr/bin/env bash
# A row withheld for the LI VM it names is known by the model's mark on it
# (model_reason.li_vms; it was by the LI VM's id in its text, and
# li_confid_vmrows_mark shows where that went wrong); an id may hold "."
# and ":" (lisec's id rule), so another VM whose
# id begins with the LI VM's and goes on after a "." or ":" (vm-li.2 beside
# vm-li) is another VM, not the LI VM. Its violations are the operator's to
# read and act on: vm-li.2, an ordinary "sensitive" VM on a host of
# protection "general", fails O.1.3, and the operator's and auditor's
# compliance reports must show it. Before, the row was taken for one
# naming vm-li and dropped whole (with its count and its effect on
# "compliant"): the auditor read "compliant". vm-li itself, on a host of
# protection "general" too, fails O.1.3: its row is withheld from the
# auditor, whose report holds the other two, and read by the operator,
# which declared vm-li and alone can move it (review of 2026-12-07).
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
model_put operator vm '{"id":"vm-li","hypervisor":"hv-3","sensitivity":"li","domain":"li"}'
model_put operator vm '{"id":"vm-li.2","hypervisor":"hv-3","sensitivity":"sensitive","domain":"tenant"}'
model_put operator vm '{"id":"vm-li:3","hypervisor":"hv-3","sensitivity":"sensitive","domain":"tenant"}'

body=$(as auditor "$LISECD_URL/v1/compliance") || fail "auditor: GET /v1/compliance"
jq -e '.compliant == false and .counts["TR103308-7-O.1.3"] == 2 and
  ([.violations[] | select(.requirement == "TR103308-7-O.1.3") | .subject] | sort) == ["vm vm-li.2", "vm vm-li:3"]' \
  <<<"$body" >/dev/null || fail "the auditor's compliance report: vm-li.2's and vm-li:3's O.1.3 rows alone expected: $body"
body=$(as operator "$LISECD_URL/v1/compliance") || fail "operator: GET /v1/compliance"
jq -e '.compliant == false and .counts["TR103308-7-O.1.3"] == 3 and
  ([.violations[] | select(.requirement == "TR103308-7-O.1.3") | .subject] | sort) ==
    ["vm vm-li", "vm vm-li.2", "vm vm-li:3"]' \
  <<<"$body" >/dev/null || fail "the operator's compliance report: the O.1.3 rows of vm-li, vm-li.2, vm-li:3 expected: $body"
pass "the auditor reads the O.1.3 rows of vm-li.2 and vm-li:3, which are not the LI VM vm-li, and not vm-li's; the operator reads all three"
stop_clean
echo "li_confid_vmrows_ids: all passed"
