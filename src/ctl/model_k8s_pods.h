/* The pods the admission webhook admitted for lisec's scheduler, and the
 * VM each names, until a binding places them: a Binding carries the pod's
 * name and node but not its annotations, so this is how the webhook knows
 * which VM a binding places (docs/model.md, "Many pods, one VM"). Kept in
 * memory, bounded (the oldest forgotten first), for this lisecd only: a
 * pod forgotten (a restart, a failover, the bound) makes its binding what
 * it was before, allowed and moving nothing, so forgetting never lets more
 * through. Thread-safe. */
#ifndef LISEC_CTL_MODEL_K8S_PODS_H
#define LISEC_CTL_MODEL_K8S_PODS_H

#include <stdbool.h>
#include <stddef.h>

/* Pods awaiting their binding that one lisecd remembers. */
#define CTL_K8S_PODS_MAX 4096

typedef struct ctl_k8s_pods ctl_k8s_pods;

/* An empty table of at most max pods; NULL when out of memory. */
ctl_k8s_pods *ctl_k8s_pods_new(size_t max);
void ctl_k8s_pods_free(ctl_k8s_pods *p);

/* Pod ("namespace/name") with uid (metadata.uid; NULL: not known) names
 * vm: remembered as the newest, in place of what that pod named before;
 * beyond max the oldest is forgotten. false when out of memory (nothing
 * remembered). */
bool ctl_k8s_pods_put(ctl_k8s_pods *p, const char *pod, const char *uid, const char *vm);

/* The VM pod names, copied into vm (cap bytes). false when the pod is not
 * remembered, when uid (a binding's metadata.uid; NULL: none) and the
 * remembered uid are both known and differ (another pod of that name), or
 * when the VM does not fit. */
bool ctl_k8s_pods_get(ctl_k8s_pods *p, const char *pod, const char *uid, char *vm, size_t cap);

#endif
