/* cdl-sim-server.c: a simulated ComfyUI server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-sim"

#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cdl-sim-history.h"
#include "cdl-sim-image.h"
#include "cdl-sim-job.h"
#include "cdl-sim-nodes.h"
#include "cdl-sim-prompt.h"
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

#define DEFAULT_MS_PER_IMAGE 50

/* How long after accepting its last prompt a crashing worker waits. */
#define CRASH_GRACE_US (50 * G_TIME_SPAN_MILLISECOND)

/* What a failed run reports; the texts are those of a real GPU server. */
#define RUNTIME_ERROR_MESSAGE \
  "mat1 and mat2 shapes cannot be multiplied (154x2048 and 768x320)\n"
#define OOM_MESSAGE_FORMAT \
  "CUDA out of memory. Tried to allocate %.2f GiB. GPU 0 has a total " \
  "capacity of 23.55 GiB of which 1.06 GiB is free. Including non-PyTorch " \
  "memory, this process has 22.48 GiB memory in use. Of the allocated " \
  "memory 21.61 GiB is allocated by PyTorch, and 412.50 MiB is reserved by " \
  "PyTorch but unallocated. If reserved but unallocated memory is large " \
  "try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid " \
  "fragmentation.  See documentation for Memory Management  " \
  "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)\n" \
  "This error means you ran out of memory on your GPU.\n\n" \
  "TIPS: If the workflow worked before you might have accidentally set " \
  "the batch_size to a large number."

typedef enum
{
  FATE_SUCCESS,
  FATE_PARTIAL,
  FATE_ERROR,
  FATE_OOM,
  FATE_BAD_PATH,
} Fate;

/* The prompt being executed. */
typedef struct
{
  CdlSimQueueItem *item;       /* our copy of the running item */
  GPtrArray       *plans;      /* CdlSimOutputPlan, one per output */
  GPtrArray       *images;     /* GBytes or NULL, plan by plan */
  guint            n_images;   /* images the run samples */
  guint            n_done;
  Fate             fate;
  gboolean         interrupted;
  gint64           started_ms;
  char            *temp_prefix;  /* PreviewImage's "ComfyUI_temp_xxxxx" */
  GStrv            text_keys;    /* PNG tEXt chunks */
  GStrv            text_values;
} Job;

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

  /* Execution */
  CdlSimHistory *history;
  Job          *job;
  guint         tick_id;
  char         *output_dir;
  gboolean      owns_output_dir;
  char         *temp_dir;
  GHashTable   *counters;        /* "type/subfolder/prefix" → next number */
  guint         ms_per_image;
  double        error_rate;
  double        partial_rate;
  guint64       oom_pixels;      /* 0: never */
  guint         crash_after;     /* 0: never */
  guint64       fault_seed;
  GRand        *fault_rand;
  guint         accepted;
  gint64        last_accepted_us;
  GHashTable   *accepted_ids;    /* every prompt_id accepted since start */
  guint         duplicate_ids;   /* accepted while already seen */
  guint         max_depth;       /* most pending + running ever seen */
  gint64        busy_ms;         /* time spent running prompts that ended */
  guint         executed;
  guint         frees;
  guint         interrupts;
  gboolean      last_unload_models;
  gboolean      last_free_memory;
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

/* Bodies, queries and plain answers */

static void
respond_fail (SoupServerMessage *msg)
{
  respond_text (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, FAIL_BODY);
}

/* An answer without a body, as aiohttp's web.Response (status=…). */
static void
respond_empty (SoupServerMessage *msg,
               guint              status)
{
  soup_server_message_set_status (msg, status, NULL);
}

/* The request body as JSON. An empty body gives NULL with *@empty set;
 * a body that is not JSON gives NULL and an error. */
static JsonNode *
parse_body (SoupServerMessage  *msg,
            gboolean           *empty,
            GError            **error)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  *empty = len == 0;
  if (len == 0)
    return NULL;

  if (!json_parser_load_from_data (parser, data, len, error))
    return NULL;

  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The body holds no JSON value");
      return NULL;
    }

  return json_parser_steal_root (parser);
}

static char *
query_param (SoupServerMessage *msg,
             const char        *name)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const char *query = uri ? g_uri_get_query (uri) : NULL;
  g_autoptr(GHashTable) params = NULL;

  if (query == NULL)
    return NULL;

  params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_WWW_FORM, NULL);
  if (params == NULL)
    return NULL;

  return g_strdup (g_hash_table_lookup (params, name));
}

static gboolean
member_is_true (JsonObject *obj,
                const char *name)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;

  switch (json_node_get_value_type (node))
    {
    case G_TYPE_BOOLEAN:
      return json_node_get_boolean (node);
    case G_TYPE_INT64:
      return json_node_get_int (node) != 0;
    case G_TYPE_DOUBLE:
      return json_node_get_double (node) != 0;
    case G_TYPE_STRING:
      return json_node_get_string (node)[0] != '\0';
    default:
      return FALSE;
    }
}

static const char *
member_string (JsonObject *obj,
               const char *name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

static JsonNode *
empty_object (void)
{
  return json_node_init_object (json_node_alloc (), json_object_new ());
}

/* Folders */

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
          !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }

  g_rmdir (path);
}

static const char *
ensure_dir (char       **dir,
            const char  *template,
            GError     **error)
{
  if (*dir == NULL)
    *dir = g_dir_make_tmp (template, error);

  return *dir;
}

static const char *
ensure_output_dir (CdlSimServer  *self,
                   GError       **error)
{
  if (self->output_dir == NULL)
    self->owns_output_dir = TRUE;

  return ensure_dir (&self->output_dir, "cdl-simworker-output-XXXXXX", error);
}

/* ComfyUI's counter: one more than the highest "{prefix}_{n}_" in the
 * folder; we read the folder once per prefix and count on from there. */
