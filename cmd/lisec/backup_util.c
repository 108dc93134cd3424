/* Helpers of `lisec backup` and `lisec restore` (backup.h). */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "backup.h"
#include "store/store.h"

extern char **environ;

int backup_store_parse(const char *db, backup_store *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (!db || !*db) return lisec_err_set(err, LISEC_EINVAL, "--db: the store (sqlite:FILE, FILE or postgresql://...)");
  if (strlen(db) > 4000) return lisec_err_set(err, LISEC_EINVAL, "--db is too long");
  if (strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0) {
    out->postgres = true;
    snprintf(out->url, sizeof out->url, "%s", db);
    return 0;
  }
  if (strstr(db, "://")) return lisec_err_set(err, LISEC_EINVAL, "--db: only SQLite and PostgreSQL stores are backed up");
  snprintf(out->url, sizeof out->url, "%s%s", strncmp(db, "sqlite:", 7) == 0 ? "" : "sqlite:", db);
  out->path = out->url + 7;
  if (strcmp(out->path, ":memory:") == 0) return lisec_err_set(err, LISEC_EINVAL, "--db: an in-memory store has nothing to back up");
  return 0;
}

int backup_run_tool(char *const argv[], lisec_err *err) {
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
  if (rc) return lisec_err_set(err, LISEC_EUNAVAIL, "cannot run %s: %s (is postgresql-client installed?)", argv[0], strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return lisec_err_set(err, LISEC_EIO, "waiting for %s: %s", argv[0], strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return lisec_err_set(err, LISEC_EIO, "%s failed (exit %d)", argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}

typedef struct verify_ctx {
  audit_verifier *v;
  int rc;
} verify_ctx;

static int add_cp(void *ctx, uint64_t size, const char *note) {
  verify_ctx *c = ctx;
  return c->rc = audit_verifier_add_checkpoint(c->v, size, note, strlen(note));
}

static int add_entry(void *ctx, const store_log_entry *e) {
  verify_ctx *c = ctx;
  return c->rc = audit_verifier_add_entry(c->v, e->index, e->data, e->len, e->leaf_hash, NULL);
}

int backup_verify(const char *url, const audit_vkey *key, audit_verify_summary *sum, lisec_err *err) {
  lisec_store *s = NULL;
  verify_ctx c = {0};
  uint64_t size = 0;
  int rc = store_open(url, &s, err);
  if (!rc) rc = audit_verifier_new(key, NULL, &c.v, err);
  if (!rc) rc = store_checkpoint_list(s, add_cp, &c, err);
  if (!rc) rc = store_log_size(s, &size, err);
  if (!rc) rc = store_log_range(s, 0, size, add_entry, &c, err);
  if (!rc && c.rc) rc = lisec_err_set(err, c.rc, "reading the audit log: %s", lisec_err_name(c.rc));
  if (!rc) {
    audit_verifier_finish(c.v, sum);
    const char *first = audit_verifier_finding(c.v, 0);
    if (sum->findings)
      rc = lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-5.5: its audit log does not verify with this deployment's checkpoint key "
                         "(another deployment, or altered): %s",
                         first ? first : "?");
    else if (!sum->have_newest)
      rc = lisec_err_set(err, LISEC_ENOTFOUND, "its audit log has no signed checkpoint to restore from");
  }
  audit_verifier_free(c.v);
  store_close(s);
  return rc;
}
