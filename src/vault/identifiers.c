/* Target identifiers, validated by kind before anything is stored: a value
 * that does not look like its kind is refused naming the field and the rule,
 * so an LI administrator learns at once that "2620112345" is no IMSI. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault.h"

static const char *const kind_names[VAULT_KIND_COUNT] = {
    "e164", "imsi", "imei", "supi", "gpsi", "ipv4", "ipv6", "ipv4-prefix", "ipv6-prefix",
    "mac", "email", "sip-uri", "tel-uri", "port-range",
};

const char *vault_kind_name(vault_kind k) {
  return (unsigned)k < VAULT_KIND_COUNT ? kind_names[k] : "unknown";
}

int vault_kind_parse(const char *name, vault_kind *out) {
  for (int i = 0; i < VAULT_KIND_COUNT; i++)
    if (strcmp(name, kind_names[i]) == 0) {
      *out = (vault_kind)i;
      return 0;
    }
  return LISEC_EINVAL;
}

static bool all_digits(const char *s, size_t min, size_t max) {
  size_t n = strlen(s);
  if (n < min || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i])) return false;
  return true;
}

/* Luhn check digit, as IMEIs carry it. */
static bool luhn_ok(const char *s) {
  int sum = 0;
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i++) {
    int d = s[n - 1 - i] - '0';
    if (i % 2) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 == 0;
}

static bool printable_no_space(const char *s) {
  for (; *s; s++)
    if (!isgraph((unsigned char)*s)) return false;
  return true;
}

static bool prefix_ok(const char *s, int family) {
  char addr[64];
  const char *slash = strchr(s, '/');
  if (!slash || (size_t)(slash - s) >= sizeof addr || !all_digits(slash + 1, 1, 3)) return false;
  memcpy(addr, s, (size_t)(slash - s));
  addr[slash - s] = '\0';
  int len = atoi(slash + 1), max = family == AF_INET ? 32 : 128;
  unsigned char bin[16];
  if (len > max || inet_pton(family, addr, bin) != 1) return false;
  /* no host bits beyond the prefix */
  for (int bit = len; bit < max; bit++)
    if (bin[bit / 8] & (0x80 >> (bit % 8))) return false;
  return true;
}

static bool mac_ok(const char *s) {
  if (strlen(s) != 17) return false;
  for (int i = 0; i < 17; i++) {
    if (i % 3 == 2 ? s[i] != ':' && s[i] != '-' : !isxdigit((unsigned char)s[i])) return false;
  }
  return true;
}

static bool email_ok(const char *s) {
  const char *at = strchr(s, '@');
  return at && at != s && !strchr(at + 1, '@') && strchr(at + 1, '.') && at[1] != '.' &&
         s[strlen(s) - 1] != '.' && strlen(s) <= 254 && printable_no_space(s);
}

static bool tel_ok(const char *s) {
  if (strncmp(s, "tel:+", 5) != 0) return false;
  size_t digits = 0;
  for (s += 5; *s; s++) {
    if (isdigit((unsigned char)*s)) digits++;
    else if (!strchr("-.()", *s)) return false;
  }
  return digits >= 1 && digits <= 15;
}

static bool port_range_ok(const char *s) {
  char *end = NULL;
  if (!isdigit((unsigned char)*s)) return false;
  long lo = strtol(s, &end, 10), hi = lo;
  if (*end == '-') {
    if (!isdigit((unsigned char)end[1])) return false;
    hi = strtol(end + 1, &end, 10);
  }
  return *end == '\0' && lo >= 0 && hi <= 65535 && lo <= hi;
}

