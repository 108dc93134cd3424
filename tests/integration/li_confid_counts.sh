#!/usr/bin/env bash
# A refusal does not tell a role that may not read its LI (RD) rows how
# many VMs, LI authorisations or obligations they are about (TR 103 308
# §4.1, read for RD too; docs/model.md, "What each role sees"; docs/audit.md):
# a real lisecd with a SoftHSM2 token and the LI and RD administrations'
# audit keys. Everything runs on hel-1 (trusted, FI); lon-1 (trusted, GB)
# lies outside the LIs' jurisdiction and the obligations'.
# - Hypervisors of three VMs each: hv-a runs vm-a1, which LI li-a1
#   monitors, and two VMs no LI names; hv-b runs vm-b1..3, each monitored
#   by an LI of its own (li-b1..3). Moving each to lon-1, as operator and
#   as hypervisor-admin, over the API and with lisec model put, reads the
#   same, hv-a and hv-b aside: 409, R1 withheld once. Before, hv-b's refusal
#   had three withheld R1 rows where hv-a's had one. Both records are
#   sealed alike (seal bit, length); the LI administration's key opens
#   hv-b's to the three LIs by name.
# - Likewise for Retained Data: hv-c runs rd-c1, a function of obligation
#   ob-1, and two VMs no obligation names; hv-d runs rd-d1..3, all ob-1's:
#   RD-R11 withheld once for both, the records sealed alike, the RD
#   administration's key opening hv-d's to its three VMs.
# - A hypervisor failing both: hv-e runs vm-e1 (LI li-e1) and rd-e1, hv-f
#   runs vm-f1 (LI li-f1) and rd-f1..3. The refusals read alike; the records
#   are sealed to the LI administration with the RD rows withheld, and its
#   key reads one withheld RD-R11 row in each (before: three in hv-f's).
# - One VM: vm-m is monitored by li-m1 and li-m2, vm-n by li-n1 alone; rd-p
#   is a function of ob-1 and ob-2, rd-q of ob-1 alone. Their migrations to
#   lon-1 read alike to mano, operator and hypervisor-admin (R11, RD-R11
#   withheld once; before, twice for vm-m and rd-p), and so do mano's
#   scheduler extender calls (before: "denied by R11, R11"); li-admin reads
#   both R11 rows for vm-m, and RD-R11 once for rd-p; the RD
#   administration's key opens rd-p's record to both obligations.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/rd_lib.sh"
rd_start hel-1 "[api]" "refusal_rate = 0"

# --- the platform --------------------------------------------------------------------
expect 201 operator POST /v1/model/jurisdiction '{"id":"fi","codes":["FI"]}'
expect 201 operator POST /v1/model/lea '{"id":"lea-fi","name":"NBI","jurisdiction":"fi"}'
for h in hel-1:FI lon-1:GB; do
  expect 201 operator POST /v1/model/host "{\"id\":\"${h%:*}\",\"trust\":\"trusted\",\"protection\":\"li\",\"location\":{\"country\":\"${h#*:}\"}}"
done
for hv in hv-li hv-a hv-b hv-c hv-d hv-e hv-f hv-mn; do
  expect 201 operator POST /v1/model/hypervisor "{\"id\":\"$hv\",\"host\":\"hel-1\"}"
