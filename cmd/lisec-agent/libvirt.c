/* What lisec-agent reads from libvirt (issue 15, TR 103 308 T.1.4, §4.2):
 * every domain on the host (UUID, lisec VM id and package from its
 * urn:lisec:vm metadata, state, the SHA-256 of each file disk's base image,
 * network interfaces) as the inventory the agent binds into its quote, and
 * the lifecycle events (started, stopped, suspended, resumed, migrated,
 * crashed, defined, undefined) after which it attests at once instead of at
 * the next interval. libvirt's C API over the configured URI; its default
 * event loop runs in a thread of its own, and the callback only notes that
 * something happened (the poll loop does the work, debounced and
 * rate-limited). Hashing a multi-GB image at every attestation would be
 * too slow, so a digest is kept per file and reused while the file's
 * (dev, inode, size, mtime) stay the same; the images of running LI VMs
 * are hashed again regardless on resume, after an incoming migration, and
 * every rehash_s (spread by +/- 25 % so a host's VMs do not re-hash
 * together). */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "libvirt.h"
#include "pkg/pkg.h"

#define EVENT_UUIDS_MAX 64
#define CACHE_MAX 4096

typedef struct cached_image {
  char *path;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  uint8_t sha256[32];
  int64_t due_ms; /* when a running LI VM's image is hashed again */
  bool used;      /* seen in the latest inventory (others are dropped) */
} cached_image;

struct agent_lv {
  agent_lv_conf conf;
  virConnectPtr conn;
  int callback_id, timer_id;
  bool events;
  pthread_t loop;
  bool loop_started;
  volatile int stop;
  pthread_mutex_t mu; /* the event fields below, set by the event thread */
  bool pending;
  int64_t last_event_ms, last_taken_ms;
  bool rehash_all; /* more resumed or migrated domains than fit the list */
  size_t n_rehash;
  char rehash[EVENT_UUIDS_MAX][VIR_UUID_STRING_BUFLEN];
  /* the digest cache: the main thread's only */
  cached_image *cache;
  size_t n_cache;
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libvirt prints every error on stderr by default; the agent says what
 * failed itself, with libvirt's message. */
static void quiet(void *opaque, virErrorPtr e) {
  (void)opaque;
  (void)e;
}

static const char *lv_error(void) {
  const char *m = virGetLastErrorMessage();
  return m ? m : "unknown libvirt error";
}

static const char *event_name(int event) {
  switch (event) {
  case VIR_DOMAIN_EVENT_DEFINED: return "defined";
  case VIR_DOMAIN_EVENT_UNDEFINED: return "undefined";
  case VIR_DOMAIN_EVENT_STARTED: return "started";
  case VIR_DOMAIN_EVENT_SUSPENDED: return "suspended";
  case VIR_DOMAIN_EVENT_RESUMED: return "resumed";
  case VIR_DOMAIN_EVENT_STOPPED: return "stopped";
  case VIR_DOMAIN_EVENT_SHUTDOWN: return "shutdown";
  case VIR_DOMAIN_EVENT_PMSUSPENDED: return "pmsuspended";
  case VIR_DOMAIN_EVENT_CRASHED: return "crashed";
  default: return "other";
  }
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
  (void)conn;
  agent_lv *lv = opaque;
  char uuid[VIR_UUID_STRING_BUFLEN] = "";
  virDomainGetUUIDString(dom, uuid);
  /* Resumed, or arrived by migration: what runs may have changed under the
   * same file metadata, so its images are hashed again (§4.2 run-time,
   * suspension and transfer). */
  bool rehash = event == VIR_DOMAIN_EVENT_RESUMED ||
                (event == VIR_DOMAIN_EVENT_STARTED && detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED);
  pthread_mutex_lock(&lv->mu);
  lv->pending = true;
  lv->last_event_ms = mono_ms();
  if (rehash) {
    if (lv->n_rehash < EVENT_UUIDS_MAX) memcpy(lv->rehash[lv->n_rehash++], uuid, sizeof uuid);
    else lv->rehash_all = true;
  }
  pthread_mutex_unlock(&lv->mu);
  fprintf(stderr, "lisec-agent: libvirt: domain %s %s (detail %d)\n", uuid, event_name(event), detail);
  return 0;
}

/* Wakes the event loop now and then so a stop is seen. */
static void on_tick(int timer, void *opaque) {
  (void)timer;
  (void)opaque;
}

static void *event_loop(void *arg) {
  agent_lv *lv = arg;
  while (!lv->stop)
    if (virEventRunDefaultImpl() < 0) {
      fprintf(stderr, "lisec-agent: libvirt event loop: %s\n", lv_error());
      struct timespec ts = {0, 200 * 1000000L};
      nanosleep(&ts, NULL);
    }
  return NULL;
}

static pthread_once_t impl_once = PTHREAD_ONCE_INIT;
static int impl_rc;

/* libvirt's default event loop is process-wide and must be registered
 * before the connection that uses it is opened. */
static void register_impl(void) {
  /* The re-hash jitter differs between hosts too. */
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  impl_rc = virInitialize();
  if (!impl_rc) impl_rc = virEventRegisterDefaultImpl();
}

int agent_lv_open(const agent_lv_conf *conf, bool events, agent_lv **out) {
  *out = NULL;
  if (!conf->uri || !*conf->uri) return agent_fail("[libvirt] uri is empty: no inventory on this host");
  virSetErrorFunc(NULL, quiet);
  if (events) {
    pthread_once(&impl_once, register_impl);
    if (impl_rc) return agent_fail("libvirt event loop: %s", lv_error());
  } else if (virInitialize() != 0) {
    return agent_fail("libvirt: %s", lv_error());
  }
  agent_lv *lv = calloc(1, sizeof *lv);
  if (!lv) return agent_fail("out of memory");
  lv->conf = *conf;
  lv->callback_id = lv->timer_id = -1;
  pthread_mutex_init(&lv->mu, NULL);
  /* Read-only: the agent only looks (the hook and C's restart path act). */
  lv->conn = virConnectOpenReadOnly(conf->uri);
  if (!lv->conn) {
    agent_fail("libvirt %s: %s", conf->uri, lv_error());
    agent_lv_close(lv);
    return 2;
  }
  if (events) {
    lv->events = true;
    lv->timer_id = virEventAddTimeout(250, on_tick, NULL, NULL);
    if (pthread_create(&lv->loop, NULL, event_loop, lv) == 0) lv->loop_started = true;
    lv->callback_id = virConnectDomainEventRegisterAny(lv->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                       VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), lv, NULL);
    if (!lv->loop_started || lv->callback_id < 0) {
      agent_fail("libvirt %s: no lifecycle events: %s", conf->uri, lv->loop_started ? lv_error() : "no thread");
      agent_lv_close(lv);
      return 2;
    }
  }
  *out = lv;
  return 0;
}

