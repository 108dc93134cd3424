#!/usr/bin/env bash
# lisec-ne over real mutual TLS, driven by curl as the ADMF with messages
# written here in the shape of TS 103 221-1: activate, read back, deactivate;
# a client of another CA is refused in TLS; a certificate or admfIdentifier
# that is not the NE's ADMF (a common name holding a NUL after the ADMF's
# name included), a message for another NE and schema-invalid XML
# each get an ErrorResponse with the standard's code and the reason; XML
# that is not even that gets an X1TopLevelErrorResponse. Every answer
# validates against ETSI's schema (src/x1/etsi-x1-schema/).
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
pki=$work/pki
make_pki "$pki"
make_pki "$work/rogue"
lisec pki issue "$pki" admf operator admf-1 >/dev/null
lisec pki issue "$pki" imposter operator admf-2 >/dev/null
port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-hel-1 --admf-id admf-1 2>"$work/ne.log" &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null")
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

msg() { # TYPE ADMF NE BODY
  cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <x1RequestMessage xsi:type="$1">
  <admfIdentifier>$2</admfIdentifier><neIdentifier>$3</neIdentifier>
  <messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version>
  <x1TransactionId>$(python3 -c 'import uuid;print(uuid.uuid4())')</x1TransactionId>$4
 </x1RequestMessage>
</X1Request>
XML
}
XID=29f28e1c-f230-486a-a860-f5a784ab9172
TASK="<taskDetails><xId>$XID</xId><targetIdentifiers><targetIdentifier><imsi>244051234567890</imsi></targetIdentifier></targetIdentifiers><deliveryType>X2andX3</deliveryType><listOfDIDs><dId>0b5d9b3a-8c9e-4d8b-9a55-5d8f1e2a3b4c</dId></listOfDIDs></taskDetails>"
post() { # CERT-STEM BODY: the answer, which must validate against ETSI's schema
  curl -sS --cacert "$pki/ca.crt" --cert "$pki/$1.crt" --key "$pki/$1.key" -H 'Content-Type: application/xml' \
    --data-binary "$2" "https://localhost:$port/X1/NE" >"$work/answer.xml"
  xmllint --noout --schema "$src/src/x1/etsi-x1-schema/X1-all.xsd" "$work/answer.xml" 2>"$work/xmllint.log" ||
    fail "lisec-ne's answer does not validate: $(cat "$work/xmllint.log") $(cat "$work/answer.xml")"
  cat "$work/answer.xml"
}

post admf "$(msg ActivateTaskRequest admf-1 poi-hel-1 "$TASK")" | grep -q '<oK>AcknowledgedAndCompleted</oK>' || fail "activate"
post admf "$(msg GetTaskDetailsRequest admf-1 poi-hel-1 "<xId>$XID</xId>")" | grep -q '<imsi>244051234567890</imsi>' || fail "details"
post admf "$(msg ActivateTaskRequest admf-1 poi-hel-1 "$TASK")" | grep -q '<errorCode>2010</errorCode>' || fail "second activate of one XID"
post admf "$(msg DeactivateTaskRequest admf-1 poi-hel-1 "<xId>$XID</xId>")" | grep -q AcknowledgedAndCompleted || fail "deactivate"
post admf "$(msg GetTaskDetailsRequest admf-1 poi-hel-1 "<xId>$XID</xId>")" | grep -q '<errorCode>2020</errorCode>' || fail "details after deactivate"
pass "activate, read back, refuse a duplicate, deactivate"

post imposter "$(msg ActivateTaskRequest admf-1 poi-hel-1 "$TASK")" | grep -q '<errorCode>1000</errorCode>' || fail "another certificate asserting the ADMF"
post admf "$(msg ActivateTaskRequest admf-2 poi-hel-1 "$TASK")" | grep -q '<errorCode>1000</errorCode>' || fail "another admfIdentifier"
post admf "$(msg ActivateTaskRequest admf-1 poi-lon-1 "$TASK")" | grep -q 'addressed to another network element' || fail "another NE"
pass "a foreign certificate, identifier or NE gets ErrorResponse 1000 with the reason"

