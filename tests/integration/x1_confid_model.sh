#!/usr/bin/env bash
# With X1 running, the operator's writes to the trust model tell no reader
# of the audit log whether an LI's tasks changed with them, nor does a
# restart of lisecd between the ADMF's announcement and its sends
# (TR 103 308 §4.1; docs/audit.md; announce in src/ctl/tasks.c). A real
# lisecd with the LI administration's key, its KEK in SoftHSM2, and a real
# lisec-ne as the NE poi-1 running as the LI VM vm-li, which carries target
# t-1 of LI li-1 (lib/li_topology.sh, the LI and storage VMs on hel-1).
# Host h-1 runs vm-target, which li-1 monitors, host h-2 runs vm-twin, which
# is vm-target in every declared respect but no LI names; both are declared
# trusted in FI ([model] allow_declared_trust, as x1_admf does: a host that
# attests has its location from attestation, never from the operator).
# x1_confid_trust does the same for attested trust changes.
#  1. In turn the operator moves h-1 out of the LI's jurisdiction (its
#     declared location SE: R1 fails for li-1) and back, then h-2 the same.
#     (A host's declared trust is written the same way, through the same
#     hook; the monitored VM's host's trust is no rule of li-1's.)
#     After each write, what the auditor reads of the entries it brought
#     (clear actions and outcomes, seal bits, lengths; the ADMF's clocked
#     reads left out) is the same for h-1 as for h-2; exactly one sealed
#     x1.reconcile "tasks after the trust model changed" follows, which
#     li-admin opens: "deactivate t-1 on poi-1" and "activate t-1 on
#     poi-1" for h-1's, nothing for h-2's; the NE's task follows.
#  2. A burst of 20 operator writes (vm-twin's declared domain, back and
#     forth) makes at most one announcement a second, not one a write.
#  3. lisecd is stopped after an announcement named t-1's deactivation and
#     before it went out (LISEC_TEST_X1_ANNOUNCE_HOLD holds the pass), and
#     started again: the NE still held t-1 meanwhile; after the restart the
#     first pass announces and names it, and it goes out with no record of
#     its own. The same with h-2: its restart's first pass names nothing.
#  4. Restarted with [x1] announce_quiet_ms and announce_settle_max_ms at
#     5000, such writes for 1.5 s settle into one announcement that counts
#     all of them (at the defaults, 1 s at most, the first would count
#     fewer): the settings are read.
# Before: the operator's writes on h-1 brought sealed x1.deactivate and
# x1.activate records that h-2's did not, and no announcement; the send
# named before the restart had its own sealed x1.deactivate after it.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/twins.sh"
source "$src/tests/integration/lib/li_topology.sh"
source "$src/tests/integration/lib/x1_confid.sh"
cd "$work"
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null || fail "lisec pki issue admf"
lisec audit li-keygen li.key li.pub >/dev/null || fail "lisec audit li-keygen"
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >pin

confid_ne

hold=$work/hold # while it exists, a pass that announced sends nothing (a test hook)
lisecd_env=(env "LISEC_TEST_X1_ANNOUNCE_HOLD=$hold")
up() {
  start_lisecd "$pki" "[audit]" "li_admin_key = $work/li.pub" \
    "[keys]" "x1_key_dir = $pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" \
    "pin_file = $work/pin" "key_label = lisec-kek" "[model]" "allow_declared_trust = true" \
    "[x1]" "compliance_record_s = 86400" "${x1_settle[@]}" "[api]" "refusal_rate = 0"
}
x1_settle=() # [x1] announce_quiet_ms and announce_settle_max_ms: their defaults until step 4
up

# host_json N TRUST COUNTRY: host h-N as the operator declares it.
host_json() {
  printf '{"id":"h-%s","trust":"%s","protection":"li","location":{"country":"%s","source":"administrative"}}' "$1" "$2" "$3"
}
for n in 1 2; do model_put operator host "$(host_json "$n" trusted FI)"; done
confid_topology h-1 h-2

holds 244051234567890
task_is active
pass "poi-1 holds t-1 while li-1 is compliant, both hosts trusted in FI"

# seen (lib/x1_confid.sh) leaves out the ADMF's clocked reads and
# li-admin's reads of the log (opened) and of the tasks, which this script
# makes.
confid_leave='(.actor == "lisecd/admf" and (.action == "model.li.read" or .action == "compliance.read")) or
  .action == "audit.read" or .action == "x1.task.list"'
confid_skip='audit\.read '

# write NAME N TRUST COUNTRY STATE HOLDS: the operator declares host h-N
# TRUST in COUNTRY; then until the ADMF's announcement is in the log (10 s
# at most: before this change there was none) and the NE holds HOLDS. What
# the auditor reads into NAME-N.seen, the announcements into NAME-N.said,
# lisecd's log meanwhile into NAME-N.log; then t-1 on poi-1 must be STATE.
write() {
  local name=$1 n=$2 from lines out
  from=$(size) || fail "operator: the audit log's size"
  lines=$(wc -l <lisecd.log)
  out=$(as operator -X PUT -H 'Content-Type: application/json' -d "$(host_json "$n" "$3" "$4")" \
    -w '\n%{http_code}\n' "$LISECD_URL/v1/model/host/h-$n")
  [ "$(echo "$out" | tail -n1)" = 200 ] || fail "operator: PUT h-$n: $out"
  confid_after "$name-$n" "$from" "$lines" "$5" "$6"
}

