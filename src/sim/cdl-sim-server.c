/* cdl-sim-server.c: a simulated ComfyUI server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-sim"

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cdl-sim-nodes.h"
#include "cdl-sim-queue.h"
#include "cdl-sim-server.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define TEXT_TYPE "text/plain; charset=utf-8"

/* What ComfyUI's aiohttp server answers when a handler raises. */
#define FAIL_BODY "500 Internal Server Error\n\nServer got itself in trouble"
#define NOT_FOUND_BODY "404: Not Found"
#define GARBAGE_BODY "<html><body><h1>502 Bad Gateway</h1></body></html>\n"

/* The simulated GPU: 24 GiB, 1 GiB of it taken by torch. */
#define SIM_VRAM_TOTAL G_GINT64_CONSTANT (25769803776)
#define SIM_TORCH_VRAM G_GINT64_CONSTANT (1073741824)

/* How often held requests are checked for clients that gave up. */
#define REAP_INTERVAL_MS 500

/* Bounds for POST /_sim/queue, so that a typo cannot eat the memory. */
#define MAX_PLACEHOLDERS 100000

typedef void (*RouteFunc) (CdlSimServer      *self,
                           SoupServerMessage *msg,
                           const char        *arg);

typedef struct
{
  const char *method;
  const char *path;    /* a prefix ending in "/" when prefix is set */
  gboolean    prefix;  /* the rest of the path is one segment: arg */
  const char *key;     /* counter name */
  RouteFunc   func;
} Route;

typedef struct
{
  CdlSimServer      *self;
  SoupServerMessage *msg;
  const Route       *route;
  char              *arg;
  gulong             disconnected_id;
} HeldRequest;

struct _CdlSimServer
{
  GObject       parent_instance;

  SoupServer   *server;
  char         *address;
  guint         port;

  CdlSimFault   fault;
  char         *api_key;
  GStrv         nodes_exclude;

  GHashTable   *requests;        /* route key → count */
  guint         total_requests;
  GPtrArray    *held;            /* HeldRequest, paused in hang mode */
  guint         reap_id;

  CdlSimQueue  *queue;
};

G_DEFINE_FINAL_TYPE (CdlSimServer, cdl_sim_server, G_TYPE_OBJECT)

static const char * const fault_names[] = {
  [CDL_SIM_FAULT_NONE] = "none",
  [CDL_SIM_FAULT_FAIL] = "fail",
  [CDL_SIM_FAULT_HANG] = "hang",
  [CDL_SIM_FAULT_GARBAGE] = "garbage",
};

const char *
cdl_sim_fault_to_string (CdlSimFault fault)
{
  g_return_val_if_fail ((guint) fault < G_N_ELEMENTS (fault_names), NULL);

  return fault_names[fault];
}

gboolean
cdl_sim_fault_from_string (const char  *str,
                           CdlSimFault *fault)
{
  g_return_val_if_fail (fault != NULL, FALSE);

  if (str == NULL)
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (fault_names); i++)
    {
      if (g_str_equal (str, fault_names[i]))
        {
          *fault = (CdlSimFault) i;
          return TRUE;
        }
    }

  return FALSE;
}

/* Responses */

static void
respond_bytes (SoupServerMessage *msg,
               guint              status,
               const char        *content_type,
               char              *body)
{
  gsize len = strlen (body);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE,
                                    body, len);
}

static void
respond_text (SoupServerMessage *msg,
              guint              status,
              const char        *text)
{
  respond_bytes (msg, status, TEXT_TYPE, g_strdup (text));
}

static void
respond_json (SoupServerMessage *msg,
              guint              status,
              JsonNode          *node)
{
  respond_bytes (msg, status, JSON_TYPE, json_to_string (node, FALSE));
}

static void
respond_json_builder (SoupServerMessage *msg,
                      guint              status,
                      JsonBuilder       *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);

  respond_json (msg, status, root);
}

static void
respond_error (SoupServerMessage *msg,
               guint              status,
               const char        *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);

  respond_json_builder (msg, status, builder);
}

/* ComfyUI routes */

