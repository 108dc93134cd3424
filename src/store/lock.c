/* One writer per database (issue 17): the lock a lisecd holds for as long
 * as it writes a store, and what it writes there so another lisecd that
 * finds the lock taken can name the holder. On SQLite it is an exclusive
 * flock(2) on "<database>.lock" holding the pid, host name and node name of
 * the holder (a second lisecd on the same file refuses to start). On
 * PostgreSQL it is a session-level advisory lock on one fixed key, taken on
 * a connection of its own that does nothing else; whoever takes it bumps
 * the leader_epoch row (migration 4) in the same step and writes its name
 * and advertised URL there. The epoch is the fence: every transaction of a
 * process that set store_fence_set holds a second advisory lock shared and
 * checks that the stored epoch is still its own (store.c); the bump takes
 * that lock exclusive, so a holder that lost its lock cannot commit once
 * another took over, nor while it takes over. Every wait on the lock's
 * connection is bounded, and ends at once when the process is asked to
 * stop (store_lock_interrupt, store_lock_stop_fd), a new connection too.
 * Nothing here logs: the caller (ctl/ha.c) says what happened. */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <unistd.h>

#include "store/store_impl.h"

/* An arbitrary constant naming "the lisec writer" among advisory locks
 * (the schema migrations' is 7151300020260001). */
#define LOCK_KEY "7151300020260017"
#define HOLDER_FILE_MAX 1024

struct store_lock {
  int fd;          /* SQLite: the lock file; -1 otherwise */
  bool memory;     /* sqlite::memory: nobody else can open it */
  PGconn *conn;    /* PostgreSQL: the lock's own connection */
  bool held;
  int64_t epoch;   /* the epoch this holder set (PostgreSQL) */
  int64_t timeout_ms;
  int64_t lease_ms; /* PostgreSQL: idle_session_timeout of the lock's session; 0 none */
  bool stalled;     /* the last statement got no answer in time: the connection was given up */
  int held_pid;     /* the backend of the session that took the lock (0: none yet) */
  bool stuck;       /* the last regain found the lock held by that session still */
  /* The process is stopping: stop[0] (an eventfd, store_lock_interrupt) or
   * stop[1] (the caller's, store_lock_stop_fd) readable. Every wait on the
   * lock's connection ends then, and once one did (stopping) nothing more
   * is sent on it. */
  int stop[STORE_PG_STOPS];
  bool stopping;
  char *url; /* PostgreSQL: to connect again */
  char node[STORE_NODE_MAX + 1];
  char advertise[STORE_ADVERTISE_MAX + 1];
  char host[STORE_HOST_MAX + 1];
};

/* Printable ASCII only, bounded: holder fields are read from a file or a
 * row another process wrote and end up in log lines and replies. */
