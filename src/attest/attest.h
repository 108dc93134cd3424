/* attest/ appraises TPM 2.0 evidence from a host (TR 103 308 §5.1, §5.4,
 * §5.8, §6.2 requirements 8-10 and 12-14, O.1.6): the AK's identity and its
 * binding to the EK (MakeCredential on the controller side), the quote
 * (TPMS_ATTEST, its signature, the nonce, the PCR digest), the TCG
 * crypto-agile event log replayed against the quoted PCRs, the operator's
 * reference values, and the location certificate that asset management
 * issues for one TPM at one resetCount. It is pure: bytes in, verdicts and
 * structures out; no files, sockets or store. Every verdict names the
 * requirement that failed, and everything fails closed: no policy, no
 * reference values or an event type nobody described is a rejection. */
#ifndef LISEC_ATTEST_H
#define LISEC_ATTEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- bounds on everything that comes from a host ------------------------ */

#define ATTEST_NONCE_MIN 16        /* bytes; the controller issues 32 */
#define ATTEST_NONCE_MAX 64        /* a TPM2B_DATA holds at most a digest */
#define ATTEST_QUOTE_MAX 2048      /* marshalled TPMS_ATTEST */
#define ATTEST_SIG_MAX 1024        /* marshalled TPMT_SIGNATURE (RSA 4096 fits) */
#define ATTEST_PCRS_MAX 65536      /* tpm2_quote's PCR values file */
#define ATTEST_TPM_PUBLIC_MAX 1024 /* marshalled TPM2B_PUBLIC */
#define ATTEST_NAME_MAX 68         /* a TPM Name or qualified name: nameAlg || digest */
#define ATTEST_EVENTLOG_MAX (8u << 20)
#define ATTEST_EVENTS_MAX 16384
#define ATTEST_EVENT_DATA_MAX (1u << 20)
#define ATTEST_LOCATION_MAX 16384  /* the location certificate (CMS, DER) */
#define ATTEST_POLICY_MAX (4u << 20)
#define ATTEST_CREDENTIAL_SECRET_MAX 64

#define ATTEST_PCR_COUNT 24
#define ATTEST_DIGEST_LEN 32 /* everything here is the SHA-256 bank */
#define ATTEST_HOST_ID_LEN 64 /* hex of SHA-256 over the EK's SubjectPublicKeyInfo */
/* The words in lisecd's refusal of an enrolment whose AK a de-enrolment
 * revoked (ctl/enrol_id.c); lisec-agent, reading them, makes a new AK. */
#define ATTEST_AK_REVOKED "AK revoked at de-enrolment"

/* The PCR the agent extends with the location certificate (documented in
 * docs/attestation.md): 15 is left to the operating system by the PC Client
 * profile, is not resettable, and the platform firmware never touches it. */
#define ATTEST_LOCATION_PCR 15
/* The location measurement is an EV_EVENT_TAG event with this tag ("lsec")
 * whose data is the SHA-256 of the certificate. */
#define ATTEST_LOCATION_TAG 0x6c736563u
/* A destination for an LI VM needs an attestation younger than this. */
#define ATTEST_FRESH_LI_S 60

/* TCG event types lisec knows by name (PC Client Platform Firmware Profile). */
enum {
  ATTEST_EV_NO_ACTION = 0x3,
  ATTEST_EV_SEPARATOR = 0x4,
  ATTEST_EV_EVENT_TAG = 0x6,
  ATTEST_EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003,
};

/* ---- the quote ---------------------------------------------------------- */

/* What lisec reads from a TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE. */
typedef struct attest_quote {
  uint32_t magic;
  uint16_t type;
  uint8_t extra[ATTEST_NONCE_MAX]; /* extraData: the nonce */
  size_t extra_len;
  uint8_t signer[ATTEST_NAME_MAX]; /* qualifiedSigner: the signing key's qualified name */
  size_t signer_len;
  uint64_t clock;
  uint32_t reset_count;   /* TPM Resets (power cycles) since the TPM was cleared */
  uint32_t restart_count; /* TPM Restarts / Resumes since the last Reset */
  bool safe;
  uint64_t firmware_version;
  uint32_t pcr_mask;      /* the SHA-256 PCRs the quote covers */
  uint8_t pcr_digest[ATTEST_DIGEST_LEN];
} attest_quote;

