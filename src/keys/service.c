/* The keys process's body (keys.h): it opens the vault's KEK, the audit
 * log's checkpoint key and the LI VMs' token session from [vault], [audit]
 * and [li], then answers requests on its socket until the controller
 * closes it (those that wait on the token on threads of their own). Every operation that touches a key runs whole in
 * here: a vault record is sealed, opened or re-wrapped inside this process,
 * so its data key (and the cache of data keys) never leaves it; what goes
 * back is a sealed record, the identifiers asked for, a signature or a
 * public key. An RD data key is wrapped only to the key the RD
 * administration registered for the VM: this process checks the signed
 * registration itself, against the [rd] admin_pubkey it read at start,
 * before every wrap (model/rd_register.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "keys/kek.h"
#include "keys/keys.h"
#include "keys/livm.h"
#include "keys/p11.h"
#include "keys/rdkey.h"
#include "keys/signer.h"
#include "keys/wire.h"
#include "keys/x1key.h"
#include "model/rd_register.h"

_Static_assert(KEYS_CACHE_HELD_MAX == KEYS_VAULT_CACHE_KEYS_MAX, "CACHE_HELD's bound is the largest cache");

struct keys_service {
  keys_kek *kek;         /* [vault]; NULL when not configured */
  keys_signer *signer;   /* [audit]; NULL when not configured */
  keys_livm *li;         /* [li]; NULL when not configured */
  keys_rdkey *rd;        /* [rd] (issue 20); NULL when not configured */
  EVP_PKEY *rd_admin;    /* [rd] admin_pubkey: signs the RD VMs' recipient keys; NULL: no wrap */
  keys_x1keys *x1;       /* the X1 client's TLS keys, read when first used */
  keys_settings set;     /* [keys]: spin_us, max_message, max_batch */
  keys_vault_settings vset; /* [vault]: the cache and the token sessions */
  int rotation_nice;        /* [vault] rotation_nice: the REWRAP thread's */
};

/* A development key file is used only when asked for by name. */
static int dev_allowed(const lisec_config *cfg, const char *section, const char *why, lisec_err *err) {
  bool allowed = false;
  int rc = lisec_config_bool(cfg, section, "allow_development_key", false, &allowed, err);
  if (rc) return rc;
  if (!allowed)
    return lisec_err_set(err, LISEC_EINVAL, "[%s] development_key_file needs allow_development_key = true: %s",
                         section, why);
  return 0;
}

/* With [ha] (docs/ha.md) no key is made at start: several lisecd starting
 * together would each make their own and sign one log with two keys.
 * Each key is provisioned once beforehand; an absent one stops the start
 * naming it and how to make it. */
static bool ha_on(const lisec_config *cfg) {
  bool on = false;
  lisec_err ignored = {0};
  return lisec_config_bool(cfg, "ha", "enabled", false, &on, &ignored) == 0 && on;
}

static int not_provisioned(const lisec_config *cfg, const char *section, const char *what, const char *key,
                           const char *how, lisec_err *err) {
  return lisec_err_set(err, LISEC_ENOTFOUND,
                       "TR103308-5.5: [ha]: the %s ([%s] %s = %s) is not provisioned, and a lisecd with [ha] never "
                       "makes keys at start; make it once (%s) and give every node the same",
                       what, section, key,
                       lisec_config_str(cfg, section, key, strcmp(section, "audit") ? "lisec-kek" : "lisec-audit"), how);
}

static bool file_absent(const char *path) { return access(path, F_OK) != 0; }

/* [vault]'s cache and token settings (docs/vault.md, "Reading speed"). */
int keys_vault_settings_parse(const lisec_config *cfg, keys_vault_settings *out, lisec_err *err) {
  int64_t ttl = 0, keys = 0, sessions = 0;
  int rc = lisec_config_int(cfg, "vault", "cache_ttl_s", KEYS_VAULT_CACHE_TTL_DEFAULT, 1, KEYS_VAULT_CACHE_TTL_MAX,
                            &ttl, err);
  if (!rc)
    rc = lisec_config_int(cfg, "vault", "cache_keys", KEYS_VAULT_CACHE_KEYS_DEFAULT, KEYS_VAULT_CACHE_KEYS_MIN,
                          KEYS_VAULT_CACHE_KEYS_MAX, &keys, err);
  if (!rc)
    rc = lisec_config_int(cfg, "vault", "token_sessions", KEYS_VAULT_SESSIONS_DEFAULT, 1, KEYS_VAULT_SESSIONS_MAX,
                          &sessions, err);
  if (rc) return rc;
  *out = (keys_vault_settings){(unsigned)ttl, (size_t)keys, (unsigned)sessions};
  return 0;
}

/* [vault]: the KEK in a PKCS#11 token, or a development file key. */
static int open_vault(const lisec_config *cfg, keys_service *s, lisec_err *err) {
  int vrc = keys_vault_settings_parse(cfg, &s->vset, err);
  if (vrc) return vrc;
  const char *module = lisec_config_str(cfg, "vault", "pkcs11_module", NULL);
  const char *dev = lisec_config_str(cfg, "vault", "development_key_file", NULL);
  if (module) {
    char pin[KEYS_P11_PIN_MAX + 1];
    int rc = keys_p11_read_pin(cfg, "vault", pin, err);
    if (rc) return rc;
    keys_kek_pkcs11_config pc = {module, lisec_config_str(cfg, "vault", "token", "lisec"), pin,
                                 lisec_config_str(cfg, "vault", "key_label", "lisec-kek"), !ha_on(cfg),
                                 lisec_config_str(cfg, "vault", "pkcs11_init_args", NULL)};
    rc = keys_kek_open_pkcs11_sessions(&pc, s->vset.sessions, &s->kek, err);
    if (!rc) rc = keys_kek_cache_configure(s->kek, s->vset.cache_keys, s->vset.cache_ttl_s, err);
    if (!rc)
      LOG_INFO("[vault] a data key not in the cache takes %s",
               keys_kek_one_call_unwrap(s->kek) ? "one token call (PKCS#11 3.0 message-based decryption)"
                                                : "two token calls (PKCS#11 2.40)");
    crypto_wipe(pin, sizeof pin);
    if (rc == LISEC_ENOTFOUND && !pc.create)
      rc = not_provisioned(cfg, "vault", "key-encryption key", "key_label",
                           "an AES-256 key, sensitive and not extractable, in the token, e.g. with pkcs11-tool "
                           "--keygen --key-type AES:32",
                           err);
    return rc;
  }
  if (!dev) return 0;
  if (ha_on(cfg) && file_absent(dev))
    return not_provisioned(cfg, "vault", "key-encryption key", "development_key_file",
                           "head -c 32 /dev/urandom > FILE; chmod 600 FILE", err);
  int rc = dev_allowed(cfg, "vault",
                       "a key in a file is not protected from the virtualisation layer (TR 103 308 5.7)", err);
  if (rc) return rc;
  if ((rc = keys_kek_open_file(dev, &s->kek, err)) ||
      (rc = keys_kek_cache_configure(s->kek, s->vset.cache_keys, s->vset.cache_ttl_s, err)))
    return rc;
  LOG_WARN("DEVELOPMENT MODE: the target vault's key-encryption key is a plain file; "
           "targets are NOT protected from the virtualisation layer (TR 103 308 5.7)");
  return 0;
}

