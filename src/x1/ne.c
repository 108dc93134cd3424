/* The network element's X1 logic: read the container (each message validated
 * against ETSI's schema on its own), authenticate the ADMF (certificate name
 * and the admfIdentifier the message asserts must both be the configured
 * one, and the message must be addressed to this NE), check the version,
 * then apply each request to the task and destination tables and answer
 * each, echoing its type and transaction. Refusals carry TS 103 221-1 error
 * codes (x1/x1.h) and a reason. */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lisec/x1.h"
#include "x1/x1.h"

#define NE_MAX_TASKS 4096
#define NE_MAX_DESTS X1_MAX_DEST_LIST
#define NE_MAX_OBJECTS 256 /* destination sets and hash contexts */
#define NE_VERSION_MIN "v1.13.1"

struct lisec_x1_ne {
  char id[X1_ID_MAX + 1], admf[X1_ID_MAX + 1];
  char version_min[16], version_max[16];
  bool strict_destinations;
  lisec_x1_task_cb cb;
  void *ctx;
  pthread_mutex_t lock;
  x1_task *tasks;
  size_t n;
  x1_destination *dests;
  size_t n_dests;
  x1_object *objects;
  size_t n_objects;
};

lisec_x1_ne *lisec_x1_ne_new(const char *ne_id, const char *admf_id, lisec_x1_task_cb cb, void *ctx) {
  if (!ne_id || !admf_id || strnlen(ne_id, X1_ID_MAX + 1) > X1_ID_MAX ||
      strnlen(admf_id, X1_ID_MAX + 1) > X1_ID_MAX || !lisec_id_valid(ne_id) || !lisec_id_valid(admf_id))
    return NULL;
  lisec_x1_ne *ne = calloc(1, sizeof *ne);
  if (!ne || !(ne->tasks = calloc(NE_MAX_TASKS, sizeof *ne->tasks)) ||
      !(ne->dests = calloc(NE_MAX_DESTS, sizeof *ne->dests)) ||
      !(ne->objects = calloc(NE_MAX_OBJECTS, sizeof *ne->objects))) {
    if (ne) free(ne->tasks), free(ne->dests);
    free(ne);
    return NULL;
  }
  snprintf(ne->id, sizeof ne->id, "%s", ne_id);
  snprintf(ne->admf, sizeof ne->admf, "%s", admf_id);
  snprintf(ne->version_min, sizeof ne->version_min, "%s", NE_VERSION_MIN);
  snprintf(ne->version_max, sizeof ne->version_max, "%s", X1_VERSION);
  ne->cb = cb;
  ne->ctx = ctx;
  pthread_mutex_init(&ne->lock, NULL);
  return ne;
}

void lisec_x1_ne_free(lisec_x1_ne *ne) {
  if (!ne) return;
  /* tasks hold target identifiers: wipe before freeing */
  explicit_bzero(ne->tasks, NE_MAX_TASKS * sizeof *ne->tasks);
  free(ne->tasks);
  explicit_bzero(ne->dests, NE_MAX_DESTS * sizeof *ne->dests);
  free(ne->dests);
  explicit_bzero(ne->objects, NE_MAX_OBJECTS * sizeof *ne->objects); /* salts */
  free(ne->objects);
  pthread_mutex_destroy(&ne->lock);
  free(ne);
}

int lisec_x1_ne_set_versions(lisec_x1_ne *ne, const char *min, const char *max) {
  if (!min || !max || strlen(min) >= sizeof ne->version_min || strlen(max) >= sizeof ne->version_max ||
      !x1_version_within(min, min, max))
    return -1;
  pthread_mutex_lock(&ne->lock);
  snprintf(ne->version_min, sizeof ne->version_min, "%s", min);
  snprintf(ne->version_max, sizeof ne->version_max, "%s", max);
  pthread_mutex_unlock(&ne->lock);
  return 0;
}

void lisec_x1_ne_set_strict_destinations(lisec_x1_ne *ne, int strict) {
  pthread_mutex_lock(&ne->lock);
  ne->strict_destinations = strict != 0;
  pthread_mutex_unlock(&ne->lock);
}

static x1_task *find(lisec_x1_ne *ne, const char *xid) {
  for (size_t i = 0; i < ne->n; i++)
    if (strcmp(ne->tasks[i].xid, xid) == 0) return &ne->tasks[i];
  return NULL;
}

