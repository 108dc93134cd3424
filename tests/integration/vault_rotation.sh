#!/usr/bin/env bash
# KEK rotation on a live lisecd with the KEK in a real SoftHSM2 token:
# `lisec target rotate-kek` makes a new token key current and re-wraps every
# data key to it without touching a ciphertext; every target stays readable,
# before and after a restart whose configuration still names the old key; a
# record still under an older key is read and rotated by its own label; a
# rotation that cannot finish changes nothing; wrong role, bad bodies, the
# development key and a token that lost the current key are refused with the
# reason, and li-admin's refused rotations (a bad body, the current key, one
# running, the development key) are each recorded sealed before the answer,
# naming TR103308-5.7 and the rule; more rotations in one process than keys it may load at once (16)
# all succeed, because the keys no record names are unloaded. A rotation is
# a job (202, then GET .../rotate-kek/{id}) on the controller's own thread:
# caught part-way (a test hook pauses it between chunks of 2 records), a
# request on the connection that started it is answered, a second rotation
# is 409, and a restart leaves every target readable under its own key (six
# cold reads at once over 4 token sessions, each getting its own), the
# previous KEK current and the job interrupted; the next rotation finishes.
# The re-wraps go in batches of [keys] max_batch: a record in the middle of
# a batch that cannot be re-wrapped (its key gone, or its body without an
# id) stops the rotation naming it.
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
vault_conf=("[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/pin"
  "key_label = kek-1" "rotation_chunk = 2" "token_sessions = 4" "cache_keys = 64" "cache_ttl_s = 600"
  "[audit]" "li_admin_key = $work/li-admin.pub")
# While this file exists a rotation waits before each chunk but its first.
export LISEC_TEST_ROTATION_PAUSE=$work/pause
start_lisecd "$pki" "${vault_conf[@]}"
li_fixture li-7
db=$work/lisec.db
# sql SQL...: on the live database, waiting while lisecd holds the write lock.
sql() { sqlite3 -cmd '.timeout 10000' "$db" "$@"; }

cli() {
  local role=$1
  shift
  LISEC_SERVER=$LISECD_URL LISEC_CERT=$pki/$role.crt LISEC_KEY=$pki/$role.key LISEC_CA=$pki/ca.crt lisec "$@"
}
field() { sql "SELECT json_extract(body, '\$.$2') FROM documents WHERE kind = 'target' AND id = '$1'"; }
keks() { sql "SELECT group_concat(id || '=' || json_extract(body, '\$.kek'), ' ') FROM (SELECT * FROM documents WHERE kind = 'target' ORDER BY id)"; }
audit_count() { sql 'SELECT COUNT(*) FROM audit_log'; }
# status ROLE BODY: the HTTP status of a rotation request; its body in $work/reply.
status() { as "$1" -o "$work/reply" -w '%{http_code}' -H 'Content-Type: application/json' -d "$2" "$LISECD_URL/v1/vault/rotate-kek"; }
# readable ID VALUE: li-admin reads target ID and finds VALUE among its identifiers.
readable() { cli li-admin target get "$1" | grep -q "$2" || fail "target $1 does not read back $2"; }
# readable_api ID VALUE: the same read with curl (GET /v1/targets/ID, what
# `target get` asks), for the loop of rotations below: 138 reads through the
# CLI cost more than the rotations themselves in the sanitizer build.
readable_api() { as li-admin "$LISECD_URL/v1/targets/$1" | grep -q "$2" || fail "target $1 does not read back $2"; }
# readable_all: every target of $all read back, in one curl on one
# connection (six curls a rotation were most of this test's time).
readable_all() {
  local t urls=()
  for t in $all; do urls+=("$LISECD_URL/v1/targets/$t"); done
  as li-admin "${urls[@]}" >"$work/all" || fail "reading $all"
  for t in $all; do grep -q "${value[$t]}" "$work/all" || fail "target $t does not read back ${value[$t]}"; done
}

declare -A value=([t-1]=244051234567890 [t-2]=358401234567 [t-3]=192.0.2.77)
declare -A kinds=([t-1]=imsi [t-2]=e164 [t-3]=ipv4)
for t in t-1 t-2 t-3; do
  cli li-admin target add "$t" --authorisation li-7 --id "${kinds[$t]}=${value[$t]}" >/dev/null || fail "add $t"
