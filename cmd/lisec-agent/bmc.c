/* lisec-agent reads its host's BMC (issue 19; TR 103 308 §5.6, R10/R14)
 * with ipmitool, run as a child without a shell: over IPMI LAN ("lan",
 * lanplus with the password in a file, never on the command line or in a
 * log) or in-band ("open", the kernel's IPMI driver). ipmitool rather than
 * linking libfreeipmi: the RMCP+ session, its crypto and the BMCs' quirks
 * stay in a separate process that the agent can kill at its deadline, and
 * what the agent parses is a few bounded lines of text.
 *
 * What it reads: the BMC's identity (mc guid, mc info: GUID, manufacturer,
 * product, firmware), chassis status (power, intrusion flag), power-on hours
 * (chassis poh, or a sensor in hours), the SDR sensors (inlet and CPU
 * temperatures in °C, power draw in W, a physical-security sensor's
 * "intrusion" state), the FRU's product asset tag and the newest intrusion
 * the System Event Log recorded (sel info, sel list: a lid opened and
 * closed between two reports is gone from the sensor, not from the log;
 * "sel_intrusion", report version 2), and whether that log overflowed
 * (sel info's Overflow flag: a full log records no new intrusion;
 * "sel_overflow", version 3). A reading that is
 * absent is null; a BMC that does not answer gives "bmc": null. Each child
 * has a deadline, cut to the one its caller gives (run: half of what is
 * left of the nonce's lifetime, so that a dead BMC never outlasts the
 * nonce), and at most BMC_OUT_MAX bytes of output. The values are
 * sent as read: range checks are lisecd's (attest/telemetry.c), so a sensor
 * reading 255 °C is refused there with its requirement, not hidden here. */
#include "bmc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

extern char **environ;

#define BMC_OUT_MAX (64u << 10)
#define BMC_ARGS_MAX 32

