#!/usr/bin/env bash
# PostgreSQL fails over under a [ha] leader (issue 17 item 5, docs/ha.md):
# a primary and a hot standby made with PostgreSQL's own tools
# (pg_basebackup -R, synchronous replication so a commit the primary
# acknowledged is on the standby too), and one lisecd with [ha] on the
# multi-host URL host1,host2 ?target_session_attrs=read-write. Under a
# steady stream of model writes the primary is killed (SIGKILL to its
# postmaster) and the standby promoted (pg_ctl promote): the same lisecd
# process (it never exits) reconnects to the promoted standby, takes its
# writer lock back there and bumps the epoch; writes that met the gap are
# refused (never acknowledged), every acknowledged write and its audit
# record are on the new primary, and `lisec audit verify` passes online and
# offline. Also refused, naming why: a lisecd whose URL names only the
# read-only standby, and a leader left with no primary at all exits once
# [ha] store_failover_ms has passed, saying so.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
for tool in psql openssl jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
pg1=$(mktemp -d "$tmp_base/lisec-pg-p1-XXXXXX")
pg2=$(mktemp -d "$tmp_base/lisec-pg-p2-XXXXXX")
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pg1'" "'$src/scripts/test/pg-stop' '$pg2'")
url1=$(cd / && "$src/scripts/test/pg-start" "$pg1")
url2=$(cd / && "$src/scripts/test/pg-replica-start" "$url1" "$pg2" --sync)
port_of() { local hp=${1#*@}; hp=${hp%%/*}; echo "${hp##*:}"; }
url="postgresql://lisec@127.0.0.1:$(port_of "$url1"),127.0.0.1:$(port_of "$url2")/lisec?target_session_attrs=read-write"
[ "$(psql -qtAX "$url2" -c 'SELECT pg_is_in_recovery()')" = t ] || fail "the copy is not a hot standby"
ha_audit_key

port=$(free_port)
probe=$(free_port)
conf() { # FILE STORE_URL [extra lines...]
  local file=$1 store=$2 lines
  shift 2
  mapfile -t lines < <(ha_section a "$port")
  ha_conf "$file" "$port" "$probe" "$store" "$work/a.vkey" "${lines[@]}" "store_failover_ms = 8000" "$@"
}

# ---- refused: a URL that names only the read-only standby ---------------------------
conf "$work/ro.conf" "$url2?target_session_attrs=read-write"
rc=0
timeout 60 "$build/cmd/lisecd/lisecd" -c "$work/ro.conf" 2>"$work/ro.log" || rc=$?
[ "$rc" != 0 ] || fail "a lisecd on the standby alone started"
grep -q 'cannot open the store' "$work/ro.log" && grep -Eqi 'read-only|hot standby' "$work/ro.log" ||
  { cat "$work/ro.log" >&2; fail "the refusal on a read-only standby does not say why"; }
pass "a lisecd whose URL names only the standby refuses to start (exit $rc), saying the server is read-only"

# ---- the leader on the multi-host URL ------------------------------------------------
conf "$work/a.conf" "$url"
"$build/cmd/lisecd/lisecd" -c "$work/a.conf" 2>"$work/a.log" &
pid=$!
cleanup_hooks+=("kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null")
alive() { local st; st=$(ps -o stat= -p "$pid" 2>/dev/null) && [ "${st:0:1}" != Z ]; }
leading() {
  as operator --max-time 5 -o "$work/h.json" "https://localhost:$port/healthz" 2>/dev/null &&
    [ "$(jq -r .role "$work/h.json" 2>/dev/null)" = leader ]
}
for _ in $(seq 1 600); do leading && break; alive || break; sleep 0.1; done
leading || { cat "$work/a.log" >&2; fail "a is not the leader on the multi-host URL"; }
epoch0=$(jq -r .epoch "$work/h.json")

# The load: one write after another until $work/stop exists; the acknowledged
# (201) ids go to $work/acked, every other answer to $work/refused.
load() {
  local i=0 code
  while [ ! -e "$work/stop" ] && [ "$i" -lt 3000 ]; do
    i=$((i + 1))
    code=$(as operator --max-time 15 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      -d "{\"id\":\"p-$i\",\"codes\":[\"FI\"]}" "https://localhost:$port/v1/model/jurisdiction" 2>/dev/null || true)
    if [ "$code" = 201 ]; then echo "p-$i" >>"$work/acked"; else echo "p-$i $code" >>"$work/refused"; sleep 0.05; fi
  done
}
: >"$work/acked"
: >"$work/refused"
load &
loader=$!
cleanup_hooks+=("touch '$work/stop'; wait $loader 2>/dev/null")
count() { wc -l <"$1"; }
wait_acked() { # N: until N writes are acknowledged (60 s ceiling)
  for _ in $(seq 1 600); do [ "$(count "$work/acked")" -ge "$1" ] && return 0; alive || break; sleep 0.1; done
  tail -20 "$work/a.log" >&2
  fail "$(count "$work/acked") writes acknowledged, not $1 (refused: $(tail -3 "$work/refused" | tr '\n' ' '))"
}
wait_acked 10

# ---- the primary dies, the standby is promoted ---------------------------------------------
before=$(count "$work/acked")
kill -KILL "$(head -1 "$pg1/data/postmaster.pid")"
t0=$(date +%s%N)
"$src/scripts/test/pg-promote" "$pg2" || fail "pg_ctl promote"
[ "$(psql -qtAX "$url2" -c 'SELECT pg_is_in_recovery()')" = f ] || fail "the standby is not promoted"
wait_acked $((before + 15))
touch "$work/stop"
wait $loader
alive || { tail -20 "$work/a.log" >&2; fail "the leader exited at the failover"; }
first_ms=$((($(date +%s%N) - t0) / 1000000))
grep -q 'taken back, epoch' "$work/a.log" || { tail -20 "$work/a.log" >&2; fail "a's log does not say it took the lock back"; }
leading || fail "a is not the leader after the failover"
epoch1=$(jq -r .epoch "$work/h.json")
[ "$epoch1" -gt "$epoch0" ] || fail "the epoch was not bumped on the new primary ($epoch0 -> $epoch1)"
[ "$(psql -qtAX "$url2" -c 'SELECT epoch FROM leader_epoch')" = "$epoch1" ] || fail "the new primary's epoch is not a's"
[ "$(psql -qtAX "$url2" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lisec-lock:a'")" = 1 ] ||
  fail "a's lock session is not on the new primary"

# every acknowledged write on the new primary, in the leader's model and with its audit record
acked=$(count "$work/acked")
ids=$(sed "s/.*/'&'/" "$work/acked" | paste -sd,)
n=$(psql -qtAX "$url2" -c "SELECT count(*) FROM unnest(ARRAY[$ids]) AS i WHERE EXISTS
      (SELECT 1 FROM documents WHERE id = i)")
[ "$n" = "$acked" ] || fail "$n of $acked acknowledged writes are on the new primary"
n=$(psql -qtAX "$url2" -c "SELECT count(*) FROM unnest(ARRAY[$ids]) AS i WHERE EXISTS (SELECT 1 FROM audit_log
      WHERE sealed = 0 AND position(convert_to('jurisdiction ' || i, 'UTF8') || '\\x00'::bytea in data) > 0)")
[ "$n" = "$acked" ] || fail "$n of $acked acknowledged writes have an audit record on the new primary"
as operator "https://localhost:$port/v1/model/jurisdiction" | jq -r '.jurisdictions[].id' | sort >"$work/model"
missing=$(sort "$work/acked" | comm -23 - "$work/model" | head -3)
[ -z "$missing" ] || fail "acknowledged writes missing from the leader's model: $missing"
# A write whose commit was in doubt when the primary died (its client got a
# 5xx) may be stored all the same: the leader loads its model again after
# the failover, so its model is exactly what the new primary holds.
grep -q 'loaded it again' "$work/a.log" || { tail -20 "$work/a.log" >&2; fail "a did not load its model again after the failover"; }
psql -qtAX "$url2" -c "SELECT id FROM documents WHERE kind = 'model.jurisdiction'" | sort >"$work/stored"
differ=$(comm -3 "$work/stored" "$work/model" | head -3 | tr -d '\t' | paste -sd' ')
[ -z "$differ" ] || fail "the leader's model and the new primary differ after the failover: $differ"
refused=$(count "$work/refused")
codes=$(cut -d' ' -f2 "$work/refused" | sort | uniq -c | tr -s ' ' | paste -sd, | sed 's/^ //')
! grep -qv ' 5[0-9][0-9]$' "$work/refused" || fail "a write in the gap was answered other than 5xx: $(grep -v ' 5[0-9][0-9]$' "$work/refused" | head -3)"
pass "primary killed, standby promoted: a (same process) took its lock back at epoch $epoch1 (was $epoch0); all $acked acknowledged writes and their records on the new primary and in its model; $refused writes in the gap refused ($codes); $((before + 15)) acknowledged $first_ms ms after the kill"

lisec --server "https://localhost:$port" --pki "$pki" --role auditor audit verify \
  --pubkey "$work/a.vkey" --state "$work/st.json" >"$work/v1.out" || { cat "$work/v1.out"; fail "online verify"; }
lisec audit verify --db "$url" --pubkey "$work/a.vkey" >"$work/v2.out" || { cat "$work/v2.out"; fail "offline verify on the multi-host URL"; }
pass "lisec audit verify passes online (through a) and offline (on the multi-host URL)"

# ---- no primary at all: the leader gives up after store_failover_ms ---------------------------
kill -KILL "$(head -1 "$pg2/data/postmaster.pid")"
for _ in $(seq 1 400); do alive || break; sleep 0.1; done
! alive || fail "the leader still runs 40 s after its last primary died (store_failover_ms = 8000)"
rc=0
wait "$pid" || rc=$?
[ "$rc" != 0 ] || fail "the leader exited 0 without a primary"
grep -q 'TR103308-5.5: this leader lost the store.s writer lock (no read-write PostgreSQL among the store URL.s hosts within \[ha\] store_failover_ms = 8000 ms' "$work/a.log" ||
  { tail -5 "$work/a.log" >&2; fail "the leader's last word does not name store_failover_ms"; }
pass "with no primary left the leader exited $rc after store_failover_ms, naming it"
! grep -q Sanitizer "$work/a.log" || { cat "$work/a.log" >&2; fail "sanitizer report"; }