/* [audit]: the checkpoint key in a PKCS#11 token, or a development file.
 * Without either the keys process still starts; the controller refuses to
 * open an audit log nobody can sign (TR 103 308 5.5). */
static int open_audit(const lisec_config *cfg, keys_service *s, lisec_err *err) {
  const char *module = lisec_config_str(cfg, "audit", "pkcs11_module", NULL);
  const char *dev = lisec_config_str(cfg, "audit", "development_key_file", NULL);
  int rc = 0;
  if (module) {
    char pin[KEYS_P11_PIN_MAX + 1] = "";
    if ((rc = keys_p11_read_pin(cfg, "audit", pin, err))) return rc;
    keys_signer_pkcs11 pc = {module, lisec_config_str(cfg, "audit", "token", "lisec"), pin,
                             lisec_config_str(cfg, "audit", "key_label", "lisec-audit"), !ha_on(cfg)};
    rc = keys_signer_open_pkcs11(&pc, &s->signer, err);
    crypto_wipe(pin, sizeof pin);
    if (rc == LISEC_ENOTFOUND && !pc.create)
      return not_provisioned(cfg, "audit", "audit checkpoint key", "key_label",
                             "an Ed25519 key pair in the token, e.g. with pkcs11-tool --keypairgen --key-type "
                             "EC:edwards25519",
                             err);
  } else if (dev) {
    if ((rc = dev_allowed(cfg, "audit",
                          "a checkpoint key in a file does not make the log tamper-evident (TR 103 308 5.5)",
                          err)))
      return rc;
    if (ha_on(cfg) && file_absent(dev))
      return not_provisioned(cfg, "audit", "audit checkpoint key", "development_key_file",
                             "openssl genpkey -algorithm ed25519 -out FILE; chmod 600 FILE", err);
    if (!(rc = keys_signer_open_file(dev, !ha_on(cfg), &s->signer, err)))
      LOG_WARN("DEVELOPMENT MODE: the audit log's checkpoint key is a plain file; anyone who can "
               "read it can forge checkpoints (TR 103 308 5.5)");
  }
  if (rc) lisec_err_wrap(err, "audit checkpoint key");
  return rc;
}

/* [li]: a logged-in session on [li] token for the VMs' key pairs. */
static int open_li(const lisec_config *cfg, keys_service *s, lisec_err *err) {
  const char *module = lisec_config_str(cfg, "li", "pkcs11_module", NULL);
  if (!module) return 0;
  char pin[KEYS_P11_PIN_MAX + 1];
  int rc = keys_p11_read_pin(cfg, "li", pin, err);
  if (rc) return rc;
  rc = keys_livm_open(module, lisec_config_str(cfg, "li", "token", "lisec"), pin, &s->li, err);
  crypto_wipe(pin, sizeof pin);
  return rc;
}

/* [rd]: a logged-in session on [rd] token for the RD stores' data keys. */
static int open_rd(const lisec_config *cfg, keys_service *s, lisec_err *err) {
  const char *module = lisec_config_str(cfg, "rd", "pkcs11_module", NULL);
  if (!module) return 0;
  char pin[KEYS_P11_PIN_MAX + 1];
  int rc = keys_p11_read_pin(cfg, "rd", pin, err);
  if (rc) return rc;
  rc = keys_rdkey_open(module, lisec_config_str(cfg, "rd", "token", "lisec"), pin, &s->rd, err);
  crypto_wipe(pin, sizeof pin);
  /* The RD administration's key, read here and not taken from the
   * controller: without it no data key is wrapped (RD_KEY). */
  const char *admin = lisec_config_str(cfg, "rd", "admin_pubkey", NULL);
  if (!rc && admin && (rc = crypto_pkey_load_pem(admin, false, &s->rd_admin, err)))
    lisec_err_wrap(err, "[rd] admin_pubkey");
  if (!rc && !admin)
    LOG_WARN("[rd] admin_pubkey is not set: no RD data key is wrapped (%s: the RD administration registers "
             "each RD VM's key with it)", MODEL_REQ_RD_RECIPIENT);
  return rc;
}

int keys_settings_parse(const lisec_config *cfg, keys_settings *out, lisec_err *err) {
  int64_t spin = 0, msg = 0, batch = 0;
  int rc = lisec_config_int(cfg, "keys", "spin_us", KEYS_SPIN_US_DEFAULT, 0, 1000, &spin, err);
  if (!rc)
    rc = lisec_config_int(cfg, "keys", "max_message", KEYS_PAYLOAD_MAX, KEYS_MESSAGE_MIN, KEYS_MESSAGE_LIMIT, &msg, err);
  if (!rc) rc = lisec_config_int(cfg, "keys", "max_batch", KEYS_BATCH_DEFAULT, 1, KEYS_BATCH_LIMIT, &batch, err);
  if (rc) return rc;
  *out = (keys_settings){(unsigned)spin, (uint32_t)msg, (uint32_t)batch};
  return 0;
}

