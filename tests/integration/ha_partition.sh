#!/usr/bin/env bash
# A leader cut off from PostgreSQL without a word (docs/ha.md, failure
# cases): a host that loses power or its network sends no FIN and no RST,
# so PostgreSQL's backend of its lock session stays, and the advisory lock
# with it, until the server itself finds the peer dead. Simulated here in a
# network namespace of the test's own (root only; iptables): the packets of
# the leader's lock session are dropped both ways. A standby must take over
# (the server ends the silent session on its own keepalives), the cut-off
# leader must exit, every acknowledged write and its audit record must be
# in the store, and `lisec audit verify` through each new leader must prove
# its log extends the checkpoint the previous one published. Then, with the store URL
# naming its sessions (application_name), a leader paused inside a
# transaction: its kernel still answers the keepalives, so only its lease
# ([ha] lease_ms, the server's idle_session_timeout on its lock session)
# ends the lock; the new holder finds and ends its sessions, takes over,
# and nothing of the paused write is stored.
build=${1:?build dir}
src=${2:?source dir}
# A private network namespace: the iptables rules below touch nothing else
# on the machine (its loopback is the test's alone).
if [ -z "${LISEC_HA_PARTITION_NS:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a network namespace and iptables)"; exit 77; }
  for tool in unshare iptables ip; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
  exec env LISEC_HA_PARTITION_NS=1 unshare --net bash "$0" "$@"
fi
ip link set lo up
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
for tool in psql openssl jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
pgdir=$(mktemp -d /tmp/lisec-pg-hapart-XXXXXX)
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
purl=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
sql() { psql -qtA "$purl" -c "$1"; }
# The operator's URL names its sessions and gives them options (lisecd's
# lock session is named lisec-lock:<node> whatever the URL says, and keeps
# its own timeouts and keepalives beside the URL's options).
appname=lisec-ops
url="$purl?application_name=$appname&options=-c%20search_path%3Dpublic"
ha_audit_key

