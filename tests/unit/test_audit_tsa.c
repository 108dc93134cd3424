/* Unit tests of the checkpoints' TSA client (src/ctl/audit_tsa.c) against a
 * loopback server in a thread that misbehaves on purpose: silent (the
 * exchange ends at tsa_timeout_ms), an answer over tsa_max_bytes, garbage
 * with HTTP 200, HTTP 500, and nothing listening. Each is refused with a
 * reason naming TR103308-4.2 and no token. The settings are checked at open:
 * a URL that is not http(s), no tsa_ca, a CA file without a certificate,
 * https without tsa_tls_ca; a password in the URL is not in the shown URL.
 * The good path (a real TSA) is audit_tsa's. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "ctl/audit_tsa.h"

enum { SILENT, BIG, GARBAGE, H500 };

typedef struct server {
  int fd, mode, port;
  pthread_t t;
} server;

static void *serve(void *arg) {
  server *s = arg;
  int c = accept(s->fd, NULL, NULL);
  if (c < 0) return NULL;
  char buf[4096];
  ssize_t n = read(c, buf, sizeof buf); /* the request (small enough for one read here) */
  (void)n;
  if (s->mode == SILENT) {
    while (read(c, buf, sizeof buf) > 0) {
    } /* until the client gives up (its 300 ms) and closes */
  } else if (s->mode == BIG) {
    const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: 200000\r\n\r\n";
    if (send(c, h, strlen(h), MSG_NOSIGNAL) < 0) goto out;
    memset(buf, 0x30, sizeof buf);
    for (int i = 0; i < 49; i++)
      if (send(c, buf, sizeof buf, MSG_NOSIGNAL) < 0) break;
  } else if (s->mode == GARBAGE) {
    const char *r = "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: 12\r\n\r\nnot a reply!";
    if (send(c, r, strlen(r), MSG_NOSIGNAL) < 0) goto out;
  } else {
    const char *r = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
    if (send(c, r, strlen(r), MSG_NOSIGNAL) < 0) goto out;
  }
out:
  close(c);
  return NULL;
}

static void server_start(server *s, int mode) {
  s->mode = mode;
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
  s->port = ntohs(a.sin_port);
  assert_int_equal(listen(s->fd, 4), 0);
  assert_int_equal(pthread_create(&s->t, NULL, serve, s), 0);
}

static void server_stop(server *s) {
  shutdown(s->fd, SHUT_RDWR);
  pthread_join(s->t, NULL);
  close(s->fd);
}

static char dir[64], ca[128], junk[128];

static int setup(void **state) {
  (void)state;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  strcpy(dir, "/tmp/lisec-test-audit-tsa-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "bash -c '. %s/tests/integration/lib/tsa.sh && make_tsa %s'", LISEC_SOURCE_DIR, dir);
  if (system(cmd) != 0) return -1;
  snprintf(ca, sizeof ca, "%s/ca.pem", dir);
  snprintf(junk, sizeof junk, "%s/tsa.cnf", dir); /* a file that is not PEM */
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  curl_global_cleanup();
  return system(cmd);
}

static void stamp_refused(int mode, const char *want) {
  server s;
  server_start(&s, mode);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/tsa", s.port);
  ctl_tsa_config c = {.url = url, .ca_file = ca, .timeout_ms = 300, .max_bytes = 65536};
  ctl_tsa *t = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_tsa_open(&c, &t, &err), 0);
  uint8_t *tok = NULL;
  size_t tok_len = 0;
  crypto_tsa_info info;
  int rc = ctl_tsa_stamp(t, "note\n", 5, &tok, &tok_len, &info, &err);
  assert_int_not_equal(rc, 0);
  assert_null(tok);
  assert_non_null(strstr(err.msg, "TR103308-4.2"));
  if (!strstr(err.msg, want)) fail_msg("mode %d: \"%s\" does not say \"%s\"", mode, err.msg, want);
  ctl_tsa_close(t);
  server_stop(&s);
}

static void test_silent_tsa_times_out(void **state) {
  (void)state;
  stamp_refused(SILENT, "no answer in time");
}

static void test_oversized_answer(void **state) {
  (void)state;
  stamp_refused(BIG, "tsa_max_bytes");
}

static void test_garbage_answer(void **state) {
  (void)state;
  stamp_refused(GARBAGE, "not a DER TimeStampResp");
}

static void test_http_error(void **state) {
  (void)state;
  stamp_refused(H500, "HTTP 500");
}

static void test_nobody_listening(void **state) {
  (void)state;
  server s;
  server_start(&s, H500);
  int port = s.port;
  server_stop(&s); /* the port is closed again */
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/tsa", port);
  ctl_tsa_config c = {.url = url, .ca_file = ca, .timeout_ms = 1000};
  ctl_tsa *t = NULL;
  lisec_err err = {0};
  assert_int_equal(ctl_tsa_open(&c, &t, &err), 0);
  uint8_t *tok = NULL;
  size_t tok_len = 0;
  crypto_tsa_info info;
  assert_int_equal(ctl_tsa_stamp(t, "note\n", 5, &tok, &tok_len, &info, &err), LISEC_EUNAVAIL);
  assert_non_null(strstr(err.msg, "did not answer"));
  ctl_tsa_close(t);
}

static void test_settings(void **state) {
  (void)state;
  ctl_tsa *t = NULL;
  lisec_err err = {0};
  ctl_tsa_config c = {.url = "ftp://tsa.example/", .ca_file = ca};
  assert_int_equal(ctl_tsa_open(&c, &t, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "tsa_url"));
  c = (ctl_tsa_config){.url = "http://tsa.example/"};
  assert_int_equal(ctl_tsa_open(&c, &t, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "tsa_ca"));
  c = (ctl_tsa_config){.url = "http://tsa.example/", .ca_file = junk};
  assert_int_equal(ctl_tsa_open(&c, &t, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "tsa_ca"));
  c = (ctl_tsa_config){.url = "http://tsa.example/", .ca_file = "/nonexistent/ca.pem"};
  assert_int_not_equal(ctl_tsa_open(&c, &t, &err), 0);
  c = (ctl_tsa_config){.url = "https://tsa.example/", .ca_file = ca};
  assert_int_equal(ctl_tsa_open(&c, &t, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "tsa_tls_ca"));
  c = (ctl_tsa_config){.url = "http://user:s3cret@tsa.example:8080/tsa", .ca_file = ca, .required = true};
  assert_int_equal(ctl_tsa_open(&c, &t, &err), 0);
  assert_string_equal(ctl_tsa_url(t), "http://tsa.example:8080/tsa");
  assert_true(ctl_tsa_required(t));
  ctl_tsa_close(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_silent_tsa_times_out), cmocka_unit_test(test_oversized_answer),
      cmocka_unit_test(test_garbage_answer),       cmocka_unit_test(test_http_error),
      cmocka_unit_test(test_nobody_listening),     cmocka_unit_test(test_settings),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
