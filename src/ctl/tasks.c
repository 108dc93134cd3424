/* The ADMF loop (see ctl/tasks.h): network elements and tasks in the store,
 * one reconciliation at a time (a process-wide lock), X1 clients kept open
 * between reconciliations (keep-alive), and a background thread that
 * reconciles every NE at its own interval. The lock serialises everything
 * that writes a task, so a task document is only ever changed by the one
 * reconciliation that holds it. A reconciliation lets the lock go while it
 * waits for an NE's answer (one reconciliation still runs at a time), so
 * that a silent NE holds up no emergency stop or registration of another;
 * when another took the lock meanwhile, the pass keeps what it sent unless
 * the other changed that task too, and ends there; the next starts afresh.
 * An NE whose answers are slow has a time budget per pass (out_of_time),
 * so it holds up no other NE's sends either.
 * Each NE's exchanges are serialised by a lock of its own. An NE's reports
 * take neither lock: admitted at the NE's rate (ctl/x1_reports.h), each is
 * recorded when it comes, and the issue a ReportTaskIssue shows on its task
 * is written by the loop before its next pass, so no NE can end passes by
 * reporting. After the trust model changed (a host's trust, any write to
 * the model) and at start, a pass names every send it makes in one sealed
 * record before any goes out (announce), so the log reads alike whether or
 * not an LI's tasks changed with it. Fail closed: a model
 * that cannot answer, an LI not in the model, a record that cannot be
 * written, all mean no task is sent or kept. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef LISEC_TEST_HOOKS
#include <unistd.h>
#endif

#include "audit/audit.h"
#include "crypto/crypto.h"
#include "ctl/attest.h"
#include "ctl/clock.h"
#include "ctl/counters.h"
#include "ctl/ha.h"
#include "ctl/internal.h"
#include "ctl/model.h"
#include "ctl/tasks.h"
#include "ctl/x1_admf.h"
#include "ctl/x1_reports.h"
#include "ctl/x1_status.h"
#include "ctl/x1_unknown.h"
#include "model/model.h"
#include "vault/vault.h"
#include "x1/x1.h"

#define NE_KIND "x1.ne"
#define TASK_KIND "x1.task"
#define TARGET_KIND "target"
#define PATH_MAX_LEN 512
#define URL_MAX_LEN 512
#define REASON_MAX 480
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 60000
#define LI_HOST_TTL_MS 60000
#define MAX_CLIENTS 256
#define MAX_TRIED_REMOVALS 16 /* unregistered destinations asked away per registration */
/* the oldest X1 version an NE may be configured with: the lower bound of
 * the NE library's default range (src/x1/ne.c), lisec's other side */
#define X1_VERSION_MIN "v1.13.1"

/* ---- the topic's state (ctl_shared's x1 slot) --------------------------- */

typedef struct admf_client {
  char ne[X1_ID_MAX + 1];
  char *config; /* the NE document the client was made from */
  ctl_x1_client *c;
  int64_t next_check_ms; /* monotonic, as next_keepalive_ms */
  bool changed; /* registered anew since the last reconciliation */
  bool dests_ready; /* the NE holds the destinations lisec creates on it */
  /* their creation is named in an announcement (announce): the records
   * destination_ensure writes before each send are not written again */
  bool dests_announced;
  int64_t next_keepalive_ms;
  /* DIDs the NE holds that its registration does not name, asked away
   * (RemoveDestination) once per registration: a refusal is shown in the
   * NE's status, not repeated every pass */
  char tried[MAX_TRIED_REMOVALS][X1_UUID_LEN + 1];
  size_t n_tried;
  /* XIDs it lists that no task of lisec's names, asked away with backoff
   * (deactivate_unknown); made at the first, used under passing only */
  ctl_x1_unknown *unknown;
  /* one exchange with this NE at a time; taken after the loop's lock,
   * never the other way round (exchange) */
  pthread_mutex_t talk;
  struct ctl_x1_state *owner;
  uint64_t silent_pass; /* the pass in which it gave no answer */
  /* the time its exchanges took in pass spent_pass, in its check and in
   * its tasks' steps (x1_phase): past [x1] request_timeout_ms in one, it
   * is asked nothing more in that part of the pass (out_of_time) */
  uint64_t spent_pass;
  int64_t spent_ms[2];
} admf_client;

/* The two parts of a pass, each with its own time budget per NE: checking
 * every NE (Ping, ListAllDetails, Keepalive, what the list calls for), then
 * each task's step. */
typedef enum { X1_PHASE_CHECK, X1_PHASE_STEP } x1_phase;

/* Opened with the controller, the loop's thread started by ctl_start and
 * stopped by ctl_stop (ctl/topics.c), so that no request starts it and no
 * other topic has to stop it. */
struct ctl_x1_state {
  pthread_mutex_t passing; /* one reconciliation at a time, taken before cycle */
  pthread_mutex_t cycle;   /* what writes a task or an NE (cycle_lock) */
  uint64_t cycle_gen;    /* counts the takings of cycle */
  uint64_t pass;         /* counts reconciliations */
  bool interrupted;      /* another took cycle while this pass waited for an NE */
  x1_phase phase;        /* the part of the pass now running */
  bool deferred;         /* a task was left for the next pass: out of its NE's time */
  long timeout_ms, connect_timeout_ms; /* [x1] request_timeout_ms, connect_timeout_ms */
  pthread_mutex_t wake_lock;
  pthread_cond_t wake;
  bool started, stop, woken;
  pthread_t thread;
  lisec_ctl *ctl; /* the thread's own context */
  admf_client clients[MAX_CLIENTS];
  size_t n_clients;
  json_t *li_hosts; /* li -> {"doc": the LI in the model, "until_ms"} */
  /* the ADMF's compliance.read: recorded once per [x1] compliance_record_s,
   * at the first reading from compliance_due_ms (monotonic; 0: the next) */
  int64_t compliance_every_ms, compliance_due_ms;
  ctl_x1_status *status; /* each NE's X1 state (ctl/x1_status.h) */
  ctl_x1_reports *reports; /* NEs' reports admitted, task issues queued (ctl/x1_reports.h) */
  int64_t report_rate, report_burst; /* [x1] report_rate_per_ne, report_burst_per_ne */
  int64_t unknown_backoff_max_ms; /* [x1] unknown_xid_backoff_max_s */
  /* Changes of the trust model (model_changed, under wake_lock): counted
   * by the model's hook and at each start (ctl_x1_start), and how many a
   * pass has announced its steps for (written under cycle); when the first
   * not yet announced and the last came (monotonic ms; 0: none waits), so
   * that a burst settles into one announcement (settle_left) */
  uint64_t changes, changes_done;
  int64_t change_first_ms, change_last_ms;
  int64_t announced_ms; /* when the last changes were announced (monotonic; under cycle) */
  int64_t announce_quiet_ms, announce_settle_max_ms; /* [x1] the same: how a burst settles */
  bool asked; /* this pass is li-admin's (ctl_tasks_reconcile): it does not wait to settle */
  /* task key -> the action ("x1.deactivate", ...) an announcement named
   * and no step has sent yet; kept from pass to pass (under cycle) */
  json_t *announced;
  /* this pass announces its steps: a step it did not name is not sent */
  bool announcing;
};

static const ctl_actor ADMF_ACTOR = {"lisecd/admf", "li-admin", CTL_ROLE_LI_ADMIN};

/* The reconciliation this thread runs, if any: its exchanges let cycle go. */
static __thread struct ctl_x1_state *reconciling;

static void cycle_lock(struct ctl_x1_state *admf) {
  pthread_mutex_lock(&admf->cycle);
  admf->cycle_gen++;
}

static void wake_loop(struct ctl_x1_state *admf) {
  pthread_mutex_lock(&admf->wake_lock);
  admf->woken = true;
  pthread_cond_signal(&admf->wake);
  pthread_mutex_unlock(&admf->wake_lock);
}

/* ---- small helpers ------------------------------------------------------ */

static bool is_li_admin(const ctl_actor *a) { return ctl_actor_role(a) == CTL_ROLE_LI_ADMIN; }

static int need_li_admin(lisec_ctl *ctl, const ctl_actor *a, const char *action, lisec_err *err) {
  if (is_li_admin(a)) return 0;
  lisec_err_set(err, LISEC_EDENIED, "TR103308-5.2: X1 tasks are for the li-admin role only");
  return ctl_audit(ctl, a, CTL_OUTCOME_DENIED, action, true, "TR103308-5.2: only the LI administration",
                   LISEC_EDENIED, NULL, err, "x1");
}

/* An NE or ADMF id: lisec's one id rule, within X1's 64 bytes. */
static int x1_id_check(const char *field, const char *s, lisec_err *err) {
  size_t n = s ? strnlen(s, X1_ID_MAX + 1) : 0;
  if (n > X1_ID_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "%s: X1 identifiers are 1 to %d bytes; an id is " LISEC_ID_RULE,
                         field, X1_ID_MAX);
  return lisec_id_check(field, s, n, err);
}

