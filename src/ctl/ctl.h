/* ctl/ is the controller: one function per use case, the only floor that
 * calls more than one domain module and the store. State that all API
 * workers share (configuration, start time, keys, the audit appender, each
 * topic's state) lives in ctl_shared (ctl/internal.h); each worker thread
 * has its own lisec_ctl with its own store handle, because store handles
 * are single-threaded. A topic adds its use cases as src/ctl/<topic>.c with
 * its own header src/ctl/<topic>.h. */
#ifndef LISEC_CTL_H
#define LISEC_CTL_H

#include <jansson.h>

#include "base/base.h"
#include "store/store.h"

/* The roles the controller tells apart. The API maps its principal to one
 * (api/roles.c); use cases compare these, never role strings. */
typedef enum ctl_role {
  CTL_ROLE_UNSET = 0, /* not given: ctl_actor_role reads it from the role string */
  CTL_ROLE_NONE,      /* no known role: admitted nowhere */
  CTL_ROLE_OPERATOR,
  CTL_ROLE_LI_ADMIN,
  CTL_ROLE_HV_ADMIN, /* "hypervisor-admin" */
  CTL_ROLE_HOST,
  CTL_ROLE_MANO,
  CTL_ROLE_AUDITOR,
  CTL_ROLE_TENANT,     /* "tenant:<name>"; the name is in the role string */
  CTL_ROLE_CONTROLLER, /* lisecd itself: its timers and loops */
  CTL_ROLE_VM,         /* an LI VM sending its signed events (ctl/events.h) */
  CTL_ROLE_RD_ADMIN,   /* "rd-admin": the RD administration (issue 20) */
} ctl_role;

/* Who asks: the certificate subject and the role it carries. */
typedef struct ctl_actor {
  const char *subject; /* certificate subject CN */
  const char *role;    /* operator, li-admin, hypervisor-admin, host, mano, auditor, tenant:<name> */
  ctl_role kind;       /* the role, typed; UNSET: read from role */
} ctl_actor;

/* The typed role of a role string ("tenant:<name>" is TENANT; NONE for an
 * unknown one or NULL). The API's own check of tenant names stays the API's. */
ctl_role ctl_role_parse(const char *role);
/* The actor's typed role: kind, or (UNSET) its role string parsed. */
ctl_role ctl_actor_role(const ctl_actor *actor);

typedef struct ctl_shared ctl_shared;
/* The keys process's client (keys/keys.h): the controller holds no key. */
typedef struct keys_client keys_client;
/* The client certificate of the request being served: lower-case hex
 * SHA-256 of its DER, serial in hex, issuer (RFC 2253). A host's
 * de-enrolment revokes certificates by these (ctl/hosts_end.h). */
typedef struct ctl_peer_cert {
  const char *sha256, *serial, *issuer;
} ctl_peer_cert;
typedef struct lisec_ctl {
  ctl_shared *shared;
  lisec_store *store;
  bool owns_shared; /* opened by ctl_open (not ctl_open_worker): frees shared */
  struct ctl_attest_wait *wait; /* the request's wait for fresh quotes (ctl/attest.h); may be NULL */
  const ctl_peer_cert *peer;    /* the request's client certificate (api/router.c sets it around
                                   each dispatch); NULL for lisecd's own work */
} lisec_ctl;

/* Opens the controller from the configuration: the state every worker
 * shares ([store] url, default sqlite:/var/lib/lisec/lisec.db, the start
 * time, the vault's KEK, the LI administration's key) and this context's own
 * store connection, so an unreachable store fails here with its reason. */
/* keys is borrowed and outlives ctl; NULL means no keys process (vault,
 * checkpoint signing and LI VM keys are unavailable). */
int ctl_open(const lisec_config *cfg, keys_client *keys, lisec_ctl **out, lisec_err *err);
/* lisecd --check-config (settings.c): every controller number and switch
 * out of bounds, each told to report; returns how many. Opens nothing. */
int ctl_settings_check(const lisec_config *cfg, void (*report)(void *ctx, const char *msg), void *ctx);
/* The same for what [attest] names (ctl/attest.c), with the code the
 * start loads it with: quarantine_command (at most 32 words, its program
 * an executable file), reference_file, location_ca and ek_ca (each read
 * and parsed). Each of the three files left unset is told to note (may be
 * NULL) with what the start warns of it; that is not a problem. */
int ctl_attest_config_check(const lisec_config *cfg, void (*report)(void *ctx, const char *msg),
                            void (*note)(void *ctx, const char *msg), void *ctx);
/* The same for [vault] rotation_chunk, rotation_rate and rotation_nice
 * (vault_rotation.c, where their bounds are). */
int ctl_vault_rotation_check(const lisec_config *cfg, void (*report)(void *ctx, const char *msg), void *ctx);
/* A context for another thread: the same shared state, its own store
 * connection. Close every worker context before the one it came from. */
