#!/usr/bin/env bash
# One fenced leader on PostgreSQL (issue 17, docs/ha.md). Three lisecd with
# [ha] share one PostgreSQL on loopback and one provisioned audit key:
# exactly one answers /healthz 200 "role":"leader", the other two 503
# "role":"standby" naming its advertised URL, on /healthz, on the probe's
# /readyz and on any other route. A leader paused (SIGSTOP) whose lock
# session is ended (pg_terminate_backend), the epoch row set back by one by
# hand meanwhile, is replaced; resumed, with its
# lock watch off (test hook), its next write is refused by the fence alone
# and it exits non-zero, the write stored nowhere. Then the leader is
# killed with SIGKILL three times: each time another takes over within the
# ceiling, the killed one comes back as a standby, and every acknowledged
# write and its audit record are in the store; `lisec audit verify`
# passes online and offline. Also refused at start, each naming why: a
# second lisecd on PostgreSQL without [ha] (naming the leader's node), a
# second lisecd on one SQLite file (naming the holder), [ha] on SQLite,
# [ha] without advertise, and [ha] with the audit key not provisioned.
# A standby's controller waits inside the controller's sandbox and is
# promoted there.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
for tool in psql openssl jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
pgdir=$(mktemp -d /tmp/lisec-pg-ha-XXXXXX)
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
sql() { psql -qtA "$url" -c "$1"; }
# The audit key is provisioned before any [ha] lisecd starts (none makes one).
ha_audit_key

