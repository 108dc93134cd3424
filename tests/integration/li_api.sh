#!/usr/bin/env bash
# LI VMs through a real lisecd: each VM brings the key pair it made
# (lisecd makes none: a registration without one is refused and nothing
# appears in the SoftHSM2 token); enable by the
# hypervisor administration, pairing by the LI administration's signed
# statement, and the activation lock: a paired VM's LI function is switched
# off only by a command signed by the LI administration's key (made by
# `lisec li sign-disable`, an ECDSA key from openssl), never by the
# hypervisor administration or the operator, never twice with the same
# counter, also after a restart; a pairing statement signed before a later
# disable command does not pair the VM again (it names the VM's last
# counter). Other roles get one answer whatever the VM's state or
# existence. Every refusal by role or by state is
# recorded, sealed to the LI administration, and the records open with its
# X25519 key (`lisec audit read --li-key`). On SQLite, then on PostgreSQL
# (in the release build; the sanitizer build runs the SQLite half).
set -euo pipefail
build=${1:?usage: li_api.sh BUILD_DIR SRC_DIR}
src=${2:?usage: li_api.sh BUILD_DIR SRC_DIR}
. "$src/tests/integration/lib/common.sh"
cd "$work"
# After lisecd stops: nothing the sanitizers found (ASan builds) in its log.
stop_checked() {
  stop_lisecd
  if grep -E 'Sanitizer|runtime error' "$work/lisecd.log"; then fail "lisecd: sanitizer report"; fi
}
pki=$work/pki
make_pki "$pki"
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"

echo 4321 >pin
lisec audit li-keygen li-audit.secret li-audit.pub >/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out li-admin.key 2>/dev/null
openssl pkey -in li-admin.key -pubout -out li-admin.pub
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out rogue.key 2>/dev/null
for k in vm1 vm2; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $k.key 2>/dev/null
  openssl pkey -in $k.key -pubout -out $k.pub
done
conf=("[audit]" "li_admin_key = $work/li-audit.pub" "[li]" "admin_pubkey = $work/li-admin.pub"
  "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/pin")

# The store behind the audit log and the documents: SQLite, then PostgreSQL.
db_url() { echo "${STORE_URL:-$work/lisec.db}"; }
sql() {
  if [ -n "${STORE_URL:-}" ]; then psql -qtA "$STORE_URL" -c "$1"; else sqlite3 "$work/lisec.db" "$1"; fi
}
# counts: "ROWS SEALED" of the audit log, in one query (one psql or sqlite3
# start per look; call looks before and after every request).
counts() { sql "SELECT COUNT(*), SUM(CASE WHEN sealed = 1 THEN 1 ELSE 0 END) FROM audit_log" | tr '|' ' '; }
db_text() {
  if [ -n "${STORE_URL:-}" ]; then
    psql -qtA "$STORE_URL" -c 'SELECT * FROM documents' -c "SELECT idx, encode(data, 'escape') FROM audit_log"
  else
    strings "$work/lisec.db"*
  fi
}
# call STATUS TEXT ROLE METHOD PATH [BODY]: status, TEXT in the reply, and
# one more audit record, sealed.
call() {
  local status=$1 text=$2 role=$3 method=$4 path=$5 body=${6:-} r s r2 s2 out
  read -r r s < <(counts)
  if [ -n "$body" ]; then
    out=$(as "$role" -X "$method" -w '\n%{http_code}' -H 'Content-Type: application/json' --data-binary "$body" "$LISECD_URL$path")
  else
    out=$(as "$role" -X "$method" -w '\n%{http_code}' "$LISECD_URL$path")
  fi
  [ "${out##*$'\n'}" = "$status" ] || fail "expected $status from $role $method $path: $out"
  grep -qF -- "$text" <<<"$out" || fail "reply to $role $method $path lacks '$text': $out"
  read -r r2 s2 < <(counts)
  [ "$r2" -gt "$r" ] && [ "${s2:-0}" -gt "${s:-0}" ] || fail "no sealed audit record for $role $method $path"
  pass "$status ($text): $role $method $path"
  REPLY_BODY=${out%$'\n'*}
}

