/* libFuzzer harness: the messages between lisecd's front and controller
 * (api/wire.c) as either peer could send them. The first byte chooses what
 * reads the rest: the controller's request decoder, the front's reply
 * decoder, the front's decoder of the TLS material the parent sends on
 * SIGHUP, or the framing on a libevent buffer (one message after another
 * until the input runs out or is refused). A decoder that reads past the
 * payload fails under ASan; one that accepts what it must refuse (a role
 * whose bit disagrees, a header value with a line break, a status outside
 * HTTP's, a body over the bound) aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/wire.h"

#define MAX_BODY 1024

static bool has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t len = size - 1;
  uint8_t *p = malloc(len ? len : 1); /* exactly len bytes: ASan sees overreads */
  memcpy(p, data + 1, len);
  lisec_err err;
  switch (data[0] % 4) {
    case 0: {
      api_wire_request r;
      if (api_wire_request_decode(p, len, MAX_BODY, &r, &err) == 0) {
        if (r.body_len > MAX_BODY || r.uri[0] != '/' || has_ctl(r.uri) || has_ctl(r.method)) abort();
        if (api_role_bit(r.who.role) != r.who.role_bit || !r.who.role_bit) abort();
        if (!lisec_request_id_valid(r.request_id, strlen(r.request_id)) || has_ctl(r.if_match)) abort();
        if (r.body && (r.body < p || r.body + r.body_len > p + len)) abort();
        /* What the controller accepts, the front could have sent. */
        ipc_writer w;
        if (api_wire_request_encode(&w, &r, MAX_BODY, &err) != 0 || w.buf.len != len ||
            memcmp(w.buf.data, p, len) != 0)
          abort();
        ipc_writer_free(&w);
      }
      break;
    }
    case 1: {
      api_wire_reply r;
      if (api_wire_reply_decode(p, len, &r, &err) == 0) {
        if (r.status < 100 || r.status > 599) abort();
        if (has_ctl(r.content_type) || has_ctl(r.allow) || has_ctl(r.retry_after) || has_ctl(r.etag)) abort();
        if (r.body_len && !r.content_type[0]) abort();
      }
      break;
    }
    case 3: {
      api_tls_material m;
      if (api_wire_tls_decode(p, len, MAX_BODY, &m, &err) == 0) {
        if (!m.cert_len || !m.key_len || !m.ca_len || m.owned) abort();
        if (m.cert_len > MAX_BODY || m.key_len > MAX_BODY || m.ca_len > MAX_BODY || m.crl_len > MAX_BODY) abort();
        const uint8_t *f[4] = {m.cert, m.key, m.ca, m.crl};
        size_t n[4] = {m.cert_len, m.key_len, m.ca_len, m.crl_len};
        for (int i = 0; i < 4; i++)
          if (n[i] && (f[i] < p || f[i] + n[i] > p + len)) abort();
        /* What the front accepts, the parent could have sent. */
        ipc_writer w;
        if (api_wire_tls_encode(&w, &m, MAX_BODY, &err) != 0 || w.buf.len != len || memcmp(w.buf.data, p, len) != 0)
          abort();
        ipc_writer_free(&w);
      }
      break;
    }
    default: {
      struct evbuffer *in = evbuffer_new();
      evbuffer_add(in, p, len);
      ipc_header h;
      uint8_t *payload = NULL;
      int rc;
      while ((rc = api_wire_take(in, 4096, &h, &payload, &err)) == 1) {
        if (h.type == 0 || h.len > 4096 || (h.len && !payload)) abort();
        api_wire_request r;
        (void)api_wire_request_decode(payload, h.len, MAX_BODY, &r, &err);
        ipc_payload_free(payload, h.len);
      }
      evbuffer_free(in);
      break;
    }
  }
  free(p);
  return 0;
}
