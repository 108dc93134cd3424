/* The network element's X1 logic: authenticate the ADMF (certificate name
 * and the admfIdentifier the message asserts must both be the configured
 * one, and the message must be addressed to this NE), then apply the request
 * to the task table and answer. Refusals are ErrorResponses with a reason. */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lisec/x1.h"
#include "x1/x1.h"

#define NE_MAX_TASKS 4096

struct lisec_x1_ne {
  char id[X1_ID_MAX + 1], admf[X1_ID_MAX + 1];
  lisec_x1_task_cb cb;
  void *ctx;
  pthread_mutex_t lock;
  x1_task *tasks;
  size_t n;
};

lisec_x1_ne *lisec_x1_ne_new(const char *ne_id, const char *admf_id, lisec_x1_task_cb cb, void *ctx) {
  if (!ne_id || !admf_id || strnlen(ne_id, X1_ID_MAX + 1) > X1_ID_MAX ||
      strnlen(admf_id, X1_ID_MAX + 1) > X1_ID_MAX || !lisec_id_valid(ne_id) || !lisec_id_valid(admf_id))
    return NULL;
  lisec_x1_ne *ne = calloc(1, sizeof *ne);
  if (!ne || !(ne->tasks = calloc(NE_MAX_TASKS, sizeof *ne->tasks))) {
    free(ne);
    return NULL;
  }
  snprintf(ne->id, sizeof ne->id, "%s", ne_id);
  snprintf(ne->admf, sizeof ne->admf, "%s", admf_id);
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
  pthread_mutex_destroy(&ne->lock);
  free(ne);
}

static x1_task *find(lisec_x1_ne *ne, const char *xid) {
  for (size_t i = 0; i < ne->n; i++)
    if (strcmp(ne->tasks[i].xid, xid) == 0) return &ne->tasks[i];
  return NULL;
}

static int refuse(x1_response *r, int code, const char *why) {
  r->ok = false;
  r->error_code = code;
  snprintf(r->error_description, sizeof r->error_description, "%.256s", why);
  return 0;
}

/* Applies an authenticated request; fills r. Called with the lock held. */
static int apply(lisec_x1_ne *ne, const x1_request *q, x1_response *r, const char **change) {
  x1_task *t;
  r->ok = true;
  switch (q->type) {
    case X1_ACTIVATE_TASK:
      if (find(ne, q->task.xid)) return refuse(r, X1_ERR_XID_EXISTS, "a task with this XID is active");
      if (ne->n == NE_MAX_TASKS) return refuse(r, X1_ERR_GENERIC, "task table full");
      ne->tasks[ne->n++] = q->task;
      *change = "activate";
      return 0;
    case X1_MODIFY_TASK:
      if (!(t = find(ne, q->task.xid))) return refuse(r, X1_ERR_UNKNOWN_XID, "no task with this XID");
      *t = q->task;
      *change = "modify";
      return 0;
    case X1_DEACTIVATE_TASK:
      if (!(t = find(ne, q->xid))) return refuse(r, X1_ERR_UNKNOWN_XID, "no task with this XID");
      explicit_bzero(t, sizeof *t);
      *t = ne->tasks[--ne->n];
      explicit_bzero(&ne->tasks[ne->n], sizeof *t);
      *change = "deactivate";
      return 0;
    case X1_GET_TASK_DETAILS:
      if (!(t = find(ne, q->xid))) return refuse(r, X1_ERR_UNKNOWN_XID, "no task with this XID");
      r->task = *t;
      return 0;
    case X1_LIST_ALL_DETAILS:
      if (ne->n > X1_MAX_LIST) return refuse(r, X1_ERR_GENERIC, "more tasks than one list holds");
      for (size_t i = 0; i < ne->n; i++) memcpy(r->xids[i], ne->tasks[i].xid, X1_UUID_LEN + 1);
      r->n_xids = ne->n;
      return 0;
    case X1_PING:
    case X1_KEEPALIVE: return 0;
    default: return refuse(r, X1_ERR_GENERIC, "this NE does not accept that request");
  }
}

