#!/usr/bin/env bash
# Rotating lisecd's TLS material with SIGHUP (issue 25 item 9): lisecd starts
# with a CRL of its client CA (one that revokes nothing), and a bad CRL at
# start stops it (exit 2 naming [tls] crl). A keep-alive connection opened
# before the reload carries a second request afterwards on the same socket,
# still with the old server certificate, while new connections get the new
# one (serials read by the clients, against certificates made here with
# openssl); a client revoked by the new CRL is refused and logged, one not
# revoked is served. Five bad reloads (a missing key file, a key of another
# certificate, a CRL signed by a CA lisecd does not trust, an expired server
# certificate, a CRL whose nextUpdate passed) are each refused with the
# reason in the log, and new connections still get the last good
# certificate. The front read none of this itself: its sandbox refuses to
# open the key file (the test build's probe), the parent may read it; and
# as root, a scan of their memory finds the new key in the front and no
# key in the parent that read and sent it.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/pki.sh"

pki=$work/pki
make_pki "$pki"
new=$work/new
mkdir -p "$new"

# A minimal `openssl ca` setup over the test CA: revocations and CRLs.
ca_conf() { # DIR CA_CRT CA_KEY
  mkdir -p "$1/newcerts"
  : >"$1/index.txt"
  echo 01 >"$1/crlnumber"
  echo "7A$(openssl rand -hex 7)" >"$1/serial"
  cat >"$1/ca.cnf" <<CNF
[ca]
default_ca = lisec_test
[lisec_test]
database = $1/index.txt
crlnumber = $1/crlnumber
serial = $1/serial
new_certs_dir = $1/newcerts
certificate = $2
private_key = $3
default_md = sha256
default_crl_days = 1
policy = any
unique_subject = no
[any]
commonName = supplied
CNF
}
ca_conf "$work/ca" "$pki/ca.crt" "$pki/ca.key"
gencrl() { # OUT [extra openssl ca options]
  local out=$1
  shift
  openssl ca -batch -config "$work/ca/ca.cnf" -gencrl -out "$out" "$@" 2>"$work/openssl.err" ||
    { cat "$work/openssl.err" >&2; fail "openssl ca -gencrl"; }
}
gencrl "$pki/crl.pem"

serial_of() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=0*//'; }
# served_serial [ROLE]: the serial of the certificate a new connection gets.
served_serial() {
  local role=${1:-operator}
  openssl s_client -connect "127.0.0.1:$LISECD_PORT" -servername localhost -CAfile "$pki/ca.crt" \
    -cert "$pki/$role.crt" -key "$pki/$role.key" </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=0*//'
}
# wait_log PATTERN COUNT: until the log has COUNT lines matching PATTERN (60 s at most).
wait_log() {
  for _ in $(seq 1 600); do
    [ "$(grep -c -- "$1" "$work/lisecd.log" || true)" -ge "$2" ] && return 0
    kill -0 "$LISECD_PID" 2>/dev/null || { cat "$work/lisecd.log" >&2; fail "lisecd exited"; }
    sleep 0.1
  done
  cat "$work/lisecd.log" >&2
  fail "no $2 log lines matching '$1' within 60 s"
}
status_as() { as "$1" -o /dev/null -w '%{http_code}' "$LISECD_URL/healthz" 2>/dev/null || true; }

# --- a CRL that does not load stops the start, naming [tls] crl
printf -- '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n' >"$work/garbage-crl.pem"
port=$(free_port)
cat >"$work/bad.conf" <<CONF
[server]
listen = 127.0.0.1:$port
[tls]
cert = $pki/server.crt
key = $pki/server.key
client_ca = $pki/ca.crt
crl = $work/garbage-crl.pem
[store]
url = sqlite:$work/bad.db
[audit]
development_key_file = $work/bad-audit.pem
allow_development_key = true
CONF
rc=0
"$build/cmd/lisecd/lisecd" -c "$work/bad.conf" 2>"$work/bad.log" || rc=$?
[ "$rc" -eq 2 ] && grep -q '\[tls\] crl' "$work/bad.log" ||
  { cat "$work/bad.log" >&2; fail "a malformed [tls] crl: exit $rc, expected 2 naming [tls] crl"; }
pass "a CRL that does not load stops lisecd at start (exit 2, naming [tls] crl)"

# --- start with a CRL that revokes nothing; the front cannot open the key
hooks=false
grep -q '^LISEC_TEST_HOOKS:BOOL=ON' "$build/CMakeCache.txt" && hooks=true
$hooks && export LISEC_TEST_SANDBOX_PROBE="$pki/server.key"
start_lisecd "$pki" "[tls]" "crl = $pki/crl.pem"
unset LISEC_TEST_SANDBOX_PROBE
if $hooks; then
  grep -Eq "sandbox probe \(front\): $pki/server.key -> (EACCES|EPERM)" "$work/lisecd.log" ||
    { cat "$work/lisecd.log" >&2; fail "the front could open the TLS key file"; }
  grep -q "sandbox probe (parent): $pki/server.key -> ok" "$work/lisecd.log" ||
    { cat "$work/lisecd.log" >&2; fail "the parent cannot read the TLS key file it reloads"; }
  pass "the front cannot open the key file; the parent, which reloads it, can read it"
