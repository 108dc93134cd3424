#!/usr/bin/env bash
# The CLI gaps of issue 25 item 7, each against a real lisecd:
#  - `lisec target add` naming an authorisation the model does not hold is
#    refused by lisecd (400, TR103308-5.2), recorded, nothing stored;
#  - `lisec model decide placement` answers allow / deny (exit 0 / 1);
#  - `lisec model import` refuses declared trust and pairing outside
#    development mode (what the API refuses), a malformed file before
#    anything is sent; in development mode it loads a topology with one
#    audit record per entity, and export | import on an empty lisecd gives
#    the same model;
#  - a hypervisor PUT on another host is a move judged like a placement:
#    denied outside the LI's jurisdiction and onto untrusted hardware (409
#    naming the requirement, nothing moved), allowed onto trusted hardware
#    inside it, each recorded;
#  - --version and --help exit 0 on every program; under --json local
#    errors are JSON; libcurl's own texts never reach the user.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
pki=$work/pki
make_pki "$pki"
make_li_admin_key "$work/li"
li_cfg=("[audit]" "li_admin_key = $work/li.pub")
dev_cfg=("[model]" "allow_declared_trust = true")
vault_cfg=("[vault]" "development_key_file = $work/kek.dev" "allow_development_key = true")
cli_as() { local role=$1; shift; lisec --server "$LISECD_URL" --pki "$pki" --role "$role" "$@"; }
# After lisecd stopped: no sanitizer report (leaks included) in its log.
clean_stop() {
  stop_lisecd
  if grep -q 'Sanitizer' "$work/lisecd.log"; then cat "$work/lisecd.log" >&2; fail "lisecd reported a sanitizer error"; fi
}
rows() { sqlite3 -cmd '.timeout 10000' "$db" 'SELECT COUNT(*) FROM audit_log'; }
# run_rc VAR CMD...: runs CMD, its exit status in VAR (set -e stays on).
run_rc() { local __v=$1; shift; local __rc=0; "$@" || __rc=$?; printf -v "$__v" '%s' "$__rc"; }
# no_curl_text FILE: none of libcurl's or OpenSSL's own words in FILE.
no_curl_text() {
  if grep -Eiq 'getpeername|errno|SSL_ERROR|SSL_connect|OpenSSL|routines|curl|Failed to connect|Connection refused|wrong version' "$1"; then
    cat "$1" >&2
    fail "libcurl's text reached the user"
  fi
}

# ---- programs: --version and --help ------------------------------------------------
for p in lisecd/lisecd lisec/lisec lisec-agent/lisec-agent lisec-entropyd/lisec-entropyd lisec-ne/lisec-ne; do
  name=${p#*/}
  v=$("$build/cmd/$p" --version) || fail "$name --version exits non-zero"
  [[ $v =~ ^$name\ [0-9]+\.[0-9]+ ]] || fail "$name --version says '$v'"
  "$build/cmd/$p" --help >"$work/help" || fail "$name --help exits non-zero"
  grep -qi usage "$work/help" || fail "$name --help prints no usage on stdout"
done
for c in $(lisec --help | awk '/^commands:/{f=1;next} /^$/{f=0} f{print $1}'); do
  lisec "$c" --help >"$work/help" 2>&1 || fail "lisec $c --help exits non-zero"
  grep -q usage "$work/help" || fail "lisec $c --help shows no usage"
done
lisec model decide placement x --help >/dev/null || fail "lisec model decide placement x --help exits non-zero"
lisec-agent() { "$build/cmd/lisec-agent/lisec-agent" "$@"; }
lisec-agent quote --help >/dev/null || fail "lisec-agent quote --help exits non-zero"
run_rc rc lisec model bogus 2>/dev/null
[ "$rc" = 2 ] || fail "lisec model bogus: exit $rc, not 2"
pass "--version and --help exit 0 on all five programs and every lisec command; a usage error is 2"

# ---- local errors under --json, and no libcurl text --------------------------------
json_error() { # FILE CODE: FILE is one JSON error from lisec with that code (jq-free: lisec prints sorted, indented keys)
  tr -d ' \n' <"$1" >"$work/flat"
  grep -Eq '^\{"error":\{"code":"'"$2"'","message":"[^"]+.*","source":"lisec"\}\}$' "$work/flat" ||
    { cat "$1" >&2; fail "not a JSON error with code $2"; }
}
run_rc rc lisec --json model check "$work/none.json" >"$work/out" 2>"$work/err"
[ "$rc" = 2 ] && [ ! -s "$work/err" ] || fail "--json, a missing file: exit $rc, stderr $(cat "$work/err")"
json_error "$work/out" invalid
run_rc rc lisec --json bogus >"$work/out" 2>/dev/null
json_error "$work/out" invalid
run_rc rc lisec --json model put host >"$work/out" 2>/dev/null
json_error "$work/out" invalid
dead=$(free_port)
run_rc rc lisec --json --server "https://127.0.0.1:$dead" --pki "$pki" --role operator status >"$work/out" 2>"$work/err"
[ "$rc" = 2 ] || fail "a closed port: exit $rc"
json_error "$work/out" unavailable
grep -q 'nothing accepted the connection' "$work/out" || fail "a closed port: $(cat "$work/out")"
no_curl_text "$work/out"
# A server that accepts and closes at once (curl: "getpeername() failed with
# errno 107" / SSL_ERROR_SYSCALL), and one that speaks plain HTTP.
closer=$(free_port) plain=$(free_port)
python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); c.close()' "$closer" &
closer_pid=$!
cleanup_hooks+=("kill $closer_pid")
python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept()
    try: c.recv(4096); c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    except OSError: pass
    c.close()' "$plain" &
