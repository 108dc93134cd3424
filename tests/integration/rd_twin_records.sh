#!/usr/bin/env bash
# The records of decisions and of refused model changes about RD, read by
# the operator and the auditor, checked with twins on a real lisecd with a
# SoftHSM2 token: an obligation ob-de names VM rd-q as an RD function and
# storage rd-st as an RD store; tw-q and tw-st are rd-q and rd-st in every
# declared respect (same hypervisor, sensitivity, domain; a store of a VM
# on the same host), but no obligation names them. Every answer about one
# must equal the answer about the other, ids aside:
#  - a placement, a migration and a k8s filter of rd-q and of tw-q onto
#    fra-2 (allowed for both) answer alike, and their audit records read
#    alike to the auditor (seal bit and clear text);
#  - a k8s filter keeping rd-q off London is recorded without naming the
#    obligation in the clear;
#  - removing jurisdiction "de" (an obligation's) is refused with a record
#    whose clear text does not name Retained Data (an LEA's jurisdiction's
#    refusal is sealed).
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/rd_lib.sh"
rd_start fra-1 "[api]" "refusal_rate = 0"

# --- the platform ------------------------------------------------------------------
expect 201 operator POST /v1/model/jurisdiction '{"id":"de","codes":["DE"]}'
expect 201 operator POST /v1/model/host '{"id":"lon-1","trust":"trusted","protection":"li","location":{"country":"GB"}}'
expect 201 operator POST /v1/model/hypervisor '{"id":"hv-lon-1","host":"lon-1"}'
for h in fra-1 fra-2; do
  expect 201 operator POST /v1/model/host "{\"id\":\"$h\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"DE\"}}"
  expect 201 operator POST /v1/model/hypervisor "{\"id\":\"hv-$h\",\"host\":\"$h\"}"
done
for v in rd-q tw-q rd-db tw-db; do
  expect 201 operator POST /v1/model/vm "{\"id\":\"$v\",\"hypervisor\":\"hv-fra-1\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"}"
done
expect 201 operator POST /v1/model/storage '{"id":"rd-st","vm":"rd-db"}'
expect 201 operator POST /v1/model/storage '{"id":"tw-st","vm":"tw-db"}'
now=$(date +%s)
ob="{\"jurisdiction\":\"de\",\"functions\":[\"rd-q\",\"rd-n\"],\"stores\":[\"rd-st\"],\"period_s\":3600,\"retention_s\":3600,\"valid_from\":$((now - 10))}"
expect 200 rd-admin PUT /v1/rd/obligations/ob-de "$ob"


entry() { # INDEX: "sealed TEXT" of the audit entry as the auditor reads it, twins' ids made one
  as auditor "$LISECD_URL/v1/audit/entries?from=$1&count=1" | python3 -c '
import base64, json, re, sys
e = json.load(sys.stdin)["entries"][0]
t = "" if e["sealed"] else re.sub(rb"[^ -~]+", b" | ", base64.b64decode(e["data"])).decode()
t = re.sub(r"^.*? \| (?=[a-z-]+-dev \|)", "", t)
t = re.sub(r"\b(rd|tw)-(q|st|db|n)\b", r"ID-\2", t)
t = re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+Z|\b\d{9,}\b", "T", t)
print(str(e["sealed"]).lower(), t)'
}
idx() { python3 -c 'import json; print(json.load(open("body"))["audit_index"])'; }
for role in operator mano hypervisor-admin li-admin; do
  for kind in placement migration; do
    for v in rd tw; do
      if [ $kind = placement ]; then body="{\"id\":\"$v-n\",\"host\":\"fra-2\",\"sensitivity\":\"sensitive\",\"domain\":\"rd\"}"
      else body="{\"vm\":\"$v-q\",\"host\":\"fra-2\"}"; fi
      declare "ans_$v=$(answer $role POST /v1/decisions/$kind "$body")"
      expect 200 $role POST /v1/decisions/$kind "$body"
      declare "rec_$v=$(entry "$(idx)")"
    done
    alike "$role's $kind answers" "$ans_rd" "$ans_tw"
    alike "the records of $role's $kind decisions" "$rec_rd" "$rec_tw"
  done