static bool uuid_ok(const char *s) {
  if (strlen(s) != X1_UUID_LEN) return false;
  for (int i = 0; i < X1_UUID_LEN; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = s[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

static const char *jstr(const json_t *o, const char *k) {
  const char *v = json_string_value(json_object_get(o, k));
  return v ? v : "";
}

static int64_t jint(const json_t *o, const char *k) {
  return (int64_t)json_integer_value(json_object_get(o, k));
}

static void set_str(json_t *o, const char *k, const char *v) {
  json_object_set_new(o, k, json_string(v ? v : ""));
}

static void set_int(json_t *o, const char *k, int64_t v) { json_object_set_new(o, k, json_integer(v)); }

static int put_doc(lisec_ctl *ctl, const char *kind, const char *id, json_t *doc, lisec_err *err) {
  char now[32];
  lisec_time_format(lisec_time_now(), now);
  set_str(doc, "updated", now);
  char *text = lisec_json_dump_canonical(doc);
  if (!text) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = store_doc_put(ctl->store, kind, id, text, -1, NULL, err);
  free(text);
  return rc;
}

typedef struct collect_ctx {
  json_t *obj;
  bool sealed; /* documents are sealed targets: keep metadata only */
} collect_ctx;

static int collect(void *ctx, const char *id, const char *body, int64_t version) {
  (void)version;
  collect_ctx *c = ctx;
  json_t *j = NULL;
  if (c->sealed) {
    vault_sealed s;
    if (vault_sealed_parse_as(id, body, strlen(body), &s, NULL) != 0) return 0; /* the vault reports it */
    j = json_pack("{s:s, s:I}", "authorisation", s.authorisation, "version", (json_int_t)s.version);
    vault_sealed_free(&s);
  } else if (lisec_json_parse(body, strlen(body), &j, NULL) != 0) {
    return 0;
  }
  return j && json_object_set_new(c->obj, id, j) == 0 ? 0 : LISEC_ENOMEM;
}

static int load_all(lisec_ctl *ctl, const char *kind, bool sealed, json_t **out, lisec_err *err) {
  collect_ctx c = {json_object(), sealed};
  int rc = store_doc_list(ctl->store, kind, collect, &c, err);
  if (rc) {
    json_decref(c.obj);
    return rc;
  }
  *out = c.obj;
  return 0;
}

static void task_key(char *out, size_t cap, const char *target, const char *ne) {
  /* '|' is in neither a target id (vault/) nor an NE id (X1 identifier) */
  snprintf(out, cap, "%s|%s", target, ne);
}

/* ---- network elements --------------------------------------------------- */

static int get_path(const json_t *body, const char *key, const char **out, lisec_err *err) {
  int rc = lisec_json_get_str(body, key, true, PATH_MAX_LEN, out, err);
  if (!rc && (*out)[0] != '/') rc = lisec_err_set(err, LISEC_EINVAL, "field \"%s\" must be an absolute path", key);
  return rc;
}

/* A registered destination as X1 carries it (TS 103 221-1 clause 6.3.1.2). */
static void dest_of(const json_t *j, x1_destination *d) {
  memset(d, 0, sizeof *d);
  snprintf(d->did, sizeof d->did, "%s", jstr(j, "did"));
  snprintf(d->friendly, sizeof d->friendly, "%s", jstr(j, "name"));
  snprintf(d->delivery, sizeof d->delivery, "%s", jstr(j, "delivery"));
  snprintf(d->address_kind, sizeof d->address_kind, "ip");
  snprintf(d->address, sizeof d->address, "%s", jstr(j, "address"));
  d->port = (int)jint(j, "port");
  d->udp = strcmp(jstr(j, "transport"), "udp") == 0;
}

static bool has_str(const json_t *arr, const char *s) {
  size_t i;
  const json_t *v;
  json_array_foreach(arr, i, v) {
    if (strcmp(json_string_value(v), s) == 0) return true;
  }
  return false;
}

/* The NE's "destinations" (lisec creates them on the NE before any task
 * names them): each {"did"?, "address", "port", "transport"?, "delivery"?,
 * "name"?}, checked here as the CreateDestination that carries it is
 * checked against the schema, so a registration lisec could not send is
 * refused now, not at the first task. Their DIDs join *dids. */
static int destinations_parse(const json_t *given, json_t *dests, json_t *dids, lisec_err *err) {
  if (!json_is_array(given) || json_array_size(given) == 0)
    return lisec_err_set(err, LISEC_EINVAL, "field \"destinations\": 1 to %d delivery destinations",
                         X1_MAX_DIDS);
  size_t i;
  const json_t *g;
  json_array_foreach(given, i, g) {
    const char *did = NULL, *address = NULL, *transport = NULL, *delivery = NULL, *name = NULL;
    int64_t port = 0;
    char fresh[X1_UUID_LEN + 1];
    int rc = json_is_object(g) ? 0 : lisec_err_set(err, LISEC_EINVAL, "destinations[%zu]: an object", i);
    if (!rc && ((rc = lisec_json_get_str(g, "did", false, X1_UUID_LEN, &did, err)) ||
                (rc = lisec_json_get_str(g, "address", true, 45, &address, err)) ||
                (rc = lisec_json_get_int(g, "port", true, 1, 65535, &port, err)) ||
                (rc = lisec_json_get_str(g, "transport", false, 3, &transport, err)) ||
                (rc = lisec_json_get_str(g, "delivery", false, 7, &delivery, err)) ||
                (rc = lisec_json_get_str(g, "name", false, X1_VALUE_MAX, &name, err))))
      rc = lisec_err_wrap(err, "destinations[%zu]", i);
    if (rc) return rc;
    /* an absent optional field reads as NULL: its default */
    transport = transport ? transport : "tcp";
    delivery = delivery ? delivery : "X2andX3";
    name = name ? name : "";
    if (!did && (rc = x1_uuid(fresh, err))) return rc;
    if (!did) did = fresh;
    if (!uuid_ok(did)) return lisec_err_set(err, LISEC_EINVAL, "destinations[%zu].did: a lower-case UUID", i);
    if (has_str(dids, did))
      return lisec_err_set(err, LISEC_EINVAL, "destinations[%zu].did: %s is named twice", i, did);
    if (strcmp(transport, "tcp") != 0 && strcmp(transport, "udp") != 0)
      return lisec_err_set(err, LISEC_EINVAL, "destinations[%zu].transport: tcp or udp", i);
    if (strcmp(delivery, "X2Only") != 0 && strcmp(delivery, "X3Only") != 0 && strcmp(delivery, "X2andX3") != 0)
      return lisec_err_set(err, LISEC_EINVAL, "destinations[%zu].delivery: X2Only, X3Only or X2andX3", i);
    json_t *d = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "did", did, "address", address, "port",
                          (json_int_t)port, "transport", transport, "delivery", delivery, "name", name);
    if (!d) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    x1_request cd = {.type = X1_CREATE_DESTINATION};
    dest_of(d, &cd.dest);
    char *xml = NULL;
    size_t len = 0;
    if (!(rc = x1_header_init(&cd.h, "lisec-admf", "ne", err)) && !(rc = x1_request_build(&cd, &xml, &len, err)))
      free(xml);
    if (rc) {
      json_decref(d);
      return lisec_err_wrap(err, "destinations[%zu]: TS 103 221-1 clause 6.3.1.2 (an IPv4 or IPv6 address)", i);
    }
    json_array_append_new(dests, d);
    json_array_append_new(dids, json_string(did));
  }
  if (json_array_size(dids) > X1_MAX_DIDS)
    return lisec_err_set(err, LISEC_EINVAL, "fields \"dids\" and \"destinations\": at most %d destinations a task",
                         X1_MAX_DIDS);
  return 0;
}

int ctl_x1_ne_put(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                  lisec_err *err) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  int rc = need_li_admin(ctl, actor, "x1.ne.put", err);
  if (rc) return rc;
  const char *id, *url, *vm, *cert, *key, *ca, *admf_id = NULL, *report_cn = NULL, *version = NULL;
  int64_t check_ms = CTL_X1_CHECK_MS_DEFAULT;
  /* ids unbounded here: x1_id_check bounds them and names the id rule */
  if ((rc = lisec_json_get_str(body, "id", true, SIZE_MAX, &id, err)) ||
      (rc = lisec_json_get_str(body, "url", true, URL_MAX_LEN, &url, err)) ||
      (rc = lisec_json_get_str(body, "vm", true, VAULT_ID_MAX, &vm, err)) ||
      (rc = get_path(body, "cert", &cert, err)) || (rc = get_path(body, "key", &key, err)) ||
      (rc = get_path(body, "ca", &ca, err)) ||
      (rc = lisec_json_get_str(body, "admf_id", false, SIZE_MAX, &admf_id, err)) ||
      (rc = lisec_json_get_str(body, "report_cn", false, 255, &report_cn, err)) ||
      (rc = lisec_json_get_str(body, "x1_version", false, 15, &version, err)))
    return rc;
  /* lisec builds the messages of the schema it carries: it can speak that
   * version or an older one the NE names, never a newer one */
  if (version && !x1_version_within(version, X1_VERSION_MIN, X1_VERSION))
    return lisec_err_set(err, LISEC_EINVAL,
                         "field \"x1_version\": an X1 version v1.N.M from %s to %s (TS 103 221-1 clause 5.2)",
                         X1_VERSION_MIN, X1_VERSION);
  if (json_object_get(body, "check_ms") &&
      (rc = lisec_json_get_int(body, "check_ms", true, 100, 3600 * 1000, &check_ms, err)))
    return rc;
  int64_t keepalive_ms = CTL_X1_KEEPALIVE_MS_DEFAULT;
  if (json_object_get(body, "keepalive_ms") &&
      (rc = lisec_json_get_int(body, "keepalive_ms", true, 0, 3600 * 1000, &keepalive_ms, err)))
    return rc;
  if (keepalive_ms > 0 && keepalive_ms < 100)
    return lisec_err_set(err, LISEC_EINVAL, "field \"keepalive_ms\": 0 (none) or 100 ms to 1 h");
  if ((rc = x1_id_check("id", id, err)) || (admf_id && (rc = x1_id_check("admf_id", admf_id, err))) ||
      (rc = lisec_id_check("vm", vm, strlen(vm), err)))
    return rc;
  if (strncmp(url, "https://", 8) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "field \"url\": X1 goes over HTTPS with mutual TLS (https://...)");
  json_t *dids = json_array(), *dests = json_array();
  const json_t *given = json_object_get(body, "dids");
  if (given) {
    size_t i;
    const json_t *d;
    if (!json_is_array(given) || json_array_size(given) == 0 || json_array_size(given) > X1_MAX_DIDS)
      rc = lisec_err_set(err, LISEC_EINVAL, "field \"dids\": 1 to %d delivery destination UUIDs", X1_MAX_DIDS);
    json_array_foreach(given, i, d) {
      if (rc) break;
      if (!json_is_string(d) || !uuid_ok(json_string_value(d)))
        rc = lisec_err_set(err, LISEC_EINVAL, "dids[%zu]: a lower-case UUID", i);
      else json_array_append(dids, (json_t *)d);
    }
  }
  /* a real NE refuses a task naming a destination it does not hold: the
   * NE's destinations are registered with it, and lisec creates them */
  if (!rc && json_object_get(body, "destinations"))
    rc = destinations_parse(json_object_get(body, "destinations"), dests, dids, err);
  else if (!rc && !given)
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "field \"destinations\": the delivery destinations this NE sends to (TS 103 221-1 "
                       "clause 6.3: an NE takes no task without one), or \"dids\" of destinations it holds");
  if (rc) {
    json_decref(dids);
    json_decref(dests);
    return rc;
  }
  json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:s, s:s}", "id", id, "url", url,
                          "vm", vm, "cert", cert, "key", key, "ca", ca, "admf_id",
                          admf_id ? admf_id : "lisec-admf", "dids", dids, "destinations", dests, "check_ms",
                          (json_int_t)check_ms, "report_cn", report_cn ? report_cn : id,
                          "x1_version", version ? version : X1_VERSION);
  if (doc) json_object_set_new(doc, "keepalive_ms", json_integer(keepalive_ms));
  if (!doc) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  cycle_lock(admf);
  /* an emergency stop outlives a new registration: only resume lifts it */
  char *old_body = NULL;
  json_t *old = NULL;
  if (store_doc_get(ctl->store, NE_KIND, id, &old_body, NULL, NULL) == 0 &&
      lisec_json_parse(old_body, strlen(old_body), &old, NULL) == 0 && jstr(old, "stopped")[0])
    set_str(doc, "stopped", jstr(old, "stopped"));
  free(old_body);
  json_decref(old);
  rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "x1.ne.put", true, NULL, 0, NULL, err, "ne %s", id);
  if (!rc && (rc = put_doc(ctl, NE_KIND, id, doc, err)))
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "x1.ne.put", true, NULL, rc, NULL, err, "ne %s",
                   id);
  pthread_mutex_unlock(&admf->cycle);
  if (rc) {
    json_decref(doc);
    return rc;
  }
  *out = doc;
  wake_loop(admf);
  return 0;
}

int ctl_x1_ne_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  int rc = need_li_admin(ctl, actor, "x1.ne.list", err);
  json_t *all = NULL, *arr = json_array();
  if (!rc) rc = load_all(ctl, NE_KIND, false, &all, err);
  if (rc) {
    json_decref(arr);
    return rc;
  }
  const char *k;
  json_t *v;
  json_object_foreach(all, k, v) json_array_append(arr, v);
  json_decref(all);
  *out = json_pack("{s:o}", "nes", arr);
  return 0;
}

int ctl_x1_ne_remove(lisec_ctl *ctl, const ctl_actor *actor, const char *id, lisec_err *err) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  int rc = need_li_admin(ctl, actor, "x1.ne.remove", err);
  if (rc) return rc;
  json_t *tasks = NULL;
  cycle_lock(admf);
  rc = load_all(ctl, TASK_KIND, false, &tasks, err);
  const char *k;
  json_t *t;
  json_object_foreach(tasks, k, t) {
    if (rc) break;
    if (strcmp(jstr(t, "ne"), id) == 0 && strcmp(jstr(t, "state"), "deactivated") != 0)
      rc = lisec_err_set(err, LISEC_ECONFLICT,
                         "ne %s still carries task %s (%s): remove its targets first", id,
                         jstr(t, "target"), jstr(t, "state"));
  }
  json_decref(tasks);
  if (!rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "x1.ne.remove", true, NULL, 0, NULL, err,
                          "ne %s", id);
  if (!rc && (rc = store_doc_delete(ctl->store, NE_KIND, id, err)))
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_FAILED, "x1.ne.remove", true, NULL, rc, NULL, err,
                   "ne %s", id);
  if (!rc) ctl_x1_status_forget(admf->status, id);
  pthread_mutex_unlock(&admf->cycle);
  return rc;
}

/* Task counts of one NE by state, from the store. */
static json_t *task_counts(lisec_ctl *ctl, const char *id, lisec_err *err) {
  json_t *tasks = NULL;
  if (load_all(ctl, TASK_KIND, false, &tasks, err) != 0) return NULL;
  json_t *counts = json_pack("{s:i, s:i, s:i, s:i}", "pending", 0, "active", 0, "failed", 0, "deactivated", 0);
  const char *k;
  json_t *t;
  json_object_foreach(tasks, k, t) {
    if (strcmp(jstr(t, "ne"), id) != 0) continue;
    const char *state = jstr(t, "state");
    json_t *n = json_object_get(counts, state);
    if (n) json_object_set_new(counts, state, json_integer(json_integer_value(n) + 1));
  }
  json_decref(tasks);
  return counts;
}

int ctl_x1_ne_status(lisec_ctl *ctl, const ctl_actor *actor, const char *id, json_t **out, lisec_err *err) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  int rc = need_li_admin(ctl, actor, "x1.ne.status", err);
  if (rc) return rc;
  char *body = NULL;
  json_t *ne = NULL;
  if ((rc = store_doc_get(ctl->store, NE_KIND, id, &body, NULL, err)) != 0) {
    if (rc == LISEC_ENOTFOUND) lisec_err_set(err, LISEC_ENOTFOUND, "ne %s is not registered", id);
    return rc;
  }
  rc = lisec_json_parse(body, strlen(body), &ne, err);
  free(body);
  json_t *counts = rc ? NULL : task_counts(ctl, id, err);
  if (!rc && !counts) rc = err->code ? err->code : LISEC_ENOMEM;
  /* reading an NE's state is an LI read: recorded, sealed */
  if (!rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "x1.ne.status", true, NULL, 0, NULL, err, "ne %s", id);
  if (rc) {
    json_decref(ne);
    json_decref(counts);
    return rc;
  }
  json_t *st = ctl_x1_status_get(admf->status, id, lisec_time_mono_ms());
  if (!st) {
    json_decref(ne);
    json_decref(counts);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  json_object_set_new(st, "tasks", counts);
  set_str(st, "x1_version", jstr(ne, "x1_version")[0] ? jstr(ne, "x1_version") : X1_VERSION);
  set_str(st, "stopped", jstr(ne, "stopped"));
  json_decref(ne);
  *out = st;
  return 0;
}

/* ---- the model: which NE carries an LI, and may it now ----------------- */

/* The LI as the model holds it ({"host", "valid_from", "valid_until"}),
 * cached for LI_HOST_TTL_MS by the monotonic clock (reading an LI is itself
 * recorded; a wall clock stepped back would keep a stale copy for the
 * step). NULL when the model has no such LI. */
static const json_t *li_doc(lisec_ctl *ctl, const char *li) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  if (!admf->li_hosts) admf->li_hosts = json_object();
  json_t *c = json_object_get(admf->li_hosts, li);
  if (c && jint(c, "until_ms") > lisec_time_mono_ms()) {
    json_t *got = json_object_get(c, "doc");
    return json_is_object(got) ? got : NULL;
  }
  json_t *doc = NULL;
  lisec_err err = {0};
  if (ctl_model_get(ctl, &ADMF_ACTOR, "li", li, &doc, &err) != 0) doc = NULL;
  json_object_set_new(admf->li_hosts, li,
                      json_pack("{s:o?, s:I}", "doc", doc, "until_ms",
                                (json_int_t)(lisec_time_mono_ms() + (doc ? LI_HOST_TTL_MS : 1000))));
  json_t *got = json_object_get(json_object_get(admf->li_hosts, li), "doc");
  return json_is_object(got) ? got : NULL;
}

static bool time_of(const json_t *v, int64_t *out) {
  if (json_is_integer(v)) return *out = (int64_t)json_integer_value(v), true;
  return json_is_string(v) && lisec_time_parse(json_string_value(v), out) == 0;
}

/* Reads the compliance report and records a compliance.read (sealed: it
 * names LIs) on a fixed schedule: the first reading after start, then the
 * first reading from each [x1] compliance_record_s on, whatever it says.
 * Recorded when it changed (issue 25), the record's presence told every
 * reader of the log's entries that the LI's state had changed, e.g. after
 * a host running a monitored VM lost its trust and not after its twin's
 * (review of 2026-12-06); recorded every pass (5 s) it was ~17,000
 * records a day. A reading due to be recorded that cannot be is not acted
 * on; the tasks it changes are recorded with their reasons (x1.*). */
static int compliance_read(lisec_ctl *ctl, json_t **report, lisec_err *err) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  int rc = ctl_model_compliance_read(ctl, report, err);
  if (rc) return rc;
  /* the record is sealed to the LI administration: no RD row, count or
   * change in RD state may show in it */
  ctl_model_compliance_hide_rd(*report);
  int64_t now = lisec_time_mono_ms();
  if (admf->compliance_due_ms && now < admf->compliance_due_ms) return 0;
  char reason[64];
  snprintf(reason, sizeof reason, "%zu violations", json_array_size(json_object_get(*report, "violations")));
  rc = ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, "compliance.read", true, reason, 0, NULL, err, "%s",
                 "platform");
  if (rc) {
    json_decref(*report);
    *report = NULL;
    return rc;
  }
  /* the next is due one period after this one was, not after this pass:
   * the schedule does not drift with the passes' timing */
  int64_t every = admf->compliance_every_ms;
  int64_t due = admf->compliance_due_ms ? admf->compliance_due_ms : now;
  admf->compliance_due_ms = due + ((now - due) / every + 1) * every;
  return 0;
}

/* Whether lisec may act for the LI now; *why says why not. *report caches
 * the platform's compliance report (read once per reconciliation, recorded
 * on compliance_read's schedule); the LI's violations are model_li_compliance's: its own,
 * and those on what carries its data (its groups, its LI VM's connections,
 * its storage path), which are about a group or a connection, not "li <id>". */
static bool li_may_act(lisec_ctl *ctl, const char *li, json_t **report, char *why, size_t cap) {
  const json_t *doc = li_doc(ctl, li);
  lisec_err err = {0};
  if (!doc) {
    snprintf(why, cap, "TR103308-5.2: LI %s is not in the trust model", li);
    return false;
  }
  size_t at = 0;
  bool active = false, allow = true;
  if (!*report && compliance_read(ctl, report, &err) != 0) {
    snprintf(why, cap, "TR103308-5.2: the trust model cannot answer for LI %s: %.200s", li, err.msg);
    return false;
  }
  model_verdict lv = {0};
  model *m = ctl_model_lock(ctl->shared);
  int rc = m ? model_li_compliance(m, li, &lv, &active, &err)
             : lisec_err_set(&err, LISEC_EUNAVAIL, "the trust model is not open");
  ctl_model_unlock(ctl->shared);
  if (rc) {
    snprintf(why, cap, "TR103308-5.2: the trust model cannot answer for LI %s: %.200s", li, err.msg);
    return false;
  }
  for (size_t i = 0; i < lv.n; i++) {
    allow = false;
    if (at < cap)
      at += (size_t)snprintf(why + at, cap - at, "%s%s: %s;", at ? " " : "", lv.reasons[i].requirement,
                             lv.reasons[i].sentence);
  }
  model_verdict_free(&lv);
  /* validity boundaries are judged by a proven clock only (ctl/clock.h) */
  int64_t from = 0, until = 0, now_ms = 0;
  lisec_err te = {0};
  if (ctl_clock_trusted_now(ctl->shared, "LI validity", &now_ms, &te)) {
    snprintf(why, cap, "%.400s", te.msg);
    return false;
  }
  int64_t now = now_ms / 1000;
  active = time_of(json_object_get(doc, "valid_from"), &from) &&
           time_of(json_object_get(doc, "valid_until"), &until) && from <= now && now < until;
  if (!active) snprintf(why, cap, "TR103308-6.2: LI %s is outside its validity period", li);
  else if (!allow && at == 0) snprintf(why, cap, "LI %s is not compliant", li);
  return active && allow;
}

