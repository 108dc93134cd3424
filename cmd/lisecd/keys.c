/* lisecd's keys process: the only process of lisecd that loads a PKCS#11
 * module, logs into a token or reads a key file. It opens the vault's KEK,
 * the audit checkpoint key and the LI VMs' token session (keys/keys.h),
 * enters its sandbox, then answers the controller on fd until the
 * controller closes its end (or SIGTERM closes it from here), and exits 0;
 * 2 when it cannot start, 1 when the channel broke. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keys/keys.h"
#include "lisecd.h"
#include "sandbox.h"

static volatile sig_atomic_t channel = -1;

/* SIGTERM ends the serving the way the controller's close would: the next
 * read sees the end of the channel (shutdown is async-signal-safe). */
static void on_term(int sig) {
  (void)sig;
  if (channel >= 0) shutdown(channel, SHUT_RDWR);
}

int lisecd_keys_main(const lisec_config *cfg, int fd) {
  prctl(PR_SET_NAME, "lisecd-keys");
  lisec_err err = {0};
  keys_service *s = NULL;
  int rc = keys_service_open(cfg, &s, &err);
  if (rc == 0) {
    channel = fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &term, NULL);
    rc = lisecd_sandbox_enter(LISECD_KEYS, cfg, &err);
  }
  if (rc) {
    LOG_ERROR("keys: cannot start: %s", err.msg);
    keys_service_close(s);
    close(fd);
    return 2;
  }
  lisecd_child_ready();
  rc = keys_service_serve(s, fd, &err);
  if (rc) LOG_ERROR("keys: the channel to the controller broke: %s", err.msg);
  else LOG_INFO("keys stopped");
  keys_service_close(s);
  close(fd);
  return rc ? 1 : 0;
}
