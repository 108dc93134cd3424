#!/usr/bin/env bash
# lisec's one id rule (docs/api.md, "Identifiers") against a real lisecd
# with its target vault's KEK in a real SoftHSM2 token: every kind of entity
# (the nine model kinds, targets, X1 NEs, packages) is created, read and
# removed (packages have no removal) with ids at the rule's edges - 128
# bytes, every punctuation character it admits, one character - once
# through the API with curl and every path segment percent-encoded (so
# lisecd decodes them), once through the lisec CLI. Then ids outside the
# rule ('/', '?', '#', '%', space, NUL as \u0000, 129 bytes, empty, ".",
# "..", a leading '-') are refused when created, by the API and by the CLI,
# with a 400 naming the rule, and the store's documents are byte for byte
# what they were; malformed escapes and %00 in a path are 400 as well. A
# store holding a model id outside the rule stops lisecd at start.
set -euo pipefail
build=${1:?usage: ids.sh BUILD_DIR SRC_DIR}
src=${2:?usage: ids.sh BUILD_DIR SRC_DIR}
. "$src/tests/integration/lib/common.sh"
release_only "test_base holds the id rule and test_api the path decoding and router; model_api, li_api, pkg_api, vault_api and x1_admf create, read and delete each kind"
cd "$work"
pki=$work/pki
make_pki "$pki"
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/pin"
make_li_admin_key "$work/li-admin"
. "$src/tests/integration/lib/csar.sh"
mkca vca Vendor
mkca oca Operator
issue vca vendor Vendor
issue oca operator-sign Operator
mkpkg good.csar vendor 1.0 2000 operator-sign

start_lisecd "$pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" \
  "pin_file = $work/pin" "key_label = lisec-kek" "[audit]" "li_admin_key = $work/li-admin.pub" \
  "[pkg]" "vendor_ca = $work/vca/ca.crt" "operator_ca = $work/oca/ca.crt" "[api]" "max_body = 1048576"

RULE="starting with a letter or digit" # a phrase of the rule's text in every refusal
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
# api ROLE METHOD PATH [BODY]: the status; the reply in $work/reply.
api() {
  local args=(-o "$work/reply" -w '%{http_code}' -X "$2" "$LISECD_URL$3")
  [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
  as "$1" "${args[@]}"
}
# expect CODE ROLE METHOD PATH [BODY]
expect() {
  local want=$1 got
  shift
  got=$(api "$@") || fail "curl $*"
  [ "$got" = "$want" ] || { cat "$work/reply" >&2; fail "$2 $3: $got, not $want"; }
}
cli_as() { local role=$1; shift; lisec --server "$LISECD_URL" --pki "$pki" --role "$role" "$@"; }
# The store's entities; the audit log's own documents (a checkpoint's tree
# frontier) grow as each refusal is recorded and are not compared.
# The stored documents a request could change. Not the audit log's, nor the
# X1 tasks': the ADMF loop rewrites a task's retry state on its own timer
# (the NEs here never answer), so a snapshot taken across one of its turns
# could differ with no request involved (seen once in a full parallel run).
docs() { sqlite3 -cmd '.timeout 10000' "$work/lisec.db" "SELECT kind, id, version, body FROM documents WHERE kind NOT LIKE 'audit.%' AND kind != 'x1.task' ORDER BY kind, id"; }
role_of() { case $1 in li) echo li-admin ;; *) echo operator ;; esac; }

