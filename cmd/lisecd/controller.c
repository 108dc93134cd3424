/* lisecd's controller process: the use cases, the model, the store, the X1
 * loop and attestation (ctl/), serving the front's requests on one thread
 * per channel (api/backend.c). It holds no key: signing, wrapping and
 * opening are asked of the keys process over keys_fd. It opens the store
 * and its channels, enters its sandbox, starts the background work
 * (ctl_start), serves until SIGTERM, then stops in reverse. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "keys/keys.h"
#include "lisecd.h"
#include "sandbox.h"

int lisecd_controller_main(const lisec_config *cfg, int keys_fd, const int *fds, int n) {
  lisec_err err = {0};
  api_server_config sc = {0};
  keys_client *keys = NULL;
  lisec_ctl *ctl = NULL;
  api_backend *backend = NULL;
  bool started = false;
  int rc = lisecd_server_config(cfg, &sc, &err);
  /* libcurl's global state (the X1 client's) is set up here, once, before
   * ctl_open starts any thread: curl_global_init is not thread-safe. */
  if (rc == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    rc = lisec_err_set(&err, LISEC_EINTERNAL, "libcurl could not be initialised");
  keys_settings ks;
  if (rc == 0) rc = keys_settings_parse(cfg, &ks, &err);
  if (rc == 0) rc = keys_client_open(keys_fd, &keys, &err);
  else close(keys_fd);
  if (rc == 0) keys_client_configure(keys, &ks);
  if (rc == 0) rc = ctl_open(cfg, keys, &ctl, &err);
  if (rc == 0) {
    api_ratelimit_configure(sc.refusal_rate, sc.refusal_burst, sc.refusal_clients);
    rc = api_backend_open(ctl, fds, n, sc.max_body, &backend, &err);
  } else {
    for (int i = 0; i < n; i++) close(fds[i]);
  }
  if (rc == 0) rc = lisecd_sandbox_enter(LISECD_CONTROLLER, cfg, &err);
  if (rc == 0 && (rc = ctl_start(ctl, &err)) == 0) started = true;
  if (rc == 0) rc = api_backend_run(backend, &err);
  if (rc == 0) {
    lisecd_child_ready();
    LOG_INFO("controller ready: %d channels from the front", n);
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    int sig = 0;
    sigwait(&term, &sig);
  } else {
    fprintf(stderr, "lisecd: %s\n", err.msg);
  }
  if (backend) {
    api_backend_stop(backend);
    api_backend_wait_and_free(backend);
  }
  if (started) ctl_stop(ctl);
  ctl_close(ctl);
  keys_client_close(keys);
  curl_global_cleanup();
  if (rc == 0) LOG_INFO("controller stopped");
  return rc ? 2 : 0;
}
