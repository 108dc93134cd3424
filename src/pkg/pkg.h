/* pkg/ verifies VNF packages (ETSI GS NFV-SOL 004 CSAR) so that only code
 * signed by its vendor and countersigned by the operator (and, for an LI
 * VNF, by the LI administration) is on-boarded and run (TR 103 308 §4.1
 * code signing and dual signing, §4.2 "VNFs can be verified", NFV-SEC 025
 * on-boarding threats 1-3). It parses TOSCA.meta and the manifest, checks
 * every member name and size (path traversal, symlinks, duplicates, zip
 * bombs), verifies the CMS signatures against per-role trust anchors and
 * CRLs, streams every artifact through its digest, and evaluates the
 * dual-signing, replacement and tenant policies. Pure: a package reaches it
 * through a pkg_source (an entry list and a streaming read callback); the
 * libzip source in csar_zip.c works on a descriptor or buffer the caller
 * opened. See docs/packages.md for the formats and the choices made. */
#ifndef LISEC_PKG_H
#define LISEC_PKG_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- bounds ------------------------------------------------------------- */

#define PKG_PATH_MAX 1024          /* bytes of one member name */
#define PKG_TOSCA_META_MAX (64 * 1024)
#define PKG_MANIFEST_MAX (4 * 1024 * 1024)
#define PKG_MANIFEST_LINE_MAX 4096
#define PKG_MANIFEST_ENTRIES_MAX 10000
#define PKG_METADATA_MAX 64        /* metadata name-value pairs */
#define PKG_SIG_FILE_MAX (256 * 1024) /* a CMS signature or certificate file */
#define PKG_COUNTERSIG_MAX 8       /* files under Countersignatures/ */
#define PKG_COUNTERSIG_DIR "Countersignatures/"
#define PKG_DIGEST_MAX 64

/* Package-level limits: the defaults of pkg_limits_default() are in the
 * comments; a caller may lower or raise them (lisecd reads them from its
 * configuration). */
typedef struct pkg_limits {
  size_t max_entries;      /* 10000 members */
  uint64_t max_file_size;  /* 8 GiB expanded, per member */
  uint64_t max_total_size; /* 16 GiB expanded, whole package */
  uint64_t max_ratio;      /* 200: expanded / compressed, for members ... */
  uint64_t ratio_floor;    /* ... expanding past 1 MiB */
} pkg_limits;
void pkg_limits_default(pkg_limits *l);

/* ---- member names and the package source -------------------------------- */

/* One member of the package as its container declares it. */
typedef struct pkg_entry {
  const char *name;   /* '/'-separated; a directory ends in '/' */
  uint64_t size;      /* declared expanded size */
  uint64_t comp_size; /* stored (compressed) size */
  bool is_dir;
} pkg_entry;

/* Receives a member's bytes in order, in chunks of any size. */
typedef int (*pkg_sink)(void *sctx, const uint8_t *data, size_t len, lisec_err *err);

/* A package as the verifier sees it. read() streams member `index` to sink
 * and must fail (ETOOBIG / EINVAL) when the bytes it produces differ in
 * number from entries[index].size. */
typedef struct pkg_source {
  const pkg_entry *entries;
  size_t n_entries;
  int (*read)(void *ctx, size_t index, pkg_sink sink, void *sctx, lisec_err *err);
  void *ctx;
} pkg_source;

/* A member name the verifier accepts: relative, '/'-separated, no empty,
 * "." or ".." component, no backslash, no drive letter, no control byte, at
 * most PKG_PATH_MAX bytes. A directory's trailing '/' is allowed when
 * is_dir. The reason names NFV-SEC 025 on-boarding threat 1. */
int pkg_path_check(const char *name, bool is_dir, lisec_err *err);
/* The whole entry list: every name, duplicates (also ignoring ASCII case,
 * and a name that is both a file and a directory), and every size and ratio
 * against the limits. */
int pkg_entries_check(const pkg_entry *entries, size_t n, const pkg_limits *limits,
                      lisec_err *err);
