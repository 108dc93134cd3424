/* VNF package on-boarding in the controller: the [pkg] trust anchors and
 * limits shared by every worker, and the use cases that decode an uploaded
 * CSAR, have pkg/ verify it (signatures, dual signing, digests, container
 * safety), apply the tenant and replacement policies, record the act
 * (write-ahead) and keep the verified description with the CSAR's digest.
 * The CSAR bytes themselves are not kept: what runs is later compared with
 * the image digests of the description. */
#include <ctype.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto/crypto.h"
#include "ctl/clock.h"
#include "ctl/internal.h"
#include "ctl/model.h"
#include "ctl/pkg.h"
#include "pkg/pkg.h"

#define PKG_KIND "pkg"
#define PKG_VM_KIND "pkg-vm"
#define PKG_CRL_KIND "pkg-crl" /* vendor CRLs, by the SHA-256 of the vendor anchor that signed them */
#define PKG_KEY_MAX (7 + 63 + 1 + CTL_PKG_ID_MAX + 1) /* "tenant:<name>:<id>" (below) */
#define PKG_ANCHOR_FILE_MAX (4u << 20)

/* No lock around verification: the trust anchors and CRLs are loaded at
 * open and never changed after, each check builds an X509_STORE of its own
 * over them, and OpenSSL keeps what it caches inside a shared certificate
 * or CRL under that object's own lock. So on-boardings (one per bulk
 * channel) and a vendor CRL's load verify side by side; the store's
 * create-only or versioned write decides which of two writers of one
 * package wins, and a refused package writes nothing. */
struct ctl_pkg_state {
  pkg_trust *trust;     /* NULL: no vendor anchors configured, on-boarding refused */
  bool has_operator, has_li_admin, has_crl;
  uint64_t max_package;  /* bytes of one uploaded CSAR */
  uint64_t max_expanded; /* bytes the CSAR may expand to */
  uint64_t max_crl;      /* bytes of one vendor CRL ([pkg] max_crl) */
  /* Each package's image digests as observations are held to them (issue
   * 15: not read from the store per report), kept until a package or a CRL
   * is written here (images_forget); gen counts those writes, so a read
   * that raced one is not kept. */
  pthread_mutex_t images_mu;
  json_t *images; /* store key -> ["<lower-case hex>", ...], never changed once kept */
  uint64_t images_gen;
};

/* Packages whose images are kept at once; past it the set starts again. */
#define PKG_IMAGES_KEPT_MAX 4096

/* ---- shared state ------------------------------------------------------- */

static int add_pem_file(pkg_trust *t, const char *path, int role, lisec_err *err) {
  uint8_t *pem = NULL;
  size_t len = 0;
  int rc = lisec_file_read(path, PKG_ANCHOR_FILE_MAX, &pem, &len, err);
  if (!rc) rc = role < 0 ? pkg_trust_add_crls_pem(t, pem, len, err)
                         : pkg_trust_add_anchors_pem(t, (pkg_role)role, pem, len, err);
  free(pem);
  if (rc) lisec_err_wrap(err, "%s", path);
  return rc;
}

static int load_trust(const lisec_config *cfg, struct ctl_pkg_state *st, lisec_err *err) {
  static const struct {
    const char *key;
    int role;
  } files[] = {{"vendor_ca", PKG_ROLE_VENDOR},
               {"operator_ca", PKG_ROLE_OPERATOR},
               {"li_admin_ca", PKG_ROLE_LI_ADMIN},
               {"crl", -1}};
  const char *vendor = lisec_config_str(cfg, "pkg", "vendor_ca", NULL);
  if (!vendor) return 0; /* on-boarding is refused until anchors are configured */
  int rc = pkg_trust_new(&st->trust, err);
  for (size_t i = 0; !rc && i < LISEC_ARRAY_LEN(files); i++) {
    const char *path = lisec_config_str(cfg, "pkg", files[i].key, NULL);
    if (!path) continue;
    rc = add_pem_file(st->trust, path, files[i].role, err);
    if (rc) lisec_err_wrap(err, "[pkg] %s", files[i].key);
    if (files[i].role == PKG_ROLE_OPERATOR) st->has_operator = true;
    if (files[i].role == PKG_ROLE_LI_ADMIN) st->has_li_admin = true;
    if (files[i].role < 0) st->has_crl = true;
  }
  return rc;
}

static int instantiable(lisec_ctl *ctl, const char *package, char requirement[64], lisec_err *err);
static json_t *images_kept(lisec_ctl *ctl, const char *package);

int ctl_pkg_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  (void)s; /* nothing to load: packages are read from the store per request */
  struct ctl_pkg_state *st = calloc(1, sizeof *st);
  if (!st) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&st->images_mu, NULL);
  sh->pkg = st;
  if (!(st->images = json_object())) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = load_trust(cfg, st, err);
  st->max_package = (uint64_t)sh->settings.pkg_max_package;
  st->max_expanded = (uint64_t)sh->settings.pkg_max_expanded;
  st->max_crl = (uint64_t)sh->settings.pkg_max_crl;
  /* image findings reach compliance through the model's hook */
  if (!rc) ctl_model_hook_findings(sh, CTL_MODEL_FINDINGS_IMAGE, CTL_PKG_IMAGE_RULE, ctl_pkg_image_findings);
  /* packages whose vendor signer is revoked and their VMs likewise; the
   * model asks before placing a VM of a package (retired, revoked) */
  if (!rc) ctl_model_hook_findings(sh, CTL_MODEL_FINDINGS_PKG_REVOKED, PKG_REQ_REVOKED,
                                   ctl_pkg_revoked_findings);
  if (!rc) ctl_model_hook_instantiable(sh, instantiable);
  if (!rc) ctl_model_hook_pkg_images(sh, images_kept);
  if (!rc && st->trust && !st->has_operator)
    LOG_WARN("[pkg] operator_ca is not set: every package will be refused, since each needs the "
             "operator's countersignature (TR 103 308 4.1)");
  return rc;
}

void ctl_pkg_close(ctl_shared *sh) {
  if (!sh->pkg) return;
  pkg_trust_free(sh->pkg->trust);
  json_decref(sh->pkg->images);
  pthread_mutex_destroy(&sh->pkg->images_mu);
  free(sh->pkg);
  sh->pkg = NULL;
}

/* ---- helpers ------------------------------------------------------------ */

/* The owner a role on-boards as: MANO (the NFVO on Os-Ma-nfvo) acts for the
 * operator; a tenant for itself; every other role is refused by pkg/. */
static const char *owner_of(const ctl_actor *actor) {
  return ctl_actor_role(actor) == CTL_ROLE_MANO ? "operator" : actor->role;
}

/* Package ids and the VM ids reports name follow lisec's one id rule. */
_Static_assert(CTL_PKG_ID_MAX == LISEC_ID_MAX, "package ids are lisec ids");

static int id_check(const char *id, lisec_err *err) {
  return lisec_id_check("id", id, id ? strnlen(id, CTL_PKG_ID_MAX + 1) : 0, err);
}

/* Each tenant has a package-id namespace of its own: tenant T's "pkg-1" is
 * stored under the key "tenant:T:pkg-1" (tenant names hold no ':', so the
 * key is unambiguous), the operator's under its id. A tenant always
 * addresses its own namespace, so another tenant's ids are neither visible
 * (no 403/404 oracle) nor claimable first (no 409). The operator and MANO
 * address a tenant's package by that key, which is also a lisec id; an
 * operator package id therefore may not start with "tenant:". */
#define TENANT_PREFIX "tenant:"

static bool is_tenant(const ctl_actor *actor) {
  return ctl_actor_role(actor) == CTL_ROLE_TENANT;
}

static int pkg_key(const ctl_actor *actor, const char *id, bool creating, char key[PKG_KEY_MAX],
                   lisec_err *err) {
  int rc = id_check(id, err);
  if (rc) return rc;
  if (is_tenant(actor)) {
    snprintf(key, PKG_KEY_MAX, "%.80s:%s", actor->role, id);
    return 0;
  }
  if (creating && strncmp(id, TENANT_PREFIX, strlen(TENANT_PREFIX)) == 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "id: \"tenant:<name>:<id>\" names a tenant's package; an operator "
                         "package id may not start with \"tenant:\"");
  snprintf(key, PKG_KEY_MAX, "%s", id);
  return 0;
}

/* The id a package has in its owner's namespace: the key without the
 * "tenant:T:" of a tenant's package. */
static const char *local_id(const char *key, const char *owner) {
  size_t n = owner ? strlen(owner) : 0;
  if (owner && strncmp(owner, TENANT_PREFIX, strlen(TENANT_PREFIX)) == 0 &&
      strncmp(key, owner, n) == 0 && key[n] == ':')
    return key + n + 1;
  return key;
}

/* The CSAR from the request: base64 bounded before decoding. */
static int decode_csar(const struct ctl_pkg_state *st, const json_t *body, uint8_t **csar,
                       size_t *len, lisec_err *err) {
  const json_t *j = json_object_get(body, "csar");
  if (!json_is_string(j))
    return lisec_err_set(err, LISEC_EINVAL, "csar: the package, base64, is required");
  size_t b64 = json_string_length(j);
  if (b64 / 4 * 3 > st->max_package + 3)
    return lisec_err_set(err, LISEC_ETOOBIG,
                         "csar: the package is over the limit of %llu bytes ([pkg] max_package)",
                         (unsigned long long)st->max_package);
  int rc = crypto_base64_decode(json_string_value(j), st->max_package, csar, len, err);
  if (rc == LISEC_ETOOBIG || (!rc && *len > st->max_package)) {
    free(*csar);
    *csar = NULL;
    return lisec_err_set(err, LISEC_ETOOBIG,
                         "csar: the package is over the limit of %llu bytes ([pkg] max_package)",
                         (unsigned long long)st->max_package);
  }
  if (rc) lisec_err_wrap(err, "csar");
  return rc;
}

/* Verification failures are refusals (403) whatever pkg/ calls them, except
 * sizes (413) and resource failures. */