/* ---- X1 ----------------------------------------------------------------- */

static admf_client *client_for(struct ctl_x1_state *admf, keys_client *keys, const json_t *ne, lisec_err *err) {
  const char *id = jstr(ne, "id");
  char *config = lisec_json_dump_canonical(ne);
  if (!config) return lisec_err_set(err, LISEC_ENOMEM, "out of memory"), NULL;
  admf_client *c = NULL;
  for (size_t i = 0; i < admf->n_clients; i++)
    if (strcmp(admf->clients[i].ne, id) == 0) c = &admf->clients[i];
  if (c && c->config && strcmp(c->config, config) == 0) {
    free(config);
    if (c->c) return c;
    /* This registration's client could not be opened (logged when it was
     * registered): try again each pass, quietly (its files may appear). */
    ctl_x1_peer peer = {jstr(ne, "url"), jstr(ne, "cert"), jstr(ne, "key"), jstr(ne, "ca"), keys,
                        admf->timeout_ms, admf->connect_timeout_ms};
    if (ctl_x1_client_open(&peer, &c->c, err) != 0) {
      c->c = NULL;
      return NULL;
    }
    LOG_INFO("X1: NE %s: its X1 client opens now", c->ne);
    return c;
  }
  if (!c) {
    if (admf->n_clients == MAX_CLIENTS) {
      free(config);
      return lisec_err_set(err, LISEC_ETOOBIG, "more than %d network elements", MAX_CLIENTS), NULL;
    }
    c = &admf->clients[admf->n_clients++];
    snprintf(c->ne, sizeof c->ne, "%s", id);
    c->owner = admf;
  }
  /* a reconciliation that let cycle go may be talking on the old client */
  pthread_mutex_lock(&c->talk);
  /* a changed registration gets a fresh connection, and its tasks no wait */
  c->changed = true;
  c->dests_ready = false;
  c->dests_announced = false;
  c->n_tried = 0;
  c->next_keepalive_ms = 0; /* its interval may have changed */
  ctl_x1_client_close(c->c);
  c->c = NULL;
  free(c->config);
  c->config = config;
  c->next_check_ms = 0;
  ctl_x1_peer peer = {jstr(ne, "url"), jstr(ne, "cert"), jstr(ne, "key"), jstr(ne, "ca"), keys,
                      admf->timeout_ms, admf->connect_timeout_ms};
  int rc = ctl_x1_client_open(&peer, &c->c, err);
  pthread_mutex_unlock(&c->talk);
  if (rc != 0) {
    /* no client for this registration: said once, and the next passes try
     * again; nothing uses the slot while it has no connection */
    c->c = NULL;
    LOG_WARN("X1: NE %s: no X1 client, nothing is sent to it until one opens: %s", c->ne, err->msg);
    return NULL;
  }
  return c;
}

/* Whether the NE's answers have taken [x1] request_timeout_ms in this part
 * of this pass: an NE answering each request just inside the timeout would
 * otherwise hold the pass for a timeout per request (every task of its,
 * every XID it lists), and with it every other NE's activations and
 * deactivations. Once out of time it is asked nothing more in that part of
 * the pass; what is left waits, unchanged, for the next. Outside a pass
 * (an emergency stop) there is no budget. */
static bool out_of_time(const admf_client *c) {
  const struct ctl_x1_state *admf = c->owner;
  return reconciling == admf && c->spent_pass == admf->pass && c->spent_ms[admf->phase] >= admf->timeout_ms;
}

/* One exchange; *resp is the NE's answer (ok or ErrorResponse). In a
 * reconciliation (called with cycle held) cycle is let go while the NE is
 * waited for; an NE that gave no answer in time is not asked again in the
 * pass, and once the pass is interrupted nothing more is sent. */
static int exchange(admf_client *c, const json_t *ne, x1_request *req, x1_response *resp,
                    lisec_err *err) {
  struct ctl_x1_state *admf = c->owner;
  bool in_pass = reconciling == admf;
  if (in_pass && admf->interrupted)
    return lisec_err_set(err, LISEC_EUNAVAIL, "X1: this pass was interrupted; the next one asks again");
  /* A pass lasts as long as its NEs' answers take: a leader whose lease
   * lapsed meanwhile sends nothing more in it (a standby may lead by now;
   * docs/ha.md, "The leader's own deadline"), and ends it. */
  if (ctl_ha_leading(err) != 0) {
    if (in_pass) admf->interrupted = true;
    return LISEC_EUNAVAIL;
  }
  if (in_pass && c->silent_pass == admf->pass)
    return lisec_err_set(err, LISEC_EUNAVAIL, "X1: the NE gave no answer in time earlier in this pass");
  if (in_pass && out_of_time(c))
    return lisec_err_set(err, LISEC_EUNAVAIL, "X1: the NE's answers took all its time in this pass "
                         "([x1] request_timeout_ms); the next pass asks again");
  int rc = x1_header_init(&req->h, jstr(ne, "admf_id"), jstr(ne, "id"), err);
  /* the version configured for this NE (registered before it had one: lisec's) */
  const char *version = jstr(ne, "x1_version");
  if (version[0]) snprintf(req->h.version, sizeof req->h.version, "%s", version);
  if (rc) return rc;
  pthread_mutex_lock(&c->talk);
  uint64_t gen = admf->cycle_gen;
  if (in_pass) pthread_mutex_unlock(&admf->cycle);
  int64_t began = lisec_time_mono_ms();
  rc = ctl_x1_exchange(c->c, req, resp, err);
  bool silent = rc && ctl_x1_client_timed_out(c->c);
  pthread_mutex_unlock(&c->talk);
  if (in_pass) {
    cycle_lock(admf);
    if (admf->cycle_gen != gen + 1) admf->interrupted = true;
    if (silent) c->silent_pass = admf->pass;
    if (c->spent_pass != admf->pass) c->spent_pass = admf->pass, c->spent_ms[0] = c->spent_ms[1] = 0;
    c->spent_ms[admf->phase] += lisec_time_mono_ms() - began;
  }
  return rc;
}

static bool dest_same(const x1_destination *a, const x1_destination *b) {
  unsigned char x[16], y[16];
  int af = strchr(a->address, ':') ? AF_INET6 : AF_INET;
  /* the NE may keep an IPv6 address in another of its textual forms */
  return strcmp(a->delivery, b->delivery) == 0 && a->port == b->port && a->udp == b->udp &&
         strcmp(b->address_kind, "ip") == 0 && inet_pton(af, a->address, x) == 1 &&
         inet_pton(af, b->address, y) == 1 && memcmp(x, y, af == AF_INET ? 4 : 16) == 0;
}

/* One destination on the NE: CreateDestination; when refused (it may
 * exist: created before, by lisec or the NE's operator), the NE is asked
 * what it holds under that DID, and a different one is modified. Each
 * change is recorded (sealed) before it goes out. */
static int destination_ensure(lisec_ctl *ctl, admf_client *c, const json_t *ne, const json_t *dj, bool covered,
                              lisec_err *err) {
  const char *ne_id = jstr(ne, "id"), *did = jstr(dj, "did");
  x1_request req = {.type = X1_CREATE_DESTINATION};
  dest_of(dj, &req.dest);
  x1_response resp;
  x1_response_init(&resp);
  int rc = covered ? 0
                   : ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, "x1.destination.create", true, NULL, 0, NULL,
                               err, "destination %s on ne %s", did, ne_id);
  if (!rc) rc = exchange(c, ne, &req, &resp, err);
  if (rc || resp.ok) return rc;
  char refused[X1_VALUE_MAX + 32];
  snprintf(refused, sizeof refused, "%d" X1_NE_SAID "%s", resp.error_code, resp.error_description);
  x1_request get = {.type = X1_GET_DESTINATION_DETAILS};
  snprintf(get.did, sizeof get.did, "%s", did);
  x1_response_init(&resp);
  if ((rc = exchange(c, ne, &get, &resp, err))) return rc;
  if (!resp.ok || !resp.has_dest)
    return lisec_err_set(err, LISEC_EUNAVAIL, "the NE refused destination %s and does not hold it (X1 error %.300s)",
                         did, refused);
  if (dest_same(&req.dest, &resp.dest)) return 0;
  x1_request mod = {.type = X1_MODIFY_DESTINATION};
  mod.dest = req.dest;
  x1_response_init(&resp);
  rc = covered ? 0
               : ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, "x1.destination.modify", true,
                           "the NE holds another destination under this DID", 0, NULL, err,
                           "destination %s on ne %s", did, ne_id);
  if (!rc) rc = exchange(c, ne, &mod, &resp, err);
  if (!rc && !resp.ok)
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "the NE refused to modify destination %s (X1 error %d)" X1_NE_SAID "%s",
                       did, resp.error_code, resp.error_description);
  return rc;
}

/* Before a task that names them goes out: the destinations lisec creates
 * on this NE, once per connection and again whenever the NE is seen
 * without one (check_ne). Named in an announcement (announce), each send
 * has its record there; a failure is recorded as ever, and what is tried
 * again after it has records of its own. */
static int destinations_ready(lisec_ctl *ctl, admf_client *c, const json_t *ne, lisec_err *err) {
  if (c->dests_ready) return 0;
  bool covered = c->dests_announced;
  c->dests_announced = false;
  size_t i;
  const json_t *dj;
  json_array_foreach(json_object_get(ne, "destinations"), i, dj) {
    int rc = destination_ensure(ctl, c, ne, dj, covered, err);
    if (rc) {
      lisec_err ferr = {0};
      (void)ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_FAILED, "x1.destination.create", true, err->msg, 0, NULL,
                      &ferr, "destination %s on ne %s", jstr(dj, "did"), jstr(ne, "id"));
      return lisec_err_wrap(err, "destination %s", jstr(dj, "did"));
    }
  }
  c->dests_ready = true;
  return 0;
}

/* The X1 task for a target: its identifiers opened from the vault, or
 * taken from opened (the pass's batch, ctl_targets_open_many; may be NULL). */
static int build_task(lisec_ctl *ctl, const char *target, const json_t *ne, const char *xid,
                      const json_t *opened, x1_task *t, lisec_err *err) {
  memset(t, 0, sizeof *t);
  if (!ctl->shared->keys || !keys_client_info(ctl->shared->keys)->vault)
    return lisec_err_set(err, LISEC_EUNAVAIL, "TR103308-5.7: no key-encryption key is configured");
  json_t *ids = json_incref(json_object_get(opened, target));
  int rc = 0;
  if (!ids) {
    char *body = NULL;
    if ((rc = store_doc_get(ctl->store, TARGET_KIND, target, &body, NULL, err))) return rc;
    vault_sealed s;
    rc = vault_sealed_parse_as(target, body, strlen(body), &s, err);
    free(body);
    if (rc) return rc;
    rc = keys_vault_open(ctl->shared->keys, &s, &ids, err); /* in the keys process */
    vault_sealed_free(&s);
    if (rc) return rc;
  }
  size_t i;
  json_t *v;
  json_array_foreach(ids, i, v) {
    const char *kind = jstr(v, "kind"), *value = jstr(v, "value");
    const char *el = x1_target_element(kind);
    if (!el) {
      rc = lisec_err_set(err, LISEC_EINVAL, "identifiers[%zu]: kind %s has no X1 target element", i, kind);
      break;
    }
    if (t->n_targets == X1_MAX_TARGETS || strlen(value) > X1_VALUE_MAX) {
      rc = lisec_err_set(err, LISEC_ETOOBIG, "the target does not fit one X1 task (%d identifiers of %d bytes)",
                         X1_MAX_TARGETS, X1_VALUE_MAX);
      break;
    }
    x1_target *x = &t->targets[t->n_targets++];
    snprintf(x->element, sizeof x->element, "%s", el);
    snprintf(x->value, sizeof x->value, "%s", value);
  }
  json_decref(ids);
  snprintf(t->xid, sizeof t->xid, "%s", xid);
  snprintf(t->delivery, sizeof t->delivery, "X2andX3");
  json_t *dids = json_object_get(ne, "dids");
  json_array_foreach(dids, i, v) {
    if (t->n_dids == X1_MAX_DIDS) break;
    snprintf(t->dids[t->n_dids++], X1_UUID_LEN + 1, "%s", json_string_value(v));
  }
  if (rc) crypto_wipe(t, sizeof *t);
  return rc;
}

/* ---- one task ----------------------------------------------------------- */

static int64_t backoff_ms(int64_t attempts) {
  int64_t ms = BACKOFF_MIN_MS;
  for (int64_t i = 1; i < attempts && ms < BACKOFF_MAX_MS; i++) ms *= 2;
  return ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms;
}

/* Whether a failed task still waits for its retry at now_ms. next_try_ms
 * is stored (a standby or the next start reads it), so it is a wall-clock
 * time; no backoff is longer than BACKOFF_MAX_MS, so one further ahead
 * than that was set before the wall clock stepped back, and waits no
 * longer (as x1_unknown.c's). */
static bool retry_waits(const json_t *t, int64_t now_ms) {
  int64_t next = jint(t, "next_try_ms");
  return next > now_ms && next - now_ms <= BACKOFF_MAX_MS;
}

/* A task's error as it is stored and shown: lisec's words, never the
 * schema's complaint or an NE's words (either may quote a target
 * identifier, which the store holds only sealed in the vault); those are
 * in the sealed record entry names (0: none), for the LI administration. */
static void task_error(json_t *t, const char *error, uint64_t entry) {
  char shown[LISEC_ERR_MSG_MAX + 64];
  if (x1_error_shown(error, shown, LISEC_ERR_MSG_MAX) && entry) {
    size_t n = strlen(shown);
    snprintf(shown + n, sizeof shown - n, " (audit entry %llu, sealed)", (unsigned long long)entry);
  }
  set_str(t, "error", shown);
}

static void task_failed_at(json_t *t, const char *error, uint64_t entry) {
  int64_t attempts = jint(t, "attempts") + 1;
  set_int(t, "attempts", attempts);
  set_int(t, "next_try_ms", lisec_time_now_ms() + backoff_ms(attempts));
  set_str(t, "state", "failed");
  task_error(t, error, entry);
}

static void task_failed(json_t *t, const char *error) { task_failed_at(t, error, 0); }

static void task_done(json_t *t, const char *state, int64_t ne_version) {
  set_int(t, "attempts", 0);
  set_int(t, "next_try_ms", 0);
  set_str(t, "state", state);
  set_int(t, "ne_version", ne_version);
  set_str(t, "error", "");
}

/* A retry with backoff that keeps the state the NE is known to be in
 * (active while it runs the task, failed while it does not). */
