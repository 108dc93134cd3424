#!/usr/bin/env python3
"""Clients that attack lisecd's HTTPS front as an outside tester would
(front_limits.sh, front_linger.sh), written with Python's socket and ssl modules only,
sharing nothing with lisecd.

  front_client.py hold PORT CA CERT KEY N FRONT_PID
      opens N mutual TLS connections one after another, each asking
      GET /healthz and kept open; once all were tried, asks again on each
      one still open, and prints a JSON object: {"answered": connections
      that got 200 to both requests, "fds": descriptors lisecd's front
      process FRONT_PID holds while they are open}. Closes them all before
      it exits.
  front_client.py crowd PORT CA CERT KEY N OTHER_CERT OTHER_KEY M
      opens N mutual TLS connections with CERT one after another, each
      asking GET /healthz, and keeps those answered 200; then, while they
      are open, M with OTHER_CERT the same way; then asks again on each one
      kept. Prints {"first": {"answered": connections of CERT answered 200
      twice, "refused": [{"status", "body", "closed": lisecd closed it
      after the reply}...]}, "other": the same for OTHER_CERT}. Closes them
      all before it exits.
  front_client.py bodies PORT CA CERT KEY N LENGTH FRONT_PID
      opens N mutual TLS connections, each sending the head of a
      POST /v1/model/vm with Content-Length LENGTH and
      Expect: 100-continue; those that get 100 Continue send all of their
      body but its last byte and are held. Prints {"held": connections that
      got 100 Continue, "refused": [{"status", "retry_after", "body"}...],
      "rss_kb": the growth of FRONT_PID's resident memory while they are
      held, "chunked": the status of a chunked POST whose first chunk is sent
      while they are held (its body unfinished), "finished": the statuses
      of the held ones once they send the
      last byte, "again_finished": how many of as many new connections get
      100 Continue after that, "again_closed": the same after those were
      closed unfinished (retried, 0.1 s apart, up to 10 s, until all do)}.
  front_client.py chunked PORT CA CERT KEY N_CHUNKS PER_RECORD
  front_client.py length PORT CA CERT KEY N_BYTES PER_RECORD
      sends one POST /v1/model/vm whose body of spaces is framed in chunks
      of one byte each (chunked) or by Content-Length (length), PER_RECORD
      chunks (bytes) to a TLS record, each record its own send, waiting
      after each until lisecd has read what was sent (the socket's send
      queue empty), so lisecd gets the body a record at a time as from a
      slow client; prints the status of the reply.
  front_client.py bytewise PORT CA CERT KEY
      sends stdin over mutual TLS one byte to a TLS record, each its own
      send, waiting after each until lisecd has read it; prints the
      replies as api_client.py raw does ({"responses": [{"status",
      "body"}...], "closed"}).
  front_client.py refused PORT CA CERT KEY ATTEMPTS BODY_BYTES FIELD
      ATTEMPTS times, one after another: opens a mutual TLS connection,
      sends the head of a POST /v1/model/vm with the header field FIELD
      (its framing: "Content-Length: 3145728", ...), then BODY_BYTES bytes
      of body in writes of 16 KiB without waiting for any reply, as a
      client that does not ask Expect: 100-continue does (curl below 1 MiB,
      Python's http.client, Go's client always), and only then reads the
      reply, to the end of the connection. Prints {"results": [{"status",
      "body", "write_error": what a write raised or null, "end": "eof"
      (close_notify) or what the read raised}...]}.
  front_client.py flood PORT CA CERT KEY
      sends the head of a POST announcing a body of 1 TiB, then writes its
      body as fast as lisecd takes it, never reading, until a write fails
      (or 120 s). Prints {"sent": body bytes written, "seconds": from the
      head to the failed write, "error"}.
  front_client.py trickle PORT CA CERT KEY N PERIOD_MS OTHER_CERT OTHER_KEY
      N connections, one after another, each sending the head of a POST
      announcing a body of 1 GiB, reading lisecd's reply and the end of its
      side, then writing 16 bytes of body every PERIOD_MS (a slow loris)
      until a write fails (or 120 s). Once all N have their reply, with
      OTHER_CERT: GET /metrics (its connection lines) and GET /healthz,
      timed. Prints {"replies": [{"status", "body", "end"}...], "lasted":
      [seconds from each reply to its failed write], "metrics": {name:
      value} of lisec_connections_*, "healthz": status, "healthz_s",
      "opened_s": seconds from the first connection to the last reply}.
"""
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time

