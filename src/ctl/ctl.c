/* The controller's core: opening the shared state (store URL, the vault's
 * KEK, the LI administration's public key) and each context's own store
 * connection, and the status and health use cases. */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ctl/internal.h"

#define LISEC_DEFAULT_STORE "sqlite:/var/lib/lisec/lisec.db"

/* [audit] li_admin_key: a file with the LI administration's X25519 public
 * key in base64. Without it no LI record can be written (fail closed). */
static int load_li_key(const lisec_config *cfg, ctl_shared *sh, lisec_err *err) {
  const char *path = lisec_config_str(cfg, "audit", "li_admin_key", NULL);
  if (!path) return 0;
  uint8_t *text = NULL, *key = NULL;
  size_t len = 0, klen = 0;
  int rc = lisec_file_read(path, 1024, &text, &len, err);
  if (rc) return rc;
  while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) text[--len] = 0;
  rc = crypto_base64_decode((const char *)text, 64, &key, &klen, err);
  if (rc == 0 && klen != sizeof sh->li_admin_pk)
    rc = lisec_err_set(err, LISEC_EINVAL, "%s: an X25519 public key is 32 bytes", path);
  if (rc == 0) {
    memcpy(sh->li_admin_pk, key, klen);
    sh->li_key_set = true;
  } else {
    lisec_err_wrap(err, "[audit] li_admin_key");
  }
  free(text);
  free(key);
  return rc;
}

/* [vault]: the KEK in a PKCS#11 token, or a development file key that must
 * be asked for by name. */
static int open_kek(const lisec_config *cfg, ctl_shared *sh, lisec_err *err) {
  const char *module = lisec_config_str(cfg, "vault", "pkcs11_module", NULL);
  const char *dev = lisec_config_str(cfg, "vault", "development_key_file", NULL);
  if (module) {
    const char *pin_file = lisec_config_str(cfg, "vault", "pin_file", NULL);
    uint8_t *pin = NULL;
    size_t len = 0;
    if (!pin_file) return lisec_err_set(err, LISEC_EINVAL, "[vault] pin_file is required with pkcs11_module");
    int rc = lisec_file_read(pin_file, 256, &pin, &len, err);
    if (rc) return rc;
    while (len && (pin[len - 1] == '\n' || pin[len - 1] == '\r')) pin[--len] = 0;
    ctl_kek_pkcs11_config pc = {module, lisec_config_str(cfg, "vault", "token", "lisec"),
                                (const char *)pin, lisec_config_str(cfg, "vault", "key_label", "lisec-kek"),
                                true};
    rc = ctl_kek_open_pkcs11(&pc, &sh->kek, err);
    crypto_wipe(pin, len);
    free(pin);
    return rc;
  }
  if (dev) {
    bool allowed = false;
    int rc = lisec_config_bool(cfg, "vault", "allow_development_key", false, &allowed, err);
    if (rc) return rc;
    if (!allowed)
      return lisec_err_set(err, LISEC_EINVAL,
                           "[vault] development_key_file needs allow_development_key = true: a key in "
                           "a file is not protected from the virtualisation layer (TR 103 308 5.7)");
    return ctl_kek_open_file(dev, &sh->kek, err);
  }
  return 0;
}

static void shared_free(ctl_shared *sh) {
  if (!sh) return;
  ctl_kek_close(sh->kek);
  pthread_mutex_destroy(&sh->record_lock);
  free(sh->store_url);
  free(sh);
}

static int shared_open(const lisec_config *cfg, ctl_shared **out, lisec_err *err) {
  ctl_shared *sh = calloc(1, sizeof *sh);
  if (!sh) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&sh->record_lock, NULL);
  sh->started_at = lisec_time_now();
  sh->store_url = strdup(lisec_config_str(cfg, "store", "url", LISEC_DEFAULT_STORE));
  int rc = sh->store_url ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (rc == 0) rc = load_li_key(cfg, sh, err);
  if (rc == 0) rc = open_kek(cfg, sh, err);
  if (rc) {
    shared_free(sh);
    return rc;
  }
  if (sh->kek && ctl_kek_is_development(sh->kek))
    LOG_WARN("DEVELOPMENT MODE: the target vault's key-encryption key is a plain file; "
             "targets are NOT protected from the virtualisation layer (TR 103 308 5.7)");
  *out = sh;
  return 0;
}

int ctl_open(const lisec_config *cfg, lisec_ctl **out, lisec_err *err) {
  lisec_ctl *ctl = calloc(1, sizeof *ctl);
  if (!ctl) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  ctl->owns_shared = true;
  /* The store first: when it is unreachable, that is the reason to give. */
  int rc = store_open(lisec_config_str(cfg, "store", "url", LISEC_DEFAULT_STORE), &ctl->store, err);
  if (rc) lisec_err_wrap(err, "cannot open the store ([store] url)");
  if (rc == 0) rc = shared_open(cfg, &ctl->shared, err);
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

void ctl_close(lisec_ctl *ctl) {
  if (!ctl) return;
  store_close(ctl->store);
  if (ctl->owns_shared) shared_free(ctl->shared);
  free(ctl);
}

int64_t ctl_uptime_seconds(const lisec_ctl *ctl) {
  return lisec_time_now() - ctl->shared->started_at;
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
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}
