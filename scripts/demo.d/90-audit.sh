# The last chapter of `make demo`: everything the chapters before did left a
# record in the audit log. An auditor verifies the whole log against signed
# checkpoints, gets a proof any RFC 9162 verifier can check, and sees
# tampering found; the LI administration alone opens the sealed records.
# shellcheck shell=bash disable=SC2154  # sourced by scripts/demo

say "The auditor verifies the whole audit log this demo wrote, from lisecd, against a pinned key"
as auditor "$LISECD_URL/v1/audit/vkey" | python3 -c 'import json,sys; print(json.load(sys.stdin)["vkey"])' \
  >"$work/audit.vkey"
explain "The verifier key (compare it over a trusted channel before pinning it):" "$(cat "$work/audit.vkey")"
as operator -o /dev/null "$LISECD_URL/v1/audit/checkpoint"
sleep 1 # the checkpoint thread signs what the chapters wrote within checkpoint_ms
run cli_as auditor audit verify --pubkey "$work/audit.vkey" --state "$work/auditor-state.json"

say "An inclusion proof for the first record, as JSON any RFC 9162 verifier can check"
run cli_as auditor audit prove --pubkey "$work/audit.vkey" --index 0

say "The LI administration opens the sealed records with its secret key; the auditor saw only ciphertext"
openssl pkey -in "$work/li-admin.x25519" -outform DER | tail -c 32 | base64 >"$work/li-admin.key"
chmod 600 "$work/li-admin.key"
show cli_as li-admin audit read --li-key "$work/li-admin.key" "| grep 'LI, opened'"
cli_as li-admin audit read --li-key "$work/li-admin.key" | grep -A1 'LI, opened' | sed -n '1,12s/^/     /p'
echo "     ..."
explain "With any other key they stay closed:"
lisec audit li-keygen "$work/other.key" "$work/other.pub" >/dev/null
first=$(sqlite3 "$work/lisec.db" "SELECT min(idx) FROM audit_log WHERE sealed = 1")
expect_fail cli_as li-admin audit read --li-key "$work/other.key" --from "$first" --to $((first + 2))

say "A tamperer edits one record in a copy of the database; verification finds it and says where"
stop_lisecd
cp "$work/lisec.db" "$work/tampered.db" # lisecd folded its WAL into the file when it stopped
for t in $(sqlite3 "$work/tampered.db" "SELECT name FROM sqlite_master WHERE type = 'trigger'"); do
  sqlite3 "$work/tampered.db" "DROP TRIGGER $t"
done
show sqlite3 tampered.db "UPDATE audit_log SET data = ... WHERE idx = 1"
sqlite3 "$work/tampered.db" \
  "UPDATE audit_log SET data = CAST(substr(data, 1, 20) || X'58' || substr(data, 22) AS BLOB) WHERE idx = 1"
cp "$work/auditor-state.json" "$work/state-copy.json"
expect_fail lisec audit verify --db "$work/tampered.db" --pubkey "$work/audit.vkey" --state "$work/state-copy.json"
explain "The untouched log still verifies offline, straight from the database file:"
run lisec audit verify --db "$work/lisec.db" --pubkey "$work/audit.vkey" --state "$work/auditor-state.json"
