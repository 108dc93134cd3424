#!/usr/bin/env bash
# The compliance view (issue 23 item 4, docs/ui.md) in a real browser:
# lisecd serves /ui/ with the example platform of clause 6.2 loaded, and
# one more host that attests with its own swtpm and lisec-agent (its location
# signed by asset management), and headless Chromium opens it with a client
# certificate (imported into an NSS
# database under a temporary HOME and chosen by the managed policy
# AutoSelectCertificateForUrls). The DOM Chromium dumps is checked per role
# (hosts with trust, its source and attestation age, countries, violations;
# the auditor sees the attested host only) with the example compliant and after
# vm-target is put on the London hypervisor (the demo's violating step):
# the violation appears under TR103308-6.2-R1 in lisecd's own words to the
# LI administration; the auditor's and operator's pages leave the LI rule's
# row out (they still read compliant, and say that LI rows are not shown)
# and name no LI, target or LI VM. When vm-li fails O.1.3 and DOMAIN the
# auditor's page still names it not, while the operator's, as li-admin's,
# lists both rows naming it and reads not compliant for them. The operator's
# VM table shows every VM its /v1/model/vm answers, LI VMs too, as the API
# rule for it is (docs/model.md, "What each role sees"; before, the page hid
# them), and the auditor's page names no VM (ui_cdp.py vms). Every request the page makes goes to lisecd
# (Chromium's network log, with every other host name unresolvable), its
# Content-Security-Policy reports no violation, and the files carry the
# headers and content types they must; other roles are refused. A page
# of another site opened in the operator's browser cannot make lisecd act
# or read with the operator's certificate (CSRF; docs/ui.md, "A browser
# may only read").
# Release build only (like rng_vm): the sanitizer build serves the same
# embedded files and checks the routes in test_api.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
if grep -qs '^LISEC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "SKIP: the browser test runs in the release build"
  exit 77
fi
for tool in chromium certutil pk12util swtpm tpm2_pcrextend; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/bootstrap installs it)"; exit 77; }
done
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/model.sh"
. "$src/tests/integration/attest_lib.sh"
check() { python3 "$src/tests/integration/ui_check.py" "$@"; }

policy_dir=/etc/chromium/policies/managed
if ! mkdir -p "$policy_dir" 2>/dev/null || [ ! -w "$policy_dir" ]; then
  echo "SKIP: $policy_dir is not writable (the test sets Chromium's certificate policy there; run as root)"
  exit 77
fi

pki=$work/pki
make_pki "$pki"
make_li_admin_key "$work/li-admin"
# One host proves its boot and location with a TPM (its own swtpm and
# lisec-agent): asset management places it in Helsinki. The example's hosts
# only declare theirs (development mode).
cd "$work"
tpm_up A
tpm_use A
evgen --log fw-A.bin --extends fw-A.txt --reference ref.json
tpm_extend fw-A.txt
cat >agent-A.conf <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
ek = rsa
ak = ecc
pcrs = 0,1,2,3,4,5,6,7,8,15
[agent]
state_dir = $work/state-A
eventlog = $work/fw-A.bin
poll_ms = 200
interval_s = 300
[server]
url = https://localhost:PORT
ca = $pki/ca.crt
cert = $pki/host-a.crt
key = $pki/host-a.key
CONF
agent=("$build/cmd/lisec-agent/lisec-agent" -c "$work/agent-A.conf")
attested=$("${agent[@]}" host-id) || fail "lisec-agent host-id"
lisec pki issue "$pki" host-a host "$attested" >/dev/null || fail "lisec pki issue host-a"
am_pki am
mkdir -p state-A
issue_location am "$attested" "$(tpm_reset_count)" state-A/location.cms FI FI-18 "Helsinki DC3"
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li-admin.pub" "[model]" "allow_declared_trust = true" \
  "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt"
sed -i "s|^url = .*|url = $LISECD_URL|" agent-A.conf

