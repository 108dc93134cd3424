/* Who an RD data key is wrapped to (ctl/rd.h; TR 103 308 §5.7, §5.8;
 * docs/rd.md): the RD administration registers each RD VM's P-256 public
 * key by a command signed with its key ([rd] admin_pubkey;
 * model/rd_register.h), as the LI administration pairs LI VMs' keys. The
 * command's counter, per VM, rises with every accepted command and outlives
 * a removal, so no earlier command is replayed; the registration (the
 * signed text itself) is a store document (CTL_RD_RECIPIENT_KIND), which
 * ctl_rd_key hands to the keys process with every wrap so that it checks
 * the signature itself. Every act and refusal is recorded sealed to the
 * RD administration. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ctl/clock.h"
#include "ctl/internal.h"
#include "ctl/rd.h"
#include "model/rd_register.h"

/* serialises the counter's check and its update */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;

static int doc_read(lisec_ctl *ctl, const char *vm, json_t **out,
                    lisec_err *err) {
  char *body = NULL;
  *out = NULL;
  int rc =
      store_doc_get(ctl->store, CTL_RD_RECIPIENT_KIND, vm, &body, NULL, err);
  if (rc)
    return rc;
  rc = lisec_json_parse(body, strlen(body), out, err);
  free(body);
  return rc;
}

/* What rd-admin reads of a VM's document (the signed text left out). */
static json_t *view(const json_t *d) {
  const json_t *key = json_object_get(d, "public_key");
  json_t *v = json_pack("{s:O, s:b, s:O}", "vm", json_object_get(d, "vm"),
                        "registered", key != NULL, "last_counter",
                        json_object_get(d, "last_counter"));
  if (v && key)
    json_object_set(v, "public_key", (json_t *)key);
  return v;
}

int ctl_rd_recipient_of(lisec_ctl *ctl, const char *vm, uint8_t point[65],
                        char *reg, size_t cap, lisec_err *err) {
  json_t *d = NULL;
  int rc = doc_read(ctl, vm, &d, err);
  const char *key = json_string_value(json_object_get(d, "public_key"));
  const char *text = json_string_value(json_object_get(d, "registration"));
  char b64[MODEL_RD_REG_KEY_B64_MAX + 1];
  if (!rc && (!key || !text))
    rc = lisec_err_set(err, LISEC_ENOTFOUND, "no recipient key is registered");
  if (!rc && strlen(text) >= cap)
    rc = lisec_err_set(err, LISEC_ESTORE,
                       "rd: a stored registration is too long");
  if (!rc &&
      (rc = model_rd_reg_key_parse(key, strlen(key), point, b64, err)) != 0)
    lisec_err_wrap(err, "rd: the stored recipient key of a VM");
  if (!rc)
    snprintf(reg, cap, "%s", text);
  json_decref(d);
  return rc;
}

/* A recipient key is one RD VM's: the RD data keys of a VM are wrapped to
 * its key alone, so a key registered for two VMs would let either VM (and
 * a host outside one's jurisdiction that runs the other) open the other's
 * data keys. A registration of a key another VM holds now is refused (one
 * removed may be registered again elsewhere). Called under reg_mu. */
typedef struct key_holder {
  const char *vm;
  const uint8_t *point;
  char other[MODEL_RD_REG_VM_MAX + 1];
} key_holder;

static int holder_of(void *ctx, const char *id, const char *body,
                     int64_t version) {
  (void)version;
  key_holder *h = ctx;
  json_t *j = NULL;
  if (h->other[0] || strcmp(id, h->vm) == 0 ||
      lisec_json_parse(body, strlen(body), &j, NULL))
    return 0;
  const char *key = json_string_value(json_object_get(j, "public_key"));
  uint8_t point[MODEL_RD_REG_POINT_LEN];
  char b64[MODEL_RD_REG_KEY_B64_MAX + 1];
  if (key && model_rd_reg_key_parse(key, strlen(key), point, b64, NULL) == 0 &&
      memcmp(point, h->point, sizeof point) == 0)
    snprintf(h->other, sizeof h->other, "%s", id);
  json_decref(j);
  return 0;
}