/* Parses a marshalled TPMS_ATTEST (what `tpm2_quote -m` writes) with
 * tpm2-tss's unmarshaller. Refuses trailing bytes, a selection other than
 * one SHA-256 bank, and a PCR digest that is not SHA-256 sized. Magic and
 * type are reported, not checked: attest_verify names them as a reason. */
int attest_quote_parse(const uint8_t *msg, size_t len, attest_quote *out, lisec_err *err);

/* PCR values of the SHA-256 bank: value[i] is meaningful when bit i of mask
 * is set. */
typedef struct attest_pcrs {
  uint32_t mask;
  uint8_t value[ATTEST_PCR_COUNT][ATTEST_DIGEST_LEN];
} attest_pcrs;

/* Parses the PCR values file that `tpm2_quote -o` writes: tpm2-tools 5.x's
 * default "serialized" form (TPML_PCR_SELECTION then a count and TPML_DIGEST
 * structures as laid out in memory, little-endian) or, when expect_mask is
 * not 0, the "values" form (-F values: the digests back to back in the
 * order of expect_mask). The result must select exactly expect_mask when
 * that is not 0. */
int attest_pcrs_parse(const uint8_t *buf, size_t len, uint32_t expect_mask, attest_pcrs *out,
                      lisec_err *err);
/* Writes pcrs in tpm2-tools' serialized form (so the agent's files are the
 * ones tpm2_quote writes). */
int attest_pcrs_write(const attest_pcrs *pcrs, lisec_buf *out, lisec_err *err);
/* The quote's PCR digest: SHA-256 over the selected values in PCR order. */
int attest_pcrs_digest(const attest_pcrs *pcrs, uint8_t out[ATTEST_DIGEST_LEN]);

/* ---- keys: AK and EK ---------------------------------------------------- */

typedef struct attest_ak attest_ak;

/* An AK from its TPM2B_PUBLIC (`tpm2_createak -u`, the agent's ak.pub).
 * Refuses anything but a restricted signing key that is fixedTPM,
 * fixedParent and sensitiveDataOrigin, ECDSA P-256 or RSA >= 2048, and
 * computes its TPM Name (nameAlg || H(TPMT_PUBLIC)). */
int attest_ak_from_tpm_public(const uint8_t *pub, size_t len, attest_ak **out, lisec_err *err);
/* An AK from a PEM public key (`tpm2_createak -f pem`); it has no Name and
 * its attributes are unknown, so only offline verification takes it. Also
 * accepts a TPM2B_PUBLIC, told apart by the PEM armour. */
int attest_ak_from_file_bytes(const uint8_t *buf, size_t len, attest_ak **out, lisec_err *err);
void attest_ak_free(attest_ak *ak);
/* The AK's Name (empty when it came from PEM) and public key PEM. */
const uint8_t *attest_ak_name(const attest_ak *ak, size_t *len);
/* The qualified name the AK has as a child of the EK ek_pub (TPM2B_PUBLIC),
 * a primary key of the endorsement hierarchy (TPM 2.0 Part 1, "Qualified
 * Name"): QN(EK) = H(TPM_RH_ENDORSEMENT || Name(EK)), QN(AK) = H(QN(EK) ||
 * Name(AK)), each hash with the key's nameAlg and prefixed by it. A quote's
 * qualifiedSigner is that value only when the AK is the EK's child; a key
 * elsewhere (under the owner's storage key, say) gets its resetCount,
 * restartCount and firmwareVersion obfuscated by the TPM. EINVAL for an AK
 * without a Name (from PEM). */
int attest_ak_qualified_name(const uint8_t *ek_pub, size_t ek_len, const attest_ak *ak,
                             uint8_t out[ATTEST_NAME_MAX], size_t *out_len, lisec_err *err);
int attest_ak_public_pem(const attest_ak *ak, char **out, lisec_err *err);

/* Verifies a marshalled TPMT_SIGNATURE (`tpm2_quote -s`, the default "tss"
 * format) over msg: ECDSA with a P-256 AK, RSASSA-PKCS1-v1_5 or RSA-PSS
 * with an RSA AK; SHA-256, -384 or -512. 0 when it verifies. */