/* Index of the regular member called name, or -1. */
long pkg_source_find(const pkg_source *src, const char *name);
/* Reads a whole (small) member of at most max bytes; *out is malloc'd and
 * NUL-terminated. */
int pkg_source_read_all(const pkg_source *src, size_t index, size_t max, uint8_t **out,
                        size_t *len, lisec_err *err);

/* ---- the libzip source (csar_zip.c) ------------------------------------- */

typedef struct pkg_zip pkg_zip;
/* Opens a CSAR from a descriptor the caller opened (it is dup()ed; the
 * caller still closes its own) or from a buffer that must outlive the
 * pkg_zip. Refuses, before reading any content: encrypted members,
 * symlinks and other non-regular members, names failing pkg_path_check,
 * duplicates, and sizes or ratios past the limits. */
int pkg_zip_open_fd(int fd, const pkg_limits *limits, pkg_zip **out, lisec_err *err);
int pkg_zip_open_mem(const void *data, size_t len, const pkg_limits *limits, pkg_zip **out,
                     lisec_err *err);
const pkg_source *pkg_zip_source(const pkg_zip *z);
void pkg_zip_close(pkg_zip *z);

/* ---- TOSCA.meta --------------------------------------------------------- */

typedef struct pkg_tosca_meta {
  char *meta_version;      /* TOSCA-Meta-File-Version (or TOSCA-Meta-Version) */
  char *csar_version;      /* CSAR-Version */
  char *created_by;        /* Created-By */
  char *entry_definitions; /* Entry-Definitions */
  char *entry_manifest;    /* ETSI-Entry-Manifest */
  char *entry_change_log;  /* ETSI-Entry-Change-Log */
  char *entry_licenses;    /* ETSI-Entry-Licenses */
  char *entry_tests;       /* ETSI-Entry-Tests */
  char *entry_certificate; /* ETSI-Entry-Certificate */
} pkg_tosca_meta;

/* Parses TOSCA-Metadata/TOSCA.meta (block_0 and any further "Name:" blocks,
 * which are ignored). Requires the versions, Entry-Definitions and
 * ETSI-Entry-Manifest; refuses duplicate keys, continuation lines, NUL
 * bytes and anything past PKG_TOSCA_META_MAX. Paths are pkg_path_check()ed. */
int pkg_tosca_meta_parse(const uint8_t *data, size_t len, pkg_tosca_meta *out, lisec_err *err);
void pkg_tosca_meta_free(pkg_tosca_meta *m);

/* ---- the manifest ------------------------------------------------------- */

typedef enum { PKG_ALG_SHA256, PKG_ALG_SHA384, PKG_ALG_SHA512 } pkg_alg;
const char *pkg_alg_name(pkg_alg a); /* "SHA-256", ... */
size_t pkg_alg_len(pkg_alg a);
int pkg_alg_parse(const char *name, pkg_alg *out);

typedef struct pkg_kv {
  char *key, *value;
} pkg_kv;

typedef struct pkg_manifest_entry {
  char *source;      /* a member path (external URLs are refused) */
  pkg_alg alg;
  uint8_t digest[PKG_DIGEST_MAX];
  size_t digest_len;
  char *signature;   /* Signature: per-artifact CMS file, or NULL */
  char *certificate; /* Certificate: its signer's certificate file, or NULL */
} pkg_manifest_entry;

typedef struct pkg_manifest {
  pkg_kv *metadata;
  size_t n_metadata;
  pkg_manifest_entry *entries;
  size_t n_entries;
  size_t body_len;   /* bytes before the CMS block: what the vendor signed */
  char *cms_pem;     /* the "-----BEGIN CMS-----" block, or NULL if unsigned */
} pkg_manifest;

/* Parses a SOL 004 manifest: the "metadata:" block, Source/Algorithm/Hash
 * (and optional Signature/Certificate) blocks, an optional
 * non_mano_artifact_sets section (kept in the signed bytes, not
 * interpreted), and a trailing PEM CMS block. LF or CRLF line ends. */
