/* `lisec-agent run`: the agent on its own. It talks to lisecd over mutual
 * TLS (libcurl; its certificate's CN is the host id, role host), enrols
 * when it has not (EK, AK under it, the controller's MakeCredential
 * activated in the TPM), measures its location certificate once per boot,
 * and then polls for challenges: lisecd answers whether it wants a quote
 * now (a decision about an LI VM needs a fresh one, asset management
 * confirmed a new location, or the interval is due). Polling keeps lisecd
 * free of connections to hosts and of blocked workers; the poll interval
 * bounds how long a decision waits for a fresh quote. The evidence is made
 * by the same code as the offline commands, in a work directory inside the
 * state directory. SIGTERM or SIGINT stops it between two steps.
 * With [libvirt] uri set, every quote carries the host's inventory bound
 * into its qualifying data (libvirt.c), and a libvirt lifecycle event makes
 * the agent attest at once (after debounce_ms of quiet, at most once per
 * event_min_gap_ms) instead of at the next interval. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "bmc.h"
#include "base/curl.h"
#include "crypto/crypto.h"
#include "libvirt.h"
#include "restart.h"

#define REPLY_MAX (1u << 20)
#define HTTP_TIMEOUT_S 30L

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

static int64_t mono_ms(void);

/* Sleeps ms, or less when a stop was asked or a libvirt event is due. */
static void nap_lv(int64_t ms, agent_lv *lv) {
  while (ms > 0 && !stop_requested && !agent_lv_event_due(lv, mono_ms())) {
    int64_t step = ms < 100 ? ms : 100;
    struct timespec ts = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    ms -= step;
  }
}

static void nap(int64_t ms) { nap_lv(ms, NULL); }

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct reply_buf {
  char *data;
  size_t len;
  bool too_big;
} reply_buf;

static size_t on_data(char *p, size_t size, size_t n, void *ctx) {
  reply_buf *r = ctx;
  size_t add = size * n;
  if (r->len + add > REPLY_MAX) {
    r->too_big = true;
    return 0;
  }
  char *d = realloc(r->data, r->len + add + 1);
  if (!d) return 0;
  memcpy(d + r->len, p, add);
  r->data = d, r->len += add, d[r->len] = '\0';
  return add;
}

/* A request's text may carry the enrolment's activation secret. */
static void free_wiped(char *text) {
  crypto_wipe(text, strlen(text));
  free(text);
}

int agent_post(CURL *c, const agent_net *n, const char *path, json_t *body, long *status,
                json_t **out) {
  char url[1024], err[CURL_ERROR_SIZE] = "";
  snprintf(url, sizeof url, "%s%s", n->url, path);
  char *payload = json_dumps(body, JSON_COMPACT);
  if (!payload) return agent_fail("out of memory"), -1;
  reply_buf r = {0};
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  lisec_err terr = {0};
  if (lisec_curl_tls_setup(c, n->ca, n->cert, n->key, &terr)) { /* lisec's one TLS client setup */
    curl_slist_free_all(h);
    free_wiped(payload);
    return agent_fail("%s", terr.msg), -1;
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  /* A new connection per request: lisecd holds no idle connection per host
   * between polls (a decision waiting for this agent's quote is parked on
   * lisecd's side and never holds a worker, so reuse would be safe too). */
  curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, HTTP_TIMEOUT_S);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  CURLcode cc = curl_easy_perform(c);
  curl_slist_free_all(h);
  free_wiped(payload);
  int rc = 0;
  if (cc != CURLE_OK) {
    /* in lisec's words, never libcurl's (see lisec_curl_words) */
    const char *alert = lisec_curl_cert_alert(err);
    if (r.too_big)
      agent_fail("%s: lisecd's reply is larger than %u bytes", url, (unsigned)REPLY_MAX);
    else if (alert)
      agent_fail("lisecd at %s refused this host's certificate %s (TLS %s): it must be signed by a "
                 "CA lisecd trusts, unexpired, not revoked, and the host's own",
                 n->url, n->cert ? n->cert : "(none)", alert);
    else
      agent_fail("%s: %s", url, lisec_curl_words(cc));
    rc = -1;
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    *out = r.data ? json_loads(r.data, 0, NULL) : NULL;
  }
  free(r.data);
  return rc;
}