static void task_retry(json_t *t, const char *state, const char *error, uint64_t entry) {
  task_failed_at(t, error, entry);
  set_str(t, "state", state);
}

/* After an unexpected answer (an error code, a lost or unfitting answer),
 * or when the NE's list disagrees with the task: ask the NE what it holds
 * under the task's XID (GetTaskDetails) and take that as the truth, so a
 * task is never shown failed while the NE runs it, nor deactivated while
 * it still does. want is the task lisec wants there (NULL when it wants it
 * absent); why, when set, is the unexpected answer: kept as the task's
 * error while the NE does not hold what is wanted, and the send retried
 * with backoff. Returns 0 when the NE answered, an error when it could not
 * be asked (the task is then left to the caller). */
static int converge(lisec_ctl *ctl, admf_client *c, const json_t *ne, json_t *t, const x1_task *want,
                    const char *why, uint64_t why_entry, lisec_err *err) {
  x1_request g = {.type = X1_GET_TASK_DETAILS};
  snprintf(g.xid, sizeof g.xid, "%s", jstr(t, "xid"));
  x1_response gr;
  x1_response_init(&gr);
  int rc = exchange(c, ne, &g, &gr, err);
  bool unknown = !rc && !gr.ok && gr.error_code == X1_ERR_UNKNOWN_XID;
  if (!rc && !gr.ok && !unknown)
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "GetTaskDetails refused (X1 error %d)" X1_NE_SAID "%.200s",
                       gr.error_code, gr.error_description);
  if (!rc && gr.ok && !gr.has_task) rc = lisec_err_set(err, LISEC_EINVAL, "GetTaskDetails named no task");
  bool held = !rc && gr.ok, same = held && want && x1_task_same(want, &gr.task);
  crypto_wipe(&gr, X1_RESPONSE_HEAD); /* it held the identifiers */
  if (rc) return rc;
  int64_t target_version = jint(t, "target_version");
  const char *said;
  if (want && same) {
    said = "the NE holds the task as wanted";
    task_done(t, "active", target_version);
  } else if (want && held) {
    /* it runs another version of the task: active, and ModifyTask next
     * (-1: held, not the version any target has) */
    said = "the NE holds another version of the task";
    task_done(t, "active", -1);
    if (why) task_retry(t, "active", why, why_entry);
  } else if (want) {
    said = "the NE does not hold the task";
    task_done(t, "pending", 0); /* ActivateTask next */
    if (why) task_retry(t, "failed", why, why_entry);
  } else if (held) {
    said = "the NE still holds the task";
    if (why) task_retry(t, "active", why, why_entry);
    else task_done(t, "active", jint(t, "ne_version"));
  } else {
    said = "the NE does not hold the task";
    task_done(t, "deactivated", 0);
  }
  lisec_err aerr = {0};
  (void)ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, "x1.reconcile", true, said, 0, NULL, &aerr,
                  "task %s on ne %s", jstr(t, "target"), jstr(ne, "id"));
  return 0;
}

/* The send task t calls for, if any: its X1 type and its record's action
 * (NULL: none; step then only settles the task's state). step and
 * announce both ask this, so what is announced is what is sent. */
static const char *step_action(const json_t *t, x1_type *type) {
  bool want_active = strcmp(jstr(t, "want"), "active") == 0;
  int64_t ne_version = jint(t, "ne_version"), target_version = jint(t, "target_version");
  const char *state = jstr(t, "state");
  if (want_active && ne_version == 0) return *type = X1_ACTIVATE_TASK, "x1.activate";
  if (want_active && ne_version < target_version) return *type = X1_MODIFY_TASK, "x1.modify";
  if (!want_active && strcmp(state, "pending") != 0 && strcmp(state, "deactivated") != 0)
    return *type = X1_DEACTIVATE_TASK, "x1.deactivate";
  return NULL;
}

/* Sends what the task needs, if anything, and updates t. ne_version is the
 * target version the NE is known to hold (0: none; -1: another version).
 * Returns whether a send's record was an announcement's (announce). */
static bool step(lisec_ctl *ctl, json_t *t, const json_t *ne, admf_client *c, const json_t *opened) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  const char *target = jstr(t, "target"), *ne_id = jstr(t, "ne"), *state = jstr(t, "state");
  bool want_active = strcmp(jstr(t, "want"), "active") == 0;
  int64_t ne_version = jint(t, "ne_version"), target_version = jint(t, "target_version");
  if (retry_waits(t, lisec_time_now_ms())) return false;
  x1_type type = X1_PING;
  const char *action = step_action(t, &type);
  /* an announcement named this send: its record is this send's; one that
   * named another (the task changed since) no longer stands */
  char key[STORE_ID_MAX];
  task_key(key, sizeof key, target, ne_id);
  const char *named = json_string_value(json_object_get(admf->announced, key));
  bool covered = named && action && strcmp(named, action) == 0;
  if (named && !covered) json_object_del(admf->announced, key);
  if (!action) {
    if (want_active && strcmp(state, "active") != 0) task_done(t, "active", ne_version); /* it holds the current one */
    /* never acknowledged: the NE holds nothing to remove */
    else if (!want_active && strcmp(state, "pending") == 0) task_done(t, "deactivated", 0);
    return false;
  }
  lisec_err err = {0};
  if (!ne || !c) {
    json_object_del(admf->announced, key);
    if (!want_active && !ne) task_done(t, "deactivated", 0); /* the NE is gone: nothing to tell it */
    else task_failed(t, ne ? "no X1 connection to this NE" : "the network element is not registered");
    return false;
  }
  if (out_of_time(c)) {
    admf->deferred = true; /* left as it is (and named, if it was): the next pass, at once */
    return false;
  }
  /* a pass after the model changed (or the first) sends only what it announced */
  if (admf->announcing && !covered) return false;
  json_object_del(admf->announced, key); /* this send is the one it named */
  /* write-ahead: recorded before it goes out (alone, or in the
   * announcement); unrecorded means unsent */
  if (!covered && ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, action, true, jstr(t, "reason"), 0, NULL, &err,
                            "task %s on ne %s", target, ne_id) != 0) {
    task_failed(t, err.msg);
    return false;
  }
  x1_request req = {.type = type};
  int rc = 0;
  bool built = false;
  if (type == X1_DEACTIVATE_TASK) snprintf(req.xid, sizeof req.xid, "%s", jstr(t, "xid"));
  else if (!(rc = destinations_ready(ctl, c, ne, &err)))
    built = (rc = build_task(ctl, target, ne, jstr(t, "xid"), opened, &req.task, &err)) == 0;
  bool sent = !rc;
  x1_response resp;
  x1_response_init(&resp);
  if (!rc) rc = exchange(c, ne, &req, &resp, &err);
  if (!rc && !resp.ok)
    rc = lisec_err_set(&err, LISEC_EDENIED, "the NE refused (X1 error %d)" X1_NE_SAID "%s", resp.error_code,
                       resp.error_description);
  crypto_wipe(&resp, X1_RESPONSE_HEAD);
  if (!rc) {
    crypto_wipe(&req, sizeof req); /* it held the identifiers */
    if (type == X1_DEACTIVATE_TASK) task_done(t, "deactivated", 0);
    else task_done(t, "active", target_version);
    return covered;
  }
  /* the whole of it (the schema's complaint, the NE's words: either may
   * quote the target) sealed and in the NE's status, which only the LI
   * administration reads; the task keeps lisec's words and the entry */
  lisec_err ferr = {0};
  uint64_t entry = 0;
  (void)ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_FAILED, action, true, err.msg, 0, &entry, &ferr,
                  "task %s on ne %s", target, ne_id);
  ctl_x1_status_note(ctl->shared->x1->status, ne_id, "error", err.msg, lisec_time_now_ms());
  /* Whatever the answer said (2010, 2020, another code, none at all), the
   * NE may or may not have done it: ask it, and show what it holds. */
  lisec_err qerr = {0};
  if (!sent || converge(ctl, c, ne, t, built ? &req.task : NULL, err.msg, entry, &qerr) != 0) {
    /* not known: a task the NE was last known to run stays active */
    const char *keep = strcmp(state, "active") == 0 ? "active" : "failed";
    if (sent) {
      /* each part cut on its own: the NE's words in the first would
       * otherwise hide lisec's in the second */
      char a[LISEC_ERR_MSG_MAX], b[LISEC_ERR_MSG_MAX], both[LISEC_ERR_MSG_MAX];
      bool wa = x1_error_shown(err.msg, a, sizeof a), wb = x1_error_shown(qerr.msg, b, sizeof b);
      snprintf(both, sizeof both, "%.200s; the NE could not be asked what it holds: %.200s", a, b);
      if (wb) {
        /* the GetTaskDetails answer's words are not in the record: sealed on their own */
        lisec_err rerr = {0};
        (void)ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_FAILED, "x1.reconcile", true, qerr.msg, 0, &entry, &rerr,
                        "task %s on ne %s", target, ne_id);
      }
      task_retry(t, keep, both, wa || wb ? entry : 0);
    } else {
      task_retry(t, keep, err.msg, entry);
    }
  }
  crypto_wipe(&req, sizeof req);
  return covered;
}

/* ---- reconciling one NE against what it reports ------------------------- */

static bool has_xid(const x1_response *r, const char *xid) {
  for (size_t i = 0; i < r->n_xids; i++)
    if (strcmp(r->xids[i], xid) == 0) return true;
  return false;
}

/* Destinations the NE holds (ListAllDetails) that its registration names
 * neither among "dids" nor "destinations": recorded (sealed), then
 * RemoveDestination, each once per registration; what the NE refuses (a
 * destination its operator's task still uses) shows in its status. */
static void remove_unregistered(lisec_ctl *ctl, const json_t *ne, admf_client *c, const x1_response *list) {
  const char *ne_id = jstr(ne, "id");
  for (size_t i = 0; i < list->n_dest_ids; i++) {
    const char *did = list->dest_ids[i];
    bool tried = false;
    for (size_t k = 0; k < c->n_tried && !tried; k++) tried = strcmp(c->tried[k], did) == 0;
    if (tried || has_str(json_object_get(ne, "dids"), did) || c->n_tried == MAX_TRIED_REMOVALS) continue;
    if (out_of_time(c)) return; /* not tried yet: the next check */
    snprintf(c->tried[c->n_tried++], X1_UUID_LEN + 1, "%s", did);
    lisec_err err = {0};
    if (ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, "x1.destination.remove", true,
                  "a destination the NE's registration does not name: removed from the NE", 0, NULL, &err,
                  "destination %s on ne %s", did, ne_id) != 0)
      continue;
    x1_request rq = {.type = X1_REMOVE_DESTINATION};
    snprintf(rq.did, sizeof rq.did, "%s", did);
    x1_response rr;
    x1_response_init(&rr);
    int rc = exchange(c, ne, &rq, &rr, &err);
    char why[X1_VALUE_MAX + 96];
    if (!rc && rr.ok) {
      ctl_x1_status_removed(ctl->shared->x1->status, ne_id, did, lisec_time_now_ms());
      continue;
    }
    snprintf(why, sizeof why, "RemoveDestination %s refused: %.250s", did,
             rc ? err.msg : rr.error_description);
    ctl_x1_status_note(ctl->shared->x1->status, ne_id, "error", why, lisec_time_now_ms());
    lisec_err ferr = {0};
    (void)ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_FAILED, "x1.destination.remove", true, why, 0, NULL, &ferr,
                    "destination %s on ne %s", did, ne_id);
  }
}

/* XIDs the NE lists (ListAllDetails) that belong to no task of lisec's:
 * asked away (DeactivateTask), each again after its backoff while the NE
 * lists it, never given up (ctl/x1_unknown.h). An NE that refuses, or
 * lists 1,024 made-up XIDs, would otherwise cost one sealed record and one
 * DeactivateTask per XID at every check. At most CTL_X1_UNKNOWN_PER_CHECK
 * go out per check, all recorded (sealed) in one record first: nothing
 * goes out unrecorded. What the NE answers changes no task (there is
 * none); refusals show in the NE's status. */
static void deactivate_unknown(lisec_ctl *ctl, const json_t *ne, admf_client *c, json_t *tasks,
                               const x1_response *list) {
  const char *ne_id = jstr(ne, "id");
  if (!c->unknown && !(c->unknown = ctl_x1_unknown_new(c->owner->unknown_backoff_max_ms))) return;
  const char **unknown = malloc(X1_MAX_LIST * sizeof *unknown);
  json_t *xids = json_object();
  if (!unknown || !xids) {
    free(unknown);
    json_decref(xids);
    return;
  }
  const char *k;
  json_t *t;
  json_object_foreach(tasks, k, t) json_object_set_new(xids, jstr(t, "xid"), json_true());
  size_t n = 0;
  for (size_t i = 0; i < list->n_xids && n < X1_MAX_LIST; i++)
    if (!json_object_get(xids, list->xids[i])) unknown[n++] = list->xids[i];
  json_decref(xids);
  size_t picked[CTL_X1_UNKNOWN_PER_CHECK];
  size_t due = ctl_x1_unknown_due(c->unknown, unknown, n, lisec_time_now_ms(), picked, CTL_X1_UNKNOWN_PER_CHECK);
  if (due == 0 || out_of_time(c)) {
    free(unknown);
    return;
  }
  /* one record for the check: the XIDs about to be asked, space-separated */
  char these[CTL_X1_UNKNOWN_PER_CHECK * (X1_UUID_LEN + 1) + 1];
  size_t at = 0;
  for (size_t i = 0; i < due && at < sizeof these; i++) /* XIDs of a list: 36 bytes each, they fit */
    at += (size_t)snprintf(these + at, sizeof these - at, "%s%s", i ? " " : "", unknown[picked[i]]);
  char reason[160];
  snprintf(reason, sizeof reason,
           "XIDs this ADMF does not know: removed from the NE (%zu of %zu it lists, each again after its backoff)",
           due, n);
  lisec_err err = {0};
  if (ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, "x1.deactivate", true, reason, 0, NULL, &err,
                "tasks %s on ne %s", these, ne_id) != 0) {
    free(unknown);
    return;
  }
  size_t refused = 0;
  char why[LISEC_ERR_MSG_MAX] = "";
  for (size_t i = 0; i < due; i++) {
    /* not sent (the pass interrupted, the NE silent or out of its time
     * in this pass): not asked, still due */
    if (c->owner->interrupted || c->silent_pass == c->owner->pass || out_of_time(c)) break;
    x1_request d = {.type = X1_DEACTIVATE_TASK};
    x1_response dr;
    x1_response_init(&dr);
    snprintf(d.xid, sizeof d.xid, "%s", unknown[picked[i]]);
    lisec_err derr = {0};
    int rc = exchange(c, ne, &d, &dr, &derr);
    ctl_x1_unknown_asked(c->unknown, unknown[picked[i]], lisec_time_now_ms());
    if (rc || !dr.ok) {
      if (!refused++)
        snprintf(why, sizeof why, "%.200s", rc ? derr.msg : dr.error_description);
    }
  }
  if (refused) {
    char note[LISEC_ERR_MSG_MAX];
    snprintf(note, sizeof note,
             "DeactivateTask of %zu XID(s) this ADMF does not know not done (%.250s); each asked again after its "
             "backoff",
             refused, why);
    ctl_x1_status_note(ctl->shared->x1->status, ne_id, "error", note, lisec_time_now_ms());
  }
  free(unknown);
}

