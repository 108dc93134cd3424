/* lisec-agent's parts: the TPM (ESAPI over the configured TCTI) and the
 * commands built on it. The agent proves a host's identity, boot state and
 * location with its TPM; the appraisal is the controller's (attest/). */
#ifndef LISEC_AGENT_H
#define LISEC_AGENT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <tss2/tss2_esys.h>

#include "attest/attest.h"
#include "base/base.h"
#include "pkg/pkg.h"

typedef struct agent_tpm agent_tpm;

typedef enum { AGENT_KEY_RSA, AGENT_KEY_ECC } agent_key_type;

/* Opens the TPM through the TCTI named by conf ("device:/dev/tpmrm0",
 * "swtpm:host=127.0.0.1,port=2321", ...). */
int agent_tpm_open(const char *tcti, agent_tpm **out, lisec_err *err);
void agent_tpm_close(agent_tpm *t);

/* The EK from the TCG EK Credential Profile's default template (L-1 RSA
 * 2048 or L-2 ECC P-256), or a persistent one at ek_handle when not 0. It
 * stays loaded until agent_tpm_close. pub receives its TPM2B_PUBLIC. */
int agent_tpm_ek(agent_tpm *t, agent_key_type type, uint32_t ek_handle, lisec_buf *pub,
                 lisec_err *err);
/* The EK certificate from the TPM's NV (RSA 0x01c00002, ECC 0x01c0000a), if
 * the manufacturer put one there; *found tells. */
int agent_tpm_ek_cert(agent_tpm *t, agent_key_type type, lisec_buf *der, bool *found,
                      lisec_err *err);
/* Creates an AK under the EK (restricted signing: ECDSA P-256 or RSASSA
 * 2048, SHA-256): its TPM2B_PUBLIC and TPM2B_PRIVATE, to keep. */
int agent_tpm_ak_create(agent_tpm *t, agent_key_type type, lisec_buf *pub, lisec_buf *priv,
                        lisec_err *err);
/* Loads the AK kept by agent_tpm_ak_create under the EK. */
int agent_tpm_ak_load(agent_tpm *t, const uint8_t *pub, size_t pub_len, const uint8_t *priv,
                      size_t priv_len, lisec_err *err);
/* TPM2_ActivateCredential with the loaded AK and EK: the secret the
 * controller bound to this AK's Name. */
int agent_tpm_activate(agent_tpm *t, const uint8_t *cred, size_t len, uint8_t *secret,
                       size_t *secret_len, lisec_err *err);
/* TPM2_Quote over the SHA-256 PCRs in mask with the nonce, and the PCR
 * values the quote covers (read after it and checked against its digest).
 * msg/sig are marshalled TPMS_ATTEST and TPMT_SIGNATURE. */
int agent_tpm_quote(agent_tpm *t, const uint8_t *nonce, size_t nonce_len, uint32_t mask,
                    lisec_buf *msg, lisec_buf *sig, attest_pcrs *pcrs, lisec_err *err);
/* Extends a SHA-256 digest into a PCR. */
int agent_tpm_extend(agent_tpm *t, unsigned pcr, const uint8_t digest[32], lisec_err *err);
/* The SHA-256 PCRs in mask, as they are now. */
int agent_tpm_pcrs(agent_tpm *t, uint32_t mask, attest_pcrs *out, lisec_err *err);

/* ---- the commands (main.c), also used by the loop ------------------------ */

typedef struct agent_settings {
  const char *tcti, *state_dir, *eventlog;
  agent_key_type ek_type, ak_type;
  uint32_t ek_handle;
  uint32_t pcrs;
} agent_settings;

/* Each opens the TPM for the call only (swtpm and the kernel's resource
 * manager then serve others in between) and returns 0, or 1 refused by the
 * TPM, or 2 with the reason printed on stderr. */
/* enrol: the AK kept in state_dir, or a new one (also when new_ak: the
 * kept one replaced, as when lisecd refuses it as revoked). */
int agent_cmd_enrol(const agent_settings *s, const char *out_dir, bool new_ak);
int agent_cmd_quote(const agent_settings *s, const char *nonce_hex, const char *out_dir);
int agent_cmd_measure_location(const agent_settings *s, const char *cert_path);
/* The EK (and the kept AK when with_ak) loaded in a freshly opened TPM. */
int agent_open_tpm(const agent_settings *s, bool with_ak, agent_tpm **t, lisec_buf *ek_pub);
/* Reads state_dir/name; *missing when it does not exist. */
int agent_read_state(const char *dir, const char *name, size_t max, uint8_t **out, size_t *len,
                     bool *missing);
