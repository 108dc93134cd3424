#!/usr/bin/env bash
# A host's loss of trust, and its de-enrolment, tell no role but li-admin
# whether the host runs a VM an LI names (TR 103 308 §4.1). A real lisecd
# with an [attest] quarantine_command; host 1 runs vm-target, which an LI
# monitors, host 2 runs vm-twin, which is vm-target in every declared
# respect but no LI names; each host is attested by its own swtpm and
# lisec-agent. As the operator reads the log:
# - each host's agent stops and the host turns untrusted:overdue: the two
#   hosts get the same records (as many sealed and each as long, the same
#   in the clear, ids aside, none naming the LI), the command runs for both
#   with the same arguments and environment, the operator's metrics change
#   alike, and the auditor's and the operator's compliance reports (rows,
#   counts, "compliant", "redacted") and the clear record of each read
#   ("N violations") are the same before and after either host's loss: the
#   LI rows are li-admin's only (docs/model.md, "What each role sees");
# - each host is de-enrolled: both are allowed, with the same records.
# li-admin opens the sealed finding of each: host 1's names the LI, host
# 2's says it touches none. A VM declared "li" still keeps its host from
# being de-enrolled (attest_end) and is handed to the command (attest_api).
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/twins.sh"
source "$src/tests/integration/lib/li_topology.sh"
cd "$work"
two_hosts
# The command keeps its arguments and, per host, its environment.
cat >quarantine.sh <<'SH'
#!/bin/sh
echo "$*" >>"$(dirname "$0")/quarantined.txt"
env | sort >"$(dirname "$0")/quarantine-env.$1"
SH
chmod +x quarantine.sh
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "interval_s = 4" "grace_s = 1" "check_ms = 200" "quarantine_command = $work/quarantine.sh" \
  "[audit]" "li_admin_key = $work/li.pub" "[api]" "refusal_rate = 0"

h1=${HID[1]} h2=${HID[2]}
for h in "$h1" "$h2" host-c; do model_put operator host "{\"id\":\"$h\",\"protection\":\"li\"}"; done
model_put operator hypervisor "{\"id\":\"hv-1\",\"host\":\"$h1\"}"
model_put operator hypervisor "{\"id\":\"hv-2\",\"host\":\"$h2\"}"
model_put operator hypervisor '{"id":"hv-c","host":"host-c"}'
# lib/li_topology.sh's LI li-fi-1, its VMs unpaired on host-c, which never
# attests, and no connection: vm-target (host 1) reads as vm-twin (host 2).
li_topology host= hv=hv-c target_hv=hv-1 paired=no paths= li=li-fi-1
model_put operator vm '{"id":"vm-twin","hypervisor":"hv-2","sensitivity":"general","domain":"tenant"}'

two_hosts_trusted

