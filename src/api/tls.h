/* The TLS material of lisecd's HTTPS server, apart from the server that uses
 * it: the server certificate chain, its private key, the client CA bundle
 * and the optional CRL of that CA ([tls] cert, key, client_ca, crl), read
 * as bytes and turned into an OpenSSL server context with every check a
 * rotation needs (the key matches the certificate, the certificate is
 * within its validity, each CRL is signed by a client CA and current). The
 * front reads the files itself at start, before its sandbox; on SIGHUP the
 * parent reads them and the front, which may then open no file, builds the
 * context from the bytes it is sent (wire.h, API_MSG_TLS), with the same
 * checks as at start. */
#ifndef LISEC_API_TLS_H
#define LISEC_API_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "api/api.h"
#include "base/base.h"

/* [tls] max_file_bytes: each of the four files at most this large. */
#define API_TLS_FILE_MAX_DEFAULT (1u << 20)
#define API_TLS_FILE_MIN 4096u
#define API_TLS_FILE_MAX_LIMIT (16u << 20)

/* The four files' bytes (PEM). Read by api_tls_material_read (owned,
 * wiped and freed by api_tls_material_free) or decoded from a message
 * (pointing into its payload, not owned). crl_len 0: no [tls] crl. */
typedef struct api_tls_material {
  const uint8_t *cert, *key, *ca, *crl;
  size_t cert_len, key_len, ca_len, crl_len;
  bool owned;
} api_tls_material;

/* What a built context serves, for the log line that says so. */
typedef struct api_tls_info {
  char serial[96];    /* the server certificate's serial, hex */
  long long not_after; /* its notAfter, Unix seconds */
  int n_ca;            /* client CA certificates */
  int n_crl;           /* CRLs (0: no revocation check) */
  int n_revoked;       /* certificates they revoke, summed */
} api_tls_info;

/* Reads the files (crl may be NULL): each a regular file of at most max
 * bytes. EIO or ETOOBIG naming the [tls] key and the path. */
int api_tls_material_read(const char *cert, const char *key, const char *ca, const char *crl,
                          size_t max, api_tls_material *m, lisec_err *err);
/* Wipes (the key) and frees what m owns; leaves m empty. */
void api_tls_material_free(api_tls_material *m);

/* A server context from m at time now: TLS 1.2 at least, the cipher suites
 * and groups of docs/operations.md "TLS", no resumption, the chain and key
 * (an encrypted key is refused, never prompted for), the client CAs as the
 * only trust anchors and, with CRLs, each client certificate checked
 * against its issuer's CRL. Refused, naming the [tls] key and why: a file
 * with no PEM object of its kind, a key that does not match the
 * certificate, a certificate expired or not yet valid at now, a CRL that
 * no client CA signed, expired (nextUpdate passed) or without nextUpdate.
 * The caller sets the verify mode and callbacks. info may be NULL. */
int api_tls_ctx_new(const api_tls_material *m, time_t now, SSL_CTX **out, api_tls_info *info,
                    lisec_err *err);

/* Builds a context from m and makes it the one new connections of srv get
 * (server.c); open connections keep the one they began with. On a refusal
 * srv keeps what it serves. */
int api_server_tls_reload(api_server *srv, const api_tls_material *m, api_tls_info *info, lisec_err *err);

/* For a verify callback that failed: one log line when the reason is
 * revocation or the CRL itself (revoked, no CRL for the issuer, CRL
 * expired), naming the certificate's serial and issuer and [tls] crl. */
void api_tls_log_crl_refusal(X509_STORE_CTX *ctx);

#endif
