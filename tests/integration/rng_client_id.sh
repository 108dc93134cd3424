#!/usr/bin/env bash
# Which certificate lisec-entropyd takes for a VNF's (TR 103 308 §5.15: seeds
# to the registered VNFs only, each proven by its client certificate). A real
# lisec-entropyd with vnf-a registered, and certificates that all name vnf-a
# in their subject CN, so only what they were issued for tells them apart.
# From the development CA the daemon trusts: `lisec pki issue`'s (clientAuth,
# what every rng_* test's VNF uses), one with serverAuth and clientAuth, one
# with no extended key usage, one with serverAuth only (a server's), one with
# codeSigning only, one with anyExtendedKeyUsage only, one with clientAuth
# whose key usage is keyEncipherment only; and vnf-a's from another CA. Each
# is tried once (rng_server_id_driver). The first two get seeds; every other
# is refused in the TLS handshake and the connection closed, and the daemon
# logs one refusal naming TR103308-5.15, the peer and the reason, never the
# CN. Then certificates from the same CA, made for TLS client
# authentication and with vnf-a as CN, but issued for another role (lisec
# pki issue's host and operator certificates, one with the role mano in its
# SAN URI alone) or for none: the handshake succeeds, and the daemon
# refuses them before any seed with UNKNOWN_CLIENT naming TR103308-5.15 and
# the role a VNF's certificate carries (vnf), logs one refusal each with the
# peer, and counts them as requests refused for reason client_role; so is
# one whose SAN URI names vnf and whose OU names another lisec role
# (operator), while an OU naming none (a department) is served. The
# daemon keeps serving the good certificate afterwards, and counts only the
# seeds it gave. With [clients] role_source = ou the OU carries the role,
# and a bad role_source stops the start. With vnf-a an LI VNF ([clients]
# li) its role refusals are logged and answered word for word as a non-LI
# VNF's, naming no CN; and its replayed seed requests are logged as another
# VNF's, by an opaque per-client reference, naming neither. A name listed
# twice in [clients] allowed stops the start.
build=${1:?build dir}
src=${2:?source dir}
# shellcheck source=lib/common.sh
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/entropyd.sh"

entropyd="$build/cmd/lisec-entropyd/lisec-entropyd"
driver="$build/tests/integration/rng_server_id_driver"
[ -x "$entropyd" ] || fail "lisec-entropyd not built"
[ -x "$driver" ] || fail "rng_server_id_driver not built"
command -v openssl >/dev/null || fail "openssl not found"

pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" vnf-a vnf vnf-a >/dev/null || fail "issue vnf-a"

# issue STEM [EXTENSION...]: a certificate for CN vnf-a, role vnf.
issue() { issue_cert "$1" "/O=lisec test/OU=vnf/CN=vnf-a" "${@:2}" subjectAltName=URI:urn:lisec:role:vnf; }
issue both extendedKeyUsage=serverAuth,clientAuth
issue noeku
issue serveronly extendedKeyUsage=serverAuth
issue codesign extendedKeyUsage=codeSigning
issue anyeku extendedKeyUsage=anyExtendedKeyUsage
issue keyenc keyUsage=critical,keyEncipherment extendedKeyUsage=clientAuth
make_pki "$work/other"
lisec pki issue "$work/other" vnf-a vnf vnf-a >/dev/null || fail "issue vnf-a from another CA"
# Same CA, clientAuth, CN vnf-a, but another role or none.
lisec pki issue "$pki" host-vnf-a host vnf-a >/dev/null || fail "issue a host certificate with CN vnf-a"
lisec pki issue "$pki" operator-vnf-a operator vnf-a >/dev/null || fail "issue an operator certificate with CN vnf-a"
issue_cert mano "/O=lisec test/CN=vnf-a" extendedKeyUsage=clientAuth subjectAltName=URI:urn:lisec:role:mano
issue_cert norole "/O=lisec test/CN=vnf-a" extendedKeyUsage=clientAuth
# The SAN URI (read) names vnf and the OU another lisec role: issued for
# which? Refused as two roles, as lisecd refuses such a certificate. An OU
# that is no lisec role (a department) is no second role.
issue_cert ouoperator "/O=lisec test/OU=operator/CN=vnf-a" extendedKeyUsage=clientAuth \
  subjectAltName=URI:urn:lisec:role:vnf
