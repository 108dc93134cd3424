#!/usr/bin/env bash
# Retained Data keys and the controller's clock (TR 103 308 §4.2, §5.8): a
# retention period's key is neither given out nor destroyed by a clock
# lisecd has not proven. With [time] source = chrony against a real NTS
# chronyd: the key of period 0 is given while the clock is proven; chronyd
# stops (unproven) and the RD clock is moved past the period's retention
# (test hook): the timer keeps the key in the token and says why once, the
# RD administration's destroy and a new period's key are refused naming
# the clock, recorded, and so are the RD administration's signed command
# that extends a retention (its expiry is judged by the clock) and a new
# obligation (it starts now), each leaving what is stored as it was;
# chronyd back (proven): the timer destroys the key, and the same command
# and obligation are taken.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/rd_lib.sh"
command -v chronyd >/dev/null || [ -x /usr/sbin/chronyd ] || { echo "SKIP: chronyd not installed (Debian chrony)"; exit 77; }
for tool in jq pkcs11-tool openssl; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
chrony=$src/scripts/test/chrony-start
cpki=$work/cpki
make_pki "$cpki"
cleanup_hooks+=("'$chrony' stop '$work/ntp-server'" "'$chrony' stop '$work/ntp-nts'")
read -r ntp nts < <("$chrony" server "$work/ntp-server" "$cpki/server.crt" "$cpki/server.key") ||
  fail "the NTS server did not start"
client() { "$chrony" client "$work/ntp-nts" "$ntp" "$nts" "$cpki/ca.crt" nts >/dev/null || fail "chronyd client"; }
client
mkdir -m 700 "$work/run"
rd_start "fra-1" "[time]" "source = chrony" "chrony_socket = $work/ntp-nts/chronyd.sock" \
  "reply_socket = $work/run/chrony-reply.sock" "poll_ms = 100" "stale_ms = 1000"
proven() { # true|false: /v1/status's clock says so within 60 s
  for _ in $(seq 1 600); do
    [ "$(as operator "$LISECD_URL/v1/status" | jq -r .clock.proven)" = "$1" ] && return 0
    sleep 0.1
  done
  fail "the clock is not proven=$1: $(as operator "$LISECD_URL/v1/status" | jq -c .clock)"
}
proven true

expect 201 operator POST /v1/model/jurisdiction '{"id":"de","codes":["DE"]}'
expect 201 operator POST /v1/model/host '{"id":"fra-1","trust":"trusted","protection":"li","location":{"country":"DE"}}'
expect 201 operator POST /v1/model/hypervisor '{"id":"hv-fra-1","host":"fra-1"}'
expect 201 operator POST /v1/model/vm '{"id":"rd-q","hypervisor":"hv-fra-1","sensitivity":"sensitive","domain":"rd"}'
expect 201 operator POST /v1/model/vm '{"id":"rd-db","hypervisor":"hv-fra-1","sensitivity":"sensitive","domain":"rd"}'
expect 201 operator POST /v1/model/storage '{"id":"rd-store","vm":"rd-db"}'
now=$(date +%s)
expect 200 rd-admin PUT /v1/rd/obligations/ob-de "{\"jurisdiction\":\"de\",\"functions\":[\"rd-q\"],\"stores\":[\"rd-store\"],\"period_s\":3600,\"retention_s\":3600,\"valid_from\":$((now - 10))}"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out vm.key 2>/dev/null
openssl pkey -in vm.key -pubout -out vm.pub
key_req=$(jq -n --rawfile pem vm.pub '{vm: "rd-q", public_key: $pem}')
rd_register rd-q vm.pub 1
expect 200 fra-1 POST /v1/rd/keys/rd-store/0 "$key_req"
p11=(pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321)
in_token() { "${p11[@]}" --list-objects 2>/dev/null | grep -c "lisec-rd:rd-store:$1" || true; }
[ "$(in_token 0)" = 1 ] || fail "period 0's key is not in the token"
pass "clock proven: period 0's key given"

# ---- unproven: nothing given, nothing destroyed ---------------------------------
"$chrony" stop "$work/ntp-nts"
proven false
echo 7300 >clock # the RD clock past period 0's retention (and into period 2)
kept() { grep -q 'rd: the data keys whose retention ended are kept: TR103308-4.2-TIME' "$work/lisecd.log"; }
# until the timer has looked (and said so) or the key is gone
for _ in $(seq 1 300); do kept && break; [ "$(in_token 0)" = 1 ] || break; sleep 0.1; done
[ "$(in_token 0)" = 1 ] || fail "period 0's key was destroyed while the clock was unproven"
kept || fail "the timer did not say it keeps the keys: $(grep 'rd:' "$work/lisecd.log" | tail -3)"
expect 403 rd-admin POST /v1/rd/keys/rd-store/0/destroy
grep -q 'TR103308-4.2-TIME' "$work/body" || fail "the destroy's refusal does not name the clock: $(cat "$work/body")"
expect 403 fra-1 POST /v1/rd/keys/rd-store/2 "$key_req"
grep -q 'TR103308-4.2-TIME' "$work/body" || fail "the key's refusal does not name the clock: $(cat "$work/body")"
[ "$(in_token 0)" = 1 ] && [ "$(in_token 2)" = 0 ] || fail "the token changed while the clock was unproven"
lisec --server "$LISECD_URL" --pki "$pki" --role auditor audit read --li-key audit-rd.key >rd.out 2>&1 || true
grep -q 'rd.key.destroy  rd-key rd-store:0  -> refused' rd.out && grep -q 'rd.key.issue  rd-key rd-store:2  -> denied' rd.out ||
  fail "the refusals are not in the audit log: $(grep 'rd\.key' rd.out | tail -3)"
lisec rd sign-extend --key rd-sign.key --obligation ob-de --retention-s 5400 --counter 1 --expires +600 -o ext.json
expect 403 rd-admin POST /v1/rd/obligations/ob-de/extend "$(cat ext.json)"
grep -q 'TR103308-4.2-TIME' "$work/body" || fail "the extend's refusal does not name the clock: $(cat "$work/body")"
expect 200 rd-admin GET /v1/rd/obligations/ob-de
grep -q '"retention_s":3600' "$work/body" || fail "a refused extend changed the retention: $(cat "$work/body")"
new_ob='{"jurisdiction":"de","functions":["rd-q"],"stores":["rd-store"],"period_s":3600,"retention_s":3600}'
expect 403 rd-admin PUT /v1/rd/obligations/ob-new "$new_ob"
grep -q 'TR103308-4.2-TIME' "$work/body" || fail "a new obligation's refusal does not name the clock: $(cat "$work/body")"
expect 404 rd-admin GET /v1/rd/obligations/ob-new
pass "clock unproven: the key whose retention ended kept (said once), its destroy, a new period's key, a signed extend and a new obligation refused naming the clock, recorded, nothing stored changed"

# ---- proven again: the timer destroys it ------------------------------------------
client
proven true
for _ in $(seq 1 300); do [ "$(in_token 0)" = 0 ] && break; sleep 0.1; done
[ "$(in_token 0)" = 0 ] || fail "period 0's key was not destroyed once the clock was proven again"
pass "clock proven again: the key whose retention ended destroyed"
expect 200 rd-admin POST /v1/rd/obligations/ob-de/extend "$(cat ext.json)"
grep -q '"retention_s":5400' "$work/body" || fail "the extend was not taken once proven: $(cat "$work/body")"
expect 200 rd-admin PUT /v1/rd/obligations/ob-new "$new_ob"
pass "clock proven again: the same signed extend and new obligation taken"
stop_clean
