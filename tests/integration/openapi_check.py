#!/usr/bin/env python3
"""Holds docs/openapi.yaml against lisecd (the openapi test, openapi.sh).

  openapi_check.py routes DOC ROUTES
      ROUTES is openapi_routes' output (lisecd's own route table: method,
      pattern, roles, body, audited action). Fails when a route is in one
      and not the other, when x-lisec-roles differ from the roles the route
      admits, when a route that requires a body has no required request body
      of the right media type (or one that takes none documents one), or
      when an operation lacks x-lisec-requirements, a 403, or an error
      schema on its error replies.
  openapi_check.py examples DOC
      every example in the document (media type examples, parameter
      examples, schema examples) validates against its schema, JSON Schema
      Draft 2020-12; prints how many.
  openapi_check.py replies DOC URL PKI WORK TOPOLOGY
      loads the example platform TOPOLOGY into a running lisecd (URL) and
      drives it with the development PKI's certificates through the
      requests below (plan), across roles, with good
      and bad input (400, 403, 404, 405); each reply must be documented for
      its route, method and status, and its body must validate against the
      documented schema for that media type. Replies to paths no route
      matches are held to the document's Error schema. The replies are
      kept in WORK/replies.json.
  openapi_check.py recheck DOC REPLIES
      the same checks on replies recorded by `replies` (REPLIES is its
      replies.json), without a lisecd: how the test shows that a wrong
      schema is caught.

Written with Python's ssl, http.client and json, and Debian's
python3-yaml and python3-jsonschema; nothing of lisecd's is reused.
"""
import base64
import hashlib
import http.client
import json
import re
import socket
import ssl
import sys
import time
import zipfile

import jsonschema
import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def load(doc_path):
    with open(doc_path, encoding="utf-8") as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def resolver(doc):
    return jsonschema.RefResolver(base_uri="", referrer=doc)


