#!/usr/bin/env bash
# Which certificate liblisec-rng takes for lisec-entropyd's (TR 103 308
# §5.15: seeds from the trusted source outside the VM, not from anything
# else the CA certified). Real lisec-entropyd daemons, one per certificate,
# all issued by the development CA the VNF trusts: the daemon's own
# (serverAuth, subjectAltName localhost / 127.0.0.1), one naming another
# host, one with the right names but only clientAuth, one with the right
# names and no extended key usage, one naming localhost only in its subject
# CN, a VNF's own client certificate, and the daemon's certificate from
# another CA. Over TCP (`lisec rng reseed`) and with the vsock rule
# (rng_server_id_driver: a vsock address on a TCP loopback socket, so it
# runs where the kernel has no vsock loopback; rng_vsock.sh runs the same
# rule over real AF_VSOCK where it has). Only the daemon's own certificate
# gives a seed; a vsock address without LISEC_RNG_ENTROPYD_NAME is refused
# before any connection; every refusal names TR103308-5.15 and its reason.
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
lisec pki issue "$pki" vnf-x vnf vnf-x >/dev/null || fail "issue vnf-x"
make_pki "$work/other"

# issue STEM CN [EXTENSION...]: a daemon's certificate for CN.
issue() { issue_cert "$1" "/O=lisec test/CN=$2" "${@:3}"; }
names=subjectAltName=DNS:localhost,IP:127.0.0.1
issue wrongname entropyd-elsewhere extendedKeyUsage=serverAuth subjectAltName=DNS:other.example
issue clientonly localhost extendedKeyUsage=clientAuth "$names"
issue noeku localhost "$names"
issue cnonly localhost extendedKeyUsage=serverAuth
cp "$work/other/server.crt" "$pki/otherca.crt"
cp "$work/other/server.key" "$pki/otherca.key"

# One daemon per certificate (lib/entropyd.sh): NAME_PORT.
daemons=(good wrongname clientonly noeku cnonly vnfx otherca)
for d in "${daemons[@]}"; do
  case $d in
  good) entropyd_start good server ;;
  vnfx) entropyd_start vnfx vnf-x ;;
  *) entropyd_start "$d" "$d" ;;
  esac
done

vnf_env=(LISEC_RNG_CERT="$pki/vnf-a.crt" LISEC_RNG_KEY="$pki/vnf-a.key" LISEC_RNG_CA="$pki/ca.crt")

# vsock D [NAME]: the vsock rule against daemon D (a vsock address on a TCP
# loopback socket), the daemon's name NAME when given. Output in $work/out.
vsock() {
  local p="${1}_PORT"
  env -u LISEC_RNG_ENTROPYD_NAME "${vnf_env[@]}" ${2:+LISEC_RNG_ENTROPYD_NAME="$2"} \
    "$driver" "vsock:2:7443" "${!p}" >"$work/out" 2>&1
}
# tcp ADDR_HOST D [NAME]: `lisec rng reseed` against daemon D over TCP.
tcp() {
  local p="${2}_PORT"
  env -u LISEC_RNG_ENTROPYD_NAME "${vnf_env[@]}" LISEC_RNG_ENTROPYD="$1:${!p}" \
    ${3:+LISEC_RNG_ENTROPYD_NAME="$3"} "$build/cmd/lisec/lisec" rng reseed >"$work/out" 2>&1
}
# refused WHAT PATTERN COMMAND...: COMMAND fails, and says PATTERN and the
# clause.
refused() {
  local what=$1 pattern=$2 rc=0
  shift 2
  "$@" || rc=$?
  [ "$rc" != 0 ] || { cat "$work/out" >&2; fail "$what: accepted"; }
  ! grep -q Sanitizer "$work/out" || { cat "$work/out" >&2; fail "$what: sanitizer report"; }
  [ "$rc" = 1 ] || { cat "$work/out" >&2; fail "$what: exit status $rc, not a refusal"; }
  if ! grep -q "TR103308-5.15" "$work/out" || ! grep -q -- "$pattern" "$work/out"; then
    cat "$work/out" >&2
    fail "$what: refused without the reason ($pattern)"
  fi
  pass "$what: refused ($(grep -o -- "$pattern" "$work/out" | head -1))"
}

