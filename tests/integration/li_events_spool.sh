#!/usr/bin/env bash
# The LI VM's event spool (docs/events.md "The spool"; TR 103 308 §4.1: the
# LI VM's events are logged, nothing lost), through a real lisecd and the
# development PKI. Each VM's sequence at lisecd (its li-event-seq document)
# and the LI administration's reading of the sealed audit log (lisec audit
# read --li-key) are the proof:
# - lisec-event send --spool while lisecd is down: each event queued (exit
#   3), delivered by flush once lisecd is back, in order, no gap;
# - a process killed (kill -9) between making its event and lisecd's
#   answer (lisec-event, and lisec-ne after an X1 activation) loses
#   nothing: the next run sends it first; lisec-ne started while lisecd
#   is down sends its spool by itself (--events-retry) once it is back;
# - a torn last record (the spool cut short) is reported, set aside in
#   FILE.corrupt and not sent; the others are delivered;
# - a corrupted record (one byte changed) is reported and not sent; the
#   records after it are;
# - a full spool refuses the next event naming TR103308-4.1 (exit 2), and
#   lisecd then shows its seq as a gap;
# - a batch lisecd took but the spool still holds (a stop between the 201
#   and the removal) is answered 409 replayed, recognised and dropped: the
#   flush ends, nothing is sent twice;
# - events made at seqs lisecd had already (the VM restored from a
#   snapshot, with fewer and with more events since than lisecd has beyond
#   it) are made again above lisecd's last, signed again and recorded,
#   none set aside, no gap; lisecd records that the counter went back
#   (TR103308-4.1-EVENTS-ROLLBACK, sealed); an old signed event replayed
#   stays refused;
# - an event larger than lisecd takes is refused when noted (exit 2,
#   TR103308-4.1, its seq a gap); one a library queued without checking is
#   set aside in FILE.rejected and the events after it are delivered;
# - an event within lisecd's bound at its own seq but over it at a longer
#   one is refused when noted (exit 2), so the counter gone back is still
#   shown to lisecd and the next event renumbered and recorded; one queued
#   by a library that did not check so does not stop the flush either
#   (another event shows the rollback, it alone is set aside);
# - two senders of one spool with different max_bytes: the one with the
#   smaller bound, left to send a spool whose events lisecd took already,
#   does not take it for a counter gone back: each event recorded once, no
#   rollback finding.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/clock_step.sh"

pki=$work/pki
make_pki "$pki"
cd "$work"
lisec pki issue "$pki" vm vm vm-sp >/dev/null 2>&1 || fail "lisec pki issue (role vm)"
lisec pki issue "$pki" admf operator admf-1 >/dev/null 2>&1 || fail "lisec pki issue (the ADMF)"
lisec audit li-keygen audit-li.key audit-li.pub >/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out li-admin.key 2>/dev/null
openssl pkey -in li-admin.key -pubout -out li-admin.pub
ev() { "$build/cmd/lisec-event/lisec-event" "$@"; }
vms="vm-sp-down vm-sp-kill vm-sp-torn vm-sp-flip vm-sp-full vm-sp-replay vm-sp-reuse vm-sp-big vm-sp-grow vm-sp-two poi-sp"
for vm in $vms; do ev keygen --key $vm.key --pub $vm.pub || fail "lisec-event keygen $vm"; done
start_lisecd "$pki" "[audit]" "li_admin_key = $work/audit-li.pub" "[li]" "admin_pubkey = $work/li-admin.pub"

# lisecd stopped and started again on the same port and store, so the VMs'
# configured URL stays right
relaunch_lisecd() {
  "$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>>"$work/lisecd.log" &
  LISECD_PID=$!
  for _ in $(seq 1 100); do
    as operator -s -o /dev/null "$LISECD_URL/healthz" 2>/dev/null && return 0
    kill -0 "$LISECD_PID" 2>/dev/null || fail "lisecd exited at start: $(tail -5 "$work/lisecd.log")"
    sleep 0.1
  done
  fail "lisecd did not answer /healthz"
}
expect() { # STATUS ROLE METHOD PATH [BODY]
  local want=$1 role=$2 method=$3 path=$4 body=${5:-} got
  got=$(as "$role" -X "$method" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    ${body:+--data-binary "$body"} "$LISECD_URL$path")
  [ "$got" = "$want" ] || fail "$role $method $path: HTTP $got, want $want: $(cat "$work/body")"
}
for vm in $vms; do
  expect 201 mano POST /v1/li/vms "$(python3 -c 'import json,sys; print(json.dumps({"vm": sys.argv[1], "pubkey": open(sys.argv[2]).read()}))' "$vm" "$vm.pub")"
  expect 200 hypervisor-admin POST "/v1/li/vms/$vm/enable"
  lisec li pair-sign --key li-admin.key --vm "$vm" --pubkey "$vm.pub" --last 0 -o "pair-$vm.json" 2>/dev/null
  expect 200 li-admin POST "/v1/li/vms/$vm/pair" "{\"statement\":$(cat "pair-$vm.json")}"
done

