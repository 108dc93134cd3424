#!/usr/bin/env bash
# lisecd's HTTPS front against a penetration tester's clients (what
# api_dos.sh and api_http.sh do not cover):
#  - Hosts' connections are handed to a bulk worker after the handshake
#    ([server] bulk_workers); they still count against [server]
#    max_connections: a host certificate that opens twice the cap holds at
#    most the cap, the front's descriptors stay within it, and once they
#    close the slots are free again for other clients.
#  - The workers share the cap and the kernel hands a new connection to any
#    of them: a worker at its share stops accepting while another has room,
#    so clients are served up to the cap, not refused below it.
#  - One client certificate holds at most [server] max_client_connections
#    of the cap (by default a quarter of it): a tenant that opens as many
#    connections as the cap gets its share, the rest answered 429 naming
#    the setting and closed, counted and logged at a bounded rate, while
#    another role is served; once closed, the slots are free again. Hosts'
#    connections, served by a bulk worker, are held to the same limit and
#    freed when that worker closes them. A value over the cap, or negative,
#    stops the start and --check-config names it (as does a
#    [server] max_body_memory below [api] max_body).
#  - Unfinished request bodies hold at most [server] max_body_memory of the
#    front's memory together: with room for 4 bodies of [api] max_body,
#    of 24 connections that announce one 4 are told to continue and the
#    rest answered 503 with Retry-After naming the setting (a chunked
#    body begun meanwhile too); the front's
#    resident memory grows by about what the 4 hold (all 24 held on main:
#    some 40 MB); the room comes back when a body completes and when a
#    connection with an unfinished body closes.
#  - A chunked body sent a record at a time costs the front about what the
#    same body framed by Content-Length does: what was scanned of it is not
#    scanned again at every record (a body of many small chunks, trickled,
#    made the front rescan all of it per record: quadratic CPU on the worker
#    that serves every other client of that worker). A chunked body sent a
#    byte to a TLS record (size lines, extensions, data, CRLFs and trailer
#    each split) is decoded as when sent at once, two in a row on one
#    connection; a malformed one so sent is refused naming the rule.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
release_only "it measures the front's CPU time, which a sanitizer build multiplies"
. "$src/tests/integration/lib/pki.sh"

pki=$work/pki
make_pki "$pki"
fc() { python3 "$src/tests/integration/front_client.py" "$@"; }
front_pid() { pgrep -P "$LISECD_PID" -x lisecd-front; }
metric() { as operator "$LISECD_URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# cpu_ticks PID: user + system time of one process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# ---- hosts' connections count against max_connections ----------------------
# (one certificate may hold the whole cap here: this is about the cap)
cap=64
start_lisecd "$pki" "[server]" "max_connections = $cap" "max_client_connections = $cap" "bulk_workers = 1"
front=$(front_pid)
fds0=$(ls "/proc/$front/fd" | wc -l)
fc hold "$LISECD_PORT" "$pki/ca.crt" "$pki/host.crt" "$pki/host.key" $((2 * cap)) "$front" >"$work/hold.json"
python3 - "$work/hold.json" "$cap" "$fds0" <<'PY' || fail "host connections over the cap: $(cat "$work/hold.json") (cap $cap, $fds0 descriptors before)"
import json, sys
r, cap, fds0 = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
assert cap - 2 <= r["answered"] <= cap, "held %d connections" % r["answered"]
assert r["fds"] <= fds0 + cap, "the front held %d descriptors" % r["fds"]
PY
held=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["answered"])' "$work/hold.json")
# wait_closed: until lisecd counts no connection open but the one asking.
wait_closed() {
  local open
  for _ in $(seq 1 100); do
    open=$(metric lisec_connections_open || true)
    [ "${open:-99}" -le 1 ] && return 0
    sleep 0.1
  done
  fail "connections still count as open after their client closed them: $open"
}
# Once the client closed them, each slot is free again, and as many as the
# cap but 2 are all served (over both workers: one at its share leaves new
# connections to the other).
for round in 1 2 3; do
  wait_closed
  fc hold "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key" $((cap - 2)) "$front" >"$work/hold.json"
  python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); assert r["answered"] == int(sys.argv[2]), r' \
    "$work/hold.json" $((cap - 2)) || fail "$((cap - 2)) connections at max_connections = $cap (round $round): $(cat "$work/hold.json")"
done
pass "$((2 * cap)) host connections at max_connections = $cap: $held held, within the cap; their slots free again once closed; $((cap - 2)) operator connections all served, three times"
stop_clean

