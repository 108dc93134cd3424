/* liblisec-events, the spool's file (include/lisec/events.h; docs/events.md
 * "The spool"): an LI VM's events kept in one append-only file from the moment
 * they are made until lisecd answered 201 for them, so a restart of the
 * VM's program, or a lisecd out of reach longer than a queue in memory
 * holds, loses none (TR 103 308 §4.1: the LI VM's events are logged). The
 * records (spoolrec.h) are independent lines with a checksum each: a bad
 * one is set aside and the others still go. Two locks: FILE.lock while
 * the file is read or changed (never while lisecd is asked, so making an
 * event never waits for the network), FILE.send.lock while one sender
 * talks to lisecd. An event is taken under FILE.lock from its seq to its
 * record, so the file holds events in the order of their seqs, and only
 * for the VM whose events the file holds (a spool is one VM's). Reads take
 * at most max_bytes and one record of the file; rewrites copy what such a
 * read left. Sending it is libspool_send.c's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events/spool.h"
#include "lisec/events.h"

#define EVENTS_DEFAULT 4096
#define EVENTS_LIMIT 1000000
#define BYTES_DEFAULT (4u << 20)
#define BYTES_MIN (16u << 10)
#define BYTES_LIMIT (256u << 20)

int spool_fail(char err[LISEC_EVENT_ERR_MAX], const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, LISEC_EVENT_ERR_MAX, fmt, ap);
    va_end(ap);
  }
  return -1;
}

void spool_say(const lisec_event_spool *s, const char *fmt, ...) {
  char msg[2 * LISEC_EVENT_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (s->report)
    s->report(s->ctx, msg);
  else
    fprintf(stderr, "liblisec-events: %s\n", msg);
}

void spool_contents_clear(contents *c) {
  free(c->data);
  evsp_scan_clear(&c->scan);
  memset(c, 0, sizeof *c);
}

/* The spool must be this program's own file, writable by it alone: what
 * it holds is signed as the VM's event when sent, so a spool another user
 * may write would have the VM sign what that user chose. A symbolic link
 * is never followed (O_NOFOLLOW where the spool is opened: ELOOP). Only
 * readable by others: made 0600 (fd may be read-only; fchmod needs the
 * owner, not write access). */
static int rights(const lisec_event_spool *s, int fd, const struct stat *st,
                  char err[LISEC_EVENT_ERR_MAX]) {
  if (st->st_uid != geteuid())
    return spool_fail(
        err,
        "TR103308-4.1: the spool %.120s is owned by uid %u, not by "
        "this program's (uid %u): refused, its events would be "
        "signed as the VM's",
        s->path, (unsigned)st->st_uid, (unsigned)geteuid());
  if (st->st_mode & 022)
    return spool_fail(
        err,
        "TR103308-4.1: the spool %.120s is writable by others (mode "
        "%04o): refused, its events would be signed as the VM's; "
        "chmod 600 it once its records are checked",
        s->path, (unsigned)(st->st_mode & 07777));
  if ((st->st_mode & 0177) && fchmod(fd, 0600) != 0)
    return spool_fail(err, "%.160s: cannot make the spool 0600 (%.60s)",
                      s->path, strerror(errno));
  if (st->st_mode & 0177)
    spool_say(s,
              "TR103308-4.1: %.160s: the spool was readable by others (mode "
              "%04o): made 0600",
              s->path, (unsigned)(st->st_mode & 07777));
  return 0;
}

/* open()'s failure on the spool: a symbolic link named as one. */
static int open_failed(const lisec_event_spool *s, const char *what,
                       char err[LISEC_EVENT_ERR_MAX]) {
  if (errno == ELOOP)
    return spool_fail(
        err,
        "TR103308-4.1: the spool %.160s is a symbolic link: refused "
        "(it must be the program's own file)",
        s->path);
  return spool_fail(err, "%.160s: cannot %s the spool (%.60s)", s->path, what,
                    strerror(errno));
}

/* An exclusive flock on path+suffix (op: LOCK_EX, or with LOCK_NB not to
 * wait: EWOULDBLOCK); *fd to give to spool_unlock. */
