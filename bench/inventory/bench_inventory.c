/* bench_inventory: many hosts attesting with their inventory to a real
 * lisecd over HTTPS, for bench/inventory/run. A real TPM cannot enrol and
 * quote for thousands of hosts in a benchmark's time, so each host here is
 * a software ECDSA P-256 key with the attributes of a TPM AK: `seed` makes
 * the keys, the host certificates (lisec's development CA) and SQL that
 * puts each host's enrolled AK (the same "attest.host" document enrolment
 * stores) and the model (host, hypervisor, VMs) into lisecd's store.
 * `run` then drives every host as lisec-agent does: POST /v1/attest/nonce,
 * build the 20-domain inventory, make a TPMS_ATTEST quote whose qualifying
 * data is the inventory's binding (marshalled by tpm2-tss, signed by the
 * AK), POST /v1/attest/evidence with the event log and PCR values, and
 * check that lisecd trusted the host and observed its inventory. `emit`
 * writes one such report as files for the peer (tpm2_checkquote). The
 * quote is built here from the TPM specification's structures; nothing of
 * lisec's verification is used to make it.
 *   bench_inventory seed DIR PKI HOSTS VMS_PER_HOST
 *   bench_inventory run DIR PORT HOSTS THREADS SECONDS MAX_REPORTS LISECD_PID
 *     (BENCH_INVENTORY_RATE=R: the hosts together report R times a second
 *     on a fixed schedule, as a fleet does at its attestation interval,
 *     each report's latency counted from when it was due; unset: every
 *     thread reports as fast as lisecd answers)
 *   bench_inventory emit DIR OUTDIR
 * DIR holds eventlog.bin and ext.txt (evgen's log and extends). */
#include <arpa/inet.h>
#include <dirent.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

#include "attest/attest.h"
#include "crypto/pki.h"

#define VMS_MAX 64
#define REQ_MAX (256 * 1024)

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench_inventory: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void hex(const uint8_t *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) out[2 * i] = digits[p[i] >> 4], out[2 * i + 1] = digits[p[i] & 15];
  out[2 * n] = 0;
}

/* SHA-256 fetched once (main): a fetch per digest is OpenSSL 3's lock and
 * table walk, which the hosts' side would otherwise pay on every report. */
static EVP_MD *md_sha256;

static void sha256(const void *p, size_t n, uint8_t out[32]) {
  if (EVP_Digest(p, n, out, NULL, md_sha256, NULL) != 1) die("sha256");
}

static char *b64(const uint8_t *p, size_t n) {
  char *s = malloc(4 * ((n + 2) / 3) + 1);
  if (!s) die("out of memory");
  EVP_EncodeBlock((unsigned char *)s, p, (int)n);
  return s;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc((size_t)n + 1);
  if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) die("cannot read %s", path);
  fclose(f);
  p[n] = 0;
  *len = (size_t)n;
  return p;
}

/* ---- the AK as a TPM would describe it ---------------------------------- */

/* TPM2B_PUBLIC of a restricted ECDSA P-256 signing key made by its TPM
 * (the template tpm2_createak uses), marshalled; name = nameAlg || H(area). */
static void ak_public(EVP_PKEY *k, uint8_t *out, size_t *len, uint8_t name[34]) {
  uint8_t pt[65];
  size_t ptlen = 0;
  if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &ptlen) != 1 ||
      ptlen != 65)
    die("AK public point");
  TPM2B_PUBLIC p;
  memset(&p, 0, sizeof p);
  TPMT_PUBLIC *a = &p.publicArea;
  a->type = TPM2_ALG_ECC;
  a->nameAlg = TPM2_ALG_SHA256;
  a->objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |
                        TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                        TPMA_OBJECT_USERWITHAUTH;
  a->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  a->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  a->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  a->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  a->unique.ecc.x.size = 32, a->unique.ecc.y.size = 32;
  memcpy(a->unique.ecc.x.buffer, pt + 1, 32);
  memcpy(a->unique.ecc.y.buffer, pt + 33, 32);
  size_t off = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Marshal(&p, out, 1024, &off) != TSS2_RC_SUCCESS) die("TPM2B_PUBLIC");
  *len = off;
  /* The area without its size prefix is what the name hashes. */
  name[0] = 0x00, name[1] = 0x0b;
  sha256(out + 2, off - 2, name + 2);
}

