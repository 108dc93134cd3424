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
source "$src/tests/integration/lib/x1_confid.sh"
cd "$work"
two_hosts
lisec pki issue "$pki" admf operator lisec-admf >/dev/null || fail "lisec pki issue admf"
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >pin

confid_ne

start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "interval_s = 4" "grace_s = 1" "check_ms = 200" "[audit]" "li_admin_key = $work/li.pub" \
  "[keys]" "x1_key_dir = $pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" \
  "pin_file = $work/pin" "key_label = lisec-kek" "[model]" "allow_declared_trust = true" \
  "[x1]" "compliance_record_s = 86400" "[api]" "refusal_rate = 0"

h1=${HID[1]} h2=${HID[2]}
for h in "$h1" "$h2"; do model_put operator host "{\"id\":\"$h\",\"protection\":\"li\"}"; done
# lib/li_topology.sh's LI li-1, its LI and storage VMs on hel-1 (declared
# trusted in FI), its monitored VM vm-target on host 1; vm-twin on host 2.
confid_topology "$h1" "$h2"

two_hosts_trusted

holds 244051234567890
task_is active
pass "poi-1 holds t-1 while li-1 is compliant, both hosts trusted"

# seen (lib/x1_confid.sh) leaves out the clock's records and good
# appraisals.
confid_leave='.actor == "lisecd/admf" and (.action == "model.li.read" or .action == "compliance.read")'
confid_skip='attest\.appraise ok$'

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
  confid_after "$how-$n" "$from" "$lines" "$3" "$4"
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
