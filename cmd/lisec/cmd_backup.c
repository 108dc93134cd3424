/* `lisec backup`: an online, consistent copy of lisecd's store (issue 21
 * item 4). SQLite with its online backup API (one snapshot while lisecd
 * goes on writing), PostgreSQL with pg_dump (one snapshot transaction, the
 * custom format pg_restore reads). `lisec restore` puts it back. */
#include <stdio.h>
#include <string.h>

#include "backup.h"
#include "cli.h"
#include "store/store.h"

const char cli_help_backup[] = "copy lisecd's store, consistent while lisecd runs (restore it with `lisec restore`)";

static int usage(void) {
  return cli_fail("usage: lisec backup --db URL|FILE OUT\n"
                  "  --db  lisecd's [store] url (sqlite:FILE or postgresql://...) or a SQLite file\n"
                  "  OUT   the backup: a SQLite file, or pg_dump's custom format for PostgreSQL");
}

int cli_cmd_backup(int argc, char **argv) {
  const char *db = NULL, *out = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0) {
      usage();
      return CLI_OK;
    }
    if (i + 1 < argc && strcmp(argv[i], "--db") == 0) db = argv[++i];
    else if (!out && argv[i][0] != '-') out = argv[i];
    else return usage();
  }
  if (!db || !out) return usage();
  backup_store st;
  lisec_err err = {0};
  if (backup_store_parse(db, &st, &err)) return cli_fail("backup: %s", err.msg);
  int rc;
  if (st.postgres) {
    char *const av[] = {"pg_dump", "--format=custom", "--no-owner", "--file", (char *)out, st.url, NULL};
    rc = backup_run_tool(av, &err);
  } else {
    rc = store_sqlite_copy(st.path, out, &err);
  }
  if (rc) return cli_fail("backup: %s", err.msg);
  printf("backup of %s written to %s\n", st.postgres ? "the PostgreSQL store" : st.path, out);
  return CLI_OK;
}