done
expect 201 operator POST /v1/model/hypervisor '{"id":"hv-lon","host":"lon-1"}'
vm() { # ID HYPERVISOR [DOMAIN]
  expect 201 operator POST /v1/model/vm "{\"id\":\"$1\",\"hypervisor\":\"$2\",\"sensitivity\":\"sensitive\",\"domain\":\"${3:-tenant}\"}"
}
for v in vm-a1 vm-a2 vm-a3; do vm $v hv-a; done
for v in vm-b1 vm-b2 vm-b3; do vm $v hv-b; done
for v in rd-c1 tw-c2 tw-c3; do vm $v hv-c rd; done
for v in rd-d1 rd-d2 rd-d3; do vm $v hv-d rd; done
vm vm-e1 hv-e
vm rd-e1 hv-e rd
vm vm-f1 hv-f
for v in rd-f1 rd-f2 rd-f3; do vm $v hv-f rd; done
for v in vm-m vm-n; do vm $v hv-mn; done
for v in rd-p rd-q; do vm $v hv-mn rd; done
expect 201 operator POST /v1/model/vm '{"id":"vm-li","hypervisor":"hv-li","sensitivity":"li","domain":"li"}'
expect 201 operator POST /v1/model/vm '{"id":"vm-store","hypervisor":"hv-li","sensitivity":"li","domain":"li"}'
expect 201 operator POST /v1/model/storage '{"id":"st-li","vm":"vm-store","provided_to":["vm-li"]}'
for lm in li-a1:vm-a1 li-b1:vm-b1 li-b2:vm-b2 li-b3:vm-b3 li-e1:vm-e1 li-f1:vm-f1 li-m1:vm-m li-m2:vm-m li-n1:vm-n; do
  expect 201 li-admin POST /v1/model/li "{\"id\":\"${lm%:*}\",\"jurisdiction\":\"fi\",\"lea\":\"lea-fi\",\"monitored\":\"${lm#*:}\",\"host\":\"vm-li\",\"storage\":\"st-li\",\"valid_from\":\"2025-01-01T00:00:00Z\",\"valid_until\":\"2035-01-01T00:00:00Z\"}"
done
now=$(date +%s)
ob() { # ID FUNCTION...
  local id=$1 fns
  shift
  fns=$(printf '"%s",' "$@")
  expect 200 rd-admin PUT "/v1/rd/obligations/$id" "{\"jurisdiction\":\"fi\",\"functions\":[${fns%,}],\"period_s\":3600,\"retention_s\":3600,\"valid_from\":$((now - 10))}"
}
ob ob-1 rd-c1 rd-d1 rd-d2 rd-d3 rd-e1 rd-f1 rd-f2 rd-f3 rd-p rd-q
ob ob-2 rd-p

# say ROLE METHOD PATH [BODY]: "STATUS BODY", the audit index left out (the
# ids of a pair are made one by the caller)
say() {
  local code
  code=$(req "$@")
  printf '%s ' "$code"
  jq -cS 'del(.audit_index, .AuditIndex)' "$work/body" 2>/dev/null || cat "$work/body"
}
# entry INDEX: "sealed LENGTH" or "false TEXT" of the audit entry as the
# auditor reads it (the header's index and time left out)
entry() {
  as auditor "$LISECD_URL/v1/audit/entries?from=$1&count=1" | python3 -c '
import base64, json, re, sys
e = json.load(sys.stdin)["entries"][0]
d = base64.b64decode(e["data"])
if e["sealed"]:
    print("true", len(d))
else:
    t = re.sub(rb"[^ -~]+", b" | ", d).decode()
    t = re.sub(r"^.*? \| (?=decision\.|model\.hypervisor\.)", "", t)
    print("false", re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+Z|\b\d{9,}\b", "T", t))'
}
last() { entry $(($(as auditor "$LISECD_URL/v1/audit/entries?from=0&count=1" | jq -r .size) - 1)); }
same() { # WHAT A B
  [ "$2" = "$3" ] || fail "$1 differ:
  one:   $2
  three: $3"
}
withheld_once() { # WHAT REQUIREMENT ANSWER: REQUIREMENT withheld, named once
  local n
  n=$(grep -o "$2 (" <<<"$3" | wc -l)
  [ "$n" = 1 ] || fail "$1: $2 named $n times, want once: $3"
  case $3 in *"administration only"*) ;; *) fail "$1: nothing withheld: $3" ;; esac
}
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
host_of() { as operator "$LISECD_URL/v1/model/hypervisor/$1" | jq -r .host; }

