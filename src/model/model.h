/* model/ is the trust model of ETSI TR 103 308 §6.2: physical hardware with
 * its attested trust and location, hypervisors, VMs with a sensitivity class
 * and a security domain, storage rooted in a VM and provided to others,
 * connections and connection groups, LEAs, jurisdictions and LI
 * authorisations. It evaluates every requirement of §6.2 (1-15), the LI
 * security domain of §4.1, the "known LI VMs" principle of §4.2 and the
 * host protection objectives O.1.3/O.1.7, keeps an index of the current
 * violations that each change updates for only what it touches, and answers
 * placement, migration (moveVM), connection and storage questions with every
 * failed requirement named. It is pure: structs and JSON in, verdicts out; it
 * reads no clock (the caller sets the time) and does no I/O.
 *
 * A model is not thread-safe: the caller serialises every call, decisions
 * included (a decision applies the change, reads the index and undoes it). */
#ifndef LISEC_MODEL_H
#define LISEC_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- bounds on outside input ------------------------------------------- */

#define MODEL_ID_MAX 128                 /* bytes in an identifier */
#define MODEL_TEXT_MAX 256               /* site, LEA name */
#define MODEL_TOPOLOGY_MAX (64u << 20)   /* bytes of topology JSON */
#define MODEL_ENTITIES_MAX 4000000u      /* entities of one kind */
#define MODEL_GROUP_HOPS_MAX 64          /* connections in one group */
#define MODEL_JUR_CODES_MAX 1024         /* codes in one jurisdiction */
#define MODEL_JUR_POINTS_MAX 200000      /* polygon positions in one jurisdiction */

/* ---- the vocabulary ---------------------------------------------------- */

typedef enum {
  MODEL_TRUST_UNKNOWN = 0, /* never attested, or voided (fail closed) */
  MODEL_TRUST_TRUSTED,
  MODEL_TRUST_UNTRUSTED,
} model_trust;

/* VNF sensitivity classes, in order; a host's protection level is the
 * highest class it may run (O.1.3). Class "li" marks an LI VM. */
typedef enum {
  MODEL_CLASS_GENERAL = 0,
  MODEL_CLASS_SENSITIVE, /* e.g. HSS/HLR, subscriber data (O.1.3's example) */
  MODEL_CLASS_LI,        /* LI functions: the LI VMs of §4.1 */
} model_class;

typedef enum {
  MODEL_CONN_IPC = 0, /* only between VMs on the same physical hardware */
  MODEL_CONN_NETWORK,
  MODEL_CONN_NFS,
  MODEL_CONN_BLOCK,
  MODEL_CONN_OTHER,
} model_conn_kind;

typedef enum {
  MODEL_LOC_ATTESTED = 0,   /* bound to the host's attestation (TPM) */
  MODEL_LOC_ADMINISTRATIVE, /* asset register / administrative means (§6.2 req. 12b) */
} model_loc_source;

/* Every rule the model checks. Each has a stable requirement id (see
 * model_rule_id) used in reasons, logs, the API and docs/model.md. */
