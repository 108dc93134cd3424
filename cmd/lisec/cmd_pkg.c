/* `lisec pkg ...`: VNF packages (ETSI GS NFV-SOL 004 CSAR) on the command
 * line. sign builds and vendor-signs a CSAR from a directory; countersign
 * adds the operator's or LI administration's countersignature to a signed
 * CSAR after verifying it; verify checks a CSAR against the trust anchors
 * of each role and the dual-signing policy; inspect shows what a CSAR
 * claims without trusting it. The checks themselves are pkg/'s; this file
 * only opens files, walks directories and writes ZIP archives (libzip).
 * The signer's certificate and key are the global --cert and --key.
 * onboard, replace, list, show and image-report talk to lisecd (global
 * --server and the client certificate); lisecd verifies again itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "cli.h"
#include "commands.h"
#include "crypto/crypto.h"
#include "pkg/pkg.h"

const char cli_help_pkg[] =
    "VNF packages (SOL 004 CSAR): sign, countersign, verify, inspect; onboard, list, show on lisecd";

int cli_cmd_pkg(int argc, char **argv);

static const char pkg_usage_text[] =
    "usage: lisec pkg sign DIR -o OUT.csar --cert VENDOR.crt --key VENDOR.key [--chain FILE]\n"
    "                      [--meta NAME=VALUE]... [--li] [--force]\n"
    "         builds OUT.csar from DIR: a manifest listing and hashing every file, signed\n"
    "         (CMS) by the vendor; metadata from DIR's manifest if present, else --meta\n"
    "       lisec pkg countersign IN.csar -o OUT.csar --label LABEL --cert C --key K\n"
    "                      [--chain FILE] TRUST...\n"
    "         verifies IN.csar (vendor part and any countersignature) and adds\n"
    "         Countersignatures/LABEL.cms, a detached CMS over the whole manifest\n"
    "       lisec pkg verify PKG.csar TRUST... [--li] [--no-operator] [--at TIME] [--json]\n"
    "       lisec pkg inspect PKG.csar [--json]\n"
    "       lisec pkg onboard PKG.csar --id ID [--li]     (lisecd: on-board, verified there)\n"
    "       lisec pkg replace PKG.csar --id ID [--li]     (lisecd: a new version of ID)\n"
    "       lisec pkg list | show ID                      (lisecd)\n"
    "       lisec pkg retire ID --version V [--reason TEXT] (lisecd: refused while a VM runs V)\n"
    "       lisec pkg crl load FILE | crl list            (lisecd: a vendor CA's CRL, PEM or DER)\n"
    "       lisec pkg image-report ID --vm VM --digest sha256:HEX --event instantiate|resume|migrate\n"
    "         (lisecd: exit 1 when the VM's image is not one of ID's images)\n"
    "TRUST: --vendor-ca FILE --operator-ca FILE --li-admin-ca FILE --crl FILE (each may\n"
    "       repeat; PEM bundles). Exit 0: accepted; 1: refused (the reason is printed);\n"
    "       2: usage or I/O error. See docs/packages.md.";

static int usage(void) { return cli_fail("%s", pkg_usage_text); }

/* ---- shared helpers ----------------------------------------------------- */

#define PEM_FILE_MAX (4u << 20)
#define WALK_MAX_FILES 10000
#define WALK_MAX_DEPTH 32

typedef struct trust_opts {
  pkg_trust *trust;
  bool any_anchor;
} trust_opts;

/* Takes a TRUST option at argv[*i] if it is one: 1 taken, 0 not, <0 error. */
static int take_trust(trust_opts *t, int argc, char **argv, int *i) {
  static const struct {
    const char *opt;
    int role; /* -1: CRL */
  } opts[] = {{"--vendor-ca", PKG_ROLE_VENDOR},
              {"--operator-ca", PKG_ROLE_OPERATOR},
              {"--li-admin-ca", PKG_ROLE_LI_ADMIN},
              {"--crl", -1}};
  for (size_t k = 0; k < LISEC_ARRAY_LEN(opts); k++) {
    if (strcmp(argv[*i], opts[k].opt) != 0) continue;
    if (*i + 1 >= argc) return cli_fail("%s needs a FILE", opts[k].opt), -1;
    const char *path = argv[++*i];
    lisec_err err = {0};
    uint8_t *pem = NULL;
    size_t len = 0;
    int rc = lisec_file_read(path, PEM_FILE_MAX, &pem, &len, &err);
    if (!rc)
      rc = opts[k].role < 0
               ? pkg_trust_add_crls_pem(t->trust, pem, len, &err)
               : pkg_trust_add_anchors_pem(t->trust, (pkg_role)opts[k].role, pem, len, &err);
    free(pem);
    if (rc) return cli_fail("pkg: %s %s: %s", opts[k].opt, path, err.msg), -1;
    if (opts[k].role >= 0) t->any_anchor = true;
    return 1;
  }
  return 0;
}

static int open_csar(const char *path, const pkg_limits *limits, pkg_zip **z, lisec_err *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return lisec_err_set(err, LISEC_EIO, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    rc = lisec_err_set(err, LISEC_EIO, "%s is not a regular file", path);
  else
    rc = pkg_zip_open_fd(fd, limits, z, err);
  close(fd);
  return rc;
}

/* A refusal of the package is an answer (exit 1); running out of memory or
 * failing to read is an error (exit 2). */
static int package_exit(int rc) {
  return rc == LISEC_ENOMEM || rc == LISEC_EIO || rc == LISEC_EINTERNAL ? CLI_ERROR : CLI_REFUSED;
}

static int refuse(const char *what, const lisec_err *err) {
  if (cli.json) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "verdict", "refused", "code", lisec_err_name(err->code),
                          "reason", err->msg);
    cli_print_json(o);
    json_decref(o);
  } else {
    fprintf(stderr, "lisec: pkg %s: refused: %s\n", what, err->msg);
  }
  return package_exit(err->code);
}

