/* The contract between store.c (URL dispatch, argument checks, migrations)
 * and each back end: a table of functions over an opaque back-end handle. */
#ifndef LISEC_STORE_IMPL_H
#define LISEC_STORE_IMPL_H

#include "store/store.h"

typedef struct store_ops {
  const char *name;
  int (*open)(const char *target, void **be, lisec_err *err);
  void (*close)(void *be);
  /* Runs SQL with no parameters and no result (DDL, BEGIN, COMMIT). */
  int (*exec)(void *be, const char *sql, lisec_err *err);
  /* Reads an integer from a one-row, one-column query; ENOTFOUND if no row. */
  int (*query_int)(void *be, const char *sql, int64_t *out, lisec_err *err);
  int (*doc_put)(void *be, const char *kind, const char *id, const char *body,
                 int64_t expected_version, int64_t *new_version, lisec_err *err);
  int (*doc_get)(void *be, const char *kind, const char *id, char **body, int64_t *version,
                 lisec_err *err);
  int (*doc_delete)(void *be, const char *kind, const char *id, lisec_err *err);
  int (*doc_list)(void *be, const char *kind, store_doc_cb cb, void *ctx, lisec_err *err);
  int (*log_insert)(void *be, const store_log_entry *e, lisec_err *err);
  int (*log_range)(void *be, uint64_t from, uint64_t to, store_log_cb cb, void *ctx,
                   lisec_err *err);
  int (*checkpoint_put)(void *be, uint64_t tree_size, const char *note, lisec_err *err);
  int (*checkpoint_latest)(void *be, uint64_t *tree_size, char **note, lisec_err *err);
  int (*checkpoint_list)(void *be, store_checkpoint_cb cb, void *ctx, lisec_err *err);
  /* The schema, one entry per version; [0] is version 1. */
  const char *const *migrations;
  size_t n_migrations;
} store_ops;

extern const store_ops store_sqlite_ops;
extern const store_ops store_postgres_ops;

#endif
