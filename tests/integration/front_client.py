#!/usr/bin/env python3
"""Clients that attack lisecd's HTTPS front as an outside tester would
(front_limits.sh), written with Python's socket and ssl modules only,
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
"""
import json
import os
import socket
import ssl
import struct
import sys
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
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
