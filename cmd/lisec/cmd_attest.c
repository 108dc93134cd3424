/* `lisec attest ...`: TPM 2.0 evidence on the command line, offline.
 * verify appraises exactly the files tpm2_quote (tpm2-tools 5.4) writes,
 * plus an event log, reference values and a location certificate; nonce
 * issues single-use nonces from a state file so a replay can be shown
 * offline; makecredential is the controller's half of enrolment; host-id
 * prints the id lisec derives from an EK. The appraisal is attest/'s; this
 * file reads files and prints. Exit 0 verified, 1 rejected (reasons on
 * stderr or in the JSON), 2 bad input. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/attest.h"
#include "cli.h"
#include "commands.h"
#include "crypto/crypto.h"

const char cli_help_attest[] =
    "TPM 2.0 attestation offline: verify quotes, nonces, makecredential, host-id";

int cli_cmd_attest(int argc, char **argv);

static const char attest_usage_text[] =
    "usage: lisec attest verify --ak AK --message QUOTE.msg --signature QUOTE.sig\n"
    "                           --pcrs QUOTE.pcrs --nonce HEX [--eventlog LOG]\n"
    "                           [--reference REFS.json] [--location LOC.cms --location-ca CA.pem\n"
    "                           (--ek EK.pub | --host-id HEX)] [--nonce-state FILE] [--ear]\n"
    "         AK: PEM (tpm2_createak -f pem) or TPM2B_PUBLIC; the other files as tpm2_quote\n"
    "         -m -s -o write them (-F serialized or values). Without --reference only the\n"
    "         quote is checked (signature, nonce, PCR digest, and the log's replay): the\n"
    "         boot is then NOT appraised and the output says so. --nonce-state consumes\n"
    "         the nonce from a state file made by `lisec attest nonce` (single use, expiry).\n"
    "         --ear prints the EAT Attestation Result instead of lisec's verdict (JSON).\n"
    "         With --ek and an AK given as TPM2B_PUBLIC the quote's signer\n"
    "         (qualifiedSigner) must be the AK as that EK's child, as lisecd requires\n"
    "         (TR103308-5.1); a PEM AK has no TPM Name, and the output says it was not.\n"
    "       lisec attest nonce --state FILE [--ttl SECONDS]\n"
    "         issues a 32-byte nonce (hex on stdout) valid for SECONDS (default 60)\n"
    "       lisec attest makecredential --ek EK.pub --ak AK.pub (--secret HEX | --secret-file F)\n"
    "                           [--ek-cert EK.crt --ek-ca MANUFACTURERS.pem] -o CRED\n"
    "         TPM2_MakeCredential for the AK's Name under the EK (TPM2B_PUBLIC files), in\n"
    "         tpm2_makecredential's output format; refuses a key that is not an AK, and\n"
    "         with --ek-cert an EK certificate (DER) that is not for this EK or does not\n"
    "         chain to a TPM manufacturer CA\n"
    "       lisec attest host-id --ek EK.pub\n"
    "Exit 0: verified; 1: rejected (reasons given); 2: usage or bad input.";

static int usage(void) { return cli_fail("%s", attest_usage_text); }

static int read_file(const char *what, const char *path, size_t max, uint8_t **out, size_t *len) {
  lisec_err err = {0};
  if (lisec_file_read(path, max, out, len, &err) != 0) {
    cli_fail("%s: %s", what, err.msg);
    return -1;
  }
  return 0;
}

static int parse_hex_arg(const char *what, const char *hex, uint8_t *out, size_t max,
                         size_t *len) {
  size_t n = strlen(hex);
  if (n % 2 || n / 2 > max || n == 0 || lisec_hex_decode(hex, out, n / 2) != 0) {
    cli_fail("%s: not hex of at most %zu bytes", what, max);
    return -1;
  }
  *len = n / 2;
  return 0;
}

static void print_human(const json_t *v) {
  bool ok = json_is_true(json_object_get(v, "verified"));
  const json_t *r = json_object_get(v, "reasons"), *w = json_object_get(v, "warnings");
  printf("%s\n", ok ? "verified" : "REJECTED");
  for (size_t i = 0; i < json_array_size(r); i++)
    printf("  reason: %s\n", json_string_value(json_array_get(r, i)));
  for (size_t i = 0; i < json_array_size(w); i++)
    printf("  warning: %s\n", json_string_value(json_array_get(w, i)));
  const json_t *q = json_object_get(v, "quote");
  if (q)
    printf("  TPM resetCount %lld, restartCount %lld, clock %lld ms, safe %s\n",
           (long long)json_integer_value(json_object_get(q, "reset_count")),
           (long long)json_integer_value(json_object_get(q, "restart_count")),
           (long long)json_integer_value(json_object_get(q, "clock")),
           json_is_true(json_object_get(q, "safe")) ? "yes" : "no");
  if (json_object_get(v, "note")) printf("  note: %s\n", cli_str(v, "note"));
  if (json_object_get(v, "signer_note")) printf("  note: %s\n", cli_str(v, "signer_note"));
  const json_t *l = json_object_get(v, "location");
  if (l)
    printf("  location: %s %s site %s (%.5f, %.5f)\n", cli_str(l, "country"),
           cli_str(l, "subdivision"), cli_str(l, "site"),
           json_number_value(json_object_get(l, "latitude")),
           json_number_value(json_object_get(l, "longitude")));
}

/* Loads the nonce state file (absent = empty table). */
static attest_nonces *nonces_load(const char *path) {
  uint8_t *buf = NULL;
  size_t len = 0;
  lisec_err err = {0};
  attest_nonces *t = NULL;
  if (access(path, F_OK) != 0) {
    t = attest_nonces_new(1024);
    if (!t) cli_fail("out of memory");
    return t;
  }
  json_t *j = NULL;
  if (lisec_file_read(path, 1u << 20, &buf, &len, &err) ||
      lisec_json_parse((const char *)buf, len, &j, &err) ||
      attest_nonces_from_json(j, 1024, &t, &err))
    cli_fail("nonce state %s: %s", path, err.msg);
  json_decref(j);
  free(buf);
  return t;
}

