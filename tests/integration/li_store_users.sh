#!/usr/bin/env bash
# TR103308-4.2-STORE through lisecd (TR 103 308 §4.2: an LI VM "can only
# operate with the VMs it is allowed to"; §6.2: a VM utilising storage
# provided by another is connected to it, and req. 3: the VM utilised to
# store the LI's data lies inside the jurisdiction). On lib/li_topology.sh's
# LI li-1 (Finland), the operator also provides the LI's storage st-li to
# vm-app, an ordinary VNF on the same trusted Finnish host: li-admin's
# compliance reports it, the operator's leaves it out and reads as before,
# and MANO's question to move vm-app to London is refused. What MANO reads
# names the requirement and never the LI, its monitored VM, its LEA or its
# storage; the LI administration reads the same refusal naming the LI. The refused decision's audit record is sealed to
# the LI administration. Within Finland the move is allowed.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_topology.sh"
pki=$work/pki
make_pki "$pki"
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li-admin.pub" "[model]" "allow_declared_trust = true"

# req ROLE METHOD PATH [BODY]: the reply in $work/body; fails unless 200/201.
req() {
  local role=$1 method=$2 path=$3 code
  if [ $# -ge 4 ]; then
    code=$(as "$role" -X "$method" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary "$4" "$LISECD_URL$path") || fail "$role $method $path: no answer"
  else
    code=$(as "$role" -X "$method" -o "$work/body" -w '%{http_code}' "$LISECD_URL$path") ||
      fail "$role $method $path: no answer"
  fi
  case $code in 200 | 201) ;; *) fail "$role $method $path -> $code: $(cat "$work/body")" ;; esac
}
# withheld WHAT: the reply names none of the LI's details
withheld() {
  local id
  for id in li-1 vm-target lea-fi st-li; do
    ! grep -q -- "$id" "$work/body" || fail "$1 names $id: $(cat "$work/body")"
  done
}
# row REQUIREMENT SUBJECT [NEEDLE]: the reply (a verdict or a compliance
# report) holds a violation of REQUIREMENT on SUBJECT whose sentence holds
# NEEDLE (any sentence when empty); with NEEDLE, and fact too.
row() {
  python3 -S - "$work/body" "$@" <<'PY' || fail "no $1 row on '$2' holding '${3:-}': $(cat "$work/body")"
import json, sys
d = json.load(open(sys.argv[1]))
req, subj, needle = sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else ""
hits = [v for v in d["violations"] if v["requirement"] == req and v["subject"] == subj
        and needle in v["sentence"] and (not needle or v.get("fact"))]
sys.exit(0 if hits else 1)
PY
}

li_topology # LI li-1 on hel-1 (FI): vm-li, vm-store, st-li provided to vm-li
loc() { printf '{"id":"%s","trust":"trusted","protection":"li","location":{"country":"%s","source":"administrative"}}' "$1" "$2"; }
req operator POST /v1/model/host "$(loc hel-2 FI)"
req operator POST /v1/model/hypervisor '{"id":"hv-2","host":"hel-2"}'
req operator POST /v1/model/host "$(loc lon-1 GB)"
req operator POST /v1/model/hypervisor '{"id":"hv-lon","host":"lon-1"}'
req operator POST /v1/model/vm '{"id":"vm-app","hypervisor":"hv-1","sensitivity":"general","domain":"tenant"}'

# Before: compliant, and vm-app moves where MANO likes.
req li-admin GET /v1/compliance
jq -e '.compliant == true' "$work/body" >/dev/null || fail "the LI topology is not compliant: $(cat "$work/body")"
req operator GET /v1/compliance
jq -S 'del(.time, .audit_index)' "$work/body" >"$work/op-before"
req mano POST /v1/decisions/migration '{"vm":"vm-app","hypervisor":"hv-lon"}'
jq -e '.allow == true' "$work/body" >/dev/null || fail "vm-app (no LI's storage) to London: $(cat "$work/body")"
pass "before: compliant; vm-app, which reads no LI's storage, may move to London"

# The operator gives the LI's storage to vm-app too (with its NFS path to
# the provider, req. 5).
req operator POST /v1/model/connection '{"id":"c-app","between":["vm-app","vm-store"],"kind":"nfs","secure":true}'
req operator PUT /v1/model/storage/st-li '{"id":"st-li","vm":"vm-store","provided_to":["vm-li","vm-app"]}'

req li-admin GET /v1/compliance
row TR103308-4.2-STORE "li li-1" "LI li-1 stores its data in storage st-li, which is also provided to VM vm-app"
jq -e '.compliant == false and .counts["TR103308-4.2-STORE"] == 1' "$work/body" >/dev/null || fail "li-admin: counts: $(cat "$work/body")"
# The operator's report leaves the LI row out, its count and its effect on
# "compliant" with it: it reads as before.
req operator GET /v1/compliance
withheld "operator's compliance report"
jq -S 'del(.time, .audit_index)' "$work/body" | diff "$work/op-before" - >&2 ||
  fail "the operator's compliance report moved with the LI's state: $(cat "$work/body")"
jq -e '.compliant == true and .redacted == true and (.counts | has("TR103308-4.2-STORE") | not)' "$work/body" >/dev/null ||
  fail "operator: $(cat "$work/body")"
pass "compliance: 4.2-STORE names LI li-1 and vm-app to li-admin; the operator's report leaves it out and reads as before"

# MANO asks to move vm-app to London: refused naming the requirement only.
req mano POST /v1/decisions/migration '{"vm":"vm-app","hypervisor":"hv-lon"}'
jq -e '.allow == false and .redacted == true' "$work/body" >/dev/null || fail "mano: $(cat "$work/body")"
row TR103308-4.2-STORE "vm vm-app"
jq -e '[.violations[] | select(.requirement == "TR103308-4.2-STORE") | has("fact")] == [false]' \
  "$work/body" >/dev/null || fail "mano reads a fact: $(cat "$work/body")"
withheld "mano's refusal"
index=$(jq -r .audit_index "$work/body")
sealed=$(as operator "$LISECD_URL/v1/audit/entries?from=$index&count=1" |
  jq -er --argjson i "$index" '.entries[0] | select(.index == $i) | .sealed | tostring') ||
  fail "operator: audit entry $index could not be read"
[ "$sealed" = true ] || fail "the refused decision's record ($index) is not sealed"
pass "mano: moving vm-app to London is refused by TR103308-4.2-STORE, redacted; the record is sealed"

req li-admin POST /v1/decisions/migration '{"vm":"vm-app","hypervisor":"hv-lon"}'
jq -e '.allow == false' "$work/body" >/dev/null || fail "li-admin: $(cat "$work/body")"
row TR103308-4.2-STORE "vm vm-app" "LI li-1 is issued in FI; host lon-1 is located in GB"
grep -q "storage st-li is provided" "$work/body" || fail "li-admin: the storage is not named: $(cat "$work/body")"
pass "li-admin: the same refusal names LI li-1, its jurisdiction and storage"

# Within the jurisdiction the move is allowed.
req mano POST /v1/decisions/migration '{"vm":"vm-app","hypervisor":"hv-2"}'
jq -e '.allow == true' "$work/body" >/dev/null || fail "mano: vm-app to hel-2 (FI): $(cat "$work/body")"
pass "mano: vm-app may move within Finland"
