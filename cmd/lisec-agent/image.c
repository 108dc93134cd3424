/* `lisec-agent report-image`: tells lisecd which image a VM runs, so that a
 * VM whose image is not its package's is seen at instantiation, resume and
 * after migration (TR 103 308 §4.2). The libvirt QEMU hook pipes the
 * domain's XML in; the VM id, its package and its disk come from that XML
 * (pkg_domain_read), the disk's image file is hashed here with SHA-256,
 * and the report goes to POST /v1/packages/{id}/image-reports over mutual
 * TLS with the host's certificate. lisecd compares it with the package's
 * images, records it, and lists a mismatch in the platform's compliance
 * report until a later report shows the right image. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "pkg/pkg.h"

#define HASH_CHUNK (1u << 20)

/* The domain XML from a file or stdin ("-"), at most PKG_DOMAIN_XML_MAX
 * bytes: one more is read to tell a larger one. */
int agent_read_xml(const char *path, char **out, size_t *len) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) return agent_fail("cannot open %s: %s", path, strerror(errno));
  char *buf = malloc(PKG_DOMAIN_XML_MAX + 1);
  size_t n = buf ? fread(buf, 1, PKG_DOMAIN_XML_MAX + 1, f) : 0;
  bool bad = buf && ferror(f);
  if (f != stdin) fclose(f);
  if (!buf) return agent_fail("out of memory");
  if (bad || n > PKG_DOMAIN_XML_MAX) {
    free(buf);
    return bad ? agent_fail("cannot read %s", path)
               : agent_fail("the domain XML is larger than %d bytes", PKG_DOMAIN_XML_MAX);
  }
  *out = buf;
  *len = n;
  return 0;
}

/* "sha256:<hex>" of the file at path, read in 1 MiB chunks. The path comes
 * from a domain's XML, which whoever defines the domain writes, and the
 * agent runs as root: anything but a regular file is refused before it is
 * opened (opening a FIFO waits for a writer, and would hold the hook's
 * libvirtd or the agent's loop; opening a device can act on it, as a
 * watchdog's or a tape's does), and the file opened is the one looked at. */
int agent_hash_file(const char *path, char out[7 + 64 + 1]) {
  struct stat before, st;
  if (stat(path, &before) != 0) return agent_fail("cannot open the disk image %s: %s", path, strerror(errno));
  if (!S_ISREG(before.st_mode)) return agent_fail("the disk image %s is not a regular file", path);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return agent_fail("cannot open the disk image %s: %s", path, strerror(errno));
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != before.st_dev || st.st_ino != before.st_ino) {
    close(fd);
    return agent_fail("the disk image %s is not a regular file", path);
  }
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  uint8_t *buf = malloc(HASH_CHUNK), digest[32];
  bool ok = md && buf && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
  ssize_t n = 0;
  while (ok && (n = read(fd, buf, HASH_CHUNK)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0 && EVP_DigestUpdate(md, buf, (size_t)n) == 1;
  }
  unsigned dlen = 0;
  ok = ok && EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen == sizeof digest;
  int saved = errno;
  close(fd);
  free(buf);
  EVP_MD_CTX_free(md);
  if (!ok) return agent_fail("cannot hash the disk image %s: %s", path, n < 0 ? strerror(saved) : "out of memory");
  memcpy(out, "sha256:", 7);
  lisec_hex_encode(digest, sizeof digest, out + 7);
  return 0;
}

int agent_domain_for_server(const agent_net *n, const char *cmd, const char *xml_path, pkg_domain *d) {
  if (!n->url || !n->ca || !n->cert || !n->key)
    return agent_fail("%s needs [server] url, ca, cert and key (or LISEC_SERVER, LISEC_CA, "
                      "LISEC_CERT and LISEC_KEY)", cmd);
  char *xml = NULL;
  size_t len = 0;
  if (agent_read_xml(xml_path, &xml, &len)) return 2;
  lisec_err err = {0};
  int rc = pkg_domain_read(xml, len, d, &err);
  free(xml);
  return rc ? agent_fail("domain XML: %s", err.msg) : 0;
}

int agent_cmd_vm_id(const char *xml_path) {
  char *xml = NULL;
  size_t len = 0;
  if (agent_read_xml(xml_path, &xml, &len)) return 2;
  pkg_domain d;
  lisec_err err = {0};
  int rc = pkg_domain_read(xml, len, &d, &err);
  free(xml);
  if (rc) return agent_fail("domain XML: %s", err.msg);
  printf("%s\n", d.vm);
  return 0;
}

int agent_cmd_report_image(const agent_net *n, const char *event, const char *xml_path) {
  if (strcmp(event, "instantiate") && strcmp(event, "resume") && strcmp(event, "migrate"))
    return agent_fail("--event is instantiate, resume or migrate");
  pkg_domain d;
  int rc = agent_domain_for_server(n, "report-image", xml_path, &d);
  if (rc) return rc;
  if (!d.package[0]) {
    fprintf(stderr, "lisec-agent: VM %s names no package (package attribute of its urn:lisec:vm "
                    "metadata): nothing to report\n", d.vm);
    return 0;
  }
  if (!d.image[0]) return agent_fail("VM %s has no disk with an image file to report", d.vm);
  char digest[7 + 64 + 1], path[64 + PKG_DOMAIN_ID_MAX];
  if (agent_hash_file(d.image, digest)) return 2;
  snprintf(path, sizeof path, "/v1/packages/%s/image-reports", d.package);
  json_t *body = json_pack("{s:s, s:s, s:s}", "vm", d.vm, "digest", digest, "event", event), *reply = NULL;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) return agent_fail("libcurl did not start");
  CURL *c = curl_easy_init();
  long status = 0;
  rc = !body || !c ? agent_fail("out of memory") : agent_post(c, n, path, body, &status, &reply) ? 2 : 0;
  if (!rc && status != 200) {
    rc = agent_fail("lisecd refused the report of VM %s (HTTP %ld): %s", d.vm, status, agent_reply_error(reply));
  } else if (!rc) {
    bool compliant = json_is_true(json_object_get(reply, "compliant"));
    const char *reason = json_string_value(json_object_get(reply, "reason"));
    printf("VM %s %s (%s, %s): %s\n", d.vm, compliant ? "runs its package's image" : "does NOT run its package's image",
           d.image, digest, reason ? reason : "");
    rc = compliant ? 0 : 1;
  }
  json_decref(body);
  json_decref(reply);
  curl_easy_cleanup(c);
  curl_global_cleanup();
  return rc;
}
