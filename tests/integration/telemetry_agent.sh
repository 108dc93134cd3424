#!/usr/bin/env bash
# lisec-agent's BMC reader (cmd/lisec-agent/bmc.c, issue 19) against an
# ipmitool stand-in ([bmc] ipmitool) that prints what a BMC's ipmitool
# prints, so the agent's parsing, deadline and bounds run in both builds
# (the sanitizer's too) in a few seconds; telemetry_ipmi runs the real
# ipmitool against ipmi_sim. Checked: the report's readings against the
# canned output (temperatures, power, hours, asset tag, identity, an
# intrusion from the chassis flag and from a physical-security sensor, and
# no intrusion state, null, from a BMC that has neither; the System Event
# Log's newest intrusion assertion, "none" for a log read whole without
# one, null for a long log without one among its newest records or a log
# whose own session outlasts its deadline, the rest of the report kept; the
# log's Overflow flag, true for a full log, false, null when sel info gives
# none; the newest [bmc] sel_records records asked for, 512 by default, a
# count outside 16..600 refused at start);
# the password stays in its file (never on ipmitool's command line, never
# in the agent's output); a BMC that does not answer, one that hangs
# (killed at the deadline), one that floods output and an ipmitool gone
# before it reads its commands (no SIGPIPE) all give "bmc": null;
# a [bmc] without a readable password file is refused at start.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
agent_bin="$build/cmd/lisec-agent/lisec-agent"
tpm_up A
tpm_use A
echo 'S3cret-BMC-pw' >pw
chmod 600 pw

# The stand-in: its mode from $work/mode, its command line kept in argv.log.
cat >ipmitool <<'SH'
#!/usr/bin/env bash
dir=$(dirname "$0")
printf '%s\n' "$*" >>"$dir/argv.log"
cmds=$(cat) # the commands (exec /dev/stdin)
printf '%s\n' "$cmds" >>"$dir/cmds.log"
mode=$(cat "$dir/mode")
case $mode in
down) echo "Error: Unable to establish IPMI v2 / RMCP+ session" >&2; exit 1 ;;
hang) exec sleep 60 ;;
flood) yes 'Inlet Temp       | 01h | ok  | 23.1 | 24 degrees C'; exit 0 ;;
esac
intr=inactive state=""
[ "$mode" = flag ] && intr=active
[ "$mode" = sensor ] && state="General Chassis intrusion"
# nostatus: no chassis status answer (no "Chassis Intrusion" line), the
# physical-security sensor still there; nointrusion: neither
status="Chassis Intrusion    : $intr" sdr="Intrusion        | 73h | ok  |  7.1 | $state"
case $mode in nostatus | nointrusion) status="" ;; esac
[ "$mode" = nointrusion ] && sdr=""
# the event log: an intrusion opened and closed (record 2), or none in a
# short log (selclean), or none among the newest of a long one (sellong);
# the log full (seloverflow: as ipmi_sim's sel info prints it once its SEL
# filled), or no Overflow line (selnoflag)
entries=3 overflow=false
sel="   1 | 11/30/2026 | 10:00:00 | Power Supply #0x65 | Power Supply AC lost | Asserted
   2 | 12/01/2026 | 10:00:00 | Physical Security #0x73 | General Chassis intrusion | Asserted
   3 | 12/01/2026 | 10:05:00 | Physical Security #0x73 | General Chassis intrusion | Deasserted"
case $mode in
selclean) entries=1 sel="   1 | 11/30/2026 | 10:00:00 | Power Supply #0x65 | Power Supply AC lost | Asserted" ;;
sellong) entries=700 ;;
seloverflow) overflow=true ;;
esac
# as ipmitool: the newest N of the log's records
last=$(sed -n 's/^sel list last \([0-9]*\)$/\1/p' <<<"$cmds")
if [ "$mode" = sellong ]; then
  sel=$(for i in $(seq $((entries - ${last:-entries} + 1)) "$entries"); do
    printf '%4x | 12/01/2026 | 10:00:00 | Fan #0x30 | Lower Critical going low | Asserted\n' "$i"; done)
