#!/usr/bin/env bash
# No row naming an LI VM reaches a role that may not read it (TR 103 308
# §4.1; docs/model.md, "Rows naming an LI VM"): a real lisecd with a
# SoftHSM2 token and the LI and RD administrations' audit keys. The auditor
# is refused /v1/model/vm and /v1/li/vms, mano and rd-admin /v1/li/vms;
# li-admin and hypervisor-admin read LI VMs, and the operator, which
# declared them and reads them in /v1/model/vm, reads the rows naming them
# in its replies: it alone places VMs and sets hosts' protection levels, so
# it alone can mend them (review of 2026-12-07). No record in the clear
# names them.
# - vm-li, declared "li", runs on hel-2, whose protection level admits
#   "sensitive" only (O.1.3 fails for it), and vm-x, an ordinary VM, is in
#   its domain "li" (DOMAIN fails, naming vm-li); vm-g, "sensitive" on
#   hel-3 ("general"), fails O.1.3 too. The compliance report of auditor
#   and rd-admin, and the auditor's and the operator's clear records of
#   their readings, hold (count) vm-g's O.1.3 row only; the operator's and
#   li-admin's reports hold both rows naming vm-li and read not compliant
#   for them. Before, the operator's held vm-g's row alone.
# - Placing vm-y, an ordinary VM, in domain "li" is refused (DOMAIN) to
#   mano without naming vm-li, and its record, in the clear, names it to
#   no one; the operator, li-admin and hypervisor-admin read vm-li in the
#   reason (the operator's record in the clear names it not).
# - Moving hv-4 (running vm-li2, declared "li") to hel-2 is refused (409,
#   O.1.3) naming vm-li2 to hypervisor-admin and the operator (API and
#   lisec model put); moving hv-5 (vm-li3, vm-li4) names both to the
#   operator.
# - Restarted, lisecd logs as many violations as the auditor's report has
#   (before: the rows naming vm-li counted), fewer than the operator's.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/rd_lib.sh"
rd_start hel-1 "[api]" "refusal_rate = 0"

# --- the platform --------------------------------------------------------------------
expect 201 operator POST /v1/model/jurisdiction '{"id":"fi","codes":["FI"]}'
for h in hel-1:li hel-2:sensitive hel-3:general; do
  expect 201 operator POST /v1/model/host "{\"id\":\"${h%:*}\",\"trust\":\"trusted\",\"protection\":\"${h#*:}\",\"location\":{\"country\":\"FI\"}}"
done
for hv in hv-1:hel-1 hv-2:hel-2 hv-3:hel-3 hv-4:hel-1 hv-5:hel-1; do
  expect 201 operator POST /v1/model/hypervisor "{\"id\":\"${hv%:*}\",\"host\":\"${hv#*:}\"}"
done
vm() { # ID HYPERVISOR SENSITIVITY DOMAIN
  expect 201 operator POST /v1/model/vm "{\"id\":\"$1\",\"hypervisor\":\"$2\",\"sensitivity\":\"$3\",\"domain\":\"$4\"}"
}
vm vm-li hv-2 li li
vm vm-x hv-1 general li
vm vm-g hv-3 sensitive tenant
vm vm-li2 hv-4 li li2
vm vm-t hv-4 general li2x
vm vm-li3 hv-5 li li3
vm vm-li4 hv-5 li li3

# entry INDEX: "true" for a sealed entry, else its text as the auditor
# reads it
entry() {
  as auditor "$LISECD_URL/v1/audit/entries?from=$1&count=1" | python3 -c '
import base64, json, re, sys
e = json.load(sys.stdin)["entries"][0]
d = base64.b64decode(e["data"])
print("true" if e["sealed"] else re.sub(rb"[^ -~]+", b" | ", d).decode())'
}
names_none() { # WHAT TEXT
  case $2 in *vm-li*) fail "$1 names an LI VM: $2" ;; esac
}

