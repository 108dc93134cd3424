#!/usr/bin/env bash
# A VM is a known LI VM in the trust model (TR 103 308 §4.2) because the LI
# administration paired it, never because someone declared it: a model put
# that declares `paired` is refused naming the requirement; pairing through
# /v1/li/vms makes the model's known-LI-VM rule pass, a signed disable makes
# it fail again, both survive a restart of lisecd, and a pairing made before
# the VM is in the model applies when the VM is added.
# The end of an LI VM (issue 21): MANO and the operator cannot terminate an
# LI VM (409, the sentence every reference refusal gets, naming no LI); only
# the LI administration's signed retire command (lisec li sign-retire /
# retire) ends it, never while an LI names it, not unsigned, wrongly signed,
# for an unknown VM, by another role or twice, each refusal leaving the
# record as it was; the VM's own key signs events lisecd records while it
# is paired and refuses after the retirement; MANO then terminates the VM.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"

pki=$work/pki
make_pki "$pki"
cd "$work"
lisec audit li-keygen audit-li.key audit-li.pub >/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out li-admin.key 2>/dev/null
openssl pkey -in li-admin.key -pubout -out li-admin.pub
for vm in vm-li vm-li2; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $vm.key 2>/dev/null
  openssl pkey -in $vm.key -pubout -out $vm.pub
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out rogue.key 2>/dev/null
lisec pki issue "$pki" vm vm vm-li3 >/dev/null 2>&1 || fail "lisec pki issue (role vm)"
"$build/cmd/lisec-event/lisec-event" keygen --key vm-li3.key --pub vm-li3.pub || fail "lisec-event keygen"
conf=("[audit]" "li_admin_key = $work/audit-li.pub" "[li]" "admin_pubkey = $work/li-admin.pub")
start_lisecd "$pki" "${conf[@]}"

# req ROLE METHOD PATH [BODY]: prints the HTTP status; the body is in $work/body.
req() {
  local role=$1 method=$2 path=$3 body=${4:-}
  if [ -n "$body" ]; then
    as "$role" -X "$method" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary "$body" "$LISECD_URL$path"
  else
    as "$role" -X "$method" -o "$work/body" -w '%{http_code}' "$LISECD_URL$path"
  fi
}
expect() { # STATUS ROLE METHOD PATH [BODY]
  local want=$1 got
  shift
  got=$(req "$@")
  [ "$got" = "$want" ] || fail "$2 $3: HTTP $got, want $want: $(cat "$work/body")"
}
# unknown VM: 0 when the compliance report names VM as a not-paired LI VM
unknown() {
  expect 200 li-admin GET /v1/compliance
  python3 - "$work/body" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
hits = [v for v in d["violations"] if v["requirement"] == "TR103308-4.2-KNOWN"
        and "LI VM %s, which is not paired" % sys.argv[2] in v.get("sentence", "")]
sys.exit(0 if hits else 1)
PY
}

expect 201 operator POST /v1/model/jurisdiction '{"id":"fi","codes":["FI"]}'
expect 201 operator POST /v1/model/host '{"id":"h1","protection":"li"}'
expect 201 operator POST /v1/model/hypervisor '{"id":"hv1","host":"h1"}'
expect 403 operator POST /v1/model/vm '{"id":"vm-li","hypervisor":"hv1","sensitivity":"li","domain":"li","paired":true}'
grep -q '"requirement":"TR103308-4.2"' body && grep -q 'LI administration pairs it' body ||
  fail "a declared pairing is not refused naming TR103308-4.2: $(cat body)"
