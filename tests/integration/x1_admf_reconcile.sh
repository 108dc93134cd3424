#!/usr/bin/env bash
# lisecd as the X1 ADMF against an NE that does not answer as lisec expects:
# a real lisec-ne behind x1_admf_ne.py, which passes each request on and
# bends the answer (tests/integration/x1_admf_ne.py lists how). Proves that
# lisecd sends the X1 version configured for the NE and refuses an answer in
# another version, of another type or in another NE's name (x1_response_check), and that after an
# unexpected answer it asks the NE (GetTaskDetails) and shows what the NE
# holds: never failed while the NE runs a task, never deactivated while it
# still runs it.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_topology.sh"
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null
# the NE's own certificate (role host, CN its report_cn), one of another CN, one of another role
lisec pki issue "$pki" poi-1 host poi-1 >/dev/null
lisec pki issue "$pki" host-poi-9 host poi-9 >/dev/null
lisec pki issue "$pki" tenant-poi-1 tenant:evil poi-1 >/dev/null
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/pin"
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null

sanitizer_clean() { ! grep -q 'Sanitizer' "$1" || { cat "$1" >&2; fail "sanitizer report in $1"; }; }

# lisec-ne speaks X1 v1.13.1 to v1.21.1 only, so lisec's own v1.22.1 is refused (1020)
ne_port=$(free_port)
# --strict-destinations: as a real NE, no task naming a destination not created
start_ne() {
  "$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
    --ca "$pki/ca.crt" --ne-id poi-1 --admf-id lisec-admf --state "$work/ne-tasks.json" \
    --x1-versions v1.13.1:v1.21.1 --strict-destinations 2>>"$work/ne.log" &
  ne_pid=$!
  wait_port "$ne_port"
}
stop_ne() { kill "$ne_pid" 2>/dev/null; wait "$ne_pid" 2>/dev/null || true; }
start_ne
cleanup_hooks+=("stop_ne")
echo pass >"$work/mode"
px_port=$(free_port)
python3 "$src/tests/integration/x1_admf_ne.py" "$px_port" "https://localhost:$ne_port/X1/NE" "$pki/server.crt" \
  "$pki/server.key" "$pki/admf.crt" "$pki/admf.key" "$pki/ca.crt" "$work/mode" "$work/sent" 2>>"$work/proxy.log" &
px_pid=$!
cleanup_hooks+=("kill $px_pid")
wait_port "$px_port"

start_lisecd "$pki" "[keys]" "x1_key_dir = $pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" \
  "pin_file = $work/pin" "key_label = lisec-kek" "[audit]" "li_admin_key = $work/li-admin.pub" \
  "[model]" "allow_declared_trust = true"

