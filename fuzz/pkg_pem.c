/* libFuzzer harness: the check of the files a package's manifest does not
 * list (pem.c: countersignatures, artifact signatures and certificates),
 * which no digest covers, so they may hold PEM blocks of their kind and
 * nothing else. Besides not crashing: what it accepts as a signature file
 * (one "CMS" or "PKCS7" block, whitespace only around it) starts, after
 * whitespace, with that block's begin line and ends, before whitespace,
 * with its end line; and anything it accepts as a signature file it also
 * accepts as a file that may carry text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/internal.h"

static bool space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const cms[] = {"CMS", "PKCS7", NULL};
  static const char *const certs[] = {"CERTIFICATE", NULL};
  lisec_err err;
  if (size > PKG_SIG_FILE_MAX) return 0;
  (void)pkg_pem_only(data, size, certs, 16, true, "f.cert", &err);
  if (pkg_pem_only(data, size, cms, 1, false, "f.cms", &err) != 0) return 0;
  size_t a = 0, z = size;
  while (a < z && space(data[a])) a++;
  while (z > a && space(data[z - 1])) z--;
  if (z - a < 22 || memcmp(data + a, "-----BEGIN ", 11) != 0 || memcmp(data + z - 5, "-----", 5) != 0)
    abort();
  if (pkg_pem_only(data, size, cms, 1, true, "f.cms", &err) != 0) abort();
  return 0;
}
