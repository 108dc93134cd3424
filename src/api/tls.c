/* lisecd's server TLS material (tls.h): reading the [tls] files as bounded
 * bytes, and building from bytes the server context the front serves new
 * connections with. Building is where a rotation is judged: lisecd keeps
 * what it serves unless the new certificate, key, client CAs and CRLs all
 * load and agree (TR 103 308 §5.3, O.1.8: mutual TLS stays in force
 * through a rotation, and a revoked client certificate stops working
 * without a restart). Every PEM file is parsed from memory, so the front
 * needs no file access for it. */
#include "api/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- reading the files --------------------------------------------------- */

/* One regular file of at most max bytes, read whole into one block of its
 * size (no copy left behind by growing a buffer: the key is a secret). */
static int read_one(const char *what, const char *path, size_t max, const uint8_t **out, size_t *len,
                    lisec_err *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return lisec_err_set(err, LISEC_EIO, "[tls] %s %s: cannot open: %s", what, path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return lisec_err_set(err, LISEC_EIO, "[tls] %s %s: not a regular file", what, path);
  }
  if ((uint64_t)st.st_size > max) {
    close(fd);
    return lisec_err_set(err, LISEC_ETOOBIG, "[tls] %s %s: %lld bytes, over [tls] max_file_bytes (%zu)", what,
                         path, (long long)st.st_size, max);
  }
  size_t cap = (size_t)st.st_size + 1, n = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) {
    close(fd);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  /* Read up to one byte past the size fstat gave: a file that grew since
   * (a rotation writing it in place) is caught, not cut. */
  for (;;) {
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      OPENSSL_cleanse(buf, cap);
      free(buf);
      return lisec_err_set(err, LISEC_EIO, "[tls] %s %s: cannot read: %s", what, path, strerror(e));
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n == cap) {
      close(fd);
      OPENSSL_cleanse(buf, cap);
      free(buf);
      return lisec_err_set(err, LISEC_EIO, "[tls] %s %s: changed while it was read; ask again", what, path);
    }
  }
  close(fd);
  if (n == 0) {
    free(buf);
    return lisec_err_set(err, LISEC_EINVAL, "[tls] %s %s: empty file", what, path);
  }
  *out = buf;
  *len = n;
  return 0;
}

int api_tls_material_read(const char *cert, const char *key, const char *ca, const char *crl,
                          size_t max, api_tls_material *m, lisec_err *err) {
  memset(m, 0, sizeof *m);
  m->owned = true;
  int rc = read_one("cert", cert, max, &m->cert, &m->cert_len, err);
  if (rc == 0) rc = read_one("key", key, max, &m->key, &m->key_len, err);
  if (rc == 0) rc = read_one("client_ca", ca, max, &m->ca, &m->ca_len, err);
  if (rc == 0 && crl) rc = read_one("crl", crl, max, &m->crl, &m->crl_len, err);
  if (rc) api_tls_material_free(m);
  return rc;
}

static void wipe_owned(const uint8_t *p, size_t n) {
  if (!p) return;
  OPENSSL_cleanse((void *)p, n);
  free((void *)p);
}

void api_tls_material_free(api_tls_material *m) {
  if (m->owned) {
    wipe_owned(m->cert, m->cert_len);
    wipe_owned(m->key, m->key_len);
    wipe_owned(m->ca, m->ca_len);
    wipe_owned(m->crl, m->crl_len);
  }
  memset(m, 0, sizeof *m);
}

/* ---- building a context --------------------------------------------------- */