done
[ "$(keks)" = "t-1=pkcs11:lisec/kek-1 t-2=pkcs11:lisec/kek-1 t-3=pkcs11:lisec/kek-1" ] || fail "before: $(keks)"
declare -A ct wk
for t in t-1 t-2 t-3; do ct[$t]=$(field "$t" ciphertext) wk[$t]=$(field "$t" wrapped_key); done
sql ".backup '$work/before.db'"

# rotation_records FROM: li-admin's view of the audit log's target.rotate-kek
# records from index FROM on, one JSON line each ([outcome, sealed] +
# subjects + reasons), in $work/rot.rec.
rotation_records() {
  lisec --server "$LISECD_URL" --pki "$pki" --role li-admin --json audit read --li-key "$work/li-admin.key" \
    --from "$1" >"$work/rot.json" 2>"$work/rot.err" || fail "li-admin: lisec audit read: $(cat "$work/rot.err")"
  jq -c '.entries[] | select(.action == "target.rotate-kek") | [.outcome, .sealed] + .subjects + .reasons' \
    "$work/rot.json" >"$work/rot.rec"
}
# refusal_recorded PATTERN: one of $work/rot.rec is a sealed refusal whose
# subject is all targets and whose reason matches PATTERN.
refusal_recorded() {
  grep '^\["refused",true,"target \*",' "$work/rot.rec" | grep -q "$1" ||
    fail "no sealed refusal of a rotation reading '$1': $(cat "$work/rot.rec")"
}

# Refusals first: nothing may change.
before=$(audit_count)
for role in operator hypervisor-admin mano auditor; do
  [ "$(status "$role" '{"key_label":"kek-2"}')" = 403 ] || fail "$role may rotate the KEK"
done
[ "$(audit_count)" -ge $((before + 4)) ] || fail "refused rotations were not recorded"
[ "$(status li-admin '{"key_label":"../kek"}')" = 400 ] && grep -q key_label "$work/reply" || fail "bad name: $(cat "$work/reply")"
[ "$(status li-admin '{"key_label":"kek-2","force":true}')" = 400 ] && grep -q force "$work/reply" || fail "unknown field: $(cat "$work/reply")"
[ "$(status li-admin '{}')" = 400 ] || fail "no key_label accepted"
[ "$(status li-admin '{"key_label":"kek-1"}')" = 409 ] && grep -q 'current KEK already' "$work/reply" || fail "same key: $(cat "$work/reply")"
cli li-admin target rotate-kek && fail "rotate-kek without a name accepted"
[ "$(keks)" = "t-1=pkcs11:lisec/kek-1 t-2=pkcs11:lisec/kek-1 t-3=pkcs11:lisec/kek-1" ] || fail "a refusal changed: $(keks)"
# li-admin's refused rotations are accesses to the targets' keys: each is
# recorded sealed before its answer (TR 103 308 §5.2, §5.7), its reason
# naming TR103308-5.7 and the rule.
rotation_records "$before"
refusal_recorded 'TR103308-5.7: key_label: 1 to'
refusal_recorded 'TR103308-5.7: force: unknown field'
refusal_recorded 'TR103308-5.7: field \\"key_label\\" is required'
refusal_recorded 'TR103308-5.7: \\"kek-1\\" is the current KEK already'
[ "$(grep -c '^\["refused"' "$work/rot.rec")" = 4 ] || fail "not one record for each of li-admin's 4 refusals: $(cat "$work/rot.rec")"
pass "other roles, a bad or missing name, an unknown field and the current key are refused (403/400/409), recorded (li-admin's sealed, naming TR103308-5.7 and the rule), nothing changed"

before=$(audit_count)
out=$(cli li-admin target rotate-kek kek-2) || fail "rotate-kek kek-2: $out"
grep -q 'KEK pkcs11:lisec/kek-2 (was pkcs11:lisec/kek-1): 3 of 3 targets re-wrapped' <<<"$out" || fail "CLI said: $out"
[ "$(keks)" = "t-1=pkcs11:lisec/kek-2 t-2=pkcs11:lisec/kek-2 t-3=pkcs11:lisec/kek-2" ] || fail "after: $(keks)"
for t in t-1 t-2 t-3; do
  [ "$(field "$t" ciphertext)" = "${ct[$t]}" ] || fail "$t: the ciphertext changed"
  [ "$(field "$t" wrapped_key)" != "${wk[$t]}" ] || fail "$t: the data key was not re-wrapped"
  readable "$t" "${value[$t]}"
