/* The parser of lisec-entropyd's reports to lisecd (rng/events.c): a good
 * report parses to the values it states; every malformed, truncated,
 * oversized or contradictory one is refused with the field named, and
 * nothing leaks on either path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rng/rng.h"

#define HEAD "\"v\":1,\"instance\":\"00112233445566778899aabbccddeeff\",\"seq\":3,\"from\":1800000000,\"to\":1800000060"

static int parse(const char *text, rng_report *r, lisec_err *err) {
  json_t *j = NULL;
  int rc = lisec_json_parse(text, strlen(text), &j, err);
  if (rc) {
    memset(r, 0, sizeof *r);
    return rc;
  }
  rc = rng_report_parse(j, r, err);
  json_decref(j);
  return rc;
}

static void good_report(void **state) {
  (void)state;
  rng_report r;
  lisec_err err = {0};
  const char *t =
      "{" HEAD ",\"serving\":false,\"detail\":\"TR103308-4.2: 1 healthy entropy source(s), 2 required\","
      "\"sources\":[{\"source\":\"tpm\",\"state\":\"ok\",\"since\":1800000000},"
      "{\"source\":\"device\",\"state\":\"failed_repetition_count\",\"since\":1800000010,\"detail\":\"stuck\"},"
      "{\"source\":\"rdseed\",\"state\":\"unavailable\"}],"
      "\"issuance\":[{\"client\":\"vnf-a\",\"seeds\":3,\"bytes\":144},"
      "{\"client\":\"CN poi.example/1@site:2\",\"seeds\":1,\"bytes\":256,\"li\":true},"
      "{\"client\":\"idle\",\"seeds\":0,\"bytes\":0},"
      "{\"client\":\"replayer\",\"seeds\":0,\"bytes\":0,\"li\":true,\"replays\":4,"
      "\"ref\":\"0123456789abcdef\"}]}";
  assert_int_equal(parse(t, &r, &err), 0);
  assert_string_equal(r.instance, "00112233445566778899aabbccddeeff");
  assert_int_equal(r.seq, 3);
  assert_int_equal(r.from, 1800000000);
  assert_int_equal(r.to, 1800000060);
  assert_false(r.serving);
  assert_string_equal(r.detail, "TR103308-4.2: 1 healthy entropy source(s), 2 required");
  assert_int_equal(r.n_sources, 3);
  assert_string_equal(r.sources[1].name, "device");
  assert_int_equal(r.sources[1].state, RNG_SRC_FAILED_RCT);
  assert_true(rng_src_state_failed(r.sources[1].state));
  assert_false(rng_src_state_failed(r.sources[2].state));
  assert_int_equal(r.sources[1].since, 1800000010);
  assert_int_equal(r.sources[2].since, 0);
  assert_int_equal(r.n_issuance, 4);
  /* a client's replays, with the reference the daemon's log called it by */
  assert_int_equal(r.issuance[3].replays, 4);
  assert_string_equal(r.issuance[3].ref, "0123456789abcdef");
  assert_true(r.issuance[3].li);
  assert_int_equal(r.issuance[0].replays, 0);
  assert_string_equal(r.issuance[0].ref, "");
  assert_string_equal(r.issuance[1].client, "CN poi.example/1@site:2");
  assert_true(r.issuance[1].li);
  assert_false(r.issuance[0].li);
  assert_int_equal(r.issuance[0].bytes, 144);
  rng_report_free(&r);
  assert_string_equal(rng_src_state_name(RNG_SRC_FAILED_APT), "failed_adaptive_proportion");
  assert_int_equal(rng_src_state_parse("disabled"), RNG_SRC_DISABLED);
  assert_int_equal(rng_src_state_parse("DISABLED"), -1);
}

