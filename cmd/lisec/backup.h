/* What `lisec backup` and `lisec restore` share: where a store is (a
 * SQLite file or a PostgreSQL URL), the PostgreSQL tools run for it, and
 * the check of a store's whole audit log with the deployment's key. */
#ifndef LISEC_CLI_BACKUP_H
#define LISEC_CLI_BACKUP_H

#include <stdbool.h>

#include "audit/audit.h"
#include "base/base.h"

typedef struct backup_store {
  bool postgres;
  char url[4200];  /* the store URL */
  const char *path; /* SQLite: the file (inside url) */
} backup_store;

/* --db as lisecd's [store] url or a plain SQLite file path. */
int backup_store_parse(const char *db, backup_store *out, lisec_err *err);
/* Runs argv (pg_dump, pg_restore) and waits; EIO naming the tool and its exit. */
int backup_run_tool(char *const argv[], lisec_err *err);
/* The whole audit log in url verified with key (following its rollovers);
 * EDENIED naming the first finding, ENOTFOUND when nothing is signed. */
int backup_verify(const char *url, const audit_vkey *key, audit_verify_summary *sum, lisec_err *err);

#endif
