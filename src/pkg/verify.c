/* Verification of a whole package, in the order that refuses a bad package
 * as cheaply as possible: member names and sizes, the layout, the vendor's
 * signature of the manifest, the countersignatures and the dual-signing
 * policy, the completeness of the listing, and only then the streaming of
 * every artifact through its digest. pkg_inspect walks the same layout
 * without trusting anything, for `lisec pkg inspect`. */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "pkg/internal.h"

#define HASH_CHUNK_NOTE "member produced more bytes than its declared size"

typedef struct vctx {
  const pkg_source *src;
  const pkg_trust *trust; /* NULL: inspect only */
  const pkg_policy *pol;
  pkg_result *res;
  pkg_tosca_meta meta;
  pkg_manifest mf;
  uint8_t *mf_bytes;
  size_t mf_len;
  STACK_OF(X509) *entry_certs;
  bool *exempt; /* members that need no Source line */
  bool *listed; /* members a Source line names */
  pkg_nameset members; /* regular members by name: their index */
  size_t cap_signers;
  lisec_err *err;
} vctx;

void pkg_policy_default(pkg_policy *p) {
  memset(p, 0, sizeof *p);
  p->require_operator = true;
  p->require_li_admin = true;
  pkg_limits_default(&p->limits);
}

void pkg_result_free(pkg_result *r) {
  if (!r) return;
  free(r->entry_definitions);
  free(r->manifest_path);
  free(r->certificate_path);
  for (size_t i = 0; i < r->n_metadata; i++) {
    free(r->metadata[i].key);
    free(r->metadata[i].value);
  }
  free(r->metadata);
  for (size_t i = 0; i < r->n_artifacts; i++) free(r->artifacts[i].path);
  free(r->artifacts);
  for (size_t i = 0; i < r->n_signers; i++) pkg_signer_clear(&r->signers[i]);
  free(r->signers);
  free(r);
}

const char *pkg_result_meta(const pkg_result *r, const char *key) {
  for (size_t i = 0; i < r->n_metadata; i++)
    if (strcmp(r->metadata[i].key, key) == 0) return r->metadata[i].value;
  return NULL;
}

const pkg_signer *pkg_result_vendor(const pkg_result *r) {
  for (size_t i = 0; i < r->n_signers; i++)
    if (r->signers[i].role == PKG_ROLE_VENDOR && r->manifest_path && r->signers[i].file &&
        strcmp(r->signers[i].file, r->manifest_path) == 0)
      return &r->signers[i];
  return NULL;
}

static pkg_signer *new_signer(vctx *v) {
  pkg_result *r = v->res;
  if (r->n_signers == v->cap_signers) {
    size_t cap = v->cap_signers ? 2 * v->cap_signers : 4;
    pkg_signer *n = realloc(r->signers, cap * sizeof *n);
    if (!n) return NULL;
    r->signers = n;
    v->cap_signers = cap;
  }
  pkg_signer *s = &r->signers[r->n_signers++];
  memset(s, 0, sizeof *s);
  return s;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* What the files the manifest does not list may hold (pem.c). */
static const char *const PEM_CMS[] = {"CMS", "PKCS7", NULL};
static const char *const PEM_CERTS[] = {"CERTIFICATE", NULL};
#define PEM_CERTS_MAX 16

/* Index of the regular member called name, or -1: pkg_source_find's
 * answer, from the set of names (names are unique once
 * pkg_entries_check passed, which run() checks before any lookup). */
static long member_find(const vctx *v, const char *name) {
  size_t i;
  return pkg_nameset_get(&v->members, name, &i) ? (long)i : -1;
}

static int need_member(vctx *v, const char *name, const char *what, long *idx) {
  *idx = member_find(v, name);
  if (*idx < 0)
    return lisec_err_set(v->err, LISEC_EINVAL, "SOL004: %s '%.128s' is not in the package", what,
                         name);
  return 0;
}

/* ---- layout ------------------------------------------------------------- */

static int layout_tosca(vctx *v, long meta_idx) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = pkg_source_read_all(v->src, (size_t)meta_idx, PKG_TOSCA_META_MAX, &buf, &len, v->err);
  if (rc) return rc;
  rc = pkg_tosca_meta_parse(buf, len, &v->meta, v->err);
  free(buf);
  if (rc) return rc;
  /* TOSCA.meta is not exempt from the listing: it decides which file is the
   * manifest and which the entry definitions, so the vendor signs it too. */
  pkg_result *r = v->res;
  r->tosca_metadata = true;
  r->entry_definitions = pkg_strdup(v->meta.entry_definitions);
  r->manifest_path = pkg_strdup(v->meta.entry_manifest);
  r->certificate_path = pkg_strdup(v->meta.entry_certificate);
  if (!r->entry_definitions || !r->manifest_path ||
      (v->meta.entry_certificate && !r->certificate_path))
    return lisec_err_set(v->err, LISEC_ENOMEM, "out of memory");
  return 0;
}

