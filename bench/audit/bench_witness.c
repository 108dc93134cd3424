/* bench/audit witness: what the keys process's witness (keys/witness.h)
 * adds to one checkpoint. For a log of C checkpoints E entries apart, the
 * checkpoint key signs each note as the keys process did before (C_Sign or
 * the development key alone), then as it does now (the appender's
 * consistency proof, the note parsed, the proof verified, the state read
 * from and written to the token or file, then the same signature), in
 * alternating rounds; microseconds per checkpoint for each and the
 * difference per entry. Usage: bench_witness {--pkcs11 MODULE --pin-file F |
 * --dev-key FILE} [--checkpoints C] [--every E] */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "keys/signer.h"

static const char *arg(int argc, char **argv, const char *name, const char *def) {
  for (int i = 2; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

static size_t note(audit_tree *t, uint64_t size, char *out, size_t cap) {
  uint8_t root[AUDIT_HASH_LEN];
  lisec_err e = {0};
  if (audit_tree_root(t, size, NULL, NULL, root, &e)) exit(1);
  char b64[sodium_base64_ENCODED_LEN(AUDIT_HASH_LEN, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof b64, root, sizeof root, sodium_base64_VARIANT_ORIGINAL);
  return (size_t)snprintf(out, cap, "bench/audit\n%llu\n%s\n", (unsigned long long)size, b64);
}

int main(int argc, char **argv) {
  if (argc < 2 || sodium_init() < 0) return 2;
  uint64_t cps = strtoull(arg(argc, argv, "--checkpoints", "200"), NULL, 10);
  uint64_t every = strtoull(arg(argc, argv, "--every", "1000"), NULL, 10);
  const char *module = arg(argc, argv, "--pkcs11", NULL), *dev = arg(argc, argv, "--dev-key", NULL);
  keys_signer *k = NULL;
  lisec_err e = {0};
  char pin[64] = "";
  if (module) {
    FILE *f = fopen(arg(argc, argv, "--pin-file", "pin"), "r");
    if (!f || !fgets(pin, sizeof pin, f)) return 2;
    fclose(f);
    pin[strcspn(pin, "\r\n")] = '\0';
    keys_signer_pkcs11 c = {module, "lisec", pin, "bench-audit", true};
    if (keys_signer_open_pkcs11(&c, &k, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
  } else if (!dev || keys_signer_open_file(dev, true, &k, &e)) {
    return fprintf(stderr, "%s\n", e.msg), 1;
  }
  audit_tree *all = NULL; /* (every leaf in memory: lisecd's proof reads at most 16 from the store) */
  if (audit_tree_new(0, &all, &e)) return 1;
  for (uint64_t i = 0; i < cps * every; i++) {
    uint8_t leaf[AUDIT_HASH_LEN];
    audit_hash_leaf(&i, sizeof i, leaf);
    if (audit_tree_append(all, leaf, &e)) return 1;
  }
  double plain_ns = 0, wit_ns = 0;
  uint8_t sig[64];
  for (uint64_t c = 1; c <= cps; c++) {
    char msg[256];
    size_t len = note(all, c * every, msg, sizeof msg);
    uint64_t t0 = lisec_time_mono_ns();
    if (keys_signer_sign(k, (const uint8_t *)msg, len, sig, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    uint64_t t1 = lisec_time_mono_ns();
    audit_proof p = {0};
    uint64_t old = c == 1 ? 0 : (c - 1) * every;
    if (old && audit_tree_prove_consistency(all, old, c * every, NULL, NULL, &p, &e)) return 1;
    if (keys_signer_sign_witnessed(k, false, (const uint8_t *)msg, len, old, p.hash[0], p.len, sig, &e))
      return fprintf(stderr, "%s\n", e.msg), 1;
    uint64_t t2 = lisec_time_mono_ns();
    if (c > 1) plain_ns += (double)(t1 - t0), wit_ns += (double)(t2 - t1); /* the first is the state's creation */
  }
  double n = (double)(cps - 1);
  printf("witness_backend %s\nwitness_checkpoints %llu\nwitness_every %llu\n", module ? "pkcs11" : "file",
         (unsigned long long)cps, (unsigned long long)every);
  printf("witness_plain_us_per_checkpoint %.1f\nwitness_witnessed_us_per_checkpoint %.1f\n"
         "witness_added_us_per_checkpoint %.1f\nwitness_added_ns_per_entry %.1f\n",
         plain_ns / n / 1e3, wit_ns / n / 1e3, (wit_ns - plain_ns) / n / 1e3, (wit_ns - plain_ns) / n / (double)every);
  audit_tree_free(all);
  keys_signer_close(k);
  return 0;
}
