/* libFuzzer harness: the libvirt domain XML reader behind the agent's image
 * reports. A domain that reads must give a VM id and, when present, a
 * package id that are lisec ids, and a terminated image path; the
 * inventory's device reader keeps its bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/pkg.h"

static int lisec_id(const char *s, size_t cap) {
  size_t n = strnlen(s, cap);
  if (n == 0 || n == cap) return 0;
  for (size_t i = 0; i < n; i++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-", s[i])) return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pkg_domain d;
  pkg_domain_devices dev;
  lisec_err err;
  /* The inventory's reader (issue 15): bounded counts, terminated strings. */
  if (pkg_domain_read_devices((const char *)data, size, &dev, &err) == 0) {
    if (dev.n_disks > PKG_DOMAIN_DISKS_MAX || dev.n_ifaces > PKG_DOMAIN_IFACES_MAX) abort();
    for (size_t i = 0; i < dev.n_disks; i++)
      if (!dev.disks[i].target[0] || !dev.disks[i].image[0]) abort();
    for (size_t i = 0; i < dev.n_ifaces; i++)
      if (strnlen(dev.ifaces[i].mac, sizeof dev.ifaces[i].mac) == sizeof dev.ifaces[i].mac) abort();
    pkg_domain_devices_free(&dev);
  } else if (dev.disks || dev.ifaces) {
    abort();
  }
  if (pkg_domain_read((const char *)data, size, &d, &err) != 0) return 0;
  if (!lisec_id(d.vm, sizeof d.vm)) abort();
  if (d.package[0] && !lisec_id(d.package, sizeof d.package)) abort();
  if (strnlen(d.image, sizeof d.image) == sizeof d.image) abort();
  return 0;
}
