#!/usr/bin/env bash
# Chassis telemetry from a real IPMI BMC (issue 19 items 2-3): OpenIPMI's
# ipmi_sim serves IPMI 2.0 LAN on a free loopback port with SDR sensors
# (inlet and CPU temperature, power draw, power-on hours, a physical-security
# intrusion sensor) polled from files this script writes, and a FRU whose
# product asset tag is the one in the host's location certificate.
# lisec-agent (own swtpm, [bmc] interface = "lan", libvirt's test driver
# with three running domains) binds its chassis report into each quote; a
# real lisecd appraises it. Checked: a quiet chassis keeps the location and
# an LI placement is allowed; power drawn at idle by a host running three VMs
# is a finding (compliance report), not a void; a reading out of physical
# range refuses the evidence naming the requirement and changes nothing
# stored; an intrusion voids the location (placement denied naming
# TR103308-6.2) and the void holds after the intrusion clears, until asset
# management confirms the location again; an intrusion asserted and cleared
# while the agent was not reading is still found in the BMC's event log
# (SEL) and voids the location, and once confirmed the same record does not
# void it again, nor after the agent's time zone changes; an intrusion after a
# confirm, before the agent's next report, voids it too (the confirm takes
# the last report as the baseline, not the next); an intrusion 70 records
# back is still read (the agent reads the newest 512 by default), one older
# than the newest [bmc] sel_records is a finding; an event log that filled
# (ipmi_sim's SEL overflowed, so an intrusion afterwards is in no record) is
# a finding, gone once the log is cleared; a FRU asset tag other than the
# certificate's, another BMC GUID and power-on hours going back each void
# it; a BMC that stops answering is a finding with
# [telemetry] missing = "finding" and makes the host untrusted with
# "untrusted"; a dead BMC whose ipmitool would wait past the nonce's
# lifetime ([bmc] timeout_s = 5, [attest] nonce_ttl_s = 8) is cut at half
# of it, so the host is appraised (missing = "off": trusted) instead of its
# evidence refused for an expired nonce and the host overdue. The agent's C
# paths and lisecd's appraisal also run under the
# sanitizer in test_attest_telemetry; ipmi_sim sessions make this one slow.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
release_only "test_attest_telemetry (parser, binding, appraiser)"
source "$src/tests/integration/attest_lib.sh"
command -v ipmi_sim >/dev/null && command -v ipmitool >/dev/null ||
  { echo "SKIP: ipmi_sim or ipmitool not installed (scripts/bootstrap)"; exit 77; }
cd "$work"
pki=$work/pki
agent_bin="$build/cmd/lisec-agent/lisec-agent"
sim="$src/scripts/test/ipmi-sim-start"

# ---- the BMC ----------------------------------------------------------------
bmc_up() { # bmc_up [ASSET_TAG [GUID]]: (re)starts the simulator in $work/bmc, same port (IPMI_SIM_SEL_MAX passes)
  "$sim" --stop "$work/bmc"
  eval "$(IPMI_SIM_ASSET_TAG=${1:-LAB-0042} IPMI_SIM_GUID=${2:-a123456789abcdefa123456789abcdef} \
    "$sim" "$work/bmc")" || fail "ipmi_sim did not start"
}
cleanup_hooks+=("'$sim' --stop '$work/bmc'")
bmc_up
# sensor FILE VALUE: what the BMC reads next. Written aside and renamed into
# place: ipmi_sim polls the file, and one read between a truncation and the
# write would be an empty (zero) reading the test never set.
sensor() { echo "$2" >"$work/bmc/$1.new" && mv "$work/bmc/$1.new" "$work/bmc/$1"; }

