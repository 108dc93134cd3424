/* The model's private layout, shared by its .c files: interned ids mapped
 * to dense indices, one array per entity kind, adjacency arrays (host ->
 * hypervisors -> VMs, VM -> LIs, connections, groups, storage), the
 * per-subject violation lists that form the compliance index, and the scope
 * machinery that re-evaluates only the subjects a change touches. */
#ifndef LISEC_MODEL_INTERNAL_H
#define LISEC_MODEL_INTERNAL_H

#include <geos_c.h>
#include <pthread.h>

#include "model/model.h"

#define NONE UINT32_MAX

/* ---- small containers --------------------------------------------------- */

typedef struct idvec {
  uint32_t *v;
  uint32_t n, cap;
} idvec;

int idvec_push(idvec *a, uint32_t x);
/* Removes the first x (order not kept); false when absent. */
bool idvec_del(idvec *a, uint32_t x);
bool idvec_has(const idvec *a, uint32_t x);
void idvec_free(idvec *a);

/* Open-addressing map from a borrowed string to an index. Each slot keeps
 * the key's hash beside it, so a probe compares strings only when the
 * hashes match: a lookup among 200,000 ids touches one slot's cache line
 * and one string. */
typedef struct strslot {
  const char *key;
  uint32_t hash, val;
} strslot;

typedef struct strmap {
  strslot *slots;
  uint32_t cap, used, live;
} strmap;

bool strmap_get(const strmap *s, const char *key, uint32_t *out);
/* The same with the key's hash already known (STRMAP_HASH0, strmap_step). */
bool strmap_get_h(const strmap *s, const char *key, uint32_t hash, uint32_t *out);
/* Only to start memory loads early (they decide nothing): strmap_touch
 * asks for the slot a hash probes first; strmap_guess reads it and, when
 * its hash matches, asks for the key and returns the value it holds (or
 * UINT32_MAX). A lookup still confirms with strmap_get. */
void strmap_touch(const strmap *s, uint32_t hash);
uint32_t strmap_guess(const strmap *s, uint32_t hash);
/* The map's hash, FNV-1a, one byte at a time from STRMAP_HASH0. */
#define STRMAP_HASH0 2166136261u
static inline uint32_t strmap_step(uint32_t h, unsigned char c) { return (h ^ c) * 16777619u; }
int strmap_put(strmap *s, const char *key, uint32_t val);
void strmap_del(strmap *s, const char *key);
void strmap_free(strmap *s);

/* ---- violations ---------------------------------------------------------- */

/* Subjects: what a violation belongs to in the index. */
enum { SK_LI, SK_GROUP, SK_CONN, SK_ATTACH, SK_HOST, SK_DOMAIN, SK_VM, SK_COUNT };

/* One failed rule instance. (rule, sk, subj, e[0]) is its identity; code
 * picks the sentence; e[] holds the entities the sentence names. */
typedef struct mviol {
  uint8_t rule, code, sk, pad;
  uint32_t subj;
  uint32_t e[3];
} mviol;

typedef struct vvec {
  mviol *v;
  uint32_t n, cap;
} vvec;

int vvec_push(vvec *a, const mviol *x);

struct model;
struct mconn;
/* Keeps each VM's count of IPC connections (ipc_grouped; grouped or not,
 * since a direct connection is a group of one) when connection c is added,
 * removed or changes its kind (delta +1 / -1). */
void conn_ipc_count(struct model *m, const struct mconn *c, int delta);

/* Fact codes (which way a rule failed). */
enum {
  F_LOC_UNKNOWN = 1, /* the hardware has no location */
  F_LOC_OUTSIDE,     /* located outside the jurisdiction */
  F_NO_PATH,         /* no connection group joins the pair */
  F_PATH_BROKEN,     /* groups exist, but an IPC hop spans two machines */
  F_NOT_ATTACHED,    /* the LI's storage VM is not provided the storage */
  F_INSECURE,        /* an insecure connection */
  F_STORES,          /* a storing intermediate */
  F_UNTRUSTED,       /* hardware not trusted */
  F_NO_TRUSTED_LOC,  /* trusted, but no location bound */
  F_MIXED_DOMAIN,    /* LI and non-LI VMs in one domain */
  F_NOT_LI_VM,       /* the LI is hosted by a VM that is not an LI VM */
  F_NOT_PAIRED,      /* ... by an LI VM that is not paired */
  F_PEER,            /* an LI VM connected to a VM it may not operate with */
  F_PROTECTION,      /* class above the host's protection level */
  F_SAME_HYP,        /* moveVM onto its own hypervisor */
  F_INSECURE_PATH,   /* an insecure direct connection that is an LI's data path */
  F_STORE_PEER,      /* an LI's storage provided to a VM its LI VM may not operate with */
};

