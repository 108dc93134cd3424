#!/usr/bin/env bash
# Who an RD data key is wrapped to (docs/rd.md, "Who a data key is wrapped
# to"; TR 103 308 §5.7, §5.8), on a real lisecd with a SoftHSM2 token and
# a real host certificate:
#  - before the RD administration registers a key for RD VM rd-q its host
#    gets no data key (403 TR103308-5.7-RD-KEY, telling what to do: lisec
#    rd sign-recipient, lisec rd register), read alike for rd-q and its
#    twin tw-q, which no obligation names: a host cannot tell an RD
#    function by it;
#  - the registration is the RD administration's: every other role is
#    refused (403 TR103308-5.8-RD-ROLE); one signed by another key, for
#    another VM, expired, valid too long, or of a key not on P-256 is
#    refused naming TR103308-5.7-RD-RECIPIENT, a replay is 409;
#  - registered (lisec rd sign-recipient + lisec rd register), the key is
#    given wrapped to that key and opens with openssl as docs/rd.md shows;
#    a request naming another key is refused alike to an unregistered VM;
#  - a VM whose registered key the host sends but that the model refuses
#    (its host outside the jurisdiction; no obligation names it) is refused
#    alike to an unregistered VM and to another key: the host does not
#    learn whether the RD administration registered a VM;
#  - a key another RD VM holds is refused (409 RD-RECIPIENT, naming no VM);
#  - a later command replaces the key, a removal ends it, and a command
#    signed before either is a replay; registrations outlive a restart;
#  - every act and refusal is recorded sealed to the RD administration:
#    its key opens them, the auditor reads none.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/rd_lib.sh"
rd_start "fra-1 par-1" "[api]" "refusal_rate = 0"

has() { grep -q -- "$1" body || fail "${2:-reply} lacks '$1': $(cat body)"; }
lacks() { ! grep -q -- "$1" body || fail "${2:-reply} names '$1': $(cat body)"; }

expect 201 operator POST /v1/model/jurisdiction '{"id":"de","codes":["DE"]}'
expect 201 operator POST /v1/model/host '{"id":"fra-1","trust":"trusted","protection":"li","location":{"country":"DE"}}'
expect 201 operator POST /v1/model/hypervisor '{"id":"hv-fra-1","host":"fra-1"}'
# par-1: attested trusted, but in France, outside the obligation's jurisdiction
expect 201 operator POST /v1/model/host '{"id":"par-1","trust":"trusted","protection":"li","location":{"country":"FR"}}'
expect 201 operator POST /v1/model/hypervisor '{"id":"hv-par-1","host":"par-1"}'
for v in rd-q:fra-1 tw-q:fra-1 rd-db:fra-1 rd-n:par-1 tw-n:par-1; do
  expect 201 operator POST /v1/model/vm "{\"id\":\"${v%:*}\",\"hypervisor\":\"hv-${v#*:}\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"}"
done
expect 201 operator POST /v1/model/storage '{"id":"rd-st","vm":"rd-db"}'
now=$(date +%s)
expect 200 rd-admin PUT /v1/rd/obligations/ob-de "{\"jurisdiction\":\"de\",\"functions\":[\"rd-q\",\"rd-n\"],\"stores\":[\"rd-st\"],\"period_s\":3600,\"retention_s\":3600,\"valid_from\":$((now - 10))}"

for k in vm vm2 vm3 vm4 rogue; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $k.key 2>/dev/null
  openssl pkey -in $k.key -pubout -out $k.pub
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 2>/dev/null | openssl pkey -pubout -out p384.pub
kreq() { python3 -c 'import json,sys; print(json.dumps({"vm": sys.argv[1], "public_key": open(sys.argv[2]).read()}))' "$1" "$2"; }
hexof() { od -An -tx1 -v | tr -d ' \n'; }
unwrap() { # PRIVKEY: the data key (hex) of the reply in body, opened as docs/rd.md shows
  python3 -c 'import json,base64; b=json.load(open("body"))
open("eph.pem","w").write(b["ephemeral_public_key"]); open("wrapped.bin","wb").write(base64.b64decode(b["wrapped_key"]))'
  openssl pkeyutl -derive -inkey "$1" -peerkey eph.pem -out z.bin
  openssl enc -d -id-aes256-wrap -iv A6A6A6A6A6A6A6A6 -K "$(xxd -p -c 64 z.bin)" -in wrapped.bin | hexof
}
p11=(pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321)
in_token() { "${p11[@]}" --list-objects 2>/dev/null | grep -c "lisec-rd:rd-st:0" || true; }

