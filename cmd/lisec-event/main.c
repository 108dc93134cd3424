/* lisec-event: an LI VM's command to have an event recorded by lisecd
 * (issue 20 item 3), through liblisec-events (include/lisec/events.h):
 * keygen makes the VM's key pair (with --tpm in the VM's TPM, through the
 * tpm2-tss TCTI --tcti, default device:/dev/tpmrm0, and prints its public
 * key), sign prints one signed event, send signs
 * the VM's next event (its sequence number from the state file) and posts
 * it over mutual TLS; make prints one unsigned event and sign-batch signs
 * the events it reads (one per line) as one signed batch, printing the
 * request body (docs/events.md "A signed batch"). With --spool FILE, send
 * first writes the event to the VM's spool (durably, before anything is
 * sent) and then sends whatever the spool holds, oldest first; flush sends
 * the spool alone (docs/events.md "The spool"). Exit 0 on success, 1 when
 * lisecd refused, 2 on any other error (with --spool: the event not
 * queued), 3 when the event is queued in the spool but not delivered yet;
 * send --spool exits 1 when lisecd refused its event for good (set aside
 * in FILE.rejected). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lisec/events.h"

#define DETAILS_MAX 8
#define EXIT_SPOOLED 3

static int usage(FILE *to, int rc) {
  fprintf(to,
          "usage: lisec-event keygen --key KEY --pub PUB [--tpm [--tcti SPEC]]\n"
          "       lisec-event sign --key KEY --vm ID --type T --seq N [--time S] [--detail k=v]...\n"
          "       lisec-event send --key KEY --vm ID --type T --state FILE --server URL --ca CA\n"
          "                        --cert CERT --tls-key KEY [--seq N] [--time S] [--detail k=v]...\n"
          "  types: activation deactivation target-change delivery error start stop;\n"
          "  --state keeps the VM's last sequence number (send takes the next; --seq\n"
          "  overrides it); the TLS certificate carries role vm; --tpm: KEY is a key in\n"
          "  the VM's TPM (keygen --tpm), reached through the tpm2-tss TCTI SPEC\n"
          "  (default device:/dev/tpmrm0; swtpm:host=H,port=P for a software TPM)\n"
          "       lisec-event send ... --spool FILE [--spool-max-events N] [--spool-max-bytes B] [--batch N]\n"
          "       lisec-event flush --spool FILE [--state FILE] --key KEY --server URL --ca CA --cert CERT --tls-key KEY\n"
          "                         [--tpm [--tcti SPEC]] [--spool-max-events N] [--spool-max-bytes B] [--batch N]\n"
          "  --spool: the event is written to FILE (durably) before it is sent, and send\n"
          "  sends what FILE holds, oldest first, as signed batches of at most N (1-16,\n"
          "  default 16); exit 3: queued there, lisecd not reached or not taking it yet\n"
          "  (flush sends it later); 2: not queued (a full spool: its seq is a gap);\n"
          "  1: lisecd refused it for good (set aside in FILE.rejected)\n"
          "       lisec-event make --vm ID --type T --seq N [--time S] [--detail k=v]...\n"
          "       lisec-event sign-batch --key KEY [--tpm [--tcti SPEC]] <EVENTS   (1-16 made events, one a line)\n"
          "lisec-event --help | --version\n");
  return rc;
}

/* Reads up to 16 events, one a line, from stdin, and prints them as one
 * signed batch. */
static int sign_batch(const char *key_path, bool tpm, const char *tcti) {
  char *lines[16] = {0}, *body = NULL, err[LISEC_EVENT_ERR_MAX] = "";
  size_t n = 0, cap = 0;
  ssize_t len;
  char *line = NULL;
  int rc = 2;
  lisec_event_key *k = NULL;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (len == 0) continue;
    if (n == 16) {
      snprintf(err, sizeof err, "a signed batch has at most 16 events");
      goto out;
    }
    if (!(lines[n++] = strdup(line))) goto out;
  }
  if (n == 0) snprintf(err, sizeof err, "no events on stdin (lisec-event make prints one)");
  else if (!(tpm ? lisec_event_key_load_tpm(tcti, key_path, &k, err) : lisec_event_key_load(key_path, &k, err)) &&
           !lisec_event_sign_batch(k, (const char *const *)lines, n, &body, err)) {
    printf("%s\n", body);
    rc = 0;
  }
