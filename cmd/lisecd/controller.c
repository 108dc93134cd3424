/* lisecd's controller process: the use cases, the model, the store, the X1
 * loop and attestation (ctl/), serving the front's requests on one thread
 * per channel (api/backend.c). It holds no key: signing, wrapping and
 * opening are asked of the keys process over keys_fd. It first takes the
 * store's writer lock (ctl/ha.h): without [ha] a lock held elsewhere stops
 * the start naming the holder; with [ha] it waits as a standby, answering
 * the front's requests 503 naming the leader (standby.c), until it takes
 * the lock. Then it opens the store and its channels, enters its sandbox,
 * starts the background work (ctl_start), serves until SIGTERM, then stops
 * in reverse. A standby enters the same sandbox before it waits (it holds
 * the front's channels and a PostgreSQL connection for as long as another
 * leads), and is promoted inside it: opening the controller needs nothing
 * the controller's filter refuses (files, client sockets, threads). */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ctl/ha.h"
#include "keys/keys.h"
#include "lisecd.h"
#include "sandbox.h"

/* Takes the writer lock, as a standby first when another lisecd leads.
 * *stop is set when SIGTERM came while waiting (0 returned, nothing to
 * open), *lost when the front went away meanwhile, *sandboxed when it
 * entered the controller's sandbox to wait as a standby. */
static int become_writer(const lisec_config *cfg, const int *fds, int n, size_t max_body, bool *stop,
                         bool *lost, bool *sandboxed, lisec_err *err) {
  char leader_url[STORE_ADVERTISE_MAX + 1] = "";
  bool leader = false;
  int rc = ctl_ha_try(&leader, leader_url, sizeof leader_url, err);
  const ctl_ha_settings *set = ctl_ha_current(NULL, NULL);
  if (rc == 0 && leader && set->enabled) {
    int64_t epoch = 0;
    ctl_ha_current(NULL, &epoch);
    LOG_INFO("leader (node %s, epoch %lld): took the store's writer lock at start", set->node, (long long)epoch);
  }
  if (rc || leader) return rc;
  /* Confined as a leader is, before the first request is read. */
  if ((rc = lisecd_sandbox_enter(LISECD_CONTROLLER, cfg, err))) return rc;
  *sandboxed = true;
  lisecd_standby *sb = NULL;
  if ((rc = lisecd_standby_start(fds, n, max_body, &sb, err))) return rc;
  lisecd_standby_leader(sb, leader_url);
  lisecd_child_ready();
  LOG_INFO("standby (node %s): the leader is %s; waiting for the store's writer lock", set->node,
           leader_url[0] ? leader_url : "not named yet");
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  while (!leader) {
    struct timespec tick = {(time_t)(set->poll_ms / 1000), (long)(set->poll_ms % 1000) * 1000000L};
    if (sigtimedwait(&term, NULL, &tick) == SIGTERM) {
      *stop = true;
      break;
    }
    if (lisecd_standby_lost(sb)) {
      *lost = true;
      break;
    }
    lisec_err e = {0};
    char now[sizeof leader_url] = "";
    if (ctl_ha_try(&leader, now, sizeof now, &e) != 0) {
      LOG_LIMITED(LISEC_LOG_WARN, 3, 60000, "standby: cannot try the writer lock: %s", e.msg);
      continue;
    }
    if (!leader && strcmp(now, leader_url) != 0) {
      snprintf(leader_url, sizeof leader_url, "%s", now);
      lisecd_standby_leader(sb, leader_url);
      LOG_INFO("standby: the leader is now %s", leader_url[0] ? leader_url : "not named");
    }
  }
  lisecd_standby_stop(sb);
  if (leader) {
    int64_t epoch = 0;
    ctl_ha_current(NULL, &epoch);
    LOG_INFO("leader (node %s, epoch %lld): took the store's writer lock; loading the state from the store",
             set->node, (long long)epoch);
  }
  return 0;
}

int lisecd_controller_main(const lisec_config *cfg, int keys_fd, const int *fds, int n) {
  lisec_err err = {0};
  api_server_config sc = {0};
  keys_client *keys = NULL;
  lisec_ctl *ctl = NULL;
  api_backend *backend = NULL;
  bool started = false;
  int rc = lisecd_server_config(cfg, &sc, &err);
  /* libcurl's global state (the X1 client's) is set up here, once, before
   * ctl_open starts any thread: curl_global_init is not thread-safe. It
   * copies a small request body (an ActivateTask names its target's
   * identifiers) into a buffer of its own: every block it frees or moves is
   * wiped. */
  if (rc == 0 && curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, lisecd_free_wiped,
                                      lisecd_realloc_wiped, strdup, calloc) != CURLE_OK)
    rc = lisec_err_set(&err, LISEC_EINTERNAL, "libcurl could not be initialised");
  keys_settings ks;
  if (rc == 0) rc = keys_settings_parse(cfg, &ks, &err);
  if (rc == 0) rc = keys_client_open(keys_fd, &keys, &err);
  else close(keys_fd);
  if (rc == 0) keys_client_configure(keys, &ks);
  bool stop = false, lost = false, sandboxed = false;
  if (rc == 0 && (rc = ctl_ha_open(cfg, &err)) == 0)
    rc = become_writer(cfg, fds, n, sc.max_body, &stop, &lost, &sandboxed, &err);
  if (rc == 0 && (stop || lost)) {
    for (int i = 0; i < n; i++) close(fds[i]);
    ctl_ha_close();
    keys_client_close(keys);
    curl_global_cleanup();
    LOG_INFO("controller stopped %s", lost ? "(standby): the front is gone" : "(standby)");
    return lost ? 1 : 0;
  }
  if (rc == 0) rc = ctl_open(cfg, keys, &ctl, &err);
  if (rc == 0) {
    api_ratelimit_configure(sc.refusal_rate, sc.refusal_burst, sc.refusal_clients);
    rc = api_backend_open(ctl, fds, n, sc.max_body, &backend, &err);
    if (rc == 0) rc = api_backend_set_bulk(backend, sc.bulk_channels, sc.bulk_nice, &err);
    if (rc == 0) api_backend_set_request_slice(backend, sc.request_slice_us);
  } else {
    for (int i = 0; i < n; i++) close(fds[i]);
  }
  if (rc == 0 && !sandboxed) rc = lisecd_sandbox_enter(LISECD_CONTROLLER, cfg, &err);
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
    ctl_ha_stopping(); /* no wait on a stalled store outlasts [server] stop_timeout_s */
  } else {
    fprintf(stderr, "lisecd: %s\n", err.msg);
  }
  if (backend) {
    api_backend_stop(backend);
    api_backend_wait_and_free(backend);
  }
  if (started) ctl_stop(ctl);
  ctl_close(ctl);
  ctl_ha_close();
  keys_client_close(keys);
  curl_global_cleanup();
  if (rc == 0) LOG_INFO("controller stopped");
  return rc ? 2 : 0;
}
