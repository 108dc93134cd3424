/* libFuzzer harness: the AdmissionReview a Kubernetes API server sends
 * lisecd's admission webhook (ctl/k8s_review.c), through the same bounded
 * JSON entry point every API body takes. What is read must keep the
 * promises the webhook relies on: a uid of 1-128 bytes, a pod's
 * "namespace/name" and names within their bounds and in printable ASCII
 * (the subresource and the pod's metadata.uid too, never empty), a scheduler always named for a Pod
 * and none for a binding, a Pod's CREATE (never through a subresource),
 * its UPDATE or a binding carrying no "what" and anything else one; and
 * the answer built from it carries that uid back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/k8s_admit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable(const char *s, size_t max) {
  if (!s) return;
  size_t n = strlen(s);
  if (n > max) abort();
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v = NULL;
  lisec_err err;
  if (lisec_json_parse((const char *)data, size, &v, &err) != 0) return 0;
  ctl_k8s_review r;
  if (ctl_k8s_review_parse(v, &r, &err) == 0) {
    if (!r.uid || !*r.uid) abort();
    printable(r.uid, CTL_K8S_UID_MAX);
    printable(r.subresource, 64);
    printable(r.pod_uid, CTL_K8S_UID_MAX);
    if (r.pod_uid && !*r.pod_uid) abort();
    if (r.subresource && !*r.subresource) abort();
    bool judged = r.pod_create || r.pod_update || r.binding;
    if (judged) {
      if (r.what[0] || !strchr(r.pod, '/') || !r.scheduler != r.binding) abort();
      printable(r.pod, sizeof r.pod - 1);
      printable(r.node, CTL_K8S_NAME_MAX);
      printable(r.scheduler, CTL_K8S_NAME_MAX);
      if (r.node && !*r.node) abort();
      if (r.scheduler && !*r.scheduler) abort();
    } else if (!r.what[0]) {
      abort();
    }
    if (r.pod_create + r.pod_update + r.binding > 1 || (r.pod_create && r.subresource)) abort();
    if (!r.pod_update && r.old_vm) abort();
    json_t *a = ctl_k8s_review_answer(r.uid, r.pod_create, judged ? r.pod : r.what, 7);
    if (!a || strcmp(json_string_value(json_object_get(json_object_get(a, "response"), "uid")), r.uid) != 0)
      abort();
    json_decref(a);
  } else if (err.code != LISEC_EINVAL) {
    abort();
  }
  json_decref(v);
  return 0;
}
