/* cdl-comfy-client.c: asynchronous HTTP client for ComfyUI workers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-comfy"

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "cdl-comfy-client.h"
#include "cdl-comfy-client-private.h"

#define USER_AGENT "comfy-datalabel/0.1"

/* Mass generation sends prompts, polls history and downloads images from
 * the same worker at once; libsoup's default of 2 connections per host
 * would queue those behind each other. */
#define MAX_CONNS          64
#define MAX_CONNS_PER_HOST 8

G_DEFINE_QUARK (cdl-comfy-error-quark, cdl_comfy_error)

struct _CdlComfyClient
{
  GObject      parent_instance;

  SoupSession *http;
  guint        timeout_s;
};

enum {
  PROP_0,
  PROP_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (CdlComfyClient, cdl_comfy_client, G_TYPE_OBJECT)

/* One GET in flight. */
typedef struct
{
  char         *url;          /* as shown in messages and logs */
  char         *origin;       /* the worker's base URL, as shown */
  SoupMessage  *msg;
  GCancellable *cancellable;  /* ours: cancelled by the caller or the clock */
  GCancellable *caller_cancellable;
  gulong        caller_cancelled_id;
  GSource      *deadline;
  guint         timeout_s;
  gboolean      timed_out;
  gint64        started_us;
} Request;

static void
request_free (Request *req)
{
  if (req->caller_cancellable != NULL)
    g_cancellable_disconnect (req->caller_cancellable,
                              req->caller_cancelled_id);
  g_clear_object (&req->caller_cancellable);

  if (req->deadline != NULL)
    g_source_destroy (req->deadline);
  g_clear_pointer (&req->deadline, g_source_unref);

  g_clear_object (&req->cancellable);
  g_clear_object (&req->msg);
  g_free (req->url);
  g_free (req->origin);
  g_free (req);
}

static void
clear_secret (char **secret)
{
  if (*secret != NULL)
    memset (*secret, 0, strlen (*secret));
  g_clear_pointer (secret, g_free);
}

/* URLs */

/* @url with any user:password@ part taken out, so that it may be shown. */
static char *
displayable_url (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);

  if (uri != NULL && g_uri_get_userinfo (uri) != NULL)
    return g_uri_to_string_partial (uri, G_URI_HIDE_USERINFO);

  return g_strdup (url);
}

static char *
base_without_slash (const char *base_url)
{
  char *base = g_strstrip (g_strdup (base_url));
  gsize len = strlen (base);

  while (len > 0 && base[len - 1] == '/')
    base[--len] = '\0';

  return base;
}

/* Errors */

static const char *
connect_failure_reason (const GError *error)
{
  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_CONNECTION_REFUSED:
          return "Connection refused";
        case G_IO_ERROR_HOST_UNREACHABLE:
          return "Host unreachable";
        case G_IO_ERROR_NETWORK_UNREACHABLE:
          return "Network unreachable";
        default:
          break;
        }
    }
  else if (error->domain == G_RESOLVER_ERROR)
    {
      if (error->code == G_RESOLVER_ERROR_NOT_FOUND)
        return "Host name not found";
      if (error->code == G_RESOLVER_ERROR_TEMPORARY_FAILURE)
        return "Host name lookup failed for now";
    }

  return error->message;
}

static gboolean
is_connect_error (const GError *error)
{
  if (error->domain == G_RESOLVER_ERROR || error->domain == G_TLS_ERROR)
    return TRUE;

  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_CONNECTION_REFUSED:
        case G_IO_ERROR_HOST_UNREACHABLE:
        case G_IO_ERROR_NETWORK_UNREACHABLE:
        case G_IO_ERROR_HOST_NOT_FOUND:
        case G_IO_ERROR_PROXY_FAILED:
        case G_IO_ERROR_PROXY_AUTH_FAILED:
        case G_IO_ERROR_PROXY_NEED_AUTH:
        case G_IO_ERROR_PROXY_NOT_ALLOWED:
        case G_IO_ERROR_NOT_CONNECTED:
          return TRUE;
        default:
          break;
        }
    }

  return FALSE;
}

