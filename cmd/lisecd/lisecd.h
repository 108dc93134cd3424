/* What lisecd's files share: the list of settings it accepts. */
#ifndef LISECD_H
#define LISECD_H

/* "section.key" strings, NULL-terminated (settings.c). */
extern const char *const lisecd_known_settings[];

/* ---- the processes (issue 16) --------------------------------------------
 * The parent (main.c) forks keys, then the controller, then the front; each
 * child's main returns its exit status (0 after a clean stop, 2 when it
 * could not start, 1 when it lost a peer). Every child stops on SIGTERM. */
#include "api/api.h"
#include "base/base.h"

/* TLS, HTTP and admission; fds[i] is worker i's channel to the controller,
 * tls_fd the parent's channel for TLS material (API_MSG_TLS). */
int lisecd_front_main(const lisec_config *cfg, const int *fds, int n, int tls_fd);
/* The use cases and the store; keys_fd to the keys process, fds[i] the
 * front's worker i. */
int lisecd_controller_main(const lisec_config *cfg, int keys_fd, const int *fds, int n);
/* The one PKCS#11 client (keys.c). */
int lisecd_keys_main(const lisec_config *cfg, int fd);

/* [server], [tls] and [api] as the front reads them (main.c). */
int lisecd_server_config(const lisec_config *cfg, api_server_config *sc, lisec_err *err);
/* The same, reporting every bad setting to report and returning how many. */
int lisecd_server_config_all(const lisec_config *cfg, api_server_config *sc,
                             void (*report)(void *ctx, const char *msg), void *ctx);
/* --check-config (check.c): every problem reported, nothing changed; 0 or 2. */
int lisecd_check_config(const lisec_config *cfg, const char *path);
/* --witness-reset [--yes] (witness.c): the audit witness's state shown,
 * removed only with yes; 0 removed or none, 1 not confirmed, 2 error. */
int lisecd_witness_reset(const lisec_config *cfg, bool yes);
/* SIGHUP (tlsreload.c): reads the [tls] files again and sends their bytes
 * on *fd to the front, which judges them; when they cannot be read, logs
 * why and the front keeps what it serves. A send that fails (the front
 * took nothing within the socket's send timeout) closes *fd (-1). */
void lisecd_tls_reload(const api_server_config *sc, int *fd);
/* The front's side: a thread that takes API_MSG_TLS from fd and swaps the
 * server's context; stop ends it (shutting fd down) and joins it. */
typedef struct lisecd_tls_receiver lisecd_tls_receiver;
int lisecd_tls_receiver_start(api_server *srv, int fd, size_t max_file, lisecd_tls_receiver **out, lisec_err *err);
void lisecd_tls_receiver_stop(lisecd_tls_receiver *r);

/* A standby controller's answers (standby.c, issue 17): every request and
 * readiness question on the front's channels fds (not taken) is answered
 * 503 naming the leader, on a thread of its own, until stop, which returns
 * between messages with the channels open for the controller. */
typedef struct lisecd_standby lisecd_standby;
int lisecd_standby_start(const int *fds, int n, size_t max_body, lisecd_standby **out, lisec_err *err);
void lisecd_standby_leader(lisecd_standby *s, const char *url);
/* true once a channel broke (the front is gone) */
bool lisecd_standby_lost(lisecd_standby *s);
void lisecd_standby_stop(lisecd_standby *s);

/* [probe] listen into sc (probe.c). */
int lisecd_probe_config(const lisec_config *cfg, api_server_config *sc, lisec_err *err);
/* [log] level, format (json|text; the older json = true), access (probe.c). */
int lisecd_log_config(const lisec_config *cfg, lisec_log_level *level, bool *json, bool *access,
                      lisec_err *err);
/* Wipes, in this process's copy of cfg, the values of the settings that may
 * carry a credential ([store] url, [audit] tsa_url: a password in the URL),
 * which only the controller uses: the parent calls it before it forks the
 * front, so the process that parses network input never holds them
 * (settings.c). */
void lisecd_config_forget_credentials(lisec_config *cfg);
/* A child says it is serving: the parent starts the next one, and
 * counts a later exit as a failure rather than a start error (main.c). */
void lisecd_child_ready(void);

/* free and realloc that wipe the block they give up (its usable size), for
 * libraries whose buffers hold target identifiers: jansson's, libcurl's. */
void lisecd_free_wiped(void *p);
void *lisecd_realloc_wiped(void *p, size_t n);

#endif