/* An encrypted key is refused, never asked for on a terminal. */
static int no_password(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

static BIO *mem_bio(const uint8_t *p, size_t n) { return n <= INT32_MAX ? BIO_new_mem_buf(p, (int)n) : NULL; }

/* After a loop of PEM reads: true when it ended at the end of the input
 * (no further PEM block), false when a block was malformed. */
static bool pem_ended_cleanly(void) {
  unsigned long e = ERR_peek_last_error();
  bool clean = e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
  ERR_clear_error();
  return clean;
}

static void serial_hex(const X509 *x, char *out, size_t cap) {
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
  char *hex = bn ? BN_bn2hex(bn) : NULL;
  snprintf(out, cap, "%s", hex ? hex : "?");
  OPENSSL_free(hex);
  BN_free(bn);
}

/* notAfter as Unix seconds (0 when it cannot be read). */
static long long unix_time(const ASN1_TIME *t) {
  struct tm tm;
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return (long long)timegm(&tm);
}

static int load_chain(SSL_CTX *c, const api_tls_material *m, time_t now, api_tls_info *info, lisec_err *err) {
  BIO *b = mem_bio(m->cert, m->cert_len);
  if (!b) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  X509 *leaf = PEM_read_bio_X509(b, NULL, no_password, NULL);
  int rc = 0;
  if (!leaf) {
    rc = lisec_err_set(err, LISEC_EINVAL, "[tls] cert: no PEM certificate in it");
  } else if (X509_cmp_time(X509_get0_notAfter(leaf), &now) <= 0) {
    rc = lisec_err_set(err, LISEC_EINVAL, "[tls] cert: the server certificate has expired (or its notAfter "
                                          "cannot be read): clients would refuse it");
  } else if (X509_cmp_time(X509_get0_notBefore(leaf), &now) >= 0) {
    rc = lisec_err_set(err, LISEC_EINVAL, "[tls] cert: the server certificate is not valid yet (notBefore in "
                                          "the future)");
  } else if (SSL_CTX_use_certificate(c, leaf) != 1) {
    rc = lisec_err_set(err, LISEC_ECRYPTO, "[tls] cert: OpenSSL refused the server certificate");
  }
  if (rc == 0) {
    serial_hex(leaf, info->serial, sizeof info->serial);
    info->not_after = unix_time(X509_get0_notAfter(leaf));
    ERR_clear_error();
    X509 *x;
    while (rc == 0 && (x = PEM_read_bio_X509(b, NULL, no_password, NULL)) != NULL) {
      if (SSL_CTX_add1_chain_cert(c, x) != 1)
        rc = lisec_err_set(err, LISEC_ECRYPTO, "[tls] cert: OpenSSL refused a chain certificate");
      X509_free(x);
    }
    if (rc == 0 && !pem_ended_cleanly())
      rc = lisec_err_set(err, LISEC_EINVAL, "[tls] cert: a malformed PEM block after the first certificate");
  }
  X509_free(leaf);
  BIO_free(b);
  return rc;
}

static int load_key(SSL_CTX *c, const api_tls_material *m, lisec_err *err) {
  BIO *b = mem_bio(m->key, m->key_len);
  if (!b) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
  BIO_free(b);
  int rc = 0;
  if (!k)
    rc = lisec_err_set(err, LISEC_EINVAL, "[tls] key: no unencrypted PEM private key in it");
  else if (SSL_CTX_use_PrivateKey(c, k) != 1 || SSL_CTX_check_private_key(c) != 1)
    rc = lisec_err_set(err, LISEC_EINVAL, "[tls] key: the private key does not match the server certificate");
  EVP_PKEY_free(k);
  return rc;
}

/* The client CAs into the context's store (the only trust anchors) and its
 * list of acceptable issuers; cas keeps them for the CRLs' signatures. */
static int load_cas(SSL_CTX *c, const api_tls_material *m, STACK_OF(X509) *cas, api_tls_info *info,
                    lisec_err *err) {
  BIO *b = mem_bio(m->ca, m->ca_len);
  if (!b) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  X509_STORE *st = SSL_CTX_get_cert_store(c);
  X509 *x;
  int rc = 0;
  ERR_clear_error();
  while (rc == 0 && (x = PEM_read_bio_X509(b, NULL, no_password, NULL)) != NULL) {
    if (X509_STORE_add_cert(st, x) != 1 || SSL_CTX_add_client_CA(c, x) != 1 || !sk_X509_push(cas, x)) {
      X509_free(x);
      rc = lisec_err_set(err, LISEC_ECRYPTO, "[tls] client_ca: OpenSSL refused a CA certificate");
      break;
    }
    info->n_ca++;
  }
  BIO_free(b);
  if (rc == 0 && !pem_ended_cleanly())
    rc = lisec_err_set(err, LISEC_EINVAL, "[tls] client_ca: a malformed PEM block");
  if (rc == 0 && info->n_ca == 0) rc = lisec_err_set(err, LISEC_EINVAL, "[tls] client_ca: no PEM certificate in it");
  return rc;
}

/* The client CA that signed crl, or NULL. */
static X509 *crl_signer(X509_CRL *crl, STACK_OF(X509) *cas) {
  for (int i = 0; i < sk_X509_num(cas); i++) {
    X509 *ca = sk_X509_value(cas, i);
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0) continue;
    EVP_PKEY *pub = X509_get0_pubkey(ca);
    if (pub && X509_CRL_verify(crl, pub) == 1) return ca;
  }
  ERR_clear_error();
  return NULL;
}

