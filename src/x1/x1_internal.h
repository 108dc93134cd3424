/* Shared between the x1/ files: ETSI's X1 schema, built into the library,
 * and validation of a parsed document against it. */
#ifndef LISEC_X1_INTERNAL_H
#define LISEC_X1_INTERNAL_H

#include <libxml/tree.h>
#include <stdio.h>

#include "x1/x1.h"

typedef struct x1_xsd_file {
  const char *name;
  const unsigned char *data;
  size_t len;
} x1_xsd_file;

/* x1_xsd_data.c, generated from src/x1/etsi-x1-schema/ at build time. */
extern const x1_xsd_file x1_xsd_files[];
extern const size_t x1_xsd_count;

/* 0 when doc validates against ETSI's X1 schema; the reason names the first
 * violation (line and rule). */
int x1_schema_validate(xmlDocPtr doc, lisec_err *err);

#endif