/* ---- PCRs and the event log, the same for every host -------------------- */

static attest_pcrs pcrs;
static uint8_t pcr_digest[32];
static char *pcrs_b64, *log_b64;
static uint8_t *pcrs_bytes;
static size_t pcrs_len;

/* Replays evgen's extends from reset PCRs (as the firmware did), selects
 * the policy's PCRs (those extended and 0-7) and digests them in order. */
static void load_platform(const char *dir) {
  char path[1024], line[256];
  snprintf(path, sizeof path, "%s/ext.txt", dir);
  FILE *f = fopen(path, "r");
  if (!f) die("cannot open %s", path);
  memset(&pcrs, 0, sizeof pcrs);
  pcrs.mask = 0xff;
  while (fgets(line, sizeof line, f)) {
    unsigned pcr;
    char d[65];
    uint8_t cat[64];
    if (sscanf(line, "%u %64s", &pcr, d) != 2 || pcr >= ATTEST_PCR_COUNT) die("bad %s", path);
    memcpy(cat, pcrs.value[pcr], 32);
    for (int i = 0; i < 32; i++) sscanf(d + 2 * i, "%2hhx", &cat[32 + i]);
    sha256(cat, 64, pcrs.value[pcr]);
    pcrs.mask |= 1u << pcr;
  }
  fclose(f);
  uint8_t cat[ATTEST_PCR_COUNT * 32];
  size_t n = 0;
  for (unsigned i = 0; i < ATTEST_PCR_COUNT; i++)
    if (pcrs.mask & (1u << i)) memcpy(cat + 32 * n++, pcrs.value[i], 32);
  sha256(cat, 32 * n, pcr_digest);
  /* The file tpm2_quote -o writes (tpm2_checkquote reads the same file). */
  lisec_buf b;
  lisec_buf_init(&b, 4096);
  lisec_err err = {0};
  if (attest_pcrs_write(&pcrs, &b, &err) != 0) die("pcrs: %s", err.msg);
  pcrs_len = b.len;
  pcrs_bytes = malloc(b.len);
  memcpy(pcrs_bytes, b.data, b.len);
  pcrs_b64 = b64(b.data, b.len);
  lisec_buf_free(&b);
  snprintf(path, sizeof path, "%s/eventlog.bin", dir);
  size_t len;
  uint8_t *log = slurp(path, &len);
  log_b64 = b64(log, len);
  free(log);
}

/* ---- one host ------------------------------------------------------------ */

typedef struct host {
  int idx;
  char id[65];
  EVP_PKEY *ak;
  uint8_t name[34];
  SSL_CTX *ctx;
  SSL *ssl;
  int fd;
  uint64_t clock;
  EVP_PKEY_CTX *sign; /* the AK's signing context, initialised once */
  /* the inventory as last built (rebuilt when taken_at's second changes):
   * its text, SHA-256 and JSON-escaped form for the evidence body */
  long long inv_at;
  char *inv, *inv_esc;
  size_t inv_len, inv_esc_len;
  uint8_t inv_sha[32];
} host;

static void host_load(host *h, const char *dir, int i) {
  char path[1024];
  h->idx = i;
  snprintf(path, sizeof path, "%s/hosts/%d.ak.pem", dir, i);
  FILE *f = fopen(path, "r");
  if (!f) die("cannot open %s (run seed first)", path);
  h->ak = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  if (!h->ak) die("bad %s", path);
  uint8_t pub[1024];
  size_t len;
  ak_public(h->ak, pub, &len, h->name);
  uint8_t d[32];
  sha256(pub, len, d);
  hex(d, 32, h->id);
  h->fd = -1;
  h->clock = 1000000;
  h->sign = EVP_PKEY_CTX_new_from_pkey(NULL, h->ak, NULL);
  if (!h->sign || EVP_PKEY_sign_init(h->sign) != 1) die("AK signing context");
  h->inv_at = -1;
}

/* The four base images' SHA-256 in hex (inventory(), seed), made once. */
static char image_hex[4][65];

static void images_init(void) {
  for (int k = 0; k < 4; k++) {
    uint8_t img[32];
    char seed[64];
    snprintf(seed, sizeof seed, "image-%d", k);
    sha256(seed, strlen(seed), img);
    hex(img, 32, image_hex[k]);
  }
}

/* The inventory lisec-agent would send: VMS domains, running, one file
 * disk and one network interface each (docs: i15-interface.md §1). */
