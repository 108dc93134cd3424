/* The entropy service's use cases: lisec-entropyd's reports become audit
 * records and findings. A report is parsed strictly (rng_report_parse), then
 * each fact is recorded before the store changes (write-ahead): one record
 * per client that was issued seeds in the period (counts only), one per
 * source excluded or readmitted, one when the daemon stops or resumes
 * serving. Findings are store documents, one per (reporter, source) and per
 * reporter for the daemon itself, so they survive a restart of lisecd and
 * every API worker sees the same ones. The reporter's last (instance, seq)
 * is stored last: a report whose acknowledgement was lost is resent by the
 * daemon and recognised here, so it is not counted twice; a crash between
 * the records and that store write can record a report twice (at least
 * once, never lost). Reports are handled one at a time (a process-wide
 * lock): a daemon that timed out resends while lisecd may still be working
 * on the first copy, and the duplicate check must see the first one's end.
 * Reports are rare (one per daemon per interval), so the lock costs nothing.
 * Whether a client's records are sealed is lisecd's to say: a client lisecd
 * knows as an LI VM (ctl_model_vm_is_li) is sealed whatever the daemon's
 * flag (its [clients] li) says, and the flag can only add. Where the two
 * disagree a sealed record (rng.li_mismatch) names the client for the LI
 * administration, and the log says so without naming it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/internal.h"
#include "ctl/model.h"
#include "ctl/rng.h"
#include "rng/rng.h"

#define REPORTER_KIND "rng.reporter"
#define FINDING_KIND "rng.finding"
/* Reporter subjects name store documents together with a source name. */
#define REPORTER_MAX 200

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static void fmt_time(int64_t t, char *out, size_t cap) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(out, cap, "unknown");
}

/* The stored finding for id, or NULL (and *version 0) when there is none. */
static int finding_load(lisec_ctl *ctl, const char *id, json_t **doc, int64_t *version,
                        lisec_err *err) {
  char *body = NULL;
  *doc = NULL;
  *version = 0;
  int rc = store_doc_get(ctl->store, FINDING_KIND, id, &body, version, err);
  if (rc == LISEC_ENOTFOUND) {
    lisec_err_clear(err);
    *version = 0;
    return 0;
  }
  if (rc) return rc;
  rc = lisec_json_parse(body, strlen(body), doc, err);
  free(body);
  if (rc || !json_is_object(*doc)) {
    json_decref(*doc);
    *doc = NULL;
    return lisec_err_set(err, LISEC_ESTORE, "stored finding %s does not parse", id);
  }
  return 0;
}

static int finding_save(lisec_ctl *ctl, const char *id, json_t *doc, int64_t version,
                        lisec_err *err) {
  char *text = lisec_json_dump_canonical(doc);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_put(ctl->store, FINDING_KIND, id, text, version, NULL, err);
  free(text);
  return rc;
}

static bool finding_open(const json_t *doc) {
  return doc && json_is_true(json_object_get(doc, "open"));
}

typedef struct change {
  const char *kind;     /* "source" or "service" */
  const char *name;     /* source name, or "lisec-entropyd" */
  const char *state;    /* reported state */
  bool failed;          /* a finding must be open */
  const char *severity; /* when failed */
  const char *detail;
  int64_t since;
} change;

/* Opens, updates or closes the finding of one subject of one reporter, with
 * its audit record first. *recorded counts the records made. */
