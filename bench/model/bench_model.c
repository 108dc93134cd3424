/* bench/model: a generated platform (by default 10,000 hosts, 200,000 VMs,
 * 20,000 LI authorisations, 100,000 connections) loaded into lisec's model
 * and, side by side in the same process, into SQLite tables with every
 * requirement written as a SQL query, the way an operator would script it.
 * It times a full compliance evaluation and moveVM decisions on both, checks
 * that both give the same answers (violations per requirement, and each
 * decision's verdict and number of reasons), and prints the ratios and the
 * model's memory. Jurisdiction polygons are rectangles here so SQL can test
 * them with BETWEEN; lisec tests them with GEOS like any polygon. The
 * platform is an operator's that keeps the rules by design, with a few of
 * each rule broken now and then (see generate()); each LI VM keeps a store
 * per jurisdiction it serves (TR103308-4.2-STORE).
 *
 * usage: bench_model [HOSTS VMS LIS CONNS [DECISIONS [SQL_DECISIONS]]]
 *
 * bench/scale drives it for its curves: SQL_DECISIONS 0 leaves SQLite out
 * (lisec's figures only, and one line "scale: ..." to parse), and
 * BENCH_MODEL_HUBS="N K" makes N of the monitored VMs hubs with K more
 * connections each (half IPC to VMs on the same hypervisor, each pair in a
 * connection group) and times decisions that move a hub ("hubs: ..."). */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/internal.h"

static uint64_t rs = 0x2545f4914f6cdd1dull;
static uint32_t rnd(uint32_t n) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return n ? (uint32_t)(rs % n) : 0;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* This thread's CPU time (user + system): on a shared machine a wall time
 * also holds other processes' turns, the CPU time does not. */
static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The process's CPU time, every thread's: the full evaluation runs on
 * several (model_set_eval_threads). */
static double proc_cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return kib;
}

static void die(const char *what, const char *why) {
  fprintf(stderr, "bench_model: %s: %s\n", what, why);
  exit(1);
}

/* A verdict's reasons, one a line, for BENCH_MODEL_REASONS. */
static void reasons_write(FILE *f, const char *what, const model_verdict *v) {
  for (size_t k = 0; k < v->n; k++)
    fprintf(f, "%s\t%s\t%s\t%s\t%s\n", what, v->reasons[k].requirement, v->reasons[k].subject,
            v->reasons[k].sentence, v->reasons[k].fact);
}

/* ---- the generated platform (plain arrays, fed to both sides) ------------- */

enum { NCOUNTRY = 24 };
static const char *const countries[NCOUNTRY] = {"FI", "SE", "NO", "DK", "DE", "FR", "GB", "IE",
                                                "NL", "BE", "LU", "ES", "PT", "IT", "AT", "CH",
                                                "PL", "CZ", "SK", "HU", "RO", "BG", "GR", "EE"};
/* Disjoint boxes on a 6 x 4 grid stand in for each country's area. */
static void country_box(int c, double *lon0, double *lat0, double *lon1, double *lat1) {
  *lon0 = -10 + (c % 6) * 10.0;
  *lat0 = 35 + (c / 6) * 8.0;
  *lon1 = *lon0 + 9;
  *lat1 = *lat0 + 7;
}

typedef struct ghost {
  int country, sub; /* sub: index into model_iso3166_2, or -1 */
  int trust, prot;
  int has_loc, has_coords;
  double lat, lon;
} ghost;
typedef struct gvm {
  int hyp, cls, domain, paired;
} gvm;
typedef struct gconn {
  int a, b, kind, secure;
} gconn;
typedef struct ggroup {
  int n, conn[2], inter, stores;
} ggroup;
typedef struct gjur {
  int ncountry, country[2], sub; /* sub: iso index or -1 */
  int box;                       /* country index of a rectangle, or -1 */
} gjur;
typedef struct gli {
  int jur, mon, host, storage, via;
  int64_t from, until;
} gli;

static int NH, NVMS, NLI, NCONN;
static int NHUB, HUBK; /* BENCH_MODEL_HUBS: hub VMs and the connections of each */
static int *hubs;
static ghost *H;
static int *hyp_host, nhyp;
static gvm *V;
static gconn *C;
static int nconn;
static ggroup *G;
static int ngroup;
static int *st_root, nst;
static int (*att)[2], natt; /* storage, user */
static gjur *J;
static int njur;
static gli *L;
static int nli;
static int ndomain;
static const int64_t NOW = 1780272000; /* 2026-06-01 */

/* subdivisions of each country from the ISO table */
static int *subs_of[NCOUNTRY], nsubs_of[NCOUNTRY];

static int add_conn(int a, int b, int kind, int secure) {
  C[nconn] = (gconn){a, b, kind, secure};
  return nconn++;
}

static int add_group1(int c) {
  G[ngroup] = (ggroup){.n = 1, .conn = {c, -1}, .inter = -1};
  return ngroup++;
}

/* Open-addressing sets of pairs: VM pairs that already have a group, and
 * (storage, user) attachments. */
static uint64_t *pairset, *attset;
static size_t pairset_cap;
static int set_add(uint64_t *tab, uint64_t k) {
  k += 1;
  size_t i = (size_t)((k * 0x9e3779b97f4a7c15ull) >> 20) & (pairset_cap - 1);
  while (tab[i]) {
    if (tab[i] == k) return 1;
    i = (i + 1) & (pairset_cap - 1);
  }
  tab[i] = k;
  return 0;
}
static int pair_seen(int a, int b) {
  return set_add(pairset, a < b ? ((uint64_t)a << 32 | (uint32_t)b) : ((uint64_t)b << 32 | (uint32_t)a));
}
static void add_attach(int storage, int user) {
  if (set_add(attset, (uint64_t)storage << 32 | (uint32_t)user)) return;
  att[natt][0] = storage;
  att[natt][1] = user;
  natt++;
}

/* The stores: one per LI VM and jurisdiction it serves, keyed
 * (LI VM, jurisdiction) in an open-addressing map to the storage index. */
static uint64_t *store_key;
static int *store_val;
static size_t store_cap;
static int store_find(int host, int jur) {
  uint64_t k = ((uint64_t)(uint32_t)host << 32 | (uint32_t)jur) + 1;
  size_t i = (size_t)((k * 0x9e3779b97f4a7c15ull) >> 20) & (store_cap - 1);
  while (store_key[i] && store_key[i] != k) i = (i + 1) & (store_cap - 1);
  if (!store_key[i]) {
    store_key[i] = k;
    store_val[i] = -1;
  }
  return (int)i;
}

static int host_of_vm(int v) { return hyp_host[V[v].hyp]; }

