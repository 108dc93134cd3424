/* api/ is lisecd's HTTPS transport: TLS with mandatory client certificates,
 * the role each certificate carries, the route table with the roles every
 * route admits, bounded bodies, JSON errors and Prometheus metrics. Handlers
 * are thin: they parse the request and call one ctl/ use case.
 *
 * Adding routes needs no shared edit. A topic writes src/api/routes_<topic>.c
 * (topic in [a-z0-9_]) that defines
 *
 *     const api_route api_routes_<topic>[] = {
 *         {"GET", "/v1/things/{id}", API_ROLE_OPERATOR | API_ROLE_AUDITOR, false, get_thing, NULL},
 *         {0},   // a zeroed entry ends the group
 *     };
 *
 * src/api/CMakeLists.txt globs routes_*.c (CONFIGURE_DEPENDS, so a new file
 * is picked up by the next build) and generates the table of groups from the
 * file names (route_groups.c.in); api_route_table() joins the groups in file
 * name order. api_routes_check() refuses duplicates and malformed entries
 * when lisecd starts, and test_api runs it too. */
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
  /* A scraper's certificate (role "metrics"): GET /metrics and nothing else,
   * so it is outside API_ROLE_ANY (routes open to every role that uses
   * lisec, such as /v1/status, do not admit it). */
  API_ROLE_METRICS = 1u << 7,
  /* An LI VM: posts its signed events (routes_events.c), nothing else; outside
   * API_ROLE_ANY like metrics. */
  API_ROLE_VM = 1u << 8,
  /* The RD administration (issue 20): retention obligations and their
   * keys, as li-admin administers LI. Above METRICS and VM so no bit
   * moves, and outside API_ROLE_ANY too: it uses the Retained Data routes
   * and the compliance report, each of which names it. */
  API_ROLE_RD_ADMIN = 1u << 9,
  API_ROLE_ANY = (1u << 7) - 1,
};

#define API_ROLE_NAME_MAX 80
#define API_SUBJECT_MAX 256
#define API_CERT_SHA256_LEN 64
#define API_CERT_SERIAL_MAX 48 /* 20 bytes in hex, and room */

/* Where a certificate carries its role. */
typedef enum { API_ROLE_FROM_SAN_URI, API_ROLE_FROM_OU } api_role_source;

typedef struct api_principal {
  char subject[API_SUBJECT_MAX];
  char role[API_ROLE_NAME_MAX]; /* "operator", ..., "tenant:<name>" */
  unsigned role_bit;
  /* The certificate itself, so the controller can refuse one it revoked
   * (a de-enrolled host's, docs/attestation.md): lower-case hex SHA-256 of
   * its DER, its serial in upper-case hex, its issuer (RFC 2253). */
  char cert_sha256[API_CERT_SHA256_LEN + 1];
  char cert_serial[API_CERT_SERIAL_MAX];
  char cert_issuer[API_SUBJECT_MAX];
} api_principal;

/* Reads the role from a verified client certificate: a SAN URI
 * "urn:lisec:role:<role>" or the subject OU. EAUTH when it carries no role,
 * more than one, or an unknown one. */
int api_principal_from_cert(X509 *cert, api_role_source src, api_principal *out, lisec_err *err);
/* "operator" -> API_ROLE_OPERATOR, "tenant:x" -> API_ROLE_TENANT; 0 if unknown. */
unsigned api_role_bit(const char *role);
/* The controller's typed role for a role bit (CTL_ROLE_NONE for none). */
ctl_role api_role_kind(unsigned role_bit);
/* "operator, auditor" for an error message. */
void api_roles_describe(unsigned roles, char *out, size_t len);

#define API_MAX_PARAMS 4
#define API_URI_MAX 2048 /* longest request URI, path and query */
/* An entity tag and an If-Match value: '"' 19 digits '"' fit, with room. */
#define API_ETAG_MAX 32

/* What a handler sees of the request. */
typedef struct api_request {
  const char *method;
  const char *path;
  const char *params[API_MAX_PARAMS]; /* {id} segments of the path, in order */
  size_t n_params;
  const char *query; /* after '?', or NULL */
  json_t *body;      /* parsed JSON body for routes that take one */
  const char *raw;   /* the body as sent, for routes that take XML (api_route_takes_xml) */
  size_t raw_len;
  /* The If-Match header as sent (at most API_ETAG_MAX - 1 bytes; "!" when
   * it was longer), or NULL: the model's writes read it (routes_model.c). */
  const char *if_match;
} api_request;

