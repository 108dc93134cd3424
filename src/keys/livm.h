/* The LI VMs' key pairs in the keys process's PKCS#11 token ([li]): an EC
 * P-256 pair per VM, labelled "lisec-li-vm:<vm>", whose private half is
 * sensitive and never extractable. The controller gets the public point and
 * the two object handles (to undo a registration that could not be stored);
 * it never sees a private key. */
#ifndef LISEC_KEYS_LIVM_H
#define LISEC_KEYS_LIVM_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define KEYS_LIVM_LABEL_PREFIX "lisec-li-vm:"
#define KEYS_LIVM_ID_MAX 128 /* li/li.h LI_VM_ID_MAX */
#define KEYS_LIVM_POINT_MAX 80

typedef struct keys_livm keys_livm;

int keys_livm_open(const char *module, const char *token, const char *pin, keys_livm **out,
                   lisec_err *err);
void keys_livm_close(keys_livm *st);
/* Generates vm's pair: point gets CKA_EC_POINT as the token gives it (DER
 * OCTET STRING or bare), h[0]/h[1] the public and private handles. */
int keys_livm_generate(keys_livm *st, const char *vm, uint8_t point[KEYS_LIVM_POINT_MAX],
                       size_t *point_len, uint64_t h[2], lisec_err *err);
/* Destroys the objects by handle, each only when its label is an LI VM's
 * (a handle from the controller is not trusted to name one). 0 for a
 * handle of 0. */
int keys_livm_destroy(keys_livm *st, const uint64_t h[2], lisec_err *err);
/* Destroys every object of vm's pair (label "lisec-li-vm:<vm>", CKA_ID
 * vm) and looks again: 0 only when none is left. *count: how many went (0
 * when none was there: a retirement asked again finds the key gone). */
int keys_livm_destroy_vm(keys_livm *st, const char *vm, uint64_t *count, lisec_err *err);
/* 0 when the session is open and logged in as the user. */
int keys_livm_check(keys_livm *st, lisec_err *err);

#endif
