/* Where things are: ISO 3166 codes checked against the embedded official
 * tables, host locations, and jurisdictions as sets of country and
 * subdivision codes plus GeoJSON polygons that GEOS validates and prepares,
 * so that "is this host inside the LI's jurisdiction" is a bit test, a short
 * binary search up the subdivision's parents, or one prepared
 * point-in-polygon query. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"

static int cmp_country(const void *k, const void *e) { return strncmp(k, e, 2); }

bool model_iso3166_country(const char *code) {
  if (!code || strlen(code) != 2) return false;
  return bsearch(code, model_iso3166_1, model_iso3166_1_count, sizeof model_iso3166_1[0],
                 cmp_country) != NULL;
}

static int cmp_sub(const void *k, const void *e) {
  return strcmp(k, ((const model_iso_sub *)e)->code);
}

static long sub_index(const char *code) {
  if (!code || strlen(code) > 6) return -1;
  const model_iso_sub *s =
      bsearch(code, model_iso3166_2, model_iso3166_2_count, sizeof *model_iso3166_2, cmp_sub);
  return s ? (long)(s - model_iso3166_2) : -1;
}

bool model_iso3166_subdivision(const char *code) { return sub_index(code) >= 0; }

/* True when sub is anc or lies inside it (ISO 3166-2 parent chain). */
bool iso_sub_within(const char *sub, const char *anc) {
  long i = sub_index(sub);
  for (int depth = 0; i >= 0 && depth < 8; depth++) {
    if (strcmp(model_iso3166_2[i].code, anc) == 0) return true;
    i = model_iso3166_2[i].parent;
  }
  return false;
}

static bool text_ok(const char *s, size_t max) {
  size_t n = strnlen(s, max + 1);
  if (n > max) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
  return true;
}

int loc_from_spec(const model_location *in, mloc *out, lisec_err *err) {
  memset(out, 0, sizeof *out);
  if (!in) return 0;
  if (!in->country)
    return lisec_err_set(err, LISEC_EINVAL, "location.country: required (ISO 3166-1 alpha-2)");
  if (!model_iso3166_country(in->country))
    return lisec_err_set(err, LISEC_EINVAL,
                         "location.country: \"%.8s\" is not an ISO 3166-1 alpha-2 code",
                         in->country);
  if (in->subdivision) {
    if (!model_iso3166_subdivision(in->subdivision))
      return lisec_err_set(err, LISEC_EINVAL,
                           "location.subdivision: \"%.12s\" is not an ISO 3166-2 code",
                           in->subdivision);
    if (strncmp(in->subdivision, in->country, 2) != 0)
      return lisec_err_set(err, LISEC_EINVAL,
                           "location.subdivision: %s is not a subdivision of %s",
                           in->subdivision, in->country);
  }
  if (in->has_coords) {
    if (!isfinite(in->lat) || in->lat < -90 || in->lat > 90)
      return lisec_err_set(err, LISEC_EINVAL, "location.lat: must be a number in -90..90");
    if (!isfinite(in->lon) || in->lon < -180 || in->lon > 180)
      return lisec_err_set(err, LISEC_EINVAL, "location.lon: must be a number in -180..180");
  }
  if (in->site && !text_ok(in->site, MODEL_TEXT_MAX))
    return lisec_err_set(err, LISEC_EINVAL,
                         "location.site: at most %d bytes, no control characters",
                         MODEL_TEXT_MAX);
  if (in->source != MODEL_LOC_ATTESTED && in->source != MODEL_LOC_ADMINISTRATIVE)
    return lisec_err_set(err, LISEC_EINVAL, "location.source: unknown source");
  out->known = true;
  memcpy(out->country, in->country, 2);
  if (in->subdivision) {
    snprintf(out->subdivision, sizeof out->subdivision, "%s", in->subdivision);
    /* looked up once here, not at every jurisdiction test */
    long si = sub_index(out->subdivision);
    out->sub1 = si >= 0 ? (uint32_t)si + 1 : 0;
  }
  out->has_coords = in->has_coords;
  out->lat = in->lat;
  out->lon = in->lon;
  out->source = in->source;
  if (in->site && !(out->site = strdup(in->site))) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  return 0;
}