static void
handle_system_stats (CdlSimServer      *self,
                     SoupServerMessage *msg,
                     const char        *arg)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *port = g_strdup_printf ("%u", self->port);
  gint64 page = sysconf (_SC_PAGESIZE);
  gint64 ram_total = page * (gint64) sysconf (_SC_PHYS_PAGES);
  gint64 ram_free = page * (gint64) sysconf (_SC_AVPHYS_PAGES);

  json_builder_begin_object (b);

  json_builder_set_member_name (b, "system");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "os");
  json_builder_add_string_value (b, "posix");
  json_builder_set_member_name (b, "ram_total");
  json_builder_add_int_value (b, ram_total);
  json_builder_set_member_name (b, "ram_free");
  json_builder_add_int_value (b, ram_free);
  json_builder_set_member_name (b, "comfyui_version");
  json_builder_add_string_value (b, "0.3.64");
  json_builder_set_member_name (b, "required_frontend_version");
  json_builder_add_string_value (b, "1.27.10");
  json_builder_set_member_name (b, "installed_templates_version");
  json_builder_add_string_value (b, "0.1.95");
  json_builder_set_member_name (b, "required_templates_version");
  json_builder_add_string_value (b, "0.1.95");
  json_builder_set_member_name (b, "python_version");
  json_builder_add_string_value (b, "3.11.2 (main, Mar 13 2023, 12:18:29) "
                                    "[GCC 12.2.0]");
  json_builder_set_member_name (b, "pytorch_version");
  json_builder_add_string_value (b, "2.8.0+cu128");
  json_builder_set_member_name (b, "embedded_python");
  json_builder_add_boolean_value (b, FALSE);
  json_builder_set_member_name (b, "argv");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "main.py");
  json_builder_add_string_value (b, "--listen");
  json_builder_add_string_value (b, self->address);
  json_builder_add_string_value (b, "--port");
  json_builder_add_string_value (b, port);
  json_builder_end_array (b);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, "cuda:0 Simulated GPU : cudaMallocAsync");
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "cuda");
  json_builder_set_member_name (b, "index");
  json_builder_add_int_value (b, 0);
  json_builder_set_member_name (b, "vram_total");
  json_builder_add_int_value (b, SIM_VRAM_TOTAL);
  json_builder_set_member_name (b, "vram_free");
  json_builder_add_int_value (b, SIM_VRAM_TOTAL - SIM_TORCH_VRAM);
  json_builder_set_member_name (b, "torch_vram_total");
  json_builder_add_int_value (b, SIM_TORCH_VRAM);
  json_builder_set_member_name (b, "torch_vram_free");
  json_builder_add_int_value (b, SIM_TORCH_VRAM - SIM_TORCH_VRAM / 16);
  json_builder_end_object (b);
  json_builder_end_array (b);

  json_builder_end_object (b);

  respond_json_builder (msg, SOUP_STATUS_OK, b);
}

static void
handle_queue (CdlSimServer      *self,
              SoupServerMessage *msg,
              const char        *arg)
{
  g_autoptr(JsonNode) root = cdl_sim_queue_to_json (self->queue);

  respond_json (msg, SOUP_STATUS_OK, root);
}

static void
handle_prompt_get (CdlSimServer      *self,
                   SoupServerMessage *msg,
                   const char        *arg)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "exec_info");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "queue_remaining");
  json_builder_add_int_value (b, cdl_sim_queue_get_n_running (self->queue) +
                                 cdl_sim_queue_get_n_pending (self->queue));
  json_builder_end_object (b);
  json_builder_end_object (b);

  respond_json_builder (msg, SOUP_STATUS_OK, b);
}

static gboolean
node_is_offered (CdlSimServer *self,
                 const char   *class_type)
{
  if (self->nodes_exclude != NULL &&
      g_strv_contains ((const char * const *) self->nodes_exclude, class_type))
    return FALSE;

  return cdl_sim_nodes_lookup (class_type) != NULL;
}

static void
handle_object_info (CdlSimServer      *self,
                    SoupServerMessage *msg,
                    const char        *arg)
{
  char *body;

  body = cdl_sim_nodes_object_info ((const char * const *) self->nodes_exclude);
  respond_bytes (msg, SOUP_STATUS_OK, JSON_TYPE, body);
}