/* Ping, then ListAllDetails (or GetTaskDetails per task when the NE does
 * not list): tasks the NE lost go back to pending, XIDs it holds that lisec
 * does not want there are deactivated. */
static void check_ne(lisec_ctl *ctl, const json_t *ne, admf_client *c, json_t *tasks) {
  const char *ne_id = jstr(ne, "id");
  lisec_err err = {0};
  x1_request req = {.type = X1_PING};
  x1_response resp;
  x1_response_init(&resp);
  int rc = exchange(c, ne, &req, &resp, &err);
  char why[LISEC_ERR_MSG_MAX];
  if (rc) snprintf(why, sizeof why, "%s", err.msg);
  else if (!resp.ok)
    snprintf(why, sizeof why, "Ping refused (X1 error %d)" X1_NE_SAID "%.250s", resp.error_code,
             resp.error_description);
  else why[0] = '\0';
  ctl_x1_status_checked(ctl->shared->x1->status, ne_id, rc == 0 && resp.ok, why, rc ? "" : resp.h.version,
                        lisec_time_now_ms());
  if (rc || !resp.ok) return;
  memset(&req, 0, sizeof req);
  req.type = X1_LIST_ALL_DETAILS;
  x1_response list;
  x1_response_init(&list);
  bool listed = exchange(c, ne, &req, &list, &err) == 0 && list.ok;
  size_t di;
  const json_t *dj;
  json_array_foreach(json_object_get(ne, "destinations"), di, dj) {
    bool held = false;
    for (size_t i = 0; listed && i < list.n_dest_ids && !held; i++)
      held = strcmp(list.dest_ids[i], jstr(dj, "did")) == 0;
    /* lost (an NE restarted empty): created again, named anew */
    if (listed && !held) c->dests_ready = c->dests_announced = false;
  }
  const char *k;
  json_t *t;
  json_object_foreach(tasks, k, t) {
    if (strcmp(jstr(t, "ne"), ne_id) != 0) continue;
    const char *xid = jstr(t, "xid"), *state = jstr(t, "state");
    bool held;
    if (listed) {
      held = has_xid(&list, xid);
    } else {
      x1_request g = {.type = X1_GET_TASK_DETAILS};
      x1_response gr;
      x1_response_init(&gr);
      snprintf(g.xid, sizeof g.xid, "%s", xid);
      if (exchange(c, ne, &g, &gr, &err) != 0) continue;
      held = gr.ok;
      crypto_wipe(&gr, X1_RESPONSE_HEAD);
    }
    if (strcmp(state, "active") == 0 && !held) {
      lisec_err rerr = {0};
      (void)ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, "x1.reconcile", true,
                      "the NE no longer holds the task; activating it again", 0, NULL, &rerr,
                      "task %s on ne %s", jstr(t, "target"), ne_id);
      set_str(t, "state", "pending");
      set_int(t, "ne_version", 0);
      set_int(t, "next_try_ms", 0);
    } else if (strcmp(state, "deactivated") == 0 && held) {
      set_str(t, "state", "active"); /* the loop's step deactivates it again */
      set_int(t, "next_try_ms", 0);
    } else if ((strcmp(state, "failed") == 0 || strcmp(state, "pending") == 0) &&
               (held || (listed && strcmp(jstr(t, "want"), "active") != 0))) {
      /* lisec does not know what the NE did with its last send, and the NE
       * holds the XID (or lisec wants it gone): GetTaskDetails says what
       * the NE holds. A failed activation the NE does not hold keeps its
       * backoff. */
      bool want_active = strcmp(jstr(t, "want"), "active") == 0;
      x1_task want;
      lisec_err qerr = {0};
      if (want_active && build_task(ctl, jstr(t, "target"), ne, xid, NULL, &want, &qerr) != 0) continue;
      (void)converge(ctl, c, ne, t, want_active ? &want : NULL, NULL, 0, &qerr);
      if (want_active) crypto_wipe(&want, sizeof want);
    }
  }
  if (listed) deactivate_unknown(ctl, ne, c, tasks, &list);
  if (listed) remove_unregistered(ctl, ne, c, &list);
}

/* ---- one reconciliation -------------------------------------------------- */

static json_t *find_ne(json_t *nes, const char *id) { return json_object_get(nes, id); }

static void plan(lisec_ctl *ctl, json_t *nes, json_t *targets, json_t *tasks) {
  json_t *decided = json_object(); /* li -> {"ok", "why"} */
  json_t *wanted = json_object();  /* task keys the targets call for */
  json_t *report = NULL;           /* the compliance report, when read */
  const char *tid, *nid;
  json_t *tgt, *ne;
  json_object_foreach(targets, tid, tgt) {
    const char *li = jstr(tgt, "authorisation");
    json_t *d = json_object_get(decided, li);
    if (!d) {
      char why[REASON_MAX] = "";
      bool ok = li_may_act(ctl, li, &report, why, sizeof why);
      const char *host = json_string_value(json_object_get(li_doc(ctl, li), "host"));
      d = json_pack("{s:b, s:s, s:s?}", "ok", ok, "why", why, "host", host);
      json_object_set_new(decided, li, d);
    }
    const char *host = json_string_value(json_object_get(d, "host"));
    json_object_foreach(nes, nid, ne) {
      if (!host || strcmp(jstr(ne, "vm"), host) != 0) continue;
      char key[STORE_ID_MAX];
      task_key(key, sizeof key, tid, nid);
      json_object_set_new(wanted, key, json_true());
      json_t *t = json_object_get(tasks, key);
      if (!t) {
        char xid[X1_UUID_LEN + 1];
        if (x1_uuid(xid, NULL) != 0) continue;
        t = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s}", "target", tid,
                      "ne", nid, "authorisation", li, "xid", xid, "want", "absent", "state", "pending",
                      "target_version", (json_int_t)0, "ne_version", (json_int_t)0, "attempts",
                      (json_int_t)0, "next_try_ms", (json_int_t)0, "reason", "", "error", "", "issue", "");
        json_object_set_new(tasks, key, t);
      }
      /* an emergency stop on the NE holds until the LI administration lifts it */
      const char *stopped = jstr(ne, "stopped");
      bool ok = json_is_true(json_object_get(d, "ok")) && !stopped[0];
      const char *why = stopped[0] ? stopped : json_string_value(json_object_get(d, "why"));
      set_str(t, "authorisation", li);
      set_int(t, "target_version", jint(tgt, "version"));
      if (ok && strcmp(jstr(t, "want"), "active") != 0) {
        set_str(t, "want", "active");
        set_str(t, "reason", "the LI is compliant and active");
        set_int(t, "next_try_ms", 0);
      } else if (!ok && strcmp(jstr(t, "want"), "absent") != 0) {
        set_str(t, "want", "absent");
        set_str(t, "reason", why);
        set_int(t, "next_try_ms", 0);
      } else if (!ok && strcmp(jstr(t, "state"), "pending") == 0 && jint(t, "ne_version") == 0) {
        set_str(t, "reason", why);
      }
    }
  }
  const char *key;
  json_t *t;
  json_object_foreach(tasks, key, t) {
    if (json_object_get(wanted, key) || strcmp(jstr(t, "want"), "absent") == 0) continue;
    const char *why = !json_object_get(targets, jstr(t, "target")) ? "the target was removed"
                      : !find_ne(nes, jstr(t, "ne"))               ? "the network element was removed"
                          : "the network element no longer runs the LI's LI VM";
    set_str(t, "want", "absent");
    set_str(t, "reason", why);
    set_int(t, "next_try_ms", 0);
  }
  json_decref(decided);
  json_decref(wanted);
  json_decref(report);
}

typedef struct opened_batch {
  json_t *out; /* target id -> identifiers */
  const vault_sealed *recs;
} opened_batch;

static void opened_one(void *ctx, size_t i, int rc, const char *msg, json_t *ids) {
  opened_batch *b = ctx;
  (void)msg; /* the step's own read of that target says why */
  ctl_metrics_vault(CTL_METRICS_VAULT_OPEN, rc == 0);
  if (!rc) json_object_set_new(b->out, b->recs[i].id, ids);
}

/* ids' sealed records, opened in the keys process in as few round trips
 * as [keys] max_batch and max_message allow: {id: [identifiers]} for each
 * that opened; one that did not (removed meanwhile, its record refused) is
 * left out. NULL when the keys process is gone. */
static json_t *open_many(lisec_ctl *ctl, const char *const *ids, size_t n) {
  json_t *out = json_object();
  vault_sealed *recs = calloc(n, sizeof *recs);
  size_t have = 0;
  for (size_t i = 0; out && recs && i < n; i++) {
    char *body = NULL;
    if (store_doc_get(ctl->store, TARGET_KIND, ids[i], &body, NULL, NULL) != 0) continue;
    if (vault_sealed_parse_as(ids[i], body, strlen(body), &recs[have], NULL) == 0) have++;
    free(body);
  }
  opened_batch b = {out, recs};
  lisec_err err = {0};
  if (out && recs && have && keys_vault_open_many(ctl->shared->keys, recs, have, opened_one, &b, &err) != 0) {
    LOG_WARN("X1: cannot open the due targets at once: %s", err.msg);
    json_decref(out);
    out = NULL;
  }
  for (size_t i = 0; i < have; i++) vault_sealed_free(&recs[i]);
  free(recs);
  return out;
}

/* The identifiers of every target a task due now will send (an activation
 * or a modification to a registered NE), opened in one round trip to the
 * keys process instead of one each; NULL when fewer than two are due or
 * the batch failed (each step then reads its own and says why). */
static json_t *open_due(lisec_ctl *ctl, json_t *tasks, json_t *nes) {
  json_t *due = json_object();
  int64_t now = lisec_time_now_ms();
  const char *key;
  json_t *t;
  json_object_foreach(tasks, key, t) {
    int64_t nv = jint(t, "ne_version");
    if (strcmp(jstr(t, "want"), "active") == 0 && (nv == 0 || nv < jint(t, "target_version")) &&
        !retry_waits(t, now) && find_ne(nes, jstr(t, "ne")))
      json_object_set_new(due, jstr(t, "target"), json_true());
  }
  size_t n = json_object_size(due), i = 0;
  json_t *opened = NULL;
  const char **ids = n >= 2 ? calloc(n, sizeof *ids) : NULL;
  if (ids) {
    json_t *v;
    json_object_foreach(due, key, v) ids[i++] = key;
    if (ctl->shared->keys && keys_client_info(ctl->shared->keys)->vault) opened = open_many(ctl, ids, n);
    free(ids);
  }
  json_decref(due);
  return opened;
}

/* Whether the stored task key is still old (what this pass read; NULL: none). */
static bool unchanged_since(lisec_ctl *ctl, const char *key, const json_t *old) {
  char *body = NULL;
  json_t *now = NULL;
  int rc = store_doc_get(ctl->store, TASK_KIND, key, &body, NULL, NULL);
  if (rc == LISEC_ENOTFOUND) return old == NULL;
  bool same = rc == 0 && old && lisec_json_parse(body, strlen(body), &now, NULL) == 0 && json_equal(now, old);
  free(body);
  json_decref(now);
  return same;
}

/* ---- the trust model changed: one announcement -------------------------- */

/* Every change of the trust model that could change an LI's compliance
 * (ctl_model_hook_changed: a host's attested trust or location, any write
 * the model committed, whoever made it and whatever it touched, a VM's
 * pairing, the model loaded again from the store), and each start of the
 * loop (ctl_x1_start: the names of sends announced before and not made
 * lived in memory), makes the next pass announce its steps: each task's
 * send that pass would make, and an NE's destinations to create before
 * one, is named in one sealed x1.reconcile record written before any of
 * them goes out, whatever it names, none too, and a send it does not name
 * is not made in that pass. So whether a change made an LI's tasks change
 * shows in no record's presence, seal bit, time or length to the readers
 * of the log: a host running a VM an LI monitors and its twin both get one
 * such record, for their trust or for the operator's writes alike
 * (docs/audit.md). The rule asks nothing about the change, so no kind of
 * change can be left out of it. With no NE registered no record is
 * written, for any change alike. Called by the model with its lock held. */
static void model_changed(ctl_shared *sh) {
  struct ctl_x1_state *admf = sh->x1;
  if (!admf) return;
  int64_t now = lisec_time_mono_ms();
  pthread_mutex_lock(&admf->wake_lock);
  admf->changes++;
  if (!admf->change_first_ms) admf->change_first_ms = now;
  admf->change_last_ms = now;
  admf->woken = true;
  pthread_cond_signal(&admf->wake);
  pthread_mutex_unlock(&admf->wake_lock);
}

static uint64_t changes_counted(struct ctl_x1_state *admf) {
  pthread_mutex_lock(&admf->wake_lock);
  uint64_t n = admf->changes;
  pthread_mutex_unlock(&admf->wake_lock);
  return n;
}

/* The changes up to seen are announced (or need none: no NE): a change
 * counted since waits to settle from its own time. Called with cycle held. */
static void changes_announced(struct ctl_x1_state *admf, uint64_t seen) {
  admf->changes_done = seen;
  admf->announced_ms = lisec_time_mono_ms();
  pthread_mutex_lock(&admf->wake_lock);
  admf->change_first_ms = admf->changes == seen ? 0 : admf->change_last_ms;
  pthread_mutex_unlock(&admf->wake_lock);
}

/* A burst of changes (an operator's script writing the model, a rack's
 * hosts turning untrusted together) settles into one announcement: the
 * pass waits until the changes have been quiet for [x1] announce_quiet_ms
 * (200 ms), or the first of them came [x1] announce_settle_max_ms (1 s)
 * ago, whichever is sooner, and in any case until announce_settle_max_ms
 * after the last announcement: at most one per announce_settle_max_ms,
 * however the writes are paced (one every 300 ms on a loaded machine
 * would each settle alone). Without it each pass that a change of the
 * burst woke would announce (a pass takes milliseconds). The cost: a send
 * a change calls for goes out that much later (at most
 * announce_settle_max_ms, bounded by ctl/settings.c). Returns the wait
 * left; 0: announce now. */
static int64_t settle_left(struct ctl_x1_state *admf) {
  int64_t now = lisec_time_mono_ms();
  pthread_mutex_lock(&admf->wake_lock);
  int64_t first = admf->change_first_ms, last = admf->change_last_ms;
  pthread_mutex_unlock(&admf->wake_lock);
  if (!first) return 0;
  int64_t quiet = last + admf->announce_quiet_ms - now, cap = first + admf->announce_settle_max_ms - now;
  int64_t left = quiet < cap ? quiet : cap;
  int64_t gap = admf->announced_ms ? admf->announced_ms + admf->announce_settle_max_ms - now : 0;
  if (gap > left) left = gap;
  return left > 0 ? left : 0;
}

#ifdef LISEC_TEST_HOOKS
/* x1_confid_model: while the file LISEC_TEST_X1_ANNOUNCE_HOLD names exists
 * (at most 60 s), a pass that has just announced waits before it sends,
 * as one behind a slow NE would; a stop asked meanwhile ends the pass
 * there with nothing sent: lisecd restarted between an announcement and
 * the sends it named. Called with cycle held. */
static void announce_hold(struct ctl_x1_state *admf) {
  const char *hold = getenv("LISEC_TEST_X1_ANNOUNCE_HOLD");
  if (hold && access(hold, F_OK) == 0) LOG_INFO("X1: test hook: the sends announced are held");
  for (int i = 0; hold && i < 6000 && access(hold, F_OK) == 0; i++) {
    pthread_mutex_lock(&admf->wake_lock);
    bool stop = admf->stop;
    pthread_mutex_unlock(&admf->wake_lock);
    if (stop) {
      admf->interrupted = true;
      return;
    }
    struct timespec ts = {0, 10000000L};
    nanosleep(&ts, NULL);
  }
}
#endif

