#!/usr/bin/env bash
# The LI administration's signed commands and package verification against
# the controller's clock (TR 103 308 §4.2): an LI command's expiry, a
# package signer's certificate validity and a vendor CRL's thisUpdate/
# nextUpdate are judged by a clock lisecd has proven, never by a raw wall
# clock (set back, it would replay an expired command or pass an expired
# signer; set forward, refuse valid ones). With [time] source = chrony
# against a real NTS chronyd (chronyd -x, loopback, the machine's clock
# untouched): while it is proven a VM is paired and a vendor CRL loaded;
# chronyd stops (unproven): a pairing statement, an li-disable and an
# li-retire command, a package on-boarding and a newer vendor CRL, each
# valid, are refused with 403 naming TR103308-4.2-TIME, recorded (the LI
# ones sealed: no record anyone else reads names an LI VM) and nothing
# stored changes (the VM still enabled, the other still paired, no
# package, the CRL held not replaced); chronyd back (proven): the same
# statement, commands, package and CRL are accepted.
build=${1:?usage: time_li_pkg.sh BUILD_DIR SRC_DIR}
src=${2:?usage: time_li_pkg.sh BUILD_DIR SRC_DIR}
. "$src/tests/integration/lib/common.sh"
command -v chronyd >/dev/null || [ -x /usr/sbin/chronyd ] || { echo "SKIP: chronyd not installed (Debian chrony)"; exit 77; }
for tool in jq openssl sqlite3 zip unzip; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
cd "$work"
chrony=$src/scripts/test/chrony-start
pki=$work/pki
make_pki "$pki"

# ---- the NTS server and the client lisecd reads -----------------------------
cleanup_hooks+=("'$chrony' stop '$work/ntp-server'" "'$chrony' stop '$work/ntp-nts'")
read -r ntp nts < <("$chrony" server "$work/ntp-server" "$pki/server.crt" "$pki/server.key") ||
  fail "the NTS server did not start"
client() { "$chrony" client "$work/ntp-nts" "$ntp" "$nts" "$pki/ca.crt" nts >/dev/null || fail "chronyd client"; }
client

# ---- the LI administration's keys and the VMs' own -------------------------------
lisec audit li-keygen audit-li.key audit-li.pub >/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out li-admin.key 2>/dev/null
openssl pkey -in li-admin.key -pubout -out li-admin.pub
for k in vm1 vm2; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $k.key 2>/dev/null
  openssl pkey -in $k.key -pubout -out $k.pub
done

# ---- the package signing PKI: the vendor CA an `openssl ca` that makes CRLs ------
. "$src/tests/integration/lib/csar.sh"
mkca vca Vendor
mkca oca Operator
issue vca vendor Vendor
issue oca operator Operator
: >vca/index.txt
echo 01 >vca/crlnumber
printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/vca/index.txt\ncrlnumber = %s/vca/crlnumber\ncertificate = %s/vca/ca.crt\nprivate_key = %s/vca/ca.key\ndefault_md = sha256\ndefault_crl_days = 7\n' \
  "$work" "$work" "$work" "$work" >vca/ca.cnf
gencrl() { openssl ca -config vca/ca.cnf -gencrl -out "$1" "${@:2}" 2>/dev/null || fail "openssl ca -gencrl $*"; }
gencrl crl1.pem -crl_lastupdate "$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)" # number 01
gencrl crl2.pem                                                           # number 02, newer
mkpkg p1.csar vendor 1.0 4000 operator
pass "NTS server and client, LI administration keys, vendor and operator CAs, two vendor CRLs, a signed package"

mkdir -m 700 "$work/run"
start_lisecd "$pki" "[audit]" "li_admin_key = $work/audit-li.pub" "[li]" "admin_pubkey = $work/li-admin.pub" \
  "[pkg]" "vendor_ca = $work/vca/ca.crt" "operator_ca = $work/oca/ca.crt" \
  "[time]" "source = chrony" "chrony_socket = $work/ntp-nts/chronyd.sock" \
  "reply_socket = $work/run/chrony-reply.sock" "poll_ms = 100" "stale_ms = 1000"
