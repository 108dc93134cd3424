/* Unit tests of base/: error reasons, INI config with unknown-key refusal,
 * bounded JSON parsing and field errors, bounded buffers, hex, time, files. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"

static char tmpdir[64];

static int setup_tmp(void **state) {
  (void)state;
  strcpy(tmpdir, "/tmp/lisec-test-base-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  return system(cmd);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_err_set_and_wrap(void **state) {
  (void)state;
  lisec_err err = {0};
  assert_int_equal(lisec_err_set(&err, LISEC_EDENIED, "R%d failed", 4), LISEC_EDENIED);
  lisec_err_wrap(&err, "move vm-%d", 1);
  assert_string_equal(err.msg, "move vm-1: R4 failed");
  assert_string_equal(lisec_err_name(LISEC_EDENIED), "denied");
  assert_int_equal(lisec_err_set(NULL, LISEC_EINVAL, "x"), LISEC_EINVAL);
}

static void test_config_known_keys(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "%s/a.conf", tmpdir);
  write_file(path, "[server]\nlisten = 127.0.0.1:8443\nworkers = 4\n[log]\njson = yes\n");
  const char *known[] = {"server.listen", "server.workers", "log.json", NULL};
  lisec_config *cfg = NULL;
  lisec_err err = {0};
  assert_int_equal(lisec_config_load(path, known, &cfg, &err), 0);
  assert_string_equal(lisec_config_str(cfg, "server", "listen", NULL), "127.0.0.1:8443");
  assert_string_equal(lisec_config_str(cfg, "server", "missing", "dflt"), "dflt");
  int64_t w = 0;
  assert_int_equal(lisec_config_int(cfg, "server", "workers", 1, 1, 64, &w, &err), 0);
  assert_int_equal(w, 4);
  assert_int_equal(lisec_config_int(cfg, "server", "workers", 1, 8, 64, &w, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "workers"));
  bool j = false;
  assert_int_equal(lisec_config_bool(cfg, "log", "json", false, &j, &err), 0);
  assert_true(j);
  /* a forgotten setting is gone, the others stay */
  lisec_config_forget(cfg, "server", "listen");
  lisec_config_forget(cfg, "server", "never-set");
  assert_string_equal(lisec_config_str(cfg, "server", "listen", "gone"), "gone");
  assert_int_equal(lisec_config_int(cfg, "server", "workers", 1, 1, 64, &w, &err), 0);
  assert_int_equal(w, 4);
  assert_int_equal(lisec_config_bool(cfg, "log", "json", false, &j, &err), 0);
  assert_true(j);
  lisec_config_free(cfg);

  write_file(path, "[server]\nlisten = x\nlistne = y\n");
  assert_int_equal(lisec_config_load(path, known, &cfg, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "unknown setting [server] listne"));

  write_file(path, "[server\nlisten = x\n");
  assert_int_equal(lisec_config_load(path, known, &cfg, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "on line 1"));

  snprintf(path, sizeof path, "%s/absent.conf", tmpdir);
  assert_int_equal(lisec_config_load(path, known, &cfg, &err), LISEC_EIO);
}

/* What inih would read other than as written is refused, naming the line:
 * an indented line after a setting (inih takes it for a continuation that
 * replaces the value above, its key never checked), a line longer than
 * inih's buffer (the rest would be read as a line of its own), a NUL byte
 * (the line would end there); and a file past the bound. What inih reads
 * as written still loads. Found by fuzz/base_config.c. */
