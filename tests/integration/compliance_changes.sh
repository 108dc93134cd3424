#!/usr/bin/env bash
# The ADMF records its compliance reading on a fixed schedule, not per poll
# and not on change. Per poll (every pass, 5 s) was ~17,000 records a day
# per NE (issue 25); on change, the record's presence told every reader of
# the log's entries that the LI's state had changed, e.g. after the host
# running a monitored VM lost its trust and not after its twin's (review of
# 2026-12-06). With [x1] compliance_record_s = P and an LI with a target
# (every X1 pass then reads the report): the first reading is recorded;
# passes within P add none; P later a pass over an unchanged model adds
# one; a change to the model right after it adds none until P has passed
# again; a request's own read (GET /v1/compliance) is still recorded each
# time. Counted from the audit log opened with the LI administration's key.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_topology.sh"
pki=$work/pki
make_pki "$pki"
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null
head -c 32 /dev/urandom >"$work/kek.bin"
P=15
conf=("[vault]" "development_key_file = $work/kek.bin" "allow_development_key = true"
  "[audit]" "li_admin_key = $work/li-admin.pub" "[model]" "allow_declared_trust = true"
  "[x1]" "compliance_record_s = $P")
start_lisecd "$pki" "${conf[@]}"

ok() { # expected-status ROLE METHOD PATH [BODY]
  local want=$1 role=$2 method=$3 path=$4 out
  if [ $# -ge 5 ]; then out=$(as "$role" -X "$method" -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$5" "$LISECD_URL$path")
  else out=$(as "$role" -X "$method" -w '\n%{http_code}' "$LISECD_URL$path"); fi
  [ "${out##*$'\n'}" = "$want" ] || fail "$role $method $path -> ${out##*$'\n'} (want $want): ${out%$'\n'*}"
}
# times [ACTOR]: the time (ms) of each compliance.read the audit log holds,
# of ACTOR's only when given, one a line
times() {
  lisec audit read --db "$work/lisec.db" --li-key "$work/li-admin.key" --json >"$work/audit.json" 2>"$work/audit.err" ||
    fail "lisec audit read: $(cat "$work/audit.err")"
  python3 - "$work/audit.json" "${1:-}" <<'PY'
import json, sys
for e in json.load(open(sys.argv[1]))["entries"]:
    if e.get("action") == "compliance.read" and (not sys.argv[2] or e.get("actor") == sys.argv[2]):
        print(e["time_ms"])
PY
}
admf() { times lisecd/admf; }   # the ADMF's records
reads() { admf | wc -l; }       # how many
now_ms() { date +%s%3N; }

li_topology # lib/li_topology.sh's: LI li-1, its LI VM vm-li on trusted hel-1
loc='"location":{"country":"FI","source":"administrative"}' # hel-1's, for the PUT below
ok 201 li-admin POST /v1/targets '{"id":"t-1","authorisation":"li-1","identifiers":[{"kind":"imsi","value":"244051234567890"}]}'

# The first pass after the target records the report once; passes within
# the period add none.
for _ in $(seq 60); do [ "$(reads)" -ge 1 ] && break; ok 200 li-admin POST /v1/tasks/reconcile; sleep 0.2; done
[ "$(reads)" = 1 ] || fail "the first pass recorded $(reads) compliance.read (want 1)"
t1=$(admf | head -n1)
for _ in $(seq 5); do ok 200 li-admin POST /v1/tasks/reconcile; done
[ "$(reads)" = 1 ] || fail "5 passes within the period added $(($(reads) - 1)) compliance.read records (want 0)"
[ "$(now_ms)" -lt $((t1 + P * 1000)) ] || fail "the passes took longer than the period ($P s): raise P"
pass "the first reading is recorded; 5 passes within the period add none"

# P later, a pass over the same model records it again (on change: never).
deadline=$(($(now_ms) + (P + 20) * 1000))
while [ "$(reads)" -lt 2 ] && [ "$(now_ms)" -lt "$deadline" ]; do ok 200 li-admin POST /v1/tasks/reconcile; sleep 0.5; done
[ "$(reads)" = 2 ] || fail "no second compliance.read within $((P + 20)) s over an unchanged model ($(reads) in all)"
t2=$(admf | sed -n 2p)
[ $((t2 - t1)) -ge $((P * 1000 - 200)) ] || fail "the second record came $((t2 - t1)) ms after the first (period $P s)"
pass "$P s later a pass over an unchanged model records its reading again ($((t2 - t1)) ms apart)"

# A change right after (the LI VM's host loses trust): no record until the
# period has passed again, however many passes follow.
ok 200 operator PUT /v1/model/host/hel-1 "{\"id\":\"hel-1\",\"trust\":\"untrusted\",\"protection\":\"li\",$loc}"
for _ in $(seq 3); do ok 200 li-admin POST /v1/tasks/reconcile; done
[ "$(reads)" = 2 ] || fail "a change and 3 passes within the period: $(($(reads) - 2)) new compliance.read records (want 0)"
[ "$(now_ms)" -lt $((t2 + P * 1000)) ] || fail "the passes took longer than the period ($P s): raise P"
pass "a change to the model and 3 passes within the period: no new compliance.read"

# A request's read is an act of its own: recorded each time.
all=$(times | wc -l)
ok 200 li-admin GET /v1/compliance
ok 200 auditor GET /v1/compliance
[ "$(times | wc -l)" = "$((all + 2))" ] || fail "two GET /v1/compliance: $(($(times | wc -l) - all)) records (want 2)"
pass "each GET /v1/compliance is still recorded"

# lisecd's log is the operator's to read (§4.1): the count of violations it
# logs when it loads the trust model leaves the LI rows out, as the
# operator's report does. hel-1 is untrusted now (the LI VM's host: LI rows
# for li-admin); restarted over it and over hel-1 trusted again, lisecd logs
# the same count, and the operator's report reads the same.
loaded() { # the count of the "trust model loaded" line of this start
  local n
  n=$(sed -n 's/.*trust model loaded: .*, \([0-9]*\) violations.*/\1/p' "$work/lisecd.log" | tail -n1)
  [ -n "$n" ] || { cat "$work/lisecd.log" >&2; fail "lisecd logged no 'trust model loaded' line with a count"; }
  echo "$n"
}
operator_view() { as operator "$LISECD_URL/v1/compliance" | jq -c 'del(.audit_index, .time)'; }
li_rows() { as li-admin "$LISECD_URL/v1/compliance" | jq '[.violations[] | select(.requirement | test("^TR103308-(6.2-R[0-9]+|4.2-KNOWN|4.2-STORE)$"))] | length'; }
stop_lisecd
start_lisecd "$pki" "${conf[@]}"
[ "$(li_rows)" -ge 1 ] || fail "hel-1 untrusted, yet li-admin's report holds no LI row (the check below would prove nothing)"
n_untrusted=$(loaded)
view_untrusted=$(operator_view)
ok 200 operator PUT /v1/model/host/hel-1 "{\"id\":\"hel-1\",\"trust\":\"trusted\",\"protection\":\"li\",$loc}"
[ "$(li_rows)" = 0 ] || fail "hel-1 trusted again, yet li-admin's report still holds LI rows"
stop_lisecd
start_lisecd "$pki" "${conf[@]}"
n_trusted=$(loaded)
[ "$(operator_view)" = "$view_untrusted" ] || fail "the operator's report differs with hel-1 trusted and untrusted"
[ "$n_untrusted" = "$n_trusted" ] ||
  fail "lisecd's log says the trust model loaded with $n_untrusted violations over the LI VM's host untrusted, $n_trusted over it trusted: the operator's log counts the LI rows"
pass "the count of violations lisecd logs at load leaves the LI rows out ($n_trusted either way)"