static void
handle_object_info_class (CdlSimServer      *self,
                          SoupServerMessage *msg,
                          const char        *arg)
{
  GString *out = g_string_new ("{");

  if (node_is_offered (self, arg))
    {
      cdl_sim_json_append_string (out, arg);
      g_string_append (out, ": ");
      cdl_sim_node_append_info (cdl_sim_nodes_lookup (arg), out);
    }
  g_string_append_c (out, '}');

  respond_bytes (msg, SOUP_STATUS_OK, JSON_TYPE, g_string_free (out, FALSE));
}

static void
handle_features (CdlSimServer      *self,
                 SoupServerMessage *msg,
                 const char        *arg)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "supports_preview_metadata");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "max_upload_size");
  json_builder_add_int_value (b, 104857600);
  json_builder_end_object (b);

  respond_json_builder (msg, SOUP_STATUS_OK, b);
}

static void
respond_strv (SoupServerMessage  *msg,
              const char * const *strv)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_array (b);
  for (guint i = 0; strv[i] != NULL; i++)
    json_builder_add_string_value (b, strv[i]);
  json_builder_end_array (b);

  respond_json_builder (msg, SOUP_STATUS_OK, b);
}

static void
handle_models (CdlSimServer      *self,
               SoupServerMessage *msg,
               const char        *arg)
{
  respond_strv (msg, cdl_sim_model_folders ());
}

static void
handle_models_folder (CdlSimServer      *self,
                      SoupServerMessage *msg,
                      const char        *arg)
{
  const char * const *files = cdl_sim_model_files (arg);

  /* ComfyUI answers an unknown folder with an empty 404. */
  if (files == NULL)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }

  respond_strv (msg, files);
}

static void
handle_embeddings (CdlSimServer      *self,
                   SoupServerMessage *msg,
                   const char        *arg)
{
  static const char * const none[] = { NULL };

  respond_strv (msg, none);
}

static const Route comfy_routes[] = {
  { "GET", "/system_stats", FALSE, "GET /system_stats", handle_system_stats },
  { "GET", "/queue", FALSE, "GET /queue", handle_queue },
  { "GET", "/prompt", FALSE, "GET /prompt", handle_prompt_get },
  { "GET", "/object_info", FALSE, "GET /object_info", handle_object_info },
  { "GET", "/object_info/", TRUE, "GET /object_info/{node_class}",
    handle_object_info_class },
  { "GET", "/features", FALSE, "GET /features", handle_features },
  { "GET", "/models", FALSE, "GET /models", handle_models },
  { "GET", "/models/", TRUE, "GET /models/{folder}", handle_models_folder },
  { "GET", "/embeddings", FALSE, "GET /embeddings", handle_embeddings },
};

/* Control routes */

static JsonNode *
read_body_object (SoupServerMessage  *msg,
                  GError            **error)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonNode) root = NULL;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  if (len == 0)
    return json_node_init_object (json_node_alloc (), json_object_new ());

  if (!json_parser_load_from_data (parser, data, len, error))
    return NULL;

  root = json_parser_steal_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The body must be a JSON object");
      return NULL;
    }

  return g_steal_pointer (&root);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
add_requests (CdlSimServer *self,
              JsonBuilder  *b)
{
  g_autofree const char **keys = NULL;
  guint n_keys;

  keys = (const char **) g_hash_table_get_keys_as_array (self->requests,
                                                         &n_keys);
  qsort (keys, n_keys, sizeof (char *), compare_strings);

  json_builder_begin_object (b);
  for (guint i = 0; i < n_keys; i++)
    {
      json_builder_set_member_name (b, keys[i]);
      json_builder_add_int_value (b, GPOINTER_TO_UINT (
          g_hash_table_lookup (self->requests, keys[i])));
    }
  json_builder_end_object (b);
}

