#!/usr/bin/env bash
# The attested inventory (issue 15 items 1, 4, 5): lisec-agent reads libvirt
# (its test driver over a node XML this script writes, with file disks on
# small images made here) and binds the inventory into its quote; a real
# lisecd with a real swtpm accepts it only inside the quote it appraises.
# Checked without lisec: the inventory's UUIDs, ids, states and interfaces
# against the node XML, its digests against sha256sum of the images, and the
# quote's qualifying data against the binding computed here with sha256sum
# (tpm2_checkquote -q). Refused, recorded, and leaving the stored attestation
# unchanged: an inventory the quote does not bind (tampered after quoting, or
# quoted without one), replayed evidence, an inventory for another host,
# over the domain and byte bounds, a duplicate UUID and an id that fails the
# id rule. A report whose documents the store refuses is refused whole: no
# appraisal entry without its documents. The lifecycle-event path needs a libvirtd (events from another
# process never reach a test:/// connection); the real-libvirtd test covers it.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
pki=$work/pki
agent_bin="$build/cmd/lisec-agent/lisec-agent"
agent() { "$agent_bin" -c "$work/agent-$1.conf" "${@:2}"; }

# ---- the host's libvirt: two domains of the test driver --------------------
head -c 65536 /dev/urandom >li.img
head -c 32768 /dev/urandom >plain.img
head -c 4096 /dev/urandom >cd.iso
li_sha=$(sha256sum li.img | cut -d' ' -f1)
plain_sha=$(sha256sum plain.img | cut -d' ' -f1)
U1=6f1c2a3b-0000-4000-8000-0000000000a1
U2=6f1c2a3b-0000-4000-8000-0000000000a2
cat >node.xml <<XML
<node>
  <network><name>default</name><bridge name='virbr0'/><forward/>
    <ip address='192.168.122.1' netmask='255.255.255.0'/></network>
  <domain type='test'>
    <name>li-vm-1</name><uuid>$U1</uuid><memory>65536</memory><os><type>hvm</type></os>
    <metadata><lisec:vm xmlns:lisec="urn:lisec:vm" id="vm-1" package="p"/></metadata>
    <devices>
      <disk type='file' device='disk'><source file='$work/li.img'/><target dev='vda'/></disk>
      <disk type='file' device='cdrom'><source file='$work/cd.iso'/><target dev='hdc'/></disk>
      <interface type='network'><mac address='52:54:00:AB:CD:01'/><source network='default'/></interface>
    </devices>
  </domain>
  <domain type='test'>
    <name>plain</name><uuid>$U2</uuid><memory>65536</memory><os><type>hvm</type></os>
    <devices>
      <disk type='file' device='disk'><source file='$work/plain.img'/><target dev='vdb'/></disk>
      <interface type='bridge'><mac address='52:54:00:ab:cd:02'/><source bridge='br0'/></interface>
    </devices>
  </domain>
</node>
XML
virsh -c "test://$work/node.xml" list --all | grep 'li-vm-1 *running' >/dev/null || fail "the test driver does not run the node XML"

# ---- host A: a software TPM, a firmware log, its certificate ---------------
make_pki "$pki"
tpm_up A
tpm_use A
cat >agent-A.conf <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
ek = rsa
ak = ecc
pcrs = 0,1,2,3,4,5,6,7,8
[agent]
state_dir = $work/state-A
eventlog = $work/fw-A.bin
poll_ms = 200
interval_s = 300
[libvirt]
uri = test://$work/node.xml
[server]
url = https://localhost:PORT
ca = $pki/ca.crt
cert = $pki/host-a.crt
key = $pki/host-a.key
CONF
evgen --log fw-A.bin --extends fw-A.txt --reference ref.json
tpm_extend fw-A.txt
hostA=$(agent A host-id)
lisec pki issue "$pki" host-a host "$hostA" >/dev/null || fail "pki issue host-a"
other=$(printf 'another host' | sha256sum | cut -d' ' -f1)

# (an LI host's findings are sealed for the LI administration)
lisec audit li-keygen li-admin.key li-admin.pub >/dev/null 2>&1 || fail "li-keygen"
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "interval_s = 300" \
  "inventory_max_domains = 5" "inventory_max_bytes = 4096" "[audit]" "li_admin_key = $work/li-admin.pub"