static int nonces_save(const char *path, const attest_nonces *t) {
  json_t *j = attest_nonces_to_json(t);
  char *s = j ? lisec_json_dump_canonical(j) : NULL;
  lisec_err err = {0};
  int rc = s ? lisec_file_write_atomic(path, s, strlen(s), 0600, &err) : LISEC_ENOMEM;
  if (rc) cli_fail("nonce state %s: %s", path, s ? err.msg : "out of memory");
  free(s);
  json_decref(j);
  return rc;
}

static int cmd_nonce(int argc, char **argv) {
  const char *state = NULL;
  long ttl = 60;
  static const struct option opts[] = {
      {"state", required_argument, 0, 's'}, {"ttl", required_argument, 0, 't'}, {0, 0, 0, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 's') state = optarg;
    else if (c == 't') {
      char *end = NULL;
      ttl = strtol(optarg, &end, 10);
      if (!end || *end || ttl <= 0 || ttl > 86400) return cli_fail("--ttl: 1..86400 seconds");
    } else return usage();
  }
  if (!state || optind != argc) return usage();
  attest_nonces *t = nonces_load(state);
  if (!t) return CLI_ERROR;
  uint8_t n[ATTEST_NONCE_LEN];
  lisec_err err = {0};
  int rc = attest_nonce_issue(t, lisec_time_now_ms(), ttl * 1000, n, &err);
  if (rc == 0) rc = nonces_save(state, t);
  else cli_fail("%s", err.msg);
  attest_nonces_free(t);
  if (rc) return CLI_ERROR;
  char hex[2 * ATTEST_NONCE_LEN + 1];
  lisec_hex_encode(n, sizeof n, hex);
  if (cli.json) {
    json_t *j = json_pack("{s:s, s:I}", "nonce", hex, "ttl_s", (json_int_t)ttl);
    cli_print_json(j);
    json_decref(j);
  } else {
    puts(hex);
  }
  return CLI_OK;
}

