/* The X1 schema lisec validates against: the messages, header fields, task
 * details and target identifier elements of ETSI TS 103 221-1 that lisec
 * sends and accepts, with their bounds (UUIDs, identifier lengths, at most
 * 16 targets and 8 destinations). Compiled once, shared read-only. */
#include <libxml/xmlschemas.h>
#include <pthread.h>
#include <string.h>

#include "x1/x1_internal.h"

static const char x1_xsd[] =
    "<?xml version='1.0' encoding='UTF-8'?>"
    "<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema' xmlns='" X1_NAMESPACE "'"
    " targetNamespace='" X1_NAMESPACE "' elementFormDefault='qualified'>"
    "<xs:simpleType name='UUID'><xs:restriction base='xs:string'>"
    "<xs:pattern value='[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'/>"
    "</xs:restriction></xs:simpleType>"
    "<xs:simpleType name='Identifier'><xs:restriction base='xs:string'>"
    "<xs:minLength value='1'/><xs:maxLength value='64'/><xs:pattern value='[A-Za-z0-9._:-]+'/>"
    "</xs:restriction></xs:simpleType>"
    "<xs:simpleType name='Value'><xs:restriction base='xs:string'>"
    "<xs:minLength value='1'/><xs:maxLength value='256'/></xs:restriction></xs:simpleType>"
    "<xs:simpleType name='Digits'><xs:restriction base='xs:string'>"
    "<xs:pattern value='[0-9]{1,15}'/></xs:restriction></xs:simpleType>"
    "<xs:simpleType name='DeliveryType'><xs:restriction base='xs:string'>"
    "<xs:enumeration value='X2Only'/><xs:enumeration value='X3Only'/><xs:enumeration value='X2andX3'/>"
    "</xs:restriction></xs:simpleType>"
    "<xs:simpleType name='OK'><xs:restriction base='xs:string'>"
    "<xs:enumeration value='AcknowledgedAndCompleted'/></xs:restriction></xs:simpleType>"
    /* target identifiers */
    "<xs:complexType name='TargetIdentifier'><xs:choice>"
    "<xs:element name='e164Number' type='Digits'/><xs:element name='imsi' type='Digits'/>"
    "<xs:element name='imei' type='Digits'/><xs:element name='supiIMSI' type='Value'/>"
    "<xs:element name='supiNAI' type='Value'/><xs:element name='gpsiMSISDN' type='Value'/>"
    "<xs:element name='gpsiNAI' type='Value'/><xs:element name='ipv4Address' type='Value'/>"
    "<xs:element name='ipv4Cidr' type='Value'/><xs:element name='ipv6Address' type='Value'/>"
    "<xs:element name='ipv6Cidr' type='Value'/><xs:element name='mACAddress' type='Value'/>"
    "<xs:element name='emailAddress' type='Value'/><xs:element name='sipUri' type='Value'/>"
    "<xs:element name='telUri' type='Value'/><xs:element name='tcpPortRange' type='Value'/>"
    "</xs:choice></xs:complexType>"
    "<xs:complexType name='ListOfTargetIdentifiers'><xs:sequence>"
    "<xs:element name='targetIdentifier' type='TargetIdentifier' maxOccurs='16'/>"
    "</xs:sequence></xs:complexType>"
    "<xs:complexType name='ListOfDids'><xs:sequence>"
    "<xs:element name='dId' type='UUID' maxOccurs='8'/></xs:sequence></xs:complexType>"
    "<xs:complexType name='TaskDetails'><xs:sequence>"
    "<xs:element name='xId' type='UUID'/>"
    "<xs:element name='targetIdentifiers' type='ListOfTargetIdentifiers'/>"
    "<xs:element name='deliveryType' type='DeliveryType'/>"
    "<xs:element name='listOfDIDs' type='ListOfDids'/>"
    "</xs:sequence></xs:complexType>"
    /* the message envelope and header */
    "<xs:complexType name='X1RequestMessage'><xs:sequence>"
    "<xs:element name='admfIdentifier' type='Identifier'/>"
    "<xs:element name='neIdentifier' type='Identifier'/>"
    "<xs:element name='messageTimestamp' type='xs:dateTime'/>"
    "<xs:element name='version' type='Identifier'/>"
    "<xs:element name='x1TransactionId' type='UUID'/>"
    "</xs:sequence></xs:complexType>"
    "<xs:complexType name='X1ResponseMessage'><xs:sequence>"
    "<xs:element name='admfIdentifier' type='Identifier'/>"
    "<xs:element name='neIdentifier' type='Identifier'/>"
    "<xs:element name='messageTimestamp' type='xs:dateTime'/>"
    "<xs:element name='version' type='Identifier'/>"
    "<xs:element name='x1TransactionId' type='UUID'/>"
    "</xs:sequence></xs:complexType>"
    "<xs:element name='X1Request'><xs:complexType><xs:sequence>"
    "<xs:element name='x1RequestMessage' type='X1RequestMessage'/>"
    "</xs:sequence></xs:complexType></xs:element>"
    "<xs:element name='X1Response'><xs:complexType><xs:sequence>"
    "<xs:element name='x1ResponseMessage' type='X1ResponseMessage'/>"
    "</xs:sequence></xs:complexType></xs:element>"
    /* requests */
    "<xs:complexType name='ActivateTaskRequest'><xs:complexContent><xs:extension base='X1RequestMessage'>"
    "<xs:sequence><xs:element name='taskDetails' type='TaskDetails'/></xs:sequence>"
    "</xs:extension></xs:complexContent></xs:complexType>"
    "<xs:complexType name='ModifyTaskRequest'><xs:complexContent><xs:extension base='X1RequestMessage'>"
    "<xs:sequence><xs:element name='taskDetails' type='TaskDetails'/></xs:sequence>"
    "</xs:extension></xs:complexContent></xs:complexType>"
    "<xs:complexType name='DeactivateTaskRequest'><xs:complexContent><xs:extension base='X1RequestMessage'>"
    "<xs:sequence><xs:element name='xId' type='UUID'/></xs:sequence>"
    "</xs:extension></xs:complexContent></xs:complexType>"
    "<xs:complexType name='GetTaskDetailsRequest'><xs:complexContent><xs:extension base='X1RequestMessage'>"
    "<xs:sequence><xs:element name='xId' type='UUID'/></xs:sequence>"
    "</xs:extension></xs:complexContent></xs:complexType>"
    "<xs:complexType name='PingRequest'><xs:complexContent><xs:extension base='X1RequestMessage'/>"
    "</xs:complexContent></xs:complexType>"
    "<xs:complexType name='ListAllDetailsRequest'><xs:complexContent><xs:extension base='X1RequestMessage'/>"
    "</xs:complexContent></xs:complexType>"
    "<xs:complexType name='KeepaliveRequest'><xs:complexContent><xs:extension base='X1RequestMessage'/>"
    "</xs:complexContent></xs:complexType>"
    "<xs:complexType name='ReportTaskIssueRequest'><xs:complexContent><xs:extension base='X1RequestMessage'>"
    "<xs:sequence><xs:element name='xId' type='UUID'/>"
    "<xs:element name='taskIssueDetails' type='Value'/></xs:sequence>"
    "</xs:extension></xs:complexContent></xs:complexType>"
    /* responses */
    "<xs:complexType name='OKResponse'><xs:complexContent><xs:extension base='X1ResponseMessage'>"
    "<xs:sequence><xs:element name='ok' type='OK'/></xs:sequence>"
    "</xs:extension></xs:complexContent></xs:complexType>"
    "<xs:complexType name='ActivateTaskResponse'><xs:complexContent><xs:extension base='OKResponse'/></xs:complexContent></xs:complexType>"
    "<xs:complexType name='ModifyTaskResponse'><xs:complexContent><xs:extension base='OKResponse'/></xs:complexContent></xs:complexType>"
    "<xs:complexType name='DeactivateTaskResponse'><xs:complexContent><xs:extension base='OKResponse'/></xs:complexContent></xs:complexType>"
    "<xs:complexType name='PingResponse'><xs:complexContent><xs:extension base='OKResponse'/></xs:complexContent></xs:complexType>"
    "<xs:complexType name='KeepaliveResponse'><xs:complexContent><xs:extension base='OKResponse'/></xs:complexContent></xs:complexType>"
    "<xs:complexType name='ReportTaskIssueResponse'><xs:complexContent><xs:extension base='OKResponse'/></xs:complexContent></xs:complexType>"
    "<xs:complexType name='GetTaskDetailsResponse'><xs:complexContent><xs:extension base='X1ResponseMessage'>"
    "<xs:sequence><xs:element name='taskResponseDetails'><xs:complexType><xs:sequence>"
    "<xs:element name='taskDetails' type='TaskDetails'/>"
    "</xs:sequence></xs:complexType></xs:element></xs:sequence>"
    "</xs:extension></xs:complexContent></xs:complexType>"
    "<xs:complexType name='ListAllDetailsResponse'><xs:complexContent><xs:extension base='X1ResponseMessage'>"
    "<xs:sequence><xs:element name='listOfXIDs'><xs:complexType><xs:sequence>"
    "<xs:element name='xId' type='UUID' minOccurs='0' maxOccurs='1024'/>"
    "</xs:sequence></xs:complexType></xs:element></xs:sequence>"
    "</xs:extension></xs:complexContent></xs:complexType>"
    "<xs:complexType name='ErrorResponse'><xs:complexContent><xs:extension base='X1ResponseMessage'>"
    "<xs:sequence><xs:element name='requestMessageType' type='Identifier'/>"
    "<xs:element name='errorInformation'><xs:complexType><xs:sequence>"
    "<xs:element name='errorCode' type='xs:int'/><xs:element name='errorDescription' type='Value'/>"
    "</xs:sequence></xs:complexType></xs:element></xs:sequence>"
    "</xs:extension></xs:complexContent></xs:complexType>"
    "</xs:schema>";

