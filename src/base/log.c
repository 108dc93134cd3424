/* Logging for lisec's programs: one line per event on stderr, plain text for
 * people or JSON lines for collectors (docs/operations.md, "Logs"). Every
 * JSON line has ts, level, component and msg; a line logged while a thread
 * works on a request also has that request's request_id, role and route
 * pattern (lisec_log_context_set), and an access line (lisec_log_access) has
 * method, status and duration_ms too. Libraries never call this; they return
 * reasons. Messages must never carry secrets: callers log ids, not values,
 * and never the concrete path of a request (it can hold an LI's id). */

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"

static lisec_log_level log_min = LISEC_LOG_INFO;
static bool log_json = false;
static bool log_access = true;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *log_process; /* lisecd's child processes name themselves */

#define CTX_ROLE_MAX 80
#define CTX_ROUTE_MAX 128
typedef struct log_ctx {
  char request_id[LISEC_REQUEST_ID_MAX];
  char role[CTX_ROLE_MAX];
  char route[CTX_ROUTE_MAX];
} log_ctx;
static _Thread_local log_ctx ctx;

void lisec_log_set_process(const char *name) { log_process = name; }

void lisec_log_setup(lisec_log_level min, bool json) {
  log_min = min;
  log_json = json;
}

void lisec_log_set_access(bool on) { log_access = on; }
bool lisec_log_access_enabled(void) { return log_access; }

int lisec_log_level_parse(const char *s, lisec_log_level *out) {
  for (size_t i = 0; i < LISEC_ARRAY_LEN(level_names); i++) {
    if (strcasecmp(s, level_names[i]) == 0) {
      *out = (lisec_log_level)i;
      return 0;
    }
  }
  return LISEC_EINVAL;
}

/* Copies at most cap - 1 bytes of printable ASCII; anything else becomes '?',
 * so a context field can never break a text line. */
static void ctx_copy(char *dst, size_t cap, const char *src) {
  size_t i = 0;
  for (; src && src[i] && i + 1 < cap; i++)
    dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
  dst[i] = '\0';
}

void lisec_log_context_set(const char *request_id, const char *role, const char *route) {
  ctx_copy(ctx.request_id, sizeof ctx.request_id, request_id);
  ctx_copy(ctx.role, sizeof ctx.role, role);
  ctx_copy(ctx.route, sizeof ctx.route, route);
}

void lisec_log_context_clear(void) { memset(&ctx, 0, sizeof ctx); }

static const char *component(void) {
  return log_process ? log_process : program_invocation_short_name;
}

/* The line's time: its second formatted once per second per thread, then
 * the milliseconds. */
static void put_ts(lisec_fbuf *b, int64_t now_ms) {
  static _Thread_local int64_t made = -1;
  static _Thread_local char s[32];
  if (now_ms / 1000 != made) {
    lisec_time_format(now_ms / 1000, s); /* 2026-01-02T03:04:05Z */
    size_t n = strlen(s);
    if (n && s[n - 1] == 'Z') s[n - 1] = '\0';
    made = now_ms / 1000;
  }
  lisec_fbuf_str(b, s, sizeof s);
  LISEC_FBUF_LIT(b, ".");
  lisec_fbuf_uint(b, (uint64_t)(now_ms % 1000), 3);
  LISEC_FBUF_LIT(b, "Z");
}

/* Lines a thread holds (lisec_log_hold) until it lets them go, written
 * then in one call: a front worker's access lines of one pass of its
 * loop. A line that does not fit, or comes while nothing is held, is
 * written at once (after what is held, keeping the thread's order). */
#define HELD_MAX 8192
static _Thread_local struct {
  int depth;
  size_t len;
  char buf[HELD_MAX];
} held;

static void write_out(const char *a, size_t an, const char *b, size_t bn) {
  pthread_mutex_lock(&log_lock);
  if (an) fwrite(a, 1, an, stderr);
  if (bn) fwrite(b, 1, bn, stderr);
  pthread_mutex_unlock(&log_lock);
}

static void put_line(const char *line, size_t n) {
  if (held.depth && n <= HELD_MAX - held.len) {
    memcpy(held.buf + held.len, line, n);
    held.len += n;
    return;
  }
  write_out(held.buf, held.len, line, n);
  held.len = 0;
}

void lisec_log_hold(void) { held.depth++; }

void lisec_log_release(void) {
  if (held.depth > 0 && --held.depth == 0 && held.len) {
    write_out(held.buf, held.len, NULL, 0);
    held.len = 0;
  }
}

static void set_str(json_t *o, const char *k, const char *v) {
  if (v && v[0]) json_object_set_new(o, k, json_string(v));
}

/* Writes one line: msg, the thread's request context, and for an access
 * line (a != NULL) its own fields. */