# --- compliance ------------------------------------------------------------------------
for role in auditor rd-admin; do
  expect 200 $role GET /v1/compliance
  body=$(cat "$work/body")
  names_none "$role's compliance report" "$body"
  jq -e '.compliant == false and .counts["TR103308-7-O.1.3"] == 1 and
    ([.violations[] | select(.requirement == "TR103308-7-O.1.3") | .subject] == ["vm vm-g"]) and
    (.counts["TR103308-4.1-DOMAIN"] == null)' <<<"$body" >/dev/null ||
    fail "$role's compliance report: vm-g's O.1.3 row alone was expected: $body"
  if [ $role = auditor ]; then
    withheld=$(jq '.violations | length' <<<"$body")
    rec=$(entry "$(jq -r .audit_index <<<"$body")")
    case $rec in *"compliance.read"*"$withheld violations"*) ;;
      *) fail "the auditor's compliance.read record: $rec" ;; esac
  fi
done
for role in operator li-admin; do
  expect 200 $role GET /v1/compliance
  jq -e '.compliant == false and .counts["TR103308-7-O.1.3"] == 2 and .counts["TR103308-4.1-DOMAIN"] >= 1 and
    ([.violations[] | select(.requirement == "TR103308-7-O.1.3") | .subject] | sort) == ["vm vm-g", "vm vm-li"] and
    ([.violations[] | select(.requirement == "TR103308-7-O.1.3" and .subject == "vm vm-li") | .sentence] |
      any(test("^VM vm-li has sensitivity li"))) and
    ([.violations[] | select(.requirement == "TR103308-4.1-DOMAIN") | .sentence] | any(test("LI VM vm-li ")))' \
    "$work/body" >/dev/null || fail "$role's compliance report does not name vm-li: $(cat "$work/body")"
done
# the operator's reading is recorded in the clear: counted as the auditor reads it
expect 200 operator GET /v1/compliance
rec=$(entry "$(jq -r .audit_index "$work/body")")
case $rec in true) fail "the operator's compliance.read record is sealed" ;;
  *"compliance.read"*" $withheld violations"*) ;;
  *) fail "the operator's compliance.read record counts the rows naming vm-li: $rec" ;; esac
names_none "the operator's compliance.read record" "$rec"
pass "auditor and rd-admin read no compliance row naming vm-li (O.1.3, DOMAIN), vm-g's O.1.3 row kept; the operator and li-admin read both, and the operator's clear record counts them not"

# --- decisions -------------------------------------------------------------------------
place='{"id":"vm-y","hypervisor":"hv-1","sensitivity":"general","domain":"li"}'
for role in mano operator; do
  expect 200 $role POST /v1/decisions/placement "$place"
  body=$(cat "$work/body")
  [ $role = operator ] || names_none "$role's placement of vm-y in domain li" "$body"
  jq -e '.allow == false and ([.violations[].requirement] == ["TR103308-4.1-DOMAIN"]) and
    .violations[0].subject == "vm vm-y"' <<<"$body" >/dev/null ||
    fail "$role's placement of vm-y in domain li: $body"
  rec=$(entry "$(jq -r .audit_index <<<"$body")")
  case $rec in true) fail "$role's placement of vm-y: the record is sealed" ;; *DOMAIN*) ;;
    *) fail "$role's placement of vm-y: the record says no DOMAIN: $rec" ;; esac
  names_none "the record of $role's placement of vm-y" "$rec"
done
for role in operator li-admin hypervisor-admin; do
  expect 200 $role POST /v1/decisions/placement "$place"
  jq -e '.violations[0].sentence | test("\\(e\\.g\\. vm-li\\)")' "$work/body" >/dev/null ||
    fail "$role does not read vm-li in the placement of vm-y: $(cat "$work/body")"
done
pass "placing vm-y in domain li is refused (DOMAIN) to mano without naming vm-li; the operator, li-admin and hypervisor-admin read it; no clear record names it"

