/* `lisec audit ...`: the auditor's side of the tamper-evident log. verify
 * recomputes the whole Merkle tree from the entries (read from a database
 * with --db, or fetched from lisecd), checks every checkpoint's signature and
 * that the log still extends the last checkpoint this auditor saw (kept in a
 * state file), and names every discrepancy; read opens the entries sealed to
 * the LI administration with its key; prove prints inclusion and consistency
 * proofs as JSON for outside RFC 9162 verifiers (offline built from the
 * database; online asked of lisecd and checked against the checkpoint signed
 * with the pinned key). Both sources feed the same audit_verifier, so online
 * and offline checks cannot drift apart. witness-reset is the operator's
 * reset of the keys process's witness state, which lives in the token: the
 * CLI holds no token code (ctl_layers), so it runs lisecd --witness-reset,
 * which reaches the token as the keys process does. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/json.h"
#include "cli.h"
#include "commands.h"
#include "crypto/crypto.h"
#include "crypto/tsa.h"
#include "store/store.h"

const char cli_help_audit[] = "verify the audit log, open sealed LI entries, print proofs";

int cli_cmd_audit(int argc, char **argv);

#define PAGE 1000u
#define DB_PAGE 100000u
/* Online, the entries verify reads past the newest checkpoint lisecd
 * listed (or from 0 when it listed none), unless --max-unsigned says
 * otherwise: lisecd signs one every checkpoint_entries (1000) or
 * checkpoint_ms (10 s), so an unsigned tail this long is a server that
 * feeds pages without end (TR103308-5.5). */
#define TAIL_MAX 100000u
/* Online, the checkpoints verify reads in one pass of lisecd's list: at
 * first as many as the verifier takes; in the later passes (timestamps,
 * the note to save) those of the first and as many more as a day of
 * checkpoint_ms signs (8,640), the list growing while verify reads. */
#define CP_LIST_MAX (1u << 20)
#define CP_TAIL_MAX 10000u

static int audit_usage(void) {
  return cli_fail(
      "usage: lisec audit verify [--db URL|FILE] [--state FILE] [--pubkey FILE]\n"
      "                          [--tsa-ca FILE [--require-timestamps] [--clock-skew-s N]]\n"
      "                          [--max-unsigned N]\n"
      "           recompute the tree, check every checkpoint and the last one seen, and\n"
      "           each checkpoint's RFC 3161 timestamp against the TSA's CA (its genTime; no\n"
      "           entry below it may claim a time more than N s (60) after it);\n"
      "           online, at most N entries (100000) past the newest signed checkpoint;\n"
      "           exit 0 intact, 1 tampering found, 2 error\n"
      "       lisec audit read --li-key FILE [--from N] [--to N] [--db URL|FILE]\n"
      "           list entries, opening those sealed to the LI administration\n"
      "           (with --db, --key FILE also names the LI key)\n"
      "       lisec audit prove --index N | --old SIZE | --leaf HEX [--size N] [--db URL|FILE]\n"
      "                         [--pubkey FILE]\n"
      "           an inclusion or consistency proof as JSON (hex), against the newest\n"
      "           checkpoint unless --size says otherwise; online, lisecd makes it and it is\n"
      "           checked here against the checkpoint signed with --pubkey's key (required)\n"
      "       lisec audit vkey --dev-key PEM --origin NAME   the verifier key of a key file\n"
      "       lisec audit li-keygen SECRET_FILE PUBLIC_FILE  an X25519 pair for the LI administration\n"
      "       lisec audit rollover   a new checkpoint key, introduced by a checkpoint the old and the\n"
      "           new key both sign; the old key is retired (li-admin)\n"
      "       lisec audit witness-reset -c LISECD_CONFIG [--yes]\n"
      "           show the keys process's last signed checkpoint (the witness, in the token of\n"
      "           [audit]); with --yes remove it, so that lisecd's next checkpoint is trusted on\n"
      "           first use (after lisec restore, lisecd stopped; runs lisecd --witness-reset)\n"
      "Without --db the entries come from lisecd (--server, role auditor, li-admin or operator).");
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || !end || *end || !*s || s[0] == '-' || v > AUDIT_SIZE_MAX) return -1;
  *out = v;
  return 0;
}

/* ---- where entries come from -------------------------------------------- */

typedef int (*entry_cb)(void *ctx, uint64_t index, int64_t time_ms, bool sealed,
                        const uint8_t *data, size_t len, const uint8_t *leaf_hash);
typedef store_checkpoint_cb checkpoint_cb;

typedef struct source {
  lisec_store *db; /* NULL: lisecd over HTTPS */
  size_t cp_max;   /* online: at most so many checkpoints a pass (0: CP_LIST_MAX) */
} source;

static int source_open(source *src, const char *db, lisec_err *err) {
  memset(src, 0, sizeof *src);
  if (!db) return 0;
  char url[4200];
  if (strstr(db, "://") || strncmp(db, "sqlite:", 7) == 0) {
    snprintf(url, sizeof url, "%s", db);
  } else {
    if (strlen(db) > 4000) return lisec_err_set(err, LISEC_EINVAL, "--db path too long");
    snprintf(url, sizeof url, "sqlite:%s", db);
  }
  /* An offline check must not create an empty database where none was. */
  if (strncmp(url, "sqlite:", 7) == 0 && strcmp(url, "sqlite::memory:") != 0 && access(url + 7, R_OK) != 0)
    return lisec_err_set(err, LISEC_EIO, "%s: %s", url + 7, strerror(errno));
  return store_open(url, &src->db, err);
}

static void source_close(source *src) {
  if (src->db) store_close(src->db);
}

static int http_get(const char *path, json_t **out, lisec_err *err) {
  long status = 0;
  json_t *reply = NULL;
  int rc = cli_http_request("GET", path, NULL, &status, &reply, err);
  if (rc) return rc;
  if (status != 200 || !json_is_object(reply)) {
    const char *msg = json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
    rc = lisec_err_set(err, status == 403 ? LISEC_EAUTH : LISEC_EUNAVAIL, "lisecd answered %ld to %s: %s",
                       status, path, msg ? msg : "(no message)");
    json_decref(reply);
    return rc;
  }
  *out = reply;
  return 0;
}

/* Every checkpoint lisecd lists, page by page (GET /v1/audit/checkpoints
 * answers at most a page; "next" says where the next begins). Each page
 * must move forward, and one read takes at most src->cp_max checkpoints,
 * so a server cannot keep this reading for ever. */
typedef int (*checkpoint_item_cb)(void *ctx, size_t i, const json_t *item, lisec_err *err);

static int online_checkpoints(const source *src, checkpoint_item_cb cb, void *ctx, lisec_err *err) {
  uint64_t from = 0;
  size_t max = src->cp_max ? src->cp_max : CP_LIST_MAX;
  for (size_t n = 0;;) {
    char path[96];
    snprintf(path, sizeof path, "/v1/audit/checkpoints?from=%llu", (unsigned long long)from);
    json_t *reply = NULL;
    int rc = http_get(path, &reply, err);
    if (rc) return rc;
    json_t *arr = json_object_get(reply, "checkpoints"), *it, *next = json_object_get(reply, "next");
    size_t i;
    json_int_t last = -1;
    if (!json_is_array(arr)) rc = lisec_err_set(err, LISEC_EINVAL, "lisecd's checkpoint list is malformed");
    json_array_foreach(arr, i, it) {
      if (rc) break;
      if (n >= max) {
        rc = lisec_err_set(err, LISEC_ETOOBIG,
                           "TR103308-5.5: lisecd listed more than %zu checkpoints in one read of its list: a "
                           "server that does not stop",
                           max);
        break;
      }
      last = json_integer_value(json_object_get(it, "tree_size"));
      rc = cb(ctx, n++, it, err);
    }
    bool more = !rc && next;
    if (more && (!json_is_integer(next) || json_integer_value(next) <= last || (uint64_t)last < from ||
                 json_array_size(arr) == 0))
      rc = lisec_err_set(err, LISEC_EINVAL, "lisecd's checkpoint list does not move on from tree size %llu",
                         (unsigned long long)from);
    if (!rc && more) from = (uint64_t)json_integer_value(next);
    json_decref(reply);
    if (rc || !more) return rc;
  }
}

typedef struct cp_item_ctx {
  checkpoint_cb cb;
  void *ctx;
} cp_item_ctx;

