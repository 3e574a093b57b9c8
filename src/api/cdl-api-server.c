/* cdl-api-server.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include <string.h>

#include "api/cdl-api-private.h"
#include "api/cdl-api-server.h"
#include "core/cdl-json.h"
#include "core/cdl-metrics.h"
#include "services/cdl-service-error.h"

typedef struct
{
  char          *method;
  char         **segments;  /* "api", "workers", "{id}" */
  int            min_role;
  CdlApiHandler  handler;
} Route;

struct _CdlApiServer
{
  GObject      parent_instance;
  CdlInstance *instance;
  SoupServer  *server;
  GPtrArray   *routes;
  gsize        max_body;
  guint        port;
  char        *address;
};

G_DEFINE_FINAL_TYPE (CdlApiServer, cdl_api_server, G_TYPE_OBJECT)

static void
route_free (gpointer data)
{
  Route *route = data;

  g_free (route->method);
  g_strfreev (route->segments);
  g_free (route);
}

static void
cdl_api_server_dispose (GObject *object)
{
  CdlApiServer *self = (CdlApiServer *)object;

  cdl_api_server_disconnect (self);
  g_clear_object (&self->server);
  g_clear_object (&self->instance);

  G_OBJECT_CLASS (cdl_api_server_parent_class)->dispose (object);
}

static void
cdl_api_server_finalize (GObject *object)
{
  CdlApiServer *self = (CdlApiServer *)object;

  g_clear_pointer (&self->routes, g_ptr_array_unref);
  g_clear_pointer (&self->address, g_free);

  G_OBJECT_CLASS (cdl_api_server_parent_class)->finalize (object);
}

static void
cdl_api_server_class_init (CdlApiServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_api_server_dispose;
  object_class->finalize = cdl_api_server_finalize;
}

static void
cdl_api_server_init (CdlApiServer *self)
{
  self->routes = g_ptr_array_new_with_free_func (route_free);
  self->max_body = CDL_API_DEFAULT_MAX_BODY;
}

static char **
split_path (const char *path)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);

  /* Empty segments (leading, trailing or doubled slashes) do not count. */
  for (guint i = 0; parts[i] != NULL; i++)
    if (*parts[i] != '\0')
      g_strv_builder_add (builder, parts[i]);

  return g_strv_builder_end (builder);
}

void
cdl_api_server_add_route (CdlApiServer  *self,
                          const char    *method,
                          const char    *pattern,
                          int            min_role,
                          CdlApiHandler  handler)
{
  Route *route;

  g_return_if_fail (CDL_IS_API_SERVER (self));
  g_return_if_fail (method != NULL && pattern != NULL && handler != NULL);

  route = g_new0 (Route, 1);
  route->method = g_strdup (method);
  route->segments = split_path (pattern);
  route->min_role = min_role;
  route->handler = handler;
  g_ptr_array_add (self->routes, route);
}

/* Returns the {name} captures when @route matches @segments, else NULL. */
static GHashTable *
route_match (const Route *route,
             char       **segments)
{
  g_autoptr(GHashTable) params = NULL;
  guint n = g_strv_length (route->segments);
  const char *last = n > 0 ? route->segments[n - 1] : "";
  gsize last_len = strlen (last);
  gboolean rest = last_len > 3 && last[0] == '{' && g_str_has_suffix (last, "*}");

  /* A last segment "{name*}" takes the rest of the path, one segment or
   * more, joined with "/" again (e.g. /media/{key*}). */
  if (rest ? g_strv_length (segments) < n : g_strv_length (segments) != n)
    return NULL;

  params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (rest)
    {
      g_autoptr(GString) value = g_string_new (NULL);

      for (guint i = n - 1; segments[i] != NULL; i++)
        {
          g_autofree char *part = g_uri_unescape_string (segments[i], NULL);

          if (part == NULL)
            return NULL;
          if (value->len > 0)
            g_string_append_c (value, '/');
          g_string_append (value, part);
        }
      g_hash_table_insert (params, g_strndup (last + 1, last_len - 3),
                           g_string_free (g_steal_pointer (&value), FALSE));
      n--;
    }

  for (guint i = 0; i < n; i++)
    {
      const char *want = route->segments[i];
      gsize len = strlen (want);

      if (len > 2 && want[0] == '{' && want[len - 1] == '}')
        {
          g_autofree char *value = g_uri_unescape_string (segments[i], NULL);

          if (value == NULL)
            return NULL;
          g_hash_table_insert (params, g_strndup (want + 1, len - 2), g_steal_pointer (&value));
        }
      else if (strcmp (want, segments[i]) != 0)
        {
          return NULL;
        }
    }

  return g_steal_pointer (&params);
}

