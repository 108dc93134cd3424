#!/usr/bin/env bash
# With X1 running, a host's change of trust tells no reader of the audit
# log whether an LI's tasks changed with it (TR 103 308 §4.1; docs/audit.md;
# announce in src/ctl/tasks.c). A real lisecd with the LI administration's
# key, its KEK in SoftHSM2, and a real lisec-ne as the NE poi-1 running as
# the LI VM vm-li, which carries target t-1 of LI li-1; host 1 runs
# vm-target, which li-1 monitors, host 2 runs vm-twin, which is vm-target in
# every declared respect but no LI names; each host is attested by its own
# swtpm and lisec-agent (the LI and storage VMs on hel-1, declared trusted).
# In turn host 1 loses its trust (its agent stops: untrusted:overdue) and
# regains it, then host 2 does the same. After each change:
#  - what the auditor reads of the entries it brought (GET
#    /v1/audit/entries: a clear entry's action and outcome, a sealed one's
#    seal bit and length) is the same for host 1 as for host 2. Compared as
#    sets with their counts: the ADMF's announcement and attestation's own
#    records come from two threads, in either order, for either host alike.
#    Left out: the ADMF's reads of the LI (model.li.read, once a minute) and
#    its compliance.read ([x1] compliance_record_s), which come on a clock;
#    and good appraisals, which the agents' timing adds;
#  - exactly one sealed x1.reconcile "tasks after the trust model changed"
#    was written, which li-admin opens: host 1's loss names "deactivate t-1
#    on poi-1", its regain "activate t-1 on poi-1", host 2's name none;
#  - the NE's task is deactivated after host 1's loss and active again
#    after its regain, and host 2's changes leave it as it was;
#  - lisecd's own log says no task changed state meanwhile.
# Before, host 1's loss and regain each brought a sealed x1.deactivate or
# x1.activate (and lisecd's log a state change) that host 2's did not.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/twins.sh"
source "$src/tests/integration/lib/li_topology.sh"
cd "$work"
two_hosts
lisec pki issue "$pki" admf operator lisec-admf >/dev/null || fail "lisec pki issue admf"
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >pin

ne_port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-1 --admf-id lisec-admf --state "$work/ne-tasks.json" 2>>ne.log &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null || true")
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$ne_port) 2>/dev/null && break; sleep 0.1; done

start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "interval_s = 4" "grace_s = 1" "check_ms = 200" "[audit]" "li_admin_key = $work/li.pub" \
  "[keys]" "x1_key_dir = $pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" \
  "pin_file = $work/pin" "key_label = lisec-kek" "[model]" "allow_declared_trust = true" \
  "[x1]" "compliance_record_s = 86400" "[api]" "refusal_rate = 0"

h1=${HID[1]} h2=${HID[2]}
for h in "$h1" "$h2"; do model_put operator host "{\"id\":\"$h\",\"protection\":\"li\"}"; done
model_put operator hypervisor "{\"id\":\"hv-1\",\"host\":\"$h1\"}"
model_put operator hypervisor "{\"id\":\"hv-2\",\"host\":\"$h2\"}"
# lib/li_topology.sh's LI li-1, its LI and storage VMs on hel-1 (declared
# trusted in FI), its monitored VM vm-target on host 1; vm-twin on host 2.
li_topology hv=hv-c target_hv=hv-1
model_put operator vm '{"id":"vm-twin","hypervisor":"hv-2","sensitivity":"general","domain":"tenant"}'
out=$(post li-admin /v1/x1/nes "$(li_ne_json poi-1 "$ne_port" vm-li 192.0.2.9)")
[ "$(echo "$out" | tail -n1)" = 200 ] || fail "li-admin: registering poi-1: $out"
out=$(post li-admin /v1/targets '{"id":"t-1","authorisation":"li-1","identifiers":[{"kind":"imsi","value":"244051234567890"}]}')
[ "$(echo "$out" | tail -n1)" = 201 ] || fail "li-admin: adding t-1: $out"

two_hosts_trusted