void agent_lv_close(agent_lv *lv) {
  if (!lv) return;
  if (lv->conn && lv->callback_id >= 0) virConnectDomainEventDeregisterAny(lv->conn, lv->callback_id);
  if (lv->conn) virConnectClose(lv->conn);
  lv->stop = 1;
  if (lv->loop_started) pthread_join(lv->loop, NULL);
  if (lv->timer_id >= 0) virEventRemoveTimeout(lv->timer_id);
  for (size_t i = 0; i < lv->n_cache; i++) free(lv->cache[i].path);
  free(lv->cache);
  pthread_mutex_destroy(&lv->mu);
  free(lv);
}

bool agent_lv_event_due(agent_lv *lv, int64_t now_ms) {
  if (!lv || !lv->events) return false;
  pthread_mutex_lock(&lv->mu);
  bool due = lv->pending && now_ms - lv->last_event_ms >= lv->conf.debounce_ms &&
             (!lv->last_taken_ms || now_ms - lv->last_taken_ms >= lv->conf.event_min_gap_ms);
  pthread_mutex_unlock(&lv->mu);
  return due;
}

void agent_lv_event_taken(agent_lv *lv, int64_t now_ms) {
  if (!lv) return;
  pthread_mutex_lock(&lv->mu);
  lv->pending = false;
  lv->last_taken_ms = now_ms;
  pthread_mutex_unlock(&lv->mu);
}

static const char *state_name(int state) {
  switch (state) {
  case VIR_DOMAIN_RUNNING: return "running";
  case VIR_DOMAIN_PAUSED: return "paused";
  case VIR_DOMAIN_SHUTOFF: return "shutoff";
  case VIR_DOMAIN_CRASHED: return "crashed";
  default: return "other"; /* blocked, shutting down, pmsuspended, no state */
  }
}

/* The next re-hash of a running LI VM's image: rehash_s +/- 25 %. */
static int64_t next_due(const agent_lv *lv, int64_t now_ms) {
  int64_t base = lv->conf.rehash_s * 1000;
  return now_ms + base * 3 / 4 + (int64_t)((double)base / 2 * ((double)rand() / RAND_MAX));
}

static cached_image *cache_find(agent_lv *lv, const char *path) {
  for (size_t i = 0; i < lv->n_cache; i++)
    if (strcmp(lv->cache[i].path, path) == 0) return &lv->cache[i];
  return NULL;
}