static void test_config_misreadings_refused(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "%s/m.conf", tmpdir);
  const char *known[] = {"server.listen", "server.workers", "tls.cert", "tls.crl", NULL};
  lisec_config *cfg = NULL;
  lisec_err err = {0};
  write_file(path, "[server]\nlisten = a\n  listne = b\n");
  assert_int_equal(lisec_config_load(path, known, &cfg, &err), LISEC_EINVAL);
  assert_null(cfg);
  assert_non_null(strstr(err.msg, "line 3"));
  assert_non_null(strstr(err.msg, "indented"));
  write_file(path, "[server]\nlisten = a\n\t[tls]\n\tcert = x\n");
  assert_int_equal(lisec_config_load(path, known, &cfg, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "line 3"));

  char line[400];
  memset(line, 'p', sizeof line);
  line[0] = '/';
  char text[600];
  snprintf(text, sizeof text, "[tls]\ncrl = %.193s  cert = /elsewhere\n", line);
  write_file(path, text);
  assert_int_equal(lisec_config_load(path, known, &cfg, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "line 2"));
  assert_non_null(strstr(err.msg, "longer than"));

  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fwrite("[server]\nlisten = a\0b\n", 1, 22, f);
  fclose(f);
  assert_int_equal(lisec_config_load(path, known, &cfg, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "line 2"));
  assert_non_null(strstr(err.msg, "NUL"));

  f = fopen(path, "w");
  assert_non_null(f);
  for (int i = 0; i < 40000; i++) fputs("; a comment line thirty bytes\n", f);
  fclose(f);
  assert_int_not_equal(lisec_config_load(path, known, &cfg, &err), 0);
  assert_null(cfg);
  assert_non_null(strstr(err.msg, "larger than"));

  /* indentation inih reads as written: before a section's first setting,
   * on comments and blank lines; a BOM and CRLF line ends */
  write_file(path, "\xef\xbb\xbf[server]\r\n  listen = a\r\n  ; note\r\n \t \r\nworkers = 2\r\n[tls]\n  cert = c\n");
  assert_int_equal(lisec_config_load(path, known, &cfg, &err), 0);
  assert_string_equal(lisec_config_str(cfg, "server", "listen", NULL), "a");
  assert_string_equal(lisec_config_str(cfg, "server", "workers", NULL), "2");
  assert_string_equal(lisec_config_str(cfg, "tls", "cert", NULL), "c");
  lisec_config_free(cfg);
}

static void test_json_parse_errors(void **state) {
  (void)state;
  json_t *v = NULL;
  lisec_err err = {0};
  const char *good = "{\"a\": \"x\", \"n\": 7, \"b\": true}";
  assert_int_equal(lisec_json_parse(good, strlen(good), &v, &err), 0);
  const char *s = NULL;
  int64_t n = 0;
  bool b = false;
  assert_int_equal(lisec_json_get_str(v, "a", true, 8, &s, &err), 0);
  assert_string_equal(s, "x");
  assert_int_equal(lisec_json_get_int(v, "n", true, 0, 10, &n, &err), 0);
  assert_int_equal(n, 7);
  assert_int_equal(lisec_json_get_bool(v, "b", true, &b, &err), 0);
  assert_int_equal(lisec_json_get_str(v, "n", true, 8, &s, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "\"n\" must be a string"));
  assert_int_equal(lisec_json_get_str(v, "zz", true, 8, &s, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "\"zz\" is required"));
  assert_int_equal(lisec_json_get_int(v, "n", true, 8, 10, &n, &err), LISEC_EINVAL);
  json_decref(v);

  const char *bad = "{\"a\": 1,\n \"b\": }";
  assert_int_equal(lisec_json_parse(bad, strlen(bad), &v, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "line 2"));
  const char *dup = "{\"a\": 1, \"a\": 2}";
  assert_int_equal(lisec_json_parse(dup, strlen(dup), &v, &err), LISEC_EINVAL);
  const char *trailing = "{} {}";
  assert_int_equal(lisec_json_parse(trailing, strlen(trailing), &v, &err), LISEC_EINVAL);
  const char *truncated = "{\"a\": [1, 2";
  assert_int_equal(lisec_json_parse(truncated, strlen(truncated), &v, &err), LISEC_EINVAL);

  char deep[200];
  memset(deep, '[', 100);
  memset(deep + 100, ']', 100);
  assert_int_equal(lisec_json_parse(deep, sizeof deep, &v, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "nested deeper"));
  /* brackets inside strings do not count */
  const char *str = "[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]";
  assert_int_equal(lisec_json_parse(str, strlen(str), &v, &err), 0);
  json_decref(v);
}