typedef enum {
  MODEL_R1 = 0, /* monitored VM and LI VM located inside the jurisdiction */
  MODEL_R2,     /* the VM providing the LI's storage inside the jurisdiction */
  MODEL_R3,     /* the VM utilising that storage inside the jurisdiction */
  MODEL_R4,     /* a connection path between monitored VM and LI VM */
  MODEL_R5,     /* a connection path between storage user and provider */
  MODEL_R6,     /* connections of the LI VM (the whole group) secure */
  MODEL_R7,     /* no storing intermediate VM on an LI connection group */
  MODEL_R8,     /* hardware of the LI VM trusted, with location (req. 8, 12) */
  MODEL_R9,     /* hardware of the LI's storage trusted (req. 9, 13) */
  MODEL_R10,    /* moved hardware loses its trust and location (req. 10, 14) */
  MODEL_R11,    /* migration only to trusted places inside the jurisdiction (11, 15) */
  MODEL_MOVE1,  /* moveVM pre: v.runsOn != h */
  MODEL_MOVE2,  /* moveVM pre: h.executesOn.trusted */
  MODEL_DOMAIN, /* §4.1: LI VMs in their own security domain */
  MODEL_KNOWN,  /* §4.2: a VM only operates with known LI VMs */
  MODEL_O13,    /* O.1.3 / O.1.7: a host runs only what its protection allows */
  /* Retained Data (§5.8, issue 20): req. 1-3 and 8-11 read with RD for LI,
   * judged against retention obligations (model_rd_put) */
  MODEL_RD1,  /* RD functions (VMs) inside the obligation's jurisdiction */
  MODEL_RD2,  /* the VM providing an RD store inside the jurisdiction */
  MODEL_RD3,  /* every VM utilising an RD store inside the jurisdiction */
  MODEL_RD8,  /* hardware of an RD function trusted, with location */
  MODEL_RD9,  /* hardware of an RD store trusted, with location */
  MODEL_RD11, /* RD VMs migrate/are placed only on trusted hardware inside it */
  /* §4.2 with §6.2 (storage implies a connection, req. 3, 8): every other
   * VM an LI's storage is provided to is one its LI VM may operate with,
   * inside the LI's jurisdiction (an LI VM: on trusted hardware); appended
   * so that the ids above keep their numbers */
  MODEL_STORE,
  MODEL_RULE_COUNT
} model_rule;

const char *model_rule_id(model_rule r);      /* "TR103308-6.2-R1" */
const char *model_rule_clauses(model_rule r); /* "TR 103 308 §6.2 req. 1; §4.2" */
const char *model_rule_title(model_rule r);   /* one line */
int model_rule_parse(const char *id, model_rule *out);
/* Whether a violation of r is about an LI authorisation (R1-R11, KNOWN,
 * STORE): its sentence and fact name the LI, which only the LI
 * administration may read (§4.1). */
bool model_rule_about_li(model_rule r);

const char *model_trust_name(model_trust t);
const char *model_class_name(model_class c);
const char *model_conn_kind_name(model_conn_kind k);
int model_trust_parse(const char *s, model_trust *out);
int model_class_parse(const char *s, model_class *out);
int model_conn_kind_parse(const char *s, model_conn_kind *out);

/* ISO 3166: true for an officially assigned alpha-2 code ("FI") or an ISO
 * 3166-2 subdivision code ("FI-18", "GB-SCT"), from the embedded tables. */
bool model_iso3166_country(const char *code);
bool model_iso3166_subdivision(const char *code);

/* ---- entities (inputs; strings are borrowed for the call) -------------- */

typedef struct model_location {
  const char *country;     /* ISO 3166-1 alpha-2, required */
  const char *subdivision; /* ISO 3166-2 of that country, or NULL */
  bool has_coords;
  double lat, lon; /* WGS 84 degrees */
  const char *site;        /* free text, or NULL */
  model_loc_source source;
} model_location;

typedef struct model_host_spec {
  const char *id;
  model_trust trust;
  const model_location *location; /* NULL: none known (fail closed) */
  model_class protection;
} model_host_spec;

typedef struct model_vm_spec {
  const char *id;
  const char *hypervisor;
  model_class sensitivity;
  const char *domain; /* security domain name */
  bool paired;        /* an LI VM paired with (known to) the LI administration */
} model_vm_spec;

typedef struct model_conn_spec {
  const char *id;
  const char *a, *b;
  model_conn_kind kind;
  bool secure;
} model_conn_spec;

/* A path of n connections; intermediate i (0..n-2) is the VM that joins
 * connection i and i+1, and stores[i] says whether it stores information
 * (§6.2 req. 7). from/to, when given, must be the path's two ends. */
typedef struct model_group_spec {
  const char *id;
  const char *from, *to;
  size_t n;
  const char *const *connections;
  const char *const *intermediates; /* n-1 VM ids, or NULL when n == 1 */
  const bool *stores;               /* n-1 flags, or NULL when n == 1 */
} model_group_spec;

