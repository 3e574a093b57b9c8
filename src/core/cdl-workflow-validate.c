/* cdl-workflow-validate.c: checks and inspects an uploaded workflow
 *
 * Input is untrusted: any byte string, any JSON shape. Nothing here
 * recurses on the input's structure (the graph walks use explicit work
 * lists), and the nesting depth is checked before json-glib parses it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-core"

#include "config.h"

#include <math.h>
#include <string.h>

#include "core/cdl-workflow.h"

#define MAX_NESTING    256
#define LIST_IN_MESSAGE 8

/* Samplers whose names do not follow the patterns in
 * cdl_workflow_is_sampler(). */
static const char * const known_samplers[] = {
  "KSampler",
  "KSamplerAdvanced",
  "SamplerCustom",
  "SamplerCustomAdvanced",
  NULL
};

/* Nodes that write their images to ComfyUI's output folder. */
static const char * const known_output_nodes[] = {
  "SaveImage",
  "SaveAnimatedWEBP",
  "SaveAnimatedPNG",
  "SaveWEBM",
  "SaveVideo",
  "Image Save",
  "SaveImageExtended",
  NULL
};

/* ComfyUI's partner nodes (comfy_api_nodes), which call paid services
 * with an account key. Used when /object_info is not at hand to say so. */
static const char * const known_api_nodes[] = {
  "OpenAIDalle2",
  "OpenAIDalle3",
  "OpenAIGPTImage1",
  "OpenAIChatNode",
  "OpenAIVideoSora2",
  "IdeogramV1",
  "IdeogramV2",
  "IdeogramV3",
  "FluxProImageNode",
  "FluxProUltraImageNode",
  "FluxProExpandNode",
  "FluxProFillNode",
  "FluxProCannyNode",
  "FluxProDepthNode",
  "FluxKontextProImageNode",
  "FluxKontextMaxImageNode",
  "LumaImageNode",
  "LumaImageModifyNode",
  "LumaVideoNode",
  "LumaImageToVideoNode",
  "RecraftTextToImageNode",
  "RecraftImageToImageNode",
  "RecraftTextToVectorNode",
  "StabilityStableImageUltraNode",
  "StabilityStableImageSD_3_5Node",
  "StabilityUpscaleConservativeNode",
  "StabilityUpscaleCreativeNode",
  "StabilityUpscaleFastNode",
  "KlingTextToVideoNode",
  "KlingImage2VideoNode",
  "KlingImageGenerationNode",
  "MinimaxTextToVideoNode",
  "MinimaxImageToVideoNode",
  "PixverseTextToVideoNode",
  "PixverseImageToVideoNode",
  "PikaTextToVideoNode2_2",
  "PikaImageToVideoNode2_2",
  "RunwayTextToImageNode",
  "RunwayImageToVideoNodeGen3a",
  "RunwayImageToVideoNodeGen4",
  "VeoVideoGenerationNode",
  "Veo3VideoGenerationNode",
  "GeminiNode",
  "GeminiImageNode",
  "MoonvalleyTxt2VideoNode",
  "ByteDanceImageNode",
  "ByteDanceSeedreamNode",
  "ViduTextToVideoNode",
  "TripoTextToModelNode",
  "Rodin3D_Regular",
  NULL
};

/* Inputs that hold the prompt text of a text encoder, by preference. */
static const char * const text_inputs[] = {
  "text", "text_g", "t5xxl", "prompt", NULL
};

gboolean
cdl_workflow_is_sampler (const char *class_type)
{
  if (class_type == NULL)
    return FALSE;

  if (g_strv_contains (known_samplers, class_type))
    return TRUE;

  /* Custom variants ("KSampler (Efficient)", "SamplerCustomAdvanced…"),
   * but not the selector nodes that only name a sampler. */
  if (strstr (class_type, "Select") != NULL)
    return FALSE;

  return g_str_has_prefix (class_type, "KSampler")
         || g_str_has_prefix (class_type, "SamplerCustom");
}

gboolean
cdl_workflow_is_output_node (const char *class_type)
{
  return class_type != NULL && g_strv_contains (known_output_nodes, class_type);
}

gboolean
cdl_workflow_is_known_api_node (const char *class_type)
{
  return class_type != NULL && g_strv_contains (known_api_nodes, class_type);
}

void
cdl_workflow_report_free (CdlWorkflowReport *report)
{
  if (report == NULL)
    return;

  g_clear_pointer (&report->problems, g_ptr_array_unref);
  g_clear_pointer (&report->definition, json_node_unref);
  g_clear_pointer (&report->prompt_nodes, g_ptr_array_unref);
  g_clear_pointer (&report->seed_nodes, g_ptr_array_unref);
  g_clear_pointer (&report->model, g_free);
  g_clear_pointer (&report->node_types, g_strfreev);
  g_clear_pointer (&report->forbidden_nodes, g_strfreev);
  g_clear_pointer (&report->runnable_worker_ids, g_strfreev);
  g_free (report);
}

