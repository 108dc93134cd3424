/* Host attestation wired into the controller: enrolment with
 * MakeCredential/ActivateCredential, per-host single-use nonces, appraisal
 * of the agent's evidence with the operator's reference values and the
 * asset-management CA, the result stored (document kind "attest.host"),
 * audited with its reasons before it takes effect and handed to the model,
 * a timer that turns hosts whose attestation is overdue untrusted, the
 * freshness guarantee for LI decisions, location re-confirmation and
 * quarantine. Everything fails closed: no reference values, no CA, no
 * answer in time, an unrecorded result — none of them ever yields trust.
 *
 * State: the persistent truth is the store document per host; the shared
 * table here caches what the hot paths need (times, flags) under
 * one mutex. A decision that needs a fresh appraisal never waits here: it
 * leaves a request-scoped wait (ctl_attest_wait) that an appraisal wakes
 * through the transport's event loop. Nonces live in the store
 * (ctl/attest_nonces.c), so evidence may reach whichever lisecd leads when
 * it arrives (a failover after GET nonce), and a nonce is spent once for
 * all of them. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attest/attest.h"
#include "crypto/crypto.h"
#include "ctl/attest.h"
#include "ctl/attest_epoch.h"
#include "ctl/attest_nonces.h"
#include "ctl/attest_result.h"
#include "ctl/attest_revoked.h"
#include "ctl/audit.h"
#include "ctl/auditlog.h"
#include "ctl/clock.h"
#include "ctl/counters.h"
#include "ctl/enrol_id.h"
#include "ctl/internal.h"
#include "ctl/li.h"
#include "ctl/model.h"
#include "ctl/telemetry.h"

#define HOST_KIND "attest.host"
#define SECRET_LEN 32
#define NONCES_PER_HOST 4
#define HOSTS_MAX 100000
#define REVOKED_KEPT_MAX 400000 /* certificates kept in memory; past it the store answers */
#define DOCS_KEPT_MAX_BYTES (64u << 20) /* host documents kept in memory; past it they are read */
#define QUARANTINE_ARGS_MAX 32

extern char **environ;

/* A host's AK as parsed from its stored TPM2B_PUBLIC, kept so a report
 * does not rebuild the key (and its verification context) each time. It is
 * used only when the stored bytes are exactly pub, so a new enrolment is a
 * new key; refs counts the table's reference and each report using it. */
typedef struct ak_cached {
  attest_ak *ak;
  uint8_t *pub;
  size_t len;
  unsigned refs;
} ak_cached;

typedef struct att_host {
  char id[ATTEST_HOST_ID_LEN + 1];
  ak_cached *ak;         /* the newest AK parsed for this host, or NULL */
  bool enrolled;         /* has an activated AK */
  bool deenrolled;       /* the operator de-enrolled it; no AK until it enrols again */
  bool trusted;          /* what this controller last told the model */
  bool last_passed;      /* the newest appraisal passed */
  bool wanted;           /* a decision asked for a fresh appraisal */
  bool silent;           /* no fresh quote came within a wait; no decision waits
                          * for this host again until it is appraised */
  int64_t silent_asked_ms; /* wall clock, ms: when the ask it let pass was made */
  bool overdue_todo;     /* turned untrusted (overdue); the timer records it */
  bool offer;            /* a confirmed location certificate waits for the agent */
  bool since_start;      /* loaded at start, not appraised by this lisecd yet */
  int64_t last_ok;       /* seconds; newest passed appraisal, 0 = none */
  int64_t last_ok_ms;    /* the same in ms, for freshness (whole seconds after a restart) */
  int64_t last_attempt;  /* seconds; newest appraisal of any outcome */
  /* the same by the monotonic clock (ms), 0 = none by this lisecd: what
   * "due" is judged by, so a wall clock stepped back does not stop the
   * challenges nor one stepped forward make them ask at every poll */
  int64_t last_attempt_mono_ms;
  uint64_t appraisals;   /* count, so waiters see a new one */
  /* The host's stored document as an appraisal last wrote or read it, so
   * the next report needs no store read (doc_kept_get); doc_gen counts
   * every write that dropped it, so a read that raced a write keeps nothing. */
  char *doc;
  int64_t doc_ver;
  uint64_t doc_gen;
} att_host;

/* One host of a request's wait: the appraisal count when it was deferred,
 * and when (wall clock, ms), which a silence it lets pass reports. */
typedef struct wait_host {
  char id[ATTEST_HOST_ID_LEN + 1];
  uint64_t seen;
  int64_t asked_ms;
  bool done;
} wait_host;

struct ctl_attest_wait {
  wait_host *hosts;
  size_t n, cap;
  bool pending; /* the last dispatch deferred a host */
  bool final;   /* the next dispatch refuses instead of deferring */
  bool expired; /* its bound passed (ctl_attest_wait_expire) */
  int64_t since_mono_ms; /* its first deferral, monotonic: how long it waited */
  bool armed;   /* linked into the state's list of armed waits */
  bool woken;
  ctl_attest_wake_fn wake;
  void *arg;
  struct ctl_attest_wait *next;
  struct ctl_attest_state *st;
};

struct ctl_attest_state {
  pthread_mutex_t mu;
  pthread_cond_t changed; /* the timer has work, or stop */
  struct ctl_attest_wait *armed; /* requests waiting for appraisals */
  att_host **hosts;
  size_t n, cap;
  json_t *host_at; /* host id -> its position in hosts, so a report's lookup does not grow with the fleet */
  attest_policy *policy;           /* NULL: every appraisal fails (fail closed) */
  attest_location_ca *location_ca; /* NULL: no location is ever proven */
  uint8_t *ek_ca;                  /* PEM bundle of TPM manufacturers; NULL: not checked */
  size_t ek_ca_len;
  int64_t interval_s, grace_s, nonce_ttl_s, fresh_wait_ms, quarantine_timeout_s, check_ms;
  int64_t inventory_max_bytes, inventory_max_domains; /* a host's inventory (issue 15) */
  ctl_telemetry_conf telemetry; /* [telemetry]: chassis reports (issue 19, ctl/telemetry.c) */
  char *quarantine_cmd;
  char *quarantine_argv[QUARANTINE_ARGS_MAX + 1];
  bool reloaded; /* every stored appraisal is in the table and the model */
  ctl_nonce_cache *nonces; /* each host's nonce table as last written (ctl/attest_nonces.h) */
  ctl_revoked_set *revoked; /* the revoked host certificates (ctl/attest_revoked.h) */
  size_t doc_bytes;         /* the host documents kept (att_host.doc), at most DOCS_KEPT_MAX_BYTES */
  /* the overdue timer */
  pthread_t timer;
  bool timer_started, stopping;
  lisec_ctl *timer_ctl;
};

static const ctl_actor timer_actor = {"lisecd", "controller", CTL_ROLE_CONTROLLER};

/* ---- small helpers ------------------------------------------------------ */

static struct ctl_attest_state *st_of(lisec_ctl *ctl) { return ctl->shared->attest; }

static att_host *find_locked(struct ctl_attest_state *st, const char *id) {
  json_t *at = json_object_get(st->host_at, id);
  return at ? st->hosts[json_integer_value(at)] : NULL;
}

static att_host *add_locked(struct ctl_attest_state *st, const char *id) {
  att_host *h = find_locked(st, id);
  if (h) return h;
  if (st->n == HOSTS_MAX) return NULL;
  if (st->n == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 16;
    att_host **nh = realloc(st->hosts, cap * sizeof *nh);
    if (!nh) return NULL;
    st->hosts = nh, st->cap = cap;
  }
  h = calloc(1, sizeof *h);
  if (!h) return NULL;
  snprintf(h->id, sizeof h->id, "%s", id);
  if (json_object_set_new(st->host_at, h->id, json_integer((json_int_t)st->n))) {
    free(h);
    return NULL;
  }
  st->hosts[st->n++] = h;
  return h;
}

static void ak_cached_free(ak_cached *c) {
  attest_ak_free(c->ak);
  free(c->pub);
  free(c);
}

/* Drops one reference; the last frees it. */
static void ak_cached_put(struct ctl_attest_state *st, ak_cached *c) {
  if (!c) return;
  pthread_mutex_lock(&st->mu);
  bool last = --c->refs == 0;
  pthread_mutex_unlock(&st->mu);
  if (last) ak_cached_free(c);
}

/* The AK of host whose stored TPM2B_PUBLIC is pub: the kept one when its
 * bytes are the same, otherwise parsed (with every check of
 * attest_ak_from_tpm_public) and kept for the next report. The caller
 * drops its reference with ak_cached_put. */
static int ak_cached_get(struct ctl_attest_state *st, const char *host, const uint8_t *pub,
                         size_t len, ak_cached **out, lisec_err *err) {
  *out = NULL;
  pthread_mutex_lock(&st->mu);
  att_host *h = find_locked(st, host);
  ak_cached *c = h ? h->ak : NULL;
  if (c && c->len == len && memcmp(c->pub, pub, len) == 0) {
    c->refs++;
    pthread_mutex_unlock(&st->mu);
    *out = c;
    return 0;
  }
  pthread_mutex_unlock(&st->mu);
  if (!(c = calloc(1, sizeof *c)) || !(c->pub = malloc(len ? len : 1))) {
    free(c);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  memcpy(c->pub, pub, len);
  c->len = len;
  int rc = attest_ak_from_tpm_public(pub, len, &c->ak, err);
  if (rc) {
    ak_cached_free(c);
    return rc;
  }
  c->refs = 1; /* the caller's */
  ak_cached *old = NULL;
  pthread_mutex_lock(&st->mu);
  if ((h = find_locked(st, host))) {
    old = h->ak;
    h->ak = c;
    c->refs++;
    if (old && --old->refs != 0) old = NULL;
  }
  pthread_mutex_unlock(&st->mu);
  if (old) ak_cached_free(old);
  *out = c;
  return 0;
}

static bool valid_host_id(const char *s) {
  if (strlen(s) != ATTEST_HOST_ID_LEN) return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

/* A host acts only for itself (its certificate's CN is its host id); the
 * refusal is recorded. Other roles were admitted by the route. */
static int check_actor(lisec_ctl *ctl, const ctl_actor *actor, const char *host, const char *action,
                       lisec_err *err) {
  if (ctl_actor_role(actor) != CTL_ROLE_HOST) return 0;
  if (actor->subject && strcmp(actor->subject, host) == 0) return 0;
  char why[256];
  snprintf(why, sizeof why, "TR103308-5.1: the host certificate with CN %.64s tried to act for "
           "another host", actor->subject ? actor->subject : "(none)");
  lisec_err_set(err, LISEC_EAUTH,
                "TR103308-5.1: a host certificate acts only for the host in its CN "
                "(%.64s), not for host %.16s..",
                actor->subject ? actor->subject : "(none)", host);
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, action, false, why, LISEC_EAUTH, NULL, err,
                   "host %s", host);
}

static int get_host(const json_t *body, const char **host, lisec_err *err) {
  int rc = lisec_json_get_str(body, "host", true, ATTEST_HOST_ID_LEN, host, err);
  if (rc) return rc;
  if (!valid_host_id(*host))
    return lisec_err_set(err, LISEC_EINVAL, "host: 64 lower-case hex digits (SHA-256 of the EK)");
  return 0;
}

/* A base64 field of at most max decoded bytes; *out NULL when absent and
 * not required. */
static int get_b64(const json_t *body, const char *key, bool required, size_t max, uint8_t **out,
                   size_t *len, lisec_err *err) {
  const char *s = NULL;
  *out = NULL, *len = 0;
  int rc = lisec_json_get_str(body, key, required, (max + 2) / 3 * 4 + 4, &s, err);
  if (rc || !s) return rc;
  rc = crypto_base64_decode(s, max, out, len, err);
  if (rc) return lisec_err_wrap(err, "%s", key), rc;
  if (*len == 0) {
    free(*out);
    *out = NULL;
    if (required) return lisec_err_set(err, LISEC_EINVAL, "%s: empty", key);
  }
  return 0;
}

static char *b64(const uint8_t *p, size_t n) {
  char *s = NULL;
  return crypto_base64_encode(p, n, &s) == 0 ? s : NULL;
}

/* ---- the host documents kept for appraisals (issue 15's figure) ----------
 * An appraisal starts from the host's document as the last appraisal wrote
 * it (or read it) instead of reading the store; its write is the same
 * compare-and-set on the version kept, so a copy that is stale (a write
 * this lisecd did not make) is refused there, and the conflict is handled
 * on the stored document as before (only_trust_changed reads the store).
 * Every other write of the document drops the copy after it lands. */

/* A copy of the kept text of host's document with its version (NULL when
 * none is kept); *gen, the drop count for doc_keep. */
static char *doc_kept_get(struct ctl_attest_state *st, const char *host, int64_t *ver, uint64_t *gen) {
  char *text = NULL;
  pthread_mutex_lock(&st->mu);
  att_host *h = find_locked(st, host);
  if (h && h->doc) text = strdup(h->doc), *ver = h->doc_ver;
  *gen = h ? h->doc_gen : 0;
  pthread_mutex_unlock(&st->mu);
  return text;
}

/* Keeps text as host's document at ver, unless a write dropped the copy
 * since gen was taken or a newer version is kept. */
static void doc_keep(struct ctl_attest_state *st, const char *host, const char *text, int64_t ver,
                     uint64_t gen) {
  size_t len = strlen(text) + 1;
  pthread_mutex_lock(&st->mu);
  att_host *h = find_locked(st, host);
  size_t had = h && h->doc ? strlen(h->doc) + 1 : 0;
  if (h && h->doc_gen == gen && (!h->doc || ver > h->doc_ver) &&
      st->doc_bytes - had + len <= DOCS_KEPT_MAX_BYTES) {
    char *copy = malloc(len);
    if (copy) {
      memcpy(copy, text, len);
      free(h->doc);
      h->doc = copy, h->doc_ver = ver;
      st->doc_bytes = st->doc_bytes - had + len;
    }
  }
  pthread_mutex_unlock(&st->mu);
}

static void doc_drop_locked(struct ctl_attest_state *st, att_host *h) {
  if (!h) return;
  if (h->doc) st->doc_bytes -= strlen(h->doc) + 1;
  free(h->doc);
  h->doc = NULL;
  h->doc_gen++;
}

static void doc_drop(struct ctl_attest_state *st, const char *host) {
  pthread_mutex_lock(&st->mu);
  doc_drop_locked(st, find_locked(st, host));
  pthread_mutex_unlock(&st->mu);
}

/* The host's document, parsed; *text (when not NULL) gets its stored
 * bytes as well, which the caller frees. kept: an appraisal's read, which
 * starts from the kept copy and keeps what it reads (*gen for doc_keep). */
static int load_doc_kept(lisec_ctl *ctl, const char *host, bool kept, json_t **doc, int64_t *ver,
                         char **text, uint64_t *gen, lisec_err *err) {
  struct ctl_attest_state *st = st_of(ctl);
  char *body = NULL;
  uint64_t g = 0;
  int rc = 0;
  if (!kept || !(body = doc_kept_get(st, host, ver, &g))) {
    rc = store_doc_get(ctl->store, HOST_KIND, host, &body, ver, err);
    if (!rc && kept) doc_keep(st, host, body, *ver, g);
  }
  if (gen) *gen = g;
  if (rc == LISEC_ENOTFOUND)
    return lisec_err_set(err, rc, "host %.16s.. has never enrolled (TR103308-5.1)", host);
  if (rc) return rc;
  rc = lisec_json_parse(body, strlen(body), doc, err);
  if (!rc && text) *text = body;
  else free(body);
  return rc;
}

static int load_doc(lisec_ctl *ctl, const char *host, json_t **doc, int64_t *ver, lisec_err *err) {
  return load_doc_kept(ctl, host, false, doc, ver, NULL, NULL, err);
}

static int save_doc(lisec_ctl *ctl, const char *host, const json_t *doc, int64_t expected,
                    lisec_err *err) {
  char *text = lisec_json_dump_canonical(doc);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_put(ctl->store, HOST_KIND, host, text, expected, NULL, err);
  free(text);
  doc_drop(st_of(ctl), host); /* after the write: a read that raced it keeps nothing */
  if (rc == LISEC_ECONFLICT)
    lisec_err_set(err, rc, "host %.16s.. changed meanwhile; try again", host);
  return rc;
}

/* Decodes a base64 member of a stored document. */
static int doc_bytes(const json_t *doc, const char *key, size_t max, uint8_t **out, size_t *len,
                     lisec_err *err) {
  return get_b64(doc, key, true, max, out, len, err);
}

static int64_t doc_int(const json_t *doc, const char *key) {
  return json_integer_value(json_object_get(doc, key));
}

/* A TPM firmware version kept as 16 hex digits (it is 64 bits, over
 * JSON's integers); 0 when absent. */
static uint64_t doc_fw(const json_t *doc, const char *key) {
  const char *s = json_string_value(json_object_get(doc, key));
  return s ? strtoull(s, NULL, 16) : 0;
}

static void doc_set_fw(json_t *doc, const char *key, uint64_t fw) {
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fw);
  json_object_set_new(doc, key, json_string(hex));
}

