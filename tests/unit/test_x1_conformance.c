/* Conformance of lisec's X1 to ETSI TS 103 221-1, judged by ETSI's own
 * schema files read from disk with libxml2 (as xmllint reads them), not by
 * lisec's code: every message type lisec builds, requests and responses,
 * for every identifier kind lisec tasks; and the hand-written requests in
 * tests/data/x1/ (schema-valid ones with optional fields, several
 * identifier kinds, destinations and a destination set; schema-invalid
 * ones), which the NE library must accept or refuse exactly as the schema
 * does, answering with the standard's codes and echoing each request's type
 * and transaction. */
#include <dirent.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lisec/x1.h"
#include "x1/x1.h"

static xmlSchemaPtr etsi;

static void quiet(void *ctx, const char *msg, ...) { (void)ctx, (void)msg; }

static int setup(void **state) {
  (void)state;
  xmlSchemaParserCtxtPtr p = xmlSchemaNewParserCtxt(X1_SCHEMA_DIR "/X1-all.xsd");
  etsi = p ? xmlSchemaParse(p) : NULL;
  xmlSchemaFreeParserCtxt(p);
  return etsi ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  xmlSchemaFree(etsi);
  return 0;
}

/* ETSI's verdict on a document. */
static bool etsi_valid(const char *xml, size_t len) {
  xmlDocPtr doc = xmlReadMemory(xml, (int)len, "m.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc) return false;
  xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(etsi);
  xmlSchemaSetValidErrors(v, quiet, quiet, NULL);
  int rc = xmlSchemaValidateDoc(v, doc);
  xmlSchemaFreeValidCtxt(v);
  xmlFreeDoc(doc);
  return rc == 0;
}

static void assert_etsi_valid(const char *what, const char *xml, size_t len) {
  if (!etsi_valid(xml, len)) fail_msg("%s does not validate against ETSI's schema:\n%s", what, xml);
}

/* lisec's identifier kinds in their vault form, and what TS 103 221-1 wants
 * on the wire for each (element, and the value's text as the schema writes
 * it), written here from the schema, not from lisec's output. */
static const struct {
  const char *kind, *value, *wire;
} kinds[] = {
    {"e164", "358401234567", "<e164Number>358401234567</e164Number>"},
    {"imsi", "244051234567890", "<imsi>244051234567890</imsi>"},
    {"imei", "49015420323751", "<imei>49015420323751</imei>"},
    {"imei", "490154203237518", "<peiImeiCheckDigit>490154203237518</peiImeiCheckDigit>"},
    {"supi", "imsi-244051234567890", "<supiimsi>244051234567890</supiimsi>"},
    {"supi", "nai-alice@example.org", "<supinai>alice@example.org</supinai>"},
    {"gpsi", "msisdn-358401234567", "<gpsiMsisdn>358401234567</gpsiMsisdn>"},
    {"gpsi", "extid-alice@example.org", "<gpsiNai>alice@example.org</gpsiNai>"},
    {"ipv4", "192.0.2.1", "<ipv4Address>192.0.2.1</ipv4Address>"},
    {"ipv6", "2001:DB8::1", "<ipv6Address>2001:0db8:0000:0000:0000:0000:0000:0001</ipv6Address>"},
    {"ipv4-prefix", "192.0.2.0/24", "<ipv4Cidr><etsi103280:IPv4CIDR>192.0.2.0/24</etsi103280:IPv4CIDR></ipv4Cidr>"},
    {"ipv6-prefix", "2001:db8::/32", "<ipv6Cidr>2001:0db8:0000:0000:0000:0000:0000:0000/32</ipv6Cidr>"},
    {"mac", "00-1A-2B-3C-4D-5E", "<macAddress>00:1a:2b:3c:4d:5e</macAddress>"},
    {"email", "alice@example.org", "<emailAddress>alice@example.org</emailAddress>"},
    {"sip-uri", "sip:alice@example.org", "<sipUri>sip:alice@example.org</sipUri>"},
    {"tel-uri", "tel:+358401234567", "<telUri>tel:+358401234567</telUri>"},
    {"port-range", "5060-5061",
     "<tcpPortRange><etsi103280:start>5060</etsi103280:start><etsi103280:end>5061</etsi103280:end></tcpPortRange>"},
    {"port-range", "5060", "<tcpPort>5060</tcpPort>"},
};

static const char *DID = "0b5d9b3a-8c9e-4d8b-9a55-5d8f1e2a3b4c", *XID = "29f28e1c-f230-486a-a860-f5a784ab9172";

static x1_task task_of(size_t k) {
  x1_task t = {0};
  strcpy(t.xid, XID);
  strcpy(t.targets[0].element, x1_target_element(kinds[k].kind));
  strcpy(t.targets[0].value, kinds[k].value);
  t.n_targets = 1;
  strcpy(t.delivery, "X2andX3");
  strcpy(t.dids[0], DID);
  t.n_dids = 1;
  return t;
}

static const char *CTX = "7c0ffee0-1234-4abc-8def-0123456789ab", *SET = "5e2d7c1a-3b4f-4e6a-8d9c-0a1b2c3d4e5f";

/* A destination set (k 0) or a hash context (k 1). */
static x1_object object_of(size_t k) {
  x1_object o = {0};
  if (k == 0) {
    o.kind = X1_OBJECT_DESTINATION_SET;
    strcpy(o.id, SET);
    strcpy(o.friendly, "MDFs <Helsinki & Espoo>");
    strcpy(o.set_type, "Redundant");
    strcpy(o.dids[0], DID);
    o.preference[0] = 1;
    strcpy(o.dids[1], "1c6e0f3a-2b4d-4e5f-8a9b-0c1d2e3f4a5b");
    o.preference[1] = 2;
    o.n_dids = 2;
  } else {
    o.kind = X1_OBJECT_HASH_CONTEXT;
    strcpy(o.id, CTX);
    strcpy(o.algorithm, "sha3-512");
    strcpy(o.salt, "00112233445566778899aabbccddeeff");
  }
  return o;
}

/* A task with a HashedID target (written from the HashedID module). */
static x1_task hashed_task(void) {
  x1_task t = task_of(0);
  strcpy(t.targets[1].element, "hashedIdentifier");
  snprintf(t.targets[1].value, sizeof t.targets[1].value, "%s imsi %s", CTX,
           "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08");
  t.n_targets = 2;
  strcpy(t.dsids[0], SET);
  t.n_dsids = 1;
  return t;
}

static x1_destination destination(const char *kind, const char *address, int port, bool udp) {
  x1_destination d = {0};
  strcpy(d.did, DID);
  strcpy(d.friendly, "MDF & co <Helsinki>");
  strcpy(d.delivery, "X2Only");
  strcpy(d.address_kind, kind);
  strcpy(d.address, address);
  d.port = port;
  d.udp = udp;
  return d;
}

static void test_every_request_valid(void **state) {
  (void)state;
  lisec_err err = {0};
  for (int t = 0; t < X1_TYPE_COUNT; t++) {
    bool task = t == X1_ACTIVATE_TASK || t == X1_MODIFY_TASK;
    bool object = t == X1_CREATE_OBJECT || t == X1_MODIFY_OBJECT;
    /* every identifier kind and a HashedID; both kinds of object */
    for (size_t k = 0; k < (task ? LISEC_ARRAY_LEN(kinds) + 1 : object ? 2 : 1); k++) {
      x1_request r = {.type = (x1_type)t};
      assert_int_equal(x1_header_init(&r.h, "lisecd", "poi-1", &err), 0);
      r.task = task && k == LISEC_ARRAY_LEN(kinds) ? hashed_task() : task_of(task ? k : 0);
      r.obj = object_of(k);
      strcpy(r.xid, XID);
      strcpy(r.did, DID);
      r.dest = destination("ip", "192.0.2.7", 4790, false);
      strcpy(r.report_type, t == X1_REPORT_NE_ISSUE ? "FaultReport" : "NonTerminatingFault");
      strcpy(r.issue, "X2 destination unreachable");
      r.has_issue_code = true;
      r.issue_code = 4;
      char *xml = NULL;
      size_t len = 0;
      if (x1_request_build(&r, &xml, &len, &err)) fail_msg("%s: %s", x1_type_name(r.type), err.msg);
      char what[64];
      snprintf(what, sizeof what, "%sRequest", x1_type_name(r.type));
      assert_etsi_valid(what, xml, len);
      if (task && k < LISEC_ARRAY_LEN(kinds) && !strstr(xml, kinds[k].wire))
        fail_msg("%s %s: no %s in\n%s", what, kinds[k].kind, kinds[k].wire, xml);
      /* the HashedID module's elements, the digest in lower case */
      if (task && k == LISEC_ARRAY_LEN(kinds))
        assert_non_null(strstr(xml, "<hashedID:hashDigest>9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08<"));
      if (object && k == 0) assert_non_null(strstr(xml, "<destinationSet:destinationSetType>Redundant<"));
      if (object && k == 1) assert_non_null(strstr(xml, "<hashedID:hashAlgorithm>sha3-512<"));
      free(xml);
    }
  }
  /* every destination address kind, both port kinds and address families */
  x1_destination ds[] = {destination("ip", "192.0.2.7", 4790, false), destination("ip", "2001:db8::42", 4790, true),
                         destination("e164Number", "358401234567", 0, false),
                         destination("uri", "https://mdf.example.org/x2", 0, false),
                         destination("emailAddress", "mdf@example.org", 0, false)};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(ds); i++) {
    x1_request r = {.type = X1_CREATE_DESTINATION, .dest = ds[i]};
    assert_int_equal(x1_header_init(&r.h, "lisecd", "poi-1", &err), 0);
    char *xml = NULL;
    size_t len = 0;
    if (x1_request_build(&r, &xml, &len, &err)) fail_msg("destination %s: %s", ds[i].address_kind, err.msg);
    assert_etsi_valid("CreateDestinationRequest", xml, len);
    if (i == 1) assert_non_null(strstr(xml, "2001:0db8:0000:0000:0000:0000:0000:0042</etsi103280:IPv6Address>"));
    free(xml);
  }
}