plain_pid=$!
cleanup_hooks+=("kill $plain_pid")
for port in $closer $plain; do
  for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done
for port in $closer $plain; do
  run_rc rc lisec --server "https://127.0.0.1:$port" --pki "$pki" --role operator status >/dev/null 2>"$work/err"
  [ "$rc" = 2 ] || fail "port $port: exit $rc"
  grep -q "https://127.0.0.1:$port" "$work/err" || fail "port $port: the error does not name the server: $(cat "$work/err")"
  # closed before or during the handshake, depending on timing: either is said so
  grep -Eq 'closed it at once|the TLS handshake failed' "$work/err" || fail "port $port: $(cat "$work/err")"
  no_curl_text "$work/err"
  run_rc rc lisec --json --server "https://127.0.0.1:$port" --pki "$pki" --role operator status >"$work/out" 2>/dev/null
  json_error "$work/out" unavailable
done
pass "under --json local and connection errors are JSON (code, message, source lisec); a closed port, a server closing at once and a plain-HTTP one are said in lisec's words, none of libcurl's"

# ---- lisecd A: production mode ----------------------------------------------------
db=$work/a.db
STORE_URL=sqlite:$db start_lisecd "$pki" "${li_cfg[@]}" "${vault_cfg[@]}"
ex=$src/examples/helsinki-london.json
# A malformed file: nothing sent.
printf '{"format":"lisec-topology/1","hosts":[{"id":"h-1","protection":"li"}],"hypervisors":[{"id":"hv-1","host":"h-404"}]}' >"$work/bad.json"
before=$(rows)
run_rc rc cli_as operator model import "$work/bad.json" 2>"$work/err"
[ "$rc" = 2 ] && grep -q 'h-404' "$work/err" && grep -q 'nothing was sent' "$work/err" || fail "a dangling reference: exit $rc: $(cat "$work/err")"
printf '{"format":"lisec-topology/1","hosts":[{"id":"h-1","protection":"li","colour":"red"}]}' >"$work/bad2.json"
run_rc rc cli_as operator model import "$work/bad2.json" 2>"$work/err"
[ "$rc" = 2 ] && grep -q 'colour' "$work/err" || fail "an unknown field: exit $rc: $(cat "$work/err")"
printf '{"format":"lisec-topology/9"}' >"$work/bad3.json"
run_rc rc cli_as operator model import "$work/bad3.json" 2>"$work/err"
[ "$rc" = 2 ] && grep -q 'format' "$work/err" || fail "another format: exit $rc: $(cat "$work/err")"
[ "$(rows)" = "$before" ] || fail "a refused file reached lisecd"
[ "$(cli_as operator model list host)" = "$(printf '{\n  "hosts": []\n}')" ] || fail "a refused file stored hosts"
# Declared trust: refused by lisecd at the first host; what came before stays.
run_rc rc cli_as operator model import "$ex" 2>"$work/err"
[ "$rc" = 1 ] || fail "declared trust imported outside development mode (exit $rc): $(cat "$work/err")"
grep -q 'TR103308-6.2-R8' "$work/err" && grep -q 'hosts\[0\] (host hel-1) refused; 2 of 17' "$work/err" ||
  fail "the refusal of declared trust: $(cat "$work/err")"
