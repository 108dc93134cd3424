/* Host de-enrolment and what follows it (hosts_end.h): the operator's
 * removal of a host from attestation, the list of host client certificates
 * lisec revoked (store kind "attest.revoked", one document per certificate
 * keyed by the SHA-256 of its DER, so each host request is one point
 * lookup that every lisecd instance sharing the store agrees on), and the
 * refusal of those certificates for the host role. What enrolment itself
 * does about it (the certificates noted, a different EK refused as a
 * different host) is in ctl/enrol_id.c.
 *
 * The host's attestation document (kind "attest.host", ctl/attest.c) keeps
 * the certificates the host enrolled with ("certs"), and after a
 * de-enrolment "deenrolled_at", the SHA-256 of each AK it revoked
 * ("revoked_aks") and the trust "untrusted:deenrolled"; its "ak_pub",
 * pending enrolment, location and location offer are gone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "crypto/crypto.h"
#include "ctl/attest.h"
#include "ctl/attest_revoked.h"
#include "ctl/hosts_end.h"
#include "ctl/internal.h"
#include "ctl/model.h"

#define HOST_KIND "attest.host"
#define REVOKED_KIND CTL_REVOKED_KIND
#define REVOKED_MAX 100000 /* entries GET /v1/attest/revoked lists */

static bool host_id_ok(const char *s) {
  if (!s || strlen(s) != ATTEST_HOST_ID_LEN) return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

static int load_host(lisec_ctl *ctl, const char *host, json_t **doc, int64_t *ver, lisec_err *err) {
  char *body = NULL;
  int rc = store_doc_get(ctl->store, HOST_KIND, host, &body, ver, err);
  if (rc) return rc;
  rc = lisec_json_parse(body, strlen(body), doc, err);
  free(body);
  return rc;
}

/* ---- the revocation list -------------------------------------------------- */

int ctl_hosts_cert_check(lisec_ctl *ctl, const ctl_actor *actor, lisec_err *err) {
  const ctl_peer_cert *pc = ctl->peer;
  if (ctl_actor_role(actor) != CTL_ROLE_HOST || !pc || !pc->sha256 || !pc->sha256[0]) return 0;
  char *body = NULL;
  lisec_err e = {0};
  /* a lookup in the set the controller keeps; the store words a refusal */
  int rc = ctl_revoked_lookup(ctl_attest_revoked(ctl), ctl->store, pc->sha256, &body, &e);
  if (rc == 0) return 0;
  if (rc != 1) /* cannot tell: fail closed */
    return lisec_err_set(err, LISEC_EUNAVAIL, "TR103308-O.1.8: the revocation list cannot be read: %s",
                         e.msg);
  json_t *r = NULL;
  /* no body: this lisecd's de-enrolment of the host is committing now */
  if (body) (void)lisec_json_parse(body, strlen(body), &r, NULL);
  free(body);
  const char *host = json_string_value(json_object_get(r, "host"));
  char at[32];
  lisec_time_format(r ? json_integer_value(json_object_get(r, "revoked_at")) : lisec_time_now(), at);
  lisec_err_set(err, LISEC_EAUTH,
                "TR103308-O.1.8, NFV-SEC025-lifecycle: this client certificate (serial %s) was "
                "revoked at %s when host %.16s.. was de-enrolled: it is refused for the host role "
                "even though its CA still trusts it (GET /v1/attest/revoked)",
                pc->serial ? pc->serial : "?", at, host ? host : "?");
  json_decref(r);
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "attest.revoked-certificate", false, NULL,
                   LISEC_EAUTH, NULL, err, "certificate %s", pc->sha256);
}

typedef struct list_ctx {
  json_t *arr;
  size_t n;
} list_ctx;

static int list_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)id, (void)version;
  list_ctx *lc = ctx;
  if (lc->n >= REVOKED_MAX) return 0;
  json_t *r = NULL;
  if (lisec_json_parse(body, strlen(body), &r, NULL) != 0) return 0;
  char at[32];
  lisec_time_format(json_integer_value(json_object_get(r, "revoked_at")), at);
  json_object_set_new(r, "revoked_at", json_string(at));
  json_array_append_new(lc->arr, r);
  lc->n++;
  return 0;
}