# --- a hypervisor's move ---------------------------------------------------------------
# pair ONE THREE REQUIREMENT: ONE's and THREE's moves to lon-1, as operator
# and hypervisor-admin, over the API and the CLI, read alike; refused,
# REQUIREMENT withheld once; the records sealed alike.
pair() {
  local role hv f
  for role in operator hypervisor-admin; do
    for hv in "$1" "$2"; do
      declare "ans_${hv//-/_}=$(say "$role" PUT "/v1/model/hypervisor/$hv" "{\"id\":\"$hv\",\"host\":\"lon-1\"}" | sed "s/\b$hv\b/HV/g")"
      declare "rec_${hv//-/_}=$(last)"
      printf '{"id":"%s","host":"lon-1"}' "$hv" >"$hv.json"
      f=$(cli "$role" model put hypervisor "$hv.json" 2>&1 | sed "s/\b$hv\b/HV/g"; echo "exit ${PIPESTATUS[0]}")
      declare "cli_${hv//-/_}=$f"
      declare "crec_${hv//-/_}=$(last)"
    done
    f=${1//-/_} t=${2//-/_}
    eval "a=\$ans_$f b=\$ans_$t ra=\$rec_$f rb=\$rec_$t ca=\$cli_$f cb=\$cli_$t cra=\$crec_$f crb=\$crec_$t"
    case $a in "409 "*) ;; *) fail "$role's move of $1 to lon-1: $a" ;; esac
    withheld_once "$role's move of $2 to lon-1" "$3" "$b"
    same "$role's refusals of the moves of $1 and $2 to lon-1" "$a" "$b"
    case $ra in "true "*) ;; *) fail "$role's move of $1: the record is not sealed: $ra" ;; esac
    same "the records of $role's moves of $1 and $2" "$ra" "$rb"
    case $ca in *"$3"*"exit 1") ;; *) fail "lisec model put hypervisor $1 as $role: $ca" ;; esac
    withheld_once "lisec model put hypervisor $2 as $role" "$3" "$cb"
    same "lisec model put hypervisor $1 and $2 as $role" "$ca" "$cb"
    same "the records of $role's moves of $1 and $2 with lisec" "$cra" "$crb"
  done
  [ "$(host_of "$1") $(host_of "$2")" = "hel-1 hel-1" ] || fail "a refused move moved $1 or $2"
}
pair hv-a hv-b TR103308-6.2-R1
pass "moving the hypervisor of one VM an LI monitors and of three read alike to operator and hypervisor-admin (API, CLI: R1 withheld once), records sealed alike"
pair hv-c hv-d TR103308-5.8-RD-R11
pass "moving the hypervisor of one VM an obligation names and of three read alike to operator and hypervisor-admin (RD-R11 withheld once), records sealed alike"
pair hv-e hv-f TR103308-5.8-RD-R11
pass "moving a hypervisor failing an LI and an RD rule reads alike with one RD VM and three"

# What the administrations' keys open: every LI row, every RD row, each to
# its own administration; the LI administration reads one withheld RD row.
cli auditor audit read --li-key audit-li.key >li.out 2>li.err || true
cli auditor audit read --li-key audit-rd.key >rd.out 2>rd.err || true
reasons() { # FILE HV: the reasons of the records of HV's refused moves, one per line
  grep -A1 "model.hypervisor.move  hypervisor $2: host hel-1 -> lon-1" "$1" | grep -o 'reason: .*' | sort -u
}
r=$(reasons li.out hv-b)
for li in li-b1 li-b2 li-b3; do
  grep -q "TR103308-6.2-R1: LI $li is issued in FI.*vm-b${li#li-b}" <<<"$r" || fail "the LI key does not read $li in hv-b's refused move: $r"
done
r=$(reasons rd.out hv-d)
for v in rd-d1 rd-d2 rd-d3; do
  grep -q "TR103308-5.8-RD-R11: VM $v serves retention obligation ob-1" <<<"$r" || fail "the RD key does not read $v in hv-d's refused move: $r"
done
for hv in hv-e hv-f; do
  r=$(reasons li.out $hv)
  [ -n "$r" ] || fail "the LI key does not open $hv's refused move"
  n=$(grep -o 'RD-R11' <<<"$r" | sort | uniq -c | awk '{print $1}')
  [ "$(wc -l <<<"$r")" = 1 ] && [ "$n" = 1 ] || fail "the LI key reads RD-R11 other than once in $hv's refused move: $r"
  case $r in *ob-1*|*rd-e1*|*rd-f*) fail "the LI key reads the obligation in $hv's refused move: $r" ;; esac
