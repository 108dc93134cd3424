#!/usr/bin/env bash
# Retained Data through the API (issue 20; docs/rd.md), on a real lisecd with
# a SoftHSM2 token:
#  - a retention obligation is the RD administration's (rd-admin): operator
#    and li-admin are refused (403 TR103308-5.8-RD-ROLE), bad and oversized
#    bodies refused naming the field; retention is never shortened, and is
#    lengthened only by the RD administration's signed command (unsigned,
#    wrongly signed, replayed: refused);
#  - a declared RD VM placed in London for a DE obligation is denied
#    (TR103308-5.8-RD-R11), in Frankfurt allowed; compliance lists an RD VM
#    outside DE (TR103308-5.8-RD-R1) to rd-admin only: the operator, the LI
#    administration and the auditor read no RD rule id and no RD count;
#  - the RD store's data key of a period goes only to the host running the
#    attested RD VM inside DE (not another host, not a host in London, not
#    an untrusted host, not another role), a period not begun is refused;
#    it comes wrapped to the RD VM's P-256 key (no key, a malformed or
#    oversized PEM, RSA-1024, P-384: 400 TR103308-5.7-RD-WRAP) and unwraps
#    with the VM's private key (openssl) to the token's key as pkcs11-tool
#    wraps it independently; the token refuses its value in clear
#    (CKR_ATTRIBUTE_SENSITIVE) and holds it; its early destruction is refused (409
#    TR103308-5.8-RD-EARLY), and with the RD clock moved past the end of
#    its retention (test hook) lisecd destroys it: pkcs11-tool lists it no
#    more, its request is 410 TR103308-5.8-RD-SHRED, and the audit log's
#    sealed record of it opens with the RD administration's key, not with
#    the LI administration's.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"

. "$src/tests/integration/lib/rd_lib.sh"
rd_start "fra-1 lon-1 ber-u"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out rogue.key 2>/dev/null

has() { grep -q -- "$1" body || fail "${2:-reply} lacks '$1': $(cat body)"; }
lacks() { ! grep -q -- "$1" body || fail "${2:-reply} names '$1': $(cat body)"; }

# --- the platform ------------------------------------------------------------------
expect 201 operator POST /v1/model/jurisdiction '{"id":"de","codes":["DE"]}'
for h in fra-1:DE:trusted fra-2:DE:trusted lon-1:GB:trusted ber-u:DE:untrusted; do
  IFS=: read -r id cc tr <<<"$h"
  expect 201 operator POST /v1/model/host "{\"id\":\"$id\",\"trust\":\"$tr\",\"protection\":\"li\",\"location\":{\"country\":\"$cc\"}}"
  expect 201 operator POST /v1/model/hypervisor "{\"id\":\"hv-$id\",\"host\":\"$id\"}"
done
vm() { expect 201 operator POST /v1/model/vm "{\"id\":\"$1\",\"hypervisor\":\"hv-$2\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"}"; }
vm rd-q fra-1
vm rd-db fra-1
vm rd-lon lon-1
vm rd-u ber-u
expect 201 operator POST /v1/model/storage '{"id":"rd-store","vm":"rd-db"}'

# --- obligations: the RD administration's ------------------------------------------
now=$(date +%s)
ob="{\"jurisdiction\":\"de\",\"functions\":[\"rd-q\",\"rd-new\",\"rd-lon\",\"rd-u\"],\"stores\":[\"rd-store\"],\"period_s\":3600,\"retention_s\":3600,\"valid_from\":$((now - 10))}"
for role in operator li-admin host; do
  expect 403 $role PUT /v1/rd/obligations/ob-de "$ob"
  has TR103308-5.8-RD-ROLE "$role's refusal"
