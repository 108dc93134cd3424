#!/usr/bin/env bash
# lisecd as the X1 ADMF end to end, with a real lisec-ne over mutual TLS, the
# KEK in a real SoftHSM2 token and LI records sealed to an LI administration
# key (opened with lisec audit read to check what was recorded). The trust model is loaded through lisecd's model
# API (/v1/model/..., [model] allow_declared_trust for the host's trust).
# A target added reaches lisec-ne (ActivateTask) and its update and removal
# follow (ModifyTask, DeactivateTask); an NE whose host loses trust gets a
# DeactivateTask and the audit log says why; lisec-ne and lisecd restarts
# keep the tasks and their states; an ADMF certificate of another CA is
# refused by the NE and the task shows failed; an NE not running the LI's
# VM gets nothing; other roles get 403; ReportTaskIssue only from the NE.
# lisec-ne runs with --strict-destinations, as a real NE: an NE registered
# without destinations is refused, and lisecd creates the registered one
# (CreateDestination) before the first ActivateTask names it.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_topology.sh"
pki=$work/pki
make_pki "$pki"
make_pki "$work/rogue"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null
lisec pki issue "$work/rogue" admf operator lisec-admf >/dev/null
lisec pki issue "$pki" poi-1 host poi-1 >/dev/null
# the NE's CN under a role NEs do not hold, and a host certificate of another CN
lisec pki issue "$pki" evil-poi-1 tenant:evil poi-1 >/dev/null
lisec pki issue "$pki" host-poi-9 host poi-9 >/dev/null
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/pin"
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null

# Under -DLISEC_SANITIZE=ON a process reports leaks and errors on stderr at exit.
sanitizer_clean() { ! grep -q 'Sanitizer' "$1" || { cat "$1" >&2; fail "sanitizer report in $1"; }; }

ne_port=$(free_port)
start_ne() {
  "$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" \
    --key "$pki/server.key" --ca "$pki/ca.crt" --ne-id poi-1 --admf-id lisec-admf \
    --state "$work/ne-tasks.json" --strict-destinations 2>>"$work/ne.log" &
  ne_pid=$!
  for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$ne_port) 2>/dev/null && break; sleep 0.1; done
}
stop_ne() { kill "$ne_pid" 2>/dev/null; wait "$ne_pid" 2>/dev/null || true; }
start_ne
cleanup_hooks+=("stop_ne")

# x1_key_dir holds both ADMF keys: the rogue one is signed with, and the NE refuses it
lisecd_up() {
  start_lisecd "$pki" "[keys]" "x1_key_dir = $work" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" \
    "pin_file = $work/pin" "key_label = lisec-kek" "[audit]" "li_admin_key = $work/li-admin.pub" \
    "[model]" "allow_declared_trust = true"
}
lisecd_up

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

# The trust model (lib/li_topology.sh): LI li-1 in FI whose LI VM vm-li runs
# on trusted host hel-1 in FI, joined to vm-target by c1 (g1) and to vm-store
# by c2 (g2).
li_topology
loc='"location":{"country":"FI","source":"administrative"}' # hel-1's, for the PUTs below

# Network elements: poi-1 runs as vm-li (carries li-1); poi-other as another VM.
# lisec-ne runs with --strict-destinations: it takes no task naming a
# destination it was not given with CreateDestination, as a real NE.
DID=0b5d9b3a-8c9e-4d8b-9a55-5d8f1e2a3b4c
DEST="\"destinations\":[{\"did\":\"$DID\",\"address\":\"2001:db8::42\",\"port\":4790,\"transport\":\"udp\",\"name\":\"MDF Helsinki\"}]"
NE_BASE="{\"id\":\"poi-1\",\"url\":\"https://localhost:$ne_port/X1/NE\",\"vm\":\"vm-li\",\"admf_id\":\"lisec-admf\",\"cert\":\"$pki/admf.crt\",\"key\":\"$pki/admf.key\",\"ca\":\"$pki/ca.crt\",\"check_ms\":300,\"report_cn\":\"poi-1\""
NE="$NE_BASE,$DEST}"
# a registration must say where the NE delivers; what lisec cannot send is refused now
for bad in '' ',"destinations":[]' ',"destinations":[{"address":"192.0.2.300","port":4790}]' \
  ',"destinations":[{"address":"192.0.2.1","port":0}]' ',"destinations":[{"address":"192.0.2.1","port":9,"transport":"sctp"}]' \
  ',"destinations":[{"address":"192.0.2.1","port":9,"did":"not-a-uuid"}]' \
  ",\"dids\":[\"$DID\"],\"destinations\":[{\"address\":\"192.0.2.1\",\"port\":9,\"did\":\"$DID\"}]" \
  ",$(python3 -c 'import json;print(json.dumps({"destinations":[{"address":"192.0.2.%d"%i,"port":9} for i in range(9)]})[1:-1])')"; do
  out=$(ok 400 li-admin POST /v1/x1/nes "$NE_BASE$bad}")
  grep -q 'destinations\|dids' <<<"$out" || fail "registration with '$bad' refused without naming the field: $out"
