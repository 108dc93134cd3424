#!/usr/bin/env bash
# examples/libvirt/hooks/qemu called exactly as libvirtd calls it (argv
# `DOMAIN migrate begin -` / `DOMAIN prepare begin -`, the domain XML on
# stdin, XML made by libvirt's own test driver with the lisec metadata set by
# virsh) against a real lisecd holding the Helsinki/London example, with the
# host role's client certificate: Helsinki accepted, London refused with the
# requirement on stderr, and every way of not getting an answer refused
# (fail closed).
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/model.sh"
. "$src/tests/integration/lib/pki.sh"
pki=$work/pki
make_pki "$pki"
hook=$src/examples/libvirt/hooks/qemu
command -v virsh >/dev/null || fail "virsh is not installed (libvirt-clients)"
make_li_admin_key "$work/li"
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li.pub" "[model]" "allow_declared_trust = true"

split_topology "$src/examples/helsinki-london.json" "$work/ents"
put_topology "$work/ents"

# The domain XML as libvirt writes it: the test driver's domain "test", with
# the lisec VM id in its metadata (and once without).
virsh -q -c test:///default "metadata test urn:lisec:vm --key lisec --set '<vm id=\"vm-target\"/>' --live; dumpxml test" >"$work/dom.xml"
grep -q 'urn:lisec:vm' "$work/dom.xml" || fail "virsh did not set the metadata"
virsh -q -c test:///default dumpxml test >"$work/plain.xml"
# libvirtd names the domain to the hook as its XML does
sed 's|<name>test</name>|<name>vm-target</name>|' "$work/plain.xml" >"$work/plain-named.xml"

# The hook reads the VM's id with lisec-agent (vm-id) before anything else.
export LISEC_HOOK_CONF=$work/no-such.conf LISEC_SERVER=$LISECD_URL LISEC_CERT=$pki/host.crt \
  LISEC_KEY=$pki/host.key LISEC_CA=$pki/ca.crt LISEC_AGENT=$build/cmd/lisec-agent/lisec-agent
# run_hook XML HYPERVISOR ARGS...: the hook's exit code; stderr in $work/err.
run_hook() {
  local xml=$1 hv=$2
  shift 2
  set +e
  LISEC_HYPERVISOR=$hv "$hook" "$@" <"$xml" 2>"$work/err"
  local rc=$?
  set -e
  return $rc
}

before=$(sqlite3 "$work/lisec.db" "SELECT COUNT(*) FROM audit_log")
run_hook "$work/dom.xml" hv-hel-1 test migrate begin - || fail "Helsinki refused: $(cat "$work/err")"
! run_hook "$work/dom.xml" hv-lon-1 test migrate begin - || fail "London accepted"
grep -q 'denied by lisec' "$work/err" && grep -q 'TR103308-6.2-R11' "$work/err" || fail "London: stderr lacks the reason: $(cat "$work/err")"
grep -q 'li-fi-1' "$work/err" && fail "the host role sees LI details: $(cat "$work/err")"
after=$(sqlite3 "$work/lisec.db" "SELECT COUNT(*) FROM audit_log")
[ "$after" -ge $((before + 2)) ] || fail "the hook's questions are not in the audit log"
pass "migrate begin: Helsinki accepted, London refused (exit 1, TR103308-6.2-R11 on stderr), both recorded"

LISEC_HOST_ID=lon-1 run_hook "$work/dom.xml" "" test migrate begin - && fail "London (by host id) accepted"
grep -q 'TR103308-6.2-R11' "$work/err" || fail "by host id: $(cat "$work/err")"
run_hook "$work/plain-named.xml" hv-hel-1 vm-target migrate begin - || fail "by domain name: $(cat "$work/err")"
! run_hook "$work/plain.xml" hv-hel-1 test migrate begin - || fail "an unknown VM was accepted"
grep -q 'HTTP 404' "$work/err" || fail "unknown VM: $(cat "$work/err")"
pass "the host id instead of the hypervisor id, the domain name without metadata; a VM lisec does not know is refused"

# The VM is the one lisec's own reader of the domain XML names (the agent,
# the inventory): the element in namespace urn:lisec:vm in <metadata>. An
# element of another namespace before it, whose attribute merely holds the
# text urn:lisec:vm and an id lisec allows here, does not make the hook ask
# about that other VM: vm-target may move to hv-hel-1, vm-li runs there
# already (TR103308-6.2-MOVE1, a refusal at migrate begin).
virsh -q -c test:///default "metadata test urn:example:note --key n --set '<note ref=\"urn:lisec:vm\" id=\"vm-target\"/>' --live; metadata test urn:lisec:vm --key lisec --set '<vm id=\"vm-li\"/>' --live; dumpxml test" >"$work/decoy.xml"
grep -q 'ref="urn:lisec:vm" id="vm-target"' "$work/decoy.xml" || fail "virsh did not keep the decoy element: $(cat "$work/decoy.xml")"
! run_hook "$work/decoy.xml" hv-hel-1 test migrate begin - ||
  fail "the hook asked about the decoy's vm-target, not the domain's VM vm-li: the migration to hv-hel-1 was accepted"
