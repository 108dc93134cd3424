/* The front <-> controller messages (wire.h): their encoders and bounded
 * decoders, framing on a libevent buffer, and the front's table of
 * requests in flight by id. A decoder refuses a field that could not have
 * come from a well-behaved peer (an unknown role, a header value with a
 * line break, a status outside HTTP's range), so a taken-over front cannot
 * pass the controller more than a client could, nor a controller inject
 * headers into a reply. */
#include <stdlib.h>
#include <string.h>

#include "api/wire.h"

#define REPLY_FIELDS_MAX 256 /* the reply's fields besides its body */

uint32_t api_wire_channel_max(size_t max_body) {
  uint64_t m = (uint64_t)max_body + API_URI_MAX + 2 * API_SUBJECT_MAX + API_ROLE_NAME_MAX +
               API_CERT_SHA256_LEN + API_CERT_SERIAL_MAX +
               LISEC_REQUEST_ID_MAX + 256;
  if (m < API_WIRE_REPLY_MAX + REPLY_FIELDS_MAX) m = API_WIRE_REPLY_MAX + REPLY_FIELDS_MAX;
  return m > IPC_PAYLOAD_MAX ? IPC_PAYLOAD_MAX : (uint32_t)m;
}

/* Printable ASCII only: what may go into an HTTP header or a log line. */
static bool printable(const char *s) {
  for (; *s; s++)
    if (*s < 0x20 || *s > 0x7e) return false;
  return true;
}

static bool method_ok(const char *m) {
  if (!m[0]) return false;
  for (; *m; m++)
    if (*m < 'A' || *m > 'Z') return false;
  return true;
}

/* Empty, or only characters of set (exactly len of them when len > 0). */
static bool hex_or_empty(const char *s, const char *set, size_t len) {
  size_t n = strlen(s);
  if (n == 0) return true;
  if (len && n != len) return false;
  return strspn(s, set) == n;
}

static bool digits(const char *s) {
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

/* "" or a strong entity tag of digits: '"' 1-19 digits '"' (a version). */
static bool etag_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0) return true;
  if (n < 3 || n > 21 || s[0] != '"' || s[n - 1] != '"') return false;
  return strspn(s + 1, "0123456789") == n - 2;
}

int api_wire_request_encode(ipc_writer *w, const api_wire_request *r, size_t max_body, lisec_err *err) {
  ipc_writer_init(w, api_wire_channel_max(max_body));
  if (r->body_len > max_body || strlen(r->uri) > API_URI_MAX || !method_ok(r->method) ||
      !lisec_request_id_valid(r->request_id, strnlen(r->request_id, sizeof r->request_id)))
    return lisec_err_set(err, LISEC_EINVAL,
                         "request message: body, URI, method or request id over its bound");
  ipc_put_u32(w, r->route);
  ipc_put_str(w, r->who.subject);
  ipc_put_str(w, r->who.role);
  ipc_put_u32(w, r->who.role_bit);
  ipc_put_str(w, r->who.cert_sha256);
  ipc_put_str(w, r->who.cert_serial);
  ipc_put_str(w, r->who.cert_issuer);
  ipc_put_str(w, r->method);
  ipc_put_str(w, r->uri);
  ipc_put_str(w, r->request_id);
  ipc_put_str(w, r->if_match);
  ipc_put_bytes(w, r->body, r->body_len);
  if (w->failed) return lisec_err_set(err, LISEC_EINVAL, "request message: over the channel's bound");
  return 0;
}