static guint
next_counter (CdlSimServer *self,
              const char   *folder,
              const char   *type,
              const char   *subfolder,
              const char   *prefix)
{
  g_autofree char *key = g_strdup_printf ("%s/%s/%s", type, subfolder, prefix);
  guint next = GPOINTER_TO_UINT (g_hash_table_lookup (self->counters, key));

  if (next == 0)
    {
      g_autoptr(GDir) dir = g_dir_open (folder, 0, NULL);
      g_autofree char *start = g_strconcat (prefix, "_", NULL);
      const char *name;

      next = 1;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          const char *digits = name + strlen (start);
          char *end = NULL;
          guint64 n;

          if (!g_str_has_prefix (name, start))
            continue;

          n = g_ascii_strtoull (digits, &end, 10);
          if (end != digits && *end == '_' && n < G_MAXUINT && n + 1 > next)
            next = (guint) n + 1;
        }
    }

  g_hash_table_insert (self->counters, g_steal_pointer (&key),
                       GUINT_TO_POINTER (next + 1));

  return next;
}

/* Execution */

static void
bytes_free (gpointer data)
{
  if (data != NULL)
    g_bytes_unref (data);
}

static void
job_free (Job *job)
{
  if (job == NULL)
    return;

  cdl_sim_queue_item_free (job->item);
  g_ptr_array_unref (job->plans);
  g_ptr_array_unref (job->images);
  g_strfreev (job->text_keys);
  g_strfreev (job->text_values);
  g_free (job->temp_prefix);
  g_free (job);
}

static void maybe_start_next (CdlSimServer *self);
static gboolean tick_cb (gpointer user_data);

static void
schedule_tick (CdlSimServer *self,
               guint         delay_ms)
{
  g_clear_handle_id (&self->tick_id, g_source_remove);
  self->tick_id = g_timeout_add (delay_ms, tick_cb, self);
}

static Fate
decide_fate (CdlSimServer *self,
             Job          *job)
{
  /* Two draws for every job, whatever the rates, so that the same fault
   * seed fails the same jobs however the rates are changed. */
  double error_draw = g_rand_double (self->fault_rand);
  double partial_draw = g_rand_double (self->fault_rand);

  for (guint i = 0; i < job->plans->len; i++)
    {
      CdlSimOutputPlan *plan = g_ptr_array_index (job->plans, i);

      if (plan->bad_path)
        return FATE_BAD_PATH;
    }

  for (guint i = 0; self->oom_pixels > 0 && i < job->plans->len; i++)
    {
      CdlSimOutputPlan *plan = g_ptr_array_index (job->plans, i);
      guint64 pixels = (guint64) plan->width * plan->height * plan->batch;

      if (pixels > self->oom_pixels)
        return FATE_OOM;
    }

  if (error_draw < self->error_rate)
    return FATE_ERROR;

  if (partial_draw < self->partial_rate)
    return FATE_PARTIAL;

  return FATE_SUCCESS;
}

/* The graph, and every member of extra_data.extra_pnginfo, go into each
 * PNG as tEXt chunks, as ComfyUI's SaveImage does. */
static void
collect_png_text (Job *job)
{
  g_autoptr(GStrvBuilder) keys = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) values = g_strv_builder_new ();
  g_autofree char *prompt = cdl_sim_json_to_ascii (job->item->graph);
  JsonObject *extra = json_node_get_object (job->item->extra_data);
  JsonNode *pnginfo = json_object_get_member (extra, "extra_pnginfo");

  g_strv_builder_add (keys, "prompt");
  g_strv_builder_add (values, prompt);

  if (pnginfo != NULL && JSON_NODE_HOLDS_OBJECT (pnginfo))
    {
      JsonObject *info = json_node_get_object (pnginfo);
      g_autoptr(GList) names = json_object_get_members (info);

      for (GList *l = names; l != NULL; l = l->next)
        {
          g_autofree char *text = NULL;

          if (strlen (l->data) == 0 || strlen (l->data) > 79)
            continue;

          text = cdl_sim_json_to_ascii (json_object_get_member (info, l->data));
          g_strv_builder_add (keys, l->data);
          g_strv_builder_add (values, text);
        }
    }

  job->text_keys = g_strv_builder_end (keys);
  job->text_values = g_strv_builder_end (values);
}

static void
maybe_start_next (CdlSimServer *self)
{
  CdlSimQueueItem *item;
  Job *job;

  if (self->job != NULL || cdl_sim_queue_get_n_running (self->queue) > 0)
    return;

  item = cdl_sim_queue_start_next (self->queue);
  if (item == NULL)
    return;

  job = g_new0 (Job, 1);
  job->item = cdl_sim_queue_item_new (item->number, item->prompt_id,
                                      item->graph, item->extra_data,
                                      (const char * const *) item->outputs_to_execute);
  job->plans = cdl_sim_job_plan (item->graph,
                                 (const char * const *) item->outputs_to_execute);
  job->images = g_ptr_array_new_with_free_func (bytes_free);
  job->started_ms = g_get_real_time () / 1000;
  job->temp_prefix = g_strdup_printf ("ComfyUI_temp_%c%c%c%c%c",
                                      'a' + g_random_int_range (0, 26),
                                      'a' + g_random_int_range (0, 26),
                                      'a' + g_random_int_range (0, 26),
                                      'a' + g_random_int_range (0, 26),
                                      'a' + g_random_int_range (0, 26));

  for (guint i = 0; i < job->plans->len; i++)
    {
      CdlSimOutputPlan *plan = g_ptr_array_index (job->plans, i);

      job->n_images += plan->batch;
    }

  job->fate = decide_fate (self, job);
  collect_png_text (job);

  g_debug ("Running prompt %s (%u images)", job->item->prompt_id,
           job->n_images);

  self->job = job;
  schedule_tick (self, self->ms_per_image);
}

static JsonNode *
event (const char *type,
       JsonNode   *data)
{
  JsonArray *pair = json_array_new ();
  JsonNode *node;

  json_array_add_string_element (pair, type);
  json_array_add_element (pair, data);
  node = json_node_init_array (json_node_alloc (), pair);
  json_array_unref (pair);

  return node;
}