declare -A PORT PID PROBE
ha_free_ports 6
i=0
for n in a b c; do PORT[$n]=${free[$i]}; PROBE[$n]=${free[$((i + 1))]}; i=$((i + 2)); done
start() { # NAME
  local n=$1
  mapfile -t lines < <(ha_section "$n" "${PORT[$n]}")
  # b is the leader paused in the second part: a short lease (a keeps the
  # default, so the first part proves the keepalives alone)
  [ "$n" != b ] || lines+=("lease_ms = 3000")
  ha_conf "$work/$n.conf" "${PORT[$n]}" "${PROBE[$n]}" "$url" "$work/$n.vkey" "${lines[@]}"
  "$build/cmd/lisecd/lisecd" -c "$work/$n.conf" 2>>"$work/$n.log" &
  PID[$n]=$!
  cleanup_hooks+=("kill -CONT ${PID[$n]} \$(pgrep -P ${PID[$n]}) 2>/dev/null; kill -TERM ${PID[$n]} 2>/dev/null; wait ${PID[$n]} 2>/dev/null")
}
wait_leader() { # CEILING_S NAMES...: the one answering 200 "role":"leader"
  local ceiling=$1
  shift
  for _ in $(seq 1 $((ceiling * 10))); do
    for n in "$@"; do
      alive "$n" || continue
      if [ "$(health "$n")" = 200 ] && [ "$(jq -r .role "$work/h.json")" = leader ]; then echo "$n"; return 0; fi
    done
    sleep 0.1
  done
  for n in a b; do echo "--- $n" >&2; grep -v ' access ' "$work/$n.log" | tail -8 >&2; done
  sql "SELECT application_name, client_port, state FROM pg_stat_activity WHERE application_name LIKE 'lisec%'" >&2
  fail "no leader among $* within $ceiling s"
}
acked=()
w=0
write() { # LEADER
  w=$((w + 1))
  local code
  code=$(as operator -o "$work/w.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"j-$w\",\"codes\":[\"FI\"]}" "https://localhost:${PORT[$1]}/v1/model/jurisdiction")
  [ "$code" = 201 ] || fail "write j-$w through leader $1: $code $(cat "$work/w.json")"
  acked+=("j-$w")
}
all_stored() { # LEADER WHEN
  local have want
  have=$(as operator "https://localhost:${PORT[$1]}/v1/model/jurisdiction" | jq -r '[.jurisdictions[].id] | sort | join(" ")')
  want=$(printf '%s\n' "${acked[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
  [ "$have" = "$want" ] || fail "$2: the leader's model holds '$have', acknowledged '$want'"
  local ids n
  ids=$(printf "'%s'," "${acked[@]}")
  n=$(sql "SELECT count(*) FROM unnest(ARRAY[${ids%,}]) AS i WHERE EXISTS (SELECT 1 FROM audit_log WHERE sealed = 0
           AND position(convert_to('jurisdiction ' || i, 'UTF8') || '\\x00'::bytea in data) > 0)")
  [ "$n" = "${#acked[@]}" ] || fail "$2: $n of ${#acked[@]} acknowledged writes have an audit record"
}
# Generous: the server's keepalives on the lock session (a few seconds
# with lock_timeout_ms = 2000) plus a promotion on a loaded machine; without
# them the silent session lasts the kernel's default (over two hours).
CEILING=90

start a
[ "$(wait_leader 60 a)" = a ] || fail "a is not the leader"
start b
for _ in $(seq 1 300); do [ "$(health b)" = 503 ] && break; sleep 0.1; done
[ "$(health b)" = 503 ] || fail "b is not a standby"
write a
write a
all_stored a "at start"
# The log as the leader publishes it now: the state file keeps its
# checkpoint, and every later verify must prove the log extends it.
verify_online() { # LEADER WHEN (once a signed checkpoint covers the log: 30 s ceiling)
  for _ in $(seq 1 150); do
    lisec --server "https://localhost:${PORT[$1]}" --pki "$pki" --role auditor audit verify \
      --pubkey "$work/$1.vkey" --state "$work/st.json" >"$work/v.out" 2>&1 && return 0
    grep -q 'no valid signed checkpoint covers' "$work/v.out" || break
    sleep 0.2
  done
  cat "$work/v.out" >&2
  fail "$2: online verify through $1"
}
verify_online a "before the failover"

# ---- the lock session's packets dropped both ways ----------------------------------
lport=$(sql "SELECT client_port FROM pg_stat_activity WHERE application_name = 'lisec-lock:a'")
[[ "$lport" =~ ^[0-9]+$ ]] || fail "a's lock session not found ($lport)"
iptables -A INPUT -i lo -p tcp --sport "$lport" -j DROP
iptables -A INPUT -i lo -p tcp --dport "$lport" -j DROP
leader=$(wait_leader $CEILING b)
for _ in $(seq 1 $((CEILING * 10))); do alive a || break; sleep 0.1; done
! alive a || { tail -20 "$work/a.log" >&2; fail "the cut-off leader a still runs after b took over"; }
rc=0
wait "${PID[a]}" || rc=$?
[ "$rc" != 0 ] || fail "the cut-off leader exited 0"
write "$leader"
all_stored "$leader" "after the lock session was cut off"
verify_online "$leader" "after the lock session was cut off"
pass "a's lock session silently cut off: $leader took over, a exited $rc, every acknowledged write and record stored"
iptables -D INPUT -i lo -p tcp --sport "$lport" -j DROP
iptables -D INPUT -i lo -p tcp --dport "$lport" -j DROP

# ---- a leader paused inside a transaction: its lease ends the lock ----------------
# A paused process's kernel answers the keepalives, so its lock session
# stays until the lease ends it (the server's idle_session_timeout: the
# paused watch renews it no more). The store URL names the sessions itself
# (an operator's application_name): the new holder must still find and end
# the paused leader's sessions, or the paused transaction holds the fence's
# lock shared and every bump waits for it for as long as the leader stays
# paused. The transaction is caught open: a psql session holds documents in
# EXCLUSIVE mode, so the leader's write waits inside its fenced
# transaction; the leader is paused there and the psql lock released (the
# write's statement completes on the server, its answer unread).
old=$leader
start a
for _ in $(seq 1 300); do [ "$(health a)" = 503 ] && break; sleep 0.1; done
[ "$(health a)" = 503 ] || fail "a did not come back as a standby"
mkfifo "$work/psql.in"
psql -qtA "$purl" <"$work/psql.in" >"$work/psql.out" 2>&1 &
psql_pid=$!
exec 7>"$work/psql.in"
cleanup_hooks+=("exec 7>&-; kill $psql_pid 2>/dev/null")
echo "BEGIN; LOCK TABLE documents IN EXCLUSIVE MODE; SELECT 'locked by ' || pg_backend_pid();" >&7
for _ in $(seq 1 300); do grep -q '^locked by' "$work/psql.out" && break; sleep 0.1; done
lpid=$(sed -n 's/^locked by \([0-9]*\)$/\1/p' "$work/psql.out")
[ -n "$lpid" ] || fail "psql did not lock documents: $(cat "$work/psql.out")"
[ "$(sql "SELECT count(*) FROM pg_locks WHERE pid = $lpid AND relation = 'documents'::regclass
          AND mode = 'ExclusiveLock' AND granted")" = 1 ] || fail "psql's session does not hold documents"
as operator --max-time 120 -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"id":"paused-1","codes":["FI"]}' "https://localhost:${PORT[$old]}/v1/model/jurisdiction" 2>/dev/null &
# the write of $old's that psql's lock holds up, inside its transaction
wpid=
for _ in $(seq 1 300); do
  wpid=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'lisec:$old' AND backend_xid IS NOT NULL
              AND query LIKE 'INSERT INTO documents%' AND $lpid = ANY (pg_blocking_pids(pid)) LIMIT 1")
  [ -n "$wpid" ] && break
  sleep 0.02