expect 404 operator GET /v1/model/vm/vm-li
expect 201 operator POST /v1/model/vm '{"id":"vm-li","hypervisor":"hv1","sensitivity":"li","domain":"li"}'
expect 201 operator POST /v1/model/vm '{"id":"vm-target","hypervisor":"hv1","sensitivity":"sensitive","domain":"core"}'
expect 201 operator POST /v1/model/lea '{"id":"lea-fi","name":"LEA","jurisdiction":"fi"}'
expect 201 operator POST /v1/model/storage '{"id":"st-1","vm":"vm-li"}'
li_put() { # LI-ID LI-VM
  expect 201 li-admin POST /v1/model/li "{\"id\":\"$1\",\"jurisdiction\":\"fi\",\"lea\":\"lea-fi\",\"monitored\":\"vm-target\",\"host\":\"$2\",\"storage\":\"st-1\",\"valid_from\":\"2025-01-01T00:00:00Z\",\"valid_until\":\"2035-01-01T00:00:00Z\"}"
}
li_put li-1 vm-li
unknown vm-li || { cat body; fail "an unpaired LI VM is not reported as unknown"; }
pass "declaring a VM paired is refused (TR103308-4.2); an unpaired LI VM is a violation"

pair() { # VM
  expect 201 hypervisor-admin POST /v1/li/vms "$(python3 -c 'import json,sys; print(json.dumps({"vm": sys.argv[1], "pubkey": open(sys.argv[2]).read()}))' "$1" "$1.pub")"
  expect 200 hypervisor-admin POST "/v1/li/vms/$1/enable"
  lisec li pair-sign --key li-admin.key --vm "$1" --pubkey "$1.pub" -o "pair-$1.json" 2>/dev/null
  expect 200 li-admin POST "/v1/li/vms/$1/pair" "{\"statement\":$(cat "pair-$1.json")}"
}
pair vm-li
! unknown vm-li || fail "vm-li is paired, yet the model calls it unknown"
stop_lisecd
start_lisecd "$pki" "${conf[@]}"
! unknown vm-li || fail "after a restart the model forgot that vm-li is paired"
pass "pairing by the LI administration makes vm-li a known LI VM, also after a restart"

lisec li sign-disable --key li-admin.key --vm vm-li --counter 1 --expires +600 -o off.json 2>/dev/null
expect 200 li-admin POST /v1/li/vms/vm-li/disable-command "{\"command\":$(cat off.json)}"
unknown vm-li || fail "switched off, vm-li is still known to the model"
stop_lisecd
start_lisecd "$pki" "${conf[@]}"
unknown vm-li || fail "after a restart a switched-off VM is known again"
pass "switched off by the LI administration's command, vm-li is unknown again, also after a restart"

pair vm-li2
expect 201 operator POST /v1/model/vm '{"id":"vm-li2","hypervisor":"hv1","sensitivity":"li","domain":"li"}'
li_put li-2 vm-li2
! unknown vm-li2 || fail "a pairing made before the VM was in the model did not apply"
pass "a VM paired before it enters the model is known when it is added"