gboolean
cdl_workflow_report_has (const CdlWorkflowReport *report,
                         const char              *code)
{
  g_return_val_if_fail (report != NULL, FALSE);

  for (guint i = 0; i < report->problems->len; i++)
    {
      CdlWorkflowProblem *problem = g_ptr_array_index (report->problems, i);

      if (g_strcmp0 (problem->code, code) == 0)
        return TRUE;
    }

  return FALSE;
}

/* One node of the graph; the strings and objects belong to the parsed
 * definition, which outlives the walk. */
typedef struct
{
  const char *id;
  const char *class_type;
  JsonObject *inputs;
  guint       index;      /* graph order */
  GArray     *upstream;   /* guint indices of the nodes it links from */
} Node;

typedef struct
{
  CdlWorkflowReport *report;
  const CdlSettings *settings;
  JsonObject        *object_info;
  GPtrArray         *nodes;    /* Node */
  GHashTable        *by_id;    /* id → Node */
} Walk;

static void
node_free (Node *node)
{
  g_array_unref (node->upstream);
  g_free (node);
}

static void
add_problem (Walk       *walk,
             const Node *node,
             const char *code,
             const char *format,
             ...) G_GNUC_PRINTF (4, 5);

static void
add_problem (Walk       *walk,
             const Node *node,
             const char *code,
             const char *format,
             ...)
{
  CdlWorkflowProblem *problem = g_new0 (CdlWorkflowProblem, 1);
  va_list args;

  problem->node_id = node != NULL ? g_strdup (node->id) : NULL;
  problem->class_type = node != NULL ? g_strdup (node->class_type) : NULL;
  problem->code = g_strdup (code);

  va_start (args, format);
  problem->message = g_strdup_vprintf (format, args);
  va_end (args);

  g_ptr_array_add (walk->report->problems, problem);
}

/* Reads a whole number that fits an int from a literal input. Numbers
 * beyond int64 come out of json-glib wrapped (a seed maximum reads as -1),
 * so callers treat these values as sizes only, never as seeds. */
static gboolean
literal_int (JsonNode *value,
             gint64   *out)
{
  if (value == NULL || !JSON_NODE_HOLDS_VALUE (value))
    return FALSE;

  switch (json_node_get_value_type (value))
    {
    case G_TYPE_INT64:
      *out = json_node_get_int (value);
      return TRUE;

    case G_TYPE_DOUBLE:
      {
        double d = json_node_get_double (value);

        if (!isfinite (d) || d != floor (d) || d < -1e15 || d > 1e15)
          return FALSE;
        *out = (gint64) d;
        return TRUE;
      }

    default:
      return FALSE;
    }
}

static const char *
literal_string (JsonObject *inputs,
                const char *name)
{
  JsonNode *value = json_object_get_member (inputs, name);

  if (value == NULL || !JSON_NODE_HOLDS_VALUE (value)
      || json_node_get_value_type (value) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (value);
}

/* ComfyUI's link shape: [node_id (string), output_index (integer)]. */
static gboolean
as_link (JsonNode    *value,
         const char **from_id,
         gint64      *output)
{
  JsonArray *array;
  JsonNode *id;
  JsonNode *index;

  if (value == NULL || !JSON_NODE_HOLDS_ARRAY (value))
    return FALSE;

  array = json_node_get_array (value);
  if (json_array_get_length (array) != 2)
    return FALSE;

  id = json_array_get_element (array, 0);
  index = json_array_get_element (array, 1);

  if (!JSON_NODE_HOLDS_VALUE (id) || json_node_get_value_type (id) != G_TYPE_STRING)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (index)
      || json_node_get_value_type (index) != G_TYPE_INT64)
    return FALSE;

  *from_id = json_node_get_string (id);
  *output = json_node_get_int (index);

  return TRUE;
}

/* The node an input links to, or NULL. */
static Node *
linked_node (Walk       *walk,
             JsonObject *inputs,
             const char *name,
             gint64     *output)
{
  const char *from_id;
  gint64 index;

  if (!as_link (json_object_get_member (inputs, name), &from_id, &index))
    return NULL;

  if (output != NULL)
    *output = index;

  return g_hash_table_lookup (walk->by_id, from_id);
}

