/* api/ is lisecd's HTTPS transport: TLS with mandatory client certificates,
 * the role each certificate carries, the route table with the roles every
 * route admits, bounded bodies, JSON errors and Prometheus metrics. Handlers
 * are thin: they parse the request and call one ctl/ use case. */
#ifndef LISEC_API_H
#define LISEC_API_H

#include <openssl/x509.h>
#include <stdbool.h>

#include "ctl/ctl.h"

/* Roles, as bits so a route lists the ones it admits. */
enum {
  API_ROLE_OPERATOR = 1u << 0,
  API_ROLE_LI_ADMIN = 1u << 1,
  API_ROLE_HV_ADMIN = 1u << 2,
  API_ROLE_HOST = 1u << 3,
  API_ROLE_MANO = 1u << 4,
  API_ROLE_AUDITOR = 1u << 5,
  API_ROLE_TENANT = 1u << 6,
  API_ROLE_ANY = (1u << 7) - 1,
};

#define API_ROLE_NAME_MAX 80
#define API_SUBJECT_MAX 256

/* Where a certificate carries its role. */
typedef enum { API_ROLE_FROM_SAN_URI, API_ROLE_FROM_OU } api_role_source;

typedef struct api_principal {
  char subject[API_SUBJECT_MAX];
  char role[API_ROLE_NAME_MAX]; /* "operator", ..., "tenant:<name>" */
  unsigned role_bit;
} api_principal;

/* Reads the role from a verified client certificate: a SAN URI
 * "urn:lisec:role:<role>" or the subject OU. EAUTH when it carries no role,
 * more than one, or an unknown one. */
int api_principal_from_cert(X509 *cert, api_role_source src, api_principal *out, lisec_err *err);
/* "operator" -> API_ROLE_OPERATOR, "tenant:x" -> API_ROLE_TENANT; 0 if unknown. */
unsigned api_role_bit(const char *role);
/* "operator, auditor" for an error message. */
void api_roles_describe(unsigned roles, char *out, size_t len);

#define API_MAX_PARAMS 4

typedef struct api_request {
  const char *method;
  const char *path;
  const char *params[API_MAX_PARAMS]; /* {id} segments of the path, in order */
  size_t n_params;
  const char *query; /* after '?', or NULL */
  json_t *body;      /* parsed JSON body for routes that take one */
} api_request;

typedef struct api_response {
  int status;
  json_t *body;             /* JSON reply (owned), or */
  char *text;               /* a text reply (owned, malloc'd) */
  const char *content_type; /* for text */
} api_response;

typedef int (*api_handler)(lisec_ctl *ctl, const ctl_actor *actor, const api_request *req,
                           api_response *resp);

typedef struct api_route {
  const char *method;
  const char *pattern; /* "/v1/hosts/{id}" */
  unsigned roles;      /* API_ROLE_* admitted */
  bool takes_body;     /* a JSON body is required */
  api_handler handler;
  /* When set, a refused role is recorded in the audit log under this action
   * (sealed to the LI administration): attempts on LI data leave a trace. */
  const char *audit_denied;
} api_route;

/* Sets resp to a JSON error {"error":{"code","message"[,"requirement"]}}. */
void api_error(api_response *resp, int status, const char *code, const char *message);
/* Maps a LISEC_E* failure of a use case to its HTTP status and JSON error. */
void api_error_from(api_response *resp, int rc, const lisec_err *err);

/* Finds the route, checks the role, parses a bounded JSON body and calls the
 * handler. Pure with respect to transport, so tests call it directly. The
 * route index (for metrics) goes to *route_index, -1 when none matched. */
void api_dispatch(lisec_ctl *ctl, const api_principal *who, const char *method, const char *uri,
                  const char *body, size_t body_len, api_response *resp, int *route_index);
void api_response_free(api_response *resp);

/* The route table (routes.c): all topics' routes, *n of them. */
const api_route *api_route_table(size_t *n);

/* ---- metrics ------------------------------------------------------------ */

void api_metrics_record(int route_index, int status, uint64_t duration_ns);
void api_metrics_cert_rejected(void);
/* Prometheus text exposition format; malloc'd. */
char *api_metrics_render(int64_t uptime_s);

/* ---- the server --------------------------------------------------------- */

typedef struct api_server_config {
  const char *listen;     /* "127.0.0.1:8443" or "[::1]:8443" */
  const char *cert, *key; /* server certificate and key (PEM) */
  const char *client_ca;  /* CA bundle that client certificates must chain to */
  api_role_source role_source;
  size_t max_body;
  int workers;
} api_server_config;

typedef struct api_server api_server;

/* Binds the listening socket and starts cfg->workers threads, each with its
 * own event loop and controller context. */
int api_server_start(const api_server_config *cfg, ctl_shared *shared, api_server **out,
                     lisec_err *err);
/* Graceful stop, callable from any thread: stop accepting, let requests in
 * flight finish (their transactions commit or roll back whole), then exit. */
void api_server_stop(api_server *srv);
/* Waits for the workers to exit and frees everything. */
void api_server_wait_and_free(api_server *srv);

#endif
