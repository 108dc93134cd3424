#!/usr/bin/env bash
# Nothing about Retained Data reaches a role other than rd-admin
# (docs/rd.md, "Who reads what"), checked with twins on a real lisecd with
# a SoftHSM2 token: an obligation ob-de names VM rd-q as an RD function and
# storage rd-st as an RD store; tw-q and tw-st are rd-q and rd-st in every
# declared respect (same hypervisor, sensitivity, domain; a store of a VM
# on the same host), but no obligation names them. Every answer about one
# must equal the answer about the other, ids aside:
#  - the RD data key route, asked by the host running both VMs (role host):
#    a store no obligation names and a store one names, for a VM no
#    obligation names, are refused alike (status and sentence), so a host
#    cannot probe which storage ids are RD stores; nor can a host that may
#    not have the key (untrusted) tell an RD function it runs from its twin;
#    nor whether the RD administration registered a VM's key: a registered
#    RD function the model refuses reads as an unregistered twin;
#  - the RD routes, asked by every other role about an obligation that
#    exists and one that does not, are refused alike;
#  - model reads of the twins are alike;
#  - an obligation's counter outlives the obligation: a command signed
#    for ob-de before ob-de was deleted is a replay against a new ob-de;
#  - a key whose store an obligation no longer names still blocks that
#    obligation's deletion until the key is destroyed, and is destroyed at
#    the end of its retention (it is not kept for ever).
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/rd_lib.sh"
rd_start "fra-1 ber-u" "[api]" "refusal_rate = 0"

# --- the platform ------------------------------------------------------------------
expect 201 operator POST /v1/model/jurisdiction '{"id":"de","codes":["DE"]}'
for h in fra-1:trusted fra-2:trusted ber-u:untrusted; do
  IFS=: read -r h tr <<<"$h"
  expect 201 operator POST /v1/model/host "{\"id\":\"$h\",\"trust\":\"$tr\",\"protection\":\"li\",\"location\":{\"country\":\"DE\"}}"
  expect 201 operator POST /v1/model/hypervisor "{\"id\":\"hv-$h\",\"host\":\"$h\"}"
done
for v in rd-q tw-q rd-db tw-db; do
  expect 201 operator POST /v1/model/vm "{\"id\":\"$v\",\"hypervisor\":\"hv-fra-1\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"}"
done
for v in rd-u tw-u; do
  expect 201 operator POST /v1/model/vm "{\"id\":\"$v\",\"hypervisor\":\"hv-ber-u\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"}"
done
expect 201 operator POST /v1/model/storage '{"id":"rd-st","vm":"rd-db"}'
expect 201 operator POST /v1/model/storage '{"id":"tw-st","vm":"tw-db"}'
now=$(date +%s)
ob="{\"jurisdiction\":\"de\",\"functions\":[\"rd-q\",\"rd-u\"],\"stores\":[\"rd-st\"],\"period_s\":3600,\"retention_s\":3600,\"valid_from\":$((now - 10))}"
expect 200 rd-admin PUT /v1/rd/obligations/ob-de "$ob"

# --- the key route, asked by the host running both --------------------------------
# each VM its own key (a key is one RD VM's: rd_recipient)
for v in rd-q rd-u tw-q tw-u; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $v.key 2>/dev/null
  openssl pkey -in $v.key -pubout -out $v.pub
done
kreq() { python3 -c 'import json,sys; print(json.dumps({"vm": sys.argv[1], "public_key": open(sys.argv[1] + ".pub").read()}))' "$1"; }
# unregistered, an RD function and its twin are refused alike
a=$(answer fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq rd-q)")
b=$(answer fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq tw-q)")
alike "the key refusals for an unregistered RD function and its twin" "$a" "$b"
# The RD functions registered, their twins not: a registered VM the model
# refuses reads as an unregistered one, so a host that sends a VM's own
# key does not learn whether the RD administration registered it (that
# it is an RD function).
for v in rd-q rd-u; do rd_register $v $v.pub 1; done
# the untrusted host: the RD function's registered key, its twin's unregistered
a=$(answer ber-u POST /v1/rd/keys/rd-st/0 "$(kreq rd-u)")
b=$(answer ber-u POST /v1/rd/keys/rd-st/0 "$(kreq tw-u)")
alike "the key refusals, to an untrusted host, for a registered RD function and its unregistered twin" "$a" "$b"
case $a in 403*TR103308-5.7-RD-KEY*"lisec rd register"*) ;; *) fail "the key refusal: $a" ;; esac
# a store no obligation names, for the registered RD function; the RD
# store, for its unregistered twin
a=$(answer fra-1 POST /v1/rd/keys/tw-st/0 "$(kreq rd-q)")
b=$(answer fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq tw-q)")
alike "the key refusals for a registered RD function and its unregistered twin" "$a" "$b"
pass "a registered RD function the model refuses reads as its unregistered twin (one refusal, TR103308-5.7-RD-KEY)"
# the twins registered too, so that the model's refusals below are reached
for v in tw-q tw-u; do rd_register $v $v.pub 1; done
# tw-q asks for the RD store's key and for its twin's: both are refused alike
a=$(answer fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq tw-q)")
b=$(answer fra-1 POST /v1/rd/keys/tw-st/0 "$(kreq tw-q)")
alike "the key refusals for an RD store and its twin" "$a" "$b"
case $a in 403*TR103308-5.7-RD-KEY*) ;; *) fail "the key refusal: $a" ;; esac
# an RD function asking for a store no obligation names, and for the RD
# store of its own obligation for a VM that is not its function: alike too
a=$(answer fra-1 POST /v1/rd/keys/tw-st/0 "$(kreq rd-q)")
b=$(answer fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq tw-q)")
alike "the key refusals for a store no obligation names and for a VM no obligation names" "$a" "$b"
# a host that may not have the key (here: not attested trusted) cannot
# tell an RD function it runs from its twin either
a=$(answer ber-u POST /v1/rd/keys/rd-st/0 "$(kreq rd-u)")
b=$(answer ber-u POST /v1/rd/keys/rd-st/0 "$(kreq tw-u)")
alike "the key refusals, to an untrusted host, for an RD function and its twin" "$a" "$b"
pass "a host cannot tell an RD store or function from its twin by the key route (one refusal, TR103308-5.7-RD-KEY)"

