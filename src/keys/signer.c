/* The checkpoint signer (signer.h). The token key is looked up by its label
 * and generated when absent; one session, serialised by a mutex. The file
 * key is read whole into sodium's guarded memory. libsodium is used
 * directly: crypto/crypto.h and sodium.h both declare crypto_sign().
 * A rollover's next key lives beside the current one, labelled (or named)
 * with ".next", until it is promoted: the file renamed over the old one, or
 * in the token the old pair relabelled ".retired", the next one relabelled
 * as the current, and the retired pair destroyed. A start that finds the
 * label missing but a ".next" pair adopts it (the promotion was cut short);
 * a ".retired" pair left over is destroyed. */
#include <p11-kit/pkcs11.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/p11.h"
#include "keys/signer.h"
#include "keys/witness.h"

struct keys_signer {
  bool dev;
  uint8_t pk[32];
  /* development file */
  uint8_t *sk; /* 64 bytes, sodium_malloc'd (locked, guarded) */
  char *path;
  /* the rollover's next key, once made or found */
  bool have_next;
  uint8_t next_pk[32];
  uint8_t *next_sk;
  CK_OBJECT_HANDLE next_priv, next_pub, pub;
  char *label;
  /* PKCS#11, through the process's one client (keys/p11.h) */
  keys_p11 *module;
  CK_FUNCTION_LIST_PTR p11;
  CK_SESSION_HANDLE session;
  bool session_open;
  CK_OBJECT_HANDLE priv;
  keys_witness *witness; /* the last checkpoint signed (witness.h) */
  pthread_mutex_t lock;
};

static int p11_fail(lisec_err *err, const char *what, CK_RV rv) { return keys_p11_fail(err, "[audit]", what, rv); }

/* PKCS#8 DER of an Ed25519 private key is this fixed prefix and the seed;
 * it is what `openssl genpkey -algorithm ed25519` writes, inside PEM. */