# ---- the files and their headers, read with curl ----------------------------
headers() { as "$1" -o "$work/body" -D - "$LISECD_URL$2" | tr -d '\r'; }
csp="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
for f in "/ui/|text/html; charset=utf-8" "/ui|text/html; charset=utf-8" \
  "/ui/app.js|text/javascript; charset=utf-8" "/ui/app.css|text/css; charset=utf-8" \
  "/ui/outlines.json|application/json"; do
  path=${f%%|*} type=${f#*|}
  h=$(headers auditor "$path")
  grep -qx "HTTP/1.1 200 OK" <<<"$h" || fail "GET $path as auditor: $(head -1 <<<"$h")"
  grep -qix "content-type: $type" <<<"$h" || fail "GET $path: content type is not $type: $h"
  grep -qix "content-security-policy: $csp" <<<"$h" || fail "GET $path: not the strict CSP: $h"
  grep -qix "cache-control: no-store" <<<"$h" || fail "GET $path: not Cache-Control: no-store"
  grep -qix "x-content-type-options: nosniff" <<<"$h" || fail "GET $path: no nosniff"
  grep -qix "referrer-policy: no-referrer" <<<"$h" || fail "GET $path: not Referrer-Policy: no-referrer: $h"
  grep -qix "cross-origin-opener-policy: same-origin" <<<"$h" || fail "GET $path: not COOP same-origin: $h"
  grep -qix "cross-origin-resource-policy: same-origin" <<<"$h" || fail "GET $path: not CORP same-origin: $h"
  # HEAD: the GET's status, length and headers, no body (405 before)
  hh=$(as auditor -I "$LISECD_URL$path" | tr -d '\r')
  grep -qx "HTTP/1.1 200 OK" <<<"$hh" || fail "HEAD $path as auditor: $(head -1 <<<"$hh")"
  grep -qix "content-length: $(stat -c %s "$work/body")" <<<"$hh" || fail "HEAD $path: not the GET's length: $hh"
  grep -qix "cross-origin-resource-policy: same-origin" <<<"$hh" || fail "HEAD $path: not CORP same-origin: $hh"
  case $path in
    /ui | /ui/) file=index.html ;;
    *) file=${path#/ui/} ;;
  esac
  cmp -s "$work/body" "$src/src/api/ui/$file" || fail "GET $path is not the file src/api/ui/$file"
done
# No inline script or style, no event-handler attributes, no URL of another site.
python3 - "$src/src/api/ui" <<'PY' || fail "the view's files must load nothing inline or from elsewhere"
import re, sys, pathlib
d = pathlib.Path(sys.argv[1])
html = (d / "index.html").read_text()
for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S):
    assert 'src="/ui/' in m.group(1) and not m.group(2).strip(), "inline script: " + m.group(0)[:80]
assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html, re.I), "inline style or handler"
for f in d.iterdir():
    urls = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s'\"]*", f.read_text()))
    urls -= {"http://www.w3.org/2000/svg"}  # the SVG namespace, a name, never fetched
    assert not urls, f"{f.name}: {urls}"
PY
pass "the view's files: content types, strict CSP, Referrer-Policy, COOP, CORP, no-store, nosniff, HEAD as GET without the body, nothing inline or foreign"
for role in mano host hypervisor-admin; do
  code=$(as "$role" -o "$work/body" -w '%{http_code}' "$LISECD_URL/ui/")
  [ "$code" = 403 ] && grep -q "admitted roles: operator, li-admin, auditor" "$work/body" ||
    fail "GET /ui/ as $role: $code $(cat "$work/body")"
done
for bad in /ui/nothing.js /ui/index.htm /ui/ui_embed.cmake; do
  code=$(as operator -o "$work/body" -w '%{http_code}' "$LISECD_URL$bad")
  [ "$code" = 404 ] || fail "GET $bad: $code, not 404"
done
code=$(as operator -o "$work/body" -w '%{http_code}' --path-as-is "$LISECD_URL/ui/%2e%2e%2fetc")
[ "$code" = 400 ] || [ "$code" = 404 ] || fail "GET /ui/%2e%2e%2fetc: $code"
pass "other roles are refused 403 naming the admitted roles; unknown files 404"