static int cmd_verify(int argc, char **argv) {
  const char *ak_path = NULL, *msg_path = NULL, *sig_path = NULL, *pcrs_path = NULL,
             *nonce_hex = NULL, *log_path = NULL, *ref_path = NULL, *loc_path = NULL,
             *loc_ca_path = NULL, *ek_path = NULL, *host_hex = NULL, *state = NULL;
  bool want_ear = false;
  static const struct option opts[] = {
      {"ak", required_argument, 0, 'a'},          {"message", required_argument, 0, 'm'},
      {"signature", required_argument, 0, 's'},   {"pcrs", required_argument, 0, 'p'},
      {"nonce", required_argument, 0, 'n'},       {"eventlog", required_argument, 0, 'l'},
      {"reference", required_argument, 0, 'r'},   {"location", required_argument, 0, 'L'},
      {"location-ca", required_argument, 0, 'C'}, {"ek", required_argument, 0, 'e'},
      {"host-id", required_argument, 0, 'h'},     {"nonce-state", required_argument, 0, 'S'},
      {"ear", no_argument, 0, 'E'},               {0, 0, 0, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'a': ak_path = optarg; break;
    case 'm': msg_path = optarg; break;
    case 's': sig_path = optarg; break;
    case 'p': pcrs_path = optarg; break;
    case 'n': nonce_hex = optarg; break;
    case 'l': log_path = optarg; break;
    case 'r': ref_path = optarg; break;
    case 'L': loc_path = optarg; break;
    case 'C': loc_ca_path = optarg; break;
    case 'e': ek_path = optarg; break;
    case 'h': host_hex = optarg; break;
    case 'S': state = optarg; break;
    case 'E': want_ear = true; break;
    default: return usage();
    }
  }
  if (optind != argc || !ak_path || !msg_path || !sig_path || !pcrs_path || !nonce_hex)
    return usage();
  if ((loc_path || loc_ca_path) && !(loc_path && loc_ca_path && (ek_path || host_hex)))
    return cli_fail("--location needs --location-ca and --ek or --host-id (and vice versa)");

  int result = CLI_ERROR;
  uint8_t *ak_buf = NULL, *msg = NULL, *sig = NULL, *pcrs = NULL, *log = NULL, *ref = NULL,
          *loc = NULL, *loc_ca = NULL, *ek = NULL;
  size_t ak_len = 0, msg_len = 0, sig_len = 0, pcrs_len = 0, log_len = 0, ref_len = 0,
         loc_len = 0, loc_ca_len = 0, ek_len = 0, nonce_len = 0;
  uint8_t nonce[ATTEST_NONCE_MAX];
  attest_ak *ak = NULL;
  attest_policy *policy = NULL;
  attest_location_ca *ca = NULL;
  attest_nonces *nonces = NULL;
  char host_id[ATTEST_HOST_ID_LEN + 1] = "";
  lisec_err err = {0};
  json_t *out = NULL;
  /* Sizes are bounded at read: a file over its bound is bad input (2). */
  if (parse_hex_arg("--nonce", nonce_hex, nonce, sizeof nonce, &nonce_len) ||
      read_file("--ak", ak_path, 16384, &ak_buf, &ak_len) ||
      read_file("--message", msg_path, ATTEST_QUOTE_MAX, &msg, &msg_len) ||
      read_file("--signature", sig_path, ATTEST_SIG_MAX, &sig, &sig_len) ||
      read_file("--pcrs", pcrs_path, ATTEST_PCRS_MAX, &pcrs, &pcrs_len) ||
      (log_path && read_file("--eventlog", log_path, ATTEST_EVENTLOG_MAX, &log, &log_len)) ||
      (ref_path && read_file("--reference", ref_path, ATTEST_POLICY_MAX, &ref, &ref_len)) ||
      (loc_path && read_file("--location", loc_path, ATTEST_LOCATION_MAX, &loc, &loc_len)) ||
      (loc_ca_path && read_file("--location-ca", loc_ca_path, 1u << 20, &loc_ca, &loc_ca_len)) ||
      (ek_path && read_file("--ek", ek_path, ATTEST_TPM_PUBLIC_MAX, &ek, &ek_len)))
    goto out;
  if (nonce_len < ATTEST_NONCE_MIN) {
    cli_fail("--nonce: at least %d bytes", ATTEST_NONCE_MIN);
    goto out;
  }
  if (attest_ak_from_file_bytes(ak_buf, ak_len, &ak, &err) ||
      (ref && attest_policy_parse((const char *)ref, ref_len, &policy, &err)) ||
      (loc_ca && attest_location_ca_parse(loc_ca, loc_ca_len, &ca, &err)) ||
      (ek && attest_host_id(ek, ek_len, host_id, &err))) {
    cli_fail("%s", err.msg);
    goto out;
  }
  if (host_hex) snprintf(host_id, sizeof host_id, "%s", host_hex);

  /* The nonce is consumed before the appraisal, as the controller does: a
   * second presentation of the same evidence is a replay whatever it says. */
  const char *nonce_refusal = NULL;
  if (state) {
    if (!(nonces = nonces_load(state))) goto out;
    if (attest_nonce_consume(nonces, nonce, nonce_len, lisec_time_now_ms(), &err) != 0)
      nonce_refusal = err.msg;
    if (nonces_save(state, nonces)) goto out;
  }

  /* With the EK, the quote's signer must be the AK as the EK's child, as
   * lisecd requires (qualifiedSigner; docs/attestation.md). That needs the
   * AK's TPM Name, which a PEM key does not carry: then the output says
   * the signer was not checked. */
  size_t ak_name_len = 0;
  (void)attest_ak_name(ak, &ak_name_len);
  bool check_signer = ek && ak_name_len >= 2;
  attest_context ctx = {.ak = ak,
                        .ek_pub = check_signer ? ek : NULL,
                        .ek_pub_len = check_signer ? ek_len : 0,
                        .nonce = nonce,
                        .nonce_len = nonce_len,
                        .policy = policy,
                        .quote_only = policy == NULL,
                        .location_ca = ca,
                        .host_id = host_id[0] ? host_id : NULL};
  attest_evidence ev = {msg, msg_len, sig, sig_len, pcrs, pcrs_len, log, log_len, loc, loc_len};
  attest_verdict *v = calloc(1, sizeof *v);
  if (!v || attest_verify(&ctx, &ev, v, &err) != 0) {
    cli_fail("%s", v ? err.msg : "out of memory");
    free(v);
    goto out;
  }
  if (nonce_refusal) {
    /* Put the freshness refusal first: it is the one that matters. */
    memmove(v->reasons[1], v->reasons[0],
            (ATTEST_REASONS_MAX - 1) * sizeof v->reasons[0]);
    snprintf(v->reasons[0], ATTEST_REASON_LEN, "%.300s", nonce_refusal);
    if (v->nreasons < ATTEST_REASONS_MAX) v->nreasons++;
    else v->more_reasons++;
    v->ok = false;
  }
  out = want_ear ? attest_ear(v, host_id[0] ? host_id : NULL, nonce, nonce_len, lisec_time_now())
                 : attest_verdict_json(v);
  if (!want_ear && !policy && v->ok)
    json_object_set_new(out, "note",
                        json_string("quote only: no --reference given, the boot was not "
                                    "appraised against reference values (TR103308-5.4)"));
  if (!want_ear && ek && !check_signer)
    json_object_set_new(out, "signer_note",
                        json_string("the AK was given as PEM, which has no TPM Name: the quote's "
                                    "signer was not checked against the EK (give the AK's "
                                    "TPM2B_PUBLIC for that, TR103308-5.1)"));
  if (want_ear) cli_print_json(out);
  else cli_print(out, print_human);
  result = v->ok ? CLI_OK : v->malformed ? CLI_ERROR : CLI_REFUSED;
  free(v);
out:
  json_decref(out);
  attest_nonces_free(nonces);
  attest_location_ca_free(ca);
  attest_policy_free(policy);
  attest_ak_free(ak);
  free(ak_buf), free(msg), free(sig), free(pcrs), free(log), free(ref), free(loc), free(loc_ca),
      free(ek);
  return result;
}

