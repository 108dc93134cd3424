/* The client tests/integration/rng_server_id.sh points at real
 * lisec-entropyd daemons to check which certificate liblisec-rng's seed
 * client takes for the daemon's (TR 103 308 §5.15). It connects a TCP
 * socket to 127.0.0.1:PORT and hands it to rngl_ext_handshake as if it had
 * dialled ADDR, so a vsock address (vsock:CID:PORT) gets the vsock rule on
 * a machine whose kernel has no vsock loopback; then it fetches one seed
 * over that connection. The daemon's name comes from
 * LISEC_RNG_ENTROPYD_NAME, the client's identity from LISEC_RNG_CERT,
 * LISEC_RNG_KEY and LISEC_RNG_CA, as the library reads them. Prints "seed N
 * bytes" and exits 0, or prints the refusal and exits 1. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rng/libos.h"

static void copy_env(char *dst, size_t cap, const char *name) {
  const char *v = getenv(name);
  snprintf(dst, cap, "%s", v ? v : "");
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: rng_server_id_driver ADDR TCP_PORT\n");
    return 2;
  }
  rngl_ext x;
  rngl_ext_init(&x);
  snprintf(x.addr, sizeof x.addr, "%s", argv[1]);
  copy_env(x.server_name, sizeof x.server_name, "LISEC_RNG_ENTROPYD_NAME");
  copy_env(x.cert, sizeof x.cert, "LISEC_RNG_CERT");
  copy_env(x.key, sizeof x.key, "LISEC_RNG_KEY");
  copy_env(x.ca, sizeof x.ca, "LISEC_RNG_CA");

  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
    perror("rng_server_id_driver: connect");
    return 2;
  }
  lisec_err err = {0};
  int rc = rngl_ext_handshake(&x, fd, 5000, &err);
  rng_msg req = {.type = RNG_MSG_REQUEST, .want = 48, .counter = 1}, rep;
  if (!rc) rc = rngl_getrandom(req.nonce, sizeof req.nonce, &err);
  if (!rc) rc = rngl_getrandom(req.instance, sizeof req.instance, &err);
  if (!rc) rc = rngl_ext_fetch(&x, &req, &rep, 5000, &err);
  if (!rc) printf("seed %u bytes\n", (unsigned)rep.seed_len);
  else printf("refused (%d): %s\n", rc, err.msg);
  rngl_ext_free(&x);
  return rc ? 1 : 0;
}