write out 1 trusted SE deactivated ""
write in 1 trusted FI active 244051234567890
write out 2 trusted SE active 244051234567890
write in 2 trusted FI active 244051234567890

for name in out in; do
  diff "$name-1.seen" "$name-2.seen" >&2 ||
    fail "$name: the auditor reads h-1's (the monitored VM's host) entries otherwise than h-2's (the twin's)"
  grep -q '^sealed ' "$name-1.seen" || fail "$name: no sealed entry read: $(cat "$name-1.seen")"
  for n in 1 2; do
    [ "$(wc -l <"$name-$n.said")" = 1 ] || fail "$name-$n: not one announcement: $(cat "$name-$n.said")"
    ! grep -q 'X1: a task changed state' "$name-$n.log" || fail "$name-$n: lisecd's log tells a task changed"
  done
done
pass "the operator's writes of each host's location: the auditor reads the same entries for h-1 as for h-2 (clear actions, seal bits, lengths), one announcement each"

grep -q '^1 X1 step(s) after [0-9]* model change(s): deactivate t-1 on poi-1$' out-1.said ||
  fail "li-admin: h-1 out of FI does not announce t-1's deactivation: $(cat out-1.said)"
grep -q '^1 X1 step(s) after [0-9]* model change(s): activate t-1 on poi-1$' in-1.said ||
  fail "li-admin: h-1 back in FI does not announce t-1's activation: $(cat in-1.said)"
for name in out in; do
  grep -q '^0 X1 step(s) after [0-9]* model change(s)$' "$name-2.said" || fail "li-admin: h-2 $name announces steps: $(cat "$name-2.said")"
done
pass "li-admin reads t-1 deactivated and activated in h-1's announcements, nothing in h-2's"

# 2. A burst: 20 writes of vm-twin's domain, back and forth, as fast as
# the API takes them; the announcements settle into one, or one a second
# at most while the burst lasts (a loaded machine paces the writes).
from=$(size) || fail "operator: the audit log's size"
began=$(date +%s)
for i in $(seq 1 20); do
  d=$([ $((i % 2)) = 1 ] && echo tenant2 || echo tenant)
  out=$(as operator -X PUT -H 'Content-Type: application/json' -w '\n%{http_code}\n' \
    -d "{\"id\":\"vm-twin\",\"hypervisor\":\"hv-2\",\"sensitivity\":\"general\",\"domain\":\"$d\"}" \
    "$LISECD_URL/v1/model/vm/vm-twin")
  [ "$(echo "$out" | tail -n1)" = 200 ] || fail "operator: PUT vm-twin: $out"
done
lasted=$(($(date +%s) - began + 1))
for _ in $(seq 1 50); do
  [ -n "$(announced "$from")" ] && break
  sleep 0.1
done
sleep_until=$(($(date +%s) + 3)) # settled: no change for 3 s, past the longest wait (1 s)
while [ "$(date +%s)" -lt "$sleep_until" ]; do sleep 0.2; done
burst=$(announced "$from" | wc -l)
[ "$burst" -ge 1 ] && [ "$burst" -le $((lasted + 1)) ] ||
  fail "a burst of 20 writes in ${lasted} s made $burst announcements: $(announced "$from")"
pass "a burst of 20 operator writes in ${lasted} s: $burst announcement(s)"

# 3. lisecd stopped between an announcement and its send, and started again.
# restart NAME N: the hold in place, the operator moves h-N out of FI; once
# the announcement is written, lisecd stops and starts again without the
# hold. NAME.before: the announcements before the restart; from: the
# audit log's size just before it.
restart() {
  local name=$1 n=$2 from out
  touch "$hold"
  from=$(size) || fail "operator: the audit log's size"
  out=$(as operator -X PUT -H 'Content-Type: application/json' -d "$(host_json "$n" trusted SE)" \
    -w '\n%{http_code}\n' "$LISECD_URL/v1/model/host/h-$n")
  [ "$(echo "$out" | tail -n1)" = 200 ] || fail "operator: PUT h-$n: $out"
  for _ in $(seq 1 100); do
    grep -q 'test hook: the sends announced are held' lisecd.log && [ -n "$(announced "$from")" ] && break
    sleep 0.1
  done
  announced "$from" >"$name.before"
  from=$(size) || fail "operator: the audit log's size"
  stop_clean
  [ "$(ne_holds)" = 244051234567890 ] || fail "$name: the NE's task went out before the restart"
  rm -f "$hold"
  mv lisecd.log "$name.lisecd.log"
  up
}
restart rs1 1
holds ""
task_is deactivated
grep -q '^1 X1 step(s) after [0-9]* model change(s): deactivate t-1 on poi-1$' rs1.before ||
  fail "rs1: the announcement before the restart does not name t-1's deactivation: $(cat rs1.before)"