static int layout_root(vctx *v) {
  const char *yaml = NULL;
  for (size_t i = 0; i < v->src->n_entries; i++) {
    const pkg_entry *e = &v->src->entries[i];
    if (strncmp(e->name, "TOSCA-Metadata/", 15) == 0)
      return lisec_err_set(v->err, LISEC_EINVAL,
                           "SOL004: TOSCA-Metadata/ without TOSCA-Metadata/TOSCA.meta");
    if (e->is_dir || strchr(e->name, '/')) continue;
    if (ends_with(e->name, ".yaml") || ends_with(e->name, ".yml")) {
      if (yaml)
        return lisec_err_set(v->err, LISEC_EINVAL,
                             "SOL004: no TOSCA.meta and more than one YAML file at the root "
                             "('%.64s', '%.64s')",
                             yaml, e->name);
      yaml = e->name;
    }
  }
  if (!yaml)
    return lisec_err_set(v->err, LISEC_EINVAL,
                         "SOL004: neither TOSCA-Metadata/TOSCA.meta nor a YAML file at the root");
  size_t stem = strlen(yaml) - (ends_with(yaml, ".yml") ? 4 : 5);
  pkg_result *r = v->res;
  r->entry_definitions = strdup(yaml);
  r->manifest_path = malloc(stem + 6);
  if (!r->entry_definitions || !r->manifest_path)
    return lisec_err_set(v->err, LISEC_ENOMEM, "out of memory");
  memcpy(r->manifest_path, yaml, stem);
  memcpy(r->manifest_path + stem, ".mf", 4);
  char cert[PKG_PATH_MAX + 8];
  memcpy(cert, yaml, stem);
  memcpy(cert + stem, ".cert", 6);
  if (member_find(v, cert) >= 0 && !(r->certificate_path = strdup(cert)))
    return lisec_err_set(v->err, LISEC_ENOMEM, "out of memory");
  return 0;
}

