/* The keys as lisecd --check-config sees them: for each of [audit],
 * [vault] and [li], the PKCS#11 module loads, the token is found, the PIN
 * in pin_file logs in, and the key under key_label is looked up without
 * being made (lisecd makes a missing one at its first start; a check does
 * not); the KEK and the checkpoint key found are judged as the start
 * judges them (kek.c: the only key under its label, not extractable,
 * AES-256; signer.c: the only pair under its label, not extractable). A development key file
 * is checked for being allowed and readable. [audit]'s witness state
 * (witness.h) is a note: the size of the last checkpoint signed, or absent
 * (the next is trusted on first use); one unreadable is a problem. Every problem is reported
 * through the caller's function, not only the first, and nothing in a
 * token is created or changed. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "keys/keys.h"
#include "keys/kek.h"
#include "keys/p11.h"
#include "keys/signer.h"
#include "keys/witness.h"

typedef struct checker {
  keys_check_report report;
  void *ctx;
  int problems;
} checker;

/* One line to the caller: a problem (counted) or a note. */
static void say(checker *c, bool is_problem, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(checker *c, bool is_problem, const char *fmt, ...) {
  char msg[LISEC_ERR_MSG_MAX + 128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (is_problem) c->problems++;
  c->report(c->ctx, is_problem, msg);
}
#define problem(c, ...) say(c, true, __VA_ARGS__)
#define note(c, ...) say(c, false, __VA_ARGS__)

/* How a section's key is looked up in the token: *found tells whether it
 * is there; an error is a problem with it. */
typedef int (*key_lookup)(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *label, bool *found,
                          lisec_err *err);

/* [audit]: the checkpoint key pair, found and judged as the start finds it
 * (the only pair under its label, not extractable; signer.c). */
static int has_signer(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *label, bool *found,
                      lisec_err *err) {
  CK_OBJECT_HANDLE priv, pub;
  return keys_signer_token_pair(fn, s, label, &priv, &pub, found, err);
}

/* [vault]: the KEK, found and judged as the start finds it (the only one
 * under its label, not extractable, AES-256; kek.c). */
static int has_kek(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE s, const char *label, bool *found, lisec_err *err) {
  CK_OBJECT_HANDLE h;
  return keys_kek_token_key(fn, s, label, &h, found, err);
}

/* [audit]'s witness state (witness.h), as a note: present with the size
 * of the last checkpoint signed, or absent (the next one is trusted on
 * first use); one that is there but cannot be read is a problem. w is
 * closed here. */
static void witness_note(checker *c, keys_witness *w, const char *where) {
  bool have = false;
  uint64_t size = 0;
  uint8_t root[32];
  lisec_err err = {0};
  if (keys_witness_state(w, &have, &size, root, &err) != 0)
    problem(c, "[audit] witness %s: %s", where, err.msg);
  else if (have)
    note(c, "[audit] witness %s: the last checkpoint signed is at size %llu (root %02x%02x%02x%02x...): the "
            "next must extend it",
         where, (unsigned long long)size, root[0], root[1], root[2], root[3]);
  else
    note(c, "[audit] witness %s: absent: the next checkpoint is trusted on first use", where);
  keys_witness_close(w);
}

static void check_section(checker *c, const lisec_config *cfg, const char *section, const char *label_def,
                          key_lookup lookup) {
  const char *module = lisec_config_str(cfg, section, "pkcs11_module", NULL);
  const char *dev = lisec_config_str(cfg, section, "development_key_file", NULL);
  char who[32];
  snprintf(who, sizeof who, "[%s]", section);
  if (!module) {
    if (!dev) return;
    bool allowed = false;
    lisec_err err = {0};
    if (lisec_config_bool(cfg, section, "allow_development_key", false, &allowed, &err) != 0)
      problem(c, "%s", err.msg);
    else if (!allowed)
      problem(c, "[%s] development_key_file needs allow_development_key = true", section);
    if (access(dev, R_OK) != 0 && access(dev, F_OK) == 0)
      problem(c, "[%s] development_key_file %s cannot be read", section, dev);
    char path[4200];
    keys_witness *w = NULL;
    if (strcmp(section, "audit") == 0 &&
        (size_t)snprintf(path, sizeof path, "%s%s", dev, KEYS_WITNESS_FILE_SUFFIX) < sizeof path &&
        keys_witness_open_file(path, &w, &err) == 0)
      witness_note(c, w, path);
    return;
  }
  lisec_err err = {0};
  char pin[KEYS_P11_PIN_MAX + 1] = "";
  bool have_pin = keys_p11_read_pin(cfg, section, pin, &err) == 0;
  if (!have_pin) problem(c, "%s", err.msg);
  keys_p11 *m = NULL;
  if (keys_p11_open(module, lisec_config_str(cfg, section, "pkcs11_init_args", NULL), who, &m, &err) != 0) {
    problem(c, "%s", err.msg);
    crypto_wipe(pin, sizeof pin);
    return;
  }
  const char *token = lisec_config_str(cfg, section, "token", "lisec");
  CK_SESSION_HANDLE s = 0;
  if (have_pin && keys_p11_session_open(m, who, token, pin, &s, &err) != 0) {
    problem(c, "%s", err.msg);
  } else if (have_pin) {
    if (label_def) {
      const char *label = lisec_config_str(cfg, section, "key_label", label_def);
      bool found = false;
      if (lookup(keys_p11_functions(m), s, label, &found, &err) != 0)
        problem(c, "[%s] key_label %s: %s", section, label, err.msg);
      else if (!found)
        note(c, "[%s] token \"%s\" has no key \"%s\" yet: lisecd makes it at its first start", section, token,
             label);
      char wl[256], where[320];
      keys_witness *w = NULL;
      if (strcmp(section, "audit") == 0 &&
          (size_t)snprintf(wl, sizeof wl, "%s%s", label, KEYS_WITNESS_SUFFIX) < sizeof wl &&
          keys_witness_open_pkcs11(keys_p11_functions(m), s, wl, &w, &err) == 0) {
        snprintf(where, sizeof where, "(token \"%s\", data object \"%s\")", token, wl);
        witness_note(c, w, where);
      }
    }
    keys_p11_session_close(m, s);
  }
  crypto_wipe(pin, sizeof pin);
  keys_p11_close(m);
}

int keys_check(const lisec_config *cfg, keys_check_report report, void *ctx) {
  checker c = {report, ctx, 0};
  check_section(&c, cfg, "audit", "lisec-audit", has_signer);
  check_section(&c, cfg, "vault", "lisec-kek", has_kek);
  keys_vault_settings vs;
  lisec_err err = {0};
  if (keys_vault_settings_parse(cfg, &vs, &err) != 0) problem(&c, "%s", err.msg);
  check_section(&c, cfg, "li", NULL, NULL);
  return c.problems;
}
