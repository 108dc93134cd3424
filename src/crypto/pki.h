/* A development PKI made with the OpenSSL API: one CA, a server certificate
 * for lisecd and one client certificate per lisec role. It exists so a
 * newcomer can run lisec without an outside PKI; production uses the
 * operator's CA. Layout of DIR: ca.crt ca.key server.crt server.key and
 * <role>.crt <role>.key for every role in pki_dev_roles. */
#ifndef LISEC_PKI_H
#define LISEC_PKI_H

#include <stdbool.h>

#include "base/base.h"

/* File stem and role carried, e.g. {"tenant-example", "tenant:example"}. */
typedef struct pki_role {
  const char *stem;
  const char *role;
} pki_role;

/* Bounds of pki_issue's inputs and of every validity period. */
#define PKI_NAME_MAX 64
#define PKI_DAYS_MAX 3650
/* The validity `lisec pki init` uses unless told otherwise. */
#define PKI_DAYS_DEFAULT 90

extern const pki_role pki_dev_roles[];
extern const size_t pki_dev_roles_len;

/* Creates the CA, the server certificate and every role's certificate in
 * dir (created 0700). Refuses a non-empty dir unless force. Keys are 0600. */
int pki_init(const char *dir, bool force, int days, lisec_err *err);
/* Issues one more client certificate from the CA in dir: dir/<stem>.crt and
 * .key with CN=name and the given role (SAN URI urn:lisec:role:<role>, OU).
 * stem is a-z 0-9 - _, role a-z 0-9 - _ : . (both at most PKI_NAME_MAX);
 * never overwrites an existing file (EEXIST -> LISEC_ECONFLICT). */
int pki_issue(const char *dir, const char *stem, const char *role, const char *name, int days,
              lisec_err *err);
/* Revokes the certificate with serial serial_hex (1-40 hex digits, as
 * `openssl x509 -serial` prints it) issued by the CA in dir: dir/crl.pem
 * is signed again (pki_crl.c) with every serial revoked before and this
 * one, a CRL number one higher, and a nextUpdate days ahead. lisecd's
 * [tls] crl then refuses that certificate. */
int pki_revoke(const char *dir, const char *serial_hex, int days, lisec_err *err);

#endif