# --- a hypervisor's move ---------------------------------------------------------------
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
printf '{"id":"hv-4","host":"hel-2"}' >hv-4.json
code=$(req operator PUT /v1/model/hypervisor/hv-4 "$(cat hv-4.json)")
body=$(cat "$work/body")
[ "$code" = 409 ] || fail "the operator's move of hv-4 to hel-2: HTTP $code $body"
case $body in *TR103308-7-O.1.3*) ;; *) fail "the operator's move of hv-4 to hel-2 names no O.1.3: $body" ;; esac
case $body in *"VM vm-li2 has sensitivity li"*) ;;
  *) fail "the operator's move of hv-4 to hel-2 does not name vm-li2: $body" ;; esac
out=$(cli operator model put hypervisor hv-4.json 2>&1) && fail "lisec model put hypervisor hv-4 as operator: $out"
case $out in *"VM vm-li2 has sensitivity li"*) ;; *) fail "lisec model put hypervisor hv-4 as operator: $out" ;; esac
code=$(req hypervisor-admin PUT /v1/model/hypervisor/hv-4 "$(cat hv-4.json)")
case $code:$(cat "$work/body") in 409:*"VM vm-li2 has sensitivity li"*) ;;
  *) fail "hypervisor-admin's move of hv-4 does not name vm-li2: $code $(cat "$work/body")" ;; esac
code=$(req operator PUT /v1/model/hypervisor/hv-5 '{"id":"hv-5","host":"hel-2"}')
case $code:$(cat "$work/body") in 409:*"VM vm-li3 has sensitivity li"*) ;;
  *) fail "the operator's move of hv-5 does not name vm-li3: $code $(cat "$work/body")" ;; esac
case $(cat "$work/body") in *"VM vm-li4 has sensitivity li"*) ;;
  *) fail "the operator's move of hv-5 does not name vm-li4: $(cat "$work/body")" ;; esac
[ "$(as operator "$LISECD_URL/v1/model/hypervisor/hv-4" | jq -r .host)" = hel-1 ] || fail "a refused move moved hv-4"
pass "moving a hypervisor running LI VMs to hel-2 is refused (O.1.3) naming them to the operator (API, CLI; vm-li3 and vm-li4 both) and to hypervisor-admin"

# --- every clear record ------------------------------------------------------------------
# The records of the writes above name the VMs the operator declared; none
# of a decision, a move or a compliance reading names an LI VM.
size=$(as auditor "$LISECD_URL/v1/audit/entries?from=0&count=1" | jq -r .size)
as auditor "$LISECD_URL/v1/audit/entries?from=0&count=$size" | python3 -c '
import base64, json, re, sys
for e in json.load(sys.stdin)["entries"]:
    if e["sealed"]: continue
    t = re.sub(rb"[^ -~]+", b" | ", base64.b64decode(e["data"])).decode()
    if re.search(r"\b(decision|compliance|model\.hypervisor\.move)\.", t) and "vm-li" in t:
        sys.exit("a clear record names an LI VM: " + t)' || fail "see above"
pass "no clear record of a decision, a move or a compliance reading names an LI VM"

# --- the start log ------------------------------------------------------------------------
# The count of violations lisecd logs at a start is that of the auditor's
# report, without the rows naming vm-li, which the operator's holds.
rd_restart "[api]" "refusal_rate = 0"
n=$(sed -n 's/.*trust model loaded: .*, \([0-9]*\) violations.*/\1/p' "$work/lisecd.log" | tail -n1)
expect 200 auditor GET /v1/compliance
[ -n "$n" ] && [ "$n" = "$(jq '.violations | length' "$work/body")" ] ||
  fail "lisecd's start log counts $n violations, the auditor's report $(jq -c '[.violations[].subject]' "$work/body")"
expect 200 operator GET /v1/compliance
[ "$n" -lt "$(jq '.violations | length' "$work/body")" ] ||
  fail "the operator's report holds no more than the start log's $n violations: $(jq -c '[.violations[].subject]' "$work/body")"
pass "the start log's count of violations leaves out the rows naming an LI VM, as the auditor's report"

stop_clean
echo "li_confid_vmrows: all passed"