tls=(--ca "$pki/ca.crt" --cert "$pki/vm.crt" --tls-key "$pki/vm.key")
send() { # VM [ARGS]: lisec-event send --spool VM.spool; its exit status in $rc
  local vm=$1
  shift
  rc=0
  ev send --key "$vm.key" --vm "$vm" --state "$vm.seq" --spool "$vm.spool" --server "$LISECD_URL" "${tls[@]}" \
    --type delivery --detail lea=lea-fi "$@" >"$vm.out" 2>"$vm.err" || rc=$?
}
flush() { # VM: lisec-event flush; its exit status in $rc
  rc=0
  ev flush --key "$1.key" --spool "$1.spool" --server "$LISECD_URL" "${tls[@]}" >"$1.out" 2>"$1.err" || rc=$?
}
# what lisecd keeps of a VM's sequence: {"gaps":G,"last_seq":L}
# (and last_digest, the SHA-256 of the event at last_seq, left out here)
seqdoc() { sqlite3 lisec.db "SELECT body FROM documents WHERE kind = 'li-event-seq' AND id = '$1'" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print("{\"gaps\":%d,\"last_seq\":%d}" % (d["gaps"], d["last_seq"]))'; }
# (its summary on stderr kept apart: interleaved, it would cut a line of stdout)
audit_read() { lisec --server "$LISECD_URL" --pki "$pki" --role li-admin audit read --li-key audit-li.key >audit.txt 2>audit.err ||
  { cat audit.txt audit.err; fail "lisec audit read"; }; }
# the seqs of VM's events in the LI administration's reading, one a line, sorted
audit_seqs() { grep -o "\"seq\":[0-9]*,\"time\":[0-9]*,\"type\":\"[a-z-]*\",\"v\":1,\"vm\":\"$1\"" audit.txt |
  sed 's/"seq":\([0-9]*\),.*/\1/' | sort -n | tr '\n' ' ' | sed 's/ $//'; }
# no gap finding in any record of VM
no_gap() { ! grep "li-vm $1" audit.txt | grep -q 'EVENTS-GAP' || fail "$1: a gap finding in the audit log"; }

# ---- lisecd down: events queued, delivered once it is back, no gap ----------------------
send vm-sp-down
[ "$rc" = 0 ] && grep -q 'recorded: seq 1' vm-sp-down.out || fail "send with lisecd up: rc $rc: $(cat vm-sp-down.out vm-sp-down.err)"
stop_lisecd
for s in 2 3 4; do
  send vm-sp-down --detail "n=$s"
  [ "$rc" = 3 ] && grep -q "spooled: seq $s" vm-sp-down.out && grep -q 'kept in the spool, not delivered yet' vm-sp-down.err ||
    fail "send with lisecd down: rc $rc, want 3 (queued): $(cat vm-sp-down.out vm-sp-down.err)"
done
[ "$(grep -c '^LSEV1 ' vm-sp-down.spool)" = 3 ] || fail "the spool does not hold the 3 events: $(cat vm-sp-down.spool)"
[ "$(stat -c %a vm-sp-down.spool)" = 600 ] || fail "the spool is not 0600"
relaunch_lisecd
flush vm-sp-down
[ "$rc" = 0 ] && grep -q 'flushed: 3 event(s)' vm-sp-down.out || fail "flush: rc $rc: $(cat vm-sp-down.out vm-sp-down.err)"
[ ! -s vm-sp-down.spool ] || fail "the spool is not empty after its events were taken"
send vm-sp-down
[ "$rc" = 0 ] && grep -q 'recorded: seq 5' vm-sp-down.out || fail "send after the flush: $(cat vm-sp-down.out vm-sp-down.err)"
[ "$(seqdoc vm-sp-down)" = '{"gaps":0,"last_seq":5}' ] || fail "lisecd's sequence of vm-sp-down: $(seqdoc vm-sp-down), want no gap"
audit_read
[ "$(audit_seqs vm-sp-down)" = "1 2 3 4 5" ] || fail "the audit log has seqs '$(audit_seqs vm-sp-down)' of vm-sp-down, want 1-5"
no_gap vm-sp-down
pass "lisecd down: 3 events queued in the spool (exit 3), flushed in order once it was back; lisecd has 1-5, gaps 0"

# ---- a bad argument is refused before a seq is taken: no gap at lisecd ------------------
send vm-sp-down --type reboot
[ "$rc" = 2 ] || fail "an unknown type: rc $rc, want 2: $(cat vm-sp-down.err)"
send vm-sp-down --detail NoUpper=1
[ "$rc" = 2 ] || fail "a bad detail: rc $rc, want 2: $(cat vm-sp-down.err)"
send vm-sp-down --detail a=1 --detail b=2 --detail c=3 --detail d=4 --detail e=5 --detail f=6 --detail g=7 --detail h=8
[ "$rc" = 2 ] && grep -q 'at most 8 details' vm-sp-down.err || fail "9 details: rc $rc, want 2 (at most 8): $(cat vm-sp-down.err)"
rc=0
ev send --key vm-sp-down.key --vm vm-sp-down --state vm-sp-down.seq --server "$LISECD_URL" "${tls[@]}" --type reboot \
  >vm-sp-down.out 2>vm-sp-down.err || rc=$?
[ "$rc" = 2 ] || fail "send (no spool), an unknown type: rc $rc, want 2: $(cat vm-sp-down.err)"
[ "$(cat vm-sp-down.seq)" = "seq 5" ] || fail "a refused argument took a seq: $(cat vm-sp-down.seq)"
send vm-sp-down --detail a=1 --detail b=2 --detail c=3 --detail d=4 --detail e=5 --detail f=6 --detail g=7
[ "$rc" = 0 ] && grep -q 'recorded: seq 6' vm-sp-down.out || fail "8 details: rc $rc: $(cat vm-sp-down.out vm-sp-down.err)"
[ "$(seqdoc vm-sp-down)" = '{"gaps":0,"last_seq":6}' ] || fail "lisecd's sequence of vm-sp-down: $(seqdoc vm-sp-down)"
pass "a bad type, a bad detail, 9 details (send --spool and send): refused (exit 2) before a seq is taken; 8 details recorded, no gap"

# ---- killed (kill -9) between making the event and lisecd's answer ----------------------
# a listener that takes connections and never answers: the sender waits in
# its TLS handshake, with its event made and queued
hole=$(free_port)
python3 -S -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); time.sleep(120)' "$hole" &
hole_pid=$!
cleanup_hooks+=("kill $hole_pid 2>/dev/null")
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$hole) 2>/dev/null && break; sleep 0.1; done
"$build/cmd/lisec-event/lisec-event" send --key vm-sp-kill.key --vm vm-sp-kill --state vm-sp-kill.seq --spool vm-sp-kill.spool \
  --server "https://127.0.0.1:$hole" "${tls[@]}" --type activation --detail xid=5e7f0000-aaaa-4bbb-8ccc-00000000c111 \
  >kill.out 2>&1 &