/* Turns a transport error into a CDL_COMFY_ERROR; a cancellation by the
 * caller stays G_IO_ERROR_CANCELLED. */
static GError *
map_transport_error (Request *req,
                     GError  *error)
{
  if (req->timed_out ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return g_error_new (CDL_COMFY_ERROR, CDL_COMFY_ERROR_TIMEOUT,
                        "No answer from %s within %u s",
                        req->url, req->timeout_s);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (error);

  if (error->domain == SOUP_SESSION_ERROR &&
      (error->code == SOUP_SESSION_ERROR_PARSING ||
       error->code == SOUP_SESSION_ERROR_ENCODING))
    return g_error_new (CDL_COMFY_ERROR, CDL_COMFY_ERROR_BAD_RESPONSE,
                        "Invalid HTTP response from %s: %s",
                        req->url, error->message);

  if (is_connect_error (error))
    return g_error_new (CDL_COMFY_ERROR, CDL_COMFY_ERROR_UNREACHABLE,
                        "Could not connect to %s: %s",
                        req->origin, connect_failure_reason (error));

  return g_error_new (CDL_COMFY_ERROR, CDL_COMFY_ERROR_UNREACHABLE,
                      "Lost the connection to %s: %s",
                      req->origin, error->message);
}

/* GET */

static gboolean
deadline_cb (gpointer user_data)
{
  Request *req = user_data;

  req->timed_out = TRUE;
  g_cancellable_cancel (req->cancellable);
  g_clear_pointer (&req->deadline, g_source_unref);

  return G_SOURCE_REMOVE;
}

static void
caller_cancelled_cb (GCancellable *caller_cancellable,
                     GCancellable *ours)
{
  g_cancellable_cancel (ours);
}

static void
get_json_read_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonParser) parser = NULL;
  Request *req = g_task_get_task_data (task);
  const char *data;
  gsize len;
  guint status;
  gint64 ms;

  bytes = soup_session_send_and_read_finish (SOUP_SESSION (object), result,
                                             &error);
  ms = (g_get_monotonic_time () - req->started_us) / 1000;

  if (req->deadline != NULL)
    {
      g_source_destroy (req->deadline);
      g_clear_pointer (&req->deadline, g_source_unref);
    }

  if (bytes == NULL)
    {
      GError *mapped = map_transport_error (req, error);

      g_debug ("GET %s failed after %" G_GINT64_FORMAT " ms: %s",
               req->url, ms, mapped->message);
      g_task_return_error (task, mapped);
      return;
    }

  status = soup_message_get_status (req->msg);
  g_debug ("GET %s -> %u in %" G_GINT64_FORMAT " ms", req->url, status, ms);

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_task_return_new_error (task, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP,
                               "HTTP %u from %s", status, req->url);
      return;
    }

  data = g_bytes_get_data (bytes, &len);
  if (len == 0)
    {
      g_task_return_new_error (task, CDL_COMFY_ERROR,
                               CDL_COMFY_ERROR_BAD_RESPONSE,
                               "Empty answer from %s", req->url);
      return;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, len, &error) ||
      json_parser_get_root (parser) == NULL)
    {
      g_task_return_new_error (task, CDL_COMFY_ERROR,
                               CDL_COMFY_ERROR_BAD_RESPONSE,
                               "Answer from %s is not JSON%s%s", req->url,
                               error ? ": " : "", error ? error->message : "");
      return;
    }

  g_task_return_pointer (task, json_parser_steal_root (parser),
                         (GDestroyNotify) json_node_unref);
}

