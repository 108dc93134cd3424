/* The versioned schema. Each migration is a number and its SQL for each back
 * end; the numbers applied are recorded in schema_migrations. At open, every
 * pending migration runs in order, each in its own transaction together with
 * its record, so a crash leaves the schema at one version or the next and
 * never between. Opening processes are serialised (SQLite's write lock,
 * PostgreSQL's advisory lock) so two daemons starting at once do not both
 * migrate. A database migrated by newer code is refused untouched: old code
 * cannot know what a newer schema means. Migrations are never edited once
 * shipped, only added. A migration may rewrite a large table, so on
 * PostgreSQL its statements are bounded by [store] migration_timeout_ms,
 * not by [store] timeout_ms; one past it is cancelled and rolled back
 * whole, and the open refused naming the setting. Each migration's start
 * and end are logged, so a long one is seen to be under way. Another
 * process that finds the migration lock taken waits for it, logged, within
 * the same [store] migration_timeout_ms (migration_lock). */
#include <stdatomic.h>
#include <stdio.h>

#include "store/store_impl.h"

typedef struct store_migration {
  int version;
  const char *what;
  const char *sqlite;
  const char *postgres;
} store_migration;

static const store_migration migrations[] = {
    {1, "documents, audit log, checkpoints",
     "CREATE TABLE documents (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,"
     "  version INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (kind, id));"
     "CREATE TABLE audit_log (idx INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
     "  sealed INTEGER NOT NULL, data BLOB NOT NULL, leaf_hash BLOB NOT NULL);"
     "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
     "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
     "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
     "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
     "CREATE TABLE checkpoints (tree_size INTEGER PRIMARY KEY, note TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL);",
     "CREATE TABLE documents (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,"
     "  version BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (kind, id));"
     "CREATE TABLE audit_log (idx BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL,"
     "  sealed INTEGER NOT NULL, data BYTEA NOT NULL, leaf_hash BYTEA NOT NULL);"
     "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS"
     "  $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;"
     "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log"
     "  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();"
     "CREATE TABLE checkpoints (tree_size BIGINT PRIMARY KEY, note TEXT NOT NULL,"
     "  created_at BIGINT NOT NULL);"},
    /* Version 1 left ways around its triggers: SQLite's INSERT OR REPLACE
     * deletes the old row without firing DELETE triggers, and PostgreSQL's
     * TRUNCATE fires no row trigger. Entries now go only at the end, and the
     * signed checkpoints are kept the same way. */
    {2, "audit log entries only at the end; checkpoints append-only",
     "CREATE TRIGGER audit_log_at_end BEFORE INSERT ON audit_log"
     "  WHEN NEW.idx IS NOT (SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_log)"
     "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only: entry not at the end'); END;"
     "CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints"
     "  BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;"
     "CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints"
     "  BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;"
     "CREATE TRIGGER checkpoints_no_replace BEFORE INSERT ON checkpoints"
     "  WHEN EXISTS (SELECT 1 FROM checkpoints WHERE tree_size = NEW.tree_size)"
     "  BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;",
     "CREATE FUNCTION audit_log_at_end() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
     "  IF NEW.idx IS DISTINCT FROM (SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_log) THEN"
     "    RAISE EXCEPTION 'audit log is append-only: entry % not at the end', NEW.idx"
     "      USING ERRCODE = 'integrity_constraint_violation';"
     "  END IF; RETURN NEW; END $$;"
     "CREATE TRIGGER audit_log_at_end BEFORE INSERT ON audit_log"
     "  FOR EACH ROW EXECUTE FUNCTION audit_log_at_end();"
     "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
     "  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();"
     "CREATE FUNCTION checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS"
     "  $$ BEGIN RAISE EXCEPTION 'checkpoints are append-only'; END $$;"
     "CREATE TRIGGER checkpoints_no_change BEFORE UPDATE OR DELETE ON checkpoints"
     "  FOR EACH ROW EXECUTE FUNCTION checkpoints_append_only();"
     "CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints"
     "  FOR EACH STATEMENT EXECUTE FUNCTION checkpoints_append_only();"},
    /* Package ids were one namespace, so one tenant learnt another's ids
     * (403 against 404) and could take an id first. A tenant's package is
     * now kept under "tenant:<name>:<id>" (ctl/pkg.c, pkg_key); the
     * packages tenants on-boarded before move there. */
    {3, "each tenant's packages under ids of their own",
     "UPDATE documents SET id = json_extract(body, '$.record.owner') || ':' || id"
     "  WHERE kind = 'pkg' AND json_extract(body, '$.record.owner') LIKE 'tenant:%';",
     "UPDATE documents SET id = (body::jsonb #>> '{record,owner}') || ':' || id"
     "  WHERE kind = 'pkg' AND (body::jsonb #>> '{record,owner}') LIKE 'tenant:%';"},
    /* One fenced writer (issue 17, store/lock.c): the holder of the writer
     * lock bumps epoch when it takes over and names itself here; every
     * transaction of a leader checks the epoch is still its own. */
    {4, "the leader epoch and the writer lock's holder",
     "CREATE TABLE leader_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL,"
     "  node TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, advertise TEXT NOT NULL,"
     "  since_ms INTEGER NOT NULL);"
     "INSERT INTO leader_epoch VALUES (1, 0, '', '', 0, '', 0);",
     "CREATE TABLE leader_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), epoch BIGINT NOT NULL,"
     "  node TEXT NOT NULL, host TEXT NOT NULL, pid BIGINT NOT NULL, advertise TEXT NOT NULL,"
     "  since_ms BIGINT NOT NULL);"
     "INSERT INTO leader_epoch VALUES (1, 0, '', '', 0, '', 0);"},
};

