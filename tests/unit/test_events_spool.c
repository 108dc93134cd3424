/* The VM's event spool (src/events/spoolrec.c, src/events/libspool.c, libspool_send.c;
 * docs/events.md "The spool"). The record reader: records made by the
 * writer read back exactly; a buffer cut at every length gives the whole
 * records before the cut and a torn tail, never a record that was not
 * whole; a byte changed anywhere in a middle record loses that record
 * alone (or none, when the byte was its newline), never the next; bad
 * headers (leading zeros, a seq or length out of range, upper-case or
 * short checksums, a length past the end or over the bound), payloads
 * that are not canonical events, a header seq not the event's, a second
 * record of one seq and garbage lines are each refused with a reason and
 * reading goes on. The library (exported API): events noted are counted
 * and kept across a reopen; a full spool (by events or by bytes) refuses
 * the next naming TR103308-4.1 and giving the seq that becomes a gap; a
 * torn tail or a corrupted record is reported at open, set aside in
 * FILE.corrupt and the others kept; a flush with lisecd out of reach keeps
 * every event; two processes noting into one spool and state file at once
 * queue every event once, in seq order; an event is refused when noted
 * unless it fits lisecd's bound at the longest seq it may be made again
 * at; two handles with different max_bytes find a record at any seq in
 * the whole file. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "events/spool.h"
#include "events/spoolrec.h"
#include "lisec/events.h"

/* n records of vm-li-1, seqs from first, appended to *buf. */
static size_t make_records(char *buf, size_t cap, uint64_t first, size_t n,
                           size_t *ends) {
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    char *ev = NULL, *rec = NULL, err[LISEC_EVENT_ERR_MAX];
    const char *details[] = {"xid=5e7f0000-aaaa-4bbb-8ccc-000000000001",
                             "lea=lea-fi", NULL};
    size_t len = 0;
    uint64_t seq = 0;
    lisec_err e = {0};
    assert_int_equal(lisec_event_make("vm-li-1", first + i, 1800000000,
                                      "activation", details, &ev, err),
                     0);
    assert_int_equal(evsp_encode(ev, strlen(ev), &rec, &len, &seq, &e), 0);
    assert_int_equal(seq, first + i);
    assert_true(at + len <= cap);
    memcpy(buf + at, rec, len);
    at += len;
    if (ends)
      ends[i] = at;
    free(ev);
    free(rec);
  }
  return at;
}

/* A fresh directory for a test (dir: a mkdtemp template) and, in it, the
 * spool's path sp and the seq state file's st. */
static void spool_paths(char *dir, char sp[128], char st[128]) {
  assert_non_null(mkdtemp(dir));
  snprintf(sp, 128, "%s/spool", dir);
  snprintf(st, 128, "%s/seq", dir);
}

/* Removes a test's directory and all it holds. */
static void remove_tree(const char *dir) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_roundtrip(void **state) {
  (void)state;
  char buf[8192];
  size_t ends[5];
  size_t len = make_records(buf, sizeof buf, 7, 5, ends);
  assert_memory_equal(buf, "LSEV1 7 ", 8);
  evsp_scan sc;
  lisec_err e = {0};
  assert_int_equal(evsp_scan_buf((const uint8_t *)buf, len, &sc, &e), 0);
  assert_int_equal(sc.n, 5);
  assert_int_equal(sc.n_bad, 0);
  assert_int_equal(sc.torn_off, len);
  assert_false(sc.unterminated);
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(sc.rec[i].seq, 7 + i);
    assert_string_equal(sc.rec[i].vm, "vm-li-1");
    assert_int_equal(sc.rec[i].off + sc.rec[i].len, ends[i]);
    assert_memory_equal(buf + sc.rec[i].payload_off,
                        "{\"event\":{\"details\":", 20);
  }
  evsp_scan_clear(&sc);
  assert_int_equal(evsp_scan_buf(NULL, 0, &sc, &e),
                   0); /* empty: nothing, no error */
  assert_int_equal(sc.n + sc.n_bad, 0);
  evsp_scan_clear(&sc);
}

/* Cut at every length: the whole records before the cut, the rest torn
 * (or, cut just before a newline, the last record whole but unterminated). */
static void test_truncated(void **state) {
  (void)state;
  char buf[4096];
  size_t ends[3];
  size_t len = make_records(buf, sizeof buf, 1, 3, ends);
  for (size_t cut = 0; cut <= len; cut++) {
    evsp_scan sc;
    lisec_err e = {0};
    assert_int_equal(evsp_scan_buf((const uint8_t *)buf, cut, &sc, &e), 0);
    size_t whole = 0;
    while (whole < 3 && ends[whole] <= cut)
      whole++;
    size_t start = whole ? ends[whole - 1] : 0;
    assert_int_equal(sc.n_bad, 0);
    if (whole < 3 && cut == ends[whole] - 1) { /* only the newline missing */
      assert_int_equal(sc.n, whole + 1);
      assert_true(sc.unterminated);
      assert_int_equal(sc.torn_off, cut);
    } else {
      assert_int_equal(sc.n, whole);
      assert_int_equal(sc.torn_off, cut > start ? start : cut);
    }
    evsp_scan_clear(&sc);
  }
}

/* A byte changed anywhere in the middle record: that record is lost (or
 * none, when the byte was its newline), the first and last always read. */
static void test_flipped(void **state) {
  (void)state;
  char buf[4096], copy[4096];
  size_t ends[3];
  size_t len = make_records(buf, sizeof buf, 1, 3, ends);
  for (size_t at = ends[0]; at < ends[1]; at++) {
    memcpy(copy, buf, len);
    copy[at] ^= 0x01;
    evsp_scan sc;
    lisec_err e = {0};
    assert_int_equal(evsp_scan_buf((const uint8_t *)copy, len, &sc, &e), 0);
    assert_int_equal(sc.torn_off, len);
    assert_true(sc.n >= 2);
    assert_int_equal(sc.rec[0].seq, 1);
    assert_int_equal(sc.rec[sc.n - 1].seq, 3);
    if (at ==
        ends[1] - 1) { /* its newline: the record is whole by its checksum */
      assert_int_equal(sc.n, 3);
      assert_int_equal(sc.n_bad, 0);
    } else {
      assert_int_equal(sc.n, 2);
      assert_int_equal(sc.n_bad, 1);
      assert_int_equal(sc.bad[0].off, ends[0]);
      assert_int_equal(sc.bad[0].len, ends[1] - ends[0]);
    }
    evsp_scan_clear(&sc);
  }
}

/* One malformed line between two good records: refused naming why; the
 * good ones read. */
static void expect_bad(const char *line, const char *why) {
  char buf[16384], good[4096];
  size_t glen = make_records(good, sizeof good, 100, 1, NULL);
  size_t at = make_records(buf, sizeof buf, 1, 1, NULL);
  size_t ll = strlen(line);
  memcpy(buf + at, line, ll);
  at += ll;
  memcpy(buf + at, good, glen);
  at += glen;
  evsp_scan sc;
  lisec_err e = {0};
  assert_int_equal(evsp_scan_buf((const uint8_t *)buf, at, &sc, &e), 0);
  assert_int_equal(sc.n, 2);
  assert_int_equal(sc.rec[1].seq, 100);
  assert_int_equal(sc.n_bad, 1);
  if (!strstr(sc.bad[0].why, why))
    fail_msg("%s: \"%s\", want \"%s\"", line, sc.bad[0].why, why);
  evsp_scan_clear(&sc);
}

