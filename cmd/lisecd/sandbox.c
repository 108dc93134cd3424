/* The privileges each of lisecd's processes keeps after its start, and the
 * act of dropping the rest. Every role gets no_new_privs, RLIMIT_CORE 0 and
 * PR_SET_DUMPABLE 0, then a seccomp-bpf allow-list (libseccomp) of the system
 * calls its work needs: the front serves sockets it already holds and can
 * neither open a file nor create a socket; the controller has files and
 * client sockets; the keys process has files (the token) and no network; the
 * parent waits, signals and reads files (the [tls] material it sends the
 * front on SIGHUP), never writes or creates one. A call outside the list fails with EPERM (EACCES
 * for opening a file), so a library that probes for something gets a plain
 * error; the calls only an attacker makes (execve, ptrace, reading another
 * process's memory) kill the whole process instead, so a compromised front
 * dies loudly. The front also moves into an empty, read-only root of its own
 * when it runs as root. docs/operations.md, "Processes and privileges", says
 * the same for operators; docs/design.md, "Sandboxing", says why. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

/* The sanitizer runtime works inside the process: LeakSanitizer stops the
 * threads with ptrace from a clone that shares the address space and lists
 * them under /proc, and a report runs a symbolizer. A sanitized build keeps
 * the filter and lets those through (see sandbox_add_sanitizer). */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif
#ifndef SANDBOX_ASAN
#define SANDBOX_ASAN 0
#endif

const char *lisecd_sandbox_role_name(lisecd_role role) {
  switch (role) {
  case LISECD_PARENT: return "parent";
  case LISECD_FRONT: return "front";
  case LISECD_CONTROLLER: return "controller";
  case LISECD_KEYS: return "keys";
  }
  return "unknown";
}

/* What every process does whatever its role: memory, threads' own
 * bookkeeping, time, randomness, signals, reading and writing descriptors it
 * holds (the socketpairs, stderr), waiting on them, and ending. */
static const int calls_common[] = {
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(close),
    SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek), SCMP_SYS(fcntl), SCMP_SYS(dup),
    SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(shutdown),
    SCMP_SYS(getsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
    SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_pwait2), SCMP_SYS(eventfd2), SCMP_SYS(pipe2),
    SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
    SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list), SCMP_SYS(rseq),
    SCMP_SYS(set_tid_address), SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep),
    SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(nanosleep), SCMP_SYS(getrandom),
    SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigtimedwait), SCMP_SYS(rt_sigsuspend), SCMP_SYS(sigaltstack), SCMP_SYS(tgkill),
    SCMP_SYS(tkill), SCMP_SYS(restart_syscall),
    SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
    SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(uname),
    SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* The front serves connections the listener accepts; it never opens one. */
static const int calls_front[] = {
    SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(setsockopt), SCMP_SYS(timerfd_create),
    SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime),
};

/* Files: the store (SQLite with its WAL and lock files), the audit and key
 * files written atomically, configuration read by libraries (resolver,
 * libpq's password file, a PKCS#11 token directory). */
static const int calls_files[] = {
    SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(creat), SCMP_SYS(stat), SCMP_SYS(lstat),
    SCMP_SYS(statx), SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
    SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getcwd), SCMP_SYS(getdents), SCMP_SYS(getdents64),
    SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev),
    SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(ftruncate), SCMP_SYS(fallocate),
    SCMP_SYS(flock), SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
    SCMP_SYS(renameat2), SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rmdir), SCMP_SYS(link),
    SCMP_SYS(linkat), SCMP_SYS(fchmod), SCMP_SYS(fchown), SCMP_SYS(umask), SCMP_SYS(dup2),
    SCMP_SYS(dup3), SCMP_SYS(statfs), SCMP_SYS(fstatfs), SCMP_SYS(utimensat), SCMP_SYS(fadvise64),
};