static int cp_item(void *ctx, size_t i, const json_t *it, lisec_err *err) {
  cp_item_ctx *c = ctx;
  json_int_t size = json_integer_value(json_object_get(it, "tree_size"));
  const char *note = json_string_value(json_object_get(it, "note"));
  if (size < 0 || !note) return lisec_err_set(err, LISEC_EINVAL, "lisecd's checkpoint %zu is malformed", i);
  return c->cb(c->ctx, (uint64_t)size, note);
}

static int source_checkpoints(source *src, checkpoint_cb cb, void *ctx, lisec_err *err) {
  if (src->db) return store_checkpoint_list(src->db, cb, ctx, err);
  cp_item_ctx c = {cb, ctx};
  return online_checkpoints(src, cp_item, &c, err);
}

typedef struct db_entry_ctx {
  entry_cb cb;
  void *ctx;
  uint64_t seen;
} db_entry_ctx;

static int db_entry(void *ctx, const store_log_entry *e) {
  db_entry_ctx *c = ctx;
  c->seen++;
  return c->cb(c->ctx, e->index, e->time_ms, e->sealed != 0, e->data, e->len, e->leaf_hash);
}

/* Streams entries from <= index < to (to = UINT64_MAX: to the end). */
static int source_entries(source *src, uint64_t from, uint64_t to, entry_cb cb, void *ctx,
                          lisec_err *err) {
  if (src->db) {
    uint64_t size = 0;
    int rc = store_log_size(src->db, &size, err);
    if (rc) return rc;
    /* A row at 2^63 - 1 the store refuses (its size would overflow); one
     * at 2^63 - 2 gives a size no range's end can pass, so it would go
     * unread. No log lisec writes comes near (2^62 at most). */
    if (size >= (uint64_t)INT64_MAX)
      return lisec_err_set(err, LISEC_EINVAL,
                           "the store holds an audit entry at index %lld or near it, beyond any log (2^62 "
                           "entries at most): the audit_log table was altered",
                           (long long)INT64_MAX);
    if (to > size) to = size;
    /* In pages, so a back end that buffers a whole result stays bounded.
     * The size is 1 + the highest index stored: one row put at an index
     * near 2^63 made it 2^46 pages of nothing, and verify never ended. A
     * page without rows (entries missing: the verifier names them) doubles
     * the next one until rows come again, so any gap costs some 60 reads;
     * a widened page holds no more rows than its width. */
    uint64_t width = DB_PAGE;
    for (uint64_t a = from; a < to && !rc;) {
      uint64_t b = to - a > width ? a + width : to;
      db_entry_ctx c = {.cb = cb, .ctx = ctx};
      rc = store_log_range(src->db, a, b, db_entry, &c, err);
      width = c.seen ? DB_PAGE : width > UINT64_MAX / 2 ? UINT64_MAX : width * 2;
      a = b;
    }
    return rc;
  }
  for (uint64_t a = from; a < to;) {
    char path[128];
    uint64_t count = to - a < PAGE ? to - a : PAGE;
    snprintf(path, sizeof path, "/v1/audit/entries?from=%llu&count=%llu", (unsigned long long)a,
             (unsigned long long)count);
    json_t *reply = NULL;
    int rc = http_get(path, &reply, err);
    if (rc) return rc;
    json_t *arr = json_object_get(reply, "entries"), *it;
    size_t i, n = json_array_size(arr);
    if (!json_is_array(arr)) rc = lisec_err_set(err, LISEC_EINVAL, "lisecd's entry page is malformed");
    json_int_t prev = (json_int_t)a - 1;
    json_array_foreach(arr, i, it) {
      if (rc) break;
      json_t *at = json_object_get(it, "index");
      json_int_t idx = json_integer_value(at);
      /* a page holds entries from a on, in order, each with its index:
       * else it is not the one asked for, and reading on would not move
       * on (an entry without one was read as entry 0) */
      if (!json_is_integer(at)) {
        rc = lisec_err_set(err, LISEC_EINVAL,
                           "TR103308-5.5: lisecd's entry page at %llu does not move on (entry %zu has no index)",
                           (unsigned long long)a, i);
        break;
      }
      if (idx <= prev || (uint64_t)idx >= a + count) {
        rc = lisec_err_set(err, LISEC_EINVAL,
                           "TR103308-5.5: lisecd's entry page at %llu does not move on (entry %zu is at index "
                           "%lld, outside %llu to %llu or not after the one before)",
                           (unsigned long long)a, i, (long long)idx, (unsigned long long)a,
                           (unsigned long long)(a + count - 1));
        break;
      }
      prev = idx;
      const char *b64 = json_string_value(json_object_get(it, "data"));
      const char *lh = json_string_value(json_object_get(it, "leaf_hash"));
      uint8_t *data = NULL, leaf[32];
      size_t len = 0;
      if (idx < 0 || !b64 || crypto_base64_decode(b64, STORE_LOG_DATA_MAX, &data, &len, err) != 0) {
        rc = lisec_err_set(err, LISEC_EINVAL, "lisecd's entry %zu of the page at %llu is malformed", i,
                           (unsigned long long)a);
        break;
      }
      bool have_leaf = lh && strlen(lh) == 64 && lisec_hex_decode(lh, leaf, 32) == 0;
      rc = cb(ctx, (uint64_t)idx, json_integer_value(json_object_get(it, "time_ms")),
              json_is_true(json_object_get(it, "sealed")), data, len, have_leaf ? leaf : NULL);
      free(data);
    }
    json_decref(reply);
    if (rc) return rc;
    if (n < count) break;
    a += n;
  }
  return 0;
}

/* ---- verify -------------------------------------------------------------- */

typedef struct verify_ctx {
  audit_verifier *v;
  int rc;
  /* latest[i]: the latest time any entry up to index i claims (ms), for
   * the check of the entries' times against the checkpoints' genTimes */
  int64_t *latest;
  uint64_t n_latest, cap_latest;
  /* online: the tree size of the newest checkpoint signed by the key
   * (followed through the rollovers listed), and so at most how many
   * entries are read (UINT64_MAX: no bound, the store's own size bounds) */
  audit_vkey key;
  uint64_t newest_cp, max_entries, max_unsigned; /* max_unsigned: --max-unsigned */
  size_t n_cps; /* checkpoints listed */
  lisec_err *err;
} verify_ctx;

/* The bound's checkpoint: only a signed one may raise it, so a server
 * cannot lift it with a note of any size it likes. */
static void newest_signed(verify_ctx *c, uint64_t size, const char *note) {
  audit_checkpoint cp;
  audit_rollover ro;
  bool found = false;
  lisec_err e = {0};
  size_t len = strlen(note);
  if (audit_note_open(note, len, &c->key, &cp, &e) != 0 || cp.size != size) return;
  if (size > c->newest_cp) c->newest_cp = size;
  if (audit_rollover_find(note, len, &ro, &found, &e) == 0 && found && audit_vkey_equal(&ro.old_key, &c->key) &&
      audit_note_open(note, len, &ro.new_key, &cp, &e) == 0)
    c->key = ro.new_key;
}

static int verify_cp(void *ctx, uint64_t size, const char *note) {
  verify_ctx *c = ctx;
  c->n_cps++;
  newest_signed(c, size, note);
  c->rc = audit_verifier_add_checkpoint(c->v, size, note, strlen(note));
  return c->rc;
}

static int verify_entry(void *ctx, uint64_t index, int64_t time_ms, bool sealed, const uint8_t *data,
                        size_t len, const uint8_t *leaf_hash) {
  verify_ctx *c = ctx;
  if (c->n_latest >= c->max_entries)
    return c->rc = lisec_err_set(c->err, LISEC_ETOOBIG,
                                 "TR103308-5.5: lisecd served more than %llu entries, %llu past the tree size of "
                                 "the newest signed checkpoint it listed (%llu): a log that is not signed, or a server "
                                 "that does not stop (--max-unsigned)",
                                 (unsigned long long)c->max_entries, (unsigned long long)c->max_unsigned,
                                 (unsigned long long)c->newest_cp);
  c->rc = audit_verifier_add_entry(c->v, index, data, len, leaf_hash, NULL);
  audit_verifier_sealed_flag(c->v, index, sealed, data, len);
  if (c->n_latest == c->cap_latest) {
    uint64_t cap = c->cap_latest ? c->cap_latest * 2 : 4096;
    int64_t *p = realloc(c->latest, cap * sizeof *p);
    if (!p) return c->rc = LISEC_ENOMEM;
    c->latest = p;
    c->cap_latest = cap;
  }
  int64_t prev = c->n_latest ? c->latest[c->n_latest - 1] : INT64_MIN;
  c->latest[c->n_latest++] = time_ms > prev ? time_ms : prev;
  return c->rc;
}