static int read_layout(vctx *v) {
  long meta = member_find(v, "TOSCA-Metadata/TOSCA.meta");
  int rc = meta >= 0 ? layout_tosca(v, meta) : layout_root(v);
  if (rc) return rc;
  pkg_result *r = v->res;
  long idx;
  if ((rc = need_member(v, r->entry_definitions, "Entry-Definitions", &idx))) return rc;
  if (!ends_with(r->manifest_path, ".mf"))
    return lisec_err_set(v->err, LISEC_EINVAL, "SOL004: the manifest '%.128s' is not a .mf file",
                         r->manifest_path);
  if ((rc = need_member(v, r->manifest_path, "manifest", &idx))) return rc;
  v->exempt[idx] = true;
  rc = pkg_source_read_all(v->src, (size_t)idx, PKG_MANIFEST_MAX, &v->mf_bytes, &v->mf_len, v->err);
  if (rc) return rc;
  if ((rc = pkg_manifest_parse(v->mf_bytes, v->mf_len, &v->mf, v->err))) return rc;
  r->metadata = calloc(v->mf.n_metadata ? v->mf.n_metadata : 1, sizeof *r->metadata);
  if (!r->metadata) return lisec_err_set(v->err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < v->mf.n_metadata; i++) {
    r->metadata[i].key = strdup(v->mf.metadata[i].key);
    r->metadata[i].value = strdup(v->mf.metadata[i].value);
    r->n_metadata++;
    if (!r->metadata[i].key || !r->metadata[i].value)
      return lisec_err_set(v->err, LISEC_ENOMEM, "out of memory");
  }
  if (r->certificate_path) {
    if ((rc = need_member(v, r->certificate_path, "ETSI-Entry-Certificate", &idx))) return rc;
    v->exempt[idx] = true;
    uint8_t *pem = NULL;
    size_t len = 0;
    rc = pkg_source_read_all(v->src, (size_t)idx, PKG_SIG_FILE_MAX, &pem, &len, v->err);
    if (!rc && v->trust)
      rc = pkg_pem_only(pem, len, PEM_CERTS, PEM_CERTS_MAX, true, r->certificate_path, v->err);
    if (!rc) rc = pkg_certs_from_pem(pem, len, &v->entry_certs, v->err);
    free(pem);
    if (rc) {
      lisec_err_wrap(v->err, "SOL004: certificate '%.128s'", r->certificate_path);
      return rc;
    }
  }
  const char *li = pkg_result_meta(r, "lisec_li_vnf");
  r->li = (v->pol && v->pol->li) || (li && strcmp(li, "true") == 0);
  return 0;
}

/* ---- signatures --------------------------------------------------------- */

static int vendor_signature(vctx *v) {
  pkg_result *r = v->res;
  if (!v->mf.cms_pem) {
    if (!v->trust) return 0;
    return lisec_err_set(v->err, LISEC_EDENIED,
                         "TR103308-4.1: the manifest '%.128s' carries no CMS signature; every VNF "
                         "must be signed by its vendor",
                         r->manifest_path);
  }
  pkg_signer *s = new_signer(v);
  if (!s) return lisec_err_set(v->err, LISEC_ENOMEM, "out of memory");
  s->role = PKG_ROLE_VENDOR;
  size_t pem_len = strlen(v->mf.cms_pem);
  if (!v->trust)
    return pkg_cms_describe(v->mf.cms_pem, pem_len, v->entry_certs, r->manifest_path, s, v->err);
  static const pkg_role vendor = PKG_ROLE_VENDOR;
  pkg_role role;
  int rc = pkg_cms_verify_detached(v->trust, &vendor, 1, v->mf.cms_pem, pem_len, v->entry_certs,
                                   v->mf_bytes, v->mf.body_len, v->pol->at, r->manifest_path, s,
                                   &role, v->err);
  if (rc) lisec_err_wrap(v->err, "vendor signature of the manifest");
  return rc;
}

/* A countersignature's label: 1-32 of a-z 0-9 - (`lisec pkg countersign
 * --label` writes no other). */
static bool label_ok(const char *s, size_t n) {
  if (n == 0 || n > 32) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) return false;
  return true;
}