static int as_refusal(int rc, lisec_err *err) {
  if (rc == LISEC_ETOOBIG || rc == LISEC_ENOMEM || rc == LISEC_EIO) return rc;
  err->code = LISEC_EDENIED;
  return LISEC_EDENIED;
}

typedef struct verified {
  pkg_result *result;
  char sha256[2 * CRYPTO_SHA256_LEN + 1];
  size_t size;
  int64_t at; /* the proven time its signers' certificates were judged at */
} verified;

/* Test builds: while the file LISEC_TEST_PKG_VERIFY_PAUSE names exists, a
 * verification logs that it is about to verify and waits (at most 60 s)
 * before pkg_verify, so a test can hold two on-boardings there at once
 * (tests/integration/pkg_concurrent.sh). */
static void test_verify_pause(void) {
#ifdef LISEC_TEST_HOOKS
  const char *path = getenv("LISEC_TEST_PKG_VERIFY_PAUSE");
  for (int i = 0; path && i < 600; i++) {
    FILE *f = fopen(path, "r"); /* the sandbox lets the controller open files, not access(2) them */
    if (!f) return;
    fclose(f);
    if (i == 0) LOG_INFO("test hook: a package verification waits while %s exists", path);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
#endif
}

/* Decodes and verifies the uploaded package; li says whether the request
 * declares an LI VNF (the manifest may declare it too). Its signers'
 * certificates are judged at the proven time only (TR 103 308 §4.2): set
 * back, an unproven clock would take an expired or revoked signer for a
 * valid one, set forward refuse valid ones; so with the clock unproven the
 * package is refused with TR103308-4.2-TIME before anything is stored (as
 * a vendor CRL is, ctl_pkg_crl_put). */
static int verify_upload(lisec_ctl *ctl, const json_t *body, bool li, verified *v, lisec_err *err) {
  struct ctl_pkg_state *st = ctl->shared->pkg;
  if (!st->trust)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: no vendor trust anchors are configured ([pkg] vendor_ca); "
                         "no package can be verified, so none is on-boarded");
  int rc = ctl_clock_trusted_s(ctl->shared, "verifying a package's signers (certificate validity, CRLs)",
                               &v->at, err);
  if (rc) return rc;
  uint8_t *csar = NULL;
  size_t len = 0;
  if ((rc = decode_csar(st, body, &csar, &len, err))) return rc;
  uint8_t digest[CRYPTO_SHA256_LEN];
  crypto_sha256(csar, len, digest);
  lisec_hex_encode(digest, sizeof digest, v->sha256);
  v->size = len;
  pkg_policy pol;
  pkg_policy_default(&pol);
  pol.li = li;
  pol.require_operator = true;
  pol.at = v->at;
  if (pol.limits.max_total_size > st->max_expanded) pol.limits.max_total_size = st->max_expanded;
  if (pol.limits.max_file_size > st->max_expanded) pol.limits.max_file_size = st->max_expanded;
  pkg_zip *z = NULL;
  rc = pkg_zip_open_mem(csar, len, &pol.limits, &z, err);
  if (!rc) {
    test_verify_pause();
    rc = pkg_verify(pkg_zip_source(z), st->trust, &pol, &v->result, err);
  }
  pkg_zip_close(z);
  free(csar);
  return rc ? as_refusal(rc, err) : 0;
}

static json_t *record_json(const pkg_record *r) {
  return json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?}", "owner", r->owner, "provider_id",
                   r->provider_id, "product_name", r->product_name, "package_version",
                   r->package_version, "vendor_subject", r->vendor_subject, "vendor_anchor",
                   r->vendor_anchor);
}

/* Borrows from the stored document j. */
static void record_from_json(const json_t *j, pkg_record *r) {
  const json_t *o = json_object_get(j, "record");
  r->owner = json_string_value(json_object_get(o, "owner"));
  r->provider_id = json_string_value(json_object_get(o, "provider_id"));
  r->product_name = json_string_value(json_object_get(o, "product_name"));
  r->package_version = json_string_value(json_object_get(o, "package_version"));
  r->vendor_subject = json_string_value(json_object_get(o, "vendor_subject"));
  r->vendor_anchor = json_string_value(json_object_get(o, "vendor_anchor"));
}

static json_t *document(const char *id, const ctl_actor *actor, const pkg_record *rec,
                        const verified *v, const json_t *previous) {
  char now[32];
  lisec_time_format(v->at, now);
  json_t *d = json_pack("{s:s, s:o, s:b, s:s, s:I, s:s, s:s, s:o}", "id", id, "record",
                        record_json(rec), "li", v->result->li, "sha256", v->sha256, "size",
                        (json_int_t)v->size, "onboarded_at", now, "onboarded_by", actor->subject,
                        "verification", pkg_result_to_json(v->result));
  if (d && previous) json_object_set(d, "previous", (json_t *)previous);
  return d;
}

static const char *current_version(const json_t *doc);
static const json_t *retired_entry(const json_t *doc, const char *v);
static json_t *unkept_note(const json_t *doc);
static size_t legacy_images(const json_t *doc, const char **first);
#define PKG_LEGACY_MAX 1300
static void legacy_sentence(const json_t *doc, const char *key, const char *vm,
                            char out[PKG_LEGACY_MAX]);

/* What a reader sees of a package's end of life: whether its version is
 * retired, and whether a held CRL revokes a signer (then it is not
 * compliant, with the reason). */
static void add_status(json_t *o, const json_t *doc, const char *key, const char *why) {
  json_object_set_new(o, "retired", json_boolean(retired_entry(doc, current_version(doc)) != NULL));
  bool legacy = legacy_images(doc, NULL) > 0;
  json_object_set_new(o, "compliant", json_boolean(why == NULL && !legacy));
  if (why) json_object_set_new(o, "revoked", json_string(why));
  if (legacy) {
    char s[PKG_LEGACY_MAX];
    legacy_sentence(doc, key, NULL, s);
    json_object_set_new(o, "images_not_judged", json_string(s));
  }
  json_t *note = unkept_note(doc);
  if (note) json_object_set_new(o, "artifact_signers", note);
}

static json_t *summary(const json_t *doc, const char *key, const char *why) {
  const json_t *r = json_object_get(doc, "record");
  json_t *o = json_pack("{s:O, s:s, s:O, s:O?, s:O?, s:O?, s:O, s:O, s:O}", "id", json_object_get(doc, "id"),
                   "scoped_id", key,
                   "owner", json_object_get(r, "owner"), "provider_id",
                   json_object_get(r, "provider_id"), "product_name",
                   json_object_get(r, "product_name"), "package_version",
                   json_object_get(r, "package_version"), "li", json_object_get(doc, "li"),
                   "sha256", json_object_get(doc, "sha256"), "onboarded_at",
                   json_object_get(doc, "onboarded_at"));
  if (o) add_status(o, doc, key, why);
  return o;
}

static int load(lisec_ctl *ctl, const char *kind, const char *id, json_t **doc, int64_t *version,
                lisec_err *err) {
  char *body = NULL;
  int rc = store_doc_get(ctl->store, kind, id, &body, version, err);
  if (rc == LISEC_ENOTFOUND) return lisec_err_set(err, rc, "package %s does not exist", id);
  if (rc) return rc;
  rc = lisec_json_parse(body, strlen(body), doc, err);
  free(body);
  return rc ? lisec_err_set(err, LISEC_ESTORE, "stored package %s does not parse", id) : 0;
}

/* A package or a CRL is written: the kept images are dropped, and a read
 * that began before is not kept (images_kept). */
static void images_forget(struct ctl_pkg_state *st) {
  pthread_mutex_lock(&st->images_mu);
  st->images_gen++;
  json_object_clear(st->images);
  pthread_mutex_unlock(&st->images_mu);
}

static int save(lisec_ctl *ctl, const char *kind, const char *id, const json_t *doc,
                int64_t expected, lisec_err *err) {
  char *text = lisec_json_dump_canonical(doc);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_put(ctl->store, kind, id, text, expected, NULL, err);
  free(text);
  /* whatever the outcome: a write whose answer was lost may have landed */
  if (strcmp(kind, PKG_VM_KIND) != 0) images_forget(ctl->shared->pkg);
  return rc;
}

/* The SHA-256 (lower-case hex) of a stored image artifact: its manifest
 * digest when that is SHA-256, else the one pkg_verify computed beside it
 * ("sha256"); NULL when the description has none (stored before it was
 * kept). Hosts report and inventories show a running image's SHA-256. */
static const char *image_sha256(const json_t *a) {
  const char *alg = json_string_value(json_object_get(a, "algorithm"));
  const char *hex = json_string_value(json_object_get(a, "hash"));
  if (!alg || strcasecmp(alg, "SHA-256") != 0) hex = json_string_value(json_object_get(a, "sha256"));
  return hex && strlen(hex) == 64 ? hex : NULL;
}

/* How many images of a stored description are listed with SHA-384 or
 * SHA-512 and carry no SHA-256 (on-boarded before lisec kept it beside
 * them): the image a VM of that package runs, which hosts report and
 * inventories show by its SHA-256, cannot be judged against them. *first
 * (may be NULL) is the first one's path, borrowed from doc. lisec keeps
 * no package bytes to compute it again from, so such a package is
 * reported not compliant until the operator uploads it again
 * (legacy_sentence, the replacement by the same CSAR in
 * onboard_or_replace). */
static size_t legacy_images(const json_t *doc, const char **first) {
  size_t n = 0, i;
  const json_t *a;
  if (first) *first = NULL;
  json_array_foreach(json_object_get(json_object_get(doc, "verification"), "artifacts"), i, a) {
    if (!json_is_true(json_object_get(a, "image")) || image_sha256(a)) continue;
    if (!n++ && first) *first = json_string_value(json_object_get(a, "path"));
  }
  return n;
}

#define PKG_LEGACY_NOTE "images not judged"
/* What is said of such a package (key: its scoped id), and of vm when not
 * NULL, naming the requirement and the operator's step. */