static x1_destination *find_dest(lisec_x1_ne *ne, const char *did) {
  for (size_t i = 0; i < ne->n_dests; i++)
    if (strcmp(ne->dests[i].did, did) == 0) return &ne->dests[i];
  return NULL;
}

static x1_object *find_object(lisec_x1_ne *ne, const char *id) {
  for (size_t i = 0; i < ne->n_objects; i++)
    if (strcmp(ne->objects[i].id, id) == 0) return &ne->objects[i];
  return NULL;
}

/* Whether a task or a destination set names the destination; *by says which. */
static bool dest_in_use(lisec_x1_ne *ne, const char *did, const char **by) {
  for (size_t i = 0; i < ne->n; i++)
    for (size_t k = 0; k < ne->tasks[i].n_dids; k++)
      if (strcmp(ne->tasks[i].dids[k], did) == 0) {
        *by = "a task";
        return true;
      }
  for (size_t i = 0; i < ne->n_objects; i++)
    for (size_t k = 0; k < ne->objects[i].n_dids; k++)
      if (strcmp(ne->objects[i].dids[k], did) == 0) {
        *by = "a destination set";
        return true;
      }
  return false;
}

/* Whether a task names the object: a destination set (dSId) or the hash
 * context of a HashedID target. */
static bool object_in_use(lisec_x1_ne *ne, const char *id) {
  for (size_t i = 0; i < ne->n; i++) {
    const x1_task *t = &ne->tasks[i];
    for (size_t k = 0; k < t->n_dsids; k++)
      if (strcmp(t->dsids[k], id) == 0) return true;
    for (size_t k = 0; k < t->n_targets; k++)
      if (strcmp(t->targets[k].element, "hashedIdentifier") == 0 && strncmp(t->targets[k].value, id, X1_UUID_LEN) == 0)
        return true;
  }
  return false;
}

static int refuse(x1_response *r, int code, const char *why) {
  r->ok = false;
  r->error_code = code;
  snprintf(r->error_description, sizeof r->error_description, "%.256s", why);
  return 0;
}

/* In strict mode every destination and destination set a task names must
 * have been created. */
static int check_destinations(lisec_x1_ne *ne, const x1_task *t, x1_response *r) {
  if (!ne->strict_destinations) return 1;
  for (size_t i = 0; i < t->n_dsids; i++) {
    const x1_object *o = find_object(ne, t->dsids[i]);
    if (!o || o->kind != X1_OBJECT_DESTINATION_SET)
      return refuse(r, X1_ERR_GENERIC, "the task names a destination set (dSId) that was not created");
  }
  for (size_t i = 0; i < t->n_dids; i++)
    if (!find_dest(ne, t->dids[i]))
      return refuse(r, X1_ERR_GENERIC, "the task names a destination (dId) that was not created");
  return 1;
}

/* The kinds of identity a HashedID may hash here: those lisec reads in
 * clear (docs/x1.md). */
static bool hashable_kind(const char *type) {
  static const char *const kinds[] = {"e164Number", "imsi", "imei", "peiImei", "peiImeiCheckDigit", "peiImeisv",
                                      "supiimsi", "supinai", "gpsiMsisdn", "gpsiNai", "macAddress", "ipv4Address",
                                      "ipv6Address", "emailAddress", "sipUri", "telUri", "impu", "impi", "nai"};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(type, kinds[i]) == 0) return true;
  return false;
}

/* Every HashedID target must name a hash context this NE holds, carry a
 * digest of its algorithm's length and hash a kind of identity lisec
 * knows (TS 103 221-1 HashedID). */
static int check_hashed(lisec_x1_ne *ne, const x1_task *t, x1_response *r) {
  for (size_t i = 0; i < t->n_targets; i++) {
    const x1_target *x = &t->targets[i];
    if (strcmp(x->element, "hashedIdentifier") != 0) continue;
    char ctx[X1_UUID_LEN + 1], type[X1_HASH_TYPE_MAX + 1];
    const char *first = strchr(x->value, ' '), *last = strrchr(x->value, ' ');
    snprintf(ctx, sizeof ctx, "%.36s", x->value);
    snprintf(type, sizeof type, "%.*s", first && last > first ? (int)(last - first - 1) : 0, first ? first + 1 : "");
    const x1_object *o = find_object(ne, ctx);
    if (!o || o->kind != X1_OBJECT_HASH_CONTEXT)
      return refuse(r, X1_ERR_GENERIC, "HashedID: the hashContextID names no hash context this NE holds "
                                       "(CreateObject with a HashContext first)");
    if (!last || strlen(last + 1) != 2 * x1_hash_length(o->algorithm))
      return refuse(r, X1_ERR_GENERIC, "HashedID: the hashDigest is not as long as its hash context's algorithm "
                                       "makes it");
    if (!hashable_kind(type))
      return refuse(r, X1_ERR_GENERIC, "HashedID: this NE does not match hashes of that targetIdentityType "
                                       "(docs/x1.md lists the kinds)");
  }
  return 1;
}

