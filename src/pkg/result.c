/* A package's description as JSON: what `lisec pkg verify --json` and
 * `inspect --json` print, and what the controller stores beside an
 * on-boarded package (its image digests and signers among it). */
#include <stdlib.h>

#include "pkg/pkg.h"

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *time_or_null(int64_t t) {
  if (!t) return json_null();
  char buf[32];
  lisec_time_format(t, buf);
  return json_string(buf);
}

json_t *pkg_result_to_json(const pkg_result *r) {
  json_t *o = json_object(), *meta = json_object(), *arts = json_array(), *sigs = json_array();
  if (!o || !meta || !arts || !sigs) {
    json_decref(o);
    json_decref(meta);
    json_decref(arts);
    json_decref(sigs);
    return NULL;
  }
  json_object_set_new(o, "layout", json_string(r->tosca_metadata ? "tosca-metadata" : "root-manifest"));
  json_object_set_new(o, "entry_definitions", str_or_null(r->entry_definitions));
  json_object_set_new(o, "manifest", str_or_null(r->manifest_path));
  json_object_set_new(o, "certificate", str_or_null(r->certificate_path));
  json_object_set_new(o, "li", json_boolean(r->li));
  json_object_set_new(o, "verified", json_boolean(r->verified));
  json_object_set_new(o, "revocation_checked", json_boolean(r->revocation_checked));
  json_object_set_new(o, "bytes_hashed", json_integer((json_int_t)r->bytes_hashed));
  for (size_t i = 0; i < r->n_metadata; i++)
    json_object_set_new(meta, r->metadata[i].key, json_string(r->metadata[i].value));
  json_object_set_new(o, "metadata", meta);
  for (size_t i = 0; i < r->n_artifacts; i++) {
    const pkg_artifact *a = &r->artifacts[i];
    char hex[2 * PKG_DIGEST_MAX + 1];
    lisec_hex_encode(a->digest, a->digest_len, hex);
    json_t *aj = json_pack("{s:s, s:s, s:s, s:I, s:b, s:b}", "path", a->path, "algorithm",
                           pkg_alg_name(a->alg), "hash", hex, "size", (json_int_t)a->size, "image",
                           a->is_image, "signed", a->signed_);
    /* an image's SHA-256, what hosts report and inventories show of it */
    if (aj && a->is_image && a->has_sha256) {
      char h256[2 * sizeof a->sha256 + 1];
      lisec_hex_encode(a->sha256, sizeof a->sha256, h256);
      json_object_set_new(aj, "sha256", json_string(h256));
    }
    /* which of "signers" signed it: what a vendor CRL judges it by */
    if (aj && a->signed_ && a->signer < r->n_signers)
      json_object_set_new(aj, "signer", json_integer((json_int_t)a->signer));
    json_array_append_new(arts, aj);
  }
  json_object_set_new(o, "artifacts", arts);
  for (size_t i = 0; i < r->n_signers; i++) {
    const pkg_signer *s = &r->signers[i];
    json_t *j = json_object();
    json_object_set_new(j, "role", json_string(s->role < PKG_ROLE_COUNT ? pkg_role_name(s->role)
                                                                       : "unverified"));
    json_object_set_new(j, "file", str_or_null(s->file));
    json_object_set_new(j, "subject", str_or_null(s->subject));
    json_object_set_new(j, "issuer", str_or_null(s->issuer));
    json_object_set_new(j, "anchor", str_or_null(s->anchor_subject));
    json_object_set_new(j, "anchor_sha256", s->anchor_subject ? json_string(s->anchor_sha256) : json_null());
    json_object_set_new(j, "key_sha256", json_string(s->key_sha256));
    json_object_set_new(j, "not_before", time_or_null(s->not_before));
    json_object_set_new(j, "not_after", time_or_null(s->not_after));
    if (s->artifact) json_object_set_new(j, "artifact", json_string(s->artifact));
    if (s->n_chain) { /* what a vendor CRL is checked against (ctl/pkg.c) */
      json_t *chain = json_array();
      for (size_t k = 0; k < s->n_chain; k++)
        json_array_append_new(chain, json_pack("{s:s, s:s}", "issuer", s->chain[k].issuer,
                                               "serial", s->chain[k].serial));
      json_object_set_new(j, "serial", json_string(s->chain[0].serial));
      json_object_set_new(j, "chain", chain);
    }
    json_array_append_new(sigs, j);
  }
  json_object_set_new(o, "signers", sigs);
  return o;
}