typedef struct api_response {
  int status;
  json_t *body;             /* JSON reply (owned), or */
  char *text;               /* a text reply (owned, malloc'd) */
  const char *content_type; /* for text */
  char allow[64];           /* with 405: the methods the path takes ("GET, POST") */
  char retry_after[12];     /* with 429: seconds until the client may try again */
  char etag[API_ETAG_MAX];  /* "\"<version>\"": a model entity's stored version (ETag) */
  /* No answer yet: the use case waits for fresh attestations (ctl->wait,
   * ctl/attest.h); the transport parks the request and dispatches it again
   * when they arrived or the bound passed. */
  bool pending;
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
   * (sealed to the LI administration when roles is API_ROLE_LI_ADMIN alone):
   * attempts on LI data and on the log itself leave a trace. */
  const char *audit_denied;
} api_route;

/* Query parameters (src/api/query.c). *present says whether the name was
 * given; a malformed value is EINVAL naming the parameter. Strings hold only
 * letters, digits and -_.: and fit in cap - 1 characters; numbers are
 * decimal without leading zeros; a name given twice is refused. */
int api_query_str(const api_request *req, const char *name, char *out, size_t cap, bool *present,
                  lisec_err *err);
int api_query_u64(const api_request *req, const char *name, uint64_t max, uint64_t *out,
                  bool *present, lisec_err *err);

/* Sets resp to a JSON error {"error":{"code","message"[,"requirement"]}}. */
void api_error(api_response *resp, int status, const char *code, const char *message);
/* A handler's usual ending: the use case's failure mapped (rc != 0), or
 * its JSON reply with status. Returns 0, what a handler returns. */
int api_reply(api_response *resp, int rc, const lisec_err *err, json_t *out, int status);
/* Maps a LISEC_E* failure of a use case to its HTTP status and JSON error. */
void api_error_from(api_response *resp, int rc, const lisec_err *err);

/* A request as the transport received it. */
typedef struct api_raw_request {
  const char *method;
  const char *uri;  /* origin form: path, then ?query */
  const char *body; /* body_len bytes; may be NULL when body_len is 0 */
  size_t body_len;
  size_t max_body;  /* [api] max_body: a longer body is refused (413) */
  const char *if_match; /* the If-Match header, or NULL (api_request) */
} api_raw_request;

/* The whole request pipeline without the transport, so tests call it
 * directly: body size (413), route (404, 405), role (403 naming the roles
 * the route admits), JSON body (400 naming line and column), the handler,
 * and its failure mapped to a status. *route_index (for metrics) is -1 when
 * no route matched. */
void api_dispatch(lisec_ctl *ctl, const api_principal *who, const api_raw_request *in,
                  api_response *resp, int *route_index);
/* The same against a given table (tests use their own routes). */
void api_dispatch_routes(const api_route *routes, size_t n_routes, lisec_ctl *ctl,
                         const api_principal *who, const api_raw_request *in, api_response *resp,
                         int *route_index);
void api_response_free(api_response *resp);

/* The front's part of the pipeline (lisecd's front process, which holds no
 * controller): body size (413), URI (400, also for bytes that are not
 * printable ASCII), route (404, 405, 400 for a path segment that is no
 * id), and for a role the route admits the JSON body (400 naming line and
 * column). Returns 1 when the request goes on to the controller, with
 * *body the body re-serialised as compact JSON (malloc'd; NULL when the
 * route takes none or the role is refused, which the controller answers
 * and records); 0 when resp holds the answer. */
int api_admit(const api_principal *who, const api_raw_request *in, api_response *resp,
              int *route_index, char **body, size_t *body_len);
int api_admit_routes(const api_route *routes, size_t n_routes, const api_principal *who,
                     const api_raw_request *in, api_response *resp, int *route_index, char **body,
                     size_t *body_len);
/* Whether the front adds its own counters to the route's reply (GET
 * /metrics: the front sees every reply, so the HTTP and TLS counters live
 * there; the controller renders the domain metrics). Its handler renders
 * the front's part when ctl is NULL. */
bool api_route_is_front(const api_route *route);
/* Whether the route's body is XML (X1 from an NE), not JSON: passed as
 * sent, in req->raw, for the handler's own bounded parser (routes_x1.c). */
bool api_route_takes_xml(const api_route *route);

#define API_ROUTES_MAX 128

/* The route table: every topic's group, joined in file name order. */
const api_route *api_route_table(size_t *n);
/* Refuses a table that overflowed API_ROUTES_MAX, an entry without method,
 * pattern, handler or roles, a pattern not starting with '/', or two routes
 * with the same method and pattern (EINVAL, naming it). */