int attest_signature_verify(const attest_ak *ak, const uint8_t *msg, size_t msg_len,
                            const uint8_t *sig, size_t sig_len, lisec_err *err);

/* The host id (O.1.6): lower-case hex of SHA-256 over the DER
 * SubjectPublicKeyInfo of the EK, given as TPM2B_PUBLIC. The same value is
 * `openssl pkey -pubin -outform DER | sha256sum` of the EK's PEM. */
int attest_host_id(const uint8_t *ek_pub, size_t len, char out[ATTEST_HOST_ID_LEN + 1],
                   lisec_err *err);
/* Whether ca_pem (a PEM bundle of TPM manufacturers' CAs, [attest] ek_ca)
 * holds at least one certificate, read as attest_ek_cert_check reads it;
 * EINVAL when none. */
int attest_ek_ca_check(const uint8_t *ca_pem, size_t ca_len, lisec_err *err);
/* Checks an EK certificate (DER): its public key is the EK's, and it chains
 * to one of the TPM manufacturers' CAs in ca_pem (PEM bundle) at `at`. */
int attest_ek_cert_check(const uint8_t *ek_pub, size_t ek_len, const uint8_t *cert_der,
                         size_t cert_len, const uint8_t *ca_pem, size_t ca_len, int64_t at,
                         lisec_err *err);

/* ---- enrolment: TPM2_MakeCredential on the controller ------------------- */

/* Makes a credential only the TPM holding ek_pub (TPM2B_PUBLIC, RSA 2048+
 * with OAEP or ECC P-256 with ECDH) can recover, and only while the object
 * named ak_name is loaded in it (TPM2_ActivateCredential). The output is
 * the file tpm2-tools exchanges (`tpm2_makecredential -o`): magic
 * 0xBADCC0DE, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET.
 * secret is 1..ATTEST_CREDENTIAL_SECRET_MAX bytes; it and the seed are
 * wiped. */
int attest_credential_make(const uint8_t *ek_pub, size_t ek_len, const uint8_t *ak_name,
                           size_t name_len, const uint8_t *secret, size_t secret_len,
                           lisec_buf *out, lisec_err *err);
/* Splits that file into its two marshalled halves (for the agent), each
 * including its 2-byte size; id_object and enc_secret point into blob. */
int attest_credential_split(const uint8_t *blob, size_t len, const uint8_t **id_object,
                            size_t *id_len, const uint8_t **enc_secret, size_t *enc_len,
                            lisec_err *err);

/* ---- the event log ------------------------------------------------------ */

typedef struct attest_event {
  uint32_t pcr;
  uint32_t type;
  uint8_t digest[ATTEST_DIGEST_LEN]; /* the SHA-256 digest the log claims */
  const uint8_t *data;               /* borrows from the parsed buffer */
  uint32_t data_len;
} attest_event;

typedef struct attest_eventlog {
  attest_event *events;
  size_t count;
  uint8_t startup_locality; /* from a StartupLocality EV_NO_ACTION, else 0 */
} attest_eventlog;

/* Parses a TCG crypto-agile log (TCG_PCR_EVENT header with the "Spec ID
 * Event03" event, then TCG_PCR_EVENT2 records): sizes checked before every
 * read, at most ATTEST_EVENTS_MAX events, the SHA-256 bank required. The
 * events borrow from buf, which must outlive out. */
int attest_eventlog_parse(const uint8_t *buf, size_t len, attest_eventlog *out, lisec_err *err);
void attest_eventlog_free(attest_eventlog *log);
/* Replays the log into the SHA-256 bank: out->value[i] for every PCR (mask
 * = all 24). EV_NO_ACTION events are not extended. */
void attest_eventlog_replay(const attest_eventlog *log, attest_pcrs *out);
/* Writers for the agent and tests: the header (Spec ID event declaring
 * SHA-256 only) and one TCG_PCR_EVENT2 record. */
