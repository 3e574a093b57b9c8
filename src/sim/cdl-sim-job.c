/* cdl-sim-job.c: what running a graph means to the simulated worker
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-sim"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cdl-sim-image.h"
#include "cdl-sim-job.h"

void
cdl_sim_output_plan_free (CdlSimOutputPlan *plan)
{
  if (plan == NULL)
    return;

  g_free (plan->node_id);
  g_free (plan->class_type);
  g_free (plan->subfolder);
  g_free (plan->prefix);
  g_free (plan->sampler_id);
  g_free (plan->sampler_type);
  g_free (plan);
}

static JsonObject *
graph_node (JsonObject *graph,
            const char *id)
{
  JsonNode *node = json_object_get_member (graph, id);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  return json_node_get_object (node);
}

static const char *
class_of (JsonObject *node)
{
  JsonNode *ct = json_object_get_member (node, "class_type");

  if (ct == NULL || json_node_get_value_type (ct) != G_TYPE_STRING)
    return "";

  return json_node_get_string (ct);
}

static JsonObject *
inputs_of (JsonObject *node)
{
  JsonNode *inputs = json_object_get_member (node, "inputs");

  if (inputs == NULL || !JSON_NODE_HOLDS_OBJECT (inputs))
    return NULL;

  return json_node_get_object (inputs);
}

static gboolean
is_link (JsonNode *value)
{
  JsonArray *array;

  if (!JSON_NODE_HOLDS_ARRAY (value))
    return FALSE;

  array = json_node_get_array (value);

  return json_array_get_length (array) == 2 &&
         json_node_get_value_type (json_array_get_element (array, 0)) == G_TYPE_STRING;
}

/* A number input as the node would read it; FALSE when absent. */
static gboolean
read_number (JsonObject *inputs,
             const char *name,
             guint64    *out)
{
  JsonNode *value = inputs ? json_object_get_member (inputs, name) : NULL;
  GType type;

  if (value == NULL || !JSON_NODE_HOLDS_VALUE (value))
    return FALSE;

  type = json_node_get_value_type (value);
  if (type == G_TYPE_INT64)
    *out = (guint64) json_node_get_int (value);
  else if (type == G_TYPE_DOUBLE)
    *out = (guint64) json_node_get_double (value);
  else if (type == G_TYPE_STRING)
    *out = g_ascii_strtoull (json_node_get_string (value), NULL, 10);
  else
    return FALSE;

  return TRUE;
}

