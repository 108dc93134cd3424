/* The X1 client's TLS private keys, held by the keys process only (issue
 * 16): the controller presents the ADMF's certificate to a network element
 * and asks this process for the handshake's signature, so the private key
 * never enters the controller. Keys are PEM files named by their absolute
 * path in the NE registration, loaded on first use and kept by path. Only
 * files in the key directory ([keys] x1_key_dir) are used, so a controller
 * that has been taken over cannot make this process sign with another key
 * it can read (lisecd's own TLS key); without one, none is. */
#ifndef LISEC_KEYS_X1KEY_H
#define LISEC_KEYS_X1KEY_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct keys_x1keys keys_x1keys;

/* dir: the directory X1 client keys must be in (resolved, symlinks too),
 * or NULL: every signature is refused, naming the setting. */
int keys_x1keys_open(const char *dir, keys_x1keys **out, lisec_err *err);
void keys_x1keys_close(keys_x1keys *k);
/* Signs data with the key in the file at path, using alg (wire.h's
 * KEYS_X1_*: ECDSA over a digest with an EC key, a DER signature; with an
 * RSA key PKCS#1 v1.5 over a DigestInfo or the private operation on a
 * checked PSS block). *sig_len <= cap. */
int keys_x1keys_sign(keys_x1keys *k, const char *path, unsigned alg, const uint8_t *data, size_t len,
                     uint8_t *sig, size_t cap, size_t *sig_len, lisec_err *err);

#endif