static JsonObject *
class_info (Walk       *walk,
            const char *class_type)
{
  JsonNode *info;

  if (walk->object_info == NULL)
    return NULL;

  info = json_object_get_member (walk->object_info, class_type);
  if (info == NULL || !JSON_NODE_HOLDS_OBJECT (info))
    return NULL;

  return json_node_get_object (info);
}

/* Nesting deeper than MAX_NESTING is refused before parsing, so that no
 * parser recursion can exhaust the stack on a hostile file. */
static gboolean
nesting_ok (const char *text,
            gsize       length)
{
  gboolean in_string = FALSE;
  int depth = 0;

  for (gsize i = 0; i < length; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }

      if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > MAX_NESTING)
            return FALSE;
        }
      else if (c == ']' || c == '}')
        depth--;
    }

  return TRUE;
}

static const char *
member_string (JsonObject *obj,
               const char *name)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

/* g_ptr_array_sort passes pointers to the elements. */
static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static char *
join_limited (GPtrArray *names)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < names->len && i < LIST_IN_MESSAGE; i++)
    {
      if (i > 0)
        g_string_append (out, ", ");
      g_string_append (out, g_ptr_array_index (names, i));
    }

  if (names->len > LIST_IN_MESSAGE)
    g_string_append_printf (out, " and %u more", names->len - LIST_IN_MESSAGE);

  return g_string_free (out, FALSE);
}

/* Steps ------------------------------------------------------------------- */

static gboolean
collect_nodes (Walk       *walk,
               JsonObject *root)
{
  g_autoptr(GList) members = json_object_get_members (root);
  guint n_bad = 0;

  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *id = l->data;
      JsonNode *value = json_object_get_member (root, id);
      JsonObject *obj;
      JsonNode *inputs;
      const char *class_type;
      Node *node;

      if (value == NULL || !JSON_NODE_HOLDS_OBJECT (value))
        {
          n_bad++;
          continue;
        }

      obj = json_node_get_object (value);
      class_type = member_string (obj, "class_type");
      inputs = json_object_get_member (obj, "inputs");

      if (class_type == NULL || *class_type == '\0')
        {
          n_bad++;
          continue;
        }

      node = g_new0 (Node, 1);
      node->id = id;
      node->class_type = class_type;
      node->index = walk->nodes->len;
      node->upstream = g_array_new (FALSE, FALSE, sizeof (guint));
      if (inputs != NULL && JSON_NODE_HOLDS_OBJECT (inputs))
        node->inputs = json_node_get_object (inputs);
      g_ptr_array_add (walk->nodes, node);
      g_hash_table_insert (walk->by_id, (gpointer) id, node);
    }

  if (walk->nodes->len == 0)
    return FALSE;

  /* Report malformed members now that we know it is a graph. */
  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *id = l->data;
      Node *node = g_hash_table_lookup (walk->by_id, id);
      CdlWorkflowProblem *problem;

      if (node != NULL && node->inputs != NULL)
        continue;

      problem = g_new0 (CdlWorkflowProblem, 1);
      problem->node_id = g_strdup (id);
      problem->class_type = node != NULL ? g_strdup (node->class_type) : NULL;
      problem->code = g_strdup (CDL_WORKFLOW_BAD_NODE);
      problem->message = node != NULL
        ? g_strdup_printf ("Node %s (%s) has no \"inputs\" object; "
                           "export the workflow again with Save (API)",
                           id, node->class_type)
        : g_strdup_printf ("Node %s is not a node: an API-format node is an "
                           "object with \"class_type\" and \"inputs\"", id);
      g_ptr_array_add (walk->report->problems, problem);
    }

  return TRUE;
}

static void
check_links (Walk *walk)
{
  for (guint i = 0; i < walk->nodes->len; i++)
    {
      Node *node = g_ptr_array_index (walk->nodes, i);
      g_autoptr(GList) names = NULL;

      if (node->inputs == NULL)
        continue;

      names = json_object_get_members (node->inputs);
      for (const GList *l = names; l != NULL; l = l->next)
        {
          const char *input = l->data;
          const char *from_id;
          gint64 output;
          Node *from;
          JsonObject *info;
          JsonNode *outputs;

          if (!as_link (json_object_get_member (node->inputs, input),
                        &from_id, &output))
            continue;

          from = g_hash_table_lookup (walk->by_id, from_id);
          if (from == NULL)
            {
              add_problem (walk, node, CDL_WORKFLOW_DANGLING_LINK,
                           "Input \"%s\" of node %s (%s) links to node %s, "
                           "which is not in the workflow; reconnect it in "
                           "ComfyUI and export again",
                           input, node->id, node->class_type, from_id);
              continue;
            }

          g_array_append_val (node->upstream, from->index);

          info = class_info (walk, from->class_type);
          outputs = info != NULL ? json_object_get_member (info, "output") : NULL;
          if (output < 0
              || (outputs != NULL && JSON_NODE_HOLDS_ARRAY (outputs)
                  && output >= json_array_get_length (json_node_get_array (outputs))))
            add_problem (walk, node, CDL_WORKFLOW_MISSING_OUTPUT,
                         "Input \"%s\" of node %s (%s) uses output %" G_GINT64_FORMAT
                         " of node %s (%s), which has no such output",
                         input, node->id, node->class_type, output,
                         from->id, from->class_type);
        }
    }
}