static void copy_clean(char *dst, size_t size, const char *src, size_t n) {
  size_t j = 0;
  for (size_t i = 0; i < n && src[i] && j + 1 < size; i++)
    dst[j++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
  dst[j] = 0;
}

static void holder_line(store_holder *h, const char *key, const char *val, size_t n) {
  char num[24];
  if (!strcmp(key, "node")) copy_clean(h->node, sizeof h->node, val, n);
  else if (!strcmp(key, "host")) copy_clean(h->host, sizeof h->host, val, n);
  else if (!strcmp(key, "advertise")) copy_clean(h->advertise, sizeof h->advertise, val, n);
  else if (!strcmp(key, "pid") || !strcmp(key, "since_ms")) {
    copy_clean(num, sizeof num, val, n);
    long long v = strtoll(num, NULL, 10);
    if (!strcmp(key, "pid")) h->pid = v;
    else h->since_ms = v;
  }
}

/* "key=value" lines, as lock_write puts them; unknown keys are ignored. */
static void holder_parse(store_holder *h, const char *text, size_t len) {
  size_t i = 0;
  while (i < len) {
    size_t end = i;
    while (end < len && text[end] != '\n') end++;
    const char *eq = memchr(text + i, '=', end - i);
    if (eq) {
      char key[16];
      size_t kn = (size_t)(eq - (text + i));
      if (kn < sizeof key) {
        memcpy(key, text + i, kn);
        key[kn] = 0;
        holder_line(h, key, eq + 1, end - (size_t)(eq + 1 - text));
        h->known = true;
      }
    }
    i = end + 1;
  }
}

int store_holder_describe(const store_holder *h, char *buf, size_t size) {
  if (!h->known) return snprintf(buf, size, "an unknown process");
  return snprintf(buf, size, "node \"%s\" (pid %lld on host \"%s\"%s%s)", h->node[0] ? h->node : "?",
                  h->pid, h->host[0] ? h->host : "?", h->advertise[0] ? ", advertised at " : "",
                  h->advertise);
}

/* ---- SQLite: flock on <database>.lock -------------------------------------- */

static int file_open(store_lock *l, const char *path, lisec_err *err) {
  char lock_path[4096];
  if (snprintf(lock_path, sizeof lock_path, "%s.lock", path) >= (int)sizeof lock_path)
    return lisec_err_set(err, LISEC_EINVAL, "store: the database path is too long for its lock file");
  l->fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (l->fd < 0)
    return lisec_err_set(err, LISEC_EUNAVAIL, "store: cannot open the lock file %s: %s", lock_path,
                         strerror(errno));
  return 0;
}

static int file_try(store_lock *l, bool *held, store_holder *holder, lisec_err *err) {
  if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK)
      return lisec_err_set(err, LISEC_EUNAVAIL, "store: flock on the lock file: %s", strerror(errno));
    char text[HOLDER_FILE_MAX];
    ssize_t n = pread(l->fd, text, sizeof text, 0);
    if (n > 0) holder_parse(holder, text, (size_t)n);
    *held = false;
    return 0;
  }
  char text[HOLDER_FILE_MAX];
  int n = snprintf(text, sizeof text, "pid=%lld\nhost=%s\nnode=%s\nadvertise=%s\nsince_ms=%lld\n",
                   (long long)getpid(), l->host, l->node, l->advertise, (long long)lisec_time_now_ms());
  if (n < 0 || n >= (int)sizeof text) n = (int)sizeof text - 1;
  if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, text, (size_t)n, 0) != n) {
    int e = errno;
    flock(l->fd, LOCK_UN);
    return lisec_err_set(err, LISEC_EUNAVAIL, "store: cannot write the lock file: %s", strerror(e));
  }
  *held = true;
  return 0;
}

/* ---- PostgreSQL: an advisory lock on a connection of its own -------------- */

/* How much longer than timeout_ms (the lock session's own lock_timeout and
 * statement_timeout, which answer first while its backend runs) a
 * statement on the lock's connection is waited for. */
#define LOCK_GRACE_MS 2000

/* PQexec (n = 0) or PQexecParams with text parameters on the lock's
 * connection, sent and answered within timeout_ms + LOCK_GRACE_MS by the
 * monotonic clock. The server's timeouts do not reach a backend that does
 * not run (SIGSTOPped, hung) and its host's kernel still answers TCP, so
 * without this the watch would wait for good: a leader could then neither
 * take its lock back nor stop (its watch is joined at stop). Past the
 * bound the connection is given up (l->stalled): a new one is made at the
 * next try, and the backend, when it runs again, finds its client gone and
 * ends, its locks with it. */
static PGresult *lock_exec(store_lock *l, const char *sql, int n, const char *const *vals) {
  int64_t limit = lisec_time_mono_ms() + l->timeout_ms + LOCK_GRACE_MS;
  l->stalled = false;
  if (l->stopping || PQsetnonblocking(l->conn, 1) != 0) return NULL;
  int sent = n ? PQsendQueryParams(l->conn, sql, n, NULL, vals, NULL, NULL, 0) : PQsendQuery(l->conn, sql);
  bool whole = sent && store_pg_flush_by(l->conn, limit, l->stop);
  if (sent && !whole) {
    l->stalled = true;
    l->stopping = store_pg_stopping(l->stop);
    store_pg_give_up(l->conn);
  }
  PQsetnonblocking(l->conn, 0);
  PGresult *last = NULL;
  while (whole) {
    if (!store_pg_result_by(l->conn, limit, l->stop)) {
      if (l->stalled) break; /* not reached: a shut-down socket reads as closed */
      l->stalled = true;
      l->stopping = store_pg_stopping(l->stop);
      store_pg_give_up(l->conn);
      continue;
    }
    PGresult *r = PQgetResult(l->conn); /* does not block now */
    if (!r) break;
    PQclear(last);
    last = r;
  }
  return last;
}