done
pass "an NE registration without its destinations, or with one X1 cannot carry, is refused (400 naming the field)"
# registered with "dids" only (destinations lisec does not create) the strict NE refuses the task
ok 200 li-admin POST /v1/x1/nes "$NE_BASE,\"dids\":[\"$DID\"]}" >/dev/null
ok 200 li-admin POST /v1/x1/nes "{\"id\":\"poi-other\",\"url\":\"https://localhost:$ne_port/X1/NE\",\"vm\":\"vm-target\",\"cert\":\"$pki/admf.crt\",\"key\":\"$pki/admf.key\",\"ca\":\"$pki/ca.crt\",\"destinations\":[{\"address\":\"192.0.2.9\",\"port\":4790}]}" >/dev/null

for role in operator hypervisor-admin mano auditor tenant-example; do
  [ "$(as "$role" -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/tasks")" = 403 ] || fail "$role listed tasks"
  [ "$(as "$role" -o /dev/null -w '%{http_code}' -d "$NE" "$LISECD_URL/v1/x1/nes")" = 403 ] || fail "$role registered an NE"
done
pass "only li-admin lists tasks and registers network elements (others 403)"

task_field() { # TARGET NE FIELD
  ok 200 li-admin GET /v1/tasks | python3 -c "import json,sys
for t in json.load(sys.stdin)['tasks']:
    if t['target']=='$1' and t['ne']=='$2': print(t['$3']); break
else: print('none')"
}
task_state() { task_field "$1" "$2" state; } # TARGET NE
wait_state() { # TARGET NE STATE
  for _ in $(seq 60); do
    [ "$(task_state "$1" "$2")" = "$3" ] && return 0
    ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
    sleep 0.2
  done
  ok 200 li-admin GET /v1/tasks >&2
  fail "task $1 on $2 never became $3"
}
ne_tasks() { python3 -c "import json;print(' '.join(sorted(v['value'] for t in json.load(open('$work/ne-tasks.json'))['tasks'] for v in t['targets'])))" 2>/dev/null; }

T1='{"id":"t-1","authorisation":"li-1","identifiers":[{"kind":"imsi","value":"244051234567890"},{"kind":"e164","value":"358401234567"}]}'
ok 201 li-admin POST /v1/targets "$T1" >/dev/null
wait_state t-1 poi-1 failed
# the NE's words (they may quote the target) are the LI administration's in
# the NE's status and the sealed record; the task says the code and where
ok 200 li-admin GET /v1/tasks | grep -q "X1 error 1000.*TR103308-5.7.*audit entry" ||
  fail "the task does not say the NE's refusal and where its words are: $(ok 200 li-admin GET /v1/tasks)"
ok 200 li-admin GET /v1/x1/nes/poi-1 | grep -q "destination (dId) that was not created" ||
  fail "the NE's status does not carry the NE's reason (an unknown destination)"
[ -z "$(ne_tasks)" ] || fail "the strict NE took a task naming a destination it does not hold"
ok 200 li-admin POST /v1/x1/nes "$NE" >/dev/null
wait_state t-1 poi-1 active
python3 - "$work/ne-tasks.json" "$DID" <<'PY' || fail "lisec-ne does not hold the destination the task names"
import json, sys
doc, did = json.load(open(sys.argv[1])), sys.argv[2]
d = [d for d in doc['destinations'] if d['did'] == did]
assert d and d[0]['port'] == 4790 and d[0]['udp'] and d[0]['friendly'] == 'MDF Helsinki', d
assert all(t['dids'] == [did] for t in doc['tasks']), doc['tasks']
PY
pass "lisecd creates the NE's destination (CreateDestination) before the ActivateTask that names it"
[ "$(ne_tasks)" = "244051234567890 358401234567" ] || fail "lisec-ne holds: $(ne_tasks)"
grep -q 'activate' "$work/ne.log" || fail "lisec-ne logged no activation"
[ "$(task_state t-1 poi-other)" = none ] || fail "an NE not running the LI's VM got a task"
pass "a target added reaches lisec-ne (ActivateTask), only on the NE that runs the LI's LI VM"

