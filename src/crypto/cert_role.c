/* The one lisec role a verified client certificate carries (cert_role.h):
 * every role claim in the place the configuration reads, which must agree;
 * then the other place, which must not name another role. A certificate
 * with no role, an unknown one or two different ones is refused (fail
 * closed). Moved here from api/roles.c so lisec-entropyd reads roles as
 * lisecd does. */
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "crypto/cert_role.h"

typedef struct claim {
  crypto_role_known_fn known, claims;
  char role[CRYPTO_ROLE_NAME_MAX];
} claim;

bool crypto_role_lisec_name(const char *name) {
  static const char *const names[] = {"operator", "li-admin", "hypervisor-admin", "host", "mano", "auditor",
                                      "metrics",  "vm",       "rd-admin",         "vnf"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(names); i++)
    if (strcmp(name, names[i]) == 0) return true;
  return strncmp(name, "tenant:", 7) == 0 && name[7];
}

/* Records one candidate role; two different ones make the certificate ambiguous. */
static int take_role(claim *c, const char *role, size_t len, lisec_err *err) {
  char buf[CRYPTO_ROLE_NAME_MAX];
  if (len == 0 || len >= sizeof buf)
    return lisec_err_set(err, LISEC_EAUTH, "client certificate role is empty or too long");
  memcpy(buf, role, len);
  buf[len] = '\0';
  if (memchr(role, '\0', len)) return lisec_err_set(err, LISEC_EAUTH, "client certificate role contains NUL");
  if (c->role[0] && strcmp(c->role, buf) != 0)
    return lisec_err_set(err, LISEC_EAUTH, "client certificate carries two roles (%s, %s)", c->role, buf);
  if (!c->known(buf)) return lisec_err_set(err, LISEC_EAUTH, "client certificate role \"%s\" is unknown", buf);
  memcpy(c->role, buf, len + 1);
  return 0;
}

static int roles_from_san(X509 *cert, claim *c, lisec_err *err) {
  GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  int rc = 0;
  for (int i = 0; names && rc == 0 && i < sk_GENERAL_NAME_num(names); i++) {
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != GEN_URI) continue;
    const char *uri = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
    int len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
    size_t plen = strlen(CRYPTO_ROLE_URI_PREFIX);
    if (len > (int)plen && strncmp(uri, CRYPTO_ROLE_URI_PREFIX, plen) == 0)
      rc = take_role(c, uri + plen, (size_t)len - plen, err);
  }
  GENERAL_NAMES_free(names);
  return rc;
}

static int roles_from_ou(X509 *cert, claim *c, lisec_err *err) {
  X509_NAME *name = X509_get_subject_name(cert);
  int rc = 0, idx = -1;
  while (rc == 0 && (idx = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, idx)) >= 0) {
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    rc = take_role(c, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), err);
  }
  return rc;
}

/* The place the configuration does not read must not name another role:
 * docs/api.md promises that a certificate naming two roles is refused, and a
 * CA that put OU=li-admin beside a SAN URI auditor issued it for one of
 * them, not both. In the OU only values that are roles the caller knows,
 * or that its claims names, count (an OU may name a department); every SAN
 * URI urn:lisec:role: is a role claim. */
static int other_place_agrees(X509 *cert, crypto_role_source src, const claim *c, const char *subject,
                              lisec_err *err) {
  claim other = {.known = c->known};
  lisec_err ignored = {0};
  if (src == CRYPTO_ROLE_FROM_OU) {
    if (roles_from_san(cert, &other, &ignored) != 0) /* unknown or two roles in the SAN */
      return lisec_err_set(err, LISEC_EAUTH,
                           "client certificate of %s: its SAN URI role is not usable (%s); OU and "
                           "SAN URI must name the same role",
                           subject, ignored.msg);
  } else {
    X509_NAME *name = X509_get_subject_name(cert);
    int idx = -1;
    while ((idx = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, idx)) >= 0) {
      ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
      char ou[CRYPTO_ROLE_NAME_MAX];
      int len = ASN1_STRING_length(s);
      if (len <= 0 || len >= (int)sizeof ou) continue;
      memcpy(ou, ASN1_STRING_get0_data(s), (size_t)len);
      ou[len] = '\0';
      if (strlen(ou) != (size_t)len || !(c->known(ou) || (c->claims && c->claims(ou)))) continue;
      if (strcmp(ou, c->role) != 0) {
        snprintf(other.role, sizeof other.role, "%s", ou);
        break;
      }
    }
  }
  if (other.role[0] && strcmp(other.role, c->role) != 0)
    return lisec_err_set(err, LISEC_EAUTH,
                         "client certificate of %s names role %s in its %s and %s in its %s; OU and "
                         "SAN URI must name the same role",
                         subject, c->role, src == CRYPTO_ROLE_FROM_OU ? "subject OU" : "SAN URI", other.role,
                         src == CRYPTO_ROLE_FROM_OU ? "SAN URI" : "subject OU");
  return 0;
}

int crypto_cert_role(X509 *cert, crypto_role_source src, crypto_role_known_fn known, crypto_role_known_fn claims,
                     const char *subject, char role[CRYPTO_ROLE_NAME_MAX], lisec_err *err) {
  claim c = {.known = known, .claims = claims};
  role[0] = '\0';
  if (!cert) return lisec_err_set(err, LISEC_EAUTH, "no client certificate");
  int rc = src == CRYPTO_ROLE_FROM_OU ? roles_from_ou(cert, &c, err) : roles_from_san(cert, &c, err);
  if (rc == 0 && !c.role[0])
    rc = lisec_err_set(err, LISEC_EAUTH, "client certificate of %s carries no lisec role (%s)", subject,
                       src == CRYPTO_ROLE_FROM_OU ? "subject OU" : "SAN URI " CRYPTO_ROLE_URI_PREFIX "<role>");
  if (rc == 0) rc = other_place_agrees(cert, src, &c, subject, err);
  if (rc == 0) memcpy(role, c.role, sizeof c.role);
  return rc;
}
