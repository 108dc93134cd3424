/* Fuzzes the host inventory parser (attest/inventory.c): bytes a host sends
 * about the domains it runs, read before anything about them is believed.
 * What parses keeps every bound (domains, disks, interfaces), has unique
 * UUIDs and ids that follow lisec's id rule; what does not parse leaves
 * nothing allocated behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  attest_inventory inv;
  lisec_err err = {0};
  /* Lower bounds on some inputs, so the bound checks themselves are reached. */
  size_t max_domains = size && data[0] == '{' ? 0 : 3;
  if (attest_inventory_parse((const char *)data, size, 0, max_domains, &inv, &err) != 0) {
    if (inv.n || inv.domains || !err.msg[0]) abort();
    return 0;
  }
  if (!inv.host[0] || inv.n > (max_domains ? max_domains : ATTEST_INV_MAX_DOMAINS)) abort();
  for (size_t i = 0; i < inv.n; i++) {
    const attest_inv_domain *d = &inv.domains[i];
    if (strlen(d->uuid) != 36 || d->n_images > ATTEST_INV_DISKS_MAX ||
        d->n_ifaces > ATTEST_INV_IFACES_MAX || (d->vm[0] && !lisec_id_valid(d->vm)) ||
        (d->package[0] && !lisec_id_valid(d->package)) || d->state < 0 || d->state > ATTEST_DOM_OTHER)
      abort();
    for (size_t j = 0; j < i; j++)
      if (strcmp(inv.domains[j].uuid, d->uuid) == 0) abort();
  }
  uint8_t digest[ATTEST_DIGEST_LEN], a[ATTEST_DIGEST_LEN], b[ATTEST_DIGEST_LEN];
  uint8_t nonce[ATTEST_NONCE_LEN] = {1};
  memset(digest, 0, sizeof digest);
  attest_inventory_binding(nonce, sizeof nonce, digest, a);
  attest_inventory_binding(nonce, sizeof nonce, digest, b);
  if (memcmp(a, b, sizeof a)) abort();
  attest_inventory_free(&inv);
  return 0;
}
