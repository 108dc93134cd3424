/* Shared between the x1/ files: schema validation of a parsed document. */
#ifndef LISEC_X1_INTERNAL_H
#define LISEC_X1_INTERNAL_H

#include <libxml/tree.h>
#include <stdio.h>

#include "x1/x1.h"

int x1_schema_validate(xmlDocPtr doc, lisec_err *err);

#endif
