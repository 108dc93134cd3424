/* From a verified client certificate to a principal: the subject CN and the
 * one role the certificate carries, in a SAN URI urn:lisec:role:<role> or in
 * the subject OU, as configured. A certificate with no role, an unknown role
 * or two different roles (also one in the OU and another in the SAN URI,
 * whichever the configuration reads) is not admitted anywhere, nor one not
 * issued for client authentication (fail closed). The principal also
 * carries the certificate's own identity (SHA-256, serial, issuer), which
 * the controller checks against the certificates it revoked. */
#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"

#define ROLE_URI_PREFIX "urn:lisec:role:"

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

/* Records one candidate role; two different ones make the certificate ambiguous. */
static int take_role(api_principal *p, const char *role, size_t len, lisec_err *err) {
  char buf[API_ROLE_NAME_MAX];
  if (len == 0 || len >= sizeof buf)
    return lisec_err_set(err, LISEC_EAUTH, "client certificate role is empty or too long");
  memcpy(buf, role, len);
  buf[len] = '\0';
  if (memchr(role, '\0', len)) return lisec_err_set(err, LISEC_EAUTH, "client certificate role contains NUL");
  if (p->role[0] && strcmp(p->role, buf) != 0)
    return lisec_err_set(err, LISEC_EAUTH, "client certificate carries two roles (%s, %s)",
                         p->role, buf);
  unsigned bit = api_role_bit(buf);
  if (!bit) return lisec_err_set(err, LISEC_EAUTH, "client certificate role \"%s\" is unknown", buf);
  memcpy(p->role, buf, len + 1);
  p->role_bit = bit;
  return 0;
}

static int roles_from_san(X509 *cert, api_principal *p, lisec_err *err) {
  GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  int rc = 0;
  for (int i = 0; names && rc == 0 && i < sk_GENERAL_NAME_num(names); i++) {
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != GEN_URI) continue;
    const char *uri = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
    int len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
    size_t plen = strlen(ROLE_URI_PREFIX);
    if (len > (int)plen && strncmp(uri, ROLE_URI_PREFIX, plen) == 0)
      rc = take_role(p, uri + plen, (size_t)len - plen, err);
  }
  GENERAL_NAMES_free(names);
  return rc;
}

static int roles_from_ou(X509 *cert, api_principal *p, lisec_err *err) {
  X509_NAME *name = X509_get_subject_name(cert);
  int rc = 0, idx = -1;
  while (rc == 0 && (idx = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, idx)) >= 0) {
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    rc = take_role(p, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), err);
  }
  return rc;
}

/* The place the configuration does not read must not name another role:
 * docs/api.md promises that a certificate naming two roles is refused, and a
 * CA that put OU=li-admin beside a SAN URI auditor issued it for one of
 * them, not both. In the OU only values that are lisec roles count (an OU
 * may name a department); every SAN URI urn:lisec:role: is a role claim. */
static int other_place_agrees(X509 *cert, api_role_source src, const api_principal *p,
                              lisec_err *err) {
  api_principal other = {0};
  lisec_err ignored = {0};
  if (src == API_ROLE_FROM_OU) {
    if (roles_from_san(cert, &other, &ignored) != 0) /* unknown or two roles in the SAN */
      return lisec_err_set(err, LISEC_EAUTH,
                           "client certificate of %s: its SAN URI role is not usable (%s); OU and "
                           "SAN URI must name the same role",
                           p->subject, ignored.msg);
  } else {
    X509_NAME *name = X509_get_subject_name(cert);
    int idx = -1;
    while ((idx = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, idx)) >= 0) {
      ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
      char ou[API_ROLE_NAME_MAX];
      int len = ASN1_STRING_length(s);
      if (len <= 0 || len >= (int)sizeof ou) continue;
      memcpy(ou, ASN1_STRING_get0_data(s), (size_t)len);
      ou[len] = '\0';
      if (strlen(ou) != (size_t)len || !api_role_bit(ou)) continue;
      if (strcmp(ou, p->role) != 0) {
        snprintf(other.role, sizeof other.role, "%s", ou);
        break;
      }
    }
  }
  if (other.role[0] && strcmp(other.role, p->role) != 0)
    return lisec_err_set(err, LISEC_EAUTH,
                         "client certificate of %s names role %s in its %s and %s in its %s; OU and "
                         "SAN URI must name the same role",
                         p->subject, p->role, src == API_ROLE_FROM_OU ? "subject OU" : "SAN URI",
                         other.role, src == API_ROLE_FROM_OU ? "SAN URI" : "subject OU");
  return 0;
}

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
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out->subject,
                                    sizeof out->subject);
  if (n <= 0) snprintf(out->subject, sizeof out->subject, "(no CN)");
  int rc = client_auth_eku(cert, out->subject, err);
  if (rc == 0)
    rc = src == API_ROLE_FROM_OU ? roles_from_ou(cert, out, err) : roles_from_san(cert, out, err);
  if (rc == 0 && !out->role[0])
    rc = lisec_err_set(err, LISEC_EAUTH, "client certificate of %s carries no lisec role (%s)",
                       out->subject,
                       src == API_ROLE_FROM_OU ? "subject OU" : "SAN URI " ROLE_URI_PREFIX "<role>");
  if (rc == 0) rc = other_place_agrees(cert, src, out, err);
  if (rc == 0) rc = cert_identity(cert, out, err);
  if (rc) {
    char subject[API_SUBJECT_MAX];
    memcpy(subject, out->subject, sizeof subject);
    memset(out, 0, sizeof *out);
    memcpy(out->subject, subject, sizeof subject);
  }
  return rc;
}
