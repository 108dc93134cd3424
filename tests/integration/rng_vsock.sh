#!/usr/bin/env bash
# lisec-entropyd's seed service over AF_VSOCK (TR 103 308 §5.15: entropy from
# outside the VM, for VMs on the same host), tested through the kernel's vsock
# loopback transport (CID 1, VMADDR_CID_LOCAL, module vsock_loopback): a
# registered VNF reseeds and generates keys over vsock with mutual TLS, an
# unknown one is refused, and the VNF takes the daemon for the daemon only
# by the name LISEC_RNG_ENTROPYD_NAME gives (without it, or with a name the
# certificate does not carry, it refuses naming TR103308-5.15;
# rng_server_id.sh checks the same rule with more certificates where this
# cannot run). Where the kernel offers no loopback transport (no
# AF_VSOCK, or no vsock_loopback: a guest kernel without it, a container that
# cannot load modules) only the listener is checked; the test says why and
# exits 77, which CTest reports as skipped (SKIP_RETURN_CODE in
# tests/integration/rng.cmake).
build=${1:?build dir}
src=${2:?source dir}
# shellcheck source=lib/common.sh
source "$src/tests/integration/lib/common.sh"

entropyd="$build/cmd/lisec-entropyd/lisec-entropyd"
[ -x "$entropyd" ] || fail "lisec-entropyd not built"

# A free vsock port on which a connection to CID 1 reaches a listener here.
vport=$(python3 - <<'PY'
import random, socket, sys
if not hasattr(socket, "AF_VSOCK"):
    print("SKIP: this Python/kernel has no AF_VSOCK"); sys.exit(0)
for _ in range(20):
    port = random.randint(20000, 60000)
    try:
        srv = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    except OSError as e:
        print("SKIP: socket(AF_VSOCK): %s" % e.strerror); sys.exit(0)
    try:
        srv.bind((socket.VMADDR_CID_ANY, port)); srv.listen(1)
    except OSError:
        srv.close(); continue
    c = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); c.settimeout(2)
    try:
        c.connect((1, port))
    except OSError as e:
        why = e.strerror or "timed out"
        print("SKIP: no vsock loopback transport (connect to CID 1: %s; "
              "modprobe vsock_loopback on the host kernel)" % why); sys.exit(0)
    c.close(); srv.close()
    print(port); sys.exit(0)
print("SKIP: no free vsock port found")
PY
)
skip=
case "$vport" in
SKIP:*)
  # The listener can still be checked: entropyd binds VMADDR_CID_ANY.
  skip=$vport
  vport=$(python3 -c 'import random; print(random.randint(20000, 60000))')
  ;;
esac

pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" vnf-a vnf vnf-a >/dev/null || fail "issue vnf-a"
lisec pki issue "$pki" vnf-x vnf vnf-x >/dev/null || fail "issue vnf-x"
port=$(free_port)
mport=$(free_port)
cat >"$work/entropyd.conf" <<CONF
[server]
listen = 127.0.0.1:$port
vsock_port = $vport
[tls]
cert = $pki/server.crt
key = $pki/server.key
client_ca = $pki/ca.crt
[clients]
allowed = vnf-a
[metrics]
listen = 127.0.0.1:$mport
[entropy]
reseed_ms = 50
[source.rdseed]
enabled = false
CONF
"$entropyd" -c "$work/entropyd.conf" 2>"$work/entropyd.log" &
pid=$!
cleanup_hooks+=("kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null")
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$mport/metrics" 2>/dev/null | grep -q '^lisec_entropyd_serving 1' && break
  sleep 0.1
done
if [ -n "$skip" ] && grep -q "AF_VSOCK port $vport unavailable" "$work/entropyd.log"; then
  echo "$skip (and entropyd could not bind vsock port $vport either)"
  exit 77
fi
grep -q "seed service on vsock port $vport" "$work/entropyd.log" ||
  { cat "$work/entropyd.log" >&2; fail "entropyd did not listen on vsock port $vport"; }
if [ -n "$skip" ]; then
  pass "entropyd listens on vsock port $vport"
  echo "$skip"
  exit 77
fi

# vsock_env CLIENT [lisec args...]: the daemon expected as localhost (a name
# in the development server certificate), unless ENTROPYD_NAME says
# otherwise ("" for none).
vsock_env() {
  local name=${ENTROPYD_NAME-localhost}
  env -u LISEC_RNG_ENTROPYD_NAME LISEC_RNG_ENTROPYD="vsock:1:$vport" LISEC_RNG_CERT="$pki/$1.crt" \
    LISEC_RNG_KEY="$pki/$1.key" LISEC_RNG_CA="$pki/ca.crt" ${name:+LISEC_RNG_ENTROPYD_NAME="$name"} \
    "$build/cmd/lisec/lisec" "${@:2}"
}
vsock_env vnf-a rng reseed >"$work/reseed.out" 2>&1 || { cat "$work/reseed.out" >&2; fail "reseed over vsock"; }
n=$(vsock_env vnf-a rng keygen 32 | wc -c)
[ "$n" = 32 ] || fail "keygen over vsock gave $n bytes"
if vsock_env vnf-x rng reseed >"$work/unknown.out" 2>&1; then fail "unknown client served over vsock"; fi
grep -q "not a registered VNF identity" "$work/unknown.out" || { cat "$work/unknown.out" >&2; fail "refusal reason"; }
if ENTROPYD_NAME="" vsock_env vnf-a rng reseed >"$work/noname.out" 2>&1; then
  fail "vsock without LISEC_RNG_ENTROPYD_NAME accepted the daemon unchecked"
fi
grep -q "TR103308-5.15.*set LISEC_RNG_ENTROPYD_NAME" "$work/noname.out" ||
  { cat "$work/noname.out" >&2; fail "no-name refusal reason"; }
if ENTROPYD_NAME=other.example vsock_env vnf-a rng reseed >"$work/othername.out" 2>&1; then
  fail "vsock: a daemon certificate without the expected name accepted"
fi
grep -q "TR103308-5.15.*does not name other.example" "$work/othername.out" ||
  { cat "$work/othername.out" >&2; fail "wrong-name refusal reason"; }
pass "over vsock the daemon is checked for LISEC_RNG_ENTROPYD_NAME; without one it is refused"
issued=$(curl -sf "http://127.0.0.1:$mport/metrics" | grep -F 'seeds_issued_total{client="vnf-a"}' | awk '{print $NF}')
[ "${issued:-0}" -ge 2 ] || fail "vsock issuance not counted ($issued)"
kill -TERM "$pid"
wait "$pid" || fail "entropyd exit status"
grep -q "Sanitizer" "$work/entropyd.log" && { cat "$work/entropyd.log" >&2; fail "sanitizer report"; }
pass "seeds over AF_VSOCK (CID 1) with mutual TLS; unknown client refused"
echo "rng_vsock: all checks passed"
