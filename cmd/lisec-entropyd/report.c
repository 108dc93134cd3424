/* lisec-entropyd's reports to lisecd (TR 103 308 §4.2, §5.15, O.1.4): every
 * report_interval_s, and at once when a source is excluded or the daemon
 * stops or resumes serving, a report goes to lisecd's POST /v1/rng/events
 * over mutual TLS (libcurl, the daemon's own client certificate, role host):
 * per client, the seeds and bytes issued since the last acknowledged report
 * (never a value) and the requests refused as replays (with the reference
 * the log called the client by), and the state of every source and of the daemon. A report
 * is kept, byte for byte with its sequence number, and resent until lisecd
 * acknowledges it, so lisecd can recognise a resend whose first answer was
 * lost; only then is the next one built. Memory stays bounded: one report in
 * flight, and per client two counters of what was acknowledged. */
#include <curl/curl.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/curl.h"
#include "entropyd.h"

#define REPLY_MAX 4096

typedef struct pending {
  char *body;              /* the report, resent unchanged until acknowledged */
  uint64_t seq;
  uint64_t *snap_seeds, *snap_bytes, *snap_replays; /* per client: totals the report covers */
  size_t nclients;
} pending;

static char instance[RNG_REPORT_INSTANCE_LEN + 1];
static uint64_t next_seq = 1;
static int64_t period_from;

static const char *path_or(const lisec_config *cfg, const char *key) {
  return lisec_config_str(cfg, "report", key, "");
}

int ed_report_configure(entropyd *d, const lisec_config *cfg, lisec_err *err) {
  int64_t v;
  snprintf(d->report_url, sizeof d->report_url, "%s", path_or(cfg, "url"));
  snprintf(d->report_cert, sizeof d->report_cert, "%s", path_or(cfg, "cert"));
  snprintf(d->report_key, sizeof d->report_key, "%s", path_or(cfg, "key"));
  snprintf(d->report_ca, sizeof d->report_ca, "%s", path_or(cfg, "ca"));
  int rc = lisec_config_int(cfg, "report", "interval_s", 60, 1, 3600, &v, err);
  if (rc) return rc;
  d->report_interval_s = (int)v;
  if ((rc = lisec_config_int(cfg, "report", "timeout_s", 10, 1, 120, &v, err))) return rc;
  d->report_timeout_s = (int)v;
  if (d->report_url[0]) {
    /* lisecd refuses a report naming a client outside the format's
     * alphabet; refuse such a name here, at start, rather than send reports
     * that can never be acknowledged. */
    for (size_t i = 0; i < d->nclients; i++)
      if (!rng_report_name_ok(d->clients[i].name, true) || strlen(d->clients[i].name) > RNG_REPORT_NAME_MAX)
        return lisec_err_set(err, LISEC_EINVAL,
                             "[clients] allowed: '%s' has a character outside [A-Za-z0-9 ._:@/-], "
                             "which reports to lisecd cannot carry", d->clients[i].name);
    if (strncmp(d->report_url, "https://", 8) != 0)
      return lisec_err_set(err, LISEC_EINVAL, "[report] url must be https:// (mutual TLS to lisecd)");
    if (!d->report_cert[0] || !d->report_key[0] || !d->report_ca[0])
      return lisec_err_set(err, LISEC_EINVAL,
                           "[report] cert, key and ca are required with url (mutual TLS)");
  }
  /* [clients] li: the LI VNFs among the registered identities; their
   * issuance records are sealed to the LI administration (TR 103 308 §4.1). */
  const char *p = lisec_config_str(cfg, "clients", "li", "");
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    const char *e = p;
    while (*e && *e != ',') e++;
    const char *t = e;
    while (t > p && t[-1] == ' ') t--;
    if (t > p) {
      char name[ED_NAME_MAX];
      size_t n = (size_t)(t - p);
      if (n >= sizeof name) return lisec_err_set(err, LISEC_EINVAL, "[clients] li: name too long");
      memcpy(name, p, n);
      name[n] = '\0';
      ed_client *c = ed_client_find(d, name);
      if (!c)
        return lisec_err_set(err, LISEC_EINVAL, "[clients] li names '%s', which allowed does not list",
                             name);
      c->li = true;
    }
    p = e;
  }
  return 0;
}

