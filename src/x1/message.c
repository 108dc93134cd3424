/* Building and reading X1 messages (ETSI TS 103 221-1 clause 6). Building
 * uses libxml2's tree API, which escapes every value, brings identifiers to
 * the schema's formats and validates the result before handing it out;
 * reading refuses oversized input and any DTD, never expands entities or
 * touches the network, validates each message against ETSI's schema, and
 * only then copies fields into bounded structs. A container may carry
 * several messages; each is answered on its own. */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "x1/x1_internal.h"

#define XSI_NS "http://www.w3.org/2001/XMLSchema-instance"
/* TS 103 280's namespace: the children of its complex types (IPCIDR,
 * TCPPortRange, IPAddressPort) are qualified in it. */
#define COMMON_NS "http://uri.etsi.org/03280/common/2017/07"

static const char *const type_names[X1_TYPE_COUNT] = {
    "ActivateTask",      "ModifyTask",        "DeactivateTask",        "GetTaskDetails",
    "Ping",              "Keepalive",         "ReportTaskIssue",       "ListAllDetails",
    "DeactivateAllTasks", "CreateDestination", "ModifyDestination",    "RemoveDestination",
    "GetDestinationDetails", "GetNEStatus",   "ReportNEIssue",     "RemoveAllDestinations",
    "GetAllDetails",     "GetAllTaskDetails", "GetAllDestinationDetails", "ReportDestinationIssue",
    "CreateObject",      "ModifyObject",      "DeleteObject",
};

/* The schema's RequestMessageType enumeration: the names an ErrorResponse
 * may give, whether or not lisec supports the type. */
static const char *const request_types[] = {
    "ActivateTask", "ModifyTask", "DeactivateTask", "DeactivateAllTasks", "GetTaskDetails",
    "CreateDestination", "ModifyDestination", "RemoveDestination", "RemoveAllDestinations",
    "GetDestinationDetails", "GetNEStatus", "GetAllDetails", "GetAllTaskDetails",
    "GetAllDestinationDetails", "GetAllGenericObjectDetails", "ListAllDetails", "ReportTaskIssue",
    "ReportDestinationIssue", "ReportNEIssue", "Ping", "Keepalive", "CreateObject", "ModifyObject",
    "GetObject", "DeleteObject", "ListObjectsOfType", "DeleteAllObjects",
};

const char *x1_type_name(x1_type t) { return (unsigned)t < X1_TYPE_COUNT ? type_names[t] : "?"; }

/* ---- target identifiers -------------------------------------------------- */

static const struct {
  const char *kind, *element;
} target_elements[] = {
    {"e164", "e164Number"},      {"imsi", "imsi"},             {"imei", "imei"},
    {"supi", "supiimsi"},        {"gpsi", "gpsiMsisdn"},       {"ipv4", "ipv4Address"},
    {"ipv6", "ipv6Address"},     {"ipv4-prefix", "ipv4Cidr"},  {"ipv6-prefix", "ipv6Cidr"},
    {"mac", "macAddress"},       {"email", "emailAddress"},    {"sip-uri", "sipUri"},
    {"tel-uri", "telUri"},       {"port-range", "tcpPortRange"},
};

/* The TargetIdentifier choices lisec reads and builds (docs/x1.md); the
 * schema has more (hashedIdentifier, gtpuTunnelId, ...), which lisec
 * refuses by name rather than misread. */
static const char *const supported_elements[] = {
    "e164Number", "imsi",        "imei",         "peiImei",     "peiImeiCheckDigit", "peiImeisv",
    "supiimsi",   "supinai",     "gpsiMsisdn",   "gpsiNai",     "macAddress",        "ipv4Address",
    "ipv6Address", "ipv4Cidr",   "ipv6Cidr",     "tcpPort",     "tcpPortRange",      "udpPort",
    "udpPortRange", "emailAddress", "sipUri",    "telUri",      "impu",              "impi",
    "nai",        "hashedIdentifier",
};

static bool element_supported(const char *name) {
  for (size_t i = 0; i < LISEC_ARRAY_LEN(supported_elements); i++)
    if (strcmp(name, supported_elements[i]) == 0) return true;
  return false;
}

const char *x1_target_element(const char *kind) {
  for (size_t i = 0; i < LISEC_ARRAY_LEN(target_elements); i++)
    if (strcmp(kind, target_elements[i].kind) == 0) return target_elements[i].element;
  return NULL;
}

static bool digits(const char *s, size_t min, size_t max) {
  size_t n = strlen(s);
  if (n < min || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i])) return false;
  return true;
}

/* An IPv6 address in the schema's one form: eight groups of four lowercase
 * hex digits (no "::", no mixed IPv4 notation). */
static bool ipv6_full(const char *in, char *out, size_t cap) {
  unsigned char b[16];
  if (inet_pton(AF_INET6, in, b) != 1) return false;
  snprintf(out, cap, "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x", b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return true;
}

/* "ADDRESS/LEN" with the address in the schema's IPv6 form. */
static bool ipv6_prefix_full(const char *in, char *out, size_t cap) {
  const char *slash = strchr(in, '/');
  char addr[64], full[40];
  if (!slash || (size_t)(slash - in) >= sizeof addr) return false;
  memcpy(addr, in, (size_t)(slash - in));
  addr[slash - in] = '\0';
  if (!ipv6_full(addr, full, sizeof full)) return false;
  snprintf(out, cap, "%s%s", full, slash);
  return true;
}

static void rename_to(x1_target *t, const char *element, const char *value_from) {
  char v[X1_VALUE_MAX + 1];
  snprintf(v, sizeof v, "%s", value_from);
  snprintf(t->element, sizeof t->element, "%s", element);
  snprintf(t->value, sizeof t->value, "%s", v);
}

size_t x1_hash_length(const char *algorithm) {
  if (strcmp(algorithm, "sha-256") == 0) return 32;
  if (strcmp(algorithm, "sha-512") == 0 || strcmp(algorithm, "sha3-512") == 0) return 64;
  return 0;
}

/* A HashedID value "CONTEXT TYPE DIGEST" split into its three parts (the
 * type may hold spaces: it is what lies between the first and the last);
 * the digest is brought to lower case. false when it is not of that form. */
static bool hashed_split(char *v, char ctx[X1_UUID_LEN + 1], char type[X1_HASH_TYPE_MAX + 1], char **digest) {
  char *first = strchr(v, ' '), *last = strrchr(v, ' ');
  if (!first || first == last || first - v != X1_UUID_LEN || last - first - 1 < 1 ||
      last - first - 1 > X1_HASH_TYPE_MAX || !last[1])
    return false;
  memcpy(ctx, v, X1_UUID_LEN);
  ctx[X1_UUID_LEN] = '\0';
  snprintf(type, X1_HASH_TYPE_MAX + 1, "%.*s", (int)(last - first - 1), first + 1);
  for (char *p = last + 1; *p; p++) {
    if (!isxdigit((unsigned char)*p)) return false;
    *p = (char)tolower((unsigned char)*p);
  }
  *digest = last + 1;
  return true;
}

int x1_target_normalise(x1_target *t, lisec_err *err) {
  char *v = t->value;
  const char *e = t->element;
  if (strcmp(e, "hashedIdentifier") == 0) {
    char ctx[X1_UUID_LEN + 1], type[X1_HASH_TYPE_MAX + 1], *digest;
    if (!hashed_split(v, ctx, type, &digest) || strlen(digest) % 2)
      return lisec_err_set(err, LISEC_EINVAL, "X1 target hashedIdentifier: CONTEXT-ID TYPE HEX-DIGEST (type 1 to "
                           "%d bytes; TS 103 221-1 HashedID)", X1_HASH_TYPE_MAX);
  } else if (strcmp(e, "imei") == 0 && digits(v, 15, 15)) {
    rename_to(t, "peiImeiCheckDigit", v); /* the schema's imei has no check digit */
  } else if (strcmp(e, "supiimsi") == 0 && strncmp(v, "imsi-", 5) == 0) {
    rename_to(t, "supiimsi", v + 5);
  } else if (strcmp(e, "supiimsi") == 0 && strncmp(v, "nai-", 4) == 0) {
    rename_to(t, "supinai", v + 4);
  } else if (strcmp(e, "gpsiMsisdn") == 0 && strncmp(v, "msisdn-", 7) == 0) {
    rename_to(t, "gpsiMsisdn", v + 7);
  } else if (strcmp(e, "gpsiMsisdn") == 0 && strncmp(v, "extid-", 6) == 0) {
    rename_to(t, "gpsiNai", v + 6);
  } else if (strcmp(e, "macAddress") == 0) {
    for (char *p = v; *p; p++) *p = *p == '-' ? ':' : (char)tolower((unsigned char)*p);
  } else if (strcmp(e, "ipv6Address") == 0) {
    char full[40];
    if (!ipv6_full(v, full, sizeof full))
      return lisec_err_set(err, LISEC_EINVAL, "X1 target ipv6Address: not an IPv6 address");
    snprintf(t->value, sizeof t->value, "%s", full);
  } else if (strcmp(e, "ipv6Cidr") == 0 || (strcmp(e, "ipv4Cidr") == 0 && strchr(v, ':'))) {
    char full[48];
    if (!ipv6_prefix_full(v, full, sizeof full))
      return lisec_err_set(err, LISEC_EINVAL, "X1 target %s: not an IPv6 prefix ADDRESS/LEN", e);
    snprintf(t->value, sizeof t->value, "%s", full);
  } else if (strcmp(e, "tcpPortRange") == 0 || strcmp(e, "udpPortRange") == 0) {
    const char *dash = strchr(v, '-'), *hi_s = dash ? dash + 1 : v;
    int64_t lo, hi;
    /* TS 103 280 TCPPort and UDPPort are 2 to 65535 */
    if (!lisec_decimal(v, dash ? (size_t)(dash - v) : strlen(v), 2, 65535, &lo) ||
        !lisec_decimal(hi_s, strlen(hi_s), 2, 65535, &hi) || lo > hi)
      return lisec_err_set(err, LISEC_EINVAL,
                           "X1 target %s: PORT or PORT-PORT, the first not above the second, ports 2 to 65535 "
                           "in TS 103 280 (port 0 and 1 cannot be tasked)", e);
    if (!dash) rename_to(t, e[0] == 't' ? "tcpPort" : "udpPort", v);
  }
  return 0;
}

/* ---- header ------------------------------------------------------------- */

int x1_uuid(char out[X1_UUID_LEN + 1], lisec_err *err) {
  uint8_t b[16];
  int rc = crypto_random(b, sizeof b, err);
  if (rc) return rc;
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  snprintf(out, X1_UUID_LEN + 1,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return 0;
}

static void timestamp_now(char *out, size_t cap) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char base[24];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, cap, "%.19s.%06dZ", base, (int)(ts.tv_nsec / 1000) % 1000000);
}

