/* rng/ is the pure part of lisec's randomness service (TR 103 308 §4.2 "a
 * source of true random numbers", §5.9-5.15, §6.1): the SP 800-90B
 * continuous health tests that every raw entropy source passes, the
 * SP 800-90C style conditioning that turns credited raw input into seeds,
 * the seed protocol spoken between lisec-entropyd and the VNFs (bounded
 * encoder and parser), the replay and rate-limit bookkeeping the daemon keeps
 * per client, and the DRBG known-answer self-test. Bytes and structs in,
 * verdicts out: no sockets, no files. The OS-facing parts (sources, clone
 * detection, the VNF library) live in the lib*.c files beside this one and in
 * cmd/lisec-entropyd/. */
#ifndef LISEC_RNG_H
#define LISEC_RNG_H

#include <openssl/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- SP 800-90B §4.4 continuous health tests --------------------------- */

/* alpha = 2^-RNG_HEALTH_ALPHA_LOG2 is the false-positive probability of each
 * test; 90B asks for 2^-20 .. 2^-40, the issue asks for 2^-30 or stricter. */
#define RNG_HEALTH_ALPHA_LOG2 30
#define RNG_APT_WINDOW_BINARY 1024
#define RNG_APT_WINDOW_NONBINARY 512

typedef enum { RNG_HEALTH_OK = 0, RNG_HEALTH_RCT_FAIL, RNG_HEALTH_APT_FAIL } rng_health_state;

/* The tests' state for one raw noise source. Samples are bits (binary
 * sources, one sample per byte holding 0 or 1) or bytes. A failure is
 * sticky: the source stays excluded until it is re-created. */
typedef struct rng_health {
  double h;          /* claimed min-entropy per sample, bits */
  unsigned alpha_log2;
  bool binary;
  uint32_t rct_cutoff, apt_cutoff, apt_window;
  /* repetition count test */
  uint8_t rct_last;
  uint32_t rct_count;
  bool rct_started;
  /* adaptive proportion test */
  uint8_t apt_first;
  uint32_t apt_count, apt_seen;
  rng_health_state state;
  uint64_t samples, rct_max_run, apt_max_count;
} rng_health;

/* RCT cutoff C = 1 + ceil(alpha_log2 / H) (SP 800-90B §4.4.1). */
uint32_t rng_rct_cutoff(double h, unsigned alpha_log2);
/* APT cutoff C = 1 + CRITBINOM(W, 2^-H, 1 - alpha) (SP 800-90B §4.4.2):
 * the smallest C with P(B >= C) <= alpha for B ~ Binomial(W, 2^-H). */
uint32_t rng_apt_cutoff(double h, unsigned alpha_log2, uint32_t window);

/* h must be in (0, 1] for binary sources and (0, 8] for byte sources;
 * alpha_log2 in [20, 40]. */
int rng_health_init(rng_health *t, double h, unsigned alpha_log2, bool binary, lisec_err *err);
/* Runs both tests over n samples. Returns 0, or LISEC_EDENIED (with the test
 * that failed named) once the source has failed. */
int rng_health_feed(rng_health *t, const uint8_t *samples, size_t n, lisec_err *err);
const char *rng_health_state_name(rng_health_state s);

/* ---- conditioning (SP 800-90C style, HMAC-SHA-256 / HKDF) --------------- */

/* An entropy pool: raw input from healthy sources is absorbed into an
 * HMAC-SHA-256 chain (the vetted conditioning function) with the credited
 * entropy counted; extraction is HKDF-Expand from the chain and refuses
 * (fails closed) unless the credit covers the output plus 64 bits
 * (SP 800-90C §3.1 full-entropy rule for vetted conditioning). */
typedef struct rng_pool {
  uint8_t key[32];   /* running chain value, secret */
  double credited;   /* bits credited since the last extraction */
  uint64_t absorbed, extracted;
  void *mac;         /* EVP_MAC_CTX*, open between absorb and extract */
} rng_pool;

int rng_pool_init(rng_pool *p, const void *pers, size_t pers_len, lisec_err *err);
/* Absorbs len bytes from source `label`, crediting credited_bits. */
int rng_pool_absorb(rng_pool *p, const char *label, const void *data, size_t len,
                    double credited_bits, lisec_err *err);
/* Writes out_len (16..64) bytes; LISEC_EUNAVAIL when the credit is short. */
int rng_pool_extract(rng_pool *p, const void *info, size_t info_len, uint8_t *out, size_t out_len,
                     lisec_err *err);
void rng_pool_free(rng_pool *p);

/* HKDF-SHA-256 (extract then expand) over one input: the hedge used by the
 * VNF library to mix its inputs. out_len <= 255*32. */
int rng_hkdf(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len, const void *info,
             size_t info_len, uint8_t *out, size_t out_len, lisec_err *err);

/* ---- the seed protocol (lisec-entropyd <-> liblisec-rng) ---------------- */

/* Every message is header || body. Header (8 bytes): "LSEE" | version (1) |
 * type (1) | body length (2, big endian). Integers are big endian. */