static JsonNode *
event_data (const char *prompt_id,
            gint64      timestamp,
            gboolean    with_nodes)
{
  JsonObject *obj = json_object_new ();
  JsonNode *node;

  if (with_nodes)
    json_object_set_array_member (obj, "nodes", json_array_new ());
  json_object_set_string_member (obj, "prompt_id", prompt_id);
  json_object_set_int_member (obj, "timestamp", timestamp);

  node = json_node_init_object (json_node_alloc (), obj);
  json_object_unref (obj);

  return node;
}

/* A history entry: @outputs is NULL for a run that did not succeed;
 * @last is the final [type, data] message. */
static JsonNode *
history_entry (const CdlSimQueueItem *item,
               JsonObject            *outputs,
               gint64                 started_ms,
               JsonNode              *last)
{
  JsonObject *entry = json_object_new ();
  JsonObject *status = json_object_new ();
  JsonObject *meta = json_object_new ();
  JsonArray *messages = json_array_new ();
  gboolean success = outputs != NULL;
  JsonNode *root;

  json_array_add_element (messages,
                          event ("execution_start",
                                 event_data (item->prompt_id, started_ms, FALSE)));
  json_array_add_element (messages,
                          event ("execution_cached",
                                 event_data (item->prompt_id, started_ms, TRUE)));
  json_array_add_element (messages, last);

  json_object_set_string_member (status, "status_str",
                                 success ? "success" : "error");
  json_object_set_boolean_member (status, "completed", success);
  json_object_set_array_member (status, "messages", messages);

  if (outputs != NULL)
    {
      g_autoptr(GList) ids = json_object_get_members (outputs);

      for (GList *l = ids; l != NULL; l = l->next)
        {
          JsonObject *m = json_object_new ();

          json_object_set_string_member (m, "node_id", l->data);
          json_object_set_string_member (m, "display_node", l->data);
          json_object_set_null_member (m, "parent_node");
          json_object_set_string_member (m, "real_node_id", l->data);
          json_object_set_object_member (meta, l->data, m);
        }
    }

  json_object_set_member (entry, "prompt", cdl_sim_queue_item_to_json (item));
  json_object_set_object_member (entry, "outputs",
                                 outputs ? json_object_ref (outputs)
                                         : json_object_new ());
  json_object_set_object_member (entry, "status", status);
  json_object_set_object_member (entry, "meta", meta);

  root = json_node_init_object (json_node_alloc (), entry);
  json_object_unref (entry);

  return root;
}

static JsonNode *
interrupted_event (const CdlSimQueueItem *item,
                   GPtrArray             *plans)
{
  CdlSimOutputPlan *plan = plans->len ? g_ptr_array_index (plans, 0) : NULL;
  JsonObject *data = json_object_new ();
  JsonNode *node;

  json_object_set_string_member (data, "prompt_id", item->prompt_id);
  if (plan != NULL)
    {
      json_object_set_string_member (data, "node_id",
                                     plan->sampler_id ? plan->sampler_id
                                                      : plan->node_id);
      json_object_set_string_member (data, "node_type",
                                     plan->sampler_id ? plan->sampler_type
                                                      : plan->class_type);
    }
  json_object_set_array_member (data, "executed", json_array_new ());
  json_object_set_int_member (data, "timestamp", g_get_real_time () / 1000);

  node = json_node_init_object (json_node_alloc (), data);
  json_object_unref (data);

  return event ("execution_interrupted", node);
}

/* Writes the images the run kept; NULL and @error when one fails. */
static JsonObject *
write_outputs (CdlSimServer  *self,
               Job           *job,
               GError       **error)
{
  g_autoptr(JsonObject) outputs = json_object_new ();
  guint k = 0;

  for (guint i = 0; i < job->plans->len; i++)
    {
      CdlSimOutputPlan *plan = g_ptr_array_index (job->plans, i);
      const char *type = plan->temp ? "temp" : "output";
      const char *prefix = plan->temp ? job->temp_prefix : plan->prefix;
      const char *dir;
      g_autofree char *folder = NULL;
      JsonArray *images = json_array_new ();

      dir = plan->temp ? ensure_dir (&self->temp_dir, "cdl-simworker-temp-XXXXXX", error)
                       : ensure_output_dir (self, error);
      if (dir == NULL)
        {
          json_array_unref (images);
          return NULL;
        }

      folder = g_build_filename (dir, plan->subfolder, NULL);
      if (g_mkdir_with_parents (folder, 0755) != 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "Cannot create %s: %s", folder, g_strerror (saved));
          json_array_unref (images);
          return NULL;
        }

      for (guint b = 0; b < plan->batch; b++, k++)
        {
          GBytes *png = k < job->images->len ? g_ptr_array_index (job->images, k) : NULL;
          g_autofree char *filename = NULL;
          g_autofree char *path = NULL;
          JsonObject *image;
          guint n;

          if (png == NULL)
            continue;

          n = next_counter (self, folder, type, plan->subfolder, prefix);
          filename = g_strdup_printf ("%s_%05u_.png", prefix, n);
          path = g_build_filename (folder, filename, NULL);
          if (!g_file_set_contents (path, g_bytes_get_data (png, NULL),
                                    (gssize) g_bytes_get_size (png), error))
            {
              json_array_unref (images);
              return NULL;
            }

          image = json_object_new ();
          json_object_set_string_member (image, "filename", filename);
          json_object_set_string_member (image, "subfolder", plan->subfolder);
          json_object_set_string_member (image, "type", type);
          json_array_add_object_element (images, image);
        }

      /* A node that kept no image is missing from "outputs", as a node
       * that never ran would be. */
      if (json_array_get_length (images) > 0)
        {
          JsonObject *node = json_object_new ();

          json_object_set_array_member (node, "images", images);
          json_object_set_object_member (outputs, plan->node_id, node);
        }
      else
        json_array_unref (images);
    }

  return g_steal_pointer (&outputs);
}