static int read_vkey_file(const char *path, audit_vkey *k, lisec_err *err) {
  uint8_t *text = NULL;
  size_t len = 0;
  int rc = lisec_file_read(path, 1024, &text, &len, err);
  if (!rc) rc = audit_vkey_parse((const char *)text, k, err);
  free(text);
  return rc ? lisec_err_wrap(err, "%s", path) : 0;
}

/* The restores this auditor has verified ("restores": the size and root of
 * each checkpoint that carries a restore line): part of the history it saw,
 * so none of them can excuse a departure from it; only a restore it has not
 * seen replaces what it saw. At most STATE_RESTORES_MAX, the newest kept. */
#define STATE_RESTORES_MAX 256

typedef struct known_restores {
  audit_checkpoint cp[STATE_RESTORES_MAX];
  size_t n;
} known_restores;

static int state_restores_load(const json_t *arr, known_restores *out, lisec_err *err) {
  out->n = 0;
  if (!arr) return 0; /* a state written before restores were kept */
  if (!json_is_array(arr) || json_array_size(arr) > STATE_RESTORES_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "\"restores\" is not an array of at most %d checkpoints",
                         STATE_RESTORES_MAX);
  size_t i;
  json_t *it;
  json_array_foreach(arr, i, it) {
    json_t *size = json_object_get(it, "tree_size");
    const char *root = json_string_value(json_object_get(it, "root"));
    audit_checkpoint *cp = &out->cp[out->n];
    memset(cp, 0, sizeof *cp);
    if (!json_is_integer(size) || json_integer_value(size) < 0 || !root || strlen(root) != 64 ||
        lisec_hex_decode(root, cp->root, AUDIT_HASH_LEN) != 0)
      return lisec_err_set(err, LISEC_EINVAL, "\"restores\"[%zu] is not {\"tree_size\", \"root\" (hex)}", i);
    cp->size = (uint64_t)json_integer_value(size);
    out->n++;
  }
  return 0;
}

static bool restores_has(const known_restores *k, const audit_checkpoint *cp) {
  for (size_t i = 0; i < k->n; i++)
    if (k->cp[i].size == cp->size && memcmp(k->cp[i].root, cp->root, AUDIT_HASH_LEN) == 0) return true;
  return false;
}

/* The state file: the verifier key this auditor pinned and the newest
 * checkpoint it verified (its size and root, as the signed note), as JSON,
 * and the restores it verified. It is either absent (a fresh auditor) or
 * complete: a file that exists but is empty, malformed or lacks either
 * field is an error naming what is missing, never read as a fresh start,
 * since that would silently drop the rollback protection the state exists
 * for. */
static int state_load(const char *path, audit_vkey *k, bool *have_key, audit_checkpoint *seen,
                      bool *have_seen, known_restores *known, lisec_err *err) {
  static const char *const start_over =
      "; a state file names the checkpoint this auditor saw, or is absent (move it away only to "
      "start over as a fresh auditor)";
  *have_key = *have_seen = false;
  uint8_t *text = NULL;
  size_t len = 0;
  int rc = lisec_file_read(path, 64 * 1024, &text, &len, err);
  if (rc == LISEC_EIO && access(path, F_OK) != 0 && errno == ENOENT) {
    lisec_err_clear(err);
    return 0; /* first run */
  }
  if (rc) return rc;
  json_t *j = NULL;
  if (len == 0) rc = lisec_err_set(err, LISEC_EINVAL, "the file is empty%s", start_over);
  else rc = lisec_json_parse((const char *)text, len, &j, err);
  free(text);
  if (!rc && !json_is_object(j))
    rc = lisec_err_set(err, LISEC_EINVAL, "not a JSON object%s", start_over);
  const char *vkey = NULL, *note = NULL;
  lisec_err e = {0};
  if (!rc && lisec_json_get_str(j, "vkey", true, 1024, &vkey, &e) != 0)
    rc = lisec_err_set(err, LISEC_EINVAL, "%s: the verifier key this auditor pinned%s", e.msg, start_over);
  if (!rc && lisec_json_get_str(j, "checkpoint", true, AUDIT_NOTE_MAX, &note, &e) != 0)
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "%s: the checkpoint this auditor saw (its tree size and root, as a signed note)%s",
                       e.msg, start_over);
  if (!rc) {
    rc = audit_vkey_parse(vkey, k, err);
    *have_key = rc == 0;
  }
  if (!rc && state_restores_load(json_object_get(j, "restores"), known, &e) != 0)
    rc = lisec_err_set(err, LISEC_EINVAL, "%s: the restores this auditor verified%s", e.msg, start_over);
  if (!rc) {
    /* The checkpoint is stored signed, so the state file itself cannot be
     * edited into a different history without the log's key. */
    rc = audit_note_open(note, strlen(note), k, seen, err);
    *have_seen = rc == 0;
  }
  json_decref(j);
  return rc ? lisec_err_wrap(err, "state file %s", path) : 0;
}

/* Saves the key, the checkpoint and the restores: those this auditor knew
 * (a history a later restore replaced stays known: a copy of it put back
 * must not pass as a new restore) and those of the log it just verified. */
static int state_save(const char *path, const audit_vkey *k, const char *note, const known_restores *known,
                      const audit_verifier *v, lisec_err *err) {
  char *vkey = NULL;
  int rc = audit_vkey_format(k, &vkey, err);
  if (rc) return rc;
  known_restores *all = malloc(sizeof *all);
  json_t *arr = all ? json_array() : NULL;
  if (arr) {
    *all = *known;
    audit_checkpoint cp;
    for (size_t i = 0; audit_verifier_restore(v, i, &cp); i++) {
      if (restores_has(all, &cp)) continue;
      if (all->n == STATE_RESTORES_MAX) memmove(all->cp, all->cp + 1, --all->n * sizeof all->cp[0]);
      all->cp[all->n++] = cp;
    }
    for (size_t i = 0; i < all->n; i++) {
      char hex[2 * AUDIT_HASH_LEN + 1];
      lisec_hex_encode(all->cp[i].root, AUDIT_HASH_LEN, hex);
      json_array_append_new(arr, json_pack("{s:I, s:s}", "tree_size", (json_int_t)all->cp[i].size, "root", hex));
    }
  }
  free(all);
  /* "o" takes arr, also when packing fails */
  json_t *j = arr ? json_pack("{s:s, s:s, s:o}", "vkey", vkey, "checkpoint", note, "restores", arr) : NULL;
  free(vkey);
  char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
  json_decref(j);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  rc = lisec_file_write_atomic(path, text, strlen(text), 0600, err);
  free(text);
  return rc;
}

/* The note of the newest verified checkpoint, found again by its size and
 * root: the source is read again, and a note signed for that size with
 * another root (lisecd, or the database, now showing another history) must
 * not become the history this auditor saw. */
typedef struct find_note_ctx {
  uint64_t size;
  const uint8_t *root;
  char *note;
  const audit_vkey *k;
  bool other_root; /* a note signed for that size with another root */
} find_note_ctx;

static int find_note(void *ctx, uint64_t size, const char *note) {
  find_note_ctx *c = ctx;
  audit_checkpoint cp;
  lisec_err e = {0};
  if (size != c->size || audit_note_open(note, strlen(note), c->k, &cp, &e) != 0 || cp.size != size) return 0;
  if (!crypto_ct_equal(cp.root, c->root, AUDIT_HASH_LEN)) c->other_root = true;
  else if (!c->note) c->note = strdup(note);
  return 0;
}

/* ---- timestamps (issue 19 item 1) ----------------------------------------- */

/* Every checkpoint's timestamp as the source holds it: an object keyed by
 * the tree size in decimal, each {"token": base64} or {"error": why}. */
static int stamp_doc(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  json_t *j = json_loads(body, 0, NULL);
  if (json_is_object(j)) json_object_set(ctx, id, j); /* anything else reads as no timestamp */
  json_decref(j);
  return 0;
}

