#!/usr/bin/env bash
# lisecd's lingering close ([server] linger_ms, linger_bytes), against
# clients that write their body before they read, over mutual TLS:
#  - A request refused before its body was read (413 over [api] max_body,
#    a Content-Length that is not a number) is answered, and the client,
#    which goes on writing its body (3 MiB, or 2 MiB, in 16 KiB writes, no
#    Expect: 100-continue) and reads only then, writes all of it and reads
#    the whole answer naming the rule, the connection then ended in order
#    (close_notify): 20 times in a row, and 5 for the framing refusal, with
#    the default settings. Before it, lisecd closed the socket with the body
#    unread, the kernel reset the connection, and the client's write failed
#    (20 times of 20 on loopback), so a client that gives up on a
#    failed write (Python's http.client, most) never read the answer.
#  - The bounds: a client that writes as fast as it can after the refusal
#    is closed once lisecd has dropped linger_bytes (1 MiB, long before
#    linger_ms = 30 s); slow lorises that write 16 bytes every 50 ms after
#    their answer are closed at linger_ms (5 s); lingering connections count
#    against [server] max_connections (the cap is full of them), at the cap
#    the oldest lingering ones are closed for new connections, and another
#    client is served at once meanwhile.
#  - A linger_ms or linger_bytes out of bounds stops the start and
#    --check-config, naming it.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/pki.sh"

pki=$work/pki
make_pki "$pki"
fc() { python3 "$src/tests/integration/front_client.py" "$@"; }

# ---- the answer to a refused request reaches a client still writing ---------
# refused_check FILE N STATUS TEXT: N attempts, each answered STATUS with a
# message holding TEXT, after the client wrote all of its body, and the
# connection then ended in order.
refused_check() {
  python3 - "$@" <<'PY' || fail "a client writing its body after the refusal: $(cut -c1-3000 "$1")"
import json, sys
r, n, status, text = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
res = r["results"]
assert len(res) == n, len(res)
bad = [x for x in res if x["write_error"] or x["status"] != status or x["end"] != "eof"
       or text not in json.loads(x["body"])["error"]["message"]]
assert not bad, "%d of %d attempts: %s" % (len(bad), n, bad[:3])
PY
}
start_lisecd "$pki"
fc refused "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key" 20 $((3 << 20)) \
  "Content-Length: $((3 << 20))" >"$work/refused.json"
refused_check "$work/refused.json" 20 413 "[api] max_body"
fc refused "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key" 5 $((2 << 20)) \
  "Content-Length: 12a" >"$work/refused.json"
refused_check "$work/refused.json" 5 400 "Content-Length"
as operator -o /dev/null "$LISECD_URL/healthz" || fail "lisecd does not serve after the refusals"
pass "a client writing a 3 MiB body after its head, without waiting: the whole 413 naming [api] max_body read 20 times of 20, the body all written, the connection ended with close_notify; a bad Content-Length's 400 likewise, 5 of 5"
stop_clean

# ---- the byte bound ----------------------------------------------------------------
start_lisecd "$pki" "[server]" "linger_ms = 30000" "linger_bytes = 1048576"
fc flood "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key" >"$work/flood.json"
python3 - "$work/flood.json" <<'PY' || fail "a client flooding a lingering connection: $(cat "$work/flood.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["error"], r  # closed by lisecd, not by the client's 120 s
assert r["seconds"] < 15, "closed after %.1f s: not at the byte bound, long before linger_ms = 30 s" % r["seconds"]
# lisecd lingered (it dropped 1 MiB of TLS records, some 1,000,000 bytes of body)
assert r["sent"] >= 1000000, "closed after %d bytes of body: it did not linger" % r["sent"]
PY
as operator -o /dev/null "$LISECD_URL/healthz" || fail "lisecd does not serve after the flood"
pass "a client writing as fast as it can after its 413: closed once linger_bytes = 1 MiB was dropped, after $(python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); print("%d bytes, %.2f s" % (r["sent"], r["seconds"]))' "$work/flood.json") (linger_ms = 30 s)"
stop_clean

# ---- the time bound, the cap, others served meanwhile ----------------------------
# max_connections = 32 (the least the descriptors' reserve leaves room for
# with two workers and no bulk worker), 16 a worker; 36 slow lorises opened
# one after another (52 took 4 s in the sanitizer build under load without
# TCP_NODELAY, 0.2 s with it), then the LI administration's GET /metrics
# and GET /healthz.
cap=32 n=36 linger=5
start_lisecd "$pki" "[server]" "max_connections = $cap" "max_client_connections = $cap" "bulk_workers = 0" \
  "linger_ms = $((linger * 1000))" "linger_bytes = 1073741824"
fc trickle "$LISECD_PORT" "$pki/ca.crt" "$pki/mano.crt" "$pki/mano.key" $n 50 \
  "$pki/li-admin.crt" "$pki/li-admin.key" >"$work/trickle.json"
python3 - "$work/trickle.json" $cap $n $linger <<'PY' || fail "slow lorises on lingering connections: $(python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); r["replies"] = sorted({str(x) for x in r["replies"]}); print(json.dumps(r))' "$work/trickle.json" | cut -c1-3000)"
import json, sys
r, cap, n, linger = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
for x in r["replies"]:
    assert x["status"] == 413 and x["end"] == "eof", x
    assert "[api] max_body" in json.loads(x["body"])["error"]["message"], x
m = r["metrics"]
# the cap full of lingering connections (and the one asking): they count
# (all opened well within linger_ms, so none ended at its bound yet)
assert r["opened_s"] < linger - 2, "opening %d connections took %.1f s" % (n, r["opened_s"])
assert m["lisec_connections_open"] >= cap - 1, m
assert m['lisec_connections_closed_total{reason="evicted"}'] >= n - cap, m
assert r["healthz"] == 200 and r["healthz_s"] < 2, "another client: %s after %.2f s" % (r["healthz"], r["healthz_s"])
lasted = r["lasted"]
assert all(t is not None and t < linger + 2 for t in lasted), "a slow loris outlived linger_ms: %s" % lasted
# all but those evicted for new connections held to linger_ms, then closed
held = [t for t in lasted if t >= 0.8 * linger]
assert len(held) >= cap - 6, "%d of %d slow lorises lingered until linger_ms: %s" % (len(held), n, lasted)
PY
as operator -o /dev/null "$LISECD_URL/healthz" || fail "lisecd does not serve after the slow lorises"
pass "$n slow lorises writing 16 bytes every 50 ms after their 413: closed at linger_ms = ${linger} s (the oldest evicted at max_connections = $cap for new ones), the cap full of them meanwhile, another client served in $(python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); print("%.2f s (all opened in %.1f s)" % (r["healthz_s"], r["opened_s"]))' "$work/trickle.json")"
stop_clean

# ---- bounds of the settings ----------------------------------------------------
for bad in "linger_ms = -1" "linger_ms = 60001" "linger_bytes = 1000" "linger_bytes = 1073741825"; do
  refuses_setting "$bad" linger_
done
pass "linger_ms and linger_bytes out of bounds: --check-config and the start refuse them, naming them"
