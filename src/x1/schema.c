/* Validation against ETSI's own X1 schema (TS 103 221-1 V1.22.1 and the
 * TS 103 280 types it imports), built into the library from
 * src/x1/etsi-x1-schema/, rather than a lookalike: what lisec accepts and
 * sends is then exactly what the standard's schema accepts, with nothing to
 * install or configure at run time. Compiled once, shared read-only. */
#include <libxml/parserInternals.h>
#include <libxml/xmlschemas.h>
#include <pthread.h>
#include <string.h>

#include "x1/x1_internal.h"

/* The entry point naming the built-in files (the ETSI modules import each
 * other by namespace only). "lisec-x1:" is no real scheme: only the loader
 * below answers it, from memory. */
static const char entry[] =
    "<?xml version='1.0' encoding='UTF-8'?>"
    "<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'>"
    "<xs:import namespace='http://uri.etsi.org/03280/common/2017/07' schemaLocation='lisec-x1:TS_103_280.xsd'/>"
    "<xs:import namespace='" X1_NAMESPACE "/HashedID' schemaLocation='lisec-x1:TS_103_221_01_HashedID.xsd'/>"
    "<xs:import namespace='" X1_NAMESPACE "/DestinationSet' schemaLocation='lisec-x1:TS_103_221_01_DestinationSet.xsd'/>"
    "<xs:import namespace='" X1_NAMESPACE "' schemaLocation='lisec-x1:TS_103_221_01.xsd'/>"
    "</xs:schema>";

static xmlSchemaPtr schema;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static xmlExternalEntityLoader previous;

static void silent(void *ctx, const char *msg, ...) { (void)ctx, (void)msg; }

/* Serves the built-in files; anything else goes to the loader that was
 * there, so another thread parsing meanwhile sees no difference. */
static xmlParserInputPtr load_builtin(const char *url, const char *id, xmlParserCtxtPtr ctxt) {
  static const char scheme[] = "lisec-x1:";
  if (url && strncmp(url, scheme, sizeof scheme - 1) == 0) {
    for (size_t i = 0; i < x1_xsd_count; i++) {
      if (strcmp(url + sizeof scheme - 1, x1_xsd_files[i].name) != 0) continue;
      xmlParserInputBufferPtr buf = xmlParserInputBufferCreateMem(
          (const char *)x1_xsd_files[i].data, (int)x1_xsd_files[i].len, XML_CHAR_ENCODING_NONE);
      xmlParserInputPtr in = buf ? xmlNewIOInputStream(ctxt, buf, XML_CHAR_ENCODING_NONE) : NULL;
      if (!in && buf) xmlFreeParserInputBuffer(buf);
      return in;
    }
    return NULL;
  }
  return previous ? previous(url, id, ctxt) : NULL;
}

static void schema_compile(void) {
  previous = xmlGetExternalEntityLoader();
  xmlSetExternalEntityLoader(load_builtin);
  xmlSchemaParserCtxtPtr p = xmlSchemaNewMemParserCtxt(entry, (int)strlen(entry));
  if (p) {
    xmlSchemaSetParserErrors(p, silent, silent, NULL);
    schema = xmlSchemaParse(p);
    xmlSchemaFreeParserCtxt(p);
  }
  xmlSetExternalEntityLoader(previous);
}

/* Collects the first validation error for the reason. */
static void on_error(void *ctx, const xmlError *e) {
  char *first = ctx;
  if (first[0] || !e || !e->message) return;
  snprintf(first, 256, "line %d: %s", e->line, e->message);
  size_t n = strlen(first);
  while (n && (first[n - 1] == '\n')) first[--n] = '\0';
}

int x1_schema_validate(xmlDocPtr doc, lisec_err *err) {
  pthread_once(&once, schema_compile);
  if (!schema) return lisec_err_set(err, LISEC_EINTERNAL, "the built-in ETSI X1 schema does not compile");
  xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(schema);
  if (!v) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  char first[256] = "";
  xmlSchemaSetValidStructuredErrors(v, (xmlStructuredErrorFunc)on_error, first);
  int rc = xmlSchemaValidateDoc(v, doc);
  xmlSchemaFreeValidCtxt(v);
  if (rc != 0)
    /* X1_SCHEMA_SAID: the complaint may quote a value (x1_error_shown) */
    return lisec_err_set(err, LISEC_EINVAL, "X1 message " X1_SCHEMA_SAID "%s", first[0] ? first : "invalid");
  return 0;
}