issue_cert oudept "/O=lisec test/OU=Lawful Interception Dept/CN=vnf-a" extendedKeyUsage=clientAuth \
  subjectAltName=URI:urn:lisec:role:vnf
cp "$work/other/vnf-a.crt" "$pki/otherca.crt"
cp "$work/other/vnf-a.key" "$pki/otherca.key"
# The test PKI's own VNF certificate is what every rng_* test uses: clientAuth.
openssl x509 -in "$pki/vnf-a.crt" -noout -ext extendedKeyUsage | grep -q "TLS Web Client Authentication" ||
  fail "lisec pki issue's VNF certificate lacks clientAuth"

entropyd_start entropyd server # lib/entropyd.sh: its log $work/entropyd.log
# shellcheck disable=SC2154 # set by entropyd_start
port=$entropyd_PORT mport=$entropyd_MPORT pid=$entropyd_PID

# reseed STEM: one connection and one seed request with STEM's certificate
# (rng_server_id_driver: the library's handshake and fetch, once, where
# `lisec rng reseed` would try again); output in $work/out.
reseed() {
  env -u LISEC_RNG_ENTROPYD_NAME LISEC_RNG_CERT="$pki/$1.crt" LISEC_RNG_KEY="$pki/$1.key" \
    LISEC_RNG_CA="$pki/ca.crt" "$driver" "127.0.0.1:$port" "$port" >"$work/out" 2>&1
}
refusals() { grep -c "TR103308-5.15: VNF client certificate refused" "$work/entropyd.log" || true; }

accepted() {
  reseed "$1" || { cat "$work/out" "$work/entropyd.log" >&2; fail "$2: refused"; }
  grep -q "^seed 48 bytes" "$work/out" || { cat "$work/out" >&2; fail "$2: no seed"; }
  pass "$2: gets a seed"
}
# refused STEM WHAT REASON: no seed, and one more refusal in the daemon's log
# naming the clause, the peer and REASON (waited for: the daemon's thread
# may log after the client has gone), never the CN.
refused() {
  local before after line
  before=$(refusals)
  if reseed "$1"; then
    cat "$work/out" >&2
    fail "$2: accepted as vnf-a's certificate"
  fi
  ! grep -q Sanitizer "$work/out" || { cat "$work/out" >&2; fail "$2: sanitizer report"; }
  grep -q "connection lost" "$work/out" || { cat "$work/out" >&2; fail "$2: connection not closed"; }
  for _ in $(seq 1 50); do
    [ "$(refusals)" -gt "$before" ] && break
    sleep 0.1
  done
  after=$(refusals)
  [ "$after" = $((before + 1)) ] ||
    { cat "$work/entropyd.log" >&2; fail "$2: $((after - before)) refusals logged, not one"; }
  line=$(grep "TR103308-5.15: VNF client certificate refused" "$work/entropyd.log" | tail -1)
  case $line in
  *"from 127.0.0.1: $3"*) ;;
  *) echo "$line" >&2; fail "$2: refusal does not say the peer and '$3'" ;;
  esac
  case $line in *vnf-a*) echo "$line" >&2; fail "$2: refusal names the certificate's CN" ;; esac
  pass "$2: refused ($3)"
}

role_refusals() { grep -c "seed service refused client from 127.0.0.1: TR103308-5.15: " "$work/entropyd.log" || true; }
# role_refused STEM WHAT REASON: the handshake succeeds, no seed: the client
# is told UNKNOWN_CLIENT naming TR103308-5.15, REASON and the role vnf; one
# more refusal in the daemon's log saying the peer and the same (waited for).
role_refused() {
  local before after line
  before=$(role_refusals)
  if reseed "$1"; then
    cat "$work/out" >&2
    fail "$2: accepted as vnf-a's certificate"
  fi
  ! grep -q Sanitizer "$work/out" || { cat "$work/out" >&2; fail "$2: sanitizer report"; }
  grep -q "TR103308-5.15: .*$3.*a VNF's certificate carries the role vnf" "$work/out" ||
    { cat "$work/out" >&2; fail "$2: the client is not told why ('$3', role vnf)"; }
  for _ in $(seq 1 50); do
    [ "$(role_refusals)" -gt "$before" ] && break
    sleep 0.1
  done
  after=$(role_refusals)
  [ "$after" = $((before + 1)) ] ||
    { cat "$work/entropyd.log" >&2; fail "$2: $((after - before)) refusals logged, not one"; }
  line=$(grep "seed service refused client from 127.0.0.1: TR103308-5.15: " "$work/entropyd.log" | tail -1)
  case $line in
  *"$3"*"a VNF's certificate carries the role vnf; connection closed") ;;
  *) echo "$line" >&2; fail "$2: refusal does not say '$3' and the role vnf" ;;
  esac
  pass "$2: refused ($3)"
}

