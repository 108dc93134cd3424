/* Unit tests of x1/: a request written by hand in the shape TS 103 221-1
 * gives (not by lisec) parses; lisec's own messages round-trip; malformed,
 * oversized, schema-invalid, DTD-carrying and unsupported messages are
 * refused with a reason and the standard's code; lisec refuses to build what
 * it would not accept. test_x1_conformance.c checks every message against
 * ETSI's schema files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "x1/x1.h"

static const char *HANDWRITTEN =
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    "<ns1:X1Request xmlns:ns1='http://uri.etsi.org/03221/X1/2017/10'"
    " xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'>\n"
    " <ns1:x1RequestMessage xsi:type='ns1:ActivateTaskRequest'>\n"
    "  <ns1:admfIdentifier>admf-1</ns1:admfIdentifier>\n"
    "  <ns1:neIdentifier>poi-hel-1</ns1:neIdentifier>\n"
    "  <ns1:messageTimestamp>2026-11-24T08:00:00.000000Z</ns1:messageTimestamp>\n"
    "  <ns1:version>v1.6.1</ns1:version>\n"
    "  <ns1:x1TransactionId>3741800e-971b-4aa9-85f4-466d2b1adc7f</ns1:x1TransactionId>\n"
    "  <ns1:taskDetails>\n"
    "   <ns1:xId>29f28e1c-f230-486a-a860-f5a784ab9172</ns1:xId>\n"
    "   <ns1:targetIdentifiers>\n"
    "    <ns1:targetIdentifier><ns1:imsi>244051234567890</ns1:imsi></ns1:targetIdentifier>\n"
    "    <ns1:targetIdentifier><ns1:sipUri>sip:alice@example.org</ns1:sipUri></ns1:targetIdentifier>\n"
    "   </ns1:targetIdentifiers>\n"
    "   <ns1:deliveryType>X2andX3</ns1:deliveryType>\n"
    "   <ns1:listOfDIDs><ns1:dId>0b5d9b3a-8c9e-4d8b-9a55-5d8f1e2a3b4c</ns1:dId></ns1:listOfDIDs>\n"
    "  </ns1:taskDetails>\n"
    " </ns1:x1RequestMessage>\n"
    "</ns1:X1Request>\n";

static void test_handwritten_request_parses(void **state) {
  (void)state;
  x1_request r;
  lisec_err err = {0};
  if (x1_request_parse(HANDWRITTEN, strlen(HANDWRITTEN), &r, &err)) fail_msg("%s", err.msg);
  assert_int_equal(r.type, X1_ACTIVATE_TASK);
  assert_string_equal(r.h.admf, "admf-1");
  assert_string_equal(r.h.ne, "poi-hel-1");
  assert_string_equal(r.task.xid, "29f28e1c-f230-486a-a860-f5a784ab9172");
  assert_int_equal(r.task.n_targets, 2);
  assert_string_equal(r.task.targets[0].element, "imsi");
  assert_string_equal(r.task.targets[0].value, "244051234567890");
  assert_string_equal(r.task.targets[1].element, "sipUri");
  assert_string_equal(r.task.delivery, "X2andX3");
  assert_int_equal(r.task.n_dids, 1);
}

static x1_request activate(void) {
  x1_request r = {.type = X1_ACTIVATE_TASK};
  lisec_err err = {0};
  assert_int_equal(x1_header_init(&r.h, "lisecd", "poi-1", &err), 0);
  assert_int_equal(x1_uuid(r.task.xid, &err), 0);
  strcpy(r.task.targets[0].element, x1_target_element("e164"));
  strcpy(r.task.targets[0].value, "358401234567");
  strcpy(r.task.targets[1].element, x1_target_element("ipv6-prefix"));
  strcpy(r.task.targets[1].value, "2001:db8::/32");
  r.task.n_targets = 2;
  strcpy(r.task.delivery, "X2Only");
  assert_int_equal(x1_uuid(r.task.dids[0], &err), 0);
  r.task.n_dids = 1;
  return r;
}

static void test_request_roundtrip_every_type(void **state) {
  (void)state;
  lisec_err err = {0};
  for (int t = 0; t < X1_TYPE_COUNT; t++) {
    x1_request r = activate(), back;
    r.type = (x1_type)t;
    strcpy(r.xid, r.task.xid);
    strcpy(r.issue, "delivery destination unreachable");
    strcpy(r.report_type, t == X1_REPORT_NE_ISSUE ? "FaultReport" : "Warning");
    strcpy(r.did, r.task.dids[0]);
    strcpy(r.dest.did, r.task.dids[0]);
    strcpy(r.dest.delivery, "X2andX3");
    strcpy(r.dest.address_kind, "ip");
    strcpy(r.dest.address, "192.0.2.7");
    r.dest.port = 4790;
    r.obj.kind = X1_OBJECT_HASH_CONTEXT;
    strcpy(r.obj.id, r.task.dids[0]);
    strcpy(r.obj.algorithm, "sha-512");
    strcpy(r.obj.salt, "0011223344556677");
    char *xml = NULL;
    size_t len = 0;
    if (x1_request_build(&r, &xml, &len, &err)) fail_msg("%s: %s", x1_type_name(r.type), err.msg);
    assert_non_null(strstr(xml, X1_NAMESPACE));
    if (x1_request_parse(xml, len, &back, &err)) fail_msg("%s: %s", x1_type_name(r.type), err.msg);
    assert_int_equal(back.type, r.type);
    assert_string_equal(back.h.transaction, r.h.transaction);
    if (t == X1_ACTIVATE_TASK || t == X1_MODIFY_TASK) {
      assert_int_equal(back.task.n_targets, 2);
      /* the schema's one IPv6 form: full and lowercase */
      assert_string_equal(back.task.targets[1].value, "2001:0db8:0000:0000:0000:0000:0000:0000/32");
    }
    if (t == X1_CREATE_DESTINATION || t == X1_MODIFY_DESTINATION) {
      assert_string_equal(back.dest.did, r.dest.did);
      assert_string_equal(back.dest.address, "192.0.2.7");
      assert_int_equal(back.dest.port, 4790);
    }
    if (t == X1_CREATE_OBJECT || t == X1_MODIFY_OBJECT || t == X1_DELETE_OBJECT)
      assert_string_equal(back.obj.id, r.obj.id);
    if (t == X1_CREATE_OBJECT || t == X1_MODIFY_OBJECT) {
      assert_int_equal(back.obj.kind, X1_OBJECT_HASH_CONTEXT);
      assert_string_equal(back.obj.salt, "0011223344556677");
    }
    if (t == X1_REPORT_DESTINATION_ISSUE) assert_string_equal(back.did, r.did);
    if (t == X1_REPORT_TASK_ISSUE || t == X1_REPORT_NE_ISSUE || t == X1_REPORT_DESTINATION_ISSUE) {
      assert_string_equal(back.report_type, r.report_type);
      assert_string_equal(back.issue, r.issue);
    }
    free(xml);
  }
}