ok 200 li-admin PUT /v1/targets/t-1 '{"version":1,"identifiers":[{"kind":"imsi","value":"244051234567891"}]}' >/dev/null
for _ in $(seq 50); do [ "$(ne_tasks)" = "244051234567891" ] && break; ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; sleep 0.2; done
[ "$(ne_tasks)" = "244051234567891" ] || fail "the update did not reach lisec-ne: $(ne_tasks)"
pass "a target update reaches lisec-ne (ModifyTask)"

# lisec-ne restart keeps its tasks (its state file), and the ADMF sees them.
stop_ne
sanitizer_clean "$work/ne.log"
start_ne
[ "$(ne_tasks)" = "244051234567891" ] || fail "lisec-ne lost its tasks: $(ne_tasks)"
grep -q '1 task(s) kept in' "$work/ne.log" || fail "lisec-ne did not load its tasks"
ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
[ "$(task_state t-1 poi-1)" = active ] || fail "task not active after the NE restart"
[ "$(stat -c %a "$work/ne-tasks.json")" = 600 ] || fail "the NE's task file is not 0600"
pass "a restarted lisec-ne still holds its tasks (0600 state file); the ADMF keeps the task active"

# lisecd restart keeps every task state.
before=$(ok 200 li-admin GET /v1/tasks | python3 -c "import json,sys;print(sorted((t['target'],t['ne'],t['state'],t['xid']) for t in json.load(sys.stdin)['tasks']))")
stop_lisecd
sanitizer_clean "$work/lisecd.log"
lisecd_up
after=$(ok 200 li-admin GET /v1/tasks | python3 -c "import json,sys;print(sorted((t['target'],t['ne'],t['state'],t['xid']) for t in json.load(sys.stdin)['tasks']))")
[ "$before" = "$after" ] || fail "task states changed across a lisecd restart: $before -> $after"
pass "a lisecd restart keeps every task and its state"

# ReportTaskIssue from the NE's own certificate only.
XID=$(ok 200 li-admin GET /v1/tasks | python3 -c "import json,sys;print([t['xid'] for t in json.load(sys.stdin)['tasks'] if t['ne']=='poi-1'][0])")
issue_xml() {
  python3 -c "import json,uuid;print(json.dumps({'ne':'poi-1','xml':'''<?xml version=\"1.0\"?><X1Request xmlns=\"http://uri.etsi.org/03221/X1/2017/10\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><x1RequestMessage xsi:type=\"ReportTaskIssueRequest\"><admfIdentifier>lisec-admf</admfIdentifier><neIdentifier>$1</neIdentifier><messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version><x1TransactionId>%s</x1TransactionId><xId>$XID</xId><taskReportType>NonTerminatingFault</taskReportType><taskIssueDetails>X2 destination unreachable</taskIssueDetails></x1RequestMessage></X1Request>''' % uuid.uuid4()}))"
}
out=$(ok 200 poi-1 POST /v1/x1/reports "$(issue_xml poi-1)")
grep -q '"accepted": *true' <<<"$out" || fail "the NE's issue report was not accepted: $out"
# recorded at once; the loop shows it with the task before its next pass
issued() { ok 200 li-admin GET /v1/tasks | grep -q '"issue": *"reported .*audit entry [0-9]* (sealed)'; }
for _ in $(seq 100); do issued && break; sleep 0.1; done
issued || fail "the issue is not shown with the task"
ok 403 operator POST /v1/x1/reports "$(issue_xml poi-1)" >/dev/null
# Only the NE role (host) with the NE's CN speaks for it: a tenant
# certificate whose CN is poi-1 is refused, and neither a wrong CN nor an
# unknown NE id gets an answer that tells whether the NE exists.
out=$(ok 403 evil-poi-1 POST /v1/x1/reports "$(issue_xml poi-1)")
grep -q 'TR103308-5.2' <<<"$out" || fail "a tenant certificate with CN poi-1 is not refused naming TR103308-5.2: $out"
a=$(ok 403 host-poi-9 POST /v1/x1/reports "$(issue_xml poi-1)")
b=$(ok 403 host-poi-9 POST /v1/x1/reports "$(issue_xml poi-1 | sed 's/"ne": "poi-1"/"ne": "poi-404"/')")
[ "$a" = "${b//poi-404/poi-1}" ] || fail "an unknown NE and a known one answer differently: $a / $b"
c=$(ok 403 operator POST /v1/x1/reports "$(issue_xml poi-1 | sed 's/"ne": "poi-1"/"ne": "poi-404"/')")
d=$(ok 403 operator POST /v1/x1/reports "$(issue_xml poi-1)")
[ "${c//poi-404/poi-1}" = "$d" ] || fail "an unknown NE and a known one answer the operator differently: $c / $d"
out=$(ok 200 poi-1 POST /v1/x1/reports "$(issue_xml poi-2)")
grep -q '"accepted": *false' <<<"$out" || fail "an issue naming another NE was accepted: $out"
out=$(ok 200 poi-1 POST /v1/x1/reports '{"ne":"poi-1","xml":"<X1Request><oops/></X1Request>"}')
grep -q 'ErrorResponse' <<<"$out" || fail "schema-invalid XML was not refused with an X1 error: $out"
# the pre-ETSI form lisec once took (no taskReportType) is schema-invalid: 1010
out=$(ok 200 poi-1 POST /v1/x1/reports "$(issue_xml poi-1 | sed 's|<taskReportType>NonTerminatingFault</taskReportType>||')")
grep -q '"accepted": *false' <<<"$out" && grep -q 'errorCode>1010<' <<<"$out" ||
  fail "a ReportTaskIssue without taskReportType was not refused with 1010: $out"
