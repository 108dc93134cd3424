/* lisec-agent: the host side of attestation (TR 103 308 §5.1, §5.4, §6.2
 * R8-10/12-14, O.1.6). It enrols the host (EK, an AK created under it, and
 * TPM2_ActivateCredential to prove the AK lives in the same TPM), quotes
 * the configured SHA-256 PCRs over the controller's nonce, hands over the
 * firmware event log with its own measurements appended, and measures the
 * location certificate asset management issued into PCR 15 so the quote
 * covers it. The offline commands write files the controller reads (the
 * same files tpm2_quote writes); `run` (loop.c) does it all with lisecd
 * over mutual TLS.
 *
 *   lisec-agent [-c CONF] [--tcti T] [--state DIR] [--eventlog F] COMMAND
 *     enrol --out DIR [--new-ak] | activate --credential F --out F |
 *     quote --nonce HEX --out DIR | measure-location --cert F | host-id | run |
 *     report-image --event E [--xml F] | check-image [--xml F] | vm-id [--xml F]
 *
 * Exit 0 done, 1 refused by the TPM (a credential not for this host) or,
 * for report-image, a VM not on its package's image, or, for check-image, a
 * start lisecd refuses, 2 usage or error. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "bmc.h"
#include "crypto/crypto.h"
#include "libvirt.h"

enum { AGENT_OK = 0, AGENT_REFUSED = 1, AGENT_ERROR = 2 };

#define STATE_FILE_MAX (64 * 1024)
#define DEFAULT_PCRS "0,1,2,3,4,5,6,7,15"

typedef agent_settings settings;

static const char *const known_keys[] = {"tpm.tcti",       "tpm.ek",      "tpm.ak",
                                         "tpm.ek_handle",  "tpm.pcrs",    "agent.state_dir",
                                         "agent.eventlog", "log.level",   "server.url",
                                         "server.ca",      "server.cert", "server.key",
                                         "agent.poll_ms",  "agent.interval_s", "libvirt.uri",
                                         "libvirt.debounce_ms", "libvirt.event_min_gap_ms",
                                         "libvirt.rehash_s", "bmc.interface", "bmc.host", "bmc.port",
                                         "bmc.user", "bmc.password_file", "bmc.cipher", "bmc.timeout_s",
                                         "bmc.ipmitool", "bmc.inlet_sensor", "bmc.cpu_sensor",
                                         "bmc.power_sensor", "bmc.poh_sensor", "bmc.sel_records", NULL};

static int usage_to(FILE *out) {
  fprintf(out,
          "usage: lisec-agent [-c CONF] [--tcti TCTI] [--state DIR] [--eventlog FILE] COMMAND\n"
          "  enrol --out DIR [--new-ak] EK (+ certificate if the TPM has one), an AK under it (the\n"
          "                             kept one; a new one with --new-ak, after a de-enrolment);\n"
          "                             writes ek.pub ek.crt ak.pub ak.pem ak.name host_id\n"
          "  activate --credential F --out SECRET\n"
          "                             TPM2_ActivateCredential of the controller's credential\n"
          "  quote --nonce HEX --out DIR [--inventory FILE]\n"
          "                             quote.msg quote.sig quote.pcrs (as tpm2_quote writes them),\n"
          "                             eventlog.bin, location.cms; with an inventory the quote's\n"
          "                             qualifying data binds it to the nonce\n"
          "  inventory [--out FILE]     the host's libvirt domains as the inventory run reports\n"
          "  chassis                    the chassis report read from the BMC ([bmc]) as run binds it\n"
          "  measure-location --cert F  extends PCR %d with the location certificate and logs it\n"
          "  host-id                    the host id the controller derives from the EK\n"
          "  run                        on its own: enrol with lisecd, then attest every interval\n"
          "                             and whenever lisecd asks, until SIGTERM\n"
          "  report-image --event instantiate|resume|migrate [--xml FILE|-]\n"
          "                             hashes the image of a libvirt domain's disk (XML on stdin)\n"
          "                             and reports it to lisecd; exit 1: not its package's image\n"
          "  check-image [--xml FILE|-]  before a domain starts: asks lisecd whether the image of its\n"
          "                             disk is its package's; exit 1: the start is refused\n"
          "  vm-id [--xml FILE|-]       the lisec VM id of a libvirt domain (its urn:lisec:vm\n"
          "                             metadata, else its name), as the commands above read it\n"
          "configuration (INI): [tpm] tcti ek=rsa|ecc ak=ecc|rsa ek_handle pcrs=%s\n"
          "                     [agent] state_dir eventlog poll_ms=1000 interval_s=300\n"
          "                     [libvirt] uri=qemu:///system (empty: none) debounce_ms=500\n"
          "                     event_min_gap_ms=2000 rehash_s=3600\n"
          "                     [server] url ca cert key (run, report-image, check-image: mutual TLS to\n"
          "                     lisecd; LISEC_SERVER, LISEC_CA, LISEC_CERT, LISEC_KEY override)\n"
          "TCTI: --tcti, else [tpm] tcti, else $LISEC_TPM_TCTI, else device:/dev/tpmrm0\n",
          ATTEST_LOCATION_PCR, DEFAULT_PCRS);
  return AGENT_ERROR;
}

static int usage(void) { return usage_to(stderr); }

int agent_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("lisec-agent: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return AGENT_ERROR;
}

static int parse_pcrs(const char *s, uint32_t *out) {
  uint32_t m = 0;
  const char *p = s;
  while (*p) {
    char *end = NULL;
    long v = strtol(p, &end, 10);
    if (end == p || v < 0 || v >= ATTEST_PCR_COUNT) return -1;
    m |= 1u << v;
    p = end;
    if (*p == ',') p++;
    else if (*p) return -1;
  }
  *out = m;
  return m ? 0 : -1;
}

static int key_type(const char *s, agent_key_type *out) {
  if (strcmp(s, "rsa") == 0) *out = AGENT_KEY_RSA;
  else if (strcmp(s, "ecc") == 0) *out = AGENT_KEY_ECC;
  else return -1;
  return 0;
}

static char *path_in(const char *dir, const char *name) {
  char *p = NULL;
  if (asprintf(&p, "%s/%s", dir, name) < 0) return NULL;
  return p;
}

static int write_file(const char *dir, const char *name, const void *data, size_t len,
                      unsigned mode) {
  char *p = path_in(dir, name);
  lisec_err err = {0};
  int rc = p ? lisec_file_write_atomic(p, data, len, mode, &err) : LISEC_ENOMEM;
  if (rc) agent_fail("%s: %s", p ? p : name, err.msg);
  free(p);
  return rc;
}

/* Reads dir/name; *missing is set (and 0 returned) when it does not exist. */
int agent_read_state(const char *dir, const char *name, size_t max, uint8_t **out, size_t *len,
                      bool *missing) {
  char *p = path_in(dir, name);
  lisec_err err = {0};
  if (!p) return agent_fail("out of memory");
  *missing = access(p, F_OK) != 0;
  int rc = 0;
  if (!*missing && lisec_file_read(p, max, out, len, &err) != 0) rc = agent_fail("%s: %s", p, err.msg);
  free(p);
  return rc;
}