static void
handle_sim_state (CdlSimServer      *self,
                  SoupServerMessage *msg,
                  const char        *arg)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, cdl_sim_fault_to_string (self->fault));
  json_builder_set_member_name (b, "requests");
  add_requests (self, b);
  json_builder_set_member_name (b, "total_requests");
  json_builder_add_int_value (b, self->total_requests);
  json_builder_set_member_name (b, "held_requests");
  json_builder_add_int_value (b, self->held->len);
  json_builder_set_member_name (b, "queue");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "running");
  json_builder_add_int_value (b, cdl_sim_queue_get_n_running (self->queue));
  json_builder_set_member_name (b, "pending");
  json_builder_add_int_value (b, cdl_sim_queue_get_n_pending (self->queue));
  json_builder_end_object (b);
  json_builder_set_member_name (b, "api_key_required");
  json_builder_add_boolean_value (b, self->api_key != NULL);
  json_builder_set_member_name (b, "nodes_excluded");
  json_builder_begin_array (b);
  for (guint i = 0; self->nodes_exclude && self->nodes_exclude[i]; i++)
    json_builder_add_string_value (b, self->nodes_exclude[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);

  respond_json_builder (msg, SOUP_STATUS_OK, b);
}

static void
handle_sim_fault (CdlSimServer      *self,
                  SoupServerMessage *msg,
                  const char        *arg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  JsonObject *obj;
  JsonNode *mode;
  CdlSimFault fault;

  if (!(body = read_body_object (msg, &error)))
    {
      respond_error (msg, SOUP_STATUS_BAD_REQUEST, error->message);
      return;
    }

  obj = json_node_get_object (body);
  mode = json_object_get_member (obj, "mode");
  if (mode == NULL || json_node_get_value_type (mode) != G_TYPE_STRING ||
      !cdl_sim_fault_from_string (json_node_get_string (mode), &fault))
    {
      respond_error (msg, SOUP_STATUS_BAD_REQUEST,
                     "\"mode\" must be \"none\", \"fail\", \"hang\" or "
                     "\"garbage\"");
      return;
    }

  cdl_sim_server_set_fault (self, fault);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, cdl_sim_fault_to_string (self->fault));
  json_builder_end_object (b);

  respond_json_builder (msg, SOUP_STATUS_OK, b);
}

static gboolean
read_count (JsonObject  *obj,
            const char  *name,
            guint       *count,
            GError     **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  gint64 value;

  *count = 0;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;

  if (json_node_get_value_type (node) != G_TYPE_INT64 ||
      (value = json_node_get_int (node)) < 0 || value > MAX_PLACEHOLDERS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "\"%s\" must be an integer from 0 to %d",
                   name, MAX_PLACEHOLDERS);
      return FALSE;
    }

  *count = (guint) value;

  return TRUE;
}

static void
handle_sim_queue (CdlSimServer      *self,
                  SoupServerMessage *msg,
                  const char        *arg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) queue = NULL;
  guint pending;
  guint running;

  if (!(body = read_body_object (msg, &error)) ||
      !read_count (json_node_get_object (body), "pending", &pending, &error) ||
      !read_count (json_node_get_object (body), "running", &running, &error))
    {
      respond_error (msg, SOUP_STATUS_BAD_REQUEST, error->message);
      return;
    }

  cdl_sim_server_fill_queue (self, pending, running);

  queue = cdl_sim_queue_to_json (self->queue);
  respond_json (msg, SOUP_STATUS_OK, queue);
}

static void
handle_sim_reset (CdlSimServer      *self,
                  SoupServerMessage *msg,
                  const char        *arg)
{
  cdl_sim_server_set_fault (self, CDL_SIM_FAULT_NONE);
  cdl_sim_queue_clear (self->queue);
  g_hash_table_remove_all (self->requests);
  self->total_requests = 0;

  respond_bytes (msg, SOUP_STATUS_OK, JSON_TYPE, g_strdup ("{}"));
}

static const Route control_routes[] = {
  { "GET", "/_sim/state", FALSE, NULL, handle_sim_state },
  { "POST", "/_sim/fault", FALSE, NULL, handle_sim_fault },
  { "POST", "/_sim/queue", FALSE, NULL, handle_sim_queue },
  { "POST", "/_sim/reset", FALSE, NULL, handle_sim_reset },
};

/* Dispatch */