def deref(doc, obj):
    """Follows a local $ref (components/responses, parameters, ...)."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        if not ref.startswith("#/"):
            fail(f"only local references are used: {ref}")
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        obj = node
        seen += 1
        if seen > 20:
            fail(f"reference loop at {ref}")
    return obj


def validator(doc, schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, resolver=resolver(doc))


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        for m in METHODS:
            if m in item:
                yield path, m.upper(), item[m]


# ---- routes -----------------------------------------------------------------


def check_routes(doc_path, routes_path):
    doc = load(doc_path)
    table = {}
    with open(routes_path, encoding="utf-8") as f:
        for line in f:
            method, pattern, roles, body, audited = line.split()
            table[(method, pattern)] = (set(roles.split(",")), body, audited)
    documented = {(m, p): op for p, m, op in operations(doc)}
    problems = []
    for key in sorted(set(table) - set(documented)):
        problems.append(f"{key[0]} {key[1]}: lisecd serves it; docs/openapi.yaml lacks it")
    for key in sorted(set(documented) - set(table)):
        problems.append(f"{key[0]} {key[1]}: documented; lisecd serves no such route")
    for key in sorted(set(table) & set(documented)):
        roles, body, audited = table[key]
        op = documented[key]
        name = f"{key[0]} {key[1]}"
        doc_roles = op.get("x-lisec-roles")
        if not isinstance(doc_roles, list) or set(doc_roles) != roles or len(doc_roles) != len(roles):
            problems.append(f"{name}: x-lisec-roles {doc_roles} but the route admits {sorted(roles)}")
        reqs = op.get("x-lisec-requirements")
        if not isinstance(reqs, list) or not all(
                isinstance(r, str) and re.fullmatch(r"(TR103308|SEC025)-[A-Za-z0-9.-]+|none", r) for r in reqs):
            problems.append(f"{name}: x-lisec-requirements missing or not a list of requirement ids")
        rb = deref(doc, op.get("requestBody")) if op.get("requestBody") else None
        want = {"json": "application/json", "xml": "application/xml"}.get(body)
        if want:
            if not rb or not rb.get("required") or want not in rb.get("content", {}):
                problems.append(f"{name}: the route requires a {body} body; the document has no required {want} request body")
        elif rb:
            problems.append(f"{name}: the route takes no body; the document describes one")
        responses = op.get("responses", {})
        if "403" not in responses:
            problems.append(f"{name}: no 403 documented (a refused role)")
        if audited != "-" and "429" not in responses:
            problems.append(f"{name}: refusals are recorded (rate-limited, 429) but no 429 is documented")
        for params in re.findall(r"\{([a-z_]+)\}", key[1]):
            names = [deref(doc, p).get("name") for p in op.get("parameters", []) + doc["paths"][key[1]].get("parameters", [])]
            if params not in names:
                problems.append(f"{name}: path parameter {params} is not described")
        for status, r in responses.items():
            r = deref(doc, r)
            if str(status)[0] in "45" and "application/json" not in r.get("content", {}):
                problems.append(f"{name}: reply {status} has no application/json error body")
    problems += unknown_requirements(doc_path, doc)
    if problems:
        fail("docs/openapi.yaml and lisecd's route table differ:\n  " + "\n  ".join(problems))
    print(f"ok: {len(table)} routes, each documented with its roles, body and errors")


def unknown_requirements(doc_path, doc):
    """Every id in x-lisec-requirements names a requirement lisec maps:
    the id as the code and docs spell it (src/, docs/), or its clause in
    docs/requirements.md (TR103308-5.3 as "§5.3", TR103308-O.1.8 as
    "O.1.8", TR103308-6.2-R14 as "§6.2 req." with 14, SEC025-onboarding
    as "SEC025 on-boarding")."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(doc_path)))
    text = []
    for top in ("src", "docs"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith((".c", ".h", ".md")):
                    with open(os.path.join(d, f), encoding="utf-8", errors="replace") as fh:
                        text.append(fh.read())
    corpus = "\n".join(text)
    with open(os.path.join(root, "docs", "requirements.md"), encoding="utf-8") as fh:
        rows = [l for l in fh if l.startswith("|")]
    problems = []
    for path, method, op in operations(doc):
        for rid in op.get("x-lisec-requirements") or []:
            if rid in corpus:
                continue
            m = re.fullmatch(r"TR103308-([0-9.]+|[OT]\.[0-9.]+)(?:-R([0-9]+))?", rid)
            s = re.fullmatch(r"SEC025-([a-z-]+)", rid)
            ok = False
            if m and m.group(2):
                ok = any(f"§{m.group(1)} req." in r and re.search(rf"\b{m.group(2)}\b", r.split("|")[1]) for r in rows)
            elif m:
                clause = m.group(1)
                ok = any(re.search(rf"(§|\bTR ){re.escape(clause)}\b", r.split("|")[1]) for r in rows)
            elif s:
                words = s.group(1).replace("onboarding", "on-boarding")
                ok = any(f"SEC025 {words}" in r for r in rows)
            if not ok:
                problems.append(f"{method} {path}: x-lisec-requirements names {rid}, which neither the code nor docs/requirements.md knows")
    return problems


# ---- examples ---------------------------------------------------------------


def walk_examples(doc):
    """(where, schema, example) for every example in the document."""
    def media(where, m):
        m = deref(doc, m)
        schema = m.get("schema")
        if schema is None:
            return
        if "example" in m:
            yield where + " example", schema, m["example"]
        for name, ex in (m.get("examples") or {}).items():
            ex = deref(doc, ex)
            if "value" in ex:
                yield f"{where} examples/{name}", schema, ex["value"]

    def schema_examples(where, s):
        if isinstance(s, dict):
            if "examples" in s and isinstance(s["examples"], list):
                for i, ex in enumerate(s["examples"]):
                    yield f"{where} examples[{i}]", s, ex
            for k, v in s.items():
                if k not in ("examples", "example", "enum", "const"):
                    yield from schema_examples(f"{where}/{k}", v)
        elif isinstance(s, list):
            for i, v in enumerate(s):
                yield from schema_examples(f"{where}[{i}]", v)

    for name, s in doc.get("components", {}).get("schemas", {}).items():
        yield from schema_examples(f"components/schemas/{name}", s)
    for name, r in doc.get("components", {}).get("responses", {}).items():
        for mt, m in r.get("content", {}).items():
            yield from media(f"components/responses/{name} {mt}", m)
    for name, p in doc.get("components", {}).get("parameters", {}).items():
        if "example" in p:
            yield f"components/parameters/{name}", p["schema"], p["example"]
    for path, method, op in operations(doc):
        where = f"{method} {path}"
        for p in op.get("parameters", []):
            if "$ref" not in p and "example" in p:
                yield f"{where} parameter {p['name']}", p["schema"], p["example"]
        if op.get("requestBody") and "$ref" not in op["requestBody"]:
            for mt, m in op["requestBody"].get("content", {}).items():
                yield from media(f"{where} request {mt}", m)
        for status, r in op.get("responses", {}).items():
            if "$ref" in r:
                continue
            for mt, m in r.get("content", {}).items():
                yield from media(f"{where} {status} {mt}", m)


def check_examples(doc_path):
    doc = load(doc_path)
    n, problems = 0, []
    for where, schema, example in walk_examples(doc):
        n += 1
        if isinstance(example, str) and isinstance(schema, dict) and schema.get("type") == "string" \
                and "contentMediaType" in schema:
            pass
        errs = sorted(validator(doc, schema).iter_errors(example), key=str)
        for e in errs[:3]:
            problems.append(f"{where}: {e.message} at {list(e.absolute_path)}")
    if problems:
        fail(f"examples that do not validate against their schema:\n  " + "\n  ".join(problems))
    if n < 40:
        fail(f"only {n} examples in the document; every operation's main reply has one")
    print(f"ok: {n} examples validate against their schemas (Draft 2020-12)")


# ---- replies ----------------------------------------------------------------


class Client:
    def __init__(self, url, pki):
        m = re.fullmatch(r"https://([^:/]+):(\d+)", url)
        self.host, self.port, self.pki = m.group(1), int(m.group(2)), pki
        self.ctx = {}

    def context(self, role):
        if role not in self.ctx:
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            c.load_verify_locations(f"{self.pki}/ca.crt")
            c.load_cert_chain(f"{self.pki}/{role}.crt", f"{self.pki}/{role}.key")
            self.ctx[role] = c
        return self.ctx[role]

    def request(self, role, method, path, body=None, ctype="application/json"):
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context(role), timeout=60)
        headers = {}
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            headers["Content-Type"] = ctype
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        ct = (r.getheader("Content-Type") or "").split(";")[0].strip()
        conn.close()
        return r.status, ct, data