done
[ "$(audit_count)" -gt "$before" ] || fail "the rotation is not in the audit log"
pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321 -O --type secrkey 2>/dev/null |
  grep -A6 'kek-2' | grep -q 'Access:.*sensitive.*never extractable' || fail "kek-2 is not a sensitive, non-extractable token key"
pass "rotate-kek kek-2: every data key re-wrapped, no ciphertext touched, every target readable; kek-2 made in the token, non-extractable"

cli li-admin target add t-4 --authorisation li-7 --id imsi=244059999999999 >/dev/null || fail "add t-4"
[ "$(field t-4 kek)" = "pkcs11:lisec/kek-2" ] || fail "t-4 sealed under $(field t-4 kek)"
stop_lisecd
start_lisecd "$pki" "${vault_conf[@]}" # still key_label = kek-1
cli li-admin target add t-5 --authorisation li-7 --id imsi=244058888888888 >/dev/null || fail "add t-5"
[ "$(field t-5 kek)" = "pkcs11:lisec/kek-2" ] || fail "after the restart t-5 was sealed under $(field t-5 kek)"
for t in t-1 t-2 t-3; do readable "$t" "${value[$t]}"; done
readable t-4 244059999999999
pass "targets sealed after the rotation use kek-2, also after a restart whose configuration names kek-1"

# A record left under kek-1 (its stored form from before the rotation) is
# still read with kek-1, and the next rotation takes it along.
sql "ATTACH '$work/before.db' AS old; UPDATE documents SET body = (SELECT body FROM old.documents WHERE kind = 'target' AND id = 't-1') WHERE kind = 'target' AND id = 't-1'"
[ "$(field t-1 kek)" = "pkcs11:lisec/kek-1" ] || fail "t-1 was not put back"
readable t-1 "${value[t-1]}"
out=$(cli li-admin target rotate-kek kek-3) || fail "rotate-kek kek-3: $out"
grep -q '5 of 5 targets re-wrapped' <<<"$out" || fail "kek-3: $out"
[ "$(keks)" = "t-1=pkcs11:lisec/kek-3 t-2=pkcs11:lisec/kek-3 t-3=pkcs11:lisec/kek-3 t-4=pkcs11:lisec/kek-3 t-5=pkcs11:lisec/kek-3" ] || fail "kek-3: $(keks)"
for t in t-1 t-2 t-3; do readable "$t" "${value[$t]}"; done
pass "a record still under an older KEK is read with it, and the next rotation re-wraps it from its own key"

# job ID: the rotation job's state (GET /v1/vault/rotate-kek/ID as li-admin) in $work/job.
job() { as li-admin -o "$work/job" "$LISECD_URL/v1/vault/rotate-kek/$1" && jq -r .state "$work/job"; }
# job_until ID JQ: waits (at most 60 s) until the job's state makes JQ true.
job_until() {
  local i
  for i in $(seq 600); do
    job "$1" >/dev/null && jq -e "$2" "$work/job" >/dev/null && return 0
    sleep 0.1
  done
  fail "job $1 never met $2: $(cat "$work/job")"
}

# A rotation that cannot finish (a record names a key the token lacks)
# changes nothing, says which record and key, and is recorded as failed.
sql "UPDATE documents SET body = json_set(body, '\$.kek', 'pkcs11:lisec/kek-gone') WHERE kind = 'target' AND id = 't-4'"
before=$(audit_count)
[ "$(status li-admin '{"key_label":"kek-4"}')" = 202 ] || fail "rotation over a missing key: $(cat "$work/reply")"
id=$(jq -r .id "$work/reply")
job_until "$id" '.state != "running"'
jq -e '.state == "failed" and .rewrapped == 0' "$work/job" >/dev/null || fail "job over a missing key: $(cat "$work/job")"
grep -q 't-4' "$work/job" && grep -q 'kek-gone' "$work/job" && grep -q 'TR103308-5.7' "$work/job" || fail "reason: $(cat "$work/job")"
# The reason names the target: the job (li-admin's) and the sealed record
# carry it, never the log, which operators read (docs/operations.md, "Logs").
! grep 'KEK rotation' "$work/lisecd.log" | grep -q 't-4' ||
  fail "the log names the target the rotation stopped at: $(grep 'KEK rotation' "$work/lisecd.log")"