out:
  if (rc) fprintf(stderr, "lisec-event: %s\n", err);
  for (size_t i = 0; i < n; i++) free(lines[i]);
  free(line);
  free(body);
  lisec_event_key_free(k);
  return rc;
}

/* What send's flush is told of its own event: lisecd refused it for good
 * (set aside in FILE.rejected as a replay, a reused seq, or one it will
 * never take), from the spool's report ("...: seq A to B refused by lisecd
 * ..." or "...: seq S refused by lisecd ..."), so send never says recorded
 * of an event lisecd did not take. */
typedef struct spool_watch {
  unsigned long long seq; /* send's event; 0: none (flush) */
  bool refused;
} spool_watch;

static void spool_report(void *ctx, const char *msg) {
  spool_watch *w = ctx;
  const char *by = strstr(msg, " refused by lisecd "), *at = NULL;
  for (const char *p = msg; by && (p = strstr(p, ": seq ")) && p < by; p++) at = p;
  unsigned long long lo = 0, hi = 0;
  int n = at ? sscanf(at, ": seq %llu to %llu", &lo, &hi) : 0;
  if (n == 1) hi = lo;
  if (n >= 1 && w->seq && lo <= w->seq && w->seq <= hi) w->refused = true;
  /* "... seq A to B made again at seq C to D, in the same order ...": the
   * counter went back and send's event, the last noted, is D now */
  const char *again = strstr(msg, " made again at seq ");
  for (const char *p = msg; again && (p = strstr(p, ", seq ")) && p < again; p++) at = p;
  unsigned long long d = 0;
  if (again && at && sscanf(at, ", seq %llu to %llu", &lo, &hi) == 2 &&
      sscanf(again, " made again at seq %*u to %llu", &d) == 1 && w->seq >= lo && w->seq <= hi)
    w->seq = w->seq == hi ? d : 0; /* another process's events after it: its new seq is unknown here */
  fprintf(stderr, "lisec-event: spool: %s\n", msg);
}

typedef struct spool_args {
  const char *path;
  size_t max_events, max_bytes, batch;
  const char *state; /* the VM's state file: send notes its next event with it; both renumber
                        events made after the VM's counter went back (flush: NULL without --state) */
  bool flush_only;
} spool_args;

/* send --spool (the VM's next event queued durably, then the spool sent)
 * and flush (the spool sent). */
