/* The PostgreSQL back end (libpq), for deployments that need a replicated,
 * highly available store. Every query is parameterised (PQexecParams); the
 * audit log's bytes travel as bytea in binary both ways, so nothing is
 * escaped or unescaped. A commit is durable on return because the session
 * keeps synchronous_commit at the server's setting, raised to "on" when
 * the server has it lower (on each session, the ones made again included).
 * Walks read in pages, so a long log or a large kind
 * never sits in memory whole. A lost connection is re-established outside
 * a transaction, never inside one (the transaction died with it): before a
 * statement when the server already said it is going away (a restart sends
 * each idle session FATAL 57P01, then closes it), and after a failed BEGIN
 * or read, which is repeated once on the new connection because repeating
 * them changes nothing. A write that failed is not repeated (it may have
 * been done): it is reported as EUNAVAIL. Every statement is sent and its
 * answer waited for within [store] timeout_ms (store_timeout_set; a schema
 * migration's within [store] migration_timeout_ms): the connection is
 * non-blocking while a statement is sent, so a server that stopped reading
 * cannot hold a large one's send either; a statement not answered by then
 * is cancelled (pg_cancel.c bounds the cancels in flight), and a server
 * that does not answer the cancel either, or one not sent whole, loses the
 * connection, so a stalled store is refused (EUNAVAIL) within a bound
 * instead of holding its caller for good. The library never prints: server
 * notices are dropped. */
#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"

/* Rows per page of a walk: a log page is at most 128 MiB even if every
 * entry were at STORE_LOG_DATA_MAX, and typically a few tens of KiB. */
#define PG_PAGE 128
#define PG_PAGE_TEXT "128"

typedef struct pg_be {
  PGconn *conn;
  bool in_tx;
  bool going; /* the server said this session ends (SQLSTATE 57P or 08) */
  bool warned; /* a WARNING came since pg_commit cleared it */
  bool timed_out; /* the last statement's answer did not come within the bound */
  char warning[160];
  int64_t bound_ms;    /* 0: [store] timeout_ms; else what bound_setting names */
  const char *bound_setting;
  pg_canceller *canceller;
  char *target; /* the store URL: a lost connection is made again from it */
} pg_be;

/* [store] timeout_ms: how long one statement's answer is waited for; then
 * it is cancelled, and its answer to the cancel waited for PG_CANCEL_GRACE_MS
 * more before the connection is given up. */
#define PG_CANCEL_GRACE_MS 2000
static _Atomic int64_t answer_bound_ms = STORE_TIMEOUT_DEFAULT_MS;

void store_timeout_set(int64_t ms) { atomic_store(&answer_bound_ms, ms > 0 ? ms : STORE_TIMEOUT_DEFAULT_MS); }

static int64_t pg_bound(const pg_be *b) { return b->bound_ms > 0 ? b->bound_ms : atomic_load(&answer_bound_ms); }

static const char *pg_bound_setting(const pg_be *b) {
  return b->bound_ms > 0 && b->bound_setting ? b->bound_setting : "[store] timeout_ms";
}

static void pg_bound_set(void *be, int64_t ms, const char *setting) {
  pg_be *b = be;
  b->bound_ms = ms > 0 ? ms : 0;
  b->bound_setting = ms > 0 ? setting : NULL;
}

/* Notices are dropped, but one that says the session is ending marks the
 * connection for a reconnect before the next statement, and a WARNING is
 * noted for pg_commit. */
static void pg_notice(void *arg, const PGresult *res) {
  pg_be *b = arg;
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  if (state && (!strncmp(state, "57P", 3) || !strncmp(state, "08", 2))) b->going = true;
  const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (sev && !strcmp(sev, "WARNING") && !b->warned) {
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    b->warned = true;
    snprintf(b->warning, sizeof b->warning, "%.*s", (int)strcspn(msg ? msg : "", "\n"), msg ? msg : "");
  }
}

/* lisec's code for a failed command: a lost server is unavailable, a
 * uniqueness or trigger-raised integrity violation and a serialisation
 * failure are conflicts, a lock wait that timed out is "unavailable, try
 * again", the rest store failures. */