# ---- the host: swtpm, libvirt's test driver, its certificates -----------------
cat >node.xml <<XML
<node>
$(for i in 1 2 3; do echo "<domain type='test'><name>d$i</name><uuid>6f1c2a3b-0000-4000-8000-00000000000$i</uuid><memory>65536</memory><os><type>hvm</type></os></domain>"; done)
</node>
XML
make_pki "$pki"
am_pki am
tpm_up A
tpm_use A
evgen --log fw.bin --extends fw.txt --reference ref.json
tpm_extend fw.txt
mkdir -p state-A
cat >agent-A.conf <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
pcrs = 0,1,2,3,4,5,6,7,8,15
[agent]
state_dir = $work/state-A
eventlog = $work/fw.bin
poll_ms = 200
interval_s = 1
[libvirt]
uri = test://$work/node.xml
[bmc]
interface = lan
host = 127.0.0.1
port = $IPMI_SIM_PORT
user = $IPMI_SIM_USER
password_file = $IPMI_SIM_PASSWORD_FILE
cipher = 3
timeout_s = 1
[server]
url = https://localhost:PORT
ca = $pki/ca.crt
cert = $pki/host-a.crt
key = $pki/host-a.key
CONF
hostA=$("$agent_bin" -c agent-A.conf host-id) || fail "host-id"
lisec pki issue "$pki" host-a host "$hostA" >/dev/null || fail "pki issue host-a"
# location TAG OUT: asset management's certificate, with the FRU asset tag it saw.
location() {
  printf '{"type":"lisec-location/1","host_id":"%s","country":"FI","subdivision":"FI-18","latitude":60.17,"longitude":24.94,"site":"HEL1","tpm_reset_count":%s,"issued_at":"%s","asset_tag":"%s"}' \
    "$hostA" "$(tpm_reset_count)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" >"$2.json"
  openssl cms -sign -nodetach -binary -outform DER -in "$2.json" -signer am/am.crt -inkey am/am.key \
    -out "$2" 2>/dev/null || fail "openssl cms -sign"
}
location LAB-0042 state-A/location.cms

make_li_admin_key "$work/li-admin" # (an LI decision is recorded sealed)
lisecd_up() { # lisecd_up MISSING [ATTEST_SETTING...]: lisecd on the same store with [telemetry] missing = MISSING
  local missing=$1
  shift
  start_lisecd "$pki" "[audit]" "li_admin_key = $work/li-admin.pub" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
    "$@" "[telemetry]" "missing = $missing" "idle_w = 150" "peak_w = 800" "busy_vms = 3"
  sed -i "s|^url = .*|url = $LISECD_URL|" agent-A.conf
}
lisecd_up finding
model_put() { # model_put KIND JSON
  [ "$(as operator -o model.out -w '%{http_code}' -H 'Content-Type: application/json' -d "$2" \
    "$LISECD_URL/v1/model/$1")" = 201 ] || { cat model.out >&2; fail "model: POST $1"; }
}
model_put host "{\"id\":\"$hostA\",\"protection\":\"li\"}"
model_put hypervisor "{\"id\":\"hv-a\",\"host\":\"$hostA\"}"
run_agent() { # run_agent [TZ]: the agent, in that time zone (UTC unless given)
  TZ=${1:-UTC} "$agent_bin" -c "$work/agent-A.conf" run >>agent-A.log 2>&1 &
  AGENT_PID=$!
  cleanup_hooks+=("kill $AGENT_PID 2>/dev/null || true")
}
show() { as operator "$LISECD_URL/v1/hosts/$hostA/attestation"; }
wait_for() { # wait_for JQ-FILTER: within 60 s
  for _ in $(seq 1 300); do
    show | jq -e "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  show >&2
  tail -20 agent-A.log >&2 || true
  fail "never reached: $1"
}
place() { # place: may an LI VM be placed on host A? The decision in place.out
  as mano -o place.out -H 'Content-Type: application/json' \
    -d '{"id":"vm-li-new","hypervisor":"hv-a","sensitivity":"li","domain":"li"}' "$LISECD_URL/v1/decisions/placement"
}
compliance() { as operator "$LISECD_URL/v1/compliance"; }

# ---- a quiet chassis -----------------------------------------------------------
run_agent
wait_for '.lisec.trust == "trusted" and .lisec.location.country == "FI" and .lisec.chassis.reading.bmc != null'
show | jq -e '.lisec.chassis.reading | .intrusion == false and .asset_tag == "LAB-0042" and .power == "on" and
  .power_w == 200 and .inlet_c == 24 and .cpu_c == 45 and .poh_h == 1200' >/dev/null ||
  { show >&2; fail "the stored reading is not what the BMC's sensors read"; }
show | jq -e '(.lisec.chassis.findings | length) == 0 and (.lisec.chassis_void == null)' >/dev/null ||
  { show >&2; fail "a quiet chassis raised something"; }
jq -e --arg h "$hostA" '.host == $h and .version == 3 and .sel_intrusion == "none" and .sel_overflow == false' state-A/evidence/chassis.json >/dev/null ||
  fail "the agent's chassis report"
