#!/usr/bin/env bash
# A stalled PostgreSQL is refused within a bound, not waited for (docs/ha.md,
# failure cases): lisecd fails closed, so a request the store does not
# answer must get its 503 within [store] timeout_ms (plus the cancel's
# grace), never hang with its worker. Two stalls, with real PostgreSQL: a
# COMMIT waiting for a synchronous standby that never answers (nothing in
# the server bounds that wait: statement_timeout does not reach it) and the
# leader's own backends stopped (SIGSTOP: the server's kernel still answers
# TCP, so neither keepalives nor the server's timeouts end the wait). The
# leader's lock session is untouched in both, so its lease is renewed and it
# still says "leader": before, both writes hung until the client gave up
# (with the backends stopped its /healthz too, so the leader hung whole
# while keeping its lock, and no standby could take over). Checked: each
# write answered within the bound: the waiting COMMIT 503 naming the bound,
# never 201; with the backends stopped 503, or 201 when the write is stored
# (its BEGIN, unanswered, did nothing, and is sent again on a new
# connection once the old one is given up). Then the lisecd still the same
# leader, the next write acknowledged, the model equal to the store, and no
# session of lisecd's left over (a given-up connection is made again, not
# added to); and a [store] timeout_ms or migration_timeout_ms out of range
# refused by --check-config and at start, naming it.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
for tool in psql jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
ha_pg_stoppable stall
ha_audit_key
BOUND=3000
declare -A PORT PID PROBE
ha_free_ports 2
PORT[a]=${free[0]} PROBE[a]=${free[1]}
mapfile -t lines < <(ha_section a "${PORT[a]}")
ha_conf "$work/a.conf" "${PORT[a]}" "${PROBE[a]}" "$url" "$work/a.vkey" "${lines[@]}"
sed -i "/^url = /a timeout_ms = $BOUND" "$work/a.conf"
"$build/cmd/lisecd/lisecd" -c "$work/a.conf" 2>>"$work/a.log" &
PID[a]=$!
cleanup_hooks+=("kill -TERM ${PID[a]} 2>/dev/null; wait ${PID[a]} 2>/dev/null")
for _ in $(seq 1 300); do leads a && break; alive a || break; sleep 0.1; done
leads a || { cat "$work/a.log" >&2; fail "a did not lead"; }