int spool_lock_op(const lisec_event_spool *s, const char *suffix, int op,
                  int *fd, char err[LISEC_EVENT_ERR_MAX]) {
  char p[4096];
  if (snprintf(p, sizeof p, "%s%s", s->path, suffix) >= (int)sizeof p)
    return spool_fail(err, "the spool's path is too long");
  *fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  int rc;
  while ((rc = *fd >= 0 ? flock(*fd, op) : -1) != 0 && errno == EINTR)
    continue;
  if (rc == 0)
    return 0;
  int saved = errno;
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
  spool_fail(err, "%.160s: cannot lock (%.60s)", p, strerror(saved));
  errno = saved;
  return -1;
}

static int lock(const lisec_event_spool *s, const char *suffix, int *fd,
                char err[LISEC_EVENT_ERR_MAX]) {
  return spool_lock_op(s, suffix, LOCK_EX, fd, err);
}

void spool_unlock(int fd) {
  if (fd < 0)
    return;
  flock(fd, LOCK_UN);
  close(fd);
}

static int write_all(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The most the reader takes of the file at once: max_bytes (what appends
 * fill it to) and one record more. */
static size_t read_bound(const lisec_event_spool *s) {
  return s->max_bytes + EVSP_RECORD_MAX;
}

/* The spool file's bytes (absent: none), at most read_bound of them: a
 * larger file (grown under a larger max_bytes, or by another writer) is
 * read up to the last newline within the bound, the rest left for the
 * rewrite to copy (c->rest), so memory stays bounded by the setting. */
static int read_spool(const lisec_event_spool *s, contents *c,
                      char err[LISEC_EVENT_ERR_MAX]) {
  memset(c, 0, sizeof *c);
  int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return evsp_scan_buf(NULL, 0, &c->scan, NULL)
               ? spool_fail(err, "out of memory")
               : 0;
  if (fd < 0)
    return open_failed(s, "read", err);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int saved = errno;
    close(fd);
    return spool_fail(err, "%.160s: cannot read the spool (%.60s)", s->path,
                      strerror(saved));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return spool_fail(err, "%.160s: not a spool (not a regular file)", s->path);
  }
  if (rights(s, fd, &st, err)) {
    close(fd);
    return -1;
  }
  size_t size = (size_t)st.st_size, got = 0;
  size_t len = size > read_bound(s) ? read_bound(s) : size;
  c->data = malloc(len ? len : 1);
  while (c->data && got < len) {
    ssize_t n = read(fd, c->data + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  if (!c->data || got != len) {
    spool_contents_clear(c);
    return spool_fail(err, "%.160s: cannot read the spool", s->path);
  }
  if (len < size) { /* over the bound: whole lines only */
    const uint8_t *nl = memrchr(c->data, '\n', len);
    if (nl)
      len = (size_t)(nl - c->data) + 1;
  }
  c->len = len;
  c->rest = size - len;
  lisec_err e = {0};
  if (evsp_scan_buf(c->data, len, &c->scan, &e)) {
    spool_contents_clear(c);
    return spool_fail(err, "out of memory");
  }
  return 0;
}

static int sync_dir(const lisec_event_spool *s);

/* Appends what the spool cannot keep to path+suffix (0600, fsync), so an
 * operator can look at it. Each such file holds at most max_bytes: when
 * the next entry would pass that, the file becomes path+suffix+".1" (the
 * one generation kept, replacing the one before) and a new one is begun,
 * so the newest evidence is always kept, the oldest leaves first, and the
 * two together hold at most twice max_bytes. Only an entry larger than
 * max_bytes on its own is not kept (reported). Each suffix has one writer
 * at a time: FILE.corrupt under FILE.lock (tidy), FILE.rejected under
 * FILE.send.lock (a flush). */
void spool_set_aside(const lisec_event_spool *s, const char *suffix,
                     const char *note, const void *data, size_t len) {
  char p[4096], old[4100];
  snprintf(p, sizeof p, "%s%s", s->path, suffix);
  snprintf(old, sizeof old, "%s.1", p);
  size_t add = strlen(note) + len + 1;
  if (add > s->max_bytes) {
    spool_say(s, "%.160s: not kept there (%zu bytes, over max_bytes %zu)", p,
              add, s->max_bytes);
    return;
  }
  int fd =
      open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) != 0) {
    close(fd);
    fd = -1;
  }
  if (fd >= 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      (size_t)st.st_size + add > s->max_bytes) {
    /* full: it becomes the previous generation; a new one is begun */
    close(fd);
    fd = -1;
    if (rename(p, old) == 0) {
      sync_dir(s);
      spool_say(s,
                "%.160s reached max_bytes (%zu): kept as %.160s (the "
                "previous one removed), a new one begun",
                p, s->max_bytes, old);
      fd = open(p,
                O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
                0600);
    }
    if (fd >= 0 && fstat(fd, &st) != 0) {
      close(fd);
      fd = -1;
    }
  }
  if (fd < 0 || !S_ISREG(st.st_mode)) {
    spool_say(s, "%.160s: not kept there (%.60s)", p,
              fd < 0 ? strerror(errno) : "not a regular file");
    if (fd >= 0)
      close(fd);
    return;
  }
  int ok = write_all(fd, note, strlen(note)) == 0 &&
           write_all(fd, data, len) == 0 &&
           (len && ((const uint8_t *)data)[len - 1] == '\n'
                ? 0
                : write_all(fd, "\n", 1)) == 0 &&
           fsync(fd) == 0;
  if (!ok)
    spool_say(s, "%.160s: not kept there (%.60s)", p, strerror(errno));
  close(fd);
  if (ok && st.st_size == 0)
    sync_dir(s); /* a new file: its name kept too */
}