static int countersignatures(vctx *v) {
  pkg_result *r = v->res;
  size_t count = 0;
  for (size_t i = 0; i < v->src->n_entries; i++) {
    const pkg_entry *e = &v->src->entries[i];
    size_t pl = strlen(PKG_COUNTERSIG_DIR), nl = strlen(e->name);
    if (strncmp(e->name, PKG_COUNTERSIG_DIR, pl) != 0 || e->is_dir) continue;
    if (!ends_with(e->name, ".cms") || nl < pl + 4 || !label_ok(e->name + pl, nl - pl - 4))
      return lisec_err_set(v->err, LISEC_EINVAL,
                           "TR103308-4.1: '%.128s' is not a countersignature (%s<label>.cms, the "
                           "label 1-32 of a-z 0-9 -)",
                           e->name, PKG_COUNTERSIG_DIR);
    if (++count > PKG_COUNTERSIG_MAX)
      return lisec_err_set(v->err, LISEC_ETOOBIG, "TR103308-4.1: more than %d countersignatures",
                           PKG_COUNTERSIG_MAX);
    v->exempt[i] = true;
    uint8_t *pem = NULL;
    size_t len = 0;
    int rc = pkg_source_read_all(v->src, i, PKG_SIG_FILE_MAX, &pem, &len, v->err);
    if (!rc && v->trust) rc = pkg_pem_only(pem, len, PEM_CMS, 1, false, e->name, v->err);
    if (rc) {
      free(pem);
      return rc;
    }
    pkg_signer *s = new_signer(v);
    if (!s) {
      free(pem);
      return lisec_err_set(v->err, LISEC_ENOMEM, "out of memory");
    }
    if (!v->trust) {
      rc = pkg_cms_describe((const char *)pem, len, NULL, e->name, s, v->err);
      s->role = PKG_ROLE_COUNT; /* unknown until verified */
      free(pem);
      if (rc) return rc;
      continue;
    }
    /* The countersignature covers the whole manifest file, the vendor's
     * signature included, so it vouches for that vendor's package. */
    static const pkg_role roles[] = {PKG_ROLE_OPERATOR, PKG_ROLE_LI_ADMIN};
    pkg_role role;
    rc = pkg_cms_verify_detached(v->trust, roles, 2, (const char *)pem, len, NULL, v->mf_bytes,
                                 v->mf_len, v->pol->at, e->name, s, &role, v->err);
    free(pem);
    if (rc) {
      lisec_err_wrap(v->err, "countersignature '%.128s'", e->name);
      return rc;
    }
    for (size_t j = 0; j + 1 < r->n_signers; j++)
      if (strcmp(r->signers[j].key_sha256, s->key_sha256) == 0)
        return lisec_err_set(v->err, LISEC_EDENIED,
                             "TR103308-4.1: '%.128s' is signed with the key of %s '%.128s'; dual "
                             "signing needs two parties",
                             e->name, pkg_role_name(r->signers[j].role), r->signers[j].file);
  }
  return 0;
}

static int dual_signing_policy(vctx *v) {
  bool op = false, li = false;
  for (size_t i = 0; i < v->res->n_signers; i++) {
    op |= v->res->signers[i].role == PKG_ROLE_OPERATOR;
    li |= v->res->signers[i].role == PKG_ROLE_LI_ADMIN;
  }
  if (v->res->li && v->pol->require_li_admin && !li)
    return lisec_err_set(v->err, LISEC_EDENIED,
                         "TR103308-4.1: LI VNF without the LI administration's countersignature "
                         "(an LI VNF needs vendor + LI administration)");
  if (v->pol->require_operator && !op)
    return lisec_err_set(v->err, LISEC_EDENIED,
                         "TR103308-4.1 / NFV-SEC025-onboarding-2: no operator countersignature "
                         "(every VNF needs vendor + operator)");
  return 0;
}

/* ---- listing ------------------------------------------------------------ */

static int listing(vctx *v) {
  pkg_result *r = v->res;
  for (size_t i = 0; i < v->mf.n_entries; i++) {
    const pkg_manifest_entry *me = &v->mf.entries[i];
    long idx;
    int rc = need_member(v, me->source, "listed artifact", &idx);
    if (rc) return rc;
    v->listed[idx] = true;
    if (strcmp(me->source, r->manifest_path) == 0)
      return lisec_err_set(v->err, LISEC_EINVAL, "SOL004: the manifest lists itself");
    const char *refs[] = {me->signature, me->certificate};
    for (size_t k = 0; k < 2; k++) {
      if (!refs[k]) continue;
      if ((rc = need_member(v, refs[k], k ? "artifact certificate" : "artifact signature", &idx)))
        return rc;
      v->exempt[idx] = true;
      /* Listed by name only: read it now, also a certificate without a
       * signature that nothing else would read. */
      uint8_t *pem = NULL;
      size_t len = 0;
      rc = pkg_source_read_all(v->src, (size_t)idx, PKG_SIG_FILE_MAX, &pem, &len, v->err);
      if (!rc)
        rc = k ? pkg_pem_only(pem, len, PEM_CERTS, PEM_CERTS_MAX, true, refs[k], v->err)
               : pkg_pem_only(pem, len, PEM_CMS, 1, false, refs[k], v->err);
      free(pem);
      if (rc) return rc;
    }
  }
  for (size_t i = 0; i < v->src->n_entries; i++) {
    const pkg_entry *e = &v->src->entries[i];
    if (e->is_dir || v->exempt[i] || v->listed[i]) continue;
    return lisec_err_set(v->err, LISEC_EDENIED,
                         "TR103308-4.2: '%.128s' is in the package but not in the signed manifest",
                         e->name);
  }
  return 0;
}