static int spool_send(const spool_args *a, const char *key, bool tpm, const char *tcti, const char *server,
                      const char *ca, const char *cert, const char *tls_key, const char *vm, long long at,
                      const char *type, const char *const *details) {
  char err[LISEC_EVENT_ERR_MAX] = "";
  lisec_event_spool *sp = NULL;
  lisec_event_key *k = NULL;
  lisec_event_client *c = NULL;
  unsigned long long seq = 0;
  size_t sent = 0, left = 0;
  long status = 0;
  int rc = 2;
  spool_watch watch = {0};
  /* the key and the client first: a VM that cannot sign takes no seq */
  if (lisec_event_spool_open(a->path, a->max_events, a->max_bytes, spool_report, &watch, &sp, err) ||
      (tpm ? lisec_event_key_load_tpm(tcti, key, &k, err) : lisec_event_key_load(key, &k, err)) ||
      lisec_event_client_new(server, ca, cert, tls_key, &c, err))
    goto out;
  if (!a->flush_only && lisec_event_spool_note(sp, a->state, vm, at, type, details, &seq, err)) goto out;
  if (!a->flush_only) printf("spooled: seq %llu\n", seq);
  fflush(stdout);
  watch.seq = seq;
  if (lisec_event_spool_flush_state(sp, a->state, k, c, a->batch, &sent, &status, err) == 0) {
    if (watch.refused) {
      snprintf(err, sizeof err, "seq %llu is not recorded: lisecd refused it for good (above)", seq);
      rc = 1;
      goto out;
    }
    if (!a->flush_only && watch.seq) printf("recorded: seq %llu\n", watch.seq);
    else if (!a->flush_only) printf("recorded: made again at a new seq (above)\n");
    else printf("flushed: %zu event(s) taken by lisecd, the spool is empty\n", sent);
    rc = 0;
  } else {
    char why[LISEC_EVENT_ERR_MAX];
    snprintf(why, sizeof why, "%s", err);
    if (lisec_event_spool_count(sp, &left, NULL, err)) left = 0;
    snprintf(err, sizeof err, "%zu event(s) kept in the spool, not delivered yet: %.200s", left, why);
    rc = EXIT_SPOOLED;
  }
out:
  if (rc) fprintf(stderr, "lisec-event: %s\n", err);
  lisec_event_client_free(c);
  lisec_event_key_free(k);
  lisec_event_spool_free(sp);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage(stderr, 2);
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help")) return usage(stdout, 0);
  if (!strcmp(cmd, "--version")) return printf("lisec-event %s\n", LISEC_VERSION), 0;
  const char *key = NULL, *pub = NULL, *vm = NULL, *type = NULL, *state = NULL, *server = NULL, *ca = NULL,
             *cert = NULL, *tls_key = NULL, *tcti = NULL, *spool = NULL, *details[DETAILS_MAX + 2] = {0};
  size_t spool_events = 0, spool_bytes = 0, batch = 16;
  bool tpm = false;
  unsigned long long seq = 0;
  long long at = 0;
  size_t nd = 0;
  static const struct option opts[] = {
      {"key", 1, NULL, 'k'},    {"pub", 1, NULL, 'p'},  {"vm", 1, NULL, 'v'},     {"type", 1, NULL, 't'},
      {"state", 1, NULL, 's'},  {"server", 1, NULL, 'S'}, {"ca", 1, NULL, 'a'},   {"cert", 1, NULL, 'c'},
      {"tls-key", 1, NULL, 'K'}, {"seq", 1, NULL, 'n'}, {"time", 1, NULL, 'T'},   {"detail", 1, NULL, 'd'},
      {"tpm", 0, NULL, 'P'},    {"tcti", 1, NULL, 'I'}, {"spool", 1, NULL, 'Q'},
      {"spool-max-events", 1, NULL, 'E'}, {"spool-max-bytes", 1, NULL, 'B'}, {"batch", 1, NULL, 'b'}, {0}};
  int o;
  optind = 2;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    char *end = NULL;
    switch (o) {
      case 'k': key = optarg; break;
      case 'p': pub = optarg; break;
      case 'v': vm = optarg; break;
      case 't': type = optarg; break;
      case 's': state = optarg; break;
      case 'S': server = optarg; break;
      case 'a': ca = optarg; break;
      case 'c': cert = optarg; break;
      case 'K': tls_key = optarg; break;
      case 'P': tpm = true; break;
      case 'I': tcti = optarg; break;
      case 'n':
        seq = strtoull(optarg, &end, 10);
        if (!*optarg || *end || seq == 0) return fprintf(stderr, "lisec-event: --seq: a number from 1\n"), 2;
        break;
      case 'T':
        at = strtoll(optarg, &end, 10);
        if (!*optarg || *end || at < 0) return fprintf(stderr, "lisec-event: --time: seconds since the epoch\n"), 2;
        break;
      case 'Q': spool = optarg; break;
      case 'E':
      case 'B':
      case 'b': {
        unsigned long long v = strtoull(optarg, &end, 10);
        const char *name = o == 'b' ? "batch" : o == 'E' ? "spool-max-events" : "spool-max-bytes";
        if (!*optarg || *end || v == 0 || (o == 'b' && v > 16))
          return fprintf(stderr, "lisec-event: --%s: a number from 1%s\n", name, o == 'b' ? " to 16" : ""), 2;
        *(o == 'b' ? &batch : o == 'E' ? &spool_events : &spool_bytes) = (size_t)v;
        break;
      }
      case 'd':
        if (nd >= DETAILS_MAX) return fprintf(stderr, "lisec-event: at most %d details\n", DETAILS_MAX), 2;
        details[nd++] = optarg;
        break;
      default: return usage(stderr, 2);
    }
  }
  if (optind != argc || (tcti && !tpm)) return usage(stderr, 2);
  /* tpm2-tss would print its own lines for a refusal this program reports
   * with its reason; TSS2_LOG set by the user wins */
  if (tpm) setenv("TSS2_LOG", "all+NONE", 0);
  char err[LISEC_EVENT_ERR_MAX] = "";
  if (!strcmp(cmd, "keygen")) {
    if (!key || !pub) return usage(stderr, 2);
    if (!tpm) {
      if (lisec_event_key_create(key, pub, err)) return fprintf(stderr, "lisec-event: %s\n", err), 2;
      return 0;
    }
    if (lisec_event_key_create_tpm(tcti, key, pub, err)) return fprintf(stderr, "lisec-event: %s\n", err), 2;
    /* what MANO registers (POST /v1/li/vms "pubkey") */
    FILE *f = fopen(pub, "r");
    char line[128];
    if (!f) return fprintf(stderr, "lisec-event: %s: %s\n", pub, strerror(errno)), 2;
    while (fgets(line, sizeof line, f)) fputs(line, stdout);
    fclose(f);
    return 0;
  }
  if (!strcmp(cmd, "make")) {
    char *ev = NULL;
    if (!vm || !type || !seq) return usage(stderr, 2);
    if (lisec_event_make(vm, seq, at, type, details, &ev, err)) return fprintf(stderr, "lisec-event: %s\n", err), 2;
    printf("%s\n", ev);
    free(ev);
    return 0;
  }
  if (!strcmp(cmd, "sign-batch")) return key ? sign_batch(key, tpm, tcti) : usage(stderr, 2);
  if (!strcmp(cmd, "flush") || (!strcmp(cmd, "send") && spool)) {
    bool flush_only = !strcmp(cmd, "flush");
    if (!spool || !key || !server || !ca || !cert || !tls_key || (!flush_only && (!vm || !type || !state || seq)))
      return usage(stderr, 2);
    spool_args a = {spool, spool_events, spool_bytes, batch, state, flush_only};
    return spool_send(&a, key, tpm, tcti, server, ca, cert, tls_key, vm, at, type, details);
  }
  if (spool) return usage(stderr, 2);
  bool send = !strcmp(cmd, "send");
  if ((!send && strcmp(cmd, "sign")) || !key || !vm || !type || (!send && !seq) ||
      (send && (!server || !ca || !cert || !tls_key || (!state && !seq))))
    return usage(stderr, 2);
  lisec_event_key *k = NULL;
  lisec_event_client *c = NULL;
  char *ev = NULL;
  int rc = 2;
  long status = 0;
  if (tpm ? lisec_event_key_load_tpm(tcti, key, &k, err) : lisec_event_key_load(key, &k, err)) goto out;
  if (send && lisec_event_client_new(server, ca, cert, tls_key, &c, err)) goto out;
  /* the event checked before its seq is taken: a bad type or detail is
   * refused without leaving a gap at lisecd */
  if (lisec_event_make(vm, seq ? seq : 1, at, type, details, &ev, err)) goto out;
  free(ev);
  ev = NULL;
  if (!seq && lisec_event_seq_next(state, &seq, err)) goto out;
  if (lisec_event_sign(k, vm, seq, at, type, details, &ev, err)) goto out;
  if (!send) {
    printf("%s\n", ev);
    rc = 0;
  } else if (lisec_event_send(c, (const char *const *)&ev, 1, &status, err) == 0) {
    printf("recorded: seq %llu\n", seq);
    rc = 0;
  } else {
    rc = status >= 400 && status < 500 ? 1 : 2;
  }
out:
  if (rc) fprintf(stderr, "lisec-event: %s\n", err);
  free(ev);
  lisec_event_client_free(c);
  lisec_event_key_free(k);
  return rc;
}
