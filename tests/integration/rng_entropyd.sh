#!/usr/bin/env bash
# lisec-entropyd with real components: a swtpm TPM 2.0 as one of its sources
# (checked first with tpm2-tools), the development PKI for mutual TLS.
# Checks: a registered VNF gets seeds through liblisec-rng (`lisec rng
# reseed`, `lisec rng keygen`); an unknown client is refused; a replayed
# request (raw bytes sent twice with `openssl s_client`) is refused, in the
# same connection and in a new one; /metrics and /v1/health report every
# source's SP 800-90B state; and a daemon whose only source is stuck
# (/dev/zero) trips the repetition count test and fails closed.
build=${1:?build dir}
src=${2:?source dir}
# shellcheck source=lib/common.sh
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/entropyd.sh" # entropyd_up

entropyd="$build/cmd/lisec-entropyd/lisec-entropyd"
[ -x "$entropyd" ] || fail "lisec-entropyd not built"

pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" vnf-a vnf vnf-a >/dev/null || fail "issue vnf-a"
lisec pki issue "$pki" vnf-x vnf vnf-x >/dev/null || fail "issue vnf-x"

# --- swtpm, a real TPM 2.0 over TCP ------------------------------------------
# tpm_start DIR: a swtpm (scripts/test/swtpm-start, stopped at the end);
# its TCTI in $tpm_tcti, its process in $tpm_pid.
tpm_start() {
  "$src/scripts/test/swtpm-start" "$1" >/dev/null || fail "swtpm in $1 did not start"
  cleanup_hooks+=("kill -CONT $(cat "$1/swtpm.pid") 2>/dev/null; '$src/scripts/test/swtpm-stop' '$1'")
  local port
  read -r port _ <"$1/swtpm.ports"
  tpm_tcti="swtpm:host=127.0.0.1,port=$port"
  tpm_pid=$(cat "$1/swtpm.pid")
}
tpm_start "$work/tpm"
tcti=$tpm_tcti
tpm2_getrandom -T "$tcti" --hex 16 >/dev/null 2>&1 || fail "swtpm does not answer TPM2_GetRandom"
pass "swtpm answers tpm2_getrandom"

# start_entropyd NAME [config lines...]: sets <NAME>_PORT, <NAME>_MPORT.
start_entropyd() {
  local name=$1
  shift
  local port mport
  port=$(free_port)
  mport=$(free_port)
  {
    echo "[server]"
    echo "listen = 127.0.0.1:$port"
    echo "idle_timeout_s = 2"
    echo "[tls]"
    echo "cert = $pki/server.crt"
    echo "key = $pki/server.key"
    echo "client_ca = $pki/ca.crt"
    echo "[clients]"
    echo "allowed = vnf-a, vnf-b"
    echo "[metrics]"
    echo "listen = 127.0.0.1:$mport"
    for line in "$@"; do echo "$line"; done
  } >"$work/$name.conf"
  "$entropyd" -c "$work/$name.conf" 2>"$work/$name.log" &
  entropyd_up "$name" "$port" "$mport" $!
}

metric() { curl -sf "http://127.0.0.1:$1/metrics" | grep -v '^#' | grep -F "$2" | awk '{print $NF}'; }

# --- a healthy daemon: getrandom, jitter and the TPM --------------------------
start_entropyd good \
  "[entropy]" "min_sources = 2" "reseed_ms = 50" \
  "[source.rdseed]" "enabled = false" \
  "[source.tpm]" "enabled = true" "tcti = $tcti"
for _ in $(seq 1 50); do
  [ "$(metric "$good_MPORT" 'lisec_entropyd_serving ')" = 1 ] && break
  sleep 0.1