grep -q 'TR103308-6.2-MOVE1' "$work/err" && grep -q 'vm-li' "$work/err" || fail "decoy: $(cat "$work/err")"
pass "the VM asked about is the one in the urn:lisec:vm element, not an id beside the namespace's name in another element"

# A start also has lisec-agent check the image (pkg_agent.sh tests that
# part); vm-target names no package, so there is no image to hold it to,
# and it is asked with the certificate of the host it is recorded on.
# The test driver's disk file is not on this machine: a copy of the XML
# points at one that is (an image that cannot be read refuses the start).
lisec pki issue "$pki" hel-2 host hel-2 >/dev/null
head -c 4096 /dev/zero >"$work/disk.img"
sed "s|/guest/diskimage1|$work/disk.img|" "$work/dom.xml" >"$work/start.xml"
LISEC_AGENT=$build/cmd/lisec-agent/lisec-agent LISEC_CERT=$pki/hel-2.crt LISEC_KEY=$pki/hel-2.key \
  run_hook "$work/start.xml" hv-hel-2 test prepare begin - || fail "starting where it is recorded refused: $(cat "$work/err")"
LISEC_AGENT=$build/cmd/lisec-agent/lisec-agent LISEC_CERT=$pki/hel-2.crt LISEC_KEY=$pki/hel-2.key \
  run_hook "$work/dom.xml" hv-hel-2 test prepare begin - && fail "a start with a disk that cannot be read was let through"
grep -q 'could not be checked' "$work/err" || fail "unreadable disk: $(cat "$work/err")"
LISEC_AGENT=$build/cmd/lisec-agent/lisec-agent run_hook "$work/start.xml" hv-hel-2 test prepare begin - &&
  fail "a start was let through by a host the VM is not recorded on"
grep -q 'could not be checked\|not recorded on host' "$work/err" || fail "start by another host: $(cat "$work/err")"
! run_hook "$work/dom.xml" hv-hel-2 test migrate begin - || fail "a migration onto its own hypervisor accepted"
grep -q 'TR103308-6.2-MOVE1' "$work/err" || fail "MOVE1: $(cat "$work/err")"
! run_hook "$work/dom.xml" hv-lon-1 test prepare begin - || fail "prepare begin in London accepted"
run_hook /dev/null hv-lon-1 test started begin - || fail "an operation lisec is not asked about was refused"
run_hook /dev/null hv-lon-1 test release end - || fail "release end refused"
pass "prepare begin: a start where the VM is recorded is accepted (by its host's certificate), London refused; other operations pass untouched"

# Fail closed: no answer, a wrong answer, a missing setting, a bad id.
LISEC_CERT=$pki/tenant-example.crt LISEC_KEY=$pki/tenant-example.key run_hook "$work/dom.xml" hv-hel-1 test migrate begin - &&
  fail "a certificate without a deciding role was accepted"
grep -q 'HTTP 403' "$work/err" || fail "403: $(cat "$work/err")"
LISEC_CA=$pki/operator.crt run_hook "$work/dom.xml" hv-hel-1 test migrate begin - && fail "an unverified lisecd was believed"
grep -q 'cannot be asked' "$work/err" || fail "bad CA: $(cat "$work/err")"
LISEC_CERT= run_hook "$work/dom.xml" hv-hel-1 test migrate begin - && fail "no certificate configured, accepted"
grep -q 'LISEC_CERT is not configured' "$work/err" || fail "missing setting: $(cat "$work/err")"
run_hook "$work/dom.xml" 'hv"x' test migrate begin - && fail "a hypervisor id with a quote was accepted"
LISEC_AGENT=$work/no-such-agent run_hook "$work/dom.xml" hv-hel-1 test migrate begin - &&
  fail "a migration was accepted without lisec-agent to read the VM's id"