grep 'KEK rotation' "$work/lisecd.log" | grep -q "$id failed after 0 of 5 targets" ||
  fail "the log does not say the rotation failed: $(grep 'KEK rotation' "$work/lisecd.log")"
[ "$(audit_count)" -ge $((before + 2)) ] || fail "the failed rotation is not recorded with its outcome"
[ "$(keks)" = "t-1=pkcs11:lisec/kek-3 t-2=pkcs11:lisec/kek-3 t-3=pkcs11:lisec/kek-3 t-4=pkcs11:lisec/kek-gone t-5=pkcs11:lisec/kek-3" ] || fail "a failed rotation changed: $(keks)"
[ "$(as li-admin -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/targets/t-4")" = 503 ] || fail "t-4 under a missing key"
cli li-admin target add t-6 --authorisation li-7 --id imsi=244057777777777 >/dev/null || fail "add t-6"
[ "$(field t-6 kek)" = "pkcs11:lisec/kek-3" ] || fail "after a failed rotation t-6 was sealed under $(field t-6 kek)"
sql "UPDATE documents SET body = json_set(body, '\$.kek', 'pkcs11:lisec/kek-3') WHERE kind = 'target' AND id = 't-4'"
readable t-4 244059999999999
pass "a rotation that cannot re-wrap a record fails naming it and its KEK (job failed, TR103308-5.7); nothing changed, kek-3 stays current"

# A rotation caught part-way: the pause file holds it after its first chunk
# (2 of the 6 records). The request that started it and the ones after it on
# the same connection (one curl, so the same front worker and channel to the
# controller) are all answered while the job still runs.
declare -A value+=([t-4]=244059999999999 [t-5]=244058888888888 [t-6]=244057777777777)
touch "$work/pause"
tls=(--cacert "$pki/ca.crt" --cert "$pki/li-admin.crt" --key "$pki/li-admin.key")
curl -sS "${tls[@]}" -o "$work/r1" -w '%{http_code} %{num_connects}\n' -H 'Content-Type: application/json' \
  -d '{"key_label":"kek-5"}' "$LISECD_URL/v1/vault/rotate-kek" \
  --next "${tls[@]}" -o "$work/r2" -w '%{http_code} %{num_connects}\n' "$LISECD_URL/v1/targets/t-2" >"$work/codes" ||
  fail "requests on one connection: $(cat "$work/codes")"
[ "$(cat "$work/codes")" = $'202 1\n200 0' ] || fail "rotate then read on one connection: $(cat "$work/codes") $(cat "$work/r1")"
grep -q "${value[t-2]}" "$work/r2" || fail "t-2 read during the rotation: $(cat "$work/r2")"
id=$(jq -r .id "$work/r1")
jq -e '.state == "running" and (.kek | endswith("/kek-5")) and (.previous | endswith("/kek-3"))' "$work/r1" >/dev/null ||
  fail "202 body: $(cat "$work/r1")"
job_until "$id" '.rewrapped == 2 and .targets == 6'
[ "$(job "$id")" = running ] || fail "the rotation ended while paused: $(cat "$work/job")"
# the read above came before the end: the job is still running now
readable_api t-5 244058888888888
before=$(audit_count)
[ "$(status li-admin '{"key_label":"kek-6"}')" = 409 ] && grep -q 'TR103308-5.7' "$work/reply" && grep -q "$id" "$work/reply" ||
  fail "second rotation while one runs: $(cat "$work/reply")"
