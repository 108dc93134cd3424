#!/usr/bin/env bash
# TR 103 308 §5.7, keys no longer needed are destroyed, through lisecd with
# the KEK in a real SoftHSM2 token: the keys process caches a target's
# data key for [vault] cache_ttl_s (an hour here), and a target removed,
# a target updated (its replaced version) and an LI authorisation ended
# (its targets) leave no data key behind in that cache at once, as the
# li-admin's gauge lisec_vault_cache_keys (a count, no label) shows; a
# repeated removal changes nothing; the gauge is not shown to the operator.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_fixture.sh"
pki=$work/pki
make_pki "$pki"
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/pin"
make_li_admin_key "$work/li-admin"

start_lisecd "$pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" \
  "pin_file = $work/pin" "key_label = lisec-kek" "cache_ttl_s = 3600" "[audit]" "li_admin_key = $work/li-admin.pub"
li_fixture li-7 li-8

# The gauge's one line, as li-admin reads /metrics (nothing when absent).
cache_line() { as li-admin "$LISECD_URL/metrics" | grep '^lisec_vault_cache_keys' || true; }
cache_keys() { # WANT WHAT: the cache holds WANT data keys now
  local line
  line=$(cache_line)
  [ "$line" = "lisec_vault_cache_keys $1" ] || fail "$2: the keys process's cache: '${line:-no lisec_vault_cache_keys}', not $1"
}
code() { as li-admin -o "$work/reply" -w '%{http_code}' "$@"; }
add() { # ID LI
  [ "$(code -H 'Content-Type: application/json' \
    -d "{\"id\":\"$1\",\"authorisation\":\"$2\",\"identifiers\":[{\"kind\":\"imsi\",\"value\":\"24405123456789${1#t-}\"}]}" \
    "$LISECD_URL/v1/targets")" = 201 ] || fail "add $1: $(cat "$work/reply")"
}

cache_keys 0 "before any target"
add t-1 li-7
add t-2 li-7
add t-3 li-8
add t-4 li-8
[ "$(code "$LISECD_URL/v1/targets/t-1")" = 200 ] || fail "read t-1: $(cat "$work/reply")"
cache_keys 4 "four targets added (each seal keeps its key), one read"
as operator "$LISECD_URL/metrics" | grep -q lisec_vault_cache_keys && fail "the operator reads lisec_vault_cache_keys"
pass "the keys process's cache holds the four targets' data keys (lisec_vault_cache_keys, li-admin only, no label)"

[ "$(code -X DELETE "$LISECD_URL/v1/targets/t-1")" = 200 ] || fail "remove t-1: $(cat "$work/reply")"
cache_keys 3 "t-1 removed"
[ "$(code -X DELETE "$LISECD_URL/v1/targets/t-1")" = 404 ] || fail "remove t-1 again: $(cat "$work/reply")"
cache_keys 3 "t-1 removed again (404)"
pass "a removed target's data key leaves the cache when the removal commits; a repeat changes nothing"

[ "$(code -X PUT -d '{"version":1,"identifiers":[{"kind":"e164","value":"358401234567"}]}' \
  "$LISECD_URL/v1/targets/t-2")" = 200 ] || fail "update t-2: $(cat "$work/reply")"
cache_keys 3 "t-2 updated (its new version's key in, the replaced one's out)"
as li-admin "$LISECD_URL/v1/targets/t-2" | grep -q 358401234567 || fail "t-2 does not read its new version"
cache_keys 3 "t-2 read"
pass "an updated target's replaced data key leaves the cache; the new version reads"

[ "$(code -X DELETE "$LISECD_URL/v1/model/li/li-8")" = 200 ] || fail "end li-8: $(cat "$work/reply")"
cache_keys 1 "LI authorisation li-8 ended (t-3 and t-4 are its targets)"
[ "$(code "$LISECD_URL/v1/targets/t-3")" = 200 ] || fail "t-3 does not read after its authorisation's end: $(cat "$work/reply")"
cache_keys 2 "t-3 read again (a cold read)"
pass "an ended authorisation's targets' data keys leave the cache; a later read of one asks the token"
stop_lisecd