/* One announcement is one sealed entry of one seal bucket, whatever it
 * names: the entry's fixed words (docs/audit.md, "Entries": an 18-byte
 * header, four strings, one subject, one reason) and a reason of at most
 * ANNOUNCE_REASON_MAX bytes, with the seal's marker and one byte of
 * padding, fit AUDIT_SEAL_BUCKET. The steps past what one holds are named
 * in further records, at most ANNOUNCE_RECORDS_MAX a pass; what is still
 * left waits for the next pass, unsent. */
#define ANNOUNCE_SUBJECT "tasks after the trust model changed"
#define ANNOUNCE_REASON_MAX 900
#define ANNOUNCE_RECORDS_MAX 16
#define ANNOUNCE_TAIL sizeof "; and 18446744073709551615 more, named in the records that follow"
_Static_assert(1 + 18 + 2 + sizeof "lisecd/admf" - 1 + 2 + sizeof "li-admin" - 1 + 2 + sizeof "x1.reconcile" - 1 +
                       2 + sizeof "ok" - 1 + 1 + 2 + sizeof ANNOUNCE_SUBJECT - 1 + 1 + 2 + ANNOUNCE_REASON_MAX + 1 <=
                   AUDIT_SEAL_BUCKET,
               "an announcement seals to one bucket");
/* one step named: "deactivate TARGET on NE" (a target id of VAULT_ID_MAX,
 * an NE id of X1_ID_MAX): at least three fit one record */
#define ANNOUNCE_ITEM_MAX (sizeof "destinations on " + VAULT_ID_MAX + sizeof " on " + X1_ID_MAX + 2)
_Static_assert(sizeof "continued: " + 3 * ANNOUNCE_ITEM_MAX + ANNOUNCE_TAIL < ANNOUNCE_REASON_MAX,
               "three steps fit one announcement");

typedef struct announced_step {
  char key[STORE_ID_MAX]; /* the task's key; "" for an NE's destinations */
  const char *action;
  admf_client *c; /* the NE's client, for its destinations */
  char text[ANNOUNCE_ITEM_MAX];
} announced_step;

/* The client of NE id that has a connection, or NULL (client_for made it
 * in this pass's check, or could not). */
static admf_client *client_of(struct ctl_x1_state *admf, const char *id) {
  for (size_t i = 0; i < admf->n_clients; i++)
    if (strcmp(admf->clients[i].ne, id) == 0) return admf->clients[i].c ? &admf->clients[i] : NULL;
  return NULL;
}

/* Names this pass's sends (step_action of every task due now whose NE is
 * registered and has a client, not yet named) in one sealed record, more
 * only when they do not fit. *all: every send due is named (else the rest
 * waits, unsent, for the next pass). An error when a record could not be
 * written: what it would have named is not sent. */
static int announce(lisec_ctl *ctl, json_t *nes, json_t *tasks, uint64_t changes, bool *all) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  size_t cap = json_object_size(tasks) * 2 + 1, n = 0;
  announced_step *steps = calloc(cap, sizeof *steps);
  if (!steps) return LISEC_ENOMEM;
  int64_t now = lisec_time_now_ms();
  const char *key;
  json_t *t;
  json_object_foreach(tasks, key, t) {
    x1_type type = X1_PING;
    const char *action = retry_waits(t, now) ? NULL : step_action(t, &type);
    const char *named = json_string_value(json_object_get(admf->announced, key));
    admf_client *c = action && find_ne(nes, jstr(t, "ne")) ? client_of(admf, jstr(t, "ne")) : NULL;
    if (!c || (named && strcmp(named, action) == 0)) continue;
    if (type != X1_DEACTIVATE_TASK && !c->dests_ready && !c->dests_announced) {
      bool listed = false;
      for (size_t i = 0; i < n && !listed; i++) listed = steps[i].c == c;
      if (!listed) {
        steps[n].c = c;
        snprintf(steps[n++].text, ANNOUNCE_ITEM_MAX, "destinations on %s", c->ne);
      }
    }
    snprintf(steps[n].key, sizeof steps[n].key, "%s", key);
    steps[n].action = action;
    snprintf(steps[n++].text, ANNOUNCE_ITEM_MAX, "%s %.*s on %s", action + 3, VAULT_ID_MAX, jstr(t, "target"),
             jstr(t, "ne"));
  }
  int rc = 0;
  size_t done = 0;
  for (int r = 0; !rc && r < ANNOUNCE_RECORDS_MAX && (r == 0 || done < n); r++) {
    char reason[ANNOUNCE_REASON_MAX + 1];
    size_t at = (size_t)(r == 0 ? snprintf(reason, sizeof reason, "%zu X1 step(s) after %llu model change(s)%s",
                                           n, (unsigned long long)changes, n ? ": " : "")
                                : snprintf(reason, sizeof reason, "continued: "));
    size_t first = done;
    for (; done < n && at + strlen(steps[done].text) + 2 + ANNOUNCE_TAIL <= ANNOUNCE_REASON_MAX; done++)
      at += (size_t)snprintf(reason + at, sizeof reason - at, "%s%s", done > first ? "; " : "", steps[done].text);
    if (done < n)
      snprintf(reason + at, sizeof reason - at, "; and %zu more, named in the records that follow", n - done);
    lisec_err err = {0};
    rc = ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, "x1.reconcile", true, reason, 0, NULL, &err, "%s",
                   ANNOUNCE_SUBJECT);
    if (rc) {
      LOG_WARN("X1: cannot record the steps after the trust model changed; none is sent: %s", err.msg);
      break;
    }
    /* recorded: these may go out */
    for (size_t i = first; i < done; i++) {
      if (steps[i].key[0]) json_object_set_new(admf->announced, steps[i].key, json_string(steps[i].action));
      else steps[i].c->dests_announced = true;
    }
  }
  *all = !rc && done == n;
  free(steps);
  return rc;
}

/* One pass over everything; with force every NE is checked now. Called with
 * admf->passing and admf->cycle held; its exchanges let cycle go while they
 * wait (exchange): once another has taken it meanwhile, the pass stops
 * where it is and writes nothing more but the task it was sending (what it
 * holds may be stale), and the next one comes at once. Returns the
 * shortest wait until something is due. */
static int64_t reconcile_pass(lisec_ctl *ctl, bool force);

/* An NE's ReportTaskIssue, recorded when it came (task_issue): its task
 * shows where and is tried again at once. A task removed meanwhile has
 * nothing to show. Called with admf->cycle held. */
static void apply_issue(void *ctx, const char *key, const char *shown) {
  lisec_ctl *ctl = ctx;
  char *body = NULL;
  json_t *t = NULL;
  lisec_err err = {0};
  if (store_doc_get(ctl->store, TASK_KIND, key, &body, NULL, &err) == 0 &&
      lisec_json_parse(body, strlen(body), &t, &err) == 0) {
    set_str(t, "issue", shown);
    set_int(t, "next_try_ms", 0);
    if (put_doc(ctl, TASK_KIND, key, t, &err) != 0) LOG_WARN("X1: cannot show a task's issue: %s", err.msg);
  }
  free(body);
  json_decref(t);
}

static int64_t reconcile(lisec_ctl *ctl, bool force) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  ctl_x1_reports_take(admf->reports, apply_issue, ctl);
  admf->pass++;
  admf->interrupted = false;
  reconciling = admf;
  int64_t wait = reconcile_pass(ctl, force);
  reconciling = NULL;
  return admf->interrupted ? 0 : wait;
}

static int64_t reconcile_pass(lisec_ctl *ctl, bool force) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  json_t *nes = NULL, *targets = NULL, *tasks = NULL;
  lisec_err err = {0};
  int64_t wait = CTL_X1_CHECK_MS_DEFAULT;
  /* Until the stored appraisals are back, every host looks unknown and
   * every task would be deactivated: nothing changes before (issue 25). */
  if (!ctl_attest_reloaded(ctl->shared)) return 100;
  /* A leader past its lease's deadline tells NEs nothing: a standby may
   * lead by now, and an X1 request goes out before any write the fence
   * would refuse (docs/ha.md, "The leader's own deadline"). */
  if (ctl_ha_leading(NULL)) return 100;
  /* Changes not yet announced: nothing is done until they settle (a
   * burst, one announcement); li-admin's own reconciliation does not wait */
  if (!admf->asked && changes_counted(admf) != admf->changes_done) {
    int64_t left = settle_left(admf);
    if (left > 0) return left;
  }
  if (load_all(ctl, NE_KIND, false, &nes, &err) || load_all(ctl, TARGET_KIND, true, &targets, &err) ||
      load_all(ctl, TASK_KIND, false, &tasks, &err)) {
    LOG_WARN("X1: cannot read the tasks: %s", err.msg);
    json_decref(nes);
    json_decref(targets);
    json_decref(tasks);
    return wait;
  }
  json_t *before = json_deep_copy(tasks);
  /* The model's changes the plan has seen every one of: counted under the
   * model's lock (model_changed) and read before and after the plan, so a
   * plan that read the model after a change also counts it; planned again
   * while a change came meanwhile. A pass after changes not yet announced
   * announces its steps (announce). */
  uint64_t seen, counted = changes_counted(admf);
  int plans = 0;
  do {
    seen = counted;
    plan(ctl, nes, targets, tasks);
    counted = changes_counted(admf);
  } while (counted != seen && ++plans < 3);
  bool changed = counted != admf->changes_done;
  admf->announcing = false;
  admf->phase = X1_PHASE_CHECK;
  admf->deferred = false;
  const char *nid;
  json_t *ne;
  /* now is for the status (a time it shows); the NEs' checks and
   * Keepalives are due by the monotonic clock, so a wall clock stepped
   * back does not hold them for the step (nor one stepped forward send
   * them early) */
  int64_t now = lisec_time_now_ms(), mono = lisec_time_mono_ms();
  json_object_foreach(nes, nid, ne) {
    if (admf->interrupted) break;
    lisec_err cerr = {0};
    admf_client *c = client_for(ctl->shared->x1, ctl->shared->keys, ne, &cerr);
    if (!c) /* no client: not reached, said in its status (once in the log) */
      ctl_x1_status_checked(ctl->shared->x1->status, nid, false, cerr.msg[0] ? cerr.msg : "no X1 client", "", now);
    int64_t every = jint(ne, "check_ms") > 0 ? jint(ne, "check_ms") : CTL_X1_CHECK_MS_DEFAULT;
    if (every < wait) wait = every;
    if (c && c->changed) {
      const char *key;
      json_t *t;
      json_object_foreach(tasks, key, t) {
        if (strcmp(jstr(t, "ne"), nid) == 0) set_int(t, "next_try_ms", 0);
      }
      c->changed = false;
    }
    if (c && (force || c->next_check_ms <= mono)) {
      check_ne(ctl, ne, c, tasks);
      c->next_check_ms = mono + every;
    }
    /* Keepalive (clause 6.6.2) at the NE's interval; registered before it
     * had one: the default. An NE that does not answer it oK is checked
     * (Ping, ListAllDetails) at once. */
    json_t *kaj = json_object_get(ne, "keepalive_ms");
    int64_t ka = kaj ? (int64_t)json_integer_value(kaj) : CTL_X1_KEEPALIVE_MS_DEFAULT;
    if (c && ka > 0 && c->next_keepalive_ms <= mono && !out_of_time(c)) {
      x1_request kr = {.type = X1_KEEPALIVE};
      x1_response kresp;
      x1_response_init(&kresp);
      if (exchange(c, ne, &kr, &kresp, &cerr) != 0 || !kresp.ok) c->next_check_ms = 0;
      c->next_keepalive_ms = mono + ka;
    }
    if (ka > 0 && ka < wait) wait = ka;
    /* reachable or not, from lisecd's check and the NE's own Keepalives:
     * logged once when it changes */
    (void)ctl_x1_status_evaluate(ctl->shared->x1->status, nid, lisec_time_now_ms(), lisec_time_mono_ms());
  }
  if (changed && !admf->interrupted && json_object_size(nes) == 0) {
    changes_announced(admf, seen); /* no NE: nothing to announce, for any change alike */
  } else if (changed && !admf->interrupted) {
    admf->announcing = true; /* what it does not name is not sent */
    bool all = false;
    if (announce(ctl, nes, tasks, counted - admf->changes_done, &all) == 0) {
      if (all) changes_announced(admf, seen); /* seen < counted: the next pass announces again */
      else admf->deferred = true;             /* the rest: named by the next pass, at once */
    }
#ifdef LISEC_TEST_HOOKS
    announce_hold(admf);
#endif
  }
  json_t *opened = open_due(ctl, tasks, nes);
  admf->phase = X1_PHASE_STEP;
  const char *key;
  json_t *t;
  json_object_foreach(tasks, key, t) {
    if (admf->interrupted) break;
    json_t *n = find_ne(nes, jstr(t, "ne"));
    lisec_err cerr = {0};
    bool covered =
        step(ctl, t, n, n ? client_for(ctl->shared->x1, ctl->shared->keys, n, &cerr) : NULL, opened);
    if (admf->interrupted) {
      /* What was just sent for t is kept, unless another changed t while
       * this pass waited (an emergency stop); nothing more is done. */
      if (unchanged_since(ctl, key, json_object_get(before, key)) &&
          put_doc(ctl, TASK_KIND, key, t, &cerr) != 0)
        LOG_WARN("X1: cannot keep a task's state: %s", cerr.msg);
      break;
    }
    int64_t next = jint(t, "next_try_ms");
    if (next > 0 && next - now < wait) wait = next - now < 50 ? 50 : next - now;
    json_t *old = json_object_get(before, key);
    /* Said without the task's key, XID, target or NE (an NE is an LI VM):
     * operators read this log (TR 103 308 §4.1); not said of what a change
     * of the model brought (announce), which the log would tell apart */
    if (!changed && !covered && strcmp(old ? jstr(old, "state") : "", jstr(t, "state")) != 0)
      LOG_INFO("X1: a task changed state: %s -> %s", old ? jstr(old, "state") : "(new)", jstr(t, "state"));
    if (!old || !json_equal(old, t)) {
      /* "updated" differs on every write: compare before stamping */
      if (put_doc(ctl, TASK_KIND, key, t, &cerr) != 0) LOG_WARN("X1: cannot keep a task's state: %s", cerr.msg);
    }
  }
  if (admf->deferred && wait > 50) wait = 50; /* an NE's tasks left for want of its time */
  json_decref(opened); /* jansson's allocator wipes the identifiers */
  json_decref(before);
  json_decref(nes);
  json_decref(targets);
  json_decref(tasks);
  return wait;
}

/* ---- the background loop ------------------------------------------------ */

static void *loop(void *arg) {
  struct ctl_x1_state *admf = arg;
  bool force = true;
  for (;;) {
    pthread_mutex_lock(&admf->passing);
    cycle_lock(admf);
    int64_t wait = admf->stop ? 0 : reconcile(admf->ctl, force);
    pthread_mutex_unlock(&admf->cycle);
    pthread_mutex_unlock(&admf->passing);
    pthread_mutex_lock(&admf->wake_lock);
    if (!admf->woken && !admf->stop) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ts.tv_sec += wait / 1000;
      ts.tv_nsec += (wait % 1000) * 1000000;
      if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
      pthread_cond_timedwait(&admf->wake, &admf->wake_lock, &ts);
    }
    force = admf->woken;
    admf->woken = false;
    bool stop = admf->stop;
    pthread_mutex_unlock(&admf->wake_lock);
    if (stop) break;
  }
  return NULL;
}