int attest_eventlog_write_header(lisec_buf *out, lisec_err *err);
int attest_eventlog_write_event(lisec_buf *out, uint32_t pcr, uint32_t type,
                                const uint8_t digest[ATTEST_DIGEST_LEN], const void *data,
                                uint32_t data_len, lisec_err *err);
/* The event data of a location measurement: TCG_PCClientTaggedEvent with
 * ATTEST_LOCATION_TAG and the certificate's SHA-256 (40 bytes). */
void attest_location_event_data(const uint8_t cert_digest[ATTEST_DIGEST_LEN], uint8_t out[40]);
/* "EV_SEPARATOR", ... or NULL for a type lisec has no name for. */
const char *attest_event_type_name(uint32_t type);
/* The inverse, also accepting "0x80000003"; -1 when neither. */
int64_t attest_event_type_parse(const char *s);

/* ---- reference values (§5.4) -------------------------------------------- */

typedef struct attest_policy attest_policy;

/* Parses the operator's policy (examples/attest/reference.json):
 *   {"policy_id": "...", "pcrs": [0, ...], "location_pcr": 15,
 *    "events": [{"pcr": 4, "type": "EV_EFI_BOOT_SERVICES_APPLICATION",
 *                "digests": ["<sha256 hex>", ...], "comment": "..."}]}
 * An entry may say "any_digest": true instead of listing digests (the
 * verdict then carries a warning). Refuses unknown keys, an event type
 * that is neither a known name nor 0x-hex, duplicate (pcr, type) entries,
 * and a policy with no events at all. */
int attest_policy_parse(const char *json, size_t len, attest_policy **out, lisec_err *err);
void attest_policy_free(attest_policy *p);
const char *attest_policy_id(const attest_policy *p);
/* The PCRs every quote must cover: those in "pcrs" and every PCR an
 * entry of "events" describes. */
uint32_t attest_policy_pcrs(const attest_policy *p);

/* ---- the location certificate (§6.2 R8-10, R12-14) ---------------------- */

/* The location asset management asserts for one host at one resetCount. The
 * certificate is a CMS SignedData (DER) whose content is this JSON:
 *   {"type": "lisec-location/1", "host_id": "<hex>", "country": "FI",
 *    "subdivision": "FI-18", "latitude": 60.17, "longitude": 24.94,
 *    "site": "HEL1", "tpm_reset_count": 3, "issued_at": "2026-...Z"}
 * and optionally "tpm_restart_count" (0 when absent) and "asset_tag".
 * signed by a certificate that chains to the asset-management CA. */
typedef struct attest_location {
  char host_id[ATTEST_HOST_ID_LEN + 1];
  char country[3];
  char subdivision[8];
  double latitude, longitude;
  char site[65];
  char asset_tag[65]; /* optional "asset_tag": the FRU asset tag asset management saw; "" when none */
  uint32_t reset_count;
  /* "tpm_restart_count", optional (0 when absent): the TPM's restartCount
   * at the check. A TPM Restart (Shutdown(STATE), then Startup(CLEAR) at
   * the next boot) resets the PCRs but not resetCount, so the location is
   * bound to both counters. */
  uint32_t restart_count;
  int64_t issued_at;
  uint8_t digest[ATTEST_DIGEST_LEN]; /* SHA-256 of the DER, as measured */
} attest_location;

typedef struct attest_location_ca attest_location_ca;
/* The asset-management CA(s), PEM. */
int attest_location_ca_parse(const uint8_t *pem, size_t len, attest_location_ca **out,
                             lisec_err *err);
void attest_location_ca_free(attest_location_ca *ca);
/* Verifies the CMS signature and chain at `at` (0 = now) and parses the
 * content. Does not look at the host or the TPM: attest_verify does. */
int attest_location_parse(const uint8_t *der, size_t len, const attest_location_ca *ca,
                          int64_t at, attest_location *out, lisec_err *err);
/* Builds the JSON content of a location certificate (for the issuing side
 * and tests); the caller frees it. */
char *attest_location_content(const attest_location *loc);

/* ---- nonces: single use, with an expiry --------------------------------- */

typedef struct attest_nonces attest_nonces;

#define ATTEST_NONCE_LEN 32
/* A table of at most max outstanding nonces (the oldest is dropped when
 * full). Not thread-safe: the caller serialises access. */