const char *agent_reply_error(const json_t *reply) {
  const char *m = json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
  return m ? m : "(no message)";
}

static int add_file_b64(json_t *o, const char *key, const char *dir, const char *name, size_t max,
                        bool required) {
  uint8_t *d = NULL;
  size_t len = 0;
  bool missing = false;
  if (agent_read_state(dir, name, max, &d, &len, &missing)) return -1;
  if (missing) return required ? agent_fail("%s/%s missing", dir, name), -1 : 0;
  char *s = NULL;
  int rc = crypto_base64_encode(d, len, &s);
  free(d);
  if (rc) return agent_fail("out of memory"), -1;
  json_object_set_new(o, key, json_string(s));
  free(s);
  return 0;
}

static char *path_of(const char *dir, const char *name) {
  char *p = NULL;
  return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* Enrols: EK and AK (the kept one, or a new one when new_ak) to the
 * controller, its credential activated in the TPM, the secret back. 0 when
 * enrolled; *revoked when lisecd refused the AK as one a de-enrolment
 * revoked (ATTEST_AK_REVOKED). */
static int enrol_ak(CURL *c, const agent_settings *s, const agent_net *n, const char *host, bool new_ak,
                    bool *revoked) {
  char *dir = path_of(s->state_dir, "enrol");
  json_t *req = json_object(), *rep = NULL;
  long status = 0;
  int rc = -1;
  uint8_t *cred = NULL, secret[ATTEST_CREDENTIAL_SECRET_MAX];
  size_t cred_len = 0, secret_len = sizeof secret;
  agent_tpm *t = NULL;
  lisec_buf ek;
  lisec_err err = {0};
  lisec_buf_init(&ek, 4096);
  *revoked = false;
  if (!dir || !req || agent_cmd_enrol(s, dir, new_ak) != 0) goto done;
  if (add_file_b64(req, "ek_pub", dir, "ek.pub", 4096, true) ||
      add_file_b64(req, "ak_pub", dir, "ak.pub", 4096, true) ||
      add_file_b64(req, "ek_cert", dir, "ek.crt", 16384, false) ||
      agent_post(c, n, "/v1/attest/enrol", req, &status, &rep))
    goto done;
  if (status != 201) {
    agent_fail("enrolment refused (%ld): %s", status, agent_reply_error(rep));
    *revoked = status == 403 && strstr(agent_reply_error(rep), ATTEST_AK_REVOKED);
    goto done;
  }
  const char *credb64 = json_string_value(json_object_get(rep, "credential"));
  if (!credb64 || crypto_base64_decode(credb64, 4096, &cred, &cred_len, &err) != 0) {
    agent_fail("enrolment: the controller sent no credential");
    goto done;
  }
  if (agent_open_tpm(s, true, &t, &ek)) goto done;
  int arc = agent_tpm_activate(t, cred, cred_len, secret, &secret_len, &err);
  agent_tpm_close(t);
  if (arc) {
    agent_fail("enrolment: %s", err.msg);
    goto done;
  }
  char *sb = NULL;
  if (crypto_base64_encode(secret, secret_len, &sb)) goto done;
  json_decref(req), json_decref(rep);
  rep = NULL;
  req = json_pack("{s:s, s:s}", "host", host, "secret", sb);
  crypto_wipe(sb, strlen(sb));
  free(sb);
  if (!req || agent_post(c, n, "/v1/attest/enrol/finish", req, &status, &rep)) goto done;
  if (status != 200) {
    agent_fail("enrolment not accepted (%ld): %s", status, agent_reply_error(rep));
    goto done;
  }
  fprintf(stderr, "lisec-agent: enrolled as host %s\n", host);
  rc = 0;
done:
  crypto_wipe(secret, sizeof secret);
  if (req) {
    json_t *sv = json_object_get(req, "secret");
    if (sv && json_string_value(sv))
      crypto_wipe((void *)json_string_value(sv), json_string_length(sv));
  }
  free(cred);
  free(dir);
  lisec_buf_free(&ek);
  json_decref(req), json_decref(rep);
  return rc;
}

/* Enrols with the kept AK; when lisecd refuses it as revoked by the host's
 * de-enrolment (NFV-SEC025 lifecycle: a re-enrolled host proves a new
 * binding), with a new AK made in the TPM, at once. */
static int enrol(CURL *c, const agent_settings *s, const agent_net *n, const char *host) {
  bool revoked = false;
  int rc = enrol_ak(c, s, n, host, false, &revoked);
  if (rc && revoked) {
    fprintf(stderr, "lisec-agent: lisecd revoked the kept AK at this host's de-enrolment: "
                    "enrolling with a new AK\n");
    rc = enrol_ak(c, s, n, host, true, &revoked);
  }
  return rc;
}

/* The inventory for this quote, kept in dir/inventory.json for the quote
 * to bind; *lv is reopened when libvirt went away. Without one (no libvirt
 * configured, or libvirt not answering) the quote binds the nonce alone. */
static char *take_inventory(const agent_net *n, agent_lv **lv, const char *dir, const char *host,
                            size_t *len) {
  if (!n->libvirt || !n->libvirt->uri || !*n->libvirt->uri) return NULL;
  if (!*lv && agent_lv_open(n->libvirt, true, lv)) return NULL;
  char *inv = NULL;
  lisec_err err = {0};
  char *p = path_of(dir, "inventory.json");
  if (agent_ensure_dir(dir) || agent_lv_inventory(*lv, host, &inv, len)) {
    /* A broken connection is opened again at the next attestation. */
    agent_lv_close(*lv);
    *lv = NULL;
  } else if (!p || lisec_file_write_atomic(p, inv, *len, 0600, &err) != 0) {
    agent_fail("%s: %s", p ? p : "inventory.json", err.msg);
    free(inv);
    inv = NULL;
  }
  free(p);
  return inv;
}

/* The chassis report for this quote (bmc.c), kept in dir/chassis.json for
 * the quote to bind; NULL without a [bmc]. expires_ms (monotonic; 0: not
 * known) is when the nonce dies: the BMC gets half of what is left of its
 * lifetime, the rest is the quote's and the upload's. A BMC that does not
 * answer by then is "bmc": null (lisecd's [telemetry] missing decides), not
 * an expired nonce, which would leave the host unappraised and overdue
 * whatever missing says. */
static char *take_chassis(const agent_net *n, const char *dir, const char *host, int64_t expires_ms, size_t *len) {
  if (!agent_bmc_enabled(n->bmc)) return NULL;
  char *ch = NULL, *p = path_of(dir, "chassis.json");
  lisec_err err = {0};
  int64_t now = mono_ms(), cap = 0;
  if (expires_ms) cap = expires_ms > now ? now + (expires_ms - now) / 2 : now;
  if (!p || agent_ensure_dir(dir) || agent_bmc_report(n->bmc, host, cap, &ch, len)) {
    free(p);
    return NULL;
  }
  if (lisec_file_write_atomic(p, ch, *len, 0600, &err) != 0) {
    agent_fail("%s: %s", p, err.msg);
    free(ch);
    ch = NULL;
  }
  free(p);
  return ch;
}

/* One attestation: nonce, quote, evidence (with the inventory and the
 * chassis report when there are). 0 when the controller appraised it (whatever the verdict), -1
 * otherwise. */
static int attest_once(CURL *c, const agent_settings *s, const agent_net *n, agent_lv **lv,
                       const char *host, bool *not_enrolled) {
  char *dir = path_of(s->state_dir, "evidence"), *inv = NULL, *inv_path = NULL, *ch = NULL, *ch_path = NULL;
  json_t *req = json_pack("{s:s}", "host", host), *rep = NULL;
  long status = 0;
  size_t inv_len = 0, ch_len = 0;
  int rc = -1;
  /* The nonce's lifetime runs from before it was asked for: never later
   * than lisecd counts it. */
  int64_t asked = mono_ms(), expires = 0;
  if (!dir || !req || agent_post(c, n, "/v1/attest/nonce", req, &status, &rep)) goto done;
  if (status != 201) {
    if (status == 404) *not_enrolled = true;
    agent_fail("nonce refused (%ld): %s", status, agent_reply_error(rep));
    goto done;
  }
  const char *nonce = json_string_value(json_object_get(rep, "nonce"));
  if (!nonce || strlen(nonce) > 2 * ATTEST_NONCE_MAX) {
    agent_fail("the controller sent no nonce");
    goto done;
  }
  json_object_set_new(req, "nonce", json_string(nonce));
  /* lisecd's [attest] nonce_ttl_s (1 to 3600); absent (an older lisecd):
   * the BMC's reads keep their own deadline only */
  json_t *ttl = json_object_get(rep, "expires_in_s");
  if (json_is_integer(ttl) && json_integer_value(ttl) >= 1 && json_integer_value(ttl) <= 86400)
    expires = asked + (int64_t)json_integer_value(ttl) * 1000;
  json_decref(rep);
  rep = NULL;
  /* Taken after the nonce: the report is as fresh as the quote. */
  inv = take_inventory(n, lv, dir, host, &inv_len);
  if (inv && !(inv_path = path_of(dir, "inventory.json"))) goto done;
  ch = take_chassis(n, dir, host, expires, &ch_len);
  if (ch && !(ch_path = path_of(dir, "chassis.json"))) goto done;
  if (agent_cmd_quote_reports(s, json_string_value(json_object_get(req, "nonce")), dir, inv_path, ch_path) != 0)
    goto done;
  if (inv) json_object_set_new(req, "inventory", json_stringn(inv, inv_len));
  if (ch) json_object_set_new(req, "chassis", json_stringn(ch, ch_len));
  if (add_file_b64(req, "quote", dir, "quote.msg", ATTEST_QUOTE_MAX, true) ||
      add_file_b64(req, "signature", dir, "quote.sig", ATTEST_SIG_MAX, true) ||
      add_file_b64(req, "pcrs", dir, "quote.pcrs", ATTEST_PCRS_MAX, true) ||
      add_file_b64(req, "eventlog", dir, "eventlog.bin", ATTEST_EVENTLOG_MAX, false) ||
      add_file_b64(req, "location", dir, "location.cms", ATTEST_LOCATION_MAX, false) ||
      agent_post(c, n, "/v1/attest/evidence", req, &status, &rep))
    goto done;
  if (status != 200) {
    agent_fail("evidence refused (%ld): %s", status, agent_reply_error(rep));
    goto done;
  }
  const char *trust = json_string_value(json_object_get(rep, "trust"));
  json_t *ij = json_object_get(rep, "inventory");
  fprintf(stderr, "lisec-agent: appraised: %s%s%s\n", trust ? trust : "?",
          json_is_true(json_object_get(rep, "location_ok")) ? ", location confirmed" : "",
          ij ? json_is_true(json_object_get(ij, "observed")) ? ", inventory observed"
                                                             : ", inventory not observed"
             : "");
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(rep, "reasons"), i, r)
      fprintf(stderr, "lisec-agent:   %s\n", json_string_value(r));
  json_array_foreach(json_object_get(json_object_get(rep, "chassis"), "findings"), i, r)
      fprintf(stderr, "lisec-agent:   chassis: %s\n", json_string_value(r));
  rc = 0;
done:
  free(dir);
  free(inv);
  free(inv_path);
  free(ch);
  free(ch_path);
  json_decref(req), json_decref(rep);
  return rc;
}