static void emit(lisec_log_level lvl, const char *msg, const lisec_log_access_rec *a) {
  char ts[40];
  lisec_fbuf tsb = {ts, 0, sizeof ts - 1, false};
  put_ts(&tsb, lisec_time_now_ms());
  ts[tsb.n] = '\0';
  const char *rid = a ? a->request_id : ctx.request_id;
  const char *role = a ? a->role : ctx.role;
  const char *route = a ? a->route : ctx.route;
  if (log_json) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", level_names[lvl], "component",
                          component(), "msg", msg);
    char ascii[2048];
    if (!o) { /* not UTF-8 (a peer's bytes quoted): its ASCII, the rest '?' */
      size_t i = 0;
      for (; msg[i] && i + 1 < sizeof ascii; i++) ascii[i] = (unsigned char)msg[i] < 0x80 ? msg[i] : '?';
      ascii[i] = '\0';
      o = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", level_names[lvl], "component", component(),
                    "msg", ascii);
    }
    if (o) {
      set_str(o, "request_id", rid);
      set_str(o, "role", role);
      set_str(o, "route", route);
    }
    if (o && a) {
      set_str(o, "method", a->method);
      json_object_set_new(o, "status", json_integer(a->status));
      json_object_set_new(o, "duration_ms", json_real((double)a->duration_ns / 1e6));
    }
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (line) {
      size_t n = strlen(line);
      line[n] = '\n'; /* over the terminator: put_line takes a length */
      put_line(line, n + 1);
      line[n] = '\0';
    }
    free(line);
    json_decref(o);
    return;
  }
  /* Each field held to its bound, so the line fits but for a long message,
   * which is cut (the line stays one line). */
  char line[2048 + 1024];
  lisec_fbuf b = {line, 0, sizeof line - 1, false}; /* room kept for the newline */
  lisec_fbuf_str(&b, ts, sizeof ts);
  LISEC_FBUF_LIT(&b, " ");
  const char *level = level_names[lvl];
  lisec_fbuf_str(&b, level, 8);
  for (size_t i = strlen(level); i < 5; i++) LISEC_FBUF_LIT(&b, " ");
  LISEC_FBUF_LIT(&b, " ");
  if (log_process) {
    LISEC_FBUF_LIT(&b, "[");
    lisec_fbuf_str(&b, log_process, 64);
    LISEC_FBUF_LIT(&b, "] ");
  }
  size_t before_msg = b.n;
  lisec_fbuf_str(&b, msg, 2048);
  if (b.over) { /* the message alone is too long: as much of it as fits */
    b.over = false;
    b.n = before_msg;
    lisec_fbuf_put(&b, msg, b.cap - b.n);
  }
  /* A message quotes what peers sent (a certificate's CN, an NE's words):
   * a control character in it becomes '?', so it can never end the line
   * and forge the next one (the JSON form escapes them itself). */
  for (size_t i = before_msg; i < b.n; i++)
    if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) line[i] = '?';
  if (a) {
    uint64_t us = (a->duration_ns + 500) / 1000; /* duration_ms with 3 decimals, rounded */
    LISEC_FBUF_LIT(&b, " request_id=");
    lisec_fbuf_str(&b, rid && rid[0] ? rid : "-", 64);
    LISEC_FBUF_LIT(&b, " role=");
    lisec_fbuf_str(&b, role && role[0] ? role : "-", 79);
    LISEC_FBUF_LIT(&b, " method=");
    lisec_fbuf_str(&b, a->method ? a->method : "-", 15);
    LISEC_FBUF_LIT(&b, " route=");
    lisec_fbuf_str(&b, route && route[0] ? route : "-", 127);
    LISEC_FBUF_LIT(&b, " status=");
    lisec_fbuf_uint(&b, a->status > 0 ? (uint64_t)a->status : 0, 1);
    LISEC_FBUF_LIT(&b, " duration_ms=");
    lisec_fbuf_uint(&b, us / 1000, 1);
    LISEC_FBUF_LIT(&b, ".");
    lisec_fbuf_uint(&b, us % 1000, 3);
  } else if (rid && rid[0]) {
    LISEC_FBUF_LIT(&b, " request_id=");
    lisec_fbuf_str(&b, rid, 64);
    LISEC_FBUF_LIT(&b, " role=");
    lisec_fbuf_str(&b, role[0] ? role : "-", 79);
    LISEC_FBUF_LIT(&b, " route=");
    lisec_fbuf_str(&b, route[0] ? route : "-", 127);
  }
  line[b.n] = '\n';
  put_line(line, b.n + 1);
}

void lisec_log(lisec_log_level lvl, const char *fmt, ...) {
  if (lvl < log_min) return;
  char msg[2048];
  int saved = errno;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  emit(lvl, msg, NULL);
  errno = saved;
}

void lisec_log_access(const lisec_log_access_rec *a) {
  lisec_log_level lvl = a->status >= 500 ? LISEC_LOG_WARN : LISEC_LOG_INFO;
  if (!log_access || lvl < log_min) return;
  emit(lvl, "access", a);
}

/* The limiters' counters are shared by threads; one lock for all of them is
 * enough, as only events that are about to be logged (or dropped) take it. */
static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;

void lisec_log_limited(lisec_log_limit *lim, unsigned max, unsigned interval_ms, lisec_log_level lvl,
                       const char *fmt, ...) {
  if (lvl < log_min) return;
  uint64_t now = lisec_time_mono_ns(), held_back = 0;
  bool emit_it;
  pthread_mutex_lock(&limit_lock);
  if (lim->window_start_ns == 0 || now - lim->window_start_ns >= (uint64_t)interval_ms * 1000000u) {
    held_back = lim->suppressed;
    lim->window_start_ns = now;
    lim->logged = 0;
    lim->suppressed = 0;
  }
  emit_it = lim->logged < max;
  if (emit_it) lim->logged++;
  else lim->suppressed++;
  pthread_mutex_unlock(&limit_lock);
  if (held_back)
    lisec_log(lvl, "(suppressed %llu more lines like the next: at most %u per %u ms)",
              (unsigned long long)held_back, max, interval_ms);
  if (!emit_it) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  lisec_log(lvl, "%s", msg);
}