# ne_holds: the identifiers lisec-ne holds (its state file).
ne_holds() {
  python3 -c "import json;print(' '.join(sorted(v['value'] for t in json.load(open('$work/ne-tasks.json'))['tasks'] for v in t['targets'])))" 2>/dev/null
}
# holds IDS: until lisec-ne holds IDS (reading its file records nothing).
holds() {
  for _ in $(seq 1 150); do
    [ "$(ne_holds)" = "$1" ] && return 0
    sleep 0.1
  done
  fail "lisec-ne holds '$(ne_holds)', not '$1'"
}
# task_is STATE: t-1 on poi-1 is STATE as li-admin lists it (each listing
# is a sealed record: not inside a change's window).
task_is() {
  for _ in $(seq 1 50); do
    [ "$(as li-admin "$LISECD_URL/v1/tasks" | jq -r '.tasks[] | select(.target == "t-1" and .ne == "poi-1") | .state')" = "$1" ] &&
      return 0
    sleep 0.1
  done
  fail "t-1 on poi-1 is not $1: $(as li-admin "$LISECD_URL/v1/tasks")"
}
holds 244051234567890
task_is active
pass "poi-1 holds t-1 while li-1 is compliant, both hosts trusted"

# opened FROM: the entries from FROM on as li-admin reads them, sealed ones opened (JSON).
opened() {
  lisec --server "$LISECD_URL" --pki "$pki" --role li-admin --json audit read --li-key li.key --from "$1" 2>read.err ||
    fail "li-admin: lisec audit read: $(cat read.err)"
}
# announced FROM: the reasons of the announcements from FROM on, one a line.
announced() {
  opened "$1" | jq -r '.entries[] | select(.sealed and .action == "x1.reconcile" and
    .subjects == ["tasks after the trust model changed"]) | .reasons | join(" ")'
}
# seen FROM: what the auditor reads of the entries from FROM on, one line
# each, sorted: "sealed LENGTH" or "clear ACTION OUTCOME" (decoded from the
# entry: an 18-byte header, then actor, role, action and outcome, each a
# 2-byte length and its bytes); the clock's records and good appraisals
# left out (named by li-admin's opened view: the auditor cannot).
seen() {
  opened "$1" | jq -r '.entries[] | select(.actor == "lisecd/admf" and (.action == "model.li.read" or .action == "compliance.read")) | .index' >clock.idx
  as auditor "$LISECD_URL/v1/audit/entries?from=$1&count=10000" | python3 -c '
import base64, json, sys
clock = set(int(x) for x in open("clock.idx").read().split())
out = []
for e in json.load(sys.stdin)["entries"]:
    if e["index"] in clock:
        continue
    d = base64.b64decode(e["data"])
    if e["sealed"]:
        out.append("sealed %d" % len(d))
        continue
    at, words = 18, []
    for _ in range(4):
        n = d[at] << 8 | d[at + 1]
        words.append(d[at + 2:at + 2 + n].decode())
        at += 2 + n
    if words[2:] == ["attest.appraise", "ok"]:
        continue
    out.append("clear %s %s" % (words[2], words[3]))
print("\n".join(sorted(out)))
' || fail "auditor: the audit entries from $1 could not be read"
}

# change N HOW STATE HOLDS: host N loses (HOW lose: its agent stops, until
# untrusted:overdue and its clear finding is recorded) or regains (regain:
# its agent runs again, until trusted in FI) its trust; then until the
# ADMF's announcement is in the log (10 s at most: before this change there
# was none) and the NE holds HOLDS. What the auditor reads into HOW-N.seen,
# the announcements into HOW-N.said, lisecd's log meanwhile into HOW-N.log;
# then t-1 on poi-1 must be STATE.
change() {
  local n=$1 how=$2 h=${HID[$1]} from lines
  from=$(size) || fail "operator: the audit log's size"
  lines=$(wc -l <lisecd.log)
  if [ "$how" = lose ]; then
    kill "${APID[$n]}"
    wait "${APID[$n]}" 2>/dev/null || true
    for _ in $(seq 1 200); do
      entries "$from" >"$how-$n.rec"
      show "$n" | jq -e '.lisec.trust == "untrusted:overdue"' >/dev/null &&
        grep -q "attest.finding .*$h" "$how-$n.rec" && break
      sleep 0.1
    done
    grep -q "attest.finding .*$h" "$how-$n.rec" || fail "host $n: no finding in the clear: $(show "$n")"
  else
    run_agent "$n"
    wait_trusted "$n" "agent-$n.log"
  fi
  for _ in $(seq 1 100); do
    [ -n "$(announced "$from")" ] && break
    sleep 0.1
  done
  holds "$4"
  announced "$from" >"$how-$n.said"
  seen "$from" >"$how-$n.seen"
  tail -n +"$((lines + 1))" lisecd.log >"$how-$n.log"
  task_is "$3"
}

change 1 lose deactivated ""
change 1 regain active 244051234567890
change 2 lose active 244051234567890
change 2 regain active 244051234567890