kill_pid=$!
for _ in $(seq 100); do grep -q 'spooled: seq 1' kill.out && break; sleep 0.1; done
grep -q 'spooled: seq 1' kill.out || fail "lisec-event did not queue its event: $(cat kill.out)"
kill -9 $kill_pid
{ wait $kill_pid; } 2>/dev/null || true
! kill -0 $kill_pid 2>/dev/null || fail "lisec-event was not killed"
flush vm-sp-kill
[ "$rc" = 0 ] && grep -q 'flushed: 1 event' vm-sp-kill.out || fail "flush after kill -9: rc $rc: $(cat vm-sp-kill.out vm-sp-kill.err)"
# lisec-ne: an X1 activation answered (its event queued), then kill -9 while
# its sender waits on the silent listener; the next run sends it first
port=$(free_port)
ne() { # SERVER: lisec-ne as poi-sp, its events to SERVER through the spool
  ${ne_env[@]+"${ne_env[@]}"} "$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$port" --cert "$pki/server.crt" --key "$pki/server.key" \
    --ca "$pki/ca.crt" --ne-id poi-sp --admf-id admf-1 --events-server "$1" --events-ca "$pki/ca.crt" \
    --events-cert "$pki/vm.crt" --events-tls-key "$pki/vm.key" --events-key poi-sp.key --events-vm poi-sp \
    --events-state poi-sp.seq --events-spool poi-sp.spool --events-retry 1 2>>ne.log &
  ne_pid=$!
  cleanup_hooks+=("kill $ne_pid 2>/dev/null")
  for _ in $(seq 300); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
}
# ne_resent LAST_SEQ WHAT: lisecd back (after stop_lisecd), lisec-ne empties
# its spool by itself within 10 s, else fails saying it did not WHAT; it
# stops cleanly, and lisecd has poi-sp's events up to LAST_SEQ, no gap.
ne_resent() {
  relaunch_lisecd
  for _ in $(seq 100); do [ ! -s poi-sp.spool ] && break; sleep 0.1; done
  [ ! -s poi-sp.spool ] || fail "lisec-ne did not $2: $(tail -6 ne.log)"
  kill -TERM $ne_pid
  wait $ne_pid || fail "lisec-ne did not stop cleanly: $(cat ne.log)"
  [ "$(seqdoc poi-sp)" = "{\"gaps\":0,\"last_seq\":$1}" ] || fail "lisecd's sequence of poi-sp up to $1: $(seqdoc poi-sp)"
}
XID=29f28e1c-f230-486a-a860-f5a784ab9c01
ne "https://127.0.0.1:$hole"
curl -sS --cacert "$pki/ca.crt" --cert "$pki/admf.crt" --key "$pki/admf.key" -H 'Content-Type: application/xml' \
  --data-binary "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<X1Request xmlns=\"http://uri.etsi.org/03221/X1/2017/10\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">
 <x1RequestMessage xsi:type=\"ActivateTaskRequest\"><admfIdentifier>admf-1</admfIdentifier><neIdentifier>poi-sp</neIdentifier>
  <messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version>
  <x1TransactionId>6a1f2e3d-0000-4000-8000-0000000000c1</x1TransactionId><taskDetails><xId>$XID</xId><targetIdentifiers><targetIdentifier><imsi>244051234567890</imsi></targetIdentifier></targetIdentifiers><deliveryType>X2andX3</deliveryType><listOfDIDs><dId>0b5d9b3a-8c9e-4d8b-9a55-5d8f1e2a3b4c</dId></listOfDIDs></taskDetails></x1RequestMessage></X1Request>" \
  "https://localhost:$port/X1/NE" | grep -q AcknowledgedAndCompleted || fail "lisec-ne: activate"
grep -qx 'seq 2' poi-sp.seq && [ "$(grep -c '^LSEV1 ' poi-sp.spool)" = 2 ] ||
  fail "lisec-ne's start and activation are not both in its spool: $(cat poi-sp.seq poi-sp.spool)"
