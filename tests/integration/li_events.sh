#!/usr/bin/env bash
# Signed events from LI VMs (issue 20 item 3, TR 103 308 §4.1 "any events on
# the LI VMs are logged, and only the LI administration can read those
# logs"): a VM makes its own key (lisec-event keygen), MANO registers the
# public key, the LI administration pairs it; lisec-event send (the
# sequence number from its state file) and a batch are recorded (201);
# the records are sealed: lisec audit read opens them with the LI key and
# not with another. Refused, each naming TR103308-4.1 and no VM, with the
# VM's sequence left where it was: unsigned, wrongly signed, an unpaired VM,
# a VM switched off by the LI administration, a replayed seq (also after a
# restart), an out-of-order batch, an oversized event, a batch over
# [events] max_batch, another role; a gap is accepted and recorded as a
# finding; after retirement the VM's key is refused. Signed batches (one
# signature over the events' digests; lisec-ne sends its events so) are
# recorded, and refused when signed by another key, changed, split or
# over max_batch.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"

pki=$work/pki
make_pki "$pki"
cd "$work"
lisec pki issue "$pki" vm vm vm-li-1 >/dev/null 2>&1 || fail "lisec pki issue (role vm)"
lisec pki issue "$pki" admf operator admf-1 >/dev/null 2>&1 || fail "lisec pki issue (the ADMF)"
lisec audit li-keygen audit-li.key audit-li.pub >/dev/null
lisec audit li-keygen other-li.key other-li.pub >/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out li-admin.key 2>/dev/null
openssl pkey -in li-admin.key -pubout -out li-admin.pub
ev() { "$build/cmd/lisec-event/lisec-event" "$@"; }
for vm in vm-li-1 vm-li-2 vm-li-3 poi-li; do ev keygen --key $vm.key --pub $vm.pub || fail "lisec-event keygen $vm"; done
ev keygen --key rogue.key --pub rogue.pub
[ "$(stat -c %a vm-li-1.key)" = 600 ] || fail "the VM's key file is not 0600"
rc=0; ev keygen --key vm-li-1.key --pub x.pub 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "lisec-event keygen overwrote a key"
conf=("[audit]" "li_admin_key = $work/audit-li.pub" "[li]" "admin_pubkey = $work/li-admin.pub"
  "[events]" "max_event = 700" "max_batch = 4")
start_lisecd "$pki" "${conf[@]}"

req() { # ROLE METHOD PATH [BODY]: prints the status; the body is in $work/body
  local role=$1 method=$2 path=$3 body=${4:-}
  as "$role" -X "$method" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    ${body:+--data-binary "$body"} "$LISECD_URL$path"
}
expect() { # STATUS ROLE METHOD PATH [BODY]
  local want=$1 got
  shift
  got=$(req "$@")
  [ "$got" = "$want" ] || fail "$2 $3 $4: HTTP $got, want $want: $(cat "$work/body")"
}
register() { # VM: registered with its own key, enabled
  expect 201 mano POST /v1/li/vms "$(python3 -c 'import json,sys; print(json.dumps({"vm": sys.argv[1], "pubkey": open(sys.argv[2]).read()}))' "$1" "$1.pub")"
  grep -q '"key_source":"vm"' body || fail "$1's key is not the VM's: $(cat body)"
  expect 200 hypervisor-admin POST "/v1/li/vms/$1/enable"
}
pair() { # VM [LAST]
  lisec li pair-sign --key li-admin.key --vm "$1" --pubkey "$1.pub" --last "${2:-0}" -o "pair-$1.json" 2>/dev/null
  expect 200 li-admin POST "/v1/li/vms/$1/pair" "{\"statement\":$(cat "pair-$1.json")}"
}
# the registration requires the VM's public key: lisecd generates none
expect 400 mano POST /v1/li/vms '{"vm":"vm-nokey"}'
grep -q 'pubkey' body || fail "a registration without pubkey: $(cat body)"
register vm-li-1
register vm-li-2
register vm-li-3
register poi-li
pair vm-li-1
pair vm-li-3
pair poi-li
pass "VMs registered with their own keys (a registration without one is refused), two paired"