static int parse_time_arg(const char *s, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!errno && end && !*end && v > 0) {
    *out = v;
    return 0;
  }
  return lisec_time_parse(s, out);
}

static int load_signer(EVP_PKEY **key, X509 **cert, STACK_OF(X509) **chain, const char *chain_path,
                       lisec_err *err) {
  if (!cli.cert || !cli.key)
    return lisec_err_set(err, LISEC_EINVAL, "the signer needs --cert FILE and --key FILE");
  int rc = crypto_x509_load_pem(cli.cert, cert, err);
  if (!rc) rc = crypto_pkey_load_pem(cli.key, true, key, err);
  if (!rc && chain_path) {
    uint8_t *pem = NULL;
    size_t len = 0;
    rc = lisec_file_read(chain_path, PEM_FILE_MAX, &pem, &len, err);
    if (!rc) rc = pkg_certs_from_pem(pem, len, chain, err);
    free(pem);
    if (rc) lisec_err_wrap(err, "--chain %s", chain_path);
  }
  return rc;
}

/* ---- sign: walking the source directory --------------------------------- */

typedef struct walk_file {
  char *rel;
  uint64_t size;
} walk_file;

typedef struct walk {
  const char *root;
  walk_file *files;
  size_t n, cap;
} walk;

static int walk_add(walk *w, const char *rel, uint64_t size, lisec_err *err) {
  if (w->n >= WALK_MAX_FILES)
    return lisec_err_set(err, LISEC_ETOOBIG, "more than %d files", WALK_MAX_FILES);
  if (w->n == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 64;
    walk_file *n = realloc(w->files, cap * sizeof *n);
    if (!n) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    w->files = n;
    w->cap = cap;
  }
  w->files[w->n].rel = strdup(rel);
  w->files[w->n].size = size;
  if (!w->files[w->n].rel) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  w->n++;
  return 0;
}

/* Every regular file under dir (relative to the root), refusing symlinks
 * and special files rather than following or packing them. */
static int walk_dir(walk *w, const char *rel, int depth, lisec_err *err) {
  if (depth > WALK_MAX_DEPTH) return lisec_err_set(err, LISEC_ETOOBIG, "directories nest too deep");
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", w->root, rel) >= sizeof path)
    return lisec_err_set(err, LISEC_ETOOBIG, "path too long");
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    if (fd >= 0) close(fd);
    return lisec_err_set(err, LISEC_EIO, "cannot read directory %s: %s", path, strerror(errno));
  }
  int rc = 0;
  struct dirent *de;
  while (!rc && (de = readdir(d))) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    char sub[PKG_PATH_MAX + 1];
    if ((size_t)snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= sizeof sub) {
      rc = lisec_err_set(err, LISEC_ETOOBIG, "a path under %s is too long", w->root);
      break;
    }
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      rc = lisec_err_set(err, LISEC_EIO, "cannot stat %s: %s", sub, strerror(errno));
    } else if (S_ISLNK(st.st_mode)) {
      rc = lisec_err_set(err, LISEC_EINVAL, "%s is a symbolic link; packages hold regular files", sub);
    } else if (S_ISDIR(st.st_mode)) {
      rc = walk_dir(w, sub, depth + 1, err);
    } else if (S_ISREG(st.st_mode)) {
      if (!(rc = pkg_path_check(sub, false, err))) rc = walk_add(w, sub, (uint64_t)st.st_size, err);
    } else {
      rc = lisec_err_set(err, LISEC_EINVAL, "%s is not a regular file", sub);
    }
  }
  closedir(d);
  return rc;
}

static int walk_cmp(const void *a, const void *b) {
  return strcmp(((const walk_file *)a)->rel, ((const walk_file *)b)->rel);
}

static void walk_free(walk *w) {
  for (size_t i = 0; i < w->n; i++) free(w->files[i].rel);
  free(w->files);
}

static int hash_file(const char *path, pkg_alg alg, uint8_t *out, size_t *len, lisec_err *err) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return lisec_err_set(err, LISEC_EIO, "cannot open %s: %s", path, strerror(errno));
  pkg_digest *d = NULL;
  int rc = pkg_digest_new(pkg_alg_md(alg), &d, err);
  uint8_t *buf = malloc(1u << 20);
  if (!rc && !buf) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  while (!rc) {
    ssize_t n = read(fd, buf, 1u << 20);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) rc = lisec_err_set(err, LISEC_EIO, "reading %s: %s", path, strerror(errno));
    if (n <= 0) break;
    rc = pkg_digest_update(d, buf, (size_t)n, err);
  }
  if (!rc) rc = pkg_digest_final(d, out, len, err);
  pkg_digest_free(d);
  free(buf);
  close(fd);
  return rc;
}

/* ---- sign --------------------------------------------------------------- */

typedef struct sign_opts {
  const char *dir, *out, *chain;
  const char *meta[PKG_METADATA_MAX];
  size_t n_meta;
  bool li, force;
} sign_opts;