static void generate(void) {
  for (size_t i = 0; i < model_iso3166_2_count; i++)
    for (int c = 0; c < NCOUNTRY; c++)
      if (strncmp(model_iso3166_2[i].code, countries[c], 2) == 0) {
        subs_of[c] = realloc(subs_of[c], (size_t)(nsubs_of[c] + 1) * sizeof(int));
        subs_of[c][nsubs_of[c]++] = (int)i;
      }
  H = calloc((size_t)NH, sizeof *H);
  hyp_host = calloc((size_t)NH * 2, sizeof *hyp_host);
  int *hosts_in[NCOUNTRY], nhosts_in[NCOUNTRY] = {0};
  for (int c = 0; c < NCOUNTRY; c++) hosts_in[c] = malloc((size_t)NH * sizeof(int));
  for (int h = 0; h < NH; h++) {
    ghost *x = &H[h];
    x->country = (int)rnd(NCOUNTRY);
    x->sub = nsubs_of[x->country] && rnd(4) ? subs_of[x->country][rnd((uint32_t)nsubs_of[x->country])] : -1;
    uint32_t t = rnd(100);
    x->trust = t < 95 ? 1 : t < 98 ? 0 : 2;
    uint32_t p = rnd(10);
    x->prot = p < 5 ? 2 : p < 8 ? 1 : 0;
    x->has_loc = rnd(200) != 0;
    x->has_coords = x->has_loc && rnd(3) != 0;
    double lon0, lat0, lon1, lat1;
    country_box(x->country, &lon0, &lat0, &lon1, &lat1);
    x->lon = lon0 + (lon1 - lon0) * rnd(10000) / 10000.0;
    x->lat = lat0 + (lat1 - lat0) * rnd(10000) / 10000.0;
    hosts_in[x->country][nhosts_in[x->country]++] = h;
    hyp_host[nhyp++] = h;
    if (rnd(10) == 0) hyp_host[nhyp++] = h; /* some hosts run two hypervisors */
  }
  /* hypervisors by protection level of their host, to place VMs mostly well */
  V = calloc((size_t)NVMS, sizeof *V);
  int nli_vm = NVMS / 50, nfw = NVMS / 100, nstore = NVMS / 200;
  int *vms_in[NCOUNTRY], nvms_in[NCOUNTRY] = {0}, *livms_in[NCOUNTRY], nlivms_in[NCOUNTRY] = {0},
      *fw_in[NCOUNTRY], nfw_in[NCOUNTRY] = {0}, *store_in[NCOUNTRY], nstore_in[NCOUNTRY] = {0};
  for (int c = 0; c < NCOUNTRY; c++) {
    vms_in[c] = malloc((size_t)NVMS * sizeof(int));
    livms_in[c] = malloc((size_t)NVMS * sizeof(int));
    fw_in[c] = malloc((size_t)NVMS * sizeof(int));
    store_in[c] = malloc((size_t)NVMS * sizeof(int));
  }
  ndomain = 100 + NCOUNTRY;
  for (int v = 0; v < NVMS; v++) {
    gvm *x = &V[v];
    int role = v < nli_vm ? 2 : v < nli_vm + nstore ? 3 : v < nli_vm + nstore + nfw ? 1 : 0;
    x->cls = role >= 2 ? 2 : role == 1 ? 0 : (rnd(10) < 3 ? 1 : 0);
    /* 9 in 10 VMs land on a host whose protection admits them */
    int hyp;
    for (int tries = 0;; tries++) {
      hyp = (int)rnd((uint32_t)nhyp);
      if (tries > 20 || rnd(10) == 0 || H[hyp_host[hyp]].prot >= x->cls) break;
    }
    x->hyp = hyp;
    int c = H[hyp_host[hyp]].country;
    x->domain = x->cls == 2 ? 100 + c : (int)rnd(100);
    if (x->cls == 2 && rnd(500) == 0) x->domain = (int)rnd(100); /* a few misplaced LI VMs */
    x->paired = x->cls == 2 ? rnd(100) != 0 : 0;
    if (role == 2) livms_in[c][nlivms_in[c]++] = v;
    else if (role == 3) store_in[c][nstore_in[c]++] = v;
    else if (role == 1) fw_in[c][nfw_in[c]++] = v;
    else vms_in[c][nvms_in[c]++] = v;
  }
  size_t conn_cap = (size_t)NCONN + (size_t)NLI + (size_t)NHUB * (size_t)HUBK + 8; /* an LI adds up to 5 */
  C = calloc(conn_cap, sizeof *C);
  G = calloc(conn_cap, sizeof *G);
  st_root = calloc((size_t)NLI, sizeof *st_root);
  att = calloc((size_t)NLI * 3, sizeof *att); /* its storage VM's, and now and then one or two more */
  store_cap = 1;
  while (store_cap < (size_t)NLI * 2) store_cap *= 2;
  store_key = calloc(store_cap, sizeof *store_key);
  store_val = calloc(store_cap, sizeof *store_val);
  pairset_cap = 1;
  while (pairset_cap < conn_cap * 4) pairset_cap *= 2;
  pairset = calloc(pairset_cap, sizeof *pairset);
  attset = calloc(pairset_cap, sizeof *attset);
  /* jurisdictions: each country, two subdivisions of each, pairs, boxes */
  J = calloc(NCOUNTRY * 5, sizeof *J);
  int jur_country[NCOUNTRY], jur_box[NCOUNTRY];
  for (int c = 0; c < NCOUNTRY; c++) {
    jur_country[c] = njur;
    J[njur++] = (gjur){1, {c, -1}, -1, -1};
    J[njur++] = (gjur){2, {c, (c + 1) % NCOUNTRY}, -1, -1};
    jur_box[c] = njur;
    J[njur++] = (gjur){0, {-1, -1}, -1, c};
  }
  L = calloc((size_t)NLI, sizeof *L);
  for (int i = 0; i < NLI; i++) {
    int c;
    do c = (int)rnd(NCOUNTRY);
    while (!nvms_in[c] || !nlivms_in[c] || !nstore_in[c]);
    gli *l = &L[i];
    l->mon = vms_in[c][rnd((uint32_t)nvms_in[c])];
    l->host = livms_in[c][rnd((uint32_t)nlivms_in[c])];
    l->via = rnd(10) < 3 ? livms_in[c][rnd((uint32_t)nlivms_in[c])] : l->host;
    uint32_t k = rnd(10);
    if (k < 6) l->jur = jur_country[c];
    else if (k < 8) l->jur = jur_country[c] + 1;
    else if (k < 9) l->jur = jur_box[c];
    else {
      /* the subdivision of the monitored VM's host, when it has one */
      int s = H[host_of_vm(l->mon)].sub;
      if (s >= 0) {
        J = realloc(J, (size_t)(njur + 1) * sizeof *J);
        J[njur] = (gjur){0, {-1, -1}, s, -1};
        l->jur = njur++;
      } else {
        l->jur = jur_country[c];
      }
    }
    /* Its storage, as an operator that keeps TR103308-4.2-STORE runs it:
     * each LI VM has a store of its own for each jurisdiction it serves
     * (on one of the country's storage VMs), shared by the LIs it hosts
     * there and provided to the VMs they store through, so every VM that
     * reads an LI's data is one the rule allows. (A store of the country
     * that every LI of it shares, whatever its jurisdiction, is read by LI
     * VMs outside a subdivision's, a box's: 64,790 violations.) */
    int *sk = &store_val[store_find(l->host, l->jur)];
    if (*sk < 0) {
      *sk = nst;
      st_root[nst++] = store_in[c][rnd((uint32_t)nstore_in[c])];
    }
    l->storage = *sk;
    l->from = NOW - 86400 * (int64_t)(1 + rnd(400));
    l->until = rnd(20) ? NOW + 86400 * (int64_t)(1 + rnd(400)) : NOW - 3600; /* 5% expired */
    /* monitored VM to LI VM: direct, or through a firewall VM */
    if (!pair_seen(l->mon, l->host)) {
      if (rnd(5) == 0 && nfw_in[c]) {
        int fw = fw_in[c][rnd((uint32_t)nfw_in[c])];
        if (fw != l->mon && fw != l->host) {
          int c1 = add_conn(l->mon, fw, 1, rnd(50) != 0), c2 = add_conn(fw, l->host, 1, rnd(50) != 0);
          G[ngroup++] = (ggroup){.n = 2, .conn = {c1, c2}, .inter = fw, .stores = rnd(30) == 0};
        }
      } else {
        add_group1(add_conn(l->mon, l->host, 1, rnd(50) != 0));
      }
    }
    /* LI VM to storage VM: IPC on one machine, else network */
    if (l->via != l->host && !pair_seen(l->host, l->via)) {
      int same = host_of_vm(l->host) == host_of_vm(l->via);
      add_group1(add_conn(l->host, l->via, same ? 0 : 1, rnd(100) != 0));
    }
    int root = st_root[l->storage];
    /* the storage provided to the VM that stores (now and then forgotten) */
    if (l->via != root && rnd(200)) add_attach(l->storage, l->via);
    if (l->via != root && !pair_seen(l->via, root)) add_group1(add_conn(l->via, root, 2, rnd(100) != 0));
    /* now and then the store is provided to one VM more, with the
     * connection to its storage VM that goes with it: another LI VM of the
     * country (1 in 100: a paired LI VM is allowed, but it may lie outside
     * a narrower jurisdiction or on hardware whose trust lapsed), or a VM
     * that is no LI VM (1 in 250, one in five of them the monitored VM
     * itself: never allowed) */
    int extra = -1;
    uint32_t e = rnd(1000);
    if (e < 10) extra = livms_in[c][rnd((uint32_t)nlivms_in[c])];
    else if (e < 14) extra = rnd(5) ? vms_in[c][rnd((uint32_t)nvms_in[c])] : l->mon;
    if (extra >= 0 && extra != root) {
      add_attach(l->storage, extra);
      if (!pair_seen(extra, root)) add_group1(add_conn(extra, root, 2, rnd(100) != 0));
    }
    nli++;
  }
  /* hubs: monitored VMs with HUBK more connections each, every other one
   * IPC to a VM on the same hypervisor when there is one nearby, each pair
   * in its own group (what a decision that moves the hub re-checks) */
  if (NHUB) hubs = calloc((size_t)NHUB, sizeof *hubs);
  for (int k = 0; k < NHUB && nli; k++) {
    int hub = L[rnd((uint32_t)nli)].mon;
    hubs[k] = hub;
    for (int j = 0; j < HUBK; j++) {
      int peer = (int)rnd((uint32_t)NVMS), ipc = j % 2 == 0;
      if (ipc)
        for (int d = 1; d < 64; d++)
          if (hub + d < NVMS && V[hub + d].hyp == V[hub].hyp && rnd(2)) {
            peer = hub + d;
            break;
          }
      if (peer == hub) peer = (hub + 1) % NVMS;
      int c = add_conn(hub, peer, ipc ? 0 : 1, rnd(5) != 0);
      if (!pair_seen(hub, peer)) add_group1(c);
    }
  }
  int conn_total = NCONN + NHUB * HUBK;
  /* the rest: ordinary connections, a quarter of them in groups, some IPC
   * between VMs on the same hypervisor */
  while (nconn < conn_total) {
    int a = (int)rnd((uint32_t)NVMS), b;
    int ipc = rnd(5) == 0;
    if (ipc) {
      b = (int)rnd((uint32_t)NVMS);
      if (rnd(4)) b = a + 1 < NVMS && V[a + 1].hyp == V[a].hyp ? a + 1 : b;
    } else {
      b = (int)rnd((uint32_t)NVMS);
    }
    if (a == b) continue;
    int c = add_conn(a, b, ipc ? 0 : 1, rnd(5) != 0);
    if (rnd(4) == 0 && !pair_seen(a, b)) add_group1(c);
  }
  for (int c = 0; c < NCOUNTRY; c++) {
    free(hosts_in[c]);
    free(vms_in[c]);
    free(livms_in[c]);
    free(fw_in[c]);
    free(store_in[c]);
  }
}

