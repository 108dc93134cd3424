/* The AdmissionReview (admission.k8s.io/v1) as the API server sends it to
 * a validating webhook, read into what lisec judges, and the review that
 * answers it. Pure: JSON in, a struct or JSON out, nothing else touched,
 * so the reading is fuzzed on its own (fuzz/k8s_review.c). Every field is
 * checked for its type and bound before it is used; a review that is not
 * one is refused whole (the webhook answers 400 and, under failurePolicy
 * Fail, the API server refuses the request), never read as "nothing to
 * judge". The names lisec shows back (uid, namespace, pod, node,
 * scheduler, subresource) are held to printable ASCII, as Kubernetes holds
 * them. */
#include <stdio.h>
#include <string.h>

#include "ctl/k8s_admit.h"

/* The field key of obj (at path, for the message): NULL when absent or
 * null; EINVAL when not a string, longer than max, or (names) with a byte
 * outside printable ASCII. */
static int str_field(const json_t *obj, const char *key, const char *path, size_t max, bool name,
                     const char **out, lisec_err *err) {
  const json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v)) return lisec_err_set(err, LISEC_EINVAL, "%s: must be a string", path);
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n > max) return lisec_err_set(err, LISEC_EINVAL, "%s: longer than %zu bytes", path, max);
  for (size_t i = 0; name && i < n; i++)
    if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
      return lisec_err_set(err, LISEC_EINVAL, "%s: a Kubernetes name (printable ASCII, no space)", path);
  *out = s;
  return 0;
}

/* An object-valued field: NULL when absent (or null, where allowed). */
static int obj_field(const json_t *obj, const char *key, const char *path, bool required,
                     const json_t **out, lisec_err *err) {
  const json_t *v = json_object_get(obj, key);
  *out = NULL;
  if ((!v || json_is_null(v)) && !required) return 0;
  if (!json_is_object(v)) return lisec_err_set(err, LISEC_EINVAL, "%s: an object is required", path);
  *out = v;
  return 0;
}

/* Copies s for a message, each byte outside printable ASCII as '?', so a
 * cut never splits a character and the answer stays valid JSON text. */
