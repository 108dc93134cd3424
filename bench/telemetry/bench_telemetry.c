/* bench/telemetry: lisecd's chassis telemetry work for a fleet (issue 19's
 * figure: 10,000 hosts at one report per minute under 5 % of one core).
 * For each of HOSTS generated hosts (distinct ids, BMC identities, asset
 * tags and readings; 1 % with an intrusion, 1 % drawing peak power while
 * idle), ROUNDS reports are processed as lisecd processes them beside the
 * quote: the report's SHA-256 and its binding to a nonce
 * (attest_evidence_binding), the strict parse (attest_chassis_parse), and
 * the appraisal with the host's document updated (ctl_telemetry_appraise:
 * baseline, void latch, findings, the reading re-encoded). The quote, the
 * HTTPS request and the store write are the attestation's own costs,
 * measured by bench/inventory. Prints CPU time per report (p50, p99) and
 * one minute's fleet as a share of one core: total process CPU time for
 * HOSTS reports / 60 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/attest.h"
#include "crypto/crypto.h"
#include "ctl/telemetry.h"

static double now_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_thread(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int hosts = argc > 1 ? atoi(argv[1]) : 10000, rounds = argc > 2 ? atoi(argv[2]) : 3;
  if (hosts < 1 || rounds < 1) return fprintf(stderr, "usage: bench_telemetry [HOSTS [ROUNDS]]\n"), 2;
  lisec_config *cfg = lisec_config_new();
  lisec_config_set(cfg, "telemetry", "missing", "finding");
  ctl_telemetry_conf conf;
  lisec_err err = {0};
  if (ctl_telemetry_conf_read(cfg, &conf, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  lisec_config_free(cfg);
  json_t **docs = calloc((size_t)hosts, sizeof *docs);
  double *lat = calloc((size_t)hosts * rounds, sizeof *lat);
  char (*report)[1024] = malloc((size_t)hosts * sizeof *report);
  if (!docs || !lat || !report) return 1;
  attest_inventory inv = {0};
  attest_inv_domain doms[20];
  memset(doms, 0, sizeof doms);
  for (int i = 0; i < 20; i++) doms[i].state = ATTEST_DOM_RUNNING;
  inv.domains = doms;
  int64_t t = 1800000000;
  size_t voids = 0, findings = 0, n = 0;
  double cpu0 = now_cpu();
  for (int r = 0; r < rounds; r++) {
    for (int h = 0; h < hosts; h++) {
      if (!docs[h]) docs[h] = json_object();
      char host[65];
      snprintf(host, sizeof host, "%064x", h + 1);
      int len = snprintf(report[h], sizeof report[h],
                         "{\"asset_tag\":\"RACK%04d-U%02d\",\"bmc\":{\"firmware\":\"2.%d\",\"guid\":"
                         "\"4c4c4544-%04x-3510-8052-b4c04f4b4e32\",\"manufacturer\":674,\"product\":256},"
                         "\"cpu_c\":%d,\"host\":\"%s\",\"inlet_c\":%d,\"intrusion\":%s,\"poh_h\":%d,"
                         "\"power\":\"on\",\"power_w\":%d,\"read_at\":%lld,\"version\":1}",
                         h / 40, h % 40, h % 7, h & 0xffff, 40 + h % 30, host, 18 + h % 10,
                         h % 100 == 7 ? "true" : "false", 9000 + h + r, h % 100 == 9 ? 900 : 200 + h % 300,
                         (long long)(t + r * 60));
      double t0 = now_thread();
      uint8_t sha[ATTEST_DIGEST_LEN], bound[ATTEST_DIGEST_LEN], nonce[32] = {(uint8_t)h};
      crypto_sha256(report[h], (size_t)len, sha);
      attest_evidence_binding(nonce, sizeof nonce, NULL, sha, bound);
      attest_chassis c;
      if (attest_chassis_parse(report[h], (size_t)len, 0, &c, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
      attest_chassis_verdict v;
      inv.n = h % 100 == 9 ? 0 : 5;
      char tag[32];
      snprintf(tag, sizeof tag, "RACK%04d-U%02d", h / 40, h % 40);
      ctl_telemetry_appraise(docs[h], &c, &conf, tag, &inv, t + r * 60, &v);
      lat[n++] = now_thread() - t0;
      voids += v.nvoid, findings += v.nfind;
    }
  }
  double cpu = now_cpu() - cpu0;
  qsort(lat, n, sizeof *lat, cmp_d);
  double per_minute = cpu / rounds; /* HOSTS reports: one minute of the fleet */
  printf("hosts %d, rounds %d, reports %zu (voids %zu, findings %zu)\n", hosts, rounds, n, voids, findings);
  printf("per report: p50 %.1f us, p99 %.1f us (thread CPU, generation excluded)\n", lat[n / 2] * 1e6,
         lat[n * 99 / 100] * 1e6);
  printf("one minute of the fleet: %.3f s CPU = %.2f %% of one core (goal < 5 %%; process CPU, report text "
         "generation included)\n", per_minute, per_minute / 60 * 100);
  for (int h = 0; h < hosts; h++) json_decref(docs[h]);
  free(docs), free(lat), free(report);
  return per_minute / 60 * 100 < 5 ? 0 : 3;
}
