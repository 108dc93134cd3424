/* The store's one face: picks the back end from the URL, checks every
 * argument the same way for both, wraps writes in transactions so a failure
 * leaves nothing half-written, and applies the versioned schema migrations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"

struct lisec_store {
  const store_ops *ops;
  void *be;
  bool in_tx;
};

static int check_name(const char *what, const char *s, size_t max, lisec_err *err) {
  if (!s || !*s) return lisec_err_set(err, LISEC_EINVAL, "store: %s is empty", what);
  if (strlen(s) > max)
    return lisec_err_set(err, LISEC_EINVAL, "store: %s is longer than %zu bytes", what, max);
  return 0;
}

static int store_migrate(lisec_store *s, lisec_err *err) {
  const store_ops *o = s->ops;
  int rc = o->exec(s->be,
                   "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                   "applied_at BIGINT NOT NULL)",
                   err);
  if (rc) return rc;
  int64_t current = 0;
  rc = o->query_int(s->be, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &current,
                    err);
  if (rc) return rc;
  if (current > (int64_t)o->n_migrations)
    return lisec_err_set(err, LISEC_ESTORE,
                         "store: database schema version %lld is newer than this lisec "
                         "understands (%zu); refusing to touch it",
                         (long long)current, o->n_migrations);
  for (size_t v = (size_t)current + 1; v <= o->n_migrations; v++) {
    char mark[128];
    snprintf(mark, sizeof mark, "INSERT INTO schema_migrations VALUES (%zu, %lld)", v,
             (long long)lisec_time_now());
    if ((rc = store_begin(s, err)) != 0) return rc;
    if ((rc = o->exec(s->be, o->migrations[v - 1], err)) != 0 ||
        (rc = o->exec(s->be, mark, err)) != 0) {
      store_rollback(s);
      return lisec_err_wrap(err, "store: migration %zu failed", v);
    }
    if ((rc = store_commit(s, err)) != 0) return rc;
  }
  return 0;
}

int store_open(const char *url, lisec_store **out, lisec_err *err) {
  const store_ops *ops = NULL;
  const char *target = NULL;
  if (!url) return lisec_err_set(err, LISEC_EINVAL, "store: no URL configured");
  if (strncmp(url, "sqlite:", 7) == 0) {
    ops = &store_sqlite_ops;
    target = url + 7;
  } else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
    ops = &store_postgres_ops;
    target = url;
  } else {
    return lisec_err_set(err, LISEC_EINVAL,
                         "store: URL must start with sqlite: or postgresql:// (got \"%.40s\")", url);
  }
  lisec_store *s = calloc(1, sizeof *s);
  if (!s) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  s->ops = ops;
  int rc = ops->open(target, &s->be, err);
  if (rc == 0) rc = store_migrate(s, err);
  if (rc) {
    if (s->be) ops->close(s->be);
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void store_close(lisec_store *s) {
  if (!s) return;
  if (s->in_tx) store_rollback(s);
  s->ops->close(s->be);
  free(s);
}

const char *store_backend(const lisec_store *s) { return s->ops->name; }

int store_schema_version(lisec_store *s, int *out, lisec_err *err) {
  int64_t v = 0;
  int rc = s->ops->query_int(s->be, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                             &v, err);
  if (rc == 0) *out = (int)v;
  return rc;
}

int store_ping(lisec_store *s, lisec_err *err) {
  int64_t one = 0;
  int rc = s->ops->query_int(s->be, "SELECT 1", &one, err);
  return rc ? lisec_err_set(err, LISEC_EUNAVAIL, "store unreachable: %s", err ? err->msg : "") : 0;
}

int store_begin(lisec_store *s, lisec_err *err) {
  if (s->in_tx) return lisec_err_set(err, LISEC_EINTERNAL, "store: transaction already open");
  int rc = s->ops->exec(s->be, "BEGIN", err);
  if (rc == 0) s->in_tx = true;
  return rc;
}

int store_commit(lisec_store *s, lisec_err *err) {
  if (!s->in_tx) return lisec_err_set(err, LISEC_EINTERNAL, "store: no transaction open");
  int rc = s->ops->exec(s->be, "COMMIT", err);
  if (rc) {
    s->ops->exec(s->be, "ROLLBACK", NULL);
  }
  s->in_tx = false;
  return rc;
}

int store_rollback(lisec_store *s) {
  if (!s->in_tx) return 0;
  s->in_tx = false;
  return s->ops->exec(s->be, "ROLLBACK", NULL);
}

/* A write runs in its own transaction unless the caller holds one: begin
 * here, then end with the write's result (commit on success, else rollback). */
static int write_begin(lisec_store *s, bool *own, lisec_err *err) {
  *own = !s->in_tx;
  return *own ? store_begin(s, err) : 0;
}

