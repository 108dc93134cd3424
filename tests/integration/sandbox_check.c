/* A probe of lisecd's per-process sandbox (cmd/lisecd/sandbox.c) for
 * tests/integration/lisecd_sandbox.sh: it enters the sandbox of one role,
 * exactly as a lisecd process does, then makes one kind of system call and
 * prints what happened ("ok" or the errno name, e.g. "EACCES"). A call the
 * sandbox treats as hostile kills it (the script sees SIGSYS). Real work is
 * among the checks (SQLite in WAL mode, a PKCS#11 login and signature in
 * SoftHSM2, a thread, a TLS-less TCP connect), so a list that is too narrow
 * fails here before it fails in lisecd.
 *
 * usage: sandbox_check [--off] [--spawn] ROLE CHECK [ARG...]
 *   ROLE   parent | front | controller | keys
 *   --off  [security] sandbox = off;  --spawn  [attest] quarantine_command set */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "../../cmd/lisecd/sandbox.h"

static int report(int rc) {
  /* rc: 0 or an errno value */
  printf("%s\n", rc == 0 ? "ok" : strerrorname_np(rc));
  return 0;
}

static void *thread_body(void *arg) {
  /* Some work with memory in the thread, freed before it ends. */
  char *p = malloc(1 << 16);
  if (p) memset(p, 1, 1 << 16);
  free(p);
  return arg;
}

static int check_sqlite(const char *path) {
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  const char *sql = "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t(x); INSERT INTO t VALUES (1);"
                    "SELECT COUNT(*) FROM t;";
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK) fprintf(stderr, "sqlite: %s\n", db ? sqlite3_errmsg(db) : "open failed");
  sqlite3_close(db);
  return rc == SQLITE_OK ? 0 : EIO;
}

/* The PKCS#11 module is loaded before the sandbox, as the keys process
 * loads its modules at open; everything the token does comes after. */
static CK_FUNCTION_LIST_PTR p11;

static int p11_load(const char *module) {
  void *h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
  CK_C_GetFunctionList get = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
  if (!get || get(&p11) != CKR_OK) return fprintf(stderr, "cannot load %s\n", module), -1;
  return 0;
}

static int check_pkcs11(const char *pin) {
  CK_SLOT_ID slots[8];
  CK_ULONG n = 8;
  CK_SESSION_HANDLE s;
  CK_BYTE rnd[32];
  CK_RV rv = p11->C_Initialize(NULL);
  if (rv == CKR_OK) rv = p11->C_GetSlotList(CK_TRUE, slots, &n);
  if (rv == CKR_OK && n == 0) rv = CKR_TOKEN_NOT_PRESENT;
  if (rv == CKR_OK) rv = p11->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
  if (rv == CKR_OK) rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
  /* A key made in the token (its object file written) and used. */
  CK_OBJECT_HANDLE key = 0;
  CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
  CK_ULONG len = 32;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE tmpl[] = {{CKA_VALUE_LEN, &len, sizeof len}, {CKA_TOKEN, &yes, sizeof yes},
                         {CKA_ENCRYPT, &yes, sizeof yes}};
  if (rv == CKR_OK) rv = p11->C_GenerateKey(s, &gen, tmpl, 3, &key);
  if (rv == CKR_OK) rv = p11->C_GenerateRandom(s, rnd, sizeof rnd);
  if (rv == CKR_OK) rv = p11->C_DestroyObject(s, key);
  if (rv == CKR_OK) rv = p11->C_Logout(s);
  if (rv == CKR_OK) rv = p11->C_CloseSession(s);
  p11->C_Finalize(NULL);
  if (rv != CKR_OK) fprintf(stderr, "pkcs11: CK_RV 0x%lx\n", (unsigned long)rv);
  return rv == CKR_OK ? 0 : EIO;
}