typedef struct model_li_spec {
  const char *id;
  const char *jurisdiction; /* the issuing jurisdiction */
  const char *lea;
  const char *monitored;   /* the VM being monitored */
  const char *host;        /* the VM hosting the LI function */
  const char *storage;     /* the storage the collected data goes to */
  const char *storage_via; /* the VM that utilises it; NULL: the LI VM */
  int64_t valid_from, valid_until; /* seconds since the epoch, [from, until) */
} model_li_spec;

/* ---- verdicts ---------------------------------------------------------- */

/* At most this many VMs of sensitivity "li" listed on a reason (a
 * reason names at most four VMs: a connection path's two ends and the
 * connection's). */
#define MODEL_REASON_LI_VMS 4

typedef struct model_reason {
  model_rule rule;
  /* A reason about an LI authorisation or a retention obligation that
   * fails only because a host is not trusted (untrusted, or no location
   * from its trust mechanism): the failure TR103308-6.2-MOVE2 (moveVM pre
   * h.executesOn.trusted) states for every VM alike when that host is a
   * move's destination. Set where the reason is made: a move's R11 beside
   * MOVE2 (decide.c), a decision's RD-R11 (rd.c), and the compliance rows
   * R1-R3 without a location, R8, R9 and 4.2-STORE on untrusted hardware
   * (render.c), which a hypervisor's move compares before and after.
   * ctl/model.c shows such a reason to the LI (RD) administration only,
   * never by its words, so that an answer about a destination that is not
   * trusted reads alike whatever the VM (§4.1). */
  bool trust;
  /* The VMs of sensitivity "li" the reason names in its subject, sentence
   * or fact, each once, marked where the reason is made (render.c names
   * each rule's VMs beside its words; decide.c, observe.c and rd.c theirs):
   * ctl/model.c withholds a row from every role that reads no row naming
   * an LI VM by this mark, not by looking for ids in the words, which
   * found an id inside other words ("host hel-3" for an LI VM hel-3) and
   * would miss one written another way (TR 103 308 §4.1; docs/model.md,
   * "What each role sees"). The ids live in the verdict's memory.
   * li_vms_more: it names more than MODEL_REASON_LI_VMS of them (read as
   * naming one more than those listed: fail closed). */
  const char *li_vms[MODEL_REASON_LI_VMS];
  uint8_t n_li_vms;
  bool li_vms_more;
  const char *requirement; /* model_rule_id(rule) */
  const char *clauses;
  char *subject;  /* the entity the rule is about, "li li-7" */
  char *sentence; /* names the entities: "LI li-7 is issued in FI; host lon-3 ..." */
  char *fact;     /* the precondition that evaluated false, with its values */
} model_reason;

/* A decision (allow is true exactly when n == 0) or a compliance report
 * (allow: compliant). */
typedef struct model_verdict {
  bool allow;
  size_t n, cap;
  model_reason *reasons;
  void *mem; /* private: the memory the reasons' strings live in */
} model_verdict;

void model_verdict_free(model_verdict *v);
/* {"allow": bool, "violations": [{"requirement","clauses","subject",
 * "sentence","fact"}]}; NULL only when out of memory. */
json_t *model_verdict_json(const model_verdict *v);

/* ---- the model --------------------------------------------------------- */

typedef struct model model;

model *model_new(void);
void model_free(model *m);

/* The time LI validity periods are judged against. */
int model_set_time(model *m, int64_t now, lisec_err *err);
int64_t model_time(const model *m);

/* Loading many entities: changes between begin and end are not evaluated
 * one by one; end evaluates everything once. */
void model_batch_begin(model *m);
void model_batch_end(model *m);

/* Facts. Each validates all of its input before it changes anything and
 * fails with LISEC_EINVAL (malformed; the reason names the field),
 * LISEC_ENOTFOUND (an unknown id; named) or LISEC_ECONFLICT (the change
 * would leave a dangling reference or contradict a fixed fact). A put adds
 * the entity or replaces its attributes. */
int model_host_put(model *m, const model_host_spec *s, lisec_err *err);
/* Attestation result: trusted/untrusted/unknown. */
int model_host_set_trust(model *m, const char *host, model_trust t, lisec_err *err);
/* A new location (loc NULL: unknown). A location that differs from the
 * recorded one voids the host's trust (§6.2 req. 10/14): the hardware has
 * to attest again at its new place. */
