#!/usr/bin/env bash
# kill -9 in the middle of concurrent appends, again and again: every index
# the appender acknowledged before the kill is in the log afterwards, the
# appender reopens the log (checking it) and goes on, and after the loop
# `lisec audit verify` finds the log intact. Runs on SQLite (WAL,
# synchronous=FULL), then on a PostgreSQL server started for the test. kill -9 loses the process, not the
# machine: it shows that nothing is acknowledged before its commit returns;
# it does not simulate power loss.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"

driver=$build/src/audit/audit_crash_driver
cd "$work"
openssl genpkey -algorithm ed25519 -out cp.pem 2>/dev/null
lisec audit li-keygen li.key li.pub

# crash_loop URL ROUNDS THREADS
crash_loop() {
  local url=$1 rounds=$2 threads=$3 acked=0
  : >acks.all
  for round in $(seq 1 "$rounds"); do
    "$driver" --url "$url" --key cp.pem --li-pub li.pub --threads "$threads" --count 0 \
      --checkpoint-entries 500 --checkpoint-ms 200 --vkey-out vkey >acks.$round 2>driver.$round.log &
    local pid=$! i
    # Once appends are being acknowledged (opening the log takes longer on a
    # loaded machine or under the sanitizer), let it run a random while more
    # (0.1 .. 0.8 s), then kill it without warning.
    for i in $(seq 1 600); do
      [ -s acks.$round ] || ! kill -0 "$pid" 2>/dev/null && break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null || { cat driver.$round.log; fail "round $round: the driver exited before the kill"; }
    sleep "0.$((RANDOM % 8 + 1))"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    grep -q "append:" driver.$round.log && { cat driver.$round.log; fail "round $round: an append failed"; }
    # A line cut by the kill is not an acknowledgement.
    grep -E '^[0-9]+$' acks.$round >>acks.all || true
    acked=$(wc -l <acks.all)
  done
  # Reopen once more: the load checks the log, one more record goes in, and
  # a clean close signs everything.
  "$driver" --url "$url" --key cp.pem --li-pub li.pub --threads 1 --count 1 --vkey-out vkey \
    >/dev/null 2>driver.final.log || { cat driver.final.log; fail "reopening after the crashes"; }
  [ "$acked" -gt 0 ] || fail "no append was acknowledged in $rounds rounds"
  sort -n -u acks.all >acks.sorted
  [ "$(wc -l <acks.sorted)" -eq "$acked" ] || fail "an index was acknowledged twice"
  lisec audit verify --db "$url" --pubkey vkey >verify.out 2>&1 || { cat verify.out; fail "verify after the crash loop"; }
  local size
  size=$(sed -n 's/^audit log intact: \([0-9]*\) entries.*/\1/p' verify.out)
  [ -n "$size" ] || { cat verify.out; fail "verify summary"; }
  ! grep -q "not signed yet" verify.out || { cat verify.out; fail "the clean close left entries unsigned"; }
  # Every acknowledged index is below the size (the log has no gaps: verify
  # checked that), so every acknowledged entry is there.
  [ "$(tail -n 1 acks.sorted)" -lt "$size" ] || fail "acknowledged index $(tail -n 1 acks.sorted) beyond the log's $size entries"
  pass "$url: $rounds kill -9 rounds with $threads writers: $acked acknowledged, all in the log of $size; $(head -c 60 verify.out)"
}

crash_loop "sqlite:$work/crash.db" 8 8
# The entries are the ones acknowledged: the entry at each index says so.
lisec audit read --db "$work/crash.db" --li-key li.key --json >read.json
python3 - read.json acks.sorted <<'PY'
import json, sys
entries = json.load(open(sys.argv[1]))["entries"]
assert all(e["seq"] == e["index"] for e in entries), "an entry's sequence number differs from its index"
assert all("actor" in e for e in entries), "an entry did not open or decode"
PY
pass "every entry opens and carries its own index"

pgdir=$(mktemp -d "$tmp_base/lisec-pg-crash-XXXXXX")
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
crash_loop "$url" 5 8
echo "audit_crash: no acknowledged entry lost"
