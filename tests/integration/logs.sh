#!/usr/bin/env bash
# lisecd's structured log (docs/operations.md, "Logs"): with [log] format =
# json every line on stderr is one JSON object with ts, level, component
# and msg; every answered request has one access line with request_id,
# role, route (the pattern, never the path), status and duration_ms; the
# request id is the client's X-Request-Id when it is valid (else a fresh
# one), echoed in the reply and carried to the controller process (its
# lines about the request name it); refused TLS clients are logged with
# the reason. An LI scenario (an authorisation, two targets, an NE that
# receives the task over X1) leaves no LI, target, identifier, XID or LI VM
# in the log, nor in /metrics as the operator and the metrics role read it;
# nor does the log tell what was done on LI routes or by li-admin: those
# access lines say "(LI)" with no method and no status (a 5xx aside), and
# the controller's lines about them no pattern, as /metrics shows LI
# routes' counts by route and status to li-admin only.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_topology.sh"
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" metrics metrics prometheus-1 >/dev/null || fail "lisec pki issue (role metrics)"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null || fail "lisec pki issue (the ADMF's X1 client)"
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null
head -c 32 /dev/urandom >"$work/kek.bin"
chmod 600 "$work/kek.bin"

ne_port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-1 --admf-id lisec-admf --state "$work/ne-tasks.json" 2>>"$work/ne.log" &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null")
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$ne_port) 2>/dev/null && break; sleep 0.1; done

start_lisecd "$pki" "[keys]" "x1_key_dir = $pki" "[log]" "format = json" "access = true" "level = debug" \
  "[vault]" "development_key_file = $work/kek.bin" "allow_development_key = true" \
  "[audit]" "li_admin_key = $work/li-admin.pub" "[model]" "allow_declared_trust = true"
# (start_lisecd's own "[log] level = info" comes first: a later key wins.)
log=$work/lisecd.log

api() { # ROLE METHOD PATH [BODY] -> status; body in $work/body
  local role=$1 method=$2 path=$3
  shift 3
  as "$role" -X "$method" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    ${1:+-d "$1"} "$LISECD_URL$path"
}
ok() { # STATUS ROLE METHOD PATH [BODY]
  local want=$1 got
  shift
  got=$(api "$@")
  [ "$got" = "$want" ] || fail "$1 $2 $3 -> $got (want $want): $(cat "$work/body")"
}

# ---- the request id ---------------------------------------------------------
# header NAME FILE: the value of reply header NAME in curl's dump FILE.
header() { tr -d '\r' <"$2" | awk -v n="$(echo "$1" | tr A-Z a-z)" 'BEGIN{FS=": "} tolower($1)==n {print $2}'; }
as operator -D "$work/h1" -o /dev/null -H 'X-Request-Id: obs-req.1:a_b' "$LISECD_URL/v1/status"
[ "$(header X-Request-Id "$work/h1")" = "obs-req.1:a_b" ] || fail "a valid X-Request-Id is not echoed: $(cat "$work/h1")"
long=$(printf 'x%.0s' $(seq 65))
for bad in "has space" "$long" 'semi;colon' 'quote"d'; do
  as operator -D "$work/h2" -o /dev/null -H "X-Request-Id: $bad" "$LISECD_URL/v1/status"
  got=$(header X-Request-Id "$work/h2")
  [[ "$got" =~ ^[0-9a-f]{32}$ ]] || fail "X-Request-Id '$bad' answered with id '$got', not a fresh one"
done
as operator -D "$work/h3" -o /dev/null -H 'X-Request-Id: one' -H 'X-Request-Id: two' "$LISECD_URL/v1/status"
[[ "$(header X-Request-Id "$work/h3")" =~ ^[0-9a-f]{32}$ ]] || fail "two X-Request-Id headers were not replaced"
as operator -D "$work/h4" -o /dev/null "$LISECD_URL/v1/status"
gen=$(header X-Request-Id "$work/h4")
[[ "$gen" =~ ^[0-9a-f]{32}$ ]] || fail "no generated request id: $(cat "$work/h4")"
pass "X-Request-Id: a valid one is echoed; malformed, over 64 characters or twice: a fresh one"

# ---- an LI scenario ---------------------------------------------------------
# lib/li_topology.sh's, its LI and LI VMs under ids of this test alone: the
# last check seeks them in the log and in /metrics.
li_topology li=li-auth-x7 li_vm=vm-lix7 store_vm=vm-storex7
imsi=24405$(python3 -c 'import secrets; print("%010d" % secrets.randbelow(10**10))')
ok 201 li-admin POST /v1/targets "{\"id\":\"tgt-x7\",\"authorisation\":\"li-auth-x7\",\"identifiers\":[{\"kind\":\"imsi\",\"value\":\"$imsi\"}]}"
ok 200 li-admin GET /v1/targets/tgt-x7
ok 200 li-admin GET /v1/model/li/li-auth-x7
ok 403 operator GET /v1/targets/tgt-x7
ok 200 li-admin POST /v1/x1/nes "$(li_ne_json poi-1 "$ne_port" vm-lix7 192.0.2.1)"
ne_holds() { python3 -c "import json,sys;print(any(v['value']==sys.argv[2] for t in json.load(open(sys.argv[1]))['tasks'] for v in t['targets']))" "$work/ne-tasks.json" "$1" 2>/dev/null; }
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
  [ "$(ne_holds "$imsi")" = True ] && break
  api li-admin POST /v1/tasks/reconcile >/dev/null
  sleep 0.2
