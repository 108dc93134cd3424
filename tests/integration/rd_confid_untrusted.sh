#!/usr/bin/env bash
# A destination that is not trusted refuses every VM alike under
# TR103308-6.2-MOVE2, to every role but rd-admin, whether or not a
# retention obligation names the VM (docs/rd.md, "Who reads what";
# docs/model.md, "What each role sees"): a real lisecd with a SoftHSM2
# token; obligation ob-de names VM rd-q and the not yet placed rd-n as RD
# functions and storage rd-st (of VM rd-db) as an RD store; tw-q, tw-n and
# tw-db are their twins, which no obligation names. Host ber-u is
# untrusted in DE, nol-u untrusted with no location.
# - As operator, mano, hypervisor-admin, host and li-admin, the migrations
#   of rd-q and of rd-db onto each, and the placement of rd-n there, read
#   byte for byte as their twins' once ids and audit indexes are left
#   aside: MOVE2 alone, nothing redacted; so do mano's scheduler extender
#   calls; the records read alike to the auditor (seal bit and clear
#   text), in the clear, naming neither RD-R11 nor the obligation. Before,
#   the RD VM's answer carried RD-R11 (redacted) and its record was sealed
#   to the RD administration, which told every role which VMs an
#   obligation names.
# - RD-R11 for the obligation's jurisdiction (London) is still shown,
#   redacted, and its record sealed.
# - A hypervisor's move (PUT naming another host): hv-rd-u runs rd-u, an
#   RD function of ob-de, hv-tw-u its twin tw-u. Onto ber-u and nol-u the
#   two moves read alike to operator and hypervisor-admin (409, MOVE2
#   alone), records in the clear alike naming neither RD-R11 nor the
#   obligation. To London hv-rd-u's move is refused 409 naming RD-R11
#   (the obligation withheld), nothing moves, and its record is sealed:
#   the RD administration's key opens it to the full reason, the LI
#   administration's does not; hv-tw-u's move there is allowed. Before,
#   hv-rd-u's move to London was allowed (compliance, which the move
#   compares, holds no RD rule).
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/rd_lib.sh"
rd_start fra-1 "[api]" "refusal_rate = 0"

# --- the platform ------------------------------------------------------------------
expect 201 operator POST /v1/model/jurisdiction '{"id":"de","codes":["DE"]}'
for h in fra-1:trusted:DE ber-u:untrusted:DE lon-1:trusted:GB nol-u:untrusted:; do
  IFS=: read -r h tr c <<<"$h"
  loc=""
  [ -z "$c" ] || loc=",\"location\":{\"country\":\"$c\"}"
  expect 201 operator POST /v1/model/host "{\"id\":\"$h\",\"trust\":\"$tr\",\"protection\":\"li\"$loc}"
  expect 201 operator POST /v1/model/hypervisor "{\"id\":\"hv-$h\",\"host\":\"$h\"}"
done
for v in rd-q tw-q rd-db tw-db; do
  expect 201 operator POST /v1/model/vm "{\"id\":\"$v\",\"hypervisor\":\"hv-fra-1\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"}"
done
for v in rd-u tw-u; do # each alone on a hypervisor of its own, for the hypervisor moves
  expect 201 operator POST /v1/model/hypervisor "{\"id\":\"hv-$v\",\"host\":\"fra-1\"}"
  expect 201 operator POST /v1/model/vm "{\"id\":\"$v\",\"hypervisor\":\"hv-$v\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"}"
done
expect 201 operator POST /v1/model/storage '{"id":"rd-st","vm":"rd-db"}'
expect 201 operator POST /v1/model/storage '{"id":"tw-st","vm":"tw-db"}'
now=$(date +%s)
ob="{\"jurisdiction\":\"de\",\"functions\":[\"rd-q\",\"rd-n\",\"rd-u\"],\"stores\":[\"rd-st\"],\"period_s\":3600,\"retention_s\":3600,\"valid_from\":$((now - 10))}"
expect 200 rd-admin PUT /v1/rd/obligations/ob-de "$ob"