int agent_ensure_dir(const char *dir) {
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) return agent_fail("%s: %s", dir, strerror(errno));
  return 0;
}

/* Opens the TPM with the EK loaded, and the AK when with_ak. */
int agent_open_tpm(const settings *s, bool with_ak, agent_tpm **t, lisec_buf *ek_pub) {
  lisec_err err = {0};
  if (agent_tpm_open(s->tcti, t, &err) != 0) return agent_fail("%s", err.msg);
  if (agent_tpm_ek(*t, s->ek_type, s->ek_handle, ek_pub, &err) != 0) {
    agent_tpm_close(*t);
    *t = NULL;
    return agent_fail("%s", err.msg);
  }
  if (!with_ak) return 0;
  uint8_t *pub = NULL, *priv = NULL;
  size_t pub_len = 0, priv_len = 0;
  bool m1 = false, m2 = false;
  int rc = agent_read_state(s->state_dir, "ak.pub", STATE_FILE_MAX, &pub, &pub_len, &m1);
  if (!rc) rc = agent_read_state(s->state_dir, "ak.priv", STATE_FILE_MAX, &priv, &priv_len, &m2);
  if (!rc && (m1 || m2)) rc = agent_fail("no AK in %s: run `lisec-agent enrol` first", s->state_dir);
  if (!rc && agent_tpm_ak_load(*t, pub, pub_len, priv, priv_len, &err) != 0)
    rc = agent_fail("%s", err.msg);
  free(pub);
  free(priv);
  if (rc) {
    agent_tpm_close(*t);
    *t = NULL;
  }
  return rc;
}