static size_t inventory(const host *h, int vms, char *out, size_t cap) {
  size_t n = (size_t)snprintf(out, cap, "{\"version\":1,\"host\":\"%s\",\"taken_at\":%lld,\"domains\":[",
                              h->id, (long long)time(NULL));
  for (int j = 0; j < vms; j++) {
    const char *ih = image_hex[j % 4]; /* four base images on the platform */
    n += (size_t)snprintf(out + n, cap - n,
                          "%s{\"uuid\":\"%08x-0000-4000-8000-%012x\",\"vm\":\"vm%d-%d\",\"package\":null,"
                          "\"state\":\"running\",\"images\":[{\"disk\":\"vda\",\"sha256\":\"%s\"}],"
                          "\"interfaces\":[{\"mac\":\"52:54:00:%02x:%02x:%02x\",\"type\":\"network\","
                          "\"source\":\"default\",\"target\":\"vnet%d\"}]}",
                          j ? "," : "", (unsigned)h->idx, (unsigned)j, h->idx, j, ih,
                          (h->idx >> 8) & 0xff, h->idx & 0xff, j & 0xff, j);
  }
  n += (size_t)snprintf(out + n, cap - n, "]}");
  if (n >= cap) die("inventory too long");
  return n;
}

/* A TPM2_Quote's TPMS_ATTEST over the selected PCRs with extraData, and its
 * TPMT_SIGNATURE by the AK (ECDSA over SHA-256 of the marshalled bytes). */
static void quote(host *h, const uint8_t extra[32], uint8_t *msg, size_t *msg_len, uint8_t *sig,
                  size_t *sig_len) {
  TPMS_ATTEST a;
  memset(&a, 0, sizeof a);
  a.magic = TPM2_GENERATED_VALUE;
  a.type = TPM2_ST_ATTEST_QUOTE;
  a.qualifiedSigner.size = 34;
  memcpy(a.qualifiedSigner.name, h->name, 34);
  a.extraData.size = 32;
  memcpy(a.extraData.buffer, extra, 32);
  a.clockInfo.clock = h->clock += 1000;
  a.clockInfo.safe = 1;
  a.firmwareVersion = 0x2023000000000000ull;
  TPML_PCR_SELECTION *sel = &a.attested.quote.pcrSelect;
  sel->count = 1;
  sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel->pcrSelections[0].sizeofSelect = 3;
  for (int i = 0; i < 3; i++) sel->pcrSelections[0].pcrSelect[i] = (uint8_t)(pcrs.mask >> (8 * i));
  a.attested.quote.pcrDigest.size = 32;
  memcpy(a.attested.quote.pcrDigest.buffer, pcr_digest, 32);
  size_t off = 0;
  if (Tss2_MU_TPMS_ATTEST_Marshal(&a, msg, 4096, &off) != TSS2_RC_SUCCESS) die("TPMS_ATTEST");
  *msg_len = off;

  uint8_t der[80], dgst[32];
  size_t der_len = sizeof der;
  sha256(msg, off, dgst);
  if (EVP_PKEY_sign(h->sign, der, &der_len, dgst, sizeof dgst) != 1) die("ECDSA sign");
  const uint8_t *p = der;
  ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
  if (!es) die("ECDSA signature");
  TPMT_SIGNATURE s;
  memset(&s, 0, sizeof s);
  s.sigAlg = TPM2_ALG_ECDSA;
  s.signature.ecdsa.hash = TPM2_ALG_SHA256;
  s.signature.ecdsa.signatureR.size = 32, s.signature.ecdsa.signatureS.size = 32;
  BN_bn2binpad(ECDSA_SIG_get0_r(es), s.signature.ecdsa.signatureR.buffer, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(es), s.signature.ecdsa.signatureS.buffer, 32);
  ECDSA_SIG_free(es);
  off = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Marshal(&s, sig, 512, &off) != TSS2_RC_SUCCESS) die("TPMT_SIGNATURE");
  *sig_len = off;
}

/* SHA-256("lisec-inventory-v1" || nonce || SHA-256(inventory)), the
 * qualifying data the interface fixes, computed here from its text. */