kill -9 $ne_pid
{ wait $ne_pid; } 2>/dev/null || true
! kill -0 $ne_pid 2>/dev/null || fail "lisec-ne was not killed"
ne "$LISECD_URL"
for _ in $(seq 100); do [ ! -s poi-sp.spool ] && grep -qx 'seq 3' poi-sp.seq && break; sleep 0.1; done
[ ! -s poi-sp.spool ] || fail "lisec-ne did not send its spool at start: $(cat ne.log)"
kill -TERM $ne_pid
wait $ne_pid || fail "lisec-ne did not stop cleanly: $(cat ne.log)"
[ ! -s poi-sp.spool ] || fail "lisec-ne's stop event was not delivered: $(cat ne.log)"
audit_read
[ "$(audit_seqs vm-sp-kill)" = 1 ] || fail "vm-sp-kill's event killed before its answer is not in the audit log"
grep 'vm-sp-kill' audit.txt | grep -q 5e7f0000-aaaa-4bbb-8ccc-00000000c111 || fail "vm-sp-kill's activation is not recorded"
[ "$(audit_seqs poi-sp)" = "1 2 3 4" ] || fail "lisec-ne's events in the audit log: '$(audit_seqs poi-sp)', want 1-4 (start, activation, start, stop)"
grep 'poi-sp' audit.txt | grep -q "$XID" || fail "lisec-ne's activation made before kill -9 is not recorded"
[ "$(seqdoc poi-sp)" = '{"gaps":0,"last_seq":4}' ] || fail "lisecd's sequence of poi-sp: $(seqdoc poi-sp)"
no_gap vm-sp-kill
no_gap poi-sp
pass "kill -9 between make and send (lisec-event, lisec-ne after an X1 activation): nothing lost, sent first after the restart, no gap"

# lisec-ne started while lisecd is down: its start event waits in the spool
# and goes by itself (every --events-retry second) once lisecd is back,
# with no X1 request to kick it
stop_lisecd
ne "$LISECD_URL"
for _ in $(seq 100); do grep -q 'kept in the spool, not taken yet' ne.log && break; sleep 0.1; done
grep -qx 'seq 5' poi-sp.seq && [ "$(grep -c '^LSEV1 ' poi-sp.spool)" = 1 ] || fail "lisec-ne's start is not in its spool: $(tail -3 ne.log)"
ne_resent 6 "send its spool once lisecd was back"
audit_read
[ "$(audit_seqs poi-sp)" = "1 2 3 4 5 6" ] || fail "lisec-ne's events after lisecd's outage: '$(audit_seqs poi-sp)'"
pass "lisec-ne with lisecd down: its events spooled, sent by its retry once lisecd was back, no gap"

# the same with lisec-ne's wall clock stepped back under it (chrony
# correcting a clock that ran ahead): clock_step_shim makes its clock read
# an hour ahead of the kernel's, so a wait until a wall-clock time lasts an
# hour longer. Its retry waits by the monotonic clock: still every second.
clock_step_env "$work/step" 3600
stop_lisecd
kept=$(grep -c 'kept in the spool, not taken yet' ne.log || true)
ne_env=("${clock_env[@]}")
ne "$LISECD_URL"
ne_env=()
for _ in $(seq 100); do [ "$(grep -c 'kept in the spool, not taken yet' ne.log)" -gt "$kept" ] && break; sleep 0.1; done
[ "$(grep -c 'kept in the spool, not taken yet' ne.log)" -gt "$kept" ] || fail "lisec-ne (clock ahead) did not try lisecd: $(tail -3 ne.log)"
ne_resent 8 "retry within 10 s (--events-retry 1) with its wall clock stepped back"
pass "lisec-ne's spool retry with its wall clock stepped back an hour: still every --events-retry second (monotonic), no gap"

# ---- a torn last record: reported, set aside, the others delivered ----------------------
stop_lisecd
for s in 1 2 3; do send vm-sp-torn; [ "$rc" = 3 ] || fail "send with lisecd down: rc $rc"; done
size=$(stat -c %s vm-sp-torn.spool)
truncate -s $((size - 11)) vm-sp-torn.spool # a writer killed mid-write
relaunch_lisecd
flush vm-sp-torn
[ "$rc" = 0 ] || fail "flush with a torn tail: rc $rc: $(cat vm-sp-torn.err)"
grep -q 'TR103308-4.1: .*a torn last record .* cut off, set aside in .*vm-sp-torn.spool.corrupt' vm-sp-torn.err ||
  fail "the torn record is not reported: $(cat vm-sp-torn.err)"
grep -q 'flushed: 2 event(s)' vm-sp-torn.out || fail "the 2 whole records were not delivered: $(cat vm-sp-torn.out)"
grep -q '"seq":3' vm-sp-torn.spool.corrupt || fail "the torn record's bytes are not set aside"
audit_read
[ "$(audit_seqs vm-sp-torn)" = "1 2" ] || fail "vm-sp-torn in the audit log: '$(audit_seqs vm-sp-torn)', want 1 2"
pass "a torn last record: reported, set aside in FILE.corrupt, never sent; the whole ones delivered"

# ---- a corrupted record (one byte changed): not sent, the ones after it are -------------
stop_lisecd
for s in 1 2 3; do send vm-sp-flip --detail "n=$s"; [ "$rc" = 3 ] || fail "send with lisecd down: rc $rc"; done
# a byte of the second record's event, inside its detail "n=2" (the value 2 becomes 3)
off=$(python3 -S -c 'import sys; d=open(sys.argv[1],"rb").read(); a=d.index(b"\n")+1; print(d.index(b"\"n\":\"2\"", a)+5)' vm-sp-flip.spool)
flip_byte vm-sp-flip.spool "$off"
grep -q '"n":"3".*"seq":2' vm-sp-flip.spool || fail "the test did not change the record as meant"
relaunch_lisecd
flush vm-sp-flip
[ "$rc" = 0 ] && grep -q 'flushed: 2 event(s)' vm-sp-flip.out || fail "flush with a corrupted record: rc $rc: $(cat vm-sp-flip.out vm-sp-flip.err)"
grep -q 'TR103308-4.1: .*is corrupted (the checksum does not match): not sent, set aside' vm-sp-flip.err ||
  fail "the corrupted record is not reported: $(cat vm-sp-flip.err)"