send() {
  ev send --key vm-li-1.key --vm vm-li-1 --state vm-li-1.seq --server "$LISECD_URL" --ca "$pki/ca.crt" \
    --cert "$pki/vm.crt" --tls-key "$pki/vm.key" "$@"
}
send --type activation --detail xid=5e7f0000-aaaa-4bbb-8ccc-000000000001 >out || fail "lisec-event send: $(cat out)"
grep -q 'seq 1' out || fail "the first event is not seq 1: $(cat out)"
send --type target-change --detail xid=5e7f0000-aaaa-4bbb-8ccc-000000000001 --detail change=modify >out ||
  fail "lisec-event send: $(cat out)"
grep -q 'seq 2' out && grep -qx 'seq 2' vm-li-1.seq || fail "the second event is not seq 2: $(cat out)"
sign() { # KEY VM SEQ [TYPE]: a signed event on stdout
  ev sign --key "$1.key" --vm "$2" --seq "$3" --type "${4:-delivery}" --detail lea=lea-fi
}
batch() { local IFS=,; echo "{\"events\":[$*]}"; }
expect 201 vm POST /v1/li/events "$(batch "$(sign vm-li-1 vm-li-1 3)" "$(sign vm-li-1 vm-li-1 4 error)")"
grep -q '"accepted":2' body && grep -q '"last_seq":4' body && grep -q '"gaps":0' body || fail "batch: $(cat body)"
expect 201 vm POST /v1/li/events "$(sign vm-li-1 vm-li-1 7)"
grep -q '"gaps":1' body || fail "a gap is not reported: $(cat body)"
echo "seq 7" >vm-li-1.seq
pass "lisec-event send (seq from its state file), a batch of 2 and a gap (5, 6 missing) recorded: 201"

# ---- refusals: each names TR103308-4.1, none names a VM; nothing taken ---------------
refused() { # STATUS WHAT BODY [ROLE]
  expect "$1" "${4:-vm}" POST /v1/li/events "$3"
  grep -q 'TR103308-4.1' body || fail "$2: the refusal names no requirement: $(cat body)"
  ! grep -q 'vm-li' body || fail "$2: the refusal names a VM: $(cat body)"
}
good8=$(sign vm-li-1 vm-li-1 8)
unsigned=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps({"event": d["event"]}))' "$good8")
refused 400 unsigned "$unsigned"
grep -q 'not signed' body || fail "unsigned: $(cat body)"
refused 403 "wrong key" "$(sign rogue vm-li-1 8)"
grep -q 'does not verify' body || fail "wrong key: $(cat body)"
forged=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["event"]["type"]="error"; print(json.dumps(d))' "$good8")
refused 403 "a changed field" "$forged"
refused 403 "unpaired VM" "$(sign vm-li-2 vm-li-2 1)"
grep -q 'not paired' body || fail "unpaired: $(cat body)"
refused 403 "unknown VM" "$(sign vm-li-2 vm-nobody 1)"
refused 409 replay "$(sign vm-li-1 vm-li-1 2)"
grep -q 'replayed' body || fail "replay: $(cat body)"
# the VM's last accepted seq as a field of the error (its spool reads it)
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"].get("last_seq"))' body)" = 7 ] ||
  fail "the replay's 409 carries not last_seq 7: $(cat body)"
