/* The CLI's shared helpers: output in human or JSON form, and the HTTPS
 * client every subcommand uses to reach lisecd (libcurl; TLS 1.2 minimum;
 * lisecd's certificate verified by chain and name against --ca; this
 * client's certificate and key presented). Most of the code here turns
 * libcurl's and OpenSSL's failure texts into a sentence that says what went
 * wrong and what to check, because a bare "SSL_read: alert unknown ca" tells
 * an operator nothing about which side refused whom. */
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/curl.h"
#include "cli.h"
#include "crypto/crypto.h"

/* A reply larger than this is refused rather than buffered. */
#define CLI_REPLY_MAX (64u << 20)
#define CLI_TIMEOUT_S 60L
#define CLI_CONNECT_TIMEOUT_S 10L

cli_options cli;

/* The code of the last failed request (a LISEC_E*), for the cli_fail that
 * reports it; 0 when the failure at hand is a local one. */
static int last_transport_code;

/* A local error under --json: the shape of lisecd's error replies, with
 * "source": "lisec" so a script can tell who refused. */
static void print_json_error(const char *code, const char *msg) {
  json_t *o = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code, "message", msg, "source", "lisec");
  if (o) cli_print_json(o);
  else fputs("{\"error\": {\"code\": \"out_of_memory\", \"source\": \"lisec\"}}\n", stdout);
  json_decref(o);
}

static int vfail(int exit_code, const char *code, const char *fmt, va_list ap) {
  char msg[8192];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (cli.help) {
    /* help was asked for: the usage text is the answer */
    puts(msg);
    return CLI_OK;
  }
  if (!code) code = last_transport_code ? lisec_err_name(last_transport_code) : "invalid";
  last_transport_code = 0;
  if (cli.json) print_json_error(code, msg);
  else fprintf(stderr, "lisec: %s\n", msg);
  return exit_code;
}

int cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(CLI_ERROR, NULL, fmt, ap);
  va_end(ap);
  return rc;
}

int cli_refuse(const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(CLI_REFUSED, code, fmt, ap);
  va_end(ap);
  return rc;
}

void cli_print_json(const json_t *v) {
  char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  if (s) puts(s);
  free(s);
}

void cli_print(const json_t *v, void (*human)(const json_t *v)) {
  if (cli.json || !human) cli_print_json(v);
  else human(v);
}

const char *cli_str(const json_t *object, const char *key) {
  const char *s = json_string_value(json_object_get(object, key));
  return s ? s : "?";
}

int cli_path_id(const char *id, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
    bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '-' || *p == '.' || *p == '_' || *p == '~';
    if (n + (plain ? 1 : 3) >= cap)
      return cli_fail("an id over %zu bytes cannot be named; an id is " LISEC_ID_RULE, cap / 3);
    if (plain) {
      out[n++] = (char)*p;
    } else {
      out[n++] = '%';
      out[n++] = hex[*p >> 4];
      out[n++] = hex[*p & 15];
    }
  }
  out[n] = '\0';
  return CLI_OK;
}