# chain PREFIX STYLE: one entity file per kind in $work/PREFIX/NN.KIND, each
# naming the others by their ids, and $work/PREFIX/ids (KIND ID per line).
# STYLE max: every id 128 bytes holding each of . _ : -; STYLE short: ids of
# 1 to 5 bytes, punctuation last.
chain() {
  python3 - "$work/$1" "$2" <<'PY'
import json, os, sys
out, style = sys.argv[1], sys.argv[2]
os.makedirs(out)
def mk(tag, short):
    if style == "short":
        return short
    s = (tag + "0.-_:") * 64
    return s[:127] + "Z"
ids = {k: mk(k, s) for k, s in [("jur", "9"), ("lea", "L:._-"), ("host", "h."), ("hv", "v:1"),
       ("mon", "m-"), ("livm", "l_"), ("stvm", "s."), ("st", "S:"), ("conn", "c-._:"),
       ("grp", "g_"), ("li", "i."), ("target", "t:-._"), ("ne", "n-.:"), ("pkg", "p_.:-")]}
if style == "max":
    ids["ne"] = ids["ne"][:63] + "Z"  # X1 identifiers are at most 64 bytes
ents = [
    ("jurisdiction", {"id": ids["jur"], "name": "Finland", "codes": ["FI"]}),
    ("lea", {"id": ids["lea"], "name": "LEA", "jurisdiction": ids["jur"]}),
    ("host", {"id": ids["host"], "protection": "li"}),
    ("hypervisor", {"id": ids["hv"], "host": ids["host"]}),
    ("vm", {"id": ids["mon"], "hypervisor": ids["hv"], "sensitivity": "sensitive", "domain": "core"}),
    ("vm", {"id": ids["livm"], "hypervisor": ids["hv"], "sensitivity": "li", "domain": "li"}),
    ("vm", {"id": ids["stvm"], "hypervisor": ids["hv"], "sensitivity": "li", "domain": "li"}),
    ("storage", {"id": ids["st"], "vm": ids["stvm"], "provided_to": [ids["livm"]]}),
    ("connection", {"id": ids["conn"], "between": [ids["mon"], ids["livm"]], "kind": "network", "secure": True}),
    ("group", {"id": ids["grp"], "connections": [ids["conn"]]}),
    ("li", {"id": ids["li"], "jurisdiction": ids["jur"], "lea": ids["lea"], "monitored": ids["mon"],
            "host": ids["livm"], "storage": ids["st"], "valid_from": "2025-01-01T00:00:00Z",
            "valid_until": "2035-01-01T00:00:00Z"}),
]
with open(f"{out}/ids", "w") as f:
    for n, (kind, e) in enumerate(ents):
        with open(f"{out}/{n:02d}.{kind}", "w") as g:
            json.dump(e, g)
        f.write(f"{kind} {e['id']}\n")
    for k in ("target", "ne", "pkg", "li", "livm"):
        f.write(f"{k}-id {ids[k]}\n")
PY
}
id_of() { awk -v k="$2-id" '$1 == k { print $2 }' "$work/$1/ids"; }
ne_json() { # ID VM
  printf '{"id":"%s","url":"https://127.0.0.1:9/X1/NE","vm":"%s","cert":"%s","key":"%s","ca":"%s","destinations":[{"address":"192.0.2.1","port":4790}]}' \
    "$1" "$2" "$pki/admf.crt" "$pki/admf.key" "$pki/ca.crt"
}