static void test_json_only_keys(void **state) {
  (void)state;
  static const char *const keys[] = {"vm", "hypervisor", NULL};
  lisec_err err = {0};
  json_t *ok = json_pack("{s:s, s:s}", "vm", "a", "hypervisor", "b");
  json_t *extra = json_pack("{s:s, s:s}", "vm", "a", "hypervisr", "b");
  json_t *arr = json_array();
  assert_int_equal(lisec_json_only_keys(ok, keys, &err), 0);
  assert_int_equal(lisec_json_only_keys(extra, keys, &err), LISEC_EINVAL);
  assert_string_equal(err.msg, "hypervisr: unknown field");
  assert_int_equal(lisec_json_only_keys(arr, keys, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "must be a JSON object"));
  json_decref(ok);
  json_decref(extra);
  json_decref(arr);
}

static void test_json_canonical(void **state) {
  (void)state;
  json_t *v = json_pack("{s:i, s:s}", "z", 1, "a", "b");
  char *s = lisec_json_dump_canonical(v);
  assert_string_equal(s, "{\"a\":\"b\",\"z\":1}");
  free(s);
  json_decref(v);
}

/* Fixed-buffer appends: text, bounded strings, padded numbers; an append
 * that does not fit writes nothing and every later one is dropped too. */
static void test_fbuf(void **state) {
  (void)state;
  char out[16];
  lisec_fbuf b = {out, 0, sizeof out, false};
  LISEC_FBUF_LIT(&b, "a=");
  lisec_fbuf_uint(&b, 7, 3);
  LISEC_FBUF_LIT(&b, " ");
  lisec_fbuf_str(&b, "abcdef", 4);
  LISEC_FBUF_LIT(&b, " ");
  lisec_fbuf_uint(&b, 0, 1);
  assert_false(b.over);
  assert_int_equal(b.n, 12);
  assert_memory_equal(out, "a=007 abcd 0", 12);
  lisec_fbuf_uint(&b, 18446744073709551615u, 1); /* 20 digits: over */
  assert_true(b.over);
  assert_int_equal(b.n, 12);
  LISEC_FBUF_LIT(&b, "x"); /* fits, but the buffer is over already */
  assert_int_equal(b.n, 12);
  char wide[24];
  lisec_fbuf w = {wide, 0, sizeof wide, false};
  lisec_fbuf_uint(&w, 18446744073709551615u, 1);
  assert_false(w.over);
  assert_int_equal(w.n, 20);
  assert_memory_equal(wide, "18446744073709551615", 20);
}

static void test_buf_bounded(void **state) {
  (void)state;
  lisec_buf b;
  lisec_buf_init(&b, 10);
  assert_int_equal(lisec_buf_append(&b, "12345", 5), 0);
  assert_int_equal(lisec_buf_printf(&b, "%d", 678), 0);
  assert_string_equal((char *)b.data, "12345678");
  assert_int_equal(lisec_buf_append(&b, "abc", 3), LISEC_ETOOBIG);
  assert_int_equal(b.len, 8);
  lisec_buf_free(&b);
}

/* Bounded decimals: sign and digits only, leading zeros allowed, and a
 * number past int64_t or the caller's bounds refused, never wrapped. */
static void test_decimal(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int64_t min, max;
    bool ok;
    int64_t v;
  } cases[] = {
      {"0", 0, 10, true, 0},
      {"+0017", 0, 100, true, 17},
      {"-2147483648", INT32_MIN, INT32_MAX, true, INT32_MIN},
      {"9223372036854775807", INT64_MIN, INT64_MAX, true, INT64_MAX},
      {"-9223372036854775808", INT64_MIN, INT64_MAX, true, INT64_MIN},
      {"000000000000000000000000000000000000000042", 0, 100, true, 42},
      {"9223372036854775808", INT64_MIN, INT64_MAX, false, 0},
      {"99999999999999999999999", INT64_MIN, INT64_MAX, false, 0},
      {"4294967298", 0, UINT32_MAX, false, 0},
      {"11", 0, 10, false, 0},
      {"-1", 0, 10, false, 0},
      {"", 0, 10, false, 0},
      {"+", 0, 10, false, 0},
      {"1a", 0, 10, false, 0},
      {" 1", 0, 10, false, 0},
      {"1 ", 0, 10, false, 0},
      {"0x1", 0, 10, false, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t v = -12345;
    bool ok = lisec_decimal(cases[i].s, strlen(cases[i].s), cases[i].min, cases[i].max, &v);
    if (ok != cases[i].ok) fail_msg("\"%s\": %s", cases[i].s, ok ? "accepted" : "refused");
    assert_int_equal(v, ok ? cases[i].v : -12345); /* untouched when refused */
  }
  /* the length bounds what is read: "12" of "123" */
  int64_t v = 0;
  assert_true(lisec_decimal("123", 2, 0, 100, &v));
  assert_int_equal(v, 12);
  char big[100];
  memset(big, '1', sizeof big);
  assert_false(lisec_decimal(big, sizeof big, INT64_MIN, INT64_MAX, &v));
}

