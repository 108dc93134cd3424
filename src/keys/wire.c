/* The controller <-> keys messages (wire.h): one writer and one reader per
 * message type, in the same field order, each field read with its bound. */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "keys/wire.h"

#define RC_MAX 64 /* LISEC_E* codes are small; anything else is not one */

static const char *const type_names[KEYS_MSG_END] = {
    [KEYS_MSG_HELLO] = "HELLO",           [KEYS_MSG_SEAL] = "SEAL",
    [KEYS_MSG_OPEN] = "OPEN",             [KEYS_MSG_REWRAP] = "REWRAP",
    [KEYS_MSG_KEK_USE] = "KEK_USE",       [KEYS_MSG_KEK_CURRENT] = "KEK_CURRENT",
    [KEYS_MSG_KEK_UNLOAD] = "KEK_UNLOAD", [KEYS_MSG_AUDIT_SIGN] = "AUDIT_SIGN",
    [KEYS_MSG_LI_CHECK] = "LI_CHECK",       [KEYS_MSG_X1_SIGN] = "X1_SIGN",
    [KEYS_MSG_AUDIT_NEXT] = "AUDIT_NEXT",   [KEYS_MSG_AUDIT_SIGN_NEXT] = "AUDIT_SIGN_NEXT",
    [KEYS_MSG_AUDIT_PROMOTE] = "AUDIT_PROMOTE",
    [KEYS_MSG_OPEN_BATCH] = "OPEN_BATCH", [KEYS_MSG_RD_KEY] = "RD_KEY",
    [KEYS_MSG_RD_DESTROY] = "RD_DESTROY", [KEYS_MSG_REWRAP_BATCH] = "REWRAP_BATCH",
    [KEYS_MSG_AUDIT_WITNESS] = "AUDIT_WITNESS", [KEYS_MSG_EVICT] = "EVICT",
    [KEYS_MSG_CACHE_HELD] = "CACHE_HELD"};

const char *keys_wire_type_name(uint16_t type) {
  return type > 0 && type < KEYS_MSG_END ? type_names[type] : "unknown";
}

static int unknown(uint16_t type, const char *what, lisec_err *err) {
  return lisec_err_set(err, LISEC_EINVAL, "keys %s: unknown message type %u", what, (unsigned)type);
}

/* The first problem of a field that parsed but is out of range. */
static void bad(ipc_reader *r, const char *why) {
  if (!r->bad) r->bad = why;
}

void keys_wire_put_sealed(ipc_writer *w, const vault_sealed *s) {
  ipc_put_str(w, s->id);
  ipc_put_str(w, s->authorisation);
  ipc_put_u64(w, (uint64_t)s->version);
  ipc_put_str(w, s->kek_label);
  ipc_put_bytes(w, s->wrapped_key, s->wrapped_key_len);
  ipc_put_bytes(w, s->ciphertext, s->ciphertext_len);
}

size_t keys_wire_sealed_size(const vault_sealed *s) {
  return 4 + strlen(s->id) + 4 + strlen(s->authorisation) + 8 + 4 + strlen(s->kek_label) + 4 + s->wrapped_key_len +
         4 + s->ciphertext_len;
}

static void get_sealed(ipc_reader *r, vault_sealed *s) {
  memset(s, 0, sizeof *s);
  ipc_get_str(r, s->id, sizeof s->id);
  ipc_get_str(r, s->authorisation, sizeof s->authorisation);
  uint64_t v = ipc_get_u64(r);
  if (v > INT64_MAX) bad(r, "record version out of range");
  s->version = (int64_t)v;
  ipc_get_str(r, s->kek_label, sizeof s->kek_label);
  const uint8_t *p = NULL;
  size_t n = 0;
  ipc_get_bytes(r, VAULT_WRAPPED_MAX, &p, &n);
  if (p && n) memcpy(s->wrapped_key, p, n);
  s->wrapped_key_len = n;
  ipc_get_bytes(r, KEYS_DATA_MAX, &p, &n);
  s->ciphertext = (uint8_t *)p; /* borrowed from the payload */
  s->ciphertext_len = n;
}

