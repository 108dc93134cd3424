# What the X1 report tests (x1_report_flood, x1_report_queue,
# x1_report_slow_record) set up alike, sourced after common.sh and
# li_topology.sh: the PKI with the ADMF's and poi-1's certificates, a
# SoftHSM2 token for the KEK, the LI administration's key, lisec-ne
# started on a port, lisecd's settings for X1 and the vault, and ok, a
# request that must answer a given status.

# x1_site: the PKI in $pki, the token (PIN in $work/pin),
# $work/li-admin.{key,pub}, and x1_lisecd, the lisecd settings every X1
# report test starts with (start_lisecd "$pki" "${x1_lisecd[@]}" MORE...).
x1_site() {
  pki=$work/pki
  make_pki "$pki"
  lisec pki issue "$pki" admf operator lisec-admf >/dev/null
  lisec pki issue "$pki" poi-1 host poi-1 >/dev/null
  eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
  echo 4321 >"$work/pin"
  lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null
  x1_lisecd=("[keys]" "x1_key_dir = $pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec"
    "pin_file = $work/pin" "key_label = lisec-kek" "[audit]" "li_admin_key = $work/li-admin.pub"
    "[model]" "allow_declared_trust = true")
}

wait_for() { # TIMES COMMAND...: every 0.1 s until the command succeeds
  local n=$1
  shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}

# ne_start ID PORT STATE LOG: lisec-ne ID on 127.0.0.1:PORT (its tasks in
# STATE, destinations strict), stopped at the end; returns once it listens.
ne_start() {
  "$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$2" --cert "$pki/server.crt" --key "$pki/server.key" \
    --ca "$pki/ca.crt" --ne-id "$1" --admf-id lisec-admf --state "$3" --strict-destinations 2>>"$4" &
  cleanup_hooks+=("kill $! 2>/dev/null; wait $! 2>/dev/null || true")
  wait_for 50 bash -c "echo >/dev/tcp/127.0.0.1/$2" 2>/dev/null || fail "lisec-ne $1 does not listen"
}

ok() { # STATUS ROLE METHOD PATH [BODY] -> the body
  local want=$1 role=$2 method=$3 path=$4 out
  if [ $# -ge 5 ]; then out=$(as "$role" -X "$method" -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$5" "$LISECD_URL$path")
  else out=$(as "$role" -X "$method" -w '\n%{http_code}' "$LISECD_URL$path"); fi
  [ "${out##*$'\n'}" = "$want" ] || fail "$role $method $path -> ${out##*$'\n'} (want $want): ${out%$'\n'*}"
  printf '%s' "${out%$'\n'*}"
}
