#!/usr/bin/env bash
# Backup and restore that keep the audit log honest (issue 21 item 4):
# `lisec backup` copies the store while lisecd writes (the copy's log
# verifies), more activity follows and an auditor sees it, then `lisec
# restore` puts the older copy back. lisecd records and signs the restore
# at its next start, so that auditor is told of it by the log and finds no
# rollback, and so is a fresh one; a copy put back by hand instead is a
# rollback for the same auditor. Refused, with the store unchanged: a backup
# of another deployment, a truncated backup. The same on PostgreSQL with
# pg_dump / pg_restore.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
pki=$work/pki
make_pki "$pki"
cd "$work"
# Refusals are the test's audit records: the refusal limit ([api]
# refusal_rate) is off, or past its burst they would be answered 429 and not
# recorded, and the log would stop growing at whatever the bucket allowed.
conf=("[audit]" "checkpoint_entries = 4" "checkpoint_ms = 100" "vkey_file = $work/lisecd.vkey"
  "[api]" "refusal_rate = 0")
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
# activity N: N refused reads of the log, each an audit record
activity() { for _ in $(seq 1 "$1"); do as tenant-example -o /dev/null "$LISECD_URL/v1/audit/entries"; done; }
# signed_beyond N: waits until a checkpoint covers more than N entries
signed_beyond() {
  for _ in $(seq 1 300); do
    s=$(as auditor "$LISECD_URL/v1/audit/checkpoint" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["tree_size"])' 2>/dev/null || echo 0)
    [ "$s" -gt "$1" ] && return 0
    sleep 0.1
  done
  fail "no checkpoint beyond $1 entries (the last covers $s)"
}
size_of() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from audit_log").fetchone()[0])' "$1"; }

start_lisecd "$pki" "${conf[@]}"
activity 10
signed_beyond 8
# Online: the copy is taken while four clients keep writing.
writers=()
for w in 1 2 3 4; do (activity 40 >/dev/null 2>&1 || true) & writers+=($!); done
lisec backup --db "sqlite:$work/lisec.db" b1.db >backup.out || { cat backup.out; fail "backup"; }
wait "${writers[@]}"
lisec audit verify --db b1.db --pubkey lisecd.vkey >b1.out || { cat b1.out; fail "the backup taken under load does not verify"; }
b1=$(size_of b1.db)
pass "lisec backup took a consistent copy ($b1 entries) while lisecd was writing"

activity 20
signed_beyond $((b1 + 10))
cli auditor audit verify --pubkey lisecd.vkey --state st.json >v1.out || { cat v1.out; fail "verify before the restore"; }
cp st.json st-hand.json
stop_lisecd
cp lisec.db current.db

# By hand: the older copy over the store, nothing recorded. The keys
# process (the log's witness, keys/witness.h) signed beyond that copy: it
# signs nothing for it, and lisecd says so as an attack signal.
cp b1.db lisec.db && rm -f lisec.db-wal lisec.db-shm
start_lisecd "$pki" "${conf[@]}"
activity 6
for _ in $(seq 1 100); do
  grep -q 'ATTACK SIGNAL.*TR103308-5.5: the keys process last signed a checkpoint at size' lisecd.log && break
  sleep 0.1
done
grep -q 'ATTACK SIGNAL.*TR103308-5.5: the keys process last signed a checkpoint at size' lisecd.log ||
  fail "the witness did not refuse to sign the store put back by hand"
newest=$(sqlite3 lisec.db "SELECT max(tree_size) FROM checkpoints")
[ "$newest" -le "$b1" ] || fail "a checkpoint at $newest was signed over the store put back by hand (copy: $b1)"
as auditor "$LISECD_URL/metrics" >metrics.txt
grep -q '^lisec_audit_witness_refusals_total [1-9]' metrics.txt ||
  fail "the witness's refusal is not counted: $(grep witness metrics.txt)"
pass "the keys process signs no checkpoint over an older copy put back by hand (TR103308-5.5)"
rc=0
cli auditor audit verify --state st-hand.json >hand.out || rc=$?
[ "$rc" = 1 ] && grep -q 'rolled back\|rewritten' hand.out || { cat hand.out; fail "a restore by hand was not found to be a rollback (exit $rc)"; }
stop_lisecd
pass "an older copy put back by hand is a rollback for an auditor who saw more"

# Refused, store unchanged: another deployment's backup, a truncated one.
cp current.db lisec.db && rm -f lisec.db-wal lisec.db-shm
before=$(sha256sum lisec.db)
mkdir other && (
  work=$work/other
  cd "$work"
  start_lisecd "$pki" "[audit]" "origin = other.example/audit" "checkpoint_entries = 2" "checkpoint_ms = 100"
  activity 4
  signed_beyond 2
  stop_lisecd
)
rc=0
lisec restore other/lisec.db --db "sqlite:$work/lisec.db" --pubkey lisecd.vkey >other.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'TR103308-5.5.*another deployment' other.out || { cat other.out; fail "another deployment's backup: exit $rc"; }
head -c 3000 b1.db >trunc.db
rc=0
lisec restore trunc.db --db "sqlite:$work/lisec.db" --pubkey lisecd.vkey >trunc.out 2>&1 || rc=$?
[ "$rc" = 2 ] || { cat trunc.out; fail "a truncated backup: exit $rc"; }
[ "$(sha256sum lisec.db)" = "$before" ] || fail "a refused restore changed the store"
pass "a backup of another deployment and a truncated one are refused; the store is unchanged"

