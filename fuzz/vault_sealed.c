/* libFuzzer harness, differential: a stored target row read by the fast
 * one-pass parser (vault_sealed_parse, which reads the canonical text itself
 * and hands anything else to the JSON reader) and by the general reader
 * (lisec_json_parse + vault_sealed_from_json) must give the same answer:
 * both refuse, or both accept with identical fields. Every record accepted
 * is also written back canonically and read again, so the fast path itself
 * is exercised on every shape the general reader admits. Any difference
 * aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault.h"

static void same(const vault_sealed *a, const vault_sealed *b) {
  if (strcmp(a->id, b->id) || strcmp(a->authorisation, b->authorisation) ||
      strcmp(a->kek_label, b->kek_label) || a->version != b->version ||
      a->wrapped_key_len != b->wrapped_key_len ||
      memcmp(a->wrapped_key, b->wrapped_key, a->wrapped_key_len) ||
      a->ciphertext_len != b->ciphertext_len ||
      (a->ciphertext_len && memcmp(a->ciphertext, b->ciphertext, a->ciphertext_len)))
    abort();
}

/* Both readers over len bytes (copied, so a read past the end is seen). */
static void compare(const char *data, size_t len, vault_sealed *general, bool *accepted) {
  char *body = malloc(len ? len : 1);
  if (!body) return;
  memcpy(body, data, len);
  lisec_err err;
  vault_sealed fast;
  int rf = vault_sealed_parse(body, len, &fast, &err);
  json_t *j = NULL;
  int rg = lisec_json_parse(body, len, &j, &err);
  if (!rg) rg = vault_sealed_from_json(j, general, &err);
  else memset(general, 0, sizeof *general);
  json_decref(j);
  if ((rf == 0) != (rg == 0)) abort();
  if (rf == 0) same(&fast, general);
  vault_sealed_free(&fast);
  *accepted = rg == 0;
  if (rg) vault_sealed_free(general);
  free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vault_sealed g;
  bool ok = false;
  compare((const char *)data, size, &g, &ok);
  if (!ok) return 0;
  /* the canonical form of what was accepted: the fast path's own input */
  json_t *j = NULL;
  lisec_err err;
  if (vault_sealed_to_json(&g, &j, &err) == 0) {
    char *text = lisec_json_dump_canonical(j);
    if (text) {
      vault_sealed again;
      bool ok2 = false;
      compare(text, strlen(text), &again, &ok2);
      if (!ok2) abort(); /* what was read must read back */
      same(&g, &again);
      vault_sealed_free(&again);
      free(text);
    }
    json_decref(j);
  }
  vault_sealed_free(&g);
  return 0;
}