int cli_http_error(long status, const json_t *reply) {
  const char *msg = json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
  if (cli.json && reply) {
    cli_print_json(reply);
  } else if (cli.json) {
    /* no JSON came back (a proxy's page, an empty body): said as JSON */
    char m[96];
    snprintf(m, sizeof m, "lisecd answered HTTP %ld without a JSON body", status);
    json_t *o = json_pack("{s:{s:s, s:s, s:I, s:s}}", "error", "code", "http", "message", m,
                          "status", (json_int_t)status, "source", "lisec");
    if (o) cli_print_json(o);
    json_decref(o);
  } else {
    fprintf(stderr, "lisec: lisecd answered %ld: %s\n", status, msg ? msg : "(no message)");
  }
  /* Refusals (403, 409) are answers; anything else is an error. */
  return status == 403 || status == 409 ? CLI_REFUSED : CLI_ERROR;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  lisec_buf *b = ud;
  return lisec_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* Why lisecd may have refused our certificate, as far as this side can tell
 * without lisecd's trust store: wrong purpose, expired, or not from the CA
 * that signed lisecd's own certificate. Empty when nothing is visibly wrong. */
static void diagnose_client_cert(char *out, size_t len) {
  X509 *c = NULL;
  lisec_err e = {0};
  out[0] = '\0';
  if (crypto_x509_load_pem(cli.cert, &c, &e) != 0) {
    snprintf(out, len, ": %s", e.msg);
    return;
  }
  if (X509_check_purpose(c, X509_PURPOSE_SSL_CLIENT, 0) != 1)
    snprintf(out, len, ": %s is not made for client authentication (extendedKeyUsage)", cli.cert);
  else if (X509_cmp_current_time(X509_get0_notAfter(c)) < 0)
    snprintf(out, len, ": %s has expired", cli.cert);
  else if (X509_cmp_current_time(X509_get0_notBefore(c)) > 0)
    snprintf(out, len, ": %s is not valid yet", cli.cert);
  else if (crypto_x509_verify(c, cli.ca, 0, &e) != 0)
    snprintf(out, len, ": %s is not signed by the CA in %s (%s)", cli.cert, cli.ca, e.msg);
  ERR_clear_error();
  X509_free(c);
}

/* Explains a failed transfer in lisec's words; returns the negative code
 * set in err. libcurl's text (msg) is read to tell cases apart (which TLS
 * alert lisecd sent, which check of its certificate failed) but never
 * shown: it names libcurl's and OpenSSL's internals ("getpeername() failed
 * with errno 107"), not what the user can do. */
static int explain(CURLcode cc, const char *msg, const char *url, lisec_err *err) {
  const char *alert = lisec_curl_cert_alert(msg);
  if (alert) {
    char why[1024];
    diagnose_client_cert(why, sizeof why);
    return lisec_err_set(err, LISEC_EAUTH,
                         "lisecd at %s refused the client certificate %s (TLS %s)%s%s", cli.server,
                         cli.cert, alert, why[0] ? "" : ": it must be signed by a "
                         "CA that lisecd trusts (its [tls] client_ca), unexpired, and made for "
                         "client authentication", why);
  }
  if (strstr(msg, "alert protocol version"))
    return lisec_err_set(err, LISEC_EAUTH,
                         "lisecd at %s and this client share no TLS version (lisec needs TLS 1.2 or later)",
                         cli.server);
  switch (cc) {
  case CURLE_COULDNT_CONNECT:
    /* libcurl's "getpeername() failed with errno 107": the connection was
     * accepted and closed before a byte was sent */
    if (strstr(msg, "getpeername") || strstr(msg, "not connected"))
      return lisec_err_set(err, LISEC_EUNAVAIL,
                           "%s accepted the connection and closed it at once (lisecd at its "
                           "connection limit, or something else listening at that port)",
                           cli.server);
    return lisec_err_set(err, LISEC_EUNAVAIL,
                         "cannot connect to %s: %s (is lisecd running there, on that port?)",
                         cli.server, lisec_curl_words(cc));
  case CURLE_COULDNT_RESOLVE_HOST:
    return lisec_err_set(err, LISEC_EUNAVAIL, "cannot reach %s: %s", cli.server, lisec_curl_words(cc));
  case CURLE_OPERATION_TIMEDOUT:
    return lisec_err_set(err, LISEC_EUNAVAIL, "%s did not answer within %ld s", url, CLI_TIMEOUT_S);
  case CURLE_PEER_FAILED_VERIFICATION:
    if (strstr(msg, "name") || strstr(msg, "host"))
      return lisec_err_set(err, LISEC_EAUTH,
                           "lisecd's certificate does not name the host in %s (the development "
                           "PKI's names localhost, 127.0.0.1 and ::1)",
                           cli.server);
    if (strstr(msg, "expired"))
      return lisec_err_set(err, LISEC_EAUTH, "lisecd's certificate at %s has expired", cli.server);
    return lisec_err_set(err, LISEC_EAUTH,
                         "lisecd's certificate at %s is not signed by the CA in %s (or it is not "
                         "valid now)",
                         cli.server, cli.ca);
  case CURLE_SSL_CERTPROBLEM:
    return lisec_err_set(err, LISEC_EINVAL,
                         "cannot use the client certificate %s with the key %s (both PEM? the key "
                         "of that certificate? an encrypted key is not supported)",
                         cli.cert, cli.key);
  case CURLE_SSL_CACERT_BADFILE:
    return lisec_err_set(err, LISEC_EINVAL, "cannot use %s as the CA certificate: %s", cli.ca,
                         lisec_curl_words(cc));
  case CURLE_WRITE_ERROR:
    return lisec_err_set(err, LISEC_ETOOBIG, "the reply from %s is larger than %u bytes", url,
                         CLI_REPLY_MAX);
  case CURLE_UNSUPPORTED_PROTOCOL:
    return lisec_err_set(err, LISEC_EINVAL, "%s: lisecd is reached over https:// only", url);
  default:
    /* A server that drops the connection during or right after the
     * handshake has most often refused the certificate without saying so. */
    if (cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
        cc == CURLE_GOT_NOTHING)
    {
      char why[1024];
      diagnose_client_cert(why, sizeof why);
      if (why[0])
        return lisec_err_set(err, LISEC_EAUTH, "lisecd at %s refused the client certificate%s",
                             cli.server, why);
      return lisec_err_set(err, LISEC_EUNAVAIL,
                           "%s: %s; if it is lisecd, most likely it refused the client certificate "
                           "%s (signed by a CA it does not trust, or revoked), or it is not lisecd "
                           "(not TLS) at that port",
                           cli.server, lisec_curl_words(cc), cli.cert);
    }
    return lisec_err_set(err, LISEC_EUNAVAIL, "%s: %s", url, lisec_curl_words(cc));
  }
}

/* The mistakes that need no network to find, each with its own sentence. */
static int check_setup(lisec_err *err) {
  if (!cli.cert || !cli.key || !cli.ca)
    return lisec_err_set(err, LISEC_EINVAL,
                         "a client certificate is needed: --cert, --key and --ca (or --pki DIR "
                         "--role ROLE, or LISEC_CERT, LISEC_KEY, LISEC_CA)");
  if (strncmp(cli.server, "https://", 8) != 0)
    return lisec_err_set(err, LISEC_EINVAL,
                         "--server must be an https:// URL (lisecd speaks only mutual TLS), not %s",
                         cli.server);
  const struct {
    const char *what, *path;
  } files[] = {{"client certificate", cli.cert}, {"client key", cli.key}, {"CA certificate", cli.ca}};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(files); i++)
    if (access(files[i].path, R_OK) != 0)
      return lisec_err_set(err, LISEC_EINVAL, "cannot read the %s %s: %s", files[i].what,
                           files[i].path, strerror(errno));
  return 0;
}