place
jq -e '.allow == true' place.out >/dev/null || { cat place.out >&2; fail "LI placement on a quiet chassis"; }
pass "quiet chassis: readings bound to the quote and stored, location valid (FI), an LI placement allowed"

# ---- power drawn at idle by three running VMs: a finding, not a void -----------
sensor power 10
wait_for '.lisec.chassis.findings | map(test("TR103308-5.6-O.1.1: the host reports 3 running VMs while its BMC reads 100 W")) | any'
show | jq -e '.lisec.location.country == "FI" and .lisec.trust == "trusted"' >/dev/null ||
  { show >&2; fail "a power finding voided something"; }
compliance | jq -e --arg s "host $hostA" '.violations | map(select(.requirement == "TR103308-5.6-O.1.1" and .subject == $s)) | length >= 1' \
  >/dev/null || { compliance >&2; fail "the finding is not in the compliance report"; }
sensor power 20
wait_for '(.lisec.chassis.findings | length) == 0'
pass "power implausible for the inventory's load: an O.1.1 finding in the compliance report, the location stays"

# ---- out of physical range: refused, nothing stored changes ----------------------
before=$(show | jq -c '.lisec.chassis.reading.inlet_c')
sensor inlet 200
for _ in $(seq 1 150); do grep -q 'outside the physical range' agent-A.log && break; sleep 0.2; done
grep -q 'evidence refused (4[0-9][0-9]): .*TR103308-5.6-O.1.1: chassis: "inlet_c" 200 is outside the physical range -40..150' agent-A.log ||
  { tail agent-A.log >&2; fail "an out-of-range reading was not refused naming the requirement"; }
[ "$(show | jq -c '.lisec.chassis.reading.inlet_c')" = "$before" ] || fail "a refused report changed the stored reading"
sensor inlet 24
pass "a reading out of physical range (200 °C): evidence refused naming TR103308-5.6-O.1.1, stored state unchanged"

# ---- chassis intrusion: the location is void until asset management confirms ----
sensor intrusion 1
wait_for '.lisec.location == null and .lisec.trust == "trusted" and (.lisec.chassis_void | test("TR103308-6.2-R10/R14: the BMC reports a chassis intrusion"))'
place
jq -e '.allow == false and (tostring | test("TR103308-6.2"))' place.out >/dev/null ||
  { cat place.out >&2; fail "LI placement on an opened chassis not denied naming the requirement"; }
sensor intrusion 0
n=$(show | jq -r '.lisec.last_appraisal_at')
wait_for ".lisec.last_appraisal_at != \"$n\" and .lisec.chassis.reading.intrusion == false"
wait_for '.lisec.location == null and .lisec.chassis_void != null'
location LAB-0042 loc2.cms
lisec --server "$LISECD_URL" --pki "$pki" --role operator host confirm-location "$hostA" --location loc2.cms \
  >confirm.out 2>&1 || { cat confirm.out >&2; fail "confirm-location"; }
wait_for '.lisec.location.country == "FI" and .lisec.chassis_void == null'
pass "intrusion: location void (LI placement denied, TR103308-6.2), still void once it clears, back after confirm-location"

# ---- an intrusion between two reports: the BMC's event log keeps it ----------------
# (the agent is stopped while the lid is opened and closed, as happens
# whenever it lasts less than the agent's interval)
sel() { ipmitool -I lanplus -H 127.0.0.1 -p "$IPMI_SIM_PORT" -U "$IPMI_SIM_USER" -f "$IPMI_SIM_PASSWORD_FILE" \
  -C 3 -N 1 -R 1 sel list 2>/dev/null; }
sel_count() { sel | grep -c "intrusion | $1" || true; }
sel_wait() { # sel_wait Asserted|Deasserted N: the log holds N such records
  for _ in $(seq 1 100); do [ "$(sel_count "$1")" -ge "$2" ] && return 0; sleep 0.2; done
  sel >&2; fail "the BMC's event log never held $2 records '$1'"
}
n=$(show | jq -r '.lisec.last_appraisal_at')
wait_for ".lisec.last_appraisal_at != \"$n\" and .lisec.location.country == \"FI\""
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null || true
a=$(sel_count Asserted) d=$(sel_count Deasserted)
sensor intrusion 1
sel_wait Asserted $((a + 1))
sensor intrusion 0
sel_wait Deasserted $((d + 1))
n=$(show | jq -r '.lisec.last_appraisal_at')
run_agent
wait_for ".lisec.last_appraisal_at != \"$n\" and .lisec.chassis.reading.intrusion == false"
show | jq -e '.lisec.location == null and (.lisec.chassis_void | test("TR103308-6.2-R10/R14: the BMC.s event log records a chassis intrusion since the last confirmation"))' \
  >/dev/null || { show >&2; fail "an intrusion that came and went between two reports was lost (the location is still valid)"; }
