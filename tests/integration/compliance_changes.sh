#!/usr/bin/env bash
# The ADMF's compliance reads are recorded when they change, not per poll
# (issue 25: a sealed compliance.read every pass, 5 s, was ~17,000 records a
# day per NE). An LI with a target makes every X1 pass read the compliance
# report; passes over an unchanged model add no compliance.read, one change
# to the model adds exactly one, and a request's own read (GET
# /v1/compliance) is still recorded each time. Counted from the audit log
# opened with the LI administration's key.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_topology.sh"
pki=$work/pki
make_pki "$pki"
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null
head -c 32 /dev/urandom >"$work/kek.bin"
start_lisecd "$pki" "[vault]" "development_key_file = $work/kek.bin" "allow_development_key = true" \
  "[audit]" "li_admin_key = $work/li-admin.pub" "[model]" "allow_declared_trust = true"

ok() { # expected-status ROLE METHOD PATH [BODY]
  local want=$1 role=$2 method=$3 path=$4 out
  if [ $# -ge 5 ]; then out=$(as "$role" -X "$method" -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$5" "$LISECD_URL$path")
  else out=$(as "$role" -X "$method" -w '\n%{http_code}' "$LISECD_URL$path"); fi
  [ "${out##*$'\n'}" = "$want" ] || fail "$role $method $path -> ${out##*$'\n'} (want $want): ${out%$'\n'*}"
}
# reads: how many compliance.read records the audit log holds
reads() {
  lisec audit read --db "$work/lisec.db" --li-key "$work/li-admin.key" --json >"$work/audit.json" 2>"$work/audit.err" ||
    fail "lisec audit read: $(cat "$work/audit.err")"
  python3 -c '
import json, sys
print(sum(1 for e in json.load(open(sys.argv[1]))["entries"] if "compliance.read" in json.dumps(e)))' "$work/audit.json"
}

li_topology # lib/li_topology.sh's: LI li-1, its LI VM vm-li on trusted hel-1
loc='"location":{"country":"FI","source":"administrative"}' # hel-1's, for the PUT below
ok 201 li-admin POST /v1/targets '{"id":"t-1","authorisation":"li-1","identifiers":[{"kind":"imsi","value":"244051234567890"}]}'

# The first pass after the target records the report once.
for _ in $(seq 60); do [ "$(reads)" -ge 1 ] && break; ok 200 li-admin POST /v1/tasks/reconcile; sleep 0.2; done
first=$(reads)
[ "$first" -ge 1 ] || fail "no compliance.read was recorded for the first pass"
for _ in $(seq 5); do ok 200 li-admin POST /v1/tasks/reconcile; done
[ "$(reads)" = "$first" ] || fail "5 passes over an unchanged model added $(($(reads) - first)) compliance.read records (want 0)"
pass "5 passes over an unchanged model: no new compliance.read ($first recorded)"

# One change (the LI VM's host loses trust): exactly one more, however many passes follow.
ok 200 operator PUT /v1/model/host/hel-1 "{\"id\":\"hel-1\",\"trust\":\"untrusted\",\"protection\":\"li\",$loc}"
for _ in $(seq 3); do ok 200 li-admin POST /v1/tasks/reconcile; done
[ "$(reads)" = "$((first + 1))" ] || fail "one change and 3 passes: $(($(reads) - first)) new compliance.read records (want 1)"
pass "one change to the model, 3 passes: exactly one new compliance.read"

# A request's read is an act of its own: recorded each time.
ok 200 li-admin GET /v1/compliance
ok 200 li-admin GET /v1/compliance
[ "$(reads)" = "$((first + 3))" ] || fail "two GET /v1/compliance: $(($(reads) - first - 1)) records (want 2)"
pass "each GET /v1/compliance is still recorded"