bool loc_equal(const mloc *a, const mloc *b) {
  if (a->known != b->known) return false;
  if (!a->known) return true;
  if (strcmp(a->country, b->country) || strcmp(a->subdivision, b->subdivision)) return false;
  if (a->has_coords != b->has_coords) return false;
  if (a->has_coords && (a->lat != b->lat || a->lon != b->lon)) return false;
  const char *sa = a->site ? a->site : "", *sb = b->site ? b->site : "";
  return strcmp(sa, sb) == 0;
}

void loc_free(mloc *l) {
  free(l->site);
  l->site = NULL;
}

int geo_point(model *m, double lat, double lon, GEOSGeometry **out) {
  *out = GEOSGeom_createPointFromXY_r(m->geos, lon, lat);
  return *out ? 0 : LISEC_ENOMEM;
}

static int cmp_sub8(const void *a, const void *b) { return strcmp(a, b); }

bool host_in_jur(const model *m, const mhost *h, const mjur *j) {
  if (!h->loc.known) return false;
  const char *c = h->loc.country;
  unsigned bit = (unsigned)(c[0] - 'A') * 26 + (unsigned)(c[1] - 'A');
  if (j->countries[bit / 8] & (1u << (bit % 8))) return true;
  if (j->nsubs && h->loc.sub1) {
    long i = (long)h->loc.sub1 - 1;
    for (int depth = 0; i >= 0 && depth < 8; depth++) {
      if (bsearch(model_iso3166_2[i].code, j->subs, j->nsubs, sizeof *j->subs,
                  cmp_sub8))
        return true;
      i = model_iso3166_2[i].parent;
    }
  }
  if (!j->prep || !h->point) return false;
  /* The only rule step that writes shared state (GEOS's context, and the
   * index a prepared polygon builds on first use): one thread at a time
   * while the full evaluation runs on several (evalall.c). */
  pthread_mutex_t *mu = (pthread_mutex_t *)&m->geos_mu;
  pthread_mutex_lock(mu);
  bool in = GEOSPreparedCovers_r(m->geos, j->prep, h->point) == 1;
  pthread_mutex_unlock(mu);
  return in;
}

/* ---- GeoJSON polygons ---------------------------------------------------- */

typedef struct geo_parse {
  model *m;
  size_t points;
  char path[96];
} geo_parse;

static int ring_build(geo_parse *g, const json_t *ring, const char *where, GEOSGeometry **out,
                      lisec_err *err) {
  *out = NULL;
  if (!json_is_array(ring))
    return lisec_err_set(err, LISEC_EINVAL, "%s: a ring must be an array of positions", where);
  size_t n = json_array_size(ring);
  if (n < 4)
    return lisec_err_set(err, LISEC_EINVAL,
                         "%s: a ring needs at least 4 positions (3 corners and the first again), "
                         "it has %zu",
                         where, n);
  if (n > MODEL_JUR_POINTS_MAX - g->points)
    return lisec_err_set(err, LISEC_ETOOBIG, "%s: more than %d positions in one jurisdiction",
                         where, MODEL_JUR_POINTS_MAX);
  g->points += n;
  GEOSCoordSequence *seq = GEOSCoordSeq_create_r(g->m->geos, (unsigned)n, 2);
  if (!seq) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  double first[2] = {0, 0}, last[2] = {0, 0};
  for (size_t i = 0; i < n; i++) {
    const json_t *p = json_array_get(ring, i);
    size_t k = json_is_array(p) ? json_array_size(p) : 0;
    const json_t *x = k ? json_array_get(p, 0) : NULL, *y = k > 1 ? json_array_get(p, 1) : NULL;
    if (k < 2 || k > 3 || !json_is_number(x) || !json_is_number(y) ||
        (k == 3 && !json_is_number(json_array_get(p, 2)))) {
      GEOSCoordSeq_destroy_r(g->m->geos, seq);
      return lisec_err_set(err, LISEC_EINVAL, "%s[%zu]: a position is [longitude, latitude]", where,
                           i);
    }
    double lon = json_number_value(x), lat = json_number_value(y);
    if (!isfinite(lon) || lon < -180 || lon > 180 || !isfinite(lat) || lat < -90 || lat > 90) {
      GEOSCoordSeq_destroy_r(g->m->geos, seq);
      return lisec_err_set(err, LISEC_EINVAL,
                           "%s[%zu]: longitude must be in -180..180 and latitude in -90..90",
                           where, i);
    }
    if (i == 0) first[0] = lon, first[1] = lat;
    last[0] = lon, last[1] = lat;
    GEOSCoordSeq_setXY_r(g->m->geos, seq, (unsigned)i, lon, lat);
  }
  if (first[0] != last[0] || first[1] != last[1]) {
    GEOSCoordSeq_destroy_r(g->m->geos, seq);
    return lisec_err_set(err, LISEC_EINVAL,
                         "%s: the ring does not close: its last position [%g, %g] differs from "
                         "its first [%g, %g]",
                         where, last[0], last[1], first[0], first[1]);
  }
  *out = GEOSGeom_createLinearRing_r(g->m->geos, seq); /* takes seq */
  if (!*out)
    return lisec_err_set(err, LISEC_EINVAL, "%s: not a ring (%s)", where, g->m->geos_msg);
  return 0;
}

