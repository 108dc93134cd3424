/* Building and reading X1 messages. Building uses libxml2's tree API, which
 * escapes every value; reading refuses oversized input and any DTD, never
 * expands entities or touches the network, validates against the schema,
 * and only then copies fields into bounded structs. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "x1/x1_internal.h"

#define XSI_NS "http://www.w3.org/2001/XMLSchema-instance"

static const char *const type_names[X1_TYPE_COUNT] = {
    "ActivateTask", "ModifyTask", "DeactivateTask", "GetTaskDetails",
    "Ping", "Keepalive", "ReportTaskIssue", "ListAllDetails",
};

const char *x1_type_name(x1_type t) { return (unsigned)t < X1_TYPE_COUNT ? type_names[t] : "?"; }

static const struct {
  const char *kind, *element;
} target_elements[] = {
    {"e164", "e164Number"},  {"imsi", "imsi"},           {"imei", "imei"},
    {"ipv4", "ipv4Address"}, {"ipv4-prefix", "ipv4Cidr"}, {"ipv6", "ipv6Address"},
    {"ipv6-prefix", "ipv6Cidr"}, {"mac", "mACAddress"},   {"email", "emailAddress"},
    {"sip-uri", "sipUri"},   {"tel-uri", "telUri"},       {"port-range", "tcpPortRange"},
};

const char *x1_target_element(const char *kind) {
  for (size_t i = 0; i < LISEC_ARRAY_LEN(target_elements); i++)
    if (strcmp(kind, target_elements[i].kind) == 0) return target_elements[i].element;
  if (strcmp(kind, "supi") == 0) return "supiIMSI";
  if (strcmp(kind, "gpsi") == 0) return "gpsiMSISDN";
  return NULL;
}

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
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char base[24];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(h->timestamp, sizeof h->timestamp, "%.19s.%06dZ", base, (int)(ts.tv_nsec / 1000) % 1000000);
  return x1_uuid(h->transaction, err);
}

/* ---- building ------------------------------------------------------------ */

static xmlNodePtr envelope(xmlDocPtr doc, bool request, const x1_header *h, const char *xsi_type,
                           xmlNsPtr *ns_out) {
  xmlNodePtr root = xmlNewDocNode(doc, NULL, BAD_CAST(request ? "X1Request" : "X1Response"), NULL);
  xmlDocSetRootElement(doc, root);
  xmlNsPtr ns = xmlNewNs(root, BAD_CAST X1_NAMESPACE, NULL);
  xmlNsPtr xsi = xmlNewNs(root, BAD_CAST XSI_NS, BAD_CAST "xsi");
  xmlSetNs(root, ns);
  xmlNodePtr m = xmlNewChild(root, ns, BAD_CAST(request ? "x1RequestMessage" : "x1ResponseMessage"), NULL);
  xmlNewNsProp(m, xsi, BAD_CAST "type", BAD_CAST xsi_type);
  xmlNewTextChild(m, ns, BAD_CAST "admfIdentifier", BAD_CAST h->admf);
  xmlNewTextChild(m, ns, BAD_CAST "neIdentifier", BAD_CAST h->ne);
  xmlNewTextChild(m, ns, BAD_CAST "messageTimestamp", BAD_CAST h->timestamp);
  xmlNewTextChild(m, ns, BAD_CAST "version", BAD_CAST h->version);
  xmlNewTextChild(m, ns, BAD_CAST "x1TransactionId", BAD_CAST h->transaction);
  *ns_out = ns;
  return m;
}

static void add_task(xmlNodePtr parent, xmlNsPtr ns, const x1_task *t) {
  xmlNodePtr td = xmlNewChild(parent, ns, BAD_CAST "taskDetails", NULL);
  xmlNewTextChild(td, ns, BAD_CAST "xId", BAD_CAST t->xid);
  xmlNodePtr tis = xmlNewChild(td, ns, BAD_CAST "targetIdentifiers", NULL);
  for (size_t i = 0; i < t->n_targets; i++) {
    xmlNodePtr ti = xmlNewChild(tis, ns, BAD_CAST "targetIdentifier", NULL);
    xmlNewTextChild(ti, ns, BAD_CAST t->targets[i].element, BAD_CAST t->targets[i].value);
  }
  xmlNewTextChild(td, ns, BAD_CAST "deliveryType", BAD_CAST t->delivery);
  xmlNodePtr dids = xmlNewChild(td, ns, BAD_CAST "listOfDIDs", NULL);
  for (size_t i = 0; i < t->n_dids; i++) xmlNewTextChild(dids, ns, BAD_CAST "dId", BAD_CAST t->dids[i]);
}

/* Serialises and checks against the schema, so lisec never sends what it
 * would itself refuse. */