done
[ -n "$wpid" ] || fail "$old's write did not wait on the documents lock"
[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lisec-lock:$old'")" = 1 ] ||
  fail "$old's lock session not found"
procs="${PID[$old]} $(pgrep -P "${PID[$old]}" | tr '\n' ' ')"
kill -STOP $procs
for p in $procs; do
  for _ in $(seq 1 100); do [ "$(ps -o stat= -p "$p" | cut -c1)" = T ] && break; sleep 0.02; done
  [ "$(ps -o stat= -p "$p" | cut -c1)" = T ] || fail "$old's process $p did not stop"
done
echo "COMMIT;" >&7
# The write's statement completes and its transaction waits for the paused
# leader's COMMIT, unless the new holder has ended its session already.
for _ in $(seq 1 300); do
  st=$(sql "SELECT state FROM pg_stat_activity WHERE pid = $wpid")
  [ "$st" != active ] && break
  sleep 0.1
done
[ "$st" = "idle in transaction" ] || [ -z "$st" ] || fail "$old's paused write is '$st', not waiting for its COMMIT"
new=$(wait_leader $CEILING a)
[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lisec-lock:$old'")" = 0 ] ||
  fail "$new leads while $old's lock session is still there"
kill -CONT $procs
for _ in $(seq 1 $((CEILING * 10))); do alive "$old" || break; sleep 0.1; done
! alive "$old" || { tail -20 "$work/$old.log" >&2; fail "the resumed leader $old still runs"; }
[ "$(sql "SELECT count(*) FROM documents WHERE id = 'paused-1'")" = 0 ] || fail "the paused leader's write is stored"
leader=$new
write "$leader"
all_stored "$leader" "after the paused leader"
verify_online "$leader" "after the paused leader"
pass "$old paused inside a transaction: its lease ended its lock, $leader ended its sessions (named by the URL) and took over; nothing of $old's stored"

lisec audit verify --db "$purl" --pubkey "$work/$leader.vkey" >"$work/v.out" || { cat "$work/v.out"; fail "offline verify"; }
pass "lisec audit verify passes offline after the failover"
for n in a b; do [ -e "$work/$n.log" ] || continue; ! grep -q Sanitizer "$work/$n.log" || { cat "$work/$n.log" >&2; fail "sanitizer report in $n"; }; done
