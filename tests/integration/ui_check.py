#!/usr/bin/env python3
"""Checks of the compliance view (tests/integration/ui.sh), independent of
lisec's code: a DOM that headless Chromium dumped, read with Python's own
HTML parser, and Chromium's network log.

  ui_check.py dom DUMP.html --role R [--expect-host ID:TRUST:COUNTRY[:SOURCE]]...
      [--expect-country CC]... [--compliant|--violating REQ]...
      [--report COMPLIANCE.json] [--absent TEXT]... [--present TEXT]...
      [--expect-li ID]... [--hosts N] [--no-vms]
  ui_check.py net NETLOG.json ORIGIN
      every request the page made (its network partition is the page's
      site, or it is the page itself) went to ORIGIN; prints how many.
  ui_check.py sent NETLOG.json METHOD URL STATUS
      the browser sent METHOD URL (a page did ask it) and lisecd answered
      STATUS.
"""
import argparse
import json
import re
import sys
from html.parser import HTMLParser


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, dict(attrs), parent, [], []

    def all_text(self):
        out = list(self.text)
        for c in self.children:
            out.append(c.all_text())
        return "".join(out)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def cls(self):
        return (self.attrs.get("class") or "").split()


VOID = {"meta", "link", "br", "img", "input", "hr", "source", "wbr", "area", "base", "col"}


class Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text.append(data)


def find(root, pred):
    return [n for n in root.walk() if pred(n)]


def dom(args):
    t = Tree()
    t.feed(open(args.dump, encoding="utf-8").read())
    root = t.root
    body = find(root, lambda n: n.tag == "body")
    if not body:
        fail("no body in the DOM dump")
    body = body[0]
    state = body.attrs.get("data-state")
    if state != "ready":
        notes = [n.all_text() for n in find(root, lambda n: n.tag == "li" and n.parent.attrs.get("id") == "notes")]
        fail(f"the page did not finish loading (data-state={state!r}); notes: {notes}")
    if body.attrs.get("data-role") != args.role:
        fail(f"the page says role {body.attrs.get('data-role')!r}, the certificate is {args.role!r}")
    csp = find(root, lambda n: "csp-violation" in n.cls())
    if csp:
        fail("the page reports Content-Security-Policy violations: " + "; ".join(n.all_text() for n in csp))
    rows = {n.attrs["data-host"]: n for n in find(root, lambda n: n.tag == "tr" and "data-host" in n.attrs)}
    marks = {n.attrs["data-host"] for n in find(root, lambda n: n.tag == "g" and "data-host" in n.attrs)}
    for spec in args.expect_host:
        host, trust, country, source = (spec.split(":") + [None])[:4]
        r = rows.get(host)
        if r is None:
            fail(f"host {host} is not in the hosts table (rows: {sorted(rows)})")
        if r.attrs.get("data-trust") != trust or r.attrs.get("data-country") != country:
            fail(f"host {host}: trust {r.attrs.get('data-trust')}, country {r.attrs.get('data-country')}; "
                 f"expected {trust}, {country}")
        if source and r.attrs.get("data-source") != source:
            fail(f"host {host}: trust from {r.attrs.get('data-source')!r}, expected {source!r}")
        if source == "attested" and not re.fullmatch(r"\d+ (s|min)", r.attrs.get("data-age", "")):
            fail(f"host {host}: attestation age {r.attrs.get('data-age')!r}, expected seconds or minutes")
        if host not in marks:
            fail(f"host {host} is not on the map")
    if args.hosts is not None and (len(rows) != args.hosts or len(marks) != args.hosts):
        fail(f"{len(rows)} hosts in the table and {len(marks)} on the map, expected {args.hosts}: {sorted(rows)}")
    paths = {n.attrs["data-country"]: n for n in find(root, lambda n: n.tag == "path" and "data-country" in n.attrs)}
    for cc in args.expect_country:
        p = paths.get(cc)
        if p is None:
            fail(f"country {cc} has no outline on the map")
        if "has-hosts" not in p.cls():
            fail(f"country {cc} is not marked as holding hosts")
        if not find(root, lambda n: n.tag == "li" and n.attrs.get("data-country") == cc):
            fail(f"country {cc} is not in the list of countries")
    verdict = find(root, lambda n: n.attrs.get("id") == "verdict")[0]
    groups = {n.attrs["data-requirement"]: n for n in find(root, lambda n: "data-requirement" in n.attrs)}
    if args.compliant:
        if verdict.attrs.get("data-compliant") != "true" or groups:
            fail(f"expected compliant, the page shows {verdict.all_text()!r} and {sorted(groups)}")
    for req in args.violating:
        if verdict.attrs.get("data-compliant") != "false":
            fail(f"expected a violation, the page shows {verdict.all_text()!r}")
        if req not in groups:
            fail(f"requirement {req} is not among the violations shown ({sorted(groups)})")
    if args.report:
        # Each violation of lisecd's report (read by curl as the same role)
        # is on the page in lisec's own words, under its requirement.
        report = json.load(open(args.report))
        for v in report["violations"]:
            g = groups.get(v["requirement"])
            if g is None:
                fail(f"the report's {v['requirement']} is not on the page")
            sentences = [n.all_text() for n in find(g, lambda n: "sentence" in n.cls())]
            if v["sentence"] not in sentences:
                fail(f"{v['requirement']}: the page does not show lisecd's reason {v['sentence']!r} ({sentences})")
            if "requirement" not in v or not v["requirement"].startswith("TR103308-"):
                fail(f"a violation without a requirement id: {v}")
    lis = {n.attrs["data-li"] for n in find(root, lambda n: "data-li" in n.attrs)}
    for li in args.expect_li:
        if li not in lis:
            fail(f"LI {li} is not in the LI table ({sorted(lis)})")
    if args.no_vms:
        vms = find(root, lambda n: n.tag == "tr" and "data-vm" in n.attrs)
        if vms:
            fail(f"VMs shown to a role that reads none: {[n.attrs['data-vm'] for n in vms]}")
    text = open(args.dump, encoding="utf-8").read()
    for s in args.absent:
        if s in text:
            fail(f"the {args.role}'s DOM contains {s!r}")
    for s in args.present:
        if s not in text:
            fail(f"the {args.role}'s DOM lacks {s!r}")
    print(f"dom {args.role}: {len(rows)} hosts, {len(paths)} outlines, {len(groups)} requirement(s) violated")