refused 409 "replay of the last" "$(sign vm-li-1 vm-li-1 7)"
refused 409 "out of order" "$(batch "$(sign vm-li-1 vm-li-1 9)" "$(sign vm-li-1 vm-li-1 8)")"
grep -q 'out of order' body || fail "out of order: $(cat body)"
big=$(printf 'x%.0s' $(seq 1 250))
refused 413 oversized "$(ev sign --key vm-li-1.key --vm vm-li-1 --seq 8 --type error --detail a=$big --detail b=$big --detail c=$big)"
grep -q 'max_event' body || fail "oversized: $(cat body)"
refused 413 "batch over max_batch" "$(batch $(for s in 8 9 10 11 12; do sign vm-li-1 vm-li-1 $s; done))"
grep -q 'max_batch' body || fail "batch over limit: $(cat body)"
refused 400 "two VMs in a batch" "$(batch "$(sign vm-li-1 vm-li-1 8)" "$(sign vm-li-3 vm-li-3 1)")"
refused 400 "malformed" '{"event":{"v":1},"sig":"AAAA"}'
expect 403 operator POST /v1/li/events "$good8"
! grep -q 'vm-li' body || fail "another role's refusal names a VM: $(cat body)"
lisec li sign-disable --key li-admin.key --vm vm-li-3 --counter 1 --expires +600 -o off3.json 2>/dev/null
expect 200 li-admin POST /v1/li/vms/vm-li-3/disable-command "{\"command\":$(cat off3.json)}"
refused 403 "a VM switched off" "$(sign vm-li-3 vm-li-3 1)"
# nothing was taken: seq 8 is the next, with no gap
expect 201 vm POST /v1/li/events "$good8"
grep -q '"last_seq":8' body && grep -q '"gaps":0' body || fail "a refused event moved the sequence: $(cat body)"
echo "seq 8" >vm-li-1.seq
pass "refused: unsigned, wrong key, changed field, unpaired, unknown, replayed, out of order, oversized, over max_batch, two VMs, malformed, other role, switched off; the sequence did not move"

stop_lisecd
start_lisecd "$pki" "${conf[@]}"
refused 409 "replay after a restart" "$(sign vm-li-1 vm-li-1 8)"
send --type delivery --detail lea=lea-fi >out 2>&1 || fail "lisec-event send after a restart: $(cat out)"
grep -q 'seq 9' out || fail "after a restart: $(cat out)"
pass "the last seq survives a restart of lisecd: a replay is refused, seq 9 recorded"

# ---- signed batches (form 2): one signature over the SHA-256 of each event --------------
mk() { # SEQ...: vm-li-1's unsigned events, one a line (the first by lisec-event make)
  ev make --vm vm-li-1 --seq "$1" --type delivery --detail lea=lea-fi
  shift
  for s in "$@"; do printf '{"event":{"details":{"lea":"lea-fi"},"seq":%s,"time":1796470000,"type":"delivery","v":1,"vm":"vm-li-1"}}\n' "$s"; done
}
expect 201 vm POST /v1/li/events "$(mk 10 11 12 | ev sign-batch --key vm-li-1.key)"
grep -q '"accepted":3' body && grep -q '"last_seq":12' body && grep -q '"gaps":0' body || fail "signed batch: $(cat body)"
mk 13 14 15 | ev sign-batch --key vm-li-1.key >good.json
# the same batch bent after signing: an event changed, split (an event and
# its digest left out); reordered and the other malformed forms are in
# test_events_batch (each request here costs a sealed, durable record)
python3 - good.json <<'PY'
import json, sys
for name, bend in (("changed", lambda d: d["events"][1]["event"].update(type="error")),
                   ("split", lambda d: (d["events"].pop(2), d["batch"]["digests"].pop(2)))):
    d = json.load(open(sys.argv[1])); bend(d); open(name + ".json", "w").write(json.dumps(d))
PY
refused 403 "a batch signed by another key" "$(mk 13 14 15 | ev sign-batch --key rogue.key)"
grep -q 'batch signature does not verify' body || fail "a batch signed by another key: $(cat body)"
refused 403 "an event changed after its batch was signed" "$(cat changed.json)"
grep -q 'does not match digest 1' body || fail "a digest list not matching: $(cat body)"
refused 403 "a split batch" "$(cat split.json)"
refused 413 "a signed batch over max_batch" "$(mk 13 14 15 16 17 | ev sign-batch --key vm-li-1.key)"
expect 201 vm POST /v1/li/events "$(cat good.json)"
grep -q '"last_seq":15' body && grep -q '"gaps":0' body || fail "a refused signed batch moved the sequence: $(cat body)"
echo "seq 15" >vm-li-1.seq
pass "signed batches recorded (201); refused: another key, a changed event, split, over max_batch; the sequence did not move"

