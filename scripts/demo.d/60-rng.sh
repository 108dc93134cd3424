# Chapter 6: the entropy service. lisec-entropyd health-tests its sources,
# serves seeds to registered VNFs over mutual TLS, and reports to lisecd what
# it issued (counts, never values) and which sources failed.
say "lisec-entropyd starts beside lisecd: getrandom and CPU jitter, plus a 'hardware RNG' that is stuck (/dev/zero)"
lisec pki issue "$pki" entropyd-1 host entropyd-1 >/dev/null
lisec pki issue "$pki" vnf-a vnf vnf-a >/dev/null
ed_port=$(free_port)
ed_mport=$(free_port)
cat >"$work/entropyd.conf" <<CONF
[server]
listen = 127.0.0.1:$ed_port
[tls]
cert = $pki/server.crt
key = $pki/server.key
client_ca = $pki/ca.crt
[clients]
allowed = vnf-a
[metrics]
listen = 127.0.0.1:$ed_mport
[entropy]
min_sources = 2
reseed_ms = 50
[source.rdseed]
enabled = false
[source.device]
enabled = true
path = /dev/zero
[report]
url = $LISECD_URL
cert = $pki/entropyd-1.crt
key = $pki/entropyd-1.key
ca = $pki/ca.crt
interval_s = 1
[log]
level = warn
CONF
"$build/cmd/lisec-entropyd/lisec-entropyd" -c "$work/entropyd.conf" 2>"$work/entropyd.log" &
ed_pid=$!
cleanup_hooks+=("kill -TERM $ed_pid 2>/dev/null; wait $ed_pid 2>/dev/null")
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$ed_mport/metrics" 2>/dev/null | grep -q '^lisec_entropyd_serving 1' && break
  sleep 0.1
done
explain "its own log: $(grep -o 'rng source device excluded: .*' "$work/entropyd.log" | cut -c1-110)"
run lisec rng health --url "http://127.0.0.1:$ed_mport"

say "A registered VNF fetches a seed and generates a key (liblisec-rng, key generation needs a fresh external seed)"
export LISEC_RNG_ENTROPYD="127.0.0.1:$ed_port" LISEC_RNG_CERT="$pki/vnf-a.crt" \
  LISEC_RNG_KEY="$pki/vnf-a.key" LISEC_RNG_CA="$pki/ca.crt"
run lisec rng reseed
show lisec rng keygen 32 \| xxd
lisec rng keygen 32 | xxd | sed 's/^/     /'
unset LISEC_RNG_ENTROPYD LISEC_RNG_CERT LISEC_RNG_KEY LISEC_RNG_CA

say "The stuck source is a finding in lisecd (GET /v1/rng/findings, operator or auditor)"
sleep 1.5
as operator "$LISECD_URL/v1/rng/findings?open=true" |
  python3 -c 'import json,sys
for f in json.load(sys.stdin)["findings"]:
    print("   %s %s/%s: %s (%s)" % (f["severity"], f["reporter"], f["subject"], f["detail"][:90], f["requirement"]))'

say "lisecd's audit log counts what each VNF was issued: who, when, how many bytes, never the values"
as auditor "$LISECD_URL/v1/audit/entries?from=0&count=10000" |
  python3 -c 'import base64,json,re,sys
for e in json.load(sys.stdin)["entries"]:
    d = base64.b64decode(e["data"])
    a = re.search(rb"rng\.[a-z_.]+", d)
    if e["sealed"] or not a: continue
    r = re.search(rb"(TR103308-[0-9.]+: [ -~]+|instance [0-9a-f]+ [ -~]+)", d)
    print("   #%d %-22s %s" % (e["index"], a.group().decode(), r.group().decode()[:110] if r else ""))'

say "Only a daemon's own certificate (role host) may report; the operator may not"
expect_fail as operator --fail -H 'Content-Type: application/json' \
  -d '{"v":1,"instance":"00112233445566778899aabbccddeeff","seq":1,"from":1800000000,"to":1800000001,"serving":true,"sources":[],"issuance":[]}' \
  "$LISECD_URL/v1/rng/events"
kill -TERM "$ed_pid" 2>/dev/null && wait "$ed_pid" 2>/dev/null || true