def template_regex(path):
    return re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(path)) + "$")


def find_operation(doc, method, path):
    path = path.split("?")[0]
    for p, item in doc["paths"].items():
        if template_regex(p).match(path) and method.lower() in item:
            return p, item[method.lower()]
    return None, None


KINDS = [("jurisdictions", "jurisdiction"), ("leas", "lea"), ("hosts", "host"),
         ("hypervisors", "hypervisor"), ("vms", "vm"), ("storage", "storage"),
         ("connections", "connection"), ("groups", "group"), ("lis", "li")]


def plan(pki, work, topology):
    """The requests: (role, method, path, body, want status or None). First
    the example platform, entity by entity (PUT, as `lisec model put`
    does), then every area across roles. Files the script made in WORK: the
    LI VM's public key and the LI administration's signed statements."""
    with open(topology, encoding="utf-8") as f:
        t = json.load(f)
    p = []
    for plural, kind in KINDS:
        for e in t.get(plural, []):
            p.append(("li-admin" if kind == "li" else "operator", "PUT", f"/v1/model/{kind}/{e['id']}", e, 201))

    def text(name):
        with open(f"{work}/{name}", encoding="utf-8") as f:
            return f.read()

    def b64(name):
        with open(f"{work}/{name}", "rb") as f:
            return base64.b64encode(f.read()).decode()

    def obj(name):
        with open(f"{work}/{name}", encoding="utf-8") as f:
            return json.load(f)

    # the image the package carries (what the host's agent would hash)
    with zipfile.ZipFile(f"{work}/good.csar") as z:  # the version on-boarded last
        image_digest = hashlib.sha256(z.read("Artifacts/Images/probe.qcow2")).hexdigest()
    # an NE address where nothing listens: a free port, as free_port finds one
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        ne_port = sock.getsockname()[1]
    ne = {"id": "ne-1", "url": f"https://127.0.0.1:{ne_port}/X1/NE", "vm": "vm-li", "cert": f"{pki}/li-admin.crt",
          "key": f"{pki}/li-admin.key", "ca": f"{pki}/ca.crt", "admf_id": "admf-1", "report_cn": "ne-1",
          "destinations": [{"did": "0c5b2e8a-1f7d-4e3b-9a6c-2d4f8e1b7a90", "address": "192.0.2.10", "port": 9000}]}
    p += [
        ("operator", "GET", "/healthz", None, 200),
        ("tenant-example", "GET", "/healthz", None, 200),
        ("operator", "GET", "/metrics", None, 200),
        ("li-admin", "GET", "/metrics", None, 200),
        ("tenant-example", "GET", "/metrics", None, 403),
        ("operator", "GET", "/v1/status", None, 200),
        ("host", "GET", "/v1/status", None, 200),
        ("operator", "GET", "/v1/model/host", None, 200),
        ("operator", "GET", "/v1/model/host/hel-1", None, 200),
        ("operator", "GET", "/v1/model/vm/vm-li", None, 200),
        ("li-admin", "GET", "/v1/model/li", None, 200),
        ("li-admin", "GET", "/v1/model/li/li-fi-1", None, 200),
        ("operator", "GET", "/v1/model/li", None, 403),
        ("operator", "GET", "/v1/model/host/no-such-host", None, 404),
        ("operator", "GET", "/v1/model/spaceship", None, 404),
        ("tenant-example", "GET", "/v1/model/host", None, 403),
        ("operator", "POST", "/v1/model/jurisdiction", {"id": "se", "name": "Sweden", "codes": ["SE"]}, 201),
        ("operator", "POST", "/v1/model/jurisdiction", {"id": "se", "name": "Sweden", "codes": ["SE"]}, 409),
        ("operator", "PUT", "/v1/model/jurisdiction/se", {"id": "se", "name": "Sverige", "codes": ["SE"]}, 200),
        ("operator", "PUT", "/v1/model/jurisdiction/no", {"id": "no", "name": "Norway", "codes": ["NO"]}, 201),
        ("operator", "POST", "/v1/model/jurisdiction", {"id": "x", "codes": "SE"}, 400),
        ("operator", "POST", "/v1/model/jurisdiction", "{\"id\": ", 400),
        ("operator", "DELETE", "/v1/model/jurisdiction/no", None, 200),
        ("operator", "DELETE", "/v1/model/jurisdiction/no", None, 404),
        ("operator", "GET", "/v1/model/host/bad%2Fid", None, 400),
        ("operator", "GET", "/v1/compliance", None, 200),
        ("auditor", "GET", "/v1/compliance", None, 200),
        ("li-admin", "GET", "/v1/compliance", None, 200),
        ("tenant-example", "GET", "/v1/compliance", None, 403),
        ("mano", "POST", "/v1/decisions/placement", {"id": "vm-new", "host": "hel-2", "sensitivity": "sensitive", "domain": "core"}, 200),
        ("mano", "POST", "/v1/decisions/placement", {"id": "vm-new", "host": "lon-1", "sensitivity": "sensitive", "domain": "core"}, 200),
        ("operator", "POST", "/v1/decisions/migration", {"vm": "vm-li", "host": "lon-1"}, 200),
        ("li-admin", "POST", "/v1/decisions/migration", {"vm": "vm-li", "host": "lon-1"}, 200),
        ("hypervisor-admin", "POST", "/v1/decisions/migration", {"vm": "vm-target", "hypervisor": "hv-hel-1"}, 200),
        ("mano", "POST", "/v1/decisions/migration", {"vm": "no-such-vm", "host": "hel-1"}, 404),
        ("mano", "POST", "/v1/decisions/placement", {"id": 7}, 400),
        ("auditor", "POST", "/v1/decisions/placement", {"id": "vm-new", "host": "hel-1"}, 403),
        ("mano", "POST", "/k8s/filter", {"Pod": {"metadata": {"name": "p", "annotations": {"lisec.io/vm": "vm-li"}}},
                                          "NodeNames": ["hel-1", "lon-1", "nowhere"]}, 200),
        ("mano", "POST", "/k8s/filter", {"Pod": 3}, 400),
        ("operator", "POST", "/k8s/filter", {"NodeNames": []}, 403),
        ("operator", "GET", "/v1/attest/hosts", None, 200),
        ("mano", "GET", "/v1/hosts/hel-1/attestation", None, None),
        ("operator", "GET", "/v1/hosts/no-such-host/attestation", None, 404),
        ("operator", "POST", "/v1/attest/nonce", {"host": "hel-1"}, 403),
        ("host", "POST", "/v1/attest/nonce", {}, None),
        ("host", "POST", "/v1/attest/evidence", {"quote": 1}, 400),
        ("operator", "POST", "/v1/hosts/hel-1/confirm-location", {}, None),
        ("operator", "POST", "/v1/packages", {"id": "vprobe", "li": False, "csar": b64("good.csar")}, 201),
        ("operator", "POST", "/v1/packages", {"id": "vprobe", "li": False, "csar": b64("good.csar")}, 409),
        ("mano", "GET", "/v1/packages/vprobe", None, 200),
        ("operator", "PUT", "/v1/packages/vprobe", {"li": False, "csar": b64("v2.csar")}, 200),
        ("operator", "PUT", "/v1/packages/vprobe", {"li": False, "csar": b64("good.csar")}, None),
        ("tenant-example", "GET", "/v1/packages/vprobe", None, 404),
        ("operator", "GET", "/v1/packages", None, 200),
        ("tenant-example", "GET", "/v1/packages", None, 200),
        ("tenant-example", "GET", "/v1/packages/no-such-package", None, 404),
        ("operator", "POST", "/v1/packages", {"csar": "not base64!"}, 400),
        ("auditor", "GET", "/v1/packages", None, 403),
        ("operator", "GET", "/v1/image-reports/vm-li", None, None),
        ("host", "POST", "/v1/image-checks", {"vm": "vm-li"}, None),
        # a VM of the on-boarded package on hel-2, its image reported and checked by hel-2
        ("operator", "PUT", "/v1/model/vm/vm-probe", {"id": "vm-probe", "hypervisor": "hv-hel-2",
                                                      "sensitivity": "sensitive", "domain": "core",
                                                      "package": "vprobe"}, 201),
        ("host-hel-2", "POST", "/v1/packages/vprobe/image-reports",
         {"vm": "vm-probe", "event": "instantiate", "digest": "sha256:" + "0" * 64}, 200),
        ("host-hel-2", "POST", "/v1/packages/vprobe/image-reports",
         {"vm": "vm-probe", "event": "resume", "digest": "sha256:" + image_digest}, 200),
        ("host-hel-2", "POST", "/v1/packages/vprobe/image-reports",
         {"vm": "vm-probe", "event": "reboot", "digest": "sha256:" + image_digest}, 400),
        ("mano", "GET", "/v1/image-reports/vm-probe", None, 200),
        ("host-hel-2", "POST", "/v1/image-checks", {"vm": "vm-probe", "digest": "sha256:" + image_digest}, 200),
        ("host-hel-2", "POST", "/v1/image-checks", {"vm": "vm-probe", "digest": "sha256:" + "0" * 64}, 200),
        ("host", "POST", "/v1/packages/vprobe/image-reports",
         {"vm": "vm-probe", "event": "resume", "digest": "sha256:" + image_digest}, 403),
        ("operator", "GET", "/v1/rng/findings", None, 200),
        ("auditor", "GET", "/v1/rng/findings?open=true", None, 200),
        ("operator", "GET", "/v1/rng/findings?open=maybe", None, 400),
        ("host", "POST", "/v1/rng/events", {"events": "x"}, 400),
        ("auditor", "GET", "/v1/audit/checkpoint", None, 200),
        ("auditor", "GET", "/v1/audit/checkpoints", None, 200),
        ("auditor", "GET", "/v1/audit/vkey", None, 200),
        ("auditor", "GET", "/v1/audit/entries?from=0&count=3", None, 200),
        ("auditor", "GET", "/v1/audit/proof/inclusion?index=0", None, 200),
        ("auditor", "GET", "/v1/audit/proof/consistency?old=1", None, 200),
        ("auditor", "GET", "/v1/audit/proof/consistency", None, 400),
        ("auditor", "GET", "/v1/audit/entries?count=x", None, 400),
        ("mano", "GET", "/v1/audit/checkpoint", None, 403),
        ("li-admin", "GET", "/v1/targets", None, 200),
        ("li-admin", "POST", "/v1/targets", {"id": "t-1", "authorisation": "li-fi-1",
                                             "identifiers": [{"kind": "e164", "value": "358401234567"}]}, 201),
        ("li-admin", "POST", "/v1/targets", {"id": "t-2", "authorisation": "li-fi-1",
                                             "identifiers": [{"kind": "e164", "value": "not a number"}]}, 400),
        ("li-admin", "GET", "/v1/targets", None, 200),
        ("li-admin", "GET", "/v1/targets/t-1", None, 200),
        ("li-admin", "PUT", "/v1/targets/t-1", {"authorisation": "li-fi-1", "version": 1,
                                                "identifiers": [{"kind": "e164", "value": "358401234568"}]}, 200),
        ("li-admin", "DELETE", "/v1/targets/t-1", None, 200),
        ("li-admin", "GET", "/v1/targets/t-1", None, 404),
        ("li-admin", "GET", "/v1/targets/no-such-target", None, 404),
        ("operator", "DELETE", "/v1/targets/t-1", None, 403),
        ("auditor", "GET", "/v1/targets", None, 403),
        ("li-admin", "GET", "/v1/li/vms", None, 200),
        ("li-admin", "GET", "/v1/li/vms/vm-li", None, None),
        ("tenant-example", "GET", "/v1/li/vms", None, 403),
        ("li-admin", "GET", "/v1/x1/nes", None, 200),
        ("li-admin", "GET", "/v1/tasks", None, 200),
        ("li-admin", "POST", "/v1/x1/nes", {"id": 1}, 400),
        ("li-admin", "POST", "/v1/x1/nes", dict(ne, cert=None), 400),
        ("li-admin", "POST", "/v1/x1/nes", ne, 200),
        ("li-admin", "GET", "/v1/x1/nes", None, 200),
        ("li-admin", "GET", "/v1/tasks", None, 200),
        ("li-admin", "POST", "/v1/tasks/reconcile", None, 200),
        ("li-admin", "POST", "/v1/x1/deactivate-all", {"reason": "openapi test", "ne": "ne-1"}, None),
        ("li-admin", "POST", "/v1/x1/resume", {"ne": "ne-1"}, None),
        ("li-admin", "GET", "/v1/x1/nes/ne-1", None, 200),
        ("li-admin", "GET", "/v1/x1/nes/ne-1", None, 200),
        ("li-admin", "GET", "/v1/x1/nes/no-such-ne", None, 404),
        ("operator", "GET", "/v1/x1/nes/ne-1", None, 403),
        ("li-admin", "DELETE", "/v1/x1/nes/ne-1", None, 200),
        ("host", "POST", "/v1/x1/admf", "<X1Request/>", 403),
        ("li-admin", "DELETE", "/v1/x1/nes/ne-1", None, 404),
        ("li-admin", "GET", "/v1/x1/nes/ne-1", None, 404),
        ("operator", "GET", "/v1/x1/nes/ne-1", None, 403),
        ("mano", "POST", "/v1/li/vms", {"vm": "vm-li-2"}, 400),
        ("hypervisor-admin", "POST", "/v1/li/vms", {"vm": "vm-li-2", "pubkey": text("vm.pub")}, 201),
        ("hypervisor-admin", "POST", "/v1/li/vms", {"vm": "vm-li-2", "pubkey": text("vm.pub")}, 409),
        ("li-admin", "GET", "/v1/li/vms/vm-li-2", None, 200),
        ("hypervisor-admin", "POST", "/v1/li/vms/vm-li-2/enable", None, 200),
        ("li-admin", "POST", "/v1/li/vms/vm-li-2/enable", None, 403),
        ("hypervisor-admin", "POST", "/v1/li/vms/vm-li-2/pair", {"statement": obj("pair.json")}, 403),
        ("li-admin", "POST", "/v1/li/vms/vm-li-2/pair", {"statement": "x"}, 400),
        ("li-admin", "POST", "/v1/li/vms/vm-li-2/pair", {"statement": obj("pair.json")}, 200),
        ("hypervisor-admin", "POST", "/v1/li/vms/vm-li-2/disable", None, None),
        ("li-admin", "POST", "/v1/li/vms/vm-li-2/disable-command", {"command": obj("disable.json")}, 200),
        ("li-admin", "POST", "/v1/li/vms/vm-li-2/disable-command", {"command": obj("disable.json")}, None),
        ("hypervisor-admin", "POST", "/v1/li/vms/vm-li-2/enable", None, 200),
        ("hypervisor-admin", "POST", "/v1/li/vms/vm-li-2/disable", None, 200),
        ("hypervisor-admin", "GET", "/v1/li/vms", None, 200),
        ("li-admin", "GET", "/v1/li/vms", None, 200),
        ("host", "POST", "/v1/x1/reports", {"ne": "ne-9", "xml": "<x/>"}, 403),
        ("li-admin", "POST", "/v1/x1/resume", {}, 200),
        ("auditor", "POST", "/v1/x1/deactivate-all", {"reason": "test"}, 403),
        ("operator", "GET", "/v1/x1/nes", None, 403),
        ("li-admin", "POST", "/v1/vault/rotate-kek", {"key_label": "lisec-kek-2"}, 202),
        ("li-admin", "POST", "/v1/vault/rotate-kek", {"key_label": 7}, 400),
        ("operator", "GET", "/ui", None, 200),
        ("auditor", "GET", "/ui/", None, 200),
        ("li-admin", "GET", "/ui/app.js", None, 200),
        ("operator", "GET", "/ui/app.css", None, 200),
        ("operator", "GET", "/ui/outlines.json", None, 200),
        ("operator", "GET", "/ui/no-such-file.js", None, 404),
        ("mano", "GET", "/ui/", None, 403),
        ("operator", "GET", "/v1/no-such-route", None, 404),
        ("operator", "DELETE", "/healthz", None, 405),
    ]
    return p