int model_host_set_location(model *m, const char *host, const model_location *loc,
                            lisec_err *err);
int model_host_remove(model *m, const char *host, lisec_err *err);
int model_hypervisor_put(model *m, const char *id, const char *host, lisec_err *err);
int model_hypervisor_remove(model *m, const char *id, lisec_err *err);
/* Adds a VM or updates its attributes; a different hypervisor for an
 * existing VM records a migration (as model_vm_move). */
int model_vm_put(model *m, const model_vm_spec *s, lisec_err *err);
/* Records that the VM now runs on hypervisor hyp (a fact, not a question:
 * ask model_decide_move first). */
int model_vm_move(model *m, const char *vm, const char *hyp, lisec_err *err);
int model_vm_remove(model *m, const char *vm, lisec_err *err);
int model_storage_put(model *m, const char *id, const char *root_vm, lisec_err *err);
int model_storage_remove(model *m, const char *id, lisec_err *err);
int model_storage_attach(model *m, const char *storage, const char *vm, lisec_err *err);
int model_storage_detach(model *m, const char *storage, const char *vm, lisec_err *err);
int model_conn_put(model *m, const model_conn_spec *s, lisec_err *err);
int model_conn_remove(model *m, const char *id, lisec_err *err);
int model_group_put(model *m, const model_group_spec *s, lisec_err *err);
int model_group_remove(model *m, const char *id, lisec_err *err);
/* A jurisdiction: ISO 3166-1/-2 codes and/or a GeoJSON Polygon or
 * MultiPolygon (geometry may be NULL). At least one of the two. */
int model_jurisdiction_put(model *m, const char *id, const char *const *codes, size_t ncodes,
                           const json_t *geometry, lisec_err *err);
int model_jurisdiction_remove(model *m, const char *id, lisec_err *err);
int model_lea_put(model *m, const char *id, const char *name, const char *jurisdiction,
                  lisec_err *err);
int model_lea_remove(model *m, const char *id, lisec_err *err);
int model_li_put(model *m, const model_li_spec *s, lisec_err *err);
int model_li_remove(model *m, const char *id, lisec_err *err);

/* Whether an LI authorisation refers to the entity: a VM it monitors, runs
 * in or stores through (or whose storage it uses), its storage, its LEA, or
 * its jurisdiction (or an LEA's). Every remove, and a storage's change of
 * root VM, checks that reference before any other, so a refusal
 * (LISEC_ECONFLICT) of such an entity is caused by an LI: the caller seals
 * it and tells roles other than li-admin no more than "still referenced"
 * (TR 103 308 §4.1). */
bool model_li_refers(const model *m, const char *kind, const char *id);

/* The same facts as JSON objects in the topology format (docs/model.md);
 * kind is "host", "hypervisor", "vm", "storage", "connection", "group",
 * "jurisdiction", "lea" or "li". For "storage", "provided_to" sets the
 * complete list of VMs it is provided to. */
int model_put_json(model *m, const char *kind, const json_t *obj, lisec_err *err);
int model_remove_kind(model *m, const char *kind, const char *id, lisec_err *err);

/* ---- decisions (each fills *out; LISEC_EINVAL/ENOTFOUND for bad input) -- */

/* moveVM(v, h) of §6.2: v not already on h; h's hardware trusted now; h's
 * location inside the jurisdiction of every active LI that involves v (as
 * monitored VM, LI VM, storage VM or storage provider); the host's
 * protection level admits v's class; and no connection-path or storage
 * rule that holds now fails after the move. */
int model_decide_move(model *m, const char *vm, const char *hyp, model_verdict *out,
                      lisec_err *err);
/* Placement of a new VM: trusted hardware, protection level, security domain. */
int model_decide_place(model *m, const model_vm_spec *vm, model_verdict *out, lisec_err *err);
/* A new connection group (and the connections it names that do not exist
 * yet, given in new_conns): the rules on LI connection groups, secure
 * connections and known LI VMs. */
