#!/usr/bin/env bash
# lisecd seals a VNF's seed issuance and replay records when lisecd knows it
# as an LI VM, whatever lisec-entropyd's [clients] li says (TR 103 308
# §4.1: LI events visible to the LI administration only). Before, lisecd
# sealed only what the daemon's report flagged: an LI VM missing from the
# daemon's [clients] li was recorded in the clear, named to auditors. Real
# lisecd (with the LI administration's audit key and signing key) and a
# real lisec-entropyd reporting to it, the development PKI. lisecd knows
# vm-paired (an LI function registered with the VM's own key, enabled and
# paired by the LI administration's signed statement) and vm-decl (declared
# sensitivity li in the model) as LI VMs; the daemon lists neither in
# [clients] li, and lists vnf-flag there, which lisecd does not know as an
# LI VM (the flag can only add). Each of vnf-a, vm-paired, vm-decl and
# vnf-flag reseeds once. Then, as the auditor reads the log: vnf-a's
# issuance is in the clear, no clear entry names vm-paired, vm-decl or
# vnf-flag; the LI administration's key opens the issuance of all three
# and an rng.li_mismatch record for each (which side lists it); lisecd's
# log says that clients' LI status disagreed, naming none of them.
build=${1:?build dir}
src=${2:?source dir}
# shellcheck source=lib/common.sh
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/entropyd.sh" # entropyd_up
entropyd="$build/cmd/lisec-entropyd/lisec-entropyd"
[ -x "$entropyd" ] || fail "lisec-entropyd not built"
cd "$work" || fail "cd"

pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" entropyd-1 host entropyd-1 >/dev/null || fail "issue entropyd-1"
vnfs=(vnf-a vm-paired vm-decl vnf-flag)
for n in "${vnfs[@]}"; do lisec pki issue "$pki" "$n" vnf "$n" >/dev/null || fail "issue $n"; done
lisec audit li-keygen li.key li.pub >/dev/null || fail "li-keygen"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out li-admin.key 2>/dev/null || fail "li-admin key"
openssl pkey -in li-admin.key -pubout -out li-admin.pub || fail "li-admin public key"
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li.pub" "[li]" "admin_pubkey = $work/li-admin.pub"

req() { # ROLE METHOD PATH [BODY]: prints the status; the body is in $work/body
  as "$1" -X "$2" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    ${4:+--data-binary "$4"} "$LISECD_URL$3"
}
expect() { # STATUS ROLE METHOD PATH [BODY]
  local want=$1 got
  shift
  got=$(req "$@")
  [ "$got" = "$want" ] || fail "$2 $3 $4: HTTP $got, want $want: $(cat "$work/body")"
}
# vm-paired: registered with its own key, enabled, paired by the LI administration.
"$build/cmd/lisec-event/lisec-event" keygen --key vm-paired.key --pub vm-paired.pub || fail "keygen vm-paired"
expect 201 mano POST /v1/li/vms "$(python3 -c 'import json,sys; print(json.dumps({"vm": "vm-paired", "pubkey": open(sys.argv[1]).read()}))' vm-paired.pub)"
expect 200 hypervisor-admin POST /v1/li/vms/vm-paired/enable
lisec li pair-sign --key li-admin.key --vm vm-paired --pubkey vm-paired.pub --last 0 -o pair.json 2>/dev/null ||
  fail "lisec li pair-sign"
expect 200 li-admin POST /v1/li/vms/vm-paired/pair "{\"statement\":$(cat pair.json)}"
# vm-decl: declared an LI VM in the model.
expect 201 operator POST /v1/model/host '{"id":"host-1","protection":"li"}'
expect 201 operator POST /v1/model/hypervisor '{"id":"hv-1","host":"host-1"}'
expect 201 operator POST /v1/model/vm '{"id":"vm-decl","hypervisor":"hv-1","sensitivity":"li","domain":"li"}'
pass "lisecd knows vm-paired (paired by the LI administration) and vm-decl (declared li) as LI VMs"

port=$(free_port) mport=$(free_port)
cat >"$work/ed.conf" <<CONF
[server]
listen = 127.0.0.1:$port
[tls]
cert = $pki/server.crt
key = $pki/server.key
client_ca = $pki/ca.crt
[clients]
allowed = vnf-a, vm-paired, vm-decl, vnf-flag
li = vnf-flag
[metrics]
listen = 127.0.0.1:$mport
[entropy]
reseed_ms = 50
[source.rdseed]
enabled = false
[report]
url = $LISECD_URL
cert = $pki/entropyd-1.crt
key = $pki/entropyd-1.key
ca = $pki/ca.crt
interval_s = 1
timeout_s = 3
CONF
"$entropyd" -c "$work/ed.conf" 2>>"$work/ed.log" &
entropyd_up ed "$port" "$mport" $!
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$mport/metrics" | grep -q '^lisec_entropyd_serving 1' && break
  sleep 0.1
