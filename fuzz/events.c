/* libFuzzer harness: what an LI VM sends to POST /v1/li/events
 * (docs/events.md): one signed event, a batch, or a signed batch (form 2),
 * parsed within the limits lisecd uses by default, each event's canonical
 * bytes rebuilt, the signatures checked against a key the fuzzer does not
 * hold, and the sequence rules applied. Whatever parses must rebuild to
 * text within max_event and must never verify; a signed batch's digests
 * are its events' SHA-256 and its statement rebuilds from its events. */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "events/events.h"

static EVP_PKEY *vm_key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!vm_key && !(vm_key = EVP_EC_gen("P-256"))) abort();
  if (size > 64 * 1024) return 0;
  lisec_err err = {0};
  json_t *body = NULL;
  if (lisec_json_parse((const char *)data, size, &body, &err)) return 0;
  const ev_limits lim = {EV_EVENT_CEILING, EV_BATCH_CEILING};
  ev_batch b;
  if (ev_batch_parse(body, &lim, &b, &err) == 0) {
    if (b.n == 0 || b.n > lim.max_batch) abort();
    if (ev_batch_verify(&b, vm_key, &err) == 0) abort(); /* no forgery */
    bool listed = true; /* form 2: every claimed digest is its event's */
    char *made[EV_BATCH_CEILING] = {0};
    for (size_t i = 0; i < b.n; i++) {
      if (strlen(b.ev[i].text) > lim.max_event) abort();
      if (b.form == 2) {
        uint8_t d[EV_DIGEST_LEN];
        crypto_sha256(b.ev[i].canonical, strlen(b.ev[i].canonical), d);
        if (memcmp(d, b.ev[i].digest, sizeof d) != 0 || strncmp(b.ev[i].text, "{\"digest\":\"", 11) != 0) abort();
        listed = listed && memcmp(d, b.claimed[i], sizeof d) == 0;
        if (ev_unsigned_text(&b.ev[i].rec, &made[i], &err)) abort();
        continue;
      }
      if (ev_verify(&b.ev[i], vm_key, &err) == 0) abort();
      /* the rebuilt text parses back to the same canonical bytes */
      ev_signed again;
      if (ev_parse_bytes(b.ev[i].text, strlen(b.ev[i].text), lim.max_event, &again, &err)) abort();
      if (strcmp(again.canonical, b.ev[i].canonical) != 0) abort();
      ev_signed_clear(&again);
    }
    if (b.form == 2) {
      /* the VM side rebuilds the same statement from the events alone */
      char *stmt = NULL;
      if (listed && (ev_signed_batch_statement((const char *const *)made, b.n, lim.max_event, &stmt, &err) ||
                     strcmp(stmt, b.statement) != 0))
        abort();
      free(stmt);
      for (size_t i = 0; i < b.n; i++) free(made[i]);
    }
    ev_seq_verdict v;
    (void)ev_seq_check(b.ev[0].rec.seq > 1 ? b.ev[0].rec.seq - 2 : 0, &b, &v, &err);
    ev_batch_clear(&b);
  }
  json_decref(body);
  return 0;
}