# ---- one client certificate holds at most its share of the cap --------------
# crowd_check FILE LIMIT REFUSED OTHER: the first certificate had LIMIT
# connections served and REFUSED answered 429 naming the setting and
# closed; the other certificate had OTHER served.
crowd_check() {
  python3 - "$@" <<'PY' || fail "one certificate's connections past its limit: $(cat "$1")"
import json, sys
r, limit, refused, other = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
first = r["first"]
assert first["answered"] == limit, "the certificate held %d connections, limit %d" % (first["answered"], limit)
assert len(first["refused"]) == refused, "%d refused, want %d" % (len(first["refused"]), refused)
for x in first["refused"]:
    assert x["status"] == 429 and x["closed"], x
    err = json.loads(x["body"])["error"]
    assert err["code"] == "too_many_requests" and "[server] max_client_connections" in err["message"], err
assert r["other"]["answered"] == other and not r["other"]["refused"], r["other"]
PY
}
start_lisecd "$pki" "[server]" "max_connections = $cap"
# The default: a quarter of the cap. A tenant opens as many as the cap.
limit=$((cap / 4))
fc crowd "$LISECD_PORT" "$pki/ca.crt" "$pki/tenant-example.crt" "$pki/tenant-example.key" $cap \
  "$pki/mano.crt" "$pki/mano.key" $limit >"$work/crowd.json"
crowd_check "$work/crowd.json" $limit $((cap - limit)) $limit
[ "$(metric 'lisec_connections_closed_total{reason="client_cap"}')" = $((cap - limit)) ] ||
  fail "refusals at the client limit not counted: $(as operator "$LISECD_URL/metrics" | grep connections_closed)"
said=$(grep -c 'max_client_connections' "$work/lisecd.log" || true)
[ "$said" -ge 1 ] && [ "$said" -le 6 ] || fail "$((cap - limit)) refusals at the client limit took $said log lines"
wait_closed
fc hold "$LISECD_PORT" "$pki/ca.crt" "$pki/tenant-example.crt" "$pki/tenant-example.key" $limit "$(front_pid)" >"$work/hold.json"
python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); assert r["answered"] == int(sys.argv[2]), r' \
  "$work/hold.json" $limit || fail "the tenant's slots are not free again once closed: $(cat "$work/hold.json")"
pass "a tenant opening $cap connections at max_connections = $cap: $limit served (the default quarter), $((cap - limit)) answered 429 naming the setting and closed, counted, $said log lines; $limit MANO connections served meanwhile; the tenant's slots free again once closed"
stop_clean

# Set explicitly; hosts' connections, which a bulk worker serves and closes.
start_lisecd "$pki" "[server]" "max_connections = $cap" "max_client_connections = 5" "bulk_workers = 1"
for round in 1 2; do
  fc crowd "$LISECD_PORT" "$pki/ca.crt" "$pki/host.crt" "$pki/host.key" 9 \
    "$pki/li-admin.crt" "$pki/li-admin.key" 5 >"$work/crowd.json"
  crowd_check "$work/crowd.json" 5 4 5
  wait_closed
done
pass "max_client_connections = 5: a host's certificate held 5 connections on the bulk worker, 4 more refused 429; the LI administration's 5 served; freed once closed (twice)"
stop_clean

# A client limit the cap cannot hold, or a negative one, and room for
# bodies below [api] max_body: the start stops, naming the setting (the
# last start's file, max_connections = $cap, with the bad value).
for bad in "max_client_connections = $((cap + 1))" "max_client_connections = -1" "max_body_memory = 1000000"; do
  refuses_setting "$bad"
done
pass "max_client_connections over max_connections or negative, max_body_memory below max_body: --check-config and the start refuse them, naming them"

# ---- memory in unfinished request bodies ----------------------------------------
body=1048576 room=4
start_lisecd "$pki" "[server]" "max_body_memory = $((room * body))" "[api]" "max_body = $body"
fc bodies "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key" 24 $body "$(front_pid)" >"$work/bodies.json"
python3 - "$work/bodies.json" $room $body <<'PY' || fail "unfinished bodies past max_body_memory: $(cut -c1-2000 "$work/bodies.json")"
import json, sys
r, room, body = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
assert r["held"] == room, "%d bodies held, room for %d" % (r["held"], room)
assert len(r["refused"]) == 24 - room, r["refused"]
for x in r["refused"]:
    assert x["status"] == 503 and x["retry_after"] and int(x["retry_after"]) >= 1, x
    assert "[server] max_body_memory" in json.loads(x["body"])["error"]["message"], x