static const char *
read_string (JsonObject *inputs,
             const char *name)
{
  JsonNode *value = inputs ? json_object_get_member (inputs, name) : NULL;

  if (value == NULL || json_node_get_value_type (value) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (value);
}

static gboolean
is_sampler (const char *class_type)
{
  return g_str_has_prefix (class_type, "KSampler") ||
         g_str_has_prefix (class_type, "SamplerCustom");
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
split_prefix (CdlSimOutputPlan *plan,
              const char       *filename_prefix)
{
  const char *slash = strrchr (filename_prefix, '/');
  g_auto(GStrv) parts = NULL;

  if (slash == NULL)
    {
      plan->subfolder = g_strdup ("");
      plan->prefix = g_strdup (filename_prefix);
    }
  else
    {
      plan->subfolder = g_strndup (filename_prefix, slash - filename_prefix);
      plan->prefix = g_strdup (slash + 1);
    }

  parts = g_strsplit (plan->subfolder, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (g_str_equal (parts[i], ".."))
        plan->bad_path = TRUE;
    }
  if (plan->subfolder[0] == '/' || strchr (plan->prefix, '\\') != NULL)
    plan->bad_path = TRUE;
}

static CdlSimOutputPlan *
plan_output (JsonObject *graph,
             const char *output_id)
{
  CdlSimOutputPlan *plan = g_new0 (CdlSimOutputPlan, 1);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) texts = g_ptr_array_new ();
  g_autoptr(GString) joined = g_string_new (NULL);
  GQueue todo = G_QUEUE_INIT;
  JsonObject *out = graph_node (graph, output_id);
  const char *prefix;
  gboolean have_width = FALSE;
  gboolean have_height = FALSE;
  gboolean have_batch = FALSE;
  gboolean have_seed = FALSE;
  gboolean have_rule = FALSE;

  plan->node_id = g_strdup (output_id);
  plan->class_type = g_strdup (out ? class_of (out) : "");
  plan->temp = g_str_equal (plan->class_type, "PreviewImage");
  plan->width = 512;
  plan->height = 512;
  plan->batch = 1;
  plan->rule = CDL_SIM_SEEDS_PER_INDEX;

  prefix = plan->temp ? NULL : read_string (out ? inputs_of (out) : NULL,
                                           "filename_prefix");
  split_prefix (plan, prefix ? prefix : "ComfyUI");

  /* Breadth first up the links: the nearest latent, seed and behaviour
   * node win. */
  g_queue_push_tail (&todo, (gpointer) output_id);
  g_hash_table_add (seen, (gpointer) output_id);

  while (!g_queue_is_empty (&todo))
    {
      const char *id = g_queue_pop_head (&todo);
      JsonObject *node = graph_node (graph, id);
      JsonObject *inputs = node ? inputs_of (node) : NULL;
      const char *class_type = node ? class_of (node) : "";
      g_autoptr(GList) names = NULL;
      guint64 number;

      if (inputs == NULL)
        continue;

      /* A resize nearer the output decides the size (0 keeps a side). */
      if (g_str_equal (class_type, "LatentUpscale") ||
          g_str_equal (class_type, "ImageScale") ||
          (g_str_has_prefix (class_type, "Empty") &&
           g_str_has_suffix (class_type, "LatentImage")))
        {
          if (!have_width && read_number (inputs, "width", &number) && number > 0)
            {
              plan->width = (guint) MIN (number, G_MAXUINT);
              have_width = TRUE;
            }
          if (!have_height && read_number (inputs, "height", &number) && number > 0)
            {
              plan->height = (guint) MIN (number, G_MAXUINT);
              have_height = TRUE;
            }
        }

      if (!have_batch && read_number (inputs, "batch_size", &number))
        {
          plan->batch = (guint) CLAMP (number, 1, G_MAXUINT);
          have_batch = TRUE;
        }

      if (!have_seed && (read_number (inputs, "seed", &number) ||
                         read_number (inputs, "noise_seed", &number)))
        {
          plan->seed = number;
          have_seed = TRUE;
        }

      if (plan->sampler_id == NULL && is_sampler (class_type))
        {
          plan->sampler_id = g_strdup (id);
          plan->sampler_type = g_strdup (class_type);
        }

      if (!have_rule && g_str_equal (class_type, "LatentBatchSeedBehavior"))
        {
          const char *behavior = read_string (inputs, "seed_behavior");

          plan->rule = g_strcmp0 (behavior, "random") == 0
                       ? CDL_SIM_SEEDS_RANDOM : CDL_SIM_SEEDS_FIXED;
          have_rule = TRUE;
        }

      if (g_str_equal (class_type, "CLIPTextEncode") &&
          read_string (inputs, "text") != NULL)
        g_ptr_array_add (texts, (gpointer) read_string (inputs, "text"));

      names = json_object_get_members (inputs);
      for (GList *l = names; l != NULL; l = l->next)
        {
          JsonNode *value = json_object_get_member (inputs, l->data);
          const char *from;

          if (!is_link (value))
            continue;

          from = json_array_get_string_element (json_node_get_array (value), 0);
          if (!g_hash_table_contains (seen, from))
            {
              g_hash_table_add (seen, (gpointer) from);
              g_queue_push_tail (&todo, (gpointer) from);
            }
        }
    }

  /* Sorted, so that the order of the graph's members does not matter. */
  g_ptr_array_sort (texts, compare_strings);
  for (guint i = 0; i < texts->len; i++)
    g_string_append_printf (joined, "%s\n", (char *) g_ptr_array_index (texts, i));
  plan->text_hash = cdl_sim_text_hash (joined->str);

  return plan;
}

GPtrArray *
cdl_sim_job_plan (JsonNode           *graph,
                  const char * const *outputs)
{
  GPtrArray *plans;

  g_return_val_if_fail (graph != NULL && JSON_NODE_HOLDS_OBJECT (graph), NULL);

  plans = g_ptr_array_new_with_free_func ((GDestroyNotify) cdl_sim_output_plan_free);
  for (guint i = 0; outputs != NULL && outputs[i] != NULL; i++)
    g_ptr_array_add (plans, plan_output (json_node_get_object (graph),
                                         outputs[i]));

  return plans;
}

guint64
cdl_sim_output_plan_image_seed (const CdlSimOutputPlan *plan,
                                guint                   index,
                                guint                  *draw_index)
{
  g_return_val_if_fail (plan != NULL, 0);

  switch (plan->rule)
    {
    case CDL_SIM_SEEDS_RANDOM:
      *draw_index = 0;
      return plan->seed + index;

    case CDL_SIM_SEEDS_FIXED:
      *draw_index = 0;
      return plan->seed;

    case CDL_SIM_SEEDS_PER_INDEX:
    default:
      *draw_index = index;
      return plan->seed;
    }
}

GBytes *
cdl_sim_output_plan_render (const CdlSimOutputPlan *plan,
                            guint                   index,
                            const char * const     *text_keys,
                            const char * const     *text_values,
                            GError                **error)
{
  g_autofree guint8 *rgb = NULL;
  guint width;
  guint height;
  guint draw_index;
  guint64 seed;

  g_return_val_if_fail (plan != NULL, NULL);

  width = CLAMP (plan->width, 1, CDL_SIM_IMAGE_MAX_SIDE);
  height = CLAMP (plan->height, 1, CDL_SIM_IMAGE_MAX_SIDE);
  seed = cdl_sim_output_plan_image_seed (plan, index, &draw_index);

  rgb = cdl_sim_image_render (seed, draw_index, plan->text_hash, width, height);

  return cdl_sim_png_encode (rgb, width, height, text_keys, text_values, error);
}

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  const char *x = *(const char * const *) a;
  const char *y = *(const char * const *) b;
  gint64 xn = g_ascii_strtoll (x, NULL, 10);
  gint64 yn = g_ascii_strtoll (y, NULL, 10);

  if (xn != yn)
    return xn < yn ? -1 : 1;

  return strcmp (x, y);
}