cli_as operator model get lea lea-fi >/dev/null || fail "what was stored before the refusal is gone"
run_rc rc cli_as operator model get host hel-1 2>/dev/null
[ "$rc" = 2 ] || fail "the refused host was stored"
# Declared pairing: refused too (the file has no trust, so it gets to the VM).
python3 - "$ex" "$work/untrusted.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
for h in t["hosts"]:
    h.pop("trust", None); h.pop("location", None)
t.pop("lis"); t.pop("groups"); t.pop("connections"); t.pop("storage")
json.dump(t, open(sys.argv[2], "w"))
PY
run_rc rc cli_as operator model import "$work/untrusted.json" 2>"$work/err"
[ "$rc" = 1 ] && grep -q 'TR103308-4.2' "$work/err" && grep -q 'vms\[1\] (vm vm-li)' "$work/err" ||
  fail "declared pairing: exit $rc: $(cat "$work/err")"
pass "import: a malformed file is refused before anything is sent; declared trust (TR103308-6.2-R8) and pairing (TR103308-4.2) are refused by lisecd outside development mode, naming the entity; what was stored before stays"

# Placement: general VM on an untrusted host is denied, naming MOVE2.
run_rc rc cli_as operator model decide placement vm-new hv-hel-2 --sensitivity general --domain core >"$work/out"
[ "$rc" = 1 ] && grep -q 'DENIED' "$work/out" && grep -q 'TR103308-6.2-MOVE2' "$work/out" || fail "placement on an untrusted host: exit $rc: $(cat "$work/out")"
printf '{"id":"vm-new","hypervisor":"hv-hel-2","sensitivity":"general","domain":"core"}' |
  { run_rc rc cli_as operator --json model decide placement --file - >"$work/out"; [ "$rc" = 1 ]; } ||
  fail "placement from a file on an untrusted host: $(cat "$work/out")"
grep -q '"allow": false' "$work/out" || fail "placement --json: $(cat "$work/out")"
run_rc rc cli_as operator model decide placement vm-new hv-404 --sensitivity general --domain core 2>"$work/err"
[ "$rc" = 2 ] && grep -q 'hv-404' "$work/err" || fail "placement on an unknown hypervisor: exit $rc: $(cat "$work/err")"
run_rc rc cli_as operator model decide placement vm-new hv-hel-2 2>"$work/err"
[ "$rc" = 2 ] && grep -q -- '--sensitivity' "$work/err" || fail "placement without a class: exit $rc"
run_rc rc cli_as auditor model decide placement vm-new hv-hel-2 --sensitivity general --domain core 2>"$work/err"
[ "$rc" = 1 ] || fail "an auditor asked for a placement decision: exit $rc"