static int pg_lock_fail(store_lock *l, PGresult *res, const char *what, lisec_err *err) {
  const char *msg = res ? PQresultErrorMessage(res) : "";
  if (!msg || !*msg) msg = PQerrorMessage(l->conn);
  int code = PQstatus(l->conn) == CONNECTION_OK && !l->stalled && !l->stopping ? LISEC_ESTORE : LISEC_EUNAVAIL;
  if (l->stopping)
    lisec_err_set(err, code, "postgresql (the writer lock's connection): %s: not waited for, this lisecd is stopping",
                  what);
  else if (l->stalled)
    lisec_err_set(err, code,
                  "postgresql (the writer lock's connection): %s: no answer within [ha] lock_timeout_ms = %lld ms "
                  "and %d ms more (its backend stopped or hung, or the server cut off), so the connection was "
                  "given up",
                  what, (long long)l->timeout_ms, LOCK_GRACE_MS);
  else
    lisec_err_set(err, code, "postgresql (the writer lock's connection): %s: %.*s", what, (int)strcspn(msg, "\n"),
                  msg);
  PQclear(res);
  return code;
}

/* Makes the lock's connection, the first or a new one (then the old one,
 * lost, is closed once the new one is made). It is made on a thread of its
 * own (store_pg_connect), so a stop does not wait for libpq's connect, up
 * to connect_timeout for each host of the URL (a server that accepts and
 * never answers: a stopped postmaster). */
static int pg_lock_connect(store_lock *l, lisec_err *err) {
  const char *url = l->url;
  char app[96], opts[1024], tcp_timeout[24];
  /* application_name names the node in pg_stat_activity: an operator (or
   * a test) finds the lock's session there. */
  snprintf(app, sizeof app, "lisec-lock:%s", l->node);
  /* The server's side of the session gets keepalives and a TCP user
   * timeout too (the tcp_* settings apply to the session's own socket):
   * the advisory lock lives as long as the server's backend does, and a
   * holder whose host lost power or its network sends no FIN or RST, so
   * without them the server would keep its session, and the lock, for the
   * kernel's default of over two hours, and no standby could take over.
   * With them the server ends a silent session within about twice
   * lock_timeout_ms. A live holder's kernel answers the probes however busy
   * the process is. */
  long long idle_s = l->timeout_ms / 1000 > 1 ? l->timeout_ms / 1000 : 1;
  long long every_s = l->timeout_ms / 2000 > 1 ? l->timeout_ms / 2000 : 1;
  /* These settings come after the URL's own options (a search_path, say),
   * which are kept: an options= in the URL must not drop them, so they are
   * given after dbname, with the URL's options first (the last -c of a
   * setting wins). */
  const char *url_opts = "";
  PQconninfoOption *parsed = PQconninfoParse(url, NULL);
  for (PQconninfoOption *o = parsed; o && o->keyword; o++)
    if (!strcmp(o->keyword, "options") && o->val) url_opts = o->val;
  int n = snprintf(opts, sizeof opts,
                   "%s%s-c lock_timeout=%lld -c statement_timeout=%lld -c tcp_keepalives_idle=%lld "
                   "-c tcp_keepalives_interval=%lld -c tcp_keepalives_count=2 -c tcp_user_timeout=%lld",
                   url_opts, url_opts[0] ? " " : "", (long long)l->timeout_ms, (long long)l->timeout_ms, idle_s,
                   every_s, (long long)l->timeout_ms);
  PQconninfoFree(parsed);
  if (n < 0 || n >= (int)sizeof opts)
    return lisec_err_set(err, LISEC_EINVAL, "store: the URL's options are too long for the writer lock's session");
  snprintf(tcp_timeout, sizeof tcp_timeout, "%lld", (long long)l->timeout_ms);
  /* Keepalives and a TCP user timeout: a server that is cut off is found
   * within the timeout, not after the kernel's minutes of retransmission. */
  const char *const keys[] = {"connect_timeout", "client_encoding", "keepalives",
                              "keepalives_idle", "keepalives_interval", "keepalives_count",
                              "tcp_user_timeout", "dbname", "options", "application_name", NULL};
  const char *const vals[] = {"10", "UTF8", "1", "5", "2", "2", tcp_timeout, url, opts, app, NULL};
  /* expand_dbname: the URL's own settings apply; application_name after
   * it overrides the URL's, so the lock's session is always recognisable. */
  bool stopped = false;
  PGconn *c = l->stopping ? NULL : store_pg_connect(keys, vals, l->stop, &stopped);
  if (l->stopping || stopped) {
    l->stopping = true;
    return lisec_err_set(err, LISEC_EUNAVAIL, "postgresql: the writer lock's connection: not made, this lisecd is "
                                              "stopping");
  }
  if (!c) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    char why[768];
    int rc = lisec_err_set(err, LISEC_EUNAVAIL, "postgresql: cannot %s (the writer lock): %s",
                           l->conn ? "reconnect" : "connect", store_pg_reason(PQerrorMessage(c), why, sizeof why));
    if (l->conn) PQfinish(c); /* the lost one stays, to be made again at the next try */
    else l->conn = c;
    return rc;
  }
  if (l->conn) PQfinish(l->conn);
  l->conn = c;
  return 0;
}

