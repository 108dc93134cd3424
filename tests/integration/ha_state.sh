#!/usr/bin/env bash
# State that must survive a failover is in the store (issue 17 item 2,
# docs/ha.md "State in the store"), on one lisecd over SQLite; the other
# lisecd that writes the same store is played with direct SQL through
# Python's sqlite3, doing what a lisecd does (the document with its version
# bumped, and the model's generation document bumped with it).
#  - Every entity read carries its stored "version"; a PUT or DELETE that
#    names another version is refused 409 naming TR103308-5.5 and both
#    versions, and changes nothing; malformed versions are 400.
#  - The same in HTTP headers: reads and writes answer ETag: "<version>";
#    a stale If-Match is 412 naming TR103308-5.5 and both versions, a
#    malformed one 400, nothing stored changes; the fresh one is stored.
#  - Two writers racing with the version they both read: exactly one wins,
#    the other is told 409; the winner's change is stored and recorded.
#  - A document changed underneath (doc only, as a stray writer would): the
#    next write without a version is refused 409 (nothing overwritten), the
#    model is loaded again, and the stored change is what reads show.
#  - A host removed underneath by "another lisecd" (generation bumped): a
#    hypervisor naming it is refused 409 although this lisecd's model still
#    had the host; after the reload the same write is 400 (unknown host).
#  - A lisecd given another audit key than the one that signs the log
#    refuses to start naming the key that signed it (issue 17 item 3).
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
for tool in jq python3 openssl; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
db=$work/lisec.db
start_lisecd "$pki" "vkey_file = $work/a.vkey"
url=$LISECD_URL
py_sql() { # SQL...: each statement in one transaction, as another writer of the store
  python3 - "$db" "$@" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
c.execute("BEGIN IMMEDIATE")
for q in sys.argv[2:]:
    c.execute(q)
c.execute("COMMIT")
PY
}
req() { # METHOD PATH [BODY]: HTTP status; the reply in $work/r.json
  local data=()
  [ -z "${3:-}" ] || data=(-H 'Content-Type: application/json' -d "$3")
  as operator -o "$work/r.json" -w '%{http_code}' -X "$1" "${data[@]}" "$url$2"
}
expect() { # WANT METHOD PATH [BODY] [PATTERN]
  local want=$1 code
  code=$(req "$2" "$3" "${4:-}")
  [ "$code" = "$want" ] || fail "$2 $3 ${4:-}: $code $(cat "$work/r.json"), not $want"
  [ -z "${5:-}" ] || grep -qE -- "$5" "$work/r.json" || fail "$2 $3: the reply does not say /$5/: $(cat "$work/r.json")"
}
version() { as operator "$url/v1/model/$1" | jq -r .version; }
py_count() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$db" "$1"; }

# ---- versions from the client --------------------------------------------------------
expect 201 POST /v1/model/jurisdiction '{"id":"fi","codes":["FI"]}'
[ "$(jq -r .version "$work/r.json")" = 1 ] || fail "a new entity's reply has version $(jq -r .version "$work/r.json"), not 1"
expect 200 PUT /v1/model/jurisdiction/fi '{"codes":["FI"],"name":"Finland","version":1}'
[ "$(version jurisdiction/fi)" = 2 ] || fail "after one update fi is not at version 2"
expect 409 PUT /v1/model/jurisdiction/fi '{"codes":["FI"],"name":"stale","version":1}' \
  'TR103308-5.5: version: jurisdiction fi is at version 2, not 1'
expect 409 DELETE '/v1/model/jurisdiction/fi?version=1' 'TR103308-5.5: version: jurisdiction fi is at version 2, not 1'
expect 409 PUT /v1/model/jurisdiction/new '{"codes":["SE"],"version":3}' 'is at version 0, not 3'
expect 400 PUT /v1/model/jurisdiction/fi '{"codes":["FI"],"version":"2"}' 'version'
expect 400 PUT /v1/model/jurisdiction/fi '{"codes":["FI"],"version":-1}' 'version'
expect 400 PUT /v1/model/jurisdiction/fi '{"codes":["FI"],"version":1.5}' 'version'
expect 400 DELETE '/v1/model/jurisdiction/fi?version=x2' 'version'
[ "$(as operator "$url/v1/model/jurisdiction/fi" | jq -r .name)" = Finland ] || fail "a refused write changed fi"
expect 201 PUT /v1/model/jurisdiction/se '{"codes":["SE"],"version":0}'
expect 409 PUT /v1/model/jurisdiction/se '{"codes":["SE"],"version":0}' 'is at version 1, not 0'
expect 200 DELETE '/v1/model/jurisdiction/se?version=1'
pass "versions: read with every entity, a stale one refused 409 naming TR103308-5.5 and both versions (PUT, DELETE, create), malformed ones 400, nothing changed by a refusal"