static int load_crls(SSL_CTX *c, const api_tls_material *m, time_t now, STACK_OF(X509) *cas,
                     api_tls_info *info, lisec_err *err) {
  if (m->crl_len == 0) return 0;
  BIO *b = mem_bio(m->crl, m->crl_len);
  if (!b) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  X509_STORE *st = SSL_CTX_get_cert_store(c);
  X509_CRL *crl;
  int rc = 0;
  ERR_clear_error();
  while (rc == 0 && (crl = PEM_read_bio_X509_CRL(b, NULL, no_password, NULL)) != NULL) {
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl), *last = X509_CRL_get0_lastUpdate(crl);
    int n = info->n_crl + 1;
    if (!crl_signer(crl, cas))
      rc = lisec_err_set(err, LISEC_EINVAL, "[tls] crl: CRL %d is not signed by a certificate of [tls] client_ca", n);
    else if (!next)
      rc = lisec_err_set(err, LISEC_EINVAL, "[tls] crl: CRL %d has no nextUpdate, so it never expires", n);
    else if (X509_cmp_time(next, &now) <= 0)
      rc = lisec_err_set(err, LISEC_EINVAL, "[tls] crl: CRL %d has expired (nextUpdate passed): every client of "
                                            "its CA would be refused; fetch a current CRL", n);
    else if (!last || X509_cmp_time(last, &now) >= 0)
      rc = lisec_err_set(err, LISEC_EINVAL, "[tls] crl: CRL %d is not valid yet (lastUpdate in the future)", n);
    else if (X509_STORE_add_crl(st, crl) != 1)
      rc = lisec_err_set(err, LISEC_ECRYPTO, "[tls] crl: OpenSSL refused CRL %d", n);
    if (rc == 0) {
      STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
      info->n_revoked += rev ? sk_X509_REVOKED_num(rev) : 0;
      info->n_crl = n;
    }
    X509_CRL_free(crl);
  }
  BIO_free(b);
  if (rc == 0 && !pem_ended_cleanly()) rc = lisec_err_set(err, LISEC_EINVAL, "[tls] crl: a malformed PEM block");
  if (rc == 0 && info->n_crl == 0) rc = lisec_err_set(err, LISEC_EINVAL, "[tls] crl: no PEM CRL in it");
  /* Each client certificate against its issuer's CRL; a client whose CA
   * has no CRL here is refused (fail closed). */
  if (rc == 0) X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
  return rc;
}

int api_tls_ctx_new(const api_tls_material *m, time_t now, SSL_CTX **out, api_tls_info *info,
                    lisec_err *err) {
  api_tls_info local;
  if (!info) info = &local;
  memset(info, 0, sizeof *info);
  *out = NULL;
  if (!m->cert_len || !m->key_len || !m->ca_len)
    return lisec_err_set(err, LISEC_EINVAL, "[tls] cert, key and client_ca are required: lisecd only speaks mutual TLS");
  SSL_CTX *c = SSL_CTX_new(TLS_server_method());
  STACK_OF(X509) *cas = sk_X509_new_null();
  if (!c || !cas) {
    SSL_CTX_free(c);
    sk_X509_free(cas);
    return lisec_err_set(err, LISEC_ECRYPTO, "cannot create TLS context");
  }
  int rc = 0;
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  /* No resumption: every connection presents and proves its certificate. */
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                             SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(c, 0);
  /* TLS 1.2 only with forward secrecy and AEAD; 1.3 suites are all AEAD. */
  if (SSL_CTX_set_cipher_list(c, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL") != 1 ||
      SSL_CTX_set_ciphersuites(c, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
                                  "TLS_AES_128_GCM_SHA256") != 1 ||
      SSL_CTX_set1_groups_list(c, "X25519:P-256:P-384") != 1)
    rc = lisec_err_set(err, LISEC_ECRYPTO, "cannot set the TLS cipher suites and groups");
  if (rc == 0) rc = load_chain(c, m, now, info, err);
  if (rc == 0) rc = load_key(c, m, err);
  if (rc == 0) rc = load_cas(c, m, cas, info, err);
  if (rc == 0) rc = load_crls(c, m, now, cas, info, err);
  sk_X509_pop_free(cas, X509_free);
  ERR_clear_error();
  if (rc) {
    SSL_CTX_free(c);
    return rc;
  }
  SSL_CTX_set_verify_depth(c, 4);
  *out = c;
  return 0;
}

void api_tls_log_crl_refusal(X509_STORE_CTX *ctx) {
  int e = X509_STORE_CTX_get_error(ctx);
  if (e != X509_V_ERR_CERT_REVOKED && e != X509_V_ERR_UNABLE_TO_GET_CRL && e != X509_V_ERR_CRL_HAS_EXPIRED &&
      e != X509_V_ERR_CRL_NOT_YET_VALID && e != X509_V_ERR_CRL_SIGNATURE_FAILURE)
    return;
  X509 *x = X509_STORE_CTX_get_current_cert(ctx);
  char serial[96] = "?", issuer[256] = "?";
  if (x) {
    serial_hex(x, serial, sizeof serial);
    X509_NAME_oneline(X509_get_issuer_name(x), issuer, sizeof issuer);
  }
  LOG_LIMITED(LISEC_LOG_WARN, 20, 10000,
              "TLS client refused ([tls] crl, TR 103 308 O.1.8): certificate serial %s issued by %s: %s", serial,
              issuer, X509_verify_cert_error_string(e));
}