static int pg_code(pg_be *b, const PGresult *res) {
  if (PQstatus(b->conn) != CONNECTION_OK) return LISEC_EUNAVAIL;
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (!state) return LISEC_ESTORE;
  if (!strcmp(state, "23505") || !strcmp(state, "23000") || !strcmp(state, "40001") ||
      !strcmp(state, "40P01"))
    return LISEC_ECONFLICT;
  /* 55P03: a lock not granted within lock_timeout, SQLite's SQLITE_BUSY */
  if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3) || !strncmp(state, "53", 2) ||
      !strcmp(state, "55P03"))
    return LISEC_EUNAVAIL;
  return LISEC_ESTORE;
}

/* Fills err from a failed result (or the connection) and frees res. */
static int pg_fail(pg_be *b, PGresult *res, const char *what, lisec_err *err) {
  const char *msg = res ? PQresultErrorMessage(res) : "";
  if (!msg || !*msg) msg = PQerrorMessage(b->conn);
  int code = b->timed_out ? LISEC_EUNAVAIL : pg_code(b, res);
  if (b->timed_out)
    lisec_err_set(err, code,
                  "TR103308-5.5: postgresql: %s: not sent and answered within %s = %lld ms, so the statement "
                  "was cancelled (or its connection given up) and is refused rather than waited for (%.*s)",
                  what, pg_bound_setting(b), (long long)pg_bound(b), (int)strcspn(msg, "\n"), msg);
  else
    lisec_err_set(err, code, "postgresql: %s: %.*s", what, (int)strcspn(msg, "\n"), msg);
  PQclear(res);
  return code;
}

/* The connection is given up: its socket shut down, so libpq finds it
 * closed and pg_ready makes a new one before the next statement. */
static void pg_give_up(pg_be *b) {
  store_pg_give_up(b->conn);
  b->going = true;
}

/* Sends sql (with n parameters; n < 0: the simple protocol, several
 * statements allowed) and waits for its answer, the last result as PQexec
 * gives it, the whole within the bound (pg_bound) by the monotonic clock.
 * The connection is non-blocking while it is sent (a server that does not
 * read, its socket's buffer full, would hold a blocking send for good): a
 * statement not sent whole by then gives its connection up, since the
 * server has part of a message. One sent but not answered is cancelled (a
 * COMMIT waiting for a synchronous standby then answers with a WARNING,
 * which pg_commit takes as in doubt), and once the grace for the cancel
 * has passed too (a backend stopped, a host cut off), or when no canceller
 * could be started for it (pg_cancel.c: one of this connection's is still
 * under way, or the process's cap is reached), the connection is given
 * up. b->timed_out says so. */
static PGresult *pg_send(pg_be *b, const char *sql, int n, const char *const *vals, const int *lens,
                         const int *fmts, int binary) {
  b->timed_out = false;
  int64_t limit = lisec_time_mono_ms() + pg_bound(b);
  if (PQsetnonblocking(b->conn, 1) != 0) return NULL;
  int sent = n < 0 ? PQsendQuery(b->conn, sql) : PQsendQueryParams(b->conn, sql, n, NULL, vals, lens, fmts, binary);
  bool whole = sent && store_pg_flush_by(b->conn, limit, NULL);
  if (sent && !whole) {
    b->timed_out = true;
    pg_give_up(b);
  }
  PQsetnonblocking(b->conn, 0); /* all sent (or the connection is gone): nothing to flush */
  if (!whole) return NULL;
  PGresult *last = NULL;
  bool cancelled = false, abandoned = false;
  for (;;) {
    if (store_pg_result_by(b->conn, limit, NULL)) {
      PGresult *r = PQgetResult(b->conn); /* does not block now */
      if (!r) break;
      PQclear(last);
      last = r;
      continue;
    }
    if (abandoned) break; /* not reached: a shut-down socket reads as closed */
    b->timed_out = true;
    if (!cancelled) {
      cancelled = true;
      if (pg_canceller_start(b->canceller, b->conn)) {
        limit = lisec_time_mono_ms() + PG_CANCEL_GRACE_MS;
        continue;
      }
    }
    abandoned = true;
    pg_give_up(b);
  }
  return last;
}

static PGresult *pg_exec_sql(pg_be *b, const char *sql) { return pg_send(b, sql, -1, NULL, NULL, NULL, 0); }

const char *store_pg_reason(const char *msg, char *buf, size_t size) {
  size_t j = 0;
  if (!size) return "";
  for (size_t i = 0; msg && msg[i] && j + 3 < size; i++) {
    if (msg[i] == '\n') {
      while (msg[i + 1] == '\n') i++;
      if (!msg[i + 1]) break;
      if (msg[i + 1] == '\t') { /* libpq's hint line under a host's reason */
        buf[j++] = ' ';
        i++;
      } else {
        buf[j++] = ';';
        buf[j++] = ' ';
      }
      continue;
    }
    buf[j++] = msg[i] == '\t' ? ' ' : msg[i];
  }
  buf[j] = 0;
  return buf;
}