place
jq -e '.allow == false and (tostring | test("TR103308-6.2"))' place.out >/dev/null ||
  { cat place.out >&2; fail "LI placement after an intrusion between two reports not denied"; }
# confirmed: the same record, read again at every report, is not new
location LAB-0042 loc3.cms
lisec --server "$LISECD_URL" --pki "$pki" --role operator host confirm-location "$hostA" --location loc3.cms \
  >confirm.out 2>&1 || { cat confirm.out >&2; fail "confirm-location"; }
wait_for '.lisec.location.country == "FI" and .lisec.chassis_void == null and .lisec.chassis.base.sel_intrusion != null'
for _ in 1 2; do
  n=$(show | jq -r '.lisec.last_appraisal_at')
  wait_for ".lisec.last_appraisal_at != \"$n\""
done
show | jq -e '.lisec.location.country == "FI" and .lisec.chassis_void == null' >/dev/null ||
  { show >&2; fail "the intrusion asset management confirmed voided the location again"; }
pass "intrusion between two reports: the BMC's event log voids the location (LI placement denied); once confirmed, the same record does not"
# the agent's time zone changes (daylight saving time, or TZ): the same
# record is the same record
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null || true
n=$(show | jq -r '.lisec.last_appraisal_at')
run_agent America/New_York
wait_for ".lisec.last_appraisal_at != \"$n\""
n=$(show | jq -r '.lisec.last_appraisal_at')
wait_for ".lisec.last_appraisal_at != \"$n\""
show | jq -e '.lisec.location.country == "FI" and .lisec.chassis_void == null' >/dev/null ||
  { show >&2; fail "the agent's time zone changed and the same event-log record voided the location"; }
pass "the agent's time zone changes: the confirmed event-log record is still the same record"

# ---- an intrusion between the confirm and the next report -------------------------
# Asset management confirms the chassis the last report showed: a lid opened
# and closed after the confirm, before the agent reports again, is a newer
# record in the event log, not the new baseline.
confirm() { # confirm NAME: asset management's certificate for the current resetCount, sent by the operator
  location LAB-0042 "$1"
  lisec --server "$LISECD_URL" --pki "$pki" --role operator host confirm-location "$hostA" --location "$1" \
    >confirm.out 2>&1 || { cat confirm.out >&2; fail "confirm-location"; }
}
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null || true
confirm loc4.cms
a=$(sel_count Asserted) d=$(sel_count Deasserted)
sensor intrusion 1
sel_wait Asserted $((a + 1))
sensor intrusion 0
sel_wait Deasserted $((d + 1))
n=$(show | jq -r '.lisec.last_appraisal_at')
run_agent
wait_for ".lisec.last_appraisal_at != \"$n\" and .lisec.chassis.reading.intrusion == false"
show | jq -e '.lisec.location == null and (.lisec.chassis_void | test("TR103308-6.2-R10/R14: the BMC.s event log records a chassis intrusion since the last confirmation"))' \
  >/dev/null || { show >&2; fail "an intrusion between the confirm and the next report became the baseline (the location is valid)"; }
# confirmed once the report shows it: that record is the baseline now
confirm loc5.cms
wait_for '.lisec.location.country == "FI" and .lisec.chassis_void == null'
pass "an intrusion after the confirm, before the next report: the event log voids the location; confirmed once reported, it does not"