fi
old=$(serial_of "$pki/server.crt")
[ "$(served_serial)" = "$old" ] || fail "lisecd does not serve its configured certificate"
[ "$(status_as auditor)" = 200 ] || fail "the auditor (not revoked yet) is not served"

# --- a keep-alive connection before the reload
python3 "$src/tests/integration/tls_keepalive.py" "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" \
  "$pki/operator.key" /healthz "$work/go" "$work/keepalive.out" 2>"$work/keepalive.err" &
ka=$!
cleanup_hooks+=("kill $ka 2>/dev/null")
for _ in $(seq 1 600); do
  [ -s "$work/keepalive.out" ] && break
  kill -0 "$ka" 2>/dev/null || { cat "$work/keepalive.err" >&2; fail "the keep-alive client ended early"; }
  sleep 0.1
done
grep -q "^first 200 $old\$" "$work/keepalive.out" ||
  { cat "$work/keepalive.out" "$work/keepalive.err" >&2; fail "keep-alive client: first request"; }

# --- the good reload: a new server certificate and key, a CRL revoking the auditor
cp "$pki/ca.crt" "$pki/ca.key" "$new/"
_pki_issue "$new" server "/O=lisec test/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth"
openssl ca -batch -config "$work/ca/ca.cnf" -revoke "$pki/auditor.crt" 2>"$work/openssl.err" ||
  { cat "$work/openssl.err" >&2; fail "openssl ca -revoke"; }
gencrl "$work/crl-revoking.pem"
newserial=$(serial_of "$new/server.crt")
[ "$newserial" != "$old" ] || fail "the new certificate has the old serial"
cp "$pki/server.key" "$work/old-server.key"
cp "$new/server.crt" "$pki/server.crt.tmp" && mv "$pki/server.crt.tmp" "$pki/server.crt"
cp "$new/server.key" "$pki/server.key.tmp" && mv "$pki/server.key.tmp" "$pki/server.key"
cp "$work/crl-revoking.pem" "$pki/crl.pem.tmp" && mv "$pki/crl.pem.tmp" "$pki/crl.pem"
kill -HUP "$LISECD_PID"
wait_log "TLS reloaded: new connections get server certificate serial 0*$newserial" 1
grep -q "1 CRL revoking 1 certificate" "$work/lisecd.log" || fail "the reload's log line does not count the revocation"
[ "$(served_serial)" = "$newserial" ] || fail "a new connection after the reload does not get the new certificate"
pass "after SIGHUP new connections get the new server certificate (serial $newserial)"

# Where the server key lives: the front holds the new one (it serves with
# it); the parent, once a reload is sent, holds neither the old nor the new
# one (it wipes what it read and never parses it, so the controller and the
# keys process, which it forks before any reload, cannot inherit a copy). Needs root to read
# another process's memory (lib/memscan.py); the private scalar is sought
# big-endian and as a BIGNUM holds it (see lisecd_memory.sh).
# The release build proves it; the sanitizer's shadow and allocator make the
# same scan many times slower there, for nothing the release build misses.
if grep -qs '^LISEC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "skip (memory): the release build scans the processes' memory"
elif [ "$(id -u)" -eq 0 ]; then
  scalar() {
    local be
    be=$(openssl pkey -in "$1" -noout -text | awk '/^priv:/{p=1;next} /^[a-zA-Z]/{p=0} p' | tr -d ' :\n')
    python3 -c 'import sys; b = bytes.fromhex("%064x" % int(sys.argv[1], 16)); print(b.hex(), b[::-1][:24].hex())' "$be"
  }
  # The first line of the key's PEM body: the text the parent read.
  pem_line() { sed -n '2p' "$1" | tr -d '\n' | xxd -p -c 256; }
  read -r old_be old_le < <(scalar "$work/old-server.key")
  read -r new_be new_le < <(scalar "$new/server.key")
  child_pid() {
    local p
    for p in $(pgrep -P "$LISECD_PID" 2>/dev/null); do
      [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] && echo "$p" && return 0
    done
    return 0
  }
  needles=("old=$old_be" "old_words=$old_le" "new=$new_be" "new_words=$new_le"
    "old_pem=$(pem_line "$work/old-server.key")" "new_pem=$(pem_line "$new/server.key")")
  found() { # PID -> "old new" hit counts
    python3 "$src/tests/integration/lib/memscan.py" --writable "$1" "${needles[@]}" |
      python3 -c 'import json,sys; h = json.load(sys.stdin)["hits"]; print(h["old"] + h["old_words"] + h["old_pem"], h["new"] + h["new_words"] + h["new_pem"])'
  }
  read -r fo fn < <(found "$(child_pid lisecd-front)")
  [ "$fn" -gt 0 ] || fail "the scanner did not find the new server key in the front, which serves with it"
  read -r o n < <(found "$LISECD_PID")
  [ "$o" -eq 0 ] && [ "$n" -eq 0 ] || fail "the parent still holds the server's TLS key after sending it (old $o, new $n times)"
  pass "the front holds the new server key ($fn times); the parent, which read and sent it, holds neither key"
