#!/usr/bin/env bash
# One NE's X1 reports cannot starve the ADMF loop or fill the audit log
# (src/ctl/tasks.c, src/ctl/x1_reports.c). Two real lisec-ne, poi-1 and
# poi-2, each the LI VM of its own LI (poi-2 behind a stand-in that answers
# 200 ms late, as a distant NE may). While poi-1's certificate sends
# ReportTaskIssue and ReportNEIssue to /v1/x1/admf, 2000 a second (4
# connections, 16 messages a request), a target of poi-2's LI is added:
# its ActivateTask must reach poi-2 before poi-1 has sent MAX reports.
# Before, each ReportTaskIssue took the loop's lock, which ends a pass
# that waits for an NE, and woke the loop for a full check of every NE, so
# passes ended at their first exchange with poi-2 and its task came only
# when a pass happened to start unwoken, one exchange at a time: after MAX
# reports (all recorded) or, at best, 15 s of them.
# Then: the reports past [x1] report_burst_per_ne at report_rate_per_ne are
# refused with ErrorResponse 1000 naming TR103308-5.5, counted
# (lisec_x1_reports_refused_total, the NE's status) and logged once for the
# flood, naming no NE; those accepted are recorded sealed and the task shows
# the issue; the NE's next report, once its bucket has refilled, is oK.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_topology.sh"
source "$src/tests/integration/lib/x1_site.sh"
x1_site
# MAX reports at PACE a second: 20 s of flood, in which lisecd's loop has
# time for several passes (each waits 200 ms for every answer of poi-2)
MAX=40000 PACE=2000
RATE=5 BURST=20 # the defaults of [x1] report_rate_per_ne, report_burst_per_ne

