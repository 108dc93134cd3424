/* Words for verdicts: each violation becomes its requirement id, the
 * subject it concerns, a sentence that names every entity involved ("LI
 * li-7 is issued in FI; host lon-3 is located in GB ...") and the fact that
 * evaluated false, written like the preconditions of §6.2's moveVM. Also the
 * rule table (ids, clauses, titles) and the JSON form of a verdict. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

static const struct {
  const char *id, *clauses, *title;
} rules[MODEL_RULE_COUNT] = {
    [MODEL_R1] = {"TR103308-6.2-R1", "TR 103 308 §6.2 req. 1; §4.2 (location)",
                  "the monitored VM and the VM hosting the LI run on hardware located inside the "
                  "LI's jurisdiction"},
    [MODEL_R2] = {"TR103308-6.2-R2", "TR 103 308 §6.2 req. 2",
                  "the VM providing the LI's storage is inside the LI's jurisdiction"},
    [MODEL_R3] = {"TR103308-6.2-R3", "TR 103 308 §6.2 req. 3",
                  "the VM utilised to store the LI's data is inside the LI's jurisdiction"},
    [MODEL_R4] = {"TR103308-6.2-R4", "TR 103 308 §6.2 req. 4",
                  "a connection path joins the monitored VM and the VM running the LI"},
    [MODEL_R5] = {"TR103308-6.2-R5", "TR 103 308 §6.2 req. 5; §6.2 storage implies a connection",
                  "a connection path joins the VM utilising storage and the VM providing it"},
    [MODEL_R6] = {"TR103308-6.2-R6", "TR 103 308 §6.2 req. 6",
                  "every connection of the VM hosting the LI, and every connection group carrying "
                  "LI traffic, is secure"},
    [MODEL_R7] = {"TR103308-6.2-R7", "TR 103 308 §6.2 req. 7",
                  "no intermediate VM of a connection group carrying LI traffic stores information"},
    [MODEL_R8] = {"TR103308-6.2-R8", "TR 103 308 §6.2 req. 8 and 12",
                  "the hardware hosting the LI VM is trusted and its trust mechanism provides the "
                  "location"},
    [MODEL_R9] = {"TR103308-6.2-R9", "TR 103 308 §6.2 req. 9 and 13",
                  "the hardware hosting the LI's provided storage is trusted"},
    [MODEL_R10] = {"TR103308-6.2-R10", "TR 103 308 §6.2 req. 10 and 14",
                   "moving hardware voids its location and trust until it attests again"},
    [MODEL_R11] = {"TR103308-6.2-R11", "TR 103 308 §6.2 req. 11 and 15",
                   "a VM involved in an LI migrates only to trusted hardware inside the LI's "
                   "jurisdiction"},
    [MODEL_MOVE1] = {"TR103308-6.2-MOVE1", "TR 103 308 §6.2 moveVM pre v.runsOn != h",
                     "a VM is not moved onto the hypervisor it already runs on"},
    [MODEL_MOVE2] = {"TR103308-6.2-MOVE2", "TR 103 308 §6.2 moveVM pre h.executesOn.trusted",
                     "a VM is moved or placed only onto trusted hardware"},
    [MODEL_DOMAIN] = {"TR103308-4.1-DOMAIN", "TR 103 308 §4.1 (separate security domain)",
                      "LI VMs live in a security domain of their own"},
    [MODEL_KNOWN] = {"TR103308-4.2-KNOWN", "TR 103 308 §4.2 (only known LI VMs)",
                     "LI functions run only in known (paired) LI VMs, and an LI VM operates only "
                     "with the VMs it is allowed to"},
    [MODEL_O13] = {"TR103308-7-O.1.3", "TR 103 308 §7.1 O.1.3; §7.2 O.1.7",
                   "a host runs only VNFs whose sensitivity its protection level admits"},
    [MODEL_RD1] = {"TR103308-5.8-RD-R1", "TR 103 308 §5.8; §6.2 req. 1 read for RD",
                   "the RD functions of a retention obligation run on hardware inside its "
                   "jurisdiction"},
    [MODEL_RD2] = {"TR103308-5.8-RD-R2", "TR 103 308 §5.8; §6.2 req. 2 read for RD",
                   "the VM providing an RD store is inside the obligation's jurisdiction"},
    [MODEL_RD3] = {"TR103308-5.8-RD-R3", "TR 103 308 §5.8; §6.2 req. 3 read for RD",
                   "every VM utilising an RD store is inside the obligation's jurisdiction"},
    [MODEL_RD8] = {"TR103308-5.8-RD-R8", "TR 103 308 §5.8; §6.2 req. 8 and 12 read for RD",
                   "the hardware of an RD function is trusted and provides its location"},
    [MODEL_RD9] = {"TR103308-5.8-RD-R9", "TR 103 308 §5.8; §6.2 req. 9 and 13 read for RD",
                   "the hardware of an RD store is trusted and provides its location"},
    [MODEL_RD11] = {"TR103308-5.8-RD-R11", "TR 103 308 §5.8; §6.2 req. 11 and 15 read for RD",
                    "an RD VM is placed or migrates only onto trusted hardware inside the "
                    "obligation's jurisdiction"},
    [MODEL_STORE] = {"TR103308-4.2-STORE",
                     "TR 103 308 §4.2 (only allowed VMs; location); §6.2 storage implies a "
                     "connection, req. 3 and 8",
                     "every other VM the LI's storage is provided to is one the LI VM may operate "
                     "with, runs inside the LI's jurisdiction and, if an LI VM, on trusted "
                     "hardware"},
};

const char *model_rule_id(model_rule r) {
  return (unsigned)r < MODEL_RULE_COUNT ? rules[r].id : "unknown";
}
const char *model_rule_clauses(model_rule r) {
  return (unsigned)r < MODEL_RULE_COUNT ? rules[r].clauses : "";
}
const char *model_rule_title(model_rule r) {
  return (unsigned)r < MODEL_RULE_COUNT ? rules[r].title : "";
}

bool model_rule_about_li(model_rule r) {
  return r <= MODEL_R11 || r == MODEL_KNOWN || r == MODEL_STORE;
}

int model_rule_parse(const char *id, model_rule *out) {
  for (int i = 0; i < MODEL_RULE_COUNT; i++)
    if (strcmp(id, rules[i].id) == 0) {
      *out = (model_rule)i;
      return 0;
    }
  return LISEC_EINVAL;
}

/* ---- verdicts ------------------------------------------------------------ */

