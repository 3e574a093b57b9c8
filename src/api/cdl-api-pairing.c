/* cdl-api-pairing.c: pairing a phone, signing out, and who am I
 *
 *   POST /api/pairing   operator   {name?} -> 201 {code, url, expires_at}
 *   POST /api/pair      public     {code, device?} -> {token, user: {id, name, role}}
 *                                  403 for an unknown, used or expired code;
 *                                  429 past CDL_PAIR_ATTEMPTS_MAX per address
 *   POST /api/logout    any role   revokes the calling token
 *   GET  /api/me        any role   {id, name, role}
 *
 * The url of a code is {public base}/#pair={code}: the base is
 * CDL_PUBLIC_URL when set, else the scheme and Host of the request.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include <string.h>

#include "api/cdl-api-server.h"
#include "core/cdl-json.h"
#include "services/cdl-auth-service.h"

static CdlAuthService *
auth_of (CdlApiRequest *request)
{
  return cdl_instance_get_auth_service (cdl_api_request_get_instance (request));
}

/* A string member of the body: NULL when absent or null; FALSE (and a 400
 * sent) when it is something else. */
static gboolean
body_string (CdlApiRequest  *request,
             const char     *member,
             const char    **value)
{
  JsonNode *body = cdl_api_request_get_body (request);
  JsonNode *node;

  *value = NULL;
  if (body == NULL)
    return TRUE;

  if (!JSON_NODE_HOLDS_OBJECT (body))
    {
      cdl_api_request_reply_error (request, 400, "The body must be a JSON object");
      return FALSE;
    }

  node = json_object_get_member (json_node_get_object (body), member);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_autofree char *message = g_strdup_printf ("%s must be a string", member);

      cdl_api_request_reply_error (request, 400, message);
      return FALSE;
    }

  *value = json_node_get_string (node);
  return TRUE;
}

static JsonNode *
user_json (const CdlUser *user)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, user->id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, user->name);
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, cdl_role_to_string (user->role));
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

/* Where phones reach this server: CDL_PUBLIC_URL, else what the request
 * was addressed to. */
static char *
public_base (CdlApiRequest *request)
{
  const char *env = g_getenv ("CDL_PUBLIC_URL");
  GUri *uri = soup_server_message_get_uri (cdl_api_request_get_message (request));

  if (env != NULL && *env != '\0')
    return g_strdup (env);

  return g_uri_join (G_URI_FLAGS_NONE, g_uri_get_scheme (uri), NULL, g_uri_get_host (uri),
                     g_uri_get_port (uri), "", NULL, NULL);
}

static void
create_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(CdlPairingCode) code = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = NULL;

  code = cdl_auth_service_create_pairing_finish (CDL_AUTH_SERVICE (source), result, &error);
  if (code == NULL)
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, code->code);
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, code->url);
  cdl_json_add_datetime (b, "expires_at", code->expires_at);
  json_builder_end_object (b);
  cdl_api_request_reply_data (request, 201, json_builder_get_root (b));
}

static void
handle_create (CdlApiRequest *request)
{
  g_autofree char *base = NULL;
  const char *name;

  if (!body_string (request, "name", &name))
    return;

  base = public_base (request);
  cdl_auth_service_create_pairing_async (auth_of (request),
                                         cdl_api_request_get_user (request)->id, name, base,
                                         cdl_api_request_get_cancellable (request),
                                         create_done_cb, cdl_api_request_ref (request));
}

static void
pair_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(CdlUser) user = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autofree char *token = NULL;

  token = cdl_auth_service_redeem_pairing_finish (CDL_AUTH_SERVICE (source), result, &user,
                                                  &error);
  if (token == NULL)
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "token");
  json_builder_add_string_value (b, token);
  json_builder_set_member_name (b, "user");
  json_builder_add_value (b, user_json (user));
  json_builder_end_object (b);
  cdl_api_request_reply_data (request, 200, json_builder_get_root (b));
  explicit_bzero (token, strlen (token));
}

static void
handle_pair (CdlApiRequest *request)
{
  const char *code, *device;

  if (!body_string (request, "code", &code) || !body_string (request, "device", &device))
    return;

  cdl_auth_service_redeem_pairing_async (auth_of (request), code, device,
                                         soup_server_message_get_remote_host (
                                           cdl_api_request_get_message (request)),
                                         cdl_api_request_get_cancellable (request),
                                         pair_done_cb, cdl_api_request_ref (request));
}

static void
logout_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = NULL;

  if (!cdl_auth_service_revoke_token_finish (CDL_AUTH_SERVICE (source), result, &error))
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "revoked");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_end_object (b);
  cdl_api_request_reply_data (request, 200, json_builder_get_root (b));
}

static void
handle_logout (CdlApiRequest *request)
{
  SoupMessageHeaders *headers =
    soup_server_message_get_request_headers (cdl_api_request_get_message (request));
  const char *value = soup_message_headers_get_one (headers, "Authorization");

  /* The router let the request in, so the header holds a live token. */
  value += strlen ("Bearer ");
  while (*value == ' ')
    value++;

  cdl_auth_service_revoke_token_async (auth_of (request), value,
                                       cdl_api_request_get_cancellable (request),
                                       logout_done_cb, cdl_api_request_ref (request));
}

static void
handle_me (CdlApiRequest *request)
{
  cdl_api_request_reply_data (request, 200, user_json (cdl_api_request_get_user (request)));
}

void
cdl_api_pairing_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "POST", "/api/pairing", CDL_ROLE_OPERATOR, handle_create);
  cdl_api_server_add_route (self, "POST", "/api/pair", CDL_API_PUBLIC, handle_pair);
  cdl_api_server_add_route (self, "POST", "/api/logout", CDL_ROLE_ANNOTATOR, handle_logout);
  cdl_api_server_add_route (self, "GET", "/api/me", CDL_ROLE_ANNOTATOR, handle_me);
}
