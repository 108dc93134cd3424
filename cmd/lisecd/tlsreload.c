/* Rotating lisecd's TLS material without a restart (issue 25): on SIGHUP the
 * parent reads [tls] cert, key, client_ca and crl again (each a regular file
 * within [tls] max_file_bytes) and sends the bytes to the front on a channel
 * of their own (API_MSG_TLS), then wipes them. The front, whose sandbox
 * opens no file, judges them (api_tls_ctx_new: the key matches, the
 * certificate is current, each CRL is signed by a client CA and current),
 * builds a new server context and serves new connections with it;
 * connections already open keep the one they began with. Anything wrong
 * keeps what is served and says why in the log; lisecd serves on either
 * way. The parent reads because it parses nothing from the network and its
 * sandbox lets it open a file for reading only; it does not parse the
 * files either, so no copy of the key is left in its heap by OpenSSL's
 * decoders for the controller or the keys process to inherit. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/tls.h"
#include "api/wire.h"
#include "lisecd.h"

static void describe(const api_tls_info *info, char *out, size_t cap) {
  char until[32] = "?";
  time_t t = (time_t)info->not_after;
  struct tm tm;
  if (t && gmtime_r(&t, &tm)) strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
  snprintf(out, cap, "server certificate serial %s (valid until %s), %d client CA certificate%s, %s", info->serial,
           until, info->n_ca, info->n_ca == 1 ? "" : "s", info->n_crl ? "" : "no CRL");
  if (info->n_crl) {
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%d CRL%s revoking %d certificate%s", info->n_crl, info->n_crl == 1 ? "" : "s",
             info->n_revoked, info->n_revoked == 1 ? "" : "s");
  }
}

void lisecd_tls_reload(const api_server_config *sc, int *fd) {
  api_tls_material m = {0};
  lisec_err err = {0};
  ipc_writer w = {0};
  if (*fd < 0) {
    LOG_ERROR("SIGHUP: TLS reload refused: the channel to the front closed after an earlier send failed; "
              "restart lisecd to rotate TLS material");
    return;
  }
  int rc = api_tls_material_read(sc->cert, sc->key, sc->client_ca, sc->crl, sc->tls_file_max, &m, &err);
  if (rc == 0) rc = api_wire_tls_encode(&w, &m, sc->tls_file_max, &err);
  if (rc == 0 && (rc = ipc_send(*fd, API_MSG_TLS, 0, 0, &w, &err)) != 0) {
    /* Part of the message may have gone (the send timeout, SO_SNDTIMEO,
     * passed while the front took nothing): no later one could be read
     * right, so the channel is closed rather than left out of step. */
    close(*fd);
    *fd = -1;
    char why[sizeof err.msg];
    snprintf(why, sizeof why, "%s", err.msg);
    lisec_err_set(&err, LISEC_EIO, "the front took nothing for 10 s or is gone (%s); the channel to it is closed, "
                                   "restart lisecd to rotate TLS material", why);
  }
  if (rc == 0)
    LOG_INFO("SIGHUP: TLS files read again (%zu + %zu + %zu + %zu bytes) and sent to the front", m.cert_len,
             m.key_len, m.ca_len, m.crl_len);
  else
    LOG_ERROR("SIGHUP: TLS reload refused, lisecd keeps serving the previous certificate, key, client CA and "
              "CRL: %s",
              err.msg);
  ipc_writer_free(&w);
  api_tls_material_free(&m);
}

/* ---- the front's side ------------------------------------------------------ */

struct lisecd_tls_receiver {
  api_server *srv;
  int fd;
  size_t max_file;
  pthread_t thread;
  int stopping;
};

static void receive_one(lisecd_tls_receiver *r, const ipc_header *h, const uint8_t *payload) {
  lisec_err err = {0};
  api_tls_material m;
  api_tls_info info;
  char what[256];
  int rc = h->type == API_MSG_TLS ? 0
                                  : lisec_err_set(&err, LISEC_EINVAL, "message type %u on the TLS channel", h->type);
  if (rc == 0) rc = api_wire_tls_decode(payload, h->len, r->max_file, &m, &err);
  if (rc == 0) rc = api_server_tls_reload(r->srv, &m, &info, &err);
  if (rc) {
    LOG_ERROR("TLS reload refused, new connections keep the previous certificate, key, client CA and CRL: %s",
              err.msg);
    return;
  }
  describe(&info, what, sizeof what);
  LOG_INFO("TLS reloaded: new connections get %s; open connections keep theirs", what);
}

static void *receiver_main(void *arg) {
  lisecd_tls_receiver *r = arg;
  uint32_t max = api_wire_tls_max(r->max_file);
  for (;;) {
    ipc_header h;
    uint8_t *payload = NULL;
    lisec_err err = {0};
    if (ipc_recv(r->fd, max, &h, &payload, &err) != 0) {
      /* A message over its bound or cut short leaves the channel out of
       * step: no later one could be read right. */
      if (!__atomic_load_n(&r->stopping, __ATOMIC_SEQ_CST))
        LOG_ERROR("the parent's TLS channel: %s; SIGHUP no longer reloads TLS until lisecd restarts", err.msg);
      return NULL;
    }
    receive_one(r, &h, payload);
    ipc_payload_free(payload, h.len);
  }
}

int lisecd_tls_receiver_start(api_server *srv, int fd, size_t max_file, lisecd_tls_receiver **out,
                              lisec_err *err) {
  lisecd_tls_receiver *r = calloc(1, sizeof *r);
  if (!r) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  *r = (lisecd_tls_receiver){.srv = srv, .fd = fd, .max_file = max_file ? max_file : API_TLS_FILE_MAX_DEFAULT};
  if (pthread_create(&r->thread, NULL, receiver_main, r) != 0) {
    free(r);
    return lisec_err_set(err, LISEC_EINTERNAL, "cannot start the TLS reload thread");
  }
  *out = r;
  return 0;
}

void lisecd_tls_receiver_stop(lisecd_tls_receiver *r) {
  if (!r) return;
  __atomic_store_n(&r->stopping, 1, __ATOMIC_SEQ_CST);
  shutdown(r->fd, SHUT_RDWR); /* its read sees the end */
  pthread_join(r->thread, NULL);
  free(r);
}