int cli_http_request(const char *method, const char *path, const json_t *body, long *status,
                     json_t **json_out, lisec_err *err) {
  *json_out = NULL;
  *status = 0;
  int rc = check_setup(err);
  last_transport_code = rc;
  if (rc) return rc;
  char url[2048];
  int n = snprintf(url, sizeof url, "%s%s", cli.server, path);
  if (n < 0 || (size_t)n >= sizeof url)
    return lisec_err_set(err, LISEC_ETOOBIG, "the URL %s%s is too long", cli.server, path);
  static bool curl_ready;
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      return lisec_err_set(err, LISEC_EINTERNAL, "cannot initialise libcurl");
    curl_ready = true;
  }
  CURL *c = curl_easy_init();
  if (!c) return lisec_err_set(err, LISEC_ENOMEM, "cannot start libcurl");
  char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
  struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: application/json");
  lisec_buf reply;
  lisec_buf_init(&reply, CLI_REPLY_MAX);
  char curl_msg[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  /* lisec's one TLS client setup (base/curl.h): only the CA named on the
   * command line, not the system's store */
  if ((rc = lisec_curl_tls_setup(c, cli.ca, cli.cert, cli.key, err))) {
    curl_easy_cleanup(c);
    free(payload);
    curl_slist_free_all(headers);
    lisec_buf_free(&reply);
    return rc;
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, CLI_TIMEOUT_S);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CLI_CONNECT_TIMEOUT_S);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_msg);
  if (payload) curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
  CURLcode cc = curl_easy_perform(c);
  if (cc != CURLE_OK) {
    rc = explain(cc, curl_msg[0] ? curl_msg : curl_easy_strerror(cc), url, err);
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (reply.len) {
      json_error_t je;
      *json_out = json_loadb((const char *)reply.data, reply.len, 0, &je);
    }
  }
  lisec_buf_free(&reply);
  free(payload);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  last_transport_code = rc;
  return rc;
}