static const Route *
match_route (const Route  *routes,
             guint         n_routes,
             const char   *method,
             const char   *path,
             char        **arg)
{
  /* HEAD is a GET without the body; SoupServer drops the body itself. */
  if (g_str_equal (method, "HEAD"))
    method = "GET";

  for (guint i = 0; i < n_routes; i++)
    {
      const Route *route = &routes[i];
      const char *rest;

      if (!g_str_equal (route->method, method))
        continue;

      if (!route->prefix)
        {
          if (g_str_equal (route->path, path))
            return route;
          continue;
        }

      if (!g_str_has_prefix (path, route->path))
        continue;

      /* One non-empty path segment, like aiohttp's {name}. */
      rest = path + strlen (route->path);
      if (*rest == '\0' || strchr (rest, '/') != NULL)
        continue;

      *arg = g_uri_unescape_string (rest, NULL);
      if (*arg == NULL)
        continue;

      return route;
    }

  return NULL;
}

static gboolean
secret_equal (const char *a,
              const char *b)
{
  gsize la = strlen (a);
  gsize lb = strlen (b);
  guchar diff = la != lb;

  /* Compare every byte whatever the first mismatch, so that the time
   * taken says nothing about the key. */
  for (gsize i = 0; i < la; i++)
    diff |= (guchar) a[i] ^ (guchar) b[i % (lb ? lb : 1)];

  return diff == 0 && lb > 0;
}

static gboolean
is_authorized (CdlSimServer      *self,
               SoupServerMessage *msg)
{
  SoupMessageHeaders *headers;
  const char *value;

  if (self->api_key == NULL)
    return TRUE;

  headers = soup_server_message_get_request_headers (msg);
  value = soup_message_headers_get_one (headers, "Authorization");
  if (value == NULL || g_ascii_strncasecmp (value, "Bearer ", 7) != 0)
    return FALSE;

  value += 7;
  while (*value == ' ')
    value++;

  return secret_equal (value, self->api_key);
}

/* Answers a ComfyUI route as the current fault mode says; hang mode is
 * handled by the caller. */
static void
answer (CdlSimServer      *self,
        SoupServerMessage *msg,
        const Route       *route,
        const char        *arg)
{
  switch (self->fault)
    {
    case CDL_SIM_FAULT_FAIL:
      respond_text (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, FAIL_BODY);
      return;

    case CDL_SIM_FAULT_GARBAGE:
      respond_bytes (msg, SOUP_STATUS_OK, "text/html; charset=utf-8",
                     g_strdup (GARBAGE_BODY));
      return;

    case CDL_SIM_FAULT_HANG:
    case CDL_SIM_FAULT_NONE:
    default:
      break;
    }

  if (!is_authorized (self, msg))
    {
      SoupMessageHeaders *headers;

      headers = soup_server_message_get_response_headers (msg);
      soup_message_headers_replace (headers, "WWW-Authenticate",
                                    "Bearer realm=\"cdl-simworker\"");
      respond_text (msg, SOUP_STATUS_UNAUTHORIZED, "401: Unauthorized");
      return;
    }

  if (route == NULL)
    {
      respond_text (msg, SOUP_STATUS_NOT_FOUND, NOT_FOUND_BODY);
      return;
    }

  route->func (self, msg, arg);
}

static void
held_request_free (HeldRequest *held)
{
  g_clear_signal_handler (&held->disconnected_id, held->msg);
  g_clear_object (&held->msg);
  g_free (held->arg);
  g_free (held);
}

static void
held_request_disconnected_cb (SoupServerMessage *msg,
                              HeldRequest       *held)
{
  g_assert (held->msg == msg);

  g_debug ("A held request was dropped by its client");
  g_ptr_array_remove_fast (held->self->held, held);
}

/* libsoup does not watch the connection of a paused message, so a client
 * that gave up would hold its socket until the mode changes. */
static gboolean
client_gone (SoupServerMessage *msg)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  GIOCondition cond;
  char byte;

  if (socket == NULL || g_socket_is_closed (socket))
    return TRUE;

  cond = g_socket_condition_check (socket, G_IO_IN | G_IO_ERR | G_IO_HUP);
  if (cond & (G_IO_ERR | G_IO_HUP))
    return TRUE;

  /* Readable with nothing to read is an orderly close. */
  if (cond & G_IO_IN)
    return recv (g_socket_get_fd (socket), &byte, 1,
                 MSG_PEEK | MSG_DONTWAIT) == 0;

  return FALSE;
}

