/* Inside liblisec-events: the one function that signs for the VM, whatever
 * holds its key (a software key in a PEM file, or a key in the VM's TPM,
 * tpmkey.h) and whatever the bytes are (an event's canonical form today;
 * any statement a caller builds). Not exported (lisec-events.map exports
 * lisec_event_* only). */
#ifndef LISEC_EVENTS_LIBKEY_H
#define LISEC_EVENTS_LIBKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "lisec/events.h"

/* The signature lisecd verifies with the VM's public key: ECDSA P-256 over
 * SHA-256 of msg (DER), or Ed25519 over msg, for either kind of key.
 * *sig malloc'd. */
int evk_sign(const lisec_event_key *k, const void *msg, size_t len, uint8_t **sig, size_t *sig_len,
             lisec_err *err);

/* As lisec_event_seq_next, taking count seqs at once: above max(the
 * state's, floor), or (from_floor) from floor + 1 on. The state never goes
 * down: it says the last seq given, or its own when that is higher. *seq
 * is the first. from_floor gives again seqs above floor the state gave
 * before: for the spool only, after lisecd showed the VM's counter went
 * back, when every event of those seqs is made again (libspool_renum.c). */
int evk_seq_take(const char *state_path, uint64_t floor, uint64_t count, bool from_floor,
                 unsigned long long *seq, char err[LISEC_EVENT_ERR_MAX]);

#endif
