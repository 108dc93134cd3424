/* liblisec-rng's public functions and the policy behind them. Each thread
 * has its own DRBG (no lock on the output path); a process-wide epoch is
 * bumped by every clone/fork/restore event and every external seed, and a
 * thread whose DRBG predates the epoch reseeds before it outputs anything.
 * Seeds are a hedge (HKDF) of getrandom(), RDSEED/RDRAND, the chained
 * external seeds from lisec-entropyd and the VM identity, boot id and
 * generation id. Whatever the detection sees or misses, every output also
 * depends on a kernel draw made for that request (the additional input of
 * the DRBG call, or XORed over buffered DRBG output), so a cloned VM never
 * repeats output longer than its kernel does. Key generation runs the full
 * detection first, is prediction resistant, and fetches its own external
 * seed over a new TLS session, failing closed (LISEC_RNG_ENOSEED) without it
 * (TR 103 308 §5.15): nothing lets user space rule out a clone since the
 * last one. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "lisec/rng.h"
#include "rng/libdrbg.h"
#include "rng/libos.h"

#define RNGL_BUF 512         /* per-thread output buffer for small requests */
#define RNGL_SEED_LEN 48     /* entropy input handed to the DRBG */
#define RNGL_EXT_SEED_LEN 48 /* bytes asked of lisec-entropyd */
#define RNGL_EXT_TIMEOUT_MS 2000
#define RNGL_ADIN_LEN 32     /* the fresh kernel draw given as additional input */

typedef struct rngl_thread {
  EVP_RAND_CTX *ctx;
  uint64_t epoch;
  size_t pos, len;
  uint8_t buf[RNGL_BUF];
  struct rngl_thread *next;
} rngl_thread;

static struct {
  pthread_mutex_t lock;
  /* Serialises external fetches, which run without `lock` so that no
   * thread waits for the network to produce output. Taken before `lock`. */
  pthread_mutex_t ext_lock;
  atomic_int ready; /* 0 not yet, 1 ready, -1 failed for good */
  uint64_t instance;
  rng_drbg_kind kind;
  bool strict, keygen_local_ok, selftest_ok, key_made;
  pthread_key_t key;
  lisec_rng_seed_fn source;
  void *source_ctx;
  rngl_ext ext;
  rngl_detect det;
  _Atomic uint64_t epoch;
  uint8_t ext_key[32];
  uint8_t stream[RNG_ID_LEN]; /* this process's stream at the daemon */
  bool ext_fresh;
  uint64_t counter, hedges;
  uint64_t events; /* every handled event; a fetch spanning one is not fresh */
  uint8_t vmid[32];
  rngl_thread *threads;
  /* In a forked child: the states of the parent's other threads, which do
   * not exist here (set aside by atfork_child, freed by handle_events). */
  rngl_thread *orphans;
  struct lisec_rng_status st;
  char init_error[LISEC_ERR_MSG_MAX];
} G = {.lock = PTHREAD_MUTEX_INITIALIZER, .ext_lock = PTHREAD_MUTEX_INITIALIZER};

static __thread rngl_thread *T __attribute__((tls_model("initial-exec")));
static __thread uint64_t T_instance __attribute__((tls_model("initial-exec")));
static __thread char T_error[LISEC_ERR_MSG_MAX];
/* Set when this thread's ensure() fetched a fresh external seed for an
 * event, so the key generation in the same call need not fetch twice. */
static __thread bool T_fetched;

/* Internal LISEC_E* codes folded onto the few the public header names. */
static int public_code(int code) {
  switch (code) {
  case LISEC_RNG_OK:
  case LISEC_RNG_EINVAL:
  case LISEC_RNG_EDENIED:
  case LISEC_RNG_ECRYPTO:
  case LISEC_RNG_EIO:
  case LISEC_RNG_ENOSEED:
  case LISEC_RNG_EINTERNAL: return code;
  case LISEC_EAUTH:
  case LISEC_ECONFLICT: return LISEC_RNG_EDENIED;
  case LISEC_ETOOBIG: return LISEC_RNG_EINVAL;
  default: return LISEC_RNG_EINTERNAL;
  }
}