static void legacy_sentence(const json_t *doc, const char *key, const char *vm,
                            char out[PKG_LEGACY_MAX]) {
  const char *first = NULL;
  size_t count = legacy_images(doc, &first);
  char who[CTL_PKG_ID_MAX + 64] = "";
  if (vm) snprintf(who, sizeof who, "the image VM %.128s runs, ", vm);
  snprintf(out, PKG_LEGACY_MAX,
           CTL_PKG_IMAGE_RULE ": " PKG_LEGACY_NOTE ": package %.128s was on-boarded before lisec "
           "kept the SHA-256 of images listed with SHA-384 or SHA-512 (%zu image(s), '%.128s' "
           "first), so %swhich hosts report and attested inventories show by its SHA-256, cannot "
           "be judged against it and is not taken as compliant; upload the same CSAR again "
           "(PUT /v1/packages/%.128s, `lisec pkg replace CSAR --id %.128s`) to have it "
           "verified again and judged",
           key, count, first ? first : "?", who, key, key);
}

/* The SHA-256 digests (lower-case hex) of a stored package's images, as the
 * model's observations judge them; a package lisec does not hold, or one
 * that does not parse, gives none (the image is then not judged). */
static json_t *images_read(lisec_ctl *ctl, const char *package) {
  json_t *arr = json_array(), *doc = NULL;
  lisec_err e = {0};
  if (!arr || load(ctl, PKG_KIND, package, &doc, NULL, &e)) return arr;
  const json_t *a;
  size_t i;
  json_array_foreach(json_object_get(json_object_get(doc, "verification"), "artifacts"), i, a) {
    const char *hex = image_sha256(a);
    if (!json_is_true(json_object_get(a, "image")) || !hex ||
        json_array_size(arr) >= MODEL_OBS_EXPECTED_MAX)
      continue;
    char low[65];
    for (int k = 0; k < 65; k++) low[k] = (char)tolower((unsigned char)hex[k]);
    if (json_array_append_new(arr, json_string(low))) {
      json_decref(arr);
      arr = NULL;
      break;
    }
  }
  json_decref(doc);
  return arr;
}

/* ctl_model_pkg_images_fn: the kept images of package, read and kept on
 * first use. */
static json_t *images_kept(lisec_ctl *ctl, const char *package) {
  struct ctl_pkg_state *st = ctl->shared->pkg;
  pthread_mutex_lock(&st->images_mu);
  json_t *arr = json_incref(json_object_get(st->images, package));
  uint64_t gen = st->images_gen;
  pthread_mutex_unlock(&st->images_mu);
  if (arr || !(arr = images_read(ctl, package))) return arr;
  pthread_mutex_lock(&st->images_mu);
  if (gen == st->images_gen) {
    if (json_object_size(st->images) >= PKG_IMAGES_KEPT_MAX) json_object_clear(st->images);
    (void)json_object_set(st->images, package, arr);
  }
  pthread_mutex_unlock(&st->images_mu);
  return arr;
}

/* ---- the end of a version's life: retirement and vendor CRLs ----------- */

/* The vendor CRLs lisec holds (PKG_CRL_KIND), parsed once per question:
 * each was accepted when loaded (a vendor anchor signed it, it was
 * current); a revocation it lists stays true after its nextUpdate. */
static int crl_load_one(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  STACK_OF(X509_CRL) *sk = ctx;
  json_t *doc = NULL;
  uint8_t *der = NULL;
  size_t len = 0;
  X509_CRL *crl = NULL;
  int rc = lisec_json_parse(body, strlen(body), &doc, NULL) ? LISEC_ESTORE : 0;
  const char *b64 = json_string_value(json_object_get(doc, "der"));
  if (!rc && (!b64 || crypto_base64_decode(b64, 64u << 20, &der, &len, NULL))) rc = LISEC_ESTORE;
  const uint8_t *p = der;
  if (!rc && !(crl = d2i_X509_CRL(NULL, &p, (long)len))) rc = LISEC_ESTORE;
  if (!rc && !sk_X509_CRL_push(sk, crl)) rc = LISEC_ENOMEM;
  if (rc) {
    X509_CRL_free(crl);
    LOG_WARN("vendor CRL %s: stored copy unreadable", id);
  }
  ERR_clear_error();
  free(der);
  json_decref(doc);
  return rc;
}

static int crls_load(lisec_ctl *ctl, STACK_OF(X509_CRL) **out, lisec_err *err) {
  *out = sk_X509_CRL_new_null();
  if (!*out) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_list(ctl->store, PKG_CRL_KIND, crl_load_one, *out, err);
  if (rc == LISEC_ESTORE && !err->msg[0]) lisec_err_set(err, rc, "a stored vendor CRL does not parse");
  if (rc) {
    sk_X509_CRL_pop_free(*out, X509_CRL_free);
    *out = NULL;
  }
  return rc;
}

/* Whether a held CRL lists a certificate of a stored package's signer
 * chains (verification.signers[].chain, kept since issue 21; per-artifact
 * signers' since they were made first-class); why names the requirement,
 * the signer (and the artifact it signed) and the serial. A package
 * on-boarded before chains were kept has none to check (unkept_note). */
static bool doc_revoked(const json_t *doc, const char *key, STACK_OF(X509_CRL) *crls, char *why,
                        size_t n) {
  return pkg_crl_desc_revoked(json_object_get(doc, "verification"), crls, key, why, n);
}

/* What a package stored before per-artifact signers were kept says of
 * them: their signers cannot be judged against a vendor CRL (nothing is
 * lost: the package loads and is judged by the signers it keeps). NULL
 * when every signed artifact's signer is kept. */
#define UNKEPT_NOTE "artifact signers not kept: on-board again to have them judged"
static json_t *unkept_note(const json_t *doc) {
  const char *first = NULL;
  size_t n = pkg_crl_desc_unkept(json_object_get(doc, "verification"), &first);
  if (!n) return NULL;
  char s[400];
  snprintf(s, sizeof s,
           UNKEPT_NOTE " (%zu signed artifact(s), '%.128s' first, on-boarded before lisec kept "
           "their signers, are not checked against vendor CRLs)",
           n, first ? first : "?");
  return json_string(s);
}

static const char *current_version(const json_t *doc) {
  return json_string_value(json_object_get(json_object_get(doc, "record"), "package_version"));
}

/* The retirement of version v of a stored package, or NULL. */
static const json_t *retired_entry(const json_t *doc, const char *v) {
  const json_t *r;
  size_t i;
  json_array_foreach(json_object_get(doc, "retirements"), i, r)
    if (v && json_is_string(json_object_get(r, "version")) &&
        strcmp(json_string_value(json_object_get(r, "version")), v) == 0)
      return r;
  return NULL;
}

/* Whether a VM may be instantiated from package key as it stands: not when
 * its version is retired, nor when a held CRL revokes one of its signers.
 * A package lisec does not hold is not judged here (the image checks are). */
static int doc_instantiable(lisec_ctl *ctl, const json_t *doc, const char *key,
                            char requirement[64], lisec_err *err) {
  const char *v = current_version(doc);
  const json_t *r = retired_entry(doc, v);
  if (r) {
    snprintf(requirement, 64, "%s", PKG_REQ_RETIRED);
    return lisec_err_set(err, LISEC_EDENIED,
                         PKG_REQ_RETIRED ": version %.64s of package %.128s was retired at %.32s; a "
                         "retired version is not instantiated (on-board a newer one)",
                         v ? v : "?", key, json_string_value(json_object_get(r, "retired_at")) ?
                         json_string_value(json_object_get(r, "retired_at")) : "?");
  }
  STACK_OF(X509_CRL) *crls = NULL;
  int rc = crls_load(ctl, &crls, err);
  if (rc) return rc;
  char why[LISEC_ERR_MSG_MAX];
  bool revoked = doc_revoked(doc, key, crls, why, sizeof why);
  sk_X509_CRL_pop_free(crls, X509_CRL_free);
  if (!revoked) return 0;
  snprintf(requirement, 64, "%s", PKG_REQ_REVOKED);
  return lisec_err_set(err, LISEC_EDENIED, "%s", why);
}

static int load(lisec_ctl *ctl, const char *kind, const char *id, json_t **doc, int64_t *version,
                lisec_err *err);

static int instantiable(lisec_ctl *ctl, const char *package, char requirement[64], lisec_err *err) {
  json_t *doc = NULL;
  lisec_err lerr = {0};
  int rc = load(ctl, PKG_KIND, package, &doc, NULL, &lerr);
  if (rc == LISEC_ENOTFOUND) return 0;
  if (rc) {
    snprintf(requirement, 64, "%s", PKG_REQ_RETIRED);
    return lisec_err_set(err, LISEC_EDENIED, "package %.128s cannot be read (%.200s): not "
                         "instantiated (fail closed)", package, lerr.msg);
  }
  rc = doc_instantiable(ctl, doc, package, requirement, err);
  json_decref(doc);
  return rc;
}

/* The images of a stored version as "sha256:<hex>" (lower case), for
 * telling later which version a VM runs. */
static json_t *image_digests(const json_t *doc) {
  json_t *out = json_array();
  const json_t *a;
  size_t i;
  json_array_foreach(json_object_get(json_object_get(doc, "verification"), "artifacts"), i, a) {
    const char *alg = json_string_value(json_object_get(a, "algorithm"));
    const char *hex = json_string_value(json_object_get(a, "hash"));
    if (!json_is_true(json_object_get(a, "image")) || !alg || !hex || strlen(hex) > 128) continue;
    char d[160];
    int n = snprintf(d, sizeof d, "%s:%s", strcmp(alg, "SHA-384") == 0 ? "sha384"
                                           : strcmp(alg, "SHA-512") == 0 ? "sha512" : "sha256", hex);
    for (int k = 0; k < n; k++) d[k] = (char)tolower((unsigned char)d[k]);
    json_array_append_new(out, json_string(d));
    /* and its SHA-256, which is what a VM's image is known by */
    const char *h256 = image_sha256(a);
    if (h256 && strcmp(alg, "SHA-256") != 0) {
      n = snprintf(d, sizeof d, "sha256:%s", h256);
      for (int k = 0; k < n; k++) d[k] = (char)tolower((unsigned char)d[k]);
      json_array_append_new(out, json_string(d));
    }
  }
  return out;
}