static int stamp_item(void *ctx, size_t i, const json_t *it, lisec_err *err) {
  (void)i, (void)err;
  json_t *ts = json_object_get(it, "timestamp");
  json_int_t size = json_integer_value(json_object_get(it, "tree_size"));
  char id[24];
  snprintf(id, sizeof id, "%lld", (long long)size);
  if (json_is_object(ts)) json_object_set(ctx, id, ts);
  return 0;
}

static int source_timestamps(source *src, json_t **out, lisec_err *err) {
  *out = json_object();
  if (!*out) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (src->db) return store_doc_list(src->db, AUDIT_TIMESTAMP_DOC_KIND, stamp_doc, *out, err);
  return online_checkpoints(src, stamp_item, *out, err);
}

typedef struct stamp_ctx {
  json_t *stamps; /* size -> stored timestamp */
  const uint8_t *ca;
  size_t ca_len;
  json_t *report; /* one row per checkpoint */
  uint64_t ok, missing, failed, unchecked, late;
  const int64_t *latest; /* verify_ctx's */
  uint64_t n_latest;
  int64_t skew_ms; /* --clock-skew-s */
} stamp_ctx;

/* One checkpoint's timestamp: the token's imprint must be SHA-256 of this
 * very note, its signature must chain to the TSA CA. */
static int stamp_check(void *ctx, uint64_t size, const char *note) {
  stamp_ctx *c = ctx;
  char id[24];
  snprintf(id, sizeof id, "%llu", (unsigned long long)size);
  json_t *ts = json_object_get(c->stamps, id);
  const char *b64 = json_string_value(json_object_get(ts, "token"));
  json_t *row = json_pack("{s:I}", "tree_size", (json_int_t)size);
  if (!row) return LISEC_ENOMEM;
  if (!b64) {
    const char *why = json_string_value(json_object_get(ts, "error"));
    c->missing++;
    json_object_set_new(row, "timestamped", json_false());
    json_object_set_new(row, "reason", json_string(why ? why : "no timestamp stored"));
  } else if (!c->ca) {
    c->unchecked++;
    json_object_set_new(row, "timestamped", json_true());
    json_object_set_new(row, "verified", json_false());
  } else {
    uint8_t *tok = NULL, digest[32];
    size_t tok_len = 0;
    crypto_tsa_info info;
    lisec_err e = {0};
    crypto_sha256(note, strlen(note), digest);
    int rc = crypto_base64_decode(b64, CRYPTO_TSA_MAX, &tok, &tok_len, &e);
    if (!rc) rc = crypto_tsa_token_verify(tok, tok_len, digest, c->ca, c->ca_len, &info, &e);
    free(tok);
    json_object_set_new(row, "timestamped", json_true());
    json_object_set_new(row, "verified", json_boolean(rc == 0));
    if (rc) {
      c->failed++;
      json_object_set_new(row, "error", json_string(e.msg));
    } else {
      c->ok++;
      json_object_set_new(row, "gen_time", json_string(info.gen_time));
      /* Every entry below the size existed by genTime: one that claims a
       * later time (beyond the skew allowed and genTime's dropped
       * fraction) had lisecd's clock ahead, or its time was altered. */
      if (size > 0 && size <= c->n_latest &&
          c->latest[size - 1] > info.gen_time_s * 1000 + 1000 + c->skew_ms) {
        c->late++;
        char when[32];
        lisec_time_format(c->latest[size - 1] / 1000, when);
        json_object_set_new(row, "entries_after_gen_time", json_string(when));
      }
      json_object_set_new(row, "tsa", json_string(info.signer));
      json_object_set_new(row, "serial", json_string(info.serial));
    }
  }
  json_array_append_new(c->report, row);
  return 0;
}

static void stamp_print(const stamp_ctx *c, bool require, bool asked) {
  /* A log that never had a TSA says nothing of timestamps unless asked. */
  if (!asked && json_object_size(c->stamps) == 0) return;
  size_t i;
  json_t *row;
  json_array_foreach(c->report, i, row) {
    long long size = (long long)json_integer_value(json_object_get(row, "tree_size"));
    const char *gen = json_string_value(json_object_get(row, "gen_time"));
    const char *e = json_string_value(json_object_get(row, "error"));
    const char *why = json_string_value(json_object_get(row, "reason"));
    const char *late = json_string_value(json_object_get(row, "entries_after_gen_time"));
    if (gen) printf("  checkpoint at size %lld: timestamped, genTime %s (%s)\n", size, gen,
                    json_string_value(json_object_get(row, "tsa")));
    if (late)
      printf("  checkpoint at size %lld: FAILED: entries below it claim times up to %s, after its genTime %s "
             "(lisecd's clock was ahead, or the times were altered)\n",
             size, late, gen);
    else if (e) printf("  checkpoint at size %lld: timestamp FAILED: %s\n", size, e);
    else if (why) printf("  checkpoint at size %lld: not timestamped%s: %s\n", size, require ? " (FAILED: "
                         "--require-timestamps)" : "", why);
  }
  if (c->unchecked)
    printf("  %llu checkpoint timestamp(s) not verified: give --tsa-ca FILE (the TSA's CA)\n",
           (unsigned long long)c->unchecked);
}

static int cmd_verify(int argc, char **argv) {
  const char *db = NULL, *state = NULL, *pubkey = NULL, *tsa_ca = NULL;
  bool require_ts = false;
  uint64_t skew_s = 60, max_unsigned = TAIL_MAX;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--db") == 0) db = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--tsa-ca") == 0) tsa_ca = argv[++i];
    else if (strcmp(argv[i], "--require-timestamps") == 0) require_ts = true;
    else if (i + 1 < argc && strcmp(argv[i], "--clock-skew-s") == 0 && parse_u64(argv[i + 1], &skew_s) == 0 &&
             skew_s <= 86400)
      i++;
    else if (i + 1 < argc && strcmp(argv[i], "--max-unsigned") == 0 && parse_u64(argv[i + 1], &max_unsigned) == 0 &&
             max_unsigned >= 1 && max_unsigned <= UINT32_MAX)
      i++;
    else if (i + 1 < argc && strcmp(argv[i], "--state") == 0) state = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--pubkey") == 0) pubkey = argv[++i];
    else return audit_usage();
  }
  lisec_err err = {0};
  audit_vkey key, pinned;
  audit_checkpoint seen;
  bool have_pinned = false, have_seen = false;
  static known_restores known; /* 10 KB: not on the stack */
  known.n = 0;
  if (state && state_load(state, &pinned, &have_pinned, &seen, &have_seen, &known, &err))
    return cli_fail("audit verify: %s", err.msg);
  if (pubkey) {
    if (read_vkey_file(pubkey, &key, &err)) return cli_fail("audit verify: --pubkey %s", err.msg);
    if (have_pinned && (strcmp(key.name, pinned.name) != 0 || memcmp(key.pk, pinned.pk, 32) != 0))
      return cli_fail("audit verify: --pubkey differs from the key pinned in %s; move the state "
                      "file away to start over with a new key",
                      state);
  } else if (have_pinned) {
    key = pinned;
  } else {
    return cli_fail("audit verify: no checkpoint key: give --pubkey FILE (the log's verifier key)");
  }
  stamp_ctx sc = {.report = json_array(), .skew_ms = (int64_t)skew_s * 1000};
  uint8_t *ca_pem = NULL;
  if (tsa_ca) {
    if (lisec_file_read(tsa_ca, CRYPTO_TSA_MAX, &ca_pem, &sc.ca_len, &err))
      return cli_fail("audit verify: --tsa-ca %s", err.msg);
    sc.ca = ca_pem;
  }
  source src;
  if (source_open(&src, db, &err)) {
    free(ca_pem);
    json_decref(sc.report);
    return cli_fail("audit verify: %s", err.msg);
  }
  verify_ctx c = {.key = key, .max_entries = UINT64_MAX, .max_unsigned = max_unsigned, .err = &err};
  int rc = audit_verifier_new(&key, have_seen ? &seen : NULL, &c.v, &err);
  for (size_t i = 0; !rc && i < known.n; i++)
    if (audit_verifier_add_known_restore(c.v, &known.cp[i]) != 0)
      rc = lisec_err_set(&err, LISEC_ENOMEM, "out of memory");
  if (!rc) rc = source_checkpoints(&src, verify_cp, &c, &err);
  if (!src.db) {
    c.max_entries = c.newest_cp + max_unsigned;
    src.cp_max = c.n_cps + CP_TAIL_MAX;
  }
  if (!rc) rc = source_entries(&src, 0, UINT64_MAX, verify_entry, &c, &err);
  /* the timestamps of the checkpoints, read after them: every one listed
   * above has its document by now, if it ever gets one */
  sc.latest = c.latest;
  sc.n_latest = c.n_latest;
  if (!rc) rc = source_timestamps(&src, &sc.stamps, &err);
  if (!rc) rc = source_checkpoints(&src, stamp_check, &sc, &err);
  free(ca_pem);
  if (rc) {
    json_decref(sc.stamps);
    json_decref(sc.report);
    free(c.latest);
    audit_verifier_free(c.v);
    source_close(&src);
    return cli_fail("audit verify: %s", err.msg[0] ? err.msg : lisec_err_name(rc));
  }
  audit_verify_summary sum;
  audit_verifier_finish(c.v, &sum);
  /* A rollover the log carries (signed by both keys) moves this auditor to the new key. */
  audit_vkey now;
  audit_verifier_current_key(c.v, &now);
  char *now_text = NULL;
  bool rolled = !audit_vkey_equal(&now, &key);
  if (rolled && audit_vkey_format(&now, &now_text, &err)) now_text = NULL;
  json_t *findings = json_array();
  const char *f;
  for (size_t i = 0; (f = audit_verifier_finding(c.v, i)); i++) json_array_append_new(findings, json_string(f));
  char root_hex[65] = "";
  if (sum.have_newest) lisec_hex_encode(sum.newest.root, 32, root_hex);
  json_t *out = json_pack("{s:b, s:I, s:I, s:I, s:I, s:o}", "intact", sum.findings == 0, "entries",
                          (json_int_t)sum.entries, "sealed", (json_int_t)sum.sealed,
                          "checkpoints_verified", (json_int_t)sum.checkpoints_ok, "unsigned_entries",
                          (json_int_t)sum.unsigned_tail, "findings", findings);
  if (sum.have_newest) {
    json_object_set_new(out, "checkpoint_size", json_integer((json_int_t)sum.newest.size));
    json_object_set_new(out, "checkpoint_root", json_string(root_hex));
  }
  if (now_text) json_object_set_new(out, "key_rolled_over_to", json_string(now_text));
  json_object_set_new(out, "restores", json_integer((json_int_t)sum.restores));
  bool ts_bad = sc.failed || sc.late || (require_ts && sc.missing);
  json_object_set_new(out, "timestamps", sc.report);
  json_object_set_new(out, "timestamps_verified", json_integer((json_int_t)sc.ok));
  json_object_set_new(out, "timestamps_failed", json_integer((json_int_t)sc.failed));
  json_object_set_new(out, "untimestamped_checkpoints", json_integer((json_int_t)sc.missing));
  json_object_set_new(out, "checkpoints_with_entries_after_gen_time", json_integer((json_int_t)sc.late));
  json_object_set_new(out, "timestamps_ok", json_boolean(!ts_bad));
  if (sum.restores) {
    json_object_set_new(out, "restored_from", json_integer((json_int_t)sum.restored_from));
    json_object_set_new(out, "seen_history_replaced", json_boolean(sum.seen_replaced));
  }
  if (cli.json) {
    cli_print_json(out);
  } else if (sum.findings == 0) {
    printf("audit log intact: %llu entries (%llu sealed), %llu checkpoint(s) verified",
           (unsigned long long)sum.entries, (unsigned long long)sum.sealed,
           (unsigned long long)sum.checkpoints_ok);
    if (sum.have_newest)
      printf("; newest signed size %llu, root %s", (unsigned long long)sum.newest.size, root_hex);
    printf("\n");
    if (sum.unsigned_tail)
      printf("  %llu entries after the newest checkpoint are not signed yet\n",
             (unsigned long long)sum.unsigned_tail);
    if (now_text) printf("  the checkpoint key was rolled over (signed by both keys): now %s\n", now_text);
    if (sum.restores)
      printf("  restored from a backup at size %llu (the restore is signed in the log)%s\n",
             (unsigned long long)sum.restored_from,
             sum.seen_replaced ? "; the later history this auditor saw was replaced by it" : "");
  } else {
    printf("audit log TAMPERED: %llu finding(s)\n", (unsigned long long)sum.findings);
    for (size_t i = 0; (f = audit_verifier_finding(c.v, i)); i++) printf("  %s\n", f);
    if (sum.findings > json_array_size(findings))
      printf("  ... and %llu more\n", (unsigned long long)(sum.findings - json_array_size(findings)));
  }
  if (!cli.json) {
    stamp_print(&sc, require_ts, tsa_ca || require_ts);
    if (ts_bad)
      printf("checkpoint timestamps FAILED: %llu forged, altered or not over their checkpoint, %llu with entries "
             "dated after genTime, %llu missing%s\n",
             (unsigned long long)sc.failed, (unsigned long long)sc.late, (unsigned long long)sc.missing,
             require_ts ? " (--require-timestamps)" : "");
  }
  json_decref(out);
  rc = sum.findings || ts_bad ? CLI_REFUSED : CLI_OK;
  /* Remember the newest checkpoint only from an intact log, and only one
   * that does not go back from what this auditor saw, unless a signed
   * restore it had not seen replaced that (then the restored history it
   * has just verified, and the restore, are what it saw: left at the
   * replaced history, the restore went on excusing a truncation of it). */
  if (rc == CLI_OK && state && sum.have_newest &&
      (!have_seen || sum.newest.size >= seen.size || sum.seen_replaced)) {
    find_note_ctx fc = {.size = sum.newest.size, .root = sum.newest.root, .k = &now};
    int frc = source_checkpoints(&src, find_note, &fc, &err);
    if (!frc && fc.other_root) {
      fprintf(stderr,
              "audit verify: the checkpoint at size %llu was read again with another signed root than the one "
              "verified (two signed roots for one size: a split view); %s not saved\n",
              (unsigned long long)sum.newest.size, state);
      rc = CLI_REFUSED;
    } else if (!frc && fc.note) {
      if (state_save(state, &now, fc.note, &known, c.v, &err)) rc = cli_fail("audit verify: saving %s: %s", state, err.msg);
    } else {
      rc = cli_fail("audit verify: the newest checkpoint went away while reading; state not saved");
    }
    free(fc.note);
  } else if (rc == CLI_OK && state && !have_seen) {
    /* Nothing signed was seen (an empty log): a state without a checkpoint
     * would not be one, so the auditor stays fresh. */
    fprintf(stderr, "no signed checkpoint yet: %s not written\n", state);
  }
  free(now_text);
  free(c.latest);
  json_decref(sc.stamps);
  audit_verifier_free(c.v);
  source_close(&src);
  return rc;
}

/* ---- rollover ------------------------------------------------------------ */

static int cmd_rollover(int argc, char **argv) {
  (void)argv;
  if (argc != 1) return audit_usage();
  long status = 0;
  json_t *reply = NULL;
  lisec_err err = {0};
  if (cli_http_request("POST", "/v1/audit/rollover", NULL, &status, &reply, &err))
    return cli_fail("audit rollover: %s", err.msg);
  int rc = status == 200 ? CLI_OK : cli_http_error(status, reply);
  if (rc == CLI_OK && cli.json) cli_print_json(reply);
  else if (rc == CLI_OK)
    printf("checkpoint key rolled over at size %lld\n  retired: %s\n  now:     %s\n",
           (long long)json_integer_value(json_object_get(reply, "tree_size")),
           json_string_value(json_object_get(reply, "previous_vkey")),
           json_string_value(json_object_get(reply, "vkey")));
  json_decref(reply);
  return rc;
}

/* ---- read ---------------------------------------------------------------- */

typedef struct read_ctx {
  uint8_t sk[32];
  bool have_key;
  uint64_t closed, opened, shown;
  json_t *list;
} read_ctx;

static json_t *str_list(const char *const *items, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) json_array_append_new(a, json_string(items[i]));
  return a;
}

static int read_entry(void *ctx, uint64_t index, int64_t time_ms, bool sealed, const uint8_t *data,
                      size_t len, const uint8_t *leaf_hash) {
  (void)leaf_hash;
  (void)time_ms;
  read_ctx *c = ctx;
  c->shown++;
  uint8_t *plain = NULL;
  size_t plen = 0;
  lisec_err e = {0};
  const uint8_t *rec = data;
  size_t rlen = len;
  bool is_sealed = len > 0 && data[0] == AUDIT_ENTRY_SEALED;
  (void)sealed;
  if (is_sealed) {
    if (!c->have_key || audit_entry_open(data, len, c->sk, &plain, &plen, &e) != 0) {
      c->closed++;
      /* another key, or a box that opens but holds no well-padded entry */
      const char *why = !c->have_key                ? "no key given"
                        : e.code == LISEC_ECRYPTO ? "does not open with this key"
                                                  : e.msg;
      if (cli.json)
        json_array_append_new(c->list, json_pack("{s:I, s:b, s:b, s:s}", "index", (json_int_t)index,
                                                 "sealed", 1, "opened", 0, "error", why));
      else
        printf("#%llu  [sealed to the LI administration: %s]\n", (unsigned long long)index, why);
      return 0;
    }
    c->opened++;
    rec = plain;
    rlen = plen;
  }
  audit_record r;
  if (audit_entry_decode(rec, rlen, &r, &e) != 0) {
    if (cli.json)
      json_array_append_new(c->list, json_pack("{s:I, s:s}", "index", (json_int_t)index, "error", e.msg));
    else
      printf("#%llu  [malformed: %s]\n", (unsigned long long)index, e.msg);
  } else if (cli.json) {
    json_array_append_new(
        c->list,
        json_pack("{s:I, s:I, s:I, s:b, s:b, s:s, s:s, s:s, s:s, s:o, s:o}", "index", (json_int_t)index,
                  "seq", (json_int_t)r.seq, "time_ms", (json_int_t)r.time_ms, "sealed", is_sealed, "li",
                  r.li, "actor", r.actor, "role", r.role, "action", r.action, "outcome", r.outcome,
                  "subjects", str_list(r.subjects, r.n_subjects), "reasons", str_list(r.reasons, r.n_reasons)));
  } else {
    char when[32];
    lisec_time_format(r.time_ms / 1000, when);
    printf("#%llu  %s  %s (%s)  %s", (unsigned long long)index, when, r.actor, r.role, r.action);
    for (size_t i = 0; i < r.n_subjects; i++) printf("%s%s", i ? ", " : "  ", r.subjects[i]);
    printf("  -> %s%s\n", r.outcome, is_sealed ? "  [LI, opened]" : "");
    for (size_t i = 0; i < r.n_reasons; i++) printf("      reason: %s\n", r.reasons[i]);
    if (r.seq != index) printf("      WARNING: the entry says it is #%llu\n", (unsigned long long)r.seq);
  }
  audit_record_clear(&r);
  if (plain) {
    crypto_wipe(plain, plen);
    free(plain);
  }
  return 0;
}

static int load_li_key(const char *path, uint8_t sk[32], lisec_err *err) {
  uint8_t *text = NULL, *key = NULL;
  size_t len = 0, klen = 0;
  int rc = lisec_file_read(path, 1024, &text, &len, err);
  if (rc) return rc;
  while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) text[--len] = 0;
  rc = crypto_base64_decode((const char *)text, 64, &key, &klen, err);
  crypto_wipe(text, len);
  free(text);
  if (!rc && klen != 32) rc = lisec_err_set(err, LISEC_EINVAL, "%s: not an X25519 secret key (32 bytes in base64)", path);
  if (!rc) memcpy(sk, key, 32);
  if (key) crypto_wipe(key, klen);
  free(key);
  return rc;
}

static int cmd_read(int argc, char **argv) {
  const char *db = NULL, *keyfile = NULL;
  uint64_t from = 0, to = UINT64_MAX;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--db") == 0) db = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--li-key") == 0) keyfile = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--key") == 0) keyfile = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--from") == 0 && parse_u64(argv[i + 1], &from) == 0) i++;
    else if (i + 1 < argc && strcmp(argv[i], "--to") == 0 && parse_u64(argv[i + 1], &to) == 0) i++;
    else return audit_usage();
  }
  /* `--key` is also lisec's global option for the TLS client key, so main()
   * takes it first; offline there is no TLS, and it can only mean the LI key. */
  if (!keyfile && db && cli.key) keyfile = cli.key;
  if (from > to) return cli_fail("audit read: --from is after --to");
  read_ctx c = {.list = json_array()};
  lisec_err err = {0};
  if (keyfile) {
    if (load_li_key(keyfile, c.sk, &err)) {
      json_decref(c.list);
      return cli_fail("audit read: %s", err.msg);
    }
    c.have_key = true;
  }
  source src;
  int rc = source_open(&src, db, &err);
  if (!rc) rc = source_entries(&src, from, to, read_entry, &c, &err);
  source_close(&src);
  crypto_wipe(c.sk, sizeof c.sk);
  if (rc) {
    json_decref(c.list);
    return cli_fail("audit read: %s", err.msg);
  }
  if (cli.json) {
    json_t *out = json_pack("{s:o, s:I, s:I}", "entries", c.list, "opened", (json_int_t)c.opened,
                            "closed", (json_int_t)c.closed);
    cli_print_json(out);
    json_decref(out);
  } else {
    json_decref(c.list);
    fprintf(stderr, "%llu entries; %llu sealed opened, %llu sealed left closed\n",
            (unsigned long long)c.shown, (unsigned long long)c.opened, (unsigned long long)c.closed);
  }
  /* Entries that stayed closed are an answer, not an error: exit 1. */
  return c.closed ? CLI_REFUSED : CLI_OK;
}

/* ---- prove --------------------------------------------------------------- */

typedef struct prove_ctx {
  audit_tree *tree;
  source *src;
  int rc;
  lisec_err *err;
  /* for fetching leaves back */
  uint8_t (*out)[AUDIT_HASH_LEN];
  uint64_t from, got;
} prove_ctx;

static int prove_build(void *ctx, uint64_t index, int64_t time_ms, bool sealed, const uint8_t *data,
                       size_t len, const uint8_t *leaf_hash) {
  (void)time_ms;
  (void)sealed;
  (void)leaf_hash;
  prove_ctx *c = ctx;
  if (index != audit_tree_size(c->tree))
    return lisec_err_set(c->err, LISEC_EINVAL, "entry %llu is missing: run lisec audit verify",
                         (unsigned long long)audit_tree_size(c->tree));
  uint8_t h[AUDIT_HASH_LEN];
  audit_hash_leaf(data, len, h);
  return audit_tree_append(c->tree, h, c->err);
}

static int prove_leaf(void *ctx, uint64_t index, int64_t time_ms, bool sealed, const uint8_t *data,
                      size_t len, const uint8_t *leaf_hash) {
  (void)time_ms;
  (void)sealed;
  (void)leaf_hash;
  prove_ctx *c = ctx;
  if (index != c->from + c->got) return LISEC_EINVAL;
  audit_hash_leaf(data, len, c->out[c->got++]);
  return 0;
}

static int prove_fetch(void *ctx, uint64_t from, uint64_t count, uint8_t (*out)[AUDIT_HASH_LEN],
                       lisec_err *err) {
  prove_ctx *c = ctx;
  c->out = out;
  c->from = from;
  c->got = 0;
  int rc = source_entries(c->src, from, from + count, prove_leaf, c, err);
  if (!rc && c->got != count) rc = lisec_err_set(err, LISEC_EINVAL, "entries changed while proving");
  return rc;
}

typedef struct newest_ctx {
  uint64_t size;
  char *note;
} newest_ctx;

static int newest_cp(void *ctx, uint64_t size, const char *note) {
  newest_ctx *c = ctx;
  if (!c->note || size >= c->size) {
    free(c->note);
    c->note = strdup(note);
    c->size = size;
  }
  return 0;
}

/* Online, lisecd builds the proof and this side checks it, so the cost is
 * a few requests whatever the log's size: the newest checkpoint's signature
 * with the pinned key, then the proof against the signed root (or against
 * a root that a consistency proof ties to the signed one). Nothing lisecd
 * says is printed unless it was checked. */

static int reply_u64(const json_t *o, const char *key, uint64_t *out, lisec_err *err) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return lisec_err_set(err, LISEC_EINVAL, "lisecd's proof has no valid \"%s\"", key);
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

static int reply_hash(const json_t *o, const char *key, uint8_t out[32], lisec_err *err) {
  const char *hex = json_string_value(json_object_get(o, key));
  if (!hex || strlen(hex) != 64 || lisec_hex_decode(hex, out, 32) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "lisecd's proof has no valid \"%s\" (64 hex digits)", key);
  return 0;
}

static int reply_path(const json_t *o, const char *key, audit_proof *p, lisec_err *err) {
  json_t *arr = json_object_get(o, key), *it;
  size_t i;
  if (!json_is_array(arr) || json_array_size(arr) > AUDIT_PROOF_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "lisecd's proof has no valid \"%s\"", key);
  p->len = json_array_size(arr);
  json_array_foreach(arr, i, it) {
    const char *hex = json_string_value(it);
    if (!hex || strlen(hex) != 64 || lisec_hex_decode(hex, p->hash[i], 32) != 0)
      return lisec_err_set(err, LISEC_EINVAL, "lisecd's proof: \"%s\"[%zu] is not a SHA-256 hash in hex", key, i);
  }
  return 0;
}

/* GETs a consistency proof from old to size and checks it ends at root;
 * old_root gets the root it proves for old. */
static int online_consistency(uint64_t old, uint64_t size, const uint8_t root[32], uint8_t old_root[32],
                              audit_proof *p, lisec_err *err) {
  char path[128];
  snprintf(path, sizeof path, "/v1/audit/proof/consistency?old=%llu&tree_size=%llu", (unsigned long long)old,
           (unsigned long long)size);
  json_t *r = NULL;
  int rc = http_get(path, &r, err);
  uint64_t got_old = 0, got_size = 0;
  uint8_t got_root[32];
  if (!rc) rc = reply_u64(r, "old_size", &got_old, err);
  if (!rc) rc = reply_u64(r, "tree_size", &got_size, err);
  if (!rc) rc = reply_hash(r, "old_root", old_root, err);
  if (!rc) rc = reply_hash(r, "root", got_root, err);
  if (!rc) rc = reply_path(r, "consistency_path", p, err);
  if (!rc && (got_old != old || got_size != size))
    rc = lisec_err_set(err, LISEC_ECRYPTO, "lisecd answered a consistency proof from %llu to %llu, not %llu to %llu",
                       (unsigned long long)got_old, (unsigned long long)got_size, (unsigned long long)old,
                       (unsigned long long)size);
  if (!rc && !crypto_ct_equal(got_root, root, 32))
    rc = lisec_err_set(err, LISEC_ECRYPTO, "lisecd's root at size %llu is not the signed one", (unsigned long long)size);
  if (!rc) rc = audit_verify_consistency(old, size, old_root, root, p, err);
  json_decref(r);
  return rc;
}

typedef struct prove_ask {
  bool by_index, by_old, by_size;
  uint64_t index, old, size;
  const char *leaf_hex;
  const uint8_t *leaf;
} prove_ask;

static int prove_online(const audit_vkey *key, const prove_ask *ask, json_t **out, lisec_err *err) {
  /* 1. The newest checkpoint, signed with the pinned key. */
  json_t *r = NULL;
  int rc = http_get("/v1/audit/checkpoint", &r, err);
  if (rc) return rc;
  audit_checkpoint cp;
  const char *text = json_string_value(json_object_get(r, "note"));
  char *note = text ? strdup(text) : NULL;
  json_decref(r);
  r = NULL;
  if (!note) return lisec_err_set(err, LISEC_EINVAL, "lisecd's checkpoint reply has no note");
  rc = audit_note_open(note, strlen(note), key, &cp, err);
  if (rc) lisec_err_wrap(err, "lisecd's newest checkpoint");
  /* 2. The root at the size asked for: the signed one, or one a
   * consistency proof ties to it. */
  uint64_t size = ask->by_size ? ask->size : cp.size;
  uint8_t root[32];
  audit_proof p;
  if (!rc && size == 0) rc = lisec_err_set(err, LISEC_EINVAL, "--size: 1 or more");
  if (!rc && size > cp.size)
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "size %llu is beyond the newest signed checkpoint (size %llu): nothing signed vouches "
                       "for it yet",
                       (unsigned long long)size, (unsigned long long)cp.size);
  if (!rc && size == cp.size) memcpy(root, cp.root, 32);
  else if (!rc) rc = online_consistency(size, cp.size, cp.root, root, &p, err);
  /* 3. The proof asked for, against that root. */
  char path[192];
  if (!rc && ask->by_old) {
    if (ask->old == 0 || ask->old > size)
      rc = lisec_err_set(err, LISEC_EINVAL, "--old: from 1 to the tree size %llu (RFC 9162 §2.1.4)",
                         (unsigned long long)size);
    uint8_t old_root[32];
    if (!rc) rc = online_consistency(ask->old, size, root, old_root, &p, err);
    if (!rc) *out = audit_consistency_json(ask->old, size, old_root, root, &p);
  } else if (!rc) {
    if (ask->leaf_hex)
      snprintf(path, sizeof path, "/v1/audit/proof/inclusion?leaf_hash=%s&tree_size=%llu", ask->leaf_hex,
               (unsigned long long)size);
    else
      snprintf(path, sizeof path, "/v1/audit/proof/inclusion?index=%llu&tree_size=%llu",
               (unsigned long long)ask->index, (unsigned long long)size);
    uint64_t index = 0, got_size = 0;
    uint8_t leaf[32], got_root[32];
    rc = http_get(path, &r, err);
    if (!rc) rc = reply_u64(r, "index", &index, err);
    if (!rc) rc = reply_u64(r, "tree_size", &got_size, err);
    if (!rc) rc = reply_hash(r, "leaf_hash", leaf, err);
    if (!rc) rc = reply_hash(r, "root", got_root, err);
    if (!rc) rc = reply_path(r, "inclusion_path", &p, err);
    if (!rc && (got_size != size || (ask->leaf ? !crypto_ct_equal(leaf, ask->leaf, 32) : index != ask->index)))
      rc = lisec_err_set(err, LISEC_ECRYPTO, "lisecd answered a proof for another entry or size than asked");
    if (!rc && !crypto_ct_equal(got_root, root, 32))
      rc = lisec_err_set(err, LISEC_ECRYPTO, "lisecd's root at size %llu is not the signed one", (unsigned long long)size);
    if (!rc) rc = audit_verify_inclusion(index, size, leaf, &p, root, err);
    if (!rc) *out = audit_inclusion_json(index, size, leaf, root, &p);
    json_decref(r);
  }
  if (!rc && !*out) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc && size == cp.size) json_object_set_new(*out, "checkpoint", json_string(note));
  free(note);
  return rc;
}

static int cmd_prove(int argc, char **argv) {
  const char *db = NULL, *leaf_hex = NULL, *pubkey = NULL;
  uint64_t index = 0, old = 0, size = 0;
  bool by_index = false, by_old = false, by_size = false;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--db") == 0) db = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--pubkey") == 0) pubkey = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--index") == 0 && parse_u64(argv[i + 1], &index) == 0) by_index = true, i++;
    else if (i + 1 < argc && strcmp(argv[i], "--old") == 0 && parse_u64(argv[i + 1], &old) == 0) by_old = true, i++;
    else if (i + 1 < argc && strcmp(argv[i], "--size") == 0 && parse_u64(argv[i + 1], &size) == 0) by_size = true, i++;
    else if (i + 1 < argc && strcmp(argv[i], "--leaf") == 0) leaf_hex = argv[++i];
    else return audit_usage();
  }
  if ((int)by_index + (int)by_old + (int)(leaf_hex != NULL) != 1) return audit_usage();
  uint8_t want_leaf[32];
  if (leaf_hex && (strlen(leaf_hex) != 64 || lisec_hex_decode(leaf_hex, want_leaf, 32) != 0))
    return cli_fail("audit prove: --leaf takes a SHA-256 leaf hash in hex");
  lisec_err err = {0};
  if (!db) {
    audit_vkey key;
    if (!pubkey)
      return cli_fail("audit prove: online, give --pubkey FILE: the verifier key the checkpoint must be "
                      "signed with (pinned from a trusted channel)");
    if (read_vkey_file(pubkey, &key, &err)) return cli_fail("audit prove: --pubkey %s", err.msg);
    prove_ask ask = {.by_index = by_index, .by_old = by_old, .by_size = by_size, .index = index,
                     .old = old, .size = size, .leaf_hex = leaf_hex, .leaf = leaf_hex ? want_leaf : NULL};
    json_t *out = NULL;
    if (prove_online(&key, &ask, &out, &err)) {
      json_decref(out);
      return cli_fail("audit prove: %s", err.msg);
    }
    cli_print_json(out);
    json_decref(out);
    return CLI_OK;
  }
  if (pubkey)
    return cli_fail("audit prove: --pubkey is for proofs from lisecd; with --db the checkpoint's signature "
                    "is not checked (lisec audit verify checks the whole database)");
  source src;
  if (source_open(&src, db, &err)) return cli_fail("audit prove: %s", err.msg);
  prove_ctx c = {.src = &src, .err = &err};
  newest_ctx nc = {0};
  /* Leaves below 2^6 are fetched back on demand: 1 byte per entry in memory. */
  int rc = audit_tree_new(6, &c.tree, &err);
  if (!rc) rc = source_checkpoints(&src, newest_cp, &nc, &err);
  if (!rc) rc = source_entries(&src, 0, UINT64_MAX, prove_build, &c, &err);
  uint64_t n = c.tree ? audit_tree_size(c.tree) : 0;
  if (!rc && !by_size) size = nc.note && nc.size <= n ? nc.size : n;
  if (!rc && size > n)
    rc = lisec_err_set(&err, LISEC_EINVAL, "--size %llu is beyond the log's %llu entries",
                       (unsigned long long)size, (unsigned long long)n);
  if (!rc && leaf_hex) {
    /* Which entry has this hash: a scan, as outside tools would do. */
    rc = LISEC_ENOTFOUND;
    for (uint64_t i = 0; i < size && rc == LISEC_ENOTFOUND; i += 64) {
      uint8_t group[64][AUDIT_HASH_LEN];
      uint64_t k = size - i < 64 ? size - i : 64;
      int frc = prove_fetch(&c, i, k, group, &err);
      if (frc) rc = frc;
      for (uint64_t j = 0; !frc && j < k; j++)
        if (memcmp(group[j], want_leaf, 32) == 0) {
          index = i + j;
          rc = 0;
          break;
        }
    }
    if (rc == LISEC_ENOTFOUND) lisec_err_set(&err, rc, "no entry below size %llu has that leaf hash", (unsigned long long)size);
    by_index = true;
  }
  json_t *out = NULL;
  if (!rc) {
    audit_proof p;
    uint8_t root[32], other[32];
    rc = audit_tree_root(c.tree, size, prove_fetch, &c, root, &err);
    if (!rc && by_index) {
      rc = audit_tree_prove_inclusion(c.tree, index, size, prove_fetch, &c, &p, &err);
      uint8_t leaf[1][AUDIT_HASH_LEN];
      if (!rc) rc = prove_fetch(&c, index, 1, leaf, &err);
      /* Checked here with the RFC 9162 verifier before anyone relies on it. */
      if (!rc) rc = audit_verify_inclusion(index, size, leaf[0], &p, root, &err);
      if (!rc) out = audit_inclusion_json(index, size, leaf[0], root, &p);
    } else if (!rc) {
      if (old > size)
        rc = lisec_err_set(&err, LISEC_EINVAL, "--old %llu is beyond size %llu", (unsigned long long)old,
                           (unsigned long long)size);
      if (!rc) rc = audit_tree_prove_consistency(c.tree, old, size, prove_fetch, &c, &p, &err);
      if (!rc) rc = audit_tree_root(c.tree, old, prove_fetch, &c, other, &err);
      if (!rc) rc = audit_verify_consistency(old, size, other, root, &p, &err);
      if (!rc) out = audit_consistency_json(old, size, other, root, &p);
    }
    if (out && nc.note && nc.size == size) json_object_set_new(out, "checkpoint", json_string(nc.note));
  }
  free(nc.note);
  audit_tree_free(c.tree);
  source_close(&src);
  if (rc) {
    json_decref(out);
    return cli_fail("audit prove: %s", err.msg);
  }
  /* Always JSON: the output is for other programs. */
  cli_print_json(out);
  json_decref(out);
  return CLI_OK;
}

/* ---- keys ---------------------------------------------------------------- */

static int cmd_vkey(int argc, char **argv) {
  const char *pem = NULL, *origin = NULL;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--dev-key") == 0) pem = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--origin") == 0) origin = argv[++i];
    else return audit_usage();
  }
  if (!pem || !origin) return audit_usage();
  char *vkey = NULL;
  lisec_err err = {0};
  uint8_t *text = NULL;
  size_t len = 0;
  audit_vkey v;
  int rc = lisec_file_read(pem, 4096, &text, &len, &err);
  if (rc) return cli_fail("audit vkey: %s", err.msg);
  rc = audit_vkey_from_pem(origin, text, len, &v, &err);
  crypto_wipe(text, len); /* a private key, if only a development one */
  free(text);
  if (!rc) rc = audit_vkey_format(&v, &vkey, &err);
  if (rc) return cli_fail("audit vkey: %s: %s", pem, err.msg);
  printf("%s\n", vkey);
  free(vkey);
  return CLI_OK;
}

static int cmd_li_keygen(int argc, char **argv) {
  if (argc != 3) return audit_usage();
  uint8_t pk[32], sk[32];
  lisec_err err = {0};
  char *spk = NULL, *ssk = NULL;
  int rc = audit_li_keygen(pk, sk, &err);
  if (!rc && (crypto_base64_encode(sk, 32, &ssk) || crypto_base64_encode(pk, 32, &spk)))
    rc = lisec_err_set(&err, LISEC_ENOMEM, "out of memory");
  crypto_wipe(sk, sizeof sk);
  if (!rc) {
    char line[64];
    snprintf(line, sizeof line, "%s\n", ssk);
    rc = lisec_file_write_atomic(argv[1], line, strlen(line), 0600, &err);
    crypto_wipe(line, sizeof line);
    if (!rc) {
      snprintf(line, sizeof line, "%s\n", spk);
      rc = lisec_file_write_atomic(argv[2], line, strlen(line), 0644, &err);
    }
  }
  if (ssk) crypto_wipe(ssk, strlen(ssk));
  free(ssk);
  free(spk);
  if (rc) return cli_fail("audit li-keygen: %s", err.msg);
  return CLI_OK;
}

/* ---- witness-reset ------------------------------------------------------- */

/* lisecd beside this lisec (both are installed in one directory), else on
 * PATH; its output and exit status are the answer (0 removed or none, 1
 * not confirmed, 2 error). */
static int cmd_witness_reset(int argc, char **argv) {
  const char *config = NULL;
  bool yes = false;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)) config = argv[++i];
    else if (strcmp(argv[i], "--yes") == 0) yes = true;
    else return audit_usage();
  }
  if (!config) return audit_usage();
  char self[PATH_MAX], lisecd[PATH_MAX + 8] = "lisecd";
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
      *slash = '\0';
      snprintf(lisecd, sizeof lisecd, "%s/lisecd", self);
      if (access(lisecd, X_OK) != 0) snprintf(lisecd, sizeof lisecd, "lisecd");
    }
  }
  char *av[] = {lisecd, "-c", (char *)config, "--witness-reset", yes ? "--yes" : NULL, NULL};
  fflush(NULL);
  execvp(lisecd, av);
  return cli_fail("audit witness-reset: cannot run lisecd (%s): %s; run lisecd -c %s --witness-reset%s", lisecd,
                  strerror(errno), config, yes ? " --yes" : "");
}

int cli_cmd_audit(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0) {
    audit_usage();
    return argc < 2 ? CLI_ERROR : CLI_OK;
  }
  if (strcmp(argv[1], "verify") == 0) return cmd_verify(argc - 1, argv + 1);
  if (strcmp(argv[1], "read") == 0) return cmd_read(argc - 1, argv + 1);
  if (strcmp(argv[1], "prove") == 0) return cmd_prove(argc - 1, argv + 1);
  if (strcmp(argv[1], "vkey") == 0) return cmd_vkey(argc - 1, argv + 1);
  if (strcmp(argv[1], "li-keygen") == 0) return cmd_li_keygen(argc - 1, argv + 1);
  if (strcmp(argv[1], "rollover") == 0) return cmd_rollover(argc - 1, argv + 1);
  if (strcmp(argv[1], "witness-reset") == 0) return cmd_witness_reset(argc - 1, argv + 1);
  return audit_usage();
}