post() { # ID -> HTTP status of a jurisdiction's creation (body in $work/w.json; 40 s ceiling)
  as operator --max-time 40 -o "$work/w.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"$1\",\"codes\":[\"FI\"]}" "https://localhost:${PORT[a]}/v1/model/jurisdiction" 2>/dev/null || true
}
sessions() { sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lisec:a'"; }
# stalled_post ID WHAT [retried]: the write is answered 503 within the
# bound, naming it; with retried, a 201 is right too when the write is
# stored: a BEGIN that got no answer did nothing, and is sent again on a
# new connection once the old one is given up
stalled_post() {
  local t0 t code
  t0=$(date +%s%N)
  code=$(post "$1")
  t=$((($(date +%s%N) - t0) / 1000000))
  if [ "$code" = 201 ] && [ "${3:-}" = retried ]; then
    [ "$(sql "SELECT count(*) FROM documents WHERE kind = 'model.jurisdiction' AND id = '$1'")" = 1 ] ||
      fail "$2: $1 acknowledged (201) but not stored"
    [ $t -lt $((4 * BOUND + 6000)) ] || fail "$2: answered after $t ms, [store] timeout_ms = $BOUND"
    echo "$t ms ($code)"
    return 0
  fi
  [ "$code" != 201 ] || fail "$2: a write the store did not confirm was acknowledged (201)"
  [ "$code" = 503 ] || fail "$2: the write answered $code after $t ms, not 503 within the bound: $(cat "$work/w.json")"
  # a store call per step of the write may meet the stall (its commit, the
  # reload of the model after it): a few bounds, far from the client's 40 s
  [ $t -lt $((4 * BOUND + 6000)) ] || fail "$2: answered after $t ms, [store] timeout_ms = $BOUND"
  grep -q "TR103308-5.5.*\[store\] timeout_ms = $BOUND" "$work/w.json" ||
    fail "$2: the refusal does not name TR103308-5.5 and [store] timeout_ms: $(cat "$work/w.json")"
  echo "$t ms ($code)"
}
# recovered ID: the next write is acknowledged (a few tries: the audit
# appender takes an in-doubt record in at its next write), the model equals
# the store, a still leads in the same process
recovered() {
  local code=
  for _ in 1 2 3; do code=$(post "$1") && [ "$code" = 201 ] && break; done
  [ "$code" = 201 ] || fail "a write after the stall: $code $(cat "$work/w.json")"
  local have
  have=$(as operator "https://localhost:${PORT[a]}/v1/model/jurisdiction" | jq -r '[.jurisdictions[].id] | sort | join(" ")')
  [ "$have" = "$(sql "SELECT string_agg(id, ' ' ORDER BY id) FROM documents WHERE kind = 'model.jurisdiction'")" ] ||
    fail "the model ($have) is not what the store holds"
  alive a && leads a || fail "a does not lead after the stall"
}

[ "$(post before)" = 201 ] || fail "a write before the stall: $(cat "$work/w.json")"

# 1. Every commit waits for a synchronous standby that never answers.
sql "ALTER SYSTEM SET synchronous_standby_names = 'absent_standby'"
sql "SELECT pg_reload_conf()" >/dev/null
t=$(stalled_post sync-stalled "a commit waiting for an absent synchronous standby") || exit 1
leads a || fail "a, whose lock session answers, no longer says leader"
pass "a commit waiting for a standby that never answers: refused after $t ([store] timeout_ms = $BOUND), not held"
sql "ALTER SYSTEM RESET synchronous_standby_names"
sql "SELECT pg_reload_conf()" >/dev/null
recovered after-sync
pass "the standby back: the next write acknowledged, the model equals the store"

# 2. The leader's data sessions stop (their backends SIGSTOPped; the
# lock's session, lisec-lock:a, runs on). The cancel reaches no one, so the
# connection is given up.
stopped=$(sql "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE application_name = 'lisec:a'")
[ -n "$stopped" ] || fail "no session of a's to stop"
before=$(wc -w <<<"$stopped")
kill -STOP $stopped
t=$(stalled_post stopped "the leader's backends stopped" retried) || exit 1
pass "the leader's backends stopped: answered after $t, not held"
kill -CONT $stopped
stopped=
recovered after-stop
# the given-up connections end on the server (their backends find them
# closed once they run again); lisecd's new ones replace them, no more
for _ in $(seq 1 100); do [ "$(sessions)" -le "$before" ] && break; sleep 0.1; done
[ "$(sessions)" -le "$before" ] || fail "a has $(sessions) sessions after the stall, $before before"
pass "the backends running again: the next write acknowledged, $(sessions) sessions as before ($before)"

# 3. Out of range: refused naming the setting, by --check-config and at start.
for bad in 0 999 600001 soon; do
  sed "s/^timeout_ms = .*/timeout_ms = $bad/" "$work/a.conf" >"$work/bad.conf"
  rc=0
  "$build/cmd/lisecd/lisecd" -c "$work/bad.conf" --check-config >/dev/null 2>"$work/bad.err" || rc=$?
  [ $rc = 2 ] && grep -q '\[store\] timeout_ms' "$work/bad.err" ||
    fail "--check-config with [store] timeout_ms = $bad: exit $rc, $(cat "$work/bad.err")"
  rc=0
  timeout 30 "$build/cmd/lisecd/lisecd" -c "$work/bad.conf" 2>"$work/bad.log" || rc=$?
  [ $rc = 2 ] && grep -q '\[store\] timeout_ms' "$work/bad.log" ||
    fail "a start with [store] timeout_ms = $bad: exit $rc, $(tail -3 "$work/bad.log")"
done
pass "[store] timeout_ms out of range refused by --check-config and at start, naming it"
for bad in 0 999 86400001 later; do
  sed "/^timeout_ms = /a migration_timeout_ms = $bad" "$work/a.conf" >"$work/bad.conf"
  rc=0
  "$build/cmd/lisecd/lisecd" -c "$work/bad.conf" --check-config >/dev/null 2>"$work/bad.err" || rc=$?
  [ $rc = 2 ] && grep -q '\[store\] migration_timeout_ms' "$work/bad.err" ||
    fail "--check-config with [store] migration_timeout_ms = $bad: exit $rc, $(cat "$work/bad.err")"
  rc=0
  timeout 30 "$build/cmd/lisecd/lisecd" -c "$work/bad.conf" 2>"$work/bad.log" || rc=$?
  [ $rc = 2 ] && grep -q '\[store\] migration_timeout_ms' "$work/bad.log" ||
    fail "a start with [store] migration_timeout_ms = $bad: exit $rc, $(tail -3 "$work/bad.log")"
done
pass "[store] migration_timeout_ms out of range refused by --check-config and at start, naming it"
kill -TERM "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
! grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:' "$work/a.log" || { cat "$work/a.log" >&2; fail "sanitizer report"; }