/* ---- artifacts ---------------------------------------------------------- */

typedef struct hsink {
  pkg_digest *d[3]; /* the manifest's, the per-artifact signature's, an image's SHA-256 */
  uint64_t n, declared;
} hsink;

static int hash_sink(void *sctx, const uint8_t *p, size_t len, lisec_err *err) {
  hsink *h = sctx;
  if (len > h->declared - h->n)
    return lisec_err_set(err, LISEC_ETOOBIG, "NFV-SEC025-onboarding-1: " HASH_CHUNK_NOTE);
  h->n += len;
  for (int i = 0; i < 3; i++)
    if (h->d[i]) {
      int rc = pkg_digest_update(h->d[i], p, len, err);
      if (rc) return rc;
    }
  return 0;
}

static int load_extra_certs(vctx *v, const char *path, STACK_OF(X509) **out) {
  long idx = member_find(v, path);
  uint8_t *pem = NULL;
  size_t len = 0;
  int rc = idx < 0 ? lisec_err_set(v->err, LISEC_EINVAL, "no member '%.128s'", path)
                   : pkg_source_read_all(v->src, (size_t)idx, PKG_SIG_FILE_MAX, &pem, &len, v->err);
  if (!rc) rc = pkg_certs_from_pem(pem, len, out, v->err);
  free(pem);
  if (rc) lisec_err_wrap(v->err, "SOL004: artifact certificate '%.128s'", path);
  return rc;
}

static bool same_chain(const pkg_signer *a, const pkg_signer *b) {
  if (a->n_chain != b->n_chain || strcmp(a->key_sha256, b->key_sha256) != 0 ||
      strcmp(a->anchor_sha256, b->anchor_sha256) != 0)
    return false;
  for (size_t i = 0; i < a->n_chain; i++)
    if (strcmp(a->chain[i].issuer, b->chain[i].issuer) != 0 ||
        strcmp(a->chain[i].serial, b->chain[i].serial) != 0)
      return false;
  return true;
}

/* A per-artifact signer is kept like the package's own (its chain is what
 * a vendor CRL loaded later is checked against), once per certificate: the
 * manifest's signer or an earlier artifact's when it is the same one, so
 * a package of many artifacts signed by one key keeps one entry. Takes s. */
static int keep_artifact_signer(vctx *v, pkg_signer *s, const char *path, pkg_artifact *a) {
  pkg_result *r = v->res;
  for (size_t i = 0; i < r->n_signers; i++)
    if (r->signers[i].role == PKG_ROLE_VENDOR && same_chain(&r->signers[i], s)) {
      pkg_signer_clear(s);
      a->signer = i;
      return 0;
    }
  pkg_signer *kept = new_signer(v);
  if (!kept || !(s->artifact = strdup(path))) {
    if (kept) r->n_signers--;
    pkg_signer_clear(s);
    return lisec_err_set(v->err, LISEC_ENOMEM, "out of memory");
  }
  *kept = *s;
  memset(s, 0, sizeof *s);
  a->signer = r->n_signers - 1;
  return 0;
}