/* Peels off nodes with no upstream nodes left, then nodes with no
 * downstream nodes left; what remains lies on a loop. */
static void
check_cycles (Walk *walk)
{
  guint n = walk->nodes->len;
  g_autofree guint *in_count = g_new0 (guint, n);
  g_autofree guint *out_count = g_new0 (guint, n);
  g_autofree gboolean *removed = g_new0 (gboolean, n);
  g_autoptr(GPtrArray) downstream = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  g_autoptr(GArray) queue = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  Node *first = NULL;

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (downstream, g_array_new (FALSE, FALSE, sizeof (guint)));

  for (guint i = 0; i < n; i++)
    {
      Node *node = g_ptr_array_index (walk->nodes, i);

      for (guint j = 0; j < node->upstream->len; j++)
        {
          guint from = g_array_index (node->upstream, guint, j);

          in_count[i]++;
          out_count[from]++;
          g_array_append_val (g_ptr_array_index (downstream, from), i);
        }
    }

  /* Forwards. */
  for (guint i = 0; i < n; i++)
    if (in_count[i] == 0)
      g_array_append_val (queue, i);

  for (guint q = 0; q < queue->len; q++)
    {
      guint i = g_array_index (queue, guint, q);
      GArray *next = g_ptr_array_index (downstream, i);

      removed[i] = TRUE;
      for (guint j = 0; j < next->len; j++)
        {
          guint k = g_array_index (next, guint, j);

          if (--in_count[k] == 0)
            g_array_append_val (queue, k);
        }
    }

  if (queue->len == n)
    return;

  /* Backwards, over what is left. */
  g_array_set_size (queue, 0);
  for (guint i = 0; i < n; i++)
    {
      GArray *next = g_ptr_array_index (downstream, i);

      if (removed[i])
        continue;

      out_count[i] = 0;
      for (guint j = 0; j < next->len; j++)
        if (!removed[g_array_index (next, guint, j)])
          out_count[i]++;
      if (out_count[i] == 0)
        g_array_append_val (queue, i);
    }

  for (guint q = 0; q < queue->len; q++)
    {
      guint i = g_array_index (queue, guint, q);
      Node *node = g_ptr_array_index (walk->nodes, i);

      removed[i] = TRUE;
      for (guint j = 0; j < node->upstream->len; j++)
        {
          guint k = g_array_index (node->upstream, guint, j);

          if (!removed[k] && --out_count[k] == 0)
            g_array_append_val (queue, k);
        }
    }

  for (guint i = 0; i < n; i++)
    {
      Node *node = g_ptr_array_index (walk->nodes, i);

      if (removed[i])
        continue;
      if (first == NULL)
        first = node;
      g_ptr_array_add (names, (gpointer) node->id);
    }

  if (first != NULL)
    {
      g_autofree char *list = join_limited (names);

      add_problem (walk, first, CDL_WORKFLOW_CYCLE,
                   "Nodes %s feed each other in a loop; ComfyUI cannot run "
                   "a graph with a cycle, so break the loop and export again",
                   list);
    }
}