int x1_header_init(x1_header *h, const char *admf, const char *ne, lisec_err *err) {
  memset(h, 0, sizeof *h);
  /* lisec names its ADMF and NEs by its one id rule (base/id.c). */
  if (!admf || !ne || strnlen(admf, X1_ID_MAX + 1) > X1_ID_MAX || strnlen(ne, X1_ID_MAX + 1) > X1_ID_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "X1 ADMF and NE identifiers are 1 to %d bytes", X1_ID_MAX);
  int rc = lisec_id_check("X1 ADMF identifier", admf, strlen(admf), err);
  if (rc || (rc = lisec_id_check("X1 NE identifier", ne, strlen(ne), err))) return rc;
  snprintf(h->admf, sizeof h->admf, "%s", admf);
  snprintf(h->ne, sizeof h->ne, "%s", ne);
  snprintf(h->version, sizeof h->version, "%s", X1_VERSION);
  timestamp_now(h->timestamp, sizeof h->timestamp);
  return x1_uuid(h->transaction, err);
}

/* "v1.N.M" -> N * 100000 + M; -1 when not of that form. */
static long version_rank(const char *v) {
  if (!v || strncmp(v, "v1.", 3) != 0) return -1;
  char *end;
  long n = strtol(v + 3, &end, 10);
  if (end == v + 3 || *end != '.' || n < 0 || n > 9999) return -1;
  const char *m0 = end + 1;
  long m = strtol(m0, &end, 10);
  if (end == m0 || *end || m < 0 || m > 99999) return -1;
  return n * 100000 + m;
}

bool x1_version_within(const char *version, const char *min, const char *max) {
  long v = version_rank(version), lo = version_rank(min), hi = version_rank(max);
  return v >= 0 && lo >= 0 && hi >= 0 && v >= lo && v <= hi;
}

/* ---- building ------------------------------------------------------------ */

typedef struct builder {
  xmlDocPtr doc;
  xmlNodePtr root;
  xmlNsPtr ns, xsi, common;
  xmlNsPtr hid, dset; /* the HashedID and DestinationSet modules, declared when used */
} builder;

static void builder_open(builder *b, const char *root) {
  b->hid = b->dset = NULL;
  b->doc = xmlNewDoc(BAD_CAST "1.0");
  b->root = xmlNewDocNode(b->doc, NULL, BAD_CAST root, NULL);
  xmlDocSetRootElement(b->doc, b->root);
  b->ns = xmlNewNs(b->root, BAD_CAST X1_NAMESPACE, NULL);
  b->xsi = xmlNewNs(b->root, BAD_CAST XSI_NS, BAD_CAST "xsi");
  b->common = xmlNewNs(b->root, BAD_CAST COMMON_NS, BAD_CAST "etsi103280");
  xmlSetNs(b->root, b->ns);
}

static xmlNodePtr text(builder *b, xmlNodePtr parent, const char *name, const char *value) {
  return xmlNewTextChild(parent, b->ns, BAD_CAST name, BAD_CAST value);
}

static xmlNodePtr node(builder *b, xmlNodePtr parent, const char *name) {
  return xmlNewChild(parent, b->ns, BAD_CAST name, NULL);
}

/* Elements of TS 103 280's types. */
static xmlNodePtr common_text(builder *b, xmlNodePtr parent, const char *name, const char *value) {
  return xmlNewTextChild(parent, b->common, BAD_CAST name, BAD_CAST value);
}

static xmlNodePtr common_node(builder *b, xmlNodePtr parent, const char *name) {
  return xmlNewChild(parent, b->common, BAD_CAST name, NULL);
}

static xmlNsPtr hid_ns(builder *b) {
  if (!b->hid) b->hid = xmlNewNs(b->root, BAD_CAST X1_HASHEDID_NAMESPACE, BAD_CAST "hashedID");
  return b->hid;
}

static xmlNsPtr dset_ns(builder *b) {
  if (!b->dset) b->dset = xmlNewNs(b->root, BAD_CAST X1_DESTSET_NAMESPACE, BAD_CAST "destinationSet");
  return b->dset;
}

static void header(builder *b, xmlNodePtr m, const x1_header *h, bool transaction) {
  text(b, m, "admfIdentifier", h->admf);
  text(b, m, "neIdentifier", h->ne);
  text(b, m, "messageTimestamp", h->timestamp);
  text(b, m, "version", h->version);
  if (transaction) text(b, m, "x1TransactionId", h->transaction);
}

static xmlNodePtr message(builder *b, bool request, const x1_header *h, const char *xsi_type) {
  xmlNodePtr m = node(b, b->root, request ? "x1RequestMessage" : "x1ResponseMessage");
  xmlNewNsProp(m, b->xsi, BAD_CAST "type", BAD_CAST xsi_type);
  header(b, m, h, true);
  return m;
}