static int write_end(lisec_store *s, bool own, int rc, lisec_err *err) {
  if (!own) return rc;
  if (rc) {
    store_rollback(s);
    return rc;
  }
  return store_commit(s, err);
}

int store_doc_put(lisec_store *s, const char *kind, const char *id, const char *body,
                  int64_t expected_version, int64_t *new_version, lisec_err *err) {
  int rc;
  if ((rc = check_name("document kind", kind, STORE_KIND_MAX, err)) ||
      (rc = check_name("document id", id, STORE_ID_MAX, err)))
    return rc;
  if (!body || strlen(body) > STORE_BODY_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "store: document body missing or over %u bytes",
                         STORE_BODY_MAX);
  if (expected_version < -1)
    return lisec_err_set(err, LISEC_EINVAL, "store: expected version must be -1, 0 or positive");
  bool own;
  int64_t v = 0;
  if ((rc = write_begin(s, &own, err))) return rc;
  rc = s->ops->doc_put(s->be, kind, id, body, expected_version, &v, err);
  rc = write_end(s, own, rc, err);
  if (rc == 0 && new_version) *new_version = v;
  return rc;
}

int store_doc_get(lisec_store *s, const char *kind, const char *id, char **body,
                  int64_t *version, lisec_err *err) {
  int rc;
  if ((rc = check_name("document kind", kind, STORE_KIND_MAX, err)) ||
      (rc = check_name("document id", id, STORE_ID_MAX, err)))
    return rc;
  int64_t v = 0;
  rc = s->ops->doc_get(s->be, kind, id, body, &v, err);
  if (rc == 0 && version) *version = v;
  return rc;
}

int store_doc_delete(lisec_store *s, const char *kind, const char *id, lisec_err *err) {
  int rc;
  if ((rc = check_name("document kind", kind, STORE_KIND_MAX, err)) ||
      (rc = check_name("document id", id, STORE_ID_MAX, err)))
    return rc;
  bool own;
  if ((rc = write_begin(s, &own, err))) return rc;
  return write_end(s, own, s->ops->doc_delete(s->be, kind, id, err), err);
}

int store_doc_list(lisec_store *s, const char *kind, store_doc_cb cb, void *ctx, lisec_err *err) {
  int rc = check_name("document kind", kind, STORE_KIND_MAX, err);
  return rc ? rc : s->ops->doc_list(s->be, kind, cb, ctx, err);
}

int store_log_size(lisec_store *s, uint64_t *size, lisec_err *err) {
  int64_t n = 0;
  int rc = s->ops->query_int(s->be, "SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_log", &n, err);
  if (rc == 0) *size = (uint64_t)n;
  return rc;
}

int store_log_append(lisec_store *s, const store_log_entry *entries, size_t n, lisec_err *err) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    if (!entries[i].data || entries[i].len == 0 || entries[i].len > STORE_LOG_DATA_MAX)
      return lisec_err_set(err, LISEC_EINVAL, "store: log entry %zu is empty or over %u bytes",
                           i, STORE_LOG_DATA_MAX);
    if (i > 0 && entries[i].index != entries[i - 1].index + 1)
      return lisec_err_set(err, LISEC_EINVAL, "store: log entries are not contiguous at %zu", i);
  }
  bool own;
  int rc = write_begin(s, &own, err);
  if (rc) return rc;
  uint64_t size = 0;
  rc = store_log_size(s, &size, err);
  if (rc == 0 && entries[0].index != size)
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       "store: log append at index %llu but the log holds %llu entries",
                       (unsigned long long)entries[0].index, (unsigned long long)size);
  for (size_t i = 0; rc == 0 && i < n; i++) rc = s->ops->log_insert(s->be, &entries[i], err);
  return write_end(s, own, rc, err);
}

int store_log_range(lisec_store *s, uint64_t from, uint64_t to, store_log_cb cb, void *ctx,
                    lisec_err *err) {
  if (from > to || to > INT64_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "store: bad log range %llu..%llu",
                         (unsigned long long)from, (unsigned long long)to);
  return s->ops->log_range(s->be, from, to, cb, ctx, err);
}

int store_checkpoint_put(lisec_store *s, uint64_t tree_size, const char *note, lisec_err *err) {
  if (!note || !*note || strlen(note) > 64 * 1024 || tree_size > INT64_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "store: checkpoint note empty or over 64 KiB");
  bool own;
  int rc = write_begin(s, &own, err);
  if (rc) return rc;
  return write_end(s, own, s->ops->checkpoint_put(s->be, tree_size, note, err), err);
}

int store_checkpoint_latest(lisec_store *s, uint64_t *tree_size, char **note, lisec_err *err) {
  return s->ops->checkpoint_latest(s->be, tree_size, note, err);
}

int store_checkpoint_list(lisec_store *s, store_checkpoint_cb cb, void *ctx, lisec_err *err) {
  return s->ops->checkpoint_list(s->be, cb, ctx, err);
}