opened "$from" >rs1.json
jq -r '.entries[] | select(.sealed and .action == "x1.reconcile" and .subjects == ["tasks after the trust model changed"]) | .reasons | join(" ")' rs1.json >rs1.after
grep -q '^1 X1 step(s) after 1 model change(s): deactivate t-1 on poi-1$' rs1.after ||
  fail "rs1: the first pass after the restart does not name t-1's deactivation: $(cat rs1.after)"
jq -e '[.entries[] | select(.action == "x1.deactivate" or .action == "x1.activate")] | length == 0' rs1.json >/dev/null ||
  fail "rs1: the send after the restart had a record of its own: $(jq -c '.entries[] | select(.action == "x1.deactivate")' rs1.json)"
pass "lisecd restarted between an announcement and its send: the NE held t-1 meanwhile; the first pass after the start names it again, and it has no record of its own"

# h-1 back in FI (t-1 back on the NE), then the same for h-2: its first pass
# after the restart names nothing.
write back 1 trusted FI active 244051234567890
restart rs2 2
for _ in $(seq 1 100); do
  [ -n "$(announced "$from")" ] && break
  sleep 0.1
done
grep -q '^0 X1 step(s) after [0-9]* model change(s)$' rs2.before || fail "rs2: announced before the restart: $(cat rs2.before)"
announced "$from" >rs2.after
grep -q '^0 X1 step(s) after 1 model change(s)$' rs2.after || fail "rs2: the first pass after the restart: $(cat rs2.after)"
holds 244051234567890
task_is active
pass "the same with h-2: the first pass after the restart announces, naming nothing; the NE keeps t-1"

# 4. [x1] announce_quiet_ms and announce_settle_max_ms are read: lisecd
# restarted with both at 5000 (their most); the operator writes vm-twin's
# domain back and forth until 1.5 s have passed (at most 200 writes). At
# 5000 those writes settle into one announcement that counts every one of
# them. At the defaults an announcement comes at most 1 s after a burst's
# first change, so the first one would count fewer. The start counts as a
# change: its announcement (5 s after the start) comes first.
from=$(size) || fail "operator: the audit log's size"
stop_clean
mv lisecd.log rs3.lisecd.log
x1_settle=("announce_quiet_ms = 5000" "announce_settle_max_ms = 5000")
up
for _ in $(seq 1 200); do
  [ -n "$(announced "$from")" ] && break
  sleep 0.1
done
grep -q '^0 X1 step(s) after 1 model change(s)$' <<<"$(announced "$from")" ||
  fail "settle 5000: the start's announcement: $(announced "$from")"
# settled: no entry for 6 s, past the 5 s quiet, so that what lisecd
# changes by itself after its start is announced before the writes begin
# (bounded: 60 s)
last=$(size) || fail "operator: the audit log's size"
since=$(date +%s%3N)
for _ in $(seq 1 600); do
  [ $(($(date +%s%3N) - since)) -ge 6000 ] && break
  now=$(size) || fail "operator: the audit log's size"
  [ "$now" != "$last" ] && last=$now since=$(date +%s%3N)
  sleep 0.1
done
from=$(size) || fail "operator: the audit log's size"
began=$(date +%s%3N) n=0
while [ "$n" -lt 200 ] && [ $(($(date +%s%3N) - began)) -lt 1500 ]; do
  n=$((n + 1))
  d=$([ $((n % 2)) = 1 ] && echo tenant2 || echo tenant)
  out=$(as operator -X PUT -H 'Content-Type: application/json' -w '\n%{http_code}\n' \
    -d "{\"id\":\"vm-twin\",\"hypervisor\":\"hv-2\",\"sensitivity\":\"general\",\"domain\":\"$d\"}" \
    "$LISECD_URL/v1/model/vm/vm-twin")
  [ "$(echo "$out" | tail -n1)" = 200 ] || fail "operator: PUT vm-twin: $out"
done
lasted=$(($(date +%s%3N) - began))
for _ in $(seq 1 200); do
  [ -n "$(announced "$from")" ] && break
  sleep 0.1
done
first=$(announced "$from" | head -n1)
if [ "$lasted" -lt 4500 ]; then
  # every write came within the quiet and the maximum of the first
  [ "$first" = "0 X1 step(s) after $n model change(s)" ] ||
    fail "settle 5000: $n writes in $lasted ms did not settle into one announcement: $(announced "$from")"
  pass "[x1] announce_quiet_ms and announce_settle_max_ms at 5000: $n operator writes in $lasted ms settle into one announcement counting all $n (at the defaults the first comes 1 s after the first write)"
else
  # a write took seconds: this machine cannot tell, the first still counts several
  grep -q '^0 X1 step(s) after \([2-9]\|[1-9][0-9]\+\) model change(s)$' <<<"$first" ||
    fail "settle 5000: $n writes in $lasted ms: $(announced "$from")"
  pass "[x1] announce settings at 5000: $n writes took $lasted ms (past the 5 s quiet): only checked that the first announcement counts several ($first)"
fi

stop_clean
if grep -E 'Sanitizer|runtime error' ne.log; then fail "sanitizer report"; fi
echo "x1_confid_model: all passed"
