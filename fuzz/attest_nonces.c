/* Fuzzes the stored nonce table (attest/nonce.c, attest_nonces_from_json):
 * the controller keeps each host's outstanding attestation nonces in the
 * store and reads them back before a quote is checked, and `lisec attest`
 * keeps its own in a state file. What is asserted: a table read holds at
 * most its bound; written back (canonical JSON, as both writers do) it reads
 * again and writes the same text; and every nonce written is found in the
 * table with the expiry written for it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *text_of(const attest_nonces *t) {
  json_t *j = attest_nonces_to_json(t);
  char *s = j ? lisec_json_dump_canonical(j) : NULL;
  json_decref(j);
  if (!s) abort();
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t max = 1 + data[0] % 16; /* small tables, so the bound is met */
  json_t *doc = NULL;
  lisec_err err = {0};
  if (lisec_json_parse((const char *)data + 1, size - 1, &doc, &err) != 0) return 0;
  attest_nonces *t = NULL;
  int rc = attest_nonces_from_json(doc, max, &t, &err);
  json_decref(doc);
  if (rc != 0) {
    if (t || !err.msg[0]) abort();
    return 0;
  }
  char *first = text_of(t);
  json_t *back = NULL;
  attest_nonces *again = NULL;
  if (lisec_json_parse(first, strlen(first), &back, &err) != 0 ||
      attest_nonces_from_json(back, max, &again, &err) != 0)
    abort();
  json_decref(back);
  char *second = text_of(again);
  if (strcmp(first, second) != 0) abort();
  /* every entry written is one of the table's, found with its expiry */
  json_t *w = NULL;
  if (lisec_json_parse(first, strlen(first), &w, &err) != 0) abort();
  const json_t *arr = json_object_get(w, "nonces");
  if (json_array_size(arr) > max) abort();
  for (size_t i = 0; i < json_array_size(arr); i++) {
    uint8_t nonce[ATTEST_NONCE_LEN];
    const char *hex = json_string_value(json_object_get(json_array_get(arr, i), "nonce"));
    if (!hex || lisec_hex_decode(hex, nonce, sizeof nonce) != 0) abort();
    json_int_t want = 0; /* the last entry of that nonce's (a table may hold one twice) */
    for (size_t k = 0; k < json_array_size(arr); k++)
      if (!strcmp(hex, json_string_value(json_object_get(json_array_get(arr, k), "nonce"))))
        want = json_integer_value(json_object_get(json_array_get(arr, k), "expires_ms"));
    if (attest_nonce_expiry(t, nonce, sizeof nonce) != want) abort();
  }
  json_decref(w);
  free(first);
  free(second);
  attest_nonces_free(t);
  attest_nonces_free(again);
  return 0;
}