int agent_cmd_enrol(const settings *s, const char *out, bool new_ak) {
  agent_tpm *t = NULL;
  lisec_buf ek, ak_pub, ak_priv, cert;
  lisec_err err = {0};
  attest_ak *ak = NULL;
  char host[ATTEST_HOST_ID_LEN + 2], *pem = NULL;
  int rc = AGENT_ERROR;
  bool has_cert = false, m1 = false;
  uint8_t *kept = NULL;
  size_t kept_len = 0;
  lisec_buf_init(&ek, 4096), lisec_buf_init(&ak_pub, 4096), lisec_buf_init(&ak_priv, 4096);
  lisec_buf_init(&cert, 16384);
  if (agent_ensure_dir(s->state_dir) || agent_ensure_dir(out) || agent_open_tpm(s, false, &t, &ek)) goto done;
  if (agent_tpm_ek_cert(t, s->ek_type, &cert, &has_cert, &err) != 0) {
    agent_fail("%s", err.msg);
    goto done;
  }
  /* Enrolment is repeatable: an AK already kept is the host's AK, unless
   * a new one is asked for (lisecd revoked the kept one at the host's
   * de-enrolment and refuses it). The private part is written first: a
   * stop in between leaves the revoked public part, refused again, never
   * a new public part the kept private part does not match. */
  if (agent_read_state(s->state_dir, "ak.pub", STATE_FILE_MAX, &kept, &kept_len, &m1)) goto done;
  if (m1 || new_ak) {
    if (agent_tpm_ak_create(t, s->ak_type, &ak_pub, &ak_priv, &err) != 0) {
      agent_fail("%s", err.msg);
      goto done;
    }
    if (write_file(s->state_dir, "ak.priv", ak_priv.data, ak_priv.len, 0600) ||
        write_file(s->state_dir, "ak.pub", ak_pub.data, ak_pub.len, 0600))
      goto done;
  } else if (lisec_buf_append(&ak_pub, kept, kept_len)) {
    agent_fail("out of memory");
    goto done;
  }
  if (attest_ak_from_tpm_public(ak_pub.data, ak_pub.len, &ak, &err) != 0 ||
      attest_ak_public_pem(ak, &pem, &err) != 0 ||
      attest_host_id(ek.data, ek.len, host, &err) != 0) {
    agent_fail("%s", err.msg);
    goto done;
  }
  size_t name_len = 0;
  const uint8_t *name = attest_ak_name(ak, &name_len);
  size_t hl = strlen(host);
  host[hl] = '\n';
  if (write_file(out, "ek.pub", ek.data, ek.len, 0644) ||
      write_file(out, "ak.pub", ak_pub.data, ak_pub.len, 0644) ||
      write_file(out, "ak.name", name, name_len, 0644) ||
      write_file(out, "ak.pem", pem, strlen(pem), 0644) ||
      write_file(out, "host_id", host, hl + 1, 0644) ||
      (has_cert && write_file(out, "ek.crt", cert.data, cert.len, 0644)))
    goto done;
  if (!has_cert) {
    /* A certificate an earlier enrolment left here is not this TPM's word now. */
    char *old = path_in(out, "ek.crt");
    if (old && unlink(old) != 0 && errno != ENOENT) {
      agent_fail("%s: %s", old, strerror(errno));
      free(old);
      goto done;
    }
    free(old);
  }
  host[hl] = '\0';
  printf("%s\n", host);
  fprintf(stderr, "lisec-agent: enrolled%s; EK certificate %s\n", m1 || new_ak ? " with a new AK" : "",
          has_cert ? "found in NV" : "not provisioned in this TPM");
  rc = AGENT_OK;
done:
  free(kept);
  free(pem);
  attest_ak_free(ak);
  lisec_buf_free(&ek), lisec_buf_free(&ak_pub), lisec_buf_free(&ak_priv), lisec_buf_free(&cert);
  agent_tpm_close(t);
  return rc;
}

int agent_cmd_activate(const settings *s, const char *cred_path, const char *out) {
  agent_tpm *t = NULL;
  lisec_buf ek;
  lisec_err err = {0};
  uint8_t *cred = NULL, secret[ATTEST_CREDENTIAL_SECRET_MAX];
  size_t cred_len = 0, secret_len = sizeof secret;
  int rc = AGENT_ERROR;
  lisec_buf_init(&ek, 4096);
  if (lisec_file_read(cred_path, 4096, &cred, &cred_len, &err) != 0) {
    agent_fail("%s", err.msg);
    goto done;
  }
  if (agent_open_tpm(s, true, &t, &ek)) goto done;
  int r = agent_tpm_activate(t, cred, cred_len, secret, &secret_len, &err);
  if (r) {
    agent_fail("%s", err.msg);
    rc = r == LISEC_EDENIED ? AGENT_REFUSED : AGENT_ERROR;
    goto done;
  }
  if (lisec_file_write_atomic(out, secret, secret_len, 0600, &err) != 0) {
    agent_fail("%s", err.msg);
    goto done;
  }
  rc = AGENT_OK;
done:
  crypto_wipe(secret, sizeof secret);
  free(cred);
  lisec_buf_free(&ek);
  agent_tpm_close(t);
  return rc;
}

/* The agent's own measurements since this boot: TCG_PCR_EVENT2 records in
 * runtime.log, valid while they replay to PCR 15.
 * Whether log (runtime.log's events) replays to PCR 15 as it is now. The
 * counters do not tell: a TPM Restart (TPM2_Shutdown(STATE), power off,
 * Startup(CLEAR)) resets the PCRs and keeps resetCount, and a Resume
 * raises restartCount but keeps the PCRs; PCR 15 itself does. */
