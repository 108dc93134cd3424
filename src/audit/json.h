/* The audit log's proofs as JSON (src/audit/json.c): the shape lisecd's
 * /v1/audit proofs and `lisec audit` share. */
#ifndef LISEC_AUDIT_JSON_H
#define LISEC_AUDIT_JSON_H

#include <jansson.h>

#include "audit/audit.h"

/* {"index":i,"tree_size":n,"leaf_hash":hex,"root":hex,"inclusion_path":[hex...]} */
json_t *audit_inclusion_json(uint64_t index, uint64_t size, const uint8_t leaf_hash[AUDIT_HASH_LEN],
                             const uint8_t root[AUDIT_HASH_LEN], const audit_proof *proof);
/* {"old_size":m,"tree_size":n,"old_root":hex,"root":hex,"consistency_path":[hex...]} */
json_t *audit_consistency_json(uint64_t old_size, uint64_t size, const uint8_t old_root[AUDIT_HASH_LEN],
                               const uint8_t root[AUDIT_HASH_LEN], const audit_proof *proof);

#endif
