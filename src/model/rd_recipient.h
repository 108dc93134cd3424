/* The recipient of an RD data key (issue 20; TR 103 308 §5.7): the RD VM's
 * own P-256 public key, sent with its key request as PEM
 * (SubjectPublicKeyInfo). lisecd never holds an RD data key in clear: the
 * keys process has the token wrap it to this key (ephemeral-static ECDH
 * on P-256, then AES-256 key wrap, RFC 3394; docs/rd.md), and the
 * controller forwards only the wrapped bytes and the ephemeral public key,
 * both encoded here. Pure: bytes in, the point or a refusal naming
 * TR103308-5.7-RD-WRAP out. */
#ifndef LISEC_MODEL_RD_RECIPIENT_H
#define LISEC_MODEL_RD_RECIPIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define MODEL_REQ_RD_WRAP "TR103308-5.7-RD-WRAP"
/* An uncompressed P-256 point: 0x04 || X || Y. */
#define MODEL_RD_POINT_LEN 65
/* A P-256 SubjectPublicKeyInfo in PEM is 178 bytes; room for CRLFs and
 * a trailing newline, nothing like another key type's size. */
#define MODEL_RD_RECIPIENT_PEM_MAX 512
/* The data key (AES-256) wrapped by RFC 3394: 8 bytes more. */
#define MODEL_RD_WRAPPED_LEN 40

/* The recipient's point from its PEM public key: EINVAL naming
 * TR103308-5.7-RD-WRAP for a missing, malformed or oversized PEM, a key
 * that is not EC, or a curve other than P-256 (the point is checked to lie
 * on the curve by the parse). */
int model_rd_recipient_parse(const char *pem, size_t len, uint8_t point[MODEL_RD_POINT_LEN], lisec_err *err);
/* The PEM (SubjectPublicKeyInfo) of a P-256 point, for the reply's
 * ephemeral key; *out is the caller's (free). */
int model_rd_point_pem(const uint8_t point[MODEL_RD_POINT_LEN], char **out, lisec_err *err);

#endif