# A browser holding a lisec certificate must not let another site's page
# use it (docs/ui.md, "A browser may only read"): a request carrying a
# browser's Origin or Sec-Fetch-* that would change state is refused, and
# so is one of another site but a top-level visit of the view's page. The
# CLI, MANO and agents send neither and are unaffected (put_topology below).
vm_csrf='{"id":"vm-csrf","hypervisor":"hv-lon-1","sensitivity":"sensitive","domain":"core"}'
for hdr in "Origin: https://elsewhere.example" "Sec-Fetch-Site: same-origin" "Sec-Fetch-Site: cross-site"; do
  code=$(as operator -o "$work/body" -w '%{http_code}' -H "$hdr" -H 'Content-Type: text/plain' \
    -d "$vm_csrf" "$LISECD_URL/v1/model/vm")
  [ "$code" = 403 ] && grep -q "cross-site request forgery" "$work/body" ||
    fail "POST /v1/model/vm with $hdr: $code $(cat "$work/body"), not 403 naming CSRF"
done
for spec in "cross-site|no-cors|image|/v1/compliance|403" "same-site|cors|empty|/v1/status|403" \
  "cross-site|navigate|document|/v1/compliance|403" "cross-site|navigate|document|/ui/|200" \
  "same-origin|cors|empty|/v1/compliance|200" "none|navigate|document|/v1/status|200"; do
  IFS='|' read -r site mode dest path want <<<"$spec"
  code=$(as li-admin -o "$work/body" -w '%{http_code}' -H "Sec-Fetch-Site: $site" -H "Sec-Fetch-Mode: $mode" \
    -H "Sec-Fetch-Dest: $dest" "$LISECD_URL$path")
  [ "$code" = "$want" ] || fail "GET $path with Sec-Fetch-Site $site, mode $mode: $code, not $want: $(cat "$work/body")"
done
# Node's fetch (undici) is no browser but sends Sec-Fetch-Mode: cors (with
# these fields, no Origin or Sec-Fetch-Site) on every request: a client
# written with it writes like the CLI.
node=(-H 'Accept: */*' -H 'Accept-Language: *' -H 'Sec-Fetch-Mode: cors' -H 'User-Agent: node')
code=$(as operator -o "$work/body" -w '%{http_code}' "${node[@]}" -H 'Content-Type: application/json' \
  -d '{"id":"j-node","name":"Sweden","codes":["SE"]}' "$LISECD_URL/v1/model/jurisdiction")
[ "$code" = 201 ] || fail "POST as Node's fetch sends it: $code $(cat "$work/body")"
code=$(as operator -o "$work/body" -w '%{http_code}' "${node[@]}" -X DELETE "$LISECD_URL/v1/model/jurisdiction/j-node")
[ "$code" = 200 ] || fail "DELETE as Node's fetch sends it: $code $(cat "$work/body")"
pass "a browser's request that would change state, or another site's but a visit of /ui/, is refused 403; Node's fetch writes"

# ---- the example platform, in the browser --------------------------------------
split_topology "$src/examples/helsinki-london.json" "$work/model"
put_topology "$work/model"
for kind_body in "host|{\"id\":\"$attested\",\"protection\":\"sensitive\"}" \
  "hypervisor|{\"id\":\"hv-att\",\"host\":\"$attested\"}"; do
  code=$(as operator -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "${kind_body#*|}" "$LISECD_URL/v1/model/${kind_body%%|*}")
  [ "$code" = 201 ] || fail "POST ${kind_body%%|*}: $code $(cat "$work/body")"
done
"${agent[@]}" run >>"$work/agent-A.log" 2>&1 &
agent_pid=$!
cleanup_hooks+=("kill $agent_pid 2>/dev/null || true")
for _ in $(seq 1 300); do
  as auditor "$LISECD_URL/v1/attest/hosts" | grep -q '"trust":"trusted"' && break
  kill -0 "$agent_pid" 2>/dev/null || { cat "$work/agent-A.log" >&2; fail "lisec-agent exited"; }
  sleep 0.2
done
as auditor "$LISECD_URL/v1/attest/hosts" | grep -q '"trust":"trusted"' ||
  { cat "$work/agent-A.log" >&2; fail "the TPM host did not attest within 60 s"; }
pass "a fourth host attested with its TPM: trusted, located by asset management in FI"