declare -A PORT PID PROBE
ha_free_ports 20 # every port the test needs
next_port() { NEXT_PORT=${free[0]}; free=("${free[@]:1}"); }
conf() { # NAME STORE_URL [extra lines...]: writes $work/NAME.conf
  local name=$1 store=$2
  shift 2
  [ -n "${PORT[$name]:-}" ] || { next_port; PORT[$name]=$NEXT_PORT; }
  [ -n "${PROBE[$name]:-}" ] || { next_port; PROBE[$name]=$NEXT_PORT; }
  ha_conf "$work/$name.conf" "${PORT[$name]}" "${PROBE[$name]}" "$store" "$work/$name.vkey" "$@"
}
ha_lines() { # NAME
  [ -n "${PORT[$1]:-}" ] || { next_port; PORT[$1]=$NEXT_PORT; }
  ha_section "$1" "${PORT[$1]}"
}
start() { # NAME [env assignments...]: a [ha] lisecd in the background
  local name=$1
  shift
  ha_lines "$name" >"$work/$name.ha"
  mapfile -t lines <"$work/$name.ha"
  conf "$name" "$url" "${lines[@]}"
  env "$@" "$build/cmd/lisecd/lisecd" -c "$work/$name.conf" 2>>"$work/$name.log" &
  PID[$name]=$!
  cleanup_hooks+=("kill -CONT ${PID[$name]} \$(pgrep -P ${PID[$name]}) 2>/dev/null; kill -TERM ${PID[$name]} 2>/dev/null; wait ${PID[$name]} 2>/dev/null")
}
# wait_leader NAMES...: the one of NAMES answering 200 "role":"leader" (60 s ceiling)
wait_leader() {
  for _ in $(seq 1 600); do
    for n in "$@"; do
      alive "$n" || continue
      if [ "$(health "$n")" = 200 ] && [ "$(jq -r .role "$work/h.json")" = leader ]; then echo "$n"; return 0; fi
    done
    sleep 0.1
  done
  for n in "$@"; do echo "--- $n" >&2; tail -5 "$work/$n.log" >&2; done
  fail "no leader among $* within 60 s"
}
# is_standby NAME LEADER: 503 "standby" naming LEADER's URL on /healthz, /readyz and another route (60 s ceiling)
is_standby() {
  local n=$1 want="https://localhost:${PORT[$2]}" code=
  for _ in $(seq 1 600); do
    alive "$n" || { tail -20 "$work/$n.log" >&2; fail "$n exited"; }
    code=$(health "$n")
    [ "$code" = 503 ] && [ "$(jq -r .leader "$work/h.json")" = "$want" ] && break
    sleep 0.1
  done
  [ "$code" = 503 ] && [ "$(jq -r .role "$work/h.json")" = standby ] ||
    fail "$n /healthz: $code $(cat "$work/h.json"), not 503 standby"
  [ "$(jq -r .leader "$work/h.json")" = "$want" ] || fail "$n names leader $(jq -r .leader "$work/h.json"), not $want"
  code=$(curl -s -o "$work/r.json" -w '%{http_code}' "http://127.0.0.1:${PROBE[$n]}/readyz")
  [ "$code" = 503 ] && [ "$(jq -r .role "$work/r.json")" = standby ] && [ "$(jq -r .leader "$work/r.json")" = "$want" ] ||
    fail "$n probe /readyz: $code $(cat "$work/r.json")"
  code=$(as operator -o "$work/r.json" -w '%{http_code}' "https://localhost:${PORT[$n]}/v1/model/jurisdiction")
  [ "$code" = 503 ] && jq -r .error.message "$work/r.json" | grep -qF "$want" ||
    fail "$n GET /v1/model/jurisdiction: $code $(cat "$work/r.json"), not 503 naming the leader"
}
acked=()
w=0
write() { # LEADER: one jurisdiction, remembered when acknowledged (201)
  w=$((w + 1))
  local code
  code=$(as operator -o "$work/w.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"j-$w\",\"codes\":[\"FI\"]}" "https://localhost:${PORT[$1]}/v1/model/jurisdiction")
  [ "$code" = 201 ] || fail "write j-$w through leader $1: $code $(cat "$work/w.json")"
  acked+=("j-$w")
}
all_stored() { # LEADER WHEN: every acknowledged write in the model (through the leader) and in the audit log
  local have
  have=$(as operator "https://localhost:${PORT[$1]}/v1/model/jurisdiction" | jq -r '[.jurisdictions[].id] | sort | join(" ")')
  local want
  want=$(printf '%s\n' "${acked[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
  [ "$have" = "$want" ] || fail "$2: the leader's model holds '$have', acknowledged '$want'"
  # one query for all: the ids whose record ("jurisdiction <id>" then NUL) is in the log
  local ids n
  ids=$(printf "'%s'," "${acked[@]}")
  n=$(sql "SELECT count(*) FROM unnest(ARRAY[${ids%,}]) AS i WHERE EXISTS (SELECT 1 FROM audit_log WHERE sealed = 0
           AND position(convert_to('jurisdiction ' || i, 'UTF8') || '\\x00'::bytea in data) > 0)")
  [ "$n" = "${#acked[@]}" ] || fail "$2: $n of ${#acked[@]} acknowledged writes have an audit record"
}

# ---- one leader, two standbys ------------------------------------------------
start a LISEC_TEST_HA_NO_WATCH=1
leader=$(wait_leader a)
[ "$leader" = a ] || fail "a is not the leader"
start b
start c
is_standby b a
is_standby c a
write a
write a
all_stored a "at start"
pass "one leader (a, /healthz 200 role leader), two standbys 503 naming it on /healthz, /readyz and the API"
# A waiting standby's controller is as confined as a leader's: the seccomp
# filter and no_new_privs are on before it is promoted (the kills below
# promote standbys inside it).
confined() { # NAME: its controller process runs under a seccomp filter with no_new_privs
  local ctl st
  ctl=$(pgrep -P "${PID[$1]}" -x lisecd-ctl) || fail "$1: no controller process"
  st=$(cat "/proc/$ctl/status")
  grep -q '^Seccomp:[[:space:]]*2' <<<"$st" && grep -q '^NoNewPrivs:[[:space:]]*1' <<<"$st" ||
    fail "$1's controller ($ctl) is not confined: $(grep -E '^(Seccomp|NoNewPrivs):' <<<"$st" | tr '\n' ' ')"
}
confined a
confined b
confined c
pass "the standbys' controllers are confined as the leader's is (seccomp filter, no_new_privs)"

# ---- refused at start -----------------------------------------------------------
refused() { # NAME WHAT PATTERN: lisecd -c $work/NAME.conf exits 2 and stderr names PATTERN
  local rc=0
  timeout 60 "$build/cmd/lisecd/lisecd" -c "$work/$1.conf" 2>"$work/$1.log" || rc=$?
  [ "$rc" = 2 ] || { cat "$work/$1.log" >&2; fail "$2: exit $rc, not 2"; }
  grep -q -- "$3" "$work/$1.log" || { cat "$work/$1.log" >&2; fail "$2: the refusal does not say '$3'"; }
}
conf plain "$url" "[ha]" "lock_timeout_ms = 500"
refused plain "a lisecd without [ha] beside the leader" 'TR103308-5.5: another lisecd writes this store: node "a"'
conf sq1 "sqlite:$work/one.db"
"$build/cmd/lisecd/lisecd" -c "$work/sq1.conf" 2>"$work/sq1.log" &
PID[sq1]=$!
cleanup_hooks+=("kill -TERM ${PID[sq1]} 2>/dev/null; wait ${PID[sq1]} 2>/dev/null")
for _ in $(seq 1 300); do [ -s "$work/one.db.lock" ] && break; sleep 0.1; done
conf sq2 "sqlite:$work/one.db" "[ha]" "lock_timeout_ms = 500"
refused sq2 "a second lisecd on one SQLite file" "TR103308-5.5: another lisecd writes this store: node \"$(hostname)\" (pid"
kill -TERM "${PID[sq1]}"; wait "${PID[sq1]}" || true
conf haq "sqlite:$work/two.db" "[ha]" "enabled = true" "node = q" "advertise = https://localhost:1"
refused haq "[ha] on SQLite" 'needs a PostgreSQL store'
conf han "$url" "[ha]" "enabled = true" "node = n"
refused han "[ha] without advertise" 'needs node .* and advertise'
conf hl "$url" "[ha]" "enabled = true" "node = l" "advertise = https://localhost:1" "lock_poll_ms = 1000" "lease_ms = 3000"
refused hl "[ha] lease_ms under 4 polls" 'lease_ms: 0 (no lease) or at least 4 x lock_poll_ms (4000 ms)'
ha_lines k >"$work/k.ha"
mapfile -t lines <"$work/k.ha"
conf k "$url" "${lines[@]}"
sed -i "s#^development_key_file = .*#development_key_file = $work/absent.pem#" "$work/k.conf"
refused k "[ha] with no audit key provisioned" 'not provisioned'
[ ! -e "$work/absent.pem" ] || fail "an [ha] lisecd made an audit key"
pass "refused at start naming why: no [ha] beside a leader (names node a), a second lisecd on one SQLite file (names the holder), [ha] on SQLite, [ha] without advertise, a lease under 4 polls, [ha] without its audit key"

# ---- a deposed leader cannot commit ----------------------------------------------
procs_a="${PID[a]} $(pgrep -P "${PID[a]}" | tr '\n' ' ')"
kill -STOP $procs_a
# The epoch row set back by hand meanwhile (an operator, a restored row):
# the next holder's epoch must still differ from every earlier holder's,
# or the paused leader's fence would pass again.
sql "UPDATE leader_epoch SET epoch = epoch - 1"
[ "$(sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'lisec-lock:a'")" = 1 ] ||
  fail "a's lock session not found"
leader=$(wait_leader b c)
kill -CONT $procs_a
other=$([ "$leader" = b ] && echo c || echo b)
# Writes to a until it is gone (60 s ceiling): none may be acknowledged.
codes=
for _ in $(seq 1 60); do
  alive a || break
  code=$(as operator --max-time 10 -o "$work/w.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"id":"deposed-1","codes":["FI"]}' "https://localhost:${PORT[a]}/v1/model/jurisdiction" 2>/dev/null || true)
  codes="$codes $code"
  [ "$code" != 201 ] || fail "the deposed leader acknowledged a write"
  sleep 0.5
done
! alive a || { tail -20 "$work/a.log" >&2; fail "the deposed leader did not exit (answers:$codes)"; }
rc=0
wait "${PID[a]}" || rc=$?
[ "$rc" != 0 ] || fail "the deposed leader exited 0"
grep -q 'TR103308-5.5: deposed' "$work/a.log" || { tail -20 "$work/a.log" >&2; fail "a's log does not say the fence deposed it"; }
[ "$(sql "SELECT count(*) FROM documents WHERE id = 'deposed-1'")" = 0 ] || fail "the deposed leader's write is stored"
is_standby "$other" "$leader"
all_stored "$leader" "after the deposed leader"
pass "paused leader replaced by $leader; resumed, its write was refused by the fence alone (answers:$codes), it exited $rc, nothing stored"

# ---- kill -9 the leader, three times ----------------------------------------------
start a
is_standby a "$leader"
for round in 1 2 3; do
  write "$leader"
  e0=$(sql "SELECT epoch FROM leader_epoch")
  kill -KILL "${PID[$leader]}"
  wait "${PID[$leader]}" 2>/dev/null || true
  t0=$(date +%s%N)
  old=$leader
  leader=$(wait_leader $(printf '%s\n' a b c | grep -vx "$old"))
  ms=$((($(date +%s%N) - t0) / 1000000))
  start "$old" # back as a standby; checked after the last round
  [ "$(sql "SELECT epoch FROM leader_epoch")" -gt "$e0" ] || fail "kill $round: the epoch was not bumped at the take-over"
  write "$leader"
  all_stored "$leader" "after kill $round"
  pass "kill -9 $round: $old replaced by $leader in $ms ms, all ${#acked[@]} acknowledged writes and their records stored"
done
for n in a b c; do [ "$n" = "$leader" ] || is_standby "$n" "$leader"; done
pass "the killed ones are back as standbys naming $leader"

# ---- the log verifies, online and offline --------------------------------------------
lisec --server "https://localhost:${PORT[$leader]}" --pki "$pki" --role auditor audit verify \
  --pubkey "$work/$leader.vkey" --state "$work/st.json" >"$work/v1.out" || { cat "$work/v1.out"; fail "online verify"; }
lisec audit verify --db "$url" --pubkey "$work/$leader.vkey" >"$work/v2.out" || { cat "$work/v2.out"; fail "offline verify"; }
cmp -s "$work/a.vkey" "$work/$leader.vkey" || fail "the nodes announce different audit keys"
pass "lisec audit verify passes online (through $leader) and offline"
for n in a b c; do ! grep -q Sanitizer "$work/$n.log" || { cat "$work/$n.log" >&2; fail "sanitizer report in $n"; }; done
