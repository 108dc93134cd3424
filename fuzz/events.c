/* libFuzzer harness: what an LI VM sends to POST /v1/li/events
 * (docs/events.md): one signed event or a batch, parsed within the limits
 * lisecd uses by default, each event's canonical bytes rebuilt, its
 * signature checked against a key the fuzzer does not hold, and the
 * sequence rules applied. Whatever parses must rebuild to text within
 * max_event and must never verify. */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    for (size_t i = 0; i < b.n; i++) {
      if (strlen(b.ev[i].text) > lim.max_event) abort();
      if (ev_verify(&b.ev[i], vm_key, &err) == 0) abort(); /* no forgery */
      /* the rebuilt text parses back to the same canonical bytes */
      ev_signed again;
      if (ev_parse_bytes(b.ev[i].text, strlen(b.ev[i].text), lim.max_event, &again, &err)) abort();
      if (strcmp(again.canonical, b.ev[i].canonical) != 0) abort();
      ev_signed_clear(&again);
    }
    ev_seq_verdict v;
    (void)ev_seq_check(b.ev[0].rec.seq > 1 ? b.ev[0].rec.seq - 2 : 0, &b, &v, &err);
    ev_batch_clear(&b);
  }
  json_decref(body);
  return 0;
}