static int add_target(builder *b, xmlNodePtr parent, const x1_target *in, lisec_err *err) {
  x1_target t = *in;
  int rc = x1_target_normalise(&t, err);
  if (rc) {
    crypto_wipe(&t, sizeof t);
    return rc;
  }
  xmlNodePtr ti = node(b, parent, "targetIdentifier");
  if (strcmp(t.element, "hashedIdentifier") == 0) {
    char ctx[X1_UUID_LEN + 1], type[X1_HASH_TYPE_MAX + 1], *digest = NULL;
    (void)hashed_split(t.value, ctx, type, &digest); /* x1_target_normalise checked the form */
    xmlNodePtr h = node(b, ti, "hashedIdentifier");
    xmlNewTextChild(h, hid_ns(b), BAD_CAST "hashContextID", BAD_CAST ctx);
    xmlNewTextChild(h, hid_ns(b), BAD_CAST "targetIdentityType", BAD_CAST type);
    xmlNewTextChild(h, hid_ns(b), BAD_CAST "hashDigest", BAD_CAST(digest ? digest : ""));
  } else if (strcmp(t.element, "ipv4Cidr") == 0) {
    /* TS 103 280 IPCIDR: the prefix is a child naming its family */
    common_text(b, node(b, ti, "ipv4Cidr"), strchr(t.value, ':') ? "IPv6CIDR" : "IPv4CIDR", t.value);
  } else if (strcmp(t.element, "tcpPortRange") == 0 || strcmp(t.element, "udpPortRange") == 0) {
    char lo[8] = "", hi[8] = "";
    const char *dash = strchr(t.value, '-');
    snprintf(lo, sizeof lo, "%.*s", dash ? (int)(dash - t.value) : 0, t.value);
    snprintf(hi, sizeof hi, "%s", dash ? dash + 1 : "");
    xmlNodePtr r = node(b, ti, t.element);
    common_text(b, r, "start", lo);
    common_text(b, r, "end", hi);
  } else {
    text(b, ti, t.element, t.value);
  }
  crypto_wipe(&t, sizeof t);
  return 0;
}

static void add_dids(builder *b, xmlNodePtr parent, const char *name, const x1_task *t) {
  xmlNodePtr dids = node(b, parent, name);
  for (size_t i = 0; i < t->n_dids && i < X1_MAX_DIDS; i++) text(b, dids, "dId", t->dids[i]);
  for (size_t i = 0; i < t->n_dsids && i < X1_MAX_DIDS; i++) text(b, dids, "dSId", t->dsids[i]);
}

static int add_task(builder *b, xmlNodePtr parent, const x1_task *t, lisec_err *err) {
  xmlNodePtr td = node(b, parent, "taskDetails");
  text(b, td, "xId", t->xid);
  xmlNodePtr tis = node(b, td, "targetIdentifiers");
  for (size_t i = 0; i < t->n_targets && i < X1_MAX_TARGETS; i++) {
    int rc = add_target(b, tis, &t->targets[i], err);
    if (rc) return rc;
  }
  text(b, td, "deliveryType", t->delivery);
  add_dids(b, td, "listOfDIDs", t);
  return 0;
}

static int add_destination(builder *b, xmlNodePtr parent, const x1_destination *d, lisec_err *err) {
  xmlNodePtr dd = node(b, parent, "destinationDetails");
  text(b, dd, "dId", d->did);
  if (d->friendly[0]) text(b, dd, "friendlyName", d->friendly);
  text(b, dd, "deliveryType", d->delivery);
  xmlNodePtr da = node(b, dd, "deliveryAddress");
  if (strcmp(d->address_kind, "ip") == 0) {
    xmlNodePtr ap = node(b, da, "ipAddressAndPort");
    char full[40], port[8];
    bool v6 = strchr(d->address, ':') != NULL;
    if (v6 && !ipv6_full(d->address, full, sizeof full))
      return lisec_err_set(err, LISEC_EINVAL, "X1 destination address: not an IPv6 address");
    common_text(b, common_node(b, ap, "address"), v6 ? "IPv6Address" : "IPv4Address", v6 ? full : d->address);
    snprintf(port, sizeof port, "%d", d->port);
    common_text(b, common_node(b, ap, "port"), d->udp ? "UDPPort" : "TCPPort", port);
  } else if (strcmp(d->address_kind, "e164Number") == 0 || strcmp(d->address_kind, "uri") == 0 ||
             strcmp(d->address_kind, "emailAddress") == 0) {
    text(b, da, d->address_kind, d->address);
  } else {
    return lisec_err_set(err, LISEC_EINVAL, "X1 destination: address kind \"%s\" is not ip, e164Number, uri "
                         "or emailAddress", d->address_kind);
  }
  return 0;
}

static void add_status(builder *b, xmlNodePtr parent, const char *name, const char *status,
                       const char *otherwise) {
  text(b, parent, name, status[0] ? status : otherwise);
  node(b, parent, "listOfFaults");
}

/* A generic object as element name, typed by xsi:type in its module. */
static int add_object(builder *b, xmlNodePtr parent, const char *name, const x1_object *o, lisec_err *err) {
  xmlNodePtr n = node(b, parent, name);
  if (o->kind == X1_OBJECT_DESTINATION_SET) {
    xmlNsPtr ds = dset_ns(b);
    xmlNewNsProp(n, b->xsi, BAD_CAST "type", BAD_CAST "destinationSet:DestinationSetDetails");
    text(b, n, "objectId", o->id);
    if (o->friendly[0]) xmlNewTextChild(n, ds, BAD_CAST "friendlyName", BAD_CAST o->friendly);
    xmlNodePtr list = xmlNewChild(n, ds, BAD_CAST "listOfAssociatedDIDs", NULL);
    for (size_t i = 0; i < o->n_dids && i < X1_MAX_DIDS; i++) {
      char pref[24];
      snprintf(pref, sizeof pref, "%ld", o->preference[i]);
      xmlNodePtr a = xmlNewChild(list, ds, BAD_CAST "AssociatedDID", NULL);
      xmlNewTextChild(a, ds, BAD_CAST "dId", BAD_CAST o->dids[i]);
      xmlNewTextChild(a, ds, BAD_CAST "preference", BAD_CAST pref);
    }
    xmlNewTextChild(n, ds, BAD_CAST "destinationSetType", BAD_CAST o->set_type);
    return 0;
  }
  if (o->kind == X1_OBJECT_HASH_CONTEXT) {
    xmlNewNsProp(n, b->xsi, BAD_CAST "type", BAD_CAST "hashedID:HashContext");
    hid_ns(b);
    text(b, n, "objectId", o->id);
    xmlNewTextChild(n, b->hid, BAD_CAST "hashAlgorithm", BAD_CAST o->algorithm);
    xmlNewTextChild(n, b->hid, BAD_CAST "salt", BAD_CAST o->salt);
    return 0;
  }
  return lisec_err_set(err, LISEC_EINVAL, "X1 generic object: neither a destination set nor a hash context");
}

static int add_task_response(builder *b, xmlNodePtr parent, const x1_task *t, const char *status,
                             lisec_err *err) {
  xmlNodePtr trd = node(b, parent, "taskResponseDetails");
  int rc = add_task(b, trd, t, err);
  if (!rc) add_status(b, node(b, trd, "taskStatus"), "provisioningStatus", status, "complete");
  return rc;
}

static int add_destination_response(builder *b, xmlNodePtr parent, const x1_destination *d, const char *status,
                                    lisec_err *err) {
  xmlNodePtr drd = node(b, parent, "destinationResponseDetails");
  int rc = add_destination(b, drd, d, err);
  if (!rc) add_status(b, node(b, drd, "destinationStatus"), "destinationDeliveryStatus", status, "activeAndWorking");
  return rc;
}

/* The lists of GetAllDetails, GetAllTaskDetails, GetAllDestinationDetails. */
static int add_all(builder *b, xmlNodePtr m, const x1_response *r, bool tasks, bool dests, bool objects,
                   lisec_err *err) {
  int rc = 0;
  if (tasks) {
    xmlNodePtr l = node(b, m, "listOfTaskResponseDetails");
    for (size_t i = 0; i < r->n_tasks && r->tasks && !rc; i++) rc = add_task_response(b, l, &r->tasks[i], "", err);
  }
  if (dests) {
    xmlNodePtr l = node(b, m, "listOfDestinationResponseDetails");
    for (size_t i = 0; i < r->n_dests && r->dests && !rc; i++)
      rc = add_destination_response(b, l, &r->dests[i], "", err);
  }
  if (objects && r->n_objects && r->objects) {
    xmlNodePtr l = node(b, m, "listOfGenericObjectResponseDetails");
    for (size_t i = 0; i < r->n_objects && !rc; i++)
      rc = add_object(b, node(b, l, "genericObjectResponseDetails"), "object", &r->objects[i], err);
  }
  return rc;
}