int vault_identifier_check(vault_kind kind, const char *v, const char *field, lisec_err *err) {
  const char *rule = NULL;
  unsigned char bin[16];
  if (!v || !*v || strlen(v) > VAULT_IDENTIFIER_MAX)
    return lisec_err_set(err, LISEC_EINVAL, "%s: empty or longer than %d bytes", field,
                         VAULT_IDENTIFIER_MAX);
  switch (kind) {
    case VAULT_E164:
      if (!all_digits(v, 1, 15)) rule = "an E.164 number is 1 to 15 digits, without '+'";
      break;
    case VAULT_IMSI:
      if (!all_digits(v, 14, 15)) rule = "an IMSI is 14 or 15 digits";
      break;
    case VAULT_IMEI:
      if (!(all_digits(v, 14, 14) || (all_digits(v, 15, 15) && luhn_ok(v))))
        rule = "an IMEI is 14 digits, or 15 with a valid Luhn check digit";
      break;
    case VAULT_SUPI:
      if (!((strncmp(v, "imsi-", 5) == 0 && all_digits(v + 5, 5, 15)) ||
            (strncmp(v, "nai-", 4) == 0 && strchr(v + 4, '@') && printable_no_space(v))))
        rule = "a SUPI is imsi-<5..15 digits> or nai-<user@realm>";
      break;
    case VAULT_GPSI:
      if (!((strncmp(v, "msisdn-", 7) == 0 && all_digits(v + 7, 5, 15)) ||
            (strncmp(v, "extid-", 6) == 0 && strchr(v + 6, '@') && printable_no_space(v))))
        rule = "a GPSI is msisdn-<5..15 digits> or extid-<id@domain>";
      break;
    case VAULT_IPV4:
      if (inet_pton(AF_INET, v, bin) != 1) rule = "not an IPv4 address";
      break;
    case VAULT_IPV6:
      if (inet_pton(AF_INET6, v, bin) != 1) rule = "not an IPv6 address";
      break;
    case VAULT_IPV4_PREFIX:
      if (!prefix_ok(v, AF_INET)) rule = "an IPv4 prefix is ADDRESS/0..32 with no host bits set";
      break;
    case VAULT_IPV6_PREFIX:
      if (!prefix_ok(v, AF_INET6)) rule = "an IPv6 prefix is ADDRESS/0..128 with no host bits set";
      break;
    case VAULT_MAC:
      if (!mac_ok(v)) rule = "a MAC address is six hex pairs separated by ':' or '-'";
      break;
    case VAULT_EMAIL:
      if (!email_ok(v)) rule = "an e-mail address is local@domain.tld without spaces";
      break;
    case VAULT_SIP_URI:
      if (!((strncmp(v, "sip:", 4) == 0 && v[4]) || (strncmp(v, "sips:", 5) == 0 && v[5])) ||
          !printable_no_space(v))
        rule = "a SIP URI starts with sip: or sips: and has no spaces";
      break;
    case VAULT_TEL_URI:
      if (!tel_ok(v)) rule = "a TEL URI is tel:+ followed by 1 to 15 digits";
      break;
    case VAULT_PORT_RANGE:
      if (!port_range_ok(v)) rule = "a port range is N or N-M with 0 <= N <= M <= 65535";
      break;
    default:
      rule = "unknown identifier kind";
  }
  return rule ? lisec_err_set(err, LISEC_EINVAL, "%s: %s", field, rule) : 0;
}

int vault_identifiers_check(const json_t *ids, lisec_err *err) {
  if (!json_is_array(ids) || json_array_size(ids) == 0)
    return lisec_err_set(err, LISEC_EINVAL, "identifiers: a non-empty array is required");
  if (json_array_size(ids) > VAULT_MAX_IDENTIFIERS)
    return lisec_err_set(err, LISEC_EINVAL, "identifiers: more than %d entries",
                         VAULT_MAX_IDENTIFIERS);
  size_t i;
  const json_t *e;
  json_array_foreach(ids, i, e) {
    char field[64];
    const char *kind_s = NULL, *value = NULL;
    vault_kind kind;
    snprintf(field, sizeof field, "identifiers[%zu].kind", i);
    if (!json_is_object(e) || json_object_size(e) != 2)
      return lisec_err_set(err, LISEC_EINVAL, "identifiers[%zu]: expected {\"kind\", \"value\"}", i);
    int rc = lisec_json_get_str(e, "kind", true, 32, &kind_s, err);
    if (rc) return lisec_err_wrap(err, "identifiers[%zu]", i);
    if (vault_kind_parse(kind_s, &kind) != 0)
      return lisec_err_set(err, LISEC_EINVAL, "%s: \"%.32s\" is not a known kind", field, kind_s);
    snprintf(field, sizeof field, "identifiers[%zu].value (%s)", i, kind_s);
    if ((rc = lisec_json_get_str(e, "value", true, VAULT_IDENTIFIER_MAX, &value, err)))
      return lisec_err_wrap(err, "identifiers[%zu]", i);
    if ((rc = vault_identifier_check(kind, value, field, err))) return rc;
  }
  return 0;
}
