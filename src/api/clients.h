/* How many connections each client certificate holds open on lisecd's
 * front ([server] max_client_connections), so that one client (a tenant, a
 * host) cannot take the whole connection cap and lock every other role
 * out. A client is its certificate: the SHA-256 of the leaf's DER. The
 * count is taken when a connection's handshake completes and given back
 * when it closes, on whatever front worker's thread that happens; both
 * take one lock, never a request on an open connection. The table holds
 * one entry per client with a connection open, so at most the connection
 * cap's worth. */
#ifndef LISEC_API_CLIENTS_H
#define LISEC_API_CLIENTS_H

#include <stdint.h>

#define API_CLIENT_ID_LEN 32 /* SHA-256 */

typedef struct api_clients api_clients;
typedef struct api_client api_client;

/* A table for clients holding at most limit connections each, sized for a
 * connection cap of cap; NULL when out of memory. */
api_clients *api_clients_new(int limit, int cap);
/* Frees the table; every connection must have given its count back. */
void api_clients_free(api_clients *t);
/* One more connection of the client id: 0 and its entry in *out (for
 * api_clients_give), 1 when the client holds limit already, -1 when out of
 * memory. */
int api_clients_take(api_clients *t, const uint8_t id[API_CLIENT_ID_LEN], api_client **out);
/* A connection of e's client closed. */
void api_clients_give(api_clients *t, api_client *e);
/* The limit the table enforces. */
int api_clients_limit(const api_clients *t);

#endif
