/* The controller's clock topic (ctl/clock.c) end to end against a stand-in
 * chronyd: a thread on a Unix datagram socket that answers lisecd's
 * tracking and authdata requests with replies built here, whose state the
 * test changes. It checks what the real chronyd of time_chrony cannot be
 * made to do on demand: a clock proven over NTS becomes unproven when the
 * source loses NTS, when chronyd stops answering (named, and refused within
 * the poll and stale bounds), when it reports no synchronisation, and
 * again proven when it recovers; a reply to another sequence number is not
 * taken, nor replies another local process sends to the reply socket in
 * chronyd's name; and the TPM clocks of three hosts that all moved 30 s against the
 * controller make time unproven (a fleet finding in the status) until the
 * next round of appraisals agrees, while a clock that went back is a
 * finding about its host. Every wait is a bounded poll. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/clock.h"
#include "ctl/internal.h"
#include "ctl/metrics.h"
#include "ctl_fixture.h"

/* ---- the stand-in chronyd ------------------------------------------------ */

static struct {
  pthread_mutex_t mu;
  int fd;
  bool stop;
  bool silent;   /* answer nothing */
  bool wrong_seq;
  unsigned leap; /* 3: not synchronised */
  unsigned auth_mode;
  uint32_t offset_wire; /* chrony float */
  unsigned requests;    /* tracking requests seen */
  uint32_t last_seq;    /* the last one's sequence number */
} fake = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v & 0xffff);
}

/* A reply to command cmd with sequence seq (as the request carried it, in
 * network order) from a chronyd in the given state into rep; its length, 0
 * for a command the stand-in does not answer. */
static size_t build_reply(unsigned cmd, const uint8_t seq[4], unsigned leap, unsigned mode, uint32_t off,
                          uint8_t rep[128]) {
  memset(rep, 0, 128);
  memcpy(rep + 16, seq, 4);
  rep[0] = 6, rep[1] = 2;
  put16(rep + 4, cmd);
  if (cmd == 33) {
    put16(rep + 6, 5);
    uint8_t *d = rep + 28;
    put32(d, leap == 3 ? 0 : 0x7f000001);
    d[4] = 127, d[7] = 1;
    put16(d + 20, leap == 3 ? 0 : 1);
    put16(d + 24, 2);
    put16(d + 26, leap);
    int64_t now = lisec_time_now();
    put32(d + 28, (uint32_t)(now >> 32));
    put32(d + 32, (uint32_t)now);
    put32(d + 40, off);
    return 104;
  }
  if (cmd == 67) {
    put16(rep + 6, 20);
    put16(rep + 28, mode);
    return 52;
  }
  return 0;
}

static void *fake_main(void *arg) {
  (void)arg;
  for (;;) {
    uint8_t req[600], rep[128];
    struct sockaddr_un from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fake.fd, req, sizeof req, 0, (struct sockaddr *)&from, &fl);
    pthread_mutex_lock(&fake.mu);
    bool stop = fake.stop, silent = fake.silent, wrong = fake.wrong_seq;
    unsigned leap = fake.leap, mode = fake.auth_mode;
    uint32_t off = fake.offset_wire;
    if (n >= 20 && req[4] == 0 && req[5] == 33) {
      fake.requests++;
      fake.last_seq = (uint32_t)req[8] << 24 | (uint32_t)req[9] << 16 | (uint32_t)req[10] << 8 | req[11];
    }
    pthread_mutex_unlock(&fake.mu);
    if (stop) return NULL;
    if (n < 20 || silent) continue;
    unsigned cmd = (unsigned)req[4] << 8 | req[5];
    size_t len = build_reply(cmd, req + 8, leap, mode, off, rep);
    if (!len) continue;
    if (wrong) rep[19] ^= 1;
    (void)sendto(fake.fd, rep, len, 0, (struct sockaddr *)&from, fl);
  }
}

static void fake_set(bool silent, bool wrong_seq, unsigned leap, unsigned mode) {
  pthread_mutex_lock(&fake.mu);
  fake.silent = silent, fake.wrong_seq = wrong_seq, fake.leap = leap, fake.auth_mode = mode;
  pthread_mutex_unlock(&fake.mu);
}

/* ---- fixture ---------------------------------------------------------------- */

static char dir[64];
static lisec_ctl *ctl;
static pthread_t fake_thread;

