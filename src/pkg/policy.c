/* The decisions the controller takes about on-boarded packages, kept pure
 * so they can be tested without a server: who may on-board, see and replace
 * a package (a tenant only its own: NFV-SEC 025 on-boarding threat 3), that
 * a new version comes from the vendor identity of the one it replaces
 * (threat 2), and whether the image a VM runs is one its package carried
 * (TR 103 308 §4.2: verified at instantiation, resume and transfer). */
#include <string.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "pkg/pkg.h"

static bool tenant_name_ok(const char *s) {
  size_t n = 0;
  for (; s[n]; n++) {
    char c = s[n];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
      return false;
    if (n >= 64) return false;
  }
  return n > 0;
}

static bool actor_ok(const char *actor) {
  if (!actor) return false;
  if (strcmp(actor, "operator") == 0) return true;
  return strncmp(actor, "tenant:", 7) == 0 && tenant_name_ok(actor + 7);
}

int pkg_policy_may_onboard(const char *actor, lisec_err *err) {
  if (!actor_ok(actor))
    return lisec_err_set(err, LISEC_EAUTH,
                         "NFV-SEC025-onboarding-1/3: role '%.80s' may not on-board VNF packages "
                         "(operator or tenant:<name> only)",
                         actor ? actor : "(none)");
  return 0;
}

int pkg_policy_may_see(const pkg_record *rec, const char *actor, lisec_err *err) {
  int rc = pkg_policy_may_onboard(actor, err);
  if (rc) return rc;
  if (strcmp(actor, "operator") == 0) return 0;
  if (!rec->owner || strcmp(rec->owner, actor) != 0)
    return lisec_err_set(err, LISEC_EAUTH,
                         "NFV-SEC025-onboarding-3: %.80s may not use a package on-boarded by "
                         "another tenant",
                         actor);
  return 0;
}

static bool same(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

int pkg_policy_may_replace(const pkg_record *existing, const pkg_record *next,
                           const char *actor, lisec_err *err) {
  int rc = pkg_policy_may_see(existing, actor, err);
  if (rc) return rc;
  if (!same(existing->provider_id, next->provider_id) ||
      !same(existing->product_name, next->product_name))
    return lisec_err_set(err, LISEC_EDENIED,
                         "NFV-SEC025-onboarding-2: '%.64s'/'%.64s' is not a new version of "
                         "'%.64s'/'%.64s'",
                         next->provider_id ? next->provider_id : "?",
                         next->product_name ? next->product_name : "?",
                         existing->provider_id ? existing->provider_id : "?",
                         existing->product_name ? existing->product_name : "?");
  if (!same(existing->vendor_subject, next->vendor_subject) ||
      !same(existing->vendor_anchor, next->vendor_anchor))
    return lisec_err_set(err, LISEC_EDENIED,
                         "NFV-SEC025-onboarding-2: the new version is signed by '%.120s' but the "
                         "package it replaces by '%.120s' (a new version must come from the same "
                         "vendor identity and CA)",
                         next->vendor_subject ? next->vendor_subject : "?",
                         existing->vendor_subject ? existing->vendor_subject : "?");
  if (same(existing->package_version, next->package_version))
    return lisec_err_set(err, LISEC_ECONFLICT,
                         "NFV-SEC025-onboarding-2: version '%.64s' is on-boarded already; a "
                         "replacement carries a new vnf_package_version",
                         next->package_version);
  /* Nor the same version spelled otherwise ("02.0", "2-0" for "2.0"): the
   * order reads them equal, and retirement, which names the version as
   * stored, would not know it (a retired version back under a new name). */
  if (next->package_version && existing->package_version &&
      pkg_version_cmp(next->package_version, existing->package_version) == 0)
    return lisec_err_set(err, LISEC_ECONFLICT,
                         "NFV-SEC025-onboarding-2: version '%.64s' is not newer than the on-boarded "
                         "version '%.64s' (the version order reads them equal); a replacement "
                         "carries a newer vnf_package_version",
                         next->package_version, existing->package_version);
  /* A replacement by an older version would bring back what the newer one
   * fixed: a rollback (NFV-SEC 025 on-boarding threat 2). */
  if (!next->package_version || !existing->package_version ||
      pkg_version_cmp(next->package_version, existing->package_version) < 0)
    return lisec_err_set(err, LISEC_EDENIED,
                         PKG_REQ_ROLLBACK ": version '%.64s' is older than the on-boarded "
                         "version '%.64s'; a replacement may not downgrade a package (rollback)",
                         next->package_version ? next->package_version : "?",
                         existing->package_version ? existing->package_version : "?");
  return 0;
}

/* ---- versions ------------------------------------------------------------- */

static bool version_sep(char c) { return c == '.' || c == '-' || c == '_' || c == '+'; }

static bool all_digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return n > 0;
}