audit_read
[ "$(audit_seqs vm-sp-flip)" = "1 3" ] || fail "vm-sp-flip in the audit log: '$(audit_seqs vm-sp-flip)', want 1 3"
! grep 'vm-sp-flip' audit.txt | grep -q '"n":"3".*"seq":2\|"seq":2.*"n":"3"' || fail "the corrupted record was sent"
pass "a corrupted record (a flipped byte): reported, never sent; the record after it delivered"

# ---- a full spool: the next event refused (exit 2), its seq a gap at lisecd -------------
stop_lisecd
spool_full=(--spool-max-events 2)
for s in 1 2; do send vm-sp-full "${spool_full[@]}"; [ "$rc" = 3 ] || fail "send $s into the spool: rc $rc"; done
send vm-sp-full "${spool_full[@]}"
[ "$rc" = 2 ] && grep -q 'TR103308-4.1: the event spool is full (2 events, .*seq 3 not queued, lisecd will show it as a gap' vm-sp-full.err ||
  fail "a full spool: rc $rc, want 2 naming TR103308-4.1: $(cat vm-sp-full.err)"
[ "$(grep -c '^LSEV1 ' vm-sp-full.spool)" = 2 ] || fail "a full spool took the event"
relaunch_lisecd
flush vm-sp-full
[ "$rc" = 0 ] || fail "flush of the full spool: rc $rc: $(cat vm-sp-full.err)"
send vm-sp-full "${spool_full[@]}"
[ "$rc" = 0 ] && grep -q 'recorded: seq 4' vm-sp-full.out || fail "send after the outage: rc $rc: $(cat vm-sp-full.err)"
[ "$(seqdoc vm-sp-full)" = '{"gaps":1,"last_seq":4}' ] || fail "lisecd's sequence of vm-sp-full: $(seqdoc vm-sp-full), want the refused seq 3 as a gap"
audit_read
[ "$(audit_seqs vm-sp-full)" = "1 2 4" ] || fail "vm-sp-full in the audit log: '$(audit_seqs vm-sp-full)'"
grep "li-vm vm-sp-full" audit.txt | grep -q 'EVENTS-GAP' || fail "the refused seq is not a gap finding in vm-sp-full's record"
pass "a full spool refuses the newest event (exit 2, TR103308-4.1, its seq named), keeps the oldest; lisecd shows the refused seq as a gap"

# ---- a batch lisecd took still in the spool (a stop between the 201 and the removal) ---
stop_lisecd
for s in 1 2 3; do send vm-sp-replay; [ "$rc" = 3 ] || fail "send with lisecd down: rc $rc"; done
cp vm-sp-replay.spool kept.spool
relaunch_lisecd
flush vm-sp-replay
[ "$rc" = 0 ] || fail "flush: rc $rc: $(cat vm-sp-replay.err)"
# lisecd's 409 for a replay carries its last accepted seq as a field (the
# spool reads it there first), equal to the seq it keeps; not for another 409
expect 409 vm POST /v1/li/events "$(ev sign --key vm-sp-replay.key --vm vm-sp-replay --seq 2 --type delivery)"
last=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"].get("last_seq"))' body)
stored=$(seqdoc vm-sp-replay | python3 -c 'import json,sys; print(json.load(sys.stdin)["last_seq"])')
[ "$last" = 3 ] && [ "$last" = "$stored" ] || fail "the replay's 409 says last_seq '$last', lisecd keeps $stored: $(cat body)"
expect 409 vm POST /v1/li/events "{\"events\":[$(ev sign --key vm-sp-replay.key --vm vm-sp-replay --seq 5 --type delivery),$(ev sign --key vm-sp-replay.key --vm vm-sp-replay --seq 4 --type delivery)]}"
grep -q 'out of order' body && ! grep -q last_seq body || fail "an out-of-order 409 carries last_seq: $(cat body)"
cp kept.spool vm-sp-replay.spool # as if the process had stopped before removing them
send vm-sp-replay
[ "$rc" = 0 ] && grep -q 'recorded: seq 4' vm-sp-replay.out || fail "send after a replayed spool: rc $rc: $(cat vm-sp-replay.err)"
grep -q 'TR103308-4.1: .*seq 1 to 3 refused by lisecd as replays (it has seqs up to 3): removed, not sent again' vm-sp-replay.err ||
  fail "the replay is not recognised: $(cat vm-sp-replay.err)"
[ ! -s vm-sp-replay.spool ] || fail "the replayed records are still in the spool"
[ "$(seqdoc vm-sp-replay)" = '{"gaps":0,"last_seq":4}' ] || fail "lisecd's sequence of vm-sp-replay: $(seqdoc vm-sp-replay)"
audit_read
[ "$(audit_seqs vm-sp-replay)" = "1 2 3 4" ] || fail "vm-sp-replay in the audit log: '$(audit_seqs vm-sp-replay)', want each once"
grep -q 'replayed' audit.txt || fail "lisecd did not record the refused replay"
pass "a batch lisecd took, still in the spool: its 409 replay (last_seq as lisecd keeps it) recognised, the records dropped, each event recorded once"