int pkg_manifest_parse(const uint8_t *data, size_t len, pkg_manifest *out, lisec_err *err);
void pkg_manifest_free(pkg_manifest *m);
const char *pkg_manifest_meta(const pkg_manifest *m, const char *key);
/* Writes a manifest body (no signature) in the form pkg_manifest_parse
 * reads: metadata, then one block per entry in the given order. */
int pkg_manifest_build(const pkg_kv *metadata, size_t n_metadata,
                       const pkg_manifest_entry *entries, size_t n_entries, lisec_buf *out,
                       lisec_err *err);

/* ---- streaming digests -------------------------------------------------- */

/* A running digest over a member, for artifacts too large to hold. */
typedef struct pkg_digest pkg_digest;
int pkg_digest_new(const EVP_MD *md, pkg_digest **out, lisec_err *err);
int pkg_digest_update(pkg_digest *d, const void *data, size_t len, lisec_err *err);
int pkg_digest_final(pkg_digest *d, uint8_t *out, size_t *len, lisec_err *err);
void pkg_digest_free(pkg_digest *d);
const EVP_MD *pkg_alg_md(pkg_alg a);

/* ---- trust -------------------------------------------------------------- */

/* Who may sign what: the vendor signs the manifest (SOL 004); the operator
 * and the LI administration countersign it (TR 103 308 §4.1). */
typedef enum { PKG_ROLE_VENDOR, PKG_ROLE_OPERATOR, PKG_ROLE_LI_ADMIN, PKG_ROLE_COUNT } pkg_role;
const char *pkg_role_name(pkg_role r); /* "vendor", "operator", "li-admin" */

/* Once loaded, a pkg_trust is only read: verifications on several threads
 * may share it without a lock (each builds its own X509_STORE). */
typedef struct pkg_trust pkg_trust;
int pkg_trust_new(pkg_trust **out, lisec_err *err);
void pkg_trust_free(pkg_trust *t);
/* Adds every certificate of a PEM bundle as a trust anchor of role. */
int pkg_trust_add_anchors_pem(pkg_trust *t, pkg_role role, const void *pem, size_t len,
                              lisec_err *err);
/* Adds every CRL of a PEM bundle. Once one CRL is loaded, every certificate
 * of every chain must be covered by a current CRL of its issuer. */
int pkg_trust_add_crls_pem(pkg_trust *t, const void *pem, size_t len, lisec_err *err);

/* Loads every certificate of a PEM bundle (at most 16, PKG_SIG_FILE_MAX
 * bytes); the caller sk_X509_pop_free()s *out. */
int pkg_certs_from_pem(const void *pem, size_t len, STACK_OF(X509) **out, lisec_err *err);

/* ---- CMS signing (what `lisec pkg sign` / `countersign` use) ------------- */

/* A detached CMS SignedData over data, PEM ("-----BEGIN CMS-----"), with
 * signed attributes, the signer certificate and chain (may be NULL)
 * included. *pem is malloc'd and NUL-terminated. */
int pkg_cms_sign(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain, const void *data,
                 size_t len, char **pem, size_t *pem_len, lisec_err *err);

/* ---- verification ------------------------------------------------------- */

typedef struct pkg_policy {
  bool li;               /* on-boarded as an LI VNF (also when the manifest says so) */
  bool require_operator; /* true: every VNF needs the operator's countersignature */
  bool require_li_admin; /* true: an LI VNF needs the LI administration's; false only
                            while that countersignature is being added */
  int64_t at;            /* verification time (0 = now) */
  pkg_limits limits;
} pkg_policy;
void pkg_policy_default(pkg_policy *p);

/* One certificate of a verified chain, as a CRL names it: its issuer's
 * name (RFC 2253) and its serial number (lower-case hex, no leading zeros
 * but one for zero). */
#define PKG_CHAIN_MAX 8
#define PKG_SERIAL_HEX_MAX 64 /* RFC 5280 allows 20 octets; 32 are kept */
typedef struct pkg_cert_ref {
  char *issuer;
  char serial[PKG_SERIAL_HEX_MAX + 1];
} pkg_cert_ref;