/* fsyncs the directory holding the spool, so a name made or changed in it
 * (the spool created, a rewrite renamed in, temporary files removed)
 * survives a power loss: fsync of the file alone does not keep its
 * directory entry, and the state file's directory may be another. */
static int sync_dir(const lisec_event_spool *s) {
  char *copy = strdup(s->path);
  int rc = -1;
  if (copy) {
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rc = dfd >= 0 && fsync(dfd) == 0 ? 0 : -1;
    if (dfd >= 0)
      close(dfd);
  }
  free(copy);
  return rc;
}

/* Under FILE.lock: replaces the spool by head[0..len) and the file's bytes
 * from byte from on (the part a bounded read left unread, copied as it
 * is; from at the end: none) durably: FILE.tmp.XXXXXX (0600), fsync,
 * rename, the directory fsynced. */
int spool_rewrite(const lisec_event_spool *s, const uint8_t *head, size_t len,
                  size_t from, char err[LISEC_EVENT_ERR_MAX]) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", s->path) >= (int)sizeof tmp)
    return spool_fail(err, "the spool's path is too long");
  int fd = mkstemp(tmp); /* 0600, O_EXCL */
  if (fd < 0)
    return spool_fail(err, "%.160s: cannot rewrite the spool (%.60s)", s->path,
                      strerror(errno));
  int ok = write_all(fd, head, len) == 0;
  int src = ok ? open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
  if (src >= 0 && lseek(src, (off_t)from, SEEK_SET) != (off_t)from)
    ok = 0;
  else if (src < 0 && !(ok && errno == ENOENT && from == 0))
    ok = 0; /* the spool gone is nothing to copy; any other failure is */
  uint8_t buf[65536];
  ssize_t n;
  while (ok && src >= 0 && (n = read(src, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    ok = n > 0 && write_all(fd, buf, (size_t)n) == 0;
  }
  ok = ok && fsync(fd) == 0 && rename(tmp, s->path) == 0;
  int saved = errno;
  if (src >= 0)
    close(src);
  close(fd);
  if (!ok) {
    unlink(tmp);
    return spool_fail(err, "%.160s: cannot rewrite the spool (%.60s)", s->path,
                      strerror(saved));
  }
  sync_dir(s);
  return 0;
}

static int by_seq(const void *a, const void *b) {
  uint64_t x = ((const evsp_rec *)a)->seq, y = ((const evsp_rec *)b)->seq;
  return x < y ? -1 : x > y;
}

int spool_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int spool_sendable(const char *event, lisec_err *e) {
  char *stmt = NULL;
  int rc = ev_signed_batch_statement(&event, 1, EV_EVENT_CEILING, &stmt, e);
  free(stmt);
  return rc;
}

static int dropped(const drop_set *d, const evsp_rec *r) {
  if (!d || strcmp(d->vm, r->vm) != 0)
    return 0;
  return d->n &&
         bsearch(&r->seq, d->seqs, d->n, sizeof *d->seqs, spool_cmp_u64);
}

/* Under FILE.lock: reads the spool into *c; sets aside and reports what is
 * no good record (a torn tail, corrupted or duplicate records), leaves out
 * what drop names, and when that changed anything rewrites the spool
 * (temporary file, fsync, rename) with the good records in seq order, each
 * ended by its newline; *c is then what the file holds. */
int spool_tidy(const lisec_event_spool *s, const drop_set *drop, contents *c,
               char err[LISEC_EVENT_ERR_MAX]) {
  if (read_spool(s, c, err))
    return -1;
  evsp_scan *sc = &c->scan;
  int change = sc->n_bad > 0 || sc->torn_off < c->len || sc->unterminated;
  for (size_t i = 0; i < sc->n_bad; i++) {
    char note[160];
    snprintf(note, sizeof note, "# byte %zu of the spool: %s\n", sc->bad[i].off,
             sc->bad[i].why);
    spool_say(
        s,
        "TR103308-4.1: %.160s: the record at byte %zu (%zu bytes) is %s: not "
        "sent, set aside in %.160s.corrupt",
        s->path, sc->bad[i].off, sc->bad[i].len, sc->bad[i].why, s->path);
    spool_set_aside(s, ".corrupt", note, c->data + sc->bad[i].off,
                    sc->bad[i].len);
  }
  if (sc->torn_off < c->len && c->rest) { /* no newline within the bound */
    char note[160];
    snprintf(note, sizeof note,
             "# byte %zu of the spool: a line of over %zu bytes\n",
             sc->torn_off, c->len - sc->torn_off);
    spool_say(
        s,
        "TR103308-4.1: %.160s: %zu bytes at byte %zu hold no newline within "
        "the spool's read bound (max_bytes %zu and one record): no record, "
        "cut off and set aside in %.160s.corrupt",
        s->path, c->len - sc->torn_off, sc->torn_off, s->max_bytes, s->path);
    spool_set_aside(s, ".corrupt", note, c->data + sc->torn_off,
                    c->len - sc->torn_off);
  } else if (sc->torn_off < c->len) {
    char note[160];
    snprintf(note, sizeof note, "# byte %zu of the spool: a torn last record\n",
             sc->torn_off);
    spool_say(
        s,
        "TR103308-4.1: %.160s: a torn last record (%zu bytes at byte %zu: its "
        "writer stopped mid-write) cut off, "
        "set aside in %.160s.corrupt; its event was never reported queued",
        s->path, c->len - sc->torn_off, sc->torn_off, s->path);
    spool_set_aside(s, ".corrupt", note, c->data + sc->torn_off,
                    c->len - sc->torn_off);
  }
  for (size_t i = 0; i + 1 < sc->n && !change; i++)
    change = sc->rec[i].seq > sc->rec[i + 1].seq;
  for (size_t i = 0; i < sc->n && !change; i++)
    change = dropped(drop, &sc->rec[i]);
  if (!change)
    return 0;
  /* no good record, only bad ones: rec may be NULL, never given to qsort */
  if (sc->n)
    qsort(sc->rec, sc->n, sizeof *sc->rec, by_seq);
  size_t cap = 1, at = 0;
  for (size_t i = 0; i < sc->n; i++)
    cap += sc->rec[i].len + 1;
  uint8_t *out = malloc(cap);
  if (!out)
    return spool_contents_clear(c), spool_fail(err, "out of memory");
  for (size_t i = 0; i < sc->n; i++) {
    if (dropped(drop, &sc->rec[i]))
      continue;
    size_t line = sc->rec[i].payload_off + sc->rec[i].payload_len -
                  sc->rec[i].off; /* without its end */
    memcpy(out + at, c->data + sc->rec[i].off, line);
    at += line;
    out[at++] = '\n';
  }
  if (spool_rewrite(s, out, at, c->len, err)) {
    free(out);
    spool_contents_clear(c);
    return -1;
  }
  size_t rest = c->rest;
  spool_contents_clear(c);
  c->data = out;
  c->len = at;
  c->rest = rest;
  lisec_err e = {0};
  if (evsp_scan_buf(c->data, c->len, &c->scan, &e))
    return spool_contents_clear(c), spool_fail(err, "out of memory");
  return 0;
}

/* Whether name is one of this spool's temporary files: base.tmp. and the
 * six letters or digits mkstemp puts in place of XXXXXX. */
static int own_tmp_name(const char *name, const char *base) {
  size_t n = strlen(base);
  if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp.", 5) != 0)
    return 0;
  const char *x = name + n + 5;
  size_t k = 0;
  for (; x[k]; k++)
    if (!((x[k] >= 'a' && x[k] <= 'z') || (x[k] >= 'A' && x[k] <= 'Z') ||
          (x[k] >= '0' && x[k] <= '9')))
      return 0;
  return k == 6;
}

/* Under FILE.lock (every rewrite holds it, so none is under way): removes
 * the FILE.tmp.XXXXXX a rewrite stopped between mkstemp and rename (a
 * crash, a kill) left beside the spool. Only this spool's own pattern,
 * only regular files of this program's user; a symbolic link or anything
 * else of that name is left alone (never followed: lstat, unlinkat). */
static void remove_stale_tmp(const lisec_event_spool *s) {
  char *d = strdup(s->path), *b = strdup(s->path);
  int dfd = d && b ? open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
  const char *base = b ? basename(b) : "";
  size_t removed = 0;
  struct dirent *e;
  while (dir && (e = readdir(dir))) {
    struct stat st;
    if (!own_tmp_name(e->d_name, base) ||
        fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode) || st.st_uid != geteuid())
      continue;
    if (unlinkat(dfd, e->d_name, 0) == 0)
      removed++;
    else
      spool_say(s, "%.160s.tmp.*: cannot remove %.60s (%.60s)", s->path,
                e->d_name, strerror(errno));
  }
  if (removed) {
    fsync(dfd);
    spool_say(
        s,
        "%.160s: %zu temporary file(s) of a rewrite that stopped before its "
        "rename (FILE.tmp.XXXXXX) removed; the spool itself is whole",
        s->path, removed);
  }
  if (dir)
    closedir(dir); /* closes dfd */
  else if (dfd >= 0)
    close(dfd);
  free(d);
  free(b);
}