static void
finish_job (CdlSimServer *self)
{
  Job *job = g_steal_pointer (&self->job);
  g_autoptr(CdlSimQueueItem) item = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) outputs = NULL;
  CdlSimOutputPlan *first;
  JsonNode *last = NULL;
  JsonNode *entry;

  g_clear_handle_id (&self->tick_id, g_source_remove);

  /* A queue reset took the item away: nothing is recorded. */
  item = cdl_sim_queue_finish (self->queue, job->item->prompt_id);
  if (item == NULL)
    {
      job_free (job);
      maybe_start_next (self);
      return;
    }

  first = job->plans->len ? g_ptr_array_index (job->plans, 0) : NULL;

  if (job->interrupted)
    last = interrupted_event (item, job->plans);
  else if (job->fate == FATE_SUCCESS || job->fate == FATE_PARTIAL)
    {
      outputs = write_outputs (self, job, &error);
      if (outputs == NULL)
        {
          g_warning ("Cannot write the images of prompt %s: %s",
                     item->prompt_id, error->message);
          last = event ("execution_error",
                        cdl_sim_job_error_event (item->graph, item->prompt_id,
                                                 first, "OSError",
                                                 error->message));
        }
      else
        last = event ("execution_success",
                      event_data (item->prompt_id,
                                  g_get_real_time () / 1000, FALSE));
    }
  else if (first != NULL)
    {
      g_autofree char *message = NULL;
      const char *type = "RuntimeError";

      if (job->fate == FATE_OOM)
        {
          double gib = 0;

          for (guint i = 0; i < job->plans->len; i++)
            {
              CdlSimOutputPlan *plan = g_ptr_array_index (job->plans, i);

              gib = MAX (gib, (double) plan->width * plan->height *
                              plan->batch * 64 / (1 << 30));
            }
          message = g_strdup_printf (OOM_MESSAGE_FORMAT, gib);
          type = "torch.OutOfMemoryError";
          g_message ("Got an OOM, unloading all loaded models.");
        }
      else if (job->fate == FATE_BAD_PATH)
        {
          message = g_strdup ("Saving image outside the output folder is "
                              "not allowed.");
          type = "Exception";
        }
      else
        message = g_strdup (RUNTIME_ERROR_MESSAGE);

      last = event ("execution_error",
                    cdl_sim_job_error_event (item->graph, item->prompt_id,
                                             first, type, message));
    }
  else
    last = event ("execution_success",
                  event_data (item->prompt_id, g_get_real_time () / 1000,
                              FALSE));

  entry = history_entry (item, outputs, job->started_ms, last);
  cdl_sim_history_add (self->history, item->prompt_id, entry);
  self->executed++;
  self->busy_ms += MAX (0, g_get_real_time () / 1000 - job->started_ms);

  g_debug ("Prompt %s done", item->prompt_id);

  job_free (job);
  maybe_start_next (self);
}

static gboolean
tick_cb (gpointer user_data)
{
  CdlSimServer *self = user_data;
  Job *job = self->job;
  CdlSimOutputPlan *plan = NULL;
  guint index = job->n_done;
  GBytes *png = NULL;
  guint keep;

  self->tick_id = 0;

  if (self->crash_after > 0 && self->accepted >= self->crash_after)
    {
      gint64 waited = g_get_monotonic_time () - self->last_accepted_us;

      /* The answer to the last accepted prompt gets out first; the job
       * holds still until then, so that even a fast one dies midway. */
      if (waited < CRASH_GRACE_US)
        {
          schedule_tick (self, (guint) ((CRASH_GRACE_US - waited) / 1000) + 1);
          return G_SOURCE_REMOVE;
        }

      /* Like a worker the kernel killed: no answer, no history. */
      g_printerr ("cdl-simworker: crashing on purpose after %u prompts\n",
                  self->accepted);
      _exit (1);
    }

  if (job->interrupted || job->fate == FATE_ERROR || job->fate == FATE_OOM ||
      job->fate == FATE_BAD_PATH || job->n_done >= job->n_images)
    {
      finish_job (self);
      return G_SOURCE_REMOVE;
    }

  for (guint i = 0; i < job->plans->len; i++)
    {
      plan = g_ptr_array_index (job->plans, i);
      if (index < plan->batch)
        break;
      index -= plan->batch;
    }

  /* A partial run keeps the first half of each node's batch (rounded
   * down), so that what is missing is always the end of the batch. */
  keep = job->fate == FATE_PARTIAL ? plan->batch / 2 : plan->batch;
  if (index < keep)
    {
      g_autoptr(GError) error = NULL;

      png = cdl_sim_output_plan_render (plan, index,
                                        (const char * const *) job->text_keys,
                                        (const char * const *) job->text_values,
                                        &error);
      if (png == NULL)
        {
          g_warning ("Cannot encode an image: %s", error->message);
          job->fate = FATE_ERROR;
        }
    }

  g_ptr_array_add (job->images, png);
  job->n_done++;

  schedule_tick (self, job->n_done >= job->n_images ? 0 : self->ms_per_image);

  return G_SOURCE_REMOVE;
}

static GPtrArray *
running_ids (CdlSimServer *self)
{
  g_autoptr(JsonNode) queue = cdl_sim_queue_to_json (self->queue);
  JsonArray *running = json_object_get_array_member (json_node_get_object (queue),
                                                     "queue_running");
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < json_array_get_length (running); i++)
    {
      JsonArray *item = json_array_get_array_element (running, i);

      g_ptr_array_add (ids, g_strdup (json_array_get_string_element (item, 1)));
    }

  return ids;
}

/* Stops what runs; @prompt_id, when set, must be what runs. */
static void
interrupt_running (CdlSimServer *self,
                   const char   *prompt_id)
{
  g_autoptr(GPtrArray) ids = running_ids (self);

  if (self->job != NULL)
    {
      if (prompt_id != NULL && !g_str_equal (prompt_id, self->job->item->prompt_id))
        return;

      g_debug ("Interrupting prompt %s", self->job->item->prompt_id);
      self->job->interrupted = TRUE;
      schedule_tick (self, 0);
      return;
    }

  /* Placeholders from POST /_sim/queue never finish by themselves. */
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      g_autoptr(CdlSimQueueItem) item = NULL;
      g_autoptr(GPtrArray) plans = NULL;

      if (prompt_id != NULL && !g_str_equal (prompt_id, id))
        continue;

      item = cdl_sim_queue_finish (self->queue, id);
      plans = cdl_sim_job_plan (item->graph,
                                (const char * const *) item->outputs_to_execute);
      cdl_sim_history_add (self->history, id,
                           history_entry (item, NULL, g_get_real_time () / 1000,
                                          interrupted_event (item, plans)));
    }

  maybe_start_next (self);
}