int keys_service_open(const lisec_config *cfg, keys_service **out, lisec_err *err) {
  keys_service *s = calloc(1, sizeof *s);
  if (!s) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = keys_settings_parse(cfg, &s->set, err);
  int64_t nice = 0;
  /* (the controller's rotation thread reads the same setting) */
  if (!rc) rc = lisec_config_int(cfg, "vault", "rotation_nice", 10, 0, 19, &nice, err);
  s->rotation_nice = (int)nice;
  if (!rc) rc = open_audit(cfg, s, err);
  /* X1 client keys only from [keys] x1_key_dir; unset, none (x1key.h) */
  const char *x1_dir = lisec_config_str(cfg, "keys", "x1_key_dir", NULL);
  if (!rc && !x1_dir)
    LOG_WARN("[keys] x1_key_dir is not set: X1 signing is off until it is set, so lisecd reaches no X1 network "
             "element (TR103308-5.7: set it to the directory of the ADMF's X1 client keys)");
  if (!rc) rc = keys_x1keys_open(x1_dir, &s->x1, err);
  if (!rc) rc = open_vault(cfg, s, err);
  if (!rc) rc = open_li(cfg, s, err);
  if (!rc) rc = open_rd(cfg, s, err);
  if (rc) {
    keys_service_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void keys_service_close(keys_service *s) {
  if (!s) return;
  keys_livm_close(s->li);
  keys_rdkey_close(s->rd);
  EVP_PKEY_free(s->rd_admin);
  keys_kek_close(s->kek);
  keys_signer_close(s->signer);
  keys_x1keys_close(s->x1);
  free(s);
}

/* ---- one request ---------------------------------------------------------- */

static int need_vault(keys_service *s, lisec_err *err) {
  return s->kek ? 0
                : lisec_err_set(err, LISEC_EUNAVAIL, "TR103308-5.7: no key-encryption key is configured "
                                                     "([vault]); targets cannot be stored or read");
}

static int do_seal(keys_service *s, const keys_request *q, keys_reply *rp, lisec_err *err) {
  json_t *ids = NULL;
  int rc = need_vault(s, err);
  if (!rc) rc = lisec_json_parse((const char *)q->data, q->data_len, &ids, err);
  if (rc) return rc;
  vault_kek kek = keys_kek_vault(s->kek);
  rc = vault_seal(q->id, q->authorisation, q->version, ids, &kek, &rp->sealed, err);
  keys_kek_release(s->kek, kek.ctx);
  json_decref(ids);
  return rc;
}

/* The identifiers as compact JSON in rp->data (malloc'd, wiped by the caller). */
static int do_open(keys_service *s, const keys_request *q, keys_reply *rp, lisec_err *err) {
  int rc = need_vault(s, err);
  if (rc) return rc;
  vault_opener op;
  json_t *ids = NULL;
  /* through the cache of ready data-key contexts, with the KEK the record
   * names (older ones stay usable after a rotation) */
  if ((rc = keys_kek_for(s->kek, q->sealed.kek_label, NULL, &op, err))) return rc;
  rc = vault_open_with(&q->sealed, &op, &ids, err);
  keys_kek_release(s->kek, op.ctx);
  if (rc) return rc;
  char *text = json_dumps(ids, JSON_COMPACT);
  json_decref(ids);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  rp->data = (const uint8_t *)text;
  rp->data_len = strlen(text);
  return 0;
}

/* A record re-wrapped from was to now: vault_rewrap unwrapped it through
 * the cache and cached its new form. A data key that was not cached
 * before is wiped in both forms, so a rotation does not bring every
 * target's data key into memory for [vault] cache_ttl_s (TR 103 308 §5.7:
 * keys no longer needed are destroyed); one that was (a target being
 * read) stays, in the old form while the store still holds that one, and
 * the old forms go when the rotation ends (KEK_UNLOAD). */
static void rewrapped_forget(keys_kek *kek, const vault_sealed *was, bool was_cached, const vault_sealed *now) {
  if (was_cached) return;
  keys_kek_evict(kek, was->wrapped_key, was->wrapped_key_len);
  keys_kek_evict(kek, now->wrapped_key, now->wrapped_key_len);
}

static int do_rewrap(keys_service *s, const keys_request *q, keys_reply *rp, lisec_err *err) {
  int rc = need_vault(s, err);
  if (rc) return rc;
  rp->sealed = q->sealed; /* the ciphertext stays the request's */
  vault_kek current = keys_kek_vault(s->kek), old;
  if (strcmp(rp->sealed.kek_label, current.label) != 0) {
    bool cached = keys_kek_cached(s->kek, q->sealed.wrapped_key, q->sealed.wrapped_key_len);
    if (!(rc = keys_kek_for(s->kek, rp->sealed.kek_label, &old, NULL, err))) {
      rc = vault_rewrap(&rp->sealed, &old, &current, err);
      keys_kek_release(s->kek, old.ctx);
    }
    rp->changed = rc == 0;
    if (rp->changed) rewrapped_forget(s->kek, &q->sealed, cached, &rp->sealed);
  }
  keys_kek_release(s->kek, current.ctx);
  return rc;
}

static int do_hello(keys_service *s, keys_reply *rp) {
  keys_info *i = &rp->info;
  i->vault = s->kek != NULL;
  i->vault_development = s->kek && keys_kek_is_development(s->kek);
  i->audit = s->signer != NULL;
  i->audit_development = s->signer && keys_signer_development(s->signer);
  if (s->signer) keys_signer_public_key(s->signer, i->audit_pk);
  i->li = s->li != NULL;
  if (s->kek) keys_kek_current(s->kek, rp->name, rp->label);
  return 0;
}

static int need_signer(keys_service *s, lisec_err *err) {
  return s->signer ? 0 : lisec_err_set(err, LISEC_EUNAVAIL, "TR103308-5.5: no audit checkpoint key is configured ([audit])");
}

/* AUDIT_SIGN and AUDIT_SIGN_NEXT: only a checkpoint that extends the last
 * one signed (keys/witness.h); a refusal is logged here too, as the attack
 * signal it is (the controller records it). */
static int do_sign(keys_service *s, const keys_request *q, uint8_t sig[64], keys_reply *rp, lisec_err *err) {
  int rc = need_signer(s, err);
  if (!rc)
    rc = keys_signer_sign_witnessed(s->signer, q->type == KEYS_MSG_AUDIT_SIGN_NEXT, q->data, q->data_len, q->old_size,
                                    q->proof, q->proof_len / 32, sig, err);
  if (rc == LISEC_EDENIED) LOG_ERROR("keys: %s", err->msg);
  if (!rc) rp->data = sig, rp->data_len = 64;
  return rc;
}

static int do_witness(keys_service *s, keys_reply *rp, lisec_err *err) {
  int rc = need_signer(s, err);
  return rc ? rc : keys_signer_witness_state(s->signer, &rp->witness_have, &rp->witness_size, rp->witness_root, err);
}

/* A rollover's steps (issue 21 item 5): the next key, its signature, its promotion. */
static int do_rollover(keys_service *s, const keys_request *q, uint8_t sig[64], keys_reply *rp, lisec_err *err) {
  int rc = need_signer(s, err);
  if (rc) return rc;
  switch (q->type) {
  case KEYS_MSG_AUDIT_NEXT:
    if ((rc = keys_signer_next(s->signer, q->create, sig, err))) return rc;
    rp->data = sig, rp->data_len = 32;
    return 0;
  case KEYS_MSG_AUDIT_SIGN_NEXT: /* witnessed as AUDIT_SIGN is */
    return do_sign(s, q, sig, rp, err);
  default:
    rc = keys_signer_promote(s->signer, q->data, err);
    if (!rc) LOG_INFO("audit: the checkpoint key was rolled over; the old key is retired");
    return rc;
  }
}

static int need_li(keys_service *s, lisec_err *err) {
  return s->li ? 0 : lisec_err_set(err, LISEC_EUNAVAIL, "[li] no PKCS#11 token is configured");
}

/* The X1 client's TLS handshake signature, into sig (KEYS_X1_SIG_MAX). */
static int do_x1_sign(keys_service *s, const keys_request *q, uint8_t *sig, keys_reply *rp, lisec_err *err) {
  size_t n = 0;
  int rc = keys_x1keys_sign(s->x1, q->path, q->alg, q->data, q->data_len, sig, KEYS_X1_SIG_MAX, &n, err);
  if (!rc) rp->data = sig, rp->data_len = n;
  return rc;
}

/* The batch's data keys that are not cached, unwrapped several at once
 * (one per token session) before the records are opened one by one. */
static void prefetch_batch(keys_service *s, const keys_request *q) {
  if (q->batch_count < 2 || keys_kek_sessions(s->kek) < 2) return;
  vault_sealed *recs = malloc(q->batch_count * sizeof *recs);
  if (!recs) return; /* the opens ask the token one by one */
  keys_batch_iter it;
  size_t n = 0;
  keys_wire_batch_begin(&it, q->batch, q->batch_len, q->batch_count);
  while (n < q->batch_count && keys_wire_batch_sealed(&it, &recs[n])) n++;
  (void)keys_kek_prefetch(s->kek, recs, n);
  free(recs);
}

/* OPEN_BATCH: each record opened as OPEN opens one, each answer (its
 * identifiers or its own error) into rp->batch (malloc'd, wiped by the
 * caller) while the reply stays within [keys] max_message; at least one is
 * answered, so the client's next request moves on. */
static int do_open_batch(keys_service *s, const keys_request *q, keys_reply *rp, lisec_err *err) {
  int rc = need_vault(s, err);
  if (rc) return rc;
  if (q->batch_count > s->set.max_batch)
    return lisec_err_set(err, LISEC_ETOOBIG, "keys OPEN_BATCH: %u records, over [keys] max_batch (%u)", q->batch_count,
                         s->set.max_batch);
  size_t room = s->set.max_message - 4 - 4 - 4; /* the reply's rc, empty reason and count */
  ipc_writer w;
  ipc_writer_init(&w, room);
  keys_batch_iter it;
  vault_sealed rec;
  prefetch_batch(s, q);
  keys_wire_batch_begin(&it, q->batch, q->batch_len, q->batch_count);
  uint32_t n = 0;
  while (keys_wire_batch_sealed(&it, &rec)) {
    keys_request one = {.type = KEYS_MSG_OPEN, .sealed = rec};
    keys_reply r1 = {.type = KEYS_MSG_OPEN};
    lisec_err e1 = {0};
    keys_opened o = {0};
    snprintf(o.id, sizeof o.id, "%s", rec.id);
    o.rc = do_open(s, &one, &r1, &e1);
    if (o.rc) snprintf(o.msg, sizeof o.msg, "%s", e1.msg[0] ? e1.msg : lisec_err_name(o.rc));
    else o.data = r1.data, o.data_len = r1.data_len;
    if (n && w.buf.len + keys_wire_opened_size(&o) > room) {
      if (!o.rc) crypto_wipe((void *)r1.data, r1.data_len), free((void *)r1.data);
      break; /* the rest in the client's next request */
    }
    if (keys_wire_opened_size(&o) > room) { /* one answer alone too large */
      if (!o.rc) crypto_wipe((void *)r1.data, r1.data_len), free((void *)r1.data);
      o = (keys_opened){.rc = LISEC_ETOOBIG};
      snprintf(o.id, sizeof o.id, "%s", rec.id);
      snprintf(o.msg, sizeof o.msg, "its identifiers do not fit [keys] max_message (%u bytes)", s->set.max_message);
    }
    keys_wire_put_opened(&w, &o);
    if (!o.rc) crypto_wipe((void *)r1.data, r1.data_len), free((void *)r1.data);
    n++;
  }
  if (w.failed) {
    ipc_writer_free(&w);
    return lisec_err_set(err, LISEC_EINTERNAL, "keys OPEN_BATCH: the reply passed its bound");
  }
  /* the writer's buffer becomes the reply's (freed by the caller) */
  rp->batch_count = n;
  rp->batch = w.buf.data;
  rp->batch_len = w.buf.len;
  return 0;
}

/* ---- REWRAP_BATCH: a rotation's re-wraps, in parallel ------------------------ */

/* The serving of a channel (below): a REWRAP_BATCH answered on one of its
 * rotation lanes spreads its records over all of them (par_for). */
typedef struct serving serving;
static void par_for(serving *c, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);

/* One record's outcome, kept until the reply is written. */
typedef struct rewrap_out {
  int rc;
  bool changed;
  char msg[LISEC_ERR_MSG_MAX];
} rewrap_out;

typedef struct rewrap_batch {
  keys_service *s;
  vault_kek current; /* held for the whole batch */
  vault_sealed *recs; /* decoded from the request (ciphertexts borrowed) */
  rewrap_out *out;
} rewrap_batch;

/* Record i as REWRAP re-wraps one (an unwrap by the KEK its label names,
 * a wrap by the current one): token calls, on whichever lane runs it. */
static void rewrap_item(void *ctx, size_t i) {
  rewrap_batch *b = ctx;
  vault_sealed *r = &b->recs[i];
  rewrap_out *o = &b->out[i];
  o->rc = 0;
  o->msg[0] = 0;
  if (strcmp(r->kek_label, b->current.label) == 0) {
    /* unchanged: its own wrapped key goes back, and an answer must carry one */
    if (!r->wrapped_key_len) {
      o->rc = LISEC_EINVAL;
      snprintf(o->msg, sizeof o->msg, "TR103308-5.7: the record names the current KEK but has no wrapped key");
    }
    return;
  }
  lisec_err e = {0};
  vault_kek old;
  vault_sealed was = *r; /* (its wrapped key: the copy's own) */
  bool cached = keys_kek_cached(b->s->kek, r->wrapped_key, r->wrapped_key_len);
  int rc = keys_kek_for(b->s->kek, r->kek_label, &old, NULL, &e);
  if (!rc) {
    rc = vault_rewrap(r, &old, &b->current, &e);
    keys_kek_release(b->s->kek, old.ctx);
  }
  if (!rc) rewrapped_forget(b->s->kek, &was, cached, r);
  o->rc = rc;
  o->changed = rc == 0;
  if (rc) snprintf(o->msg, sizeof o->msg, "%s", e.msg[0] ? e.msg : lisec_err_name(rc));
}

/* REWRAP_BATCH: every record re-wrapped as REWRAP re-wraps one, over all
 * of the rotation's lanes at once when c (the serving; NULL: in turn on
 * this thread), then each answer (the record's new wrapping, or its own
 * error) into rp->batch (malloc'd, freed by the caller) while the reply
 * stays within [keys] max_message; at least one is answered, so the
 * client's next request moves on. */
static int do_rewrap_batch(keys_service *s, const keys_request *q, keys_reply *rp, serving *c, lisec_err *err) {
  int rc = need_vault(s, err);
  if (rc) return rc;
  if (q->batch_count > s->set.max_batch)
    return lisec_err_set(err, LISEC_ETOOBIG, "keys REWRAP_BATCH: %u records, over [keys] max_batch (%u)",
                         q->batch_count, s->set.max_batch);
  size_t n = q->batch_count;
  rewrap_batch b = {.s = s, .recs = malloc(n * sizeof *b.recs), .out = calloc(n, sizeof *b.out)};
  if (!b.recs || !b.out) {
    free(b.recs);
    free(b.out);
    return lisec_err_set(err, LISEC_ENOMEM, "keys REWRAP_BATCH: out of memory for %zu records", n);
  }
  keys_batch_iter it;
  size_t got = 0;
  keys_wire_batch_begin(&it, q->batch, q->batch_len, q->batch_count);
  while (got < n && keys_wire_batch_sealed(&it, &b.recs[got])) got++;
  for (size_t i = 0; i < got; i++) { /* until re-wrapped: a record the stop of the channel left */
    b.out[i].rc = LISEC_EUNAVAIL;
    snprintf(b.out[i].msg, sizeof b.out[i].msg, "the keys process stopped before it re-wrapped the record");
  }
  b.current = keys_kek_vault(s->kek);
  if (c) par_for(c, got, rewrap_item, &b);
  else
    for (size_t i = 0; i < got; i++) rewrap_item(&b, i);
  keys_kek_release(s->kek, b.current.ctx);
  /* An answer is at most ~1.1 KiB (a reason of LISEC_ERR_MSG_MAX, a
   * wrapped key of VAULT_WRAPPED_MAX), far below the smallest
   * max_message, so the first always fits. */
  size_t room = s->set.max_message - 4 - 4 - 4; /* the reply's rc, empty reason and count */
  ipc_writer w;
  ipc_writer_init(&w, room);
  uint32_t answered = 0;
  for (size_t i = 0; i < got; i++) {
    keys_rewrapped a = {.version = b.recs[i].version, .rc = b.out[i].rc, .changed = b.out[i].changed};
    snprintf(a.id, sizeof a.id, "%s", b.recs[i].id);
    if (a.rc) {
      snprintf(a.msg, sizeof a.msg, "%s", b.out[i].msg);
    } else {
      snprintf(a.kek_label, sizeof a.kek_label, "%s", b.recs[i].kek_label);
      a.wrapped_key = b.recs[i].wrapped_key;
      a.wrapped_key_len = b.recs[i].wrapped_key_len;
    }
    if (answered && w.buf.len + keys_wire_rewrapped_size(&a) > room) break; /* the rest in the client's next request */
    keys_wire_put_rewrapped(&w, &a);
    answered++;
  }
  free(b.recs);
  free(b.out);
  if (w.failed) {
    ipc_writer_free(&w);
    return lisec_err_set(err, LISEC_EINTERNAL, "keys REWRAP_BATCH: the reply passed its bound");
  }
  rp->batch_count = answered;
  rp->batch = w.buf.data;
  rp->batch_len = w.buf.len;
  return 0;
}

/* Runs q; the reply's fields may point into q and sig, or at rp->data
 * from do_open or rp->batch from do_open_batch or do_rewrap_batch
 * (*owned). lane: the serving whose rotation lane runs q, or NULL. */
static int handle(keys_service *s, const keys_request *q, keys_reply *rp, uint8_t sig[KEYS_X1_SIG_MAX],
                  bool *owned, serving *lane, lisec_err *err) {
  int rc = 0;
  switch (q->type) {
  case KEYS_MSG_HELLO:
    return do_hello(s, rp);
  case KEYS_MSG_SEAL:
    return do_seal(s, q, rp, err);
  case KEYS_MSG_OPEN:
    rc = do_open(s, q, rp, err);
    *owned = rc == 0;
    return rc;
  case KEYS_MSG_OPEN_BATCH:
    rc = do_open_batch(s, q, rp, err);
    *owned = rc == 0;
    return rc;
  case KEYS_MSG_REWRAP:
    return do_rewrap(s, q, rp, err);
  case KEYS_MSG_REWRAP_BATCH:
    rc = do_rewrap_batch(s, q, rp, lane, err);
    *owned = rc == 0;
    return rc;
  case KEYS_MSG_KEK_USE:
    if ((rc = need_vault(s, err))) return rc;
    if (keys_kek_is_development(s->kek))
      return lisec_err_set(err, LISEC_EINVAL, "TR103308-5.7: the development key file cannot be rotated; "
                                              "KEK rotation needs a PKCS#11 token ([vault] pkcs11_module)");
    if ((rc = keys_kek_use(s->kek, q->name, q->create, err))) return rc;
    keys_kek_current(s->kek, rp->name, rp->label);
    return 0;
  case KEYS_MSG_KEK_CURRENT:
    if ((rc = need_vault(s, err))) return rc;
    keys_kek_current(s->kek, rp->name, rp->label);
    return 0;
  case KEYS_MSG_KEK_UNLOAD:
    if ((rc = need_vault(s, err))) return rc;
    rp->count = keys_kek_unload_others(s->kek);
    return 0;
  case KEYS_MSG_EVICT: /* idempotent: none cached is count 0 */
    if ((rc = need_vault(s, err))) return rc;
    rp->count = keys_kek_evict(s->kek, q->sealed.wrapped_key, q->sealed.wrapped_key_len) ? 1 : 0;
    return 0;
  case KEYS_MSG_CACHE_HELD:
    if ((rc = need_vault(s, err))) return rc;
    rp->count = keys_kek_cache_held(s->kek);
    return 0;
  case KEYS_MSG_AUDIT_SIGN:
    return do_sign(s, q, sig, rp, err);
  case KEYS_MSG_AUDIT_WITNESS:
    return do_witness(s, rp, err);
  case KEYS_MSG_LI_CHECK:
    return (rc = need_li(s, err)) ? rc : keys_livm_check(s->li, err);
  case KEYS_MSG_X1_SIGN:
    return do_x1_sign(s, q, sig, rp, err);
  case KEYS_MSG_RD_KEY: /* wrapped to the recipient in the token: the point and the wrap into sig */
    if (!s->rd) return lisec_err_set(err, LISEC_EUNAVAIL, "[rd] no PKCS#11 token is configured");
    /* the recipient is the RD administration's choice, not the controller's */
    if (!s->rd_admin)
      return lisec_err_set(err, LISEC_EDENIED,
                           MODEL_REQ_RD_RECIPIENT ": [rd] admin_pubkey is not set in the keys process: no RD "
                           "data key is wrapped");
    if ((rc = model_rd_reg_binds(q->rd_reg, q->rd_reg_len, s->rd_admin, q->vm, q->data, err))) return rc;
    if ((rc = keys_rdkey_get(s->rd, q->name, q->period, q->create, q->data, sig, sig + KEYS_RD_POINT_LEN, err)))
      return rc;
    rp->rd_eph = sig;
    rp->rd_eph_len = KEYS_RD_POINT_LEN;
    rp->data = sig + KEYS_RD_POINT_LEN;
    rp->data_len = KEYS_RD_WRAPPED_LEN;
    return 0;
  case KEYS_MSG_RD_DESTROY:
    if (!s->rd) return lisec_err_set(err, LISEC_EUNAVAIL, "[rd] no PKCS#11 token is configured");
    return keys_rdkey_destroy(s->rd, q->name, q->period, &rp->count, err);
  case KEYS_MSG_AUDIT_NEXT:
  case KEYS_MSG_AUDIT_SIGN_NEXT:
  case KEYS_MSG_AUDIT_PROMOTE:
    return do_rollover(s, q, sig, rp, err);
  default:
    return lisec_err_set(err, LISEC_EINVAL, "keys: unknown message type %u", (unsigned)q->type);
  }
}

/* ---- serving: one reader, and threads for the token's misses -------------- */

/* A request a worker answers: the header, its payload (the job's) and the
 * request decoded from it. */
typedef struct job {
  ipc_header h;
  uint8_t *payload;
  keys_request q;
  struct job *next;
} job;

/* A REWRAP_BATCH's records shared out over the rotation's lanes: each
 * lane that is free takes the next record (under the serving's mu) until
 * none is left, so a batch keeps every lane's token session busy without
 * a thread wake-up per record. */
typedef struct par_work {
  void (*fn)(void *ctx, size_t i);
  void *ctx;
  size_t n, next, running;
  struct par_work *link;
} par_work;

/* The serving of one channel. Requests are read by the serving thread,
 * which answers at once what needs no token call; an OPEN whose data key
 * is not cached, and an OPEN_BATCH, go to one of [vault] token_sessions
 * workers, so the misses of several requests (the controller's threads
 * each send theirs) wait on the token at the same time. Replies carry
 * their request's id and go out whole under send_mu, in the order they
 * are ready. */
struct serving {
  keys_service *s;
  int fd;
  pthread_mutex_t send_mu;
  pthread_mutex_t mu; /* the queue, stop, failed */
  pthread_cond_t work, room;
  job *head, *tail;
  size_t queued, max_queued;
  bool stop;
  int failed; /* a worker's send failed: the channel is broken */
  lisec_err failed_err;
  pthread_t threads[KEYS_VAULT_SESSIONS_MAX];
  size_t n_threads;
  /* the KEK rotation's lanes: REWRAP and REWRAP_BATCH requests, answered
   * by KEYS_ROTATION_LANES threads at [vault] rotation_nice (issue 22
   * items 3 and 6), so a rotation's token work takes the CPU decisions
   * leave, and with a network HSM its round trips overlap (a batch's
   * records shared out among them, par_for; the rotation keeps that many
   * batches in flight) */
  pthread_cond_t slow_work;
  job *slow_head, *slow_tail;
  size_t slow_queued;
  pthread_t slow[KEYS_VAULT_SESSIONS_MAX];
  size_t n_slow;
  par_work *par;          /* the batches being shared out, under mu */
  pthread_cond_t par_done; /* a batch's last record running elsewhere finished */
};

/* Answers one request (rc, e: what decoding it said) and sends the reply;
 * lane: it runs on one of the rotation's lanes. */
static int answer(serving *c, const ipc_header *h, int rc, const keys_request *q, lisec_err *e, bool lane,
                  lisec_err *err) {
  keys_service *s = c->s;
  keys_reply rp;
  memset(&rp, 0, sizeof rp);
  rp.type = h->type;
  uint8_t sig[KEYS_X1_SIG_MAX]; /* (AUDIT_SIG's 64 or X1_SIGN's) */
  bool owned = false;
  if (!rc) rc = handle(s, q, &rp, sig, &owned, lane ? c : NULL, e);
  rp.rc = rc;
  if (rc) snprintf(rp.msg, sizeof rp.msg, "%s", e->msg[0] ? e->msg : lisec_err_name(rc));
  ipc_writer w;
  ipc_writer_init(&w, s->set.max_message);
  keys_wire_put_reply(&w, &rp);
  if (w.failed) { /* said as the operation's error, within the bound */
    ipc_writer_free(&w);
    keys_reply big = {.type = h->type, .rc = LISEC_ETOOBIG};
    snprintf(big.msg, sizeof big.msg, "keys %s: the reply is over [keys] max_message (%u bytes)",
             keys_wire_type_name(h->type), s->set.max_message);
    ipc_writer_init(&w, s->set.max_message);
    keys_wire_put_reply(&w, &big);
  }
  pthread_mutex_lock(&c->send_mu);
  rc = ipc_send(c->fd, h->type, KEYS_FLAG_REPLY, h->id, &w, err);
  pthread_mutex_unlock(&c->send_mu);
  ipc_writer_free(&w);
  if (owned && (rp.type == KEYS_MSG_OPEN_BATCH || rp.type == KEYS_MSG_REWRAP_BATCH)) {
    crypto_wipe((void *)rp.batch, rp.batch_len);
    free((void *)rp.batch);
  } else if (owned) {
    crypto_wipe((void *)rp.data, rp.data_len);
    free((void *)rp.data);
  }
  if (h->type == KEYS_MSG_SEAL && rp.rc == 0) vault_sealed_free(&rp.sealed); /* REWRAP's is q's */
  crypto_wipe(sig, sizeof sig);
  return rc;
}

/* Answers a job taken off a queue (nothing when its channel is gone), frees
 * it, and returns holding c->mu with the first failure kept. */
static void run_job(serving *c, job *j, bool skip, bool lane) {
  lisec_err e = {0}, serr = {0};
  int rc = skip ? 0 : answer(c, &j->h, 0, &j->q, &e, lane, &serr);
  ipc_payload_free(j->payload, j->h.len);
  free(j);
  pthread_mutex_lock(&c->mu);
  if (rc && !c->failed) {
    c->failed = rc;
    c->failed_err = serr;
  }
}

static void *worker_main(void *arg) {
  serving *c = arg;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    while (!c->head && !c->stop) pthread_cond_wait(&c->work, &c->mu);
    job *j = c->head;
    if (!j) break; /* stopping, nothing left */
    c->head = j->next;
    if (!c->head) c->tail = NULL;
    c->queued--;
    pthread_cond_signal(&c->room);
    bool skip = c->stop; /* the channel is gone: nobody to answer */
    pthread_mutex_unlock(&c->mu);
    run_job(c, j, skip, false);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* A batch with a record nobody has taken yet, or NULL; under c->mu. */
static par_work *par_open(serving *c) {
  for (par_work *p = c->par; p; p = p->link)
    if (p->next < p->n) return p;
  return NULL;
}

/* Runs p's next record; called with c->mu held, which it drops meanwhile.
 * Once the channel stops, the records nobody has taken are left (their
 * answers would go nowhere). */
static void par_step(serving *c, par_work *p) {
  if (c->stop) {
    p->next = p->n;
    return;
  }
  size_t i = p->next++;
  p->running++;
  pthread_mutex_unlock(&c->mu);
  p->fn(p->ctx, i);
  pthread_mutex_lock(&c->mu);
  if (!--p->running && p->next == p->n) pthread_cond_broadcast(&c->par_done);
}

/* fn(ctx, i) for every i < n, on this lane and every other lane that is
 * free (called from a lane, without c->mu); returns once all have run. */
static void par_for(serving *c, size_t n, void (*fn)(void *ctx, size_t i), void *ctx) {
  par_work p = {.fn = fn, .ctx = ctx, .n = n};
  pthread_mutex_lock(&c->mu);
  p.link = c->par;
  c->par = &p;
  if (n > 1) pthread_cond_broadcast(&c->slow_work);
  while (p.next < p.n) par_step(c, &p);
  while (p.running) pthread_cond_wait(&c->par_done, &c->mu);
  for (par_work **q = &c->par; *q; q = &(*q)->link)
    if (*q == &p) {
      *q = p.link;
      break;
    }
  pthread_mutex_unlock(&c->mu);
}

/* This thread's own nice value (Linux: per thread, who 0 is the caller). */
static void *slow_main(void *arg) {
  serving *c = arg;
  int nice = c->s->rotation_nice;
  if (nice > 0 && setpriority(PRIO_PROCESS, 0, nice) != 0)
    LOG_WARN("keys: the KEK rotation's thread cannot lower its CPU priority to nice %d ([vault] "
             "rotation_nice): %s", nice, strerror(errno));
  pthread_mutex_lock(&c->mu);
  for (;;) {
    while (!c->slow_head && !par_open(c) && !c->stop) pthread_cond_wait(&c->slow_work, &c->mu);
    /* another lane's batch first: its reply goes sooner, and the
     * controller's lane that waits for it sends its next */
    par_work *p = par_open(c);
    if (p) {
      par_step(c, p);
      continue;
    }
    job *j = c->slow_head;
    if (!j) break;
    c->slow_head = j->next;
    if (!c->slow_head) c->slow_tail = NULL;
    c->slow_queued--;
    bool skip = c->stop;
    pthread_mutex_unlock(&c->mu);
    run_job(c, j, skip, true);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* A REWRAP for the rotation's lane (taking payload); false when there is
 * none, or it is full or out of memory: the serving thread answers it. */
#define SLOW_QUEUED_MAX 64
/* After a REWRAP the serving thread does not spin for this long: the
 * rotation's next one comes after a token round trip and the lowered
 * thread's turn, and the decisions' priority must not wait awake for it. */
#define SLOW_QUIET_NS (10 * 1000 * 1000)
static bool hand_slow(serving *c, const ipc_header *h, uint8_t *payload, const keys_request *q) {
  if (!c->n_slow || (q->type != KEYS_MSG_REWRAP && q->type != KEYS_MSG_REWRAP_BATCH)) return false;
  job *j = malloc(sizeof *j);
  if (!j) return false;
  *j = (job){.h = *h, .payload = payload, .q = *q};
  pthread_mutex_lock(&c->mu);
  bool room = c->slow_queued < SLOW_QUEUED_MAX;
  if (room) {
    if (c->slow_tail) c->slow_tail->next = j;
    else c->slow_head = j;
    c->slow_tail = j;
    c->slow_queued++;
    pthread_cond_signal(&c->slow_work);
  }
  pthread_mutex_unlock(&c->mu);
  if (!room) free(j);
  return room;
}

/* Whether q may wait on the token: then a worker answers it. */
static bool for_worker(const serving *c, const keys_request *q) {
  if (!c->n_threads) return false;
  if (q->type == KEYS_MSG_OPEN_BATCH) return true;
  return q->type == KEYS_MSG_OPEN &&
         !keys_kek_cached(c->s->kek, q->sealed.wrapped_key, q->sealed.wrapped_key_len);
}

/* Queues a request for the workers (taking payload); false when it
 * cannot (out of memory): the serving thread answers it itself. */
static bool hand_over(serving *c, const ipc_header *h, uint8_t *payload, const keys_request *q) {
  job *j = malloc(sizeof *j);
  if (!j) return false;
  *j = (job){.h = *h, .payload = payload, .q = *q};
  pthread_mutex_lock(&c->mu);
  while (c->queued >= c->max_queued) pthread_cond_wait(&c->room, &c->mu);
  if (c->tail) c->tail->next = j;
  else c->head = j;
  c->tail = j;
  c->queued++;
  pthread_cond_signal(&c->work);
  pthread_mutex_unlock(&c->mu);
  return true;
}

static void serving_start(serving *c, keys_service *s, int fd) {
  memset(c, 0, sizeof *c);
  c->s = s;
  c->fd = fd;
  pthread_mutex_init(&c->send_mu, NULL);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->work, NULL);
  pthread_cond_init(&c->room, NULL);
  pthread_cond_init(&c->slow_work, NULL);
  pthread_cond_init(&c->par_done, NULL);
  /* (also at rotation_nice 0: a REWRAP_BATCH answered on this thread
   * would hold every other request for a batch's token calls) */
  size_t lanes = 0;
  if (s->kek) lanes = KEYS_ROTATION_LANES(keys_kek_sessions(s->kek)); /* a file key: no pool, 1 */
  while (c->n_slow < lanes && pthread_create(&c->slow[c->n_slow], NULL, slow_main, c) == 0) c->n_slow++;
  size_t want = s->kek ? keys_kek_sessions(s->kek) : 0;
  if (want < 2) return; /* one session: everything in turn, as the token would anyway */
  c->max_queued = 4 * want;
  while (c->n_threads < want && pthread_create(&c->threads[c->n_threads], NULL, worker_main, c) == 0) c->n_threads++;
  if (c->n_threads < want)
    LOG_WARN("keys: %zu of %zu threads for [vault] token_sessions started; misses wait for them", c->n_threads, want);
}

/* rc: how the serving ended (0: the controller closed its end, when a
 * worker's reply that could not go out any more is no failure). */
static int serving_stop(serving *c, int rc) {
  pthread_mutex_lock(&c->mu);
  c->stop = true;
  pthread_cond_broadcast(&c->work);
  pthread_cond_broadcast(&c->slow_work);
  pthread_mutex_unlock(&c->mu);
  for (size_t i = 0; i < c->n_threads; i++) pthread_join(c->threads[i], NULL);
  for (size_t i = 0; i < c->n_slow; i++) pthread_join(c->slow[i], NULL);
  pthread_cond_destroy(&c->slow_work);
  pthread_cond_destroy(&c->par_done);
  pthread_mutex_destroy(&c->send_mu);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->work);
  pthread_cond_destroy(&c->room);
  return rc;
}

int keys_service_serve(keys_service *s, int fd, lisec_err *err) {
  serving c;
  serving_start(&c, s, fd);
  bool spin_next = true;
  unsigned waits = 0;
  uint64_t slow_at = 0; /* when the last REWRAP went to the rotation's lane */
  for (;;) {
    ipc_header h;
    uint8_t *payload = NULL;
    lisec_err rerr = {0};
    /* awake only while requests come back to back (a batch, a burst):
     * between API requests, ~1 ms apart, a spin would burn the CPU the
     * other processes need and still end in a sleep. Never while a KEK
     * rotation runs: its requests come one at a time from a lowered
     * thread, and this thread spinning for them ran about 0.2 of a core
     * at the decisions' priority (bench/api, issue 22 item 6) */
    uint64_t t0 = lisec_time_mono_ns();
    bool rotating = slow_at && t0 - slow_at < SLOW_QUIET_NS;
    bool spin = !rotating && (spin_next || ++waits % KEYS_SPIN_PROBE == 0); /* a sleep's own wake-up hides a burst: probe */
    /* (ipc_recv, not ipc_recv_one: the controller's threads each send
     * theirs, so several requests may be waiting at once) */
    ipc_spin_readable(fd, spin ? s->set.spin_us : 0);
    int rc = ipc_recv(fd, s->set.max_message, &h, &payload, &rerr);
    spin_next = lisec_time_mono_ns() - t0 <= (uint64_t)s->set.spin_us * 1000;
    /* (ipc_recv's words for an end of file between messages: the
     * controller closed its end, which is how it says it is done) */
    if (rc == LISEC_EIO && strcmp(rerr.msg, "peer closed") == 0) return serving_stop(&c, 0);
    if (rc) return serving_stop(&c, lisec_err_set(err, rc, "%s", rerr.msg));
    keys_request q;
    lisec_err e = {0};
    if (h.flags != 0) rc = lisec_err_set(&e, LISEC_EINVAL, "keys: a request with flags 0x%x", (unsigned)h.flags);
    else rc = keys_wire_get_request(h.type, payload, h.len, &q, &e);
    if (!rc && for_worker(&c, &q) && hand_over(&c, &h, payload, &q)) continue;
    if (!rc && hand_slow(&c, &h, payload, &q)) {
      slow_at = lisec_time_mono_ns();
      continue;
    }
    rc = answer(&c, &h, rc, &q, &e, false, err);
    ipc_payload_free(payload, h.len);
    pthread_mutex_lock(&c.mu);
    int failed = c.failed;
    if (!rc && failed) rc = lisec_err_set(err, failed, "%s", c.failed_err.msg); /* a worker's send */
    pthread_mutex_unlock(&c.mu);
    if (rc) return serving_stop(&c, rc);
  }
}
