#!/usr/bin/env bash
# A lisecd that starts while another node migrates the schema waits for it
# (docs/ha.md, failure cases): a new version's migration may rewrite a
# large table, and every node of an HA pair is started with the new
# version. The migration holds its advisory lock for as long as it runs;
# the second node waits for that lock, saying so, bounded by [store]
# migration_timeout_ms, and starts once the migration is done. Before, it
# waited only for its session's lock_timeout (10 s), then stopped with
# "canceling statement due to lock timeout". Real PostgreSQL; the database
# is set back to schema version 2 with a tenant's package, so that
# migration 3 rewrites it, and a trigger of the test's makes each row's
# rewrite wait until the test lets it go (an advisory lock the test holds):
# a slow migration whose end the test decides, no sleep. The sessions'
# lock_timeout is set to 1 s in the URL (options=), so the old wait gives up
# at once. Checked: a migrates, b says it waits for another node's
# migration and is still waiting after three times its lock_timeout; c,
# with migration_timeout_ms = 1000, stops (exit 2) naming the setting and
# the other node's migration; let go, a finishes migration 3, b says the
# migration it waited for ended, one of them leads and the other is its
# standby (b may take the migration lock first and run migration 4 while a
# waits), the schema is at the latest version and the package was moved
# once.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
for tool in psql jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
pgdir=$(mktemp -d /tmp/lisec-pg-migwait-XXXXXX)
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
sql() { psql -qtA "$url" -c "$1"; }
ha_audit_key
declare -A PORT PID PROBE
ha_free_ports 6
PORT[a]=${free[0]} PROBE[a]=${free[1]} PORT[b]=${free[2]} PROBE[b]=${free[3]} PORT[c]=${free[4]} PROBE[c]=${free[5]}
conf() { # NAME STORE_URL [store settings...]
  local n=$1 u=$2 lines
  shift 2
  mapfile -t lines < <(ha_section "$n" "${PORT[$n]}")
  ha_conf "$work/$n.conf" "${PORT[$n]}" "${PROBE[$n]}" "$u" "$work/$n.vkey" "${lines[@]}"
  for line in "$@"; do sed -i "/^url = /a $line" "$work/$n.conf"; done
}
start() { # NAME
  "$build/cmd/lisecd/lisecd" -c "$work/$1.conf" 2>>"$work/$1.log" &
  PID[$1]=$!
  cleanup_hooks+=("kill -TERM ${PID[$1]} 2>/dev/null; wait ${PID[$1]} 2>/dev/null")
}
dump() { for n in a b; do echo "--- $n" >&2; grep -v '\[front\]' "$work/$n.log" | tail -6 >&2; done; }
wait_log() { # NAME REGEX WHAT: up to 30 s, NAME alive
  for _ in $(seq 1 300); do
    grep -q "$2" "$work/$1.log" && return 0
    alive "$1" || break
    sleep 0.1
  done
  dump
  fail "$3"
}

# The schema made by a first start, then set back to version 2.
conf a "$url"
start a
for _ in $(seq 1 300); do leads a && break; alive a || break; sleep 0.1; done
leads a || { dump; fail "a did not lead"; }
kill -TERM "${PID[a]}"
wait "${PID[a]}" || fail "a did not stop cleanly"
latest=$(sql "SELECT MAX(version) FROM schema_migrations")
sql "DELETE FROM schema_migrations WHERE version >= 3; DROP TABLE leader_epoch;
     INSERT INTO documents VALUES ('pkg', 'p-1', '{\"record\":{\"owner\":\"tenant:t1\"}}', 1, 0);
     CREATE FUNCTION held_row() RETURNS trigger LANGUAGE plpgsql AS
       \$\$ BEGIN PERFORM set_config('lock_timeout', '0', true); PERFORM pg_advisory_xact_lock_shared(4242);
            RETURN NEW; END \$\$;
     CREATE TRIGGER held_row BEFORE UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION held_row();" >/dev/null
# The test holds the rows' lock until it lets the migration go.
PGAPPNAME=test-hold psql -qtA "$url" -c "SELECT pg_advisory_lock(4242)" -c "SELECT pg_sleep(300)" >/dev/null 2>&1 &
cleanup_hooks+=("kill $! 2>/dev/null")
for _ in $(seq 1 100); do
  [ "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND granted")" = 1 ] && break
  sleep 0.1
done
release() { sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'test-hold'" >/dev/null; }

short="$url?options=-c%20lock_timeout%3D1000"
conf a "$short"
conf b "$short"
conf c "$short" "migration_timeout_ms = 1000"
: >"$work/a.log"
start a
wait_log a "schema migration 3 .*started" "a did not start migration 3"
start b
wait_log b "waiting for another node's schema migration .*for at most \[store\] migration_timeout_ms = 3600000 ms" \
  "b did not say it waits for another node's schema migration"
t0=$(date +%s%N)
# three times its sessions' lock_timeout: b still waits, nothing else said
while [ $((($(date +%s%N) - t0) / 1000000)) -lt 3000 ]; do
  alive b || { dump; fail "b gave up waiting for a's migration"; }
  sleep 0.1
done
! grep -q "lock timeout" "$work/b.log" || { dump; fail "b met its lock_timeout"; }
pass "b waits for a's migration 3 beyond its sessions' lock_timeout (1 s), saying so"

rc=0
timeout 30 "$build/cmd/lisecd/lisecd" -c "$work/c.conf" 2>"$work/c.log" || rc=$?
[ $rc = 2 ] || { tail -5 "$work/c.log" >&2; fail "c, with migration_timeout_ms = 1000, exited $rc, not 2"; }
grep -q "TR103308-5.5: store: another node's schema migration did not end within \[store\] migration_timeout_ms = 1000 ms" "$work/c.log" ||
  { tail -5 "$work/c.log" >&2; fail "c's refusal does not name the other node's migration and the setting"; }
pass "c, with [store] migration_timeout_ms = 1000, stops (exit 2) naming the setting"
alive a && alive b || { dump; fail "a or b stopped meanwhile"; }

release
# either may lead: once a's migration 3 is done, b may take the migration
# lock first (and run migration 4, a then waiting for it), or the writer lock
leader=
for _ in $(seq 1 300); do
  if leads a && refuses b; then leader=a; elif leads b && refuses a; then leader=b; fi
  [ -n "$leader" ] && break
  alive a && alive b || break
  sleep 0.1
done
[ -n "$leader" ] || { dump; fail "no leader with the other its standby once the migration was let go"; }
grep -q "the other node's schema migration ended after" "$work/b.log" || { dump; fail "b did not say the migration ended"; }
[ "$(sql "SELECT MAX(version) FROM schema_migrations")" = "$latest" ] || fail "the schema is not at version $latest"
[ "$(sql "SELECT string_agg(id, ' ') FROM documents WHERE kind = 'pkg'")" = "tenant:t1:p-1" ] ||
  fail "the package was not moved once: $(sql "SELECT string_agg(id, ' ') FROM documents WHERE kind = 'pkg'")"
pass "the migration let go: $leader leads, the other is its standby, the schema at version $latest, the package moved once"
for n in a b; do
  ! grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:' "$work/$n.log" || { cat "$work/$n.log" >&2; fail "sanitizer report ($n)"; }
done
