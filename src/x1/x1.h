/* x1/ speaks ETSI TS 103 221-1 X1, the interface over which the ADMF (lisecd)
 * tasks network elements (POIs) with targets and the destinations their
 * intercepts go to, and over which an NE reports issues back. Pure: messages
 * are built from structs and parsed from bytes; every message built or
 * parsed is validated against ETSI's own X1 schema (src/x1/etsi-x1-schema/,
 * built into the library), with no network access and no entity expansion.
 * docs/x1.md lists the message types and identifier kinds lisec supports. */
#ifndef LISEC_X1_H
#define LISEC_X1_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "base/base.h"

#define X1_NAMESPACE "http://uri.etsi.org/03221/X1/2017/10"
/* The version lisec speaks unless an NE is configured with another: the
 * version of the ETSI schema it validates against. */
#define X1_VERSION "v1.22.1"
#define X1_MESSAGE_MAX (64 * 1024)
#define X1_ID_MAX 64
#define X1_UUID_LEN 36
#define X1_MAX_TARGETS 16
#define X1_MAX_DIDS 8
#define X1_VALUE_MAX 256
#define X1_MAX_LIST 1024     /* XIDs in one ListAllDetails response */
#define X1_MAX_DEST_LIST 256 /* DIDs in one ListAllDetails response */
#define X1_MAX_MESSAGES 16   /* messages in one X1Request container */
#define X1_SALT_MAX 64       /* bytes of a hash context's salt lisec keeps */
#define X1_HASH_TYPE_MAX 32  /* a HashedID's targetIdentityType */
#define X1_HASHEDID_NAMESPACE "http://uri.etsi.org/03221/X1/2017/10/HashedID"
#define X1_DESTSET_NAMESPACE "http://uri.etsi.org/03221/X1/2017/10/DestinationSet"

/* The message types lisec builds and reads (TS 103 221-1 clause 6). Values
 * are not stored anywhere; new ones go before X1_TYPE_COUNT. */
typedef enum {
  X1_ACTIVATE_TASK,
  X1_MODIFY_TASK,
  X1_DEACTIVATE_TASK,
  X1_GET_TASK_DETAILS,
  X1_PING,
  X1_KEEPALIVE,
  X1_REPORT_TASK_ISSUE,
  X1_LIST_ALL_DETAILS,
  X1_DEACTIVATE_ALL_TASKS,
  X1_CREATE_DESTINATION,
  X1_MODIFY_DESTINATION,
  X1_REMOVE_DESTINATION,
  X1_GET_DESTINATION_DETAILS,
  X1_GET_NE_STATUS,
  X1_REPORT_NE_ISSUE,
  X1_REMOVE_ALL_DESTINATIONS,     /* clause 6.3.4 */
  X1_GET_ALL_DETAILS,             /* clause 6.4.5 */
  X1_GET_ALL_TASK_DETAILS,        /* clause 6.4.7 */
  X1_GET_ALL_DESTINATION_DETAILS, /* clause 6.4.8 */
  X1_REPORT_DESTINATION_ISSUE,    /* clause 6.5.3 */
  /* generic objects: destination sets and hash contexts (the schema's
   * DestinationSet and HashedID modules) */
  X1_CREATE_OBJECT,
  X1_MODIFY_OBJECT,
  X1_DELETE_OBJECT,
  X1_TYPE_COUNT
} x1_type;

/* "ActivateTask", ... (the message name without Request/Response, as the
 * schema's RequestMessageType enumerates it). */
const char *x1_type_name(x1_type t);

/* One target identifier: the TS 103 221-1 element name and its value as
 * text. Elements the schema gives children are text here too: ipv4Cidr is
 * "ADDRESS/LEN" (built as its IPv4CIDR or IPv6CIDR child), tcpPortRange and
 * udpPortRange "START-END" (built as start and end), hashedIdentifier
 * "CONTEXT-ID TYPE DIGEST" (hashContextID, targetIdentityType, hashDigest in
 * hex; the type is what lies between the first and the last space). The
 * builder brings a value in lisec's vault form to the schema's
 * (docs/x1.md). */
