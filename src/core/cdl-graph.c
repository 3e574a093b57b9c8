/* cdl-graph.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "core/cdl-graph.h"
#include "core/cdl-json.h"
#include "core/cdl-workflow.h"
#include "core/cdl-worker-input.h"

/* A latent source is a node whose class name starts "Empty" and ends
 * "LatentImage" (EmptyLatentImage, EmptySD3LatentImage, …) and that has an
 * integer batch_size input. */
static gboolean
is_latent_source (const char *class_type,
                  JsonObject *inputs)
{
  JsonNode *batch;

  if (class_type == NULL || !g_str_has_prefix (class_type, "Empty")
      || !g_str_has_suffix (class_type, "LatentImage"))
    return FALSE;

  batch = json_object_get_member (inputs, "batch_size");
  return batch != NULL && JSON_NODE_HOLDS_VALUE (batch)
         && json_node_get_value_type (batch) == G_TYPE_INT64;
}

static JsonObject *
node_inputs (JsonObject  *graph,
             const char  *node_id,
             const char **class_type)
{
  JsonNode *node = json_object_get_member (graph, node_id);
  JsonObject *obj;
  JsonNode *inputs;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  obj = json_node_get_object (node);
  inputs = json_object_get_member (obj, "inputs");
  if (inputs == NULL || !JSON_NODE_HOLDS_OBJECT (inputs))
    return NULL;

  if (class_type != NULL)
    *class_type = json_object_get_string_member_with_default (obj, "class_type", NULL);

  return json_node_get_object (inputs);
}

GPtrArray *
cdl_graph_latent_nodes (JsonNode *graph)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GList) members = NULL;
  JsonObject *obj;

  if (graph == NULL || !JSON_NODE_HOLDS_OBJECT (graph))
    return ids;

  obj = json_node_get_object (graph);
  members = json_object_get_members (obj);
  members = g_list_sort (members, (GCompareFunc)strcmp);

  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *class_type = NULL;
      JsonObject *inputs = node_inputs (obj, l->data, &class_type);

      if (inputs != NULL && is_latent_source (class_type, inputs))
        g_ptr_array_add (ids, g_strdup (l->data));
    }

  return ids;
}

/* Sets @input of @node_id to @value, which must replace a plain value of
 * the same JSON type; a link ([node, output]) is refused. */
static gboolean
set_value (JsonObject  *graph,
           const char  *node_id,
           const char  *input,
           JsonNode    *value,
           GError     **error)
{
  const char *class_type = NULL;
  JsonObject *inputs = node_inputs (graph, node_id, &class_type);
  JsonNode *old;

  if (inputs == NULL)
    {
      g_set_error (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID,
                   "Node %s is not in the workflow", node_id);
      json_node_unref (value);
      return FALSE;
    }

  old = json_object_get_member (inputs, input);
  if (old == NULL || !JSON_NODE_HOLDS_VALUE (old)
      || json_node_get_value_type (old) != json_node_get_value_type (value))
    {
      g_set_error (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID,
                   "Node %s (%s) has no %s value to set; it may be linked to "
                   "another node, which this workflow cannot vary",
                   node_id, class_type ? class_type : "?", input);
      json_node_unref (value);
      return FALSE;
    }

  json_object_set_member (inputs, input, value);
  return TRUE;
}

JsonNode *
cdl_graph_patch (JsonNode             *graph,
                 const CdlGraphPatch  *patch,
                 GError              **error)
{
  g_autoptr(JsonNode) copy = NULL;
  g_autoptr(GPtrArray) latents = NULL;
  JsonObject *obj;

  g_return_val_if_fail (patch != NULL, NULL);

  if (graph == NULL || !JSON_NODE_HOLDS_OBJECT (graph))
    {
      g_set_error_literal (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID,
                           "The workflow is not an API-format object");
      return NULL;
    }

  copy = cdl_json_deep_copy (graph);
  obj = json_node_get_object (copy);

  for (guint i = 0; patch->prompt_nodes != NULL && i < patch->prompt_nodes->len; i++)
    {
      CdlPromptNode *p = g_ptr_array_index (patch->prompt_nodes, i);
      const char *text = p->role == CDL_PROMPT_ROLE_POSITIVE ? patch->positive_text
                                                             : patch->negative_text;
      JsonNode *value;

      if (text == NULL)
        continue;

      value = json_node_init_string (json_node_alloc (), text);
      if (!set_value (obj, p->node_id, p->input ? p->input : "text", value, error))
        return NULL;
    }

  for (guint i = 0; patch->seed >= 0 && patch->seed_nodes != NULL
                    && i < patch->seed_nodes->len; i++)
    {
      CdlSeedNode *s = g_ptr_array_index (patch->seed_nodes, i);
      JsonNode *value = json_node_init_int (json_node_alloc (), patch->seed);

      if (!set_value (obj, s->node_id, s->input, value, error))
        return NULL;
    }

  if (patch->batch_size > 0 || patch->width > 0 || patch->height > 0)
    {
      latents = cdl_graph_latent_nodes (copy);
      if (latents->len == 0)
        {
          g_set_error_literal (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID,
                               "The workflow has no empty latent image whose batch "
                               "size or resolution could be set");
          return NULL;
        }
    }

  for (guint i = 0; latents != NULL && i < latents->len; i++)
    {
      const char *id = g_ptr_array_index (latents, i);

      if (patch->batch_size > 0
          && !set_value (obj, id, "batch_size",
                         json_node_init_int (json_node_alloc (), patch->batch_size), error))
        return NULL;
      if (patch->width > 0
          && !set_value (obj, id, "width",
                         json_node_init_int (json_node_alloc (), patch->width), error))
        return NULL;
      if (patch->height > 0
          && !set_value (obj, id, "height",
                         json_node_init_int (json_node_alloc (), patch->height), error))
        return NULL;
    }

  return g_steal_pointer (&copy);
}
