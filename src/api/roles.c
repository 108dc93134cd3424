/* From a verified client certificate to a principal: the subject CN and the
 * one role the certificate carries, in a SAN URI urn:lisec:role:<role> or in
 * the subject OU, as configured. A certificate with no role, an unknown role
 * or two different roles (also one in the OU and another in the SAN URI,
 * whichever the configuration reads) is not admitted anywhere, nor one not
 * issued for client authentication (fail closed). The principal also
 * carries the certificate's own identity (SHA-256, serial, issuer), which
 * the controller checks against the certificates it revoked. The reading of
 * the role itself is crypto/cert_role.c's, shared with lisec-entropyd. */
#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "crypto/cert_role.h"

static const struct {
  const char *name;
  unsigned bit;
} role_names[] = {
    {"operator", API_ROLE_OPERATOR}, {"li-admin", API_ROLE_LI_ADMIN},
    {"hypervisor-admin", API_ROLE_HV_ADMIN}, {"host", API_ROLE_HOST},
    {"mano", API_ROLE_MANO}, {"auditor", API_ROLE_AUDITOR},
    /* Prometheus and the like: reads /metrics, nothing else (API_ROLE_METRICS). */
    {"metrics", API_ROLE_METRICS},
    /* an LI VM: its signed events (POST /v1/li/events), nothing else */
    {"vm", API_ROLE_VM},
    {"rd-admin", API_ROLE_RD_ADMIN},
};

static bool tenant_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 63) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

unsigned api_role_bit(const char *role) {
  for (size_t i = 0; i < LISEC_ARRAY_LEN(role_names); i++)
    if (strcmp(role, role_names[i].name) == 0) return role_names[i].bit;
  if (strncmp(role, "tenant:", 7) == 0 && tenant_name_ok(role + 7)) return API_ROLE_TENANT;
  return 0;
}

ctl_role api_role_kind(unsigned role_bit) {
  switch (role_bit) {
  case API_ROLE_OPERATOR: return CTL_ROLE_OPERATOR;
  case API_ROLE_LI_ADMIN: return CTL_ROLE_LI_ADMIN;
  case API_ROLE_HV_ADMIN: return CTL_ROLE_HV_ADMIN;
  case API_ROLE_HOST: return CTL_ROLE_HOST;
  case API_ROLE_MANO: return CTL_ROLE_MANO;
  case API_ROLE_AUDITOR: return CTL_ROLE_AUDITOR;
  case API_ROLE_TENANT: return CTL_ROLE_TENANT;
  case API_ROLE_VM: return CTL_ROLE_VM;
  case API_ROLE_RD_ADMIN: return CTL_ROLE_RD_ADMIN;
  default: return CTL_ROLE_NONE;
  }
}

void api_roles_describe(unsigned roles, char *out, size_t len) {
  size_t at = 0;
  out[0] = '\0';
  for (size_t i = 0; i < LISEC_ARRAY_LEN(role_names); i++) {
    if (!(roles & role_names[i].bit)) continue;
    at += (size_t)snprintf(out + at, at < len ? len - at : 0, "%s%s", at ? ", " : "",
                           role_names[i].name);
  }
  if (roles & API_ROLE_TENANT)
    snprintf(out + at, at < len ? len - at : 0, "%stenant:<name>", at ? ", " : "");
}

static bool role_known(const char *name) { return api_role_bit(name) != 0; }

_Static_assert(API_ROLE_NAME_MAX == CRYPTO_ROLE_NAME_MAX, "a principal's role holds any role read");

/* mTLS clients prove who they are with a certificate issued for that: an
 * extended key usage that includes clientAuth. A certificate without EKU
 * would otherwise be good for any purpose (a server's, a signer's). */
static int client_auth_eku(X509 *cert, const char *subject, lisec_err *err) {
  if (!(X509_get_extension_flags(cert) & EXFLAG_XKUSAGE))
    return lisec_err_set(err, LISEC_EAUTH,
                         "client certificate of %s has no extended key usage; clientAuth is required",
                         subject);
  if (!(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT))
    return lisec_err_set(err, LISEC_EAUTH,
                         "client certificate of %s is not issued for client authentication "
                         "(extended key usage lacks clientAuth)",
                         subject);
  return 0;
}

/* What identifies the certificate itself: its DER's SHA-256, serial and
 * issuer. A host's de-enrolment revokes certificates by these, and the
 * controller refuses a revoked one for the host role even while its CA
 * still trusts it (docs/attestation.md, "De-enrolment"). */
static int cert_identity(X509 *cert, api_principal *p, lisec_err *err) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != sizeof md)
    return lisec_err_set(err, LISEC_EAUTH, "client certificate of %s: cannot hash it", p->subject);
  for (unsigned i = 0; i < mdlen; i++) snprintf(p->cert_sha256 + 2 * i, 3, "%02x", md[i]);
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
  char *hex = bn ? BN_bn2hex(bn) : NULL;
  BN_free(bn);
  if (!hex || strlen(hex) >= sizeof p->cert_serial) {
    OPENSSL_free(hex);
    return lisec_err_set(err, LISEC_EAUTH, "client certificate of %s: serial number over 20 bytes",
                         p->subject);
  }
  snprintf(p->cert_serial, sizeof p->cert_serial, "%s", hex);
  OPENSSL_free(hex);
  BIO *b = BIO_new(BIO_s_mem());
  char *txt = NULL;
  long n = 0;
  if (b && X509_NAME_print_ex(b, X509_get_issuer_name(cert), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0)
    n = BIO_get_mem_data(b, &txt);
  if (n > 0) {
    size_t len = (size_t)n < sizeof p->cert_issuer ? (size_t)n : sizeof p->cert_issuer - 1;
    memcpy(p->cert_issuer, txt, len);
    p->cert_issuer[len] = '\0';
    /* printable ASCII only: it goes into replies, logs and the wire */
    for (char *c = p->cert_issuer; *c; c++)
      if (*c < 0x20 || *c > 0x7e) *c = '?';
  }
  BIO_free(b);
  return 0;
}

int api_principal_from_cert(X509 *cert, api_role_source src, api_principal *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (!cert) return lisec_err_set(err, LISEC_EAUTH, "no client certificate");
  /* One whole CN (crypto_cert_cn): two CNs, a NUL in it or one cut to fit
   * would let a certificate be taken for another principal. */
  int rc = crypto_cert_cn(cert, out->subject, sizeof out->subject, err);
  if (rc == LISEC_ENOTFOUND) {
    lisec_err_clear(err);
    rc = 0;
    snprintf(out->subject, sizeof out->subject, "(no CN)");
  } else if (rc) {
    snprintf(out->subject, sizeof out->subject, "(refused CN)");
    return lisec_err_wrap(err, "client certificate refused");
  }
  rc = client_auth_eku(cert, out->subject, err);
  if (rc == 0)
    rc = crypto_cert_role(cert, src == API_ROLE_FROM_OU ? CRYPTO_ROLE_FROM_OU : CRYPTO_ROLE_FROM_SAN_URI,
                          role_known, NULL, out->subject, out->role, err);
  if (rc == 0) out->role_bit = api_role_bit(out->role);
  if (rc == 0) rc = cert_identity(cert, out, err);
  if (rc) {
    char subject[API_SUBJECT_MAX];
    memcpy(subject, out->subject, sizeof subject);
    memset(out, 0, sizeof *out);
    memcpy(out->subject, subject, sizeof subject);
  }
  return rc;
}
