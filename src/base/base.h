/* base/ is the leaf every other part of lisec stands on: error codes with a
 * human-readable reason, logging for programs, the INI configuration, bounded
 * JSON parsing and field access, growable bounded buffers, hex and time. It has
 * no knowledge of LI; it only makes the rest short and uniform. */
#ifndef LISEC_BASE_H
#define LISEC_BASE_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ------------------------------------------------------------ */

/* Every fallible function returns 0 or one of these (negative). */
enum {
  LISEC_OK = 0,
  LISEC_EINVAL = -1,    /* malformed or out-of-range input */
  LISEC_ENOTFOUND = -2, /* the named thing does not exist */
  LISEC_EDENIED = -3,   /* refused by policy; the reason names the requirement */
  LISEC_EAUTH = -4,     /* caller not authenticated or not in an admitted role */
  LISEC_ETOOBIG = -5,   /* input larger than its bound */
  LISEC_ECONFLICT = -6, /* exists already, or a version/replay conflict */
  LISEC_ESTORE = -7,    /* the store failed; nothing was changed */
  LISEC_ECRYPTO = -8,   /* a cryptographic operation failed or did not verify */
  LISEC_EIO = -9,       /* file, socket or device error */
  LISEC_ENOMEM = -10,
  LISEC_EUNAVAIL = -11, /* a needed component is not reachable */
  LISEC_EINTERNAL = -12,
};

#define LISEC_ERR_MSG_MAX 512

/* The reason a call failed, filled in by the callee for the caller to show. */
typedef struct lisec_err {
  int code;
  char msg[LISEC_ERR_MSG_MAX];
} lisec_err;

/* Records code and a formatted reason in err (which may be NULL) and returns
 * code, so a failure path reads `return lisec_err_set(err, LISEC_EINVAL, ...)`. */