static void
check_node_types (Walk       *walk,
                  GHashTable *worker_node_types)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) types = g_ptr_array_new ();
  g_autoptr(GPtrArray) forbidden = g_ptr_array_new ();
  gboolean have_saver = FALSE;
  gboolean have_preview = FALSE;
  gboolean have_sampler = FALSE;

  for (guint i = 0; i < walk->nodes->len; i++)
    {
      Node *node = g_ptr_array_index (walk->nodes, i);
      JsonObject *info = class_info (walk, node->class_type);
      gboolean api_node = FALSE;

      if (!g_hash_table_contains (seen, node->class_type))
        {
          g_hash_table_add (seen, (gpointer) node->class_type);
          g_ptr_array_add (types, (gpointer) node->class_type);
        }

      if (cdl_workflow_is_sampler (node->class_type))
        have_sampler = TRUE;
      if (cdl_workflow_is_output_node (node->class_type))
        have_saver = TRUE;
      if (g_str_has_prefix (node->class_type, "PreviewImage"))
        have_preview = TRUE;

      if (info != NULL)
        {
          JsonNode *flag = json_object_get_member (info, "api_node");
          const char *module = member_string (info, "python_module");

          api_node = (flag != NULL && JSON_NODE_HOLDS_VALUE (flag)
                      && json_node_get_value_type (flag) == G_TYPE_BOOLEAN
                      && json_node_get_boolean (flag))
                     || (module != NULL
                         && g_str_has_prefix (module, "comfy_api_nodes"));
        }
      else
        {
          api_node = cdl_workflow_is_known_api_node (node->class_type);
        }

      if (cdl_settings_forbids_node (walk->settings, node->class_type))
        {
          gboolean by_list = walk->settings->forbidden_node_types != NULL
            && g_strv_contains ((const char * const *) walk->settings->forbidden_node_types,
                                node->class_type);

          add_problem (walk, node, CDL_WORKFLOW_FORBIDDEN_NODE,
                       by_list
                         ? "Node %s uses %s, which an admin has forbidden; "
                           "remove it or ask an admin to allow it"
                         : "Node %s uses %s, but ControlNet nodes are turned "
                           "off in the admin settings; remove it or ask an "
                           "admin to allow ControlNet",
                       node->id, node->class_type);
          g_ptr_array_add (forbidden, (gpointer) node->id);
        }
      else if (api_node)
        {
          add_problem (walk, node, CDL_WORKFLOW_API_NODE,
                       "Node %s uses %s, a partner API node that calls a paid "
                       "service with an account key; such nodes cannot run "
                       "on the GPU workers, so replace it with a local model",
                       node->id, node->class_type);
          g_ptr_array_add (forbidden, (gpointer) node->id);
        }
    }

  if (!have_sampler)
    add_problem (walk, NULL, CDL_WORKFLOW_NO_SAMPLER,
                 "The workflow has no sampler node (KSampler, "
                 "KSamplerAdvanced, SamplerCustom or SamplerCustomAdvanced), "
                 "so it would not generate images from seeds");

  if (!have_saver)
    add_problem (walk, NULL, CDL_WORKFLOW_NO_OUTPUT_NODE,
                 have_preview
                   ? "The workflow only previews its images (PreviewImage "
                     "keeps them in a temporary folder); add a SaveImage node "
                     "so that results are kept"
                   : "The workflow has no SaveImage node, so it would not "
                     "save any image; add one after the VAE decode");

  g_ptr_array_sort (types, compare_strings);
  {
    g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

    for (guint i = 0; i < types->len; i++)
      g_strv_builder_add (builder, g_ptr_array_index (types, i));
    walk->report->node_types = g_strv_builder_end (builder);
  }
  {
    g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

    for (guint i = 0; i < forbidden->len; i++)
      g_strv_builder_add (builder, g_ptr_array_index (forbidden, i));
    walk->report->forbidden_nodes = g_strv_builder_end (builder);
  }

  if (worker_node_types != NULL && g_hash_table_size (worker_node_types) > 0)
    {
      g_autoptr(GPtrArray) runnable = g_ptr_array_new ();
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
      GHashTableIter iter;
      gpointer key, value;
      gboolean any_missing = FALSE;

      g_hash_table_iter_init (&iter, worker_node_types);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          gboolean has_all = value != NULL;

          for (guint i = 0; has_all && i < types->len; i++)
            has_all = g_hash_table_contains (value, g_ptr_array_index (types, i));
          if (has_all)
            g_ptr_array_add (runnable, key);
        }

      for (guint t = 0; t < types->len; t++)
        {
          const char *type = g_ptr_array_index (types, t);
          gboolean somewhere = FALSE;

          g_hash_table_iter_init (&iter, worker_node_types);
          while (!somewhere && g_hash_table_iter_next (&iter, &key, &value))
            somewhere = value != NULL && g_hash_table_contains (value, type);

          if (somewhere)
            continue;

          any_missing = TRUE;
          for (guint i = 0; i < walk->nodes->len; i++)
            {
              Node *node = g_ptr_array_index (walk->nodes, i);

              if (strcmp (node->class_type, type) != 0)
                continue;
              add_problem (walk, node, CDL_WORKFLOW_MISSING_NODE_TYPE,
                           "Node %s uses %s, which no healthy worker has "
                           "installed; install that custom node on the "
                           "workers or remove it from the workflow",
                           node->id, node->class_type);
              break;
            }
        }

      if (!any_missing && runnable->len == 0)
        add_problem (walk, NULL, CDL_WORKFLOW_NO_RUNNABLE_WORKER,
                     "Every node type is installed on some healthy worker, "
                     "but no single worker has all of them; install the same "
                     "custom nodes on at least one worker");

      g_ptr_array_sort (runnable, compare_strings);
      for (guint i = 0; i < runnable->len; i++)
        g_strv_builder_add (builder, g_ptr_array_index (runnable, i));
      walk->report->runnable_worker_ids = g_strv_builder_end (builder);
    }
}

