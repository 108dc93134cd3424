# Shared by li_restore_unpair.sh and li_restore_replay.sh (sourced after
# lib/common.sh, in $work): the LI administration's keys, lisecd with them,
# the request helper, and a restore of a backup as an operator makes it
# (docs/operations.md, "Backup and restore"). Real parts only: lisecd,
# lisec backup / restore, lisec audit witness-reset, openssl keys.
pki=$work/pki
make_pki "$pki"
lisec audit li-keygen li-audit.secret li-audit.pub >/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out li-admin.key 2>/dev/null
openssl pkey -in li-admin.key -pubout -out li-admin.pub
for k in vm1 vm2 vm3 vm4 vm5; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $k.key 2>/dev/null
  openssl pkey -in $k.key -pubout -out $k.pub
done
conf=("[audit]" "li_admin_key = $work/li-audit.pub" "checkpoint_entries = 4" "checkpoint_ms = 100"
  "vkey_file = $work/lisecd.vkey" "[api]" "refusal_rate = 0" "[li]" "admin_pubkey = $work/li-admin.pub")

# post ROLE PATH BODY: the status; the reply in reply.json.
post() {
  as "$1" -o reply.json -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$3" "$LISECD_URL$2"
}
# expect STATUS REGEX ROLE PATH BODY: that status and REGEX in the reply.
expect() {
  local want=$1 re=$2 got
  got=$(post "$3" "$4" "$5")
  [ "$got" = "$want" ] && grep -Eq -- "$re" reply.json ||
    fail "$3 POST $4: $got, expected $want matching /$re/: $(cat reply.json)"
}
# state VM: {state, last_counter, held}
state() {
  as li-admin "$LISECD_URL/v1/li/vms/$1" | jq -c '{state, last_counter, held: (.restore_hold != null)}'
}
register() { # register VM (and enable it: hypervisor-admin)
  expect 201 "\"vm\"" hypervisor-admin /v1/li/vms "$(jq -n --arg v "$1" --rawfile k "$1.pub" '{vm:$v,pubkey:$k}')"
  [ "${2:-}" = off ] || expect 200 '"enabled"' hypervisor-admin "/v1/li/vms/$1/enable" '{}'
}
pair() { # pair VM LAST [EXPIRES]: a fresh statement, posted
  lisec li pair-sign --key li-admin.key --vm "$1" --pubkey "$1.pub" --last "$2" --expires "${3:-+604800}" \
    -o "pair-$1.json" 2>/dev/null || fail "pair-sign $1"
  expect 200 '"paired"' li-admin "/v1/li/vms/$1/pair" "{\"statement\":$(cat "pair-$1.json")}"
}
# entries: the number of audit entries; signed_all: waits until a signed
# checkpoint covers all of them (the backup's log then ends on one).
entries() { sqlite3 "file:$work/lisec.db?mode=ro" "SELECT count(*) FROM audit_log"; }
signed_all() {
  local n s=0
  for _ in $(seq 1 300); do
    n=$(entries)
    s=$(as auditor "$LISECD_URL/v1/audit/checkpoint" 2>/dev/null | jq -r '.tree_size // 0' 2>/dev/null || echo 0)
    [ "$s" -ge "$n" ] && return 0
    sleep 0.1
  done
  fail "no checkpoint covers the log's $n entries (the last covers $s)"
}
backup() { # backup FILE
  signed_all
  lisec backup --db "sqlite:$work/lisec.db" "$1" >backup.out 2>&1 || { cat backup.out; fail "lisec backup"; }
}
# restore FILE: lisecd stopped, the backup put back, the witness reset,
# lisecd started again; RESTORED_AT: the time lisec restore left.
restore() {
  stop_clean
  lisec restore "$1" --db "sqlite:$work/lisec.db" --pubkey lisecd.vkey >restore.out 2>&1 || { cat restore.out; fail "lisec restore"; }
  grep -q 'LI VMs: lisecd holds each as if paired' restore.out || fail "lisec restore does not say what it does to LI VMs: $(cat restore.out)"
  PATH="$build/cmd/lisecd:$PATH" lisec audit witness-reset -c "$work/lisecd.conf" --yes >wreset.out 2>&1 ||
    fail "witness-reset: $(cat wreset.out)"
  RESTORED_AT=$(sqlite3 "file:$work/lisec.db?mode=ro" \
    "SELECT json_extract(body, '$.restored_at') FROM documents WHERE kind = 'li.restore' AND id = 'pending'")
  [ -n "$RESTORED_AT" ] || fail "lisec restore left no LI restore marker"
  start_lisecd "$pki" "${conf[@]}"
  grep -q 'LI VMs held until the LI administration confirms them' lisecd.log || fail "lisecd does not say it holds the LI VMs"
}
# after_restore_second: waits until the clock is past the restore's second,
# so that a message signed now is fresh (it expires after the restore + 7 days).
after_restore_second() {
  for _ in $(seq 1 30); do
    [ "$(date +%s)" -gt "$RESTORED_AT" ] && return 0
    sleep 0.1
  done
  fail "the clock does not pass $RESTORED_AT"
}
# records: the audit log opened with the LI administration's key (lisecd stopped).
# One line an entry in audit.txt: action role outcome subjects reasons.
records() {
  lisec audit read --li-key li-audit.secret --db "sqlite:$work/lisec.db" --json >audit.json 2>audit.err ||
    { cat audit.err; fail "lisec audit read"; }
  jq -r '.entries[] | "\(.action) \(.role) \(.outcome) \((.subjects // []) | join(",")) \((.reasons // []) | join(" | "))"' \
    audit.json >audit.txt
}