static int set_meta(pkg_kv *kv, size_t *n, const char *key, const char *value, lisec_err *err) {
  for (size_t i = 0; i < *n; i++)
    if (strcmp(kv[i].key, key) == 0) {
      char *v = strdup(value);
      if (!v) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
      free(kv[i].value);
      kv[i].value = v;
      return 0;
    }
  if (*n >= PKG_METADATA_MAX) return lisec_err_set(err, LISEC_ETOOBIG, "too many metadata entries");
  kv[*n].key = strdup(key);
  kv[*n].value = strdup(value);
  (*n)++;
  if (!kv[*n - 1].key || !kv[*n - 1].value) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  return 0;
}

static int read_dir_file(const char *dir, const char *rel, size_t max, uint8_t **out, size_t *len,
                         lisec_err *err) {
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, rel) >= sizeof path)
    return lisec_err_set(err, LISEC_ETOOBIG, "path too long");
  return lisec_file_read(path, max, out, len, err);
}

/* Where the manifest and certificate go: TOSCA.meta says, or the root YAML's
 * stem does. */
static int sign_layout(const sign_opts *o, const walk *w, char **manifest, char **cert,
                       lisec_err *err) {
  for (size_t i = 0; i < w->n; i++) {
    if (strcmp(w->files[i].rel, "TOSCA-Metadata/TOSCA.meta") != 0) continue;
    uint8_t *buf = NULL;
    size_t len = 0;
    pkg_tosca_meta m;
    int rc = read_dir_file(o->dir, w->files[i].rel, PKG_TOSCA_META_MAX, &buf, &len, err);
    if (!rc) rc = pkg_tosca_meta_parse(buf, len, &m, err);
    free(buf);
    if (rc) return rc;
    *manifest = strdup(m.entry_manifest);
    *cert = m.entry_certificate ? strdup(m.entry_certificate) : NULL;
    pkg_tosca_meta_free(&m);
    return *manifest ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  const char *yaml = NULL;
  for (size_t i = 0; i < w->n; i++) {
    const char *r = w->files[i].rel;
    size_t l = strlen(r);
    if (strchr(r, '/') || !((l > 5 && strcmp(r + l - 5, ".yaml") == 0) ||
                            (l > 4 && strcmp(r + l - 4, ".yml") == 0)))
      continue;
    if (yaml) return lisec_err_set(err, LISEC_EINVAL, "no TOSCA.meta and several root YAML files");
    yaml = r;
  }
  if (!yaml) return lisec_err_set(err, LISEC_EINVAL, "neither TOSCA-Metadata/TOSCA.meta nor a root YAML");
  size_t l = strlen(yaml);
  size_t stem = l - (l > 4 && strcmp(yaml + l - 4, ".yml") == 0 ? 4 : 5);
  *manifest = malloc(stem + 4);
  if (!*manifest) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  memcpy(*manifest, yaml, stem);
  memcpy(*manifest + stem, ".mf", 4);
  *cert = NULL;
  return 0;
}

static int zip_add_regular(zip_t *za, const char *name, zip_source_t *src, bool store,
                           lisec_err *err) {
  zip_int64_t idx = zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8);
  if (idx < 0) {
    zip_source_free(src);
    return lisec_err_set(err, LISEC_EIO, "adding %s: %s", name, zip_strerror(za));
  }
  zip_set_file_compression(za, (zip_uint64_t)idx, store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0);
  zip_file_set_external_attributes(za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX,
                                   (zip_uint32_t)(S_IFREG | 0644) << 16);
  return 0;
}