# ---- every kind through the API, ids at 128 bytes with every punctuation --
chain A max
for f in "$work"/A/[0-9]*; do
  kind=${f##*.} id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$f")
  [ ${#id} = 128 ] || fail "the test's id is ${#id} bytes"
  expect 201 "$(role_of "$kind")" PUT "/v1/model/$kind/$(enc "$id")" "$(cat "$f")"
  expect 200 "$(role_of "$kind")" GET "/v1/model/$kind/$(enc "$id")"
  grep -qF "\"$id\"" "$work/reply" || fail "GET $kind did not return $id"
done
t=$(id_of A target) li=$(id_of A li) ne=$(id_of A ne) p=$(id_of A pkg)
expect 201 li-admin POST /v1/targets "{\"id\":\"$t\",\"authorisation\":\"$li\",\"identifiers\":[{\"kind\":\"ipv4\",\"value\":\"192.0.2.7\"}]}"
expect 200 li-admin GET "/v1/targets/$(enc "$t")"
grep -q 192.0.2.7 "$work/reply" || fail "the target read back lacks its identifier"
expect 200 li-admin PUT "/v1/targets/$(enc "$t")" '{"version":1,"identifiers":[{"kind":"ipv4","value":"192.0.2.8"}]}'
expect 200 li-admin POST /v1/x1/nes "$(ne_json "$ne" "$(id_of A livm)")"
# Its X1 client cannot open ($pki has no admf.crt): said once in the log, and
# the X1 loop goes on (it crashed the controller when the next pass met the
# half-made client).
for _ in $(seq 1 50); do grep -qF "X1: NE $ne: no X1 client" "$work/lisecd.log" && break; sleep 0.1; done
grep -qF "X1: NE $ne: no X1 client" "$work/lisecd.log" || fail "no log line for an NE whose X1 client cannot open"
expect 201 operator POST /v1/packages "{\"id\":\"$p\",\"li\":false,\"csar\":\"$(base64 -w0 good.csar)\"}"
expect 200 operator GET "/v1/packages/$(enc "$p")"
pass "API: every kind created and read with 128-byte ids holding . _ : - (percent-encoded in paths)"

# Ids the rule admits need no escaping: the same ids unescaped name the same entities.
expect 200 operator GET "/v1/model/vm/$(id_of A livm)"
expect 200 li-admin GET "/v1/model/li/$li"
expect 200 li-admin GET "/v1/targets/$t"
pass "API: the same ids, not escaped, name the same entities"

# ---- every kind through the CLI, short ids ending in punctuation ----------
chain B short
for f in "$work"/B/[0-9]*; do
  kind=${f##*.} id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$f")
  cli_as "$(role_of "$kind")" model put "$kind" "$f" >/dev/null || fail "lisec model put $kind $id"
  cli_as "$(role_of "$kind")" --json model get "$kind" "$id" >"$work/out" || fail "lisec model get $kind $id"
  grep -qF "\"$id\"" "$work/out" || fail "lisec model get $kind $id did not show it"
done
t=$(id_of B target) li=$(id_of B li) ne=$(id_of B ne) p=$(id_of B pkg)
cli_as li-admin target add "$t" --authorisation "$li" --id ipv4=192.0.2.9 >/dev/null || fail "lisec target add $t"
cli_as li-admin --json target get "$t" | grep -q 192.0.2.9 || fail "lisec target get $t"
[ "$(grep -cF "X1: NE $(id_of A ne): no X1 client" "$work/lisecd.log")" = 1 ] ||
  fail "the NE whose X1 client cannot open was reported more than once (or the log was lost)"
ne_json "$ne" "$(id_of B livm)" >ne.json
cli_as li-admin task ne-put ne.json >/dev/null || fail "lisec task ne-put $ne"
cli_as li-admin --json task ne-list | grep -qF "\"$ne\"" || fail "lisec task ne-list lacks $ne"
cli_as operator pkg onboard good.csar --id "$p" >/dev/null || fail "lisec pkg onboard --id $p"
cli_as operator --json pkg show "$p" | grep -qF "\"$p\"" || fail "lisec pkg show $p"
pass "CLI: every kind created and read with ids of 1 to 5 bytes ending in . _ : -"

# ---- ids outside the rule are refused at creation, and nothing changes ----
before=$(docs)
max=$(id_of A target)
bad=("a/b" "a?b" "a#b" "a%b" "a%2Fb" "a b" "" "." ".." "-a" "${max}x" "a|b" "a\\\\b")
for b in "${bad[@]}"; do
  expect 400 li-admin POST /v1/targets "{\"id\":\"$b\",\"authorisation\":\"li-1\",\"identifiers\":[{\"kind\":\"ipv4\",\"value\":\"192.0.2.1\"}]}"
  grep -qF "$RULE" "$work/reply" || { cat "$work/reply" >&2; fail "target \"$b\": the refusal does not name the rule"; }
  expect 400 operator POST /v1/model/vm "{\"id\":\"$b\",\"hypervisor\":\"$(id_of A livm)\",\"sensitivity\":\"general\",\"domain\":\"core\"}"
  grep -qF "$RULE" "$work/reply" || { cat "$work/reply" >&2; fail "vm \"$b\": the refusal does not name the rule"; }
  expect 400 operator POST /v1/model/lea "{\"id\":\"$b\",\"name\":\"x\"}"
  grep -qF "$RULE" "$work/reply" || fail "lea \"$b\": the refusal does not name the rule"
  expect 400 li-admin POST /v1/x1/nes "$(ne_json "$b" "$(id_of A livm)")"
  grep -qF "$RULE" "$work/reply" || fail "NE \"$b\": the refusal does not name the rule"
  expect 400 operator POST /v1/packages "{\"id\":\"$b\",\"li\":false,\"csar\":\"$(base64 -w0 good.csar)\"}"
  grep -qF "$RULE" "$work/reply" || fail "package \"$b\": the refusal does not name the rule"
done
# NUL as \u0000: refused as JSON, so "a\u0000b" is never read as "a" (which exists).
expect 201 li-admin POST /v1/targets "{\"id\":\"a\",\"authorisation\":\"$li\",\"identifiers\":[{\"kind\":\"ipv4\",\"value\":\"192.0.2.2\"}]}"
before=$(docs)
expect 400 li-admin POST /v1/targets '{"id":"a\u0000b","authorisation":"li-1","identifiers":[{"kind":"ipv4","value":"192.0.2.3"}]}'
grep -q 'NUL' "$work/reply" || fail "\\u0000: the refusal does not say NUL"
expect 400 li-admin PUT /v1/targets/a '{"version":1,"identifiers":[{"kind":"ipv4","value":"192.0.2.\u00004"}]}'
expect 400 operator PUT /v1/model/vm/a '{"id":"a\u0000x","hypervisor":"x","sensitivity":"general","domain":"core"}'
# In a path: bad ids, malformed escapes and %00 are 400 naming why, not 404.
for path in "/v1/targets/a%2Fb" "/v1/targets/a%00b" "/v1/targets/a%zz" "/v1/targets/a%2" \
  "/v1/targets/a%20b" "/v1/targets/%2E%2E" "/v1/targets/a%25" "/v1/targets/a%23b" "/v1/targets/$max"x; do
  expect 400 li-admin DELETE "$path"
done
grep -qF "$RULE" "$work/reply" || fail "an over-long path id: the refusal does not name the rule"
expect 400 li-admin GET /v1/targets/a%00b
grep -q '%00' "$work/reply" || fail "%00: the refusal does not say so"
expect 400 operator PUT "/v1/model/vm/a%2Fb" '{"hypervisor":"x","sensitivity":"general","domain":"core"}'
[ "$(docs)" = "$before" ] || fail "a refused id changed the store"
pass "API: ids outside the rule ('/' '?' '#' '%' space NUL, 129 bytes, empty, '.', '..', '-a') refused with 400 naming the rule; the store unchanged"

for b in "a/b" "a?b" "a#b" "a%b" "a b" "-a"; do
  rc=0
  cli_as li-admin target add "$b" --authorisation li-1 --id ipv4=192.0.2.1 >/dev/null 2>"$work/err" || rc=$?
  [ "$rc" != 0 ] || fail "lisec target add \"$b\" succeeded"
  grep -qF "$RULE" "$work/err" || { cat "$work/err" >&2; fail "lisec target add \"$b\": no rule named"; }
  printf '{"id":"%s","name":"x"}' "$b" >bad.json
  rc=0
  cli_as operator model put lea bad.json >/dev/null 2>"$work/err" || rc=$?
  [ "$rc" != 0 ] && grep -qF "$RULE" "$work/err" || { cat "$work/err" >&2; fail "lisec model put lea \"$b\""; }
done
# "a?b" names no other entity: "a" exists, and the CLI must not read or remove it.
rc=0
cli_as li-admin target remove "a?b" 2>"$work/err" || rc=$?
[ "$rc" != 0 ] && grep -qF "$RULE" "$work/err" || fail "lisec target remove \"a?b\" was not refused"
cli_as li-admin target get a >/dev/null || fail "target a is gone"
[ "$(docs)" = "$before" ] || fail "a refused id changed the store (CLI)"
pass "CLI: ids outside the rule refused naming the rule (and 'a?b' never reaches 'a'); the store unchanged"

# ---- removal: everything created above goes, through each door -----------
code=$(api li-admin DELETE /v1/targets/a)
case $code in 200 | 204) ;; *) cat "$work/reply" >&2; fail "DELETE target a: $code" ;; esac
t=$(id_of A target) ne=$(id_of A ne)
expect 200 li-admin GET "/v1/targets/$(enc "$t")"
code=$(api li-admin DELETE "/v1/targets/$(enc "$t")")
case $code in 200 | 204) ;; *) cat "$work/reply" >&2; fail "DELETE target: $code" ;; esac
expect 404 li-admin GET "/v1/targets/$(enc "$t")"
code=$(api li-admin DELETE "/v1/x1/nes/$(enc "$ne")")
case $code in 200 | 204) ;; *) cat "$work/reply" >&2; fail "DELETE NE: $code" ;; esac
# Storage provided to a VM is detached (provided_to emptied) before it goes.
detached() { python3 -c 'import json,sys; e = json.load(open(sys.argv[1])); e["provided_to"] = []; print(json.dumps(e))' "$1"; }
for f in $(ls -r "$work"/A/[0-9]*); do
  kind=${f##*.} id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$f")
  [ "$kind" = storage ] && expect 200 operator PUT "/v1/model/$kind/$(enc "$id")" "$(detached "$f")"
  code=$(api "$(role_of "$kind")" DELETE "/v1/model/$kind/$(enc "$id")")
  case $code in 200 | 204) ;; *) cat "$work/reply" >&2; fail "DELETE $kind: $code" ;; esac
  expect 404 "$(role_of "$kind")" GET "/v1/model/$kind/$(enc "$id")"
