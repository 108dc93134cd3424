#!/usr/bin/env bash
# The model follows observation (issue 15 item 2), end to end: a real
# lisecd, two hosts each with its own swtpm, location certificate and
# lisec-agent reading libvirt's test driver (a node XML per host, written
# here). What the agents report inside their quotes is what the model shows
# as observed; a migration lisecd allows leaves the intent where it was
# until the destination's attested inventory shows the VM (the source's
# report alone, without it, moves nothing); a host that still claims to run
# the VM afterwards is a DUPLICATE and a PLACEMENT finding naming both hosts
# and its quote, in /v1/compliance and `lisec model compliance`, recorded
# once, and still there after lisecd restarts (no second record).
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/twins.sh"
cd "$work"
vm1_hosts
compliance() { as operator "$LISECD_URL/v1/compliance"; }
# findings REQ: the compliance violations of one requirement id.
findings() { compliance | jq -c --arg r "$1" '[.violations[] | select(.requirement == $r)]'; }
quote_ref() { sha256sum "$1/evidence/quote.msg" | cut -c1-16; }

# ---- where it runs: what host A proved ---------------------------------------
report_inventory a
report_inventory b
vm1 | jq -e --arg h "${HID[a]}" --arg q "$(quote_ref state-a)" \
  '.hypervisor == "hv-a" and .observed.host == $h and .observed.state == "running" and .observed.evidence == $q' \
  >/dev/null || { vm1 >&2; fail "GET vm-1 does not show it observed on host A by A's quote"; }
[ "$(findings TR103308-T.1.4-PLACEMENT)" = "[]" ] && [ "$(findings TR103308-T.1.4-DUPLICATE)" = "[]" ] ||
  { compliance >&2; fail "a finding while vm-1 runs where it is declared"; }
pass "vm-1 declared on hv-a and observed running on host A by A's quote; no finding"

# ---- an allowed migration waits for the destination's proof -------------------
out=$(post operator /v1/decisions/migration "{\"vm\":\"vm-1\",\"host\":\"${HID[b]}\"}")
[ "$(echo "$out" | tail -n1)" = 200 ] || fail "migration decision: $out"
echo "$out" | sed '$d' | jq -e '.allow == true and .placement_source == "observed"' >/dev/null ||
  fail "the decision is not allowed from the observed placement: $out"
vm1 | jq -e --arg h "${HID[b]}" '.hypervisor == "hv-a" and .migrating_to.host == $h' >/dev/null ||
  { vm1 >&2; fail "an allowed migration moved the model (or is not shown as awaited)"; }
# libvirt migrates: the source no longer has it; its report alone moves nothing.
vm1_node node-a.xml 1
report_inventory a
vm1 | jq -e '.hypervisor == "hv-a"' >/dev/null || { vm1 >&2; fail "the source's report moved the model"; }
vm1_node node-b.xml 2 with-vm-1
report_inventory b
vm1 | jq -e --arg h "${HID[b]}" --arg q "$(quote_ref state-b)" \
  '.hypervisor == "hv-b" and .observed.host == $h and .observed.evidence == $q and (has("migrating_to") | not)' \
  >/dev/null || { vm1 >&2; fail "the destination's proof did not move the model"; }
[ "$(audit_count "model.vm.arrived .*ok .*${HID[b]}")" = 1 ] || fail "the arrival is not recorded"
[ "$(findings TR103308-T.1.4-PLACEMENT)" = "[]" ] || { compliance >&2; fail "a PLACEMENT finding after the move"; }
pass "an allowed migration: the model stays on hv-a (also after the source stops reporting vm-1) until host B's attested inventory shows it; then hv-b, recorded"

# ---- a host that claims what it does not run ------------------------------------
vm1_node node-a.xml 1 with-vm-1
report_inventory a
qa=$(quote_ref state-a)
findings TR103308-T.1.4-PLACEMENT | jq -e --arg a "${HID[a]}" --arg b "${HID[b]}" --arg q "$qa" \
  'length == 1 and (.[0].sentence | contains("declared on host " + $b) and contains("host " + $a) and contains($q))' \
  >/dev/null || { compliance >&2; fail "no PLACEMENT finding naming both hosts and A's quote"; }
findings TR103308-T.1.4-DUPLICATE | jq -e --arg a "${HID[a]}" --arg b "${HID[b]}" \
  'length == 1 and (.[0].sentence | contains($a) and contains($b))' >/dev/null ||
  { compliance >&2; fail "no DUPLICATE finding naming both hosts"; }
expect 1 "TR103308-T.1.4-DUPLICATE" env LISEC_SERVER="$LISECD_URL" LISEC_CERT="$pki/operator.crt" \
  LISEC_KEY="$pki/operator.key" LISEC_CA="$pki/ca.crt" "$build/cmd/lisec/lisec" model compliance
grep -q "TR103308-T.1.4-PLACEMENT" out.txt || fail "lisec model compliance does not show the PLACEMENT finding"
[ "$(audit_count 'model.observation .*TR103308-T.1.4-DUPLICATE')" = 1 ] || fail "the DUPLICATE finding is not recorded once"
[ "$(audit_count 'model.observation .*TR103308-T.1.4-PLACEMENT')" = 1 ] || fail "the PLACEMENT finding is not recorded once"
pass "host A claims vm-1 again: PLACEMENT (declared B, observed A, A's quote) and DUPLICATE, in /v1/compliance and lisec model compliance (exit 1), recorded once"

# ---- a restart keeps what hosts proved ------------------------------------------
stop_agents a b
stop_clean
vm1_lisecd
vm1 | jq -e --arg b "${HID[b]}" '.hypervisor == "hv-b" and .observed.host == null and .observed.hosts_running == 2' \
  >/dev/null || { vm1 >&2; fail "after a restart vm-1's observation is lost"; }
[ "$(findings TR103308-T.1.4-DUPLICATE | jq length)" = 1 ] || { compliance >&2; fail "the DUPLICATE finding is lost at restart"; }
report_inventory a
[ "$(audit_count 'model.observation .*TR103308-T.1.4-DUPLICATE')" = 1 ] ||
  fail "the same inventory after a restart recorded the finding again"
# Bad input: a host that no longer runs it clears the finding.
vm1_node node-a.xml 1
report_inventory a
[ "$(findings TR103308-T.1.4-DUPLICATE)" = "[]" ] && [ "$(findings TR103308-T.1.4-PLACEMENT)" = "[]" ] ||
  { compliance >&2; fail "the findings stay after host A stopped claiming vm-1"; }
pass "after a restart: observations and the finding come back from the store, nothing recorded twice; host A's next inventory clears them"
stop_agents a b
stop_clean
echo "observe: all passed"