/* Serialises and checks against the schema, so lisec never sends what a
 * conformant peer would refuse. Frees the document. */
static int finish(builder *b, int rc, char **xml, size_t *len, lisec_err *err) {
  if (!rc && (rc = x1_schema_validate(b->doc, err)) != 0) rc = lisec_err_wrap(err, "refusing to send");
  xmlChar *buf = NULL;
  int n = 0;
  if (!rc) xmlDocDumpMemoryEnc(b->doc, &buf, &n, "UTF-8");
  xmlFreeDoc(b->doc);
  if (rc) return rc;
  if (!buf) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  *xml = malloc((size_t)n + 1);
  if (*xml) memcpy(*xml, buf, (size_t)n + 1);
  *len = (size_t)n;
  crypto_wipe(buf, (size_t)n); /* it may hold target identifiers */
  xmlFree(buf);
  return *xml ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

int x1_request_build(const x1_request *r, char **xml, size_t *len, lisec_err *err) {
  if ((unsigned)r->type >= X1_TYPE_COUNT) return lisec_err_set(err, LISEC_EINVAL, "unknown X1 message");
  char xsi_type[48], code[16];
  snprintf(xsi_type, sizeof xsi_type, "%sRequest", type_names[r->type]);
  builder b;
  builder_open(&b, "X1Request");
  xmlNodePtr m = message(&b, true, &r->h, xsi_type);
  int rc = 0;
  switch (r->type) {
    case X1_ACTIVATE_TASK:
    case X1_MODIFY_TASK: rc = add_task(&b, m, &r->task, err); break;
    case X1_DEACTIVATE_TASK:
    case X1_GET_TASK_DETAILS: text(&b, m, "xId", r->xid); break;
    case X1_CREATE_DESTINATION:
    case X1_MODIFY_DESTINATION: rc = add_destination(&b, m, &r->dest, err); break;
    case X1_REMOVE_DESTINATION:
    case X1_GET_DESTINATION_DETAILS: text(&b, m, "dId", r->did); break;
    case X1_REPORT_TASK_ISSUE:
      text(&b, m, "xId", r->xid);
      text(&b, m, "taskReportType", r->report_type);
      snprintf(code, sizeof code, "%d", r->issue_code);
      if (r->has_issue_code) text(&b, m, "taskIssueErrorCode", code);
      if (r->issue[0]) text(&b, m, "taskIssueDetails", r->issue);
      break;
    case X1_REPORT_NE_ISSUE:
      text(&b, m, "typeOfNeIssueMessage", r->report_type);
      text(&b, m, "description", r->issue);
      snprintf(code, sizeof code, "%d", r->issue_code);
      if (r->has_issue_code) text(&b, m, "issueCode", code);
      break;
    case X1_REPORT_DESTINATION_ISSUE:
      text(&b, m, "dId", r->did);
      text(&b, m, "destinationReportType", r->report_type);
      snprintf(code, sizeof code, "%d", r->issue_code);
      if (r->has_issue_code) text(&b, m, "destinationIssueErrorCode", code);
      if (r->issue[0]) text(&b, m, "destinationIssueDetails", r->issue);
      break;
    case X1_CREATE_OBJECT: rc = add_object(&b, m, "createObject", &r->obj, err); break;
    case X1_MODIFY_OBJECT: rc = add_object(&b, m, "modifyObject", &r->obj, err); break;
    case X1_DELETE_OBJECT: text(&b, m, "objectId", r->obj.id); break;
    default: break; /* Ping, Keepalive, ListAllDetails, DeactivateAllTasks, GetNEStatus, the GetAll and
                     * RemoveAll requests */
  }
  return finish(&b, rc, xml, len, err);
}

static int response_into(builder *b, const x1_response *r, lisec_err *err) {
  if (r->top_level) return lisec_err_set(err, LISEC_EINVAL, "an X1TopLevelErrorResponse stands alone");
  if (!r->ok && !r->request_type[0] && (unsigned)r->type >= X1_TYPE_COUNT)
    return lisec_err_set(err, LISEC_EINVAL, "unknown X1 message");
  if (r->ok && (unsigned)r->type >= X1_TYPE_COUNT) return lisec_err_set(err, LISEC_EINVAL, "unknown X1 message");
  char xsi_type[48];
  if (!r->ok) snprintf(xsi_type, sizeof xsi_type, "ErrorResponse");
  else snprintf(xsi_type, sizeof xsi_type, "%sResponse", type_names[r->type]);
  xmlNodePtr m = message(b, false, &r->h, xsi_type);
  if (!r->ok) {
    char code[16];
    snprintf(code, sizeof code, "%d", r->error_code);
    text(b, m, "requestMessageType", r->request_type[0] ? r->request_type : type_names[r->type]);
    xmlNodePtr ei = node(b, m, "errorInformation");
    text(b, ei, "errorCode", code);
    text(b, ei, "errorDescription", r->error_description);
    return 0;
  }
  switch (r->type) {
    case X1_GET_TASK_DETAILS: return add_task_response(b, m, &r->task, r->status, err);
    case X1_GET_DESTINATION_DETAILS: return add_destination_response(b, m, &r->dest, r->status, err);
    case X1_GET_NE_STATUS: add_status(b, node(b, m, "neStatusDetails"), "neStatus", r->status, "OK"); return 0;
    case X1_GET_ALL_DETAILS:
      add_status(b, node(b, m, "neStatusDetails"), "neStatus", r->status, "OK");
      return add_all(b, m, r, true, true, true, err);
    case X1_GET_ALL_TASK_DETAILS: return add_all(b, m, r, true, false, false, err);
    case X1_GET_ALL_DESTINATION_DETAILS: return add_all(b, m, r, false, true, false, err);
    case X1_LIST_ALL_DETAILS: {
      xmlNodePtr xids = node(b, m, "ListOfXIDs"), dids = node(b, m, "ListOfDIDs");
      for (size_t i = 0; i < r->n_xids && i < X1_MAX_LIST; i++) text(b, xids, "xId", r->xids[i]);
      for (size_t i = 0; i < r->n_dest_ids && i < X1_MAX_DEST_LIST; i++) text(b, dids, "dId", r->dest_ids[i]);
      if (r->n_objects && r->objects) {
        xmlNodePtr oids = node(b, m, "ListOfGenericObjectIDs");
        for (size_t i = 0; i < r->n_objects; i++) text(b, oids, "objectId", r->objects[i].id);
      }
      return 0;
    }
    default: text(b, m, "oK", "AcknowledgedAndCompleted"); return 0;
  }
}

int x1_response_build_many(const x1_response *const *r, size_t n, char **xml, size_t *len, lisec_err *err) {
  if (n == 1 && r[0]->top_level) {
    /* TS 103 221-1 clause 6.7: no transaction or type to echo */
    builder b;
    builder_open(&b, "X1TopLevelErrorResponse");
    header(&b, b.root, &r[0]->h, false);
    return finish(&b, 0, xml, len, err);
  }
  if (n == 0 || n > X1_MAX_MESSAGES)
    return lisec_err_set(err, LISEC_EINVAL, "an X1 response holds 1 to %d messages", X1_MAX_MESSAGES);
  builder b;
  builder_open(&b, "X1Response");
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) rc = response_into(&b, r[i], err);
  return finish(&b, rc, xml, len, err);
}

int x1_response_build(const x1_response *r, char **xml, size_t *len, lisec_err *err) {
  return x1_response_build_many(&r, 1, xml, len, err);
}

/* ---- reading ------------------------------------------------------------- */

static bool is_x1(xmlNodePtr n) {
  return n && n->type == XML_ELEMENT_NODE && n->ns && strcmp((const char *)n->ns->href, X1_NAMESPACE) == 0;
}

static xmlNodePtr child(xmlNodePtr n, const char *name) {
  for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0) return c;
  return NULL;
}

static xmlNodePtr first_element(xmlNodePtr n) {
  for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE) return c;
  return NULL;
}