rotation_records "$before"
refusal_recorded "TR103308-5.7: a KEK rotation is running (job $id"
[ "$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/vault/rotate-kek/$id")" = 403 ] || fail "operator reads a rotation job"
[ "$(as li-admin -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/vault/rotate-kek/rot-0-0")" = 404 ] || fail "unknown job"
[ "$(sql "SELECT COUNT(*) FROM documents WHERE kind = 'target' AND json_extract(body, '\$.kek') = 'pkcs11:lisec/kek-5'")" = 2 ] ||
  fail "part-way: $(keks)"
pass "a rotation is a job (202): on the connection that started it a target read is answered while it runs; a second is 409 naming it (TR103308-5.7), recorded sealed; its state is li-admin's only"

# Stopped part-way: 2 records under kek-5, 4 under kek-3, all readable after
# the restart; the store still names kek-3 current (a new target is sealed
# under it); the job reads interrupted, also when a crash left it "running".
stop_lisecd
sql "SELECT json_extract(body, '\$.state') FROM documents WHERE kind = 'vault.rotation' AND id = '$id'" | grep -qx interrupted ||
  fail "the job after a stop: $(sql "SELECT body FROM documents WHERE kind = 'vault.rotation' AND id = '$id'")"
sql "UPDATE documents SET body = json_set(body, '\$.state', 'running') WHERE kind = 'vault.rotation' AND id = '$id'"
rm -f "$work/pause"
before=$(audit_count)
start_lisecd "$pki" "${vault_conf[@]}"
[ "$(job "$id")" = interrupted ] && grep -q 'rotate again' "$work/job" || fail "job left running by a crash: $(cat "$work/job")"
[ "$(audit_count)" -gt "$before" ] || fail "the interrupted rotation is not recorded"
[ "$(sql "SELECT COUNT(*) FROM documents WHERE kind = 'target' AND json_extract(body, '\$.kek') = 'pkcs11:lisec/kek-3'")" = 4 ] ||
  fail "after the restart: $(keks)"
# Right after the restart no data key is cached: the six reads go at once
# (4 token sessions, records under kek-3 and kek-5) and each must get its
# own target's identifiers, none another's.
readers=()
for t in t-1 t-2 t-3 t-4 t-5 t-6; do
  as li-admin -m 60 "$LISECD_URL/v1/targets/$t" >"$work/cold-$t" &
  readers+=($!)
done
wait "${readers[@]}" # (not a bare wait: lisecd is a child too)
for t in t-1 t-2 t-3 t-4 t-5 t-6; do
  grep -q "${value[$t]}" "$work/cold-$t" || fail "cold read of $t: $(cat "$work/cold-$t")"
  for o in t-1 t-2 t-3 t-4 t-5 t-6; do
    [ "$o" = "$t" ] || [ "${value[$o]}" = "${value[$t]}" ] || ! grep -q "${value[$o]}" "$work/cold-$t" ||
      fail "the cold read of $t came back with $o's identifiers"
  done
done
cli li-admin target add t-7 --authorisation li-7 --id imsi=244056666666666 >/dev/null || fail "add t-7"
[ "$(field t-7 kek)" = "pkcs11:lisec/kek-3" ] || fail "after an interrupted rotation t-7 was sealed under $(field t-7 kek)"
cli li-admin target remove t-7 >/dev/null || fail "remove t-7"
out=$(cli li-admin target rotate-kek kek-5) || fail "rotate-kek kek-5 again: $out"
grep -q '4 of 6 targets re-wrapped' <<<"$out" || fail "finishing kek-5: $out"
[ "$(sql "SELECT COUNT(*) FROM documents WHERE kind = 'target' AND json_extract(body, '\$.kek') = 'pkcs11:lisec/kek-5'")" = 6 ] ||
  fail "kek-5 finished: $(keks)"
pass "a restart mid-rotation keeps every target readable by its own key (six cold reads at once, each its own) and kek-3 current; the job reads interrupted (also after a crash) and is recorded; the next rotation moves the other 4"

# An emergency rotation must not depend on a restart: 22 rotations in this
# one lisecd (more than the 16 keys it may hold at once), each re-wrapping
# every target, each target readable after each; then back to kek-3.
all="t-1 t-2 t-3 t-4 t-5 t-6"
for r in $(seq 1 22) back; do
  name=spin-$r
  [ "$r" = back ] && name=kek-3
  out=$(cli li-admin target rotate-kek "$name") || fail "rotation $r ($name) in one process: $out"
  grep -q '6 of 6 targets re-wrapped' <<<"$out" || fail "rotation $r: $out"
  want=""
  for t in $all; do want="$want $t=pkcs11:lisec/$name"; done
  [ "$(keks)" = "${want# }" ] || fail "after rotation $r: $(keks)"
  readable_all