static gboolean
reap_held_cb (gpointer user_data)
{
  CdlSimServer *self = user_data;

  for (guint i = self->held->len; i > 0; i--)
    {
      HeldRequest *held = g_ptr_array_index (self->held, i - 1);
      g_autoptr(SoupServerMessage) msg = NULL;

      if (!client_gone (held->msg))
        continue;

      g_debug ("A held request was dropped by its client");
      msg = g_object_ref (held->msg);
      g_ptr_array_remove_index_fast (self->held, i - 1);

      /* Nobody reads this answer; sending it lets libsoup close up. */
      soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                                      NULL);
      soup_server_message_unpause (msg);
    }

  if (self->held->len > 0)
    return G_SOURCE_CONTINUE;

  self->reap_id = 0;

  return G_SOURCE_REMOVE;
}

static void
hold_request (CdlSimServer      *self,
              SoupServerMessage *msg,
              const Route       *route,
              char              *arg)
{
  HeldRequest *held = g_new0 (HeldRequest, 1);

  held->self = self;
  held->msg = g_object_ref (msg);
  held->route = route;
  held->arg = arg;
  held->disconnected_id =
    g_signal_connect (msg, "disconnected",
                      G_CALLBACK (held_request_disconnected_cb), held);

  g_ptr_array_add (self->held, held);
  soup_server_message_pause (msg);

  if (self->reap_id == 0)
    self->reap_id = g_timeout_add (REAP_INTERVAL_MS, reap_held_cb, self);
}

static void
release_held (CdlSimServer *self)
{
  g_autoptr(GPtrArray) held = NULL;

  if (self->held->len == 0)
    return;

  held = g_steal_pointer (&self->held);
  self->held = g_ptr_array_new_with_free_func ((GDestroyNotify) held_request_free);

  for (guint i = 0; i < held->len; i++)
    {
      HeldRequest *h = g_ptr_array_index (held, i);

      answer (self, h->msg, h->route, h->arg);
      soup_server_message_unpause (h->msg);
    }
}

static void
count_request (CdlSimServer *self,
               const char   *key)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->requests, key));

  g_hash_table_insert (self->requests, g_strdup (key), GUINT_TO_POINTER (n + 1));
  self->total_requests++;
}

static void
server_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  CdlSimServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  const Route *route;
  char *arg = NULL;

  if (g_str_has_prefix (path, "/_sim/"))
    {
      route = match_route (control_routes, G_N_ELEMENTS (control_routes),
                           method, path, &arg);
      if (route != NULL)
        route->func (self, msg, arg);
      else
        respond_text (msg, SOUP_STATUS_NOT_FOUND, NOT_FOUND_BODY);

      g_free (arg);
      g_debug ("%s %s -> %u", method, path, soup_server_message_get_status (msg));
      return;
    }

  /* ComfyUI serves each route under /api as well. */
  if (g_str_has_prefix (path, "/api/"))
    path += strlen ("/api");

  route = match_route (comfy_routes, G_N_ELEMENTS (comfy_routes),
                       method, path, &arg);
  count_request (self, route != NULL ? route->key : "unmatched");

  if (self->fault == CDL_SIM_FAULT_HANG)
    {
      g_debug ("%s %s held", method, path);
      hold_request (self, msg, route, arg);
      return;
    }

  answer (self, msg, route, arg);
  g_free (arg);

  g_debug ("%s %s -> %u", method, path, soup_server_message_get_status (msg));
}

/* GObject */

static void
cdl_sim_server_dispose (GObject *object)
{
  CdlSimServer *self = CDL_SIM_SERVER (object);

  g_clear_handle_id (&self->reap_id, g_source_remove);

  /* Held requests stay unanswered: their connections close below. */
  if (self->held != NULL)
    g_ptr_array_set_size (self->held, 0);

  if (self->server != NULL)
    soup_server_disconnect (self->server);
  g_clear_object (&self->server);

  G_OBJECT_CLASS (cdl_sim_server_parent_class)->dispose (object);
}