entry() { # INDEX: "sealed TEXT" of the audit entry as the auditor reads it, twins' ids made one
  as auditor "$LISECD_URL/v1/audit/entries?from=$1&count=1" | python3 -c '
import base64, json, re, sys
e = json.load(sys.stdin)["entries"][0]
t = "" if e["sealed"] else re.sub(rb"[^ -~]+", b" | ", base64.b64decode(e["data"])).decode()
t = re.sub(r"^.*? \| (?=decision\.|model\.hypervisor\.)", "", t)  # the header: index, time, actor, role
t = re.sub(r"\b(rd|tw)-(q|st|db|n|u)\b", r"ID-\2", t)
t = re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+Z|\b\d{9,}\b", "T", t)
print(str(e["sealed"]).lower(), t)'
}
idx() { jq -er .audit_index "$work/body"; }
last() { entry $(($(as auditor "$LISECD_URL/v1/audit/entries?from=0&count=1" | jq -r .size) - 1)); }
# refused_move2 WHAT: the answer in body is a refusal under MOVE2 alone, nothing redacted
refused_move2() {
  jq -e '.allow == false and ([.violations[].requirement] | unique) == ["TR103308-6.2-MOVE2"] and
    (.redacted // false) == false' "$work/body" >/dev/null || fail "$1: not refused under MOVE2 alone: $(cat "$work/body")"
}
# clear_move2 WHAT RECORD: the record is in the clear, with MOVE2, naming neither RD-R11 nor the obligation
clear_move2() {
  case $2 in false*TR103308-6.2-MOVE2*) ;; *) fail "$1: the record is sealed or lacks MOVE2: $2" ;; esac
  case $2 in *RD-R11*|*OB*|*ob-de*|*etention*) fail "$1: the record names RD: $2" ;; esac
}

# --- decisions onto untrusted hardware, and onto hardware without a location --------
for host in ber-u nol-u; do
  for role in operator mano hypervisor-admin fra-1 li-admin; do
    for what in "migration vm q" "migration vm db" "placement id n"; do
      read -r kind key x <<<"$what"
      for v in rd tw; do
        if [ "$kind" = placement ]; then body="{\"id\":\"$v-$x\",\"host\":\"$host\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"}"
        else body="{\"vm\":\"$v-$x\",\"host\":\"$host\"}"; fi
        declare "ans_$v=$(answer "$role" POST "/v1/decisions/$kind" "$body")"
        expect 200 "$role" POST "/v1/decisions/$kind" "$body"
        refused_move2 "$role's $kind of $v-$x onto $host"
        declare "rec_$v=$(entry "$(idx)")"
        clear_move2 "$role's $kind of $v-$x onto $host" "$(eval echo "\$rec_$v")"
      done
      alike "$role's $kind answers onto $host" "$ans_rd" "$ans_tw"
      alike "the records of $role's $kind decisions onto $host" "$rec_rd" "$rec_tw"
    done
  done
  for v in rd tw; do
    body="{\"Pod\":{\"metadata\":{\"name\":\"p\",\"annotations\":{\"lisec.io/vm\":\"$v-q\"}}},\"NodeNames\":[\"hv-$host\"]}"
    declare "ans_$v=$(answer mano POST /k8s/filter "$body")"
    declare "rec_$v=$(last)"
  done
  alike "mano's k8s filter answers onto $host" "$ans_rd" "$ans_tw"
  alike "the records of mano's k8s filters onto $host" "$rec_rd" "$rec_tw"
  case $ans_rd in *TR103308-6.2-MOVE2*) ;; *) fail "the k8s filter onto $host: $ans_rd" ;; esac
  case $ans_rd in *RD-R11*) fail "the k8s filter onto $host names RD-R11: $ans_rd" ;; esac
done
pass "onto an untrusted host, and one without a location, an RD VM's migration, placement and k8s filter read as its twin's to operator, mano, hypervisor-admin, host and li-admin (MOVE2 alone), records in the clear alike"

# --- the jurisdiction is still shown ---------------------------------------------
expect 200 mano POST /v1/decisions/migration '{"vm":"rd-q","host":"lon-1"}'
jq -e '.allow == false and ([.violations[].requirement] | index("TR103308-5.8-RD-R11")) != null and .redacted == true' \
  "$work/body" >/dev/null || fail "rd-q to London: RD-R11 not shown, redacted: $(cat "$work/body")"