void ed_report_wake(entropyd *d) {
  if (!d->report_url[0]) return;
  pthread_mutex_lock(&d->lock);
  d->report_due = true;
  pthread_cond_signal(&d->report_cv);
  pthread_mutex_unlock(&d->lock);
}

/* Details are printable ASCII for lisecd's parser, at most its bound. */
static json_t *detail_json(const char *s) {
  char out[RNG_REPORT_DETAIL_MAX + 1];
  size_t n = 0;
  for (; s[n] && n < RNG_REPORT_DETAIL_MAX; n++)
    out[n] = (s[n] >= 0x20 && s[n] <= 0x7e) ? s[n] : '?';
  out[n] = '\0';
  return json_string(out);
}

static const char *state_of(const ed_source *s) {
  return s->available ? rng_health_state_name(s->health.state) : "unavailable";
}

/* Builds the next report from the counters and states (under the lock). */
static int build(entropyd *d, pending *pd) {
  json_t *srcs = json_array(), *iss = json_array();
  int64_t now = (int64_t)time(NULL);
  pd->nclients = d->nclients;
  pd->snap_seeds = calloc(d->nclients + 1, sizeof *pd->snap_seeds);
  pd->snap_bytes = calloc(d->nclients + 1, sizeof *pd->snap_bytes);
  pd->snap_replays = calloc(d->nclients + 1, sizeof *pd->snap_replays);
  if (!srcs || !iss || !pd->snap_seeds || !pd->snap_bytes || !pd->snap_replays) goto fail;
  pthread_mutex_lock(&d->lock);
  for (size_t i = 0; i < d->nsrc; i++) {
    const ed_source *s = &d->src[i];
    if (!s->enabled) continue;
    json_t *o = json_pack("{s:s, s:s, s:I}", "source", s->name, "state", state_of(s), "since",
                          (json_int_t)s->since);
    if (o && s->reason[0]) json_object_set_new(o, "detail", detail_json(s->reason));
    json_array_append_new(srcs, o);
  }
  for (size_t i = 0; i < d->nclients; i++) {
    ed_client *c = &d->clients[i];
    pd->snap_seeds[i] = c->seeds;
    pd->snap_bytes[i] = c->bytes;
    pd->snap_replays[i] = c->refused_replay;
    uint64_t replays = c->refused_replay - c->acked_replays;
    if (c->seeds == c->acked_seeds && !replays) continue;
    json_t *o = json_pack("{s:s, s:I, s:I, s:b}", "client", c->name, "seeds",
                          (json_int_t)(c->seeds - c->acked_seeds), "bytes",
                          (json_int_t)(c->bytes - c->acked_bytes), "li", c->li);
    /* only when there were some: a lisecd from before these keys takes
     * every report without a replay */
    if (o && replays) {
      json_object_set_new(o, "replays", json_integer((json_int_t)replays));
      json_object_set_new(o, "ref", json_string(c->ref));
    }
    json_array_append_new(iss, o);
  }
  if (d->serving) ed_stale_locked(d);
  bool serving = d->serving;
  char detail[256];
  snprintf(detail, sizeof detail, "%s", serving ? "" : d->unhealthy_reason);
  d->report_due = false;
  pthread_mutex_unlock(&d->lock);
  pd->seq = next_seq++;
  json_t *r = json_pack("{s:i, s:s, s:I, s:I, s:I, s:b, s:o, s:o}", "v", RNG_REPORT_VERSION,
                        "instance", instance, "seq", (json_int_t)pd->seq, "from",
                        (json_int_t)period_from, "to", (json_int_t)(now < period_from ? period_from : now),
                        "serving", serving, "sources", srcs, "issuance", iss);
  if (r && detail[0]) json_object_set_new(r, "detail", detail_json(detail));
  pd->body = r ? lisec_json_dump_canonical(r) : NULL;
  json_decref(r);
  return pd->body ? 0 : -1;
fail:
  json_decref(srcs);
  json_decref(iss);
  return -1;
}

