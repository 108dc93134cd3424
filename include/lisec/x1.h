/* The network element side of X1 (ETSI TS 103 221-1), for a POI to embed:
 * give it each X1 request body as received over mutual TLS, with the
 * identity of the ADMF certificate that sent it, and send back the response
 * body it returns. It keeps the tasks and delivery destinations it is given,
 * answers every request with the standard's response or error code (echoing
 * the request's type and transaction), and calls back on every change so the
 * POI can start or stop interception. It also keeps destination sets and
 * HashedID hash contexts, and answers GetAllDetails, GetAllTaskDetails,
 * GetAllDestinationDetails and RemoveAllDestinations. docs/x1.md lists what
 * it supports. */
#ifndef LISEC_PUBLIC_X1_H
#define LISEC_PUBLIC_X1_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lisec_x1_ne lisec_x1_ne;

/* A change: "activate", "modify" or "deactivate" with the task's XID;
 * "deactivate-all" (DeactivateAllTasks) with an empty id; "create-
 * destination", "modify-destination" or "remove-destination" with the DID;
 * "remove-all-destinations" (RemoveAllDestinations) with an empty id;
 * "create-object", "modify-object" or "delete-object" with the objectId of
 * a destination set or a HashedID hash context. */
typedef void (*lisec_x1_task_cb)(void *ctx, const char *change, const char *id);

/* ne_id: this NE's identifier; admf_id: the only ADMF it obeys (the
 * certificate's common name must equal it and the messages must name it).
 * It accepts X1 versions v1.13.1 to the schema's, v1.22.1. */
lisec_x1_ne *lisec_x1_ne_new(const char *ne_id, const char *admf_id, lisec_x1_task_cb cb, void *ctx);
void lisec_x1_ne_free(lisec_x1_ne *ne);

/* The X1 versions ("v1.N.M") this NE accepts; a request of another gets
 * error 1020. Returns 0, or -1 when either is not a version or min > max. */
int lisec_x1_ne_set_versions(lisec_x1_ne *ne, const char *min, const char *max);
/* strict != 0: ActivateTask and ModifyTask naming a destination (dId) that
 * was not created with CreateDestination, or a destination set (dSId) not
 * created with CreateObject, and a destination set naming a destination not
 * created, are refused, as a real NE does. Off by default. A HashedID target
 * always needs its hash context (CreateObject with a HashContext) first. */
void lisec_x1_ne_set_strict_destinations(lisec_x1_ne *ne, int strict);

/* Handles one request container (one or several messages). peer_cn is the
 * verified client certificate's CN. *response is malloc'd XML: one response
 * per message, an ErrorResponse for each refused one, or an
 * X1TopLevelErrorResponse when the container could not be read at all;
 * returns 0, or -1 when no response could be made. */
int lisec_x1_ne_handle(lisec_x1_ne *ne, const char *peer_cn, const char *request, size_t len,
                       char **response, size_t *response_len);

/* The number of active tasks, and a task's targets as "element=value" lines
 * (malloc'd; NULL when the XID is unknown). */
size_t lisec_x1_ne_task_count(const lisec_x1_ne *ne);
char *lisec_x1_ne_task_targets(const lisec_x1_ne *ne, const char *xid);

/* The tasks and destinations as a document to keep on disk (malloc'd JSON;
 * it holds target identifiers: write it 0600 and wipe the buffer), and back:
 * load replaces the tables with a document this NE saved. Both return 0 or
 * -1 (out of memory; a document that is malformed, over its bounds, or
 * another NE's). */
int lisec_x1_ne_save(lisec_x1_ne *ne, char **out, size_t *len);
int lisec_x1_ne_load(lisec_x1_ne *ne, const char *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
