/* lisecd, the lisec controller: reads its configuration, opens the store,
 * serves the HTTPS API until SIGTERM or SIGINT, then stops gracefully. It
 * always runs in the foreground (systemd, a container runtime or a shell
 * supervises it; logs go to stderr). Exit status: 0 after a clean stop, 2 on
 * a usage, configuration or start error. */
#include <curl/curl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ctl/ctl.h"
#include "lisecd.h"

/* JSON values may hold target identifiers in clear: wipe every block jansson
 * frees, so none lingers in the heap. */
static void json_free_wiped(void *p) {
  if (p) explicit_bzero(p, malloc_usable_size(p));
  free(p);
}

/* No core file and no ptrace by other users: the process holds LI secrets. */
static void harden_process(void) {
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  json_set_alloc_funcs(malloc, json_free_wiped);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: lisecd -c CONFIG [--check-config] [--foreground]\n"
          "  -c, --config FILE   the INI configuration (see examples/lisecd.conf)\n"
          "  --check-config      load and check the configuration and the store, then exit\n"
          "  --foreground        run in the foreground (always the case; accepted for init\n"
          "                      systems that pass it)\n"
          "exit status: 0 clean stop, 2 usage, configuration or start error\n");
}

static int server_config(const lisec_config *cfg, api_server_config *sc, lisec_err *err) {
  int64_t workers = 0, max_body = 0, max_conns = 0, handshake_ms = 0, rate = 0, burst = 0, clients = 0;
  int rc;
  if ((rc = lisec_config_int(cfg, "server", "workers", 2, 1, 64, &workers, err)) ||
      (rc = lisec_config_int(cfg, "server", "max_connections", 0, 0, 1 << 20, &max_conns, err)) ||
      (rc = lisec_config_int(cfg, "server", "handshake_timeout_ms", 5000, 100, 60000, &handshake_ms, err)) ||
      (rc = lisec_config_int(cfg, "api", "max_body", 1 << 20, 1024, 64 << 20, &max_body, err)) ||
      (rc = lisec_config_int(cfg, "api", "refusal_rate", 5, 0, 100000, &rate, err)) ||
      (rc = lisec_config_int(cfg, "api", "refusal_burst", 20, 1, 100000, &burst, err)) ||
      (rc = lisec_config_int(cfg, "api", "refusal_clients", 4096, 16, 1 << 20, &clients, err)))
    return rc;
  sc->max_connections = (int)max_conns;
  sc->handshake_timeout_ms = (int)handshake_ms;
  sc->refusal_rate = (unsigned)rate;
  sc->refusal_burst = (unsigned)burst;
  sc->refusal_clients = (unsigned)clients;
  sc->listen = lisec_config_str(cfg, "server", "listen", "127.0.0.1:8443");
  sc->cert = lisec_config_str(cfg, "tls", "cert", NULL);
  sc->key = lisec_config_str(cfg, "tls", "key", NULL);
  sc->client_ca = lisec_config_str(cfg, "tls", "client_ca", NULL);
  sc->workers = (int)workers;
  sc->max_body = (size_t)max_body;
  if (!sc->cert || !sc->key || !sc->client_ca)
    return lisec_err_set(err, LISEC_EINVAL,
                         "[tls] cert, key and client_ca are required: lisecd only speaks mutual TLS");
  const char *src = lisec_config_str(cfg, "api", "role_source", "san-uri");
  if (strcmp(src, "san-uri") == 0) sc->role_source = API_ROLE_FROM_SAN_URI;
  else if (strcmp(src, "ou") == 0) sc->role_source = API_ROLE_FROM_OU;
  else return lisec_err_set(err, LISEC_EINVAL, "[api] role_source = \"%s\": expected san-uri or ou", src);
  return 0;
}

static int setup_logging(const lisec_config *cfg, lisec_err *err) {
  lisec_log_level lvl;
  bool json = false;
  const char *l = lisec_config_str(cfg, "log", "level", "info");
  if (lisec_log_level_parse(l, &lvl) != 0)
    return lisec_err_set(err, LISEC_EINVAL, "[log] level = \"%s\": expected debug, info, warn or error", l);
  int rc = lisec_config_bool(cfg, "log", "json", false, &json, err);
  if (rc == 0) lisec_log_setup(lvl, json);
  return rc;
}

int main(int argc, char **argv) {
  const char *config_path = NULL;
  bool check_only = false;
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"check-config", no_argument, NULL, 'k'},
                                       {"foreground", no_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0}};
  int o;
  while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
    if (o == 'c') config_path = optarg;
    else if (o == 'k') check_only = true;
    else if (o == 'f') continue; /* lisecd never detaches */
    else if (o == 'h') return usage(stdout), 0;
    else return usage(stderr), 2;
  }
  if (!config_path || optind != argc) return usage(stderr), 2;
  harden_process();

  lisec_err err = {0};
  lisec_config *cfg = NULL;
  api_server_config sc = {0};
  if (lisec_config_load(config_path, lisecd_known_settings, &cfg, &err) != 0 ||
      setup_logging(cfg, &err) != 0 || server_config(cfg, &sc, &err) != 0) {
    fprintf(stderr, "lisecd: %s\n", err.msg);
    lisec_config_free(cfg);
    return 2;
  }

  /* Signals are taken by this thread with sigwait; workers never see them. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* libcurl's global state (the X1 client's) is set up here, once, before
   * ctl_open starts any thread: curl_global_init is not thread-safe. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "lisecd: libcurl could not be initialised\n");
    lisec_config_free(cfg);
    return 2;
  }

  lisec_ctl *ctl = NULL;
  if (ctl_open(cfg, NULL, &ctl, &err) != 0) {
    fprintf(stderr, "lisecd: %s\n", err.msg);
    lisec_config_free(cfg);
    return 2;
  }
  if (check_only && api_server_check(&sc, &err) != 0) {
    fprintf(stderr, "lisecd: %s\n", err.msg);
    ctl_close(ctl);
    lisec_config_free(cfg);
    return 2;
  }
  if (check_only) {
    printf("lisecd: configuration %s is valid, TLS files load and the store is reachable\n", config_path);
    ctl_close(ctl);
    lisec_config_free(cfg);
    return 0;
  }
  api_server *srv = NULL;
  if (api_server_start(&sc, ctl, &srv, &err) != 0) {
    fprintf(stderr, "lisecd: cannot start: %s\n", err.msg);
    ctl_close(ctl);
    lisec_config_free(cfg);
    return 2;
  }
  LOG_INFO("lisecd %s listening on %s (mutual TLS, %d workers)", LISEC_VERSION, sc.listen, sc.workers);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  LOG_INFO("signal %d: stopping; requests in flight finish first", sig);
  api_server_stop(srv);
  api_server_wait_and_free(srv);
  ctl_close(ctl);
  lisec_config_free(cfg);
  LOG_INFO("lisecd stopped");
  return 0;
}