# ---- lisec-ne, an LI VM: its start, X1 activation, deactivation, a refused request, stop --
port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-li --admf-id admf-1 --events-server "$LISECD_URL" --events-ca "$pki/ca.crt" \
  --events-cert "$pki/vm.crt" --events-tls-key "$pki/vm.key" --events-key poi-li.key --events-vm poi-li \
  --events-state poi-li.seq 2>ne.log &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null")
for _ in $(seq 300); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
XID=29f28e1c-f230-486a-a860-f5a784ab9172
x1() { # TYPE BODY
  curl -sS --cacert "$pki/ca.crt" --cert "$pki/admf.crt" --key "$pki/admf.key" -H 'Content-Type: application/xml' \
    --data-binary "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<X1Request xmlns=\"http://uri.etsi.org/03221/X1/2017/10\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">
 <x1RequestMessage xsi:type=\"$1\"><admfIdentifier>admf-1</admfIdentifier><neIdentifier>poi-li</neIdentifier>
  <messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version>
  <x1TransactionId>6a1f2e3d-0000-4000-8000-00000000000$3</x1TransactionId>$2</x1RequestMessage></X1Request>" \
    "https://localhost:$port/X1/NE"
}
TASK="<taskDetails><xId>$XID</xId><targetIdentifiers><targetIdentifier><imsi>244051234567890</imsi></targetIdentifier></targetIdentifiers><deliveryType>X2andX3</deliveryType><listOfDIDs><dId>0b5d9b3a-8c9e-4d8b-9a55-5d8f1e2a3b4c</dId></listOfDIDs></taskDetails>"
x1 ActivateTaskRequest "$TASK" 1 | grep -q AcknowledgedAndCompleted || fail "lisec-ne: activate"
x1 ActivateTaskRequest "$TASK" 2 | grep -q '<errorCode>2010</errorCode>' || fail "lisec-ne: a second activate"
x1 DeactivateTaskRequest "<xId>$XID</xId>" 3 | grep -q AcknowledgedAndCompleted || fail "lisec-ne: deactivate"
kill -TERM $ne_pid
wait $ne_pid || fail "lisec-ne did not stop cleanly: $(cat ne.log)"
grep -qx 'seq 5' poi-li.seq || fail "lisec-ne numbered $(cat poi-li.seq) events, want 5"
! grep -q 'not taken' ne.log || fail "lisecd did not take lisec-ne's events: $(cat ne.log)"
pass "lisec-ne reported start, activation, a refused X1 request, deactivation and stop (seq 1-5), all taken"