static int pkg_sign(const sign_opts *o) {
  lisec_err err = {0};
  walk w = {.root = o->dir};
  EVP_PKEY *key = NULL;
  X509 *cert = NULL;
  STACK_OF(X509) *chain = NULL;
  char *manifest = NULL, *cert_path = NULL, *sig = NULL;
  pkg_kv meta[PKG_METADATA_MAX];
  size_t n_meta = 0, sig_len = 0;
  pkg_manifest_entry *entries = NULL;
  size_t n_entries = 0;
  lisec_buf body, certs_pem;
  lisec_buf_init(&body, PKG_MANIFEST_MAX);
  lisec_buf_init(&certs_pem, PKG_SIG_FILE_MAX);
  zip_t *za = NULL;
  int rc = load_signer(&key, &cert, &chain, o->chain, &err);
  if (!rc) rc = walk_dir(&w, "", 0, &err);
  if (rc) goto out;
  qsort(w.files, w.n, sizeof *w.files, walk_cmp);
  if ((rc = sign_layout(o, &w, &manifest, &cert_path, &err))) goto out;
  /* Metadata: the directory's own manifest if it has one, then --meta. */
  for (size_t i = 0; i < w.n; i++) {
    if (strcmp(w.files[i].rel, manifest) != 0) continue;
    uint8_t *buf = NULL;
    size_t len = 0;
    pkg_manifest m;
    if (!(rc = read_dir_file(o->dir, manifest, PKG_MANIFEST_MAX, &buf, &len, &err)))
      rc = pkg_manifest_parse(buf, len, &m, &err);
    free(buf);
    if (rc) {
      lisec_err_wrap(&err, "the manifest already in %s", o->dir);
      goto out;
    }
    for (size_t k = 0; k < m.n_metadata && !rc; k++)
      rc = set_meta(meta, &n_meta, m.metadata[k].key, m.metadata[k].value, &err);
    pkg_manifest_free(&m);
    if (rc) goto out;
  }
  for (size_t i = 0; i < o->n_meta && !rc; i++) {
    char k[128];
    const char *eq = strchr(o->meta[i], '=');
    if (!eq || eq == o->meta[i] || (size_t)(eq - o->meta[i]) >= sizeof k) {
      rc = lisec_err_set(&err, LISEC_EINVAL, "--meta takes NAME=VALUE");
      break;
    }
    memcpy(k, o->meta[i], (size_t)(eq - o->meta[i]));
    k[eq - o->meta[i]] = '\0';
    rc = set_meta(meta, &n_meta, k, eq + 1, &err);
  }
  if (!rc && o->li) rc = set_meta(meta, &n_meta, "lisec_li_vnf", "true", &err);
  if (rc) goto out;
  static const char *const required[] = {"vnf_provider_id", "vnf_product_name",
                                         "vnf_package_version", "vnf_release_date_time"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(required); i++) {
    bool have = false;
    for (size_t k = 0; k < n_meta; k++) have |= strcmp(meta[k].key, required[i]) == 0;
    if (!have) {
      rc = lisec_err_set(&err, LISEC_EINVAL, "metadata %s is missing (--meta %s=...)", required[i],
                         required[i]);
      goto out;
    }
  }
  /* Every file but the manifest and the certificate is an artifact. */
  entries = calloc(w.n ? w.n : 1, sizeof *entries);
  if (!entries) {
    rc = lisec_err_set(&err, LISEC_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < w.n; i++) {
    const char *r = w.files[i].rel;
    if (strcmp(r, manifest) == 0 || (cert_path && strcmp(r, cert_path) == 0)) continue;
    if (strncmp(r, PKG_COUNTERSIG_DIR, strlen(PKG_COUNTERSIG_DIR)) == 0) {
      rc = lisec_err_set(&err, LISEC_EINVAL, "%s in the source: countersignatures come after signing",
                         r);
      goto out;
    }
    pkg_manifest_entry *e = &entries[n_entries++];
    e->source = w.files[i].rel;
    e->alg = PKG_ALG_SHA256;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", o->dir, r);
    if ((rc = hash_file(path, e->alg, e->digest, &e->digest_len, &err))) goto out;
  }
  if ((rc = pkg_manifest_build(meta, n_meta, entries, n_entries, &body, &err))) goto out;
  if ((rc = pkg_cms_sign(key, cert, chain, body.data, body.len, &sig, &sig_len, &err))) goto out;
  if (lisec_buf_append(&body, sig, sig_len)) {
    rc = lisec_err_set(&err, LISEC_ETOOBIG, "manifest too large");
    goto out;
  }
  /* The archive: libzip writes a temporary file and renames it on close. */
  int zerr = 0;
  za = zip_open(o->out, ZIP_CREATE | (o->force ? ZIP_TRUNCATE : ZIP_EXCL), &zerr);
  if (!za) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, zerr);
    rc = lisec_err_set(&err, LISEC_EIO, "cannot create %s: %s", o->out, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    goto out;
  }
  for (size_t i = 0; i < w.n && !rc; i++) {
    const char *r = w.files[i].rel;
    if (strcmp(r, manifest) == 0 || (cert_path && strcmp(r, cert_path) == 0)) continue;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", o->dir, r);
    zip_source_t *src = zip_source_file(za, path, 0, -1);
    rc = src ? zip_add_regular(za, r, src, w.files[i].size > (16u << 20), &err)
             : lisec_err_set(&err, LISEC_EIO, "cannot read %s", path);
  }
  if (!rc) {
    zip_source_t *src = zip_source_buffer(za, body.data, body.len, 0);
    rc = src ? zip_add_regular(za, manifest, src, false, &err)
             : lisec_err_set(&err, LISEC_ENOMEM, "out of memory");
  }
  if (!rc && cert_path) {
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, cert);
    for (int i = 0; chain && i < sk_X509_num(chain); i++) PEM_write_bio_X509(b, sk_X509_value(chain, i));
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    if (n <= 0 || lisec_buf_append(&certs_pem, p, (size_t)n))
      rc = lisec_err_set(&err, LISEC_EINTERNAL, "cannot write the certificate");
    BIO_free(b);
    zip_source_t *src = rc ? NULL : zip_source_buffer(za, certs_pem.data, certs_pem.len, 0);
    if (!rc) rc = src ? zip_add_regular(za, cert_path, src, false, &err)
                      : lisec_err_set(&err, LISEC_ENOMEM, "out of memory");
  }
  if (!rc && zip_close(za) != 0) {
    rc = lisec_err_set(&err, LISEC_EIO, "writing %s: %s", o->out, zip_strerror(za));
  } else if (!rc) {
    za = NULL;
  }
out:
  if (za) zip_discard(za);
  for (size_t i = 0; i < n_meta; i++) {
    free(meta[i].key);
    free(meta[i].value);
  }
  free(entries);
  walk_free(&w);
  lisec_buf_free(&body);
  lisec_buf_free(&certs_pem);
  free(sig);
  free(manifest);
  free(cert_path);
  EVP_PKEY_free(key);
  X509_free(cert);
  sk_X509_pop_free(chain, X509_free);
  if (rc) return cli_fail("pkg sign: %s", err.msg);
  if (cli.json) {
    json_t *o2 = json_pack("{s:s, s:I}", "csar", o->out, "artifacts", (json_int_t)n_entries);
    cli_print_json(o2);
    json_decref(o2);
  } else {
    printf("%s: %zu artifacts listed and hashed, manifest signed by the vendor\n", o->out, n_entries);
  }
  return CLI_OK;
}

