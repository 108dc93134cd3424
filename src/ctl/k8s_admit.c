/* The Kubernetes validating admission webhook's use case: closes the ways
 * a pod in a namespace lisec guards could run where the trust model was
 * never asked (docs/model.md, "Kubernetes admission webhook"). The review
 * is read by k8s_review.c; a Pod's CREATE is judged by the model
 * (ctl_model_k8s_admit: the scheduler extender's judgement of the node the
 * pod names, or that lisec's scheduler will place it), recorded and
 * answered; so is a Pod's UPDATE that changes its lisec.io/vm annotation,
 * of the pod or through a subresource (pods/status keeps the new object's
 * metadata), and a binding that carries one (the API server merges a
 * binding's annotations into the pod's): refused, since the extender
 * would judge a pending pod as another VM, or as none. A binding without
 * one places a pod lisecd admitted for lisec's scheduler: its node is
 * judged for the VM that pod named (ctl/model_k8s_pods.h), as a pod's nodeName
 * is, and an allowed move onto another host is remembered as a migration
 * lisec allowed, so the intent follows the destination's evidence; the
 * binding of a pod lisecd does not know is allowed unrecorded. Any other
 * request is allowed unrecorded, since it cannot place a pod (nodeName is
 * immutable once set; a binding is the scheduler's, by RBAC). */
#include <stdio.h>
#include <string.h>

#include "ctl/k8s_admit.h"
#include "ctl/model.h"

int ctl_k8s_admit(lisec_ctl *ctl, const ctl_actor *actor, const json_t *review, json_t **out,
                  lisec_err *err) {
  ctl_k8s_review r;
  *out = NULL;
  int rc = ctl_k8s_review_parse(review, &r, err);
  if (rc) return rc;
  /* An UPDATE, whatever its subresource, is judged for the one thing it
   * may change that the extender reads: which VM the pod is; a binding
   * for whether it would set it. Any other is allowed unrecorded. */
  bool vm_changed = r.pod_update && !(r.vm && r.old_vm ? strcmp(r.vm, r.old_vm) == 0 : r.vm == r.old_vm);
  if (r.pod_update && !vm_changed) {
    char msg[sizeof r.pod + 192];
    snprintf(msg, sizeof msg, "lisec.io/vm unchanged: UPDATE of pod %s%s%s allowed", r.pod,
             r.subresource ? " through pods/" : "", r.subresource ? r.subresource : "");
    *out = ctl_k8s_review_answer(r.uid, true, msg, -1);
    return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  if (!r.pod_create && !r.pod_update && !r.binding) {
    char msg[sizeof r.what + 192];
    snprintf(msg, sizeof msg, "lisec judges Pods only, their creation and a change of their lisec.io/vm (where "
             "a pod runs is set at its creation or by the scheduler): %s allowed", r.what);
    *out = ctl_k8s_review_answer(r.uid, true, msg, -1);
    return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  ctl_model_k8s_pod pod = {.pod = r.pod, .vm = r.vm, .node = r.node, .scheduler = r.scheduler, .dry_run = r.dry_run,
                           .vm_changed = vm_changed, .old_vm = r.old_vm, .subresource = r.subresource,
                           .binding = r.binding, .pod_uid = r.pod_uid, .named = r.named};
  json_t *v = NULL;
  rc = ctl_model_k8s_admit(ctl, actor, &pod, &v, err);
  if (rc || !v) return rc; /* v NULL: parked for fresh quotes, dispatched again */
  /* audit_index -1: allowed unrecorded (a binding of a pod lisecd does not
   * know the VM of) */
  *out = ctl_k8s_review_answer(r.uid, json_is_true(json_object_get(v, "allowed")),
                               json_string_value(json_object_get(v, "message")),
                               (long long)json_integer_value(json_object_get(v, "audit_index")));
  json_decref(v);
  return *out ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}
