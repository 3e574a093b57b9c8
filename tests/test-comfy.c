/* test-comfy.c: the ComfyUI client against the simulated worker
 *
 * Real HTTP over loopback: an in-process CdlSimServer on port 0, and the
 * built cdl-simworker program for what only the program does (flags,
 * the listening line, SIGTERM).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-comfy"

#include "config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <sys/prctl.h>

#include <libsoup/soup.h>

#include "comfy/cdl-comfy-client.h"
#include "comfy/cdl-comfy-client-private.h"
#include "comfy/cdl-comfy-jobs.h"
#include "sim/cdl-sim-history.h"
#include "sim/cdl-sim-nodes.h"
#include "sim/cdl-sim-server.h"

#define TEST_KEY "k3y-that-must-never-show-up"

static char *simworker_path;

/* Log capture: every message of our domains, debug ones included, so that
 * a test can check what was logged and what never was. */

static GPtrArray *captured;

static GLogWriterOutput
capture_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  const char *domain = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }

  if (captured != NULL && domain != NULL && message != NULL &&
      (g_str_equal (domain, "cdl-comfy") || g_str_equal (domain, "cdl-sim")))
    g_ptr_array_add (captured, g_strdup (message));

  return g_log_writer_default (level, fields, n_fields, user_data);
}

static gboolean
captured_contains (const char *needle)
{
  for (guint i = 0; i < captured->len; i++)
    {
      if (strstr (g_ptr_array_index (captured, i), needle) != NULL)
        return TRUE;
    }

  return FALSE;
}

/* Waiting on the main context (the server runs on it too) */

static gboolean
deadline_reached_cb (gpointer user_data)
{
  gboolean *reached = user_data;

  *reached = TRUE;

  return G_SOURCE_REMOVE;
}

static void
store_result_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* Runs the main context until *@result is set; 10 s at most. */
static void
wait_for (GAsyncResult **result)
{
  gboolean reached = FALSE;
  guint id = g_timeout_add_seconds (10, deadline_reached_cb, &reached);

  while (*result == NULL && !reached)
    g_main_context_iteration (NULL, TRUE);

  if (!reached)
    g_source_remove (id);

  g_assert_nonnull (*result);
}

static JsonNode *
get_json (CdlComfyClient  *client,
          const char      *base_url,
          const char      *api_key,
          const char      *path,
          GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cdl_comfy_client_get_json_async (client, base_url, api_key, path, NULL,
                                   store_result_cb, &result);
  wait_for (&result);

  return cdl_comfy_client_get_json_finish (client, result, error);
}

static CdlComfyProbe *
probe (CdlComfyClient  *client,
       const char      *base_url,
       const char      *api_key,
       GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cdl_comfy_client_probe_async (client, base_url, api_key, NULL,
                                store_result_cb, &result);
  wait_for (&result);

  return cdl_comfy_client_probe_finish (client, result, error);
}

/* A plain request, for control routes and for what the client hides
 * (status lines, headers, bodies that are not JSON). */
static char *
raw_request (const char  *method,
             const char  *url,
             const char  *body,
             const char  *api_key,
             guint       *status,
             char       **content_type)
{
  g_autoptr(SoupSession) http = soup_session_new ();
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  const char *type;

  g_assert_nonnull (msg);

  if (body != NULL)
    {
      g_autoptr(GBytes) request = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json",
                                                request);
    }
  if (api_key != NULL)
    {
      g_autofree char *value = g_strconcat ("Bearer ", api_key, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (msg),
                                    "Authorization", value);
    }

  soup_session_send_and_read_async (http, msg, G_PRIORITY_DEFAULT, NULL,
                                    store_result_cb, &result);
  wait_for (&result);
  bytes = soup_session_send_and_read_finish (http, result, &error);
  g_assert_no_error (error);

  *status = soup_message_get_status (msg);
  if (content_type != NULL)
    {
      type = soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                           "Content-Type");
      *content_type = g_strdup (type);
    }

  if (g_bytes_get_size (bytes) == 0)
    return g_strdup ("");

  return g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* POSTs to a control route and checks that it answered 200. */
static JsonNode *
control (const char *base_url,
         const char *path,
         const char *body)
{
  g_autofree char *url = g_strconcat (base_url, path, NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *node;
  guint status;

  text = raw_request (body ? "POST" : "GET", url, body, NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 200);

  node = json_from_string (text, &error);
  g_assert_no_error (error);

  return node;
}

static gint64
state_int (const char *base_url,
           const char *member)
{
  g_autoptr(JsonNode) state = control (base_url, "/_sim/state", NULL);

  return json_object_get_int_member (json_node_get_object (state), member);
}

/* Fixture: an in-process simulated worker and a client */

typedef struct
{
  CdlSimServer   *sim;
  CdlComfyClient *client;
  char           *base_url;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->sim = cdl_sim_server_new ();
  cdl_sim_server_listen (f->sim, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cdl_sim_server_get_port (f->sim), >, 0);

  f->base_url = cdl_sim_server_get_base_url (f->sim);
  f->client = cdl_comfy_client_new ();

  g_ptr_array_set_size (captured, 0);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->client);
  g_clear_object (&f->sim);
  g_clear_pointer (&f->base_url, g_free);

  /* Let closed connections finish on both sides. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Probe and queue */

static void
test_probe_idle (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfyProbe) p = NULL;

  p = probe (f->client, f->base_url, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (p);

  g_assert_cmpint (p->pending, ==, 0);
  g_assert_cmpint (p->running, ==, 0);
  g_assert_cmpstr (p->comfyui_version, ==, "0.3.64");
  g_assert_nonnull (p->device_name);
  g_assert_true (g_str_has_prefix (p->device_name, "cuda:0 "));
  g_assert_cmpint (p->vram_free, >, 0);

  g_assert_cmpuint (cdl_sim_server_get_request_count (f->sim, "GET /system_stats"), ==, 1);
  g_assert_cmpuint (cdl_sim_server_get_request_count (f->sim, "GET /queue"), ==, 1);
}

static void
test_probe_queue_counts (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfyProbe) p = NULL;
  g_autoptr(JsonNode) filled = NULL;
  g_autoptr(JsonNode) queue = NULL;
  g_autoptr(JsonNode) prompt = NULL;
  JsonArray *running;
  JsonArray *pending;
  JsonArray *item;

  filled = control (f->base_url, "/_sim/queue",
                    "{\"pending\": 2, \"running\": 1}");
  g_assert_true (JSON_NODE_HOLDS_OBJECT (filled));

  p = probe (f->client, f->base_url, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (p->pending, ==, 2);
  g_assert_cmpint (p->running, ==, 1);

  /* Items are [number, prompt_id, graph, extra_data, outputs_to_execute]. */
  queue = get_json (f->client, f->base_url, NULL, "/queue", &error);
  g_assert_no_error (error);
  running = json_object_get_array_member (json_node_get_object (queue),
                                          "queue_running");
  pending = json_object_get_array_member (json_node_get_object (queue),
                                          "queue_pending");
  g_assert_cmpuint (json_array_get_length (running), ==, 1);
  g_assert_cmpuint (json_array_get_length (pending), ==, 2);

  item = json_array_get_array_element (running, 0);
  g_assert_cmpuint (json_array_get_length (item), ==, 5);
  g_assert_cmpint (json_array_get_int_element (item, 0), ==, 0);
  g_assert_true (g_uuid_string_is_valid (json_array_get_string_element (item, 1)));
  g_assert_true (json_object_has_member (json_array_get_object_element (item, 2), "9"));
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (item, 3),
                                                  "client_id"), ==, "cdl-sim");
  g_assert_cmpstr (json_array_get_string_element (json_array_get_array_element (item, 4), 0),
                   ==, "9");

  item = json_array_get_array_element (pending, 1);
  g_assert_cmpint (json_array_get_int_element (item, 0), ==, 2);

  prompt = get_json (f->client, f->base_url, NULL, "/prompt", &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (
                     json_object_get_object_member (json_node_get_object (prompt),
                                                    "exec_info"),
                     "queue_remaining"), ==, 3);

  /* Filling again replaces the items, it does not add to them. */
  cdl_sim_server_fill_queue (f->sim, 0, 1);
  g_clear_pointer (&p, cdl_comfy_probe_free);
  p = probe (f->client, f->base_url, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (p->pending, ==, 0);
  g_assert_cmpint (p->running, ==, 1);
}

static void
test_system_stats_shape (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  static const char * const system_members[] = {
    "os", "ram_total", "ram_free", "comfyui_version",
    "required_frontend_version", "installed_templates_version",
    "required_templates_version", "python_version", "pytorch_version",
    "embedded_python", "argv",
  };
  static const char * const device_members[] = {
    "name", "type", "index", "vram_total", "vram_free", "torch_vram_total",
    "torch_vram_free",
  };
  JsonObject *system;
  JsonObject *device;
  JsonArray *devices;

  node = get_json (f->client, f->base_url, NULL, "/system_stats", &error);
  g_assert_no_error (error);

  system = json_object_get_object_member (json_node_get_object (node), "system");
  g_assert_nonnull (system);
  for (guint i = 0; i < G_N_ELEMENTS (system_members); i++)
    g_assert_true (json_object_has_member (system, system_members[i]));
  g_assert_cmpuint (json_object_get_size (system), ==, G_N_ELEMENTS (system_members));
  g_assert_cmpstr (json_object_get_string_member (system, "os"), ==, "posix");
  g_assert_cmpstr (json_object_get_string_member (system, "comfyui_version"), ==, "0.3.64");
  g_assert_false (json_object_get_boolean_member (system, "embedded_python"));
  g_assert_cmpint (json_object_get_int_member (system, "ram_total"), >,
                   json_object_get_int_member (system, "ram_free") / 2);
  g_assert_cmpstr (json_array_get_string_element (
                     json_object_get_array_member (system, "argv"), 0), ==, "main.py");

  devices = json_object_get_array_member (json_node_get_object (node), "devices");
  g_assert_cmpuint (json_array_get_length (devices), ==, 1);
  device = json_array_get_object_element (devices, 0);
  for (guint i = 0; i < G_N_ELEMENTS (device_members); i++)
    g_assert_true (json_object_has_member (device, device_members[i]));
  g_assert_cmpstr (json_object_get_string_member (device, "type"), ==, "cuda");
  g_assert_cmpint (json_object_get_int_member (device, "index"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (device, "vram_free"), <=,
                   json_object_get_int_member (device, "vram_total"));
}

/* /object_info */

static const char * const required_nodes[] = {
  "KSampler", "KSamplerAdvanced", "CheckpointLoaderSimple", "CLIPTextEncode",
  "EmptyLatentImage", "VAEDecode", "SaveImage", "PreviewImage",
  "LatentBatchSeedBehavior", "RandomNoise", "SamplerCustomAdvanced",
  "SamplerCustom", "KSamplerSelect", "BasicScheduler", "BasicGuider",
  "CFGGuider", "UNETLoader", "DualCLIPLoader", "VAELoader", "FluxGuidance",
  "EmptySD3LatentImage", "LoraLoader", "ControlNetLoader",
  "ControlNetApplyAdvanced", "LatentUpscale", "ImageScale",
};

static JsonObject *
required_inputs (JsonObject *info,
                 const char *class_type)
{
  JsonObject *node = json_object_get_object_member (info, class_type);
  JsonObject *input = json_object_get_object_member (node, "input");

  return json_object_get_object_member (input, "required");
}

static guint
array_length (JsonObject *obj,
              const char *member)
{
  return json_array_get_length (json_object_get_array_member (obj, member));
}

static void
test_object_info_all (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *url = g_strconcat (f->base_url, "/object_info", NULL);
  g_autofree char *text = NULL;
  g_autofree char *type = NULL;
  g_autoptr(GList) names = NULL;
  JsonObject *info;
  JsonArray *spec;
  JsonObject *options;
  guint status;

  node = get_json (f->client, f->base_url, NULL, "/object_info", &error);
  g_assert_no_error (error);
  info = json_node_get_object (node);

  for (guint i = 0; i < G_N_ELEMENTS (required_nodes); i++)
    {
      if (!json_object_has_member (info, required_nodes[i]))
        g_error ("/object_info lacks %s", required_nodes[i]);
    }

  /* Every node has the members a ComfyUI client reads, and consistent
   * input_order, output and output_name lists. */
  names = json_object_get_members (info);
  for (GList *l = names; l != NULL; l = l->next)
    {
      JsonObject *n = json_object_get_object_member (info, l->data);
      JsonObject *input = json_object_get_object_member (n, "input");
      JsonObject *order = json_object_get_object_member (n, "input_order");
      g_autoptr(GList) groups = json_object_get_members (order);
      guint n_outputs;

      g_assert_cmpstr (json_object_get_string_member (n, "name"), ==, l->data);
      g_assert_true (json_object_has_member (n, "display_name"));
      g_assert_true (json_object_has_member (n, "description"));
      g_assert_true (json_object_has_member (n, "python_module"));
      g_assert_true (json_object_has_member (n, "category"));
      g_assert_true (json_object_has_member (n, "output_node"));
      g_assert_true (json_object_has_member (input, "required") ||
                     json_object_has_member (input, "optional"));

      for (GList *g = groups; g != NULL; g = g->next)
        {
          JsonArray *ordered = json_object_get_array_member (order, g->data);

          g_assert_cmpuint (json_array_get_length (ordered), ==,
                            json_object_get_size (json_object_get_object_member (input, g->data)));
        }

      n_outputs = array_length (n, "output");
      g_assert_cmpuint (array_length (n, "output_is_list"), ==, n_outputs);
      g_assert_cmpuint (array_length (n, "output_name"), ==, n_outputs);
    }

  /* V1 combo: [[choices…], {…}] */
  spec = json_object_get_array_member (required_inputs (info, "KSampler"),
                                       "sampler_name");
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_array_get_element (spec, 0)));
  g_assert_cmpuint (json_array_get_length (json_array_get_array_element (spec, 0)), ==, 42);
  g_assert_cmpstr (json_array_get_string_element (json_array_get_array_element (spec, 0), 0),
                   ==, "euler");

  spec = json_object_get_array_member (required_inputs (info, "CheckpointLoaderSimple"),
                                       "ckpt_name");
  g_assert_cmpstr (json_array_get_string_element (json_array_get_array_element (spec, 0), 0),
                   ==, "sd15.safetensors");

  /* V3 combo: ["COMBO", {"options": […]}] */
  spec = json_object_get_array_member (required_inputs (info, "LatentBatchSeedBehavior"),
                                       "seed_behavior");
  g_assert_cmpstr (json_array_get_string_element (spec, 0), ==, "COMBO");
  options = json_array_get_object_element (spec, 1);
  g_assert_cmpuint (array_length (options, "options"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (options, "default"), ==, "fixed");

  /* Numbers as ComfyUI writes them. */
  spec = json_object_get_array_member (required_inputs (info, "KSampler"), "steps");
  g_assert_cmpstr (json_array_get_string_element (spec, 0), ==, "INT");
  options = json_array_get_object_element (spec, 1);
  g_assert_cmpint (json_object_get_int_member (options, "default"), ==, 20);

  g_assert_true (json_object_get_boolean_member (
                   json_object_get_object_member (info, "SaveImage"), "output_node"));
  g_assert_true (json_object_get_boolean_member (
                   json_object_get_object_member (info, "OpenAIDalle3"), "api_node"));

  /* The text itself: JSON content type, and the seed maximum as the exact
   * integer 2^64 - 1, which json-glib cannot hold (it reads it as -1). */
  text = raw_request ("GET", url, NULL, NULL, &status, &type);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (type, ==, "application/json; charset=utf-8");
  g_assert_nonnull (strstr (text, "\"seed\": [\"INT\", {\"default\": 0, \"min\": 0, "
                                  "\"max\": 18446744073709551615, "
                                  "\"control_after_generate\": true"));
  g_assert_nonnull (strstr (text, "\"cfg\": [\"FLOAT\", {\"default\": 8.0, "
                                  "\"min\": 0.0, \"max\": 100.0, \"step\": 0.1, "
                                  "\"round\": 0.01"));
  g_assert_nonnull (strstr (text, "\"OpenAI DALL\\u00b7E 3\""));
}