/* ---- requests waiting for fresh appraisals ------------------------------ */

ctl_attest_wait *ctl_attest_wait_new(void) { return calloc(1, sizeof(ctl_attest_wait)); }

void ctl_attest_wait_disarm(ctl_attest_wait *w) {
  struct ctl_attest_state *st = w ? w->st : NULL;
  if (!st || !w->armed) return;
  pthread_mutex_lock(&st->mu);
  for (ctl_attest_wait **p = &st->armed; *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      break;
    }
  w->armed = false;
  pthread_mutex_unlock(&st->mu);
}

void ctl_attest_wait_free(ctl_attest_wait *w) {
  if (!w) return;
  ctl_attest_wait_disarm(w);
  free(w->hosts);
  free(w);
}

bool ctl_attest_wait_pending(const ctl_attest_wait *w) { return w && w->pending; }

int64_t ctl_attest_wait_bound_ms(lisec_ctl *ctl) {
  struct ctl_attest_state *st = st_of(ctl);
  return st ? st->fresh_wait_ms : 0;
}

void ctl_attest_wait_finalise(ctl_attest_wait *w) {
  w->final = true;
  w->pending = false;
}

void ctl_attest_wait_expire(ctl_attest_wait *w) {
  ctl_attest_wait_finalise(w);
  w->expired = true;
}

static wait_host *wait_find(ctl_attest_wait *w, const char *host) {
  for (size_t i = 0; w && i < w->n; i++)
    if (strcmp(w->hosts[i].id, host) == 0) return &w->hosts[i];
  return NULL;
}

/* Each host of the wait is done once it has an appraisal newer than the
 * one it was deferred at, or once it is silent: another request's bound
 * passed without its quote, so it had a whole bound from an ask that came
 * no later than this one's (a silent host is never deferred), and a
 * request arriving now would not wait for it either. The wait wakes once,
 * when all are; a host still asked keeps the request waiting up to its own
 * bound. Lock held. */
static void wait_check_locked(struct ctl_attest_state *st, ctl_attest_wait *w) {
  if (w->woken) return;
  bool all = true;
  for (size_t i = 0; i < w->n; i++) {
    const att_host *h = find_locked(st, w->hosts[i].id);
    if (h && (h->appraisals != w->hosts[i].seen || h->silent)) w->hosts[i].done = true;
    all = all && w->hosts[i].done;
  }
  if (!all) return;
  w->woken = true;
  w->wake(w->arg);
}

void ctl_attest_wait_arm(lisec_ctl *ctl, ctl_attest_wait *w, ctl_attest_wake_fn wake, void *arg) {
  struct ctl_attest_state *st = st_of(ctl);
  w->wake = wake, w->arg = arg, w->st = st;
  if (!st) return;
  pthread_mutex_lock(&st->mu);
  w->next = st->armed;
  st->armed = w;
  w->armed = true;
  wait_check_locked(st, w);
  pthread_mutex_unlock(&st->mu);
}

/* An appraisal of h completed, or h went silent: the waits that include h
 * look again. */
static void notify_locked(struct ctl_attest_state *st, const att_host *h) {
  for (ctl_attest_wait *w = st->armed; w; w = w->next)
    if (wait_find(w, h->id)) wait_check_locked(st, w);
}

/* ---- quarantine --------------------------------------------------------- */

/* The sealed finding's reason is always LI_FINDING_LEN bytes: what it says,
 * then spaces. A sealed entry's length is visible to every reader of the
 * log (docs/audit.md, "Entries"), so without the padding the finding of a
 * host whose VMs an LI names would be longer than its twin's, and a list
 * of LIs longer than a shorter one (§4.1). The words stop short of it
 * (ids dropped as "and N more"), so nothing is ever cut. */
#define LI_FINDING_LEN AUDIT_STR_MAX
#define LI_FINDING_WHAT 360 /* bytes of what, at most */
#define LI_FINDING_TAIL sizeof " and 18446744073709551615 more, evaluated again"
/* The seal pads every sealed entry to whole AUDIT_SEAL_BUCKETs (with a
 * marker and one byte of padding at least), so what makes every finding one
 * length is that every finding lands in the same bucket: the second. The
 * entry (docs/audit.md, "Entries": an 18-byte header, four strings, one
 * subject "host ID", one reason) holds the reason of LI_FINDING_LEN bytes,
 * more than the first bucket, and with an actor and role of at most
 * LI_FINDING_ACTOR_MAX bytes together (an API client's certificate subject
 * and role: 255 + 79; lisecd's own: a few) and a host id of at most
 * MODEL_ID_MAX, no more than the second. */
#define LI_FINDING_ACTOR_MAX 512
#define LI_FINDING_ENTRY(actor_role, host)                                                             \
  (18 + 2 + (actor_role) + 2 + 2 + (sizeof "attest.finding" - 1) + 2 + (sizeof "denied" - 1) + 1 + 2 + \
   (sizeof "host " - 1) + (host) + 1 + 2 + LI_FINDING_LEN)
_Static_assert(1 + LI_FINDING_ENTRY(2, 1) + 1 > AUDIT_SEAL_BUCKET &&
                   1 + LI_FINDING_ENTRY(LI_FINDING_ACTOR_MAX, MODEL_ID_MAX) + 1 <= 2 * AUDIT_SEAL_BUCKET,
               "every LI finding seals to the second bucket");

void ctl_attest_li_finding(lisec_ctl *ctl, const ctl_actor *actor, const char *host,
                           const char *what, const json_t *lis) {
  _Static_assert(LI_FINDING_WHAT + sizeof "; it touches the LI authorisations " + LI_FINDING_TAIL +
                         MODEL_ID_MAX + 2 <
                     LI_FINDING_LEN,
                 "room for the finding's words and one LI id at least");
  char reason[LI_FINDING_LEN + 1];
  size_t n = lis ? json_array_size(lis) : 0, used, i;
  /* what, cut on a UTF-8 character boundary when it is longer */
  int wl = (int)strnlen(what, LI_FINDING_WHAT + 1), w;
  if (wl > LI_FINDING_WHAT)
    for (wl = LI_FINDING_WHAT; wl > 0 && ((unsigned char)what[wl] & 0xc0) == 0x80;) wl--;
  if (!lis)
    w = snprintf(reason, sizeof reason, "%.*s; which LI authorisations it touches is unknown", wl, what);
  else if (!n) w = snprintf(reason, sizeof reason, "%.*s; it touches no LI authorisation", wl, what);
  else w = snprintf(reason, sizeof reason, "%.*s; it touches the LI authorisations ", wl, what);
  used = w > 0 ? (size_t)w : 0;
  for (i = 0; lis && i < n; i++) {
    const char *id = json_string_value(json_array_get(lis, i));
    size_t need = (i ? 2 : 0) + strnlen(id ? id : "?", MODEL_ID_MAX);
    if (used + need + LI_FINDING_TAIL > LI_FINDING_LEN) break;
    used += (size_t)snprintf(reason + used, sizeof reason - used, "%s%.*s", i ? ", " : "",
                             MODEL_ID_MAX, id ? id : "?");
  }
  if (n && i < n) used += (size_t)snprintf(reason + used, sizeof reason - used, " and %zu more", n - i);
  if (n) used += (size_t)snprintf(reason + used, sizeof reason - used, ", evaluated again");
  memset(reason + used, ' ', LI_FINDING_LEN - used);
  reason[LI_FINDING_LEN] = '\0';
  lisec_err e = {0};
  if (ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "attest.finding", true, reason, 0, NULL, &e, "host %s",
                host) != 0)
    LOG_ERROR("attest: cannot record the LI finding for host %.16s..: %s", host, e.msg);
}

/* Runs the configured command (argv, no shell) with the host id, the
 * reason and the ids of the host's VMs of class li appended, and waits at
 * most quarantine_timeout_s; a command that does not finish is killed.
 * Returns its exit status, or -1. */
static int run_quarantine(struct ctl_attest_state *st, const char *host, const char *why,
                          const json_t *li_vms, char *out, size_t out_len) {
  size_t n = 0, nv = li_vms ? json_array_size(li_vms) : 0;
  while (st->quarantine_argv[n]) n++;
  char **argv = calloc(n + nv + 3, sizeof *argv);
  if (!argv) return snprintf(out, out_len, "out of memory"), -1;
  memcpy(argv, st->quarantine_argv, n * sizeof *argv);
  argv[n] = (char *)host;
  argv[n + 1] = (char *)why;
  for (size_t i = 0; i < nv; i++) argv[n + 2 + i] = (char *)json_string_value(json_array_get(li_vms, i));
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
  free(argv);
  const char *prog = st->quarantine_argv[0];
  if (rc != 0) {
    snprintf(out, out_len, "%s could not start: %s", prog, strerror(rc));
    return -1;
  }
  /* A duration, by the monotonic clock: a wall clock stepped back would
   * let a hung command live on for the step, one stepped forward kill it
   * at once. */
  int64_t deadline = lisec_time_mono_ms() + st->quarantine_timeout_s * 1000;
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      snprintf(out, out_len, "%s: waitpid: %s", prog, strerror(errno));
      return -1;
    }
    if (lisec_time_mono_ms() >= deadline) {
      kill(pid, SIGKILL);
      (void)waitpid(pid, &status, 0);
      snprintf(out, out_len, "%s did not finish within %llds and was killed", prog,
               (long long)st->quarantine_timeout_s);
      return -1;
    }
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (WIFEXITED(status)) {
    snprintf(out, out_len, "%s exited with %d", prog, WEXITSTATUS(status));
    return WEXITSTATUS(status);
  }
  snprintf(out, out_len, "%s ended by a signal", prog);
  return -1;
}

/* A host that was trusted is not any more. The model re-evaluates every LI
 * that touches it on its own when its trust changes. Here, for every such
 * host alike: one finding sealed to the LI administration names the LI
 * authorisations it touches (ctl_attest_li_finding), one in the clear says
 * what was done, and the configured action runs with the host's VMs of
 * class li (MANO evacuates or suspends them), whether it runs any or not.
 * That the records, the action and its time are the same for every host
 * keeps a host running a VM an LI names, but not declared "li", from
 * showing in the log or to the action (§4.1). */
static void quarantine(lisec_ctl *ctl, const char *host, const char *why) {
  struct ctl_attest_state *st = st_of(ctl);
  lisec_err e = {0};
  char reason[900];
  json_t *li_vms = NULL, *lis = NULL;
  bool known = ctl_model_host_li_touch(ctl, host, &li_vms, &lis, &e) == 0;
  if (!known) LOG_WARN("attest: which VMs host %.16s.. runs is unknown: %s", host, e.msg);
  snprintf(reason, sizeof reason,
           "TR103308-6.2-R8: finding: host %.16s.. lost its trust (%.300s); its LI VMs must be "
           "evacuated or suspended",
           host, why);
  ctl_attest_li_finding(ctl, &timer_actor, host, reason, lis);
  snprintf(reason, sizeof reason, "TR103308-5.1: finding: host lost its trust (%.600s); %s", why,
           !st->quarantine_argv[0] ? "no quarantine command is configured"
           : known ? "quarantine command run with its VMs of class li"
                   : "which VMs it runs is unknown: quarantine command run with none");
  (void)ctl_audit(ctl, &timer_actor, CTL_OUTCOME_DENIED, "attest.finding", false, reason, 0, NULL,
                  &e, "host %s", host);
  if (st->quarantine_argv[0]) {
    char res[512];
    int status = run_quarantine(st, host, why, li_vms, res, sizeof res);
    (void)ctl_audit(ctl, &timer_actor, status == 0 ? CTL_OUTCOME_OK : CTL_OUTCOME_FAILED,
                    "attest.quarantine", false, res, status, NULL, &e, "host %s", host);
    if (status != 0) LOG_WARN("attest: quarantine of host %.16s..: %s", host, res);
  }
  json_decref(li_vms), json_decref(lis);
}