pass "ReportTaskIssue is taken from the NE's certificate only, shown with the task; others refused"

# The LI VM's host loses trust: the task is deactivated and the audit log says why.
ok 200 operator PUT /v1/model/host/hel-1 "{\"id\":\"hel-1\",\"trust\":\"untrusted\",\"protection\":\"li\",$loc}" >/dev/null
wait_state t-1 poi-1 deactivated
[ -z "$(ne_tasks)" ] || fail "lisec-ne still holds $(ne_tasks)"
reason=$(ok 200 li-admin GET /v1/tasks | python3 -c "import json,sys;print([t['reason'] for t in json.load(sys.stdin)['tasks'] if t['ne']=='poi-1'][0])")
echo "$reason" | grep -qi 'hel-1\|trust' || fail "the task's reason does not say why: $reason"
# the audit log says why, sealed: not in the database in clear, opened with the LI key
sqlite3 "$work/lisec.db" .dump | grep -q 'destination unreachable' && fail "an LI audit entry is in clear"
lisec audit read --db "$work/lisec.db" --li-key "$work/li-admin.key" --json >"$work/audit.json" 2>"$work/audit.err" ||
  fail "lisec audit read: $(cat "$work/audit.err")"
python3 - "$work/audit.json" <<'PY' || fail "the audit log does not record the deactivation and why"
import json, sys
entries = json.load(open(sys.argv[1]))['entries']
blob = [json.dumps(e) for e in entries]
# the operator's write is a change of the trust model: the deactivation is
# named in the ADMF's announcement (docs/x1.md), why in the task's reason
hit = [b for b in blob if 'x1.reconcile' in b and 'tasks after the trust model changed' in b and 'deactivate t-1 on poi-1' in b]
assert hit, 'no announcement naming the deactivation of t-1 on poi-1'
assert any('x1.activate' in b or ('x1.reconcile' in b and 'activate t-1 on poi-1' in b) for b in blob), 'no activation recorded'
assert any('x1.issue' in b and 'X2 destination unreachable' in b for b in blob), 'no x1.issue'
PY
pass "the LI VM's host untrusted: DeactivateTask sent, the NE holds nothing, the task says why, the sealed announcement names it: ${reason:0:60}"

ok 200 operator PUT /v1/model/host/hel-1 "{\"id\":\"hel-1\",\"trust\":\"trusted\",\"protection\":\"li\",$loc}" >/dev/null
wait_state t-1 poi-1 active
pass "trust restored: the task is activated again"