static const uint8_t pkcs8_ed25519[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                          0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
#define PEM_HEAD "-----BEGIN PRIVATE KEY-----\n"
#define PEM_TAIL "-----END PRIVATE KEY-----\n"

static keys_signer *signer_new(lisec_err *err) {
  if (sodium_init() < 0) {
    lisec_err_set(err, LISEC_ECRYPTO, "libsodium did not initialise");
    return NULL;
  }
  keys_signer *k = calloc(1, sizeof *k);
  if (!k) {
    lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&k->lock, NULL);
  return k;
}

static int dev_key_load(const char *path, bool create, uint8_t pk[32], uint8_t **sk, lisec_err *err) {
  uint8_t seed[32], der[48];
  uint8_t *text = NULL;
  size_t len = 0;
  int rc = lisec_file_read(path, 4096, &text, &len, err);
  struct stat st;
  /* made only when absent: a file that is there but cannot be read (another
   * owner) is the log's checkpoint key, never to be replaced */
  if (rc == LISEC_EIO && lstat(path, &st) == 0) {
    lisec_err_wrap(err, "TR103308-5.5: the development checkpoint key file is there but unreadable; it is not replaced");
    goto out;
  }
  if (rc == LISEC_EIO && create && errno == ENOENT) {
    /* Absent: create one, readable by this user only. */
    randombytes_buf(seed, sizeof seed);
    memcpy(der, pkcs8_ed25519, 16);
    memcpy(der + 16, seed, 32);
    char b64[sodium_base64_ENCODED_LEN(48, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, der, sizeof der, sodium_base64_VARIANT_ORIGINAL);
    char pem[160];
    int n = snprintf(pem, sizeof pem, PEM_HEAD "%s\n" PEM_TAIL, b64);
    rc = lisec_file_write_atomic(path, pem, (size_t)n, 0600, err);
    sodium_memzero(pem, sizeof pem);
    sodium_memzero(b64, sizeof b64);
    if (rc) goto out;
  } else if (rc == 0) {
    /* Exactly the PEM shape above; anything else is not ours to guess at. */
    const char *t = (const char *)text;
    size_t hl = strlen(PEM_HEAD), tl = strlen(PEM_TAIL);
    size_t b64_len = len >= hl + tl + 1 ? len - hl - tl - 1 : 0;
    size_t bin_len = 0;
    if (b64_len != 64 || memcmp(t, PEM_HEAD, hl) != 0 || t[hl + 64] != '\n' ||
        memcmp(t + hl + 65, PEM_TAIL, tl) != 0 ||
        sodium_base642bin(der, sizeof der, t + hl, 64, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len != 48 || memcmp(der, pkcs8_ed25519, 16) != 0) {
      rc = lisec_err_set(err, LISEC_EINVAL,
                         "%s is not an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)",
                         path);
      goto out;
    }
    memcpy(seed, der + 16, 32);
  } else {
    goto out;
  }
  *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
  if (!*sk) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  crypto_sign_seed_keypair(pk, *sk, seed);
out:
  sodium_memzero(seed, sizeof seed);
  sodium_memzero(der, sizeof der);
  if (text) sodium_memzero(text, len);
  free(text);
  return rc;
}

/* The objects of class cls labelled label: *n of them, 0, 1 or 2 (two
 * asked for: a second under the label is enough to tell), the first in *h. */
static int p11_find(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label,
                    CK_OBJECT_HANDLE *h, CK_ULONG *n, lisec_err *err) {
  CK_KEY_TYPE type = CKK_EC_EDWARDS;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_KEY_TYPE, &type, sizeof type},
                         {CKA_LABEL, (void *)label, strlen(label)}};
  CK_OBJECT_HANDLE found[2];
  *n = 0;
  CK_RV rv = fn->C_FindObjectsInit(s, tmpl, LISEC_ARRAY_LEN(tmpl));
  if (rv == CKR_OK) {
    rv = fn->C_FindObjects(s, found, LISEC_ARRAY_LEN(found), n);
    fn->C_FindObjectsFinal(s);
  }
  if (rv != CKR_OK) return p11_fail(err, "C_FindObjects", rv);
  if (*n > 0) *h = found[0];
  return 0;
}

/* The pair labelled label, both halves or neither (*have); more than one
 * of a half under the label is refused: which one signs would be the
 * token's choice. */
static int pair_find(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE *priv,
                     CK_OBJECT_HANDLE *pub, bool *have, lisec_err *err) {
  CK_ULONG n_priv = 0, n_pub = 0;
  int rc = p11_find(fn, s, CKO_PRIVATE_KEY, label, priv, &n_priv, err);
  if (!rc) rc = p11_find(fn, s, CKO_PUBLIC_KEY, label, pub, &n_pub, err);
  if (rc) return rc;
  if (n_priv > 1 || n_pub > 1)
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-5.5: token holds more than one Ed25519 %s key labelled \"%s\": which one "
                         "signs the audit log's checkpoints is ambiguous, so none is used; keep only the pair "
                         "the log is signed with (lisec audit verify names its key) and delete or relabel the "
                         "others (pkcs11-tool --list-objects lists them)",
                         n_priv > 1 ? "private" : "public", label);
  if ((n_priv == 1) != (n_pub == 1))
    return lisec_err_set(err, LISEC_ENOTFOUND, "the token holds only half of the Ed25519 pair \"%s\"", label);
  *have = n_priv == 1;
  return 0;
}