done
[ "$(metric "$good_MPORT" 'lisec_entropyd_serving ')" = 1 ] || { cat "$work/good.log" >&2; fail "entropyd not serving"; }
[ "$(metric "$good_MPORT" 'lisec_entropyd_source_healthy{source="tpm"}')" = 1 ] || fail "TPM source not healthy"
tpm_samples=$(metric "$good_MPORT" 'lisec_entropyd_source_samples_total{source="tpm"}' || true)
[ "${tpm_samples:-0}" -gt 0 ] || fail "no samples from the TPM"
pass "entropyd serving from getrandom, jitter and swtpm ($tpm_samples TPM samples tested)"

rng_env() {
  env LISEC_RNG_ENTROPYD="127.0.0.1:$good_PORT" LISEC_RNG_CERT="$pki/$1.crt" \
    LISEC_RNG_KEY="$pki/$1.key" LISEC_RNG_CA="$pki/ca.crt" "${@:2}"
}

# --- the registered VNF gets seeds ---------------------------------------------
rng_env vnf-a "$build/cmd/lisec/lisec" rng reseed >"$work/reseed.out" 2>&1 ||
  { cat "$work/reseed.out" >&2; fail "registered VNF could not reseed"; }
n=$(rng_env vnf-a "$build/cmd/lisec/lisec" rng keygen 64 | wc -c)
[ "$n" = 64 ] || fail "keygen with a fresh external seed gave $n bytes"
issued=$(metric "$good_MPORT" 'lisec_entropyd_seeds_issued_total{client="vnf-a"}' || true)
[ "${issued:-0}" -ge 2 ] || fail "issuance not counted for vnf-a ($issued)"
pass "registered VNF vnf-a reseeds and generates keys ($issued seeds counted)"

# --- an unknown client is refused -------------------------------------------------
if rng_env vnf-x "$build/cmd/lisec/lisec" rng reseed >"$work/unknown.out" 2>&1; then
  fail "unknown client vnf-x got a seed"
fi
grep -q "not a registered VNF identity" "$work/unknown.out" || { cat "$work/unknown.out" >&2; cat "$work/good.log" | tail -5 >&2; fail "unknown-client refusal reason missing"; }
if rng_env vnf-x "$build/cmd/lisec/lisec" rng keygen 32 >/dev/null 2>&1; then
  fail "keygen succeeded for an unknown client"
fi
[ "$(metric "$good_MPORT" 'requests_refused_total{reason="unknown_client"}')" -ge 1 ] || fail "unknown client not counted"
pass "unknown client vnf-x refused (and its keygen fails closed)"

# --- a vsock address that does not fit is refused, not wrapped ---------------------
# (strtoul would read CID 4294967298 as 2, the host)
for bad in vsock:4294967298:5000 vsock:2:99999999999 vsock:two:5000 vsock:2:; do
  if env LISEC_RNG_ENTROPYD="$bad" LISEC_RNG_CERT="$pki/vnf-a.crt" LISEC_RNG_KEY="$pki/vnf-a.key" \
    LISEC_RNG_CA="$pki/ca.crt" "$build/cmd/lisec/lisec" rng reseed >"$work/vsock.out" 2>&1; then
    fail "entropyd address $bad accepted"
  fi
  grep -q "is not vsock:CID:PORT" "$work/vsock.out" || { cat "$work/vsock.out" >&2; fail "$bad: no reason naming the form"; }
done
pass "vsock addresses past 2^32 or not decimal are refused naming the form"

# --- a peer that trickles its bytes cannot hold a fetch past its deadline -----
# Between the VNF and the daemon, a proxy passes the daemon's bytes on one at a
# time, 0.2 s apart: each read sees a byte well inside the library's 2 s I/O
# timeout, but the handshake's few KB would take minutes. A fetch has one
# deadline (2 s, two attempts), so `lisec rng reseed` must give up in seconds,
# saying why; without it, it waited for the whole trickle.
tport2=$(free_port)
python3 - "$tport2" "$good_PORT" >"$work/trickle.log" 2>&1 <<'PY' &
import socket, sys, threading, time
lport, dport = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport)); ls.listen(16)
def pump(src, dst, slow):
    try:
        while True:
            b = src.recv(1 if slow else 65536)
            if not b: break
            dst.sendall(b)
            if slow: time.sleep(0.2)
    except OSError:
        pass
    for s in (src, dst):
        try: s.close()
        except OSError: pass
