/* x1/ speaks ETSI TS 103 221-1 X1, the interface over which the ADMF (lisecd)
 * tasks network elements (POIs) with targets: ActivateTask, ModifyTask,
 * DeactivateTask, GetTaskDetails, ListAllDetails, Ping, Keepalive and the
 * NE's ReportTaskIssue, as XML in the namespace of TS 103 221-1. Pure: messages
 * are built from structs and parsed from bytes, every parsed message is
 * validated against the schema lisec ships (the subset of TS 103 221-1 it
 * uses), with no network access and no entity expansion. */
#ifndef LISEC_X1_H
#define LISEC_X1_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "base/base.h"

#define X1_NAMESPACE "http://uri.etsi.org/03221/X1/2017/10"
#define X1_VERSION "v1.6.1"
#define X1_MESSAGE_MAX (64 * 1024)
#define X1_ID_MAX 64
#define X1_UUID_LEN 36
#define X1_MAX_TARGETS 16
#define X1_MAX_DIDS 8
#define X1_VALUE_MAX 256
#define X1_MAX_LIST 1024 /* XIDs in one ListAllDetails response */

typedef enum {
  X1_ACTIVATE_TASK,
  X1_MODIFY_TASK,
  X1_DEACTIVATE_TASK,
  X1_GET_TASK_DETAILS,
  X1_PING,
  X1_KEEPALIVE,
  X1_REPORT_TASK_ISSUE,
  X1_LIST_ALL_DETAILS,
  X1_TYPE_COUNT
} x1_type;

/* "ActivateTask", ... (the message name without Request/Response). */
const char *x1_type_name(x1_type t);

/* One target identifier: the TS 103 221-1 element name and its value. */
typedef struct x1_target {
  char element[32]; /* e164Number, imsi, imei, ipv4Address, ipv6Cidr, sipUri, ... */
  char value[X1_VALUE_MAX + 1];
} x1_target;

typedef struct x1_task {
  char xid[X1_UUID_LEN + 1];
  x1_target targets[X1_MAX_TARGETS];
  size_t n_targets;
  char delivery[16]; /* X2Only, X3Only, X2andX3 */
  char dids[X1_MAX_DIDS][X1_UUID_LEN + 1];
  size_t n_dids;
} x1_task;

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
  x1_task task;                     /* ActivateTask, ModifyTask */
  char xid[X1_UUID_LEN + 1];        /* DeactivateTask, GetTaskDetails, ReportTaskIssue */
  char issue[X1_VALUE_MAX + 1];     /* ReportTaskIssue: the issue's description */
} x1_request;

typedef struct x1_response {
  x1_type type;
  x1_header h;
  bool ok;                          /* OK (AcknowledgedAndCompleted) or ErrorResponse */
  int error_code;
  char error_description[X1_VALUE_MAX + 1];
  x1_task task;                     /* GetTaskDetails: the task as the NE holds it */
  bool has_task;
  /* ListAllDetails: the XIDs the NE holds. Kept in the struct (about
   * 38 KB) so a response owns no memory and needs no freeing. */
  char xids[X1_MAX_LIST][X1_UUID_LEN + 1];
  size_t n_xids;
} x1_response;

/* The part of a response before the XID list: what must be cleared or
 * wiped (it may hold a task's identifiers); the list holds XIDs only. */
#define X1_RESPONSE_HEAD offsetof(x1_response, xids)

/* Clears a response cheaply (the head and the list's count). */
static inline void x1_response_init(x1_response *r) {
  memset(r, 0, X1_RESPONSE_HEAD);
  r->n_xids = 0;
}

/* A random (version 4) UUID, as TS 103 221-1 uses for XIDs and transactions. */
int x1_uuid(char out[X1_UUID_LEN + 1], lisec_err *err);
/* The TS 103 221-1 element for a lisec identifier kind ("imsi" -> "imsi",
 * "e164" -> "e164Number", ...); NULL when X1 has none. */
const char *x1_target_element(const char *lisec_kind);

/* Fills the header: identifiers, a fresh transaction id, the time now. */
int x1_header_init(x1_header *h, const char *admf, const char *ne, lisec_err *err);

/* XML out; *xml is malloc'd. */
int x1_request_build(const x1_request *r, char **xml, size_t *len, lisec_err *err);
int x1_response_build(const x1_response *r, char **xml, size_t *len, lisec_err *err);
/* XML in: bounded (X1_MESSAGE_MAX), schema-validated, then read into the
 * struct. The reason names what is wrong. */
int x1_request_parse(const char *xml, size_t len, x1_request *out, lisec_err *err);
int x1_response_parse(const char *xml, size_t len, x1_response *out, lisec_err *err);

/* TS 103 221-1 error codes lisec uses in ErrorResponse. */
enum {
  X1_ERR_GENERIC = 1000,
  X1_ERR_SCHEMA = 1001,       /* the message does not validate */
  X1_ERR_UNKNOWN_XID = 1002,  /* no task with that XID */
  X1_ERR_XID_EXISTS = 1003,   /* activating an XID that is active */
  X1_ERR_NOT_AUTHORISED = 1004,
};

#endif
