# Shared by the high-availability integration tests (ha_failover,
# ha_pg_promote, ha_stack; sourced after common.sh, with $pki made): the
# audit checkpoint key every [ha] node shares, provisioned before any of
# them starts (none makes one, docs/ha.md), and one node's configuration on
# loopback: the test PKI, its own API and probe ports, the store, and that
# key; the [ha] lines of a node. What each test adds (its own sections and
# settings) follows as extra lines.

# ha_audit_key: $work/audit.pem, an Ed25519 key of mode 600.
ha_audit_key() {
  openssl genpkey -algorithm ed25519 -out "$work/audit.pem" 2>/dev/null || fail "openssl: the audit key"
  chmod 600 "$work/audit.pem"
}

# ha_conf FILE PORT PROBE STORE_URL VKEY [extra lines...]: writes FILE; the
# extra lines follow the [audit] section (so a first one may still be an
# [audit] setting).
ha_conf() {
  local file=$1 port=$2 probe=$3 store=$4 vkey=$5
  shift 5
  cat >"$file" <<CONF
[server]
listen = 127.0.0.1:$port
workers = 2
[tls]
cert = $pki/server.crt
key = $pki/server.key
client_ca = $pki/ca.crt
[probe]
listen = 127.0.0.1:$probe
[store]
url = $store
[log]
level = info
[audit]
origin = lisec-test/audit
development_key_file = $work/audit.pem
allow_development_key = true
checkpoint_ms = 300
vkey_file = $vkey
CONF
  for line in "$@"; do echo "$line" >>"$file"; done
}

# ha_section NAME PORT: the [ha] lines of node NAME, which advertises
# https://localhost:PORT; it polls the lock every 100 ms and holds it with
# a 2 s timeout. One a line, for ha_conf's extra lines (mapfile).
ha_section() {
  printf '%s\n' "[ha]" "enabled = true" "node = $1" "advertise = https://localhost:$2" \
    "lock_poll_ms = 100" "lock_timeout_ms = 2000"
}

# ha_free_ports N: the array free holds N distinct free loopback ports, as
# free_port finds one, found in one go (python starts slowly on a busy
# machine).
ha_free_ports() {
  mapfile -t free < <("$src/scripts/test/free-ports" "$1")
  [ "${#free[@]}" = "$1" ] || fail "$1 free ports: found ${#free[@]}"
}

# The nodes of a test, by name: PID[NAME] its lisecd, PORT[NAME] its API.
# alive NAME: still running (an exited child stays a zombie until waited
# for: not alive).
alive() { local st; st=$(ps -o stat= -p "${PID[$1]}" 2>/dev/null) && [ "${st:0:1}" != Z ]; }
# health NAME: the HTTP status of its /healthz (body in $work/h.json); 000
# when no answer.
health() { as operator --max-time 5 -o "$work/h.json" -w '%{http_code}' "https://localhost:${PORT[$1]}/healthz" 2>/dev/null || true; }
# leads NAME: it says leader. refuses NAME: 503 "role":"standby", as a
# standby answers.
leads() { [ "$(health "$1")" = 200 ] && [ "$(jq -r .role "$work/h.json")" = leader ]; }
refuses() { [ "$(health "$1")" = 503 ] && [ "$(jq -r .role "$work/h.json")" = standby ]; }

# ha_stall_node NAME LEASE_MS STALL [SETTING...]: starts lisecd NAME in the
# background (PID[NAME]), polling its lock every $POLL ms with lease_ms =
# LEASE_MS, the SETTINGs following [audit]; with STALL = stall its watch
# skips its rounds while the file $stall exists (LISEC_TEST_HA_WATCH_STALL).
ha_stall_node() {
  local n=$1 lease=$2 hook=() lines
  [ "$3" != stall ] || hook=("LISEC_TEST_HA_WATCH_STALL=$stall")
  shift 3
  mapfile -t lines < <(ha_section "$n" "${PORT[$n]}" | sed "s/^lock_poll_ms = .*/lock_poll_ms = $POLL/")
  ha_conf "$work/$n.conf" "${PORT[$n]}" "${PROBE[$n]}" "$url" "$work/$n.vkey" "$@" "${lines[@]}" "lease_ms = $lease"
  env "${hook[@]}" "$build/cmd/lisecd/lisecd" -c "$work/$n.conf" 2>>"$work/$n.log" &
  PID[$n]=$!
  cleanup_hooks+=("kill -TERM ${PID[$n]} 2>/dev/null; wait ${PID[$n]} 2>/dev/null")
}

# ha_pg_stoppable TAG: a PostgreSQL of the test's own (in $pgdir, URL in
# $url, sql STATEMENT runs one) whose backends the test may SIGSTOP: the
# one whose pid is in $stopped is let run again before the server stops at
# exit.
ha_pg_stoppable() {
  pgdir=$(mktemp -d "/tmp/lisec-pg-$1-XXXXXX")
  stopped=
  cleanup_hooks+=("[ -z \"\$stopped\" ] || kill -CONT \$stopped 2>/dev/null; '$src/scripts/test/pg-stop' '$pgdir'")
  url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
  sql() { psql -qtA "$url" -c "$1"; }
}
