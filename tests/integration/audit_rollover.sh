#!/usr/bin/env bash
# Checkpoint key rollover (issue 21 item 5) with the key in a real SoftHSM2
# token: the LI administration rolls the key over; the rollover checkpoint
# is signed by both keys (checked here with openssl, not lisec); an auditor
# who pinned the old key follows it once and keeps the new one; a fresh
# auditor with either key alone verifies the whole log; the old key is gone
# from the token and lisecd restarts on the new one. Refused: another role,
# a rollover note stripped of the old key's signature, or of the new one's.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
softhsm_eddsa_token lisec 1234
pki=$work/pki
make_pki "$pki"
cd "$work"
echo 1234 >pin
conf=("[audit]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/pin"
      "key_label = lisec-audit" "checkpoint_entries = 4" "checkpoint_ms = 100" "vkey_file = $work/lisecd.vkey")
start_lisecd "$pki" "${conf[@]}"
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
activity() { for _ in 1 2 3 4 5 6; do as tenant-example -o /dev/null "$LISECD_URL/v1/audit/entries"; done; }
pubs() { pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 1234 --list-objects --type pubkey 2>/dev/null; }

activity
cp lisecd.vkey old.vkey
cli auditor audit verify --pubkey old.vkey --state st.json >v0.out || { cat v0.out; fail "verify before the rollover"; }

# Another role may not roll the key over; the log and the key are unchanged.
for role in operator auditor; do
  [ "$(as $role -o body -w '%{http_code}' -X POST "$LISECD_URL/v1/audit/rollover")" = 403 ] || fail "$role rolled the key over"
done
cmp -s lisecd.vkey old.vkey || fail "a refused rollover changed the key"

cli li-admin audit rollover >ro.out || { cat ro.out; fail "rollover"; }
grep -q 'checkpoint key rolled over' ro.out || fail "rollover output: $(cat ro.out)"
! cmp -s lisecd.vkey old.vkey || fail "vkey_file still names the old key"
cp lisecd.vkey new.vkey
activity
pass "the LI administration rolled the checkpoint key over; other roles got 403"

# The rollover checkpoint: one note, two signature lines, each verified by openssl.
note=$(sqlite3 lisec.db "SELECT note FROM checkpoints WHERE note LIKE '%lisec-key-rollover%'")
[ -n "$note" ] || fail "no rollover checkpoint in the store"
python3 - "$note" old.vkey new.vkey "$work" <<'PY'
import base64, sys
note = sys.argv[1] + "\n"
i = note.rindex("\n\n")
body, sigs = note[:i + 1], note[i + 2:].strip().split("\n")
assert len(sigs) == 2, sigs
open(sys.argv[4] + "/body", "wb").write(body.encode())
for n, (vk, line) in enumerate(zip(sys.argv[2:4], sigs)):
    name, kid, kb = open(vk).read().strip().split("+", 2)
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[:4].hex() == kid, (raw[:4].hex(), kid)
    open(f"{sys.argv[4]}/sig{n}", "wb").write(raw[4:])
    open(f"{sys.argv[4]}/pub{n}.der", "wb").write(bytes.fromhex("302a300506032b6570032100") + base64.b64decode(kb)[1:])
PY
for n in 0 1; do
  openssl pkeyutl -verify -pubin -inkey pub$n.der -keyform DER -rawin -in body -sigfile sig$n >/dev/null ||
    fail "openssl does not verify signature $n of the rollover checkpoint"
done
pass "the rollover checkpoint is signed by the old and the new key (openssl verifies both)"

# The auditor who pinned the old key follows the rollover once and keeps the new key.
cli auditor audit verify --state st.json >v1.out || { cat v1.out; fail "verify across the rollover"; }
grep -q 'rolled over' v1.out || fail "the rollover was not reported: $(cat v1.out)"
python3 -c 'import json,sys; assert json.load(open("st.json"))["vkey"] == open("new.vkey").read().strip()' ||
  fail "the state file did not move to the new key"
cli auditor audit verify --pubkey old.vkey >v2.out || { cat v2.out; fail "a fresh auditor with the old key"; }
cli auditor audit verify --pubkey new.vkey >v3.out || { cat v3.out; fail "a fresh auditor with the new key"; }
[ "$(pubs | grep -c 'label: *lisec-audit')" = 1 ] || { pubs; fail "the token does not hold exactly one checkpoint key"; }
! pubs | grep -q 'lisec-audit\.' || { pubs; fail "a next or retired key is left in the token"; }
pass "auditors pinned to either key verify the whole log; the old key is gone from the token"

stop_lisecd
start_lisecd "$pki" "${conf[@]}"
cmp -s lisecd.vkey new.vkey || fail "lisecd restarted on another key"
activity
cli auditor audit verify --state st.json >v4.out || { cat v4.out; fail "verify after the restart"; }
stop_lisecd

# Tampering with the rollover: either signature removed is refused, by the
# auditor and by lisecd, which will not extend such a log.
for which in 0 1; do
  cp lisec.db t$which.db
  python3 - t$which.db $which <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); which = int(sys.argv[2])
for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'checkpoints'").fetchall():
    db.execute(f"DROP TRIGGER {t}")  # what someone with the database file can do
size, note = db.execute("SELECT tree_size, note FROM checkpoints WHERE note LIKE '%lisec-key-rollover%'").fetchone()
i = note.rindex("\n\n")
sigs = note[i + 2:].rstrip("\n").split("\n")
del sigs[which]
db.execute("UPDATE checkpoints SET note = ? WHERE tree_size = ?", (note[:i + 2] + "\n".join(sigs) + "\n", size))
db.commit()
PY
  rc=0
  lisec audit verify --db t$which.db --pubkey old.vkey >t$which.out 2>&1 || rc=$?
  [ "$rc" = 1 ] || { cat t$which.out; fail "a rollover without signature $which: exit $rc, want 1"; }
done
grep -q 'not signed by the new key' t1.out || fail "the missing new signature is not named: $(cat t1.out)"
cp t0.db lisec.db
rc=0
timeout 60 "$build/cmd/lisecd/lisecd" -c lisecd.conf 2>refused.log || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "lisecd extended a log whose rollover lacks the old key's signature (exit $rc)"
grep -q 'TR103308-5.5' refused.log || fail "the refusal does not name TR103308-5.5: $(tail -3 refused.log)"
pass "a rollover missing either signature is refused by the auditor and by lisecd (TR103308-5.5)"