grep -q 'cannot be read from the domain XML (fail closed)' "$work/err" || fail "no agent: $(cat "$work/err")"
sed 's/id="vm-target"/id="vm x"/' "$work/dom.xml" >"$work/bad.xml"
run_hook "$work/bad.xml" hv-hel-1 test migrate begin - && fail "a VM id with a space was accepted"
echo 'LISEC_SERVER=https://evil.example' >"$work/open.conf"
chmod 0666 "$work/open.conf"
LISEC_HOOK_CONF=$work/open.conf run_hook "$work/dom.xml" hv-hel-1 test migrate begin - && fail "a world-writable config was sourced"
grep -q 'not writable by group or others' "$work/err" || fail "open config: $(cat "$work/err")"
# A root-owned 0600 file in a directory another user owns: that user could
# replace it between the check and the source.
mkdir -m 0755 "$work/foreign" && echo "LISEC_TIMEOUT=5" >"$work/foreign/hook.conf" && chmod 0600 "$work/foreign/hook.conf"
if [ "$(id -u)" = 0 ] && chown nobody "$work/foreign"; then
  LISEC_HOOK_CONF=$work/foreign/hook.conf run_hook "$work/dom.xml" hv-hel-1 test migrate begin - &&
    fail "a config in a directory another user owns was sourced"
  grep -q 'every directory above it must be owned by root' "$work/err" || fail "foreign dir: $(cat "$work/err")"
  chown root "$work/foreign"
  LISEC_HOOK_CONF=$work/foreign/hook.conf run_hook "$work/dom.xml" hv-hel-1 test migrate begin - || true
  grep -q 'must be owned by root' "$work/err" && fail "a root-owned config in root's directories was refused"
fi
# A stand-in lisecd (tests/integration/lib/standin_https.py) with a
# certificate of another CA, answering 200 {"allow":true} to every question
# or never answering: the hook must believe only LISEC_CA, and wait no longer
# than a bounded time.
make_pki_openssl "$work/rogue"
python3 "$src/tests/integration/lib/standin_https.py" "$work/rogue" "$work/standin" &
standin=$!
cleanup_hooks+=("kill $standin")
for _ in $(seq 100); do [ -s "$work/standin.port" ] && break; sleep 0.1; done
[ -s "$work/standin.port" ] || fail "the stand-in server did not start"
rogue_url=https://localhost:$(cat "$work/standin.port")
# curl given --cacert still trusts its built-in CA directory
# (/etc/ssl/certs on Debian): a certificate from any CA of the system's
# store passed. The rogue CA is put in that directory, in a mount
# namespace of this test only, as a public CA's certificate would be.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  mkdir "$work/certs" && cp "$work/rogue/ca.crt" "$work/certs/rogue.pem" &&
    ln -s rogue.pem "$work/certs/$(openssl x509 -hash -noout -in "$work/rogue/ca.crt").0"
  set +e
  LISEC_SERVER=$rogue_url/allow LISEC_HYPERVISOR=hv-lon-1 unshare -m bash -c \
    'mount --bind "$1" /etc/ssl/certs && exec "$2" test migrate begin -' hook "$work/certs" "$hook" \
    <"$work/dom.xml" 2>"$work/err"
  rc=$?
  set -e
  [ "$rc" = 1 ] || fail "a server certified by a CA of the system's store, not LISEC_CA, was believed (exit $rc): $(cat "$work/err")"
  grep -q 'cannot be asked (fail closed)' "$work/err" || fail "system CA: $(cat "$work/err")"
  pass "a lisecd certified by a CA in the system's store but not LISEC_CA is not believed"
else
  echo "skipped: a CA in the system's store (needs root and a mount namespace)"
fi
# LISEC_TIMEOUT bounds the wait: a value that is not a bounded number of
# seconds (curl reads --max-time 0 as no limit) is refused, and a lisecd
# that does not answer is given up on.
for bad in 0 -1 abc 1e9 3601; do
  LISEC_TIMEOUT=$bad LISEC_HYPERVISOR=hv-lon-1 LISEC_SERVER=$rogue_url/hang LISEC_CA=$work/rogue/ca.crt \
    timeout 20 "$hook" test migrate begin - <"$work/dom.xml" 2>"$work/err" && fail "LISEC_TIMEOUT=$bad: accepted"
  grep -q 'LISEC_TIMEOUT' "$work/err" || fail "LISEC_TIMEOUT=$bad: not refused for it: $(cat "$work/err")"
done
t0=$(date +%s)
LISEC_TIMEOUT=1 LISEC_HYPERVISOR=hv-lon-1 LISEC_SERVER=$rogue_url/hang LISEC_CA=$work/rogue/ca.crt \
  timeout 20 "$hook" test migrate begin - <"$work/dom.xml" 2>"$work/err" && fail "a lisecd that does not answer: accepted"
grep -q 'cannot be asked (fail closed)' "$work/err" || fail "no answer: $(cat "$work/err")"
[ $(($(date +%s) - t0)) -le 5 ] || fail "the hook waited $(($(date +%s) - t0)) s with LISEC_TIMEOUT=1"
pass "LISEC_TIMEOUT must be a number of seconds in (0, 3600]; a lisecd that does not answer is refused after it"

stop_lisecd
run_hook "$work/dom.xml" hv-hel-1 test migrate begin - && fail "accepted while lisecd is down"
grep -q 'cannot be asked (fail closed)' "$work/err" || fail "lisecd down: $(cat "$work/err")"
pass "refused (fail closed) when lisecd is down, unverified or refuses the role, a setting is missing, an id is malformed or cannot be read, or the config is writable by others"