static int finish(xmlDocPtr doc, char **xml, size_t *len, lisec_err *err) {
  int rc = x1_schema_validate(doc, err);
  if (rc) {
    xmlFreeDoc(doc);
    return lisec_err_wrap(err, "refusing to send");
  }
  xmlChar *buf = NULL;
  int n = 0;
  xmlDocDumpMemoryEnc(doc, &buf, &n, "UTF-8");
  xmlFreeDoc(doc);
  if (!buf) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  *xml = strdup((const char *)buf);
  *len = (size_t)n;
  xmlFree(buf);
  return *xml ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

int x1_request_build(const x1_request *r, char **xml, size_t *len, lisec_err *err) {
  if ((unsigned)r->type >= X1_TYPE_COUNT) return lisec_err_set(err, LISEC_EINVAL, "unknown X1 message");
  char xsi_type[48];
  snprintf(xsi_type, sizeof xsi_type, "%sRequest", type_names[r->type]);
  xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
  xmlNsPtr ns;
  xmlNodePtr m = envelope(doc, true, &r->h, xsi_type, &ns);
  switch (r->type) {
    case X1_ACTIVATE_TASK:
    case X1_MODIFY_TASK: add_task(m, ns, &r->task); break;
    case X1_DEACTIVATE_TASK:
    case X1_GET_TASK_DETAILS: xmlNewTextChild(m, ns, BAD_CAST "xId", BAD_CAST r->xid); break;
    case X1_REPORT_TASK_ISSUE:
      xmlNewTextChild(m, ns, BAD_CAST "xId", BAD_CAST r->xid);
      xmlNewTextChild(m, ns, BAD_CAST "taskIssueDetails", BAD_CAST r->issue);
      break;
    default: break;
  }
  return finish(doc, xml, len, err);
}

int x1_response_build(const x1_response *r, char **xml, size_t *len, lisec_err *err) {
  if ((unsigned)r->type >= X1_TYPE_COUNT) return lisec_err_set(err, LISEC_EINVAL, "unknown X1 message");
  char xsi_type[48];
  if (!r->ok) snprintf(xsi_type, sizeof xsi_type, "ErrorResponse");
  else snprintf(xsi_type, sizeof xsi_type, "%sResponse", type_names[r->type]);
  xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
  xmlNsPtr ns;
  xmlNodePtr m = envelope(doc, false, &r->h, xsi_type, &ns);
  if (!r->ok) {
    char type[48], code[16];
    snprintf(type, sizeof type, "%sRequest", type_names[r->type]);
    snprintf(code, sizeof code, "%d", r->error_code);
    xmlNewTextChild(m, ns, BAD_CAST "requestMessageType", BAD_CAST type);
    xmlNodePtr ei = xmlNewChild(m, ns, BAD_CAST "errorInformation", NULL);
    xmlNewTextChild(ei, ns, BAD_CAST "errorCode", BAD_CAST code);
    xmlNewTextChild(ei, ns, BAD_CAST "errorDescription", BAD_CAST r->error_description);
  } else if (r->type == X1_GET_TASK_DETAILS) {
    xmlNodePtr trd = xmlNewChild(m, ns, BAD_CAST "taskResponseDetails", NULL);
    add_task(trd, ns, &r->task);
  } else if (r->type == X1_LIST_ALL_DETAILS) {
    xmlNodePtr list = xmlNewChild(m, ns, BAD_CAST "listOfXIDs", NULL);
    for (size_t i = 0; i < r->n_xids && i < X1_MAX_LIST; i++)
      xmlNewTextChild(list, ns, BAD_CAST "xId", BAD_CAST r->xids[i]);
  } else {
    xmlNewTextChild(m, ns, BAD_CAST "ok", BAD_CAST "AcknowledgedAndCompleted");
  }
  return finish(doc, xml, len, err);
}

/* ---- reading ------------------------------------------------------------- */

static xmlNodePtr child(xmlNodePtr n, const char *name) {
  for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0) return c;
  return NULL;
}

/* Copies an element's text; the schema has already bounded it. */
static void text_of(xmlNodePtr n, char *out, size_t cap) {
  xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
  snprintf(out, cap, "%s", t ? (const char *)t : "");
  xmlFree(t);
}

static int parse_doc(const char *xml, size_t len, const char *root_name, xmlDocPtr *out,
                     xmlNodePtr *msg, char *type, size_t type_cap, lisec_err *err) {
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
  int rc = x1_schema_validate(doc, err);
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (!rc && strcmp((const char *)root->name, root_name) != 0)
    rc = lisec_err_set(err, LISEC_EINVAL, "expected an X1 %s, got %s", root_name, root->name);
  if (rc) {
    xmlFreeDoc(doc);
    return rc;
  }
  *msg = root->children;
  xmlChar *t = xmlGetNsProp(*msg, BAD_CAST "type", BAD_CAST XSI_NS);
  const char *colon = t ? strchr((const char *)t, ':') : NULL;
  snprintf(type, type_cap, "%s", colon ? colon + 1 : t ? (const char *)t : "");
  xmlFree(t);
  *out = doc;
  return 0;
}

