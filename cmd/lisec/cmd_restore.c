/* `lisec restore`: puts a backup back (issue 21 item 4) so that the audit
 * log stays honest. The backup's log must verify with this deployment's
 * checkpoint key (a backup of another deployment, or an altered one, is
 * refused before anything is written); the store is then replaced and left
 * with a marker naming the backup's newest checkpoint, which lisecd records
 * and signs at its next start ("restored from checkpoint N"), so an auditor
 * who saw later history learns of the restore from the log itself instead
 * of finding an unexplained rollback. A second marker holds the restore's
 * time for the LI VMs: the restore puts their states and counters back, so
 * lisecd holds each as if paired until the LI administration confirms it
 * and refuses signed LI messages that could predate the restore (docs/li.md,
 * "After a restore"). lisecd must be stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"
#include "cli.h"
#include "li/li.h"
#include "store/store.h"

const char cli_help_restore[] = "put a `lisec backup` back, recorded in the audit log (lisecd stopped)";

static int usage(void) {
  return cli_fail("usage: lisec restore BACKUP --db URL|FILE --pubkey VKEY_FILE\n"
                  "  BACKUP   a `lisec backup` (a SQLite file, or pg_dump's custom format)\n"
                  "  --db     the store to replace, as lisecd's [store] url (stop lisecd first)\n"
                  "  --pubkey the deployment's checkpoint verifier key ([audit] vkey_file)");
}

static int read_vkey(const char *path, audit_vkey *k, lisec_err *err) {
  uint8_t *text = NULL;
  size_t len = 0;
  int rc = lisec_file_read(path, 4096, &text, &len, err);
  if (!rc) {
    char buf[4097];
    memcpy(buf, text, len);
    buf[len] = '\0';
    rc = audit_vkey_parse(buf, k, err);
  }
  free(text);
  return rc;
}

/* The markers lisecd turns into the signed restore record and the LI hold
 * (the time of the restore, by this clock), in one transaction. */
static int leave_marker(const char *url, const audit_checkpoint *from, lisec_err *err) {
  char root[65], body[160], li[64];
  lisec_hex_encode(from->root, 32, root);
  snprintf(body, sizeof body, "{\"from_size\":%llu,\"root\":\"%s\"}", (unsigned long long)from->size, root);
  snprintf(li, sizeof li, "{\"restored_at\":%lld}", (long long)lisec_time_now());
  lisec_store *s = NULL;
  int rc = store_open(url, &s, err);
  if (!rc) rc = store_begin(s, err);
  if (!rc) {
    rc = store_doc_put(s, AUDIT_RESTORE_DOC_KIND, AUDIT_RESTORE_DOC_ID, body, -1, NULL, err);
    if (!rc) rc = store_doc_put(s, LI_RESTORE_DOC_KIND, LI_RESTORE_PENDING_ID, li, -1, NULL, err);
    if (!rc) rc = store_commit(s, err);
    if (rc) (void)store_rollback(s);
  }
  store_close(s);
  return rc;
}

int cli_cmd_restore(int argc, char **argv) {
  const char *db = NULL, *pubkey = NULL, *backup = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0) {
      usage();
      return CLI_OK;
    }
    if (i + 1 < argc && strcmp(argv[i], "--db") == 0) db = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--pubkey") == 0) pubkey = argv[++i];
    else if (!backup && argv[i][0] != '-') backup = argv[i];
    else return usage();
  }
  if (!db || !pubkey || !backup) return usage();
  backup_store st;
  audit_vkey key;
  audit_verify_summary sum;
  lisec_err err = {0};
  if (backup_store_parse(db, &st, &err)) return cli_fail("restore: %s", err.msg);
  if (read_vkey(pubkey, &key, &err)) return cli_fail("restore: --pubkey %s: %s", pubkey, err.msg);
  if (access(backup, R_OK) != 0) return cli_fail("restore: %s: cannot be read", backup);
  if (st.postgres) {
    /* pg_restore replaces the tables in one transaction; the log is then
     * checked where it landed, and a log that does not verify is said so
     * (and lisecd will refuse to start on it). */
    char *const av[] = {"pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                        "--dbname", st.url, (char *)backup, NULL};
    if (backup_run_tool(av, &err)) return cli_fail("restore: %s", err.msg);
    if (backup_verify(st.url, &key, &sum, &err)) return cli_fail("restore: the restored store: %s", err.msg);
  } else {
    char url[4300];
    snprintf(url, sizeof url, "sqlite:%s", backup);
    if (backup_verify(url, &key, &sum, &err)) return cli_fail("restore: %s: %s; nothing was restored", backup, err.msg);
    if (store_sqlite_copy(backup, st.path, &err)) return cli_fail("restore: %s", err.msg);
  }
  if (leave_marker(st.url, &sum.newest, &err)) return cli_fail("restore: the restore marker: %s", err.msg);
  printf("restored %llu audit entries (newest checkpoint at size %llu); lisecd records the restore at its next start\n"
         "the keys process signed beyond this copy and signs nothing for it until its witness is reset; "
         "next, with lisecd still stopped: lisec audit witness-reset -c <lisecd's config> --yes "
         "(docs/audit.md, \"Restoring from a backup\")\n"
         "LI VMs: lisecd holds each as if paired until the LI administration confirms its state "
         "(lisec li confirm VM, or pairs it), and refuses signed LI messages that could predate this "
         "restore (docs/li.md, \"After a restore\")\n",
         (unsigned long long)sum.entries, (unsigned long long)sum.newest.size);
  return CLI_OK;
}