api() { # ROLE METHOD PATH [BODY] -> body, then the status on the last line
  local role=$1 method=$2 path=$3
  if [ $# -ge 4 ]; then as "$role" -X "$method" -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$4" "$LISECD_URL$path"
  else as "$role" -X "$method" -w '\n%{http_code}' "$LISECD_URL$path"; fi
}
ok() { # expected-status ROLE METHOD PATH [BODY]
  local want=$1
  shift
  local out
  out=$(api "$@")
  [ "${out##*$'\n'}" = "$want" ] || fail "$2 $3 -> ${out##*$'\n'} (want $want): ${out%$'\n'*}"
  printf '%s' "${out%$'\n'*}"
}

# The trust model and the NE (lib/li_topology.sh): LI li-1 whose LI VM vm-li
# runs on trusted hel-1; poi-1, reached through the proxy, runs as vm-li.
li_topology
ne_json() { li_ne_json poi-1 "$px_port" vm-li 192.0.2.200 "${1:-}"; } # [extra fields]
task_field() { # TARGET FIELD
  ok 200 li-admin GET /v1/tasks | python3 -c "import json,sys
for t in json.load(sys.stdin)['tasks']:
    if t['target']=='$1' and t['ne']=='poi-1': print(t['$2']); break
else: print('none')"
}
wait_state() { # TARGET STATE
  for _ in $(seq 60); do
    [ "$(task_field "$1" state)" = "$2" ] && return 0
    ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
    sleep 0.2
  done
  ok 200 li-admin GET /v1/tasks >&2
  fail "task $1 never became $2"
}
ne_holds() { python3 -c "import json,sys;print(' '.join(sorted(v['value'] for t in json.load(open('$work/ne-tasks.json'))['tasks'] for v in t['targets'])))" 2>/dev/null; }
target() { ok 201 li-admin POST /v1/targets "{\"id\":\"$1\",\"authorisation\":\"li-1\",\"identifiers\":[{\"kind\":\"ipv4\",\"value\":\"$2\"}]}" >/dev/null; }

# ---- the X1 version: configured per NE, sent, checked ----------------------
for v in v1.12.1 v1.23.1 v2.0.0 1.22.1 '"'; do
  out=$(ok 400 li-admin POST /v1/x1/nes "$(ne_json ",\"x1_version\":\"${v//\"/\\\"}\"")")
  grep -q 'x1_version' <<<"$out" || fail "x1_version $v refused without naming the field: $out"
done
ok 200 li-admin POST /v1/x1/nes "$(ne_json)" >/dev/null
ok 200 li-admin GET /v1/x1/nes | grep -q '"x1_version": *"v1.22.1"' || fail "an NE registered without a version is not shown speaking v1.22.1"
target t-1 192.0.2.1
wait_state t-1 failed
task_field t-1 error | grep -q '1020' || fail "the NE's 1020 (unsupported version) is not the task's error: $(task_field t-1 error)"
[ -z "$(ne_holds)" ] || fail "the NE took a task in a version it does not speak"
ok 200 li-admin POST /v1/x1/nes "$(ne_json ',"x1_version":"v1.21.1"')" >/dev/null
wait_state t-1 active
[ "$(ne_holds)" = 192.0.2.1 ] || fail "lisec-ne holds: $(ne_holds)"
pass "the X1 version is configured per NE (v1.13.1 to v1.22.1, others 400), sent, and an NE's 1020 shows as the task's error"

echo version >"$work/mode"
target t-2 192.0.2.2
wait_state t-2 failed
task_field t-2 error | grep -q 'asked in v1.21.1, answered in v1.13.1' || fail "an answer in another version was not refused: $(task_field t-2 error)"
echo type >"$work/mode"
sent() { grep -c "^$1\$" "$work/sent" || true; }
# until an activation's OK answer has been relabelled: a retry of t-2 may
# read the mode first, and the NE answers it 2010, which is not bent
met_type() { grep -qx 'ActivateTask' "$work/sent.bent" 2>/dev/null; }
target t-3 192.0.2.3
for _ in $(seq 300); do met_type && break; sleep 0.1; done
met_type || fail "no activation was answered with another type"
echo pass >"$work/mode"
wait_state t-2 active
wait_state t-3 active
[ "$(ne_holds)" = "192.0.2.1 192.0.2.2 192.0.2.3" ] || fail "lisec-ne holds: $(ne_holds)"
# each refusal is in the sealed audit log with its reason (the task's error
# moves on with the retries)
audit_json() {
  lisec audit read --db "$work/lisec.db" --li-key "$work/li-admin.key" --json >"$work/audit.json" 2>"$work/audit.err" ||
    fail "lisec audit read: $(cat "$work/audit.err")"
}
audit_json
grep -q "ActivateTask request answered as ModifyTask" "$work/audit.json" || { grep -o "\"[^\"]*answered[^\"]*\"" "$work/audit.json" | sort | uniq -c >&2; cat "$work/sent" | sort | uniq -c >&2; fail "an answer of another type was not refused"; }
# every answer in another NE's name (its transaction right): not taken,
# the NE shown unreachable saying why, until the answers are its own again
echo other-ne >"$work/mode"
as_other() { ok 200 li-admin GET /v1/x1/nes/poi-1 | grep -q 'asked NE poi-1, answered as NE poi-other'; }
for _ in $(seq 300); do as_other && break; sleep 0.1; done
as_other || fail "answers in another NE's name were taken: $(ok 200 li-admin GET /v1/x1/nes/poi-1)"
echo pass >"$work/mode"
reached() { ok 200 li-admin GET /v1/x1/nes/poi-1 | grep -q '"state": *"reachable"'; }
for _ in $(seq 300); do reached && break; sleep 0.1; done
reached || fail "the NE is not reachable again once its answers are its own: $(ok 200 li-admin GET /v1/x1/nes/poi-1)"
pass "an answer in another version, of another type or in another NE's name is not taken as the answer"

# ---- lisecd believes the NE, not the error code -----------------------------
wait_never() { # TARGET STATE BAD: STATE reached without BAD ever being shown
  for _ in $(seq 60); do
    local st
    st=$(task_field "$1" state)
    [ "$st" = "$3" ] && { ok 200 li-admin GET /v1/tasks >&2; fail "task $1 shown $3 (waiting for $2)"; }
    [ "$st" = "$2" ] && return 0
    ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
    sleep 0.1
  done
  fail "task $1 never became $2"
}
echo activate-2010 >"$work/mode"
n=$(sent GetTaskDetails)
target t-4 192.0.2.4
wait_never t-4 active failed
[ "$(task_field t-4 error)" = "" ] && [ "$(task_field t-4 ne_version)" = 1 ] ||
  fail "t-4 after a 2010 for a task the NE holds as wanted: error '$(task_field t-4 error)', NE version $(task_field t-4 ne_version)"
[ "$(sent GetTaskDetails)" -gt "$n" ] || fail "lisecd did not ask the NE (GetTaskDetails) after the 2010"
n=$(sent ActivateTask)
for _ in 1 2 3; do ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; done
[ "$(sent ActivateTask)" = "$n" ] || fail "lisecd keeps sending ActivateTask to an NE that holds the task"
pass "ActivateTask answered 2010 for a task the NE holds as wanted: active, no error, not sent again (GetTaskDetails, x1_task_same)"

echo activate-drop >"$work/mode"
target t-5 192.0.2.5
wait_never t-5 active failed
pass "ActivateTask whose answer is lost (HTTP 503) but done: active, never shown failed"

echo deactivate-lie >"$work/mode"
ok 200 li-admin DELETE /v1/targets/t-4 >/dev/null
n=$(sent DeactivateTask)
for _ in $(seq 40); do [ "$(sent DeactivateTask)" -gt "$((n + 1))" ] && break; ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; sleep 0.1; done
[ "$(sent DeactivateTask)" -gt "$((n + 1))" ] || fail "the deactivation was not retried"
[ "$(task_field t-4 state)" = active ] || fail "t-4 shown $(task_field t-4 state) while the NE still runs it"
task_field t-4 error | grep -q 2020 || fail "t-4's error does not carry the NE's answer: $(task_field t-4 error)"
grep -q 192.0.2.4 <<<"$(ne_holds)" || fail "the stand-in passed the DeactivateTask on"
echo pass >"$work/mode"
wait_state t-4 deactivated
pass "DeactivateTask answered 2020 while the NE still runs the task: shown active with the NE's answer and retried, deactivated once the NE drops it"

echo deactivate-2020 >"$work/mode"
ok 200 li-admin DELETE /v1/targets/t-5 >/dev/null
wait_never t-5 deactivated failed
echo pass >"$work/mode"
[ "$(ne_holds)" = "192.0.2.1 192.0.2.2 192.0.2.3" ] || fail "lisec-ne holds: $(ne_holds)"
pass "DeactivateTask done by the NE but answered 2020: deactivated (the NE does not hold it)"

# ---- an NE restarted empty: destinations created again, then the tasks ------
stop_ne
sanitizer_clean "$work/ne.log"
rm -f "$work/ne-tasks.json"
start_ne
for _ in $(seq 60); do [ "$(ne_holds)" = "192.0.2.1 192.0.2.2 192.0.2.3" ] && break; ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; sleep 0.2; done
[ "$(ne_holds)" = "192.0.2.1 192.0.2.2 192.0.2.3" ] || fail "the tasks did not come back to an NE restarted empty: $(ne_holds)"
python3 -c "import json;d=json.load(open('$work/ne-tasks.json'));assert [x['address'] for x in d['destinations']]==['192.0.2.200'], d['destinations']" ||
  fail "the destination was not created again on the NE restarted empty"
pass "an NE restarted empty gets its destination again (CreateDestination), then its tasks"

# ---- the ADMF's X1 endpoint: NE-originated requests in the ETSI form --------
xsd="$src/src/x1/etsi-x1-schema/X1-all.xsd"
x1_msg() { # TYPE NE BODY-ELEMENTS [TRANSACTION] -> one x1RequestMessage
  printf '<x1RequestMessage xsi:type="%sRequest"><admfIdentifier>lisec-admf</admfIdentifier><neIdentifier>%s</neIdentifier><messageTimestamp>2026-12-04T08:00:00.000000Z</messageTimestamp><version>v1.21.1</version><x1TransactionId>%s</x1TransactionId>%s</x1RequestMessage>' \
    "$1" "$2" "${4:-$(python3 -c 'import uuid;print(uuid.uuid4())')}" "$3"
}
x1_req() { printf '<?xml version="1.0" encoding="UTF-8"?><X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">%s</X1Request>' "$*"; }
x1_post() { # CERT BODY -> the reply; its status on the last line
  as "$1" -X POST -w '\n%{http_code}' -H 'Content-Type: application/xml' --data-binary "$2" "$LISECD_URL/v1/x1/admf"
}
x1_ok() { # BODY -> the X1 reply, which must be 200 and schema-valid
  local out
  out=$(x1_post poi-1 "$1")
  [ "${out##*$'\n'}" = 200 ] || fail "X1 request -> ${out##*$'\n'}: ${out%$'\n'*}"
  printf '%s' "${out%$'\n'*}" >"$work/x1-reply.xml"
  xmllint --noout --schema "$xsd" "$work/x1-reply.xml" 2>"$work/xmllint.err" ||
    fail "lisecd's X1 reply does not validate against ETSI's schema: $(cat "$work/xmllint.err") $(cat "$work/x1-reply.xml")"
  cat "$work/x1-reply.xml"
}
XID=$(ok 200 li-admin GET /v1/tasks | python3 -c "import json,sys;print([t['xid'] for t in json.load(sys.stdin)['tasks'] if t['target']=='t-1'][0])")
TX=11111111-2222-4333-8444-555555555555
out=$(x1_ok "$(x1_req "$(x1_msg Keepalive poi-1 '' $TX)")")
grep -q '<oK>AcknowledgedAndCompleted</oK>' <<<"$out" && grep -q "<x1TransactionId>$TX</x1TransactionId>" <<<"$out" ||
  fail "Keepalive not answered oK with its transaction: $out"
out=$(x1_ok "$(x1_req "$(x1_msg ReportNEIssue poi-1 '<typeOfNeIssueMessage>Warning</typeOfNeIssueMessage><description>X2 queue above 80 percent</description><issueCode>7</issueCode>')")")
grep -q '<oK>' <<<"$out" || fail "ReportNEIssue not answered oK: $out"
out=$(x1_ok "$(x1_req "$(x1_msg ReportTaskIssue poi-1 "<xId>$XID</xId><taskReportType>NonTerminatingFault</taskReportType><taskIssueDetails>X3 destination slow</taskIssueDetails>")")")
grep -q '<oK>' <<<"$out" || fail "ReportTaskIssue not answered oK: $out"
# recorded at once; the loop shows it with the task before its next pass
issued() { ok 200 li-admin GET /v1/tasks | grep -q '"issue": *"reported .*audit entry [0-9]* (sealed)'; }
for _ in $(seq 100); do issued && break; sleep 0.1; done
issued || fail "the issue is not shown with the task"
pass "Keepalive, ReportNEIssue and ReportTaskIssue from the NE's certificate in the ETSI form: oK, schema-valid, the transaction echoed"

out=$(x1_ok "$(x1_req "$(x1_msg Ping poi-1 '' $TX)")")
grep -q '<requestMessageType>Ping</requestMessageType>' <<<"$out" && grep -q '<errorCode>1080</errorCode>' <<<"$out" &&
  grep -q "<x1TransactionId>$TX</x1TransactionId>" <<<"$out" || fail "a Ping to the ADMF not refused 1080 echoing it: $out"
out=$(x1_ok "$(x1_req "$(x1_msg ReportTaskIssue poi-1 "<xId>$XID</xId><taskIssueDetails>no type</taskIssueDetails>" $TX)")")
grep -q '<errorCode>1010</errorCode>' <<<"$out" && grep -q "<x1TransactionId>$TX</x1TransactionId>" <<<"$out" &&
  grep -q '<requestMessageType>ReportTaskIssue</requestMessageType>' <<<"$out" || fail "a schema-invalid report not refused 1010 echoing it: $out"
out=$(x1_ok "$(x1_req "$(x1_msg Keepalive poi-2 '' $TX)")")
grep -q '<errorCode>1000</errorCode>' <<<"$out" || fail "a message naming another NE was not refused: $out"
out=$(x1_ok "$(x1_req "$(x1_msg Keepalive poi-1 '')" "$(x1_msg Ping poi-1 '')")")
[ "$(grep -o '<x1ResponseMessage' <<<"$out" | wc -l)" = 2 ] && grep -q '<oK>' <<<"$out" && grep -q '<errorCode>1080' <<<"$out" ||
  fail "a container of two messages not answered message by message: $out"
out=$(x1_ok 'not xml at all')
grep -q '<X1TopLevelErrorResponse' <<<"$out" || fail "an unreadable container did not get X1TopLevelErrorResponse: $out"
out=$(x1_ok "$(x1_req "$(x1_msg Keepalive poi-1 '' $TX | sed 's/v1.21.1/v1.9.1/')")")
grep -q '<errorCode>1020</errorCode>' <<<"$out" || fail "a version the ADMF does not speak was not refused 1020: $out"
pass "the ADMF's X1 endpoint refuses with the standard's codes, echoing type and transaction: 1080 Ping, 1010 schema, 1000 another NE, 1020 version; X1TopLevelErrorResponse when nothing can be echoed; several messages answered in order"

a=$(x1_post host-poi-9 "$(x1_req "$(x1_msg Keepalive poi-1 '' $TX)")")
b=$(x1_post tenant-poi-1 "$(x1_req "$(x1_msg Keepalive poi-1 '' $TX)")")
c=$(x1_post operator "$(x1_req "$(x1_msg Keepalive poi-404 '' $TX)")")
for r in "$a" "$b" "$c"; do
  [ "${r##*$'\n'}" = 403 ] || fail "a certificate not the NE's got ${r##*$'\n'}: $r"
  grep -q 'poi-1\|poi-404\|t-1\|li-1' <<<"${r%$'\n'*}" && fail "the refusal tells LI details: $r"
done
[ "$a" = "$b" ] && [ "$b" = "$c" ] || fail "refusals differ (another CN, another role, an unknown NE): $a / $b / $c"
pass "X1 from a certificate other than the NE's (another CN, another role) is refused with one 403 that names nothing"

# Keepalive from lisecd to the NE at the NE's interval
ok 400 li-admin POST /v1/x1/nes "$(ne_json ',"x1_version":"v1.21.1","keepalive_ms":50')" >/dev/null
ok 200 li-admin POST /v1/x1/nes "$(ne_json ',"x1_version":"v1.21.1","keepalive_ms":200')" >/dev/null
n=$(sent Keepalive)
for _ in $(seq 50); do [ "$(sent Keepalive)" -ge "$((n + 3))" ] && break; sleep 0.1; done
[ "$(sent Keepalive)" -ge "$((n + 3))" ] || fail "lisecd sent $(( $(sent Keepalive) - n )) Keepalive in 5 s at a 200 ms interval"
ok 200 li-admin POST /v1/x1/nes "$(ne_json ',"x1_version":"v1.21.1","keepalive_ms":0')" >/dev/null
ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
n=$(sent Keepalive)
sleep 1 # a bounded look for something that must not happen
[ "$(sent Keepalive)" = "$n" ] || fail "Keepalive sent with keepalive_ms 0"
ok 200 li-admin POST /v1/x1/nes "$(ne_json ',"x1_version":"v1.21.1"')" >/dev/null
pass "lisecd sends Keepalive to the NE at its keepalive_ms (0: none; under 100 refused)"

# ---- the emergency stop: DeactivateAllTasks (li-admin only) ---------------
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
all_states() { ok 200 li-admin GET /v1/tasks | python3 -c "import json,sys;print(' '.join(sorted(set(t['state'] for t in json.load(sys.stdin)['tasks'] if t['target'] in ('t-1','t-2','t-3')))))"; }
for role in operator auditor hypervisor-admin mano tenant-example; do
  out=$(ok 403 "$role" POST /v1/x1/deactivate-all '{"reason":"test"}')
  grep -q 'poi-1\|t-1\|192.0.2' <<<"$out" && fail "the refusal to $role tells LI details: $out"
  ok 403 "$role" POST /v1/x1/resume '{}' >/dev/null
done
rc=0; cli auditor task deactivate-all --reason test >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "lisec task deactivate-all as auditor: exit $rc, not 1 (refused)"
[ "$(sent DeactivateAllTasks)" = 0 ] || fail "a refused role's stop reached the NE"
[ "$(ne_holds)" = "192.0.2.1 192.0.2.2 192.0.2.3" ] || fail "lisec-ne holds: $(ne_holds)"
ok 404 li-admin POST /v1/x1/deactivate-all '{"reason":"test","ne":"poi-404"}' >/dev/null
ok 400 li-admin POST /v1/x1/deactivate-all '{}' >/dev/null
pass "the emergency stop is refused to every role but li-admin (403, nothing sent), and needs a reason and a known NE"

# the NE refuses DeactivateAllTasks: tasks it still holds stay active, then go one by one
echo stopall-refuse >"$work/mode"
out=$(ok 200 li-admin POST /v1/x1/deactivate-all '{"reason":"warrant withdrawn"}')
python3 -c "import json,sys;n=json.loads(sys.argv[1])['nes'];assert [(x['ne'],x['still_held']) for x in n]==[('poi-1',3)] and '1000' in n[0]['answer'], n" "$out" ||
  fail "the stop's reply does not say the NE refused and still holds 3 tasks: $out"
for _ in $(seq 60); do [ -z "$(ne_holds)" ] && break; ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; sleep 0.1; done
[ -z "$(ne_holds)" ] || fail "tasks still on the NE after the refused stop: $(ne_holds)"
for _ in $(seq 20); do [ "$(all_states)" = deactivated ] && break; ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; sleep 0.1; done
[ "$(all_states)" = deactivated ] || fail "task states after the stop: $(all_states)"
echo pass >"$work/mode"
ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
[ -z "$(ne_holds)" ] && [ "$(all_states)" = deactivated ] || fail "a stopped NE was given tasks again: $(ne_holds)"
pass "an NE that refuses DeactivateAllTasks: its tasks stay active until each is deactivated (DeactivateTask), and none comes back"

cli li-admin task resume >"$work/cli.out" || fail "lisec task resume: $(cat "$work/cli.out")"
grep -q '^poi-1 resumed' "$work/cli.out" || fail "lisec task resume printed: $(cat "$work/cli.out")"
wait_state t-1 active
for _ in $(seq 40); do [ "$(all_states)" = active ] && break; ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; sleep 0.1; done
[ "$(ne_holds)" = "192.0.2.1 192.0.2.2 192.0.2.3" ] || fail "the tasks did not come back after resume: $(ne_holds)"
n=$(sent DeactivateTask)
cli li-admin task deactivate-all --reason "court order lapsed" --ne poi-1 >"$work/cli.out" || fail "lisec task deactivate-all: $(cat "$work/cli.out")"
grep -q '^poi-1 .*oK: 3 task(s) deactivated' "$work/cli.out" || fail "lisec task deactivate-all printed: $(cat "$work/cli.out")"
[ -z "$(ne_holds)" ] && [ "$(all_states)" = deactivated ] || fail "after the stop: NE holds '$(ne_holds)', tasks $(all_states)"
[ "$(sent DeactivateTask)" = "$n" ] || fail "DeactivateTask sent although the NE confirmed DeactivateAllTasks"
ok 200 li-admin POST /v1/x1/nes "$(ne_json ',"x1_version":"v1.21.1"')" >/dev/null
for _ in 1 2 3; do ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; done
[ -z "$(ne_holds)" ] || fail "a new registration lifted the stop: $(ne_holds)"
ok 200 li-admin GET /v1/tasks | grep -q 'emergency stop (DeactivateAllTasks).*court order lapsed' || fail "the tasks do not say why they were deactivated"
pass "lisec task deactivate-all: DeactivateAllTasks confirmed, every task deactivated at once, nothing activated again (not even by a new registration)"

audit_json
python3 - "$work/audit.json" <<'PY' || fail "the audit log does not hold the stop and the refusals, sealed"
import json, sys
blob = [json.dumps(e) for e in json.load(open(sys.argv[1]))['entries']]
assert any('x1.deactivate-all' in b and 'court order lapsed' in b for b in blob), 'no x1.deactivate-all with its reason'
assert sum('x1.deactivate-all' in b and 'denied' in b for b in blob) >= 5, 'the refused roles are not recorded'
PY
pass "the stop and every refused attempt are in the audit log, sealed"

stop_lisecd
sanitizer_clean "$work/lisecd.log"
stop_ne
sanitizer_clean "$work/ne.log"
pass "lisecd and lisec-ne stop cleanly"
