/* Helpers shared by the parsers and the verifier of pkg/ and not part of
 * its face: a bounded line reader over bytes, string copies, and the CMS
 * checks verify.c builds on. */
#ifndef LISEC_PKG_INTERNAL_H
#define LISEC_PKG_INTERNAL_H

#include <openssl/cms.h>

#include "pkg/pkg.h"

/* Splits bytes into lines (LF or CRLF), refusing NUL bytes and lines longer
 * than max_line. */
typedef struct pkg_lines {
  const uint8_t *data;
  size_t len, pos, max_line;
  size_t lineno;     /* 1-based number of the last line returned */
  size_t line_start; /* its offset */
} pkg_lines;

void pkg_lines_init(pkg_lines *it, const uint8_t *data, size_t len, size_t max_line);
/* 1 with the line in *line and its length in *n (no line end), 0 at the end, or a negative
 * LISEC_E* with the reason. */
int pkg_lines_next(pkg_lines *it, const char **line, size_t *n, lisec_err *err);
/* Splits "Key: value" into a key and a trimmed value, both NUL-terminated
 * copies in key/value (sized PKG_MANIFEST_LINE_MAX + 1). 0, or EINVAL when
 * there is no ':' or the key is empty or has other than [A-Za-z0-9_.-]. */
int pkg_split_kv(const char *line, size_t n, char *key, char *value);

char *pkg_strdup(const char *s);

/* A set of borrowed names, each with a number (nameset.c): constant-time
 * lookups under a keyed hash, so comparing every name of a package with
 * every other stays linear whatever names the package chose. */
typedef struct pkg_nameset {
  struct pkg_nameslot {
    const char *name;
    size_t value;
  } *slots;
  size_t cap, n;
  uint64_t k0, k1;
} pkg_nameset;
/* Sized for about expected names (it grows past them); LISEC_ENOMEM. */
int pkg_nameset_init(pkg_nameset *s, size_t expected);
void pkg_nameset_free(pkg_nameset *s);
/* 1 when added, 0 when name was there already (its value kept), or
 * LISEC_ENOMEM. */
int pkg_nameset_add(pkg_nameset *s, const char *name, size_t value);
/* Whether name is in the set, and its value. */
bool pkg_nameset_get(const pkg_nameset *s, const char *name, size_t *value);

/* Reads len bytes at offset off of the archive: 0, or a LISEC_E* set in err. */
typedef int (*pkg_read_at)(void *ctx, uint64_t off, void *buf, size_t len, lisec_err *err);
/* Reads the archive's last end record and its central directory byte by
 * byte and checks they list exactly entries[0..n) (libzip's members, in
 * libzip's order) with byte-identical names, no Info-ZIP Unicode Path
 * field and no non-ASCII name without the UTF-8 flag (csar_cd.c). */
int pkg_zip_cd_check(pkg_read_at rd, void *ctx, uint64_t size, const pkg_entry *entries, size_t n,
                     lisec_err *err);

/* Checks that a file the manifest does not list holds nothing but at most
 * max_blocks PEM blocks whose label is one of labels (NULL-terminated),
 * whitespace around them (and lines of printable explanatory text when
 * text_ok), and in each block canonical base64 of one whole ASN.1 object
 * (pem.c); EDENIED naming TR103308-4.2 otherwise. */
int pkg_pem_only(const uint8_t *data, size_t len, const char *const *labels, size_t max_blocks,
                 bool text_ok, const char *file, lisec_err *err);

/* Certificates and CRLs loaded per role, X509_STOREs built per check. */
struct pkg_trust {
  STACK_OF(X509) *anchors[PKG_ROLE_COUNT];
  STACK_OF(X509_CRL) *crls;
};

/* Verifies a detached PEM CMS over data: every SignerInfo's signature
 * (exactly one is required), then the signer's chain against the anchors of
 * each role in roles (the first that accepts it wins) at time `at`.
 * extra holds certificates shipped beside the signature (may be NULL).
 * signer receives the description; *role_out the accepting role. */
int pkg_cms_verify_detached(const pkg_trust *trust, const pkg_role *roles, size_t n_roles,
                            const char *pem, size_t pem_len, STACK_OF(X509) *extra,
                            const void *data, size_t len, int64_t at, const char *file,
                            pkg_signer *signer, pkg_role *role_out, lisec_err *err);

/* A per-artifact CMS signature verified in one pass with the digest: open
 * checks the signature over the signed attributes and the signer's chain
 * (vendor anchors) and says which digest the content needs; finish
 * compares that digest with the signed messageDigest. */
typedef struct pkg_artifact_sig pkg_artifact_sig;
int pkg_artifact_sig_open(const pkg_trust *trust, const char *pem, size_t pem_len,
                          STACK_OF(X509) *extra, int64_t at, const char *file,
                          pkg_signer *signer, pkg_artifact_sig **out, lisec_err *err);
const EVP_MD *pkg_artifact_sig_md(const pkg_artifact_sig *s);
int pkg_artifact_sig_finish(pkg_artifact_sig *s, const uint8_t *digest, size_t len,
                            lisec_err *err);
void pkg_artifact_sig_free(pkg_artifact_sig *s);

/* Describes the signer of a PEM CMS without verifying anything. */
int pkg_cms_describe(const char *pem, size_t len, STACK_OF(X509) *extra, const char *file,
                     pkg_signer *signer, lisec_err *err);
/* Describes a certificate into signer (subject, issuer, key hash, validity). */
int pkg_signer_describe(X509 *cert, pkg_signer *signer, lisec_err *err);
void pkg_signer_clear(pkg_signer *s);
/* A name as RFC 2253 text (malloc'd; NULL when out of memory). */
char *pkg_name_string(const X509_NAME *name);
/* A serial number as pkg_cert_ref keeps it; -1 when negative or longer. */
int pkg_serial_hex(const ASN1_INTEGER *serial, char out[PKG_SERIAL_HEX_MAX + 1]);

#endif
