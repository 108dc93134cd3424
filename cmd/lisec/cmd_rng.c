/* `lisec rng ...`: random bytes from liblisec-rng (bytes N, keygen N), an
 * external reseed from lisec-entropyd, the library's status, the
 * SP 800-90B health-test state of each entropy source, either run here on
 * the local sources or read from a lisec-entropyd's /v1/health, and the
 * findings lisecd keeps about the entropy daemons (operator, auditor). */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/curl.h"
#include "cli.h"
#include "commands.h"
#include "lisec/rng.h"
#include "rng/libos.h"
#include "rng/rng.h"

const char cli_help_rng[] =
    "random bytes from liblisec-rng; seeds from lisec-entropyd; source health";

int cli_cmd_rng(int argc, char **argv);

static int rng_usage(void) {
  return cli_fail(
      "usage: lisec rng bytes N          N random bytes to stdout\n"
      "       lisec rng keygen N         N bytes for key generation (prediction resistant;\n"
      "                                  fails closed without a fresh external seed)\n"
      "       lisec rng reseed [--entropyd ADDR]   fetch a seed from lisec-entropyd now\n"
      "       lisec rng status [--entropyd ADDR]   the library's state\n"
      "       lisec rng health [--samples N] [--url http://HOST:PORT]\n"
      "                                  SP 800-90B test state of each source (local, or\n"
      "                                  lisec-entropyd's metrics port)\n"
      "       lisec rng findings [--open]  lisecd's findings about entropy sources and daemons\n"
      "                                  (--server, role operator or auditor)\n"
      "The library reads LISEC_RNG_ENTROPYD, LISEC_RNG_ENTROPYD_NAME (the name in the daemon's\n"
      "certificate; required with vsock:CID:PORT), LISEC_RNG_CERT, LISEC_RNG_KEY, LISEC_RNG_CA,\n"
      "LISEC_RNG_GENID_FILE; --cert/--key/--ca and --pki/--role also apply.");
}

/* Configures the library from the command line, falling back to the
 * environment it reads itself. */
static int rng_setup(const char *entropyd) {
  lisec_rng_options o = {0};
  o.entropyd = entropyd;
  o.cert = getenv("LISEC_RNG_CERT") ? NULL : cli.cert;
  o.key = getenv("LISEC_RNG_KEY") ? NULL : cli.key;
  o.ca = getenv("LISEC_RNG_CA") ? NULL : cli.ca;
  const char *d = getenv("LISEC_RNG_DRBG");
  o.drbg = d && strcmp(d, "hmac") == 0 ? LISEC_RNG_DRBG_HMAC_SHA256 : LISEC_RNG_DRBG_CTR_AES256;
  const char *s = getenv("LISEC_RNG_STRICT");
  o.strict = s && strcmp(s, "1") == 0;
  int rc = lisec_rng_init(&o);
  if (rc) return cli_fail("rng: %s", lisec_rng_last_error());
  return CLI_OK;
}

static int parse_count(const char *s, size_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || !end || *end || s[0] == '-' || v > (1ull << 50)) return -1;
  *out = (size_t)v;
  return 0;
}

static int rng_write_bytes(size_t n, bool keygen) {
  uint8_t buf[65536];
  while (n) {
    size_t k = n < sizeof buf ? n : sizeof buf;
    /* keygen requests stay small, as a key would be. */
    if (keygen && k > 4096) k = 4096;
    int rc = keygen ? lisec_rng_keygen_bytes(buf, k) : lisec_rng_bytes(buf, k);
    if (rc) {
      lisec_rng_shutdown();
      return rc == LISEC_RNG_ENOSEED || rc == LISEC_RNG_EDENIED
                 ? cli_refuse("denied", "rng: %s", lisec_rng_last_error())
                 : cli_fail("rng: %s", lisec_rng_last_error());
    }
    if (fwrite(buf, 1, k, stdout) != k) {
      lisec_rng_shutdown();
      return errno == EPIPE ? CLI_OK : cli_fail("rng: writing stdout: %s", strerror(errno));
    }
    n -= k;
  }
  memset(buf, 0, sizeof buf);
  lisec_rng_shutdown();
  return fflush(stdout) == 0 ? CLI_OK : cli_fail("rng: writing stdout failed");
}