import api_client  # its reply reader and parser (same directory)

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"


def context(ca, cert, key):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    return ctx


def status_of(s):
    """The status of the reply to a request just sent on s, or None."""
    return reply_of(s)[0]


def reply_of(s):
    """(status, body) of the reply to a request just sent on s, or
    (None, None)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return None, None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        while len(body) < length:
            chunk = s.recv(4096)
            if not chunk:
                return None, None
            body += chunk
        return int(lines[0].split(" ")[1]), body[:length].decode("latin-1")
    except (OSError, ValueError, IndexError):
        return None, None


def answered_again(socks):
    """How many of socks, each answered once, answer GET /healthz again."""
    answered = 0
    for s in socks:
        try:
            s.sendall(HEALTHZ)
            if status_of(s) == 200:
                answered += 1
        except OSError:
            pass
    return answered


def cmd_hold(port, ca, cert, key, n, front_pid):
    ctx = context(ca, cert, key)
    held = []
    for _ in range(n):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.sendall(HEALTHZ)
            if status_of(s) == 200:
                held.append(s)
                continue
            s.close()
        except OSError:
            raw.close()
    answered = answered_again(held)
    fds = len(os.listdir("/proc/%d/fd" % front_pid))
    for s in held:
        s.close()
    print(json.dumps({"answered": answered, "fds": fds}))


def closed_by_peer(s):
    """Whether the peer closes s (within 5 s) with nothing more sent."""
    s.settimeout(5)
    try:
        return s.recv(4096) == b""
    except (socket.timeout, TimeoutError):
        return False
    except (ssl.SSLError, OSError):
        return True


def open_many(ctx, port, n):
    """n connections each asked GET /healthz: (those answered 200, the
    other replies as {"status", "body", "closed"})."""
    kept, refused = [], []
    for _ in range(n):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.sendall(HEALTHZ)
            status, body = reply_of(s)
            if status == 200:
                kept.append(s)
                continue
            refused.append({"status": status, "body": body, "closed": closed_by_peer(s)})
            s.close()
        except OSError as e:
            refused.append({"status": None, "body": str(e), "closed": True})
            raw.close()
    return kept, refused


def cmd_crowd(port, ca, cert, key, n, other_cert, other_key, m):
    first, first_refused = open_many(context(ca, cert, key), port, n)
    other, other_refused = open_many(context(ca, other_cert, other_key), port, m)
    out = {}
    for name, kept, refused in (("first", first, first_refused), ("other", other, other_refused)):
        out[name] = {"answered": answered_again(kept), "refused": refused}
    for s in first + other:
        s.close()
    print(json.dumps(out))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def read_head(s):
    """The status, fields and body of the next reply (an interim one
    included) on s, or (None, {}, "")."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(1)
            if not chunk:
                return None, {}, ""
            data += chunk
        lines = data.decode("latin-1").split("\r\n")
        fields = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k:
                fields[k.strip().lower()] = v.strip()
        body = b""
        length = int(fields.get("content-length", "0"))
        while len(body) < length:
            chunk = s.recv(length - len(body))
            if not chunk:
                break
            body += chunk
        return int(lines[0].split(" ")[1]), fields, body.decode("latin-1")
    except (OSError, ValueError, IndexError):
        return None, {}, ""