done
[ "$(ne_holds "$imsi")" = True ] || fail "the target never reached lisec-ne over X1: $(cat "$work/ne-tasks.json" 2>/dev/null)"
# The activation is announced in a sealed record, and then not logged,
# when its pass is the one after the topology's model changes (docs/x1.md,
# "After the trust model changed"); when that pass came before the NE was
# registered (a loaded machine), the target's activation is logged, as the
# state alone: no task key, XID, target or NE (the last check seeks them).
! grep 'X1: a task changed state' "$log" | grep -qv '"msg":"X1: a task changed state: [a-z()]* -> [a-z]*"' ||
  fail "a task's state change is logged with more than its states: $(grep 'X1: a task changed' "$log")"
pass "LI scenario: an authorisation, a target sent to an NE over X1, its activation announced or logged by its states alone"

# ---- refused TLS clients ------------------------------------------------------
port=${LISECD_URL##*:}
curl -s -o /dev/null --cacert "$pki/ca.crt" "$LISECD_URL/v1/status" && fail "a client without a certificate was served"
# another CA (not lisecd's client_ca) and an operator certificate it issued
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/other-ca.key" \
  -out "$work/other-ca.crt" -subj "/CN=other CA" -days 1 2>/dev/null || fail "cannot make another CA"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/other.key" \
  -subj "/CN=other" -out "$work/other.csr" 2>/dev/null || fail "cannot make a certificate request"
printf 'extendedKeyUsage=clientAuth\nsubjectAltName=URI:urn:lisec:role:operator\n' >"$work/other.ext"
openssl x509 -req -in "$work/other.csr" -CA "$work/other-ca.crt" -CAkey "$work/other-ca.key" -CAcreateserial \
  -days 1 -extfile "$work/other.ext" -out "$work/other.crt" 2>/dev/null || fail "cannot issue from another CA"
curl -s -o /dev/null --cacert "$pki/ca.crt" --cert "$work/other.crt" --key "$work/other.key" \
  "$LISECD_URL/v1/status" && fail "a client of another CA was served"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/norole.key" \
  -subj "/CN=nobody" -out "$work/norole.csr" 2>/dev/null || fail "cannot make a certificate request"
printf 'extendedKeyUsage=clientAuth\n' >"$work/norole.ext"
openssl x509 -req -in "$work/norole.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 1 \
  -extfile "$work/norole.ext" -out "$work/norole.crt" 2>/dev/null || fail "cannot issue a certificate without a role"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$pki/ca.crt" --cert "$work/norole.crt" --key "$work/norole.key" \
  "$LISECD_URL/v1/status")" = 403 ] || fail "a certificate without a role was not refused 403"
# expired: valid from 2 days ago for 1 day, issued by the right CA
cat >"$work/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
default_md = sha256
policy = p
copy_extensions = none
[p]
commonName = supplied
[x]
extendedKeyUsage = clientAuth
subjectAltName = URI:urn:lisec:role:operator
CNF
: >"$work/index.txt"
echo 1000 >"$work/serial"
openssl ca -batch -config "$work/ca.cnf" -cert "$pki/ca.crt" -keyfile "$pki/ca.key" -in "$work/norole.csr" \
  -startdate "$(date -u -d '-2 days' +%Y%m%d%H%M%SZ)" -enddate "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)" \
  -extensions x -out "$work/expired.crt" >/dev/null 2>&1 || fail "cannot issue an expired certificate"
curl -s -o /dev/null --cacert "$pki/ca.crt" --cert "$work/expired.crt" --key "$work/norole.key" \
  "$LISECD_URL/v1/status" && fail "an expired certificate was served"
for why in 'no client certificate' 'unable to get local issuer certificate' 'certificate has expired' \
  'carries no lisec role'; do
  for _ in $(seq 100); do grep -q "refused: [^\"]*$why" "$log" && break; sleep 0.1; done
  grep -q "refused: [^\"]*$why" "$log" || fail "no log line for a TLS client refused with '$why'"
done
pass "refused TLS clients are logged with the reason: no certificate, unknown CA, expired, no role"

# ---- /metrics as non-LI roles ------------------------------------------------
ok 200 operator GET /metrics
cp "$work/body" "$work/metrics-operator.txt"
ok 200 metrics GET /metrics
cp "$work/body" "$work/metrics-metrics.txt"
stop_lisecd