/* Makes the session's connection, the first or a new one in place of a
 * lost one (closed then), from the store URL. Defaults first: what the URL
 * itself says overrides them. Without a connect timeout an unreachable host
 * would hang the caller for minutes; without a lock timeout a transaction
 * left open elsewhere would hang every writer after it (SQLite's busy
 * timeout is the same 10 s). The one exception is a lisecd's session name
 * ("lisec:<node>"), which comes after the URL and so overrides an
 * application_name there: a new holder of the writer lock ends the previous
 * holder's sessions by that name (lock.c, pg_end_previous), and one it
 * cannot find, paused inside a transaction, would keep every epoch bump
 * waiting, so no standby could take over for as long as it stays paused.
 * It is made on a thread of its own (store_pg_connect), so a stop's
 * deadline ends the wait for a server that accepts and never answers
 * (libpq waits connect_timeout for each host). 0 with b->conn set, made or
 * failed (PQstatus says); EUNAVAIL when the stop cut it short. */
static int pg_connect(pg_be *b, lisec_err *err) {
  const char *name = store_session_name();
  bool named = strncmp(name, "lisec:", 6) == 0;
  const char *const keys[] = {"connect_timeout", "fallback_application_name", "client_encoding",
                              "options", "dbname", named ? "application_name" : NULL, NULL};
  const char *const vals[] = {"10", name, "UTF8", "-c lock_timeout=10000", b->target, named ? name : NULL, NULL};
  bool stopped = false;
  PGconn *c = store_pg_connect(keys, vals, NULL, &stopped);
  if (stopped)
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "TR103308-5.5: postgresql: the connection was not made again: this lisecd is stopping");
  if (!c) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  PQsetNoticeReceiver(c, pg_notice, b);
  if (b->conn) PQfinish(b->conn);
  b->conn = c;
  return 0;
}

/* Outside a transaction nothing should arrive on an idle connection; when
 * something did (a server going down says so, then closes), it is read now,
 * so a connection the server ended is known to be lost before a statement
 * is sent on it. One poll(2) without waiting. */
static void pg_probe(pg_be *b) {
  int fd = PQsocket(b->conn);
  if (fd < 0) return;
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, 0) == 1 && PQconsumeInput(b->conn) == 0) b->going = true;
}

/* Re-establishes a lost connection, but never inside a transaction: the
 * statements after it would run outside the transaction they belong to. */
/* What every session of the store gets, the first and each one made again
 * after a lost connection (pg_connect makes it from the URL again; nothing
 * SET on the old session is kept): synchronous_commit raised to on when the
 * server has it lower. off does not wait for the disk; local and
 * remote_write do not wait for the synchronous standby to have the commit
 * on its disk, so a failover (or the standby's crash with the primary's)
 * would lose what was acknowledged. on and remote_apply are kept. */
static int pg_session_setup(pg_be *b, lisec_err *err) {
  PGresult *res = pg_exec_sql(b, "SHOW synchronous_commit");
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
    return pg_fail(b, res, "read synchronous_commit", err);
  const char *level = PQgetvalue(res, 0, 0);
  bool lower = strcmp(level, "on") != 0 && strcmp(level, "remote_apply") != 0;
  PQclear(res);
  if (lower) {
    res = pg_exec_sql(b, "SET synchronous_commit = on");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) return pg_fail(b, res, "synchronous_commit", err);
    PQclear(res);
  }
  return 0;
}

static int pg_ready(pg_be *b, lisec_err *err) {
  if (!b->in_tx && PQstatus(b->conn) == CONNECTION_OK) pg_probe(b);
  if (PQstatus(b->conn) == CONNECTION_OK && !b->going) return 0;
  if (b->in_tx)
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "postgresql: the connection was lost inside a transaction");
  int rc = pg_connect(b, err);
  if (rc) return rc;
  b->going = false;
  if (PQstatus(b->conn) == CONNECTION_OK) {
    /* a session that would not wait for the disk is not used: it is made
     * again before the next statement */
    if (pg_session_setup(b, err) == 0) return 0;
    b->going = true;
    if (err) err->code = LISEC_EUNAVAIL;
    return LISEC_EUNAVAIL;
  }
  char why[768];
  return lisec_err_set(err, LISEC_EUNAVAIL,
                       "postgresql: cannot reconnect (no host of the store URL accepted the session it asks "
                       "for; during a failover, until a standby is promoted): %s",
                       store_pg_reason(PQerrorMessage(b->conn), why, sizeof why));
}