/* ---- opening and closing ------------------------------------------------ */

static int read_file_opt(const lisec_config *cfg, const char *key, size_t max, uint8_t **out,
                         size_t *len, lisec_err *err) {
  const char *path = lisec_config_str(cfg, "attest", key, NULL);
  *out = NULL, *len = 0;
  if (!path || !*path) return 0;
  int rc = lisec_file_read(path, max, out, len, err);
  if (rc) lisec_err_wrap(err, "[attest] %s", key);
  return rc;
}

/* The model's location from a stored appraisal's (location_doc), or false
 * when it has none or it does not read. */
static bool stored_location(const json_t *l, model_location *ml) {
  const char *country = json_string_value(json_object_get(l, "country"));
  if (!json_is_object(l) || !country || !*country) return false;
  const char *sub = json_string_value(json_object_get(l, "subdivision"));
  const char *site = json_string_value(json_object_get(l, "site"));
  *ml = (model_location){.country = country, .subdivision = sub && *sub ? sub : NULL,
                         .site = site && *site ? site : NULL, .source = MODEL_LOC_ATTESTED};
  ml->has_coords = json_is_number(json_object_get(l, "latitude")) &&
                   json_is_number(json_object_get(l, "longitude"));
  ml->lat = json_number_value(json_object_get(l, "latitude"));
  ml->lon = json_number_value(json_object_get(l, "longitude"));
  return true;
}

typedef struct load_ctx {
  struct ctl_attest_state *st;
  lisec_ctl *model_ctl; /* only its shared state: the model, opened before */
  size_t hosts, applied;
  json_t *gone; /* the de-enrolled hosts' ids */
} load_ctx;

/* A stored appraisal at start (issue 25: a restart keeps interceptions):
 * the table gets its times, so the overdue countdown goes on from the
 * stored last good appraisal, and the model gets the trust and location it
 * had before the restart (a host not in the model yet keeps them there
 * until it is added). Every enrolled host is asked to attest again at once
 * (since_start), so the trust is confirmed by this lisecd soon after. */
static int load_host_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  load_ctx *lc = ctx;
  struct ctl_attest_state *st = lc->st;
  json_t *doc = NULL;
  if (lisec_json_parse(body, strlen(body), &doc, NULL) != 0) return 0; /* stays unknown */
  att_host *h = valid_host_id(id) ? add_locked(st, id) : NULL;
  if (h) {
    h->enrolled = json_object_get(doc, "ak_pub") != NULL;
    h->deenrolled = !h->enrolled && json_object_get(doc, "deenrolled_at") != NULL;
    const char *trust = json_string_value(json_object_get(doc, "trust"));
    h->trusted = trust && strcmp(trust, "trusted") == 0;
    h->last_ok = doc_int(doc, "last_ok_at");
    /* whole seconds: a freshness bound judged from it errs on the old side */
    h->last_ok_ms = h->last_ok > 0 ? h->last_ok * 1000 : 0;
    h->last_attempt = doc_int(json_object_get(doc, "last"), "at");
    h->last_passed = h->trusted;
    h->offer = json_object_get(doc, "location_offer") != NULL;
    h->since_start = h->enrolled;
    if (h->deenrolled) json_array_append_new(lc->gone, json_string(id));
    lc->hosts++;
    /* A host that never completed an appraisal stays unknown to the model,
     * as before the restart. An overdue one is turned untrusted by the
     * timer's first look (and recorded), as it would have been. */
    if (trust && json_object_get(doc, "last")) {
      model_location ml;
      bool loc = h->trusted && stored_location(json_object_get(doc, "location"), &ml);
      lisec_err e = {0};
      int rc = ctl_model_host_attested(lc->model_ctl, id,
                                       h->trusted ? MODEL_TRUST_TRUSTED : MODEL_TRUST_UNTRUSTED,
                                       trust, loc ? &ml : NULL, &e);
      if (rc == 0) lc->applied++;
      else if (rc != LISEC_ENOTFOUND)
        LOG_WARN("attest: host %.16s..: its stored appraisal does not apply to the model: %s", id,
                 e.msg);
    }
  }
  json_decref(doc);
  return h ? 0 : LISEC_ENOMEM;
}

/* What a de-enrolled host proved about its VMs is dropped after its
 * de-enrolment commits (ctl/hosts_end.c); a lisecd stopped between the two
 * left it stored, and the model has just read it back. Dropped now, so the
 * removed host proves nothing again. Only hosts the model holds an
 * observation of are written to. */
static void unobserve_gone(ctl_shared *sh, lisec_store *s, const json_t *gone) {
  size_t i;
  json_t *v;
  json_array_foreach(gone, i, v) {
    const char *id = json_string_value(v);
    model *m = ctl_model_lock(sh);
    bool observed = m && model_host_observed(m, id, NULL, NULL);
    if (m) ctl_model_unlock(sh);
    if (!observed) continue;
    lisec_ctl mc = {.shared = sh, .store = s};
    lisec_err e = {0};
    if (ctl_model_host_unobserve(&mc, id, &e))
      LOG_WARN("attest: de-enrolled host %.16s..: its stored observation stays: %s", id, e.msg);
    else
      LOG_INFO("attest: de-enrolled host %.16s..: the observation its de-enrolment left stored is "
               "dropped", id);
  }
}

bool ctl_attest_reloaded(const ctl_shared *sh) { return sh && sh->attest && sh->attest->reloaded; }

static void *timer_main(void *arg);

/* ---- what [attest] names: loaded at start, checked by --check-config --- */

/* The quarantine command, the reference values, the location CA and the
 * EK CA bundle, each read and checked by one function that ctl_attest_open
 * uses to load it and ctl_attest_config_check to check it (lisecd
 * --check-config), so the two can never disagree. Each message names its
 * setting. */

/* Whether prog can be started as posix_spawnp starts it: a name with a
 * '/' as that path, else the first match in PATH; a regular file this
 * process may execute. */
static int program_runnable(const char *prog, lisec_err *err) {
  if (strchr(prog, '/')) {
    struct stat sb;
    if (stat(prog, &sb) != 0)
      return lisec_err_set(err, LISEC_EINVAL, "[attest] quarantine_command: %.200s: %s", prog, strerror(errno));
    if (!S_ISREG(sb.st_mode) || access(prog, X_OK) != 0)
      return lisec_err_set(err, LISEC_EINVAL, "[attest] quarantine_command: %.200s is not an executable file",
                           prog);
    return 0;
  }
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/bin:/usr/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    char full[4096];
    if (snprintf(full, sizeof full, "%.*s%s%s", (int)n, path, n ? "/" : "", prog) < (int)sizeof full) {
      struct stat sb;
      if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && access(full, X_OK) == 0) return 0;
    }
    path += n + (end ? 1 : 0);
  }
  return lisec_err_set(err, LISEC_EINVAL,
                       "[attest] quarantine_command: %.200s is not an executable file on lisecd's PATH "
                       "(give its full path)",
                       prog);
}

/* [attest] quarantine_command split into argv (no shell; at most
 * QUARANTINE_ARGS_MAX words), its program runnable. *cmd holds the words
 * (free it); argv[0] NULL when none is configured. */
static int quarantine_load(const lisec_config *cfg, char **cmd_out, char *argv[QUARANTINE_ARGS_MAX + 1],
                           lisec_err *err) {
  const char *cmd = lisec_config_str(cfg, "attest", "quarantine_command", NULL);
  *cmd_out = NULL;
  argv[0] = NULL;
  if (!cmd || !*cmd) return 0;
  char *copy = strdup(cmd);
  if (!copy) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  *cmd_out = copy;
  size_t n = 0;
  char *save = NULL;
  for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
    if (n == QUARANTINE_ARGS_MAX) {
      argv[0] = NULL;
      return lisec_err_set(err, LISEC_EINVAL, "[attest] quarantine_command: more than %d words",
                           QUARANTINE_ARGS_MAX);
    }
    argv[n++] = t;
  }
  argv[n] = NULL;
  if (n == 0) return 0; /* only blanks: none */
  int rc = program_runnable(argv[0], err);
  if (rc) argv[0] = NULL;
  return rc;
}

/* [attest] reference_file parsed; *out NULL when unset. */
static int policy_load(const lisec_config *cfg, attest_policy **out, lisec_err *err) {
  uint8_t *buf = NULL;
  size_t len = 0;
  *out = NULL;
  int rc = read_file_opt(cfg, "reference_file", ATTEST_POLICY_MAX, &buf, &len, err);
  if (rc || !buf) return rc;
  rc = attest_policy_parse((const char *)buf, len, out, err);
  free(buf);
  if (rc) lisec_err_wrap(err, "[attest] reference_file");
  return rc;
}

/* [attest] location_ca parsed; *out NULL when unset. */
static int location_ca_load(const lisec_config *cfg, attest_location_ca **out, lisec_err *err) {
  uint8_t *buf = NULL;
  size_t len = 0;
  *out = NULL;
  int rc = read_file_opt(cfg, "location_ca", 1u << 20, &buf, &len, err);
  if (rc || !buf) return rc;
  rc = attest_location_ca_parse(buf, len, out, err);
  free(buf);
  if (rc) lisec_err_wrap(err, "[attest] location_ca");
  return rc;
}

/* [attest] ek_ca read, holding at least one certificate; *out NULL when
 * unset. */
static int ek_ca_load(const lisec_config *cfg, uint8_t **out, size_t *len, lisec_err *err) {
  int rc = read_file_opt(cfg, "ek_ca", 1u << 20, out, len, err);
  if (rc || !*out) return rc;
  if ((rc = attest_ek_ca_check(*out, *len, err))) {
    free(*out);
    *out = NULL, *len = 0;
    lisec_err_wrap(err, "[attest] ek_ca = %.200s", lisec_config_str(cfg, "attest", "ek_ca", ""));
  }
  return rc;
}

/* What the start warns of for each [attest] file left unset (also said by
 * lisecd --check-config, ctl_attest_config_check). */
#define NO_REFERENCE_FILE "[attest] reference_file is not set: every appraisal fails (TR 103 308 5.4)"
#define NO_LOCATION_CA                                                                              \
  "[attest] location_ca is not set: no host location is ever proven (TR 103 308 6.2 req. 8, 12)"
#define NO_EK_CA                                                                                    \
  "[attest] ek_ca is not set: any EK is accepted at enrolment, a software TPM's too, so nothing "   \
  "proves that a host's EK is a hardware TPM's (TR 103 308 5.8, O.1.6); set it to the TPM "         \
  "manufacturers' CAs"

int ctl_attest_config_check(const lisec_config *cfg, void (*report)(void *ctx, const char *msg),
                            void (*note)(void *ctx, const char *msg), void *ctx) {
  int problems = 0;
  lisec_err err = {0};
  char *cmd = NULL, *argv[QUARANTINE_ARGS_MAX + 1];
  if (quarantine_load(cfg, &cmd, argv, &err) != 0) problems++, report(ctx, err.msg);
  free(cmd);
  attest_policy *policy = NULL;
  if ((err = (lisec_err){0}), policy_load(cfg, &policy, &err) != 0) problems++, report(ctx, err.msg);
  attest_policy_free(policy);
  attest_location_ca *lca = NULL;
  if ((err = (lisec_err){0}), location_ca_load(cfg, &lca, &err) != 0) problems++, report(ctx, err.msg);
  attest_location_ca_free(lca);
  uint8_t *ek = NULL;
  size_t ek_len = 0;
  if ((err = (lisec_err){0}), ek_ca_load(cfg, &ek, &ek_len, &err) != 0) problems++, report(ctx, err.msg);
  free(ek);
  /* what the start warns of: unset is allowed, and fails closed or trusts less */
  static const char *const unset[][2] = {
      {"reference_file", NO_REFERENCE_FILE}, {"location_ca", NO_LOCATION_CA}, {"ek_ca", NO_EK_CA}};
  for (size_t i = 0; note && i < LISEC_ARRAY_LEN(unset); i++) {
    const char *v = lisec_config_str(cfg, "attest", unset[i][0], NULL);
    if (!v || !*v) note(ctx, unset[i][1]);
  }
  return problems;
}

int ctl_attest_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  /* tpm2-tss's unmarshaller logs every malformed structure a host sends;
   * the verdict says what matters. A TSS2_LOG the operator set wins. */
  setenv("TSS2_LOG", "all+NONE", 0);
  struct ctl_attest_state *st = calloc(1, sizeof *st);
  if (!st) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  pthread_mutex_init(&st->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&st->changed, &ca);
  pthread_condattr_destroy(&ca);
  sh->attest = st;
  int rc;
  if (!(st->nonces = ctl_nonce_cache_new(HOSTS_MAX)) || !(st->host_at = json_object()))
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  const ctl_settings *set = &sh->settings; /* checked by ctl_open */
  st->interval_s = set->attest_interval_s;
  st->grace_s = set->attest_grace_s;
  st->nonce_ttl_s = set->attest_nonce_ttl_s;
  st->fresh_wait_ms = set->attest_fresh_wait_ms;
  st->quarantine_timeout_s = set->attest_quarantine_timeout_s;
  st->check_ms = set->attest_check_ms;
  /* the revocation list is read again as often as overdue hosts are looked for */
  if (!(st->revoked = ctl_revoked_new(REVOKED_KEPT_MAX, st->check_ms)))
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  st->inventory_max_bytes = set->attest_inventory_max_bytes;
  st->inventory_max_domains = set->attest_inventory_max_domains;
  if ((rc = quarantine_load(cfg, &st->quarantine_cmd, st->quarantine_argv, err)) ||
      (rc = ctl_telemetry_conf_read(cfg, &st->telemetry, err)))
    return rc;
  /* A file that is configured but does not load stops the start. */
  if ((rc = policy_load(cfg, &st->policy, err))) return rc;
  if (!st->policy) LOG_WARN("attest: %s", NO_REFERENCE_FILE);
  if ((rc = location_ca_load(cfg, &st->location_ca, err))) return rc;
  if (!st->location_ca) LOG_WARN("attest: %s", NO_LOCATION_CA);
  if ((rc = ek_ca_load(cfg, &st->ek_ca, &st->ek_ca_len, err))) return rc;
  if (!st->ek_ca) LOG_WARN("attest: %s", NO_EK_CA);
  lisec_ctl model_ctl = {.shared = sh};
  load_ctx lc = {st, &model_ctl, 0, 0, json_array()};
  if (!lc.gone) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  rc = store_doc_list(s, HOST_KIND, load_host_cb, &lc, err);
  if (!rc) unobserve_gone(sh, s, lc.gone);
  json_decref(lc.gone);
  if (rc) return lisec_err_wrap(err, "attest: loading hosts"), rc;
  st->reloaded = true;
  if (lc.hosts)
    LOG_INFO("attest: %zu stored appraisal(s) reloaded, %zu applied to the model; every enrolled "
             "host is asked to attest again now", lc.hosts, lc.applied);
  /* the model asks for freshness through this, not by including attest */
  ctl_model_hook_attest(sh, ctl_attest_ensure_fresh, ctl_attest_expire_overdue);
  ctl_model_hook_findings(sh, CTL_MODEL_FINDINGS_CHASSIS, ATTEST_CHASSIS_REQ, ctl_telemetry_findings);
  return 0;
}