/* Clients: X1 to the NEs (libcurl, its resolver thread), PostgreSQL. */
static const int calls_client[] = {
    SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(setsockopt), SCMP_SYS(socketpair),
    SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg), SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime),
    SCMP_SYS(timerfd_gettime),
};

/* Supervising children: waiting for them and signalling them. */
static const int calls_parent[] = {
    SCMP_SYS(wait4), SCMP_SYS(waitid), SCMP_SYS(kill), SCMP_SYS(pidfd_open),
    SCMP_SYS(pidfd_send_signal), SCMP_SYS(signalfd4), SCMP_SYS(pause),
};

/* A quarantine command (attest.quarantine_command) is started by the
 * controller and inherits its filter, so it needs to start and wait for
 * programs of its own. Granted only when one is configured. */
static const int calls_spawn[] = {
    SCMP_SYS(execve), SCMP_SYS(wait4), SCMP_SYS(waitid), SCMP_SYS(kill), SCMP_SYS(vfork),
    SCMP_SYS(fork), SCMP_SYS(setpgid), SCMP_SYS(getpgrp), SCMP_SYS(getpgid), SCMP_SYS(setsid),
    SCMP_SYS(chdir), SCMP_SYS(fchdir), SCMP_SYS(sysinfo), SCMP_SYS(getgroups),
    SCMP_SYS(getresuid), SCMP_SYS(getresgid), SCMP_SYS(sched_getparam), SCMP_SYS(arch_prctl),
};

/* Only an attacker's code calls these in lisecd: the process dies. */
static const int calls_hostile[] = {
    SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
};

/* One argument condition, every field set (libseccomp's SCMP_A* macros
 * leave one to the compiler, which clang's -Wextra refuses). is: the
 * argument equals v; has: its bits under mask equal want. */
static struct scmp_arg_cmp arg_is(unsigned arg, uint64_t v) {
  return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_EQ, .datum_a = v, .datum_b = 0};
}

static struct scmp_arg_cmp arg_has(unsigned arg, uint64_t mask, uint64_t want) {
  return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = want};
}

static int sandbox_fail(lisec_err *err, lisecd_role role, const char *what, int rc) {
  return lisec_err_set(err, LISEC_EINTERNAL, "sandbox (%s): %s: %s", lisecd_sandbox_role_name(role),
                       what, strerror(rc < 0 ? -rc : rc));
}

/* Adds an unconditional rule for each call of list. A call this kernel's
 * architecture does not have is skipped: it cannot be made anyway. */
static int sandbox_add(scmp_filter_ctx f, uint32_t action, const int *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (list[i] < 0) continue; /* libseccomp's marker for "not on this architecture" */
    int rc = seccomp_rule_add(f, action, list[i], 0);
    if (rc != 0) return rc;
  }
  return 0;
}

/* Memory, threads, ioctl and prctl, with the arguments that make them
 * harmless. exec_maps: whether new executable memory may be mapped (the front
 * has no reason to: code it maps is an attacker's). */
static int sandbox_add_narrow(scmp_filter_ctx f, bool exec_maps) {
  int rc = 0;
  if (exec_maps) {
    if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 0)) ||
        (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 0)))
      return rc;
  } else if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                                    arg_has(2, PROT_EXEC, 0))) ||
             (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                                    arg_has(2, PROT_EXEC, 0)))) {
    return rc;
  }
  /* A new thread, never a new process (fork is clone without CLONE_THREAD).
   * clone3 passes its flags in memory the filter cannot read: ENOSYS makes
   * the C library fall back to clone. */
  if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                             arg_has(0, CLONE_THREAD, CLONE_THREAD))) ||
      (rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)))
    return rc;
  /* Bytes waiting on a socket, non-blocking mode, and "is this a terminal"
   * (stdio asks); no other ioctl. */
  static const unsigned long ioctls[] = {FIONREAD, FIONBIO, TCGETS};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(ioctls); i++)
    if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                               arg_is(1, (uint32_t)ioctls[i]))))
      return rc;
  /* Naming threads and reading the process's own state; not changing it. */
  static const int prctls[] = {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(prctls); i++)
    if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                               arg_is(0, (uint32_t)prctls[i]))))
      return rc;
  /* A thread's own nice value (who 0: the calling thread), lowered by the
   * bulk and rotation threads (issue 22 item 6); raising it needs a
   * privilege lisecd does not have. */
  if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(setpriority), 2, arg_is(0, PRIO_PROCESS),
                             arg_is(1, 0))))
    return rc;
  /* A thread's own scheduling slice (who 0, flags 0; base/slice.c): the
   * request threads can ask for a short one. Without CAP_SYS_NICE, which lisecd's
   * user lacks, no policy or nice value above the thread's own can be had. */
  if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(sched_getattr), 2, arg_is(0, 0), arg_is(3, 0))) ||
      (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(sched_setattr), 2, arg_is(0, 0), arg_is(2, 0))))
    return rc;
  /* Reading a resource limit (new limit NULL), not raising one. */
  return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, arg_is(2, 0));
}