static bool digest_in(const json_t *arr, const char *d) {
  const json_t *x;
  size_t i;
  json_array_foreach(arr, i, x) if (d && strcasecmp(json_string_value(x), d) == 0) return true;
  return false;
}

/* ---- use cases ---------------------------------------------------------- */

/* The request's "li" flag; a malformed one is EINVAL. */
static int request_li(const json_t *body, bool *li, lisec_err *err) {
  *li = false;
  return lisec_json_get_bool(body, "li", false, li, err);
}

static int onboard_or_replace(lisec_ctl *ctl, const ctl_actor *actor, const char *req_id,
                              const json_t *body, bool replace, json_t **out, lisec_err *err) {
  const char *action = replace ? "pkg.replace" : "pkg.onboard";
  const char *owner = owner_of(actor);
  bool li = false;
  char id[PKG_KEY_MAX];
  int rc = request_li(body, &li, err);
  if (!rc) rc = id_check(req_id, err);
  if (rc) return rc;
  if ((rc = pkg_policy_may_onboard(owner, err))) return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED,
                                                                  action, li, NULL, rc, NULL, err,
                                                                  "package %s", req_id);
  if ((rc = pkg_key(actor, req_id, !replace, id, err))) return rc;
  json_t *old = NULL;
  int64_t old_version = 0;
  if (replace && (rc = load(ctl, PKG_KIND, id, &old, &old_version, err))) {
    if (rc == LISEC_ENOTFOUND) lisec_err_set(err, rc, "package %s does not exist", req_id);
    return rc;
  }
  if (!replace) {
    /* A cheap early answer; the store's create-only write decides races. */
    char *exists = NULL;
    if (store_doc_get(ctl->store, PKG_KIND, id, &exists, NULL, NULL) == 0) {
      free(exists);
      rc = lisec_err_set(err, LISEC_ECONFLICT,
                         "package %s exists already (a new version is a replacement: PUT)", req_id);
      return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, li, NULL, rc, NULL, err,
                       "package %s", id);
    }
  }
  verified v = {0};
  rc = verify_upload(ctl, body, li, &v, err);
  bool li_pkg = li || (v.result && v.result->li) ||
                (old && json_is_true(json_object_get(old, "li")));
  pkg_record rec = {0}, prev = {0};
  if (!rc) rc = pkg_record_from_result(v.result, owner, &rec, err);
  bool refresh = false;
  if (!rc && replace) {
    record_from_json(old, &prev);
    rc = pkg_policy_may_replace(&prev, &rec, owner, err);
    /* The same version again is refused (409), but for the same CSAR over a
     * description whose images' SHA-256 was not kept (legacy_images): it
     * is verified again as any upload, and its new description replaces
     * the old one, history and retirements kept. */
    const char *old_sha = json_string_value(json_object_get(old, "sha256"));
    if (rc == LISEC_ECONFLICT && legacy_images(old, NULL) > 0 && old_sha &&
        strcmp(old_sha, v.sha256) == 0) {
      rc = 0;
      refresh = true;
      if (err) memset(err, 0, sizeof *err);
    }
    /* A replacement keeps the owner: the operator replacing a tenant's
     * package does not take it over. */
    if (!rc) rec.owner = prev.owner;
    /* Nor back to any version it had before (its history), nor to one
     * retired: a rollback past the newest is refused whatever the order. */
    const json_t *e;
    size_t k;
    json_array_foreach(json_object_get(old, "previous"), k, e) {
      const char *pv = json_string_value(json_object_get(e, "package_version"));
      if (rc || !pv || pkg_version_cmp(rec.package_version, pv) > 0) continue;
      rc = lisec_err_set(err, LISEC_EDENIED,
                         PKG_REQ_ROLLBACK ": package %s had version '%.64s' before; a replacement "
                         "by version '%.64s' is not newer than every earlier version (rollback)",
                         req_id, pv, rec.package_version ? rec.package_version : "?");
    }
  }
  json_t *doc = NULL;
  if (!rc) { /* a signer a held vendor CRL revokes is not on-boarded */
    STACK_OF(X509_CRL) *crls = NULL;
    char why[LISEC_ERR_MSG_MAX];
    json_t *probe = json_pack("{s:o}", "verification", pkg_result_to_json(v.result));
    rc = probe ? crls_load(ctl, &crls, err) : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    if (!rc && doc_revoked(probe, req_id, crls, why, sizeof why))
      rc = lisec_err_set(err, LISEC_EDENIED, "%s", why);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    json_decref(probe);
  }
  if (rc) {
    if (rc != LISEC_ENOMEM) rc = ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, li_pkg, NULL, rc,
                                           NULL, err, "package %s", id);
    pkg_result_free(v.result);
    json_decref(old);
    return rc;
  }
  json_t *previous = NULL;
  if (replace) {
    previous = json_array();
    json_t *earlier = json_object_get(old, "previous");
    if (json_is_array(earlier)) json_array_extend(previous, earlier);
    /* with its images, so that later a VM's image tells which version it
     * runs (a refresh is the same version: nothing to add) */
    if (!refresh)
      json_array_append_new(previous, json_pack("{s:s?, s:O, s:O, s:o}", "package_version",
                                                prev.package_version, "sha256",
                                                json_object_get(old, "sha256"), "onboarded_at",
                                                json_object_get(old, "onboarded_at"), "images",
                                                image_digests(old)));
  }
  doc = document(local_id(id, rec.owner), actor, &rec, &v, previous);
  json_decref(previous);
  /* retirements are history: they stay with the package */
  if (doc && replace && json_is_array(json_object_get(old, "retirements")))
    json_object_set(doc, "retirements", json_object_get(old, "retirements"));
  char reason[240];
  snprintf(reason, sizeof reason, "sha256 %s, version %.40s%s%s", v.sha256,
           rec.package_version ? rec.package_version : "?", li_pkg ? ", LI VNF" : "",
           refresh ? ", the same CSAR verified again (its images' SHA-256 kept)" : "");
  if (!doc) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, action, li_pkg, reason, 0, NULL, err,
                          "package %s", id);
  if (!rc) {
    rc = save(ctl, PKG_KIND, id, doc, replace ? old_version : 0, err);
    if (rc == LISEC_ECONFLICT)
      rc = lisec_err_set(err, rc, "package %s changed meanwhile (or exists already)", id);
    if (rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, action, li_pkg, NULL, rc, NULL, err,
                           "package %s", id);
  }
  if (!rc) *out = json_incref(doc);
  json_decref(doc);
  json_decref(old);
  pkg_result_free(v.result);
  return rc;
}

int ctl_pkg_onboard(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                    lisec_err *err) {
  const char *id = NULL;
  /* Unbounded here: id_check holds it to the id rule and says what an id is. */
  int rc = lisec_json_get_str(body, "id", true, SIZE_MAX, &id, err);
  return rc ? rc : onboard_or_replace(ctl, actor, id, body, false, out, err);
}

int ctl_pkg_replace(lisec_ctl *ctl, const ctl_actor *actor, const char *id, const json_t *body,
                    json_t **out, lisec_err *err) {
  return onboard_or_replace(ctl, actor, id, body, true, out, err);
}

typedef struct list_ctx {
  const char *owner;
  json_t *arr;
  STACK_OF(X509_CRL) *crls;
} list_ctx;

static int list_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  list_ctx *lc = ctx;
  json_t *doc = NULL;
  if (lisec_json_parse(body, strlen(body), &doc, NULL)) return LISEC_ESTORE;
  pkg_record rec;
  record_from_json(doc, &rec);
  char why[LISEC_ERR_MSG_MAX];
  bool revoked = doc_revoked(doc, id, lc->crls, why, sizeof why);
  if (pkg_policy_may_see(&rec, lc->owner, NULL) == 0)
    json_array_append_new(lc->arr, summary(doc, id, revoked ? why : NULL));
  json_decref(doc);
  return 0;
}

int ctl_pkg_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  list_ctx lc = {owner_of(actor), json_array(), NULL};
  int rc = pkg_policy_may_onboard(lc.owner, err);
  if (!rc) rc = crls_load(ctl, &lc.crls, err);
  if (!rc) rc = store_doc_list(ctl->store, PKG_KIND, list_cb, &lc, err);
  sk_X509_CRL_pop_free(lc.crls, X509_CRL_free);
  if (rc == LISEC_ESTORE && !err->msg[0]) lisec_err_set(err, rc, "a stored package does not parse");
  if (rc) {
    json_decref(lc.arr);
    return rc;
  }
  *out = json_pack("{s:o}", "packages", lc.arr);
  return 0;
}

int ctl_pkg_get(lisec_ctl *ctl, const ctl_actor *actor, const char *req_id, json_t **out,
                lisec_err *err) {
  json_t *doc = NULL;
  char id[PKG_KEY_MAX];
  /* The role first, before anything is loaded. */
  int rc = pkg_policy_may_onboard(owner_of(actor), err);
  if (!rc) rc = pkg_key(actor, req_id, false, id, err);
  if (!rc) rc = load(ctl, PKG_KIND, id, &doc, NULL, err);
  if (rc == LISEC_ENOTFOUND) lisec_err_set(err, rc, "package %s does not exist", req_id);
  if (rc) return rc;
  pkg_record rec;
  record_from_json(doc, &rec);
  if ((rc = pkg_policy_may_see(&rec, owner_of(actor), err))) {
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "pkg.read",
                   json_is_true(json_object_get(doc, "li")), NULL, rc, NULL, err, "package %s", id);
    json_decref(doc);
    return rc;
  }
  json_object_set_new(doc, "scoped_id", json_string(id));
  STACK_OF(X509_CRL) *crls = NULL;
  char why[LISEC_ERR_MSG_MAX];
  if ((rc = crls_load(ctl, &crls, err))) {
    json_decref(doc);
    return rc;
  }
  add_status(doc, doc, id, doc_revoked(doc, id, crls, why, sizeof why) ? why : NULL);
  sk_X509_CRL_pop_free(crls, X509_CRL_free);
  *out = doc;
  return 0;
}