static int hash_artifact(vctx *v, const pkg_manifest_entry *me, pkg_artifact *a) {
  long idx = member_find(v, me->source);
  const pkg_entry *e = &v->src->entries[idx];
  pkg_artifact_sig *sig = NULL;
  STACK_OF(X509) *certs = NULL;
  hsink h = {.declared = e->size};
  int rc = 0;
  if (me->signature) {
    uint8_t *pem = NULL;
    size_t len = 0;
    long sidx = member_find(v, me->signature);
    if (me->certificate && (rc = load_extra_certs(v, me->certificate, &certs))) goto out;
    rc = pkg_source_read_all(v->src, (size_t)sidx, PKG_SIG_FILE_MAX, &pem, &len, v->err);
    pkg_signer signer = {0};
    if (!rc)
      rc = pkg_artifact_sig_open(v->trust, (const char *)pem, len, certs ? certs : v->entry_certs,
                                 v->pol->at, me->signature, &signer, &sig, v->err);
    free(pem);
    if (rc) {
      pkg_signer_clear(&signer);
      lisec_err_wrap(v->err, "signer of artifact '%.128s'", me->source);
      goto out;
    }
    if ((rc = keep_artifact_signer(v, &signer, me->source, a))) goto out;
  }
  const EVP_MD *md = pkg_alg_md(me->alg);
  if ((rc = pkg_digest_new(md, &h.d[0], v->err))) goto out;
  if (sig && (rc = pkg_digest_new(pkg_artifact_sig_md(sig), &h.d[1], v->err))) goto out;
  /* an image listed with SHA-384 or SHA-512 is also hashed with SHA-256,
   * the digest a running VM's image is reported and observed by */
  bool image_sha256 = a->is_image && me->alg != PKG_ALG_SHA256;
  if (image_sha256 && (rc = pkg_digest_new(EVP_sha256(), &h.d[2], v->err))) goto out;
  if ((rc = v->src->read(v->src->ctx, (size_t)idx, hash_sink, &h, v->err))) {
    lisec_err_wrap(v->err, "reading '%.128s'", me->source);
    goto out;
  }
  if (h.n != e->size) {
    rc = lisec_err_set(v->err, LISEC_EINVAL,
                       "NFV-SEC025-onboarding-1: '%.128s' produced %llu bytes, declared %llu",
                       me->source, (unsigned long long)h.n, (unsigned long long)e->size);
    goto out;
  }
  uint8_t got[PKG_DIGEST_MAX], sgot[PKG_DIGEST_MAX];
  size_t got_len = 0, sgot_len = 0;
  if ((rc = pkg_digest_final(h.d[0], got, &got_len, v->err))) goto out;
  if (got_len != me->digest_len || !crypto_ct_equal(got, me->digest, got_len)) {
    rc = lisec_err_set(v->err, LISEC_EDENIED,
                       "TR103308-4.2: '%.128s' does not match its %s digest in the signed manifest "
                       "(changed after signing)",
                       me->source, pkg_alg_name(me->alg));
    goto out;
  }
  if (sig) {
    if ((rc = pkg_digest_final(h.d[1], sgot, &sgot_len, v->err))) goto out;
    if ((rc = pkg_artifact_sig_finish(sig, sgot, sgot_len, v->err))) goto out;
  }
  if (image_sha256) {
    size_t n = 0;
    if ((rc = pkg_digest_final(h.d[2], a->sha256, &n, v->err))) goto out;
    a->has_sha256 = n == sizeof a->sha256;
  } else if (a->is_image) {
    memcpy(a->sha256, got, sizeof a->sha256);
    a->has_sha256 = true;
  }
  memcpy(a->digest, got, got_len);
  a->digest_len = got_len;
  a->signed_ = sig != NULL;
  v->res->bytes_hashed += h.n;
out:
  pkg_digest_free(h.d[0]);
  pkg_digest_free(h.d[1]);
  pkg_digest_free(h.d[2]);
  pkg_artifact_sig_free(sig);
  sk_X509_pop_free(certs, X509_free);
  return rc;
}