# ---- the VM's counter went back (the VM restored from a snapshot) -----------------------
# the snapshot: after seq 1; then 2-4 recorded; restored (state and spool)
send vm-sp-reuse
cp vm-sp-reuse.seq snap.seq
cp vm-sp-reuse.spool snap.spool
for s in 2 3 4; do send vm-sp-reuse; [ "$rc" = 0 ] || fail "send $s: rc $rc: $(cat vm-sp-reuse.err)"; done
cp snap.seq vm-sp-reuse.seq
cp snap.spool vm-sp-reuse.spool
# fewer events since the restore than lisecd has beyond it: none at its last seq
send vm-sp-reuse --detail xid=5e7f0000-aaaa-4bbb-8ccc-00000000d222
grep -q 'spooled: seq 2' vm-sp-reuse.out || fail "the event after the restore was not queued: $(cat vm-sp-reuse.out vm-sp-reuse.err)"
[ "$rc" = 0 ] && grep -q 'recorded: seq 5' vm-sp-reuse.out ||
  fail "the event made at a seq lisecd had is not recorded at a new one: rc $rc: $(cat vm-sp-reuse.out vm-sp-reuse.err)"
grep -q 'TR103308-4.1: .*the VM.s event counter went back.*lisecd has seqs up to 4.*seq 2 to 2 made again at seq 5 to 5' vm-sp-reuse.err ||
  fail "the renumbering is not reported: $(cat vm-sp-reuse.err)"
[ ! -e vm-sp-reuse.spool.rejected ] || fail "an event was set aside: $(cat vm-sp-reuse.spool.rejected)"
send vm-sp-reuse
[ "$rc" = 0 ] && grep -q 'recorded: seq 6' vm-sp-reuse.out || fail "the next event: rc $rc: $(cat vm-sp-reuse.out vm-sp-reuse.err)"
# restored again, lisecd away meanwhile: more events since the restore than
# lisecd has beyond it (seqs 2-8, lisecd has 6: its 6 is another event)
cp snap.seq vm-sp-reuse.seq
cp snap.spool vm-sp-reuse.spool
stop_lisecd
for s in 2 3 4 5 6 7 8; do send vm-sp-reuse --detail "restored=$s"; [ "$rc" = 3 ] || fail "send with lisecd down: rc $rc: $(cat vm-sp-reuse.err)"; done
relaunch_lisecd
rc=0
ev flush --key vm-sp-reuse.key --spool vm-sp-reuse.spool --state vm-sp-reuse.seq --server "$LISECD_URL" "${tls[@]}" \
  >vm-sp-reuse.out 2>vm-sp-reuse.err || rc=$?
[ "$rc" = 0 ] && grep -q 'flushed: 7 event(s)' vm-sp-reuse.out || fail "flush after the second restore: rc $rc: $(cat vm-sp-reuse.out vm-sp-reuse.err)"
grep -q 'lisecd has seqs up to 6.*seq 2 to 8 made again at seq 7 to 13' vm-sp-reuse.err || fail "the renumbering: $(cat vm-sp-reuse.err)"
[ "$(cat vm-sp-reuse.seq)" = "seq 13" ] || fail "the state after the renumbering: $(cat vm-sp-reuse.seq)"
[ "$(seqdoc vm-sp-reuse)" = '{"gaps":0,"last_seq":13}' ] || fail "lisecd's sequence of vm-sp-reuse: $(seqdoc vm-sp-reuse)"
audit_read
[ "$(audit_seqs vm-sp-reuse)" = "$(seq -s ' ' 1 13)" ] || fail "vm-sp-reuse in the audit log: '$(audit_seqs vm-sp-reuse)', want 1-13 once each"
grep -q '"seq":5,"time":[0-9]*,"type":"delivery","v":1,"vm":"vm-sp-reuse"' audit.txt && grep -q '00000000d222' audit.txt ||
  fail "the event made after the first restore is not recorded"
for n in 2 3 4 5 6 7 8; do grep -q "\"restored\":\"$n\"" audit.txt || fail "event $n after the second restore is not recorded"; done
# the refusal's record (its reason on the line after it) carries the finding
[ "$(grep -A1 'li-vm vm-sp-reuse  -> denied' audit.txt | grep -c 'finding TR103308-4.1-EVENTS-ROLLBACK: the VM signed another event at seq [46] ')" = 2 ] ||
  fail "lisecd did not record that the counter went back (twice): $(grep -A1 'li-vm vm-sp-reuse' audit.txt)"
# the auditor reads the finding nowhere in the clear (sealed to the LI administration)
lisec --server "$LISECD_URL" --pki "$pki" --role auditor audit read >auditor.txt 2>/dev/null || true
! grep -q 'EVENTS-ROLLBACK\|vm-sp-reuse' auditor.txt || fail "the rollback finding is readable without the LI key"
# an old signed batch replayed by anyone stays refused, no finding: the one lisecd took at 13
expect 409 vm POST /v1/li/events "$(ev sign --key vm-sp-reuse.key --vm vm-sp-reuse --seq 3 --type delivery)"
[ "$(seqdoc vm-sp-reuse)" = '{"gaps":0,"last_seq":13}' ] || fail "a replay moved the sequence"
pass "the VM's counter went back (restored from a snapshot twice): the events made since renumbered above lisecd's last, signed again and recorded (1-13, no gap, none set aside); lisecd records the rollback sealed (EVENTS-ROLLBACK); a replay stays refused"
# ---- an event larger than lisecd takes: refused when noted; one queued anyway set aside ---
big=$(python3 -S -c 'print("x" * 250)')
bigd=(--detail a="$big" --detail b="$big" --detail c="$big" --detail d="$big")
send vm-sp-big "${bigd[@]}"
[ "$rc" = 2 ] && grep -q 'TR103308-4.1: the event cannot be sent, lisecd takes events of at most 1024 bytes.*seq 1 not queued' vm-sp-big.err ||
  fail "an event over what lisecd takes: rc $rc, want 2 (not queued): $(cat vm-sp-big.out vm-sp-big.err)"