/* The overdue timer runs on its own thread with its own context (its own
 * store connection), from ctl_start to ctl_stop. */
int ctl_attest_start(ctl_shared *sh, lisec_err *err) {
  struct ctl_attest_state *st = sh->attest;
  if (st->timer_started) return 0;
  lisec_ctl parent = {.shared = sh};
  int rc = ctl_open_worker(&parent, &st->timer_ctl, err);
  if (rc) return rc;
  st->stopping = false;
  if ((rc = ctl_thread_start(&st->timer, timer_main, st, "lisec-attest", &st->timer_ctl, err))) return rc;
  st->timer_started = true;
  return 0;
}

void ctl_attest_stop(ctl_shared *sh) {
  struct ctl_attest_state *st = sh->attest;
  if (!st || !st->timer_started) return;
  ctl_thread_stop(&st->mu, &st->changed, &st->stopping, st->timer, &st->timer_ctl);
  st->timer_started = false;
}

void ctl_attest_close(ctl_shared *sh) {
  struct ctl_attest_state *st = sh->attest;
  if (!st) return;
  ctl_attest_stop(sh);
  for (size_t i = 0; i < st->n; i++) {
    ak_cached_put(st, st->hosts[i]->ak);
    free(st->hosts[i]->doc);
    free(st->hosts[i]);
  }
  free(st->hosts);
  json_decref(st->host_at);
  attest_policy_free(st->policy);
  attest_location_ca_free(st->location_ca);
  free(st->ek_ca);
  free(st->quarantine_cmd);
  ctl_nonce_cache_free(st->nonces);
  ctl_revoked_free(st->revoked);
  pthread_cond_destroy(&st->changed);
  pthread_mutex_destroy(&st->mu);
  free(st);
  sh->attest = NULL;
}

/* ---- the trust a host has now ------------------------------------------- */

static const char *trust_now(const struct ctl_attest_state *st, const json_t *doc, int64_t now) {
  const char *t = json_string_value(json_object_get(doc, "trust"));
  if (!t) return "untrusted:never-attested";
  if (strcmp(t, "trusted") == 0 &&
      attest_trust_at(doc_int(doc, "last_ok_at"), true, st->interval_s + st->grace_s, now) !=
          ATTEST_TRUST_OK)
    return "untrusted:overdue";
  return t;
}

/* Marks a host untrusted (overdue or otherwise) in the document and the
 * model; the caller has recorded why. */
static void set_untrusted(lisec_ctl *ctl, const char *host, const char *trust, const char *why) {
  struct ctl_attest_state *st = st_of(ctl);
  lisec_err e = {0};
  for (int attempt = 0; attempt < 3; attempt++) {
    json_t *doc = NULL;
    int64_t ver = 0;
    if (load_doc(ctl, host, &doc, &ver, &e) != 0) break;
    /* De-enrolled since the timer picked it (ctl/hosts_end.c): it has no
     * AK and says so ("untrusted:deenrolled"), the de-enrolment did what
     * there was to do, and it is no longer a host to quarantine. */
    if (!json_object_get(doc, "ak_pub") || json_object_get(doc, "deenrolled_at")) {
      json_decref(doc);
      LOG_INFO("attest: host %.16s.. was de-enrolled before its overdue mark was stored: left as it is",
               host);
      return;
    }
    /* A good appraisal stored meanwhile stands. */
    if (attest_trust_at(doc_int(doc, "last_ok_at"), true, st->interval_s + st->grace_s,
                        lisec_time_now()) == ATTEST_TRUST_OK) {
      json_decref(doc);
      return;
    }
    json_object_set_new(doc, "trust", json_string(trust));
    json_object_set_new(doc, "location", json_null());
    int rc = save_doc(ctl, host, doc, ver, &e);
    json_decref(doc);
    if (rc != LISEC_ECONFLICT) break;
  }
  quarantine(ctl, host, why);
}

/* Turns the trusted hosts that are overdue now untrusted, in the table and
 * in the model together (lock held; the model's lock is taken inside it, as
 * in ctl_attest_submit), and flags them for the timer to record, store and
 * quarantine. Returns how many. */
static size_t mark_overdue_locked(lisec_ctl *ctl, struct ctl_attest_state *st, int64_t now) {
  size_t n = 0;
  for (size_t i = 0; i < st->n; i++) {
    att_host *h = st->hosts[i];
    if (!h->trusted ||
        attest_trust_at(h->last_ok, true, st->interval_s + st->grace_s, now) == ATTEST_TRUST_OK)
      continue;
    h->trusted = false;
    h->overdue_todo = true;
    n++;
    lisec_err e = {0};
    int rc = ctl_model_host_attested(ctl, h->id, MODEL_TRUST_UNTRUSTED, "untrusted:overdue", NULL, &e);
    if (rc && rc != LISEC_ENOTFOUND) LOG_WARN("attest: model for host %.16s..: %s", h->id, e.msg);
  }
  return n;
}

void ctl_attest_expire_overdue(lisec_ctl *ctl) {
  struct ctl_attest_state *st = st_of(ctl);
  if (!st) return;
  pthread_mutex_lock(&st->mu);
  if (mark_overdue_locked(ctl, st, lisec_time_now()))
    pthread_cond_broadcast(&st->changed); /* the timer records them now */
  pthread_mutex_unlock(&st->mu);
}

/* Test builds only: while the file LISEC_TEST_ATTEST_OVERDUE_PAUSE names
 * exists, the timer waits after recording a host overdue and before
 * storing it (at most 10 minutes), so a test can de-enrol the host in
 * between (tests/integration/attest_removed.sh). Called without the lock. */
static void test_overdue_pause(struct ctl_attest_state *st) {
#ifdef LISEC_TEST_HOOKS
  const char *path = getenv("LISEC_TEST_ATTEST_OVERDUE_PAUSE");
  for (int i = 0; path && i < 6000; i++) {
    FILE *f = fopen(path, "r"); /* the sandbox lets the controller open files, not access(2) them */
    if (!f) return;
    fclose(f);
    pthread_mutex_lock(&st->mu);
    bool stopping = st->stopping;
    pthread_mutex_unlock(&st->mu);
    if (stopping) return;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
#else
  (void)st;
#endif
}

static void *timer_main(void *arg) {
  struct ctl_attest_state *st = arg;
  pthread_mutex_lock(&st->mu);
  while (!st->stopping) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += st->check_ms / 1000;
    ts.tv_nsec += (st->check_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&st->changed, &st->mu, &ts);
    if (st->stopping) break;
    int64_t now = lisec_time_now();
    (void)mark_overdue_locked(st->timer_ctl, st, now);
    for (size_t i = 0; i < st->n; i++) {
      att_host *h = st->hosts[i];
      if (!h->overdue_todo) continue;
      h->overdue_todo = false;
      bool again = h->trusted; /* attested again meanwhile: record only */
      char id[ATTEST_HOST_ID_LEN + 1], why[256];
      memcpy(id, h->id, sizeof id);
      snprintf(why, sizeof why,
               "TR103308-5.1: overdue: last successful attestation %llds ago, more than "
               "interval_s %lld + grace_s %lld",
               (long long)(now - h->last_ok), (long long)st->interval_s, (long long)st->grace_s);
      /* Recording and the store happen outside the lock; the host table
       * only grows, so h stays valid. */
      pthread_mutex_unlock(&st->mu);
      lisec_err e = {0};
      if (ctl_audit(st->timer_ctl, &timer_actor, CTL_OUTCOME_DENIED, "attest.overdue", false, why,
                    0, NULL, &e, "host %s", id) != 0)
        LOG_ERROR("attest: cannot record that host %.16s.. is overdue: %s", id, e.msg);
      test_overdue_pause(st);
      if (!again) set_untrusted(st->timer_ctl, id, "untrusted:overdue", why);
      pthread_mutex_lock(&st->mu);
    }
  }
  pthread_mutex_unlock(&st->mu);
  return NULL;
}

/* ---- enrolment ---------------------------------------------------------- */

int ctl_attest_enrol_begin(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                           json_t **out, lisec_err *err) {
  struct ctl_attest_state *st = st_of(ctl);
  uint8_t *ek = NULL, *akp = NULL, *cert = NULL, secret[SECRET_LEN], digest[ATTEST_DIGEST_LEN];
  size_t ek_len = 0, ak_len = 0, cert_len = 0;
  char host[ATTEST_HOST_ID_LEN + 1], hexd[2 * ATTEST_DIGEST_LEN + 1];
  attest_ak *ak = NULL;
  lisec_buf cred;
  json_t *doc = NULL;
  char *s_ek = NULL, *s_ak = NULL, *s_cert = NULL, *s_cred = NULL;
  int64_t ver = 0;
  lisec_buf_init(&cred, 4096);
  int rc;
  if ((rc = get_b64(body, "ek_pub", true, ATTEST_TPM_PUBLIC_MAX, &ek, &ek_len, err)) ||
      (rc = get_b64(body, "ak_pub", true, ATTEST_TPM_PUBLIC_MAX, &akp, &ak_len, err)) ||
      (rc = get_b64(body, "ek_cert", false, 16384, &cert, &cert_len, err)) ||
      (rc = attest_host_id(ek, ek_len, host, err)) ||
      (rc = ctl_hosts_enrol_identity(ctl, actor, host, err)) ||
      (rc = check_actor(ctl, actor, host, "attest.enrol", err)))
    goto done;
  if (st->ek_ca) {
    if (!cert) {
      rc = lisec_err_set(err, LISEC_EDENIED,
                         "O.1.6: an EK certificate is required ([attest] ek_ca is set)");
    } else {
      rc = attest_ek_cert_check(ek, ek_len, cert, cert_len, st->ek_ca, st->ek_ca_len, 0, err);
      if (rc) lisec_err_wrap(err, "O.1.6: EK certificate");
    }
    if (rc) {
      lisec_err e = {0};
      (void)ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "attest.enrol", false, err->msg, 0, NULL, &e,
                      "host %s", host);
      goto done;
    }
  }
  if ((rc = attest_ak_from_tpm_public(akp, ak_len, &ak, err))) {
    lisec_err_wrap(err, "ak_pub");
    goto done;
  }
  size_t name_len = 0;
  const uint8_t *name = attest_ak_name(ak, &name_len);
  if ((rc = crypto_random(secret, sizeof secret, err)) ||
      (rc = attest_credential_make(ek, ek_len, name, name_len, secret, sizeof secret, &cred, err)))
    goto done;
  /* Only the secret's digest is kept: the store never holds the secret. */
  crypto_sha256(secret, sizeof secret, digest);
  lisec_hex_encode(digest, sizeof digest, hexd);
  rc = load_doc(ctl, host, &doc, &ver, err);
  if (rc == LISEC_ENOTFOUND) {
    doc = json_pack("{s:s, s:s}", "host", host, "trust", "untrusted:never-attested");
    ver = 0, rc = 0;
  }
  /* An AK its de-enrolment revoked is never this host's AK again. */
  if (rc || (rc = ctl_hosts_refuse_revoked_ak(ctl, actor, host, doc, akp, ak_len, err))) goto done;
  s_ek = b64(ek, ek_len), s_ak = b64(akp, ak_len), s_cred = b64(cred.data, cred.len);
  if (cert) s_cert = b64(cert, cert_len);
  if (!doc || !s_ek || !s_ak || !s_cred || (cert && !s_cert)) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto done;
  }
  json_object_set_new(doc, "ek_pub", json_string(s_ek));
  if (s_cert) json_object_set_new(doc, "ek_cert", json_string(s_cert));
  json_object_set_new(doc, "pending", json_pack("{s:s, s:s, s:I}", "ak_pub", s_ak, "secret_sha256",
                                                hexd, "at", (json_int_t)lisec_time_now()));
  ctl_hosts_note_cert(doc, ctl);
  if ((rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "attest.enrol", false,
                      "credential made for the AK (TPM2_MakeCredential); pending activation", 0,
                      NULL, err, "host %s", host)))
    goto done;
  if ((rc = save_doc(ctl, host, doc, ver, err))) {
    lisec_err e = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "attest.enrol", false, err->msg, 0, NULL, &e,
                    "host %s", host);
    goto done;
  }
  *out = json_pack("{s:s, s:s}", "host", host, "credential", s_cred);
  if (!*out) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
done:
  crypto_wipe(secret, sizeof secret);
  free(ek), free(akp), free(cert), free(s_ek), free(s_ak), free(s_cert), free(s_cred);
  attest_ak_free(ak);
  lisec_buf_free(&cred);
  json_decref(doc);
  return rc;
}

