/* The TLS setup every lisec HTTPS client shares (base/curl.c): against real
 * OpenSSL servers on 127.0.0.1 (openssl s_server, started here), a client
 * set up by lisec_curl_tls_setup refuses a server that speaks only TLS 1.1,
 * talks to a TLS 1.2 one whose certificate its CA vouches for, refuses one
 * signed by another CA, and the OpenSSL context it hands to the handshake
 * has TLS 1.2 as its minimum. Bad arguments are refused. A server that
 * refuses the client's certificate is told apart by its TLS alert. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "base/curl.h"

static char dir[64], ca[128], key[128], other_ca[128];

static int run(const char *cmd) { return system(cmd) == 0 ? 0 : -1; }

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/lisec-test-curl-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(ca, sizeof ca, "%s/cert.pem", dir);
  snprintf(key, sizeof key, "%s/key.pem", dir);
  snprintf(other_ca, sizeof other_ca, "%s/other.pem", dir);
  char cmd[1024];
  /* a self-signed server certificate for 127.0.0.1 is its own CA */
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 "
           "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s 2>/dev/null && "
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 "
           "-addext subjectAltName=IP:127.0.0.1 -keyout %s/other.key -out %s 2>/dev/null",
           key, ca, dir, other_ca);
  return run(cmd);
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return run(cmd);
}

/* A port on 127.0.0.1 that was free a moment ago, chosen at random below
 * the kernel's ephemeral range as scripts/test/free-ports chooses: a port
 * from inside it (bind to port 0) may go to any outgoing connection before
 * s_server binds it. */
static int free_port(void) {
  int low = 32768;
  FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  if (f) {
    if (fscanf(f, "%d", &low) != 1) low = 32768;
    fclose(f);
  }
  static bool seeded;
  if (!seeded) srandom((unsigned)getpid() ^ (unsigned)time(NULL)), seeded = true;
  for (int i = 0; i < 1000; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (low > 12000) a.sin_port = htons((uint16_t)(10000 + random() % (low - 10000)));
    socklen_t len = sizeof a;
    int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&a, &len) == 0;
    close(s);
    if (ok) return ntohs(a.sin_port);
  }
  fail_msg("no free loopback port");
  return -1;
}

/* openssl s_server on 127.0.0.1:port with the protocol flag given (e.g.
 * "-tls1_1"), answering HTTP (-www); with client_ca, it requires a client
 * certificate from that CA. Returns its pid once it accepts. */
static pid_t start_server(int port, const char *proto, const char *client_ca) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    /* SECLEVEL=0: OpenSSL 3 would not even offer TLS 1.1 otherwise */
    if (client_ca)
      execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", ca, "-key", key, proto, "-www",
             "-quiet", "-Verify", "1", "-verify_return_error", "-CAfile", client_ca, (char *)NULL);
    else
      execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", ca, "-key", key, proto, "-cipher",
             "ALL:@SECLEVEL=0", "-www", "-quiet", (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  /* wait, bounded, until the server accepts connections */
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    if (ok) break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec > 10) fail_msg("openssl s_server %s did not start", proto);
    struct timespec nap = {0, 20 * 1000 * 1000};
    nanosleep(&nap, NULL);
  }
  close(p[0]);
  return pid;
}

static void stop_server(pid_t pid) {
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p, (void)ud;
  return size * n;
}

static CURLcode get(int port, const char *ca_file, long *status) {
  CURL *c = curl_easy_init();
  assert_non_null(c);
  lisec_err err = {0};
  if (lisec_curl_tls_setup(c, ca_file, NULL, NULL, &err)) fail_msg("%s", err.msg);
  char url[64];
  snprintf(url, sizeof url, "https://127.0.0.1:%d/", port);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  CURLcode cc = curl_easy_perform(c);
  *status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup(c);
  return cc;
}

static void test_tls11_server_refused(void **state) {
  (void)state;
  int port = free_port();
  pid_t pid = start_server(port, "-tls1_1", NULL);
  long status = 0;
  CURLcode cc = get(port, ca, &status);
  stop_server(pid);
  assert_int_not_equal(cc, CURLE_OK);
  assert_int_equal(status, 0); /* no HTTP exchange took place */
}