audit_rows() { # audit_rows REGEX: those entries, for a failure's context
  python3 - "$work/lisec.db" "$1" <<'PY'
import re, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = [re.sub(rb"[^ -~]+", b" | ", d).decode() for (d,) in db.execute("SELECT data FROM audit_log")]
print("\n".join(r for r in rows if re.search(sys.argv[2], r)))
PY
}
show() { as operator "$LISECD_URL/v1/hosts/$hostA/attestation"; }
# The stored attestation's own facts (not the ones computed at reading):
# the EAR names the nonce of the newest appraisal, so any new one shows.
stored() {
  show | jq -S '{nonce: .eat_nonce, iat: .iat, lisec: (.lisec | {last_ok_at, last_appraisal_at, trust, reasons})}'
}

# The intent: host A carries the LI VM vm-1 (the observation is B's model's).
model_put() { # model_put KIND JSON
  local code
  code=$(as operator -o model.out -w '%{http_code}' -H 'Content-Type: application/json' -d "$2" \
    "$LISECD_URL/v1/model/$1")
  [ "$code" = 201 ] || { cat model.out >&2; fail "model: POST $1 -> $code"; }
}
model_put host "{\"id\":\"$hostA\",\"protection\":\"li\"}"
model_put hypervisor "{\"id\":\"hv-a\",\"host\":\"$hostA\"}"
model_put vm '{"id":"vm-1","hypervisor":"hv-a","sensitivity":"li","domain":"li"}'
observed() { as operator "$LISECD_URL/v1/model/vm/vm-1" | jq -c .observed; }
# quote_ref DIR: the short reference lisecd gives the quote (first 8 bytes of its SHA-256).
quote_ref() { sha256sum "$1/quote.msg" | cut -c1-16; }

# ---- the agent on its own: the inventory rides in the quote ----------------
sed -i "s|^url = .*|url = $LISECD_URL|" agent-A.conf
"$agent_bin" -c "$work/agent-A.conf" run >>agent-A.log 2>&1 &
AGENT_PID=$!
cleanup_hooks+=("kill $AGENT_PID 2>/dev/null || true")
# The record is durable before lisecd applies the report to the model; the
# agent's line comes with lisecd's answer, after both.
for _ in $(seq 1 150); do
  [ "$(audit_count 'attest.appraise \| ok .*inventory sha256:[0-9a-f]{64} bound to the quote')" -ge 1 ] &&
    grep -q 'lisec-agent: appraised:' agent-A.log && break
  sleep 0.1
done
[ "$(audit_count 'attest.appraise \| ok .*inventory sha256:')" -ge 1 ] || { cat agent-A.log >&2; fail "no appraisal with an inventory"; }
inv=state-A/evidence/inventory.json
d=$(sha256sum "$inv" | cut -d' ' -f1)
[ "$(audit_count "attest.appraise \\| ok .*inventory sha256:$d bound to the quote")" -ge 1 ] ||
  fail "the audit does not name the digest of the inventory the agent sent"
grep -q 'inventory observed' agent-A.log ||
  { cat agent-A.log >&2; audit_rows 'observ' >&2; fail "lisecd did not observe the inventory"; }
observed | jq -e --arg h "$hostA" --arg s "$li_sha" --arg q "$(quote_ref state-A/evidence)" \
  '.host == $h and .state == "running" and .image == $s and .evidence == $q' >/dev/null ||
  { observed >&2; fail "GET /v1/model/vm/vm-1 does not show what host A proved"; }
pass "agent run: the inventory (sha256 ${d:0:16}..) is bound to a good quote; the model shows vm-1 observed running on host A with its image, by that quote"

# What libvirt holds, checked against the node XML and sha256sum.
jq -e --arg h "$hostA" '.version == 1 and .host == $h and (.taken_at | type) == "number" and (.domains | length) == 2' "$inv" >/dev/null ||
  { cat "$inv"; fail "inventory envelope"; }
jq -e --arg u "$U1" --arg s "$li_sha" '.domains[] | select(.uuid == $u) |
  .vm == "vm-1" and .package == "p" and .state == "running" and .images == [{disk:"vda", sha256:$s}] and
  (.interfaces | length) == 1 and .interfaces[0].mac == "52:54:00:ab:cd:01" and .interfaces[0].type == "network" and
  .interfaces[0].source == "default"' "$inv" >/dev/null || { cat "$inv"; fail "the LI VM's entry"; }
jq -e --arg u "$U2" --arg s "$plain_sha" '.domains[] | select(.uuid == $u) |
  .vm == null and .package == null and .images == [{disk:"vdb", sha256:$s}] and
  .interfaces[0].type == "bridge" and .interfaces[0].source == "br0"' "$inv" >/dev/null ||
  { cat "$inv"; fail "the plain domain's entry"; }
