#!/usr/bin/env bash
# GET /v1/audit/checkpoints is bounded like /v1/audit/entries (TR 103 308
# §5.5: anyone may verify the log, so lisecd must keep serving it). Before,
# the route answered every checkpoint ever signed in one reply, built in
# memory with every timestamp document of the log: one checkpoint every
# checkpoint_ms (10 s) while entries trickle in is 8,640 a day, each ~0.3
# KB (~4 KB with an RFC 3161 token), so within days to weeks the reply
# passed the front's 80 MiB and online `lisec audit verify` stopped
# working for good, and each read cost lisecd the whole list. Now a page
# holds at most 1,000 (`count`, default 1,000), from tree size `from`,
# with "next" when more follow; `lisec audit verify` online pages through.
# Here: 1,000+ checkpoints (one per refused request, checkpoint_entries
# = 1), the default page is 1,000 with "next", paging gives exactly the
# database's checkpoints in order, bad parameters are 400s, and online
# verify (fresh, then with its state) sees the newest checkpoint.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"

pki=$work/pki
make_pki "$pki"
cd "$work"
start_lisecd "$pki" "[api]" "refusal_rate = 0" "[audit]" "checkpoint_entries = 1" "checkpoint_ms = 20" \
  "vkey_file = $work/lisecd.vkey"
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
status() { as "$1" -o "$work/body" -w '%{http_code}' "$LISECD_URL$2"; }
cps() { sqlite3 lisec.db 'SELECT count(*) FROM checkpoints'; }

# Refused reads are recorded (refusal_rate = 0: all of them); with
# checkpoint_entries = 1 nearly each one gets a checkpoint of its own. 1,100 requests per round in one curl.
urls=()
for _ in $(seq 1 1100); do urls+=(-o /dev/null "$LISECD_URL/v1/audit/entries"); done
for _ in $(seq 1 6); do
  [ "$(cps)" -ge 1010 ] && break
  as tenant-example "${urls[@]}" 2>/dev/null || true
done
for _ in $(seq 1 100); do
  have=$(cps)
  [ "$have" -ge 1010 ] && break
  sleep 0.1
done
[ "$have" -ge 1010 ] || fail "only $have checkpoints were signed"
pass "$have checkpoints signed"

[ "$(status auditor /v1/audit/checkpoints)" = 200 ] || fail "checkpoints: $(cat body)"
# "next" is the tree size of the first checkpoint after the page's last
# (docs/audit.md): sizes skip where one checkpoint covered several entries.
python3 - body lisec.db <<'PY' || fail "the default page of checkpoints is not bounded"
import json, sqlite3, sys
j = json.load(open(sys.argv[1]))
c = j["checkpoints"]
assert len(c) == 1000, len(c)
db = sqlite3.connect(sys.argv[2], timeout=10)
(after,) = db.execute("SELECT min(tree_size) FROM checkpoints WHERE tree_size > ?", (c[-1]["tree_size"],)).fetchone()
assert j["next"] == after, (j.get("next"), c[-1]["tree_size"], after)
PY
pass "the default page holds 1,000 checkpoints and says where the next begins"

# Paging through gives exactly the database's checkpoints, oldest first.
sqlite3 lisec.db 'SELECT tree_size FROM checkpoints ORDER BY tree_size' >db-sizes
: >api-sizes
from=0
for _ in $(seq 1 20); do
  [ "$(status operator "/v1/audit/checkpoints?from=$from&count=300")" = 200 ] || fail "page at $from: $(cat body)"
  from=$(python3 - body api-sizes <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert len(j["checkpoints"]) <= 300
with open(sys.argv[2], "a") as f:
    for c in j["checkpoints"]:
        f.write("%d\n" % c["tree_size"])
print(j.get("next", ""))
PY
  )
  [ -n "$from" ] || break
done
[ -z "$from" ] || fail "paging did not end"
# Checkpoints signed after the pages were read are not in them.
head -n "$(wc -l <api-sizes)" db-sizes | cmp -s - api-sizes || fail "paged checkpoints differ from the database's"
[ "$(wc -l <api-sizes)" -ge 1010 ] || fail "paging returned $(wc -l <api-sizes) checkpoints"
pass "paging with from and next returns every checkpoint once, oldest first"

for q in 'count=0' 'count=1001' 'from=01' 'from=x' 'count=1&count=2'; do
  [ "$(status auditor "/v1/audit/checkpoints?$q")" = 400 ] || fail "checkpoints?$q was not refused: $(cat body)"
done
pass "malformed pages are refused (400)"

stop_lisecd
newest=$(sqlite3 lisec.db 'SELECT max(tree_size) FROM checkpoints')
start_lisecd "$pki" "[audit]" "checkpoint_entries = 100000" "checkpoint_ms = 600000" "vkey_file = $work/lisecd.vkey"
cli auditor --json audit verify --pubkey lisecd.vkey --state st.json >verify.json || { cat verify.json; fail "online verify"; }
python3 - verify.json "$newest" <<'PY' || fail "online verify did not read every page: $(cat verify.json)"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["intact"] is True, j["findings"]
assert j["checkpoint_size"] >= int(sys.argv[2]), (j["checkpoint_size"], sys.argv[2])
assert j["checkpoints_verified"] >= 1010, j["checkpoints_verified"]
PY
cli auditor audit verify --pubkey lisecd.vkey --state st.json >verify2.out || { cat verify2.out; fail "second online verify"; }
pass "online verify pages through every checkpoint, fresh and with its state"
stop_clean