done
pass "API: every entity with a 128-byte id removed (percent-encoded path), then 404"

t=$(id_of B target) ne=$(id_of B ne)
cli_as li-admin target remove "$t" >/dev/null || fail "lisec target remove $t"
cli_as li-admin target get "$t" >/dev/null 2>&1 && fail "target $t still readable"
cli_as li-admin task ne-remove "$ne" >/dev/null || fail "lisec task ne-remove $ne"
for f in $(ls -r "$work"/B/[0-9]*); do
  kind=${f##*.} id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$f")
  if [ "$kind" = storage ]; then
    detached "$f" | cli_as operator model put storage - >/dev/null || fail "lisec model put storage (detached)"
  fi
  cli_as "$(role_of "$kind")" model delete "$kind" "$id" >/dev/null || fail "lisec model delete $kind $id"
  cli_as "$(role_of "$kind")" model get "$kind" "$id" >/dev/null 2>&1 && fail "$kind $id still there"
done
[ -z "$(sqlite3 "$work/lisec.db" "SELECT id FROM documents WHERE kind LIKE 'model.%' OR kind = 'target'")" ] ||
  fail "entities left in the store"
pass "CLI: every entity with a short id removed"

stop_lisecd
if grep -E 'Sanitizer|runtime error' "$work/lisecd.log"; then fail "lisecd: sanitizer report"; fi
pass "lisecd stopped cleanly"

# A store written before the rule may hold a model id outside it: lisecd
# does not start on it (fail closed) and says which entity and why.
sqlite3 -cmd '.timeout 10000' "$work/lisec.db" \
  "INSERT INTO documents VALUES ('model.host', 'h@1', '{\"id\":\"h@1\",\"protection\":\"li\"}', 1, 0)"
rc=0
timeout 60 "$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>"$work/legacy.log" || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat "$work/legacy.log" >&2; fail "lisecd started on a stored id outside the rule (exit $rc)"; }
grep -q "stored host h@1: id: not a valid id: '@'" "$work/legacy.log" && grep -qF "$RULE" "$work/legacy.log" ||
  { cat "$work/legacy.log" >&2; fail "lisecd's refusal does not name the stored id and the rule"; }
pass "a stored model id outside the rule (an older store) stops lisecd at start, naming it and the rule"