/* ---- verify and inspect ------------------------------------------------- */

static void print_result(const pkg_result *r, const char *verdict) {
  printf("%s: %s %s %s (%s layout, manifest %s)%s\n", verdict,
         pkg_result_meta(r, "vnf_provider_id") ? pkg_result_meta(r, "vnf_provider_id") : "?",
         pkg_result_meta(r, "vnf_product_name") ? pkg_result_meta(r, "vnf_product_name") : "?",
         pkg_result_meta(r, "vnf_package_version") ? pkg_result_meta(r, "vnf_package_version") : "?",
         r->tosca_metadata ? "TOSCA-Metadata" : "root manifest", r->manifest_path,
         r->li ? ", LI VNF" : "");
  for (size_t i = 0; i < r->n_signers; i++) {
    const pkg_signer *s = &r->signers[i];
    printf("  %-9s %s (%s)%s%s\n", s->role < PKG_ROLE_COUNT ? pkg_role_name(s->role) : "signer?",
           s->subject ? s->subject : "?", s->file ? s->file : "?",
           s->anchor_subject ? " <- " : "", s->anchor_subject ? s->anchor_subject : "");
  }
  for (size_t i = 0; i < r->n_artifacts; i++) {
    const pkg_artifact *a = &r->artifacts[i];
    char hex[2 * PKG_DIGEST_MAX + 1];
    lisec_hex_encode(a->digest, a->digest_len, hex);
    printf("  %s %s:%.16s... %llu bytes%s%s\n", a->path, pkg_alg_name(a->alg), hex,
           (unsigned long long)a->size, a->is_image ? " [image]" : "",
           a->signed_ ? " [signed]" : "");
  }
  if (r->verified)
    printf("  %llu bytes hashed; revocation %s\n", (unsigned long long)r->bytes_hashed,
           r->revocation_checked ? "checked against the CRLs" : "NOT checked (no --crl)");
}

static int emit_result(const pkg_result *r, const char *verdict) {
  if (cli.json) {
    json_t *j = pkg_result_to_json(r);
    if (!j) return cli_fail("out of memory");
    json_object_set_new(j, "verdict", json_string(verdict));
    cli_print_json(j);
    json_decref(j);
  } else {
    print_result(r, verdict);
  }
  return CLI_OK;
}

/* Verifies path with the given trust and policy into *out. */
static int verify_csar(const char *path, const pkg_trust *trust, const pkg_policy *pol,
                       pkg_result **out, lisec_err *err) {
  pkg_zip *z = NULL;
  int rc = open_csar(path, &pol->limits, &z, err);
  if (!rc) rc = pkg_verify(pkg_zip_source(z), trust, pol, out, err);
  pkg_zip_close(z);
  return rc;
}

static int pkg_verify_cmd(int argc, char **argv, trust_opts *t) {
  const char *csar = NULL;
  pkg_policy pol;
  pkg_policy_default(&pol);
  for (int i = 2; i < argc; i++) {
    int taken = take_trust(t, argc, argv, &i);
    if (taken < 0) return CLI_ERROR;
    if (taken) continue;
    if (strcmp(argv[i], "--li") == 0) pol.li = true;
    else if (strcmp(argv[i], "--no-operator") == 0) pol.require_operator = false;
    else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc) {
      if (parse_time_arg(argv[++i], &pol.at)) return cli_fail("--at takes RFC 3339 or epoch seconds");
    } else if (argv[i][0] == '-' || csar) return usage();
    else csar = argv[i];
  }
  if (!csar) return usage();
  if (!t->any_anchor) return cli_fail("pkg verify needs --vendor-ca (and --operator-ca, --li-admin-ca)");
  lisec_err err = {0};
  pkg_result *r = NULL;
  int rc = verify_csar(csar, t->trust, &pol, &r, &err);
  if (rc) return refuse("verify", &err);
  emit_result(r, "accepted");
  pkg_result_free(r);
  return CLI_OK;
}

static int pkg_inspect_cmd(int argc, char **argv) {
  if (argc != 3 || argv[2][0] == '-') return usage();
  pkg_limits lim;
  pkg_limits_default(&lim);
  lisec_err err = {0};
  pkg_zip *z = NULL;
  pkg_result *r = NULL;
  int rc = open_csar(argv[2], &lim, &z, &err);
  if (!rc) rc = pkg_inspect(pkg_zip_source(z), &lim, &r, &err);
  pkg_zip_close(z);
  if (rc) return refuse("inspect", &err);
  emit_result(r, "unverified");
  pkg_result_free(r);
  return CLI_OK;
}

/* ---- countersign -------------------------------------------------------- */

static bool label_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 32) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) return false;
  return true;
}

static int copy_file(const char *from, const char *to, lisec_err *err) {
  int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0) return lisec_err_set(err, LISEC_EIO, "cannot open %s: %s", from, strerror(errno));
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    close(in);
    return lisec_err_set(err, LISEC_EIO, "cannot create %s: %s", to, strerror(errno));
  }
  char *buf = malloc(1u << 20);
  int rc = buf ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  while (!rc) {
    ssize_t n = read(in, buf, 1u << 20);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) rc = lisec_err_set(err, LISEC_EIO, "reading %s: %s", from, strerror(errno));
    if (n <= 0) break;
    for (ssize_t off = 0; off < n && !rc;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) rc = lisec_err_set(err, LISEC_EIO, "writing %s: %s", to, strerror(errno));
      else off += w;
    }
  }
  free(buf);
  close(in);
  if (close(out) != 0 && !rc) rc = lisec_err_set(err, LISEC_EIO, "writing %s", to);
  if (rc) unlink(to);
  return rc;
}