typedef struct pkg_signer {
  pkg_role role;
  char *file;           /* the manifest, a Countersignatures/ file, or an artifact's */
  char *subject;        /* RFC 2253 */
  char *issuer;
  char *anchor_subject; /* the trust anchor its chain ended in (NULL: not verified) */
  char anchor_sha256[2 * 32 + 1]; /* SHA-256 of the anchor's DER, hex */
  char key_sha256[2 * 32 + 1];    /* SHA-256 of the signer's SubjectPublicKeyInfo */
  int64_t not_before, not_after;
  /* The certificates of the verified chain below its trust anchor, the
   * signer first: what a CRL of their issuer is checked against later
   * (pkg_crl_lists). Empty when not verified. */
  pkg_cert_ref chain[PKG_CHAIN_MAX];
  size_t n_chain;
  /* For a per-artifact signer: the first artifact it signed (NULL for the
   * manifest's signer and the countersigners). One signer is kept per
   * certificate: artifacts signed with the manifest signer's certificate
   * point at that signer (pkg_artifact.signer). */
  char *artifact;
} pkg_signer;

typedef struct pkg_artifact {
  char *path;
  pkg_alg alg;
  uint8_t digest[PKG_DIGEST_MAX];
  size_t digest_len;
  uint64_t size;
  bool is_image;  /* a software image (see docs/packages.md for how it is told) */
  /* A verified image's SHA-256 whatever the manifest's algorithm: hosts
   * report, and attested inventories show, the image a VM runs as its
   * SHA-256, so an image listed with SHA-384 or SHA-512 is judged by this
   * one at run time. */
  bool has_sha256;
  uint8_t sha256[32];
  bool signed_;   /* carried a per-artifact signature that verified */
  size_t signer;  /* when signed_: its signer, an index of pkg_result.signers */
} pkg_artifact;

typedef struct pkg_result {
  bool tosca_metadata;    /* layout: TOSCA-Metadata/ (else root manifest) */
  char *entry_definitions;
  char *manifest_path;
  char *certificate_path; /* NULL when the certificate is only in the CMS */
  pkg_kv *metadata;
  size_t n_metadata;
  pkg_artifact *artifacts;
  size_t n_artifacts;
  pkg_signer *signers;    /* [0] is the vendor when the manifest is signed */
  size_t n_signers;
  bool li;                /* treated as an LI VNF */
  bool verified;          /* pkg_verify passed (false for pkg_inspect) */
  bool revocation_checked;
  uint64_t bytes_hashed;
} pkg_result;

/* Verifies a package completely (the order is cheap checks first, the
 * hashing of the artifacts last):
 *  - names, sizes and ratios (pkg_entries_check);
 *  - the layout: TOSCA-Metadata/TOSCA.meta, or one root YAML with its .mf;
 *  - the manifest's vendor CMS signature, chained to the vendor anchors at
 *    policy->at, CRLs when loaded, code-signing use when restricted;
 *  - each Countersignatures/ file: a detached CMS over the whole manifest
 *    file, its signer chained to the operator or LI administration anchors;
 *  - the dual-signing policy (vendor + operator; an LI VNF also the LI
 *    administration);
 *  - no member unlisted, none listed twice or missing, no external source;
 *  - every artifact's digest (streamed) and per-artifact signature.
 * On success *out describes the package (the caller pkg_result_free()s it);
 * on failure the reason names the clause and the member at fault. */
int pkg_verify(const pkg_source *src, const pkg_trust *trust, const pkg_policy *policy,
               pkg_result **out, lisec_err *err);
/* Describes a package without trusting it: layout, metadata, artifacts as
 * listed, signers as found (no chain, digest or policy checks). */
int pkg_inspect(const pkg_source *src, const pkg_limits *limits, pkg_result **out,
                lisec_err *err);
void pkg_result_free(pkg_result *r);
const char *pkg_result_meta(const pkg_result *r, const char *key);
/* The vendor signer, or NULL. */
const pkg_signer *pkg_result_vendor(const pkg_result *r);
/* The description as JSON (what `lisec pkg verify --json` prints and what
 * the controller stores). */
json_t *pkg_result_to_json(const pkg_result *r);

