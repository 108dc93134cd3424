/* libFuzzer harness: the RD administration's signed registration of an RD
 * VM's key (model/rd_register.c) as the controller opens it (POST
 * /v1/rd/recipients/{vm}: model_rd_reg_open) and as the keys process checks
 * it before every wrap (model_rd_reg_binds, on the bytes an RD_KEY request
 * carries), at most 4096 bytes. The harness's RD administration key is made
 * at start; nothing of it is kept. The first byte picks how the rest is
 * read:
 *  - even: the whole signed text, which a fuzzer cannot sign: nothing may
 *    open, and nothing may bind (refused naming TR103308-5.7-RD-RECIPIENT);
 *  - odd: the command object alone, which the harness signs as it is, so
 *    that what lies behind the signature is reached. A command that opens
 *    must be its own canonical text (what is signed is what is used), must
 *    open under no other key, must bind for its own VM and key when it
 *    registers one and never when it removes, nor for another VM or key,
 *    and must sign and open again to the same fields.
 * Seeds in fuzz/corpus/rd_register/ (scripts/test/rd-register-seeds). */
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "model/rd_register.h"

static EVP_PKEY *admin, *other;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int binds(const char *text, size_t n, EVP_PKEY *key, const char *vm, const uint8_t *point) {
  lisec_err err = {0};
  int rc = model_rd_reg_binds((const uint8_t *)text, n, key, vm, point, &err);
  if (rc && !strstr(err.msg, MODEL_REQ_RD_RECIPIENT)) abort();
  return rc;
}

static void same(const model_rd_reg *a, const model_rd_reg *b) {
  if (strcmp(a->vm, b->vm) || a->remove != b->remove || a->counter != b->counter || a->expires != b->expires ||
      strcmp(a->public_key, b->public_key) || memcmp(a->point, b->point, sizeof a->point))
    abort();
}

/* text (the command alone), signed by the harness: the properties above */
static void signed_by_admin(const char *text, size_t n) {
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  char *b64 = NULL;
  lisec_err err = {0};
  if (crypto_pkey_sign(admin, text, n, &sig, &sig_len, &err) || crypto_base64_encode(sig, sig_len, &b64)) abort();
  size_t cap = n + strlen(b64) + 40;
  char *doc = malloc(cap);
  if (!doc) abort();
  int len = snprintf(doc, cap, "{\"command\":%.*s,\"signature\":\"%s\"}", (int)n, text, b64);
  if (len < 0 || (size_t)len >= cap) abort();
  model_rd_reg c, d;
  uint8_t zero[MODEL_RD_REG_POINT_LEN] = {0};
  if (model_rd_reg_open((const uint8_t *)doc, (size_t)len, admin, &c, &err) != 0) {
    if (binds(doc, (size_t)len, admin, "rd-q", zero) == 0) abort();
    goto out;
  }
  /* the canonical text is the signed text */
  char canon[MODEL_RD_REG_MAX];
  if (model_rd_reg_canonical(&c, canon, sizeof canon, &err) || strlen(canon) != n || memcmp(canon, text, n)) abort();
  if (c.vm[0] == '\0' || c.counter == 0 || (c.remove ? c.public_key[0] != '\0' : c.point[0] != 0x04)) abort();
  if (model_rd_reg_open((const uint8_t *)doc, (size_t)len, other, &d, &err) != LISEC_EDENIED ||
      model_rd_reg_open((const uint8_t *)doc, (size_t)len, NULL, &d, &err) != LISEC_EDENIED)
    abort();
  /* the keys process's check: this VM and this key, a registration only */
  if ((binds(doc, (size_t)len, admin, c.vm, c.point) == 0) == c.remove) abort();
  char vm2[sizeof c.vm + 1];
  snprintf(vm2, sizeof vm2, "%sx", c.vm);
  uint8_t pt2[MODEL_RD_REG_POINT_LEN];
  memcpy(pt2, c.point, sizeof pt2);
  pt2[MODEL_RD_REG_POINT_LEN - 1] ^= 1;
  if (binds(doc, (size_t)len, admin, vm2, c.point) == 0 || binds(doc, (size_t)len, admin, c.vm, pt2) == 0 ||
      binds(doc, (size_t)len, other, c.vm, c.point) == 0 || binds(doc, (size_t)len, admin, NULL, c.point) == 0)
    abort();
  /* what lisec rd sign-recipient writes of it opens to the same fields */
  char *again = NULL;
  if (model_rd_reg_sign(&c, admin, &again, &err) ||
      model_rd_reg_open((const uint8_t *)again, strlen(again), admin, &d, &err))
    abort();
  same(&c, &d);
  free(again);
out:
  free(doc);
  free(sig);
  free(b64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!admin && (!(admin = EVP_EC_gen("P-256")) || !(other = EVP_EC_gen("P-256")))) abort();
  if (size < 1 || size > 4096) return 0;
  bool harness_signs = data[0] & 1;
  size_t n = size - 1;
  /* copied to exactly its length, so ASan sees any read past it */
  char *text = malloc(n ? n : 1);
  if (!text) abort();
  memcpy(text, data + 1, n);
  if (harness_signs) {
    signed_by_admin(text, n);
  } else {
    lisec_err err = {0};
    model_rd_reg c;
    uint8_t point[MODEL_RD_REG_POINT_LEN] = {0x04};
    if (model_rd_reg_open((const uint8_t *)text, n, admin, &c, &err) == 0 ||
        binds(text, n, admin, "rd-q", point) == 0)
      abort();
  }
  free(text);
  return 0;
}