#define N_MIGRATIONS ((int)LISEC_ARRAY_LEN(migrations))

int store_migrations_latest(void) { return N_MIGRATIONS; }

static _Atomic int64_t migration_bound_ms = STORE_MIGRATION_TIMEOUT_DEFAULT_MS;

void store_migration_timeout_set(int64_t ms) {
  atomic_store(&migration_bound_ms, ms > 0 ? ms : STORE_MIGRATION_TIMEOUT_DEFAULT_MS);
}

/* The applied version, 0 when schema_migrations does not exist yet. Asking
 * first avoids CREATE TABLE IF NOT EXISTS, which PostgreSQL refuses to a role
 * without CREATE rights even when the table is there. */
static int applied_version(const store_ops *ops, void *be, int64_t *v, lisec_err *err) {
  const char *exists =
      ops->dialect == STORE_DIALECT_SQLITE
          ? "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = "
            "'schema_migrations'"
          /* A scan of the catalog, not to_regclass(): name lookups use a
           * cache that may not yet show a table another process created
           * while this one waited for the migration lock. */
          : "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
            "AND tablename = 'schema_migrations'";
  int64_t present = 0;
  int rc = ops->query_int(be, exists, &present, err);
  if (rc) return rc;
  *v = 0;
  return present ? ops->query_int(be, STORE_SQL_SCHEMA_VERSION, v, err) : 0;
}

static int refuse_newer(int64_t v, lisec_err *err) {
  return lisec_err_set(err, LISEC_ESTORE,
                       "store: database schema version %lld is newer than this lisec "
                       "understands (%d); refusing to touch it",
                       (long long)v, N_MIGRATIONS);
}

/* An arbitrary constant naming "lisec schema migration" among advisory
 * locks, and its two halves as pg_locks shows them. */
#define MIGRATION_KEY "7151300020260001"
#define MIGRATION_KEY_HI "1665041"    /* 7151300020260001 >> 32 */
#define MIGRATION_KEY_LO "3378760865" /* 7151300020260001 & 0xffffffff */

/* PostgreSQL: takes the migration lock in the current transaction. Taken
 * by another process, it is migrating the schema (another node of an HA
 * pair starting a new version first, say), and the migration may rewrite a
 * large table: this one waits for it, saying so, for at most [store]
 * migration_timeout_ms (the bound the migration itself runs under) rather
 * than the session's 10 s lock_timeout, then reads the version it left. */