void
cdl_comfy_client_get_json_async (CdlComfyClient      *self,
                                 const char          *base_url,
                                 const char          *api_key,
                                 const char          *path,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *base = NULL;
  g_autofree char *full = NULL;
  Request *req;
  const char *scheme;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (self));
  g_return_if_fail (base_url != NULL);
  g_return_if_fail (path != NULL && path[0] == '/');
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_comfy_client_get_json_async);

  base = base_without_slash (base_url);
  full = g_strconcat (base, path, NULL);

  req = g_new0 (Request, 1);
  req->origin = displayable_url (base);
  req->url = displayable_url (full);
  req->timeout_s = self->timeout_s;
  g_task_set_task_data (task, req, (GDestroyNotify) request_free);

  uri = g_uri_parse (full, SOUP_HTTP_URI_FLAGS, &error);
  scheme = uri ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || g_uri_get_host (uri) == NULL ||
      g_uri_get_host (uri)[0] == '\0' ||
      (g_ascii_strcasecmp (scheme, "http") != 0 &&
       g_ascii_strcasecmp (scheme, "https") != 0))
    {
      g_task_return_new_error (task, CDL_COMFY_ERROR,
                               CDL_COMFY_ERROR_UNREACHABLE,
                               "“%s” is not an http:// or https:// address",
                               req->origin);
      return;
    }

  req->msg = soup_message_new_from_uri (SOUP_METHOD_GET, uri);
  soup_message_headers_replace (soup_message_get_request_headers (req->msg),
                                "Accept", "application/json");
  if (api_key != NULL && api_key[0] != '\0')
    {
      g_autofree char *value = g_strconcat ("Bearer ", api_key, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (req->msg),
                                    "Authorization", value);
      memset (value, 0, strlen (value));
    }

  req->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      req->caller_cancellable = g_object_ref (cancellable);
      req->caller_cancelled_id =
        g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb),
                               g_object_ref (req->cancellable),
                               g_object_unref);
    }

  /* libsoup's own time-out only bounds each read or write; this one bounds
   * the whole request, waiting for a free connection included. */
  if (req->timeout_s > 0)
    {
      req->deadline = g_timeout_source_new (req->timeout_s * 1000);
      g_source_set_callback (req->deadline, deadline_cb, req, NULL);
      g_source_set_static_name (req->deadline, "[cdl-comfy] request deadline");
      g_source_attach (req->deadline, g_main_context_get_thread_default ());
    }

  req->started_us = g_get_monotonic_time ();
  soup_session_send_and_read_async (self->http, req->msg,
                                    G_PRIORITY_DEFAULT, req->cancellable,
                                    get_json_read_cb, g_steal_pointer (&task));
}