/* ---- entities ------------------------------------------------------------ */

typedef struct mloc {
  bool known;
  char country[3];
  char subdivision[8];
  uint32_t sub1; /* subdivision's index in model_iso3166_2, plus one; 0: none */
  bool has_coords;
  double lat, lon;
  char *site;
  model_loc_source source;
} mloc;

/* Subject bookkeeping every indexed entity carries. */
typedef struct msubj {
  vvec viol;
  uint32_t mark;  /* scope epoch */
  uint32_t cmark; /* capture epoch */
} msubj;

typedef struct mhost {
  char *id;
  bool alive;
  uint16_t id_len; /* strlen(id), for sentences (render.c) */
  model_trust trust;
  model_class protection;
  uint16_t where_len; /* strlen(where) */
  mloc loc;
  GEOSGeometry *point; /* when the location has coordinates */
  char *where;         /* the location in words, for sentences */
  idvec hyps;
  msubj s;
} mhost;

typedef struct mhyp {
  char *id;
  bool alive;
  uint16_t id_len; /* strlen(id), for sentences (render.c) */
  uint32_t host;
  idvec vms;
} mhyp;

typedef struct mvm {
  char *id;
  bool alive;
  uint16_t id_len; /* strlen(id), for sentences (render.c) */
  uint32_t hyp, hyp_pos;
  model_class cls;
  uint32_t domain, dom_pos;
  bool paired;
  uint32_t n_hosted; /* active LIs this VM hosts */
  uint32_t ipc_grouped; /* its IPC connections (each is a path alone or in a group) */
  idvec lis;         /* LIs naming it as monitored, LI VM, storage VM or provider */
  idvec conns;
  idvec groups; /* as end or intermediate */
  idvec roots;  /* storage rooted here */
  idvec attach; /* attachments where it is the user */
  msubj s;
} mvm;

typedef struct mstorage {
  char *id;
  bool alive;
  uint16_t id_len; /* strlen(id), for sentences (render.c) */
  uint32_t root;
  idvec attach;
  idvec lis;
} mstorage;

typedef struct mattach {
  bool alive;
  uint32_t storage, user;
  msubj s;
} mattach;

typedef struct mconn {
  char *id;
  bool alive;
  uint16_t id_len; /* strlen(id), for sentences (render.c) */
  uint32_t a, b;
  model_conn_kind kind;
  bool secure;
  idvec groups;
  msubj s;
} mconn;

typedef struct mgroup {
  char *id;
  bool alive;
  uint16_t id_len; /* strlen(id), for sentences (render.c) */
  uint32_t n;      /* connections */
  uint32_t *conns; /* n */
  uint32_t *path;  /* n+1 VMs, path[0] and path[n] the ends */
  bool *stores;    /* n+1; only 1..n-1 meaningful */
  msubj s;
} mgroup;

typedef struct mjur {
  char *id;
  bool alive;
  uint8_t countries[(26 * 26 + 7) / 8];
  char (*subs)[8]; /* sorted */
  uint32_t nsubs;
  char **codes; /* as given, for sentences */
  uint32_t ncodes;
  GEOSGeometry *geom;
  const GEOSPreparedGeometry *prep;
  uint32_t npolys;
  uint16_t desc_len; /* strlen(desc) */
  char *desc; /* the area in words ("FI", "FI/SE", ...), for sentences */
  idvec lis;
  idvec leas;
} mjur;

typedef struct mlea {
  char *id;
  bool alive;
  char *name;
  uint32_t jur;
  idvec lis;
} mlea;

typedef struct mli {
  char *id;
  bool alive;
  bool active;
  uint16_t id_len; /* strlen(id), for sentences (render.c) */
  uint32_t jur, lea, monitored, host, storage, via;
  int64_t from, until;
  msubj s;
} mli;

typedef struct mdomain {
  char *name;
  idvec li, other; /* member VMs by class; VM.dom_pos indexes its list */
  msubj s;
} mdomain;

/* A dense table of one kind: slots, the id map and freed slots to reuse. */
#define TABLE(T) \
  struct {       \
    T *a;        \
    uint32_t n, cap, live; \
    strmap ids;  \
    idvec free;  \
  }

typedef struct mcap {
  uint8_t sk;
  uint32_t idx, off, n; /* the captured old violations in capbuf */
} mcap;

