/* The keys process's session on the [li] PKCS#11 token. No LI VM key is
 * made or kept there any more (issue 20 item 3): each LI VM makes its own
 * pair (in its vTPM or in the VM, include/lisec/events.h) and lisecd keeps
 * only the public key the LI administration paired. The session stays open
 * and checked (LI_CHECK) for the token's other users. */
#ifndef LISEC_KEYS_LIVM_H
#define LISEC_KEYS_LIVM_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"


typedef struct keys_livm keys_livm;

int keys_livm_open(const char *module, const char *token, const char *pin, keys_livm **out,
                   lisec_err *err);
void keys_livm_close(keys_livm *st);
/* 0 when the session is open and logged in as the user. */
int keys_livm_check(keys_livm *st, lisec_err *err);

#endif