static void free_platform(void) {
  free(H);
  free(hyp_host);
  free(V);
  free(C);
  free(G);
  free(st_root);
  free(att);
  free(J);
  free(L);
  free(pairset);
  free(attset);
  free(store_key);
  free(store_val);
  free(hubs);
  for (int c = 0; c < NCOUNTRY; c++) free(subs_of[c]);
}

/* ---- lisec ------------------------------------------------------------------ */

static char *name(const char *p, int i) {
  static char buf[8][32];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s%d", p, i);
  return buf[k];
}

static void check(int rc, const lisec_err *err, const char *what) {
  if (rc) die(what, err->msg);
}

static model *load_lisec(void) {
  lisec_err err = {0};
  model *m = model_new();
  model_set_time(m, NOW, &err);
  model_batch_begin(m);
  for (int j = 0; j < njur; j++) {
    const char *codes[2];
    size_t n = 0;
    for (int k = 0; k < J[j].ncountry; k++) codes[n++] = countries[J[j].country[k]];
    if (J[j].sub >= 0) codes[n++] = model_iso3166_2[J[j].sub].code;
    json_t *geo = NULL;
    if (J[j].box >= 0) {
      double x0, y0, x1, y1;
      country_box(J[j].box, &x0, &y0, &x1, &y1);
      geo = json_pack("{s:s,s:[[[f,f],[f,f],[f,f],[f,f],[f,f]]]}", "type", "Polygon",
                      "coordinates", x0, y0, x1, y0, x1, y1, x0, y1, x0, y0);
    }
    check(model_jurisdiction_put(m, name("j", j), codes, n, geo, &err), &err, "jurisdiction");
    json_decref(geo);
  }
  check(model_lea_put(m, "lea", "LEA", NULL, &err), &err, "lea");
  for (int h = 0; h < NH; h++) {
    model_location loc = {.country = countries[H[h].country],
                          .subdivision = H[h].sub >= 0 ? model_iso3166_2[H[h].sub].code : NULL,
                          .has_coords = H[h].has_coords, .lat = H[h].lat, .lon = H[h].lon};
    model_host_spec s = {.id = name("h", h), .trust = (model_trust)H[h].trust,
                         .location = H[h].has_loc ? &loc : NULL, .protection = (model_class)H[h].prot};
    check(model_host_put(m, &s, &err), &err, "host");
  }
  for (int y = 0; y < nhyp; y++)
    check(model_hypervisor_put(m, name("hv", y), name("h", hyp_host[y]), &err), &err, "hypervisor");
  for (int v = 0; v < NVMS; v++) {
    model_vm_spec s = {.id = name("vm", v), .hypervisor = name("hv", V[v].hyp),
                       .sensitivity = (model_class)V[v].cls, .domain = name("d", V[v].domain),
                       .paired = V[v].paired};
    check(model_vm_put(m, &s, &err), &err, "vm");
  }
  for (int s = 0; s < nst; s++)
    check(model_storage_put(m, name("st", s), name("vm", st_root[s]), &err), &err, "storage");
  for (int a = 0; a < natt; a++)
    check(model_storage_attach(m, name("st", att[a][0]), name("vm", att[a][1]), &err), &err,
          "attach");
  for (int c = 0; c < nconn; c++) {
    model_conn_spec s = {.id = name("c", c), .a = name("vm", C[c].a), .b = name("vm", C[c].b),
                         .kind = (model_conn_kind)C[c].kind, .secure = C[c].secure};
    check(model_conn_put(m, &s, &err), &err, "connection");
  }
  for (int g = 0; g < ngroup; g++) {
    const char *cs[2] = {name("c", G[g].conn[0]), G[g].n > 1 ? name("c", G[g].conn[1]) : NULL};
    const char *inter[1] = {G[g].inter >= 0 ? name("vm", G[g].inter) : NULL};
    bool stores[1] = {G[g].stores != 0};
    model_group_spec s = {.id = name("g", g), .n = (size_t)G[g].n, .connections = cs,
                          .intermediates = G[g].n > 1 ? inter : NULL,
                          .stores = G[g].n > 1 ? stores : NULL};
    check(model_group_put(m, &s, &err), &err, "group");
  }
  for (int i = 0; i < nli; i++) {
    model_li_spec s = {.id = name("li", i), .jurisdiction = name("j", L[i].jur), .lea = "lea",
                       .monitored = name("vm", L[i].mon), .host = name("vm", L[i].host),
                       .storage = name("st", L[i].storage), .storage_via = name("vm", L[i].via),
                       .valid_from = L[i].from, .valid_until = L[i].until};
    check(model_li_put(m, &s, &err), &err, "li");
  }
  model_batch_end(m);
  return m;
}

/* ---- SQLite: the same platform as tables, each requirement as SQL ------------ */

static void exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) die(sql, msg ? msg : "?");
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die(sql, sqlite3_errmsg(db));
  return st;
}

static void ins(sqlite3_stmt *st, int n, const int64_t *v) {
  for (int i = 0; i < n; i++) sqlite3_bind_int64(st, i + 1, v[i]);
  if (sqlite3_step(st) != SQLITE_DONE) die("insert", sqlite3_errmsg(sqlite3_db_handle(st)));
  sqlite3_reset(st);
}

static int64_t one(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) die("query", sqlite3_errmsg(sqlite3_db_handle(st)));
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return v;
}