done
expect 403 operator GET /v1/rd/obligations
expect 400 rd-admin PUT /v1/rd/obligations/ob-de '{"jurisdiction":"de","functions":["rd-q"],"stores":[],"period_s":0,"retention_s":60}'
has period_s
expect 400 rd-admin PUT /v1/rd/obligations/ob-de '{"jurisdiction":"de","functions":["rd q"],"period_s":60,"retention_s":60}'
has 'functions\[0\]'
expect 400 rd-admin PUT /v1/rd/obligations/ob-de '{"jurisdiction":"de","functions":["a"],"period_s":60,"retention_s":60,"colour":"red"}'
expect 404 rd-admin PUT /v1/rd/obligations/ob-de '{"jurisdiction":"xx","functions":["a"],"period_s":60,"retention_s":60}'
many=$(python3 -c 'import json; print(json.dumps({"jurisdiction":"de","functions":["v%d" % i for i in range(65)],"period_s":60,"retention_s":60}))')
expect 400 rd-admin PUT /v1/rd/obligations/ob-de "$many"
{ printf '{"jurisdiction":"de","functions":["'; head -c $((2 << 20)) /dev/zero | tr '\0' a; printf '"]}'; } >big.json
code=$(as rd-admin -X PUT -o body -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @big.json "$LISECD_URL/v1/rd/obligations/ob-de")
[ "$code" = 413 ] || fail "an oversized obligation: HTTP $code"
expect 200 rd-admin PUT /v1/rd/obligations/ob-de "$ob"
expect 200 rd-admin GET /v1/rd/obligations/ob-de
has '"retention_s":3600'
shorter=${ob/\"retention_s\":3600/\"retention_s\":1800}
expect 409 rd-admin PUT /v1/rd/obligations/ob-de "$shorter"
has TR103308-5.8-RD-EARLY
longer=${ob/\"retention_s\":3600/\"retention_s\":5400}
expect 409 rd-admin PUT /v1/rd/obligations/ob-de "$longer"
has TR103308-5.8-RD-EXTEND
pass "obligations: rd-admin only (403 RD-ROLE), bad/oversized bodies refused, retention neither shortened nor lengthened by a PUT"

# --- placement and compliance ------------------------------------------------------
expect 200 operator POST /v1/decisions/placement '{"id":"rd-new","host":"lon-1","sensitivity":"sensitive","domain":"rd"}'
has '"allow":false' && has TR103308-5.8-RD-R11 && lacks ob-de "the operator's placement answer"
expect 200 operator POST /v1/decisions/placement '{"id":"rd-new","host":"fra-2","sensitivity":"sensitive","domain":"rd"}'
has '"allow":true'
expect 200 operator POST /v1/decisions/migration '{"vm":"rd-q","host":"lon-1"}'
has '"allow":false' && has TR103308-5.8-RD-R11
expect 200 rd-admin GET /v1/compliance
has TR103308-5.8-RD-R1 && has 'retention obligation ob-de is issued in DE; RD function VM rd-lon runs on host lon-1'
has TR103308-5.8-RD-R8
python3 -c 'import json,sys; c=json.load(open("body"))["counts"]; sys.exit(0 if c.get("TR103308-5.8-RD-R1",0) >= 1 else 1)' ||
  fail "rd-admin's compliance counts lack RD-R1: $(cat body)"
for role in operator li-admin auditor; do
  expect 200 $role GET /v1/compliance
  # no RD rule row, id or count, nor a flag that moves with RD state
  lacks TR103308-5.8-RD "$role's compliance" && lacks ob-de "$role's compliance" && lacks 'rd-lon' "$role's compliance"
  lacks 'rd (withheld)' "$role's compliance"
  python3 -c 'import json,sys; b=json.load(open("body")); sys.exit(0 if b["compliant"] == (len(b["violations"]) == 0) and "counts" in b else 1)' ||
    fail "$role's compliance flag or counts disagree with its rows: $(cat body)"
done
pass "an RD VM placed or moved to London for a DE obligation is denied (RD-R11), Frankfurt allowed; compliance lists RD rows and counts to rd-admin only (operator, li-admin, auditor: none)"

# --- keys per period ---------------------------------------------------------------
p11=(pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321)
in_token() { "${p11[@]}" --list-objects 2>/dev/null | grep -c "lisec-rd:rd-store:$1" || true; }
# the RD VM's own P-256 key pairs (the data key is wrapped to the public key)
for k in vm vm2 vm-lon vm-u vm-db; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $k.key 2>/dev/null
  openssl pkey -in $k.key -pubout -out $k.pub
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 2>/dev/null | openssl pkey -pubout -out p384.pub
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null | openssl pkey -pubout -out rsa1024.pub
printf -- '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n' >bad.pub
{ echo '-----BEGIN PUBLIC KEY-----'; head -c 600 /dev/zero | tr '\0' A | fold -w 64; echo; echo '-----END PUBLIC KEY-----'; } >big.pub
# every key request's body, in one go: NAME=VM:PUBFILE (no PUBFILE: no key)
python3 -c 'import json,sys
for a in sys.argv[1:]:
    name, vm, pub = a.replace("=", ":").split(":")
    d = {"vm": vm}
    if pub: d["public_key"] = open(pub).read()
    open("req-%s.json" % name, "w").write(json.dumps(d))' ok=rd-q:vm.pub ok2=rd-q:vm2.pub lon=rd-lon:vm-lon.pub u=rd-u:vm-u.pub \
  db=rd-db:vm-db.pub none=rd-q: bad=rd-q:bad.pub big=rd-q:big.pub rsa1024=rd-q:rsa1024.pub p384=rd-q:p384.pub
kreq() { echo "$(<"req-$1.json")"; }
hexof() { od -An -tx1 -v | tr -d ' \n'; }
unwrap() { # PRIVKEY: the data key (hex) of the reply in body, opened as the RD VM does
  python3 -c 'import json,base64; b=json.load(open("body")); assert b["wrap"]=="ECDH-P256+A256KW" and "key" not in b, b
open("eph.pem","w").write(b["ephemeral_public_key"]); w=base64.b64decode(b["wrapped_key"]); assert len(w)==40
open("wrapped.bin","wb").write(w)'
  openssl pkeyutl -derive -inkey "$1" -peerkey eph.pem -out z.bin
  openssl enc -d -id-aes256-wrap -iv A6A6A6A6A6A6A6A6 -K "$(hexof <z.bin)" -in wrapped.bin | hexof
}
ok=$(kreq ok)
# the RD administration registers each VM's key (rd_recipient), so that the
# refusals below are the model's, not the recipient's; each its own key (a
# key is one RD VM's)
rd_register rd-q vm.pub 1
for v in lon u db; do rd_register rd-$v vm-$v.pub 1; done
expect 403 operator POST /v1/rd/keys/rd-store/0 "$ok"
has TR103308-5.7-RD-KEY
expect 403 rd-admin POST /v1/rd/keys/rd-store/0 "$ok"
expect 403 lon-1 POST /v1/rd/keys/rd-store/0 "$ok"   # rd-q runs on fra-1
has TR103308-5.7-RD-KEY
expect 403 lon-1 POST /v1/rd/keys/rd-store/0 "$(kreq lon)" # on lon-1, outside DE
has TR103308-5.7-RD-KEY && lacks 'not located' # why: in the sealed record (below)
expect 403 ber-u POST /v1/rd/keys/rd-store/0 "$(kreq u)"   # inside DE, not attested trusted
has TR103308-5.7-RD-KEY && lacks 'not attested'
expect 403 fra-1 POST /v1/rd/keys/rd-store/0 "$(kreq db)"  # not an RD function
expect 403 fra-1 POST /v1/rd/keys/other/0 "$ok" # as a VM that is not an RD function: no store probe
expect 409 fra-1 POST /v1/rd/keys/rd-store/5 "$ok"   # not begun
expect 400 fra-1 POST /v1/rd/keys/rd-store/x1 "$ok"
expect 400 fra-1 POST /v1/rd/keys/rd-store/0 '{"public_key":"x"}'
# the recipient key: none, malformed, oversized, RSA-1024, P-384: each refused naming RD-WRAP
for pub in none bad big rsa1024 p384; do
  expect 400 fra-1 POST /v1/rd/keys/rd-store/0 "$(kreq $pub)"
  has TR103308-5.7-RD-WRAP "the refusal of recipient key '$pub'"
done
code=$(req fra-1 GET '/v1/rd/keys/rd-store/0?vm=rd-q')
[ "$code" != 200 ] || fail "the clear-key GET route still answers"
[ "$(in_token 0)" = 0 ] || fail "a refused request made a key"
expect 200 fra-1 POST /v1/rd/keys/rd-store/0 "$ok"
lacks '"key"' "the key reply"
key0=$(unwrap vm.key)
[ ${#key0} = 64 ] || fail "the wrapped key does not unwrap to 32 bytes with the RD VM's key"
expect 403 fra-1 POST /v1/rd/keys/rd-store/0 "$(kreq ok2)" # not the registered key
has TR103308-5.7-RD-KEY
rd_register rd-q vm2.pub 2
expect 200 fra-1 POST /v1/rd/keys/rd-store/0 "$(kreq ok2)"
[ "$(unwrap vm2.key)" = "$key0" ] || fail "the same period gave another key"
! unwrap vm.key >/dev/null 2>&1 || fail "a key wrapped to vm2 opened with vm's key"
[ "$(in_token 0)" = 1 ] || fail "the token does not hold the key of period 0: $("${p11[@]}" --list-objects 2>&1)"
rd_register rd-q vm.pub 3
# Independently of lisec: the token's own object, wrapped by pkcs11-tool
# under a KEK this test made, is the key the RD VM unwrapped; and the token
# never shows it in clear (sensitive: CKA_VALUE is refused).
kid=$(printf 'lisec-rd:rd-store:0' | hexof)
head -c 32 /dev/urandom >test-kek.bin
"${p11[@]}" --write-object test-kek.bin --type secrkey --key-type AES:32 --id 7e57 --label test-kek --usage-wrap >/dev/null 2>&1
"${p11[@]}" --wrap --id 7e57 --application-id "$kid" -m AES-KEY-WRAP -o by-test.bin >/dev/null 2>&1 ||
  fail "pkcs11-tool cannot wrap the token's key"
[ "$(openssl enc -d -id-aes256-wrap -iv A6A6A6A6A6A6A6A6 -K "$(hexof <test-kek.bin)" -in by-test.bin | hexof)" = "$key0" ] ||
  fail "the key the RD VM unwrapped is not the token's key"
"${p11[@]}" --delete-object --type secrkey --id 7e57 >/dev/null 2>&1
! "${p11[@]}" --read-object --type secrkey --id "$kid" -o clear.bin >p11.out 2>&1 || fail "the token gave the key in clear"
grep -q CKR_ATTRIBUTE_SENSITIVE p11.out || fail "reading the key's value: $(cat p11.out)"
[ ! -s clear.bin ] || fail "the key's value was written out"
pass "the period's key goes only to the host of the attested RD VM in DE (other roles, hosts, London, untrusted refused), wrapped to the VM's P-256 key (none, malformed, oversized, RSA-1024, P-384 refused RD-WRAP); it unwraps to the token's key (checked by pkcs11-tool), which the token never shows in clear"

# --- extension by signed command -----------------------------------------------------
lisec rd sign-extend --key rd-sign.key --obligation ob-de --retention-s 5400 --counter 1 --expires +600 -o ext.json
lisec rd sign-extend --key rogue.key --obligation ob-de --retention-s 5400 --counter 2 --expires +600 -o rogue.json
lisec rd sign-extend --key rd-sign.key --obligation ob-de --retention-s 1800 --counter 3 --expires +600 -o short.json
expect 403 operator POST /v1/rd/obligations/ob-de/extend "$(cat ext.json)"
unsigned=$(python3 -c 'import json; d=json.load(open("ext.json")); d["signature"]="AAAA"; print(json.dumps(d))')
expect 403 rd-admin POST /v1/rd/obligations/ob-de/extend "$unsigned"
has TR103308-5.8-RD-EXTEND
expect 400 rd-admin POST /v1/rd/obligations/ob-de/extend "$(python3 -c 'import json; print(json.dumps(json.load(open("ext.json"))["command"]))')"
expect 403 rd-admin POST /v1/rd/obligations/ob-de/extend "$(cat rogue.json)"
expect 200 rd-admin POST /v1/rd/obligations/ob-de/extend "$(cat ext.json)"
has '"retention_s":5400'
expect 409 rd-admin POST /v1/rd/obligations/ob-de/extend "$(cat ext.json)"
has replayed
expect 409 rd-admin POST /v1/rd/obligations/ob-de/extend "$(cat short.json)"
pass "retention extended only by the RD administration's signed command; unsigned, wrongly signed, replayed, shorter refused"

# --- the end of retention -----------------------------------------------------------
expect 409 rd-admin POST /v1/rd/keys/rd-store/0/destroy
has TR103308-5.8-RD-EARLY
expect 409 rd-admin DELETE /v1/rd/obligations/ob-de
has TR103308-5.8-RD-EARLY
[ "$(in_token 0)" = 1 ] || fail "a refused destruction destroyed the key"
echo 20000 >clock # period 0 ends ~1 h from the start, its retention 1.5 h after: 20000 s ahead is past both
# (an hour of real time between: a loaded machine never ends a retention before the test moves the clock)
for _ in $(seq 1 300); do [ "$(in_token 0)" = 0 ] && break; sleep 0.1; done
[ "$(in_token 0)" = 0 ] || fail "the key of period 0 is still in the token after its retention"
for _ in $(seq 1 100); do [ "$(req fra-1 POST /v1/rd/keys/rd-store/0 "$ok")" = 410 ] && break; sleep 0.1; done
expect 410 fra-1 POST /v1/rd/keys/rd-store/0 "$ok"
has TR103308-5.8-RD-SHRED
pass "at the end of retention the key is destroyed in the token (pkcs11-tool lists it no more) and its period is 410 RD-SHRED"

cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
cli auditor audit read --li-key audit-rd.key >rd.out 2>&1 || true
grep -q 'rd.key.destroy' rd.out && grep -q 'TR103308-5.8-RD-SHRED' rd.out && grep -q 'rd.obligation.put' rd.out &&
  grep -q "not located inside the obligation's jurisdiction" rd.out && grep -q 'not attested trusted' rd.out ||
  fail "the RD key does not open the RD records: $(tail -5 rd.out)"
cli auditor audit read --li-key audit-li.key >li.out 2>&1 || true
! grep -q 'rd\.key\|rd\.obligation\|ob-de' li.out || fail "the LI key opened an RD record"
expect 200 auditor GET '/v1/audit/entries?from=0&count=1000'
lacks ob-de "the auditor's entries" && lacks rd.key.destroy "the auditor's entries"
pass "the destruction is recorded sealed: the RD key opens it, the LI key and the auditor read nothing of it"
