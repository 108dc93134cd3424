/* Use cases of the trust model (TR 103 308 §6.2, §4.1, §4.2): the model
 * every worker shares, loaded from the store at start and kept in memory;
 * create/read/update/delete of every entity (each change checked against
 * the model before it is recorded and stored, so a refused change leaves
 * both as they were); placement and migration decisions, the Kubernetes
 * scheduler extender's filter, the admission webhook's judgement of a pod
 * and the compliance report, each recorded in
 * the audit log; and the entry point attestation uses to feed a host's
 * trust and location. */
#ifndef LISEC_CTL_MODEL_H
#define LISEC_CTL_MODEL_H

#include <stdbool.h>

#include "ctl/ctl.h"
#include "model/model.h"

/* The pod annotation that names the lisec VM a pod is (docs/model.md). */
#define CTL_MODEL_K8S_ANNOTATION "lisec.io/vm"
/* Bounds on a scheduler extender request. */
#define CTL_MODEL_K8S_NODES_MAX 5000

/* An attestation result for a host (ctl/attest.c calls this): its trust,
 * attestation's own word for it (detail: "trusted", "untrusted:failed",
 * "untrusted:overdue"; shown as the host's state.attestation) and, when the
 * TPM-bound location certificate verified, its location (NULL: none
 * proven). A location different from the recorded one voids trust (§6.2
 * req. 10/14). ENOTFOUND when the model has no such host. Must not be called
 * with the model's lock held (it is not: the model calls attestation only
 * outside its lock). */
int ctl_model_host_attested(lisec_ctl *ctl, const char *host, model_trust trust,
                            const char *detail, const model_location *loc, lisec_err *err);

/* The LI administration paired a VM (paired true) or it left the paired
 * state (ctl/li.c calls this after every change it stores, and for every
 * paired VM when lisecd starts): a VM is a known LI VM (TR 103 308 §4.2)
 * by this alone; a declaration counts only with [model]
 * allow_declared_trust. Remembered for a VM not yet in the model (then
 * ENOTFOUND) and applied when it is added. */
int ctl_model_vm_paired(ctl_shared *sh, const char *vm, bool paired, lisec_err *err);
/* Where a VM runs and what it runs: the host whose attested inventory
 * shows it running or paused when exactly one does (*observed true), else
 * the host of its declared hypervisor (*observed false); and the package
 * its document names ("package"; empty when none). ENOTFOUND for a VM not
 * in the model; EDENIED naming TR103308-T.1.4-DUPLICATE (host empty) when
 * two or more hosts show it running or paused. Image reports and checks
 * are bound to both (ctl/pkg.c). */
int ctl_model_vm_placement(ctl_shared *sh, const char *vm, char host[MODEL_ID_MAX + 1],
                           char package[MODEL_ID_MAX + 1], bool *observed, lisec_err *err);
/* The same without saying which placement it was. */
int ctl_model_vm_runs_on(ctl_shared *sh, const char *vm, char host[MODEL_ID_MAX + 1],
                         char package[MODEL_ID_MAX + 1], lisec_err *err);

/* Whether lisecd knows vm as an LI VM: an LI function registered for it
 * and not retired (the LI topic's hook), paired by the LI administration,
 * or declared sensitivity "li". Not for a VM an LI merely names (a seal
 * for that would tell which VM an LI names; vm_declared_li). For records
 * about the VM that must be sealed whatever another party says
 * (ctl/rng.c). An error (the LI topic's store) when none of these holds and
 * the LI topic could not be asked: the caller fails closed. */
int ctl_model_vm_is_li(lisec_ctl *ctl, const char *vm, bool *li, lisec_err *err);

/* An LI authorisation that names vm (as monitored VM, LI VM or storage
 * VM): true and its id in li. A retirement is refused while one does
 * (ctl/li.c). */
bool ctl_model_li_naming_vm(ctl_shared *sh, const char *vm, char li[MODEL_ID_MAX + 1]);

/* A host that leaves (ctl/hosts_end.c) or loses its trust (ctl/attest.c):
 * the VMs of class li it runs, by intent or as it proved, and the LI
 * authorisations naming any VM it runs (model_host_li_vms,
 * model_host_lis). LISEC_EUNAVAIL when there is no model; the
 * caller then assumes the worst. And dropping what the host proved, so its
 * VMs' placement is unproven (declared only) until a host proves it again. */
int ctl_model_host_li_touch(lisec_ctl *ctl, const char *host, json_t **li_vms, json_t **lis,
                            lisec_err *err);
