/* Which browser requests lisecd refuses (browser.h, docs/ui.md): every one
 * that would change state, and every one of another site but a top-level
 * visit of the compliance view's page. Reads only the request's method,
 * path and its Origin / Sec-Fetch-Site / Sec-Fetch-Mode fields. A browser
 * is known by Origin or Sec-Fetch-Site: every browser that sends
 * Sec-Fetch-Mode sends Sec-Fetch-Site with it (and Origin on a POST),
 * while Node's fetch (undici) sends Sec-Fetch-Mode: cors alone on every
 * request, so that mark alone would refuse a program's writes. */
#include <stdbool.h>
#include <string.h>

#include "api/browser.h"

#define WHY_WRITE                                                                        \
  "a web browser may only read from lisecd: the compliance view changes nothing, and a " \
  "page of any site could send this request with the certificate in the browser "        \
  "(cross-site request forgery; docs/ui.md)"
#define WHY_SITE                                                                         \
  "a page of another site may only open the compliance view (/ui/) in the browser, not " \
  "send lisecd requests with the certificate in it (cross-site request forgery; docs/ui.md)"

static bool is(http1_str v, const char *lit) {
  size_t n = strlen(lit);
  if (v.n != n) return false;
  for (size_t i = 0; i < n; i++) {
    char c = v.p[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != lit[i]) return false;
  }
  return true;
}

/* "/ui" or "/ui/", with or without a query. */
static bool view_page(const char *uri) {
  size_t n = strcspn(uri, "?");
  return (n == 3 && strncmp(uri, "/ui", 3) == 0) || (n == 4 && strncmp(uri, "/ui/", 4) == 0);
}

const char *api_browser_refusal(const http1_request *req, const char *uri) {
  bool safe = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
  bool browser = req->has_origin || req->has_fetch_site;
  if (!safe && browser) return WHY_WRITE;
  if (!req->has_fetch_site || is(req->fetch_site, "same-origin") || is(req->fetch_site, "none"))
    return NULL;
  /* cross-site, same-site, or a value this code does not know */
  if (req->has_fetch_mode && is(req->fetch_mode, "navigate") && view_page(uri)) return NULL;
  return WHY_SITE;
}