static sqlite3 *load_sqlite(void) {
  sqlite3 *db;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) die("sqlite", "open");
  exec(db,
       "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000;"
       "CREATE TABLE params(now INTEGER);"
       "CREATE TABLE host(id INTEGER PRIMARY KEY, trust INT, protection INT, country TEXT,"
       " sub TEXT, lat REAL, lon REAL, has_loc INT, has_coords INT);"
       /* callers name VMs and hypervisors, as lisec's are named */
       "CREATE TABLE hyp(id INTEGER PRIMARY KEY, host INT, name TEXT NOT NULL);"
       "CREATE TABLE vm(id INTEGER PRIMARY KEY, hyp INT, cls INT, domain INT, paired INT,"
       " name TEXT NOT NULL);"
       "CREATE TABLE storage(id INTEGER PRIMARY KEY, root INT);"
       "CREATE TABLE attach(storage INT, user INT);"
       "CREATE TABLE conn(id INTEGER PRIMARY KEY, a INT, b INT, kind INT, secure INT);"
       "CREATE TABLE grp(id INTEGER PRIMARY KEY, a INT, b INT);"
       "CREATE TABLE grp_conn(grp INT, conn INT);"
       "CREATE TABLE grp_inter(grp INT, vm INT, stores INT);"
       "CREATE TABLE jur_country(jur INT, code TEXT);"
       "CREATE TABLE jur_sub(jur INT, code TEXT);"
       "CREATE TABLE jur_box(jur INT, minlon REAL, minlat REAL, maxlon REAL, maxlat REAL);"
       "CREATE TABLE sub_anc(sub TEXT, anc TEXT);"
       "CREATE TABLE li(id INTEGER PRIMARY KEY, jur INT, monitored INT, host INT, storage INT,"
       " via INT, vfrom INT, vuntil INT);");
  exec(db, "BEGIN");
  char sqlbuf[128];
  snprintf(sqlbuf, sizeof sqlbuf, "INSERT INTO params VALUES(%lld)", (long long)NOW);
  exec(db, sqlbuf);
  sqlite3_stmt *st = prep(db, "INSERT INTO host VALUES(?,?,?,?,?,?,?,?,?)");
  for (int h = 0; h < NH; h++) {
    sqlite3_bind_int(st, 1, h);
    sqlite3_bind_int(st, 2, H[h].trust);
    sqlite3_bind_int(st, 3, H[h].prot);
    sqlite3_bind_text(st, 4, countries[H[h].country], -1, SQLITE_STATIC);
    if (H[h].sub >= 0) sqlite3_bind_text(st, 5, model_iso3166_2[H[h].sub].code, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 5);
    sqlite3_bind_double(st, 6, H[h].lat);
    sqlite3_bind_double(st, 7, H[h].lon);
    sqlite3_bind_int(st, 8, H[h].has_loc);
    sqlite3_bind_int(st, 9, H[h].has_coords);
    if (sqlite3_step(st) != SQLITE_DONE) die("insert host", sqlite3_errmsg(db));
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  st = prep(db, "INSERT INTO hyp VALUES(?,?,?)");
  for (int y = 0; y < nhyp; y++) {
    sqlite3_bind_text(st, 3, name("hv", y), -1, SQLITE_TRANSIENT);
    ins(st, 2, (int64_t[]){y, hyp_host[y]});
  }
  sqlite3_finalize(st);
  st = prep(db, "INSERT INTO vm VALUES(?,?,?,?,?,?)");
  for (int v = 0; v < NVMS; v++) {
    sqlite3_bind_text(st, 6, name("vm", v), -1, SQLITE_TRANSIENT);
    ins(st, 5, (int64_t[]){v, V[v].hyp, V[v].cls, V[v].domain, V[v].paired});
  }
  sqlite3_finalize(st);
  st = prep(db, "INSERT INTO storage VALUES(?,?)");
  for (int s = 0; s < nst; s++) ins(st, 2, (int64_t[]){s, st_root[s]});
  sqlite3_finalize(st);
  st = prep(db, "INSERT INTO attach VALUES(?,?)");
  for (int a = 0; a < natt; a++) ins(st, 2, (int64_t[]){att[a][0], att[a][1]});
  sqlite3_finalize(st);
  st = prep(db, "INSERT INTO conn VALUES(?,?,?,?,?)");
  for (int c = 0; c < nconn; c++) ins(st, 5, (int64_t[]){c, C[c].a, C[c].b, C[c].kind, C[c].secure});
  sqlite3_finalize(st);
  sqlite3_stmt *sg = prep(db, "INSERT INTO grp VALUES(?,?,?)"),
               *sgc = prep(db, "INSERT INTO grp_conn VALUES(?,?)"),
               *sgi = prep(db, "INSERT INTO grp_inter VALUES(?,?,?)");
  for (int g = 0; g < ngroup; g++) {
    int a, b;
    if (G[g].n == 1) {
      a = C[G[g].conn[0]].a;
      b = C[G[g].conn[0]].b;
    } else {
      const gconn *c1 = &C[G[g].conn[0]], *c2 = &C[G[g].conn[1]];
      a = c1->a == G[g].inter ? c1->b : c1->a;
      b = c2->a == G[g].inter ? c2->b : c2->a;
      ins(sgi, 3, (int64_t[]){g, G[g].inter, G[g].stores});
    }
    ins(sg, 3, (int64_t[]){g, a, b});
    for (int k = 0; k < G[g].n; k++) ins(sgc, 2, (int64_t[]){g, G[g].conn[k]});
  }
  sqlite3_finalize(sg);
  sqlite3_finalize(sgc);
  sqlite3_finalize(sgi);
  sqlite3_stmt *jc = prep(db, "INSERT INTO jur_country VALUES(?,?)"),
               *js = prep(db, "INSERT INTO jur_sub VALUES(?,?)"),
               *jb = prep(db, "INSERT INTO jur_box VALUES(?,?,?,?,?)");
  for (int j = 0; j < njur; j++) {
    for (int k = 0; k < J[j].ncountry; k++) {
      sqlite3_bind_int(jc, 1, j);
      sqlite3_bind_text(jc, 2, countries[J[j].country[k]], -1, SQLITE_STATIC);
      sqlite3_step(jc);
      sqlite3_reset(jc);
    }
    if (J[j].sub >= 0) {
      sqlite3_bind_int(js, 1, j);
      sqlite3_bind_text(js, 2, model_iso3166_2[J[j].sub].code, -1, SQLITE_STATIC);
      sqlite3_step(js);
      sqlite3_reset(js);
    }
    if (J[j].box >= 0) {
      double x0, y0, x1, y1;
      country_box(J[j].box, &x0, &y0, &x1, &y1);
      sqlite3_bind_int(jb, 1, j);
      sqlite3_bind_double(jb, 2, x0);
      sqlite3_bind_double(jb, 3, y0);
      sqlite3_bind_double(jb, 4, x1);
      sqlite3_bind_double(jb, 5, y1);
      sqlite3_step(jb);
      sqlite3_reset(jb);
    }
  }
  sqlite3_finalize(jc);
  sqlite3_finalize(js);
  sqlite3_finalize(jb);
  /* the ISO 3166-2 hierarchy: each subdivision with itself and its parents */
  st = prep(db, "INSERT INTO sub_anc VALUES(?,?)");
  for (size_t i = 0; i < model_iso3166_2_count; i++) {
    long k = (long)i;
    for (int d = 0; k >= 0 && d < 8; d++, k = model_iso3166_2[k].parent) {
      sqlite3_bind_text(st, 1, model_iso3166_2[i].code, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, model_iso3166_2[k].code, -1, SQLITE_STATIC);
      sqlite3_step(st);
      sqlite3_reset(st);
    }
  }
  sqlite3_finalize(st);
  st = prep(db, "INSERT INTO li VALUES(?,?,?,?,?,?,?,?)");
  for (int i = 0; i < nli; i++)
    ins(st, 8, (int64_t[]){i, L[i].jur, L[i].mon, L[i].host, L[i].storage, L[i].via, L[i].from,
                           L[i].until});
  sqlite3_finalize(st);
  exec(db, "COMMIT");
  /* the indexes an operator would add for these queries */
  exec(db,
       "CREATE INDEX hyp_host ON hyp(host); CREATE INDEX vm_hyp ON vm(hyp);"
       "CREATE UNIQUE INDEX vm_name ON vm(name); CREATE UNIQUE INDEX hyp_name ON hyp(name);"
       "CREATE INDEX vm_domain ON vm(domain, cls);"
       "CREATE INDEX conn_a ON conn(a); CREATE INDEX conn_b ON conn(b);"
       "CREATE INDEX grp_ab ON grp(a, b); CREATE INDEX grp_ba ON grp(b, a);"
       "CREATE INDEX gc_grp ON grp_conn(grp); CREATE INDEX gc_conn ON grp_conn(conn);"
       "CREATE INDEX gi_grp ON grp_inter(grp);"
       "CREATE INDEX li_mon ON li(monitored); CREATE INDEX li_host ON li(host);"
       "CREATE INDEX li_via ON li(via); CREATE INDEX li_storage ON li(storage);"
       "CREATE INDEX st_root ON storage(root);"
       "CREATE INDEX att_user ON attach(user, storage); CREATE INDEX att_st ON attach(storage);"
       "CREATE INDEX jc ON jur_country(jur, code); CREATE INDEX js ON jur_sub(jur, code);"
       "CREATE INDEX jb ON jur_box(jur); CREATE INDEX sa ON sub_anc(sub, anc);"
       "CREATE VIEW vmh AS SELECT vm.id AS vm, hyp.host AS host FROM vm JOIN hyp ON hyp.id = vm.hyp;"
       "CREATE VIEW lia AS SELECT li.*, storage.root AS prov FROM li JOIN storage ON"
       " storage.id = li.storage WHERE li.vfrom <= (SELECT now FROM params) AND"
       " (SELECT now FROM params) < li.vuntil;"
       "ANALYZE;");
  return db;
}

/* host H inside jurisdiction J (H a host row alias, J an expression) */
#define IN_JUR(H, J)                                                                        \
  "(" H ".has_loc AND (EXISTS(SELECT 1 FROM jur_country jc WHERE jc.jur=" J                 \
  " AND jc.code=" H ".country) OR EXISTS(SELECT 1 FROM jur_sub js JOIN sub_anc sa ON"      \
  " sa.anc=js.code WHERE js.jur=" J " AND sa.sub=" H ".sub) OR (" H ".has_coords AND"      \
  " EXISTS(SELECT 1 FROM jur_box jb WHERE jb.jur=" J " AND " H ".lon BETWEEN jb.minlon AND" \
  " jb.maxlon AND " H ".lat BETWEEN jb.minlat AND jb.maxlat))))"
