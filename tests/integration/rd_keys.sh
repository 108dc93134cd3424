#!/usr/bin/env bash
# The bound on an RD store's live data keys, [rd] max_live_keys (docs/rd.md,
# "How many keys a store keeps"), on a real lisecd with a SoftHSM2 token.
# An obligation keeps up to 1 + ceil(retention_s / period_s) keys of each of
# its stores live at once:
#  - by default (1024) daily keys kept two years are accepted, and a period
#    of 1 s with a retention of 200 years (6.3e9 keys) is refused, 409
#    naming the setting and TR103308-5.7-RD-BOUND, nothing stored;
# with max_live_keys = 3:
#  - one key over (period 3600, retention 7201: 4) refused, at the bound
#    (retention 7200: 3) accepted;
#  - a second obligation naming the same store is refused (the sum
#    counts), on another store accepted, and a replacement adding the
#    first store refused with the stored obligation unchanged;
#  - a signed extension past the bound is refused (retention and counter
#    unchanged), one to the bound accepted;
#  - keys of periods 0, 1, 2 are issued (3 in the token) and, with the
#    destruction timer idle ([rd] check_ms of an hour), the key of period
#    3 still comes once period 0's retention ends: the request destroys
#    the expired key and the token holds 3 again;
#  - restarted with max_live_keys = 2 the stored obligations stay, and a
#    key of a new period is refused (409, the setting named) while two
#    live keys remain, the token unchanged; the refusals are recorded
#    sealed to the RD administration, not readable to the auditor;
#  - lisecd does not start with a bad max_live_keys (0, 1, -5, abc,
#    over the ceiling), naming the setting.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/rd_lib.sh"
idle="check_ms = 3600000" # the timer sweeps once at start, then not within the test
rd_start "fra-1" "$idle"

has() { grep -q -- "$1" body || fail "${2:-reply} lacks '$1': $(cat body)"; }
refused_bound() { # WHAT: the reply in body is the bound's refusal
  has TR103308-5.7-RD-BOUND "$1" && has '\[rd\] max_live_keys' "$1"
}

expect 201 operator POST /v1/model/jurisdiction '{"id":"de","codes":["DE"]}'
expect 201 operator POST /v1/model/host '{"id":"fra-1","trust":"trusted","protection":"li","location":{"country":"DE"}}'
expect 201 operator POST /v1/model/hypervisor '{"id":"hv-fra-1","host":"fra-1"}'
for v in rd-q rd-db; do
  expect 201 operator POST /v1/model/vm "{\"id\":\"$v\",\"hypervisor\":\"hv-fra-1\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"}"
done
expect 201 operator POST /v1/model/storage '{"id":"rd-st","vm":"rd-db"}'
expect 201 operator POST /v1/model/storage '{"id":"rd-st2","vm":"rd-db"}'

# --- obligations -------------------------------------------------------------------
# the default bound: daily keys kept two years fit, a 1 s period kept 200 years does not
expect 409 rd-admin PUT /v1/rd/obligations/ob-tiny '{"jurisdiction":"de","stores":["rd-st"],"period_s":1,"retention_days":73000}'
refused_bound "a 1 s period kept 200 years"
has 6307200001 "a 1 s period kept 200 years"
expect 404 rd-admin GET /v1/rd/obligations/ob-tiny
expect 200 rd-admin PUT /v1/rd/obligations/ob-real '{"jurisdiction":"de","stores":["rd-real"],"period_days":1,"retention_days":730}'
pass "by default ([rd] max_live_keys 1024) daily keys kept two years are accepted, a 1 s period kept 200 years refused (409 RD-BOUND naming the setting, nothing stored)"

rd_restart "max_live_keys = 3" "$idle"
now=$(date +%s)
obl() { # STORES PERIOD_S RETENTION: an obligation's body
  echo "{\"jurisdiction\":\"de\",\"functions\":[\"rd-q\"],\"stores\":[$1],\"period_s\":$2,\"retention_s\":$3,\"valid_from\":$((now - 10))}"
}
expect 409 rd-admin PUT /v1/rd/obligations/ob-de "$(obl '"rd-st"' 3600 7201)"
refused_bound "one key over the bound"
expect 404 rd-admin GET /v1/rd/obligations/ob-de
expect 200 rd-admin PUT /v1/rd/obligations/ob-de "$(obl '"rd-st"' 3600 7200)"
pass "max_live_keys = 3: one key over the bound refused (nothing stored), at the bound accepted"

expect 409 rd-admin PUT /v1/rd/obligations/ob-2 "$(obl '"rd-st"' 3600 1)"
refused_bound "a second obligation on the same store"
expect 200 rd-admin PUT /v1/rd/obligations/ob-2 "$(obl '"rd-st2"' 3600 1)"
expect 409 rd-admin PUT /v1/rd/obligations/ob-2 "$(obl '"rd-st2","rd-st"' 3600 1)"
refused_bound "a replacement adding a store at its bound"
expect 200 rd-admin GET /v1/rd/obligations/ob-2
has '"stores":\["rd-st2"\]' "the obligation after a refused replacement"
pass "the obligations naming a store count together: a second one on it, or a replacement adding it, refused and the stored obligation unchanged; on another store accepted"

