/* The CLI's HTTPS client (libcurl, TLS 1.2 minimum, server verified against
 * the given CA, client certificate presented) and its output helpers. */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CLI_REPLY_MAX (64u << 20)

cli_options cli;

int cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("lisec: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return CLI_ERROR;
}

void cli_print_json(const json_t *v) {
  char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
  if (s) puts(s);
  free(s);
}

int cli_http_error(long status, const json_t *reply) {
  const char *msg = json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
  if (cli.json && reply) cli_print_json(reply);
  else fprintf(stderr, "lisec: server answered %ld: %s\n", status, msg ? msg : "(no message)");
  /* Refusals (403, 409) are answers; anything else is an error. */
  return status == 403 || status == 409 ? CLI_REFUSED : CLI_ERROR;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  lisec_buf *b = ud;
  return lisec_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

int cli_http(const char *method, const char *path, const json_t *body, long *status, json_t **out,
             lisec_err *err) {
  *out = NULL;
  if (!cli.cert || !cli.key || !cli.ca)
    return lisec_err_set(err, LISEC_EINVAL,
                         "a client certificate is needed: --cert, --key and --ca (or --pki DIR --role ROLE)");
  static bool curl_ready;
  if (!curl_ready) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl_ready = true;
  }
  CURL *c = curl_easy_init();
  if (!c) return lisec_err_set(err, LISEC_ENOMEM, "cannot start libcurl");
  char url[2048];
  snprintf(url, sizeof url, "%s%s", cli.server, path);
  char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
  struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
  lisec_buf reply;
  lisec_buf_init(&reply, CLI_REPLY_MAX);
  char curl_msg[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(c, CURLOPT_CAINFO, cli.ca);
  curl_easy_setopt(c, CURLOPT_SSLCERT, cli.cert);
  curl_easy_setopt(c, CURLOPT_SSLKEY, cli.key);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_msg);
  if (payload) curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
  CURLcode cc = curl_easy_perform(c);
  int rc = 0;
  if (cc != CURLE_OK) {
    const char *hint = "";
    if (cc == CURLE_COULDNT_CONNECT) hint = " (is lisecd running there?)";
    else if (cc == CURLE_SSL_CACERT || cc == CURLE_PEER_FAILED_VERIFICATION)
      hint = " (the server's certificate is not signed by --ca)";
    else if (cc == CURLE_RECV_ERROR || cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SEND_ERROR)
      hint = " (the server may have refused the client certificate)";
    rc = lisec_err_set(err, LISEC_EUNAVAIL, "%s: %s%s", url, curl_msg[0] ? curl_msg : curl_easy_strerror(cc), hint);
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (reply.len) {
      json_error_t je;
      *out = json_loadb((const char *)reply.data, reply.len, 0, &je);
    }
  }
  lisec_buf_free(&reply);
  free(payload);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return rc;
}