static int apply_change(lisec_ctl *ctl, const ctl_actor *actor, const change *c,
                        size_t *recorded, lisec_err *err) {
  char id[STORE_ID_MAX], subject[STORE_ID_MAX + 64];
  snprintf(id, sizeof id, "%s|%s:%s", actor->subject, c->kind, c->name);
  if (strcmp(c->kind, "source") == 0)
    snprintf(subject, sizeof subject, "entropy source %s of %s", c->name, actor->subject);
  else
    snprintf(subject, sizeof subject, "entropy service %s", actor->subject);
  json_t *doc = NULL;
  int64_t version = 0;
  int rc = finding_load(ctl, id, &doc, &version, err);
  if (rc) return rc;
  bool was_open = finding_open(doc);
  const char *was_state = doc ? json_string_value(json_object_get(doc, "state")) : NULL;
  const char *action = NULL;
  ctl_outcome outcome = CTL_OUTCOME_OK;
  char reason[RNG_REPORT_DETAIL_MAX + 128];
  if (c->failed && (!was_open || !was_state || strcmp(was_state, c->state) != 0)) {
    action = strcmp(c->kind, "source") == 0 ? "rng.source.excluded" : "rng.service.fail_closed";
    outcome = CTL_OUTCOME_FAILED;
    snprintf(reason, sizeof reason, "TR103308-4.2: %s%s%s", c->state, c->detail[0] ? ": " : "",
             c->detail);
  } else if (!c->failed && was_open) {
    action = strcmp(c->kind, "source") == 0 ? "rng.source.readmitted" : "rng.service.serving";
    outcome = CTL_OUTCOME_OK;
    snprintf(reason, sizeof reason, "reported %s again", c->state);
  }
  if (!action) {
    json_decref(doc);
    return 0;
  }
  if ((rc = ctl_audit(ctl, actor, outcome, action, false, reason, 0, NULL, err, "%s", subject))) {
    json_decref(doc);
    return rc;
  }
  (*recorded)++;
  int64_t now = (int64_t)time(NULL);
  json_t *nd = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:I, s:I}", "reporter",
                         actor->subject, "kind", c->kind, "subject", c->name, "state", c->state,
                         "open", c->failed, "severity",
                         c->failed ? c->severity : (doc ? json_string_value(json_object_get(doc, "severity")) : "info"),
                         "requirement", "TR103308-4.2", "detail",
                         c->failed ? reason : (doc ? json_string_value(json_object_get(doc, "detail")) : ""),
                         "since", (json_int_t)(c->failed ? (c->since ? c->since : now)
                                                         : json_integer_value(json_object_get(doc, "since"))),
                         "updated", (json_int_t)now);
  if (!nd) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  else {
    if (!c->failed) json_object_set_new(nd, "resolved", json_integer(now));
    rc = finding_save(ctl, id, nd, doc ? version : 0, err);
  }
  json_decref(nd);
  json_decref(doc);
  if (rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, action, false, NULL, rc, NULL, err, "%s",
                         subject);
  return rc;
}

static int issuance(lisec_ctl *ctl, const ctl_actor *actor, const rng_report *r,
                    size_t *recorded, lisec_err *err) {
  char from[32], to[32];
  fmt_time(r->from, from, sizeof from);
  fmt_time(r->to, to, sizeof to);
  size_t mismatched = 0;
  for (size_t i = 0; i < r->n_issuance; i++) {
    const rng_report_issue *c = &r->issuance[i];
    char subject[RNG_REPORT_NAME_MAX + 8], reason[256];
    snprintf(subject, sizeof subject, "vnf %s", c->client);
    if (!c->replays && !c->seeds) continue;
    bool known = false;
    int rc = ctl_model_vm_is_li(ctl, c->client, &known, err);
    if (rc) return rc;
    bool li = known || c->li;
    if (known != c->li) {
      static const char *const side[] = {
          "the daemon's [clients] li lists this client, and lisecd does not know it as an LI VM",
          "lisecd knows this client as an LI VM, and the daemon's [clients] li does not list it"};
      snprintf(reason, sizeof reason, "TR103308-4.1: %s (report %s/%llu); its records are sealed",
               side[known], r->instance, (unsigned long long)r->seq);
      rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "rng.li_mismatch", true, reason, 0, NULL, err, "%s",
                     subject);
      if (rc) return rc;
      (*recorded)++;
      mismatched++;
    }
    if (c->replays) {
      /* The daemon's log names the client by its reference alone; this
       * record says whose it is, sealed for an LI VNF as its issuance. */
      snprintf(reason, sizeof reason,
               "TR103308-5.12: %llu seed requests refused as replays from %s to %s (the daemon's log "
               "reference %s; report %s/%llu)",
               (unsigned long long)c->replays, from, to, c->ref, r->instance, (unsigned long long)r->seq);
      rc = ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "rng.replay", li, reason, 0, NULL, err, "%s",
                     subject);
      if (rc) return rc;
      (*recorded)++;
    }
    if (c->seeds == 0) continue;
    snprintf(reason, sizeof reason, "TR103308-5.15: %llu seeds, %llu bytes from %s to %s (report %s/%llu)",
             (unsigned long long)c->seeds, (unsigned long long)c->bytes, from, to, r->instance,
             (unsigned long long)r->seq);
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "rng.issuance", li, reason, 0, NULL, err, "%s", subject);
    if (rc) return rc;
    (*recorded)++;
  }
  /* Named by the reporter alone: the log is the platform operators'. */
  if (mismatched)
    LOG_WARN("TR103308-4.1: entropy service %s: %zu client(s) whose LI status lisecd and the daemon's "
             "[clients] li disagree on (report %s/%llu); their records are sealed (rng.li_mismatch, for "
             "the LI administration)",
             actor->subject, mismatched, r->instance, (unsigned long long)r->seq);
  return 0;
}

static int report_locked(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                         json_t **out, lisec_err *err);