while True:
    c, _ = ls.accept()
    d = socket.create_connection(("127.0.0.1", dport))
    threading.Thread(target=pump, args=(c, d, False), daemon=True).start()
    threading.Thread(target=pump, args=(d, c, True), daemon=True).start()
PY
trickle=$!
cleanup_hooks+=("kill $trickle 2>/dev/null")
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$tport2") 2>/dev/null && break; sleep 0.1; done
rc=0
env LISEC_RNG_ENTROPYD="127.0.0.1:$tport2" LISEC_RNG_CERT="$pki/vnf-a.crt" \
  LISEC_RNG_KEY="$pki/vnf-a.key" LISEC_RNG_CA="$pki/ca.crt" \
  timeout 60 "$build/cmd/lisec/lisec" rng keygen 32 >"$work/trickle.out" 2>&1 || rc=$?
[ "$rc" != 124 ] || fail "a trickling peer held key generation for 60 s (the fetch deadline is 2 s)"
[ "$rc" != 0 ] || fail "key generation succeeded through a peer that never finished the handshake"
grep -q "within 2000 ms" "$work/trickle.out" || { cat "$work/trickle.out" >&2; fail "the refusal does not name the fetch deadline"; }
kill "$trickle" 2>/dev/null
pass "a trickling peer cannot hold a fetch past its 2 s deadline: key generation fails closed in seconds"

# --- a replayed request is refused ---------------------------------------------------
python3 - "$work/req.bin" <<'PY'
import os, struct, sys, time
# nonce, generation id (unknown: zero), boot id, instance, counter, length
body = os.urandom(32) + b"\0" * 16 + os.urandom(16) + os.urandom(16) + struct.pack(">QH", time.time_ns(), 48)
open(sys.argv[1], "wb").write(b"LSEE\x01\x01" + struct.pack(">H", len(body)) + body)
PY
s_client() {
  timeout 10 openssl s_client -connect "127.0.0.1:$good_PORT" -cert "$pki/vnf-a.crt" \
    -key "$pki/vnf-a.key" -CAfile "$pki/ca.crt" -verify_return_error -quiet 2>/dev/null
}
cat "$work/req.bin" "$work/req.bin" | s_client >"$work/replay1.bin" || true
cat "$work/req.bin" | s_client >"$work/replay2.bin" || true
python3 - "$work/replay1.bin" "$work/replay2.bin" <<'PY' || fail "replay not refused"
import struct, sys
a = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
def msgs(buf):
    out = []
    while len(buf) >= 8:
        n = struct.unpack(">H", buf[6:8])[0]
        out.append((buf[5], buf[8:8 + n]))
        buf = buf[8 + n:]
    return out
m1, m2 = msgs(a), msgs(b)
assert len(m1) == 2, m1
assert m1[0][0] == 2 and len(m1[0][1]) == 32 + 8 + 2 + 48, "first request should get a seed"
assert m1[1][0] == 3 and b"replayed" in m1[1][1], m1[1]
assert len(m2) == 1 and m2[0][0] == 3 and b"replayed" in m2[0][1], m2
PY
[ "$(metric "$good_MPORT" 'requests_refused_total{reason="replay"}')" -ge 2 ] || fail "replays not counted"
pass "replayed request refused in the same connection and in a new one"

# --- health reporting ----------------------------------------------------------------
curl -sf "http://127.0.0.1:$good_MPORT/v1/health" >"$work/health.json" || fail "/v1/health"
python3 - "$work/health.json" <<'PY' || fail "/v1/health content"
import json, sys
h = json.load(open(sys.argv[1]))
assert h["serving"] is True
s = {x["source"]: x for x in h["sources"]}
assert s["tpm"]["state"] == "ok" and s["getrandom"]["state"] == "ok" and s["jitter"]["state"] == "ok"
assert s["getrandom"]["rct_cutoff"] == 9 and s["getrandom"]["apt_cutoff"] == 71
assert h["findings"] == []
PY
"$build/cmd/lisec/lisec" rng health --url "http://127.0.0.1:$good_MPORT" >"$work/health.txt" ||
  fail "lisec rng health --url"
