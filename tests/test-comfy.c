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
#include <sys/prctl.h>

#include <libsoup/soup.h>

#include "comfy/cdl-comfy-client.h"
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

#undef ADD

  g_test_add_func ("/comfy/client/unreachable", test_unreachable);
  g_test_add_func ("/comfy/client/timeout-property", test_timeout_property);
  g_test_add_func ("/comfy/parse-queue", test_parse_queue);
  g_test_add_func ("/comfy/simworker/program", test_simworker_program);
  g_test_add_func ("/comfy/simworker/fault-flags", test_simworker_fault_flags);
  g_test_add_func ("/comfy/simworker/version", test_simworker_version);

  ret = g_test_run ();

  g_clear_pointer (&simworker_path, g_free);
  g_clear_pointer (&captured, g_ptr_array_unref);

  return ret;
}