static void
drop_job (CdlSimServer *self)
{
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_pointer (&self->job, job_free);
}

/* Routes that change things */

static void
respond_prompt_error (SoupServerMessage *msg,
                      JsonNode          *error,
                      JsonNode          *node_errors)
{
  JsonObject *obj = json_object_new ();
  g_autoptr(JsonNode) root = NULL;

  json_object_set_member (obj, "error", error);
  json_object_set_member (obj, "node_errors",
                          node_errors ? json_node_copy (node_errors)
                                      : empty_object ());
  root = json_node_init_object (json_node_alloc (), obj);
  json_object_unref (obj);

  respond_json (msg, SOUP_STATUS_BAD_REQUEST, root);
}

static JsonNode *
simple_error (const char *type,
              const char *message)
{
  JsonObject *obj = json_object_new ();
  JsonNode *node;

  json_object_set_string_member (obj, "type", type);
  json_object_set_string_member (obj, "message", message);
  json_object_set_string_member (obj, "details", "");
  json_object_set_object_member (obj, "extra_info", json_object_new ());
  node = json_node_init_object (json_node_alloc (), obj);
  json_object_unref (obj);

  return node;
}

static void
handle_prompt_post (CdlSimServer      *self,
                    SoupServerMessage *msg,
                    const char        *arg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(CdlSimValidation) validation = NULL;
  g_autoptr(JsonNode) extra = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *prompt_id = NULL;
  JsonObject *obj;
  JsonNode *graph;
  JsonNode *member;
  gboolean empty;
  gint64 number;

  body = parse_body (msg, &empty, &error);
  if (body == NULL)
    {
      respond_fail (msg);
      return;
    }

  obj = JSON_NODE_HOLDS_OBJECT (body) ? json_node_get_object (body) : NULL;
  graph = obj ? json_object_get_member (obj, "prompt") : NULL;
  if (graph == NULL)
    {
      respond_prompt_error (msg, simple_error ("no_prompt", "No prompt provided"),
                            NULL);
      return;
    }

  /* ComfyUI walks the graph as a dict and raises on anything else. */
  if (!JSON_NODE_HOLDS_OBJECT (graph))
    {
      respond_fail (msg);
      return;
    }

  validation = cdl_sim_prompt_validate (graph,
                                        (const char * const *) self->nodes_exclude);
  if (validation->error_type != NULL)
    {
      g_debug ("Prompt rejected: %s", validation->message);
      respond_prompt_error (msg, cdl_sim_validation_error_to_json (validation),
                            validation->node_errors);
      return;
    }

  if (member_string (obj, "prompt_id") != NULL)
    prompt_id = g_strdup (member_string (obj, "prompt_id"));
  else
    prompt_id = g_uuid_string_random ();

  member = json_object_get_member (obj, "extra_data");
  extra = member && JSON_NODE_HOLDS_OBJECT (member) ? json_node_copy (member)
                                                    : empty_object ();
  if (member_string (obj, "client_id") != NULL)
    json_object_set_string_member (json_node_get_object (extra), "client_id",
                                   member_string (obj, "client_id"));

  number = cdl_sim_queue_take_number (self->queue, member_is_true (obj, "front"));
  cdl_sim_queue_push (self->queue,
                      cdl_sim_queue_item_new (number, prompt_id, graph, extra,
                                              (const char * const *) validation->good_outputs));
  self->accepted++;
  self->last_accepted_us = g_get_monotonic_time ();
  if (!g_hash_table_add (self->accepted_ids, g_strdup (prompt_id)))
    self->duplicate_ids++;
  self->max_depth = MAX (self->max_depth,
                         (guint) (cdl_sim_queue_get_n_running (self->queue) +
                                  cdl_sim_queue_get_n_pending (self->queue)));

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "prompt_id");
  json_builder_add_string_value (b, prompt_id);
  json_builder_set_member_name (b, "number");
  json_builder_add_int_value (b, number);
  json_builder_set_member_name (b, "node_errors");
  json_builder_add_value (b, json_node_copy (validation->node_errors));
  json_builder_end_object (b);
  respond_json_builder (msg, SOUP_STATUS_OK, b);

  maybe_start_next (self);
}

static gboolean
read_max_items (SoupServerMessage *msg,
                const char        *name,
                gint64            *value)
{
  g_autofree char *text = query_param (msg, name);
  char *end = NULL;

  if (text == NULL)
    return TRUE;

  *value = g_ascii_strtoll (text, &end, 10);

  return end != text && *end == '\0';
}

static void
handle_history (CdlSimServer      *self,
                SoupServerMessage *msg,
                const char        *arg)
{
  g_autoptr(JsonNode) root = NULL;
  gint64 max_items = -1;
  gint64 offset = -1;

  /* int () of a bad value raises in ComfyUI. */
  if (!read_max_items (msg, "max_items", &max_items) ||
      !read_max_items (msg, "offset", &offset))
    {
      respond_fail (msg);
      return;
    }

  root = cdl_sim_history_to_json (self->history, max_items, offset);
  respond_json (msg, SOUP_STATUS_OK, root);
}

static void
handle_history_one (CdlSimServer      *self,
                    SoupServerMessage *msg,
                    const char        *arg)
{
  JsonNode *entry = cdl_sim_history_lookup (self->history, arg);
  JsonObject *obj = json_object_new ();
  g_autoptr(JsonNode) root = NULL;

  if (entry != NULL)
    json_object_set_member (obj, arg, json_node_copy (entry));
  root = json_node_init_object (json_node_alloc (), obj);
  json_object_unref (obj);

  respond_json (msg, SOUP_STATUS_OK, root);
}