static int rng_status(void) {
  struct lisec_rng_status st;
  if (lisec_rng_status(&st) != 0) return cli_fail("rng: %s", lisec_rng_last_error());
  json_t *o = json_pack(
      "{s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
      "s:s, s:s}",
      "drbg", st.drbg == LISEC_RNG_DRBG_HMAC_SHA256 ? "HMAC-DRBG SHA-256" : "CTR-DRBG AES-256",
      "selftest_ok", st.selftest_ok, "external_configured", st.external_configured,
      "external_fresh", st.external_fresh, "keygen_ready", st.keygen_ready, "rdrand",
      st.has_rdrand, "rdseed", st.has_rdseed, "wipeonfork", st.wipeonfork, "vmgenid_uevent",
      st.uevent, "genid_known", st.genid_known, "epoch", (json_int_t)st.epoch, "reseeds",
      (json_int_t)st.reseeds, "external_seeds", (json_int_t)st.external_seeds,
      "external_failures", (json_int_t)st.external_failures, "events_fork",
      (json_int_t)st.events_fork, "events_genid", (json_int_t)st.events_genid, "events_bootid",
      (json_int_t)st.events_bootid, "events_clock", (json_int_t)st.events_clock, "last_event",
      st.last_event, "last_error", st.last_error);
  if (cli.json) {
    cli_print_json(o);
  } else {
    printf("DRBG             %s (self-test %s)\n", json_string_value(json_object_get(o, "drbg")),
           st.selftest_ok ? "passed" : "FAILED");
    printf("external source  %s, %s\n", st.external_configured ? "configured" : "none",
           st.external_fresh ? "fresh seed received" : "no fresh seed");
    printf("keygen           %s\n", st.keygen_ready ? "ready" : "fails closed until a seed arrives");
    printf("detection        wipe-on-fork %s, vmgenid uevent %s, generation-id file %s\n",
           st.wipeonfork ? "yes" : "no", st.uevent ? "yes" : "no", st.genid_known ? "yes" : "no");
    printf("cpu              RDRAND %s, RDSEED %s\n", st.has_rdrand ? "yes" : "no",
           st.has_rdseed ? "yes" : "no");
    printf("counters         reseeds %llu, external seeds %llu (failures %llu)\n",
           (unsigned long long)st.reseeds, (unsigned long long)st.external_seeds,
           (unsigned long long)st.external_failures);
    if (st.last_error[0]) printf("last error       %s\n", st.last_error);
  }
  json_decref(o);
  return CLI_OK;
}

/* ---- health ---------------------------------------------------------------- */

static size_t collect(const char *name, uint8_t *buf, size_t n) {
  if (strcmp(name, "getrandom") == 0) return rngl_getrandom(buf, n, NULL) == 0 ? n : 0;
  if (strcmp(name, "rdseed") == 0) return rngl_rdseed(buf, n);
  if (strcmp(name, "rdrand") == 0) return rngl_rdrand(buf, n);
  rngl_jitter(buf, n);
  return n;
}