JsonNode *
cdl_comfy_client_get_json_finish (CdlComfyClient  *self,
                                  GAsyncResult    *result,
                                  GError         **error)
{
  g_return_val_if_fail (CDL_IS_COMFY_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Probe */

typedef struct
{
  char          *base_url;
  char          *api_key;
  CdlComfyProbe *probe;
} ProbeData;

static void
probe_data_free (ProbeData *data)
{
  g_free (data->base_url);
  clear_secret (&data->api_key);
  g_clear_pointer (&data->probe, cdl_comfy_probe_free);
  g_free (data);
}

void
cdl_comfy_probe_free (CdlComfyProbe *probe)
{
  if (probe == NULL)
    return;

  g_free (probe->comfyui_version);
  g_free (probe->device_name);
  g_free (probe);
}

static const char *
get_string (JsonObject *obj,
            const char *name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

static JsonObject *
get_object (JsonObject *obj,
            const char *name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  return json_node_get_object (node);
}

static gint64
get_size (JsonObject *obj,
          const char *name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return -1;

  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    return json_node_get_int (node);
  if (type == G_TYPE_DOUBLE)
    return (gint64) json_node_get_double (node);

  return -1;
}

static void
probe_queue_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  ProbeData *data = g_task_get_task_data (task);

  node = cdl_comfy_client_get_json_finish (CDL_COMFY_CLIENT (object), result,
                                           &error);
  if (node == NULL ||
      !cdl_comfy_parse_queue (node, &data->probe->pending,
                              &data->probe->running, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_pointer (task, g_steal_pointer (&data->probe),
                         (GDestroyNotify) cdl_comfy_probe_free);
}

static void
probe_stats_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  ProbeData *data = g_task_get_task_data (task);
  CdlComfyClient *self = CDL_COMFY_CLIENT (object);
  GCancellable *cancellable;
  JsonObject *root;
  JsonObject *system;
  JsonNode *devices;

  node = cdl_comfy_client_get_json_finish (self, result, &error);
  if (node == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  root = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  if (root == NULL ||
      (!json_object_has_member (root, "system") &&
       !json_object_has_member (root, "devices")))
    {
      g_autofree char *base = base_without_slash (data->base_url);
      g_autofree char *shown = displayable_url (base);

      g_task_return_new_error (task, CDL_COMFY_ERROR,
                               CDL_COMFY_ERROR_BAD_RESPONSE,
                               "%s/system_stats does not look like ComfyUI's",
                               shown);
      return;
    }

  data->probe = g_new0 (CdlComfyProbe, 1);
  data->probe->vram_free = -1;

  system = get_object (root, "system");
  data->probe->comfyui_version = g_strdup (get_string (system,
                                                       "comfyui_version"));

  devices = json_object_get_member (root, "devices");
  if (devices != NULL && JSON_NODE_HOLDS_ARRAY (devices) &&
      json_array_get_length (json_node_get_array (devices)) > 0)
    {
      JsonNode *first = json_array_get_element (json_node_get_array (devices), 0);

      if (JSON_NODE_HOLDS_OBJECT (first))
        {
          JsonObject *device = json_node_get_object (first);

          data->probe->device_name = g_strdup (get_string (device, "name"));
          data->probe->vram_free = get_size (device, "vram_free");
        }
    }

  cancellable = g_task_get_cancellable (task);
  cdl_comfy_client_get_json_async (self, data->base_url, data->api_key,
                                   "/queue", cancellable,
                                   probe_queue_cb, g_steal_pointer (&task));
}

void
cdl_comfy_client_probe_async (CdlComfyClient      *self,
                              const char          *base_url,
                              const char          *api_key,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ProbeData *data;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (self));
  g_return_if_fail (base_url != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_comfy_client_probe_async);

  data = g_new0 (ProbeData, 1);
  data->base_url = g_strdup (base_url);
  data->api_key = g_strdup (api_key);
  g_task_set_task_data (task, data, (GDestroyNotify) probe_data_free);

  cdl_comfy_client_get_json_async (self, base_url, api_key, "/system_stats",
                                   cancellable, probe_stats_cb,
                                   g_steal_pointer (&task));
}

CdlComfyProbe *
cdl_comfy_client_probe_finish (CdlComfyClient  *self,
                               GAsyncResult    *result,
                               GError         **error)
{
  g_return_val_if_fail (CDL_IS_COMFY_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Queue */

static gboolean
count_items (JsonObject  *obj,
             const char  *name,
             int         *count,
             GError     **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  *count = 0;

  /* A missing list is an empty one. */
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_BAD_RESPONSE,
                   "“%s” in the /queue answer is not a list", name);
      return FALSE;
    }

  *count = (int) MIN (json_array_get_length (json_node_get_array (node)),
                      G_MAXINT);

  return TRUE;
}

gboolean
cdl_comfy_parse_queue (JsonNode  *node,
                       int       *pending,
                       int       *running,
                       GError   **error)
{
  JsonObject *obj;
  int p;
  int r;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, CDL_COMFY_ERROR,
                           CDL_COMFY_ERROR_BAD_RESPONSE,
                           "The /queue answer is not a JSON object");
      return FALSE;
    }

  obj = json_node_get_object (node);
  if (!count_items (obj, "queue_pending", &p, error) ||
      !count_items (obj, "queue_running", &r, error))
    return FALSE;

  if (pending != NULL)
    *pending = p;
  if (running != NULL)
    *running = r;

  return TRUE;
}

/* Any method, any answer: the base of cdl-comfy-jobs.c */

#define SEND_CHUNK (64 * 1024)

typedef struct
{
  Request    *req;
  GByteArray *body;
  gsize       max_bytes;
} SendData;

static void
send_data_free (SendData *data)
{
  g_clear_pointer (&data->req, request_free);
  g_clear_pointer (&data->body, g_byte_array_unref);
  g_free (data);
}

void
cdl_comfy_response_free (CdlComfyResponse *response)
{
  if (response == NULL)
    return;

  g_free (response->content_type);
  g_clear_pointer (&response->body, g_bytes_unref);
  g_free (response->url);
  g_free (response);
}

static void
send_stop_deadline (Request *req)
{
  if (req->deadline != NULL)
    {
      g_source_destroy (req->deadline);
      g_clear_pointer (&req->deadline, g_source_unref);
    }
}

static void
send_read_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = NULL;
  GInputStream *stream = G_INPUT_STREAM (object);
  SendData *data = g_task_get_task_data (task);
  Request *req = data->req;
  CdlComfyResponse *response;
  SoupMessageHeaders *headers;

  chunk = g_input_stream_read_bytes_finish (stream, result, &error);
  if (chunk == NULL)
    {
      send_stop_deadline (req);
      g_task_return_error (task, map_transport_error (req, error));
      return;
    }

  if (g_bytes_get_size (chunk) > 0)
    {
      if (data->max_bytes > 0 &&
          data->body->len + g_bytes_get_size (chunk) > data->max_bytes)
        {
          send_stop_deadline (req);
          g_input_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
          g_task_return_new_error (task, CDL_COMFY_ERROR,
                                   CDL_COMFY_ERROR_BAD_RESPONSE,
                                   "The answer from %s is larger than %"
                                   G_GSIZE_FORMAT " bytes",
                                   req->url, data->max_bytes);
          return;
        }

      g_byte_array_append (data->body, g_bytes_get_data (chunk, NULL),
                           (guint) g_bytes_get_size (chunk));
      g_input_stream_read_bytes_async (stream, SEND_CHUNK, G_PRIORITY_DEFAULT,
                                       req->cancellable, send_read_cb,
                                       g_steal_pointer (&task));
      return;
    }

  send_stop_deadline (req);
  g_input_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);

  headers = soup_message_get_response_headers (req->msg);
  response = g_new0 (CdlComfyResponse, 1);
  response->status = soup_message_get_status (req->msg);
  response->content_type = g_strdup (soup_message_headers_get_one (headers,
                                                                   "Content-Type"));
  response->body = g_byte_array_free_to_bytes (g_steal_pointer (&data->body));
  response->url = g_strdup (req->url);

  g_debug ("%s %s -> %u in %" G_GINT64_FORMAT " ms",
           soup_message_get_method (req->msg), req->url, response->status,
           (g_get_monotonic_time () - req->started_us) / 1000);

  g_task_return_pointer (task, response,
                         (GDestroyNotify) cdl_comfy_response_free);
}

