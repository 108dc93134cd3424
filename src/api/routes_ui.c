/* The compliance view (issue 23, docs/ui.md): GET /ui/ serves the page and
 * GET /ui/{file} its script, style sheet and country outlines, all
 * compiled into lisecd (ui_embed.cmake), to operators, auditors and the LI
 * administration; any other role is refused 403 by the router like on any
 * route. The files hold no data: the page reads lisecd's JSON routes with
 * the same client certificate, so what each role sees is what the API
 * already shows it. Every reply carries the Content-Security-Policy of
 * api/ui.h with Referrer-Policy, Cross-Origin-Opener-Policy and
 * Cross-Origin-Resource-Policy (api/conn.c) and Cache-Control: no-store.
 * HEAD of these paths is answered as GET without the body (server.c). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/ui.h"

#define UI_ROLES (API_ROLE_OPERATOR | API_ROLE_AUDITOR | API_ROLE_LI_ADMIN)

const api_ui_asset *api_ui_find(const char *name) {
  for (const api_ui_asset *a = api_ui_assets; a->name; a++)
    if (strcmp(a->name, name) == 0) return a;
  return NULL;
}

const char *api_ui_content_type(const char *name) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
  };
  const char *dot = strrchr(name, '.');
  for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
    if (strcmp(dot, types[i].ext) == 0) return types[i].type;
  return NULL;
}

static int serve(const char *name, api_response *resp) {
  const api_ui_asset *a = api_ui_find(name);
  const char *type = a ? api_ui_content_type(name) : NULL;
  if (!a || !type) {
    api_error(resp, 404, "not_found", "no such file in the compliance view (docs/ui.md)");
    return 0;
  }
  /* A text reply goes out by its length up to the first NUL. */
  if (strlen((const char *)a->data) != a->len) {
    api_error(resp, 500, "internal", "a file of the compliance view holds a NUL byte");
    return 0;
  }
  resp->text = malloc(a->len + 1);
  if (!resp->text) {
    api_error(resp, 503, "unavailable", "out of memory");
    return 0;
  }
  memcpy(resp->text, a->data, a->len + 1);
  resp->content_type = type;
  resp->status = 200;
  return 0;
}

static int get_index(lisec_ctl *ctl, const ctl_actor *actor, const api_request *req,
                     api_response *resp) {
  (void)ctl, (void)actor, (void)req;
  return serve("index.html", resp);
}

static int get_file(lisec_ctl *ctl, const ctl_actor *actor, const api_request *req,
                    api_response *resp) {
  (void)ctl, (void)actor;
  return serve(req->params[0], resp);
}

bool api_ui_head_as_get(const char *method, const char *uri) {
  if (strcmp(method, "HEAD") != 0 || !uri) return false;
  size_t n = strcspn(uri, "?");
  return (n == 3 || (n > 3 && uri[3] == '/')) && strncmp(uri, "/ui", 3) == 0;
}

const api_route api_routes_ui[] = {
    {"GET", "/ui", UI_ROLES, false, get_index, NULL},
    {"GET", "/ui/", UI_ROLES, false, get_index, NULL},
    {"GET", "/ui/{file}", UI_ROLES, false, get_file, NULL},
    {0},
};