/* tidy under FILE.lock. */
int spool_tidy_locked(const lisec_event_spool *s, const drop_set *drop,
                      contents *c, char err[LISEC_EVENT_ERR_MAX]) {
  int fd = -1;
  memset(c, 0, sizeof *c);
  if (lock(s, ".lock", &fd, err))
    return -1;
  int rc = spool_tidy(s, drop, c, err);
  spool_unlock(fd);
  return rc;
}

/* At open, under FILE.lock: stale temporary files removed, the spool
 * tidied, and a spool over its read bound reported (once, here). */
static int open_locked(const lisec_event_spool *s,
                       char err[LISEC_EVENT_ERR_MAX]) {
  int fd = -1;
  contents c;
  memset(&c, 0, sizeof c);
  if (lock(s, ".lock", &fd, err))
    return -1;
  remove_stale_tmp(s);
  int rc = spool_tidy(s, NULL, &c, err);
  spool_unlock(fd);
  if (!rc && c.rest)
    spool_say(
        s,
        "TR103308-4.1: %.160s: the spool is %zu bytes, over max_bytes (%zu) "
        "and one record, what it reads at once: its first %zu bytes are "
        "read and sent, the rest once those left it; no new event is queued "
        "until it is below max_bytes (set max_bytes to at least %zu to read "
        "it whole)",
        s->path, c.len + c.rest, s->max_bytes, c.len, c.len + c.rest);
  spool_contents_clear(&c);
  return rc;
}