/* ---- policies the controller applies ------------------------------------ */

/* What the controller keeps about an on-boarded package. owner is the
 * actor that on-boarded it: "operator" or "tenant:<name>". */
typedef struct pkg_record {
  const char *owner;
  const char *provider_id;     /* manifest vnf_provider_id */
  const char *product_name;    /* manifest vnf_product_name */
  const char *package_version; /* manifest vnf_package_version */
  const char *vendor_subject;  /* vendor signer's subject */
  const char *vendor_anchor;   /* hex SHA-256 of the vendor's trust anchor */
} pkg_record;
/* Fills rec from a verified result (pointers borrow from r). */
int pkg_record_from_result(const pkg_result *r, const char *owner, pkg_record *rec,
                           lisec_err *err);
/* May actor ("operator" or "tenant:<name>") on-board a package at all? */
int pkg_policy_may_onboard(const char *actor, lisec_err *err);
/* May actor see the package? The operator sees all; a tenant its own. */
int pkg_policy_may_see(const pkg_record *rec, const char *actor, lisec_err *err);
/* The requirements the package topic names beside the clauses. */
#define PKG_REQ_ROLLBACK "NFV-SEC025-ROLLBACK"  /* a replacement by an older version */
#define PKG_REQ_RETIRED "NFV-SEC025-RETIRED"    /* a retired package version */
#define PKG_REQ_REVOKED "TR103308-4.1-REVOKED"  /* a signer its vendor CA revoked */
/* May actor replace existing with next? Only the owner (or the operator)
 * may, and next must come from the same vendor identity (provider id,
 * signer subject and trust anchor) for the same product (NFV-SEC 025
 * on-boarding threats 2 and 3), with a newer vnf_package_version
 * (pkg_version_cmp: an older one is EDENIED naming NFV-SEC025-ROLLBACK, the
 * same one ECONFLICT). */
int pkg_policy_may_replace(const pkg_record *existing, const pkg_record *next,
                           const char *actor, lisec_err *err);

/* Orders two vnf_package_version strings: <0, 0 or >0 as a is older than,
 * the same as or newer than b. Both are split at '.', '-', '_' and '+' and
 * where digits meet other bytes ("1.0rc2" is 1, 0, rc, 2); segments compare
 * in turn, numerically when both are digits (any length), else as bytes, a
 * numeric segment above a non-numeric one ("1.0.rc" < "1.0.1"); when one
 * runs out first it is the older ("1.0" < "1.0.1" < "1.0.1a"). */
int pkg_version_cmp(const char *a, const char *b);

/* ---- vendor CRLs (crl.c) ------------------------------------------------- */

/* A vendor CA's certificate revocation list as the operator loads it (DER,
 * or PEM "X509 CRL"), at most max bytes. *out is the caller's to
 * X509_CRL_free. EINVAL naming TR103308-4.1-CRL when it does not parse or
 * there is more than one; ETOOBIG past max. */
int pkg_crl_parse(const void *data, size_t len, size_t max, X509_CRL **out, lisec_err *err);

typedef struct pkg_crl_info {
  char issuer[512];         /* RFC 2253 */
  char anchor_sha256[65];   /* the vendor anchor that signed it */
  int64_t last_update, next_update;
  size_t n_revoked;
  char number[2 * 20 + 1];  /* cRLNumber, hex ("" when absent) */
} pkg_crl_info;

/* Accepts a CRL for package verification: its issuer is a vendor trust
 * anchor whose key verifies its signature (X509_CRL_verify), it is not
 * from the future (lastUpdate <= now + 300 s) and it is fresh (nextUpdate
 * present and after now). EDENIED naming TR103308-4.1-CRL and why. */
int pkg_crl_accept(const pkg_trust *t, const X509_CRL *crl, int64_t now, pkg_crl_info *info,
                   lisec_err *err);
/* Whether crl, issued by issuer (RFC 2253, as pkg_cert_ref keeps it), lists
 * the certificate of serial (hex, as pkg_cert_ref keeps it); *when its
 * revocation date (may be NULL). */