done
stop_lisecd
start_lisecd "$pki" "${vault_conf[@]}"
for t in $all; do readable "$t" "${value[$t]}"; done
pass "23 rotations in one lisecd all succeed (keys no record names are unloaded), every target readable after each and after a restart"
stop_lisecd

# Re-wraps go to the keys process in batches (REWRAP_BATCH): with [keys]
# max_batch = 4, t-1..t-4 in one and t-5, t-6 in the next. A record in the
# middle of a batch (t-2) under a key the token lacks stops the rotation
# naming it and its key, though the keys process re-wrapped the batch's
# other records: nothing is written, every other target stays under kek-3
# and readable, kek-3 stays current. With t-2 back the same rotation goes
# in 2 batches (lisecd's log says so) and moves all six.
start_lisecd "$pki" "${vault_conf[@]}" "[keys]" "max_batch = 4"
sql "UPDATE documents SET body = json_set(body, '\$.kek', 'pkcs11:lisec/kek-gone') WHERE kind = 'target' AND id = 't-2'"
[ "$(status li-admin '{"key_label":"batch-1"}')" = 202 ] || fail "rotation over a batch with a missing key: $(cat "$work/reply")"
id=$(jq -r .id "$work/reply")
job_until "$id" '.state != "running"'
jq -e '.state == "failed" and .rewrapped == 0' "$work/job" >/dev/null || fail "batch failure: $(cat "$work/job")"
grep -q 'TR103308-5.7: KEK rotation stopped at target t-2, nothing changed' "$work/job" && grep -q 'kek-gone' "$work/job" ||
  fail "a batch failure does not name t-2 and its key: $(cat "$work/job")"
[ "$(keks)" = "t-1=pkcs11:lisec/kek-3 t-2=pkcs11:lisec/kek-gone t-3=pkcs11:lisec/kek-3 t-4=pkcs11:lisec/kek-3 t-5=pkcs11:lisec/kek-3 t-6=pkcs11:lisec/kek-3" ] ||
  fail "a failed batch changed: $(keks)"
sql "UPDATE documents SET body = json_set(body, '\$.kek', 'pkcs11:lisec/kek-3') WHERE kind = 'target' AND id = 't-2'"
readable_all
# A record whose body lost its id (t-3's, in the first batch): its id is
# not the one it is stored under, so it is refused alone naming its target
# (TR103308-5.2) before it is sent; the channel to the keys process stays
# up (every other target still reads), nothing is written.
sql "UPDATE documents SET body = json_set(body, '\$.id', '') WHERE kind = 'target' AND id = 't-3'"
[ "$(status li-admin '{"key_label":"batch-1"}')" = 202 ] || fail "rotation over a record without an id: $(cat "$work/reply")"
job_until "$(jq -r .id "$work/reply")" '.state != "running"'
jq -e '.state == "failed" and .rewrapped == 0' "$work/job" >/dev/null || fail "record without an id: $(cat "$work/job")"
grep -q 'TR103308-5.7: KEK rotation stopped at target t-3, nothing changed: TR103308-5.2: stored target t-3 holds the record of another target' "$work/job" ||
  fail "a record without an id does not stop the rotation naming t-3: $(cat "$work/job")"
sql "UPDATE documents SET body = json_set(body, '\$.id', 't-3') WHERE kind = 'target' AND id = 't-3'"
[ "$(keks)" = "t-1=pkcs11:lisec/kek-3 t-2=pkcs11:lisec/kek-3 t-3=pkcs11:lisec/kek-3 t-4=pkcs11:lisec/kek-3 t-5=pkcs11:lisec/kek-3 t-6=pkcs11:lisec/kek-3" ] ||
  fail "a rotation stopped by a record without an id changed: $(keks)"
