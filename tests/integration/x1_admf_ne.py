#!/usr/bin/env python3
"""A network element that misleads the ADMF, for x1_admf_reconcile.sh: it
stands in front of a real lisec-ne over mutual TLS (the same certificates
on both sides), passes each X1 request on, and bends the answer as the file
MODE says at the time of the request, so the test can show lisecd believes
the NE's state and not an error code or an answer that does not fit (or,
for x1_report_flood.sh, that it waits for a remote NE's answers):

  pass             the NE's answer as it is
  slow             the NE's answer as it is, 200 ms later (a distant NE)
  activate-2010    ActivateTask done by the NE, answered 2010 (XID exists)
  deactivate-2020  DeactivateTask done by the NE, answered 2020 (unknown XID)
  deactivate-lie   DeactivateTask not passed on, answered 2020: the NE runs on
  activate-drop    ActivateTask done by the NE, answered HTTP 503 (lost answer)
  version          the answer relabelled with another X1 version
  type             an OK answer relabelled as another message type's
  stopall-refuse   DeactivateAllTasks not passed on, answered 1000
  other-ne         every answer relabelled as another NE's (neIdentifier
                   poi-other), as a gateway fronting several NEs might
  crawl            every answer CRAWL_S seconds late (x1_admf_slow_ne: just
                   inside lisecd's request_timeout_ms), and ListAllDetails
                   naming CRAWL_GHOSTS XIDs more that the NE does not hold,
                   whose DeactivateTask is answered 2020 (not passed on)
  complain         ActivateTask and ModifyTask not passed on, answered 1010
                   with a schema complaint quoting the first target value
                   the request carried, as libxml2 words one
                   (x1_confid_complaint)
  ghosts           as crawl, without the delay (x1_admf_unknown_xids: an NE
                   that lists XIDs lisec does not know and refuses their
                   deactivation)

Each request's message type is appended to the file LOG (one line each), so
the test can see what lisecd sent (with X1_SAVE_DIR set, each request is
also kept there whole, for xmllint); LOG.modes adds the mode each request met,
and LOG.bent lists the requests whose answer "type" relabelled; LOG.ghostlist
has the made-up XIDs, one a line, and LOG.ghosts each DeactivateTask of one
("SECONDS XID", the time it came; in any mode, each answered 2020). Usage: x1_admf_ne.py PORT UPSTREAM_URL
SERVER_CERT SERVER_KEY ADMF_CERT ADMF_KEY CA MODE LOG (the server pair toward
lisecd, the ADMF pair toward lisec-ne)"""
import http.server
import os
import re
import ssl
import sys
import time
import urllib.request
import uuid

port, upstream, cert, key, admf_cert, admf_key, ca, mode_file, log_file = sys.argv[1:10]
NS = "http://uri.etsi.org/03221/X1/2017/10"
CRAWL_S = float(os.environ.get("CRAWL_S", "0.8"))
GHOSTS = [str(uuid.uuid4()) for _ in range(int(os.environ.get("CRAWL_GHOSTS", "40")))]

GHOST_MODES = ("crawl", "ghosts")
with open(log_file + ".ghostlist", "w") as f:
    f.write("".join(x + "\n" for x in GHOSTS))

client = ssl.create_default_context(cafile=ca)
client.load_cert_chain(admf_cert, admf_key)
client.check_hostname = False


def field(xml, name):
    m = re.search(r"<%s>([^<]*)</%s>" % (name, name), xml)
    return m.group(1) if m else ""


