#!/usr/bin/env bash
# A row withheld for the LI VM it names is found by the LI VM's id in its
# text; an id may hold "." and ":" (lisec's id rule), so another VM whose
# id begins with the LI VM's and goes on after a "." or ":" (vm-li.2 beside
# vm-li) is another VM, not the LI VM. Its violations are the operator's to
# read and act on: vm-li.2, an ordinary "sensitive" VM on a host of
# protection "general", fails O.1.3, and the operator's and auditor's
# compliance reports must show it, as they show the same row for vm-g.
# Before, the row was taken for one naming vm-li and dropped whole (with
# its count and its effect on "compliant"): the operator read "compliant".
# Rows naming vm-li itself stay withheld (li_confid_vmrows).
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/twins.sh"
cd "$work"
pki=$work/pki
make_pki "$pki"
start_lisecd "$pki" "[model]" "allow_declared_trust = true"

model_put operator jurisdiction '{"id":"fi","codes":["FI"]}'
for h in hel-1:li hel-3:general; do
  model_put operator host "{\"id\":\"${h%:*}\",\"trust\":\"trusted\",\"protection\":\"${h#*:}\",\"location\":{\"country\":\"FI\"}}"
done
model_put operator hypervisor '{"id":"hv-1","host":"hel-1"}'
model_put operator hypervisor '{"id":"hv-3","host":"hel-3"}'
model_put operator vm '{"id":"vm-li","hypervisor":"hv-1","sensitivity":"li","domain":"li"}'
model_put operator vm '{"id":"vm-li.2","hypervisor":"hv-3","sensitivity":"sensitive","domain":"tenant"}'
model_put operator vm '{"id":"vm-li:3","hypervisor":"hv-3","sensitivity":"sensitive","domain":"tenant"}'

for role in operator auditor; do
  body=$(as $role "$LISECD_URL/v1/compliance") || fail "$role: GET /v1/compliance"
  jq -e '.compliant == false and .counts["TR103308-7-O.1.3"] == 2 and
    ([.violations[] | select(.requirement == "TR103308-7-O.1.3") | .subject] | sort) == ["vm vm-li.2", "vm vm-li:3"]' \
    <<<"$body" >/dev/null || fail "$role's compliance report hides vm-li.2's and vm-li:3's O.1.3 rows: $body"
done
pass "the operator and the auditor read the O.1.3 rows of vm-li.2 and vm-li:3, which are not the LI VM vm-li"
stop_clean
echo "li_confid_vmrows_ids: all passed"