int keys_signer_token_pair(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *label,
                           CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub, bool *found, lisec_err *err) {
  *found = false;
  int rc = pair_find(fn, s, label, priv, pub, found, err);
  if (rc || !*found) return rc;
  /* A key found (provisioned beforehand) signs only when it is what
   * lisecd generates: not extractable, or whoever holds the PIN can read
   * it out and forge checkpoints. */
  CK_BBOOL extractable = CK_TRUE;
  CK_ATTRIBUTE a = {CKA_EXTRACTABLE, &extractable, sizeof extractable};
  CK_RV rv = fn->C_GetAttributeValue(s, *priv, &a, 1);
  if (rv != CKR_OK) return p11_fail(err, "C_GetAttributeValue (the checkpoint key's CKA_EXTRACTABLE)", rv);
  if (extractable != CK_FALSE)
    return lisec_err_set(err, LISEC_EINVAL,
                         "TR103308-5.5: checkpoint key \"%s\" is extractable: its value can leave the token "
                         "(to anyone holding the PIN), who could then forge checkpoints; delete it and let lisecd "
                         "make the pair, or make it without --extractable (pkcs11-tool --keypairgen --key-type "
                         "EC:edwards25519); for a key that signed a log already, set its CKA_EXTRACTABLE to false "
                         "and roll it over (lisec audit rollover)",
                         label);
  return 0;
}

/* The raw 32-byte public key from CKA_EC_POINT, which tokens give either raw
 * or as a DER OCTET STRING (04 20 || key). */
static int p11_public_key(keys_signer *k, CK_OBJECT_HANDLE pub, uint8_t pk[32], lisec_err *err) {
  uint8_t point[64];
  CK_ATTRIBUTE a = {CKA_EC_POINT, point, sizeof point};
  CK_RV rv = k->p11->C_GetAttributeValue(k->session, pub, &a, 1);
  if (rv != CKR_OK) return p11_fail(err, "C_GetAttributeValue(CKA_EC_POINT)", rv);
  if (a.ulValueLen == 32) memcpy(pk, point, 32);
  else if (a.ulValueLen == 34 && point[0] == 0x04 && point[1] == 0x20) memcpy(pk, point + 2, 32);
  else return lisec_err_set(err, LISEC_ECRYPTO, "PKCS#11 key has an unexpected CKA_EC_POINT");
  return 0;
}

static int p11_generate(keys_signer *k, const char *label, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv,
                        lisec_err *err) {
  /* DER of the OID 1.3.101.112 (id-Ed25519). */
  static const uint8_t ed25519_oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_MECHANISM mech = {CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0};
  CK_ATTRIBUTE pub_tmpl[] = {{CKA_EC_PARAMS, (void *)ed25519_oid, sizeof ed25519_oid},
                             {CKA_TOKEN, &yes, sizeof yes},
                             {CKA_VERIFY, &yes, sizeof yes},
                             {CKA_LABEL, (void *)label, strlen(label)}};
  /* Sensitive and never extractable: the checkpoint key cannot leave the token. */
  CK_ATTRIBUTE priv_tmpl[] = {{CKA_TOKEN, &yes, sizeof yes},
                              {CKA_PRIVATE, &yes, sizeof yes},
                              {CKA_SENSITIVE, &yes, sizeof yes},
                              {CKA_EXTRACTABLE, &no, sizeof no},
                              {CKA_SIGN, &yes, sizeof yes},
                              {CKA_LABEL, (void *)label, strlen(label)}};
  CK_RV rv = k->p11->C_GenerateKeyPair(k->session, &mech, pub_tmpl, LISEC_ARRAY_LEN(pub_tmpl),
                                       priv_tmpl, LISEC_ARRAY_LEN(priv_tmpl), pub, priv);
  if (rv == CKR_MECHANISM_INVALID)
    return lisec_err_set(err, LISEC_EUNAVAIL, "the PKCS#11 token cannot make Ed25519 keys (CKM_EC_EDWARDS_KEY_PAIR_GEN)");
  return rv == CKR_OK ? 0 : p11_fail(err, "C_GenerateKeyPair(Ed25519)", rv);
}

/* The pair labelled label that signs: both halves, or neither (*have);
 * judged as keys_signer_token_pair judges it. */
static int p11_pair(keys_signer *k, const char *label, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub, bool *have,
                    lisec_err *err) {
  return keys_signer_token_pair(k->p11, k->session, label, priv, pub, have, err);
}

static char *label_with(const keys_signer *k, const char *suffix) {
  char *l = NULL;
  return asprintf(&l, "%s%s", k->label, suffix) < 0 ? NULL : l;
}

