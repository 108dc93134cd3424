/* The messages between the controller and the keys process (keys/wire.c)
 * and the client's handling of a peer that misbehaves (keys/client.c):
 * every request and reply type survives a round trip; a truncated message,
 * a field over its bound, an unknown type, bytes after the last field and
 * malformed values (a flag that is not 0/1, an rc that is no error code, an
 * error without a reason, a signature of the wrong length, a NUL inside a
 * string) are refused naming the problem; and a client whose peer answers
 * with the wrong id or type, too much, or not at all marks the keys process
 * gone and fails every later call at once with EUNAVAIL instead of
 * hanging; a re-wrap answered under another KEK label than the one asked
 * for is refused for its record alone (TR103308-5.7); EVICT carries a
 * record's id and wrapped key only, each bounded and present, and its
 * answer and CACHE_HELD's are bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/stat.h>

#include "keys/wire.h"

static uint8_t ct[40] = {1, 2, 3};

static vault_sealed sample_sealed(void) {
  vault_sealed s = {.id = "t-1", .authorisation = "li-1", .version = 7, .kek_label = "pkcs11:lisec/kek-a",
                    .wrapped_key = {9, 8, 7}, .wrapped_key_len = 60, .ciphertext = ct, .ciphertext_len = sizeof ct};
  return s;
}

static void encode_request(const keys_request *q, ipc_writer *w) {
  ipc_writer_init(w, KEYS_PAYLOAD_MAX);
  keys_wire_put_request(w, q);
  assert_false(w->failed);
}

static void encode_reply(const keys_reply *r, ipc_writer *w) {
  ipc_writer_init(w, KEYS_PAYLOAD_MAX);
  keys_wire_put_reply(w, r);
  assert_false(w->failed);
}

static void assert_sealed_equal(const vault_sealed *a, const vault_sealed *b) {
  assert_string_equal(a->id, b->id);
  assert_string_equal(a->authorisation, b->authorisation);
  assert_int_equal(a->version, b->version);
  assert_string_equal(a->kek_label, b->kek_label);
  assert_int_equal(a->wrapped_key_len, b->wrapped_key_len);
  assert_memory_equal(a->wrapped_key, b->wrapped_key, a->wrapped_key_len);
  assert_int_equal(a->ciphertext_len, b->ciphertext_len);
  assert_memory_equal(a->ciphertext, b->ciphertext, a->ciphertext_len);
}

static void test_round_trips(void **state) {
  (void)state;
  lisec_err err = {0};
  const char *ids = "[{\"kind\":\"imsi\",\"value\":\"244051234567890\"}]";
  keys_request q = {.type = KEYS_MSG_SEAL, .id = "t-1", .authorisation = "li-1", .version = 3,
                    .data = (const uint8_t *)ids, .data_len = strlen(ids)}, back;
  ipc_writer w;
  encode_request(&q, &w);
  assert_int_equal(keys_wire_get_request(q.type, w.buf.data, w.buf.len, &back, &err), 0);
  assert_string_equal(back.id, "t-1");
  assert_string_equal(back.authorisation, "li-1");
  assert_int_equal(back.version, 3);
  assert_int_equal(back.data_len, strlen(ids));
  assert_memory_equal(back.data, ids, back.data_len);
  ipc_writer_free(&w);

  uint16_t sealed_types[] = {KEYS_MSG_OPEN, KEYS_MSG_REWRAP};
  for (int i = 0; i < 2; i++) {
    q = (keys_request){.type = sealed_types[i], .sealed = sample_sealed()};
    encode_request(&q, &w);
    assert_int_equal(keys_wire_get_request(q.type, w.buf.data, w.buf.len, &back, &err), 0);
    assert_sealed_equal(&q.sealed, &back.sealed);
    ipc_writer_free(&w);
  }
  q = (keys_request){.type = KEYS_MSG_KEK_USE, .name = "kek-b", .create = true};
  encode_request(&q, &w);
  assert_int_equal(keys_wire_get_request(q.type, w.buf.data, w.buf.len, &back, &err), 0);
  assert_string_equal(back.name, "kek-b");
  assert_true(back.create);
  ipc_writer_free(&w);
  /* AUDIT_SIGN: the note, the size the proof starts at, the proof */
  uint8_t proof[3 * 32];
  memset(proof, 0x33, sizeof proof);
  q = (keys_request){.type = KEYS_MSG_AUDIT_SIGN_NEXT, .data = (const uint8_t *)"o\n9\nr\n", .data_len = 6,
                     .old_size = 7, .proof = proof, .proof_len = sizeof proof};
  encode_request(&q, &w);
  assert_int_equal(keys_wire_get_request(q.type, w.buf.data, w.buf.len, &back, &err), 0);
  assert_int_equal(back.old_size, 7);
  assert_int_equal(back.proof_len, sizeof proof);
  assert_memory_equal(back.proof, proof, sizeof proof);
  ipc_writer_free(&w);
  q.proof_len = 31; /* not whole hashes */
  encode_request(&q, &w);
  assert_int_equal(keys_wire_get_request(q.type, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "whole hashes"));
  ipc_writer_free(&w);
  uint16_t empty[] = {KEYS_MSG_HELLO, KEYS_MSG_KEK_CURRENT, KEYS_MSG_KEK_UNLOAD, KEYS_MSG_LI_CHECK,
                      KEYS_MSG_AUDIT_WITNESS};
  for (int i = 0; i < 5; i++) {
    q = (keys_request){.type = empty[i]};
    encode_request(&q, &w);
    assert_int_equal(w.buf.len, 0);
    assert_int_equal(keys_wire_get_request(q.type, w.buf.data, w.buf.len, &back, &err), 0);
    ipc_writer_free(&w);
  }

  /* replies */
  keys_reply r = {.type = KEYS_MSG_HELLO, .info = {.vault = true, .audit = true, .audit_development = true},
                  .name = "kek-a", .label = "pkcs11:lisec/kek-a"}, rb;
  memset(r.info.audit_pk, 0x5a, 32);
  encode_reply(&r, &w);
  assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, w.buf.len, &rb, &err), 0);
  assert_int_equal(rb.rc, 0);
  assert_true(rb.info.vault && rb.info.audit && rb.info.audit_development);
  assert_false(rb.info.vault_development || rb.info.li);
  assert_memory_equal(rb.info.audit_pk, r.info.audit_pk, 32);
  assert_string_equal(rb.label, "pkcs11:lisec/kek-a");
  ipc_writer_free(&w);
  r = (keys_reply){.type = KEYS_MSG_REWRAP, .sealed = sample_sealed(), .changed = true};
  encode_reply(&r, &w);
  assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, w.buf.len, &rb, &err), 0);
  assert_sealed_equal(&r.sealed, &rb.sealed);
  assert_true(rb.changed);
  ipc_writer_free(&w);
  uint8_t sig[64];
  memset(sig, 0x11, sizeof sig);
  r = (keys_reply){.type = KEYS_MSG_AUDIT_SIGN, .data = sig, .data_len = 64};
  encode_reply(&r, &w);
  assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, w.buf.len, &rb, &err), 0);
  assert_memory_equal(rb.data, sig, 64);
  ipc_writer_free(&w);
  r = (keys_reply){.type = KEYS_MSG_AUDIT_WITNESS, .witness_have = true, .witness_size = 1000};
  memset(r.witness_root, 0x44, 32);
  encode_reply(&r, &w);
  assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, w.buf.len, &rb, &err), 0);
  assert_true(rb.witness_have);
  assert_int_equal(rb.witness_size, 1000);
  assert_memory_equal(rb.witness_root, r.witness_root, 32);
  ipc_writer_free(&w);
  /* an error reply carries rc and reason only */
  r = (keys_reply){.type = KEYS_MSG_OPEN, .rc = LISEC_ECRYPTO};
  snprintf(r.msg, sizeof r.msg, "AES-256-GCM authentication failed");
  encode_reply(&r, &w);
  assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, w.buf.len, &rb, &err), 0);
  assert_int_equal(rb.rc, LISEC_ECRYPTO);
  assert_string_equal(rb.msg, "AES-256-GCM authentication failed");
  assert_null(rb.data);
  ipc_writer_free(&w);
}

static void test_truncated_and_trailing(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_request q = {.type = KEYS_MSG_OPEN, .sealed = sample_sealed()}, back;
  ipc_writer w;
  encode_request(&q, &w);
  /* every prefix is refused */
  for (size_t n = 0; n < w.buf.len; n++)
    assert_int_equal(keys_wire_get_request(q.type, w.buf.data, n, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "OPEN request"));
  /* and so is one byte more */
  uint8_t *more = malloc(w.buf.len + 1);
  memcpy(more, w.buf.data, w.buf.len);
  more[w.buf.len] = 0;
  assert_int_equal(keys_wire_get_request(q.type, more, w.buf.len + 1, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "after its last field"));
  free(more);
  ipc_writer_free(&w);
  keys_reply r = {.type = KEYS_MSG_REWRAP, .sealed = sample_sealed()}, rb;
  encode_reply(&r, &w);
  for (size_t n = 0; n < w.buf.len; n++)
    assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, n, &rb, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
}