readable_all
out=$(cli li-admin target rotate-kek batch-1) || fail "rotate-kek batch-1: $out"
grep -q '6 of 6 targets re-wrapped' <<<"$out" || fail "batch-1: $out"
grep -q 'KEK rotation [^ ]*: 6 data keys re-wrapped in [0-9.]* s (2 batches)' "$work/lisecd.log" ||
  fail "the rotation did not go in 2 batches of at most 4: $(grep 'KEK rotation' "$work/lisecd.log")"
want=""
for t in $all; do want="$want $t=pkcs11:lisec/batch-1"; done
[ "$(keks)" = "${want# }" ] || fail "after batch-1: $(keks)"
readable_all
out=$(cli li-admin target rotate-kek kek-3) || fail "back to kek-3: $out"
stop_lisecd
pass "a record under a missing key in the middle of a batch, or without an id, stops the rotation naming it (TR103308-5.7), nothing written, the keys process still answering; then 6 targets rotated in 2 batches of [keys] max_batch = 4"

# [vault] rotation_rate is enforced: at 4 targets a second the 6 re-wraps
# are due over 1.25 s and the 3 chunks of writes over 1 s, so the job
# cannot end sooner than ~2.2 s after it starts (unpaced it takes tens of
# ms); a loaded machine only makes it longer.
start_lisecd "$pki" "[vault]" "rotation_rate = 4" "${vault_conf[@]:1}"
t0=${EPOCHREALTIME/./}
[ "$(status li-admin '{"key_label":"paced-1"}')" = 202 ] || fail "paced rotation: $(cat "$work/reply")"
job_until "$(jq -r .id "$work/reply")" '.state != "running"'
elapsed_ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
jq -e '.state == "done" and .rewrapped == 6' "$work/job" >/dev/null || fail "paced rotation: $(cat "$work/job")"
[ "$elapsed_ms" -ge 2000 ] || fail "rotation_rate = 4 re-wrapped and wrote 6 targets in $elapsed_ms ms (at least 2,200 due)"
readable_all
out=$(cli li-admin target rotate-kek kek-3) || fail "back to kek-3: $out"
stop_lisecd
pass "[vault] rotation_rate = 4: 6 targets rotated in $elapsed_ms ms (re-wraps and writes paced, >= 2.2 s due), every target readable"

# lisecd does not start when the token lost the vault's current key, nor
# with the development key on a vault rotated into a token.
pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321 --delete-object --type secrkey --label kek-3 >/dev/null 2>&1 ||
  fail "cannot delete kek-3 from the token"
if "$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>"$work/start.log"; then fail "lisecd started without its KEK"; fi
grep -q 'kek-3' "$work/start.log" && grep -q 'TR103308-5.7' "$work/start.log" || fail "start without kek-3: $(cat "$work/start.log")"
grep -v '^\[vault\]\|pkcs11_module\|^token\|pin_file\|key_label\|rotation_\|^cache_' "$work/lisecd.conf" >"$work/dev.conf"
printf '[vault]\ndevelopment_key_file = %s\nallow_development_key = true\n' "$work/dev.kek" >>"$work/dev.conf"
if "$build/cmd/lisecd/lisecd" -c "$work/dev.conf" 2>"$work/start.log"; then fail "lisecd started with the development key"; fi
grep -q 'rotated to the token key "kek-3"' "$work/start.log" || fail "start with the development key: $(cat "$work/start.log")"
pass "lisecd refuses to start when the token lacks the current KEK, or with the development key on a rotated vault"

# The development key cannot be rotated: li-admin's request is refused
# naming TR103308-5.7 and recorded sealed (a fresh store: the one above was
# rotated into the token).
STORE_URL=sqlite:$work/dev.db start_lisecd "$pki" "[vault]" "development_key_file = $work/dev-2.kek" \
  "allow_development_key = true" "[audit]" "li_admin_key = $work/li-admin.pub"
[ "$(status li-admin '{"key_label":"kek-7"}')" = 400 ] && grep -q 'TR103308-5.7: the development key file cannot be rotated' "$work/reply" ||
  fail "rotation of the development key: $(cat "$work/reply")"
rotation_records 0
refusal_recorded 'TR103308-5.7: the development key file cannot be rotated'
stop_lisecd
pass "a rotation of the development key is refused (400, TR103308-5.7) and recorded sealed"