int ctl_attest_enrol_finish(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                            json_t **out, lisec_err *err) {
  struct ctl_attest_state *st = st_of(ctl);
  const char *host = NULL;
  uint8_t *secret = NULL, digest[ATTEST_DIGEST_LEN], want[ATTEST_DIGEST_LEN];
  size_t secret_len = 0;
  json_t *doc = NULL;
  int64_t ver = 0;
  int rc;
  if ((rc = get_host(body, &host, err)) ||
      (rc = check_actor(ctl, actor, host, "attest.enrol.finish", err)) ||
      (rc = get_b64(body, "secret", true, ATTEST_CREDENTIAL_SECRET_MAX, &secret, &secret_len, err)) ||
      (rc = load_doc(ctl, host, &doc, &ver, err)))
    goto done;
  json_t *pending = json_object_get(doc, "pending");
  const char *hexd = json_string_value(json_object_get(pending, "secret_sha256"));
  if (!hexd || lisec_hex_decode(hexd, want, sizeof want) != 0) {
    rc = lisec_err_set(err, LISEC_ECONFLICT,
                       "O.1.6: host %.16s.. has no enrolment waiting for activation", host);
    goto done;
  }
  crypto_sha256(secret, secret_len, digest);
  bool ok = secret_len == SECRET_LEN && crypto_ct_equal(digest, want, sizeof want);
  const char *why = ok ? "AK activated: TPM2_ActivateCredential released the secret, so the AK "
                         "is in the TPM that holds this EK"
                       : "O.1.6: the secret does not match: the AK is not in the TPM that holds "
                         "this EK; it is dropped and never trusted";
  if ((rc = ctl_audit(ctl, actor, ok ? CTL_OUTCOME_OK : CTL_OUTCOME_DENIED, "attest.enrol.finish",
                      false, why, 0, NULL, err, "host %s", host)))
    goto done;
  if (ok) {
    json_object_set(doc, "ak_pub", json_object_get(pending, "ak_pub"));
    json_object_set_new(doc, "enrolled_at", json_integer(lisec_time_now()));
    /* enrolled again after a de-enrolment: a fresh activation, a new binding */
    json_object_del(doc, "deenrolled_at");
    ctl_hosts_note_cert(doc, ctl);
  }
  json_object_del(doc, "pending");
  if ((rc = save_doc(ctl, host, doc, ver, err))) {
    lisec_err e = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "attest.enrol.finish", false, err->msg, 0, NULL,
                    &e, "host %s", host);
    goto done;
  }
  if (!ok) {
    rc = lisec_err_set(err, LISEC_EDENIED, "%s", why);
    goto done;
  }
  pthread_mutex_lock(&st->mu);
  att_host *h = add_locked(st, host);
  if (h) h->enrolled = true, h->deenrolled = false;
  pthread_mutex_unlock(&st->mu);
  if (!h) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "too many hosts");
    goto done;
  }
  *out = json_pack("{s:s, s:b, s:s}", "host", host, "enrolled", 1, "trust",
                   "untrusted:never-attested");
done:
  if (secret) crypto_wipe(secret, secret_len);
  free(secret);
  json_decref(doc);
  return rc;
}

/* ---- challenges and nonces ---------------------------------------------- */

static int enrolled_host(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                         const char *action, const char **host, lisec_err *err) {
  int rc = get_host(body, host, err);
  if (rc || (rc = check_actor(ctl, actor, *host, action, err))) return rc;
  struct ctl_attest_state *st = st_of(ctl);
  pthread_mutex_lock(&st->mu);
  att_host *h = find_locked(st, *host);
  bool enrolled = h && h->enrolled, gone = h && h->deenrolled;
  pthread_mutex_unlock(&st->mu);
  if (gone) return ctl_hosts_refuse_deenrolled(ctl, actor, *host, action, err);
  return enrolled ? 0
                  : lisec_err_set(err, LISEC_ENOTFOUND,
                                  "TR103308-5.1: host %.16s.. is not enrolled: it attests only "
                                  "once enrolled (POST /v1/attest/enrol)",
                                  *host);
}

int ctl_attest_challenge(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                         json_t **out, lisec_err *err) {
  struct ctl_attest_state *st = st_of(ctl);
  const char *host = NULL;
  int rc = enrolled_host(ctl, actor, body, "attest.challenge", &host, err);
  if (rc) return rc;
  /* "due" is a duration since the last appraisal, by the monotonic clock
   * (last_attempt, the wall clock's, is what is stored and shown) */
  int64_t now = lisec_time_mono_ms();
  pthread_mutex_lock(&st->mu);
  att_host *h = find_locked(st, host);
  const char *why = h->offer    ? "a confirmed location certificate is waiting"
                    : h->wanted ? "a decision needs a fresh attestation"
                    : h->since_start ? "lisecd restarted: each enrolled host attests again now"
                    : !h->last_attempt ? "never attested"
                    : !h->last_attempt_mono_ms || now - h->last_attempt_mono_ms >= st->interval_s * 1000 ? "due"
                                                                                                   : NULL;
  bool offer = h->offer;
  pthread_mutex_unlock(&st->mu);
  *out = json_pack("{s:b, s:I}", "attest_now", why != NULL, "interval_s",
                   (json_int_t)st->interval_s);
  if (!*out) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (why) json_object_set_new(*out, "why", json_string(why));
  /* Paired LI VMs this host showed stopped: its agent starts them (ctl/li.c). */
  json_t *restart = ctl_li_restarts_take(ctl, actor, host);
  if (restart) json_object_set_new(*out, "restart", restart);
  if (offer) {
    json_t *doc = NULL;
    int64_t ver = 0;
    if ((rc = load_doc(ctl, host, &doc, &ver, err))) {
      json_decref(*out);
      *out = NULL;
      return rc;
    }
    json_t *loc = json_object_get(doc, "location_offer");
    if (loc) json_object_set(*out, "location", loc);
    json_decref(doc);
  }
  return 0;
}

