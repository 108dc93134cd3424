/* Recording events in the audit log: a canonical JSON entry, sealed with a
 * libsodium sealed box to the LI administration's X25519 key when it is about
 * LI, hashed as an RFC 9162 leaf (SHA-256 of 0x00 || entry) and appended
 * durably. Appends are serialised across workers so indices stay contiguous. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/internal.h"
#include "store/store.h"

#define RECORD_MAX (64 * 1024)

static void leaf_hash(const uint8_t *data, size_t len, uint8_t out[32]) {
  crypto_hash_sha256_state st;
  const uint8_t prefix = 0x00;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, &prefix, 1);
  crypto_hash_sha256_update(&st, data, len);
  crypto_hash_sha256_final(&st, out);
}

int ctl_record(lisec_ctl *ctl, const ctl_actor *actor, const ctl_event *ev, uint64_t *index,
               lisec_err *err) {
  ctl_shared *sh = ctl->shared;
  if (ev->li && !sh->li_key_set)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: no LI administration key is configured ([audit] "
                         "li_admin_key), so this LI event cannot be recorded; action refused");
  int64_t now = lisec_time_now_ms();
  json_t *entry = json_pack("{s:I, s:s, s:{s:s, s:s}, s:s, s:s}", "time_ms", (json_int_t)now,
                            "action", ev->action, "actor", "subject", actor->subject, "role",
                            actor->role, "subject", ev->subject, "outcome", ev->outcome);
  if (entry && ev->reason) json_object_set_new(entry, "reason", json_string(ev->reason));
  char *text = entry ? lisec_json_dump_canonical(entry) : NULL;
  json_decref(entry);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  size_t len = strlen(text);
  uint8_t *data = (uint8_t *)text;
  uint8_t *sealed = NULL;
  int rc = 0;
  if (len > RECORD_MAX) rc = lisec_err_set(err, LISEC_ETOOBIG, "audit entry over %d bytes", RECORD_MAX);
  if (!rc && ev->li) {
    sealed = malloc(len + crypto_box_SEALBYTES);
    if (!sealed || crypto_box_seal(sealed, data, len, sh->li_admin_pk) != 0)
      rc = lisec_err_set(err, LISEC_ECRYPTO, "cannot seal the LI audit entry");
    sodium_memzero(text, len);
    data = sealed;
    len += crypto_box_SEALBYTES;
  }
  if (!rc) {
    store_log_entry e = {.time_ms = now, .sealed = ev->li, .data = data, .len = len};
    leaf_hash(data, len, e.leaf_hash);
    if (!ctl->in_tx) pthread_mutex_lock(&sh->record_lock);
    rc = store_log_size(ctl->store, &e.index, err);
    if (!rc) rc = store_log_append(ctl->store, &e, 1, err);
    if (!ctl->in_tx) pthread_mutex_unlock(&sh->record_lock);
    if (rc)
      rc = lisec_err_set(err, LISEC_ESTORE,
                         "TR103308-5.5: the audit record could not be made durable (%s); action refused",
                         err ? err->msg : "store error");
    else if (index)
      *index = e.index;
  }
  free(text);
  free(sealed);
  return rc;
}

int ctl_tx_begin(lisec_ctl *ctl, lisec_err *err) {
  pthread_mutex_lock(&ctl->shared->record_lock);
  int rc = store_begin(ctl->store, err);
  if (rc) {
    pthread_mutex_unlock(&ctl->shared->record_lock);
    return rc;
  }
  ctl->in_tx = true;
  return 0;
}

int ctl_tx_end(lisec_ctl *ctl, int rc, lisec_err *err) {
  if (!ctl->in_tx) return rc;
  if (rc) store_rollback(ctl->store);
  else rc = store_commit(ctl->store, err);
  ctl->in_tx = false;
  pthread_mutex_unlock(&ctl->shared->record_lock);
  return rc;
}