static void test_responses_roundtrip(void **state) {
  (void)state;
  lisec_err err = {0};
  x1_response ok = {.type = X1_ACTIVATE_TASK, .ok = true}, err_r = {.type = X1_DEACTIVATE_TASK},
              details = {.type = X1_GET_TASK_DETAILS, .ok = true}, back;
  x1_header_init(&ok.h, "lisecd", "poi-1", &err);
  err_r.h = details.h = ok.h;
  err_r.error_code = X1_ERR_UNKNOWN_XID;
  strcpy(err_r.error_description, "no task <29f28e1c> & nothing else");
  details.task = activate().task;
  char *xml = NULL;
  size_t len = 0;
  assert_int_equal(x1_response_build(&ok, &xml, &len, &err), 0);
  assert_int_equal(x1_response_parse(xml, len, &back, &err), 0);
  assert_true(back.ok);
  assert_int_equal(back.type, X1_ACTIVATE_TASK);
  free(xml);
  assert_int_equal(x1_response_build(&err_r, &xml, &len, &err), 0);
  assert_int_equal(x1_response_parse(xml, len, &back, &err), 0);
  assert_false(back.ok);
  assert_int_equal(back.type, X1_DEACTIVATE_TASK);
  assert_int_equal(back.error_code, X1_ERR_UNKNOWN_XID);
  assert_string_equal(back.error_description, "no task <29f28e1c> & nothing else");
  free(xml);
  assert_int_equal(x1_response_build(&details, &xml, &len, &err), 0);
  assert_int_equal(x1_response_parse(xml, len, &back, &err), 0);
  assert_true(back.has_task);
  assert_string_equal(back.task.xid, details.task.xid);
  free(xml);
}

