#!/usr/bin/env bash
# lisec-ne against peers that hold it up, as a penetration tester would try:
# its events server (lisecd, --events-server) accepts the connection and
# never answers, and the ADMF's requests are still answered (activate,
# Ping) while that connection is held: no X1 answer waits for lisecd. A
# peer that connects and sends nothing, or its TLS handshake and half a
# request, or either a byte at a time, is let go after --timeout seconds
# instead of holding a descriptor for good; the ADMF is answered
# afterwards; a --timeout outside
# 1-3600 is refused. A peer with any certificate of the CA (an operator's,
# not the ADMF's) that sends headers without end is cut off at
# --max-header-bytes instead of filling the NE's memory. Peers holding every
# descriptor make accepting pause, logged at a bounded rate, not spin.
# Past --max-connections a connection is closed at once, and the ADMF's
# connection is answered while peers hold every other place. When the held
# connection is let go, lisec-ne stops cleanly with its events kept for
# later (the log says they were not taken).
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator admf-1 >/dev/null
lisec pki issue "$pki" other operator someone >/dev/null
cd "$work"
"$build/cmd/lisec-event/lisec-event" keygen --key poi.key --pub poi.pub >/dev/null || fail "lisec-event keygen"

# An events server that accepts and never answers: each connection is held
# (and logged) until the file release exists; then it closes them all and
# closes every later one at once.
cat >stall.py <<'PY'
import os, socket, sys, threading, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
open("listening", "w").close()
log = open(sys.argv[2], "a", buffering=1)
def hold(c):
    log.write("accepted\n")
    c.settimeout(0.1)
    while not os.path.exists("release"):
        try:
            if not c.recv(4096):
                log.write("closed by lisec-ne\n")
                return
        except socket.timeout:
            pass
        except OSError:
            log.write("closed by lisec-ne\n")
            return
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=hold, args=(c,), daemon=True).start()
PY
ports=$("$src/scripts/test/free-ports" 2)
ev_port=${ports%%$'\n'*} ne_port=${ports##*$'\n'}
python3 stall.py "$ev_port" stall.log &
stall_pid=$!
cleanup_hooks+=("touch $work/release; kill $stall_pid 2>/dev/null; wait $stall_pid 2>/dev/null")
for _ in $(seq 100); do [ -e listening ] && break; sleep 0.1; done

ne=("$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key"
  --ca "$pki/ca.crt" --ne-id poi-1 --admf-id admf-1 --events-server "https://127.0.0.1:$ev_port"
  --events-ca "$pki/ca.crt" --events-cert "$pki/host.crt" --events-tls-key "$pki/host.key"
  --events-key poi.key --events-vm poi-1 --events-state poi.seq)
for t in 0 3601 2x ""; do
  rc=0
  "${ne[@]}" --timeout "$t" 2>bad.log || rc=$?
  [ "$rc" = 2 ] && grep -q -- "--timeout $t: seconds" bad.log || fail "--timeout '$t' not refused (rc $rc): $(cat bad.log)"
done
for b in 1023 65537 8k; do
  rc=0
  "${ne[@]}" --max-header-bytes "$b" 2>bad.log || rc=$?
  [ "$rc" = 2 ] && grep -q -- "--max-header-bytes $b: bytes" bad.log ||
    fail "--max-header-bytes '$b' not refused (rc $rc): $(cat bad.log)"
done
"${ne[@]}" --timeout 2 2>ne.log &
ne_pid=$!
cleanup_hooks+=("touch $work/release; kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null")
# its start event goes out first, and is held
for _ in $(seq 300); do grep -q accepted stall.log && break; sleep 0.1; done
grep -q accepted stall.log || fail "lisec-ne did not send its start event: $(cat ne.log)"
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$ne_port) 2>/dev/null && break; sleep 0.1; done

