/* liblisec-rng: the random-number library a VNF links (TR 103 308 §4.2, §5.9
 * to §5.15). Output comes from an SP 800-90A DRBG of OpenSSL 3's EVP_RAND
 * (CTR-DRBG AES-256 with derivation function by default, HMAC-DRBG SHA-256
 * selectable), seeded from a hedged mix of getrandom(), RDSEED/RDRAND and an
 * external seed fetched from lisec-entropyd, personalised with the VM's
 * identity, boot id and VM generation id. Before any output the library
 * checks for a fork, a VM generation-id change, a boot-id change and a jump
 * between the monotonic and the real-time clock (a pause or a restore), and
 * reseeds when it sees one; after such an event key generation fails closed
 * until a fresh external seed has arrived. Whatever it sees, every output
 * also depends on a kernel getrandom() draw made for that request (through
 * the vDSO on Linux 6.11+), so a cloned VM never repeats output longer than
 * its kernel does; no TLS session to the entropy service outlives a fetch.
 *
 * Every function is thread-safe. Configuration comes from lisec_rng_init()
 * or, when it is not called, from the environment on first use:
 *   LISEC_RNG_DRBG        ctr (default) | hmac
 *   LISEC_RNG_ENTROPYD    host:port or vsock:CID:PORT of lisec-entropyd
 *   LISEC_RNG_ENTROPYD_NAME  the name lisec-entropyd's certificate carries in
 *                         its subjectAltName (DNS name or IP address):
 *                         required with a vsock address (without it every
 *                         fetch is refused); over TCP, the host dialled
 *                         when unset. The certificate must also name the
 *                         serverAuth extended key usage.
 *   LISEC_RNG_CERT, LISEC_RNG_KEY, LISEC_RNG_CA   this VNF's mTLS identity
 *   LISEC_RNG_GENID_FILE  a file whose contents are the VM generation id
 *   LISEC_RNG_STRICT=1    ordinary output also fails closed after an event
 *   LISEC_RNG_KEYGEN_LOCAL_OK=1  development only: key generation without an
 *                         external seed (never in production)
 *   LISEC_RNG_VM_ID       the VM's identity (default: DMI product UUID and
 *                         /etc/machine-id where readable) */
#ifndef LISEC_PUBLIC_RNG_H
#define LISEC_PUBLIC_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes (the values match lisec's LISEC_E* codes). */
#define LISEC_RNG_OK 0
#define LISEC_RNG_EINVAL (-1)    /* bad argument or configuration */
#define LISEC_RNG_EDENIED (-3)   /* refused by the entropy service */
#define LISEC_RNG_ECRYPTO (-8)   /* self-test or DRBG failure: the library is unusable */
#define LISEC_RNG_EIO (-9)       /* the external source could not be reached */
#define LISEC_RNG_ENOSEED (-11)  /* fail closed: no fresh external seed since the last event */
#define LISEC_RNG_EINTERNAL (-12)

#define LISEC_RNG_DRBG_CTR_AES256 0
#define LISEC_RNG_DRBG_HMAC_SHA256 1

/* An external seed source. Called with the request's binding data; writes
 * seed_len bytes of seed and returns 0, or a negative LISEC_RNG_E* code and a
 * reason in why. The default source is lisec-entropyd over mutual TLS. */
typedef int (*lisec_rng_seed_fn)(void *ctx, const uint8_t nonce[32], const uint8_t genid[16],
                                 const uint8_t bootid[16], uint64_t counter, uint8_t *seed,
                                 size_t seed_len, char *why, size_t why_len);

typedef struct lisec_rng_options {
  int drbg;                  /* LISEC_RNG_DRBG_* */
  int strict;                /* ordinary output fails closed too after an event */
  int keygen_local_ok;       /* development only, see above */
  const char *genid_path;    /* NULL: LISEC_RNG_GENID_FILE, else none */
  const char *entropyd;      /* NULL: LISEC_RNG_ENTROPYD */
  const char *cert, *key, *ca;
  lisec_rng_seed_fn source;  /* overrides entropyd when set */
  void *source_ctx;
  unsigned check_interval_ms; /* slow checks (files, uevents); 0 = 10 ms */
  unsigned clock_jump_ms;     /* clock-gap jump that counts as a restore; 0 = 1000 ms */
  /* NULL: LISEC_RNG_ENTROPYD_NAME. Added in liblisec-rng.so.2: the library
   * reads the whole struct, so the soname changed with it. */
  const char *entropyd_name;
} lisec_rng_options;

/* struct, not typedef: the name is also the function that fills it. */
struct lisec_rng_status {
  int drbg;                /* LISEC_RNG_DRBG_* */
  int selftest_ok;         /* the NIST known-answer tests passed at start */
  int external_fresh;      /* an external seed arrived since the last event */
  int keygen_ready;        /* a fresh external seed since the last event (or
                            * local keygen allowed); keygen still fetches its own */
  int external_configured; /* an external source is configured */
  int has_rdrand, has_rdseed, wipeonfork, uevent, genid_known;
  uint64_t epoch;          /* bumped by every event and every external seed */
  uint64_t reseeds, external_seeds, external_failures;
  uint64_t events_fork, events_genid, events_bootid, events_clock;
  char last_event[32];
  char last_error[256];
};

/* Configures the library (optional; the first call wins). Runs the DRBG
 * self-test and tries to fetch an external seed. */
int lisec_rng_init(const lisec_rng_options *opt);
/* n random bytes for ordinary use (nonces, IVs, padding). After an event
 * the output is hedged from local sources unless strict is set. */
int lisec_rng_bytes(void *buf, size_t n);
/* n random bytes for key generation: always prediction resistant, and
 * fetched with an external seed of its own over a new TLS session (a clone
 * since the last fetch cannot be ruled out); LISEC_RNG_ENOSEED when that
 * fetch fails. */
int lisec_rng_keygen_bytes(void *buf, size_t n);
/* Fetches an external seed now and reseeds every thread's DRBG. */
int lisec_rng_reseed(void);
int lisec_rng_status(struct lisec_rng_status *st);
/* Runs clone/restore detection now (what every output call does first);
 * returns 1 when an event was seen and the DRBGs were reseeded, else 0. */
int lisec_rng_check(void);
/* The reason for this thread's last failure ("" when none). */
const char *lisec_rng_last_error(void);
const char *lisec_rng_strerror(int code);
/* Frees every state (for leak checkers). No thread may use the library
 * during or after the call, except through a new lisec_rng_init(). */
void lisec_rng_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif
