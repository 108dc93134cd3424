/* The controller's core: opening the shared state (store URL, the vault's
 * KEK, the LI administration's public key) and each context's own store
 * connection, and the status and health use cases. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ctl/clock.h"
#include "ctl/internal.h"

#define LISEC_DEFAULT_STORE "sqlite:/var/lib/lisec/lisec.db"

/* A secret-bearing file of at most max bytes, trailing newlines cut;
 * *out is wiped and freed by the caller. */
static int read_trimmed(const char *path, size_t max, uint8_t **out, size_t *len, lisec_err *err) {
  int rc = lisec_file_read(path, max, out, len, err);
  if (rc) return rc;
  while (*len && ((*out)[*len - 1] == '\n' || (*out)[*len - 1] == '\r' || (*out)[*len - 1] == ' '))
    (*out)[--*len] = 0;
  return 0;
}

/* [audit] li_admin_key (rd_seal_key): a file with the LI (RD)
 * administration's X25519 public key in base64. Without it no LI (RD)
 * record can be written (fail closed). */
static int load_x25519(const lisec_config *cfg, const char *name, uint8_t pk[32], bool *set,
                       lisec_err *err) {
  const char *path = lisec_config_str(cfg, "audit", name, NULL);
  if (!path) return 0;
  uint8_t *text = NULL, *key = NULL;
  size_t len = 0, klen = 0;
  int rc = read_trimmed(path, 1024, &text, &len, err);
  if (rc == 0) rc = crypto_base64_decode((const char *)text, 64, &key, &klen, err);
  if (rc == 0 && klen != 32)
    rc = lisec_err_set(err, LISEC_EINVAL, "%s: an X25519 public key is 32 bytes", path);
  if (rc == 0) {
    memcpy(pk, key, 32);
    *set = true;
  } else {
    lisec_err_wrap(err, "[audit] %s", name);
  }
  free(text);
  free(key);
  return rc;
}

/* [audit]'s numbers, each with its default and bounds. None has a 0 that
 * quietly means its default (review of 2026-12-07: tsa_max_skew_ms = 0
 * read as 300000, not as no tolerance): where 0 has no meaning of its own
 * it is refused, naming the setting. gather_us's 0 is "do not wait" and
 * max_batch's the documented 4096 (ctl/auditlog.c). tsa_max_skew_ms is
 * compared in whole seconds (a TSA's genTime has them): below 1000 every
 * token not made within the same second would fail. Read whether or not
 * tsa_url is set, by the start and by lisecd --check-config alike
 * (ctl_audit_numbers_check). */
enum { A_ENTRIES, A_CP_MS, A_FULL_BELOW, A_BATCH, A_GATHER, A_TSA_TIMEOUT, A_TSA_BYTES, A_TSA_SKEW, A_N };
static const struct {
  const char *key;
  uint64_t def, min, max;
} AUDIT_NUMBERS[A_N] = {
    [A_ENTRIES] = {"checkpoint_entries", 1000, 1, UINT64_MAX / 2},
    [A_CP_MS] = {"checkpoint_ms", 10000, 1, 24u * 3600 * 1000},
    [A_FULL_BELOW] = {"open_full_check_below", CTL_AUDITLOG_OPEN_FULL_BELOW, 1, UINT64_MAX},
    [A_BATCH] = {"max_batch", 0, 0, 32768},
    [A_GATHER] = {"gather_us", 200, 0, 100000},
    [A_TSA_TIMEOUT] = {"tsa_timeout_ms", 5000, 100, 600000},
    [A_TSA_BYTES] = {"tsa_max_bytes", 65536, 1024, 256 * 1024},
    [A_TSA_SKEW] = {"tsa_max_skew_ms", 300000, 1000, 24u * 3600 * 1000},
};

static int audit_number(const lisec_config *cfg, int i, uint64_t *out, lisec_err *err) {
  const char *key = AUDIT_NUMBERS[i].key;
  uint64_t min = AUDIT_NUMBERS[i].min, max = AUDIT_NUMBERS[i].max;
  *out = AUDIT_NUMBERS[i].def;
  const char *v = lisec_config_str(cfg, "audit", key, NULL);
  if (!v) return 0;
  char *end = NULL;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (errno || end == v || *end || v[0] == '-' || n < min || n > max)
    return lisec_err_set(err, LISEC_EINVAL, "[audit] %s = %.40s: a whole number from %llu to %llu%s", key, v,
                         (unsigned long long)min, (unsigned long long)max,
                         n == 0 && end != v && !*end && min > 0 ? " (0 is not \"none\": leave it out for the default)"
                                                                 : "");
  *out = n;
  return 0;
}

static int audit_numbers(const lisec_config *cfg, uint64_t out[A_N], lisec_err *err) {
  int rc = 0;
  for (int i = 0; i < A_N && !rc; i++) rc = audit_number(cfg, i, &out[i], err);
  return rc;
}

int ctl_audit_numbers_check(const lisec_config *cfg, void (*report)(void *ctx, const char *msg), void *ctx) {
  int problems = 0;
  for (int i = 0; i < A_N; i++) {
    uint64_t n;
    lisec_err err = {0};
    if (audit_number(cfg, i, &n, &err) != 0) problems++, report(ctx, err.msg);
  }
  return problems;
}

/* [audit]: the durable appender and its checkpoint key, in a PKCS#11 token
 * or, asked for by name, a development file. Without a key lisecd does not
 * start: an unsigned log is not tamper-evident (TR 103 308 5.5). */
static int open_tsa(const lisec_config *cfg, const uint64_t num[A_N], ctl_tsa **out, lisec_err *err);
static int open_audit(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  uint8_t li_pk[32];
  bool li_set = false;
  uint64_t num[A_N];
  /* [audit] rd_seal_key: the RD administration's, the same form (issue 20);
   * without it no RD record can be written. */
  uint8_t rd_pk[32];
  bool rd_set = false;
  int rc = load_x25519(cfg, "li_admin_key", li_pk, &li_set, err);
  if (!rc) rc = load_x25519(cfg, "rd_seal_key", rd_pk, &rd_set, err);
  /* the checkpoints, the open, the group commit (records per durable
   * transaction, and how long a caller about to lead one waits for others,
   * 0: not at all) and the TSA's bounds */
  if (!rc) rc = audit_numbers(cfg, num, err);
  uint64_t entries = num[A_ENTRIES], ms = num[A_CP_MS], full_below = num[A_FULL_BELOW], batch = num[A_BATCH],
           gather_us = num[A_GATHER];
  ctl_tsa *tsa = NULL;
  if (!rc) rc = open_tsa(cfg, num, &tsa, err);
  if (rc) return rc;
  ctl_auditlog_config ac = {
      .store_url = sh->store_url,
      .origin = lisec_config_str(cfg, "audit", "origin", "lisec/audit"),
      .li_pk = li_set ? li_pk : NULL,
      .rd_pk = rd_set ? rd_pk : NULL,
      .vkey_file = lisec_config_str(cfg, "audit", "vkey_file", NULL),
      .checkpoint_entries = entries,
      .checkpoint_ms = (uint32_t)ms,
      .open_full_below = full_below,
      .max_batch = (uint32_t)batch,
      .gather_us = gather_us ? (int32_t)gather_us : -1,
      .tsa = tsa, /* the log owns it from here */
  };
  /* The checkpoint key is the keys process's (keys/keys.h): the log asks
   * it to sign and knows only the public key. */
  const keys_info *ki = sh->keys ? keys_client_info(sh->keys) : NULL;
  if (!ki || !ki->audit) {
    ctl_tsa_close(tsa);
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-5.5: the audit log needs a checkpoint signing key: set [audit] "
                         "pkcs11_module (production) or development_key_file with "
                         "allow_development_key = true");
  }
  /* ... and signs only a checkpoint that extends the last one it signed,
   * shown by a consistency proof (keys/witness.h) */
  ac.witness = keys_audit_witness;
  ac.sign_proven = keys_audit_sign_proven;
  ac.sign_ctx = sh->keys;
  ac.next_key = keys_audit_next;
  ac.promote = keys_audit_promote;
  ac.pk = ki->audit_pk;
  ac.development = ki->audit_development;
  rc = ctl_auditlog_open(s, &ac, &sh->audit, err);
  crypto_wipe(li_pk, sizeof li_pk);
  crypto_wipe(rd_pk, sizeof rd_pk);
  if (rc) {
    lisec_err_wrap(err, "cannot open the audit log");
    return rc;
  }
  return 0; /* (a development key is announced by the keys process) */
}

/* [audit] tsa_url (issue 19 item 1): the TSA that timestamps every
 * checkpoint, its CA and bounds. Absent: no TSA, *out stays NULL. */
static int open_tsa(const lisec_config *cfg, const uint64_t num[A_N], ctl_tsa **out, lisec_err *err) {
  *out = NULL;
  const char *url = lisec_config_str(cfg, "audit", "tsa_url", NULL);
  if (!url || !*url) return 0;
  bool required = false;
  int rc = lisec_config_bool(cfg, "audit", "tsa_required", false, &required, err);
  if (rc) return rc;
  ctl_tsa_config tc = {.url = url,
                       .ca_file = lisec_config_str(cfg, "audit", "tsa_ca", NULL),
                       .tls_ca = lisec_config_str(cfg, "audit", "tsa_tls_ca", NULL),
                       .timeout_ms = (uint32_t)num[A_TSA_TIMEOUT],
                       .max_bytes = (uint32_t)num[A_TSA_BYTES],
                       .max_skew_ms = (uint32_t)num[A_TSA_SKEW],
                       .required = required};
  return ctl_tsa_open(&tc, out, err);
}

/* A store that `lisec restore` put back from a backup carries a marker
 * document: the backup's newest checkpoint. The restore is recorded and the
 * checkpoint over that record names it, so auditors who saw the replaced
 * history are told by the log itself (issue 21 item 4); then the marker goes. */
static int record_restore(ctl_shared *sh, lisec_store *s, lisec_err *err) {
  char *body = NULL;
  int64_t version = 0;
  lisec_err e = {0};
  if (store_doc_get(s, AUDIT_RESTORE_DOC_KIND, AUDIT_RESTORE_DOC_ID, &body, &version, &e) != 0)
    return e.code == LISEC_ENOTFOUND ? 0 : lisec_err_set(err, e.code, "%s", e.msg);
  json_t *j = json_loads(body, 0, NULL);
  free(body);
  audit_checkpoint from = {0};
  const char *root = json_string_value(json_object_get(j, "root"));
  json_int_t size = json_integer_value(json_object_get(j, "from_size"));
  int rc = 0;
  if (!root || strlen(root) != 64 || lisec_hex_decode(root, from.root, 32) != 0 || size <= 0)
    rc = lisec_err_set(err, LISEC_EINVAL, "TR103308-5.5: the restore marker in the store is malformed");
  from.size = (uint64_t)size;
  char subject[96];
  snprintf(subject, sizeof subject, "restored from the backup's checkpoint at size %lld", (long long)size);
  audit_record rec = {.actor = "lisecd", .role = "system", .action = "audit.restored", .outcome = "ok",
                      .subjects = {subject}, .n_subjects = 1};
  if (!rc) rc = ctl_auditlog_record_restore(sh->audit, &from, &rec, err);
  if (!rc) rc = store_doc_delete(s, AUDIT_RESTORE_DOC_KIND, AUDIT_RESTORE_DOC_ID, err);
  if (!rc) LOG_WARN("audit: the store was restored from a backup (checkpoint at size %lld); recorded and signed", (long long)size);
  json_decref(j);
  return rc;
}

/* The audit and vault topics' hooks for the table in ctl/topics.c. */
int ctl_audit_topic_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  int rc = open_audit(cfg, sh, s, err);
  return rc ? rc : record_restore(sh, s, err);
}

void ctl_audit_topic_close(ctl_shared *sh) {
  ctl_auditlog_close(sh->audit);
  sh->audit = NULL;
}

/* [vault] is read by the keys process, which holds the KEK (and says when
 * it is a development file); here only the store's choice of KEK. */
int ctl_vault_topic_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  (void)cfg;
  return ctl_targets_open(sh, s, err);
}

void ctl_vault_topic_close(ctl_shared *sh) { (void)sh; /* the keys are borrowed */ }

static void shared_free(ctl_shared *sh) {
  if (!sh) return;
  ctl_topics_close(sh);
  free(sh->store_url);
  free(sh);
}