attest_nonces *attest_nonces_new(size_t max);
void attest_nonces_free(attest_nonces *n);
/* A copy of the table (its own storage), or NULL when out of memory. */
attest_nonces *attest_nonces_copy(const attest_nonces *n);
/* Draws a fresh nonce valid until now_ms + ttl_ms. */
int attest_nonce_issue(attest_nonces *n, int64_t now_ms, int64_t ttl_ms,
                       uint8_t out[ATTEST_NONCE_LEN], lisec_err *err);
/* Consumes a nonce: 0 once, then LISEC_EDENIED ("replayed"); EDENIED too
 * when it was never issued or has expired. Comparison is constant-time. */
int attest_nonce_consume(attest_nonces *n, const uint8_t *nonce, size_t len, int64_t now_ms,
                         lisec_err *err);
/* When the nonce in the table expires (ms; 0: not in it). Nonces of one
 * time to live expire in the order they were issued. */
int64_t attest_nonce_expiry(const attest_nonces *n, const uint8_t *nonce, size_t len);
/* The table as JSON and back (for the CLI's offline state file). */
json_t *attest_nonces_to_json(const attest_nonces *n);
int attest_nonces_from_json(const json_t *j, size_t max, attest_nonces **out, lisec_err *err);

/* ---- the verdict -------------------------------------------------------- */

/* AR4SI trustworthiness claims (draft-ietf-rats-ar4si): 0 no claim,
 * 2..31 affirming, 32..95 warning, 96..127 contraindicated. */
typedef struct attest_trust_vector {
  int8_t instance_identity, configuration, executables, file_system, hardware, runtime_opaque,
      storage_opaque, sourced_data;
} attest_trust_vector;

#define ATTEST_REASONS_MAX 16
#define ATTEST_REASON_LEN 320

typedef struct attest_verdict {
  bool ok;        /* every check that ran passed, and the needed ones ran */
  bool malformed; /* some evidence could not be parsed at all */
  size_t nreasons;
  size_t more_reasons; /* reasons beyond ATTEST_REASONS_MAX, counted only */
  char reasons[ATTEST_REASONS_MAX][ATTEST_REASON_LEN];
  size_t nwarnings;
  char warnings[4][ATTEST_REASON_LEN];
  /* what the quote said (valid when quote_parsed); signature_ok: the AK's
   * signature verifies and, with attest_context.ek_pub, the quote's signer
   * is the AK as the EK's child (so its counters are not obfuscated) */
  bool quote_parsed, signature_ok, nonce_ok, pcr_digest_ok;
  attest_quote quote;
  attest_pcrs pcrs;
  /* the boot (valid when replay_ran) */
  bool replay_ran, replay_ok, reference_ok;
  size_t nevents;
  /* the location (valid when location_ok) */
  bool location_ran, location_ok;
  attest_location location;
  char policy_id[96];
  attest_trust_vector tv;
} attest_verdict;

typedef struct attest_evidence {
  const uint8_t *quote; size_t quote_len;       /* TPMS_ATTEST */
  const uint8_t *sig; size_t sig_len;           /* TPMT_SIGNATURE */
  const uint8_t *pcrs; size_t pcrs_len;         /* tpm2_quote -o */
  const uint8_t *eventlog; size_t eventlog_len; /* optional */
  const uint8_t *location; size_t location_len; /* optional */
} attest_evidence;