static int p11_relabel(keys_signer *k, CK_OBJECT_HANDLE h, const char *label, lisec_err *err) {
  CK_ATTRIBUTE a = {CKA_LABEL, (void *)label, strlen(label)};
  CK_RV rv = k->p11->C_SetAttributeValue(k->session, h, &a, 1);
  return rv == CKR_OK ? 0 : p11_fail(err, "C_SetAttributeValue(CKA_LABEL)", rv);
}

static int p11_destroy_pair(keys_signer *k, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub, lisec_err *err) {
  CK_RV rv = k->p11->C_DestroyObject(k->session, priv);
  if (rv == CKR_OK) rv = k->p11->C_DestroyObject(k->session, pub);
  return rv == CKR_OK ? 0 : p11_fail(err, "C_DestroyObject (the checkpoint key)", rv);
}

/* Destroys the pair labelled <label><suffix>, if there is one (an
 * extractable one too: it signs nothing more). */
static int destroy_labelled(keys_signer *k, const char *suffix, lisec_err *err) {
  char *l = label_with(k, suffix);
  if (!l) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  CK_OBJECT_HANDLE priv = 0, pub = 0;
  bool have = false;
  int rc = pair_find(k->p11, k->session, l, &priv, &pub, &have, err);
  if (!rc && have) rc = p11_destroy_pair(k, priv, pub, err);
  free(l);
  return rc;
}

/* A promotion cut short between its two relabels: the ".next" pair is the
 * current key. */
static int adopt_next(keys_signer *k, bool *have, lisec_err *err) {
  char *l = label_with(k, ".next");
  if (!l) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = p11_pair(k, l, &k->priv, &k->pub, have, err);
  if (!rc && *have && !(rc = p11_relabel(k, k->priv, k->label, err)))
    rc = p11_relabel(k, k->pub, k->label, err);
  free(l);
  return rc;
}

static int p11_key_open(keys_signer *k, const keys_signer_pkcs11 *cfg, lisec_err *err) {
  if (!cfg->module || !cfg->token_label || !cfg->pin || !cfg->key_label)
    return lisec_err_set(err, LISEC_EINVAL, "PKCS#11 checkpoint key needs module, token, pin and key label");
  /* the module is shared with the vault's KEK and the LI keys (keys/p11.h) */
  int rc = keys_p11_open(cfg->module, NULL, "[audit]", &k->module, err);
  if (rc) return rc;
  k->p11 = keys_p11_functions(k->module);
  if ((rc = keys_p11_session_open(k->module, "[audit]", cfg->token_label, cfg->pin, &k->session, err)))
    return rc;
  k->session_open = true;
  if (!(k->label = strdup(cfg->key_label))) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  bool have = false;
  if ((rc = p11_pair(k, cfg->key_label, &k->priv, &k->pub, &have, err))) return rc;
  if (!have && (rc = adopt_next(k, &have, err))) return rc;
  if (!have) {
    if (!cfg->create)
      return lisec_err_set(err, LISEC_ENOTFOUND, "no Ed25519 key pair labelled \"%s\" in the token",
                           cfg->key_label);
    if ((rc = p11_generate(k, cfg->key_label, &k->pub, &k->priv, err))) return rc;
  }
  if ((rc = destroy_labelled(k, ".retired", err))) return rc;
  char *wl = label_with(k, KEYS_WITNESS_SUFFIX);
  if (!wl) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  rc = keys_witness_open_pkcs11(k->p11, k->session, wl, &k->witness, err);
  free(wl);
  return rc ? rc : p11_public_key(k, k->pub, k->pk, err);
}

int keys_signer_open_pkcs11(const keys_signer_pkcs11 *cfg, keys_signer **out, lisec_err *err) {
  keys_signer *k = signer_new(err);
  if (!k) return err ? err->code : LISEC_ENOMEM;
  int rc = p11_key_open(k, cfg, err);
  if (rc) {
    keys_signer_close(k);
    return rc;
  }
  *out = k;
  return 0;
}