/* A statement that failed because the connection broke (its status is no
 * longer OK) outside a transaction: true when a BEGIN or a read may be sent
 * again on a new connection. res is freed then. */
static bool pg_again(pg_be *b, PGresult *res) {
  ExecStatusType st = PQresultStatus(res);
  if (b->in_tx || st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
      PQstatus(b->conn) == CONNECTION_OK)
    return false;
  PQclear(res);
  return true;
}

/* Strict decimal; a server answer that is not a number is a store failure. */
static bool pg_int(const char *s, int64_t *out) {
  char *end = NULL;
  if (!s || !*s) return false;
  long long v = strtoll(s, &end, 10);
  if (*end) return false;
  *out = v;
  return true;
}

static uint64_t be_read(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

static int pg_open(const char *target, void **out, lisec_err *err) {
  char *perr = NULL;
  PQconninfoOption *opts = PQconninfoParse(target, &perr);
  if (!opts) {
    /* libpq's reason may quote the URL, password included: not repeated. */
    PQfreemem(perr);
    return lisec_err_set(err, LISEC_EINVAL,
                         "postgresql: the store URL is not a valid libpq connection URI");
  }
  PQconninfoFree(opts);
  pg_be *b = calloc(1, sizeof *b);
  if (!b) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  *out = b;
  if (!(b->canceller = pg_canceller_new())) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!(b->target = strdup(target))) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = pg_connect(b, err);
  if (rc) return rc;
  if (PQstatus(b->conn) != CONNECTION_OK) {
    char why[768];
    return lisec_err_set(err, LISEC_EUNAVAIL, "postgresql: cannot connect: %s",
                         store_pg_reason(PQerrorMessage(b->conn), why, sizeof why));
  }
  return pg_session_setup(b, err);
}

static void pg_close(void *be) {
  pg_be *b = be;
  PQfinish(b->conn);
  pg_canceller_put(b->canceller);
  free(b->target);
  free(b);
}

/* Runs sql without parameters and wants a command or rows back; sent again
 * once on a new connection when repeat is set and the connection broke. */
static int pg_run(pg_be *b, const char *sql, bool repeat, lisec_err *err) {
  int rc = pg_ready(b, err);
  if (rc) return rc;
  PGresult *res = pg_exec_sql(b, sql);
  if (repeat && pg_again(b, res)) {
    if ((rc = pg_ready(b, err))) return rc;
    res = pg_exec_sql(b, sql);
  }
  if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
    return pg_fail(b, res, "exec", err);
  PQclear(res);
  return 0;
}

static int pg_exec(void *be, const char *sql, lisec_err *err) { return pg_run(be, sql, false, err); }

/* A BEGIN that met a broken connection did nothing on the server: it is
 * the one statement of a transaction that may be sent again. */
static int pg_begin(void *be, lisec_err *err) {
  pg_be *b = be;
  int rc = pg_run(b, "BEGIN", true, err);
  if (rc == 0) b->in_tx = true;
  return rc;
}

/* The fence's begin in one round trip. Each statement of a multi-statement
 * query takes its own snapshot, so the epoch is read after the shared lock
 * is granted: a bump that committed while this waited is seen. Like BEGIN,
 * it is sent again once on a new connection when the old one broke. */
static int pg_begin_fenced(void *be, int64_t *epoch, lisec_err *err) {
  pg_be *b = be;
  static const char sql[] = "BEGIN; SELECT pg_advisory_xact_lock_shared(" STORE_FENCE_KEY "); "
                            "SELECT epoch FROM leader_epoch WHERE id = 1";
  int rc = pg_ready(b, err);
  if (rc) return rc;
  PGresult *res = pg_exec_sql(b, sql);
  if (pg_again(b, res)) {
    if ((rc = pg_ready(b, err))) return rc;
    res = pg_exec_sql(b, sql);
  }
  if (PQtransactionStatus(b->conn) == PQTRANS_INTRANS || PQtransactionStatus(b->conn) == PQTRANS_INERROR)
    b->in_tx = true;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, "begin (fenced)", err);
  if (PQntuples(res) != 1 || !pg_int(PQgetvalue(res, 0, 0), epoch))
    rc = lisec_err_set(err, LISEC_ESTORE, "postgresql: no leader epoch in the store");
  PQclear(res);
  return rc;
}