/* POST /history and POST /queue: {"clear": true}, {"delete": [ids]}. */
static JsonObject *
clear_or_delete_body (SoupServerMessage *msg,
                      JsonNode         **holder)
{
  g_autoptr(GError) error = NULL;
  gboolean empty;

  *holder = parse_body (msg, &empty, &error);
  if (*holder == NULL || !JSON_NODE_HOLDS_OBJECT (*holder))
    {
      respond_fail (msg);
      return NULL;
    }

  return json_node_get_object (*holder);
}

static JsonArray *
delete_list (JsonObject *obj)
{
  JsonNode *list = json_object_get_member (obj, "delete");

  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    return NULL;

  return json_node_get_array (list);
}

static void
handle_history_post (CdlSimServer      *self,
                     SoupServerMessage *msg,
                     const char        *arg)
{
  g_autoptr(JsonNode) body = NULL;
  JsonObject *obj = clear_or_delete_body (msg, &body);
  JsonArray *ids;

  if (obj == NULL)
    return;

  if (member_is_true (obj, "clear"))
    cdl_sim_history_clear (self->history);

  if ((ids = delete_list (obj)) != NULL)
    {
      for (guint i = 0; i < json_array_get_length (ids); i++)
        {
          JsonNode *id = json_array_get_element (ids, i);

          if (json_node_get_value_type (id) == G_TYPE_STRING)
            cdl_sim_history_remove (self->history, json_node_get_string (id));
        }
    }

  respond_empty (msg, SOUP_STATUS_OK);
}

static void
handle_queue_post (CdlSimServer      *self,
                   SoupServerMessage *msg,
                   const char        *arg)
{
  g_autoptr(JsonNode) body = NULL;
  JsonObject *obj = clear_or_delete_body (msg, &body);
  JsonArray *ids;

  if (obj == NULL)
    return;

  if (member_is_true (obj, "clear"))
    cdl_sim_queue_clear_pending (self->queue);

  if ((ids = delete_list (obj)) != NULL)
    {
      for (guint i = 0; i < json_array_get_length (ids); i++)
        {
          JsonNode *id = json_array_get_element (ids, i);

          if (json_node_get_value_type (id) == G_TYPE_STRING)
            cdl_sim_queue_delete_pending (self->queue, json_node_get_string (id));
        }
    }

  respond_empty (msg, SOUP_STATUS_OK);
}

static void
handle_interrupt (CdlSimServer      *self,
                  SoupServerMessage *msg,
                  const char        *arg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body = NULL;
  gboolean empty;
  JsonObject *obj;

  body = parse_body (msg, &empty, &error);
  if (body == NULL && !empty)
    {
      respond_fail (msg);
      return;
    }

  self->interrupts++;
  obj = body && JSON_NODE_HOLDS_OBJECT (body) ? json_node_get_object (body) : NULL;
  interrupt_running (self, member_string (obj, "prompt_id"));

  respond_empty (msg, SOUP_STATUS_OK);
}

static void
handle_free (CdlSimServer      *self,
             SoupServerMessage *msg,
             const char        *arg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body = NULL;
  gboolean empty;
  JsonObject *obj;

  /* ComfyUI reads the body as JSON unconditionally: none is a 500. */
  body = parse_body (msg, &empty, &error);
  if (body == NULL || !JSON_NODE_HOLDS_OBJECT (body))
    {
      respond_fail (msg);
      return;
    }

  obj = json_node_get_object (body);
  self->frees++;
  self->last_unload_models = member_is_true (obj, "unload_models");
  self->last_free_memory = member_is_true (obj, "free_memory");

  respond_empty (msg, SOUP_STATUS_OK);
}

static const char *
image_content_type (const char *filename)
{
  g_autofree char *lower = g_ascii_strdown (filename, -1);

  if (g_str_has_suffix (lower, ".png"))
    return "image/png";
  if (g_str_has_suffix (lower, ".jpg") || g_str_has_suffix (lower, ".jpeg"))
    return "image/jpeg";
  if (g_str_has_suffix (lower, ".webp"))
    return "image/webp";

  return "application/octet-stream";
}

static gboolean
subfolder_escapes (const char *subfolder)
{
  g_auto(GStrv) parts = g_strsplit (subfolder, "/", -1);

  if (g_path_is_absolute (subfolder))
    return TRUE;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (g_str_equal (parts[i], ".."))
        return TRUE;
    }

  return FALSE;
}

static void
handle_view (CdlSimServer      *self,
             SoupServerMessage *msg,
             const char        *arg)
{
  g_autofree char *filename = query_param (msg, "filename");
  g_autofree char *subfolder = query_param (msg, "subfolder");
  g_autofree char *type = query_param (msg, "type");
  g_autofree char *path = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *last_modified = NULL;
  g_autofree char *disposition = NULL;
  g_autoptr(GDateTime) mtime = NULL;
  SoupMessageHeaders *headers;
  const char *if_none_match;
  const char *dir;
  GStatBuf st;
  char *data = NULL;
  gsize len;

  if (filename == NULL)
    {
      respond_empty (msg, SOUP_STATUS_NOT_FOUND);
      return;
    }

  if (filename[0] == '\0' || filename[0] == '/' || strstr (filename, "..") != NULL)
    {
      respond_empty (msg, SOUP_STATUS_BAD_REQUEST);
      return;
    }

  if (type == NULL || g_str_equal (type, "output"))
    dir = self->output_dir;
  else if (g_str_equal (type, "temp"))
    dir = self->temp_dir;
  else if (g_str_equal (type, "input"))
    dir = NULL;
  else
    {
      respond_empty (msg, SOUP_STATUS_BAD_REQUEST);
      return;
    }

  if (subfolder != NULL && subfolder_escapes (subfolder))
    {
      respond_empty (msg, SOUP_STATUS_FORBIDDEN);
      return;
    }

  if (dir != NULL)
    path = g_build_filename (dir, subfolder ? subfolder : "", filename, NULL);

  if (path == NULL || g_stat (path, &st) != 0 || !S_ISREG (st.st_mode) ||
      !g_file_get_contents (path, &data, &len, NULL))
    {
      respond_empty (msg, SOUP_STATUS_NOT_FOUND);
      return;
    }

  etag = g_strdup_printf ("\"%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x\"",
                          (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) +
                          st.st_mtim.tv_nsec, (gint64) st.st_size);
  mtime = g_date_time_new_from_unix_utc (st.st_mtim.tv_sec);
  last_modified = soup_date_time_to_string (mtime, SOUP_DATE_HTTP);
  disposition = g_strdup_printf ("filename=\"%s\"", filename);

  headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (headers, "Etag", etag);
  soup_message_headers_replace (headers, "Last-Modified", last_modified);

  if_none_match = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "If-None-Match");
  if (g_strcmp0 (if_none_match, etag) == 0)
    {
      g_free (data);
      respond_empty (msg, SOUP_STATUS_NOT_MODIFIED);
      return;
    }

  soup_message_headers_replace (headers, "Content-Disposition", disposition);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, image_content_type (filename),
                                    SOUP_MEMORY_TAKE, data, len);
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
  { "POST", "/prompt", FALSE, "POST /prompt", handle_prompt_post },
  { "GET", "/history", FALSE, "GET /history", handle_history },
  { "GET", "/history/", TRUE, "GET /history/{prompt_id}", handle_history_one },
  { "POST", "/history", FALSE, "POST /history", handle_history_post },
  { "POST", "/queue", FALSE, "POST /queue", handle_queue_post },
  { "GET", "/view", FALSE, "GET /view", handle_view },
  { "POST", "/interrupt", FALSE, "POST /interrupt", handle_interrupt },
  { "POST", "/free", FALSE, "POST /free", handle_free },
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