int model_decide_connect(model *m, const model_group_spec *g, const model_conn_spec *new_conns,
                         size_t n_new, model_verdict *out, lisec_err *err);
/* Providing storage to a VM: the connection path it implies (req. 5). */
int model_decide_attach(model *m, const char *storage, const char *vm, model_verdict *out,
                        lisec_err *err);

/* The hypervisor a move or placement names: name is a hypervisor id, or the
 * id of a host that runs exactly one hypervisor. *hyp borrows from m. */
int model_resolve_target(const model *m, const char *name, const char **hyp, lisec_err *err);

/* ---- compliance -------------------------------------------------------- */

/* Every current violation of the whole platform, from the index. */
int model_compliance(const model *m, model_verdict *out);
size_t model_violation_count(const model *m);
/* The current violations about one LI authorisation, from the index: its
 * own (its VMs' hardware trusted and inside its jurisdiction, its paths
 * usable, its LI VM known), and those kept on what carries its data: the
 * groups with an end at its LI VM or joining its storage VM and the
 * storage provider (req. 6, 7), its LI VM's connections (req. 6, §4.2), a
 * direct connection that is its storage path (req. 6) and its storage
 * VM's attachment (req. 5). *active says whether it is inside its
 * validity now. Whoever acts for the LI (the ADMF sending X1 tasks) asks
 * this first: allow false or active false means do not act. */
int model_li_compliance(const model *m, const char *li, model_verdict *out, bool *active,
                        lisec_err *err);
/* The current violations per rule (counts[r] for rule r), for metrics. */
void model_count_by_rule(const model *m, size_t counts[MODEL_RULE_COUNT]);
/* Re-evaluates every rule for every entity from scratch (the index is
 * rebuilt); the result equals the incrementally maintained one. */
void model_evaluate_all(model *m);
/* The full evaluation runs on up to `threads` threads (0: one per online
 * CPU; at most MODEL_EVAL_THREADS_MAX) when the model has at least
 * min_subjects subjects (LIs, groups, connections, attachments, hosts,
 * domains and VMs together), on the caller's thread otherwise. The result
 * is the same either way. Defaults: 0 and MODEL_EVAL_PAR_MIN. */
#define MODEL_EVAL_THREADS_MAX 16
#define MODEL_EVAL_PAR_MIN 50000
void model_set_eval_threads(model *m, unsigned threads, size_t min_subjects);

typedef struct model_stats {
  size_t hosts, hypervisors, vms, storage, attachments, connections, groups, jurisdictions,
      leas, lis, lis_active, domains, violations;
} model_stats;
void model_get_stats(const model *m, model_stats *out);

/* ---- topology ---------------------------------------------------------- */

/* Builds a model from a topology document (docs/model.md,
 * docs/topology.schema.json) of at most MODEL_TOPOLOGY_MAX bytes. The time
 * is the document's "time" when present, else now. On failure nothing is
 * returned and the reason names the field ("vms[3].hypervisor: ..."). */
int model_topology_load(const char *json, size_t len, int64_t now, model **out, lisec_err *err);
int model_topology_load_json(const json_t *root, int64_t now, model **out, lisec_err *err);

/* ---- Retained Data (issue 20; TR 103 308 §5.7, §5.8) -------------------
 * A retention obligation is issued under a jurisdiction and names the RD
 * functions (VM ids) and RD stores (storage ids) that serve it, by id:
 * they may be named before they exist, so placing a declared RD VM is
 * judged too. Its data keys run in periods of period_s from valid_from;
 * the key of period k is destroyed retention_s after that period ends
 * (model_rd_key_window). model/rd.c; docs/rd.md. */

#define MODEL_RD_MEMBERS_MAX 64               /* functions, and stores, per obligation */
#define MODEL_RD_OBLIGATIONS_MAX 100000u      /* obligations in one model */
#define MODEL_RD_SECONDS_MAX (200LL * 366 * 24 * 3600) /* period or retention */