static int setup(void **st) {
  (void)st;
  if (ctl_fixture_mkdir(dir, "/tmp/lisec-clock-XXXXXX") || ctl_fixture_write_li_key(dir, "li.pub"))
    return -1;
  char sock[128], reply[128];
  snprintf(sock, sizeof sock, "%s/chronyd.sock", dir);
  snprintf(reply, sizeof reply, "%s/reply.sock", dir);
  fake.fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%.100s", sock);
  if (fake.fd < 0 || bind(fake.fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  fake_set(false, false, 0, 2);
  fake.offset_wire = 1u << 10; /* 2^-15 s */
  if (pthread_create(&fake_thread, NULL, fake_main, NULL) != 0) return -1;
  lisec_config *cfg = ctl_fixture_config(dir, "li.pub");
  lisec_config_set(cfg, "time", "source", "chrony");
  lisec_config_set(cfg, "time", "chrony_socket", sock);
  lisec_config_set(cfg, "time", "reply_socket", reply);
  lisec_config_set(cfg, "time", "poll_ms", "50");
  lisec_config_set(cfg, "time", "stale_ms", "400");
  lisec_config_set(cfg, "time", "timeout_ms", "100");
  lisec_config_set(cfg, "time", "tpm_jump_ms", "5000");
  ctl_fixture_open(cfg, &ctl);
  lisec_err err = {0};
  if (ctl_start(ctl, &err)) {
    fprintf(stderr, "ctl_start: %s\n", err.msg);
    return -1;
  }
  return 0;
}

static int teardown(void **st) {
  (void)st;
  ctl_stop(ctl);
  pthread_mutex_lock(&fake.mu);
  fake.stop = true;
  pthread_mutex_unlock(&fake.mu);
  /* wake the stand-in with a datagram of its own */
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%.60s/chronyd.sock", dir);
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  (void)sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof a);
  close(fd);
  pthread_join(fake_thread, NULL);
  close(fake.fd);
  return ctl_fixture_close(&ctl, dir);
}

/* Waits (at most 30 s) until the verdict is proven (want) and, when not,
 * names words; fails the test with the last reason otherwise. */
static void wait_verdict(bool want, const char *words) {
  lisec_err err = {0};
  for (int i = 0; i < 3000; i++) {
    lisec_err_clear(&err);
    int64_t now = 0;
    int rc = ctl_clock_trusted_now(ctl->shared, "a test", &now, &err);
    if (want && rc == 0) return;
    if (!want && rc == LISEC_EDENIED && strstr(err.msg, words) &&
        strstr(err.msg, "TR103308-4.2-TIME: a test needs a proven clock"))
      return;
    usleep(10000);
  }
  fail_msg("clock verdict not %s (%s): %s", want ? "proven" : "unproven", words ? words : "", err.msg);
}

static void test_chronyd_states(void **st) {
  (void)st;
  wait_verdict(true, NULL);
  json_t *s = ctl_clock_status(ctl->shared);
  assert_true(json_is_true(json_object_get(s, "proven")));
  json_t *c = json_object_get(s, "chrony");
  assert_true(json_is_true(json_object_get(c, "nts")));
  assert_string_equal(json_string_value(json_object_get(c, "selected_source")), "127.0.0.1");
  assert_true(json_real_value(json_object_get(c, "offset_ms")) > 0.030 &&
              json_real_value(json_object_get(c, "offset_ms")) < 0.031); /* 2^-15 s */
  json_decref(s);

  fake_set(false, false, 0, 0); /* the source loses NTS */
  wait_verdict(false, "not authenticated with NTS (none)");
  fake_set(false, false, 0, 2);
  wait_verdict(true, NULL);

  fake_set(false, false, 3, 2); /* not synchronised */
  wait_verdict(false, "not synchronised");
  fake_set(false, false, 0, 2);
  wait_verdict(true, NULL);

  fake_set(true, false, 0, 2); /* chronyd stops answering */
  wait_verdict(false, "chronyd did not answer within 100 ms");
  fake_set(false, false, 0, 2);
  wait_verdict(true, NULL);

  fake_set(false, true, 0, 2); /* answers to another request */
  wait_verdict(false, "sequence");
  fake_set(false, false, 0, 2);
  wait_verdict(true, NULL);

  char *m = ctl_metrics_render(ctl, false);
  assert_non_null(m);
  assert_non_null(strstr(m, "\nlisec_time_proven 1\n"));
  free(m);
}

static void test_tpm_fleet(void **st) {
  (void)st;
  wait_verdict(true, NULL);
  const char *hosts[] = {"h1", "h2", "h3"};
  int64_t t0 = lisec_time_now_ms();
  /* baseline, then 60 s on the TPMs and 60 s on the controller: agreed */
  for (int i = 0; i < 3; i++) ctl_clock_tpm_sample(ctl, hosts[i], 1000000 + 7 * i, 1, 0, true, t0);
  for (int i = 0; i < 3; i++) ctl_clock_tpm_sample(ctl, hosts[i], 1060000 + 7 * i, 1, 0, true, t0 + 60000);
  wait_verdict(true, NULL);
  /* the controller moved 90 s while the TPMs counted 60: one host is
   * not a majority of three; the second makes the median a jump */
  ctl_clock_tpm_sample(ctl, "h1", 1120000, 1, 0, true, t0 + 150000);
  wait_verdict(true, NULL);
  ctl_clock_tpm_sample(ctl, "h2", 1120007, 1, 0, true, t0 + 150000);
  wait_verdict(false, "the TPM clocks of 3 hosts moved 30000 ms (median)");
  /* nonces and appraisals go on while the jump holds: their TPM clocks
   * are what can end it */
  lisec_err werr = {0};
  int64_t wnow = 0;
  if (ctl_clock_witness_now(ctl->shared, "an appraisal", &wnow, &werr) != 0)
    fail_msg("the attestation path is refused during a fleet jump: %s", werr.msg);
  ctl_clock_tpm_sample(ctl, "h3", 1120014, 1, 0, true, t0 + 150000);
  json_t *s = ctl_clock_status(ctl->shared), *tpm = json_object_get(s, "tpm");
  assert_true(json_is_true(json_object_get(tpm, "fleet_jump")));
  assert_int_equal(json_integer_value(json_object_get(tpm, "median_shift_ms")), -30000);
  assert_int_equal(json_integer_value(json_object_get(tpm, "fleet_findings")), 1);
  json_decref(s);
  /* the next round agrees with the new baseline */
  for (int i = 0; i < 3; i++) ctl_clock_tpm_sample(ctl, hosts[i], 1180000 + 7 * i, 1, 0, true, t0 + 210000);
  wait_verdict(true, NULL);
  /* one host's clock goes back: a finding about it, not about the clock */
  ctl_clock_tpm_sample(ctl, "h2", 5, 1, 0, true, t0 + 270000);
  ctl_clock_tpm_sample(ctl, "h3", 1240014, 1, 0, false, t0 + 270000);
  wait_verdict(true, NULL);
  s = ctl_clock_status(ctl->shared);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "tpm"), "host_findings")), 2);
  json_decref(s);
}