static int rng_health_local(size_t samples) {
  /* The same claims lisec-entropyd uses by default. */
  static const struct {
    const char *name;
    double h;
  } srcs[] = {{"rdseed", 4.0}, {"getrandom", 4.0}, {"jitter", 0.5}, {"rdrand", 2.0}};
  uint8_t *buf = malloc(samples);
  if (!buf) return cli_fail("rng: out of memory");
  json_t *arr = json_array();
  int failed = 0;
  if (!cli.json)
    printf("%-10s %-27s %6s %10s %8s %8s %10s\n", "source", "state", "H", "samples", "RCT C",
           "APT C", "longest");
  for (size_t i = 0; i < LISEC_ARRAY_LEN(srcs); i++) {
    rng_health t;
    lisec_err err = {0};
    if (rng_health_init(&t, srcs[i].h, RNG_HEALTH_ALPHA_LOG2, false, &err) != 0) {
      free(buf);
      json_decref(arr);
      return cli_fail("rng: %s", err.msg);
    }
    size_t got = collect(srcs[i].name, buf, samples);
    const char *state = got < samples ? "unavailable" : NULL;
    if (!state) {
      rng_health_feed(&t, buf, got, &err);
      state = rng_health_state_name(t.state);
      if (t.state != RNG_HEALTH_OK) failed++;
    }
    json_array_append_new(
        arr, json_pack("{s:s, s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:s}", "source", srcs[i].name,
                       "state", state, "min_entropy", srcs[i].h, "samples", (json_int_t)t.samples,
                       "rct_cutoff", (json_int_t)t.rct_cutoff, "apt_cutoff",
                       (json_int_t)t.apt_cutoff, "apt_window", (json_int_t)t.apt_window,
                       "longest_run", (json_int_t)t.rct_max_run, "detail", err.msg));
    if (!cli.json)
      printf("%-10s %-27s %6.2f %10llu %8u %4u/%-3u %10llu\n", srcs[i].name, state, srcs[i].h,
             (unsigned long long)t.samples, t.rct_cutoff, t.apt_cutoff, t.apt_window,
             (unsigned long long)t.rct_max_run);
  }
  memset(buf, 0, samples);
  free(buf);
  if (cli.json) {
    json_t *o = json_pack("{s:s, s:o}", "scope", "local", "sources", arr);
    cli_print_json(o);
    json_decref(o);
  } else {
    json_decref(arr);
  }
  return failed ? CLI_REFUSED : CLI_OK;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  lisec_buf *b = ud;
  return lisec_buf_append(b, p, sz * n) == 0 ? sz * n : 0;
}

static int rng_health_remote(const char *url) {
  char full[1024];
  snprintf(full, sizeof full, "%s/v1/health", url);
  CURL *c = curl_easy_init();
  if (!c) return cli_fail("rng: curl init failed");
  lisec_buf b;
  lisec_buf_init(&b, 1 << 20);
  curl_easy_setopt(c, CURLOPT_URL, full);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  CURLcode cr = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  if (cr != CURLE_OK || status != 200) {
    lisec_buf_free(&b);
    if (cr != CURLE_OK) return cli_fail("rng: %s: %s", full, lisec_curl_words(cr));
    return cli_fail("rng: %s: lisec-entropyd answered HTTP %ld", full, status);
  }
  json_t *doc = NULL;
  lisec_err err = {0};
  int rc = lisec_json_parse((const char *)b.data, b.len, &doc, &err);
  lisec_buf_free(&b);
  if (rc) return cli_fail("rng: %s: %s", full, err.msg);
  bool serving = json_is_true(json_object_get(doc, "serving"));
  if (cli.json) {
    cli_print_json(doc);
  } else {
    printf("lisec-entropyd %s\n", serving ? "serving seeds" : "NOT serving (fail closed)");
    printf("%-10s %-27s %6s %10s %8s %8s %10s\n", "source", "state", "H", "samples", "RCT C",
           "APT C", "longest");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(doc, "sources"), i, s) {
      printf("%-10s %-27s %6.2f %10lld %8lld %4lld/%-3lld %10lld\n",
             json_string_value(json_object_get(s, "source")),
             json_string_value(json_object_get(s, "state")),
             json_number_value(json_object_get(s, "min_entropy")),
             (long long)json_integer_value(json_object_get(s, "samples")),
             (long long)json_integer_value(json_object_get(s, "rct_cutoff")),
             (long long)json_integer_value(json_object_get(s, "apt_cutoff")),
             (long long)json_integer_value(json_object_get(s, "apt_window")),
             (long long)json_integer_value(json_object_get(s, "longest_run")));
      const char *why = json_string_value(json_object_get(s, "reason"));
      if (why) printf("           %s\n", why);
    }
  }
  json_decref(doc);
  return serving ? CLI_OK : CLI_REFUSED;
}