# ---- an intrusion 70 records back, and one pushed out of the records read -------
# The agent reads the newest [bmc] sel_records (512 by default) of the log:
# 70 others logged after an intrusion leave it found. With sel_records = 64
# they push it out (sel_intrusion null): the report does not show the lid
# stayed shut, which is a finding, not silence.
ipmi() { ipmitool -I lanplus -H 127.0.0.1 -p "$IPMI_SIM_PORT" -U "$IPMI_SIM_USER" -f "$IPMI_SIM_PASSWORD_FILE" -C 3 -N 1 -R 1 "$@"; }
lid_and_events() { # lid_and_events N: the lid opened and closed (logged), then N other events logged
  local a d
  a=$(sel_count Asserted) d=$(sel_count Deasserted)
  sensor intrusion 1
  sel_wait Asserted $((a + 1))
  sensor intrusion 0
  sel_wait Deasserted $((d + 1))
  # (IPMI Add SEL Entry: a temperature sensor's upper critical threshold crossed)
  for _ in $(seq 1 "$1"); do echo "raw 0x0a 0x44 0 0 0x02 0 0 0 0 0x20 0 0x04 0x01 0x01 0x01 0x09 0x00 0x00"; done >events.txt
  ipmi exec events.txt >/dev/null 2>&1 || fail "ipmitool: the events were not logged"
}
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null || true
lid_and_events 70
newest=$(sel | grep 'intrusion | Asserted' | tail -n1 | awk -F' [|] ' '{gsub(/ /, "", $1); print $1}')
n=$(show | jq -r '.lisec.last_appraisal_at')
run_agent
wait_for ".lisec.last_appraisal_at != \"$n\""
jq -e --arg id "$newest" '.sel_intrusion | startswith($id + " ")' state-A/evidence/chassis.json >/dev/null ||
  { cat state-A/evidence/chassis.json >&2; fail "an intrusion 70 records back was not read (record $newest)"; }
show | jq -e '.lisec.location == null and (.lisec.chassis_void | test("TR103308-6.2-R10/R14: the BMC.s event log records a chassis intrusion since the last confirmation"))' \
  >/dev/null || { show >&2; fail "an intrusion 70 records back did not void the location"; }
confirm loc6.cms
wait_for '.lisec.location.country == "FI" and .lisec.chassis_void == null'
pass "an intrusion 70 records back in the event log: read (newest 512 by default), the location void until confirmed"
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null || true
lid_and_events 70
sed -i 's/^timeout_s = .*/&\nsel_records = 64/' agent-A.conf
n=$(show | jq -r '.lisec.last_appraisal_at')
run_agent
wait_for ".lisec.last_appraisal_at != \"$n\""
jq -e '.sel_intrusion == null' state-A/evidence/chassis.json >/dev/null || fail "the agent read the event log whole"
show | jq -e '.lisec.chassis.findings | map(test("TR103308-5.6-O.1.1: the BMC.s event log was not read")) | any' >/dev/null ||
  { show >&2; fail "an event log the agent could not read was taken as a quiet chassis (no finding)"; }
compliance | jq -e --arg s "host $hostA" '.violations | map(select(.requirement == "TR103308-5.6-O.1.1" and .subject == $s)) | length >= 1' \
  >/dev/null || { compliance >&2; fail "the unread event log is not in the compliance report"; }
pass "an intrusion pushed out of the newest [bmc] sel_records = 64 event-log records: a finding (event log not read), in the compliance report"
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null || true
sed -i '/^sel_records = /d' agent-A.conf

# ---- an event log that filled: it records no intrusion any more ------------------
# A BMC whose SEL holds 40 records: 45 events fill it, ipmi_sim drops the
# rest and sets the SEL's Overflow flag. A lid opened and closed then is in
# no record, and the sensor is quiet by the next report: only the flag says
# the log cannot show it. A finding, until the log is cleared.
IPMI_SIM_SEL_MAX=40 bmc_up
ipmi exec <(for _ in $(seq 1 45); do echo "raw 0x0a 0x44 0 0 0x02 0 0 0 0 0x20 0 0x04 0x01 0x01 0x01 0x09 0x00 0x00"; done) >/dev/null 2>&1 || true
ipmi sel info | grep -q '^Overflow *: true' || { ipmi sel info >&2; fail "ipmi_sim's SEL did not overflow"; }
intruded() { ipmi sdr elist 2>/dev/null | grep -q 'Chassis Intru.*General Chassis intrusion'; }
sensor intrusion 1
for i in $(seq 1 50); do intruded && break; [ "$i" = 50 ] && fail "the intrusion sensor never asserted"; sleep 0.2; done
sensor intrusion 0
for i in $(seq 1 50); do intruded || break; [ "$i" = 50 ] && fail "the intrusion sensor never cleared"; sleep 0.2; done
[ "$(sel_count Asserted)" = 0 ] || { sel >&2; fail "a full event log recorded the intrusion"; }
n=$(show | jq -r '.lisec.last_appraisal_at')
run_agent
wait_for ".lisec.last_appraisal_at != \"$n\""
jq -e '.version == 3 and .sel_overflow == true and .sel_intrusion == "none" and .intrusion == false' state-A/evidence/chassis.json >/dev/null ||
  { cat state-A/evidence/chassis.json >&2; fail "the agent did not report the event log's Overflow flag"; }