/* A local process that can reach [time] reply_socket (it is made 0666 so
 * that chronyd's user can answer) sends chronyd's answers itself: a
 * synchronised, NTS-authenticated tracking reply and authdata, for the
 * sequence numbers the next poll will use (they count up by two from
 * start, so they are predictable; here the stand-in tells them), sent
 * again and again so that some land while the socket is bound and not yet
 * connected to chronyd. Only chronyd's own replies may count: the real
 * chronyd says not synchronised, and the verdict must never be proven
 * while the forger runs (over at least 100 polls, and until some of its
 * pairs reached the socket). */
static struct {
  pthread_mutex_t mu;
  bool stop;
  unsigned landed; /* pairs sent while the socket accepted them */
} forger = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *forger_main(void *arg) {
  (void)arg;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%.100s/reply.sock", dir);
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  for (;;) {
    pthread_mutex_lock(&forger.mu);
    bool stop = forger.stop;
    pthread_mutex_unlock(&forger.mu);
    if (stop || fd < 0) break;
    pthread_mutex_lock(&fake.mu);
    uint32_t seq = fake.last_seq + 2;
    pthread_mutex_unlock(&fake.mu);
    uint8_t s1[4], s2[4], t[128], au[128];
    put32(s1, seq);
    put32(s2, seq + 1);
    size_t tl = build_reply(33, s1, 0, 2, 1u << 10, t), al = build_reply(67, s2, 0, 2, 0, au);
    if (sendto(fd, t, tl, 0, (struct sockaddr *)&a, sizeof a) == (ssize_t)tl &&
        sendto(fd, au, al, 0, (struct sockaddr *)&a, sizeof a) == (ssize_t)al) {
      pthread_mutex_lock(&forger.mu);
      forger.landed++;
      pthread_mutex_unlock(&forger.mu);
    }
  }
  if (fd >= 0) close(fd);
  return NULL;
}