/* The image references of a stored description; *digests keeps the
 * decoded digests alive for the references. */
static int images_of(const json_t *doc, pkg_image_ref **refs, uint8_t **digests, size_t *n) {
  const json_t *arts = json_object_get(json_object_get(doc, "verification"), "artifacts");
  /* each image by its manifest digest and, when that is not SHA-256, by
   * its SHA-256 too (what hosts report) */
  size_t count = 2 * json_array_size(arts), k = 0, i;
  *refs = calloc(count ? count : 1, sizeof **refs);
  *digests = calloc(count ? count : 1, PKG_DIGEST_MAX);
  if (!*refs || !*digests) return LISEC_ENOMEM;
  const json_t *a;
  json_array_foreach(arts, i, a) {
    if (!json_is_true(json_object_get(a, "image"))) continue;
    pkg_alg alg;
    const char *path = json_string_value(json_object_get(a, "path"));
    const char *hex = json_string_value(json_object_get(a, "hash"));
    if (pkg_alg_parse(json_string_value(json_object_get(a, "algorithm")), &alg) || !hex) continue;
    size_t len = pkg_alg_len(alg);
    uint8_t *d = *digests + k * PKG_DIGEST_MAX;
    if (strlen(hex) != 2 * len || lisec_hex_decode(hex, d, len)) continue;
    (*refs)[k++] = (pkg_image_ref){path, alg, d, len};
    const char *h256 = image_sha256(a);
    d = *digests + k * PKG_DIGEST_MAX;
    if (alg != PKG_ALG_SHA256 && h256 && lisec_hex_decode(h256, d, 32) == 0)
      (*refs)[k++] = (pkg_image_ref){path, PKG_ALG_SHA256, d, 32};
  }
  *n = k;
  return 0;
}

/* Only the host that runs the VM (the host whose attested inventory shows
 * it running, else its declared hypervisor's host: ctl_model_vm_placement;
 * the certificate's CN is the host id) reports the image it runs, and only
 * under the VM's own package (its model document's "package"): otherwise
 * any host or MANO certificate could clear a TR103308-4.2-IMAGE finding by
 * reporting a good digest for any VM, or under a package whose images the
 * bad one happens to match. A refusal is recorded (sealed when the VM's
 * package is an LI VNF's). */
static int image_reporter_check(lisec_ctl *ctl, const ctl_actor *actor, const char *id,
                                const char *vm, bool *observed, lisec_err *err) {
  static const char *action = "pkg.image-report";
  char host[MODEL_ID_MAX + 1], own[MODEL_ID_MAX + 1], detail[LISEC_ERR_MSG_MAX] = "";
  lisec_err merr = {0};
  const char *cn = actor->subject ? actor->subject : "";
  bool is_host = ctl_actor_role(actor) == CTL_ROLE_HOST;
  int found = ctl_model_vm_placement(ctl->shared, vm, host, own, observed, &merr);
  if (!is_host)
    lisec_err_set(err, LISEC_EDENIED,
                  CTL_PKG_IMAGE_RULE ": only the host that runs VM %s reports its image (role %.64s "
                  "refused)",
                  vm, actor->role ? actor->role : "(none)");
  else if (found == LISEC_EDENIED) /* observed on two hosts */
    lisec_err_set(err, LISEC_EDENIED, "%.300s; no image report about it is accepted (" CTL_PKG_IMAGE_RULE ")",
                  merr.msg);
  else if (found || strcmp(cn, host) != 0) {
    /* One answer whether the VM is unknown or runs elsewhere: a host
     * certificate learns nothing of VMs its host does not run. The record,
     * which the operator reads beside the model, keeps where it runs. */
    if (found)
      snprintf(detail, sizeof detail,
               CTL_PKG_IMAGE_RULE ": VM %s is not in the trust model, so host %.128s does not run it",
               vm, cn);
    else
      snprintf(detail, sizeof detail,
               CTL_PKG_IMAGE_RULE ": VM %s runs on host %s (%s placement), not on host %.128s", vm,
               host, *observed ? "observed" : "declared", cn);
    lisec_err_set(err, LISEC_EDENIED,
                  CTL_PKG_IMAGE_RULE ": VM %s does not run on host %.128s (the certificate's CN) "
                  "as the trust model holds it; only the host that runs it reports its image",
                  vm, cn);
  } else if (!own[0])
    lisec_err_set(err, LISEC_EDENIED,
                  CTL_PKG_IMAGE_RULE ": VM %s names no package in the trust model (its document's "
                  "\"package\"), so no image can be checked",
                  vm);
  else if (strcmp(own, id) != 0)
    lisec_err_set(err, LISEC_EDENIED,
                  CTL_PKG_IMAGE_RULE ": VM %s runs package %s, not %s; a report is checked against "
                  "the VM's own package",
                  vm, own, id);
  else
    return 0;
  json_t *doc = NULL;
  lisec_err lerr = {0};
  bool li = load(ctl, PKG_KIND, own[0] ? own : id, &doc, NULL, &lerr) == 0 &&
            json_is_true(json_object_get(doc, "li"));
  json_decref(doc);
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, li, detail[0] ? detail : NULL,
                   LISEC_EDENIED, NULL, err, "package %s", id);
}

int ctl_pkg_image_report(lisec_ctl *ctl, const ctl_actor *actor, const char *id,
                         const json_t *body, json_t **out, lisec_err *err) {
  const char *vm = NULL, *digest = NULL, *event = NULL;
  int rc;
  if ((rc = lisec_json_get_str(body, "vm", true, CTL_PKG_ID_MAX, &vm, err)) ||
      (rc = id_check(vm, err)) ||
      (rc = lisec_json_get_str(body, "digest", true, 7 + 2 * PKG_DIGEST_MAX, &digest, err)) ||
      (rc = lisec_json_get_str(body, "event", true, 16, &event, err)))
    return rc;
  if (strcmp(event, "instantiate") && strcmp(event, "resume") && strcmp(event, "migrate"))
    return lisec_err_set(err, LISEC_EINVAL, "event: instantiate, resume or migrate");
  bool observed = false;
  if ((rc = image_reporter_check(ctl, actor, id, vm, &observed, err))) return rc;
  json_t *doc = NULL;
  if ((rc = load(ctl, PKG_KIND, id, &doc, NULL, err))) return rc;
  bool li = json_is_true(json_object_get(doc, "li"));
  pkg_image_ref *refs = NULL;
  uint8_t *digests = NULL;
  size_t n = 0;
  const char *matched = NULL;
  lisec_err verdict = {0};
  rc = images_of(doc, &refs, &digests, &n);
  if (rc) {
    rc = lisec_err_set(err, rc, "out of memory");
    goto done;
  }
  int check = pkg_image_check(refs, n, digest, &matched, &verdict);
  if (check == LISEC_EINVAL) {
    rc = lisec_err_set(err, check, "digest: %s", verdict.msg);
    goto done;
  }
  char now[32], subject[2 * CTL_PKG_ID_MAX + 16], reason[LISEC_ERR_MSG_MAX];
  lisec_time_format(lisec_time_now(), now);
  snprintf(subject, sizeof subject, "vm %s", vm);
  snprintf(reason, sizeof reason, "%s of package %.128s on host %.64s (%s placement): %.240s",
           event, id, actor->subject, observed ? "observed" : "declared",
           check ? verdict.msg : "the image is the package's");
  json_t *report = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s?, s:s, s:s, s:s, s:s}", "vm", vm,
                             "package", id, "digest", digest, "event", event, "compliant",
                             check == 0, "image", matched, "reason", reason, "reported_at", now,
                             "reported_by", actor->subject, "placement_source",
                             observed ? "observed" : "declared");
  rc = report ? ctl_audit(ctl, actor, check ? CTL_OUTCOME_DENIED : CTL_OUTCOME_OK, "pkg.image-report",
                          li, reason, 0, NULL, err, "%s", subject)
              : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc && (rc = save(ctl, PKG_VM_KIND, vm, report, -1, err)))
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "pkg.image-report", li, NULL, rc, NULL, err, "%s",
                   subject);
  if (!rc) *out = json_incref(report);
  json_decref(report);
done:
  free(refs);
  free(digests);
  json_decref(doc);
  return rc;
}

int ctl_pkg_image_status(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
                         lisec_err *err) {
  (void)actor;
  int rc = load(ctl, PKG_VM_KIND, vm, out, NULL, err);
  if (rc == LISEC_ENOTFOUND) return lisec_err_set(err, rc, "no image report for VM %s", vm);
  return rc;
}

/* A VM whose last report showed an image that is not its package's is a
 * current violation of the platform until a report shows the right one. */
static int image_finding(void *ctx, const char *vm, const char *body, int64_t version) {
  (void)version;
  json_t *doc = NULL;
  if (lisec_json_parse(body, strlen(body), &doc, NULL) != 0) return LISEC_ESTORE;
  int rc = 0;
  if (json_is_false(json_object_get(doc, "compliant"))) {
    const char *pkg = json_string_value(json_object_get(doc, "package"));
    char subject[CTL_PKG_ID_MAX + 8], fact[2 * CTL_PKG_ID_MAX + 64];
    snprintf(subject, sizeof subject, "vm %s", vm);
    snprintf(fact, sizeof fact, "image(vm %s) in images(package %s): false", vm, pkg ? pkg : "?");
    json_t *v = json_pack("{s:s, s:s, s:s, s:O?, s:s}", "requirement", CTL_PKG_IMAGE_RULE, "clauses",
                          "TR 103 308 §4.2; NFV-SEC 025 instantiation", "subject", subject,
                          "sentence", json_object_get(doc, "reason"), "fact", fact);
    rc = v && json_array_append_new(ctx, v) == 0 ? 0 : LISEC_ENOMEM;
  }
  json_decref(doc);
  return rc;
}