static void
test_object_info_class (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) known = NULL;
  g_autoptr(JsonNode) unknown = NULL;
  g_autoptr(JsonNode) empty = NULL;
  JsonObject *obj;

  known = get_json (f->client, f->base_url, NULL, "/object_info/KSampler", &error);
  g_assert_no_error (error);
  obj = json_node_get_object (known);
  g_assert_cmpuint (json_object_get_size (obj), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (obj, "KSampler"), "category"),
                   ==, "sampling");

  unknown = get_json (f->client, f->base_url, NULL, "/object_info/NoSuchNode", &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (unknown));
  g_assert_cmpuint (json_object_get_size (json_node_get_object (unknown)), ==, 0);

  /* An empty class is no route at all. */
  empty = get_json (f->client, f->base_url, NULL, "/object_info/", &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
  g_assert_null (empty);
}

static void
test_nodes_exclude (Fixture       *f,
                    gconstpointer  data)
{
  static const char * const exclude[] = { "FluxGuidance", "UNETLoader", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) all = NULL;
  g_autoptr(JsonNode) one = NULL;
  guint n_nodes;

  cdl_sim_nodes_get_all (&n_nodes);
  cdl_sim_server_set_nodes_exclude (f->sim, exclude);

  all = get_json (f->client, f->base_url, NULL, "/object_info", &error);
  g_assert_no_error (error);
  g_assert_false (json_object_has_member (json_node_get_object (all), "FluxGuidance"));
  g_assert_false (json_object_has_member (json_node_get_object (all), "UNETLoader"));
  g_assert_true (json_object_has_member (json_node_get_object (all), "KSampler"));
  g_assert_cmpuint (json_object_get_size (json_node_get_object (all)), ==, n_nodes - 2);

  one = get_json (f->client, f->base_url, NULL, "/object_info/FluxGuidance", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (one)), ==, 0);
}

/* Other routes */

static void
assert_route (const char *base_url,
              const char *path,
              guint       expected_status,
              const char *expected_type,
              const char *expected_body)
{
  g_autofree char *url = g_strconcat (base_url, path, NULL);
  g_autofree char *type = NULL;
  g_autofree char *body = NULL;
  guint status;

  body = raw_request ("GET", url, NULL, NULL, &status, &type);
  g_assert_cmpuint (status, ==, expected_status);
  g_assert_cmpstr (type, ==, expected_type);
  g_assert_cmpstr (body, ==, expected_body);
}

static void
test_other_routes (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) models = NULL;
  const char *json = "application/json; charset=utf-8";
  const char *text = "text/plain; charset=utf-8";

  assert_route (f->base_url, "/features", 200, json,
                "{\"supports_preview_metadata\":true,\"max_upload_size\":104857600}");
  assert_route (f->base_url, "/embeddings", 200, json, "[]");
  assert_route (f->base_url, "/models/checkpoints", 200, json,
                "[\"sd15.safetensors\",\"sdxl.safetensors\"]");
  assert_route (f->base_url, "/models/no-such-folder", 404, NULL, "");
  assert_route (f->base_url, "/interrupt", 404, text, "404: Not Found");
  assert_route (f->base_url, "/no/such/route", 404, text, "404: Not Found");
  assert_route (f->base_url, "/api/queue", 200, json,
                "{\"queue_running\":[],\"queue_pending\":[]}");

  models = get_json (f->client, f->base_url, NULL, "/models", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_array_get_string_element (json_node_get_array (models), 0),
                   ==, "checkpoints");

  g_assert_cmpuint (cdl_sim_server_get_request_count (f->sim, "unmatched"), ==, 2);
  g_assert_cmpuint (cdl_sim_server_get_request_count (f->sim, "GET /queue"), ==, 1);
}

/* API key */

static void
test_api_key (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(CdlComfyProbe) p = NULL;
  g_autofree char *url = g_strconcat (f->base_url, "/queue", NULL);
  g_autofree char *body = NULL;
  guint status;

  cdl_sim_server_set_api_key (f->sim, TEST_KEY);

  node = get_json (f->client, f->base_url, NULL, "/queue", &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
  g_assert_null (node);
  g_assert_nonnull (strstr (error->message, "401"));
  g_clear_error (&error);

  /* An empty key sends no header at all. */
  node = get_json (f->client, f->base_url, "", "/queue", &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
  g_clear_error (&error);

  node = get_json (f->client, f->base_url, "wrong-" TEST_KEY, "/queue", &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
  g_assert_null (strstr (error->message, TEST_KEY));
  g_clear_error (&error);

  body = raw_request ("GET", url, NULL, TEST_KEY, &status, NULL);
  g_assert_cmpuint (status, ==, 200);

  p = probe (f->client, f->base_url, TEST_KEY, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p->comfyui_version, ==, "0.3.64");

  /* Control routes need no key. */
  g_assert_cmpint (state_int (f->base_url, "total_requests"), ==, 6);

  g_assert_true (captured_contains ("/system_stats"));
  g_assert_false (captured_contains (TEST_KEY));
}

static void
test_logging (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfyProbe) p = NULL;
  g_autofree char *line = NULL;

  p = probe (f->client, f->base_url, TEST_KEY, &error);
  g_assert_no_error (error);

  /* One line per request: method, URL, status and time. */
  line = g_strdup_printf ("GET %s/system_stats -> 200 in ", f->base_url);
  g_assert_true (captured_contains (line));
  g_free (line);
  line = g_strdup_printf ("GET %s/queue -> 200 in ", f->base_url);
  g_assert_true (captured_contains (line));
  g_assert_false (captured_contains (TEST_KEY));
}

/* Faults */

static void
test_fault_fail (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) mode = NULL;
  g_autoptr(CdlComfyProbe) p = NULL;
  g_autofree char *expected = NULL;

  mode = control (f->base_url, "/_sim/fault", "{\"mode\": \"fail\"}");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (mode), "mode"),
                   ==, "fail");
  g_assert_cmpint (cdl_sim_server_get_fault (f->sim), ==, CDL_SIM_FAULT_FAIL);

  node = get_json (f->client, f->base_url, NULL, "/queue", &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
  expected = g_strdup_printf ("HTTP 500 from %s/queue", f->base_url);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);

  p = probe (f->client, f->base_url, NULL, &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
  g_assert_null (p);
  g_clear_error (&error);

  assert_route (f->base_url, "/system_stats", 500, "text/plain; charset=utf-8",
                "500 Internal Server Error\n\nServer got itself in trouble");
  assert_route (f->base_url, "/no/such/route", 500, "text/plain; charset=utf-8",
                "500 Internal Server Error\n\nServer got itself in trouble");

  /* Control routes still answer, and counted what was asked. */
  g_assert_cmpint (state_int (f->base_url, "total_requests"), ==, 4);

  g_clear_pointer (&mode, json_node_unref);
  mode = control (f->base_url, "/_sim/fault", "{\"mode\": \"none\"}");
  node = get_json (f->client, f->base_url, NULL, "/queue", &error);
  g_assert_no_error (error);
}

static void
test_fault_hang (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) mode = NULL;
  g_autoptr(GAsyncResult) held = NULL;
  g_autofree char *expected = NULL;
  gint64 start;
  gint64 elapsed_ms;

  mode = control (f->base_url, "/_sim/fault", "{\"mode\": \"hang\"}");
  cdl_comfy_client_set_timeout (f->client, 1);

  start = g_get_monotonic_time ();
  node = get_json (f->client, f->base_url, NULL, "/queue", &error);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;

  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_TIMEOUT);
  expected = g_strdup_printf ("No answer from %s/queue within 1 s", f->base_url);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_cmpint (elapsed_ms, >=, 900);
  g_assert_cmpint (elapsed_ms, <, 2500);
  g_clear_error (&error);

  /* Control routes answer while the others hang, and the server lets go
   * of a request whose client gave up. */
  start = g_get_monotonic_time ();
  while (state_int (f->base_url, "held_requests") > 0)
    {
      g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
      g_usleep (50 * 1000);
    }

  /* Leaving hang mode answers what is held. */
  cdl_comfy_client_set_timeout (f->client, 5);
  cdl_comfy_client_get_json_async (f->client, f->base_url, NULL, "/prompt",
                                   NULL, store_result_cb, &held);
  while (state_int (f->base_url, "held_requests") < 1)
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (held);

  g_clear_pointer (&mode, json_node_unref);
  mode = control (f->base_url, "/_sim/fault", "{\"mode\": \"none\"}");
  wait_for (&held);
  g_clear_pointer (&node, json_node_unref);
  node = cdl_comfy_client_get_json_finish (f->client, held, &error);
  g_assert_no_error (error);
  g_assert_true (json_object_has_member (json_node_get_object (node), "exec_info"));
  g_assert_cmpint (state_int (f->base_url, "held_requests"), ==, 0);
}

static void
test_fault_garbage (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(CdlComfyProbe) p = NULL;

  cdl_sim_server_set_fault (f->sim, CDL_SIM_FAULT_GARBAGE);

  node = get_json (f->client, f->base_url, NULL, "/queue", &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_BAD_RESPONSE);
  g_assert_null (node);
  g_clear_error (&error);

  p = probe (f->client, f->base_url, NULL, &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_BAD_RESPONSE);
}

static void
test_probe_not_comfy (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfyProbe) p = NULL;
  g_autofree char *base = NULL;

  /* A base URL one level too deep makes GET /system_stats land on
   * /object_info/system_stats: 200 with "{}", valid JSON but not the
   * system_stats shape. */
  base = g_strconcat (f->base_url, "/object_info", NULL);
  p = probe (f->client, base, NULL, &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_BAD_RESPONSE);
  g_assert_nonnull (strstr (error->message, "/system_stats"));
  g_assert_null (p);
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonNode) node = NULL;
  gint64 start = g_get_monotonic_time ();

  cdl_sim_server_set_fault (f->sim, CDL_SIM_FAULT_HANG);

  cdl_comfy_client_get_json_async (f->client, f->base_url, NULL, "/queue",
                                   cancellable, store_result_cb, &result);
  while (cdl_sim_server_get_request_count (f->sim, "GET /queue") == 0)
    g_main_context_iteration (NULL, TRUE);
  g_cancellable_cancel (cancellable);
  wait_for (&result);

  node = cdl_comfy_client_get_json_finish (f->client, result, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
}

/* Client errors without a server */

static guint
unused_port (void)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);

  /* Closed again when the socket goes: nothing listens there. */
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
test_unreachable (void)
{
  g_autoptr(CdlComfyClient) client = cdl_comfy_client_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(CdlComfyProbe) p = NULL;
  g_autofree char *base = g_strdup_printf ("http://127.0.0.1:%u", unused_port ());
  g_autofree char *expected = NULL;

  node = get_json (client, base, TEST_KEY, "/queue", &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_UNREACHABLE);
  expected = g_strdup_printf ("Could not connect to %s: Connection refused", base);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);

  p = probe (client, base, NULL, &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_UNREACHABLE);
  g_clear_error (&error);

  /* Not a web address at all. */
  node = get_json (client, "ftp://127.0.0.1:21", NULL, "/queue", &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_UNREACHABLE);
  g_clear_error (&error);
  node = get_json (client, "worker-one", NULL, "/queue", &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_UNREACHABLE);
}

static void
test_url_building (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) with_query = NULL;
  g_autofree char *slashed = g_strconcat (f->base_url, "/", NULL);
  g_autofree char *userinfo = NULL;

  node = get_json (f->client, slashed, NULL, "/queue", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cdl_sim_server_get_request_count (f->sim, "GET /queue"), ==, 1);

  with_query = get_json (f->client, f->base_url, NULL, "/embeddings?x=1", &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (with_query));

  /* Credentials in a base URL never reach a message. */
  cdl_sim_server_set_fault (f->sim, CDL_SIM_FAULT_FAIL);
  userinfo = g_strdup_printf ("http://admin:" TEST_KEY "@127.0.0.1:%u",
                              cdl_sim_server_get_port (f->sim));
  g_clear_pointer (&node, json_node_unref);
  node = get_json (f->client, userinfo, NULL, "/queue", &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
  g_assert_null (strstr (error->message, TEST_KEY));
  g_assert_false (captured_contains (TEST_KEY));
}