static void test_hex(void **state) {
  (void)state;
  uint8_t in[3] = {0x00, 0xab, 0xff}, out[3];
  char s[7];
  lisec_hex_encode(in, 3, s);
  assert_string_equal(s, "00abff");
  assert_int_equal(lisec_hex_decode("00ABff", out, 3), 0);
  assert_memory_equal(in, out, 3);
  assert_int_equal(lisec_hex_decode("00ab", out, 3), LISEC_EINVAL);
  assert_int_equal(lisec_hex_decode("00abzz", out, 3), LISEC_EINVAL);
}

static void test_time(void **state) {
  (void)state;
  char s[32];
  lisec_time_format(0, s);
  assert_string_equal(s, "1970-01-01T00:00:00Z");
  int64_t t = 0;
  assert_int_equal(lisec_time_parse("2016-02-29T12:00:01Z", &t), 0);
  assert_int_equal(t, 1456747201);
  assert_int_equal(lisec_time_parse("2016-02-29 12:00", &t), LISEC_EINVAL);
  assert_int_equal(lisec_time_parse("2000-02-29T00:00:00Z", &t), 0); /* a leap year by the 400 rule */
  assert_int_equal(lisec_time_parse("2026-12-31T23:59:59Z", &t), 0);
  assert_int_equal(lisec_time_parse("1970-01-01T00:00:00Z", &t), 0);
  assert_int_equal(t, 0);
  /* Strict: an impossible date or time is refused, never moved to another
   * (strptime with timegm took 2026-02-31 for 2026-03-03); every field its
   * two or four digits; nothing before or after. */
  t = 42;
  static const char *const bad[] = {"2026-02-31T00:00:00Z", "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
                                    "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
                                    "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
                                    "2026-01-01T00:00:60Z", "2026-1-01T00:00:00Z",  "2026-01-01T0:00:00Z",
                                    " 2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z ", "2026-01-01t00:00:00Z",
                                    "2026-01-01T00:00:00",  "+026-01-01T00:00:00Z", "2026-01-01T00:00:0xZ",
                                    "1969-12-31T23:59:59Z", "0452-02-06T09:00:00Z", ""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    if (lisec_time_parse(bad[i], &t) != LISEC_EINVAL) fail_msg("'%s' was taken", bad[i]);
    assert_int_equal(t, 42); /* untouched */
  }
}

static void test_file_roundtrip_and_limit(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "%s/f.bin", tmpdir);
  lisec_err err = {0};
  assert_int_equal(lisec_file_write_atomic(path, "hello", 5, 0600, &err), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  uint8_t *data = NULL;
  size_t len = 0;
  assert_int_equal(lisec_file_read(path, 5, &data, &len, &err), 0);
  assert_int_equal(len, 5);
  assert_memory_equal(data, "hello", 5);
  free(data);
  assert_int_equal(lisec_file_read(path, 4, &data, &len, &err), LISEC_ETOOBIG);
}

/* A file read may be a PIN or a key (keys_p11_read_pin, the development
 * KEK): once the caller has wiped and freed its copy, none may stay in the
 * stack below it. The scan reads the stack where lisec_file_read's frame
 * was, as the next call made there finds it; both run from the same depth,
 * so its 70,000 bytes cover the read's 64 KiB chunk. */
