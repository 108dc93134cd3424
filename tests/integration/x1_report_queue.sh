#!/usr/bin/env bash
# A ReportTaskIssue refused because [x1] report_queue_max task issues wait
# for the ADMF loop (src/ctl/tasks.c, src/ctl/x1_reports.c) is a refusal
# like one past the NE's rate (docs/x1.md): answered ErrorResponse 1000
# naming TR103308-5.5 and the setting, and counted in
# lisec_x1_reports_refused_total and the NE's status (reports_refused), so
# an operator sees that NEs' reports are being turned away. One real
# lisec-ne, poi-1, holds two tasks; with report_queue_max = 1, containers
# of two ReportTaskIssue (one a task) are sent until the queue refuses one
# (the second of a container, unless the loop took the first meanwhile).
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/li_topology.sh"
source "$src/tests/integration/lib/x1_site.sh"
x1_site
port=$(free_port)
ne_start poi-1 "$port" "$work/ne.json" "$work/ne.log"
start_lisecd "$pki" "${x1_lisecd[@]}" "[x1]" "report_queue_max = 1" "report_burst_per_ne = 1000"
# lib/li_topology.sh's LI, its LI VM vm-li-1 with storage st-1 (links c1 g1 cs1 gs1), and NE poi-1
li_topology li_vm=vm-li-1 storage=st-1 links='c1 g1 cs1 gs1'
ok 200 li-admin POST /v1/x1/nes "$(li_ne_json poi-1 "$port" vm-li-1 192.0.2.201)" >/dev/null
for i in 1 2; do
  ok 201 li-admin POST /v1/targets "{\"id\":\"t-$i\",\"authorisation\":\"li-1\",\"identifiers\":[{\"kind\":\"ipv4\",\"value\":\"192.0.2.$i\"}]}" >/dev/null
done
xids() { ok 200 li-admin GET /v1/tasks | jq -r '[.tasks[] | select(.ne=="poi-1" and .xid != null and .xid != "") | .xid] | sort | join(" ")'; }
two() { [ "$(xids | wc -w)" = 2 ]; }
wait_for 300 two || fail "poi-1 does not have two tasks: $(ok 200 li-admin GET /v1/tasks)"
read -r x1 x2 <<<"$(xids)"
msg() { # XID
  printf '<x1RequestMessage xsi:type="ReportTaskIssueRequest"><admfIdentifier>lisec-admf</admfIdentifier><neIdentifier>poi-1</neIdentifier><messageTimestamp>2026-12-06T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version><x1TransactionId>%s</x1TransactionId><xId>%s</xId><taskReportType>NonTerminatingFault</taskReportType><taskIssueDetails>queue</taskIssueDetails></x1RequestMessage>' \
    "$(python3 -c 'import uuid;print(uuid.uuid4())')" "$1"
}
refused=0
for _ in $(seq 1 100); do
  as poi-1 -X POST -H 'Content-Type: application/xml' --data-binary \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><X1Request xmlns=\"http://uri.etsi.org/03221/X1/2017/10\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">$(msg "$x1")$(msg "$x2")</X1Request>" \
    "$LISECD_URL/v1/x1/admf" >"$work/answer.xml" || fail "the reports were not answered"
  n=$( (grep -o 'report_queue_max' "$work/answer.xml" || true) | wc -l)
  refused=$((refused + n))
  [ "$refused" -gt 0 ] && break
done
[ "$refused" -gt 0 ] || fail "the queue refused nothing in 100 containers: $(cat "$work/answer.xml")"
grep -q '<errorCode>1000</errorCode>' "$work/answer.xml" && grep -q 'TR103308-5.5' "$work/answer.xml" ||
  fail "the queue's refusal is not 1000 naming TR103308-5.5: $(cat "$work/answer.xml")"
metric=$(as li-admin "$LISECD_URL/metrics" | awk '$1=="lisec_x1_reports_refused_total"{print $2}')
[ "$metric" = "$refused" ] || fail "lisec_x1_reports_refused_total is '$metric', the queue refused $refused"
status=$(ok 200 li-admin GET /v1/x1/nes/poi-1)
[ "$(jq -r .reports_refused <<<"$status")" = "$refused" ] || fail "poi-1's status does not count the queue's refusals ($refused): $status"
pass "a ReportTaskIssue refused past [x1] report_queue_max is answered 1000 (TR103308-5.5) and counted in /metrics and the NE's status ($refused)"