typedef struct attest_context {
  const attest_ak *ak;                 /* required */
  /* The host's EK (TPM2B_PUBLIC), optional: the quote's qualifiedSigner
   * must then be the AK's qualified name as the EK's child in the
   * endorsement hierarchy (attest_ak_qualified_name). lisecd always sets
   * it: only such a key's quotes carry resetCount, restartCount and
   * firmwareVersion in the clear. */
  const uint8_t *ek_pub; size_t ek_pub_len;
  const uint8_t *nonce; size_t nonce_len; /* required */
  /* Required unless quote_only: without reference values nothing about the
   * boot is known, and that is a rejection. */
  const attest_policy *policy;
  /* Offline checks of the quote alone (signature, nonce, PCR digest and, if
   * a log is given, its replay); used by `lisec attest verify` without
   * --reference. Never set by the controller. */
  bool quote_only;
  /* Location: appraised when location_ca is set; then host_id is the
   * enrolled host's id and evidence.location is required. */
  const attest_location_ca *location_ca;
  const char *host_id;
  int64_t now; /* seconds, for certificate validity (0 = now) */
  /* When the evidence carries an inventory: the SHA-256 of its bytes. The
   * quote's extraData must then be attest_inventory_binding(nonce, this)
   * instead of the nonce itself. */
  const uint8_t *inventory_sha256;
  /* When the evidence carries a chassis report (BMC telemetry): the
   * SHA-256 of its bytes; the extraData must then be
   * attest_evidence_binding(nonce, inventory_sha256, this). */
  const uint8_t *chassis_sha256;
} attest_context;

/* Appraises the evidence. Returns 0 with the verdict filled in (ok or not,
 * with the reasons), or a negative code only for a caller mistake (missing
 * AK or nonce) or an allocation failure. */
int attest_verify(const attest_context *ctx, const attest_evidence *ev, attest_verdict *out,
                  lisec_err *err);

/* The verdict as an EAT Attestation Result (EAR) claims set in JSON, with
 * the AR4SI trust vector in submods["lisec-host"]. The caller decrefs. */
json_t *attest_ear(const attest_verdict *v, const char *host_id, const uint8_t *nonce,
                   size_t nonce_len, int64_t iat);
/* The verdict as lisec's own JSON (reasons, quote facts, location). */
json_t *attest_verdict_json(const attest_verdict *v);

/* ---- the host's inventory (issue 15) -------------------------------------
 * What lisec-agent reports of the libvirt domains on its host, bound to a
 * quote (docs/observed.md): compact JSON, at most ATTEST_INV_MAX_BYTES and
 * ATTEST_INV_MAX_DOMAINS unless the caller sets lower bounds. */

#define ATTEST_INV_MAX_BYTES (1u << 20)
#define ATTEST_INV_MAX_DOMAINS 10000
#define ATTEST_INV_DISKS_MAX 64  /* file disks of one domain */
#define ATTEST_INV_IFACES_MAX 64 /* network interfaces of one domain */
#define ATTEST_INV_NAME_MAX 255  /* a network, bridge or tap device name */
#define ATTEST_INV_DISK_MAX 31   /* a disk's target device ("vda") */
#define ATTEST_INV_TAG "lisec-inventory-v1"

enum { ATTEST_DOM_RUNNING, ATTEST_DOM_PAUSED, ATTEST_DOM_SHUTOFF, ATTEST_DOM_CRASHED, ATTEST_DOM_OTHER };
enum { ATTEST_IF_NETWORK, ATTEST_IF_BRIDGE, ATTEST_IF_DIRECT, ATTEST_IF_OTHER };

typedef struct attest_inv_image {
  char disk[ATTEST_INV_DISK_MAX + 1];
  uint8_t sha256[ATTEST_DIGEST_LEN];
} attest_inv_image;

typedef struct attest_inv_iface {
  char mac[18]; /* lower-case aa:bb:cc:dd:ee:ff */
  int type;     /* ATTEST_IF_* */
  char source[ATTEST_INV_NAME_MAX + 1], target[ATTEST_INV_NAME_MAX + 1]; /* "" for null */
} attest_inv_iface;

typedef struct attest_inv_domain {
  char uuid[37];                       /* lower-case 8-4-4-4-12 */
  char vm[LISEC_ID_MAX + 1];           /* "" when the domain carries no lisec VM id */
  char package[LISEC_ID_MAX + 1];      /* "" when none */
  int state;                           /* ATTEST_DOM_* */
  size_t n_images;
  attest_inv_image *images;
  size_t n_ifaces;
  attest_inv_iface *ifaces;
} attest_inv_domain;

typedef struct attest_inventory {
  char host[ATTEST_HOST_ID_LEN + 1];
  int64_t taken_at;
  size_t n;
  attest_inv_domain *domains;
} attest_inventory;

