/* The development key files ([vault] and [audit] development_key_file) are
 * made only when absent. One that is there but that this process cannot
 * read (owned by another user, mode 0600: a service started as the wrong
 * user) must stop the start naming the file; making a new key in its place
 * would replace the vault's KEK (every target sealed under it unreadable
 * for good) or the audit log's checkpoint key. The process that opens the
 * file runs as nobody (when the test is root) or the file is made unreadable
 * (when it is not); either way the file must come out unchanged. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys/kek.h"
#include "keys/signer.h"

#define NOBODY 65534

/* What the opening process did: it refused, it opened, or it could not run. */
enum { REFUSED = 10, OPENED = 11, NO_SETUP = 12 };

typedef int (*opener)(const char *path);

static int open_kek(const char *path) {
  keys_kek *k = NULL;
  lisec_err err = {0};
  int rc = keys_kek_open_file(path, &k, &err);
  if (!rc) keys_kek_close(k);
  else if (!strstr(err.msg, path)) return NO_SETUP; /* the refusal must name the file */
  return rc ? REFUSED : OPENED;
}

static int open_signer(const char *path) {
  keys_signer *s = NULL;
  lisec_err err = {0};
  int rc = keys_signer_open_file(path, true, &s, &err);
  if (!rc) keys_signer_close(s);
  else if (!strstr(err.msg, path)) return NO_SETUP;
  return rc ? REFUSED : OPENED;
}

/* A directory anyone may write (so a new file could be renamed into it)
 * holding path with content, readable by its owner only. */
static void make_file(char dir[], char path[], size_t cap, const char *name, const void *content, size_t len) {
  assert_non_null(mkdtemp(dir));
  assert_int_equal(chmod(dir, 0777), 0);
  snprintf(path, cap, "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, content, len), (ssize_t)len);
  close(fd);
}

/* Runs fn(path) in a child that cannot read path; its verdict. */
static int open_unreadable(opener fn, const char *path) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (geteuid() == 0) {
      if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0) _exit(NO_SETUP);
    } else if (chmod(path, 0) != 0) {
      _exit(NO_SETUP);
    }
    if (access(path, R_OK) == 0) _exit(NO_SETUP); /* still readable: nothing to test */
    _exit(fn(path));
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  chmod(path, 0600);
  return WEXITSTATUS(status);
}

static void assert_unchanged(const char *path, const void *content, size_t len) {
  uint8_t buf[512];
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  assert_int_equal(n, (ssize_t)len);
  assert_memory_equal(buf, content, len);
}

static void cleanup(const char *dir) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_unreadable_kek_file_is_kept(void **state) {
  (void)state;
  uint8_t key[32];
  for (int i = 0; i < 32; i++) key[i] = (uint8_t)(i * 7 + 1);
  char dir[] = "/tmp/lisec-test-devkek-XXXXXX", path[128];
  make_file(dir, path, sizeof path, "kek.bin", key, sizeof key);
  int got = open_unreadable(open_kek, path);
  assert_int_equal(got, REFUSED);
  assert_unchanged(path, key, sizeof key);
  cleanup(dir);
}

static void test_unreadable_audit_key_file_is_kept(void **state) {
  (void)state;
  /* a key file as lisec makes one (no key kept in this source), in a
   * directory as make_file's, then unreadable to the opener */
  char dir[] = "/tmp/lisec-test-devaudit-XXXXXX", path[128];
  assert_non_null(mkdtemp(dir));
  assert_int_equal(chmod(dir, 0777), 0);
  snprintf(path, sizeof path, "%s/audit.pem", dir);
  assert_int_equal(open_signer(path), OPENED);
  uint8_t pem[512];
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  ssize_t len = read(fd, pem, sizeof pem);
  close(fd);
  assert_true(len > 0);
  int got = open_unreadable(open_signer, path);
  assert_int_equal(got, REFUSED);
  assert_unchanged(path, pem, (size_t)len);
  cleanup(dir);
}

/* The files are still made when they are absent, and read when readable. */
static void test_absent_files_are_made(void **state) {
  (void)state;
  char dir[] = "/tmp/lisec-test-devnew-XXXXXX", kek[128], audit[128];
  assert_non_null(mkdtemp(dir));
  snprintf(kek, sizeof kek, "%s/kek.bin", dir);
  snprintf(audit, sizeof audit, "%s/audit.pem", dir);
  assert_int_equal(open_kek(kek), OPENED);
  assert_int_equal(open_signer(audit), OPENED);
  struct stat st;
  assert_int_equal(stat(kek, &st), 0);
  assert_int_equal(st.st_size, 32);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(stat(audit, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(open_kek(kek), OPENED);
  assert_int_equal(open_signer(audit), OPENED);
  cleanup(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unreadable_kek_file_is_kept),
      cmocka_unit_test(test_unreadable_audit_key_file_is_kept),
      cmocka_unit_test(test_absent_files_are_made),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