proven() { # true|false: /v1/status's clock says so within 60 s
  for _ in $(seq 1 600); do
    [ "$(as operator "$LISECD_URL/v1/status" | jq -r .clock.proven)" = "$1" ] && return 0
    sleep 0.1
  done
  fail "the clock is not proven=$1: $(as operator "$LISECD_URL/v1/status" | jq -c .clock)"
}
# call ROLE METHOD PATH [JSON]: the status printed, the reply in $work/body
call() {
  as "$1" -o "$work/body" -w '%{http_code}' -X "$2" -H 'Content-Type: application/json' \
    ${4:+--data-binary "$4"} "$LISECD_URL$3"
}
expect() { # STATUS ROLE METHOD PATH [JSON]
  local want=$1 got
  shift
  got=$(call "$@")
  [ "$got" = "$want" ] || fail "$1 $2 $3: HTTP $got, want $want: $(cat "$work/body")"
}
# time_refused ROLE METHOD PATH [JSON]: 403 naming the clock's requirement
time_refused() {
  expect 403 "$@"
  grep -q "TR103308-4.2-TIME: .* needs a proven clock, and the controller's clock is unproven" "$work/body" ||
    fail "$1 $2 $3: the refusal does not name the clock: $(cat "$work/body")"
}
state() { as li-admin "$LISECD_URL/v1/li/vms/$1" | jq -r .state; }
crl_numbers() { as operator "$LISECD_URL/v1/packages/vendors/crl" | jq -r '[.crls[].number] | join(",")'; }
crl_json() { printf '{"crl":"%s"}' "$(awk '{printf "%s\\n", $0}' "$1")"; }
pkg_json() { printf '{"id":"%s","csar":"%s"}' "$1" "$(base64 -w0 "$2")" >pkg.json && echo @pkg.json; }
# What lisecd keeps of LI VMs, packages and vendor CRLs.
stored() { sqlite3 "$work/lisec.db" "SELECT kind, id, version, body FROM documents WHERE kind IN ('li-vm', 'pkg', 'pkg-crl') ORDER BY kind, id"; }
counts() { sqlite3 "$work/lisec.db" "SELECT COUNT(*), SUM(sealed) FROM audit_log" | tr '|' ' '; }
# the unsealed records' bytes, one a line (what roles other than li-admin may read)
records() { python3 -c 'import sqlite3, sys
for (d,) in sqlite3.connect(sys.argv[1]).execute("SELECT data FROM audit_log WHERE sealed = 0"):
    print("".join(chr(b) if 32 <= b < 127 else " " for b in d))' "$work/lisec.db"; }
proven true

# ---- proven: the VMs, one paired; a vendor CRL held ---------------------------------
expect 201 mano POST /v1/li/vms "$(jq -n --rawfile k vm1.pub '{vm:"vm-li-1",pubkey:$k}')"
expect 201 mano POST /v1/li/vms "$(jq -n --rawfile k vm2.pub '{vm:"vm-li-2",pubkey:$k}')"
expect 200 hypervisor-admin POST /v1/li/vms/vm-li-1/enable
expect 200 hypervisor-admin POST /v1/li/vms/vm-li-2/enable
lisec li pair-sign --key li-admin.key --vm vm-li-1 --pubkey vm1.pub -o pair1.json 2>/dev/null
lisec li pair-sign --key li-admin.key --vm vm-li-2 --pubkey vm2.pub -o pair2.json 2>/dev/null
lisec li sign-disable --key li-admin.key --vm vm-li-2 --counter 1 --expires +3600 -o disable2.json 2>/dev/null
lisec li sign-retire --key li-admin.key --vm vm-li-1 --counter 1 --expires +3600 -o retire1.json 2>/dev/null
expect 200 li-admin POST /v1/li/vms/vm-li-2/pair "{\"statement\":$(cat pair2.json)}"
[ "$(state vm-li-1)" = enabled ] && [ "$(state vm-li-2)" = paired ] || fail "the VMs: $(state vm-li-1) $(state vm-li-2)"
expect 200 operator PUT /v1/packages/vendors/crl "$(crl_json crl1.pem)"
[ "$(crl_numbers)" = 01 ] || fail "the vendor CRL held: $(crl_numbers)"
pass "clock proven: vm-li-2 paired, vendor CRL 01 held"

# ---- unproven: every one refused naming the clock, nothing stored changed -----------
"$chrony" stop "$work/ntp-nts"
proven false
before=$(stored)
grep -q '^li-vm|vm-li-2|' <<<"$before" && grep -q '^pkg-crl|' <<<"$before" || fail "the stored LI VMs and CRL are not found: $before"
read -r rows sealed < <(counts)
time_refused li-admin POST /v1/li/vms/vm-li-1/pair "{\"statement\":$(cat pair1.json)}"
time_refused li-admin POST /v1/li/vms/vm-li-2/disable-command "{\"command\":$(cat disable2.json)}"
time_refused li-admin POST /v1/li/vms/vm-li-1/retire "{\"command\":$(cat retire1.json)}"
[ "$(state vm-li-1)" = enabled ] && [ "$(state vm-li-2)" = paired ] ||
  fail "an LI VM changed while the clock was unproven: $(state vm-li-1) $(state vm-li-2)"
pass "clock unproven: a pairing statement, an li-disable and an li-retire command refused naming TR103308-4.2-TIME; vm-li-1 still enabled, vm-li-2 still paired"
time_refused operator POST /v1/packages "$(pkg_json p1 p1.csar)"
expect 404 operator GET /v1/packages/p1
time_refused operator PUT /v1/packages/vendors/crl "$(crl_json crl2.pem)"
[ "$(crl_numbers)" = 01 ] || fail "the vendor CRL was replaced while the clock was unproven: $(crl_numbers)"
pass "clock unproven: a package's on-boarding and a newer vendor CRL refused naming TR103308-4.2-TIME; no package stored, CRL 01 still held"
[ "$(stored)" = "$before" ] || fail "what lisecd keeps of LI VMs, packages or CRLs changed while the clock was unproven"
read -r rows2 sealed2 < <(counts)
[ "$sealed2" -ge $((sealed + 3)) ] && [ "$rows2" -ge $((rows + 5)) ] ||
  fail "the refusals are not all recorded (rows $rows -> $rows2, sealed $sealed -> $sealed2)"
[ "$(records | grep -c 'pkg.onboard.*TR103308-4.2-TIME')" -ge 1 ] && [ "$(records | grep -c 'pkg.crl.*TR103308-4.2-TIME')" -ge 1 ] ||
  fail "the package refusals are not in the audit log: $(records | grep 'pkg\.' | tail -3)"
! records | grep -q 'vm-li-' || fail "a record others read names an LI VM: $(records | grep 'vm-li-' | head -3)"
pass "the refusals recorded (the LI ones sealed, none others read names an LI VM), nothing stored changed"

# ---- proven again: the same statement, commands, package and CRL accepted --------------
client
proven true
expect 200 li-admin POST /v1/li/vms/vm-li-1/pair "{\"statement\":$(cat pair1.json)}"
jq -e '.state == "paired"' "$work/body" >/dev/null || fail "vm-li-1 not paired: $(cat "$work/body")"
expect 200 li-admin POST /v1/li/vms/vm-li-2/disable-command "{\"command\":$(cat disable2.json)}"
jq -e '.state == "off" and .last_counter == 1' "$work/body" >/dev/null || fail "vm-li-2 not off: $(cat "$work/body")"
expect 200 li-admin POST /v1/li/vms/vm-li-1/retire "{\"command\":$(cat retire1.json)}"
jq -e '.state == "retired"' "$work/body" >/dev/null || fail "vm-li-1 not retired: $(cat "$work/body")"
pass "clock proven again: the same pairing statement, li-disable and li-retire commands accepted"
expect 201 operator POST /v1/packages "$(pkg_json p1 p1.csar)"
expect 200 operator GET /v1/packages/p1
expect 200 operator PUT /v1/packages/vendors/crl "$(crl_json crl2.pem)"
[ "$(crl_numbers)" = 02 ] || fail "the newer CRL is not held: $(crl_numbers)"
pass "clock proven again: the same package on-boarded and the newer CRL loaded"
stop_clean