int ctl_rd_recipient_post(lisec_ctl *ctl, const ctl_actor *actor,
                          const char *vm, const json_t *body, json_t **out,
                          lisec_err *err) {
  const char *action = "rd.recipient.register";
  int rc = ctl_rd_need_admin(ctl, actor, action, "rd recipients", err);
  if (rc)
    return rc;
  EVP_PKEY *admin = ctl_rd_admin_key(ctl->shared);
  if (!ctl->shared->rd)
    return lisec_err_set(err, LISEC_EUNAVAIL, "Retained Data is not open");
  if (!admin)
    return lisec_err_set(
        err, LISEC_EUNAVAIL,
        MODEL_REQ_RD_RECIPIENT
        ": no RD administration key is configured ([rd] admin_pubkey): no "
        "RD VM's key can be registered, and no RD data key is given");
  if ((rc = lisec_id_check("vm", vm, strlen(vm), err)))
    return rc;
  char *text = lisec_json_dump_canonical(body);
  if (!text)
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  model_rd_reg c;
  json_t *d = NULL;
  int64_t now = 0;
  pthread_mutex_lock(&reg_mu);
  lisec_err gerr = {0};
  int got = doc_read(ctl, vm, &d, &gerr);
  json_int_t last = json_integer_value(json_object_get(d, "last_counter"));
  if (got && got != LISEC_ENOTFOUND)
    rc = lisec_err_set(err, got, "%s", gerr.msg);
  /* the command's expiry against the proven clock only (TR 103 308 §4.2) */
  if (!rc)
    rc = ctl_clock_trusted_s(
        ctl->shared, "the expiry of an RD administration's signed command",
        &now, err);
  if (!rc)
    rc = model_rd_reg_open((const uint8_t *)text, strlen(text), admin, &c, err);
  if (!rc && c.remove)
    action = "rd.recipient.remove";
  if (!rc && strcmp(c.vm, vm) != 0)
    rc =
        lisec_err_set(err, LISEC_EDENIED,
                      MODEL_REQ_RD_RECIPIENT ": the command is for another VM");
  if (!rc)
    rc = model_rd_reg_fresh(&c, last > 0 ? (uint64_t)last : 0, now, err);
  key_holder h = {vm, c.point, ""};
  char held[MODEL_RD_REG_VM_MAX + 96] = "";
  if (!rc && !c.remove &&
      !(rc = store_doc_list(ctl->store, CTL_RD_RECIPIENT_KIND, holder_of, &h,
                            err)) &&
      h.other[0]) {
    snprintf(held, sizeof held,
             "the recipient key is registered to RD VM %s already", h.other);
    rc = lisec_err_set(
        err, LISEC_ECONFLICT,
        MODEL_REQ_RD_RECIPIENT
        ": this key is registered to another RD VM already; each RD VM has "
        "its own key pair, so that no VM opens another's data keys");
  }
  if (rc) {
    rc = ctl_audit_rd(
        ctl, actor,
        rc == LISEC_ECONFLICT || rc == LISEC_EINVAL ? CTL_OUTCOME_REFUSED
        : rc == LISEC_EDENIED                       ? CTL_OUTCOME_DENIED
                                                    : CTL_OUTCOME_FAILED,
        action, held[0] ? held : NULL, rc, NULL, err, "rd-recipient %s", vm);
    goto out;
  }
  char why[MODEL_RD_REG_VM_MAX + 160];
  uint8_t fp[CRYPTO_SHA256_LEN];
  crypto_sha256(c.point, sizeof c.point, fp);
  if (c.remove)
    snprintf(why, sizeof why,
             "the recipient key of RD VM %s removed by signed command %llu",
             c.vm, (unsigned long long)c.counter);
  else
    snprintf(why, sizeof why,
             "RD VM %s's recipient key sha256:%02x%02x%02x%02x%02x%02x%02x%02x "
             "registered by signed command %llu",
             c.vm, fp[0], fp[1], fp[2], fp[3], fp[4], fp[5], fp[6], fp[7],
             (unsigned long long)c.counter);
  if ((rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_OK, action, why, 0, NULL, err,
                         "rd-recipient %s", vm)))
    goto out;
  json_t *doc =
      c.remove
          ? json_pack("{s:s, s:I, s:I}", "vm", vm, "last_counter",
                      (json_int_t)c.counter, "changed_at", (json_int_t)now)
          : json_pack("{s:s, s:I, s:I, s:s, s:s}", "vm", vm, "last_counter",
                      (json_int_t)c.counter, "changed_at", (json_int_t)now,
                      "public_key", c.public_key, "registration", text);
  char *dtext = doc ? lisec_json_dump_canonical(doc) : NULL;
  rc = dtext ? store_doc_put(ctl->store, CTL_RD_RECIPIENT_KIND, vm, dtext, -1,
                             NULL, err)
             : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (rc)
    rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_FAILED, action, NULL, rc, NULL,
                      err, "rd-recipient %s", vm);
  if (!rc && !(*out = view(doc)))
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  free(dtext);
  json_decref(doc);
out:
  pthread_mutex_unlock(&reg_mu);
  json_decref(d);
  free(text);
  return rc;
}

int ctl_rd_recipient_get(lisec_ctl *ctl, const ctl_actor *actor, const char *vm,
                         json_t **out, lisec_err *err) {
  const char *action = "rd.recipient.read";
  int rc = ctl_rd_need_admin(ctl, actor, action, "rd recipients", err);
  if (rc)
    return rc;
  if ((rc = lisec_id_check("vm", vm, strlen(vm), err)))
    return rc;
  json_t *d = NULL;
  if ((rc = doc_read(ctl, vm, &d, err))) {
    if (rc == LISEC_ENOTFOUND)
      rc = lisec_err_set(err, rc,
                         "rd: no key was ever registered for VM %.128s", vm);
    return rc;
  }
  json_t *v = view(d);
  json_decref(d);
  if (!v)
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if ((rc = ctl_audit_rd(ctl, actor, CTL_OUTCOME_OK, action, NULL, 0, NULL, err,
                         "rd-recipient %s", vm))) {
    json_decref(v);
    return rc;
  }
  *out = v;
  return 0;
}
