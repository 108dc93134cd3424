/* The audit log's RFC 3161 time-stamping client (issue 19 item 1, TR 103
 * 308 §4.2): asks the configured TSA for a timestamp over a signed
 * checkpoint note and keeps only a token that verifies at once (signature
 * to [audit] tsa_ca, imprint, nonce, genTime near this clock). Runs in the
 * controller, on the checkpoint thread; no key is involved. The token and
 * its verdict are stored by the audit log as a document beside the
 * checkpoint (kind CTL_TSA_DOC_KIND, id the tree size). */
#ifndef LISEC_CTL_AUDIT_TSA_H
#define LISEC_CTL_AUDIT_TSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "base/base.h"
#include "crypto/tsa.h"

#define CTL_TSA_DOC_KIND AUDIT_TIMESTAMP_DOC_KIND

typedef struct ctl_tsa ctl_tsa;

typedef struct ctl_tsa_config {
  const char *url;        /* http:// or https:// */
  const char *ca_file;    /* the TSA's CA (PEM): tokens must chain to it */
  const char *tls_ca;     /* https only: the CA of the TSA's TLS server certificate */
  uint32_t timeout_ms;    /* whole exchange; 0 = 5000 */
  uint32_t max_bytes;     /* largest response taken; 0 = 65536 */
  uint32_t max_skew_ms;   /* |genTime - now| allowed; 0 = 300000 */
  bool required;          /* an un-timestamped checkpoint is a checkpoint failure */
} ctl_tsa_config;

int ctl_tsa_open(const ctl_tsa_config *cfg, ctl_tsa **out, lisec_err *err);
void ctl_tsa_close(ctl_tsa *t);
bool ctl_tsa_required(const ctl_tsa *t);
/* The URL without any user:password part (for logs and findings). */
const char *ctl_tsa_url(const ctl_tsa *t);

/* A verified token over SHA-256(note) (*token malloc'd, DER). */
int ctl_tsa_stamp(ctl_tsa *t, const char *note, size_t len, uint8_t **token, size_t *token_len,
                  crypto_tsa_info *info, lisec_err *err);

/* The stored document of checkpoint `size`: {"tree_size", "token" (base64
 * DER), "gen_time"} or, un-timestamped, {"tree_size", "error"}
 * (*body malloc'd). */
int ctl_tsa_doc(uint64_t size, const uint8_t *token, size_t token_len, const crypto_tsa_info *info,
                const char *error, char **body, lisec_err *err);

#endif
