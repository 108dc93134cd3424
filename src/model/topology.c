/* The topology format (docs/model.md, docs/topology.schema.json): one JSON
 * document with the platform's hosts, hypervisors, VMs, storage,
 * connections, connection groups, jurisdictions, LEAs and LI
 * authorisations, read into a new model or, one entity at a time, into an
 * existing one. Input is bounded (document size, array lengths, string
 * lengths, nesting), unknown fields are refused rather than ignored, and
 * every refusal names the field ("vms[3].hypervisor: unknown hypervisor
 * \"hv-9\""). A failed load returns nothing; a failed put changes nothing. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

/* ---- field access ------------------------------------------------------------ */

static int only_keys(const json_t *o, const char *const *allowed, lisec_err *err) {
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)o, key, val) {
    bool ok = false;
    for (size_t i = 0; allowed[i] && !ok; i++) ok = strcmp(key, allowed[i]) == 0;
    if (!ok) {
      char safe[48];
      size_t n = 0;
      for (const char *p = key; *p && n + 1 < sizeof safe; p++)
        safe[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
      safe[n] = '\0';
      return lisec_err_set(err, LISEC_EINVAL, "%s: unknown field", safe);
    }
  }
  return 0;
}

static int get_str(const json_t *o, const char *key, bool required, size_t max, const char **out,
                   lisec_err *err) {
  const json_t *v = json_object_get(o, key);
  *out = NULL;
  if (!v || json_is_null(v))
    return required ? lisec_err_set(err, LISEC_EINVAL, "%s: required", key) : 0;
  if (!json_is_string(v)) return lisec_err_set(err, LISEC_EINVAL, "%s: must be a string", key);
  size_t n = json_string_length(v);
  if (n > max) return lisec_err_set(err, LISEC_EINVAL, "%s: longer than %zu bytes", key, max);
  if (strlen(json_string_value(v)) != n)
    return lisec_err_set(err, LISEC_EINVAL, "%s: contains a NUL character", key);
  *out = json_string_value(v);
  return 0;
}

static int get_bool(const json_t *o, const char *key, bool required, bool def, bool *out,
                    lisec_err *err) {
  const json_t *v = json_object_get(o, key);
  *out = def;
  if (!v || json_is_null(v))
    return required ? lisec_err_set(err, LISEC_EINVAL, "%s: required (true or false)", key) : 0;
  if (!json_is_boolean(v)) return lisec_err_set(err, LISEC_EINVAL, "%s: must be true or false", key);
  *out = json_is_true(v);
  return 0;
}

/* RFC 3339 UTC ("2026-01-01T00:00:00Z") or seconds since the epoch. */
static int get_time(const json_t *o, const char *key, int64_t *out, lisec_err *err) {
  const json_t *v = json_object_get(o, key);
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return 0;
  }
  const char *s;
  int rc = get_str(o, key, true, 64, &s, err);
  if (rc) return rc;
  if (lisec_time_parse(s, out))
    return lisec_err_set(err, LISEC_EINVAL,
                         "%s: not an RFC 3339 UTC time like 2026-01-01T00:00:00Z", key);
  return 0;
}

static int get_array(const json_t *o, const char *key, bool required, size_t max,
                     const json_t **out, lisec_err *err) {
  const json_t *v = json_object_get(o, key);
  *out = NULL;
  if (!v || json_is_null(v))
    return required ? lisec_err_set(err, LISEC_EINVAL, "%s: required", key) : 0;
  if (!json_is_array(v)) return lisec_err_set(err, LISEC_EINVAL, "%s: must be an array", key);
  if (json_array_size(v) > max)
    return lisec_err_set(err, LISEC_ETOOBIG, "%s: more than %zu entries", key, max);
  *out = v;
  return 0;
}

/* A string array as borrowed C strings; *out is malloc'd (free it). */
static int str_list(const json_t *arr, const char *key, const char ***out, lisec_err *err) {
  size_t n = json_array_size(arr);
  *out = calloc(n ? n : 1, sizeof **out);
  if (!*out) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const json_t *v = json_array_get(arr, i);
    if (!json_is_string(v) || json_string_length(v) > MODEL_TEXT_MAX ||
        strlen(json_string_value(v)) != json_string_length(v)) {
      free(*out);
      *out = NULL;
      return lisec_err_set(err, LISEC_EINVAL, "%s[%zu]: must be a string of at most %d bytes", key,
                           i, MODEL_TEXT_MAX);
    }
    (*out)[i] = json_string_value(v);
  }
  return 0;
}

