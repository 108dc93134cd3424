/* The certificate a VNF proves itself with (TR 103 308 §5.15): issued by
 * the client CA for TLS client authentication, that is with clientAuth in
 * its extended key usage. OpenSSL's purpose check (sslclient) refuses a
 * certificate whose extended key usage leaves clientAuth out, but lets one
 * with no extended key usage through, as good for any purpose; the verify
 * callback refuses that one too. Whatever refuses a certificate, the
 * callback keeps the first reason on the connection (SSL app data, an
 * ED_WHY_MAX buffer the server hands in), so the server can log why the
 * handshake failed; the reason never names the certificate's subject, which
 * is read before its signature is checked. */
#include <openssl/x509v3.h>
#include <stdio.h>

#include "entropyd.h"

static void keep(X509_STORE_CTX *ctx, const char *reason) {
  SSL *s = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
  char *why = s ? SSL_get_app_data(s) : NULL;
  if (why && !why[0]) snprintf(why, ED_WHY_MAX, "%s", reason); /* the first reason only */
}

static int verify_client(int ok, X509_STORE_CTX *ctx) {
  int depth = X509_STORE_CTX_get_error_depth(ctx);
  X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
  uint32_t flags = cert ? X509_get_extension_flags(cert) : 0;
  bool has_eku = (flags & EXFLAG_XKUSAGE) != 0;
  bool client_eku = has_eku && (X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT);
  if (ok && depth == 0 && !client_eku) {
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_INVALID_PURPOSE);
    ok = 0;
  }
  if (ok) return ok;
  int e = X509_STORE_CTX_get_error(ctx);
  char reason[ED_WHY_MAX];
  snprintf(reason, sizeof reason, "%s", X509_verify_cert_error_string(e));
  if (e == X509_V_ERR_INVALID_PURPOSE && depth > 0)
    snprintf(reason, sizeof reason,
             "the CA certificate at depth %d is not valid for TLS client authentication", depth);
  else if (e == X509_V_ERR_INVALID_PURPOSE && !has_eku)
    snprintf(reason, sizeof reason, "no extended key usage; clientAuth is required");
  else if (e == X509_V_ERR_INVALID_PURPOSE && !client_eku)
    snprintf(reason, sizeof reason, "extended key usage lacks clientAuth");
  else if (e == X509_V_ERR_INVALID_PURPOSE && (flags & EXFLAG_KUSAGE) &&
           !(X509_get_key_usage(cert) & (KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT)))
    snprintf(reason, sizeof reason, "key usage does not allow TLS client authentication");
  keep(ctx, reason);
  return 0;
}

void ed_tls_require_client_auth(SSL_CTX *c) {
  SSL_CTX_set_purpose(c, X509_PURPOSE_SSL_CLIENT);
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_client);
}
