/* Reads what lisec needs from a libvirt domain XML, to report the image a VM
 * runs: the domain's name, the lisec VM id and package id from the element
 * in namespace urn:lisec:vm in <metadata>, and the image file of its first
 * disk (device "disk", a file source). For a disk that is an overlay on a
 * chain of <backingStore> files, the image is the deepest backing file: the
 * read-only base a package ships, where the overlay only holds the VM's
 * writes. The text is bounded, has no DTD, and is parsed without network
 * access or entity expansion. */
#include <libxml/parser.h>
#include <libxml/tree.h>
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

static int read_doc(const xmlNode *root, pkg_domain *out, lisec_err *err) {
  if (!root || !is_element(root, "domain"))
    return lisec_err_set(err, LISEC_EINVAL, "not a libvirt domain: the root element is not <domain>");
  /* the lisec element: the first one of <metadata> in our namespace */
  const xmlNode *meta = child(root, "metadata"), *lisec = NULL;
  for (const xmlNode *n = meta ? meta->children : NULL; n && !lisec; n = n->next)
    if (n->type == XML_ELEMENT_NODE && n->ns && n->ns->href && strcmp((const char *)n->ns->href, LISEC_VM_NS) == 0)
      lisec = n;
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
    xmlChar *device = xmlGetNoNsProp((xmlNode *)d, (const xmlChar *)"device");
    bool is_disk = !device || strcmp((const char *)device, "disk") == 0;
    xmlFree(device);
    bool found = false;
    if (is_disk && (rc = disk_image(d, out->image, sizeof out->image, &found, err))) return rc;
    if (found) return 0;
  }
  out->image[0] = '\0';
  return 0;
}

int pkg_domain_read(const char *xml, size_t len, pkg_domain *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (len > PKG_DOMAIN_XML_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "the domain XML is larger than %d bytes", PKG_DOMAIN_XML_MAX);
  xmlDocPtr doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc) return lisec_err_set(err, LISEC_EINVAL, "the domain XML is not well-formed");
  int rc = doc->intSubset || doc->extSubset
               ? lisec_err_set(err, LISEC_EINVAL, "the domain XML carries a DTD; libvirt never writes one")
               : read_doc(xmlDocGetRootElement(doc), out, err);
  xmlFreeDoc(doc);
  if (rc) memset(out, 0, sizeof *out);
  return rc;
}