int ctl_model_host_unobserve(lisec_ctl *ctl, const char *host, lisec_err *err);
/* Whether host runs, by intent or as it proved, a VM lisecd knows as an
 * LI VM (ctl_model_vm_is_li: registered in the LI records and not
 * retired, paired, or declared li): a host's removal waits for it. An
 * error when the model or the LI records cannot say (the caller refuses). */
int ctl_model_host_runs_li(lisec_ctl *ctl, const char *host, bool *li, lisec_err *err);

/* Whether the model holds the LI authorisation li (a target belongs to
 * one, TR 103 308 §5.2: ctl/targets.c asks before it stores a target). */
bool ctl_model_li_exists(ctl_shared *sh, const char *li);

/* kind is one of host, hypervisor, vm, storage, connection, group,
 * jurisdiction, lea, li (ENOTFOUND otherwise). LI authorisations ("li") are
 * for the li-admin role only (refusals are recorded, sealed); every other
 * kind for operator and hypervisor-admin (EDENIED otherwise).
 *
 * Put: body is the entity in the topology format (docs/model.md); its "id"
 * may be left out when id is given and must equal it otherwise. create_only
 * refuses an existing id (ECONFLICT). *created says whether it was new.
 * Refusals: EINVAL naming the field (an unknown id it references included),
 * ECONFLICT, EDENIED (a host's trust or location declared without [model]
 * allow_declared_trust). *out: the stored entity as get returns it. */
int ctl_model_put(lisec_ctl *ctl, const ctl_actor *actor, const char *kind, const char *id,
                  const json_t *body, bool create_only, json_t **out, bool *created,
                  lisec_err *err);
/* The stored entity; for a host with "state": its trust and location now
 * and where they came from ("attested", "declared" or "none"), and for an
 * attested host "attestation" (e.g. "untrusted:overdue"): the trust
 * decisions use at this moment (a host that went overdue is untrusted here
 * as soon as its attestation status says so). */
int ctl_model_get(lisec_ctl *ctl, const ctl_actor *actor, const char *kind, const char *id,
                  json_t **out, lisec_err *err);
/* {"<kind>s": [entity...]}, ordered by id. */
int ctl_model_list(lisec_ctl *ctl, const ctl_actor *actor, const char *kind, json_t **out,
                   lisec_err *err);
/* ECONFLICT when something still refers to it. For kind "vm" this is
 * ctl_model_vm_terminate (*out is then its reply). */
int ctl_model_delete(lisec_ctl *ctl, const ctl_actor *actor, const char *kind, const char *id,
                     lisec_err *err);
/* The same with the request's query: "version=N" makes it compare-and-set
 * on the version the client read (ECONFLICT naming TR103308-5.5 when the
 * entity is at another). A put's body may carry "version" likewise (0: must
 * not exist yet); every entity read carries its stored "version". */
int ctl_model_delete_query(lisec_ctl *ctl, const ctl_actor *actor, const char *kind, const char *id,
                           const char *query, lisec_err *err);

/* ---- termination of a VM (issue 21 item 1) ------------------------------
 * What MANO or an operator asks is intent: the VM is marked terminating
 * (store kind model.terminating, reloaded at start) and leaves the model
 * only when no attested host's inventory lists it any more and the host
 * its intent names (when that host reports inventories at all) sent one,
 * taken after the request, without it; with no host reporting it and an
 * intended host that sends no inventory it leaves at once (nothing could
 * ever prove it gone). An LI VM (registered with the LI function and not
 * retired, or paired) is refused: only the LI administration's signed
 * retire command ends it (TR103308-4.1); so is a VM something still
 * refers to (ECONFLICT, the model's references rule), one terminating
 * already (ECONFLICT) and an unknown one (ENOTFOUND). Roles: operator,
 * hypervisor-admin, mano. *out: {"vm", "state": "terminated"|"terminating",
 * "awaiting"?: why it waits}. */
int ctl_model_vm_terminate(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
                           lisec_err *err);
/* Whether the VM is terminating (a put of it, or a migration, is refused). */
bool ctl_model_vm_terminating(ctl_shared *sh, const char *vm);
#define CTL_MODEL_REQ_TERMINATE "SEC025-TERMINATE"