static void test_oversized_fields(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_request back;
  ipc_writer w;
  char id[VAULT_ID_MAX + 2];
  memset(id, 'a', sizeof id - 1);
  id[sizeof id - 1] = 0;
  /* a target id one byte over VAULT_ID_MAX */
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_str(&w, id);
  ipc_put_str(&w, "li-1");
  ipc_put_u64(&w, 1);
  ipc_put_bytes(&w, "[]", 2);
  assert_int_equal(keys_wire_get_request(KEYS_MSG_SEAL, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "field 1"));
  ipc_writer_free(&w);
  /* identifiers one byte over KEYS_DATA_MAX */
  uint8_t *big = calloc(1, KEYS_DATA_MAX + 1);
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_str(&w, "t-1");
  ipc_put_str(&w, "li-1");
  ipc_put_u64(&w, 1);
  ipc_put_bytes(&w, big, KEYS_DATA_MAX + 1);
  assert_int_equal(keys_wire_get_request(KEYS_MSG_SEAL, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "bound"));
  ipc_writer_free(&w);
  free(big);
  /* a wrapped key over VAULT_WRAPPED_MAX */
  uint8_t wrapped[VAULT_WRAPPED_MAX + 1] = {0};
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_str(&w, "t-1");
  ipc_put_str(&w, "li-1");
  ipc_put_u64(&w, 1);
  ipc_put_str(&w, "file:development");
  ipc_put_bytes(&w, wrapped, sizeof wrapped);
  ipc_put_bytes(&w, ct, sizeof ct);
  assert_int_equal(keys_wire_get_request(KEYS_MSG_OPEN, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  /* a KEK name over 64, a version over INT64_MAX */
  char name[KEYS_KEK_NAME_MAX + 2];
  memset(name, 'k', sizeof name - 1);
  name[sizeof name - 1] = 0;
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_str(&w, name);
  ipc_put_u8(&w, 0);
  assert_int_equal(keys_wire_get_request(KEYS_MSG_KEK_USE, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_str(&w, "t-1");
  ipc_put_str(&w, "li-1");
  ipc_put_u64(&w, (uint64_t)INT64_MAX + 1);
  ipc_put_bytes(&w, "[]", 2);
  assert_int_equal(keys_wire_get_request(KEYS_MSG_SEAL, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "version"));
  ipc_writer_free(&w);
  /* a whole message over the channel's bound is refused at the header */
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ipc_header h = {KEYS_MSG_SEAL, 0, 1, KEYS_PAYLOAD_MAX + 1};
  uint8_t hb[IPC_HEADER_LEN];
  ipc_header_encode(&h, hb);
  assert_int_equal(write(sv[0], hb, sizeof hb), (ssize_t)sizeof hb);
  uint8_t *payload = NULL;
  assert_int_equal(ipc_recv(sv[1], KEYS_PAYLOAD_MAX, &h, &payload, &err), LISEC_ETOOBIG);
  assert_null(payload);
  close(sv[0]);
  close(sv[1]);
}

static void test_unknown_types(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_request q;
  keys_reply r;
  uint16_t bad[] = {0, KEYS_MSG_END, 999, 0xffff};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(keys_wire_get_request(bad[i], NULL, 0, &q, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, "unknown message type"));
    assert_int_equal(keys_wire_get_reply(bad[i], NULL, 0, &r, &err), LISEC_EINVAL);
    assert_string_equal(keys_wire_type_name(bad[i]), "unknown");
  }
}

static void test_malformed_values(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_request q;
  keys_reply r;
  ipc_writer w;
  /* create is 0 or 1 */
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_str(&w, "kek-b");
  ipc_put_u8(&w, 2);
  assert_int_equal(keys_wire_get_request(KEYS_MSG_KEK_USE, w.buf.data, w.buf.len, &q, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  /* a NUL inside a name */
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_bytes(&w, "kek\0x", 5);
  ipc_put_u8(&w, 0);
  assert_int_equal(keys_wire_get_request(KEYS_MSG_KEK_USE, w.buf.data, w.buf.len, &q, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "NUL"));
  ipc_writer_free(&w);
  /* an rc that is no error code */
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_u32(&w, 100000);
  ipc_put_str(&w, "x");
  assert_int_equal(keys_wire_get_reply(KEYS_MSG_LI_CHECK, w.buf.data, w.buf.len, &r, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  /* an error without a reason */
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_u32(&w, 8);
  ipc_put_str(&w, "");
  assert_int_equal(keys_wire_get_reply(KEYS_MSG_LI_CHECK, w.buf.data, w.buf.len, &r, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "without a reason"));
  ipc_writer_free(&w);
  /* a signature that is not 64 bytes */
  uint8_t sig[64] = {0};
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_u32(&w, 0);
  ipc_put_str(&w, "");
  ipc_put_bytes(&w, sig, 63);
  assert_int_equal(keys_wire_get_reply(KEYS_MSG_AUDIT_SIGN, w.buf.data, w.buf.len, &r, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  /* HELLO with unknown feature bits, or a short public key */
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_u32(&w, 0);
  ipc_put_str(&w, "");
  ipc_put_u8(&w, 0x80);
  ipc_put_bytes(&w, sig, 32);
  ipc_put_str(&w, "");
  ipc_put_str(&w, "");
  assert_int_equal(keys_wire_get_reply(KEYS_MSG_HELLO, w.buf.data, w.buf.len, &r, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_u32(&w, 0);
  ipc_put_str(&w, "");
  ipc_put_u8(&w, KEYS_HAS_AUDIT);
  ipc_put_bytes(&w, sig, 31);
  ipc_put_str(&w, "");
  ipc_put_str(&w, "");
  assert_int_equal(keys_wire_get_reply(KEYS_MSG_HELLO, w.buf.data, w.buf.len, &r, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
}

/* ---- X1_SIGN: the X1 client's TLS signature (issue 16) --------------------- */

/* RD_KEY (issue 20 item 1): the request carries the RD VM's P-256 point,
 * the answer the token's ephemeral point and the 40 wrapped bytes, and
 * nothing else: an answer in the old form (the 32-byte data key in
 * clear), a short or long wrap, a point that is not uncompressed P-256
 * are refused, so a keys process can never hand the controller a clear
 * key that it would accept. */
static void test_rd_key_wire(void **state) {
  (void)state;
  lisec_err err = {0};
  uint8_t point[KEYS_RD_POINT_LEN], eph[KEYS_RD_POINT_LEN], wrapped[KEYS_RD_WRAPPED_LEN], clear[32];
  memset(point, 0x11, sizeof point), point[0] = 0x04;
  memset(eph, 0x22, sizeof eph), eph[0] = 0x04;
  memset(wrapped, 0x33, sizeof wrapped);
  memset(clear, 0x44, sizeof clear);
  static const char reg[] = "{\"command\":{},\"signature\":\"\"}";
  keys_request q = {.type = KEYS_MSG_RD_KEY, .name = "rd-store", .period = 3, .create = true, .data = point,
                    .data_len = sizeof point, .vm = "rd-q", .rd_reg = (const uint8_t *)reg,
                    .rd_reg_len = sizeof reg - 1},
               back;
  ipc_writer w;
  encode_request(&q, &w);
  assert_int_equal(keys_wire_get_request(q.type, w.buf.data, w.buf.len, &back, &err), 0);
  assert_string_equal(back.name, "rd-store");
  assert_int_equal(back.period, 3);
  assert_true(back.create);
  assert_int_equal(back.data_len, KEYS_RD_POINT_LEN);
  assert_memory_equal(back.data, point, sizeof point);
  /* the VM and the RD administration's registration ride along */
  assert_string_equal(back.vm, "rd-q");
  assert_int_equal(back.rd_reg_len, sizeof reg - 1);
  assert_memory_equal(back.rd_reg, reg, sizeof reg - 1);
  ipc_writer_free(&w);
  /* no VM, or a registration over its bound: refused */
  keys_request nq = q;
  nq.vm[0] = '\0';
  encode_request(&nq, &w);
  assert_int_equal(keys_wire_get_request(nq.type, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  static uint8_t long_reg[KEYS_RD_REG_MAX + 1];
  nq = q;
  nq.rd_reg = long_reg, nq.rd_reg_len = sizeof long_reg;
  encode_request(&nq, &w);
  assert_int_equal(keys_wire_get_request(nq.type, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  /* a recipient that is not an uncompressed P-256 point */
  uint8_t compressed[KEYS_RD_POINT_LEN];
  memcpy(compressed, point, sizeof compressed), compressed[0] = 0x02;
  const struct {
    const uint8_t *p;
    size_t n;
  } bad_points[] = {{NULL, 0}, {point, 33}, {compressed, sizeof compressed}};
  for (size_t i = 0; i < sizeof bad_points / sizeof *bad_points; i++) {
    q.data = bad_points[i].p, q.data_len = bad_points[i].n;
    encode_request(&q, &w);
    err = (lisec_err){0};
    assert_int_equal(keys_wire_get_request(q.type, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, "recipient"));
    ipc_writer_free(&w);
  }

  keys_reply r = {.type = KEYS_MSG_RD_KEY, .rd_eph = eph, .rd_eph_len = sizeof eph, .data = wrapped,
                  .data_len = sizeof wrapped},
             rb;
  encode_reply(&r, &w);
  /* the bytes on the wire: rc, reason, the point, the wrap; no room for more */
  assert_int_equal(w.buf.len, 4 + 4 + 4 + KEYS_RD_POINT_LEN + 4 + KEYS_RD_WRAPPED_LEN);
  assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, w.buf.len, &rb, &err), 0);
  assert_int_equal(rb.rd_eph_len, KEYS_RD_POINT_LEN);
  assert_memory_equal(rb.rd_eph, eph, sizeof eph);
  assert_int_equal(rb.data_len, KEYS_RD_WRAPPED_LEN);
  assert_memory_equal(rb.data, wrapped, sizeof wrapped);
  ipc_writer_free(&w);
  /* the old answer, the clear 32-byte key, alone or in place of the wrap */
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_u32(&w, 0);
  ipc_put_str(&w, "");
  ipc_put_bytes(&w, clear, sizeof clear);
  err = (lisec_err){0};
  assert_int_not_equal(keys_wire_get_reply(KEYS_MSG_RD_KEY, w.buf.data, w.buf.len, &rb, &err), 0);
  ipc_writer_free(&w);
  const size_t wraps[] = {sizeof clear, KEYS_RD_WRAPPED_LEN - 1, KEYS_RD_WRAPPED_LEN + 8};
  uint8_t big[KEYS_RD_WRAPPED_LEN + 8] = {0};
  for (size_t i = 0; i < sizeof wraps / sizeof *wraps; i++) {
    keys_reply rr = {.type = KEYS_MSG_RD_KEY, .rd_eph = eph, .rd_eph_len = sizeof eph, .data = big,
                     .data_len = wraps[i]};
    encode_reply(&rr, &w);
    err = (lisec_err){0};
    assert_int_equal(keys_wire_get_reply(rr.type, w.buf.data, w.buf.len, &rb, &err), LISEC_EINVAL);
    ipc_writer_free(&w);
  }
  keys_reply re = {.type = KEYS_MSG_RD_KEY, .rd_eph = compressed, .rd_eph_len = sizeof compressed, .data = wrapped,
                   .data_len = sizeof wrapped};
  encode_reply(&re, &w);
  err = (lisec_err){0};
  assert_int_equal(keys_wire_get_reply(re.type, w.buf.data, w.buf.len, &rb, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "ephemeral"));
  ipc_writer_free(&w);
}

static void test_x1_sign_wire(void **state) {
  (void)state;
  lisec_err err = {0};
  uint8_t digest[32];
  memset(digest, 0x42, sizeof digest);
  keys_request q = {.type = KEYS_MSG_X1_SIGN, .path = "/etc/lisec/admf.key", .alg = KEYS_X1_ECDSA,
                    .data = digest, .data_len = sizeof digest}, back;
  ipc_writer w;
  encode_request(&q, &w);
  assert_int_equal(keys_wire_get_request(q.type, w.buf.data, w.buf.len, &back, &err), 0);
  assert_string_equal(back.path, "/etc/lisec/admf.key");
  assert_int_equal(back.alg, KEYS_X1_ECDSA);
  assert_int_equal(back.data_len, 32);
  assert_memory_equal(back.data, digest, 32);
  for (size_t n = 0; n < w.buf.len; n++)
    assert_int_equal(keys_wire_get_request(q.type, w.buf.data, n, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "X1_SIGN request"));
  ipc_writer_free(&w);
  assert_string_equal(keys_wire_type_name(KEYS_MSG_X1_SIGN), "X1_SIGN");

  /* refused: a relative path, a path over KEYS_PATH_MAX, another algorithm,
   * an empty digest, a digest over KEYS_X1_DIGEST_MAX */
  char longpath[KEYS_PATH_MAX + 2];
  memset(longpath, 'p', sizeof longpath - 1);
  longpath[0] = '/';
  longpath[sizeof longpath - 1] = 0;
  uint8_t big[KEYS_X1_SIG_MAX + 1] = {0};
  struct {
    const char *path;
    uint8_t alg;
    size_t len;
    const char *why;
  } bad[] = {{"admf.key", KEYS_X1_ECDSA, 32, "not absolute"},
             {longpath, KEYS_X1_ECDSA, 32, "field 1"},
             {"/k", 0, 32, "algorithm"},
             {"/k", 4, 32, "algorithm"},
             {"/k", KEYS_X1_RSA_PKCS1, KEYS_X1_DIGESTINFO_MAX + 1, "bound"},
             {"/k", KEYS_X1_RSA_PSS, KEYS_X1_PSS_MIN - 1, "bound"},
             {"/k", KEYS_X1_ECDSA, 0, "empty digest"},
             {"/k", KEYS_X1_ECDSA, KEYS_X1_DIGEST_MAX + 1, "bound"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
    ipc_put_str(&w, bad[i].path);
    ipc_put_u8(&w, bad[i].alg);
    ipc_put_bytes(&w, big, bad[i].len);
    assert_int_equal(keys_wire_get_request(KEYS_MSG_X1_SIGN, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
    if (!strstr(err.msg, bad[i].why)) fail_msg("case %zu: \"%s\" does not say %s", i, err.msg, bad[i].why);
    ipc_writer_free(&w);
  }

  /* the reply: a DER signature of 1 to KEYS_X1_SIG_MAX bytes */
  uint8_t sig[KEYS_X1_SIG_MAX + 1];
  memset(sig, 0x30, sizeof sig);
  keys_reply r = {.type = KEYS_MSG_X1_SIGN, .data = sig, .data_len = 71}, rb;
  encode_reply(&r, &w);
  assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, w.buf.len, &rb, &err), 0);
  assert_int_equal(rb.data_len, 71);
  assert_memory_equal(rb.data, sig, 71);
  for (size_t n = 0; n < w.buf.len; n++)
    assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, n, &rb, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  size_t bad_lens[] = {0, KEYS_X1_SIG_MAX + 1};
  for (int i = 0; i < 2; i++) {
    ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
    ipc_put_u32(&w, 0);
    ipc_put_str(&w, "");
    ipc_put_bytes(&w, sig, bad_lens[i]);
    assert_int_equal(keys_wire_get_reply(KEYS_MSG_X1_SIGN, w.buf.data, w.buf.len, &rb, &err), LISEC_EINVAL);
    ipc_writer_free(&w);
  }
}

/* Writes key as PEM PKCS#8 to path (0600). */
static void write_key(const char *path, EVP_PKEY *key) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
  chmod(path, 0600);
}

/* Through a real keys service (the keys in [keys] x1_key_dir): a signature
 * over a digest verifies with the key's public half; a file replaced at the
 * same path is read again; what is not an EC key in a readable regular file
 * is refused, naming why. */
static void test_x1_sign_service(void **state) {
  (void)state;
  lisec_err err = {0};
  char dir[] = "/tmp/test_keys_x1_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char ec_path[128], ec2_path[128], rsa_path[128], junk_path[128], sub_path[128];
  snprintf(ec_path, sizeof ec_path, "%s/admf.key", dir);
  snprintf(sub_path, sizeof sub_path, "%s/sub", dir);
  assert_int_equal(mkdir(sub_path, 0700), 0);
  snprintf(ec2_path, sizeof ec2_path, "%s/other.key", dir);
  snprintf(rsa_path, sizeof rsa_path, "%s/rsa.key", dir);
  snprintf(junk_path, sizeof junk_path, "%s/junk.key", dir);
  EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  EVP_PKEY *ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  assert_true(ec && ec2 && rsa);
  write_key(ec_path, ec);
  write_key(rsa_path, rsa);
  FILE *f = fopen(junk_path, "w");
  fputs("not a key\n", f);
  fclose(f);

  lisec_config *cfg = lisec_config_new();
  assert_int_equal(lisec_config_set(cfg, "keys", "x1_key_dir", dir), 0);
  keys_client *k = NULL;
  assert_int_equal(keys_local_start(cfg, &k, &err), 0);
  uint8_t digest[32], sig[KEYS_X1_SIG_MAX];
  memset(digest, 0x17, sizeof digest);
  size_t n = 0;
  for (int round = 0; round < 2; round++) {
    EVP_PKEY *want = round == 0 ? ec : ec2;
    /* round 1: the file at the same path now holds another key */
    if (round == 1) {
      unlink(ec_path);
      write_key(ec_path, ec2);
    }
    assert_int_equal(keys_x1_sign(k, ec_path, digest, sizeof digest, sig, sizeof sig, &n, &err), 0);
    EVP_PKEY_CTX *v = EVP_PKEY_CTX_new_from_pkey(NULL, want, NULL);
    assert_int_equal(EVP_PKEY_verify_init(v), 1);
    assert_int_equal(EVP_PKEY_verify(v, sig, n, digest, sizeof digest), 1);
    EVP_PKEY_CTX_free(v);
  }
  struct {
    const char *path;
    const char *why;
  } bad[] = {{rsa_path, "an RSA key cannot make an ECDSA signature"},
             {junk_path, "not an unencrypted PEM private key"},
             {sub_path, "not a regular file"},
             {"/nonexistent/admf.key", "cannot read it"},
             {"admf.key", "absolute path"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_not_equal(keys_x1_sign(k, bad[i].path, digest, sizeof digest, sig, sizeof sig, &n, &err), 0);
    if (!strstr(err.msg, bad[i].why)) fail_msg("%s: \"%s\" does not say %s", bad[i].path, err.msg, bad[i].why);
  }
  /* a digest over the bound is refused before it is sent */
  uint8_t big[KEYS_X1_DIGEST_MAX + 1] = {0};
  assert_int_equal(keys_x1_sign(k, ec_path, big, sizeof big, sig, sizeof sig, &n, &err), LISEC_EINVAL);
  /* and the channel is still fine after every refusal */
  assert_int_equal(keys_x1_sign(k, ec_path, digest, sizeof digest, sig, sizeof sig, &n, &err), 0);
  keys_client_close(k);
  lisec_config_free(cfg);
  unlink(ec_path);
  unlink(rsa_path);
  unlink(junk_path);
  rmdir(sub_path);
  rmdir(dir);
  EVP_PKEY_free(ec);
  EVP_PKEY_free(ec2);
  EVP_PKEY_free(rsa);
}

/* Only a key file in [keys] x1_key_dir signs: another the keys process can
 * read (lisecd's own TLS key, say) is refused naming the setting, also
 * through a symbolic link in the directory, or a path that climbs out of it
 * with ".."; with the setting unset no key file signs, not even one in
 * the directory (TR103308-5.7). */
static void test_x1_key_dir(void **state) {
  (void)state;
  lisec_err err = {0};
  char root[] = "/tmp/test_keys_x1dir_XXXXXX";
  assert_non_null(mkdtemp(root));
  char in[160], out[160], inside[200], outside[200], link[200], climb[260];
  snprintf(in, sizeof in, "%s/x1", root);
  snprintf(out, sizeof out, "%s/x1-other", root); /* shares the prefix "x1" */
  assert_int_equal(mkdir(in, 0700), 0);
  assert_int_equal(mkdir(out, 0700), 0);
  snprintf(inside, sizeof inside, "%s/admf.key", in);
  snprintf(outside, sizeof outside, "%s/server.key", out);
  snprintf(link, sizeof link, "%s/link.key", in);
  snprintf(climb, sizeof climb, "%s/../x1-other/server.key", in);
  EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  write_key(inside, a);
  write_key(outside, b);
  assert_int_equal(symlink(outside, link), 0);
  lisec_config *cfg = lisec_config_new();
  keys_client *k = NULL;
  uint8_t digest[32], sig[KEYS_X1_SIG_MAX];
  memset(digest, 0x2a, sizeof digest);
  size_t n = 0;
  /* unset: nothing signs */
  assert_int_equal(keys_local_start(cfg, &k, &err), 0);
  const char *any[] = {inside, outside};
  for (size_t i = 0; i < 2; i++) {
    assert_int_equal(keys_x1_sign(k, any[i], digest, sizeof digest, sig, sizeof sig, &n, &err), LISEC_EDENIED);
    if (!strstr(err.msg, "x1_key_dir is not set") || !strstr(err.msg, "TR103308-5.7"))
      fail_msg("%s: \"%s\" does not name x1_key_dir and TR103308-5.7", any[i], err.msg);
  }
  keys_client_close(k);
  assert_int_equal(lisec_config_set(cfg, "keys", "x1_key_dir", in), 0);
  assert_int_equal(keys_local_start(cfg, &k, &err), 0);
  assert_int_equal(keys_x1_sign(k, inside, digest, sizeof digest, sig, sizeof sig, &n, &err), 0);
  const char *refused[] = {outside, link, climb};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(keys_x1_sign(k, refused[i], digest, sizeof digest, sig, sizeof sig, &n, &err), LISEC_EDENIED);
    if (!strstr(err.msg, "x1_key_dir")) fail_msg("%s: \"%s\" does not name x1_key_dir", refused[i], err.msg);
  }
  keys_client_close(k);
  /* a directory that is not there stops the start */
  assert_int_equal(lisec_config_set(cfg, "keys", "x1_key_dir", "/nonexistent/x1"), 0);
  assert_int_not_equal(keys_local_start(cfg, &k, &err), 0);
  assert_non_null(strstr(err.msg, "x1_key_dir"));
  lisec_config_free(cfg);
  unlink(link), unlink(inside), unlink(outside), rmdir(in), rmdir(out), rmdir(root);
  EVP_PKEY_free(a);
  EVP_PKEY_free(b);
}

/* MGF1 with SHA-256, for building a PSS block the way libssl does. */
static void mgf1_sha256(uint8_t *out, size_t len, const uint8_t *seed) {
  uint8_t buf[36], h[32];
  memcpy(buf, seed, 32);
  for (uint32_t c = 0, at = 0; at < len; c++, at += 32) {
    buf[32] = (uint8_t)(c >> 24), buf[33] = (uint8_t)(c >> 16), buf[34] = (uint8_t)(c >> 8), buf[35] = (uint8_t)c;
    assert_int_equal(EVP_Digest(buf, 36, h, NULL, EVP_sha256(), NULL), 1);
    memcpy(out + at, h, len - at < 32 ? len - at : 32);
  }
}

/* An EMSA-PSS block (RFC 8017 9.1.1) of k bytes over m_hash (SHA-256),
 * with a salt of salt_len bytes, for an RSA key of k * 8 bits. */
static void pss_encode(uint8_t *em, size_t k, const uint8_t m_hash[32], size_t salt_len) {
  uint8_t m1[8 + 32 + 64] = {0}, salt[64], h[32], mask[512];
  memset(salt, 0x5a, sizeof salt);
  memcpy(m1 + 8, m_hash, 32);
  memcpy(m1 + 40, salt, salt_len);
  assert_int_equal(EVP_Digest(m1, 40 + salt_len, h, NULL, EVP_sha256(), NULL), 1);
  size_t db_len = k - 32 - 1;
  memset(em, 0, k);
  em[db_len - salt_len - 1] = 0x01;
  memcpy(em + db_len - salt_len, salt, salt_len);
  mgf1_sha256(mask, db_len, h);
  for (size_t i = 0; i < db_len; i++) em[i] ^= mask[i];
  em[0] &= 0x7f;
  memcpy(em + db_len, h, 32);
  em[k - 1] = 0xbc;
}

/* An RSA X1 client key in the keys process: a DigestInfo is signed with
 * PKCS#1 v1.5 and a PSS block with the raw private operation, and both
 * verify under the public key with OpenSSL's own verifier; a block that is
 * not PSS-shaped (random bytes, a ciphertext, a salt of the wrong length)
 * and bytes that are not a DigestInfo are refused, so the keys process is
 * no RSA decryption oracle; an EC key asked for an RSA signature and an RSA
 * key for ECDSA are refused; an Ed25519 key is no X1 client key. */
static void test_x1_sign_rsa(void **state) {
  (void)state;
  lisec_err err = {0};
  char dir[] = "/tmp/test_keys_x1rsa_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char rsa_path[128], ec_path[128], ed_path[128];
  snprintf(rsa_path, sizeof rsa_path, "%s/rsa.key", dir);
  snprintf(ec_path, sizeof ec_path, "%s/ec.key", dir);
  snprintf(ed_path, sizeof ed_path, "%s/ed.key", dir);
  EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  assert_true(rsa && ec && ed);
  write_key(rsa_path, rsa);
  write_key(ec_path, ec);
  write_key(ed_path, ed);
  lisec_config *cfg = lisec_config_new();
  assert_int_equal(lisec_config_set(cfg, "keys", "x1_key_dir", dir), 0);
  keys_client *k = NULL;
  assert_int_equal(keys_local_start(cfg, &k, &err), 0);
  uint8_t hash[32], sig[KEYS_X1_SIG_MAX], em[256];
  memset(hash, 0x42, sizeof hash);
  size_t n = 0;
  /* PKCS#1 v1.5 over SHA-256's DigestInfo */
  static const uint8_t prefix[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
  uint8_t info[19 + 32];
  memcpy(info, prefix, 19);
  memcpy(info + 19, hash, 32);
  if (keys_x1_sign_alg(k, rsa_path, KEYS_X1_RSA_PKCS1, info, sizeof info, sig, sizeof sig, &n, &err))
    fail_msg("pkcs1: %s", err.msg);
  EVP_PKEY_CTX *v = EVP_PKEY_CTX_new_from_pkey(NULL, rsa, NULL);
  assert_int_equal(EVP_PKEY_verify_init(v), 1);
  assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(v, RSA_PKCS1_PADDING), 1);
  assert_int_equal(EVP_PKEY_CTX_set_signature_md(v, EVP_sha256()), 1);
  assert_int_equal(EVP_PKEY_verify(v, sig, n, hash, sizeof hash), 1);
  EVP_PKEY_CTX_free(v);
  /* PSS: the block encoded here, the private operation there */
  pss_encode(em, sizeof em, hash, 32);
  if (keys_x1_sign_alg(k, rsa_path, KEYS_X1_RSA_PSS, em, sizeof em, sig, sizeof sig, &n, &err))
    fail_msg("pss: %s", err.msg);
  assert_int_equal(n, 256);
  v = EVP_PKEY_CTX_new_from_pkey(NULL, rsa, NULL);
  assert_int_equal(EVP_PKEY_verify_init(v), 1);
  assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(v, RSA_PKCS1_PSS_PADDING), 1);
  assert_int_equal(EVP_PKEY_CTX_set_signature_md(v, EVP_sha256()), 1);
  assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(v, 32), 1);
  assert_int_equal(EVP_PKEY_verify(v, sig, n, hash, sizeof hash), 1);
  EVP_PKEY_CTX_free(v);
  /* refused: not PSS-shaped (random, a ciphertext of the key, a short salt) */
  uint8_t enc[256];
  size_t enc_len = sizeof enc;
  v = EVP_PKEY_CTX_new_from_pkey(NULL, rsa, NULL);
  assert_int_equal(EVP_PKEY_encrypt_init(v), 1);
  assert_int_equal(EVP_PKEY_encrypt(v, enc, &enc_len, (const uint8_t *)"secret", 6), 1);
  EVP_PKEY_CTX_free(v);
  uint8_t rnd[256], short_salt[256];
  memset(rnd, 0x33, sizeof rnd);
  rnd[255] = 0xbc;
  rnd[0] = 0x11;
  pss_encode(short_salt, sizeof short_salt, hash, 0);
  const uint8_t *not_pss[] = {rnd, enc, short_salt};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(keys_x1_sign_alg(k, rsa_path, KEYS_X1_RSA_PSS, not_pss[i], 256, sig, sizeof sig, &n, &err),
                     LISEC_EINVAL);
    if (!strstr(err.msg, "not an EMSA-PSS block")) fail_msg("block %zu: %s", i, err.msg);
  }
  /* refused: a PSS block of another size, bytes that are no DigestInfo */
  assert_int_equal(keys_x1_sign_alg(k, rsa_path, KEYS_X1_RSA_PSS, em, 200, sig, sizeof sig, &n, &err), LISEC_EINVAL);
  assert_int_equal(keys_x1_sign_alg(k, rsa_path, KEYS_X1_RSA_PKCS1, hash, sizeof hash, sig, sizeof sig, &n, &err),
                   LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "DigestInfo"));
  /* the key type and the algorithm must agree; Ed25519 is no X1 key */
  assert_int_equal(keys_x1_sign_alg(k, ec_path, KEYS_X1_RSA_PSS, em, sizeof em, sig, sizeof sig, &n, &err),
                   LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "an EC key cannot make an RSA signature"));
  assert_int_equal(keys_x1_sign(k, ed_path, hash, sizeof hash, sig, sizeof sig, &n, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "must be an EC key (ECDSA, e.g. P-256) or an RSA key"));
  /* the channel is fine after every refusal */
  assert_int_equal(keys_x1_sign_alg(k, rsa_path, KEYS_X1_RSA_PSS, em, sizeof em, sig, sizeof sig, &n, &err), 0);
  keys_client_close(k);
  lisec_config_free(cfg);
  unlink(rsa_path);
  unlink(ec_path);
  unlink(ed_path);
  rmdir(dir);
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(ec);
  EVP_PKEY_free(ed);
}

/* ---- a client against a peer that misbehaves ----------------------------- */

typedef enum { PEER_WRONG_ID, PEER_WRONG_TYPE, PEER_NOT_A_REPLY, PEER_CLOSES, PEER_GARBAGE } peer_mode;

typedef struct peer {
  int fd;
  peer_mode mode;
} peer;

static void reply(int fd, uint16_t type, uint16_t flags, uint32_t id, const keys_reply *r) {
  ipc_writer w;
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  keys_wire_put_reply(&w, r);
  lisec_err err = {0};
  (void)ipc_send(fd, type, flags, id, &w, &err);
  ipc_writer_free(&w);
}

/* Answers HELLO properly, then misbehaves on the next request, then reads
 * until the client closes. */
static void *peer_main(void *arg) {
  peer *p = arg;
  lisec_err err = {0};
  ipc_header h;
  uint8_t *payload = NULL;
  if (ipc_recv(p->fd, KEYS_PAYLOAD_MAX, &h, &payload, &err)) return NULL;
  ipc_payload_free(payload, h.len);
  keys_reply hello = {.type = KEYS_MSG_HELLO, .info = {.vault = true, .li = true}};
  reply(p->fd, h.type, KEYS_FLAG_REPLY, h.id, &hello);
  if (ipc_recv(p->fd, KEYS_PAYLOAD_MAX, &h, &payload, &err)) return NULL;
  ipc_payload_free(payload, h.len);
  keys_reply ok = {.type = h.type};
  switch (p->mode) {
  case PEER_WRONG_ID:
    reply(p->fd, h.type, KEYS_FLAG_REPLY, h.id + 1, &ok);
    break;
  case PEER_WRONG_TYPE:
    reply(p->fd, KEYS_MSG_HELLO, KEYS_FLAG_REPLY, h.id, &hello);
    break;
  case PEER_NOT_A_REPLY:
    reply(p->fd, h.type, 0, h.id, &ok);
    break;
  case PEER_GARBAGE: {
    uint8_t junk[IPC_HEADER_LEN + 4] = {0, (uint8_t)h.type, 0, 1};
    memcpy(junk + 4, &h.id, 4); /* host order: almost surely not the id */
    junk[11] = 4;
    if (write(p->fd, junk, sizeof junk) != (ssize_t)sizeof junk) return NULL;
    break;
  }
  case PEER_CLOSES:
    shutdown(p->fd, SHUT_RDWR);
    return NULL;
  }
  while (ipc_recv(p->fd, KEYS_PAYLOAD_MAX, &h, &payload, &err) == 0) ipc_payload_free(payload, h.len);
  return NULL;
}

static void test_client_against_bad_peer(void **state) {
  (void)state;
  for (peer_mode m = PEER_WRONG_ID; m <= PEER_GARBAGE; m++) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    peer p = {sv[1], m};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, peer_main, &p), 0);
    keys_client *k = NULL;
    lisec_err err = {0};
    assert_int_equal(keys_client_open(sv[0], &k, &err), 0);
    assert_true(keys_client_info(k)->vault);
    assert_true(keys_client_info(k)->li);
    assert_int_equal(keys_li_check(k, &err), LISEC_EUNAVAIL);
    assert_non_null(strstr(err.msg, "the keys process is gone"));
    /* later calls fail at once, without a round trip */
    json_t *ids = NULL;
    vault_sealed s = sample_sealed();
    assert_int_equal(keys_vault_open(k, &s, &ids, &err), LISEC_EUNAVAIL);
    assert_null(ids);
    assert_non_null(strstr(err.msg, "the keys process is gone"));
    keys_client_close(k);
    pthread_join(t, NULL);
    close(sv[1]);
  }
}

/* A keys process that is not there at all: the client does not open. */
static void test_client_peer_gone(void **state) {
  (void)state;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  close(sv[1]);
  keys_client *k = NULL;
  lisec_err err = {0};
  assert_int_equal(keys_client_open(sv[0], &k, &err), LISEC_EUNAVAIL);
  assert_null(k);
  assert_non_null(strstr(err.msg, "the keys process is gone"));
}

/* ---- OPEN_BATCH --------------------------------------------------------- */

/* A batch request of n sample records with ids b-0, b-1, ... */
static void batch_request(keys_request *q, ipc_writer *recs, uint32_t n) {
  ipc_writer_init(recs, KEYS_PAYLOAD_MAX);
  for (uint32_t i = 0; i < n; i++) {
    vault_sealed s = sample_sealed();
    snprintf(s.id, sizeof s.id, "b-%u", i);
    keys_wire_put_sealed(recs, &s);
  }
  *q = (keys_request){.type = KEYS_MSG_OPEN_BATCH, .batch_count = n, .batch = recs->buf.data,
                      .batch_len = recs->buf.len};
}

/* A batch reply answering ids[0..n): "[]" for each, or rc for the one at bad. */
static void batch_reply(keys_reply *r, ipc_writer *ans, const char *const *ids, uint32_t n, int bad_at, int rc) {
  ipc_writer_init(ans, KEYS_PAYLOAD_MAX);
  for (uint32_t i = 0; i < n; i++) {
    keys_opened o = {.data = (const uint8_t *)"[]", .data_len = 2};
    snprintf(o.id, sizeof o.id, "%s", ids[i]);
    if ((int)i == bad_at) o.rc = rc, o.data = NULL, o.data_len = 0, snprintf(o.msg, sizeof o.msg, "refused");
    keys_wire_put_opened(ans, &o);
  }
  *r = (keys_reply){.type = KEYS_MSG_OPEN_BATCH, .batch_count = n, .batch = ans->buf.data, .batch_len = ans->buf.len};
}

static void test_batch_round_trip(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_request q, back;
  ipc_writer recs, w;
  batch_request(&q, &recs, 3);
  encode_request(&q, &w);
  if (keys_wire_get_request(q.type, w.buf.data, w.buf.len, &back, &err)) fail_msg("%s", err.msg);
  assert_int_equal(back.batch_count, 3);
  keys_batch_iter it;
  vault_sealed s, want = sample_sealed();
  keys_wire_batch_begin(&it, back.batch, back.batch_len, back.batch_count);
  for (int i = 0; i < 3; i++) {
    assert_true(keys_wire_batch_sealed(&it, &s));
    snprintf(want.id, sizeof want.id, "b-%d", i);
    assert_sealed_equal(&s, &want);
  }
  assert_false(keys_wire_batch_sealed(&it, &s));
  ipc_writer_free(&w);
  /* a reply: two answers and an error, in order */
  const char *ids[] = {"b-0", "b-1", "b-2"};
  keys_reply r, rb;
  ipc_writer ans;
  batch_reply(&r, &ans, ids, 3, 1, LISEC_ECRYPTO);
  encode_reply(&r, &w);
  if (keys_wire_get_reply(r.type, w.buf.data, w.buf.len, &rb, &err)) fail_msg("%s", err.msg);
  keys_opened o;
  keys_wire_batch_begin(&it, rb.batch, rb.batch_len, rb.batch_count);
  for (int i = 0; i < 3; i++) {
    assert_true(keys_wire_batch_opened(&it, &o));
    assert_string_equal(o.id, ids[i]);
    assert_int_equal(o.rc, i == 1 ? LISEC_ECRYPTO : 0);
    assert_int_equal(o.data_len, i == 1 ? 0 : 2);
  }
  assert_false(keys_wire_batch_opened(&it, &o));
  ipc_writer_free(&w);
  ipc_writer_free(&ans);
  ipc_writer_free(&recs);
}

/* What every batch request of type is refused for, naming the problem
 * (what: the message's name in the errors): cut at any byte, one byte
 * more, a count of 4 over three records, a count of 0 or 4097; and with
 * short_count, a count of 2 that leaves the third record over. */
static void batch_request_refused(uint16_t type, const char *what, bool short_count) {
  lisec_err err = {0};
  keys_request q, back;
  ipc_writer recs, w;
  batch_request(&q, &recs, 3);
  q.type = type;
  encode_request(&q, &w);
  for (size_t n = 0; n < w.buf.len; n++)
    assert_int_equal(keys_wire_get_request(type, w.buf.data, n, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, what));
  uint8_t *more = calloc(1, w.buf.len + 1);
  memcpy(more, w.buf.data, w.buf.len);
  assert_int_equal(keys_wire_get_request(type, more, w.buf.len + 1, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "after its last field"));
  more[3] = 4;
  assert_int_equal(keys_wire_get_request(type, more, w.buf.len, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "truncated"));
  if (short_count) {
    more[3] = 2;
    assert_int_equal(keys_wire_get_request(type, more, w.buf.len, &back, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, "after its last field"));
  }
  free(more);
  ipc_writer_free(&w);
  ipc_writer_free(&recs);
  uint8_t zero[4] = {0}, over[4] = {0, 0, 0x10, 0x01}; /* 0 and 4097 */
  assert_int_equal(keys_wire_get_request(type, zero, 4, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "batch count"));
  assert_int_equal(keys_wire_get_request(type, over, 4, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "batch count"));
}

/* Cut at any byte, one byte more, a count of 0, over the limit or over
 * what follows, and malformed answers: each refused naming the problem. */
static void test_batch_truncated_oversized(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_request back;
  ipc_writer w;
  batch_request_refused(KEYS_MSG_OPEN_BATCH, "OPEN_BATCH request", false);
  const uint16_t type = KEYS_MSG_OPEN_BATCH;
  /* a record with a field over its bound, inside the batch */
  ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
  ipc_put_u32(&w, 1);
  char id[VAULT_ID_MAX + 2];
  memset(id, 'a', sizeof id - 1);
  id[sizeof id - 1] = 0;
  ipc_put_str(&w, id);
  assert_int_equal(keys_wire_get_request(type, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "over its bound"));
  ipc_writer_free(&w);
  /* replies: cut anywhere; an error that carries identifiers; a success
   * with a reason; an answer without its record's id */
  const char *ids[] = {"b-0", "b-1"};
  keys_reply r, rb;
  ipc_writer ans;
  batch_reply(&r, &ans, ids, 2, -1, 0);
  encode_reply(&r, &w);
  for (size_t n = 0; n < w.buf.len; n++)
    assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, n, &rb, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  ipc_writer_free(&ans);
  static const struct {
    keys_opened o;
    const char *why;
  } bad[] = {{{.id = "b-0", .rc = LISEC_ECRYPTO, .msg = "x", .data = (const uint8_t *)"[]", .data_len = 2}, "an error with identifiers"},
             {{.id = "b-0", .rc = 0, .msg = "x"}, "a success with a reason"},
             {{.id = "", .rc = 0}, "without a record id"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
    ipc_put_u32(&w, 0);
    ipc_put_str(&w, "");
    ipc_put_u32(&w, 1);
    /* written field by field: keys_wire_put_opened would not write these */
    ipc_put_str(&w, bad[i].o.id);
    ipc_put_u32(&w, (uint32_t)-bad[i].o.rc);
    ipc_put_str(&w, bad[i].o.msg);
    ipc_put_bytes(&w, bad[i].o.data, bad[i].o.data_len);
    assert_int_equal(keys_wire_get_reply(KEYS_MSG_OPEN_BATCH, w.buf.data, w.buf.len, &rb, &err), LISEC_EINVAL);
    if (!strstr(err.msg, bad[i].why)) fail_msg("\"%s\" does not say %s", err.msg, bad[i].why);
    ipc_writer_free(&w);
  }
}

/* A peer that answers HELLO, then an OPEN_BATCH out of step: answers in
 * the wrong order (0), more answers than records (1), the answers of
 * another request id (2), or two replies at once (3). */
typedef struct batch_peer {
  int fd;
  int mode;
} batch_peer;

static void *batch_peer_main(void *arg) {
  batch_peer *p = arg;
  lisec_err err = {0};
  ipc_header h;
  uint8_t *payload = NULL;
  if (ipc_recv(p->fd, KEYS_PAYLOAD_MAX, &h, &payload, &err)) return NULL;
  ipc_payload_free(payload, h.len);
  keys_reply hello = {.type = KEYS_MSG_HELLO, .info = {.vault = true}};
  reply(p->fd, h.type, KEYS_FLAG_REPLY, h.id, &hello);
  if (ipc_recv(p->fd, KEYS_PAYLOAD_MAX, &h, &payload, &err)) return NULL;
  keys_request q;
  if (keys_wire_get_request(h.type, payload, h.len, &q, &err) == 0 && q.type == KEYS_MSG_OPEN_BATCH) {
    const char *ids[3] = {"b-0", "b-1", "b-2"};
    if (p->mode == 0) ids[0] = "b-1", ids[1] = "b-0";
    keys_reply r;
    ipc_writer ans;
    batch_reply(&r, &ans, ids, p->mode == 1 ? 3 : 2, -1, 0);
    reply(p->fd, h.type, KEYS_FLAG_REPLY, p->mode == 2 ? h.id + 7 : h.id, &r);
    if (p->mode == 3) reply(p->fd, h.type, KEYS_FLAG_REPLY, h.id, &r);
    ipc_writer_free(&ans);
  }
  ipc_payload_free(payload, h.len);
  while (ipc_recv(p->fd, KEYS_PAYLOAD_MAX, &h, &payload, &err) == 0) ipc_payload_free(payload, h.len);
  return NULL;
}

static void count_answer(void *ctx, size_t i, int rc, const char *msg, json_t *ids) {
  (void)i, (void)rc, (void)msg;
  (*(int *)ctx)++;
  json_decref(ids);
}

static void test_batch_out_of_order(void **state) {
  (void)state;
  for (int mode = 0; mode <= 3; mode++) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    batch_peer p = {sv[1], mode};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, batch_peer_main, &p), 0);
    keys_client *k = NULL;
    lisec_err err = {0};
    assert_int_equal(keys_client_open(sv[0], &k, &err), 0);
    /* mode 3 sends two replies at once: with spinning off the client reads
     * the first only after both are there, and the second is out of order */
    if (mode == 3) {
      keys_client_configure(k, &(keys_settings){0, KEYS_PAYLOAD_MAX, KEYS_BATCH_DEFAULT});
      usleep(1000);
    }
    vault_sealed s[2] = {sample_sealed(), sample_sealed()};
    snprintf(s[0].id, sizeof s[0].id, "b-0");
    snprintf(s[1].id, sizeof s[1].id, "b-1");
    int answered = 0;
    int rc = keys_vault_open_many(k, s, 2, count_answer, &answered, &err);
    if (mode == 3 && rc == 0) { /* the two replies did not come in one read: the next call sees the second */
      json_t *ids = NULL;
      rc = keys_vault_open(k, &s[0], &ids, &err);
      json_decref(ids);
    } else {
      assert_int_equal(answered, 0);
    }
    assert_int_equal(rc, LISEC_EUNAVAIL);
    assert_non_null(strstr(err.msg, "the keys process is gone"));
    assert_int_equal(keys_li_check(k, &err), LISEC_EUNAVAIL);
    keys_client_close(k);
    pthread_join(t, NULL);
    close(sv[1]);
  }
}

/* ---- REWRAP_BATCH -------------------------------------------------------- */

/* A REWRAP_BATCH answer for record id at version: its new wrapping, or rc. */
static keys_rewrapped rewrap_answer(const char *id, int64_t version, int rc) {
  static const uint8_t wrapped[60] = {4, 5, 6};
  keys_rewrapped a = {.version = version, .rc = rc};
  snprintf(a.id, sizeof a.id, "%s", id);
  if (rc) {
    snprintf(a.msg, sizeof a.msg, "TR103308-5.7: the record was sealed under KEK \"pkcs11:lisec/gone\"");
  } else {
    a.changed = true;
    snprintf(a.kek_label, sizeof a.kek_label, "pkcs11:lisec/kek-b");
    a.wrapped_key = wrapped;
    a.wrapped_key_len = sizeof wrapped;
  }
  return a;
}

/* A REWRAP_BATCH reply answering ids[0..n) at version 7, rc at bad_at. */
static void rewrap_reply(keys_reply *r, ipc_writer *ans, const char *const *ids, uint32_t n, int bad_at, int rc) {
  ipc_writer_init(ans, KEYS_PAYLOAD_MAX);
  for (uint32_t i = 0; i < n; i++) {
    keys_rewrapped a = rewrap_answer(ids[i], 7, (int)i == bad_at ? rc : 0);
    keys_wire_put_rewrapped(ans, &a);
  }
  *r = (keys_reply){.type = KEYS_MSG_REWRAP_BATCH, .batch_count = n, .batch = ans->buf.data, .batch_len = ans->buf.len};
}

/* Records in, answers out, in order: each record whole, each answer its
 * id, version, outcome and new wrapping (none with an error); the sizes
 * the batch builders count are the bytes written. */
static void test_rewrap_batch_round_trip(void **state) {
  (void)state;
  lisec_err err = {0};
  assert_string_equal(keys_wire_type_name(KEYS_MSG_REWRAP_BATCH), "REWRAP_BATCH");
  keys_request q, back;
  ipc_writer recs, w;
  batch_request(&q, &recs, 3);
  q.type = KEYS_MSG_REWRAP_BATCH;
  vault_sealed one = sample_sealed();
  snprintf(one.id, sizeof one.id, "b-0"); /* as long as b-1 and b-2 */
  assert_int_equal(3 * keys_wire_sealed_size(&one), recs.buf.len);
  encode_request(&q, &w);
  if (keys_wire_get_request(q.type, w.buf.data, w.buf.len, &back, &err)) fail_msg("%s", err.msg);
  assert_int_equal(back.batch_count, 3);
  keys_batch_iter it;
  vault_sealed s, want = sample_sealed();
  keys_wire_batch_begin(&it, back.batch, back.batch_len, back.batch_count);
  for (int i = 0; i < 3; i++) {
    assert_true(keys_wire_batch_sealed(&it, &s));
    snprintf(want.id, sizeof want.id, "b-%d", i);
    assert_sealed_equal(&s, &want);
  }
  assert_false(keys_wire_batch_sealed(&it, &s));
  ipc_writer_free(&w);
  ipc_writer_free(&recs);
  /* a reply: two re-wraps and, between them, an error */
  const char *ids[] = {"b-0", "b-1", "b-2"};
  keys_reply r, rb;
  ipc_writer ans;
  rewrap_reply(&r, &ans, ids, 3, 1, LISEC_EUNAVAIL);
  encode_reply(&r, &w);
  if (keys_wire_get_reply(r.type, w.buf.data, w.buf.len, &rb, &err)) fail_msg("%s", err.msg);
  assert_int_equal(rb.batch_count, 3);
  keys_rewrapped a;
  size_t bytes = 0;
  keys_wire_batch_begin(&it, rb.batch, rb.batch_len, rb.batch_count);
  for (int i = 0; i < 3; i++) {
    assert_true(keys_wire_batch_rewrapped(&it, &a));
    keys_rewrapped sent = rewrap_answer(ids[i], 7, i == 1 ? LISEC_EUNAVAIL : 0);
    assert_string_equal(a.id, ids[i]);
    assert_int_equal(a.version, 7);
    assert_int_equal(a.rc, sent.rc);
    assert_string_equal(a.msg, sent.msg);
    assert_int_equal(a.changed, sent.changed);
    assert_string_equal(a.kek_label, sent.kek_label);
    assert_int_equal(a.wrapped_key_len, sent.wrapped_key_len);
    if (a.wrapped_key_len) assert_memory_equal(a.wrapped_key, sent.wrapped_key, a.wrapped_key_len);
    bytes += keys_wire_rewrapped_size(&a);
  }
  assert_false(keys_wire_batch_rewrapped(&it, &a));
  assert_int_equal(bytes, rb.batch_len);
  ipc_writer_free(&w);
  ipc_writer_free(&ans);
  /* an error reply for the whole batch carries rc and reason only */
  r = (keys_reply){.type = KEYS_MSG_REWRAP_BATCH, .rc = LISEC_ETOOBIG};
  snprintf(r.msg, sizeof r.msg, "keys REWRAP_BATCH: 5 records, over [keys] max_batch (4)");
  encode_reply(&r, &w);
  assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, w.buf.len, &rb, &err), 0);
  assert_int_equal(rb.rc, LISEC_ETOOBIG);
  assert_int_equal(rb.batch_count, 0);
  ipc_writer_free(&w);
}

/* Written field by field (keys_wire_put_rewrapped would not write most of
 * these), as one answer of a REWRAP_BATCH reply. */
static void put_raw_answer(ipc_writer *w, const char *id, uint64_t version, uint32_t code, const char *msg,
                           uint8_t changed, const char *label, size_t wrapped_len) {
  static const uint8_t wrapped[VAULT_WRAPPED_MAX + 1];
  ipc_writer_init(w, KEYS_PAYLOAD_MAX);
  ipc_put_u32(w, 0);
  ipc_put_str(w, "");
  ipc_put_u32(w, 1);
  ipc_put_str(w, id);
  ipc_put_u64(w, version);
  ipc_put_u32(w, code);
  ipc_put_str(w, msg);
  ipc_put_u8(w, changed);
  ipc_put_str(w, label);
  ipc_put_bytes(w, wrapped, wrapped_len);
}

/* Cut at any byte, one byte more, a count of 0, over the limit or over
 * what follows (the wrong count), a record or an answer with a field over
 * its bound, and malformed answers: each refused naming the problem. */
static void test_rewrap_batch_malformed(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_request back;
  ipc_writer w;
  batch_request_refused(KEYS_MSG_REWRAP_BATCH, "REWRAP_BATCH request", true);
  const uint16_t type = KEYS_MSG_REWRAP_BATCH;
  /* a record whose ciphertext is over KEYS_DATA_MAX, inside the batch */
  uint8_t *big = calloc(1, KEYS_DATA_MAX + 1);
  vault_sealed s = sample_sealed();
  s.ciphertext = big;
  s.ciphertext_len = KEYS_DATA_MAX + 1;
  ipc_writer_init(&w, 2 * KEYS_PAYLOAD_MAX);
  ipc_put_u32(&w, 1);
  keys_wire_put_sealed(&w, &s);
  assert_int_equal(keys_wire_get_request(type, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "over its bound"));
  ipc_writer_free(&w);
  free(big);
  /* replies: cut anywhere, or one byte more */
  const char *ids[] = {"b-0", "b-1"};
  keys_reply r, rb;
  ipc_writer ans;
  rewrap_reply(&r, &ans, ids, 2, 1, LISEC_EUNAVAIL);
  encode_reply(&r, &w);
  for (size_t n = 0; n < w.buf.len; n++)
    assert_int_equal(keys_wire_get_reply(r.type, w.buf.data, n, &rb, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "REWRAP_BATCH reply"));
  uint8_t *more = calloc(1, w.buf.len + 1);
  memcpy(more, w.buf.data, w.buf.len);
  assert_int_equal(keys_wire_get_reply(r.type, more, w.buf.len + 1, &rb, &err), LISEC_EINVAL);
  free(more);
  ipc_writer_free(&w);
  ipc_writer_free(&ans);
  /* answers the decoder refuses */
  static const struct {
    const char *id;
    uint64_t version;
    uint32_t code;
    const char *msg;
    uint8_t changed;
    const char *label;
    size_t wrapped_len;
    const char *why;
  } bad[] = {
      {"b-0", 7, 11, "refused", 0, "pkcs11:lisec/kek-b", 60, "an error with a wrapped key"},
      {"b-0", 7, 11, "refused", 1, "", 0, "an error with a wrapped key"},
      {"b-0", 7, 0, "x", 1, "pkcs11:lisec/kek-b", 60, "a success with a reason"},
      {"b-0", 7, 0, "", 1, "", 60, "without its KEK label or wrapped key"},
      {"b-0", 7, 0, "", 1, "pkcs11:lisec/kek-b", 0, "without its KEK label or wrapped key"},
      {"", 7, 0, "", 1, "pkcs11:lisec/kek-b", 60, "without a record id"},
      {"b-0", 7, 11, "", 0, "", 0, "an error without a reason"},
      {"b-0", 7, 0, "", 2, "pkcs11:lisec/kek-b", 60, "changed is neither 0 nor 1"},
      {"b-0", (uint64_t)INT64_MAX + 1, 0, "", 1, "pkcs11:lisec/kek-b", 60, "version out of range"},
      {"b-0", 7, 100000, "refused", 0, "", 0, "not an error code"},
      {"b-0", 7, 0, "", 1, "pkcs11:lisec/kek-b", VAULT_WRAPPED_MAX + 1, "over its bound"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    put_raw_answer(&w, bad[i].id, bad[i].version, bad[i].code, bad[i].msg, bad[i].changed, bad[i].label,
                   bad[i].wrapped_len);
    assert_int_equal(keys_wire_get_reply(KEYS_MSG_REWRAP_BATCH, w.buf.data, w.buf.len, &rb, &err), LISEC_EINVAL);
    if (!strstr(err.msg, bad[i].why)) fail_msg("answer %zu: \"%s\" does not say %s", i, err.msg, bad[i].why);
    ipc_writer_free(&w);
  }
  /* and the one that is fine, written the same way */
  put_raw_answer(&w, "b-0", 7, 0, "", 1, "pkcs11:lisec/kek-b", 60);
  assert_int_equal(keys_wire_get_reply(KEYS_MSG_REWRAP_BATCH, w.buf.data, w.buf.len, &rb, &err), 0);
  ipc_writer_free(&w);
}

/* A peer that answers HELLO, then a REWRAP_BATCH of b-0, b-1 (version 7)
 * out of step: the answers in the wrong order (0), more answers than
 * records (1), another record's version (2), no answer at all (3). */
static void *rewrap_peer_main(void *arg) {
  batch_peer *p = arg;
  lisec_err err = {0};
  ipc_header h;
  uint8_t *payload = NULL;
  if (ipc_recv(p->fd, KEYS_PAYLOAD_MAX, &h, &payload, &err)) return NULL;
  ipc_payload_free(payload, h.len);
  keys_reply hello = {.type = KEYS_MSG_HELLO, .info = {.vault = true}};
  reply(p->fd, h.type, KEYS_FLAG_REPLY, h.id, &hello);
  if (ipc_recv(p->fd, KEYS_PAYLOAD_MAX, &h, &payload, &err)) return NULL;
  keys_request q;
  if (keys_wire_get_request(h.type, payload, h.len, &q, &err) == 0 && q.type == KEYS_MSG_REWRAP_BATCH) {
    ipc_writer ans;
    ipc_writer_init(&ans, KEYS_PAYLOAD_MAX);
    uint32_t n = p->mode == 1 ? 3 : p->mode == 3 ? 0 : 2;
    for (uint32_t i = 0; i < n; i++) {
      char id[8];
      snprintf(id, sizeof id, "b-%u", p->mode == 0 ? 1 - i : i);
      keys_rewrapped a = rewrap_answer(id, p->mode == 2 && i == 1 ? 8 : 7, 0);
      keys_wire_put_rewrapped(&ans, &a);
    }
    keys_reply r = {.type = KEYS_MSG_REWRAP_BATCH, .batch_count = n, .batch = ans.buf.data, .batch_len = ans.buf.len};
    reply(p->fd, h.type, KEYS_FLAG_REPLY, h.id, &r);
    ipc_writer_free(&ans);
  }
  ipc_payload_free(payload, h.len);
  while (ipc_recv(p->fd, KEYS_PAYLOAD_MAX, &h, &payload, &err) == 0) ipc_payload_free(payload, h.len);
  return NULL;
}

static void count_rewrapped(void *ctx, size_t i, int rc, const char *msg, bool changed) {
  (void)i, (void)rc, (void)msg, (void)changed;
  (*(int *)ctx)++;
}

/* An answer out of step with the records sent is no answer: the client
 * hands none of it over, leaves the records as they were, and marks the
 * keys process gone. */
static void test_rewrap_batch_out_of_step(void **state) {
  (void)state;
  for (int mode = 0; mode <= 3; mode++) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    batch_peer p = {sv[1], mode};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, rewrap_peer_main, &p), 0);
    keys_client *k = NULL;
    lisec_err err = {0};
    assert_int_equal(keys_client_open(sv[0], &k, &err), 0);
    vault_sealed s[2] = {sample_sealed(), sample_sealed()};
    snprintf(s[0].id, sizeof s[0].id, "b-0");
    snprintf(s[1].id, sizeof s[1].id, "b-1");
    int answered = 0;
    assert_int_equal(keys_vault_rewrap_many(k, s, 2, "pkcs11:lisec/kek-b", count_rewrapped, &answered, &err), LISEC_EUNAVAIL);
    assert_non_null(strstr(err.msg, "the keys process is gone"));
    if (mode != 3) assert_non_null(strstr(err.msg, "REWRAP_BATCH reply"));
    assert_int_equal(answered, 0);
    for (int i = 0; i < 2; i++) assert_string_equal(s[i].kek_label, "pkcs11:lisec/kek-a");
    assert_int_equal(keys_li_check(k, &err), LISEC_EUNAVAIL);
    keys_client_close(k);
    pthread_join(t, NULL);
    close(sv[1]);
  }
}

/* A keys process that re-wraps under another KEK than the one asked for:
 * it answers HELLO, then a REWRAP_BATCH of b-0, b-1, b-2 with b-1 under
 * "pkcs11:lisec/kek-other" (the others under kek-b, as asked), then a
 * REWRAP under kek-other. */
static void *other_label_peer_main(void *arg) {
  batch_peer *p = arg;
  lisec_err err = {0};
  ipc_header h;
  uint8_t *payload = NULL;
  if (ipc_recv(p->fd, KEYS_PAYLOAD_MAX, &h, &payload, &err)) return NULL;
  ipc_payload_free(payload, h.len);
  keys_reply hello = {.type = KEYS_MSG_HELLO, .info = {.vault = true}};
  reply(p->fd, h.type, KEYS_FLAG_REPLY, h.id, &hello);
  while (ipc_recv(p->fd, KEYS_PAYLOAD_MAX, &h, &payload, &err) == 0) {
    keys_request q;
    if (keys_wire_get_request(h.type, payload, h.len, &q, &err) == 0 && q.type == KEYS_MSG_REWRAP_BATCH) {
      ipc_writer ans;
      ipc_writer_init(&ans, KEYS_PAYLOAD_MAX);
      for (uint32_t i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "b-%u", i);
        keys_rewrapped a = rewrap_answer(id, 7, 0);
        if (i == 1) snprintf(a.kek_label, sizeof a.kek_label, "pkcs11:lisec/kek-other");
        keys_wire_put_rewrapped(&ans, &a);
      }
      keys_reply r = {.type = KEYS_MSG_REWRAP_BATCH, .batch_count = 3, .batch = ans.buf.data, .batch_len = ans.buf.len};
      reply(p->fd, h.type, KEYS_FLAG_REPLY, h.id, &r);
      ipc_writer_free(&ans);
    } else if (q.type == KEYS_MSG_REWRAP) {
      keys_reply r = {.type = KEYS_MSG_REWRAP, .sealed = q.sealed, .changed = true};
      snprintf(r.sealed.kek_label, sizeof r.sealed.kek_label, "pkcs11:lisec/kek-other");
      r.sealed.wrapped_key[0] ^= 0xff;
      reply(p->fd, h.type, KEYS_FLAG_REPLY, h.id, &r);
    }
    ipc_payload_free(payload, h.len);
  }
  return NULL;
}