# A certificate of the CA whose common name holds a NUL after the ADMF's name
# ("admf-1\0.imposter.example", the name a CA checking only the domain part
# may sign) names another subject: read as a C string it would be admf-1.
# One with two CNs, the ADMF's first, names no one holder either.
python3 -c 'import cryptography.x509' 2>/dev/null ||
  fail "python3 cryptography is needed to make a certificate with a NUL in its name (apt-get install python3-cryptography)"
python3 - "$pki" <<'PY' || fail "cannot make the certificates with a NUL in the name and with two names"
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
pki = sys.argv[1]
ca_key = serialization.load_pem_private_key(open(pki + "/ca.key", "rb").read(), None)
ca = x509.load_pem_x509_certificate(open(pki + "/ca.crt", "rb").read())
now = datetime.datetime.now(datetime.timezone.utc)
for stem, names in (("nul", ["admf-1\x00.imposter.example"]), ("two", ["admf-1", "imposter"])):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, n) for n in names]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .sign(ca_key, hashes.SHA256()))
    open(pki + "/" + stem + ".crt", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    open(pki + "/" + stem + ".key", "wb").write(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY
XID2=5d3c1b2a-0f9e-4d8c-b7a6-958473625140
for stem in nul two; do
  post $stem "$(msg ActivateTaskRequest admf-1 poi-hel-1 "${TASK//$XID/$XID2}")" >"$work/$stem.xml"
  grep -q '<errorCode>1000</errorCode>.*not the one this NE obeys' "$work/$stem.xml" ||
    fail "the certificate $stem ($(openssl x509 -in "$pki/$stem.crt" -noout -subject)) was obeyed as admf-1: $(cat "$work/$stem.xml")"
  post admf "$(msg GetTaskDetailsRequest admf-1 poi-hel-1 "<xId>$XID2</xId>")" | grep -q '<errorCode>2020</errorCode>' ||
    fail "the task asked for by the certificate $stem was activated"
done
pass "a certificate whose name is the ADMF's followed by a NUL and more, or that names the ADMF and another, is not the ADMF's (1000, nothing activated)"

post admf '<X1Request><broken' | grep -q '<X1TopLevelErrorResponse' || fail "malformed XML"
post admf "$(msg ActivateTaskRequest admf-1 poi-hel-1 "${TASK/X2andX3/X9}")" |
  grep -q '<requestMessageType>ActivateTask</requestMessageType>.*<errorCode>1010</errorCode>.*does not validate' || fail "schema-invalid"
post admf "$(msg ActivateTaskRequest admf-1 poi-hel-1 "${TASK/<imsi>244051234567890/<imsi>2440x}")" | grep -q '<errorCode>1010</errorCode>.*does not validate' || fail "bad IMSI"
# An oversized message is refused on its Content-Length, before its body is
# read. A client that waits for 100-continue always reads the 413; one that
# sends the body straight away may instead see the connection reset, since
# lisec-ne closes without reading the rest (the kernel resets a socket
# closed with unread data, and may do so before curl reads the answer).
# Either way the NE must go on answering.
head -c 70000 /dev/zero | tr '\0' a >"$work/big.xml"
big() { curl -s -o /dev/null -w '%{http_code}' --cacert "$pki/ca.crt" --cert "$pki/admf.crt" --key "$pki/admf.key" \
  --data-binary @"$work/big.xml" "$@" "https://localhost:$port/X1/NE" || true; }
code=$(big -H 'Expect: 100-continue' --expect100-timeout 120)
[ "$code" = 413 ] || fail "oversized X1 message announced with Expect: 100-continue: $code"
code=$(big -H 'Expect:')
[ "$code" = 413 ] || [ "$code" = 000 ] || fail "oversized X1 message sent at once: $code"
post admf "$(msg GetTaskDetailsRequest admf-1 poi-hel-1 "<xId>$XID</xId>")" | grep -q '<errorCode>2020</errorCode>' ||
  fail "lisec-ne does not answer after an oversized message"
pass "malformed, schema-invalid and oversized messages refused"

code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$pki/ca.crt" --cert "$work/rogue/operator.crt" \
  --key "$work/rogue/operator.key" --data-binary x "https://localhost:$port/X1/NE" || true)
[ "$code" = 000 ] || fail "client of another CA got HTTP $code"
pass "a client certificate of another CA is refused in TLS"
grep -q 244051234567890 "$work/ne.log" && fail "lisec-ne logged a target identifier"
pass "no target identifier in lisec-ne's log"