int agent_ensure_dir(const char *dir);
/* Whether the agent's kept measurements (runtime.log, its PCR 15 events)
 * are this boot's: replayed from PCR 15's reset value they give what PCR
 * 15 holds now. *current false and 0 when there is no kept log. */
int agent_runtime_current(const agent_settings *s, agent_tpm *t, bool *current);
/* Prints "lisec-agent: ..." on stderr; returns 2. */
int agent_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the files the agent trusts (trust.c) ---------------------------------- */

/* 0 when path (a setting named by what, for the message) is a regular file
 * that only root (or the agent's own user, when it does not run as root)
 * can change: it, every directory above it and every symbolic link on the
 * way owned by root and not writable by group or others (a sticky
 * directory may be), and, when secret, not readable by them either. 2 with
 * the refusal printed (TR103308-5.5: the file, its owner and mode, the
 * fix) otherwise. */
int agent_trusted_file(const char *what, const char *path, bool secret);
/* The same for a program the agent runs: name found as posix_spawnp would
 * (PATH when it has no "/"); *resolved (malloc'd) is the path checked, the
 * one to run. */
int agent_trusted_program(const char *what, const char *name, char **resolved);

/* ---- the loop (loop.c) ----------------------------------------------------- */

typedef struct agent_net {
  const char *url;              /* https://lisecd:8443 */
  const char *ca, *cert, *key;  /* lisecd's CA, this host's certificate (CN = host id) */
  int64_t poll_ms, interval_s;
  const struct agent_lv_conf *libvirt; /* run: the inventory's source (libvirt.h); uri "" = none */
  const struct agent_bmc_conf *bmc;    /* run: the chassis report's BMC (bmc.h); NULL or "none" = none */
} agent_net;

/* Runs until SIGTERM or SIGINT: enrols when the controller does not know
 * this host's AK, then asks for challenges every poll_ms and attests when
 * told to (a decision needs a fresh quote, a confirmed location is
 * waiting, the interval is due) or when interval_s passed. 0 on a clean
 * stop, 2 when it could not start. */
int agent_run(const agent_settings *s, const agent_net *n);
/* POSTs body to lisecd at path over mutual TLS, on a fresh connection;
 * *status and *out (the JSON reply, may be NULL) on 0, -1 when no HTTP
 * answer came back (the reason is printed). */
int agent_post(CURL *c, const agent_net *n, const char *path, json_t *body, long *status,
               json_t **out);
/* The reply's error message, or "(no message)". */
const char *agent_reply_error(const json_t *reply);

/* ---- image reports (image.c) ------------------------------------------------ */

/* Reports the image a libvirt domain runs (its XML read from xml_path, "-"
 * for stdin) to lisecd for event "instantiate", "resume" or "migrate".
 * 0 when lisecd found it the package's image, or the domain names no
 * package (nothing to report); 1 when the image is not the package's (the
 * VM is non-compliant and lisecd recorded it); 2 with the reason. */
int agent_cmd_report_image(const agent_net *n, const char *event, const char *xml_path);
/* The domain XML from a file or stdin ("-"), at most PKG_DOMAIN_XML_MAX
 * bytes (malloc'd, not NUL-terminated); 2 with the reason printed. */
int agent_read_xml(const char *path, char **out, size_t *len);
/* "sha256:<hex>" of the regular file at path; 2 with the reason printed. */
int agent_hash_file(const char *path, char out[7 + 64 + 1]);
/* What report-image and check-image (named by cmd) both need first: the
 * server settings, and the domain read from the XML at xml_path. 0, or
 * the exit code (2) with the reason printed. */
int agent_domain_for_server(const agent_net *n, const char *cmd, const char *xml_path, pkg_domain *d);

/* `lisec-agent vm-id`: the lisec VM id of the domain whose XML is at
 * xml_path ("-" for stdin), as report-image, check-image and the restart
 * path read it (pkg_domain_read), on stdout, so that the libvirt hook asks
 * lisecd about the VM lisec's other parts name. 0, or 2 with the reason. */
int agent_cmd_vm_id(const char *xml_path);

/* ---- the check before a start (check.c) ------------------------------------- */

/* Asks lisecd, before libvirt starts a domain (its XML at xml_path, "-" for
 * stdin), whether the base image of its disk is one of its package's
 * images. 0 when it is (or the VM has no package to hold it to), 1 when
 * lisecd refused the start, 2 when lisecd could not be asked. */
int agent_cmd_check_image(const agent_net *n, const char *xml_path);

#endif