accepted vnf-a "lisec pki issue's VNF certificate (clientAuth)"
accepted both "serverAuth and clientAuth"
refused noeku "no extended key usage" "no extended key usage; clientAuth is required"
refused serveronly "serverAuth only (a server's certificate)" "extended key usage lacks clientAuth"
refused codesign "codeSigning only" "extended key usage lacks clientAuth"
refused anyeku "anyExtendedKeyUsage only" "extended key usage lacks clientAuth"
refused keyenc "clientAuth with keyEncipherment only" "key usage does not allow TLS client authentication"
refused otherca "lisec pki issue's VNF certificate from another CA" "unable to get local issuer certificate"
role_refused host-vnf-a "lisec pki issue's host certificate with CN vnf-a" 'role "host" is unknown'
role_refused operator-vnf-a "lisec pki issue's operator certificate with CN vnf-a" 'role "operator" is unknown'
role_refused mano "clientAuth, CN vnf-a, SAN URI role mano" 'role "mano" is unknown'
role_refused norole "clientAuth, CN vnf-a, no role" "client certificate of the peer carries no lisec role"
# what the log says of it, from the reason on (for the LI VNF's below)
refusal_of() { grep "seed service refused client from" "$1" | tail -1 | sed 's/^.*seed service refused/seed service refused/'; }
norole_line=$(refusal_of "$work/entropyd.log")
role_refused ouoperator "SAN URI role vnf, OU operator" \
  "names role vnf in its SAN URI and operator in its subject OU"
ouoperator_line=$(refusal_of "$work/entropyd.log")
accepted oudept "SAN URI role vnf, an OU that is no lisec role (a department)"
accepted vnf-a "vnf-a again after the refusals"

issued=$(curl -sf "http://127.0.0.1:$mport/metrics" |
  awk '/^lisec_entropyd_seeds_issued_total\{client="vnf-a"\}/ {print $2}')
[ "${issued:-0}" = 4 ] || fail "seeds issued to vnf-a: ${issued:-none}, not 4 (the accepted fetches only)"
pass "only the accepted certificates were served ($issued seeds)"
cert_refused=$(curl -sf "http://127.0.0.1:$mport/metrics" |
  awk '/^lisec_entropyd_connections_refused_total\{reason="client_certificate"\}/ {print $2}')
[ "${cert_refused:-none}" = 6 ] || fail "client certificates refused in /metrics: ${cert_refused:-none}, not the 6 refused"
pass "the six refusals counted in /metrics (reason client_certificate)"
role_refused=$(curl -sf "http://127.0.0.1:$mport/metrics" |
  awk '/^lisec_entropyd_requests_refused_total\{reason="client_role"\}/ {print $2}')
[ "${role_refused:-none}" = 5 ] || fail "certificates of another role refused in /metrics: ${role_refused:-none}, not 5"
pass "the five role refusals counted in /metrics (requests refused, reason client_role)"

kill -TERM "$pid"
wait "$pid" || fail "lisec-entropyd exit status"