/* A generic object to keep: a hash context of an algorithm lisec knows;
 * in strict mode a destination set of created destinations. */
static int check_object(lisec_x1_ne *ne, const x1_object *o, x1_response *r) {
  if (o->kind == X1_OBJECT_HASH_CONTEXT && !x1_hash_length(o->algorithm))
    return refuse(r, X1_ERR_GENERIC, "HashedID: hash algorithm not supported");
  for (size_t i = 0; ne->strict_destinations && o->kind == X1_OBJECT_DESTINATION_SET && i < o->n_dids; i++)
    if (!find_dest(ne, o->dids[i]))
      return refuse(r, X1_ERR_GENERIC, "the destination set names a destination (dId) that was not created");
  return 1;
}

/* A copy of n entries for a response built after the lock is released;
 * NULL (and n 0) when there are none or no memory. */
static void *copy_of(const void *from, size_t n, size_t size) {
  if (!n) return NULL;
  void *p = malloc(n * size);
  if (p) memcpy(p, from, n * size);
  return p;
}

typedef struct change {
  const char *what;
  char id[X1_UUID_LEN + 1];
} change;

static void changed(change *c, const char *what, const char *id) {
  c->what = what;
  snprintf(c->id, sizeof c->id, "%s", id);
}

/* Applies an authenticated request; fills r. Called with the lock held. */
static int apply(lisec_x1_ne *ne, const x1_request *q, x1_response *r, change *c) {
  x1_task *t;
  x1_destination *d;
  const char *by;
  r->ok = true;
  switch (q->type) {
    case X1_ACTIVATE_TASK:
      if (find(ne, q->task.xid)) return refuse(r, X1_ERR_XID_EXISTS, "a task with this XID is active");
      if (ne->n == NE_MAX_TASKS) return refuse(r, X1_ERR_GENERIC, "task table full");
      if (!check_destinations(ne, &q->task, r) || !check_hashed(ne, &q->task, r)) return 0;
      ne->tasks[ne->n++] = q->task;
      changed(c, "activate", q->task.xid);
      return 0;
    case X1_MODIFY_TASK:
      if (!(t = find(ne, q->task.xid))) return refuse(r, X1_ERR_UNKNOWN_XID, "no task with this XID");
      if (!check_destinations(ne, &q->task, r) || !check_hashed(ne, &q->task, r)) return 0;
      *t = q->task;
      changed(c, "modify", q->task.xid);
      return 0;
    case X1_DEACTIVATE_TASK:
      if (!(t = find(ne, q->xid))) return refuse(r, X1_ERR_UNKNOWN_XID, "no task with this XID");
      explicit_bzero(t, sizeof *t);
      *t = ne->tasks[--ne->n];
      explicit_bzero(&ne->tasks[ne->n], sizeof *t);
      changed(c, "deactivate", q->xid);
      return 0;
    case X1_DEACTIVATE_ALL_TASKS:
      explicit_bzero(ne->tasks, ne->n * sizeof *ne->tasks);
      ne->n = 0;
      changed(c, "deactivate-all", "");
      return 0;
    case X1_GET_TASK_DETAILS:
      if (!(t = find(ne, q->xid))) return refuse(r, X1_ERR_UNKNOWN_XID, "no task with this XID");
      r->task = *t;
      r->has_task = true;
      snprintf(r->status, sizeof r->status, "complete");
      return 0;
    case X1_CREATE_DESTINATION:
      if (find_dest(ne, q->dest.did)) return refuse(r, X1_ERR_GENERIC, "a destination with this DID exists");
      if (ne->n_dests == NE_MAX_DESTS) return refuse(r, X1_ERR_GENERIC, "destination table full");
      ne->dests[ne->n_dests++] = q->dest;
      changed(c, "create-destination", q->dest.did);
      return 0;
    case X1_MODIFY_DESTINATION:
      if (!(d = find_dest(ne, q->dest.did))) return refuse(r, X1_ERR_GENERIC, "no destination with this DID");
      *d = q->dest;
      changed(c, "modify-destination", q->dest.did);
      return 0;
    case X1_REMOVE_DESTINATION:
      if (!(d = find_dest(ne, q->did))) return refuse(r, X1_ERR_GENERIC, "no destination with this DID");
      if (dest_in_use(ne, q->did, &by))
        return refuse(r, X1_ERR_GENERIC, strcmp(by, "a task") == 0 ? "the destination is in use by a task"
                                                                   : "the destination is in use by a destination set");
      *d = ne->dests[--ne->n_dests];
      memset(&ne->dests[ne->n_dests], 0, sizeof *d);
      changed(c, "remove-destination", q->did);
      return 0;
    case X1_GET_DESTINATION_DETAILS:
      if (!(d = find_dest(ne, q->did))) return refuse(r, X1_ERR_GENERIC, "no destination with this DID");
      r->dest = *d;
      r->has_dest = true;
      snprintf(r->status, sizeof r->status, "activeAndWorking");
      return 0;
    case X1_LIST_ALL_DETAILS:
      if (ne->n > X1_MAX_LIST) return refuse(r, X1_ERR_GENERIC, "more tasks than one list holds");
      for (size_t i = 0; i < ne->n; i++) memcpy(r->xids[i], ne->tasks[i].xid, X1_UUID_LEN + 1);
      r->n_xids = ne->n;
      for (size_t i = 0; i < ne->n_dests; i++) memcpy(r->dest_ids[i], ne->dests[i].did, X1_UUID_LEN + 1);
      r->n_dest_ids = ne->n_dests;
      r->objects = copy_of(ne->objects, ne->n_objects, sizeof *ne->objects);
      r->n_objects = r->objects ? ne->n_objects : 0;
      return 0;
    case X1_REMOVE_ALL_DESTINATIONS:
      /* all or none: a destination a task or a set names stays, and so do the others */
      for (size_t i = 0; i < ne->n_dests; i++)
        if (dest_in_use(ne, ne->dests[i].did, &by))
          return refuse(r, X1_ERR_GENERIC, strcmp(by, "a task") == 0
                                               ? "a destination is in use by a task: none was removed"
                                               : "a destination is in use by a destination set: none was removed");
      memset(ne->dests, 0, ne->n_dests * sizeof *ne->dests);
      ne->n_dests = 0;
      changed(c, "remove-all-destinations", "");
      return 0;
    case X1_GET_ALL_DETAILS:
    case X1_GET_ALL_TASK_DETAILS:
    case X1_GET_ALL_DESTINATION_DETAILS:
      snprintf(r->status, sizeof r->status, "OK");
      if (q->type != X1_GET_ALL_DESTINATION_DETAILS) {
        r->tasks = copy_of(ne->tasks, ne->n, sizeof *ne->tasks);
        r->n_tasks = r->tasks ? ne->n : 0;
        if (ne->n && !r->tasks) return refuse(r, X1_ERR_GENERIC, "out of memory");
      }
      if (q->type != X1_GET_ALL_TASK_DETAILS) {
        r->dests = copy_of(ne->dests, ne->n_dests, sizeof *ne->dests);
        r->n_dests = r->dests ? ne->n_dests : 0;
        if (ne->n_dests && !r->dests) return refuse(r, X1_ERR_GENERIC, "out of memory");
      }
      if (q->type == X1_GET_ALL_DETAILS) {
        r->objects = copy_of(ne->objects, ne->n_objects, sizeof *ne->objects);
        r->n_objects = r->objects ? ne->n_objects : 0;
      }
      return 0;
    case X1_CREATE_OBJECT:
      if (find_object(ne, q->obj.id)) return refuse(r, X1_ERR_GENERIC, "an object with this objectId exists");
      if (ne->n_objects == NE_MAX_OBJECTS) return refuse(r, X1_ERR_GENERIC, "object table full");
      if (!check_object(ne, &q->obj, r)) return 0;
      ne->objects[ne->n_objects++] = q->obj;
      changed(c, "create-object", q->obj.id);
      return 0;
    case X1_MODIFY_OBJECT: {
      x1_object *o = find_object(ne, q->obj.id);
      if (!o) return refuse(r, X1_ERR_GENERIC, "no object with this objectId");
      if (o->kind != q->obj.kind) return refuse(r, X1_ERR_GENERIC, "the object is of another type");
      if (!check_object(ne, &q->obj, r)) return 0;
      *o = q->obj;
      changed(c, "modify-object", q->obj.id);
      return 0;
    }
    case X1_DELETE_OBJECT: {
      x1_object *o = find_object(ne, q->obj.id);
      if (!o) return refuse(r, X1_ERR_GENERIC, "no object with this objectId");
      if (object_in_use(ne, q->obj.id)) return refuse(r, X1_ERR_GENERIC, "the object is in use by a task");
      explicit_bzero(o, sizeof *o);
      *o = ne->objects[--ne->n_objects];
      explicit_bzero(&ne->objects[ne->n_objects], sizeof *o);
      changed(c, "delete-object", q->obj.id);
      return 0;
    }
    case X1_GET_NE_STATUS: snprintf(r->status, sizeof r->status, "OK"); return 0;
    case X1_PING:
    case X1_KEEPALIVE: return 0;
    default: /* ReportTaskIssue, ReportDestinationIssue, ReportNEIssue: an NE sends them, it takes none */
      return refuse(r, X1_ERR_UNSUPPORTED, "a network element does not take this request; it sends it");
  }
}