# what the 4 hold (their buffers as they grew, ~10 MB measured) and some
# slack; all 24 held took some 40 MB
assert r["rss_kb"] <= (3 * room * body + 4 * 1048576) // 1024, "the front grew by %d kB" % r["rss_kb"]
assert r["chunked"] == 503, "a chunked body begun while the room was taken: %s" % r["chunked"]
assert r["finished"] == [400] * room, r["finished"]  # a body of spaces is malformed JSON
assert r["again_finished"] == room and r["again_closed"] == room, r
PY
pass "24 bodies of $body bytes announced at max_body_memory = $room of them: $room held, the rest 503 with Retry-After naming the setting, and a chunked one begun meanwhile; the front grew by $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rss_kb"])' "$work/bodies.json") kB; room again once the bodies completed, and once their connections closed"
stop_clean

# ---- a chunked body trickled a record at a time ------------------------------
start_lisecd "$pki"
front=$(front_pid)
# 100,000 one-byte chunks (600 KB on the wire), 20 to a record: 5,000 records.
n=100000 per=20
t=$(cpu_ticks "$front")
st=$(fc length "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key" $((n * 6)) $((per * 6)))
length_ticks=$(($(cpu_ticks "$front") - t))
[ "$st" = 400 ] || fail "the body framed by Content-Length: status $st (a body of spaces is malformed JSON)"
t=$(cpu_ticks "$front")
st=$(fc chunked "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key" $n $per)
chunked_ticks=$(($(cpu_ticks "$front") - t))
[ "$st" = 400 ] || fail "the chunked body: status $st (a body of spaces is malformed JSON)"
# The same records either way: a chunked body costs its decoding besides,
# never a rescan per record (which took some 30 times the other's CPU).
[ $chunked_ticks -le $((3 * length_ticks + hz / 2)) ] ||
  fail "a chunked body took $chunked_ticks ticks of the front's CPU, the same bytes by Content-Length $length_ticks ($hz a second)"
as operator -o /dev/null "$LISECD_URL/healthz" || fail "lisecd does not serve after the chunked body"
pass "a chunked body of $n one-byte chunks, $per to a record: $chunked_ticks ticks of the front's CPU, by Content-Length $length_ticks"

bytewise() { fc bytewise "$LISECD_PORT" "$pki/ca.crt" "$pki/operator.crt" "$pki/operator.key"; }
post=$'POST /v1/model/vm HTTP/1.1\r\nHost: l\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'
last=$'GET /healthz HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n'
# The body {"note":1} in three chunks: a route that reads it names the
# missing field, not malformed JSON; then the same with other chunk sizes.
printf '%s%s%s%s%s' "$post" $'3;x="a;b"\r\n{"n\r\n6\r\note":1\r\n1\r\n}\r\n0\r\nX-T: 1\r\n\r\n' \
  "$post" $'A\r\n{"note":1}\r\n0\r\n\r\n' "$last" | bytewise >"$work/bytes.json"
python3 - "$work/bytes.json" <<'PY' || fail "a chunked body a byte to a record: $(cat "$work/bytes.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert [x["status"] for x in r["responses"]] == [400, 400, 200] and r["closed"], r
for x in r["responses"][:2]:
    msg = json.loads(x["body"])["error"]["message"]
    assert "required" in msg and "malformed JSON" not in msg, msg
PY
for case in $'3\r\n{"n\r\n6\r\note":1XX1\r\n}\r\n0\r\n\r\n|chunk data not followed by CRLF' \
  $'3\r\n{"n\r\n6\nnote":1\r\n0\r\n\r\n|bare LF' $'3 x\r\n{"n\r\n0\r\n\r\n|chunk-size line'; do
  printf '%s%s%s' "$post" "${case%%|*}" "$last" | bytewise >"$work/bytes.json"
  python3 - "$work/bytes.json" "${case#*|}" <<'PY' || fail "a malformed chunked body a byte to a record: $(cat "$work/bytes.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert [x["status"] for x in r["responses"]] == [400] and r["closed"], r
assert sys.argv[2] in json.loads(r["responses"][0]["body"])["error"]["message"], r
PY
done
pass "chunked bodies a byte to a TLS record: two in a row decoded, malformed ones refused naming the rule"
stop_clean
