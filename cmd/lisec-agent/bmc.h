/* lisec-agent's view of its host's BMC (bmc.c, issue 19): ipmitool over
 * IPMI LAN (lanplus) or the local in-band interface, read into the chassis
 * report (attest/attest.h, "chassis" v3) that is bound into each quote. */
#ifndef LISEC_AGENT_BMC_H
#define LISEC_AGENT_BMC_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"

typedef struct agent_bmc_conf {
  const char *interface;     /* "lan", "open" or "none" (no BMC: quotes carry no report) */
  const char *host;          /* lan: the BMC's address */
  int64_t port;              /* lan: UDP port (623) */
  const char *user;          /* lan: IPMI user */
  const char *password_file; /* lan: a file holding the password (ipmitool -f); never logged */
  int64_t cipher;            /* lan: RMCP+ cipher suite (ipmitool -C) */
  int64_t timeout_s;         /* one IPMI request's timeout; a session is killed after 3x (+1 s) */
  int64_t sel_records;       /* the event log's newest records read (AGENT_BMC_SEL_RECORDS_*) */
  const char *ipmitool;      /* the program (default "ipmitool" on PATH) */
  /* sensor names as the BMC's SDRs call them; "" picks by kind and name */
  const char *inlet_sensor, *cpu_sensor, *power_sensor, *poh_sensor;
} agent_bmc_conf;

/* [bmc] sel_records: the default, and the most whose ipmitool output (about
 * 100 bytes a record) fits the agent's 64 KiB bound on it. */
#define AGENT_BMC_SEL_RECORDS_DEFAULT 512
#define AGENT_BMC_SEL_RECORDS_MIN 16
#define AGENT_BMC_SEL_RECORDS_MAX 600

/* Whether conf names a BMC to read. */
int agent_bmc_enabled(const agent_bmc_conf *conf);
/* The chassis report for host now, canonical JSON malloc'd in *out. A BMC
 * that does not answer gives a report with "bmc": null (lisecd decides by
 * its [telemetry] missing); 2 with the reason printed only for a local
 * fault (memory). cap_ms (CLOCK_MONOTONIC ms; 0: none) cuts every ipmitool
 * session's deadline: what is not read by then is null. */
int agent_bmc_report(const agent_bmc_conf *conf, const char *host, int64_t cap_ms, char **out, size_t *len);
/* `lisec-agent quote` with reports (main.c): the quote's qualifying data is
 * attest_evidence_binding(nonce, SHA-256 of each file given). */
int agent_cmd_quote_reports(const agent_settings *s, const char *nonce_hex, const char *out,
                            const char *inventory_path, const char *chassis_path);
/* `lisec-agent chassis`: the report now, on stdout. */
int agent_cmd_chassis(const agent_bmc_conf *conf, const char *host);

#endif