/* ---- OPEN_BATCH ------------------------------------------------------------ */

static void get_opened(ipc_reader *r, keys_opened *o) {
  memset(o, 0, sizeof *o);
  ipc_get_str(r, o->id, sizeof o->id);
  uint32_t code = ipc_get_u32(r);
  if (code > RC_MAX) bad(r, "rc is not an error code");
  o->rc = -(int)(code > RC_MAX ? 0 : code);
  ipc_get_str(r, o->msg, sizeof o->msg);
  ipc_get_bytes(r, KEYS_DATA_MAX, &o->data, &o->data_len);
  if (r->bad) return;
  if (!o->id[0]) bad(r, "an answer without a record id");
  else if (o->rc && !o->msg[0]) bad(r, "an error without a reason");
  else if (!o->rc && o->msg[0]) bad(r, "a success with a reason");
  else if (o->rc && o->data_len) bad(r, "an error with identifiers");
}

void keys_wire_put_opened(ipc_writer *w, const keys_opened *o) {
  ipc_put_str(w, o->id);
  ipc_put_u32(w, (uint32_t)(o->rc < 0 ? -o->rc : 0));
  ipc_put_str(w, o->rc ? o->msg : "");
  ipc_put_bytes(w, o->rc ? NULL : o->data, o->rc ? 0 : o->data_len);
}

size_t keys_wire_opened_size(const keys_opened *o) {
  return 4 + strlen(o->id) + 4 + 4 + (o->rc ? strlen(o->msg) : 0) + 4 + (o->rc ? 0 : o->data_len);
}

/* ---- REWRAP_BATCH ---------------------------------------------------------- */

static void get_rewrapped(ipc_reader *r, keys_rewrapped *a) {
  memset(a, 0, sizeof *a);
  ipc_get_str(r, a->id, sizeof a->id);
  uint64_t v = ipc_get_u64(r);
  if (v > INT64_MAX) bad(r, "record version out of range");
  a->version = (int64_t)v;
  uint32_t code = ipc_get_u32(r);
  if (code > RC_MAX) bad(r, "rc is not an error code");
  a->rc = -(int)(code > RC_MAX ? 0 : code);
  ipc_get_str(r, a->msg, sizeof a->msg);
  uint8_t flag = ipc_get_u8(r);
  if (flag > 1) bad(r, "changed is neither 0 nor 1");
  a->changed = flag == 1;
  ipc_get_str(r, a->kek_label, sizeof a->kek_label);
  ipc_get_bytes(r, VAULT_WRAPPED_MAX, &a->wrapped_key, &a->wrapped_key_len);
  if (r->bad) return;
  if (!a->id[0]) bad(r, "an answer without a record id");
  else if (a->rc && !a->msg[0]) bad(r, "an error without a reason");
  else if (!a->rc && a->msg[0]) bad(r, "a success with a reason");
  else if (a->rc && (a->changed || a->kek_label[0] || a->wrapped_key_len)) bad(r, "an error with a wrapped key");
  else if (!a->rc && (!a->kek_label[0] || !a->wrapped_key_len)) bad(r, "a re-wrap without its KEK label or wrapped key");
}

void keys_wire_put_rewrapped(ipc_writer *w, const keys_rewrapped *a) {
  ipc_put_str(w, a->id);
  ipc_put_u64(w, (uint64_t)a->version);
  ipc_put_u32(w, (uint32_t)(a->rc < 0 ? -a->rc : 0));
  ipc_put_str(w, a->rc ? a->msg : "");
  ipc_put_u8(w, !a->rc && a->changed ? 1 : 0);
  ipc_put_str(w, a->rc ? "" : a->kek_label);
  ipc_put_bytes(w, a->rc ? NULL : a->wrapped_key, a->rc ? 0 : a->wrapped_key_len);
}