# sizes FROM: index, sealed and length in bytes of each audit entry from
# FROM on, as the operator (or an auditor) reads them.
sizes() {
  as operator "$LISECD_URL/v1/audit/entries?from=$1&count=10000" |
    python3 -c '
import base64, json, sys
for e in json.load(sys.stdin)["entries"]:
    print(e["index"], str(e["sealed"]).lower(), len(base64.b64decode(e["data"])))
' ||
    fail "operator: the audit entries from $1 could not be read"
}
# recsizes REC FROM: the lengths of REC's entries (sizes) into REC.sizes.
recsizes() {
  sizes "$2" | awk 'NR == FNR { k[$1]; next } ($1 in k)' "$1" - >"$1.sizes"
  [ "$(wc -l <"$1.sizes")" = "$(wc -l <"$1")" ] || fail "$1: not every entry's length was read"
}
# seen N: what roles other than li-admin read of the platform, as "key
# count" lines: the operator's metrics (the platform's gauges and counters;
# li_confid_log leaves out the same, and the appraisals and the TPM clock
# count the agents' timing) and the auditor's compliance report, each row
# as its requirement, subject and sentence, the counts per requirement,
# "compliant" and "redacted". Every row: the LI rules' are li-admin's only.
seen() {
  as operator "$LISECD_URL/metrics" | grep -v '^#' |
    grep -Ev '^lisec_(http|tls|connections|uptime|audit_checkpoint_lag|attest_appraisal|audit_entries|audit_unsigned_entries|time_)' ||
    fail "operator: /metrics"
  as auditor "$LISECD_URL/v1/compliance" | jq -r '
    (.violations[] | "row \(.requirement) \(.subject) \(.sentence)" | gsub(" "; "_") | . + " 1"),
    (.counts | to_entries[] | "count \(.key) \(.value)"),
    "compliant_\(.compliant) 1", "redacted_\(.redacted) 1"' ||
    fail "auditor: /v1/compliance"
}
# report: the auditor's and the operator's compliance reports whole (but
# their time and audit index, which each read has its own), each followed
# by the clear record of that read as the operator reads it: its action,
# outcome and "N violations".
report() {
  local role idx
  for role in auditor operator; do
    as "$role" "$LISECD_URL/v1/compliance" >report.json || fail "$role: /v1/compliance"
    echo "## $role"
    jq -S 'del(.time, .audit_index)' report.json
    idx=$(jq -er .audit_index report.json) || fail "$role: no audit_index: $(cat report.json)"
    entries "$idx" | awk -v i="$idx" '$1 == i' >record.txt
    grep -q "^$idx false .*compliance\.read" record.txt || fail "$role: read $idx is not a clear compliance.read: $(cat record.txt)"
    grep -o 'compliance\.read.*' record.txt | grep -o ' ok \| [0-9]* violations' | tr -d '\n'
    echo
  done
}
# delta BEFORE AFTER: the keys whose counts differ, with the difference.
delta() {
  python3 - "$1" "$2" <<'PY'
import collections, sys
def read(path):
    c = collections.Counter()
    for line in open(path):
        k, _, v = line.rstrip("\n").rpartition(" ")
        try: c[k] += float(v)
        except ValueError: c[line.strip()] += 1
    return c
a, b = read(sys.argv[1]), read(sys.argv[2])
for k in sorted(set(a) | set(b)):
    if a[k] != b[k]: print(k, b[k] - a[k])
PY
}
# shape REC N: what the operator reads of host N in REC: the number of
# sealed records and their lengths (from REC.sizes), then each clear record
# about the host from its action on, the host's id (whole or cut to 16
# digits) and its AK's digest left out; not a good appraisal, which the
# agent's last quote before it stopped may still add (its timing, not
# what the host runs).
shape() {
  local h=${HID[$2]}
  echo "sealed $(awk '$2 == "true"' "$1" | wc -l)"
  awk '$2 == "true" { print "sealed entry of " $3 " bytes" }' "$1.sizes"
  grep -e "$h" -e "${h:0:16}" "$1" | grep -o 'attest\..*' | grep -v '^attest\.appraise | ok ' |
    sed -e "s/$h/HOST/g" -e "s/${h:0:16}/HOST/g" -e 's/AK binding [0-9a-f]*/AK binding AK/'
}
# alike A B: hosts 1 and 2 read the same in records A and B, none naming the LI.
alike() {
  shape "$1" 1 >"$1.shape"
  shape "$2" 2 >"$2.shape"
  diff "$1.shape" "$2.shape" >&2 || fail "host 1 (the monitored VM's) reads otherwise than host 2 (the twin's)"
  ! grep -q 'li-fi-\|vm-target\|vm-twin\|LI authorisation' "$1" "$2" ||
    fail "a record in the clear names the LI or what it monitors: $(cat "$1" "$2")"
}
# opened FROM: the entries from FROM on as li-admin reads them, sealed ones opened.
opened() {
  lisec --server "$LISECD_URL" --pki "$pki" --role li-admin audit read --li-key li.key --from "$1" ||
    fail "li-admin: lisec audit read --li-key"
}

# ---- loss of trust ------------------------------------------------------------
# lose N: host N's agent stops; waits until the host is overdue and the
# command's run is recorded; its records into lose-N.rec, from before.
lose() {
  local n=$1 h=${HID[$1]} before
  report >"lose-$n.report0"
  seen "$n" | sed "s/$h/HOST/g; s/${h:0:16}/HOST/g" >"lose-$n.seen0"
  before=$(size) || fail "operator: the audit log's size"
  echo "$before" >"lose-$n.from"
  kill "${APID[$n]}"
  wait "${APID[$n]}" 2>/dev/null || true
  for _ in $(seq 1 200); do
    entries "$before" >"lose-$n.rec"
    grep -q "attest.quarantine .*$h" "lose-$n.rec" && break
    sleep 0.1
  done
  show "$n" | jq -e '.lisec.trust == "untrusted:overdue"' >/dev/null || fail "host $n is not untrusted:overdue: $(show "$n")"
  grep -q "attest.quarantine .*$h" "lose-$n.rec" || fail "host $n: no attest.quarantine record: $(cat "lose-$n.rec")"
  recsizes "lose-$n.rec" "$before"
  seen "$n" | sed "s/$h/HOST/g; s/${h:0:16}/HOST/g" >"lose-$n.seen1"
  delta "lose-$n.seen0" "lose-$n.seen1" >"lose-$n.delta"
  report >"lose-$n.report1"
  diff "lose-$n.report0" "lose-$n.report1" >&2 ||
    fail "host $n's loss of trust moved a non-LI role's compliance report or its clear record"
}
lose 1
lose 2
alike lose-1.rec lose-2.rec
grep -q 'attest.finding .*quarantine command run' lose-1.rec || fail "host 1: no finding in the clear: $(cat lose-1.rec)"
[ "$(grep -c "^$h1 " quarantined.txt)" = 1 ] && [ "$(grep -c "^$h2 " quarantined.txt)" = 1 ] ||
  fail "the quarantine command did not run once for each host: $(cat quarantined.txt)"