int lisec_err_set(lisec_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes the existing reason with context ("loading config: ..."). */
int lisec_err_wrap(lisec_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void lisec_err_clear(lisec_err *err);
/* Stable lower-case name of a code: "invalid", "not_found", "denied", ... */
const char *lisec_err_name(int code);

/* ---- logging (programs only; libraries return reasons instead) ---------- */

typedef enum { LISEC_LOG_DEBUG, LISEC_LOG_INFO, LISEC_LOG_WARN, LISEC_LOG_ERROR } lisec_log_level;

/* Logs go to stderr, as text or as one JSON object per line (fields ts,
 * level, component, msg, and request_id, role, route within a request). */
void lisec_log_setup(lisec_log_level min, bool json);
/* Names the process in every later line ("front", "controller", "keys"):
 * lisecd's processes share one stderr. name must outlive the process. */
void lisec_log_set_process(const char *name);
int lisec_log_level_parse(const char *s, lisec_log_level *out);
void lisec_log(lisec_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define LOG_DEBUG(...) lisec_log(LISEC_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) lisec_log(LISEC_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) lisec_log(LISEC_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) lisec_log(LISEC_LOG_ERROR, __VA_ARGS__)

/* The request a thread works on: every line it logs while set carries these
 * fields (request_id, role, route pattern), so one request's lines can be
 * found across lisecd's processes. Strings are copied (bounded); NULL or ""
 * leaves a field out. lisec_log_context_clear ends it. */
#define LISEC_REQUEST_ID_MAX 65 /* 64 characters + NUL */
void lisec_log_context_set(const char *request_id, const char *role, const char *route);
void lisec_log_context_clear(void);
/* [log] access: whether lisec_log_access writes (default true). */
void lisec_log_set_access(bool on);
bool lisec_log_access_enabled(void);
/* One access line per answered request (docs/operations.md, "Logs"): the
 * route is the route's PATTERN, never the concrete path (paths can hold
 * identifiers of LIs); 5xx statuses are logged at warn, the rest at info. */
typedef struct lisec_log_access_rec {
  const char *request_id, *role, *method, *route;
  int status;
  uint64_t duration_ns;
} lisec_log_access_rec;
void lisec_log_access(const lisec_log_access_rec *a);
/* Between hold and release (nested), this thread's lines are kept and
 * written together at the release (or when 8 KiB are kept): one write and
 * one lock for a front worker's pass over its ready connections. */
void lisec_log_hold(void);
void lisec_log_release(void);
/* An X-Request-Id a client may choose: 1-64 of A-Z a-z 0-9 - _ . : (what is
 * safe in a header, a log line and a wire message). */
bool lisec_request_id_valid(const char *s, size_t len);
/* A fresh id: 32 lower-case hex digits from the kernel's random source. */
void lisec_request_id_new(char out[LISEC_REQUEST_ID_MAX]);

/* A repeated event (an accept() that fails for want of descriptors) must not
 * flood the log: one limiter per call site lets at most `max` lines through
 * per `interval_ms`, then says once how many it held back. */
typedef struct lisec_log_limit {
  uint64_t window_start_ns;
  unsigned logged, suppressed;
} lisec_log_limit;
void lisec_log_limited(lisec_log_limit *lim, unsigned max, unsigned interval_ms, lisec_log_level lvl,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* LOG_LIMITED(LISEC_LOG_WARN, 5, 10000, "...", ...): a limiter of its own per call site. */
#define LOG_LIMITED(lvl, max, interval_ms, ...)                        \
  do {                                                                 \
    static lisec_log_limit lisec_lim_;                                 \
    lisec_log_limited(&lisec_lim_, (max), (interval_ms), (lvl), __VA_ARGS__); \
  } while (0)

/* ---- configuration (INI, via inih) -------------------------------------- */

typedef struct lisec_config lisec_config;

/* Parses an INI file. `known` lists the accepted "section.key" names (NULL
 * terminated); any other key is an error, so a typo never silently falls back
 * to a default. */
int lisec_config_load(const char *path, const char *const *known, lisec_config **out,
                      lisec_err *err);
/* An empty configuration (every getter returns its default). */
lisec_config *lisec_config_new(void);
void lisec_config_free(lisec_config *cfg);
/* Sets or replaces a value (used for command-line overrides and tests). */
int lisec_config_set(lisec_config *cfg, const char *section, const char *key, const char *value);
/* Removes a setting, its value wiped (a credential this process must not
 * keep); nothing when it is not set. */
void lisec_config_forget(lisec_config *cfg, const char *section, const char *key);
const char *lisec_config_str(const lisec_config *cfg, const char *section, const char *key,
                             const char *def);
/* Integer and boolean getters fail (EINVAL) on a value that does not parse. */
int lisec_config_int(const lisec_config *cfg, const char *section, const char *key, int64_t def,
                     int64_t min, int64_t max, int64_t *out, lisec_err *err);
int lisec_config_bool(const lisec_config *cfg, const char *section, const char *key, bool def,
                      bool *out, lisec_err *err);

/* ---- JSON (jansson) ----------------------------------------------------- */

#define LISEC_JSON_MAX_DEPTH 32

/* Parses exactly one JSON value from len bytes, refusing more than
 * LISEC_JSON_MAX_DEPTH nesting. The reason names line, column and byte. */
int lisec_json_parse(const char *buf, size_t len, json_t **out, lisec_err *err);
/* Field access that names the missing or mistyped field in the reason.
 * Strings are bounded by max_len bytes; *out borrows from obj. */
int lisec_json_get_str(const json_t *obj, const char *key, bool required, size_t max_len,
                       const char **out, lisec_err *err);
int lisec_json_get_int(const json_t *obj, const char *key, bool required, int64_t min,
                       int64_t max, int64_t *out, lisec_err *err);
int lisec_json_get_bool(const json_t *obj, const char *key, bool required, bool *out,
                        lisec_err *err);
/* EINVAL unless obj is an object whose every key is in keys (NULL-ended):
 * a request's unknown field is refused by name, not ignored. */
int lisec_json_only_keys(const json_t *obj, const char *const *keys, lisec_err *err);
/* Compact, key-sorted serialisation (stable bytes for hashing and storage).
 * The caller frees the result with free(). */
char *lisec_json_dump_canonical(const json_t *v);

/* ---- identifiers --------------------------------------------------------- */

/* Every id lisec is given (model entities, LEAs, LIs, targets, packages, X1
 * NEs, LI VMs) follows one rule, so whatever can be created can be named in
 * a URL, read and removed. docs/api.md, "Identifiers", is its description. */
#define LISEC_ID_MAX 128
#define LISEC_ID_RULE \
  "1 to 128 ASCII letters, digits, '.', '_', ':' and '-', starting with a letter or digit"
/* 0, or EINVAL naming field and the first offending byte (never the id
 * itself). len is the id's length as received, so an embedded NUL, or an
 * id longer than the rule, is refused rather than cut short. */
int lisec_id_check(const char *field, const char *id, size_t len, lisec_err *err);
/* The same rule for a NUL-terminated id. */
bool lisec_id_valid(const char *id);
/* Whether byte c may stand at position at of an id (the rule, one byte at a
 * time, for callers that hash while they check). */
bool lisec_id_char(unsigned char c, size_t at);

/* ---- buffers ------------------------------------------------------------ */

/* A growable byte buffer that refuses to grow past max. */
typedef struct lisec_buf {
  uint8_t *data;
  size_t len, cap, max;
} lisec_buf;

void lisec_buf_init(lisec_buf *b, size_t max);
/* Room for extra more bytes (and a terminator) without passing max:
 * LISEC_ETOOBIG past it; the old copy is wiped when the buffer moves. */
int lisec_buf_reserve(lisec_buf *b, size_t extra);
int lisec_buf_append(lisec_buf *b, const void *p, size_t n);
int lisec_buf_printf(lisec_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Wipes the contents before freeing: buffers may have held secrets. */
void lisec_buf_free(lisec_buf *b);

/* Text appended into a fixed buffer p[cap] (base/fbuf.c): n bytes so far;
 * an append that does not fit sets over and writes nothing more. */
typedef struct lisec_fbuf {
  char *p;
  size_t n, cap;
  bool over;
} lisec_fbuf;
void lisec_fbuf_put(lisec_fbuf *b, const char *s, size_t len);
/* s up to max bytes (or its NUL). */
void lisec_fbuf_str(lisec_fbuf *b, const char *s, size_t max);
/* v in decimal, zero-padded to min_digits. */
void lisec_fbuf_uint(lisec_fbuf *b, uint64_t v, int min_digits);
#define LISEC_FBUF_LIT(b, lit) lisec_fbuf_put(b, lit, sizeof lit - 1)

/* ---- files -------------------------------------------------------------- */

/* Reads a whole file of at most max bytes (NUL-terminated for convenience). */
int lisec_file_read(const char *path, size_t max, uint8_t **out, size_t *len, lisec_err *err);
/* Writes atomically (temporary file, fsync, rename) with the given mode. */
int lisec_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                            lisec_err *err);

/* ---- hex, decimal and time ---------------------------------------------- */

/* The integer in s[0..len): an optional sign, then one or more decimal
 * digits (leading zeros too), nothing else; false when it is not of that
 * form or lies outside [min, max]. Never wraps: a number too long for
 * int64_t is outside. */
bool lisec_decimal(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);
/* out must hold 2*n+1 bytes. */
void lisec_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly out_len bytes from a string of 2*out_len hex digits. */
int lisec_hex_decode(const char *in, uint8_t *out, size_t out_len);

int64_t lisec_time_now(void);    /* seconds since the epoch (UTC) */
int64_t lisec_time_now_ms(void); /* milliseconds since the epoch */
uint64_t lisec_time_mono_ns(void);
/* The same in milliseconds. */
int64_t lisec_time_mono_ms(void);
/* RFC 3339 UTC timestamp ("2026-11-24T06:23:25Z"); out holds 21+ bytes. */
void lisec_time_format(int64_t epoch_s, char out[32]);
int lisec_time_parse(const char *s, int64_t *epoch_s);

/* ---- a thread's scheduling slice (slice.c) -------------------------------- */

/* The kernel's bounds for a slice an ordinary thread asks for. */
#define LISEC_SLICE_MIN_US 100u
#define LISEC_SLICE_MAX_US 100000u
/* Asks for the calling thread's slice: 0, the kernel's default, or
 * LISEC_SLICE_MIN_US-LISEC_SLICE_MAX_US. Keeps its policy and nice value. */
int lisec_thread_slice(unsigned slice_us, lisec_err *err);

#define LISEC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