static bool same_file(const cached_image *c, const struct stat *st) {
  return c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
         c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* The image's digest: kept, or hashed now (force: a running LI VM whose
 * re-hash is due or asked for by an event). 0, or 2 (reason printed). */
static int image_digest(agent_lv *lv, const char *path, bool li_running, bool force, int64_t now_ms,
                        uint8_t out[32]) {
  struct stat before, after;
  if (stat(path, &before) != 0) return agent_fail("disk image %s: %s", path, strerror(errno));
  cached_image *c = cache_find(lv, path);
  if (c && same_file(c, &before) && !force && !(li_running && now_ms >= c->due_ms)) {
    c->used = true;
    memcpy(out, c->sha256, 32);
    return 0;
  }
  char hex[7 + 64 + 1];
  if (agent_hash_file(path, hex)) return 2;
  if (lisec_hex_decode(hex + 7, out, 32) != 0) return agent_fail("disk image %s: bad digest", path);
  /* Kept only when the file did not change while it was read. */
  if (stat(path, &after) != 0 || before.st_mtim.tv_sec != after.st_mtim.tv_sec ||
      before.st_mtim.tv_nsec != after.st_mtim.tv_nsec || before.st_size != after.st_size)
    return 0;
  if (!c) {
    if (lv->n_cache == CACHE_MAX) return 0;
    cached_image *grown = realloc(lv->cache, (lv->n_cache + 1) * sizeof *grown);
    char *p = strdup(path);
    if (!grown || !p) {
      free(p);
      if (grown) lv->cache = grown;
      return 0;
    }
    lv->cache = grown;
    c = &lv->cache[lv->n_cache++];
    memset(c, 0, sizeof *c);
    c->path = p;
  }
  c->dev = after.st_dev, c->ino = after.st_ino, c->size = after.st_size, c->mtime = after.st_mtim;
  memcpy(c->sha256, out, 32);
  c->due_ms = next_due(lv, now_ms);
  c->used = true;
  return 0;
}

/* Drops the digests of files no domain uses any more. */
static void cache_sweep(agent_lv *lv) {
  size_t k = 0;
  for (size_t i = 0; i < lv->n_cache; i++) {
    if (lv->cache[i].used) {
      lv->cache[i].used = false;
      lv->cache[k++] = lv->cache[i];
    } else {
      free(lv->cache[i].path);
    }
  }
  lv->n_cache = k;
}

static json_t *str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

/* One domain's entry. force: its images are hashed again whatever the
 * cache holds. */
static int domain_entry(agent_lv *lv, virDomainPtr dom, bool rehash_all, char rehash[][VIR_UUID_STRING_BUFLEN],
                        size_t n_rehash, int64_t now_ms, json_t *domains) {
  char uuid[VIR_UUID_STRING_BUFLEN];
  int state = 0, reason = 0;
  if (virDomainGetUUIDString(dom, uuid) != 0 || virDomainGetState(dom, &state, &reason, 0) != 0)
    return agent_fail("libvirt: a domain's UUID or state: %s", lv_error());
  char *xml = virDomainGetXMLDesc(dom, 0);
  if (!xml) return agent_fail("libvirt: domain %s: %s", uuid, lv_error());
  pkg_domain_devices d;
  lisec_err err = {0};
  int rc = pkg_domain_read_devices(xml, strlen(xml), &d, &err);
  free(xml);
  if (rc) return agent_fail("domain %s: %s", uuid, err.msg);
  bool li_running = d.vm[0] && state == VIR_DOMAIN_RUNNING, force = false;
  for (size_t i = 0; i < n_rehash && !force; i++) force = strcmp(rehash[i], uuid) == 0;
  force = li_running && (force || rehash_all);
  json_t *images = json_array(), *ifaces = json_array();
  for (size_t i = 0; i < d.n_disks; i++) {
    uint8_t sha[32];
    char hex[65];
    /* A disk that cannot be read is left out of the report and said here;
     * lisecd then sees the VM without that image. */
    if (image_digest(lv, d.disks[i].image, li_running, force, now_ms, sha)) continue;
    lisec_hex_encode(sha, 32, hex);
    json_array_append_new(images, json_pack("{s:s, s:s}", "disk", d.disks[i].target, "sha256", hex));
  }
  for (size_t i = 0; i < d.n_ifaces; i++) {
    const pkg_domain_iface *f = &d.ifaces[i];
    json_array_append_new(ifaces, json_pack("{s:s, s:s, s:o, s:o}", "mac", f->mac, "type", f->type,
                                            "source", str_or_null(f->source), "target",
                                            str_or_null(f->target)));
  }
  /* Keys in the order docs/observed.md gives them (jansson keeps it). */
  json_t *o = json_pack("{s:s, s:o, s:o, s:s, s:o, s:o}", "uuid", uuid, "vm", str_or_null(d.vm),
                        "package", str_or_null(d.package), "state", state_name(state), "images", images,
                        "interfaces", ifaces);
  pkg_domain_devices_free(&d);
  if (!o || json_array_append_new(domains, o)) return agent_fail("out of memory");
  return 0;
}