done
for v in rd tw; do
  body="{\"Pod\":{\"metadata\":{\"name\":\"p\",\"annotations\":{\"lisec.io/vm\":\"$v-q\"}}},\"NodeNames\":[\"hv-fra-2\"]}"
  declare "ans_$v=$(answer mano POST /k8s/filter "$body")"
  r=$(as auditor "$LISECD_URL/v1/audit/entries?from=0&count=1" | jq -r .size)
  declare "rec_$v=$(entry $((r - 1)))"
done
alike "mano's k8s filter answers" "$ans_rd" "$ans_tw"
alike "the records of mano's k8s filters" "$rec_rd" "$rec_tw"
# a k8s filter that keeps an RD VM's pod off London: its record in the
# clear names no obligation (the reply names the requirement only)
body='{"Pod":{"metadata":{"name":"p","annotations":{"lisec.io/vm":"rd-q"}}},"NodeNames":["hv-lon-1"]}'
expect 200 mano POST /k8s/filter "$body"
r=$(as auditor "$LISECD_URL/v1/audit/entries?from=0&count=1" | jq -r .size)
rec=$(entry $((r - 1)))
case $rec in *ob-de*|*etention*) [ -n "${RD_TWIN_SOFT:-}" ] && echo "DIFFER: k8s record: $rec" || fail "the k8s filter's record names the obligation in the clear: $rec" ;; esac
pass "decisions about an RD VM and its twin answer and are recorded alike"

# refused and allowed removals of the twins, as operator and hypervisor-admin
last() { entry $(($(as auditor "$LISECD_URL/v1/audit/entries?from=0&count=1" | jq -r .size) - 1)); }
for role in operator hypervisor-admin; do
  a=$(answer $role DELETE /v1/model/vm/rd-db); ra=$(last)
  b=$(answer $role DELETE /v1/model/vm/tw-db); rb=$(last)
  alike "$role's refused removals of an RD store's VM and its twin" "$a" "$b"
  alike "the records of $role's refused removals" "$ra" "$rb"
done
a=$(answer operator DELETE /v1/model/storage/rd-st); ra=$(last)
b=$(answer operator DELETE /v1/model/storage/tw-st); rb=$(last)
alike "the removals of an RD store and its twin" "$a" "$b"
alike "the records of the removals of an RD store and its twin" "$ra" "$rb"
a=$(answer operator DELETE /v1/model/vm/rd-q); ra=$(last)
b=$(answer operator DELETE /v1/model/vm/tw-q); rb=$(last)
alike "the removals of an RD function and its twin" "$a" "$b"
alike "the records of the removals of an RD function and its twin" "$ra" "$rb"
pass "removals of RD VMs and stores and of their twins answer and are recorded alike"

expect 201 operator POST /v1/model/jurisdiction '{"id":"de-lea","codes":["DE"]}'
expect 201 operator POST /v1/model/lea '{"id":"lea-1","name":"x","jurisdiction":"de-lea"}' || true
expect 409 operator DELETE /v1/model/jurisdiction/de
r=$(as auditor "$LISECD_URL/v1/audit/entries?from=0&count=1" | jq -r .size)
rec=$(entry $((r - 1)))
case $rec in *etention*|*RD*) [ -n "${RD_TWIN_SOFT:-}" ] && echo "DIFFER: $rec" || fail "the refused removal of an obligation's jurisdiction is recorded in the clear naming RD: $rec" ;; esac
pass "the refused removal of an obligation's jurisdiction names no RD to the auditor"

# /metrics and lisecd's log (the operator's) name no obligation, RD VM or RD rule
as operator "$LISECD_URL/metrics" >metrics.txt
! grep -nE 'ob-de|rd-(q|n|st)|5\.8-RD' metrics.txt || { [ -n "${RD_TWIN_SOFT:-}" ] && echo "DIFFER: metrics" || fail "/metrics names RD"; }
! grep -nE 'ob-de|rd-(q|n|st)\b|5\.8-RD' "$work/lisecd.log" || { [ -n "${RD_TWIN_SOFT:-}" ] && echo "DIFFER: log" || fail "lisecd's log names RD"; }
pass "/metrics and the log name nothing of RD"