# A client certificate per role, in an NSS database under its own HOME,
# and the policy that makes Chromium present it to this lisecd.
for role in operator auditor li-admin; do
  home=$work/home-$role
  mkdir -p "$home/.pki/nssdb"
  certutil -N -d "sql:$home/.pki/nssdb" --empty-password || fail "certutil -N"
  certutil -A -n lisec-dev-ca -t "C,," -d "sql:$home/.pki/nssdb" -i "$pki/ca.crt" || fail "certutil -A"
  openssl pkcs12 -export -in "$pki/$role.crt" -inkey "$pki/$role.key" -name "$role" -passout pass: \
    -out "$work/$role.p12" || fail "openssl pkcs12"
  pk12util -i "$work/$role.p12" -d "sql:$home/.pki/nssdb" -W '' >/dev/null || fail "pk12util"
done
policy=$policy_dir/lisec-ui-test-$$.json
cleanup_hooks+=("rm -f '$policy'")
printf '{"AutoSelectCertificateForUrls": ["{\\"pattern\\":\\"%s\\",\\"filter\\":{}}"]}\n' "$LISECD_URL" >"$policy"

# browse ROLE NAME: the DOM of /ui/ as ROLE sees it, in $work/NAME.html,
# with Chromium's network log in $work/NAME.net.json. Every host name but
# localhost is unresolvable, so nothing else could be reached anyway.
browse() {
  local role=$1 name=$2
  HOME=$work/home-$role timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --no-default-browser-check --disable-background-networking --disable-component-update \
    --disable-sync --disable-default-apps --disable-extensions --user-data-dir="$work/profile-$name" \
    --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE localhost" --log-net-log="$work/$name.net.json" \
    --virtual-time-budget=20000 --dump-dom "$LISECD_URL/ui/" >"$work/$name.html" 2>"$work/$name.err" ||
    { tail -20 "$work/$name.err" >&2; fail "chromium as $role exited $?"; }
  check net "$work/$name.net.json" "$LISECD_URL"
}
# browse_all ROLE:NAME...: in parallel, each checked afterwards.
browse_all() {
  local pids=() spec
  for spec in "$@"; do browse "${spec%%:*}" "${spec#*:}" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || fail "a browser run failed"; done
}

# what the page of every role but li-admin says of the LI rules' rows
li_note='Violations of the LI rules are shown to the LI administration only'
li_ids=(--absent li-fi-1 --absent vm-li --absent vm-store --absent lea-fi --absent "issued in FI"
  --absent "Finnish law enforcement")
# the operator reads the LI VMs it declared (/v1/model/vm), not the LI
op_ids=(--absent li-fi-1 --absent lea-fi --absent "issued in FI" --absent "Finnish law enforcement")
browse_all operator:op-compliant auditor:au-compliant
check dom "$work/op-compliant.html" --role operator --compliant \
  --expect-host hel-1:trusted:FI:declared --expect-host hel-2:trusted:FI:declared \
  --expect-host lon-1:trusted:GB:declared --expect-host "$attested:trusted:FI:attested" --hosts 4 \
  --expect-country FI --expect-country GB --present vm-target "${op_ids[@]}" \
  --present 'data-vm="vm-li"' --present 'data-vm="vm-store"'
check dom "$work/au-compliant.html" --role auditor --compliant --expect-host "$attested:trusted:FI:attested" \
  --hosts 1 --expect-country FI --no-vms \
  --absent vm-target "${li_ids[@]}"
pass "compliant: the operator sees 4 trusted hosts in FI and GB on the map (3 declared, 1 attested with its age), every VM, no violation; the auditor the attested host and no LI identifier"

# An attestation's age is lisecd's to tell (its report's time), not the
# viewer's clock: in a browser whose clock runs three days ahead the TPM
# host, which attested within the last minutes, is not three days old
# (nor would one that attested hours ago read "0 s" in a clock behind).
HOME=$work/home-operator timeout 120 python3 "$src/tests/integration/ui_cdp.py" ages "$LISECD_URL/ui/" \
  "$work/profile-ages" 259200 >"$work/ages.json" || fail "the ages run failed: $(cat "$work/ages.json")"