static int pg_commit(void *be, lisec_err *err) {
  pg_be *b = be;
  int rc = pg_ready(b, err);
  b->in_tx = false;
  if (rc) return rc;
  b->warned = false;
  PGresult *res = pg_exec_sql(b, "COMMIT");
  if (PQresultStatus(res) != PGRES_COMMAND_OK) return pg_fail(b, res, "commit", err);
  /* COMMIT of a transaction the server aborted answers "ROLLBACK". */
  rc = strcmp(PQcmdStatus(res), "COMMIT") == 0
           ? 0
           : lisec_err_set(err, LISEC_ESTORE,
                           "postgresql: the server rolled the transaction back; nothing written");
  /* A COMMIT whose wait for synchronous replication was cancelled (a
   * pg_cancel_backend, or pg_send past [store] timeout_ms) answers "COMMIT" with a WARNING: committed on this
   * server, perhaps not on the standby a failover would promote. It is
   * not acknowledged: reported as a commit whose answer was lost (in
   * doubt), which the callers already handle (the audit appender finds it
   * on reopen, the model is loaded again). Any WARNING at COMMIT is taken
   * so: none is expected there otherwise. */
  if (rc == 0 && b->warned && b->timed_out)
    rc = lisec_err_set(err, LISEC_EUNAVAIL,
                       "postgresql: the commit was not confirmed within %s = %lld ms and was "
                       "cancelled (%s): it may be on this server only, not on its synchronous standby, so it is "
                       "not acknowledged (TR103308-5.5)",
                       pg_bound_setting(b), (long long)pg_bound(b), b->warning);
  else if (rc == 0 && b->warned)
    rc = lisec_err_set(err, LISEC_EUNAVAIL,
                       "postgresql: the commit was answered with a warning (%s): it may be on this server only, "
                       "not on its synchronous standby, so it is not acknowledged (TR103308-5.5)",
                       b->warning);
  PQclear(res);
  return rc;
}

static int pg_rollback(void *be) {
  pg_be *b = be;
  b->in_tx = false;
  if (PQstatus(b->conn) != CONNECTION_OK) return LISEC_EUNAVAIL;
  PGresult *res = pg_exec_sql(b, "ROLLBACK");
  int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : LISEC_ESTORE;
  PQclear(res);
  return rc;
}

static int pg_query_int(void *be, const char *sql, int64_t *out, lisec_err *err) {
  pg_be *b = be;
  int rc = pg_ready(b, err);
  if (rc) return rc;
  PGresult *res = pg_exec_sql(b, sql);
  if (pg_again(b, res)) { /* a read: repeated once */
    if ((rc = pg_ready(b, err))) return rc;
    res = pg_exec_sql(b, sql);
  }
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, "query", err);
  if (PQntuples(res) < 1) rc = lisec_err_set(err, LISEC_ENOTFOUND, "postgresql: no row");
  else if (!pg_int(PQgetvalue(res, 0, 0), out))
    rc = lisec_err_set(err, LISEC_ESTORE, "postgresql: not a number in an answer");
  PQclear(res);
  return rc;
}

static int pg_ping(void *be, lisec_err *err) {
  int64_t one = 0;
  return pg_query_int(be, "SELECT 1", &one, err); /* reconnects once when lost */
}

/* A parameterised query with text parameters; NULL (after filling err) when
 * the connection is lost and cannot be re-established, or the statement
 * was not sent. A read (read set)
 * that met a broken connection is sent again once on a new one. */
static PGresult *pg_params_x(pg_be *b, const char *sql, int n, const char *const *values,
                             bool read, lisec_err *err) {
  if (pg_ready(b, err)) return NULL;
  PGresult *res = pg_send(b, sql, n, values, NULL, NULL, 0);
  if (read && pg_again(b, res)) {
    if (pg_ready(b, err)) return NULL;
    res = pg_send(b, sql, n, values, NULL, NULL, 0);
  }
  if (!res) pg_fail(b, NULL, "send", err); /* not sent (whole, in time): err says why */
  return res;
}

static PGresult *pg_params(pg_be *b, const char *sql, int n, const char *const *values,
                           lisec_err *err) {
  return pg_params_x(b, sql, n, values, false, err);
}

static PGresult *pg_read(pg_be *b, const char *sql, int n, const char *const *values,
                         lisec_err *err) {
  return pg_params_x(b, sql, n, values, true, err);
}