static void
cdl_sim_server_finalize (GObject *object)
{
  CdlSimServer *self = CDL_SIM_SERVER (object);

  g_clear_pointer (&self->held, g_ptr_array_unref);
  g_clear_pointer (&self->requests, g_hash_table_unref);
  g_clear_pointer (&self->queue, cdl_sim_queue_free);
  g_clear_pointer (&self->nodes_exclude, g_strfreev);
  g_clear_pointer (&self->address, g_free);
  if (self->api_key != NULL)
    memset (self->api_key, 0, strlen (self->api_key));
  g_clear_pointer (&self->api_key, g_free);

  G_OBJECT_CLASS (cdl_sim_server_parent_class)->finalize (object);
}

static void
cdl_sim_server_class_init (CdlSimServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_sim_server_dispose;
  object_class->finalize = cdl_sim_server_finalize;
}

static void
cdl_sim_server_init (CdlSimServer *self)
{
  self->server = soup_server_new ("server-header",
                                  "cdl-simworker/" PACKAGE_VERSION,
                                  NULL);
  soup_server_add_handler (self->server, NULL, server_cb, self, NULL);

  self->requests = g_hash_table_new_full (g_str_hash, g_str_equal,
                                          g_free, NULL);
  self->held = g_ptr_array_new_with_free_func ((GDestroyNotify) held_request_free);
  self->queue = cdl_sim_queue_new ();
}

CdlSimServer *
cdl_sim_server_new (void)
{
  return g_object_new (CDL_TYPE_SIM_SERVER, NULL);
}

gboolean
cdl_sim_server_listen (CdlSimServer  *self,
                       guint          port,
                       GError       **error)
{
  return cdl_sim_server_listen_full (self, "127.0.0.1", port, error);
}

gboolean
cdl_sim_server_listen_full (CdlSimServer  *self,
                            const char    *address,
                            guint          port,
                            GError       **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) socket_address = NULL;
  g_autoslist(GUri) uris = NULL;

  g_return_val_if_fail (CDL_IS_SIM_SERVER (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (port <= G_MAXUINT16, FALSE);
  g_return_val_if_fail (self->port == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  inet = g_inet_address_new_from_string (address);
  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "“%s” is not an IP address", address);
      return FALSE;
    }

  socket_address = g_inet_socket_address_new (inet, port);
  if (!soup_server_listen (self->server, socket_address, 0, error))
    return FALSE;

  uris = soup_server_get_uris (self->server);
  g_assert (uris != NULL);

  self->port = g_uri_get_port (uris->data);
  g_free (self->address);
  self->address = g_inet_address_to_string (inet);

  g_debug ("Listening on %s port %u", self->address, self->port);

  return TRUE;
}

guint
cdl_sim_server_get_port (CdlSimServer *self)
{
  g_return_val_if_fail (CDL_IS_SIM_SERVER (self), 0);

  return self->port;
}

char *
cdl_sim_server_get_base_url (CdlSimServer *self)
{
  g_return_val_if_fail (CDL_IS_SIM_SERVER (self), NULL);

  if (self->port == 0)
    return NULL;

  if (strchr (self->address, ':') != NULL)
    return g_strdup_printf ("http://[%s]:%u", self->address, self->port);

  return g_strdup_printf ("http://%s:%u", self->address, self->port);
}

void
cdl_sim_server_set_fault (CdlSimServer *self,
                          CdlSimFault   fault)
{
  g_return_if_fail (CDL_IS_SIM_SERVER (self));
  g_return_if_fail ((guint) fault < G_N_ELEMENTS (fault_names));

  if (self->fault == fault)
    return;

  g_debug ("Fault mode %s", cdl_sim_fault_to_string (fault));
  self->fault = fault;

  if (fault != CDL_SIM_FAULT_HANG)
    release_held (self);
}

CdlSimFault
cdl_sim_server_get_fault (CdlSimServer *self)
{
  g_return_val_if_fail (CDL_IS_SIM_SERVER (self), CDL_SIM_FAULT_NONE);

  return self->fault;
}