/* The packages whose images cannot be judged (legacy_images). */
typedef struct legacy_ctx {
  json_t *ids, *docs; /* keys; key -> the stored description */
} legacy_ctx;

static int legacy_cb(void *vctx, const char *id, const char *body, int64_t version) {
  (void)version;
  legacy_ctx *c = vctx;
  json_t *doc = NULL;
  if (lisec_json_parse(body, strlen(body), &doc, NULL)) return LISEC_ESTORE;
  int rc = 0;
  if (legacy_images(doc, NULL) > 0) {
    rc = json_array_append_new(c->ids, json_string(id)) ||
                 json_object_set_new(c->docs, id, json_incref(doc))
             ? LISEC_ENOMEM
             : 0;
  }
  json_decref(doc);
  return rc;
}

/* A package on-boarded before its SHA-384/512 images' SHA-256 was kept is
 * not compliant, nor is any VM of the model whose document names it (an
 * LI VM as "li-vm <id>", withheld from every role but li-admin): the image
 * it runs cannot be judged (fail closed), until the same CSAR is uploaded
 * again. */
static int legacy_findings(lisec_ctl *ctl, json_t *violations, lisec_err *err) {
  legacy_ctx c = {json_array(), json_object()};
  json_t *vms = NULL;
  int rc = c.ids && c.docs ? store_doc_list(ctl->store, PKG_KIND, legacy_cb, &c, err)
                           : LISEC_ENOMEM;
  if (rc == LISEC_ESTORE && !err->msg[0]) lisec_err_set(err, rc, "a stored package does not parse");
  if (!rc && json_array_size(c.ids) > 0) rc = ctl_model_packaged_vms(ctl->shared, &vms, err);
  size_t i;
  const json_t *x;
  char subject[PKG_KEY_MAX + 16], sentence[PKG_LEGACY_MAX];
  json_array_foreach(c.ids, i, x) {
    if (rc) break;
    const char *key = json_string_value(x);
    snprintf(subject, sizeof subject, "package %s", key);
    legacy_sentence(json_object_get(c.docs, key), key, NULL, sentence);
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s}", "requirement", CTL_PKG_IMAGE_RULE, "clauses",
                          "TR 103 308 §4.2; NFV-SEC 025 instantiation", "subject", subject,
                          "sentence", sentence, "fact", "sha256(images(package)): not kept");
    if (!v || json_array_append_new(violations, v)) rc = LISEC_ENOMEM;
  }
  json_array_foreach(vms, i, x) {
    if (rc) break;
    const char *p = json_string_value(json_object_get(x, "package"));
    const json_t *doc = p ? json_object_get(c.docs, p) : NULL;
    if (!doc) continue;
    const char *vm = json_string_value(json_object_get(x, "vm"));
    snprintf(subject, sizeof subject, "%s %s", json_is_true(json_object_get(x, "li")) ? "li-vm" : "vm",
             vm ? vm : "?");
    legacy_sentence(doc, p, vm, sentence);
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s}", "requirement", CTL_PKG_IMAGE_RULE, "clauses",
                          "TR 103 308 §4.2; NFV-SEC 025 instantiation", "subject", subject,
                          "sentence", sentence, "fact", "image(vm) in images(package): not known");
    if (!v || json_array_append_new(violations, v)) rc = LISEC_ENOMEM;
  }
  if (rc == LISEC_ENOMEM && !err->msg[0]) lisec_err_set(err, rc, "out of memory");
  json_decref(c.ids);
  json_decref(c.docs);
  json_decref(vms);
  return rc;
}

int ctl_pkg_image_findings(lisec_ctl *ctl, json_t *violations, lisec_err *err) {
  int rc = store_doc_list(ctl->store, PKG_VM_KIND, image_finding, violations, err);
  if (rc == LISEC_ESTORE && !err->msg[0]) lisec_err_set(err, rc, "a stored image report does not parse");
  if (!rc) rc = legacy_findings(ctl, violations, err);
  return rc;
}

/* ---- the check at start (issue 15 item 3) ------------------------------------ */

/* Whether the certificate's host is the one that will run the VM: the host
 * it runs on (observed when a host proved it, else declared: observed
 * says which), or a host lisec allows it to move to (the
 * incoming side of a migration asks before the model moves, which it does
 * only once the destination proves it runs the VM). *pending when that
 * decision waits for a fresh quote. A refusal does not say where the VM
 * runs: a host certificate learns nothing of VMs its host does not run
 * (the migration decision's record, at the audit index given, says). */
static int check_runner(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, const char *host,
                        bool *pending, lisec_err *err) {
  *pending = false;
  if (strcmp(actor->subject ? actor->subject : "", host) == 0) return 0;
  json_t *q = json_pack("{s:s, s:s}", "vm", vm, "host", actor->subject ? actor->subject : ""), *v = NULL;
  if (!q) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  lisec_err derr = {0};
  int rc = ctl_model_decide_migration(ctl, actor, q, &v, &derr);
  json_decref(q);
  if (!rc && !v) {
    *pending = true;
    return 0;
  }
  bool allow = !rc && json_is_true(json_object_get(v, "allow"));
  json_int_t index = json_integer_value(json_object_get(v, "audit_index"));
  json_decref(v);
  if (allow) return 0;
  if (rc)
    return lisec_err_set(err, LISEC_EDENIED,
                         CTL_PKG_IMAGE_RULE ": VM %s is not recorded on host %.128s (the "
                         "certificate's CN) and cannot move there: %.200s",
                         vm, actor->subject ? actor->subject : "", derr.msg);
  return lisec_err_set(err, LISEC_EDENIED,
                       CTL_PKG_IMAGE_RULE ": VM %s is not recorded on host %.128s (the "
                       "certificate's CN) and lisec does not allow it to move there (audit index "
                       "%lld); only the host that will run a VM checks its image",
                       vm, actor->subject ? actor->subject : "", (long long)index);
}

int ctl_pkg_image_check(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                        lisec_err *err) {
  static const char *action = "pkg.image-check";
  static const char *const keys[] = {"vm", "package", "digest", NULL};
  const char *vm = NULL, *id = NULL, *digest = NULL;
  int rc;
  *out = NULL;
  if ((rc = lisec_json_only_keys(body, keys, err)) ||
      (rc = lisec_json_get_str(body, "vm", true, CTL_PKG_ID_MAX, &vm, err)) ||
      (rc = id_check(vm, err)) ||
      (rc = lisec_json_get_str(body, "package", false, CTL_PKG_ID_MAX, &id, err)) ||
      (id && (rc = id_check(id, err))) ||
      (rc = lisec_json_get_str(body, "digest", false, 7 + 2 * PKG_DIGEST_MAX, &digest, err)))
    return rc;
  char host[MODEL_ID_MAX + 1], own[MODEL_ID_MAX + 1];
  lisec_err merr = {0};
  bool is_host = ctl_actor_role(actor) == CTL_ROLE_HOST, observed = false;
  int found = ctl_model_vm_placement(ctl->shared, vm, host, own, &observed, &merr);
  json_t *doc = NULL;
  lisec_err lerr = {0};
  bool li = own[0] && load(ctl, PKG_KIND, own, &doc, NULL, &lerr) == 0 &&
            json_is_true(json_object_get(doc, "li"));
  bool pending = false;
  char subject[CTL_PKG_ID_MAX + 8];
  snprintf(subject, sizeof subject, "vm %s", vm);
  if (!is_host)
    lisec_err_set(err, LISEC_EDENIED,
                  CTL_PKG_IMAGE_RULE ": only the host that will run VM %s checks its image (role "
                  "%.64s refused)",
                  vm, actor->role ? actor->role : "(none)");
  else if (found == LISEC_EDENIED) /* observed on two hosts: no start anywhere until resolved */
    lisec_err_set(err, LISEC_EDENIED, "%.300s; no host may start it (" CTL_PKG_IMAGE_RULE ")",
                  merr.msg);
  else if (found)
    lisec_err_set(err, LISEC_EDENIED,
                  CTL_PKG_IMAGE_RULE ": VM %s is not in the trust model, so no host may start it", vm);
  else if (id && strcmp(own, id) != 0)
    lisec_err_set(err, LISEC_EDENIED,
                  CTL_PKG_IMAGE_RULE ": the domain names package %s, but VM %s runs %s%s in the "
                  "trust model; its image is checked against the VM's own package",
                  id, vm, own[0] ? "package " : "no package", own);
  else if (!(rc = check_runner(ctl, actor, vm, host, &pending, err)))
    goto check;
  json_decref(doc);
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, li, NULL, LISEC_EDENIED, NULL, err,
                   "package %s", subject);