[ ! -s vm-sp-big.spool ] || fail "the event lisecd cannot take was queued: $(cat vm-sp-big.spool)"
# as a library that did not check left it: its record, then the next event
ev make --vm vm-sp-big --seq 2 --type error "${bigd[@]}" | python3 -S -c 'import hashlib, sys
p = sys.stdin.buffer.read().rstrip(b"\n")
sys.stdout.buffer.write(b"LSEV1 2 %d %s %s\n" % (len(p), hashlib.sha256(p).hexdigest().encode(), p))' >>vm-sp-big.spool
printf 'seq 2\n' >vm-sp-big.seq
send vm-sp-big
[ "$rc" = 0 ] && grep -q 'recorded: seq 3' vm-sp-big.out ||
  fail "the events after one lisecd cannot take were held: rc $rc: $(cat vm-sp-big.out vm-sp-big.err)"
grep -q 'TR103308-4.1: .*seq 2 cannot be sent.*set aside in .*vm-sp-big.spool.rejected' vm-sp-big.err ||
  fail "the event lisecd cannot take is not reported: $(cat vm-sp-big.err)"
grep -q '"seq":2,' vm-sp-big.spool.rejected || fail "the event lisecd cannot take is not set aside"
[ ! -s vm-sp-big.spool ] || fail "the spool still holds events: $(cat vm-sp-big.spool)"
[ "$(seqdoc vm-sp-big)" = '{"gaps":1,"last_seq":3}' ] || fail "lisecd's sequence of vm-sp-big: $(seqdoc vm-sp-big), want seqs 1-2 a gap"
audit_read
[ "$(audit_seqs vm-sp-big)" = 3 ] || fail "vm-sp-big in the audit log: '$(audit_seqs vm-sp-big)', want 3"
pass "an event over what lisecd takes: refused when noted (exit 2, its seq a gap); one queued anyway set aside in FILE.rejected, the next delivered"

# ---- an event at lisecd's bound at its own seq, over it at a longer one ---------------
# lisecd has seqs 1-10 of vm-sp-grow; the VM's counter then goes back to 1
for s in $(seq 1 10); do send vm-sp-grow --detail "n=$s"; [ "$rc" = 0 ] || fail "send $s: rc $rc: $(cat vm-sp-grow.err)"; done
printf 'seq 1\n' >vm-sp-grow.seq
# details sized so that the event at seq 2 is exactly 1024 bytes as lisecd
# records it ({"digest":"<hex>","event":...}: the made text and 76 bytes):
# 1025 at seq 10, where the spool signs it to show lisecd the rollback
x250=$(python3 -S -c 'print("x" * 250)')
made_len() { # SEQ [ARGS]: the bytes of vm-sp-grow's event made at SEQ
  local q=$1
  shift
  ev make --vm vm-sp-grow --seq "$q" --type delivery --time 1800000000 --detail lea=lea-fi "$@" | tr -d '\n' | wc -c
}
base=$(made_len 2 --detail a="$x250" --detail b="$x250" --detail c="$x250" --detail d=x)
dfill=$(python3 -S -c "print('x' * (1 + 1024 - 76 - $base))")
grow=(--time 1800000000 --detail a="$x250" --detail b="$x250" --detail c="$x250" --detail d="$dfill")
[ $(($(made_len 2 "${grow[@]:2}") + 76)) = 1024 ] || fail "the test's event is not 1024 bytes at seq 2"
send vm-sp-grow "${grow[@]}"
[ "$rc" = 2 ] && grep -q 'TR103308-4.1: the event cannot be sent, lisecd takes events of at most 1024 bytes as recorded, at any seq.*seq 2 not queued' vm-sp-grow.err ||
  fail "an event over lisecd's bound at a longer seq: rc $rc, want 2 (refused when noted): $(cat vm-sp-grow.out vm-sp-grow.err)"
[ ! -s vm-sp-grow.spool ] || fail "the event that cannot be sent at every seq was queued: $(cat vm-sp-grow.spool)"
send vm-sp-grow
[ "$rc" = 0 ] && grep -q 'recorded: seq 11' vm-sp-grow.out ||
  fail "the event after it, its counter gone back: rc $rc, want recorded at seq 11: $(cat vm-sp-grow.out vm-sp-grow.err)"
grep -q 'counter went back.*lisecd has seqs up to 10.*seq 3 to 3 made again at seq 11 to 11' vm-sp-grow.err ||
  fail "the renumbering is not reported: $(cat vm-sp-grow.err)"