/* Client sockets of the families the controller uses: TCP and UNIX for
 * NEs and PostgreSQL, route netlink for the resolver's address check. */
static int sandbox_add_sockets(scmp_filter_ctx f) {
  static const int families[] = {AF_UNIX, AF_INET, AF_INET6};
  int rc;
  for (size_t i = 0; i < LISEC_ARRAY_LEN(families); i++)
    if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                               arg_is(0, (uint32_t)families[i]))))
      return rc;
  return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, arg_is(0, AF_NETLINK),
                          arg_is(2, NETLINK_ROUTE));
}

/* What AddressSanitizer's runtime does inside a process: LeakSanitizer's
 * tracer is a clone sharing the address space (CLONE_VM, not a thread) that
 * attaches to the threads with ptrace (making the process dumpable for
 * that while), waits for them and lists them in /proc/self/task (a
 * directory open); a report runs a symbolizer, whose
 * execve fails here (EPERM, not a kill: the report is printed, unsymbolized). */
static int sandbox_add_sanitizer(scmp_filter_ctx f, bool files) {
  static const int calls[] = {SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(waitid), SCMP_SYS(getdents),
                              SCMP_SYS(getdents64),
                              SCMP_SYS(sched_getaffinity), SCMP_SYS(readlink)};
  int rc;
  if ((rc = sandbox_add(f, SCMP_ACT_ALLOW, calls, LISEC_ARRAY_LEN(calls))) ||
      (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                             arg_has(0, CLONE_VM | CLONE_THREAD, CLONE_VM))) ||
      (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, arg_is(0, PR_SET_PTRACER))) ||
      (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, arg_is(0, PR_SET_PDEATHSIG))) ||
      (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, arg_is(0, PR_SET_DUMPABLE))))
    return rc;
  if (files) return 0;
  /* Without files, only a directory may be opened (the thread list); the
   * database and the token are files, so the front's guarantee stands. */
  if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                             arg_has(1, O_DIRECTORY, O_DIRECTORY))) ||
      (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                             arg_has(2, O_DIRECTORY, O_DIRECTORY))))
    return rc;
  return 0;
}

/* The front, as root, gets an empty root directory of its own: a private
 * mount namespace with a tiny read-only tmpfs as its root. Seccomp already
 * refuses every open; this also holds if the filter ever lets one through.
 * Skipped (with a debug line) when not root or not permitted, and under
 * AddressSanitizer, whose leak check reads /proc. */