done
for n in "${vnfs[@]}"; do
  env LISEC_RNG_ENTROPYD="127.0.0.1:$port" LISEC_RNG_CERT="$pki/$n.crt" LISEC_RNG_KEY="$pki/$n.key" \
    LISEC_RNG_CA="$pki/ca.crt" "$build/cmd/lisec/lisec" rng reseed >"$work/reseed.out" 2>&1 ||
    { cat "$work/reseed.out" >&2; fail "$n could not reseed"; }
done

# li_read: the LI administration opens the sealed records.
li_read() { lisec audit read --li-key "$work/li.key" --db "$work/lisec.db" >"$work/li-read.txt" 2>&1 || true; }
all_sealed_issued() {
  li_read
  for n in vm-paired vm-decl vnf-flag; do
    grep -q "rng.issuance  vnf $n  -> ok  \[LI, opened\]" "$work/li-read.txt" || return 1
  done
  grep -q "rng.issuance  vnf vnf-a  -> ok" "$work/li-read.txt"
}
for _ in $(seq 1 100); do all_sealed_issued && break; sleep 0.1; done
all_sealed_issued || { grep -A1 "rng\." "$work/li-read.txt" >&2; fail "the issuance of vm-paired, vm-decl and vnf-flag is not all sealed (or vnf-a's is missing)"; }
pass "the issuance of vm-paired, vm-decl (lisecd's LI VMs) and vnf-flag (the daemon's) opens with the LI key"

# What the auditor reads in the clear.
[ "$(as auditor -o "$work/entries.json" -w '%{http_code}' "$LISECD_URL/v1/audit/entries?from=0&count=10000")" = 200 ] ||
  fail "the auditor could not read the log"
python3 - "$work/entries.json" <<'PY' || fail "clear entries"
import base64, json, sys
e = json.load(open(sys.argv[1]))["entries"]
plain = [base64.b64decode(x["data"]) for x in e if not x["sealed"]]
assert any(b"rng.issuance" in d and b"vnf vnf-a" in d for d in plain), "vnf-a's issuance is not in the clear"
for d in plain:
    if b"rng." in d:
        for n in (b"vm-paired", b"vm-decl", b"vnf-flag"):
            assert n not in d, (n, d)
PY
pass "no clear rng record names vm-paired, vm-decl or vnf-flag; vnf-a's issuance is in the clear"

# The disagreements: sealed, naming the client and the side that lists it.
mismatch() { grep -A1 "rng.li_mismatch  vnf $1  -> failed  \[LI, opened\]" "$work/li-read.txt" | grep -q "$2"; }
mismatch vm-paired "lisecd knows this client as an LI VM, and the daemon's \[clients\] li does not list it" ||
  { grep -A1 rng.li_mismatch "$work/li-read.txt" >&2; fail "no sealed rng.li_mismatch for vm-paired"; }
mismatch vm-decl "lisecd knows this client as an LI VM" || fail "no sealed rng.li_mismatch for vm-decl"
mismatch vnf-flag "the daemon's \[clients\] li lists this client, and lisecd does not know it as an LI VM" ||
  fail "no sealed rng.li_mismatch for vnf-flag"
grep -q "rng.li_mismatch  vnf vnf-a" "$work/li-read.txt" && fail "an rng.li_mismatch for vnf-a, on which both agree"
line=$(grep "TR103308-4.1: entropy service entropyd-1: .* client(s) whose LI status lisecd and the daemon's \[clients\] li disagree on" "$work/lisecd.log" | head -1)
[ -n "$line" ] || { tail -20 "$work/lisecd.log" >&2; fail "lisecd's log does not say that the LI status disagreed"; }
grep -E "vm-paired|vm-decl|vnf-flag" "$work/lisecd.log" | grep -qi "rng\|entropy" &&
  { grep -E "vm-paired|vm-decl|vnf-flag" "$work/lisecd.log" >&2; fail "lisecd's log names a client in an rng line"; }
pass "each disagreement recorded sealed (rng.li_mismatch, which side lists it), logged by lisecd without naming the client"
kill -TERM "$ed_PID"
wait "$ed_PID" || fail "lisec-entropyd exit status"
grep -q Sanitizer "$work/ed.log" "$work/lisecd.log" && fail "sanitizer report"
echo "rng_li_known: all checks passed"