static int log_is_current(agent_tpm *t, const uint8_t *log, size_t len, bool *current) {
  lisec_buf b;
  lisec_err err = {0};
  attest_eventlog parsed = {0};
  attest_pcrs now, replay;
  int rc = AGENT_OK;
  *current = false;
  lisec_buf_init(&b, ATTEST_EVENTLOG_MAX);
  if (attest_eventlog_write_header(&b, &err) || lisec_buf_append(&b, log, len))
    rc = agent_fail("runtime log too large");
  else if (agent_tpm_pcrs(t, 1u << ATTEST_LOCATION_PCR, &now, &err))
    rc = agent_fail("%s", err.msg);
  /* A kept log that cannot be read is no measurement of this boot. */
  else if (attest_eventlog_parse(b.data, b.len, &parsed, &err) == 0) {
    attest_eventlog_replay(&parsed, &replay);
    *current = (replay.mask & (1u << ATTEST_LOCATION_PCR)) &&
               memcmp(replay.value[ATTEST_LOCATION_PCR], now.value[ATTEST_LOCATION_PCR],
                      ATTEST_DIGEST_LEN) == 0;
  }
  attest_eventlog_free(&parsed);
  lisec_buf_free(&b);
  return rc;
}

/* Reads runtime.log into *log when it replays to PCR 15 now (*current);
 * *missing when the agent has measured nothing yet. */
static int runtime_log(const settings *s, agent_tpm *t, uint8_t **log, size_t *len,
                       bool *current, bool *missing) {
  *log = NULL, *len = 0, *current = false;
  if (agent_read_state(s->state_dir, "runtime.log", ATTEST_EVENTLOG_MAX, log, len, missing))
    return AGENT_ERROR;
  if (*missing) return AGENT_OK;
  int rc = log_is_current(t, *log, *len, current);
  if (rc || !*current) free(*log), *log = NULL, *len = 0;
  return rc;
}

int agent_runtime_current(const settings *s, agent_tpm *t, bool *current) {
  uint8_t *log = NULL;
  size_t len = 0;
  bool missing = false;
  int rc = runtime_log(s, t, &log, &len, current, &missing);
  free(log);
  return rc;
}

static int agent_runtime_events(const settings *s, agent_tpm *t, lisec_buf *out, bool *stale) {
  uint8_t *log = NULL;
  size_t ll = 0;
  bool current = false, missing = false;
  *stale = false;
  if (runtime_log(s, t, &log, &ll, &current, &missing)) return AGENT_ERROR;
  int rc = 0;
  if (current) {
    if (lisec_buf_append(out, log, ll)) rc = agent_fail("event log too large");
  } else if (!missing) {
    *stale = true; /* measured in an earlier boot: PCR 15 has been reset since */
  }
  free(log);
  return rc;
}

int agent_cmd_quote(const settings *s, const char *nonce_hex, const char *out) {
  return agent_cmd_quote_inventory(s, nonce_hex, out, NULL);
}

int agent_cmd_quote_inventory(const settings *s, const char *nonce_hex, const char *out,
                              const char *inventory_path) {
  return agent_cmd_quote_reports(s, nonce_hex, out, inventory_path, NULL);
}

/* The SHA-256 of a report file the quote binds. */
static int report_digest(const char *path, const char *what, uint8_t d[ATTEST_DIGEST_LEN]) {
  uint8_t *b = NULL;
  size_t len = 0;
  lisec_err e = {0};
  if (lisec_file_read(path, 16u << 20, &b, &len, &e) != 0) return agent_fail("%s: %s", what, e.msg);
  crypto_sha256(b, len, d);
  free(b);
  return 0;
}