x1() { # TYPE BODY N: the answer (the client waits up to 120 s)
  curl -sS --max-time 120 --cacert "$pki/ca.crt" --cert "$pki/admf.crt" --key "$pki/admf.key" \
    -H 'Content-Type: application/xml' --data-binary "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<X1Request xmlns=\"http://uri.etsi.org/03221/X1/2017/10\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">
 <x1RequestMessage xsi:type=\"$1\"><admfIdentifier>admf-1</admfIdentifier><neIdentifier>poi-1</neIdentifier>
  <messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version>
  <x1TransactionId>6a1f2e3d-0000-4000-8000-00000000000$3</x1TransactionId>$2</x1RequestMessage></X1Request>" \
    "https://localhost:$ne_port/X1/NE"
}
XID=29f28e1c-f230-486a-a860-f5a784ab9172
TASK="<taskDetails><xId>$XID</xId><targetIdentifiers><targetIdentifier><imsi>244051234567890</imsi></targetIdentifier></targetIdentifiers><deliveryType>X2andX3</deliveryType><listOfDIDs><dId>0b5d9b3a-8c9e-4d8b-9a55-5d8f1e2a3b4c</dId></listOfDIDs></taskDetails>"
x1 ActivateTaskRequest "$TASK" 1 >a1.xml || fail "activate: no answer"
grep -q AcknowledgedAndCompleted a1.xml || fail "activate: $(cat a1.xml)"
x1 PingRequest "" 2 >a2.xml || fail "Ping: no answer"
grep -q PingResponse a2.xml || fail "Ping: $(cat a2.xml)"
# the answers came while the events connection was held, not after it ended
! grep -q 'closed by lisec-ne' stall.log || fail "the X1 answers waited for the events server: $(cat stall.log; cat ne.log)"
pass "activate and Ping answered while the events server holds lisec-ne's connection unanswered"

# peers that connect and send nothing, or a TLS handshake and half a request
cat >idle.py <<'PY'
import socket, ssl, sys
port, how = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
if how == "tls":
    ctx = ssl.create_default_context(cafile=sys.argv[3])
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    s = ctx.wrap_socket(s, server_hostname="localhost")
    s.sendall(b"POST /X1/NE HTTP/1.1\r\nHost: localhost\r\n")
s.settimeout(120)  # a bound on the test, far beyond --timeout 2
try:
    print("let go" if not s.recv(4096) else "answered")
except socket.timeout:
    print("held")
except OSError:
    print("let go")
PY
python3 idle.py "$ne_port" tcp >idle_tcp.out &
p1=$!
python3 idle.py "$ne_port" tls "$pki/ca.crt" "$pki/admf.crt" "$pki/admf.key" >idle_tls.out &
p2=$!
wait $p1 $p2
grep -qx 'let go' idle_tcp.out || fail "a connection that sent nothing: $(cat idle_tcp.out)"
grep -qx 'let go' idle_tls.out || fail "a connection with half a request: $(cat idle_tls.out)"
x1 PingRequest "" 3 | grep -q PingResponse || fail "Ping after the idle peers"
pass "idle peers (nothing sent; TLS and half a request) let go after --timeout; the ADMF answered after"

# peers that send a byte every half second, each well within --timeout of
# the last: the start of a TLS handshake (no certificate needed), and,
# after a handshake with a certificate of the CA that is not the ADMF's,
# a request's headers. --timeout bounds the whole, not each pause: both are
# let go after about 2 s, and by 20 s at the latest.
cat >trickle.py <<'PY'
import socket, ssl, sys, time
port, how = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
data = b"\x16\x03\x01\x40\x00" + b"\x01" * 4096  # a ClientHello's record header, then its body
if how == "tls":
    ctx = ssl.create_default_context(cafile=sys.argv[3])
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    s = ctx.wrap_socket(s, server_hostname="localhost")
    data = b"POST /X1/NE HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 4096
start = time.monotonic()
s.settimeout(0.5)
try:
    for i in range(40):  # 20 s at most
        s.send(data[i:i + 1])
        try:
            if not s.recv(4096):
                break
        except socket.timeout:
            pass
    else:
        print("held")
        sys.exit(0)
except (OSError, ssl.SSLError):
    pass
print("let go after %.0f s" % (time.monotonic() - start))
PY
python3 trickle.py "$ne_port" tcp >trickle_tcp.out &
p1=$!
python3 trickle.py "$ne_port" tls "$pki/ca.crt" "$pki/other.crt" "$pki/other.key" >trickle_tls.out &
p2=$!
wait $p1 $p2
grep -q '^let go' trickle_tcp.out || fail "a TLS handshake sent a byte at a time was not let go: $(cat trickle_tcp.out)"
grep -q '^let go' trickle_tls.out || fail "a request sent a byte at a time was not let go: $(cat trickle_tls.out)"
x1 PingRequest "" 5 | grep -q PingResponse || fail "Ping after the peers sending a byte at a time"
pass "peers sending a byte at a time (a handshake; a request's headers) let go after --timeout ($(cat trickle_tcp.out), $(cat trickle_tls.out)); the ADMF answered after"