int lisec_event_spool_open(const char *path, size_t max_events,
                           size_t max_bytes, lisec_event_spool_report_fn report,
                           void *ctx, lisec_event_spool **out,
                           char err[LISEC_EVENT_ERR_MAX]) {
  *out = NULL;
  if (!path || !*path || strlen(path) > 3000)
    return spool_fail(err, "a spool file path is required");
  if (max_events > EVENTS_LIMIT)
    return spool_fail(err, "a spool holds 1 to %d events", EVENTS_LIMIT);
  if (max_bytes && (max_bytes < BYTES_MIN || max_bytes > BYTES_LIMIT))
    return spool_fail(err, "a spool holds %u KiB to %u MiB", BYTES_MIN >> 10,
                      BYTES_LIMIT >> 20);
  lisec_event_spool *s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path))) {
    free(s);
    return spool_fail(err, "out of memory");
  }
  s->max_events = max_events ? max_events : EVENTS_DEFAULT;
  s->max_bytes = max_bytes ? max_bytes : BYTES_DEFAULT;
  s->report = report;
  s->ctx = ctx;
  /* made here: its directory entry made durable too (sync_dir) */
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                0600),
      made = fd >= 0;
  if (fd < 0 && errno == EEXIST)
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (made && sync_dir(s) != 0)
    spool_say(s, "%.160s: the spool's directory could not be fsynced (%.60s)",
              path, strerror(errno));
  int bad =
      fd < 0 ? open_failed(s, "open", err)
      : fstat(fd, &st) != 0
          ? spool_fail(err, "%.160s: cannot open the spool (%.60s)", path,
                       strerror(errno))
      : !S_ISREG(st.st_mode)
          ? spool_fail(
                err, "%.160s: cannot open the spool (not a regular file)", path)
          : rights(s, fd, &st, err);
  if (bad) {
    if (fd >= 0)
      close(fd);
    lisec_event_spool_free(s);
    return -1;
  }
  close(fd);
  if (open_locked(s, err)) {
    lisec_event_spool_free(s);
    return -1;
  }
  *out = s;
  return 0;
}