/* group G has no IPC hop between two machines */
#define USABLE(G)                                                                             \
  "NOT EXISTS(SELECT 1 FROM grp_conn gc JOIN conn c ON c.id=gc.conn JOIN vmh x ON x.vm=c.a" \
  " JOIN vmh y ON y.vm=c.b WHERE gc.grp=" G " AND c.kind=0 AND x.host<>y.host)"
#define PATH(X, Y)                                                                   \
  "EXISTS(SELECT 1 FROM grp g WHERE ((g.a=" X " AND g.b=" Y ") OR (g.a=" Y " AND g.b=" \
  X ")) AND " USABLE("g.id") ")"
#define CARRYING                                                                            \
  "(SELECT g.id AS id FROM grp g WHERE EXISTS(SELECT 1 FROM lia WHERE lia.host=g.a) OR"    \
  " EXISTS(SELECT 1 FROM lia WHERE lia.host=g.b) OR EXISTS(SELECT 1 FROM lia l WHERE"      \
  " l.via<>l.prov AND ((l.via=g.a AND l.prov=g.b) OR (l.via=g.b AND l.prov=g.a))))"
#define ALLOWED(LV, X)                                                                    \
  "(EXISTS(SELECT 1 FROM vm p WHERE p.id=" X " AND p.cls=2 AND p.paired=1) OR EXISTS(SELECT" \
  " 1 FROM lia l WHERE l.host=" LV " AND (l.monitored=" X " OR l.via=" X " OR l.prov=" X ")))"

static const struct {
  model_rule rule;
  const char *sql;
} rule_sql[] = {
    {MODEL_R1, "SELECT count(*) FROM (SELECT jur, monitored AS v FROM lia UNION ALL SELECT jur,"
               " host FROM lia WHERE host<>monitored) r JOIN vmh ON vmh.vm=r.v JOIN host h ON"
               " h.id=vmh.host WHERE NOT " IN_JUR("h", "r.jur")},
    {MODEL_R2, "SELECT count(*) FROM lia l JOIN vmh ON vmh.vm=l.prov JOIN host h ON h.id=vmh.host"
               " WHERE l.prov NOT IN (l.monitored, l.host, l.via) AND NOT " IN_JUR("h", "l.jur")},
    {MODEL_R3, "SELECT count(*) FROM lia l JOIN vmh ON vmh.vm=l.via JOIN host h ON h.id=vmh.host"
               " WHERE l.via NOT IN (l.monitored, l.host) AND NOT " IN_JUR("h", "l.jur")},
    {MODEL_R4, "SELECT count(*) FROM lia l WHERE l.monitored<>l.host AND NOT "
               PATH("l.monitored", "l.host")},
    {MODEL_R5, "SELECT count(*) FROM attach a JOIN storage s ON s.id=a.storage WHERE"
               " a.user<>s.root AND NOT " PATH("a.user", "s.root")},
    {MODEL_R5, "SELECT count(*) FROM lia l WHERE l.via<>l.host AND NOT " PATH("l.host", "l.via")},
    {MODEL_R5, "SELECT count(*) FROM lia l WHERE l.via<>l.prov AND NOT EXISTS(SELECT 1 FROM"
               " attach a WHERE a.user=l.via AND a.storage=l.storage)"},
    {MODEL_R6, "SELECT (SELECT count(*) FROM conn c WHERE c.secure=0 AND EXISTS(SELECT 1 FROM lia"
               " WHERE lia.host=c.a)) + (SELECT count(*) FROM conn c WHERE c.secure=0 AND"
               " EXISTS(SELECT 1 FROM lia WHERE lia.host=c.b))"},
    {MODEL_R6, "SELECT count(*) FROM " CARRYING " cg WHERE EXISTS(SELECT 1 FROM grp_conn gc JOIN"
               " conn c ON c.id=gc.conn WHERE gc.grp=cg.id AND c.secure=0)"},
    {MODEL_R7, "SELECT count(*) FROM " CARRYING " cg JOIN grp_inter gi ON gi.grp=cg.id WHERE"
               " gi.stores=1"},
    {MODEL_R8, "SELECT count(*) FROM lia l JOIN vmh ON vmh.vm=l.host JOIN host h ON h.id=vmh.host"
               " WHERE NOT (h.trust=1 AND h.has_loc)"},
    {MODEL_R9, "SELECT count(*) FROM lia l JOIN vmh ON vmh.vm=l.prov JOIN host h ON h.id=vmh.host"
               " WHERE NOT (h.trust=1 AND h.has_loc)"},
    {MODEL_R10, "SELECT count(*) FROM host WHERE trust=1 AND has_loc=0"},
    {MODEL_DOMAIN, "SELECT count(*) FROM (SELECT domain FROM vm GROUP BY domain HAVING"
                   " sum(cls=2)>0 AND sum(cls<>2)>0)"},
    {MODEL_KNOWN, "SELECT count(*) FROM lia l JOIN vm v ON v.id=l.host WHERE NOT (v.cls=2 AND"
                  " v.paired=1)"},
    {MODEL_KNOWN, "SELECT count(*) FROM (SELECT id, a AS lv, b AS o FROM conn UNION ALL SELECT"
                  " id, b, a FROM conn) e JOIN vm lv ON lv.id=e.lv WHERE lv.cls=2 AND NOT ("
                  ALLOWED("e.lv", "e.o") " OR EXISTS(SELECT 1 FROM grp_conn gc JOIN grp g ON"
                  " g.id=gc.grp WHERE gc.conn=e.id AND ((g.a=e.lv AND " ALLOWED("e.lv", "g.b")
                  ") OR (g.b=e.lv AND " ALLOWED("e.lv", "g.a") "))))"},
    {MODEL_O13, "SELECT count(*) FROM vm v JOIN hyp y ON y.id=v.hyp JOIN host h ON h.id=y.host"
                " WHERE v.cls > h.protection"},
    /* every other VM an LI's storage is provided to: one fact when not
     * allowed, else its location and (an LI VM) its trust */
    {MODEL_STORE, "SELECT coalesce(sum(CASE WHEN NOT (a.user<>l.monitored AND ((u.cls=2 AND"
                  " u.paired=1) OR EXISTS(SELECT 1 FROM lia l2 WHERE l2.host=l.host AND"
                  " l2.via=a.user))) THEN 1 ELSE (NOT " IN_JUR("h", "l.jur") ") + (u.cls=2 AND"
                  " NOT (h.trust=1 AND h.has_loc)) END), 0) FROM lia l JOIN attach a ON"
                  " a.storage=l.storage JOIN vm u ON u.id=a.user JOIN vmh ON vmh.vm=a.user JOIN"
                  " host h ON h.id=vmh.host WHERE a.user NOT IN (l.via, l.host)"},
};

/* The move questions of lisec's model_decide_move, as SQL. */
typedef struct sql_move {
  sqlite3_stmt *vm, *target, *r11, *store, *path, *inv;
} sql_move;

#define HOST_AFTER(X, H) "(CASE WHEN " X "=?1 THEN ?2 ELSE " H " END)"
#define USABLE_AFTER(G)                                                                       \
  "NOT EXISTS(SELECT 1 FROM grp_conn gc JOIN conn c ON c.id=gc.conn JOIN vmh x ON x.vm=c.a" \
  " JOIN vmh y ON y.vm=c.b WHERE gc.grp=" G " AND c.kind=0 AND " HOST_AFTER("c.a", "x.host") \
  "<>" HOST_AFTER("c.b", "y.host") ")"
#define PATH_AFTER(X, Y)                                                             \
  "EXISTS(SELECT 1 FROM grp g WHERE ((g.a=" X " AND g.b=" Y ") OR (g.a=" Y " AND g.b=" \
  X ")) AND " USABLE_AFTER("g.id") ")"
#define BROKEN(X, Y) "(" PATH(X, Y) " AND NOT " PATH_AFTER(X, Y) ")"
#define ENDS_MATCH(X, Y) "((" X "=e.a AND " Y "=e.b) OR (" X "=e.b AND " Y "=e.a))"

