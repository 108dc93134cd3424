# A stand-in for lisecd in the tests of the placement gates (the libvirt
# hook): an HTTPS server on loopback with the server certificate of the PKI
# directory given (no client certificate asked), answering by the path's
# last part:
#   .../allow  200 {"allow":true,"violations":[]} to every question;
#   .../hang   reads the question and never answers (the connection stays
#              open until the client gives up).
# Usage: standin_https.py PKI_DIR OUT_PREFIX; the port is written to
# OUT_PREFIX.port once the server listens. It runs until killed.
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

pki, out = sys.argv[1:3]
stop = threading.Event()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length', '0')))
        path = self.path.rstrip('/').rsplit('/v1/', 1)[0]
        if path.endswith('/hang'):
            stop.wait(600)
            return
        body = b'{"allow":true,"violations":[]}'
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


srv = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
srv.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(pki + '/server.crt', pki + '/server.key')
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(out + '.port.tmp', 'w') as f:
    f.write(str(srv.server_address[1]))
os.rename(out + '.port.tmp', out + '.port')
srv.serve_forever()
