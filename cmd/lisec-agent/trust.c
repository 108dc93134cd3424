/* The files lisec-agent trusts before it starts: its configuration, the
 * ipmitool it runs and the BMC password file it hands to it. The agent runs
 * as root, so a file another user could change, or a directory above it in
 * which another user could replace it, would give that user root. Each is
 * walked from "/" one name at a time, following symbolic links as the
 * kernel would: every directory looked into must be owned by root (or by
 * the agent's own user when it does not run as root) and not writable by
 * group or others unless it is sticky (as /tmp: no one else can rename or
 * remove what root owns in it); every symbolic link must be owned so too
 * (in a sticky directory its owner could replace it); the file must be a
 * regular file owned so and not writable by group or others, and a secret
 * not readable by them either. It mirrors trusted_path() of the libvirt
 * hook (examples/libvirt/hooks/qemu), which refuses its settings file the
 * same way; the hook is a shell script and cannot link this. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"

#define TRUST_REQ "TR103308-5.5"
#define TRUST_MAX_LINKS 40

static bool owner_ok(uid_t uid) { return uid == 0 || uid == geteuid(); }

static const char *owners(void) {
  static char buf[64];
  if (geteuid() == 0) return "root";
  snprintf(buf, sizeof buf, "root or uid %u (the agent's user)", (unsigned)geteuid());
  return buf;
}

/* The refusal: what (a setting), the file checked, the path found wanting
 * (the file or a directory or link on its way), why, and the fix. */
static int refuse(const char *what, const char *file, const char *bad, const struct stat *st,
                  const char *why, const char *fix) {
  return agent_fail("%s %s: refused (%s): %s is owned by uid %u, mode %04o: %s; lisec-agent runs as "
                    "root, so the file and every directory above it must be owned by %s and not "
                    "writable by group or others (a directory may be if it is sticky); fix: %s %s",
                    what, file, TRUST_REQ, bad, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777),
                    why, owners(), fix, bad);
}

/* Appends "/name" to the resolved directory cur (size PATH_MAX). */
static int join(char *cur, const char *name, size_t len) {
  size_t cl = strlen(cur);
  if (cl + 1 + len >= PATH_MAX) return -1;
  cur[cl] = '/';
  memcpy(cur + cl + 1, name, len);
  cur[cl + 1 + len] = '\0';
  return 0;
}

static int check_dir(const char *what, const char *file, const char *dir, const struct stat *st) {
  if (!S_ISDIR(st->st_mode)) return agent_fail("%s %s: %s is not a directory", what, file, dir);
  if (!owner_ok(st->st_uid)) return refuse(what, file, dir, st, "a directory not owned by root", "chown root");
  if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
    return refuse(what, file, dir, st, "a directory writable by group or others without the sticky bit",
                  "chmod go-w");
  return 0;
}

static int check_file(const char *what, const char *file, const char *path, const struct stat *st,
                      bool secret) {
  if (!S_ISREG(st->st_mode)) return agent_fail("%s %s: not a regular file", what, file);
  if (!owner_ok(st->st_uid)) return refuse(what, file, path, st, "not owned by root", "chown root");
  if (st->st_mode & (S_IWGRP | S_IWOTH))
    return refuse(what, file, path, st, "writable by group or others", "chmod go-w");
  if (secret && (st->st_mode & (S_IRGRP | S_IROTH)))
    return refuse(what, file, path, st, "a secret readable by group or others", "chmod go-rwx");
  return 0;
}

int agent_trusted_file(const char *what, const char *path, bool secret) {
  /* todo: what is left to walk; cur: the directory reached, resolved ("" is
   * "/"). A link's target replaces the link's name at the front of todo. */
  char *todo = NULL, cur[PATH_MAX] = "", target[PATH_MAX];
  struct stat st;
  int links = 0, rc = 0;
  if (path[0] == '/') {
    todo = strdup(path);
  } else {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return agent_fail("%s %s: the working directory: %s", what, path, strerror(errno));
    if (asprintf(&todo, "%s/%s", cwd, path) < 0) todo = NULL;
  }
  if (!todo) return agent_fail("out of memory");
  if (lstat("/", &st) != 0) rc = agent_fail("%s %s: /: %s", what, path, strerror(errno));
  else rc = check_dir(what, path, "/", &st);
  char *p = todo;
  while (!rc) {
    while (*p == '/') p++;
    if (!*p) { /* the path ended in "/" or resolved to a directory */
      rc = agent_fail("%s %s: not a regular file", what, path);
      break;
    }
    size_t len = strcspn(p, "/");
    char *rest = p + len;
    bool last = strspn(rest, "/") == strlen(rest);
    if (len == 1 && p[0] == '.') {
      p = rest;
      continue;
    }
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      char *slash = strrchr(cur, '/');
      if (slash) *slash = '\0';
      p = rest;
      continue;
    }
    char next[PATH_MAX];
    memcpy(next, cur, strlen(cur) + 1);
    if (join(next, p, len) != 0) {
      rc = agent_fail("%s %s: path too long", what, path);
      break;
    }
    if (lstat(next, &st) != 0) {
      rc = agent_fail("%s %s: %s: %s", what, path, next, strerror(errno));
      break;
    }
    if (S_ISLNK(st.st_mode)) {
      ssize_t n = readlink(next, target, sizeof target - 1);
      if (!owner_ok(st.st_uid)) {
        rc = refuse(what, path, next, &st, "a symbolic link not owned by root", "chown -h root");
        break;
      }
      if (n < 0 || ++links > TRUST_MAX_LINKS) {
        rc = agent_fail("%s %s: %s: %s", what, path, next, n < 0 ? strerror(errno) : "too many links");
        break;
      }
      target[n] = '\0';
      char *again = NULL;
      if (asprintf(&again, "%s%s", target, rest) < 0) {
        rc = agent_fail("out of memory");
        break;
      }
      if (target[0] == '/') cur[0] = '\0';
      free(todo);
      todo = p = again;
      continue;
    }
    if (last) {
      rc = check_file(what, path, next, &st, secret);
      break;
    }
    rc = check_dir(what, path, next, &st);
    memcpy(cur, next, strlen(next) + 1);
    p = rest;
  }
  free(todo);
  return rc;
}

int agent_trusted_program(const char *what, const char *name, char **resolved) {
  *resolved = NULL;
  if (!*name) return agent_fail("%s: empty", what);
  if (strchr(name, '/')) {
    if (!(*resolved = strdup(name))) return agent_fail("out of memory");
  } else {
    /* As posix_spawnp would find it; the agent then runs this path, the
     * one checked, and PATH is not searched again. */
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *d = path; !*resolved; d += strcspn(d, ":") + 1) {
      size_t dl = strcspn(d, ":");
      char *cand = NULL;
      if (asprintf(&cand, "%.*s/%s", (int)dl, dl ? d : ".", name) < 0) return agent_fail("out of memory");
      struct stat st;
      if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) *resolved = cand;
      else free(cand);
      if (!d[dl]) break;
    }
    if (!*resolved) return agent_fail("%s %s: not found on PATH", what, name);
  }
  int rc = agent_trusted_file(what, *resolved, false);
  if (rc) {
    free(*resolved);
    *resolved = NULL;
  }
  return rc;
}