lisec rd sign-extend --key rd-sign.key --obligation ob-de --retention-s 7201 --counter 1 --expires +600 -o over.json
lisec rd sign-extend --key rd-sign.key --obligation ob-2 --retention-s 7200 --counter 1 --expires +600 -o to.json
expect 409 rd-admin POST /v1/rd/obligations/ob-de/extend "$(cat over.json)"
refused_bound "an extension past the bound"
expect 200 rd-admin GET /v1/rd/obligations/ob-de
has '"retention_s":7200' "the obligation after a refused extension" && has '"last_counter":0' "its counter"
expect 200 rd-admin POST /v1/rd/obligations/ob-2/extend "$(cat to.json)"
has '"retention_s":7200'
pass "a signed extension past the bound refused (retention and counter unchanged), one to the bound accepted"

# --- keys at the bound -----------------------------------------------------------
p11=(pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321)
in_token() { "${p11[@]}" --list-objects 2>/dev/null | grep -cE "lisec-rd:rd-st:${1:-[0-9]+}( |\$)" || true; }
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out vm.key 2>/dev/null
openssl pkey -in vm.key -pubout -out vm.pub
ok=$(python3 -c 'import json; print(json.dumps({"vm": "rd-q", "public_key": open("vm.pub").read()}))')
rd_register rd-q vm.pub 1 # the RD administration's registration of the VM's key (rd_recipient)
# the RD clock runs k hours ahead: period k has begun (periods start 10 s before the test's "now")
for k in 0 1 2; do
  echo $((k * 3600)) >clock
  expect 200 fra-1 POST /v1/rd/keys/rd-st/$k "$ok"
done
[ "$(in_token)" = 3 ] || fail "the token does not hold the 3 keys of periods 0-2: $(in_token)"
# period 0's retention ended at the start of period 3 (3600 + 7200 s)
echo 10800 >clock
expect 200 fra-1 POST /v1/rd/keys/rd-st/3 "$ok"
[ "$(in_token 0)" = 0 ] && [ "$(in_token 3)" = 1 ] && [ "$(in_token)" = 3 ] ||
  fail "the key of period 3 did not replace period 0's: $("${p11[@]}" --list-objects 2>&1 | grep lisec-rd)"
expect 200 fra-1 POST /v1/rd/keys/rd-st/3 "$ok" # the same period again: no new key
[ "$(in_token)" = 3 ] || fail "a second request for period 3 made a key"
pass "at the bound a new period's key replaces the key whose retention ended (the timer idle), the token holds 3"

# --- the bound lowered under stored obligations ------------------------------------
rd_restart "max_live_keys = 2" "$idle"
expect 200 rd-admin GET /v1/rd/obligations/ob-de
has '"retention_s":7200' "the obligation after the restart"
echo 14400 >clock # period 1's retention ended; 2 and 3 are live
expect 409 fra-1 POST /v1/rd/keys/rd-st/4 "$ok"
refused_bound "a key past the lowered bound"
[ "$(in_token 1)" = 0 ] && [ "$(in_token 2)" = 1 ] && [ "$(in_token 3)" = 1 ] && [ "$(in_token 4)" = 0 ] ||
  fail "the token after the refusal: $("${p11[@]}" --list-objects 2>&1 | grep lisec-rd)"
expect 200 fra-1 POST /v1/rd/keys/rd-st/3 "$ok" # a live key is still handed out
pass "restarted with max_live_keys = 2: the obligations stay, a new period's key is refused while 2 are live (token unchanged), a live one still given"

cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
cli auditor audit read --li-key audit-rd.key >rd.out 2>&1 || true
grep -q 'rd.key.issue.*refused\|refused.*rd.key.issue' rd.out && grep -q 'rd.obligation.put' rd.out &&
  [ "$(grep -c 'TR103308-5.7-RD-BOUND' rd.out)" -ge 6 ] ||
  fail "the RD key does not open the bound's refusals: $(grep -i bound rd.out | tail -3)"
expect 200 auditor GET '/v1/audit/entries?from=0&count=1000'
! grep -q 'RD-BOUND\|max_live_keys\|rd-st' body || fail "the auditor reads a bound refusal in clear"
pass "every refusal of the bound is recorded sealed: the RD key opens it, the auditor reads nothing of it"

# --- bad values of the setting -------------------------------------------------------
stop_clean
for v in 0 1 -5 abc 1000001; do
  { cat lisecd.conf; echo "max_live_keys = $v"; } >bad.conf
  rc=0
  timeout 60 "$build/cmd/lisecd/lisecd" -c bad.conf 2>bad.log || rc=$?
  [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "lisecd with max_live_keys = $v: exit $rc"
  grep -q '\[rd\] max_live_keys' bad.log || fail "lisecd with max_live_keys = $v does not name it: $(tail -3 bad.log)"
done
pass "lisecd does not start with max_live_keys 0, 1, -5, abc or over the ceiling, naming the setting"