int api_wire_request_decode(const uint8_t *payload, size_t len, size_t max_body,
                            api_wire_request *out, lisec_err *err) {
  ipc_reader r;
  memset(out, 0, sizeof *out);
  ipc_reader_init(&r, payload, len);
  out->route = ipc_get_u32(&r);
  ipc_get_str(&r, out->who.subject, sizeof out->who.subject);
  ipc_get_str(&r, out->who.role, sizeof out->who.role);
  out->who.role_bit = ipc_get_u32(&r);
  ipc_get_str(&r, out->who.cert_sha256, sizeof out->who.cert_sha256);
  ipc_get_str(&r, out->who.cert_serial, sizeof out->who.cert_serial);
  ipc_get_str(&r, out->who.cert_issuer, sizeof out->who.cert_issuer);
  ipc_get_str(&r, out->method, sizeof out->method);
  ipc_get_str(&r, out->uri, sizeof out->uri);
  ipc_get_str(&r, out->request_id, sizeof out->request_id);
  ipc_get_str(&r, out->if_match, sizeof out->if_match);
  ipc_get_bytes(&r, max_body, &out->body, &out->body_len);
  int rc = ipc_reader_done(&r, "request", err);
  if (rc) return rc;
  if (out->route >= API_ROUTES_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "request message: route %u out of range", out->route);
  /* The bit must be the role's: the controller admits by the bit. */
  if (!out->who.role_bit || api_role_bit(out->who.role) != out->who.role_bit)
    return lisec_err_set(err, LISEC_EINVAL, "request message: role and role bit disagree");
  /* the certificate's identity: what roles.c renders, or nothing */
  if (!hex_or_empty(out->who.cert_sha256, "0123456789abcdef", API_CERT_SHA256_LEN) ||
      !hex_or_empty(out->who.cert_serial, "0123456789ABCDEF-", 0) || !printable(out->who.cert_issuer))
    return lisec_err_set(err, LISEC_EINVAL, "request message: certificate hash, serial or issuer malformed");
  if (!method_ok(out->method))
    return lisec_err_set(err, LISEC_EINVAL, "request message: method not upper-case letters");
  if (out->uri[0] != '/' || !printable(out->uri))
    return lisec_err_set(err, LISEC_EINVAL, "request message: URI not a path of printable ASCII");
  if (!lisec_request_id_valid(out->request_id, strlen(out->request_id)))
    return lisec_err_set(err, LISEC_EINVAL,
                         "request message: request id not 1-64 of A-Z a-z 0-9 - _ . :");
  if (!printable(out->if_match))
    return lisec_err_set(err, LISEC_EINVAL, "request message: If-Match not printable ASCII");
  if (out->body_len == 0) out->body = NULL;
  return 0;
}

int api_wire_reply_encode(ipc_writer *w, const api_wire_reply *r, lisec_err *err) {
  ipc_writer_init(w, API_WIRE_REPLY_MAX + REPLY_FIELDS_MAX);
  if (r->body_len > API_WIRE_REPLY_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "reply message: body of %zu bytes over the bound of %u",
                         r->body_len, API_WIRE_REPLY_MAX);
  ipc_put_u32(w, (uint32_t)r->status);
  ipc_put_str(w, r->content_type);
  ipc_put_str(w, r->allow);
  ipc_put_str(w, r->retry_after);
  ipc_put_str(w, r->etag);
  ipc_put_bytes(w, r->body, r->body_len);
  if (w->failed) return lisec_err_set(err, LISEC_EINVAL, "reply message: over the channel's bound");
  return 0;
}

int api_wire_reply_decode(const uint8_t *payload, size_t len, api_wire_reply *out, lisec_err *err) {
  ipc_reader r;
  memset(out, 0, sizeof *out);
  ipc_reader_init(&r, payload, len);
  uint32_t status = ipc_get_u32(&r);
  ipc_get_str(&r, out->content_type, sizeof out->content_type);
  ipc_get_str(&r, out->allow, sizeof out->allow);
  ipc_get_str(&r, out->retry_after, sizeof out->retry_after);
  ipc_get_str(&r, out->etag, sizeof out->etag);
  ipc_get_bytes(&r, API_WIRE_REPLY_MAX, &out->body, &out->body_len);
  int rc = ipc_reader_done(&r, "reply", err);
  if (rc) return rc;
  if (status < 100 || status > 599)
    return lisec_err_set(err, LISEC_EINVAL, "reply message: status %u outside 100-599", status);
  out->status = (int)status;
  if (!printable(out->content_type) || !printable(out->allow) || !digits(out->retry_after) ||
      !etag_ok(out->etag))
    return lisec_err_set(err, LISEC_EINVAL,
                         "reply message: a header value that is not printable ASCII (or digits)");
  if (out->body_len && !out->content_type[0])
    return lisec_err_set(err, LISEC_EINVAL, "reply message: a body without a content type");
  if (out->body_len == 0) out->body = NULL;
  return 0;
}

