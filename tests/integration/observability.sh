#!/usr/bin/env bash
# What an operator's monitoring reads (docs/operations.md, "Metrics" and
# "Probes"): the probe listener answers /healthz and /readyz over plain
# HTTP without a client certificate and refuses every other path and
# method; role metrics reads /metrics and is refused everywhere else, while
# the other roles' access to /metrics is as before; /metrics carries the
# controller's domain metrics beside the front's, as one valid exposition
# (each family once), with the LI counts for li-admin only; the example
# alerting rules and dashboard name only metrics lisecd exports (and the
# rules pass promtool where it is installed).
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" metrics metrics prometheus-1 >/dev/null || fail "lisec pki issue (role metrics)"
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null
head -c 32 /dev/urandom >"$work/kek.bin"
chmod 600 "$work/kek.bin"
probe_port=$(free_port)
start_lisecd "$pki" "[probe]" "listen = 127.0.0.1:$probe_port" "max_connections = 2" "idle_timeout_s = 3" \
  "[vault]" "development_key_file = $work/kek.bin" "allow_development_key = true" \
  "[audit]" "li_admin_key = $work/li-admin.pub" "[api]" "refusal_rate = 0"
P=http://127.0.0.1:$probe_port

# ---- the probe listener -------------------------------------------------------
code() { curl -s -o "$work/body" -w '%{http_code}' "$@"; }
[ "$(code "$P/healthz")" = 200 ] && [ "$(cat "$work/body")" = ok ] || fail "probe /healthz: $(cat "$work/body")"
for _ in $(seq 100); do [ "$(code "$P/readyz")" = 200 ] && break; sleep 0.1; done
[ "$(code "$P/readyz")" = 200 ] && [ "$(cat "$work/body")" = ready ] || fail "probe /readyz: $(cat "$work/body")"
for path in /metrics /v1/status /v1/model/host /healthz/ '/healthz?x=1' /readyz/x / /v1/targets; do
  [ "$(code "$P$path")" = 404 ] || fail "probe listener answered $path with $(cat "$work/body")"
done
for m in POST PUT DELETE; do
  [ "$(code -X "$m" "$P/readyz")" = 405 ] || fail "probe listener took $m /readyz"
done
# oversized headers are refused, not served
big=$(head -c 6000 /dev/zero | tr '\0' a)
got=$(code -H "X-Big: $big" "$P/healthz" || true)
[ "$got" != 200 ] || fail "probe listener served a request with 6 KB of headers"
# the main listener still wants a client certificate for the same paths
curl -s -o /dev/null --cacert "$pki/ca.crt" "$LISECD_URL/healthz" && fail "the TLS listener served /healthz without a certificate"
# nothing the probe says names the model or LI
grep -q 'not found: this listener answers GET /healthz and GET /readyz only' <(curl -s "$P/x") ||
  fail "the probe's 404 does not say what it answers"
# [probe] max_connections = 2: a third connection closes the least recently
# active one; [probe] idle_timeout_s = 3 closes an idle one.
python3 - "$probe_port" <<'PY' || fail "probe connection limits (above)"
import socket, sys, time
port = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", port)); time.sleep(0.2)
b = socket.create_connection(("127.0.0.1", port)); time.sleep(0.2)
c = socket.create_connection(("127.0.0.1", port))
c.sendall(b"GET /healthz HTTP/1.1\r\nHost: l\r\n\r\n")
c.settimeout(5)
assert c.recv(4096).startswith(b"HTTP/1.1 200"), "the third connection was not served"
a.settimeout(1.5)
try:
    assert a.recv(1) == b"", "the least recently active connection got bytes"
except socket.timeout:
    sys.exit("the least recently active connection was kept past max_connections = 2")
t0 = time.monotonic()
assert c.recv(1) == b"", "an idle probe connection got bytes"
dt = time.monotonic() - t0
assert 2.0 <= dt < 6, "an idle probe connection closed after %.1f s, idle_timeout_s = 3" % dt
PY
pass "probe listener: /healthz and /readyz over plain HTTP without a certificate; other paths 404, methods 405, big headers refused; at max_connections the least active closes, idle ones after idle_timeout_s"