size_t keys_wire_rewrapped_size(const keys_rewrapped *a) {
  return 4 + strlen(a->id) + 8 + 4 + 4 + (a->rc ? strlen(a->msg) : 0) + 1 + 4 + (a->rc ? 0 : strlen(a->kek_label)) +
         4 + (a->rc ? 0 : a->wrapped_key_len);
}

/* ---- batches ------------------------------------------------------------- */

void keys_wire_batch_begin(keys_batch_iter *it, const uint8_t *p, size_t n, uint32_t count) {
  ipc_reader_init(&it->r, p, n);
  it->left = count;
}

bool keys_wire_batch_sealed(keys_batch_iter *it, vault_sealed *s) {
  if (!it->left || it->r.bad) return false;
  it->left--;
  get_sealed(&it->r, s);
  return !it->r.bad;
}

bool keys_wire_batch_opened(keys_batch_iter *it, keys_opened *o) {
  if (!it->left || it->r.bad) return false;
  it->left--;
  get_opened(&it->r, o);
  return !it->r.bad;
}

bool keys_wire_batch_rewrapped(keys_batch_iter *it, keys_rewrapped *a) {
  if (!it->left || it->r.bad) return false;
  it->left--;
  get_rewrapped(&it->r, a);
  return !it->r.bad;
}

/* What a batch holds: records (both requests), OPEN_BATCH's or
 * REWRAP_BATCH's answers. */
typedef enum { ITEM_SEALED, ITEM_OPENED, ITEM_REWRAPPED } batch_item;

/* A batch's count and its items, each read once to check it; *batch and
 * *len then cover the items for a keys_batch_iter. */
static void get_batch(ipc_reader *r, batch_item kind, uint32_t *count, const uint8_t **batch, size_t *len) {
  *count = ipc_get_u32(r);
  if (r->bad) return;
  if (*count == 0 || *count > KEYS_BATCH_LIMIT) {
    bad(r, "a batch count out of 1..4096");
    return;
  }
  *batch = r->p;
  size_t before = r->left;
  for (uint32_t i = 0; i < *count && !r->bad; i++) {
    if (kind == ITEM_OPENED) {
      keys_opened o;
      get_opened(r, &o);
    } else if (kind == ITEM_REWRAPPED) {
      keys_rewrapped a;
      get_rewrapped(r, &a);
    } else {
      vault_sealed s;
      get_sealed(r, &s);
    }
  }
  *len = before - r->left;
}

void keys_wire_put_request(ipc_writer *w, const keys_request *q) {
  switch (q->type) {
  case KEYS_MSG_SEAL:
    ipc_put_str(w, q->id);
    ipc_put_str(w, q->authorisation);
    ipc_put_u64(w, (uint64_t)q->version);
    ipc_put_bytes(w, q->data, q->data_len);
    break;
  case KEYS_MSG_OPEN:
  case KEYS_MSG_REWRAP:
    keys_wire_put_sealed(w, &q->sealed);
    break;
  case KEYS_MSG_KEK_USE:
    ipc_put_str(w, q->name);
    ipc_put_u8(w, q->create ? 1 : 0);
    break;
  case KEYS_MSG_AUDIT_NEXT:
    ipc_put_u8(w, q->create ? 1 : 0);
    break;
  case KEYS_MSG_AUDIT_SIGN:
  case KEYS_MSG_AUDIT_SIGN_NEXT:
    ipc_put_bytes(w, q->data, q->data_len);
    ipc_put_u64(w, q->old_size);
    ipc_put_bytes(w, q->proof, q->proof_len);
    break;
  case KEYS_MSG_AUDIT_PROMOTE:
    ipc_put_bytes(w, q->data, q->data_len);
    break;
  case KEYS_MSG_X1_SIGN:
    ipc_put_str(w, q->path);
    ipc_put_u8(w, q->alg);
    ipc_put_bytes(w, q->data, q->data_len);
    break;
  case KEYS_MSG_OPEN_BATCH: /* the records as keys_wire_put_sealed wrote them */
  case KEYS_MSG_REWRAP_BATCH:
    ipc_put_u32(w, q->batch_count);
    ipc_put_raw(w, q->batch, q->batch_len);
    break;
  case KEYS_MSG_EVICT: /* the record's id and wrapped key, nothing else of it */
    ipc_put_str(w, q->sealed.id);
    ipc_put_bytes(w, q->sealed.wrapped_key, q->sealed.wrapped_key_len);
    break;
  case KEYS_MSG_RD_KEY:
  case KEYS_MSG_RD_DESTROY:
    ipc_put_str(w, q->name);
    ipc_put_u64(w, q->period);
    if (q->type == KEYS_MSG_RD_KEY) {
      ipc_put_u8(w, q->create ? 1 : 0);
      ipc_put_bytes(w, q->data, q->data_len);
      ipc_put_str(w, q->vm);
      ipc_put_bytes(w, q->rd_reg, q->rd_reg_len);
    }
    break;
  default: /* HELLO, KEK_CURRENT, KEK_UNLOAD, LI_CHECK, AUDIT_WITNESS, CACHE_HELD: no fields */
    break;
  }
}