/* The stored version of a document, 0 when absent. */
static int pg_doc_version(pg_be *b, const char *kind, const char *id, int64_t *v,
                          lisec_err *err) {
  const char *key[2] = {kind, id};
  PGresult *res = pg_read(b, "SELECT version FROM documents WHERE kind = $1 AND id = $2", 2,
                            key, err);
  if (!res) return LISEC_EUNAVAIL;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, "read version", err);
  int rc = 0;
  *v = 0;
  if (PQntuples(res) == 1 && !pg_int(PQgetvalue(res, 0, 0), v))
    rc = lisec_err_set(err, LISEC_ESTORE, "postgresql: bad version in %s %s", kind, id);
  PQclear(res);
  return rc;
}

static int pg_doc_put(void *be, const char *kind, const char *id, const char *body,
                      int64_t expected, int64_t *new_version, lisec_err *err) {
  pg_be *b = be;
  /* The version check is part of each statement, so concurrent writers on
   * other connections cannot slip between a check and a write. */
  const char *sql =
      expected == 0
          ? "INSERT INTO documents (kind, id, body, version, updated_at) "
            "VALUES ($1, $2, $3, 1, $4) ON CONFLICT (kind, id) DO NOTHING RETURNING version"
      : expected > 0
          ? "UPDATE documents SET body = $3, version = version + 1, updated_at = $4 "
            "WHERE kind = $1 AND id = $2 AND version = $5 RETURNING version"
          : "INSERT INTO documents (kind, id, body, version, updated_at) "
            "VALUES ($1, $2, $3, 1, $4) ON CONFLICT (kind, id) DO UPDATE SET "
            "body = EXCLUDED.body, version = documents.version + 1, "
            "updated_at = EXCLUDED.updated_at RETURNING version";
  char now[32], exp[32];
  snprintf(now, sizeof now, "%lld", (long long)lisec_time_now_ms());
  snprintf(exp, sizeof exp, "%lld", (long long)expected);
  const char *vals[5] = {kind, id, body, now, exp};
  PGresult *res = pg_params(b, sql, expected > 0 ? 5 : 4, vals, err);
  if (!res) return LISEC_EUNAVAIL;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, "write document", err);
  int rc = 0;
  bool wrote = PQntuples(res) == 1;
  if (wrote && !pg_int(PQgetvalue(res, 0, 0), new_version))
    rc = lisec_err_set(err, LISEC_ESTORE, "postgresql: bad version in %s %s", kind, id);
  PQclear(res);
  if (rc || wrote) return rc;
  int64_t cur = 0;
  if ((rc = pg_doc_version(b, kind, id, &cur, err))) return rc;
  return store_doc_conflict(err, kind, id, expected, cur);
}

static int pg_doc_get(void *be, const char *kind, const char *id, char **body, int64_t *version,
                      lisec_err *err) {
  pg_be *b = be;
  const char *key[2] = {kind, id};
  PGresult *res = pg_read(b, "SELECT body, version FROM documents WHERE kind = $1 AND id = $2",
                            2, key, err);
  if (!res) return LISEC_EUNAVAIL;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, "read document", err);
  int rc = 0;
  if (PQntuples(res) == 0) {
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "store: %s %s does not exist", kind, id);
  } else if (!pg_int(PQgetvalue(res, 0, 1), version)) {
    rc = lisec_err_set(err, LISEC_ESTORE, "postgresql: bad version in %s %s", kind, id);
  } else if (!(*body = strdup(PQgetvalue(res, 0, 0)))) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  PQclear(res);
  return rc;
}

static int pg_doc_delete(void *be, const char *kind, const char *id, lisec_err *err) {
  pg_be *b = be;
  const char *key[2] = {kind, id};
  PGresult *res = pg_params(b, "DELETE FROM documents WHERE kind = $1 AND id = $2", 2, key, err);
  if (!res) return LISEC_EUNAVAIL;
  if (PQresultStatus(res) != PGRES_COMMAND_OK) return pg_fail(b, res, "delete document", err);
  int rc = strcmp(PQcmdTuples(res), "0") == 0
               ? lisec_err_set(err, LISEC_ENOTFOUND, "store: %s %s does not exist", kind, id)
               : 0;
  PQclear(res);
  return rc;
}

/* Pages through a kind by id in byte order ("C" collation, as SQLite's
 * BINARY), each page starting after the last id seen. */