def net(args):
    d = json.load(open(args.netlog))
    names = {v: k for k, v in d["constants"]["logEventTypes"].items()}
    page_site = args.origin.rsplit(":", 1)[0]  # https://localhost
    seen, bad = 0, []
    for e in d["events"]:
        if names.get(e["type"]) != "URL_REQUEST_START_JOB":
            continue
        p = e.get("params", {})
        nik = p.get("network_isolation_key", "")
        page = p.get("request_type") == "main frame" or page_site in nik.split() or p.get("initiator", "").startswith(page_site)
        if not page:
            continue  # the browser's own background traffic, not the page's
        seen += 1
        if not (p["url"] == args.origin or p["url"].startswith(args.origin + "/")):
            bad.append(p["url"])
    if bad:
        fail("the page requested something other than lisecd: " + ", ".join(bad))
    if seen < 5:
        fail(f"only {seen} requests of the page in the network log: the page did not load")
    print(f"net: {seen} requests of the page, all to lisecd")


def sent(args):
    d = json.load(open(args.netlog))
    names = {v: k for k, v in d["constants"]["logEventTypes"].items()}
    # A request's start names its URL and method; its response headers
    # (under the same source id) its status line.
    starts, status = {}, {}
    for e in d["events"]:
        t = names.get(e["type"])
        p = e.get("params", {})
        sid = e.get("source", {}).get("id")
        if t == "URL_REQUEST_START_JOB":
            starts.setdefault(sid, (p.get("method"), p.get("url")))
        elif t in ("HTTP_TRANSACTION_READ_RESPONSE_HEADERS", "HTTP_TRANSACTION_READ_EARLY_HINTS_RESPONSE_HEADERS"):
            for h in p.get("headers", []):
                m = re.match(r"HTTP/\S+ (\d{3})", h)
                if m:
                    status[sid] = int(m.group(1))
    got = [status.get(sid) for sid, mu in starts.items() if mu == (args.method, args.url)]
    if not got:
        fail(f"the browser never sent {args.method} {args.url}: {sorted(set(starts.values()))}")
    if any(s != args.status for s in got):
        fail(f"{args.method} {args.url}: lisecd answered {got}, expected {args.status}")
    print(f"sent: {args.method} {args.url} {len(got)} time(s), answered {args.status}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("dom")
    a.add_argument("dump")
    a.add_argument("--role", required=True)
    a.add_argument("--expect-host", action="append", default=[])
    a.add_argument("--expect-country", action="append", default=[])
    a.add_argument("--compliant", action="store_true")
    a.add_argument("--violating", action="append", default=[])
    a.add_argument("--report")
    a.add_argument("--absent", action="append", default=[])
    a.add_argument("--present", action="append", default=[])
    a.add_argument("--expect-li", action="append", default=[])
    a.add_argument("--hosts", type=int)
    a.add_argument("--no-vms", action="store_true")
    n = sub.add_parser("net")
    n.add_argument("netlog")
    n.add_argument("origin")
    s = sub.add_parser("sent")
    s.add_argument("netlog")
    s.add_argument("method")
    s.add_argument("url")
    s.add_argument("status", type=int)
    args = ap.parse_args()
    {"dom": dom, "net": net, "sent": sent}[args.cmd](args)


if __name__ == "__main__":
    main()