static void shown(char *dst, size_t cap, const char *s) {
  size_t i = 0;
  for (; s && s[i] && i + 1 < cap; i++)
    dst[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
  dst[i] = '\0';
}

static bool is(const char *s, const char *want) { return s && strcmp(s, want) == 0; }

/* The lisec.io/vm annotation of a pod's annotations ann (NULL: none). */
static int vm_annotation(const json_t *ann, const char *path, const char **vm, lisec_err *err) {
  const json_t *v = json_object_get(ann, "lisec.io/vm");
  *vm = json_string_value(v);
  if (v && !json_is_string(v))
    return lisec_err_set(err, LISEC_EINVAL, "%s.metadata.annotations[\"lisec.io/vm\"]: must be a string", path);
  return 0;
}

/* A Binding (pods/binding, or the bindings resource): the pod it binds,
 * the node it binds it to, and the lisec.io/vm among the annotations the
 * API server merges into the pod's. */
static int read_binding(const json_t *req, const char *ns, const char *name, ctl_k8s_review *out,
                        lisec_err *err) {
  const json_t *b = NULL, *md = NULL, *ann = NULL, *target = NULL;
  int rc = obj_field(req, "object", "request.object", true, &b, err);
  if (!rc) rc = obj_field(b, "metadata", "request.object.metadata", false, &md, err);
  if (!rc) rc = obj_field(md, "annotations", "request.object.metadata.annotations", false, &ann, err);
  if (!rc) rc = obj_field(b, "target", "request.object.target", false, &target, err);
  if (!rc && !ns)
    rc = str_field(md, "namespace", "request.object.metadata.namespace", CTL_K8S_NAMESPACE_MAX, true, &ns, err);
  if (!rc && !name) rc = str_field(md, "name", "request.object.metadata.name", CTL_K8S_NAME_MAX, true, &name, err);
  if (!rc) rc = vm_annotation(ann, "request.object", &out->vm, err);
  if (!rc) rc = str_field(md, "uid", "request.object.metadata.uid", CTL_K8S_UID_MAX, true, &out->pod_uid, err);
  if (!rc) rc = str_field(target, "name", "request.object.target.name", CTL_K8S_NAME_MAX, true, &out->node, err);
  if (rc) return rc;
  if (out->node && !*out->node) out->node = NULL;
  out->named = name && *name;
  snprintf(out->pod, sizeof out->pod, "%s/%s", ns && *ns ? ns : "default", name && *name ? name : "(unnamed)");
  return 0;
}

/* The Pod of a CREATE, or an UPDATE's new one: where it is, which VM it
 * names, where it goes. */
static int read_pod(const json_t *req, const char *ns, const char *name, ctl_k8s_review *out, lisec_err *err) {
  const json_t *pod = NULL, *md = NULL, *ann = NULL, *spec = NULL;
  const char *gen = NULL;
  int rc = obj_field(req, "object", "request.object", true, &pod, err);
  if (!rc) rc = obj_field(pod, "metadata", "request.object.metadata", false, &md, err);
  if (!rc) rc = obj_field(md, "annotations", "request.object.metadata.annotations", false, &ann, err);
  if (!rc) rc = obj_field(pod, "spec", "request.object.spec", true, &spec, err);
  /* the request's namespace and name are the API server's; a pod created
   * with generateName has no name yet */
  if (!rc && !ns)
    rc = str_field(md, "namespace", "request.object.metadata.namespace", CTL_K8S_NAMESPACE_MAX, true, &ns, err);
  if (!rc && !name) rc = str_field(md, "name", "request.object.metadata.name", CTL_K8S_NAME_MAX, true, &name, err);
  if (!rc && !name)
    rc = str_field(md, "generateName", "request.object.metadata.generateName", CTL_K8S_NAME_MAX, true, &gen, err);
  if (!rc) rc = vm_annotation(ann, "request.object", &out->vm, err);
  if (!rc) rc = str_field(md, "uid", "request.object.metadata.uid", CTL_K8S_UID_MAX, true, &out->pod_uid, err);
  if (!rc) rc = str_field(spec, "nodeName", "request.object.spec.nodeName", CTL_K8S_NAME_MAX, true, &out->node, err);
  if (!rc)
    rc = str_field(spec, "schedulerName", "request.object.spec.schedulerName", CTL_K8S_NAME_MAX, true,
                   &out->scheduler, err);
  if (rc) return rc;
  if (out->node && !*out->node) out->node = NULL;
  /* Kubernetes' default, which the API server sets before any validating
   * webhook sees the pod; read the same when a review leaves it out */
  if (!out->scheduler || !*out->scheduler) out->scheduler = "default-scheduler";
  out->named = name && *name;
  snprintf(out->pod, sizeof out->pod, "%s/%s%s", ns && *ns ? ns : "default",
           name && *name ? name : gen && *gen ? gen : "(unnamed)", !(name && *name) && gen && *gen ? "*" : "");
  return 0;
}

int ctl_k8s_review_parse(const json_t *review, ctl_k8s_review *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  const json_t *req = NULL, *kind = NULL;
  const char *api = NULL, *rkind = NULL, *group = NULL, *version = NULL, *k = NULL, *op = NULL,
             *sub = NULL, *ns = NULL, *name = NULL;
  if (!json_is_object(review)) return lisec_err_set(err, LISEC_EINVAL, "AdmissionReview: must be a JSON object");
  int rc = str_field(review, "apiVersion", "apiVersion", 64, false, &api, err);
  if (!rc) rc = str_field(review, "kind", "kind", 64, false, &rkind, err);
  if (!rc && (!is(api, "admission.k8s.io/v1") || !is(rkind, "AdmissionReview")))
    rc = lisec_err_set(err, LISEC_EINVAL,
                       "apiVersion, kind: an admission.k8s.io/v1 AdmissionReview is required "
                       "(admissionReviewVersions: [v1])");
  if (!rc) rc = obj_field(review, "request", "request", true, &req, err);
  if (!rc) rc = str_field(req, "uid", "request.uid", CTL_K8S_UID_MAX, true, &out->uid, err);
  if (!rc && (!out->uid || !*out->uid)) rc = lisec_err_set(err, LISEC_EINVAL, "request.uid: required");
  if (!rc) rc = obj_field(req, "kind", "request.kind", true, &kind, err);
  if (!rc) rc = str_field(kind, "group", "request.kind.group", CTL_K8S_NAME_MAX, false, &group, err);
  if (!rc) rc = str_field(kind, "version", "request.kind.version", 64, false, &version, err);
  if (!rc) rc = str_field(kind, "kind", "request.kind.kind", 64, false, &k, err);
  if (!rc && (!version || !k || !*k))
    rc = lisec_err_set(err, LISEC_EINVAL, "request.kind: version and kind are required");
  if (!rc) rc = str_field(req, "operation", "request.operation", 16, false, &op, err);
  if (!rc && (!op || !*op)) rc = lisec_err_set(err, LISEC_EINVAL, "request.operation: required");
  /* a path segment of the API (status, binding, ephemeralcontainers, ...) */
  if (!rc) rc = str_field(req, "subResource", "request.subResource", 64, true, &sub, err);
  if (!rc) rc = str_field(req, "namespace", "request.namespace", CTL_K8S_NAMESPACE_MAX, true, &ns, err);
  if (!rc) rc = str_field(req, "name", "request.name", CTL_K8S_NAME_MAX, true, &name, err);
  const json_t *dry = json_object_get(req, "dryRun");
  if (!rc && dry && !json_is_null(dry) && !json_is_boolean(dry))
    rc = lisec_err_set(err, LISEC_EINVAL, "request.dryRun: must be true or false");
  if (rc) return rc;
  out->dry_run = json_is_true(dry);
  bool core = !group || !*group, pod = core && is(k, "Pod");
  out->subresource = sub && *sub ? sub : NULL;
  /* No subresource creates a Pod; a review that says one does is not one
   * Kubernetes sends, and is not read as "nothing to judge". */
  if (pod && is(op, "CREATE") && out->subresource)
    return lisec_err_set(err, LISEC_EINVAL, "request.subResource: a Pod is created without a subresource, not "
                         "through \"%s\"", out->subresource);
  out->pod_create = pod && is(op, "CREATE");
  /* Whatever the subresource: pods/status keeps the new object's metadata,
   * and one lisec does not know may too (fail closed). */
  out->pod_update = pod && is(op, "UPDATE");
  out->binding = core && is(k, "Binding") && is(op, "CREATE");
  if ((out->pod_create || out->pod_update || out->binding) && !is(version, "v1"))
    return lisec_err_set(err, LISEC_EINVAL, "request.kind.version: a %s is v1", k);
  if (out->binding) return read_binding(req, ns && *ns ? ns : NULL, name && *name ? name : NULL, out, err);
  if (out->pod_create) return read_pod(req, ns && *ns ? ns : NULL, name && *name ? name : NULL, out, err);
  if (out->pod_update) {
    const json_t *old = NULL, *md = NULL, *ann = NULL;
    rc = read_pod(req, ns && *ns ? ns : NULL, name && *name ? name : NULL, out, err);
    if (!rc) rc = obj_field(req, "oldObject", "request.oldObject", true, &old, err);
    if (!rc) rc = obj_field(old, "metadata", "request.oldObject.metadata", false, &md, err);
    if (!rc) rc = obj_field(md, "annotations", "request.oldObject.metadata.annotations", false, &ann, err);
    if (!rc) rc = vm_annotation(ann, "request.oldObject", &out->old_vm, err);
    return rc;
  }
  char g[64], v[32], kk[64], o[17], s[64];
  shown(g, sizeof g, group);
  shown(v, sizeof v, version);
  shown(kk, sizeof kk, k);
  shown(o, sizeof o, op);
  shown(s, sizeof s, sub);
  snprintf(out->what, sizeof out->what, "%s of %s%s%s %s%s%s", o, g, *g ? "/" : "", v, kk,
           *s ? " subresource " : "", s);
  return 0;
}

json_t *ctl_k8s_review_answer(const char *uid, bool allowed, const char *message, long long index) {
  json_t *r = json_pack("{s:s, s:s, s:{s:s, s:b, s:{s:i, s:s}}}", "apiVersion", "admission.k8s.io/v1", "kind",
                        "AdmissionReview", "response", "uid", uid, "allowed", allowed, "status", "code",
                        allowed ? 200 : 403, "message", message);
  if (r && index >= 0) {
    char n[24];
    snprintf(n, sizeof n, "%lld", index);
    /* the API server prefixes the key with the webhook's name in its own
     * audit log: lisec's record is found from Kubernetes' */
    if (json_object_set_new(json_object_get(r, "response"), "auditAnnotations", json_pack("{s:s}", "audit-index", n))) {
      json_decref(r);
      r = NULL;
    }
  }
  return r;
}
