#!/usr/bin/env python3
"""Raw clients for lisecd's transport tests (api_http.sh, api_dos.sh), written
with Python's socket and ssl modules only, sharing nothing with lisecd.

  api_client.py raw PORT CA CERT KEY [--head-first]
      sends stdin (bytes as they are) over mutual TLS, reads until lisecd
      closes the connection or 3 s pass without data, and prints a JSON
      object: {"responses": [{"status", "headers", "body"}...], "closed":
      bool, "trailing": bytes left unparsed}. Responses are split by
      Content-Length; with --head-first the first one (the reply to a HEAD)
      is taken as headers only, whatever its Content-Length says, so any
      body it carried shows up as trailing bytes.
  api_client.py keep PORT CA CERT KEY SECONDS
      over one mutual TLS connection, GET /healthz, wait SECONDS, GET
      /healthz again; prints both statuses, or "closed" for the second
      when lisecd closed the connection in between.
  api_client.py flood PORT N_IDLE N_TRICKLE SECONDS [REOPEN_MS [STOP_FILE]]
      holds N_IDLE bare TCP connections that send nothing and N_TRICKLE that
      send a TLS ClientHello one byte each 100 ms, reopening each one
      REOPEN_MS (default 500, give or take 40 %) after lisecd closes it, for
      SECONDS, or until STOP_FILE exists; prints {"opened",
      "closed_by_server"}.
  api_client.py trickle PORT CA CERT KEY SECONDS
      over one mutual TLS connection, sends a GET /healthz a byte every
      200 ms and never finishes it (its headers go on), for at most SECONDS;
      prints how many seconds passed until lisecd closed the connection (or
      SECONDS when it did not).
  api_client.py early PORT CA CERT KEY
      a mutual TLS 1.3 handshake whose last flight (certificate, Finished)
      and stdin's requests, sealed right after it, leave in one write, so
      lisecd reads them with one recv; reads until lisecd closes the
      connection or 3 s pass; prints what raw prints, and "close_notify":
      whether lisecd said it closed (TLS close_notify) before the TCP end.
  api_client.py forged PORT CA CERT KEY
      over one mutual TLS connection, GET /healthz, then sends a TLS record
      that is not the session's (bytes no key made); prints how lisecd ended
      the connection: the alert's reason ("SSLV3_ALERT_BAD_RECORD_MAC"), or
      "eof" when it closed without one.
  api_client.py wait-close PORT [SEND_HELLO_BYTES]
      opens one bare TCP connection (optionally sends the first bytes of a
      ClientHello) and prints how many seconds passed until lisecd closed it
      (or 30 when it did not).
"""
import json
import os
import random
import selectors
import socket
import ssl
import sys
import time


def client_hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def parse_responses(data, head_first):
    responses = []
    while data.startswith(b"HTTP/1."):
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        lines = data[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        data = data[end + 4:]
        if head_first and not responses:
            length = 0
        else:
            length = int(headers.get("content-length", ["0"])[0])
        body, data = data[:length], data[length:]
        responses.append({"status": status, "headers": headers, "body": body.decode("latin-1")})
    return responses, data


def read_until_quiet(s, seconds):
    """What s receives until the peer closes it or sends nothing for
    seconds: (the bytes, whether the peer closed)."""
    s.settimeout(seconds)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, TimeoutError):
            return data, False
        except (ssl.SSLError, ConnectionResetError):
            return data, True
        if not chunk:
            return data, True
        data += chunk


def cmd_raw(port, ca, cert, key, head_first):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    request = sys.stdin.buffer.read()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(request)
            data, closed = read_until_quiet(s, 3)
    responses, rest = parse_responses(data, head_first)
    print(json.dumps({"responses": responses, "closed": closed, "trailing": rest.decode("latin-1")}))


def cmd_keep(port, ca, cert, key, seconds):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
    statuses = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            for i in range(2):
                if i:
                    time.sleep(seconds)
                data = b""
                try:
                    s.sendall(request)
                    while b"ok\n" not in data:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    data = b""
                responses, _ = parse_responses(data, False)
                statuses.append(str(responses[0]["status"]) if responses else "closed")
    print(" ".join(statuses))