static int cmp_domain(const void *a, const void *b) {
  char ua[VIR_UUID_STRING_BUFLEN] = "", ub[VIR_UUID_STRING_BUFLEN] = "";
  virDomainGetUUIDString(*(virDomainPtr const *)a, ua);
  virDomainGetUUIDString(*(virDomainPtr const *)b, ub);
  return strcmp(ua, ub);
}

int agent_lv_inventory(agent_lv *lv, const char *host, char **out, size_t *len) {
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains(lv->conn, &doms, 0);
  if (n < 0) return agent_fail("libvirt %s: listing domains: %s", lv->conf.uri, lv_error());
  /* libvirt lists in no fixed order; by UUID, the same host state gives the
   * same report. */
  if (n > 1) qsort(doms, (size_t)n, sizeof *doms, cmp_domain);
  char (*rehash)[VIR_UUID_STRING_BUFLEN] = malloc(EVENT_UUIDS_MAX * VIR_UUID_STRING_BUFLEN);
  size_t n_rehash = 0;
  bool rehash_all = false;
  int rc = 0;
  if (!rehash) rc = agent_fail("out of memory");
  if (!rc) {
    pthread_mutex_lock(&lv->mu);
    n_rehash = lv->n_rehash, rehash_all = lv->rehash_all;
    memcpy(rehash, lv->rehash, n_rehash * VIR_UUID_STRING_BUFLEN);
    lv->n_rehash = 0, lv->rehash_all = false;
    pthread_mutex_unlock(&lv->mu);
  }
  if (!rc && n > ATTEST_INV_MAX_DOMAINS)
    rc = agent_fail("libvirt reports %d domains, more than an inventory holds (%d)", n, ATTEST_INV_MAX_DOMAINS);
  json_t *domains = json_array();
  int64_t now_ms = mono_ms();
  for (int i = 0; i < n; i++) {
    if (!rc && domains) rc = domain_entry(lv, doms[i], rehash_all, rehash, n_rehash, now_ms, domains);
    virDomainFree(doms[i]);
  }
  free(doms);
  free(rehash);
  json_t *root = !rc && domains ? json_pack("{s:i, s:s, s:I, s:O}", "version", 1, "host", host, "taken_at",
                                            (json_int_t)time(NULL), "domains", domains)
                                : NULL;
  json_decref(domains);
  if (rc) return rc;
  cache_sweep(lv);
  *out = root ? json_dumps(root, JSON_COMPACT) : NULL;
  json_decref(root);
  if (!*out) return agent_fail("out of memory");
  *len = strlen(*out);
  if (*len > ATTEST_INV_MAX_BYTES) {
    free(*out);
    *out = NULL;
    return agent_fail("the inventory is %zu bytes, more than %u", *len, ATTEST_INV_MAX_BYTES);
  }
  return 0;
}

int agent_cmd_inventory(const agent_settings *s, const agent_lv_conf *conf, const char *out_path) {
  agent_tpm *t = NULL;
  lisec_buf ek;
  lisec_err err = {0};
  char host[ATTEST_HOST_ID_LEN + 1];
  agent_lv *lv = NULL;
  char *inv = NULL;
  size_t len = 0;
  lisec_buf_init(&ek, 4096);
  int rc = agent_open_tpm(s, false, &t, &ek);
  if (!rc && attest_host_id(ek.data, ek.len, host, &err) != 0) rc = agent_fail("%s", err.msg);
  agent_tpm_close(t);
  lisec_buf_free(&ek);
  if (!rc) rc = agent_lv_open(conf, false, &lv);
  if (!rc) rc = agent_lv_inventory(lv, host, &inv, &len);
  if (!rc && out_path && lisec_file_write_atomic(out_path, inv, len, 0644, &err) != 0)
    rc = agent_fail("%s: %s", out_path, err.msg);
  else if (!rc && !out_path)
    printf("%s\n", inv);
  free(inv);
  agent_lv_close(lv);
  return rc ? 2 : 0;
}