/* Answers one message of the container into r; c names the change made. */
static void answer(lisec_x1_ne *ne, const char *peer_cn, const x1_request *q, x1_response *r, change *c) {
  x1_response_init(r);
  x1_header_init(&r->h, ne->admf, ne->id, NULL);
  snprintf(r->h.transaction, sizeof r->h.transaction, "%s", q->h.transaction);
  r->type = q->type;
  snprintf(r->request_type, sizeof r->request_type, "%s", q->type_name);
  pthread_mutex_lock(&ne->lock);
  bool version_ok = x1_version_within(q->h.version, ne->version_min, ne->version_max);
  /* answer in the request's version when this NE speaks it */
  snprintf(r->h.version, sizeof r->h.version, "%s", version_ok ? q->h.version : ne->version_max);
  if (q->refuse_code)
    refuse(r, q->refuse_code, q->refuse_why);
  else if (!peer_cn || strcmp(peer_cn, ne->admf) != 0 || strcmp(q->h.admf, ne->admf) != 0)
    refuse(r, X1_ERR_NOT_AUTHORISED, "the ADMF certificate or identifier is not the one this NE obeys");
  else if (strcmp(q->h.ne, ne->id) != 0)
    refuse(r, X1_ERR_NOT_AUTHORISED, "the request is addressed to another network element");
  else if (!version_ok) {
    char why[96];
    snprintf(why, sizeof why, "this NE speaks X1 %s to %s", ne->version_min, ne->version_max);
    refuse(r, X1_ERR_VERSION, why);
  } else
    apply(ne, q, r, c);
  pthread_mutex_unlock(&ne->lock);
  /* a refusal's reason must be there for the ADMF to show */
  if (!r->ok && r->error_description[0] == '\0') snprintf(r->error_description, sizeof r->error_description, "refused");
}

