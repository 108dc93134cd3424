/* libFuzzer harness for the parser of lisec-entropyd's reports
 * (rng/events.c), which lisecd runs on bodies posted to /v1/rng/events.
 * Bytes go through the same JSON parser lisecd uses, then the report
 * parser. Properties: a report that parses keeps every bound the format
 * states (counts, name alphabets, seed sizes, no repeated names), and its
 * memory is released on every path (ASan/LSan check that). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rng/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *j = NULL;
  if (lisec_json_parse((const char *)data, size, &j, NULL) != 0) return 0;
  rng_report r;
  int rc = rng_report_parse(j, &r, NULL);
  json_decref(j);
  if (rc == 0) {
    if (r.n_sources > RNG_REPORT_SOURCES_MAX || r.n_issuance > RNG_REPORT_CLIENTS_MAX) abort();
    if (r.seq == 0 || r.from > r.to || strlen(r.instance) != RNG_REPORT_INSTANCE_LEN) abort();
    for (size_t i = 0; i < r.n_sources; i++) {
      if (!r.sources[i].name[0] || strlen(r.sources[i].name) > RNG_REPORT_SOURCE_MAX) abort();
      if (strcmp(rng_src_state_name(r.sources[i].state), "unknown") == 0) abort();
      for (size_t k = 0; k < i; k++)
        if (strcmp(r.sources[i].name, r.sources[k].name) == 0) abort();
    }
    for (size_t i = 0; i < r.n_issuance; i++) {
      const rng_report_issue *c = &r.issuance[i];
      if (!c->client[0] || strlen(c->client) > RNG_REPORT_NAME_MAX) abort();
      if (strpbrk(c->client, "\"\\\n\r\t|")) abort();
      if (c->bytes < c->seeds * RNG_SEED_MIN || c->bytes > c->seeds * RNG_SEED_MAX) abort();
      for (size_t k = 0; k < i; k++)
        if (strcmp(c->client, r.issuance[k].client) == 0) abort();
    }
  }
  rng_report_free(&r);
  return 0;
}
