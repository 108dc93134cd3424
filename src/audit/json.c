/* The log's proofs as JSON, in the one shape lisecd answers them and the
 * lisec command prints them, so both floors above this module (ctl/ and
 * cmd/lisec) share it without the command linking the controller. Pure:
 * hashes in, JSON out. */
#include "audit/json.h"

static json_t *hex_json(const uint8_t h[AUDIT_HASH_LEN]) {
  char hex[2 * AUDIT_HASH_LEN + 1];
  lisec_hex_encode(h, AUDIT_HASH_LEN, hex);
  return json_string(hex);
}

static json_t *path_json(const audit_proof *p) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < p->len; i++) json_array_append_new(a, hex_json(p->hash[i]));
  return a;
}

json_t *audit_inclusion_json(uint64_t index, uint64_t size, const uint8_t leaf_hash[AUDIT_HASH_LEN],
                             const uint8_t root[AUDIT_HASH_LEN], const audit_proof *proof) {
  return json_pack("{s:I, s:I, s:o, s:o, s:o}", "index", (json_int_t)index, "tree_size",
                   (json_int_t)size, "leaf_hash", hex_json(leaf_hash), "root", hex_json(root),
                   "inclusion_path", path_json(proof));
}

json_t *audit_consistency_json(uint64_t old_size, uint64_t size, const uint8_t old_root[AUDIT_HASH_LEN],
                               const uint8_t root[AUDIT_HASH_LEN], const audit_proof *proof) {
  return json_pack("{s:I, s:I, s:o, s:o, s:o}", "old_size", (json_int_t)old_size, "tree_size",
                   (json_int_t)size, "old_root", hex_json(old_root), "root", hex_json(root),
                   "consistency_path", path_json(proof));
}