typedef struct model_rd_spec {
  const char *id;
  const char *jurisdiction; /* must be in the model */
  const char *const *functions; /* VM ids */
  size_t n_functions;
  const char *const *stores; /* storage ids */
  size_t n_stores;
  int64_t period_s;    /* one data key per store and period (> 0) */
  int64_t retention_s; /* kept this long after its period ends (> 0) */
  int64_t valid_from;  /* start of period 0; also "created" when not given */
} model_rd_spec;

/* Adds or replaces an obligation (EINVAL naming the field, ENOTFOUND for an
 * unknown jurisdiction, ETOOBIG past MODEL_RD_OBLIGATIONS_MAX). A
 * replacement may lengthen but never shorten retention_s, and keeps
 * period_s and valid_from (ECONFLICT): keys already issued are bound to
 * them (TR103308-5.8-RD-EARLY). */
int model_rd_put(model *m, const model_rd_spec *s, lisec_err *err);
int model_rd_remove(model *m, const char *id, lisec_err *err);
size_t model_rd_count(const model *m);
/* The obligation's stored form: {"id","jurisdiction","functions":[..],
 * "stores":[..],"period_s","retention_s","valid_from"}; NULL if unknown. */
json_t *model_rd_json(const model *m, const char *id);
/* Whether an obligation names the jurisdiction (model_jurisdiction_remove
 * refuses it, ECONFLICT, without naming the obligation). */
bool model_rd_refers_jurisdiction(const model *m, const char *jur);
/* Every violation of every obligation now (RD1-RD3, RD8, RD9), appended
 * to *out (zeroed or filled by the caller). */
int model_rd_compliance(const model *m, model_verdict *out);
/* Period arithmetic: the period index at time t (-1 before valid_from),
 * and [start, end) of period k with the time its key must be destroyed. */
int64_t model_rd_period_at(int64_t valid_from, int64_t period_s, int64_t t);
void model_rd_period_window(int64_t valid_from, int64_t period_s, int64_t retention_s, int64_t k,
                            int64_t *start, int64_t *end, int64_t *destroy_at);
/* May RD store `store`'s data key be handed to VM vm, running on host
 * `host` (where the controller knows it runs: observed, else declared)?
 * Only when an obligation names the store and the VM as one of its
 * functions, and that host is trusted (with a location) and inside the
 * obligation's jurisdiction. 0 with the obligation's id, period_s, retention_s and
 * valid_from in *out; EDENIED naming TR103308-5.7-RD-KEY otherwise
 * (ENOTFOUND when no obligation names the store). */
typedef struct model_rd_key_grant {
  char obligation[MODEL_ID_MAX + 1];
  int64_t period_s, retention_s, valid_from;
} model_rd_key_grant;
int model_rd_key_allowed(const model *m, const char *store, const char *vm, const char *host,
                         model_rd_key_grant *out, lisec_err *err);
/* The RD obligations naming a store (up to cap ids copied into ids);
 * returns how many there are. */
size_t model_rd_stores_obligation(const model *m, const char *store, char *id, size_t cap);

#define MODEL_REQ_RD_KEY "TR103308-5.7-RD-KEY"

/* ---- observation (issue 15; TR 103 308 T.1.4, §4.2, O.1.4) --------------
 * What MANO or an operator puts is intent; what a host last proved in an
 * attested inventory is observation. Observations are kept apart from
 * intent, per host (one host's inventory replaces its previous one) and
 * per VM id, keyed by id so that entities may come and go around them. The
 * violations below are computed from observation and intent; they are not
 * part of the §6.2 index (a decision never finds them "new"). */

#define MODEL_REQ_PLACEMENT "TR103308-T.1.4-PLACEMENT"
#define MODEL_REQ_DUPLICATE "TR103308-T.1.4-DUPLICATE"
#define MODEL_REQ_UNREPORTED "TR103308-T.1.4-UNREPORTED"
#define MODEL_REQ_UNKNOWN_DOMAIN "TR103308-4.2-UNKNOWN-DOMAIN"
#define MODEL_REQ_IMAGE "TR103308-4.2-IMAGE"
#define MODEL_OBS_DOMAINS_MAX 1000000u /* backstop; [attest] inventory_max_domains bounds it first */
#define MODEL_OBS_EXPECTED_MAX 1024u /* image digests one package may name */

