#!/usr/bin/env bash
# Package verifications proceed side by side in lisecd: no lock holds one
# on-boarding (or a vendor CRL's load) while another package is verified.
# With the test hook LISEC_TEST_PKG_VERIFY_PAUSE (test builds) each
# verification waits, just before pkg_verify, while a file exists: two
# on-boardings (the default two bulk channels) must both reach that point
# together, and a vendor CRL must load meanwhile; under the lock lisecd
# had, the second waited for the first and so did the CRL. Then the good
# package is stored and the tampered one, refused with its reason, stores
# nothing (404, not listed) and leaves its audit record.
set -euo pipefail
build=${1:?usage: pkg_concurrent.sh BUILD_DIR SRC_DIR}
src=${2:?usage: pkg_concurrent.sh BUILD_DIR SRC_DIR}
. "$src/tests/integration/lib/common.sh"
cd "$work"
pki=$work/pki
make_pki "$pki"
. "$src/tests/integration/lib/csar.sh"
mkca vca Vendor
mkca oca Operator
issue vca vendor Vendor
issue oca operator Operator
mkpkg good.csar vendor 1.0 200000 operator
python3 - good.csar tampered.csar <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
    for info in zi.infolist():
        data = zi.read(info)
        if info.filename.endswith("probe.qcow2"):
            data = bytes([data[0] ^ 1]) + data[1:]
        zo.writestr(info, data)
PY
: >vca/index.txt
echo 01 >vca/crlnumber
printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/vca/index.txt\ncrlnumber = %s/vca/crlnumber\ncertificate = %s/vca/ca.crt\nprivate_key = %s/vca/ca.key\ndefault_md = sha256\ndefault_crl_days = 7\n' \
  "$work" "$work" "$work" "$work" >vca/ca.cnf
openssl ca -config vca/ca.cnf -gencrl -out crl.pem 2>/dev/null || fail "openssl ca -gencrl"
pass "a signing PKI, a good and a tampered package, a vendor CRL"

touch pause
lisecd_env=(env "LISEC_TEST_PKG_VERIFY_PAUSE=$work/pause")
start_lisecd "$pki" "[pkg]" "vendor_ca = $work/vca/ca.crt" "operator_ca = $work/oca/ca.crt"
paused() { grep -c "a package verification waits while" lisecd.log || true; }
# onboard ID CSAR: in the background, the status into ID.status, the reply into ID.out.
onboard() {
  printf '{"id":"%s","csar":"%s"}' "$1" "$(base64 -w0 "$2")" >"$1.json"
  as operator -o "$1.out" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$1.json" "$LISECD_URL/v1/packages" >"$1.status" &
}
onboard good good.csar
g=$!
onboard bad tampered.csar
b=$!
for _ in $(seq 1 200); do
  [ "$(paused)" -ge 2 ] && break
  sleep 0.1
done
[ "$(paused)" -ge 2 ] ||
  fail "only $(paused) of two on-boardings reached verification at once (one waits for the other)"
pass "two on-boardings are verified at the same time"
# a vendor CRL (a request channel) loads while both wait in verification
crl=$(printf '{"crl":"%s"}' "$(awk '{printf "%s\\n", $0}' crl.pem)")
code=$(as operator -o crl.out -w '%{http_code}' --max-time 20 -X PUT -H 'Content-Type: application/json' \
  --data-binary "$crl" "$LISECD_URL/v1/packages/vendors/crl" || true)
[ "$code" = 200 ] || fail "a vendor CRL did not load while packages were verified: $code $(cat crl.out 2>/dev/null)"
[ -e pause ] || fail "the pause ended before the CRL was loaded"
pass "a vendor CRL loads while two packages are verified"
rm pause
wait "$g" "$b"
[ "$(cat good.status)" = 201 ] || fail "good package: $(cat good.status) $(cat good.out)"
[ "$(cat bad.status)" = 403 ] && grep -q "TR103308-4.2" bad.out || fail "tampered package: $(cat bad.status) $(cat bad.out)"
pass "the good package is stored (201), the tampered one refused (403 TR103308-4.2)"
[ "$(as operator -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/packages/bad")" = 404 ] ||
  fail "the refused package was stored"
as operator "$LISECD_URL/v1/packages" | python3 -c '
import json, sys
ids = sorted(p["id"] for p in json.load(sys.stdin)["packages"])
sys.exit(0 if ids == ["good"] else f"packages listed: {ids}")' || fail "listing"
refusals=$(python3 - "$work/lisec.db" <<'PY'
import re, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = [re.sub(rb"[^ -~]+", b" | ", d).decode() for (d,) in db.execute("SELECT data FROM audit_log")]
print(sum(1 for r in rows if re.search(r"pkg\.onboard \| denied .*package bad", r)))
PY
)
[ "$refusals" = 1 ] || fail "audit records of the refusal: $refusals"
pass "the refusal stored nothing (404, not listed) and was recorded"
stop_lisecd
if grep -E 'Sanitizer|runtime error' lisecd.log; then fail "lisecd: sanitizer report"; fi