check:
  if (pending) { /* asked again once the fresh quote is in */
    json_decref(doc);
    return 0;
  }
  if (!own[0]) { /* not a packaged VM: there is no image to hold it to */
    json_decref(doc);
    if (!(*out = json_pack("{s:s, s:n, s:b, s:b, s:s, s:s}", "vm", vm, "package", "checked", 0,
                           "compliant", 1, "reason",
                           "the VM names no package in the trust model: no image to check",
                           "placement_source", observed ? "observed" : "declared")))
      return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    return 0;
  }
  if (!doc) return lisec_err_set(err, LISEC_ENOTFOUND, "package %s: %s", own, lerr.msg);
  pkg_image_ref *refs = NULL;
  uint8_t *digests = NULL;
  size_t n = 0;
  const char *matched = NULL;
  lisec_err verdict = {0};
  if (images_of(doc, &refs, &digests, &n)) {
    json_decref(doc);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  int check = LISEC_EDENIED;
  char req[64] = "";
  int status = doc_instantiable(ctl, doc, own, req, &verdict);
  if (status && status != LISEC_EDENIED)
    check = status; /* the CRLs could not be read: refused below as an error */
  else if (status)
    ; /* a retired version or a revoked signer: not started, whatever the image */
  else if (!digest)
    lisec_err_set(&verdict, LISEC_EDENIED, "the domain has no disk image file to check (fail closed)");
  else
    check = pkg_image_check(refs, n, digest, &matched, &verdict);
  if (check != LISEC_EDENIED && check != 0 && check != LISEC_EINVAL) {
    rc = lisec_err_set(err, check, "%s", verdict.msg);
    free(refs);
    free(digests);
    json_decref(doc);
    return rc;
  }
  if (check == LISEC_EINVAL) {
    rc = lisec_err_set(err, check, "digest: %s", verdict.msg);
  } else {
    char reason[LISEC_ERR_MSG_MAX];
    snprintf(reason, sizeof reason, "start on host %.64s (the VM runs on host %.64s, %s placement), "
             "package %.64s: %.200s", actor->subject, host, observed ? "observed" : "declared",
             own, check ? verdict.msg : "the image is the package's");
    uint64_t index = 0;
    rc = ctl_audit(ctl, actor, check ? CTL_OUTCOME_DENIED : CTL_OUTCOME_OK, action, li, reason, 0,
                   &index, err, "%s", subject);
    /* Nothing is kept as a report: a check neither clears nor raises the
     * VM's finding, it only lets the start go on or stops it. */
    if (!rc && !(*out = json_pack("{s:s, s:s, s:s?, s:b, s:b, s:s?, s:s, s:I, s:s}", "vm", vm,
                                  "package", own, "digest", digest, "checked", 1, "compliant",
                                  check == 0, "image", matched, "reason", reason, "audit_index",
                                  (json_int_t)index, "placement_source",
                                  observed ? "observed" : "declared")))
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  free(refs);
  free(digests);
  json_decref(doc);
  return rc;
}

/* ---- retiring a version (issue 21 item 3) ------------------------------------ */

/* Whether VM (its package key) may run version v of doc: always when v is
 * the current version; for an earlier one unless the image its host proved
 * (else its last image report) is another version's (fail closed: a VM
 * whose image is unknown may run any version). */
static bool may_run(lisec_ctl *ctl, const json_t *vmrow, const json_t *doc, const char *v,
                    const json_t *prev_entry) {
  if (!prev_entry) return true;
  char known[160] = "";
  const char *img = json_string_value(json_object_get(vmrow, "image"));
  if (img) {
    snprintf(known, sizeof known, "sha256:%.128s", img);
  } else {
    json_t *rep = NULL;
    lisec_err e = {0};
    if (load(ctl, PKG_VM_KIND, json_string_value(json_object_get(vmrow, "vm")), &rep, NULL, &e) == 0 &&
        json_is_string(json_object_get(rep, "digest")))
      snprintf(known, sizeof known, "%.150s", json_string_value(json_object_get(rep, "digest")));
    json_decref(rep);
  }
  if (!known[0]) return true;
  json_t *cur = image_digests(doc);
  bool current = digest_in(cur, known);
  json_decref(cur);
  if (current) return false;
  const json_t *imgs = json_object_get(prev_entry, "images");
  (void)v;
  return !json_is_array(imgs) || digest_in(imgs, known);
}

/* How many VMs of the model may run version v of package key, naming at
 * most a few of those not declared LI VMs (an LI VM is counted, never
 * named; a VM an LI monitors is named as any other, so the answer does not
 * tell it: TR 103 308 §4.1). */
static int count_users(lisec_ctl *ctl, const char *key, const json_t *doc, const char *v,
                       const json_t *prev_entry, size_t *n, size_t *n_li, char *names,
                       size_t names_len, lisec_err *err) {
  json_t *vms = NULL;
  int rc = ctl_model_packaged_vms(ctl->shared, &vms, err);
  if (rc) return rc;
  *n = *n_li = 0;
  names[0] = '\0';
  size_t i, shown = 0;
  const json_t *row;
  json_array_foreach(vms, i, row) {
    const char *p = json_string_value(json_object_get(row, "package"));
    if (!p || strcmp(p, key) != 0 || !may_run(ctl, row, doc, v, prev_entry)) continue;
    (*n)++;
    if (json_is_true(json_object_get(row, "li"))) {
      (*n_li)++;
      continue;
    }
    if (shown++ < 5) {
      size_t used = strlen(names);
      snprintf(names + used, names_len - used, "%s%.64s", used ? ", " : "",
               json_string_value(json_object_get(row, "vm")));
    }
  }
  json_decref(vms);
  return 0;
}

int ctl_pkg_retire(lisec_ctl *ctl, const ctl_actor *actor, const char *req_id, const json_t *body,
                   json_t **out, lisec_err *err) {
  static const char *action = "pkg.retire";
  static const char *const keys[] = {"version", "reason", NULL};
  const char *owner = owner_of(actor), *version = NULL, *why = NULL;
  char id[PKG_KEY_MAX];
  int rc;
  if ((rc = lisec_json_only_keys(body, keys, err)) ||
      (rc = lisec_json_get_str(body, "version", true, 64, &version, err)) ||
      (rc = lisec_json_get_str(body, "reason", false, 256, &why, err)) ||
      (rc = id_check(req_id, err)))
    return rc;
  if ((rc = pkg_policy_may_onboard(owner, err)))
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, false, NULL, rc, NULL, err,
                     "package %s", req_id);
  if ((rc = pkg_key(actor, req_id, false, id, err))) return rc;
  json_t *doc = NULL;
  int64_t doc_version = 0;
  if ((rc = load(ctl, PKG_KIND, id, &doc, &doc_version, err))) {
    if (rc == LISEC_ENOTFOUND) lisec_err_set(err, rc, "package %s does not exist", req_id);
    return rc;
  }
  bool li = json_is_true(json_object_get(doc, "li"));
  pkg_record rec;
  record_from_json(doc, &rec);
  const char *cur = current_version(doc);
  const json_t *prev_entry = NULL, *e;
  size_t k;
  json_array_foreach(json_object_get(doc, "previous"), k, e) {
    const char *pv = json_string_value(json_object_get(e, "package_version"));
    if (pv && strcmp(pv, version) == 0) prev_entry = e;
  }
  size_t n = 0, n_li = 0;
  char names[400];
  if ((rc = pkg_policy_may_see(&rec, owner, err))) {
  } else if (!(cur && strcmp(cur, version) == 0) && !prev_entry) {
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "package %s has no version '%.64s' (current: '%.64s')",
                       req_id, version, cur ? cur : "?");
  } else if (retired_entry(doc, version)) {
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       PKG_REQ_RETIRED ": version '%.64s' of package %s is retired already",
                       version, req_id);
  } else if (!(rc = count_users(ctl, id, doc, version, prev_entry, &n, &n_li, names, sizeof names,
                                err)) && n > 0) {
    char more[64] = "";
    if (n_li) snprintf(more, sizeof more, "%s%zu not named", names[0] ? ", and " : "", n_li);
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       PKG_REQ_RETIRED ": version '%.64s' of package %s may still run in %zu VM(s) "
                       "of the model (declared or observed: %s%s); a version is retired once no VM "
                       "runs it",
                       version, req_id, n, names, more);
  }
  if (rc) {
    if (rc == LISEC_EDENIED || rc == LISEC_ECONFLICT || rc == LISEC_EAUTH || rc == LISEC_ENOTFOUND)
      rc = ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, li, NULL, rc, NULL, err, "package %s", id);
    json_decref(doc);
    return rc;
  }
  char now[32], reason[400];
  lisec_time_format(lisec_time_now(), now);
  json_t *retired = json_object_get(doc, "retirements");
  if (!json_is_array(retired)) {
    json_object_set_new(doc, "retirements", json_array());
    retired = json_object_get(doc, "retirements");
  }
  json_t *entry = json_pack("{s:s, s:s, s:s, s:s?}", "version", version, "retired_at", now,
                            "retired_by", actor->subject ? actor->subject : "?", "reason", why);
  rc = entry && json_array_append_new(retired, entry) == 0 ? 0
                                                           : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  snprintf(reason, sizeof reason, "version %.64s retired%s%.256s", version, why ? ": " : "",
           why ? why : "");
  if (!rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, action, li, reason, 0, NULL, err, "package %s", id);
  if (!rc) {
    rc = save(ctl, PKG_KIND, id, doc, doc_version, err);
    if (rc == LISEC_ECONFLICT) rc = lisec_err_set(err, rc, "package %s changed meanwhile; retry", req_id);
    if (rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, action, li, NULL, rc, NULL, err, "package %s", id);
  }
  if (!rc && !(*out = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "id", req_id, "scoped_id", id,
                                "version", version, "current", cur && strcmp(cur, version) == 0,
                                "retired_at", now, "retired_by", actor->subject ? actor->subject : "?")))
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  json_decref(doc);
  return rc;
}

/* ---- vendor CRLs (issue 21 item 3) -------------------------------------------- */

/* The CRL of a request: PEM text as it is, anything else base64 of DER;
 * both bounded by [pkg] max_crl before decoding. */
static int crl_bytes(const struct ctl_pkg_state *st, const json_t *body, uint8_t **data,
                     size_t *len, lisec_err *err) {
  const json_t *j = json_object_get(body, "crl");
  if (!json_is_string(j))
    return lisec_err_set(err, LISEC_EINVAL, "crl: the CRL, PEM or base64 of DER, is required");
  const char *s = json_string_value(j);
  size_t n = json_string_length(j);
  if (strncmp(s, "-----BEGIN", 10) == 0) {
    /* PEM carries a third more than the DER, and its lines */
    if (n > st->max_crl / 3 * 4 + 4096)
      return lisec_err_set(err, LISEC_ETOOBIG,
                           "crl: over the limit of %llu bytes ([pkg] max_crl)",
                           (unsigned long long)st->max_crl);
    if (!(*data = malloc(n ? n : 1))) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    memcpy(*data, s, n);
    *len = n;
    return 0;
  }
  if (n / 4 * 3 > st->max_crl + 3)
    return lisec_err_set(err, LISEC_ETOOBIG, "crl: over the limit of %llu bytes ([pkg] max_crl)",
                         (unsigned long long)st->max_crl);
  int rc = crypto_base64_decode(s, st->max_crl, data, len, err);
  if (rc == LISEC_ETOOBIG)
    return lisec_err_set(err, rc, "crl: over the limit of %llu bytes ([pkg] max_crl)",
                         (unsigned long long)st->max_crl);
  if (rc) lisec_err_set(err, LISEC_EINVAL, "TR103308-4.1-CRL: crl: neither PEM nor base64 of DER");
  return rc;
}