ports=$("$src/scripts/test/free-ports" 2)
p1=${ports%%$'\n'*} p2=${ports##*$'\n'}
for i in 1 2; do
  port=$p1
  [ $i = 2 ] && port=$p2
  ne_start "poi-$i" "$port" "$work/ne-$i.json" "$work/ne-$i.log"
done
# poi-2 answers through the stand-in 200 ms late, as a distant NE may
echo slow >"$work/mode"
px=$(free_port)
python3 "$src/tests/integration/x1_admf_ne.py" "$px" "https://localhost:$p2/X1/NE" "$pki/server.crt" \
  "$pki/server.key" "$pki/admf.crt" "$pki/admf.key" "$pki/ca.crt" "$work/mode" "$work/sent" 2>>"$work/proxy.log" &
cleanup_hooks+=("kill $!")
wait_for 50 bash -c "echo >/dev/tcp/127.0.0.1/$px" 2>/dev/null || fail "the stand-in does not listen"

start_lisecd "$pki" "${x1_lisecd[@]}"

# Two LIs of lib/li_topology.sh's kind, each with its own LI VM and NE, on one
# trusted host and one storage VM.
li_topology li=li-1 li_vm=vm-li-1 storage=st-1 links='c1 g1 cs1 gs1'
li_topology site=no li=li-2 li_vm=vm-li-2 storage=st-2 links='c2 g2 cs2 gs2'
ok 200 li-admin POST /v1/x1/nes "$(li_ne_json poi-1 "$p1" vm-li-1 192.0.2.201)" >/dev/null
ok 200 li-admin POST /v1/x1/nes "$(li_ne_json poi-2 "$px" vm-li-2 192.0.2.202)" >/dev/null
target() { ok 201 li-admin POST /v1/targets "{\"id\":\"$1\",\"authorisation\":\"$2\",\"identifiers\":[{\"kind\":\"ipv4\",\"value\":\"$3\"}]}" >/dev/null; }
holds() { # NE VALUE: lisec-ne poi-NE holds a task with this target
  python3 -c "import json,sys;sys.exit(0 if '$2' in [v['value'] for t in json.load(open('$work/ne-$1.json'))['tasks'] for v in t['targets']] else 1)" 2>/dev/null
}
target t-1 li-1 192.0.2.1
wait_for 300 holds 1 192.0.2.1 || fail "poi-1 never got its task: $(ok 200 li-admin GET /v1/tasks)"
XID=$(ok 200 li-admin GET /v1/tasks | python3 -c "import json,sys;print([t['xid'] for t in json.load(sys.stdin)['tasks'] if t['ne']=='poi-1'][0])")
log_mark=$(wc -l <"$work/lisecd.log")

# ---- the flood, and poi-2's task ---------------------------------------------
python3 "$src/tests/integration/x1_report_flood.py" "$LISECD_URL" "$pki/poi-1.crt" "$pki/poi-1.key" "$pki/ca.crt" \
  poi-1 lisec-admf "$XID" "$work/stop" "$work/flood.json" "$MAX" 300 4 16 "$PACE" 2>"$work/flood.err" &
flood_pid=$!
cleanup_hooks+=("touch $work/stop; wait $flood_pid 2>/dev/null || true")
sent() { cat "$work/flood.json.count" 2>/dev/null || echo 0; }
flooding() { [ "$(sent)" -ge 200 ]; }
wait_for 600 flooding || fail "the flood did not start: $(cat "$work/flood.err")"
target t-2 li-2 192.0.2.2
# until poi-2 holds t-2 or the flood has ended (MAX reports, or 300 s)
got_or_done() { holds 2 192.0.2.2 || [ -e "$work/flood.json" ]; }
wait_for 3000 got_or_done
holds 2 192.0.2.2 && got=yes || got=no
touch "$work/stop"
wait "$flood_pid" || fail "the flood failed: $(cat "$work/flood.err")"
read -r why total ok_n ok_task limited other < <(python3 -c "import json;d=json.load(open('$work/flood.json'))
print(d['why'],d['sent'],d['ok'],d['ok_task'],d['limited'],d['other'])")
[ $got = yes ] && [ "$why" = stopped ] ||
  fail "poi-2 did not get its task while poi-1 sent reports (flood ended: $why after $total reports; $ok_n oK)"
pass "a task for poi-2 reaches it while poi-1 floods lisecd with reports ($total sent by then)"

# ---- the rate limit -------------------------------------------------------------
seconds=$(python3 -c "import json;print(json.load(open('$work/flood.json'))['seconds'])")
[ "$other" = 0 ] || fail "$other answers were neither oK nor the limit's: $(python3 -c "import json;print(json.load(open('$work/flood.json'))['sample'])")"
[ "$limited" -gt 0 ] || fail "no report refused past the limit ($ok_n oK of $total)"
python3 -c "import sys;sys.exit(0 if $ok_n <= $BURST + $RATE * ($seconds + 1) else 1)" ||
  fail "$ok_n reports accepted in $seconds s: more than burst $BURST + $RATE a second"
sample=$(python3 -c "import json;print(json.load(open('$work/flood.json'))['limited_sample'][0])")
grep -q 'report_rate_per_ne' <<<"$sample" && grep -q '<requestMessageType>Report' <<<"$sample" ||
  fail "the refusal does not name the setting and the request's type: $sample"
xmllint --noout --schema "$src/src/x1/etsi-x1-schema/X1-all.xsd" - <<<"$sample" 2>"$work/xmllint.err" ||
  fail "the refusal does not validate: $(cat "$work/xmllint.err")"
metric=$(as li-admin "$LISECD_URL/metrics" | awk '$1=="lisec_x1_reports_refused_total"{print $2}')
[ "$metric" = "$limited" ] || fail "lisec_x1_reports_refused_total is '$metric', the NE was refused $limited"
as operator "$LISECD_URL/metrics" | grep -q lisec_x1_reports_refused && fail "an operator's /metrics shows the X1 count"
status=$(ok 200 li-admin GET /v1/x1/nes/poi-1)
[ "$(jq -r .reports_refused <<<"$status")" = "$limited" ] || fail "poi-1's status does not count the refusals: $status"
[ "$(jq -r .reports_refused <<<"$(ok 200 li-admin GET /v1/x1/nes/poi-2)")" = 0 ] || fail "poi-2 shows refusals"
lisec --server "$LISECD_URL" --pki "$pki" --role li-admin task ne-status poi-1 >"$work/cli.txt" &&
  grep -Eq "^reports refused +$limited \(past \[x1\] report_rate_per_ne; last [0-9]{4}-" "$work/cli.txt" ||
  fail "lisec task ne-status does not show the refusals: $(cat "$work/cli.txt")"
lines=$(tail -n +"$log_mark" "$work/lisecd.log" | grep -c 'report_rate_per_ne' || true)
[ "$lines" -ge 1 ] && [ "$lines" -le 3 ] || fail "the flood was logged $lines times, not once"
tail -n +"$log_mark" "$work/lisecd.log" | grep 'report_rate_per_ne' | grep -q 'poi-1' && fail "the log line names the NE"
pass "past burst $BURST at $RATE a second the reports are refused (1000, TR103308-5.5, schema-valid): $limited of $total, $ok_n oK; counted in /metrics (li-admin) and the NE's status, logged $lines time(s) naming no NE"

# ---- nothing accepted is lost; the NE is heard again ------------------------------
issued() { ok 200 li-admin GET /v1/tasks | jq -e '.tasks[] | select(.ne=="poi-1") | .issue | test("reported .*audit entry [0-9]+ \\(sealed\\)")' >/dev/null; }
wait_for 100 issued || fail "the task does not show the NE's issue: $(ok 200 li-admin GET /v1/tasks)"
holds 1 192.0.2.1 || fail "poi-1 lost its task"
lisec audit read --db "$work/lisec.db" --li-key "$work/li-admin.key" --json >"$work/audit.json" 2>"$work/audit.err" ||
  fail "lisec audit read: $(cat "$work/audit.err")"
recorded=$(jq '[.entries[] | tostring | select(test("x1.issue") and test("flood"))] | length' "$work/audit.json")
[ "$recorded" = "$ok_task" ] || fail "$ok_task ReportTaskIssue answered oK, $recorded recorded"
report() { # -> the answer to one ReportNEIssue from poi-1
  as poi-1 -X POST -H 'Content-Type: application/xml' --data-binary "<?xml version=\"1.0\" encoding=\"UTF-8\"?><X1Request xmlns=\"http://uri.etsi.org/03221/X1/2017/10\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><x1RequestMessage xsi:type=\"ReportNEIssueRequest\"><admfIdentifier>lisec-admf</admfIdentifier><neIdentifier>poi-1</neIdentifier><messageTimestamp>2026-12-06T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version><x1TransactionId>$(python3 -c 'import uuid;print(uuid.uuid4())')</x1TransactionId><typeOfNeIssueMessage>Warning</typeOfNeIssueMessage><description>after the flood</description></x1RequestMessage></X1Request>" "$LISECD_URL/v1/x1/admf"
}
heard() { report | grep -q '<oK>'; }
wait_for 100 heard || fail "poi-1's report is still refused after the flood: $(report)"
ok 200 li-admin GET /v1/x1/nes/poi-1 | jq -e '.ne_issue.text | test("after the flood")' >/dev/null ||
  fail "the report after the flood is not in the NE's status"
pass "the accepted reports are all recorded sealed ($recorded ReportTaskIssue), the task shows the issue, and the NE's report is oK again once its bucket refills"

# ---- the settings ----------------------------------------------------------------
stop_clean
for bad in "report_rate_per_ne = 0" "report_burst_per_ne = 0" "report_queue_max = 0"; do
  printf '[x1]\n%s\n' "$bad" | cat "$work/lisecd.conf" - >"$work/bad.conf"
  rc=0
  timeout 60 "$build/cmd/lisecd/lisecd" -c "$work/bad.conf" >"$work/bad.log" 2>&1 || rc=$?
  [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "${bad%% *}" "$work/bad.log" && ! grep -q 'unknown setting' "$work/bad.log" ||
    fail "'$bad' not refused naming it (exit $rc): $(cat "$work/bad.log")"
done
pass "out-of-range report limits stop the start, naming the setting"