show | jq -e '.lisec.chassis.findings | map(test("TR103308-5.6-O.1.1: the BMC.s event log overflowed")) | any' >/dev/null ||
  { show >&2; fail "a full event log that recorded no intrusion was taken as a quiet chassis (no finding)"; }
compliance | jq -e --arg s "host $hostA" '.violations | map(select(.requirement == "TR103308-5.6-O.1.1" and .subject == $s)) | length == 1' \
  >/dev/null ||
  { compliance >&2; fail "the overflowed event log is not in the compliance report"; }
ipmi sel clear >/dev/null 2>&1 || fail "ipmitool sel clear"
ipmi sel info | grep -q '^Overflow *: false' || { ipmi sel info >&2; fail "ipmi_sim's SEL still overflowed once cleared"; }
wait_for '(.lisec.chassis.findings | map(test("event log overflowed")) | any) | not'
pass "an event log that filled (ipmi_sim's SEL overflowed, a later intrusion in no record): a finding in the compliance report, gone once the log is cleared"

# ---- another board: asset tag, BMC identity, power-on hours -------------------------
# (each void is its own reason in the appraisal; the first is the one kept)
sensor poh 110
bmc_up LAB-9999 b123456789abcdefa123456789abcdef
wait_for '.lisec.location == null and (.lisec.chassis_void | test("asset tag is not the one in the location certificate")) and
  (.lisec.reasons | map(test("BMC.s identity \\(GUID, manufacturer, product\\) changed")) | any) and
  (.lisec.reasons | map(test("power-on hours went backwards \\(1100, 1200 seen before\\)")) | any)'
pass "another FRU asset tag than the location certificate's, another BMC GUID, power-on hours back: each voids the location"

# ---- the BMC stops answering: a finding, or untrusted by configuration -------------
"$sim" --stop "$work/bmc"
wait_for '.lisec.chassis.findings | map(test("the host.s BMC did not answer its agent")) | any'
show | jq -e '.lisec.trust == "trusted"' >/dev/null || { show >&2; fail "missing = finding made the host untrusted"; }
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null || true
stop_lisecd
lisecd_up untrusted
run_agent
wait_for '.lisec.trust != "trusted" and (.lisec.reasons | map(test("TR103308-5.6-O.1.1: the host.s BMC did not answer its agent")) | any)'
pass "BMC stopped: a finding with [telemetry] missing = \"finding\", the host untrusted with \"untrusted\""

# ---- a dead BMC does not outlast the nonce -----------------------------------------
# ipmitool gives a dead BMC two timeouts (-N 5 -R 1: 10 s), more than lisecd's
# nonce lives (8 s): the agent cuts its BMC reads at half the nonce's
# remaining lifetime, so its quote arrives in time with "bmc": null, and with
# missing = "off" the host is trusted and stays so past interval_s + grace_s
# (8 s), never overdue. (Before, every quote came after its nonce expired.)
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null || true
stop_lisecd
lisecd_up off "nonce_ttl_s = 8" "interval_s = 4" "grace_s = 4"
sed -i 's/^timeout_s = .*/timeout_s = 5/' agent-A.conf
run_agent
wait_for '.lisec.trust == "trusted" and .lisec.chassis.reading.bmc == null'
for _ in 1 2 3; do
  n=$(show | jq -r '.lisec.last_appraisal_at')
  wait_for ".lisec.last_appraisal_at != \"$n\" and .lisec.trust == \"trusted\""
done
grep -q 'the BMC did not answer (lan interface) within half of the nonce.s remaining lifetime' agent-A.log ||
  { tail -20 agent-A.log >&2; fail "the agent did not say it cut the BMC's reads at the nonce's lifetime"; }
pass "a dead BMC ([bmc] timeout_s = 5, ipmitool waits 10 s) against an 8 s nonce: cut at half its lifetime, the host appraised and trusted (missing = off), never overdue"