static unsigned requests_seen(void) {
  pthread_mutex_lock(&fake.mu);
  unsigned n = fake.requests;
  pthread_mutex_unlock(&fake.mu);
  return n;
}

static void test_forged_replies(void **st) {
  (void)st;
  fake_set(false, false, 3, 2); /* chronyd: not synchronised */
  wait_verdict(false, "not synchronised");
  pthread_t th;
  forger.stop = false;
  assert_int_equal(pthread_create(&th, NULL, forger_main, NULL), 0);
  unsigned from = requests_seen(), landed = 0;
  bool proven = false;
  /* 100 polls at least, and until some forged pairs landed (at most 1000) */
  for (unsigned polls = 0; !proven && polls < 1000 && (polls < 100 || !landed);
       polls = requests_seen() - from) {
    pthread_mutex_lock(&forger.mu);
    landed = forger.landed;
    pthread_mutex_unlock(&forger.mu);
    lisec_err err = {0};
    int64_t now = 0;
    proven = ctl_clock_trusted_now(ctl->shared, "a test", &now, &err) == 0;
    usleep(1000);
  }
  pthread_mutex_lock(&forger.mu);
  forger.stop = true;
  landed = forger.landed;
  pthread_mutex_unlock(&forger.mu);
  pthread_join(th, NULL);
  fake_set(false, false, 0, 2);
  wait_verdict(true, NULL);
  if (proven)
    fail_msg("replies another process sent to [time] reply_socket were taken as chronyd's (%u pairs "
             "landed in %u polls)", landed, requests_seen() - from);
  if (!landed) fail_msg("no forged reply reached the socket: the test proved nothing");
}

/* A fleet of 1,000 hosts, where the verdict is computed once per 15
 * samples instead of at each: a jump of the controller's clock is found
 * within the round of reports that shows it (once more than half the hosts
 * have shown it, and at most 1000 / 64 samples later), and each host's
 * track is found again by its id (a clock going back is that host's
 * finding). */
static void test_tpm_fleet_large(void **st) {
  (void)st;
  enum { N = 1000 };
  wait_verdict(true, NULL);
  int64_t t0 = lisec_time_now_ms();
  char host[N][16];
  for (int i = 0; i < N; i++) snprintf(host[i], sizeof host[i], "big-%d", i);
  for (int i = 0; i < N; i++) ctl_clock_tpm_sample(ctl, host[i], 1000000 + (uint64_t)i, 1, 0, true, t0);
  for (int i = 0; i < N; i++)
    ctl_clock_tpm_sample(ctl, host[i], 1060000 + (uint64_t)i, 1, 0, true, t0 + 60000);
  json_t *s = ctl_clock_status(ctl->shared);
  assert_false(json_is_true(json_object_get(json_object_get(s, "tpm"), "fleet_jump")));
  json_int_t findings = json_integer_value(json_object_get(json_object_get(s, "tpm"), "host_findings"));
  json_decref(s);
  int first = -1;
  for (int i = 0; i < N; i++) {
    ctl_clock_tpm_sample(ctl, host[i], 1120000 + (uint64_t)i, 1, 0, true, t0 + 150000);
    s = ctl_clock_status(ctl->shared);
    bool jump = json_is_true(json_object_get(json_object_get(s, "tpm"), "fleet_jump"));
    json_decref(s);
    if (jump && first < 0) first = i;
  }
  /* the three hosts of test_tpm_fleet are in the window too */
  if (first < N / 2 - 3 || first > N / 2 + N / 64 + 3) fail_msg("the jump was found after %d of %d hosts' samples", first + 1, N);
  ctl_clock_tpm_sample(ctl, host[N / 2], 5, 1, 0, true, t0 + 210000);
  s = ctl_clock_status(ctl->shared);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "tpm"), "host_findings")), findings + 1);
  json_decref(s);
}