else
  echo "skip (memory): reading another process's memory needs root"
fi

touch "$work/go"
wait "$ka" || { cat "$work/keepalive.err" >&2; fail "the keep-alive client failed"; }
grep -q "^second 200 $old same\$" "$work/keepalive.out" ||
  { cat "$work/keepalive.out" >&2; fail "the keep-alive connection did not survive the reload on the same socket"; }
pass "a keep-alive connection opened before the reload carries its next request on the same socket (old certificate)"

[ "$(status_as auditor)" = 000 ] || fail "the auditor, revoked by the new CRL, is still served"
wait_log "TLS client refused (\[tls\] crl" 1
grep "TLS client refused (\[tls\] crl" "$work/lisecd.log" | grep -q "certificate revoked" ||
  fail "the refusal of a revoked client does not say it is revoked"
[ "$(status_as operator)" = 200 ] || fail "a client the CRL does not revoke is refused"
pass "a client certificate the new CRL revokes is refused and logged as revoked; others are served"

# --- bad reloads: each refused with its reason, the last good material served
cp "$pki/server.crt" "$work/good.crt"
cp "$pki/server.key" "$work/good.key"
cp "$pki/crl.pem" "$work/good-crl.pem"
restore() {
  cp "$work/good.crt" "$pki/server.crt"
  cp "$work/good.key" "$pki/server.key"
  cp "$work/good-crl.pem" "$pki/crl.pem"
}
refused=0
bad_reload() { # WHAT REASON-PATTERN
  refused=$((refused + 1))
  kill -HUP "$LISECD_PID"
  wait_log "TLS reload refused" "$refused"
  grep "TLS reload refused" "$work/lisecd.log" | tail -n 1 | grep -q -- "$2" ||
    { grep "reload refused" "$work/lisecd.log" >&2; fail "$1: the refusal does not say '$2'"; }
  [ "$(served_serial)" = "$newserial" ] || fail "$1: new connections no longer get the last good certificate"
  [ "$(status_as operator)" = 200 ] || fail "$1: lisecd stopped serving"
  restore
  pass "refused reload ($1): logged ('$2'); serial $newserial still served"
}

rm "$pki/server.key"
bad_reload "the key file is missing" "\[tls\] key .*cannot open"

cp "$pki/operator.key" "$pki/server.key"
bad_reload "the key of another certificate" "does not match the server certificate"

mkdir -p "$work/rogue"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=rogue CA" \
  -keyout "$work/rogue/ca.key" -out "$work/rogue/ca.crt" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null || fail "openssl: rogue CA"
ca_conf "$work/rogue-ca" "$work/rogue/ca.crt" "$work/rogue/ca.key"
openssl ca -batch -config "$work/rogue-ca/ca.cnf" -gencrl -out "$pki/crl.pem" 2>/dev/null || fail "rogue CRL"
bad_reload "a CRL of a CA lisecd does not trust" "not signed by a certificate of \[tls\] client_ca"

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$work/expired.key" -out "$work/expired.csr" 2>/dev/null || fail "openssl req (expired)"
openssl ca -batch -config "$work/ca/ca.cnf" -in "$work/expired.csr" -out "$work/expired.crt" -notext \
  -startdate 20200101000000Z -enddate 20200102000000Z 2>"$work/openssl.err" ||
  { cat "$work/openssl.err" >&2; fail "openssl ca (expired)"; }
cp "$work/expired.crt" "$pki/server.crt"
cp "$work/expired.key" "$pki/server.key"
bad_reload "an expired server certificate" "has expired"

gencrl "$pki/crl.pem" -crl_lastupdate 20200101000000Z -crl_nextupdate 20200102000000Z
bad_reload "a CRL whose nextUpdate passed" "CRL 1 has expired"

# Good files again: the next SIGHUP is accepted (nothing was left half-loaded).
kill -HUP "$LISECD_PID"
wait_log "TLS reloaded: new connections get server certificate serial 0*$newserial" 2
[ "$(status_as auditor)" = 000 ] && [ "$(status_as operator)" = 200 ] || fail "after the refused reloads"
pass "after five refused reloads a good one is accepted again"

kill -0 "$LISECD_PID" || fail "lisecd is not running"
stop_lisecd