[ "$(seqdoc vm-sp-grow)" = '{"gaps":0,"last_seq":11}' ] || fail "lisecd's sequence of vm-sp-grow: $(seqdoc vm-sp-grow)"
# as a library that did not check at the longest seq left it (the counter
# back to 1 again, lisecd at 11): the event at seq 2 within the bound
# there, over it at 11; then an event of the VM's own
printf 'seq 1\n' >vm-sp-grow.seq
ev make --vm vm-sp-grow --seq 2 --type delivery --detail lea=lea-fi "${grow[@]}" | python3 -S -c 'import hashlib, sys
p = sys.stdin.buffer.read().rstrip(b"\n")
sys.stdout.buffer.write(b"LSEV1 2 %d %s %s\n" % (len(p), hashlib.sha256(p).hexdigest().encode(), p))' >>vm-sp-grow.spool
printf 'seq 2\n' >vm-sp-grow.seq
send vm-sp-grow --detail xid=5e7f0000-aaaa-4bbb-8ccc-00000000e333
[ "$rc" = 0 ] && grep -q 'spooled: seq 3' vm-sp-grow.out && grep -q 'recorded: seq 13' vm-sp-grow.out ||
  fail "a spool holding an event over lisecd's bound at lisecd's last seq: rc $rc, want the next recorded at 13: $(cat vm-sp-grow.out vm-sp-grow.err)"
grep -q 'lisecd has seqs up to 11.*seq 2 to 3 made again at seq 12 to 13' vm-sp-grow.err ||
  fail "the renumbering: $(cat vm-sp-grow.err)"
grep -q 'TR103308-4.1: .*seq 12 cannot be sent.*set aside in .*vm-sp-grow.spool.rejected' vm-sp-grow.err ||
  fail "the event over the bound at its new seq is not set aside: $(cat vm-sp-grow.err)"
grep -q '"seq":12,' vm-sp-grow.spool.rejected || fail "the event over the bound is not in FILE.rejected"
[ ! -s vm-sp-grow.spool ] || fail "vm-sp-grow's spool still holds events: $(cat vm-sp-grow.spool)"
[ "$(seqdoc vm-sp-grow)" = '{"gaps":1,"last_seq":13}' ] || fail "lisecd's sequence of vm-sp-grow: $(seqdoc vm-sp-grow), want 13, 12 a gap"
audit_read
grep -q '00000000e333"},"seq":13,"time":[0-9]*,"type":"delivery","v":1,"vm":"vm-sp-grow"' audit.txt ||
  fail "the event after the one over the bound is not recorded at 13: $(grep -n 'vm-sp-grow' audit.txt | tail -8)"
[ "$(grep -A1 'li-vm vm-sp-grow  -> denied' audit.txt | grep -c 'finding TR103308-4.1-EVENTS-ROLLBACK: the VM signed another event at seq \(10\|11\) ')" = 2 ] ||
  fail "lisecd did not record both rollbacks of vm-sp-grow: $(grep -A1 'li-vm vm-sp-grow  -> denied' audit.txt)"
pass "an event within lisecd's bound at its seq but over it at a longer one: refused when noted (exit 2); the counter gone back still shown to lisecd and the next event recorded; one queued without that check neither stops the flush nor the rollback's record, it alone set aside"

# ---- two senders of one spool, different max_bytes -------------------------------------
# lisec-ne's and lisec-event's settings may differ: the sender with the
# default bound queues 32 events of about 1 KB (lisecd down), lisecd takes
# them all and that sender stops before removing them (the copy put back);
# the other, with max_bytes 16 KiB, reads only the spool's head, which does
# not hold lisecd's last event. It must see replays, not a counter gone back.
stop_lisecd
for s in $(seq 1 32); do
  send vm-sp-two --detail a="$x250" --detail b="$x250" --detail c="$x250"
  [ "$rc" = 3 ] || fail "send $s with lisecd down: rc $rc: $(cat vm-sp-two.err)"
done
cp vm-sp-two.spool two-kept.spool
relaunch_lisecd
flush vm-sp-two
[ "$rc" = 0 ] && grep -q 'flushed: 32 event(s)' vm-sp-two.out || fail "flush of vm-sp-two: rc $rc: $(cat vm-sp-two.out vm-sp-two.err)"
cp two-kept.spool vm-sp-two.spool
rc=0
ev flush --key vm-sp-two.key --spool vm-sp-two.spool --state vm-sp-two.seq --spool-max-bytes 16384 --server "$LISECD_URL" "${tls[@]}" \
  >vm-sp-two.out 2>vm-sp-two.err || rc=$?
grep -q 'over max_bytes (16384)' vm-sp-two.err || fail "the test's spool is within the second sender's bound: $(cat vm-sp-two.err)"
! grep -q 'counter went back' vm-sp-two.err || fail "the smaller bound took events lisecd had for a counter gone back: $(cat vm-sp-two.err)"
[ "$rc" = 0 ] && grep -q 'refused by lisecd as replays (it has seqs up to 32)' vm-sp-two.err ||
  fail "the second sender's flush: rc $rc: $(cat vm-sp-two.out vm-sp-two.err)"
[ ! -s vm-sp-two.spool ] || fail "vm-sp-two's spool still holds events"
[ "$(seqdoc vm-sp-two)" = '{"gaps":0,"last_seq":32}' ] || fail "lisecd's sequence of vm-sp-two: $(seqdoc vm-sp-two), want 32 (each event once)"
audit_read
[ "$(audit_seqs vm-sp-two)" = "$(seq -s ' ' 1 32)" ] || fail "vm-sp-two in the audit log: '$(audit_seqs vm-sp-two)', want 1-32 once each"
! grep -A1 'li-vm vm-sp-two' audit.txt | grep -q 'EVENTS-ROLLBACK' || fail "lisecd recorded a rollback of vm-sp-two that did not happen"
pass "two senders of one spool with different max_bytes: the smaller bound reads the head, finds lisecd's last event further on, drops the replays; no rollback recorded, each event once"
stop_clean