python3 - "$work/ages.json" "$attested" <<'PY' || fail "attestation age by the browser's clock: $(cat "$work/ages.json")"
import json, re, sys
ages = json.load(open(sys.argv[1]))
assert re.fullmatch(r"\d+ s|\d min", ages[sys.argv[2]]), ages
PY
pass "the attestation age is lisecd's, whatever the browser's clock"

# A free-text field the page shows (a host's site, the operator's or MANO's
# to write) holding markup: shown as text, nothing runs (ui_check.py would
# also see a CSP violation).
xss='<img src=x onerror="document.title=1"><script>document.title=2</script>'
python3 -c 'import json, sys
h = json.load(sys.stdin)
h["location"]["site"] = sys.argv[1]
print(json.dumps({k: h[k] for k in ("id", "trust", "protection", "location")}))' "$xss" \
  < <(as operator "$LISECD_URL/v1/model/host/lon-1") >"$work/lon-1.json"
as operator -X PUT -H 'Content-Type: application/json' -d @"$work/lon-1.json" -o "$work/body" -w '%{http_code}' \
  "$LISECD_URL/v1/model/host/lon-1" | grep -qx 200 || fail "PUT lon-1 with markup in its site: $(cat "$work/body")"
# London: the monitored VM is put on the London hypervisor.
as operator -X PUT -H 'Content-Type: application/json' \
  -d '{"hypervisor":"hv-lon-1","sensitivity":"sensitive","domain":"core"}' \
  -o /dev/null -w '%{http_code}' "$LISECD_URL/v1/model/vm/vm-target" | grep -qx 200 || fail "PUT vm-target on hv-lon-1"
for role in operator auditor li-admin; do as "$role" "$LISECD_URL/v1/compliance" >"$work/report-$role.json"; done
browse_all operator:op-london auditor:au-london li-admin:li-london
check dom "$work/op-london.html" --role operator --compliant --report "$work/report-operator.json" \
  --expect-host lon-1:trusted:GB --expect-country GB "${op_ids[@]}" --absent TR103308-6.2-R1 --present "$li_note" \
  --present '&lt;img src=x onerror=' --absent '<img src=x' --absent '<script>document' --present '<title>lisec compliance</title>'
grep -c '<title>lisec compliance</title>' "$work/op-london.html" | grep -qx 1 || fail "the page's title changed"
check dom "$work/au-london.html" --role auditor --compliant --report "$work/report-auditor.json" \
  --expect-host "$attested:trusted:FI:attested" --hosts 1 --no-vms --absent vm-target "${li_ids[@]}" \
  --absent TR103308-6.2-R1 --present "$li_note"
check dom "$work/li-london.html" --role li-admin --violating TR103308-6.2-R1 --report "$work/report-li-admin.json" \
  --hosts 0 --expect-li li-fi-1 --present "issued in FI" --present vm-target --present vm-li --absent "$li_note"
pass "London: TR103308-6.2-R1 shown in lisecd's words to li-admin; the operator's and auditor's pages leave the LI rule's row out and read compliant, saying so"

# An LI VM on a host of too low a protection level, and an ordinary VM in
# its domain (reviews of 2026-12-07): vm-li goes to hel-2 ("sensitive"), so
# O.1.3 fails for it, and vm-dom joins domain li, so DOMAIN fails naming
# vm-li. The auditor's page leaves both rows out (its report does) and
# still reads compliant. The operator, which placed vm-li there and alone
# can move it, reads both rows as li-admin does and a verdict that counts
# them; its VM table still shows no LI VM, and nothing of the LI itself.
as operator "$LISECD_URL/v1/model/vm/vm-li" | jq -c '{hypervisor, sensitivity, domain, paired}' >"$work/vm-li-was.json"
jq -c '.hypervisor = "hv-hel-2"' "$work/vm-li-was.json" >"$work/vm-li.json"
as operator -X PUT -H 'Content-Type: application/json' -d @"$work/vm-li.json" -o "$work/body" -w '%{http_code}' \
  "$LISECD_URL/v1/model/vm/vm-li" | grep -qx 200 || fail "PUT vm-li on hv-hel-2: $(cat "$work/body")"