/* The reasons' strings live in chunks owned by the verdict (v->mem), filled
 * one after the other and freed together: a decision with thirty reasons
 * makes one or two allocations, not thirty. */
typedef struct vmem {
  struct vmem *next;
  size_t used, cap;
  char data[];
} vmem;

#define VMEM_CHUNK 16384

/* Room for n bytes at the end of the verdict's memory, not yet taken:
 * written in place, then taken with vmem_commit. */
static __attribute__((noinline)) char *vmem_grow(model_verdict *v, size_t n) {
  size_t cap = n > VMEM_CHUNK ? n : VMEM_CHUNK;
  vmem *k = malloc(sizeof *k + cap);
  if (!k) return NULL;
  k->next = v->mem;
  k->used = 0;
  k->cap = cap;
  v->mem = k;
  return k->data;
}

static inline char *vmem_room(model_verdict *v, size_t n) {
  n = (n + 7) & ~(size_t)7;
  vmem *c = v->mem;
  if (__builtin_expect(!c || c->cap - c->used < n, 0)) return vmem_grow(v, n);
  return c->data + c->used;
}

/* Takes n bytes of the room vmem_room gave (rounded up to keep every block
 * aligned for a reasons array). */
static void vmem_commit(model_verdict *v, size_t n) {
  vmem *c = v->mem;
  c->used += (n + 7) & ~(size_t)7;
}

static char *vmem_take(model_verdict *v, size_t n) {
  char *p = vmem_room(v, n);
  if (p) vmem_commit(v, n);
  return p;
}

/* Makes room for one more reason. The reasons array lives in the chunks
 * too: when it fills up it is copied to a place twice its size and the old
 * place is left until the verdict is freed, so a verdict costs one
 * allocation until its reasons outgrow a chunk. */
static __attribute__((noinline)) model_reason *verdict_grow(model_verdict *v) {
  size_t cap = v->cap ? v->cap * 2 : 8;
  if (cap > SIZE_MAX / 2 / sizeof(model_reason)) return NULL;
  model_reason *r = (model_reason *)vmem_take(v, cap * sizeof *r);
  if (!r) return NULL;
  if (v->n) memcpy(r, v->reasons, v->n * sizeof *r);
  v->reasons = r;
  v->cap = cap;
  return &v->reasons[v->n];
}

static inline model_reason *verdict_next(model_verdict *v) {
  return __builtin_expect(v->n < v->cap, 1) ? &v->reasons[v->n] : verdict_grow(v);
}

static inline void verdict_set(model_verdict *v, model_reason *r, model_rule rule, char *subject,
                               char *sentence, char *fact) {
  bool known = (unsigned)rule < MODEL_RULE_COUNT;
  r->rule = rule;
  r->trust = false; /* set by the maker of a trust reason (model_reason) */
  r->n_li_vms = 0;   /* named by the maker (verdict_name_vm) */
  r->li_vms_more = false;
  r->requirement = known ? rules[rule].id : "unknown"; /* model_rule_id(), in line */
  r->clauses = known ? rules[rule].clauses : "";
  r->subject = subject;
  r->sentence = sentence;
  r->fact = fact;
  v->n++;
  v->allow = false;
}

/* A reason from three strings of known lengths (without their NULs). */
static int verdict_add_n(model_verdict *v, model_rule rule, const char *subject, size_t a,
                         const char *sentence, size_t b, const char *fact, size_t c) {
  model_reason *r = verdict_next(v);
  char *block = r ? vmem_take(v, a + b + c + 3) : NULL;
  if (!block) return LISEC_ENOMEM;
  memcpy(block, subject, a);
  block[a] = '\0';
  memcpy(block + a + 1, sentence, b);
  block[a + 1 + b] = '\0';
  memcpy(block + a + b + 2, fact, c);
  block[a + b + 2 + c] = '\0';
  verdict_set(v, r, rule, block, block + a + 1, block + a + b + 2);
  return 0;
}

int verdict_add(model_verdict *v, model_rule rule, const char *subject, const char *sentence,
                const char *fact) {
  return verdict_add_n(v, rule, subject, strlen(subject), sentence, strlen(sentence), fact,
                       strlen(fact));
}

int verdict_name_li_at(model_verdict *v, size_t i, const char *id) {
  model_reason *r = &v->reasons[i];
  for (uint8_t k = 0; k < r->n_li_vms; k++)
    if (strcmp(r->li_vms[k], id) == 0) return 0;
  if (r->n_li_vms == MODEL_REASON_LI_VMS) {
    r->li_vms_more = true;
    return 0;
  }
  size_t n = strlen(id) + 1;
  char *copy = vmem_take(v, n);
  if (!copy) return LISEC_ENOMEM;
  memcpy(copy, id, n);
  r->li_vms[r->n_li_vms++] = copy;
  return 0;
}

int verdict_name_vm(model_verdict *v, const model *m, uint32_t vm) {
  if (vm == NONE || vm >= m->vms.n || m->vms.a[vm].cls != MODEL_CLASS_LI) return 0;
  return verdict_name_li_at(v, v->n - 1, m->vms.a[vm].id);
}

void model_verdict_free(model_verdict *v) {
  if (!v) return;
  for (vmem *c = v->mem, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  memset(v, 0, sizeof *v);
}

json_t *model_verdict_json(const model_verdict *v) {
  json_t *arr = json_array(), *o = NULL;
  if (!arr) return NULL;
  for (size_t i = 0; i < v->n; i++) {
    const model_reason *r = &v->reasons[i];
    json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:s}", "requirement", r->requirement, "clauses",
                          r->clauses, "subject", r->subject, "sentence", r->sentence, "fact",
                          r->fact);
    if (!e || json_array_append_new(arr, e)) goto fail;
  }
  o = json_pack("{s:b,s:o}", "allow", v->allow, "violations", arr);
  if (!o) goto fail;
  return o;
fail:
  json_decref(arr);
  return NULL;
}

/* ---- describing entities ------------------------------------------------- */

void render_jur(const mjur *j, char *buf, size_t cap) {
  size_t at = 0;
  buf[0] = '\0';
  for (uint32_t i = 0; i < j->ncodes && at < cap; i++) {
    if (i == 8) {
      at += (size_t)snprintf(buf + at, cap - at, "/+%u more", j->ncodes - 8);
      break;
    }
    at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? "/" : "", j->codes[i]);
  }
  if (j->npolys && at < cap)
    snprintf(buf + at, cap - at, "%sthe area of jurisdiction %s (%u polygon%s)",
             j->ncodes ? " or " : "", j->id, j->npolys, j->npolys == 1 ? "" : "s");
}