static void
send_sent_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) stream = NULL;
  SendData *data = g_task_get_task_data (task);
  Request *req = data->req;

  stream = soup_session_send_finish (SOUP_SESSION (object), result, &error);
  if (stream == NULL)
    {
      GError *mapped;

      send_stop_deadline (req);
      mapped = map_transport_error (req, error);
      g_debug ("%s %s failed: %s", soup_message_get_method (req->msg),
               req->url, mapped->message);
      g_task_return_error (task, mapped);
      return;
    }

  g_input_stream_read_bytes_async (stream, SEND_CHUNK, G_PRIORITY_DEFAULT,
                                   req->cancellable, send_read_cb,
                                   g_steal_pointer (&task));
}

void
cdl_comfy_client_send_async (CdlComfyClient      *self,
                             const char          *base_url,
                             const char          *api_key,
                             const char          *method,
                             const char          *path,
                             GBytes              *json_body,
                             gsize                max_bytes,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autofree char *base = NULL;
  g_autofree char *full = NULL;
  SoupMessageHeaders *headers;
  SendData *data;
  Request *req;
  const char *scheme;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (self));
  g_return_if_fail (base_url != NULL);
  g_return_if_fail (method != NULL);
  g_return_if_fail (path != NULL && path[0] == '/');
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_comfy_client_send_async);

  base = base_without_slash (base_url);
  full = g_strconcat (base, path, NULL);

  req = g_new0 (Request, 1);
  req->origin = displayable_url (base);
  req->url = displayable_url (full);
  req->timeout_s = self->timeout_s;

  data = g_new0 (SendData, 1);
  data->req = req;
  data->body = g_byte_array_new ();
  data->max_bytes = max_bytes;
  g_task_set_task_data (task, data, (GDestroyNotify) send_data_free);

  uri = g_uri_parse (full, SOUP_HTTP_URI_FLAGS, NULL);
  scheme = uri ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || g_uri_get_host (uri) == NULL ||
      g_uri_get_host (uri)[0] == '\0' ||
      (g_ascii_strcasecmp (scheme, "http") != 0 &&
       g_ascii_strcasecmp (scheme, "https") != 0))
    {
      g_task_return_new_error (task, CDL_COMFY_ERROR,
                               CDL_COMFY_ERROR_UNREACHABLE,
                               "“%s” is not an http:// or https:// address",
                               req->origin);
      return;
    }

  req->msg = soup_message_new_from_uri (method, uri);
  headers = soup_message_get_request_headers (req->msg);
  if (json_body != NULL)
    soup_message_set_request_body_from_bytes (req->msg, "application/json",
                                              json_body);
  if (api_key != NULL && api_key[0] != '\0')
    {
      g_autofree char *value = g_strconcat ("Bearer ", api_key, NULL);

      soup_message_headers_replace (headers, "Authorization", value);
      memset (value, 0, strlen (value));
    }

  req->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      req->caller_cancellable = g_object_ref (cancellable);
      req->caller_cancelled_id =
        g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb),
                               g_object_ref (req->cancellable),
                               g_object_unref);
    }

  if (req->timeout_s > 0)
    {
      req->deadline = g_timeout_source_new (req->timeout_s * 1000);
      g_source_set_callback (req->deadline, deadline_cb, req, NULL);
      g_source_set_static_name (req->deadline, "[cdl-comfy] request deadline");
      g_source_attach (req->deadline, g_main_context_get_thread_default ());
    }

  req->started_us = g_get_monotonic_time ();
  soup_session_send_async (self->http, req->msg, G_PRIORITY_DEFAULT,
                           req->cancellable, send_sent_cb,
                           g_steal_pointer (&task));
}

