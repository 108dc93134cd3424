#!/usr/bin/env bash
# The target vault through lisecd, with the KEK in a real SoftHSM2 token and
# LI records sealed to an LI administration key made with openssl: only
# li-admin may touch targets and others' attempts are recorded; bad
# identifiers are refused naming the field; a refused update or add is
# recorded sealed, naming TR103308-5.2 and the rule but no identifier, and
# leaves the stored target as it was; the database holds no identifier
# in clear (SQLite file and PostgreSQL tables); swapping two records'
# ciphertexts is detected, and so is a record copied whole under another
# target's id; a [vault] setting out of bounds is refused.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_fixture.sh"
pki=$work/pki
make_pki "$pki"
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/pin"
make_li_admin_key "$work/li-admin"
# the private key as lisec audit read takes it (32 bytes, base64)
openssl pkey -in "$work/li-admin.x25519" -outform DER | tail -c 32 | base64 >"$work/li-admin.key"

run_suite() {
  start_lisecd "$pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" \
    "pin_file = $work/pin" "key_label = lisec-kek" "[audit]" "li_admin_key = $work/li-admin.pub"
  li_fixture li-7 li-8
  local T1='{"id":"t-1","authorisation":"li-7","identifiers":[{"kind":"imsi","value":"244051234567890"},{"kind":"e164","value":"358401234567"}]}'
  local T2='{"id":"t-2","authorisation":"li-8","identifiers":[{"kind":"ipv4","value":"192.0.2.77"}]}'
  [ "$(as li-admin -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$T1" "$LISECD_URL/v1/targets")" = 201 ] || fail "add t-1"
  [ "$(as li-admin -o /dev/null -w '%{http_code}' -d "$T2" "$LISECD_URL/v1/targets")" = 201 ] || fail "add t-2"
  [ "$(as li-admin -o /dev/null -w '%{http_code}' -d "$T2" "$LISECD_URL/v1/targets")" = 409 ] || fail "duplicate t-2"
  as li-admin "$LISECD_URL/v1/targets/t-1" | grep -q '244051234567890' || fail "li-admin cannot read t-1"
  as li-admin "$LISECD_URL/v1/targets" | grep -q '244051234567890' && fail "the listing shows identifiers"
  pass "li-admin adds, reads and lists targets; the list shows metadata only"

  body=$(as li-admin -w '\n%{http_code}' -d '{"id":"t-3","authorisation":"li-7","identifiers":[{"kind":"imsi","value":"2440512"}]}' "$LISECD_URL/v1/targets")
  [ "${body##*$'\n'}" = 400 ] && grep -q 'identifiers\[0\].value (imsi)' <<<"$body" || fail "bad IMSI: $body"
  pass "an invalid identifier is refused naming the field"

  # Refused changes are accesses to targets too: each leaves a sealed record
  # (TR 103 308 §5.2) whose reason names the requirement and the rule, not
  # an identifier's value, and the stored target is as it was.
  local from t1_before
  from=$(sqlite_or_pg_count)
  t1_before=$(as li-admin "$LISECD_URL/v1/targets/t-1" | jq -cS .)
  refused_update() { # ID BODY CODE
    [ "$(as li-admin -o /dev/null -w '%{http_code}' -X PUT -d "$2" "$LISECD_URL/v1/targets/$1")" = "$3" ] ||
      fail "PUT $1 $2: not $3"
  }
  refused_update t-1 '{"version":5,"identifiers":[{"kind":"imsi","value":"244059999999999"}]}' 409
  refused_update t-1 '{"version":1,"identifiers":[{"kind":"imsi","value":"2440577"}]}' 400
  refused_update t-1 '{"identifiers":[{"kind":"imsi","value":"244059999999999"}]}' 400
  refused_update t-404 '{"version":1,"identifiers":[{"kind":"imsi","value":"244059999999999"}]}' 404
  refused_add='{"id":"t-5","authorisation":"li-7","identifiers":[{"kind":"ipv4","value":"192.0.2.300"}]}'
  [ "$(as li-admin -o /dev/null -w '%{http_code}' -d "$refused_add" "$LISECD_URL/v1/targets")" = 400 ] ||
    fail "add t-5 with a bad address"
  [ "$(as li-admin "$LISECD_URL/v1/targets/t-1" | jq -cS .)" = "$t1_before" ] ||
    fail "a refused update changed t-1: $(as li-admin "$LISECD_URL/v1/targets/t-1")"
  lisec --server "$LISECD_URL" --pki "$pki" --role li-admin --json audit read --li-key "$work/li-admin.key" \
    --from "$from" >"$work/refused.json" 2>"$work/refused.err" || fail "li-admin: lisec audit read: $(cat "$work/refused.err")"
  jq -c '.entries[] | select(.action == "target.update" or .action == "target.add")' "$work/refused.json" \
    >"$work/refused.rec"
  for want in 't-1.*TR103308-5.2: .*target t-1 is at version 1, not 5' \
    't-1.*TR103308-5.2: .*identifiers\[0\].value (imsi)' 't-1.*TR103308-5.2: field .*version.* is required' \
    't-404.*TR103308-5.2: .*target t-404 does not exist' 't-5.*TR103308-5.2: .*identifiers\[0\].value (ipv4)'; do
    jq -c 'select(.sealed and .outcome == "refused") | [.action] + .subjects + .reasons' \
      "$work/refused.rec" | grep -q "$want" || fail "no sealed refusal record reading '$want': $(cat "$work/refused.rec")"
  done
  [ "$(jq -s 'map(select(.outcome == "refused")) | length' "$work/refused.rec")" = 5 ] ||
    fail "not one refusal record each: $(cat "$work/refused.rec")"
  for v in 244059999999999 2440577 192.0.2.300; do
    grep -q "$v" "$work/refused.rec" && fail "a refusal record holds the identifier '$v'"
  done
  pass "refused updates (version conflict, bad identifier, no version, no such target) and a refused add: each recorded sealed, its reason naming TR103308-5.2 and the rule, no identifier in it; the stored target unchanged"

  # The removal of a target that does not exist is refused and recorded so,
  # never recorded as a removal that took place first.
  from=$(sqlite_or_pg_count)
  [ "$(as li-admin -o /dev/null -w '%{http_code}' -X DELETE "$LISECD_URL/v1/targets/t-404")" = 404 ] ||
    fail "DELETE t-404: not 404"
  lisec --server "$LISECD_URL" --pki "$pki" --role li-admin --json audit read --li-key "$work/li-admin.key" \
    --from "$from" >"$work/removed.json" 2>"$work/removed.err" || fail "li-admin: lisec audit read: $(cat "$work/removed.err")"
  jq -c '.entries[] | select(.action == "target.remove") | [.outcome, .sealed] + .subjects + .reasons' \
    "$work/removed.json" >"$work/removed.rec"
  [ "$(wc -l <"$work/removed.rec")" = 1 ] && grep -q '^\["refused",true,"target t-404",.*TR103308-5.2: .*target t-404 does not exist' "$work/removed.rec" ||
    fail "the removal of a missing target is not one sealed refusal: $(cat "$work/removed.rec")"
  pass "removing a target that does not exist: 404, one sealed refusal record (not an 'ok' removal first)"

  local before after
  before=$(as auditor "$LISECD_URL/metrics" >/dev/null; sqlite_or_pg_count)
  for role in operator hypervisor-admin mano auditor tenant-example; do
    [ "$(as "$role" -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/targets/t-1")" = 403 ] || fail "$role read a target"
  done
  after=$(sqlite_or_pg_count)
  [ "$after" -ge $((before + 5)) ] || fail "refused attempts were not recorded ($before -> $after)"
  pass "every other role is refused, and each attempt is recorded in the audit log"

  dump >"$work/dump.txt"
  for v in 244051234567890 358401234567 192.0.2.77 imsi; do
    grep -q "$v" "$work/dump.txt" && fail "the database holds '$v' in clear"
  done
  grep -q 't-1' "$work/dump.txt" || fail "the dump is empty?"
  pass "the database holds no identifier in clear ($(wc -c <"$work/dump.txt") bytes searched)"

  swap_ciphertexts
  body=$(as li-admin -w '\n%{http_code}' "$LISECD_URL/v1/targets/t-1")
  grep -q 'TR103308-5.2' <<<"$body" || fail "swapped ciphertexts not detected: $body"
  pass "swapping two records' ciphertexts is detected (TR103308-5.2)"

  # t-2's record copied whole (id, authorisation, version, wrapped key,
  # ciphertext) under another id, t-9: its associated data still matches
  # its own fields, so only its id against the id it is stored under tells.
  # It does not open, and the listing, which would show t-2 twice (and t-9
  # go on being tasked after t-2's removal), is refused naming t-9 until
  # t-9 is removed.
  copy_record t-2 t-9
  from=$(sqlite_or_pg_count)
  body=$(as li-admin -w '\n%{http_code}' "$LISECD_URL/v1/targets/t-9")
  grep -q 'TR103308-5.2' <<<"$body" && grep -q 't-9' <<<"$body" && ! grep -q '192.0.2.77' <<<"$body" ||
    fail "a record copied whole under another id opens: $body"
  body=$(as li-admin -w '\n%{http_code}' "$LISECD_URL/v1/targets")
  grep -q 'TR103308-5.2.*t-9' <<<"$body" || fail "the listing does not tell a record stored under another id: $body"
  lisec --server "$LISECD_URL" --pki "$pki" --role li-admin --json audit read --li-key "$work/li-admin.key" \
    --from "$from" >"$work/copied.json" 2>"$work/copied.err" || fail "li-admin: lisec audit read: $(cat "$work/copied.err")"
  for action in target.read target.list; do
    jq -e --arg a "$action" '[.entries[] | select(.sealed and .action == $a and .outcome == "failed" and
      (.reasons | join(" ") | test("TR103308-5.2.*t-9")))] | length == 1' "$work/copied.json" >/dev/null ||
      fail "the refused $action is not recorded sealed: $(jq -c .entries "$work/copied.json")"
  done
  [ "$(as li-admin -o /dev/null -w '%{http_code}' -X DELETE "$LISECD_URL/v1/targets/t-9")" = 200 ] || fail "remove t-9"
  [ "$(as li-admin "$LISECD_URL/v1/targets" | jq -r '[.targets[].id] | join(" ")')" = "t-1 t-2" ] ||
    fail "the listing after t-9's removal: $(as li-admin "$LISECD_URL/v1/targets")"
  pass "a record copied whole under another target's id is refused naming it (TR103308-5.2), the refused read and listing recorded sealed"
  stop_lisecd
}