def replies_have_checkpoint(replies):
    return any(r["path"] == "/v1/audit/checkpoint" and r["status"] == 200 for r in replies)


def wait_for_checkpoint(client):
    """The audit routes answer from the newest signed checkpoint, which
    lisecd signs within [audit] checkpoint_ms of the first entries: on a
    fast machine the plan may get there first. Waits for one (60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        status, _, _ = client.request("auditor", "GET", "/v1/audit/checkpoint")
        if status == 200:
            return
        if time.monotonic() > deadline:
            fail(f"no signed audit checkpoint within 60 s (last answer {status})")
        time.sleep(0.1)


def record_replies(url, pki, work, topology):
    """Drives lisecd through plan(); returns the replies as recorded."""
    client = Client(url, pki)
    replies = []
    for role, method, path, body, want in plan(pki, work, topology):
        if path.startswith("/v1/audit/") and not replies_have_checkpoint(replies):
            wait_for_checkpoint(client)
        status, ct, data = client.request(role, method, path, body)
        replies.append({"role": role, "method": method, "path": path, "want": want,
                        "status": status, "ct": ct, "body": data.decode("utf-8", "replace")})
    with open(f"{work}/replies.json", "w") as f:
        json.dump(replies, f, indent=1)
    return replies


def validate_replies(doc_path, replies):
    doc = load(doc_path)
    error_schema = {"$ref": "#/components/schemas/Error"}
    problems, statuses = [], {}
    for r in replies:
        role, method, path, want, status, ct = (r[k] for k in ("role", "method", "path", "want", "status", "ct"))
        statuses[status] = statuses.get(status, 0) + 1
        name = f"{role} {method} {path} -> {status}"
        if want is not None and status != want:
            problems.append(f"{name}: wanted {want} ({r['body'][:200]!r})")
        template, op = find_operation(doc, method, path)
        if op is None:
            schema = error_schema
            if status not in (404, 405):
                problems.append(f"{name}: no documented route, yet not 404/405")
            if ct != "application/json":
                problems.append(f"{name}: an error that is not JSON ({ct!r})")
                continue
        else:
            documented = op.get("responses", {}).get(str(status))
            if documented is None:
                problems.append(f"{name}: status {status} is not documented for {method} {template}")
                continue
            content = deref(doc, documented).get("content", {})
            if ct not in content:
                problems.append(f"{name}: reply type {ct!r} not documented (has {sorted(content)})")
                continue
            schema = content[ct].get("schema", {})
        if ct == "application/json":
            try:
                value = json.loads(r["body"])
            except ValueError:
                problems.append(f"{name}: reply is not JSON: {r['body'][:200]!r}")
                continue
        else:
            value = r["body"]
        for e in sorted(validator(doc, schema).iter_errors(value), key=str)[:3]:
            problems.append(f"{name}: {e.message} at {list(e.absolute_path)}")
    if problems:
        fail(f"replies that the document does not describe ({len(replies)} requests):\n  " + "\n  ".join(problems))
    print(f"ok: {len(replies)} replies of lisecd validate against the documented schema for their route and status "
          f"(statuses {dict(sorted(statuses.items()))})")


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    mode = sys.argv[1]
    if mode == "routes":
        check_routes(sys.argv[2], sys.argv[3])
    elif mode == "examples":
        check_examples(sys.argv[2])
    elif mode == "replies":
        validate_replies(sys.argv[2], record_replies(*sys.argv[3:7]))
    elif mode == "recheck":
        with open(sys.argv[3], encoding="utf-8") as f:
            validate_replies(sys.argv[2], json.load(f))
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