/* Parses an inventory: exactly the fields of version 1 (an unknown field is
 * refused by name, not ignored), every string bounded, UUIDs unique, VM and
 * package ids by lisec's id rule, digests 64 hex. max_bytes and
 * max_domains (0: the defaults above) are the caller's bounds. EINVAL or
 * ETOOBIG with the reason; *out is empty then. */
int attest_inventory_parse(const char *bytes, size_t len, size_t max_bytes, size_t max_domains,
                           attest_inventory *out, lisec_err *err);
void attest_inventory_free(attest_inventory *inv);
/* The quote's qualifying data for an inventory:
 * SHA-256("lisec-inventory-v1" || nonce || SHA-256(inventory bytes)). */
void attest_inventory_binding(const uint8_t *nonce, size_t nonce_len,
                              const uint8_t inv_sha256[ATTEST_DIGEST_LEN],
                              uint8_t out[ATTEST_DIGEST_LEN]);
const char *attest_inv_state_name(int state);
const char *attest_inv_iface_type_name(int type);

/* ---- chassis telemetry from the BMC (issue 19, §5.6 O.1.1, R10/R14) -------
 * What lisec-agent read from its host's BMC over IPMI, in a small canonical
 * JSON document bound to the quote like the inventory (telemetry.c):
 *   {"version":1,"host":"<hex>","read_at":<unix s>,
 *    "bmc":{"guid":"...","manufacturer":N,"product":N,"firmware":"..."}|null,
 *    "intrusion":bool|null,"power":"on"|"off"|null,"poh_h":N|null,
 *    "power_w":N|null,"inlet_c":N|null,"cpu_c":N|null,"asset_tag":"..."|null}
 * "bmc": null says no BMC answered; every reading is then null. Version 2
 * adds "sel_intrusion": what the BMC's System Event Log says of intrusions,
 * so that a lid opened and closed between two reports is not lost: null
 * (the log was not read whole), "none" (no intrusion assertion in it), or
 * the newest intrusion assertion's record ("<id> <date> <time>" as the BMC
 * numbers and stamps it). Version 3 adds "sel_overflow": the log's
 * Overflow flag (IPMI Get SEL Info, Operation Support bit 7): true when the
 * log filled and has since dropped (or overwritten) events, so an intrusion
 * after it filled may be in no record; null when not read. Versions 1 and 2
 * (agents before them) are still read. */

#define ATTEST_CHASSIS_MAX_BYTES 4096
#define ATTEST_CHASSIS_STR_MAX 64
#define ATTEST_CHASSIS_TEMP_MIN (-40)  /* °C */
#define ATTEST_CHASSIS_TEMP_MAX 150
#define ATTEST_CHASSIS_POWER_MAX 100000 /* W */
#define ATTEST_CHASSIS_POH_MAX 2000000  /* hours (228 years) */
#define ATTEST_EVIDENCE_TAG "lisec-evidence-v2"
/* The requirement every telemetry refusal and finding names. */
#define ATTEST_CHASSIS_REQ "TR103308-5.6-O.1.1"

typedef struct attest_chassis {
  int64_t version; /* 1, 2 with sel_intrusion, 3 with sel_overflow too */
  char host[ATTEST_HOST_ID_LEN + 1];
  int64_t read_at;
  bool bmc; /* a BMC answered */
  char guid[ATTEST_CHASSIS_STR_MAX + 1], firmware[ATTEST_CHASSIS_STR_MAX + 1];
  int64_t manufacturer, product;
  /* each reading: has_x false when the BMC gave none (null) */
  bool has_intrusion, intrusion, has_power, power_on, has_poh, has_power_w, has_inlet, has_cpu,
      has_asset_tag;
  int64_t poh_h, power_w, inlet_c, cpu_c;
  char asset_tag[ATTEST_CHASSIS_STR_MAX + 1];
  bool has_sel; /* version 2 or 3 and the event log read whole */
  char sel_intrusion[ATTEST_CHASSIS_STR_MAX + 1];
  bool has_sel_overflow, sel_overflow; /* version 3: the log's Overflow flag, when read */
} attest_chassis;