/* Copies an element's text without the whitespace xs:token collapses;
 * false when it does not fit (the caller refuses it by lisec's bound). */
static bool text_of(xmlNodePtr n, char *out, size_t cap) {
  xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
  const char *s = t ? (const char *)t : "";
  while (isspace((unsigned char)*s)) s++;
  size_t len = strlen(s);
  while (len && isspace((unsigned char)s[len - 1])) len--;
  bool fits = len < cap;
  snprintf(out, cap, "%.*s", (int)(fits ? len : 0), s);
  if (t) crypto_wipe(t, strlen((const char *)t));
  xmlFree(t);
  return fits;
}

/* An optional xs:integer element: 0 when absent or empty, 1 with its value
 * when within [min, max], -1 when it is not (the schema bounds none of the
 * integers an NE sends but ports; lisec_decimal never wraps one, where an
 * NE's error code of 2^32 + 1001 read into an int would be 1001). */
static int integer_of(xmlNodePtr n, int64_t min, int64_t max, int64_t *out) {
  char s[72];
  if (!text_of(n, s, sizeof s)) return -1;
  if (!s[0]) return 0;
  return lisec_decimal(s, strlen(s), min, max, out) ? 1 : -1;
}

static int read_doc(const char *xml, size_t len, xmlDocPtr *out, lisec_err *err) {
  if (len == 0 || len > X1_MESSAGE_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "X1 message empty or larger than %d bytes", X1_MESSAGE_MAX);
  xmlDocPtr doc = xmlReadMemory(xml, (int)len, "x1.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc) {
    const xmlError *e = xmlGetLastError();
    return lisec_err_set(err, LISEC_EINVAL, "X1 message is not well-formed XML%s%s",
                         e && e->message ? ": " : "", e && e->message ? e->message : "");
  }
  if (doc->intSubset || doc->extSubset) {
    xmlFreeDoc(doc);
    return lisec_err_set(err, LISEC_EINVAL, "X1 message carries a DTD; refused");
  }
  *out = doc;
  return 0;
}

/* The local part of a message's xsi:type ("ns1:ActivateTaskRequest" ->
 * "ActivateTaskRequest"). */
static void xsi_type_of(xmlNodePtr m, char *out, size_t cap) {
  xmlChar *t = xmlGetNsProp(m, BAD_CAST "type", BAD_CAST XSI_NS);
  const char *colon = t ? strchr((const char *)t, ':') : NULL;
  snprintf(out, cap, "%s", colon ? colon + 1 : t ? (const char *)t : "");
  xmlFree(t);
}

static void read_header(xmlNodePtr m, x1_header *h) {
  text_of(child(m, "admfIdentifier"), h->admf, sizeof h->admf);
  text_of(child(m, "neIdentifier"), h->ne, sizeof h->ne);
  text_of(child(m, "messageTimestamp"), h->timestamp, sizeof h->timestamp);
  text_of(child(m, "version"), h->version, sizeof h->version);
  text_of(child(m, "x1TransactionId"), h->transaction, sizeof h->transaction);
}