static const char stack_secret[] = "pin-4b1d-not-left-on-the-stack";

static void __attribute__((noinline)) read_and_wipe(const char *path, int *rc) {
  uint8_t *data = NULL;
  size_t len = 0;
  lisec_err err = {0};
  *rc = lisec_file_read(path, 4096, &data, &len, &err);
  if (*rc == 0) {
    explicit_bzero(data, len);
    free(data);
  }
}

static bool __attribute__((noinline)) stack_holds_secret(void) {
  unsigned char below[70000];
  __asm__ volatile("" : : "r"(below) : "memory"); /* its old contents, unwritten */
  return memmem(below, sizeof below, stack_secret, strlen(stack_secret)) != NULL;
}

static void test_file_read_leaves_no_stack_copy(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "%s/pin", tmpdir);
  lisec_err err = {0};
  assert_int_equal(lisec_file_write_atomic(path, stack_secret, strlen(stack_secret), 0600, &err), 0);
  int rc = -1;
  read_and_wipe(path, &rc);
  assert_int_equal(rc, 0);
  assert_false(stack_holds_secret());
  unlink(path);
}

/* lisec's one id rule (base/id.c): what it admits and what it refuses,
 * at its edges. */
static void test_id_rule(void **state) {
  (void)state;
  char max[LISEC_ID_MAX + 2];
  memset(max, 'a', LISEC_ID_MAX);
  max[LISEC_ID_MAX] = '\0';
  const char *admitted[] = {"a", "Z", "0", "hel-1", "vm_1.b:c-d", "a.", "a..", "a-", "9:", "a:b:c",
                            "li-fi-1",
                            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                            "6f1e2d3c-4b5a-4978-8877-665544332211", max};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(admitted); i++) {
    lisec_err err = {0};
    if (lisec_id_check("id", admitted[i], strlen(admitted[i]), &err) != 0)
      fail_msg("\"%s\" refused: %s", admitted[i], err.msg);
    assert_true(lisec_id_valid(admitted[i]));
  }
  memset(max, 'a', LISEC_ID_MAX + 1);
  max[LISEC_ID_MAX + 1] = '\0';
  const char *refused[] = {"", ".", "..", "-a", "_a", ":a", "a/b", "a?b", "a#b", "a%2Fb", "a b",
                           "a\"b", "a\\b", "a|b", "a+b", "a@b", "a~b", "a\tb", "a\nb", "\x7f",
                           "caf\xc3\xa9", "a\x01", "a;b", "a&b", "a=b", "a,b", "a'b", "a*b", max};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(refused); i++) {
    lisec_err err = {0};
    if (lisec_id_check("id", refused[i], strlen(refused[i]), &err) != LISEC_EINVAL)
      fail_msg("\"%s\" admitted", refused[i]);
    /* the refusal names the field and the rule, never the id */
    assert_non_null(strstr(err.msg, "id: "));
    assert_non_null(strstr(err.msg, LISEC_ID_RULE));
    assert_false(lisec_id_valid(refused[i]));
  }
  lisec_err err = {0};
  assert_int_equal(lisec_id_check("lea", NULL, 0, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "lea: required"));
  assert_false(lisec_id_valid(NULL));
  /* a length that says more than strlen: an embedded NUL is refused */
  assert_int_equal(lisec_id_check("id", "a\0b", 3, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "0x00"));
  /* the offending character is quoted, the id is not */
  assert_int_equal(lisec_id_check("target id", "secret/x", 8, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "'/' at byte 7"));
  assert_null(strstr(err.msg, "secret"));
}

/* JSON from outside with a NUL in a string is refused, never cut short
 * (jansson would hold "a\u0000b" as "a" for every C-string reader). */