/* Parses a chassis report: exactly the fields of its version (1, 2 or 3), each reading in
 * its physical range (temperatures -40..150 °C, power 0..100 kW, power-on
 * hours 0..2,000,000), strings printable ASCII of at most 64 bytes, at most
 * max_bytes (0: ATTEST_CHASSIS_MAX_BYTES). EINVAL or ETOOBIG with a reason
 * naming ATTEST_CHASSIS_REQ and the field; *out is zeroed then. */
int attest_chassis_parse(const char *bytes, size_t len, size_t max_bytes, attest_chassis *out,
                         lisec_err *err);
/* The same document, canonical (what the agent hashes and sends). */
char *attest_chassis_json(const attest_chassis *c);

/* One binding, versioned: without a chassis report it is version 1,
 * attest_inventory_binding (inventory required); with one it is
 * SHA-256("lisec-evidence-v2" || nonce || inv || chassis) where inv is the
 * inventory's SHA-256, or 32 zero bytes when the host has none. */
void attest_evidence_binding(const uint8_t *nonce, size_t nonce_len,
                             const uint8_t *inv_sha256, const uint8_t *chassis_sha256,
                             uint8_t out[ATTEST_DIGEST_LEN]);

/* What lisecd keeps of a host's earlier reports: the BMC it first saw
 * after the last confirmation, the highest power-on hours and the newest
 * intrusion the BMC's event log held when last read whole. */
typedef struct attest_chassis_base {
  bool has_bmc;
  char guid[ATTEST_CHASSIS_STR_MAX + 1];
  int64_t manufacturer, product;
  int64_t max_poh_h; /* -1: none seen */
  bool has_sel;      /* the event log was read since the last confirmation */
  char sel_intrusion[ATTEST_CHASSIS_STR_MAX + 1];
} attest_chassis_base;

typedef enum { ATTEST_MISSING_OFF, ATTEST_MISSING_FINDING, ATTEST_MISSING_UNTRUSTED } attest_missing;

typedef struct attest_chassis_policy {
  attest_missing missing; /* no report, no BMC answering, or a stale reading */
  int64_t max_age_s;      /* a reading older than this at appraisal is stale */
  int64_t idle_w;         /* at or below: the host draws idle power */
  int64_t peak_w;         /* at or above: the host draws near its peak */
  int64_t busy_vms;       /* this many running VMs at idle power is implausible */
} attest_chassis_policy;

#define ATTEST_CHASSIS_NOTES_MAX 6

typedef struct attest_chassis_verdict {
  size_t nvoid; /* reasons the location is void (R10/R14) */
  char voids[ATTEST_CHASSIS_NOTES_MAX][ATTEST_REASON_LEN];
  size_t nfind; /* findings (O.1.1), the host stays trusted */
  char findings[ATTEST_CHASSIS_NOTES_MAX][ATTEST_REASON_LEN];
  bool untrusted; /* missing or stale under ATTEST_MISSING_UNTRUSTED */
  char untrusted_why[ATTEST_REASON_LEN];
  attest_chassis_base next; /* the baseline to keep */
} attest_chassis_verdict;

/* Appraises one report (c NULL: the evidence carried none) against the
 * baseline, the asset tag of the host's location certificate (NULL or ""
 * when it names none, or the location is not proven) and the number of
 * running VMs the host's inventory shows (-1: no inventory). Pure. */
void attest_chassis_appraise(const attest_chassis *c, const attest_chassis_base *base,
                             const char *cert_asset_tag, int64_t running_vms,
                             const attest_chassis_policy *pol, int64_t now,
                             attest_chassis_verdict *out);

/* ---- trust over time ---------------------------------------------------- */

typedef enum {
  ATTEST_TRUST_NEVER,    /* never attested */
  ATTEST_TRUST_OK,       /* the last attestation passed and is within its period */
  ATTEST_TRUST_FAILED,   /* the last attestation failed */
  ATTEST_TRUST_OVERDUE,  /* passed, but longer ago than the period allows */
} attest_trust;

/* A host's trust at `now` from its last appraisal: verified_at (seconds,
 * 0 = never), whether it passed, and the longest allowed age. */
attest_trust attest_trust_at(int64_t verified_at, bool passed, int64_t max_age_s, int64_t now);
const char *attest_trust_name(attest_trust t);

#endif