int ctl_hosts_revoked(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  (void)actor; /* the route admits the roles */
  list_ctx lc = {json_array(), 0};
  if (!lc.arr) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_list(ctl->store, REVOKED_KIND, list_cb, &lc, err);
  if (rc) {
    json_decref(lc.arr);
    return rc;
  }
  *out = json_pack("{s:o, s:I}", "revoked", lc.arr, "count", (json_int_t)lc.n);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* ---- de-enrolment ------------------------------------------------------------ */

/* The hex SHA-256 of the AK's TPM2B_PUBLIC a document names (base64), or
 * "" when it names none. */
static void ak_sha256(const json_t *doc, char out[2 * CRYPTO_SHA256_LEN + 1]) {
  const char *b = json_string_value(json_object_get(doc, "ak_pub"));
  uint8_t *pub = NULL, d[CRYPTO_SHA256_LEN];
  size_t len = 0;
  out[0] = '\0';
  if (!b || crypto_base64_decode(b, ATTEST_TPM_PUBLIC_MAX, &pub, &len, NULL) != 0) return;
  crypto_sha256(pub, len, d);
  free(pub);
  lisec_hex_encode(d, sizeof d, out);
}

static int refuse(lisec_ctl *ctl, const ctl_actor *actor, const char *host, ctl_outcome o, int rc,
                  lisec_err *err) {
  return ctl_audit(ctl, actor, o, "attest.deenrol", false, NULL, rc, NULL, err, "host %s", host);
}

/* The stored part, in one transaction: each certificate the host enrolled
 * with on the revocation list, its document without an AK binding. */
static int store_deenrolment(lisec_ctl *ctl, const char *host, json_t *doc, int64_t ver,
                             const char *ak_hex, int64_t now, json_t *revoked, lisec_err *err) {
  int rc = store_begin(ctl->store, err);
  if (rc) return rc;
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(doc, "certs"), i, c) {
    const char *sha = json_string_value(json_object_get(c, "sha256"));
    if (!sha) continue;
    json_t *r = json_pack("{s:s, s:O, s:O, s:s, s:I, s:s}", "sha256", sha, "serial",
                          json_object_get(c, "serial"), "issuer", json_object_get(c, "issuer"),
                          "host", host, "revoked_at", (json_int_t)now, "reason", "de-enrolment");
    char *text = r ? lisec_json_dump_canonical(r) : NULL;
    json_decref(r);
    rc = text ? store_doc_put(ctl->store, REVOKED_KIND, sha, text, -1, NULL, err)
              : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    free(text);
    if (rc) break;
    /* refused from now on, before the commit makes it so for the store */
    ctl_revoked_note(ctl_attest_revoked(ctl), sha);
    json_array_append(revoked, c);
  }
  if (rc == 0) {
    json_t *aks = json_object_get(doc, "revoked_aks");
    if (!json_is_array(aks)) json_object_set_new(doc, "revoked_aks", aks = json_array());
    if (ak_hex[0]) json_array_append_new(aks, json_string(ak_hex));
    static const char *const dropped[] = {"ak_pub", "pending", "location_offer", "last_ok_at",
                                          "enrolled_at", "certs"};
    for (size_t k = 0; k < LISEC_ARRAY_LEN(dropped); k++) json_object_del(doc, dropped[k]);
    json_object_set_new(doc, "trust", json_string("untrusted:deenrolled"));
    json_object_set_new(doc, "location", json_null());
    json_object_set_new(doc, "deenrolled_at", json_integer(now));
    char *text = lisec_json_dump_canonical(doc);
    rc = text ? store_doc_put(ctl->store, HOST_KIND, host, text, ver, NULL, err)
              : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    free(text);
    if (rc == LISEC_ECONFLICT) lisec_err_set(err, rc, "host %.16s.. changed meanwhile; try again", host);
  }
  if (rc == 0) rc = store_commit(ctl->store, err);
  if (rc) (void)store_rollback(ctl->store);
  json_array_foreach(revoked, i, c)
    ctl_revoked_settle(ctl_attest_revoked(ctl), json_string_value(json_object_get(c, "sha256")), rc == 0);
  return rc;
}

