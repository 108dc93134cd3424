/* What the controller's use-case files share and nothing else sees: the
 * layout of ctl_shared. */
#ifndef LISEC_CTL_INTERNAL_H
#define LISEC_CTL_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "ctl/ctl.h"
#include "ctl/kek.h"

struct ctl_shared {
  char *store_url;
  int64_t started_at;
  ctl_kek *kek; /* the vault's KEK; NULL when [vault] is not configured */
  bool li_key_set;
  uint8_t li_admin_pk[32]; /* X25519; LI records are sealed to it */
  pthread_mutex_t record_lock; /* one appender at a time */
};

#endif