# --- SQLite ---
sqlite_or_pg_count() { sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log'; }
dump() { sqlite3 "$work/lisec.db" .dump; strings "$work/lisec.db"*; }
# copy_record FROM TO: target FROM's stored row, whole, under the id TO.
copy_record() {
  sqlite3 -cmd '.timeout 10000' "$work/lisec.db" "INSERT INTO documents (kind, id, body, version, updated_at) SELECT kind, '$2', body, version, updated_at FROM documents WHERE kind = 'target' AND id = '$1'"
}
swap_ciphertexts() {
  sqlite3 -cmd '.timeout 10000' "$work/lisec.db" "UPDATE documents SET body = (SELECT json_set(a.body, '\$.ciphertext', json_extract(b.body, '\$.ciphertext'), '\$.wrapped_key', json_extract(b.body, '\$.wrapped_key')) FROM documents a, documents b WHERE a.id = 't-1' AND b.id = 't-2' AND a.kind = 'target' AND b.kind = 'target') WHERE kind = 'target' AND id = 't-1'"
}
run_suite

# --- a [vault] setting out of bounds stops --check-config naming it (every
# bound: test_keys; concurrent cold reads with several token sessions:
# vault_rotation, after its restart mid-rotation)
for bad in "token_sessions = 0"; do # (every bound: test_keys)
  cat "$work/lisecd.conf" >"$work/bad.conf"
  printf '[vault]\n%s\n' "$bad" >>"$work/bad.conf"
  if "$build/cmd/lisecd/lisecd" -c "$work/bad.conf" --check-config --foreground >"$work/bad.log" 2>&1; then
    fail "--check-config accepted $bad"
  fi
  grep -q "${bad%% =*}" "$work/bad.log" || fail "--check-config does not name ${bad%% =*}: $(cat "$work/bad.log")"
done
pass "[vault] token_sessions out of bounds is refused by --check-config naming the setting"
echo "--- again on PostgreSQL"
# --- PostgreSQL ---
pgdir=$(mktemp -d "$tmp_base/lisec-pg-XXXXXX")
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
STORE_URL=$("$src/scripts/test/pg-start" "$pgdir")
export STORE_URL
sqlite_or_pg_count() { psql -qtA "$STORE_URL" -c 'SELECT COUNT(*) FROM audit_log'; }
dump() { psql -qtA "$STORE_URL" -c 'SELECT * FROM documents' -c 'SELECT idx, encode(data, '"'escape'"') FROM audit_log'; }
copy_record() {
  psql -qtA "$STORE_URL" -c "INSERT INTO documents (kind, id, body, version, updated_at) SELECT kind, '$2', body, version, updated_at FROM documents WHERE kind = 'target' AND id = '$1'" >/dev/null
}
swap_ciphertexts() {
  psql -qtA "$STORE_URL" -c "UPDATE documents SET body = (SELECT jsonb_set(jsonb_set(a.body::jsonb, '{ciphertext}', b.body::jsonb->'ciphertext'), '{wrapped_key}', b.body::jsonb->'wrapped_key')::text FROM documents a, documents b WHERE a.id = 't-1' AND b.id = 't-2' AND a.kind = 'target' AND b.kind = 'target') WHERE kind = 'target' AND id = 't-1'" >/dev/null
}
rm -rf "$work/hsm"
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
run_suite