static void sql_move_prepare(sqlite3 *db, sql_move *q) {
  q->vm = prep(db, "SELECT vm.id, vm.hyp, vm.cls FROM vm WHERE vm.name=?1");
  q->target = prep(db, "SELECT y.id, h.id, h.trust, h.has_loc, h.protection FROM hyp y JOIN host h"
                       " ON h.id=y.host WHERE y.name=?1");
  /* every active LI that involves v, with the target (of a known
   * location: none is its trust's, MOVE2) outside its jurisdiction */
#define INVOLVING                                                                             \
  "(SELECT id, jur FROM lia WHERE monitored=?1 UNION SELECT id, jur FROM lia WHERE host=?1"  \
  " UNION SELECT id, jur FROM lia WHERE via=?1 UNION SELECT l.id, l.jur FROM li l JOIN"      \
  " storage s ON s.id=l.storage WHERE s.root=?1 AND l.vfrom<=(SELECT now FROM params) AND"   \
  " (SELECT now FROM params) < l.vuntil)"
  q->r11 = prep(db, "SELECT x.id, x.jur FROM " INVOLVING " x JOIN host h ON h.id=?2 WHERE h.has_loc"
                    " AND NOT " IN_JUR("h", "x.jur"));
  /* whether an active LI involves v (R11 beside MOVE2 onto untrusted hardware) */
  q->inv = prep(db, "SELECT 1 FROM " INVOLVING " LIMIT 1");
  /* every active LI whose storage v reads besides its storage VM and LI
   * VM, with the target outside its jurisdiction (4.2-STORE) */
  q->store = prep(db, "SELECT l.id FROM lia l JOIN attach a ON a.storage=l.storage JOIN host h ON"
                      " h.id=?2 WHERE a.user=?1 AND ?1 NOT IN (l.via, l.host) AND h.has_loc AND NOT "
                      IN_JUR("h", "l.jur"));
  /* LI and storage paths that hold now and would not after the move */
  q->path = prep(
      db,
      "WITH vg AS (SELECT DISTINCT gc.grp FROM conn c JOIN grp_conn gc ON gc.conn=c.id WHERE"
      " (c.a=?1 OR c.b=?1) AND c.kind=0),"
      " e AS (SELECT DISTINCT min(g.a,g.b) AS a, max(g.a,g.b) AS b FROM grp g JOIN vg ON"
      " vg.grp=g.id)"
      " SELECT 4, l.id FROM e JOIN lia l ON " ENDS_MATCH("l.monitored", "l.host")
      " WHERE " BROKEN("l.monitored", "l.host")
      " UNION ALL SELECT 5, l.id FROM e JOIN lia l ON " ENDS_MATCH("l.host", "l.via")
      " WHERE l.via<>l.host AND " BROKEN("l.host", "l.via")
      " UNION ALL SELECT 50, a.rowid FROM e JOIN attach a ON (a.user=e.a OR a.user=e.b) JOIN"
      " storage s ON s.id=a.storage WHERE " ENDS_MATCH("a.user", "s.root") " AND "
      BROKEN("a.user", "s.root"));
}

/* Steps through every row (a failed requirement and the entity it names,
 * as a script would collect them for its answer); returns the count. */
static int rows(sqlite3_stmt *st) {
  int n = 0, rc;
  volatile int64_t sink = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    sink += sqlite3_column_int64(st, 0) + sqlite3_column_int64(st, 1);
    n++;
  }
  if (rc != SQLITE_DONE) die("query", sqlite3_errmsg(sqlite3_db_handle(st)));
  sqlite3_reset(st);
  (void)sink;
  return n;
}

/* Returns the number of reasons lisec's decision would give (0 = allow).
 * The question names the VM and the hypervisor, as lisec's does. */
static int sql_move_decide(sql_move *q, const char *vname, const char *hname) {
  sqlite3_bind_text(q->vm, 1, vname, -1, SQLITE_STATIC);
  if (sqlite3_step(q->vm) != SQLITE_ROW) die("vm", "missing");
  int v = sqlite3_column_int(q->vm, 0), cur = sqlite3_column_int(q->vm, 1),
      cls = sqlite3_column_int(q->vm, 2);
  sqlite3_reset(q->vm);
  sqlite3_bind_text(q->target, 1, hname, -1, SQLITE_STATIC);
  if (sqlite3_step(q->target) != SQLITE_ROW) die("hyp", "missing");
  int hyp = sqlite3_column_int(q->target, 0), th = sqlite3_column_int(q->target, 1),
      trust = sqlite3_column_int(q->target, 2), has_loc = sqlite3_column_int(q->target, 3),
      prot = sqlite3_column_int(q->target, 4);
  sqlite3_reset(q->target);
  if (cur == hyp) return 1; /* MOVE1 */
  int n = 0;
  sqlite3_bind_int(q->r11, 1, v);
  sqlite3_bind_int(q->r11, 2, th);
  n += rows(q->r11);
  sqlite3_bind_int(q->store, 1, v);
  sqlite3_bind_int(q->store, 2, th);
  n += rows(q->store);
  if (!(trust == 1 && has_loc)) { /* MOVE2, and R11 when an LI involves v */
    n++;
    sqlite3_bind_int(q->inv, 1, v);
    n += rows(q->inv);
  }
  if (cls > prot) n++;               /* O.1.3 */
  sqlite3_bind_int(q->path, 1, v);
  sqlite3_bind_int(q->path, 2, th);
  n += rows(q->path);
  return n;
}

/* One decision as lisecd makes it: the model's clock set to now (lisecd
 * does so before every decision), the ids looked up, the verdict with every
 * reason's sentence, and the verdict freed. Returns its time and, in *n,
 * the number of reasons (0: allowed). */
