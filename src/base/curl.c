/* One setup of TLS for every lisec libcurl client (see curl.h): every
 * option is checked, since a libcurl that silently ignored the minimum
 * version or the peer check would leave a client weaker than it says. */
#include "base/curl.h"

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
