/* What lisecd asks chronyd about its clock, and what it makes of the answer:
 * the few messages of chrony's command protocol (version 6, the one chronyc
 * speaks over chronyd's Unix command socket) that lisecd needs — tracking
 * (is the clock synchronised, to which source, with what offset and root
 * dispersion) and authdata (is that source authenticated with NTS) — built
 * and read as bytes, and the judgement of a reading against lisecd's
 * bounds. Pure: no sockets, no clock of its own (the caller passes "now"),
 * so a unit test and a fuzz harness drive it with bytes. The socket
 * exchange is ctl/clock.c's; docs/time.md says why this path and not
 * running chronyc. */
#ifndef LISEC_BASE_CHRONY_H
#define LISEC_BASE_CHRONY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define LISEC_CHRONY_REQ_MAX 128   /* the longest request lisecd sends */
#define LISEC_CHRONY_REPLY_MAX 512 /* a longer reply is refused as oversized */

enum {
  LISEC_CHRONY_TRACKING = 33,  /* request codes (chrony's candm protocol) */
  LISEC_CHRONY_AUTH_DATA = 67,
};

/* A source's address as chrony names it: family 1 IPv4, 2 IPv6, 3 an id
 * for a source with no address yet (a name not resolved), 0 none. */
typedef struct lisec_chrony_addr {
  unsigned family;
  uint8_t addr[16]; /* network order; IPv4 in the first 4 */
} lisec_chrony_addr;

/* chronyc's "tracking". */
typedef struct lisec_chrony_tracking {
  uint32_t ref_id;
  lisec_chrony_addr addr; /* the selected source */
  unsigned stratum;
  unsigned leap;            /* 0 normal, 1 insert, 2 delete, 3 not synchronised */
  int64_t ref_time_ms;      /* when the clock was last updated (ms since the epoch) */
  double offset_s;          /* the system clock minus true time, being corrected */
  double last_offset_s, rms_offset_s, freq_ppm, resid_freq_ppm, skew_ppm;
  double root_delay_s, root_dispersion_s, update_interval_s;
} lisec_chrony_tracking;

/* chronyc's "authdata" for one source. */
typedef struct lisec_chrony_auth {
  unsigned mode; /* 0 none, 1 symmetric key, 2 NTS */
  unsigned key_type, key_length, ke_attempts, cookies, cookie_length, nak;
  uint32_t key_id, last_ke_ago;
} lisec_chrony_auth;

/* A request of command cmd with sequence number seq into out; addr is the
 * source an AUTH_DATA request asks about (NULL otherwise). Returns the
 * length to send (requests are padded to their reply's length, as chronyd
 * asks), 0 for a command this module does not know. */
size_t lisec_chrony_request(uint8_t out[LISEC_CHRONY_REQ_MAX], unsigned cmd, uint32_t seq,
                            const lisec_chrony_addr *addr);

/* Reads a reply to the request (cmd, seq). EINVAL, naming what is wrong,
 * for a reply that is truncated, oversized, of another protocol version,
 * type, command or sequence, or has a field out of range; EDENIED for a
 * reply whose status is a refusal (chronyd's "not authorised", "no such
 * source", ...). */
int lisec_chrony_parse_tracking(const uint8_t *p, size_t n, uint32_t seq,
                                lisec_chrony_tracking *out, lisec_err *err);
int lisec_chrony_parse_auth(const uint8_t *p, size_t n, uint32_t seq, lisec_chrony_auth *out,
                            lisec_err *err);

/* chrony's 32-bit float: a 7-bit signed exponent and a 25-bit signed
 * coefficient, value = coef * 2^(exp - 25). */
double lisec_chrony_float(uint32_t wire);

/* "127.0.0.1", "2001:db8::1", "ID#0000000a" or "none"; out has 48 bytes. */
void lisec_chrony_addr_text(const lisec_chrony_addr *a, char out[48]);

/* lisecd's bounds on the clock ([time] in lisecd.conf). */
typedef struct lisec_clock_bounds {
  int64_t max_offset_ms;          /* |offset| must stay under this */
  int64_t max_root_dispersion_ms; /* root dispersion, grown since the last update */
  bool require_nts;               /* the selected source must be authenticated with NTS */
} lisec_clock_bounds;

/* Judges one reading taken at now_ms: true when the clock is proven, else
 * false with why saying which condition failed and with which values
 * (never a secret; "chrony: not synchronised (leap status 3)", "|offset|
 * 1999.998 ms exceeds [time] max_offset_ms = 100", ...). auth may be NULL
 * when no authdata could be read: then require_nts fails. The root
 * dispersion is grown by 15 ppm (NTP's PHI) times the age of the last
 * update, so a chronyd that stopped hearing its source ages out. */
bool lisec_clock_judge(const lisec_chrony_tracking *t, const lisec_chrony_auth *auth,
                       const lisec_clock_bounds *b, int64_t now_ms, char *why, size_t why_len);

#endif
