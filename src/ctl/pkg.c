/* The pkg topic's shared controller state. */
#include <stdlib.h>

#include "ctl/internal.h"

struct ctl_pkg_state {
  int unused;
};

int ctl_pkg_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err) {
  (void)cfg, (void)s;
  sh->pkg = calloc(1, sizeof *sh->pkg);
  return sh->pkg ? 0 : lisec_err_set(err, LISEC_ENOMEM, "out of memory");
}

void ctl_pkg_close(ctl_shared *sh) {
  free(sh->pkg);
  sh->pkg = NULL;
}
