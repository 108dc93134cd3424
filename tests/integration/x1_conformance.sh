#!/usr/bin/env bash
# lisec-ne against requests written by hand from ETSI TS 103 221-1's schema
# (tests/data/x1/, each first judged by xmllint against ETSI's schema files),
# over real mutual TLS: schema-valid requests with optional fields, several
# identifier kinds, a destination and a destination set, and containers of
# several messages are accepted and each message answered; schema-invalid
# ones get ErrorResponse 1010 naming the request's type and transaction; a
# version outside --x1-versions gets 1020, an unsupported request 1080;
# --strict-destinations refuses tasks naming destinations not created; the
# destinations survive a restart (--state); destination sets, HashedID hash
# contexts and tasks, the GetAll requests and RemoveAllDestinations are
# answered (an unknown hash context refused with 1000, naming it). Every
# answer validates against ETSI's schema.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
xsd=$src/src/x1/etsi-x1-schema/X1-all.xsd
data=$src/tests/data/x1
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator admf-1 >/dev/null
port=$(free_port)
start_ne() { # extra options
  "$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$port" --cert "$pki/server.crt" --key "$pki/server.key" \
    --ca "$pki/ca.crt" --ne-id poi-hel-1 --admf-id admf-1 --state "$work/ne.json" "$@" 2>>"$work/ne.log" &
  ne_pid=$!
  for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
}
stop_ne() { kill "$ne_pid" 2>/dev/null; wait "$ne_pid" 2>/dev/null || true; }
cleanup_hooks+=("stop_ne")

