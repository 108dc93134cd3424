#!/usr/bin/env bash
# A seed request's counter far ahead of lisec-entropyd's clock (TR 103 308
# §5.12; docs/rng.md, "The seed protocol"). The library's counter is the
# VM's real time in ns; the daemon keeps per client the highest counter of
# each of 128 streams, and a forgotten stream leaves its counter as the
# client's floor. Before, one request from a VM whose clock was a day ahead
# was served, became the floor once 128 newer streams had pushed its stream
# out, and every later stream of that client with a right clock was refused
# as a replay until the daemon restarted. Now a real daemon with [clients]
# max_counter_ahead_s = 120: a counter 60 s ahead is served, one a day
# ahead is refused (REPLAY code, naming TR103308-5.12, the setting and the
# clock), counted as requests_refused_total{reason="counter_ahead"} and not
# as a replay; then 128 new streams with right clocks, and a 129th, are all
# served (a counter within the bound can become the floor too, for at most
# the bound: vnf-b's 60 s ahead is not used for them). Bad settings stop the start naming them: max_counter_ahead_s 0,
# and [entropy] reseed_ms at or over max_stale_ms (both named).
build=${1:?build dir}
src=${2:?source dir}
# shellcheck source=lib/common.sh
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/entropyd.sh"
entropyd="$build/cmd/lisec-entropyd/lisec-entropyd"
[ -x "$entropyd" ] || fail "lisec-entropyd not built"

pki=$work/pki
make_pki "$pki"
for n in vnf-a vnf-b; do lisec pki issue "$pki" $n vnf $n >/dev/null || fail "issue $n"; done

entropyd_allowed="vnf-a, vnf-b" entropyd_start counter server "[clients]" "max_counter_ahead_s = 120"
# shellcheck disable=SC2154 # set by entropyd_start
port=$counter_PORT mport=$counter_MPORT pid=$counter_PID

# requests PORT STEM OFFSET...: one connection with $pki/STEM.crt, one
# request per OFFSET (seconds added to this machine's real time for its
# counter; "new" after it: a stream of its own, else the first request's
# stream), each answer on a line: "2" for a seed, "3 REASON" for an error.
requests() {
  python3 - "$1" "$pki/$2.crt" "$pki/$2.key" "$pki/ca.crt" "${@:3}" <<'PY'
import os, socket, ssl, struct, sys, time
port, cert, key, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
boot, inst = os.urandom(16), os.urandom(16)
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
def recv(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("connection closed")
        b += c
    return b
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, ctx.wrap_socket(raw) as s:
    for arg in sys.argv[5:]:
        off, _, new = arg.partition(":")
        stream = os.urandom(16) if new == "new" else inst
        counter = time.time_ns() + int(off) * 10**9
        body = os.urandom(32) + b"\0" * 16 + boot + stream + struct.pack(">QH", counter, 48)
        s.sendall(b"LSEE\x01\x01" + struct.pack(">H", len(body)) + body)
        hdr = recv(s, 8)
        msg = recv(s, struct.unpack(">H", hdr[6:8])[0])
        print(hdr[5], msg[4:].decode(errors="replace") if hdr[5] == 3 else "")
PY
}
refused_for() { curl -sf "http://127.0.0.1:$mport/metrics" | awk -v r="$1" '$1 == "lisec_entropyd_requests_refused_total{reason=\"" r "\"}" {print $2}'; }

# vnf-b: its counter 60 s ahead may become its floor, for 60 s at most;
# the streams below are vnf-a's.
requests "$port" vnf-b 0 60 86400 >"$work/ahead.out" || fail "no answers"
mapfile -t a <"$work/ahead.out"
[ "${a[0]}" = "2 " ] || fail "a counter at the daemon's time: ${a[0]}"
[ "${a[1]}" = "2 " ] || fail "a counter 60 s ahead (max_counter_ahead_s 120): ${a[1]}"
case ${a[2]} in
"3 TR103308-5.12: seed request refused: its counter is "86[34][0-9][0-9]" s ahead of the daemon's clock, over [clients] max_counter_ahead_s = 120 (check the VM's clock)") ;;
*) fail "a counter a day ahead: '${a[2]}', not refused naming TR103308-5.12 and max_counter_ahead_s" ;;
esac
[ "$(refused_for counter_ahead)" = 1 ] || fail "counter_ahead refusals in /metrics: $(refused_for counter_ahead)"
[ "$(refused_for replay)" = 0 ] || fail "the counter ahead counted as a replay: $(refused_for replay)"
pass "a counter 60 s ahead served, one a day ahead refused naming TR103308-5.12 and [clients] max_counter_ahead_s, counted as counter_ahead"

# vnf-a: the day-ahead request on a stream of its own, then 128 new streams
# with right clocks (the first ones forgotten), then one more: all served.
args=("86400:new")
for _ in $(seq 1 129); do args+=("0:new"); done
requests "$port" vnf-a "${args[@]}" >"$work/streams.out" || fail "no answers (streams)"
[ "$(sed -n 1p "$work/streams.out" | cut -c1)" = 3 ] || fail "the day-ahead stream was served: $(sed -n 1p "$work/streams.out")"
served=$(tail -n +2 "$work/streams.out" | grep -c '^2 $' || true)
[ "$served" = 129 ] ||
  { tail -n +2 "$work/streams.out" | grep -v '^2 $' | sort | uniq -c >&2; fail "$served of 129 new streams with a right clock served"; }
[ "$(refused_for replay)" = 0 ] || fail "right-clock streams refused as replays: $(refused_for replay)"
pass "after a counter a day ahead, 129 new streams with right clocks are all served (none refused by a floor)"
kill -TERM "$pid"
wait "$pid" || fail "lisec-entropyd exit status"
grep -q Sanitizer "$work/counter.log" && { cat "$work/counter.log" >&2; fail "sanitizer report"; }

# bad_start WHAT LINE... -- WANT: the daemon with LINEs added stops at start
# with WANT on stderr.
bad_start() {
  local what=$1 want=${*: -1} conf=$work/bad.conf
  sed '/^\[entropy\]$/,$d' "$work/counter.conf" >"$conf"
  printf '%s\n' "${@:2:$#-2}" >>"$conf"
  if "$entropyd" -c "$conf" >"$work/bad.log" 2>&1; then fail "$what: started"; fi
  grep -qF -- "$want" "$work/bad.log" || { cat "$work/bad.log" >&2; fail "$what: no reason '$want'"; }
  pass "$what stops the start, naming the setting"
}
bad_start "max_counter_ahead_s = 0" "[clients]" "max_counter_ahead_s = 0" \
  '[clients] max_counter_ahead_s = "0": expected an integer in 1..604800'
bad_start "reseed_ms = max_stale_ms" "[entropy]" "reseed_ms = 500" "max_stale_ms = 500" \
  "[entropy] reseed_ms 500 must be below [entropy] max_stale_ms 500"
bad_start "reseed_ms over max_stale_ms" "[entropy]" "reseed_ms = 5000" \
  "[entropy] reseed_ms 5000 must be below [entropy] max_stale_ms 2000"
echo "rng_counter: all checks passed"