static void bad_reports(void **state) {
  (void)state;
  static const struct {
    const char *text, *why;
    int rc;
  } bad[] = {
      {"[]", "not a JSON object", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[],\"x\":1}", "unknown key 'x'", LISEC_EINVAL},
      {"{\"v\":2,\"instance\":\"00112233445566778899aabbccddeeff\",\"seq\":3,\"from\":1800000000,\"to\":1800000060,"
       "\"serving\":true,\"sources\":[],\"issuance\":[]}", "v", LISEC_EINVAL},
      {"{\"v\":1,\"instance\":\"00112233445566778899AABBCCDDEEFF\",\"seq\":3,\"from\":1800000000,\"to\":1800000060,"
       "\"serving\":true,\"sources\":[],\"issuance\":[]}", "lowercase hex", LISEC_EINVAL},
      {"{\"v\":1,\"instance\":\"0011\",\"seq\":3,\"from\":1800000000,\"to\":1800000060,"
       "\"serving\":true,\"sources\":[],\"issuance\":[]}", "instance", LISEC_EINVAL},
      {"{\"v\":1,\"instance\":\"00112233445566778899aabbccddeeff\",\"seq\":0,\"from\":1800000000,\"to\":1800000060,"
       "\"serving\":true,\"sources\":[],\"issuance\":[]}", "seq", LISEC_EINVAL},
      {"{\"v\":1,\"instance\":\"00112233445566778899aabbccddeeff\",\"seq\":3,\"from\":1800000061,\"to\":1800000060,"
       "\"serving\":true,\"sources\":[],\"issuance\":[]}", "ends before it starts", LISEC_EINVAL},
      {"{\"v\":1,\"instance\":\"00112233445566778899aabbccddeeff\",\"seq\":3,\"from\":12,\"to\":1800000060,"
       "\"serving\":true,\"sources\":[],\"issuance\":[]}", "from", LISEC_EINVAL},
      {"{" HEAD ",\"sources\":[],\"issuance\":[]}", "serving", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":\"yes\",\"sources\":[],\"issuance\":[]}", "serving", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"issuance\":[]}", "sources is not an array", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":{}}", "issuance is not an array", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"detail\":\"a\\u0001b\",\"sources\":[],\"issuance\":[]}", "non-printable", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[{\"source\":\"Tpm\",\"state\":\"ok\"}],\"issuance\":[]}", "[a-z0-9_-]", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[{\"source\":\"tpm\",\"state\":\"fine\"}],\"issuance\":[]}", "unknown state", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[{\"source\":\"tpm\",\"state\":\"ok\",\"value\":1}],\"issuance\":[]}", "unknown key 'value'", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[{\"source\":\"tpm\",\"state\":\"ok\"},{\"source\":\"tpm\",\"state\":\"ok\"}],\"issuance\":[]}", "listed twice", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[1],\"issuance\":[]}", "not an object", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":1,\"bytes\":15}]}", "cannot be", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":1,\"bytes\":257}]}", "cannot be", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":9007199254740993,\"bytes\":0}]}", "seeds", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":1.5,\"bytes\":48}]}", "seeds", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a|b\",\"seeds\":1,\"bytes\":48}]}", "client name", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\" a\",\"seeds\":1,\"bytes\":48}]}", "client name", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"\",\"seeds\":1,\"bytes\":48}]}", "client name", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":1,\"bytes\":48,\"li\":1}]}", "li", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":1,\"bytes\":48},{\"client\":\"a\",\"seeds\":1,\"bytes\":48}]}", "listed twice", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":1,\"bytes\":48,\"seed\":\"AAAA\"}]}", "unknown key 'seed'", LISEC_EINVAL},
      /* replays: with their log reference, 16 lower-case hex digits, or neither */
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":0,\"bytes\":0,\"replays\":2}]}", "replays and ref go together", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":0,\"bytes\":0,\"ref\":\"0123456789abcdef\"}]}", "replays and ref go together", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":0,\"bytes\":0,\"replays\":0,\"ref\":\"0123456789abcdef\"}]}", "replays", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":0,\"bytes\":0,\"replays\":-1,\"ref\":\"0123456789abcdef\"}]}", "replays", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":0,\"bytes\":0,\"replays\":1,\"ref\":\"0123456789ABCDEF\"}]}", "lowercase hex", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":0,\"bytes\":0,\"replays\":1,\"ref\":\"0123456789abcde\"}]}", "lowercase hex", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":0,\"bytes\":0,\"replays\":1,\"ref\":\"0123456789abcdef0\"}]}", "ref", LISEC_EINVAL},
      {"{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[{\"client\":\"a\",\"seeds\":0,\"bytes\":0,\"replays\":1,\"ref\":7}]}", "ref", LISEC_EINVAL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rng_report r;
    lisec_err err = {0};
    int rc = parse(bad[i].text, &r, &err);
    if (rc != bad[i].rc || !strstr(err.msg, bad[i].why))
      fail_msg("case %zu: rc %d, reason '%s', wanted '%s'", i, rc, err.msg, bad[i].why);
    rng_report_free(&r);
  }
}

static void bounds(void **state) {
  (void)state;
  /* 17 sources and 1025 clients: over the bounds, refused before parsing
   * them; 16 and 1024 are fine. Truncated text never parses. */
  for (int over = 0; over <= 1; over++) {
    char *t = malloc(200000);
    assert_non_null(t);
    size_t n = (size_t)sprintf(t, "{" HEAD ",\"serving\":true,\"sources\":[");
    for (int i = 0; i < RNG_REPORT_SOURCES_MAX + over; i++)
      n += (size_t)sprintf(t + n, "%s{\"source\":\"s%d\",\"state\":\"ok\"}", i ? "," : "", i);
    n += (size_t)sprintf(t + n, "],\"issuance\":[]}");
    rng_report r;
    lisec_err err = {0};
    assert_int_equal(parse(t, &r, &err), over ? LISEC_ETOOBIG : 0);
    rng_report_free(&r);
    n = (size_t)sprintf(t, "{" HEAD ",\"serving\":true,\"sources\":[],\"issuance\":[");
    for (int i = 0; i < RNG_REPORT_CLIENTS_MAX + over; i++)
      n += (size_t)sprintf(t + n, "%s{\"client\":\"c%d\",\"seeds\":1,\"bytes\":48}", i ? "," : "", i);
    sprintf(t + n, "]}");
    assert_int_equal(parse(t, &r, &err), over ? LISEC_ETOOBIG : 0);
    if (!over) assert_int_equal(r.n_issuance, RNG_REPORT_CLIENTS_MAX);
    rng_report_free(&r);
    if (!over) {
      /* Every prefix of a good report is refused by the JSON parser or the
       * report parser, never accepted. */
      size_t len = strlen(t);
      for (size_t k = 0; k < len; k += 97) {
        char save = t[k];
        t[k] = '\0';
        assert_int_not_equal(parse(t, &r, &err), 0);
        rng_report_free(&r);
        t[k] = save;
      }
    }
    free(t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(good_report),
      cmocka_unit_test(bad_reports),
      cmocka_unit_test(bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
