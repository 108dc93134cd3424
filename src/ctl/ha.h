/* One writer per store, and on PostgreSQL one fenced leader among several
 * lisecd (issue 17; docs/ha.md). lisecd's controller process takes the
 * store's writer lock (store/lock.c) before it opens the controller: without
 * [ha] a lisecd that finds the lock taken refuses to start, naming the
 * holder; with [ha] enabled = true it is a standby until it takes the lock,
 * then bumps the leader epoch, fences every transaction of the process with
 * it, and loads everything from the store as any start does. A leader whose
 * lock's connection is lost (PostgreSQL failed over) reconnects, to the
 * promoted standby with a multi-host URL, for up to [ha] store_failover_ms,
 * and takes the lock back with a new epoch when nobody else took it; a
 * leader that finds another holder, or no primary in time, exits (non-zero,
 * one log line) so that it never half-works; its supervisor restarts it as a
 * standby. The guard is one per process. */
#ifndef LISEC_CTL_HA_H
#define LISEC_CTL_HA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "ctl/ctl.h"
#include "store/store.h"

typedef struct ctl_ha_settings {
  bool enabled;                          /* [ha] enabled */
  char node[STORE_NODE_MAX + 1];         /* [ha] node, default the host name */
  char advertise[STORE_ADVERTISE_MAX + 1]; /* [ha] advertise: this lisecd's https URL */
  int64_t poll_ms;                       /* [ha] lock_poll_ms */
  int64_t timeout_ms;                    /* [ha] lock_timeout_ms */
  int64_t failover_ms;                   /* [ha] store_failover_ms */
  int64_t lease_ms;                      /* [ha] lease_ms, 0 none */
  int64_t store_timeout_ms;              /* [store] timeout_ms: a statement's answer waited for */
  int64_t migration_timeout_ms;          /* [store] migration_timeout_ms: a migration's statements */
} ctl_ha_settings;

/* [ha] read and checked: with enabled, node and an https advertise URL are
 * required and the store must be PostgreSQL. [store] timeout_ms and
 * migration_timeout_ms too: the guard hands them to the store
 * (store_timeout_set, store_migration_timeout_set) before the first open. */
int ctl_ha_settings_read(const lisec_config *cfg, ctl_ha_settings *out, lisec_err *err);

/* Opens the process's writer guard ([store] url, [ha]) without taking the lock. */
int ctl_ha_open(const lisec_config *cfg, lisec_err *err);
/* Tries the lock once. Taken: *leader true, the fence set (with [ha]).
 * Held by another: with [ha], *leader false and the holder's advertised URL
 * in leader_url; without, ECONFLICT naming the holder (TR103308-5.5). */
int ctl_ha_try(bool *leader, char *leader_url, size_t size, lisec_err *err);
/* With [ha], whether this process is the leader; NULL settings when no
 * guard is open (tests, tools). */
const ctl_ha_settings *ctl_ha_current(bool *leader, int64_t *epoch);
/* Whether this process answers as the leader now: 0, or LISEC_EUNAVAIL
 * (TR103308-5.3) once its lease ([ha] lease_ms) has gone unrenewed for
 * lease_ms less one lock_poll_ms, until its watch has checked the lock
 * again. 0 without a lease or a guard. Cheap: asked by every request. */
int ctl_ha_leading(lisec_err *err);
/* Milliseconds until that deadline as it stands now (0: passed), or -1
 * without a lease or a guard: a response held open (api/backend.c's parked
 * requests) is answered as a standby's would be once it passes. */
int64_t ctl_ha_lease_left_ms(void);
/* Lets the lock go and closes the guard (after ctl_close). */
void ctl_ha_close(void);

/* The "ha" topic (ctl/topics.c): open refuses a controller with [ha] on in
 * a process that does not hold the lock; start watches the lock on a
 * thread of its own, stop ends the watch. */
int ctl_ha_topic_open(const lisec_config *cfg, ctl_shared *sh, lisec_store *s, lisec_err *err);
int ctl_ha_topic_start(ctl_shared *sh, lisec_err *err);
void ctl_ha_topic_stop(ctl_shared *sh);
/* The controller is asked to stop (SIGTERM taken): every wait on
 * PostgreSQL under way or to come ends by [server] stop_timeout_s less a
 * second (half of it at least) from now, those on the writer lock's
 * connection at once (store_stop_by, store_lock_interrupt), so a stalled
 * server cannot hold the stop until the parent kills the process. */
void ctl_ha_stopping(void);

#endif
