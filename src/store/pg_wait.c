/* Waiting on a libpq connection by the monotonic clock, for the store's
 * sessions (postgres.c) and the writer lock's own (lock.c): a statement's
 * send and its answer each end by a deadline, so a server that stopped (a
 * SIGSTOPped or hung backend, whose host's kernel still takes the bytes
 * and answers keepalives, so neither TCP nor the server's own timeouts end
 * the wait) cannot hold a thread for good. What to do once a deadline has
 * passed (cancel, give the connection up) is the caller's. */
#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>

#include "store/store_impl.h"

bool store_pg_flush_by(PGconn *c, int64_t limit) {
  while (PQflush(c) == 1) {
    int64_t now = lisec_time_mono_ms();
    if (now >= limit) return false;
    /* readable too: libpq reads what the server sends meanwhile */
    struct pollfd p = {.fd = PQsocket(c), .events = POLLOUT | POLLIN};
    int64_t left = limit - now;
    if (poll(&p, 1, left > 60000 ? 60000 : (int)left) > 0 && (p.revents & POLLIN)) PQconsumeInput(c);
  }
  return true; /* all sent, or the connection failed: its error is the answer */
}

bool store_pg_result_by(PGconn *c, int64_t limit) {
  for (;;) {
    if (!PQisBusy(c) || PQstatus(c) != CONNECTION_OK) return true;
    int64_t now = lisec_time_mono_ms();
    if (now >= limit) return false;
    struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
    int64_t left = limit - now;
    poll(&p, 1, left > 60000 ? 60000 : (int)left); /* EINTR: the loop looks again */
    PQconsumeInput(c); /* a failure closes the connection: its error is the answer */
  }
}

void store_pg_give_up(PGconn *c) {
  shutdown(PQsocket(c), SHUT_RDWR);
  PQconsumeInput(c);
}