typedef struct x1_target {
  char element[32];
  char value[X1_VALUE_MAX + 1];
} x1_target;

typedef struct x1_task {
  char xid[X1_UUID_LEN + 1];
  x1_target targets[X1_MAX_TARGETS];
  size_t n_targets;
  char delivery[16]; /* X2Only, X3Only, X2andX3 */
  char dids[X1_MAX_DIDS][X1_UUID_LEN + 1];
  size_t n_dids;
  /* destination sets (TS 103 221-1 clause 6.2.1.2, listOfDIDs/dSId) */
  char dsids[X1_MAX_DIDS][X1_UUID_LEN + 1];
  size_t n_dsids;
} x1_task;

/* A delivery destination (TS 103 221-1 clause 6.3.1.2). The address is one
 * of: "ip" (address is an IPv4 or IPv6 address, with port and udp),
 * "e164Number", "uri", "emailAddress" (address is the value). */
typedef struct x1_destination {
  char did[X1_UUID_LEN + 1];
  char friendly[X1_VALUE_MAX + 1]; /* optional */
  char delivery[16];
  char address_kind[16];
  char address[X1_VALUE_MAX + 1];
  int port;
  bool udp;
} x1_destination;

/* A generic object (the schema's CreateObject family, which cites no clause): a
 * destination set (DestinationSetDetails: DIDs with their preference, its
 * type Redundant or Duplicate) or a hash context for HashedID target
 * identifiers (HashContext: sha-256, sha-512 or sha3-512 and a salt of 8
 * to X1_SALT_MAX bytes, kept as lower-case hex). */
typedef enum { X1_OBJECT_NONE, X1_OBJECT_DESTINATION_SET, X1_OBJECT_HASH_CONTEXT } x1_object_kind;

typedef struct x1_object {
  x1_object_kind kind;
  char id[X1_UUID_LEN + 1];
  char friendly[X1_VALUE_MAX + 1]; /* destination set, optional */
  char set_type[16];               /* Redundant, Duplicate */
  char dids[X1_MAX_DIDS][X1_UUID_LEN + 1];
  long preference[X1_MAX_DIDS];
  size_t n_dids;
  char algorithm[16];               /* hash context */
  char salt[2 * X1_SALT_MAX + 1];   /* hex */
} x1_object;

/* The digest length in bytes of a hash context's algorithm; 0 when lisec
 * does not know it. */
size_t x1_hash_length(const char *algorithm);

typedef struct x1_header {
  char admf[X1_ID_MAX + 1];
  char ne[X1_ID_MAX + 1];
  char transaction[X1_UUID_LEN + 1];
  char timestamp[40];
  char version[16];
} x1_header;

typedef struct x1_request {
  x1_type type;
  x1_header h;
  x1_task task;                 /* ActivateTask, ModifyTask */
  char xid[X1_UUID_LEN + 1];    /* DeactivateTask, GetTaskDetails, ReportTaskIssue */
  x1_destination dest;          /* CreateDestination, ModifyDestination */
  char did[X1_UUID_LEN + 1];    /* RemoveDestination, GetDestinationDetails, ReportDestinationIssue */
  x1_object obj;                /* CreateObject, ModifyObject; DeleteObject: obj.id */
  /* ReportTaskIssue, ReportDestinationIssue (destinationReportType, ...): taskReportType (AllClear, Warning, ...), the optional
   * taskIssueErrorCode and taskIssueDetails. ReportNEIssue:
   * typeOfNeIssueMessage (Warning, FaultCleared, ...), description, the
   * optional issueCode. */
  char report_type[32];
  int issue_code;
  bool has_issue_code;
  char issue[X1_VALUE_MAX + 1];
  /* Set by parsing: the request's type as named on the wire ("CreateObject"
   * when it is one lisec does not support), and, when this message is
   * refused, the TS 103 221-1 error code and the reason. */
  char type_name[48];
  int refuse_code;
  char refuse_why[X1_VALUE_MAX + 1];
} x1_request;