CdlComfyResponse *
cdl_comfy_client_send_finish (CdlComfyClient  *self,
                              GAsyncResult    *result,
                              GError         **error)
{
  g_return_val_if_fail (CDL_IS_COMFY_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* GObject */

static void
cdl_comfy_client_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  CdlComfyClient *self = CDL_COMFY_CLIENT (object);

  switch (prop_id)
    {
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_s);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_comfy_client_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  CdlComfyClient *self = CDL_COMFY_CLIENT (object);

  switch (prop_id)
    {
    case PROP_TIMEOUT:
      cdl_comfy_client_set_timeout (self, g_value_get_uint (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_comfy_client_dispose (GObject *object)
{
  CdlComfyClient *self = CDL_COMFY_CLIENT (object);

  g_clear_object (&self->http);

  G_OBJECT_CLASS (cdl_comfy_client_parent_class)->dispose (object);
}

static void
cdl_comfy_client_class_init (CdlComfyClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = cdl_comfy_client_get_property;
  object_class->set_property = cdl_comfy_client_set_property;
  object_class->dispose = cdl_comfy_client_dispose;

  /* Seconds before a request is abandoned; 0 waits for ever. */
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL,
                       0, G_MAXUINT / 1000, CDL_COMFY_DEFAULT_TIMEOUT_S,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdl_comfy_client_init (CdlComfyClient *self)
{
  self->timeout_s = CDL_COMFY_DEFAULT_TIMEOUT_S;
  self->http = soup_session_new_with_options ("user-agent", USER_AGENT,
                                                 "timeout", self->timeout_s,
                                                 "max-conns", MAX_CONNS,
                                                 "max-conns-per-host",
                                                 MAX_CONNS_PER_HOST,
                                                 NULL);
}

CdlComfyClient *
cdl_comfy_client_new (void)
{
  return g_object_new (CDL_TYPE_COMFY_CLIENT, NULL);
}

void
cdl_comfy_client_set_timeout (CdlComfyClient *self,
                              guint           seconds)
{
  g_return_if_fail (CDL_IS_COMFY_CLIENT (self));
  g_return_if_fail (seconds <= G_MAXUINT / 1000);

  if (self->timeout_s == seconds)
    return;

  self->timeout_s = seconds;
  soup_session_set_timeout (self->http, seconds);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}
