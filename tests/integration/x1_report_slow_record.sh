#!/usr/bin/env bash
# A ReportTaskIssue whose audit write is slow (an fsync behind a busy disk)
# holds up no ADMF pass (src/ctl/x1_reports.c, src/ctl/tasks.c): the report
# is recorded outside the issue queue's lock, so the loop, which takes that
# lock to empty the queue before each pass (holding its own, which an
# emergency stop needs too), does not wait behind it. Before, the record
# was written under the queue's lock, so one slow audit write, or a queue
# of them from many NEs, each an fsync, held up every pass. The test hook
# LISEC_TEST_X1_ISSUE_HOLD (a LISEC_TEST_HOOKS build) holds a report before
# its audit write while a file exists. One real lisec-ne, poi-1, holds a
# task; its report on that task is held; a second target is added
# meanwhile, and its task must reach poi-1 while the report still waits.
# Then the report is let go: answered oK, and its issue shown on its task.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/li_topology.sh"
source "$src/tests/integration/lib/x1_site.sh"
grep -qs '^LISEC_TEST_HOOKS:BOOL=ON' "$build/CMakeCache.txt" || { echo "SKIP: needs -DLISEC_TEST_HOOKS=ON"; exit 77; }
x1_site
port=$(free_port)
ne_start poi-1 "$port" "$work/ne.json" "$work/ne.log"
hold=$work/hold
export LISEC_TEST_X1_ISSUE_HOLD=$hold
start_lisecd "$pki" "${x1_lisecd[@]}"
unset LISEC_TEST_X1_ISSUE_HOLD
cleanup_hooks+=("rm -f '$hold'") # before lisecd is stopped (hooks run last first)
# lib/li_topology.sh's LI, its LI VM vm-li-1 with storage st-1 (links c1 g1 cs1 gs1), and NE poi-1
li_topology li_vm=vm-li-1 storage=st-1 links='c1 g1 cs1 gs1'
ok 200 li-admin POST /v1/x1/nes "$(li_ne_json poi-1 "$port" vm-li-1 192.0.2.201)" >/dev/null
target() { ok 201 li-admin POST /v1/targets "{\"id\":\"t-$1\",\"authorisation\":\"li-1\",\"identifiers\":[{\"kind\":\"ipv4\",\"value\":\"192.0.2.$1\"}]}" >/dev/null; }
ne_tasks() { python3 -c "import json;print(len(json.load(open('$work/ne.json')).get('tasks', [])))" 2>/dev/null; }
holds() { [ "$(ne_tasks)" = "$1" ]; }
target 1
wait_for 300 holds 1 || fail "poi-1 does not hold t-1's task: $(ok 200 li-admin GET /v1/tasks)"
x1=$(ok 200 li-admin GET /v1/tasks | jq -r '.tasks[] | select(.target=="t-1") | .xid')
msg="<?xml version=\"1.0\" encoding=\"UTF-8\"?><X1Request xmlns=\"http://uri.etsi.org/03221/X1/2017/10\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><x1RequestMessage xsi:type=\"ReportTaskIssueRequest\"><admfIdentifier>lisec-admf</admfIdentifier><neIdentifier>poi-1</neIdentifier><messageTimestamp>2026-12-06T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version><x1TransactionId>$(python3 -c 'import uuid;print(uuid.uuid4())')</x1TransactionId><xId>$x1</xId><taskReportType>NonTerminatingFault</taskReportType><taskIssueDetails>slow record</taskIssueDetails></x1RequestMessage></X1Request>"
# the report, held before its audit write
touch "$hold"
as poi-1 -X POST -H 'Content-Type: application/xml' --data-binary "$msg" "$LISECD_URL/v1/x1/admf" >"$work/answer.xml" &
report=$!
cleanup_hooks+=("kill $report 2>/dev/null || true")
held() { grep -q "test hook: a report's record is held" "$work/lisecd.log"; }
wait_for 100 held || fail "the report did not reach the hold: $(tail -5 "$work/lisecd.log")"
# meanwhile a new task: the loop's next pass must send it
target 2
start=$(date +%s%N)
wait_for 200 holds 2 || fail "while a report waited for its audit write, the ADMF loop did not send a new task in 20 s (it waits for the issue queue's lock)"
ms=$((($(date +%s%N) - start) / 1000000))
kill -0 "$report" 2>/dev/null || fail "the report was answered before it was let go: the hold did not hold it"
[ -f "$hold" ] || fail "the hold ended early"
# let the report go: answered oK, and its issue shown on its task
rm -f "$hold"
wait "$report" || fail "the report was not answered"
grep -q '<errorCode>' "$work/answer.xml" && fail "the held report was refused: $(cat "$work/answer.xml")"
grep -q 'ResponseMessage' "$work/answer.xml" || fail "the held report has no answer: $(cat "$work/answer.xml")"
shown() { ok 200 li-admin GET /v1/tasks | jq -e '.tasks[] | select(.target=="t-1") | .issue | test("audit entry [0-9]+ \\(sealed\\)")' >/dev/null; }
wait_for 100 shown || fail "t-1 does not show the held report's issue: $(ok 200 li-admin GET /v1/tasks | jq -c '[.tasks[] | {target, issue}]')"
pass "while a ReportTaskIssue waited for its audit write, the ADMF loop sent a new task (${ms} ms); let go, the report was answered oK and shown on its task"
