/* The network element's X1 logic: authenticate the ADMF (certificate name
 * and the admfIdentifier the message asserts must both be the configured
 * one, and the message must be addressed to this NE), then apply the request
 * to the task table and answer. Refusals are ErrorResponses with a reason. */
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
  if (!ne_id || !admf_id || strlen(ne_id) > X1_ID_MAX || strlen(admf_id) > X1_ID_MAX) return NULL;
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
    case X1_PING:
    case X1_KEEPALIVE: return 0;
    default: return refuse(r, X1_ERR_GENERIC, "this NE does not accept that request");
  }
}

int lisec_x1_ne_handle(lisec_x1_ne *ne, const char *peer_cn, const char *request, size_t len,
                       char **response, size_t *response_len) {
  x1_request q;
  x1_response r = {0};
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
  explicit_bzero(&r, sizeof r);
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