# ---- the records: sealed, the LI key opens them, another key does not -------------------
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
cli li-admin audit read --li-key audit-li.key >audit.txt 2>&1 || { cat audit.txt; fail "lisec audit read"; }
# lisec-ne sends its events from a thread of their own, so its five may
# come in one to five signed batches, a record each
n_ok=$(grep 'li\.event.*ok\|ok.*li\.event' audit.txt | grep -vc 'li-vm poi-li' || true)
n_ne=$(grep 'li\.event.*ok\|ok.*li\.event' audit.txt | grep -c 'li-vm poi-li' || true)
[ "$n_ok" = 8 ] && [ "$n_ne" -ge 1 ] && [ "$n_ne" -le 5 ] || { grep "li.event" audit.txt; fail "$n_ok li.event records accepted, want 8 (2 sends, a batch, a gap, seq 8, seq 9, 2 signed batches), and $n_ne of lisec-ne's, want 1 to 5"; }
# a signed batch's record verifies offline: its statement rebuilt from the
# events' digests in order, its signature checked by openssl with the VM's key
python3 - audit.txt <<'PY' || fail "a signed batch's record does not verify offline with the VM's public key"
import json, re, subprocess, sys, base64, hashlib
lines = open(sys.argv[1]).read().split("\n")
at = next(i for i, l in enumerate(lines) if "signed batch v2 sig " in l and "li-vm vm-li-1" in l)
sig = re.search(r"signed batch v2 sig ([A-Za-z0-9+/=]+)", lines[at]).group(1)
recs = [json.loads(l.split("reason: ", 1)[1]) for l in lines[at + 1:] if l.strip().startswith("reason: {")][:3]
for r in recs:  # each event's digest is its canonical bytes' SHA-256
    canon = json.dumps(r["event"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canon.encode()).hexdigest() == r["digest"], r
stmt = json.dumps({"digests": [r["digest"] for r in recs], "v": 2, "vm": "vm-li-1"}, sort_keys=True, separators=(",", ":"))
open("stmt", "w").write(stmt); open("stmt.sig", "wb").write(base64.b64decode(sig))
subprocess.run(["openssl", "dgst", "-sha256", "-verify", "vm-li-1.pub", "-signature", "stmt.sig", "stmt"],
               check=True, stdout=subprocess.DEVNULL)
PY
for t in start activation error deactivation stop; do
  grep 'poi-li' audit.txt | grep -q "\"type\":\"$t\"" || fail "lisec-ne's $t event is not in the LI administration's view"
done
grep 'poi-li' audit.txt | grep -q "$XID" || fail "lisec-ne's activation does not name its XID"
! grep -q '244051234567890' audit.txt || fail "an event names the target"
grep -q '5e7f0000-aaaa-4bbb-8ccc-000000000001' audit.txt || fail "the activation's content is not in the LI administration's view"
grep -q 'TR103308-4.1-EVENTS-GAP' audit.txt || fail "the gap is not recorded as a finding"
grep -q 'replayed' audit.txt || fail "the refused replay is not recorded"
cli li-admin audit read --li-key other-li.key >other.txt 2>&1 || true
! grep -q '5e7f0000-aaaa-4bbb-8ccc-000000000001' other.txt || fail "another key opens the events"
! grep -q 'li\.event' other.txt || fail "another key reads the LI event records"
cli auditor audit read --li-key other-li.key >auditor.txt 2>&1 || true
! grep -q 'vm-li-1' auditor.txt || fail "the auditor's view names the LI VM"
pass "the events are sealed: the LI administration's key opens them (content, gap finding, refusals), another key does not"

# ---- an LI VM whose key is in its vTPM (its own swtpm) ----------------------------------
# keygen --tpm makes the key in the TPM and prints its public key; the key
# file is the TPM's blob (public area, private area wrapped by the TPM's
# storage root key), no private key; events signed by the TPM are recorded
# like a software key's; the TPM's key does not sign for another VM; a fresh
# TPM in its place (the key gone) makes send fail naming why; lisec-ne uses it.
tpm_up() { # DIR: the VM's own swtpm, killed on cleanup (its state is thrown away with $work)
  cleanup_hooks+=("kill \$(cat '$1/swtpm.pid' 2>/dev/null) 2>/dev/null")
  eval "$("$src/scripts/test/swtpm-start" "$1")" || fail "swtpm did not start"
}
tpm_up "$work/tpm-vm-li-tpm"
tcti=$LISEC_TPM_TCTI
ev keygen --tpm --tcti "$tcti" --key vm-li-tpm.tpmkey --pub vm-li-tpm.pub >keygen.out || fail "lisec-event keygen --tpm"
cmp -s keygen.out vm-li-tpm.pub && grep -q 'BEGIN PUBLIC KEY' keygen.out || fail "keygen --tpm did not print the public key"
[ "$(stat -c %a vm-li-tpm.tpmkey)" = 600 ] || fail "the TPM key file is not 0600"
[ "$(head -c 8 vm-li-tpm.tpmkey)" = LSEVTPM1 ] || fail "the TPM key file is not a TPM blob"
! grep -qa 'PRIVATE KEY' vm-li-tpm.tpmkey || fail "the TPM key file holds a PEM private key"
# its public area, as the TPM's tools read it: a key the TPM will not let out
python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); n=int.from_bytes(d[8:10],"big"); open(sys.argv[2],"wb").write(d[8:10+n])' \
  vm-li-tpm.tpmkey tpmkey.pub.bin