# --- the end of an LI VM (issue 21) -------------------------------------------------
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
# event SEQ: vm-li3's event seq SEQ, signed with its own key, sent with role vm
event() {
  "$build/cmd/lisec-event/lisec-event" send --key vm-li3.key --vm vm-li3 --seq "$1" --type activation \
    --server "$LISECD_URL" --ca "$pki/ca.crt" --cert "$pki/vm.crt" --tls-key "$pki/vm.key"
}
expect 400 mano POST /v1/li/vms '{"vm":"vm-li3"}'
cli mano li instantiate vm-li3 --pubkey vm-li3.pub >/dev/null || fail "lisec li instantiate vm-li3"
expect 200 li-admin GET /v1/li/vms/vm-li3
grep -q '"key_source":"vm"' body || fail "vm-li3's key is not its own: $(cat body)"
expect 200 hypervisor-admin POST /v1/li/vms/vm-li3/enable
lisec li pair-sign --key li-admin.key --vm vm-li3 --pubkey vm-li3.pub -o pair-vm-li3.json 2>/dev/null
expect 200 li-admin POST /v1/li/vms/vm-li3/pair "{\"statement\":$(cat pair-vm-li3.json)}"
expect 201 operator POST /v1/model/vm '{"id":"vm-li3","hypervisor":"hv1","sensitivity":"li","domain":"li"}'
event 1 >out 2>&1 || fail "paired vm-li3's event is refused: $(cat out)"
record() {
  expect 200 li-admin GET /v1/li/vms/vm-li3
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("updated_at"); print(json.dumps(d, sort_keys=True))' body
}
before=$(record)
# MANO or the operator terminating an LI VM, paired (vm-li3) or switched off (vm-li)
for who_vm in mano:vm-li3 operator:vm-li; do
  who=${who_vm%%:*} vm=${who_vm#*:}
  expect 409 "$who" DELETE "/v1/model/vm/$vm"
  grep -q 'TR103308-4.1' body && grep -q 'still referenced' body || fail "$who DELETE $vm: $(cat body)"
  ! grep -qi 'LI VM\|li-1\|paired' body || fail "the refusal to $who names the LI: $(cat body)"
done
expect 200 operator GET /v1/model/vm/vm-li3
pass "MANO and the operator cannot terminate an LI VM: 409 TR103308-4.1 naming no LI; the VM stays"
lisec li sign-retire --key li-admin.key --vm vm-li3 --counter 1 --expires +600 -o retire.json 2>/dev/null
lisec li sign-retire --key rogue.key --vm vm-li3 --counter 1 --expires +600 -o rogue.json 2>/dev/null
lisec li sign-retire --key li-admin.key --vm vm-nope --counter 1 --expires +600 -o nope.json 2>/dev/null
lisec li sign-retire --key li-admin.key --vm vm-li --counter 9 --expires +600 -o inuse.json 2>/dev/null
lisec li verify-retire retire.json --pubkey li-admin.pub --vm vm-li3 >/dev/null || fail "lisec li verify-retire"
expect 403 operator POST /v1/li/vms/vm-li3/retire "{\"command\":$(cat retire.json)}"
unsigned=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["command"]))' retire.json)
expect 400 li-admin POST /v1/li/vms/vm-li3/retire "{\"command\":$unsigned}"
grep -q 'TR103308-4.1' body || fail "an unsigned retire command: $(cat body)"
expect 403 li-admin POST /v1/li/vms/vm-li3/retire "{\"command\":$(cat rogue.json)}"
grep -q 'TR103308-4.1' body || fail "a wrongly signed retire command: $(cat body)"
lisec li sign-disable --key li-admin.key --vm vm-li3 --counter 1 --expires +600 -o off3.json 2>/dev/null
expect 400 li-admin POST /v1/li/vms/vm-li3/retire "{\"command\":$(cat off3.json)}"
expect 404 li-admin POST /v1/li/vms/vm-nope/retire "{\"command\":$(cat nope.json)}"
grep -q 'TR103308-4.1' body || fail "retiring an unknown VM: $(cat body)"
expect 409 li-admin POST /v1/li/vms/vm-li/retire "{\"command\":$(cat inuse.json)}"
grep -q 'in use' body && grep -q 'li-1' body || fail "retiring an LI VM an LI names: $(cat body)"
[ "$(record)" = "$before" ] || fail "a refused retirement changed vm-li3's record"
event 2 >out 2>&1 || fail "after refused retirements vm-li3's key is refused: $(cat out)"
pass "retirement refused for other roles, unsigned, wrongly signed, a disable command, unknown, in use; nothing changed"
cli li-admin li retire vm-li3 retire.json >out || fail "lisec li retire: $(cat out)"
grep -q retired out || fail "lisec li retire says: $(cat out)"
rc=0; event 3 >out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'TR103308-4.1' out && grep -q retired out || fail "an event of retired vm-li3: exit $rc: $(cat out)"
expect 200 li-admin GET /v1/li/vms/vm-li3
grep -q '"state":"retired"' body && ! grep -q paired_key body || fail "vm-li3 after retirement: $(cat body)"
rc=0; cli li-admin li retire vm-li3 retire.json >out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'retired' out || fail "retiring twice: exit $rc: $(cat out)"
pass "the LI administration's command retired vm-li3: pairing ended, its key's events refused; a replay is refused"
expect 200 mano DELETE /v1/model/vm/vm-li3
grep -q '"state":"terminated"' body || fail "MANO's termination of the retired VM: $(cat body)"
expect 404 mano DELETE /v1/model/vm/vm-li3
grep -q 'SEC025-TERMINATE' body || fail "terminating an unknown VM: $(cat body)"
expect 404 operator GET /v1/model/vm/vm-li3
pass "retired, vm-li3 is MANO's to terminate (no host reports it: at once); terminating it twice is 404"