grep -q "^tpm .*ok" "$work/health.txt" || fail "lisec rng health does not show the TPM"
pass "metrics and lisec rng health show each source's test state"

# --- the per-client rate limit -----------------------------------------------------------
start_entropyd slow "[clients]" "rate = 1" "burst = 2" \
  "[entropy]" "reseed_ms = 50" "[source.rdseed]" "enabled = false"
sleep 0.3
slow_env() {
  env LISEC_RNG_ENTROPYD="127.0.0.1:$slow_PORT" LISEC_RNG_CERT="$pki/vnf-a.crt" \
    LISEC_RNG_KEY="$pki/vnf-a.key" LISEC_RNG_CA="$pki/ca.crt" "$build/cmd/lisec/lisec" rng reseed
}
# One process spends the burst (its start-up fetch and the reseed) ...
slow_env >"$work/slow1.out" 2>&1 || { cat "$work/slow1.out" "$work/slow.log" >&2; fail "first reseed under the rate limit"; }
# ... the next, at once, is over the limit.
if slow_env >"$work/slow2.out" 2>&1; then fail "rate limit not enforced"; fi
grep -q "rate limit" "$work/slow2.out" || { cat "$work/slow2.out" >&2; fail "rate refusal reason missing"; }
[ "$(metric "$slow_MPORT" 'requests_refused_total{reason="rate"}')" -ge 1 ] || fail "rate refusals not counted"
kill -TERM "$slow_PID"
wait "$slow_PID" || true
pass "per-client rate limit refuses the request over the burst"

# --- a stuck source trips the RCT and the daemon fails closed ------------------------
start_entropyd stuck \
  "[entropy]" "min_sources = 1" "reseed_ms = 50" \
  "[source.rdseed]" "enabled = false" "[source.getrandom]" "enabled = false" \
  "[source.jitter]" "enabled = false" \
  "[source.device]" "enabled = true" "path = /dev/zero" "min_entropy = 4"
sleep 0.3
[ "$(metric "$stuck_MPORT" 'lisec_entropyd_serving ')" = 0 ] || fail "stuck daemon still serving"
metric "$stuck_MPORT" 'source_state{source="device",state="failed_repetition_count"}' | grep -qx 1 ||
  fail "stuck device not reported as failed_repetition_count"
curl -sf "http://127.0.0.1:$stuck_MPORT/v1/health" | grep -q '"requirement":"TR103308-4.2"' ||
  fail "no finding for the stuck source"
if env LISEC_RNG_ENTROPYD="127.0.0.1:$stuck_PORT" LISEC_RNG_CERT="$pki/vnf-a.crt" \
  LISEC_RNG_KEY="$pki/vnf-a.key" LISEC_RNG_CA="$pki/ca.crt" \
  "$build/cmd/lisec/lisec" rng reseed >"$work/stuck.out" 2>&1; then
  fail "a daemon without healthy sources served a seed"
fi
grep -q "healthy entropy source" "$work/stuck.out" || { cat "$work/stuck.out" >&2; fail "fail-closed reason missing"; }
pass "stuck source trips the repetition count test; entropyd fails closed"

# --- a source whose read never returns: the service still fails closed -------
# The collector reads the sources in turn; a TPM that stops answering (here a
# swtpm of its own, stopped with SIGSTOP: TPM2_GetRandom waits for it with no
# timeout) holds the collector in that read, so no round ends and nothing
# reseeds. max_stale_ms must then stop the service all the same.
tpm_start "$work/tpm-hang"
hang_tpm=$tpm_pid
htcti=$tpm_tcti
start_entropyd hang \
  "[entropy]" "min_sources = 1" "reseed_ms = 50" "max_stale_ms = 500" \
  "[source.rdseed]" "enabled = false" "[source.getrandom]" "enabled = false" \
  "[source.jitter]" "enabled = false" \
  "[source.tpm]" "enabled = true" "tcti = $htcti"