void render_loc(const mhost *h, char *buf, size_t cap) {
  if (!h->loc.known) {
    snprintf(buf, cap, "an unknown place");
    return;
  }
  size_t at = (size_t)snprintf(buf, cap, "%s", h->loc.country);
  const char *sep = " (";
  if (h->loc.subdivision[0] && at < cap) {
    at += (size_t)snprintf(buf + at, cap - at, "%s%s", sep, h->loc.subdivision);
    sep = ", ";
  }
  if (h->loc.site && at < cap) {
    at += (size_t)snprintf(buf + at, cap - at, "%s%s", sep, h->loc.site);
    sep = ", ";
  }
  if (h->loc.has_coords && at < cap) {
    at += (size_t)snprintf(buf + at, cap - at, "%s%.4f,%.4f", sep, h->loc.lat, h->loc.lon);
    sep = ", ";
  }
  if (sep[0] == ',' && at < cap) snprintf(buf + at, cap - at, ")");
}

void host_describe(mhost *h) {
  char buf[512];
  render_loc(h, buf, sizeof buf);
  free(h->where);
  h->where = strdup(buf); /* NULL reads as "?" */
  h->where_len = (uint16_t)strlen(buf);
}

void jur_describe(mjur *j) {
  char buf[512];
  render_jur(j, buf, sizeof buf);
  free(j->desc);
  j->desc = strdup(buf);
  j->desc_len = (uint16_t)strlen(buf);
}

#define WHERE(h) ((h)->where ? (h)->where : "?")
#define DESC(j) ((j)->desc ? (j)->desc : "?")

/* Fixed words with their lengths, for sentences (WD() writes them). */
typedef struct wtext {
  const char *s;
  size_t n;
} wtext;
#define WTEXT(lit) ((wtext){"" lit, sizeof(lit) - 1})

static wtext trust_words(model_trust t) {
  switch (t) {
    case MODEL_TRUST_TRUSTED: return WTEXT("trusted");
    case MODEL_TRUST_UNTRUSTED: return WTEXT("untrusted: its attestation failed or is overdue");
    default: return WTEXT("unknown: it has not attested");
  }
}

/* What vm is to LI l, for sentences. */
static wtext role_words(const model *m, const mli *l, uint32_t vm) {
  if (vm == l->monitored) return WTEXT("which the LI monitors");
  if (vm == l->host) return WTEXT("which hosts the LI function");
  if (vm == l->via) return WTEXT("which stores the LI's data");
  if (vm == li_provider(m, l)) return WTEXT("which provides the LI's storage");
  return WTEXT("which the LI involves");
}

static wtext role_noun(const model *m, const mli *l, uint32_t vm) {
  if (vm == l->monitored) return WTEXT("monitored by");
  if (vm == l->host) return WTEXT("the LI VM of");
  if (vm == l->via) return WTEXT("the storage VM of");
  if (vm == li_provider(m, l)) return WTEXT("the storage provider of");
  return WTEXT("involved in");
}

/* A sentence being written: pieces are appended with their lengths known
 * (a literal's at compile time), truncated at the buffer's end. The common
 * decisions' sentences are only concatenation, and this keeps writing a
 * reason to a few copies. */
typedef struct sbuf {
  char *p;
  size_t n, cap;
  int mode; /* SB_CLIP, SB_COUNT or SB_FITS */
} sbuf;

/* How a sentence is being written: SB_CLIP copies each piece, or what of
 * it fits before the cap; SB_COUNT only counts the bytes; SB_FITS copies
 * each piece without a test, once a count has said that all of them fit
 * (SB_WRITE). */
enum { SB_CLIP, SB_COUNT, SB_FITS };

/* The writers of a sentence are always in line, so that a sentence being
 * written stays in registers rather than in memory. */
#define SB_INLINE static inline __attribute__((always_inline))

#define SBUF(buf) ((sbuf){(buf), 0, sizeof(buf), SB_CLIP})

/* Copies n bytes known to fit. A piece is mostly an id of a few bytes: up
 * to 32 are two overlapping pairs of loads and stores, in line, rather
 * than a call to memcpy; a literal's constant length folds the tests away.
 * Every load lies inside [s, s + n). */
SB_INLINE void sb_copy(char *d, const char *s, size_t n) {
  uint64_t a, b, c, e;
  if (n <= 16) {
    if (n >= 8) {
      memcpy(&a, s, 8);
      memcpy(&b, s + n - 8, 8);
      memcpy(d, &a, 8);
      memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
      uint32_t x, y;
      memcpy(&x, s, 4);
      memcpy(&y, s + n - 4, 4);
      memcpy(d, &x, 4);
      memcpy(d + n - 4, &y, 4);
    } else if (n) {
      d[0] = s[0];
      d[n / 2] = s[n / 2];
      d[n - 1] = s[n - 1];
    }
  } else if (n <= 32) {
    memcpy(&a, s, 8);
    memcpy(&b, s + 8, 8);
    memcpy(&c, s + n - 16, 8);
    memcpy(&e, s + n - 8, 8);
    memcpy(d, &a, 8);
    memcpy(d + 8, &b, 8);
    memcpy(d + n - 16, &c, 8);
    memcpy(d + n - 8, &e, 8);
  } else {
    memcpy(d, s, n);
  }
}

/* The end of a sentence longer than its buffer: what fits, then full. */
static __attribute__((noinline, cold)) size_t sb_clip(char *p, size_t at, size_t cap, const char *s,
                                                      size_t n) {
  size_t room = cap - 1 - at;
  memcpy(p + at, s, n < room ? n : room);
  return at + (n < room ? n : room);
}