int ctl_x1_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  (void)cfg, (void)s;
  /* read and bounded with the other settings (ctl/settings.c), so that
   * lisecd --check-config reports a value out of bounds too: how long an NE
   * that sends Keepalive may be silent before it shows as unreachable (0:
   * never); one exchange's bounds (an NE that takes longer shows
   * unreachable); what one NE's reports may cost (recorded ones a second,
   * at once, and task issues waiting for the loop, ctl/x1_reports.h); how
   * often the ADMF records its compliance reading (compliance_read); how a
   * burst of changes settles into one announcement (settle_left) */
  const ctl_settings *set = &sh->settings;
  int64_t timeout_s = set->x1_keepalive_timeout_s, request_ms = set->x1_request_timeout_ms,
          connect_ms = set->x1_connect_timeout_ms, rate = set->x1_report_rate, burst = set->x1_report_burst,
          queue = set->x1_report_queue, record_s = set->x1_compliance_record_s;
  struct ctl_x1_state *admf = calloc(1, sizeof *admf);
  if (!admf || !(admf->status = ctl_x1_status_new(timeout_s * 1000)) ||
      !(admf->reports = ctl_x1_reports_new((unsigned)rate, (unsigned)burst, (size_t)queue))) {
    if (admf) ctl_x1_status_free(admf->status);
    free(admf);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  admf->report_rate = rate;
  admf->compliance_every_ms = record_s * 1000;
  admf->report_burst = burst;
  admf->unknown_backoff_max_ms = set->x1_unknown_backoff_max_s * 1000;
  admf->announce_quiet_ms = set->x1_announce_quiet_ms;
  admf->announce_settle_max_ms = set->x1_announce_settle_max_ms;
  if (!(admf->announced = json_object())) {
    ctl_x1_status_free(admf->status);
    ctl_x1_reports_free(admf->reports);
    free(admf);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  admf->timeout_ms = (long)request_ms;
  admf->connect_timeout_ms = (long)connect_ms;
  pthread_mutex_init(&admf->passing, NULL);
  pthread_mutex_init(&admf->cycle, NULL);
  for (size_t i = 0; i < MAX_CLIENTS; i++) pthread_mutex_init(&admf->clients[i].talk, NULL);
  pthread_mutex_init(&admf->wake_lock, NULL);
  /* the loop's wait is a duration: a wall clock stepped back would hold
   * every NE's check, Keepalive and task retry for the step */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&admf->wake, &ca);
  pthread_condattr_destroy(&ca);
  sh->x1 = admf;
  ctl_model_hook_changed(sh, model_changed);
  return 0;
}

int ctl_x1_start(ctl_shared *sh, lisec_err *err) {
  struct ctl_x1_state *admf = sh->x1;
  if (admf->started) return 0;
  /* The loop's first pass announces, whatever it sends: what a pass before
   * a restart (or before this lisecd led) announced and did not send was
   * named in memory only, and would otherwise go out with records of its
   * own (model_changed) */
  int64_t now = lisec_time_mono_ms();
  pthread_mutex_lock(&admf->wake_lock);
  admf->changes++;
  if (!admf->change_first_ms) admf->change_first_ms = now;
  admf->change_last_ms = now;
  pthread_mutex_unlock(&admf->wake_lock);
  lisec_ctl parent = {.shared = sh};
  int rc = ctl_open_worker(&parent, &admf->ctl, err);
  if (!rc && pthread_create(&admf->thread, NULL, loop, admf) != 0) {
    ctl_close(admf->ctl);
    admf->ctl = NULL;
    rc = lisec_err_set(err, LISEC_EINTERNAL, "cannot start the X1 loop");
  }
  if (!rc) {
    pthread_setname_np(admf->thread, "lisec-x1"); /* ps, and the lifecycle test */
    admf->started = true;
    LOG_INFO("X1: the ADMF loop runs");
  }
  return rc;
}

void ctl_x1_stop(ctl_shared *sh) {
  struct ctl_x1_state *admf = sh->x1;
  if (!admf || !admf->started) return;
  pthread_mutex_lock(&admf->wake_lock);
  admf->stop = true;
  pthread_cond_signal(&admf->wake);
  pthread_mutex_unlock(&admf->wake_lock);
  pthread_join(admf->thread, NULL);
  ctl_close(admf->ctl);
  admf->ctl = NULL;
  admf->stop = false;
  admf->started = false;
}

void ctl_x1_close(ctl_shared *sh) {
  struct ctl_x1_state *admf = sh->x1;
  if (!admf) return;
  ctl_x1_stop(sh);
  /* the X1 clients a request's reconciliation (ctl_tasks_reconcile) kept */
  for (size_t i = 0; i < admf->n_clients; i++) {
    ctl_x1_client_close(admf->clients[i].c);
    free(admf->clients[i].config);
    ctl_x1_unknown_free(admf->clients[i].unknown);
  }
  ctl_model_hook_changed(sh, NULL);
  json_decref(admf->li_hosts);
  json_decref(admf->announced);
  ctl_x1_status_free(admf->status);
  ctl_x1_reports_free(admf->reports);
  pthread_cond_destroy(&admf->wake);
  pthread_mutex_destroy(&admf->wake_lock);
  pthread_mutex_destroy(&admf->cycle);
  pthread_mutex_destroy(&admf->passing);
  for (size_t i = 0; i < MAX_CLIENTS; i++) pthread_mutex_destroy(&admf->clients[i].talk);
  free(admf);
  sh->x1 = NULL;
}

void ctl_tasks_kick(lisec_ctl *ctl) { wake_loop(ctl->shared->x1); }

/* ---- listing and on-demand reconciliation ------------------------------- */

static const char *const SHOWN[] = {"target", "ne", "authorisation", "xid", "want", "state",
                                    "target_version", "ne_version", "attempts", "reason",
                                    "error", "issue", "updated"};

int ctl_tasks_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  int rc = need_li_admin(ctl, actor, "x1.task.list", err);
  json_t *tasks = NULL;
  if (!rc) rc = load_all(ctl, TASK_KIND, false, &tasks, err);
  if (!rc) rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "x1.task.list", true, NULL, 0, NULL, err,
                          "tasks");
  if (rc) {
    json_decref(tasks);
    return rc;
  }
  json_t *arr = json_array();
  const char *k;
  json_t *t;
  json_object_foreach(tasks, k, t) {
    json_t *o = json_object();
    for (size_t i = 0; i < LISEC_ARRAY_LEN(SHOWN); i++) {
      json_t *v = json_object_get(t, SHOWN[i]);
      if (v) json_object_set(o, SHOWN[i], v);
    }
    json_array_append_new(arr, o);
  }
  json_decref(tasks);
  *out = json_pack("{s:o}", "tasks", arr);
  return 0;
}

int ctl_tasks_reconcile(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  int rc = need_li_admin(ctl, actor, "x1.reconcile", err);
  if (rc) return rc;
  struct ctl_x1_state *admf = ctl->shared->x1;
  pthread_mutex_lock(&admf->passing);
  cycle_lock(admf);
  admf->asked = true;
  (void)reconcile(ctl, true);
  admf->asked = false;
  pthread_mutex_unlock(&admf->cycle);
  pthread_mutex_unlock(&admf->passing);
  return ctl_tasks_list(ctl, actor, out, err);
}

/* ---- the emergency stop (DeactivateAllTasks) ---------------------------- */

/* One NE: DeactivateAllTasks, then its tasks as the NE's answer says. On
 * oK the NE holds none; on anything else ListAllDetails says which it
 * still holds (those stay active, DeactivateTask retried by the loop). */
static json_t *stop_ne(lisec_ctl *ctl, json_t *ne, json_t *tasks) {
  const char *ne_id = jstr(ne, "id");
  lisec_err err = {0};
  admf_client *c = client_for(ctl->shared->x1, ctl->shared->keys, ne, &err);
  x1_request req = {.type = X1_DEACTIVATE_ALL_TASKS};
  x1_response resp;
  x1_response_init(&resp);
  int rc = c ? exchange(c, ne, &req, &resp, &err) : LISEC_EUNAVAIL;
  if (!rc && !resp.ok)
    rc = lisec_err_set(&err, LISEC_EDENIED, "the NE refused (X1 error %d)" X1_NE_SAID "%s", resp.error_code,
                       resp.error_description);
  bool listed = false;
  x1_response list;
  x1_response_init(&list);
  if (rc && c) {
    x1_request l = {.type = X1_LIST_ALL_DETAILS};
    lisec_err lerr = {0};
    listed = exchange(c, ne, &l, &list, &lerr) == 0 && list.ok;
  }
  int64_t gone = 0, held = 0;
  const char *k;
  json_t *t;
  json_object_foreach(tasks, k, t) {
    if (strcmp(jstr(t, "ne"), ne_id) != 0) continue;
    set_str(t, "want", "absent");
    set_str(t, "reason", jstr(ne, "stopped"));
    if (!rc || strcmp(jstr(t, "state"), "pending") == 0 || (listed && !has_xid(&list, jstr(t, "xid")))) {
      if (strcmp(jstr(t, "state"), "deactivated") != 0) gone++;
      task_done(t, "deactivated", 0);
    } else if (strcmp(jstr(t, "state"), "deactivated") != 0) {
      /* the NE may still run it: not shown deactivated until it says so */
      held++;
      task_error(t, err.msg, 0); /* the whole in the record below */
      set_int(t, "next_try_ms", 0);
    }
    lisec_err perr = {0};
    /* said without the task's key (target and NE): operators read this log */
    if (put_doc(ctl, TASK_KIND, k, t, &perr) != 0) LOG_WARN("X1: cannot keep a task's state: %s", perr.msg);
  }
  lisec_err aerr = {0};
  (void)ctl_audit(ctl, &ADMF_ACTOR, rc ? CTL_OUTCOME_FAILED : CTL_OUTCOME_OK, "x1.deactivate-all", true,
                  rc ? err.msg : NULL, 0, NULL, &aerr, "ne %s", ne_id);
  return json_pack("{s:s, s:s, s:I, s:I}", "ne", ne_id, "answer", rc ? err.msg : "oK", "deactivated",
                   (json_int_t)gone, "still_held", (json_int_t)(rc && !listed ? -1 : held));
}

/* Marks the NEs (one, or every one) stopped or not; *chosen gets them. */
static int nes_choose(lisec_ctl *ctl, const char *only, json_t **chosen, lisec_err *err) {
  json_t *nes = NULL;
  int rc = load_all(ctl, NE_KIND, false, &nes, err);
  if (rc) return rc;
  if (only && !json_object_get(nes, only)) {
    json_decref(nes);
    return lisec_err_set(err, LISEC_ENOTFOUND, "ne %s is not registered", only);
  }
  if (only) {
    json_t *one = json_pack("{s:O}", only, json_object_get(nes, only));
    json_decref(nes);
    nes = one;
  }
  *chosen = nes;
  return 0;
}

int ctl_x1_deactivate_all(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                          lisec_err *err) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  int rc = need_li_admin(ctl, actor, "x1.deactivate-all", err);
  const char *only = NULL, *reason = NULL;
  if (!rc && ((rc = lisec_json_get_str(body, "ne", false, X1_ID_MAX, &only, err)) ||
              (rc = lisec_json_get_str(body, "reason", true, 200, &reason, err))))
    return rc;
  if (rc) return rc;
  json_t *nes = NULL, *tasks = NULL, *done = json_array();
  cycle_lock(admf);
  rc = nes_choose(ctl, only, &nes, err);
  if (!rc) rc = load_all(ctl, TASK_KIND, false, &tasks, err);
  /* recorded before anything goes out, as every X1 send */
  if (!rc)
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "x1.deactivate-all", true, reason, 0, NULL, err, "%s%s",
                   only ? "ne " : "every ne", only ? only : "");
  char stopped[320], now[32];
  lisec_time_format(lisec_time_now(), now);
  snprintf(stopped, sizeof stopped, "emergency stop (DeactivateAllTasks) %s by %.40s: %s", now,
           actor->subject ? actor->subject : "?", reason ? reason : "");
  const char *nid;
  json_t *ne;
  json_object_foreach(nes, nid, ne) {
    if (rc) break;
    set_str(ne, "stopped", stopped);
    if ((rc = put_doc(ctl, NE_KIND, nid, ne, err))) break;
    json_array_append_new(done, stop_ne(ctl, ne, tasks));
  }
  pthread_mutex_unlock(&admf->cycle);
  json_decref(nes);
  json_decref(tasks);
  if (rc) {
    json_decref(done);
    return rc;
  }
  wake_loop(admf);
  *out = json_pack("{s:o}", "nes", done);
  return 0;
}

int ctl_x1_resume(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out, lisec_err *err) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  int rc = need_li_admin(ctl, actor, "x1.resume", err);
  const char *only = NULL;
  if (!rc && (rc = lisec_json_get_str(body, "ne", false, X1_ID_MAX, &only, err))) return rc;
  if (rc) return rc;
  json_t *nes = NULL, *resumed = json_array();
  cycle_lock(admf);
  rc = nes_choose(ctl, only, &nes, err);
  if (!rc)
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_OK, "x1.resume", true, NULL, 0, NULL, err, "%s%s",
                   only ? "ne " : "every ne", only ? only : "");
  const char *nid;
  json_t *ne;
  json_object_foreach(nes, nid, ne) {
    if (rc) break;
    if (!jstr(ne, "stopped")[0]) continue;
    json_object_del(ne, "stopped");
    if (!(rc = put_doc(ctl, NE_KIND, nid, ne, err))) json_array_append_new(resumed, json_string(nid));
  }
  pthread_mutex_unlock(&admf->cycle);
  json_decref(nes);
  if (rc) {
    json_decref(resumed);
    return rc;
  }
  wake_loop(admf);
  *out = json_pack("{s:o}", "resumed", resumed);
  return 0;
}

/* ---- the X1 endpoint for NE-originated requests -------------------------- */

/* The NEs this certificate speaks for: role host (the NE role) and CN the
 * NE's report_cn. *out: id -> NE document; empty when none. */
static int nes_of_actor(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err) {
  *out = json_object();
  if (ctl_actor_role(actor) != CTL_ROLE_HOST || !actor->subject) return 0;
  json_t *all = NULL;
  int rc = load_all(ctl, NE_KIND, false, &all, err);
  if (rc) return rc;
  const char *k;
  json_t *ne;
  json_object_foreach(all, k, ne) {
    if (strcmp(jstr(ne, "report_cn"), actor->subject) == 0) json_object_set(*out, k, ne);
  }
  json_decref(all);
  return 0;
}

/* Whether the NE may send this report now (ctl/x1_reports.h): past its
 * burst it is refused, neither recorded nor acted on, and counted; a flood
 * is logged once, naming no NE (an NE is an LI VM: operators read the
 * log), and the NE's status tells the LI administration which. */