# headers without end from a certificate of the CA that is not the ADMF's:
# up to 256 MB offered, cut off long before
cat >headers.py <<'PY'
import socket, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.load_cert_chain(sys.argv[3], sys.argv[4])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.settimeout(120)
line = b"X-Filler: " + b"a" * 8000 + b"\r\n"
try:
    s.sendall(b"POST /X1/NE HTTP/1.1\r\nHost: localhost\r\n")
    for _ in range(256 * 128):
        s.sendall(line)
    s.sendall(b"Content-Length: 0\r\n\r\n")
    answer = s.recv(64)
    print("answered " + (answer.split(b" ")[1].decode() if answer else "nothing"))
except (OSError, ssl.SSLError):
    print("cut off")
PY
python3 headers.py "$ne_port" "$pki/ca.crt" "$pki/other.crt" "$pki/other.key" >headers.out
grep -qx 'cut off\|answered 4[0-9][0-9]' headers.out || fail "headers without end were taken: $(cat headers.out)"
x1 PingRequest "" 4 | grep -q PingResponse || fail "Ping after the endless headers"
pass "headers without end (a certificate of the CA, not the ADMF's) cut off; the ADMF answered after"

# Peers holding every descriptor (no certificate needed: a TCP connection
# each): accept() fails, the listening socket stays readable, and libevent
# tried again at once, logging each failure, as fast as it could (some
# 150,000 lines a second). lisec-ne pauses accepting instead and says so
# once; when the peers' deadline lets them go, the ADMF is answered.
fd_port=$("$src/scripts/test/free-ports" 1)
(ulimit -n 40 && exec "$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$fd_port" --cert "$pki/server.crt" \
  --key "$pki/server.key" --ca "$pki/ca.crt" --ne-id poi-1 --admf-id admf-1 --timeout 3) 2>fd.log &
fd_pid=$!
cleanup_hooks+=("kill $fd_pid 2>/dev/null; wait $fd_pid 2>/dev/null")
wait_port "$fd_port"
cat >hold.py <<'PY'
import socket, sys, time
socks = []
for _ in range(60):  # more than its 40 descriptors
    try:
        socks.append(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1))
    except OSError:
        break
time.sleep(2)  # within --timeout 3: none let go meanwhile
print(len(socks))
PY
held=$(python3 hold.py "$fd_port")
[ "$held" -ge 40 ] || fail "the peers did not get lisec-ne's descriptors ($held connections)"
kill -0 $fd_pid 2>/dev/null || fail "lisec-ne ended when its descriptors ran out: $(tail -3 fd.log)"
lines=$(grep -c 'accept' fd.log || true)
[ "$lines" -le 5 ] || fail "accept() failing for 2 s made $lines log lines: $(head -3 fd.log)"
grep -q 'TR103308-5.2: no descriptor left' fd.log || fail "the pause in accepting is not logged: $(head -3 fd.log)"
cat >ping.xml <<XML
<?xml version="1.0" encoding="UTF-8"?>
<X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <x1RequestMessage xsi:type="PingRequest"><admfIdentifier>admf-1</admfIdentifier><neIdentifier>poi-1</neIdentifier>
  <messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version>
  <x1TransactionId>6a1f2e3d-0000-4000-8000-000000000009</x1TransactionId></x1RequestMessage></X1Request>
XML
ok=
for _ in $(seq 100); do  # 10 s at most; the peers' connections end with the script
  curl -sS --max-time 2 --cacert "$pki/ca.crt" --cert "$pki/admf.crt" --key "$pki/admf.key" --data-binary @ping.xml \
    "https://localhost:$fd_port/X1/NE" 2>/dev/null | grep -q PingResponse && ok=1 && break
  sleep 0.1
done
[ -n "$ok" ] || fail "lisec-ne does not answer once the peers are gone: $(tail -3 fd.log)"
pass "peers holding every descriptor: accepting pauses ($lines log line(s) in 2 s), and the ADMF is answered after"