static int pg_read_holder(store_lock *l, store_holder *h, lisec_err *err) {
  PGresult *res = lock_exec(l, "SELECT epoch, node, host, pid, advertise, since_ms FROM leader_epoch WHERE id = 1", 0,
                            NULL);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) return pg_lock_fail(l, res, "read the holder", err);
  if (PQntuples(res) == 1) {
    h->epoch = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    copy_clean(h->node, sizeof h->node, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
    copy_clean(h->host, sizeof h->host, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
    h->pid = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    copy_clean(h->advertise, sizeof h->advertise, PQgetvalue(res, 0, 4), (size_t)PQgetlength(res, 0, 4));
    h->since_ms = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    h->known = h->epoch > 0;
  }
  PQclear(res);
  return 0;
}

/* The sessions of the previous holder's process end before the epoch is
 * bumped: a holder that lost its lock but still runs (paused, cut off)
 * could otherwise hold the fence's lock shared in a transaction that
 * never ends, and keep the bump waiting. Its transactions were never
 * acknowledged; ending them rolls them back. Only sessions named after
 * that node's writer (store_session_name_set) are ended; a role without
 * the right to end them leaves the bump to wait (lock_timeout). */
static void pg_end_previous(store_lock *l) {
  store_holder h = {0};
  lisec_err ignored = {0};
  if (pg_read_holder(l, &h, &ignored) != 0 || !h.node[0]) return;
  char name[STORE_NODE_MAX + 8];
  snprintf(name, sizeof name, "lisec:%s", h.node);
  const char *vals[1] = {name};
  PQclear(lock_exec(l,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 "
                    "AND pid <> pg_backend_pid() AND datname = current_database()",
                    1, vals));
}

/* The lease: the server ends the lock's session, and the lock with it,
 * once it has been idle for lease_ms, so a holder whose watch stops asking
 * (a paused process, a frozen VM, a debugger) loses the lock although its
 * kernel still answers the keepalives. A SET, so it is made again on every
 * new connection. */
static int pg_lease_apply(store_lock *l, lisec_err *err) {
  if (l->lease_ms <= 0) return 0;
  char sql[64];
  snprintf(sql, sizeof sql, "SET idle_session_timeout = %lld", (long long)l->lease_ms);
  PGresult *res = lock_exec(l, sql, 0, NULL);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    return pg_lock_fail(l, res, "set the lease (idle_session_timeout needs PostgreSQL 14 or later)", err);
  PQclear(res);
  return 0;
}

/* One pg_try_advisory_lock on the lock's own session, after a new
 * connection when reconnect is set; *got says whether it is held now. */
static int pg_try_lock_now(store_lock *l, bool reconnect, bool *got, const char *what, lisec_err *err) {
  if (reconnect) {
    int rc = pg_lock_connect(l, err);
    if (rc) return rc;
    rc = pg_lease_apply(l, err);
    if (rc) return rc;
  }
  PGresult *res = lock_exec(l, "SELECT pg_try_advisory_lock(" LOCK_KEY ")", 0, NULL);
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) return pg_lock_fail(l, res, what, err);
  *got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  PQclear(res);
  return 0;
}

/* After a bump that waited for the fence in vain: which sessions hold the
 * fence's lock, by backend pid and the node their application_name names
 * ("lisec:<node>"), into buf; false when none is found (it ended since).
 * Their holder was asked to end them (pg_end_previous); one that still
 * holds the fence is stopped or hung (a SIGSTOPped backend handles the
 * termination only once it runs again), and no epoch can be bumped beside
 * it without letting its transaction commit under the old epoch. */