int ctl_attest_nonce(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                     lisec_err *err) {
  struct ctl_attest_state *st = st_of(ctl);
  const char *host = NULL;
  int rc = enrolled_host(ctl, actor, body, "attest.nonce", &host, err);
  if (rc) return rc;
  uint8_t n[ATTEST_NONCE_LEN];
  /* a nonce's expiry is judged by a clock chronyd proves (ctl/clock.h; the
   * TPM fleet's verdict is left out: its appraisals are what end a jump) */
  int64_t now_ms = 0;
  if ((rc = ctl_clock_witness_now(ctl->shared, "a nonce's expiry", &now_ms, err)))
    return ctl_audit(ctl, actor, CTL_OUTCOME_REFUSED, "attest.nonce", false, NULL, rc, NULL, err,
                     "host %s", host);
  rc = ctl_nonces_issue_kept(ctl->store, st->nonces, host, NONCES_PER_HOST, now_ms, st->nonce_ttl_s * 1000,
                             n, err);
  if (rc) return rc;
  char hex[2 * ATTEST_NONCE_LEN + 1];
  lisec_hex_encode(n, sizeof n, hex);
  *out = json_pack("{s:s, s:I}", "nonce", hex, "expires_in_s", (json_int_t)st->nonce_ttl_s);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* ---- appraisal ---------------------------------------------------------- */

static void add_reason(attest_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_reason(attest_verdict *v, const char *fmt, ...) {
  v->ok = false;
  if (v->nreasons == ATTEST_REASONS_MAX) {
    v->more_reasons++;
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->reasons[v->nreasons++], ATTEST_REASON_LEN, fmt, ap);
  va_end(ap);
}

/* The boot is trusted when every reason is about the location alone
 * (§6.2's requirements): a power cycle voids the location, not the boot. */
static bool boot_trusted(const attest_verdict *v) {
  if (v->ok) return true;
  if (v->malformed || v->more_reasons || !v->quote_parsed) return false;
  for (size_t i = 0; i < v->nreasons; i++)
    if (strncmp(v->reasons[i], "TR103308-6.2-", 13) != 0) return false;
  return v->signature_ok && v->nonce_ok && v->pcr_digest_ok;
}

static void join_reasons(const attest_verdict *v, char *out, size_t len) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < v->nreasons && used + 1 < len; i++) {
    int n = snprintf(out + used, len - used, "%s%s", i ? "; " : "", v->reasons[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
  if (used >= len && len > 4) memcpy(out + len - 4, "...", 4);
}

typedef struct evidence_bytes {
  uint8_t *quote, *sig, *pcrs, *log, *loc;
  size_t quote_len, sig_len, pcrs_len, log_len, loc_len;
} evidence_bytes;

static void evidence_free(evidence_bytes *e) {
  free(e->quote), free(e->sig), free(e->pcrs), free(e->log), free(e->loc);
}

static int evidence_get(const json_t *body, evidence_bytes *e, lisec_err *err) {
  int rc;
  if ((rc = get_b64(body, "quote", true, ATTEST_QUOTE_MAX, &e->quote, &e->quote_len, err)) ||
      (rc = get_b64(body, "signature", true, ATTEST_SIG_MAX, &e->sig, &e->sig_len, err)) ||
      (rc = get_b64(body, "pcrs", true, ATTEST_PCRS_MAX, &e->pcrs, &e->pcrs_len, err)) ||
      (rc = get_b64(body, "eventlog", false, ATTEST_EVENTLOG_MAX, &e->log, &e->log_len, err)) ||
      (rc = get_b64(body, "location", false, ATTEST_LOCATION_MAX, &e->loc, &e->loc_len, err)))
    return rc;
  return 0;
}

static json_t *location_doc(const attest_location *l) {
  return json_pack("{s:s, s:s, s:f, s:f, s:s, s:I, s:I}", "country", l->country, "subdivision",
                   l->subdivision, "latitude", l->latitude, "longitude", l->longitude, "site",
                   l->site, "tpm_reset_count", (json_int_t)l->reset_count, "tpm_restart_count",
                   (json_int_t)l->restart_count);
}

/* ---- the host's inventory (issue 15) ------------------------------------- */

/* An inventory that cannot be evidence: recorded, and the whole evidence
 * refused before anything stored changes. */
static int refuse_inventory(lisec_ctl *ctl, const ctl_actor *actor, const char *host, int code,
                            const char *why, lisec_err *err) {
  char reason[LISEC_ERR_MSG_MAX + 96];
  snprintf(reason, sizeof reason, "TR103308-T.1.4: the evidence's inventory is refused: %s", why);
  lisec_err_set(err, code, "%s", reason);
  return ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "attest.inventory", false, NULL, code, NULL, err,
                   "host %s", host);
}

/* Reads, bounds and parses the evidence's "inventory" (a JSON string: its
 * bytes are what the agent hashed). *has is false when there is none. */
static int inventory_get(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                         const char *host, attest_inventory *inv, uint8_t sha[ATTEST_DIGEST_LEN],
                         bool *has, lisec_err *err) {
  struct ctl_attest_state *st = st_of(ctl);
  const json_t *j = json_object_get(body, "inventory");
  *has = false;
  if (!j || json_is_null(j)) return 0;
  if (!json_is_string(j))
    return refuse_inventory(ctl, actor, host, LISEC_EINVAL, "\"inventory\" must be a string (the "
                            "bytes the agent hashed)", err);
  lisec_err pe = {0};
  const char *bytes = json_string_value(j);
  size_t len = json_string_length(j);
  int rc = attest_inventory_parse(bytes, len, (size_t)st->inventory_max_bytes,
                                  (size_t)st->inventory_max_domains, inv, &pe);
  if (rc) return refuse_inventory(ctl, actor, host, rc, pe.msg, err);
  /* A host reports for itself only: its certificate's CN (checked against
   * "host" already) is the host the inventory names. */
  if (strcmp(inv->host, host) != 0) {
    attest_inventory_free(inv);
    return refuse_inventory(ctl, actor, host, LISEC_EDENIED,
                            "it names another host than the certificate's (a host certificate "
                            "reports for its own host id only)", err);
  }
  crypto_sha256(bytes, len, sha);
  *has = true;
  return 0;
}

/* A good appraisal's inventory as the model takes it (ctl_observation),
 * with the storage its strings borrow. */
typedef struct obs_built {
  ctl_observed_domain *d;
  char (*hex)[ATTEST_DIGEST_LEN * 2 + 1];
  char ref[17];
  ctl_observation obs;
  ctl_model_obs_prep *prep; /* what the model read for its document, or NULL */
  bool stored;              /* its document is stored with the host's */
} obs_built;

static void obs_built_free(obs_built *b) {
  free(b->d);
  free(b->hex);
  ctl_model_obs_prep_free(b->prep);
}

static int obs_build(const char *host, const attest_inventory *inv, const uint8_t *quote,
                     size_t quote_len, int64_t now, obs_built *b) {
  *b = (obs_built){0};
  b->d = calloc(inv->n ? inv->n : 1, sizeof *b->d);
  b->hex = calloc(inv->n ? inv->n : 1, sizeof *b->hex);
  if (!b->d || !b->hex) {
    obs_built_free(b);
    *b = (obs_built){0};
    return LISEC_ENOMEM;
  }
  for (size_t i = 0; i < inv->n; i++) {
    const attest_inv_domain *x = &inv->domains[i];
    if (x->n_images) lisec_hex_encode(x->images[0].sha256, ATTEST_DIGEST_LEN, b->hex[i]);
    b->d[i] = (ctl_observed_domain){x->uuid, x->vm[0] ? x->vm : NULL, x->package[0] ? x->package : NULL,
                                    attest_inv_state_name(x->state), x->n_images ? b->hex[i] : NULL};
  }
  uint8_t qd[ATTEST_DIGEST_LEN];
  crypto_sha256(quote, quote_len, qd);
  lisec_hex_encode(qd, 8, b->ref);
  b->obs = (ctl_observation){host, now, b->ref, b->d, inv->n};
  return 0;
}

/* Hands a good appraisal's inventory to the model (engineer B's
 * reconciliation); a failure there is recorded, the appraisal stands.
 * obs is NULL when it could not be built. */
static bool observe_inventory(lisec_ctl *ctl, const ctl_actor *actor, const char *host,
                              const ctl_observation *obs, const ctl_model_obs_prep *prep,
                              bool stored) {
  lisec_err e = {0};
  int rc = LISEC_ENOMEM;
  if (obs) {
    rc = ctl_model_observe_stored(ctl, actor, obs, prep, stored, &e);
    /* The LI lock (ctl/li.c): a paired LI VM not running is a finding and a restart. */
    if (!rc) rc = ctl_li_observe(ctl, actor, obs, &e);
  } else {
    lisec_err_set(&e, rc, "out of memory");
  }
  if (rc) {
    lisec_err fe = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "attest.observe", false, e.msg, 0, NULL, &fe,
                    "host %s", host);
  }
  return rc == 0;
}

/* The host's document, and with it its result's lasting part (result_text,
 * when not NULL: never one without the other) and the observation's
 * (obs_text, when not NULL) in one transaction of this worker's own: the
 * second try of an appraisal whose documents, written with its audit
 * record, met the overdue timer's write (only_trust_changed). Nothing else
 * happens inside it (no audit record, no lock), so it cannot wait on the
 * audit appender or on the model. When the observation cannot be written
 * the host's document is saved without it, and *obs_stored stays false so
 * the model stores the observation itself. */
static int save_doc_with_obs(lisec_ctl *ctl, const char *host, const json_t *doc,
                             int64_t expected, const char *result_text, const char *obs_text,
                             bool *obs_stored, lisec_err *err) {
  *obs_stored = false;
  lisec_err te = {0};
  if (!obs_text && !result_text) return save_doc(ctl, host, doc, expected, err);
  int rc = store_begin(ctl->store, err);
  if (rc) return obs_text && !result_text ? save_doc(ctl, host, doc, expected, err) : rc;
  if (result_text) rc = store_doc_put(ctl->store, CTL_ATTEST_RESULT_KIND, host, result_text, -1, NULL, err);
  if (!rc) rc = save_doc(ctl, host, doc, expected, err);
  if (rc) {
    store_rollback(ctl->store);
    return rc;
  }
  if (obs_text && ctl_model_observe_put(ctl, host, obs_text, &te)) {
    store_rollback(ctl->store);
    return save_doc_with_obs(ctl, host, doc, expected, result_text, NULL, obs_stored, err);
  }
  rc = store_commit(ctl->store, err);
  if (rc) store_rollback(ctl->store);
  doc_drop(st_of(ctl), host); /* a read between save_doc and the commit saw the old one */
  if (rc) return rc;
  *obs_stored = obs_text != NULL;
  return 0;
}

/* True when the host's document, read again, differs from loaded only in
 * trust and location (*ver then gets its version): what the overdue timer
 * writes (set_untrusted) between an appraisal's load and its save. The
 * appraisal decides those two fields itself, so it may be saved over that
 * write; any other change meanwhile (another appraisal, an enrolment)
 * stands, and the appraisal is refused as before. */
static bool only_trust_changed(lisec_ctl *ctl, const char *host, const char *loaded, int64_t *ver) {
  json_t *fresh = NULL, *was = NULL;
  int64_t fresh_ver = 0;
  lisec_err e = {0};
  /* parsed again only here: a conflict is rare, a copy per report is not */
  if (loaded && lisec_json_parse(loaded, strlen(loaded), &was, NULL) != 0) was = NULL;
  bool same = was && load_doc(ctl, host, &fresh, &fresh_ver, &e) == 0;
  if (same) {
    static const char *const timer_fields[] = {"trust", "location"};
    for (size_t i = 0; i < LISEC_ARRAY_LEN(timer_fields); i++) {
      json_object_del(was, timer_fields[i]);
      json_object_del(fresh, timer_fields[i]);
    }
    same = json_equal(was, fresh);
  }
  if (same) *ver = fresh_ver;
  json_decref(was);
  json_decref(fresh);
  return same;
}

int ctl_attest_submit(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                      lisec_err *err) {
  struct ctl_attest_state *st = st_of(ctl);
  const char *host = NULL, *nonce_hex = NULL;
  uint8_t nonce[ATTEST_NONCE_MAX], *akp = NULL, *ekp = NULL;
  size_t nonce_len = 0, ak_len = 0, ek_len = 0;
  evidence_bytes e = {0};
  ak_cached *ak = NULL;
  json_t *doc = NULL, *ear = NULL, *vj = NULL;
  char *loaded = NULL; /* the host's document as read, for only_trust_changed */
  attest_verdict *v = calloc(1, sizeof *v);
  int64_t ver = 0;
  attest_inventory inv = {0};
  uint8_t inv_sha[ATTEST_DIGEST_LEN];
  bool has_inv = false, observed = false, obs_ok = false, has_ch = false;
  attest_chassis chassis = {0};            /* BMC telemetry (issue 19, ctl/telemetry.c) */
  uint8_t ch_sha[ATTEST_DIGEST_LEN];
  attest_chassis_verdict tv = {0};
  obs_built ob = {0};
  char *obs_text = NULL, *host_text = NULL;
  ctl_nonces_taken taken = {0}; /* the host's nonces with this one spent, written with the record */
  char *result_text = NULL; /* the lasting part of the EAR and verdict, when it changed */
  char result_ref[CTL_ATTEST_RESULT_REF_LEN + 1] = "";
  int64_t now_ms = 0;
  bool nonce_pending = false; /* taken, not yet spent in the store */
  if (!v) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc;
  uint64_t t0 = lisec_time_mono_ns(); /* appraisal latency (ctl/metrics.c) */
  uint64_t doc_gen = 0; /* the host document's drop count when read (doc_keep) */
  if ((rc = enrolled_host(ctl, actor, body, "attest.appraise", &host, err)) ||
      (rc = lisec_json_get_str(body, "nonce", true, 2 * ATTEST_NONCE_MAX, &nonce_hex, err)))
    goto done;
  nonce_len = strlen(nonce_hex) / 2;
  if (strlen(nonce_hex) % 2 || nonce_len < ATTEST_NONCE_MIN ||
      lisec_hex_decode(nonce_hex, nonce, nonce_len) != 0) {
    rc = lisec_err_set(err, LISEC_EINVAL, "nonce: %d to %d bytes of hex", ATTEST_NONCE_MIN,
                       ATTEST_NONCE_MAX);
    goto done;
  }
  if ((rc = evidence_get(body, &e, err)) ||
      (rc = inventory_get(ctl, actor, body, host, &inv, inv_sha, &has_inv, err)) ||
      (rc = ctl_telemetry_get(ctl, actor, body, host, &st->telemetry, &chassis, ch_sha, &has_ch, err)) ||
      (rc = load_doc_kept(ctl, host, true, &doc, &ver, &loaded, &doc_gen, err)) ||
      (rc = doc_bytes(doc, "ak_pub", ATTEST_TPM_PUBLIC_MAX, &akp, &ak_len, err)) ||
      (rc = doc_bytes(doc, "ek_pub", ATTEST_TPM_PUBLIC_MAX, &ekp, &ek_len, err)) ||
      (rc = ak_cached_get(st, host, akp, ak_len, &ak, err)))
    goto done;

  /* The nonce is taken first: whatever the outcome, it is spent. It is
   * the stored one, whichever lisecd issued it; a store that cannot say
   * fails the request (no verdict is made without knowing). Its spending
   * is written with the report's record and documents, at the version of
   * the table read here (a compare-and-set, in the one commit a report
   * makes); a report that ends before that spends it on its own (done). */
  lisec_err ne = {0};
  /* The nonce's expiry and the attestation's age need a clock chronyd
   * proves (ctl/clock.h, ctl_clock_witness_now): without one the report is
   * refused before anything is spent or stored, and the host keeps its
   * stored state. */
  if ((rc = ctl_clock_witness_now(ctl->shared, "an appraisal (nonce expiry, attestation age)",
                                  &now_ms, err))) {
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_REFUSED, "attest.appraise", false, NULL, rc, NULL, err,
                   "host %s", host);
    goto done;
  }
  int64_t now = now_ms / 1000;
  int nrc = ctl_nonces_take_kept(ctl->store, st->nonces, host, NONCES_PER_HOST, nonce, nonce_len, now_ms,
                                 &taken, &ne);
  nonce_pending = nrc == 0;
  if (nrc && nrc != LISEC_EDENIED) {
    lisec_err_set(err, nrc, "%s", ne.msg);
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_REFUSED, "attest.appraise", false, NULL, nrc, NULL, err,
                   "host %s", host);
    goto done;
  }

  /* the EK too: the quote's signer must be the AK as the EK's child */
  attest_context actx = {.ak = ak->ak, .ek_pub = ekp, .ek_pub_len = ek_len,
                         .nonce = nonce, .nonce_len = nonce_len, .policy = st->policy,
                         .location_ca = st->location_ca, .host_id = host,
                         .inventory_sha256 = has_inv ? inv_sha : NULL,
                         .chassis_sha256 = has_ch ? ch_sha : NULL};
  attest_evidence ev = {e.quote, e.quote_len, e.sig, e.sig_len, e.pcrs, e.pcrs_len,
                        e.log, e.log_len, e.loc, e.loc_len};
  if ((rc = attest_verify(&actx, &ev, v, err))) goto done;
  if (nrc) add_reason(v, "%s", ne.msg);
  /* a fresh, signed quote's TPM clock witnesses the controller's (ctl/clock.h) */
  if (!nrc && v->quote_parsed && v->signature_ok && v->nonce_ok)
    ctl_clock_tpm_sample(ctl, host, v->quote.clock, v->quote.reset_count, v->quote.restart_count,
                         v->quote.safe, now_ms);
  /* An inventory is evidence only inside the quote made for this nonce
   * over its digest: a replayed quote, or one whose qualifying data is not
   * this inventory's binding, is refused whole and changes nothing. */
  if ((has_inv || has_ch) && (nrc || !v->nonce_ok)) {
    rc = refuse_inventory(ctl, actor, host, LISEC_EDENIED,
                          nrc ? ne.msg
                          : has_ch ? "the quote's qualifying data is not SHA-256(\"lisec-evidence-v2\" || "
                                     "nonce || SHA-256(inventory) || SHA-256(chassis)): the reports are "
                                     "not the ones the TPM quoted, or the quote is not this nonce's"
                                   : "the quote's qualifying data is not SHA-256(\"lisec-inventory-v1\" || "
                                     "nonce || SHA-256(inventory)): the inventory is not the one the TPM "
                                     "quoted, or the quote is not this nonce's",
                          err);
    goto done;
  }
  /* TPM2_Clear sets resetCount back to 0, which would let an old location
   * certificate match again: a decrease voids the location until asset
   * management confirms it (which sets the new baseline). */
  int64_t max_reset = doc_int(doc, "max_reset_count");
  bool decreased = v->quote_parsed && v->signature_ok && (int64_t)v->quote.reset_count < max_reset;
  if (decreased)
    add_reason(v,
               "TR103308-6.2-R10: TPM resetCount %u is lower than %lld seen before: the TPM was "
               "cleared, so its location binding is void until asset management confirms it "
               "again",
               v->quote.reset_count, (long long)max_reset);
  /* A restartCount, or within one epoch a clock, below what this host's
   * TPM showed before: its state was set back, and the counters a location
   * was confirmed at may show again after a move (ctl/attest_epoch.h). */
  bool fresh = v->quote_parsed && v->signature_ok && v->nonce_ok && !nrc;
  char rollback[ATTEST_REASON_LEN];
  /* A quote made over an earlier nonce and answered after a later quote
   * shows less than that one without any rollback: it proves nothing and
   * voids nothing kept (ctl/attest_epoch.h). */
  bool late = fresh && ctl_attest_epoch_late(doc, &v->quote, max_reset, taken.expires_ms, rollback,
                                             sizeof rollback);
  if (late) add_reason(v, "%s", rollback);
  bool rolled_back = fresh && !late &&
                     ctl_attest_epoch_rolled_back(doc, &v->quote, max_reset, rollback, sizeof rollback);
  if (rolled_back) add_reason(v, "%s", rollback);
  /* A TPM firmware older than one this host's TPM ran before is a rollback,
   * perhaps to a version with known flaws that forge quotes: untrusted
   * until the firmware is back, or asset management confirms the chassis
   * (confirm-location sets the new baseline). */
  uint64_t max_fw = doc_fw(doc, "max_tpm_firmware");
  if (v->quote_parsed && v->signature_ok && v->quote.firmware_version < max_fw)
    add_reason(v,
               "TR103308-5.4: TPM firmware version %016llx is lower than %016llx, which this "
               "host's TPM ran before: a firmware rollback; untrusted until the firmware is back "
               "or asset management confirms the chassis (lisec host confirm-location)",
               (unsigned long long)v->quote.firmware_version, (unsigned long long)max_fw);
  /* The BMC's word, only from a quote that verified: an intrusion, another
   * asset tag, hours going back or another BMC void the location until
   * asset management confirms it, as a TPM reset does (ctl/telemetry.c). */
  bool tel_ran = v->quote_parsed && v->signature_ok && v->nonce_ok && !nrc;
  if (tel_ran) {
    ctl_telemetry_appraise(doc, has_ch ? &chassis : NULL, &st->telemetry,
                           v->location_ok ? v->location.asset_tag : NULL, has_inv ? &inv : NULL, now, &tv);
    for (size_t i = 0; i < tv.nvoid; i++) add_reason(v, "%s", tv.voids[i]);
    if (tv.untrusted) add_reason(v, "%s", tv.untrusted_why);
    for (size_t i = 0; i < tv.nfind && v->nwarnings < 3; i++)
      snprintf(v->warnings[v->nwarnings++], ATTEST_REASON_LEN, "%s", tv.findings[i]);
  }
  bool trusted = boot_trusted(v) && !nrc;
  bool loc_ok = trusted && v->location_ok && !decreased && !rolled_back && !late && !tv.nvoid;
  if (!st->location_ca && v->nwarnings < 4)
    snprintf(v->warnings[v->nwarnings++], ATTEST_REASON_LEN,
             "no asset-management CA ([attest] location_ca): the location is not proven");

  char reasons[1000], inv_hex[ATTEST_DIGEST_LEN * 2 + 1] = "", audit_reason[1200];
  join_reasons(v, reasons, sizeof reasons);
  if (has_inv) lisec_hex_encode(inv_sha, sizeof inv_sha, inv_hex);
  /* The audit names the inventory the quote bound, so what a host proved
   * can be matched with what the model did with it. */
  snprintf(audit_reason, sizeof audit_reason, "%s%s%s%s%s%s%s",
           reasons[0] ? reasons : "verified: quote, nonce, PCRs, event log, reference values and location",
           has_inv ? "; inventory sha256:" : "", inv_hex, has_inv && trusted ? " bound to the quote" : "",
           has_inv && !trusted ? " not accepted (the appraisal failed)" : "",
           has_ch && tel_ran ? "; chassis report bound to the quote" : "",
           tv.nfind ? "; chassis finding: " : "");
  if (tv.nfind) {
    size_t used = strlen(audit_reason);
    snprintf(audit_reason + used, sizeof audit_reason - used, "%s", tv.findings[0]);
  }
  /* The stored result, built before its record: the host's document and,
   * after a good appraisal, the observation's are written with the audit
   * entry, in its durable transaction (one commit per report), so neither
   * lands without the other and nothing is answered before both are. */
  ear = attest_ear(v, host, nonce, nonce_len, now);
  vj = attest_verdict_json(v);
  bool delivered = false;
  /* The EAR and verdict's lasting part is written only when it is not the
   * one the host's document names already (ctl/attest_result.h). */
  json_t *last = ear && vj ? json_pack("{s:I, s:b, s:b, s:b}", "at", (json_int_t)now, "verified", v->ok,
                                       "trusted", trusted, "location_ok", loc_ok)
                           : NULL;
  char *lasting = last ? ctl_attest_result_split(last, ear, vj, result_ref) : NULL;
  if (lasting) {
    const char *named = json_string_value(json_object_get(json_object_get(doc, "last"), "result"));
    if (named && strcmp(named, result_ref) == 0) free(lasting);
    else result_text = lasting;
    json_object_set_new(doc, "last", last);
    last = NULL;
    json_object_set_new(doc, "trust", json_string(trusted ? "trusted" : "untrusted:failed"));
    if (trusted) json_object_set_new(doc, "last_ok_at", json_integer(now));
    json_object_set_new(doc, "location", loc_ok ? location_doc(&v->location) : json_null());
    /* Only a quote that verified (signed by the AK as the EK's child, over
     * this report's nonce, taken once) says what the TPM's counters are now:
     * confirm-location takes them as its baseline and asset management
     * reads them (tpm_reset_count). A replayed or stale quote says what
     * they were, and so does one answered late (ctl_attest_epoch_late). */
    if (fresh && !late) {
      json_object_set_new(doc, "last_reset_count", json_integer(v->quote.reset_count));
      json_object_set_new(doc, "last_restart_count", json_integer(v->quote.restart_count));
      ctl_attest_epoch_note(doc, &v->quote, fresh, max_reset, taken.expires_ms);
      if ((int64_t)v->quote.reset_count > max_reset)
        json_object_set_new(doc, "max_reset_count", json_integer(v->quote.reset_count));
      doc_set_fw(doc, "last_tpm_firmware", v->quote.firmware_version);
      if (v->quote.firmware_version > max_fw)
        doc_set_fw(doc, "max_tpm_firmware", v->quote.firmware_version);
    }
    /* A confirmed certificate the agent has now measured is delivered. */
    if (loc_ok && json_object_get(doc, "location_offer")) {
      json_object_del(doc, "location_offer");
      delivered = true;
    }
    host_text = lisec_json_dump_canonical(doc);
  }
  json_decref(last);
  /* Only a good appraisal makes the inventory what the host proved. A host
   * the model does not know gets no document (ctl_model_observe refuses it
   * and records why). */
  /* obs_same: the stored document has this content already (but for its
   * time and quote, and is younger than [attest] grace_s): not written
   * again, the audit record carries this report's time (docs/observed.md). */
  bool obs_same = false;
  if (host_text && has_inv && trusted) {
    lisec_err oe = {0};
    obs_ok = obs_build(host, &inv, e.quote, e.quote_len, now, &ob) == 0;
    if (obs_ok && ctl_model_observe_doc(ctl, &ob.obs, &ob.prep, &obs_text, &obs_same, &oe)) obs_text = NULL;
  }
  ctl_auditlog_doc docs[4];
  size_t n_docs = 0, obs_at = 0, nonce_at = 0;
  if (host_text) {
    docs[n_docs++] = (ctl_auditlog_doc){HOST_KIND, host, host_text, ver, 0};
    if (result_text) docs[n_docs++] = (ctl_auditlog_doc){CTL_ATTEST_RESULT_KIND, host, result_text, -1, 0};
    if (obs_text && !obs_same)
      obs_at = n_docs, docs[n_docs++] = (ctl_auditlog_doc){CTL_MODEL_OBS_KIND, host, obs_text, -1, 0};
    if (nonce_pending)
      nonce_at = n_docs, docs[n_docs++] = (ctl_auditlog_doc){CTL_NONCES_KIND, host, taken.text, taken.ver, 0};
  }
  char subject[16 + ATTEST_HOST_ID_LEN];
  snprintf(subject, sizeof subject, "host %s", host);
  ctl_event rec = {"attest.appraise", subject,
                   ctl_outcome_name(trusted ? CTL_OUTCOME_OK : CTL_OUTCOME_DENIED), audit_reason, false};
  if ((rc = ctl_record_docs(ctl, actor, &rec, docs, n_docs, NULL, err))) {
    /* Neither the record nor the documents are stored: the report is
     * refused (fail closed), and the refusal recorded alone if the log
     * takes it. A commit whose answer was lost may have landed all the
     * same, so the kept document goes (as the model reloads, ctl/model.c
     * commit_doc): the host's next report reads what the store holds
     * instead of being refused once on a stale version. */
    doc_drop(st, host);
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_REFUSED, "attest.appraise", false, NULL, rc, NULL, err,
                    "host %s", host);
    goto done;
  }
  ctl_metrics_appraisal(host, trusted, loc_ok, lisec_time_mono_ns() - t0);
  if (!host_text) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto done;
  }
  ob.stored = obs_text && docs[obs_same ? 0 : obs_at].rc == 0;
  /* A record's documents are written all or none: with them, the nonce. */
  /* kept for the next report at the version written, or forgotten */
  if (docs[0].rc == 0) doc_keep(st, host, host_text, ver + 1, doc_gen);
  else doc_drop(st, host);
  if (nonce_pending)
    ctl_nonces_taken_done(st->nonces, host, &taken, docs[0].rc == 0 && docs[nonce_at].rc == 0);
  if (nonce_pending && docs[0].rc == 0) nonce_pending = false;
  if (nonce_pending) {
    /* One of them had moved: the nonce is decided again on the stored
     * table. Spent meanwhile by another report (or not known): this one
     * takes no effect, and its failure follows its record. */
    lisec_err ce = {0};
    int crc = ctl_nonces_consume_kept(ctl->store, st->nonces, host, NONCES_PER_HOST, nonce, nonce_len, now_ms,
                                      &ce);
    nonce_pending = false;
    if (crc) {
      rc = lisec_err_set(err, crc, "%s", ce.msg);
      lisec_err fe = {0};
      (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "attest.appraise", false, err->msg, 0, NULL,
                      &fe, "host %s", host);
      goto done;
    }
  }
  if ((rc = docs[0].rc)) {
    /* Changed since it was read: saved over only what the overdue timer
     * writes, else refused (the record above stands, this failure follows). */
    lisec_err_set(err, rc, "host %.16s.. changed meanwhile; try again", host);
    if (only_trust_changed(ctl, host, loaded, &ver)) {
      rc = save_doc_with_obs(ctl, host, doc, ver, result_text, obs_same ? NULL : obs_text, &ob.stored, err);
      if (!rc && obs_same) ob.stored = true;
    }
  }
  if (rc) {
    lisec_err fe = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "attest.appraise", false, err->msg, 0, NULL,
                    &fe, "host %s", host);
    goto done;
  }

  /* The model: trust and the attested location. */
  model_location ml = {0};
  if (loc_ok) {
    ml.country = v->location.country;
    ml.subdivision = v->location.subdivision[0] ? v->location.subdivision : NULL;
    ml.has_coords = true;
    ml.lat = v->location.latitude, ml.lon = v->location.longitude;
    ml.site = v->location.site[0] ? v->location.site : NULL;
    ml.source = MODEL_LOC_ATTESTED;
  }
  lisec_err me = {0};
  const char *model_note = "updated";
  char model_buf[LISEC_ERR_MSG_MAX + 128];
  /* The model and the table change together (lock order: this lock, then
   * the model's), so an overdue mark cannot land between them. */
  pthread_mutex_lock(&st->mu);
  att_host *h = find_locked(st, host);
  /* De-enrolled while this appraisal ran (ctl/hosts_end.c): it takes no
   * effect, the host stays untrusted:deenrolled. */
  bool gone = h->deenrolled;
  if (gone) trusted = loc_ok = false;
  int mrc = gone ? 0
                 : ctl_model_host_attested(ctl, host, trusted ? MODEL_TRUST_TRUSTED : MODEL_TRUST_UNTRUSTED,
                                           trusted ? "trusted" : "untrusted:failed", loc_ok ? &ml : NULL, &me);
  bool was_trusted = h->trusted;
  h->trusted = trusted;
  h->last_passed = trusted;
  h->last_attempt = now;
  h->last_attempt_mono_ms = lisec_time_mono_ms();
  if (trusted) h->last_ok = now, h->last_ok_ms = now_ms;
  h->wanted = h->silent = false;
  h->since_start = false;
  if (delivered) h->offer = false;
  h->appraisals++;
  notify_locked(st, h);
  pthread_mutex_unlock(&st->mu);
  if (mrc) {
    snprintf(model_buf, sizeof model_buf, "%s: %s",
             mrc == LISEC_ENOTFOUND ? "host not in the model yet; its trust is kept here and "
                                      "applies once it is added"
                                    : "the model refused the result",
             me.msg);
    model_note = model_buf;
    lisec_err fe = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "attest.model", false, model_buf, 0, NULL, &fe,
                    "host %s", host);
  }
  if (was_trusted && !trusted) quarantine(ctl, host, reasons);
  /* Only a good appraisal makes the inventory what the host proved. */
  if (has_inv && trusted) observed = observe_inventory(ctl, actor, host, obs_ok ? &ob.obs : NULL, ob.prep, ob.stored);

  json_t *rs = json_array(), *ws = json_array();
  for (size_t i = 0; i < v->nreasons; i++) json_array_append_new(rs, json_string(v->reasons[i]));
  for (size_t i = 0; i < v->nwarnings; i++) json_array_append_new(ws, json_string(v->warnings[i]));
  *out = json_pack("{s:s, s:b, s:s, s:b, s:o, s:o, s:s}", "host", host, "verified", v->ok,
                   "trust", trusted ? "trusted" : "untrusted:failed", "location_ok", loc_ok,
                   "reasons", rs, "warnings", ws, "model", model_note);
  if (!*out) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  if (*out && tel_ran) {
    json_t *fs = json_array();
    for (size_t i = 0; fs && i < tv.nfind; i++) json_array_append_new(fs, json_string(tv.findings[i]));
    json_object_set_new(*out, "chassis", json_pack("{s:b, s:b, s:o}", "reported", has_ch, "location_void",
                                                   tv.nvoid > 0, "findings", fs ? fs : json_array()));
  }
  if (*out && has_inv)
    json_object_set_new(*out, "inventory", json_pack("{s:s, s:I, s:b}", "sha256", inv_hex, "domains",
                                                     (json_int_t)inv.n, "observed", observed));
