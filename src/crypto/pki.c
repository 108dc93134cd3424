/* The development PKI: ECDSA P-256 keys, random 128-bit serials, a CA with
 * pathlen 0, a server certificate for localhost and loopback addresses, and
 * client certificates whose role is in a SAN URI and in the subject OU. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "crypto/pki.h"

const pki_role pki_dev_roles[] = {
    {"operator", "operator"}, {"li-admin", "li-admin"}, {"hypervisor-admin", "hypervisor-admin"},
    {"host", "host"},         {"mano", "mano"},         {"auditor", "auditor"},
    {"tenant-example", "tenant:example"},
};
const size_t pki_dev_roles_len = LISEC_ARRAY_LEN(pki_dev_roles);

static int ossl_fail(lisec_err *err, const char *what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  return lisec_err_set(err, LISEC_ECRYPTO, "%s: %s", what,
                       e ? ERR_reason_error_string(e) : "OpenSSL error");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!ext) return 0;
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok;
}

/* A certificate for key, signed by ca_key (self-signed when ca is NULL). */
static X509 *make_cert(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const char *cn, const char *ou,
                       int days, const char *const exts[][2]) {
  X509 *c = X509_new();
  unsigned char serial[16];
  BIGNUM *bn = NULL;
  /* 128 random bits read as an unsigned magnitude: positive however the top
   * bit falls (DER then adds a leading zero octet), 17 octets at most. */
  int ok = c && RAND_bytes(serial, sizeof serial) == 1;
  ok = ok && (bn = BN_bin2bn(serial, sizeof serial, NULL)) != NULL &&
       BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) != NULL;
  BN_free(bn);
  ok = ok && X509_set_version(c, 2) && X509_gmtime_adj(X509_getm_notBefore(c), -300) &&
       X509_gmtime_adj(X509_getm_notAfter(c), (long)days * 86400) && X509_set_pubkey(c, key);
  X509_NAME *name = X509_get_subject_name(c);
  ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                        (const unsigned char *)"lisec development", -1, -1, 0);
  if (ou) ok = ok && X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8, (const unsigned char *)ou, -1, -1, 0);
  ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
  ok = ok && X509_set_issuer_name(c, ca ? X509_get_subject_name(ca) : name);
  for (size_t i = 0; ok && exts[i][0]; i++)
    ok = add_ext(c, ca ? ca : c, OBJ_sn2nid(exts[i][0]), exts[i][1]);
  ok = ok && X509_sign(c, ca_key ? ca_key : key, EVP_sha256()) > 0;
  if (!ok) {
    X509_free(c);
    return NULL;
  }
  return c;
}

static int write_pem(const char *dir, const char *stem, const char *ext, EVP_PKEY *key, X509 *cert,
                     lisec_err *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.%s", dir, stem, ext);
  BIO *b = BIO_new(BIO_s_mem());
  int ok = b && (key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
                     : PEM_write_bio_X509(b, cert));
  if (!ok) {
    BIO_free(b);
    return ossl_fail(err, "PEM encoding");
  }
  char *data = NULL;
  long n = BIO_get_mem_data(b, &data);
  int rc = lisec_file_write_atomic(path, data, (size_t)n, key ? 0600 : 0644, err);
  if (key) crypto_wipe(data, (size_t)n);
  BIO_free(b);
  return rc;
}

static int issue_to(const char *dir, X509 *ca, EVP_PKEY *ca_key, const char *stem, const char *cn,
                    const char *ou, int days, const char *const exts[][2], lisec_err *err) {
  EVP_PKEY *key = NULL;
  int rc = crypto_pkey_generate(false, &key, err);
  if (rc) return rc;
  X509 *c = make_cert(key, ca, ca_key, cn, ou, days, exts);
  if (!c) rc = ossl_fail(err, stem);
  if (!rc) rc = write_pem(dir, stem, "key", key, NULL, err);
  if (!rc) rc = write_pem(dir, stem, "crt", NULL, c, err);
  X509_free(c);
  EVP_PKEY_free(key);
  return rc;
}

static int client_cert(const char *dir, X509 *ca, EVP_PKEY *ca_key, const char *stem,
                       const char *role, const char *cn, int days, lisec_err *err) {
  char san[160];
  snprintf(san, sizeof san, "URI:urn:lisec:role:%s", role);
  const char *const exts[][2] = {{"basicConstraints", "critical,CA:FALSE"},
                                 {"keyUsage", "critical,digitalSignature"},
                                 {"extendedKeyUsage", "clientAuth"},
                                 {"subjectAltName", san},
                                 {"subjectKeyIdentifier", "hash"},
                                 {"authorityKeyIdentifier", "keyid"},
                                 {NULL, NULL}};
  return issue_to(dir, ca, ca_key, stem, cn, role, days, exts, err);
}