static bool uuid_form(const char *s) {
  if (strlen(s) != X1_UUID_LEN) return false;
  for (int i = 0; i < X1_UUID_LEN; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !(isdigit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  return true;
}

static int read_target(xmlNodePtr ti, x1_target *x, lisec_err *err) {
  xmlNodePtr v = first_element(ti);
  const char *name = v ? (const char *)v->name : "";
  if (!element_supported(name))
    return lisec_err_set(err, LISEC_EINVAL, "target identifier kind %s is not supported (docs/x1.md)", name);
  snprintf(x->element, sizeof x->element, "%s", name);
  bool fits = true;
  if (strcmp(name, "hashedIdentifier") == 0) {
    char ctx[X1_UUID_LEN + 1], type[X1_HASH_TYPE_MAX + 2], digest[2 * 64 + 1];
    text_of(child(v, "hashContextID"), ctx, sizeof ctx);
    fits = text_of(child(v, "targetIdentityType"), type, sizeof type) && strlen(type) <= X1_HASH_TYPE_MAX &&
           text_of(child(v, "hashDigest"), digest, sizeof digest);
    if (!fits)
      return lisec_err_set(err, LISEC_ETOOBIG, "hashedIdentifier: a targetIdentityType of 1 to %d bytes and a "
                           "hashDigest of at most 64 bytes (lisec's bounds)", X1_HASH_TYPE_MAX);
    snprintf(x->value, sizeof x->value, "%.36s %.32s %.128s", ctx, type, digest);
    return x1_target_normalise(x, err);
  } else if (strcmp(name, "ipv4Cidr") == 0) {
    fits = text_of(first_element(v), x->value, sizeof x->value);
  } else if (strcmp(name, "tcpPortRange") == 0 || strcmp(name, "udpPortRange") == 0) {
    char lo[16], hi[16];
    fits = text_of(child(v, "start"), lo, sizeof lo) && text_of(child(v, "end"), hi, sizeof hi);
    snprintf(x->value, sizeof x->value, "%s-%s", lo, hi);
    /* as lisec builds them: a range from 60000 down to 100 names no port */
    if (fits) return x1_target_normalise(x, err);
  } else {
    fits = text_of(v, x->value, sizeof x->value);
  }
  if (!fits) return lisec_err_set(err, LISEC_ETOOBIG, "target identifier %s: over %d bytes", name, X1_VALUE_MAX);
  return 0;
}

/* The task's fields lisec keeps; the optional ones it does not act on
 * (mediation details, correlation, service types, ...) are valid and
 * passed over. */
static int read_task(xmlNodePtr td, x1_task *t, lisec_err *err) {
  text_of(child(td, "xId"), t->xid, sizeof t->xid);
  text_of(child(td, "deliveryType"), t->delivery, sizeof t->delivery);
  for (xmlNodePtr ti = first_element(child(td, "targetIdentifiers")); ti; ti = ti->next) {
    if (ti->type != XML_ELEMENT_NODE) continue;
    if (t->n_targets == X1_MAX_TARGETS)
      return lisec_err_set(err, LISEC_ETOOBIG, "more than %d target identifiers in one task (lisec's bound)",
                           X1_MAX_TARGETS);
    int rc = read_target(ti, &t->targets[t->n_targets++], err);
    if (rc) return rc;
  }
  for (xmlNodePtr d = first_element(child(td, "listOfDIDs")); d; d = d->next) {
    if (d->type != XML_ELEMENT_NODE) continue;
    bool set = strcmp((const char *)d->name, "dSId") == 0;
    size_t *n = set ? &t->n_dsids : &t->n_dids;
    if (*n == X1_MAX_DIDS)
      return lisec_err_set(err, LISEC_ETOOBIG, "more than %d %s in one task (lisec's bound)", X1_MAX_DIDS,
                           set ? "destination sets" : "destinations");
    text_of(d, set ? t->dsids[(*n)++] : t->dids[(*n)++], X1_UUID_LEN + 1);
  }
  return 0;
}

static int read_destination(xmlNodePtr dd, x1_destination *d, lisec_err *err) {
  text_of(child(dd, "dId"), d->did, sizeof d->did);
  bool fits = text_of(child(dd, "friendlyName"), d->friendly, sizeof d->friendly);
  text_of(child(dd, "deliveryType"), d->delivery, sizeof d->delivery);
  xmlNodePtr a = first_element(child(dd, "deliveryAddress"));
  const char *kind = a ? (const char *)a->name : "";
  if (strcmp(kind, "ipAddressAndPort") == 0) {
    xmlNodePtr p = first_element(child(a, "port"));
    int64_t port = 0;
    snprintf(d->address_kind, sizeof d->address_kind, "ip");
    text_of(first_element(child(a, "address")), d->address, sizeof d->address);
    if (integer_of(p, 1, 65535, &port) < 0)
      return lisec_err_set(err, LISEC_EINVAL, "destination port: 1 to 65535 (TS 103 280)");
    d->port = (int)port;
    d->udp = p && strcmp((const char *)p->name, "UDPPort") == 0;
  } else {
    snprintf(d->address_kind, sizeof d->address_kind, "%s", kind);
    fits = fits && text_of(a, d->address, sizeof d->address);
  }
  if (!fits) return lisec_err_set(err, LISEC_ETOOBIG, "destination details over %d bytes", X1_VALUE_MAX);
  return 0;
}

/* The namespace and local name of an element's xsi:type, its prefix
 * resolved where the element stands. */
static void xsi_qname(xmlNodePtr n, char *ns, size_t ns_cap, char *local, size_t local_cap) {
  xmlChar *t = xmlGetNsProp(n, BAD_CAST "type", BAD_CAST XSI_NS);
  const char *s = t ? (const char *)t : "", *colon = strchr(s, ':');
  char prefix[64] = "";
  if (colon) snprintf(prefix, sizeof prefix, "%.*s", (int)(colon - s) < 63 ? (int)(colon - s) : 63, s);
  xmlNsPtr found = xmlSearchNs(n->doc, n, colon ? BAD_CAST prefix : NULL);
  snprintf(ns, ns_cap, "%s", found && found->href ? (const char *)found->href : "");
  snprintf(local, local_cap, "%s", colon ? colon + 1 : s);
  xmlFree(t);
}

/* A generic object lisec knows: a destination set or a hash context. The
 * schema knows no other type derived from GenericObject; one that is not
 * there (a newer module) is refused as unsupported. */
static int read_object(xmlNodePtr n, x1_object *o, int *code, lisec_err *err) {
  char ns[128], local[64];
  memset(o, 0, sizeof *o);
  xsi_qname(n, ns, sizeof ns, local, sizeof local);
  text_of(child(n, "objectId"), o->id, sizeof o->id);
  *code = X1_ERR_GENERIC;
  if (strcmp(ns, X1_DESTSET_NAMESPACE) == 0 && strcmp(local, "DestinationSetDetails") == 0) {
    o->kind = X1_OBJECT_DESTINATION_SET;
    if (!text_of(child(n, "friendlyName"), o->friendly, sizeof o->friendly))
      return lisec_err_set(err, LISEC_ETOOBIG, "destination set friendlyName over %d bytes", X1_VALUE_MAX);
    text_of(child(n, "destinationSetType"), o->set_type, sizeof o->set_type);
    for (xmlNodePtr a = first_element(child(n, "listOfAssociatedDIDs")); a; a = a->next) {
      if (a->type != XML_ELEMENT_NODE) continue;
      if (o->n_dids == X1_MAX_DIDS)
        return lisec_err_set(err, LISEC_ETOOBIG, "more than %d DIDs in one destination set (lisec's bound)",
                             X1_MAX_DIDS);
      int64_t pref = 0;
      text_of(child(a, "dId"), o->dids[o->n_dids], X1_UUID_LEN + 1);
      if (integer_of(child(a, "preference"), LONG_MIN, LONG_MAX, &pref) < 0)
        return lisec_err_set(err, LISEC_ETOOBIG, "destination set preference: outside lisec's bound (%ld to %ld)",
                             LONG_MIN, LONG_MAX);
      o->preference[o->n_dids++] = (long)pref;
    }
    return 0;
  }
  if (strcmp(ns, X1_HASHEDID_NAMESPACE) == 0 && strcmp(local, "HashContext") == 0) {
    o->kind = X1_OBJECT_HASH_CONTEXT;
    text_of(child(n, "hashAlgorithm"), o->algorithm, sizeof o->algorithm);
    if (!text_of(child(n, "salt"), o->salt, sizeof o->salt))
      return lisec_err_set(err, LISEC_ETOOBIG, "hash context salt over %d bytes (lisec's bound)", X1_SALT_MAX);
    for (char *p = o->salt; *p; p++) *p = (char)tolower((unsigned char)*p);
    return 0;
  }
  *code = X1_ERR_UNSUPPORTED;
  return lisec_err_set(err, LISEC_EINVAL, "generic object type {%.100s}%.60s is not supported (docs/x1.md)", ns,
                       local);
}

static int type_from(const char *name, const char *suffix, x1_type *out) {
  for (int i = 0; i < X1_TYPE_COUNT; i++) {
    size_t n = strlen(type_names[i]);
    if (strncmp(name, type_names[i], n) == 0 && strcmp(name + n, suffix) == 0) {
      *out = (x1_type)i;
      return 0;
    }
  }
  return LISEC_EINVAL;
}

static bool known_request_type(const char *name) {
  for (size_t i = 0; i < LISEC_ARRAY_LEN(request_types); i++)
    if (strcmp(name, request_types[i]) == 0) return true;
  return false;
}

/* One message of a container, as its own document, so each is validated
 * (and refused) on its own. The rest of the container goes along (the root's
 * namespace declarations, where xsi:type's prefix may be declared, its
 * attributes and its text), all but the other messages: what the schema
 * refuses in the container itself (an attribute or text of X1Request) is
 * then refused in each message, as it is in a container of one. */
static int validate_one(xmlNodePtr root, xmlNodePtr m, lisec_err *err) {
  xmlDocPtr one = xmlNewDoc(BAD_CAST "1.0");
  xmlNodePtr r = one ? xmlDocCopyNode(root, one, 1) : NULL;
  if (!r) {
    xmlFreeDoc(one);
    return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  }
  xmlDocSetRootElement(one, r);
  /* the copy's children stand as the original's: drop the other messages */
  for (xmlNodePtr c = root->children, k = r->children, next; c && k; c = c->next, k = next) {
    next = k->next;
    if (c->type == XML_ELEMENT_NODE && c != m) {
      xmlUnlinkNode(k);
      xmlFreeNode(k);
    }
  }
  int rc = x1_schema_validate(one, err);
  xmlFreeDoc(one);
  return rc;
}

static void refuse(x1_request *q, int code, const char *why) {
  q->refuse_code = code;
  snprintf(q->refuse_why, sizeof q->refuse_why, "%.256s", why);
}

/* The issue code of a report (taskIssueErrorCode, issueCode,
 * destinationIssueErrorCode): optional, and an int in lisec. */
static int issue_code_of(xmlNodePtr m, const char *element, x1_request *q, lisec_err *err) {
  int64_t v = 0;
  int got = integer_of(child(m, element), INT_MIN, INT_MAX, &v);
  if (got < 0)
    return lisec_err_set(err, LISEC_ETOOBIG, "%s: outside lisec's bound (%d to %d)", element, INT_MIN, INT_MAX);
  q->has_issue_code = got == 1;
  q->issue_code = (int)v;
  return 0;
}

static void read_request(xmlNodePtr m, x1_request *q) {
  lisec_err err = {0};
  int rc = 0, code = X1_ERR_GENERIC;
  switch (q->type) {
    case X1_ACTIVATE_TASK:
    case X1_MODIFY_TASK: rc = read_task(child(m, "taskDetails"), &q->task, &err); break;
    case X1_DEACTIVATE_TASK:
    case X1_GET_TASK_DETAILS: text_of(child(m, "xId"), q->xid, sizeof q->xid); break;
    case X1_CREATE_DESTINATION:
    case X1_MODIFY_DESTINATION: rc = read_destination(child(m, "destinationDetails"), &q->dest, &err); break;
    case X1_REMOVE_DESTINATION:
    case X1_GET_DESTINATION_DETAILS: text_of(child(m, "dId"), q->did, sizeof q->did); break;
    case X1_REPORT_TASK_ISSUE:
      text_of(child(m, "xId"), q->xid, sizeof q->xid);
      text_of(child(m, "taskReportType"), q->report_type, sizeof q->report_type);
      rc = issue_code_of(m, "taskIssueErrorCode", q, &err);
      /* the NE's free text is kept to lisec's bound, not refused for it */
      if (!text_of(child(m, "taskIssueDetails"), q->issue, sizeof q->issue)) snprintf(q->issue, sizeof q->issue, "(over %d bytes)", X1_VALUE_MAX);
      break;
    case X1_REPORT_NE_ISSUE:
      text_of(child(m, "typeOfNeIssueMessage"), q->report_type, sizeof q->report_type);
      if (!text_of(child(m, "description"), q->issue, sizeof q->issue)) snprintf(q->issue, sizeof q->issue, "(over %d bytes)", X1_VALUE_MAX);
      rc = issue_code_of(m, "issueCode", q, &err);
      break;
    case X1_REPORT_DESTINATION_ISSUE:
      text_of(child(m, "dId"), q->did, sizeof q->did);
      text_of(child(m, "destinationReportType"), q->report_type, sizeof q->report_type);
      rc = issue_code_of(m, "destinationIssueErrorCode", q, &err);
      if (!text_of(child(m, "destinationIssueDetails"), q->issue, sizeof q->issue))
        snprintf(q->issue, sizeof q->issue, "(over %d bytes)", X1_VALUE_MAX);
      break;
    case X1_CREATE_OBJECT: rc = read_object(child(m, "createObject"), &q->obj, &code, &err); break;
    case X1_MODIFY_OBJECT: rc = read_object(child(m, "modifyObject"), &q->obj, &code, &err); break;
    case X1_DELETE_OBJECT: text_of(child(m, "objectId"), q->obj.id, sizeof q->obj.id); break;
    default: break;
  }
  if (rc) refuse(q, code, err.msg);
}

int x1_request_parse_all(const char *xml, size_t len, x1_request *out, size_t cap, size_t *n, lisec_err *err) {
  *n = 0;
  xmlDocPtr doc;
  int rc = read_doc(xml, len, &doc, err);
  if (rc) return rc;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  size_t count = 0;
  for (xmlNodePtr m = root->children; m; m = m->next) count += m->type == XML_ELEMENT_NODE;
  if (!is_x1(root) || strcmp((const char *)root->name, "X1Request") != 0)
    rc = lisec_err_set(err, LISEC_EINVAL, "X1 message does not validate against TS 103 221-1: expected an "
                       "X1Request of namespace %s, got %s", X1_NAMESPACE, root->name);
  else if (count == 0 || count > cap)
    rc = lisec_err_set(err, LISEC_ETOOBIG, "an X1Request holds 1 to %zu messages here, this one %zu", cap, count);
  lisec_err verr = {0};
  bool all_valid = !rc && x1_schema_validate(doc, &verr) == 0;
  for (xmlNodePtr m = root->children; m && !rc; m = m->next) {
    if (m->type != XML_ELEMENT_NODE) continue;
    x1_request *q = &out[(*n)++];
    memset(q, 0, sizeof *q);
    char type[64];
    xsi_type_of(m, type, sizeof type);
    size_t tl = strlen(type);
    if (tl > 7 && strcmp(type + tl - 7, "Request") == 0) type[tl - 7] = '\0';
    read_header(m, &q->h);
    /* without a type and transaction to echo, only a top-level error answers */
    if (!is_x1(m) || !known_request_type(type) || !uuid_form(q->h.transaction)) {
      rc = lisec_err_set(err, LISEC_EINVAL, "%s",
                         all_valid ? "X1 message names no request type or transaction" : verr.msg);
      break;
    }
    snprintf(q->type_name, sizeof q->type_name, "%.47s", type);
    lisec_err one = verr;
    bool valid = all_valid || (count > 1 && validate_one(root, m, &one) == 0);
    if (!valid)
      refuse(q, X1_ERR_SCHEMA, one.msg);
    else if (type_from(type, "", &q->type) != 0)
      refuse(q, X1_ERR_UNSUPPORTED, "lisec does not support this X1 request type (docs/x1.md)");
    else
      read_request(m, q);
  }
  xmlFreeDoc(doc);
  if (rc) {
    for (size_t i = 0; i < *n; i++) crypto_wipe(&out[i], sizeof out[i]);
    *n = 0;
    return rc;
  }
  return 0;
}

int x1_request_parse(const char *xml, size_t len, x1_request *out, lisec_err *err) {
  x1_request many[2];
  size_t n = 0;
  memset(out, 0, sizeof *out);
  int rc = x1_request_parse_all(xml, len, many, 2, &n, err);
  if (!rc && n != 1) rc = lisec_err_set(err, LISEC_EINVAL, "expected one X1 message, got %zu", n);
  if (!rc && many[0].refuse_code)
    rc = lisec_err_set(err, many[0].refuse_code == X1_ERR_UNSUPPORTED ? LISEC_EINVAL : LISEC_EINVAL,
                       "%s", many[0].refuse_why);
  if (!rc) *out = many[0];
  crypto_wipe(many, sizeof many);
  return rc;
}

/* The schema bounds nothing: lisec bounds the lists to what its struct holds. */
static int read_ids(xmlNodePtr list, char (*ids)[X1_UUID_LEN + 1], size_t cap, size_t *n, const char *what,
                    lisec_err *err) {
  for (xmlNodePtr c = first_element(list); c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, what) != 0) continue;
    if (*n == cap) return lisec_err_set(err, LISEC_ETOOBIG, "more than %zu %ss in one list", cap, what);
    text_of(c, ids[(*n)++], X1_UUID_LEN + 1);
  }
  return 0;
}