static void test_every_response_valid(void **state) {
  (void)state;
  lisec_err err = {0};
  x1_response *r = malloc(sizeof *r);
  char *xml = NULL;
  size_t len = 0;
  x1_task all_tasks[2] = {task_of(0), hashed_task()};
  x1_destination all_dests[2] = {destination("ip", "192.0.2.7", 4790, false),
                                 destination("uri", "https://mdf.example.org/x2", 0, false)};
  x1_object all_objects[2] = {object_of(0), object_of(1)};
  for (int t = 0; t < X1_TYPE_COUNT; t++) {
    for (int ok = 0; ok < 2; ok++) {
      x1_response_init(r);
      r->tasks = all_tasks, r->n_tasks = 2;
      r->dests = all_dests, r->n_dests = 2;
      r->objects = all_objects, r->n_objects = 2;
      r->type = (x1_type)t;
      r->ok = ok;
      assert_int_equal(x1_header_init(&r->h, "lisecd", "poi-1", &err), 0);
      r->error_code = X1_ERR_UNKNOWN_XID;
      strcpy(r->error_description, "no task with this XID");
      r->task = task_of(0);
      r->dest = destination("ip", "192.0.2.7", 4790, false);
      strcpy(r->xids[0], XID);
      r->n_xids = 1;
      strcpy(r->dest_ids[0], DID);
      r->n_dest_ids = 1;
      if (x1_response_build(r, &xml, &len, &err)) fail_msg("%s %d: %s", x1_type_name(r->type), ok, err.msg);
      assert_etsi_valid(x1_type_name(r->type), xml, len);
      if (!ok) {
        char want[64];
        snprintf(want, sizeof want, "<requestMessageType>%s</requestMessageType>", x1_type_name(r->type));
        assert_non_null(strstr(xml, want));
      } else if (t != X1_GET_TASK_DETAILS && t != X1_GET_DESTINATION_DETAILS && t != X1_GET_NE_STATUS &&
                 t != X1_LIST_ALL_DETAILS && t != X1_GET_ALL_DETAILS && t != X1_GET_ALL_TASK_DETAILS &&
                 t != X1_GET_ALL_DESTINATION_DETAILS) {
        assert_non_null(strstr(xml, "<oK>AcknowledgedAndCompleted</oK>"));
      } else if (t == X1_GET_ALL_DETAILS) {
        assert_non_null(strstr(xml, "<listOfGenericObjectResponseDetails>"));
        assert_non_null(strstr(xml, "xsi:type=\"hashedID:HashContext\""));
      } else if (t == X1_LIST_ALL_DETAILS) {
        assert_non_null(strstr(xml, "<ListOfGenericObjectIDs><objectId>"));
      }
      free(xml);
    }
  }
  /* GetTaskDetails for every identifier kind */
  for (size_t k = 0; k < LISEC_ARRAY_LEN(kinds); k++) {
    x1_response_init(r);
    r->type = X1_GET_TASK_DETAILS;
    r->ok = true;
    assert_int_equal(x1_header_init(&r->h, "lisecd", "poi-1", &err), 0);
    r->task = task_of(k);
    assert_int_equal(x1_response_build(r, &xml, &len, &err), 0);
    assert_etsi_valid(kinds[k].kind, xml, len);
    assert_non_null(strstr(xml, kinds[k].wire));
    free(xml);
  }
  /* a GetAllDetails answer read back: into the caller's arrays, counted
   * only without them, refused over the caller's bound */
  x1_response_init(r);
  r->type = X1_GET_ALL_DETAILS;
  r->ok = true;
  assert_int_equal(x1_header_init(&r->h, "lisecd", "poi-1", &err), 0);
  r->tasks = all_tasks, r->n_tasks = 2;
  r->dests = all_dests, r->n_dests = 2;
  r->objects = all_objects, r->n_objects = 2;
  assert_int_equal(x1_response_build(r, &xml, &len, &err), 0);
  x1_response *back = malloc(sizeof *back);
  x1_task got_tasks[2];
  x1_destination got_dests[2];
  x1_object got_objects[2];
  if (x1_response_parse_lists(xml, len, back, got_tasks, 2, got_dests, 2, got_objects, 2, &err))
    fail_msg("GetAllDetails read back: %s", err.msg);
  assert_int_equal(back->type, X1_GET_ALL_DETAILS);
  assert_int_equal(back->n_tasks, 2);
  assert_true(x1_task_same(&all_tasks[1], &got_tasks[1]));
  assert_int_equal(back->n_dests, 2);
  assert_string_equal(got_dests[1].address, "https://mdf.example.org/x2");
  assert_int_equal(back->n_objects, 2);
  assert_int_equal(got_objects[0].kind, X1_OBJECT_DESTINATION_SET);
  assert_int_equal(got_objects[0].n_dids, 2);
  assert_int_equal(got_objects[0].preference[1], 2);
  assert_int_equal(got_objects[1].kind, X1_OBJECT_HASH_CONTEXT);
  assert_string_equal(got_objects[1].salt, "00112233445566778899aabbccddeeff");
  assert_int_equal(x1_response_parse(xml, len, back, &err), 0);
  assert_int_equal(back->n_tasks, 2); /* counted, not kept */
  assert_null(back->tasks);
  assert_int_equal(x1_response_parse_lists(xml, len, back, got_tasks, 1, NULL, 0, NULL, 0, &err), LISEC_ETOOBIG);
  free(back);
  free(xml);
  /* a HashedID value not of the form CONTEXT TYPE DIGEST is refused by name */
  x1_request hq = {.type = X1_ACTIVATE_TASK};
  assert_int_equal(x1_header_init(&hq.h, "lisecd", "poi-1", &err), 0);
  hq.task = hashed_task();
  strcpy(hq.task.targets[1].value, "imsi 9f86");
  assert_int_equal(x1_request_build(&hq, &xml, &len, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "hashedIdentifier"));
  /* empty lists, an error for a type lisec does not support, a top-level error */
  x1_response_init(r);
  r->type = X1_LIST_ALL_DETAILS;
  r->ok = true;
  assert_int_equal(x1_header_init(&r->h, "lisecd", "poi-1", &err), 0);
  assert_int_equal(x1_response_build(r, &xml, &len, &err), 0);
  assert_etsi_valid("empty ListAllDetailsResponse", xml, len);
  free(xml);
  r->ok = false;
  r->error_code = X1_ERR_UNSUPPORTED;
  strcpy(r->error_description, "unsupported");
  strcpy(r->request_type, "GetObject");
  assert_int_equal(x1_response_build(r, &xml, &len, &err), 0);
  assert_etsi_valid("ErrorResponse to GetObject", xml, len);
  free(xml);
  r->top_level = true;
  assert_int_equal(x1_response_build(r, &xml, &len, &err), 0);
  assert_etsi_valid("X1TopLevelErrorResponse", xml, len);
  back = malloc(sizeof *back);
  assert_int_equal(x1_response_parse(xml, len, back, &err), 0);
  assert_true(back->top_level);
  assert_false(back->ok);
  free(xml);
  free(back);
  free(r);
  /* a port the schema cannot carry is refused by name, not sent */
  x1_request q = {.type = X1_ACTIVATE_TASK};
  assert_int_equal(x1_header_init(&q.h, "lisecd", "poi-1", &err), 0);
  q.task = task_of(0);
  strcpy(q.task.targets[0].element, "tcpPortRange");
  strcpy(q.task.targets[0].value, "0-1024");
  assert_int_equal(x1_request_build(&q, &xml, &len, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "2 to 65535"));
  /* a SUPI IMSI of 5 digits passes the vault's rule, not SUPIIMSI's 6 to 15 */
  strcpy(q.task.targets[0].element, x1_target_element("supi"));
  strcpy(q.task.targets[0].value, "imsi-24405");
  assert_int_equal(x1_request_build(&q, &xml, &len, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "refusing to send"));
  assert_non_null(strstr(err.msg, "supiimsi"));
}