static int pkg_countersign(int argc, char **argv, trust_opts *t) {
  const char *in = NULL, *out = NULL, *label = NULL, *chain_path = NULL;
  for (int i = 2; i < argc; i++) {
    int taken = take_trust(t, argc, argv, &i);
    if (taken < 0) return CLI_ERROR;
    if (taken) continue;
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out = argv[++i];
    else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc) label = argv[++i];
    else if (strcmp(argv[i], "--chain") == 0 && i + 1 < argc) chain_path = argv[++i];
    else if (argv[i][0] == '-' || in) return usage();
    else in = argv[i];
  }
  if (!in || !out || !label) return usage();
  if (!label_ok(label)) return cli_fail("--label is 1-32 of a-z 0-9 -");
  if (!t->any_anchor) return cli_fail("pkg countersign verifies first: it needs --vendor-ca");
  lisec_err err = {0};
  pkg_policy pol;
  pkg_policy_default(&pol);
  pol.require_operator = false; /* what is being added may be that countersignature, */
  pol.require_li_admin = false; /* or the LI administration's on an LI VNF */
  char member[64];
  snprintf(member, sizeof member, "%s%s.cms", PKG_COUNTERSIG_DIR, label);
  EVP_PKEY *key = NULL;
  X509 *cert = NULL;
  STACK_OF(X509) *chain = NULL;
  pkg_zip *z = NULL;
  pkg_result *r = NULL;
  uint8_t *mf = NULL;
  size_t mf_len = 0, sig_len = 0;
  char *sig = NULL;
  zip_t *za = NULL;
  /* IN is read once, into OUT, and what is verified, signed and extended
   * is that copy, which only this process writes: IN may be in a place
   * others can write to (a vendor's drop directory), and a package
   * replaced or rewritten after its verification must not be what the
   * countersignature vouches for. */
  int rc = copy_file(in, out, &err);
  if (rc) return cli_fail("pkg countersign: %s", err.msg);
  rc = open_csar(out, &pol.limits, &z, &err);
  if (!rc) rc = pkg_verify(pkg_zip_source(z), t->trust, &pol, &r, &err);
  if (rc) {
    pkg_zip_close(z);
    unlink(out);
    lisec_err_wrap(&err, "%s does not verify, so it is not countersigned", in);
    return refuse("countersign", &err);
  }
  rc = load_signer(&key, &cert, &chain, chain_path, &err);
  if (rc) goto done;
  if (pkg_source_find(pkg_zip_source(z), member) >= 0) {
    rc = lisec_err_set(&err, LISEC_ECONFLICT, "%s has %s already", in, member);
    goto done;
  }
  long idx = pkg_source_find(pkg_zip_source(z), r->manifest_path);
  if ((rc = pkg_source_read_all(pkg_zip_source(z), (size_t)idx, PKG_MANIFEST_MAX, &mf, &mf_len, &err)))
    goto done;
  /* The whole manifest file, vendor signature included. */
  if ((rc = pkg_cms_sign(key, cert, chain, mf, mf_len, &sig, &sig_len, &err))) goto done;
  pkg_zip_close(z);
  z = NULL;
  int zerr = 0;
  za = zip_open(out, 0, &zerr);
  zip_source_t *src = za ? zip_source_buffer(za, sig, sig_len, 0) : NULL;
  if (!src) {
    rc = lisec_err_set(&err, LISEC_EIO, "cannot update %s", out);
  } else if (!(rc = zip_add_regular(za, member, src, false, &err))) {
    if (zip_close(za) != 0) rc = lisec_err_set(&err, LISEC_EIO, "writing %s: %s", out, zip_strerror(za));
    else za = NULL;
  }
done:
  if (za) zip_discard(za);
  if (rc) unlink(out);
  pkg_zip_close(z);
  pkg_result_free(r);
  free(mf);
  free(sig);
  EVP_PKEY_free(key);
  X509_free(cert);
  sk_X509_pop_free(chain, X509_free);
  if (rc) return cli_fail("pkg countersign: %s", err.msg);
  if (cli.json) {
    json_t *o = json_pack("{s:s, s:s}", "csar", out, "countersignature", member);
    cli_print_json(o);
    json_decref(o);
  } else {
    printf("%s: %s added\n", out, member);
  }
  return CLI_OK;
}

/* ---- against lisecd ----------------------------------------------------- */

#define ONLINE_CSAR_MAX (48u << 20) /* what [pkg] max_package can admit at most */

static int online_reply(long status, json_t *reply, void (*human)(const json_t *)) {
  int rc = status >= 200 && status < 300 ? CLI_OK : cli_http_error(status, reply);
  if (rc == CLI_OK) cli_print(reply, human);
  json_decref(reply);
  return rc;
}