int api_routes_check(const api_route *routes, size_t n, lisec_err *err);
/* true when the groups held more than API_ROUTES_MAX routes. */
bool api_route_table_overflowed(void);

/* ---- metrics ------------------------------------------------------------ */

void api_metrics_record(int route_index, int status, uint64_t duration_ns);
/* TLS handshakes completed, failed, and client certificates refused. */
void api_metrics_handshake(bool ok);
void api_metrics_cert_rejected(void);
/* Connections refused or closed by the server's limits: at the connection
 * cap, by the TLS handshake deadline, accept() failures, and past a
 * client's own limit. */
typedef enum {
  API_CONN_REFUSED_AT_CAP,
  API_CONN_EVICTED,
  API_CONN_HANDSHAKE_TIMEOUT,
  API_CONN_ACCEPT_ERROR,
  API_CONN_CLIENT_CAP, /* refused: its certificate held [server] max_client_connections */
  API_CONN_N
} api_conn_event;
void api_metrics_conn(api_conn_event what);
void api_metrics_conn_open(int delta);
/* A refusal answered 429 by the per-certificate limit instead of being recorded. */
void api_metrics_refusal_limited(void);
/* Whether a route is about LI (the LI administration's alone, or under the
 * LI, target, vault, X1 or task paths): its counts are shown only to the
 * LI administration. */
bool api_route_is_li(const api_route *route);
/* Whether log lines about a request withhold its route (API_LOG_WITHHELD
 * in its place), method and status: an LI route's request or any of the
 * LI administration's (route may be NULL: unmatched). The log is the
 * operator's to read, and such lines would tell how often targets or LI
 * authorisations were added or LI VMs paired, which /metrics shows the LI
 * administration only (TR 103 308 §4.1). */
#define API_LOG_WITHHELD "(LI)"
bool api_request_withheld(const api_route *route, const char *role);
/* Prometheus text exposition format; malloc'd. Per-route counts of LI
 * routes appear only when li_view (the reader is li-admin); others see
 * them summed in one unlabelled counter. */
char *api_metrics_render(int64_t uptime_s, bool li_view);
/* The whole /metrics text: the controller's part (ctl_text, ctl_len bytes)
 * followed by this process's API counters; malloc'd, NUL-terminated, its
 * length in *out_len; NULL when out of memory. */
char *api_metrics_join(const char *ctl_text, size_t ctl_len, bool li_view, size_t *out_len);
/* Seconds since the process that counts (the front) started serving:
 * api_metrics_start, called by api_server_start. */
void api_metrics_start(void);
int64_t api_metrics_uptime_seconds(void);

/* ---- refusal rate limit (src/api/ratelimit.c) ---------------------------- */

/* Refusals that leave an audit record cost a sealed, fsync'd write: each
 * client certificate (role and subject) has a token bucket of `burst`
 * refusals refilled at `per_s` per second; the table holds at most
 * `clients` certificates (the least recently refused is forgotten first).
 * per_s = 0 turns the limit off. */
void api_ratelimit_configure(unsigned per_s, unsigned burst, unsigned clients);
/* true when who may have one more refusal recorded now; otherwise false and
 * *retry_after_s says when the next one will be. */
bool api_ratelimit_take(const api_principal *who, unsigned *retry_after_s);
/* The same without spending: a handler may record its own refusal (routes
 * open to every role whose use case refuses after loading), so a client
 * with no refusal left is answered 429 before any handler runs. */
bool api_ratelimit_allows(const api_principal *who, unsigned *retry_after_s);

/* ---- the server (lisecd's front process) ---------------------------------- */

