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
cd "$work"
pki=$work/pki
agent_bin="$build/cmd/lisec-agent/lisec-agent"
U1=6f1c2a3b-0000-4000-8000-0000000000c1

head -c 32768 /dev/urandom >vm1.img
# node_xml FILE [with-vm-1]: a test-driver node, running vm-1 or nothing of lisec's.
node_xml() {
  {
    echo "<node>"
    if [ "${2:-}" = with-vm-1 ]; then
      cat <<XML
  <domain type='test'>
    <name>vm-1</name><uuid>$U1</uuid><memory>65536</memory><os><type>hvm</type></os>
    <metadata><lisec:vm xmlns:lisec="urn:lisec:vm" id="vm-1"/></metadata>
    <devices><disk type='file' device='disk'><source file='$work/vm1.img'/><target dev='vda'/></disk></devices>
  </domain>
XML
    fi
    echo "</node>"
  } >"$1"
}
# The test driver needs a node with something in it: an idle domain of no VM.
idle_domain() {
  sed -i "s|</node>|<domain type='test'><name>idle-$2</name><uuid>6f1c2a3b-0000-4000-8000-0000000000d$2</uuid><memory>65536</memory><os><type>hvm</type></os></domain></node>|" "$1"
}

make_pki "$pki"
am_pki am
evgen --log fw.bin --extends fw.txt --reference ref.json
declare -A HID APID
for n in a b; do agent_host "$n" "[agent]" "interval_s = 300" "[libvirt]" "uri = test://$work/node-$n.xml"; done
node_xml node-a.xml with-vm-1
idle_domain node-a.xml 1
node_xml node-b.xml
idle_domain node-b.xml 2
virsh -c "test://$work/node-a.xml" list --all | grep 'vm-1 *running' >/dev/null || fail "the test driver does not run node-a.xml"

lisec audit li-keygen li.key li.pub >/dev/null 2>&1 || fail "li-keygen"
lisecd_up() {
  start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
    "interval_s = 300" "grace_s = 60" "[audit]" "li_admin_key = $work/li.pub"
}
lisecd_up

post() { # post ROLE PATH JSON: the body, then the HTTP status on the last line
  as "$1" -H 'Content-Type: application/json' -d "$3" -w '\n%{http_code}\n' "$LISECD_URL$2"
}
model_put() { # model_put KIND JSON
  local out
  out=$(post operator "/v1/model/$1" "$2")
  [ "$(echo "$out" | tail -n1)" = 201 ] || fail "model: POST $1: $out"
}
for n in a b; do
  model_put host "{\"id\":\"${HID[$n]}\",\"protection\":\"li\"}"
  model_put hypervisor "{\"id\":\"hv-$n\",\"host\":\"${HID[$n]}\"}"
done
model_put vm '{"id":"vm-1","hypervisor":"hv-a","sensitivity":"general","domain":"core"}'

audit_count() { # audit_count REGEX: unsealed audit entries whose fields match
  python3 - "$work/lisec.db" "$1" <<'PY'
import re, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = [re.sub(rb"[^ -~]+", b" | ", d).decode() for (d,) in db.execute("SELECT data FROM audit_log")]
print(sum(1 for r in rows if re.search(sys.argv[2], r)))
PY
}
vm1() { as operator "$LISECD_URL/v1/model/vm/vm-1"; }
compliance() { as operator "$LISECD_URL/v1/compliance"; }
# findings REQ: the compliance violations of one requirement id.
findings() { compliance | jq -c --arg r "$1" '[.violations[] | select(.requirement == $r)]'; }
quote_ref() { sha256sum "$1/evidence/quote.msg" | cut -c1-16; }