[ "$(grep "^$h1 " quarantined.txt | sed "s/$h1/HOST/g")" = "$(grep "^$h2 " quarantined.txt | sed "s/$h2/HOST/g")" ] ||
  fail "the quarantine command got other arguments for host 1 than for host 2: $(cat quarantined.txt)"
cmp -s "quarantine-env.$h1" "quarantine-env.$h2" ||
  fail "the quarantine command's environment differs: $(diff "quarantine-env.$h1" "quarantine-env.$h2")"
diff lose-1.delta lose-2.delta >&2 || fail "the operator's metrics or the auditor's compliance moved otherwise for host 1 than for host 2"
grep -q '^lisec_hosts_overdue 1' lose-1.delta || fail "host 1's loss of trust is not in the metrics: $(cat lose-1.delta)"
grep -q '"redacted": true' lose-1.report0 && grep -q '^ ok .* violations$' lose-1.report0 ||
  fail "the reports or their records read otherwise than expected: $(cat lose-1.report0)"
pass "host 1 (monitored VM) and host 2 (twin) lose their trust: the same records, as many sealed and as long, the same quarantine command and environment and metrics; the auditor's and operator's compliance reports, counts, compliant, redacted and clear records as before"

opened "$(cat lose-1.from)" >lose-1.opened
grep -q "reason: [^ ]*: finding: host ${h1:0:16}.. lost its trust.*touches the LI authorisations li-fi-1" lose-1.opened ||
  fail "li-admin: host 1's sealed finding does not name li-fi-1: $(cat lose-1.opened)"
opened "$(cat lose-2.from)" >lose-2.opened
grep -q "reason: [^ ]*: finding: host ${h2:0:16}.. lost its trust.*touches no LI authorisation" lose-2.opened ||
  fail "li-admin: host 2's sealed finding does not say it touches none: $(cat lose-2.opened)"
pass "li-admin opens each sealed finding: host 1 touches li-fi-1, host 2 none"

# ---- de-enrolment ------------------------------------------------------------
for n in 1 2; do
  before=$(size) || fail "operator: the audit log's size"
  echo "$before" >"end-$n.from"
  out=$(as operator -X DELETE -w '\n%{http_code}\n' "$LISECD_URL/v1/hosts/${HID[$n]}")
  [ "$(echo "$out" | tail -n1)" = 200 ] || fail "operator: de-enrolling host $n: $out"
  echo "$out" | sed '$d' | jq -e '.trust == "untrusted:deenrolled"' >/dev/null || fail "host $n: $out"
  entries "$before" >"end-$n.rec"
  recsizes "end-$n.rec" "$before"
done
alike end-1.rec end-2.rec
grep -q 'attest.deenrol .* ok' end-1.rec || fail "host 1's de-enrolment is not in the clear: $(cat end-1.rec)"
opened "$(cat end-1.from)" | grep -q "reason: [^ ]*: finding: host ${h1:0:16}.. was de-enrolled.*touches the LI authorisations li-fi-1" ||
  fail "li-admin: host 1's de-enrolment finding does not name li-fi-1"
opened "$(cat end-2.from)" | grep -q "reason: [^ ]*: finding: host ${h2:0:16}.. was de-enrolled.*touches no LI authorisation" ||
  fail "li-admin: host 2's de-enrolment finding does not say it touches none"
pass "both hosts are de-enrolled alike, the same records; li-admin reads that host 1's touched li-fi-1"

stop_lisecd
if grep -E 'Sanitizer|runtime error' lisecd.log; then fail "lisecd: sanitizer report"; fi
echo "li_confid_trust: all passed"