def error_response(request, code, text):
    kind = re.search(r'xsi:type="(\w+)Request"', request).group(1)
    head = "".join("<%s>%s</%s>" % (n, field(request, n), n) for n in
                   ("admfIdentifier", "neIdentifier", "messageTimestamp", "version", "x1TransactionId"))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<X1Response xmlns="%s" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><x1ResponseMessage '
            'xsi:type="ErrorResponse">%s<requestMessageType>%s</requestMessageType><errorInformation>'
            '<errorCode>%d</errorCode><errorDescription>%s</errorDescription></errorInformation>'
            '</x1ResponseMessage></X1Response>\n' % (NS, head, kind, code, text))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        mode = open(mode_file).read().strip()
        kind = (re.search(r'xsi:type="(\w+)Request"', body) or re.search("()", "")).group(1)
        with open(log_file, "a") as f:
            f.write(kind + "\n")
        # X1_SAVE_DIR: each request as sent, for xmllint
        if os.environ.get("X1_SAVE_DIR"):
            with open(os.path.join(os.environ["X1_SAVE_DIR"], "%s-%s.xml" % (kind, uuid.uuid4())), "w") as f:
                f.write(body)
        # which mode each request met, so a test waits for the one it set
        with open(log_file + ".modes", "a") as f:
            f.write(kind + " " + mode + "\n")
        if mode == "deactivate-lie" and kind == "DeactivateTask":
            return self.answer(200, error_response(body, 2020, "no such XID"))
        if mode == "complain" and kind in ("ActivateTask", "ModifyTask"):
            value = re.search(r"<targetIdentifiers>.*?>([^<>]+)</", body, re.S).group(1)
            return self.answer(200, error_response(body, 1010, (
                "X1 message does not validate against TS 103 221-1: line 1: Element "
                "'{http://uri.etsi.org/03221/X1/2017/10}ipv4Address': [facet 'pattern'] The value '%s' "
                "is not accepted by the pattern" % value)))
        if mode == "stopall-refuse" and kind == "DeactivateAllTasks":
            return self.answer(200, error_response(body, 1000, "not now"))
        if mode == "slow":
            time.sleep(0.2)
        if mode == "crawl":
            time.sleep(CRAWL_S)
        # made-up XIDs: whatever the mode, kept in LOG.ghosts and answered 2020
        if kind == "DeactivateTask" and field(body, "xId") in GHOSTS:
            with open(log_file + ".ghosts", "a") as f:
                f.write("%.3f %s\n" % (time.time(), field(body, "xId")))
            return self.answer(200, error_response(body, 2020, "no such XID"))
        req = urllib.request.Request(upstream, data=body.encode(), headers={"Content-Type": "application/xml"})
        reply = urllib.request.urlopen(req, context=client, timeout=10).read().decode()
        if mode == "activate-2010" and kind == "ActivateTask":
            reply = error_response(body, 2010, "XID already exists")
        elif mode == "deactivate-2020" and kind == "DeactivateTask":
            reply = error_response(body, 2020, "no such XID")
        elif mode == "activate-drop" and kind == "ActivateTask":
            return self.answer(503, "")
        elif mode == "version":
            reply = re.sub(r"<version>[^<]*</version>", "<version>v1.13.1</version>", reply)
        elif mode in GHOST_MODES and kind == "ListAllDetails":
            ghosts = "".join("<xId>%s</xId>" % x for x in GHOSTS)
            if "<ListOfXIDs/>" in reply:
                reply = reply.replace("<ListOfXIDs/>", "<ListOfXIDs>%s</ListOfXIDs>" % ghosts, 1)
            else:
                reply = reply.replace("<ListOfXIDs>", "<ListOfXIDs>" + ghosts, 1)
        elif mode == "other-ne":
            reply = re.sub(r"<neIdentifier>[^<]*</neIdentifier>", "<neIdentifier>poi-other</neIdentifier>", reply)
        elif mode == "type" and kind == "ActivateTask" and "ActivateTaskResponse" in reply:
            reply = reply.replace("ActivateTaskResponse", "ModifyTaskResponse")
            # only an OK answer is bent (a retry the NE answers 2010 is not)
            with open(log_file + ".bent", "a") as f:
                f.write(kind + "\n")
        self.answer(200, reply)


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca)
tls.load_cert_chain(cert, key)
tls.verify_mode = ssl.CERT_REQUIRED
server.socket = tls.wrap_socket(server.socket, server_side=True)
server.serve_forever()
