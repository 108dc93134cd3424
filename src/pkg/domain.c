/* Reads what lisec needs from a libvirt domain XML, to report the image a VM
 * runs: the domain's name, the lisec VM id and package id from the element
 * in namespace urn:lisec:vm in <metadata>, and the image file of its first
 * disk (device "disk", a file source). For a disk that is an overlay on a
 * chain of <backingStore> files, the image is the deepest backing file: the
 * read-only base a package ships, where the overlay only holds the VM's
 * writes. The text is bounded, has no DTD, and is parsed without network
 * access or entity expansion. pkg_domain_read_devices reads the rest of
 * what a host's inventory reports (issue 15): every file disk with its
 * target and base image, and the network interfaces. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/pkg.h"

#define LISEC_VM_NS "urn:lisec:vm"

static bool is_element(const xmlNode *n, const char *name) {
  return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *parent, const char *name) {
  for (const xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
    if (is_element(n, name)) return n;
  return NULL;
}

/* Copies attribute name of n (absent: ""); ETOOBIG naming what when it does
 * not fit. */
static int copy_attr(const xmlNode *n, const char *name, char *out, size_t cap, const char *what,
                     lisec_err *err) {
  out[0] = '\0';
  xmlChar *v = n ? xmlGetNoNsProp((xmlNode *)n, (const xmlChar *)name) : NULL;
  if (!v) return 0;
  size_t len = strlen((const char *)v);
  if (len < cap) memcpy(out, v, len + 1);
  xmlFree(v);
  return len < cap ? 0 : lisec_err_set(err, LISEC_ETOOBIG, "%s is longer than %zu bytes", what, cap - 1);
}

/* An id as lisec's model and packages write them: lisec's one id rule. */
static int id_check(const char *id, const char *what, lisec_err *err) {
  if (lisec_id_valid(id)) return 0;
  return lisec_err_set(err, LISEC_EINVAL, "%s \"%.64s\" is not a lisec id (%s)", what, id, LISEC_ID_RULE);
}

/* The file of a disk: its own source, or the deepest file in its backing
 * chain. *found is false for a disk without a file source. */
static int disk_image(const xmlNode *disk, char *out, size_t cap, bool *found, lisec_err *err) {
  *found = false;
  int depth = 0;
  for (const xmlNode *d = disk; d; d = child(d, "backingStore")) {
    if (depth++ > PKG_DOMAIN_CHAIN_MAX)
      return lisec_err_set(err, LISEC_ETOOBIG, "the disk's backing chain is deeper than %d", PKG_DOMAIN_CHAIN_MAX);
    xmlChar *type = xmlGetNoNsProp((xmlNode *)d, (const xmlChar *)"type");
    bool file = type && strcmp((const char *)type, "file") == 0;
    xmlFree(type);
    const xmlNode *src = child(d, "source");
    xmlChar *path = file && src ? xmlGetNoNsProp((xmlNode *)src, (const xmlChar *)"file") : NULL;
    if (!path || !path[0]) {
      xmlFree(path);
      break;
    }
    size_t len = strlen((const char *)path);
    if (len < cap) memcpy(out, path, len + 1);
    xmlFree(path);
    if (len >= cap) return lisec_err_set(err, LISEC_ETOOBIG, "the disk's file name is longer than %zu bytes", cap - 1);
    *found = true;
  }
  return 0;
}

/* Copies n's text content (absent: ""), like copy_attr. */
static int copy_text(const xmlNode *n, char *out, size_t cap, const char *what, lisec_err *err) {
  out[0] = '\0';
  xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
  if (!v) return 0;
  size_t len = strlen((const char *)v);
  if (len < cap) memcpy(out, v, len + 1);
  xmlFree(v);
  return len < cap ? 0 : lisec_err_set(err, LISEC_ETOOBIG, "%s is longer than %zu bytes", what, cap - 1);
}

/* The lisec element: the first one of <metadata> in our namespace. */
static const xmlNode *lisec_element(const xmlNode *root) {
  const xmlNode *meta = child(root, "metadata");
  for (const xmlNode *n = meta ? meta->children : NULL; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && n->ns && n->ns->href && strcmp((const char *)n->ns->href, LISEC_VM_NS) == 0)
      return n;
  return NULL;
}

static bool is_disk_device(const xmlNode *d) {
  xmlChar *device = xmlGetNoNsProp((xmlNode *)d, (const xmlChar *)"device");
  bool is_disk = !device || strcmp((const char *)device, "disk") == 0;
  xmlFree(device);
  return is_disk;
}

static int read_doc(const xmlNode *root, pkg_domain *out, lisec_err *err) {
  if (!root || !is_element(root, "domain"))
    return lisec_err_set(err, LISEC_EINVAL, "not a libvirt domain: the root element is not <domain>");
  const xmlNode *lisec = lisec_element(root);
  int rc;
  if ((rc = copy_attr(lisec, "id", out->vm, sizeof out->vm, "the lisec VM id", err)) ||
      (rc = copy_attr(lisec, "package", out->package, sizeof out->package, "the lisec package id", err)))
    return rc;
  const char *vm_what = "the lisec VM id";
  if (!out->vm[0]) { /* without one, the domain's name */
    vm_what = "the domain name";
    if ((rc = copy_text(child(root, "name"), out->vm, sizeof out->vm, vm_what, err))) return rc;
  }
  if ((rc = id_check(out->vm, vm_what, err)) ||
      (out->package[0] && (rc = id_check(out->package, "the lisec package id", err))))
    return rc;
  /* the first disk (device "disk" is libvirt's default) with a file */
  const xmlNode *devices = child(root, "devices");
  for (const xmlNode *d = devices ? devices->children : NULL; d; d = d->next) {
    if (!is_element(d, "disk")) continue;
    bool is_disk = is_disk_device(d), found = false;
    if (is_disk && (rc = disk_image(d, out->image, sizeof out->image, &found, err))) return rc;
    if (found) return 0;
  }
  out->image[0] = '\0';
  return 0;
}