/* A certificate asset management confirmed: kept and measured now. */
static int take_location(const agent_settings *s, const char *b64) {
  uint8_t *der = NULL;
  size_t len = 0;
  lisec_err err = {0};
  char *p = path_of(s->state_dir, "offered-location.cms");
  int rc = -1;
  if (p && crypto_base64_decode(b64, ATTEST_LOCATION_MAX, &der, &len, &err) == 0 &&
      lisec_file_write_atomic(p, der, len, 0600, &err) == 0 &&
      agent_cmd_measure_location(s, p) == 0) {
    fprintf(stderr, "lisec-agent: measured the location certificate asset management confirmed\n");
    rc = 0;
  } else if (err.msg[0]) {
    agent_fail("location certificate: %s", err.msg);
  }
  free(der);
  free(p);
  return rc;
}

/* At start: the host id, and the kept location certificate measured again
 * when PCR 15 no longer holds the agent's measurements (a boot: a power
 * cycle, or a TPM Restart, which keeps resetCount). */
static int boot_steps(const agent_settings *s, char host[ATTEST_HOST_ID_LEN + 1]) {
  agent_tpm *t = NULL;
  lisec_buf ek;
  lisec_err err = {0};
  bool current = false;
  lisec_buf_init(&ek, 4096);
  int rc = agent_open_tpm(s, false, &t, &ek);
  if (!rc && attest_host_id(ek.data, ek.len, host, &err)) rc = agent_fail("%s", err.msg);
  if (!rc) rc = agent_runtime_current(s, t, &current);
  agent_tpm_close(t);
  lisec_buf_free(&ek);
  if (rc) return rc;
  char *loc = path_of(s->state_dir, "location.cms");
  if (!loc) return agent_fail("out of memory");
  if (access(loc, F_OK) == 0 && !current) {
    fprintf(stderr, "lisec-agent: measuring the kept location certificate for this boot\n");
    rc = agent_cmd_measure_location(s, loc);
  }
  free(loc);
  return rc;
}

