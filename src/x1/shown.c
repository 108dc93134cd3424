/* What of an X1 error's text may reach readers other than the LI
 * administration (see x1.h, x1_error_shown): lisec's own words, cut where
 * the schema's complaint or an NE's words begin, since either may quote a
 * target identifier the message carried (TR103308-5.7: target lists are
 * for the LI administration only). The full text goes to sealed records. */
#include <stdio.h>
#include <string.h>

#include "x1/x1.h"

#define WITHHELD                                                                                                 \
  " [TR103308-5.7: the rest is withheld here, as it may quote a target identifier; the LI administration reads " \
  "it in the sealed audit record]"

bool x1_error_shown(const char *msg, char *out, size_t cap) {
  if (!cap) return false;
  if (!msg) msg = "";
  const char *schema = strstr(msg, X1_SCHEMA_SAID), *ne = strstr(msg, X1_NE_SAID);
  size_t cut = strlen(msg);
  bool withheld = false;
  /* the schema's words begin after its mark ("... TS 103 221-1" stays) */
  if (schema) cut = (size_t)(schema - msg) + strlen(X1_SCHEMA_SAID) - 2, withheld = true;
  if (ne && (size_t)(ne - msg) < cut) cut = (size_t)(ne - msg), withheld = true;
  if (!withheld) {
    snprintf(out, cap, "%s", msg);
    return false;
  }
  /* lisec's words first, however long: the sentence after them is kept whole */
  size_t room = cap > sizeof WITHHELD ? cap - sizeof WITHHELD : 0;
  if (cut > room) cut = room;
  snprintf(out, cap, "%.*s%s", (int)cut, msg, WITHHELD);
  return true;
}