/* ---- the NE library against hand-written requests ----------------------- */

static char *read_data(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", X1_TEST_DATA, name);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  char *buf = calloc(1, 70000);
  *len = fread(buf, 1, 69999, f);
  fclose(f);
  return buf;
}

/* One answer of a response container, read with libxml2 here. */
typedef struct answer {
  char type[48], transaction[40], version[16], request_type[32];
  int code;
} answer;

static void text_of(xmlNodePtr n, const char *name, char *out, size_t cap) {
  for (xmlNodePtr c = n->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0) {
      xmlChar *t = xmlNodeGetContent(c);
      snprintf(out, cap, "%s", (const char *)t);
      xmlFree(t);
      return;
    }
}

static size_t answers_of(const char *xml, size_t len, answer *out, size_t cap, char *root, size_t root_cap) {
  xmlDocPtr doc = xmlReadMemory(xml, (int)len, "r.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
  assert_non_null(doc);
  xmlNodePtr r = xmlDocGetRootElement(doc);
  snprintf(root, root_cap, "%s", (const char *)r->name);
  size_t n = 0;
  for (xmlNodePtr m = r->children; m && n < cap; m = m->next) {
    if (m->type != XML_ELEMENT_NODE || strcmp((const char *)m->name, "x1ResponseMessage") != 0) continue;
    answer *a = &out[n++];
    memset(a, 0, sizeof *a);
    xmlChar *t = xmlGetNsProp(m, BAD_CAST "type", BAD_CAST "http://www.w3.org/2001/XMLSchema-instance");
    snprintf(a->type, sizeof a->type, "%s", (const char *)t);
    xmlFree(t);
    text_of(m, "x1TransactionId", a->transaction, sizeof a->transaction);
    text_of(m, "version", a->version, sizeof a->version);
    text_of(m, "requestMessageType", a->request_type, sizeof a->request_type);
    for (xmlNodePtr c = m->children; c; c = c->next)
      if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "errorInformation") == 0) {
        char code[16] = "";
        text_of(c, "errorCode", code, sizeof code);
        a->code = atoi(code);
      }
  }
  xmlFreeDoc(doc);
  return n;
}