static bool report_admitted(struct ctl_x1_state *admf, const char *ne, x1_response *r) {
  /* The bucket runs on the monotonic clock: a wall clock stepped either
   * way would take tokens from an NE or give it a second burst. */
  int64_t now = lisec_time_now_ms(), mono_ms = lisec_time_mono_ms();
  bool began = false;
  if (ctl_x1_reports_admit(admf->reports, ne, mono_ms, &began)) return true;
  ctl_metrics_x1_report_refused();
  ctl_x1_status_refused(admf->status, ne, now);
  if (began)
    LOG_WARN("X1: an NE sends reports faster than [x1] report_rate_per_ne = %lld a second (burst %lld): "
             "the rest are refused (TR103308-5.5) until it slows down, counted in lisec_x1_reports_refused_total; "
             "its status (GET /v1/x1/nes/{id}) says which",
             (long long)admf->report_rate, (long long)admf->report_burst);
  r->error_code = X1_ERR_GENERIC;
  snprintf(r->error_description, sizeof r->error_description,
           "TR103308-5.5: this NE sends reports faster than [x1] report_rate_per_ne allows; this one is "
           "neither recorded nor acted on: send it again later");
  return false;
}

typedef struct issue_record {
  lisec_ctl *ctl;
  const char *ne, *target, *text;
} issue_record;

/* Records a ReportTaskIssue (the NE's text in the sealed log only) and
 * says what its task shows; *order is its audit entry's index, so that of
 * two reports on a task the later recorded is shown. Called under no lock
 * (ctl/x1_reports.h): the audit write waits for its fsync. */
static int record_issue(void *ctx, char *shown, size_t cap, uint64_t *order) {
  issue_record *ir = ctx;
  lisec_err err = {0};
  uint64_t at = 0;
#ifdef LISEC_TEST_HOOKS
  /* x1_report_slow_record: while the file LISEC_TEST_X1_ISSUE_HOLD names
   * exists (at most 60 s), a ReportTaskIssue waits before its audit write,
   * as one behind a slow disk's fsync would */
  const char *hold = getenv("LISEC_TEST_X1_ISSUE_HOLD");
  if (hold && access(hold, F_OK) == 0) LOG_INFO("X1: test hook: a report's record is held");
  for (int i = 0; hold && i < 6000 && access(hold, F_OK) == 0; i++) {
    struct timespec ts = {0, 10000000L};
    nanosleep(&ts, NULL);
  }
#endif
  int rc = ctl_audit(ir->ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, "x1.issue", true, ir->text, 0, &at, &err,
                     "task %s on ne %s", ir->target, ir->ne);
  if (!rc) {
    char now[32];
    lisec_time_format(lisec_time_now(), now);
    snprintf(shown, cap, "reported %s; audit entry %llu (sealed)", now, (unsigned long long)at);
    *order = at;
  }
  return rc;
}

/* A ReportTaskIssue about a task of this NE: recorded now, and the task
 * shows where once the loop has written it (apply_issue). */
static void task_issue(lisec_ctl *ctl, const char *ne_id, const x1_request *q, x1_response *r) {
  json_t *tasks = NULL, *t, *hit = NULL;
  const char *key, *hit_key = NULL;
  lisec_err err = {0};
  if (load_all(ctl, TASK_KIND, false, &tasks, &err) == 0) {
    json_object_foreach(tasks, key, t) {
      if (strcmp(jstr(t, "ne"), ne_id) == 0 && strcmp(jstr(t, "xid"), q->xid) == 0) hit = t, hit_key = key;
    }
  }
  if (!hit) {
    r->error_code = X1_ERR_UNKNOWN_XID;
    snprintf(r->error_description, sizeof r->error_description, "no task with this XID on this NE");
    json_decref(tasks);
    return;
  }
  char issue[X1_VALUE_MAX + 48];
  size_t n = (size_t)snprintf(issue, sizeof issue, "%.31s: ", q->report_type);
  for (const char *p = q->issue; *p && n < sizeof issue - 1; p++)
    issue[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : ' '; /* plain text in the log */
  issue[n] = '\0';
  issue_record ir = {ctl, ne_id, jstr(hit, "target"), issue};
  int rc = ctl_x1_reports_queue(ctl->shared->x1->reports, hit_key, record_issue, &ir);
  r->ok = rc == 0;
  r->error_code = X1_ERR_GENERIC;
  if (rc == LISEC_ETOOBIG) { /* a refusal like one past the rate: counted where those are */
    ctl_metrics_x1_report_refused();
    ctl_x1_status_refused(ctl->shared->x1->status, ne_id, lisec_time_now_ms());
  }
  if (rc == LISEC_ETOOBIG)
    snprintf(r->error_description, sizeof r->error_description,
             "TR103308-5.5: the ADMF has [x1] report_queue_max task issues waiting to be shown; this one is "
             "neither recorded nor acted on: send it again later");
  else if (rc)
    snprintf(r->error_description, sizeof r->error_description, "the ADMF cannot record the report now");
  json_decref(tasks);
}

/* A ReportDestinationIssue (clause 6.5.3) about a destination this NE's
 * registration names: recorded sealed (the NE's text in the sealed log and
 * the NE's status only); another DID is 1000, naming no destination. */
static void destination_issue(lisec_ctl *ctl, const json_t *ne, const x1_request *q, x1_response *r) {
  if (!has_str(json_object_get(ne, "dids"), q->did)) {
    snprintf(r->error_description, sizeof r->error_description,
             "no destination with this DID is registered for this NE");
    return;
  }
  char issue[X1_VALUE_MAX + 48];
  size_t n = (size_t)snprintf(issue, sizeof issue, "%.31s: ", q->report_type);
  for (const char *p = q->issue; *p && n < sizeof issue - 1; p++) issue[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : ' ';
  issue[n] = '\0';
  if (q->has_issue_code && n < sizeof issue - 24) snprintf(issue + n, sizeof issue - n, " (code %d)", q->issue_code);
  char shown[sizeof issue + 64];
  snprintf(shown, sizeof shown, "destination %.36s: %s", q->did, issue);
  lisec_err err = {0};
  r->ok = ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, "x1.destination-issue", true, issue, 0, NULL, &err,
                    "destination %s on ne %s", q->did, q->h.ne) == 0;
  if (!r->ok) snprintf(r->error_description, sizeof r->error_description, "the ADMF cannot record the report now");
  else ctl_x1_status_note(ctl->shared->x1->status, q->h.ne, "destination_issue", shown, lisec_time_now_ms());
}

/* The answer to one NE-originated message (ReportTaskIssue, ReportNEIssue,
 * Keepalive): oK, or an ErrorResponse with the standard's code that echoes
 * the request's type and transaction. */
static void ne_message(lisec_ctl *ctl, const json_t *nes, const x1_request *q, x1_response *r) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  const json_t *ne = json_object_get(nes, q->h.ne);
  r->type = q->type;
  r->h = q->h; /* the request's identifiers, transaction and version */
  char now[40];
  x1_header h;
  if (x1_header_init(&h, q->h.admf, q->h.ne, NULL) == 0) snprintf(now, sizeof now, "%s", h.timestamp);
  else snprintf(now, sizeof now, "%s", q->h.timestamp);
  snprintf(r->h.timestamp, sizeof r->h.timestamp, "%s", now);
  snprintf(r->request_type, sizeof r->request_type, "%s", q->type_name);
  r->ok = false;
  r->error_code = X1_ERR_GENERIC;
  if (q->refuse_code) {
    r->error_code = q->refuse_code;
    snprintf(r->error_description, sizeof r->error_description, "%s", q->refuse_why);
  } else if (!ne || strcmp(q->h.admf, jstr(ne, "admf_id")) != 0) {
    /* the NE the certificate speaks for, and this ADMF, or nothing */
    snprintf(r->error_description, sizeof r->error_description,
             "the message names an NE this certificate does not speak for, or another ADMF");
  } else if (!x1_version_within(q->h.version, X1_VERSION_MIN, X1_VERSION)) {
    r->error_code = X1_ERR_VERSION;
    snprintf(r->error_description, sizeof r->error_description, "the ADMF speaks X1 %s to %s", X1_VERSION_MIN,
             X1_VERSION);
  } else if (q->type == X1_KEEPALIVE) {
    ctl_x1_status_keepalive(admf->status, q->h.ne, lisec_time_now_ms(), lisec_time_mono_ms());
    r->ok = true;
  } else if ((q->type == X1_REPORT_DESTINATION_ISSUE || q->type == X1_REPORT_TASK_ISSUE ||
              q->type == X1_REPORT_NE_ISSUE) &&
             !report_admitted(admf, q->h.ne, r)) {
    /* refused past the NE's rate: r says why */
  } else if (q->type == X1_REPORT_DESTINATION_ISSUE) {
    destination_issue(ctl, ne, q, r);
  } else if (q->type == X1_REPORT_TASK_ISSUE) {
    task_issue(ctl, q->h.ne, q, r);
    if (r->ok) wake_loop(admf);
  } else if (q->type == X1_REPORT_NE_ISSUE) {
    char issue[X1_VALUE_MAX + 48];
    size_t n = (size_t)snprintf(issue, sizeof issue, "%.31s: ", q->report_type);
    for (const char *p = q->issue; *p && n < sizeof issue - 1; p++) issue[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : ' ';
    issue[n] = '\0';
    lisec_err err = {0};
    r->ok = ctl_audit(ctl, &ADMF_ACTOR, CTL_OUTCOME_OK, "x1.ne-issue", true, issue, 0, NULL, &err, "ne %s",
                      q->h.ne) == 0;
    if (!r->ok) snprintf(r->error_description, sizeof r->error_description, "the ADMF cannot record the report now");
    else ctl_x1_status_note(admf->status, q->h.ne, "ne_issue", issue, lisec_time_now_ms());
  } else {
    r->error_code = X1_ERR_UNSUPPORTED;
    snprintf(r->error_description, sizeof r->error_description,
             "an ADMF takes ReportTaskIssue, ReportDestinationIssue, ReportNEIssue and Keepalive from an NE");
  }
}

int ctl_x1_ne_request(lisec_ctl *ctl, const ctl_actor *actor, const char *xml, size_t len, char **out,
                      size_t *out_len, lisec_err *err) {
  json_t *nes = NULL;
  int rc = nes_of_actor(ctl, actor, &nes, err);
  if (!rc && json_object_size(nes) == 0) {
    /* one answer for another role, another CN, an unknown NE */
    lisec_err_set(err, LISEC_EDENIED,
                  "TR103308-5.2: this certificate does not speak for a network element: X1 from an NE "
                  "comes from the NE's own certificate, role host with the NE's report_cn");
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "x1.ne-request", true, NULL, LISEC_EDENIED, NULL, err,
                   "x1 request");
  }
  if (rc) {
    json_decref(nes);
    return rc;
  }
  x1_request *q = calloc(X1_MAX_MESSAGES, sizeof *q);
  x1_response *r = calloc(X1_MAX_MESSAGES, sizeof *r);
  const x1_response *rp[X1_MAX_MESSAGES];
  size_t n = 0;
  lisec_err perr = {0};
  if (!q || !r) {
    rc = lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  } else if (x1_request_parse_all(xml, len, q, X1_MAX_MESSAGES, &n, &perr) != 0) {
    /* not even a type and transaction to echo: the container-level error */
    const char *k = json_object_iter_key(json_object_iter(nes)); /* nes is not empty */
    r[0].top_level = true;
    x1_header_init(&r[0].h, jstr(json_object_get(nes, k), "admf_id"), k, NULL);
    rp[0] = &r[0];
    n = 1;
  } else {
    for (size_t i = 0; i < n; i++) {
      ne_message(ctl, nes, &q[i], &r[i]);
      rp[i] = &r[i];
    }
  }
  if (!rc) rc = x1_response_build_many(rp, n, out, out_len, err);
  if (q) crypto_wipe(q, X1_MAX_MESSAGES * sizeof *q);
  free(q);
  free(r);
  json_decref(nes);
  return rc;
}

/* ---- ReportTaskIssue ---------------------------------------------------- */

int ctl_x1_report(lisec_ctl *ctl, const ctl_actor *actor, const json_t *body, json_t **out,
                  lisec_err *err) {
  struct ctl_x1_state *admf = ctl->shared->x1;
  const char *ne_id, *xml;
  int rc;
  if ((rc = lisec_json_get_str(body, "ne", true, X1_ID_MAX, &ne_id, err)) ||
      (rc = lisec_json_get_str(body, "xml", true, X1_MESSAGE_MAX, &xml, err)))
    return rc;
  char *nebody = NULL;
  json_t *ne = NULL;
  /* NEs hold the host role (their certificate's CN is the NE's report_cn).
   * The role is checked before anything is loaded, and an unknown NE, a
   * certificate of another role and one with another CN get one answer, so
   * the reply never tells whether an NE id exists. */
  const char *subj = actor->subject ? actor->subject : "?";
  bool ne_role = ctl_actor_role(actor) == CTL_ROLE_HOST;
  rc = ne_role ? store_doc_get(ctl->store, NE_KIND, ne_id, &nebody, NULL, err) : LISEC_EDENIED;
  if (!rc) rc = lisec_json_parse(nebody, strlen(nebody), &ne, err);
  free(nebody);
  if (rc == LISEC_EDENIED || rc == LISEC_ENOTFOUND ||
      (!rc && strcmp(subj, jstr(ne, "report_cn")) != 0))
    rc = lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-5.2: this certificate (CN %.64s) does not speak for ne %s: an X1 "
                       "report comes from the NE's own certificate, role host with the NE's report_cn",
                       subj, ne_id);
  x1_request q;
  x1_response r;
  x1_response_init(&r);
  bool x1_ok = false;
  if (!rc) {
    lisec_err xerr = {0};
    x1_ok = x1_request_parse(xml, strlen(xml), &q, &xerr) == 0;
    r.type = x1_ok ? q.type : X1_REPORT_TASK_ISSUE;
    x1_header_init(&r.h, jstr(ne, "admf_id"), ne_id, NULL);
    if (x1_ok) snprintf(r.h.transaction, sizeof r.h.transaction, "%s", q.h.transaction);
    r.ok = false;
    r.error_code = X1_ERR_SCHEMA;
    snprintf(r.error_description, sizeof r.error_description, "%.200s", xerr.msg[0] ? xerr.msg : "refused");
    if (x1_ok && q.type != X1_REPORT_TASK_ISSUE) {
      r.error_code = X1_ERR_GENERIC;
      snprintf(r.error_description, sizeof r.error_description, "the ADMF accepts only ReportTaskIssue");
    } else if (x1_ok && (strcmp(q.h.ne, ne_id) != 0 || strcmp(q.h.admf, jstr(ne, "admf_id")) != 0)) {
      r.error_code = X1_ERR_NOT_AUTHORISED;
      snprintf(r.error_description, sizeof r.error_description, "the message names another NE or ADMF");
    } else if (x1_ok && report_admitted(admf, ne_id, &r)) {
      /* the issue is about a task: found by XID on this NE */
      task_issue(ctl, ne_id, &q, &r);
      if (r.ok) wake_loop(admf);
    }
  }
  if (x1_ok) crypto_wipe(&q, sizeof q);
  json_decref(ne);
  /* attempts to speak for an NE leave a trace */
  if (rc == LISEC_EDENIED)
    rc = ctl_audit(ctl, actor, CTL_OUTCOME_DENIED, "x1.issue", true, NULL, rc, NULL, err,
                   "x1 report");
  if (rc) return rc;
  char *resp = NULL;
  size_t len = 0;
  if ((rc = x1_response_build(&r, &resp, &len, err))) return rc;
  *out = json_pack("{s:s, s:b}", "xml", resp, "accepted", r.ok);
  free(resp);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}
