#!/usr/bin/env bash
# No cryptographic session of liblisec-rng survives a clone (issue 18, item
# 2; TR 103 308 §5.10/§5.12): two twins of a cloned VM continuing one TLS
# session to lisec-entropyd would encrypt with the same keys and sequence
# numbers, reusing AES-GCM nonces. A real lisec-entropyd (getrandom and
# jitter sources, the development PKI) serves a driver process
# (rng_session_driver) that steps through start, two key generations,
# ordinary output, a generation-id change, a clock jump, a boot-id change, a
# key generation that itself sees a generation-id change, a forked child's
# key generation and a last key generation. After each step
# the daemon's counters must show exactly the fetches the step needs, each
# over a connection of its own (connections_total), and no connection left
# open (connections_active 0). This runs in one process through the
# library's test hooks; rng_vm.sh checks key generation in cloned VMs.
build=${1:?build dir}
src=${2:?source dir}
# shellcheck source=lib/common.sh
source "$src/tests/integration/lib/common.sh"

entropyd="$build/cmd/lisec-entropyd/lisec-entropyd"
driver="$build/tests/integration/rng_session_driver"
[ -x "$entropyd" ] || fail "lisec-entropyd not built"
[ -x "$driver" ] || fail "rng_session_driver not built"

pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" vnf-a vnf vnf-a >/dev/null || fail "issue vnf-a"

port=$(free_port)
mport=$(free_port)
cat >"$work/entropyd.conf" <<CONF
[server]
listen = 127.0.0.1:$port
idle_timeout_s = 30
[tls]
cert = $pki/server.crt
key = $pki/server.key
client_ca = $pki/ca.crt
[clients]
allowed = vnf-a
[metrics]
listen = 127.0.0.1:$mport
[entropy]
min_sources = 2
reseed_ms = 50
CONF
"$entropyd" -c "$work/entropyd.conf" 2>"$work/entropyd.log" &
epid=$!
cleanup_hooks+=("kill -TERM $epid 2>/dev/null; wait $epid 2>/dev/null")
metric() { curl -sf "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
for _ in $(seq 1 100); do
  [ -n "$(metric lisec_entropyd_connections_total)" ] && break
  kill -0 "$epid" 2>/dev/null || { cat "$work/entropyd.log" >&2; fail "lisec-entropyd exited at start"; }
  sleep 0.1
done
[ "$(metric lisec_entropyd_connections_total)" = 0 ] || fail "lisec-entropyd metrics not answering"

export LISEC_RNG_ENTROPYD="127.0.0.1:$port" LISEC_RNG_CERT="$pki/vnf-a.crt" \
  LISEC_RNG_KEY="$pki/vnf-a.key" LISEC_RNG_CA="$pki/ca.crt"
coproc DRV { "$driver" "$work/genid" "$work/bootid" 2>"$work/driver.log"; }
drv_pid=$DRV_PID
cleanup_hooks+=("kill $drv_pid 2>/dev/null || true")

# The connections each step must open: one per fetch. Before issue 18 a
# kept-alive session carried keygen-1/2, the generation-id, clock and
# boot-id fetches and keygen-3 (so 0 new connections each).
declare -A want=([init]=1 [keygen-1]=1 [keygen-2]=1 [bytes]=0 [genid]=1 [clock]=1 [bootid]=1
  [genid-keygen]=1 [fork-child-keygen]=1 [keygen-3]=1 [end]=0)
order=(init keygen-1 keygen-2 bytes genid clock bootid genid-keygen fork-child-keygen keygen-3 end)
total=0
for name in "${order[@]}"; do
  line=""
  read -r -t 30 line <&"${DRV[0]}" || { cat "$work/driver.log" >&2; fail "driver: no answer before step $name"; }
  read -r _ got rc <<<"$line"
  [ "$got" = "$name" ] || fail "driver: step '$got', expected '$name'"
  [ "$rc" = 0 ] || { cat "$work/driver.log" >&2; fail "step $name failed: $rc"; }
  total=$((total + want[$name]))
  # The fetch is over when the step returns; the daemon sees the close soon.
  end=$((SECONDS + 5))
  while :; do
    t=$(metric lisec_entropyd_connections_total) a=$(metric lisec_entropyd_connections_active)
    [ "$t" = "$total" ] && [ "$a" = 0 ] && break
    [ $SECONDS -lt $end ] || fail "after step $name: connections_total=$t (want $total: one per fetch), connections_active=$a (want 0: no session kept)"
    sleep 0.05
  done
  pass "step $name: $total connections in all, none left open"
  echo next >&"${DRV[1]}"
done
# The driver ends by itself after the last step: its status includes any
# sanitizer report (leaks at exit) in sanitizer builds.
drc=0
wait "$drv_pid" || drc=$?
[ $drc -eq 0 ] || { cat "$work/driver.log" >&2; fail "rng_session_driver exited $drc"; }
grep -qi "error\|refused" "$work/entropyd.log" && { cat "$work/entropyd.log" >&2; fail "lisec-entropyd logged errors"; }
pass "every fetch over a TLS session of its own, none kept across an event or a key generation"
