/* The compliance view's files (src/api/ui/), compiled into lisecd by
 * ui_embed.cmake, and the Content-Security-Policy every reply of lisecd
 * carries: the view's page may load script, style, images and data from
 * lisecd alone, run no inline script, and be framed by nobody; a JSON or
 * text reply opened in a browser is held to the same (docs/ui.md). With
 * it go Referrer-Policy, Cross-Origin-Opener-Policy and
 * Cross-Origin-Resource-Policy (api/conn.c, reply_head). */
#ifndef LISEC_API_UI_H
#define LISEC_API_UI_H

#include <stdbool.h>
#include <stddef.h>

#define API_UI_CSP                                                                            \
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src "    \
  "'self'; font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; "        \
  "frame-ancestors 'none'"

/* One embedded file: its name under /ui/ ("app.js") and its bytes, which
 * end with a NUL not counted in len (the files are text). */
typedef struct api_ui_asset {
  const char *name;
  const unsigned char *data;
  size_t len;
} api_ui_asset;

/* Generated: every file of src/api/ui/, in name order, ending with {0}. */
extern const api_ui_asset api_ui_assets[];

/* Whether a request is a HEAD of the view's files ("/ui", "/ui/" and
 * "/ui/{file}", with or without a query), which lisecd routes and answers
 * as GET without the body: they hold no data and reading them records
 * nothing. Any other HEAD is 405, as before. */
bool api_ui_head_as_get(const char *method, const char *uri);
/* The asset called name, or NULL. */
const api_ui_asset *api_ui_find(const char *name);
/* The content type lisecd serves an asset with, from its name's extension;
 * NULL for an extension it does not serve. */
const char *api_ui_content_type(const char *name);

#endif