int lisec_x1_ne_handle(lisec_x1_ne *ne, const char *peer_cn, const char *request, size_t len,
                       char **response, size_t *response_len) {
  /* uninitialised: parsing clears each message it fills, and only those are wiped */
  x1_request *qs = malloc(X1_MAX_MESSAGES * sizeof *qs);
  size_t n = 0;
  lisec_err err = {0};
  if (!qs) return -1;
  x1_response *rs = NULL;
  const x1_response *out[X1_MAX_MESSAGES];
  change changes[X1_MAX_MESSAGES] = {0};
  int rc = -1;
  if (x1_request_parse_all(request, len, qs, X1_MAX_MESSAGES, &n, &err) != 0) {
    /* nothing to echo: TS 103 221-1's top-level error */
    if ((rs = malloc(sizeof *rs))) {
      x1_response_init(rs);
      x1_header_init(&rs->h, ne->admf, ne->id, NULL);
      pthread_mutex_lock(&ne->lock);
      snprintf(rs->h.version, sizeof rs->h.version, "%s", ne->version_max);
      pthread_mutex_unlock(&ne->lock);
      rs->top_level = true;
      out[0] = rs;
      n = 1;
      rc = x1_response_build_many(out, 1, response, response_len, &err);
    }
  } else if ((rs = malloc(n * sizeof *rs))) {
    for (size_t i = 0; i < n; i++) {
      answer(ne, peer_cn, &qs[i], &rs[i], &changes[i]);
      out[i] = &rs[i];
    }
    for (size_t i = 0; i < n; i++)
      if (changes[i].what && ne->cb) ne->cb(ne->ctx, changes[i].what, changes[i].id);
    rc = x1_response_build_many(out, n, response, response_len, &err);
  }
  if (!rs || !rs->top_level) explicit_bzero(qs, n * sizeof *qs);
  free(qs);
  for (size_t i = 0; rs && i < n; i++) {
    /* the copies of the tables a GetAll answer was built from */
    if (rs[i].tasks) explicit_bzero(rs[i].tasks, rs[i].n_tasks * sizeof *rs[i].tasks);
    if (rs[i].objects) explicit_bzero(rs[i].objects, rs[i].n_objects * sizeof *rs[i].objects);
    free(rs[i].tasks);
    free(rs[i].dests);
    free(rs[i].objects);
    explicit_bzero(&rs[i], X1_RESPONSE_HEAD);
  }
  free(rs);
  return rc ? -1 : 0;
}