# ---- versions in HTTP headers: ETag on reads and writes, If-Match on writes -------------------
hdr() { # METHOD PATH IF-MATCH [BODY]: HTTP status; reply in $work/r.json, headers in $work/r.hdr
  local data=()
  [ -z "${4:-}" ] || data=(-H 'Content-Type: application/json' -d "$4")
  as operator -o "$work/r.json" -D "$work/r.hdr" -w '%{http_code}' -X "$1" -H "If-Match: $3" "${data[@]}" "$url$2"
}
etag() { tr -d '\r' <"$work/r.hdr" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p'; }
stored_fi() { py_count "SELECT version || ' ' || body FROM documents WHERE kind = 'model.jurisdiction' AND id = 'fi'"; }
as operator -D "$work/r.hdr" -o "$work/r.json" "$url/v1/model/jurisdiction/fi"
v=$(jq -r .version "$work/r.json")
[ "$(etag)" = "\"$v\"" ] || fail "GET fi: ETag '$(etag)', not \"$v\" (the stored version)"
before=$(stored_fi)
code=$(hdr PUT /v1/model/jurisdiction/fi "\"$((v - 1))\"" '{"codes":["FI"],"name":"stale-etag"}')
[ "$code" = 412 ] || fail "PUT with a stale If-Match: $code $(cat "$work/r.json"), not 412"
grep -qF "TR103308-5.5: version: jurisdiction fi is at version $v, not $((v - 1))" "$work/r.json" ||
  fail "the 412 does not name TR103308-5.5 and both versions: $(cat "$work/r.json")"
[ "$(jq -r .error.code "$work/r.json")" = conflict ] || fail "412 code: $(cat "$work/r.json")"
code=$(hdr DELETE /v1/model/jurisdiction/fi "\"$((v - 1))\"")
[ "$code" = 412 ] || fail "DELETE with a stale If-Match: $code, not 412"
for bad in '*' "W/\"$v\"" "$v" "\"$v\", \"$((v + 1))\"" '"x"' "\"$(printf '9%.0s' $(seq 40))\""; do
  code=$(hdr PUT /v1/model/jurisdiction/fi "$bad" '{"codes":["FI"],"name":"bad-etag"}')
  [ "$code" = 400 ] && grep -q 'If-Match' "$work/r.json" || fail "If-Match '$bad': $code $(cat "$work/r.json"), not 400 naming If-Match"
done
code=$(hdr PUT /v1/model/jurisdiction/fi "\"$v\"" "{\"codes\":[\"FI\"],\"version\":$((v - 1))}")
[ "$code" = 400 ] || fail "If-Match and another body version: $code, not 400"
code=$(hdr DELETE "/v1/model/jurisdiction/fi?version=$((v - 1))" "\"$v\"")
[ "$code" = 400 ] || fail "If-Match and another ?version=: $code, not 400"
[ "$(stored_fi)" = "$before" ] || fail "a refused If-Match write changed the stored fi: $(stored_fi), was $before"
code=$(hdr PUT /v1/model/jurisdiction/fi "\"$v\"" '{"codes":["FI"],"name":"Finland"}')
[ "$code" = 200 ] || fail "PUT with the fresh If-Match: $code $(cat "$work/r.json"), not 200"
[ "$(etag)" = "\"$((v + 1))\"" ] || fail "the write's ETag '$(etag)', not \"$((v + 1))\""
[ "$(stored_fi | cut -d' ' -f1)" = $((v + 1)) ] || fail "the fresh If-Match write is not stored"
expect 409 PUT /v1/model/jurisdiction/fi "{\"codes\":[\"FI\"],\"version\":$v}" 'is at version'
pass "ETag: \"<version>\" on reads and writes; a stale If-Match refused 412 naming TR103308-5.5 and both versions (PUT, DELETE), malformed ones 400 naming If-Match, nothing stored changed; the fresh one stored; the body form keeps 409"

# ---- two writers racing on one document -------------------------------------------------
v=$(version jurisdiction/fi)
racers=()
for w in 1 2; do
  as operator -o "$work/race$w.json" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    -d "{\"codes\":[\"FI\"],\"name\":\"writer-$w\",\"version\":$v}" "$url/v1/model/jurisdiction/fi" >"$work/race$w.code" &
  racers+=($!)
done
wait "${racers[@]}"
codes="$(cat "$work/race1.code") $(cat "$work/race2.code")"
case "$codes" in
"200 409") winner=1 loser=2 ;;
"409 200") winner=2 loser=1 ;;
*) fail "two racing writers with version $v: $codes, not one 200 and one 409" ;;
esac
grep -q "TR103308-5.5: version: jurisdiction fi is at version $((v + 1)), not $v" "$work/race$loser.json" ||
  fail "the losing writer's 409 does not name the versions: $(cat "$work/race$loser.json")"
