/* The TLS settings of every lisec HTTPS client (lisecd's X1 client, the lisec
 * CLI, lisec-agent, lisec-entropyd's report client), in one place so none of
 * them can drift: https only, TLS 1.2 or later, the server's certificate and
 * name verified against the configured CA alone (not the system store), and
 * the client's own certificate presented. Kept apart from base.h and built as
 * its own library (lisec_curl) so that base/ stays free of libcurl for the
 * parts that do not speak HTTP. */
#ifndef LISEC_BASE_CURL_H
#define LISEC_BASE_CURL_H

#include <curl/curl.h>

#include "base/base.h"

/* Sets the options above on c. ca is required; cert and key (PEM) may be
 * NULL for no client certificate. EINVAL, saying which, when libcurl refuses
 * one (e.g. a libcurl without TLS 1.2), so a client never runs with less. */
int lisec_curl_tls_setup(CURL *c, const char *ca, const char *cert, const char *key, lisec_err *err);

/* What a failed transfer means, in words a user can act on, for every
 * libcurl result: libcurl's own texts ("getpeername() failed with errno
 * 107", "OpenSSL SSL_connect: SSL_ERROR_SYSCALL") name its internals, not
 * what went wrong, so no lisec client shows them. Never NULL. */
const char *lisec_curl_words(CURLcode cc);

/* The TLS alert by which a server refused this client's certificate, read
 * from libcurl's error text (OpenSSL spells them "alert <words>", RFC 8446
 * 6.2): e.g. "alert certificate revoked". NULL when the text names none. */
const char *lisec_curl_cert_alert(const char *curl_text);

#endif
