# Chapter 4: LI targets, encrypted under a key that never leaves a token.
say "lisecd restarts with the target vault: its key-encryption key is created inside a SoftHSM2 token"
stop_lisecd
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/vault.pin"
openssl genpkey -algorithm X25519 -out "$work/li-admin.x25519" 2>/dev/null
openssl pkey -in "$work/li-admin.x25519" -pubout -outform DER | tail -c 32 | base64 >"$work/li-admin.pub"
start_lisecd "$pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/vault.pin" \
  "key_label = lisec-kek" "[audit]" "li_admin_key = $work/li-admin.pub"
echo "   the LI administration's public key seals every LI record of the audit log"

say "The LI administration adds a target for authorisation li-7"
as li-admin -H 'Content-Type: application/json' \
  -d '{"id":"t-1","authorisation":"li-7","identifiers":[{"kind":"imsi","value":"244051234567890"},{"kind":"e164","value":"358401234567"}]}' \
  "$LISECD_URL/v1/targets" | sed 's/^/   /'

say "An IMSI of the wrong length is refused, naming the field"
as li-admin -d '{"id":"t-2","authorisation":"li-7","identifiers":[{"kind":"imsi","value":"2440512"}]}' \
  "$LISECD_URL/v1/targets" | sed 's/^/   /'

say "The operator may not read it; the attempt itself is recorded for the LI administration"
as operator "$LISECD_URL/v1/targets/t-1" | sed 's/^/   /'

say "What the database holds: no identifier, only the sealed form"
sqlite3 "$work/lisec.db" "SELECT body FROM documents WHERE kind = 'target'" | cut -c1-150 | sed 's/^/   /'
if strings "$work/lisec.db"* | grep -q 244051234567890; then fail "identifier found in the database"; fi
echo "   (searched the database files for 244051234567890: not there)"
echo "   audit log entries so far: $(sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log'), of which sealed: $(sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log WHERE sealed = 1')"

say "The LI administration reads it back in clear"
as li-admin "$LISECD_URL/v1/targets/t-1" | sed 's/^/   /'
