/* Known-answer tests of the SP 800-90A DRBGs lisec uses, run through
 * OpenSSL 3's own EVP_RAND implementations with a TEST-RAND parent that
 * plays back the vector's entropy and nonce. The library runs the built-in
 * vectors before its first output (a failing self-test leaves it unusable);
 * the unit tests run the full NIST CAVP files in tests/data/drbg/. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "crypto/crypto.h"
#include "rng/rng.h"

const char *rng_drbg_kind_name(rng_drbg_kind k) {
  switch (k) {
  case RNG_DRBG_CTR_AES256: return "CTR-DRBG AES-256 (derivation function)";
  case RNG_DRBG_HMAC_SHA256: return "HMAC-DRBG SHA-256";
  case RNG_DRBG_HMAC_SHA384: return "HMAC-DRBG SHA-384";
  }
  return "unknown";
}

static int set_test_entropy(EVP_RAND_CTX *t, const uint8_t *ent, size_t len, const uint8_t *nonce,
                            size_t nonce_len) {
  OSSL_PARAM params[3], *p = params;
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_RAND_PARAM_TEST_ENTROPY, (void *)ent, len);
  if (nonce)
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_RAND_PARAM_TEST_NONCE, (void *)nonce, nonce_len);
  *p = OSSL_PARAM_construct_end();
  return EVP_RAND_CTX_set_params(t, params) == 1;
}

int rng_drbg_configure(EVP_RAND_CTX *ctx, rng_drbg_kind kind) {
  OSSL_PARAM params[3], *p = params;
  int use_df = 1;
  switch (kind) {
  case RNG_DRBG_CTR_AES256:
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_DRBG_PARAM_CIPHER, "AES-256-CTR", 0);
    *p++ = OSSL_PARAM_construct_int(OSSL_DRBG_PARAM_USE_DF, &use_df);
    break;
  case RNG_DRBG_HMAC_SHA256:
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_DRBG_PARAM_MAC, "HMAC", 0);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_DRBG_PARAM_DIGEST, "SHA256", 0);
    break;
  case RNG_DRBG_HMAC_SHA384:
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_DRBG_PARAM_MAC, "HMAC", 0);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_DRBG_PARAM_DIGEST, "SHA384", 0);
    break;
  }
  *p = OSSL_PARAM_construct_end();
  return EVP_RAND_CTX_set_params(ctx, params) == 1;
}

const char *rng_drbg_kind_alg(rng_drbg_kind k) {
  return k == RNG_DRBG_CTR_AES256 ? "CTR-DRBG" : "HMAC-DRBG";
}

int rng_kat_run(const rng_kat *v, lisec_err *err) {
  if (v->out_len == 0 || v->out_len > 1024)
    return lisec_err_set(err, LISEC_EINVAL, "DRBG KAT: output length %zu out of range", v->out_len);
  int rc = LISEC_ECRYPTO;
  const char *stage = "fetch";
  unsigned int strength = 256;
  uint8_t *got = OPENSSL_malloc(v->out_len);
  EVP_RAND *trand = EVP_RAND_fetch(NULL, "TEST-RAND", NULL);
  EVP_RAND *drand = EVP_RAND_fetch(NULL, rng_drbg_kind_alg(v->kind), NULL);
  EVP_RAND_CTX *test = trand ? EVP_RAND_CTX_new(trand, NULL) : NULL;
  EVP_RAND_CTX *drbg = (test && drand) ? EVP_RAND_CTX_new(drand, test) : NULL;
  if (!got || !drbg) goto out;
  OSSL_PARAM sp[2] = {OSSL_PARAM_construct_uint(OSSL_RAND_PARAM_STRENGTH, &strength),
                      OSSL_PARAM_construct_end()};
  stage = "test source";
  if (EVP_RAND_CTX_set_params(test, sp) != 1 ||
      !set_test_entropy(test, v->entropy, v->entropy_len, v->nonce, v->nonce_len) ||
      EVP_RAND_instantiate(test, strength, 0, NULL, 0, NULL) != 1)
    goto out;
  stage = "configure";
  if (!rng_drbg_configure(drbg, v->kind)) goto out;
  stage = "instantiate";
  if (EVP_RAND_instantiate(drbg, strength, v->pr, v->pers, v->pers_len, NULL) != 1) goto out;
  stage = "generate A";
  if (v->pr && !set_test_entropy(test, v->entropy_pr_a, v->entropy_pr_a_len, NULL, 0)) goto out;
  if (EVP_RAND_generate(drbg, got, v->out_len, strength, v->pr, v->add_a, v->add_a_len) != 1)
    goto out;
  stage = "generate B";
  if (v->pr && !set_test_entropy(test, v->entropy_pr_b, v->entropy_pr_b_len, NULL, 0)) goto out;
  if (EVP_RAND_generate(drbg, got, v->out_len, strength, v->pr, v->add_b, v->add_b_len) != 1)
    goto out;
  stage = "compare";
  if (!crypto_ct_equal(got, v->out, v->out_len)) {
    rc = lisec_err_set(err, LISEC_ECRYPTO,
                       "SP800-90A self-test: %s output differs from the NIST CAVP vector",
                       rng_drbg_kind_name(v->kind));
    goto done;
  }
  rc = 0;
  goto done;
out:
  rc = lisec_err_set(err, LISEC_ECRYPTO, "SP800-90A self-test: %s failed at %s",
                     rng_drbg_kind_name(v->kind), stage);
done:
  if (got) OPENSSL_clear_free(got, v->out_len);
  EVP_RAND_CTX_free(drbg);
  EVP_RAND_CTX_free(test);
  EVP_RAND_free(drand);
  EVP_RAND_free(trand);
  return rc;
}

/* One CAVP vector per mechanism, compiled in so the library can test itself
 * without files: CTR_DRBG AES-256 use_df, no reseed, with personalisation
 * (drbgtestvectors no_reseed/CTR_DRBG.rsp, count 0), and HMAC_DRBG SHA-384
 * with prediction resistance (pr_true/HMAC_DRBG.rsp, the first vector of
 * ../shared/vectors/drbg/hmac-drbg-sha384-pr.json). */