# lisec restore: recorded and signed at the next start, once the operator
# reset the witness with lisec audit witness-reset (docs/audit.md: the next
# checkpoint is trusted on first use; a development key's witness is the
# file beside it).
lisec restore b1.db --db "sqlite:$work/lisec.db" --pubkey lisecd.vkey >restore.out || { cat restore.out; fail "restore"; }
grep -q 'lisec audit witness-reset -c .* --yes' restore.out || fail "restore does not name the witness's reset: $(cat restore.out)"
PATH="$build/cmd/lisecd:$PATH" lisec audit witness-reset -c "$work/lisecd.conf" --yes >wreset.out 2>&1 ||
  fail "witness-reset: $(cat wreset.out)"
grep -q "audit-dev.pem.witness.*size [1-9]" wreset.out && [ ! -e "$work/audit-dev.pem.witness" ] ||
  fail "witness-reset of the development key's witness: $(cat wreset.out)"
start_lisecd "$pki" "${conf[@]}"
grep -q 'restored from a backup' lisecd.log || fail "lisecd did not record the restore"
# A checkpoint beyond the restore's own, then the auditor who saw more.
rcp=$(sqlite3 lisec.db "SELECT tree_size FROM checkpoints WHERE note LIKE '%lisec-restored-from%'")
[ -n "$rcp" ] || fail "no checkpoint carries the restore"
activity 6
signed_beyond $((rcp + 2))
old_seen=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checkpoint"].split("\n")[1])' st.json)
cli auditor audit verify --state st.json >v2.out || { cat v2.out; fail "the auditor who saw more after a recorded restore"; }
lisec --json --server "$LISECD_URL" --pki "$pki" --role auditor audit verify --pubkey lisecd.vkey >v3.json || { cat v3.json; fail "a fresh auditor after the restore"; }
python3 - v3.json <<'PY' || fail "the verification does not report the restore"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["intact"] and j["restores"] == 1, j
PY
grep -q 'restored' v2.out || fail "the auditor was not told of the restore: $(cat v2.out)"
sqlite3 lisec.db "SELECT count(*) FROM documents WHERE kind = 'audit.restore'" | grep -qx 0 || fail "the restore marker is still there"
pass "lisec restore: lisecd signs 'restored from checkpoint', auditors who saw more are told, not alarmed"

# The auditor's state moves to the restored history it verified and keeps
# the restore. Whoever holds the database (no key) then truncates the log
# below what the auditor verified and deletes the checkpoints above the
# restore's: that restore, already verified, excuses nothing (it did: the
# state stayed at the replaced history, and verify said intact, exit 0).
python3 - st.json "$old_seen" "$rcp" <<'PY' || fail "the state did not move to the restored history: $(cat st.json)"
import json, sys
j = json.load(open(sys.argv[1]))
size = int(j["checkpoint"].split("\n")[1])
assert int(sys.argv[3]) < size < int(sys.argv[2]), (size, sys.argv[2:])
assert [r["tree_size"] for r in j["restores"]] == [int(sys.argv[3])], j["restores"]
PY
seen=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checkpoint"].split("\n")[1])' st.json)
stop_lisecd
cp lisec.db cut.db && rm -f cut.db-wal cut.db-shm
for t in $(sqlite3 cut.db "SELECT name FROM sqlite_master WHERE type = 'trigger'"); do sqlite3 cut.db "DROP TRIGGER $t"; done
sqlite3 cut.db "DELETE FROM checkpoints WHERE tree_size > $rcp; DELETE FROM audit_log WHERE idx >= $((seen - 1))"
rc=0
lisec audit verify --db cut.db --state st.json >cut.out || rc=$?
[ "$rc" = 1 ] && grep -q 'rolled back' cut.out || { cat cut.out; fail "a truncation below what the auditor saw passed as the restore it had verified (exit $rc)"; }
pass "a restore the auditor verified does not excuse a later truncation of the database"

# PostgreSQL: pg_dump and pg_restore through the same commands.
pgdir=$(mktemp -d "$tmp_base/lisec-pg-backup-XXXXXX")
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
# a new log under the same key: to the witness a fork, until it is reset
rm "$work/audit-dev.pem.witness"
STORE_URL=$url start_lisecd "$pki" "${conf[@]}"
activity 8
signed_beyond 6
lisec backup --db "$url" pg.dump >/dev/null || fail "pg backup"
activity 8
stop_lisecd
lisec restore pg.dump --db "$url" --pubkey lisecd.vkey >pgr.out || { cat pgr.out; fail "pg restore"; }
rm "$work/audit-dev.pem.witness"
STORE_URL=$url start_lisecd "$pki" "${conf[@]}"
grep -q 'restored from a backup' lisecd.log || fail "lisecd on PostgreSQL did not record the restore"
cli auditor audit verify --pubkey lisecd.vkey >pgv.out || { cat pgv.out; fail "verify after the PostgreSQL restore"; }
pass "PostgreSQL: pg_dump backup, pg_restore, the restore recorded and the log intact"