def open_bodies(ctx, port, n, length):
    """n connections sending a POST head with Expect: 100-continue: (those
    told to continue, the other replies)."""
    held, refused = [], []
    for _ in range(n):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.sendall(b"POST /v1/model/vm HTTP/1.1\r\nHost: l\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % length)
            status, fields, body = read_head(s)
            if status == 100:
                held.append(s)
                continue
            refused.append({"status": status, "retry_after": fields.get("retry-after"), "body": body})
            s.close()
        except OSError as e:
            refused.append({"status": None, "retry_after": None, "body": str(e)})
            raw.close()
    return held, refused


def cmd_bodies(port, ca, cert, key, n, length, front_pid):
    ctx = context(ca, cert, key)
    rss0 = rss_kb(front_pid)
    held, refused = open_bodies(ctx, port, n, length)
    for s in held:
        s.sendall(b" " * (length - 1))
    for s in held:  # lisecd has read what was sent
        for _ in range(10000):
            if unsent(s) == 0:
                break
            time.sleep(0.001)
    grew = rss_kb(front_pid) - rss0
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"POST /v1/model/vm HTTP/1.1\r\nHost: l\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n400\r\n" + b" " * 1024 + b"\r\n")
    chunked = read_head(s)[0]
    s.close()
    finished = []
    for s in held:
        s.sendall(b" ")
        finished.append(read_head(s)[0])
        s.close()
    k = len(held)
    again, _ = open_bodies(ctx, port, k, length)
    again_finished = len(again)
    for s in again:
        s.close()
    again_closed = 0
    for _ in range(100):
        again, _ = open_bodies(ctx, port, k, length)
        again_closed = len(again)
        for s in again:
            s.close()
        if again_closed == k:
            break
        time.sleep(0.1)
    print(json.dumps({"held": k, "refused": refused, "rss_kb": grew, "chunked": chunked, "finished": finished,
                      "again_finished": again_finished, "again_closed": again_closed}))


def unsent(sock):
    """Bytes the kernel still holds to send on sock (SIOCOUTQ)."""
    import fcntl
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), 0x5411, b"\0\0\0\0"))[0]


def cmd_body(port, ca, cert, key, chunked, n, per_record):
    ctx = context(ca, cert, key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=60)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    if chunked:
        framing, piece, end = b"Transfer-Encoding: chunked", b"1\r\n \r\n", b"0\r\n\r\n"
    else:
        framing, piece, end = b"Content-Length: %d" % n, b" ", b""
    s.sendall(b"POST /v1/model/vm HTTP/1.1\r\nHost: l\r\nContent-Type: application/json\r\n" + framing +
              b"\r\n\r\n")
    sent = 0
    while sent < n:
        k = min(per_record, n - sent)
        s.sendall(piece * k)
        sent += k
        # lisecd reads each record by itself, as from a client on a slow link
        for _ in range(2000):
            if unsent(s) == 0:
                break
            time.sleep(0.0005)
    if end:
        s.sendall(end)
    print(status_of(s))
    s.close()