static void add_config (CdlSimServer *self,
                        JsonBuilder  *b);

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
  json_builder_set_member_name (b, "config");
  add_config (self, b);
  json_builder_set_member_name (b, "running_prompt");
  if (self->job != NULL)
    json_builder_add_string_value (b, self->job->item->prompt_id);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "accepted");
  json_builder_add_int_value (b, self->accepted);
  json_builder_set_member_name (b, "executed");
  json_builder_add_int_value (b, self->executed);
  json_builder_set_member_name (b, "duplicate_prompt_ids");
  json_builder_add_int_value (b, self->duplicate_ids);
  json_builder_set_member_name (b, "max_queue_depth");
  json_builder_add_int_value (b, self->max_depth);
  json_builder_set_member_name (b, "busy_ms");
  json_builder_add_int_value (b, self->busy_ms);
  json_builder_set_member_name (b, "history");
  json_builder_add_int_value (b, cdl_sim_history_get_length (self->history));
  json_builder_set_member_name (b, "interrupts");
  json_builder_add_int_value (b, self->interrupts);
  json_builder_set_member_name (b, "frees");
  json_builder_add_int_value (b, self->frees);
  json_builder_set_member_name (b, "last_free");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "unload_models");
  json_builder_add_boolean_value (b, self->last_unload_models);
  json_builder_set_member_name (b, "free_memory");
  json_builder_add_boolean_value (b, self->last_free_memory);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "output_dir");
  if (self->output_dir != NULL)
    json_builder_add_string_value (b, self->output_dir);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);

  respond_json_builder (msg, SOUP_STATUS_OK, b);
}

static void
add_config (CdlSimServer *self,
            JsonBuilder  *b)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ms_per_image");
  json_builder_add_int_value (b, self->ms_per_image);
  json_builder_set_member_name (b, "error_rate");
  json_builder_add_double_value (b, self->error_rate);
  json_builder_set_member_name (b, "partial_rate");
  json_builder_add_double_value (b, self->partial_rate);
  json_builder_set_member_name (b, "oom_pixels");
  json_builder_add_int_value (b, (gint64) MIN (self->oom_pixels, G_MAXINT64));
  json_builder_set_member_name (b, "crash_after");
  json_builder_add_int_value (b, self->crash_after);
  json_builder_set_member_name (b, "fault_seed");
  json_builder_add_int_value (b, (gint64) MIN (self->fault_seed, G_MAXINT64));
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, cdl_sim_fault_to_string (self->fault));
  json_builder_end_object (b);
}

static gboolean
read_rate (JsonObject  *obj,
           const char  *name,
           double      *rate,
           GError     **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  GType type;
  double value;

  if (node == NULL)
    return TRUE;

  type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node)
                                      : G_TYPE_INVALID;
  if (type == G_TYPE_INT64)
    value = (double) json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    value = json_node_get_double (node);
  else
    value = -1;

  if (!(value >= 0 && value <= 1))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "\"%s\" must be a number from 0 to 1", name);
      return FALSE;
    }

  *rate = value;

  return TRUE;
}

static gboolean
read_uint64 (JsonObject  *obj,
             const char  *name,
             guint64      max,
             gboolean    *present,
             guint64     *out,
             GError     **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  gint64 value;

  *present = node != NULL;
  if (node == NULL)
    return TRUE;

  if (json_node_get_value_type (node) != G_TYPE_INT64 ||
      (value = json_node_get_int (node)) < 0 || (guint64) value > max)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "\"%s\" must be an integer from 0 to %" G_GUINT64_FORMAT,
                   name, max);
      return FALSE;
    }

  *out = (guint64) value;

  return TRUE;
}

