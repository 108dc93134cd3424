/* The X1 client of the ADMF: libcurl with lisec's one TLS client setup
 * (base/curl.h: TLS 1.2 or later, the NE's certificate verified against its
 * CA, the ADMF's certificate presented), the connection kept alive between
 * requests, replies bounded in size. lisecd's main initialises libcurl once
 * before any thread starts. The ADMF's private key never enters this
 * process (issue 16): the certificate is read here, and the handshake's
 * signature is made by the keys process (keys_x1_sign) through an EC or
 * RSA key whose private operations call it, installed into curl's SSL_CTX,
 * the way relayd's ca process signs for relay. */
/* EC_KEY_METHOD and RSA_METHOD are deprecated in OpenSSL 3 but are the one
 * provider-free way to give libssl a key whose signing happens elsewhere;
 * only this file uses them. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <curl/curl.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/curl.h"
#include "crypto/crypto.h"
#include "ctl/x1_admf.h"
#include "keys/wire.h"

struct ctl_x1_client {
  CURL *curl;
  struct curl_slist *headers;
  lisec_buf reply;
  char *cert;    /* the certificate (chain) file, read for each new connection */
  EVP_PKEY *key; /* its public key, signing through the keys process */
  bool timed_out; /* the last exchange got no answer in time */
};

/* Where an EC key of ours signs: the keys process and the key's path. */
typedef struct remote_key {
  keys_client *keys;
  char path[KEYS_PATH_MAX + 1];
} remote_key;

/* The signing method and the EC_KEY slot of its remote_key: made once for
 * the process and never changed after, so every thread may read them. */
static pthread_once_t remote_once = PTHREAD_ONCE_INIT;
static EC_KEY_METHOD *remote_method;
static int remote_index = -1;
static RSA_METHOD *remote_rsa_method;
static int remote_rsa_index = -1;

static int remote_sign_der(const unsigned char *dgst, int dlen, EC_KEY *ec, uint8_t *sig, size_t *n) {
  const remote_key *r = EC_KEY_get_ex_data(ec, remote_index);
  lisec_err err = {0};
  if (!r || dlen <= 0) return 0;
  if (keys_x1_sign(r->keys, r->path, dgst, (size_t)dlen, sig, KEYS_X1_SIG_MAX, n, &err)) {
    /* libssl only learns that signing failed: say why here */
    LOG_WARN("X1 client TLS: the keys process did not sign the handshake: %s", err.msg);
    return 0;
  }
  return 1;
}

/* ECDSA_sign's way (a DER signature), which libssl's EVP_DigestSign takes. */
static int remote_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sig, unsigned int *siglen,
                       const BIGNUM *kinv, const BIGNUM *r, EC_KEY *ec) {
  (void)type, (void)kinv, (void)r;
  uint8_t der[KEYS_X1_SIG_MAX];
  size_t n = 0;
  if (!remote_sign_der(dgst, dlen, ec, der, &n) || n > (size_t)ECDSA_size(ec)) return 0;
  memcpy(sig, der, n);
  *siglen = (unsigned int)n;
  return 1;
}

/* ECDSA_do_sign's way (r and s). */
static ECDSA_SIG *remote_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv, const BIGNUM *r,
                                  EC_KEY *ec) {
  (void)kinv, (void)r;
  uint8_t der[KEYS_X1_SIG_MAX];
  size_t n = 0;
  if (!remote_sign_der(dgst, dlen, ec, der, &n)) return NULL;
  const unsigned char *p = der;
  return d2i_ECDSA_SIG(NULL, &p, (long)n);
}

static void remote_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
  (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
  free(ptr);
}

/* RSA's private operation as libssl asks for it: PKCS#1 v1.5 padding over
 * a DigestInfo (RSA_sign's way) or no padding over a PSS block it encoded
 * (RSA-PSS, TLS 1.3); the keys process pads, or checks the block, and
 * signs. Anything else (decryption) is refused. */
static int remote_rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to, RSA *rsa, int padding) {
  const remote_key *r = RSA_get_ex_data(rsa, remote_rsa_index);
  unsigned alg = padding == RSA_PKCS1_PADDING ? KEYS_X1_RSA_PKCS1 : padding == RSA_NO_PADDING ? KEYS_X1_RSA_PSS : 0;
  uint8_t sig[KEYS_X1_SIG_MAX];
  size_t n = 0;
  lisec_err err = {0};
  if (!r || !alg || flen <= 0) return -1;
  if (keys_x1_sign_alg(r->keys, r->path, alg, from, (size_t)flen, sig, sizeof sig, &n, &err)) {
    LOG_WARN("X1 client TLS: the keys process did not sign the handshake: %s", err.msg);
    return -1;
  }
  if (n != (size_t)RSA_size(rsa)) return -1;
  memcpy(to, sig, n);
  return (int)n;
}

