/* Fuzzes lisec-agent's chassis report as a whole (cmd/lisec-agent/bmc.c,
 * agent_bmc_report): the fields and sensor lines agent_bmc reads one by one,
 * here assembled into the report the agent hashes into its quote and posts
 * to lisecd. ipmitool is replaced by a script printing the input (for both
 * of the agent's sessions: the chassis and sensors, then the event log), so
 * the agent's own spawning, bounded read and report run as they are. What
 * is asserted: whatever the BMC prints (and whenever the tool exits), the
 * agent lives and makes a report; it is canonical JSON; lisecd's parser
 * (attest_chassis_parse) either refuses it naming its requirement (readings
 * are sent as read: range checks are lisecd's) or reads it as the agent
 * wrote it, byte for byte in canonical form, with the agent's host. */
#include "../cmd/lisec-agent/bmc.c"

#include <sys/stat.h>

#include "attest/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* main.c's, which this harness does not link. */
int agent_fail(const char *fmt, ...) {
  (void)fmt;
  return 1;
}

static char dir[64], out_path[96], tool_path[96];

static void cleanup(void) {
  unlink(out_path);
  unlink(tool_path);
  rmdir(dir);
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/lisec-fuzz-bmc-XXXXXX");
  if (!mkdtemp(dir)) abort();
  snprintf(out_path, sizeof out_path, "%s/out", dir);
  snprintf(tool_path, sizeof tool_path, "%s/ipmitool", dir);
  FILE *f = fopen(tool_path, "w");
  if (!f) abort();
  fprintf(f, "#!/bin/sh\nexec /bin/cat %s\n", out_path);
  if (fclose(f) != 0 || chmod(tool_path, 0700) != 0) abort();
  atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > BMC_OUT_MAX) return 0;
  if (!dir[0]) setup();
  FILE *f = fopen(out_path, "w");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();
  agent_bmc_conf c = {.interface = "open", .timeout_s = 5, .sel_records = AGENT_BMC_SEL_RECORDS_DEFAULT,
                      .ipmitool = tool_path, .inlet_sensor = "", .cpu_sensor = "", .power_sensor = "", .poh_sensor = ""};
  char *report = NULL;
  size_t len = 0;
  if (agent_bmc_report(&c, "host-1", 0, &report, &len) != 0) abort();
  json_t *doc = NULL;
  lisec_err err = {0};
  if (lisec_json_parse(report, len, &doc, &err) != 0) abort();
  char *canonical = lisec_json_dump_canonical(doc);
  if (!canonical || strcmp(canonical, report) != 0) abort(); /* what the agent hashes is canonical */
  free(canonical);
  json_decref(doc);
  /* Readings are sent as read (range checks are lisecd's): lisecd may
   * refuse the report, then by its requirement; what it accepts it reads
   * as the agent wrote it. */
  attest_chassis ch;
  if (attest_chassis_parse(report, len, 0, &ch, &err) != 0) {
    if (!strstr(err.msg, ATTEST_CHASSIS_REQ)) abort();
  } else {
    char *again = attest_chassis_json(&ch);
    if (!again || strcmp(again, report) != 0 || strcmp(ch.host, "host-1") != 0) abort();
    free(again);
  }
  free(report);
  return 0;
}