static int pg_doc_list(void *be, const char *kind, store_doc_cb cb, void *ctx, lisec_err *err) {
  pg_be *b = be;
  char *after = strdup("");
  if (!after) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = 0, rows = PG_PAGE;
  while (rc == 0 && rows == PG_PAGE) {
    const char *vals[2] = {kind, after};
    PGresult *res = pg_read(b,
                              "SELECT id, body, version FROM documents WHERE kind = $1 "
                              "AND id COLLATE \"C\" > $2 ORDER BY id COLLATE \"C\" "
                              "LIMIT " PG_PAGE_TEXT,
                              2, vals, err);
    if (!res) {
      rc = LISEC_EUNAVAIL;
      break;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      rc = pg_fail(b, res, "list documents", err);
      break;
    }
    rows = PQntuples(res);
    for (int i = 0; rc == 0 && i < rows; i++) {
      int64_t v = 0;
      if (!pg_int(PQgetvalue(res, i, 2), &v))
        rc = lisec_err_set(err, LISEC_ESTORE, "postgresql: bad version in %s", kind);
      else
        rc = cb(ctx, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), v);
    }
    if (rc == 0 && rows > 0) {
      free(after);
      after = strdup(PQgetvalue(res, rows - 1, 0));
      if (!after) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    }
    PQclear(res);
  }
  free(after);
  return rc;
}

static int pg_log_insert(void *be, const store_log_entry *e, lisec_err *err) {
  pg_be *b = be;
  int rc = pg_ready(b, err);
  if (rc) return rc;
  char idx[32], t[32], sealed[4];
  snprintf(idx, sizeof idx, "%llu", (unsigned long long)e->index);
  snprintf(t, sizeof t, "%lld", (long long)e->time_ms);
  snprintf(sealed, sizeof sealed, "%d", e->sealed);
  const char *vals[5] = {idx, t, sealed, (const char *)e->data, (const char *)e->leaf_hash};
  int lens[5] = {0, 0, 0, (int)e->len, 32};
  int fmts[5] = {0, 0, 0, 1, 1}; /* data and leaf hash as raw bytea */
  PGresult *res = pg_send(b,
                          "INSERT INTO audit_log (idx, time_ms, sealed, data, leaf_hash) "
                          "VALUES ($1, $2, $3, $4, $5)",
                          5, vals, lens, fmts, 0);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) return pg_fail(b, res, "append log", err);
  PQclear(res);
  return 0;
}

/* Decodes one binary row (int8, int8, int4, bytea, bytea) of the log. */
static int pg_log_row(const PGresult *res, int i, store_log_entry *e, lisec_err *err) {
  if (PQgetlength(res, i, 0) != 8 || PQgetlength(res, i, 1) != 8 || PQgetlength(res, i, 2) != 4 ||
      PQgetlength(res, i, 3) < 1 || PQgetlength(res, i, 4) != 32)
    return lisec_err_set(err, LISEC_ESTORE, "postgresql: audit log row is malformed");
  const unsigned char *v[5];
  for (int c = 0; c < 5; c++) v[c] = (const unsigned char *)PQgetvalue(res, i, c);
  e->index = be_read(v[0], 8);
  e->time_ms = (int64_t)be_read(v[1], 8);
  e->sealed = (int)(int32_t)be_read(v[2], 4);
  e->data = v[3];
  e->len = (size_t)PQgetlength(res, i, 3);
  memcpy(e->leaf_hash, v[4], 32);
  return 0;
}

static int pg_log_range(void *be, uint64_t from, uint64_t to, store_log_cb cb, void *ctx,
                        lisec_err *err) {
  pg_be *b = be;
  int rc = 0, rows = PG_PAGE;
  while (rc == 0 && rows == PG_PAGE && from < to) {
    if ((rc = pg_ready(b, err))) break;
    char f[32], t[32];
    snprintf(f, sizeof f, "%llu", (unsigned long long)from);
    snprintf(t, sizeof t, "%llu", (unsigned long long)to);
    const char *vals[2] = {f, t};
    static const char sql[] = "SELECT idx, time_ms, sealed, data, leaf_hash FROM audit_log "
                              "WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT " PG_PAGE_TEXT;
    PGresult *res = pg_send(b, sql, 2, vals, NULL, NULL, 1);
    if (pg_again(b, res)) { /* a read: repeated once */
      if ((rc = pg_ready(b, err))) break;
      res = pg_send(b, sql, 2, vals, NULL, NULL, 1);
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      rc = pg_fail(b, res, "read log", err);
      break;
    }
    rows = PQntuples(res);
    for (int i = 0; rc == 0 && i < rows; i++) {
      store_log_entry e = {0};
      if ((rc = pg_log_row(res, i, &e, err)) == 0) rc = cb(ctx, &e);
      from = e.index + 1;
    }
    PQclear(res);
  }
  return rc;
}