void lisec_event_spool_free(lisec_event_spool *s) {
  if (!s)
    return;
  free(s->path);
  free(s);
}

int lisec_event_spool_count(lisec_event_spool *s, size_t *events, size_t *bytes,
                            char err[LISEC_EVENT_ERR_MAX]) {
  contents c;
  if (!s)
    return spool_fail(err, "no spool");
  if (spool_tidy_locked(s, NULL, &c, err))
    return -1;
  if (events)
    *events = c.scan.n;
  if (bytes)
    *bytes = c.len + c.rest;
  spool_contents_clear(&c);
  return 0;
}

/* The records and bytes of the spool, cheaply: its size and its newlines
 * (a bad line counts: it takes room until it is set aside). 1 when the
 * file does not end with a newline (a torn or unterminated tail: tidy). */
static int measure(const lisec_event_spool *s, size_t *lines, size_t *bytes,
                   char err[LISEC_EVENT_ERR_MAX]) {
  *lines = *bytes = 0;
  int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    return open_failed(s, "read", err);
  char buf[65536], last = '\n';
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      close(fd);
      return spool_fail(err, "%.160s: cannot read the spool (%.60s)", s->path,
                        strerror(errno));
    }
    for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))); p++)
      (*lines)++;
    *bytes += (size_t)n;
    last = buf[n - 1];
  }
  close(fd);
  return last != '\n';
}

/* Under FILE.lock: appends one record and makes it durable; on any failure
 * the file is cut back to what it was. */
static int append(const lisec_event_spool *s, const char *rec, size_t len,
                  char err[LISEC_EVENT_ERR_MAX]) {
  int fd = open(s->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW),
      made = 0;
  if (fd < 0 && errno == ENOENT) /* removed since the open: made again */
    made = (fd = open(s->path,
                      O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC |
                          O_NOFOLLOW,
                      0600)) >= 0;
  if (fd < 0)
    return open_failed(s, "write", err);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int saved = errno;
    close(fd);
    return spool_fail(err, "%.160s: cannot write the spool (%.60s)", s->path,
                      strerror(saved));
  }
  if (write_all(fd, rec, len) != 0 || fdatasync(fd) != 0) {
    int saved = errno;
    if (ftruncate(fd, st.st_size) == 0)
      fdatasync(fd);
    close(fd);
    return spool_fail(err, "%.160s: cannot write the spool (%.60s)", s->path,
                      strerror(saved));
  }
  close(fd);
  if (made && sync_dir(s) != 0)
    spool_say(s, "%.160s: the spool's directory could not be fsynced (%.60s)",
              s->path, strerror(errno));
  return 0;
}

/* Under FILE.lock: the VM of the spool's first good record (vm "" when
 * it holds none). Every note checks it (one_vm), so the first good record
 * names the VM of them all; the head of the file is enough: a few records
 * (a bad one at the head is skipped, as the reader skips it). */