static bool pg_fence_holders(store_lock *l, char *buf, size_t size) {
  PGresult *res = lock_exec(l,
                            "SELECT l.pid, COALESCE(a.application_name, '') FROM pg_locks l LEFT JOIN "
                            "pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                            "AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = " STORE_FENCE_KEY
                            " AND l.pid <> pg_backend_pid() ORDER BY l.pid LIMIT 4",
                            0, NULL);
  size_t used = 0;
  buf[0] = 0;
  int n = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : 0;
  for (int i = 0; i < n && used < size; i++) {
    char app[STORE_NODE_MAX + 16];
    copy_clean(app, sizeof app, PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
    const char *node = strncmp(app, "lisec:", 6) == 0 ? app + 6 : NULL;
    int w = snprintf(buf + used, size - used, "%sbackend pid %s (%s%s%s)", i ? ", " : "", PQgetvalue(res, i, 0),
                     node ? "node \"" : "session \"", node ? node : app, "\"");
    used += w > 0 ? (size_t)w : 0;
  }
  PQclear(res);
  return n > 0;
}

/* Bumps the epoch and writes this holder in one transaction, the advisory
 * lock held. The bump takes the fence's transaction lock exclusive, so it
 * waits (lock_timeout at most) for every fenced transaction still open to
 * end: none can commit under the old epoch after it. When this process is
 * fenced already (a leader that took its lock back on a promoted standby),
 * its fence moves to the new epoch before COMMIT, while the exclusive lock
 * keeps its own transactions waiting, so none of them finds the new epoch
 * under the old one. A bump that cannot be made (the old holder's last
 * transaction still holds the row) lets the lock go, so the next try
 * starts over. *uncertain is set when COMMIT was sent but its answer not
 * read: the bump may have committed. The new epoch is at least the
 * server's clock in milliseconds, not only the stored one plus one: a row
 * set back by hand (or restored) must not hand a later holder the epoch of
 * an earlier one, whose fence would then pass again if it still runs.
 * ended_previous: a take-over, whose pg_end_previous asked the previous
 * holder's sessions to end; a fence still held then is named (EUNAVAIL:
 * the standby tries again at its next poll). */
static int pg_bump(store_lock *l, bool ended_previous, bool *uncertain, lisec_err *err) {
  *uncertain = false;
  char pid[24], since[24];
  snprintf(pid, sizeof pid, "%lld", (long long)getpid());
  snprintf(since, sizeof since, "%lld", (long long)lisec_time_now_ms());
  const char *vals[5] = {l->node, l->host, pid, l->advertise, since};
  PQclear(lock_exec(l, "BEGIN", 0, NULL));
  PGresult *res = lock_exec(l, "SELECT pg_advisory_xact_lock(" STORE_FENCE_KEY ")", 0, NULL);
  bool locked = PQresultStatus(res) == PGRES_TUPLES_OK;
  if (locked) {
    PQclear(res);
    res = lock_exec(l,
                    "UPDATE leader_epoch SET epoch = GREATEST(epoch + 1, (EXTRACT(EPOCH FROM "
                    "clock_timestamp()) * 1000)::bigint), node = $1, host = $2, pid = $3, "
                    "advertise = $4, since_ms = $5 WHERE id = 1 RETURNING epoch",
                    5, vals);
  }
  if (!locked || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    int rc = pg_lock_fail(l, res, "bump the leader epoch", err);
    PQclear(lock_exec(l, "ROLLBACK", 0, NULL));
    char who[256];
    /* a take-over's fence not granted in time: name who holds it */
    if (ended_previous && !locked && !l->stalled && PQstatus(l->conn) == CONNECTION_OK &&
        pg_fence_holders(l, who, sizeof who))
      rc = lisec_err_set(err, LISEC_EUNAVAIL,
                         "TR103308-5.5: the leader epoch cannot be bumped: the fence is held by %s, whose "
                         "transaction was asked to end and has not (its backend is stopped or hung); no lisecd "
                         "leads until it ends, which it does once it runs again",
                         who);
    PQclear(lock_exec(l, "SELECT pg_advisory_unlock(" LOCK_KEY ")", 0, NULL));
    return rc;
  }
  int64_t epoch = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  store_fence_move(epoch);
  PGresult *done = lock_exec(l, "COMMIT", 0, NULL);
  bool committed = PQresultStatus(done) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(done), "COMMIT") == 0;
  PQclear(done);
  if (!committed) {
    *uncertain = PQstatus(l->conn) != CONNECTION_OK;
    PQclear(lock_exec(l, "SELECT pg_advisory_unlock(" LOCK_KEY ")", 0, NULL));
    return lisec_err_set(err, PQstatus(l->conn) == CONNECTION_OK ? LISEC_ESTORE : LISEC_EUNAVAIL,
                         "postgresql (the writer lock's connection): the epoch bump did not commit");
  }
  l->epoch = epoch;
  return 0;
}