/* Migration (moveVM): body {"vm", "hypervisor"} or {"vm", "host"} (a host
 * that runs one hypervisor). *out: model_verdict_json plus "vm",
 * "hypervisor", "host", "attestation" and "audit_index". A deny is an
 * answer (0), not an error; bad input is EINVAL naming the field and an
 * unknown VM or target ENOTFOUND.
 * When a VM an LI involves needs a fresh quote and ctl->wait lets
 * attestation defer (ctl_attest_ensure_fresh), the decision, placement and
 * k8s filter alike return 0 with *out NULL and record nothing: the
 * transport dispatches the request again when the quotes arrived or the
 * bound passed. */
int ctl_model_decide_migration(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                               json_t **out, lisec_err *err);
/* Placement of a new VM: body is the VM in the topology format ("hypervisor"
 * or "host" naming the target). */
int ctl_model_decide_placement(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body,
                               json_t **out, lisec_err *err);
/* Every current violation, recorded (compliance.read, "N violations" of
 * what the reader was shown). The LI rows (ctl_model_compliance_hide_li)
 * are shown in full to li-admin only and left out for every other role,
 * whose report always reads "redacted": true; the RD rows likewise to
 * rd-admin only. */
int ctl_model_compliance(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err);
/* The same report without its audit record (the ADMF records its reading
 * on a schedule, ctl/tasks.c). */
int ctl_model_compliance_read(lisec_ctl *ctl, json_t **out, lisec_err *err);
/* Takes the Retained Data rows and their counts out of a compliance report,
 * for every reader but the RD administration (the LI administration and the
 * ADMF's records included: neither administration reads the other's). */
void ctl_model_compliance_hide_rd(json_t *report);
/* Takes the LI rows (the LI rules', and those about an LI or a paired LI
 * VM) and their counts out of a compliance report, for every reader but
 * the LI administration; "compliant" then says what the rows left say. */
void ctl_model_compliance_hide_li(json_t *report);
/* The kube-scheduler extender's filter: args is an ExtenderArgs object, *out
 * an ExtenderFilterResult. EINVAL (with the reason) for malformed args. */
int ctl_model_k8s_filter(lisec_ctl *ctl, const ctl_actor *actor, const json_t *args,
                         json_t **out, lisec_err *err);

/* What the admission webhook refuses a pod for (docs/model.md): it names no
 * VM of the model, or an UPDATE (of the pod or through a subresource)
 * changes the VM it names, or a binding would set it; the node it is
 * created on fails the filter; no node is set and it names a scheduler
 * other than [k8s] scheduler_name. */
#define CTL_MODEL_REQ_K8S_VM "TR103308-6.2-K8S-VM"
#define CTL_MODEL_REQ_K8S_NODE "TR103308-6.2-K8S-NODE"
#define CTL_MODEL_REQ_K8S_SCHEDULER "TR103308-6.2-K8S-SCHEDULER"
/* A pod being created, as the webhook read it (ctl/k8s_admit.h). */
typedef struct ctl_model_k8s_pod {
  const char *pod;       /* "namespace/name", for the record */
  const char *vm;        /* its lisec.io/vm annotation; NULL: none */
  const char *node;      /* spec.nodeName; NULL: not set */
  const char *scheduler; /* spec.schedulerName */
  bool dry_run;
  /* an UPDATE that changes lisec.io/vm (refused): old_vm, oldObject's (NULL: none) */
  bool vm_changed;
  const char *old_vm;
  const char *subresource; /* the UPDATE's (pods/status), for the message; NULL: none */
  /* a binding to node: one that carries lisec.io/vm (vm) is refused, since
   * the API server would merge it into the pod's annotations; one without
   * is judged for the VM the pod named when lisecd admitted it for lisec's
   * scheduler (ctl/model_k8s_pods.h), else allowed unrecorded */
  bool binding;
  /* the pod's metadata.uid (a binding's: of the pod it binds); NULL: none.
   * named: the pod has a name of its own (not generateName alone) */
  const char *pod_uid;
  bool named;
} ctl_model_k8s_pod;
/* The admission webhook's judgement of a pod's creation, recorded
 * (decision.k8s.admit, sealed as the filter's record is): *out {"allowed",
 * "message" (a refusal's begins with its requirement id; the filter's
 * reason for a node), "audit_index"}. A refusal is an answer (0). While
 * fresh quotes are awaited, 0 with *out NULL and nothing recorded. A pod
 * admitted for lisec's scheduler is remembered with its VM until its
 * binding; a pod's node (nodeName, a binding's target) that is allowed as
 * a move of the VM to another host is remembered as an allowed migration
 * (model.moving, not for a dry run); a binding of a pod not remembered is
 * allowed unrecorded ("audit_index" -1). */
int ctl_model_k8s_admit(lisec_ctl *ctl, const ctl_actor *actor, const ctl_model_k8s_pod *pod,
                        json_t **out, lisec_err *err);

