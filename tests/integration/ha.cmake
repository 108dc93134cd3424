# One fenced leader among three lisecd on one PostgreSQL (issue 17): a
# standby's answers, kill -9 failovers, a deposed leader's write refused by
# the fence, and the refusal of a second writer on SQLite or on PostgreSQL
# without [ha].
lisec_integration_test(ha_failover tests/integration/ha_failover.sh)
# PostgreSQL fails over under a [ha] leader: pg_basebackup -R standby,
# synchronous replication, primary killed, pg_ctl promote; the leader
# reconnects on its multi-host URL and takes its lock back with a new epoch.
lisec_integration_test(ha_pg_promote tests/integration/ha_pg_promote.sh)
# The deployment of docs/ha.md on loopback: etcd, Patroni (two PostgreSQL),
# three lisecd behind HAProxy, under load, attestations (swtpm + agent)
# and an active X1 task on lisec-ne; a nonce of a killed leader accepted
# once by the next; lisecd leaders killed at seeded random points (at least 6, as
# many as fit 60 s) and Patroni's primary once; every decision checked
# against the committed state, the task never deactivated.
lisec_integration_test(ha_stack tests/integration/ha_stack.sh)
# State that survives a failover is in the store (issue 17 item 2): stored
# attestation nonces across two store handles, compare-and-set model writes,
# a model write whose commit was in doubt.
lisec_unit_test(test_ha_state ${CMAKE_SOURCE_DIR}/tests/unit/test_ha_state.c lisec_ctl)
if(LISEC_TEST_HOOKS) # the commit in doubt (ctl/auditlog.c's LISEC_TEST_AUDIT_DOUBT)
  target_compile_definitions(test_ha_state PRIVATE LISEC_TEST_HOOKS)
endif()
# Compare-and-set model writes through the API (a client's stale version,
# two racing writers, a document or a referenced host changed underneath by
# another writer) and a lisecd refusing a log signed by another key, naming
# it (issue 17 items 2 and 3); SQLite, cheap, under the sanitizer too.
lisec_integration_test(ha_state tests/integration/ha_state.sh)
# A leader whose lock session goes silent (power or network lost, no FIN
# or RST; packets dropped in a network namespace of the test's own, root
# only): the server ends the session on its keepalives, a standby takes
# over, nothing acknowledged is lost.
lisec_integration_test(ha_partition tests/integration/ha_partition.sh)
# A COMMIT whose wait for the synchronous standby is cancelled is answered
# as committed with a WARNING: lisecd does not acknowledge that write.
lisec_integration_test(ha_sync_commit tests/integration/ha_sync_commit.sh)
# A leader's lease survives its wall clock stepped back an hour (the watch
# that renews it waits by the monotonic clock); the step is made by
# clock_step_shim, LD_PRELOADed into the leader.
add_library(clock_step_shim MODULE ${CMAKE_SOURCE_DIR}/tests/integration/clock_step_shim.c)
target_link_libraries(clock_step_shim PRIVATE ${CMAKE_DL_LIBS})
# Never sanitized: the programs a preloaded process starts (a quarantine
# command) inherit it, and a sanitizer runtime would come with it.
if(LISEC_SANITIZE)
  target_compile_options(clock_step_shim PRIVATE -fno-sanitize=all)
  target_link_options(clock_step_shim PRIVATE -fno-sanitize=all)
endif()
lisec_integration_test(ha_lease_clock tests/integration/ha_lease_clock.sh)
# A leader whose watch stalls (test hook) while the rest of it runs: the
# lease lapses, the server ends its lock session and a standby takes over;
# the stalled leader must stop answering as the leader by itself, before
# that, and lead again only once its watch has checked the lock.
lisec_integration_test(ha_lease_stall tests/integration/ha_lease_stall.sh)
# The one response lisecd holds open, a decision parked for a fresh quote
# (swtpm + lisec-agent), on a leader whose watch stalls: answered 503
# "standby" once it steps down, not at its bound; with lease_ms = 0, 503
# when the deposed leader exits.
lisec_integration_test(ha_parked_stall tests/integration/ha_parked_stall.sh)
# A stalled PostgreSQL (a COMMIT waiting for a synchronous standby that
# never answers, the leader's backends stopped): each write refused 503
# within [store] timeout_ms, not held; the leader keeps leading and serves
# again once the store answers, with no session left over.
lisec_integration_test(ha_store_stall tests/integration/ha_store_stall.sh)
# A leader whose lease lapses in the middle of an X1 pass (an NE answering
# slowly, x1_admf_ne.py crawl in front of lisec-ne) sends nothing more in
# it; leading again, it asks the rest.
lisec_integration_test(ha_lease_x1 tests/integration/ha_lease_x1.sh)
# The leader's lock session's backend stopped (SIGSTOP: the server's
# timeouts and the lease are the backend's own to enforce): the leader
# steps down by its lease, gives the session up within lock_timeout_ms and
# 2 s, exits naming it once store_failover_ms has passed; the standby never
# leads beside it, and leads once the backend runs again; a leader asked to
# stop meanwhile stops within the bound.
lisec_integration_test(ha_lock_stall tests/integration/ha_lock_stall.sh)
# A lisecd that starts while another node's schema migration runs (held by
# a trigger of the test's) waits for it, saying so, beyond its sessions'
# lock_timeout, bounded by [store] migration_timeout_ms (one with 1000
# stops naming it), and starts once the migration is done: one leader, one
# standby.
lisec_integration_test(ha_migration_wait tests/integration/ha_migration_wait.sh)
# The old leader's data backend stopped inside a write's transaction (it
# holds the fence's lock shared) and the leader killed: the standby takes
# the lock at each poll but cannot bump, never answers as the leader, names
# the backend and its node in its log, and leads once the backend runs
# again (the termination it asked for ends it); nothing of the write stored.
lisec_integration_test(ha_data_stall tests/integration/ha_data_stall.sh)
# A standby's own lock backend stopped: its try given up within the lock's
# bound, a standby all along, and it takes over from a killed leader; then
# the whole PostgreSQL stopped and the standby and the leader each asked to
# stop: each ends within [server] stop_timeout_s, never killed.
lisec_integration_test(ha_standby_stall tests/integration/ha_standby_stall.sh)