static bool dir_is_empty(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return true;
  struct dirent *e;
  bool empty = true;
  while (empty && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = false;
  closedir(d);
  return empty;
}

int pki_init(const char *dir, bool force, int days, lisec_err *err) {
  if (days < 1 || days > PKI_DAYS_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "validity must be 1-%d days", PKI_DAYS_MAX);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return lisec_err_set(err, LISEC_EIO, "cannot create %s: %s", dir, strerror(errno));
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return lisec_err_set(err, LISEC_EINVAL, "%s is not a directory", dir);
  if (!force && !dir_is_empty(dir))
    return lisec_err_set(err, LISEC_ECONFLICT, "%s is not empty (use --force to overwrite)", dir);
  EVP_PKEY *ca_key = NULL;
  int rc = crypto_pkey_generate(false, &ca_key, err);
  if (rc) return rc;
  const char *const ca_exts[][2] = {{"basicConstraints", "critical,CA:TRUE,pathlen:0"},
                                    {"keyUsage", "critical,keyCertSign,cRLSign"},
                                    {"subjectKeyIdentifier", "hash"},
                                    {NULL, NULL}};
  X509 *ca = make_cert(ca_key, NULL, NULL, "lisec development CA", NULL, days, ca_exts);
  if (!ca) rc = ossl_fail(err, "CA certificate");
  if (!rc) rc = write_pem(dir, "ca", "key", ca_key, NULL, err);
  if (!rc) rc = write_pem(dir, "ca", "crt", NULL, ca, err);
  const char *const server_exts[][2] = {
      {"basicConstraints", "critical,CA:FALSE"},
      {"keyUsage", "critical,digitalSignature"},
      {"extendedKeyUsage", "serverAuth"},
      {"subjectAltName", "DNS:localhost,IP:127.0.0.1,IP:::1"},
      {"subjectKeyIdentifier", "hash"},
      {"authorityKeyIdentifier", "keyid"},
      {NULL, NULL}};
  if (!rc) rc = issue_to(dir, ca, ca_key, "server", "localhost", NULL, days, server_exts, err);
  for (size_t i = 0; !rc && i < pki_dev_roles_len; i++) {
    char cn[96];
    snprintf(cn, sizeof cn, "%s-dev", pki_dev_roles[i].stem);
    rc = client_cert(dir, ca, ca_key, pki_dev_roles[i].stem, pki_dev_roles[i].role, cn, days, err);
  }
  if (!rc) {
    char path[4096];
    snprintf(path, sizeof path, "%s/README-DEVELOPMENT-ONLY.txt", dir);
    const char *text =
        "This PKI was made by `lisec pki init` for development and demonstration only.\n"
        "Its CA key sits in a plain file next to it. Never use it in production:\n"
        "use the operator's PKI and keep signing keys in an HSM.\n";
    rc = lisec_file_write_atomic(path, text, strlen(text), 0644, err);
  }
  X509_free(ca);
  EVP_PKEY_free(ca_key);
  return rc;
}

/* A role goes into an OpenSSL extension string ("URI:urn:lisec:role:<role>"),
 * where a comma would start another name: only a small alphabet passes. */
static bool role_ok(const char *role) {
  size_t n = strlen(role);
  if (n == 0 || n > PKI_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = role[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == ':' ||
          c == '.'))
      return false;
  }
  return true;
}

/* A file stem names DIR/<stem>.crt and .key: no path separators, no dots. */
static bool stem_ok(const char *stem) {
  size_t n = strlen(stem);
  if (n == 0 || n > PKI_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = stem[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

/* A common name: 1..64 bytes (X.520 ub-common-name), no control characters. */
static bool name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > PKI_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) return false;
  return true;
}

int pki_issue(const char *dir, const char *stem, const char *role, const char *name, int days,
              lisec_err *err) {
  if (!stem_ok(stem))
    return lisec_err_set(err, LISEC_EINVAL, "file name \"%s\" must be 1-%d of a-z 0-9 - _", stem,
                         PKI_NAME_MAX);
  if (!role_ok(role))
    return lisec_err_set(err, LISEC_EINVAL, "role \"%s\" must be 1-%d of a-z 0-9 - _ : .", role,
                         PKI_NAME_MAX);
  if (!name_ok(name))
    return lisec_err_set(err, LISEC_EINVAL, "name must be 1-%d bytes without control characters",
                         PKI_NAME_MAX);
  if (days < 1 || days > PKI_DAYS_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "validity must be 1-%d days", PKI_DAYS_MAX);
  char path[4096];
  /* Never overwrite: "ca" or "server" would replace the CA or lisecd's key. */
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s.%s", dir, stem, i ? "key" : "crt");
    if (access(path, F_OK) == 0)
      return lisec_err_set(err, LISEC_ECONFLICT, "%s exists already; remove it first", path);
  }
  X509 *ca = NULL;
  EVP_PKEY *ca_key = NULL;
  snprintf(path, sizeof path, "%s/ca.crt", dir);
  int rc = crypto_x509_load_pem(path, &ca, err);
  snprintf(path, sizeof path, "%s/ca.key", dir);
  if (!rc) rc = crypto_pkey_load_pem(path, true, &ca_key, err);
  if (!rc && X509_check_ca(ca) != 1)
    rc = lisec_err_set(err, LISEC_EINVAL, "%s/ca.crt is not a CA certificate", dir);
  if (!rc && X509_check_private_key(ca, ca_key) != 1) {
    ERR_clear_error();
    rc = lisec_err_set(err, LISEC_EINVAL, "%s/ca.key is not the key of %s/ca.crt", dir, dir);
  }
  if (!rc) rc = client_cert(dir, ca, ca_key, stem, role, name, days, err);
  X509_free(ca);
  EVP_PKEY_free(ca_key);
  return rc;
}