int keys_wire_get_request(uint16_t type, const uint8_t *p, size_t n, keys_request *q, lisec_err *err) {
  memset(q, 0, sizeof *q);
  q->type = type;
  if (type == 0 || type >= KEYS_MSG_END) return unknown(type, "request", err);
  ipc_reader r;
  ipc_reader_init(&r, p, n);
  uint8_t flag = 0;
  uint64_t v = 0;
  switch (type) {
  case KEYS_MSG_SEAL:
    ipc_get_str(&r, q->id, sizeof q->id);
    ipc_get_str(&r, q->authorisation, sizeof q->authorisation);
    v = ipc_get_u64(&r);
    if (v > INT64_MAX) bad(&r, "record version out of range");
    q->version = (int64_t)v;
    ipc_get_bytes(&r, KEYS_DATA_MAX, &q->data, &q->data_len);
    break;
  case KEYS_MSG_OPEN:
  case KEYS_MSG_REWRAP:
    get_sealed(&r, &q->sealed);
    break;
  case KEYS_MSG_KEK_USE:
    ipc_get_str(&r, q->name, KEYS_KEK_NAME_MAX + 1);
    flag = ipc_get_u8(&r);
    if (flag > 1) bad(&r, "create is neither 0 nor 1");
    q->create = flag == 1;
    break;
  case KEYS_MSG_AUDIT_NEXT:
    flag = ipc_get_u8(&r);
    if (flag > 1) bad(&r, "create is neither 0 nor 1");
    q->create = flag == 1;
    break;
  case KEYS_MSG_AUDIT_SIGN:
  case KEYS_MSG_AUDIT_SIGN_NEXT:
    ipc_get_bytes(&r, KEYS_DATA_MAX, &q->data, &q->data_len);
    q->old_size = ipc_get_u64(&r);
    if (q->old_size > AUDIT_SIZE_MAX) bad(&r, "the proof's old size is out of range");
    ipc_get_bytes(&r, (size_t)AUDIT_PROOF_MAX * AUDIT_HASH_LEN, &q->proof, &q->proof_len);
    if (!r.bad && q->proof_len % AUDIT_HASH_LEN) bad(&r, "the proof is not whole hashes");
    break;
  case KEYS_MSG_AUDIT_PROMOTE:
    ipc_get_bytes(&r, 32, &q->data, &q->data_len);
    if (!r.bad && q->data_len != 32) bad(&r, "the public key is not 32 bytes");
    break;
  case KEYS_MSG_X1_SIGN:
    ipc_get_str(&r, q->path, sizeof q->path);
    if (!r.bad && q->path[0] != '/') bad(&r, "the key path is not absolute");
    q->alg = ipc_get_u8(&r);
    if (q->alg < KEYS_X1_ECDSA || q->alg > KEYS_X1_RSA_PSS) bad(&r, "unknown signature algorithm");
    ipc_get_bytes(&r, KEYS_X1_SIG_MAX, &q->data, &q->data_len);
    if (r.bad) break;
    if (q->data_len == 0) bad(&r, "an empty digest");
    else if (q->alg == KEYS_X1_ECDSA && q->data_len > KEYS_X1_DIGEST_MAX) bad(&r, "a digest over its bound");
    else if (q->alg == KEYS_X1_RSA_PKCS1 && q->data_len > KEYS_X1_DIGESTINFO_MAX) bad(&r, "a DigestInfo over its bound");
    else if (q->alg == KEYS_X1_RSA_PSS && q->data_len < KEYS_X1_PSS_MIN) bad(&r, "a PSS block under its bound");
    break;
  case KEYS_MSG_OPEN_BATCH:
  case KEYS_MSG_REWRAP_BATCH:
    get_batch(&r, ITEM_SEALED, &q->batch_count, &q->batch, &q->batch_len);
    break;
  case KEYS_MSG_EVICT: {
    const uint8_t *wk = NULL;
    size_t wn = 0;
    ipc_get_str(&r, q->sealed.id, sizeof q->sealed.id);
    if (!r.bad && !q->sealed.id[0]) bad(&r, "an empty record id");
    ipc_get_bytes(&r, VAULT_WRAPPED_MAX, &wk, &wn);
    if (!r.bad && !wn) bad(&r, "no wrapped key");
    if (!r.bad) memcpy(q->sealed.wrapped_key, wk, wn);
    q->sealed.wrapped_key_len = r.bad ? 0 : wn;
    break;
  }
  case KEYS_MSG_RD_KEY:
  case KEYS_MSG_RD_DESTROY:
    ipc_get_str(&r, q->name, sizeof q->name);
    if (!r.bad && !q->name[0]) bad(&r, "an empty store id");
    q->period = ipc_get_u64(&r);
    if (q->period > ((uint64_t)1 << 40)) bad(&r, "period out of range");
    if (type == KEYS_MSG_RD_KEY) {
      flag = ipc_get_u8(&r);
      if (flag > 1) bad(&r, "create is neither 0 nor 1");
      q->create = flag == 1;
      ipc_get_bytes(&r, KEYS_RD_POINT_LEN, &q->data, &q->data_len);
      if (!r.bad && (q->data_len != KEYS_RD_POINT_LEN || q->data[0] != 0x04))
        bad(&r, "the recipient is not an uncompressed P-256 point");
      ipc_get_str(&r, q->vm, sizeof q->vm);
      if (!r.bad && !q->vm[0]) bad(&r, "an empty VM id");
      ipc_get_bytes(&r, KEYS_RD_REG_MAX, &q->rd_reg, &q->rd_reg_len);
    }
    break;
  default:
    break;
  }
  char what[48];
  snprintf(what, sizeof what, "keys %s request", keys_wire_type_name(type));
  return ipc_reader_done(&r, what, err);
}

