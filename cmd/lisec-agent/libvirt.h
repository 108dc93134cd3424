/* lisec-agent's view of libvirt (libvirt.c): the host's inventory that is
 * bound to each quote, the lifecycle events that make the agent attest at
 * once, and the image digests it keeps between re-hashes (issue 15). */
#ifndef LISEC_AGENT_LIBVIRT_H
#define LISEC_AGENT_LIBVIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"

typedef struct agent_lv_conf {
  const char *uri;             /* "" or NULL: no libvirt on this host, no inventory */
  int64_t debounce_ms;         /* quiet time after a lifecycle event before attesting */
  int64_t event_min_gap_ms;    /* at most one event-driven attestation per this */
  int64_t rehash_s;            /* running LI VMs' images are hashed again after this (+/- 25 %) */
} agent_lv_conf;

typedef struct agent_lv agent_lv;

/* Connects to conf->uri; with events, registers libvirt's default event
 * loop (once per process), runs it in a thread and listens for lifecycle
 * events. 0, or 2 with the reason printed. */
int agent_lv_open(const agent_lv_conf *conf, bool events, agent_lv **out);
void agent_lv_close(agent_lv *lv);

/* The inventory (docs/observed.md, i15-interface §1) of every domain,
 * compact JSON, malloc'd in *out. Images of running LI VMs (a lisec VM id
 * in their metadata) are hashed again when due or after a resume or
 * migration event; other images reuse the digest kept for the same (dev,
 * inode, size, mtime). 0, or 2 with the reason printed. */
int agent_lv_inventory(agent_lv *lv, const char *host, char **out, size_t *len);

/* Whether a lifecycle event arrived, has been quiet for debounce_ms and the
 * last event-driven attestation is event_min_gap_ms ago; taking it clears it. */
bool agent_lv_event_due(agent_lv *lv, int64_t now_ms);
void agent_lv_event_taken(agent_lv *lv, int64_t now_ms);

/* `lisec-agent inventory`: the inventory now, on stdout or in out_path. */
int agent_cmd_inventory(const agent_settings *s, const agent_lv_conf *conf, const char *out_path);

/* `lisec-agent quote` with an inventory: the quote's qualifying data is
 * attest_inventory_binding(nonce, SHA-256(the file's bytes)). */
int agent_cmd_quote_inventory(const agent_settings *s, const char *nonce_hex, const char *out,
                              const char *inventory_path);

#endif