# With [clients] role_source = ou the role is the subject OU's, as lisecd's
# [api] role_source: OU=vnf alone serves, lisec pki issue's certificate
# (OU and SAN URI vnf) too, and OU=vnf beside a SAN URI naming another role
# is refused as two roles; a value other than san-uri or ou stops the start.
issue_cert ouonly "/O=lisec test/OU=vnf/CN=vnf-a" extendedKeyUsage=clientAuth
issue_cert outwo "/O=lisec test/OU=vnf/CN=vnf-a" extendedKeyUsage=clientAuth subjectAltName=URI:urn:lisec:role:operator
entropyd_start entropyd server "[clients]" "role_source = ou"
port=$entropyd_PORT mport=$entropyd_MPORT pid=$entropyd_PID
accepted ouonly "role_source = ou: OU vnf, no SAN URI"
accepted vnf-a "role_source = ou: lisec pki issue's VNF certificate"
role_refused outwo "role_source = ou: OU vnf beside SAN URI role operator" "its SAN URI role is not usable"
role_refused host-vnf-a "role_source = ou: lisec pki issue's host certificate with CN vnf-a" 'role "host" is unknown'
kill -TERM "$pid"
wait "$pid" || fail "lisec-entropyd exit status (role_source = ou)"
sed 's/^role_source = ou$/role_source = cn/' "$work/entropyd.conf" >"$work/badrole.conf"
if "$entropyd" -c "$work/badrole.conf" 2>"$work/badrole.log"; then fail "role_source = cn accepted"; fi
grep -q "\[clients\] role_source must be san-uri or ou, not 'cn'" "$work/badrole.log" ||
  { cat "$work/badrole.log" >&2; fail "role_source = cn: no reason naming the setting"; }
pass "role_source = cn stops the start naming the setting"

# vnf-a an LI VNF ([clients] li): its certificates refused for their role
# are logged and answered word for word as above, naming no CN, so the log
# (the platform operators') does not tell which peer is an LI VNF.
entropyd_start entropyli server "[clients]" "li = vnf-a"
port=$entropyli_PORT pid=$entropyli_PID
for stem in norole ouoperator; do
  before=$(grep -c "seed service refused client from" "$work/entropyli.log" || true)
  if reseed $stem; then cat "$work/out" >&2; fail "LI vnf-a, $stem: accepted"; fi
  for _ in $(seq 1 50); do
    [ "$(grep -c "seed service refused client from" "$work/entropyli.log" || true)" -gt "$before" ] && break
    sleep 0.1
  done
  line=$(refusal_of "$work/entropyli.log")
  want=$norole_line
  [ $stem = norole ] || want=$ouoperator_line
  [ -n "$line" ] && [ "$line" = "$want" ] ||
    fail "LI vnf-a, $stem: logged '$line', where any VNF's reads '$want'"
  grep -qF "$(printf '%s' "$line" | sed 's/^.*TR103308-5.15: //; s/; connection closed$//')" "$work/out" ||
    { cat "$work/out" >&2; fail "LI vnf-a, $stem: the client is told otherwise"; }
  case $line in *vnf-a* | *" LI "*) fail "LI vnf-a, $stem: the log names it: $line" ;; esac
done
pass "an LI VNF's certificate refused for its role is logged and answered as any VNF's, naming no CN"
kill -TERM "$pid"
wait "$pid" || fail "lisec-entropyd exit status ([clients] li)"

# A replayed seed request is logged alike for an LI VNF and any other: by
# the client's reference alone, never its CN, nor "an LI VNF" (before: the
# LI VNF's line read "an LI VNF" and every other's named its CN, so the
# log told which client is an LI VNF). vnf-a and vnf-li (an LI VNF) each
# replay twice: four lines of one shape (the reference aside), each
# client's reference the same both times and not the other's; the clients
# are told the reason as before. (lisecd's records of whose reference it
# is: rng_events.)
lisec pki issue "$pki" vnf-li vnf vnf-li >/dev/null || fail "issue vnf-li"
entropyd_allowed="vnf-a, vnf-li" entropyd_start entropyrp server "[clients]" "li = vnf-li"
port=$entropyrp_PORT pid=$entropyrp_PID
replay_lines() { grep "seed request from" "$work/entropyrp.log" || true; }
for stem in vnf-a vnf-li vnf-a vnf-li; do
  before=$(replay_lines | wc -l)
  seed_replay "$port" $stem "$work/replay.out"
  [ "$(head -1 "$work/replay.out")" = "2 " ] && grep -q "^3 TR103308-5.12: replayed seed request refused (nonce already used)" "$work/replay.out" ||
    { cat "$work/replay.out" >&2; fail "$stem: the repeated request was not refused as a replay"; }
  for _ in $(seq 1 50); do
    [ "$(replay_lines | wc -l)" -gt "$before" ] && break
    sleep 0.1
  done
  [ "$(replay_lines | wc -l)" = $((before + 1)) ] || { cat "$work/entropyrp.log" >&2; fail "$stem: no replay line logged"; }
