/* libFuzzer harness: the LI administration's signed messages as lisecd
 * receives them (docs/li.md): the disable command, the retire command
 * (issue 21) and the pairing statement, each at most 4096 bytes. Whatever
 * parses must be refused unless the LI administration's key signed it,
 * which a fuzzer cannot do; and a VM's state must not move on any of
 * them. The first byte picks the message kind. */
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "li/li.h"

static EVP_PKEY *admin, *vm_key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!admin && (!(admin = EVP_EC_gen("P-256")) || !(vm_key = EVP_EC_gen("P-256")))) abort();
  if (size < 1) return 0;
  uint8_t kind = data[0] % 3;
  data++, size--;
  lisec_err err = {0};
  li_command c;
  li_vm vm;
  if (li_vm_init(&vm, "vnf-li-1", &err)) abort();
  vm.state = LI_STATE_PAIRED;
  int rc;
  switch (kind) {
  case 0:
    rc = li_command_verify(data, size, admin, "vnf-li-1", 0, 1800000000, &c, &err);
    if (rc == 0 || li_disable_signed(&vm, admin, data, size, 1800000000, &err) == 0) abort();
    break;
  case 1:
    rc = li_retire_verify(data, size, admin, "vnf-li-1", 0, 1800000000, &c, &err);
    if (rc == 0 || li_retire_signed(&vm, admin, data, size, 1800000000, &err) == 0) abort();
    break;
  default:
    vm.state = LI_STATE_ENABLED;
    rc = li_pair_verify(data, size, admin, "vnf-li-1", vm_key, 0, 1800000000, &err);
    if (rc == 0 || li_pair(&vm, "li-admin", admin, vm_key, data, size, 1800000000, &err) == 0) abort();
    break;
  }
  if (vm.state == LI_STATE_RETIRED || vm.last_counter != 0) abort();
  return 0;
}