# A later hook runs first: the daemon's SIGTERM needs the TPM running.
cleanup_hooks+=("kill -CONT $hang_tpm 2>/dev/null")
hang_env() {
  env LISEC_RNG_ENTROPYD="127.0.0.1:$hang_PORT" LISEC_RNG_CERT="$pki/vnf-a.crt" \
    LISEC_RNG_KEY="$pki/vnf-a.key" LISEC_RNG_CA="$pki/ca.crt" "$build/cmd/lisec/lisec" rng reseed
}
for _ in $(seq 1 50); do
  [ "$(metric "$hang_MPORT" 'lisec_entropyd_serving ')" = 1 ] && break
  sleep 0.1
done
hang_env >"$work/hang0.out" 2>&1 || { cat "$work/hang0.out" "$work/hang.log" >&2; fail "TPM-only daemon does not serve"; }
kill -STOP "$hang_tpm"
# Bounded wait for the refusal (max_stale_ms is 500 ms; allow 15 s).
refused=0
for _ in $(seq 1 75); do
  if ! hang_env >"$work/hang.out" 2>&1; then refused=1; break; fi
  sleep 0.2
done
[ "$refused" = 1 ] || { tail -5 "$work/hang.log" >&2; fail "a daemon whose source hangs kept serving seeds past max_stale_ms"; }
grep -q "TR103308-4.2: no reseed from credited entropy within 500 ms" "$work/hang.out" ||
  { cat "$work/hang.out" >&2; fail "stale refusal does not name the requirement"; }
[ "$(metric "$hang_MPORT" 'lisec_entropyd_serving ')" = 0 ] || fail "a daemon whose source hangs reports serving"
curl -sf "http://127.0.0.1:$hang_MPORT/v1/health" | grep -q '"serving":false' ||
  fail "/v1/health of a daemon whose source hangs says serving"
kill -CONT "$hang_tpm"
# The TPM answers again: the collector's rounds resume and so does the service.
served=0
for _ in $(seq 1 75); do
  if hang_env >"$work/hang2.out" 2>&1; then served=1; break; fi
  sleep 0.2
done
[ "$served" = 1 ] || { cat "$work/hang2.out" >&2; fail "service did not resume once the TPM answered"; }
# SIGTERM while the TPM hangs again: the daemon must still stop (its final
# report and issuance summary included), not wait for the read for ever.
kill -STOP "$hang_tpm"
hang_env >/dev/null 2>&1 || true
# (Stale again: the collector is surely in the TPM's read now.)
for _ in $(seq 1 150); do
  [ "$(metric "$hang_MPORT" 'lisec_entropyd_serving ')" = 0 ] && break
  sleep 0.1
done
[ "$(metric "$hang_MPORT" 'lisec_entropyd_serving ')" = 0 ] || fail "the daemon did not go stale again"
kill -TERM "$hang_PID"
for _ in $(seq 1 150); do kill -0 "$hang_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$hang_PID" 2>/dev/null; then
  kill -CONT "$hang_tpm"
  fail "SIGTERM did not stop a daemon whose source hangs"
fi
hang_rc=0
wait "$hang_PID" || hang_rc=$?
[ "$hang_rc" = 0 ] || { tail -5 "$work/hang.log" >&2; fail "the daemon exited with $hang_rc"; }
grep -q "audit seed-issuance client=vnf-a" "$work/hang.log" || fail "no issuance summary at a stop with a hung source"
kill -CONT "$hang_tpm"
pass "a source whose read hangs stops the service after max_stale_ms (fail closed), it resumes, and SIGTERM still stops the daemon"