typedef struct x1_response {
  x1_type type;
  x1_header h;
  bool ok;                      /* oK (AcknowledgedAndCompleted) or ErrorResponse */
  int error_code;
  char error_description[X1_VALUE_MAX + 1];
  /* ErrorResponse to a request of a type lisec does not support: the
   * requestMessageType to name ("" names type). */
  char request_type[48];
  /* X1TopLevelErrorResponse: the NE could not read the container at all. */
  bool top_level;
  x1_task task;                 /* GetTaskDetails: the task as the NE holds it */
  bool has_task;
  /* GetTaskDetails: provisioningStatus (awaitingProvisioning, failed,
   * complete); GetDestinationDetails: destinationDeliveryStatus
   * (activeAndWorking, deliveryFault); GetNEStatus: neStatus (OK, Faults). */
  char status[24];
  x1_destination dest;          /* GetDestinationDetails */
  bool has_dest;
  /* GetAllDetails, GetAllTaskDetails (tasks, each provisioningStatus
   * complete), GetAllDetails, GetAllDestinationDetails (destinations, each
   * activeAndWorking), GetAllDetails (objects) and ListAllDetails (object
   * ids): arrays the caller owns. Building reads n_* of them (set them
   * after x1_response_init, which clears them); x1_response_parse_lists
   * fills the caller's arrays, x1_response_parse only counts. */
  x1_task *tasks;
  size_t n_tasks, tasks_cap;
  x1_destination *dests;
  size_t n_dests, dests_cap;
  x1_object *objects;
  size_t n_objects, objects_cap;
  /* ListAllDetails: the DIDs the NE holds. */
  char dest_ids[X1_MAX_DEST_LIST][X1_UUID_LEN + 1];
  size_t n_dest_ids;
  /* ListAllDetails: the XIDs the NE holds. Kept in the struct (about
   * 38 KB) so a response owns no memory and needs no freeing. */
  char xids[X1_MAX_LIST][X1_UUID_LEN + 1];
  size_t n_xids;
} x1_response;

/* The part of a response before the XID list: what must be cleared or
 * wiped (it may hold a task's identifiers); the lists hold ids only. */
#define X1_RESPONSE_HEAD offsetof(x1_response, dest_ids)

/* Clears a response cheaply (the head and the lists' counts). */
static inline void x1_response_init(x1_response *r) {
  memset(r, 0, X1_RESPONSE_HEAD);
  r->n_dest_ids = 0;
  r->n_xids = 0;
}

/* A random (version 4) UUID, as TS 103 221-1 uses for XIDs and transactions. */
int x1_uuid(char out[X1_UUID_LEN + 1], lisec_err *err);
/* The TS 103 221-1 element for a lisec identifier kind ("imsi" -> "imsi",
 * "e164" -> "e164Number", ...); NULL when X1 has none. The builder picks
 * the element a value needs where one kind has several (a supi "nai-..." is
 * supinai, a 15-digit imei peiImeiCheckDigit). */
const char *x1_target_element(const char *lisec_kind);
/* Brings a target to the schema's element and value format (the MAC and
 * IPv6 forms, 5G prefixes, the IMEI's check digit); refuses, naming the
 * rule, a value the schema cannot carry. The builder calls it. */
int x1_target_normalise(x1_target *t, lisec_err *err);

/* Fills the header: identifiers, version X1_VERSION, a fresh transaction id,
 * the time now. Set h->version after it to speak another version. */
int x1_header_init(x1_header *h, const char *admf, const char *ne, lisec_err *err);
/* Whether a version ("v1.N.M") lies within [min, max]; false when any of
 * them is not of that form. */
bool x1_version_within(const char *version, const char *min, const char *max);

/* XML out; *xml is malloc'd. Every message is validated against the schema
 * before it is returned: lisec never sends what a conformant peer refuses. */
int x1_request_build(const x1_request *r, char **xml, size_t *len, lisec_err *err);
int x1_response_build(const x1_response *r, char **xml, size_t *len, lisec_err *err);
/* One X1Response container with n responses (answers to one container). */
int x1_response_build_many(const x1_response *const *r, size_t n, char **xml, size_t *len, lisec_err *err);