size_t lisec_x1_ne_task_count(const lisec_x1_ne *ne) { return ne->n; }

char *lisec_x1_ne_task_targets(const lisec_x1_ne *ne, const char *xid) {
  lisec_x1_ne *m = (lisec_x1_ne *)ne;
  pthread_mutex_lock(&m->lock);
  x1_task *t = find(m, xid);
  lisec_buf b;
  lisec_buf_init(&b, 64 * 1024);
  for (size_t i = 0; t && i < t->n_targets; i++)
    lisec_buf_printf(&b, "%s=%s\n", t->targets[i].element, t->targets[i].value);
  pthread_mutex_unlock(&m->lock);
  if (t && !b.data) lisec_buf_append(&b, "", 0);
  return (char *)b.data;
}

/* ---- keeping the tasks on disk ------------------------------------------ */

#define NE_STATE_FORMAT "lisec-ne-tasks/1"

static json_t *ids_json(const char (*ids)[X1_UUID_LEN + 1], size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(ids[i]));
  return a;
}

static json_t *task_json(const x1_task *t) {
  json_t *targets = json_array();
  for (size_t i = 0; i < t->n_targets; i++)
    json_array_append_new(targets, json_pack("{s:s, s:s}", "element", t->targets[i].element, "value",
                                             t->targets[i].value));
  return json_pack("{s:s, s:s, s:o, s:o, s:o}", "xid", t->xid, "delivery", t->delivery, "targets", targets,
                   "dids", ids_json(t->dids, t->n_dids), "dsids", ids_json(t->dsids, t->n_dsids));
}

static json_t *dest_json(const x1_destination *d) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:b}", "did", d->did, "friendly", d->friendly, "delivery",
                   d->delivery, "address_kind", d->address_kind, "address", d->address, "port", d->port, "udp",
                   d->udp);
}

/* A destination set or a hash context. */
static json_t *object_json(const x1_object *o) {
  if (o->kind == X1_OBJECT_HASH_CONTEXT)
    return json_pack("{s:s, s:s, s:s, s:s}", "kind", "hash-context", "id", o->id, "algorithm", o->algorithm,
                     "salt", o->salt);
  json_t *dids = json_array();
  for (size_t i = 0; i < o->n_dids; i++)
    json_array_append_new(dids, json_pack("{s:s, s:I}", "did", o->dids[i], "preference",
                                          (json_int_t)o->preference[i]));
  return json_pack("{s:s, s:s, s:s, s:s, s:o}", "kind", "destination-set", "id", o->id, "name", o->friendly,
                   "type", o->set_type, "dids", dids);
}

int lisec_x1_ne_save(lisec_x1_ne *ne, char **out, size_t *len) {
  json_t *tasks = json_array();
  json_t *dests = json_array();
  json_t *objects = json_array();
  pthread_mutex_lock(&ne->lock);
  for (size_t i = 0; i < ne->n; i++) json_array_append_new(tasks, task_json(&ne->tasks[i]));
  for (size_t i = 0; i < ne->n_dests; i++) json_array_append_new(dests, dest_json(&ne->dests[i]));
  for (size_t i = 0; i < ne->n_objects; i++) json_array_append_new(objects, object_json(&ne->objects[i]));
  pthread_mutex_unlock(&ne->lock);
  json_t *doc = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "format", NE_STATE_FORMAT, "ne", ne->id, "admf",
                          ne->admf, "tasks", tasks, "destinations", dests, "objects", objects);
  char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(doc);
  if (!text) return -1;
  *out = text;
  *len = strlen(text);
  return 0;
}