static void
check_sizes (Walk *walk)
{
  const CdlSettings *s = walk->settings;
  gboolean have_size = FALSE;

  for (guint i = 0; i < walk->nodes->len; i++)
    {
      Node *node = g_ptr_array_index (walk->nodes, i);
      gint64 batch, width, height;
      gboolean has_w, has_h;

      if (node->inputs == NULL)
        continue;

      if (literal_int (json_object_get_member (node->inputs, "batch_size"), &batch))
        {
          if (batch > walk->report->batch_size)
            walk->report->batch_size = (int) MIN (batch, G_MAXINT);
          if (batch > s->max_workflow_batch_size)
            add_problem (walk, node, CDL_WORKFLOW_BATCH_TOO_LARGE,
                         "Node %s (%s) makes batches of %" G_GINT64_FORMAT
                         " images; the limit is %d (max_workflow_batch_size), "
                         "so lower batch_size",
                         node->id, node->class_type, batch,
                         s->max_workflow_batch_size);
          else if (batch < 1)
            add_problem (walk, node, CDL_WORKFLOW_BATCH_TOO_LARGE,
                         "Node %s (%s) has batch_size %" G_GINT64_FORMAT
                         "; it must be at least 1",
                         node->id, node->class_type, batch);
        }

      /* The resolution of what is sampled: the empty latents. */
      if (!g_str_has_prefix (node->class_type, "Empty")
          || strstr (node->class_type, "Latent") == NULL)
        continue;

      has_w = literal_int (json_object_get_member (node->inputs, "width"), &width);
      has_h = literal_int (json_object_get_member (node->inputs, "height"), &height);
      if (!has_w || !has_h)
        continue;

      if (!have_size)
        {
          walk->report->width = (int) CLAMP (width, 0, G_MAXINT);
          walk->report->height = (int) CLAMP (height, 0, G_MAXINT);
          have_size = TRUE;
        }

      if (width < s->resolution_min_side || height < s->resolution_min_side
          || width > s->resolution_max_side || height > s->resolution_max_side)
        add_problem (walk, node, CDL_WORKFLOW_RESOLUTION,
                     "Node %s (%s) makes %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT
                     " images; each side must be between %d and %d pixels",
                     node->id, node->class_type, width, height,
                     s->resolution_min_side, s->resolution_max_side);
      else if (width * height > s->resolution_max_pixels)
        add_problem (walk, node, CDL_WORKFLOW_RESOLUTION,
                     "Node %s (%s) makes %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT
                     " images, more than the %d pixels allowed "
                     "(resolution_max_pixels)",
                     node->id, node->class_type, width, height,
                     s->resolution_max_pixels);
    }
}

static void
find_seeds_and_model (Walk *walk)
{
  Node *first_sampler = NULL;

  for (guint i = 0; i < walk->nodes->len; i++)
    {
      Node *node = g_ptr_array_index (walk->nodes, i);
      static const char * const seed_inputs[] = { "seed", "noise_seed", NULL };

      if (cdl_workflow_is_sampler (node->class_type) && first_sampler == NULL)
        first_sampler = node;

      if (strcmp (node->class_type, "LatentBatchSeedBehavior") == 0)
        walk->report->has_latent_batch_seed = TRUE;

      if (node->inputs == NULL)
        continue;

      if (walk->report->model == NULL)
        {
          const char *model = literal_string (node->inputs, "ckpt_name");

          if (model == NULL)
            model = literal_string (node->inputs, "unet_name");
          walk->report->model = g_strdup (model);
        }

      for (guint k = 0; seed_inputs[k] != NULL; k++)
        {
          gint64 ignored;
          CdlSeedNode *seed;

          /* Only literal numbers: a seed linked from another node is found
           * on that node. The value is never compared with anything. */
          if (!literal_int (json_object_get_member (node->inputs, seed_inputs[k]),
                            &ignored))
            continue;

          seed = g_new0 (CdlSeedNode, 1);
          seed->node_id = g_strdup (node->id);
          seed->class_type = g_strdup (node->class_type);
          seed->input = g_strdup (seed_inputs[k]);
          g_ptr_array_add (walk->report->seed_nodes, seed);
          break;
        }
    }

  if (first_sampler != NULL && walk->report->seed_nodes->len == 0)
    add_problem (walk, first_sampler, CDL_WORKFLOW_SEED_MISSING,
                 "No node carries a number in a \"seed\" or \"noise_seed\" "
                 "input, so the seeds of a task could not be set; give the "
                 "sampler (or its RandomNoise node) a fixed seed");
}