done
mapfile -t rl < <(replay_lines | sed 's/^.*seed request from/seed request from/')
ref_of() { sed -n 's/^seed request from client ref \([0-9a-f]\{16\}\) refused: .*$/\1/p' <<<"$1"; }
shape() { sed 's/client ref [0-9a-f]\{16\} /client ref R /' <<<"$1"; }
want='seed request from client ref R refused: TR103308-5.12: replayed seed request refused (nonce already used)'
for i in 0 1 2 3; do
  [ "$(shape "${rl[i]}")" = "$want" ] || fail "replay line $i reads '${rl[i]}', where every client's reads '$want'"
  case ${rl[i]} in *vnf-* | *" LI "*) fail "replay line $i names the client: ${rl[i]}" ;; esac
done
ref_a=$(ref_of "${rl[0]}") ref_li=$(ref_of "${rl[1]}")
[ -n "$ref_a" ] && [ "$(ref_of "${rl[2]}")" = "$ref_a" ] && [ "$(ref_of "${rl[3]}")" = "$ref_li" ] && [ "$ref_a" != "$ref_li" ] ||
  fail "each client's reference is not its own and the same each time: ${rl[*]}"
grep -q "an LI VNF" "$work/entropyrp.log" && fail "the log calls a client an LI VNF"
pass "a replay by an LI VNF and by another VNF logged alike, by an opaque per-client reference, naming neither"
kill -TERM "$pid"
wait "$pid" || fail "lisec-entropyd exit status (replays)"
# A name listed twice in [clients] allowed stops the start, naming the
# entries, not the name. Before, the second entry was a client of its own
# that [clients] li did not mark (it marked the first), so an LI VNF listed
# twice appeared by name in /metrics, the platform operators', as a client
# with no seeds.
dport=$(free_port) dmport=$(free_port)
cat >"$work/dup.conf" <<CONF
[server]
listen = 127.0.0.1:$dport
[tls]
cert = $pki/server.crt
key = $pki/server.key
client_ca = $pki/ca.crt
[clients]
allowed = vnf-a, vnf-li, vnf-li
li = vnf-li
[metrics]
listen = 127.0.0.1:$dmport
[entropy]
reseed_ms = 50
[source.rdseed]
enabled = false
CONF
"$entropyd" -c "$work/dup.conf" 2>"$work/dup.log" &
dpid=$!
cleanup_hooks+=("kill -TERM $dpid 2>/dev/null; wait $dpid 2>/dev/null")
for _ in $(seq 1 100); do
  kill -0 "$dpid" 2>/dev/null || break
  curl -sf "http://127.0.0.1:$dmport/metrics" >"$work/dup.metrics" 2>/dev/null && break
  sleep 0.1
done
if kill -0 "$dpid" 2>/dev/null; then
  grep -q 'client="vnf-li"' "$work/dup.metrics" && fail "the LI VNF listed twice in [clients] allowed is named in /metrics"
  fail "a name listed twice in [clients] allowed did not stop the start"
fi
wait "$dpid" && fail "a name listed twice in [clients] allowed: exit status 0"
grep -q "\[clients\] allowed: entry 3 repeats entry 2" "$work/dup.log" ||
  { cat "$work/dup.log" >&2; fail "a name listed twice: no reason naming the setting"; }
grep -q "vnf-li" "$work/dup.log" && { cat "$work/dup.log" >&2; fail "the refusal names the repeated client"; }
pass "a name listed twice in [clients] allowed stops the start, naming the entries, not the client"
grep -q Sanitizer "$work/entropyd.log" "$work/entropyli.log" "$work/entropyrp.log" && { cat "$work/entropyd.log" "$work/entropyli.log" "$work/entropyrp.log" >&2; fail "sanitizer report"; }
echo "rng_client_id: all checks passed"