/* A stored string copied into a bounded field; false when absent or too long. */
static bool copy_str(const json_t *obj, const char *key, char *out, size_t cap) {
  const char *v = json_string_value(json_object_get(obj, key));
  if (!v || !*v || strlen(v) >= cap) return false;
  memcpy(out, v, strlen(v) + 1);
  return true;
}

static bool uuid_ok(const char *s) {
  if (strlen(s) != X1_UUID_LEN) return false;
  for (int i = 0; i < X1_UUID_LEN; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = s[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
      return false;
  }
  return true;
}

/* A list of UUIDs, 0 to X1_MAX_DIDS of them; absent reads as empty (files
 * written before destination sets). */
static bool ids_from_json(const json_t *a, char (*ids)[X1_UUID_LEN + 1], size_t *n) {
  size_t i;
  const json_t *v;
  if (!a) return true;
  if (!json_is_array(a) || json_array_size(a) > X1_MAX_DIDS) return false;
  json_array_foreach(a, i, v) {
    const char *d = json_string_value(v);
    if (!d || !uuid_ok(d)) return false;
    memcpy(ids[(*n)++], d, X1_UUID_LEN + 1);
  }
  return true;
}

static bool task_from_json(const json_t *j, x1_task *t) {
  memset(t, 0, sizeof *t);
  const json_t *targets = json_object_get(j, "targets");
  if (!copy_str(j, "xid", t->xid, sizeof t->xid) || !uuid_ok(t->xid) ||
      !copy_str(j, "delivery", t->delivery, sizeof t->delivery) || !json_is_array(targets) ||
      json_array_size(targets) == 0 || json_array_size(targets) > X1_MAX_TARGETS ||
      !ids_from_json(json_object_get(j, "dids"), t->dids, &t->n_dids) ||
      !ids_from_json(json_object_get(j, "dsids"), t->dsids, &t->n_dsids))
    return false;
  size_t i;
  const json_t *v;
  json_array_foreach(targets, i, v) {
    x1_target *x = &t->targets[t->n_targets++];
    if (!copy_str(v, "element", x->element, sizeof x->element) ||
        !copy_str(v, "value", x->value, sizeof x->value))
      return false;
    /* files written before lisec used the schema's element names */
    static const char *const renamed[][2] = {
        {"mACAddress", "macAddress"}, {"supiIMSI", "supiimsi"}, {"gpsiMSISDN", "gpsiMsisdn"}};
    for (size_t k = 0; k < LISEC_ARRAY_LEN(renamed); k++)
      if (strcmp(x->element, renamed[k][0]) == 0) snprintf(x->element, sizeof x->element, "%s", renamed[k][1]);
  }
  return true;
}

static bool dest_from_json(const json_t *j, x1_destination *d) {
  memset(d, 0, sizeof *d);
  const char *friendly = json_string_value(json_object_get(j, "friendly"));
  json_int_t port = json_integer_value(json_object_get(j, "port"));
  if (!copy_str(j, "did", d->did, sizeof d->did) || !uuid_ok(d->did) ||
      !copy_str(j, "delivery", d->delivery, sizeof d->delivery) ||
      !copy_str(j, "address_kind", d->address_kind, sizeof d->address_kind) ||
      !copy_str(j, "address", d->address, sizeof d->address) || !friendly ||
      strlen(friendly) >= sizeof d->friendly || port < 0 || port > 65535)
    return false;
  memcpy(d->friendly, friendly, strlen(friendly) + 1);
  d->port = (int)port;
  d->udp = json_is_true(json_object_get(j, "udp"));
  return true;
}

static bool lower_hex(const char *s, size_t min, size_t max) {
  size_t n = strlen(s);
  if (n < min || n > max || n % 2) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

static bool object_from_json(const json_t *j, x1_object *o) {
  memset(o, 0, sizeof *o);
  const char *kind = json_string_value(json_object_get(j, "kind"));
  if (!kind || !copy_str(j, "id", o->id, sizeof o->id) || !uuid_ok(o->id)) return false;
  if (strcmp(kind, "hash-context") == 0) {
    o->kind = X1_OBJECT_HASH_CONTEXT;
    return copy_str(j, "algorithm", o->algorithm, sizeof o->algorithm) && x1_hash_length(o->algorithm) &&
           copy_str(j, "salt", o->salt, sizeof o->salt) && lower_hex(o->salt, 16, 2 * X1_SALT_MAX);
  }
  const json_t *dids = json_object_get(j, "dids");
  const char *name = json_string_value(json_object_get(j, "name"));
  if (strcmp(kind, "destination-set") != 0 || !name || strlen(name) >= sizeof o->friendly ||
      !copy_str(j, "type", o->set_type, sizeof o->set_type) || !json_is_array(dids) ||
      json_array_size(dids) > X1_MAX_DIDS)
    return false;
  o->kind = X1_OBJECT_DESTINATION_SET;
  memcpy(o->friendly, name, strlen(name) + 1);
  size_t i;
  const json_t *v;
  json_array_foreach(dids, i, v) {
    if (!copy_str(v, "did", o->dids[i], sizeof o->dids[i]) || !uuid_ok(o->dids[i])) return false;
    o->preference[i] = (long)json_integer_value(json_object_get(v, "preference"));
    o->n_dids++;
  }
  return true;
}

int lisec_x1_ne_load(lisec_x1_ne *ne, const char *data, size_t len) {
  if (len > (size_t)NE_MAX_TASKS * 8192) return -1;
  json_error_t je;
  json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
  const json_t *tasks = json_object_get(doc, "tasks");
  const char *fmt = json_string_value(json_object_get(doc, "format"));
  const char *id = json_string_value(json_object_get(doc, "ne"));
  /* a file written for another NE or in another format is not ours to load */
  if (!doc || !fmt || strcmp(fmt, NE_STATE_FORMAT) != 0 || !id || strcmp(id, ne->id) != 0 ||
      !json_is_array(tasks) || json_array_size(tasks) > NE_MAX_TASKS) {
    json_decref(doc);
    return -1;
  }
  const json_t *dests = json_object_get(doc, "destinations");
  const json_t *objects = json_object_get(doc, "objects"); /* absent in files written before them */
  x1_task *loaded = calloc(NE_MAX_TASKS, sizeof *loaded);
  x1_destination *ldests = calloc(NE_MAX_DESTS, sizeof *ldests);
  x1_object *lobjects = calloc(NE_MAX_OBJECTS, sizeof *lobjects);
  size_t n = 0, nd = 0, no = 0, i;
  const json_t *v;
  bool ok = loaded && ldests && lobjects &&
            (!dests || (json_is_array(dests) && json_array_size(dests) <= NE_MAX_DESTS)) &&
            (!objects || (json_is_array(objects) && json_array_size(objects) <= NE_MAX_OBJECTS));
  json_array_foreach(tasks, i, v) {
    if (!ok) break;
    ok = task_from_json(v, &loaded[n]);
    for (size_t k = 0; ok && k < n; k++) ok = strcmp(loaded[k].xid, loaded[n].xid) != 0;
    n++;
  }
  json_array_foreach(dests, i, v) {
    if (!ok) break;
    ok = dest_from_json(v, &ldests[nd]);
    for (size_t k = 0; ok && k < nd; k++) ok = strcmp(ldests[k].did, ldests[nd].did) != 0;
    nd++;
  }
  json_array_foreach(objects, i, v) {
    if (!ok) break;
    ok = object_from_json(v, &lobjects[no]);
    for (size_t k = 0; ok && k < no; k++) ok = strcmp(lobjects[k].id, lobjects[no].id) != 0;
    no++;
  }
  json_decref(doc);
  if (ok) {
    pthread_mutex_lock(&ne->lock);
    explicit_bzero(ne->tasks, NE_MAX_TASKS * sizeof *ne->tasks);
    memcpy(ne->tasks, loaded, n * sizeof *loaded);
    ne->n = n;
    memset(ne->dests, 0, NE_MAX_DESTS * sizeof *ne->dests);
    memcpy(ne->dests, ldests, nd * sizeof *ldests);
    ne->n_dests = nd;
    explicit_bzero(ne->objects, NE_MAX_OBJECTS * sizeof *ne->objects);
    memcpy(ne->objects, lobjects, no * sizeof *lobjects);
    ne->n_objects = no;
    pthread_mutex_unlock(&ne->lock);
  }
  if (lobjects) explicit_bzero(lobjects, NE_MAX_OBJECTS * sizeof *lobjects);
  free(lobjects);
  if (loaded) explicit_bzero(loaded, NE_MAX_TASKS * sizeof *loaded);
  free(loaded);
  free(ldests);
  return ok ? 0 : -1;
}
