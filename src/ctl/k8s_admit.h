/* The Kubernetes validating admission webhook (POST /k8s/admit): the API
 * server's AdmissionReview (admission.k8s.io/v1) read, bounded, into what
 * lisec judges (k8s_review.c: pure, fuzzed), the AdmissionReview that
 * answers it, and the use case between them (k8s_admit.c): the creation of
 * a Pod is judged by the trust model as the scheduler extender judges it
 * (ctl_model_k8s_admit), and a Pod's UPDATE that changes the VM it names,
 * of the pod or through a subresource (pods/status), and a binding that
 * would set it are refused; any other request is allowed, since lisec
 * judges where pods run and nothing else. */
#ifndef LISEC_CTL_K8S_ADMIT_H
#define LISEC_CTL_K8S_ADMIT_H

#include <jansson.h>
#include <stdbool.h>

#include "base/base.h"
#include "ctl/ctl.h"

/* Bounds on what a review may carry (beyond [api] max_body on the whole):
 * a uid (the API server's are UUIDs) and the names Kubernetes holds to a
 * DNS-1123 label (namespace) or subdomain (pod, node, scheduler). */
#define CTL_K8S_UID_MAX 128
#define CTL_K8S_NAMESPACE_MAX 63
#define CTL_K8S_NAME_MAX 253

/* One review as lisec reads it. Strings are borrowed from the review. */
typedef struct ctl_k8s_review {
  const char *uid; /* request.uid: the answer carries it back */
  /* A core/v1 Pod's CREATE (no subresource): judged. Otherwise what the
   * request is, for the allowed answer's message. A pod's nodeName is
   * immutable once set and bound only through pods/binding, so CREATE is
   * the one operation that can place a pod without the scheduler. A Pod's
   * CREATE through a subresource is no request Kubernetes makes: refused
   * as malformed (EINVAL), never read as something else. */
  bool pod_create;
  /* A core/v1 Pod's UPDATE, of the pod or through any subresource of it
   * (subresource: pods/status keeps the new object's metadata, so its
   * writers, the kubelet and controllers, can change annotations; one
   * lisec does not know is read the same, fail closed): its annotations
   * may change, and the extender judges a pending pod by the one it has
   * when it is scheduled; old_vm is oldObject's lisec.io/vm (NULL: none). */
  bool pod_update;
  const char *old_vm;
  /* A core/v1 Binding's CREATE (pods/binding, or the bindings resource):
   * the API server merges the binding's annotations into the pod's as it
   * binds it, so vm is the binding's lisec.io/vm (NULL: none) and node
   * its target.name. */
  bool binding;
  const char *subresource; /* request.subResource; NULL: none (or empty) */
  char what[256];
  char pod[CTL_K8S_NAMESPACE_MAX + CTL_K8S_NAME_MAX + 4]; /* "namespace/name" */
  const char *vm;        /* the lisec.io/vm annotation; NULL: none */
  /* the pod's metadata.uid (a binding's: the pod it binds, as
   * kube-scheduler sets it); NULL: none. named: the pod has a name (one
   * created with generateName alone, or none, is not remembered) */
  const char *pod_uid;
  bool named;
  const char *node;      /* spec.nodeName; NULL: not set */
  const char *scheduler; /* spec.schedulerName ("default-scheduler" when not set); binding: NULL */
  bool dry_run;          /* request.dryRun */
} ctl_k8s_review;

/* Reads an AdmissionReview. EINVAL naming the field for anything that is
 * not one (apiVersion admission.k8s.io/v1, kind AdmissionReview, request
 * with uid, kind and operation; for a Pod's CREATE, object with spec and
 * no subresource; for its UPDATE, oldObject too; for a Binding's CREATE,
 * object), or a field over its bound (a subResource is a name: at most 64
 * bytes of printable ASCII). */
int ctl_k8s_review_parse(const json_t *review, ctl_k8s_review *out, lisec_err *err);

/* The AdmissionReview that answers uid: response {uid, allowed, status
 * {code, message}}, and auditAnnotations {"audit-index": index} when
 * recorded (index >= 0). NULL when out of memory. */
json_t *ctl_k8s_review_answer(const char *uid, bool allowed, const char *message, long long index);

/* The webhook: review in, the AdmissionReview answer in *out. EINVAL for a
 * malformed review; a refusal is an answer (0, allowed false). Returns 0
 * with *out NULL while attestation is waited for (ctl_model_decide_migration
 * says how the transport then dispatches the request again). */
int ctl_k8s_admit(lisec_ctl *ctl, const ctl_actor *actor, const json_t *review, json_t **out,
                  lisec_err *err);

#endif