case $(entry "$(idx)") in true*) ;; *) fail "rd-q to London: the record is not sealed" ;; esac
expect 200 mano POST /v1/decisions/migration '{"vm":"tw-q","host":"lon-1"}'
jq -e '.allow == true' "$work/body" >/dev/null || fail "tw-q to London: $(cat "$work/body")"
pass "RD-R11 for the obligation's jurisdiction is still shown, redacted, and its record sealed"

# --- a hypervisor's move ------------------------------------------------------------
move() { # ROLE HV HOST: the PUT that moves HV to HOST; the answer ("STATUS BODY", ids made one)
  answer "$1" PUT "/v1/model/hypervisor/$2" "{\"id\":\"$2\",\"host\":\"$3\"}"
}
host_of() { as operator "$LISECD_URL/v1/model/hypervisor/$1" | jq -r .host; }
for host in ber-u nol-u; do
  for role in operator hypervisor-admin; do
    for v in rd tw; do
      declare "ans_$v=$(move "$role" "hv-$v-u" "$host")"
      declare "rec_$v=$(last)"
      clear_move2 "$role's move of hv-$v-u onto $host" "$(eval echo "\$rec_$v")"
    done
    case $ans_rd in "409 "*TR103308-6.2-MOVE2*) ;; *) fail "$role's move of hv-rd-u onto $host: $ans_rd" ;; esac
    case $ans_rd in *RD-R*|*withheld*) fail "$role's move of hv-rd-u onto $host names RD: $ans_rd" ;; esac
    alike "$role's hypervisor move answers onto $host" "$ans_rd" "$ans_tw"
    alike "the records of $role's hypervisor moves onto $host" "$rec_rd" "$rec_tw"
  done
done
[ "$(host_of hv-rd-u) $(host_of hv-tw-u)" = "fra-1 fra-1" ] || fail "a refused hypervisor move moved it"
pass "onto an untrusted host, and one without a location, moving the hypervisor of an RD VM reads as moving its twin's to operator and hypervisor-admin (409 MOVE2 alone), records in the clear alike"

for role in operator hypervisor-admin; do
  ans=$(move "$role" hv-rd-u lon-1)
  case $ans in "409 "*TR103308-5.8-RD-R11*"rd (withheld)"*) ;; *) fail "$role's move of hv-rd-u to London: not refused naming RD-R11, redacted: $ans" ;; esac
  ! sed 's/hv-rd-u//g' "$work/body" | grep -q 'ob-de\|rd-u\|issued in' ||
    fail "$role's move of hv-rd-u to London names the obligation, the VM or its jurisdiction: $(cat "$work/body")"
  case $(last) in true*) ;; *) fail "$role's move of hv-rd-u to London: the record is not sealed" ;; esac
done
[ "$(host_of hv-rd-u)" = fra-1 ] || fail "the refused move of hv-rd-u to London moved it"
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
cli auditor audit read --li-key audit-rd.key >rd.out 2>&1 || true
grep -A1 'model.hypervisor.move  hypervisor hv-rd-u: host fra-1 -> lon-1' rd.out |
  grep -q 'reason: TR103308-5.8-RD-R11: VM rd-u serves retention obligation ob-de' ||
  fail "the RD key does not open the refused move's record to RD-R11 in full: $(grep model.hypervisor.move rd.out | tail -3)"
cli auditor audit read --li-key audit-li.key >li.out 2>&1 || true
! grep -q 'hv-rd-u: host fra-1 -> lon-1' li.out || fail "the LI key opened the refused move's record"
expect 200 operator PUT /v1/model/hypervisor/hv-tw-u '{"id":"hv-tw-u","host":"lon-1"}'
jq -e '.move.to == "lon-1" and .move.vms == 1' "$work/body" >/dev/null || fail "hv-tw-u to London: $(cat "$work/body")"
case $(last) in false*model.hypervisor.move*) ;; *) fail "hv-tw-u to London: the record is not in the clear: $(last)" ;; esac
pass "moving the hypervisor of an RD VM out of the obligation's jurisdiction is refused naming RD-R11 (withheld to operator and hypervisor-admin), nothing moves, its record sealed to the RD administration (its key reads RD-R11 in full, the LI key nothing); its twin's hypervisor moves there"

stop_clean
echo "rd_confid_untrusted: all passed"
