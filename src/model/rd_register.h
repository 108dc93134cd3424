/* The RD administration's signed registration of an RD function VM's
 * P-256 public key (TR 103 308 §5.7, §5.8; docs/rd.md, "Who a data key is
 * wrapped to"): an RD store's data key is wrapped only to the key the RD
 * administration registered for the VM, never to whatever key the host's
 * request names. The command follows the form of rd-extend (rd_command.h):
 *   {"command":{"counter":N,"expires":T,"public_key":"<SPKI, base64>",
 *               "type":"rd-recipient","v":1,"vm":"ID"},"signature":"<base64>"}
 * and, to remove a VM's registration,
 *   {"command":{"counter":N,"expires":T,"type":"rd-recipient-remove","v":1,
 *               "vm":"ID"},"signature":"<base64>"}
 * signed (ECDSA P-256 over SHA-256, or Ed25519) over the canonical bytes of
 * the command object, which the verifier rebuilds from the parsed fields.
 * public_key is the DER SubjectPublicKeyInfo of a P-256 key in base64, in
 * the one form model_rd_reg_key_parse writes, so a key has one text.
 *
 * Two checkers use it: the controller (model_rd_reg_open, then
 * model_rd_reg_fresh: expiry and the VM's counter, which it keeps) and the
 * keys process, which keeps no state and checks before every wrap only
 * that the RD administration signed this registration for this VM and
 * this key (model_rd_reg_binds). Pure: keys as EVP_PKEY, commands as
 * bytes. Refusals name TR103308-5.7-RD-RECIPIENT. */
#ifndef LISEC_MODEL_RD_REGISTER_H
#define LISEC_MODEL_RD_REGISTER_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"

#define MODEL_REQ_RD_RECIPIENT "TR103308-5.7-RD-RECIPIENT"
#define MODEL_RD_REG_MAX 2048   /* a command's bytes (a registration is ~400) */
#define MODEL_RD_REG_VM_MAX 128 /* a VM id (MODEL_ID_MAX) */
#define MODEL_RD_REG_KEY_B64_MAX                                               \
  128 /* a P-256 SPKI (91 bytes) in base64: 124 */
#define MODEL_RD_REG_LIFETIME_MAX (7 * 24 * 3600)
#define MODEL_RD_REG_COUNTER_MAX ((uint64_t)1 << 53)
#define MODEL_RD_REG_POINT_LEN 65

typedef struct model_rd_reg {
  char vm[MODEL_RD_REG_VM_MAX + 1];
  bool remove;      /* rd-recipient-remove: no key */
  uint64_t counter; /* above every earlier command's for this VM */
  int64_t expires;  /* the command is accepted before then (the controller's
                       check) */
  char public_key[MODEL_RD_REG_KEY_B64_MAX +
                  1];                    /* registration: the SPKI in base64 */
  uint8_t point[MODEL_RD_REG_POINT_LEN]; /* registration: its point, 0x04 || X
                                            || Y */
} model_rd_reg;

/* A P-256 public key given as PEM or as the base64 of its DER SPKI: its
 * point, and its SPKI in the one base64 form a command carries (b64 of
 * MODEL_RD_REG_KEY_B64_MAX + 1 bytes). EINVAL naming the requirement for
 * anything else (another curve, RSA, malformed, oversized). */
int model_rd_reg_key_parse(const char *text, size_t len,
                           uint8_t point[MODEL_RD_REG_POINT_LEN], char *b64,
                           lisec_err *err);
int model_rd_reg_canonical(const model_rd_reg *c, char *out, size_t cap,
                           lisec_err *err);
/* The signed command (malloc'd JSON text). */
int model_rd_reg_sign(const model_rd_reg *c, EVP_PKEY *key, char **out,
                      lisec_err *err);
/* Parses a command and verifies its signature with the RD administration's
 * key: EINVAL for a malformed command, EDENIED when admin_key is NULL or
 * did not sign it. Neither expiry nor counter is judged here. */
int model_rd_reg_open(const uint8_t *data, size_t len, EVP_PKEY *admin_key,
                      model_rd_reg *out, lisec_err *err);
/* The controller's rules for an opened command: now < expires <= now +
 * MODEL_RD_REG_LIFETIME_MAX (EDENIED), counter > last_counter (ECONFLICT,
 * a replay). */
int model_rd_reg_fresh(const model_rd_reg *c, uint64_t last_counter,
                       int64_t now, lisec_err *err);
/* The keys process's check before a wrap: data is a registration (not a
 * removal) the RD administration signed, for VM vm and for the key whose
 * point is point. EDENIED naming the requirement otherwise. */
int model_rd_reg_binds(const uint8_t *data, size_t len, EVP_PKEY *admin_key,
                       const char *vm,
                       const uint8_t point[MODEL_RD_REG_POINT_LEN],
                       lisec_err *err);

#endif