# The test data says what it is: valid_* validate, invalid_* do not.
for f in "$data"/*.xml; do
  name=$(basename "$f")
  if xmllint --noout --schema "$xsd" "$f" 2>/dev/null; then
    [[ $name == valid_* ]] || fail "$name validates against ETSI's schema"
  else
    [[ $name == invalid_* ]] || fail "$name does not validate against ETSI's schema"
  fi
done
pass "the hand-written requests are what ETSI's schema says they are"

send() { # FILE -> the answer on one line; it must validate against ETSI's schema
  curl -sS --cacert "$pki/ca.crt" --cert "$pki/admf.crt" --key "$pki/admf.key" -H 'Content-Type: application/xml' \
    --data-binary @"$1" "https://localhost:$port/X1/NE" >"$work/answer.xml" || fail "POST $1"
  xmllint --noout --schema "$xsd" "$work/answer.xml" 2>"$work/xmllint.log" ||
    fail "the answer to $(basename "$1") does not validate: $(cat "$work/xmllint.log")"
  tr -d '\n' <"$work/answer.xml"
}
# answer TEXT INDEX: the INDEX-th (1-based) x1ResponseMessage's xsi:type, transaction tail, error code
answer() {
  python3 - "$1" "$2" <<'PY'
import sys, xml.etree.ElementTree as E
ns = {"x": "http://uri.etsi.org/03221/X1/2017/10"}
xsi = "{http://www.w3.org/2001/XMLSchema-instance}type"
m = E.fromstring(sys.argv[1]).findall("x:x1ResponseMessage", ns)[int(sys.argv[2]) - 1]
code = m.find("x:errorInformation/x:errorCode", ns)
req = m.find("x:requestMessageType", ns)
print(m.get(xsi), m.find("x:x1TransactionId", ns).text[-3:], code.text if code is not None else "-",
      req.text if req is not None else "-")
PY
}
want() { # FILE INDEX EXPECTED
  local got
  got=$(answer "$(send "$data/$1")" "$2")
  [ "$got" = "$3" ] || fail "$1 #$2: got '$got', want '$3'"
}

start_ne
want valid_create_destination.xml 1 "CreateDestinationResponse 101 - -"
want valid_activate_full.xml 1 "ActivateTaskResponse 102 - -"
want valid_activate_full.xml 1 "ErrorResponse 102 2010 ActivateTask"
out=$(send "$data/valid_several.xml")
i=1
for expected in "GetTaskDetailsResponse 103 - -" "ListAllDetailsResponse 104 - -" "GetNEStatusResponse 105 - -" \
  "KeepaliveResponse 106 - -" "GetDestinationDetailsResponse 107 - -" "PingResponse 108 - -"; do
  [ "$(answer "$out" $i)" = "$expected" ] || fail "valid_several.xml #$i: $(answer "$out" $i), want $expected"
  i=$((i + 1))
done
grep -q '<imsi>244051234567890</imsi>.*<peiImeiCheckDigit>490154203237518</peiImeiCheckDigit>' <<<"$out" ||
  fail "GetTaskDetails lost identifiers: $out"
grep -q '<provisioningStatus>complete</provisioningStatus>' <<<"$out" || fail "no taskStatus: $out"
want valid_modify_prefixed.xml 1 "ModifyTaskResponse 109 - -"
pass "schema-valid requests with optional fields, several identifier kinds, destinations, a destination set and six messages in one container are accepted"

for f in invalid_mac_element invalid_ipv6_short invalid_imei_check_digit invalid_cidr_text invalid_optional_order; do
  want $f.xml 1 "ErrorResponse 102 1010 ActivateTask"
done
want invalid_destination_order.xml 1 "ErrorResponse 101 1010 CreateDestination"
out=$(send "$data/invalid_one_of_several.xml")
[ "$(answer "$out" 1)" = "ErrorResponse 103 1010 GetTaskDetails" ] || fail "bad first of six: $(answer "$out" 1)"
[ "$(answer "$out" 6)" = "PingResponse 108 - -" ] || fail "the good ones after a bad one: $(answer "$out" 6)"
for f in invalid_destination_set_no_type:140 invalid_hash_algorithm:141 invalid_hash_salt_short:142; do
  want ${f%:*}.xml 1 "ErrorResponse ${f#*:} 1010 CreateObject"
done
want invalid_hashed_digest.xml 1 "ErrorResponse 143 1010 ActivateTask"
want valid_unsupported_get_object.xml 1 "ErrorResponse 132 1080 GetObject"
want valid_old_version.xml 1 "ErrorResponse 112 1020 Ping"
pass "schema-invalid requests (malformed destination sets, hash contexts, HashedIDs included) get 1010, an unsupported one 1080, an old version 1020, each naming its request and transaction"

# destinations are kept across a restart; the emergency stop empties the NE
stop_ne
start_ne --x1-versions v1.6.1:v1.22.1
want valid_old_version.xml 1 "PingResponse 112 - -"
out=$(send "$data/valid_several.xml")
[ "$(answer "$out" 5)" = "GetDestinationDetailsResponse 107 - -" ] || fail "the destination did not survive a restart"
grep -q '<friendlyName>MDF Helsinki X2/X3</friendlyName>' <<<"$out" || fail "destination details lost: $out"
want valid_deactivate_all.xml 1 "DeactivateAllTasksResponse 110 - -"
want valid_several.xml 1 "ErrorResponse 103 2020 GetTaskDetails"
grep -q 'deactivate-all' "$work/ne.log" || fail "lisec-ne did not log the DeactivateAllTasks"
pass "--x1-versions widens what is accepted; destinations survive a restart; DeactivateAllTasks empties the NE"

# a real NE refuses tasks naming destinations it was not given
stop_ne
rm -f "$work/ne.json"
start_ne --strict-destinations
want valid_modify_prefixed.xml 1 "ErrorResponse 109 2020 ModifyTask"
want valid_activate_full.xml 1 "ErrorResponse 102 1000 ActivateTask"
grep -q 'destination set' "$work/answer.xml" || fail "the refusal does not say why: $(cat "$work/answer.xml")"
pass "--strict-destinations refuses a task naming destinations not created"

# destination sets and HashedID hash contexts (CreateObject), a HashedID
# task, the GetAll requests; an unknown hash context is refused, naming it
want valid_create_destination.xml 1 "CreateDestinationResponse 101 - -"
want valid_create_destination_set.xml 1 "CreateObjectResponse 111 - -"
want valid_activate_hashed_unknown_context.xml 1 "ErrorResponse 122 1000 ActivateTask"
grep -q 'hash context' "$work/answer.xml" || fail "the refusal does not name the hash context: $(cat "$work/answer.xml")"
want valid_create_hash_context.xml 1 "CreateObjectResponse 120 - -"
want valid_activate_hashed.xml 1 "ActivateTaskResponse 121 - -"
out=$(send "$data/valid_get_all.xml")
i=1
for expected in "GetAllDetailsResponse 125 - -" "GetAllTaskDetailsResponse 126 - -" \
  "GetAllDestinationDetailsResponse 127 - -" "ListAllDetailsResponse 128 - -"; do
  [ "$(answer "$out" $i)" = "$expected" ] || fail "valid_get_all.xml #$i: $(answer "$out" $i), want $expected"
  i=$((i + 1))
done
grep -q '<hashedID:hashDigest>9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08</hashedID:hashDigest>' <<<"$out" ||
  fail "GetAllDetails lost the HashedID target: $out"
grep -q 'xsi:type="destinationSet:DestinationSetDetails"' <<<"$out" || fail "GetAllDetails lost the destination set"
pass "destination sets, hash contexts and a HashedID task are kept; GetAllDetails, GetAllTaskDetails, GetAllDestinationDetails answer with them"

stop_ne
start_ne --strict-destinations
want valid_create_hash_context.xml 1 "ErrorResponse 120 1000 CreateObject"
want valid_remove_all_destinations.xml 1 "ErrorResponse 129 1000 RemoveAllDestinations"
want valid_deactivate_hashed.xml 1 "DeactivateTaskResponse 133 - -"
out=$(send "$data/valid_delete_objects.xml")
[ "$(answer "$out" 2)" = "DeleteObjectResponse 131 - -" ] || fail "the set was not deleted: $(answer "$out" 2)"
want valid_remove_all_destinations.xml 1 "RemoveAllDestinationsResponse 129 - -"
out=$(send "$data/valid_get_all.xml")
grep -q '<dId>' <<<"$out" && fail "RemoveAllDestinations left a destination: $out"
pass "objects survive a restart; RemoveAllDestinations refuses while one is in use, then removes them all"

"$build/cmd/lisec-ne/lisec-ne" --listen 127.0.0.1:1 --cert x --key x --ca x --ne-id a --admf-id b \
  --x1-versions v1.22.1:v1.13.1 2>"$work/err.log" && fail "--x1-versions MAX below MIN accepted"
grep -q 'x1-versions' "$work/err.log" || fail "a bad --x1-versions is not named: $(cat "$work/err.log")"
pass "a bad --x1-versions is refused at start, named"
stop_ne
grep -q 244051234567890 "$work/ne.log" && fail "lisec-ne logged a target identifier"
pass "no target identifier in lisec-ne's log"
# under -DLISEC_SANITIZE=ON each lisec-ne reports leaks and errors at exit
! grep -q Sanitizer "$work/ne.log" || { cat "$work/ne.log" >&2; fail "sanitizer report from lisec-ne"; }