static void binding_of(const uint8_t *nonce, size_t nonce_len, const uint8_t inv_sha[32],
                       uint8_t out[32]) {
  uint8_t buf[18 + 64 + 32];
  memcpy(buf, "lisec-inventory-v1", 18);
  memcpy(buf + 18, nonce, nonce_len);
  memcpy(buf + 18 + nonce_len, inv_sha, 32);
  sha256(buf, 18 + nonce_len + 32, out);
}

static void binding(const uint8_t *nonce, size_t nonce_len, const char *inv, size_t inv_len,
                    uint8_t out[32]) {
  uint8_t d[32];
  sha256(inv, inv_len, d);
  binding_of(nonce, nonce_len, d, out);
}

/* Appends s as the body of a JSON string. */
static size_t json_escape(const char *s, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"' || s[i] == '\\') out[o++] = '\\';
    out[o++] = s[i];
  }
  return o;
}

/* The host's inventory as an agent reads it now: built again when the
 * second of taken_at moves on, else the same text, digest and escaped form
 * (an agent re-reads libvirt on events and at each attestation; the bench
 * keeps the hosts' share of the 2 cores light, not their honesty lower:
 * every report still gets its own nonce, binding, quote and signature). */
static void host_inventory(host *h, int vms) {
  long long now = (long long)time(NULL);
  if (h->inv && h->inv_at == now) return;
  size_t cap = 64 * 1024;
  if (!h->inv && (!(h->inv = malloc(cap)) || !(h->inv_esc = malloc(2 * cap)))) die("out of memory");
  h->inv_len = inventory(h, vms, h->inv, cap);
  h->inv_esc_len = json_escape(h->inv, h->inv_len, h->inv_esc);
  sha256(h->inv, h->inv_len, h->inv_sha);
  h->inv_at = now;
}

