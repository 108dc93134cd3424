/* `lisec host list | show ID | confirm-location ID --location FILE`: the hosts'
 * attestation as lisecd sees it (trust now, the last appraisal's reasons,
 * the attested location) and asset management's re-confirmation of a
 * host's location after a power cycle (operator role): the new location
 * certificate, signed for the TPM's current resetCount, goes to lisecd,
 * which checks it and hands it to the host's agent to measure; and the end
 * of a host's enrolment: `remove ID` (its de-enrolment) and `revoked` (the
 * host certificates lisec refuses since). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "crypto/crypto.h"

const char cli_help_host[] =
    "hosts' attestation: list, show ID, confirm-location ID --location FILE, remove ID, revoked";

static const char usage_text[] =
    "usage: lisec host list\n"
    "       lisec host show HOST_ID          the last appraisal (EAR) and the trust now\n"
    "       lisec host confirm-location HOST_ID --location LOCATION.cms\n"
    "                                        asset management re-confirms the location\n"
    "       lisec host remove HOST_ID        de-enrols the host (operator): revokes its AK\n"
    "                                        binding and client certificates, voids its location\n"
    "       lisec host revoked               the host certificates lisec revoked\n"
    "exit: 0 done, 1 refused or untrusted (show), 2 error";

static void print_location(const json_t *loc) {
  if (!json_is_object(loc)) {
    printf("  location: none proven\n");
    return;
  }
  printf("  location: %s %s site %s (%.4f, %.4f), TPM resetCount %lld, restartCount %lld\n",
         cli_str(loc, "country"), cli_str(loc, "subdivision"), cli_str(loc, "site"),
         json_real_value(json_object_get(loc, "latitude")),
         json_real_value(json_object_get(loc, "longitude")),
         (long long)json_integer_value(json_object_get(loc, "tpm_reset_count")),
         (long long)json_integer_value(json_object_get(loc, "tpm_restart_count")));
}

static void print_host(const json_t *h) {
  printf("host %s\n  trust:    %s\n", cli_str(h, "host"), cli_str(h, "trust"));
  if (json_object_get(h, "last_ok_at")) printf("  last ok:  %s\n", cli_str(h, "last_ok_at"));
  if (json_object_get(h, "last_appraisal_at"))
    printf("  appraised: %s\n", cli_str(h, "last_appraisal_at"));
  if (json_object_get(h, "tpm_reset_count"))
    printf("  TPM:      resetCount %lld, restartCount %lld (its last quote)\n",
           (long long)json_integer_value(json_object_get(h, "tpm_reset_count")),
           (long long)json_integer_value(json_object_get(h, "tpm_restart_count")));
  print_location(json_object_get(h, "location"));
  if (json_is_true(json_object_get(h, "location_confirmation_pending")))
    printf("  a confirmed location certificate waits for the agent\n");
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(h, "reasons"), i, r) printf("  reason:   %s\n", json_string_value(r));
}

static void print_list(const json_t *reply) {
  size_t i;
  json_t *h;
  json_array_foreach(json_object_get(reply, "hosts"), i, h) {
    const json_t *loc = json_object_get(h, "location");
    printf("%s  %-26s %s\n", cli_str(h, "host"), cli_str(h, "trust"),
           json_is_object(loc) ? cli_str(loc, "site") : "-");
  }
}

static void print_show(const json_t *reply) {
  print_host(json_object_get(reply, "lisec"));
  const json_t *sub = json_object_get(json_object_get(reply, "submods"), "lisec-host");
  if (sub) printf("  EAR status of the last appraisal: %s\n", cli_str(sub, "ear.status"));
}

static void print_confirm(const json_t *reply) {
  printf("host %s: %s\n", cli_str(reply, "host"), cli_str(reply, "status"));
  print_location(json_object_get(reply, "location"));
}

static void print_removed(const json_t *reply) {
  printf("host %s de-enrolled: trust %s, AK binding %.16s.. revoked\n", cli_str(reply, "host"),
         cli_str(reply, "trust"), cli_str(reply, "revoked_ak_sha256"));
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(reply, "revoked_certificates"), i, c)
    printf("  certificate revoked: serial %s issuer %s sha256 %s\n", cli_str(c, "serial"),
           cli_str(c, "issuer"), cli_str(c, "sha256"));
}

static void print_revoked(const json_t *reply) {
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(reply, "revoked"), i, c)
    printf("%s  serial %s  host %.16s..  %s  issuer %s\n", cli_str(c, "sha256"), cli_str(c, "serial"),
           cli_str(c, "host"), cli_str(c, "revoked_at"), cli_str(c, "issuer"));
}

static int request(const char *method, const char *path, const json_t *body,
                   void (*human)(const json_t *), bool untrusted_is_refusal) {
  long status = 0;
  json_t *reply = NULL;
  lisec_err err = {0};
  if (cli_http_request(method, path, body, &status, &reply, &err) != 0)
    return cli_fail("host: %s", err.msg);
  int rc = CLI_OK;
  if (status != 200) {
    rc = cli_http_error(status, reply);
  } else {
    cli_print(reply, human);
    const char *t = json_string_value(json_object_get(json_object_get(reply, "lisec"), "trust"));
    if (untrusted_is_refusal && (!t || strcmp(t, "trusted") != 0)) rc = CLI_REFUSED;
  }
  json_decref(reply);
  return rc;
}

static bool host_id_ok(const char *s) {
  if (strlen(s) != 64) return false;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return false;
  return true;
}

int cli_cmd_host(int argc, char **argv) {
  if (argc < 2) return cli_fail("%s", usage_text);
  const char *sub = argv[1];
  char path[160];
  if (strcmp(sub, "list") == 0 && argc == 2)
    return request("GET", "/v1/attest/hosts", NULL, print_list, false);
  if (strcmp(sub, "revoked") == 0 && argc == 2)
    return request("GET", "/v1/attest/revoked", NULL, print_revoked, false);
  if (argc >= 3 && !host_id_ok(argv[2]))
    return cli_fail("host: HOST_ID is 64 lower-case hex digits (lisec-agent host-id)");
  if (strcmp(sub, "show") == 0 && argc == 3) {
    snprintf(path, sizeof path, "/v1/hosts/%s/attestation", argv[2]);
    return request("GET", path, NULL, print_show, true);
  }
  if (strcmp(sub, "remove") == 0 && argc == 3) {
    snprintf(path, sizeof path, "/v1/hosts/%s", argv[2]);
    return request("DELETE", path, NULL, print_removed, false);
  }
  if (strcmp(sub, "confirm-location") == 0 && argc == 5 && strcmp(argv[3], "--location") == 0) {
    uint8_t *der = NULL;
    size_t len = 0;
    char *b64 = NULL;
    lisec_err err = {0};
    if (lisec_file_read(argv[4], 16384, &der, &len, &err) != 0)
      return cli_fail("host confirm-location: %s", err.msg);
    int rc = crypto_base64_encode(der, len, &b64);
    free(der);
    if (rc) return cli_fail("out of memory");
    json_t *body = json_pack("{s:s}", "certificate", b64);
    free(b64);
    snprintf(path, sizeof path, "/v1/hosts/%s/confirm-location", argv[2]);
    rc = body ? request("POST", path, body, print_confirm, false) : cli_fail("out of memory");
    json_decref(body);
    return rc;
  }
  return cli_fail("%s", usage_text);
}
