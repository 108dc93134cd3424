/* Enrolment's side of a host's lifecycle end (enrol_id.h): the request's
 * client certificate noted in the host's attestation document (kind
 * "attest.host", ctl/attest.c), the refusal that names a de-enrolment, the
 * refusal of a TPM whose EK is not the one a host id enrolled with, and
 * the refusal of an AK a de-enrolment revoked (its SHA-256 in the
 * document's "revoked_aks", ctl/hosts_end.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "crypto/crypto.h"
#include "ctl/enrol_id.h"
#include "ctl/internal.h"

#define HOST_KIND "attest.host"
#define HOST_ID_LEN 64

static bool host_id_ok(const char *s) {
  if (!s || strlen(s) != HOST_ID_LEN) return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

void ctl_hosts_note_cert(json_t *doc, const lisec_ctl *ctl) {
  const ctl_peer_cert *pc = ctl ? ctl->peer : NULL;
  if (!pc || !pc->sha256 || !pc->sha256[0]) return;
  json_t *certs = json_object_get(doc, "certs");
  if (!json_is_array(certs)) {
    certs = json_array();
    if (!certs || json_object_set_new(doc, "certs", certs)) return;
  }
  size_t i;
  json_t *c;
  json_array_foreach(certs, i, c) {
    const char *h = json_string_value(json_object_get(c, "sha256"));
    if (h && strcmp(h, pc->sha256) == 0) return;
  }
  while (json_array_size(certs) >= CTL_HOSTS_CERTS_MAX) json_array_remove(certs, 0);
  json_array_append_new(certs, json_pack("{s:s, s:s, s:s}", "sha256", pc->sha256, "serial",
                                         pc->serial ? pc->serial : "", "issuer",
                                         pc->issuer ? pc->issuer : ""));
}

int ctl_hosts_refuse_deenrolled(lisec_ctl *ctl, const ctl_actor *actor, const char *host,
                                const char *action, lisec_err *err) {
  /* Evidence is refused (403); a challenge or a nonce is answered as for
   * a host lisec does not know (404), which is what makes an agent enrol
   * again once the operator has given it a new certificate. */
  int rc = strcmp(action, "attest.appraise") == 0 ? LISEC_EDENIED : LISEC_ENOTFOUND;
  lisec_err_set(err, rc,
                "NFV-SEC025-lifecycle, TR103308-5.1: host %.16s.. was de-enrolled: its AK binding "
                "is revoked and its quotes are refused; it must enrol again (POST /v1/attest/enrol, "
                "a fresh TPM2_ActivateCredential)",
                host);
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, false, NULL, rc, NULL, err, "host %s",
                   host);
}

int ctl_hosts_enrol_identity(lisec_ctl *ctl, const ctl_actor *actor, const char *host,
                             lisec_err *err) {
  if (ctl_actor_role(actor) != CTL_ROLE_HOST || !host_id_ok(actor->subject) ||
      strcmp(actor->subject, host) == 0)
    return 0;
  json_t *doc = NULL;
  char *body = NULL;
  lisec_err e = {0};
  if (store_doc_get(ctl->store, HOST_KIND, actor->subject, &body, NULL, &e) != 0) return 0;
  int prc = lisec_json_parse(body, strlen(body), &doc, &e);
  free(body);
  if (prc) return 0; /* the usual refusal follows */
  bool had_ek = json_object_get(doc, "ek_pub") != NULL;
  bool gone = json_object_get(doc, "deenrolled_at") != NULL && !json_object_get(doc, "ak_pub");
  json_decref(doc);
  if (!had_ek) return 0;
  if (gone)
    lisec_err_set(err, LISEC_EDENIED,
                  "O.1.6, NFV-SEC025-lifecycle: this TPM's EK is host %.16s.., not host %.16s.. of "
                  "the certificate, which was de-enrolled: a TPM replaced or re-seeded is a new "
                  "host; enrol it under its own id with a certificate whose CN is %s",
                  host, actor->subject, host);
  else
    lisec_err_set(err, LISEC_EDENIED,
                  "O.1.6, NFV-SEC025-lifecycle: this TPM's EK is host %.16s.., not the EK host "
                  "%.16s.. enrolled with: its TPM was replaced or its endorsement seed changed, so it "
                  "is a different host; de-enrol host %.16s.. (lisec host remove) and enrol this "
                  "TPM as a new host with a certificate whose CN is %s",
                  host, actor->subject, actor->subject, host);
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "attest.enrol", false, NULL, LISEC_EDENIED, NULL,
                   err, "host %s", actor->subject);
}


int ctl_hosts_refuse_revoked_ak(lisec_ctl *ctl, const ctl_actor *actor, const char *host,
                                const json_t *doc, const uint8_t *ak, size_t ak_len, lisec_err *err) {
  const json_t *aks = json_object_get(doc, "revoked_aks");
  if (!json_array_size(aks)) return 0;
  uint8_t d[CRYPTO_SHA256_LEN];
  char hex[2 * CRYPTO_SHA256_LEN + 1];
  crypto_sha256(ak, ak_len, d);
  lisec_hex_encode(d, sizeof d, hex);
  size_t i;
  const json_t *a;
  bool revoked = false;
  json_array_foreach(aks, i, a) {
    const char *h = json_string_value(a);
    if (h && strcmp(h, hex) == 0) revoked = true;
  }
  if (!revoked) return 0;
  lisec_err_set(err, LISEC_EDENIED,
                "NFV-SEC025-lifecycle, TR103308-5.1: " ATTEST_AK_REVOKED ": host %.16s..'s AK "
                "(SHA-256 %.16s..) was revoked when the host was de-enrolled and is never bound "
                "again; the agent must make a new AK in its TPM and enrol with it (lisec-agent run "
                "does so when told this; by hand: lisec-agent enrol --new-ak)",
                host, hex);
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "attest.enrol", false, NULL, LISEC_EDENIED, NULL,
                   err, "host %s", host);
}