static int hexv(const char *hex, uint8_t *out, size_t cap, size_t *len) {
  size_t n = strlen(hex) / 2;
  if (n > cap || lisec_hex_decode(hex, out, n) != 0) return -1;
  *len = n;
  return 0;
}

int rng_kat_selftest(lisec_err *err) {
  static const struct {
    rng_drbg_kind kind;
    bool pr;
    const char *entropy, *nonce, *pers, *add_a, *add_b, *pr_a, *pr_b, *out;
  } vecs[] = {
      {RNG_DRBG_CTR_AES256, false,
       "5416e77b5e1d872d4ff91973b1be66bc07f4a99e30db7d0006da006fcfb082db",
       "7a811ce62b9fd34af186b2b3e50eaf5d",
       "71ee0c7699ac0e805632f2058de38bf872b8340f89998f7a8a2ad4ac045ae6ef", "", "", "", "",
       "68f5859cf76f94c445d9fcd34fc17ac224c3d7d7c2fc38faaf3c24be6cd3cd93b7f9d8a6146f5ac83ac1d7b1b2"
       "b7e7ecbc1a2e38760ef86a577d402d85990d9b"},
      {RNG_DRBG_HMAC_SHA384, true,
       "779b229296f5a0bfb9195862408016936a2095ab555d2e364f8beb78c55ee50a",
       "2d64cc2745fa849eaa299359aa2d8e11",
       "d6eec1c6d0b4796bc9cbb143e7c1c6bb5c6646ad77f0129407576b6d7b789789",
       "8f19ca39090252edf4708c7e52125d90dd2fd4fcf38993af70b741c49fc13c13",
       "4f9ea2e4e7fc276e9ccb5df49a2cb0f4b5b90400f2ebf20d9527c3ecf618ebad",
       "e3fb75ef1bebf49ea01208dbed171e99855edcd127d440a5b6a4db41d08b6593",
       "5aac94673a0edceb28235e38434b642323a8b13ea996ded7850556d1a1d9b010",
       "d23646fa3b895f873a4af49ac577eab7f5a13a77e2d3e0f465a139e82cd452c63f47303d52d2b9faae6b94a7de"
       "cb351ae3000a154b465ad7d7b35b31e6cde3bead2dbb65d8c8b2c04a7f65fa0d00ee6818fab18747b6f15c98b1"
       "33c208974c1c67d022054ee062099e144cd5de1d101ea6754603e3f0fafa98cfe1eecac92be766ddd5ef2c7aa8"
       "7c8417dc786bdf95e4424d37a86e80b81ae430c1e81e0f718d13a9842fe2e1697c3bbadad3dea9d52aa1ea556c"
       "3e53b176513ba2fb72bd8661"},
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(vecs); i++) {
    uint8_t ent[64], non[32], pers[64], aa[64], ab[64], pa[64], pb[64], out[256];
    rng_kat v = {.kind = vecs[i].kind, .pr = vecs[i].pr};
    if (hexv(vecs[i].entropy, ent, sizeof ent, &v.entropy_len) ||
        hexv(vecs[i].nonce, non, sizeof non, &v.nonce_len) ||
        hexv(vecs[i].pers, pers, sizeof pers, &v.pers_len) ||
        hexv(vecs[i].add_a, aa, sizeof aa, &v.add_a_len) ||
        hexv(vecs[i].add_b, ab, sizeof ab, &v.add_b_len) ||
        hexv(vecs[i].pr_a, pa, sizeof pa, &v.entropy_pr_a_len) ||
        hexv(vecs[i].pr_b, pb, sizeof pb, &v.entropy_pr_b_len) ||
        hexv(vecs[i].out, out, sizeof out, &v.out_len))
      return lisec_err_set(err, LISEC_EINTERNAL, "SP800-90A self-test: built-in vector %zu", i);
    v.entropy = ent, v.nonce = non, v.pers = pers, v.add_a = aa, v.add_b = ab;
    v.entropy_pr_a = pa, v.entropy_pr_b = pb, v.out = out;
    int rc = rng_kat_run(&v, err);
    if (rc) return rc;
  }
  return 0;
}
