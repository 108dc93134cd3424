#!/usr/bin/env bash
# The vault's KEK in a PKCS#11 3.0 token through lisecd: NSS's softoken over
# a key database made here, opened with [vault] pkcs11_init_args. lisecd
# says at start that cold unwraps take one token call, a target written
# before a restart reads back after it (its data key cold).
set -euo pipefail
build=$1 src=$2
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/li_fixture.sh"
module=/usr/lib/x86_64-linux-gnu/libsoftokn3.so
[ -r "$module" ] && command -v certutil >/dev/null ||
  { echo "SKIP: NSS's softoken or certutil missing (scripts/bootstrap installs libnss3-tools)"; exit 77; }
pki=$work/pki
make_pki "$pki"
mkdir "$work/nss"
echo 1234 >"$work/pin"
certutil -N -d "sql:$work/nss" -f "$work/pin" || fail "certutil -N"
make_li_admin_key "$work/li-admin"
args="configdir='sql:$work/nss' certPrefix='' keyPrefix='' secmod='secmod.db' flags="
vault=("[vault]" "pkcs11_module = $module" "pkcs11_init_args = $args" "token = NSS Certificate DB"
       "pin_file = $work/pin" "key_label = lisec-kek" "[audit]" "li_admin_key = $work/li-admin.pub")
start_lisecd "$pki" "${vault[@]}"
grep -q "PKCS#11 3.0" "$work/lisecd.log" || { cat "$work/lisecd.log" >&2; fail "no word of the one-call unwrap"; }
li_fixture li-7
T='{"id":"t-1","authorisation":"li-7","identifiers":[{"kind":"imsi","value":"244051234567890"}]}'
code=$(as li-admin -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$T" "$LISECD_URL/v1/targets")
[ "$code" = 201 ] || fail "adding a target: $code"
stop_lisecd
start_lisecd "$pki" "${vault[@]}" # a restart: the data key is cold
as li-admin "$LISECD_URL/v1/targets/t-1" >"$work/t.json" || fail "reading the target"
[ "$(jq -r '.identifiers[0].value' "$work/t.json")" = 244051234567890 ] || { cat "$work/t.json" >&2; fail "target read back wrong"; }
stop_lisecd
pass "lisecd keeps its KEK in NSS's softoken (PKCS#11 3.0): one call a cold unwrap, a target read back after a restart"