int agent_cmd_quote_reports(const settings *s, const char *nonce_hex, const char *out,
                            const char *inventory_path, const char *chassis_path) {
  uint8_t nonce[ATTEST_NONCE_MAX], *fw = NULL, *loc = NULL;
  size_t n = strlen(nonce_hex) / 2, fw_len = 0, loc_len = 0;
  if (strlen(nonce_hex) % 2 || n < ATTEST_NONCE_MIN || n > ATTEST_NONCE_MAX ||
      lisec_hex_decode(nonce_hex, nonce, n) != 0)
    return agent_fail("--nonce: %d to %d bytes of hex", ATTEST_NONCE_MIN, ATTEST_NONCE_MAX);
  /* With reports the TPM quotes their binding to the nonce: an inventory
   * alone, SHA-256("lisec-inventory-v1" || nonce || SHA-256(inventory))
   * (issue 15); with a chassis report, SHA-256("lisec-evidence-v2" ||
   * nonce || SHA-256(inventory) or zeros || SHA-256(chassis)) (issue 19). */
  uint8_t bound[ATTEST_DIGEST_LEN], inv_d[ATTEST_DIGEST_LEN], ch_d[ATTEST_DIGEST_LEN];
  if (inventory_path && report_digest(inventory_path, "--inventory", inv_d)) return AGENT_ERROR;
  if (chassis_path && report_digest(chassis_path, "--chassis", ch_d)) return AGENT_ERROR;
  if (inventory_path || chassis_path) {
    attest_evidence_binding(nonce, n, inventory_path ? inv_d : NULL, chassis_path ? ch_d : NULL, bound);
    memcpy(nonce, bound, sizeof bound);
    n = sizeof bound;
  }
  agent_tpm *t = NULL;
  lisec_buf ek, msg, sig, pcrs_file, log;
  lisec_err err = {0};
  attest_pcrs pcrs;
  bool stale = false, no_loc = false;
  int rc = AGENT_ERROR;
  lisec_buf_init(&ek, 4096), lisec_buf_init(&msg, 4096), lisec_buf_init(&sig, 4096);
  lisec_buf_init(&pcrs_file, 1 << 16), lisec_buf_init(&log, ATTEST_EVENTLOG_MAX);
  if (agent_ensure_dir(out) || agent_open_tpm(s, true, &t, &ek)) goto done;
  if (agent_tpm_quote(t, nonce, n, s->pcrs, &msg, &sig, &pcrs, &err) != 0 ||
      attest_pcrs_write(&pcrs, &pcrs_file, &err) != 0) {
    agent_fail("%s", err.msg);
    goto done;
  }
  /* The firmware's log as the kernel exposes it, then the agent's own. */
  if (s->eventlog) {
    if (lisec_file_read(s->eventlog, ATTEST_EVENTLOG_MAX, &fw, &fw_len, &err) != 0 ||
        lisec_buf_append(&log, fw, fw_len)) {
      agent_fail("firmware event log: %s", err.msg);
      goto done;
    }
  } else if (attest_eventlog_write_header(&log, &err) != 0) {
    agent_fail("%s", err.msg);
    goto done;
  }
  if (agent_runtime_events(s, t, &log, &stale)) goto done;
  if (stale)
    fprintf(stderr, "lisec-agent: the location was measured before PCR 15 was last reset "
                    "(a power cycle or TPM Restart); "
                    "run measure-location again\n");
  if (agent_read_state(s->state_dir, "location.cms", ATTEST_LOCATION_MAX, &loc, &loc_len, &no_loc))
    goto done;
  if (write_file(out, "quote.msg", msg.data, msg.len, 0644) ||
      write_file(out, "quote.sig", sig.data, sig.len, 0644) ||
      write_file(out, "quote.pcrs", pcrs_file.data, pcrs_file.len, 0644) ||
      write_file(out, "eventlog.bin", log.data, log.len, 0644) ||
      (!no_loc && write_file(out, "location.cms", loc, loc_len, 0644)))
    goto done;
  rc = AGENT_OK;
done:
  free(fw);
  free(loc);
  lisec_buf_free(&ek), lisec_buf_free(&msg), lisec_buf_free(&sig), lisec_buf_free(&pcrs_file);
  lisec_buf_free(&log);
  agent_tpm_close(t);
  return rc;
}

int agent_cmd_measure_location(const settings *s, const char *cert_path) {
  uint8_t *cert = NULL, *old = NULL;
  size_t cert_len = 0, old_len = 0;
  bool m2 = false;
  agent_tpm *t = NULL;
  lisec_buf ek, log;
  lisec_err err = {0};
  int rc = AGENT_ERROR;
  lisec_buf_init(&ek, 4096), lisec_buf_init(&log, ATTEST_EVENTLOG_MAX);
  if (lisec_file_read(cert_path, ATTEST_LOCATION_MAX, &cert, &cert_len, &err) != 0) {
    agent_fail("%s", err.msg);
    goto done;
  }
  if (agent_ensure_dir(s->state_dir) || agent_open_tpm(s, false, &t, &ek)) goto done;
  bool current = false;
  if (runtime_log(s, t, &old, &old_len, &current, &m2)) goto done;
  /* Measurements of an earlier boot are gone from PCR 15: start over. */
  if (current && lisec_buf_append(&log, old, old_len)) {
    agent_fail("runtime log too large");
    goto done;
  }
  uint8_t digest[ATTEST_DIGEST_LEN], data[40];
  crypto_sha256(cert, cert_len, digest);
  attest_location_event_data(digest, data);
  /* Log first, then extend: a failed extend takes the record out again, so
   * the log never claims a measurement the PCR lacks. */
  size_t before = log.len;
  if (attest_eventlog_write_event(&log, ATTEST_LOCATION_PCR, ATTEST_EV_EVENT_TAG, digest, data,
                                  sizeof data, &err) != 0) {
    agent_fail("%s", err.msg);
    goto done;
  }
  if (write_file(s->state_dir, "runtime.log", log.data, log.len, 0600)) goto done;
  if (agent_tpm_extend(t, ATTEST_LOCATION_PCR, digest, &err) != 0) {
    agent_fail("%s", err.msg);
    write_file(s->state_dir, "runtime.log", log.data, before, 0600);
    goto done;
  }
  if (write_file(s->state_dir, "location.cms", cert, cert_len, 0600)) goto done;
  rc = AGENT_OK;
done:
  free(cert), free(old);
  lisec_buf_free(&ek), lisec_buf_free(&log);
  agent_tpm_close(t);
  return rc;
}