static int pg_checkpoint_put(void *be, uint64_t size, const char *note, lisec_err *err) {
  pg_be *b = be;
  char sz[32], now[32];
  snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
  snprintf(now, sizeof now, "%lld", (long long)lisec_time_now_ms());
  const char *vals[3] = {sz, note, now};
  PGresult *res = pg_params(b,
                            "INSERT INTO checkpoints (tree_size, note, created_at) "
                            "VALUES ($1, $2, $3) ON CONFLICT (tree_size) DO NOTHING "
                            "RETURNING tree_size",
                            3, vals, err);
  if (!res) return LISEC_EUNAVAIL;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, "write checkpoint", err);
  bool wrote = PQntuples(res) == 1;
  PQclear(res);
  if (wrote) return 0;
  res = pg_read(b, "SELECT note FROM checkpoints WHERE tree_size = $1", 1, vals, err);
  if (!res) return LISEC_EUNAVAIL;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, "read checkpoint", err);
  int rc = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), note) == 0
               ? 0 /* the same note again: nothing to do */
               : lisec_err_set(err, LISEC_ECONFLICT,
                               "store: a different checkpoint for tree size %llu exists already",
                               (unsigned long long)size);
  PQclear(res);
  return rc;
}

static int pg_checkpoint_latest(void *be, uint64_t *size, char **note, lisec_err *err) {
  pg_be *b = be;
  PGresult *res = pg_read(
      b, "SELECT tree_size, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1", 0, NULL, err);
  if (!res) return LISEC_EUNAVAIL;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, "read checkpoint", err);
  int rc = 0;
  int64_t v = 0;
  if (PQntuples(res) == 0) {
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "store: no checkpoint yet");
  } else if (!pg_int(PQgetvalue(res, 0, 0), &v) || v < 0) {
    rc = lisec_err_set(err, LISEC_ESTORE, "postgresql: bad checkpoint tree size");
  } else if (!(*note = strdup(PQgetvalue(res, 0, 1)))) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else {
    *size = (uint64_t)v;
  }
  PQclear(res);
  return rc;
}

static int pg_checkpoint_list(void *be, uint64_t from, store_checkpoint_cb cb, void *ctx, lisec_err *err) {
  pg_be *b = be;
  int rc = 0, rows = PG_PAGE;
  int64_t after = from > INT64_MAX ? INT64_MAX - 1 : (int64_t)from - 1;
  while (rc == 0 && rows == PG_PAGE) {
    char a[32];
    snprintf(a, sizeof a, "%lld", (long long)after);
    const char *vals[1] = {a};
    PGresult *res = pg_read(b,
                              "SELECT tree_size, note FROM checkpoints WHERE tree_size > $1 "
                              "ORDER BY tree_size LIMIT " PG_PAGE_TEXT,
                              1, vals, err);
    if (!res) return LISEC_EUNAVAIL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_fail(b, res, "list checkpoints", err);
    rows = PQntuples(res);
    for (int i = 0; rc == 0 && i < rows; i++) {
      if (!pg_int(PQgetvalue(res, i, 0), &after) || after < 0)
        rc = lisec_err_set(err, LISEC_ESTORE, "postgresql: bad checkpoint tree size");
      else
        rc = cb(ctx, (uint64_t)after, PQgetvalue(res, i, 1));
    }
    PQclear(res);
  }
  return rc;
}

const store_ops store_postgres_ops = {
    .name = "postgresql",
    .dialect = STORE_DIALECT_POSTGRES,
    .open = pg_open,
    .close = pg_close,
    .begin = pg_begin,
    .begin_fenced = pg_begin_fenced,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .ping = pg_ping,
    .exec = pg_exec,
    .query_int = pg_query_int,
    .doc_put = pg_doc_put,
    .doc_get = pg_doc_get,
    .doc_delete = pg_doc_delete,
    .doc_list = pg_doc_list,
    .log_insert = pg_log_insert,
    .log_range = pg_log_range,
    .checkpoint_put = pg_checkpoint_put,
    .checkpoint_latest = pg_checkpoint_latest,
    .checkpoint_list = pg_checkpoint_list,
    .bound = pg_bound_set,
};
