/* The one rule for every identifier lisec is given (model entities, LEAs,
 * LIs, targets, packages, X1 NEs, LI VMs): 1 to LISEC_ID_MAX bytes of ASCII
 * letters, digits and ". _ : -", starting with a letter or a digit. Every id
 * is named in URL paths, audit subjects, X1 messages and store keys, so the
 * rule admits only characters that need no escaping in any of them, and the
 * first character keeps ".", ".." and option-like "-x" out. Checking here
 * once means an id that can be created can always be read and removed. */
#include <string.h>

#include "base/base.h"

bool lisec_id_char(unsigned char c, size_t at) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return at > 0 && (c == '.' || c == '_' || c == ':' || c == '-');
}

int lisec_id_check(const char *field, const char *id, size_t len, lisec_err *err) {
  if (!field) field = "id";
  if (!id) return lisec_err_set(err, LISEC_EINVAL, "%s: required, an id; an id is " LISEC_ID_RULE, field);
  if (len == 0 || len > LISEC_ID_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "%s: not a valid id: %zu bytes; an id is " LISEC_ID_RULE, field, len);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)id[i];
    if (lisec_id_char(c, i)) continue;
    /* Only the offending character is quoted, never the id: refusals may
     * be read by roles that must not learn an LI's names. */
    if (c > 0x20 && c < 0x7f)
      return lisec_err_set(err, LISEC_EINVAL, "%s: not a valid id: '%c' at byte %zu; an id is " LISEC_ID_RULE,
                           field, c, i + 1);
    return lisec_err_set(err, LISEC_EINVAL, "%s: not a valid id: byte 0x%02x at byte %zu; an id is " LISEC_ID_RULE,
                         field, c, i + 1);
  }
  return 0;
}

bool lisec_id_valid(const char *id) {
  return id && lisec_id_check(NULL, id, strnlen(id, LISEC_ID_MAX + 1), NULL) == 0;
}