static void print_package(const json_t *p) {
  const json_t *r = json_object_get(p, "record");
  printf("%s: %s %s %s, owner %s%s, sha256 %s\n", cli_str(p, "id"), cli_str(r, "provider_id"),
         cli_str(r, "product_name"), cli_str(r, "package_version"), cli_str(r, "owner"),
         json_is_true(json_object_get(p, "li")) ? ", LI VNF" : "", cli_str(p, "sha256"));
  if (json_is_true(json_object_get(p, "retired"))) printf("  retired: no VM of it is instantiated\n");
  if (json_is_string(json_object_get(p, "revoked"))) printf("  NOT compliant: %s\n", cli_str(p, "revoked"));
  if (json_is_string(json_object_get(p, "artifact_signers"))) printf("  %s\n", cli_str(p, "artifact_signers"));
}

static void print_list(const json_t *v) {
  size_t i;
  const json_t *p;
  json_array_foreach(json_object_get(v, "packages"), i, p) {
    printf("%-24s %s %s %s owner %s%s%s%s%s\n", cli_str(p, "id"), cli_str(p, "provider_id"),
           cli_str(p, "product_name"), cli_str(p, "package_version"), cli_str(p, "owner"),
           json_is_true(json_object_get(p, "li")) ? " [LI]" : "",
           json_is_true(json_object_get(p, "retired")) ? " [retired]" : "",
           json_is_false(json_object_get(p, "compliant")) ? " [NOT compliant: a signer is revoked]" : "",
           json_is_string(json_object_get(p, "artifact_signers")) ? " [artifact signers not kept]" : "");
  }
}

static void print_report(const json_t *v) {
  printf("%s: %s\n", json_is_true(json_object_get(v, "compliant")) ? "compliant" : "NOT compliant",
         cli_str(v, "reason"));
}

static int pkg_upload(int argc, char **argv, bool replace) {
  const char *file = NULL, *id = NULL;
  bool li = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--id") == 0 && i + 1 < argc) id = argv[++i];
    else if (strcmp(argv[i], "--li") == 0) li = true;
    else if (argv[i][0] == '-' || file) return usage();
    else file = argv[i];
  }
  if (!file || !id || strlen(id) > 128 || strpbrk(id, "/?#%")) return usage();
  lisec_err err = {0};
  uint8_t *data = NULL;
  size_t len = 0;
  char *b64 = NULL;
  if (lisec_file_read(file, ONLINE_CSAR_MAX, &data, &len, &err)) return cli_fail("pkg: %s", err.msg);
  int rc = crypto_base64_encode(data, len, &b64);
  free(data);
  if (rc) return cli_fail("out of memory");
  json_t *body = replace ? json_pack("{s:b, s:s}", "li", li, "csar", b64)
                         : json_pack("{s:s, s:b, s:s}", "id", id, "li", li, "csar", b64);
  free(b64);
  char path[CLI_ID_PATH_MAX + 32], eid[CLI_ID_PATH_MAX];
  if (replace && cli_path_id(id, eid, sizeof eid)) {
    json_decref(body);
    return CLI_ERROR;
  }
  snprintf(path, sizeof path, "/v1/packages%s%s", replace ? "/" : "", replace ? eid : "");
  long status = 0;
  json_t *reply = NULL;
  rc = body ? cli_http_request(replace ? "PUT" : "POST", path, body, &status, &reply, &err)
            : lisec_err_set(&err, LISEC_ENOMEM, "out of memory");
  json_decref(body);
  if (rc) return cli_fail("pkg: %s", err.msg);
  return online_reply(status, reply, print_package);
}

#define ONLINE_CRL_MAX (32u << 20) /* what [pkg] max_crl can admit at most */

static void print_retired(const json_t *v) {
  printf("%s: version %s retired at %s%s\n", cli_str(v, "scoped_id"), cli_str(v, "version"),
         cli_str(v, "retired_at"), json_is_true(json_object_get(v, "current")) ?
         " (the current version: no VM of it is instantiated until a newer one replaces it)" : "");
}

static void print_crl(const json_t *c) {
  printf("%s: %lld revoked, number %s, next update %lld\n", cli_str(c, "issuer"),
         (long long)json_integer_value(json_object_get(c, "revoked")), cli_str(c, "number"),
         (long long)json_integer_value(json_object_get(c, "next_update")));
  size_t i;
  const json_t *p;
  json_array_foreach(json_object_get(c, "revoked_packages"), i, p)
    printf("  package %s: a signer is revoked, not compliant\n", json_string_value(p));
}

static void print_crls(const json_t *v) {
  size_t i;
  const json_t *c;
  json_array_foreach(json_object_get(v, "crls"), i, c) print_crl(c);
}

/* The CRL's bytes as the API takes them: PEM as it is, DER in base64. */
static json_t *crl_body(const char *file, lisec_err *err) {
  uint8_t *data = NULL;
  size_t len = 0;
  if (lisec_file_read(file, ONLINE_CRL_MAX, &data, &len, err)) return NULL;
  json_t *body = NULL;
  if (len >= 10 && memcmp(data, "-----BEGIN", 10) == 0) {
    body = json_pack("{s:s%}", "crl", (const char *)data, len);
  } else {
    char *b64 = NULL;
    if (!crypto_base64_encode(data, len, &b64)) body = json_pack("{s:s}", "crl", b64);
    free(b64);
  }
  free(data);
  if (!body) lisec_err_set(err, LISEC_EINVAL, "%s: not a CRL this command can send", file);
  return body;
}