static void sandbox_empty_root(void) {
  if (SANDBOX_ASAN) {
    LOG_DEBUG("sandbox (front): no empty root under AddressSanitizer (its leak check reads /proc)");
    return;
  }
  if (geteuid() != 0) {
    LOG_DEBUG("sandbox (front): not root, so no empty root directory (seccomp still refuses every open)");
    return;
  }
  const char *step = "unshare(CLONE_NEWNS)";
  if (unshare(CLONE_NEWNS) != 0) goto fail;
  step = "making mounts private";
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) goto fail;
  /* Any existing directory serves as the mount point: the mount is seen
   * only in this namespace. */
  step = "mounting an empty tmpfs";
  if (mount("lisecd-empty", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=1,mode=0555") != 0)
    goto fail;
  step = "chroot";
  if (chdir("/tmp") != 0 || chroot(".") != 0 || chdir("/") != 0) goto fail;
  step = "remounting read-only";
  if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) goto fail;
  LOG_DEBUG("sandbox (front): root is an empty read-only tmpfs in a private mount namespace");
  return;
fail:
  LOG_DEBUG("sandbox (front): no empty root (%s: %s); seccomp still refuses every open", step,
            strerror(errno));
}

#ifdef LISEC_TEST_HOOKS
/* Test builds only (-DLISEC_TEST_HOOKS=ON): LISEC_TEST_SANDBOX_PROBE lists
 * paths (':'-separated) this process tries to open right after entering its
 * sandbox, logging "sandbox probe (role): path -> ok|ERRNO"; "@socket" tries
 * to create a TCP socket. tests/integration/lisecd_sandbox.sh reads these
 * lines. Nothing opened is read, and it is closed at once. */
static void sandbox_probe(lisecd_role role) {
  const char *list = getenv("LISEC_TEST_SANDBOX_PROBE");
  if (!list) return;
  const char *p = list;
  while (*p) {
    size_t n = strcspn(p, ":");
    char path[512];
    if (n > 0 && n < sizeof path) {
      memcpy(path, p, n);
      path[n] = '\0';
      int fd = strcmp(path, "@socket") == 0 ? socket(AF_INET, SOCK_STREAM, 0) : open(path, O_RDONLY | O_CLOEXEC);
      int e = errno;
      if (fd >= 0) close(fd);
      LOG_INFO("sandbox probe (%s): %s -> %s", lisecd_sandbox_role_name(role), path,
               fd >= 0 ? "ok" : strerrorname_np(e));
    }
    p += n;
    if (*p == ':') p++;
  }
}
#endif