void keys_wire_put_reply(ipc_writer *w, const keys_reply *r) {
  ipc_put_u32(w, (uint32_t)(r->rc < 0 ? -r->rc : 0));
  ipc_put_str(w, r->rc ? r->msg : "");
  if (r->rc) return;
  switch (r->type) {
  case KEYS_MSG_HELLO: {
    const keys_info *i = &r->info;
    ipc_put_u8(w, (uint8_t)((i->vault ? KEYS_HAS_VAULT : 0) | (i->vault_development ? KEYS_VAULT_DEV : 0) |
                            (i->audit ? KEYS_HAS_AUDIT : 0) | (i->audit_development ? KEYS_AUDIT_DEV : 0) |
                            (i->li ? KEYS_HAS_LI : 0)));
    ipc_put_bytes(w, i->audit_pk, sizeof i->audit_pk);
    ipc_put_str(w, r->name);
    ipc_put_str(w, r->label);
    break;
  }
  case KEYS_MSG_SEAL:
    keys_wire_put_sealed(w, &r->sealed);
    break;
  case KEYS_MSG_REWRAP:
    keys_wire_put_sealed(w, &r->sealed);
    ipc_put_u8(w, r->changed ? 1 : 0);
    break;
  case KEYS_MSG_KEK_USE:
  case KEYS_MSG_KEK_CURRENT:
    ipc_put_str(w, r->name);
    ipc_put_str(w, r->label);
    break;
  case KEYS_MSG_KEK_UNLOAD:
  case KEYS_MSG_RD_DESTROY:
  case KEYS_MSG_EVICT:
  case KEYS_MSG_CACHE_HELD:
    ipc_put_u64(w, r->count);
    break;
  case KEYS_MSG_RD_KEY: /* the ephemeral point, then the wrapped key: nothing in clear */
    ipc_put_bytes(w, r->rd_eph, r->rd_eph_len);
    ipc_put_bytes(w, r->data, r->data_len);
    break;
  case KEYS_MSG_OPEN:
  case KEYS_MSG_AUDIT_SIGN:
  case KEYS_MSG_AUDIT_SIGN_NEXT:
  case KEYS_MSG_AUDIT_NEXT:
  case KEYS_MSG_X1_SIGN:
    ipc_put_bytes(w, r->data, r->data_len);
    break;
  case KEYS_MSG_OPEN_BATCH: /* the answers as keys_wire_put_opened or _rewrapped wrote them */
  case KEYS_MSG_REWRAP_BATCH:
    ipc_put_u32(w, r->batch_count);
    ipc_put_raw(w, r->batch, r->batch_len);
    break;
  case KEYS_MSG_AUDIT_WITNESS:
    ipc_put_u8(w, r->witness_have ? 1 : 0);
    ipc_put_u64(w, r->witness_size);
    ipc_put_bytes(w, r->witness_root, sizeof r->witness_root);
    break;
  default: /* LI_CHECK, AUDIT_PROMOTE: the rc says it all */
    break;
  }
}