static int pkg_online(int argc, char **argv) {
  const char *sub = argv[1];
  char path[CLI_ID_PATH_MAX + 32], eid[CLI_ID_PATH_MAX];
  lisec_err err = {0};
  long status = 0;
  json_t *reply = NULL, *body = NULL;
  const char *method = "GET";
  void (*human)(const json_t *) = NULL;
  if (strcmp(sub, "onboard") == 0 || strcmp(sub, "replace") == 0)
    return pkg_upload(argc, argv, strcmp(sub, "replace") == 0);
  if (strcmp(sub, "list") == 0) {
    if (argc != 2) return usage();
    snprintf(path, sizeof path, "/v1/packages");
    human = print_list;
  } else if (strcmp(sub, "show") == 0) {
    if (argc != 3) return usage();
    if (cli_path_id(argv[2], eid, sizeof eid)) return CLI_ERROR;
    snprintf(path, sizeof path, "/v1/packages/%s", eid);
    human = print_package;
  } else if (strcmp(sub, "retire") == 0) {
    const char *id = NULL, *version = NULL, *reason = NULL;
    for (int i = 2; i < argc; i++) {
      if (strcmp(argv[i], "--version") == 0 && i + 1 < argc) version = argv[++i];
      else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) reason = argv[++i];
      else if (argv[i][0] == '-' || id) return usage();
      else id = argv[i];
    }
    if (!id || !version) return usage();
    if (cli_path_id(id, eid, sizeof eid)) return CLI_ERROR;
    snprintf(path, sizeof path, "/v1/packages/%s/retire", eid);
    body = json_pack("{s:s, s:s?}", "version", version, "reason", reason);
    method = "POST";
    human = print_retired;
  } else if (strcmp(sub, "crl") == 0) {
    snprintf(path, sizeof path, "/v1/packages/vendors/crl");
    if (argc == 3 && strcmp(argv[2], "list") == 0) {
      human = print_crls;
    } else if (argc == 4 && strcmp(argv[2], "load") == 0) {
      if (!(body = crl_body(argv[3], &err))) return cli_fail("pkg: %s", err.msg);
      method = "PUT";
      human = print_crl;
    } else {
      return usage();
    }
  } else {
    const char *id = NULL, *vm = NULL, *digest = NULL, *event = NULL;
    for (int i = 2; i < argc; i++) {
      if (strcmp(argv[i], "--vm") == 0 && i + 1 < argc) vm = argv[++i];
      else if (strcmp(argv[i], "--digest") == 0 && i + 1 < argc) digest = argv[++i];
      else if (strcmp(argv[i], "--event") == 0 && i + 1 < argc) event = argv[++i];
      else if (argv[i][0] == '-' || id) return usage();
      else id = argv[i];
    }
    if (!id || !vm || !digest || !event) return usage();
    if (cli_path_id(id, eid, sizeof eid)) return CLI_ERROR;
    snprintf(path, sizeof path, "/v1/packages/%s/image-reports", eid);
    body = json_pack("{s:s, s:s, s:s}", "vm", vm, "digest", digest, "event", event);
    method = "POST";
    human = print_report;
  }
  int rc = cli_http_request(method, path, body, &status, &reply, &err);
  json_decref(body);
  if (rc) return cli_fail("pkg: %s", err.msg);
  bool noncompliant = status == 200 && human == print_report && json_is_false(json_object_get(reply, "compliant"));
  rc = online_reply(status, reply, human);
  return rc == CLI_OK && noncompliant ? CLI_REFUSED : rc;
}

/* ---- dispatch ----------------------------------------------------------- */

int cli_cmd_pkg(int argc, char **argv) {
  if (argc < 2) return usage();
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    puts(pkg_usage_text);
    return CLI_OK;
  }
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0) {
      puts(pkg_usage_text);
      return CLI_OK;
    }
  if (strcmp(argv[1], "inspect") == 0) return pkg_inspect_cmd(argc, argv);
  if (strcmp(argv[1], "onboard") == 0 || strcmp(argv[1], "replace") == 0 ||
      strcmp(argv[1], "list") == 0 || strcmp(argv[1], "show") == 0 ||
      strcmp(argv[1], "image-report") == 0 || strcmp(argv[1], "retire") == 0 ||
      strcmp(argv[1], "crl") == 0)
    return pkg_online(argc, argv);
  if (strcmp(argv[1], "sign") == 0) {
    sign_opts o = {0};
    for (int i = 2; i < argc; i++) {
      if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) o.out = argv[++i];
      else if (strcmp(argv[i], "--chain") == 0 && i + 1 < argc) o.chain = argv[++i];
      else if (strcmp(argv[i], "--meta") == 0 && i + 1 < argc) {
        if (o.n_meta == PKG_METADATA_MAX) return cli_fail("too many --meta");
        o.meta[o.n_meta++] = argv[++i];
      } else if (strcmp(argv[i], "--li") == 0) o.li = true;
      else if (strcmp(argv[i], "--force") == 0) o.force = true;
      else if (argv[i][0] == '-' || o.dir) return usage();
      else o.dir = argv[i];
    }
    if (!o.dir || !o.out) return usage();
    return pkg_sign(&o);
  }
  trust_opts t = {0};
  lisec_err err = {0};
  if (pkg_trust_new(&t.trust, &err)) return cli_fail("%s", err.msg);
  int rc;
  if (strcmp(argv[1], "verify") == 0) rc = pkg_verify_cmd(argc, argv, &t);
  else if (strcmp(argv[1], "countersign") == 0) rc = pkg_countersign(argc, argv, &t);
  else rc = usage();
  pkg_trust_free(t.trust);
  return rc;
}