# The keys in the agreed order, compact (what both sides hash).
head -c 40 "$inv" | grep -q '^{"version":1,"host":"' || fail "inventory key order"
pass "inventory: UUIDs, lisec id and package (null without), state, vda's base image = sha256sum (the cdrom left out), interfaces"

kill -TERM "$AGENT_PID"
for _ in $(seq 1 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
wait "$AGENT_PID" || fail "the agent did not stop cleanly"

# ---- hand-made evidence through the agent's offline commands ---------------
post() { # post FILE: the reply body, the HTTP status on the last line
  curl -sS --cacert "$pki/ca.crt" --cert "$pki/host-a.crt" --key "$pki/host-a.key" \
    -H 'Content-Type: application/json' --data-binary "@$1" -w '\n%{http_code}' "$LISECD_URL/v1/attest/evidence"
}
nonce() {
  curl -sS --cacert "$pki/ca.crt" --cert "$pki/host-a.crt" --key "$pki/host-a.key" \
    -H 'Content-Type: application/json' -d "{\"host\":\"$hostA\"}" "$LISECD_URL/v1/attest/nonce" | jq -r .nonce
}
# evidence NONCE QUOTE_DIR INVENTORY_FILE OUT: the JSON the agent posts.
evidence() {
  jq -n --arg host "$hostA" --arg nonce "$1" --arg q "$(base64 -w0 "$2/quote.msg")" \
    --arg s "$(base64 -w0 "$2/quote.sig")" --arg p "$(base64 -w0 "$2/quote.pcrs")" \
    --arg l "$(base64 -w0 "$2/eventlog.bin")" --rawfile inv "$3" \
    '{host:$host, nonce:$nonce, quote:$q, signature:$s, pcrs:$p, eventlog:$l, inventory:$inv}' >"$4"
}
# binding NONCE FILE: SHA-256("lisec-inventory-v1" || nonce || SHA-256(file)), by coreutils.
binding() {
  { printf 'lisec-inventory-v1'; printf '%s%s' "$1" "$(sha256sum "$2" | cut -d' ' -f1)" | xxd -r -p; } |
    sha256sum | cut -d' ' -f1
}
# refused FILE STATUS REGEX AUDIT-REGEX: posted, refused with STATUS naming
# REGEX, recorded, and the stored attestation unchanged.
refused() {
  local before_state before_n out
  before_state=$(stored)
  before_n=$(audit_count "$4")
  out=$(post "$1")
  [ "$(echo "$out" | tail -n1)" = "$2" ] || { echo "$out" >&2; fail "$1: expected HTTP $2"; }
  echo "$out" | sed '$d' | grep -Eq -- "$3" || { echo "$out" >&2; fail "$1: the refusal does not say /$3/"; }
  [ "$(audit_count "$4")" -gt "$before_n" ] || fail "$1: the refusal is not recorded (/$4/)"
  echo "$before_state" | jq -e '.nonce != null' >/dev/null || fail "the stored attestation has no nonce to compare"
  [ "$(stored)" = "$before_state" ] || fail "$1: the stored attestation changed"
  observed | jq -e --arg q "$(quote_ref q1)" '.evidence == $q' >/dev/null || fail "$1: the observation changed"
}

agent A inventory --out inv.json || fail "lisec-agent inventory"
diff <(jq -S 'del(.taken_at)' inv.json) <(jq -S 'del(.taken_at)' "$inv") >&2 ||
  fail "the inventory command and run report different domains"
n=$(nonce)
agent A quote --nonce "$n" --inventory inv.json --out q1 2>/dev/null || fail "agent quote --inventory"
# tpm2-tools checks the AK's signature and the qualifying data: our binding.
tpm2_checkquote -u state-A/enrol/ak.pem -m q1/quote.msg -s q1/quote.sig -f q1/quote.pcrs -g sha256 \
  -q "$(binding "$n" inv.json)" >/dev/null 2>&1 || fail "tpm2_checkquote: the quote does not carry the binding"
tpm2_checkquote -u state-A/enrol/ak.pem -m q1/quote.msg -s q1/quote.sig -f q1/quote.pcrs -g sha256 \
  -q "$n" >/dev/null 2>&1 && fail "the quote carries the bare nonce"
pass "agent quote --inventory: extraData = SHA-256(tag || nonce || SHA-256(inventory)) (tpm2_checkquote, sha256sum)"
evidence "$n" q1 inv.json e1.json
out=$(post e1.json)
[ "$(echo "$out" | tail -n1)" = 200 ] || { echo "$out" >&2; fail "good hand-made evidence"; }
echo "$out" | sed '$d' | jq -e --arg d "$(sha256sum inv.json | cut -d' ' -f1)" \
  '.trust == "trusted" and .inventory.sha256 == $d and .inventory.domains == 2 and .inventory.observed' \
  >/dev/null || { echo "$out" >&2; fail "the reply does not name the observed inventory"; }
observed | jq -e --arg q "$(quote_ref q1)" '.evidence == $q' >/dev/null || fail "the model did not take the new quote's inventory"
pass "hand-made evidence with its inventory: trusted, inventory observed"

# Tampered after quoting: another image digest, same quote.
jq -c --arg u "$U1" '(.domains[] | select(.uuid == $u) | .images[0].sha256) |= ("0" * 64)' inv.json |
  tr -d '\n' >tampered.json
n=$(nonce)
agent A quote --nonce "$n" --inventory inv.json --out q2 2>/dev/null || fail "quote"
evidence "$n" q2 tampered.json e2.json
refused e2.json 403 'qualifying data is not' 'attest.inventory \| denied .*TR103308-T.1.4'
pass "an inventory changed after the quote: refused (403), recorded, nothing stored changed"

# A quote over the bare nonce carries no inventory.
n=$(nonce)
agent A quote --nonce "$n" --out q3 2>/dev/null || fail "quote"
evidence "$n" q3 inv.json e3.json
refused e3.json 403 'qualifying data is not' 'attest.inventory \| denied'
pass "an inventory beside a quote that does not bind it: refused"

# Replayed: the good evidence again.
refused e1.json 403 'nonce already used: replayed evidence' 'attest.inventory \| denied .*replayed'
pass "replayed evidence with its inventory: refused by the nonce check, recorded, nothing stored"

# hand NAME JQ-FILTER STATUS REGEX: an inventory changed by the filter, quoted
# properly (so only the inventory's own check can refuse it).
hand() {
  jq -c "$2" inv.json | tr -d '\n' >"$1.json"
  local n
  n=$(nonce)
  agent A quote --nonce "$n" --inventory "$1.json" --out "q-$1" 2>/dev/null || fail "quote $1"
  evidence "$n" "q-$1" "$1.json" "e-$1.json"
  refused "e-$1.json" "$3" "$4" 'attest.inventory \| denied'
}
hand other ".host = \"$other\"" 403 'another host'
pass "an inventory naming another host than the certificate's: refused"
hand many '.domains = [range(6) as $i | .domains[1] | .uuid = ("6f1c2a3b-0000-4000-8000-00000000010" + ($i | tostring))]' \
  413 'more than 5 domains'
hand big '.domains = [range(5) as $i | .domains[1] | .uuid = ("6f1c2a3b-0000-4000-8000-00000000020" + ($i | tostring)) |
  .interfaces = [range(4) | {mac:"52:54:00:00:00:01", type:"bridge", source:("b" * 200), target:null}]]' \
  413 'bytes, more than the 4096'
