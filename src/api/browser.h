/* Requests made by a web browser (docs/ui.md, "A browser may only read").
 * An operator, auditor or LI administrator imports a lisec client
 * certificate into a browser to open the compliance view; that browser
 * then presents it to lisecd for any page that asks, a page of another
 * site included, and a POST a page sends without CORS (a no-cors fetch or
 * a form with a text/plain body) reaches lisecd and is acted on even
 * though the page cannot read the reply. lisecd's clients that change
 * state (the CLI, MANO, agents, hooks) are no browsers and send no Origin
 * or Sec-Fetch-Site (Node's fetch sends Sec-Fetch-Mode alone, which no
 * browser does), and the view only reads: so a request that would change
 * state and carries a browser's marks (Origin, Sec-Fetch-Site) is
 * refused, and so is a request of another site (Sec-Fetch-Site cross-site
 * or same-site) but a top-level visit of the view's page. Pure: the front (server.c) asks
 * before any route sees the request. */
#ifndef LISEC_API_BROWSER_H
#define LISEC_API_BROWSER_H

#include "api/http1.h"

/* NULL when the request may go on; otherwise the sentence of its 403.
 * uri is the request-target (path and query). */
const char *api_browser_refusal(const http1_request *req, const char *uri);

#endif