typedef struct
{
  Node          *node;
  gint64         output;
  CdlPromptRole  role;
} Step;

static void
push_link (Walk          *walk,
           GArray        *work,
           JsonObject    *inputs,
           const char    *name,
           CdlPromptRole  role)
{
  Step step = { NULL, 0, role };

  step.node = linked_node (walk, inputs, name, &step.output);
  if (step.node != NULL)
    g_array_append_val (work, step);
}

static void
add_prompt_node (Walk          *walk,
                 Node          *node,
                 CdlPromptRole  role,
                 const char    *input)
{
  CdlPromptNode *prompt;

  for (guint i = 0; i < walk->report->prompt_nodes->len; i++)
    {
      CdlPromptNode *other = g_ptr_array_index (walk->report->prompt_nodes, i);

      if (strcmp (other->node_id, node->id) == 0 && other->role == role)
        return;
    }

  prompt = g_new0 (CdlPromptNode, 1);
  prompt->node_id = g_strdup (node->id);
  prompt->class_type = g_strdup (node->class_type);
  prompt->role = role;
  prompt->input = g_strdup (input);
  prompt->text = g_strdup (literal_string (node->inputs, input));
  g_ptr_array_add (walk->report->prompt_nodes, prompt);
}

/* Follows the conditioning of every sampler back to the text encoders. */
static void
find_prompts (Walk *walk)
{
  g_autoptr(GArray) work = g_array_new (FALSE, FALSE, sizeof (Step));
  g_autoptr(GHashTable) visited = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                         g_free, NULL);

  for (guint i = 0; i < walk->nodes->len; i++)
    {
      Node *node = g_ptr_array_index (walk->nodes, i);

      if (node->inputs == NULL || !cdl_workflow_is_sampler (node->class_type))
        continue;

      push_link (walk, work, node->inputs, "positive", CDL_PROMPT_ROLE_POSITIVE);
      push_link (walk, work, node->inputs, "negative", CDL_PROMPT_ROLE_NEGATIVE);
      push_link (walk, work, node->inputs, "guider", CDL_PROMPT_ROLE_POSITIVE);
    }

  /* Breadth first, so that prompts come out in graph order. */
  for (guint head = 0; head < work->len; head++)
    {
      Step step = g_array_index (work, Step, head);
      Node *node = step.node;
      g_autofree char *key = NULL;
      const char *text_input = NULL;
      g_autoptr(GList) names = NULL;

      key = g_strdup_printf ("%s\x1f%d\x1f%" G_GINT64_FORMAT,
                             node->id, step.role, step.output);
      if (g_hash_table_contains (visited, key))
        continue;
      g_hash_table_add (visited, g_steal_pointer (&key));

      if (node->inputs == NULL)
        continue;

      for (guint k = 0; text_inputs[k] != NULL && text_input == NULL; k++)
        {
          JsonNode *value = json_object_get_member (node->inputs, text_inputs[k]);
          const char *ignored;
          gint64 ignored_index;

          if (value != NULL
              && (literal_string (node->inputs, text_inputs[k]) != NULL
                  || as_link (value, &ignored, &ignored_index)))
            text_input = text_inputs[k];
        }

      /* A text encoder has a clip input next to its text. */
      if (text_input != NULL && json_object_has_member (node->inputs, "clip"))
        {
          add_prompt_node (walk, node, step.role, text_input);
          continue;
        }

      if (json_object_has_member (node->inputs, "positive")
          && json_object_has_member (node->inputs, "negative"))
        {
          if (strstr (node->class_type, "Guider") != NULL)
            {
              /* A guider sets the roles itself. */
              push_link (walk, work, node->inputs, "positive", CDL_PROMPT_ROLE_POSITIVE);
              push_link (walk, work, node->inputs, "negative", CDL_PROMPT_ROLE_NEGATIVE);
            }
          else
            {
              /* ControlNet-style nodes pass positive on output 0 and
               * negative on output 1. */
              push_link (walk, work, node->inputs,
                         step.output == 1 ? "negative" : "positive", step.role);
            }
          continue;
        }

      names = json_object_get_members (node->inputs);
      for (const GList *l = names; l != NULL; l = l->next)
        {
          const char *name = l->data;

          if (g_str_has_prefix (name, "conditioning")
              || g_str_has_prefix (name, "cond"))
            push_link (walk, work, node->inputs, name, step.role);
        }
    }
}