pass "over [attest] inventory_max_domains and inventory_max_bytes: refused (413)"
hand dup '.domains[1].uuid = .domains[0].uuid' 400 'reported twice'
hand badid ".domains |= map(if .uuid == \"$U1\" then .vm = \"vm 1\" else . end)" 400 'not a valid id|lisec VM id'
hand extra '.domains[0].name = "li-vm-1"' 400 'name'
pass "duplicate UUID, an id failing the id rule, an unknown field: refused (400)"
[ "$(show | jq -r .lisec.trust)" = trusted ] || fail "a refused inventory changed the host's trust"

# ---- a report's audit entry and documents: one transaction ------------------
# The store refuses every document write (as a full disk would, seen from
# SQLite): a good report is refused, its refusal recorded, and neither its
# appraisal entry nor its host or observation document lands; once the
# store takes writes again the next report lands whole.
n=$(nonce)
agent A quote --nonce "$n" --inventory inv.json --out q9 2>/dev/null || fail "quote"
evidence "$n" q9 inv.json e9.json
before_state=$(stored) before_obs=$(observed)
before_ok=$(audit_count 'attest.appraise \| ok') before_refused=$(audit_count 'attest.appraise \| refused')
sqlite3 "$work/lisec.db" "CREATE TRIGGER fail_ins BEFORE INSERT ON documents BEGIN SELECT RAISE(ABORT, 'disk full'); END;
  CREATE TRIGGER fail_upd BEFORE UPDATE ON documents BEGIN SELECT RAISE(ABORT, 'disk full'); END;" ||
  fail "sqlite3 trigger"