int keys_signer_open_file(const char *path, bool create, keys_signer **out, lisec_err *err) {
  keys_signer *k = signer_new(err);
  if (!k) return err ? err->code : LISEC_ENOMEM;
  int rc = dev_key_load(path, create, k->pk, &k->sk, err);
  k->dev = true;
  if (!rc && !(k->path = strdup(path))) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  char *wp = NULL;
  if (!rc && asprintf(&wp, "%s%s", path, KEYS_WITNESS_FILE_SUFFIX) < 0) {
    wp = NULL;
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  if (!rc) rc = keys_witness_open_file(wp, &k->witness, err);
  free(wp);
  if (rc) {
    keys_signer_close(k);
    return rc;
  }
  *out = k;
  return 0;
}

void keys_signer_close(keys_signer *k) {
  if (!k) return;
  keys_witness_close(k->witness);
  if (k->sk) sodium_free(k->sk);
  if (k->next_sk) sodium_free(k->next_sk);
  free(k->path);
  free(k->label);
  /* No C_Logout: the login is shared with the token's other users here. */
  if (k->session_open) keys_p11_session_close(k->module, k->session);
  keys_p11_close(k->module); /* the module's last user finalises it */
  pthread_mutex_destroy(&k->lock);
  free(k);
}

static int sign_with(keys_signer *k, const uint8_t *sk, CK_OBJECT_HANDLE priv, const uint8_t *msg, size_t len,
                     uint8_t sig[64], lisec_err *err) {
  if (k->dev) {
    crypto_sign_detached(sig, NULL, msg, len, sk);
    return 0;
  }
  CK_MECHANISM mech = {CKM_EDDSA, NULL, 0};
  CK_ULONG sig_len = 64;
  CK_RV rv = k->p11->C_SignInit(k->session, &mech, priv);
  if (rv == CKR_OK) rv = k->p11->C_Sign(k->session, (CK_BYTE_PTR)msg, len, sig, &sig_len);
  if (rv != CKR_OK) return p11_fail(err, "C_Sign(CKM_EDDSA)", rv);
  if (sig_len != 64) return lisec_err_set(err, LISEC_ECRYPTO, "PKCS#11 Ed25519 signature of %lu bytes", sig_len);
  return 0;
}

int keys_signer_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64], lisec_err *err) {
  keys_signer *k = ctx;
  pthread_mutex_lock(&k->lock);
  int rc = sign_with(k, k->sk, k->priv, msg, len, sig, err);
  pthread_mutex_unlock(&k->lock);
  return rc;
}

int keys_signer_sign_next(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64], lisec_err *err) {
  keys_signer *k = ctx;
  pthread_mutex_lock(&k->lock);
  int rc = k->have_next ? sign_with(k, k->next_sk, k->next_priv, msg, len, sig, err)
                        : lisec_err_set(err, LISEC_ENOTFOUND, "TR103308-5.5: no next checkpoint key to sign with");
  pthread_mutex_unlock(&k->lock);
  return rc;
}

int keys_signer_sign_witnessed(keys_signer *k, bool next, const uint8_t *msg, size_t len, uint64_t old_size,
                               const uint8_t *proof, size_t proof_len, uint8_t sig[64], lisec_err *err) {
  pthread_mutex_lock(&k->lock);
  int rc = next && !k->have_next
               ? lisec_err_set(err, LISEC_ENOTFOUND, "TR103308-5.5: no next checkpoint key to sign with")
               : keys_witness_admit(k->witness, msg, len, old_size, proof, proof_len, err);
  if (!rc) rc = next ? sign_with(k, k->next_sk, k->next_priv, msg, len, sig, err)
                     : sign_with(k, k->sk, k->priv, msg, len, sig, err);
  pthread_mutex_unlock(&k->lock);
  return rc;
}

int keys_signer_witness_state(keys_signer *k, bool *have, uint64_t *size, uint8_t root[32], lisec_err *err) {
  pthread_mutex_lock(&k->lock);
  int rc = keys_witness_state(k->witness, have, size, root, err);
  pthread_mutex_unlock(&k->lock);
  return rc;
}