struct model {
  GEOSContextHandle_t geos;
  char geos_msg[256];
  /* GEOS calls a rule makes (host_in_jur) while the full evaluation runs
   * on several threads: the context and a prepared polygon's lazily built
   * index are not safe to share (evalall.c) */
  pthread_mutex_t geos_mu;
  unsigned eval_threads; /* model_set_eval_threads; 0: one per online CPU */
  size_t eval_min;       /* fewer subjects than this: the caller's thread only */
  int64_t now;
  /* No LI's validity starts or ends in [time_lo, time_hi): while the clock
   * stays inside, setting it changes no LI and costs nothing. Every LI
   * linked narrows the window (time_narrow); a clock outside it walks all
   * LIs and measures the window again. */
  int64_t time_lo, time_hi;
  TABLE(mhost) hosts;
  TABLE(mhyp) hyps;
  TABLE(mvm) vms;
  TABLE(mstorage) stores;
  TABLE(mconn) conns;
  TABLE(mgroup) groups;
  TABLE(mjur) jurs;
  TABLE(mlea) leas;
  TABLE(mli) lis;
  TABLE(mdomain) domains;
  struct {
    mattach *a;
    uint32_t n, cap, live;
    idvec free;
  } attach;
  size_t nviol;
  uint32_t nactive;
  bool batch;
  bool oom; /* an index update ran out of memory: answers fail until rebuilt */
  /* scope: the subjects the current change touches */
  uint32_t epoch;
  struct {
    uint8_t sk;
    uint32_t idx;
  } *scope;
  uint32_t nscope, capscope;
  /* capture: old violations of every subject re-evaluated during a decision */
  bool capturing;
  uint32_t cepoch;
  mcap *caps;
  uint32_t ncaps, capcaps;
  vvec capbuf;
  vvec scratch;
  /* what hosts last proved they run (observe.c); NULL until one reports */
  struct mobserve *obs;
  /* retention obligations (rd.c); NULL until the first */
  struct mrdset *rd;
};

/* ---- shared helpers ------------------------------------------------------ */

/* Grows *arr (of *cap elements of size sz) to hold at least need. */
int grow(void **arr, uint32_t *cap, uint32_t need, size_t sz);

msubj *subj_of(model *m, uint8_t sk, uint32_t i);
const msubj *subj_of_c(const model *m, uint8_t sk, uint32_t i);
bool subj_alive(const model *m, uint8_t sk, uint32_t i);
uint32_t subj_count(const model *m, uint8_t sk);

/* index.c */
void scope_begin(model *m);
void scope_add(model *m, uint8_t sk, uint32_t i);
/* What a VM's placement affects: the VM, its LIs, the attachments where
 * it uses storage (4.2-STORE), and every group through it with the LIs
 * and attachments those groups serve. */
void scope_add_vm_move_deps(model *m, uint32_t v);
/* What a VM's class, domain or pairing affects (the same LIs too). */
void scope_add_vm_attr_deps(model *m, uint32_t v);
void scope_add_group_deps(model *m, uint32_t g);
void scope_add_group_paths(model *m, uint32_t g);
void scope_add_conn_paths(model *m, uint32_t c);
void scope_add_li_deps(model *m, uint32_t li);
/* What 4.2-STORE judges against an LI: every attachment of its storage,
 * and those of its storage VM (which the LI makes a VM its LI VM may
 * share other storage with). */
void scope_add_li_users(model *m, uint32_t li);
void scope_add_host_deps(model *m, uint32_t h);
void scope_commit(model *m);
void index_clear_subject(model *m, uint8_t sk, uint32_t i);
void capture_begin(model *m);
bool capture_restore(model *m);
void capture_end(model *m);
/* Violations new since capture_begin, rendered into out (skipping rules
 * whose mask bit is set). */
int capture_diff(model *m, uint32_t skip_mask, model_verdict *out);

/* rules.c */
int eval_subject(const model *m, uint8_t sk, uint32_t i, vvec *out);
bool host_trusted(const mhost *h);
/* Where hardware h stands to jurisdiction j: 0 inside, else F_LOC_UNKNOWN
 * or F_LOC_OUTSIDE (j NULL: outside); and its trust: 0 trusted with a
 * location, else F_UNTRUSTED or F_NO_TRUSTED_LOC. The one reading of
 * req. 1-3 and 8/9 that the LI rules, the decisions and RD share. */
uint8_t hw_where(const model *m, const mhost *h, const mjur *j);
uint8_t hw_trust(const mhost *h);
uint32_t vm_host(const model *m, uint32_t v);
/* For u, a VM LI l's storage is provided to: whether it is a user besides
 * the LI's own storage VM and LI VM (one TR103308-4.2-STORE judges), and
 * whether l's LI VM may operate with it there. */
