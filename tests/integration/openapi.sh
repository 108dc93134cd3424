#!/usr/bin/env bash
# docs/openapi.yaml is what lisecd serves (issue 23): the route table lisecd
# itself serves (openapi_routes, linked with lisec_api) against the
# document, methods, patterns, roles (x-lisec-roles) and bodies, both ways,
# and every requirement id (x-lisec-requirements) one lisec maps; every
# example validates against its schema (Draft 2020-12); a running lisecd
# with the Helsinki / London example platform, targets, an X1 NE, an LI VM
# a signed package and its image reports from the host running the VM is driven across roles, good and bad input (200,
# 201, 400, 403, 404, 405, 409, 503), and every reply validates against the
# schema the document gives for that route, status and media type;
# @redocly/cli (pinned in tools/, installed by scripts/bootstrap) lints the
# document. Each check is shown to fail on a document made wrong. Release
# build only.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"

if grep -qs '^LISEC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "SKIP: the document is checked once per make check, in the release build; the routes run under the sanitizer in api_integration and the topic tests"
  exit 77
fi
doc=$src/docs/openapi.yaml
# Debian's python3-yaml and python3-jsonschema (scripts/bootstrap): the
# system interpreter, whatever python3 comes first on PATH.
py=/usr/bin/python3
"$py" -c 'import yaml, jsonschema; jsonschema.Draft202012Validator' 2>/dev/null ||
  fail "python3-yaml and python3-jsonschema (Draft 2020-12) are needed: run scripts/bootstrap"
check() { "$py" "$src/tests/integration/openapi_check.py" "$@"; }

