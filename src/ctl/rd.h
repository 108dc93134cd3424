/* Use cases of Retained Data (issue 20; TR 103 308 §5.7, §5.8, O.1.4): the
 * RD administration (role rd-admin) puts, reads and removes retention
 * obligations (kept in the trust model and as documents in the store), and
 * lengthens a retention only by its signed command; the host running an
 * attested RD VM inside the obligation's jurisdiction fetches the RD
 * store's data key of a retention period; and when a period's retention
 * ends lisecd destroys that key in the keys process's token. Every act,
 * and every refusal, is recorded sealed to the RD administration ([audit]
 * rd_seal_key); no reply or error to another role names an obligation's
 * details. docs/rd.md. */
#ifndef LISEC_CTL_RD_H
#define LISEC_CTL_RD_H

#include <jansson.h>
#include <stdbool.h>

#include "ctl/ctl.h"

#define CTL_RD_OBLIGATION_KIND "rd.obligation"
#define CTL_RD_KEY_KIND "rd.key"
#define CTL_RD_REQ_ROLE "TR103308-5.8-RD-ROLE"
#define CTL_RD_REQ_SHRED "TR103308-5.8-RD-SHRED"
#define CTL_RD_REQ_EARLY "TR103308-5.8-RD-EARLY"
#define CTL_RD_REQ_EXTEND "TR103308-5.8-RD-EXTEND"

/* PUT /v1/rd/obligations/{id}: {"jurisdiction", "functions": [VM ids],
 * "stores": [storage ids], "period_s" | "period_days", "retention_s" |
 * "retention_days", "valid_from"?: RFC 3339 or seconds (default: now)}.
 * A replacement keeps period, start and retention (retention changes only
 * by ctl_rd_extend). */
int ctl_rd_put(lisec_ctl *ctl, const ctl_actor *actor, const char *id, const json_t *body,
               json_t **out, lisec_err *err);
int ctl_rd_get(lisec_ctl *ctl, const ctl_actor *actor, const char *id, json_t **out,
               lisec_err *err);
int ctl_rd_list(lisec_ctl *ctl, const ctl_actor *actor, json_t **out, lisec_err *err);
/* Refused (TR103308-5.8-RD-EARLY) while a key of one of its stores is not
 * yet destroyed. */
int ctl_rd_delete(lisec_ctl *ctl, const ctl_actor *actor, const char *id, lisec_err *err);
/* POST /v1/rd/obligations/{id}/extend: the signed rd-extend command. */
int ctl_rd_extend(lisec_ctl *ctl, const ctl_actor *actor, const char *id, const json_t *body,
                  json_t **out, lisec_err *err);
/* POST /v1/rd/keys/{store}/{period} by the host (role host) running RD VM
 * ID, body {"vm": ID, "public_key": the VM's P-256 public key, PEM}:
 * {"store", "period", "algorithm": "AES-256", "wrap": CTL_RD_WRAP_SCHEME,
 * "ephemeral_public_key" (PEM), "wrapped_key" (base64, 40 bytes),
 * "period_start", "period_end", "destroy_at"}. The data key is wrapped to
 * public_key in the token; lisecd never holds it in clear. A missing,
 * malformed, oversized or non-P-256 key is 400 TR103308-5.7-RD-WRAP.
 * *gone is set when the period's key is destroyed (410,
 * TR103308-5.8-RD-SHRED). */
#define CTL_RD_WRAP_SCHEME "ECDH-P256+A256KW"
int ctl_rd_key(lisec_ctl *ctl, const ctl_actor *actor, const char *store, const char *period,
               const json_t *body, json_t **out, bool *gone, lisec_err *err);
/* POST /v1/rd/keys/{store}/{period}/destroy (rd-admin): destroys a key
 * whose retention has ended now instead of at the next check; refused
 * before then (TR103308-5.8-RD-EARLY). */
int ctl_rd_destroy(lisec_ctl *ctl, const ctl_actor *actor, const char *store, const char *period,
                   json_t **out, lisec_err *err);

#endif