/* Takes the advisory lock if free; when taken, ends the previous holder's
 * sessions and bumps the epoch. */
static int pg_try(store_lock *l, bool *held, store_holder *holder, lisec_err *err) {
  *held = false;
  bool got = false, uncertain = false;
  /* a standby whose connection broke gets a new one (the lock was not held) */
  int rc = pg_try_lock_now(l, PQstatus(l->conn) != CONNECTION_OK, &got, "try the lock", err);
  if (rc) return rc;
  if (!got) return pg_read_holder(l, holder, err);
  pg_end_previous(l);
  rc = pg_bump(l, true, &uncertain, err);
  if (rc) return rc;
  *held = true;
  l->held_pid = PQbackendPID(l->conn);
  return 0;
}

/* ---- the face ------------------------------------------------------------- */

static char session_name[STORE_NODE_MAX + 8] = "lisec";

void store_session_name_set(const char *node) {
  char clean[STORE_NODE_MAX + 1];
  copy_clean(clean, sizeof clean, node ? node : "", STORE_NODE_MAX);
  snprintf(session_name, sizeof session_name, clean[0] ? "lisec:%s" : "lisec", clean);
}

const char *store_session_name(void) { return session_name; }

int store_lock_open(const char *url, const char *node, const char *advertise, int64_t timeout_ms,
                    store_lock **out, lisec_err *err) {
  *out = NULL;
  if (!url) return lisec_err_set(err, LISEC_EINVAL, "store: no URL configured");
  store_lock *l = calloc(1, sizeof *l);
  if (!l) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  l->fd = -1;
  l->stop[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  l->stop[1] = -1;
  l->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
  copy_clean(l->node, sizeof l->node, node ? node : "", STORE_NODE_MAX);
  copy_clean(l->advertise, sizeof l->advertise, advertise ? advertise : "", STORE_ADVERTISE_MAX);
  char host[STORE_HOST_MAX + 1] = "";
  if (gethostname(host, sizeof host) != 0) host[0] = 0;
  host[STORE_HOST_MAX] = 0;
  copy_clean(l->host, sizeof l->host, host, STORE_HOST_MAX);
  int rc = 0;
  if (strncmp(url, "sqlite:", 7) == 0) {
    if (strcmp(url + 7, ":memory:") == 0) l->memory = true;
    else rc = file_open(l, url + 7, err);
  } else {
    /* The schema first (leader_epoch is migration 4): store_open migrates. */
    lisec_store *s = NULL;
    rc = store_open(url, &s, err);
    store_close(s);
    if (rc == 0 && !(l->url = strdup(url))) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    if (rc == 0) rc = pg_lock_connect(l, err);
  }
  if (rc) {
    store_lock_close(l);
    return rc;
  }
  *out = l;
  return 0;
}

int store_lock_try(store_lock *l, bool *held, store_holder *holder, lisec_err *err) {
  memset(holder, 0, sizeof *holder);
  *held = l->held;
  if (l->held) return 0;
  int rc = 0;
  if (l->memory) *held = true;
  else if (l->fd >= 0) rc = file_try(l, held, holder, err);
  else rc = pg_try(l, held, holder, err);
  l->held = rc == 0 && *held;
  return rc;
}

int store_lock_check(store_lock *l, lisec_err *err) {
  if (!l->conn) return 0; /* a flock lasts as long as the process */
  store_holder h = {0};
  int rc = PQstatus(l->conn) == CONNECTION_OK ? pg_read_holder(l, &h, err)
                                               : lisec_err_set(err, LISEC_EUNAVAIL, "the connection is closed");
  if (rc == 0 && PQstatus(l->conn) != CONNECTION_OK)
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "the connection is closed");
  if (rc) {
    l->held = false;
    lisec_err_wrap(err, "the writer lock's connection to PostgreSQL was lost, and the lock with it");
    return LISEC_EUNAVAIL;
  }
  if (h.epoch != l->epoch) {
    char who[STORE_HOLDER_TEXT_MAX];
    store_holder_describe(&h, who, sizeof who);
    l->held = false;
    return lisec_err_set(err, LISEC_ECONFLICT, "the leader epoch is %lld, set by %s, not this holder's %lld",
                         (long long)h.epoch, who, (long long)l->epoch);
  }
  return 0;
}