/* The entries of a GetAll list into the caller's array (counted only when
 * it gave none); more than it holds is refused by its bound. */
static int read_all(xmlNodePtr list, const char *entry, x1_response *out, int what, lisec_err *err) {
  size_t *n = what == 0 ? &out->n_tasks : what == 1 ? &out->n_dests : &out->n_objects;
  size_t cap = what == 0 ? out->tasks_cap : what == 1 ? out->dests_cap : out->objects_cap;
  bool keep = what == 0 ? out->tasks != NULL : what == 1 ? out->dests != NULL : out->objects != NULL;
  for (xmlNodePtr e = first_element(list); e; e = e->next) {
    if (e->type != XML_ELEMENT_NODE || strcmp((const char *)e->name, entry) != 0) continue;
    int rc = 0, code;
    if (keep && *n == cap)
      return lisec_err_set(err, LISEC_ETOOBIG, "more than %zu %s in one answer (the caller's bound)", cap, entry);
    if (keep && what == 0) {
      memset(&out->tasks[*n], 0, sizeof out->tasks[*n]);
      rc = read_task(child(e, "taskDetails"), &out->tasks[*n], err);
    } else if (keep && what == 1) {
      memset(&out->dests[*n], 0, sizeof out->dests[*n]);
      rc = read_destination(child(e, "destinationDetails"), &out->dests[*n], err);
    } else if (keep && strcmp(entry, "objectId") == 0) {
      memset(&out->objects[*n], 0, sizeof out->objects[*n]);
      text_of(e, out->objects[*n].id, sizeof out->objects[*n].id);
    } else if (keep) {
      rc = read_object(child(e, "object"), &out->objects[*n], &code, err);
    }
    if (rc) return rc;
    (*n)++;
  }
  return 0;
}