void
cdl_sim_server_set_api_key (CdlSimServer *self,
                            const char   *api_key)
{
  g_return_if_fail (CDL_IS_SIM_SERVER (self));

  if (self->api_key != NULL)
    memset (self->api_key, 0, strlen (self->api_key));
  g_clear_pointer (&self->api_key, g_free);

  if (api_key != NULL && api_key[0] != '\0')
    self->api_key = g_strdup (api_key);
}

void
cdl_sim_server_set_nodes_exclude (CdlSimServer       *self,
                                  const char * const *class_types)
{
  g_return_if_fail (CDL_IS_SIM_SERVER (self));

  g_clear_pointer (&self->nodes_exclude, g_strfreev);
  if (class_types != NULL && class_types[0] != NULL)
    self->nodes_exclude = g_strdupv ((char **) class_types);
}

/* A small text-to-image graph in API format, for placeholder prompts. */
static const char placeholder_graph[] =
  "{\"3\": {\"class_type\": \"KSampler\", \"inputs\": {\"seed\": 0,"
  " \"steps\": 20, \"cfg\": 7.0, \"sampler_name\": \"euler\","
  " \"scheduler\": \"normal\", \"denoise\": 1.0, \"model\": [\"4\", 0],"
  " \"positive\": [\"6\", 0], \"negative\": [\"7\", 0],"
  " \"latent_image\": [\"5\", 0]}},"
  " \"4\": {\"class_type\": \"CheckpointLoaderSimple\","
  " \"inputs\": {\"ckpt_name\": \"sd15.safetensors\"}},"
  " \"5\": {\"class_type\": \"EmptyLatentImage\","
  " \"inputs\": {\"width\": 512, \"height\": 512, \"batch_size\": 1}},"
  " \"6\": {\"class_type\": \"CLIPTextEncode\","
  " \"inputs\": {\"text\": \"a lighthouse at dusk\", \"clip\": [\"4\", 1]}},"
  " \"7\": {\"class_type\": \"CLIPTextEncode\","
  " \"inputs\": {\"text\": \"blurry\", \"clip\": [\"4\", 1]}},"
  " \"8\": {\"class_type\": \"VAEDecode\","
  " \"inputs\": {\"samples\": [\"3\", 0], \"vae\": [\"4\", 2]}},"
  " \"9\": {\"class_type\": \"SaveImage\","
  " \"inputs\": {\"filename_prefix\": \"ComfyUI\", \"images\": [\"8\", 0]}}}";

static CdlSimQueueItem *
new_placeholder (CdlSimServer *self)
{
  static const char * const outputs[] = { "9", NULL };
  g_autoptr(JsonNode) graph = NULL;
  g_autoptr(JsonNode) extra = NULL;
  g_autofree char *prompt_id = g_uuid_string_random ();
  g_autoptr(GError) error = NULL;
  JsonObject *sampler_inputs;
  gint64 number;

  graph = json_from_string (placeholder_graph, &error);
  g_assert_no_error (error);

  number = cdl_sim_queue_take_number (self->queue, FALSE);
  sampler_inputs = json_object_get_object_member (
      json_object_get_object_member (json_node_get_object (graph), "3"),
      "inputs");
  json_object_set_int_member (sampler_inputs, "seed", 1000 + number);

  extra = json_node_init_object (json_node_alloc (), json_object_new ());
  json_object_set_string_member (json_node_get_object (extra),
                                 "client_id", "cdl-sim");

  return cdl_sim_queue_item_new (number, prompt_id, graph, extra, outputs);
}

void
cdl_sim_server_fill_queue (CdlSimServer *self,
                           guint         pending,
                           guint         running)
{
  g_return_if_fail (CDL_IS_SIM_SERVER (self));

  cdl_sim_queue_clear (self->queue);

  for (guint i = 0; i < running; i++)
    cdl_sim_queue_add_running (self->queue, new_placeholder (self));
  for (guint i = 0; i < pending; i++)
    cdl_sim_queue_push (self->queue, new_placeholder (self));
}

guint
cdl_sim_server_get_request_count (CdlSimServer *self,
                                  const char   *route)
{
  g_return_val_if_fail (CDL_IS_SIM_SERVER (self), 0);
  g_return_val_if_fail (route != NULL, 0);

  return GPOINTER_TO_UINT (g_hash_table_lookup (self->requests, route));
}