done:
  if (nonce_pending) {
    /* ended before its record's commit: spent on its own, as it always is */
    lisec_err ce = {0};
    int crc = ctl_nonces_consume_kept(ctl->store, st->nonces, host, NONCES_PER_HOST, nonce, nonce_len, now_ms,
                                      &ce);
    if (crc && crc != LISEC_EDENIED)
      LOG_WARN("attest: the nonce of host %.16s.. could not be spent: %s", host, ce.msg);
  }
  ctl_nonces_taken_done(st->nonces, host, &taken, false);
  free(result_text);
  obs_built_free(&ob);
  free(obs_text);
  free(host_text);
  attest_inventory_free(&inv);
  evidence_free(&e);
  free(akp), free(ekp);
  free(v);
  ak_cached_put(st, ak);
  json_decref(doc);
  free(loaded);
  json_decref(ear);
  json_decref(vj);
  return rc;
}

/* ---- de-enrolment (ctl/hosts_end.c) ------------------------------------- */

void ctl_attest_host_forget(lisec_ctl *ctl, const char *host) {
  struct ctl_attest_state *st = st_of(ctl);
  ak_cached *ak = NULL;
  /* the nonces it was issued are spent with its AK */
  lisec_err nerr = {0};
  if (ctl_nonces_forget_kept(ctl->store, st->nonces, host, &nerr))
    LOG_WARN("attest: the nonces of host %.16s.. were not dropped: %s", host, nerr.msg);
  pthread_mutex_lock(&st->mu);
  att_host *h = find_locked(st, host);
  doc_drop_locked(st, h); /* the caller rewrote it */
  if (h) {
    ak = h->ak, h->ak = NULL;
    h->enrolled = h->trusted = h->last_passed = h->wanted = h->overdue_todo = false;
    h->offer = h->since_start = false;
    h->deenrolled = true;
    h->last_ok = h->last_ok_ms = h->last_attempt_mono_ms = 0;
    /* requests parked for its fresh quote decide now: it has none */
    h->appraisals++;
    notify_locked(st, h);
  }
  pthread_mutex_unlock(&st->mu);
  ak_cached_put(st, ak);
}

struct ctl_revoked_set *ctl_attest_revoked(lisec_ctl *ctl) {
  struct ctl_attest_state *st = st_of(ctl);
  return st ? st->revoked : NULL;
}

/* ---- reading ------------------------------------------------------------ */

static json_t *summary(const struct ctl_attest_state *st, const char *host, const json_t *doc,
                       int64_t now) {
  json_t *last = json_object_get(doc, "last");
  json_t *o = json_pack("{s:s, s:s, s:b, s:O}", "host", host, "trust", trust_now(st, doc, now),
                        "enrolled", json_object_get(doc, "ak_pub") != NULL, "location",
                        json_object_get(doc, "location") ? json_object_get(doc, "location")
                                                         : json_null());
  if (!o) return NULL;
  char when[32];
  if (doc_int(doc, "last_ok_at")) {
    lisec_time_format(doc_int(doc, "last_ok_at"), when);
    json_object_set_new(o, "last_ok_at", json_string(when));
  }
  if (last) {
    lisec_time_format(doc_int(last, "at"), when);
    json_object_set_new(o, "last_appraisal_at", json_string(when));
    json_object_set(o, "reasons", json_object_get(json_object_get(last, "verdict"), "reasons"));
  }
  if (json_object_get(doc, "last_reset_count"))
    json_object_set(o, "tpm_reset_count", json_object_get(doc, "last_reset_count"));
  if (json_object_get(doc, "last_restart_count"))
    json_object_set(o, "tpm_restart_count", json_object_get(doc, "last_restart_count"));
  if (json_object_get(doc, "chassis")) json_object_set(o, "chassis", json_object_get(doc, "chassis"));
  if (json_object_get(doc, "chassis_void")) json_object_set(o, "chassis_void", json_object_get(doc, "chassis_void"));
  json_object_set_new(o, "location_confirmation_pending",
                      json_boolean(json_object_get(doc, "location_offer") != NULL));
  return o;
}

