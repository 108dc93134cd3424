# The parts of lisec-entropyd's TLS tests (rng_server_id, rng_client_id)
# that are the same in each (sourced after common.sh; callers set pki to a
# make_pki directory): leaf certificates from the development CA with
# chosen extensions, and a daemon serving with a chosen certificate; and
# the wait for a daemon started by the tests that write their own
# configuration (rng_entropyd, rng_events, rng_clock).

# entropyd_up NAME PORT MPORT PID: the lisec-entropyd NAME started as PID
# (its log $work/NAME.log), serving on PORT and its metrics on MPORT, is
# stopped on exit; sets NAME_PORT, NAME_MPORT and NAME_PID and returns once
# its metrics port answers (10 s at most), else fails with its log.
entropyd_up() {
  local name=$1 port=$2 mport=$3 pid=$4
  cleanup_hooks+=("kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null")
  eval "${name}_PORT=$port ${name}_MPORT=$mport ${name}_PID=$pid"
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$mport/metrics" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/$name.log" >&2; fail "$name exited at start"; }
    sleep 0.1
  done
  cat "$work/$name.log" >&2
  fail "$name did not open its metrics port"
}

# issue_cert STEM SUBJECT [EXTENSION...]: $pki/STEM.crt and .key, a P-256
# leaf of the development CA for SUBJECT, not a CA, with keyUsage
# digitalSignature unless an EXTENSION sets another, and the EXTENSIONs
# (openssl x509 -extfile lines).
issue_cert() {
  local stem=$1 subject=$2 ku=keyUsage=critical,digitalSignature
  shift 2
  case "$*" in *keyUsage=*) ku= ;; esac
  printf '%s\n' basicConstraints=critical,CA:FALSE $ku "$@" >"$work/$stem.ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/$stem.key" \
    -subj "$subject" -out "$work/$stem.csr" 2>/dev/null || fail "request $stem"
  openssl x509 -req -in "$work/$stem.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 2 -extfile "$work/$stem.ext" \
    -out "$pki/$stem.crt" 2>/dev/null || fail "issue $stem"
}

# entropyd_start NAME CERT [LINE...]: a lisec-entropyd presenting
# $pki/CERT.crt, its VNF clients from $pki/ca.crt with vnf-a allowed (or
# $entropyd_allowed), the
# LINEs at the end of its configuration (e.g. "[clients]" "role_source =
# ou"), its log $work/NAME.log; sets NAME_PORT, NAME_MPORT and NAME_PID and
# returns once it serves.
entropyd_start() {
  local name=$1 cert=$2 port mport pid
  shift 2
  port=$(free_port)
  mport=$(free_port)
  cat >"$work/$name.conf" <<CONF
[server]
listen = 127.0.0.1:$port
[tls]
cert = $pki/$cert.crt
key = $pki/$cert.key
client_ca = $pki/ca.crt
[clients]
allowed = ${entropyd_allowed:-vnf-a}
[metrics]
listen = 127.0.0.1:$mport
[entropy]
reseed_ms = 50
[source.rdseed]
enabled = false
CONF
  [ $# -eq 0 ] || printf '%s\n' "$@" >>"$work/$name.conf"
  "$build/cmd/lisec-entropyd/lisec-entropyd" -c "$work/$name.conf" 2>"$work/$name.log" &
  pid=$!
  cleanup_hooks+=("kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null")
  printf -v "${name}_PORT" %s "$port"
  printf -v "${name}_MPORT" %s "$mport"
  printf -v "${name}_PID" %s "$pid"
  for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$mport/metrics" 2>/dev/null | grep -q '^lisec_entropyd_serving 1' && return 0
    sleep 0.1
  done
  cat "$work/$name.log" >&2
  fail "lisec-entropyd $name (certificate $cert) not serving"
}

# seed_replay PORT STEM OUT: one seed request sent twice on one connection
# with $pki/STEM.crt (the second is a replay: its nonce used); the daemon's
# two answers' types (2 SEED, 3 ERROR) and the error's reason in OUT.
seed_replay() {
  python3 - "$1" "$pki/$2.crt" "$pki/$2.key" "$pki/ca.crt" >"$3" <<'PY' || fail "replay by $2: no answers"
import os, socket, ssl, struct, sys, time
port, cert, key, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
body = os.urandom(32) + b"\0" * 16 + os.urandom(16) + os.urandom(16) + struct.pack(">QH", time.time_ns(), 48)
req = b"LSEE\x01\x01" + struct.pack(">H", len(body)) + body
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, ctx.wrap_socket(raw) as s:
    s.sendall(req + req)
    for _ in range(2):
        hdr = b""
        while len(hdr) < 8:
            hdr += s.recv(8 - len(hdr))
        n = struct.unpack(">H", hdr[6:8])[0]
        msg = b""
        while len(msg) < n:
            msg += s.recv(n - len(msg))
        print(hdr[5], msg[4:].decode(errors="replace") if hdr[5] == 3 else "")
PY
}