def cmd_flood(port, n_idle, n_trickle, seconds, reopen_s, stop_file=None):
    hello = client_hello()
    sel = selectors.DefaultSelector()
    slots = [{"kind": "idle"} for _ in range(n_idle)] + [{"kind": "trickle"} for _ in range(n_trickle)]
    opened = closed = 0
    now = time.monotonic()
    end = now + seconds
    for s in slots:
        s.update(sock=None, reopen=now, pos=0, next_send=now)

    def open_slot(s):
        nonlocal opened
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        s.update(sock=sock, pos=0, next_send=time.monotonic() + 0.1)
        sel.register(sock, selectors.EVENT_READ, s)
        opened += 1

    def close_slot(s):
        sel.unregister(s["sock"])
        s["sock"].close()
        s.update(sock=None, reopen=time.monotonic() + reopen_s * random.uniform(0.6, 1.4))

    while time.monotonic() < end and not (stop_file and os.path.exists(stop_file)):
        now = time.monotonic()
        for s in slots:
            if s["sock"] is None and now >= s["reopen"]:
                try:
                    open_slot(s)
                except OSError:
                    s["reopen"] = now + 0.05
            elif s["sock"] is not None and s["kind"] == "trickle" and now >= s["next_send"]:
                try:
                    if s["pos"] < len(hello):
                        s["sock"].send(hello[s["pos"]:s["pos"] + 1])
                        s["pos"] += 1
                except OSError:
                    pass
                s["next_send"] = now + 0.1
        for key, _ in sel.select(timeout=0.01):
            s = key.data
            try:
                data = s["sock"].recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                closed += 1
                close_slot(s)
    for s in slots:
        if s["sock"] is not None:
            s["sock"].close()
    print(json.dumps({"opened": opened, "closed_by_server": closed}))


def cmd_trickle(port, ca, cert, key, seconds):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 4096
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.setblocking(False)
            t0 = time.monotonic()
            for i in range(int(seconds / 0.2)):
                try:
                    if s.recv(4096) == b"":
                        break
                except ssl.SSLWantReadError:
                    pass
                except OSError:
                    break
                try:
                    s.send(request[i:i + 1])
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    pass
                except OSError:
                    break
                time.sleep(0.2)
            print("%.3f" % (time.monotonic() - t0))


def cmd_early(port, ca, cert, key):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    request = sys.stdin.buffer.read()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                if out.pending:
                    s.sendall(out.read())
                chunk = s.recv(65536)
                if not chunk:
                    sys.exit("lisecd closed the connection in the handshake")
                inc.write(chunk)
        obj.write(request)  # sealed after the client's Finished, sent with it
        s.sendall(out.read())
        s.settimeout(3)
        data, closed, close_notify = b"", False, False
        while not closed:
            try:
                while True:
                    got = obj.read(65536)
                    if not got:  # the session's end: close_notify came
                        raise ssl.SSLZeroReturnError
                    data += got
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                closed = close_notify = True
                break
            except ssl.SSLEOFError:
                closed = True
                break
            try:
                chunk = s.recv(65536)
            except (socket.timeout, TimeoutError):
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                inc.write_eof()
            else:
                inc.write(chunk)
    responses, rest = parse_responses(data, False)
    print(json.dumps({"responses": responses, "closed": closed, "close_notify": close_notify,
                      "trailing": rest.decode("latin-1")}))


def cmd_forged(port, ca, cert, key):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            data = b""
            while b"ok\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            # application data, 32 bytes that no key of the session made
            os.write(s.fileno(), b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
            try:
                while s.recv(4096):
                    pass
                print("eof")
            except ssl.SSLEOFError:
                print("eof")
            except ssl.SSLError as e:
                print(e.reason or str(e))
            except (socket.timeout, TimeoutError):
                print("timeout")
            except ConnectionResetError:
                print("reset")


def cmd_wait_close(port, n_hello):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        t0 = time.monotonic()
        if n_hello:
            s.sendall(client_hello()[:n_hello])
        try:
            while s.recv(4096):
                pass
            print("%.3f" % (time.monotonic() - t0))
        except (socket.timeout, TimeoutError):
            print("30")
        except OSError:
            print("%.3f" % (time.monotonic() - t0))


def main():
    a = sys.argv[1:]
    if a[:1] == ["raw"] and len(a) in (5, 6):
        cmd_raw(int(a[1]), a[2], a[3], a[4], a[5:] == ["--head-first"])
    elif a[:1] == ["keep"] and len(a) == 6:
        cmd_keep(int(a[1]), a[2], a[3], a[4], float(a[5]))
    elif a[:1] == ["flood"] and len(a) in (5, 6, 7):
        cmd_flood(int(a[1]), int(a[2]), int(a[3]), float(a[4]), (int(a[5]) if len(a) >= 6 else 500) / 1000,
                  a[6] if len(a) == 7 else None)
    elif a[:1] == ["trickle"] and len(a) == 6:
        cmd_trickle(int(a[1]), a[2], a[3], a[4], float(a[5]))
    elif a[:1] == ["early"] and len(a) == 5:
        cmd_early(int(a[1]), a[2], a[3], a[4])
    elif a[:1] == ["forged"] and len(a) == 5:
        cmd_forged(int(a[1]), a[2], a[3], a[4])
    elif a[:1] == ["wait-close"] and len(a) in (2, 3):
        cmd_wait_close(int(a[1]), int(a[2]) if len(a) == 3 else 0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
