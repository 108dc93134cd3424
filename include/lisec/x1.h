/* The network element side of X1 (ETSI TS 103 221-1), for a POI to embed:
 * give it each X1 request body as received over mutual TLS, with the
 * identity of the ADMF certificate that sent it, and send back the response
 * body it returns. It keeps the tasks it is given, and calls back on every
 * change so the POI can start or stop interception. */
#ifndef LISEC_PUBLIC_X1_H
#define LISEC_PUBLIC_X1_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lisec_x1_ne lisec_x1_ne;

/* A task change: "activate", "modify" or "deactivate", the task's XID, and
 * for activate/modify the task as XML (the taskDetails element). */
typedef void (*lisec_x1_task_cb)(void *ctx, const char *change, const char *xid);

/* ne_id: this NE's identifier; admf_id: the only ADMF it obeys (the
 * certificate's common name must equal it and the messages must name it). */
lisec_x1_ne *lisec_x1_ne_new(const char *ne_id, const char *admf_id, lisec_x1_task_cb cb, void *ctx);
void lisec_x1_ne_free(lisec_x1_ne *ne);

/* Handles one request. peer_cn is the verified client certificate's CN.
 * *response is malloc'd XML (an ErrorResponse when the request is refused);
 * returns 0, or -1 when no response could be made at all. */
int lisec_x1_ne_handle(lisec_x1_ne *ne, const char *peer_cn, const char *request, size_t len,
                       char **response, size_t *response_len);

/* The number of active tasks, and a task's targets as "element=value" lines
 * (malloc'd; NULL when the XID is unknown). */
size_t lisec_x1_ne_task_count(const lisec_x1_ne *ne);
char *lisec_x1_ne_task_targets(const lisec_x1_ne *ne, const char *xid);

/* The tasks as a document to keep on disk (malloc'd JSON; it holds target
 * identifiers: write it 0600 and wipe the buffer), and back: load replaces
 * the task table with a document this NE saved. Both return 0 or -1 (out of
 * memory; a document that is malformed, over its bounds, or another NE's). */
int lisec_x1_ne_save(lisec_x1_ne *ne, char **out, size_t *len);
int lisec_x1_ne_load(lisec_x1_ne *ne, const char *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