typedef struct api_server_config {
  const char *listen;     /* "127.0.0.1:8443" or "[::1]:8443" */
  const char *cert, *key; /* server certificate and key (PEM) */
  const char *client_ca;  /* CA bundle that client certificates must chain to */
  const char *crl;        /* PEM CRLs of those CAs, or NULL: no revocation check (tls.h) */
  size_t tls_file_max;    /* [tls] max_file_bytes (0: API_TLS_FILE_MAX_DEFAULT) */
  api_role_source role_source;
  size_t max_body;
  int workers;
  /* Open client connections at most (0: as many as RLIMIT_NOFILE allows
   * after a reserve, up to 4096); at the cap the oldest connection still in
   * its TLS handshake is closed, or a new one refused. */
  int max_connections;
  /* Open connections of one client certificate at most (0: a quarter of the
   * cap); past it a connection's first request is answered 429. More than
   * the cap is refused at start. */
  int max_client_connections;
  int handshake_timeout_ms; /* a connection not through TLS by then is closed */
  int idle_timeout_s;       /* one that completes no request for this long is closed (0: 60) */
  size_t max_header_bytes;  /* a request's line and header fields at most (0: 8192; more is 431) */
  /* Bytes of request bodies not yet all received, over every connection,
   * at most (0: 64 MiB); a request whose body would take the total past it
   * is answered 503 with Retry-After. */
  size_t max_body_memory;
  /* A connection closed after a request refused unread (its body not read:
   * 413, 503, 429, a framing refusal) first reads and drops what its client
   * still sends, for at most linger_ms (0: it closes at once) and
   * linger_bytes (0: 4 MiB), so the close does not reset the answer away
   * (server.c, "lingering close"). */
  int linger_ms;
  size_t linger_bytes;
  /* [probe] listen: plain HTTP /healthz and /readyz without client
   * certificates (server.c, "the probe listener"); NULL: none. */
  const char *probe_listen;
  int probe_max_connections; /* [probe] max_connections: open at most (0: 64; the least active goes) */
  int probe_idle_timeout_s;  /* [probe] idle_timeout_s (0: 5) */
  unsigned refusal_rate, refusal_burst, refusal_clients; /* api_ratelimit_configure */
  /* Called once, on a worker's thread, when a channel to the controller
   * closes or breaks the protocol: lisecd cannot serve any more. */
  void (*on_channel_lost)(void *arg);
  void *on_channel_lost_arg;
  /* [server] bulk_channels, bulk_nice: the controller's threads for bulk
   * work (api_route_is_bulk) and their nice value (api/backend.c). */
  int bulk_channels, bulk_nice;
  /* [server] bulk_workers: front workers, at bulk_nice, that serve hosts'
   * connections (their reports), each with a channel of its own after the
   * request workers' (server.c, "handshakes and bulk workers"); 0: none. */
  int bulk_workers;
  /* [server] request_slice_us: the scheduling slice of the request workers
   * and channels (lisec_thread_slice); 0: the kernel's. */
  unsigned request_slice_us;
} api_server_config;

typedef struct api_server api_server;

/* What --check-config can know without binding: the route table, the listen
 * address, and that the TLS certificate, key and client CA load and match. */
int api_server_check(const api_server_config *cfg, lisec_err *err);

/* Loads TLS, binds the listening socket and prepares cfg->workers event
 * loops, worker i with channels[i] to the controller (taken: closed with
 * the server, or here on failure). No thread runs yet, so the caller can
 * drop privileges before api_server_run. */
int api_server_open(const api_server_config *cfg, const int *channels, api_server **out,
                    lisec_err *err);
/* Starts the workers' threads. */
int api_server_run(api_server *srv, lisec_err *err);
/* Graceful stop, callable from any thread: stop accepting, tell the
 * controller, let requests in flight get their replies, then exit. */
void api_server_stop(api_server *srv);
/* Whether a channel to the controller was lost (the front then exits non-zero). */
bool api_server_channel_lost(const api_server *srv);
/* Waits for the workers to exit and frees everything. */
void api_server_wait_and_free(api_server *srv);

/* ---- the controller's side (src/api/backend.c) ---------------------------- */

typedef struct api_backend api_backend;

/* Serves the front's requests on channels (taken), one thread and event loop
 * per channel, each with its own controller context (ctl_open_worker of
 * ctl, which must outlive the backend): api_dispatch with the request's
 * wait for fresh quotes, parking what waits. max_body bounds a request's
 * body as the front's [api] max_body does. */
int api_backend_open(lisec_ctl *ctl, const int *channels, int n, size_t max_body,
                     api_backend **out, lisec_err *err);
/* Before api_backend_run: bulk requests (api_route_is_bulk) go to n_bulk
 * threads of their own (0: none, they run on the channels' threads), each
 * lowering its CPU priority to nice (0-19) when it starts. */
int api_backend_set_bulk(api_backend *b, int n_bulk, int nice, lisec_err *err);
/* [server] request_slice_us for the request channels' threads; call before
 * the threads start. */
void api_backend_set_request_slice(api_backend *b, unsigned slice_us);
/* Whether a route's requests are bulk work (api/bulk.c): heavy, and not a
 * decision nor anything a decision waits for except a host's report. */
bool api_route_is_bulk(const char *method, const char *pattern);
#define API_BULK_CHANNELS_MAX 8
int api_backend_run(api_backend *b, lisec_err *err);
/* Stops serving (callable from any thread); what waits is answered 503. */
void api_backend_stop(api_backend *b);
void api_backend_wait_and_free(api_backend *b);

#endif
