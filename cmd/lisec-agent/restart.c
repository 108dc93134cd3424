/* The agent's side of the LI lock (TR 103 308 §4.1, issue 15 item 3): a
 * paired LI VM that lisecd saw paused, shut off or crashed in this host's
 * attested inventory comes back in the challenge reply's "restart" list,
 * and the agent starts it again here, so whatever still stopped it (root
 * on the host, a crash, an identity the polkit rules did not cover) lasts
 * one poll and one attestation. A domain is acted on only when the lisec
 * VM id in its urn:lisec:vm metadata is one asked for, read as the
 * inventory reads it (pkg_domain_read_devices), which is what lisecd
 * judged: never by its libvirt name, so a domain without lisec metadata
 * is never started for lisecd, and one named like an LI VM does not hide
 * the LI VM. The inventory connection (libvirt.c) is read-only, so a
 * read-write one is opened for the call; restarts are rare. */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "pkg/pkg.h"
#include "restart.h"

static const char *lv_error(void) {
  const virError *e = virGetLastError();
  return e && e->message ? e->message : "unknown libvirt error";
}

/* Starts or resumes dom; 1 when it did, 0 otherwise (said on stderr). */
static int restart_one(virDomainPtr dom, const char *vm) {
  int state = 0, reason = 0;
  if (virDomainGetState(dom, &state, &reason, 0) < 0) {
    fprintf(stderr, "lisec-agent: restart of LI VM %s: no state: %s\n", vm, lv_error());
    return 0;
  }
  int rc;
  const char *what;
  if (state == VIR_DOMAIN_PAUSED) {
    what = "resumed", rc = virDomainResume(dom);
  } else if (state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_CRASHED) {
    /* A crashed domain libvirt kept active (on_crash preserve) is ended first. */
    if (state == VIR_DOMAIN_CRASHED && virDomainIsActive(dom) == 1) (void)virDomainDestroy(dom);
    what = "started", rc = virDomainCreate(dom);
  } else {
    fprintf(stderr, "lisec-agent: LI VM %s is running (state %d) already\n", vm, state);
    return 0;
  }
  if (rc < 0) {
    fprintf(stderr, "lisec-agent: LI VM %s could not be %s: %s\n", vm, what, lv_error());
    return 0;
  }
  fprintf(stderr, "lisec-agent: LI VM %s %s again, as lisecd asked (TR103308-4.1-LOCK)\n", vm, what);
  return 1;
}

int agent_restart_vms(const char *uri, const json_t *vms) {
  if (!json_is_array(vms) || json_array_size(vms) == 0) return 0;
  if (!uri || !*uri) {
    fprintf(stderr, "lisec-agent: lisecd asks to restart LI VMs, but no [libvirt] uri is configured\n");
    return 0;
  }
  /* The ids asked for (a set: each domain's XML is read once, whatever the
   * length of the list), and whether a domain claims each. */
  json_t *asked = json_object();
  size_t i;
  const json_t *v;
  json_array_foreach(vms, i, v) {
    const char *vm = json_string_value(v);
    if (asked && vm && lisec_id_valid(vm)) json_object_set_new(asked, vm, json_false());
  }
  if (!asked || json_object_size(asked) == 0) {
    json_decref(asked);
    return 0;
  }
  virConnectPtr conn = virConnectOpen(uri);
  if (!conn) {
    fprintf(stderr, "lisec-agent: restart: cannot connect to %s: %s\n", uri, lv_error());
    json_decref(asked);
    return 0;
  }
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains(conn, &doms, 0), done = 0;
  if (n < 0) fprintf(stderr, "lisec-agent: restart: cannot list domains: %s\n", lv_error());
  for (int k = 0; k < n; k++) {
    char *xml = virDomainGetXMLDesc(doms[k], 0);
    pkg_domain_devices d;
    lisec_err err = {0};
    bool read = xml && pkg_domain_read_devices(xml, strlen(xml), &d, &err) == 0;
    free(xml);
    json_t *seen = read && d.vm[0] ? json_object_get(asked, d.vm) : NULL;
    if (seen) {
      json_object_set_new(asked, d.vm, json_true());
      done += restart_one(doms[k], d.vm);
    }
    if (read) pkg_domain_devices_free(&d);
  }
  const char *vm;
  json_t *found;
  json_object_foreach(asked, vm, found)
    if (n >= 0 && !json_is_true(found))
      fprintf(stderr, "lisec-agent: LI VM %s to restart is not defined on this host\n", vm);
  for (int k = 0; k < n; k++) virDomainFree(doms[k]);
  free(doms);
  virConnectClose(conn);
  json_decref(asked);
  return done;
}