static void pending_clear(pending *pd) {
  free(pd->body);
  free(pd->snap_seeds);
  free(pd->snap_bytes);
  free(pd->snap_replays);
  memset(pd, 0, sizeof *pd);
}

typedef struct reply_buf {
  char data[REPLY_MAX + 1];
  size_t len;
} reply_buf;

static size_t on_data(char *p, size_t size, size_t n, void *ctx) {
  reply_buf *b = ctx;
  size_t len = size * n, room = REPLY_MAX - b->len;
  if (len > room) return 0; /* an answer longer than any acknowledgement: abort */
  memcpy(b->data + b->len, p, len);
  b->len += len;
  b->data[b->len] = '\0';
  return len;
}

/* Sends the pending report; true when lisecd acknowledged this very report
 * (its seq, accepted now or recognised as already recorded). */
static bool send_report(entropyd *d, CURL *h, const pending *pd, char *why, size_t why_len) {
  char url[600];
  snprintf(url, sizeof url, "%s/v1/rng/events", d->report_url);
  reply_buf b = {.len = 0};
  /* lisec's one TLS client setup (base/curl.h): TLS 1.2 or later, lisecd's
   * certificate checked against report_ca alone, ours presented */
  lisec_err terr = {0};
  if (lisec_curl_tls_setup(h, d->report_ca, d->report_cert, d->report_key, &terr)) {
    snprintf(why, why_len, "%.200s", terr.msg);
    return false;
  }
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, pd->body);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(pd->body));
  curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)d->report_timeout_s);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  CURLcode cc = curl_easy_perform(h);
  curl_slist_free_all(hdr);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (cc != CURLE_OK) {
    snprintf(why, why_len, "%.150s: %.90s", url, lisec_curl_words(cc));
    return false;
  }
  json_t *j = NULL;
  if (status != 200 || lisec_json_parse(b.data, b.len, &j, NULL) != 0) {
    snprintf(why, why_len, "lisecd answered %ld: %.200s", status, b.data);
    json_decref(j);
    return false;
  }
  json_t *seq = json_object_get(j, "seq");
  bool ok = json_is_integer(seq) && (uint64_t)json_integer_value(seq) == pd->seq &&
            (json_is_true(json_object_get(j, "accepted")) ||
             json_is_true(json_object_get(j, "duplicate")));
  if (!ok) snprintf(why, why_len, "lisecd's answer does not acknowledge seq %llu", (unsigned long long)pd->seq);
  json_decref(j);
  return ok;
}

static void acknowledged(entropyd *d, const pending *pd) {
  pthread_mutex_lock(&d->lock);
  for (size_t i = 0; i < pd->nclients && i < d->nclients; i++) {
    d->clients[i].acked_seeds = pd->snap_seeds[i];
    d->clients[i].acked_bytes = pd->snap_bytes[i];
    d->clients[i].acked_replays = pd->snap_replays[i];
  }
  d->reports_ok++;
  d->report_error[0] = '\0';
  pthread_mutex_unlock(&d->lock);
  period_from = (int64_t)time(NULL);
}

/* One attempt: build a report when none is pending, send it. */
static bool attempt(entropyd *d, CURL *h, pending *pd) {
  if (!pd->body && build(d, pd) != 0) {
    pending_clear(pd);
    LOG_ERROR("entropyd report: out of memory building a report");
    return false;
  }
  char why[256] = "";
  if (send_report(d, h, pd, why, sizeof why)) {
    acknowledged(d, pd);
    pending_clear(pd);
    return true;
  }
  pthread_mutex_lock(&d->lock);
  bool first = d->report_error[0] == '\0';
  d->reports_failed++;
  snprintf(d->report_error, sizeof d->report_error, "%s", why);
  pthread_mutex_unlock(&d->lock);
  if (first) LOG_WARN("entropyd report %llu not acknowledged (kept, resent): %s",
                      (unsigned long long)pd->seq, why);
  return false;
}