static void expect_refused(const char *xml, const char *why) {
  x1_request r;
  lisec_err err = {0};
  int rc = x1_request_parse(xml, strlen(xml), &r, &err);
  if (rc == 0) fail_msg("accepted: %s", xml);
  if (!strstr(err.msg, why)) fail_msg("reason \"%s\" lacks \"%s\"", err.msg, why);
}

static char *replace(const char *s, const char *from, const char *to) {
  const char *at = strstr(s, from);
  assert_non_null(at);
  char *out = malloc(strlen(s) + strlen(to) + 1);
  sprintf(out, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
  return out;
}

static void test_bad_messages_refused(void **state) {
  (void)state;
  expect_refused("<X1Request", "not well-formed");
  expect_refused("", "empty");
  char *big = malloc(X1_MESSAGE_MAX + 2);
  memset(big, ' ', X1_MESSAGE_MAX + 1);
  big[X1_MESSAGE_MAX + 1] = '\0';
  expect_refused(big, "larger than");
  free(big);
  char *s = replace(HANDWRITTEN, "29f28e1c-f230-486a-a860-f5a784ab9172", "not-a-uuid");
  expect_refused(s, "does not validate");
  free(s);
  s = replace(HANDWRITTEN, "X2andX3", "X9");
  expect_refused(s, "does not validate");
  free(s);
  s = replace(HANDWRITTEN, "<ns1:imsi>244051234567890</ns1:imsi>", "<ns1:imsi>24405x</ns1:imsi>");
  expect_refused(s, "does not validate");
  free(s);
  s = replace(HANDWRITTEN, "<ns1:imsi>", "<ns1:fax>");
  char *s2 = replace(s, "</ns1:imsi>", "</ns1:fax>");
  expect_refused(s2, "does not validate");
  free(s);
  free(s2);
  s = replace(HANDWRITTEN, "ActivateTaskRequest", "DestroyEverythingRequest");
  expect_refused(s, "does not validate");
  free(s);
  s = replace(HANDWRITTEN, "http://uri.etsi.org/03221/X1/2017/10", "urn:other");
  expect_refused(s, "does not validate");
  free(s);
  /* an entity bomb never expands: any DTD is refused */
  expect_refused("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>]>"
                 "<X1Request xmlns='http://uri.etsi.org/03221/X1/2017/10'>&b;</X1Request>",
                 "DTD");
  /* seventeen targets: over the bound */
  char many[8192] = "";
  for (int i = 0; i < 17; i++)
    strcat(many, "<ns1:targetIdentifier><ns1:imsi>244051234567890</ns1:imsi></ns1:targetIdentifier>");
  s = replace(HANDWRITTEN, "<ns1:targetIdentifier><ns1:imsi>244051234567890</ns1:imsi></ns1:targetIdentifier>", many);
  expect_refused(s, "more than 16 target identifiers");
  free(s);
  /* a response where a request is expected */
  x1_response ok = {.type = X1_PING, .ok = true};
  lisec_err err = {0};
  x1_header_init(&ok.h, "lisecd", "poi-1", &err);
  char *xml = NULL;
  size_t len = 0;
  assert_int_equal(x1_response_build(&ok, &xml, &len, &err), 0);
  expect_refused(xml, "expected an X1Request");
  free(xml);
}

/* The codes TS 103 221-1 gives the refusals, with the request's type and
 * transaction kept for the answer to echo. */
static void test_refusal_codes(void **state) {
  (void)state;
  x1_request q[4];
  size_t n = 0;
  lisec_err err = {0};
  char *s = replace(HANDWRITTEN, "X2andX3", "X9");
  assert_int_equal(x1_request_parse_all(s, strlen(s), q, 4, &n, &err), 0);
  assert_int_equal(n, 1);
  assert_int_equal(q[0].refuse_code, X1_ERR_SCHEMA);
  assert_string_equal(q[0].type_name, "ActivateTask");
  assert_string_equal(q[0].h.transaction, "3741800e-971b-4aa9-85f4-466d2b1adc7f");
  free(s);
  /* schema-valid, but a type lisec does not support */
  s = replace(HANDWRITTEN, "<ns1:taskDetails>", "<ns1:objectType>Q{urn:x}y</ns1:objectType><ns1:x>");
  char *s2 = replace(s, "</ns1:taskDetails>", "</ns1:x>");
  free(s);
  s = replace(s2, "ns1:ActivateTaskRequest", "ns1:GetAllGenericObjectDetailsRequest");
  free(s2);
  s2 = malloc(strlen(s) + 1);
  /* drop the body: GetAllGenericObjectDetails has only the optional objectType */
  const char *a = strstr(s, "<ns1:x>"), *b = strstr(s, "</ns1:x>") + strlen("</ns1:x>");
  sprintf(s2, "%.*s%s", (int)(a - s), s, b);
  assert_int_equal(x1_request_parse_all(s2, strlen(s2), q, 4, &n, &err), 0);
  assert_int_equal(q[0].refuse_code, X1_ERR_UNSUPPORTED);
  assert_string_equal(q[0].type_name, "GetAllGenericObjectDetails");
  free(s);
  free(s2);
  /* without a transaction id there is nothing to echo: the container fails */
  s = replace(HANDWRITTEN, "3741800e-971b-4aa9-85f4-466d2b1adc7f", "none");
  assert_int_not_equal(x1_request_parse_all(s, strlen(s), q, 4, &n, &err), 0);
  assert_int_equal(n, 0);
  free(s);
  /* more messages than the caller takes */
  const char *m0 = strstr(HANDWRITTEN, " <ns1:x1RequestMessage"), *m1 = strstr(HANDWRITTEN, "</ns1:X1Request>");
  char big[16384];
  int at = snprintf(big, sizeof big, "%.*s", (int)(m0 - HANDWRITTEN), HANDWRITTEN);
  for (int i = 0; i < 5; i++) at += snprintf(big + at, sizeof big - (size_t)at, "%.*s", (int)(m1 - m0), m0);
  snprintf(big + at, sizeof big - (size_t)at, "%s", m1);
  assert_int_equal(x1_request_parse_all(big, strlen(big), q, 4, &n, &err), LISEC_ETOOBIG);
  assert_non_null(strstr(err.msg, "1 to 4 messages"));
  /* x1_request_parse takes one */
  assert_int_not_equal(x1_request_parse(big, strlen(big), q, &err), 0);
}

static void test_versions(void **state) {
  (void)state;
  assert_true(x1_version_within("v1.13.1", "v1.13.1", "v1.22.1"));
  assert_true(x1_version_within("v1.22.1", "v1.13.1", "v1.22.1"));
  assert_true(x1_version_within("v1.20.10", "v1.13.1", "v1.22.1"));
  assert_false(x1_version_within("v1.6.1", "v1.13.1", "v1.22.1"));
  assert_false(x1_version_within("v1.23.0", "v1.13.1", "v1.22.1"));
  assert_false(x1_version_within("1.22.1", "v1.13.1", "v1.22.1"));
  assert_false(x1_version_within("v1.22", "v1.13.1", "v1.22.1"));
  assert_false(x1_version_within("v1.22.1x", "v1.13.1", "v1.22.1"));
}

/* The ADMF's checks of an answer, and its comparison of the task an NE
 * reports with the one it wants there. */
static void test_admf_helpers(void **state) {
  (void)state;
  x1_request q = activate();
  x1_response r;
  x1_response_init(&r);
  lisec_err err = {0};
  r.h = q.h;
  r.type = X1_ACTIVATE_TASK;
  r.ok = true;
  assert_int_equal(x1_response_check(&q, &r, &err), 0);
  r.h.transaction[0] = r.h.transaction[0] == 'a' ? 'b' : 'a';
  assert_int_equal(x1_response_check(&q, &r, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "another transaction"));
  r.h = q.h;
  strcpy(r.h.version, "v1.13.1");
  assert_int_equal(x1_response_check(&q, &r, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "answered in v1.13.1"));
  r.ok = false; /* but a 1020 says which version the NE speaks */
  r.error_code = X1_ERR_VERSION;
  strcpy(r.request_type, "ActivateTask");
  assert_int_equal(x1_response_check(&q, &r, &err), 0);
  r.h = q.h;
  strcpy(r.request_type, "DeactivateTask");
  assert_int_equal(x1_response_check(&q, &r, &err), LISEC_EINVAL);
  r.top_level = true;
  assert_int_equal(x1_response_check(&q, &r, &err), LISEC_EINVAL);
  /* an answer in the name of another NE, or to another ADMF, is not this
   * request's answer, whatever its transaction says (a gateway that
   * fronts several NEs with one certificate and routed the request wrong) */
  x1_response_init(&r);
  r.h = q.h;
  r.type = X1_ACTIVATE_TASK;
  r.ok = true;
  strcpy(r.h.ne, "poi-2");
  assert_int_equal(x1_response_check(&q, &r, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "answered as NE poi-2"));
  r.ok = false; /* not an ErrorResponse either: 2020 from another NE says nothing of this one */
  r.error_code = X1_ERR_UNKNOWN_XID;
  strcpy(r.request_type, "ActivateTask");
  assert_int_equal(x1_response_check(&q, &r, &err), LISEC_EINVAL);
  r.h = q.h;
  strcpy(r.h.admf, "admf-other");
  assert_int_equal(x1_response_check(&q, &r, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "ADMF admf-other"));
  /* the same task in the NE's forms and another order is the same task */
  x1_task want = q.task, held = q.task;
  held.targets[0] = q.task.targets[1];
  held.targets[1] = q.task.targets[0];
  strcpy(held.targets[0].value, "2001:0db8:0000:0000:0000:0000:0000:0000/32");
  assert_true(x1_task_same(&want, &held));
  strcpy(held.targets[1].value, "358401234568");
  assert_false(x1_task_same(&want, &held));
  held = q.task;
  strcpy(held.delivery, "X2andX3");
  assert_false(x1_task_same(&want, &held));
  held = q.task;
  held.n_dids = 0;
  assert_false(x1_task_same(&want, &held));
  /* what an NE sends the ADMF, written from the schema */
  static const char *issue =
      "<X1Request xmlns='http://uri.etsi.org/03221/X1/2017/10' xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'>"
      "<x1RequestMessage xsi:type='ReportNEIssueRequest'><admfIdentifier>admf-1</admfIdentifier>"
      "<neIdentifier>poi-1</neIdentifier><messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp>"
      "<version>v1.22.1</version><x1TransactionId>3741800e-971b-4aa9-85f4-466d2b1adc7f</x1TransactionId>"
      "<typeOfNeIssueMessage>FaultReport</typeOfNeIssueMessage><description>X3 link down</description>"
      "<issueCode>17</issueCode></x1RequestMessage>"
      "<x1RequestMessage xsi:type='ReportTaskIssueRequest'><admfIdentifier>admf-1</admfIdentifier>"
      "<neIdentifier>poi-1</neIdentifier><messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp>"
      "<version>v1.22.1</version><x1TransactionId>3741800e-971b-4aa9-85f4-466d2b1adc80</x1TransactionId>"
      "<xId>29f28e1c-f230-486a-a860-f5a784ab9172</xId><taskReportType>ImplicitDeactivation</taskReportType>"
      "<taskIssueErrorCode>3</taskIssueErrorCode></x1RequestMessage>"
      "<x1RequestMessage xsi:type='KeepaliveRequest'><admfIdentifier>admf-1</admfIdentifier>"
      "<neIdentifier>poi-1</neIdentifier><messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp>"
      "<version>v1.22.1</version><x1TransactionId>3741800e-971b-4aa9-85f4-466d2b1adc81</x1TransactionId>"
      "</x1RequestMessage></X1Request>";
  x1_request got[4];
  size_t n = 0;
  assert_int_equal(x1_request_parse_all(issue, strlen(issue), got, 4, &n, &err), 0);
  assert_int_equal(n, 3);
  assert_int_equal(got[0].type, X1_REPORT_NE_ISSUE);
  assert_int_equal(got[0].refuse_code, 0);
  assert_string_equal(got[0].report_type, "FaultReport");
  assert_string_equal(got[0].issue, "X3 link down");
  assert_true(got[0].has_issue_code);
  assert_int_equal(got[0].issue_code, 17);
  assert_int_equal(got[1].type, X1_REPORT_TASK_ISSUE);
  assert_string_equal(got[1].report_type, "ImplicitDeactivation");
  assert_string_equal(got[1].xid, "29f28e1c-f230-486a-a860-f5a784ab9172");
  assert_int_equal(got[1].issue_code, 3);
  assert_string_equal(got[1].issue, "");
  assert_int_equal(got[2].type, X1_KEEPALIVE);
  assert_string_equal(x1_error_name(X1_ERR_XID_EXISTS), "XID already exists");
  assert_string_equal(x1_error_name(4242), "error");
}

/* The integers an NE sends (issue and error codes, preferences; the schema
 * bounds none of them) are read whole or refused by name: 2^32 + 2020 must
 * not become 2020, "no task with that XID", in an int. */
static void test_integers_bounded(void **state) {
  (void)state;
  static const char *report =
      "<X1Request xmlns='http://uri.etsi.org/03221/X1/2017/10' xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'>"
      "<x1RequestMessage xsi:type='ReportNEIssueRequest'><admfIdentifier>admf-1</admfIdentifier>"
      "<neIdentifier>poi-1</neIdentifier><messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp>"
      "<version>v1.22.1</version><x1TransactionId>3741800e-971b-4aa9-85f4-466d2b1adc7f</x1TransactionId>"
      "<typeOfNeIssueMessage>FaultReport</typeOfNeIssueMessage><description>X3 link down</description>"
      "<issueCode>17</issueCode></x1RequestMessage></X1Request>";
  static const struct {
    const char *code;
    bool ok;
    int value;
  } codes[] = {
      {"2147483647", true, 2147483647},   {"-2147483648", true, -2147483647 - 1},
      {"+0017", true, 17},                {"00000000000000000000000000000000000000017", true, 17},
      {"2147483648", false, 0},           {"-2147483649", false, 0},
      {"4294967313", false, 0},           {"99999999999999999999999", false, 0},
  };
  lisec_err err = {0};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    char to[96];
    snprintf(to, sizeof to, "<issueCode>%s</issueCode>", codes[i].code);
    char *s = replace(report, "<issueCode>17</issueCode>", to);
    x1_request q[1];
    size_t n = 0;
    assert_int_equal(x1_request_parse_all(s, strlen(s), q, 1, &n, &err), 0);
    assert_int_equal(n, 1);
    if (codes[i].ok) {
      if (q[0].refuse_code) fail_msg("%s refused: %s", codes[i].code, q[0].refuse_why);
      assert_true(q[0].has_issue_code);
      assert_int_equal(q[0].issue_code, codes[i].value);
    } else {
      if (!q[0].refuse_code) fail_msg("%s read as %d", codes[i].code, q[0].issue_code);
      assert_int_equal(q[0].refuse_code, X1_ERR_GENERIC);
      assert_non_null(strstr(q[0].refuse_why, "issueCode: outside lisec's bound"));
    }
    free(s);
  }
  /* an ErrorResponse whose code would wrap to "no task with that XID" */
  x1_response er = {.type = X1_GET_TASK_DETAILS, .error_code = X1_ERR_UNKNOWN_XID}, back;
  x1_header_init(&er.h, "lisecd", "poi-1", &err);
  strcpy(er.error_description, "no such task");
  char *xml = NULL, *s;
  size_t len = 0;
  assert_int_equal(x1_response_build(&er, &xml, &len, &err), 0);
  s = replace(xml, ">2020<", ">4294969316<");
  assert_int_equal(x1_response_parse(s, strlen(s), &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "errorCode: outside lisec's bound"));
  free(s);
  s = replace(xml, ">2020<", ">+02020<");
  assert_int_equal(x1_response_parse(s, strlen(s), &back, &err), 0);
  assert_int_equal(back.error_code, X1_ERR_UNKNOWN_XID);
  free(s);
  free(xml);
  /* a destination set's preference past a long */
  x1_request r = activate();
  r.type = X1_CREATE_OBJECT;
  r.obj.kind = X1_OBJECT_DESTINATION_SET;
  strcpy(r.obj.id, r.task.dids[0]);
  strcpy(r.obj.set_type, "Redundant");
  strcpy(r.obj.dids[0], r.task.dids[0]);
  r.obj.preference[0] = 42;
  r.obj.n_dids = 1;
  assert_int_equal(x1_request_build(&r, &xml, &len, &err), 0);
  x1_request q;
  assert_int_equal(x1_request_parse(xml, len, &q, &err), 0);
  assert_int_equal(q.obj.preference[0], 42);
  s = replace(xml, ">42<", ">9223372036854775808<");
  expect_refused(s, "preference: outside lisec's bound");
  free(s);
  free(xml);
  /* a port range is PORT or PORT-PORT, each 2 to 65535 */
  static const struct {
    const char *v;
    bool ok;
  } ranges[] = {{"80-90", true},      {"5060", true},      {"2-65535", true}, {"80abc-90", false},
                {"80-90x", false},    {"1-90", false},     {"80-", false},    {"-80", false},
                {"80-65536", false},  {"99999999999999999999-90", false}, {"80--90", false},
                {"90-80", false},     {"80-80", true}};
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    x1_target t = {0};
    strcpy(t.element, "tcpPortRange");
    strcpy(t.value, ranges[i].v);
    int rc = x1_target_normalise(&t, &err);
    if ((rc == 0) != ranges[i].ok) fail_msg("port range %s: %s", ranges[i].v, rc ? err.msg : "accepted");
    if (rc) assert_non_null(strstr(err.msg, "ports 2 to 65535"));
  }
  /* read from an ADMF too: a range from 60000 down to 100 names no port,
   * and an NE taking it would intercept nothing while saying it does */
  s = replace(HANDWRITTEN, "<ns1:imsi>244051234567890</ns1:imsi>",
              "<ns1:tcpPortRange><c:start xmlns:c='http://uri.etsi.org/03280/common/2017/07'>60000</c:start>"
              "<c:end xmlns:c='http://uri.etsi.org/03280/common/2017/07'>100</c:end></ns1:tcpPortRange>");
  expect_refused(s, "the first not above the second");
  free(s);
  s = replace(HANDWRITTEN, "<ns1:imsi>244051234567890</ns1:imsi>",
              "<ns1:tcpPortRange><c:start xmlns:c='http://uri.etsi.org/03280/common/2017/07'>100</c:start>"
              "<c:end xmlns:c='http://uri.etsi.org/03280/common/2017/07'>60000</c:end></ns1:tcpPortRange>");
  x1_request q2;
  if (x1_request_parse(s, strlen(s), &q2, &err)) fail_msg("100-60000: %s", err.msg);
  assert_string_equal(q2.task.targets[0].value, "100-60000");
  free(s);
}