typedef enum {
  MODEL_DOM_RUNNING = 0,
  MODEL_DOM_PAUSED,
  MODEL_DOM_SHUTOFF,
  MODEL_DOM_CRASHED,
  MODEL_DOM_OTHER,
} model_dom_state;

int model_dom_state_parse(const char *s, model_dom_state *out);
const char *model_dom_state_name(model_dom_state s);

typedef struct model_obs_domain {
  const char *uuid;  /* libvirt UUID */
  const char *vm;    /* lisec VM id, or NULL when the domain carries none */
  model_dom_state state;
  const char *image; /* 64 hex of the base image, or NULL */
  /* The VM's package's image digests (64 hex each; the caller knows the
   * packages); n_expected 0: nothing to judge the image against. */
  const char *const *expected;
  size_t n_expected;
} model_obs_domain;

typedef struct model_observation {
  const char *host;     /* the attested host */
  int64_t at;           /* when its quote was appraised */
  const char *evidence; /* short reference to the quote (<= 64 chars) */
  const model_obs_domain *domains;
  size_t n;
} model_observation;

/* Replaces host's observation (host must be in the model) and judges what
 * it touched: the VMs its old and new inventory name, the VMs whose intent
 * places them on the host, and the host itself. *found (may be NULL) gets
 * the violations among those that were not there the last time they were
 * judged (to record once, not at every attestation). window_s is the
 * attestation interval plus grace: a VM no host reported for longer is
 * unreported (judged at the model's time). Costs O(domains of the host +
 * VMs placed on it). */
int model_observe_host(model *m, const model_observation *o, int64_t window_s,
                       model_verdict *found, lisec_err *err);
/* Every observation violation of the platform at the model's time (the
 * full reconcile: O(VMs + observed domains)); appended to *out, which the
 * caller zeroes or fills beforehand. */
int model_observe_reconcile(model *m, int64_t window_s, model_verdict *out);

/* Where a VM was last observed: the one host whose inventory shows it
 * running or paused (n_hosts says how many do; host is NULL unless exactly
 * one), else the freshest report of it in another state. Strings borrow
 * from m until the next observation. False when no host reports it. */
typedef struct model_vm_observation {
  const char *host;
  model_dom_state state;
  const char *image; /* NULL when unknown */
  int64_t at;
  const char *evidence;
  size_t n_hosts; /* hosts whose inventory shows it running or paused */
} model_vm_observation;
bool model_vm_observed(const model *m, const char *vm, model_vm_observation *out);
/* The host's last observation, for reloading it: at, evidence and the time
 * of its first inventory (kept so that unreported VMs are judged from it).
 * False for a host never observed and for one forgotten since. */
bool model_host_observed(const model *m, const char *host, int64_t *at, int64_t *first_at);
/* What a host that leaves or loses its trust touches, counting the VMs it
 * runs by intent or by observation: the ids of the VMs of class li (which
 * every role that reads the model may know), and of the LI authorisations
 * naming any of its VMs (li-admin's to know). Each a new array of ids,
 * NULL when out of memory. */
json_t *model_host_li_vms(const model *m, const char *host);
json_t *model_host_lis(const model *m, const char *host);
/* Every VM host runs by intent or by observation, whatever its class (a
 * host's removal asks the LI records about each: one paired there need not
 * be declared li). A new array of ids, NULL when out of memory. */
json_t *model_host_vms(const model *m, const char *host);
/* Whether a VM of class li (declared, which every role that reads the
 * model may know) runs on hypervisor hyp, or on host by intent: records
 * sealed for that alone say nothing a reader of the log cannot know. */
bool model_hyp_declares_li(const model *m, const char *hyp);
bool model_host_declares_li(const model *m, const char *host);
/* Drops what host proved (it left the model): its domains count for no VM
 * any more, and a host of that id added again starts afresh. */
void model_observe_forget(model *m, const char *host);
/* Sets the time of a host's first inventory (restoring it after a
 * restart); no effect on a host with no observation. */
void model_host_observed_since(model *m, const char *host, int64_t first_at);

#endif
