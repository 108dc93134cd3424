/* The one lisec role a verified client certificate carries, in a SAN URI
 * urn:lisec:role:<role> or in the subject OU, as the reader is told. Shared
 * by lisecd's front (api/roles.c, which maps the role to its RBAC) and
 * lisec-entropyd (which serves the role vnf alone), so both read a
 * certificate the same way. Which names are roles is the caller's: lisecd
 * knows its own, lisec-entropyd only vnf. Also the certificate's one
 * subject CN (crypto_cert_cn), which both read as the holder's name. */
#ifndef LISEC_CRYPTO_CERT_ROLE_H
#define LISEC_CRYPTO_CERT_ROLE_H

#include <openssl/x509.h>
#include <stdbool.h>

#include "base/base.h"

#define CRYPTO_ROLE_NAME_MAX 80
#define CRYPTO_ROLE_URI_PREFIX "urn:lisec:role:"

/* Where a certificate carries its role. */
typedef enum { CRYPTO_ROLE_FROM_SAN_URI, CRYPTO_ROLE_FROM_OU } crypto_role_source;

/* Whether name is a role the caller knows. */
typedef bool (*crypto_role_known_fn)(const char *name);

/* Reads the role from cert's configured place into role. EAUTH, naming
 * subject (what the message calls the certificate's holder), when it carries
 * no role, an empty or overlong one, one the caller does not know, two
 * different ones, or when the place not read names another role: every SAN
 * URI urn:lisec:role: is a role claim, and an OU is one when the caller
 * knows its value or claims says it is one (NULL: only known; an OU may
 * name a department). role is "" on error. */
int crypto_cert_role(X509 *cert, crypto_role_source src, crypto_role_known_fn known, crypto_role_known_fn claims,
                     const char *subject, char role[CRYPTO_ROLE_NAME_MAX], lisec_err *err);

/* Whether name is a role some lisec program serves (lisecd's roles,
 * tenant:<name>, lisec-entropyd's vnf): for a reader that serves fewer, an
 * OU naming one of these is still a role claim, not a department. */
bool crypto_role_lisec_name(const char *name);

/* The certificate's one subject CN, as UTF-8, in out (cap bytes with the
 * terminating NUL; cert_cn.c). ENOTFOUND when it has none; EAUTH when it
 * has more than one, an empty one, one holding a NUL byte, one that does
 * not convert, or one of cap bytes or more (never cut to fit). The message
 * never quotes the CN. out is "" on error. */
int crypto_cert_cn(X509 *cert, char *out, size_t cap, lisec_err *err);

#endif