static void forget_next(keys_signer *k) {
  if (k->next_sk) sodium_free(k->next_sk);
  k->next_sk = NULL;
  k->have_next = false;
}

/* The next key: made afresh (an unused one left by an earlier attempt is
 * discarded), or the one already there. */
static int next_locked(keys_signer *k, bool fresh, lisec_err *err) {
  int rc = 0;
  if (k->dev) {
    char *p = NULL;
    if (asprintf(&p, "%s.next", k->path) < 0) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    forget_next(k);
    if (fresh && unlink(p) != 0 && errno != ENOENT)
      rc = lisec_err_set(err, LISEC_EIO, "%s: %s", p, strerror(errno));
    if (!rc) rc = dev_key_load(p, fresh, k->next_pk, &k->next_sk, err);
    if (rc == LISEC_EIO && !fresh) rc = lisec_err_set(err, LISEC_ENOTFOUND, "no next checkpoint key (%s)", p);
    free(p);
  } else {
    char *l = label_with(k, ".next");
    bool have = false;
    if (!l) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    forget_next(k);
    if (fresh) rc = destroy_labelled(k, ".next", err);
    if (!rc && fresh) rc = p11_generate(k, l, &k->next_pub, &k->next_priv, err);
    else if (!rc && !(rc = p11_pair(k, l, &k->next_priv, &k->next_pub, &have, err)) && !have)
      rc = lisec_err_set(err, LISEC_ENOTFOUND, "no next checkpoint key \"%s\" in the token", l);
    if (!rc) rc = p11_public_key(k, k->next_pub, k->next_pk, err);
    free(l);
  }
  k->have_next = rc == 0;
  return rc;
}

int keys_signer_next(keys_signer *k, bool fresh, uint8_t pk[32], lisec_err *err) {
  pthread_mutex_lock(&k->lock);
  int rc = next_locked(k, fresh, err);
  if (!rc) memcpy(pk, k->next_pk, 32);
  pthread_mutex_unlock(&k->lock);
  return rc;
}

static int promote_locked(keys_signer *k, const uint8_t pk[32], lisec_err *err) {
  int rc = k->have_next ? 0 : next_locked(k, false, err);
  if (rc) return rc;
  if (sodium_memcmp(k->next_pk, pk, 32) != 0)
    return lisec_err_set(err, LISEC_ECONFLICT, "TR103308-5.5: the next checkpoint key is not the key the log rolled over to");
  if (k->dev) {
    char *p = NULL;
    if (asprintf(&p, "%s.next", k->path) < 0) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    if (rename(p, k->path) != 0) rc = lisec_err_set(err, LISEC_EIO, "%s -> %s: %s", p, k->path, strerror(errno));
    free(p);
    if (rc) return rc;
    sodium_free(k->sk);
    k->sk = k->next_sk;
    k->next_sk = NULL;
  } else {
    char *retired = label_with(k, ".retired");
    if (!retired) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    if (!(rc = p11_relabel(k, k->priv, retired, err)) && !(rc = p11_relabel(k, k->pub, retired, err)) &&
        !(rc = p11_relabel(k, k->next_priv, k->label, err)) && !(rc = p11_relabel(k, k->next_pub, k->label, err)))
      rc = p11_destroy_pair(k, k->priv, k->pub, err);
    free(retired);
    if (rc) return rc;
    k->priv = k->next_priv;
    k->pub = k->next_pub;
  }
  memcpy(k->pk, k->next_pk, 32);
  k->have_next = false;
  return 0;
}

int keys_signer_promote(keys_signer *k, const uint8_t pk[32], lisec_err *err) {
  pthread_mutex_lock(&k->lock);
  int rc = promote_locked(k, pk, err);
  pthread_mutex_unlock(&k->lock);
  return rc;
}

void keys_signer_public_key(const keys_signer *k, uint8_t pk[32]) { memcpy(pk, k->pk, 32); }

bool keys_signer_development(const keys_signer *k) { return k->dev; }