/* The host id from the TPM's EK. */
static int host_of(const settings *s, char host[ATTEST_HOST_ID_LEN + 1]) {
  agent_tpm *t = NULL;
  lisec_buf ek;
  lisec_err err = {0};
  lisec_buf_init(&ek, 4096);
  int rc = agent_open_tpm(s, false, &t, &ek);
  if (!rc && attest_host_id(ek.data, ek.len, host, &err) != 0) rc = agent_fail("%s", err.msg);
  lisec_buf_free(&ek);
  agent_tpm_close(t);
  return rc ? AGENT_ERROR : AGENT_OK;
}

static int cmd_host_id(const settings *s) {
  char host[ATTEST_HOST_ID_LEN + 1];
  int rc = host_of(s, host);
  if (!rc) puts(host);
  return rc;
}

/* [libvirt]: where the inventory comes from and how events drive it. An
 * empty uri means a host without libvirt: quotes then carry no inventory. */
static int lv_setup(const lisec_config *cfg, agent_lv_conf *c, lisec_err *err) {
  c->uri = lisec_config_str(cfg, "libvirt", "uri", "qemu:///system");
  return lisec_config_int(cfg, "libvirt", "debounce_ms", 500, 0, 600000, &c->debounce_ms, err) ||
                 lisec_config_int(cfg, "libvirt", "event_min_gap_ms", 2000, 0, 3600000,
                                  &c->event_min_gap_ms, err) ||
                 lisec_config_int(cfg, "libvirt", "rehash_s", 3600, 1, 7 * 86400, &c->rehash_s, err)
             ? -1
             : 0;
}

/* [bmc]: the host's BMC for the chassis report bound to each quote (bmc.c,
 * issue 19). "none" (the default) reads nothing. */
static int bmc_setup(const lisec_config *cfg, agent_bmc_conf *c, lisec_err *err) {
  c->interface = lisec_config_str(cfg, "bmc", "interface", "none");
  c->host = lisec_config_str(cfg, "bmc", "host", "");
  c->user = lisec_config_str(cfg, "bmc", "user", "");
  c->password_file = lisec_config_str(cfg, "bmc", "password_file", "");
  c->ipmitool = lisec_config_str(cfg, "bmc", "ipmitool", "ipmitool");
  c->inlet_sensor = lisec_config_str(cfg, "bmc", "inlet_sensor", "");
  c->cpu_sensor = lisec_config_str(cfg, "bmc", "cpu_sensor", "");
  c->power_sensor = lisec_config_str(cfg, "bmc", "power_sensor", "");
  c->poh_sensor = lisec_config_str(cfg, "bmc", "poh_sensor", "");
  if (lisec_config_int(cfg, "bmc", "port", 623, 1, 65535, &c->port, err) ||
      lisec_config_int(cfg, "bmc", "cipher", 17, 0, 17, &c->cipher, err) ||
      lisec_config_int(cfg, "bmc", "timeout_s", 2, 1, 60, &c->timeout_s, err) ||
      lisec_config_int(cfg, "bmc", "sel_records", AGENT_BMC_SEL_RECORDS_DEFAULT, AGENT_BMC_SEL_RECORDS_MIN,
                       AGENT_BMC_SEL_RECORDS_MAX, &c->sel_records, err))
    return -1;
  if (strcmp(c->interface, "none") == 0 || strcmp(c->interface, "open") == 0) return 0;
  if (strcmp(c->interface, "lan") != 0) {
    lisec_err_set(err, LISEC_EINVAL, "[bmc] interface: \"lan\", \"open\" or \"none\"");
    return -1;
  }
  /* The password stays in its file (ipmitool -f): checked readable here,
   * never read into the agent, never on a command line or in a log. */
  if (!*c->host || !*c->user || !*c->password_file || access(c->password_file, R_OK) != 0) {
    lisec_err_set(err, LISEC_EINVAL, "[bmc] interface = \"lan\" needs host, user and a readable password_file");
    return -1;
  }
  return 0;
}

