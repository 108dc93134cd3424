/* libFuzzer harness: a message as a peer process could send it. The first
 * bytes are a header decoded against a small bound; the rest is read as a
 * field sequence that the input's own first byte chooses (u8, u32, u64,
 * bytes, str, strdup), so every order of fields meets every cut. A reader
 * that reads past its payload, or accepts a payload it then cannot account
 * for, fails under ASan or aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lisec_err err;
  ipc_header h;
  if (size >= IPC_HEADER_LEN) (void)ipc_header_decode(data, 4096, &h, &err);
  if (size < 1) return 0;
  uint8_t plan = data[0];
  size_t len = size - 1;
  uint8_t *p = malloc(len ? len : 1); /* exactly len bytes: ASan sees overreads */
  memcpy(p, data + 1, len);
  ipc_reader r;
  ipc_reader_init(&r, p, len);
  size_t consumed = 0;
  for (int i = 0; i < 8 && !r.bad; i++) {
    size_t before = r.left;
    switch ((plan >> ((i % 4) * 2)) & 3) {
    case 0: (void)ipc_get_u32(&r); break;
    case 1: {
      const uint8_t *b;
      size_t n;
      ipc_get_bytes(&r, 64, &b, &n);
      if (b && (b < p || b + n > p + len)) abort();
      break;
    }
    case 2: {
      char s[17];
      ipc_get_str(&r, s, sizeof s);
      if (strlen(s) > 16) abort();
      break;
    }
    default: free(ipc_get_strdup(&r, 32)); break;
    }
    if (!r.bad) consumed += before - r.left;
  }
  int rc = ipc_reader_done(&r, "fuzz", &err);
  /* Accepted means every byte was read by a field. */
  if (rc == 0 && consumed != len) abort();
  free(p);
  return 0;
}