/* The answers of keys_vault_rewrap_many, by record. */
typedef struct label_answers {
  int n, rc[3];
  char msg[3][LISEC_ERR_MSG_MAX];
  bool changed[3];
} label_answers;

static void collect_label_answer(void *ctx, size_t i, int rc, const char *msg, bool changed) {
  label_answers *a = ctx;
  a->n++;
  if (i >= 3) return;
  a->rc[i] = rc;
  snprintf(a->msg[i], sizeof a->msg[i], "%s", msg ? msg : "");
  a->changed[i] = changed;
}

/* The record is stored naming the KEK the rotation asked for, so an answer
 * re-wrapped under another is refused for that record (TR103308-5.7, both
 * labels named), the record left as it was, while the batch's other
 * answers are taken; the channel stays up, and a single REWRAP under
 * another label is refused the same way. */
static void test_rewrap_other_label(void **state) {
  (void)state;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  batch_peer p = {sv[1], 0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, other_label_peer_main, &p), 0);
  keys_client *k = NULL;
  lisec_err err = {0};
  assert_int_equal(keys_client_open(sv[0], &k, &err), 0);
  vault_sealed s[3] = {sample_sealed(), sample_sealed(), sample_sealed()};
  for (int i = 0; i < 3; i++) snprintf(s[i].id, sizeof s[i].id, "b-%d", i);
  vault_sealed before = s[1];
  label_answers a = {0};
  assert_int_equal(keys_vault_rewrap_many(k, s, 3, "pkcs11:lisec/kek-b", collect_label_answer, &a, &err), 0);
  assert_int_equal(a.n, 3);
  for (int i = 0; i < 3; i += 2) {
    assert_int_equal(a.rc[i], 0);
    assert_true(a.changed[i]);
    assert_string_equal(s[i].kek_label, "pkcs11:lisec/kek-b");
    assert_int_equal(s[i].wrapped_key[0], 4);
  }
  assert_int_equal(a.rc[1], LISEC_ECONFLICT);
  assert_false(a.changed[1]);
  assert_non_null(strstr(a.msg[1], "TR103308-5.7"));
  assert_non_null(strstr(a.msg[1], "\"pkcs11:lisec/kek-other\", not \"pkcs11:lisec/kek-b\""));
  assert_string_equal(s[1].kek_label, before.kek_label);
  assert_int_equal(s[1].wrapped_key_len, before.wrapped_key_len);
  assert_memory_equal(s[1].wrapped_key, before.wrapped_key, before.wrapped_key_len);
  /* one at a time: the same refusal, the record untouched */
  vault_sealed one = sample_sealed(), one_before = one;
  bool changed = false;
  assert_int_equal(keys_vault_rewrap(k, &one, "pkcs11:lisec/kek-b", &changed, &err), LISEC_ECONFLICT);
  assert_non_null(strstr(err.msg, "TR103308-5.7"));
  assert_non_null(strstr(err.msg, "\"pkcs11:lisec/kek-other\", not \"pkcs11:lisec/kek-b\""));
  assert_false(changed);
  assert_string_equal(one.kek_label, one_before.kek_label);
  assert_int_equal(one.wrapped_key_len, one_before.wrapped_key_len);
  assert_memory_equal(one.wrapped_key, one_before.wrapped_key, one_before.wrapped_key_len);
  keys_client_close(k);
  pthread_join(t, NULL);
  close(sv[1]);
}