/* XML in: bounded (X1_MESSAGE_MAX), DTD-free, schema-validated, then read
 * into the struct. The reason names what is wrong. x1_request_parse takes a
 * container of one message. */
int x1_request_parse(const char *xml, size_t len, x1_request *out, lisec_err *err);
/* A container of up to cap messages (the schema allows several). Returns 0
 * when the container names its messages: each out[i] is then either read,
 * or carries refuse_code and refuse_why (a message that does not validate,
 * of an unsupported type, or over lisec's bounds) with as much of its
 * header as could be read, so the answer can echo its type and transaction.
 * Returns an error when not even that is possible (not XML, not an
 * X1Request, more than cap messages): the answer is then an
 * X1TopLevelErrorResponse. */
int x1_request_parse_all(const char *xml, size_t len, x1_request *out, size_t cap, size_t *n,
                         lisec_err *err);
/* The first response of a container; an X1TopLevelErrorResponse reads as
 * a refusal (ok false, top_level true, error_code X1_ERR_GENERIC). */
int x1_response_parse(const char *xml, size_t len, x1_response *out, lisec_err *err);
/* The same, reading the GetAll lists (tasks, destinations, generic objects
 * or, of ListAllDetails, object ids) into the caller's arrays, up to each
 * cap: a longer list is refused by that bound. A NULL array is counted
 * only. */
int x1_response_parse_lists(const char *xml, size_t len, x1_response *out, x1_task *tasks, size_t tasks_cap,
                            x1_destination *dests, size_t dests_cap, x1_object *objects, size_t objects_cap,
                            lisec_err *err);

/* For the ADMF. Whether resp answers req: the same transaction, the same
 * NE and ADMF identifiers, the version req was sent in, and the response
 * type of req's type (or an ErrorResponse naming it). A mismatch is an error naming it: the answer is
 * not to be acted on. */
int x1_response_check(const x1_request *req, const x1_response *resp, lisec_err *err);
/* Whether the task an NE reports (GetTaskDetails) is the one the ADMF
 * wants there: XID, delivery type, destinations and destination sets, and
 * the target identifiers compared in the schema's forms, each list in any
 * order. */
bool x1_task_same(const x1_task *want, const x1_task *held);
/* A short English name for a TS 103 221-1 error code lisec knows ("XID
 * already exists"); "error" for others. */
const char *x1_error_name(int code);

/* Words that may quote what an X1 message carried, a target identifier's
 * value among them: the schema's complaint (libxml2 quotes the offending
 * value) after X1_SCHEMA_SAID, which every schema refusal of lisec's says
 * (building, reading, or an NE's 1010 carrying lisec-ne's words), and an
 * NE's own words (an ErrorResponse's errorDescription) after X1_NE_SAID,
 * which lisecd puts before them. They belong in sealed records and the LI
 * administration's views only. */
#define X1_SCHEMA_SAID "does not validate against TS 103 221-1: "
#define X1_NE_SAID "; the NE said: "
/* msg as it may be kept or shown where others than the LI administration
 * may read it (a stored task, lisecd's log): cut before the first of those
 * words, then a sentence saying they were withheld and why (TR103308-5.7).
 * Returns whether anything was withheld; msg without them is copied whole.
 * Applied to its own result it changes nothing. */
bool x1_error_shown(const char *msg, char *out, size_t cap);

/* TS 103 221-1 error codes lisec sends and understands in ErrorResponse.
 * Refusals the standard gives no own code to (the ADMF or NE identifier, a
 * full table, an unknown destination) are 1000 with a reason. */
enum {
  X1_ERR_GENERIC = 1000,
  X1_ERR_SCHEMA = 1010,      /* the message does not validate against the schema */
  X1_ERR_VERSION = 1020,     /* the version is not one the receiver speaks */
  X1_ERR_UNSUPPORTED = 1080, /* a valid request of a type the receiver does not support */
  X1_ERR_XID_EXISTS = 2010,  /* activating an XID that is active */
  X1_ERR_UNKNOWN_XID = 2020, /* no task with that XID */
  X1_ERR_NOT_AUTHORISED = X1_ERR_GENERIC,
};

#endif