static void test_json_nul_refused(void **state) {
  (void)state;
  const char *docs[] = {"{\"id\": \"a\\u0000b\"}", "{\"id\": \"\\u0000\"}", "[\"x\\u0000\"]",
                        "{\"a\\u0000b\": 1}", "\"\\u0000\""};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(docs); i++) {
    json_t *v = NULL;
    lisec_err err = {0};
    if (lisec_json_parse(docs[i], strlen(docs[i]), &v, &err) != LISEC_EINVAL)
      fail_msg("%s admitted", docs[i]);
    assert_null(v);
    assert_non_null(strstr(err.msg, "NUL"));
  }
  /* a raw NUL byte in the text is no JSON either */
  json_t *v = NULL;
  lisec_err err = {0};
  assert_int_equal(lisec_json_parse("{\"id\": \"a\0b\"}", 13, &v, &err), LISEC_EINVAL);
  assert_null(v);
  /* the escape spelled out (a backslash, then u0000) is ordinary text */
  const char *text = "{\"id\": \"a\\\\u0000b\"}";
  assert_int_equal(lisec_json_parse(text, strlen(text), &v, &err), 0);
  assert_string_equal(json_string_value(json_object_get(v, "id")), "a\\u0000b");
  json_decref(v);
}

/* The structured log (docs/operations.md, "Logs"): stderr redirected to a
 * file, each line read back as JSON. */
static json_t *next_json_line(FILE *f) {
  char line[4096];
  if (!fgets(line, sizeof line, f)) return NULL;
  json_error_t e;
  json_t *o = json_loads(line, 0, &e);
  if (!o) fail_msg("not JSON: %s", line);
  return o;
}

/* What the logger writes goes to path (a mkstemp template) until
 * stderr_end; the file's fd is returned, *saved is the old stderr. */
static int stderr_begin(char *path, int *saved) {
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  *saved = dup(2);
  assert_int_equal(dup2(fd, 2), 2);
  return fd;
}

static void stderr_end(int saved) {
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
}

static void test_log_json_fields(void **state) {
  (void)state;
  char path[] = "/tmp/lisec-test-log-XXXXXX";
  int saved, fd = stderr_begin(path, &saved);
  lisec_log_setup(LISEC_LOG_DEBUG, true);
  lisec_log_set_process("front");
  LOG_INFO("plain %d", 1);
  lisec_log_context_set("req-1", "li-admin", "/v1/targets/{id}");
  LOG_WARN("inside");
  lisec_log_context_clear();
  lisec_log_set_access(true);
  lisec_log_access(&(lisec_log_access_rec){"req-2", "operator", "GET", "/v1/status", 200, 1500000});
  lisec_log_access(&(lisec_log_access_rec){"req-3", "-", "POST", "(unmatched)", 503, 0});
  lisec_log_set_access(false);
  lisec_log_access(&(lisec_log_access_rec){"req-4", "operator", "GET", "/v1/status", 200, 0});
  /* a context field that could break a text line is made printable */
  lisec_log_context_set("a\nb", "r", NULL);
  LOG_ERROR("odd");
  lisec_log_context_clear();
  LOG_WARN("peer %s", "cn-\xff\xfe"); /* not UTF-8: logged, its bytes made ASCII */
  lisec_log_context_clear();
  stderr_end(saved);
  lisec_log_setup(LISEC_LOG_INFO, false);
  lisec_log_set_process(NULL);
  lisec_log_set_access(true);
  FILE *f = fdopen(fd, "r");
  rewind(f);
  json_t *o = next_json_line(f);
  assert_string_equal(json_string_value(json_object_get(o, "msg")), "plain 1");
  assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
  assert_string_equal(json_string_value(json_object_get(o, "component")), "front");
  const char *ts = json_string_value(json_object_get(o, "ts"));
  assert_non_null(ts);
  assert_int_equal(strlen(ts), 24); /* 2026-01-02T03:04:05.678Z */
  assert_int_equal(ts[23], 'Z');
  assert_null(json_object_get(o, "request_id"));
  json_decref(o);
  o = next_json_line(f);
  assert_string_equal(json_string_value(json_object_get(o, "request_id")), "req-1");
  assert_string_equal(json_string_value(json_object_get(o, "role")), "li-admin");
  assert_string_equal(json_string_value(json_object_get(o, "route")), "/v1/targets/{id}");
  assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
  json_decref(o);
  o = next_json_line(f);
  assert_string_equal(json_string_value(json_object_get(o, "msg")), "access");
  assert_string_equal(json_string_value(json_object_get(o, "request_id")), "req-2");
  assert_string_equal(json_string_value(json_object_get(o, "method")), "GET");
  assert_int_equal(json_integer_value(json_object_get(o, "status")), 200);
  assert_true(json_real_value(json_object_get(o, "duration_ms")) > 1.49 &&
              json_real_value(json_object_get(o, "duration_ms")) < 1.51);
  json_decref(o);
  o = next_json_line(f);
  assert_string_equal(json_string_value(json_object_get(o, "level")), "warn"); /* 5xx */
  json_decref(o);
  o = next_json_line(f); /* access off: req-4 is not there */
  assert_string_equal(json_string_value(json_object_get(o, "msg")), "odd");
  assert_string_equal(json_string_value(json_object_get(o, "request_id")), "a?b");
  json_decref(o);
  o = next_json_line(f);
  assert_string_equal(json_string_value(json_object_get(o, "msg")), "peer cn-??");
  json_decref(o);
  assert_null(next_json_line(f));
  fclose(f);
  unlink(path);
}