typedef struct revoked_ctx {
  STACK_OF(X509_CRL) *crls;
  json_t *ids;        /* keys of revoked packages */
  json_t *violations; /* or NULL */
  json_t *reasons;    /* key -> why */
  json_t *unkept;     /* or NULL: keys of packages whose artifact signers are not kept */
} revoked_ctx;

static int revoked_cb(void *vctx, const char *id, const char *body, int64_t version) {
  (void)version;
  revoked_ctx *c = vctx;
  json_t *doc = NULL;
  if (lisec_json_parse(body, strlen(body), &doc, NULL)) return LISEC_ESTORE;
  char why[LISEC_ERR_MSG_MAX];
  int rc = 0;
  if (doc_revoked(doc, id, c->crls, why, sizeof why)) {
    rc = json_array_append_new(c->ids, json_string(id)) ||
         json_object_set_new(c->reasons, id, json_string(why)) ? LISEC_ENOMEM : 0;
  }
  if (!rc && c->unkept && pkg_crl_desc_unkept(json_object_get(doc, "verification"), NULL) > 0)
    rc = json_array_append_new(c->unkept, json_string(id)) ? LISEC_ENOMEM : 0;
  json_decref(doc);
  return rc;
}

/* The packages a held CRL revokes a signer of: keys in ids, reasons by key;
 * with unkept, also those it cannot judge every signer of (their artifact
 * signers not kept). */
static int revoked_packages(lisec_ctl *ctl, json_t **ids, json_t **reasons, json_t *unkept,
                            lisec_err *err) {
  revoked_ctx c = {NULL, json_array(), NULL, json_object(), unkept};
  int rc = c.ids && c.reasons ? crls_load(ctl, &c.crls, err) : LISEC_ENOMEM;
  if (!rc && sk_X509_CRL_num(c.crls) > 0) rc = store_doc_list(ctl->store, PKG_KIND, revoked_cb, &c, err);
  if (rc == LISEC_ESTORE && !err->msg[0]) lisec_err_set(err, rc, "a stored package does not parse");
  if (rc == LISEC_ENOMEM && !err->msg[0]) lisec_err_set(err, rc, "out of memory");
  sk_X509_CRL_pop_free(c.crls, X509_CRL_free);
  if (rc) {
    json_decref(c.ids);
    json_decref(c.reasons);
    return rc;
  }
  *ids = c.ids;
  *reasons = c.reasons;
  return 0;
}

int ctl_pkg_crl_put(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                    lisec_err *err) {
  static const char *action = "pkg.crl";
  static const char *const keys[] = {"crl", NULL};
  struct ctl_pkg_state *st = ctl->shared->pkg;
  uint8_t *data = NULL;
  size_t len = 0;
  X509_CRL *crl = NULL;
  pkg_crl_info info;
  memset(&info, 0, sizeof info);
  int64_t at = 0;
  int rc = lisec_json_only_keys(body, keys, err);
  if (!rc && ctl_actor_role(actor) != CTL_ROLE_OPERATOR)
    rc = lisec_err_set(err, LISEC_EDENIED, "TR103308-4.1-CRL: only the operator loads vendor CRLs");
  if (!rc && !st->trust)
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1-CRL: no vendor trust anchors are configured ([pkg] vendor_ca); "
                       "no vendor CRL can be verified");
  if (!rc) rc = crl_bytes(st, body, &data, &len, err);
  if (!rc) rc = pkg_crl_parse(data, len, len, &crl, err);
  /* its thisUpdate and nextUpdate against the proven time only (verify_upload) */
  if (!rc) rc = ctl_clock_trusted_s(ctl->shared, "a vendor CRL's thisUpdate and nextUpdate", &at, err);
  if (!rc) rc = pkg_crl_accept(st->trust, crl, at, &info, err);
  free(data);
  json_t *held = NULL;
  lisec_err lerr = {0};
  /* Never back to an older list of the same CA: it would un-revoke. */
  if (!rc && load(ctl, PKG_CRL_KIND, info.anchor_sha256, &held, NULL, &lerr) == 0 &&
      json_integer_value(json_object_get(held, "this_update")) > info.last_update)
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.1-CRL: this CRL of '%.200s' is older (thisUpdate %lld) than the "
                       "one held (thisUpdate %lld); an older list is not loaded over a newer one",
                       info.issuer, (long long)info.last_update,
                       (long long)json_integer_value(json_object_get(held, "this_update")));
  json_decref(held);
  if (rc) {
    X509_CRL_free(crl);
    if (rc == LISEC_ENOMEM) return rc;
    return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, false, NULL, rc, NULL, err, "%s",
                     "vendor CRL");
  }
  uint8_t *der = NULL;
  int dlen = i2d_X509_CRL(crl, &der);
  X509_CRL_free(crl);
  char *b64 = NULL;
  if (dlen <= 0 || crypto_base64_encode(der, (size_t)dlen, &b64)) {
    OPENSSL_free(der);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  OPENSSL_free(der);
  char now[32], reason[700];
  lisec_time_format(at, now);
  json_t *doc = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s}", "issuer", info.issuer,
                          "anchor_sha256", info.anchor_sha256, "this_update",
                          (json_int_t)info.last_update, "next_update", (json_int_t)info.next_update,
                          "revoked", (json_int_t)info.n_revoked, "number", info.number,
                          "loaded_at", now, "loaded_by", actor->subject ? actor->subject : "?",
                          "der", b64);
  free(b64);
  if (!doc) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  snprintf(reason, sizeof reason, "CRL of '%.300s' (number %s, %zu revoked, nextUpdate %lld)",
           info.issuer, info.number[0] ? info.number : "none", info.n_revoked,
           (long long)info.next_update);
  rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, action, false, reason, 0, NULL, err, "%s", "vendor CRL");
  if (!rc && (rc = save(ctl, PKG_CRL_KIND, info.anchor_sha256, doc, -1, err)))
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, action, false, NULL, rc, NULL, err, "%s", "vendor CRL");
  json_t *ids = NULL, *reasons = NULL, *unkept = json_array();
  if (!rc) rc = unkept ? revoked_packages(ctl, &ids, &reasons, unkept, err) : LISEC_ENOMEM;
  if (!rc) {
    json_object_del(doc, "der");
    json_object_set_new(doc, "revoked_packages", ids);
    /* what this CRL could not judge: say so rather than imply a clean bill */
    if (json_array_size(unkept) > 0)
      json_object_set_new(doc, "artifact_signers_not_kept", json_incref(unkept));
    json_decref(unkept);
    json_decref(reasons);
    *out = doc;
    return 0;
  }
  json_decref(unkept);
  json_decref(doc);
  return rc;
}

static int crl_list_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)id;
  (void)version;
  json_t *doc = NULL;
  if (lisec_json_parse(body, strlen(body), &doc, NULL)) return LISEC_ESTORE;
  json_object_del(doc, "der");
  return json_array_append_new(ctx, doc) ? LISEC_ENOMEM : 0;
}

int ctl_pkg_crl_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  (void)actor;
  json_t *arr = json_array();
  int rc = arr ? store_doc_list(ctl->store, PKG_CRL_KIND, crl_list_cb, arr, err) : LISEC_ENOMEM;
  if (rc == LISEC_ESTORE && !err->msg[0]) lisec_err_set(err, rc, "a stored vendor CRL does not parse");
  if (rc) {
    json_decref(arr);
    return rc;
  }
  *out = json_pack("{s:o}", "crls", arr);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* Every package a held CRL revokes a signer of is not compliant, and so is
 * every VM of the model whose document names it; an LI VM is named
 * "li-vm <id>", which the compliance report withholds from every role but
 * li-admin. */
int ctl_pkg_revoked_findings(lisec_ctl *ctl, json_t *violations, lisec_err *err) {
  json_t *ids = NULL, *reasons = NULL, *vms = NULL;
  int rc = revoked_packages(ctl, &ids, &reasons, NULL, err);
  if (!rc && json_array_size(ids) > 0) rc = ctl_model_packaged_vms(ctl->shared, &vms, err);
  size_t i;
  const json_t *x;
  json_array_foreach(ids, i, x) {
    if (rc) break;
    const char *key = json_string_value(x);
    char subject[PKG_KEY_MAX + 16];
    snprintf(subject, sizeof subject, "package %s", key);
    json_t *v = json_pack("{s:s, s:s, s:s, s:O, s:s}", "requirement", PKG_REQ_REVOKED, "clauses",
                          "TR 103 308 §4.1; NFV-SEC 025 on-boarding", "subject", subject,
                          "sentence", json_object_get(reasons, key), "fact",
                          "revoked(signer(package)): true");
    if (!v || json_array_append_new(violations, v)) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  json_array_foreach(vms, i, x) {
    if (rc) break;
    const char *p = json_string_value(json_object_get(x, "package"));
    const json_t *why = p ? json_object_get(reasons, p) : NULL;
    if (!why) continue;
    char subject[PKG_KEY_MAX + 16], sentence[LISEC_ERR_MSG_MAX + 200];
    snprintf(subject, sizeof subject, "%s %s", json_is_true(json_object_get(x, "li")) ? "li-vm" : "vm",
             json_string_value(json_object_get(x, "vm")));
    snprintf(sentence, sizeof sentence, "the VM runs package %.128s: %.511s", p, json_string_value(why));
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s}", "requirement", PKG_REQ_REVOKED, "clauses",
                          "TR 103 308 §4.1, §4.2; NFV-SEC 025 instantiation", "subject", subject,
                          "sentence", sentence, "fact", "revoked(signer(package(vm))): true");
    if (!v || json_array_append_new(violations, v)) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  json_decref(ids);
  json_decref(reasons);
  json_decref(vms);
  return rc;
}