SB_INLINE void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->mode == SB_COUNT) {
    b->n += n;
  } else if (b->mode == SB_FITS || __builtin_expect(n <= b->cap - 1 - b->n, 1)) {
    sb_copy(b->p + b->n, s, n);
    b->n += n;
  } else {
    b->n = sb_clip(b->p, b->n, b->cap, s, n);
  }
}
#define LIT(b, lit) sb_put((b), "" lit, sizeof(lit) - 1)
SB_INLINE void STR(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
#define WD(b, wd) \
  do { \
    wtext wd_ = (wd); \
    sb_put((b), wd_.s, wd_.n); \
  } while (0)
/* An entity's id, a host's place and a jurisdiction's area with the lengths
 * the model keeps beside them (set once, when the entity is put): a reason
 * names about ten of them, and this spares a strlen of each. */
#define ID(b, e) sb_put((b), (e)->id, (e)->id_len)
SB_INLINE void sb_where(sbuf *b, const mhost *h) {
  if (h->where) sb_put(b, h->where, h->where_len);
  else LIT(b, "?");
}
SB_INLINE void sb_area(sbuf *b, const mjur *j) {
  if (j->desc) sb_put(b, j->desc, j->desc_len);
  else LIT(b, "?");
}

/* The common reasons write their fact and then their sentence straight
 * into the verdict's memory (sb_in_place, sb_then, sb_reason), so each is
 * copied once. */
#define FACT_CAP 2048
#define WORDS_CAP 1024

#define SENTENCE_CAP 2048 /* a sentence that holds a path's words (as add() writes them) */

/* The reason's place, and room for its subject (copied there now), its
 * fact and then its sentence of at most wcap bytes: one reservation and one
 * commit (sb_reason) a reason. NULL when out of memory. */
SB_INLINE model_reason *sb_in_place(model_verdict *out, const sbuf *subj, sbuf *fact,
                                    size_t wcap) {
  model_reason *r = verdict_next(out);
  char *p = r ? vmem_room(out, subj->n + 1 + FACT_CAP + wcap) : NULL;
  if (!p) return NULL;
  sb_copy(p, subj->p, subj->n);
  p[subj->n] = '\0';
  *fact = (sbuf){p + subj->n + 1, 0, FACT_CAP, SB_CLIP};
  return r;
}

/* Ends the fact; the sentence starts after it, written the same way. */
SB_INLINE void sb_then(sbuf *fact, sbuf *sen, size_t wcap) {
  if (fact->mode == SB_COUNT) {
    *sen = (sbuf){NULL, 0, wcap, SB_COUNT};
    return;
  }
  fact->p[fact->n] = '\0';
  *sen = (sbuf){fact->p + fact->n + 1, 0, wcap, fact->mode};
}

/* Ends the sentence and takes the reason sb_in_place gave. */
SB_INLINE int sb_reason(model_verdict *out, model_reason *r, model_rule rule, const sbuf *subj,
                        sbuf *sen, const sbuf *fact) {
  char *s = fact->p - subj->n - 1;
  sen->p[sen->n] = '\0';
  vmem_commit(out, (size_t)(sen->p + sen->n + 1 - s));
  verdict_set(out, r, rule, s, sen->p, fact->p);
  return 0;
}

/* The most frequent reasons (a move's) are written by a writer
 * WRITE(fact, sentence, wcap, ...) that puts every piece and calls sb_then
 * between the two: once counting, then with no test a piece when the count
 * fits the caps (it does but for ids and places of extreme length), or
 * clipped at them. The words are the writer's, once; the bytes are those
 * the clipped way writes. Inside render_viol: r, f, w, sb_subj, rule. */
#define SB_WRITE(wcap, WRITE, ...)                                         \
  do {                                                                     \
    sbuf cf_ = {NULL, 0, FACT_CAP, SB_COUNT}, cw_;                         \
    WRITE(&cf_, &cw_, (wcap), __VA_ARGS__);                                \
    if (!(r = sb_in_place(out, &sb_subj, &f, (wcap)))) return LISEC_ENOMEM; \
    if (cf_.n < FACT_CAP && cw_.n < (wcap)) {                              \
      f.mode = SB_FITS;                                                    \
      WRITE(&f, &w, (wcap), __VA_ARGS__);                                  \
    } else {                                                               \
      WRITE(&f, &w, (wcap), __VA_ARGS__);                                  \
    }                                                                      \
    return sb_reason(out, r, rule, &sb_subj, &w, &f);                      \
  } while (0)

static int add(model_verdict *out, model_rule rule, const char *subject, const char *fact,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int add(model_verdict *out, model_rule rule, const char *subject, const char *fact,
               const char *fmt, ...) {
  char sentence[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sentence, sizeof sentence, fmt, ap);
  va_end(ap);
  return verdict_add(out, rule, subject, sentence, fact);
}

/* rc, having marked the reason just added (when it was: rc 0) as one that
 * fails for its hardware's trust alone (model_reason.trust). */
static int trust_reason(model_verdict *out, int rc) {
  if (!rc) out->reasons[out->n - 1].trust = true;
  return rc;
}

/* The words for a path rule that failed (none, or every one broken): the
 * fact, then, inside the sentence being written, why the path fails (at
 * most 1023 bytes of it). */
SB_INLINE void path_fact(const model *m, const mviol *x, sbuf *f, const mvm *a, const mvm *b) {
  if (x->code == F_NO_PATH || x->e[1] == NONE) {
    LIT(f, "exists connection group joining ");
    ID(f, a);
    LIT(f, " and ");
    ID(f, b);
    LIT(f, ": false");
    return;
  }
  const mconn *c = &m->conns.a[x->e[1]];
  if (x->e[2] == NONE) { /* a direct connection no group names: a group of one */
    LIT(f, "usable(direct connection ");
    ID(f, c);
    LIT(f, "): IPC connection ");
  } else {
    LIT(f, "usable(group ");
    ID(f, &m->groups.a[x->e[2]]);
    LIT(f, "): IPC connection ");
  }
  ID(f, c);
  LIT(f, " spans host ");
  ID(f, &m->hosts.a[vm_host(m, c->a)]);
  LIT(f, " and host ");
  ID(f, &m->hosts.a[vm_host(m, c->b)]);
  LIT(f, ": false");
}

SB_INLINE void path_sentence(const model *m, const mviol *x, sbuf *w, const mvm *a, const mvm *b) {
  sbuf p = {w->mode == SB_COUNT ? NULL : w->p + w->n, 0,
            w->cap - w->n < 1024 ? w->cap - w->n : 1024, w->mode};
  if (x->code == F_NO_PATH || x->e[1] == NONE) {
    LIT(&p, "no connection group joins ");
    ID(&p, a);
    LIT(&p, " and ");
    ID(&p, b);
  } else {
    const mconn *c = &m->conns.a[x->e[1]];
    LIT(&p, "every connection group joining ");
    ID(&p, a);
    LIT(&p, " and ");
    ID(&p, b);
    if (x->e[2] == NONE) {
      LIT(&p, " is broken: the direct one is IPC connection ");
    } else {
      LIT(&p, " is broken: group ");
      ID(&p, &m->groups.a[x->e[2]]);
      LIT(&p, " uses IPC connection ");
    }
    ID(&p, c);
    LIT(&p, " between ");
    ID(&p, &m->vms.a[c->a]);
    LIT(&p, " on host ");
    ID(&p, &m->hosts.a[vm_host(m, c->a)]);
    LIT(&p, " and ");
    ID(&p, &m->vms.a[c->b]);
    LIT(&p, " on host ");
    ID(&p, &m->hosts.a[vm_host(m, c->b)]);
    LIT(&p, ", and IPC does not cross machines");
  }
  w->n += p.n;
}

/* R11, the target's hardware not trusted: v is role y's; hypervisor hv
 * runs on host h. */
SB_INLINE void r11_trust_words(sbuf *f, sbuf *w, size_t wcap, const mvm *v, const mhost *h,
                               const mli *y, const mhyp *hv, wtext role) {
  LIT(f, "h.executesOn.trusted: host ");
  ID(f, h);
  LIT(f, ": false (");
  STR(f, model_trust_name(h->trust));
  if (!h->loc.known) LIT(f, ", no location");
  LIT(f, ")");
  sb_then(f, w, wcap);
  LIT(w, "VM ");
  ID(w, v);
  LIT(w, " is ");
  WD(w, role);
  LIT(w, " LI ");
  ID(w, y);
  LIT(w, " and may move only to trusted hardware; hypervisor ");
  ID(w, hv);
  LIT(w, " runs on host ");
  ID(w, h);
  LIT(w, ", which is not (");
  WD(w, trust_words(h->trust));
  if (!h->loc.known) LIT(w, "; no location");
  LIT(w, ")");
}

/* R11, the target's hardware outside LI y's jurisdiction j: v, in role,
 * would run on host h. */
SB_INLINE void r11_where_words(sbuf *f, sbuf *w, size_t wcap, const mvm *v, const mhost *h,
                               const mli *y, const mjur *j, wtext role) {
  LIT(f, "h.executesOn.geographicalLocation IN v.hosts.jurisdiction: host ");
  ID(f, h);
  LIT(f, " at ");
  sb_where(f, h);
  LIT(f, " IN {");
  sb_area(f, j);
  LIT(f, "}: false");
  sb_then(f, w, wcap);
  LIT(w, "LI ");
  ID(w, y);
  LIT(w, " is issued in ");
  sb_area(w, j);
  LIT(w, "; host ");
  ID(w, h);
  LIT(w, " is located in ");
  sb_where(w, h);
  LIT(w, "; VM ");
  ID(w, v);
  LIT(w, ", ");
  WD(w, role);
  LIT(w, ", would run there");
}

/* O.1.3: v's class vc above h's protection level hc. */
SB_INLINE void o13_words(sbuf *f, sbuf *w, size_t wcap, const mvm *v, const mhost *h, wtext vc,
                         wtext hc) {
  LIT(f, "class(vm ");
  ID(f, v);
  LIT(f, ") = ");
  WD(f, vc);
  LIT(f, " <= protection(host ");
  ID(f, h);
  LIT(f, ") = ");
  WD(f, hc);
  LIT(f, ": false");
  sb_then(f, w, wcap);
  LIT(w, "VM ");
  ID(w, v);
  LIT(w, " has sensitivity ");
  WD(w, vc);
  LIT(w, "; host ");
  ID(w, h);
  LIT(w, "'s protection level admits VNFs up to ");
  WD(w, hc);
}

/* 4.2-STORE in a move: v, given LI y's storage so, would run through
 * hypervisor hv on host h, outside y's jurisdiction j. */
SB_INLINE void store_where_words(sbuf *f, sbuf *w, size_t wcap, const mvm *v, const mhost *h,
                                 const mli *y, const mjur *j, const mstorage *so,
                                 const mhyp *hv) {
  LIT(f, "h.executesOn.geographicalLocation IN jurisdiction(li ");
  ID(f, y);
  LIT(f, "): host ");
  ID(f, h);
  LIT(f, " at ");
  sb_where(f, h);
  LIT(f, " IN {");
  sb_area(f, j);
  LIT(f, "}: false");
  sb_then(f, w, wcap);
  LIT(w, "LI ");
  ID(w, y);
  LIT(w, " is issued in ");
  sb_area(w, j);
  LIT(w, "; host ");
  ID(w, h);
  LIT(w, " is located in ");
  sb_where(w, h);
  LIT(w, "; VM ");
  ID(w, v);
  LIT(w, ", to which the LI's storage ");
  ID(w, so);
  LIT(w, " is provided, would run there (hypervisor ");
  ID(w, hv);
  LIT(w, ")");
}

/* The VMs a reason's words name (its subject, sentence and fact), listed
 * by the case that writes them (NAME), beside the words: render_viol marks
 * the reason with those of sensitivity "li" (model_reason.li_vms). over:
 * more than fit, read as one more LI VM (fail closed). */
typedef struct named {
  uint32_t v[8];
  uint8_t n;
  bool over;
} named;

SB_INLINE void NAME(named *nv, uint32_t vm) {
  if (nv->n < sizeof nv->v / sizeof *nv->v) nv->v[nv->n++] = vm;
  else nv->over = true;
}

/* The VMs path_fact and path_sentence name for the path between a and b. */
SB_INLINE void name_path(const model *m, const mviol *x, named *nv, uint32_t a, uint32_t b) {
  NAME(nv, a);
  NAME(nv, b);
  if (x->code != F_NO_PATH && x->e[1] != NONE) {
    NAME(nv, m->conns.a[x->e[1]].a);
    NAME(nv, m->conns.a[x->e[1]].b);
  }
}

static int render_words(const model *m, const mviol *x, model_verdict *out, named *nv) {
  char subj[MODEL_ID_MAX + 32], fact[FACT_CAP];
  sbuf sb_subj = SBUF(subj), f, w;
  model_reason *r;
  const model_rule rule = (model_rule)x->rule;
  const mli *l = x->sk == SK_LI ? &m->lis.a[x->subj] : NULL;
  switch (x->sk) {
    case SK_LI:
      LIT(&sb_subj, "li ");
      ID(&sb_subj, l);
      break;
    case SK_GROUP: snprintf(subj, sizeof subj, "group %s", m->groups.a[x->subj].id); break;
    case SK_CONN: snprintf(subj, sizeof subj, "connection %s", m->conns.a[x->subj].id); break;
    case SK_ATTACH: {
      const mattach *a = &m->attach.a[x->subj];
      /* 4.2-STORE is the LI's (e0): its subject is the LI, which every role
       * but the LI administration reads as withheld, so the storage is not
       * named as an LI's to them */
      if (rule == MODEL_STORE)
        snprintf(subj, sizeof subj, "li %s", m->lis.a[x->e[0]].id);
      else {
        snprintf(subj, sizeof subj, "storage %s to %s", m->stores.a[a->storage].id,
                 m->vms.a[a->user].id);
        NAME(nv, a->user);
      }
      break;
    }
    case SK_HOST: snprintf(subj, sizeof subj, "host %s", m->hosts.a[x->subj].id); break;
    case SK_DOMAIN: snprintf(subj, sizeof subj, "domain %s", m->domains.a[x->subj].name); break;
    default:
      LIT(&sb_subj, "vm ");
      ID(&sb_subj, &m->vms.a[x->subj]);
      NAME(nv, x->subj);
      break;
  }
  if (sb_subj.n) subj[sb_subj.n] = '\0';
  else sb_subj.n = strlen(subj); /* written by snprintf */

  switch (rule) {
    case MODEL_R1:
    case MODEL_R2:
    case MODEL_R3: {
      const mvm *v = &m->vms.a[x->e[0]];
      const mhost *h = &m->hosts.a[x->e[1]];
      const mjur *j = &m->jurs.a[l->jur];
      const char *jur = DESC(j);
      NAME(nv, x->e[0]);
      if (x->code == F_LOC_UNKNOWN) {
        snprintf(fact, sizeof fact, "location(host %s) IN jurisdiction(li %s) = {%s}: location unknown",
                 h->id, l->id, jur);
        /* no location is the host's trust failing (hw_trust) */
        return trust_reason(out, add(out, rule, subj, fact,
                                     "LI %s is issued in %s; host %s has no known location, and "
                                     "runs VM %s, %s",
                                     l->id, jur, h->id, v->id, role_words(m, l, x->e[0]).s));
      }
      if (!(r = sb_in_place(out, &sb_subj, &f, WORDS_CAP))) return LISEC_ENOMEM;
      LIT(&f, "location(host ");
      ID(&f, h);
      LIT(&f, ") = ");
      sb_where(&f, h);
      LIT(&f, " IN jurisdiction(li ");
      ID(&f, l);
      LIT(&f, ") = {");
      sb_area(&f, j);
      LIT(&f, "}: false");
      sb_then(&f, &w, WORDS_CAP);
      LIT(&w, "LI ");
      ID(&w, l);
      LIT(&w, " is issued in ");
      sb_area(&w, j);
      LIT(&w, "; host ");
      ID(&w, h);
      LIT(&w, " is located in ");
      sb_where(&w, h);
      LIT(&w, ", and runs VM ");
      ID(&w, v);
      LIT(&w, ", ");
      WD(&w, role_words(m, l, x->e[0]));
      return sb_reason(out, r, rule, &sb_subj, &w, &f);
    }
    case MODEL_R4: {
      const mvm *a = &m->vms.a[l->monitored], *b = &m->vms.a[l->host];
      name_path(m, x, nv, l->monitored, l->host);
      if (!(r = sb_in_place(out, &sb_subj, &f, SENTENCE_CAP))) return LISEC_ENOMEM;
      path_fact(m, x, &f, a, b);
      sb_then(&f, &w, SENTENCE_CAP);
      LIT(&w, "LI ");
      ID(&w, l);
      LIT(&w, " monitors VM ");
      ID(&w, a);
      LIT(&w, " from VM ");
      ID(&w, b);
      LIT(&w, ", but ");
      path_sentence(m, x, &w, a, b);
      return sb_reason(out, r, rule, &sb_subj, &w, &f);
    }
    case MODEL_R5: {
      if (x->sk == SK_ATTACH) {
        const mattach *a = &m->attach.a[x->subj];
        const mstorage *s = &m->stores.a[a->storage];
        const mvm *u = &m->vms.a[a->user], *p = &m->vms.a[s->root];
        name_path(m, x, nv, a->user, s->root);
        if (!(r = sb_in_place(out, &sb_subj, &f, SENTENCE_CAP))) return LISEC_ENOMEM;
        path_fact(m, x, &f, u, p);
        sb_then(&f, &w, SENTENCE_CAP);
        LIT(&w, "storage ");
        ID(&w, s);
        LIT(&w, " is rooted in VM ");
        ID(&w, p);
        LIT(&w, " and provided to VM ");
        ID(&w, u);
        LIT(&w, ", but ");
        path_sentence(m, x, &w, u, p);
        return sb_reason(out, r, rule, &sb_subj, &w, &f);
      }
      const mstorage *s = &m->stores.a[l->storage];
      const mvm *via = &m->vms.a[l->via];
      if (x->code == F_NOT_ATTACHED) {
        NAME(nv, l->via);
        NAME(nv, s->root);
        snprintf(fact, sizeof fact, "%s IN providedTo(storage %s): false", via->id, s->id);
        return add(out, rule, subj, fact,
                   "LI %s stores its data in storage %s through VM %s, but %s is not provided to "
                   "%s (it is rooted in VM %s)",
                   l->id, s->id, via->id, s->id, via->id, m->vms.a[s->root].id);
      }
      const mvm *host = &m->vms.a[l->host];
      name_path(m, x, nv, l->host, l->via);
      if (!(r = sb_in_place(out, &sb_subj, &f, SENTENCE_CAP))) return LISEC_ENOMEM;
      path_fact(m, x, &f, host, via);
      sb_then(&f, &w, SENTENCE_CAP);
      LIT(&w, "LI ");
      ID(&w, l);
      LIT(&w, " runs in VM ");
      ID(&w, host);
      LIT(&w, " and stores its data through VM ");
      ID(&w, via);
      LIT(&w, ", but ");
      path_sentence(m, x, &w, host, via);
      return sb_reason(out, r, rule, &sb_subj, &w, &f);
    }
    case MODEL_R6: {
      if (x->sk == SK_CONN && x->code == F_INSECURE_PATH) {
        const mconn *c = &m->conns.a[x->subj];
        NAME(nv, x->e[0]);
        NAME(nv, x->e[1]);
        snprintf(fact, sizeof fact, "secure(group of one: connection %s): false", c->id);
        return add(out, rule, subj, fact,
                   "%s connection %s directly joins VM %s and VM %s and is the data path of "
                   "LI %s (a group of one connection), but it is not secure",
                   model_conn_kind_name(c->kind), c->id, m->vms.a[x->e[0]].id,
                   m->vms.a[x->e[1]].id, m->lis.a[x->e[2]].id);
      }
      if (x->sk == SK_CONN) {
        const mconn *c = &m->conns.a[x->subj];
        const mvm *lv = &m->vms.a[x->e[0]];
        const char *li = "an LI";
        NAME(nv, x->e[0]);
        NAME(nv, x->e[1]);
        for (uint32_t i = 0; i < lv->lis.n; i++) {
          const mli *y = &m->lis.a[lv->lis.v[i]];
          if (y->active && y->host == x->e[0]) {
            li = y->id;
            break;
          }
        }
        snprintf(fact, sizeof fact, "secure(connection %s): false", c->id);
        return add(out, rule, subj, fact,
                   "VM %s hosts LI %s, and its %s connection %s to VM %s is not secure", lv->id,
                   li, model_conn_kind_name(c->kind), c->id, m->vms.a[x->e[1]].id);
      }
      const mgroup *g = &m->groups.a[x->subj];
      const mconn *c = &m->conns.a[x->e[1]];
      uint32_t li = NONE;
      NAME(nv, g->path[0]);
      NAME(nv, g->path[g->n]);
      NAME(nv, c->a);
      NAME(nv, c->b);
      group_carries_li(m, g, &li);
      snprintf(fact, sizeof fact,
               "secure(group %s) = every connection secure: false (%u of %u insecure)", g->id,
               x->e[2], g->n);
      return add(out, rule, subj, fact,
                 "connection group %s between VM %s and VM %s carries the traffic of LI %s, but "
                 "its %s connection %s (%s to %s) is not secure",
                 g->id, m->vms.a[g->path[0]].id, m->vms.a[g->path[g->n]].id,
                 li == NONE ? "?" : m->lis.a[li].id, model_conn_kind_name(c->kind), c->id,
                 m->vms.a[c->a].id, m->vms.a[c->b].id);
    }
    case MODEL_R7: {
      const mgroup *g = &m->groups.a[x->subj];
      uint32_t li = NONE;
      NAME(nv, x->e[0]);
      NAME(nv, g->path[0]);
      NAME(nv, g->path[g->n]);
      group_carries_li(m, g, &li);
      snprintf(fact, sizeof fact, "stores(intermediate %s of group %s): true", m->vms.a[x->e[0]].id,
               g->id);
      return add(out, rule, subj, fact,
                 "intermediate VM %s of connection group %s (between VM %s and VM %s, carrying "
                 "the traffic of LI %s) stores information",
                 m->vms.a[x->e[0]].id, g->id, m->vms.a[g->path[0]].id, m->vms.a[g->path[g->n]].id,
                 li == NONE ? "?" : m->lis.a[li].id);
    }
    case MODEL_R8:
    case MODEL_R9: {
      const mhost *h = &m->hosts.a[x->e[1]];
      const char *v = m->vms.a[x->e[0]].id;
      NAME(nv, x->e[0]);
      if (x->code == F_NO_TRUSTED_LOC) {
        snprintf(fact, sizeof fact, "location(host %s) provided by its trust mechanism: false",
                 h->id);
        return trust_reason(out, add(out, rule, subj, fact,
                                     "VM %s is %s LI %s; its hardware, host %s, is trusted but its "
                                     "trust mechanism provides no location",
                                     v, role_noun(m, l, x->e[0]).s, l->id, h->id));
      }
      snprintf(fact, sizeof fact, "trusted(host %s): false (%s)", h->id,
               model_trust_name(h->trust));
      return trust_reason(out, add(out, rule, subj, fact,
                                   "VM %s is %s LI %s; its hardware, host %s, is not trusted (%s)",
                                   v, role_noun(m, l, x->e[0]).s, l->id, h->id,
                                   trust_words(h->trust).s));
    }
    case MODEL_R10: {
      const mhost *h = &m->hosts.a[x->subj];
      snprintf(fact, sizeof fact, "trusted(host %s) and location(host %s) unknown", h->id, h->id);
      return add(out, rule, subj, fact,
                 "host %s is marked trusted but no location is bound to its attestation; "
                 "hardware that moved has to attest again at its new place",
                 h->id);
    }
    case MODEL_R11: {
      /* decisions: e0 hypervisor, e1 host, e2 LI */
      const mvm *v = &m->vms.a[x->subj];
      const mhost *h = &m->hosts.a[x->e[1]];
      const mli *y = &m->lis.a[x->e[2]];
      if (x->code == F_UNTRUSTED || x->code == F_NO_TRUSTED_LOC) {
        const wtext role = role_noun(m, y, x->subj);
        SB_WRITE(WORDS_CAP, r11_trust_words, v, h, y, &m->hyps.a[x->e[0]], role);
      }
      const wtext role = role_words(m, y, x->subj);
      SB_WRITE(WORDS_CAP, r11_where_words, v, h, y, &m->jurs.a[y->jur], role);
    }
    case MODEL_MOVE1: {
      const mvm *v = &m->vms.a[x->subj];
      snprintf(fact, sizeof fact, "v.runsOn != h: %s != %s: false", m->hyps.a[v->hyp].id,
               m->hyps.a[x->e[0]].id);
      return add(out, rule, subj, fact, "VM %s already runs on hypervisor %s", v->id,
                 m->hyps.a[x->e[0]].id);
    }
    case MODEL_MOVE2: {
      const mhost *h = &m->hosts.a[x->e[1]];
      if (!(r = sb_in_place(out, &sb_subj, &f, WORDS_CAP))) return LISEC_ENOMEM;
      LIT(&f, "h.executesOn.trusted: host ");
      ID(&f, h);
      LIT(&f, ": false (");
      STR(&f, model_trust_name(h->trust));
      if (h->loc.known) LIT(&f, ")");
      else LIT(&f, ", no location)");
      sb_then(&f, &w, WORDS_CAP);
      LIT(&w, "VM ");
      ID(&w, &m->vms.a[x->subj]);
      LIT(&w, " may run only on trusted hardware; hypervisor ");
      ID(&w, &m->hyps.a[x->e[0]]);
      LIT(&w, " runs on host ");
      ID(&w, h);
      LIT(&w, ", which is not trusted (");
      WD(&w, trust_words(h->trust));
      if (h->loc.known) LIT(&w, ")");
      else LIT(&w, "; no location)");
      return sb_reason(out, r, rule, &sb_subj, &w, &f);
    }
    case MODEL_DOMAIN: {
      const mdomain *d = &m->domains.a[x->subj];
      NAME(nv, x->e[1]);
      NAME(nv, x->e[2]);
      snprintf(fact, sizeof fact,
               "domain %s holds only LI VMs or only other VMs: false (%u LI, %u other)", d->name,
               d->li.n, d->other.n);
      return add(out, rule, subj, fact,
                 "security domain %s holds LI VM %s and %u VM%s that %s not LI VMs, e.g. %s; LI "
                 "VMs need a domain of their own",
                 d->name, m->vms.a[x->e[1]].id, d->other.n, d->other.n == 1 ? "" : "s",
                 d->other.n == 1 ? "is" : "are", m->vms.a[x->e[2]].id);
    }
    case MODEL_KNOWN: {
      if (x->sk == SK_CONN) {
        const mconn *c = &m->conns.a[x->subj];
        const char *lv = m->vms.a[x->e[0]].id, *o = m->vms.a[x->e[1]].id;
        NAME(nv, x->e[0]);
        NAME(nv, x->e[1]);
        snprintf(fact, sizeof fact, "allowedPeer(LI VM %s, VM %s): false", lv, o);
        if (x->e[2] != NONE)
          return add(out, rule, subj, fact,
                     "LI VM %s is joined to VM %s by connection group %s (through its connection "
                     "%s), and no active LI hosted by %s monitors or stores through %s, which is "
                     "not a known LI VM either",
                     lv, o, m->groups.a[x->e[2]].id, c->id, lv, o);
        return add(out, rule, subj, fact,
                   "LI VM %s is connected to VM %s (connection %s), which no active LI hosted by "
                   "%s monitors or stores through and which is not a known LI VM",
                   lv, o, c->id, lv);
      }
      const mvm *v = &m->vms.a[x->e[0]];
      NAME(nv, x->e[0]);
      if (x->code == F_NOT_LI_VM) {
        snprintf(fact, sizeof fact, "class(vm %s) = li: false (%s)", v->id,
                 model_class_name(v->cls));
        return add(out, rule, subj, fact,
                   "LI %s is hosted by VM %s, which is not an LI VM (sensitivity %s)", l->id,
                   v->id, model_class_name(v->cls));
      }
      snprintf(fact, sizeof fact, "paired(vm %s): false", v->id);
      return add(out, rule, subj, fact,
                 "LI %s is hosted by LI VM %s, which is not paired with the LI administration "
                 "system, so it is not a known LI VM",
                 l->id, v->id);
    }
    case MODEL_O13: {
      const mvm *v = &m->vms.a[x->subj];
      const mhost *h = &m->hosts.a[x->e[0]];
      const char *vs = model_class_name(v->cls), *hs = model_class_name(h->protection);
      const wtext vc = {vs, strlen(vs)}, hc = {hs, strlen(hs)};
      SB_WRITE(WORDS_CAP, o13_words, v, h, vc, hc);
    }
    case MODEL_STORE: {
      /* compliance: the attachment, e0 the LI, e1 the user's host; a
       * decision: subject the VM, e0 hypervisor, e1 host, e2 the LI */
      const bool dec = x->sk == SK_VM;
      const mli *y = &m->lis.a[x->e[dec ? 2 : 0]];
      const mvm *v = &m->vms.a[dec ? x->subj : m->attach.a[x->subj].user];
      const mhost *h = &m->hosts.a[x->e[1]];
      const mstorage *so = &m->stores.a[y->storage];
      const mjur *j = &m->jurs.a[y->jur];
      const char *st = so->id, *jur = DESC(j);
      NAME(nv, dec ? x->subj : m->attach.a[x->subj].user);
      if (x->code == F_STORE_PEER) {
        snprintf(fact, sizeof fact, "allowedStorageUser(li %s, vm %s): false", y->id, v->id);
        if (v == &m->vms.a[y->monitored])
          return add(out, rule, subj, fact,
                     "LI %s stores its data in storage %s, which is also provided to VM %s, the "
                     "VM the LI monitors: a target may never read what is collected about it",
                     y->id, st, v->id);
        NAME(nv, y->host);
        return add(out, rule, subj, fact,
                   "LI %s stores its data in storage %s, which is also provided to VM %s; that VM "
                   "is neither the LI's storage VM nor its LI VM %s, nor a VM %s may operate with "
                   "(a known LI VM, or the storage VM of another active LI it hosts)",
                   y->id, st, v->id, m->vms.a[y->host].id, m->vms.a[y->host].id);
      }
      if (x->code == F_UNTRUSTED || x->code == F_NO_TRUSTED_LOC) {
        if (x->code == F_NO_TRUSTED_LOC)
          snprintf(fact, sizeof fact, "location(host %s) provided by its trust mechanism: false",
                   h->id);
        else
          snprintf(fact, sizeof fact, "trusted(host %s): false (%s)", h->id,
                   model_trust_name(h->trust));
        return trust_reason(
            out, add(out, rule, subj, fact,
                     "LI VM %s is provided storage %s, where LI %s stores its data; its hardware, "
                     "host %s, %s%s%s",
                     v->id, st, y->id, h->id,
                     x->code == F_NO_TRUSTED_LOC ? "is trusted but its trust mechanism provides no "
                                                   "location"
                                                 : "is not trusted (",
                     x->code == F_NO_TRUSTED_LOC ? "" : trust_words(h->trust).s,
                     x->code == F_NO_TRUSTED_LOC ? "" : ")"));
      }
      const char *loc = WHERE(h); /* "an unknown place" when it has none */
      if (dec) {
        /* a move's reason, one for every other LI on a store the VM reads:
         * written in place like R11's, not through snprintf (four times
         * the cost of an R11 reason, bench/model's perf of 12-07); the
         * caps are add()'s, so the words are the same to the byte */
        SB_WRITE(SENTENCE_CAP, store_where_words, v, h, y, j, so, &m->hyps.a[x->e[0]]);
      }
      snprintf(fact, sizeof fact, "location(host %s) = %s IN jurisdiction(li %s) = {%s}: false",
               h->id, loc, y->id, jur);
      int rc = add(out, rule, subj, fact,
                   "LI %s is issued in %s; host %s is located in %s, and runs VM %s, to which the "
                   "LI's storage %s is provided",
                   y->id, jur, h->id, loc, v->id, st);
      /* no location is the host's trust failing (hw_trust) */
      return x->code == F_LOC_UNKNOWN ? trust_reason(out, rc) : rc;
    }
    default: break;
  }
  snprintf(fact, sizeof fact, "rule %u code %u", x->rule, x->code);
  return add(out, rule, subj, fact, "%s failed", model_rule_id(rule));
}

int render_viol(const model *m, const mviol *x, model_verdict *out) {
  named nv = {.n = 0};
  size_t n = out->n;
  int rc = render_words(m, x, out, &nv);
  for (uint8_t i = 0; !rc && out->n > n && i < nv.n; i++) rc = verdict_name_vm(out, m, nv.v[i]);
  if (!rc && out->n > n && nv.over) out->reasons[out->n - 1].li_vms_more = true;
  return rc;
}
