/* cdl-workflow.c: problems, prompt and seed nodes, the stored record
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-core"

#include "config.h"

#include <string.h>

#include "core/cdl-json.h"
#include "core/cdl-workflow.h"

const char *
cdl_prompt_role_to_string (CdlPromptRole role)
{
  return role == CDL_PROMPT_ROLE_NEGATIVE ? "negative" : "positive";
}

void
cdl_workflow_problem_free (CdlWorkflowProblem *problem)
{
  if (problem == NULL)
    return;

  g_free (problem->node_id);
  g_free (problem->class_type);
  g_free (problem->code);
  g_free (problem->message);
  g_free (problem);
}

void
cdl_prompt_node_free (CdlPromptNode *node)
{
  if (node == NULL)
    return;

  g_free (node->node_id);
  g_free (node->class_type);
  g_free (node->input);
  g_free (node->text);
  g_free (node);
}

void
cdl_seed_node_free (CdlSeedNode *node)
{
  if (node == NULL)
    return;

  g_free (node->node_id);
  g_free (node->class_type);
  g_free (node->input);
  g_free (node);
}

JsonNode *
cdl_workflow_problem_to_json (const CdlWorkflowProblem *problem)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (problem != NULL, NULL);

  json_builder_begin_object (builder);
  cdl_json_add_string_or_null (builder, "node_id", problem->node_id);
  cdl_json_add_string_or_null (builder, "class_type", problem->class_type);
  cdl_json_add_string_or_null (builder, "code", problem->code);
  cdl_json_add_string_or_null (builder, "message", problem->message);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

JsonNode *
cdl_prompt_node_to_json (const CdlPromptNode *node)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (node != NULL, NULL);

  json_builder_begin_object (builder);
  cdl_json_add_string_or_null (builder, "node_id", node->node_id);
  cdl_json_add_string_or_null (builder, "class_type", node->class_type);
  cdl_json_add_string_or_null (builder, "role",
                               cdl_prompt_role_to_string (node->role));
  cdl_json_add_string_or_null (builder, "input", node->input);
  cdl_json_add_string_or_null (builder, "text", node->text);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

JsonNode *
cdl_seed_node_to_json (const CdlSeedNode *node)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (node != NULL, NULL);

  json_builder_begin_object (builder);
  cdl_json_add_string_or_null (builder, "node_id", node->node_id);
  cdl_json_add_string_or_null (builder, "class_type", node->class_type);
  cdl_json_add_string_or_null (builder, "input", node->input);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/* A string member of @obj, or NULL when absent or of another type. */
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

typedef gpointer (*FromObjectFunc) (JsonObject *obj);

static GPtrArray *
array_from_json (JsonNode       *array,
                 FromObjectFunc  func,
                 GDestroyNotify  free_func)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (free_func);
  JsonArray *a;

  if (array == NULL || !JSON_NODE_HOLDS_ARRAY (array))
    return out;

  a = json_node_get_array (array);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *element = json_array_get_element (a, i);
      gpointer item;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;

      item = func (json_node_get_object (element));
      if (item != NULL)
        g_ptr_array_add (out, item);
    }

  return out;
}

static gpointer
problem_from_object (JsonObject *obj)
{
  CdlWorkflowProblem *problem;

  if (member_string (obj, "code") == NULL)
    return NULL;

  problem = g_new0 (CdlWorkflowProblem, 1);
  problem->node_id = g_strdup (member_string (obj, "node_id"));
  problem->class_type = g_strdup (member_string (obj, "class_type"));
  problem->code = g_strdup (member_string (obj, "code"));
  problem->message = g_strdup (member_string (obj, "message"));

  return problem;
}

static gpointer
prompt_node_from_object (JsonObject *obj)
{
  CdlPromptNode *node;

  if (member_string (obj, "node_id") == NULL)
    return NULL;

  node = g_new0 (CdlPromptNode, 1);
  node->node_id = g_strdup (member_string (obj, "node_id"));
  node->class_type = g_strdup (member_string (obj, "class_type"));
  node->role = g_strcmp0 (member_string (obj, "role"), "negative") == 0
                 ? CDL_PROMPT_ROLE_NEGATIVE : CDL_PROMPT_ROLE_POSITIVE;
  node->input = g_strdup (member_string (obj, "input"));
  node->text = g_strdup (member_string (obj, "text"));

  return node;
}