static void test_tls12_server_answers_other_ca_refused(void **state) {
  (void)state;
  int port = free_port();
  pid_t pid = start_server(port, "-tls1_2", NULL);
  long status = 0;
  CURLcode ok = get(port, ca, &status);
  long other_status = 0;
  CURLcode bad = get(port, other_ca, &other_status);
  stop_server(pid);
  assert_int_equal(ok, CURLE_OK);
  assert_int_equal(status, 200);
  assert_int_equal(bad, CURLE_PEER_FAILED_VERIFICATION);
}

static int min_seen;

static CURLcode look_at_ctx(CURL *c, void *ctx, void *ud) {
  (void)c, (void)ud;
  min_seen = (int)SSL_CTX_get_min_proto_version((SSL_CTX *)ctx);
  return CURLE_ABORTED_BY_CALLBACK; /* seen what was needed; no handshake */
}

static void test_context_minimum_is_tls12(void **state) {
  (void)state;
  /* a listener that never answers: the context is built before the handshake */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s, 4), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
  CURL *c = curl_easy_init();
  lisec_err err = {0};
  assert_int_equal(lisec_curl_tls_setup(c, ca, NULL, NULL, &err), 0);
  char url[64];
  snprintf(url, sizeof url, "https://127.0.0.1:%d/", ntohs(a.sin_port));
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
  curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, look_at_ctx);
  min_seen = -1;
  assert_int_not_equal(curl_easy_perform(c), CURLE_OK);
  assert_true(min_seen >= TLS1_2_VERSION);
  /* only https: a plain http URL is not fetched */
  curl_easy_setopt(c, CURLOPT_URL, "http://127.0.0.1:1/");
  assert_int_equal(curl_easy_perform(c), CURLE_UNSUPPORTED_PROTOCOL);
  curl_easy_cleanup(c);
  close(s);
}

/* A server that requires a client certificate from another CA: the
 * transfer fails with a text naming the server's alert, which
 * lisec_curl_cert_alert finds; texts without such an alert give NULL. */
static void test_refused_client_certificate_named(void **state) {
  (void)state;
  int port = free_port();
  pid_t pid = start_server(port, "-tls1_3", other_ca);
  CURL *c = curl_easy_init();
  lisec_err err = {0};
  if (lisec_curl_tls_setup(c, ca, ca, key, &err)) fail_msg("%s", err.msg);
  char url[64], text[CURL_ERROR_SIZE] = "";
  snprintf(url, sizeof url, "https://127.0.0.1:%d/", port);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, text);
  CURLcode cc = curl_easy_perform(c);
  curl_easy_cleanup(c);
  stop_server(pid);
  assert_int_not_equal(cc, CURLE_OK);
  const char *alert = lisec_curl_cert_alert(text);
  if (!alert) fail_msg("no alert found in \"%s\"", text);
  assert_string_equal(alert, "alert unknown ca");
  assert_null(lisec_curl_cert_alert("Failed to connect to 127.0.0.1 port 1: Connection refused"));
  assert_null(lisec_curl_cert_alert(""));
  assert_null(lisec_curl_cert_alert(NULL));
}

static void test_bad_arguments(void **state) {
  (void)state;
  CURL *c = curl_easy_init();
  lisec_err err = {0};
  assert_int_equal(lisec_curl_tls_setup(c, NULL, NULL, NULL, &err), LISEC_EINVAL);
  assert_int_equal(lisec_curl_tls_setup(c, "", NULL, NULL, &err), LISEC_EINVAL);
  assert_int_equal(lisec_curl_tls_setup(c, ca, ca, NULL, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "key"));
  assert_int_equal(lisec_curl_tls_setup(NULL, ca, NULL, NULL, &err), LISEC_EINVAL);
  assert_int_equal(lisec_curl_tls_setup(c, ca, ca, key, &err), 0);
  curl_easy_cleanup(c);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tls11_server_refused),
      cmocka_unit_test(test_tls12_server_answers_other_ca_refused),
      cmocka_unit_test(test_context_minimum_is_tls12),
      cmocka_unit_test(test_refused_client_certificate_named),
      cmocka_unit_test(test_bad_arguments),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  curl_global_cleanup();
  return rc;
}
