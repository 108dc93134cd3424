# Shared by the Retained Data tests (rd_api, rd_twin, rd_twin_records, rd_keys;
# sourced after common.sh): the RD administration's certificate and
# signing key, the LI and RD audit key pairs, a SoftHSM2 token for the data
# keys, the RD test clock, lisecd started on them, and the requests.

# rd_start "HOST..." [LINE...]: the above in $work (the current directory
# from then on), the development PKI in $pki, a host certificate for each
# HOST, and lisecd started with each LINE of configuration appended (after
# the [rd] section's lines: a LINE without a section header is an [rd] key).
rd_start() {
  local h
  pki=$work/pki
  make_pki "$pki"
  cd "$work"
  lisec pki issue "$pki" rd-admin rd-admin rd-admin >/dev/null
  for h in $1; do lisec pki issue "$pki" "$h" host "$h" >/dev/null; done
  shift
  lisec audit li-keygen audit-li.key audit-li.pub >/dev/null
  lisec audit li-keygen audit-rd.key audit-rd.pub >/dev/null
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out rd-sign.key 2>/dev/null
  openssl pkey -in rd-sign.key -pubout -out rd-sign.pub
  eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
  echo 4321 >pin
  echo 0 >clock
  export LISEC_TEST_RD_CLOCK=$work/clock
  rd_conf=("[audit]" "li_admin_key = $work/audit-li.pub" "rd_seal_key = $work/audit-rd.pub"
    "[model]" "allow_declared_trust = true"
    "[rd]" "admin_pubkey = $work/rd-sign.pub" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec"
    "pin_file = $work/pin" "check_ms = 100")
  start_lisecd "$pki" "${rd_conf[@]}" "$@"
}

# rd_restart [LINE...]: lisecd stopped (no sanitizer report in its log) and
# started again on the same store, token and keys, with each LINE appended
# (a later [rd] key overrides).
rd_restart() {
  stop_clean
  start_lisecd "$pki" "${rd_conf[@]}" "$@"
}

req() { # ROLE METHOD PATH [BODY]: the HTTP status; the body in $work/body
  local role=$1 method=$2 path=$3 body=${4:-}
  if [ -n "$body" ]; then
    as "$role" -X "$method" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary "$body" "$LISECD_URL$path"
  else
    as "$role" -X "$method" -o "$work/body" -w '%{http_code}' "$LISECD_URL$path"
  fi
}
expect() { # STATUS ROLE METHOD PATH [BODY]
  local want=$1 got
  shift
  got=$(req "$@")
  [ "$got" = "$want" ] || fail "$1 $2 $3: HTTP $got, want $want: $(cat "$work/body")"
}

# answer ROLE METHOD PATH [BODY]: "STATUS BODY" with an RD object's and its
# twin's ids made one (rd-X and tw-X: ID-X; ob-de and ob-none: OB) and the
# audit index left out.
answer() {
  local code
  code=$(req "$@")
  printf '%s ' "$code"
  python3 -c 'import json,re,sys
t = open(sys.argv[1]).read()
try:
    j = json.loads(t); j.pop("audit_index", None); j.pop("AuditIndex", None); t = json.dumps(j, sort_keys=True)
except ValueError:
    pass
print(re.sub(r"\b(rd|tw)-(q|st|db|x|u|n)\b", r"ID-\2", re.sub(r"\bob-(de|none)\b", "OB", t)))' "$work/body"
}
alike() { # WHAT A B: the answers about an RD object and its twin (RD_TWIN_SOFT=1: say so and go on)
  [ "$2" = "$3" ] || [ -z "${RD_TWIN_SOFT:-}" ] || { echo "DIFFER: $1: $2 /// $3"; return 0; }
  [ "$2" = "$3" ] || fail "$1 differ:
  named by an obligation: $2
  its twin:               $3"
}

# rd_register VM PUBFILE COUNTER: the RD administration registers PUBFILE as
# the key VM's data keys are wrapped to (lisec rd sign-recipient, then
# POST /v1/rd/recipients/VM); 200 expected.
rd_register() {
  lisec rd sign-recipient --key "$work/rd-sign.key" --vm "$1" --pubkey "$2" --counter "$3" --expires +600 \
    -o "$work/reg-$1-$3.json"
  expect 200 rd-admin POST "/v1/rd/recipients/$1" "$(cat "$work/reg-$1-$3.json")"
}
