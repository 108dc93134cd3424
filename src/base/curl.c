/* One setup of TLS for every lisec libcurl client (see curl.h): every
 * option is checked, since a libcurl that silently ignored the minimum
 * version or the peer check would leave a client weaker than it says. And
 * the words every client uses for a failed transfer instead of libcurl's,
 * and which TLS alert a refusing server sent. */
#include "base/curl.h"

#include <string.h>

static int set_long(CURL *c, CURLoption o, long v, const char *name, lisec_err *err) {
  CURLcode cc = curl_easy_setopt(c, o, v);
  return cc == CURLE_OK ? 0 : lisec_err_set(err, LISEC_EINVAL, "libcurl refused %s: %s", name, curl_easy_strerror(cc));
}

static int set_str(CURL *c, CURLoption o, const char *v, const char *name, lisec_err *err) {
  CURLcode cc = curl_easy_setopt(c, o, v);
  return cc == CURLE_OK ? 0 : lisec_err_set(err, LISEC_EINVAL, "libcurl refused %s: %s", name, curl_easy_strerror(cc));
}

int lisec_curl_tls_setup(CURL *c, const char *ca, const char *cert, const char *key, lisec_err *err) {
  if (!c || !ca || !*ca) return lisec_err_set(err, LISEC_EINVAL, "an HTTPS client needs a CA file");
  if (!cert != !key) return lisec_err_set(err, LISEC_EINVAL, "a client certificate needs its key, and a key its certificate");
  int rc = set_str(c, CURLOPT_PROTOCOLS_STR, "https", "https only", err);
  if (!rc) rc = set_long(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2, "TLS 1.2 or later", err);
  if (!rc) rc = set_long(c, CURLOPT_SSL_VERIFYPEER, 1L, "verifying the peer", err);
  if (!rc) rc = set_long(c, CURLOPT_SSL_VERIFYHOST, 2L, "verifying the host name", err);
  if (!rc) rc = set_str(c, CURLOPT_CAINFO, ca, "the CA file", err);
  /* only the CA configured, never the system's store */
  if (!rc) rc = set_str(c, CURLOPT_CAPATH, NULL, "no CA directory", err);
  if (!rc && cert) rc = set_str(c, CURLOPT_SSLCERT, cert, "the client certificate", err);
  if (!rc && cert) rc = set_str(c, CURLOPT_SSLCERTTYPE, "PEM", "a PEM certificate", err);
  if (!rc && key) rc = set_str(c, CURLOPT_SSLKEY, key, "the client key", err);
  if (!rc && key) rc = set_str(c, CURLOPT_SSLKEYTYPE, "PEM", "a PEM key", err);
  return rc;
}

const char *lisec_curl_words(CURLcode cc) {
  switch (cc) {
  case CURLE_OK: return "done";
  case CURLE_UNSUPPORTED_PROTOCOL: return "the address is not an https:// URL";
  case CURLE_URL_MALFORMAT: return "the address is not a well-formed URL";
  case CURLE_COULDNT_RESOLVE_PROXY: return "the proxy's host name does not resolve";
  case CURLE_COULDNT_RESOLVE_HOST: return "the host name does not resolve";
  case CURLE_COULDNT_CONNECT: return "nothing accepted the connection at that address and port";
  case CURLE_OPERATION_TIMEDOUT: return "no answer in time";
  case CURLE_SSL_CONNECT_ERROR:
    return "the TLS handshake failed: the server closed it or refused this client";
  case CURLE_PEER_FAILED_VERIFICATION:
    return "the server's certificate is not signed by the CA given, does not name the host, or "
           "expired";
  case CURLE_SSL_CERTPROBLEM: return "the client certificate or its key cannot be used";
  case CURLE_SSL_CIPHER: return "no TLS cipher in common with the server";
  case CURLE_SSL_CACERT_BADFILE: return "the CA file cannot be read as PEM certificates";
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED: return "the TLS library cannot be set up";
  case CURLE_SEND_ERROR: return "the connection broke while sending the request";
  case CURLE_RECV_ERROR: return "the connection broke while waiting for the answer";
  case CURLE_GOT_NOTHING: return "the server closed the connection without answering";
  case CURLE_WRITE_ERROR: return "the answer is larger than this client accepts";
  case CURLE_READ_ERROR: return "the request body could not be read";
  case CURLE_OUT_OF_MEMORY: return "out of memory";
  case CURLE_TOO_MANY_REDIRECTS: return "too many redirects";
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_WEIRD_SERVER_REPLY: return "the server's answer is not HTTP";
  case CURLE_PARTIAL_FILE: return "the answer ended before its announced length";
  case CURLE_ABORTED_BY_CALLBACK: return "the request was cancelled";
  case CURLE_SSL_SHUTDOWN_FAILED: return "the TLS connection did not close cleanly";
  case CURLE_SSL_CRL_BADFILE: return "the CRL file cannot be read";
  case CURLE_SSL_ISSUER_ERROR: return "the server's certificate is not from the expected issuer";
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH: return "the server's key is not the pinned one";
  case CURLE_SSL_INVALIDCERTSTATUS: return "the server's certificate status is not good";
  case CURLE_FAILED_INIT: return "the HTTP client could not start";
  default: return "the request failed on the way (no HTTP answer)";
  }
}

/* The alerts a server sends when it does not accept the client's certificate. */
static const char *const cert_alerts[] = {
    "alert unknown ca",          "alert certificate required",    "alert bad certificate",
    "alert certificate unknown", "alert certificate expired",     "alert certificate revoked",
    "alert unsupported certificate", "alert access denied",       "alert decrypt error",
};

const char *lisec_curl_cert_alert(const char *curl_text) {
  if (!curl_text) return NULL;
  for (size_t i = 0; i < sizeof cert_alerts / sizeof cert_alerts[0]; i++)
    if (strstr(curl_text, cert_alerts[i])) return cert_alerts[i];
  return NULL;
}
