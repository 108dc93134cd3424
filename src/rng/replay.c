/* Replay refusal for seed requests (the "replays are refused"): per
 * client the daemon remembers the last RNG_REPLAY_NONCES nonces and, per
 * (boot id, VM generation id, library instance) stream, the highest counter
 * seen. A request is
 * accepted once; a repeat is refused by its nonce, an older request by its
 * counter. Memory is bounded: a stream evicted to make room leaves its
 * counter behind as the client's floor, below which nothing is accepted from
 * an unknown stream. A clone of a VM that replays its parent's request thus
 * gets nothing, and must come back with a fresh nonce and counter. A
 * counter above the caller's ceiling (the daemon's clock and a bound: the
 * library's counter is a real time) is refused before anything is kept:
 * once its stream was forgotten it would become the floor, and every later
 * stream of that client with a right clock would be refused as a replay. */
#include <stdlib.h>
#include <string.h>

#include "rng/rng.h"

#define NONCE_KEY 16

typedef struct replay_stream {
  uint8_t bootid[RNG_ID_LEN], genid[RNG_ID_LEN], instance[RNG_ID_LEN];
  uint64_t last, used;
  bool live;
} replay_stream;

typedef struct replay_client {
  char name[256];
  uint8_t nonces[RNG_REPLAY_NONCES][NONCE_KEY];
  size_t nonce_next, nonce_count;
  replay_stream streams[RNG_REPLAY_STREAMS];
  uint64_t floor, tick;
} replay_client;

struct rng_replay {
  replay_client **clients;
  size_t n;
};

rng_replay *rng_replay_new(void) { return calloc(1, sizeof(rng_replay)); }

void rng_replay_free(rng_replay *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) free(r->clients[i]);
  free(r->clients);
  free(r);
}

static replay_client *replay_client_get(rng_replay *r, const char *name, lisec_err *err) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->clients[i]->name, name) == 0) return r->clients[i];
  if (strlen(name) >= sizeof r->clients[0]->name) {
    lisec_err_set(err, LISEC_EINVAL, "seed request: client name too long");
    return NULL;
  }
  if (r->n >= RNG_REPLAY_CLIENTS_MAX) {
    lisec_err_set(err, LISEC_ETOOBIG, "seed request: more than %d clients tracked",
                  RNG_REPLAY_CLIENTS_MAX);
    return NULL;
  }
  replay_client **grown = realloc(r->clients, (r->n + 1) * sizeof *grown);
  if (!grown) {
    lisec_err_set(err, LISEC_ENOMEM, "seed request: out of memory");
    return NULL;
  }
  r->clients = grown;
  replay_client *c = calloc(1, sizeof *c);
  if (!c) {
    lisec_err_set(err, LISEC_ENOMEM, "seed request: out of memory");
    return NULL;
  }
  strcpy(c->name, name);
  r->clients[r->n++] = c;
  return c;
}

int rng_replay_check(rng_replay *r, const char *client, const rng_msg *req, lisec_err *err) {
  return rng_replay_check_max(r, client, req, UINT64_MAX, err);
}

int rng_replay_check_max(rng_replay *r, const char *client, const rng_msg *req, uint64_t ceiling,
                         lisec_err *err) {
  if (!r || !client || !req || req->type != RNG_MSG_REQUEST)
    return lisec_err_set(err, LISEC_EINVAL, "replay check: not a seed request");
  if (req->counter > ceiling)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-5.12: seed request refused (counter %llu is ahead of the "
                         "highest the daemon accepts now, %llu)",
                         (unsigned long long)req->counter, (unsigned long long)ceiling);
  replay_client *c = replay_client_get(r, client, err);
  if (!c) return err ? err->code : LISEC_EINTERNAL;
  for (size_t i = 0; i < c->nonce_count; i++)
    if (memcmp(c->nonces[i], req->nonce, NONCE_KEY) == 0)
      return lisec_err_set(err, LISEC_ECONFLICT,
                           "TR103308-5.12: replayed seed request refused (nonce already used)");
  replay_stream *s = NULL, *victim = &c->streams[0];
  for (size_t i = 0; i < RNG_REPLAY_STREAMS; i++) {
    replay_stream *t = &c->streams[i];
    if (t->live && memcmp(t->bootid, req->bootid, RNG_ID_LEN) == 0 &&
        memcmp(t->genid, req->genid, RNG_ID_LEN) == 0 &&
        memcmp(t->instance, req->instance, RNG_ID_LEN) == 0) {
      s = t;
      break;
    }
    if (!t->live || (victim->live && t->used < victim->used)) victim = t;
  }
  if (s && req->counter <= s->last)
    return lisec_err_set(err, LISEC_ECONFLICT,
                         "TR103308-5.12: replayed seed request refused (counter %llu not above "
                         "%llu)",
                         (unsigned long long)req->counter, (unsigned long long)s->last);
  if (!s && req->counter <= c->floor)
    return lisec_err_set(err, LISEC_ECONFLICT,
                         "TR103308-5.12: replayed seed request refused (counter %llu at or below "
                         "the client's floor)",
                         (unsigned long long)req->counter);
  if (!s) {
    if (victim->live && victim->last > c->floor) c->floor = victim->last;
    s = victim;
    memcpy(s->bootid, req->bootid, RNG_ID_LEN);
    memcpy(s->genid, req->genid, RNG_ID_LEN);
    memcpy(s->instance, req->instance, RNG_ID_LEN);
    s->live = true;
  }
  s->last = req->counter;
  s->used = ++c->tick;
  memcpy(c->nonces[c->nonce_next], req->nonce, NONCE_KEY);
  c->nonce_next = (c->nonce_next + 1) % RNG_REPLAY_NONCES;
  if (c->nonce_count < RNG_REPLAY_NONCES) c->nonce_count++;
  return 0;
}