int ctl_attest_host_show(lisec_ctl *ctl, const ctl_actor *actor, const char *host, json_t **out,
                         lisec_err *err) {
  if (!valid_host_id(host))
    return lisec_err_set(err, LISEC_ENOTFOUND, "no such host: a host id is 64 hex digits");
  int rc = check_actor(ctl, actor, host, "attest.read", err);
  json_t *doc = NULL;
  int64_t ver = 0;
  if (rc || (rc = load_doc(ctl, host, &doc, &ver, err))) return rc;
  /* the EAR and verdict whole again (ctl/attest_result.h) */
  if (json_object_get(doc, "last")) {
    lisec_err re = {0};
    json_t *last = ctl_attest_result_join(ctl->store, host, json_object_get(doc, "last"), &re);
    if (!last) {
      json_decref(doc);
      return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    }
    if (re.code) LOG_WARN("attest: host %.16s..: its newest EAR cannot be read: %s", host, re.msg);
    json_object_set_new(doc, "last", last);
  }
  json_t *ear = json_object_get(json_object_get(doc, "last"), "ear");
  *out = ear ? json_deep_copy(ear) : json_object();
  json_t *mine = summary(st_of(ctl), host, doc, lisec_time_now());
  if (*out && mine) json_object_set_new(*out, "lisec", mine);
  else json_decref(mine);
  json_decref(doc);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

typedef struct list_ctx {
  const struct ctl_attest_state *st;
  json_t *arr;
  int64_t now;
} list_ctx;

static int list_cb(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  list_ctx *lc = ctx;
  json_t *doc = NULL;
  if (lisec_json_parse(body, strlen(body), &doc, NULL) != 0) return LISEC_ESTORE;
  json_t *s = summary(lc->st, id, doc, lc->now);
  json_decref(doc);
  if (!s) return LISEC_ENOMEM;
  json_object_del(s, "reasons");
  return json_array_append_new(lc->arr, s) ? LISEC_ENOMEM : 0;
}

int ctl_attest_host_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  (void)actor;
  list_ctx lc = {st_of(ctl), json_array(), lisec_time_now()};
  if (!lc.arr) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_list(ctl->store, HOST_KIND, list_cb, &lc, err);
  if (rc) {
    json_decref(lc.arr);
    return rc == LISEC_ESTORE && !err->msg[0]
               ? lisec_err_set(err, rc, "a stored attestation does not parse")
               : rc;
  }
  *out = json_pack("{s:o}", "hosts", lc.arr);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

/* ---- location re-confirmation ------------------------------------------- */

int ctl_attest_confirm_location(lisec_ctl *ctl, const ctl_actor *actor, const char *host,
                                const json_t *body, json_t **out, lisec_err *err) {
  struct ctl_attest_state *st = st_of(ctl);
  uint8_t *cert = NULL;
  size_t cert_len = 0;
  json_t *doc = NULL;
  int64_t ver = 0;
  char *s_cert = NULL;
  attest_location loc;
  int rc;
  if (!valid_host_id(host))
    return lisec_err_set(err, LISEC_ENOTFOUND, "no such host: a host id is 64 hex digits");
  if (!st->location_ca)
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "TR103308-6.2-R8: no asset-management CA is configured ([attest] "
                         "location_ca); no location can be confirmed");
  if ((rc = get_b64(body, "certificate", true, ATTEST_LOCATION_MAX, &cert, &cert_len, err)) ||
      (rc = load_doc(ctl, host, &doc, &ver, err)))
    goto done;
  lisec_err why = {0};
  int vrc = 0;
  /* Only an enrolled host gets a location: a de-enrolled one has no AK to
   * attest it with, and an offer and baselines set now would wait for
   * whatever enrols under its id next. */
  if (json_object_get(doc, "deenrolled_at") || !json_object_get(doc, "ak_pub")) {
    char at[32] = "";
    if (json_object_get(doc, "deenrolled_at"))
      lisec_time_format(doc_int(doc, "deenrolled_at"), at);
    vrc = lisec_err_set(&why, LISEC_ECONFLICT,
                        at[0] ? "NFV-SEC025-lifecycle, TR103308-5.1: host %.16s.. was de-enrolled at %s: "
                                "no location is confirmed for it until it enrols again"
                              : "TR103308-5.1: host %.16s.. is not enrolled%s: no location is "
                                "confirmed for it until it enrols and quotes",
                        host, at);
  } else if ((vrc = attest_location_parse(cert, cert_len, st->location_ca, 0, &loc, &why))) {
    lisec_err_wrap(&why, "TR103308-6.2-R8: location certificate");
  } else if (strcmp(loc.host_id, host) != 0) {
    vrc = lisec_err_set(&why, LISEC_EDENIED,
                        "TR103308-6.2-R12: the certificate names host %.16s.., not %.16s..",
                        loc.host_id, host);
  } else if (!json_object_get(doc, "last_reset_count")) {
    vrc = lisec_err_set(&why, LISEC_EDENIED,
                        "TR103308-6.2-R10: the host has not quoted yet: its TPM resetCount is "
                        "unknown");
  } else if ((int64_t)loc.reset_count != doc_int(doc, "last_reset_count")) {
    vrc = lisec_err_set(&why, LISEC_EDENIED,
                        "TR103308-6.2-R10: the certificate is for TPM resetCount %u, the host's "
                        "last quote shows %lld",
                        loc.reset_count, (long long)doc_int(doc, "last_reset_count"));
  } else if ((int64_t)loc.restart_count != doc_int(doc, "last_restart_count")) {
    /* A location bound to another restartCount is void at the next
     * appraisal (a TPM Restart keeps resetCount): refused here instead. */
    vrc = lisec_err_set(&why, LISEC_EDENIED,
                        "TR103308-6.2-R10: the certificate is for TPM restartCount %u "
                        "(\"tpm_restart_count\", 0 when absent), the host's last quote shows %lld",
                        loc.restart_count, (long long)doc_int(doc, "last_restart_count"));
  }
  char reason[512] = "";
  if (!vrc)
    snprintf(reason, sizeof reason,
             "asset management confirmed %s %s site %s at TPM resetCount %u, restartCount %u; "
             "sent to the agent",
             loc.country, loc.subdivision, loc.site, loc.reset_count, loc.restart_count);
  if ((rc = ctl_audit(ctl, actor, vrc ? CTL_OUTCOME_DENIED : CTL_OUTCOME_OK,
                      "attest.confirm-location", false, vrc ? why.msg : reason, 0, NULL, err,
                      "host %s", host)))
    goto done;
  if (vrc) {
    rc = lisec_err_set(err, vrc == LISEC_EINVAL || vrc == LISEC_ECONFLICT ? vrc : LISEC_EDENIED, "%s",
                       why.msg);
    goto done;
  }
  if (!(s_cert = b64(cert, cert_len))) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    goto done;
  }
  json_object_set_new(doc, "location_offer", json_string(s_cert));
  /* A human check of the chassis at this resetCount is the new baseline
   * (after TPM2_Clear it is lower than the highest seen). */
  json_object_set_new(doc, "max_reset_count", json_integer(loc.reset_count));
  /* ... with its restartCount and clock, and a rolled-back TPM's void ends */
  ctl_attest_epoch_confirmed(doc, loc.restart_count);
  /* ... and of its TPM's firmware, as its last quote shows it, */
  doc_set_fw(doc, "max_tpm_firmware", doc_fw(doc, "last_tpm_firmware"));
  /* ... and of its BMC: a chassis void ends, its last report is the baseline. */
  ctl_telemetry_confirmed(doc);
  if ((rc = save_doc(ctl, host, doc, ver, err))) {
    lisec_err fe = {0};
    (void)ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "attest.confirm-location", false, err->msg, 0,
                    NULL, &fe, "host %s", host);
    goto done;
  }
  pthread_mutex_lock(&st->mu);
  att_host *h = find_locked(st, host);
  if (h) h->offer = true;
  pthread_mutex_unlock(&st->mu);
  *out = json_pack("{s:s, s:o, s:s}", "host", host, "location", location_doc(&loc), "status",
                   "confirmed; the agent measures it at its next challenge and attests");
  if (!*out) rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
done:
  free(cert);
  free(s_cert);
  json_decref(doc);
  return rc;
}

/* ---- freshness for LI decisions ----------------------------------------- */

/* ms since the epoch as "HH:MM:SS UTC". */
static void utc_clock(int64_t ms, char *out, size_t len) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || strftime(out, len, "%H:%M:%S UTC", &tm) == 0)
    snprintf(out, len, "an unknown time");
}

/* Every refusal below says why twice: the whole sentence in err (what an
 * LI VM's denial carries), and the reason alone in why (what the note of a
 * decision that goes on without a fresh quote says), so the two read
 * alike. */
int ctl_attest_ensure_fresh(lisec_ctl *ctl, const char *host, int64_t max_age_s, bool *refreshed,
                            bool *pending, char *why, size_t why_len, lisec_err *err) {
  struct ctl_attest_state *st = st_of(ctl);
  ctl_attest_wait *w = ctl->wait;
  *refreshed = false;
  if (why_len) why[0] = '\0';
  if (!st) {
    snprintf(why, why_len, "attestation is not running");
    return lisec_err_set(err, LISEC_EUNAVAIL, "TR103308-5.1: attestation is not running");
  }
  pthread_mutex_lock(&st->mu);
  att_host *h = find_locked(st, host);
  if (!h || !h->enrolled) {
    pthread_mutex_unlock(&st->mu);
    snprintf(why, why_len, "the host has no appraised attestation (not enrolled)");
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "TR103308-5.1: host %s has no appraised attestation (not enrolled)", host);
  }
  int64_t now_ms = lisec_time_now_ms();
  wait_host *wh = wait_find(w, host);
  bool got = wh && h->appraisals != wh->seen;
  /* A good appraisal made while this request waited is fresh for it, even
   * when the request then waited longer than max_age_s for another host. */
  if ((got && h->last_passed && h->trusted) ||
      (h->trusted && h->last_ok_ms && now_ms - h->last_ok_ms <= max_age_s * 1000 &&
       h->last_ok_ms <= now_ms + 5000)) {
    *refreshed = got;
    pthread_mutex_unlock(&st->mu);
    return 0;
  }
  /* Ask the agent: its next challenge poll sees the flag. */
  h->wanted = true;
  int64_t bound = st->fresh_wait_ms;
  /* this request was parked on the host and is now decided: how long for */
  bool waited = wh && w->final;
  int64_t waited_ms = waited ? lisec_time_mono_ms() - w->since_mono_ms : 0;
  /* An agent that let a wait pass is not waited for again until it
   * attests: a dead host would otherwise hold every decision onto it for
   * fresh_wait_ms, and every decision asks (ctl/model.c). A request that
   * was parked on it when it went silent is answered then (its wait woke,
   * wait_check_locked), saying how long it waited; one that comes later is
   * answered at once, saying when the host was asked. */
  if (h->silent && !got) {
    char at[32];
    utc_clock(h->silent_asked_ms, at, sizeof at);
    pthread_mutex_unlock(&st->mu);
    if (waited)
      snprintf(why, why_len,
               "the host's agent did not attest within %lldms of being asked; this decision "
               "waited %lldms",
               (long long)bound, (long long)waited_ms);
    else
      snprintf(why, why_len,
               "the host's agent gave no fresh quote when last asked (at %s, within %lldms); "
               "this decision did not wait, nor does any until it attests again",
               at, (long long)bound);
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "TR103308-5.1: host %s: attestation older than %llds, and %s", host,
                         (long long)max_age_s, why);
  }
  if (w && !w->final) {
    if (!wh) {
      if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 4;
        wait_host *more = realloc(w->hosts, cap * sizeof *more);
        if (!more) {
          pthread_mutex_unlock(&st->mu);
          snprintf(why, why_len, "out of memory");
          return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
        }
        w->hosts = more, w->cap = cap;
      }
      if (w->n == 0) w->since_mono_ms = lisec_time_mono_ms();
      wh = &w->hosts[w->n++];
      memset(wh, 0, sizeof *wh);
      memcpy(wh->id, h->id, sizeof wh->id);
      wh->seen = h->appraisals;
      wh->asked_ms = now_ms;
    }
    w->pending = true;
    *pending = true;
    pthread_mutex_unlock(&st->mu);
    return 0;
  }
  bool passed = h->last_passed;
  /* This request's bound passed without the host's quote: the host is
   * silent from now on, and every other request parked on it is answered
   * now, as one arriving now would be (the host had a whole bound). */
  bool let_pass = w && w->expired && wh && !got;
  if (let_pass) {
    h->silent = true;
    h->silent_asked_ms = wh->asked_ms;
    notify_locked(st, h);
  }
  pthread_mutex_unlock(&st->mu);
  if (got) {
    snprintf(why, why_len, "%s", passed ? "the host's fresh appraisal left it untrusted"
                                        : "the host's fresh attestation failed its appraisal");
    return lisec_err_set(err, passed ? LISEC_EUNAVAIL : LISEC_EDENIED, "TR103308-5.1: host %s: %s",
                         host, passed ? "the fresh appraisal left it untrusted"
                                      : "the fresh attestation failed its appraisal");
  }
  if (let_pass)
    snprintf(why, why_len,
             "the host's agent did not attest within %lldms of being asked; this decision waited "
             "%lldms",
             (long long)bound, (long long)waited_ms);
  else if (waited)
    snprintf(why, why_len,
             "a fresh one was asked for but this request cannot wait for it (it waited %lldms)",
             (long long)waited_ms);
  else
    snprintf(why, why_len, "a fresh one was asked for but this request cannot wait for it");
  return lisec_err_set(err, LISEC_EUNAVAIL,
                       "TR103308-5.1: host %s: attestation older than %llds%s %s", host,
                       (long long)max_age_s, let_pass ? ", and" : ";", why);
}