bool li_store_other(const mli *l, uint32_t u);
bool li_store_allowed(const model *m, const mli *l, uint32_t u);
uint32_t li_provider(const model *m, const mli *l);
bool group_carries_li(const model *m, const mgroup *g, uint32_t *li);

/* render.c */
int verdict_add(model_verdict *v, model_rule rule, const char *subject, const char *sentence,
                const char *fact);
int render_viol(const model *m, const mviol *x, model_verdict *out);
/* Marks reason i of the verdict as naming VM id, of sensitivity "li"
 * (model_reason.li_vms); verdict_name_vm: the last reason as naming VM vm
 * of the model, when its sensitivity is "li" (NONE: none). Each maker of
 * a reason calls one for every VM its words name. LISEC_ENOMEM when out
 * of memory. */
int verdict_name_li_at(model_verdict *v, size_t i, const char *id);
int verdict_name_vm(model_verdict *v, const model *m, uint32_t vm);
void render_jur(const mjur *j, char *buf, size_t cap);
void render_loc(const mhost *h, char *buf, size_t cap);
/* Refreshes the cached words of a host's location / a jurisdiction. */
void host_describe(mhost *h);
void jur_describe(mjur *j);

/* geo.c */
bool host_in_jur(const model *m, const mhost *h, const mjur *j);
int loc_from_spec(const model_location *in, mloc *out, lisec_err *err);
bool loc_equal(const mloc *a, const mloc *b);
void loc_free(mloc *l);
int jur_build(model *m, const char *const *codes, size_t ncodes, const json_t *geometry, mjur *j,
              lisec_err *err);
void jur_release(model *m, mjur *j);
int geo_point(model *m, double lat, double lon, GEOSGeometry **out);
bool iso_sub_within(const char *sub, const char *anc);

/* platform.c: shared by the entity files */
bool id_valid(const char *id);
/* EINVAL naming field and lisec's id rule unless id_valid(id). */
int id_check(const char *field, const char *id, lisec_err *err);
/* A free slot in a table (reused or appended), zeroed. */
int slot_alloc(void **a, uint32_t *n, uint32_t *cap, idvec *freel, size_t sz, uint32_t *out);
void slot_release(uint32_t *n, idvec *freel, uint32_t i);
#define SLOT_ALLOC(t, out) \
  slot_alloc((void **)&(t).a, &(t).n, &(t).cap, &(t).free, sizeof *(t).a, (out))
/* Looks id up in ids; the reason names the field and the kind. */
int find_id(const strmap *ids, const char *id, const char *field, const char *kind, uint32_t *out,
            lisec_err *err);
/* The same for a map whose every key passed id_check when it was put (the
 * VMs', the hypervisors'), with the id's hash already taken (STRMAP_HASH0,
 * strmap_step over at most MODEL_ID_MAX + 1 bytes): an id the map holds is
 * valid, so only one it does not hold is checked, to say why it fails. */
int find_id_h(const strmap *ids, const char *id, uint32_t hash, const char *field,
              const char *kind, uint32_t *out, lisec_err *err);
int vm_move_idx(model *m, uint32_t v, uint32_t hyp);
/* Changes v's hypervisor and the adjacency, evaluating nothing. */
void vm_place(model *m, uint32_t v, uint32_t hyp);

/* decide.c: the move decision on indices; generic re-evaluates everything
 * the move touches instead of only the affected connection paths (the
 * tests check both agree). */
int decide_move_impl(model *m, uint32_t v, uint32_t h, model_verdict *out, bool generic,
                     lisec_err *err);

/* observe.c */
void observe_free(model *m);

/* rd.c: freeing the obligations, and the checks a move or placement of
 * VM vm_id onto host hw adds for the obligations naming it (RD11). */
void rd_free(model *m);
int rd_decide_target(const model *m, const char *vm_id, uint32_t hyp, uint32_t hw,
                     model_verdict *out);

/* model.c */
int li_refresh_active(model *m, uint32_t li);
/* Narrows the quiet window around m->now to exclude an LI's boundaries. */
void time_narrow(model *m, const mli *l);

/* iso3166.c */
typedef struct model_iso_sub {
  char code[7];
  int16_t parent; /* index into model_iso3166_2, or -1 */
} model_iso_sub;
extern const size_t model_iso3166_1_count;
extern const char model_iso3166_1[][3];
extern const size_t model_iso3166_2_count;
extern const model_iso_sub model_iso3166_2[];

#endif