static gpointer
seed_node_from_object (JsonObject *obj)
{
  CdlSeedNode *node;

  if (member_string (obj, "node_id") == NULL)
    return NULL;

  node = g_new0 (CdlSeedNode, 1);
  node->node_id = g_strdup (member_string (obj, "node_id"));
  node->class_type = g_strdup (member_string (obj, "class_type"));
  node->input = g_strdup (member_string (obj, "input"));

  return node;
}

GPtrArray *
cdl_workflow_problems_from_json (JsonNode *array)
{
  return array_from_json (array, problem_from_object,
                          (GDestroyNotify) cdl_workflow_problem_free);
}

GPtrArray *
cdl_prompt_nodes_from_json (JsonNode *array)
{
  return array_from_json (array, prompt_node_from_object,
                          (GDestroyNotify) cdl_prompt_node_free);
}

GPtrArray *
cdl_seed_nodes_from_json (JsonNode *array)
{
  return array_from_json (array, seed_node_from_object,
                          (GDestroyNotify) cdl_seed_node_free);
}

/* The stored record ---------------------------------------------------------- */

struct _CdlWorkflow
{
  GObject          parent_instance;
  CdlWorkflowData  data;
};

G_DEFINE_FINAL_TYPE (CdlWorkflow, cdl_workflow, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_VERSION,
  PROP_DESCRIPTION,
  PROP_VALID,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

void
cdl_workflow_data_clear (CdlWorkflowData *data)
{
  g_clear_pointer (&data->id, g_free);
  g_clear_pointer (&data->name, g_free);
  g_clear_pointer (&data->description, g_free);
  g_clear_pointer (&data->problems, g_ptr_array_unref);
  g_clear_pointer (&data->model, g_free);
  g_clear_pointer (&data->prompt_nodes, g_ptr_array_unref);
  g_clear_pointer (&data->seed_nodes, g_ptr_array_unref);
  g_clear_pointer (&data->forbidden_nodes, g_strfreev);
  g_clear_pointer (&data->node_types, g_strfreev);
  g_clear_pointer (&data->runnable_worker_ids, g_strfreev);
  g_clear_pointer (&data->raw_text, g_free);
  g_clear_pointer (&data->raw_definition, json_node_unref);
  g_clear_pointer (&data->created_by, g_free);
  g_clear_pointer (&data->validated_at, g_date_time_unref);
  g_clear_pointer (&data->created_at, g_date_time_unref);
}

static void
cdl_workflow_finalize (GObject *object)
{
  CdlWorkflow *self = (CdlWorkflow *)object;

  cdl_workflow_data_clear (&self->data);

  G_OBJECT_CLASS (cdl_workflow_parent_class)->finalize (object);
}

static void
cdl_workflow_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  CdlWorkflow *self = CDL_WORKFLOW (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->data.id);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->data.name);
      break;
    case PROP_VERSION:
      g_value_set_int (value, self->data.version);
      break;
    case PROP_DESCRIPTION:
      g_value_set_string (value, self->data.description);
      break;
    case PROP_VALID:
      g_value_set_boolean (value, self->data.valid);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_workflow_class_init (CdlWorkflowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cdl_workflow_finalize;
  object_class->get_property = cdl_workflow_get_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_VERSION] =
    g_param_spec_int ("version", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_DESCRIPTION] =
    g_param_spec_string ("description", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_VALID] =
    g_param_spec_boolean ("valid", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdl_workflow_init (CdlWorkflow *self)
{
}

CdlWorkflow *
cdl_workflow_new (CdlWorkflowData *data)
{
  CdlWorkflow *self;

  g_return_val_if_fail (data != NULL, NULL);

  self = g_object_new (CDL_TYPE_WORKFLOW, NULL);
  self->data = *data;
  memset (data, 0, sizeof *data);

  if (self->data.problems == NULL)
    self->data.problems =
      g_ptr_array_new_with_free_func ((GDestroyNotify) cdl_workflow_problem_free);
  if (self->data.prompt_nodes == NULL)
    self->data.prompt_nodes =
      g_ptr_array_new_with_free_func ((GDestroyNotify) cdl_prompt_node_free);
  if (self->data.seed_nodes == NULL)
    self->data.seed_nodes =
      g_ptr_array_new_with_free_func ((GDestroyNotify) cdl_seed_node_free);
  if (self->data.forbidden_nodes == NULL)
    self->data.forbidden_nodes = g_new0 (char *, 1);
  if (self->data.node_types == NULL)
    self->data.node_types = g_new0 (char *, 1);
  if (self->data.runnable_worker_ids == NULL)
    self->data.runnable_worker_ids = g_new0 (char *, 1);

  return self;
}

const CdlWorkflowData *
cdl_workflow_get_data (CdlWorkflow *self)
{
  g_return_val_if_fail (CDL_IS_WORKFLOW (self), NULL);

  return &self->data;
}

const char *
cdl_workflow_get_id (CdlWorkflow *self)
{
  g_return_val_if_fail (CDL_IS_WORKFLOW (self), NULL);

  return self->data.id;
}

const char *
cdl_workflow_get_name (CdlWorkflow *self)
{
  g_return_val_if_fail (CDL_IS_WORKFLOW (self), NULL);

  return self->data.name;
}

int
cdl_workflow_get_version (CdlWorkflow *self)
{
  g_return_val_if_fail (CDL_IS_WORKFLOW (self), 0);

  return self->data.version;
}

const char *
cdl_workflow_get_description (CdlWorkflow *self)
{
  g_return_val_if_fail (CDL_IS_WORKFLOW (self), NULL);

  return self->data.description;
}

gboolean
cdl_workflow_get_valid (CdlWorkflow *self)
{
  g_return_val_if_fail (CDL_IS_WORKFLOW (self), FALSE);

  return self->data.valid;
}

GDateTime *
cdl_workflow_get_created_at (CdlWorkflow *self)
{
  g_return_val_if_fail (CDL_IS_WORKFLOW (self), NULL);

  return self->data.created_at;
}

JsonNode *
cdl_workflow_get_raw_definition (CdlWorkflow *self)
{
  g_return_val_if_fail (CDL_IS_WORKFLOW (self), NULL);

  return self->data.raw_definition;
}

static void
add_int_or_null (JsonBuilder *builder,
                 const char  *member,
                 int          value)
{
  json_builder_set_member_name (builder, member);
  if (value > 0)
    json_builder_add_int_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

typedef JsonNode *(*ToJsonFunc) (gconstpointer item);

static void
add_array (JsonBuilder *builder,
           const char  *member,
           GPtrArray   *items,
           ToJsonFunc   func)
{
  json_builder_set_member_name (builder, member);
  json_builder_begin_array (builder);
  for (guint i = 0; items != NULL && i < items->len; i++)
    json_builder_add_value (builder, func (g_ptr_array_index (items, i)));
  json_builder_end_array (builder);
}

JsonNode *
cdl_workflow_to_json (CdlWorkflow *self,
                      gboolean     with_raw)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  const CdlWorkflowData *d;

  g_return_val_if_fail (CDL_IS_WORKFLOW (self), NULL);

  d = &self->data;

  json_builder_begin_object (builder);
  cdl_json_add_string_or_null (builder, "id", d->id);
  cdl_json_add_string_or_null (builder, "name", d->name);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, d->version);
  cdl_json_add_string_or_null (builder, "description", d->description);
  json_builder_set_member_name (builder, "valid");
  json_builder_add_boolean_value (builder, d->valid);
  add_array (builder, "problems", d->problems,
             (ToJsonFunc) cdl_workflow_problem_to_json);
  add_int_or_null (builder, "max_batch_size", d->max_batch_size);
  add_array (builder, "prompt_nodes", d->prompt_nodes,
             (ToJsonFunc) cdl_prompt_node_to_json);
  add_array (builder, "seed_nodes", d->seed_nodes,
             (ToJsonFunc) cdl_seed_node_to_json);
  cdl_json_add_strv (builder, "forbidden_nodes",
                     (const char * const *) d->forbidden_nodes);
  cdl_json_add_strv (builder, "node_types",
                     (const char * const *) d->node_types);
  json_builder_set_member_name (builder, "has_latent_batch_seed");
  json_builder_add_boolean_value (builder, d->has_latent_batch_seed);
  cdl_json_add_string_or_null (builder, "model", d->model);
  add_int_or_null (builder, "width", d->width);
  add_int_or_null (builder, "height", d->height);
  add_int_or_null (builder, "batch_size", d->batch_size);
  cdl_json_add_strv (builder, "runnable_worker_ids",
                     (const char * const *) d->runnable_worker_ids);
  cdl_json_add_string_or_null (builder, "created_by", d->created_by);
  cdl_json_add_datetime (builder, "validated_at", d->validated_at);
  cdl_json_add_datetime (builder, "created_at", d->created_at);

  if (with_raw && d->raw_definition != NULL)
    {
      json_builder_set_member_name (builder, "raw_definition");
      json_builder_add_value (builder, json_node_copy (d->raw_definition));
    }

  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}