/* Reads every member first, so that a bad one changes nothing. */
static void
handle_sim_config (CdlSimServer      *self,
                   SoupServerMessage *msg,
                   const char        *arg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  JsonObject *obj;
  double error_rate = self->error_rate;
  double partial_rate = self->partial_rate;
  guint64 ms = 0, oom = 0, crash = 0, seed = 0;
  gboolean has_ms, has_oom, has_crash, has_seed;
  const char *mode = NULL;
  CdlSimFault fault = self->fault;

  if (!(body = read_body_object (msg, &error)))
    {
      respond_error (msg, SOUP_STATUS_BAD_REQUEST, error->message);
      return;
    }

  obj = json_node_get_object (body);
  if (json_object_has_member (obj, "mode"))
    {
      mode = member_string (obj, "mode");
      if (!cdl_sim_fault_from_string (mode, &fault))
        {
          respond_error (msg, SOUP_STATUS_BAD_REQUEST,
                         "\"mode\" must be \"none\", \"fail\", \"hang\" or "
                         "\"garbage\"");
          return;
        }
    }

  if (!read_rate (obj, "error_rate", &error_rate, &error) ||
      !read_rate (obj, "partial_rate", &partial_rate, &error) ||
      !read_uint64 (obj, "ms_per_image", 3600 * 1000, &has_ms, &ms, &error) ||
      !read_uint64 (obj, "oom_pixels", G_MAXINT64, &has_oom, &oom, &error) ||
      !read_uint64 (obj, "crash_after", G_MAXUINT, &has_crash, &crash, &error) ||
      !read_uint64 (obj, "fault_seed", G_MAXINT64, &has_seed, &seed, &error))
    {
      respond_error (msg, SOUP_STATUS_BAD_REQUEST, error->message);
      return;
    }

  self->error_rate = error_rate;
  self->partial_rate = partial_rate;
  if (has_ms)
    cdl_sim_server_set_ms_per_image (self, (guint) ms);
  if (has_oom)
    self->oom_pixels = oom;
  if (has_crash)
    self->crash_after = (guint) crash;
  if (has_seed)
    cdl_sim_server_set_fault_seed (self, seed);
  cdl_sim_server_set_fault (self, fault);

  add_config (self, b);
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
  drop_job (self);
  cdl_sim_queue_clear (self->queue);
  cdl_sim_history_clear (self->history);
  g_hash_table_remove_all (self->requests);
  self->total_requests = 0;
  self->accepted = 0;
  self->executed = 0;
  self->frees = 0;
  self->interrupts = 0;
  cdl_sim_server_set_fault_seed (self, self->fault_seed);

  respond_bytes (msg, SOUP_STATUS_OK, JSON_TYPE, g_strdup ("{}"));
}

static const Route control_routes[] = {
  { "GET", "/_sim/state", FALSE, NULL, handle_sim_state },
  { "POST", "/_sim/fault", FALSE, NULL, handle_sim_fault },
  { "POST", "/_sim/queue", FALSE, NULL, handle_sim_queue },
  { "POST", "/_sim/reset", FALSE, NULL, handle_sim_reset },
  { "POST", "/_sim/config", FALSE, NULL, handle_sim_config },
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
  drop_job (self);

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
  g_clear_pointer (&self->history, cdl_sim_history_free);
  g_clear_pointer (&self->accepted_ids, g_hash_table_unref);
  g_clear_pointer (&self->counters, g_hash_table_unref);
  g_clear_pointer (&self->fault_rand, g_rand_free);
  if (self->owns_output_dir && self->output_dir != NULL)
    remove_tree (self->output_dir);
  if (self->temp_dir != NULL)
    remove_tree (self->temp_dir);
  g_clear_pointer (&self->output_dir, g_free);
  g_clear_pointer (&self->temp_dir, g_free);
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
  self->history = cdl_sim_history_new ();
  self->accepted_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->counters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->ms_per_image = DEFAULT_MS_PER_IMAGE;
  self->fault_rand = g_rand_new_with_seed (0);
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

  drop_job (self);
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

void
cdl_sim_server_set_output_dir (CdlSimServer *self,
                               const char   *path)
{
  g_return_if_fail (CDL_IS_SIM_SERVER (self));

  if (self->owns_output_dir && self->output_dir != NULL)
    remove_tree (self->output_dir);
  g_clear_pointer (&self->output_dir, g_free);
  self->owns_output_dir = FALSE;
  g_hash_table_remove_all (self->counters);

  if (path != NULL)
    self->output_dir = g_canonicalize_filename (path, NULL);
}

const char *
cdl_sim_server_get_output_dir (CdlSimServer *self)
{
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (CDL_IS_SIM_SERVER (self), NULL);

  if (ensure_output_dir (self, &error) == NULL)
    g_warning ("Cannot make an output folder: %s", error->message);

  return self->output_dir;
}

void
cdl_sim_server_set_ms_per_image (CdlSimServer *self,
                                 guint         ms)
{
  g_return_if_fail (CDL_IS_SIM_SERVER (self));

  self->ms_per_image = ms;

  /* The image being drawn starts over at the new speed, so that a test
   * can hold a job with a long time and then let it go. */
  if (self->job != NULL && self->tick_id != 0)
    schedule_tick (self, ms);
}

void
cdl_sim_server_set_error_rate (CdlSimServer *self,
                               double        rate)
{
  g_return_if_fail (CDL_IS_SIM_SERVER (self));
  g_return_if_fail (rate >= 0 && rate <= 1);

  self->error_rate = rate;
}

void
cdl_sim_server_set_partial_rate (CdlSimServer *self,
                                 double        rate)
{
  g_return_if_fail (CDL_IS_SIM_SERVER (self));
  g_return_if_fail (rate >= 0 && rate <= 1);

  self->partial_rate = rate;
}

void
cdl_sim_server_set_oom_pixels (CdlSimServer *self,
                               guint64       pixels)
{
  g_return_if_fail (CDL_IS_SIM_SERVER (self));

  self->oom_pixels = pixels;
}

void
cdl_sim_server_set_crash_after (CdlSimServer *self,
                                guint         prompts)
{
  g_return_if_fail (CDL_IS_SIM_SERVER (self));

  self->crash_after = prompts;
}

void
cdl_sim_server_set_fault_seed (CdlSimServer *self,
                               guint64       seed)
{
  g_return_if_fail (CDL_IS_SIM_SERVER (self));

  self->fault_seed = seed;
  g_rand_set_seed_array (self->fault_rand, (const guint32[]) {
                           (guint32) seed, (guint32) (seed >> 32) }, 2);
}

guint
cdl_sim_server_get_history_length (CdlSimServer *self)
{
  g_return_val_if_fail (CDL_IS_SIM_SERVER (self), 0);

  return cdl_sim_history_get_length (self->history);
}
