#!/usr/bin/env bash
# The audit checkpoint key in a real PKCS#11 token (SoftHSM2 2.6, Ed25519 with
# CKM_EDDSA): the appender's unit tests run with the key generated in and
# used from the token, then a log is written with it and verified with the
# verifier key the appender exported; openssl checks one checkpoint's
# signature against that key on its own.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
softhsm_eddsa_token lisec-test 1234
"$build/src/audit/test_auditlog" >"$work/unit.out" 2>&1 || { cat "$work/unit.out"; fail "test_auditlog with SoftHSM2"; }
# every case that ran passed (at least the 7 this script was written for)
runs=$(grep -c '^\[ RUN' "$work/unit.out" || true)
[ "$runs" -ge 7 ] && grep -q "PASSED  \] $runs test" "$work/unit.out" ||
  { cat "$work/unit.out"; fail "test_auditlog summary: $runs cases ran, not all passed"; }
pass "appender tests with the checkpoint key in SoftHSM2"

cd "$work"
"$build/src/audit/audit_crash_driver" --url "sqlite:$work/hsm.db" --key unused.pem --threads 4 --count 100 \
  --checkpoint-entries 100 --vkey-out vkey >/dev/null 2>driver.err || { cat driver.err; fail "driver with the token key"; }
[ ! -e unused.pem ] || fail "a development key file was made although the token was configured"
! grep -q "development" driver.err || fail "the token key was reported as a development key"
lisec audit verify --db hsm.db --pubkey vkey >verify.out || { cat verify.out; fail "verify a token-signed log"; }
grep -q "audit log intact: 400 entries" verify.out || fail "verify summary"
note=$(sqlite3 hsm.db "SELECT note FROM checkpoints ORDER BY tree_size DESC LIMIT 1")
python3 - "$note" vkey "$work" <<'PY'
import base64, sys
note = sys.argv[1] + "\n"
name, kid, kb = open(sys.argv[2]).read().strip().split("+", 2)
pk = base64.b64decode(kb)[1:]
i = note.rindex("\n\n")
open(sys.argv[3] + "/body", "wb").write(note[:i + 1].encode())
open(sys.argv[3] + "/sig", "wb").write(base64.b64decode(note[i + 2:].split(" ")[2])[4:])
open(sys.argv[3] + "/pub.der", "wb").write(bytes.fromhex("302a300506032b6570032100") + pk)
PY
openssl pkeyutl -verify -pubin -inkey pub.der -keyform DER -rawin -in body -sigfile sig >/dev/null ||
  fail "openssl does not verify the token's checkpoint signature"
# The private key is in the token, sensitive and not extractable.
pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec-test --login --pin 1234 --list-objects --type privkey 2>/dev/null >objs
grep -q "lisec-audit-checkpoint" objs || fail "no checkpoint key object in the token"
grep -A8 "lisec-audit-checkpoint" objs | grep -qi "never extractable" || { cat objs; fail "the token key is extractable"; }
pass "a log signed in SoftHSM2 verifies; openssl checks the token's Ed25519 signature"
