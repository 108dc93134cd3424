/* Fuzzes the audit entry decoder, the sealed-entry opener and the padding
 * inside a box (audit/entry.c, audit/seal.c), and the auditor's verifier fed
 * the input as an entry. The decoder accepts only the canonical encoding, so
 * whatever it accepts must encode back to exactly the same bytes; nothing may
 * read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lisec_err err = {0};
  audit_record r;
  if (audit_entry_decode(data, size, &r, &err) == 0) {
    uint8_t *again = NULL;
    size_t len = 0;
    if (audit_entry_encode(&r, &again, &len, &err) != 0) abort();
    if (len != size || memcmp(again, data, size) != 0) abort();
    free(again);
    uint64_t seq = 0;
    if (audit_entry_peek_seq(data, size, &seq, &err) != 0 || seq != r.seq) abort();
    audit_record_clear(&r);
  }
  /* A fixed LI key: random input must not open, and must not crash. */
  static const uint8_t sk[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  uint8_t *plain = NULL;
  size_t plen = 0;
  if (audit_entry_open(data, size, sk, &plain, &plen, &err) == 0) {
    /* sealed before the padding: the plain entry alone; since: padded to
     * whole buckets with the marker and at least one byte of padding */
    size_t box = size - 49;
    bool old = plen == box && plain[0] == AUDIT_ENTRY_PLAIN;
    bool padded = box % AUDIT_SEAL_BUCKET == 0 && plen + 2 <= box && box - plen - 1 <= AUDIT_SEAL_BUCKET;
    if (!old && !padded) abort();
    free(plain);
  }
  /* What a box holds once opened: mutations of the padding reach the
   * unpadder here, where a box's tag would stop them above. Whatever it
   * takes is inside the input and is a plain entry's first byte on. */
  size_t off = 0;
  if (audit_entry_unpad(data, size, &off, &plen, &err) == 0) {
    if (plen == 0 || off > size || plen > size - off || data[off] != AUDIT_ENTRY_PLAIN) abort();
    if (off != 0 && (size % AUDIT_SEAL_BUCKET != 0 || size - plen - off > AUDIT_SEAL_BUCKET)) abort();
  }
  static audit_vkey key;
  static int ready;
  if (!ready) {
    uint8_t pk[32] = {0};
    if (audit_vkey_make("fuzz", pk, &key, &err) != 0) abort();
    ready = 1;
  }
  audit_verifier *v = NULL;
  if (audit_verifier_new(&key, NULL, &v, &err) != 0) abort();
  audit_verifier_add_entry(v, 0, data, size, NULL, NULL);
  audit_verify_summary sum;
  audit_verifier_finish(v, &sum);
  if (sum.entries != 1) abort();
  audit_verifier_free(v);
  return 0;
}
