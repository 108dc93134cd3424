#!/usr/bin/env bash
# Regenerates the unit-test fixtures of attest/ in this directory from a
# real software TPM (swtpm) with tpm2-tools, the event-log generator and the
# openssl command. Nothing here is made by lisec, so the unit tests compare
# lisec with independent producers. Only public material is kept: the
# asset-management keys live in a temporary directory and are deleted.
#   bash tests/data/attest/make-fixtures.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
work=$(mktemp -d /tmp/lisec-fixtures-XXXXXX)
cleanup_hooks=()
trap 'for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
source "$src/tests/integration/attest_lib.sh"
cd "$work"
tpm_up T
tpm_use T
EK=0x81010001
tpm2_createek -c $EK -G rsa -u ek.pub >/dev/null
tpm2_readpublic -c $EK -f pem -o ek.pem >/dev/null
tpm_flush
for k in ecc rsa; do
  if [ $k = ecc ]; then args=(-G ecc -g sha256 -s ecdsa); h=0x81010002; else args=(-G rsa -g sha256 -s rsassa); h=0x81010003; fi
  tpm2_createak -C $EK -c ak.ctx "${args[@]}" -u $k.ak.pub -n $k.ak.name >/dev/null
  tpm_flush
  tpm2_evictcontrol -C o -c ak.ctx $h >/dev/null
  tpm_flush
  tpm2_readpublic -c $h -f pem -o $k.ak.pem >/dev/null
done
host=$(host_id_openssl ek.pem)
am_pki am
reset=$(tpm_reset_count)
issue_location am "$host" "$reset" location.cms
issue_location am "$host" "$((reset + 1))" location-next-reset.cms
evgen --log eventlog.bin --extends ext.txt --reference reference.json --location location.cms
tpm_extend ext.txt
nonce=$(openssl rand -hex 32)
tpm2_quote -c 0x81010002 -l sha256:0,1,2,3,4,5,6,7,8,15 -q "$nonce" -m quote.msg -s quote.sig \
  -o quote.pcrs -g sha256 >/dev/null
tpm2_quote -c 0x81010002 -l sha256:0,1,2,3,4,5,6,7,8,15 -q "$nonce" -m quote2.msg -s quote2.sig \
  -o quote.values -F values -g sha256 >/dev/null
tpm2_quote -c 0x81010003 -l sha256:0,4,15 -q "$nonce" -m rsa.msg -s rsa.sig -o rsa.pcrs -g sha256 \
  >/dev/null
tpm_flush
tpm2_print -t TPMS_ATTEST quote.msg >quote.yaml
tpm2_checkquote -u ecc.ak.pem -m quote.msg -s quote.sig -f quote.pcrs -g sha256 -q "$nonce" \
  >/dev/null || fail "tpm2_checkquote"
# The same boot with locality 3, for the StartupLocality rule.
evgen --log eventlog-loc3.bin --extends /dev/null --startup-locality 3 --events 20

# Keep public material only.
cp ek.pub ek.pem ecc.ak.pub ecc.ak.pem ecc.ak.name rsa.ak.pub rsa.ak.pem quote.msg quote.sig \
  quote.pcrs quote2.msg quote2.sig quote.values rsa.msg rsa.sig rsa.pcrs quote.yaml eventlog.bin \
  eventlog-loc3.bin reference.json location.cms location.cms.json location-next-reset.cms \
  "$here/"
cp am/ca.crt "$here/am-ca.crt"
printf '%s\n' "$nonce" >"$here/nonce.hex"
printf '%s\n' "$host" >"$here/host_id.txt"
printf '%s\n' "$reset" >"$here/reset_count.txt"
date -u +%s >"$here/made_at.txt"
echo "fixtures written to $here"
