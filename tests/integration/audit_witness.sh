#!/usr/bin/env bash
# The keys process as the audit log's witness (keys/witness.h, TR 103 308
# §5.5), with the checkpoint key in a real SoftHSM2 token: the last
# checkpoint signed is a private data object in the token beside the key,
# moved at each checkpoint; lisecd restarted opens its log from the stored
# frontier (its tree deferred, the recheck held) and its next checkpoints
# are still signed, with the proof made from that frontier; the store put
# back to an older copy gets no checkpoint (an error naming TR103308-5.5,
# counted); lisecd --check-config notes the state; the operator's reset,
# lisec audit witness-reset: a wrong PIN refused, nothing removed without
# --yes, removed with it, and the next checkpoint is trusted on first use
# and recorded (audit.witness, first_use); a reset while lisecd runs is
# learnt at its next checkpoint, which records that first use as well.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
softhsm_eddsa_token lisec 1234
pki=$work/pki
make_pki "$pki"
cd "$work"
echo 1234 >pin
conf=("[audit]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/pin"
  "key_label = lisec-audit" "checkpoint_entries = 4" "checkpoint_ms = 100" "vkey_file = $work/lisecd.vkey"
  "open_full_check_below = 1" "[api]" "refusal_rate = 0")
activity() { for _ in $(seq 1 "$1"); do as tenant-example -o /dev/null "$LISECD_URL/v1/audit/entries"; done; }
newest() { as auditor "$LISECD_URL/v1/audit/checkpoint" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["tree_size"])' 2>/dev/null || echo 0; }
signed_beyond() {
  for _ in $(seq 1 300); do
    [ "$(newest)" -gt "$1" ] && return 0
    sleep 0.1
  done
  fail "no checkpoint beyond $1 entries (the last covers $(newest))"
}
# the witness's data objects in the token, one line each
objects() {
  pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 1234 --list-objects --type data \
    2>/dev/null | grep -c "label: *'lisec-audit-witness'" || true
}

start_lisecd "$pki" "${conf[@]}"
activity 10
signed_beyond 8
[ "$(objects)" = 1 ] || fail "the token holds $(objects) witness objects, not 1"
# the object is private: not listed without the PIN
pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --list-objects --type data 2>/dev/null |
  grep -q 'lisec-audit-witness' && fail "the witness object is listed without a login"
pass "the last checkpoint signed is one private data object in the token"

# Restarted, the log opens from its stored frontier; while its tree is
# rebuilt (held here) the next checkpoints are proven from that frontier.
stop_lisecd
s1=$(sqlite3 lisec.db "SELECT max(tree_size) FROM checkpoints")
cp lisec.db s1.db && rm -f s1.db-wal s1.db-shm
touch hold
lisecd_env=(env LISEC_TEST_AUDIT_RECHECK_HOLD="$work/hold")
start_lisecd "$pki" "${conf[@]}"
activity 10
signed_beyond $((s1 + 4))
[ -f hold ] || fail "the hold is gone"
grep -q 'waits for the tree' lisecd.log && fail "a checkpoint waited for the tree's rebuild"
rm hold
lisecd_env=()
[ "$(objects)" = 1 ] || fail "the token holds $(objects) witness objects after moves, not 1"
lisec audit verify --db lisec.db --pubkey lisecd.vkey >v1.out || { cat v1.out; fail "verify after the restart"; }
pass "after a restart, checkpoints are signed while the tree is deferred (proof from the stored frontier)"

# The store put back to an older copy: nothing is signed for it.
stop_lisecd
cp s1.db lisec.db && rm -f lisec.db-wal lisec.db-shm
start_lisecd "$pki" "${conf[@]}"
activity 6
for _ in $(seq 1 100); do grep -q 'ATTACK SIGNAL' lisecd.log && break; sleep 0.1; done
grep -q 'ATTACK SIGNAL.*TR103308-5.5' lisecd.log || fail "no refusal logged for a rolled back store"
[ "$(sqlite3 lisec.db "SELECT max(tree_size) FROM checkpoints")" = "$s1" ] || fail "a checkpoint was signed over the rolled back store"
as auditor "$LISECD_URL/metrics" >m.txt
grep -q '^lisec_audit_witness_refusals_total [1-9]' m.txt || fail "the refusal is not counted: $(grep witness m.txt)"
python3 - lisec.db <<'PY' || fail "the refusal is not recorded in the log"
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT data FROM audit_log").fetchall()
assert any(b"audit.witness" in bytes(r[0]) for r in rows)
PY
pass "a rolled back store gets no checkpoint: an error naming TR103308-5.5, counted and recorded"

# lisecd --check-config tells the witness's state, as a note.
stop_lisecd
"$build/cmd/lisecd/lisecd" -c lisecd.conf --check-config >check1.out 2>check1.err || true
grep -q "note: \[audit\] witness (token \"lisec\", data object \"lisec-audit-witness\"): the last checkpoint signed is at size [1-9]" check1.out ||
  fail "--check-config does not report the witness's state: $(cat check1.out check1.err)"
pass "lisecd --check-config notes the witness's state (the size last signed)"

# The operator's reset, lisec audit witness-reset (lisecd stopped). The
# command runs lisecd --witness-reset: lisecd beside lisec, else on PATH.
export PATH="$build/cmd/lisecd:$PATH"
# A wrong PIN: refused, clearly, nothing removed.
echo 9999 >badpin
sed "s|^pin_file = .*|pin_file = $work/badpin|" lisecd.conf >badpin.conf
rc=0
lisec audit witness-reset -c badpin.conf --yes >reset0.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'login refused: wrong PIN' reset0.out && grep -q 'nothing was removed' reset0.out ||
  fail "a wrong PIN: exit $rc: $(cat reset0.out)"
