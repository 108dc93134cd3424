/* libFuzzer harness: the key file of an event key held in the VM's TPM
 * (src/events/tpmblob.c, docs/events.md "The key in the vTPM"), read by
 * lisec-event and lisec-ne before any TPM is opened: "LSEVTPM1" |
 * TPM2B_PUBLIC | TPM2B_PRIVATE, bounded and consumed exactly. Whatever
 * decodes must be the key lisec-event makes, encode again to a file that
 * decodes to the same areas, and give a P-256 public key or a clean
 * refusal. The same bytes, read as a TPMT_SIGNATURE, must convert to DER
 * or be refused, and never verify against a key the fuzzer does not hold. */
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "crypto/crypto.h"
#include "events/tpmkey.h"

static EVP_PKEY *other_key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!other_key && !(other_key = EVP_EC_gen("P-256"))) abort();
  lisec_err err = {0};
  TPM2B_PUBLIC pub, pub2;
  TPM2B_PRIVATE priv, priv2;
  if (evtpm_blob_decode(data, size, &pub, &priv, &err) == 0) {
    if (size > EVTPM_BLOB_MAX || evtpm_public_check(&pub, &err) != 0) abort();
    uint8_t *again = NULL;
    size_t len = 0;
    if (evtpm_blob_encode(&pub, &priv, &again, &len, &err) != 0) abort();
    if (evtpm_blob_decode(again, len, &pub2, &priv2, &err) != 0) abort();
    if (priv2.size != priv.size || memcmp(priv2.buffer, priv.buffer, priv.size) != 0) abort();
    if (memcmp(&pub2.publicArea.unique.ecc, &pub.publicArea.unique.ecc, sizeof pub.publicArea.unique.ecc) != 0)
      abort();
    free(again);
    EVP_PKEY *k = NULL;
    if (evtpm_public_pkey(&pub, &k, &err) == 0 && EVP_PKEY_get_bits(k) != 256) abort();
    EVP_PKEY_free(k);
  }
  TPMT_SIGNATURE sig;
  size_t off = 0;
  memset(&sig, 0, sizeof sig);
  if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(data, size, &off, &sig) == TSS2_RC_SUCCESS) {
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (evtpm_sig_der(&sig, &der, &der_len, &err) == 0) {
      if (der_len == 0 || der_len > 72) abort();
      if (crypto_pkey_verify(other_key, data, size, der, der_len, &err) == 0) abort();
      free(der);
    }
  }
  return 0;
}