static int cmd_makecredential(int argc, char **argv) {
  const char *ek_path = NULL, *ak_path = NULL, *secret_hex = NULL, *secret_file = NULL,
             *out_path = NULL, *cert_path = NULL, *ca_path = NULL;
  static const struct option opts[] = {{"ek", required_argument, 0, 'e'},
                                       {"ek-cert", required_argument, 0, 'c'},
                                       {"ek-ca", required_argument, 0, 'C'},
                                       {"ak", required_argument, 0, 'a'},
                                       {"secret", required_argument, 0, 's'},
                                       {"secret-file", required_argument, 0, 'f'},
                                       {"out", required_argument, 0, 'o'},
                                       {0, 0, 0, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
    switch (c) {
    case 'e': ek_path = optarg; break;
    case 'a': ak_path = optarg; break;
    case 's': secret_hex = optarg; break;
    case 'f': secret_file = optarg; break;
    case 'o': out_path = optarg; break;
    case 'c': cert_path = optarg; break;
    case 'C': ca_path = optarg; break;
    default: return usage();
    }
  }
  if (optind != argc || !ek_path || !ak_path || !out_path || !secret_hex == !secret_file ||
      !cert_path != !ca_path)
    return usage();
  uint8_t *ek = NULL, *akb = NULL, *sf = NULL, *cert = NULL, *ca = NULL,
          secret[ATTEST_CREDENTIAL_SECRET_MAX];
  size_t ek_len = 0, ak_len = 0, sf_len = 0, secret_len = 0, cert_len = 0, ca_len = 0;
  attest_ak *ak = NULL;
  lisec_buf blob;
  lisec_err err = {0};
  int result = CLI_ERROR;
  lisec_buf_init(&blob, 8192);
  if (read_file("--ek", ek_path, ATTEST_TPM_PUBLIC_MAX, &ek, &ek_len) ||
      read_file("--ak", ak_path, ATTEST_TPM_PUBLIC_MAX, &akb, &ak_len) ||
      (cert_path && read_file("--ek-cert", cert_path, 16384, &cert, &cert_len)) ||
      (ca_path && read_file("--ek-ca", ca_path, 1u << 20, &ca, &ca_len)))
    goto out;
  /* The EK is the host's identity: with a certificate, it must be a TPM's. */
  if (cert && attest_ek_cert_check(ek, ek_len, cert, cert_len, ca, ca_len, 0, &err) != 0) {
    cli_fail("%s", err.msg);
    result = err.code == LISEC_EDENIED ? CLI_REFUSED : CLI_ERROR;
    goto out;
  }
  if (secret_hex) {
    if (parse_hex_arg("--secret", secret_hex, secret, sizeof secret, &secret_len)) goto out;
  } else {
    if (read_file("--secret-file", secret_file, sizeof secret, &sf, &sf_len)) goto out;
    if (sf_len == 0) {
      cli_fail("--secret-file is empty");
      goto out;
    }
    memcpy(secret, sf, sf_len);
    secret_len = sf_len;
  }
  /* Only a real AK (restricted, fixedTPM, ...) gets a credential. */
  if (attest_ak_from_tpm_public(akb, ak_len, &ak, &err) != 0) {
    cli_fail("%s", err.msg);
    result = err.code == LISEC_EDENIED ? CLI_REFUSED : CLI_ERROR;
    goto out;
  }
  size_t name_len = 0;
  const uint8_t *name = attest_ak_name(ak, &name_len);
  if (attest_credential_make(ek, ek_len, name, name_len, secret, secret_len, &blob, &err) != 0 ||
      lisec_file_write_atomic(out_path, blob.data, blob.len, 0600, &err) != 0) {
    cli_fail("%s", err.msg);
    goto out;
  }
  result = CLI_OK;
out:
  crypto_wipe(secret, sizeof secret);
  if (sf) crypto_wipe(sf, sf_len);
  lisec_buf_free(&blob);
  attest_ak_free(ak);
  free(ek), free(akb), free(sf), free(cert), free(ca);
  return result;
}

static int cmd_host_id(int argc, char **argv) {
  if (argc != 3 || strcmp(argv[1], "--ek") != 0) return usage();
  uint8_t *ek = NULL;
  size_t len = 0;
  char id[ATTEST_HOST_ID_LEN + 1];
  lisec_err err = {0};
  if (read_file("--ek", argv[2], ATTEST_TPM_PUBLIC_MAX, &ek, &len)) return CLI_ERROR;
  int rc = attest_host_id(ek, len, id, &err);
  free(ek);
  if (rc) return cli_fail("%s", err.msg);
  if (cli.json) {
    json_t *j = json_pack("{s:s}", "host_id", id);
    cli_print_json(j);
    json_decref(j);
  } else {
    puts(id);
  }
  return CLI_OK;
}

int cli_cmd_attest(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    if (argc >= 2) {
      puts(attest_usage_text);
      return CLI_OK;
    }
    return usage();
  }
  if (strcmp(argv[1], "verify") == 0) return cmd_verify(argc - 1, argv + 1);
  if (strcmp(argv[1], "nonce") == 0) return cmd_nonce(argc - 1, argv + 1);
  if (strcmp(argv[1], "makecredential") == 0) return cmd_makecredential(argc - 1, argv + 1);
  if (strcmp(argv[1], "host-id") == 0) return cmd_host_id(argc - 1, argv + 1);
  return usage();
}
