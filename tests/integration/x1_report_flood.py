#!/usr/bin/env python3
"""An NE that floods lisecd's X1 endpoint with reports (x1_report_flood.sh).

Sends containers of PER messages, ReportTaskIssue (about XID) and
ReportNEIssue alternately, from THREADS threads over kept-alive mutual TLS
connections with the NE's own certificate, PACE messages a second (or as
fast as lisecd answers, when that is slower), so that a count of reports
stands for the same time whatever lisecd does with them, until the file STOP exists, MAX reports were sent or SECONDS passed,
whichever comes first. Every message's answer is classified: oK, the rate
limit's ErrorResponse (1000 naming TR103308-5.5), or anything else (kept as
a sample). Writes the running total to OUT.count and, at the end, the
counts and why it stopped to OUT (JSON).

usage: x1_report_flood.py URL CERT KEY CA NE ADMF XID STOP OUT MAX SECONDS THREADS PER PACE
"""
import http.client
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

(url, cert, key, ca, ne, admf, xid, stop, out, max_n, seconds, threads, per, pace) = sys.argv[1:15]
max_n, seconds, threads, per, pace = int(max_n), float(seconds), int(threads), int(per), float(pace)
u = urllib.parse.urlparse(url)
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)

BODIES = [
    "<xId>%s</xId><taskReportType>NonTerminatingFault</taskReportType>"
    "<taskIssueDetails>flood</taskIssueDetails>" % xid,
    "<typeOfNeIssueMessage>Warning</typeOfNeIssueMessage><description>flood</description>",
]
TYPES = ["ReportTaskIssue", "ReportNEIssue"]


def container():
    return (
        '<?xml version="1.0" encoding="UTF-8"?><X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">%s</X1Request>'
        % "".join(
            '<x1RequestMessage xsi:type="%sRequest">'
            "<admfIdentifier>%s</admfIdentifier><neIdentifier>%s</neIdentifier>"
            "<messageTimestamp>2026-12-06T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version>"
            "<x1TransactionId>%s</x1TransactionId>%s</x1RequestMessage>"
            % (TYPES[j % 2], admf, ne, uuid.uuid4(), BODIES[j % 2])
            for j in range(per)
        )
    ).encode()


lock = threading.Lock()
counts = {"sent": 0, "ok": 0, "limited": 0, "other": 0, "ok_task": 0}
sample = []
limited_sample = []  # one whole reply holding a refusal
why = None
start = time.monotonic()


def done():
    global why
    if why:
        return True
    if os.path.exists(stop):
        why = "stopped"
    elif counts["sent"] >= max_n:
        why = "max"
    elif time.monotonic() - start > seconds:
        why = "time"
    return why is not None


def run():
    conn = None
    while True:
        with lock:
            if done():
                return
            due = start + counts["sent"] / pace
            counts["sent"] += per
        time.sleep(max(0.0, due - time.monotonic()))
        try:
            if conn is None:
                conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)
            conn.request("POST", "/v1/x1/admf", container(), {"Content-Type": "application/xml"})
            r = conn.getresponse()
            body = r.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as e:
            conn, body = None, "exception: %s" % e
        answers = body.split("<x1ResponseMessage")[1:]
        if len(answers) != per:
            answers = [body] * per
        with lock:
            for j, a in enumerate(answers):
                if "<oK>" in a:
                    counts["ok"] += 1
                    counts["ok_task"] += j % 2 == 0
                elif "<errorCode>1000</errorCode>" in a and "TR103308-5.5" in a:
                    counts["limited"] += 1
                    if not limited_sample:
                        limited_sample.append(body)
                else:
                    counts["other"] += 1
                    if len(sample) < 4:
                        sample.append(a)


def progress():
    while not why:
        with lock:
            n = counts["sent"]
        with open(out + ".count.tmp", "w") as f:
            f.write("%d\n" % n)
        os.replace(out + ".count.tmp", out + ".count")
        time.sleep(0.05)


ts = [threading.Thread(target=run) for _ in range(threads)]
p = threading.Thread(target=progress, daemon=True)
p.start()
for t in ts:
    t.start()
for t in ts:
    t.join()
counts.update(why=why, seconds=round(time.monotonic() - start, 3), sample=sample, limited_sample=limited_sample)
with open(out, "w") as f:
    json.dump(counts, f)
