#!/usr/bin/env bash
# A sealed audit entry's length tells no reader of the log how long the LI
# words inside it are (TR 103 308 §4.1; docs/audit.md, "Entries"): every
# sealed entry is padded to a bucket of 1,024 bytes before it is sealed. A
# real lisecd with the LI administration's key holds two LI authorisations
# of very different id lengths (li-1 and a 55-byte id), each with its own LI
# VM; as li-admin puts each, and as MANO asks to migrate each LI VM to a
# host in another country (refused, sealed: the decision names the LI and
# its violations), lisecd writes sealed records naming one LI or the
# other. The auditor reads the log's entries (GET /v1/audit/entries): every
# sealed entry is as long as every other. The LI administration opens them
# all with its key (lisec audit read) and finds both LIs named in the
# records that the auditor could not tell apart, and the log verifies.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/twins.sh"
source "$src/tests/integration/lib/li_topology.sh"
cd "$work"
pki=$work/pki
make_pki "$pki"
lisec audit li-keygen li.key li.pub >/dev/null 2>&1 || fail "lisec audit li-keygen"
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li.pub" "vkey_file = $work/lisecd.vkey" \
  "[model]" "allow_declared_trust = true"

short=li-1
long=li-fi-helsinki-metropolitan-area-2026-0001-interception
li_topology li=$short
li_topology site=no li=$long li_vm=vm-li-helsinki-metropolitan-area-2 storage=st-li-helsinki-2 \
  links='c3 g3 c4 g4'
model_put operator host '{"id":"sto-1","trust":"trusted","protection":"li","location":{"country":"SE","source":"administrative"}}'
model_put operator hypervisor '{"id":"hv-se","host":"sto-1"}'
for vm in vm-li vm-li-helsinki-metropolitan-area-2; do
  out=$(post mano /v1/decisions/migration "{\"vm\":\"$vm\",\"hypervisor\":\"hv-se\"}")
  [ "$(echo "$out" | tail -n1)" = 200 ] || fail "mano: the migration of $vm was not answered: $out"
  echo "$out" | sed '$d' | jq -e '.allow == false' >/dev/null || fail "mano: the migration of $vm was allowed: $out"
done

# What the auditor reads: each sealed entry's index and length.
as auditor "$LISECD_URL/v1/audit/entries?from=0&count=10000" | python3 -S -c '
import base64, json, sys
for e in json.load(sys.stdin)["entries"]:
    if e["sealed"]:
        print(e["index"], len(base64.b64decode(e["data"])))
' >lengths || fail "auditor: the audit entries could not be read"
# What the LI administration reads of the same entries, opened.
lisec --server "$LISECD_URL" --pki "$pki" --role li-admin --json audit read --li-key li.key >opened.json 2>read.err ||
  fail "li-admin: lisec audit read: $(cat read.err)"
jq -e '.closed == 0 and .opened >= 4' opened.json >/dev/null || fail "li-admin: sealed entries left closed: $(jq -c '.entries[] | select(.opened == false)' opened.json)"
# indices of the opened records that name LI $1 in action $2
naming() {
  jq -r --arg li "$1" --arg action "$2" \
    '.entries[] | select(.sealed and .action == $action and ((.subjects + .reasons) | join(" ") | contains($li))) | .index' \
    opened.json
}
for li in $short $long; do
  for action in model.li.put decision.migration; do
    ix=$(naming "$li" "$action")
    [ -n "$ix" ] || fail "no sealed $action record names $li: $(jq -c '.entries[] | select(.sealed)' opened.json)"
    echo "$ix" | sed "s/\$/ $li $action/" >>named
  done
done
# The records naming one LI and the other are not as long inside ...
plain_len() { jq -r --argjson i "$1" '.entries[] | select(.index == $i) | [.actor, .role, .action, .outcome] + .subjects + .reasons | join("") | length' opened.json; }
a=$(plain_len "$(naming $short decision.migration | head -n1)") b=$(plain_len "$(naming $long decision.migration | head -n1)")
[ "$b" -gt $((a + 40)) ] || fail "the two decisions' words are $a and $b characters: not the LI words this test means to hide"
# ... and every sealed entry is as long as every other to the auditor.
n=$(wc -l <lengths)
[ "$n" -ge 4 ] || fail "only $n sealed entries in the log"
sizes=$(cut -d' ' -f2 lengths | sort -u)
[ "$(echo "$sizes" | wc -l)" = 1 ] ||
  fail "the auditor sees sealed entries of $(echo $sizes | tr ' ' ,) bytes; by record: $(
    while read -r ix li action; do echo "#$ix $action naming $li: $(awk -v i="$ix" '$1 == i { print $2 }' lengths) bytes;"; done <named)"
[ "$sizes" = $((1 + 48 + 1024)) ] || fail "sealed entries are $sizes bytes, not one bucket (1,073)"
pass "$n sealed entries, naming $short or $long, the decisions $a and $b characters of words: all $sizes bytes to the auditor"

lisec --server "$LISECD_URL" --pki "$pki" --role auditor audit verify --pubkey lisecd.vkey >verify.out 2>&1 ||
  fail "auditor: the log does not verify: $(cat verify.out)"
pass "the padded log verifies, and li-admin opens every sealed entry in it"
stop_clean