tpm2_print -t TPM2B_PUBLIC tpmkey.pub.bin >tpmkey.txt 2>&1 || fail "tpm2_print cannot read the key's public area: $(cat tpmkey.txt)"
grep -q 'fixedtpm|fixedparent|sensitivedataorigin' tpmkey.txt && grep -q 'sign' tpmkey.txt && grep -q 'NIST p256' tpmkey.txt ||
  fail "the key is not a non-duplicable P-256 signing key of the TPM: $(cat tpmkey.txt)"
register vm-li-tpm
pair vm-li-tpm
tsend() { # [TCTI] ARGS: lisec-event send with the TPM key
  ev send --tpm --tcti "$tcti" --key vm-li-tpm.tpmkey --vm vm-li-tpm --state vm-li-tpm.seq --server "$LISECD_URL" \
    --ca "$pki/ca.crt" --cert "$pki/vm.crt" --tls-key "$pki/vm.key" "$@"
}
tsend --type activation --detail xid=5e7f0000-aaaa-4bbb-8ccc-00000000a7e1 >out 2>&1 || fail "lisec-event send --tpm: $(cat out)"
grep -q 'seq 1' out || fail "the TPM VM's first event is not seq 1: $(cat out)"
# the TPM's key signs for its own VM only
refused 403 "the TPM key signing for another VM" \
  "$(ev sign --tpm --tcti "$tcti" --key vm-li-tpm.tpmkey --vm vm-li-1 --seq 20 --type error)"
grep -q 'does not verify' body || fail "the TPM key for another VM: $(cat body)"
# lisec-ne with its key in the TPM (its start and stop)
port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id vm-li-tpm --admf-id admf-1 --events-server "$LISECD_URL" --events-ca "$pki/ca.crt" \
  --events-cert "$pki/vm.crt" --events-tls-key "$pki/vm.key" --events-key vm-li-tpm.tpmkey --events-vm vm-li-tpm \
  --events-state vm-li-tpm.seq --events-tpm --events-tcti "$tcti" 2>ne-tpm.log &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null")
for _ in $(seq 300); do grep -qx 'seq 2' vm-li-tpm.seq 2>/dev/null && break; kill -0 $ne_pid 2>/dev/null || break; sleep 0.1; done
kill -TERM $ne_pid 2>/dev/null
wait $ne_pid || fail "lisec-ne with a TPM key did not run or stop cleanly: $(cat ne-tpm.log)"
grep -qx 'seq 3' vm-li-tpm.seq && ! grep -q 'not taken' ne-tpm.log || fail "lisec-ne's TPM-signed events: $(cat vm-li-tpm.seq) $(cat ne-tpm.log)"
cli li-admin audit read --li-key audit-li.key >audit-tpm.txt 2>&1 || { cat audit-tpm.txt; fail "lisec audit read"; }
for t in start activation stop; do
  grep 'vm-li-tpm' audit-tpm.txt | grep -q "\"type\":\"$t\"" || fail "the TPM VM's $t event is not in the LI administration's view"
done
grep -q '5e7f0000-aaaa-4bbb-8ccc-00000000a7e1' audit-tpm.txt || fail "the TPM VM's activation is not recorded"
# a fresh TPM in its place: the key is gone, send fails naming why
kill "$SWTPM_PID"
tpm_up "$work/tpm-vm-li-tpm-new"
rc=0; tsend --tcti "$LISEC_TPM_TCTI" --type error >out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'does not take the event key' out || fail "send with a fresh TPM: rc $rc: $(cat out)"
grep -qx 'seq 3' vm-li-tpm.seq || fail "a send that could not sign took a sequence number"
pass "vTPM key: keygen --tpm (a fixedTPM blob, no private key on disk), events signed in swtpm recorded (lisec-event, lisec-ne), refused for another VM; a fresh TPM cannot sign"