static int check_connect(const char *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return errno;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = connect(fd, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : errno;
  close(fd);
  return rc;
}

int main(int argc, char **argv) {
  bool off = false, spawn = false;
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    if (strcmp(argv[i], "--off") == 0) off = true;
    else if (strcmp(argv[i], "--spawn") == 0) spawn = true;
  }
  if (argc - i < 2) return fprintf(stderr, "usage: sandbox_check [--off] [--spawn] ROLE CHECK [ARG...]\n"), 2;
  const char *role_s = argv[i], *check = argv[i + 1], *arg = i + 2 < argc ? argv[i + 2] : "";
  lisecd_role role;
  if (strcmp(role_s, "parent") == 0) role = LISECD_PARENT;
  else if (strcmp(role_s, "front") == 0) role = LISECD_FRONT;
  else if (strcmp(role_s, "controller") == 0) role = LISECD_CONTROLLER;
  else if (strcmp(role_s, "keys") == 0) role = LISECD_KEYS;
  else return fprintf(stderr, "unknown role %s\n", role_s), 2;

  lisec_log_setup(LISEC_LOG_DEBUG, false);
  lisec_config *cfg = lisec_config_new();
  if (!cfg) return 2;
  if (off) lisec_config_set(cfg, "security", "sandbox", "off");
  if (spawn) lisec_config_set(cfg, "attest", "quarantine_command", "/bin/true");
  if (strcmp(check, "pkcs11") == 0 && p11_load(arg) != 0) return 2;
  /* A socket made before the sandbox, as the front's listener is. */
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return 2;

  lisec_err err = {0};
  if (lisecd_sandbox_enter(role, cfg, &err) != 0) return fprintf(stderr, "%s\n", err.msg), 2;
  lisec_config_free(cfg);

  if (strcmp(check, "open") == 0) {
    int fd = open(arg, O_RDONLY | O_CLOEXEC);
    int e = errno;
    if (fd >= 0) close(fd);
    return report(fd >= 0 ? 0 : e);
  }
  if (strcmp(check, "openat") == 0) {
    int fd = openat(AT_FDCWD, arg, O_RDWR | O_CLOEXEC);
    int e = errno;
    if (fd >= 0) close(fd);
    return report(fd >= 0 ? 0 : e);
  }
  if (strcmp(check, "socket") == 0) {
    int dom = strcmp(arg, "unix") == 0 ? AF_UNIX : strcmp(arg, "packet") == 0 ? AF_PACKET : AF_INET;
    int fd = socket(dom, dom == AF_PACKET ? SOCK_RAW : SOCK_STREAM, 0);
    int e = errno;
    if (fd >= 0) close(fd);
    return report(fd >= 0 ? 0 : e);
  }
  if (strcmp(check, "connect") == 0) return report(check_connect(arg));
  if (strcmp(check, "pair") == 0) {
    /* I/O on a socket that was open before the sandbox. */
    char b = 'x';
    if (write(pair[0], &b, 1) != 1) return report(errno);
    return report(read(pair[1], &b, 1) == 1 ? 0 : errno);
  }
  if (strcmp(check, "thread") == 0) {
    pthread_t t;
    int rc = pthread_create(&t, NULL, thread_body, NULL);
    if (rc == 0) pthread_join(t, NULL);
    return report(rc);
  }
  if (strcmp(check, "fork") == 0) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    if (p < 0) return report(errno);
    waitpid(p, NULL, 0);
    return report(0);
  }
  if (strcmp(check, "spawn") == 0) {
    /* What the controller does with a quarantine command. */
    pid_t p = fork();
    if (p == 0) {
      execl("/bin/sh", "sh", "-c", "exit 7", (char *)NULL);
      _exit(1);
    }
    if (p < 0) return report(errno);
    int st = 0;
    waitpid(p, &st, 0);
    return report(WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : ECHILD);
  }
  if (strcmp(check, "exec") == 0) {
    execl("/bin/true", "true", (char *)NULL);
    return report(errno);
  }
  if (strcmp(check, "ptrace") == 0) return report(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : errno);
  if (strcmp(check, "vmread") == 0) {
    char a[8] = {0}, b[8];
    struct iovec l = {b, sizeof b}, r = {a, sizeof a};
    return report(process_vm_readv(getpid(), &l, 1, &r, 1, 0) >= 0 ? 0 : errno);
  }
  if (strcmp(check, "mmapexec") == 0) {
    void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int e = errno;
    if (p != MAP_FAILED) munmap(p, 4096);
    return report(p != MAP_FAILED ? 0 : e);
  }
  if (strcmp(check, "mount") == 0)
    return report(mount("none", "/mnt", "tmpfs", 0, NULL) == 0 ? 0 : errno);
  if (strcmp(check, "bpf") == 0) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    return report(syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a) >= 0 ? 0 : errno);
  }
  if (strcmp(check, "keyctl") == 0) return report(syscall(SYS_keyctl, 0, 0, 0, 0, 0) >= 0 ? 0 : errno);
  if (strcmp(check, "slice") == 0) {
    /* The thread's own scheduling slice, as a request thread asks for it. */
    lisec_err e = {0};
    if (lisec_thread_slice(100, &e) == 0) return report(0);
    fprintf(stderr, "%s\n", e.msg);
    return report(EPERM);
  }
  if (strcmp(check, "sliceother") == 0) {
    /* Another process's (the parent's, which the kernel would allow the
     * same user): only the filter refuses it. */
    struct {
      uint32_t size, policy;
      uint64_t flags;
      int32_t nice;
      uint32_t priority;
      uint64_t runtime, deadline, period;
    } a = {.size = 48, .runtime = 100000};
    return report(syscall(SYS_sched_setattr, getppid(), &a, 0) == 0 ? 0 : errno);
  }
  if (strcmp(check, "kill") == 0) return report(kill(getpid(), 0) == 0 ? 0 : errno);
  if (strcmp(check, "sqlite") == 0) return report(check_sqlite(arg));
  if (strcmp(check, "pkcs11") == 0) return report(check_pkcs11(i + 3 < argc ? argv[i + 3] : ""));
  if (strcmp(check, "leak") == 0) {
    /* Memory still reachable at exit, and a thread: the leak checker of a
     * sanitized build must run to its end inside the sandbox. */
    static void *keep;
    keep = malloc(64);
    pthread_t t;
    if (pthread_create(&t, NULL, thread_body, NULL) == 0) pthread_join(t, NULL);
    return report(keep ? 0 : ENOMEM);
  }
  if (strcmp(check, "leaked") == 0) {
    /* A real leak: a sanitized build's leak checker must find and report it
     * (exit 23), which proves it ran inside the sandbox. */
    void *volatile lost = malloc(48);
    memset(lost, 7, 48);
    lost = NULL;
    return report(0);
  }
  return fprintf(stderr, "unknown check %s\n", check), 2;
}
