/* bench_attest: full verifications per second on one core — TPMS_ATTEST and
 * TPMT_SIGNATURE parsing, the AK signature, the PCR values against the
 * quoted digest, the parse and replay of the event log and the reference
 * check of every event — over evidence made by tpm2-tools and swtpm
 * (bench/attest/run makes it). The AK and the policy are loaded once, as the
 * controller keeps them; every other input is parsed on every round.
 *   bench_attest DIR SECONDS   (DIR: ak.pub quote.msg quote.sig quote.pcrs
 *                               eventlog.bin reference.json nonce.hex) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/attest.h"

static uint8_t *load(const char *dir, const char *name, size_t *len) {
  char path[1024];
  uint8_t *p = NULL;
  lisec_err err = {0};
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (lisec_file_read(path, 16u << 20, &p, len, &err) != 0) {
    fprintf(stderr, "bench_attest: %s\n", err.msg);
    exit(2);
  }
  return p;
}

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs for `seconds` of wall time but divides by the CPU time this process
 * used, as `openssl speed` divides by its user CPU time: on a shared
 * machine both rates then count only the work, not the waiting. */
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: bench_attest DIR SECONDS\n");
    return 2;
  }
  const char *dir = argv[1];
  double seconds = atof(argv[2]);
  size_t ak_len, msg_len, sig_len, pcrs_len, log_len, ref_len, nonce_len;
  uint8_t *akb = load(dir, "ak.pub", &ak_len), *msg = load(dir, "quote.msg", &msg_len);
  uint8_t *sig = load(dir, "quote.sig", &sig_len), *pcrs = load(dir, "quote.pcrs", &pcrs_len);
  uint8_t *log = load(dir, "eventlog.bin", &log_len), *ref = load(dir, "reference.json", &ref_len);
  uint8_t *nonce_hex = load(dir, "nonce.hex", &nonce_len);
  uint8_t nonce[32];
  lisec_err err = {0};
  while (nonce_len && (nonce_hex[nonce_len - 1] == '\n' || nonce_hex[nonce_len - 1] == '\r'))
    nonce_hex[--nonce_len] = '\0';
  attest_ak *ak = NULL;
  attest_policy *policy = NULL;
  if (lisec_hex_decode((char *)nonce_hex, nonce, sizeof nonce) != 0 ||
      attest_ak_from_file_bytes(akb, ak_len, &ak, &err) != 0 ||
      attest_policy_parse((char *)ref, ref_len, &policy, &err) != 0) {
    fprintf(stderr, "bench_attest: %s\n", err.msg[0] ? err.msg : "bad nonce.hex");
    return 2;
  }
  attest_context ctx = {.ak = ak, .nonce = nonce, .nonce_len = sizeof nonce, .policy = policy};
  attest_evidence ev = {msg, msg_len, sig, sig_len, pcrs, pcrs_len, log, log_len, NULL, 0};
  attest_verdict *v = malloc(sizeof *v);
  if (attest_verify(&ctx, &ev, v, &err) != 0 || !v->ok) {
    fprintf(stderr, "bench_attest: the evidence does not verify: %s\n",
                    v->nreasons ? v->reasons[0] : err.msg);
    return 1;
  }
  size_t events = v->nevents;
  unsigned long n = 0;
  double start = now_s(), end = start + seconds, t = start, cpu0 = cpu_s();
  while (t < end) {
    for (int i = 0; i < 64; i++) {
      if (attest_verify(&ctx, &ev, v, &err) != 0 || !v->ok) {
        fprintf(stderr, "bench_attest: verification failed mid-run\n");
        return 1;
      }
    }
    n += 64;
    t = now_s();
  }
  double cpu = cpu_s() - cpu0;
  double rate = (double)n / cpu;
  printf("lisec_full_verify_per_s %.0f events %zu cpu_seconds %.2f\n", rate, events, cpu);
  free(v);
  attest_ak_free(ak);
  attest_policy_free(policy);
  free(akb), free(msg), free(sig), free(pcrs), free(log), free(ref), free(nonce_hex);
  return 0;
}