static int migration_lock(const store_ops *ops, void *be, lisec_err *err) {
  int64_t got = 0;
  int rc = ops->query_int(be, "SELECT pg_try_advisory_xact_lock(" MIGRATION_KEY ")::int", &got, err);
  if (rc || got) return rc;
  int64_t bound = atomic_load(&migration_bound_ms), holder = 0;
  lisec_err ignored = {0};
  (void)ops->query_int(be,
                       "SELECT COALESCE(MAX(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                       "AND classid = " MIGRATION_KEY_HI " AND objid = " MIGRATION_KEY_LO " AND objsubid = 1",
                       &holder, &ignored);
  LOG_INFO("store: waiting for another node's schema migration (PostgreSQL backend pid %lld holds the migration "
           "lock) for at most [store] migration_timeout_ms = %lld ms",
           (long long)holder, (long long)bound);
  char sql[64];
  snprintf(sql, sizeof sql, "SET LOCAL lock_timeout = %lld", (long long)bound);
  int64_t t0 = lisec_time_mono_ms();
  rc = ops->exec(be, sql, err);
  if (!rc) rc = ops->exec(be, "SELECT pg_advisory_xact_lock(" MIGRATION_KEY ")", err);
  if (rc) {
    lisec_err_wrap(err,
                   "TR103308-5.5: store: another node's schema migration did not end within [store] "
                   "migration_timeout_ms = %lld ms (waited %lld ms); this lisecd does not start on a schema "
                   "being changed (raise the setting, or start it again once that migration is done)",
                   (long long)bound, (long long)(lisec_time_mono_ms() - t0));
    return rc;
  }
  LOG_INFO("store: the other node's schema migration ended after %lld ms of waiting; reading the version it left",
           (long long)(lisec_time_mono_ms() - t0));
  return 0;
}

/* One step under the lock: re-reads the version (another process may have
 * migrated meanwhile) and applies the next migration if one is pending.
 * *done is set when nothing is pending. */
static int migrate_step(const store_ops *ops, void *be, bool *done, lisec_err *err) {
  int rc = ops->begin(be, err);
  if (rc) {
    lisec_err_wrap(err, "store: cannot start a schema migration");
    return rc;
  }
  if (ops->dialect == STORE_DIALECT_POSTGRES) rc = migration_lock(ops, be, err);
  int64_t v = 0;
  if (!rc) rc = applied_version(ops, be, &v, err);
  if (!rc && v > N_MIGRATIONS) rc = refuse_newer(v, err);
  if (rc || v == N_MIGRATIONS) {
    ops->rollback(be);
    *done = rc == 0;
    return rc;
  }
  const store_migration *m = &migrations[v];
  if (m->version != v + 1) {
    ops->rollback(be);
    return lisec_err_set(err, LISEC_EINTERNAL, "store: migration table out of order at %lld",
                         (long long)v + 1);
  }
  char mark[128];
  snprintf(mark, sizeof mark, "INSERT INTO schema_migrations (version, applied_at) VALUES (%d, %lld)",
           m->version, (long long)lisec_time_now());
  if (v == 0)
    rc = ops->exec(be,
                   "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                   "applied_at BIGINT NOT NULL)",
                   err);
  int64_t t0 = lisec_time_mono_ms();
  LOG_INFO("store: schema migration %d (%s) from version %lld: started", m->version, m->what, (long long)v);
  if (!rc)
    rc = ops->exec(be, ops->dialect == STORE_DIALECT_SQLITE ? m->sqlite : m->postgres, err);
  if (!rc) rc = ops->exec(be, mark, err);
  bool committing = rc == 0;
  if (!rc) rc = ops->commit(be, err);
  else ops->rollback(be);
  if (rc) {
    /* DDL is transactional on both back ends: a statement that failed (or
     * was cancelled) leaves the schema as it was. Only a COMMIT whose
     * answer was lost leaves it unknown, and the next open reads it. */
    if (committing)
      lisec_err_wrap(err,
                     "store: schema migration %d (%s) failed after %lld ms, its commit not confirmed: the schema "
                     "is at version %lld or %d (the next open reads which)",
                     m->version, m->what, (long long)(lisec_time_mono_ms() - t0), (long long)v, m->version);
    else
      lisec_err_wrap(err,
                     "store: schema migration %d (%s) failed after %lld ms and was rolled back whole: the "
                     "schema stays at version %lld",
                     m->version, m->what, (long long)(lisec_time_mono_ms() - t0), (long long)v);
    return rc;
  }
  LOG_INFO("store: schema migration %d (%s): applied in %lld ms", m->version, m->what,
           (long long)(lisec_time_mono_ms() - t0));
  return 0;
}

int store_migrate(const store_ops *ops, void *be, lisec_err *err) {
  int64_t v = 0;
  /* The common case, an up-to-date schema, takes no lock. */
  int rc = applied_version(ops, be, &v, err);
  if (rc) return rc;
  if (v > N_MIGRATIONS) return refuse_newer(v, err);
  bool done = v == N_MIGRATIONS;
  if (!done && ops->bound) ops->bound(be, atomic_load(&migration_bound_ms), "[store] migration_timeout_ms");
  while (!done && rc == 0) rc = migrate_step(ops, be, &done, err);
  if (ops->bound) ops->bound(be, 0, NULL);
  return rc;
}
