/* libFuzzer harness: the VM's event spool file (src/events/spoolrec.c,
 * docs/events.md "The spool"), read at every start and flush of lisec-ne
 * and lisec-event whatever a crash, a full disk or a stray write left in
 * it. The reader must account for every byte (good records, bad ones and
 * a torn tail, in order, without overlap); each good record must be whole
 * by its checksum, its payload an event that encodes again to the same
 * record, and its seq unique; the good records alone, written again as
 * the library rewrites the spool, must read back as the same records and
 * nothing else. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/spoolrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lisec_err err = {0};
  evsp_scan sc, again;
  if (evsp_scan_buf(data, size, &sc, &err) != 0) abort();
  if (sc.torn_off > size) abort();
  /* every byte accounted for: good and bad stretches in order, then the torn tail */
  size_t at = 0, g = 0, b = 0;
  while (g < sc.n || b < sc.n_bad) {
    bool good = g < sc.n && (b >= sc.n_bad || sc.rec[g].off < sc.bad[b].off);
    size_t off = good ? sc.rec[g].off : sc.bad[b].off, len = good ? sc.rec[g].len : sc.bad[b].len;
    if (off != at || len == 0) abort();
    at += len;
    good ? g++ : b++;
  }
  if (at != sc.torn_off) abort();
  uint8_t *out = malloc(size + sc.n + 1);
  size_t olen = 0;
  if (!out) abort();
  for (size_t i = 0; i < sc.n; i++) {
    const evsp_rec *r = &sc.rec[i];
    char *rec = NULL;
    size_t rlen = 0;
    uint64_t seq = 0;
    if (r->payload_off < r->off || r->payload_off + r->payload_len > r->off + r->len) abort();
    if (evsp_encode((const char *)data + r->payload_off, r->payload_len, &rec, &rlen, &seq, &err) != 0) abort();
    if (seq != r->seq || rlen - 1 != r->payload_off + r->payload_len - r->off ||
        memcmp(rec, data + r->off, rlen - 1) != 0)
      abort();
    for (size_t j = 0; j < i; j++)
      if (sc.rec[j].seq == r->seq) abort();
    memcpy(out + olen, rec, rlen);
    olen += rlen;
    free(rec);
  }
  if (evsp_scan_buf(out, olen, &again, &err) != 0) abort();
  if (again.n != sc.n || again.n_bad || again.torn_off != olen || again.unterminated) abort();
  for (size_t i = 0; i < sc.n; i++)
    if (again.rec[i].seq != sc.rec[i].seq || strcmp(again.rec[i].vm, sc.rec[i].vm) != 0) abort();
  evsp_scan_clear(&again);
  evsp_scan_clear(&sc);
  free(out);
  return 0;
}