/* The lock taken by someone while the epoch is still this holder's: the
 * session that took it, given up (its backend stopped or hung, or the
 * server has not yet noticed its client gone), still holds it; or, for a
 * moment, a standby that took it is about to bump. The first ends when the
 * server ends its backend: it is asked to (pg_terminate_backend, by its
 * pid and name, so nobody else's session is ended), which a stopped
 * backend does as soon as it runs again. EUNAVAIL, so the caller tries
 * again within its bound (l->stuck says why). */
static int pg_held_by_own(store_lock *l, lisec_err *err) {
  l->stuck = true;
  char pid[24], name[STORE_NODE_MAX + 16];
  snprintf(pid, sizeof pid, "%d", l->held_pid);
  snprintf(name, sizeof name, "lisec-lock:%s", l->node);
  const char *vals[2] = {pid, name};
  if (l->held_pid && l->held_pid != PQbackendPID(l->conn))
    PQclear(lock_exec(l,
                      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1::int "
                      "AND application_name = $2 AND pid <> pg_backend_pid()",
                      2, vals));
  return lisec_err_set(err, LISEC_EUNAVAIL,
                       "the writer lock is still held by this lisecd's previous lock session (PostgreSQL backend "
                       "pid %d), whose connection was given up: its backend is stopped or hung, or the server has "
                       "not yet found its client gone; it was asked to end, and a stopped backend ends once it "
                       "runs again",
                       l->held_pid);
}

int store_lock_regain(store_lock *l, bool bump, lisec_err *err) {
  if (!l->conn) return 0;
  l->stuck = false;
  bool got = false;
  int rc = pg_try_lock_now(l, true, &got, "try the lock again", err);
  if (rc) return rc;
  store_holder h = {0};
  rc = pg_read_holder(l, &h, err);
  if (rc) return rc;
  char who[STORE_HOLDER_TEXT_MAX];
  store_holder_describe(&h, who, sizeof who);
  /* Taken back with the epoch unchanged: nobody wrote as holder meanwhile. */
  if (got && h.epoch == l->epoch) {
    if (bump) {
      /* No pg_end_previous: the previous holder is this process. */
      bool uncertain = false;
      rc = pg_bump(l, false, &uncertain, err);
      if (rc && uncertain)
        return lisec_err_set(err, LISEC_ECONFLICT,
                             "the epoch bump on the new primary may or may not have committed (its connection "
                             "was lost at COMMIT)");
      if (rc) return rc;
    }
    l->held = true;
    l->held_pid = PQbackendPID(l->conn);
    return 0;
  }
  if (!got && h.epoch == l->epoch) return pg_held_by_own(l, err);
  if (got) PQclear(lock_exec(l, "SELECT pg_advisory_unlock(" LOCK_KEY ")", 0, NULL));
  return lisec_err_set(err, LISEC_ECONFLICT,
                       "another lisecd took the database while this one was cut off: %s (epoch %lld, "
                       "this one's %lld)",
                       who, (long long)h.epoch, (long long)l->epoch);
}

int store_lock_lease(store_lock *l, int64_t lease_ms, lisec_err *err) {
  if (!l->conn) return 0; /* a flock lasts as long as the process */
  l->lease_ms = lease_ms;
  return pg_lease_apply(l, err);
}

int64_t store_lock_epoch(const store_lock *l) { return l->epoch; }

bool store_lock_stuck(const store_lock *l) { return l->stuck; }

bool store_lock_stopping(const store_lock *l) { return l->stopping; }

bool store_lock_postgres(const store_lock *l) { return l->conn != NULL; }

void store_lock_interrupt(store_lock *l) {
  uint64_t one = 1;
  if (l && l->stop[0] >= 0 && write(l->stop[0], &one, sizeof one) != sizeof one) { /* already set */
  }
}

void store_lock_stop_fd(store_lock *l, int fd) { l->stop[1] = fd; }

void store_lock_close(store_lock *l) {
  if (!l) return;
  if (l->fd >= 0) close(l->fd); /* the flock goes with the last descriptor */
  if (l->conn) PQfinish(l->conn); /* a session lock goes with its session */
  if (l->stop[0] >= 0) close(l->stop[0]);
  free(l->url);
  free(l);
}