[ "$(objects)" = 1 ] || fail "a wrong PIN removed the witness ($(objects) objects)"
pass "witness-reset with a wrong PIN is refused and removes nothing"
# Without --yes: the state is shown, nothing is removed.
rc=0
lisec audit witness-reset -c lisecd.conf >reset1.out 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "witness-reset without --yes: exit $rc: $(cat reset1.out)"
grep -q "the last checkpoint the keys process signed is at size [1-9][0-9]*, root [0-9a-f]\{16\}" reset1.out ||
  fail "witness-reset does not show the state: $(cat reset1.out)"
grep -q 'nothing was removed: give --yes' reset1.out || fail "witness-reset without --yes: $(cat reset1.out)"
grep -q 'root [0-9a-f]\{16\}\.\.\., of the log "lisec-test/audit"' reset1.out ||
  fail "witness-reset does not show the origin the witness keeps: $(cat reset1.out)"
[ "$(objects)" = 1 ] || fail "witness-reset without --yes removed the witness ($(objects) objects)"
pass "witness-reset without --yes shows the state and removes nothing"
# Confirmed: removed; lisecd's next checkpoint is trusted on first use and recorded.
lisec audit witness-reset -c lisecd.conf --yes >reset2.out 2>&1 || fail "witness-reset --yes: $(cat reset2.out)"
grep -q 'removed: the next checkpoint lisecd signs is trusted on first use' reset2.out ||
  fail "witness-reset --yes does not say what follows: $(cat reset2.out)"
[ "$(objects)" = 0 ] || fail "witness-reset --yes left $(objects) objects"
"$build/cmd/lisecd/lisecd" -c lisecd.conf --check-config >check2.out 2>&1 || true
grep -q 'witness (token "lisec", data object "lisec-audit-witness"): absent: the next checkpoint is trusted on first use' check2.out ||
  fail "--check-config does not report the witness absent: $(cat check2.out)"
rc=0
lisec audit witness-reset -c lisecd.conf --yes >reset3.out 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q 'absent' reset3.out || fail "witness-reset with nothing to remove: exit $rc: $(cat reset3.out)"
pass "witness-reset --yes removes the state; --check-config then notes it absent"

start_lisecd "$pki" "${conf[@]}"
activity 6
signed_beyond "$s1"
grep -q 'trusted on first use' lisecd.log || fail "the first use is not logged"
[ "$(objects)" = 1 ] || fail "the first checkpoint after the reset left $(objects) witness objects"
# one audit.witness / first_use entry naming the size the log was signed to before
first_use_recorded() {
  python3 - lisec.db "$s1" <<'PY'
import sqlite3, sys
rows = [bytes(r[0]) for r in sqlite3.connect(sys.argv[1]).execute("SELECT data FROM audit_log")]
first = [r for r in rows if b"audit.witness" in r and b"first_use" in r]
sys.exit(0 if len(first) == 1 and b"signed to size %s before" % sys.argv[2].encode() in first[0] else 1)
PY
}
for _ in $(seq 1 100); do first_use_recorded && break; sleep 0.1; done
first_use_recorded || fail "the first use after the reset is not recorded in the log (audit.witness, first_use)"
stop_lisecd
lisec audit verify --db lisec.db --pubkey lisecd.vkey >v2.out || { cat v2.out; fail "verify after the reset"; }
pass "after the reset, checkpoints are published again, the first use recorded (audit.witness first_use)"

# The reset while lisecd runs: its keys process finds the state gone at the
# next checkpoint and answers ECONFLICT to the size lisecd proves from, so
# lisecd asks again and records the first use then (rather than never).
start_lisecd "$pki" "${conf[@]}"
activity 6
signed_beyond "$(sqlite3 lisec.db "SELECT max(tree_size) FROM checkpoints")"
s2=$(newest)
lisec audit witness-reset -c lisecd.conf --yes >reset4.out 2>&1 || fail "witness-reset while lisecd runs: $(cat reset4.out)"
[ "$(objects)" = 0 ] || fail "witness-reset --yes while lisecd runs left $(objects) objects"
activity 6
signed_beyond "$s2"
first_uses() {
  python3 - lisec.db "$1" <<'PY'
import sqlite3, sys
rows = [bytes(r[0]) for r in sqlite3.connect(sys.argv[1]).execute("SELECT data FROM audit_log")]
first = [r for r in rows if b"audit.witness" in r and b"first_use" in r]
sys.exit(0 if len(first) == 2 and b"signed to size " in first[1] and
         int(first[1].split(b"signed to size ")[1].split(b" ")[0]) >= int(sys.argv[2]) else 1)
PY
}
for _ in $(seq 1 100); do first_uses "$s2" && break; sleep 0.1; done
first_uses "$s2" || fail "a reset while lisecd runs is not recorded (audit.witness, first_use) at its next checkpoint"
grep -q 'ATTACK SIGNAL.*no last signed' lisecd.log && fail "the reset while running was taken for an attack"
[ "$(objects)" = 1 ] || fail "after the reset while running the token holds $(objects) witness objects"
stop_lisecd
lisec audit verify --db lisec.db --pubkey lisecd.vkey >v3.out || { cat v3.out; fail "verify after the reset while running"; }
pass "a reset while lisecd runs is recorded at its next checkpoint (audit.witness first_use)"