static void *report_main(void *arg) {
  entropyd *d = arg;
  CURL *h = curl_easy_init();
  pending pd = {0};
  int backoff = 1;
  while (h && !atomic_load(&d->stop)) {
    bool ok = attempt(d, h, &pd);
    backoff = ok ? 1 : (backoff * 2 > d->report_interval_s ? d->report_interval_s : backoff * 2);
    int wait_s = ok ? d->report_interval_s : backoff;
    /* report_cv runs on the monotonic clock (main.c): the interval is a
     * duration, which a step of the wall clock neither stretches nor cuts */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_s;
    pthread_mutex_lock(&d->lock);
    /* A wake-up builds a new report only when none is pending; a pending
     * one is resent first, on its own schedule. */
    while (!atomic_load(&d->stop) && !(d->report_due && !pd.body))
      if (pthread_cond_timedwait(&d->report_cv, &d->lock, &until) != 0) break;
    pthread_mutex_unlock(&d->lock);
  }
  /* Stopping: what is pending, and what was issued since, goes out once
   * more; if lisecd does not take it, the log line says what was lost. */
  if (h) {
    if (pd.body && attempt(d, h, &pd)) (void)0;
    if (!pd.body) attempt(d, h, &pd);
    if (pd.body) {
      pthread_mutex_lock(&d->lock);
      bool li_lost = false;
      for (size_t i = 0; i < d->nclients; i++) {
        ed_client *c = &d->clients[i];
        if (c->seeds == c->acked_seeds) continue;
        /* An LI VNF's counts were to go sealed: the log says only that
         * some were lost, not whose or how many (TR 103 308 §4.1). */
        if (c->li) {
          li_lost = true;
          continue;
        }
        LOG_ERROR("audit seed-issuance not acknowledged by lisecd: client=%s seeds=%llu bytes=%llu",
                  c->name, (unsigned long long)(c->seeds - c->acked_seeds),
                  (unsigned long long)(c->bytes - c->acked_bytes));
      }
      if (li_lost)
        LOG_ERROR("audit seed-issuance not acknowledged by lisecd: the sealed records of LI VNFs "
                  "(TR103308-4.1: not logged)");
      pthread_mutex_unlock(&d->lock);
    }
    curl_easy_cleanup(h);
  }
  pending_clear(&pd);
  return NULL;
}

int ed_report_start(entropyd *d, pthread_t *th, lisec_err *err) {
  uint8_t id[RNG_REPORT_INSTANCE_LEN / 2];
  if (RAND_bytes(id, sizeof id) != 1) return lisec_err_set(err, LISEC_ECRYPTO, "report instance id");
  for (size_t i = 0; i < sizeof id; i++) snprintf(instance + 2 * i, 3, "%02x", id[i]);
  period_from = (int64_t)time(NULL);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return lisec_err_set(err, LISEC_EINTERNAL, "libcurl initialisation");
  if (pthread_create(th, NULL, report_main, d) != 0) {
    curl_global_cleanup();
    return lisec_err_set(err, LISEC_EINTERNAL, "report thread");
  }
  LOG_INFO("reporting issuance and source health to %s every %d s (instance %s)", d->report_url,
           d->report_interval_s, instance);
  return 0;
}

void ed_report_stop(entropyd *d, pthread_t th) {
  pthread_mutex_lock(&d->lock);
  pthread_cond_broadcast(&d->report_cv);
  pthread_mutex_unlock(&d->lock);
  pthread_join(th, NULL);
  curl_global_cleanup();
}