/* The topics in the order of their table (ctl/topics.c). */
static int shared_open(const lisec_config *cfg, keys_client *keys, lisec_store *s, ctl_shared **out,
                       lisec_err *err) {
  ctl_shared *sh = calloc(1, sizeof *sh);
  if (!sh) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  sh->started_at = lisec_time_now();
  sh->started_mono_ns = lisec_time_mono_ns();
  sh->keys = keys;
  sh->store_url = strdup(lisec_config_str(cfg, "store", "url", LISEC_DEFAULT_STORE));
  int rc = sh->store_url ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  /* every setting checked before any topic opens (ctl/settings.c) */
  if (rc == 0) rc = ctl_settings_read(cfg, &sh->settings, err);
  if (rc == 0) rc = ctl_topics_open(cfg, sh, s, err);
  if (rc) {
    free(sh->store_url);
    free(sh);
    return rc;
  }
  *out = sh;
  return 0;
}

int ctl_open(const lisec_config *cfg, keys_client *keys, lisec_ctl **out, lisec_err *err) {
  lisec_ctl *ctl = calloc(1, sizeof *ctl);
  if (!ctl) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  ctl->owns_shared = true;
  /* The store first: when it is unreachable, that is the reason to give. */
  int rc = store_open(lisec_config_str(cfg, "store", "url", LISEC_DEFAULT_STORE), &ctl->store, err);
  if (rc) lisec_err_wrap(err, "cannot open the store ([store] url)");
  if (rc == 0) rc = shared_open(cfg, keys, ctl->store, &ctl->shared, err);
  if (rc) {
    ctl_close(ctl);
    return rc;
  }
  *out = ctl;
  return 0;
}

int ctl_open_worker(lisec_ctl *parent, lisec_ctl **out, lisec_err *err) {
  lisec_ctl *ctl = calloc(1, sizeof *ctl);
  if (!ctl) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  ctl->shared = parent->shared;
  int rc = store_open(ctl->shared->store_url, &ctl->store, err);
  if (rc) {
    free(ctl);
    return rc;
  }
  *out = ctl;
  return 0;
}

int ctl_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg, const char *name, lisec_ctl **ctx,
                     lisec_err *err) {
  if (pthread_create(thread, NULL, fn, arg) != 0) {
    ctl_close(*ctx);
    *ctx = NULL;
    return lisec_err_set(err, LISEC_EINTERNAL, "cannot start the controller's %s thread", name);
  }
  /* named by its starter, so the name is there once ctl_start returns
   * (ps, and the lifecycle test) */
  pthread_setname_np(*thread, name);
  return 0;
}

void ctl_thread_stop(pthread_mutex_t *mu, pthread_cond_t *cv, bool *stopping, pthread_t thread, lisec_ctl **ctx) {
  pthread_mutex_lock(mu);
  *stopping = true;
  pthread_cond_broadcast(cv);
  pthread_mutex_unlock(mu);
  pthread_join(thread, NULL);
  ctl_close(*ctx);
  *ctx = NULL;
}

int ctl_start(lisec_ctl *ctl, lisec_err *err) { return ctl_topics_start(ctl->shared, err); }

void ctl_stop(lisec_ctl *ctl) {
  if (ctl && ctl->owns_shared) ctl_topics_stop(ctl->shared);
}

void ctl_close(lisec_ctl *ctl) {
  if (!ctl) return;
  store_close(ctl->store);
  if (ctl->owns_shared) shared_free(ctl->shared);
  free(ctl);
}

/* A duration: by the monotonic clock, which a step of the wall clock does
 * not move (started_at stays the wall clock's reading at the start). */
int64_t ctl_uptime_seconds(const lisec_ctl *ctl) {
  return (int64_t)((lisec_time_mono_ns() - ctl->shared->started_mono_ns) / 1000000000u);
}

int ctl_health(lisec_ctl *ctl, lisec_err *err) { return store_ping(ctl->store, err); }

int ctl_status(lisec_ctl *ctl, json_t **out, lisec_err *err) {
  int schema = 0;
  int rc = store_schema_version(ctl->store, &schema, err);
  if (rc) return rc;
  char started[32];
  lisec_time_format(ctl->shared->started_at, started);
  *out = json_pack("{s:s, s:{s:s, s:i}, s:s, s:I}", "version", LISEC_VERSION, "store", "backend",
                   store_backend(ctl->store), "schema_version", schema, "started_at", started,
                   "uptime_seconds", (json_int_t)ctl_uptime_seconds(ctl));
  if (*out) json_object_set_new(*out, "clock", ctl_clock_status(ctl->shared)); /* ctl/clock.c */
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}