static int read_response(xmlNodePtr m, const char *type, x1_response *out, lisec_err *err) {
  read_header(m, &out->h);
  if (strcmp(type, "ErrorResponse") == 0) {
    char req[64];
    int64_t code = 0;
    text_of(child(m, "requestMessageType"), req, sizeof req);
    snprintf(out->request_type, sizeof out->request_type, "%.47s", req);
    if (type_from(req, "", &out->type) != 0) out->type = X1_TYPE_COUNT;
    xmlNodePtr ei = child(m, "errorInformation");
    if (integer_of(child(ei, "errorCode"), INT_MIN, INT_MAX, &code) < 0)
      return lisec_err_set(err, LISEC_EINVAL, "X1 ErrorResponse errorCode: outside lisec's bound (%d to %d)",
                           INT_MIN, INT_MAX);
    out->error_code = (int)code;
    if (!text_of(child(ei, "errorDescription"), out->error_description, sizeof out->error_description))
      snprintf(out->error_description, sizeof out->error_description, "(over %d bytes)", X1_VALUE_MAX);
    return 0;
  }
  if (type_from(type, "Response", &out->type) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "X1 response type \"%s\" is not supported", type);
  out->ok = true;
  xmlNodePtr d;
  int rc = 0;
  switch (out->type) {
    case X1_GET_TASK_DETAILS:
      d = child(m, "taskResponseDetails");
      rc = read_task(child(d, "taskDetails"), &out->task, err);
      out->has_task = rc == 0;
      text_of(child(child(d, "taskStatus"), "provisioningStatus"), out->status, sizeof out->status);
      return rc;
    case X1_GET_DESTINATION_DETAILS:
      d = child(m, "destinationResponseDetails");
      rc = read_destination(child(d, "destinationDetails"), &out->dest, err);
      out->has_dest = rc == 0;
      text_of(child(child(d, "destinationStatus"), "destinationDeliveryStatus"), out->status, sizeof out->status);
      return rc;
    case X1_GET_NE_STATUS:
      text_of(child(child(m, "neStatusDetails"), "neStatus"), out->status, sizeof out->status);
      return 0;
    case X1_LIST_ALL_DETAILS:
      rc = read_ids(child(m, "ListOfXIDs"), out->xids, X1_MAX_LIST, &out->n_xids, "xId", err);
      if (!rc) rc = read_ids(child(m, "ListOfDIDs"), out->dest_ids, X1_MAX_DEST_LIST, &out->n_dest_ids, "dId", err);
      if (!rc) rc = read_all(child(m, "ListOfGenericObjectIDs"), "objectId", out, 2, err);
      return rc;
    case X1_GET_ALL_DETAILS:
      text_of(child(child(m, "neStatusDetails"), "neStatus"), out->status, sizeof out->status);
      rc = read_all(child(m, "listOfTaskResponseDetails"), "taskResponseDetails", out, 0, err);
      if (!rc) rc = read_all(child(m, "listOfDestinationResponseDetails"), "destinationResponseDetails", out, 1, err);
      if (!rc)
        rc = read_all(child(m, "listOfGenericObjectResponseDetails"), "genericObjectResponseDetails", out, 2, err);
      return rc;
    case X1_GET_ALL_TASK_DETAILS:
      return read_all(child(m, "listOfTaskResponseDetails"), "taskResponseDetails", out, 0, err);
    case X1_GET_ALL_DESTINATION_DETAILS:
      return read_all(child(m, "listOfDestinationResponseDetails"), "destinationResponseDetails", out, 1, err);
    default: return 0;
  }
}

/* The caller's arrays survive clearing the response. */
typedef struct lists {
  x1_task *tasks;
  x1_destination *dests;
  x1_object *objects;
  size_t tasks_cap, dests_cap, objects_cap;
} lists;

static void lists_restore(x1_response *r, const lists *l) {
  r->tasks = l->tasks, r->tasks_cap = l->tasks_cap, r->n_tasks = 0;
  r->dests = l->dests, r->dests_cap = l->dests_cap, r->n_dests = 0;
  r->objects = l->objects, r->objects_cap = l->objects_cap, r->n_objects = 0;
}

int x1_response_parse_lists(const char *xml, size_t len, x1_response *out, x1_task *tasks, size_t tasks_cap,
                            x1_destination *dests, size_t dests_cap, x1_object *objects, size_t objects_cap,
                            lisec_err *err) {
  lists keep = {tasks, dests, objects, tasks_cap, dests_cap, objects_cap};
  x1_response_init(out);
  lists_restore(out, &keep);
  xmlDocPtr doc;
  int rc = read_doc(xml, len, &doc, err);
  if (rc) return rc;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  rc = x1_schema_validate(doc, err);
  if (!rc && strcmp((const char *)root->name, "X1TopLevelErrorResponse") == 0) {
    read_header(root, &out->h);
    out->top_level = true;
    out->error_code = X1_ERR_GENERIC;
    snprintf(out->error_description, sizeof out->error_description,
             "X1TopLevelErrorResponse: the peer could not read the request at all");
  } else if (!rc && strcmp((const char *)root->name, "X1Response") != 0) {
    rc = lisec_err_set(err, LISEC_EINVAL, "expected an X1 X1Response, got %s", root->name);
  } else if (!rc) {
    xmlNodePtr m = first_element(root);
    char type[64];
    xsi_type_of(m, type, sizeof type);
    rc = read_response(m, type, out, err);
  }
  xmlFreeDoc(doc);
  if (rc) {
    if (out->tasks) crypto_wipe(out->tasks, out->tasks_cap * sizeof *out->tasks);
    crypto_wipe(out, X1_RESPONSE_HEAD);
    lists_restore(out, &keep);
  }
  return rc;
}

int x1_response_parse(const char *xml, size_t len, x1_response *out, lisec_err *err) {
  return x1_response_parse_lists(xml, len, out, NULL, 0, NULL, 0, NULL, 0, err);
}

/* ---- for the ADMF -------------------------------------------------------- */

int x1_response_check(const x1_request *req, const x1_response *resp, lisec_err *err) {
  if (resp->top_level)
    return lisec_err_set(err, LISEC_EINVAL, "X1: the NE could not read the %s request at all",
                         x1_type_name(req->type));
  if (strcmp(resp->h.transaction, req->h.transaction) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "X1: the response answers another transaction");
  /* the answer of the NE asked, to this ADMF: a peer that fronts several
   * NEs (one certificate for all) may hand a request to the wrong one */
  if (strcmp(resp->h.ne, req->h.ne) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "X1: asked NE %.64s, answered as NE %.64s", req->h.ne, resp->h.ne);
  if (strcmp(resp->h.admf, req->h.admf) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "X1: the answer is addressed to ADMF %.64s, not this ADMF (%.64s)",
                         resp->h.admf, req->h.admf);
  /* a 1020 is answered in a version the NE speaks, to say which */
  if (strcmp(resp->h.version, req->h.version) != 0 && (resp->ok || resp->error_code != X1_ERR_VERSION))
    return lisec_err_set(err, LISEC_EINVAL, "X1: asked in %s, answered in %s", req->h.version, resp->h.version);
  const char *named = resp->ok ? x1_type_name(resp->type) : resp->request_type;
  if (strcmp(named, x1_type_name(req->type)) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "X1: a %s request answered as %s", x1_type_name(req->type), named);
  return 0;
}

/* Each of a's n ids is among b's (the lists hold no duplicates that
 * matter: the NE keeps what it was given). */
static bool ids_within(const char (*a)[X1_UUID_LEN + 1], size_t na, const char (*b)[X1_UUID_LEN + 1], size_t nb) {
  for (size_t i = 0; i < na; i++) {
    bool found = false;
    for (size_t k = 0; k < nb && !found; k++) found = strcmp(a[i], b[k]) == 0;
    if (!found) return false;
  }
  return true;
}

static bool targets_within(const x1_task *a, const x1_task *b) {
  for (size_t i = 0; i < a->n_targets; i++) {
    x1_target x = a->targets[i];
    bool found = false;
    if (x1_target_normalise(&x, NULL) != 0) return false;
    for (size_t k = 0; k < b->n_targets && !found; k++) {
      x1_target y = b->targets[k];
      found = x1_target_normalise(&y, NULL) == 0 && strcmp(x.element, y.element) == 0 &&
              strcmp(x.value, y.value) == 0;
      crypto_wipe(&y, sizeof y);
    }
    crypto_wipe(&x, sizeof x);
    if (!found) return false;
  }
  return true;
}

bool x1_task_same(const x1_task *want, const x1_task *held) {
  return strcmp(want->xid, held->xid) == 0 && strcmp(want->delivery, held->delivery) == 0 &&
         want->n_targets == held->n_targets && want->n_dids == held->n_dids && want->n_dsids == held->n_dsids &&
         ids_within(want->dids, want->n_dids, held->dids, held->n_dids) &&
         ids_within(held->dids, held->n_dids, want->dids, want->n_dids) &&
         ids_within(want->dsids, want->n_dsids, held->dsids, held->n_dsids) &&
         ids_within(held->dsids, held->n_dsids, want->dsids, want->n_dsids) && targets_within(want, held) &&
         targets_within(held, want);
}

const char *x1_error_name(int code) {
  switch (code) {
    case X1_ERR_GENERIC: return "generic error";
    case X1_ERR_SCHEMA: return "message does not validate against the schema";
    case X1_ERR_VERSION: return "unsupported version";
    case X1_ERR_UNSUPPORTED: return "unsupported request";
    case X1_ERR_XID_EXISTS: return "XID already exists";
    case X1_ERR_UNKNOWN_XID: return "XID does not exist";
    default: return "error";
  }
}
