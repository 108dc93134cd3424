/* Fuzzes lisec-agent's reading of ipmitool's output (cmd/lisec-agent/bmc.c):
 * text a BMC on the network (IPMI LAN) or the host's own BMC decides, read
 * by the agent, which holds the host's TPM. The parsers are static in bmc.c,
 * so the file is compiled into this harness as it is. The input is one
 * output of `ipmitool exec` (mc info, chassis status, chassis poh, fru and
 * sdr elist, sel info and sel list together): every "Label : value" field the agent looks for is
 * read and must come out bounded, without leading blanks; every line goes through the
 * sensor reader, once picking sensors by kind and once by configured names,
 * and the power-on hours through their reader, which never gives a negative
 * count, and through the event log's reader; the Overflow flag's value
 * is true, false or no reading. */
#include "../cmd/lisec-agent/bmc.c"

/* Every line through the event log's reader: the record it keeps fits
 * lisecd's 64-byte bound and is printable ASCII. */
static void read_sel(const char *text) {
  char *copy = strdup(text);
  if (!copy) return;
  char newest[65] = "";
  int64_t seen = 0;
  for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    sel_line(line, newest, sizeof newest, &seen);
  for (const char *p = newest; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) abort();
  if (strlen(newest) > 64 || seen < 0) abort();
  free(copy);
}

/* main.c's, which this harness does not link. */
int agent_fail(const char *fmt, ...) {
  (void)fmt;
  return 1;
}

static void read_field(const char *text, const char *label) {
  char out[64];
  if (!field(text, label, out, sizeof out)) return;
  size_t n = strlen(out);
  if (n >= sizeof out) abort();
  /* (trimmed, then cut to fit: the end of a cut value may be a space) */
  if (n && (out[0] == ' ' || out[0] == '\t')) abort();
  int64_t h = 0;
  if (poh_hours(out, &h) && h < 0) abort();
  bool full = false;
  if (overflow_flag(out, &full) && strcmp(out, full ? "true" : "false") != 0) abort();
}

static void read_sensors(const agent_bmc_conf *c, const char *text) {
  char *copy = strdup(text);
  if (!copy) return;
  reading inlet = {0}, cpu = {0}, power = {0}, poh = {0};
  bool intrusion = false, intrusion_read = false;
  for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    if (sdr_line(c, line, &inlet, &cpu, &power, &poh, &intrusion, &intrusion_read) < 0) abort();
  /* an asserted intrusion is always a state read */
  if (intrusion && !intrusion_read) abort();
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  static const char *const labels[] = {"Manufacturer ID", "Product ID", "System GUID", "Firmware Revision",
                                       "System Power", "Chassis Intrusion", "POH Counter", "Product Asset Tag",
                                       "Entries", "Overflow"};
  for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) read_field(text, labels[i]);
  int64_t h = 0;
  if (poh_hours(text, &h) && h < 0) abort();
  agent_bmc_conf by_kind = {.interface = "open", .inlet_sensor = "", .cpu_sensor = "", .power_sensor = "",
                            .poh_sensor = ""};
  agent_bmc_conf named = {.interface = "open", .inlet_sensor = "Inlet Temp", .cpu_sensor = "CPU1 Temp",
                          .power_sensor = "Pwr Consumption", .poh_sensor = "POH"};
  read_sensors(&by_kind, text);
  read_sensors(&named, text);
  read_sel(text);
  free(text);
  return 0;
}