CdlWorkflowReport *
cdl_workflow_validate (const char        *text,
                       gssize             length,
                       const CdlSettings *settings,
                       GHashTable        *worker_node_types,
                       JsonObject        *object_info)
{
  CdlWorkflowReport *report = g_new0 (CdlWorkflowReport, 1);
  g_autoptr(CdlSettings) defaults = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) nodes = NULL;
  g_autoptr(GHashTable) by_id = NULL;
  Walk walk = { 0 };
  JsonNode *root;
  JsonObject *obj;
  gsize len;

  report->problems =
    g_ptr_array_new_with_free_func ((GDestroyNotify) cdl_workflow_problem_free);
  report->prompt_nodes =
    g_ptr_array_new_with_free_func ((GDestroyNotify) cdl_prompt_node_free);
  report->seed_nodes =
    g_ptr_array_new_with_free_func ((GDestroyNotify) cdl_seed_node_free);

  if (settings == NULL)
    settings = defaults = cdl_settings_new ();

  report->max_batch_size = settings->max_workflow_batch_size;

  walk.report = report;
  walk.settings = settings;
  walk.object_info = object_info;

  if (text == NULL)
    len = 0;
  else if (length < 0)
    len = strlen (text);
  else
    len = (gsize) length;

  if (len == 0)
    {
      add_problem (&walk, NULL, CDL_WORKFLOW_NOT_JSON,
                   "The file is empty; upload the workflow_api.json that "
                   "ComfyUI's Save (API) / Export (API) writes");
      goto done;
    }

  if (memchr (text, '\0', len) != NULL || !g_utf8_validate (text, len, NULL))
    {
      add_problem (&walk, NULL, CDL_WORKFLOW_NOT_JSON,
                   "The file is not JSON text (it has bytes that are not "
                   "UTF-8); upload the workflow_api.json that ComfyUI's Save "
                   "(API) / Export (API) writes");
      goto done;
    }

  if (!nesting_ok (text, len))
    {
      add_problem (&walk, NULL, CDL_WORKFLOW_NOT_JSON,
                   "The file nests JSON more than %d levels deep, which no "
                   "ComfyUI workflow does", MAX_NESTING);
      goto done;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text, len, &error)
      || json_parser_get_root (parser) == NULL)
    {
      add_problem (&walk, NULL, CDL_WORKFLOW_NOT_JSON,
                   "The file is not valid JSON (%s); upload the "
                   "workflow_api.json that ComfyUI's Save (API) / Export "
                   "(API) writes",
                   error != NULL ? error->message : "no value");
      goto done;
    }

  root = json_parser_get_root (parser);
  report->definition = json_node_copy (root);

  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      add_problem (&walk, NULL, CDL_WORKFLOW_NOT_API_FORMAT,
                   "The file is JSON but not a ComfyUI API-format workflow, "
                   "which is an object of nodes ({\"3\": {\"class_type\": …, "
                   "\"inputs\": …}}); in ComfyUI use Save (API) / Export "
                   "(API) and upload that file");
      goto done;
    }

  obj = json_node_get_object (root);

  if (json_object_has_member (obj, "nodes") && json_object_has_member (obj, "links"))
    {
      add_problem (&walk, NULL, CDL_WORKFLOW_UI_FORMAT,
                   "This is a UI-format export; in ComfyUI use Save (API) / "
                   "Export (API) and upload that file");
      goto done;
    }

  nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) node_free);
  by_id = g_hash_table_new (g_str_hash, g_str_equal);
  walk.nodes = nodes;
  walk.by_id = by_id;

  if (!collect_nodes (&walk, obj))
    {
      add_problem (&walk, NULL, CDL_WORKFLOW_NOT_API_FORMAT,
                   json_object_has_member (obj, "prompt")
                     ? "The file looks like a /prompt request body; upload "
                       "only the graph, the workflow_api.json that ComfyUI's "
                       "Save (API) / Export (API) writes"
                     : "The file has no ComfyUI nodes (objects with "
                       "\"class_type\" and \"inputs\"); in ComfyUI use Save "
                       "(API) / Export (API) and upload that file");
      goto done;
    }

  check_links (&walk);
  check_cycles (&walk);
  check_node_types (&walk, worker_node_types);
  check_sizes (&walk);
  find_seeds_and_model (&walk);
  find_prompts (&walk);

done:
  if (report->node_types == NULL)
    report->node_types = g_new0 (char *, 1);
  if (report->forbidden_nodes == NULL)
    report->forbidden_nodes = g_new0 (char *, 1);

  report->valid = report->problems->len == 0;

  return report;
}
