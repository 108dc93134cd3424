/* Each network element's X1 state as the ADMF sees it (see x1_status.h):
 * one JSON object per NE under one lock, the reachability rule in one
 * function (decide) that both the loop's evaluation and the read use. Each
 * time kept is a wall-clock time, shown to the LI administration; the NE's
 * silence is judged on the monotonic time of its last Keepalive, kept
 * beside. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "ctl/x1_status.h"
#include "x1/x1.h"

#define TEXT_MAX 300
#define REMOVED_KEPT 8 /* the latest destinations removed, by DID */

struct ctl_x1_status {
  pthread_mutex_t lock;
  int64_t timeout_ms;
  json_t *nes; /* ne id -> its state */
};

ctl_x1_status *ctl_x1_status_new(int64_t keepalive_timeout_ms) {
  ctl_x1_status *s = calloc(1, sizeof *s);
  if (!s || !(s->nes = json_object())) {
    free(s);
    return NULL;
  }
  pthread_mutex_init(&s->lock, NULL);
  s->timeout_ms = keepalive_timeout_ms;
  return s;
}

void ctl_x1_status_free(ctl_x1_status *s) {
  if (!s) return;
  json_decref(s->nes);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

static int64_t ival(const json_t *o, const char *k) { return (int64_t)json_integer_value(json_object_get(o, k)); }

static const char *sval(const json_t *o, const char *k) {
  const char *v = json_string_value(json_object_get(o, k));
  return v ? v : "";
}

/* The NE's state, made on first use. Called with the lock held. */
static json_t *state_of(ctl_x1_status *s, const char *ne) {
  json_t *o = json_object_get(s->nes, ne);
  if (!o) {
    o = json_object();
    json_object_set_new(s->nes, ne, o);
  }
  return o;
}

/* Printable ASCII only, bounded: what an NE says is shown, never obeyed. */
static void plain(char *out, size_t cap, const char *in) {
  size_t n = 0;
  for (const char *p = in ? in : ""; *p && n + 1 < cap; p++) out[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : ' ';
  out[n] = '\0';
}

static void when(int64_t ms, char out[32]) {
  if (ms <= 0) out[0] = '\0';
  else lisec_time_format(ms / 1000, out);
}

/* The rule: unreachable when lisecd's last check did not reach the NE, or
 * when the NE, having sent Keepalive, has been silent longer than the
 * timeout (a duration: monotonic milliseconds, so a step of the wall clock
 * neither ends a healthy NE's time nor lengthens a silent one's); unknown
 * before either is known. *why says which. */
static const char *decide(const ctl_x1_status *s, const json_t *o, int64_t mono_ms, char *why, size_t cap) {
  bool checked = json_is_true(json_object_get(o, "checked"));
  bool heard = json_object_get(o, "last_keepalive_mono_ms") != NULL;
  int64_t ka = ival(o, "last_keepalive_mono_ms");
  why[0] = '\0';
  if (checked && !json_is_true(json_object_get(o, "reached"))) {
    snprintf(why, cap, "lisecd's check (Ping) did not reach it: %.200s", sval(o, "check_error"));
    return "unreachable";
  }
  if (s->timeout_ms > 0 && heard && mono_ms - ka > s->timeout_ms) {
    snprintf(why, cap, "no Keepalive from the NE for %lld s (more than [x1] keepalive_timeout_s = %lld)",
             (long long)((mono_ms - ka) / 1000), (long long)(s->timeout_ms / 1000));
    return "unreachable";
  }
  if (!checked && !heard) {
    snprintf(why, cap, "not checked yet");
    return "unknown";
  }
  return "reachable";
}

void ctl_x1_status_checked(ctl_x1_status *s, const char *ne, bool reached, const char *error,
                           const char *version, int64_t now_ms) {
  char text[TEXT_MAX];
  plain(text, sizeof text, error);
  pthread_mutex_lock(&s->lock);
  json_t *o = state_of(s, ne);
  json_object_set_new(o, "checked", json_true());
  json_object_set_new(o, "reached", json_boolean(reached));
  json_object_set_new(o, "check_error", json_string(reached ? "" : text));
  json_object_set_new(o, "last_check_ms", json_integer(now_ms));
  if (version && version[0]) {
    plain(text, sizeof text, version);
    json_object_set_new(o, "answered_version", json_string(text));
  }
  if (!reached) {
    json_object_set_new(o, "error", json_string(text));
    json_object_set_new(o, "error_ms", json_integer(now_ms));
  }
  pthread_mutex_unlock(&s->lock);
}

void ctl_x1_status_keepalive(ctl_x1_status *s, const char *ne, int64_t now_ms, int64_t mono_ms) {
  pthread_mutex_lock(&s->lock);
  json_t *o = state_of(s, ne);
  json_object_set_new(o, "last_keepalive_ms", json_integer(now_ms));
  json_object_set_new(o, "last_keepalive_mono_ms", json_integer(mono_ms));
  pthread_mutex_unlock(&s->lock);
}

void ctl_x1_status_note(ctl_x1_status *s, const char *ne, const char *kind, const char *text, int64_t now_ms) {
  char t[TEXT_MAX], at_key[48];
  plain(t, sizeof t, text);
  snprintf(at_key, sizeof at_key, "%.40s_ms", kind);
  pthread_mutex_lock(&s->lock);
  json_t *o = state_of(s, ne);
  json_object_set_new(o, kind, json_string(t));
  json_object_set_new(o, at_key, json_integer(now_ms));
  pthread_mutex_unlock(&s->lock);
}

void ctl_x1_status_refused(ctl_x1_status *s, const char *ne, int64_t now_ms) {
  pthread_mutex_lock(&s->lock);
  json_t *o = state_of(s, ne);
  json_object_set_new(o, "refused_count", json_integer(ival(o, "refused_count") + 1));
  json_object_set_new(o, "refused_ms", json_integer(now_ms));
  pthread_mutex_unlock(&s->lock);
}

void ctl_x1_status_removed(ctl_x1_status *s, const char *ne, const char *did, int64_t now_ms) {
  char t[64];
  plain(t, sizeof t, did);
  pthread_mutex_lock(&s->lock);
  json_t *o = state_of(s, ne);
  json_t *list = json_object_get(o, "removed");
  if (!json_is_array(list)) {
    list = json_array();
    json_object_set_new(o, "removed", list);
  }
  json_array_append_new(list, json_pack("{s:s, s:I}", "did", t, "at_ms", (json_int_t)now_ms));
  while (json_array_size(list) > REMOVED_KEPT) json_array_remove(list, 0);
  json_object_set_new(o, "removed_count", json_integer(ival(o, "removed_count") + 1));
  pthread_mutex_unlock(&s->lock);
}

int ctl_x1_status_evaluate(ctl_x1_status *s, const char *ne, int64_t now_ms, int64_t mono_ms) {
  char why[TEXT_MAX];
  pthread_mutex_lock(&s->lock);
  json_t *o = state_of(s, ne);
  const char *now = decide(s, o, mono_ms, why, sizeof why);
  char was[16];
  snprintf(was, sizeof was, "%s", sval(o, "shown"));
  int changed = 0;
  if (strcmp(now, "unknown") != 0 && strcmp(now, was) != 0) {
    json_object_set_new(o, "shown", json_string(now));
    json_object_set_new(o, "since_ms", json_integer(now_ms));
    changed = strcmp(now, "reachable") == 0 ? 1 : -1;
  }
  pthread_mutex_unlock(&s->lock);
  /* once per change, outside the lock */
  if (changed > 0) LOG_INFO("X1: NE %s is reachable%s", ne, was[0] ? " again" : "");
  else if (changed < 0) {
    /* operators read this log: lisec's words, not the NE's (x1_error_shown);
     * the whole is in the NE's status, for the LI administration */
    char shown[TEXT_MAX + 256];
    x1_error_shown(why, shown, sizeof shown);
    LOG_WARN("X1: NE %s is unreachable: %s", ne, shown);
  }
  return changed;
}

json_t *ctl_x1_status_get(ctl_x1_status *s, const char *ne, int64_t mono_ms) {
  char why[TEXT_MAX], t[32];
  pthread_mutex_lock(&s->lock);
  const json_t *o = json_object_get(s->nes, ne);
  json_t *empty = o ? NULL : json_object();
  if (!o) o = empty;
  const char *state = decide(s, o, mono_ms, why, sizeof why);
  json_t *out = json_pack("{s:s, s:s, s:b, s:s, s:I}", "ne", ne, "state", state, "reachable",
                          strcmp(state, "reachable") == 0, "why", why, "keepalive_timeout_s",
                          (json_int_t)(s->timeout_ms / 1000));
  static const struct {
    const char *out, *ms;
  } times[] = {{"since", "since_ms"},
               {"last_check", "last_check_ms"},
               {"last_keepalive", "last_keepalive_ms"},
               {"last_report_refused", "refused_ms"}};
  for (size_t i = 0; out && i < LISEC_ARRAY_LEN(times); i++) {
    when(ival(o, times[i].ms), t);
    json_object_set_new(out, times[i].out, json_string(t));
  }
  /* the latest of each kind, with when it came */
  static const char *const kinds[] = {"error", "ne_issue", "destination_issue"};
  for (size_t i = 0; out && i < LISEC_ARRAY_LEN(kinds); i++) {
    char at_key[48];
    snprintf(at_key, sizeof at_key, "%s_ms", kinds[i]);
    when(ival(o, at_key), t);
    json_object_set_new(out, kinds[i], json_pack("{s:s, s:s}", "text", sval(o, kinds[i]), "at", t));
  }
  if (out) {
    json_object_set_new(out, "answered_version", json_string(sval(o, "answered_version")));
    json_object_set_new(out, "destinations_removed", json_integer(ival(o, "removed_count")));
    json_object_set_new(out, "reports_refused", json_integer(ival(o, "refused_count")));
    json_t *removed = json_array();
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(o, "removed"), i, r) {
      when(ival(r, "at_ms"), t);
      json_array_append_new(removed, json_pack("{s:s, s:s}", "did", sval(r, "did"), "at", t));
    }
    json_object_set_new(out, "removed", removed);
  }
  pthread_mutex_unlock(&s->lock);
  json_decref(empty);
  return out;
}

void ctl_x1_status_forget(ctl_x1_status *s, const char *ne) {
  pthread_mutex_lock(&s->lock);
  json_object_del(s->nes, ne);
  pthread_mutex_unlock(&s->lock);
}