static int fail(int code, const lisec_err *err) {
  code = public_code(code);
  snprintf(T_error, sizeof T_error, "%s", err && err->msg[0] ? err->msg : lisec_rng_strerror(code));
  return code;
}

const char *lisec_rng_last_error(void) { return T_error; }

const char *lisec_rng_strerror(int code) {
  switch (code) {
  case LISEC_RNG_OK: return "ok";
  case LISEC_RNG_EINVAL: return "invalid argument or configuration";
  case LISEC_RNG_EDENIED: return "refused by the entropy service";
  case LISEC_RNG_ECRYPTO: return "DRBG self-test or operation failed";
  case LISEC_RNG_EIO: return "external entropy source unreachable";
  case LISEC_RNG_ENOSEED: return "no fresh external seed since the last clone/restore event";
  case LISEC_RNG_EINTERNAL: return "internal error";
  }
  return "error";
}

/* ---- fork handlers: the lock must not be inherited held ----------------- */

static void atfork_prepare(void) {
  pthread_mutex_lock(&G.ext_lock);
  pthread_mutex_lock(&G.lock);
}
static void atfork_parent(void) {
  pthread_mutex_unlock(&G.lock);
  pthread_mutex_unlock(&G.ext_lock);
}
static void thread_free(rngl_thread *t);

/* Only the thread that forked lives on in the child, and it is the one
 * running this handler: every other state belongs to a thread that does not
 * exist here. Told apart now, while it is known which thread forked (a
 * thread the child starts may handle the fork event first); set aside
 * rather than freed, so this handler does no more than it must. */
static void atfork_child(void) {
  rngl_thread *self = T_instance == G.instance ? T : NULL;
  for (rngl_thread **pp = &G.threads; *pp;) {
    rngl_thread *t = *pp;
    if (t != self) {
      *pp = t->next;
      t->next = G.orphans;
      G.orphans = t;
    } else {
      pp = &t->next;
    }
  }
  pthread_mutex_unlock(&G.lock);
  pthread_mutex_unlock(&G.ext_lock);
}

static void orphans_free(void) {
  while (G.orphans) {
    rngl_thread *t = G.orphans;
    G.orphans = t->next;
    thread_free(t);
  }
}

/* ---- seeding ------------------------------------------------------------- */

