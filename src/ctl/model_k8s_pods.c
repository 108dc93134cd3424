/* The VM of each pod the admission webhook admitted for lisec's scheduler,
 * until its binding (k8s_pods.h): a JSON object, pod -> {"vm", "uid"?},
 * whose insertion order (Jansson keeps it) is the order to forget in. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl/model_k8s_pods.h"

struct ctl_k8s_pods {
  pthread_mutex_t mu;
  json_t *pods;
  size_t max;
};

ctl_k8s_pods *ctl_k8s_pods_new(size_t max) {
  ctl_k8s_pods *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->pods = json_object();
  if (!p->pods) {
    free(p);
    return NULL;
  }
  p->max = max ? max : 1;
  pthread_mutex_init(&p->mu, NULL);
  return p;
}

void ctl_k8s_pods_free(ctl_k8s_pods *p) {
  if (!p) return;
  json_decref(p->pods);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

bool ctl_k8s_pods_put(ctl_k8s_pods *p, const char *pod, const char *uid, const char *vm) {
  json_t *e = json_pack("{s:s}", "vm", vm);
  if (e && uid && *uid && json_object_set_new(e, "uid", json_string(uid))) {
    json_decref(e);
    e = NULL;
  }
  if (!e) return false;
  pthread_mutex_lock(&p->mu);
  /* deleted first, so that the pod is the newest again */
  json_object_del(p->pods, pod);
  bool ok = json_object_set_new(p->pods, pod, e) == 0;
  while (ok && json_object_size(p->pods) > p->max) {
    /* the key is the pair's own storage, which the deletion frees; out
     * of memory, one over the bound until the next */
    char *oldest = strdup(json_object_iter_key(json_object_iter(p->pods)));
    if (!oldest) break;
    json_object_del(p->pods, oldest);
    free(oldest);
  }
  pthread_mutex_unlock(&p->mu);
  return ok;
}

bool ctl_k8s_pods_get(ctl_k8s_pods *p, const char *pod, const char *uid, char *vm, size_t cap) {
  pthread_mutex_lock(&p->mu);
  const json_t *e = json_object_get(p->pods, pod);
  const char *v = json_string_value(json_object_get(e, "vm"));
  const char *had = json_string_value(json_object_get(e, "uid"));
  bool ok = v && !(uid && *uid && had && strcmp(uid, had) != 0) && strlen(v) < cap;
  if (ok) snprintf(vm, cap, "%s", v);
  pthread_mutex_unlock(&p->mu);
  return ok;
}
