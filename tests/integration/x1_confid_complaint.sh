#!/usr/bin/env bash
# A schema complaint quotes the value it refuses (libxml2 does), and a
# target identifier's value is what an X1 task carries: an NE's 1010 answer
# to an ActivateTask (here x1_admf_ne.py's "complain" mode in front of a
# real lisec-ne, answering as a third-party NE would), and lisecd's own
# builder refusing a value the vault takes and the schema does not (an
# e-mail domain with "_"). Proves such words reach only the sealed audit
# records and the LI administration's views (the NE's X1 status): not
# lisecd's log, not the task as stored (the database holds no identifier
# in clear) and shown, not what operator and auditor read over the API
# (/v1/tasks, the NE's status, /metrics: refused or without it; the audit
# entries in clear). The task says, in lisec's words, that they were
# withheld, naming TR103308-5.7 and the sealed entry.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_topology.sh"
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/pin"
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null

ne_port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-1 --admf-id lisec-admf --state "$work/ne-tasks.json" 2>>"$work/ne.log" &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null")
wait_port "$ne_port"
echo complain >"$work/mode"
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
li_topology
ok 200 li-admin POST /v1/x1/nes "$(li_ne_json poi-1 "$px_port" vm-li 192.0.2.200)" >/dev/null
task_field() { # TARGET FIELD
  ok 200 li-admin GET /v1/tasks | jq -r --arg t "$1" --arg f "$2" \
    '[.tasks[] | select(.target == $t and .ne == "poi-1") | .[$f]][0] // "none"'
}
wait_error() { # TARGET TEXT: until the task's error says TEXT
  for _ in $(seq 100); do
    task_field "$1" error | grep -qF "$2" && return 0
    ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
    sleep 0.1
  done
  fail "task $1's error never said '$2': $(task_field "$1" error)"
}

# The NE's 1010, quoting the target it was asked to intercept.
ne_value=198.51.100.77
ok 201 li-admin POST /v1/targets "{\"id\":\"t-1\",\"authorisation\":\"li-1\",\"identifiers\":[{\"kind\":\"ipv4\",\"value\":\"$ne_value\"}]}" >/dev/null
wait_error t-1 'X1 error 1010'
grep -q 'ActivateTask complain' "$work/sent.modes" || fail "the NE was not asked to activate t-1"
# the LI administration's view of the NE: its latest error, whole
ok 200 li-admin GET /v1/x1/nes/poi-1 | grep -qF "The value '$ne_value'" ||
  fail "li-admin's NE status does not carry the NE's complaint: $(ok 200 li-admin GET /v1/x1/nes/poi-1)"
# lisecd's own builder: the vault takes it, ETSI's EmailAddress does not
built_value=zq7secret@host_x.example
ok 201 li-admin POST /v1/targets "{\"id\":\"t-2\",\"authorisation\":\"li-1\",\"identifiers\":[{\"kind\":\"email\",\"value\":\"$built_value\"}]}" >/dev/null
wait_error t-2 'does not validate against TS 103 221-1'
for t in t-1 t-2; do
  e=$(task_field $t error)
  grep -qF -e "$ne_value" -e zq7secret <<<"$e" && fail "task $t's error, as stored and shown, quotes the target: $e"
  grep -q 'TR103308-5.7.*withheld\|withheld.*TR103308-5.7' <<<"$e" && grep -q 'audit entry [0-9]*, sealed' <<<"$e" ||
    fail "task $t's error does not say its complaint is withheld (TR103308-5.7) and where: $e"
done
pass "the task shows lisec's words and the sealed entry, not the complaint: $(task_field t-1 error)"

# The LI administration reads the whole: its NE status and the sealed records.
lisec audit read --db "$work/lisec.db" --li-key "$work/li-admin.key" --json >"$work/opened.json" 2>"$work/read.err" ||
  fail "lisec audit read: $(cat "$work/read.err")"
for v in "$ne_value" zq7secret; do
  jq -e --arg v "$v" '[.entries[] | select(.sealed and .action == "x1.activate" and .outcome == "failed"
    and (.reasons | join(" ") | contains($v)))] | length > 0' "$work/opened.json" >/dev/null ||
    fail "no sealed x1.activate failed record carries the complaint about $v"
done
pass "li-admin reads the complaints whole: the NE's status and the sealed x1.activate records"

# Nobody else does: lisecd's log, operator's and auditor's API answers, the
# audit entries in clear, the database.
leaks() { grep -qF -e "$ne_value" -e zq7secret -e 'host_x'; }
leaks <"$work/lisecd.log" && fail "lisecd's log quotes a target: $(grep -F -e "$ne_value" -e zq7secret "$work/lisecd.log" | head -3)"
for role in operator auditor; do
  for path in /v1/tasks /v1/x1/nes /v1/x1/nes/poi-1 /metrics /v1/status; do
    out=$(api $role GET $path)
    leaks <<<"$out" && fail "$role GET $path shows a target: $out"
  done
  out=$(api $role GET /v1/tasks)
  [ "${out##*$'\n'}" = 403 ] || fail "$role GET /v1/tasks -> ${out##*$'\n'}, not 403"
done
as auditor "$LISECD_URL/v1/audit/entries?from=0&count=10000" >"$work/entries.json" || fail "auditor: the audit entries"
python3 - "$work/entries.json" "$ne_value" zq7secret <<'PY' || fail "an audit entry in clear quotes a target"
import base64, json, sys
entries = json.load(open(sys.argv[1]))["entries"]
assert entries, "no entries"
for e in entries:
    d = base64.b64decode(e["data"])
    for v in sys.argv[2:]:
        if not e["sealed"] and v.encode() in d:
            sys.exit("entry %d in clear: %r" % (e["index"], d))
PY
{ sqlite3 "$work/lisec.db" .dump; strings "$work/lisec.db"*; } | leaks && fail "the database holds a target in clear"
pass "lisecd's log, operator's and auditor's answers, the clear audit entries and the database quote no target"

echo pass >"$work/mode"
ok 200 li-admin DELETE /v1/targets/t-2 >/dev/null
for _ in $(seq 100); do [ "$(task_field t-1 state)" = active ] && break; ok 200 li-admin POST /v1/tasks/reconcile >/dev/null; sleep 0.1; done
[ "$(task_field t-1 state)" = active ] || fail "t-1 not active once the NE takes it: $(task_field t-1 error)"
[ "$(task_field t-1 error)" = "" ] || fail "t-1's error stays once active: $(task_field t-1 error)"
stop_clean
pass "once the NE takes it, the task is active and its error gone; lisecd stops cleanly"