static void read_header(xmlNodePtr m, x1_header *h) {
  text_of(child(m, "admfIdentifier"), h->admf, sizeof h->admf);
  text_of(child(m, "neIdentifier"), h->ne, sizeof h->ne);
  text_of(child(m, "messageTimestamp"), h->timestamp, sizeof h->timestamp);
  text_of(child(m, "version"), h->version, sizeof h->version);
  text_of(child(m, "x1TransactionId"), h->transaction, sizeof h->transaction);
}

static void read_task(xmlNodePtr td, x1_task *t) {
  text_of(child(td, "xId"), t->xid, sizeof t->xid);
  text_of(child(td, "deliveryType"), t->delivery, sizeof t->delivery);
  for (xmlNodePtr ti = child(td, "targetIdentifiers")->children; ti && t->n_targets < X1_MAX_TARGETS; ti = ti->next) {
    xmlNodePtr v = ti->children;
    if (ti->type != XML_ELEMENT_NODE || !v) continue;
    x1_target *x = &t->targets[t->n_targets++];
    snprintf(x->element, sizeof x->element, "%s", (const char *)v->name);
    text_of(v, x->value, sizeof x->value);
  }
  for (xmlNodePtr d = child(td, "listOfDIDs")->children; d && t->n_dids < X1_MAX_DIDS; d = d->next)
    if (d->type == XML_ELEMENT_NODE) text_of(d, t->dids[t->n_dids++], X1_UUID_LEN + 1);
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

int x1_request_parse(const char *xml, size_t len, x1_request *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  xmlDocPtr doc;
  xmlNodePtr m;
  char type[64];
  int rc = parse_doc(xml, len, "X1Request", &doc, &m, type, sizeof type, err);
  if (rc) return rc;
  if (type_from(type, "Request", &out->type) != 0) {
    xmlFreeDoc(doc);
    return lisec_err_set(err, LISEC_EINVAL, "X1 request type \"%s\" is not supported", type);
  }
  read_header(m, &out->h);
  if (out->type == X1_ACTIVATE_TASK || out->type == X1_MODIFY_TASK) read_task(child(m, "taskDetails"), &out->task);
  text_of(child(m, "xId"), out->xid, sizeof out->xid);
  text_of(child(m, "taskIssueDetails"), out->issue, sizeof out->issue);
  xmlFreeDoc(doc);
  return 0;
}

/* The schema bounds the list to X1_MAX_LIST UUIDs. */
static int read_xids(xmlNodePtr list, x1_response *out, lisec_err *err) {
  size_t n = 0;
  for (xmlNodePtr c = list ? list->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE) n++;
  if (n > X1_MAX_LIST) return lisec_err_set(err, LISEC_ETOOBIG, "more than %d XIDs", X1_MAX_LIST);
  for (xmlNodePtr c = list->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE) text_of(c, out->xids[out->n_xids++], X1_UUID_LEN + 1);
  return 0;
}

int x1_response_parse(const char *xml, size_t len, x1_response *out, lisec_err *err) {
  x1_response_init(out);
  xmlDocPtr doc;
  xmlNodePtr m;
  char type[64];
  int rc = parse_doc(xml, len, "X1Response", &doc, &m, type, sizeof type, err);
  if (rc) return rc;
  read_header(m, &out->h);
  if (strcmp(type, "ErrorResponse") == 0) {
    char req[64], code[16];
    text_of(child(m, "requestMessageType"), req, sizeof req);
    if (type_from(req, "Request", &out->type) != 0) out->type = X1_TYPE_COUNT;
    xmlNodePtr ei = child(m, "errorInformation");
    text_of(child(ei, "errorCode"), code, sizeof code);
    out->error_code = atoi(code);
    text_of(child(ei, "errorDescription"), out->error_description, sizeof out->error_description);
  } else if (type_from(type, "Response", &out->type) == 0) {
    out->ok = true;
    if (out->type == X1_LIST_ALL_DETAILS) rc = read_xids(child(m, "listOfXIDs"), out, err);
    xmlNodePtr trd = child(m, "taskResponseDetails");
    if (trd) {
      read_task(child(trd, "taskDetails"), &out->task);
      out->has_task = true;
    }
  } else {
    rc = lisec_err_set(err, LISEC_EINVAL, "X1 response type \"%s\" is not supported", type);
  }
  xmlFreeDoc(doc);
  return rc;
}