#define RNG_MSG_MAGIC "LSEE"
#define RNG_MSG_VERSION 1
#define RNG_MSG_HDR_LEN 8
#define RNG_MSG_BODY_MAX 512
#define RNG_NONCE_LEN 32
#define RNG_ID_LEN 16
#define RNG_SEED_MIN 16
#define RNG_SEED_MAX 256
#define RNG_REASON_MAX 200

typedef enum { RNG_MSG_REQUEST = 1, RNG_MSG_SEED = 2, RNG_MSG_ERROR = 3 } rng_msg_type;

/* Error codes carried in an ERROR message. */
typedef enum {
  RNG_ERR_MALFORMED = 1,
  RNG_ERR_UNKNOWN_CLIENT = 2,
  RNG_ERR_REPLAY = 3,
  RNG_ERR_RATE = 4,
  RNG_ERR_UNHEALTHY = 5,
  RNG_ERR_INTERNAL = 6,
} rng_err_code;

typedef struct rng_msg {
  rng_msg_type type;
  /* REQUEST: nonce, genid, bootid, instance, counter, want.  SEED: nonce, counter,
   * seed[seed_len].  ERROR: code, reason. */
  uint8_t nonce[RNG_NONCE_LEN];
  uint8_t genid[RNG_ID_LEN];  /* VM generation id (hash), zero when unknown */
  uint8_t bootid[RNG_ID_LEN];
  uint8_t instance[RNG_ID_LEN]; /* random per library instance (process), new after every event */
  uint64_t counter;           /* strictly increasing per (client, boot, generation, instance) */
  uint16_t want;              /* REQUEST: seed bytes wanted */
  uint16_t seed_len;
  uint8_t seed[RNG_SEED_MAX];
  uint16_t code;
  char reason[RNG_REASON_MAX + 1];
} rng_msg;

/* From the 8-byte header: the total message length (header + body), after
 * checking magic, version, type and the body bound. */
int rng_msg_frame_len(const uint8_t *hdr, size_t hdr_len, size_t *total, lisec_err *err);
/* Parses exactly one whole message of len bytes. Every length is checked
 * before it is read; trailing bytes are an error. */
int rng_msg_decode(const uint8_t *buf, size_t len, rng_msg *out, lisec_err *err);
/* Encodes m into out (cap bytes); *len gets the message length. */
int rng_msg_encode(const rng_msg *m, uint8_t *out, size_t cap, size_t *len, lisec_err *err);

/* ---- replay refusal (per client) ---------------------------------------- */

#define RNG_REPLAY_NONCES 1024 /* remembered nonces per client */
#define RNG_REPLAY_STREAMS 128 /* (boot id, generation id, instance) streams per client */
#define RNG_REPLAY_CLIENTS_MAX 4096

typedef struct rng_replay rng_replay;

rng_replay *rng_replay_new(void);
void rng_replay_free(rng_replay *r);
/* Accepts a request from `client` once: refuses (LISEC_ECONFLICT, naming
 * the rule) a nonce seen before, or a counter not above the last one seen for
 * the same (boot id, generation id, instance) stream. A stream forgotten to make room
 * leaves its counter as the client's floor, so memory stays bounded without
 * reopening old counters. Not thread-safe; the caller locks. */
int rng_replay_check(rng_replay *r, const char *client, const rng_msg *req, lisec_err *err);
/* The same, and first refuses (LISEC_EDENIED, naming the rule) a counter
 * above ceiling, keeping nothing of the request: a counter far ahead would
 * otherwise become the client's floor once its stream is forgotten, and
 * refuse every later stream of the client (UINT64_MAX: no ceiling). */
int rng_replay_check_max(rng_replay *r, const char *client, const rng_msg *req, uint64_t ceiling,
                         lisec_err *err);

/* ---- rate limit (token bucket) ------------------------------------------ */

typedef struct rng_bucket {
  double tokens;
  uint64_t last_ns;
  bool started;
} rng_bucket;

/* Takes one token at time now_ns from a bucket refilled at rate per second
 * up to burst. false = over the limit. */
bool rng_bucket_take(rng_bucket *b, uint64_t now_ns, double rate, double burst);

/* ---- DRBG known-answer tests (OpenSSL 3 EVP_RAND with TEST-RAND) -------- */

typedef enum { RNG_DRBG_CTR_AES256, RNG_DRBG_HMAC_SHA256, RNG_DRBG_HMAC_SHA384 } rng_drbg_kind;

/* One CAVP vector; absent inputs have length 0. pr selects the
 * prediction-resistance procedure (entropy_pr_a/b feed the two reseeds). */
typedef struct rng_kat {
  rng_drbg_kind kind;
  bool pr;
  const uint8_t *entropy, *nonce, *pers, *add_a, *add_b, *entropy_pr_a, *entropy_pr_b, *out;
  size_t entropy_len, nonce_len, pers_len, add_a_len, add_b_len, entropy_pr_a_len,
      entropy_pr_b_len, out_len;
} rng_kat;

