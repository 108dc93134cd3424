/* Use cases of Retained Data (issue 20; TR 103 308 §5.7, §5.8, O.1.4): the
 * RD administration (role rd-admin) puts, reads and removes retention
 * obligations (kept in the trust model and as documents in the store), and
 * lengthens a retention only by its signed command; the host running an
 * attested RD VM inside the obligation's jurisdiction fetches the RD
 * store's data key of a retention period; and when a period's retention
 * ends lisecd destroys that key in the keys process's token; a store's
 * live keys stay within [rd] max_live_keys. Every act,
 * and every refusal, is recorded sealed to the RD administration ([audit]
 * rd_seal_key); no reply or error to another role names an obligation's
 * details. docs/rd.md. */
#ifndef LISEC_CTL_RD_H
#define LISEC_CTL_RD_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl/ctl.h"

#define CTL_RD_OBLIGATION_KIND "rd.obligation"
#define CTL_RD_KEY_KIND "rd.key"
#define CTL_RD_RECIPIENT_KIND "rd.recipient"
#define CTL_RD_REQ_ROLE "TR103308-5.8-RD-ROLE"
#define CTL_RD_REQ_SHRED "TR103308-5.8-RD-SHRED"
#define CTL_RD_REQ_EARLY "TR103308-5.8-RD-EARLY"
#define CTL_RD_REQ_EXTEND "TR103308-5.8-RD-EXTEND"
/* The token's key store stays within what it can hold (§5.7): an RD
 * store's live data keys are bounded by [rd] max_live_keys. */
#define CTL_RD_REQ_BOUND "TR103308-5.7-RD-BOUND"
#define CTL_RD_MAX_LIVE_KEYS_DEFAULT 1024 /* daily keys kept two years, with room */
#define CTL_RD_MAX_LIVE_KEYS_MIN 2        /* the fewest any obligation needs */
#define CTL_RD_MAX_LIVE_KEYS_MAX 1000000

/* The most keys of one store an obligation with this period and retention
 * keeps live at once: period k's key lives from the start of period k
 * until retention_s after its end, so the periods with a live key at time t
 * start in (t - period_s - retention_s, t]: 1 + ceil(retention_s /
 * period_s). */
int64_t ctl_rd_keys_needed(int64_t period_s, int64_t retention_s);
/* The bound as an obligation id is put or extended: each of its stores,
 * with every other obligation naming it in `stored` (the stored
 * obligation documents by id; id's own is left out, it is being
 * replaced), needs at most max_live_keys keys at once, summed over the
 * obligations. ECONFLICT naming CTL_RD_REQ_BOUND, the store and [rd]
 * max_live_keys otherwise. */
int ctl_rd_bound_check(const json_t *stored, const char *id, const char *const *stores, size_t n_stores,
                       int64_t period_s, int64_t retention_s, int64_t max_live_keys, lisec_err *err);

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
 * yet destroyed. Put and extend are refused past [rd] max_live_keys
 * (ctl_rd_bound_check), nothing stored. */
int ctl_rd_delete(lisec_ctl *ctl, const ctl_actor *actor, const char *id, lisec_err *err);
/* POST /v1/rd/obligations/{id}/extend: the signed rd-extend command. */
int ctl_rd_extend(lisec_ctl *ctl, const ctl_actor *actor, const char *id, const json_t *body,
                  json_t **out, lisec_err *err);
/* POST /v1/rd/keys/{store}/{period} by the host (role host) running RD VM
 * ID, body {"vm": ID, "public_key": the VM's P-256 public key, PEM}, which
 * must be the key the RD administration registered for the VM
 * (ctl_rd_recipient_post; otherwise 403 TR103308-5.7-RD-KEY, the one
 * sentence of the model's refusals too, so a host cannot tell whether a VM
 * was registered):
 * {"store", "period", "algorithm": "AES-256", "wrap": CTL_RD_WRAP_SCHEME,
 * "ephemeral_public_key" (PEM), "wrapped_key" (base64, 40 bytes),
 * "period_start", "period_end", "destroy_at"}. The data key is wrapped to
 * public_key in the token; lisecd never holds it in clear. A missing,
 * malformed, oversized or non-P-256 key is 400 TR103308-5.7-RD-WRAP.
 * *gone is set when the period's key is destroyed (410,
 * TR103308-5.8-RD-SHRED). */
#define CTL_RD_WRAP_SCHEME "ECDH-P256+A256KW"
/* A request for a period whose key is not made yet is refused (ECONFLICT,
 * CTL_RD_REQ_BOUND) while the store holds [rd] max_live_keys live keys,
 * after the store's keys whose retention ended are destroyed. */
int ctl_rd_key(lisec_ctl *ctl, const ctl_actor *actor, const char *store, const char *period,
               const json_t *body, json_t **out, bool *gone, lisec_err *err);
/* POST /v1/rd/keys/{store}/{period}/destroy (rd-admin): destroys a key
 * whose retention has ended now instead of at the next check; refused
 * before then (TR103308-5.8-RD-EARLY). */
int ctl_rd_destroy(lisec_ctl *ctl, const ctl_actor *actor, const char *store, const char *period,
                   json_t **out, lisec_err *err);

/* The RD administration's registration of each RD VM's recipient key
 * (ctl/rd_recipient.c; model/rd_register.h has the signed command).
 * POST /v1/rd/recipients/{vm} (rd-admin): the signed rd-recipient command
 * (registers, replacing an earlier key) or rd-recipient-remove; a counter
 * per VM above every earlier command's (it outlives a removal), expiry
 * within 7 days, signed with [rd] admin_pubkey. Stored as
 * CTL_RD_RECIPIENT_KIND, recorded sealed to the RD administration. */
int ctl_rd_recipient_post(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, const json_t *body,
                          json_t **out, lisec_err *err);
/* GET /v1/rd/recipients/{vm} (rd-admin): {"vm", "registered", "public_key"?,
 * "last_counter"}; 404 when no command was ever accepted for vm. */
int ctl_rd_recipient_get(lisec_ctl *ctl, const ctl_actor *actor, const char *vm, json_t **out,
                         lisec_err *err);
/* The key registered for vm: its point, and the signed registration (at
 * most MODEL_RD_REG_MAX bytes into reg, NUL-terminated; cap its size) that
 * the keys process verifies before it wraps. ENOTFOUND when none is. */
int ctl_rd_recipient_of(lisec_ctl *ctl, const char *vm, uint8_t point[65], char *reg, size_t cap,
                        lisec_err *err);

/* For ctl/rd_recipient.c: [rd] admin_pubkey (NULL when unset), and the
 * RD administration's role check that records a refusal sealed
 * (TR103308-5.8-RD-ROLE). */
EVP_PKEY *ctl_rd_admin_key(const ctl_shared *sh);
int ctl_rd_need_admin(lisec_ctl *ctl, const ctl_actor *actor, const char *action, const char *subject,
                      lisec_err *err);

#endif