/* Parses a domain's XML within the size bound, without network access and
 * without a DTD (libvirt never writes one); the caller frees *doc. */
static int open_domain_xml(const char *xml, size_t len, xmlDocPtr *doc, lisec_err *err) {
  *doc = NULL;
  if (len > PKG_DOMAIN_XML_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "the domain XML is larger than %d bytes", PKG_DOMAIN_XML_MAX);
  *doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!*doc) return lisec_err_set(err, LISEC_EINVAL, "the domain XML is not well-formed");
  if ((*doc)->intSubset || (*doc)->extSubset) {
    xmlFreeDoc(*doc);
    *doc = NULL;
    return lisec_err_set(err, LISEC_EINVAL, "the domain XML carries a DTD; libvirt never writes one");
  }
  return 0;
}

int pkg_domain_read(const char *xml, size_t len, pkg_domain *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  xmlDocPtr doc;
  int rc = open_domain_xml(xml, len, &doc, err);
  if (rc == 0) rc = read_doc(xmlDocGetRootElement(doc), out, err);
  xmlFreeDoc(doc);
  if (rc) memset(out, 0, sizeof *out);
  return rc;
}

/* ---- the devices a host's inventory reports --------------------------------- */

void pkg_domain_devices_free(pkg_domain_devices *d) {
  if (!d) return;
  free(d->disks);
  free(d->ifaces);
  memset(d, 0, sizeof *d);
}

static void lower(char *s) {
  for (; *s; s++)
    if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
}

static int read_iface(const xmlNode *n, pkg_domain_iface *f, lisec_err *err) {
  int rc;
  char type[16];
  if ((rc = copy_attr(n, "type", type, sizeof type, "an interface's type", err)) ||
      (rc = copy_attr(child(n, "mac"), "address", f->mac, sizeof f->mac, "an interface's MAC", err)) ||
      (rc = copy_attr(child(n, "target"), "dev", f->target, sizeof f->target, "an interface's target", err)))
    return rc;
  lower(f->mac);
  /* Where the interface attaches: a libvirt network, a host bridge, or a
   * host device (macvtap); any other kind is reported as "other". */
  const char *src = NULL, *kind = "other";
  if (strcmp(type, "network") == 0) src = "network", kind = "network";
  else if (strcmp(type, "bridge") == 0) src = "bridge", kind = "bridge";
  else if (strcmp(type, "direct") == 0) src = "dev", kind = "direct";
  memcpy(f->type, kind, strlen(kind) + 1);
  if (src) return copy_attr(child(n, "source"), src, f->source, sizeof f->source, "an interface's source", err);
  f->source[0] = '\0';
  return 0;
}

static int read_devices(const xmlNode *root, pkg_domain_devices *out, lisec_err *err) {
  if (!root || !is_element(root, "domain"))
    return lisec_err_set(err, LISEC_EINVAL, "not a libvirt domain: the root element is not <domain>");
  const xmlNode *lisec = lisec_element(root);
  int rc;
  /* Reported as found: lisecd applies the id rule and refuses what fails
   * it, so a malformed id is seen there rather than hidden here. */
  if ((rc = copy_attr(lisec, "id", out->vm, sizeof out->vm, "the lisec VM id", err)) ||
      (rc = copy_attr(lisec, "package", out->package, sizeof out->package, "the lisec package id", err)))
    return rc;
  const xmlNode *devices = child(root, "devices");
  for (const xmlNode *d = devices ? devices->children : NULL; d; d = d->next) {
    if (is_element(d, "disk") && is_disk_device(d)) {
      pkg_domain_disk disk;
      bool found = false;
      if ((rc = disk_image(d, disk.image, sizeof disk.image, &found, err)) ||
          (rc = copy_attr(child(d, "target"), "dev", disk.target, sizeof disk.target, "a disk's target", err)))
        return rc;
      if (!found || !disk.target[0]) continue;
      if (out->n_disks == PKG_DOMAIN_DISKS_MAX)
        return lisec_err_set(err, LISEC_ETOOBIG, "the domain has more than %d file disks", PKG_DOMAIN_DISKS_MAX);
      if (!out->disks && !(out->disks = calloc(PKG_DOMAIN_DISKS_MAX, sizeof *out->disks)))
        return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
      out->disks[out->n_disks++] = disk;
    } else if (is_element(d, "interface")) {
      if (out->n_ifaces == PKG_DOMAIN_IFACES_MAX)
        return lisec_err_set(err, LISEC_ETOOBIG, "the domain has more than %d interfaces", PKG_DOMAIN_IFACES_MAX);
      if (!out->ifaces && !(out->ifaces = calloc(PKG_DOMAIN_IFACES_MAX, sizeof *out->ifaces)))
        return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
      if ((rc = read_iface(d, &out->ifaces[out->n_ifaces], err))) return rc;
      out->n_ifaces++;
    }
  }
  return 0;
}

int pkg_domain_read_devices(const char *xml, size_t len, pkg_domain_devices *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  xmlDocPtr doc;
  int rc = open_domain_xml(xml, len, &doc, err);
  if (rc == 0) rc = read_devices(xmlDocGetRootElement(doc), out, err);
  xmlFreeDoc(doc);
  if (rc) pkg_domain_devices_free(out);
  return rc;
}