# --- the vsock rule --------------------------------------------------------
vsock good localhost || { cat "$work/out" >&2; fail "vsock: the daemon's own certificate refused"; }
grep -q "^seed 48 bytes" "$work/out" || { cat "$work/out" >&2; fail "vsock: no seed"; }
pass "vsock: the daemon's certificate naming localhost gives a seed"
vsock good 127.0.0.1 || { cat "$work/out" >&2; fail "vsock: an IP address as the name refused"; }
pass "vsock: an IP address as the expected name is checked against the IP SAN"
refused "vsock without LISEC_RNG_ENTROPYD_NAME" "set LISEC_RNG_ENTROPYD_NAME" \
  vsock good
refused "vsock: the daemon's certificate when another name is expected" "does not name other.example" \
  vsock good other.example
refused "vsock: a server certificate of the CA naming another host" "does not name localhost" \
  vsock wrongname localhost
refused "vsock: the right names with clientAuth only" "must include serverAuth" \
  vsock clientonly localhost
refused "vsock: the right names without extended key usage" "must include serverAuth" \
  vsock noeku localhost
refused "vsock: localhost only in the subject CN" "does not name localhost" \
  vsock cnonly localhost
refused "vsock: a VNF's client certificate as the daemon's" "must include serverAuth" \
  vsock vnfx localhost
refused "vsock: a VNF's client certificate, its own CN expected" "must include serverAuth" \
  vsock vnfx vnf-x
refused "vsock: the right names from another CA" "certificate at vsock:2:7443 refused" \
  vsock otherca localhost

# --- TCP: the host dialled, or LISEC_RNG_ENTROPYD_NAME ------------------------
tcp 127.0.0.1 good || { cat "$work/out" >&2; fail "tcp: the daemon's certificate refused"; }
tcp localhost good || { cat "$work/out" >&2; fail "tcp: localhost refused"; }
tcp 127.0.0.1 good localhost || { cat "$work/out" >&2; fail "tcp: the configured name refused"; }
pass "tcp: the daemon's certificate accepted for 127.0.0.1, localhost and a configured name"
refused "tcp: the daemon's certificate when another name is configured" "does not name other.example" \
  tcp 127.0.0.1 good other.example
refused "tcp: a server certificate naming another host" "does not name 127.0.0.1" \
  tcp 127.0.0.1 wrongname
refused "tcp: the right names with clientAuth only" "must include serverAuth" \
  tcp 127.0.0.1 clientonly
refused "tcp: the right names without extended key usage" "must include serverAuth" \
  tcp 127.0.0.1 noeku
refused "tcp: localhost only in the subject CN" "does not name localhost" \
  tcp localhost cnonly
refused "tcp: a VNF's client certificate as the daemon's" "must include serverAuth" \
  tcp 127.0.0.1 vnfx

# --- the library from its environment: fail closed before any connection --
keygen_vsock() {
  env -u LISEC_RNG_ENTROPYD_NAME "${vnf_env[@]}" LISEC_RNG_ENTROPYD="vsock:2:7443" \
    "$build/cmd/lisec/lisec" rng keygen 32 >"$work/key" 2>"$work/out"
}
refused "keygen over vsock without LISEC_RNG_ENTROPYD_NAME" "set LISEC_RNG_ENTROPYD_NAME" keygen_vsock
[ ! -s "$work/key" ] || fail "keygen over vsock without a name wrote bytes"

for d in "${daemons[@]}"; do
  grep -q "Sanitizer" "$work/$d.log" && { cat "$work/$d.log" >&2; fail "sanitizer report ($d)"; }
done
echo "rng_server_id: all checks passed"