static int artifacts(vctx *v, bool hash) {
  pkg_result *r = v->res;
  r->artifacts = calloc(v->mf.n_entries, sizeof *r->artifacts);
  if (!r->artifacts) return lisec_err_set(v->err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < v->mf.n_entries; i++) {
    const pkg_manifest_entry *me = &v->mf.entries[i];
    pkg_artifact *a = &r->artifacts[r->n_artifacts++];
    a->path = strdup(me->source);
    if (!a->path) return lisec_err_set(v->err, LISEC_ENOMEM, "out of memory");
    a->alg = me->alg;
    a->is_image = pkg_path_is_image(me->source);
    long idx = member_find(v, me->source);
    a->size = idx >= 0 ? v->src->entries[idx].size : 0;
    if (!hash) {
      memcpy(a->digest, me->digest, me->digest_len);
      a->digest_len = me->digest_len;
      continue;
    }
    int rc = hash_artifact(v, me, a);
    if (rc) return rc;
  }
  return 0;
}

/* ---- entry points ------------------------------------------------------- */

static int run(const pkg_source *src, const pkg_trust *trust, const pkg_policy *pol,
               pkg_result **out, lisec_err *err) {
  vctx v = {.src = src, .trust = trust, .pol = pol, .err = err};
  v.res = calloc(1, sizeof *v.res);
  v.exempt = calloc(src->n_entries ? src->n_entries : 1, sizeof *v.exempt);
  v.listed = calloc(src->n_entries ? src->n_entries : 1, sizeof *v.listed);
  int rc = 0;
  if (!v.res || !v.exempt || !v.listed || pkg_nameset_init(&v.members, src->n_entries)) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = pkg_entries_check(src->entries, src->n_entries, &pol->limits, err))) goto out;
  for (size_t i = 0; i < src->n_entries; i++)
    if (!src->entries[i].is_dir && pkg_nameset_add(&v.members, src->entries[i].name, i) < 0) {
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
      goto out;
    }
  if ((rc = read_layout(&v))) goto out;
  if (trust) {
    static const char *const required[] = {"vnf_provider_id", "vnf_product_name",
                                           "vnf_package_version", "vnf_release_date_time"};
    for (size_t i = 0; i < LISEC_ARRAY_LEN(required); i++)
      if (!pkg_result_meta(v.res, required[i])) {
        rc = lisec_err_set(err, LISEC_EINVAL, "SOL004: manifest metadata has no %s", required[i]);
        goto out;
      }
  }
  if ((rc = vendor_signature(&v))) goto out;
  if ((rc = countersignatures(&v))) goto out;
  if (trust && (rc = dual_signing_policy(&v))) goto out;
  if (trust && (rc = listing(&v))) goto out;
  if ((rc = artifacts(&v, trust != NULL))) goto out;
  v.res->verified = trust != NULL;
  v.res->revocation_checked = trust && sk_X509_CRL_num(trust->crls) > 0;
out:
  pkg_tosca_meta_free(&v.meta);
  pkg_manifest_free(&v.mf);
  free(v.mf_bytes);
  free(v.exempt);
  free(v.listed);
  pkg_nameset_free(&v.members);
  sk_X509_pop_free(v.entry_certs, X509_free);
  if (rc)
    pkg_result_free(v.res);
  else
    *out = v.res;
  return rc;
}

int pkg_verify(const pkg_source *src, const pkg_trust *trust, const pkg_policy *policy,
               pkg_result **out, lisec_err *err) {
  if (!trust) return lisec_err_set(err, LISEC_EINVAL, "no trust anchors given");
  return run(src, trust, policy, out, err);
}

int pkg_inspect(const pkg_source *src, const pkg_limits *limits, pkg_result **out,
                lisec_err *err) {
  pkg_policy pol;
  pkg_policy_default(&pol);
  if (limits) pol.limits = *limits;
  return run(src, NULL, &pol, out, err);
}