as operator -X PUT -H 'Content-Type: application/json' \
  -d '{"hypervisor":"hv-hel-1","sensitivity":"general","domain":"li"}' -o "$work/body" -w '%{http_code}' \
  "$LISECD_URL/v1/model/vm/vm-dom" | grep -qx 201 || fail "PUT vm-dom in domain li: $(cat "$work/body")"
for role in operator auditor li-admin; do as "$role" "$LISECD_URL/v1/compliance" >"$work/report-$role.json"; done
browse_all operator:op-livm auditor:au-livm li-admin:li-livm
n=$(jq '.violations | length' "$work/report-operator.json")
check dom "$work/op-livm.html" --role operator --violating TR103308-7-O.1.3 --violating TR103308-4.1-DOMAIN \
  --report "$work/report-operator.json" --present "VM vm-li has sensitivity li" --present "holds LI VM vm-li" \
  --present "not compliant: $n violation(s)" --present 'data-vm="vm-li"' --absent li-fi-1 --absent lea-fi \
  --absent "issued in FI" --absent "Finnish law enforcement" --present "$li_note"
check dom "$work/au-livm.html" --role auditor --compliant --report "$work/report-auditor.json" --no-vms \
  "${li_ids[@]}" --absent TR103308-7-O.1.3 --absent TR103308-4.1-DOMAIN --present "$li_note"
check dom "$work/li-livm.html" --role li-admin --violating TR103308-7-O.1.3 --violating TR103308-4.1-DOMAIN \
  --report "$work/report-li-admin.json" --present "VM vm-li has sensitivity li" --present "holds LI VM vm-li"
pass "an LI VM failing O.1.3 and DOMAIN: named on li-admin's and the operator's pages (not compliant, its VM table with it); the auditor's names no LI VM and reads compliant"
# What each page shows of VMs, as drawn (ui_cdp.py vms): the operator's VM
# table and host rows every VM /v1/model/vm answers it, the LI VMs vm-li
# and vm-store too; the auditor's no VM table and no VM anywhere.
as operator "$LISECD_URL/v1/model/vm" | jq -c '[.vms[].id] | sort' >"$work/api-vms.json"
for role in operator auditor; do
  HOME=$work/home-$role timeout 120 python3 "$src/tests/integration/ui_cdp.py" vms "$LISECD_URL/ui/" \
    "$work/profile-vms-$role" - >"$work/vms-$role.json" || fail "the vms run as $role failed: $(cat "$work/vms-$role.json")"
done
jq -e --slurpfile api "$work/api-vms.json" '(.vms | sort) == $api[0] and (.vms | index("vm-li")) and
  (.vms | index("vm-store")) and .vms_hidden == false and (.host_vms["hel-2"] | test("vm-li"))' \
  "$work/vms-operator.json" >/dev/null ||
  fail "the operator's page: every VM of /v1/model/vm ($(cat "$work/api-vms.json")), LI VMs too, expected: $(cat "$work/vms-operator.json")"
jq -e '.vms == [] and .vms_hidden == true and ([.host_vms[]] | all(. == "not shown to this role")) and
  (.text | test("vm-li|vm-store|vm-target|vm-dom") | not)' "$work/vms-auditor.json" >/dev/null ||
  fail "the auditor's page names a VM: $(cat "$work/vms-auditor.json")"
pass "the operator's page shows every VM its API answers, vm-li and vm-store too; the auditor's names none"
# and back: vm-li where it was, vm-dom out of domain li (the operator's
# page reads compliant again below)
as operator -X PUT -H 'Content-Type: application/json' -d @"$work/vm-li-was.json" -o "$work/body" -w '%{http_code}' \
  "$LISECD_URL/v1/model/vm/vm-li" | grep -qx 200 || fail "PUT vm-li back: $(cat "$work/body")"
as operator -X PUT -H 'Content-Type: application/json' \
  -d '{"hypervisor":"hv-hel-1","sensitivity":"general","domain":"core"}' -o "$work/body" -w '%{http_code}' \
  "$LISECD_URL/v1/model/vm/vm-dom" | grep -qx 200 || fail "PUT vm-dom in domain core: $(cat "$work/body")"
as operator "$LISECD_URL/v1/compliance" | jq -e .compliant >/dev/null ||
  fail "the operator's report after vm-li went back: $(as operator "$LISECD_URL/v1/compliance")"