static int polygon_build(geo_parse *g, const json_t *rings, const char *where, GEOSGeometry **out,
                         lisec_err *err) {
  *out = NULL;
  if (!json_is_array(rings) || json_array_size(rings) == 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "%s: a polygon is an array of rings, the outer one first", where);
  size_t n = json_array_size(rings);
  if (n > 4096) return lisec_err_set(err, LISEC_ETOOBIG, "%s: more than 4096 rings", where);
  GEOSGeometry **r = calloc(n, sizeof *r);
  if (!r) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    char sub[160];
    snprintf(sub, sizeof sub, "%s[%zu]", where, i);
    rc = ring_build(g, json_array_get(rings, i), sub, &r[i], err);
  }
  if (!rc) {
    *out = GEOSGeom_createPolygon_r(g->m->geos, r[0], n > 1 ? r + 1 : NULL, (unsigned)(n - 1));
    if (!*out) rc = lisec_err_set(err, LISEC_EINVAL, "%s: not a polygon (%s)", where, g->m->geos_msg);
    else memset(r, 0, n * sizeof *r); /* owned by the polygon now */
  }
  for (size_t i = 0; i < n; i++)
    if (r[i]) GEOSGeom_destroy_r(g->m->geos, r[i]);
  free(r);
  return rc;
}

static int geometry_build(model *m, const json_t *geo, GEOSGeometry **out, uint32_t *npolys,
                          lisec_err *err) {
  geo_parse g = {.m = m};
  *out = NULL;
  if (!json_is_object(geo))
    return lisec_err_set(err, LISEC_EINVAL,
                         "geometry: must be a GeoJSON Polygon or MultiPolygon object");
  const char *type = json_string_value(json_object_get(geo, "type"));
  const json_t *coords = json_object_get(geo, "coordinates");
  const char *key;
  const json_t *val;
  json_object_foreach((json_t *)geo, key, val) {
    if (strcmp(key, "type") && strcmp(key, "coordinates") && strcmp(key, "bbox"))
      return lisec_err_set(err, LISEC_EINVAL, "geometry.%.40s: unknown field", key);
  }
  if (!type || (strcmp(type, "Polygon") && strcmp(type, "MultiPolygon")))
    return lisec_err_set(err, LISEC_EINVAL,
                         "geometry.type: must be \"Polygon\" or \"MultiPolygon\"");
  if (strcmp(type, "Polygon") == 0) {
    int rc = polygon_build(&g, coords, "geometry.coordinates", out, err);
    if (rc) return rc;
    *npolys = 1;
  } else {
    if (!json_is_array(coords) || json_array_size(coords) == 0)
      return lisec_err_set(err, LISEC_EINVAL,
                           "geometry.coordinates: a MultiPolygon needs at least one polygon");
    size_t n = json_array_size(coords);
    if (n > 4096)
      return lisec_err_set(err, LISEC_ETOOBIG, "geometry.coordinates: more than 4096 polygons");
    GEOSGeometry **p = calloc(n, sizeof *p);
    if (!p) return lisec_err_set(err, LISEC_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
      char where[64];
      snprintf(where, sizeof where, "geometry.coordinates[%zu]", i);
      rc = polygon_build(&g, json_array_get(coords, i), where, &p[i], err);
    }
    if (!rc) {
      *out = GEOSGeom_createCollection_r(m->geos, GEOS_MULTIPOLYGON, p, (unsigned)n);
      if (!*out) rc = lisec_err_set(err, LISEC_EINVAL, "geometry: not a MultiPolygon");
      else memset(p, 0, n * sizeof *p);
    }
    for (size_t i = 0; i < n; i++)
      if (p[i]) GEOSGeom_destroy_r(m->geos, p[i]);
    free(p);
    if (rc) return rc;
    *npolys = (uint32_t)n;
  }
  /* Self-intersecting or otherwise invalid areas have no clear inside. */
  if (GEOSisValid_r(m->geos, *out) != 1) {
    char *why = GEOSisValidReason_r(m->geos, *out);
    lisec_err_set(err, LISEC_EINVAL, "geometry: not a valid area: %s", why ? why : "invalid");
    if (why) GEOSFree_r(m->geos, why);
    GEOSGeom_destroy_r(m->geos, *out);
    *out = NULL;
    return LISEC_EINVAL;
  }
  return 0;
}