for how in lose regain; do
  diff "$how-1.seen" "$how-2.seen" >&2 ||
    fail "$how: the auditor reads host 1's (the monitored VM's) entries otherwise than host 2's (the twin's)"
  grep -q '^sealed ' "$how-1.seen" || fail "$how: no sealed entry read: $(cat "$how-1.seen")"
done
pass "each host's loss and regain of trust: the auditor reads the same entries for host 1 as for host 2 (clear actions, seal bits, lengths)"

for f in lose-1 regain-1 lose-2 regain-2; do
  [ "$(wc -l <"$f.said")" = 1 ] || fail "$f: not one announcement: $(cat "$f.said")"
  ! grep -q 'X1: a task changed state' "$f.log" || fail "$f: lisecd's log tells a task changed: $(grep 'X1:' "$f.log")"
done
grep -q '^1 X1 step(s) after [0-9]* model change(s): deactivate t-1 on poi-1$' lose-1.said ||
  fail "li-admin: host 1's loss does not announce t-1's deactivation: $(cat lose-1.said)"
grep -q '^1 X1 step(s) after [0-9]* model change(s): activate t-1 on poi-1$' regain-1.said ||
  fail "li-admin: host 1's regain does not announce t-1's activation: $(cat regain-1.said)"
for f in lose-2 regain-2; do
  grep -q '^0 X1 step(s) after [0-9]* model change(s)$' "$f.said" || fail "li-admin: $f announces steps: $(cat "$f.said")"
done
pass "one sealed announcement per change; li-admin reads t-1 deactivated on poi-1 after host 1's loss and activated after its regain, nothing for host 2's"

# More sends than one announcement holds: 24 targets more, of 120-byte ids
# (each named in about 140 bytes, 5 or 6 a record), and host 1 loses its
# trust again. Every send is named once, in records that follow the first,
# each one seal bucket long; every task leaves the NE.
long=$(printf 'x%.0s' $(seq 1 110))
want="244051234567890"
for i in $(seq 10 33); do
  out=$(post li-admin /v1/targets "{\"id\":\"t-$long-$i\",\"authorisation\":\"li-1\",\"identifiers\":[{\"kind\":\"imsi\",\"value\":\"2440500000000$i\"}]}")
  [ "$(echo "$out" | tail -n1)" = 201 ] || fail "li-admin: adding target $i: $out"
  want="$want 2440500000000$i"
done
want=$(echo "$want" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')
holds "$want"
from=$(size) || fail "operator: the audit log's size"
kill "${APID[1]}"
wait "${APID[1]}" 2>/dev/null || true
holds ""
opened "$from" >many.json
jq -r '.entries[] | select(.sealed and .action == "x1.reconcile") | .reasons | join(" ")' many.json >many.said
n=$(wc -l <many.said)
[ "$n" -ge 2 ] && head -n1 many.said | grep -q '^25 X1 step(s) after [0-9]* model change(s): .*; and [0-9]* more, named in the records that follow$' ||
  fail "many: the sends are not named in more than one record: $(cat many.said)"
if tail -n +2 many.said | grep -qv '^continued: '; then fail "many: a further record is not a continuation: $(cat many.said)"; fi
sed -e 's/^[^:]*: //' -e 's/; and [0-9]* more.*$//' many.said | tr ';' '\n' | sed 's/^ *//' | sort >many.named
{
  echo "deactivate t-1 on poi-1"
  for i in $(seq 10 33); do echo "deactivate t-$long-$i on poi-1"; done
} | sort >many.want
diff many.want many.named >&2 || fail "many: the announcements do not name each send once"
jq -r '.entries[] | select(.sealed and .action == "x1.reconcile") | .index' many.json >many.idx
as auditor "$LISECD_URL/v1/audit/entries?from=$from&count=10000" |
  jq -r --slurpfile ix <(jq -s . many.idx) '.entries[] | select(.index as $i | $ix[0] | index($i)) | .data' |
  while read -r d; do echo "$d" | base64 -d | wc -c; done | sort -u >many.len
[ "$(cat many.len)" = 1073 ] || fail "many: the announcements are not one bucket each: $(cat many.len)"
jq -e '[.entries[] | select(.sealed and (.action == "x1.deactivate" or .action == "x1.activate"))] | length == 0' many.json >/dev/null ||
  fail "many: a send had a record of its own: $(jq -c '.entries[] | select(.action == "x1.deactivate")' many.json)"
pass "25 sends after one trust change: named once each in $n announcements of 1,073 bytes, none with a record of its own; the NE holds none"

stop_lisecd
if grep -E 'Sanitizer|runtime error' lisecd.log ne.log; then fail "sanitizer report"; fi
echo "x1_confid_trust: all passed"