typedef struct seen {
  char changes[512];
} seen;

static void on_change(void *ctx, const char *change, const char *id) {
  seen *s = ctx;
  (void)id;
  strncat(s->changes, change, sizeof s->changes - strlen(s->changes) - 2);
  strcat(s->changes, " ");
}

/* Sends one request to the NE; the answer must validate against ETSI's
 * schema, and is read into a. Returns the number of answers. */
static size_t exchange(lisec_x1_ne *ne, const char *cn, const char *xml, size_t len, answer *a, size_t cap,
                       char *root) {
  char *resp = NULL;
  size_t rlen = 0;
  assert_int_equal(lisec_x1_ne_handle(ne, cn, xml, len, &resp, &rlen), 0);
  assert_etsi_valid("the NE's answer", resp, rlen);
  size_t n = answers_of(resp, rlen, a, cap, root, 48);
  free(resp);
  return n;
}

static size_t send_file(lisec_x1_ne *ne, const char *name, answer *a, size_t cap) {
  size_t len;
  char *xml = read_data(name, &len), root[48];
  size_t n = exchange(ne, "admf-1", xml, len, a, cap, root);
  assert_string_equal(root, "X1Response");
  free(xml);
  return n;
}

static void expect(const answer *a, const char *type, const char *txn_tail, int code, const char *request_type) {
  if (strcmp(a->type, type) != 0) fail_msg("answer %s, wanted %s (code %d)", a->type, type, a->code);
  char txn[40];
  snprintf(txn, sizeof txn, "11111111-1111-4111-8111-111111111%s", txn_tail);
  assert_string_equal(a->transaction, txn);
  assert_int_equal(a->code, code);
  if (request_type) assert_string_equal(a->request_type, request_type);
}