# Targets: an authorisation that does not exist is refused by lisecd.
before=$(rows)
run_rc rc cli_as li-admin target add t-1 --authorisation li-404 --id ipv4=192.0.2.1 2>"$work/err"
[ "$rc" = 2 ] && grep -q 'TR103308-5.2' "$work/err" && grep -q 'li-404' "$work/err" || fail "a target under no authorisation: exit $rc: $(cat "$work/err")"
c=$(as li-admin -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' -d '{"id":"t-1","authorisation":"li-404","identifiers":[{"kind":"ipv4","value":"192.0.2.1"}]}' "$LISECD_URL/v1/targets")
[ "$c" = 400 ] && grep -q '"requirement": *"TR103308-5.2"' "$work/body" || fail "API: $c $(cat "$work/body")"
[ "$(rows)" -ge $((before + 2)) ] || fail "the refused targets were not recorded"
[ "$(cli_as li-admin --json target list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["targets"]))')" = 0 ] || fail "a refused target was stored"
run_rc rc cli_as operator target add t-1 --authorisation li-404 --id ipv4=192.0.2.1 2>/dev/null
[ "$rc" = 1 ] || fail "the operator added a target: exit $rc"
pass "placement decisions through the CLI (deny MOVE2 exit 1, unknown target 2, wrong role 1); a target under an authorisation the model lacks is refused 400 naming TR103308-5.2, recorded, not stored"
clean_stop

# ---- lisecd B: development mode; import, move, export ------------------------------
db=$work/b.db
STORE_URL=sqlite:$db start_lisecd "$pki" "${li_cfg[@]}" "${dev_cfg[@]}" "${vault_cfg[@]}"
before=$(rows)
python3 - "$ex" "$work/platform.json" "$work/lis.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
lis = t.pop("lis")
json.dump(t, open(sys.argv[2], "w"))
json.dump({"format": "lisec-topology/1", "lis": lis}, open(sys.argv[3], "w"))
PY
cli_as operator model import "$work/platform.json" >"$work/out" || fail "import the platform: $(cat "$work/out")"
grep -q 'imported 16 of 16 entities (16 created, 0 replaced)' "$work/out" || fail "import said: $(cat "$work/out")"
cli_as li-admin model import "$work/lis.json" --kinds li >/dev/null || fail "import the LI"
[ "$(( $(rows) - before ))" = 17 ] || fail "17 entities made $(( $(rows) - before )) audit records"
cli_as operator model compliance >/dev/null || fail "the imported example is not compliant"
# again: every entity replaced, nothing else changes
cli_as operator --json model import "$work/platform.json" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["replaced"]==16 and d["created"]==0, d' ||
  fail "a second import"
pass "import in development mode: 17 entities (operator's platform, li-admin's LI) in dependency order, one audit record each, compliant; a second import replaces each"

cli_as operator model decide placement vm-new hv-hel-1 --sensitivity general --domain core >"$work/out" ||
  fail "placement on trusted hardware: $(cat "$work/out")"
grep -q 'allowed' "$work/out" && grep -q 'audit index: [1-9]' "$work/out" || fail "placement said: $(cat "$work/out")"
cli_as li-admin target add t-1 --authorisation li-fi-1 --id ipv4=192.0.2.1 >/dev/null || fail "a target under li-fi-1"
pass "a placement on trusted hardware is allowed (exit 0, recorded); a target under an existing authorisation is added"

# Moves of hv-hel-2 (it runs vm-target, monitored by the Finnish LI).
hv_host() { cli_as operator --json model get hypervisor hv-hel-2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["host"])'; }
put_hv() { printf '{"id":"hv-hel-2","host":"%s"}' "$1" >"$work/hv.json"; cli_as "${2:-operator}" model put hypervisor "$work/hv.json"; }
loc_fi='"location":{"country":"FI","lat":60.2,"lon":24.9,"source":"attested"}'
printf '{"id":"hel-3","trust":"untrusted","protection":"li",%s}' "$loc_fi" >"$work/h3.json"
printf '{"id":"hel-4","trust":"trusted","protection":"li",%s}' "$loc_fi" >"$work/h4.json"
cli_as operator model put host "$work/h3.json" >/dev/null && cli_as operator model put host "$work/h4.json" >/dev/null || fail "hosts hel-3, hel-4"
before=$(rows)
run_rc rc put_hv lon-1 2>"$work/err"
[ "$rc" = 1 ] && grep -q 'TR103308-6.2-R1' "$work/err" || fail "a move out of the jurisdiction: exit $rc: $(cat "$work/err")"
grep -q 'li-fi-1\|lea-fi' "$work/err" && fail "the operator is told the LI's details: $(cat "$work/err")"
run_rc rc put_hv hel-3 2>"$work/err"
[ "$rc" = 1 ] && grep -q 'TR103308-6.2-MOVE2' "$work/err" && grep -q 'hel-3 is not trusted' "$work/err" || fail "a move onto untrusted hardware: exit $rc: $(cat "$work/err")"
run_rc rc put_hv h-404 2>"$work/err"
[ "$rc" = 2 ] && grep -q 'h-404' "$work/err" || fail "a move to an unknown host: exit $rc: $(cat "$work/err")"
printf '{"id":"hv-hel-2","host":"hel-4","colour":"red"}' >"$work/hv-bad.json"
run_rc rc cli_as operator model put hypervisor "$work/hv-bad.json" 2>"$work/err"
[ "$rc" = 2 ] && grep -q 'colour' "$work/err" || fail "a move with an unknown field: exit $rc: $(cat "$work/err")"
run_rc rc put_hv hel-4 auditor 2>/dev/null
[ "$rc" = 1 ] || fail "an auditor moved a hypervisor: exit $rc"
[ "$(hv_host)" = hel-2 ] || fail "a refused move moved hv-hel-2 to $(hv_host)"
[ "$(rows)" -ge $((before + 5)) ] || fail "refused moves were not recorded ($before -> $(rows))"
cli_as operator model compliance >/dev/null || fail "a refused move left a violation"
put_hv hel-4 >"$work/out" || fail "a move onto trusted hardware in Finland: $(cat "$work/out")"
grep -q 'moved hypervisor hv-hel-2 from host hel-2 to host hel-4 with its 1 VM' "$work/out" || fail "the move said: $(cat "$work/out")"
[ "$(hv_host)" = hel-4 ] || fail "hv-hel-2 is on $(hv_host)"
cli_as operator model compliance >/dev/null || fail "after the move the model is not compliant"
run_rc rc cli_as operator model decide migration vm-target hv-lon-1 >/dev/null
[ "$rc" = 1 ] || fail "after the move vm-target may go to London"
pass "hypervisor move with PUT: out of the LI's jurisdiction (R1) and onto untrusted hardware (MOVE2) refused 409, unknown host or field 400, auditor 403, each recorded, nothing moved; onto trusted hardware in Finland moved with its VM, still compliant"

cli_as operator model export >"$work/export.json" 2>"$work/err" || fail "export"
grep -q 'lis left out' "$work/err" || fail "the operator's export does not say LIs are left out: $(cat "$work/err")"
cli_as li-admin model export --kinds li >"$work/export-li.json" || fail "export --kinds li"
run_rc rc cli_as operator model export --kinds li 2>/dev/null >/dev/null
[ "$rc" = 1 ] || fail "the operator exported LIs: exit $rc"
clean_stop

# ---- lisecd C: empty; export | import gives the same model -------------------------
db=$work/c.db
STORE_URL=sqlite:$db start_lisecd "$pki" "${li_cfg[@]}" "${dev_cfg[@]}"
cli_as operator model import - <"$work/export.json" >/dev/null || fail "import the export"
cli_as li-admin model import "$work/export-li.json" --kinds li >/dev/null || fail "import the LI export"
cli_as operator model export 2>/dev/null >"$work/export2.json"
cli_as li-admin model export --kinds li >"$work/export2-li.json"
norm() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("description"); print(json.dumps(d, sort_keys=True))' "$1"; }
[ "$(norm "$work/export.json")" = "$(norm "$work/export2.json")" ] || fail "the round trip changed the platform: $(diff <(norm "$work/export.json") <(norm "$work/export2.json"))"
[ "$(norm "$work/export-li.json")" = "$(norm "$work/export2-li.json")" ] || fail "the round trip changed the LIs"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["hosts"])==5 and len(d["vms"])==3 and {h["id"]:h["host"] for h in d["hypervisors"]}["hv-hel-2"]=="hel-4", d' "$work/export2.json" ||
  fail "the exported model is not the one made"
pass "export | import on an empty lisecd gives the same model (5 hosts, the moved hypervisor, the LI)"
clean_stop