int ctl_host_deenrol(lisec_ctl *ctl, const ctl_actor *actor, const char *host, json_t **out,
                     lisec_err *err) {
  if (!host_id_ok(host))
    return lisec_err_set(err, LISEC_EINVAL, "host: 64 lower-case hex digits (SHA-256 of the EK)");
  if (ctl_actor_role(actor) != CTL_ROLE_OPERATOR) {
    lisec_err_set(err, LISEC_EAUTH, "NFV-SEC025-lifecycle: only the operator de-enrols a host");
    return refuse(ctl, actor, host, CTL_OUTCOME_DENIED, LISEC_EAUTH, err);
  }
  json_t *doc = NULL, *revoked = NULL;
  int64_t ver = 0;
  int rc = load_host(ctl, host, &doc, &ver, err);
  if (rc == LISEC_ENOTFOUND) {
    lisec_err_set(err, rc, "NFV-SEC025-lifecycle: host %.16s.. never enrolled: nothing to de-enrol",
                  host);
    return refuse(ctl, actor, host, CTL_OUTCOME_REFUSED, rc, err);
  }
  if (rc) return rc;
  if (!json_object_get(doc, "ak_pub") && !json_object_get(doc, "pending") &&
      json_object_get(doc, "deenrolled_at")) {
    char at[32];
    lisec_time_format(json_integer_value(json_object_get(doc, "deenrolled_at")), at);
    json_decref(doc);
    lisec_err_set(err, LISEC_ECONFLICT,
                  "NFV-SEC025-lifecycle: host %.16s.. was de-enrolled already, at %s", host, at);
    return refuse(ctl, actor, host, CTL_OUTCOME_REFUSED, LISEC_ECONFLICT, err);
  }
  /* No host leaves while it runs (by intent, or as it proved) an LI VM: one
   * declared "li", or one the LI records know (registered and not retired,
   * paired; ctl_model_host_runs_li), declared li or not, as a VM's
   * termination asks. Once the host is gone no inventory of it arrives and
   * no lock finding would be raised, so the LI side retires or moves it
   * first; the refusal names no VM. A VM an LI names (its monitored VM)
   * that is neither does not keep the host:
   * refusing for it would tell the operator which hosts run such a VM
   * (§4.1), and the operator can take a host away without asking. Its LIs
   * are evaluated again with the host untrusted, and the LI administration
   * reads which they are in the sealed finding every de-enrolment gets. */
  json_t *li_vms = NULL, *lis = NULL;
  lisec_err te = {0};
  bool li_known = false;
  int trc = ctl_model_host_li_touch(ctl, host, &li_vms, &lis, &te);
  if (!trc && !json_array_size(li_vms)) trc = ctl_model_host_runs_li(ctl, host, &li_known, &te);
  if (trc || json_array_size(li_vms) || li_known) {
    json_decref(doc), json_decref(li_vms), json_decref(lis);
    if (te.msg[0]) LOG_WARN("attest: which VMs host %.16s.. runs is unknown: %s", host, te.msg);
    lisec_err_set(err, LISEC_ECONFLICT,
                  "NFV-SEC025-lifecycle, TR103308-4.1: host %.16s.. still runs VMs that only the "
                  "LI administration may move or retire%s; it cannot be de-enrolled until they are "
                  "gone from it",
                  host, te.msg[0] ? " (lisecd cannot say which)" : "");
    return refuse(ctl, actor, host, CTL_OUTCOME_REFUSED, LISEC_ECONFLICT, err);
  }
  json_decref(li_vms);
  char ak_hex[2 * CRYPTO_SHA256_LEN + 1], reason[600];
  ak_sha256(doc, ak_hex);
  size_t ncerts = json_array_size(json_object_get(doc, "certs"));
  snprintf(reason, sizeof reason,
           "NFV-SEC025-lifecycle: de-enrolled: AK binding %.16s%s revoked (TR103308-5.1), %zu "
           "client certificate(s) revoked (TR103308-O.1.8), location voided (TR103308-6.2-R10, "
           "R14), trust untrusted:deenrolled, placement of its VMs unproven",
           ak_hex[0] ? ak_hex : "(none)", ak_hex[0] ? ".." : "", ncerts);
  int64_t now = lisec_time_now();
  if ((rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "attest.deenrol", false, reason, 0, NULL, err,
                      "host %s", host)))
    goto done;
  if (!(revoked = json_array())) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = store_deenrolment(ctl, host, doc, ver, ak_hex, now, revoked, err))) {
    lisec_err fe = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "attest.deenrol", false, err->msg, 0, NULL, &fe,
                    "host %s", host);
    goto done;
  }
  /* This lisecd forgets the binding; the model takes the trust and location
   * away and what the host proved about its VMs. */
  ctl_attest_host_forget(ctl, host);
  snprintf(reason, sizeof reason, "NFV-SEC025-lifecycle: finding: host %.16s.. was de-enrolled", host);
  ctl_attest_li_finding(ctl, actor, host, reason, lis);
  lisec_err me = {0};
  rc = ctl_model_host_attested(ctl, host, MODEL_TRUST_UNTRUSTED, "untrusted:deenrolled", NULL, &me);
  if (rc && rc != LISEC_ENOTFOUND)
    LOG_WARN("attest: de-enrolled host %.16s..: the model did not take it: %s", host, me.msg);
  if (ctl_model_host_unobserve(ctl, host, &me) != 0)
    LOG_WARN("attest: de-enrolled host %.16s..: its observation stays stored: %s", host, me.msg);
  rc = 0;
  *out = json_pack("{s:s, s:s, s:O, s:s}", "host", host, "trust", "untrusted:deenrolled",
                   "revoked_certificates", revoked, "revoked_ak_sha256", ak_hex);
  if (!*out) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
done:
  json_decref(revoked), json_decref(lis);
  json_decref(doc);
  return rc;
}