static void
reply_plain_error (SoupServerMessage *msg,
                   CdlInstance       *instance,
                   guint              status,
                   const char        *message)
{
  CdlApiRequest *request = cdl_api_request_new (instance, msg, NULL, NULL);

  cdl_api_request_reply_error (request, status, message);
  cdl_api_request_unref (request);
}

typedef struct
{
  CdlApiRequest *request;
  CdlApiHandler  handler;
  int            min_role;
} Dispatch;

static void
dispatch_free (Dispatch *d)
{
  cdl_api_request_unref (d->request);
  g_free (d);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Dispatch, dispatch_free)

static gboolean
method_has_body (const char *method)
{
  return strcmp (method, "POST") == 0 || strcmp (method, "PATCH") == 0
         || strcmp (method, "PUT") == 0;
}

static gboolean
is_multipart (SoupServerMessage *msg)
{
  const char *type =
    soup_message_headers_get_content_type (soup_server_message_get_request_headers (msg), NULL);

  return type != NULL && g_ascii_strncasecmp (type, "multipart/", 10) == 0;
}

/* Parses the body and hands the request to its handler. */
static void
dispatch_run (Dispatch *d)
{
  CdlApiRequest *request = d->request;
  SoupServerMessage *msg = request->msg;
  const char *method = soup_server_message_get_method (msg);

  /* Multipart uploads are read by their handler; anything else with a body
   * must be JSON. */
  if (method_has_body (method) && !is_multipart (msg))
    {
      SoupMessageBody *body = soup_server_message_get_request_body (msg);
      g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
      g_autoptr(GError) error = NULL;
      gsize len = 0;
      const char *data = g_bytes_get_data (bytes, &len);

      if (len == 0)
        {
          /* POST /api/workers/{id}/test and the like carry no body. */
          request->body = NULL;
        }
      else
        {
          request->body = cdl_json_parse (data, len, &error);
          if (request->body == NULL)
            {
              g_autofree char *message =
                g_strdup_printf ("The body is not valid JSON: %s", error->message);

              cdl_api_request_reply_error (request, 400, message);
              return;
            }
        }
    }

  d->handler (request);
}

static void
auth_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(Dispatch) d = user_data;
  g_autoptr(GError) error = NULL;
  CdlUser *user;

  user = cdl_auth_service_authenticate_finish (CDL_AUTH_SERVICE (source), result, &error);
  if (user == NULL)
    {
      cdl_api_request_reply_gerror (d->request, error);
      return;
    }

  d->request->user = user;

  if (!cdl_role_allows (user->role, d->min_role))
    {
      g_autofree char *message =
        g_strdup_printf ("This needs the %s role; %s is signed in as %s",
                         cdl_role_to_string (d->min_role), user->name,
                         cdl_role_to_string (user->role));

      cdl_api_request_reply_error (d->request, 403, message);
      return;
    }

  dispatch_run (d);
}

static const char *
bearer_token (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *value = soup_message_headers_get_one (headers, "Authorization");

  if (value == NULL || g_ascii_strncasecmp (value, "Bearer ", 7) != 0)
    return NULL;

  value += 7;
  while (*value == ' ')
    value++;

  return *value ? value : NULL;
}