int ctl_open_worker(lisec_ctl *parent, lisec_ctl **out, lisec_err *err);
/* Starts the controller's background work on its own threads (the X1
 * loop, the attestation timer, checkpoints), never on a request's loop.
 * Called once, after ctl_open and before serving; ctl_stop stops it again
 * (idempotent) and comes before ctl_close. A process that only checks its
 * configuration opens and closes without starting. */
int ctl_start(lisec_ctl *ctl, lisec_err *err);
void ctl_stop(lisec_ctl *ctl);
/* Closes the store connection (and the shared state for a ctl_open context;
 * it stops what ctl_start started when ctl_stop was not called). */
void ctl_close(lisec_ctl *ctl);

/* One auditable event of a use case. */
typedef struct ctl_event {
  const char *action;  /* "target.add", "decision.migration", ... */
  const char *subject; /* the entity acted on, e.g. "target t-1" */
  const char *outcome; /* "ok", "denied", "failed" */
  const char *reason;  /* why (a refusal names its requirement); may be NULL */
  bool li;             /* about LI: sealed so only the LI administration reads it */
} ctl_event;

/* Appends the event to the audit log and returns once it is durable. A use
 * case records before it makes its change and refuses when recording fails
 * (TR 103 308 §5.5, O.1.4); when the change fails after the record, it
 * records that too (outcome "failed"). *index (may be NULL) gets its log
 * position. Use cases go through ctl_audit, which applies the rule below. */
int ctl_record(lisec_ctl *ctl, const ctl_actor *actor, const ctl_event *ev, uint64_t *index,
               lisec_err *err);

struct ctl_auditlog_doc;
/* ctl_record with the documents the act writes (ctl_auditlog_append_docs):
 * the record and the documents are durable in one transaction, or neither
 * is and the use case refuses. When it returns 0 each document's rc says
 * whether it was written (ECONFLICT: not at its expected version; the
 * record stands as the write-ahead record of an act that then failed, and
 * the use case decides again or records the failure). */
int ctl_record_docs(lisec_ctl *ctl, const ctl_actor *actor, const ctl_event *ev, struct ctl_auditlog_doc *docs,
                    size_t n_docs, uint64_t *index, lisec_err *err);

/* What became of a request, as the audit log records it. */
typedef enum ctl_outcome {
  CTL_OUTCOME_OK,      /* "ok": recorded before the change is made */
  CTL_OUTCOME_DENIED,  /* "denied": refused, the actor may not (role, signature, certificate) */
  CTL_OUTCOME_REFUSED, /* "refused": refused, the request breaks a rule (a conflict, a reference) */
  CTL_OUTCOME_FAILED,  /* "failed": the change failed after its record */
} ctl_outcome;
const char *ctl_outcome_name(ctl_outcome o);

/* Audit-then-act, the one rule of every use case (docs/design.md, "The
 * controller"); the subject is subject_fmt's printf expansion.
 * rc == 0 (OK, or another outcome as an event or verdict that is the
 *   answer, such as a decision that says no): records before acting or
 *   answering and returns 0 once durable; otherwise the recording error,
 *   and the use case must neither act nor answer.
 * DENIED, REFUSED with rc != 0: rc and err are the refusal; it is recorded
 *   (reason, or err's message when reason is NULL) and rc is returned. A
 *   refusal that cannot be recorded is still refused (fail closed): rc is
 *   returned, the log says so, and so does err's message (that it could
 *   not be recorded and why) unless the record is about LI and the actor
 *   is not the LI administration, who must not learn that it was.
 * FAILED: rc and err are the failure of a change already recorded; it is
 *   recorded too, rc and err are returned unchanged, and a failure that
 *   cannot be recorded is logged.
 * li seals the record to the LI administration; *index (may be NULL) gets
 * the record's position. */
int ctl_audit(lisec_ctl *ctl, const ctl_actor *actor, ctl_outcome outcome, const char *action,
              bool li, const char *reason, int rc, uint64_t *index, lisec_err *err,
              const char *subject_fmt, ...) __attribute__((format(printf, 10, 11)));

/* ctl_audit for an event about Retained Data: sealed to the RD
 * administration ([audit] rd_seal_key), so neither the LI administration
 * nor any other role reads it; the same audit-then-act rule, and a refusal
 * that cannot be recorded is told only to the RD administration. */
int ctl_audit_rd(lisec_ctl *ctl, const ctl_actor *actor, ctl_outcome outcome, const char *action,
                 const char *reason, int rc, uint64_t *index, lisec_err *err,
                 const char *subject_fmt, ...) __attribute__((format(printf, 9, 10)));

/* GET /v1/status: {"version", "store": {"backend", "schema_version"},
 * "started_at", "uptime_seconds"}. */
int ctl_status(lisec_ctl *ctl, json_t **out, lisec_err *err);
/* Seconds since ctl_open of the context's shared state, by the monotonic
 * clock. */
int64_t ctl_uptime_seconds(const lisec_ctl *ctl);
/* GET /healthz: 0 when the store answers. */
int ctl_health(lisec_ctl *ctl, lisec_err *err);

#endif