fi
flag="Overflow         : $overflow"
[ "$mode" = selnoflag ] && flag=
# the event log's own session (sel info, sel list): a log too long for the
# deadline (selhang) costs its answer only
if [[ $cmds == *"sel list"* ]]; then
  [ "$mode" = selhang ] && exec sleep 60
  cat <<OUT
SEL Information
Version          : 1.5 (v1.5, v2 compliant)
Entries          : $entries
Free Space       : 0 bytes 
Percent Used     : 100%
Last Add Time    : 12/07/26 09:15:24 UTC
Last Del Time    : Not Available
$flag
Supported Cmds   : 'Delete' 'Reserve' 
$sel
OUT
  exit 0
fi
cat <<OUT
Device ID                 : 32
Firmware Revision         : 2.14
Manufacturer ID           : 674
Product ID                : 256 (0x0100)
System GUID   : 4c4c4544-0042-3510-8052-b4c04f4b4e32
System Power         : on
$status
POH Counter  : 400 days, 7 hours
Inlet Temp       | 04h | ok  |  7.1 | 23 degrees C
CPU1 Temp        | 0Eh | ok  |  3.1 | 61 degrees C
CPU2 Temp        | 0Fh | ok  |  3.2 | 58.6 degrees C
Fan1             | 30h | ok  |  7.1 | 6240 RPM
Pwr Consumption  | 77h | ok  |  7.1 | 252 Watts
$sdr
PS2 Status       | 65h | ns  | 10.2 | No Reading
 Product Asset Tag     : RACK7-U12
OUT
exit 1 # the last command's status: a BMC without one of them is normal
SH
chmod +x ipmitool
conf() { # conf [PASSWORD_FILE [SEL_RECORDS]]
  cat >agent.conf <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
[agent]
state_dir = $work/state
[bmc]
interface = lan
host = 192.0.2.7
user = lisec
password_file = ${1:-$work/pw}
timeout_s = 1
ipmitool = $work/ipmitool
${2:+sel_records = $2}
CONF
}
conf
chassis() { echo "$1" >mode; "$agent_bin" -c agent.conf chassis 2>agent.err; }

out=$(chassis quiet) || { cat agent.err >&2; fail "lisec-agent chassis"; }
echo "$out" | jq -e '.version == 3 and .sel_overflow == false and (.host | length) == 64 and .bmc.guid == "4c4c4544-0042-3510-8052-b4c04f4b4e32" and
  .bmc.manufacturer == 674 and .bmc.product == 256 and .bmc.firmware == "2.14" and .power == "on" and
  .intrusion == false and .poh_h == 9607 and .inlet_c == 23 and .cpu_c == 61 and .power_w == 252 and
  .asset_tag == "RACK7-U12" and .sel_intrusion == "2 12/01/2026 10:00:00" and (.read_at | type) == "number"' >/dev/null ||
  { echo "$out" >&2; fail "the report does not carry what the BMC printed"; }
[ "$out" = "$(echo "$out" | jq -cS .)" ] || fail "the report is not canonical (compact, key-sorted)"
pass "readings: identity, power, 400 days 7 hours = 9607 h, inlet 23 °C, hottest CPU 61 °C, 252 W, asset tag, the event log's newest intrusion; canonical JSON"
chassis selclean | jq -e '.sel_intrusion == "none" and .intrusion == false' >/dev/null ||
  fail "an event log read whole without an intrusion is not \"none\""
chassis sellong | jq -e '.sel_intrusion == null' >/dev/null ||
  fail "a log longer than the records read, none of them an intrusion, was called clean"
grep -qx 'sel list last 512' cmds.log || { cat cmds.log >&2; fail "the agent did not ask for the newest 512 records"; }
conf "$work/pw" 600
: >cmds.log
chassis sellong | jq -e '.sel_intrusion == null' >/dev/null || fail "700 records, 600 read, were called clean"
grep -qx 'sel list last 600' cmds.log || { cat cmds.log >&2; fail "[bmc] sel_records = 600 not asked for"; }
conf "$work/pw"
chassis seloverflow | jq -e '.sel_overflow == true and .sel_intrusion == "2 12/01/2026 10:00:00"' >/dev/null ||
  fail "a full event log (Overflow: true) was not reported"