static int prefix_err(lisec_err *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int prefix_err(lisec_err *err, int rc, const char *fmt, ...) {
  if (!err) return rc;
  char pre[96], tmp[LISEC_ERR_MSG_MAX + 100];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(pre, sizeof pre, fmt, ap);
  va_end(ap);
  snprintf(tmp, sizeof tmp, "%s.%s", pre, err->msg);
  return lisec_err_set(err, rc, "%.*s", LISEC_ERR_MSG_MAX - 1, tmp);
}

/* ---- one entity each ------------------------------------------------------------ */

static int put_host(model *m, const json_t *o, lisec_err *err) {
  static const char *const keys[] = {"id", "trust", "protection", "location", "name", NULL};
  static const char *const lkeys[] = {"country", "subdivision", "lat", "lon", "site", "source", NULL};
  model_host_spec s = {0};
  model_location loc = {0};
  const char *trust, *prot;
  int rc;
  if ((rc = only_keys(o, keys, err)) || (rc = get_str(o, "id", true, MODEL_ID_MAX, &s.id, err)) ||
      (rc = get_str(o, "trust", false, 32, &trust, err)) ||
      (rc = get_str(o, "protection", true, 32, &prot, err)))
    return rc;
  if (trust && model_trust_parse(trust, &s.trust))
    return lisec_err_set(err, LISEC_EINVAL, "trust: must be \"trusted\", \"untrusted\" or \"unknown\"");
  if (model_class_parse(prot, &s.protection))
    return lisec_err_set(err, LISEC_EINVAL,
                         "protection: must be \"general\", \"sensitive\" or \"li\"");
  const json_t *l = json_object_get(o, "location");
  if (l && !json_is_null(l)) {
    if (!json_is_object(l)) return lisec_err_set(err, LISEC_EINVAL, "location: must be an object");
    const char *source;
    if ((rc = only_keys(l, lkeys, err)) ||
        (rc = get_str(l, "country", true, 8, &loc.country, err)) ||
        (rc = get_str(l, "subdivision", false, 12, &loc.subdivision, err)) ||
        (rc = get_str(l, "site", false, MODEL_TEXT_MAX, &loc.site, err)) ||
        (rc = get_str(l, "source", false, 32, &source, err)))
      return prefix_err(err, rc, "location");
    if (source && strcmp(source, "attested") == 0) loc.source = MODEL_LOC_ATTESTED;
    else if (source && strcmp(source, "administrative") == 0) loc.source = MODEL_LOC_ADMINISTRATIVE;
    else if (source)
      return lisec_err_set(err, LISEC_EINVAL,
                           "location.source: must be \"attested\" or \"administrative\"");
    const json_t *lat = json_object_get(l, "lat"), *lon = json_object_get(l, "lon");
    if (lat || lon) {
      if (!json_is_number(lat) || !json_is_number(lon))
        return lisec_err_set(err, LISEC_EINVAL,
                             "location.%s: lat and lon are both numbers, or both absent",
                             json_is_number(lat) ? "lon" : "lat");
      loc.has_coords = true;
      loc.lat = json_number_value(lat);
      loc.lon = json_number_value(lon);
    }
    s.location = &loc;
  }
  return model_host_put(m, &s, err);
}

static int put_hypervisor(model *m, const json_t *o, lisec_err *err) {
  static const char *const keys[] = {"id", "host", NULL};
  const char *id, *host;
  int rc;
  if ((rc = only_keys(o, keys, err)) || (rc = get_str(o, "id", true, MODEL_ID_MAX, &id, err)))
    return rc;
  if (json_is_array(json_object_get(o, "host")))
    return lisec_err_set(err, LISEC_EINVAL,
                         "host: a hypervisor runs on exactly one piece of hardware, not a list");
  if ((rc = get_str(o, "host", true, MODEL_ID_MAX, &host, err))) return rc;
  return model_hypervisor_put(m, id, host, err);
}

static int parse_vm(const json_t *o, model_vm_spec *s, lisec_err *err) {
  static const char *const keys[] = {"id", "hypervisor", "sensitivity", "domain", "paired",
                                     "name", NULL};
  const char *cls;
  int rc;
  memset(s, 0, sizeof *s);
  if ((rc = only_keys(o, keys, err)) || (rc = get_str(o, "id", true, MODEL_ID_MAX, &s->id, err)))
    return rc;
  if (json_is_array(json_object_get(o, "hypervisor")))
    return lisec_err_set(err, LISEC_EINVAL,
                         "hypervisor: a VM runs on exactly one hypervisor, not a list");
  if ((rc = get_str(o, "hypervisor", true, MODEL_ID_MAX, &s->hypervisor, err)) ||
      (rc = get_str(o, "sensitivity", true, 32, &cls, err)) ||
      (rc = get_str(o, "domain", true, MODEL_ID_MAX, &s->domain, err)) ||
      (rc = get_bool(o, "paired", false, false, &s->paired, err)))
    return rc;
  if (model_class_parse(cls, &s->sensitivity))
    return lisec_err_set(err, LISEC_EINVAL,
                         "sensitivity: must be \"general\", \"sensitive\" or \"li\"");
  return 0;
}

static int put_vm(model *m, const json_t *o, lisec_err *err) {
  model_vm_spec s;
  int rc = parse_vm(o, &s, err);
  return rc ? rc : model_vm_put(m, &s, err);
}

/* Storage and the complete list of VMs it is provided to. */
static int put_storage(model *m, const json_t *o, lisec_err *err) {
  static const char *const keys[] = {"id", "vm", "provided_to", NULL};
  const char *id, *root;
  const json_t *to;
  int rc;
  if ((rc = only_keys(o, keys, err)) || (rc = get_str(o, "id", true, MODEL_ID_MAX, &id, err)) ||
      (rc = get_str(o, "vm", true, MODEL_ID_MAX, &root, err)) ||
      (rc = get_array(o, "provided_to", false, MODEL_ENTITIES_MAX, &to, err)))
    return rc;
  const char **users = NULL;
  size_t n = to ? json_array_size(to) : 0;
  if (to && (rc = str_list(to, "provided_to", &users, err))) return rc;
  uint32_t v, r;
  if ((rc = find_id(&m->vms.ids, root, "vm", "VM", &r, err))) goto out;
  for (size_t i = 0; i < n; i++) {
    char field[40];
    snprintf(field, sizeof field, "provided_to[%zu]", i);
    if ((rc = find_id(&m->vms.ids, users[i], field, "VM", &v, err))) goto out;
    if (v == r) {
      rc = lisec_err_set(err, LISEC_EINVAL,
                         "%s: storage %s is rooted in VM %s; it is not provided to its own root",
                         field, id, root);
      goto out;
    }
  }
  if ((rc = model_storage_put(m, id, root, err))) goto out;
  uint32_t s;
  strmap_get(&m->stores.ids, id, &s);
  /* Detach what the list no longer names, then attach the rest. */
  for (uint32_t k = m->stores.a[s].attach.n; k-- > 0;) {
    uint32_t user = m->attach.a[m->stores.a[s].attach.v[k]].user;
    bool keep = false;
    for (size_t i = 0; i < n && !keep; i++) keep = strcmp(users[i], m->vms.a[user].id) == 0;
    if (!keep && (rc = model_storage_detach(m, id, m->vms.a[user].id, err))) goto out;
  }
  for (size_t i = 0; i < n && !rc; i++) rc = model_storage_attach(m, id, users[i], err);
out:
  free(users);
  return rc;
}

static int parse_conn(const json_t *o, model_conn_spec *s, lisec_err *err) {
  static const char *const keys[] = {"id", "between", "kind", "secure", NULL};
  const char *kind;
  const json_t *between;
  int rc;
  memset(s, 0, sizeof *s);
  if ((rc = only_keys(o, keys, err)) || (rc = get_str(o, "id", true, MODEL_ID_MAX, &s->id, err)) ||
      (rc = get_array(o, "between", true, 2, &between, err)) ||
      (rc = get_str(o, "kind", true, 32, &kind, err)) ||
      (rc = get_bool(o, "secure", true, false, &s->secure, err)))
    return rc;
  if (json_array_size(between) != 2 || !json_is_string(json_array_get(between, 0)) ||
      !json_is_string(json_array_get(between, 1)))
    return lisec_err_set(err, LISEC_EINVAL, "between: the ids of exactly two VMs");
  s->a = json_string_value(json_array_get(between, 0));
  s->b = json_string_value(json_array_get(between, 1));
  if (model_conn_kind_parse(kind, &s->kind))
    return lisec_err_set(err, LISEC_EINVAL,
                         "kind: must be \"ipc\", \"network\", \"nfs\", \"block\" or \"other\"");
  return 0;
}

static int put_conn(model *m, const json_t *o, lisec_err *err) {
  model_conn_spec s;
  int rc = parse_conn(o, &s, err);
  return rc ? rc : model_conn_put(m, &s, err);
}

typedef struct group_buf {
  const char *conns[MODEL_GROUP_HOPS_MAX];
  const char *inter[MODEL_GROUP_HOPS_MAX];
  bool stores[MODEL_GROUP_HOPS_MAX];
} group_buf;

static int parse_group(const json_t *o, model_group_spec *s, group_buf *b, lisec_err *err) {
  static const char *const keys[] = {"id", "between", "connections", "intermediates", NULL};
  static const char *const ikeys[] = {"vm", "stores", NULL};
  const json_t *conns, *inter, *between;
  int rc;
  memset(s, 0, sizeof *s);
  if ((rc = only_keys(o, keys, err)) || (rc = get_str(o, "id", true, MODEL_ID_MAX, &s->id, err)) ||
      (rc = get_array(o, "connections", true, MODEL_GROUP_HOPS_MAX, &conns, err)) ||
      (rc = get_array(o, "intermediates", false, MODEL_GROUP_HOPS_MAX, &inter, err)) ||
      (rc = get_array(o, "between", false, 2, &between, err)))
    return rc;
  s->n = json_array_size(conns);
  if (s->n == 0) return lisec_err_set(err, LISEC_EINVAL, "connections: at least one connection");
  for (size_t i = 0; i < s->n; i++) {
    const json_t *c = json_array_get(conns, i);
    if (!json_is_string(c))
      return lisec_err_set(err, LISEC_EINVAL, "connections[%zu]: must be a connection id", i);
    b->conns[i] = json_string_value(c);
  }
  s->connections = b->conns;
  size_t ni = inter ? json_array_size(inter) : 0;
  if (ni != s->n - 1)
    return lisec_err_set(err, LISEC_EINVAL,
                         "intermediates: a path of %zu connection%s passes %zu intermediate VM%s, "
                         "%zu listed",
                         s->n, s->n == 1 ? "" : "s", s->n - 1, s->n == 2 ? "" : "s", ni);
  for (size_t i = 0; i < ni; i++) {
    const json_t *e = json_array_get(inter, i);
    if (!json_is_object(e))
      return lisec_err_set(err, LISEC_EINVAL,
                           "intermediates[%zu]: must be {\"vm\": id, \"stores\": bool}", i);
    if ((rc = only_keys(e, ikeys, err)) ||
        (rc = get_str(e, "vm", true, MODEL_ID_MAX, &b->inter[i], err)) ||
        (rc = get_bool(e, "stores", true, false, &b->stores[i], err))) {
      return prefix_err(err, rc, "intermediates[%zu]", i);
    }
  }
  if (ni) {
    s->intermediates = b->inter;
    s->stores = b->stores;
  }
  if (between) {
    if (json_array_size(between) != 2 || !json_is_string(json_array_get(between, 0)) ||
        !json_is_string(json_array_get(between, 1)))
      return lisec_err_set(err, LISEC_EINVAL, "between: the ids of exactly two VMs");
    s->from = json_string_value(json_array_get(between, 0));
    s->to = json_string_value(json_array_get(between, 1));
  }
  return 0;
}

static int put_group(model *m, const json_t *o, lisec_err *err) {
  model_group_spec s;
  group_buf b;
  int rc = parse_group(o, &s, &b, err);
  return rc ? rc : model_group_put(m, &s, err);
}

static int put_jurisdiction(model *m, const json_t *o, lisec_err *err) {
  static const char *const keys[] = {"id", "name", "codes", "geometry", NULL};
  const char *id, *name;
  const json_t *codes;
  const char **list = NULL;
  int rc;
  if ((rc = only_keys(o, keys, err)) || (rc = get_str(o, "id", true, MODEL_ID_MAX, &id, err)) ||
      (rc = get_str(o, "name", false, MODEL_TEXT_MAX, &name, err)) ||
      (rc = get_array(o, "codes", false, MODEL_JUR_CODES_MAX, &codes, err)))
    return rc;
  size_t n = codes ? json_array_size(codes) : 0;
  if (codes && (rc = str_list(codes, "codes", &list, err))) return rc;
  rc = model_jurisdiction_put(m, id, list, n, json_object_get(o, "geometry"), err);
  free(list);
  return rc;
}

static int put_lea(model *m, const json_t *o, lisec_err *err) {
  static const char *const keys[] = {"id", "name", "jurisdiction", NULL};
  const char *id, *name, *jur;
  int rc;
  if ((rc = only_keys(o, keys, err)) || (rc = get_str(o, "id", true, MODEL_ID_MAX, &id, err)) ||
      (rc = get_str(o, "name", false, MODEL_TEXT_MAX, &name, err)) ||
      (rc = get_str(o, "jurisdiction", false, MODEL_ID_MAX, &jur, err)))
    return rc;
  return model_lea_put(m, id, name, jur, err);
}

static int put_li(model *m, const json_t *o, lisec_err *err) {
  static const char *const keys[] = {"id", "jurisdiction", "lea", "monitored", "host", "storage",
                                     "storage_via", "valid_from", "valid_until", NULL};
  model_li_spec s = {0};
  int rc;
  if ((rc = only_keys(o, keys, err)) || (rc = get_str(o, "id", true, MODEL_ID_MAX, &s.id, err)))
    return rc;
  const json_t *j = json_object_get(o, "jurisdiction");
  if (json_is_object(j) || json_is_array(j))
    return lisec_err_set(err, LISEC_EINVAL,
                         "jurisdiction: the id of an entry in \"jurisdictions\" (which holds "
                         "the codes and polygons)");
  if ((rc = get_str(o, "jurisdiction", true, MODEL_ID_MAX, &s.jurisdiction, err)) ||
      (rc = get_str(o, "lea", true, MODEL_ID_MAX, &s.lea, err)) ||
      (rc = get_str(o, "monitored", true, MODEL_ID_MAX, &s.monitored, err)) ||
      (rc = get_str(o, "host", true, MODEL_ID_MAX, &s.host, err)) ||
      (rc = get_str(o, "storage", true, MODEL_ID_MAX, &s.storage, err)) ||
      (rc = get_str(o, "storage_via", false, MODEL_ID_MAX, &s.storage_via, err)) ||
      (rc = get_time(o, "valid_from", &s.valid_from, err)) ||
      (rc = get_time(o, "valid_until", &s.valid_until, err)))
    return rc;
  return model_li_put(m, &s, err);
}

typedef int (*put_fn)(model *m, const json_t *o, lisec_err *err);

#define IDS(field) \
  static strmap *ids_##field(model *m) { return &m->field.ids; }
IDS(hosts)
IDS(hyps)
IDS(vms)
IDS(stores)
IDS(conns)
IDS(groups)
IDS(jurs)
IDS(leas)
IDS(lis)

/* In dependency order: what an entry names is loaded before it. */
static const struct {
  const char *kind, *array;
  put_fn put;
  strmap *(*ids)(model *m);
} kinds[] = {
    {"jurisdiction", "jurisdictions", put_jurisdiction, ids_jurs},
    {"lea", "leas", put_lea, ids_leas},
    {"host", "hosts", put_host, ids_hosts},
    {"hypervisor", "hypervisors", put_hypervisor, ids_hyps},
    {"vm", "vms", put_vm, ids_vms},
    {"storage", "storage", put_storage, ids_stores},
    {"connection", "connections", put_conn, ids_conns},
    {"group", "groups", put_group, ids_groups},
    {"li", "lis", put_li, ids_lis},
};

int model_put_json(model *m, const char *kind, const json_t *obj, lisec_err *err) {
  if (!json_is_object(obj)) return lisec_err_set(err, LISEC_EINVAL, "%s: must be a JSON object", kind);
  for (size_t i = 0; i < LISEC_ARRAY_LEN(kinds); i++)
    if (strcmp(kind, kinds[i].kind) == 0) return kinds[i].put(m, obj, err);
  return lisec_err_set(err, LISEC_EINVAL, "kind: unknown entity kind \"%.32s\"", kind);
}

int model_remove_kind(model *m, const char *kind, const char *id, lisec_err *err) {
  if (strcmp(kind, "host") == 0) return model_host_remove(m, id, err);
  if (strcmp(kind, "hypervisor") == 0) return model_hypervisor_remove(m, id, err);
  if (strcmp(kind, "vm") == 0) return model_vm_remove(m, id, err);
  if (strcmp(kind, "storage") == 0) return model_storage_remove(m, id, err);
  if (strcmp(kind, "connection") == 0) return model_conn_remove(m, id, err);
  if (strcmp(kind, "group") == 0) return model_group_remove(m, id, err);
  if (strcmp(kind, "jurisdiction") == 0) return model_jurisdiction_remove(m, id, err);
  if (strcmp(kind, "lea") == 0) return model_lea_remove(m, id, err);
  if (strcmp(kind, "li") == 0) return model_li_remove(m, id, err);
  return lisec_err_set(err, LISEC_EINVAL, "kind: unknown entity kind \"%.32s\"", kind);
}

/* ---- whole documents --------------------------------------------------------------- */

int model_topology_load_json(const json_t *root, int64_t now, model **out, lisec_err *err) {
  static const char *const keys[] = {"format", "description", "time", "hosts", "hypervisors",
                                     "vms", "storage", "connections", "groups", "jurisdictions",
                                     "leas", "lis", NULL};
  *out = NULL;
  if (!json_is_object(root))
    return lisec_err_set(err, LISEC_EINVAL, "topology: must be a JSON object");
  int rc = only_keys(root, keys, err);
  const char *format, *desc;
  if (rc || (rc = get_str(root, "format", false, 64, &format, err)) ||
      (rc = get_str(root, "description", false, 4096, &desc, err)))
    return rc;
  if (format && strcmp(format, "lisec-topology/1") != 0)
    return lisec_err_set(err, LISEC_EINVAL, "format: must be \"lisec-topology/1\"");
  if (json_object_get(root, "time") && (rc = get_time(root, "time", &now, err))) return rc;
  model *m = model_new();
  if (!m) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  model_set_time(m, now, NULL);
  model_batch_begin(m);
  for (size_t k = 0; k < LISEC_ARRAY_LEN(kinds) && !rc; k++) {
    const json_t *arr;
    if ((rc = get_array(root, kinds[k].array, false, MODEL_ENTITIES_MAX, &arr, err)) || !arr)
      continue;
    for (size_t i = 0; i < json_array_size(arr) && !rc; i++) {
      const json_t *o = json_array_get(arr, i);
      if (!json_is_object(o)) {
        rc = lisec_err_set(err, LISEC_EINVAL, "%s[%zu]: must be an object", kinds[k].array, i);
        break;
      }
      /* In a document each entity is listed once: a second entry is an
       * error (for a VM, a second hypervisor), not an update. */
      const char *id = json_string_value(json_object_get(o, "id"));
      if (id && strmap_get(kinds[k].ids(m), id, NULL)) {
        if (strcmp(kinds[k].kind, "vm") == 0) {
          uint32_t v;
          strmap_get(&m->vms.ids, id, &v);
          rc = lisec_err_set(err, LISEC_EINVAL,
                             "vms[%zu].id: VM \"%s\" is listed twice; it already runs on "
                             "hypervisor %s, and a VM runs on exactly one hypervisor",
                             i, id, m->hyps.a[m->vms.a[v].hyp].id);
        } else {
          rc = lisec_err_set(err, LISEC_EINVAL, "%s[%zu].id: \"%s\" is listed twice",
                             kinds[k].array, i, id);
        }
        break;
      }
      if ((rc = kinds[k].put(m, o, err))) rc = prefix_err(err, rc, "%s[%zu]", kinds[k].array, i);
    }
  }
  if (rc) {
    model_free(m);
    return rc;
  }
  model_batch_end(m);
  if (m->oom) {
    model_free(m);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory while evaluating the topology");
  }
  *out = m;
  return 0;
}

int model_topology_load(const char *json, size_t len, int64_t now, model **out, lisec_err *err) {
  *out = NULL;
  if (len > MODEL_TOPOLOGY_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "topology: larger than %u bytes", MODEL_TOPOLOGY_MAX);
  json_t *root;
  int rc = lisec_json_parse(json, len, &root, err);
  if (rc) return rc;
  rc = model_topology_load_json(root, now, out, err);
  json_decref(root);
  return rc;
}