int ctl_rng_report(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                   lisec_err *err) {
  /* The subject names the reporter's store documents ("<subject>|<kind>:<name>"):
   * bounded, printable, and without the separator. */
  const char *sub = actor->subject;
  bool ok = sub && *sub && strlen(sub) <= REPORTER_MAX && !strchr(sub, '|');
  for (const char *p = sub; ok && *p; p++) ok = (unsigned char)*p >= 0x20 && *p != 0x7f;
  if (!ok)
    return lisec_err_set(err, LISEC_EINVAL, "rng report: the reporter's certificate subject must be "
                                            "1..%d printable characters without '|'", REPORTER_MAX);
  pthread_mutex_lock(&report_lock);
  int rc = report_locked(ctl, actor, body, out, err);
  pthread_mutex_unlock(&report_lock);
  return rc;
}

static int report_locked(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                         json_t **out, lisec_err *err) {
  rng_report r;
  int rc = rng_report_parse(body, &r, err);
  if (rc) {
    rng_report_free(&r);
    return rc;
  }
  /* Already recorded? */
  char *prev = NULL;
  int64_t pver = 0;
  json_t *pj = NULL;
  rc = store_doc_get(ctl->store, REPORTER_KIND, actor->subject, &prev, &pver, err);
  if (rc == LISEC_ENOTFOUND) {
    lisec_err_clear(err);
    rc = 0;
    pver = 0;
  } else if (!rc) {
    rc = lisec_json_parse(prev, strlen(prev), &pj, err);
    free(prev);
  }
  size_t recorded = 0;
  bool duplicate = false, new_instance = true;
  if (!rc && pj) {
    const char *inst = json_string_value(json_object_get(pj, "instance"));
    json_int_t seq = json_integer_value(json_object_get(pj, "seq"));
    new_instance = !inst || strcmp(inst, r.instance) != 0;
    duplicate = !new_instance && (uint64_t)seq >= r.seq;
  }
  json_decref(pj);
  if (!rc && !duplicate && new_instance) {
    char reason[96];
    snprintf(reason, sizeof reason, "instance %s reports from seq %llu", r.instance,
             (unsigned long long)r.seq);
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "rng.reporter.start", false, reason, 0, NULL, err,
                   "%s", "entropy service");
    if (!rc) recorded++;
  }
  if (!rc && !duplicate) rc = issuance(ctl, actor, &r, &recorded, err);
  for (size_t i = 0; !rc && !duplicate && i < r.n_sources; i++) {
    const rng_report_source *s = &r.sources[i];
    change c = {"source", s->name, rng_src_state_name(s->state), rng_src_state_failed(s->state),
                "high", s->detail, s->since};
    rc = apply_change(ctl, actor, &c, &recorded, err);
  }
  if (!rc && !duplicate) {
    change c = {"service", "lisec-entropyd", r.serving ? "serving" : "fail_closed", !r.serving,
                "critical", r.detail, r.to};
    rc = apply_change(ctl, actor, &c, &recorded, err);
  }
  if (!rc && !duplicate) {
    json_t *nd = json_pack("{s:s, s:I, s:I}", "instance", r.instance, "seq", (json_int_t)r.seq,
                           "updated", (json_int_t)time(NULL));
    char *text = nd ? lisec_json_dump_canonical(nd) : NULL;
    json_decref(nd);
    rc = text ? store_doc_put(ctl->store, REPORTER_KIND, actor->subject, text, pver, NULL, err)
              : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    free(text);
    if (rc == LISEC_ECONFLICT)
      rc = lisec_err_set(err, rc, "rng report %s/%llu: another report of %s was recorded meanwhile; "
                                  "resend", r.instance, (unsigned long long)r.seq, actor->subject);
  }
  if (!rc)
    *out = json_pack("{s:b, s:b, s:I, s:I}", "accepted", !duplicate, "duplicate", duplicate, "seq",
                     (json_int_t)r.seq, "recorded", (json_int_t)recorded);
  rng_report_free(&r);
  return rc;
}

typedef struct list_ctx {
  json_t *arr;
  bool open_only;
} list_ctx;

static int list_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)id, (void)version;
  list_ctx *lc = ctx;
  json_t *j = NULL;
  if (lisec_json_parse(body, strlen(body), &j, NULL) != 0 || !json_is_object(j)) {
    json_decref(j);
    return LISEC_ESTORE;
  }
  if (lc->open_only && !finding_open(j)) {
    json_decref(j);
    return 0;
  }
  return json_array_append_new(lc->arr, j) ? LISEC_ENOMEM : 0;
}

int ctl_rng_findings(lisec_ctl *ctl, const ctl_actor *actor, bool open_only, json_t **out,
                     lisec_err *err) {
  (void)actor;
  list_ctx lc = {json_array(), open_only};
  if (!lc.arr) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_list(ctl->store, FINDING_KIND, list_cb, &lc, err);
  if (rc == LISEC_ESTORE && !err->msg[0]) lisec_err_set(err, rc, "a stored rng finding does not parse");
  if (rc) {
    json_decref(lc.arr);
    return rc;
  }
  *out = json_pack("{s:o}", "findings", lc.arr);
  return 0;
}