/* ---- observation (issue 15): where a VM runs is what its host proved ---- */

/* One domain of an attested inventory, as ctl/attest.c hands it over
 * (strings borrowed for the call). */
typedef struct ctl_observed_domain {
  const char *uuid;         /* libvirt UUID */
  const char *vm;           /* lisec VM id, or NULL when the domain carries none */
  const char *package;      /* or NULL */
  const char *state;        /* "running" "paused" "shutoff" "crashed" "other" */
  const char *image_sha256; /* hex SHA-256 of the first file disk's base image, or NULL */
} ctl_observed_domain;

/* One host's attested inventory: replaces that host's previous one. */
typedef struct ctl_observation {
  const char *host;     /* the attested host id */
  int64_t quote_time;   /* when lisecd appraised the quote (unix s) */
  const char *evidence; /* a short reference to the quote: hex of the first 8 bytes of its SHA-256 */
  const ctl_observed_domain *domains;
  size_t n;
} ctl_observation;

/* Called by ctl/attest.c after a good appraisal whose quote binds an
 * inventory; records the observation, reconciles, records violations
 * (sealed when an LI is involved). Returns 0 or LISEC_E*. */
int ctl_model_observe(lisec_ctl *ctl, const ctl_actor *actor, const ctl_observation *obs,
                      lisec_err *err);
/* What ctl_model_observe reads for an observation besides it (each VM's
 * package images), read once for the document and the model. */
typedef struct ctl_model_obs_prep ctl_model_obs_prep;
void ctl_model_obs_prep_free(ctl_model_obs_prep *prep);
/* The document ctl_model_observe would store for obs, for a caller that
 * writes it with ctl_model_observe_put inside its own store transaction
 * (one commit per report) and then calls ctl_model_observe_stored with
 * *prep and stored true. ENOTFOUND when the host is not in the model (the
 * model refuses its observation: nothing is to be stored). *text is
 * malloc'd; *prep is for this obs only. *unchanged: the stored document
 * has this one's content but for its time and quote ("at", "evidence"),
 * and is less than [attest] grace_s older than obs: the caller need not
 * write it, and passes stored true all the same (docs/observed.md). */
int ctl_model_observe_doc(lisec_ctl *ctl, const ctl_observation *obs, ctl_model_obs_prep **prep,
                          char **text, bool *unchanged, lisec_err *err);
int ctl_model_observe_put(lisec_ctl *ctl, const char *host, const char *text, lisec_err *err);
/* The kind of that document, for a caller that writes it with its audit
 * record (ctl_record_docs). */
#define CTL_MODEL_OBS_KIND "model.observed"
/* ctl_model_observe; prep: ctl_model_observe_doc's for obs, or NULL;
 * stored: its document is stored already (and is deleted again when the
 * model refuses the observation). */
int ctl_model_observe_stored(lisec_ctl *ctl, const ctl_actor *actor, const ctl_observation *obs,
                             const ctl_model_obs_prep *prep, bool stored, lisec_err *err);

/* ---- hooks: what the topics above the model tell it ---------------------
 * The model is the lowest topic: attestation, LI, packages and X1 call it,
 * and it includes none of their headers (tests/integration/ctl_layers.sh).
 * What it needs from them, they register when they open (ctl/topics.c
 * opens the model first); a hook not registered fails closed. */

/* Attestation: whether host's trust is fresh enough for a decision (0), or
 * why not (in err, and in why without the requirement and host, for a
 * decision's note); *pending when the answer is deferred to a fresh quote
 * (see ctl_attest_ensure_fresh). expire turns overdue hosts untrusted
 * before a decision reads their trust. */
typedef int (*ctl_model_fresh_fn)(lisec_ctl *ctl, const char *host, int64_t max_age_s,
                                  bool *refreshed, bool *pending, char *why, size_t why_len,
                                  lisec_err *err);
typedef void (*ctl_model_expire_fn)(lisec_ctl *ctl);
void ctl_model_hook_attest(ctl_shared *sh, ctl_model_fresh_fn fresh, ctl_model_expire_fn expire);

/* X1: something an LI's compliance is judged from changed in the model:
 * a host's attested trust or location (ctl_model_host_attested: an
 * appraisal, the overdue timer, a de-enrolment), any write the model
 * committed (an operator's or MANO's put or removal of any kind, a host's
 * declared trust or location, a VM's arrival or termination, a
 * hypervisor's move), a VM's pairing, the model loaded again from the
 * store. Told whatever the change is, whether or not an LI is touched by
 * it, so the one told cannot tell the readers of its records which
 * (ctl/tasks.c, announce). Called with the model's lock held, right after
 * the change, so a reader that takes the lock after it also sees the
 * call's effect; it must take no lock but its own leaf locks. */