# --max-connections: at most N connections open that have not shown the
# ADMF's certificate; one more is closed at once (before its TLS
# handshake), logged at a bounded rate, and the ADMF's connection, once
# its first request came, counts apart: peers holding every place leave it
# answered. A new connection of the ADMF's is refused like any other
# while they hold them (docs/x1.md), and answered once they are let go.
for b in 0 100001 x; do
  rc=0
  "$build/cmd/lisec-ne/lisec-ne" --listen 127.0.0.1:1 --cert "$pki/server.crt" --key "$pki/server.key" \
    --ca "$pki/ca.crt" --ne-id poi-1 --admf-id admf-1 --max-connections "$b" 2>bad.log || rc=$?
  [ "$rc" = 2 ] && grep -q -- "--max-connections $b: connections" bad.log ||
    fail "--max-connections '$b' not refused (rc $rc): $(cat bad.log)"
done
cap_port=$("$src/scripts/test/free-ports" 1)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$cap_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-1 --admf-id admf-1 --timeout 30 --max-connections 8 2>cap.log &
cap_pid=$!
cleanup_hooks+=("kill $cap_pid 2>/dev/null; wait $cap_pid 2>/dev/null")
wait_port "$cap_port"
cat >cap.py <<'PY'
import http.client, socket, ssl, sys, time
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ping = open("ping.xml").read()
def admf():
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    ctx.check_hostname = False
    return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
def answered(c):
    c.request("POST", "/X1/NE", body=ping, headers={"Content-Type": "application/xml"})
    r = c.getresponse()
    return r.status == 200 and b"PingResponse" in r.read()
def closed_at_once(s):
    s.settimeout(1)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True
kept = admf()
assert answered(kept), "the ADMF's first Ping"
peers, held, shut = [], 0, 0
for _ in range(30):  # plain TCP: any peer reaching the port
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    peers.append(s)
for s in peers:
    if closed_at_once(s):
        shut += 1
    else:
        held += 1
assert (held, shut) == (8, 22), "held %d, closed at once %d (want 8 and 22)" % (held, shut)
t0 = time.monotonic()
assert answered(kept), "the ADMF's kept connection while peers hold the cap"
late = admf()
try:
    refused = not answered(late)
except (OSError, http.client.HTTPException):
    refused = True
assert refused, "a new connection past the cap was answered"
for s in peers:
    s.close()
for _ in range(50):  # the peers' places free as lisec-ne sees them close
    try:
        if answered(admf()):
            break
    except (OSError, http.client.HTTPException):
        time.sleep(0.1)
else:
    sys.exit("a new ADMF connection not answered once the peers left")
print("held %d, closed at once %d" % (held, shut))
PY
cat >ping.xml <<XML
<?xml version="1.0" encoding="UTF-8"?>
<X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <x1RequestMessage xsi:type="PingRequest"><admfIdentifier>admf-1</admfIdentifier><neIdentifier>poi-1</neIdentifier>
  <messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version>
  <x1TransactionId>6a1f2e3d-0000-4000-8000-00000000000a</x1TransactionId></x1RequestMessage></X1Request>
XML
out=$(python3 cap.py "$cap_port" "$pki/ca.crt" "$pki/admf.crt" "$pki/admf.key" 2>&1) || fail "--max-connections 8: $out"
lines=$(grep -c 'max-connections' cap.log || true)
[ "$lines" -ge 1 ] && [ "$lines" -le 3 ] || fail "23 connections refused made $lines log line(s): $(head -5 cap.log)"
kill -0 $cap_pid || fail "lisec-ne ended: $(tail -3 cap.log)"
kill -TERM $cap_pid
rc=0
wait $cap_pid || rc=$?
[ "$rc" = 0 ] && ! grep -q 'Sanitizer\|runtime error' cap.log || fail "lisec-ne with a cap stopped $rc: $(tail -5 cap.log)"
pass "--max-connections 8: $out, logged $lines time(s); the ADMF's kept connection answered meanwhile, a new one after"

touch release
kill -TERM $ne_pid
rc=0
wait $ne_pid || rc=$?
[ "$rc" = 0 ] || fail "lisec-ne did not stop cleanly (exit $rc): $(cat ne.log)"
grep -q 'not taken' ne.log || fail "lisec-ne does not say its events were not taken: $(cat ne.log)"
pass "with the events server let go, lisec-ne stopped cleanly, its events not taken and said so"