[ "$(as operator "$url/v1/model/jurisdiction/fi" | jq -r .name)" = "writer-$winner" ] || fail "the winner's change is not what is stored"
pass "two writers racing with version $v: writer $winner stored (200), writer $loser refused 409 naming the versions"

# ---- a document changed underneath ---------------------------------------------------------
v=$(version jurisdiction/fi)
py_sql "UPDATE documents SET body = '{\"codes\":[\"FI\"],\"id\":\"fi\",\"name\":\"from-sql\"}', version = version + 1
        WHERE kind = 'model.jurisdiction' AND id = 'fi'"
expect 409 PUT /v1/model/jurisdiction/fi '{"codes":["FI"],"name":"stale-leader"}' \
  "TR103308-5.5: jurisdiction fi changed in the store under this lisecd \\(version $((v + 1)) there, $v here"
[ "$(as operator "$url/v1/model/jurisdiction/fi" | jq -r '.name + " " + (.version|tostring)')" = "from-sql $((v + 1))" ] ||
  fail "after the refusal the model was not loaded again: $(as operator "$url/v1/model/jurisdiction/fi")"
expect 200 PUT /v1/model/jurisdiction/fi "{\"codes\":[\"FI\"],\"name\":\"after-reload\",\"version\":$((v + 1))}"
grep -q 'changed in the store under this lisecd; loaded it again' "$work/lisecd.log" || fail "the reload is not logged"
pass "a document changed underneath: the write without a version refused 409 (nothing overwritten), the model loaded again, the next write with the stored version stored"

# ---- a referenced host removed by another lisecd -------------------------------------------
expect 201 POST /v1/model/host '{"id":"h-1","protection":"general"}'
py_sql "DELETE FROM documents WHERE kind = 'model.host' AND id = 'h-1'" \
  "INSERT INTO documents (kind, id, body, version, updated_at) VALUES ('generation', 'model', '{}', 1, 0)
   ON CONFLICT (kind, id) DO UPDATE SET version = version + 1"
expect 409 POST /v1/model/hypervisor '{"id":"hv-1","host":"h-1"}' 'TR103308-5.5: hypervisor hv-1 changed in the store'
expect 400 POST /v1/model/hypervisor '{"id":"hv-1","host":"h-1"}' 'h-1'
expect 404 GET /v1/model/host/h-1
[ "$(py_count "SELECT count(*) FROM documents WHERE kind = 'model.hypervisor'")" = 0 ] || fail "a hypervisor naming a removed host was stored"
pass "a host removed by another lisecd: a hypervisor naming it refused 409 by the generation check, then 400 (unknown host) after the reload; nothing stored"

# ---- what is recorded -------------------------------------------------------------------------
# every acknowledged write is in the store; the refused stale writes left a failed record
[ "$(py_count "SELECT count(*) FROM documents WHERE kind LIKE 'model.%'")" = 1 ] ||
  fail "the store holds other model documents than fi"
stop_lisecd
lisec audit verify --db "sqlite:$db" --pubkey "$work/a.vkey" >"$work/verify.out" || { cat "$work/verify.out"; fail "offline verify"; }
pass "the audit log verifies offline after the refusals"

# ---- a lisecd with another audit key ------------------------------------------------------------
mv "$work/audit-dev.pem" "$work/audit-a.pem"
openssl genpkey -algorithm ed25519 -out "$work/audit-dev.pem" 2>/dev/null || fail "openssl: another key"
chmod 600 "$work/audit-dev.pem"
signer=$(cut -d+ -f1,2 "$work/a.vkey")
rc=0
timeout 60 "$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>"$work/other.log" || rc=$?
[ "$rc" = 2 ] || { cat "$work/other.log" >&2; fail "a lisecd with another audit key: exit $rc, not 2"; }
grep -qF "TR103308-5.5: the audit log in the store is signed by key $signer, which this lisecd does not have" "$work/other.log" ||
  { cat "$work/other.log" >&2; fail "the refusal does not name the key that signed the log ($signer)"; }
! grep -q 'forged' "$work/other.log" || fail "the refusal calls the log forged"
pass "a lisecd with another audit key refuses to start (exit 2) naming the key that signed the log ($signer)"
for f in lisecd other; do ! grep -q Sanitizer "$work/$f.log" || { cat "$work/$f.log" >&2; fail "sanitizer report"; }; done
