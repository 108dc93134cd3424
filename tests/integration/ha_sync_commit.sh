#!/usr/bin/env bash
# A commit that waits for synchronous replication and is cancelled is
# committed on the primary only: PostgreSQL then answers the COMMIT as a
# success with a WARNING ("the transaction has already committed locally,
# but might not have been replicated to the standby"). A statement_timeout
# (a DBA's ALTER ROLE ... SET statement_timeout, or the URL's options)
# cancels it so. lisecd must not acknowledge such a write: the standby that
# a failover promotes may not hold it, so it and its audit record would be
# lost although acknowledged (docs/ha.md). Here the standby never answers
# (synchronous_standby_names names one that does not exist), so every
# commit waits for it until it is cancelled: the write is refused (5xx),
# never answered 201, also after every lisecd session was made again (the
# server's synchronous_commit = off, which lisecd raises to on for its
# sessions, must not come back with a new session), and with the server at
# local or remote_write (neither waits for the standby's disk); the next
# write after the standby is back is acknowledged.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
for tool in psql jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
pgdir=$(mktemp -d /tmp/lisec-pg-sync-XXXXXX)
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
sql() { psql -qtA "$url" -c "$1"; }
# The server does not wait for the disk by default (synchronous_commit =
# off): lisecd raises it to on for its sessions, also for every session it
# makes again after one was lost.
sql "ALTER SYSTEM SET synchronous_commit = off"
sql "SELECT pg_reload_conf()" >/dev/null
STORE_URL=$url start_lisecd "$pki"
post() { # ID -> HTTP status of a jurisdiction's creation (60 s ceiling)
  as operator --max-time 60 -o "$work/w.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"$1\",\"codes\":[\"FI\"]}" "$LISECD_URL/v1/model/jurisdiction" 2>/dev/null || true
}
[ "$(post before)" = 201 ] || fail "a write before the standby was lost: $(cat "$work/w.json")"
# Every lisecd session ends (a PostgreSQL restart or failover looks so to
# lisecd), and is made again at its next use: the new ones must wait for
# the standby as the first did, not take the server's synchronous_commit.
sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'lisec%'" >/dev/null

# Every commit from now on waits for a standby that never answers; the
# waiting COMMIT is cancelled (pg_cancel_backend, as a DBA unsticking a
# hung session would; a statement_timeout does not reach that wait).
sql "ALTER SYSTEM SET synchronous_standby_names = 'absent_standby'"
sql "SELECT pg_reload_conf()" >/dev/null
cancelled_post() { # ID -> HTTP status of its creation, its COMMIT cancelled while it waits for the standby
  post "$1" >"$work/code" &
  local poster=$! pid=
  for _ in $(seq 1 300); do
    pid=$(sql "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' LIMIT 1")
    [ -n "$pid" ] && break
    sleep 0.05
  done
  [ -n "$pid" ] || fail "$1: no commit waited for the standby"
  # Every waiting commit is cancelled until the write is answered: the one
  # found first may be another of lisecd's (an audit checkpoint's).
  for _ in $(seq 1 600); do
    kill -0 $poster 2>/dev/null || break
    sql "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'SyncRep'" >/dev/null
    sleep 0.1
  done
  wait $poster
  cat "$work/code"
}
code=$(cancelled_post cancelled-1)
[ "$code" != 201 ] || fail "a write whose commit reached no standby was acknowledged (201)"
case $code in 5*) ;; *) fail "the unreplicated write answered $code, not 5xx: $(cat "$work/w.json")" ;; esac
pass "after every lisecd session was made again, a commit waits for the standby; cancelled, it is not acknowledged ($code)"
# The server's levels that wait for less than the standby's disk (local:
# not for the standby at all; remote_write: not for its disk) are raised
# too: sessions made again under each still wait, and are not acknowledged.
for level in local remote_write; do
  sql "ALTER SYSTEM SET synchronous_commit = $level"
  sql "SELECT pg_reload_conf()" >/dev/null
  sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'lisec%'" >/dev/null
  code=$(cancelled_post "cancelled-$level")
  case $code in 5*) ;; *) fail "with the server at synchronous_commit = $level, the unreplicated write answered $code" ;; esac
done
pass "the server's synchronous_commit = local and remote_write are raised to on: a commit waits for the standby"
sql "ALTER SYSTEM RESET synchronous_standby_names"
sql "SELECT pg_reload_conf()" >/dev/null
# The audit appender takes the in-doubt commit in when it next writes
# (the records reserved meanwhile are refused once): a few tries, bounded.
code=
for _ in 1 2 3; do code=$(post after) && [ "$code" = 201 ] && break; done
[ "$code" = 201 ] || fail "a write after the standby came back: $code $(cat "$work/w.json")"
have=$(as operator "$LISECD_URL/v1/model/jurisdiction" | jq -r '[.jurisdictions[].id] | sort | join(" ")')
[ "$have" = "$(sql "SELECT string_agg(id, ' ' ORDER BY id) FROM documents WHERE kind = 'model.jurisdiction'")" ] ||
  fail "the model ($have) is not what the store holds"
pass "the next write is acknowledged and the model equals the store ($have)"
stop_clean