# The LI's data path loses its protection (req. 6 on connection c1, a row
# about the connection, not about the LI itself): the ADMF stops acting.
ok 200 operator PUT /v1/model/connection/c1 '{"id":"c1","between":["vm-target","vm-li"],"kind":"network","secure":false}' >/dev/null
wait_state t-1 poi-1 deactivated
[ -z "$(ne_tasks)" ] || fail "lisec-ne still holds $(ne_tasks) with the LI's connection insecure"
ok 200 li-admin GET /v1/tasks | grep -q 'R6' || fail "the task's reason does not name req. 6: $(ok 200 li-admin GET /v1/tasks)"
ok 200 operator PUT /v1/model/connection/c1 '{"id":"c1","between":["vm-target","vm-li"],"kind":"network","secure":true}' >/dev/null
wait_state t-1 poi-1 active
pass "the LI's connection made insecure: DeactivateTask sent naming req. 6; secure again: activated again"

# t-1's record copied whole under another id, t-9, in the database: its
# associated data still matches its own fields, so only its id against the
# id it is stored under tells. The ADMF plans no task for it, so t-1's
# identifiers do not stay on the NE under t-9 once t-1 is removed.
sqlite3 -cmd '.timeout 10000' "$work/lisec.db" "INSERT INTO documents (kind, id, body, version, updated_at) SELECT kind, 't-9', body, version, updated_at FROM documents WHERE kind = 'target' AND id = 't-1'"
ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
[ "$(task_state t-9 poi-1)" = none ] || fail "a record stored under another id is tasked: $(task_state t-9 poi-1)"
ok 200 li-admin DELETE /v1/targets/t-1 >/dev/null
wait_state t-1 poi-1 deactivated
[ -z "$(ne_tasks)" ] || fail "lisec-ne still holds $(ne_tasks) after the removal"
[ "$(task_state t-9 poi-1)" = none ] || fail "a record stored under another id is tasked: $(task_state t-9 poi-1)"
ok 200 li-admin DELETE /v1/targets/t-9 >/dev/null
pass "a target removed is deactivated on lisec-ne (DeactivateTask); a copy of its record under another id is never tasked"

# An ADMF certificate of another CA: the NE refuses it in TLS; the task fails and retries.
ok 200 li-admin POST /v1/x1/nes "${NE//$pki\/admf/$work/rogue/admf}" >/dev/null
ok 201 li-admin POST /v1/targets '{"id":"t-2","authorisation":"li-1","identifiers":[{"kind":"ipv4","value":"192.0.2.77"}]}' >/dev/null
wait_state t-2 poi-1 failed
ok 200 li-admin GET /v1/tasks | grep -q 'unreachable\|SSL\|TLS\|certificate' || fail "the failure does not say why"
[ -z "$(ne_tasks)" ] || fail "lisec-ne took a task from a rogue ADMF certificate"
ok 200 li-admin POST /v1/x1/nes "$NE" >/dev/null
wait_state t-2 poi-1 active
[ "$(ne_tasks)" = "192.0.2.77" ] || fail "lisec-ne holds $(ne_tasks), not t-2"
# An NE whose server certificate does not chain to the CA registered for it: lisecd refuses it.
ok 200 li-admin POST /v1/x1/nes "${NE//\"ca\":\"$pki\/ca.crt\"/\"ca\":\"$work/rogue/ca.crt\"}" >/dev/null
ok 200 li-admin GET /v1/x1/nes | grep -q "$work/rogue/ca.crt" || fail "the NE was not re-registered with the other CA"
ok 200 li-admin PUT /v1/targets/t-2 '{"version":1,"identifiers":[{"kind":"ipv4","value":"192.0.2.78"}]}' >/dev/null
# the NE cannot be asked: the task it was last known to run stays active, with why the update is not there
for _ in $(seq 60); do [ -n "$(task_field t-2 poi-1 error)" ] && break; ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; sleep 0.2; done
[ "$(task_state t-2 poi-1)" = active ] && task_field t-2 poi-1 error | grep -q 'unreachable' ||
  fail "t-2 after an update the NE could not get: $(task_state t-2 poi-1), $(task_field t-2 poi-1 error)"