# 1. the route table, both ways, with roles and bodies
"$build/tests/integration/openapi_routes" >"$work/routes" || fail "openapi_routes cannot print the route table"
[ "$(wc -l <"$work/routes")" -ge 50 ] || fail "openapi_routes printed only $(wc -l <"$work/routes") routes"
check routes "$doc" "$work/routes" || fail "docs/openapi.yaml does not describe lisecd's routes"
# The comparison can fail: a route the document lacks, a route lisecd lacks,
# and different roles are each caught.
sed '1d' "$work/routes" >"$work/routes.less"
if check routes "$doc" "$work/routes.less" 2>"$work/err"; then fail "a documented route lisecd lacks went unnoticed"; fi
grep -q 'lisecd serves no such route' "$work/err" || fail "the missing route is not named: $(cat "$work/err")"
{ cat "$work/routes"; echo "GET /v1/openapi-probe operator none -"; } >"$work/routes.more"
if check routes "$doc" "$work/routes.more" 2>"$work/err"; then fail "a route the document lacks went unnoticed"; fi
grep -q 'GET /v1/openapi-probe: lisecd serves it' "$work/err" || fail "the undocumented route is not named: $(cat "$work/err")"
awk '$2 == "/v1/targets" && $1 == "GET" { $3 = $3 ",auditor" } { print }' "$work/routes" >"$work/routes.roles"
if check routes "$doc" "$work/routes.roles" 2>"$work/err"; then fail "different roles went unnoticed"; fi
grep -q 'GET /v1/targets: x-lisec-roles' "$work/err" || fail "the role difference is not named: $(cat "$work/err")"
# A requirement id nobody maps is named too (the check reads src/ and docs/
# beside the document, so the probe gets a tree of its own).
mkdir -p "$work/tree/docs"
ln -s "$src/src" "$work/tree/src"
cp "$src"/docs/*.md "$work/tree/docs/"
sed 's/x-lisec-requirements: \[TR103308-5.8\]/x-lisec-requirements: [TR103308-9.9]/' "$doc" >"$work/tree/docs/openapi.yaml"
cmp -s "$doc" "$work/tree/docs/openapi.yaml" && fail "the probe for an unknown requirement found nothing to change"
if check routes "$work/tree/docs/openapi.yaml" "$work/routes" 2>"$work/err"; then fail "an unknown requirement id went unnoticed"; fi
grep -q 'names TR103308-9.9, which neither' "$work/err" || fail "the unknown requirement is not named: $(cat "$work/err")"
pass "route table and document agree (and a difference either way, in roles, or an unknown requirement id fails)"

# 2. every example against its schema; and an example made wrong is caught
check examples "$doc" || fail "an example does not validate"
sed 's/uptime_seconds: 5, you:/uptime_seconds: five, you:/' "$doc" >"$work/wrong-example.yaml"
cmp -s "$doc" "$work/wrong-example.yaml" && fail "the probe for a wrong example found nothing to change"
if check examples "$work/wrong-example.yaml" 2>"$work/err"; then fail "an example that does not match its schema went unnoticed"; fi
grep -q "GET /v1/status 200 application/json example: 'five' is not of type 'integer'" "$work/err" ||
  fail "the wrong example is not named: $(cat "$work/err")"
pass "every example validates; a wrong one is named"

# 3. real replies
pki=$work/pki
make_pki "$pki"
# hel-2's own certificate: an image report counts only from the VM's host
lisec pki issue "$pki" host-hel-2 host hel-2 >/dev/null 2>&1 || fail "lisec pki issue host hel-2"
make_li_admin_key "$work/li"
# The vault's KEK in a SoftHSM2 token, so the target routes answer for real;
# the LI administration's signing key, an LI VM's key, a pairing statement
# and a signed switch-off, so the LI routes do too.
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/pin"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/li-sign.key" 2>/dev/null
openssl pkey -in "$work/li-sign.key" -pubout -out "$work/li-sign.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/vm.key" 2>/dev/null
openssl pkey -in "$work/vm.key" -pubout -out "$work/vm.pub"
lisec li pair-sign --key "$work/li-sign.key" --vm vm-li-2 --pubkey "$work/vm.pub" -o "$work/pair.json" 2>/dev/null ||
  fail "lisec li pair-sign"
lisec li sign-disable --key "$work/li-sign.key" --vm vm-li-2 --counter 1 --expires +600 -o "$work/disable.json" 2>/dev/null ||
  fail "lisec li sign-disable"
# Two versions of a VNF package signed by a vendor and countersigned by the
# operator (tests/integration/lib/csar.sh), so on-boarding answers for real.
. "$src/tests/integration/lib/csar.sh"
(cd "$work" && mkca vca Vendor && mkca oca Operator && issue vca vendor Vendor && issue oca operator Operator &&
  mkpkg good.csar vendor 1.0 2000 operator && mkpkg v2.csar vendor 2.0 2000 operator) || fail "signed packages"
start_lisecd "$pki" "[pkg]" "vendor_ca = $work/vca/ca.crt" "operator_ca = $work/oca/ca.crt" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/pin" \
  "key_label = lisec-kek" "[audit]" "li_admin_key = $work/li.pub" "[li]" "admin_pubkey = $work/li-sign.pub" \
  "[model]" "allow_declared_trust = true"
check replies "$doc" "$LISECD_URL" "$pki" "$work" "$src/examples/helsinki-london.json" ||
  fail "a reply of lisecd does not match the document"
# A document whose reply schema is wrong is caught by the same requests.
sed 's/placement_source: {type: string, enum: \[declared, observed\]}/placement_source: {type: string, enum: [observed]}/' \
  "$doc" >"$work/wrong-reply.yaml"
cmp -s "$doc" "$work/wrong-reply.yaml" && fail "the probe for a wrong reply schema found nothing to change"
if check recheck "$work/wrong-reply.yaml" "$work/replies.json" 2>"$work/err"; then
  fail "a reply that does not match its documented schema went unnoticed"
fi
grep -q "POST /v1/decisions/placement -> 200: 'declared' is not one of \['observed'\] at \['placement_source'\]" "$work/err" ||
  fail "the mismatching reply is not named: $(cat "$work/err")"
pass "a reply schema made wrong is caught"

# 4. the linter
redocly=$src/tools/node_modules/.bin/redocly
if [ ! -x "$redocly" ]; then
  if (cd "$src/tools" && npm ci --no-audit --no-fund --ignore-scripts >"$work/npm.log" 2>&1); then
    :
  elif grep -qiE 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network' "$work/npm.log"; then
    echo "SKIP: the npm registry is unreachable and tools/node_modules is absent (scripts/bootstrap installs it)"
    exit 77
  else
    cat "$work/npm.log" >&2
    fail "npm ci in tools/ failed"
  fi
fi
"$redocly" lint --config "$src/tools/redocly.yaml" "$doc" >"$work/lint" 2>&1 || { cat "$work/lint" >&2; fail "@redocly/cli lint refuses docs/openapi.yaml"; }
pass "@redocly/cli lint: $(grep -m1 -iE 'is valid|warning' "$work/lint" || echo clean)"