/* ComfyUI shows a tensor input by its repr (); ours is a stand-in. */
static JsonNode *
current_input (JsonNode *value)
{
  JsonArray *list = json_array_new ();
  JsonNode *node;

  if (is_link (value))
    json_array_add_string_element (list, "[[tensor(...)]]");
  else
    json_array_add_element (list, json_node_copy (value));

  node = json_node_init_array (json_node_alloc (), list);
  json_array_unref (list);

  return node;
}

JsonNode *
cdl_sim_job_error_event (JsonNode               *graph,
                         const char             *prompt_id,
                         const CdlSimOutputPlan *plan,
                         const char             *exception_type,
                         const char             *message)
{
  JsonObject *graph_obj = json_node_get_object (graph);
  const char *node_id = plan->sampler_id ? plan->sampler_id : plan->node_id;
  const char *node_type = plan->sampler_id ? plan->sampler_type : plan->class_type;
  JsonObject *failed = graph_node (graph_obj, node_id);
  JsonObject *inputs = failed ? inputs_of (failed) : NULL;
  g_autoptr(GList) ids = json_object_get_members (graph_obj);
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  JsonObject *e = json_object_new ();
  JsonArray *executed = json_array_new ();
  JsonArray *traceback = json_array_new ();
  JsonObject *current = json_object_new ();
  JsonArray *outputs = json_array_new ();
  JsonNode *root;

  for (GList *l = ids; l != NULL; l = l->next)
    g_ptr_array_add (sorted, l->data);
  g_ptr_array_sort (sorted, compare_ids);

  /* Loaders, encoders and latents ran before the sampler failed. */
  for (guint i = 0; i < sorted->len; i++)
    {
      const char *id = g_ptr_array_index (sorted, i);
      JsonObject *node = graph_node (graph_obj, id);
      const char *ct = node ? class_of (node) : "";

      json_array_add_string_element (outputs, id);
      if (!g_str_equal (id, node_id) && !is_sampler (ct) &&
          !g_str_equal (ct, "VAEDecode") && !g_str_equal (ct, "SaveImage") &&
          !g_str_equal (ct, "PreviewImage"))
        json_array_add_string_element (executed, id);
    }

  json_array_add_string_element (traceback,
                                 "  File \"execution.py\", line 496, in execute\n"
                                 "    output_data, output_ui, has_subgraph = "
                                 "await get_output_data(...)\n");
  json_array_add_string_element (traceback,
                                 "  File \"nodes.py\", line 1525, in sample\n"
                                 "    return common_ksampler(...)\n");

  if (inputs != NULL)
    {
      g_autoptr(GList) names = json_object_get_members (inputs);

      for (GList *l = names; l != NULL; l = l->next)
        json_object_set_member (current, l->data,
                                current_input (json_object_get_member (inputs,
                                                                       l->data)));
    }

  json_object_set_string_member (e, "prompt_id", prompt_id);
  json_object_set_string_member (e, "node_id", node_id);
  json_object_set_string_member (e, "node_type", node_type);
  json_object_set_array_member (e, "executed", executed);
  json_object_set_string_member (e, "exception_message", message);
  json_object_set_string_member (e, "exception_type", exception_type);
  json_object_set_array_member (e, "traceback", traceback);
  json_object_set_object_member (e, "current_inputs", current);
  json_object_set_array_member (e, "current_outputs", outputs);
  json_object_set_int_member (e, "timestamp", g_get_real_time () / 1000);

  root = json_node_init_object (json_node_alloc (), e);
  json_object_unref (e);

  return root;
}
