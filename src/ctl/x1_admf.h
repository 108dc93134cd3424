/* The ADMF side of X1: lisecd sends TS 103 221-1 requests to a network
 * element over HTTPS with mutual TLS (keep-alive) and reads its response.
 * One client per network element; not shared between threads. */
#ifndef LISEC_CTL_X1_ADMF_H
#define LISEC_CTL_X1_ADMF_H

#include "keys/keys.h"
#include "x1/x1.h"

typedef struct ctl_x1_client ctl_x1_client;

typedef struct ctl_x1_peer {
  const char *url;             /* https://poi-hel-1.example:8444/X1/NE */
  const char *cert, *key, *ca; /* the ADMF's client certificate, and the NE's CA */
  /* signs the TLS handshake with key (a path only the keys process reads);
   * with a key but no keys process the client does not open */
  keys_client *keys;
  /* [x1] request_timeout_ms and connect_timeout_ms: one exchange's bounds
   * (0: 10000 and 3000) */
  long timeout_ms, connect_timeout_ms;
} ctl_x1_peer;

int ctl_x1_client_open(const ctl_x1_peer *peer, ctl_x1_client **out, lisec_err *err);
void ctl_x1_client_close(ctl_x1_client *c);
/* Sends one request and parses the response (schema-validated), which
 * must answer it (x1_response_check: transaction, version, type). An
 * ErrorResponse is a successful exchange with resp->ok false. */
int ctl_x1_exchange(ctl_x1_client *c, const x1_request *req, x1_response *resp, lisec_err *err);
/* Whether the last exchange failed for want of an answer in time (the
 * connect or request timeout), rather than for a refusal or a bad answer. */
bool ctl_x1_client_timed_out(const ctl_x1_client *c);

#endif
