/* Fuzzes the location certificate (attest/location.c) that lisec-agent
 * carries from asset management to lisecd with its quotes: lisecd parses
 * the DER as CMS before any signature is checked, and the JSON content a
 * valid signature carries after that. The first byte chooses: even, the
 * rest is the DER as it arrives; odd, the rest is content that the harness
 * signs with its asset-management CA's key (made at start, test_ca.h), so
 * the content's parser is reached too. A location that parses has a 64-hex
 * host id, an ISO 3166 country and subdivision, coordinates in range and an
 * issue time not in the future of AT, and its rendering
 * (attest_location_content) signs and parses back to the same location. */
#include <math.h>
#include <openssl/cms.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "test_ca.h"

#define AT 1798761600 /* 2027-01-01T00:00:00Z: within the certificate */

static attest_location_ca *ca;
static test_ca am; /* asset management's CA, which signs the content */

static void init(void) {
  test_ca_make(&am, "lisec fuzz asset management");
  lisec_err err = {0};
  if (attest_location_ca_parse((const uint8_t *)am.pem, strlen(am.pem), &ca, &err) != 0) abort();
}

/* content signed as asset management would, DER into *der (OPENSSL_free). */
static int sign(const void *content, size_t len, uint8_t **der) {
  BIO *in = BIO_new_mem_buf(content, (int)len);
  CMS_ContentInfo *cms = in ? CMS_sign(am.cert, am.key, NULL, in, CMS_BINARY) : NULL;
  *der = NULL;
  int n = cms ? i2d_CMS_ContentInfo(cms, der) : -1;
  CMS_ContentInfo_free(cms);
  BIO_free(in);
  return n;
}

static bool hex64(const char *s) {
  if (strlen(s) != ATTEST_HOST_ID_LEN) return false;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return false;
  return true;
}

static void check(const attest_location *l) {
  if (!hex64(l->host_id) || strlen(l->country) != 2 || strncmp(l->subdivision, l->country, 2) != 0 ||
      !l->site[0] || !isfinite(l->latitude) || !isfinite(l->longitude) || fabs(l->latitude) > 90 ||
      fabs(l->longitude) > 180 || l->issued_at > AT + 300)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ca) init();
  if (size < 1 || size > ATTEST_LOCATION_MAX) return 0;
  attest_location loc;
  lisec_err err = {0};
  if (!(data[0] & 1)) {
    if (attest_location_parse(data + 1, size - 1, ca, AT, &loc, &err) == 0) check(&loc);
    return 0;
  }
  uint8_t *der = NULL;
  int n = sign(data + 1, size - 1, &der);
  if (n <= 0) abort();
  int rc = attest_location_parse(der, (size_t)n, ca, AT, &loc, &err);
  OPENSSL_free(der);
  if (rc) return 0;
  check(&loc);
  /* what it says, rendered and signed again, is the same location */
  char *again = attest_location_content(&loc);
  if (!again || (n = sign(again, strlen(again), &der)) <= 0) abort();
  attest_location back;
  if (attest_location_parse(der, (size_t)n, ca, AT, &back, &err) != 0) abort();
  OPENSSL_free(der);
  free(again);
  if (strcmp(back.host_id, loc.host_id) || strcmp(back.country, loc.country) ||
      strcmp(back.subdivision, loc.subdivision) || strcmp(back.site, loc.site) ||
      strcmp(back.asset_tag, loc.asset_tag) || back.latitude != loc.latitude ||
      back.longitude != loc.longitude || back.reset_count != loc.reset_count ||
      back.restart_count != loc.restart_count || back.issued_at != loc.issued_at)
    abort();
  return 0;
}