int lisec_x1_ne_handle(lisec_x1_ne *ne, const char *peer_cn, const char *request, size_t len,
                       char **response, size_t *response_len) {
  x1_request q;
  x1_response r;
  x1_response_init(&r);
  lisec_err err = {0};
  const char *change = NULL;
  if (x1_request_parse(request, len, &q, &err) != 0) {
    x1_header_init(&r.h, ne->admf, ne->id, NULL);
    r.type = X1_PING; /* the request type is unknown: the error names it generically */
    refuse(&r, X1_ERR_SCHEMA, err.msg);
  } else {
    r.type = q.type;
    r.h = q.h;
    x1_header_init(&r.h, q.h.admf, ne->id, NULL);
    snprintf(r.h.transaction, sizeof r.h.transaction, "%s", q.h.transaction);
    if (!peer_cn || strcmp(peer_cn, ne->admf) != 0 || strcmp(q.h.admf, ne->admf) != 0)
      refuse(&r, X1_ERR_NOT_AUTHORISED, "the ADMF certificate or identifier is not the one this NE obeys");
    else if (strcmp(q.h.ne, ne->id) != 0)
      refuse(&r, X1_ERR_NOT_AUTHORISED, "the request is addressed to another network element");
    else {
      pthread_mutex_lock(&ne->lock);
      apply(ne, &q, &r, &change);
      pthread_mutex_unlock(&ne->lock);
    }
  }
  if (change && ne->cb) ne->cb(ne->ctx, change, q.type == X1_DEACTIVATE_TASK ? q.xid : q.task.xid);
  /* a refusal's reason must fit the schema's bound and be plain text */
  if (!r.ok && r.error_description[0] == '\0') strcpy(r.error_description, "refused");
  int rc = x1_response_build(&r, response, response_len, &err);
  explicit_bzero(&q, sizeof q);
  explicit_bzero(&r, X1_RESPONSE_HEAD);
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

static json_t *task_json(const x1_task *t) {
  json_t *targets = json_array(), *dids = json_array();
  for (size_t i = 0; i < t->n_targets; i++)
    json_array_append_new(targets, json_pack("{s:s, s:s}", "element", t->targets[i].element, "value",
                                             t->targets[i].value));
  for (size_t i = 0; i < t->n_dids; i++) json_array_append_new(dids, json_string(t->dids[i]));
  return json_pack("{s:s, s:s, s:o, s:o}", "xid", t->xid, "delivery", t->delivery, "targets", targets,
                   "dids", dids);
}

int lisec_x1_ne_save(lisec_x1_ne *ne, char **out, size_t *len) {
  json_t *tasks = json_array();
  pthread_mutex_lock(&ne->lock);
  for (size_t i = 0; i < ne->n; i++) json_array_append_new(tasks, task_json(&ne->tasks[i]));
  pthread_mutex_unlock(&ne->lock);
  json_t *doc = json_pack("{s:s, s:s, s:s, s:o}", "format", NE_STATE_FORMAT, "ne", ne->id, "admf",
                          ne->admf, "tasks", tasks);
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

static bool task_from_json(const json_t *j, x1_task *t) {
  memset(t, 0, sizeof *t);
  const json_t *targets = json_object_get(j, "targets"), *dids = json_object_get(j, "dids");
  if (!copy_str(j, "xid", t->xid, sizeof t->xid) || !uuid_ok(t->xid) ||
      !copy_str(j, "delivery", t->delivery, sizeof t->delivery) || !json_is_array(targets) ||
      !json_is_array(dids) || json_array_size(targets) == 0 ||
      json_array_size(targets) > X1_MAX_TARGETS || json_array_size(dids) == 0 ||
      json_array_size(dids) > X1_MAX_DIDS)
    return false;
  size_t i;
  const json_t *v;
  json_array_foreach(targets, i, v) {
    x1_target *x = &t->targets[t->n_targets++];
    if (!copy_str(v, "element", x->element, sizeof x->element) ||
        !copy_str(v, "value", x->value, sizeof x->value))
      return false;
  }
  json_array_foreach(dids, i, v) {
    const char *d = json_string_value(v);
    if (!d || !uuid_ok(d)) return false;
    memcpy(t->dids[t->n_dids++], d, X1_UUID_LEN + 1);
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
  x1_task *loaded = calloc(NE_MAX_TASKS, sizeof *loaded);
  size_t n = 0, i;
  const json_t *v;
  bool ok = loaded != NULL;
  json_array_foreach(tasks, i, v) {
    if (!ok) break;
    ok = task_from_json(v, &loaded[n]);
    for (size_t k = 0; ok && k < n; k++) ok = strcmp(loaded[k].xid, loaded[n].xid) != 0;
    n++;
  }
  json_decref(doc);
  if (ok) {
    pthread_mutex_lock(&ne->lock);
    explicit_bzero(ne->tasks, NE_MAX_TASKS * sizeof *ne->tasks);
    memcpy(ne->tasks, loaded, n * sizeof *loaded);
    ne->n = n;
    pthread_mutex_unlock(&ne->lock);
  }
  if (loaded) explicit_bzero(loaded, NE_MAX_TASKS * sizeof *loaded);
  free(loaded);
  return ok ? 0 : -1;
}