/* ---- TLS material (parent -> front) -------------------------------------- */

uint32_t api_wire_tls_max(size_t max_file) {
  uint64_t m = 4 * (uint64_t)max_file + 64;
  return m > IPC_PAYLOAD_MAX ? IPC_PAYLOAD_MAX : (uint32_t)m;
}

int api_wire_tls_encode(ipc_writer *w, const api_tls_material *m, size_t max_file, lisec_err *err) {
  ipc_writer_init(w, api_wire_tls_max(max_file));
  if (!m->cert_len || !m->key_len || !m->ca_len)
    return lisec_err_set(err, LISEC_EINVAL, "TLS message: cert, key and client_ca are required");
  if (m->cert_len > max_file || m->key_len > max_file || m->ca_len > max_file || m->crl_len > max_file)
    return lisec_err_set(err, LISEC_ETOOBIG, "TLS message: a file over [tls] max_file_bytes (%zu)", max_file);
  ipc_put_bytes(w, m->cert, m->cert_len);
  ipc_put_bytes(w, m->key, m->key_len);
  ipc_put_bytes(w, m->ca, m->ca_len);
  ipc_put_bytes(w, m->crl, m->crl_len);
  if (w->failed) return lisec_err_set(err, LISEC_EINVAL, "TLS message: over the channel's bound");
  return 0;
}

int api_wire_tls_decode(const uint8_t *payload, size_t len, size_t max_file, api_tls_material *out,
                        lisec_err *err) {
  ipc_reader r;
  memset(out, 0, sizeof *out);
  ipc_reader_init(&r, payload, len);
  ipc_get_bytes(&r, max_file, &out->cert, &out->cert_len);
  ipc_get_bytes(&r, max_file, &out->key, &out->key_len);
  ipc_get_bytes(&r, max_file, &out->ca, &out->ca_len);
  ipc_get_bytes(&r, max_file, &out->crl, &out->crl_len);
  int rc = ipc_reader_done(&r, "TLS", err);
  if (rc == 0 && (!out->cert_len || !out->key_len || !out->ca_len))
    rc = lisec_err_set(err, LISEC_EINVAL, "TLS message: an empty cert, key or client_ca");
  if (rc) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  if (!out->crl_len) out->crl = NULL;
  return 0;
}

int api_wire_queue(struct evbuffer *out, uint16_t type, uint32_t id, const ipc_writer *payload,
                   lisec_err *err) {
  uint32_t len = payload ? (uint32_t)payload->buf.len : 0;
  if (payload && payload->failed)
    return lisec_err_set(err, LISEC_EINVAL, "message over its bound: not sent");
  uint8_t hdr[IPC_HEADER_LEN];
  ipc_header h = {.type = type, .id = id, .len = len};
  ipc_header_encode(&h, hdr);
  if (evbuffer_add(out, hdr, sizeof hdr) != 0 || (len && evbuffer_add(out, payload->buf.data, len) != 0))
    return lisec_err_set(err, LISEC_ENOMEM, "cannot queue a message");
  return 0;
}

int api_wire_take(struct evbuffer *in, uint32_t max, ipc_header *h, uint8_t **payload,
                  lisec_err *err) {
  uint8_t hdr[IPC_HEADER_LEN];
  *payload = NULL;
  if (evbuffer_get_length(in) < IPC_HEADER_LEN) return 0;
  if (evbuffer_copyout(in, hdr, sizeof hdr) != (ev_ssize_t)sizeof hdr)
    return lisec_err_set(err, LISEC_EIO, "cannot read a message header");
  int rc = ipc_header_decode(hdr, max, h, err);
  if (rc) return rc;
  if (evbuffer_get_length(in) < IPC_HEADER_LEN + (size_t)h->len) return 0;
  evbuffer_drain(in, IPC_HEADER_LEN);
  if (h->len == 0) return 1;
  uint8_t *p = malloc(h->len);
  if (!p) return lisec_err_set(err, LISEC_ENOMEM, "out of memory for a message of %u bytes", h->len);
  evbuffer_remove(in, p, h->len);
  *payload = p;
  return 1;
}