static xmlSchemaPtr schema;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void silent(void *ctx, const char *msg, ...) { (void)ctx, (void)msg; }

static void schema_compile(void) {
  xmlSchemaParserCtxtPtr p = xmlSchemaNewMemParserCtxt(x1_xsd, (int)strlen(x1_xsd));
  if (!p) return;
  xmlSchemaSetParserErrors(p, silent, silent, NULL);
  schema = xmlSchemaParse(p);
  xmlSchemaFreeParserCtxt(p);
}

/* Collects the first validation error for the reason. */
static void on_error(void *ctx, const xmlError *e) {
  char *first = ctx;
  if (first[0] || !e || !e->message) return;
  snprintf(first, 256, "line %d: %s", e->line, e->message);
  size_t n = strlen(first);
  while (n && (first[n - 1] == '\n')) first[--n] = '\0';
}

int x1_schema_validate(xmlDocPtr doc, lisec_err *err) {
  pthread_once(&once, schema_compile);
  if (!schema) return lisec_err_set(err, LISEC_EINTERNAL, "X1 schema does not compile");
  xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(schema);
  if (!v) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  char first[256] = "";
  xmlSchemaSetValidStructuredErrors(v, (xmlStructuredErrorFunc)on_error, first);
  int rc = xmlSchemaValidateDoc(v, doc);
  xmlSchemaFreeValidCtxt(v);
  if (rc != 0)
    return lisec_err_set(err, LISEC_EINVAL, "X1 message does not validate against TS 103 221-1: %s",
                         first[0] ? first : "invalid");
  return 0;
}
