#!/usr/bin/env bash
# lisec-ne --admf-role: the ADMF's certificate must carry that lisec role,
# not only the ADMF's name (cmd/lisec-ne/main.c, crypto/cert_role.c). With
# --admf-role operator (the role the tests' and the demo's ADMF certificate
# carries, `lisec pki issue DIR admf operator NAME`), a certificate of the
# same CA with the ADMF's name (CN admf-1) but role host, or no role at all,
# gets 403 naming TR103308-5.2 and --admf-role and changes nothing on the
# NE, and the refusal is in lisec-ne's log; the ADMF's own certificate is
# obeyed. A role that is no role name stops the start. Without the option
# only the name is checked (docs/x1.md, "The ADMF's certificate"): the
# host certificate named admf-1 is obeyed, as on main.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator admf-1 >/dev/null
lisec pki issue "$pki" admf-host host admf-1 >/dev/null
# the same CA and name, no role at all (no SAN URI, no OU)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/admf-none.key" \
  -subj "/O=lisec development/CN=admf-1" -out "$work/none.csr" 2>/dev/null || fail "openssl req"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' \
  >"$work/none.ext"
openssl x509 -req -in "$work/none.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 1 \
  -extfile "$work/none.ext" -out "$pki/admf-none.crt" 2>/dev/null || fail "openssl x509"

ne_start() { # LOG [OPTIONS...]: lisec-ne on a fresh port ($port, $ne_pid)
  local log=$1
  shift
  port=$(free_port)
  "$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$port" --cert "$pki/server.crt" --key "$pki/server.key" \
    --ca "$pki/ca.crt" --ne-id poi-hel-1 --admf-id admf-1 "$@" 2>"$log" &
  ne_pid=$!
  cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null")
  for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0; sleep 0.1; done
  fail "lisec-ne $* does not listen: $(cat "$log")"
}
msg() { # TYPE BODY
  cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <x1RequestMessage xsi:type="$1">
  <admfIdentifier>admf-1</admfIdentifier><neIdentifier>poi-hel-1</neIdentifier>
  <messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version>
  <x1TransactionId>$(python3 -c 'import uuid;print(uuid.uuid4())')</x1TransactionId>$2
 </x1RequestMessage>
</X1Request>
XML
}
XID=29f28e1c-f230-486a-a860-f5a784ab9172
TASK="<taskDetails><xId>$XID</xId><targetIdentifiers><targetIdentifier><imsi>244051234567890</imsi></targetIdentifier></targetIdentifiers><deliveryType>X2andX3</deliveryType><listOfDIDs><dId>0b5d9b3a-8c9e-4d8b-9a55-5d8f1e2a3b4c</dId></listOfDIDs></taskDetails>"
post() { # CERT-STEM BODY: "CODE BODY"
  curl -sS -o "$work/answer" -w '%{http_code}' --cacert "$pki/ca.crt" --cert "$pki/$1.crt" --key "$pki/$1.key" \
    -H 'Content-Type: application/xml' --data-binary "$2" "https://localhost:$port/X1/NE"
  echo " $(tr '\n' ' ' <"$work/answer")"
}

# a role that is no role name stops the start
for bad in "" "li admin" "$(printf 'x%.0s' $(seq 80))"; do
  "$build/cmd/lisec-ne/lisec-ne" --listen 127.0.0.1:1 --cert "$pki/server.crt" --key "$pki/server.key" \
    --ca "$pki/ca.crt" --ne-id poi-hel-1 --admf-id admf-1 --admf-role "$bad" 2>"$work/bad.err" && fail "--admf-role '$bad' started"
  grep -q -- '--admf-role' "$work/bad.err" || fail "--admf-role '$bad' refused without naming it: $(cat "$work/bad.err")"
done
pass "an --admf-role that is no role name stops the start, naming the option"

ne_start "$work/ne-role.log" --admf-role operator
for stem in admf-host admf-none; do
  out=$(post "$stem" "$(msg ActivateTaskRequest "$TASK")")
  [[ $out == 403* ]] || fail "a certificate named admf-1 ($stem) without role operator got: $out"
  grep -q 'TR103308-5.2' <<<"$out" && grep -q -- '--admf-role' <<<"$out" && grep -q 'operator' <<<"$out" ||
    fail "the refusal of $stem names neither TR103308-5.2, --admf-role nor the role: $out"
done
grep -q 'TR103308-5.2: the ADMF.s certificate must carry role operator (--admf-role).*role "host" is unknown' \
  "$work/ne-role.log" || fail "lisec-ne's log does not say why the host certificate was refused: $(cat "$work/ne-role.log")"
grep -q 'TR103308-5.2: the ADMF.s certificate must carry role operator (--admf-role).*carries no lisec role' \
  "$work/ne-role.log" || fail "lisec-ne's log does not say why the certificate without a role was refused"
out=$(post admf "$(msg GetTaskDetailsRequest "<xId>$XID</xId>")")
[[ $out == 200*'<errorCode>2020</errorCode>'* ]] || fail "a refused ActivateTask left a task behind: $out"
pass "a same-CA certificate named admf-1 of role host, or of no role, gets 403 naming TR103308-5.2 and --admf-role; nothing changes"

out=$(post admf "$(msg ActivateTaskRequest "$TASK")")
[[ $out == 200*'<oK>AcknowledgedAndCompleted</oK>'* ]] || fail "the ADMF's own certificate (role operator) was not obeyed: $out"
out=$(post admf "$(msg DeactivateTaskRequest "<xId>$XID</xId>")")
[[ $out == 200*AcknowledgedAndCompleted* ]] || fail "deactivate: $out"
pass "the ADMF's certificate of role operator is obeyed"

# without --admf-role: the name alone (the documented limit)
kill "$ne_pid"
wait "$ne_pid" 2>/dev/null
ne_start "$work/ne-name.log"
out=$(post admf-host "$(msg ActivateTaskRequest "$TASK")")
[[ $out == 200*'<oK>AcknowledgedAndCompleted</oK>'* ]] ||
  fail "without --admf-role a certificate named admf-1 of role host was not obeyed: $out"
pass "without --admf-role only the certificate's name is checked (documented in docs/x1.md)"