/* [time] tpm_window_s is a duration, read on the monotonic clock as every
 * other (docs/time.md): a host's shift older than it is not counted,
 * whatever the controller's wall clock says. Here four hosts stop
 * reporting, the window passes, and the controller's clock is stepped back
 * a day: the three hosts still reporting all show it. Read on the wall
 * clock, the silent hosts' samples were "from the future", so never too
 * old, and their old agreement outvoted the jump for a day. */
static void test_tpm_window_monotonic(void **st) {
  (void)st;
  char d2[64]; /* its own controller, without chronyd: the tracks are kept */
  lisec_ctl *c2 = NULL;
  assert_int_equal(ctl_fixture_mkdir(d2, "/tmp/lisec-clock-win-XXXXXX"), 0);
  assert_int_equal(ctl_fixture_write_li_key(d2, "li.pub"), 0);
  lisec_config *cfg = ctl_fixture_config(d2, "li.pub");
  lisec_config_set(cfg, "time", "tpm_window_s", "1");
  lisec_config_set(cfg, "time", "tpm_jump_ms", "5000");
  ctl_fixture_open(cfg, &c2);
  const char *hosts[] = {"live-1", "live-2", "live-3", "gone-1", "gone-2", "gone-3", "gone-4"};
  int64_t w0 = lisec_time_now_ms();
  for (int i = 0; i < 7; i++) ctl_clock_tpm_sample(c2, hosts[i], 1000000, 1, 0, true, w0);
  for (int i = 0; i < 7; i++) ctl_clock_tpm_sample(c2, hosts[i], 1060000, 1, 0, true, w0 + 60000);
  json_t *s = ctl_clock_status(c2->shared);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "tpm"), "hosts_compared")), 7);
  json_decref(s);
  /* the window passes (bounded: at most 3 s) */
  uint64_t since = lisec_time_mono_ns();
  for (int i = 0; i < 300 && lisec_time_mono_ns() - since < 1200000000u; i++) usleep(10000);
  assert_true(lisec_time_mono_ns() - since >= 1200000000u);
  /* stepped back a day while the TPMs counted another 60 s */
  for (int i = 0; i < 3; i++) ctl_clock_tpm_sample(c2, hosts[i], 1120000, 1, 0, true, w0 + 120000 - 86400000);
  s = ctl_clock_status(c2->shared);
  json_t *tpm = json_object_get(s, "tpm");
  assert_int_equal(json_integer_value(json_object_get(tpm, "hosts_compared")), 3);
  assert_true(json_is_true(json_object_get(tpm, "fleet_jump")));
  assert_int_equal(json_integer_value(json_object_get(tpm, "median_shift_ms")), 86400000);
  json_decref(s);
  assert_int_equal(ctl_fixture_close(&c2, d2), 0);
}

/* lisecd removes whatever is at [time] reply_socket and binds it afresh
 * for each reading: the same path as chrony_socket would delete chronyd's
 * command socket (and lisecd would then read its own requests, "packet
 * type 1 is not a reply"). Refused, naming both. */
static void test_reply_socket_not_chronyd(void **st) {
  (void)st;
  lisec_config *cfg = lisec_config_new();
  lisec_err err = {0};
  lisec_config_set(cfg, "time", "source", "chrony");
  assert_int_equal(ctl_clock_settings_check(cfg, 120, &err), 0);
  lisec_config_set(cfg, "time", "chrony_socket", "/run/chrony/chronyd.sock");
  lisec_config_set(cfg, "time", "reply_socket", "/run/chrony/chronyd.sock");
  assert_int_equal(ctl_clock_settings_check(cfg, 120, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "[time] reply_socket"));
  assert_non_null(strstr(err.msg, "chrony_socket"));
  lisec_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chronyd_states),
      cmocka_unit_test(test_tpm_fleet),
      cmocka_unit_test(test_forged_replies),
      cmocka_unit_test(test_tpm_fleet_large),
  };
  /* a controller of its own, once the group's is closed (one keys service
   * at a time: ctl_fixture.h) */
  const struct CMUnitTest own[] = {
      cmocka_unit_test(test_tpm_window_monotonic),
      cmocka_unit_test(test_reply_socket_not_chronyd),
  };
  int failed = cmocka_run_group_tests(tests, setup, teardown);
  return failed + cmocka_run_group_tests(own, NULL, NULL);
}