static int spool_vm(const lisec_event_spool *s, char vm[EV_VM_MAX + 1],
                    char err[LISEC_EVENT_ERR_MAX]) {
  vm[0] = '\0';
  int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    return open_failed(s, "read", err);
  size_t cap = 4 * EVSP_RECORD_MAX, got = 0;
  uint8_t *buf = malloc(cap);
  ssize_t n = 0;
  while (buf && got < cap && (n = read(fd, buf + got, cap - got)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  if (!buf || n < 0) {
    free(buf);
    return spool_fail(err, "%.160s: cannot read the spool", s->path);
  }
  evsp_scan sc;
  lisec_err e = {0};
  const uint8_t *nl = got ? memrchr(buf, '\n', got) : NULL;
  int rc = evsp_scan_buf(buf, nl ? (size_t)(nl - buf) + 1 : 0, &sc, &e);
  if (!rc && sc.n)
    snprintf(vm, EV_VM_MAX + 1, "%s", sc.rec[0].vm);
  evsp_scan_clear(&sc);
  free(buf);
  return rc ? spool_fail(err, "out of memory") : 0;
}

/* A spool is one VM's: its seqs are that VM's, and what lisecd's replay
 * answer removes is decided by seq alone. An event of another VM is
 * refused before its seq is taken. */
static int one_vm(const lisec_event_spool *s, const char *vm,
                  char err[LISEC_EVENT_ERR_MAX]) {
  char held[EV_VM_MAX + 1];
  if (spool_vm(s, held, err))
    return -1;
  if (held[0] && vm && strcmp(held, vm) != 0)
    return spool_fail(
        err,
        "TR103308-4.1: the spool %.160s holds another VM's events: a "
        "spool is one VM's (its events' seqs are that VM's); the "
        "event is not queued and no seq was taken",
        s->path);
  return 0;
}

int lisec_event_spool_note(lisec_event_spool *s, const char *state_path,
                           const char *vm, long long time, const char *type,
                           const char *const *details, unsigned long long *seq,
                           char err[LISEC_EVENT_ERR_MAX]) {
  *seq = 0;
  if (!s)
    return spool_fail(err, "no spool");
  int fd = -1;
  if (lock(s, ".lock", &fd, err))
    return -1;
  size_t lines = 0, bytes = 0, rec_len = 0;
  char *made = NULL, *rec = NULL;
  int rc = measure(s, &lines, &bytes, err);
  if (rc == 1) { /* a torn tail: cut off before anything follows it */
    contents c;
    rc = spool_tidy(s, NULL, &c, err);
    if (!rc)
      rc = measure(s, &lines, &bytes, err);
    spool_contents_clear(&c);
    if (rc == 1)
      rc = spool_fail(err, "%.160s: the spool's tail cannot be repaired",
                      s->path);
  }
  if (!rc)
    rc = one_vm(s, vm, err);
  /* the event's fields checked before its seq is taken: a bad type or
   * detail is the caller's mistake, refused without a gap at lisecd */
  if (!rc && !(rc = lisec_event_make(vm, 1, time, type, details, &made, err))) {
    free(made);
    made = NULL;
  }
  /* the seq is taken under the spool's lock, so records are in seq order */
  if (!rc)
    rc = lisec_event_seq_next(state_path, seq, err);
  if (!rc)
    rc = lisec_event_make(vm, *seq, time, type, details, &made, err);
  if (!rc) {
    lisec_err e = {0};
    uint64_t again = 0;
    if (evsp_encode(made, strlen(made), &rec, &rec_len, &again, &e))
      rc = spool_fail(err, "event: %.200s", e.msg);
  }
  /* the spool takes events of up to EVSP_PAYLOAD_MAX bytes, lisecd fewer:
   * one it can never take would stop every flush at it. Checked at the
   * longest seq, not at this one: an event the spool takes may be made
   * again at a longer seq (the VM's counter went back, docs/events.md),
   * and must fit then too, or it would be refused there, not here */
  lisec_err e = {0};
  if (!rc && spool_sendable_any_seq(made, &e) != 0)
    rc = spool_fail(
        err,
        "TR103308-4.1: the event cannot be sent, lisecd takes events of at "
        "most %d bytes as recorded, at any seq the spool may send it at (up "
        "to 16 digits) (%.120s): seq %llu not queued, lisecd will show it as "
        "a gap",
        EV_EVENT_CEILING, e.msg, *seq);
  if (!rc && (lines + 1 > s->max_events || bytes + rec_len > s->max_bytes))
    rc = spool_fail(
        err,
        "TR103308-4.1: the event spool is full (%zu events, %zu bytes; "
        "at most %zu, %zu): seq %llu not "
        "queued, lisecd will show it as a gap",
        lines, bytes, s->max_events, s->max_bytes, *seq);
  if (!rc)
    rc = append(s, rec, rec_len, err);
  spool_unlock(fd);
  free(made);
  free(rec);
  return rc ? -1 : 0;
}