static uint64_t now_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void read_vmid(uint8_t out[32]) {
  const char *env = getenv("LISEC_RNG_VM_ID");
  uint8_t buf[512];
  size_t n = 0;
  if (env && *env) {
    n = strnlen(env, sizeof buf);
    memcpy(buf, env, n);
  } else {
    /* The hypervisor's UUID differs per VM even when the template's
     * machine-id does not; both go in where readable. */
    static const char *const files[] = {"/sys/class/dmi/id/product_uuid", "/etc/machine-id"};
    for (size_t i = 0; i < 2; i++) {
      int fd = open(files[i], O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t r = read(fd, buf + n, (sizeof buf - n) / 2);
      if (r > 0) n += (size_t)r;
      close(fd);
    }
  }
  crypto_sha256(buf, n, out);
}

/* The hedge: every local input and the chained external key through HKDF.
 * Called with the lock held. */
static int hedge(const char *label, uint8_t out[RNGL_SEED_LEN], lisec_err *err) {
  struct {
    uint8_t os[32], cpu[32], ext[32], vmid[32], bootid[RNG_ID_LEN], genid[RNG_ID_LEN];
    uint64_t pid, tid, epoch, count, rt, mono;
  } in;
  memset(&in, 0, sizeof in);
  int rc = rngl_getrandom(in.os, sizeof in.os, err);
  if (rc) return rc;
  if (rngl_rdseed(in.cpu, sizeof in.cpu) < sizeof in.cpu) rngl_rdrand(in.cpu, sizeof in.cpu);
  memcpy(in.ext, G.ext_key, sizeof in.ext);
  memcpy(in.vmid, G.vmid, sizeof in.vmid);
  memcpy(in.bootid, G.det.bootid, RNG_ID_LEN);
  memcpy(in.genid, G.det.genid, RNG_ID_LEN);
  in.pid = (uint64_t)getpid();
  in.tid = (uint64_t)syscall(SYS_gettid);
  in.epoch = atomic_load(&G.epoch);
  in.count = ++G.hedges;
  in.rt = now_ns(CLOCK_REALTIME);
  in.mono = now_ns(CLOCK_MONOTONIC);
  static const char salt[] = "lisec-rng hedge v1";
  rc = rng_hkdf(salt, sizeof salt - 1, &in, sizeof in, label, strlen(label), out, RNGL_SEED_LEN,
                err);
  crypto_wipe(&in, sizeof in);
  return rc;
}

/* Asks the external source for a seed and chains it into ext_key. Called
 * with neither lock held: the network round trip runs under ext_lock only,
 * `lock` is taken to read the ids and to fold the seed in. The TLS session
 * ends with the fetch: a session kept for the next fetch would be continued
 * by both twins of a cloned VM (the same keys and sequence numbers, so the
 * same AES-GCM nonces), and no Linux interface tells user space in time
 * that it has been cloned. A fetch that an event interrupted is not fresh:
 * the detection runs again once the reply is in, before the seed counts. */
static void new_instance(void);
static bool handle_events(unsigned ev);

static int ext_acquire(lisec_err *err) {
  int rc = LISEC_EUNAVAIL;
  pthread_mutex_lock(&G.ext_lock);
  for (int attempt = 0; attempt < 2; attempt++) {
    rng_msg req = {.type = RNG_MSG_REQUEST, .want = RNGL_EXT_SEED_LEN};
    if ((rc = rngl_getrandom(req.nonce, sizeof req.nonce, err)) != 0) break;
    pthread_mutex_lock(&G.lock);
    memcpy(req.genid, G.det.genid, RNG_ID_LEN);
    memcpy(req.bootid, G.det.bootid, RNG_ID_LEN);
    memcpy(req.instance, G.stream, RNG_ID_LEN);
    /* Real time in ns keeps the counter rising across restores of a
     * snapshot, where an in-memory counter would go back. */
    uint64_t c = now_ns(CLOCK_REALTIME);
    req.counter = c > G.counter ? c : G.counter + 1;
    G.counter = req.counter;
    uint64_t events = G.events;
    pthread_mutex_unlock(&G.lock);
    rng_msg rep;
    memset(&rep, 0, sizeof rep);
    if (G.source) {
      char why[200] = "";
      rc = G.source(G.source_ctx, req.nonce, req.genid, req.bootid, req.counter, rep.seed,
                    RNGL_EXT_SEED_LEN, why, sizeof why);
      if (rc) lisec_err_set(err, rc, "external seed source: %s", why[0] ? why : "failed");
      rep.seed_len = RNGL_EXT_SEED_LEN;
    } else {
      rc = rngl_ext_fetch(&G.ext, &req, &rep, RNGL_EXT_TIMEOUT_MS, err);
      rngl_ext_close(&G.ext);
    }
    bool fresh = false;
    if (rc == 0) {
      struct {
        uint8_t seed[RNG_SEED_MAX], nonce[RNG_NONCE_LEN];
        uint64_t counter;
      } ikm;
      memset(&ikm, 0, sizeof ikm);
      memcpy(ikm.seed, rep.seed, rep.seed_len);
      memcpy(ikm.nonce, req.nonce, sizeof ikm.nonce);
      ikm.counter = req.counter;
      uint8_t next[32];
      static const char info[] = "lisec-rng external v1";
      pthread_mutex_lock(&G.lock);
      /* The detection again, now that the reply is in: a clone or restore
       * while the request was on the wire (a snapshot taken mid-fetch) is
       * otherwise seen only after the caller's output, and a key would come
       * from a seed its twin received too. Seen here, the fetch is not
       * fresh and the retry goes out under the new ids. */
      (void)handle_events(rngl_detect_slow(&G.det));
      rc = rng_hkdf(G.ext_key, sizeof G.ext_key, &ikm, sizeof ikm, info, sizeof info - 1, next,
                    sizeof next, err);
      if (!rc) {
        memcpy(G.ext_key, next, sizeof next);
        G.st.external_seeds++;
        atomic_fetch_add(&G.epoch, 1);
        /* Folded in either way (it can only add), but a seed requested
         * before an event may have reached a twin too. */
        fresh = G.events == events;
        if (fresh) G.ext_fresh = true;
      }
      pthread_mutex_unlock(&G.lock);
      crypto_wipe(&ikm, sizeof ikm);
      crypto_wipe(next, sizeof next);
    }
    crypto_wipe(&rep, sizeof rep);
    if (fresh) {
      pthread_mutex_unlock(&G.ext_lock);
      return 0;
    }
    if (rc == 0) {
      rc = lisec_err_set(err, LISEC_EUNAVAIL, "entropyd: a clone/restore event arrived during the "
                                              "fetch");
      continue;
    }
    /* The daemon may have dropped the connection, or a sibling stream's
     * counter raced ours: one more try with a new request (the old nonce may
     * already be spent). */
    if ((rc != LISEC_EIO && rc != LISEC_ECONFLICT) || G.source) break;
    /* Refused as a replay: another process is on this stream, which is what
     * a twin of a cloned VM no detector saw looks like (the same stream id,
     * and a clock that continued from the snapshot). The retry goes out on a
     * stream of its own. */
    if (rc == LISEC_ECONFLICT) {
      pthread_mutex_lock(&G.lock);
      new_instance();
      pthread_mutex_unlock(&G.lock);
    }
  }
  pthread_mutex_lock(&G.lock);
  G.st.external_failures++;
  snprintf(G.st.last_error, sizeof G.st.last_error, "%.255s", err ? err->msg : "external seed failed");
  pthread_mutex_unlock(&G.lock);
  pthread_mutex_unlock(&G.ext_lock);
  return rc;
}

static bool external_configured(void) { return G.source || G.ext.addr[0]; }

/* ---- per-thread DRBGs ---------------------------------------------------- */

static void thread_free(rngl_thread *t) {
  if (t->ctx) EVP_RAND_CTX_free(t->ctx);
  crypto_wipe(t, sizeof *t);
  free(t);
}

static void thread_unlink(rngl_thread *t) {
  for (rngl_thread **pp = &G.threads; *pp; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      return;
    }
}

static void thread_destructor(void *p) {
  rngl_thread *t = p;
  pthread_mutex_lock(&G.lock);
  thread_unlink(t);
  pthread_mutex_unlock(&G.lock);
  if (T == t) T = NULL;
  thread_free(t);
}

/* Reseeds t from a fresh hedge and drops its buffered output. Lock held. */
static int thread_reseed(rngl_thread *t, bool pr, lisec_err *err) {
  uint8_t seed[RNGL_SEED_LEN];
  int rc = hedge(pr ? "keygen" : "thread reseed", seed, err);
  if (!rc)
    rc = rngl_drbg_reseed(t->ctx, pr, seed, sizeof seed, G.det.genid, RNG_ID_LEN, err);
  crypto_wipe(seed, sizeof seed);
  crypto_wipe(t->buf, sizeof t->buf);
  t->pos = t->len = 0;
  if (!rc) {
    t->epoch = atomic_load(&G.epoch);
    G.st.reseeds++;
  }
  return rc;
}

static int thread_new(rngl_thread **out, lisec_err *err) {
  rngl_thread *t = calloc(1, sizeof *t);
  if (!t) return lisec_err_set(err, LISEC_ENOMEM, "rng: out of memory");
  struct {
    char label[16];
    uint8_t vmid[32], bootid[RNG_ID_LEN], genid[RNG_ID_LEN];
    uint64_t pid, tid;
  } pers;
  memset(&pers, 0, sizeof pers);
  memcpy(pers.label, "lisec-rng v1", 12);
  pthread_mutex_lock(&G.lock);
  memcpy(pers.vmid, G.vmid, sizeof pers.vmid);
  memcpy(pers.bootid, G.det.bootid, RNG_ID_LEN);
  memcpy(pers.genid, G.det.genid, RNG_ID_LEN);
  pers.pid = (uint64_t)getpid();
  pers.tid = (uint64_t)syscall(SYS_gettid);
  int rc = rngl_drbg_new(G.kind, (const uint8_t *)&pers, sizeof pers, &t->ctx, err);
  if (!rc) rc = thread_reseed(t, false, err);
  if (!rc) {
    t->next = G.threads;
    G.threads = t;
    pthread_setspecific(G.key, t);
  }
  pthread_mutex_unlock(&G.lock);
  if (rc) {
    thread_free(t);
    return rc;
  }
  T = t;
  T_instance = G.instance;
  *out = t;
  return 0;
}

/* ---- events -------------------------------------------------------------- */

/* A new random stream id for the daemon's replay bookkeeping: per process,
 * and again after every event, so a clone never continues its parent's. */
static void new_instance(void) {
  if (rngl_getrandom(G.stream, sizeof G.stream, NULL) != 0)
    rngl_rdrand(G.stream, sizeof G.stream);
}

static const char *event_name(unsigned ev) {
  if (ev & RNGL_EV_GENID) return "vm-generation-id";
  if (ev & RNGL_EV_BOOTID) return "boot-id";
  if (ev & RNGL_EV_CLOCK) return "clock-jump";
  if (ev & RNGL_EV_FORK) return "fork";
  return "none";
}

/* Applies what the slow check found: every event drops the cached external
 * key and, for every thread, buffered output (through the epoch); a TLS
 * session is never open between fetches (ext_acquire). Returns true when an
 * external seed is to be fetched now, which the caller does after releasing
 * the lock. Lock held. */
static bool handle_events(unsigned ev) {
  if (!ev) return false;
  if (ev & RNGL_EV_FORK) {
    rngl_detect_rearm(&G.det);
    /* A connection inherited mid-fetch is the parent's: close it without a
     * word on the wire (ext_lock is held by fork's prepare handler in the
     * parent, so none is open here unless the parent forked mid-fetch). */
    rngl_ext_close(&G.ext);
    /* The parent's other threads do not exist here; drop their states
     * (atfork_child set them aside: not every state but the caller's, as
     * the thread that forked lives on too, and may not be the caller). */
    orphans_free();
    G.st.events_fork++;
  }
  if (ev & RNGL_EV_GENID) G.st.events_genid++;
  if (ev & RNGL_EV_BOOTID) G.st.events_bootid++;
  if (ev & RNGL_EV_CLOCK) G.st.events_clock++;
  snprintf(G.st.last_event, sizeof G.st.last_event, "%s", event_name(ev));
  G.ext_fresh = false;
  G.events++;
  /* The chained external key is known to every twin of a clone: drop it. */
  crypto_wipe(G.ext_key, sizeof G.ext_key);
  new_instance();
  atomic_fetch_add(&G.epoch, 1);
  /* A restored or cloned VM asks for outside entropy at once; a forked
   * process waits until it needs a key, to spare the daemon a fetch per
   * fork. */
  return (ev & ~(unsigned)RNGL_EV_FORK) && external_configured();
}

rngl_detect *rngl_test_detector(void) {
  return atomic_load(&G.ready) == 1 ? &G.det : NULL;
}

/* ---- initialisation ------------------------------------------------------ */

static void copy_opt(char *dst, size_t cap, const char *opt, const char *env) {
  const char *v = opt ? opt : getenv(env);
  snprintf(dst, cap, "%s", v ? v : "");
}

static int init_locked(const lisec_rng_options *opt, lisec_err *err) {
  lisec_rng_options o = {0};
  if (opt) o = *opt;
  const char *d = getenv("LISEC_RNG_DRBG");
  G.kind = RNG_DRBG_CTR_AES256;
  if (opt ? o.drbg == LISEC_RNG_DRBG_HMAC_SHA256 : (d && strcmp(d, "hmac") == 0))
    G.kind = RNG_DRBG_HMAC_SHA256;
  else if (opt ? o.drbg != LISEC_RNG_DRBG_CTR_AES256 : (d && *d && strcmp(d, "ctr") != 0))
    return lisec_err_set(err, LISEC_EINVAL, "rng: unknown DRBG '%s' (ctr or hmac)", d ? d : "?");
  const char *s = getenv("LISEC_RNG_STRICT"), *k = getenv("LISEC_RNG_KEYGEN_LOCAL_OK");
  G.strict = o.strict || (s && strcmp(s, "1") == 0);
  G.keygen_local_ok = o.keygen_local_ok || (k && strcmp(k, "1") == 0);
  G.source = o.source;
  G.source_ctx = o.source_ctx;
  rngl_ext_init(&G.ext);
  copy_opt(G.ext.addr, sizeof G.ext.addr, o.entropyd, "LISEC_RNG_ENTROPYD");
  copy_opt(G.ext.server_name, sizeof G.ext.server_name, o.entropyd_name,
           "LISEC_RNG_ENTROPYD_NAME");
  copy_opt(G.ext.cert, sizeof G.ext.cert, o.cert, "LISEC_RNG_CERT");
  copy_opt(G.ext.key, sizeof G.ext.key, o.key, "LISEC_RNG_KEY");
  copy_opt(G.ext.ca, sizeof G.ext.ca, o.ca, "LISEC_RNG_CA");
  char genid[512];
  copy_opt(genid, sizeof genid, o.genid_path, "LISEC_RNG_GENID_FILE");

  /* The known-answer tests come first: nothing is output from a DRBG that
   * does not reproduce the NIST vectors. */
  int rc = rng_kat_selftest(err);
  if (rc) return rc;
  G.selftest_ok = true;
  rc = rngl_detect_init(&G.det, genid, o.check_interval_ms, o.clock_jump_ms, err);
  if (rc) return rc;
  read_vmid(G.vmid);
  new_instance();
  if (pthread_key_create(&G.key, thread_destructor) != 0) {
    rngl_detect_free(&G.det);
    return lisec_err_set(err, LISEC_EINTERNAL, "rng: pthread_key_create failed");
  }
  G.key_made = true;
  static bool atfork_done;
  if (!atfork_done) {
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    atfork_done = true;
  }
  return 0;
}

int lisec_rng_init(const lisec_rng_options *opt) {
  lisec_err err;
  err.code = 0, err.msg[0] = '\0';
  pthread_mutex_lock(&G.lock);
  int ready = atomic_load(&G.ready);
  int rc = 0;
  bool fetch = false;
  if (ready == 0) {
    rc = init_locked(opt, &err);
    if (rc) {
      snprintf(G.init_error, sizeof G.init_error, "%s", err.msg);
      /* A failed self-test is final; configuration errors may be retried. */
      atomic_store(&G.ready, rc == LISEC_ECRYPTO ? -1 : 0);
    } else {
      atomic_store(&G.ready, 1);
      fetch = external_configured();
    }
  } else if (ready < 0) {
    rc = LISEC_ECRYPTO;
    lisec_err_set(&err, rc, "%s", G.init_error);
  } else if (opt) {
    rc = LISEC_EINVAL;
    lisec_err_set(&err, rc, "rng: already initialised");
  }
  pthread_mutex_unlock(&G.lock);
  /* Every start is a new boot as far as seeding goes: no "already seeded". */
  if (fetch) {
    lisec_err e = {0};
    (void)ext_acquire(&e);
  }
  return rc ? fail(rc, &err) : 0;
}

/* Makes sure the library is up and this thread's DRBG is current; runs the
 * per-call detection. *event is set when an event was handled. */
static int ensure(rngl_thread **out, bool full, bool *event, lisec_err *err) {
  if (__builtin_expect(atomic_load_explicit(&G.ready, memory_order_acquire) != 1, 0)) {
    int rc = lisec_rng_init(NULL);
    if (rc) return lisec_err_set(err, rc, "%s", T_error);
  }
  rngl_thread *t = T;
  if (__builtin_expect(!t || T_instance != G.instance, 0)) {
    T = NULL;
    int rc = thread_new(&t, err);
    if (rc) return rc;
  }
  if (event) *event = false;
  /* Only the thread the fast check picks re-reads; the others go on with
   * the last known state, their output still tied to a fresh kernel draw. */
  if (full || __builtin_expect(rngl_detect_fast(&G.det), 0)) {
    pthread_mutex_lock(&G.lock);
    unsigned ev = rngl_detect_slow(&G.det);
    bool fetch = handle_events(ev);
    pthread_mutex_unlock(&G.lock);
    if (fetch) {
      lisec_err e = {0};
      T_fetched = ext_acquire(&e) == 0;
    }
    if (ev && event) *event = true;
  }
  if (__builtin_expect(t->epoch != atomic_load_explicit(&G.epoch, memory_order_relaxed), 0)) {
    pthread_mutex_lock(&G.lock);
    int rc = thread_reseed(t, false, err);
    pthread_mutex_unlock(&G.lock);
    if (rc) return rc;
  }
  *out = t;
  return 0;
}

/* ---- the public calls ---------------------------------------------------- */

int lisec_rng_bytes(void *buf, size_t n) {
  lisec_err err;
  err.code = 0, err.msg[0] = '\0';
  if (!buf && n) return fail(LISEC_RNG_EINVAL, NULL);
  rngl_thread *t;
  int rc = ensure(&t, false, NULL, &err);
  if (rc) return fail(rc, &err);
  if (G.strict && !G.ext_fresh) {
    rc = ext_acquire(&err);
    pthread_mutex_lock(&G.lock);
    if (!rc && t->epoch != atomic_load(&G.epoch)) rc = thread_reseed(t, false, &err);
    pthread_mutex_unlock(&G.lock);
    if (rc) {
      lisec_err_wrap(&err, "TR103308-5.15: strict mode: no fresh external seed since the last "
                           "event");
      return fail(LISEC_RNG_ENOSEED, &err);
    }
  }
  uint8_t *p = buf;
  uint8_t adin[RNGL_ADIN_LEN];
  if (n > RNGL_BUF / 2) {
    /* A fresh kernel draw as the DRBG call's additional input. */
    rc = rngl_getrandom(adin, sizeof adin, &err);
    if (!rc) rc = rngl_drbg_generate(t->ctx, p, n, false, adin, sizeof adin, &err);
    crypto_wipe(adin, sizeof adin);
    return rc ? fail(rc, &err) : 0;
  }
  if (t->len - t->pos < n) {
    /* No additional input here: every byte served from the buffer is XORed
     * with a kernel draw made for its request below, and a refill without
     * one costs a third less at the tail (bench/README.md). */
    rc = rngl_drbg_generate(t->ctx, t->buf, RNGL_BUF, false, NULL, 0, &err);
    if (rc) return fail(rc, &err);
    t->pos = 0;
    t->len = RNGL_BUF;
  }
  /* Buffered output was generated before this request, perhaps before a
   * clone nothing has reported yet: XORed over a kernel draw made now, the
   * result is as fresh as the kernel (which the vmgenid driver reseeds) and
   * as strong as the better of the two. Served bytes are wiped from the
   * buffer at once (backtracking). */
  rc = rngl_getrandom(p, n, &err);
  if (rc) return fail(rc, &err);
  for (size_t i = 0; i < n; i++) p[i] ^= t->buf[t->pos + i];
  crypto_wipe(t->buf + t->pos, n);
  t->pos += n;
  return 0;
}

int lisec_rng_keygen_bytes(void *buf, size_t n) {
  lisec_err err;
  err.code = 0, err.msg[0] = '\0';
  if (!buf && n) return fail(LISEC_RNG_EINVAL, NULL);
  rngl_thread *t;
  T_fetched = false;
  int rc = ensure(&t, true, NULL, &err);
  if (rc) return fail(rc, &err);
  /* Every key gets its own external seed over a new TLS session: a clone of
   * this VM since the last fetch cannot be ruled out (the kernel tells user
   * space nothing in time), and twins must not share a key's seed. The
   * seed ensure() just fetched for an event in this call is that seed. */
  if (external_configured()) {
    rc = T_fetched ? 0 : ext_acquire(&err);
    if (rc && !G.keygen_local_ok) {
      pthread_mutex_lock(&G.lock);
      lisec_err_wrap(&err, "TR103308-5.12: key generation refused until a fresh external seed "
                           "arrives (last event: %s)",
                     G.st.last_event[0] ? G.st.last_event : "start");
      pthread_mutex_unlock(&G.lock);
    } else {
      rc = 0;
    }
  } else if (!G.keygen_local_ok) {
    rc = lisec_err_set(&err, LISEC_EUNAVAIL,
                       "TR103308-5.15: key generation refused: no external entropy source "
                       "configured (set LISEC_RNG_ENTROPYD)");
  }
  /* Prediction resistance: a fresh hedge goes in right before the output,
   * OpenSSL draws fresh entropy of its own for every chunk, and a kernel
   * draw made now is the additional input. */
  pthread_mutex_lock(&G.lock);
  if (!rc) rc = thread_reseed(t, true, &err);
  pthread_mutex_unlock(&G.lock);
  if (rc) return fail(rc == LISEC_ECRYPTO ? LISEC_RNG_ECRYPTO : LISEC_RNG_ENOSEED, &err);
  uint8_t adin[RNGL_ADIN_LEN];
  rc = rngl_getrandom(adin, sizeof adin, &err);
  if (!rc) rc = rngl_drbg_generate(t->ctx, buf, n, true, adin, sizeof adin, &err);
  crypto_wipe(adin, sizeof adin);
  return rc ? fail(rc, &err) : 0;
}

int lisec_rng_reseed(void) {
  lisec_err err;
  err.code = 0, err.msg[0] = '\0';
  rngl_thread *t;
  int rc = ensure(&t, true, NULL, &err);
  if (rc) return fail(rc, &err);
  rc = external_configured()
           ? ext_acquire(&err)
           : lisec_err_set(&err, LISEC_EUNAVAIL,
                           "TR103308-5.15: no external entropy source configured "
                           "(LISEC_RNG_ENTROPYD)");
  pthread_mutex_lock(&G.lock);
  if (!rc) rc = thread_reseed(t, false, &err);
  pthread_mutex_unlock(&G.lock);
  /* Unreachable or unconfigured is EIO; refused by the daemon is EDENIED. */
  if (rc == LISEC_EUNAVAIL) rc = LISEC_RNG_EIO;
  return rc ? fail(rc, &err) : 0;
}

int lisec_rng_check(void) {
  lisec_err err;
  err.code = 0, err.msg[0] = '\0';
  rngl_thread *t;
  bool ev = false;
  int rc = ensure(&t, false, &ev, &err);
  if (rc) return fail(rc, &err);
  return ev ? 1 : 0;
}

int lisec_rng_status(struct lisec_rng_status *st) {
  if (!st) return fail(LISEC_RNG_EINVAL, NULL);
  lisec_err err;
  err.code = 0, err.msg[0] = '\0';
  rngl_thread *t;
  int rc = ensure(&t, true, NULL, &err);
  if (rc) return fail(rc, &err);
  pthread_mutex_lock(&G.lock);
  *st = G.st;
  st->drbg = G.kind == RNG_DRBG_HMAC_SHA256 ? LISEC_RNG_DRBG_HMAC_SHA256 : LISEC_RNG_DRBG_CTR_AES256;
  st->selftest_ok = G.selftest_ok;
  st->external_fresh = G.ext_fresh;
  st->external_configured = external_configured();
  st->keygen_ready = G.ext_fresh || G.keygen_local_ok;
  st->has_rdrand = rngl_cpu_has_rdrand();
  st->has_rdseed = rngl_cpu_has_rdseed();
  st->wipeonfork = G.det.wipeonfork;
  st->uevent = G.det.uevent_fd >= 0;
  st->genid_known = G.det.genid_known;
  st->epoch = atomic_load(&G.epoch);
  pthread_mutex_unlock(&G.lock);
  return 0;
}

void lisec_rng_shutdown(void) {
  pthread_mutex_lock(&G.ext_lock);
  pthread_mutex_lock(&G.lock);
  if (atomic_load(&G.ready) == 1) {
    while (G.threads) {
      rngl_thread *t = G.threads;
      G.threads = t->next;
      thread_free(t);
    }
    orphans_free();
    if (G.key_made) pthread_key_delete(G.key);
    G.key_made = false;
    rngl_ext_free(&G.ext);
    rngl_detect_free(&G.det);
    crypto_wipe(G.ext_key, sizeof G.ext_key);
    crypto_wipe(&G.st, sizeof G.st);
    G.ext_fresh = false;
    G.counter = G.hedges = G.events = 0;
    G.instance++;
    atomic_store(&G.ready, 0);
  }
  T = NULL;
  pthread_mutex_unlock(&G.lock);
  pthread_mutex_unlock(&G.ext_lock);
}