# ---- role metrics -----------------------------------------------------------------
[ "$(as metrics -o "$work/m-metrics.txt" -w '%{http_code}' "$LISECD_URL/metrics")" = 200 ] || fail "role metrics cannot read /metrics"
# Every route of the table (read from src/api/routes_*.c, so a new route is
# walked too), with {params} filled in: 403 naming the role, but /metrics.
grep -ho '{"[A-Z]*", "/[^"]*"' "$src"/src/api/routes_*.c | sed 's/^{"\([A-Z]*\)", "\([^"]*\)"/\1 \2/' |
  sort -u >"$work/routes.txt"
[ "$(wc -l <"$work/routes.txt")" -ge 40 ] || fail "only $(wc -l <"$work/routes.txt") routes read from src/api/routes_*.c"
python3 - "$LISECD_PORT" "$pki" "$work/routes.txt" <<'PY' || fail "role metrics reached a route other than /metrics (above)"
import http.client, json, re, ssl, sys
port, pki, routes = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/metrics.crt", pki + "/metrics.key")
c = http.client.HTTPSConnection("localhost", int(port), context=ctx, timeout=30)
n = 0
for line in open(routes):
    method, pattern = line.split()
    if (method, pattern) == ("GET", "/metrics"): continue
    path = re.sub(r"\{[a-z]+\}", "x1", pattern.replace("{kind}", "host"))
    body = None if method in ("GET", "DELETE") else "{}"
    c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    r = c.getresponse()
    text = r.read().decode()
    if r.status != 403 or "role metrics may not" not in text:
        print("role metrics: %s %s -> %d %s" % (method, path, r.status, text)); sys.exit(1)
    n += 1
print("ok: %d routes refused" % n)
PY
pass "role metrics reads /metrics and is refused 403 on every other route"
for role in operator auditor li-admin; do
  [ "$(as "$role" -o "$work/m-$role.txt" -w '%{http_code}' "$LISECD_URL/metrics")" = 200 ] || fail "$role cannot read /metrics"
done
for role in mano host hypervisor-admin tenant-example; do
  [ "$(as "$role" -o /dev/null -w '%{http_code}' "$LISECD_URL/metrics")" = 403 ] || fail "$role reads /metrics"
done
pass "operator, auditor and li-admin read /metrics as before; mano, host, hypervisor-admin and tenants do not"

# ---- the exposition ---------------------------------------------------------------
# An audit record, then the checkpoint that covers it: unsigned entries back to 0.
as operator -o /dev/null -H 'Content-Type: application/json' -d '{"id":"fi","codes":["FI"]}' "$LISECD_URL/v1/model/jurisdiction"
for _ in $(seq 100); do
  as metrics "$LISECD_URL/metrics" >"$work/m-now.txt"
  grep -q '^lisec_audit_unsigned_entries 0$' "$work/m-now.txt" && ! grep -q '^lisec_audit_entries 0$' "$work/m-now.txt" && break
  sleep 0.1
done
grep -q '^lisec_audit_unsigned_entries 0$' "$work/m-now.txt" || fail "the audit log's entries never all got a checkpoint"
python3 - "$work" <<'PY' || fail "the /metrics exposition is not as documented (above)"
import re, sys
work = sys.argv[1]
def parse(path):
    fams, samples, bad = {}, {}, []
    for n, line in enumerate(open(path).read().splitlines(), 1):
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if name in fams: bad.append("%s: family %s declared twice" % (path, name))
            fams[name] = kind
        elif line.startswith("#") or not line:
            continue
        else:
            m = re.fullmatch(r'([a-z_:][a-z0-9_:]*)(\{(?:[a-z_]+="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|NaN)', line)
            if not m: bad.append("%s:%d: not a sample: %s" % (path, n, line)); continue
            samples.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
    for name in samples:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in fams and base not in fams: bad.append("%s: %s has no TYPE" % (path, name))
    return fams, samples, bad