int keys_wire_get_reply(uint16_t type, const uint8_t *p, size_t n, keys_reply *rp, lisec_err *err) {
  memset(rp, 0, sizeof *rp);
  rp->type = type;
  if (type == 0 || type >= KEYS_MSG_END) return unknown(type, "reply", err);
  ipc_reader r;
  ipc_reader_init(&r, p, n);
  uint32_t code = ipc_get_u32(&r);
  if (code > RC_MAX) bad(&r, "rc is not an error code");
  rp->rc = -(int)(code > RC_MAX ? 0 : code);
  ipc_get_str(&r, rp->msg, sizeof rp->msg);
  if (rp->rc && !rp->msg[0]) bad(&r, "an error without a reason");
  if (!rp->rc && rp->msg[0]) bad(&r, "a success with a reason");
  const uint8_t *pk = NULL;
  size_t pk_len = 0;
  uint8_t flag = 0;
  if (!rp->rc && !r.bad) {
    switch (type) {
    case KEYS_MSG_HELLO:
      flag = ipc_get_u8(&r);
      if (flag & ~(KEYS_HAS_VAULT | KEYS_VAULT_DEV | KEYS_HAS_AUDIT | KEYS_AUDIT_DEV | KEYS_HAS_LI))
        bad(&r, "unknown feature bits");
      rp->info.vault = flag & KEYS_HAS_VAULT;
      rp->info.vault_development = flag & KEYS_VAULT_DEV;
      rp->info.audit = flag & KEYS_HAS_AUDIT;
      rp->info.audit_development = flag & KEYS_AUDIT_DEV;
      rp->info.li = flag & KEYS_HAS_LI;
      ipc_get_bytes(&r, sizeof rp->info.audit_pk, &pk, &pk_len);
      if (!r.bad && pk_len != sizeof rp->info.audit_pk) bad(&r, "the audit public key is not 32 bytes");
      if (!r.bad) memcpy(rp->info.audit_pk, pk, sizeof rp->info.audit_pk);
      ipc_get_str(&r, rp->name, sizeof rp->name);
      ipc_get_str(&r, rp->label, sizeof rp->label);
      break;
    case KEYS_MSG_SEAL:
      get_sealed(&r, &rp->sealed);
      break;
    case KEYS_MSG_REWRAP:
      get_sealed(&r, &rp->sealed);
      flag = ipc_get_u8(&r);
      if (flag > 1) bad(&r, "changed is neither 0 nor 1");
      rp->changed = flag == 1;
      break;
    case KEYS_MSG_KEK_USE:
    case KEYS_MSG_KEK_CURRENT:
      ipc_get_str(&r, rp->name, sizeof rp->name);
      ipc_get_str(&r, rp->label, sizeof rp->label);
      break;
    case KEYS_MSG_KEK_UNLOAD:
    case KEYS_MSG_RD_DESTROY:
      rp->count = ipc_get_u64(&r);
      break;
    case KEYS_MSG_EVICT: /* one record's one data key */
      rp->count = ipc_get_u64(&r);
      if (rp->count > 1) bad(&r, "more than one data key wiped for one record");
      break;
    case KEYS_MSG_CACHE_HELD:
      rp->count = ipc_get_u64(&r);
      if (rp->count > KEYS_CACHE_HELD_MAX) bad(&r, "more data keys than the largest cache holds");
      break;
    case KEYS_MSG_RD_KEY:
      ipc_get_bytes(&r, KEYS_RD_POINT_LEN, &rp->rd_eph, &rp->rd_eph_len);
      if (!r.bad && (rp->rd_eph_len != KEYS_RD_POINT_LEN || rp->rd_eph[0] != 0x04))
        bad(&r, "the ephemeral key is not an uncompressed P-256 point");
      ipc_get_bytes(&r, KEYS_RD_WRAPPED_LEN, &rp->data, &rp->data_len);
      if (!r.bad && rp->data_len != KEYS_RD_WRAPPED_LEN) bad(&r, "the wrapped data key is not 40 bytes");
      break;
    case KEYS_MSG_OPEN:
      ipc_get_bytes(&r, KEYS_DATA_MAX, &rp->data, &rp->data_len);
      break;
    case KEYS_MSG_AUDIT_SIGN:
    case KEYS_MSG_AUDIT_SIGN_NEXT:
      ipc_get_bytes(&r, 64, &rp->data, &rp->data_len);
      if (!r.bad && rp->data_len != 64) bad(&r, "the signature is not 64 bytes");
      break;
    case KEYS_MSG_AUDIT_NEXT:
      ipc_get_bytes(&r, 32, &rp->data, &rp->data_len);
      if (!r.bad && rp->data_len != 32) bad(&r, "the public key is not 32 bytes");
      break;
    case KEYS_MSG_X1_SIGN:
      ipc_get_bytes(&r, KEYS_X1_SIG_MAX, &rp->data, &rp->data_len);
      if (!r.bad && rp->data_len == 0) bad(&r, "an empty signature");
      break;
    case KEYS_MSG_OPEN_BATCH:
      get_batch(&r, ITEM_OPENED, &rp->batch_count, &rp->batch, &rp->batch_len);
      break;
    case KEYS_MSG_REWRAP_BATCH:
      get_batch(&r, ITEM_REWRAPPED, &rp->batch_count, &rp->batch, &rp->batch_len);
      break;
    case KEYS_MSG_AUDIT_WITNESS:
      flag = ipc_get_u8(&r);
      if (flag > 1) bad(&r, "have is neither 0 nor 1");
      rp->witness_have = flag == 1;
      rp->witness_size = ipc_get_u64(&r);
      if (rp->witness_size > AUDIT_SIZE_MAX || (!rp->witness_have && rp->witness_size)) bad(&r, "size out of range");
      ipc_get_bytes(&r, sizeof rp->witness_root, &pk, &pk_len);
      if (!r.bad && pk_len != sizeof rp->witness_root) bad(&r, "the root is not 32 bytes");
      if (!r.bad) memcpy(rp->witness_root, pk, sizeof rp->witness_root);
      break;
    default:
      break;
    }
  }
  char what[48];
  snprintf(what, sizeof what, "keys %s reply", keys_wire_type_name(type));
  return ipc_reader_done(&r, what, err);
}