static void test_build_refuses_invalid(void **state) {
  (void)state;
  x1_request r = activate();
  strcpy(r.task.delivery, "Everything");
  char *xml = NULL;
  size_t len = 0;
  lisec_err err = {0};
  assert_int_equal(x1_request_build(&r, &xml, &len, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "refusing to send"));
  r = activate();
  r.task.n_targets = 0;
  assert_int_equal(x1_request_build(&r, &xml, &len, &err), LISEC_EINVAL);
  assert_null(x1_target_element("fax"));
}

/* The schema's complaint quotes the value it refuses: x1_error_shown keeps
 * lisec's words and withholds the rest, as it does an NE's words. */
static void test_error_shown_withholds_values(void **state) {
  (void)state;
  x1_request r = activate();
  strcpy(r.task.targets[0].element, x1_target_element("email"));
  strcpy(r.task.targets[0].value, "zq7secret@host_x.example");
  char *xml = NULL, shown[LISEC_ERR_MSG_MAX], again[LISEC_ERR_MSG_MAX];
  size_t len = 0;
  lisec_err err = {0};
  assert_int_equal(x1_request_build(&r, &xml, &len, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "zq7secret")); /* libxml2 quotes it: the reason for all this */
  assert_true(x1_error_shown(err.msg, shown, sizeof shown));
  assert_null(strstr(shown, "zq7secret"));
  assert_non_null(strstr(shown, "refusing to send: X1 message does not validate against TS 103 221-1 ["));
  assert_non_null(strstr(shown, "TR103308-5.7"));
  /* the same complaint, as an NE's 1010 carries it */
  char ne[LISEC_ERR_MSG_MAX];
  snprintf(ne, sizeof ne, "the NE refused (X1 error 1010)" X1_NE_SAID "%.400s", err.msg);
  assert_true(x1_error_shown(ne, shown, sizeof shown));
  assert_null(strstr(shown, "zq7secret"));
  assert_int_equal(strncmp(shown, "the NE refused (X1 error 1010) [TR103308-5.7", 44), 0);
  /* an NE's words without the schema's, and a short buffer */
  assert_true(x1_error_shown("GetTaskDetails refused (X1 error 1000)" X1_NE_SAID "192.0.2.9 is odd", shown, 80));
  assert_null(strstr(shown, "192.0.2.9"));
  assert_true(strlen(shown) < 80);
  /* applied again, nothing changes; lisec's own words pass whole */
  assert_true(x1_error_shown(ne, shown, sizeof shown));
  assert_false(x1_error_shown(shown, again, sizeof again));
  assert_string_equal(again, shown);
  assert_false(x1_error_shown("X1: network element unreachable: Timeout was reached", shown, sizeof shown));
  assert_string_equal(shown, "X1: network element unreachable: Timeout was reached");
  assert_false(x1_error_shown(NULL, shown, sizeof shown));
  assert_string_equal(shown, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handwritten_request_parses), cmocka_unit_test(test_request_roundtrip_every_type),
      cmocka_unit_test(test_responses_roundtrip),        cmocka_unit_test(test_bad_messages_refused),
      cmocka_unit_test(test_build_refuses_invalid),      cmocka_unit_test(test_refusal_codes),
      cmocka_unit_test(test_versions),                   cmocka_unit_test(test_admf_helpers),
      cmocka_unit_test(test_integers_bounded),          cmocka_unit_test(test_error_shown_withholds_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