run_suite() {
rm -rf "$work/hsm"
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
start_lisecd "$pki" "${conf[@]}"

# ---- instantiation: a key pair per VM ----------------------------------------
out=$(as mano -X POST -w '\n%{http_code}' -H 'Content-Type: application/json' --data-binary '{"vm":"vm-li-1"}' "$LISECD_URL/v1/li/vms")
[ "${out##*$'\n'}" = 400 ] && grep -q 'public key' <<<"$out" || fail "a registration without the VM's key: $out"
call 201 '"key_source":"vm"' mano POST /v1/li/vms "$(jq -n --rawfile k vm1.pub '{vm:"vm-li-1",pubkey:$k}')"
want=$(openssl pkey -pubin -in vm1.pub -outform DER | sha256sum | cut -d' ' -f1)
[ "$(jq -r .key_sha256 <<<"$REPLY_BODY")" = "$want" ] || fail "key_sha256 is not openssl's SHA-256 of the SPKI"
p11=(pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321)
! "${p11[@]}" --list-objects 2>/dev/null | grep -q 'lisec-li-vm:' || fail "lisecd made a VM key in the token"
pass "vm-li-1 registered with the key it made (lisecd makes none: refused without one, nothing in the token)"
call 201 '"key_source":"vm"' hypervisor-admin POST /v1/li/vms "$(jq -n --rawfile k vm2.pub '{vm:"vm-li-2",pubkey:$k}')"
call 409 'registered already' mano POST /v1/li/vms "$(jq -n --rawfile k vm1.pub '{vm:"vm-li-1",pubkey:$k}')"
call 403 'may not register' operator POST /v1/li/vms "$(jq -n --rawfile k vm2.pub '{vm:"vm-li-3",pubkey:$k}')"
call 403 'may not read' auditor GET /v1/li/vms/vm-li-1
call 403 'may not read' tenant-example GET /v1/li/vms

# ---- enable, pair ------------------------------------------------------------
call 403 'TR103308-4.1' li-admin POST /v1/li/vms/vm-li-1/enable
call 403 'TR103308-4.1' operator POST /v1/li/vms/vm-li-1/enable
call 200 '"state":"enabled"' hypervisor-admin POST /v1/li/vms/vm-li-1/enable
call 200 '"state":"enabled"' hypervisor-admin POST /v1/li/vms/vm-li-2/enable
call 409 'already' hypervisor-admin POST /v1/li/vms/vm-li-1/enable
lisec li pair-sign --key li-admin.key --vm vm-li-1 --pubkey vm1.pub -o pair1.json 2>/dev/null
lisec li pair-sign --key rogue.key --vm vm-li-1 --pubkey vm1.pub -o pair-rogue.json 2>/dev/null
lisec li pair-sign --key li-admin.key --vm vm-li-1 --pubkey vm2.pub -o pair-wrongkey.json 2>/dev/null
call 403 'may not' hypervisor-admin POST /v1/li/vms/vm-li-1/pair "{\"statement\":$(cat pair1.json)}"
call 403 'TR103308-4.1' li-admin POST /v1/li/vms/vm-li-1/pair "{\"statement\":$(cat pair-rogue.json)}"
call 403 'TR103308-4.1' li-admin POST /v1/li/vms/vm-li-1/pair "{\"statement\":$(cat pair-wrongkey.json)}"
call 403 'TR103308-4.1' li-admin POST /v1/li/vms/vm-li-2/pair "{\"statement\":$(cat pair1.json)}"
call 200 '"state":"paired"' li-admin POST /v1/li/vms/vm-li-1/pair "{\"statement\":$(cat pair1.json)}"
jq -e --arg k "$want" '.paired_key_sha256 == $k' <<<"$REPLY_BODY" >/dev/null || fail "paired to another key: $REPLY_BODY"

# ---- the activation lock -------------------------------------------------------
call 200 '"state":"off"' hypervisor-admin POST /v1/li/vms/vm-li-2/disable
call 403 'TR103308-4.1' hypervisor-admin POST /v1/li/vms/vm-li-1/disable
call 403 'TR103308-4.1' operator POST /v1/li/vms/vm-li-1/disable
call 403 'TR103308-4.1' auditor POST /v1/li/vms/vm-li-1/disable
# No existence oracle: a role that may not switch LI functions gets one
# answer for a paired VM (vm-li-1), an unpaired one (vm-li-3 is not
# registered; vm-li-2 is off) and a VM that does not exist, for enable
# and disable alike (the VM id is the only difference).
for role in operator auditor host tenant-example mano; do
  for op in enable disable; do
    first=
    for vm in vm-li-1 vm-li-2 no-such-vm; do
      call 403 'TR103308-4.1' "$role" POST "/v1/li/vms/$vm/$op"
      b=${REPLY_BODY//$vm/VM}
      [ -z "$first" ] && first=$b
      [ "$b" = "$first" ] || fail "$role $op: the answer for $vm differs: $b / $first"
    done
  done
done
pass "enable/disable answer every other role alike for paired, unpaired and unknown VMs"
lisec li sign-disable --key li-admin.key --vm vm-li-1 --counter 5 --expires +600 -o cmd5.json 2>/dev/null
lisec li sign-disable --key li-admin.key --vm vm-li-1 --counter 4 --expires +600 -o cmd4.json 2>/dev/null
lisec li sign-disable --key li-admin.key --vm vm-li-1 --counter 6 --expires +600 -o cmd6.json 2>/dev/null
lisec li sign-disable --key rogue.key --vm vm-li-1 --counter 9 --expires +600 -o cmd-rogue.json 2>/dev/null
lisec li sign-disable --key li-admin.key --vm vm-li-2 --counter 7 --expires +600 -o cmd-vm2.json 2>/dev/null
call 403 'may not' hypervisor-admin POST /v1/li/vms/vm-li-1/disable-command "{\"command\":$(cat cmd5.json)}"
call 403 'TR103308-4.1' li-admin POST /v1/li/vms/vm-li-1/disable-command "{\"command\":$(cat cmd-rogue.json)}"
call 403 'vm-li-2' li-admin POST /v1/li/vms/vm-li-1/disable-command "{\"command\":$(cat cmd-vm2.json)}"
call 200 '"last_counter":5' li-admin POST /v1/li/vms/vm-li-1/disable-command "{\"command\":$(cat cmd5.json)}"
jq -e --arg k "$want" '.state == "off" and .key_sha256 == $k and (has("paired_key_sha256") | not)' <<<"$REPLY_BODY" >/dev/null ||
  fail "not off, or the VM's key lost, or still paired after the signed command: $REPLY_BODY"
call 409 'is off, not paired' li-admin POST /v1/li/vms/vm-li-1/disable-command "{\"command\":$(cat cmd5.json)}"

# Enabled again: the statement signed before command 5 is not fresh and
# does not pair it again; a statement for last counter 5 does. The old
# command is a replay; so after a restart.
call 200 '"state":"enabled"' hypervisor-admin POST /v1/li/vms/vm-li-1/enable
call 409 'replayed pairing statement' li-admin POST /v1/li/vms/vm-li-1/pair "{\"statement\":$(cat pair1.json)}"
grep -qF 'TR103308-4.1' <<<"$REPLY_BODY" || fail "the replayed statement's refusal names no requirement: $REPLY_BODY"
lisec li pair-sign --key li-admin.key --vm vm-li-1 --pubkey vm1.pub --last 6 -o pair1-ahead.json 2>/dev/null
call 403 'TR103308-4.1' li-admin POST /v1/li/vms/vm-li-1/pair "{\"statement\":$(cat pair1-ahead.json)}"
lisec li pair-sign --key li-admin.key --vm vm-li-1 --pubkey vm1.pub --last 5 --expires +60 -o pair1-5.json 2>/dev/null
call 200 '"state":"paired"' li-admin POST /v1/li/vms/vm-li-1/pair "{\"statement\":$(cat pair1-5.json)}"
call 409 'replay' li-admin POST /v1/li/vms/vm-li-1/disable-command "{\"command\":$(cat cmd5.json)}"
stop_checked
start_lisecd "$pki" "${conf[@]}"
as li-admin "$LISECD_URL/v1/li/vms/vm-li-1" | jq -e '.state == "paired" and .last_counter == 5' >/dev/null ||
  fail "state or counter lost across the restart"
call 409 'replay' li-admin POST /v1/li/vms/vm-li-1/disable-command "{\"command\":$(cat cmd5.json)}"
call 409 'replay' li-admin POST /v1/li/vms/vm-li-1/disable-command "{\"command\":$(cat cmd4.json)}"
call 403 'TR103308-4.1' hypervisor-admin POST /v1/li/vms/vm-li-1/disable
call 200 '"last_counter":6' li-admin POST /v1/li/vms/vm-li-1/disable-command "{\"command\":$(cat cmd6.json)}"
pass "after a restart the state and last counter are kept: replays (5, 4) refused, 6 accepted"

# The same command sent twice at once (two workers): exactly one passes.
call 200 '"state":"enabled"' hypervisor-admin POST /v1/li/vms/vm-li-1/enable
call 409 'replayed pairing statement' li-admin POST /v1/li/vms/vm-li-1/pair "{\"statement\":$(cat pair1-5.json)}"
lisec li pair-sign --key li-admin.key --vm vm-li-1 --pubkey vm1.pub --last 6 -o pair1-6.json 2>/dev/null
call 200 '"state":"paired"' li-admin POST /v1/li/vms/vm-li-1/pair "{\"statement\":$(cat pair1-6.json)}"
lisec li sign-disable --key li-admin.key --vm vm-li-1 --counter 7 --expires +600 -o cmd7.json 2>/dev/null
racers=()
for i in 1 2 3 4; do
  as li-admin -o /dev/null -w '%{http_code}\n' -d "{\"command\":$(cat cmd7.json)}" \
    "$LISECD_URL/v1/li/vms/vm-li-1/disable-command" >"race.$i" &
  racers+=($!)
done
wait "${racers[@]}"
[ "$(cat race.* | sort | tr '\n' ' ')" = "200 409 409 409 " ] || fail "concurrent replays: $(cat race.* | tr '\n' ' ')"
pass "the same command sent four times at once: one accepted, three refused (409)"

# ---- the CLI against lisecd ----------------------------------------------------
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out vm4.key 2>/dev/null
openssl pkey -in vm4.key -pubout -out vm4-own.pub
cli mano li instantiate vm-li-4 --pubkey vm4-own.pub >/dev/null || fail "lisec li instantiate"
cli hypervisor-admin li enable vm-li-4 >/dev/null || fail "lisec li enable"
cli li-admin li show vm-li-4 --json | jq -r .pubkey >vm4.pub
lisec li pair-sign --key li-admin.key --vm vm-li-4 --pubkey vm4.pub -o pair4.json 2>/dev/null
cli li-admin li pair vm-li-4 pair4.json >/dev/null || fail "lisec li pair"
rc=0; cli hypervisor-admin li disable vm-li-4 >out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q TR103308-4.1 out || fail "lisec li disable of a paired VM: $rc $(cat out)"
lisec li sign-disable --key li-admin.key --vm vm-li-4 --counter 1 --expires +600 -o c4.json 2>/dev/null
cli li-admin li disable-command vm-li-4 c4.json >/dev/null || fail "lisec li disable-command"
rc=0; cli li-admin li disable-command vm-li-4 c4.json >out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "not paired" out || fail "lisec li disable-command twice: $rc $(cat out)"
cli li-admin li list | grep -q vm-li-4 || fail "lisec li list"
pass "lisec li instantiate / enable / pair / disable / disable-command / list against lisecd"

# ---- the audit log: every LI record sealed, readable by the LI administration --
stop_checked
lisec audit read --li-key li-audit.secret --db "$(db_url)" >audit.txt 2>&1 || { cat audit.txt; fail "lisec audit read"; }
for a in li.instantiate li.enable li.pair li.disable li.disable-command; do
  grep -q "$a" audit.txt || fail "no $a record in the audit log"
done
grep 'li.disable' audit.txt | grep -q 'hypervisor-admin' || fail "the hypervisor administrator's attempt is not there"
grep -q 'replay' audit.txt || fail "the replayed command is not there"
[ "$(sql "SELECT COUNT(*) FROM audit_log WHERE sealed = 0")" = 0 ] ||
  fail "an LI record was written unsealed"
if db_text | grep -q 'li.disable-command'; then fail "an LI action is readable in the database"; fi
pass "$(grep -c 'li\.' audit.txt) LI records, all sealed; the LI administration's key opens them"
}

run_suite
# The PostgreSQL run once per make check (as model_api's): the same LI paths
# ran above under the sanitizer, and the PostgreSQL store runs under it in
# test_store_postgres, audit_postgres and store_pg_restart.
if grep -qs '^LISEC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "--- not again on PostgreSQL under the sanitizer: the release build's run does it"
  exit 0
fi
echo "--- again on PostgreSQL"
# A new log under the audit key that signed the SQLite one: the operator's
# step for it (docs/audit.md, the witness) is a reset of the witness.
PATH="$build/cmd/lisecd:$PATH" lisec audit witness-reset -c "$work/lisecd.conf" --yes >/dev/null ||
  fail "lisec audit witness-reset before the PostgreSQL run"
pgdir=$(mktemp -d "$tmp_base/lisec-pg-XXXXXX")
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
STORE_URL=$("$src/scripts/test/pg-start" "$pgdir")
export STORE_URL
run_suite