[ "$(ne_tasks)" = "192.0.2.77" ] || fail "lisec-ne got the update over a connection lisecd could not authenticate"
ok 200 li-admin POST /v1/x1/nes "$NE" >/dev/null
for _ in $(seq 50); do [ "$(ne_tasks)" = "192.0.2.78" ] && break; ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; sleep 0.2; done
[ "$(ne_tasks)" = "192.0.2.78" ] || fail "the update did not arrive once the NE was trusted again"
pass "an ADMF certificate the NE does not trust is refused, and an NE certificate lisecd does not trust too (task failed, retried with backoff); with the right ones it is delivered"

# An RSA ADMF certificate (an OpenSSL PKI's usual kind): the handshake's
# RSA signature is made in the keys process (PSS in TLS 1.3), and the
# update reaches the NE over that connection.
openssl req -new -newkey rsa:2048 -nodes -keyout "$work/admf-rsa.key" -subj "/O=lisec development/OU=operator/CN=lisec-admf" \
  -out "$work/admf-rsa.csr" 2>/dev/null || fail "openssl cannot make an RSA key"
printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:urn:lisec:role:operator\n' >"$work/admf-rsa.ext"
openssl x509 -req -in "$work/admf-rsa.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 2 \
  -extfile "$work/admf-rsa.ext" -out "$work/admf-rsa.crt" 2>/dev/null || fail "openssl cannot sign the RSA certificate"
chmod 600 "$work/admf-rsa.key"
ok 200 li-admin POST /v1/x1/nes "${NE//$pki\/admf./$work/admf-rsa.}" >/dev/null
ok 200 li-admin GET /v1/x1/nes | grep -q "admf-rsa.crt" || fail "the NE was not re-registered with the RSA certificate"
ok 200 li-admin PUT /v1/targets/t-2 '{"version":2,"identifiers":[{"kind":"ipv4","value":"192.0.2.79"}]}' >/dev/null
for _ in $(seq 50); do [ "$(ne_tasks)" = "192.0.2.79" ] && break; ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; sleep 0.2; done
[ "$(ne_tasks)" = "192.0.2.79" ] || fail "the update did not arrive with an RSA ADMF certificate: $(task_field t-2 poi-1 error)"
grep -q 'did not sign the handshake' "$work/lisecd.log" && fail "the keys process refused an RSA handshake signature"
ok 200 li-admin POST /v1/x1/nes "$NE" >/dev/null
pass "an RSA ADMF certificate: the keys process signs its TLS handshake (RSA-PSS) and the update is delivered"

# The CLI: lisec target add|get|list|update|remove and lisec task list.
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
printf 'imsi=244051234567892\n# a comment\nemail=x@example.org\n' >"$work/ids.txt"
cli li-admin target add t-3 --authorisation li-1 --ids "$work/ids.txt" >/dev/null || fail "lisec target add"
cli li-admin target list | grep -q '^t-3 .*li-1 .*v1' || fail "lisec target list"
cli li-admin target list | grep -q '244051234567892' && fail "lisec target list shows identifiers"
cli li-admin target get t-3 | grep -q 'imsi .*244051234567892' || fail "lisec target get"
cli li-admin target update t-3 --version 1 --id imsi=244051234567893 | grep -q 'v2' || fail "lisec target update"
rc=0; cli operator target get t-3 >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "lisec target get as operator: exit $rc, not 1 (refused)"
for _ in $(seq 50); do
  cli li-admin task list | grep -q '^t-3 .*poi-1 .*li-1 .*active .*2/2' && break
  cli li-admin task reconcile >/dev/null; sleep 0.2
done
cli li-admin task list | grep -q '^t-3 .*poi-1 .*li-1 .*active .*2/2' || { cli li-admin task list; fail "lisec task list"; }
rc=0; cli auditor task list >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "lisec task list as auditor: exit $rc, not 1 (refused)"
cli li-admin target remove t-3 >/dev/null || fail "lisec target remove"
wait_state t-3 poi-1 deactivated
pass "lisec target add/get/list/update/remove and lisec task list (li-admin; others refused)"

for v in 244051234567890 244051234567891 244051234567892 244051234567893 358401234567 192.0.2.77 192.0.2.78; do
  { sqlite3 "$work/lisec.db" .dump; strings "$work/lisec.db"*; } | grep -q "$v" && fail "the database holds '$v' in clear"
done
pass "the database holds no identifier in clear"
stop_lisecd
stop_ne
sanitizer_clean "$work/lisecd.log"
sanitizer_clean "$work/ne.log"
pass "lisecd and lisec-ne stop cleanly"