/* Runs the vector through OpenSSL's DRBG: instantiate(entropy, nonce, pers),
 * generate(out_len, add_a), generate(out_len, add_b), and compares the second
 * output. LISEC_ECRYPTO on a mismatch. */
int rng_kat_run(const rng_kat *v, lisec_err *err);
/* The built-in vectors (one CAVP vector per DRBG lisec offers) run at start. */
int rng_kat_selftest(lisec_err *err);
/* A human-readable name for a kind. */
const char *rng_drbg_kind_name(rng_drbg_kind k);
/* Sets the cipher/digest parameters of an EVP_RAND context of the kind
 * ("CTR-DRBG" or "HMAC-DRBG"). Returns true on success. */
int rng_drbg_configure(EVP_RAND_CTX *ctx, rng_drbg_kind kind);
/* "CTR-DRBG" or "HMAC-DRBG". */
const char *rng_drbg_kind_alg(rng_drbg_kind k);

/* ---- reports from lisec-entropyd to the controller ---------------------- */

/* A report (JSON, POST /v1/rng/events) says, for one period, how many seeds
 * and bytes each client was issued (never their values) and the state of
 * every entropy source and of the daemon itself. The daemon numbers its
 * reports (instance, seq) and resends one until it is acknowledged, so the
 * controller can drop a report it has already recorded.
 *
 *   {"v":1, "instance":"<32 hex>", "seq":N, "from":T0, "to":T1,
 *    "serving":true|false, "detail":"why not serving",
 *    "sources":[{"source":"tpm", "state":"ok", "since":T, "detail":"..."}],
 *    "issuance":[{"client":"vnf-a", "seeds":N, "bytes":N, "li":false,
 *                 "replays":N, "ref":"<16 hex>"}]}
 *
 * "replays" (optional, with "ref", only when not 0): the client's seed
 * requests refused as replays in the period; "ref" is the reference the
 * daemon's log calls the client by (it names no client there).
 * Times are seconds since the epoch. Every key is checked: unknown keys,
 * wrong types, out-of-range numbers, names outside their alphabet and
 * repeated sources or clients are refused. */
#define RNG_REPORT_VERSION 1
#define RNG_REPORT_SOURCES_MAX 16
#define RNG_REPORT_CLIENTS_MAX 1024
#define RNG_REPORT_NAME_MAX 127   /* a client identity (certificate CN) */
#define RNG_REPORT_SOURCE_MAX 31  /* a source name */
#define RNG_REPORT_DETAIL_MAX 255
#define RNG_REPORT_INSTANCE_LEN 32 /* hex characters */
#define RNG_REPORT_REF_LEN 16 /* a client's log reference: lower-case hex characters */

typedef enum {
  RNG_SRC_OK = 0,
  RNG_SRC_FAILED_RCT,   /* failed_repetition_count */
  RNG_SRC_FAILED_APT,   /* failed_adaptive_proportion */
  RNG_SRC_UNAVAILABLE,  /* configured but absent on this machine */
  RNG_SRC_DISABLED,
} rng_src_state;

typedef struct rng_report_source {
  char name[RNG_REPORT_SOURCE_MAX + 1];
  rng_src_state state;
  int64_t since; /* when it entered the state; 0 when unknown */
  char detail[RNG_REPORT_DETAIL_MAX + 1];
} rng_report_source;

typedef struct rng_report_issue {
  char client[RNG_REPORT_NAME_MAX + 1];
  uint64_t seeds, bytes;
  bool li; /* an LI VNF: the controller seals the record to the LI administration */
  uint64_t replays;                   /* requests refused as replays; 0: none */
  char ref[RNG_REPORT_REF_LEN + 1];   /* its log reference when replays; else "" */
} rng_report_issue;

typedef struct rng_report {
  char instance[RNG_REPORT_INSTANCE_LEN + 1];
  uint64_t seq;
  int64_t from, to;
  bool serving;
  char detail[RNG_REPORT_DETAIL_MAX + 1];
  rng_report_source sources[RNG_REPORT_SOURCES_MAX];
  size_t n_sources;
  rng_report_issue *issuance; /* n_issuance entries, malloc'd */
  size_t n_issuance;
} rng_report;

/* Parses a report already parsed as JSON into *out (free with rng_report_free, also after a failure). EINVAL naming
 * the field on anything outside the format above; ETOOBIG over the bounds. */
int rng_report_parse(const json_t *json, rng_report *out, lisec_err *err);
void rng_report_free(rng_report *r);
/* "ok", "failed_repetition_count", ... (as rng_health_state_name, plus
 * "unavailable" and "disabled"); rng_src_state_parse returns -1 when unknown. */
const char *rng_src_state_name(rng_src_state s);
int rng_src_state_parse(const char *s);
/* The alphabets: client names [A-Za-z0-9 ._:@/-] (no leading or trailing
 * space), source names [a-z0-9_-]; not empty. Length is checked apart. */
bool rng_report_name_ok(const char *s, bool client);
/* True for the states in which the source is excluded for failing a test. */
bool rng_src_state_failed(rng_src_state s);

#endif