static void
test_timeout_property (void)
{
  g_autoptr(CdlComfyClient) client = cdl_comfy_client_new ();
  guint timeout = 0;

  g_object_get (client, "timeout", &timeout, NULL);
  g_assert_cmpuint (timeout, ==, CDL_COMFY_DEFAULT_TIMEOUT_S);

  cdl_comfy_client_set_timeout (client, 7);
  g_object_get (client, "timeout", &timeout, NULL);
  g_assert_cmpuint (timeout, ==, 7);
}

static JsonNode *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);

  return node;
}

static void
test_parse_queue (void)
{
  static const struct
  {
    const char *json;
    gboolean    ok;
    int         pending;
    int         running;
  } cases[] = {
    { "{\"queue_running\": [], \"queue_pending\": []}", TRUE, 0, 0 },
    { "{\"queue_running\": [[0, \"a\", {}, {}, []]], "
      "\"queue_pending\": [[1, \"b\", {}, {}, []], [2, \"c\", {}, {}, []]]}",
      TRUE, 2, 1 },
    { "{}", TRUE, 0, 0 },
    { "{\"queue_pending\": [1, 2, 3]}", TRUE, 3, 0 },
    { "{\"queue_running\": [1]}", TRUE, 0, 1 },
    { "{\"queue_running\": null, \"queue_pending\": null}", TRUE, 0, 0 },
    { "{\"queue_pending\": 3}", FALSE, 0, 0 },
    { "{\"queue_running\": {}}", FALSE, 0, 0 },
    { "[]", FALSE, 0, 0 },
    { "\"queue\"", FALSE, 0, 0 },
    { "null", FALSE, 0, 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) node = parse (cases[i].json);
      g_autoptr(GError) error = NULL;
      int pending = -1;
      int running = -1;
      gboolean ok;

      g_test_message ("%s", cases[i].json);
      ok = cdl_comfy_parse_queue (node, &pending, &running, &error);

      if (cases[i].ok)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpint (pending, ==, cases[i].pending);
          g_assert_cmpint (running, ==, cases[i].running);
        }
      else
        {
          g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_BAD_RESPONSE);
          g_assert_false (ok);
        }
    }
}

/* Control routes */

static void
test_control_routes (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autofree char *body = NULL;
  g_autoptr(JsonNode) state = NULL;
  g_autoptr(JsonNode) reset = NULL;
  guint status;

  url = g_strconcat (f->base_url, "/_sim/fault", NULL);
  body = raw_request ("POST", url, "{\"mode\": \"explode\"}", NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 400);
  g_free (body);
  body = raw_request ("POST", url, "not json", NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 400);
  g_assert_cmpint (cdl_sim_server_get_fault (f->sim), ==, CDL_SIM_FAULT_NONE);

  g_free (url);
  g_free (body);
  url = g_strconcat (f->base_url, "/_sim/queue", NULL);
  body = raw_request ("POST", url, "{\"pending\": -1}", NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 400);
  g_free (body);
  body = raw_request ("POST", url, "{\"pending\": \"2\"}", NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 400);

  g_free (url);
  g_free (body);
  url = g_strconcat (f->base_url, "/_sim/nothing", NULL);
  body = raw_request ("GET", url, NULL, NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 404);

  /* Counters, queue and mode all go back to the start. */
  cdl_sim_server_fill_queue (f->sim, 3, 1);
  cdl_sim_server_set_fault (f->sim, CDL_SIM_FAULT_FAIL);
  assert_route (f->base_url, "/queue", 500, "text/plain; charset=utf-8",
                "500 Internal Server Error\n\nServer got itself in trouble");

  state = control (f->base_url, "/_sim/state", NULL);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (state), "mode"),
                   ==, "fail");
  g_assert_cmpint (json_object_get_int_member (
                     json_object_get_object_member (json_node_get_object (state), "requests"),
                     "GET /queue"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (
                     json_object_get_object_member (json_node_get_object (state), "queue"),
                     "pending"), ==, 3);

  reset = control (f->base_url, "/_sim/reset", "{}");
  g_assert_cmpint (cdl_sim_server_get_fault (f->sim), ==, CDL_SIM_FAULT_NONE);
  g_assert_cmpint (state_int (f->base_url, "total_requests"), ==, 0);
  assert_route (f->base_url, "/queue", 200, "application/json; charset=utf-8",
                "{\"queue_running\":[],\"queue_pending\":[]}");
}

/* Running prompts */

/* A text-to-image graph: 3 KSampler, 4 checkpoint, 5 latent, 6 and 7
 * prompts, 8 VAEDecode, 9 SaveImage, and 10 LatentBatchSeedBehavior
 * between the latent and the sampler when @behavior is set. */
static JsonNode *
make_graph (guint64     seed,
            guint       width,
            guint       height,
            guint       batch,
            const char *behavior,
            const char *text,
            const char *prefix)
{
  g_autofree char *behavior_node = NULL;
  g_autofree char *json = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *graph;

  if (behavior != NULL)
    behavior_node = g_strdup_printf (
        ", \"10\": {\"class_type\": \"LatentBatchSeedBehavior\","
        " \"inputs\": {\"samples\": [\"5\", 0], \"seed_behavior\": \"%s\"}}",
        behavior);

  json = g_strdup_printf (
      "{\"3\": {\"class_type\": \"KSampler\", \"inputs\": {\"seed\": %"
      G_GUINT64_FORMAT ", \"steps\": 20, \"cfg\": 7.0, \"sampler_name\": \"euler\","
      " \"scheduler\": \"normal\", \"denoise\": 1.0, \"model\": [\"4\", 0],"
      " \"positive\": [\"6\", 0], \"negative\": [\"7\", 0],"
      " \"latent_image\": [\"%s\", 0]}},"
      " \"4\": {\"class_type\": \"CheckpointLoaderSimple\","
      " \"inputs\": {\"ckpt_name\": \"sd15.safetensors\"}},"
      " \"5\": {\"class_type\": \"EmptyLatentImage\","
      " \"inputs\": {\"width\": %u, \"height\": %u, \"batch_size\": %u}},"
      " \"6\": {\"class_type\": \"CLIPTextEncode\","
      " \"inputs\": {\"text\": \"%s\", \"clip\": [\"4\", 1]}},"
      " \"7\": {\"class_type\": \"CLIPTextEncode\","
      " \"inputs\": {\"text\": \"blurry\", \"clip\": [\"4\", 1]}},"
      " \"8\": {\"class_type\": \"VAEDecode\","
      " \"inputs\": {\"samples\": [\"3\", 0], \"vae\": [\"4\", 2]}},"
      " \"9\": {\"class_type\": \"SaveImage\","
      " \"inputs\": {\"filename_prefix\": \"%s\", \"images\": [\"8\", 0]}}%s}",
      seed, behavior ? "10" : "5", width, height, batch, text, prefix,
      behavior_node ? behavior_node : "");

  graph = json_from_string (json, &error);
  g_assert_no_error (error);

  return graph;
}

static JsonNode *
small_graph (guint64 seed)
{
  return make_graph (seed, 64, 48, 1, NULL, "a lighthouse at dusk", "ComfyUI");
}

static CdlComfySubmitted *
submit (CdlComfyClient  *client,
        const char      *base_url,
        JsonNode        *graph,
        const char      *prompt_id,
        GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cdl_comfy_jobs_submit_async (client, base_url, NULL, graph, "test-client",
                               prompt_id, NULL, store_result_cb, &result);
  wait_for (&result);

  return cdl_comfy_jobs_submit_finish (client, result, error);
}

static char *
submit_ok (CdlComfyClient *client,
           const char     *base_url,
           JsonNode       *graph)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfySubmitted) s = submit (client, base_url, graph, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (s->node_errors)), ==, 0);

  return g_strdup (s->prompt_id);
}

static CdlComfyHistory *
history (CdlComfyClient *client,
         const char     *base_url,
         const char     *prompt_id)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  CdlComfyHistory *h;

  cdl_comfy_jobs_history_async (client, base_url, NULL, prompt_id, NULL,
                                store_result_cb, &result);
  wait_for (&result);
  h = cdl_comfy_jobs_history_finish (client, result, &error);
  g_assert_no_error (error);

  return h;
}

static CdlComfyQueue *
queue (CdlComfyClient *client,
       const char     *base_url)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  CdlComfyQueue *q;

  cdl_comfy_jobs_queue_async (client, base_url, NULL, NULL, store_result_cb,
                              &result);
  wait_for (&result);
  q = cdl_comfy_jobs_queue_finish (client, result, &error);
  g_assert_no_error (error);

  return q;
}

/* Runs the main context for @ms. */
static void
spin (guint ms)
{
  gboolean reached = FALSE;

  g_timeout_add (ms, deadline_reached_cb, &reached);
  while (!reached)
    g_main_context_iteration (NULL, TRUE);
}

/* Polls the history until the prompt finished; 10 s at most. */
static CdlComfyHistory *
wait_done (CdlComfyClient *client,
           const char     *base_url,
           const char     *prompt_id)
{
  for (guint i = 0; i < 1000; i++)
    {
      CdlComfyHistory *h = history (client, base_url, prompt_id);

      if (h->status != CDL_COMFY_JOB_PENDING)
        return h;

      cdl_comfy_history_free (h);
      spin (10);
    }

  g_assert_not_reached ();
}

static GBytes *
view (CdlComfyClient  *client,
      const char      *base_url,
      CdlComfyOutput  *output,
      char           **content_type,
      GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  cdl_comfy_jobs_view_async (client, base_url, NULL, output->filename,
                             output->subfolder, output->type, NULL,
                             store_result_cb, &result);
  wait_for (&result);

  return cdl_comfy_jobs_view_finish (client, result, content_type, error);
}

static GBytes *
view_ok (CdlComfyClient *client,
         const char     *base_url,
         CdlComfyOutput *output)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *type = NULL;
  GBytes *bytes = view (client, base_url, output, &type, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (type, ==, "image/png");

  return bytes;
}

/* PNG checks, with a CRC of our own rather than the simulator's. */

static guint32
test_crc32 (const guint8 *data,
            gsize         len)
{
  guint32 crc = 0xffffffffu;

  for (gsize i = 0; i < len; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }

  return crc ^ 0xffffffffu;
}

static guint32
read_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
         ((guint32) p[2] << 8) | p[3];
}

/* Checks the signature, every chunk's CRC, IHDR and that the IDAT data
 * inflates to the rows of a @width × @height RGB image. Returns the rows
 * (filter bytes included) and the "prompt" text. */
static GBytes *
decode_png (GBytes  *png,
            guint    width,
            guint    height,
            char   **prompt_text)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  g_autoptr(GByteArray) idat = g_byte_array_new ();
  g_autoptr(GZlibDecompressor) zlib = NULL;
  g_autoptr(GInputStream) mem = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GOutputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (png, &len);
  gsize pos = 8;
  gboolean seen_ihdr = FALSE;
  gboolean seen_iend = FALSE;
  GBytes *rows;

  if (prompt_text != NULL)
    *prompt_text = NULL;

  g_assert_cmpuint (len, >, 8);
  g_assert_cmpmem (data, 8, signature, 8);

  while (pos + 12 <= len && !seen_iend)
    {
      guint32 n = read_be32 (data + pos);
      const guint8 *type = data + pos + 4;
      const guint8 *body = data + pos + 8;

      g_assert_cmpuint (pos + 12 + n, <=, len);
      g_assert_cmpuint (read_be32 (body + n), ==, test_crc32 (type, n + 4));

      if (memcmp (type, "IHDR", 4) == 0)
        {
          g_assert_false (seen_ihdr);
          g_assert_cmpuint (pos, ==, 8);
          g_assert_cmpuint (n, ==, 13);
          g_assert_cmpuint (read_be32 (body), ==, width);
          g_assert_cmpuint (read_be32 (body + 4), ==, height);
          g_assert_cmpuint (body[8], ==, 8);
          g_assert_cmpuint (body[9], ==, 2);
          seen_ihdr = TRUE;
        }
      else if (memcmp (type, "tEXt", 4) == 0 && prompt_text != NULL &&
               n > 7 && memcmp (body, "prompt", 7) == 0)
        *prompt_text = g_strndup ((const char *) body + 7, n - 7);
      else if (memcmp (type, "IDAT", 4) == 0)
        g_byte_array_append (idat, body, n);
      else if (memcmp (type, "IEND", 4) == 0)
        seen_iend = TRUE;

      pos += 12 + n;
    }

  g_assert_true (seen_ihdr);
  g_assert_true (seen_iend);
  g_assert_cmpuint (pos, ==, len);

  zlib = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB);
  mem = g_memory_input_stream_new_from_data (idat->data, idat->len, NULL);
  in = g_converter_input_stream_new (mem, G_CONVERTER (zlib));
  out = g_memory_output_stream_new_resizable ();
  g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE |
                          G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, &error);
  g_assert_no_error (error);

  rows = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  g_assert_cmpuint (g_bytes_get_size (rows), ==, (gsize) height * (width * 3 + 1));

  return rows;
}

/* The decoded pixels of the only image of a finished prompt. */
static GBytes *
run_for_pixels (Fixture  *f,
                JsonNode *graph,
                guint     index)
{
  g_autofree char *id = submit_ok (f->client, f->base_url, graph);
  g_autoptr(CdlComfyHistory) h = wait_done (f->client, f->base_url, id);
  g_autoptr(GBytes) png = NULL;

  g_assert_cmpint (h->status, ==, CDL_COMFY_JOB_SUCCESS);
  g_assert_cmpuint (h->outputs->len, >, index);
  png = view_ok (f->client, f->base_url, g_ptr_array_index (h->outputs, index));

  return decode_png (png, 64, 48, NULL);
}