/* A record line with a right checksum over any payload. */
static char *line_of(const char *seq, const char *len, const char *payload) {
  static char out[12000];
  uint8_t d[32];
  char hex[65];
  crypto_sha256(payload, strlen(payload), d);
  lisec_hex_encode(d, 32, hex);
  snprintf(out, sizeof out, "LSEV1 %s %s %s %s\n", seq, len, hex, payload);
  return out;
}

static void test_malformed(void **state) {
  (void)state;
  const char *ev5 = "{\"event\":{\"seq\":5,\"time\":1800000000,\"type\":"
                    "\"start\",\"v\":1,\"vm\":\"vm-li-1\"}}";
  char n[24];
  snprintf(n, sizeof n, "%zu", strlen(ev5));
  expect_bad("garbage\n", "not a spool record");
  expect_bad("\n", "not a spool record");
  expect_bad(line_of("05", n, ev5), "seq"); /* leading zero */
  expect_bad(line_of("0", n, ev5), "seq");
  expect_bad(line_of("9007199254740993", n, ev5), "seq");  /* over 2^53 */
  expect_bad(line_of("12345678901234567", n, ev5), "seq"); /* 17 digits */
  expect_bad(line_of("5", "0", ev5), "length");
  expect_bad(line_of("5", "9000", ev5), "length"); /* over the bound */
  expect_bad(line_of("5", "99999", ev5), "length");
  char longer[24];
  snprintf(longer, sizeof longer, "%zu", strlen(ev5) + 40);
  expect_bad(line_of("5", longer, ev5),
             ""); /* runs into the next record: its checksum fails */
  expect_bad(line_of("6", n, ev5), "header's seq"); /* the event says 5 */
  expect_bad(line_of("5", "2", "{}"), "not an unsigned event");
  const char *spaced = "{\"event\": "
                       "{\"seq\":5,\"time\":1800000000,\"type\":\"start\","
                       "\"v\":1,\"vm\":\"vm-li-1\"}}";
  snprintf(n, sizeof n, "%zu", strlen(spaced));
  expect_bad(line_of("5", n, spaced), "canonical");
  const char *unknown = "{\"event\":{\"seq\":5,\"time\":1800000000,\"type\":"
                        "\"reboot\",\"v\":1,\"vm\":\"vm-li-1\"}}";
  snprintf(n, sizeof n, "%zu", strlen(unknown));
  expect_bad(line_of("5", n, unknown), "not an event");
  const char *signed_ev =
      "{\"event\":{\"seq\":5,\"time\":1800000000,\"type\":\"start\",\"v\":1,"
      "\"vm\":\"vm-li-1\"},\"sig\":\"AA\"}";
  snprintf(n, sizeof n, "%zu", strlen(signed_ev));
  expect_bad(line_of("5", n, signed_ev), "not an unsigned event");
  /* the checksum: upper case, short, wrong */
  char *l = line_of("5", n, ev5);
  for (char *p = l + 10; p < l + 74; p++)
    if (*p >= 'a' && *p <= 'f') {
      *p = (char)(*p - 'a' + 'A');
      break;
    }
  expect_bad(l, "checksum");
  snprintf(n, sizeof n, "%zu", strlen(ev5));
  char shortsum[512];
  snprintf(shortsum, sizeof shortsum, "LSEV1 5 %s 00ff %s\n", n, ev5);
  expect_bad(shortsum, "checksum");
  snprintf(shortsum, sizeof shortsum, "LSEV1 5 %s %064d %s\n", n, 0, ev5);
  expect_bad(shortsum, "checksum does not match");
  /* a second record of seq 1 (the first good record's) */
  char dup[4096];
  size_t dl = make_records(dup, sizeof dup, 1, 1, NULL);
  dup[dl] = '\0';
  expect_bad(dup, "a second record of seq 1");
}

/* An oversized line without a newline at the end: a torn tail, not a
 * record, whatever it holds; the record before it read. */
static void test_oversized(void **state) {
  (void)state;
  size_t cap = 1 << 20;
  char *buf = malloc(cap);
  assert_non_null(buf);
  size_t at = make_records(buf, cap, 1, 1, NULL);
  memcpy(buf + at, "LSEV1 2 9999 ", 13);
  memset(buf + at + 13, 'a', cap - at - 13);
  evsp_scan sc;
  lisec_err e = {0};
  assert_int_equal(evsp_scan_buf((const uint8_t *)buf, cap, &sc, &e), 0);
  assert_int_equal(sc.n, 1);
  assert_int_equal(sc.torn_off, at);
  evsp_scan_clear(&sc);
  /* encode refuses what the reader would refuse */
  char *rec = NULL;
  size_t len = 0;
  uint64_t seq = 0;
  assert_int_not_equal(evsp_encode("{}", 2, &rec, &len, &seq, &e), 0);
  assert_int_not_equal(
      evsp_encode(buf, EVSP_PAYLOAD_MAX + 1, &rec, &len, &seq, &e), 0);
  assert_null(rec);
  free(buf);
}

/* ---- the library, through its exported API ---------------------------- */

typedef struct reports {
  char text[8192];
  int n;
} reports;

static void on_report(void *ctx, const char *msg) {
  reports *r = ctx;
  size_t at = strlen(r->text);
  snprintf(r->text + at, sizeof r->text - at, "%s\n", msg);
  r->n++;
}