chassis selnoflag | jq -e '.sel_overflow == null and .sel_intrusion == "2 12/01/2026 10:00:00"' >/dev/null ||
  fail "an event log without an Overflow flag was not reported as unknown (null)"
pass "event log: its Overflow flag (true for a full log, null when sel info gives none); the newest [bmc] sel_records asked for (512, or as set)"
t0=$(date +%s)
chassis selhang | jq -e '.sel_intrusion == null and .bmc.guid != null and .intrusion == false and .power_w == 252' >/dev/null ||
  fail "an event log that outlasts its deadline cost more than its own answer"
[ $(($(date +%s) - t0)) -lt 30 ] || fail "a hung event log read was not killed at the deadline"
pass "event log: the newest intrusion assertion; none in a log read whole; null when only its newest records were read, or when its session outlasts the deadline (the rest of the report kept)"
chassis flag | jq -e '.intrusion == true' >/dev/null || fail "chassis status intrusion flag not read"
chassis sensor | jq -e '.intrusion == true' >/dev/null || fail "physical-security sensor state not read"
pass "intrusion from the chassis status flag and from a physical-security sensor"
chassis nostatus | jq -e '.intrusion == false' >/dev/null || fail "a quiet physical-security sensor without chassis status"
chassis nointrusion | jq -e '.intrusion == null and .inlet_c == 23' >/dev/null ||
  fail "a BMC with neither chassis status nor an intrusion sensor was reported as a quiet chassis"
pass "no intrusion state (neither chassis status nor a physical-security sensor): null, never false"

grep -q -- "-I lanplus -H 192.0.2.7 -p 623 -U lisec -f $work/pw -C 17 -N 1 -R 1 exec /dev/stdin" argv.log ||
  { cat argv.log >&2; fail "ipmitool not run as expected"; }
! grep -q 'S3cret' argv.log agent.err && ! grep -rq 'S3cret' state 2>/dev/null ||
  fail "the BMC password left its file"
pass "one lanplus session (exec), the password passed as a file only"

chassis down | jq -e '.bmc == null and .intrusion == null and .power_w == null and .asset_tag == null and .sel_intrusion == null and
  .sel_overflow == null' >/dev/null ||
  fail "a BMC that does not answer"
grep -q 'the BMC did not answer' agent.err || fail "no word of the missing BMC"
t0=$(date +%s)
chassis hang | jq -e '.bmc == null' >/dev/null || fail "a hung ipmitool"
[ $(($(date +%s) - t0)) -lt 30 ] || fail "a hung ipmitool was not killed at the deadline"
chassis flood | jq -e '.bmc == null' >/dev/null || fail "a flood of output"
pass "a BMC that does not answer, hangs (killed at the deadline) or floods output: \"bmc\": null"
# An ipmitool gone before the agent writes its commands (as one that cannot
# open its interface; here /bin/true) leaves the pipe without a reader: the
# write fails (EPIPE), it does not end the agent by SIGPIPE. Which comes
# first is the scheduler's, so it is tried a number of times (found by
# fuzz/agent_bmc_report.c, where it came within 50 runs).
sed -i "s|^ipmitool = .*|ipmitool = /bin/true|" agent.conf
for _ in $(seq 1 150); do
  st=0
  out=$("$agent_bin" -c agent.conf chassis 2>agent.err) || st=$?
  [ $st -eq 0 ] || fail "an ipmitool that exits before reading its commands ended the agent (status $st)"
  echo "$out" | jq -e '.bmc == null' >/dev/null || fail "an ipmitool that exits at once: not \"bmc\": null"
done
conf
pass "an ipmitool that exits before reading its commands: \"bmc\": null, the agent not ended by SIGPIPE"

conf "$work/nowhere"
echo quiet >mode
expect 2 'needs host, user and a readable password_file' "$agent_bin" -c agent.conf chassis
sed -i 's/^interface = .*/interface = serial/' agent.conf
expect 2 '\[bmc\] interface' "$agent_bin" -c agent.conf chassis
for n in 15 601; do
  conf "$work/pw" "$n"
  expect 2 'sel_records' "$agent_bin" -c agent.conf chassis
done
pass "[bmc] without a readable password file, an unknown interface, sel_records outside 16..600: refused"