# ---- the log ------------------------------------------------------------------
python3 - "$log" "$gen" <<'PY' || fail "the log is not as documented (above)"
import json, re, sys
path, gen = sys.argv[1:3]
lines = open(path, encoding="utf-8").read().splitlines()
assert len(lines) > 20, "only %d lines" % len(lines)
access, ctl_lines, bad = [], [], []
for n, line in enumerate(lines, 1):
    try:
        o = json.loads(line)
    except ValueError:
        bad.append("line %d is not JSON: %s" % (n, line[:200])); continue
    for k in ("ts", "level", "component", "msg"):
        if not isinstance(o.get(k), str) or not o[k]:
            bad.append("line %d lacks %s: %s" % (n, k, line[:200]))
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o.get("ts", "")):
        bad.append("line %d: ts %r is not RFC 3339 UTC with milliseconds" % (n, o.get("ts")))
    if o.get("level") not in ("debug", "info", "warn", "error"):
        bad.append("line %d: level %r" % (n, o.get("level")))
    if o.get("msg") == "access":
        access.append(o)
        for k in ("request_id", "role", "route", "method"):
            if not isinstance(o.get(k), str) or not o[k]:
                bad.append("access line %d lacks %s" % (n, k))
        if not isinstance(o.get("status"), int) or not isinstance(o.get("duration_ms"), (int, float)):
            bad.append("access line %d lacks status or duration_ms" % n)
        if o.get("component") != "front":
            bad.append("access line %d is not the front's" % n)
    elif o.get("component") == "controller" and o.get("request_id"):
        ctl_lines.append(o)
if bad:
    print("\n".join(bad[:20])); sys.exit(1)
def find(**kw):
    return [a for a in access if all(a.get(k) == v for k, v in kw.items())]
a = find(request_id="obs-req.1:a_b")
assert len(a) == 1 and a[0]["role"] == "operator" and a[0]["route"] == "/v1/status" and a[0]["status"] == 200 \
    and a[0]["method"] == "GET", "access line of obs-req.1:a_b: %r" % a
assert find(request_id=gen), "no access line with the generated id %s" % gen
# the route is the pattern, never the path; withheld with the method and
# status for an LI route (li-admin's reads and adds of targets, the
# operator's refused read) and for all of li-admin's requests (its LI
# authorisation was put on a model route)
li_lines = find(route="(LI)")
assert find(route="(LI)", role="li-admin") and find(route="(LI)", role="operator"), \
    "no withheld access line as li-admin and as the operator: %r" % li_lines[:3]
assert all(a["method"] == "-" and (a["status"] == 0 or a["status"] >= 500) for a in li_lines), \
    "a withheld access line shows its method or status: %r" % [a for a in li_lines if a["method"] != "-"][:3]
assert not find(role="li-admin") or find(role="li-admin") == find(role="li-admin", route="(LI)"), \
    "an access line of li-admin names its route"
li_prefixes = ("/v1/li", "/v1/targets", "/v1/vault/", "/v1/x1/", "/v1/tasks")
assert not any(o.get("route", "").startswith(li_prefixes) for o in access + ctl_lines), \
    "a log line names an LI route's pattern: %r" % [o for o in access + ctl_lines if o.get("route", "").startswith(li_prefixes)][:3]
assert not any(o.get("role") == "li-admin" and o.get("route") != "(LI)" for o in ctl_lines), \
    "a controller line about li-admin's request names its route"
assert find(route="/v1/model/{kind}", role="operator", method="POST", status=201), \
    "a route not about LI lost its pattern, method or status"
# carried to the controller: its line about the request names the same id
assert any(c["request_id"] == "obs-req.1:a_b" and c.get("route") == "/v1/status" and c.get("role") == "operator"
           for c in ctl_lines), "no controller line carries the request id obs-req.1:a_b"
# the 403 for a certificate without a role has an access line with role "-"
assert any(a["status"] == 403 and a["role"] == "-" for a in access), "no access line for the role-less client"
print("ok: %d lines, %d access lines, %d controller lines with a request id" % (len(lines), len(access), len(ctl_lines)))
PY
pass "every line is JSON with ts, level, component, msg; access lines carry request_id, role, route pattern, status, duration_ms; the controller's lines carry the request id"

# ---- no LI identifier in what non-LI readers see -----------------------------------
xids=$(python3 -c "import json,sys;print(' '.join(t['xid'] for t in json.load(open(sys.argv[1]))['tasks']))" "$work/ne-tasks.json")
[ -n "$xids" ] || fail "no XID in the NE's tasks"
for f in "$log" "$work/metrics-operator.txt" "$work/metrics-metrics.txt"; do
  for secret in li-auth-x7 tgt-x7 "$imsi" vm-lix7 vm-storex7 $xids; do
    if grep -qF -- "$secret" "$f"; then
      grep -F -- "$secret" "$f" | head -3 >&2
      fail "$(basename "$f") names the LI identifier $secret"
    fi
  done
done
pass "the log and /metrics (operator, metrics role) name no LI, target, identifier, XID or LI VM"