static void test_lib(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sp[128], st[128], corrupt[160],
       err[LISEC_EVENT_ERR_MAX];
  spool_paths(dir, sp, st);
  snprintf(corrupt, sizeof corrupt, "%s/spool.corrupt", dir);
  reports rep = {0};
  lisec_event_spool *s = NULL;
  assert_int_equal(lisec_event_spool_open(sp, 3, 0, on_report, &rep, &s, err),
                   0);
  struct stat sb;
  assert_int_equal(stat(sp, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  unsigned long long seq = 0;
  const char *d[] = {"xid=5e7f", NULL};
  for (unsigned long long i = 1; i <= 3; i++) {
    assert_int_equal(
        lisec_event_spool_note(s, st, "vm-li-1", 0, "activation", d, &seq, err),
        0);
    assert_int_equal(seq, i);
  }
  /* full by events: refused, the seq taken (a gap at lisecd), nothing written
   */
  assert_int_equal(
      lisec_event_spool_note(s, st, "vm-li-1", 0, "error", NULL, &seq, err),
      -1);
  assert_int_equal(seq, 4);
  assert_non_null(strstr(err, "TR103308-4.1: the event spool is full"));
  assert_non_null(strstr(err, "seq 4 not queued"));
  size_t n = 0, bytes = 0;
  assert_int_equal(lisec_event_spool_count(s, &n, &bytes, err), 0);
  assert_int_equal(n, 3);
  assert_int_equal(stat(sp, &sb), 0);
  assert_int_equal((size_t)sb.st_size, bytes);
  /* a bad type or detail is the caller's mistake: refused before a seq is
   * taken, so lisecd shows no gap for it */
  assert_int_equal(
      lisec_event_spool_note(s, st, "vm-li-1", 0, "reboot", NULL, &seq, err),
      -1);
  assert_int_equal(seq, 0);
  const char *bad[] = {"NoUpper=1", NULL};
  assert_int_equal(
      lisec_event_spool_note(s, st, "vm-li-1", 0, "error", bad, &seq, err), -1);
  assert_int_equal(seq, 0);
  lisec_event_spool_free(s);

  /* reopened: the middle record corrupted and the last torn */
  FILE *f = fopen(sp, "r+b");
  assert_non_null(f);
  char buf[4096];
  size_t len = fread(buf, 1, sizeof buf, f);
  char *second = memchr(buf, '\n', len) + 1;
  second[100] ^= 0x01; /* inside its event */
  rewind(f);
  assert_int_equal(fwrite(buf, 1, len - 7, f), len - 7);
  fclose(f);
  assert_int_equal(truncate(sp, (off_t)(len - 7)), 0);
  assert_int_equal(lisec_event_spool_open(sp, 3, 0, on_report, &rep, &s, err),
                   0);
  assert_int_equal(rep.n, 2);
  assert_non_null(
      strstr(rep.text, "is corrupted (the checksum does not match): not sent"));
  assert_non_null(strstr(rep.text, "a torn last record"));
  assert_int_equal(lisec_event_spool_count(s, &n, &bytes, err), 0);
  assert_int_equal(n, 1);
  assert_int_equal(stat(corrupt, &sb), 0);
  assert_true(sb.st_size > 0);
  assert_int_equal(rep.n, 2); /* set aside: reported once */
  /* appended after the repair, in order */
  assert_int_equal(
      lisec_event_spool_note(s, st, "vm-li-1", 0, "stop", NULL, &seq, err), 0);
  assert_int_equal(seq, 5); /* 4 the full spool's gap; none for the bad ones */
  assert_int_equal(lisec_event_spool_count(s, &n, NULL, err), 0);
  assert_int_equal(n, 2);

  /* lisecd out of reach: every event kept */
  char key[160], pub[160];
  snprintf(key, sizeof key, "%s/vm.key", dir);
  snprintf(pub, sizeof pub, "%s/vm.pub", dir);
  lisec_event_key *k = NULL;
  lisec_event_client *c = NULL;
  assert_int_equal(lisec_event_key_create(key, pub, err), 0);
  assert_int_equal(lisec_event_key_load(key, &k, err), 0);
  /* any PEM file does for the TLS material: the transfer fails before it */
  assert_int_equal(
      lisec_event_client_new("https://127.0.0.1:1", pub, pub, key, &c, err), 0);
  size_t sent = 9;
  long status = 9;
  assert_int_equal(lisec_event_spool_flush(s, k, c, 16, &sent, &status, err),
                   -1);
  assert_int_equal(sent, 0);
  assert_int_equal(status, 0);
  assert_int_equal(lisec_event_spool_count(s, &n, NULL, err), 0);
  assert_int_equal(n, 2);
  lisec_event_client_free(c);
  lisec_event_key_free(k);
  lisec_event_spool_free(s);

  /* full by bytes */
  char sp2[160];
  snprintf(sp2, sizeof sp2, "%s/spool2", dir);
  assert_int_equal(
      lisec_event_spool_open(sp2, 0, 16384, on_report, &rep, &s, err), 0);
  char big[240];
  memset(big, 'x', sizeof big);
  memcpy(big, "a=", 2);
  big[sizeof big - 1] = '\0';
  const char *bd[] = {big, NULL};
  int queued = 0;
  while (lisec_event_spool_note(s, st, "vm-li-1", 0, "error", bd, &seq, err) ==
         0)
    queued++;
  assert_true(queued > 10 && queued < 100);
  assert_non_null(strstr(err, "the event spool is full"));
  assert_int_equal(lisec_event_spool_count(s, &n, &bytes, err), 0);
  assert_int_equal(n, (size_t)queued);
  assert_true(bytes <= 16384);
  lisec_event_spool_free(s);
  /* bounds refused */
  assert_int_equal(lisec_event_spool_open(sp2, 0, 100, NULL, NULL, &s, err),
                   -1);
  assert_int_equal(lisec_event_spool_open(sp2, 2000000, 0, NULL, NULL, &s, err),
                   -1);
  assert_int_equal(lisec_event_spool_open(dir, 0, 0, NULL, NULL, &s, err),
                   -1); /* a directory */
  remove_tree(dir);
}

/* Two processes noting into one spool and one state file at once (as
 * lisec-ne and lisec-event may): every event queued once, in seq order, no
 * record damaged. */
static void test_shared(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sp[128], st[128],
       err[LISEC_EVENT_ERR_MAX];
  spool_paths(dir, sp, st);
  pid_t kids[2];
  for (int i = 0; i < 2; i++) {
    if ((kids[i] = fork()) == 0) {
      lisec_event_spool *s = NULL;
      unsigned long long seq = 0;
      int bad = lisec_event_spool_open(sp, 0, 0, NULL, NULL, &s, err);
      for (int j = 0; j < 40 && !bad; j++)
        bad = lisec_event_spool_note(s, st, "vm-li-1", 0, "delivery", NULL,
                                     &seq, err);
      lisec_event_spool_free(s);
      _exit(bad ? 1 : 0);
    }
    assert_true(kids[i] > 0);
  }
  for (int i = 0; i < 2; i++) {
    int ws = 0;
    assert_int_equal(waitpid(kids[i], &ws, 0), kids[i]);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  }
  FILE *f = fopen(sp, "rb");
  assert_non_null(f);
  static uint8_t buf[65536];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  evsp_scan sc;
  lisec_err e = {0};
  assert_int_equal(evsp_scan_buf(buf, len, &sc, &e), 0);
  assert_int_equal(sc.n, 80);
  assert_int_equal(sc.n_bad, 0);
  assert_int_equal(sc.torn_off, len);
  for (size_t i = 0; i < sc.n; i++)
    assert_int_equal(sc.rec[i].seq, i + 1);
  evsp_scan_clear(&sc);
  remove_tree(dir);
}

/* The spool is the VM program's own file: a record in it is signed as
 * the VM's event when sent, so a spool another user may write is a way
 * to have the VM sign what that user chose. A symbolic link (at open, or
 * swapped in later) is refused, a spool writable by group or others or
 * owned by another user is refused, naming TR103308-4.1, and one only
 * readable by them is made 0600. */
static void test_file_rights(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sp[128], real[128], st[128],
       err[LISEC_EVENT_ERR_MAX], rec[4096];
  spool_paths(dir, sp, st);
  snprintf(real, sizeof real, "%s/real", dir);
  size_t len = make_records(rec, sizeof rec, 1, 1, NULL);
  reports rep = {0};
  lisec_event_spool *s = NULL;
  struct stat sb;
  FILE *f = fopen(real, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(rec, 1, len, f), len);
  fclose(f);

  /* a symbolic link */
  assert_int_equal(chmod(real, 0600), 0);
  assert_int_equal(symlink(real, sp), 0);
  assert_int_equal(lisec_event_spool_open(sp, 0, 0, on_report, &rep, &s, err),
                   -1);
  assert_null(s);
  assert_non_null(strstr(err, "TR103308-4.1"));
  assert_non_null(strstr(err, "symbolic link"));
  assert_int_equal(unlink(sp), 0);

  /* writable by group or others: refused, its records not read */
  const mode_t writable[] = {0620, 0602, 0666};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(chmod(real, writable[i]), 0);
    assert_int_equal(link(real, sp), 0);
    assert_int_equal(chmod(sp, writable[i]), 0); /* past the umask */
    assert_int_equal(
        lisec_event_spool_open(sp, 0, 0, on_report, &rep, &s, err), -1);
    assert_null(s);
    assert_non_null(strstr(err, "TR103308-4.1"));
    assert_non_null(strstr(err, "writable by others"));
    assert_int_equal(unlink(sp), 0);
  }
  /* owned by another user */
  if (geteuid() == 0) {
    assert_int_equal(chmod(real, 0600), 0);
    assert_int_equal(chown(real, 65534, 65534), 0);
    assert_int_equal(link(real, sp), 0);
    assert_int_equal(
        lisec_event_spool_open(sp, 0, 0, on_report, &rep, &s, err), -1);
    assert_non_null(strstr(err, "TR103308-4.1"));
    assert_non_null(strstr(err, "owned by uid 65534"));
    assert_int_equal(unlink(sp), 0);
    assert_int_equal(chown(real, 0, 0), 0);
  }

  /* readable by others: made 0600, its record kept */
  assert_int_equal(chmod(real, 0644), 0);
  assert_int_equal(rename(real, sp), 0);
  assert_int_equal(chmod(sp, 0644), 0);
  assert_int_equal(lisec_event_spool_open(sp, 0, 0, on_report, &rep, &s, err),
                   0);
  assert_int_equal(stat(sp, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  size_t n = 0;
  assert_int_equal(lisec_event_spool_count(s, &n, NULL, err), 0);
  assert_int_equal(n, 1);

  /* a symbolic link swapped in after the open: not followed by a note */
  f = fopen(real, "wb");
  assert_non_null(f);
  fclose(f);
  char moved[160];
  snprintf(moved, sizeof moved, "%s/moved", dir);
  assert_int_equal(rename(sp, moved), 0);
  assert_int_equal(symlink(real, sp), 0);
  unsigned long long seq = 0;
  assert_int_equal(
      lisec_event_spool_note(s, st, "vm-li-1", 0, "stop", NULL, &seq, err), -1);
  assert_non_null(strstr(err, "symbolic link"));
  assert_int_equal(stat(real, &sb), 0);
  assert_int_equal(sb.st_size, 0); /* nothing written through the link */
  lisec_event_spool_free(s);
  remove_tree(dir);
}

/* Bad lines one after another are one bad stretch: what the reader keeps
 * of them (and the reports and FILE.corrupt entries made of them) is
 * bounded by the good records between them, not by the number of lines;
 * a file of short garbage lines took 112 bytes of memory per byte of file
 * and one report per line. */
static void test_bad_run(void **state) {
  (void)state;
  size_t lines = 200000, cap = 2 * lines + 4096;
  char *buf = malloc(cap);
  assert_non_null(buf);
  memset(buf, '\n', lines); /* empty lines */
  size_t at = lines;
  at += make_records(buf + at, cap - at, 1, 1, NULL);
  for (size_t i = 0; i < lines / 2; i++) /* then two-byte garbage lines */
    buf[at++] = 'x', buf[at++] = '\n';
  at += make_records(buf + at, cap - at, 2, 1, NULL);
  evsp_scan sc;
  lisec_err e = {0};
  assert_int_equal(evsp_scan_buf((const uint8_t *)buf, at, &sc, &e), 0);
  assert_int_equal(sc.n, 2);
  assert_int_equal(sc.n_bad, 2);
  assert_int_equal(sc.bad[0].off, 0);
  assert_int_equal(sc.bad[0].len, lines);
  assert_int_equal(sc.bad[1].off, sc.rec[0].off + sc.rec[0].len);
  assert_int_equal(sc.bad[1].len, lines);
  assert_non_null(strstr(sc.bad[0].why, "not a spool record"));
  assert_int_equal(sc.torn_off, at);
  evsp_scan_clear(&sc);
  free(buf);
}

/* A flush while another holds FILE.send.lock (lisec-ne's sender sending a
 * backlog to a slow lisecd, say) does not wait for it: it returns at once
 * naming the other flush, the events stay queued for it (and for the next
 * flush). It waited for as long as the other flush took; a second alarm
 * kills the test if it still waits. */
static void test_flush_busy(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sp[128], st[128], key[128],
       pub[128], lk[160], err[LISEC_EVENT_ERR_MAX];
  spool_paths(dir, sp, st);
  snprintf(key, sizeof key, "%s/k", dir);
  snprintf(pub, sizeof pub, "%s/k.pub", dir);
  snprintf(lk, sizeof lk, "%s.send.lock", sp);
  lisec_event_spool *s = NULL;
  lisec_event_key *k = NULL;
  lisec_event_client *c = NULL;
  assert_int_equal(lisec_event_spool_open(sp, 0, 0, NULL, NULL, &s, err), 0);
  unsigned long long seq = 0;
  assert_int_equal(
      lisec_event_spool_note(s, st, "vm-li-1", 0, "start", NULL, &seq, err), 0);
  assert_int_equal(lisec_event_key_create(key, pub, err), 0);
  assert_int_equal(lisec_event_key_load(key, &k, err), 0);
  assert_int_equal(
      lisec_event_client_new("https://127.0.0.1:1", pub, pub, key, &c, err), 0);
  int other = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  assert_true(other >= 0);
  assert_int_equal(flock(other, LOCK_EX), 0); /* the other flush */
  alarm(10);
  size_t sent = 9;
  assert_int_equal(lisec_event_spool_flush(s, k, c, 16, &sent, NULL, err), -1);
  alarm(0);
  assert_int_equal(sent, 0);
  assert_non_null(strstr(err, "another flush"));
  size_t n = 0;
  assert_int_equal(lisec_event_spool_count(s, &n, NULL, err), 0);
  assert_int_equal(n, 1);
  close(other);
  lisec_event_client_free(c);
  lisec_event_key_free(k);
  lisec_event_spool_free(s);
  remove_tree(dir);
}

/* A spool made by the open is in the directory it names once the open
 * returned: that directory is fsynced (its entry made durable), which the
 * file's own fdatasync at each note does not do; the state file, whose
 * rewrite fsyncs its own directory, may be elsewhere. Seen by strace of a
 * child of this program that only opens the spool (--open-spool PATH):
 * the spool's directory opened O_DIRECTORY and fsynced through that fd.
 * (LeakSanitizer cannot run under ptrace: off in that child alone.) */
static char self[4096];

static void test_new_spool_dir_synced(void **state) {
  (void)state;
  if (system("strace -qq -e trace=none true >/dev/null 2>&1") != 0)
    skip(); /* no strace, or no ptrace here */
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sub[128], sp[160], log[160],
       cmd[8192], line[1024];
  assert_non_null(mkdtemp(dir));
  snprintf(sub, sizeof sub, "%s/spools", dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  snprintf(sp, sizeof sp, "%s/spool", sub);
  snprintf(log, sizeof log, "%s/strace.log", dir);
  snprintf(cmd, sizeof cmd,
           "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "
           "strace -f -qq -e trace=openat,open,fsync -o %s %s --open-spool %s",
           log, self, sp);
  assert_int_equal(system(cmd), 0);
  struct stat sb;
  assert_int_equal(stat(sp, &sb), 0);
  FILE *f = fopen(log, "r");
  assert_non_null(f);
  char opened[160];
  snprintf(opened, sizeof opened, "\"%s\", ", sub);
  int dfd = -1, synced = 0;
  while (fgets(line, sizeof line, f)) {
    const char *eq = strrchr(line, '=');
    char want[32];
    if (strstr(line, opened) && strstr(line, "O_DIRECTORY") && eq)
      dfd = atoi(eq + 1);
    snprintf(want, sizeof want, "fsync(%d)", dfd);
    if (dfd >= 0 && strstr(line, want) && strstr(line, "= 0"))
      synced = 1;
  }
  fclose(f);
  assert_true(dfd >= 0);
  assert_true(synced);
  remove_tree(dir);
}

/* A rewrite stopped between its mkstemp and its rename (a crash, a kill)
 * leaves FILE.tmp.XXXXXX: the next open removes this spool's own, and
 * nothing else: not another file's temporary file, not a name off the
 * pattern, not a symbolic link of the pattern (nor what it points to),
 * not a directory, not another user's file. */
static void test_stale_tmp(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", p[256], err[LISEC_EVENT_ERR_MAX];
  assert_non_null(mkdtemp(dir));
  const char *stale[] = {"spool.tmp.Ab3xYz", "spool.tmp.000000"};
  const char *kept[] = {"spool.tmp.Ab3xY",   "spool.tmp.Ab3xYz1",
                        "spool.tmp.Ab-xYz",  "spool2.tmp.Ab3xYz",
                        "seq.tmp.Ab3xYz",    "spool.corrupt",
                        "xspool.tmp.Ab3xYz", "target"};
  for (size_t i = 0; i < 2; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, stale[i]);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("LSEV1 half a rewrite", f);
    fclose(f);
  }
  for (size_t i = 0; i < 8; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, kept[i]);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
  }
  char target[256];
  snprintf(target, sizeof target, "%s/target", dir);
  snprintf(p, sizeof p, "%s/spool.tmp.LINK00", dir);
  assert_int_equal(symlink(target, p), 0);
  snprintf(p, sizeof p, "%s/spool.tmp.DIR000", dir);
  assert_int_equal(mkdir(p, 0700), 0);
  if (geteuid() == 0) {
    snprintf(p, sizeof p, "%s/spool.tmp.OTHER0", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(chown(p, 65534, 65534), 0);
  }
  reports rep = {0};
  lisec_event_spool *s = NULL;
  snprintf(p, sizeof p, "%s/spool", dir);
  assert_int_equal(lisec_event_spool_open(p, 0, 0, on_report, &rep, &s, err),
                   0);
  lisec_event_spool_free(s);
  struct stat sb;
  for (size_t i = 0; i < 2; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, stale[i]);
    assert_int_equal(lstat(p, &sb), -1);
  }
  for (size_t i = 0; i < 8; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, kept[i]);
    assert_int_equal(lstat(p, &sb), 0);
  }
  snprintf(p, sizeof p, "%s/spool.tmp.LINK00", dir);
  assert_int_equal(lstat(p, &sb), 0);
  assert_true(S_ISLNK(sb.st_mode));
  assert_int_equal(stat(target, &sb), 0);
  snprintf(p, sizeof p, "%s/spool.tmp.DIR000", dir);
  assert_int_equal(lstat(p, &sb), 0);
  if (geteuid() == 0) {
    snprintf(p, sizeof p, "%s/spool.tmp.OTHER0", dir);
    assert_int_equal(lstat(p, &sb), 0);
  }
  assert_non_null(strstr(rep.text, "2 temporary file(s)"));
  remove_tree(dir);
}

/* The reader takes at most max_bytes and one record of the file, not the
 * whole of a file grown larger (it took up to 512 MiB whatever max_bytes
 * said): a larger file is reported at open naming max_bytes and the size
 * it would need; the records within the bound are read (and would be
 * sent), no new event is queued, and a rewrite (here: a corrupted record
 * set aside) keeps the records past the bound as they were. */
static void test_read_bound(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sp[128], st[128],
       err[LISEC_EVENT_ERR_MAX];
  spool_paths(dir, sp, st);
  size_t cap = 256 << 10, total = 400;
  char *buf = malloc(cap);
  assert_non_null(buf);
  size_t *ends = calloc(total, sizeof *ends);
  assert_non_null(ends);
  size_t len = make_records(buf, cap, 1, total, ends);
  assert_true(len > 3 * 16384);
  buf[ends[0] + 50] ^= 0x01; /* the second record corrupted */
  FILE *f = fopen(sp, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  fclose(f);
  assert_int_equal(chmod(sp, 0600), 0);
  /* what fits within 16 KiB and one record, in whole lines, once the
   * corrupted record left the file (the open rewrites it without) */
  size_t within = 1, cut = ends[1] - ends[0];
  while (within + 1 < total &&
         ends[within + 1] - cut <= 16384 + EVSP_RECORD_MAX)
    within++;
  reports rep = {0};
  lisec_event_spool *s = NULL;
  assert_int_equal(
      lisec_event_spool_open(sp, 0, 16384, on_report, &rep, &s, err), 0);
  assert_non_null(strstr(rep.text, "over max_bytes (16384)"));
  assert_non_null(strstr(rep.text, "set max_bytes to at least"));
  assert_non_null(strstr(rep.text, "is corrupted"));
  size_t n = 0, bytes = 0;
  assert_int_equal(lisec_event_spool_count(s, &n, &bytes, err), 0);
  assert_int_equal(n, within); /* the corrupted one left out */
  assert_true(n < total - 1);
  assert_int_equal(bytes, len - (ends[1] - ends[0]));
  unsigned long long seq = 0;
  assert_int_equal(
      lisec_event_spool_note(s, st, "vm-li-1", 0, "stop", NULL, &seq, err), -1);
  assert_non_null(strstr(err, "the event spool is full"));
  lisec_event_spool_free(s);
  /* the file rewritten without the corrupted record, every other kept */
  f = fopen(sp, "rb");
  assert_non_null(f);
  size_t got = fread(buf, 1, cap, f);
  fclose(f);
  evsp_scan sc;
  lisec_err e = {0};
  assert_int_equal(evsp_scan_buf((const uint8_t *)buf, got, &sc, &e), 0);
  assert_int_equal(sc.n, total - 1);
  assert_int_equal(sc.n_bad, 0);
  assert_int_equal(sc.torn_off, got);
  for (size_t i = 0; i < sc.n; i++)
    assert_int_equal(sc.rec[i].seq, i == 0 ? 1 : i + 2);
  evsp_scan_clear(&sc);
  free(ends);
  free(buf);
  remove_tree(dir);
}

/* A spool is one VM's: a note for another VM than the spool's records is
 * refused naming TR103308-4.1, before a seq is taken; the spool's own VM
 * still notes. */
static void test_one_vm(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sp[128], st[128], st2[128],
       err[LISEC_EVENT_ERR_MAX];
  spool_paths(dir, sp, st);
  snprintf(st2, sizeof st2, "%s/seq2", dir);
  lisec_event_spool *s = NULL;
  assert_int_equal(lisec_event_spool_open(sp, 0, 0, NULL, NULL, &s, err), 0);
  unsigned long long seq = 9;
  assert_int_equal(
      lisec_event_spool_note(s, st, "vm-li-1", 0, "start", NULL, &seq, err), 0);
  assert_int_equal(seq, 1);
  assert_int_equal(
      lisec_event_spool_note(s, st2, "vm-li-2", 0, "start", NULL, &seq, err),
      -1);
  assert_int_equal(seq, 0);
  assert_non_null(strstr(err, "TR103308-4.1"));
  assert_non_null(strstr(err, "another VM's events"));
  assert_null(strstr(err, "vm-li"));
  struct stat sb;
  assert_int_equal(stat(st2, &sb), -1); /* no seq taken */
  assert_int_equal(
      lisec_event_spool_note(s, st, "vm-li-1", 0, "stop", NULL, &seq, err), 0);
  assert_int_equal(seq, 2);
  size_t n = 0;
  assert_int_equal(lisec_event_spool_count(s, &n, NULL, err), 0);
  assert_int_equal(n, 2);
  lisec_event_spool_free(s);
  remove_tree(dir);
}

/* The files bad records are set aside in (FILE.corrupt, FILE.rejected) are
 * bounded by max_bytes and rotated, one generation kept: once full, the
 * file becomes FILE.corrupt.1 (replacing the one before) and a new one is
 * begun, so the newest bad record is always kept, the oldest leave first
 * and neither file passes max_bytes (before: the file, once full, kept its
 * oldest records and every newer one was lost, "not kept there (it is
 * full)"). Through the API: a record corrupted on disk, set aside at the
 * next open, forty times over at 16 KiB; each record's own marker says
 * where it went. */
static void test_set_aside_rotated(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sp[128], st[128], cur[160],
       prev[160], err[LISEC_EVENT_ERR_MAX];
  spool_paths(dir, sp, st);
  snprintf(cur, sizeof cur, "%s.corrupt", sp);
  snprintf(prev, sizeof prev, "%s.corrupt.1", sp);
  enum { ROUNDS = 40, MAX = 16384 };
  /* three details of at most 256 bytes: ~0.95 KiB a record, within what
   * lisecd takes (test_unsendable) */
  char pad[3][250];
  for (int i = 0; i < 3; i++) {
    memset(pad[i], 'p', sizeof pad[i]);
    snprintf(pad[i], 6, "pad%d=", i);
    pad[i][5] = 'p';
    pad[i][sizeof pad[i] - 1] = '\0';
  }
  for (int r = 0; r < ROUNDS; r++) {
    reports rep = {0};
    lisec_event_spool *s = NULL;
    assert_int_equal(
        lisec_event_spool_open(sp, 0, MAX, on_report, &rep, &s, err), 0);
    if (r > 0) { /* the last round's record set aside, never "not kept" */
      assert_non_null(strstr(rep.text, "set aside in"));
      assert_null(strstr(rep.text, "not kept there"));
    }
    char mark[32];
    snprintf(mark, sizeof mark, "mark=round-%03d",
             r); /* in the record: "round-NNN" */
    const char *d[] = {mark, pad[0], pad[1], pad[2], NULL};
    unsigned long long seq = 0;
    assert_int_equal(
        lisec_event_spool_note(s, st, "vm-li-1", 0, "error", d, &seq, err), 0);
    lisec_event_spool_free(s);
    /* its only record corrupted inside the padding */
    FILE *f = fopen(sp, "r+b");
    assert_non_null(f);
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, f);
    assert_true(len > 900 && len < sizeof buf);
    char *p = strstr(buf, "pppp");
    assert_non_null(p);
    p[10] = 'q';
    rewind(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
  }
  reports rep = {0};
  lisec_event_spool *s = NULL;
  assert_int_equal(lisec_event_spool_open(sp, 0, MAX, on_report, &rep, &s, err),
                   0);
  assert_null(strstr(rep.text, "not kept there"));
  lisec_event_spool_free(s);
  /* both generations within the bound; the newest record in the current
   * file, the one before it kept, the oldest gone */
  char *now = NULL, *before = NULL;
  size_t now_len = 0, before_len = 0;
  lisec_err e = {0};
  assert_int_equal(
      lisec_file_read(cur, 1 << 20, (uint8_t **)&now, &now_len, &e), 0);
  assert_int_equal(
      lisec_file_read(prev, 1 << 20, (uint8_t **)&before, &before_len, &e), 0);
  assert_true(now_len > 0 && now_len <= MAX);
  assert_true(before_len > MAX / 2 && before_len <= MAX);
  now = realloc(now, now_len + 1), now[now_len] = '\0';
  before = realloc(before, before_len + 1), before[before_len] = '\0';
  char last[32];
  snprintf(last, sizeof last, "round-%03d", ROUNDS - 1);
  assert_non_null(strstr(now, last));
  assert_null(strstr(now, "round-000"));
  assert_null(strstr(before, "round-000"));
  /* every round from the oldest kept to the newest is in one of them, in
   * order, none twice */
  int first = -1;
  for (int r = 0; r < ROUNDS; r++) {
    char m[32];
    snprintf(m, sizeof m, "round-%03d", r);
    int in = (strstr(now, m) != NULL) + (strstr(before, m) != NULL);
    assert_true(in <= 1);
    if (in && first < 0)
      first = r;
    if (first >= 0)
      assert_int_equal(in, 1);
  }
  assert_true(first > 0 && first < ROUNDS - 10);
  struct stat sb;
  assert_int_equal(stat(prev, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  free(now);
  free(before);
  remove_tree(dir);
}

/* FILE.rejected, where a flush sets aside what lisecd will never take, is
 * rotated the same way (spool_set_aside, the one writer of both). */
static void test_rejected_rotated(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sp[128], st[128], cur[160],
       prev[160];
  spool_paths(dir, sp, st);
  snprintf(cur, sizeof cur, "%s.rejected", sp);
  snprintf(prev, sizeof prev, "%s.rejected.1", sp);
  reports rep = {0};
  struct lisec_event_spool s = {.path = sp,
                                .max_events = 4096,
                                .max_bytes = 16384,
                                .report = on_report,
                                .ctx = &rep};
  char rec[1000];
  memset(rec, 'r', sizeof rec);
  rec[sizeof rec - 1] = '\n';
  for (int i = 0; i < 40; i++) {
    char note[64];
    snprintf(note, sizeof note, "# entry %03d\n", i);
    spool_set_aside(&s, ".rejected", note, rec, sizeof rec);
  }
  assert_null(strstr(rep.text, "not kept there"));
  struct stat a, b;
  assert_int_equal(stat(cur, &a), 0);
  assert_int_equal(stat(prev, &b), 0);
  assert_true(a.st_size <= 16384 && b.st_size <= 16384);
  char *now = NULL;
  size_t len = 0;
  lisec_err e = {0};
  assert_int_equal(lisec_file_read(cur, 1 << 20, (uint8_t **)&now, &len, &e),
                   0);
  now = realloc(now, len + 1), now[len] = '\0';
  assert_non_null(strstr(now, "# entry 039\n"));
  free(now);
  /* one entry larger than the bound alone: not kept, said so */
  char *huge = malloc(20000);
  assert_non_null(huge);
  memset(huge, 'h', 20000);
  spool_set_aside(&s, ".rejected", "# huge\n", huge, 20000);
  free(huge);
  assert_non_null(strstr(rep.text, "over max_bytes 16384"));
  remove_tree(dir);
}

/* An event larger than lisecd takes (a signed batch's event is at most
 * EV_EVENT_CEILING bytes as recorded, {"digest":...,"event":...}) can
 * never be sent. The note refuses it, naming TR103308-4.1 and its seq
 * (taken: a gap at lisecd, as for a full spool), so its caller is told
 * now; before, it was queued and the flush stopped at it for good ("signed
 * batch: event 0: empty or over 1024 bytes", lisecd never asked), every
 * later event held behind it until the spool was full. One already in a
 * spool (queued so before) is set aside in FILE.rejected with why and
 * reported, and the flush goes on with the events after it. */
static void test_unsendable(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sp[128], st[128], key[128],
       pub[128], rej[160], err[LISEC_EVENT_ERR_MAX];
  spool_paths(dir, sp, st);
  snprintf(key, sizeof key, "%s/k", dir);
  snprintf(pub, sizeof pub, "%s/k.pub", dir);
  snprintf(rej, sizeof rej, "%s.rejected", sp);
  char v[4][260];
  const char *big[5] = {0};
  for (int i = 0; i < 4; i++) {
    memset(v[i], 'x', sizeof v[i]);
    memcpy(v[i], "a=", 2);
    v[i][0] = (char)('a' + i);
    v[i][sizeof v[i] - 4] = '\0'; /* a 254-byte value, within its bound */
    big[i] = v[i];
  }
  reports rep = {0};
  lisec_event_spool *s = NULL;
  assert_int_equal(lisec_event_spool_open(sp, 0, 0, on_report, &rep, &s, err),
                   0);
  unsigned long long seq = 0;
  assert_int_equal(
      lisec_event_spool_note(s, st, "vm-li-1", 0, "error", big, &seq, err), -1);
  assert_int_equal(seq, 1);
  assert_non_null(strstr(err, "TR103308-4.1"));
  assert_non_null(strstr(err, "seq 1 not queued"));
  size_t n = 9;
  assert_int_equal(lisec_event_spool_count(s, &n, NULL, err), 0);
  assert_int_equal(n, 0);
  lisec_event_spool_free(s);

  /* one queued before the note refused it, then a good one */
  char *ev = NULL, *rec = NULL;
  size_t len = 0;
  uint64_t got = 0;
  lisec_err e = {0};
  assert_int_equal(
      lisec_event_make("vm-li-1", 2, 1800000000, "error", big, &ev, err), 0);
  assert_int_equal(evsp_encode(ev, strlen(ev), &rec, &len, &got, &e), 0);
  FILE *f = fopen(sp, "ab");
  assert_non_null(f);
  assert_int_equal(fwrite(rec, 1, len, f), len);
  fclose(f);
  free(ev);
  free(rec);
  assert_int_equal(lisec_event_spool_open(sp, 0, 0, on_report, &rep, &s, err),
                   0);
  FILE *sf = fopen(st, "w");
  assert_non_null(sf);
  fputs("seq 2\n", sf);
  fclose(sf);
  assert_int_equal(
      lisec_event_spool_note(s, st, "vm-li-1", 0, "stop", NULL, &seq, err), 0);
  assert_int_equal(seq, 3);
  lisec_event_key *k = NULL;
  lisec_event_client *c = NULL;
  assert_int_equal(lisec_event_key_create(key, pub, err), 0);
  assert_int_equal(lisec_event_key_load(key, &k, err), 0);
  assert_int_equal(
      lisec_event_client_new("https://127.0.0.1:1", pub, pub, key, &c, err), 0);
  size_t sent = 9;
  assert_int_equal(lisec_event_spool_flush(s, k, c, 16, &sent, NULL, err), -1);
  assert_int_equal(sent, 0);
  /* the flush went past it, to lisecd (out of reach here) */
  assert_non_null(strstr(err, "lisecd not reached"));
  assert_non_null(strstr(rep.text, "TR103308-4.1"));
  assert_non_null(strstr(rep.text, "seq 2 cannot be sent"));
  assert_int_equal(lisec_event_spool_count(s, &n, NULL, err), 0);
  assert_int_equal(n, 1); /* the good one, still queued */
  char *kept = NULL;
  size_t klen = 0;
  assert_int_equal(lisec_file_read(rej, 1 << 20, (uint8_t **)&kept, &klen, &e),
                   0);
  assert_non_null(strstr(kept, "\"seq\":2,"));
  assert_null(strstr(kept, "\"seq\":3,"));
  free(kept);
  lisec_event_client_free(c);
  lisec_event_key_free(k);
  lisec_event_spool_free(s);
  remove_tree(dir);
}

/* A spool written out of order (a state file reset under a long outage:
 * records at seqs above, then below, those it held) is read in time
 * linear in its records. The check for a second record of one seq
 * searched every record found before: 40,000 records then 40,000 below
 * them took about a minute to read (200,000: 398 s at open), at every
 * open and flush until rewritten; a timer of CPU time ends the test if it
 * still reads. A second record of one seq among them is still found, once. */
static void test_out_of_order(void **state) {
  (void)state;
  enum { N = 100000 };
  size_t cap = (2 * N + 1) * 400, len = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  len += make_records(buf + len, cap - len, N + 1, N, NULL);
  len += make_records(buf + len, cap - len, 1, N, NULL);
  len += make_records(buf + len, cap - len, 7, 1, NULL); /* seq 7 again */
  evsp_scan sc;
  lisec_err e = {0};
  /* by the CPU time it takes (SIGVTALRM ends the test), so a loaded
   * machine's wait does not count */
  struct itimerval cpu = {.it_value = {.tv_sec = 20}}, off = {0};
  assert_int_equal(setitimer(ITIMER_VIRTUAL, &cpu, NULL), 0);
  assert_int_equal(evsp_scan_buf((const uint8_t *)buf, len, &sc, &e), 0);
  assert_int_equal(setitimer(ITIMER_VIRTUAL, &off, NULL), 0);
  assert_int_equal(sc.n, 2 * N);
  assert_int_equal(sc.rec[0].seq, N + 1);
  assert_int_equal(sc.rec[N].seq, 1);
  assert_int_equal(sc.rec[2 * N - 1].seq, N);
  assert_int_equal(sc.n_bad, 1);
  assert_non_null(strstr(sc.bad[0].why, "a second record of seq 7"));
  assert_int_equal(sc.torn_off, len);
  evsp_scan_clear(&sc);
  free(buf);
}

/* The recorded length of vm-li-1's error event at seq with details d
 * ({"digest":"<64 hex>","event":<canonical>}: the made text, {"event":...},
 * and 76 bytes). */
static size_t recorded_len(uint64_t seq, const char *const *d) {
  char *ev = NULL, err[LISEC_EVENT_ERR_MAX];
  assert_int_equal(
      lisec_event_make("vm-li-1", seq, 1800000000, "error", d, &ev, err), 0);
  size_t n = strlen(ev) + 76;
  free(ev);
  return n;
}

/* An event accepted into the spool can always be signed again within
 * lisecd's bound: one that fits at its own seq but not at a longer one
 * (re-signed after the VM's counter went back, at lisecd's last seq and
 * above it) is refused when noted, naming TR103308-4.1 and the seq that
 * becomes a gap; before, it was queued, and its renumbering (or the probe
 * that shows lisecd the rollback, signed at lisecd's last seq) was over
 * the bound, which stopped every flush at it. One that fits at the
 * longest seq (16 digits) is queued, and fits made again there. */
static void test_longest_seq(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sp[128], st[128],
       err[LISEC_EVENT_ERR_MAX];
  spool_paths(dir, sp, st);
  char v[4][260];
  const char *d[5] = {0};
  for (int i = 0; i < 4; i++) {
    memset(v[i], 'x', sizeof v[i]);
    v[i][0] = (char)('a' + i);
    v[i][1] = '=';
    v[i][2 + 220] = '\0';
    d[i] = v[i];
  }
  /* the last value sized so that the event at seq 1 is exactly 1024 bytes
   * as recorded: over it at seq 10 */
  size_t at1 = recorded_len(1, d), val = 220 + (EV_EVENT_CEILING - at1);
  assert_true(val > 0 && val <= EV_DETAIL_VALUE_MAX);
  memset(v[3] + 2, 'x', val);
  v[3][2 + val] = '\0';
  assert_int_equal(recorded_len(1, d), EV_EVENT_CEILING);
  char *ev = NULL, *longest = NULL;
  lisec_err e = {0};
  assert_int_equal(
      lisec_event_make("vm-li-1", 1, 1800000000, "error", d, &ev, err), 0);
  assert_int_equal(spool_sendable(ev, &e), 0); /* fits at its own seq */
  assert_int_equal(spool_event_at(ev, strlen(ev), 10, &longest, &e), 0);
  assert_int_equal(spool_sendable(longest, &e), LISEC_ETOOBIG);
  free(longest);
  assert_int_equal(spool_sendable_any_seq(ev, &e), LISEC_ETOOBIG);
  free(ev);

  reports rep = {0};
  lisec_event_spool *s = NULL;
  assert_int_equal(lisec_event_spool_open(sp, 0, 0, on_report, &rep, &s, err),
                   0);
  unsigned long long seq = 0;
  assert_int_equal(lisec_event_spool_note(s, st, "vm-li-1", 1800000000, "error",
                                          d, &seq, err),
                   -1);
  assert_int_equal(seq, 1);
  assert_non_null(strstr(err, "TR103308-4.1: the event cannot be sent"));
  assert_non_null(strstr(err, "at any seq the spool may send it at"));
  assert_non_null(strstr(err, "seq 1 not queued"));
  size_t n = 9;
  assert_int_equal(lisec_event_spool_count(s, &n, NULL, err), 0);
  assert_int_equal(n, 0);

  /* 15 bytes shorter: 1024 at the longest seq, queued */
  v[3][2 + val - 15] = '\0';
  assert_int_equal(recorded_len(EV_SEQ_MAX, d), EV_EVENT_CEILING);
  assert_int_equal(lisec_event_spool_note(s, st, "vm-li-1", 1800000000, "error",
                                          d, &seq, err),
                   0);
  assert_int_equal(seq, 2);
  assert_int_equal(lisec_event_spool_count(s, &n, NULL, err), 0);
  assert_int_equal(n, 1);
  /* one byte more: 1025 at the longest seq, refused though it fits at 3 */
  v[3][2 + val - 15] = 'x';
  v[3][2 + val - 14] = '\0';
  assert_true(recorded_len(3, d) < EV_EVENT_CEILING);
  assert_int_equal(lisec_event_spool_note(s, st, "vm-li-1", 1800000000, "error",
                                          d, &seq, err),
                   -1);
  assert_non_null(strstr(err, "seq 3 not queued"));
  lisec_event_spool_free(s);
  remove_tree(dir);
}

/* Two handles on one spool, with different max_bytes (lisec-ne's and
 * lisec-event's settings): the one with the smaller bound reads only the
 * head of a spool the other filled, yet finds the record at any seq in the
 * whole file (spool_find_seq, what tells a counter gone back from events
 * lisecd took before): before, not seeing lisecd's last event within its
 * own bound, it took the spool for one whose counter went back. The search
 * reads the file as the reader does, a window at a time: a record past a
 * line longer than a window, one after a record whose newline was
 * damaged, and a whole last record without its newline are found;
 * another VM's record at the seq, a seq not there, and a bad record are
 * not. */
static void test_find_past_bound(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-spool-XXXXXX", sp[128], st[128],
       err[LISEC_EVENT_ERR_MAX];
  spool_paths(dir, sp, st);
  char v[3][260];
  const char *d[4] = {0};
  for (int i = 0; i < 3; i++) {
    memset(v[i], 'x', sizeof v[i]);
    v[i][0] = (char)('a' + i);
    v[i][1] = '=';
    v[i][sizeof v[i] - 12] = '\0';
    d[i] = v[i];
  }
  lisec_event_spool *big = NULL, *small = NULL;
  assert_int_equal(lisec_event_spool_open(sp, 0, 0, NULL, NULL, &big, err), 0);
  unsigned long long seq = 0;
  for (int i = 0; i < 40; i++)
    assert_int_equal(lisec_event_spool_note(big, st, "vm-li-1", 1800000000,
                                            "delivery", d, &seq, err),
                     0);
  assert_int_equal(seq, 40);
  reports rep = {0};
  assert_int_equal(
      lisec_event_spool_open(sp, 0, 16384, on_report, &rep, &small, err), 0);
  assert_non_null(strstr(rep.text, "over max_bytes (16384)"));
  size_t n = 0, bytes = 0;
  assert_int_equal(lisec_event_spool_count(small, &n, &bytes, err), 0);
  assert_true(n < 40); /* seq 40 is past what it reads */
  assert_int_equal(lisec_event_spool_count(big, &n, NULL, err), 0);
  assert_int_equal(n, 40);
  char *payload = NULL;
  assert_int_equal(spool_find_seq(small, "vm-li-1", 40, &payload, err), 1);
  assert_non_null(strstr(payload, "\"seq\":40,"));
  free(payload);
  assert_int_equal(spool_find_seq(small, "vm-li-1", 1, &payload, err), 1);
  assert_non_null(strstr(payload, "\"seq\":1,"));
  free(payload);
  assert_int_equal(spool_find_seq(small, "vm-li-1", 41, &payload, err), 0);
  assert_null(payload);
  assert_int_equal(spool_find_seq(small, "vm-li-2", 40, &payload, err), 0);
  lisec_event_spool_free(big);
  lisec_event_spool_free(small);

  /* a line longer than the search's window, then records: 101 with its
   * newline damaged, 102 after it, 103 corrupted, 104 without its newline
   * at the end of the file */
  size_t cap = 256 << 10, len = 0, ends[4];
  char *buf = malloc(cap);
  assert_non_null(buf);
  memset(buf, 'g', 100000);
  len = 100000;
  buf[len++] = '\n';
  size_t from = len;
  len += make_records(buf + len, cap - len, 101, 4, ends);
  buf[from + ends[0] - 1] = 'Z';    /* 101's newline */
  buf[from + ends[1] + 80] ^= 0x01; /* inside 103 */
  len--;                            /* 104's newline */
  FILE *f = fopen(sp, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  fclose(f);
  lisec_event_spool one = {sp, 0, 16384, NULL, NULL};
  for (uint64_t q = 101; q <= 104; q++) {
    payload = NULL;
    int found = spool_find_seq(&one, "vm-li-1", q, &payload, err);
    assert_int_equal(found, q == 103 ? 0 : 1);
    if (found) {
      char want[32];
      snprintf(want, sizeof want, "\"seq\":%llu,", (unsigned long long)q);
      assert_non_null(strstr(payload, want));
    }
    free(payload);
  }
  /* no file: none */
  assert_int_equal(unlink(sp), 0);
  assert_int_equal(spool_find_seq(&one, "vm-li-1", 101, &payload, err), 0);
  free(buf);
  remove_tree(dir);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--open-spool") == 0) {
    char err[LISEC_EVENT_ERR_MAX];
    lisec_event_spool *s = NULL;
    int rc = lisec_event_spool_open(argv[2], 0, 0, NULL, NULL, &s, err);
    lisec_event_spool_free(s);
    return rc ? 1 : 0;
  }
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0)
    self[n] = '\0';
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_flipped),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_oversized),
      cmocka_unit_test(test_lib),
      cmocka_unit_test(test_shared),
      cmocka_unit_test(test_file_rights),
      cmocka_unit_test(test_bad_run),
      cmocka_unit_test(test_flush_busy),
      cmocka_unit_test(test_new_spool_dir_synced),
      cmocka_unit_test(test_stale_tmp),
      cmocka_unit_test(test_read_bound),
      cmocka_unit_test(test_one_vm),
      cmocka_unit_test(test_set_aside_rotated),
      cmocka_unit_test(test_rejected_rotated),
      cmocka_unit_test(test_unsendable),
      cmocka_unit_test(test_out_of_order),
      cmocka_unit_test(test_longest_seq),
      cmocka_unit_test(test_find_past_bound)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