typedef void (*ctl_model_changed_fn)(ctl_shared *sh);
void ctl_model_hook_changed(ctl_shared *sh, ctl_model_changed_fn fn);

/* Findings another topic adds to the compliance report, counted under
 * rule: VMs whose image is not their package's (pkg), paired LI VMs not
 * running (li). They are added in this order whatever the order of opening. */
typedef enum {
  CTL_MODEL_FINDINGS_IMAGE,
  CTL_MODEL_FINDINGS_LI_LOCK,
  CTL_MODEL_FINDINGS_PKG_REVOKED, /* packages whose vendor signer is revoked, and their VMs (pkg) */
  CTL_MODEL_FINDINGS_CHASSIS,     /* hosts whose BMC telemetry raised a finding or voids the location (attest) */
  CTL_MODEL_FINDINGS_COUNT
} ctl_model_findings_slot;
typedef int (*ctl_model_findings_fn)(lisec_ctl *ctl, json_t *violations, lisec_err *err);
void ctl_model_hook_findings(ctl_shared *sh, ctl_model_findings_slot slot, const char *rule,
                             ctl_model_findings_fn fn);

/* LI: whether vm is an LI VM whose end is the LI administration's (its LI
 * function is registered and not retired): *li_vm, and in what (state
 * name, for the sealed record). A termination is refused while this is
 * not registered, or fails (fail closed). */
typedef int (*ctl_model_li_vm_fn)(lisec_ctl *ctl, const char *vm, bool *li_vm, char state[16],
                                  lisec_err *err);
void ctl_model_hook_li_vm(ctl_shared *sh, ctl_model_li_vm_fn fn);

/* Targets: an LI authorisation was deleted (committed), so its targets'
 * data keys leave the keys process's cache (ctl/targets.c). */
typedef void (*ctl_model_li_ended_fn)(lisec_ctl *ctl, const char *li);
void ctl_model_hook_li_ended(ctl_shared *sh, ctl_model_li_ended_fn fn);

/* Packages: whether a VM may be instantiated from package (0), or why not
 * (EDENIED; requirement receives the id the refusal names, e.g. a retired
 * version or a revoked vendor signer). A placement whose VM names a
 * package (the request's "package", else the VM's document) asks it; with
 * no hook registered such a placement is denied (fail closed). */
typedef int (*ctl_model_instantiable_fn)(lisec_ctl *ctl, const char *package,
                                         char requirement[64], lisec_err *err);
void ctl_model_hook_instantiable(ctl_shared *sh, ctl_model_instantiable_fn fn);

/* Packages: the SHA-256 digests (lower-case hex, a JSON array of strings)
 * of package's images, which an observation holds each VM's running image
 * to; a new reference the caller drops, shared and never changed (ctl/pkg.c
 * keeps them per package until a package or a CRL is written), or NULL when
 * out of memory. A package lisec does not hold gives an empty array.
 * With no hook registered no image is judged. */
typedef json_t *(*ctl_model_pkg_images_fn)(lisec_ctl *ctl, const char *package);
void ctl_model_hook_pkg_images(ctl_shared *sh, ctl_model_pkg_images_fn fn);

/* Every VM of the model whose document names a package, as
 * [{"vm", "package", "li": bool (an LI involved), "image": observed base
 * image SHA-256 or null}] (the package topic counts a version's users and
 * lists the VMs of packages whose signer is revoked). */
/* The model under its lock, at the current time, for the topics that keep
 * state in it (ctl/rd.c: retention obligations); every call between the
 * two is serialised with the model's use cases. NULL without a model. */
model *ctl_model_lock(ctl_shared *sh);
void ctl_model_unlock(ctl_shared *sh);

/* The store failed over under this leader and the lock was taken back
 * (ctl/ha.c): a write whose commit was in doubt (its client was told it
 * failed) may be stored after all, so the model is loaded again from the
 * store before its next use case reads it. */
void ctl_model_mark_stale(ctl_shared *sh);

/* The VMs whose documents name a package: [{"vm", "package", "li": declared
 * an LI VM (never because an LI names it), "image": the digest observed
 * when one host reports it}]. */
int ctl_model_packaged_vms(ctl_shared *sh, json_t **out, lisec_err *err);

#endif