/* The text log: a message quoting a peer's bytes stays one line; its
 * control characters become '?' (a CN with a newline cannot forge a line). */
static void test_log_text_one_line(void **state) {
  (void)state;
  char path[] = "/tmp/lisec-test-log-XXXXXX";
  int saved, fd = stderr_begin(path, &saved);
  lisec_log_setup(LISEC_LOG_DEBUG, false);
  LOG_WARN("peer said %s", "a\n2026-01-01T00:00:00.000Z ERROR forged\r\x1b[31m\x7f");
  stderr_end(saved);
  lisec_log_setup(LISEC_LOG_INFO, false);
  FILE *f = fdopen(fd, "r");
  rewind(f);
  char line[4096];
  assert_non_null(fgets(line, sizeof line, f));
  assert_non_null(strstr(line, "peer said a?2026-01-01T00:00:00.000Z ERROR forged??[31m?\n"));
  assert_null(fgets(line, sizeof line, f)); /* one line, nothing forged after it */
  fclose(f);
  unlink(path);
}

static void test_request_id(void **state) {
  (void)state;
  assert_true(lisec_request_id_valid("a", 1));
  assert_true(lisec_request_id_valid("Req-1_2.3:4", 11));
  char max[65];
  memset(max, 'x', 64);
  max[64] = '\0';
  assert_true(lisec_request_id_valid(max, 64));
  assert_false(lisec_request_id_valid(max, 65)); /* over 64, whatever follows */
  assert_false(lisec_request_id_valid("", 0));
  assert_false(lisec_request_id_valid(NULL, 3));
  static const char *const bad[] = {"a b", "a\r\nX: y", "a/b", "a\"b", "\xc3\xa9", "a;b", "{}"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(bad); i++) assert_false(lisec_request_id_valid(bad[i], strlen(bad[i])));
  char a[LISEC_REQUEST_ID_MAX], b[LISEC_REQUEST_ID_MAX];
  lisec_request_id_new(a);
  lisec_request_id_new(b);
  assert_int_equal(strlen(a), 32);
  assert_true(lisec_request_id_valid(a, strlen(a)));
  assert_string_not_equal(a, b);
}

/* Ids are counted from a per-thread draw: a forked child must not repeat
 * its parent's next ids, nor another thread this thread's. */
static void *id_in_thread(void *arg) {
  lisec_request_id_new(arg);
  return NULL;
}