static void
jobs_setup (Fixture       *f,
            gconstpointer  data)
{
  fixture_setup (f, data);
  cdl_sim_server_set_ms_per_image (f->sim, 5);
}

static JsonObject *
raw_history_entry (const char *base_url,
                   const char *prompt_id,
                   JsonNode  **holder)
{
  g_autofree char *url = g_strconcat (base_url, "/history/", prompt_id, NULL);
  g_autofree char *body = NULL;
  g_autoptr(GError) error = NULL;
  guint status;

  body = raw_request ("GET", url, NULL, NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 200);
  *holder = json_from_string (body, &error);
  g_assert_no_error (error);

  return json_object_get_object_member (json_node_get_object (*holder), prompt_id);
}

static const char *
message_type (JsonObject *status,
              guint       index,
              JsonObject **data)
{
  JsonArray *messages = json_object_get_array_member (status, "messages");
  JsonArray *pair = json_array_get_array_element (messages, index);

  if (data != NULL)
    *data = json_array_get_object_element (pair, 1);

  return json_array_get_string_element (pair, 0);
}

static void
test_jobs_run (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(JsonNode) graph = make_graph (7, 64, 48, 2, NULL, "a red fox", "fox/run");
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfySubmitted) s = NULL;
  g_autoptr(CdlComfyHistory) h = NULL;
  g_autoptr(CdlComfyHistory) h2 = NULL;
  g_autoptr(JsonNode) holder = NULL;
  g_autoptr(JsonNode) embedded = NULL;
  g_autoptr(GBytes) png = NULL;
  g_autoptr(GBytes) rows = NULL;
  g_autofree char *text = NULL;
  g_autofree char *second = NULL;
  g_autofree char *on_disk = NULL;
  JsonObject *entry;
  JsonObject *status;
  JsonArray *prompt;
  CdlComfyOutput *out;

  s = submit (f->client, f->base_url, graph, "my-own-id-1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s->prompt_id, ==, "my-own-id-1");
  g_assert_cmpint (s->number, ==, 0);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (s->node_errors)), ==, 0);

  h = wait_done (f->client, f->base_url, "my-own-id-1");
  g_assert_cmpint (h->status, ==, CDL_COMFY_JOB_SUCCESS);
  g_assert_false (h->is_oom);
  g_assert_null (h->error_message);
  g_assert_cmpuint (h->outputs->len, ==, 2);
  out = g_ptr_array_index (h->outputs, 0);
  g_assert_cmpstr (out->node_id, ==, "9");
  g_assert_cmpstr (out->filename, ==, "run_00001_.png");
  g_assert_cmpstr (out->subfolder, ==, "fox");
  g_assert_cmpstr (out->type, ==, "output");
  out = g_ptr_array_index (h->outputs, 1);
  g_assert_cmpstr (out->filename, ==, "run_00002_.png");

  /* The file is where ComfyUI would put it. */
  on_disk = g_build_filename (cdl_sim_server_get_output_dir (f->sim), "fox",
                              "run_00002_.png", NULL);
  g_assert_true (g_file_test (on_disk, G_FILE_TEST_IS_REGULAR));

  /* The history entry in the recorded shape. */
  entry = raw_history_entry (f->base_url, "my-own-id-1", &holder);
  g_assert_nonnull (entry);
  prompt = json_object_get_array_member (entry, "prompt");
  g_assert_cmpuint (json_array_get_length (prompt), ==, 5);
  g_assert_cmpint (json_array_get_int_element (prompt, 0), ==, 0);
  g_assert_cmpstr (json_array_get_string_element (prompt, 1), ==, "my-own-id-1");
  g_assert_true (json_object_has_member (json_array_get_object_element (prompt, 2), "9"));
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (prompt, 3),
                                                  "client_id"), ==, "test-client");
  g_assert_cmpstr (json_array_get_string_element (json_array_get_array_element (prompt, 4), 0),
                   ==, "9");
  status = json_object_get_object_member (entry, "status");
  g_assert_cmpstr (json_object_get_string_member (status, "status_str"), ==, "success");
  g_assert_true (json_object_get_boolean_member (status, "completed"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (status, "messages")),
                    ==, 3);
  g_assert_cmpstr (message_type (status, 0, NULL), ==, "execution_start");
  g_assert_cmpstr (message_type (status, 1, NULL), ==, "execution_cached");
  g_assert_cmpstr (message_type (status, 2, NULL), ==, "execution_success");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (
                       json_object_get_object_member (entry, "meta"), "9"),
                     "real_node_id"), ==, "9");

  /* A real PNG of the latent's size, carrying the graph. */
  png = view_ok (f->client, f->base_url, g_ptr_array_index (h->outputs, 0));
  rows = decode_png (png, 64, 48, &text);
  g_assert_nonnull (text);
  embedded = json_from_string (text, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_equal (embedded, graph));

  /* The counter continues across jobs, per prefix. */
  second = submit_ok (f->client, f->base_url, graph);
  h2 = wait_done (f->client, f->base_url, second);
  g_assert_cmpstr (((CdlComfyOutput *) g_ptr_array_index (h2->outputs, 0))->filename,
                   ==, "run_00003_.png");

  /* The same again under /api. */
  g_clear_pointer (&holder, json_node_unref);
  {
    g_autofree char *url = g_strconcat (f->base_url, "/api/prompt", NULL);
    g_autofree char *body = NULL;
    g_autofree char *request = NULL;
    g_autofree char *graph_text = json_to_string (graph, FALSE);
    guint code;

    request = g_strdup_printf ("{\"prompt\": %s}", graph_text);
    body = raw_request ("POST", url, request, NULL, &code, NULL);
    g_assert_cmpuint (code, ==, 200);
    holder = json_from_string (body, &error);
    g_assert_no_error (error);
    g_assert_cmpint (json_object_get_int_member (json_node_get_object (holder), "number"),
                     ==, 2);
    g_assert_true (g_uuid_string_is_valid (json_object_get_string_member (
                     json_node_get_object (holder), "prompt_id")));
  }
}

static void
test_jobs_seeds (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(JsonNode) g1 = small_graph (1234);
  g_autoptr(JsonNode) g2 = small_graph (1234);
  g_autoptr(JsonNode) g3 = small_graph (1235);
  g_autoptr(JsonNode) g4 = make_graph (1234, 64, 48, 1, NULL, "another prompt", "ComfyUI");
  g_autoptr(GBytes) a = run_for_pixels (f, g1, 0);
  g_autoptr(GBytes) b = run_for_pixels (f, g2, 0);
  g_autoptr(GBytes) c = run_for_pixels (f, g3, 0);
  g_autoptr(GBytes) d = run_for_pixels (f, g4, 0);
  const guint8 *pa;
  const guint8 *pc;
  gsize len;
  gsize differing = 0;

  g_assert_true (g_bytes_equal (a, b));
  g_assert_false (g_bytes_equal (a, c));
  g_assert_false (g_bytes_equal (a, d));

  /* Visibly different: most pixels change, not a few. */
  pa = g_bytes_get_data (a, &len);
  pc = g_bytes_get_data (c, NULL);
  for (gsize i = 0; i < len; i++)
    differing += pa[i] != pc[i];
  g_assert_cmpuint (differing, >, len / 2);
}

/* Same seed and graph, run twice: the files are equal byte for byte. */
static void
test_jobs_same_bytes (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(JsonNode) graph = small_graph (99);
  g_autofree char *id1 = submit_ok (f->client, f->base_url, graph);
  g_autofree char *id2 = submit_ok (f->client, f->base_url, graph);
  g_autoptr(CdlComfyHistory) h1 = wait_done (f->client, f->base_url, id1);
  g_autoptr(CdlComfyHistory) h2 = wait_done (f->client, f->base_url, id2);
  g_autoptr(GBytes) p1 = view_ok (f->client, f->base_url, g_ptr_array_index (h1->outputs, 0));
  g_autoptr(GBytes) p2 = view_ok (f->client, f->base_url, g_ptr_array_index (h2->outputs, 0));

  g_assert_cmpstr (((CdlComfyOutput *) g_ptr_array_index (h1->outputs, 0))->filename, !=,
                   ((CdlComfyOutput *) g_ptr_array_index (h2->outputs, 0))->filename);
  g_assert_true (g_bytes_equal (p1, p2));
}

static void
test_jobs_batch_seed_behavior (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(JsonNode) random = make_graph (500, 64, 48, 3, "random", "a tree", "ComfyUI");
  g_autoptr(JsonNode) fixed = make_graph (500, 64, 48, 3, "fixed", "a tree", "ComfyUI");
  g_autoptr(JsonNode) plain = make_graph (500, 64, 48, 3, NULL, "a tree", "ComfyUI");
  g_autoptr(JsonNode) single = make_graph (502, 64, 48, 1, NULL, "a tree", "ComfyUI");
  g_autoptr(JsonNode) first = make_graph (500, 64, 48, 1, NULL, "a tree", "ComfyUI");
  g_autoptr(GBytes) r0 = run_for_pixels (f, random, 0);
  g_autoptr(GBytes) r1 = run_for_pixels (f, random, 1);
  g_autoptr(GBytes) r2 = run_for_pixels (f, random, 2);
  g_autoptr(GBytes) x0 = run_for_pixels (f, fixed, 0);
  g_autoptr(GBytes) x2 = run_for_pixels (f, fixed, 2);
  g_autoptr(GBytes) p0 = run_for_pixels (f, plain, 0);
  g_autoptr(GBytes) p1 = run_for_pixels (f, plain, 1);
  g_autoptr(GBytes) s = run_for_pixels (f, single, 0);
  g_autoptr(GBytes) one = run_for_pixels (f, first, 0);

  /* "random": image i is the image of seed + i on its own. */
  g_assert_false (g_bytes_equal (r0, r1));
  g_assert_false (g_bytes_equal (r1, r2));
  g_assert_true (g_bytes_equal (r2, s));
  g_assert_true (g_bytes_equal (r0, one));

  /* "fixed": the seed's image, every time. */
  g_assert_true (g_bytes_equal (x0, x2));
  g_assert_true (g_bytes_equal (x0, one));

  /* No node: distinct per index, the first is the seed's own. */
  g_assert_false (g_bytes_equal (p0, p1));
  g_assert_true (g_bytes_equal (p0, one));
  g_assert_false (g_bytes_equal (p1, r1));
}

/* Status, headers and body of a GET. */
static SoupMessage *
raw_get (const char *url,
         const char *if_none_match,
         GBytes    **body)
{
  g_autoptr(SoupSession) http = soup_session_new ();
  SoupMessage *msg = soup_message_new ("GET", url);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  if (if_none_match != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg),
                                  "If-None-Match", if_none_match);

  soup_session_send_and_read_async (http, msg, G_PRIORITY_DEFAULT, NULL,
                                    store_result_cb, &result);
  wait_for (&result);
  *body = soup_session_send_and_read_finish (http, result, &error);
  g_assert_no_error (error);

  return msg;
}

static guint
get_status (const char *base_url,
            const char *path)
{
  g_autofree char *url = g_strconcat (base_url, path, NULL);
  g_autofree char *body = NULL;
  guint status;

  body = raw_request ("GET", url, NULL, NULL, &status, NULL);

  return status;
}

static void
test_jobs_view (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(JsonNode) graph = small_graph (3);
  g_autofree char *id = submit_ok (f->client, f->base_url, graph);
  g_autoptr(CdlComfyHistory) h = wait_done (f->client, f->base_url, id);
  CdlComfyOutput *out = g_ptr_array_index (h->outputs, 0);
  g_autofree char *url = NULL;
  g_autofree char *path = NULL;
  g_autofree char *length = NULL;
  g_autofree char *etag = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(SoupMessage) again = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) empty = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) missing = NULL;
  SoupMessageHeaders *headers;
  CdlComfyOutput nothing = { "9", "ComfyUI_09999_.png", "", "output" };

  url = g_strdup_printf ("%s/view?filename=%s&subfolder=&type=output",
                         f->base_url, out->filename);
  msg = raw_get (url, NULL, &body);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  headers = soup_message_get_response_headers (msg);
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Content-Type"), ==, "image/png");
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Content-Disposition"), ==,
                   "filename=\"ComfyUI_00001_.png\"");
  length = g_strdup_printf ("%" G_GSIZE_FORMAT, g_bytes_get_size (body));
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Content-Length"), ==, length);
  etag = g_strdup (soup_message_headers_get_one (headers, "ETag"));
  g_assert_nonnull (etag);
  g_assert_true (g_str_has_prefix (etag, "\""));
  g_assert_nonnull (soup_message_headers_get_one (headers, "Last-Modified"));
  g_assert_nonnull (soup_date_time_new_from_http_string (
                      soup_message_headers_get_one (headers, "Last-Modified")));

  /* The ETag lets a cache revalidate. */
  again = raw_get (url, etag, &empty);
  g_assert_cmpuint (soup_message_get_status (again), ==, 304);

  g_assert_cmpuint (get_status (f->base_url, "/view?filename=nope.png"), ==, 404);
  g_assert_cmpuint (get_status (f->base_url, "/view?filename=../etc/passwd"), ==, 400);
  g_assert_cmpuint (get_status (f->base_url, "/view"), ==, 404);
  path = g_strdup_printf ("/view?filename=%s&subfolder=../..", out->filename);
  g_assert_cmpuint (get_status (f->base_url, path), ==, 403);
  g_free (path);
  path = g_strdup_printf ("/view?filename=%s&type=input", out->filename);
  g_assert_cmpuint (get_status (f->base_url, path), ==, 404);
  g_free (path);
  path = g_strdup_printf ("/view?filename=%s&type=secret", out->filename);
  g_assert_cmpuint (get_status (f->base_url, path), ==, 400);

  /* The client says what went wrong. */
  missing = view (f->client, f->base_url, &nothing, NULL, &error);
  g_assert_null (missing);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
  g_assert_true (g_str_has_prefix (error->message, "HTTP 404 from "));
}