static int sandbox_build(scmp_filter_ctx f, lisecd_role role, const lisec_config *cfg) {
  int rc;
  bool files = role == LISECD_CONTROLLER || role == LISECD_KEYS;
  if ((rc = sandbox_add(f, SCMP_ACT_ALLOW, calls_common, LISEC_ARRAY_LEN(calls_common))) ||
      (rc = sandbox_add_narrow(f, role != LISECD_FRONT)))
    return rc;
  if (files && (rc = sandbox_add(f, SCMP_ACT_ALLOW, calls_files, LISEC_ARRAY_LEN(calls_files))))
    return rc;
  bool spawn = false;
  switch (role) {
  case LISECD_FRONT: {
    if ((rc = sandbox_add(f, SCMP_ACT_ALLOW, calls_front, LISEC_ARRAY_LEN(calls_front)))) return rc;
    /* Opening a file is refused with "permission denied", as a file the
     * front may not read would be. */
    static const int opens[] = {SCMP_SYS(creat), SCMP_SYS(openat2)};
    if ((rc = sandbox_add(f, SCMP_ACT_ERRNO(EACCES), opens, LISEC_ARRAY_LEN(opens)))) return rc;
    /* Under AddressSanitizer a directory may be opened (see
     * sandbox_add_sanitizer); any other open then fails with EPERM. */
    if (!SANDBOX_ASAN && ((rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0)) ||
                          (rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0))))
      return rc;
    break;
  }
  case LISECD_CONTROLLER:
    spawn = lisec_config_str(cfg, "attest", "quarantine_command", NULL) != NULL;
    if ((rc = sandbox_add(f, SCMP_ACT_ALLOW, calls_client, LISEC_ARRAY_LEN(calls_client))) ||
        (rc = sandbox_add_sockets(f)))
      return rc;
    if (spawn) {
      /* posix_spawn's vfork-like clone, and the command's own forks. */
      if ((rc = sandbox_add(f, SCMP_ACT_ALLOW, calls_spawn, LISEC_ARRAY_LEN(calls_spawn))) ||
          (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                 arg_has(0, CLONE_THREAD, 0))))
        return rc;
      LOG_INFO("sandbox (controller): [attest] quarantine_command is set, so the controller may start "
               "programs (fork, execve)");
    }
    /* [time] source = "chrony": the reply socket chronyd answers to is made
     * writable for chronyd's user (ctl/clock.c); fchmod is allowed already,
     * a socket file has no descriptor to call it on. */
    if (strcmp(lisec_config_str(cfg, "time", "source", "none"), "chrony") == 0 &&
        ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(chmod), 0)) ||
         (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(fchmodat), 0))))
      return rc;
    break;
  case LISECD_KEYS:
    break;
  case LISECD_PARENT: {
    if ((rc = sandbox_add(f, SCMP_ACT_ALLOW, calls_parent, LISEC_ARRAY_LEN(calls_parent)))) return rc;
    /* Reading the [tls] files again on SIGHUP: an open for reading only,
     * which can neither create, truncate nor append to a file. */
    const uint64_t w = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND;
    if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(open), 1, arg_has(1, w, O_RDONLY))) ||
        (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1, arg_has(2, w, O_RDONLY))))
      return rc;
    break;
  }
  }
  if (SANDBOX_ASAN && (rc = sandbox_add_sanitizer(f, files))) return rc;
  /* What is left of the hostile list (after the sanitizer's and the
   * quarantine command's needs) kills the process. */
  for (size_t i = 0; i < LISEC_ARRAY_LEN(calls_hostile); i++) {
    int nr = calls_hostile[i];
    if (nr < 0) continue;
    if (SANDBOX_ASAN && (nr == SCMP_SYS(ptrace) || nr == SCMP_SYS(execve))) continue;
    if (spawn && nr == SCMP_SYS(execve)) continue;
    if ((rc = seccomp_rule_add(f, SCMP_ACT_KILL_PROCESS, nr, 0))) return rc;
  }
  return 0;
}

int lisecd_sandbox_enter(lisecd_role role, const lisec_config *cfg, lisec_err *err) {
  const char *name = lisecd_sandbox_role_name(role);
  bool on = true;
  if (cfg && lisec_config_bool(cfg, "security", "sandbox", true, &on, err) != 0)
    return lisec_err_wrap(err, "[security] sandbox");

  /* These hold whether or not the filter is on: no core file, no ptrace by
   * the same user, no privilege gained by an exec. */
  struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) return sandbox_fail(err, role, "RLIMIT_CORE 0", errno);
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return sandbox_fail(err, role, "PR_SET_DUMPABLE 0", errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return sandbox_fail(err, role, "PR_SET_NO_NEW_PRIVS", errno);
  if (!on) {
    LOG_WARN("SANDBOX OFF for the %s process ([security] sandbox = off): no system call filter; "
             "a compromised %s can open any file lisecd can. For debugging only.", name, name);
    return 0;
  }
  if (role == LISECD_FRONT) sandbox_empty_root();

  scmp_filter_ctx f = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (!f) return lisec_err_set(err, LISEC_ENOMEM, "sandbox (%s): seccomp_init failed", name);
  int rc;
  /* All threads already started get the filter too, not only this one. */
  if ((rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1)) || (rc = sandbox_build(f, role, cfg))) {
    seccomp_release(f);
    return sandbox_fail(err, role, "building the seccomp filter", rc);
  }
  rc = seccomp_load(f);
  seccomp_release(f);
  if (rc != 0) return sandbox_fail(err, role, "loading the seccomp filter", rc);
  LOG_DEBUG("sandbox (%s): seccomp allow-list loaded%s", name, SANDBOX_ASAN ? " (with AddressSanitizer's needs)" : "");
#ifdef LISEC_TEST_HOOKS
  sandbox_probe(role);
#endif
  return 0;
}
