/* The messages between lisecd's front and its controller (issue 16), on one
 * socketpair per API worker, framed by ipc/: the front sends each admitted
 * request, the controller answers it by the same id, and any number of
 * requests are in flight on a channel at once (replies come back in the
 * order they are decided, not the order asked). Each side decodes what the
 * other sends with every field bounded: the front may be the process a
 * parser bug took over, and the controller must not trust it further than
 * a client. */
#ifndef LISEC_API_WIRE_H
#define LISEC_API_WIRE_H

#include <event2/buffer.h>
#include <stdint.h>

#include "api/api.h"
#include "api/tls.h"
#include "ipc/ipc.h"

typedef enum {
  API_MSG_REQUEST = 1, /* front -> controller: an admitted request */
  API_MSG_REPLY = 2,   /* controller -> front: its answer, same id */
  API_MSG_CANCEL = 3,  /* front -> controller: the client of request id left */
  API_MSG_STOP = 4,    /* front -> controller: lisecd stops; answer what waits now */
  API_MSG_TLS = 5,     /* parent -> front (its own channel): TLS material to serve new connections with */
  API_MSG_READY = 6,   /* front -> controller: /readyz of the probe listener; a reply by id */
} api_msg_type;

#define API_METHOD_MAX 16       /* longest method name + 1 */
#define API_CONTENT_TYPE_MAX 64 /* longest reply content type + 1 */
/* A reply body fits in one message with its other fields. */
#define API_WIRE_REPLY_MAX (IPC_PAYLOAD_MAX - 4096u)

/* A request as the controller receives it; body points into the payload. */
typedef struct api_wire_request {
  uint32_t route; /* the front's route index (the controller matches again) */
  api_principal who;
  char method[API_METHOD_MAX];
  char uri[API_URI_MAX + 1];
  /* The request's id (X-Request-Id, or one the front made): the
   * controller's log lines about it carry it (docs/operations.md, "Logs"). */
  char request_id[LISEC_REQUEST_ID_MAX];
  /* The If-Match header, printable ("" when absent, "!" when longer than
   * API_ETAG_MAX - 1: the route refuses it as malformed). */
  char if_match[API_ETAG_MAX];
  const uint8_t *body; /* compact JSON, or NULL when body_len is 0 */
  size_t body_len;
} api_wire_request;

/* A reply as it goes to the client: the rendered body and its headers. */
typedef struct api_wire_reply {
  int status;
  char content_type[API_CONTENT_TYPE_MAX]; /* "" when there is no body */
  char allow[64];
  char retry_after[12];
  char etag[API_ETAG_MAX]; /* "" or '"' digits '"' */
  const uint8_t *body; /* points into the payload (decode) or the caller's bytes (encode) */
  size_t body_len;
} api_wire_reply;

/* A handler's response as it goes out: a JSON body rendered compact with
 * a closing newline (into *owned, malloc'd, the caller frees it), a text
 * body pointed to. ENOMEM when the JSON cannot be rendered. */
int api_wire_reply_render(const api_response *resp, api_wire_reply *out, char **owned);

/* Encoders fill w (initialised here with the channel's bound); EINVAL
 * when a field is over its bound, nothing to send then. */
int api_wire_request_encode(ipc_writer *w, const api_wire_request *r, size_t max_body, lisec_err *err);
int api_wire_reply_encode(ipc_writer *w, const api_wire_reply *r, lisec_err *err);

/* Decoders check every field: the role a known one whose bit matches,
 * the method upper-case letters, the URI a path of printable ASCII, the
 * request id one lisec_request_id_valid admits, the body within max_body; the status 100-599, the header values printable
 * without CR or LF, the retry-after digits. EINVAL naming the field. */
int api_wire_request_decode(const uint8_t *payload, size_t len, size_t max_body,
                            api_wire_request *out, lisec_err *err);
int api_wire_reply_decode(const uint8_t *payload, size_t len, api_wire_reply *out, lisec_err *err);

/* API_MSG_TLS: the [tls] files' bytes, in the order cert, key, client_ca,
 * crl (empty: none), each at most max_file ([tls] max_file_bytes). The
 * decoder refuses an empty cert, key or client_ca and a field over
 * max_file; out points into the payload (not owned). What the bytes hold
 * is judged by api_tls_ctx_new, as the parent did before sending them. */
uint32_t api_wire_tls_max(size_t max_file);
int api_wire_tls_encode(ipc_writer *w, const api_tls_material *m, size_t max_file, lisec_err *err);
int api_wire_tls_decode(const uint8_t *payload, size_t len, size_t max_file, api_tls_material *out,
                        lisec_err *err);

/* The payload bound of a channel whose requests carry at most max_body. */
uint32_t api_wire_channel_max(size_t max_body);

/* Appends header and payload to out (a bufferevent's output). */
int api_wire_queue(struct evbuffer *out, uint16_t type, uint32_t id, const ipc_writer *payload,
                   lisec_err *err);
/* Takes one whole message from in when it holds one: 1 with *h and
 * *payload (malloc'd, ipc_payload_free) set, 0 when more bytes are needed,
 * or an error for a header that does not decode or is over max. */
int api_wire_take(struct evbuffer *in, uint32_t max, ipc_header *h, uint8_t **payload,
                  lisec_err *err);

/* ---- requests in flight, by id ---------------------------------------------
 * The front keeps what it needs to answer each forwarded request under the
 * id the reply will carry. An id names a slot and that slot's use count, so
 * a reply for an id never given, already answered or given out again
 * finds nothing. */
typedef struct api_wire_slot {
  uint32_t id;  /* 0 when free */
  uint32_t gen; /* uses so far (the id's upper bits) */
  void *data;
} api_wire_slot;

typedef struct api_wire_pending {
  api_wire_slot *slots;
  uint32_t n_slots, n_used;
  uint32_t *free_list; /* free slot indexes */
  uint32_t n_free;
} api_wire_pending;

#define API_WIRE_SLOTS_MAX (1u << 20)

void api_wire_pending_init(api_wire_pending *t);
void api_wire_pending_free(api_wire_pending *t);
/* The id under which data is kept (never 0); ENOMEM or ETOOBIG when full. */
int api_wire_pending_add(api_wire_pending *t, void *data, uint32_t *id, lisec_err *err);
/* Removes and returns the data of id; NULL (and ENOTFOUND in err) when no
 * request in flight has that id. */
void *api_wire_pending_take(api_wire_pending *t, uint32_t id, lisec_err *err);
/* The data of id without removing it, or NULL. */
void *api_wire_pending_get(const api_wire_pending *t, uint32_t id);

#endif