out=$(post e9.json)
sqlite3 "$work/lisec.db" "DROP TRIGGER fail_ins; DROP TRIGGER fail_upd;" || fail "sqlite3 drop trigger"
[ "$(echo "$out" | tail -n1)" = 503 ] || { echo "$out" >&2; fail "a report whose documents cannot be stored: not refused"; }
echo "$out" | sed '$d' | grep -q 'could not be made durable; action refused (TR103308-5.5)' ||
  { echo "$out" >&2; fail "the refusal does not name TR103308-5.5"; }
[ "$(audit_count 'attest.appraise \| ok')" = "$before_ok" ] ||
  fail "the appraisal's entry landed without its documents: $(audit_rows 'attest.appraise \| ok' | tail -1)"
[ "$(audit_count 'attest.appraise \| refused')" -gt "$before_refused" ] || fail "the refusal is not recorded"
[ "$(stored)" = "$before_state" ] || fail "the host's document changed although the report was refused"
[ "$(observed)" = "$before_obs" ] || fail "the observation changed although the report was refused"
n=$(nonce)
agent A quote --nonce "$n" --inventory inv.json --out q10 2>/dev/null || fail "quote"
evidence "$n" q10 inv.json e10.json
[ "$(post e10.json | tail -n1)" = 200 ] || fail "a report after the store recovered"
[ "$(audit_count 'attest.appraise \| ok')" = $((before_ok + 1)) ] || fail "the recovered report's entry is missing"
observed | jq -e --arg q "$(quote_ref q10)" '.evidence == $q' >/dev/null || fail "the recovered report's observation is missing"
pass "a report whose documents the store refuses: refused (503, TR103308-5.5) and recorded, no appraisal entry, host and observation documents unchanged; the next one lands whole"

# ---- run-time re-hash (item 4) ----------------------------------------------
# Both images change in place with their size and mtime kept (same inode):
# the plain domain's digest is reused from the agent's cache (keyed by dev,
# inode, size, mtime), the running LI VM's image is hashed again when its
# rehash_s (1 s here, +/- 25 %) is due, and the model sees the new digest.
sed -i 's/^interval_s = .*/interval_s = 1/; s|^uri = .*|&\nrehash_s = 1|' agent-A.conf
"$agent_bin" -c "$work/agent-A.conf" run >>agent-A2.log 2>&1 &
AGENT_PID=$!
cleanup_hooks+=("kill $AGENT_PID 2>/dev/null || true")
# First a report of the images as they are (the agent keeps their digests).
for _ in $(seq 1 150); do
  observed | jq -e --arg q "$(quote_ref q10)" '.evidence != $q' >/dev/null 2>&1 && break
  sleep 0.1
done
observed | jq -e --arg q "$(quote_ref q10)" '.evidence != $q' >/dev/null || fail "the agent did not report again"
for f in li.img plain.img; do
  cp -p "$f" "$f.ref"
  printf 'changed at run time' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
  touch -r "$f.ref" "$f"
done
li_new=$(sha256sum li.img | cut -d' ' -f1)
[ "$li_new" != "$li_sha" ] || fail "the image did not change"
for _ in $(seq 1 150); do
  observed | jq -e --arg s "$li_new" '.image == $s' >/dev/null 2>&1 && break
  sleep 0.1
done
observed | jq -e --arg s "$li_new" '.image == $s' >/dev/null ||
  { observed >&2; tail -20 agent-A2.log >&2; fail "the LI VM's changed image was never hashed again"; }
jq -e --arg u "$U1" --arg s "$li_new" '.domains[] | select(.uuid == $u) | .images[0].sha256 == $s' "$inv" >/dev/null ||
  fail "the agent's latest inventory lacks the LI VM's new digest"
jq -e --arg u "$U2" --arg s "$plain_sha" '.domains[] | select(.uuid == $u) | .images[0].sha256 == $s' "$inv" >/dev/null ||
  fail "the plain domain's digest was not reused from the cache (same dev, inode, size, mtime)"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "the agent did not stop cleanly"
pass "run-time re-hash: the running LI VM's image hashed again after rehash_s (model sees the change); another domain's kept digest reused while (dev, inode, size, mtime) hold"

# lisecd stops cleanly, and (in the sanitizer build) without a report.
stop_lisecd
! grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:' "$work/lisecd.log" agent-A.log agent-A2.log ||
  { grep -A20 'Sanitizer\|runtime error:' "$work/lisecd.log" agent-A*.log >&2; fail "a sanitizer report"; }

echo "inventory: all passed"