# --- every other role on the RD routes: an obligation and none alike --------------
for role in operator auditor mano hypervisor-admin host li-admin; do
  for m in "GET /v1/rd/obligations/X" "PUT /v1/rd/obligations/X $ob" "DELETE /v1/rd/obligations/X" \
    "POST /v1/rd/obligations/X/extend {}" "POST /v1/rd/keys/X/0/destroy"; do
    read -r meth path body <<<"$m"
    sa=${path//X/ob-de} sb=${path//X/ob-none}
    [ "${path#/v1/rd/keys}" = "$path" ] || { sa=${path//X/rd-st} sb=${path//X/tw-st}; }
    a=$(answer "$role" "$meth" "$sa" $body)
    b=$(answer "$role" "$meth" "$sb" $body)
    alike "$role's $meth $path" "$a" "$b"
    case $a in 403*) ;; *) fail "$role's $meth $sa: $a" ;; esac
  done
done
pass "every role but rd-admin is refused alike about an obligation (an RD store) and none"

# --- model reads -----------------------------------------------------------------
for role in operator auditor mano hypervisor-admin li-admin; do
  alike "$role's read of the VMs" "$(answer "$role" GET /v1/model/vm/rd-q)" "$(answer "$role" GET /v1/model/vm/tw-q)"
  alike "$role's read of the stores" "$(answer "$role" GET /v1/model/storage/rd-st)" "$(answer "$role" GET /v1/model/storage/tw-st)"
done
pass "model reads of an RD VM and store and of their twins are alike"

# --- an obligation's counter outlives it -----------------------------------------
expect 201 operator POST /v1/model/storage '{"id":"rd-x","vm":"rd-db"}'
one="{\"jurisdiction\":\"de\",\"functions\":[\"rd-q\"],\"stores\":[\"rd-x\"],\"period_s\":3600,\"retention_s\":3600,\"valid_from\":$((now - 10))}"
expect 200 rd-admin PUT /v1/rd/obligations/ob-one "$one"
lisec rd sign-extend --key rd-sign.key --obligation ob-one --retention-s 5400 --counter 1 --expires +600 -o ext1.json
lisec rd sign-extend --key rd-sign.key --obligation ob-one --retention-s 7200 --counter 1 --expires +600 -o ext1b.json
expect 200 rd-admin POST /v1/rd/obligations/ob-one/extend "$(cat ext1.json)"
expect 200 rd-admin DELETE /v1/rd/obligations/ob-one # no key issued: nothing retained
expect 200 rd-admin PUT /v1/rd/obligations/ob-one "$one"
expect 409 rd-admin POST /v1/rd/obligations/ob-one/extend "$(cat ext1.json)"
grep -q replayed body || fail "the replay's refusal: $(cat body)"
expect 409 rd-admin POST /v1/rd/obligations/ob-one/extend "$(cat ext1b.json)"
expect 200 rd-admin GET /v1/rd/obligations/ob-one
grep -q '"retention_s":3600' body && grep -q '"last_counter":1' body || fail "the new ob-one: $(cat body)"
pass "a command signed for an obligation before it was deleted is a replay against its successor"

# --- a key outlives the naming of its store ---------------------------------------
p11=(pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321)
in_token() { "${p11[@]}" --list-objects 2>/dev/null | grep -c "lisec-rd:rd-st:0" || true; }
expect 200 fra-1 POST /v1/rd/keys/rd-st/0 "$(kreq rd-q)"
[ "$(in_token)" = 1 ] || fail "no key in the token"
dropped=${ob/\"stores\":\[\"rd-st\"\]/\"stores\":[]}
expect 200 rd-admin PUT /v1/rd/obligations/ob-de "$dropped"
expect 409 rd-admin DELETE /v1/rd/obligations/ob-de
grep -q TR103308-5.8-RD-EARLY body || fail "the early deletion's refusal: $(cat body)"
echo 20000 >clock
for _ in $(seq 1 300); do [ "$(in_token)" = 0 ] && break; sleep 0.1; done
[ "$(in_token)" = 0 ] || fail "the key of a store its obligation no longer names outlived its retention"
expect 200 rd-admin DELETE /v1/rd/obligations/ob-de
pass "a live key of a store the obligation no longer names blocks its deletion (RD-EARLY) and is destroyed when its retention ends"