# ---- another site's page in the operator's browser ------------------------------
# The operator, its certificate in the browser, visits a page of another
# site (served here on the loopback as evil.test). The page sends lisecd a
# POST that would create a VM (a no-cors fetch with a text/plain JSON body
# needs no CORS preflight, and the browser presents the certificate), and
# loads lisecd's compliance report as an image. Chromium's network log
# shows both were sent; lisecd refused both: no VM was made. The page's
# fetch fails: Cross-Origin-Resource-Policy keeps even the opaque reply
# from it.
mkdir -p "$work/evil"
cat >"$work/evil/index.html" <<HTML
<!doctype html><html><head><title>loading</title></head><body><script>
fetch("$LISECD_URL/v1/model/vm", {method: "POST", mode: "no-cors", credentials: "include",
  headers: {"Content-Type": "text/plain"}, body: '$vm_csrf'})
  .then(() => { document.title = "sent"; }, (e) => { document.title = "failed " + e; });
const img = new Image(); img.src = "$LISECD_URL/v1/compliance"; document.body.appendChild(img);
</script></body></html>
HTML
evil_port=$(free_port)
python3 -m http.server "$evil_port" --bind 127.0.0.1 --directory "$work/evil" >"$work/evil.log" 2>&1 &
evil_pid=$!
cleanup_hooks+=("kill $evil_pid 2>/dev/null || true")
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$evil_port/" && break
  sleep 0.1
done
HOME=$work/home-operator timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --no-first-run --no-default-browser-check --disable-background-networking --disable-component-update \
  --disable-sync --disable-default-apps --disable-extensions --user-data-dir="$work/profile-evil" \
  --host-resolver-rules="MAP evil.test 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE localhost" \
  --log-net-log="$work/evil.net.json" --virtual-time-budget=10000 --dump-dom "http://evil.test:$evil_port/" \
  >"$work/evil.html" 2>"$work/evil.err" || { tail -20 "$work/evil.err" >&2; fail "chromium on evil.test exited"; }
# the fetch settles, failing: lisecd's reply carries
# Cross-Origin-Resource-Policy: same-origin, so Chromium keeps even its
# opaque response from another site's page (the POST went out: the net log)
grep -q '<title>failed TypeError' "$work/evil.html" ||
  fail "the other site's page: its fetch did not fail (CORP same-origin): $(cat "$work/evil.html")"
check sent "$work/evil.net.json" POST "$LISECD_URL/v1/model/vm" 403
check sent "$work/evil.net.json" GET "$LISECD_URL/v1/compliance" 403
code=$(as operator -o "$work/body" -w '%{http_code}' "$LISECD_URL/v1/model/vm/vm-csrf")
[ "$code" = 404 ] || fail "another site's page created vm-csrf with the operator's certificate: $code $(cat "$work/body")"
pass "another site's page in the operator's browser: its POST and its read of lisecd refused 403, no VM made, its fetch blocked by CORP"

# ---- a reload that fails -------------------------------------------------------
# The operator's page reads compliant; lisecd then stops and the page's
# Reload fails: the verdict must no longer say compliant (the page drawn
# before stays, the verdict says it is not known), rather than keep a
# green "compliant" above a note at the bottom.
HOME=$work/home-operator timeout 120 python3 "$src/tests/integration/ui_cdp.py" reload "$LISECD_URL/ui/" \
  "$work/profile-reload" "kill -TERM $LISECD_PID && timeout 30 bash -c 'while (echo >/dev/tcp/127.0.0.1/$LISECD_PORT) 2>/dev/null; do sleep 0.1; done'" \
  >"$work/reload.json" || fail "the reload run failed: $(cat "$work/reload.json")"
python3 - "$work/reload.json" <<'PY' || fail "after a failed reload the page still says compliant: $(cat "$work/reload.json")"
import json, sys
before, after = (json.loads(l) for l in open(sys.argv[1]))
assert before["compliant"] == "true" and before["text"] == "compliant", before
assert after["compliant"] is None and "compliant" not in after["class"].split(), after
assert after["text"].startswith("not known"), after
PY
pass "a reload that cannot read lisecd: the verdict says it is not known, not the last one"
