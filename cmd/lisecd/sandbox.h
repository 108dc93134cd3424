/* Each of lisecd's processes gives up, right after it has opened what it
 * needs, every power it will never use again: it can no longer gain
 * privileges (no_new_privs), dump core or be read by ptrace of its own user
 * (RLIMIT_CORE 0, not dumpable), and a seccomp-bpf allow-list per role limits
 * the system calls it may make. A parser bug in the front then reads only what
 * the front holds, and cannot open the database, the token or a new socket.
 * docs/operations.md ("Processes and privileges") lists what each role keeps. */
#ifndef LISECD_SANDBOX_H
#define LISECD_SANDBOX_H

#include "base/base.h"

typedef enum { LISECD_PARENT, LISECD_FRONT, LISECD_CONTROLLER, LISECD_KEYS } lisecd_role;

/* Enters the sandbox of role for the calling process (all its threads that
 * are started afterwards; call it before starting threads). Reads
 * [security] sandbox (default on; off is for debugging and logged loudly).
 * Once it returns 0 it cannot be undone. A failure leaves the process
 * partly restricted: the caller must exit. */
int lisecd_sandbox_enter(lisecd_role role, const lisec_config *cfg, lisec_err *err);

/* The role's name in log lines ("front", "controller", "keys", "parent"). */
const char *lisecd_sandbox_role_name(lisecd_role role);

#endif
