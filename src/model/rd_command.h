/* The RD administration's signed command that extends a retention
 * obligation's retention (issue 20; model/rd_command.c has the format).
 * Pure: the key comes in as an EVP_PKEY, the command as bytes, and the last
 * accepted counter in and out (the controller keeps it per obligation). */
#ifndef LISEC_MODEL_RD_COMMAND_H
#define LISEC_MODEL_RD_COMMAND_H

#include <openssl/evp.h>
#include <stdint.h>

#include "model/model.h"

#define MODEL_RD_CMD_MAX 4096
#define MODEL_RD_CMD_LIFETIME_MAX (7 * 24 * 3600)
#define MODEL_RD_COUNTER_MAX ((uint64_t)1 << 53)

typedef struct model_rd_command {
  char obligation[MODEL_ID_MAX + 1];
  uint64_t counter;
  int64_t expires;
  int64_t retention_s; /* the new retention */
} model_rd_command;

int model_rd_command_canonical(const model_rd_command *c, char *out, size_t cap, lisec_err *err);
/* The signed command file (malloc'd JSON). */
int model_rd_command_sign(const model_rd_command *c, EVP_PKEY *key, char **out, lisec_err *err);
/* Parses and verifies a command for obligation: signed by rd_admin_key, its
 * obligation, counter > last_counter (else ECONFLICT, a replay), now <
 * expires <= now + MODEL_RD_CMD_LIFETIME_MAX. Refusals name
 * TR103308-5.8-RD-EXTEND. */
int model_rd_command_verify(const uint8_t *data, size_t len, EVP_PKEY *rd_admin_key,
                            const char *obligation, uint64_t last_counter, int64_t now,
                            model_rd_command *out, lisec_err *err);

#endif