# --- one peer cannot take every connection slot ------------------------------
# Connections count against [server] max_connections before any certificate is
# seen; one peer (a VM over vsock, an address over TCP) holding them all would
# leave every other VNF without seeds, and their key generation fails closed.
# [server] max_connections_per_peer bounds what one peer holds. The holder
# here connects from 127.0.0.2 and sends nothing; the VNF comes from 127.0.0.1.
start_entropyd peers "[server]" "max_connections = 4" "max_connections_per_peer = 2" \
  "idle_timeout_s = 60" "[entropy]" "reseed_ms = 50" "[source.rdseed]" "enabled = false"
for _ in $(seq 1 50); do
  [ "$(metric "$peers_MPORT" 'lisec_entropyd_serving ')" = 1 ] && break
  sleep 0.1
done
python3 - "$peers_PORT" "$peers_MPORT" "$work/peers.fifo" <<'PY' &
import socket, sys, time, urllib.request
port, mport, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def metric(name):
    for line in urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5).read().decode().splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[-1]))
    return 0
held = []
for _ in range(4):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    held.append(s)
# Every one of them accepted (given a slot) or refused by the daemon.
for _ in range(100):
    if metric("lisec_entropyd_connections_total") + metric('lisec_entropyd_connections_refused_total{reason="per_peer"}') >= 4:
        break
    time.sleep(0.1)
open(ready, "w").write("held\n")
time.sleep(30)  # held until the test is done with them (killed then)
PY
holder=$!
cleanup_hooks+=("kill $holder 2>/dev/null")
for _ in $(seq 1 100); do [ -s "$work/peers.fifo" ] && break; sleep 0.1; done
[ -s "$work/peers.fifo" ] || fail "the holder of connections did not connect"
peers_env() {
  env LISEC_RNG_ENTROPYD="127.0.0.1:$peers_PORT" LISEC_RNG_CERT="$pki/vnf-a.crt" \
    LISEC_RNG_KEY="$pki/vnf-a.key" LISEC_RNG_CA="$pki/ca.crt" "$build/cmd/lisec/lisec" rng reseed
}
peers_env >"$work/peers.out" 2>&1 ||
  { cat "$work/peers.out" >&2; fail "one peer holding connections kept a registered VNF from its seed"; }
[ "$(metric "$peers_MPORT" 'lisec_entropyd_connections_refused_total{reason="per_peer"}')" = 2 ] ||
  fail "the peer's connections past max_connections_per_peer were not refused"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null || true
kill -TERM "$peers_PID"
wait "$peers_PID" || true
# A per-peer bound over the whole cap is refused at start, naming both.
sed 's/^max_connections_per_peer = 2$/max_connections_per_peer = 5/' "$work/peers.conf" >"$work/peers-bad.conf"
if timeout 20 "$entropyd" -c "$work/peers-bad.conf" >"$work/peers-bad.log" 2>&1; then
  fail "max_connections_per_peer over max_connections accepted"
fi
grep -q "max_connections_per_peer 5 is over max_connections 4" "$work/peers-bad.log" ||
  { cat "$work/peers-bad.log" >&2; fail "bad max_connections_per_peer: no reason naming it"; }
pass "one peer holds at most max_connections_per_peer connections; other VNFs still get seeds"

# --- both daemons stop cleanly on SIGTERM (no sanitizer report in ASan builds) --
for name in good stuck; do
  pid_var="${name}_PID"
  kill -TERM "${!pid_var}"
  rc=0
  wait "${!pid_var}" || rc=$?
  grep -q "Sanitizer" "$work/$name.log" && { cat "$work/$name.log" >&2; fail "$name: sanitizer report"; }
  [ "$rc" = 0 ] || { tail -20 "$work/$name.log" >&2; fail "$name exited with $rc on SIGTERM"; }
done
grep -q "audit seed-issuance client=vnf-a" "$work/good.log" || fail "no issuance audit line for vnf-a"
pass "entropyd stops cleanly and logs issuance counts (no seed values)"

echo "rng_entropyd: all checks passed"