done
pass "the LI administration's key opens every LI row of a refused move (three LIs), the RD administration's every RD row (three VMs); the LI key reads the RD rows once, withheld"

# --- one VM ---------------------------------------------------------------------------
# decide2 ROLE ONE TWO REQUIREMENT: the migrations of ONE and TWO to hv-lon
# read alike, REQUIREMENT withheld once; their records sealed alike.
decide2() {
  local v
  for v in "$2" "$3"; do
    declare "ans_${v//-/_}=$(say "$1" POST /v1/decisions/migration "{\"vm\":\"$v\",\"hypervisor\":\"hv-lon\"}" | sed "s/\b$v\b/VM/g")"
    declare "rec_${v//-/_}=$(entry "$(jq -er .audit_index "$work/body")")"
  done
  eval "a=\$ans_${2//-/_} b=\$ans_${3//-/_} ra=\$rec_${2//-/_} rb=\$rec_${3//-/_}"
  case $a in "200 "*'"allow":false'*) ;; *) fail "$1's migration of $2 to hv-lon: $a" ;; esac
  withheld_once "$1's migration of $2 to hv-lon" "$4" "$(jq -r '.violations[] | .requirement + " (" + .subject + "): " + .sentence' <<<"${a#200 }")"
  same "$1's migrations of $2 and $3 to hv-lon" "$a" "$b"
  case $ra in "true "*) ;; *) fail "$1's migration of $2: the record is not sealed: $ra" ;; esac
  same "the records of $1's migrations of $2 and $3" "$ra" "$rb"
}
for role in mano operator hypervisor-admin; do
  decide2 $role vm-m vm-n TR103308-6.2-R11
  decide2 $role rd-p rd-q TR103308-5.8-RD-R11
done
decide2 li-admin rd-p rd-q TR103308-5.8-RD-R11
for v in vm-m vm-n rd-p rd-q; do
  declare "k8s_${v//-/_}=$(say mano POST /k8s/filter "{\"Pod\":{\"metadata\":{\"name\":\"p\",\"annotations\":{\"lisec.io/vm\":\"$v\"}}},\"NodeNames\":[\"hv-lon\"]}" | sed "s/\b$v\b/VM/g")"
done
case $k8s_vm_m in *"denied by TR103308-6.2-R11"*) ;; *) fail "mano's filter for vm-m: $k8s_vm_m" ;; esac
same "mano's filters for vm-m and vm-n" "$k8s_vm_m" "$k8s_vm_n"
same "mano's filters for rd-p and rd-q" "$k8s_rd_p" "$k8s_rd_q"
pass "the migrations of a VM two LIs monitor (two obligations name) and of one one LI monitors (one names) read alike to mano, operator and hypervisor-admin (withheld once), records sealed alike; so do mano's k8s filters"

expect 200 li-admin POST /v1/decisions/migration '{"vm":"vm-m","hypervisor":"hv-lon"}'
jq -e '[.violations[] | select(.requirement == "TR103308-6.2-R11") | .sentence] |
  (length == 2) and (map(test("LI li-m[12] ")) | all) and (.[0] != .[1])' "$work/body" >/dev/null ||
  fail "li-admin does not read both R11 rows of vm-m's migration: $(cat "$work/body")"
cli auditor audit read --li-key audit-rd.key >rd.out 2>rd.err || true
r=$(grep -A1 'decision.migration.*vm rd-p' rd.out | grep -o 'reason: .*' | sort -u | head -n1)
for o in ob-1 ob-2; do
  case $r in *"retention obligation $o"*) ;; *) fail "the RD key does not read $o in rd-p's migration record: $r" ;; esac
done
pass "li-admin reads both LIs' R11 rows of vm-m's migration; the RD key both obligations' rows of rd-p's"

stop_clean
echo "li_confid_counts: all passed"