static double lisec_decide(model *m, int vm, int hyp, int *n) {
  char vname[32], hname[32];
  snprintf(vname, sizeof vname, "vm%d", vm);
  snprintf(hname, sizeof hname, "hv%d", hyp);
  lisec_err err = {0};
  model_verdict v;
  double a = now_s();
  model_set_time(m, NOW, &err);
  if (model_decide_move(m, vname, hname, &v, &err)) die("decide", err.msg);
  if (n) *n = v.allow ? 0 : (int)v.n;
  model_verdict_free(&v);
  return now_s() - a;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p) {
  int i = (int)(p * (n - 1) + 0.5);
  return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

int main(int argc, char **argv) {
  NH = argc > 1 ? atoi(argv[1]) : 10000;
  NVMS = argc > 2 ? atoi(argv[2]) : 200000;
  NLI = argc > 3 ? atoi(argv[3]) : 20000;
  NCONN = argc > 4 ? atoi(argv[4]) : 100000;
  int ndec = argc > 5 ? atoi(argv[5]) : 20000, nsqldec = argc > 6 ? atoi(argv[6]) : 2000;
  const char *hub_env = getenv("BENCH_MODEL_HUBS");
  if (hub_env && sscanf(hub_env, "%d %d", &NHUB, &HUBK) != 2) NHUB = HUBK = 0;
  if (NHUB < 0 || NHUB > 100000 || HUBK < 0 || HUBK > 100000 || (long)NHUB * HUBK > 50000000L)
    die("BENCH_MODEL_HUBS", "N K with N, K <= 100,000 and N x K <= 50,000,000");
  if (NH < 10 || NVMS < 1000 || NLI < 1 || NCONN < NLI * 4 || ndec < 10 || NH > 10000000 ||
      NVMS > 100000000 || NLI > NVMS || NCONN > 100000000 || ndec > 10000000 ||
      (nsqldec != 0 && (nsqldec < 10 || nsqldec >= ndec)))
    die("usage", "bench_model [HOSTS VMS LIS CONNS(>=4*LIS) [DECISIONS [SQL_DECISIONS<DECISIONS]]]");
  double t0 = now_s();
  generate();
  printf("platform: %d hosts, %d hypervisors, %d VMs, %d LI authorisations, %d connections, %d "
         "connection groups, %d storage, %d attachments, %d jurisdictions (generated in %.2f s)\n",
         NH, nhyp, NVMS, nli, nconn, ngroup, nst, natt, njur, now_s() - t0);

  long rss0 = rss_kib();
  t0 = now_s();
  model *m = load_lisec();
  double t_load = now_s() - t0;
  long rss1 = rss_kib();
  size_t counts[MODEL_RULE_COUNT];
  /* full evaluation: every rule for every entity, best of 3, on the
   * threads lisecd uses (one per CPU) alternating with one thread, the
   * way it ran before (issue 22 item 7); both must find the same */
  double t_full = 1e9, c_full = 1e9, t_one = 1e9, c_one = 1e9;
  size_t n_par = 0, n_one = 0;
  for (int r = 0; r < 6; r++) {
    bool one = r % 2;
    model_set_eval_threads(m, one ? 1 : 0, one ? 0 : MODEL_EVAL_PAR_MIN);
    double c0 = proc_cpu_s();
    t0 = now_s();
    model_evaluate_all(m);
    double t = now_s() - t0, c = proc_cpu_s() - c0;
    double *bt = one ? &t_one : &t_full, *bc = one ? &c_one : &c_full;
    if (t < *bt) *bt = t;
    if (c < *bc) *bc = c;
    *(one ? &n_one : &n_par) = model_violation_count(m);
  }
  model_set_eval_threads(m, 0, MODEL_EVAL_PAR_MIN);
  model_evaluate_all(m);
  if (n_one != n_par) die("full evaluation", "one thread and several found different violations");
  t0 = now_s();
  model_verdict all;
  if (model_compliance(m, &all)) die("compliance", "failed");
  double t_list = now_s() - t0;
  size_t nviol = all.n;
  model_verdict_free(&all);
  model_count_by_rule(m, counts);

  printf("lisec: loaded in %.2f s, model RSS %.0f MiB\n", t_load, (rss1 - rss0) / 1024.0);
  printf("lisec: full compliance evaluation %.1f ms (goal < 1000 ms; CPU %.1f ms); listing all %zu violations "
         "with sentences %.1f ms\n",
         t_full * 1e3, c_full * 1e3, nviol, t_list * 1e3);
  printf("lisec: full evaluation on one thread %.1f ms (CPU %.1f ms): %.2fx the wall time of %ld threads\n",
         t_one * 1e3, c_one * 1e3, t_one / t_full, sysconf(_SC_NPROCESSORS_ONLN));

  /* decisions: monitored VMs, LI VMs, storage VMs and any VM; targets in
   * the same country half of the time */
  int *dv = malloc((size_t)ndec * sizeof(int)), *dh = malloc((size_t)ndec * sizeof(int));
  for (int i = 0; i < ndec; i++) {
    uint32_t k = rnd(10);
    const gli *l = &L[rnd((uint32_t)nli)];
    dv[i] = k < 4 ? l->mon : k < 6 ? l->host : k < 7 ? st_root[l->storage] : (int)rnd((uint32_t)NVMS);
    int c = H[host_of_vm(dv[i])].country;
    int h = (int)rnd((uint32_t)nhyp);
    for (int tries = 0; rnd(2) && tries < 200 && H[hyp_host[h]].country != c; tries++)
      h = (int)rnd((uint32_t)nhyp);
    dh[i] = h;
  }
  double *lat = malloc((size_t)ndec * sizeof(double));
  int *lisec_n = malloc((size_t)ndec * sizeof(int)), allowed = 0;
  lisec_err err = {0};
  double c_dec = cpu_s();
  for (int i = 0; i < ndec; i++) {
    lat[i] = lisec_decide(m, dv[i], dh[i], &lisec_n[i]);
    allowed += lisec_n[i] == 0;
  }
  c_dec = (cpu_s() - c_dec) / ndec;
  double allow_sum = 0, deny_sum = 0;
  long reasons = 0;
  for (int i = 0; i < ndec; i++) {
    if (lisec_n[i]) deny_sum += lat[i], reasons += lisec_n[i];
    else allow_sum += lat[i];
  }
  qsort(lat, (size_t)ndec, sizeof *lat, cmp_d);
  double lp50 = pct(lat, ndec, 0.5), lp99 = pct(lat, ndec, 0.99), lmax = lat[ndec - 1];
  printf("lisec: %d move decisions (%d allowed): p50 %.1f us, p99 %.1f us (goal < 50 us), max "
         "%.1f us\n",
         ndec, allowed, lp50 * 1e6, lp99 * 1e6, lmax * 1e6);
  printf("lisec: mean %.2f us for an allow, %.2f us for a deny (%.1f reasons on average, each "
         "with its sentence)\n",
         allow_sum / (allowed ? allowed : 1) * 1e6, deny_sum / (ndec - allowed ? ndec - allowed : 1) * 1e6,
         (double)reasons / (ndec - allowed ? ndec - allowed : 1));
  /* what the denies hold: the same decisions again, untimed, their
   * reasons counted by requirement; BENCH_MODEL_REASONS=FILE also writes
   * the compliance report's reasons and then theirs, word for word, to
   * compare the text of two builds */
  {
    size_t by_rule[MODEL_RULE_COUNT] = {0};
    const char *dump_path = getenv("BENCH_MODEL_REASONS");
    FILE *dump = dump_path ? fopen(dump_path, "w") : NULL;
    if (dump_path && !dump) die("BENCH_MODEL_REASONS", strerror(errno));
    if (dump) {
      model_verdict c;
      if (model_compliance(m, &c)) die("compliance", "failed");
      reasons_write(dump, "compliance", &c);
      model_verdict_free(&c);
    }
    for (int i = 0; i < ndec; i++) {
      char vname[32], hname[32];
      snprintf(vname, sizeof vname, "vm%d", dv[i]);
      snprintf(hname, sizeof hname, "hv%d", dh[i]);
      model_verdict v;
      model_set_time(m, NOW, &err);
      if (model_decide_move(m, vname, hname, &v, &err)) die("decide", err.msg);
      for (size_t k = 0; !v.allow && k < v.n; k++)
        if ((int)v.reasons[k].rule < MODEL_RULE_COUNT) by_rule[v.reasons[k].rule]++;
      if (dump) {
        char what[80];
        snprintf(what, sizeof what, "move %s %s", vname, hname);
        reasons_write(dump, what, &v);
      }
      model_verdict_free(&v);
    }
    if (dump && fclose(dump)) die("BENCH_MODEL_REASONS", strerror(errno));
    printf("lisec: reasons of the denies by requirement:");
    for (int r = 0; r < MODEL_RULE_COUNT; r++)
      if (by_rule[r]) printf(" %s %zu", model_rule_id((model_rule)r) + 9, by_rule[r]);
    printf("\n");
  }
  /* incremental upkeep: a host losing trust and regaining it */
  double *up = malloc(2000 * sizeof(double));
  for (int i = 0; i < 1000; i++) {
    const char *h = name("h", (int)rnd((uint32_t)NH));
    double a = now_s();
    model_host_set_trust(m, h, MODEL_TRUST_UNTRUSTED, &err);
    up[2 * i] = now_s() - a;
    a = now_s();
    model_host_set_trust(m, h, MODEL_TRUST_TRUSTED, &err);
    up[2 * i + 1] = now_s() - a;
  }
  qsort(up, 2000, sizeof *up, cmp_d);
  printf("lisec: incremental re-evaluation after a host's trust changes: p50 %.1f us, p99 %.1f us\n",
         pct(up, 2000, 0.5) * 1e6, pct(up, 2000, 0.99) * 1e6);

  if (NHUB) {
    /* decisions that move a hub: each hub to random hypervisors */
    enum { HUB_DEC_MAX = 20000 };
    int nh = NHUB * 20 < HUB_DEC_MAX ? NHUB * 20 : HUB_DEC_MAX;
    double *hl = malloc((size_t)nh * sizeof *hl);
    double *hc = malloc((size_t)nh * sizeof *hc);
    for (int i = 0; i < nh; i++) {
      double c0 = cpu_s();
      hl[i] = lisec_decide(m, hubs[i % NHUB], (int)rnd((uint32_t)nhyp), NULL);
      hc[i] = cpu_s() - c0;
    }
    qsort(hl, (size_t)nh, sizeof *hl, cmp_d);
    qsort(hc, (size_t)nh, sizeof *hc, cmp_d);
    /* the wall p99 holds the other processes' turns on a busy machine
     * (a decision preempted once); the CPU time does not */
    printf("hubs: %d hub VMs x %d connections: %d decisions moving a hub p50 %.1f us p99 %.1f us"
           " cpu p50 %.1f us p99 %.1f us\n",
           NHUB, HUBK, nh, pct(hl, nh, 0.5) * 1e6, pct(hl, nh, 0.99) * 1e6, pct(hc, nh, 0.5) * 1e6,
           pct(hc, nh, 0.99) * 1e6);
    free(hl);
    free(hc);
  }
  if (nsqldec == 0) {
    /* bench/scale's line: hosts VMs LIs connections load_s full_ms p50_us
     * p99_us rss_mib full_cpu_ms decision_mean_cpu_us */
    printf("scale: %d %d %d %d %.2f %.2f %.2f %.2f %.1f %.2f %.2f %.2f %.2f\n", NH, NVMS, nli, nconn, t_load,
           t_full * 1e3, lp50 * 1e6, lp99 * 1e6, (rss1 - rss0) / 1024.0, c_full * 1e3, c_dec * 1e6, t_one * 1e3,
           c_one * 1e3);
    model_free(m);
    free(dv);
    free(dh);
    free(lat);
    free(lisec_n);
    free(up);
    free_platform();
    return 0;
  }
  /* SQLite beside it */
  t0 = now_s();
  sqlite3 *db = load_sqlite();
  double t_sload = now_s() - t0;
  printf("sqlite: loaded with indexes in %.2f s, %.0f MiB in SQLite's allocator\n", t_sload,
         sqlite3_memory_used() / 1048576.0);
  size_t sqlcounts[MODEL_RULE_COUNT] = {0};
  t0 = now_s();
  for (size_t i = 0; i < LISEC_ARRAY_LEN(rule_sql); i++) {
    sqlite3_stmt *st = prep(db, rule_sql[i].sql);
    sqlcounts[rule_sql[i].rule] += (size_t)one(st);
    sqlite3_finalize(st);
  }
  double t_sfull = now_s() - t0;
  int mismatch = 0;
  for (int r = 0; r < MODEL_RULE_COUNT; r++)
    if (sqlcounts[r] != counts[r]) {
      fprintf(stderr, "MISMATCH %s: lisec %zu, sql %zu\n", model_rule_id((model_rule)r), counts[r],
              sqlcounts[r]);
      mismatch = 1;
    }
  printf("violations per requirement (lisec = sql):");
  for (int r = 0; r < MODEL_RULE_COUNT; r++)
    if (counts[r]) printf(" %s %zu", model_rule_id((model_rule)r) + 9, counts[r]);
  printf("%s\n", mismatch ? "  [MISMATCH]" : "");
  printf("sqlite: full compliance (one query per requirement) %.1f ms\n", t_sfull * 1e3);

  /* The same decisions on both sides, in rounds that alternate (lisec,
   * SQLite, lisec, ...), each decision timed on its own; a decision's time
   * on each side is the median of its rounds, so a preemption on this
   * shared machine (one costs more than a thousand lisec decisions) lands
   * in one round and is not charged to either side. Before each timed
   * round, the side answers other questions (decisions outside the compared
   * set, untimed), so it is timed in its steady state rather than just
   * after the other side has filled the caches with its own data. */
  enum { ROUNDS = 3, WARM_LISEC = 2000, WARM_SQL = 200 };
  sql_move q;
  sql_move_prepare(db, &q);
  double *lr = malloc((size_t)nsqldec * ROUNDS * sizeof(double));
  double *sr = malloc((size_t)nsqldec * ROUNDS * sizeof(double));
  int disagree = 0;
  model_verdict before;
  if (model_compliance(m, &before)) die("compliance", "failed");
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < WARM_LISEC; i++) {
      int k = nsqldec + (r * WARM_LISEC + i) % (ndec - nsqldec);
      lisec_decide(m, dv[k], dh[k], NULL);
    }
    for (int i = 0; i < nsqldec; i++) lr[i * ROUNDS + r] = lisec_decide(m, dv[i], dh[i], NULL);
    for (int i = 0; i < WARM_SQL; i++) {
      int k = nsqldec + (r * WARM_SQL + i) % (ndec - nsqldec);
      char vname[32], hname[32];
      snprintf(vname, sizeof vname, "vm%d", dv[k]);
      snprintf(hname, sizeof hname, "hv%d", dh[k]);
      sql_move_decide(&q, vname, hname);
    }
    for (int i = 0; i < nsqldec; i++) {
      char vname[32], hname[32];
      snprintf(vname, sizeof vname, "vm%d", dv[i]);
      snprintf(hname, sizeof hname, "hv%d", dh[i]);
      double a = now_s();
      int n = sql_move_decide(&q, vname, hname);
      sr[i * ROUNDS + r] = now_s() - a;
      if (r == 0 && n != lisec_n[i]) {
        if (disagree < 5)
          fprintf(stderr, "DISAGREE move vm%d to hv%d: lisec %d reasons, sql %d\n", dv[i], dh[i],
                  lisec_n[i], n);
        disagree++;
      }
    }
  }
  double *lmed = malloc((size_t)nsqldec * sizeof(double)), *smed = malloc((size_t)nsqldec * sizeof(double));
  double lsum = 0, ssum = 0, l_allow = 0, l_deny = 0, s_allow = 0, s_deny = 0, lraw = 0, sraw = 0;
  int s_nallow = 0;
  for (int i = 0; i < nsqldec; i++) {
    for (int r = 0; r < ROUNDS; r++) lraw += lr[i * ROUNDS + r], sraw += sr[i * ROUNDS + r];
    qsort(&lr[i * ROUNDS], ROUNDS, sizeof(double), cmp_d);
    qsort(&sr[i * ROUNDS], ROUNDS, sizeof(double), cmp_d);
    lmed[i] = lr[i * ROUNDS + ROUNDS / 2];
    smed[i] = sr[i * ROUNDS + ROUNDS / 2];
    lsum += lmed[i];
    ssum += smed[i];
    if (lisec_n[i]) l_deny += lmed[i], s_deny += smed[i];
    else l_allow += lmed[i], s_allow += smed[i], s_nallow++;
  }
  qsort(lmed, (size_t)nsqldec, sizeof *lmed, cmp_d);
  qsort(smed, (size_t)nsqldec, sizeof *smed, cmp_d);
  printf("sqlite: %d move decisions (the first %d of lisec's), median of %d rounds each: p50 %.1f "
         "us, p99 %.1f us, mean %.1f us\n",
         nsqldec, nsqldec, ROUNDS, pct(smed, nsqldec, 0.5) * 1e6, pct(smed, nsqldec, 0.99) * 1e6,
         ssum / nsqldec * 1e6);
  printf("lisec: the same %d decisions, median of %d rounds each: p50 %.2f us, p99 %.2f us, mean "
         "%.2f us\n",
         nsqldec, ROUNDS, pct(lmed, nsqldec, 0.5) * 1e6, pct(lmed, nsqldec, 0.99) * 1e6,
         lsum / nsqldec * 1e6);
  printf("agreement: %d of %d decisions give the same verdict and number of reasons%s\n",
         nsqldec - disagree, nsqldec, disagree ? "  [DISAGREE]" : "");
  if (s_nallow && s_nallow < nsqldec)
    printf("ratio by verdict (means): allowed sqlite %.1f us / lisec %.2f us = %.1fx; denied "
           "sqlite %.1f us / lisec %.2f us = %.1fx\n",
           s_allow / s_nallow * 1e6, l_allow / s_nallow * 1e6, s_allow / l_allow,
           s_deny / (nsqldec - s_nallow) * 1e6, l_deny / (nsqldec - s_nallow) * 1e6, s_deny / l_deny);
  printf("ratio full evaluation: sqlite / lisec = %.1fx\n", t_sfull / t_full);
  printf("ratio per decision, every round's time (no medians): sqlite / lisec = %.1fx\n", sraw / lraw);
  printf("ratio per decision (mean of the per-decision medians over the same %d decisions): "
         "sqlite / lisec = %.1fx (goal >= 20x); p50 %.1fx\n",
         nsqldec, ssum / lsum, pct(smed, nsqldec, 0.5) / pct(lmed, nsqldec, 0.5));
  /* Every decision undoes itself: after all of them the index must hold
   * exactly what it held before (every reason, word for word), and what a
   * full evaluation gives. */
  for (int pass = 0; pass < 2; pass++) {
    if (pass) model_evaluate_all(m);
    model_verdict now;
    if (model_compliance(m, &now)) die("compliance", "failed");
    bool same = now.n == before.n;
    for (size_t i = 0; same && i < now.n; i++)
      same = now.reasons[i].rule == before.reasons[i].rule &&
             strcmp(now.reasons[i].subject, before.reasons[i].subject) == 0 &&
             strcmp(now.reasons[i].sentence, before.reasons[i].sentence) == 0 &&
             strcmp(now.reasons[i].fact, before.reasons[i].fact) == 0;
    if (!same) {
      fprintf(stderr, "MISMATCH: the decisions left the compliance index changed%s\n",
              pass ? " (against a full evaluation)" : "");
      mismatch = 1;
    }
    model_verdict_free(&now);
  }
  model_verdict_free(&before);
  free(lr);
  free(sr);
  free(lmed);
  free(smed);
  sqlite3_finalize(q.vm);
  sqlite3_finalize(q.target);
  sqlite3_finalize(q.r11);
  sqlite3_finalize(q.inv);
  sqlite3_finalize(q.store);
  sqlite3_finalize(q.path);
  sqlite3_close(db);
  model_free(m);
  free(dv);
  free(dh);
  free(lat);
  free(lisec_n);
  free(up);
  free_platform();
  return mismatch || disagree ? 1 : 0;
}