static void test_ne_answers_handwritten(void **state) {
  (void)state;
  seen s = {""};
  lisec_x1_ne *ne = lisec_x1_ne_new("poi-hel-1", "admf-1", on_change, &s);
  answer a[8];
  assert_int_equal(send_file(ne, "valid_create_destination.xml", a, 8), 1);
  expect(&a[0], "CreateDestinationResponse", "101", 0, NULL);
  assert_int_equal(send_file(ne, "valid_activate_full.xml", a, 8), 1);
  expect(&a[0], "ActivateTaskResponse", "102", 0, NULL);
  char *targets = lisec_x1_ne_task_targets(ne, XID);
  assert_non_null(targets);
  /* eight identifiers of seven kinds, the complex ones read from their children */
  assert_non_null(strstr(targets, "ipv4Cidr=192.0.2.0/24\n"));
  assert_non_null(strstr(targets, "tcpPortRange=5060-5061\n"));
  assert_non_null(strstr(targets, "peiImeiCheckDigit=490154203237518\n"));
  assert_non_null(strstr(targets, "supinai=alice@example.org\n"));
  free(targets);
  /* the same XID again: 2010, naming the request and its transaction */
  assert_int_equal(send_file(ne, "valid_activate_full.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "102", X1_ERR_XID_EXISTS, "ActivateTask");
  /* six messages in one container, six answers in order */
  assert_int_equal(send_file(ne, "valid_several.xml", a, 8), 6);
  expect(&a[0], "GetTaskDetailsResponse", "103", 0, NULL);
  expect(&a[1], "ListAllDetailsResponse", "104", 0, NULL);
  expect(&a[2], "GetNEStatusResponse", "105", 0, NULL);
  expect(&a[3], "KeepaliveResponse", "106", 0, NULL);
  expect(&a[4], "GetDestinationDetailsResponse", "107", 0, NULL);
  expect(&a[5], "PingResponse", "108", 0, NULL);
  /* prefixed names, another accepted version, answered in that version */
  assert_int_equal(send_file(ne, "valid_modify_prefixed.xml", a, 8), 1);
  expect(&a[0], "ModifyTaskResponse", "109", 0, NULL);
  assert_string_equal(a[0].version, "v1.13.1");
  /* a destination set (the DestinationSet module) */
  assert_int_equal(send_file(ne, "valid_create_destination_set.xml", a, 8), 1);
  expect(&a[0], "CreateObjectResponse", "111", 0, NULL);
  /* valid but unsupported, valid but of a version this NE does not speak */
  assert_int_equal(send_file(ne, "valid_unsupported_get_object.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "132", X1_ERR_UNSUPPORTED, "GetObject");
  assert_int_equal(send_file(ne, "valid_old_version.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "112", X1_ERR_VERSION, "Ping");
  /* schema-invalid: 1010, each naming its request and transaction */
  static const struct {
    const char *file, *txn, *type;
  } bad[] = {
      {"invalid_mac_element.xml", "102", "ActivateTask"},   {"invalid_ipv6_short.xml", "102", "ActivateTask"},
      {"invalid_imei_check_digit.xml", "102", "ActivateTask"}, {"invalid_cidr_text.xml", "102", "ActivateTask"},
      {"invalid_optional_order.xml", "102", "ActivateTask"}, {"invalid_destination_order.xml", "101", "CreateDestination"},
      /* a malformed destination set, hash context or HashedID */
      {"invalid_destination_set_no_type.xml", "140", "CreateObject"}, {"invalid_hash_algorithm.xml", "141", "CreateObject"},
      {"invalid_hash_salt_short.xml", "142", "CreateObject"}, {"invalid_hashed_digest.xml", "143", "ActivateTask"},
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(bad); i++) {
    assert_int_equal(send_file(ne, bad[i].file, a, 8), 1);
    expect(&a[0], "ErrorResponse", bad[i].txn, X1_ERR_SCHEMA, bad[i].type);
  }
  /* one bad message of six: only it is refused */
  assert_int_equal(send_file(ne, "invalid_one_of_several.xml", a, 8), 6);
  expect(&a[0], "ErrorResponse", "103", X1_ERR_SCHEMA, "GetTaskDetails");
  expect(&a[1], "ListAllDetailsResponse", "104", 0, NULL);
  expect(&a[5], "PingResponse", "108", 0, NULL);
  /* valid messages in a container the schema refuses (an attribute, text of
   * X1Request): each refused, as in a container of one; the stop is not made */
  assert_int_equal(send_file(ne, "invalid_several_container_attribute.xml", a, 8), 2);
  expect(&a[0], "ErrorResponse", "150", X1_ERR_SCHEMA, "Ping");
  expect(&a[1], "ErrorResponse", "151", X1_ERR_SCHEMA, "DeactivateAllTasks");
  assert_int_equal(send_file(ne, "invalid_several_container_text.xml", a, 8), 2);
  expect(&a[0], "ErrorResponse", "152", X1_ERR_SCHEMA, "Ping");
  expect(&a[1], "ErrorResponse", "153", X1_ERR_SCHEMA, "DeactivateAllTasks");
  /* the emergency stop */
  assert_int_equal(lisec_x1_ne_task_count(ne), 1);
  assert_int_equal(send_file(ne, "valid_deactivate_all.xml", a, 8), 1);
  expect(&a[0], "DeactivateAllTasksResponse", "110", 0, NULL);
  assert_int_equal(lisec_x1_ne_task_count(ne), 0);
  assert_string_equal(s.changes, "create-destination activate modify create-object deactivate-all ");
  /* GetTaskDetails after it: 2020 */
  assert_int_equal(send_file(ne, "valid_several.xml", a, 8), 6);
  expect(&a[0], "ErrorResponse", "103", X1_ERR_UNKNOWN_XID, "GetTaskDetails");
  /* not XML at all: nothing to echo, the top-level error */
  char root[48];
  assert_int_equal(exchange(ne, "admf-1", "<X1Request><broken", 18, a, 8, root), 0);
  assert_string_equal(root, "X1TopLevelErrorResponse");
  /* another certificate asserting the ADMF: refused, echoed */
  size_t len;
  char *xml = read_data("valid_old_version.xml", &len);
  char *v = strstr(xml, "v1.6.1");
  memmove(v + 7, v + 6, strlen(v + 6) + 1); /* "v1.22.1" is one longer */
  memcpy(v, "v1.22.1", 7);
  assert_int_equal(exchange(ne, "admf-2", xml, strlen(xml), a, 8, root), 1);
  expect(&a[0], "ErrorResponse", "112", X1_ERR_GENERIC, "Ping");
  assert_int_equal(exchange(ne, "admf-1", xml, strlen(xml), a, 8, root), 1);
  expect(&a[0], "PingResponse", "112", 0, NULL);
  free(xml);
  lisec_x1_ne_free(ne);
}

static void test_ne_strict_destinations(void **state) {
  (void)state;
  lisec_x1_ne *ne = lisec_x1_ne_new("poi-hel-1", "admf-1", NULL, NULL);
  lisec_x1_ne_set_strict_destinations(ne, 1);
  answer a[8];
  /* the task names a destination set this NE does not hold */
  assert_int_equal(send_file(ne, "valid_activate_full.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "102", X1_ERR_GENERIC, "ActivateTask");
  /* ModifyTask names a destination not yet created, then one created */
  assert_int_equal(send_file(ne, "valid_modify_prefixed.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "109", X1_ERR_UNKNOWN_XID, "ModifyTask");
  assert_int_equal(lisec_x1_ne_set_versions(ne, "v1.6.1", "v1.22.1"), 0);
  assert_int_equal(send_file(ne, "valid_old_version.xml", a, 8), 1);
  expect(&a[0], "PingResponse", "112", 0, NULL);
  assert_int_equal(lisec_x1_ne_set_versions(ne, "v1.22.1", "v1.6.1"), -1);
  assert_int_equal(lisec_x1_ne_set_versions(ne, "1.6", "v1.22.1"), -1);
  lisec_x1_ne_free(ne);
}

/* Destination sets, HashedID targets with their hash contexts, the GetAll
 * requests and RemoveAllDestinations, against a strict NE: each refusal
 * names the missing piece with the standard's code, nothing held is lost,
 * and what the NE holds survives a save and a load. */
static void test_ne_sets_hashed_get_all(void **state) {
  (void)state;
  seen s = {""};
  lisec_x1_ne *ne = lisec_x1_ne_new("poi-hel-1", "admf-1", on_change, &s);
  lisec_x1_ne_set_strict_destinations(ne, 1);
  answer a[8];
  assert_int_equal(send_file(ne, "valid_create_destination.xml", a, 8), 1);
  expect(&a[0], "CreateDestinationResponse", "101", 0, NULL);
  /* the task names a set not created yet */
  assert_int_equal(send_file(ne, "valid_activate_hashed.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "121", X1_ERR_GENERIC, "ActivateTask");
  assert_int_equal(send_file(ne, "valid_create_destination_set.xml", a, 8), 1);
  expect(&a[0], "CreateObjectResponse", "111", 0, NULL);
  /* an unknown hash context; then one created (twice: 1000 the second time) */
  assert_int_equal(send_file(ne, "valid_activate_hashed_unknown_context.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "122", X1_ERR_GENERIC, "ActivateTask");
  assert_int_equal(send_file(ne, "valid_activate_hashed.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "121", X1_ERR_GENERIC, "ActivateTask");
  assert_int_equal(send_file(ne, "valid_create_hash_context.xml", a, 8), 1);
  expect(&a[0], "CreateObjectResponse", "120", 0, NULL);
  assert_int_equal(send_file(ne, "valid_create_hash_context.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "120", X1_ERR_GENERIC, "CreateObject");
  /* a digest shorter than sha-256's, a kind of identity not supported */
  assert_int_equal(send_file(ne, "valid_activate_hashed_short_digest.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "123", X1_ERR_GENERIC, "ActivateTask");
  assert_int_equal(send_file(ne, "valid_activate_hashed_unknown_kind.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "124", X1_ERR_GENERIC, "ActivateTask");
  assert_int_equal(lisec_x1_ne_task_count(ne), 0);
  assert_int_equal(send_file(ne, "valid_activate_hashed.xml", a, 8), 1);
  expect(&a[0], "ActivateTaskResponse", "121", 0, NULL);
  char *targets = lisec_x1_ne_task_targets(ne, "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d");
  assert_non_null(targets);
  assert_non_null(strstr(targets, "hashedIdentifier=7c0ffee0-1234-4abc-8def-0123456789ab imsi "
                                  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"));
  free(targets);
  /* the four GetAll/ListAll answers, read back with lisec's reader */
  size_t len, rlen;
  char *xml = read_data("valid_get_all.xml", &len), *resp = NULL;
  assert_int_equal(send_file(ne, "valid_get_all.xml", a, 8), 4);
  expect(&a[0], "GetAllDetailsResponse", "125", 0, NULL);
  expect(&a[1], "GetAllTaskDetailsResponse", "126", 0, NULL);
  expect(&a[2], "GetAllDestinationDetailsResponse", "127", 0, NULL);
  expect(&a[3], "ListAllDetailsResponse", "128", 0, NULL);
  assert_int_equal(lisec_x1_ne_handle(ne, "admf-1", xml, len, &resp, &rlen), 0);
  x1_response *r = malloc(sizeof *r);
  x1_task tasks[2];
  x1_destination dests[2];
  x1_object objects[4];
  lisec_err err = {0};
  assert_int_equal(x1_response_parse_lists(resp, rlen, r, tasks, 2, dests, 2, objects, 4, &err), 0);
  assert_int_equal(r->n_tasks, 1);
  assert_int_equal(tasks[0].n_dsids, 1);
  assert_int_equal(r->n_dests, 1);
  assert_int_equal(r->n_objects, 2);
  free(resp);
  free(xml);
  free(r);
  /* kept on disk and loaded back: the objects too */
  char *saved = NULL;
  size_t saved_len = 0;
  assert_int_equal(lisec_x1_ne_save(ne, &saved, &saved_len), 0);
  lisec_x1_ne *again = lisec_x1_ne_new("poi-hel-1", "admf-1", NULL, NULL);
  lisec_x1_ne_set_strict_destinations(again, 1);
  assert_int_equal(lisec_x1_ne_load(again, saved, saved_len), 0);
  assert_int_equal(send_file(again, "valid_create_hash_context.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "120", X1_ERR_GENERIC, "CreateObject"); /* it holds it */
  lisec_x1_ne_free(again);
  free(saved);
  /* in use: nothing removed */
  assert_int_equal(send_file(ne, "valid_remove_all_destinations.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "129", X1_ERR_GENERIC, "RemoveAllDestinations");
  assert_int_equal(send_file(ne, "valid_delete_objects.xml", a, 8), 2);
  expect(&a[0], "ErrorResponse", "130", X1_ERR_GENERIC, "DeleteObject");
  expect(&a[1], "ErrorResponse", "131", X1_ERR_GENERIC, "DeleteObject");
  /* an NE sends ReportDestinationIssue, it takes none */
  x1_request q = {.type = X1_REPORT_DESTINATION_ISSUE};
  assert_int_equal(x1_header_init(&q.h, "admf-1", "poi-hel-1", &err), 0);
  strcpy(q.did, DID);
  strcpy(q.report_type, "Warning");
  assert_int_equal(x1_request_build(&q, &xml, &len, &err), 0);
  char root[48];
  assert_int_equal(exchange(ne, "admf-1", xml, len, a, 8, root), 1);
  assert_string_equal(a[0].type, "ErrorResponse");
  assert_int_equal(a[0].code, X1_ERR_UNSUPPORTED);
  free(xml);
  /* once the task is gone, the objects and destinations go too */
  assert_int_equal(send_file(ne, "valid_deactivate_hashed.xml", a, 8), 1);
  expect(&a[0], "DeactivateTaskResponse", "133", 0, NULL);
  assert_int_equal(send_file(ne, "valid_remove_all_destinations.xml", a, 8), 1);
  expect(&a[0], "ErrorResponse", "129", X1_ERR_GENERIC, "RemoveAllDestinations"); /* the set names it */
  assert_int_equal(send_file(ne, "valid_delete_objects.xml", a, 8), 2);
  expect(&a[0], "DeleteObjectResponse", "130", 0, NULL);
  expect(&a[1], "DeleteObjectResponse", "131", 0, NULL);
  assert_int_equal(send_file(ne, "valid_remove_all_destinations.xml", a, 8), 1);
  expect(&a[0], "RemoveAllDestinationsResponse", "129", 0, NULL);
  assert_string_equal(s.changes, "create-destination create-object create-object activate deactivate delete-object "
                                 "delete-object remove-all-destinations ");
  lisec_x1_ne_free(ne);
}

/* lisec validates at run time against the schema built into it: on every
 * hand-written file it must agree with ETSI's schema read from disk. */
static void test_runtime_agrees_with_schema(void **state) {
  (void)state;
  DIR *d = opendir(X1_TEST_DATA);
  assert_non_null(d);
  struct dirent *e;
  int files = 0;
  x1_request *q = calloc(X1_MAX_MESSAGES, sizeof *q);
  while ((e = readdir(d))) {
    if (!strstr(e->d_name, ".xml")) continue;
    size_t len, n = 0;
    char *xml = read_data(e->d_name, &len);
    lisec_err err = {0};
    bool etsi_says = etsi_valid(xml, len);
    assert_int_equal(x1_request_parse_all(xml, len, q, X1_MAX_MESSAGES, &n, &err), 0);
    bool lisec_says = true;
    for (size_t i = 0; i < n; i++) lisec_says = lisec_says && q[i].refuse_code != X1_ERR_SCHEMA;
    if (etsi_says != lisec_says) fail_msg("%s: ETSI's schema says %d, lisec %d", e->d_name, etsi_says, lisec_says);
    assert_int_equal(etsi_says, strncmp(e->d_name, "valid_", 6) == 0);
    free(xml);
    files++;
  }
  closedir(d);
  free(q);
  assert_true(files >= 14);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_request_valid),   cmocka_unit_test(test_every_response_valid),
      cmocka_unit_test(test_ne_answers_handwritten), cmocka_unit_test(test_ne_strict_destinations),
      cmocka_unit_test(test_ne_sets_hashed_get_all),
      cmocka_unit_test(test_runtime_agrees_with_schema),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