static JsonNode *
post_raw (const char *base_url,
          const char *path,
          const char *body,
          guint       expected_status)
{
  g_autofree char *url = g_strconcat (base_url, path, NULL);
  g_autofree char *text = NULL;
  g_autofree char *type = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *node;
  guint status;

  text = raw_request ("POST", url, body, NULL, &status, &type);
  g_assert_cmpuint (status, ==, expected_status);
  if (status == 500)
    {
      g_assert_cmpstr (text, ==, "500 Internal Server Error\n\nServer got itself in trouble");
      return NULL;
    }
  if (text[0] == '\0')
    return NULL;

  g_assert_cmpstr (type, ==, "application/json; charset=utf-8");
  node = json_from_string (text, &error);
  g_assert_no_error (error);

  return node;
}

static void
test_jobs_rejections (Fixture       *f,
                      gconstpointer  data)
{
  static const char * const exclude[] = { "LatentBatchSeedBehavior", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfySubmitted) s = NULL;
  g_autoptr(JsonNode) unknown = json_from_string (
      "{\"1\": {\"class_type\": \"NoSuchNode\", \"inputs\": {}}}", NULL);
  g_autoptr(JsonNode) no_class = json_from_string (
      "{\"1\": {\"inputs\": {}}}", NULL);
  g_autoptr(JsonNode) no_output = json_from_string (
      "{\"4\": {\"class_type\": \"CheckpointLoaderSimple\","
      " \"inputs\": {\"ckpt_name\": \"sd15.safetensors\"}}}", NULL);
  g_autoptr(JsonNode) bad = small_graph (1);
  g_autoptr(JsonNode) excluded = make_graph (1, 64, 48, 2, "random", "x", "ComfyUI");
  g_autoptr(JsonNode) answer = NULL;
  g_autofree char *url = g_strconcat (f->base_url, "/prompt", NULL);
  g_autofree char *text = NULL;
  g_autofree char *type = NULL;
  g_autofree char *body = NULL;
  JsonObject *inputs;
  JsonObject *err;
  JsonObject *node4;
  JsonObject *node8;
  JsonObject *e;
  guint status;

  s = submit (f->client, f->base_url, unknown, NULL, &error);
  g_assert_null (s);
  g_assert_error (error, CDL_COMFY_PROMPT_ERROR, CDL_COMFY_PROMPT_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message,
                            "Cannot execute because node NoSuchNode does not exist."));
  g_clear_error (&error);

  s = submit (f->client, f->base_url, no_class, NULL, &error);
  g_assert_error (error, CDL_COMFY_PROMPT_ERROR, CDL_COMFY_PROMPT_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "missing the class_type property"));
  g_clear_error (&error);

  s = submit (f->client, f->base_url, no_output, NULL, &error);
  g_assert_error (error, CDL_COMFY_PROMPT_ERROR, CDL_COMFY_PROMPT_ERROR_NO_OUTPUTS);
  g_assert_nonnull (strstr (error->message, "Prompt has no outputs"));
  g_clear_error (&error);

  /* Bad values: a checkpoint not on the worker, a width below min, a
   * missing input and a link to a node that is not there. */
  inputs = json_object_get_object_member (json_object_get_object_member (
             json_node_get_object (bad), "4"), "inputs");
  json_object_set_string_member (inputs, "ckpt_name", "nope.safetensors");
  inputs = json_object_get_object_member (json_object_get_object_member (
             json_node_get_object (bad), "5"), "inputs");
  json_object_set_int_member (inputs, "width", 3);
  inputs = json_object_get_object_member (json_object_get_object_member (
             json_node_get_object (bad), "3"), "inputs");
  json_object_remove_member (inputs, "steps");
  json_object_set_double_member (inputs, "cfg", 100.5);
  inputs = json_object_get_object_member (json_object_get_object_member (
             json_node_get_object (bad), "8"), "inputs");
  json_object_set_array_member (inputs, "vae", json_array_new ());
  json_array_add_string_element (json_object_get_array_member (inputs, "vae"), "99");
  json_array_add_int_element (json_object_get_array_member (inputs, "vae"), 2);

  s = submit (f->client, f->base_url, bad, NULL, &error);
  g_assert_error (error, CDL_COMFY_PROMPT_ERROR, CDL_COMFY_PROMPT_ERROR_VALIDATION);
  g_assert_nonnull (strstr (error->message, "Prompt outputs failed validation"));
  g_assert_nonnull (strstr (error->message,
                            "node 4 (CheckpointLoaderSimple): Value not in list: "
                            "ckpt_name: 'nope.safetensors' not in "
                            "['sd15.safetensors', 'sdxl.safetensors']"));
  g_assert_nonnull (strstr (error->message, "node 3 (KSampler): Required input is missing: steps"));
  g_clear_error (&error);

  /* The same, raw: ComfyUI's shape. */
  {
    g_autofree char *graph_text = json_to_string (bad, FALSE);
    g_autofree char *request = g_strdup_printf ("{\"prompt\": %s}", graph_text);

    answer = post_raw (f->base_url, "/prompt", request, 400);
  }
  err = json_object_get_object_member (json_node_get_object (answer), "error");
  g_assert_cmpstr (json_object_get_string_member (err, "type"), ==,
                   "prompt_outputs_failed_validation");
  g_assert_cmpstr (json_object_get_string_member (err, "message"), ==,
                   "Prompt outputs failed validation");
  g_assert_true (json_object_has_member (err, "details"));
  g_assert_true (json_object_has_member (err, "extra_info"));
  node4 = json_object_get_object_member (json_object_get_object_member (
            json_node_get_object (answer), "node_errors"), "4");
  g_assert_cmpstr (json_object_get_string_member (node4, "class_type"), ==,
                   "CheckpointLoaderSimple");
  g_assert_cmpstr (json_array_get_string_element (
                     json_object_get_array_member (node4, "dependent_outputs"), 0), ==, "9");
  e = json_array_get_object_element (json_object_get_array_member (node4, "errors"), 0);
  g_assert_cmpstr (json_object_get_string_member (e, "type"), ==, "value_not_in_list");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (e, "extra_info"), "received_value"),
                   ==, "nope.safetensors");
  e = json_array_get_object_element (json_object_get_array_member (
        json_object_get_object_member (json_object_get_object_member (
          json_node_get_object (answer), "node_errors"), "5"), "errors"), 0);
  g_assert_cmpstr (json_object_get_string_member (e, "type"), ==, "value_smaller_than_min");
  g_assert_cmpstr (json_object_get_string_member (e, "message"), ==,
                   "Value 3 smaller than min of 16");
  e = json_array_get_object_element (json_object_get_array_member (
        json_object_get_object_member (json_object_get_object_member (
          json_node_get_object (answer), "node_errors"), "3"), "errors"), 1);
  g_assert_cmpstr (json_object_get_string_member (e, "type"), ==, "value_bigger_than_max");
  g_assert_cmpstr (json_object_get_string_member (e, "message"), ==,
                   "Value 100.5 bigger than max of 100.0");
  node8 = json_object_get_object_member (json_object_get_object_member (
            json_node_get_object (answer), "node_errors"), "8");
  e = json_array_get_object_element (json_object_get_array_member (node8, "errors"), 0);
  g_assert_cmpstr (json_object_get_string_member (e, "type"), ==,
                   "exception_during_inner_validation");
  g_assert_cmpstr (json_object_get_string_member (e, "details"), ==, "'99'");
  g_clear_pointer (&answer, json_node_unref);

  /* Not JSON at all, and JSON without a prompt. */
  text = raw_request ("POST", url, "{not json", NULL, &status, &type);
  g_assert_cmpuint (status, ==, 500);
  g_assert_cmpstr (type, ==, "text/plain; charset=utf-8");
  g_assert_cmpstr (text, ==, "500 Internal Server Error\n\nServer got itself in trouble");
  answer = post_raw (f->base_url, "/prompt", "{\"client_id\": \"x\"}", 400);
  body = json_to_string (answer, FALSE);
  g_assert_cmpstr (body, ==,
                   "{\"error\":{\"type\":\"no_prompt\",\"message\":\"No prompt provided\","
                   "\"details\":\"\",\"extra_info\":{}},\"node_errors\":{}}");

  /* A node type the worker leaves out of /object_info is unknown here too. */
  cdl_sim_server_set_nodes_exclude (f->sim, exclude);
  s = submit (f->client, f->base_url, excluded, NULL, &error);
  g_assert_error (error, CDL_COMFY_PROMPT_ERROR, CDL_COMFY_PROMPT_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "LatentBatchSeedBehavior does not exist"));
  g_clear_error (&error);

  /* Nothing was accepted: the next prompt is number 0. */
  cdl_sim_server_set_nodes_exclude (f->sim, NULL);
  s = submit (f->client, f->base_url, excluded, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s->number, ==, 0);
}

/* Outputs 9 and 19; 19 decodes with a VAEDecode (18) that lacks its vae. */
static void
test_jobs_partial_acceptance (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(JsonNode) graph = small_graph (11);
  g_autoptr(JsonNode) holder = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfySubmitted) s = NULL;
  g_autoptr(CdlComfyHistory) h = NULL;
  g_autoptr(CdlComfyQueue) q = NULL;
  JsonObject *root = json_node_get_object (graph);
  JsonObject *node = json_object_new ();
  JsonObject *inputs = json_object_new ();
  JsonObject *entry;
  JsonObject *e;
  JsonArray *link = json_array_new ();

  json_array_add_string_element (link, "3");
  json_array_add_int_element (link, 0);
  json_object_set_array_member (inputs, "samples", link);
  json_object_set_string_member (node, "class_type", "VAEDecode");
  json_object_set_object_member (node, "inputs", inputs);
  json_object_set_object_member (root, "18", node);

  node = json_object_new ();
  inputs = json_object_new ();
  link = json_array_new ();
  json_array_add_string_element (link, "18");
  json_array_add_int_element (link, 0);
  json_object_set_array_member (inputs, "images", link);
  json_object_set_string_member (inputs, "filename_prefix", "second");
  json_object_set_string_member (node, "class_type", "SaveImage");
  json_object_set_object_member (node, "inputs", inputs);
  json_object_set_object_member (root, "19", node);

  cdl_sim_server_set_ms_per_image (f->sim, 5000);
  s = submit (f->client, f->base_url, graph, "my-own-id-1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s->prompt_id, ==, "my-own-id-1");
  entry = json_object_get_object_member (json_node_get_object (s->node_errors), "18");
  g_assert_nonnull (entry);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (s->node_errors)), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (entry, "class_type"), ==, "VAEDecode");
  g_assert_cmpstr (json_array_get_string_element (
                     json_object_get_array_member (entry, "dependent_outputs"), 0), ==, "19");
  e = json_array_get_object_element (json_object_get_array_member (entry, "errors"), 0);
  g_assert_cmpstr (json_object_get_string_member (e, "type"), ==, "required_input_missing");
  g_assert_cmpstr (json_object_get_string_member (e, "details"), ==, "vae");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (e, "extra_info"), "input_name"), ==, "vae");

  /* Only output 9 runs. */
  holder = get_json (f->client, f->base_url, NULL, "/queue", &error);
  g_assert_no_error (error);
  {
    JsonArray *running = json_object_get_array_member (json_node_get_object (holder),
                                                       "queue_running");
    JsonArray *outs = json_array_get_array_element (json_array_get_array_element (running, 0), 4);

    g_assert_cmpuint (json_array_get_length (outs), ==, 1);
    g_assert_cmpstr (json_array_get_string_element (outs, 0), ==, "9");
  }

  cdl_sim_server_set_ms_per_image (f->sim, 5);
  h = wait_done (f->client, f->base_url, "my-own-id-1");
  g_assert_cmpint (h->status, ==, CDL_COMFY_JOB_SUCCESS);
  g_assert_cmpuint (h->outputs->len, ==, 1);
  g_assert_cmpstr (((CdlComfyOutput *) g_ptr_array_index (h->outputs, 0))->node_id, ==, "9");
}

static void
assert_error_entry (Fixture    *f,
                    const char *prompt_id,
                    const char *exception_type)
{
  g_autoptr(JsonNode) holder = NULL;
  JsonObject *entry = raw_history_entry (f->base_url, prompt_id, &holder);
  JsonObject *status = json_object_get_object_member (entry, "status");
  JsonObject *e = NULL;

  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (entry, "outputs")),
                    ==, 0);
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (entry, "meta")),
                    ==, 0);
  g_assert_cmpstr (json_object_get_string_member (status, "status_str"), ==, "error");
  g_assert_false (json_object_get_boolean_member (status, "completed"));
  g_assert_cmpstr (message_type (status, 0, NULL), ==, "execution_start");
  g_assert_cmpstr (message_type (status, 1, NULL), ==, "execution_cached");
  g_assert_cmpstr (message_type (status, 2, &e), ==, "execution_error");
  g_assert_cmpstr (json_object_get_string_member (e, "prompt_id"), ==, prompt_id);
  g_assert_cmpstr (json_object_get_string_member (e, "node_id"), ==, "3");
  g_assert_cmpstr (json_object_get_string_member (e, "node_type"), ==, "KSampler");
  g_assert_cmpstr (json_object_get_string_member (e, "exception_type"), ==, exception_type);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (e, "executed")));
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (e, "traceback")));
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (e, "current_outputs")));
  g_assert_cmpint (json_array_get_int_element (json_object_get_array_member (
                     json_object_get_object_member (e, "current_inputs"), "steps"), 0),
                   ==, 20);
  g_assert_cmpint (json_object_get_int_member (e, "timestamp"), >, 0);
}

static void
test_jobs_runtime_error (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(JsonNode) graph = small_graph (5);
  g_autofree char *id = NULL;
  g_autoptr(CdlComfyHistory) h = NULL;

  cdl_sim_server_set_error_rate (f->sim, 1.0);
  id = submit_ok (f->client, f->base_url, graph);
  h = wait_done (f->client, f->base_url, id);

  g_assert_cmpint (h->status, ==, CDL_COMFY_JOB_ERROR);
  g_assert_false (h->is_oom);
  g_assert_cmpstr (h->error_type, ==, "RuntimeError");
  g_assert_nonnull (strstr (h->error_message, "mat1 and mat2"));
  g_assert_cmpstr (h->error_node_id, ==, "3");
  g_assert_cmpuint (h->outputs->len, ==, 0);
  assert_error_entry (f, id, "RuntimeError");
}