/* ---- requests in flight ------------------------------------------------- */

#define SLOT_BITS 20
#define SLOT_MASK ((1u << SLOT_BITS) - 1)

void api_wire_pending_init(api_wire_pending *t) { memset(t, 0, sizeof *t); }

void api_wire_pending_free(api_wire_pending *t) {
  free(t->slots);
  free(t->free_list);
  memset(t, 0, sizeof *t);
}

int api_wire_pending_add(api_wire_pending *t, void *data, uint32_t *id, lisec_err *err) {
  if (t->n_free == 0) {
    if (t->n_slots == API_WIRE_SLOTS_MAX)
      return lisec_err_set(err, LISEC_ETOOBIG, "more than %u requests in flight", API_WIRE_SLOTS_MAX);
    uint32_t n = t->n_slots ? t->n_slots * 2 : 64;
    if (n > API_WIRE_SLOTS_MAX) n = API_WIRE_SLOTS_MAX;
    api_wire_slot *s = realloc(t->slots, n * sizeof *s);
    if (!s) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    t->slots = s;
    uint32_t *f = realloc(t->free_list, n * sizeof *f);
    if (!f) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    t->free_list = f;
    /* New slots go on the free list highest first, so the lowest is taken next. */
    for (uint32_t i = n; i > t->n_slots; i--) {
      t->slots[i - 1] = (api_wire_slot){0};
      t->free_list[t->n_free++] = i - 1;
    }
    t->n_slots = n;
  }
  uint32_t slot = t->free_list[--t->n_free];
  api_wire_slot *s = &t->slots[slot];
  /* The use count makes the id differ from every earlier one of the slot
   * (until it wraps after 4095 uses); it never makes id 0. */
  s->gen = (s->gen % ((UINT32_MAX >> SLOT_BITS))) + 1;
  s->id = s->gen << SLOT_BITS | slot;
  s->data = data;
  t->n_used++;
  *id = s->id;
  return 0;
}

static api_wire_slot *slot_of(const api_wire_pending *t, uint32_t id) {
  uint32_t slot = id & SLOT_MASK;
  if (id == 0 || slot >= t->n_slots || t->slots[slot].id != id) return NULL;
  return &t->slots[slot];
}

void *api_wire_pending_get(const api_wire_pending *t, uint32_t id) {
  api_wire_slot *s = slot_of(t, id);
  return s ? s->data : NULL;
}

void *api_wire_pending_take(api_wire_pending *t, uint32_t id, lisec_err *err) {
  api_wire_slot *s = slot_of(t, id);
  if (!s) {
    lisec_err_set(err, LISEC_ENOTFOUND, "reply for request id %u, which is not in flight", id);
    return NULL;
  }
  void *data = s->data;
  s->id = 0;
  s->data = NULL;
  t->free_list[t->n_free++] = id & SLOT_MASK;
  t->n_used--;
  return data;
}

int api_wire_reply_render(const api_response *resp, api_wire_reply *out, char **owned) {
  memset(out, 0, sizeof *out);
  *owned = NULL;
  out->status = resp->status;
  snprintf(out->allow, sizeof out->allow, "%s", resp->allow);
  snprintf(out->retry_after, sizeof out->retry_after, "%s", resp->retry_after);
  snprintf(out->etag, sizeof out->etag, "%s", resp->etag);
  if (resp->body) {
    char *s = json_dumps(resp->body, JSON_COMPACT);
    if (!s) return LISEC_ENOMEM;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2); /* a JSON reply ends with a newline */
    if (!line) {
      free(s);
      return LISEC_ENOMEM;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    *owned = line;
    out->body = (const uint8_t *)line;
    out->body_len = n + 1;
    snprintf(out->content_type, sizeof out->content_type, "application/json");
  } else if (resp->text) {
    out->body = (const uint8_t *)resp->text;
    out->body_len = strlen(resp->text);
    snprintf(out->content_type, sizeof out->content_type, "%s",
             resp->content_type ? resp->content_type : "text/plain");
  }
  return 0;
}
