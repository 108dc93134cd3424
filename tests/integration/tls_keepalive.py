#!/usr/bin/env python3
"""A keep-alive HTTPS client for tls_reload.sh: one TLS connection to lisecd
(client certificate, the test CA as the only anchor), one GET, then it waits
until the file GO exists (bounded) and sends a second GET on the same
connection. It prints, one per line: the server certificate's serial and
the status of each request, and whether the second went over the very same
socket (http.client would reconnect silently if lisecd had closed it).

usage: tls_keepalive.py PORT CA CERT KEY PATH GO OUT"""
import http.client
import os
import ssl
import sys
import time

port, ca, cert, key, path, go, out = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
conn = http.client.HTTPSConnection("localhost", int(port), context=ctx, timeout=30)


def get():
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return r.status, conn.sock


def serial(sock):
    return format(int(sock.getpeercert()["serialNumber"], 16), "X")


lines = []
status, sock1 = get()
lines.append("first %d %s" % (status, serial(sock1)))
with open(out + ".tmp", "w") as f:
    f.write("\n".join(lines) + "\n")
os.rename(out + ".tmp", out)
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("no go file within 60 s")
    time.sleep(0.05)
try:
    status, sock2 = get()
    lines.append("second %d %s %s" % (status, serial(sock2), "same" if sock2 is sock1 else "new"))
except Exception as e:  # a dropped connection is what the test is about
    lines.append("second failed %s" % e)
with open(out + ".tmp", "w") as f:
    f.write("\n".join(lines) + "\n")
os.rename(out + ".tmp", out)