views = {r: parse("%s/m-%s.txt" % (work, r)) for r in ("metrics", "operator", "auditor", "li-admin")}
now = parse(work + "/m-now.txt")
bad = sum((v[2] for v in views.values()), []) + now[2]
if bad: print("\n".join(bad)); sys.exit(1)
domain = ["lisec_hosts", "lisec_hosts_overdue", "lisec_hosts_never_attested", "lisec_attest_appraisals_total",
          "lisec_attest_appraisal_duration_seconds", "lisec_audit_entries", "lisec_audit_unsigned_entries",
          "lisec_audit_checkpoint_lag_seconds", "lisec_audit_checkpoint_failures_total",
          "lisec_store_errors_total", "lisec_ready"]
front = ["lisec_http_requests_total", "lisec_http_request_duration_seconds", "lisec_tls_handshakes_total",
         "lisec_uptime_seconds", "lisec_connections_open"]
li_only = ["lisec_x1_tasks", "lisec_vault_operations_total", "lisec_vault_cache_keys"]
for role, (fams, samples, _) in views.items():
    for f in domain + front:
        assert f in fams, "%s's /metrics lacks %s" % (role, f)
    for f in li_only:
        assert (f in fams) == (role == "li-admin"), "%s: %s %s" % (role, f, "missing" if role == "li-admin" else "shown")
    assert samples["lisec_ready"] == [("", 1.0)], "%s: lisec_ready %r" % (role, samples["lisec_ready"])
s = now[1]
assert s["lisec_audit_entries"][0][1] >= 1 and s["lisec_audit_unsigned_entries"][0][1] == 0
assert dict(s["lisec_hosts"]) == {'{trust="trusted"}': 0.0, '{trust="untrusted"}': 0.0}, s["lisec_hosts"]
print("ok: %d families for metrics, %d for li-admin" % (len(views["metrics"][0]), len(views["li-admin"][0])))
PY
pass "/metrics: domain and API families, each declared once, LI counts for li-admin only, audit lag back to 0"

# ---- examples/ --------------------------------------------------------------------
rules=$src/examples/prometheus/lisec-rules.yml dash=$src/examples/grafana/lisec-dashboard.json
python3 - "$rules" "$dash" "$work/m-li-admin.txt" "$work/m-metrics.txt" <<'PY' || fail "examples/ name metrics lisecd does not export (above)"
import json, re, sys, yaml
rules_path, dash_path = sys.argv[1:3]
rules = yaml.safe_load(open(rules_path))
exprs = []
for g in rules["groups"]:
    assert g["name"] and g["rules"], "empty group"
    for r in g["rules"]:
        assert r.get("alert") and r.get("expr") and r.get("labels", {}).get("severity") in ("critical", "warning", "info"), r
        assert r.get("annotations", {}).get("summary"), "alert %s has no summary" % r["alert"]
        exprs.append(r["expr"])
dash = json.load(open(dash_path))
assert dash.get("panels"), "no panels"
for p in dash["panels"]:
    assert p.get("title") and p.get("targets"), "panel without title or targets: %r" % p
    exprs += [t["expr"] for t in p["targets"]]
exported = set()  # what li-admin's scrape and role metrics' scrape show, together
for scrape in sys.argv[3:]:
    for line in open(scrape):
        m = re.match(r"([a-z_:][a-z0-9_:]*)[{ ]", line)
        if m and not line.startswith("#"): exported.add(m.group(1))
named = set()
for e in exprs:
    named |= set(re.findall(r"\blisec_[a-z0-9_]+", e))
missing = sorted(named - exported)
if missing: print("not exported by lisecd:", missing); sys.exit(1)
print("ok: %d expressions name %d metrics, all exported" % (len(exprs), len(named)))
PY
if command -v promtool >/dev/null; then
  promtool check rules "$rules" || fail "promtool check rules $rules"
  pass "promtool check rules: examples/prometheus/lisec-rules.yml"
else
  echo "promtool not installed: its check of the rules is skipped (the structure is checked above)"
fi
pass "examples/prometheus rules and examples/grafana dashboard name only metrics lisecd exports"