int agent_run(const agent_settings *s, const agent_net *n) {
  if (!n->url || !n->ca || !n->cert || !n->key)
    return agent_fail("run: [server] url, ca, cert and key are required (mutual TLS)");
  struct sigaction sa = {0};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  if (agent_ensure_dir(s->state_dir)) return 2;
  char host[ATTEST_HOST_ID_LEN + 1];
  if (boot_steps(s, host)) return 2;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) return agent_fail("libcurl did not start");
  CURL *c = curl_easy_init();
  if (!c) {
    curl_global_cleanup();
    return agent_fail("libcurl did not start");
  }
  fprintf(stderr, "lisec-agent: host %s, controller %s\n", host, n->url);
  agent_lv *lv = NULL;
  if (n->libvirt && n->libvirt->uri && *n->libvirt->uri && agent_lv_open(n->libvirt, true, &lv) == 0)
    fprintf(stderr, "lisec-agent: libvirt %s: reporting the inventory, listening for lifecycle events\n",
            n->libvirt->uri);
  if (agent_bmc_enabled(n->bmc))
    fprintf(stderr, "lisec-agent: BMC (%s interface): every quote binds the chassis report\n", n->bmc->interface);
  bool enrolled = false;
  int64_t last = 0; /* monotonic ms of the last appraisal, 0 = none */
  while (!stop_requested) {
    if (!enrolled) {
      enrolled = enrol(c, s, n, host) == 0;
      if (!enrolled) {
        nap(n->poll_ms * 10);
        continue;
      }
    }
    json_t *req = json_pack("{s:s}", "host", host), *rep = NULL;
    long status = 0;
    bool now = false;
    if (req && agent_post(c, n, "/v1/attest/challenge", req, &status, &rep) == 0) {
      if (status == 200) {
        now = json_is_true(json_object_get(rep, "attest_now"));
        const char *loc = json_string_value(json_object_get(rep, "location"));
        if (loc) take_location(s, loc);
        /* Paired LI VMs lisecd saw stopped here: start them, then attest
         * so the next inventory shows them running (restart.c). */
        if (n->libvirt && agent_restart_vms(n->libvirt->uri, json_object_get(rep, "restart")) > 0)
          now = true;
      } else if (status == 404) {
        enrolled = false; /* the controller does not know this AK (any more) */
      } else {
        agent_fail("challenge refused (%ld): %s", status, agent_reply_error(rep));
      }
    }
    json_decref(req), json_decref(rep);
    /* A lifecycle event (debounced, rate-limited) reports the change now. */
    bool event = agent_lv_event_due(lv, mono_ms());
    if (event) agent_lv_event_taken(lv, mono_ms());
    if (enrolled && !stop_requested &&
        (now || event || !last || mono_ms() - last >= n->interval_s * 1000)) {
      bool gone = false;
      if (attest_once(c, s, n, &lv, host, &gone) == 0) last = mono_ms();
      if (gone) enrolled = false;
    }
    nap_lv(n->poll_ms, lv);
  }
  agent_lv_close(lv);
  fprintf(stderr, "lisec-agent: stopped\n");
  curl_easy_cleanup(c);
  curl_global_cleanup();
  return 0;
}