def cmd_bytewise(port, ca, cert, key):
    ctx = context(ca, cert, key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    try:
        for b in sys.stdin.buffer.read():
            s.sendall(bytes([b]))
            for _ in range(2000):
                if unsent(s) == 0:
                    break
                time.sleep(0.0005)
    except OSError:
        pass  # lisecd closed the connection: its reply is read below
    data, closed = api_client.read_until_quiet(s, 5)
    responses, _ = api_client.parse_responses(data, False)
    print(json.dumps({"responses": responses, "closed": closed}))


POST_HEAD = b"POST /v1/model/vm HTTP/1.1\r\nHost: l\r\nContent-Type: application/json\r\n"


def read_to_end(s, seconds):
    """The reply on s and how the connection ended: (status, body, "eof"
    when the peer closed it in order, or what the read raised)."""
    s.settimeout(seconds)
    data, end = b"", "eof"
    while True:
        try:
            chunk = s.recv(65536)
        except (OSError, ssl.SSLError) as e:
            end = type(e).__name__ + ": " + str(e)
            break
        if not chunk:
            break
        data += chunk
    responses, _ = api_client.parse_responses(data, False)
    if not responses:
        return None, None, end
    return responses[0]["status"], responses[0]["body"], end


def cmd_refused(port, ca, cert, key, attempts, body_bytes, field):
    ctx = context(ca, cert, key)
    piece = b" " * 16384
    results = []
    for _ in range(attempts):
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        # an end without close_notify raises: "eof" is an end in order
        s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
        write_error, sent = None, 0
        try:
            s.sendall(POST_HEAD + field.encode() + b"\r\n\r\n")
            while sent < body_bytes:
                k = min(len(piece), body_bytes - sent)
                s.sendall(piece[:k])
                sent += k
        except OSError as e:
            write_error = "%s: %s (after %d bytes of body)" % (type(e).__name__, e, sent)
        # what a client that gives up on a failed write never reads, read
        # here all the same to show what was lost
        status, body, end = read_to_end(s, 10)
        s.close()
        results.append({"status": status, "body": body, "write_error": write_error, "end": end})
    print(json.dumps({"results": results}))


def cmd_flood(port, ca, cert, key):
    ctx = context(ca, cert, key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    piece = b" " * 65536
    s.sendall(POST_HEAD + b"Content-Length: %d\r\n\r\n" % (1 << 40))
    t0, sent, error = time.monotonic(), 0, None
    try:
        while time.monotonic() - t0 < 120:
            s.sendall(piece)
            sent += len(piece)
    except OSError as e:
        error = "%s: %s" % (type(e).__name__, e)
    seconds = time.monotonic() - t0
    s.close()
    print(json.dumps({"sent": sent, "seconds": seconds, "error": error}))


def trickler(ctx, port, period, out, replied):
    """One slow loris: its reply into out, then how long its writes went
    on after it."""
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no delayed ACK's wait per connection
        s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
        s.sendall(POST_HEAD + b"Content-Length: %d\r\n\r\n" % (1 << 30))
        status, body, end = read_to_end(s, 10)
    except OSError as e:
        out["reply"] = {"status": None, "body": str(e), "end": None}
        replied.set()
        return
    out["reply"] = {"status": status, "body": body, "end": end}
    replied.set()
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 120:
            time.sleep(period)
            s.sendall(b" " * 16)
    except OSError:
        pass
    out["lasted"] = time.monotonic() - t0
    s.close()


def cmd_trickle(port, ca, cert, key, n, period_ms, other_cert, other_key):
    ctx = context(ca, cert, key)
    outs, threads = [], []
    t_first = time.monotonic()
    for _ in range(n):
        out, replied = {}, threading.Event()
        t = threading.Thread(target=trickler, args=(ctx, port, period_ms / 1000.0, out, replied), daemon=True)
        t.start()
        replied.wait(30)
        outs.append(out)
        threads.append(t)
    opened_s = time.monotonic() - t_first
    other = context(ca, other_cert, other_key)
    metrics = {}
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with other.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
        _, body, _ = read_to_end(s, 10)
    for line in (body or "").splitlines():
        if line.startswith("lisec_connections_"):
            name, _, value = line.rpartition(" ")
            metrics[name] = float(value)
    t0 = time.monotonic()
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with other.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
        healthz, _, _ = read_to_end(s, 10)
    healthz_s = time.monotonic() - t0
    for t in threads:
        t.join(130)
    print(json.dumps({"replies": [o.get("reply") for o in outs], "lasted": [o.get("lasted") for o in outs],
                      "metrics": metrics, "healthz": healthz, "healthz_s": healthz_s, "opened_s": opened_s}))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "hold":
        cmd_hold(int(args[0]), args[1], args[2], args[3], int(args[4]), int(args[5]))
    elif cmd == "crowd":
        cmd_crowd(int(args[0]), args[1], args[2], args[3], int(args[4]), args[5], args[6], int(args[7]))
    elif cmd == "bodies":
        cmd_bodies(int(args[0]), args[1], args[2], args[3], int(args[4]), int(args[5]), int(args[6]))
    elif cmd in ("chunked", "length"):
        cmd_body(int(args[0]), args[1], args[2], args[3], cmd == "chunked", int(args[4]), int(args[5]))
    elif cmd == "bytewise":
        cmd_bytewise(int(args[0]), args[1], args[2], args[3])
    elif cmd == "refused":
        cmd_refused(int(args[0]), args[1], args[2], args[3], int(args[4]), int(args[5]), args[6])
    elif cmd == "flood":
        cmd_flood(int(args[0]), args[1], args[2], args[3])
    elif cmd == "trickle":
        cmd_trickle(int(args[0]), args[1], args[2], args[3], int(args[4]), int(args[5]), args[6], args[7])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