int agent_bmc_enabled(const agent_bmc_conf *conf) {
  return conf && conf->interface && strcmp(conf->interface, "none") != 0;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The commands, run in one IPMI session (ipmitool's exec mode reads them
 * from its standard input): a session costs more than all of them. Their
 * outputs are told apart by their labels ("System GUID", "Chassis
 * Intrusion", ...) and the SDR lines by their five '|' columns. */
static const char BMC_COMMANDS[] = "mc info\nmc guid\nchassis status\nchassis poh\nsdr elist\nfru print 0\n";
/* The event log, in a session of its own with its own deadline: ipmitool
 * reads every record even to print the newest [bmc] sel_records (one
 * request each), so a long log on a slow BMC may outlast it, and that must
 * cost the log's answer (sel_intrusion null), not the whole report. The
 * newest sel_records are where an intrusion that came and went between two
 * reports is looked for; a longer log without one among them is not called
 * clean. Printing more records costs no more requests, only output: at
 * about 100 bytes a record, AGENT_BMC_SEL_RECORDS_MAX fit in BMC_OUT_MAX
 * (an output that does not fit is killed: the log's answer is null). */
#define SEL_COMMANDS_FMT "sel info\nsel list last %lld\n"

/* Writes the commands to a tool that may already be gone (an ipmitool that
 * cannot open its interface exits without reading them): its pipe then has
 * no reader, and the write fails with EPIPE instead of ending the agent by
 * SIGPIPE. SIGPIPE is blocked around the write and one it raised is taken
 * back before the mask is restored; one pending before is left pending. */
static bool write_commands(int fd, const char *commands, size_t len) {
  sigset_t pipe_only, old, pending;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  ssize_t w = write(fd, commands, len);
  sigpending(&pending);
  if (!was_pending && sigismember(&pending, SIGPIPE)) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return w == (ssize_t)len;
}

/* Runs ipmitool with the interface's options and then words (NULL-ended),
 * commands (BMC_COMMANDS or the event log's) on its standard input: 0 with
 * its stdout (NUL-terminated, malloc'd) unless it was killed at the
 * deadline (its own, or cap_ms, a monotonic time, when that is sooner;
 * 0: none). Its exit status is not
 * looked at: it reports the last command's, and a BMC without a command
 * (chassis poh) is normal; what was read is what counts. */
static int run_tool(const agent_bmc_conf *c, const char *const *words, const char *commands, int64_t cap_ms,
                    char **out) {
  const char *argv[BMC_ARGS_MAX];
  char port[16], cipher[16], tmo[16];
  size_t n = 0;
  *out = NULL;
  if (cap_ms && cap_ms <= mono_ms()) return -1; /* no time left to ask */
  argv[n++] = c->ipmitool;
  snprintf(tmo, sizeof tmo, "%lld", (long long)c->timeout_s);
  if (strcmp(c->interface, "lan") == 0) {
    snprintf(port, sizeof port, "%lld", (long long)c->port);
    snprintf(cipher, sizeof cipher, "%lld", (long long)c->cipher);
    const char *lan[] = {"-I", "lanplus", "-H", c->host, "-p", port, "-U", c->user,
                         "-f", c->password_file, "-C", cipher, "-N", tmo, "-R", "1"};
    for (size_t i = 0; i < sizeof lan / sizeof *lan; i++) argv[n++] = lan[i];
  } else {
    argv[n++] = "-I";
    argv[n++] = "open";
  }
  for (size_t i = 0; words[i] && n < BMC_ARGS_MAX - 1; i++) argv[n++] = words[i];
  argv[n] = NULL;

  int fds[2], in[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  if (pipe2(in, O_CLOEXEC) != 0) {
    close(fds[0]), close(fds[1]);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  /* The agent's environment with TZ=UTC: ipmitool prints SEL times in
   * the local zone, and the same record must read the same after a
   * daylight saving change (sel_intrusion is compared as text). */
  size_t ne = 0;
  while (environ[ne]) ne++;
  char **env = calloc(ne + 2, sizeof *env);
  if (!env) {
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]), close(fds[1]), close(in[0]), close(in[1]);
    return -1;
  }
  static char tz_utc[] = "TZ=UTC";
  size_t k = 0;
  env[k++] = tz_utc;
  for (size_t i = 0; i < ne; i++)
    if (strncmp(environ[i], "TZ=", 3) != 0) env[k++] = environ[i];
  env[k] = NULL;
  pid_t pid;
  int rc = posix_spawnp(&pid, c->ipmitool, &fa, NULL, (char *const *)argv, env);
  free(env);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  close(in[0]);
  /* The commands fit in the pipe's buffer: written at once, then EOF. */
  if (rc == 0 && !write_commands(in[1], commands, strlen(commands))) {
    kill(pid, SIGKILL);
  }
  close(in[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }
  char *buf = malloc(BMC_OUT_MAX + 1);
  size_t len = 0;
  /* lanplus retries once after timeout_s: three times that bounds the
   * session (a BMC that answers runs every command in well under one). */
  int64_t deadline = mono_ms() + 3 * c->timeout_s * 1000 + 1000;
  if (cap_ms && cap_ms < deadline) deadline = cap_ms;
  bool killed = false;
  for (;;) {
    int64_t left = deadline - mono_ms();
    if (left <= 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    int pr = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    ssize_t r = buf && len < BMC_OUT_MAX ? read(fds[0], buf + len, BMC_OUT_MAX - len) : -1;
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break; /* EOF, or more than BMC_OUT_MAX bytes */
    len += (size_t)r;
  }
  close(fds[0]);
  int st = 0;
  if (!killed && len >= BMC_OUT_MAX) kill(pid, SIGKILL), killed = true;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!buf || killed || !WIFEXITED(st)) {
    free(buf);
    return -1;
  }
  buf[len] = '\0';
  *out = buf;
  return 0;
}


static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
  return s;
}

/* The value of "Label    : value" in text, into out (cap bytes); false when
 * there is no such line. */
static bool field(const char *text, const char *label, char *out, size_t cap) {
  size_t ll = strlen(label);
  for (const char *line = text; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    const char *p = line;
    while (p < line + n && (*p == ' ' || *p == '\t')) p++;
    if ((size_t)(line + n - p) > ll && strncmp(p, label, ll) == 0) {
      const char *q = p + ll;
      while (q < line + n && (*q == ' ' || *q == '\t')) q++;
      if (q < line + n && *q == ':') {
        char tmp[256];
        size_t vn = (size_t)(line + n - q - 1);
        if (vn >= sizeof tmp) vn = sizeof tmp - 1;
        memcpy(tmp, q + 1, vn);
        tmp[vn] = '\0';
        snprintf(out, cap, "%s", trim(tmp));
        return true;
      }
    }
    line = end ? end + 1 : NULL;
  }
  return false;
}

static bool contains_ci(const char *s, const char *what) { return strcasestr(s, what) != NULL; }

/* What the agent puts in the report. */
typedef struct reading {
  bool has;
  int64_t v;
} reading;

static void keep_max(reading *r, double v) {
  int64_t i = (int64_t)llround(v);
  if (!r->has || i > r->v) r->has = true, r->v = i;
}

/* One `sdr elist` line: "Name | 01h | ok | 23.1 | 42 degrees C". An
 * intrusion sensor (its name says so, "Intrusion", "Chassis Intru", or its
 * state names an intrusion) with a reading sets *intrusion_read: only then
 * does a quiet one say anything about the chassis. */
static int sdr_line(const agent_bmc_conf *c, char *line, reading *inlet, reading *cpu, reading *power,
                    reading *poh, bool *intrusion, bool *intrusion_read) {
  char *cols[6];
  int n = 0;
  if (!strchr(line, '|')) return 0;
  /* strtok_r would merge empty columns ("| |"): split by hand. */
  for (char *p = line; p && n < 6;) {
    char *bar = strchr(p, '|');
    if (bar) *bar = '\0';
    cols[n++] = trim(p);
    p = bar ? bar + 1 : NULL;
  }
  if (n != 5) return 0;
  const char *name = cols[0], *status = cols[2], *val = cols[4];
  if (strcmp(status, "ns") == 0) return 1; /* no reading */
  /* a physical-security sensor's asserted state */
  if (contains_ci(val, "intrusion")) *intrusion = true;
  if (contains_ci(val, "intrusion") || contains_ci(name, "intru")) *intrusion_read = true;
  char *end = NULL;
  errno = 0;
  double d = strtod(val, &end);
  if (end == val || errno || !isfinite(d)) return 1;
  while (*end == ' ') end++;
  bool named;
  if (strcmp(end, "degrees C") == 0) {
    named = *c->inlet_sensor ? strcmp(name, c->inlet_sensor) == 0
                             : contains_ci(name, "inlet") || contains_ci(name, "ambient");
    if (named && !inlet->has) inlet->has = true, inlet->v = (int64_t)llround(d);
    named = *c->cpu_sensor ? strcmp(name, c->cpu_sensor) == 0 : contains_ci(name, "cpu");
    if (named) keep_max(cpu, d);
  } else if (strcmp(end, "Watts") == 0) {
    named = *c->power_sensor ? strcmp(name, c->power_sensor) == 0 : true;
    if (named && !power->has) power->has = true, power->v = (int64_t)llround(d);
  } else if (strcmp(end, "hour") == 0 || strcmp(end, "hours") == 0) {
    named = *c->poh_sensor ? strcmp(name, c->poh_sensor) == 0 : true;
    if (named && !poh->has) poh->has = true, poh->v = (int64_t)llround(d);
  }
  return 1;
}

/* One `sel list` line: "   7 | 12/07/2026 | 03:30:00 | Physical Security #0x05 |
 * General Chassis intrusion | Asserted". Counts it in *seen, and keeps in
 * newest (cap bytes) "<id> <date> <time>" of an intrusion's assertion: the
 * log lists oldest first, so the last one kept is the newest. SDR lines
 * ("Name | 01h | ...") are not SEL records. */
static void sel_line(const char *line, char *newest, size_t cap, int64_t *seen) {
  char buf[512], *cols[7];
  int n = 0;
  snprintf(buf, sizeof buf, "%s", line);
  for (char *p = buf; p && n < 7;) {
    char *bar = strchr(p, '|');
    if (bar) *bar = '\0';
    cols[n++] = trim(p);
    p = bar ? bar + 1 : NULL;
  }
  if (n < 4 || !cols[0][0] || strlen(cols[0]) > 4 || strspn(cols[0], "0123456789abcdefABCDEF") != strlen(cols[0]))
    return;
  size_t l1 = strlen(cols[1]);
  if (l1 && cols[1][l1 - 1] == 'h') return; /* an SDR line: "Name | 01h | ok | ..." */
  (*seen)++;
  if (n != 6 || !contains_ci(cols[3], "physical security") || !contains_ci(cols[4], "intrusion") ||
      strcmp(cols[5], "Asserted") != 0)
    return;
  snprintf(newest, cap, "%s %s %s", cols[0], cols[1], cols[2]);
  for (char *p = newest; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) *p = '?';
}

/* sel info's "Overflow : true|false" (Get SEL Info, Operation Support
 * bit 7): false when it is neither. */
static bool overflow_flag(const char *v, bool *out) {
  if (strcmp(v, "true") == 0) return *out = true, true;
  if (strcmp(v, "false") == 0) return *out = false, true;
  return false;
}

/* What the event log says of intrusions (sel info, sel list last N): its
 * length and Overflow flag, then its newest records. Into *sel the newest
 * intrusion assertion among them; "none" when the log was read whole
 * without one; null when it did not answer in time, or is longer than the
 * records read and none of them is one. Into *overflow the flag, null when
 * it was not read. */
static void sel_read(const agent_bmc_conf *c, const char *const *words, int64_t cap_ms, json_t **sel_out,
                     json_t **overflow) {
  char *text = NULL, v[64], sel[65] = ""; /* lisecd's bound: 64 bytes */
  char commands[64];
  int64_t entries = -1, seen = 0;
  bool full = false;
  *sel_out = json_null();
  *overflow = json_null();
  snprintf(commands, sizeof commands, SEL_COMMANDS_FMT, (long long)c->sel_records);
  if (run_tool(c, words, commands, cap_ms, &text) != 0) return;
  if (field(text, "Overflow", v, sizeof v) && overflow_flag(v, &full)) *overflow = json_boolean(full);
  if (field(text, "Entries", v, sizeof v)) {
    char *end = NULL;
    long long e = strtoll(v, &end, 10);
    if (end != v && e >= 0 && e <= 0xffff) entries = e;
  }
  if (entries >= 0)
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
      sel_line(line, sel, sizeof sel, &seen);
  free(text);
  if (sel[0]) *sel_out = json_string(sel);
  else if (entries == 0 || (entries > 0 && seen >= entries)) *sel_out = json_string("none");
}

/* "52 days, 7 hours" (ipmitool chassis poh) in hours. The BMC chooses the
 * numbers (sscanf saturates at LLONG_MAX): a sum that would overflow is no
 * reading. */
static bool poh_hours(const char *s, int64_t *out) {
  long long days = 0, hours = 0;
  if (sscanf(s, "%lld days, %lld hours", &days, &hours) == 2 && days >= 0 && hours >= 0 &&
      days < 10000000 && hours <= LLONG_MAX - days * 24) {
    *out = days * 24 + hours;
    return true;
  }
  return false;
}

static void set_opt_int(json_t *o, const char *k, const reading *r) {
  json_object_set_new(o, k, r->has ? json_integer(r->v) : json_null());
}

int agent_bmc_report(const agent_bmc_conf *c, const char *host, int64_t cap_ms, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  char *text = NULL;
  json_t *doc = json_pack("{s:i, s:s, s:I}", "version", 3, "host", host, "read_at", (json_int_t)lisec_time_now());
  if (!doc) return agent_fail("out of memory");
  char v[256], mfr[64] = "", prod[64] = "", fw[64] = "";
  static const char *const words[] = {"exec", "/dev/stdin", NULL};
  bool answered = run_tool(c, words, BMC_COMMANDS, cap_ms, &text) == 0 &&
                  field(text, "Manufacturer ID", mfr, sizeof mfr) && field(text, "Product ID", prod, sizeof prod);
  if (!answered) {
    /* No BMC: the report says so; lisecd's policy decides. */
    static const char *const keys[] = {"bmc",   "intrusion", "power",     "poh_h",         "power_w",
                                       "inlet_c", "cpu_c",   "asset_tag", "sel_intrusion", "sel_overflow"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) json_object_set_new(doc, keys[i], json_null());
    if (cap_ms && mono_ms() >= cap_ms)
      fprintf(stderr, "lisec-agent: the BMC did not answer (%s interface) within half of the nonce's "
                      "remaining lifetime\n", c->interface);
    else
      fprintf(stderr, "lisec-agent: the BMC did not answer (%s interface)\n", c->interface);
  } else {
    /* The identity: a BMC without Get System GUID is named by the rest. */
    if (!field(text, "System GUID", v, sizeof v) || !v[0]) snprintf(v, sizeof v, "none");
    field(text, "Firmware Revision", fw, sizeof fw);
    json_object_set_new(doc, "bmc",
                        json_pack("{s:s, s:I, s:I, s:s?}", "guid", v, "manufacturer",
                                  (json_int_t)strtoll(mfr, NULL, 10), "product", (json_int_t)strtoll(prod, NULL, 10),
                                  "firmware", fw[0] ? fw : NULL));
    bool intrusion = false, have_intrusion = false;
    json_t *power = json_null();
    if (field(text, "System Power", v, sizeof v)) power = json_string(strcmp(v, "on") == 0 ? "on" : "off");
    if (field(text, "Chassis Intrusion", v, sizeof v)) have_intrusion = true, intrusion = strcmp(v, "active") == 0;
    json_object_set_new(doc, "power", power);
    reading inlet = {0}, cpu = {0}, pw = {0}, hours = {0};
    int64_t h = 0;
    bool poh = field(text, "POH Counter", v, sizeof v) && poh_hours(v, &h);
    bool tag = field(text, "Product Asset Tag", v, sizeof v) && v[0];
    json_object_set_new(doc, "asset_tag", tag ? json_string(v) : json_null());
    /* The chassis is quiet only by a source that could have said it was
     * not: chassis status's flag or an intrusion sensor. Temperatures or
     * fans alone leave the state unknown (null: lisecd's finding). */
    bool sensor_read = false;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
      (void)sdr_line(c, line, &inlet, &cpu, &pw, &hours, &intrusion, &sensor_read);
    json_t *sel = NULL, *overflow = NULL;
    sel_read(c, words, cap_ms, &sel, &overflow);
    json_object_set_new(doc, "sel_intrusion", sel);
    json_object_set_new(doc, "sel_overflow", overflow);
    if (poh) hours.has = true, hours.v = h;
    json_object_set_new(doc, "intrusion", have_intrusion || sensor_read ? json_boolean(intrusion) : json_null());
    set_opt_int(doc, "poh_h", &hours);
    set_opt_int(doc, "power_w", &pw);
    set_opt_int(doc, "inlet_c", &inlet);
    set_opt_int(doc, "cpu_c", &cpu);
  }
  free(text);
  char *s = lisec_json_dump_canonical(doc);
  json_decref(doc);
  if (!s) return agent_fail("out of memory");
  *out = s;
  *len = strlen(s);
  return 0;
}

int agent_cmd_chassis(const agent_bmc_conf *conf, const char *host) {
  if (!agent_bmc_enabled(conf)) return agent_fail("[bmc] interface is \"none\": no BMC to read");
  char *s = NULL;
  size_t len = 0;
  if (agent_bmc_report(conf, host, 0, &s, &len)) return 2;
  puts(s);
  free(s);
  return 0;
}