static void
test_jobs_oom (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(JsonNode) big = make_graph (5, 64, 48, 4, NULL, "x", "ComfyUI");
  g_autoptr(JsonNode) fits = make_graph (5, 64, 48, 3, NULL, "x", "ComfyUI");
  g_autofree char *id = NULL;
  g_autofree char *ok = NULL;
  g_autoptr(CdlComfyHistory) h = NULL;
  g_autoptr(CdlComfyHistory) h2 = NULL;

  cdl_sim_server_set_oom_pixels (f->sim, 64 * 48 * 3);
  id = submit_ok (f->client, f->base_url, big);
  ok = submit_ok (f->client, f->base_url, fits);
  h = wait_done (f->client, f->base_url, id);
  h2 = wait_done (f->client, f->base_url, ok);

  g_assert_cmpint (h->status, ==, CDL_COMFY_JOB_ERROR);
  g_assert_true (h->is_oom);
  g_assert_cmpstr (h->error_type, ==, "torch.OutOfMemoryError");
  g_assert_true (g_str_has_prefix (h->error_message, "CUDA out of memory. Tried to allocate "));
  g_assert_true (g_str_has_suffix (h->error_message,
                                   "\nThis error means you ran out of memory on your GPU.\n\n"
                                   "TIPS: If the workflow worked before you might have "
                                   "accidentally set the batch_size to a large number."));
  assert_error_entry (f, id, "torch.OutOfMemoryError");

  g_assert_cmpint (h2->status, ==, CDL_COMFY_JOB_SUCCESS);
  g_assert_cmpuint (h2->outputs->len, ==, 3);
}

static CdlComfyHistory *
parse_history_text (const char *text,
                    const char *prompt_id)
{
  g_autoptr(JsonNode) node = parse (text);
  g_autoptr(GError) error = NULL;
  CdlComfyHistory *h = cdl_comfy_parse_history (node, prompt_id, &error);

  g_assert_no_error (error);

  return h;
}

#define ERROR_ENTRY(type, message) \
  "{\"p\": {\"prompt\": [0, \"p\", {}, {}, [\"9\"]], \"outputs\": {}, \"status\":" \
  " {\"status_str\": \"error\", \"completed\": false, \"messages\": [" \
  "[\"execution_start\", {\"prompt_id\": \"p\", \"timestamp\": 1}]," \
  " [\"execution_error\", {\"prompt_id\": \"p\", \"node_id\": \"3\"," \
  " \"node_type\": \"KSampler\", \"exception_type\": \"" type "\"," \
  " \"exception_message\": \"" message "\"}]]}, \"meta\": {}}}"

static void
test_jobs_classify (void)
{
  g_autoptr(CdlComfyHistory) pending = parse_history_text ("{}", "p");
  g_autoptr(CdlComfyHistory) other = parse_history_text ("{\"q\": {}}", "p");
  g_autoptr(CdlComfyHistory) alloc = parse_history_text (
      ERROR_ENTRY ("RuntimeError",
                   "Allocation on device 0 would exceed allowed memory. (out of memory)\\n"
                   "Currently allocated     : 22.10 GiB"), "p");
  g_autoptr(CdlComfyHistory) alloc_only = parse_history_text (
      ERROR_ENTRY ("RuntimeError", "Allocation on device "), "p");
  g_autoptr(CdlComfyHistory) old_torch = parse_history_text (
      ERROR_ENTRY ("torch.cuda.OutOfMemoryError", "CUDA error"), "p");
  g_autoptr(CdlComfyHistory) plain = parse_history_text (
      ERROR_ENTRY ("RuntimeError", "mat1 and mat2 shapes cannot be multiplied"), "p");
  g_autoptr(CdlComfyHistory) interrupted = parse_history_text (
      "{\"p\": {\"outputs\": {}, \"status\": {\"status_str\": \"error\","
      " \"completed\": false, \"messages\": [[\"execution_start\", {}],"
      " [\"execution_interrupted\", {\"prompt_id\": \"p\", \"node_id\": \"3\","
      " \"node_type\": \"KSampler\", \"executed\": []}]]}, \"meta\": {}}}", "p");
  g_autoptr(CdlComfyHistory) success = parse_history_text (
      "{\"p\": {\"outputs\": {\"9\": {\"images\": [{\"filename\": \"a.png\","
      " \"subfolder\": \"s\", \"type\": \"output\"}, {\"filename\": \"b.png\","
      " \"subfolder\": \"\", \"type\": \"temp\"}]}}, \"status\": {\"status_str\":"
      " \"success\", \"completed\": true, \"messages\": []}, \"meta\": {}}}", "p");
  g_autoptr(JsonNode) array = parse ("[]");
  g_autoptr(GError) error = NULL;
  CdlComfyOutput *out;

  g_assert_cmpint (pending->status, ==, CDL_COMFY_JOB_PENDING);
  g_assert_cmpint (other->status, ==, CDL_COMFY_JOB_PENDING);

  g_assert_cmpint (alloc->status, ==, CDL_COMFY_JOB_ERROR);
  g_assert_true (alloc->is_oom);
  g_assert_true (alloc_only->is_oom);
  g_assert_true (old_torch->is_oom);
  g_assert_false (plain->is_oom);
  g_assert_cmpstr (plain->error_message, ==, "mat1 and mat2 shapes cannot be multiplied");

  g_assert_cmpint (interrupted->status, ==, CDL_COMFY_JOB_INTERRUPTED);
  g_assert_false (interrupted->is_oom);

  g_assert_cmpint (success->status, ==, CDL_COMFY_JOB_SUCCESS);
  g_assert_cmpuint (success->outputs->len, ==, 2);
  out = g_ptr_array_index (success->outputs, 0);
  g_assert_cmpstr (out->node_id, ==, "9");
  g_assert_cmpstr (out->filename, ==, "a.png");
  g_assert_cmpstr (out->subfolder, ==, "s");
  out = g_ptr_array_index (success->outputs, 1);
  g_assert_cmpstr (out->type, ==, "temp");

  g_assert_true (cdl_comfy_is_oom ("torch.OutOfMemoryError", NULL));
  g_assert_true (cdl_comfy_is_oom (NULL, "CUDA out of memory. Tried to allocate 2 GiB"));
  g_assert_false (cdl_comfy_is_oom ("ValueError", "shapes differ"));

  g_assert_null (cdl_comfy_parse_history (array, "p", &error));
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_BAD_RESPONSE);
}

static gboolean
bool_result (CdlComfyClient *client,
             GAsyncResult   *result,
             gboolean        interrupt,
             GError        **error)
{
  if (interrupt)
    return cdl_comfy_jobs_interrupt_finish (client, result, error);

  return cdl_comfy_jobs_free_finish (client, result, error);
}

static void
interrupt (Fixture    *f,
           const char *prompt_id)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  cdl_comfy_jobs_interrupt_async (f->client, f->base_url, NULL, prompt_id, NULL,
                                  store_result_cb, &result);
  wait_for (&result);
  g_assert_true (bool_result (f->client, result, TRUE, &error));
  g_assert_no_error (error);
}

static void
test_jobs_interrupt (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(JsonNode) slow = make_graph (1, 64, 48, 8, NULL, "slow", "ComfyUI");
  g_autoptr(JsonNode) quick = small_graph (2);
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autoptr(CdlComfyHistory) ha = NULL;
  g_autoptr(CdlComfyHistory) hb = NULL;
  g_autoptr(CdlComfyHistory) still = NULL;
  g_autoptr(CdlComfyQueue) q = NULL;
  g_autoptr(JsonNode) holder = NULL;
  g_autoptr(JsonNode) none = NULL;
  JsonObject *status;
  JsonObject *last;

  /* Idle: a no-op that still answers 200, with or without a body. */
  interrupt (f, NULL);
  none = post_raw (f->base_url, "/interrupt", NULL, 200);
  g_assert_null (none);
  none = post_raw (f->base_url, "/interrupt", "{}", 200);
  g_assert_null (none);
  none = post_raw (f->base_url, "/interrupt", "{oops", 500);

  cdl_sim_server_set_ms_per_image (f->sim, 2000);
  a = submit_ok (f->client, f->base_url, slow);
  b = submit_ok (f->client, f->base_url, quick);

  /* Naming a prompt that is not running leaves the running one alone. */
  interrupt (f, b);
  spin (150);
  q = queue (f->client, f->base_url);
  g_assert_cmpint (q->n_running, ==, 1);
  g_assert_cmpstr (q->running[0], ==, a);
  still = history (f->client, f->base_url, a);
  g_assert_cmpint (still->status, ==, CDL_COMFY_JOB_PENDING);

  interrupt (f, a);
  cdl_sim_server_set_ms_per_image (f->sim, 5);
  ha = wait_done (f->client, f->base_url, a);
  g_assert_cmpint (ha->status, ==, CDL_COMFY_JOB_INTERRUPTED);
  g_assert_cmpuint (ha->outputs->len, ==, 0);
  g_assert_null (ha->error_type);

  status = json_object_get_object_member (raw_history_entry (f->base_url, a, &holder),
                                          "status");
  g_assert_cmpstr (json_object_get_string_member (status, "status_str"), ==, "error");
  g_assert_false (json_object_get_boolean_member (status, "completed"));
  g_assert_cmpstr (message_type (status, 2, &last), ==, "execution_interrupted");
  g_assert_cmpstr (json_object_get_string_member (last, "node_type"), ==, "KSampler");
  g_assert_false (json_object_has_member (last, "exception_message"));

  /* The next prompt runs as usual. */
  hb = wait_done (f->client, f->base_url, b);
  g_assert_cmpint (hb->status, ==, CDL_COMFY_JOB_SUCCESS);
  g_assert_cmpint (state_int (f->base_url, "interrupts"), ==, 5);
}

static void
test_jobs_free (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) state = NULL;
  g_autoptr(JsonNode) none = NULL;
  JsonObject *last;

  cdl_comfy_jobs_free_async (f->client, f->base_url, NULL, NULL,
                             store_result_cb, &result);
  wait_for (&result);
  g_assert_true (bool_result (f->client, result, FALSE, &error));
  g_assert_no_error (error);

  state = control (f->base_url, "/_sim/state", NULL);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (state), "frees"), ==, 1);
  last = json_object_get_object_member (json_node_get_object (state), "last_free");
  g_assert_true (json_object_get_boolean_member (last, "free_memory"));
  g_assert_false (json_object_get_boolean_member (last, "unload_models"));

  /* No body is a 500, as ComfyUI reads it as JSON regardless. */
  none = post_raw (f->base_url, "/free", NULL, 500);
  none = post_raw (f->base_url, "/free", "{}", 200);
  g_assert_null (none);
  none = post_raw (f->base_url, "/free", "{\"unload_models\": true, \"free_memory\": true}", 200);
  g_assert_cmpint (state_int (f->base_url, "frees"), ==, 3);

  /* The client reports a refusal. */
  g_clear_object (&result);
  cdl_sim_server_set_fault (f->sim, CDL_SIM_FAULT_FAIL);
  cdl_comfy_jobs_free_async (f->client, f->base_url, NULL, NULL,
                             store_result_cb, &result);
  wait_for (&result);
  g_assert_false (bool_result (f->client, result, FALSE, &error));
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
}

static void
test_jobs_queue (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(JsonNode) graph = small_graph (8);
  g_autoptr(CdlComfySubmitted) s1 = NULL;
  g_autoptr(CdlComfySubmitted) s2 = NULL;
  g_autoptr(CdlComfySubmitted) s3 = NULL;
  g_autoptr(CdlComfySubmitted) s4 = NULL;
  g_autoptr(CdlComfyQueue) q = NULL;
  g_autoptr(CdlComfyHistory) h = NULL;
  g_autoptr(JsonNode) none = NULL;
  g_autoptr(JsonNode) front = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *graph_text = json_to_string (graph, FALSE);
  g_autofree char *request = NULL;
  g_autofree char *front_id = NULL;

  cdl_sim_server_set_ms_per_image (f->sim, 5000);
  s1 = submit (f->client, f->base_url, graph, NULL, &error);
  s2 = submit (f->client, f->base_url, graph, NULL, &error);
  s3 = submit (f->client, f->base_url, graph, NULL, &error);
  s4 = submit (f->client, f->base_url, graph, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s1->number, ==, 0);
  g_assert_cmpint (s2->number, ==, 1);
  g_assert_cmpint (s3->number, ==, 2);
  g_assert_cmpint (s4->number, ==, 3);

  /* One runs, the rest wait: what queue gating counts. */
  q = queue (f->client, f->base_url);
  g_assert_cmpint (q->n_running, ==, 1);
  g_assert_cmpint (q->n_pending, ==, 3);
  g_assert_cmpstr (q->running[0], ==, s1->prompt_id);
  g_assert_cmpstr (q->pending[0], ==, s2->prompt_id);
  g_assert_true (cdl_comfy_queue_contains (q, s3->prompt_id));
  g_assert_false (cdl_comfy_queue_contains (q, "not-there"));
  h = history (f->client, f->base_url, s2->prompt_id);
  g_assert_cmpint (h->status, ==, CDL_COMFY_JOB_PENDING);
  g_clear_pointer (&h, cdl_comfy_history_free);

  /* front: true goes first, with a negative number. */
  request = g_strdup_printf ("{\"prompt\": %s, \"front\": true}", graph_text);
  front = post_raw (f->base_url, "/prompt", request, 200);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (front), "number"), <, 0);
  front_id = g_strdup (json_object_get_string_member (json_node_get_object (front),
                                                      "prompt_id"));
  g_clear_pointer (&q, cdl_comfy_queue_free);
  q = queue (f->client, f->base_url);
  g_assert_cmpstr (q->pending[0], ==, front_id);

  /* Delete one pending item, then clear the rest. */
  none = post_raw (f->base_url, "/queue", NULL, 500);
  g_free (request);
  request = g_strdup_printf ("{\"delete\": [\"%s\"]}", s3->prompt_id);
  none = post_raw (f->base_url, "/queue", request, 200);
  g_assert_null (none);
  g_clear_pointer (&q, cdl_comfy_queue_free);
  q = queue (f->client, f->base_url);
  g_assert_cmpint (q->n_pending, ==, 3);
  g_assert_false (cdl_comfy_queue_contains (q, s3->prompt_id));

  none = post_raw (f->base_url, "/queue", "{\"clear\": true}", 200);
  g_clear_pointer (&q, cdl_comfy_queue_free);
  q = queue (f->client, f->base_url);
  g_assert_cmpint (q->n_pending, ==, 0);
  g_assert_cmpint (q->n_running, ==, 1);

  /* The running one finishes; the deleted ones never reach the history. */
  cdl_sim_server_set_ms_per_image (f->sim, 5);
  h = wait_done (f->client, f->base_url, s1->prompt_id);
  g_assert_cmpint (h->status, ==, CDL_COMFY_JOB_SUCCESS);
  spin (50);
  g_clear_pointer (&h, cdl_comfy_history_free);
  h = history (f->client, f->base_url, s3->prompt_id);
  g_assert_cmpint (h->status, ==, CDL_COMFY_JOB_PENDING);
  g_assert_cmpuint (cdl_sim_server_get_history_length (f->sim), ==, 1);
}