static void
handle_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  CdlApiServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  g_auto(GStrv) segments = split_path (path);
  g_autoptr(GHashTable) params = NULL;
  const Route *route = NULL;
  gboolean path_known = FALSE;
  g_autofree char *pattern = NULL;
  Dispatch *d;
  const char *token;

  if (strcmp (path, "/") == 0 && (strcmp (method, "GET") == 0 || strcmp (method, "HEAD") == 0))
    {
      cdl_api_web_serve (msg, "index.html");
      return;
    }

  for (guint i = 0; i < self->routes->len && route == NULL; i++)
    {
      const Route *r = g_ptr_array_index (self->routes, i);
      g_autoptr(GHashTable) captures = route_match (r, segments);

      if (captures == NULL)
        continue;

      path_known = TRUE;
      if (strcmp (r->method, method) == 0)
        {
          route = r;
          params = g_steal_pointer (&captures);
        }
    }

  if (route == NULL)
    {
      if (path_known)
        reply_plain_error (msg, self->instance, 405,
                           "This method is not allowed on this path");
      else
        reply_plain_error (msg, self->instance, 404, "No such API route");
      return;
    }

  /* The early handler refused declared large bodies; this catches chunked
   * ones that turned out too large. */
  if (soup_server_message_get_request_body (msg)->length > (goffset)self->max_body)
    {
      g_autofree char *message =
        g_strdup_printf ("The body is larger than the %" G_GSIZE_FORMAT " bytes allowed",
                         self->max_body);

      reply_plain_error (msg, self->instance, 413, message);
      return;
    }

  /* Metrics count requests by pattern, never by raw path. */
  pattern = g_strjoinv ("/", route->segments);
  g_object_set_data_full (G_OBJECT (msg), "cdl-route", g_strconcat ("/", pattern, NULL),
                          g_free);

  d = g_new0 (Dispatch, 1);
  d->request = cdl_api_request_new (self->instance, msg, g_steal_pointer (&params), query);
  d->handler = route->handler;
  d->min_role = route->min_role;

  /* Every request is answered from a callback or right away; pausing now
   * is harmless in the second case. */
  cdl_api_request_pause (d->request);

  if (route->min_role == CDL_API_PUBLIC)
    {
      dispatch_run (d);
      dispatch_free (d);
      return;
    }

  token = bearer_token (msg);
  if (token == NULL)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "WWW-Authenticate", "Bearer");
      cdl_api_request_reply_error (d->request, 401,
                                   "Sign in first: send Authorization: Bearer <token>");
      dispatch_free (d);
      return;
    }

  cdl_auth_service_authenticate_async (cdl_instance_get_auth_service (self->instance),
                                       token, d->request->cancellable, auth_done_cb, d);
}

static void
early_cb (SoupServer        *server,
          SoupServerMessage *msg,
          const char        *path,
          GHashTable        *query,
          gpointer           user_data)
{
  CdlApiServer *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (headers) > (goffset)self->max_body)
    {
      g_autofree char *message =
        g_strdup_printf ("The body is larger than the %" G_GSIZE_FORMAT " bytes allowed",
                         self->max_body);

      reply_plain_error (msg, self->instance, 413, message);
    }
}

typedef struct
{
  gint64 started;
} Timing;

static void
finished_cb (SoupServerMessage *msg,
             gpointer           user_data)
{
  Timing *timing = user_data;
  const char *route = g_object_get_data (G_OBJECT (msg), "cdl-route");
  g_autofree char *status = g_strdup_printf ("%u", soup_server_message_get_status (msg));
  g_autofree char *counted = NULL;
  g_autofree char *timed = NULL;

  route = route ? route : "(other)";
  counted = cdl_metrics_labels ("route", route, "method", soup_server_message_get_method (msg),
                                "status", status, NULL);
  timed = cdl_metrics_labels ("route", route, NULL);
  cdl_metrics_inc (cdl_metrics_get_default (), "cdl_http_requests_total", counted);
  cdl_metrics_observe (cdl_metrics_get_default (), "cdl_http_request_seconds", timed,
                       (g_get_monotonic_time () - timing->started) / 1e6);

  /* The path only: query strings may carry signatures. */
  g_debug ("%s %s %u %.1f ms",
           soup_server_message_get_method (msg),
           g_uri_get_path (soup_server_message_get_uri (msg)),
           soup_server_message_get_status (msg),
           (g_get_monotonic_time () - timing->started) / 1000.0);
}