# --- no registration: refused, alike for an RD function and its twin -----------------
a=$(answer fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq rd-q vm.pub)")
b=$(answer fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq tw-q vm.pub)")
alike "the refusals for an unregistered RD function and its twin" "$a" "$b"
case $a in 403*TR103308-5.7-RD-KEY*"lisec rd sign-recipient, then lisec rd register"*) ;; *) fail "the unregistered refusal: $a" ;; esac
[ "$(in_token)" = 0 ] || fail "a refused request made a key"
pass "no registration: no data key (403 RD-KEY naming lisec rd sign-recipient and lisec rd register), an RD function and its twin read alike"

# --- the registration route: rd-admin only --------------------------------------------
lisec rd sign-recipient --key rd-sign.key --vm rd-q --pubkey vm.pub --counter 1 --expires +600 -o reg1.json
for role in operator li-admin auditor mano hypervisor-admin fra-1; do
  expect 403 "$role" POST /v1/rd/recipients/rd-q "$(cat reg1.json)"
  has TR103308-5.8-RD-ROLE "$role's registration"
  expect 403 "$role" GET /v1/rd/recipients/rd-q
  has TR103308-5.8-RD-ROLE "$role's read"
done
pass "registering and reading an RD VM's key: every role but rd-admin refused (403 RD-ROLE)"

# --- bad registrations: refused naming the requirement ----------------------------------
lisec rd sign-recipient --key rogue.key --vm rd-q --pubkey vm.pub --counter 1 --expires +600 -o forged.json
expect 403 rd-admin POST /v1/rd/recipients/rd-q "$(cat forged.json)"
has TR103308-5.7-RD-RECIPIENT && has 'not signed by the RD administration'
# reg1.json with vm2's key put in after signing
lisec rd sign-recipient --key rd-sign.key --vm rd-q --pubkey vm2.pub --counter 9 --expires +600 -o k2.json
swapped=$(python3 -c 'import json; d=json.load(open("reg1.json")); e=json.load(open("k2.json"))
d["command"]["public_key"]=e["command"]["public_key"]; print(json.dumps(d))')
expect 403 rd-admin POST /v1/rd/recipients/rd-q "$swapped"
has TR103308-5.7-RD-RECIPIENT && has 'not signed by the RD administration'
expect 403 rd-admin POST /v1/rd/recipients/tw-q "$(cat reg1.json)"
has TR103308-5.7-RD-RECIPIENT && has 'another VM'
lisec rd sign-recipient --key rd-sign.key --vm rd-q --pubkey vm.pub --counter 1 --expires $((now - 5)) -o old.json
expect 403 rd-admin POST /v1/rd/recipients/rd-q "$(cat old.json)"
has TR103308-5.7-RD-RECIPIENT && has expired
lisec rd sign-recipient --key rd-sign.key --vm rd-q --pubkey vm.pub --counter 1 --expires $((now + 8 * 86400)) -o long.json
expect 403 rd-admin POST /v1/rd/recipients/rd-q "$(cat long.json)"
has TR103308-5.7-RD-RECIPIENT && has 'more than'
! lisec rd sign-recipient --key rd-sign.key --vm rd-q --pubkey p384.pub --counter 1 --expires +600 -o p384.json 2>err.txt ||
  fail "sign-recipient signed a P-384 key"
grep -q TR103308-5.7-RD-RECIPIENT err.txt || fail "the P-384 refusal: $(cat err.txt)"
p384=$(python3 -c 'import json,sys,subprocess
d=json.load(open("reg1.json")); der=subprocess.run(["openssl","pkey","-pubin","-in","p384.pub","-outform","DER"],capture_output=True).stdout
import base64; d["command"]["public_key"]=base64.b64encode(der).decode(); print(json.dumps(d))')
expect 400 rd-admin POST /v1/rd/recipients/rd-q "$p384"
has TR103308-5.7-RD-RECIPIENT && has 'P-256'
expect 404 rd-admin GET /v1/rd/recipients/rd-q
pass "forged, altered, another VM's, expired, too long-lived and P-384 registrations refused naming RD-RECIPIENT, nothing stored"

# --- registered: the key, wrapped to the registered key only ------------------------------
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
cli rd-admin rd register rd-q reg1.json >reg.out || fail "lisec rd register: $(cat reg.out)"
cli rd-admin rd recipient rd-q >show.out || fail "lisec rd recipient: $(cat show.out)"
grep -q "$(openssl pkey -pubin -in vm.pub -outform DER | base64 -w0)" show.out || fail "the registered key: $(cat show.out)"
expect 409 rd-admin POST /v1/rd/recipients/rd-q "$(cat reg1.json)"
has TR103308-5.7-RD-RECIPIENT && has replayed
expect 200 fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq rd-q vm.pub)"
key0=$(unwrap vm.key)
[ ${#key0} = 64 ] || fail "the key does not open with the registered VM key"
a=$(answer fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq rd-q vm2.pub)")
b=$(answer fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq tw-q vm2.pub)")
alike "another key than the registered one, and an unregistered twin" "$a" "$b"
case $a in 403*TR103308-5.7-RD-KEY*) ;; *) fail "another key's refusal: $a" ;; esac
pass "registered by lisec rd register: the key is given and opens with openssl; a request naming another key is refused alike to an unregistered VM"

# --- registered, refused by the model: read as unregistered --------------------------------
# rd-n, an RD function of ob-de, registered; its host par-1 is outside the
# jurisdiction. Its twin tw-n is registered by nobody.
rd_register rd-n vm3.pub 1
a=$(answer par-1 POST /v1/rd/keys/rd-st/0 "$(kreq rd-n vm3.pub)")
b=$(answer par-1 POST /v1/rd/keys/rd-st/0 "$(kreq tw-n vm3.pub)")
alike "a registered RD function on a host outside the jurisdiction, and an unregistered twin" "$a" "$b"
case $a in 403*TR103308-5.7-RD-KEY*"lisec rd register"*) ;; *) fail "the refusal outside the jurisdiction: $a" ;; esac
# tw-q registered, but no obligation names it; rd-q asked with another key than its registered one
rd_register tw-q vm4.pub 1
a=$(answer fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq tw-q vm4.pub)")
b=$(answer fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq rd-q vm2.pub)")
alike "a registered VM no obligation names, and an RD function asked with another key" "$a" "$b"
[ "$(in_token)" = 1 ] || fail "a refused request made a key"
pass "a registered VM the model refuses (outside the jurisdiction, no obligation) reads as an unregistered one or another key (403 RD-KEY)"

