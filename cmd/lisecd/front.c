/* lisecd's front process: TLS, HTTP and the admission of requests
 * (api/server.c), with one channel per worker to the controller process.
 * It holds the TLS key and the client CA, and nothing else of lisecd's: no
 * store, no controller, no PKCS#11 session. It opens what it needs, enters
 * its sandbox, serves until SIGTERM, and exits 1 when a channel to the
 * controller is lost (the parent then stops lisecd). A thread of its own
 * takes the TLS material the parent sends on SIGHUP (tlsreload.c): the
 * front opens no file for it. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "lisecd.h"
#include "sandbox.h"

/* On a worker's thread: wakes the main thread's sigwait. */
static void on_channel_lost(void *arg) {
  (void)arg;
  kill(getpid(), SIGTERM);
}

int lisecd_front_main(const lisec_config *cfg, const int *fds, int n, int tls_fd) {
  lisec_err err = {0};
  api_server_config sc = {0};
  api_server *srv = NULL;
  lisecd_tls_receiver *tls = NULL;
  int rc = lisecd_server_config(cfg, &sc, &err);
  if (rc == 0 && sc.workers + sc.bulk_workers != n)
    rc = lisec_err_set(&err, LISEC_EINTERNAL, "%d channels for %d workers", n, sc.workers + sc.bulk_workers);
  if (rc) {
    for (int i = 0; i < n; i++) close(fds[i]);
    close(tls_fd);
    fprintf(stderr, "lisecd (front): %s\n", err.msg);
    return 2;
  }
  sc.on_channel_lost = on_channel_lost;
  if ((rc = api_server_open(&sc, fds, &srv, &err)) != 0) {
    close(tls_fd);
    fprintf(stderr, "lisecd: cannot start: %s\n", err.msg);
    return 2;
  }
  /* TLS files are read and the socket bound: nothing more to open. */
  if ((rc = lisecd_sandbox_enter(LISECD_FRONT, cfg, &err)) != 0 ||
      (rc = lisecd_tls_receiver_start(srv, tls_fd, sc.tls_file_max, &tls, &err)) != 0 ||
      (rc = api_server_run(srv, &err)) != 0) {
    fprintf(stderr, "lisecd (front): cannot start: %s\n", err.msg);
    lisecd_tls_receiver_stop(tls);
    close(tls_fd);
    api_server_stop(srv);
    api_server_wait_and_free(srv);
    return 2;
  }
  lisecd_child_ready();
  LOG_INFO("front ready: TLS and HTTP on %s, %d channels to the controller%s%s%s", sc.listen, n,
           sc.probe_listen ? "; probes (plain HTTP /healthz, /readyz) on " : "",
           sc.probe_listen ? sc.probe_listen : "", "");
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  int sig = 0;
  sigwait(&term, &sig);
  bool lost = api_server_channel_lost(srv);
  lisecd_tls_receiver_stop(tls);
  close(tls_fd);
  api_server_stop(srv);
  api_server_wait_and_free(srv);
  LOG_INFO("%s", lost ? "front stopped: the controller is gone" : "front stopped");
  return lost ? 1 : 0;
}
