/* When the ADMF asks an NE again to deactivate an XID it lists and the
 * ADMF does not know (see x1_unknown.h): a table of the XIDs asked, how
 * often and when next, grown as needed up to one list's worth; what the
 * NE stops listing leaves it. */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/x1_unknown.h"

#define XID_MAX 36 /* a UUID (x1/x1.h X1_UUID_LEN) */

typedef struct entry {
  char xid[XID_MAX + 1];
  unsigned asked;
  int64_t next_ms;
} entry;

struct ctl_x1_unknown {
  int64_t max_ms;
  entry *e;
  size_t n, cap;
};

ctl_x1_unknown *ctl_x1_unknown_new(int64_t backoff_max_ms) {
  ctl_x1_unknown *u = calloc(1, sizeof *u);
  if (u)
    u->max_ms = backoff_max_ms < CTL_X1_UNKNOWN_BACKOFF_MIN_MS ? CTL_X1_UNKNOWN_BACKOFF_MIN_MS : backoff_max_ms;
  return u;
}

void ctl_x1_unknown_free(ctl_x1_unknown *u) {
  if (!u) return;
  free(u->e);
  free(u);
}

static entry *find(const ctl_x1_unknown *u, const char *xid) {
  for (size_t i = 0; i < u->n; i++)
    if (strcmp(u->e[i].xid, xid) == 0) return &u->e[i];
  return NULL;
}

static bool listed(const char *const *xids, size_t n, const char *xid) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(xids[i], xid) == 0) return true;
  return false;
}

size_t ctl_x1_unknown_due(ctl_x1_unknown *u, const char *const *xids, size_t n, int64_t now_ms, size_t *picked,
                          size_t max) {
  if (n > CTL_X1_UNKNOWN_MAX) n = CTL_X1_UNKNOWN_MAX;
  size_t keep = 0;
  for (size_t i = 0; i < u->n; i++)
    if (listed(xids, n, u->e[i].xid)) u->e[keep++] = u->e[i];
  u->n = keep;
  /* each listed XID's due time (0: never asked); INT64_MAX: not due */
  int64_t at[CTL_X1_UNKNOWN_MAX];
  for (size_t i = 0; i < n; i++) {
    const entry *e = find(u, xids[i]);
    int64_t next = e ? e->next_ms : 0;
    bool due = next <= now_ms || next - now_ms > u->max_ms; /* a clock stepped back waits no longer */
    at[i] = due ? next : INT64_MAX;
  }
  size_t k = 0;
  while (k < max) {
    size_t best = n;
    for (size_t i = 0; i < n; i++)
      if (at[i] != INT64_MAX && (best == n || at[i] < at[best])) best = i;
    if (best == n) break;
    picked[k++] = best;
    /* an XID listed twice is asked once */
    for (size_t i = 0; i < n; i++)
      if (i == best || strcmp(xids[i], xids[best]) == 0) at[i] = INT64_MAX;
  }
  return k;
}

static int64_t backoff_ms(const ctl_x1_unknown *u, unsigned asked) {
  int64_t ms = CTL_X1_UNKNOWN_BACKOFF_MIN_MS;
  for (unsigned i = 1; i < asked && ms < u->max_ms; i++) ms *= 2;
  return ms > u->max_ms ? u->max_ms : ms;
}

void ctl_x1_unknown_asked(ctl_x1_unknown *u, const char *xid, int64_t now_ms) {
  if (strlen(xid) > XID_MAX) return;
  entry *e = find(u, xid);
  if (!e) {
    if (u->n == u->cap) {
      size_t cap = u->cap ? u->cap * 2 : 16;
      if (cap > CTL_X1_UNKNOWN_MAX) cap = CTL_X1_UNKNOWN_MAX;
      entry *grown = cap > u->cap ? realloc(u->e, cap * sizeof *grown) : NULL;
      if (!grown) return; /* full, or out of memory: stays due */
      u->e = grown;
      u->cap = cap;
    }
    e = &u->e[u->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->xid, xid, strlen(xid) + 1);
  }
  if (e->asked < UINT_MAX) e->asked++;
  e->next_ms = now_ms + backoff_ms(u, e->asked);
}

int64_t ctl_x1_unknown_next(const ctl_x1_unknown *u, const char *xid, unsigned *asked) {
  const entry *e = find(u, xid);
  if (asked) *asked = e ? e->asked : 0;
  return e ? e->next_ms : 0;
}

size_t ctl_x1_unknown_count(const ctl_x1_unknown *u) { return u->n; }
