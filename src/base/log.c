/* Logging for lisec's programs: one line per event on stderr, plain text for
 * people or JSON lines for collectors. Libraries never call this; they return
 * reasons. Messages must never carry secrets: callers log ids, not values. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"

static lisec_log_level log_min = LISEC_LOG_INFO;
static bool log_json = false;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *log_process; /* lisecd's child processes name themselves */

void lisec_log_set_process(const char *name) { log_process = name; }

void lisec_log_setup(lisec_log_level min, bool json) {
  log_min = min;
  log_json = json;
}

int lisec_log_level_parse(const char *s, lisec_log_level *out) {
  for (size_t i = 0; i < LISEC_ARRAY_LEN(level_names); i++) {
    if (strcasecmp(s, level_names[i]) == 0) {
      *out = (lisec_log_level)i;
      return 0;
    }
  }
  return LISEC_EINVAL;
}

void lisec_log(lisec_log_level lvl, const char *fmt, ...) {
  if (lvl < log_min) return;
  char msg[2048], ts[32];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  int64_t now_ms = lisec_time_now_ms();
  lisec_time_format(now_ms / 1000, ts);
  pthread_mutex_lock(&log_lock);
  if (log_json) {
    json_t *o = json_pack("{s:s, s:I, s:s}", "level", level_names[lvl], "time_ms",
                          (json_int_t)now_ms, "msg", msg);
    if (o && log_process) json_object_set_new(o, "process", json_string(log_process));
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (line) fprintf(stderr, "%s\n", line);
    free(line);
    json_decref(o);
  } else {
    if (log_process) fprintf(stderr, "%s %-5s [%s] %s\n", ts, level_names[lvl], log_process, msg);
    else fprintf(stderr, "%s %-5s %s\n", ts, level_names[lvl], msg);
  }
  pthread_mutex_unlock(&log_lock);
}

/* The limiters' counters are shared by threads; one lock for all of them is
 * enough, as only events that are about to be logged (or dropped) take it. */
static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;

void lisec_log_limited(lisec_log_limit *lim, unsigned max, unsigned interval_ms, lisec_log_level lvl,
                       const char *fmt, ...) {
  if (lvl < log_min) return;
  uint64_t now = lisec_time_mono_ns(), held_back = 0;
  bool emit;
  pthread_mutex_lock(&limit_lock);
  if (lim->window_start_ns == 0 || now - lim->window_start_ns >= (uint64_t)interval_ms * 1000000u) {
    held_back = lim->suppressed;
    lim->window_start_ns = now;
    lim->logged = 0;
    lim->suppressed = 0;
  }
  emit = lim->logged < max;
  if (emit) lim->logged++;
  else lim->suppressed++;
  pthread_mutex_unlock(&limit_lock);
  if (held_back)
    lisec_log(lvl, "(suppressed %llu more lines like the next: at most %u per %u ms)",
              (unsigned long long)held_back, max, interval_ms);
  if (!emit) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  lisec_log(lvl, "%s", msg);
}