static void remote_init(void) {
  remote_index = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, remote_free);
  remote_method = EC_KEY_METHOD_new(EC_KEY_get_default_method());
  if (remote_method) EC_KEY_METHOD_set_sign(remote_method, remote_sign, NULL, remote_sign_sig);
  remote_rsa_index = RSA_get_ex_new_index(0, NULL, NULL, NULL, remote_free);
  remote_rsa_method = RSA_meth_dup(RSA_PKCS1_OpenSSL());
  if (remote_rsa_method &&
      (RSA_meth_set1_name(remote_rsa_method, "lisec keys process") != 1 ||
       RSA_meth_set_priv_enc(remote_rsa_method, remote_rsa_priv_enc) != 1 ||
       RSA_meth_set_priv_dec(remote_rsa_method, NULL) != 1)) {
    RSA_meth_free(remote_rsa_method);
    remote_rsa_method = NULL;
  }
}

/* An RSA certificate's public key as a key whose private operation the
 * keys process makes (remote_rsa_priv_enc). */
static int remote_rsa_make(const ctl_x1_peer *peer, EVP_PKEY *pub, EVP_PKEY **out, lisec_err *err) {
  if (!remote_rsa_method || remote_rsa_index < 0) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  BIGNUM *n = NULL, *e = NULL;
  RSA *rsa = RSA_new();
  remote_key *r = calloc(1, sizeof *r);
  EVP_PKEY *pk = EVP_PKEY_new();
  int rc = 0;
  if (!rsa || !r || !pk || EVP_PKEY_get_bn_param(pub, "n", &n) != 1 || EVP_PKEY_get_bn_param(pub, "e", &e) != 1 ||
      RSA_set_method(rsa, remote_rsa_method) != 1 || RSA_set0_key(rsa, n, e, NULL) != 1)
    rc = lisec_err_set(err, LISEC_ECRYPTO, "X1 client certificate %.200s: cannot use its public key", peer->cert);
  else n = e = NULL; /* rsa's now */
  if (!rc) {
    r->keys = peer->keys;
    snprintf(r->path, sizeof r->path, "%s", peer->key);
    if (!RSA_set_ex_data(rsa, remote_rsa_index, r)) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    else r = NULL; /* rsa's now: freed with it */
  }
  if (!rc && !EVP_PKEY_assign_RSA(pk, rsa)) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  else if (!rc) rsa = NULL; /* pk's now */
  ERR_clear_error();
  BN_free(n);
  BN_free(e);
  free(r);
  RSA_free(rsa);
  if (rc) EVP_PKEY_free(pk);
  else *out = pk;
  return rc;
}

/* The certificate's public key as a key whose signatures the keys process
 * makes with the private key at peer->key: an EC key (ECDSA) or an RSA key
 * (PKCS#1 v1.5 or PSS, whichever the handshake agrees). */
static int remote_key_make(const ctl_x1_peer *peer, EVP_PKEY **out, lisec_err *err) {
  pthread_once(&remote_once, remote_init);
  if (!remote_method || remote_index < 0) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (strlen(peer->key) > KEYS_PATH_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "X1 client key: a path of at most %d bytes", KEYS_PATH_MAX);
  FILE *f = fopen(peer->cert, "re");
  if (!f) return lisec_err_set(err, LISEC_EINVAL, "X1 client certificate %.200s: cannot read it", peer->cert);
  X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  EVP_PKEY *pub = x ? X509_get0_pubkey(x) : NULL;
  int rc = 0;
  if (!pub) rc = lisec_err_set(err, LISEC_EINVAL, "X1 client certificate %.200s: not a PEM certificate", peer->cert);
  else if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
    rc = remote_rsa_make(peer, pub, out, err);
    X509_free(x);
    return rc;
  } else if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC)
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "X1 client certificate %.200s: its key is %s; the X1 client key must be an EC key "
                       "(ECDSA, e.g. P-256) or an RSA key, which the keys process signs with (TR 103 308 5.7)",
                       peer->cert, OBJ_nid2sn(EVP_PKEY_get_base_id(pub)));
  EC_KEY *src = rc ? NULL : EVP_PKEY_get1_EC_KEY(pub), *ec = rc ? NULL : EC_KEY_new();
  remote_key *r = rc ? NULL : calloc(1, sizeof *r);
  EVP_PKEY *pk = rc ? NULL : EVP_PKEY_new();
  if (!rc && (!src || !ec || !r || !pk || !EC_KEY_set_method(ec, remote_method) ||
              !EC_KEY_set_group(ec, EC_KEY_get0_group(src)) ||
              !EC_KEY_set_public_key(ec, EC_KEY_get0_public_key(src))))
    rc = lisec_err_set(err, LISEC_ECRYPTO, "X1 client certificate %.200s: cannot use its public key", peer->cert);
  if (!rc) {
    r->keys = peer->keys;
    snprintf(r->path, sizeof r->path, "%s", peer->key);
    if (!EC_KEY_set_ex_data(ec, remote_index, r))
      rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    else r = NULL; /* ec's now: freed with it */
  }
  if (!rc && !EVP_PKEY_assign_EC_KEY(pk, ec)) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  else if (!rc) ec = NULL; /* pk's now */
  ERR_clear_error();
  free(r);
  EC_KEY_free(ec);
  EC_KEY_free(src);
  X509_free(x);
  if (rc) EVP_PKEY_free(pk);
  else *out = pk;
  return rc;
}