/* A segment ends at a separator or where digits turn to other bytes or
 * back ("10.0a" is 10, 0, a). */
static size_t seg_len(const char *s) {
  bool digit = *s >= '0' && *s <= '9';
  size_t n = 0;
  while (s[n] && !version_sep(s[n]) && ((s[n] >= '0' && s[n] <= '9') == digit)) n++;
  return n;
}

int pkg_version_cmp(const char *a, const char *b) {
  if (!a || !b) return a ? 1 : b ? -1 : 0;
  for (;;) {
    if (!*a || !*b) return *a ? 1 : *b ? -1 : 0;
    size_t na = seg_len(a), nb = seg_len(b);
    bool da = all_digits(a, na), db = all_digits(b, nb);
    int c;
    if (da && db) {
      const char *pa = a, *pb = b;
      size_t la = na, lb = nb;
      while (la > 1 && *pa == '0') pa++, la--;
      while (lb > 1 && *pb == '0') pb++, lb--;
      c = la != lb ? (la < lb ? -1 : 1) : memcmp(pa, pb, la);
    } else if (da != db) {
      c = da ? 1 : -1;
    } else {
      c = memcmp(a, b, na < nb ? na : nb);
      if (!c && na != nb) c = na < nb ? -1 : 1;
    }
    if (c) return c < 0 ? -1 : 1;
    a += na;
    b += nb;
    if (version_sep(*a)) a++;
    if (version_sep(*b)) b++;
  }
}

int pkg_record_from_result(const pkg_result *r, const char *owner, pkg_record *rec,
                           lisec_err *err) {
  const pkg_signer *v = pkg_result_vendor(r);
  if (!r->verified || !v || !v->anchor_subject)
    return lisec_err_set(err, LISEC_EINVAL, "the package has not been verified");
  int rc = pkg_policy_may_onboard(owner, err);
  if (rc) return rc;
  rec->owner = owner;
  rec->provider_id = pkg_result_meta(r, "vnf_provider_id");
  rec->product_name = pkg_result_meta(r, "vnf_product_name");
  rec->package_version = pkg_result_meta(r, "vnf_package_version");
  rec->vendor_subject = v->subject;
  rec->vendor_anchor = v->anchor_sha256;
  return 0;
}

bool pkg_path_is_image(const char *path) {
  static const char *const exts[] = {".qcow2", ".qcow", ".img", ".raw", ".iso",
                                     ".vmdk",  ".vhd",  ".vhdx", ".vdi"};
  size_t n = strlen(path);
  for (size_t i = 0; i < LISEC_ARRAY_LEN(exts); i++) {
    size_t l = strlen(exts[i]);
    if (n > l && strcasecmp(path + n - l, exts[i]) == 0) return true;
  }
  /* SOL 004's examples keep images under Artifacts/Images/ (or SwImages). */
  const char *dirs[] = {"Images/", "SwImages/", "images/"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(dirs); i++) {
    const char *hit = strstr(path, dirs[i]);
    if (hit && (hit == path || hit[-1] == '/')) return true;
  }
  return false;
}

int pkg_image_check(const pkg_image_ref *images, size_t n, const char *reported,
                    const char **matched, lisec_err *err) {
  static const struct {
    const char *prefix;
    pkg_alg alg;
  } algs[] = {{"sha256:", PKG_ALG_SHA256}, {"sha384:", PKG_ALG_SHA384}, {"sha512:", PKG_ALG_SHA512}};
  const char *hex = NULL;
  pkg_alg alg = PKG_ALG_SHA256;
  for (size_t i = 0; reported && i < LISEC_ARRAY_LEN(algs); i++)
    if (strncmp(reported, algs[i].prefix, 7) == 0) {
      hex = reported + 7;
      alg = algs[i].alg;
    }
  uint8_t d[PKG_DIGEST_MAX];
  size_t len = pkg_alg_len(alg);
  if (!hex || lisec_hex_decode(hex, d, len))
    return lisec_err_set(err, LISEC_EINVAL,
                         "image digest must be sha256:, sha384: or sha512: and its hex digest");
  for (size_t i = 0; i < n; i++)
    if (images[i].alg == alg && images[i].digest_len == len &&
        crypto_ct_equal(images[i].digest, d, len)) {
      if (matched) *matched = images[i].path;
      return 0;
    }
  return lisec_err_set(err, LISEC_EDENIED,
                       "TR103308-4.2: the image the VM runs (%.16s...) is none of the %zu software "
                       "image(s) of its verified package: the VM is not compliant",
                       reported, n);
}