static void findings_human(const json_t *v) {
  const json_t *arr = json_object_get(v, "findings");
  size_t i;
  const json_t *f;
  if (!json_array_size(arr)) printf("no findings\n");
  json_array_foreach(arr, i, f) {
    printf("%-8s %-6s %s/%s (%s) %s\n", cli_str(f, "severity"),
           json_is_true(json_object_get(f, "open")) ? "open" : "closed", cli_str(f, "reporter"),
           cli_str(f, "subject"), cli_str(f, "kind"), cli_str(f, "state"));
    printf("         %s: %s\n", cli_str(f, "requirement"), cli_str(f, "detail"));
  }
}

static int rng_findings(bool open_only) {
  long status = 0;
  json_t *reply = NULL;
  lisec_err err = {0};
  int rc = cli_http_request("GET", open_only ? "/v1/rng/findings?open=true" : "/v1/rng/findings",
                            NULL, &status, &reply, &err);
  if (rc) return cli_fail("rng findings: %s", err.msg);
  if (status != 200 || !reply) {
    rc = cli_http_error(status, reply);
  } else {
    cli_print(reply, findings_human);
    rc = CLI_OK;
  }
  json_decref(reply);
  return rc;
}

int cli_cmd_rng(int argc, char **argv) {
  if (argc < 2) return rng_usage();
  if (strcmp(argv[1], "findings") == 0) {
    if (argc == 2) return rng_findings(false);
    if (argc == 3 && strcmp(argv[2], "--open") == 0) return rng_findings(true);
    return rng_usage();
  }
  const char *sub = argv[1], *entropyd = NULL, *url = NULL;
  size_t n = 0, samples = 65536;
  bool have_n = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--entropyd") == 0 && i + 1 < argc) entropyd = argv[++i];
    else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) url = argv[++i];
    else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
      if (parse_count(argv[++i], &samples) || samples < 1024 || samples > (64u << 20))
        return cli_fail("rng: --samples must be 1024..67108864");
    } else if (!have_n && parse_count(argv[i], &n) == 0) {
      have_n = true;
    } else {
      return rng_usage();
    }
  }
  if (strcmp(sub, "bytes") == 0 || strcmp(sub, "keygen") == 0) {
    if (!have_n) return rng_usage();
    int rc = rng_setup(entropyd);
    return rc ? rc : rng_write_bytes(n, sub[0] == 'k');
  }
  if (strcmp(sub, "reseed") == 0 && !have_n) {
    int rc = rng_setup(entropyd);
    if (rc) return rc;
    rc = lisec_rng_reseed();
    if (rc) {
      int exit_code = rc == LISEC_RNG_EINVAL ? cli_fail("rng reseed: %s", lisec_rng_last_error())
                                             : cli_refuse("denied", "rng reseed: %s", lisec_rng_last_error());
      lisec_rng_shutdown();
      return exit_code;
    }
    if (!cli.json) printf("reseeded from lisec-entropyd\n");
    else printf("{\"reseeded\": true}\n");
    lisec_rng_shutdown();
    return CLI_OK;
  }
  if (strcmp(sub, "status") == 0 && !have_n) {
    int rc = rng_setup(entropyd);
    if (!rc) rc = rng_status();
    lisec_rng_shutdown();
    return rc;
  }
  if (strcmp(sub, "health") == 0 && !have_n)
    return url ? rng_health_remote(url) : rng_health_local(samples);
  return rng_usage();
}