/* For each new connection: the certificate (chain) from its file and the
 * key that signs through the keys process. */
static CURLcode on_ssl_ctx(CURL *h, void *ssl_ctx, void *ud) {
  (void)h;
  const ctl_x1_client *c = ud;
  int ok = SSL_CTX_use_certificate_chain_file(ssl_ctx, c->cert) == 1 && SSL_CTX_use_PrivateKey(ssl_ctx, c->key) == 1;
  if (!ok) {
    unsigned long e = ERR_peek_last_error();
    char why[256];
    ERR_error_string_n(e, why, sizeof why);
    LOG_WARN("X1 client TLS: cannot use the certificate %.200s with its key: %s", c->cert, why);
    ERR_clear_error();
  }
  return ok ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  return lisec_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

int ctl_x1_client_open(const ctl_x1_peer *peer, ctl_x1_client **out, lisec_err *err) {
  bool cert = peer->cert && *peer->cert, key = peer->key && *peer->key;
  if (cert != key)
    return lisec_err_set(err, LISEC_EINVAL, "X1 client: a client certificate needs its key, and a key its certificate");
  if (key && !peer->keys)
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "X1 client: the client key is used only by the keys process, and there is none "
                         "(TR 103 308 5.7)");
  ctl_x1_client *c = calloc(1, sizeof *c);
  if (!c || !(c->curl = curl_easy_init())) {
    free(c);
    return lisec_err_set(err, LISEC_ENOMEM, "cannot start libcurl");
  }
  lisec_buf_init(&c->reply, X1_MESSAGE_MAX);
  c->headers = curl_slist_append(NULL, "Content-Type: application/xml");
  CURL *h = c->curl;
  curl_easy_setopt(h, CURLOPT_URL, peer->url);
  int rc = lisec_curl_tls_setup(h, peer->ca, NULL, NULL, err);
  if (!rc && cert && !(c->cert = strdup(peer->cert))) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (!rc && cert) rc = remote_key_make(peer, &c->key, err);
  if (!rc && cert &&
      (curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) != CURLE_OK ||
       curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, c) != CURLE_OK))
    rc = lisec_err_set(err, LISEC_EINVAL, "libcurl cannot install the client certificate (needs OpenSSL)");
  if (rc) {
    ctl_x1_client_close(c);
    return lisec_err_wrap(err, "X1 client"), rc;
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, peer->timeout_ms > 0 ? peer->timeout_ms : 10000L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   peer->connect_timeout_ms > 0 ? peer->connect_timeout_ms : 3000L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->reply);
  *out = c;
  return 0;
}

bool ctl_x1_client_timed_out(const ctl_x1_client *c) { return c && c->timed_out; }

void ctl_x1_client_close(ctl_x1_client *c) {
  if (!c) return;
  curl_easy_cleanup(c->curl);
  curl_slist_free_all(c->headers);
  lisec_buf_free(&c->reply);
  EVP_PKEY_free(c->key);
  free(c->cert);
  free(c);
}

int ctl_x1_exchange(ctl_x1_client *c, const x1_request *req, x1_response *resp, lisec_err *err) {
  char *xml = NULL;
  size_t len = 0;
  int rc = x1_request_build(req, &xml, &len, err);
  if (rc) return rc;
  c->reply.len = 0;
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, xml);
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)len);
  CURLcode cc = curl_easy_perform(c->curl);
  c->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
  long status = 0;
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
  /* the request carries target identifiers: wipe it */
  crypto_wipe(xml, len);
  free(xml);
  if (cc != CURLE_OK)
    return lisec_err_set(err, LISEC_EUNAVAIL, "X1: network element unreachable: %s", curl_easy_strerror(cc));
  if (status != 200)
    return lisec_err_set(err, LISEC_EUNAVAIL, "X1: network element answered HTTP %ld", status);
  rc = x1_response_parse((const char *)c->reply.data, c->reply.len, resp, err);
  crypto_wipe(c->reply.data, c->reply.len);
  if (rc) return lisec_err_wrap(err, "X1 response");
  /* an answer to another transaction, in another version or of another
   * type is not this request's answer: not to be acted on */
  return x1_response_check(req, resp, err);
}
