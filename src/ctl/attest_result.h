/* A host's newest appraisal result kept in two parts (issue 15's figure):
 * what changes with every report (its time, nonce and the quote's clock
 * and counters) stays in the host's document ("last"), and the rest of the
 * EAR and verdict, which a steady host repeats report after report, is a
 * document of its own (kind CTL_ATTEST_RESULT_KIND, id the host) written
 * only when it changes, named from "last" by the SHA-256 of its text.
 * Reading puts the two together again, so an EAR read back is the one
 * made. Documents stored before the split carry the whole EAR and verdict
 * in "last" and are read as they are. */
#ifndef LISEC_CTL_ATTEST_RESULT_H
#define LISEC_CTL_ATTEST_RESULT_H

#include <jansson.h>

#include "base/base.h"
#include "store/store.h"

#define CTL_ATTEST_RESULT_KIND "attest.result"
#define CTL_ATTEST_RESULT_REF_LEN 32 /* hex digits: the first 16 bytes of its SHA-256 */

/* Moves the per-report members of ear (iat, eat_nonce) and of vj's quote
 * (clock, reset_count, restart_count, safe) into last (as "nonce" and
 * "quote"; iat is last's "at"), leaving ear and vj the lasting part, and
 * returns that part's canonical text (malloc'd), its reference set in last
 * ("result") and in ref. NULL when out of memory. */
char *ctl_attest_result_split(json_t *last, json_t *ear, json_t *vj,
                              char ref[CTL_ATTEST_RESULT_REF_LEN + 1]);

/* last with its EAR and verdict whole again, as a new object whose
 * members are in canonical (sorted) order, like a document read from the
 * store: the result document host's reference names is read from s and
 * the per-report members put back. A last without a reference (stored
 * before the split) comes back as it is; one whose result document is
 * missing or is not the one named comes back without "ear" and "verdict"
 * (*err says why). NULL only when out of memory or last is NULL. */
json_t *ctl_attest_result_join(lisec_store *s, const char *host, const json_t *last, lisec_err *err);

#endif