# --- a key is one RD VM's ----------------------------------------------------------------
# rd-n holds vm3: registering it for tw-n (and for rd-q) is refused (409
# RD-RECIPIENT), naming no other VM; nothing stored, the counter not used
lisec rd sign-recipient --key rd-sign.key --vm tw-n --pubkey vm3.pub --counter 1 --expires +600 -o dup.json
expect 409 rd-admin POST /v1/rd/recipients/tw-n "$(cat dup.json)"
has TR103308-5.7-RD-RECIPIENT && has 'registered to another RD VM' && lacks rd-n
expect 404 rd-admin GET /v1/rd/recipients/tw-n
lisec rd sign-recipient --key rd-sign.key --vm rd-q --pubkey vm3.pub --counter 9 --expires +600 -o dup2.json
expect 409 rd-admin POST /v1/rd/recipients/rd-q "$(cat dup2.json)"
has 'registered to another RD VM'
expect 200 rd-admin GET /v1/rd/recipients/rd-q
has '"last_counter":1' && has "$(openssl pkey -pubin -in vm.pub -outform DER | base64 -w0)"
pass "a key registered to another RD VM is refused (409 RD-RECIPIENT, the VM not named), nothing stored"

# --- replaced, removed, replayed ----------------------------------------------------------
rd_register rd-q vm2.pub 2
expect 200 fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq rd-q vm2.pub)"
[ "$(unwrap vm2.key)" = "$key0" ] || fail "the replacing key does not open the same period's key"
expect 403 fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq rd-q vm.pub)"
has TR103308-5.7-RD-KEY
lisec rd sign-recipient --key rd-sign.key --vm rd-q --remove --counter 3 --expires +600 -o rm.json
expect 200 rd-admin POST /v1/rd/recipients/rd-q "$(cat rm.json)"
has '"registered":false'
expect 403 fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq rd-q vm2.pub)"
has TR103308-5.7-RD-KEY
expect 409 rd-admin POST /v1/rd/recipients/rd-q "$(cat reg-rd-q-2.json)"
has replayed
rd_register rd-q vm.pub 4
rd_restart "[api]" "refusal_rate = 0"
expect 200 rd-admin GET /v1/rd/recipients/rd-q
has '"last_counter":4' && has '"registered":true'
expect 200 fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq rd-q vm.pub)"
[ "$(unwrap vm.key)" = "$key0" ] || fail "after the restart the key does not open"
pass "a later command replaces the key, a removal ends it, an earlier command is a replay; registrations outlive a restart"

# --- sealed records ------------------------------------------------------------------------
cli auditor audit read --li-key audit-rd.key >rd.out 2>&1 || true
for w in rd.recipient.register rd.recipient.remove 'no recipient key is registered' \
  'the recipient key is registered to RD VM rd-n already' \
  'is not the key the RD administration registered' 'not signed by the RD administration' replayed \
  'not located inside the obligation' 'no retention obligation names this store with the requesting VM'; do
  grep -q -- "$w" rd.out || fail "the RD key does not open a record with '$w': $(grep rd.recipient rd.out | tail -3)"
done
expect 200 auditor GET '/v1/audit/entries?from=0&count=1000'
lacks rd.recipient "the auditor's entries" && lacks 'rd-q' "the auditor's entries"
pass "registrations, removals and every refusal are recorded sealed: the RD key opens them, the auditor reads none"
