/* `lisec-agent check-image`: the check libvirt's QEMU hook runs at
 * `prepare begin`, before a domain starts on this host (also on the
 * incoming side of a migration), so that a VM whose base image is not one
 * of its package's images never starts (TR 103 308 §4.2, verified at boot
 * and transfer). The VM id, the package the domain names and its disk's
 * base image come from the domain XML (pkg_domain_read); the image is
 * hashed here and POST /v1/image-checks asks lisecd, which holds the digest
 * to the VM's own package in the trust model and accepts the question only
 * from the host the VM is recorded on or one lisec allows it to move to.
 * Unlike report-image nothing is kept as a report: the answer only lets the
 * start go on or stops it. Any doubt (no answer, a refusal, a file that
 * cannot be hashed) is a refusal: the hook fails closed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "pkg/pkg.h"

int agent_cmd_check_image(const agent_net *n, const char *xml_path) {
  pkg_domain d;
  int rc = agent_domain_for_server(n, "check-image", xml_path, &d);
  if (rc) return rc;
  /* No disk file: lisecd says whether the VM has a package that needs one. */
  char digest[7 + 64 + 1] = "";
  if (d.image[0] && agent_hash_file(d.image, digest)) return 2;
  json_t *body = json_pack("{s:s}", "vm", d.vm), *reply = NULL;
  if (body && d.package[0]) json_object_set_new(body, "package", json_string(d.package));
  if (body && digest[0]) json_object_set_new(body, "digest", json_string(digest));
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
    json_decref(body);
    return agent_fail("libcurl did not start");
  }
  CURL *c = curl_easy_init();
  long status = 0;
  rc = !body || !c ? agent_fail("out of memory")
                   : agent_post(c, n, "/v1/image-checks", body, &status, &reply) ? 2 : 0;
  if (!rc && status == 403) {
    fprintf(stderr, "lisec-agent: lisecd refuses the start of VM %s: %s\n", d.vm,
            agent_reply_error(reply));
    rc = 1;
  } else if (!rc && status != 200) {
    rc = agent_fail("lisecd did not check VM %s (HTTP %ld): %s", d.vm, status, agent_reply_error(reply));
  } else if (!rc) {
    const json_t *compliant = json_object_get(reply, "compliant");
    const char *reason = json_string_value(json_object_get(reply, "reason"));
    if (!json_is_boolean(compliant)) {
      rc = agent_fail("lisecd's answer for VM %s has no verdict", d.vm);
    } else if (json_is_true(compliant)) {
      printf("VM %s may start: %s%s%s\n", d.vm, reason ? reason : "", digest[0] ? " " : "", digest);
    } else {
      fprintf(stderr, "lisec-agent: VM %s does NOT run its package's image (%s, %s): %s (audit index %lld)\n",
              d.vm, d.image[0] ? d.image : "no disk file", digest[0] ? digest : "no digest",
              reason ? reason : "", (long long)json_integer_value(json_object_get(reply, "audit_index")));
      rc = 1;
    }
  }
  json_decref(body);
  json_decref(reply);
  curl_easy_cleanup(c);
  curl_global_cleanup();
  return rc;
}