static int unhex(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Appends n bytes at body + *at, bounded by cap. */
static void put(char *body, size_t *at, size_t cap, const char *p, size_t n) {
  if (*at + n >= cap) die("evidence too long");
  memcpy(body + *at, p, n);
  *at += n;
}
#define PUT_LIT(b, at, cap, lit) put(b, at, cap, lit, sizeof lit - 1)

/* The whole report's evidence body for this nonce. */
static size_t evidence(host *h, int vms, const char *nonce_hex, char *body, size_t cap) {
  static size_t pcrs_b64_len, log_b64_len;
  if (!pcrs_b64_len) pcrs_b64_len = strlen(pcrs_b64), log_b64_len = strlen(log_b64);
  uint8_t nonce[64], extra[32], msg[4096], sig[512];
  size_t hl = strlen(nonce_hex), nlen = hl / 2, msg_len, sig_len;
  if (nlen > sizeof nonce || hl % 2) die("nonce of %zu hex digits", hl);
  for (size_t i = 0; i < nlen; i++) {
    int hi = unhex(nonce_hex[2 * i]), lo = unhex(nonce_hex[2 * i + 1]);
    if (hi < 0 || lo < 0) die("nonce not in hex");
    nonce[i] = (uint8_t)(hi << 4 | lo);
  }
  host_inventory(h, vms);
  binding_of(nonce, nlen, h->inv_sha, extra);
  quote(h, extra, msg, &msg_len, sig, &sig_len);
  char q[4 * ((sizeof msg + 2) / 3) + 1], s[4 * ((sizeof sig + 2) / 3) + 1];
  int ql = EVP_EncodeBlock((unsigned char *)q, msg, (int)msg_len);
  int sl = EVP_EncodeBlock((unsigned char *)s, sig, (int)sig_len);
  size_t n = 0;
  PUT_LIT(body, &n, cap, "{\"host\":\"");
  put(body, &n, cap, h->id, 64);
  PUT_LIT(body, &n, cap, "\",\"nonce\":\"");
  put(body, &n, cap, nonce_hex, hl);
  PUT_LIT(body, &n, cap, "\",\"quote\":\"");
  put(body, &n, cap, q, (size_t)ql);
  PUT_LIT(body, &n, cap, "\",\"signature\":\"");
  put(body, &n, cap, s, (size_t)sl);
  PUT_LIT(body, &n, cap, "\",\"pcrs\":\"");
  put(body, &n, cap, pcrs_b64, pcrs_b64_len);
  PUT_LIT(body, &n, cap, "\",\"eventlog\":\"");
  put(body, &n, cap, log_b64, log_b64_len);
  PUT_LIT(body, &n, cap, "\",\"inventory\":\"");
  put(body, &n, cap, h->inv_esc, h->inv_esc_len);
  PUT_LIT(body, &n, cap, "\"}");
  body[n] = 0;
  return n;
}

/* ---- HTTPS keep-alive ----------------------------------------------------- */

static int port;
static const char *pki_dir;
static atomic_long reconnects;

static void host_disconnect(host *h) {
  if (h->ssl) {
    SSL_shutdown(h->ssl);
    SSL_free(h->ssl);
  }
  if (h->fd >= 0) close(h->fd);
  h->ssl = NULL, h->fd = -1;
}

static int host_connect(host *h) {
  if (!h->ctx) {
    char crt[1024], key[1024], ca[1024];
    snprintf(crt, sizeof crt, "%s/h%d.crt", pki_dir, h->idx);
    snprintf(key, sizeof key, "%s/h%d.key", pki_dir, h->idx);
    snprintf(ca, sizeof ca, "%s/ca.crt", pki_dir);
    h->ctx = SSL_CTX_new(TLS_client_method());
    if (!h->ctx || SSL_CTX_load_verify_locations(h->ctx, ca, NULL) != 1 ||
        SSL_CTX_use_certificate_file(h->ctx, crt, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(h->ctx, key, SSL_FILETYPE_PEM) != 1)
      die("TLS client for host %d (%s)", h->idx, crt);
    SSL_CTX_set_verify(h->ctx, SSL_VERIFY_PEER, NULL);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  h->fd = fd;
  h->ssl = SSL_new(h->ctx);
  SSL_set_fd(h->ssl, fd);
  SSL_set_tlsext_host_name(h->ssl, "localhost");
  if (SSL_connect(h->ssl) != 1) {
    host_disconnect(h);
    return -1;
  }
  return 0;
}

/* One request on the host's connection; the status, body in resp. */
static int post_once(host *h, const char *path, const char *body, size_t len, char *resp,
                     size_t cap) {
  static __thread char req[REQ_MAX + 512];
  if (!h->ssl && host_connect(h) != 0) return -1;
  int n = snprintf(req, sizeof req,
                   "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\n\r\n",
                   path, len);
  if (len + (size_t)n > sizeof req) die("request too long");
  memcpy(req + n, body, len);
  if (SSL_write(h->ssl, req, n + (int)len) != n + (int)len) return -1;
  size_t have = 0;
  char *end = NULL;
  while (!(end = strstr(resp, "\r\n\r\n")) || have < (size_t)(end - resp) + 4) {
    int r = SSL_read(h->ssl, resp + have, (int)(cap - have - 1));
    if (r <= 0) return -1;
    have += (size_t)r;
    resp[have] = 0;
    if ((end = strstr(resp, "\r\n\r\n"))) break;
  }
  const char *cl = strcasestr(resp, "\r\nContent-Length:");
  size_t want = (size_t)(end - resp) + 4 + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
  if (want >= cap) return -1;
  while (have < want) {
    int r = SSL_read(h->ssl, resp + have, (int)(cap - have - 1));
    if (r <= 0) return -1;
    have += (size_t)r;
  }
  resp[have] = 0;
  int status = 0;
  if (sscanf(resp, "HTTP/1.1 %d", &status) != 1) return -1;
  memmove(resp, end + 4, have - (size_t)(end + 4 - resp) + 1);
  return status;
}

/* A connection lisecd closed (idle timeout) is opened again once. */
static int post(host *h, const char *path, const char *body, size_t len, char *resp, size_t cap) {
  resp[0] = 0;
  int st = post_once(h, path, body, len, resp, cap);
  if (st < 0) {
    host_disconnect(h);
    atomic_fetch_add(&reconnects, 1);
    resp[0] = 0;
    st = post_once(h, path, body, len, resp, cap);
  }
  return st;
}

/* One report: nonce, quote, evidence; 0 when lisecd trusted the host and
 * observed its inventory. */
static int report(host *h, int vms, char *why, size_t why_len) {
  static __thread char body[REQ_MAX], resp[64 * 1024];
  char req[128];
  int n = snprintf(req, sizeof req, "{\"host\":\"%s\"}", h->id);
  int st = post(h, "/v1/attest/nonce", req, (size_t)n, resp, sizeof resp);
  json_t *j = st == 200 || st == 201 ? json_loads(resp, 0, NULL) : NULL;
  const char *nonce = json_string_value(json_object_get(j, "nonce"));
  if (!nonce) {
    snprintf(why, why_len, "nonce: HTTP %d %.200s", st, resp);
    json_decref(j);
    return -1;
  }
  size_t len = evidence(h, vms, nonce, body, sizeof body);
  json_decref(j);
  st = post(h, "/v1/attest/evidence", body, len, resp, sizeof resp);
  j = st == 200 ? json_loads(resp, 0, NULL) : NULL;
  const char *trust = json_string_value(json_object_get(j, "trust"));
  json_t *inv = json_object_get(j, "inventory");
  int ok = trust && strcmp(trust, "trusted") == 0 && json_is_true(json_object_get(inv, "observed")) &&
           json_integer_value(json_object_get(inv, "domains")) == vms;
  if (!ok) snprintf(why, why_len, "evidence: HTTP %d %.300s", st, resp);
  json_decref(j);
  return ok ? 0 : -1;
}

/* ---- run ---------------------------------------------------------------- */

typedef struct worker {
  pthread_t t;
  host **hosts;
  size_t n;
  int vms;
  double start, end;
  double period; /* paced: seconds between this thread's reports; 0: as fast as answered */
  long max;
  double *lat;
  size_t nlat, caplat;
  long failures;
  char why[512];
} worker;

static atomic_long reports_left;

static void *warm_main(void *arg) {
  worker *w = arg;
  for (size_t i = 0; i < w->n; i++)
    if (report(w->hosts[i], w->vms, w->why, sizeof w->why) != 0) w->failures++;
  return NULL;
}

static void *run_main(void *arg) {
  worker *w = arg;
  for (size_t i = 0, k = 0;; i = (i + 1) % w->n, k++) {
    double t0 = w->period > 0 ? w->start + (double)k * w->period : now_s();
    if (t0 >= w->end || atomic_fetch_sub(&reports_left, 1) <= 0) break;
    if (w->period > 0) {
      double wait = t0 - now_s();
      if (wait > 0) usleep((useconds_t)(wait * 1e6));
    }
    if (report(w->hosts[i], w->vms, w->why, sizeof w->why) != 0) {
      w->failures++;
      continue;
    }
    if (w->nlat == w->caplat) {
      w->caplat = w->caplat ? 2 * w->caplat : 4096;
      w->lat = realloc(w->lat, w->caplat * sizeof *w->lat);
      if (!w->lat) die("out of memory");
    }
    w->lat[w->nlat++] = now_s() - t0;
  }
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* utime + stime of a process, in seconds (/proc/PID/stat fields 14, 15),
 * and its parent's pid (field 4). */
static double one_cpu_s(long pid, long *ppid) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')');
  unsigned long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", ppid, &ut, &st) != 3)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* lisecd's CPU: the parent and its children (front, controller, keys),
 * which do the work since lisecd forks them; the parent alone would count
 * almost nothing. */
static double proc_cpu_s(long pid) {
  long ppid = 0;
  double total = one_cpu_s(pid, &ppid);
  if (total < 0) return -1;
  DIR *d = opendir("/proc");
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    char *end;
    long child = strtol(e->d_name, &end, 10);
    if (*end || child <= 0 || child == pid) continue;
    double c = one_cpu_s(child, &ppid);
    if (c >= 0 && ppid == pid) total += c;
  }
  closedir(d);
  return total;
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static int cmd_run(int argc, char **argv) {
  if (argc != 11) die("usage: run DIR PKI PORT HOSTS THREADS VMS SECONDS MAX_REPORTS LISECD_PID");
  const char *dir = argv[2];
  pki_dir = argv[3];
  port = atoi(argv[4]);
  int nhosts = atoi(argv[5]), nthreads = atoi(argv[6]), vms = atoi(argv[7]);
  double seconds = atof(argv[8]);
  long max = atol(argv[9]), pid = atol(argv[10]);
  if (nhosts < 1 || nthreads < 1 || nthreads > nhosts || vms < 1 || vms > VMS_MAX) die("bad sizes");
  load_platform(dir);
  host *hosts = calloc((size_t)nhosts, sizeof *hosts);
  worker *w = calloc((size_t)nthreads, sizeof *w);
  if (!hosts || !w) die("out of memory");
  for (int t = 0; t < nthreads; t++) {
    w[t].hosts = calloc((size_t)nhosts / (size_t)nthreads + 1, sizeof(host *));
    w[t].vms = vms;
  }
  for (int i = 0; i < nhosts; i++) {
    host_load(&hosts[i], dir, i);
    worker *x = &w[i % nthreads];
    x->hosts[x->n++] = &hosts[i];
  }
  /* Untimed: every host connects (its TLS handshake) and reports once, so
   * the timed rounds see the steady state, each host already observed. */
  double wt0 = now_s();
  for (int t = 0; t < nthreads; t++) pthread_create(&w[t].t, NULL, warm_main, &w[t]);
  long failures = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(w[t].t, NULL);
    failures += w[t].failures;
    if (w[t].failures) fprintf(stderr, "warm-up failure: %s\n", w[t].why);
  }
  if (failures) die("%ld hosts failed their first report", failures);
  double warm = now_s() - wt0;
  /* DIR/timed from here on: a profiler (bench/inventory/profile) starts
   * sampling lisecd at the timed rounds, not at the handshakes. */
  char mark[1024];
  snprintf(mark, sizeof mark, "%s/timed", dir);
  FILE *mf = fopen(mark, "w");
  if (mf) fclose(mf);
  atomic_store(&reports_left, max);
  const char *rs = getenv("BENCH_INVENTORY_RATE");
  double rate = rs && *rs ? atof(rs) : 0;
  if (rs && *rs && rate <= 0) die("BENCH_INVENTORY_RATE wants a positive rate");
  double cpu0 = proc_cpu_s(pid), self0 = self_cpu_s(), t0 = now_s();
  for (int t = 0; t < nthreads; t++) {
    w[t].end = t0 + seconds;
    w[t].period = rate > 0 ? nthreads / rate : 0;
    w[t].start = t0 + w[t].period * t / nthreads;
    pthread_create(&w[t].t, NULL, run_main, &w[t]);
  }
  size_t total = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(w[t].t, NULL);
    total += w[t].nlat;
    failures += w[t].failures;
    if (w[t].failures) fprintf(stderr, "failure: %s\n", w[t].why);
  }
  double elapsed = now_s() - t0, cpu = proc_cpu_s(pid) - cpu0, self = self_cpu_s() - self0;
  double *all = malloc((total ? total : 1) * sizeof *all);
  size_t k = 0;
  for (int t = 0; t < nthreads; t++)
    for (size_t i = 0; i < w[t].nlat; i++) all[k++] = w[t].lat[i];
  qsort(all, total, sizeof *all, cmp_double);
  double p50 = total ? all[total / 2] : 0, p99 = total ? all[(total * 99) / 100] : 0;
  /* One line for the run script: reports seconds rate p50_us p99_us
   * lisecd_cpu_s client_cpu_s failures reconnects warm_s */
  printf("%zu %.3f %.1f %.0f %.0f %.3f %.3f %ld %ld %.1f\n", total, elapsed, total / elapsed,
         p50 * 1e6, p99 * 1e6, cpu, self, failures, atomic_load(&reconnects), warm);
  return failures ? 1 : 0;
}

/* Keys, host certificates (lisec's development CA in PKI) and SQL for the
 * store: each host's enrolled AK as enrolment leaves it ("attest.host":
 * ak_pub, enrolled_at, trust untrusted:never-attested) and the model. */
static int cmd_seed(int argc, char **argv) {
  if (argc != 6) die("usage: seed DIR PKI HOSTS VMS_PER_HOST");
  const char *dir = argv[2], *pki = argv[3];
  int nhosts = atoi(argv[4]), vms = atoi(argv[5]);
  char path[1024];
  snprintf(path, sizeof path, "%s/hosts", dir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/seed.sql", dir);
  FILE *sql = fopen(path, "w");
  if (!sql) die("cannot write %s", path);
  fputs("BEGIN;\n", sql);
  /* Four packages, one per base image of the platform (inventory()), as
   * on-boarding leaves them; each VM names the one its image comes from,
   * so every report holds its 20 images to their packages' (issue 15). */
  for (int k = 0; k < 4; k++) {
    uint8_t img[32];
    char seed[64], ih[65];
    snprintf(seed, sizeof seed, "image-%d", k);
    sha256(seed, strlen(seed), img);
    hex(img, 32, ih);
    fprintf(sql,
            "INSERT INTO documents VALUES ('pkg','pkg-%d','{\"id\":\"pkg-%d\",\"li\":false,\"record\":"
            "{\"owner\":\"operator\",\"package_version\":\"1.0\"},\"verification\":{\"artifacts\":"
            "[{\"algorithm\":\"SHA-256\",\"hash\":\"%s\",\"image\":true,\"path\":"
            "\"Artifacts/Images/image-%d.qcow2\"}]}}',1,0);\n",
            k, k, ih, k);
  }
  for (int i = 0; i < nhosts; i++) {
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (!k) die("EC key");
    snprintf(path, sizeof path, "%s/hosts/%d.ak.pem", dir, i);
    FILE *f = fopen(path, "w");
    if (!f || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1) die("cannot write %s", path);
    fclose(f);
    uint8_t pub[1024], name[34], d[32];
    size_t len;
    char id[65], stem[32];
    ak_public(k, pub, &len, name);
    sha256(pub, len, d);
    hex(d, 32, id);
    EVP_PKEY_free(k);
    snprintf(stem, sizeof stem, "h%d", i);
    lisec_err err = {0};
    if (pki_issue(pki, stem, "host", id, 30, &err) != 0) die("pki issue %s: %s", stem, err.msg);
    char *akb = b64(pub, len);
    fprintf(sql,
            "INSERT INTO documents VALUES ('attest.host','%s','{\"ak_pub\":\"%s\",\"enrolled_at\":%lld,"
            "\"host\":\"%s\",\"trust\":\"untrusted:never-attested\"}',1,0);\n",
            id, akb, (long long)time(NULL), id);
    free(akb);
    fprintf(sql,
            "INSERT INTO documents VALUES ('model.host','%s','{\"id\":\"%s\",\"protection\":\"general\"}',"
            "1,0);\n",
            id, id);
    fprintf(sql,
            "INSERT INTO documents VALUES ('model.hypervisor','hv%d','{\"host\":\"%s\",\"id\":\"hv%d\"}',1,0);\n",
            i, id, i);
    for (int j = 0; j < vms; j++)
      fprintf(sql,
              "INSERT INTO documents VALUES ('model.vm','vm%d-%d','{\"domain\":\"core\",\"hypervisor\":"
              "\"hv%d\",\"id\":\"vm%d-%d\",\"package\":\"pkg-%d\",\"sensitivity\":\"general\"}',1,0);\n",
              i, j, i, i, j, j % 4);
  }
  fputs("COMMIT;\n", sql);
  fclose(sql);
  return 0;
}

/* One host's report as the files tpm2_checkquote and sha256sum take. */
static int cmd_emit(int argc, char **argv) {
  if (argc != 5) die("usage: emit DIR OUTDIR VMS");
  const char *dir = argv[2], *out = argv[3];
  int vms = atoi(argv[4]);
  load_platform(dir);
  host h = {0};
  host_load(&h, dir, 0);
  static char inv[64 * 1024];
  uint8_t nonce[32], extra[32], msg[4096], sig[512];
  size_t msg_len, sig_len, inv_len = inventory(&h, vms, inv, sizeof inv);
  if (RAND_bytes(nonce, sizeof nonce) != 1) die("random");
  binding(nonce, sizeof nonce, inv, inv_len, extra);
  quote(&h, extra, msg, &msg_len, sig, &sig_len);
  char path[1024], nh[65];
  struct {
    const char *name;
    const void *p;
    size_t n;
  } files[] = {{"inventory.json", inv, inv_len}, {"quote.msg", msg, msg_len},
               {"quote.sig", sig, sig_len},      {"quote.pcrs", pcrs_bytes, pcrs_len},
               {"nonce.bin", nonce, sizeof nonce}};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", out, files[i].name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(files[i].p, 1, files[i].n, f) != files[i].n) die("cannot write %s", path);
    fclose(f);
  }
  snprintf(path, sizeof path, "%s/ak.pem", out);
  FILE *f = fopen(path, "w");
  if (!f || PEM_write_PUBKEY(f, h.ak) != 1) die("cannot write %s", path);
  fclose(f);
  hex(nonce, sizeof nonce, nh);
  printf("%s\n", nh);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (!(md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL))) die("SHA-256");
  images_init();
  if (argc >= 2 && strcmp(argv[1], "seed") == 0) return cmd_seed(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "run") == 0) return cmd_run(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "emit") == 0) return cmd_emit(argc, argv);
  die("usage: bench_inventory seed|run|emit ...");
}
