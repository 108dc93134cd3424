#!/usr/bin/env bash
# The seal bit of the audit log's records of model changes and observations
# tells no role but li-admin which VM (or storage) an LI names (TR 103 308
# §4.1). Operator and auditor read every entry's "sealed" flag in
# /v1/audit/entries, and the data of each entry in the clear. A real
# lisecd, an LI monitoring vm-target and storing through st-li; vm-twin is
# vm-target and st-twin is st-li in every declared respect, but no LI names
# them. As the operator reads the log:
# - removing vm-target or vm-twin is refused with one sentence, and the two
#   records are sealed alike, neither naming the LI (nor do st-li's and
#   st-twin's);
# - host A, attested by its own swtpm and lisec-agent over libvirt's test
#   driver, shows both VMs running where they are not declared: the two
#   PLACEMENT findings are recorded alike, in the clear, naming no LI;
# - after migrations lisec allowed, host A's inventory shows vm-target2
#   (monitored by a second LI) and vm-twin2 arrived: the two
#   model.vm.arrived records are in the clear, naming no LI.
# A VM declared "li" (vm-li) keeps its records sealed.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/twins.sh"
source "$src/tests/integration/lib/li_topology.sh"
cd "$work"
pki=$work/pki
agent_bin="$build/cmd/lisec-agent/lisec-agent"

make_pki "$pki"
am_pki am
evgen --log fw.bin --extends fw.txt --reference ref.json
declare -A HID
agent_host a "[agent]" "interval_s = 300" "[libvirt]" "uri = test://$work/node-a.xml"
# node_xml VM...: host A's test-driver node, running each VM named (an
# idle domain of no VM besides, which the test driver needs).
node_xml() {
  local n=0 vm
  {
    echo "<node>"
    for vm in "$@"; do
      n=$((n + 1))
      cat <<XML
  <domain type='test'>
    <name>$vm</name><uuid>6f1c2a3b-0000-4000-8000-0000000000e$n</uuid><memory>65536</memory><os><type>hvm</type></os>
    <metadata><lisec:vm xmlns:lisec="urn:lisec:vm" id="$vm"/></metadata>
  </domain>
XML
    done
    echo "<domain type='test'><name>idle</name><uuid>6f1c2a3b-0000-4000-8000-0000000000f1</uuid><memory>65536</memory><os><type>hvm</type></os></domain>"
    echo "</node>"
  } >node-a.xml
}
node_xml vm-twin
virsh -c "test://$work/node-a.xml" list --all | grep 'vm-twin *running' >/dev/null ||
  fail "the test driver does not run node-a.xml"

lisec audit li-keygen li.key li.pub >/dev/null 2>&1 || fail "lisec audit li-keygen"
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "interval_s = 300" "grace_s = 60" "[audit]" "li_admin_key = $work/li.pub" "[api]" "refusal_rate = 0"

ha=${HID[a]}
model_put operator host "{\"id\":\"$ha\",\"protection\":\"li\"}"
model_put operator host '{"id":"host-b","protection":"li"}'
model_put operator hypervisor "{\"id\":\"hv-a\",\"host\":\"$ha\"}"
for hv in hv-t hv-w hv-t2 hv-w2 hv-b; do model_put operator hypervisor "{\"id\":\"$hv\",\"host\":\"host-b\"}"; done
model_put operator vm '{"id":"vm-twin","hypervisor":"hv-w","sensitivity":"general","domain":"tenant"}'
model_put operator vm '{"id":"vm-target2","hypervisor":"hv-t2","sensitivity":"sensitive","domain":"core"}'
model_put operator vm '{"id":"vm-twin2","hypervisor":"hv-w2","sensitivity":"sensitive","domain":"core"}'
model_put operator vm '{"id":"vm-peer","hypervisor":"hv-b","sensitivity":"sensitive","domain":"core"}'
# lib/li_topology.sh's LI li-fi-1, its VMs unpaired on host-b's hv-b and no
# path of its own (the monitored VM and its twin each reach vm-peer alike);
# st-twin is st-li in every declared respect.
li_topology host= hv=hv-b target_hv=hv-t paired=no paths= li=li-fi-1
model_put operator storage '{"id":"st-twin","vm":"vm-store","provided_to":["vm-li"]}'
model_put operator connection '{"id":"c-t","between":["vm-target","vm-peer"],"kind":"network","secure":true}'
model_put operator connection '{"id":"c-w","between":["vm-twin","vm-peer"],"kind":"network","secure":true}'
model_put operator connection '{"id":"c-li","between":["vm-li","vm-peer"],"kind":"network","secure":true}'
model_put li-admin li '{"id":"li-fi-2","jurisdiction":"fi","lea":"lea-fi","monitored":"vm-target2","host":"vm-li","storage":"st-li","valid_from":"2025-01-01T00:00:00Z","valid_until":"2035-01-01T00:00:00Z"}'


# remove KIND ID OUT: DELETE as the operator, refused 409; the reply's
# message into OUT.msg (ID left out) and the records it made into OUT.rec.
remove() {
  local before out
  before=$(size) || fail "operator: the audit log's size"
  out=$(as operator -X DELETE -w '\n%{http_code}\n' "$LISECD_URL/v1/model/$1/$2")
  [ "$(echo "$out" | tail -n1)" = 409 ] || fail "operator: DELETE $1 $2: not 409: $out"
  echo "$out" | sed '$d' | jq -r .error | sed "s/$2/ID/g" >"$3.msg"
  entries "$before" >"$3.rec"
  [ "$(wc -l <"$3.rec")" = 1 ] || fail "operator: DELETE $1 $2 made $(wc -l <"$3.rec") records, not 1: $(cat "$3.rec")"
}
# alike A B ID_A ID_B: one sentence for both, the records sealed alike and
# the same from the action on, ids aside, neither naming the LI.
alike() {
  diff "$1.msg" "$2.msg" >&2 || fail "$3 and $4: the replies differ"
  local sa sb
  sa=$(cut -d' ' -f2 "$1.rec") sb=$(cut -d' ' -f2 "$2.rec")
  [ "$sa" = "$sb" ] || fail "$3 is recorded sealed=$sa, $4 sealed=$sb: the seal names what the LI names"
  ! grep -q 'li-fi-\|LI ' "$1.rec" "$2.rec" || fail "a record in the clear names the LI: $(cat "$1.rec" "$2.rec")"
  # from the action on (before it: length and time bytes that may print)
  [ "$(grep -o 'model\..*' "$1.rec" | sed "s/$3/ID/g")" = "$(grep -o 'model\..*' "$2.rec" | sed "s/$4/ID/g")" ] ||
    fail "the records of $3 and $4 differ: $(cat "$1.rec" "$2.rec")"
}
remove vm vm-target dt
remove vm vm-twin dw
alike dt dw vm-target vm-twin
pass "removing the monitored VM and its twin: one reply, records sealed alike and naming no LI"
remove storage st-li st
remove storage st-twin sw
alike st sw st-li st-twin
pass "removing the LI's storage and its twin: one reply, records sealed alike and naming no LI"
remove vm vm-li dl
[ "$(cut -d' ' -f2 dl.rec)" = true ] || fail "the refusal to remove vm-li (declared li) is in the clear: $(cat dl.rec)"
pass "a VM declared li: its refusal stays sealed"

# report VM...: host A's agent (re)started over a node running each VM
# named; waits until lisecd answered its appraisal, which it sends after
# the model applied the inventory and recorded what it found.
apid=
report() {
  local answered
  [ -z "$apid" ] || { kill "$apid" 2>/dev/null; wait "$apid" 2>/dev/null; }
  node_xml "$@"
  answered=$(grep -c "lisec-agent: appraised:" agent-a.log 2>/dev/null || true)
  sed -i "s|^url = .*|url = $LISECD_URL|" agent-a.conf
  "$agent_bin" -c "$work/agent-a.conf" run >>agent-a.log 2>&1 &
  apid=$!
  cleanup_hooks+=("kill $apid 2>/dev/null || true")
  for _ in $(seq 1 300); do
    [ "$(grep -c "lisec-agent: appraised:" agent-a.log)" -gt "${answered:-0}" ] && return 0
    sleep 0.1
  done
  tail agent-a.log >&2
  fail "host A: no appraisal answered"
}
# Host A shows vm-twin running, declared on host-b; then vm-target too.
# Each is a PLACEMENT finding, recorded when first shown.
before=$(size) || fail "operator: the audit log's size"
report vm-twin
entries "$before" >obs-w.rec
grep -q 'model.observation .*vm vm-twin.*PLACEMENT' obs-w.rec ||
  fail "no PLACEMENT finding for vm-twin in the clear: $(cat obs-w.rec)"
# vm-target2 (monitored by li-fi-2) and vm-twin2 (no LI) move to hv-a on
# host A, allowed; host A's next inventory shows them there and the intent
# follows: two arrivals, in the clear.
for vm in vm-target2 vm-twin2; do
  out=$(post operator /v1/decisions/migration "{\"vm\":\"$vm\",\"hypervisor\":\"hv-a\"}")
  [ "$(echo "$out" | tail -n1)" = 200 ] && echo "$out" | sed '$d' | jq -e '.allow == true' >/dev/null ||
    fail "operator: the migration of $vm to hv-a: $out"
done
before=$(size) || fail "operator: the audit log's size"
report vm-twin vm-target vm-twin2 vm-target2
entries "$before" >obs-t.rec
grep -q 'model.observation .*vm vm-target.*PLACEMENT' obs-t.rec ||
  fail "vm-twin's PLACEMENT finding is in the clear, vm-target's is not: the seal names the monitored VM: $(cat obs-t.rec)"
! grep 'model.observation' obs-w.rec obs-t.rec | grep -q 'li-fi-\|LI ' ||
  fail "an observation record names the LI: $(cat obs-w.rec obs-t.rec)"
[ "$(grep -c 'model.observation .*PLACEMENT' obs-t.rec)" = 1 ] ||
  fail "host A's second inventory: not one new PLACEMENT finding: $(cat obs-t.rec)"
pass "host A shows the monitored VM and its twin where they are not declared: both findings in the clear, naming no LI"
for vm in vm-twin2 vm-target2; do
  grep -q "model.vm.arrived .*vm $vm" obs-t.rec ||
    fail "$vm's arrival is not in the clear (vm-twin2's: $(grep -c 'model.vm.arrived .*vm vm-twin2' obs-t.rec)): $(cat obs-t.rec)"
done
! grep 'model.vm.arrived' obs-t.rec | grep -q 'li-fi-\|LI ' || fail "an arrival's record names the LI: $(cat obs-t.rec)"
as operator "$LISECD_URL/v1/model/vm/vm-target2" | jq -e '.hypervisor == "hv-a"' >/dev/null ||
  fail "vm-target2's intent did not follow its arrival"
pass "a monitored VM and its twin arrive on hv-a after allowed migrations: both records in the clear, naming no LI"

kill "$apid" 2>/dev/null || true
wait "$apid" 2>/dev/null || true
stop_lisecd
if grep -E 'Sanitizer|runtime error' lisecd.log; then fail "lisecd: sanitizer report"; fi
echo "li_confid_records: all passed"