/* EVICT carries a record's id and wrapped key, nothing else of it, each
 * bounded and present; its answer wipes one data key at most, and
 * CACHE_HELD's no more than the largest cache holds. */
static void test_evict_wire(void **state) {
  (void)state;
  lisec_err err = {0};
  keys_request q = {.type = KEYS_MSG_EVICT}, back;
  keys_reply r = {.type = KEYS_MSG_EVICT, .count = 1}, rback;
  ipc_writer w;
  assert_string_equal(keys_wire_type_name(KEYS_MSG_EVICT), "EVICT");
  assert_string_equal(keys_wire_type_name(KEYS_MSG_CACHE_HELD), "CACHE_HELD");
  q.sealed = sample_sealed();
  encode_request(&q, &w);
  /* the id and the wrapped key only: no authorisation, version or ciphertext on the wire */
  assert_int_equal(w.buf.len, 4 + strlen("t-1") + 4 + 60);
  assert_int_equal(keys_wire_get_request(KEYS_MSG_EVICT, w.buf.data, w.buf.len, &back, &err), 0);
  assert_string_equal(back.sealed.id, "t-1");
  assert_int_equal(back.sealed.wrapped_key_len, 60);
  assert_memory_equal(back.sealed.wrapped_key, q.sealed.wrapped_key, 60);
  assert_string_equal(back.sealed.authorisation, "");
  assert_null(back.sealed.ciphertext);
  /* a byte after the last field */
  ipc_put_u8(&w, 0);
  assert_int_equal(keys_wire_get_request(KEYS_MSG_EVICT, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "after its last field"));
  ipc_writer_free(&w);
  /* an empty id, no wrapped key, a wrapped key over its bound */
  static const uint8_t big[VAULT_WRAPPED_MAX + 1];
  struct {
    const char *id;
    const uint8_t *wk;
    size_t n;
    const char *why;
  } bad[] = {{"", big, 60, "an empty record id"},
             {"t-1", big, 0, "no wrapped key"},
             {"t-1", big, sizeof big, "over its bound"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ipc_writer_init(&w, KEYS_PAYLOAD_MAX);
    ipc_put_str(&w, bad[i].id);
    ipc_put_bytes(&w, bad[i].wk, bad[i].n);
    assert_int_equal(keys_wire_get_request(KEYS_MSG_EVICT, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, bad[i].why));
    assert_non_null(strstr(err.msg, "keys EVICT request"));
    ipc_writer_free(&w);
  }
  /* the answers: 0 or 1 for EVICT; up to the largest cache for CACHE_HELD */
  for (uint64_t c = 0; c <= 1; c++) {
    r.count = c;
    encode_reply(&r, &w);
    assert_int_equal(keys_wire_get_reply(KEYS_MSG_EVICT, w.buf.data, w.buf.len, &rback, &err), 0);
    assert_int_equal(rback.count, c);
    ipc_writer_free(&w);
  }
  r.count = 2;
  encode_reply(&r, &w);
  assert_int_equal(keys_wire_get_reply(KEYS_MSG_EVICT, w.buf.data, w.buf.len, &rback, &err), LISEC_EINVAL);
  assert_non_null(strstr(err.msg, "more than one data key"));
  ipc_writer_free(&w);
  r = (keys_reply){.type = KEYS_MSG_CACHE_HELD, .count = KEYS_CACHE_HELD_MAX};
  encode_reply(&r, &w);
  assert_int_equal(keys_wire_get_reply(KEYS_MSG_CACHE_HELD, w.buf.data, w.buf.len, &rback, &err), 0);
  assert_int_equal(rback.count, KEYS_CACHE_HELD_MAX);
  ipc_writer_free(&w);
  r.count = KEYS_CACHE_HELD_MAX + 1;
  encode_reply(&r, &w);
  assert_int_equal(keys_wire_get_reply(KEYS_MSG_CACHE_HELD, w.buf.data, w.buf.len, &rback, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
  /* CACHE_HELD's request has no field */
  q = (keys_request){.type = KEYS_MSG_CACHE_HELD};
  encode_request(&q, &w);
  assert_int_equal(w.buf.len, 0);
  ipc_put_u8(&w, 1);
  assert_int_equal(keys_wire_get_request(KEYS_MSG_CACHE_HELD, w.buf.data, w.buf.len, &back, &err), LISEC_EINVAL);
  ipc_writer_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_truncated_and_trailing),
      cmocka_unit_test(test_oversized_fields),
      cmocka_unit_test(test_unknown_types),
      cmocka_unit_test(test_malformed_values),
      cmocka_unit_test(test_x1_sign_wire),
      cmocka_unit_test(test_x1_sign_service),
      cmocka_unit_test(test_x1_key_dir),
      cmocka_unit_test(test_x1_sign_rsa),
      cmocka_unit_test(test_client_against_bad_peer),
      cmocka_unit_test(test_client_peer_gone),
      cmocka_unit_test(test_batch_round_trip),
      cmocka_unit_test(test_batch_truncated_oversized),
      cmocka_unit_test(test_batch_out_of_order),
      cmocka_unit_test(test_rd_key_wire),
      cmocka_unit_test(test_rewrap_batch_round_trip),
      cmocka_unit_test(test_rewrap_batch_malformed),
      cmocka_unit_test(test_rewrap_batch_out_of_step),
      cmocka_unit_test(test_rewrap_other_label),
      cmocka_unit_test(test_evict_wire),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