bool pkg_crl_lists(const X509_CRL *crl, const char *issuer, const char *serial, int64_t *when);

/* Judges a stored description (pkg_result_to_json's "verification") of
 * package key against crls: true when one lists a certificate of a
 * signer's kept chain (the manifest's signer, a countersigner or a
 * per-artifact signer), with why naming PKG_REQ_REVOKED, the package, the
 * signer (and the artifact it signed), the serial, the issuer and the
 * revocation date. A signer whose chain is not kept is not judged. */
bool pkg_crl_desc_revoked(const json_t *desc, STACK_OF(X509_CRL) *crls, const char *key, char *why,
                          size_t n);
/* How many artifacts of a stored description carried a verified
 * per-artifact signature whose signer's chain the description does not
 * keep (on-boarded before per-artifact signers were kept): those signers
 * cannot be judged against a CRL. *first (may be NULL) is the first such
 * artifact's path, borrowed from desc. */
size_t pkg_crl_desc_unkept(const json_t *desc, const char **first);

/* A software image kept at on-boarding, to compare with what runs. */
typedef struct pkg_image_ref {
  const char *path;
  pkg_alg alg;
  const uint8_t *digest;
  size_t digest_len;
} pkg_image_ref;
/* Checks the digest an agent reports for the image a VM runs ("sha256:<hex>",
 * also "sha384:" and "sha512:") against the package's images: 0 with
 * *matched set to the image's path, or EDENIED (TR 103 308 §4.2: the VNF's
 * static component did not verify at instantiation, resume or transfer). */
int pkg_image_check(const pkg_image_ref *images, size_t n, const char *reported,
                    const char **matched, lisec_err *err);
/* True when the path names a software image (by directory or extension). */
bool pkg_path_is_image(const char *path);

/* What the agent reads from a libvirt domain XML to report the image a VM
 * runs (domain.c). vm: the id attribute of the urn:lisec:vm element in
 * <metadata>, else the domain's name; package: its package attribute ("" if
 * none); image: the first file disk's deepest backing file, else its own
 * file ("" if the domain has no file disk). */
#define PKG_DOMAIN_XML_MAX (1 << 20)
#define PKG_DOMAIN_ID_MAX 128
#define PKG_DOMAIN_CHAIN_MAX 32
typedef struct pkg_domain {
  char vm[PKG_DOMAIN_ID_MAX + 1];
  char package[PKG_DOMAIN_ID_MAX + 1];
  char image[4096];
} pkg_domain;
/* Reads at most PKG_DOMAIN_XML_MAX bytes; EINVAL (not XML, not a domain, a
 * DTD, an id that is not a lisec id) or ETOOBIG with the reason. */
int pkg_domain_read(const char *xml, size_t len, pkg_domain *out, lisec_err *err);
/* What a host's inventory reports of a domain (issue 15): vm and package
 * from the urn:lisec:vm element only ("" when absent, not checked against
 * the id rule: lisecd does that), every disk of device "disk" that has a
 * file (its target dev and deepest backing file), and the interfaces (MAC
 * lower-cased; type network, bridge, direct or other; source network,
 * bridge or device; target dev). */
#define PKG_DOMAIN_DISKS_MAX 64
#define PKG_DOMAIN_IFACES_MAX 64
typedef struct pkg_domain_disk {
  char target[32];
  char image[4096];
} pkg_domain_disk;
typedef struct pkg_domain_iface {
  char mac[18], type[8], source[256], target[256];
} pkg_domain_iface;
typedef struct pkg_domain_devices {
  char vm[PKG_DOMAIN_ID_MAX + 1];
  char package[PKG_DOMAIN_ID_MAX + 1];
  size_t n_disks, n_ifaces;
  pkg_domain_disk *disks;
  pkg_domain_iface *ifaces;
} pkg_domain_devices;
/* Bounds and errors as pkg_domain_read; *out is empty on failure. */
int pkg_domain_read_devices(const char *xml, size_t len, pkg_domain_devices *out, lisec_err *err);
void pkg_domain_devices_free(pkg_domain_devices *d);

#endif