int jur_build(model *m, const char *const *codes, size_t ncodes, const json_t *geometry, mjur *j,
              lisec_err *err) {
  memset(j, 0, sizeof *j);
  bool has_geo = geometry && !json_is_null(geometry);
  if (ncodes == 0 && !has_geo)
    return lisec_err_set(err, LISEC_EINVAL,
                         "codes: the jurisdiction is empty: give at least one ISO 3166 code or a "
                         "geometry");
  if (ncodes > MODEL_JUR_CODES_MAX)
    return lisec_err_set(err, LISEC_ETOOBIG, "codes: more than %d codes", MODEL_JUR_CODES_MAX);
  for (size_t i = 0; i < ncodes; i++) {
    const char *c = codes[i];
    if (!c || !(model_iso3166_country(c) || model_iso3166_subdivision(c)))
      return lisec_err_set(err, LISEC_EINVAL,
                           "codes[%zu]: \"%.12s\" is not an ISO 3166-1 alpha-2 or ISO 3166-2 code",
                           i, c ? c : "");
  }
  int rc = LISEC_ENOMEM;
  if (ncodes) {
    if (!(j->codes = calloc(ncodes, sizeof *j->codes)) ||
        !(j->subs = calloc(ncodes, sizeof *j->subs)))
      goto fail;
  }
  for (size_t i = 0; i < ncodes; i++) {
    if (!(j->codes[i] = strdup(codes[i]))) goto fail;
    j->ncodes++;
    if (strlen(codes[i]) == 2) {
      unsigned bit = (unsigned)(codes[i][0] - 'A') * 26 + (unsigned)(codes[i][1] - 'A');
      j->countries[bit / 8] |= (uint8_t)(1u << (bit % 8));
    } else {
      snprintf(j->subs[j->nsubs++], sizeof j->subs[0], "%s", codes[i]);
    }
  }
  if (j->nsubs) qsort(j->subs, j->nsubs, sizeof *j->subs, cmp_sub8);
  if (has_geo) {
    if ((rc = geometry_build(m, geometry, &j->geom, &j->npolys, err))) goto fail_quiet;
    if (!(j->prep = GEOSPrepare_r(m->geos, j->geom))) {
      rc = LISEC_ENOMEM;
      goto fail;
    }
  }
  return 0;
fail:
  lisec_err_set(err, rc, "out of memory");
fail_quiet:
  jur_release(m, j);
  return rc;
}

void jur_release(model *m, mjur *j) {
  for (uint32_t i = 0; i < j->ncodes; i++) free(j->codes[i]);
  free(j->codes);
  free(j->subs);
  if (j->prep) GEOSPreparedGeom_destroy_r(m->geos, j->prep);
  if (j->geom) GEOSGeom_destroy_r(m->geos, j->geom);
  free(j->desc);
  j->desc = NULL;
  j->codes = NULL;
  j->subs = NULL;
  j->prep = NULL;
  j->geom = NULL;
  j->ncodes = j->nsubs = j->npolys = 0;
  memset(j->countries, 0, sizeof j->countries);
}
