/* liblisec-events inside (not exported: lisec-events.map): sending a body
 * as lisec_event_send_body does, with what lisecd's refusal carries beyond
 * its message, for the spool (libspool.c) to read fields rather than
 * text. */
#ifndef LISEC_EVENTS_LIBSEND_H
#define LISEC_EVENTS_LIBSEND_H

#include "lisec/events.h"

/* As lisec_event_send_body; *last_seq (may be NULL) is the refusal's
 * error.last_seq (lisecd's last accepted seq, in its 409 for a replay),
 * -1 when the answer has none; *last_same (may be NULL) its
 * error.last_same (whether the batch's event at that seq is the one lisecd
 * recorded there): 1, 0, or -1 when absent. */
int evs_send_body(lisec_event_client *c, const char *body, long *status, long long *last_seq,
                  int *last_same, char err[LISEC_EVENT_ERR_MAX]);

#endif