# report N: (re)starts host N's agent and waits until lisecd appraised a
# quote binding the inventory libvirt holds now and answered the agent. The
# record is durable before lisecd applies the report to the model, and the
# answer goes after, so the record alone does not say the model shows it.
report() {
  local n=$1 before answered
  if [ -n "${APID[$n]:-}" ]; then
    kill -TERM "${APID[$n]}" 2>/dev/null
    wait "${APID[$n]}" 2>/dev/null
  fi
  before=$(audit_count "attest.appraise \\| ok .*${HID[$n]}.*inventory sha256:")
  answered=$(grep -c "lisec-agent: appraised:" "agent-$n.log" 2>/dev/null || true)
  sed -i "s|^url = .*|url = $LISECD_URL|" "agent-$n.conf"
  "$agent_bin" -c "$work/agent-$n.conf" run >>"agent-$n.log" 2>&1 &
  APID[$n]=$!
  cleanup_hooks+=("kill ${APID[$n]} 2>/dev/null || true")
  for _ in $(seq 1 300); do
    [ "$(audit_count "attest.appraise \\| ok .*${HID[$n]}.*inventory sha256:")" -gt "$before" ] &&
      [ "$(grep -c "lisec-agent: appraised:" "agent-$n.log")" -gt "${answered:-0}" ] && return 0
    sleep 0.1
  done
  tail -20 "agent-$n.log" >&2
  fail "host $n: no appraisal with its inventory"
}

# ---- where it runs: what host A proved ---------------------------------------
report a
report b
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
node_xml node-a.xml
idle_domain node-a.xml 1
report a
vm1 | jq -e '.hypervisor == "hv-a"' >/dev/null || { vm1 >&2; fail "the source's report moved the model"; }
node_xml node-b.xml with-vm-1
idle_domain node-b.xml 2
report b
vm1 | jq -e --arg h "${HID[b]}" --arg q "$(quote_ref state-b)" \
  '.hypervisor == "hv-b" and .observed.host == $h and .observed.evidence == $q and (has("migrating_to") | not)' \
  >/dev/null || { vm1 >&2; fail "the destination's proof did not move the model"; }
[ "$(audit_count "model.vm.arrived .*ok .*${HID[b]}")" = 1 ] || fail "the arrival is not recorded"
[ "$(findings TR103308-T.1.4-PLACEMENT)" = "[]" ] || { compliance >&2; fail "a PLACEMENT finding after the move"; }
pass "an allowed migration: the model stays on hv-a (also after the source stops reporting vm-1) until host B's attested inventory shows it; then hv-b, recorded"

# ---- a host that claims what it does not run ------------------------------------
node_xml node-a.xml with-vm-1
idle_domain node-a.xml 1
report a
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
for n in a b; do kill -TERM "${APID[$n]}" 2>/dev/null; wait "${APID[$n]}" 2>/dev/null; APID[$n]=; done
stop_clean
lisecd_up
vm1 | jq -e --arg b "${HID[b]}" '.hypervisor == "hv-b" and .observed.host == null and .observed.hosts_running == 2' \
  >/dev/null || { vm1 >&2; fail "after a restart vm-1's observation is lost"; }
[ "$(findings TR103308-T.1.4-DUPLICATE | jq length)" = 1 ] || { compliance >&2; fail "the DUPLICATE finding is lost at restart"; }
report a
[ "$(audit_count 'model.observation .*TR103308-T.1.4-DUPLICATE')" = 1 ] ||
  fail "the same inventory after a restart recorded the finding again"
# Bad input: a host that no longer runs it clears the finding.
node_xml node-a.xml
idle_domain node-a.xml 1
report a
[ "$(findings TR103308-T.1.4-DUPLICATE)" = "[]" ] && [ "$(findings TR103308-T.1.4-PLACEMENT)" = "[]" ] ||
  { compliance >&2; fail "the findings stay after host A stopped claiming vm-1"; }
pass "after a restart: observations and the finding come back from the store, nothing recorded twice; host A's next inventory clears them"
for n in a b; do
  [ -n "${APID[$n]:-}" ] && kill -TERM "${APID[$n]}" 2>/dev/null && wait "${APID[$n]}" 2>/dev/null
done
stop_clean
echo "observe: all passed"