static void
request_started_cb (SoupServer        *server,
                    SoupServerMessage *msg,
                    gpointer           user_data)
{
  Timing *timing = g_new0 (Timing, 1);

  timing->started = g_get_monotonic_time ();
  g_signal_connect_data (msg, "finished", G_CALLBACK (finished_cb), timing,
                         (GClosureNotify)(void (*) (void))g_free, 0);
}

CdlApiServer *
cdl_api_server_new (CdlInstance *instance)
{
  CdlApiServer *self;

  g_return_val_if_fail (CDL_IS_INSTANCE (instance), NULL);

  self = g_object_new (CDL_TYPE_API_SERVER, NULL);
  self->instance = g_object_ref (instance);
  self->server = soup_server_new ("server-header", "comfy-datalabel/" PACKAGE_VERSION " ",
                                  NULL);

  soup_server_add_early_handler (self->server, NULL, early_cb, self, NULL);
  soup_server_add_handler (self->server, NULL, handle_cb, self, NULL);
  g_signal_connect (self->server, "request-started", G_CALLBACK (request_started_cb), NULL);

  cdl_api_workers_register (self);
  cdl_api_pools_register (self);
  cdl_api_tasks_register (self);
  cdl_api_settings_register (self);
  cdl_api_workflows_register (self);
  cdl_api_annotations_register (self);
  cdl_api_media_register (self);
  cdl_api_export_register (self);
  cdl_api_runs_register (self);
  cdl_api_pilot_register (self);
  cdl_api_ops_register (self);
  cdl_api_pairing_register (self);
  cdl_api_abtests_register (self);
  cdl_api_web_register (self);

  return self;
}

void
cdl_api_server_set_max_body (CdlApiServer *self,
                             gsize         max_body)
{
  g_return_if_fail (CDL_IS_API_SERVER (self));

  self->max_body = max_body;
}

gboolean
cdl_api_server_listen (CdlApiServer  *self,
                       const char    *address,
                       guint          port,
                       GError       **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) sockaddr = NULL;
  g_autoslist(GUri) uris = NULL;

  g_return_val_if_fail (CDL_IS_API_SERVER (self), FALSE);

  if (address == NULL || g_strcmp0 (address, "localhost") == 0)
    address = "127.0.0.1";

  inet = g_inet_address_new_from_string (address);
  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s is not an IP address to listen on", address);
      return FALSE;
    }

  sockaddr = g_inet_socket_address_new (inet, port);
  if (!soup_server_listen (self->server, sockaddr, 0, error))
    return FALSE;

  uris = soup_server_get_uris (self->server);
  self->port = uris ? (guint)g_uri_get_port (uris->data) : port;
  g_free (self->address);
  self->address = g_strdup (address);

  return TRUE;
}

guint
cdl_api_server_get_port (CdlApiServer *self)
{
  g_return_val_if_fail (CDL_IS_API_SERVER (self), 0);

  return self->port;
}

char *
cdl_api_server_get_url (CdlApiServer *self)
{
  g_return_val_if_fail (CDL_IS_API_SERVER (self), NULL);

  if (self->address != NULL && strchr (self->address, ':') != NULL)
    return g_strdup_printf ("http://[%s]:%u", self->address, self->port);

  return g_strdup_printf ("http://%s:%u", self->address, self->port);
}

void
cdl_api_server_disconnect (CdlApiServer *self)
{
  g_return_if_fail (CDL_IS_API_SERVER (self));

  if (self->server != NULL)
    soup_server_disconnect (self->server);
}