/* The BMC's files, which the agent hands to or runs as root: the ipmitool
 * it would run (then run by the path checked, *owned) and the password
 * file, each only root's to change (trust.c). 0, or 2 with the refusal. */
static int bmc_trusted(agent_bmc_conf *c, char **owned) {
  if (!agent_bmc_enabled(c)) return 0;
  if (agent_trusted_program("[bmc] ipmitool", c->ipmitool, owned)) return AGENT_ERROR;
  c->ipmitool = *owned;
  if (strcmp(c->interface, "lan") == 0 && agent_trusted_file("[bmc] password_file", c->password_file, true))
    return AGENT_ERROR;
  return 0;
}

/* [server] KEY from the configuration; the environment variable, when set,
 * wins (the libvirt hook passes its own settings that way). */
static const char *server_setting(const lisec_config *cfg, const char *key, const char *env) {
  const char *v = getenv(env);
  return v && *v ? v : lisec_config_str(cfg, "server", key, NULL);
}

int main(int argc, char **argv) {
  const char *conf = NULL, *tcti = NULL, *state = NULL, *eventlog = NULL;
  static const struct option global[] = {{"config", required_argument, 0, 'c'},
                                         {"tcti", required_argument, 0, 'T'},
                                         {"state", required_argument, 0, 'S'},
                                         {"eventlog", required_argument, 0, 'E'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
  /* --help anywhere, after the command too, is help (exit 0). */
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return usage_to(stdout), AGENT_OK;
  int c;
  /* "+": stop at the command; its own options follow it. */
  while ((c = getopt_long(argc, argv, "+c:h", global, NULL)) != -1) {
    switch (c) {
    case 'c': conf = optarg; break;
    case 'T': tcti = optarg; break;
    case 'S': state = optarg; break;
    case 'E': eventlog = optarg; break;
    case 'h': return usage_to(stdout), AGENT_OK;
    case 'V': return printf("lisec-agent %s\n", LISEC_VERSION), AGENT_OK;
    default: return usage();
    }
  }
  if (optind >= argc) return usage();
  lisec_log_setup(LISEC_LOG_INFO, false);
  /* tpm2-tss logs every TPM error it sees, expected ones included (an EK
   * certificate index that is not there); the agent reports what matters
   * itself. TSS2_LOG set by the user wins. */
  setenv("TSS2_LOG", "all+NONE", 0);
  lisec_config *cfg = NULL;
  lisec_err err = {0};
  char *ipmitool = NULL; /* [bmc] ipmitool as found and checked */
  /* Read as root: only a file root alone can change (trust.c). */
  if (conf && agent_trusted_file("configuration", conf, false)) return AGENT_ERROR;
  if (conf) {
    if (lisec_config_load(conf, known_keys, &cfg, &err) != 0) return agent_fail("%s", err.msg);
  } else {
    cfg = lisec_config_new();
  }
  settings s = {0};
  const char *env_tcti = getenv("LISEC_TPM_TCTI");
  s.tcti = tcti ? tcti
                : lisec_config_str(cfg, "tpm", "tcti",
                                   env_tcti && *env_tcti ? env_tcti : "device:/dev/tpmrm0");
  s.state_dir = state ? state : lisec_config_str(cfg, "agent", "state_dir", "/var/lib/lisec-agent");
  s.eventlog = eventlog ? eventlog : lisec_config_str(cfg, "agent", "eventlog", NULL);
  if (s.eventlog && !*s.eventlog) s.eventlog = NULL; /* "" = no firmware log on this host */
  const char *ekh = lisec_config_str(cfg, "tpm", "ek_handle", NULL);
  int rc = AGENT_ERROR;
  if (key_type(lisec_config_str(cfg, "tpm", "ek", "rsa"), &s.ek_type) ||
      key_type(lisec_config_str(cfg, "tpm", "ak", "ecc"), &s.ak_type)) {
    agent_fail("[tpm] ek and ak are \"rsa\" or \"ecc\"");
    goto out;
  }
  if (ekh) {
    char *end = NULL;
    unsigned long h = strtoul(ekh, &end, 16);
    if (!end || *end || h < 0x81000000UL || h > 0x81ffffffUL) {
      agent_fail("[tpm] ek_handle must be a persistent handle 0x81xxxxxx");
      goto out;
    }
    s.ek_handle = (uint32_t)h;
  }
  if (parse_pcrs(lisec_config_str(cfg, "tpm", "pcrs", DEFAULT_PCRS), &s.pcrs)) {
    agent_fail("[tpm] pcrs: a comma-separated list of PCR numbers 0-23");
    goto out;
  }

  const char *cmd = argv[optind];
  int cargc = argc - optind;
  char **cargv = argv + optind;
  const char *out = NULL, *nonce = NULL, *cred = NULL, *cert = NULL, *event = NULL, *xml = NULL;
  const char *inventory = NULL;
  bool new_ak = false;
  static const struct option copts[] = {{"out", required_argument, 0, 'o'},
                                        {"nonce", required_argument, 0, 'n'},
                                        {"credential", required_argument, 0, 'r'},
                                        {"cert", required_argument, 0, 'C'},
                                        {"event", required_argument, 0, 'v'},
                                        {"xml", required_argument, 0, 'x'},
                                        {"inventory", required_argument, 0, 'I'},
                                        {"new-ak", no_argument, 0, 'A'},
                                        {0, 0, 0, 0}};
  optind = 1;
  while ((c = getopt_long(cargc, cargv, "o:", copts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 'n': nonce = optarg; break;
    case 'r': cred = optarg; break;
    case 'C': cert = optarg; break;
    case 'v': event = optarg; break;
    case 'x': xml = optarg; break;
    case 'I': inventory = optarg; break;
    case 'A': new_ak = true; break;
    default: rc = usage(); goto out;
    }
  }
  agent_net net = {server_setting(cfg, "url", "LISEC_SERVER"), server_setting(cfg, "ca", "LISEC_CA"),
                   server_setting(cfg, "cert", "LISEC_CERT"), server_setting(cfg, "key", "LISEC_KEY"), 0, 0, NULL,
                   NULL};
  agent_bmc_conf bmc = {0};
  net.bmc = &bmc; /* filled by bmc_setup for run and chassis */
  agent_lv_conf lvc = {0};
  net.libvirt = &lvc; /* filled by lv_setup for the commands that read libvirt */
  if (optind != cargc || (event && strcmp(cmd, "report-image") != 0) || (new_ak && strcmp(cmd, "enrol") != 0) ||
      (xml && strcmp(cmd, "report-image") != 0 && strcmp(cmd, "check-image") != 0 && strcmp(cmd, "vm-id") != 0)) {
    rc = usage();
  } else if (strcmp(cmd, "enrol") == 0 && out && !nonce && !cred && !cert) {
    rc = agent_cmd_enrol(&s, out, new_ak);
  } else if (strcmp(cmd, "activate") == 0 && out && cred) {
    rc = agent_cmd_activate(&s, cred, out);
  } else if (inventory && strcmp(cmd, "quote") != 0) {
    rc = usage();
  } else if (strcmp(cmd, "quote") == 0 && out && nonce) {
    rc = agent_cmd_quote_inventory(&s, nonce, out, inventory);
  } else if (strcmp(cmd, "inventory") == 0 && !nonce && !cred && !cert) {
    rc = lv_setup(cfg, &lvc, &err) ? agent_fail("%s", err.msg) : agent_cmd_inventory(&s, &lvc, out);
  } else if (strcmp(cmd, "measure-location") == 0 && cert && !out) {
    rc = agent_cmd_measure_location(&s, cert);
  } else if (strcmp(cmd, "report-image") == 0 && event && !out && !nonce && !cred && !cert) {
    rc = agent_cmd_report_image(&net, event, xml ? xml : "-");
  } else if (strcmp(cmd, "check-image") == 0 && !out && !nonce && !cred && !cert) {
    rc = agent_cmd_check_image(&net, xml ? xml : "-");
  } else if (strcmp(cmd, "vm-id") == 0 && !out && !nonce && !cred && !cert) {
    rc = agent_cmd_vm_id(xml ? xml : "-");
  } else if (strcmp(cmd, "run") == 0 && !out && !nonce && !cred && !cert) {
    if (lisec_config_int(cfg, "agent", "poll_ms", 1000, 50, 600000, &net.poll_ms, &err) ||
        lisec_config_int(cfg, "agent", "interval_s", 300, 1, 86400, &net.interval_s, &err) ||
        lv_setup(cfg, &lvc, &err) || bmc_setup(cfg, &bmc, &err))
      rc = agent_fail("%s", err.msg);
    else if (!bmc_trusted(&bmc, &ipmitool))
      rc = agent_run(&s, &net);
  } else if (strcmp(cmd, "host-id") == 0 && !out && !nonce && !cred && !cert) {
    rc = cmd_host_id(&s);
  } else if (strcmp(cmd, "chassis") == 0 && !out && !nonce && !cred && !cert) {
    char host[ATTEST_HOST_ID_LEN + 1];
    rc = bmc_setup(cfg, &bmc, &err)      ? agent_fail("%s", err.msg)
         : bmc_trusted(&bmc, &ipmitool) ? AGENT_ERROR
         : host_of(&s, host)            ? AGENT_ERROR
                                        : agent_cmd_chassis(&bmc, host);
  } else {
    rc = usage();
  }
out:
  free(ipmitool);
  lisec_config_free(cfg);
  return rc;
}