static void test_request_id_fork_and_threads(void **state) {
  (void)state;
  char parent[LISEC_REQUEST_ID_MAX], child[LISEC_REQUEST_ID_MAX] = {0}, other[LISEC_REQUEST_ID_MAX];
  lisec_request_id_new(parent); /* this thread has drawn */
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char id[LISEC_REQUEST_ID_MAX];
    lisec_request_id_new(id);
    _exit(write(fds[1], id, sizeof id) == (ssize_t)sizeof id ? 0 : 1);
  }
  close(fds[1]);
  assert_int_equal(read(fds[0], child, sizeof child), (ssize_t)sizeof child);
  close(fds[0]);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  lisec_request_id_new(parent); /* the parent's next id: the one a copied draw would repeat */
  assert_true(lisec_request_id_valid(child, strlen(child)));
  assert_string_not_equal(parent, child);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, id_in_thread, other), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_string_not_equal(parent, other);
  /* Within the thread, 1,000 ids in a row are all different. */
  char seen[1000][LISEC_REQUEST_ID_MAX];
  for (size_t i = 0; i < 1000; i++) {
    lisec_request_id_new(seen[i]);
    for (size_t j = 0; j < i; j++) assert_string_not_equal(seen[i], seen[j]);
  }
}

/* The kernel's own account of the calling thread's slice (ns), or -1 where
 * the kernel does not honour a thread's request (before Linux 6.12) or does
 * not show it. */
static long long own_slice_ns(void) {
  struct utsname u;
  int major = 0, minor = 0;
  if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2 || major < 6 ||
      (major == 6 && minor < 12))
    return -1;
  FILE *f = fopen("/proc/thread-self/sched", "r");
  char line[256];
  long long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "se.slice : %lld", &v) == 1) break;
  if (f) fclose(f);
  return v;
}

/* What a thread saw of its own slice (checked by the test's own thread:
 * cmocka's assertions belong there). */
typedef struct slice_seen {
  int rc_set, nice_after, rc_reset;
  long long before, set, reset;
} slice_seen;

static void *slice_in_thread(void *arg) {
  slice_seen *s = arg;
  lisec_err err = {0};
  s->before = own_slice_ns();
  /* a lowered thread keeps its nice value */
  if (setpriority(PRIO_PROCESS, 0, 3) != 0) return NULL;
  s->rc_set = lisec_thread_slice(250, &err);
  s->nice_after = getpriority(PRIO_PROCESS, 0);
  s->set = own_slice_ns();
  s->rc_reset = lisec_thread_slice(0, &err); /* 0: the kernel's again */
  s->reset = own_slice_ns();
  return NULL;
}

/* A thread asks for its own scheduling slice (base/slice.c): inside the
 * kernel's bounds only, keeping its nice value, and the kernel applies it
 * (seen from Linux 6.12 on). */
static void test_thread_slice(void **state) {
  (void)state;
  lisec_err err = {0};
  assert_int_equal(lisec_thread_slice(99, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "100-100000 us, not 99"));
  assert_int_equal(lisec_thread_slice(100001, &err), LISEC_EINVAL);
  slice_seen s = {.rc_set = -100, .nice_after = -100, .rc_reset = -100};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, slice_in_thread, &s), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(s.rc_set, 0);
  assert_int_equal(s.nice_after, 3);
  assert_int_equal(s.rc_reset, 0);
  if (s.before < 0) return;
  assert_int_equal(s.set, 250000);
  assert_true(s.reset > 0 && s.reset != 250000); /* the kernel's own (the thread may have inherited another) */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_id_fork_and_threads),
      cmocka_unit_test(test_err_set_and_wrap), cmocka_unit_test(test_config_known_keys),
      cmocka_unit_test(test_config_misreadings_refused),
      cmocka_unit_test(test_log_json_fields), cmocka_unit_test(test_log_text_one_line),  cmocka_unit_test(test_request_id),
      cmocka_unit_test(test_json_parse_errors), cmocka_unit_test(test_json_canonical),
      cmocka_unit_test(test_json_only_keys),
      cmocka_unit_test(test_id_rule),          cmocka_unit_test(test_json_nul_refused),
      cmocka_unit_test(test_buf_bounded),      cmocka_unit_test(test_fbuf),      cmocka_unit_test(test_hex),
      cmocka_unit_test(test_decimal),
      cmocka_unit_test(test_time),             cmocka_unit_test(test_file_roundtrip_and_limit),
      cmocka_unit_test(test_file_read_leaves_no_stack_copy),
      cmocka_unit_test(test_thread_slice),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