static void
test_jobs_partial_outputs (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(JsonNode) four = make_graph (40, 64, 48, 4, "random", "x", "part");
  g_autoptr(JsonNode) one = make_graph (41, 64, 48, 1, NULL, "x", "part");
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autoptr(CdlComfyHistory) ha = NULL;
  g_autoptr(CdlComfyHistory) hb = NULL;
  g_autoptr(JsonNode) holder = NULL;
  g_autoptr(GBytes) png = NULL;
  g_autoptr(GBytes) rows = NULL;
  g_autoptr(GBytes) expected = NULL;
  g_autoptr(JsonNode) second = make_graph (41, 64, 48, 1, NULL, "x", "ok");
  JsonObject *entry;

  cdl_sim_server_set_partial_rate (f->sim, 1.0);
  a = submit_ok (f->client, f->base_url, four);
  b = submit_ok (f->client, f->base_url, one);
  ha = wait_done (f->client, f->base_url, a);
  hb = wait_done (f->client, f->base_url, b);

  /* Success, with the first half of the batch. */
  g_assert_cmpint (ha->status, ==, CDL_COMFY_JOB_SUCCESS);
  g_assert_cmpuint (ha->outputs->len, ==, 2);
  g_assert_cmpstr (((CdlComfyOutput *) g_ptr_array_index (ha->outputs, 1))->filename,
                   ==, "part_00002_.png");

  /* The kept images are indices 0 and 1: index 1 is seed + 1. */
  png = view_ok (f->client, f->base_url, g_ptr_array_index (ha->outputs, 1));
  rows = decode_png (png, 64, 48, NULL);
  cdl_sim_server_set_partial_rate (f->sim, 0);
  expected = run_for_pixels (f, second, 0);
  g_assert_true (g_bytes_equal (rows, expected));

  /* Nothing left: the node is missing from outputs. */
  g_assert_cmpint (hb->status, ==, CDL_COMFY_JOB_SUCCESS);
  g_assert_cmpuint (hb->outputs->len, ==, 0);
  entry = raw_history_entry (f->base_url, b, &holder);
  g_assert_false (json_object_has_member (json_object_get_object_member (entry, "outputs"),
                                          "9"));
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (entry, "status"),
                                                  "status_str"), ==, "success");
}

static void
test_jobs_history_routes (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(JsonNode) graph = small_graph (77);
  g_autofree char *a = submit_ok (f->client, f->base_url, graph);
  g_autofree char *b = submit_ok (f->client, f->base_url, graph);
  g_autofree char *c = submit_ok (f->client, f->base_url, graph);
  g_autoptr(CdlComfyHistory) hc = wait_done (f->client, f->base_url, c);
  g_autoptr(JsonNode) all = NULL;
  g_autoptr(JsonNode) latest = NULL;
  g_autoptr(JsonNode) page = NULL;
  g_autoptr(JsonNode) none = NULL;
  g_autoptr(JsonNode) unknown = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *request = NULL;
  JsonObject *obj;

  all = get_json (f->client, f->base_url, NULL, "/history", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (all)), ==, 3);

  latest = get_json (f->client, f->base_url, NULL, "/history?max_items=2", &error);
  g_assert_no_error (error);
  obj = json_node_get_object (latest);
  g_assert_cmpuint (json_object_get_size (obj), ==, 2);
  g_assert_true (json_object_has_member (obj, b));
  g_assert_true (json_object_has_member (obj, c));

  page = get_json (f->client, f->base_url, NULL, "/history?max_items=1&offset=0", &error);
  g_assert_no_error (error);
  g_assert_true (json_object_has_member (json_node_get_object (page), a));
  g_assert_cmpuint (json_object_get_size (json_node_get_object (page)), ==, 1);

  unknown = get_json (f->client, f->base_url, NULL, "/history/no-such-prompt", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (unknown)), ==, 0);
  g_assert_cmpuint (get_status (f->base_url, "/history?max_items=lots"), ==, 500);

  request = g_strdup_printf ("{\"delete\": [\"%s\"]}", a);
  none = post_raw (f->base_url, "/history", request, 200);
  g_assert_null (none);
  g_assert_cmpuint (cdl_sim_server_get_history_length (f->sim), ==, 2);
  none = post_raw (f->base_url, "/history", "{\"clear\": true}", 200);
  g_assert_cmpuint (cdl_sim_server_get_history_length (f->sim), ==, 0);
  none = post_raw (f->base_url, "/history", NULL, 500);
}

static void
test_jobs_key_and_limit (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(JsonNode) graph = small_graph (21);
  g_autoptr(CdlComfySubmitted) s = NULL;
  g_autoptr(CdlComfyResponse) response = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  /* The key goes with every call, and never into the log. */
  cdl_sim_server_set_api_key (f->sim, TEST_KEY);
  s = submit (f->client, f->base_url, graph, NULL, &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
  g_assert_true (g_str_has_prefix (error->message, "HTTP 401 from "));
  g_clear_error (&error);

  cdl_comfy_jobs_submit_async (f->client, f->base_url, TEST_KEY, graph, NULL,
                               NULL, NULL, store_result_cb, &result);
  wait_for (&result);
  s = cdl_comfy_jobs_submit_finish (f->client, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  g_assert_false (captured_contains (TEST_KEY));

  /* An answer past the limit is refused, not buffered. */
  g_clear_object (&result);
  cdl_sim_server_set_api_key (f->sim, NULL);
  cdl_comfy_client_send_async (f->client, f->base_url, NULL, "GET", "/object_info",
                               NULL, 1000, NULL, store_result_cb, &result);
  wait_for (&result);
  response = cdl_comfy_client_send_finish (f->client, result, &error);
  g_assert_null (response);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_BAD_RESPONSE);
  g_assert_nonnull (strstr (error->message, "larger than 1000 bytes"));
  g_clear_error (&error);

  g_clear_object (&result);
  cdl_comfy_client_send_async (f->client, f->base_url, NULL, "GET", "/features",
                               NULL, 1000, NULL, store_result_cb, &result);
  wait_for (&result);
  response = cdl_comfy_client_send_finish (f->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpstr (response->content_type, ==, "application/json; charset=utf-8");
  g_assert_cmpuint (g_bytes_get_size (response->body), ==,
                    strlen ("{\"supports_preview_metadata\":true,\"max_upload_size\":104857600}"));
}

static void
test_jobs_preview_temp (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(JsonNode) graph = small_graph (61);
  g_autofree char *id = NULL;
  g_autofree char *path = NULL;
  g_autoptr(CdlComfyHistory) h = NULL;
  g_autoptr(GBytes) png = NULL;
  g_autoptr(GBytes) rows = NULL;
  JsonObject *save = json_object_get_object_member (json_node_get_object (graph), "9");
  CdlComfyOutput *out;

  /* PreviewImage writes to the temporary folder instead. */
  json_object_set_string_member (save, "class_type", "PreviewImage");
  json_object_remove_member (json_object_get_object_member (save, "inputs"),
                             "filename_prefix");

  id = submit_ok (f->client, f->base_url, graph);
  h = wait_done (f->client, f->base_url, id);
  g_assert_cmpint (h->status, ==, CDL_COMFY_JOB_SUCCESS);
  g_assert_cmpuint (h->outputs->len, ==, 1);
  out = g_ptr_array_index (h->outputs, 0);
  g_assert_cmpstr (out->type, ==, "temp");
  g_assert_true (g_str_has_prefix (out->filename, "ComfyUI_temp_"));
  g_assert_true (g_str_has_suffix (out->filename, "_00001_.png"));

  png = view_ok (f->client, f->base_url, out);
  rows = decode_png (png, 64, 48, NULL);

  path = g_strdup_printf ("/view?filename=%s&type=output", out->filename);
  g_assert_cmpuint (get_status (f->base_url, path), ==, 404);
}

static void
test_history_limit (void)
{
  g_autoptr(CdlSimHistory) history = cdl_sim_history_new ();
  g_autoptr(JsonNode) latest = NULL;
  g_autoptr(JsonNode) page = NULL;
  JsonObject *obj;

  for (guint i = 0; i < CDL_SIM_HISTORY_MAX + 5; i++)
    {
      g_autofree char *id = g_strdup_printf ("p%u", i);
      JsonNode *entry = json_node_init_int (json_node_alloc (), i);

      cdl_sim_history_add (history, id, entry);
    }

  g_assert_cmpuint (cdl_sim_history_get_length (history), ==, CDL_SIM_HISTORY_MAX);
  g_assert_null (cdl_sim_history_lookup (history, "p4"));
  g_assert_nonnull (cdl_sim_history_lookup (history, "p5"));

  latest = cdl_sim_history_to_json (history, 2, -1);
  obj = json_node_get_object (latest);
  g_assert_cmpuint (json_object_get_size (obj), ==, 2);
  g_assert_true (json_object_has_member (obj, "p10004"));
  g_assert_true (json_object_has_member (obj, "p10003"));

  page = cdl_sim_history_to_json (history, 3, 1);
  obj = json_node_get_object (page);
  g_assert_cmpuint (json_object_get_size (obj), ==, 3);
  g_assert_true (json_object_has_member (obj, "p6"));
  g_assert_true (json_object_has_member (obj, "p8"));

  /* Adding an id again moves it to the end. */
  cdl_sim_history_add (history, "p5", json_node_init_int (json_node_alloc (), 1));
  g_clear_pointer (&latest, json_node_unref);
  latest = cdl_sim_history_to_json (history, 1, -1);
  g_assert_true (json_object_has_member (json_node_get_object (latest), "p5"));
}

/* An upscale between the latent and the sampler sets the image size; the
 * batch still comes from the latent. */
static void
test_jobs_upscaled_size (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(JsonNode) graph = make_graph (9, 64, 48, 2, NULL, "x", "ComfyUI");
  g_autoptr(JsonNode) upscale = json_from_string (
      "{\"class_type\": \"LatentUpscale\", \"inputs\": {\"samples\": [\"5\", 0],"
      " \"upscale_method\": \"bilinear\", \"width\": 96, \"height\": 0,"
      " \"crop\": \"disabled\"}}", NULL);
  g_autoptr(JsonArray) link = json_array_new ();
  g_autofree char *id = NULL;
  g_autoptr(CdlComfyHistory) h = NULL;
  g_autoptr(GBytes) png = NULL;
  g_autoptr(GBytes) rows = NULL;
  JsonObject *root = json_node_get_object (graph);

  json_object_set_member (root, "11", g_steal_pointer (&upscale));
  json_array_add_string_element (link, "11");
  json_array_add_int_element (link, 0);
  json_object_set_array_member (json_object_get_object_member (
                                  json_object_get_object_member (root, "3"), "inputs"),
                                "latent_image", json_array_ref (link));

  id = submit_ok (f->client, f->base_url, graph);
  h = wait_done (f->client, f->base_url, id);
  g_assert_cmpint (h->status, ==, CDL_COMFY_JOB_SUCCESS);
  g_assert_cmpuint (h->outputs->len, ==, 2);
  png = view_ok (f->client, f->base_url, g_ptr_array_index (h->outputs, 1));
  rows = decode_png (png, 96, 48, NULL);
}

/* Which of six jobs fail with a 50 % error rate and a given fault seed. */
static guint
failure_pattern (Fixture *f)
{
  g_autoptr(JsonNode) graph = small_graph (1);
  guint pattern = 0;

  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *id = submit_ok (f->client, f->base_url, graph);
      g_autoptr(CdlComfyHistory) h = wait_done (f->client, f->base_url, id);

      if (h->status == CDL_COMFY_JOB_ERROR)
        pattern |= 1u << i;
    }

  return pattern;
}

static void
test_jobs_error_rate (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(JsonNode) config = NULL;
  g_autoptr(JsonNode) reset = NULL;
  g_autoptr(JsonNode) state = NULL;
  guint first;
  guint again;
  guint other;
  JsonObject *c;

  config = control (f->base_url, "/_sim/config",
                    "{\"error_rate\": 0.5, \"fault_seed\": 4242, \"ms_per_image\": 5}");
  c = json_node_get_object (config);
  g_assert_cmpfloat (json_object_get_double_member (c, "error_rate"), ==, 0.5);
  g_assert_cmpint (json_object_get_int_member (c, "fault_seed"), ==, 4242);

  first = failure_pattern (f);
  /* Some fail, some pass. */
  g_assert_cmpuint (first, !=, 0);
  g_assert_cmpuint (first, !=, 0x3f);

  /* The same seed again picks the same jobs. */
  reset = control (f->base_url, "/_sim/reset", "{}");
  again = failure_pattern (f);
  g_assert_cmpuint (again, ==, first);

  g_clear_pointer (&config, json_node_unref);
  config = control (f->base_url, "/_sim/config", "{\"fault_seed\": 7}");
  other = failure_pattern (f);
  g_assert_cmpuint (other, !=, first);

  state = control (f->base_url, "/_sim/state", NULL);
  c = json_object_get_object_member (json_node_get_object (state), "config");
  g_assert_cmpint (json_object_get_int_member (c, "fault_seed"), ==, 7);
  g_assert_cmpint (json_object_get_int_member (c, "ms_per_image"), ==, 5);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (state), "accepted"),
                   ==, 12);

  /* A bad member changes nothing. */
  g_clear_pointer (&config, json_node_unref);
  config = post_raw (f->base_url, "/_sim/config", "{\"error_rate\": 2, \"ms_per_image\": 9}", 400);
  g_clear_pointer (&state, json_node_unref);
  state = control (f->base_url, "/_sim/state", NULL);
  c = json_object_get_object_member (json_node_get_object (state), "config");
  g_assert_cmpint (json_object_get_int_member (c, "ms_per_image"), ==, 5);
}

/* The cdl-simworker program */

static void
child_setup (gpointer user_data)
{
  /* Do not outlive a test that aborts. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts cdl-simworker --port 0 with @args and returns its base URL from
 * the listening line. */
static GSubprocess *
spawn_simworker (const char * const  *args,
                 char               **base_url)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  GSubprocess *proc;
  const char *prefix = "cdl-simworker listening on http://127.0.0.1:";

  g_ptr_array_add (argv, simworker_path);
  g_ptr_array_add (argv, (char *) "--port");
  g_ptr_array_add (argv, (char *) "0");
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  proc = g_subprocess_launcher_spawnv (launcher,
                                       (const char * const *) argv->pdata,
                                       &error);
  g_assert_no_error (error);

  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, prefix));
  g_assert_cmpint (atoi (line + strlen (prefix)), >, 0);

  *base_url = g_strdup (line + strlen ("cdl-simworker listening on "));

  return proc;
}

/* SIGTERM, then the program must exit 0 within 5 s. */
static void
stop_simworker (GSubprocess *proc)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (proc, SIGTERM);
  g_subprocess_wait_async (proc, NULL, store_result_cb, &result);
  wait_for (&result);
  g_subprocess_wait_finish (proc, result, &error);
  g_assert_no_error (error);

  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
}

static void
test_simworker_program (void)
{
  static const char * const args[] = {
    "--nodes-exclude", "KSamplerAdvanced, FluxGuidance", NULL
  };
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(CdlComfyClient) client = cdl_comfy_client_new ();
  g_autoptr(CdlComfyProbe) p = NULL;
  g_autoptr(JsonNode) info = NULL;
  g_autoptr(JsonNode) one = NULL;
  g_autoptr(JsonNode) filled = NULL;
  g_autoptr(JsonNode) state = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *base = NULL;
  JsonArray *excluded;

  proc = spawn_simworker (args, &base);

  p = probe (client, base, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p->comfyui_version, ==, "0.3.64");
  g_assert_cmpint (p->pending + p->running, ==, 0);

  filled = control (base, "/_sim/queue", "{\"pending\": 4, \"running\": 1}");
  g_clear_pointer (&p, cdl_comfy_probe_free);
  p = probe (client, base, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (p->pending, ==, 4);
  g_assert_cmpint (p->running, ==, 1);

  info = get_json (client, base, NULL, "/object_info", &error);
  g_assert_no_error (error);
  g_assert_false (json_object_has_member (json_node_get_object (info), "KSamplerAdvanced"));
  g_assert_false (json_object_has_member (json_node_get_object (info), "FluxGuidance"));
  g_assert_true (json_object_has_member (json_node_get_object (info), "KSampler"));

  one = get_json (client, base, NULL, "/object_info/KSamplerAdvanced", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_object_get_size (json_node_get_object (one)), ==, 0);

  state = control (base, "/_sim/state", NULL);
  excluded = json_object_get_array_member (json_node_get_object (state), "nodes_excluded");
  g_assert_cmpuint (json_array_get_length (excluded), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (excluded, 1), ==, "FluxGuidance");

  stop_simworker (proc);
}

static void
test_simworker_fault_flags (void)
{
  static const char * const fail[] = { "--fail", NULL };
  static const char * const hang[] = { "--hang", NULL };
  static const char * const key[] = { "--api-key", TEST_KEY, NULL };
  g_autoptr(CdlComfyClient) client = cdl_comfy_client_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfyProbe) p = NULL;
  GSubprocess *proc;
  char *base;
  gint64 start;

  proc = spawn_simworker (fail, &base);
  p = probe (client, base, NULL, &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
  g_assert_true (g_str_has_prefix (error->message, "HTTP 500 from "));
  g_clear_error (&error);
  stop_simworker (proc);
  g_clear_object (&proc);
  g_clear_pointer (&base, g_free);

  proc = spawn_simworker (key, &base);
  p = probe (client, base, NULL, &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP);
  g_assert_true (g_str_has_prefix (error->message, "HTTP 401 from "));
  g_clear_error (&error);
  p = probe (client, base, TEST_KEY, &error);
  g_assert_no_error (error);
  g_assert_nonnull (p);
  g_clear_pointer (&p, cdl_comfy_probe_free);
  stop_simworker (proc);
  g_clear_object (&proc);
  g_clear_pointer (&base, g_free);

  proc = spawn_simworker (hang, &base);
  cdl_comfy_client_set_timeout (client, 1);
  start = g_get_monotonic_time ();
  p = probe (client, base, NULL, &error);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_TIMEOUT);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2500 * 1000);
  g_clear_error (&error);
  /* A hanging worker still leaves when told to. */
  stop_simworker (proc);
  g_clear_object (&proc);
  g_clear_pointer (&base, g_free);
}

static void
test_simworker_version (void)
{
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                           simworker_path, "--version", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "cdl-simworker " PACKAGE_VERSION "\n");
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  g_clear_object (&proc);
  g_clear_pointer (&out, g_free);

  /* A bad flag fails before anything listens. */
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                           G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                           simworker_path, "--bind", "not-an-address", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpint (g_subprocess_get_exit_status (proc), !=, 0);
}

static void
test_simworker_execute (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-comfy-XXXXXX", NULL);
  const char * const args[] = { "--output-dir", dir, "--ms-per-image", "5", NULL };
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(CdlComfyClient) client = cdl_comfy_client_new ();
  g_autoptr(JsonNode) graph = small_graph (31);
  g_autoptr(JsonNode) config = NULL;
  g_autoptr(JsonNode) state = NULL;
  g_autoptr(CdlComfyHistory) h = NULL;
  g_autoptr(GBytes) png = NULL;
  g_autoptr(GBytes) rows = NULL;
  g_autofree char *base = NULL;
  g_autofree char *id = NULL;
  g_autofree char *file = NULL;
  JsonObject *c;

  g_assert_nonnull (dir);
  proc = spawn_simworker (args, &base);

  id = submit_ok (client, base, graph);
  h = wait_done (client, base, id);
  g_assert_cmpint (h->status, ==, CDL_COMFY_JOB_SUCCESS);
  file = g_build_filename (dir, "ComfyUI_00001_.png", NULL);
  g_assert_true (g_file_test (file, G_FILE_TEST_IS_REGULAR));
  png = view_ok (client, base, g_ptr_array_index (h->outputs, 0));
  rows = decode_png (png, 64, 48, NULL);

  config = control (base, "/_sim/config", "{\"ms_per_image\": 250, \"oom_pixels\": 1000}");
  state = control (base, "/_sim/state", NULL);
  c = json_object_get_object_member (json_node_get_object (state), "config");
  g_assert_cmpint (json_object_get_int_member (c, "ms_per_image"), ==, 250);
  g_assert_cmpint (json_object_get_int_member (c, "oom_pixels"), ==, 1000);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (state), "output_dir"),
                   ==, dir);

  stop_simworker (proc);

  /* The folder is the caller's: the images stay. */
  g_assert_true (g_file_test (file, G_FILE_TEST_IS_REGULAR));
  g_unlink (file);
  g_rmdir (dir);
}

static void
test_simworker_crash_after (void)
{
  const char * const args[] = { "--crash-after", "2", "--ms-per-image", "1", NULL };
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(CdlComfyClient) client = cdl_comfy_client_new ();
  g_autoptr(JsonNode) graph = make_graph (3, 64, 48, 4, NULL, "x", "ComfyUI");
  g_autoptr(GAsyncResult) waited = NULL;
  g_autoptr(CdlComfySubmitted) third = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *base = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  proc = spawn_simworker (args, &base);

  first = submit_ok (client, base, graph);
  second = submit_ok (client, base, graph);

  /* Mid-job, the process goes away without a word. */
  g_subprocess_wait_async (proc, NULL, store_result_cb, &waited);
  wait_for (&waited);
  g_subprocess_wait_finish (proc, waited, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 1);

  third = submit (client, base, graph, NULL, &error);
  g_assert_null (third);
  g_assert_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_UNREACHABLE);
}

static void
test_simworker_bad_flags (void)
{
  static const char * const bad[][3] = {
    { "--error-rate", "1.5", NULL },
    { "--ms-per-image", "-1", NULL },
    { "--partial-rate", "-0.1", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GSubprocess) proc = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *out = NULL;

      proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                               G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                               simworker_path, "--port", "0", bad[i][0], bad[i][1], NULL);
      g_assert_no_error (error);
      g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (out, ==, "");
      g_assert_cmpint (g_subprocess_get_exit_status (proc), !=, 0);
    }
}

int
main (int   argc,
      char *argv[])
{
  const char *build_dir = g_getenv ("CDL_BUILD_DIR");
  g_autofree char *self_dir = NULL;
  int ret;

  g_log_set_writer_func (capture_writer, NULL, NULL);
  captured = g_ptr_array_new_with_free_func (g_free);

  g_test_init (&argc, &argv, NULL);

  if (build_dir != NULL)
    simworker_path = g_build_filename (build_dir, "src", "app", "cdl-simworker", NULL);
  else
    {
      /* Run by hand from the build tree: tests/ sits beside src/. */
      self_dir = g_path_get_dirname (argv[0]);
      simworker_path = g_build_filename (self_dir, "..", "src", "app", "cdl-simworker", NULL);
    }

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/comfy/probe/idle", test_probe_idle);
  ADD ("/comfy/probe/queue-counts", test_probe_queue_counts);
  ADD ("/comfy/probe/not-comfyui", test_probe_not_comfy);
  ADD ("/comfy/sim/system-stats", test_system_stats_shape);
  ADD ("/comfy/sim/object-info", test_object_info_all);
  ADD ("/comfy/sim/object-info-class", test_object_info_class);
  ADD ("/comfy/sim/nodes-exclude", test_nodes_exclude);
  ADD ("/comfy/sim/other-routes", test_other_routes);
  ADD ("/comfy/sim/control-routes", test_control_routes);
  ADD ("/comfy/auth/api-key", test_api_key);
  ADD ("/comfy/client/logging", test_logging);
  ADD ("/comfy/client/url-building", test_url_building);
  ADD ("/comfy/fault/fail", test_fault_fail);
  ADD ("/comfy/fault/hang-times-out", test_fault_hang);
  ADD ("/comfy/fault/garbage", test_fault_garbage);
  ADD ("/comfy/client/cancel", test_cancel);

  g_test_add ("/comfy/jobs/run", Fixture, NULL, jobs_setup, test_jobs_run,
              fixture_teardown);
#define JOBS(path, func) \
  g_test_add (path, Fixture, NULL, jobs_setup, func, fixture_teardown)

  JOBS ("/comfy/jobs/seeds-differ", test_jobs_seeds);
  JOBS ("/comfy/jobs/same-seed-same-bytes", test_jobs_same_bytes);
  JOBS ("/comfy/jobs/batch-seed-behavior", test_jobs_batch_seed_behavior);
  JOBS ("/comfy/jobs/view", test_jobs_view);
  JOBS ("/comfy/jobs/rejections", test_jobs_rejections);
  JOBS ("/comfy/jobs/partial-acceptance", test_jobs_partial_acceptance);
  JOBS ("/comfy/jobs/runtime-error", test_jobs_runtime_error);
  JOBS ("/comfy/jobs/oom", test_jobs_oom);
  JOBS ("/comfy/jobs/interrupt", test_jobs_interrupt);
  JOBS ("/comfy/jobs/free", test_jobs_free);
  JOBS ("/comfy/jobs/queue", test_jobs_queue);
  JOBS ("/comfy/jobs/partial-outputs", test_jobs_partial_outputs);
  JOBS ("/comfy/jobs/history-routes", test_jobs_history_routes);
  JOBS ("/comfy/jobs/error-rate", test_jobs_error_rate);
  JOBS ("/comfy/jobs/key-and-limit", test_jobs_key_and_limit);
  JOBS ("/comfy/jobs/preview-temp", test_jobs_preview_temp);
  JOBS ("/comfy/jobs/upscaled-size", test_jobs_upscaled_size);

#undef JOBS
#undef ADD

  g_test_add_func ("/comfy/client/unreachable", test_unreachable);
  g_test_add_func ("/comfy/client/timeout-property", test_timeout_property);
  g_test_add_func ("/comfy/parse-queue", test_parse_queue);
  g_test_add_func ("/comfy/simworker/program", test_simworker_program);
  g_test_add_func ("/comfy/simworker/fault-flags", test_simworker_fault_flags);
  g_test_add_func ("/comfy/simworker/version", test_simworker_version);
  g_test_add_func ("/comfy/simworker/execute", test_simworker_execute);
  g_test_add_func ("/comfy/simworker/crash-after", test_simworker_crash_after);
  g_test_add_func ("/comfy/simworker/bad-flags", test_simworker_bad_flags);
  g_test_add_func ("/comfy/jobs/classify", test_jobs_classify);
  g_test_add_func ("/comfy/sim/history-limit", test_history_limit);

  ret = g_test_run ();

  g_clear_pointer (&simworker_path, g_free);
  g_clear_pointer (&captured, g_ptr_array_unref);

  return ret;
}
