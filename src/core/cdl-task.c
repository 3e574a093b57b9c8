/* cdl-task.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-core"

#include "config.h"

#include <string.h>

#include "core/cdl-json.h"
#include "core/cdl-sampling.h"
#include "core/cdl-task.h"
#include "core/cdl-worker-input.h"

void
cdl_prompt_free (CdlPrompt *prompt)
{
  if (prompt == NULL)
    return;

  g_free (prompt->id);
  g_free (prompt->text);
  g_clear_pointer (&prompt->variables, json_node_unref);
  g_free (prompt->seeds);
  g_free (prompt);
}

static void
add_seeds (JsonBuilder     *b,
           const CdlPrompt *prompt)
{
  json_builder_begin_array (b);
  for (guint i = 0; i < prompt->n_seeds; i++)
    json_builder_add_int_value (b, (gint64) prompt->seeds[i]);
  json_builder_end_array (b);
}

JsonNode *
cdl_prompt_to_json (const CdlPrompt *prompt)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();

  g_return_val_if_fail (prompt != NULL, NULL);

  json_builder_begin_object (b);
  cdl_json_add_string_or_null (b, "id", prompt->id);
  json_builder_set_member_name (b, "position");
  json_builder_add_int_value (b, prompt->position);
  cdl_json_add_string_or_null (b, "text", prompt->text);
  json_builder_set_member_name (b, "variables");
  if (prompt->variables != NULL)
    json_builder_add_value (b, json_node_copy (prompt->variables));
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "seeds");
  add_seeds (b, prompt);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

void
cdl_task_pool_free (CdlTaskPool *pool)
{
  if (pool == NULL)
    return;

  g_free (pool->pool_id);
  g_free (pool->name);
  g_free (pool->mode);
  g_free (pool);
}

/* The record ------------------------------------------------------------------ */

struct _CdlTask
{
  GObject      parent_instance;
  CdlTaskData  data;
};

G_DEFINE_FINAL_TYPE (CdlTask, cdl_task, G_TYPE_OBJECT)

void
cdl_task_data_clear (CdlTaskData *data)
{
  g_clear_pointer (&data->id, g_free);
  g_clear_pointer (&data->name, g_free);
  g_clear_pointer (&data->workflow_id, g_free);
  g_clear_pointer (&data->workflow_name, g_free);
  g_clear_pointer (&data->state, g_free);
  g_clear_pointer (&data->notes, g_free);
  g_clear_pointer (&data->prompt_template, g_free);
  g_clear_pointer (&data->pools, g_ptr_array_unref);
  g_clear_pointer (&data->frozen_snapshot, json_node_unref);
  g_clear_pointer (&data->frozen_at, g_date_time_unref);
  g_clear_pointer (&data->created_by, g_free);
  g_clear_pointer (&data->created_at, g_date_time_unref);
  g_clear_pointer (&data->updated_at, g_date_time_unref);
  g_clear_pointer (&data->prompts, g_ptr_array_unref);
}

static void
cdl_task_finalize (GObject *object)
{
  CdlTask *self = (CdlTask *)object;

  cdl_task_data_clear (&self->data);

  G_OBJECT_CLASS (cdl_task_parent_class)->finalize (object);
}

static void
cdl_task_class_init (CdlTaskClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdl_task_finalize;
}

static void
cdl_task_init (CdlTask *self)
{
}

CdlTask *
cdl_task_new (CdlTaskData *data)
{
  CdlTask *self;

  g_return_val_if_fail (data != NULL, NULL);

  self = g_object_new (CDL_TYPE_TASK, NULL);
  self->data = *data;
  memset (data, 0, sizeof *data);

  if (self->data.pools == NULL)
    self->data.pools = g_ptr_array_new_with_free_func ((GDestroyNotify) cdl_task_pool_free);
  if (self->data.prompts == NULL)
    self->data.next_after = -1;

  return self;
}

const CdlTaskData *
cdl_task_get_data (CdlTask *self)
{
  g_return_val_if_fail (CDL_IS_TASK (self), NULL);

  return &self->data;
}

const char *
cdl_task_get_id (CdlTask *self)
{
  g_return_val_if_fail (CDL_IS_TASK (self), NULL);

  return self->data.id;
}

const char *
cdl_task_get_name (CdlTask *self)
{
  g_return_val_if_fail (CDL_IS_TASK (self), NULL);

  return self->data.name;
}

const char *
cdl_task_get_state (CdlTask *self)
{
  g_return_val_if_fail (CDL_IS_TASK (self), NULL);

  return self->data.state;
}

gboolean
cdl_task_is_draft (CdlTask *self)
{
  g_return_val_if_fail (CDL_IS_TASK (self), FALSE);

  return g_strcmp0 (self->data.state, CDL_TASK_STATE_DRAFT) == 0;
}

GPtrArray *
cdl_task_get_prompts (CdlTask *self)
{
  g_return_val_if_fail (CDL_IS_TASK (self), NULL);

  return self->data.prompts;
}

/* The snapshot without its bulky raw workflow definition. */
static JsonNode *
snapshot_summary (JsonNode *snapshot)
{
  JsonObject *in;
  JsonObject *out;
  g_autoptr(GList) members = NULL;

  if (snapshot == NULL || !JSON_NODE_HOLDS_OBJECT (snapshot))
    return json_node_new (JSON_NODE_NULL);

  in = json_node_get_object (snapshot);
  out = json_object_new ();
  members = json_object_get_members (in);

  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;

      if (strcmp (name, "workflow") == 0)
        {
          JsonNode *wf = json_object_get_member (in, name);
          JsonObject *copy = json_object_new ();
          g_autoptr(GList) wf_members = NULL;

          if (JSON_NODE_HOLDS_OBJECT (wf))
            wf_members = json_object_get_members (json_node_get_object (wf));
          JsonObject *wf_obj = json_node_get_object (wf);

          for (const GList *m = wf_members; m != NULL; m = m->next)
            if (strcmp (m->data, "raw_definition") != 0)
              json_object_set_member (copy, m->data,
                                      json_node_copy (json_object_get_member (wf_obj, m->data)));
          json_object_set_object_member (out, name, copy);
        }
      else
        {
          json_object_set_member (out, name, json_node_copy (json_object_get_member (in, name)));
        }
    }

  return json_node_init_object (json_node_alloc (), out);
}

JsonNode *
cdl_task_to_json (CdlTask *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  const CdlTaskData *d;

  g_return_val_if_fail (CDL_IS_TASK (self), NULL);

  d = &self->data;

  json_builder_begin_object (b);
  cdl_json_add_string_or_null (b, "id", d->id);
  cdl_json_add_string_or_null (b, "name", d->name);
  cdl_json_add_string_or_null (b, "workflow_id", d->workflow_id);
  cdl_json_add_string_or_null (b, "workflow_name", d->workflow_name);
  json_builder_set_member_name (b, "workflow_version");
  json_builder_add_int_value (b, d->workflow_version);
  cdl_json_add_string_or_null (b, "state", d->state);
  cdl_json_add_string_or_null (b, "notes", d->notes);
  cdl_json_add_string_or_null (b, "prompt_template", d->prompt_template);
  json_builder_set_member_name (b, "target_prompts");
  json_builder_add_int_value (b, d->target_prompts);
  json_builder_set_member_name (b, "seeds_per_prompt");
  json_builder_add_int_value (b, d->seeds_per_prompt);
  json_builder_set_member_name (b, "rng_seed");
  json_builder_add_int_value (b, (gint64) d->rng_seed);

  json_builder_set_member_name (b, "pools");
  json_builder_begin_array (b);
  for (guint i = 0; i < d->pools->len; i++)
    {
      const CdlTaskPool *pool = g_ptr_array_index (d->pools, i);

      json_builder_begin_object (b);
      cdl_json_add_string_or_null (b, "id", pool->pool_id);
      cdl_json_add_string_or_null (b, "name", pool->name);
      cdl_json_add_string_or_null (b, "mode", pool->mode);
      json_builder_set_member_name (b, "version");
      json_builder_add_int_value (b, pool->version);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "counts");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "prompts");
  json_builder_add_int_value (b, d->prompt_count);
  json_builder_set_member_name (b, "seeds");
  json_builder_add_int_value (b, d->seed_count);
  json_builder_end_object (b);

  cdl_json_add_datetime (b, "frozen_at", d->frozen_at);
  json_builder_set_member_name (b, "snapshot");
  json_builder_add_value (b, snapshot_summary (d->frozen_snapshot));
  cdl_json_add_string_or_null (b, "created_by", d->created_by);
  cdl_json_add_datetime (b, "created_at", d->created_at);
  cdl_json_add_datetime (b, "updated_at", d->updated_at);

  if (d->prompts != NULL)
    {
      json_builder_set_member_name (b, "prompts");
      json_builder_begin_array (b);
      for (guint i = 0; i < d->prompts->len; i++)
        json_builder_add_value (b, cdl_prompt_to_json (g_ptr_array_index (d->prompts, i)));
      json_builder_end_array (b);

      /* Spec 2.4: seeds as number[][], row i for prompts[i]. */
      json_builder_set_member_name (b, "seeds");
      json_builder_begin_array (b);
      for (guint i = 0; i < d->prompts->len; i++)
        add_seeds (b, g_ptr_array_index (d->prompts, i));
      json_builder_end_array (b);

      json_builder_set_member_name (b, "next_after");
      if (d->next_after >= 0)
        json_builder_add_int_value (b, d->next_after);
      else
        json_builder_add_null_value (b);
    }

  json_builder_end_object (b);

  return json_builder_get_root (b);
}

/* Input ------------------------------------------------------------------------ */

static const struct
{
  const char    *name;
  CdlTaskFields  field;
} task_fields[] = {
  { "workflow_id", CDL_TASK_FIELD_WORKFLOW_ID },
  { "variable_pool_ids", CDL_TASK_FIELD_POOL_IDS },
  { "target_prompts", CDL_TASK_FIELD_TARGET_PROMPTS },
  { "seeds_per_prompt", CDL_TASK_FIELD_SEEDS_PER_PROMPT },
  { "notes", CDL_TASK_FIELD_NOTES },
  { "prompt_template", CDL_TASK_FIELD_PROMPT_TEMPLATE },
  { "name", CDL_TASK_FIELD_NAME },
  { "rng_seed", CDL_TASK_FIELD_RNG_SEED },
};

CdlTaskInput *
cdl_task_input_new (void)
{
  return g_new0 (CdlTaskInput, 1);
}

void
cdl_task_input_free (CdlTaskInput *input)
{
  if (input == NULL)
    return;

  g_free (input->workflow_id);
  g_strfreev (input->pool_ids);
  g_free (input->notes);
  g_free (input->prompt_template);
  g_free (input->name);
  g_free (input);
}

static gboolean
invalid (GError     **error,
         const char  *format,
         ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError     **error,
         const char  *format,
         ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (CDL_INPUT_ERROR,
                                                CDL_INPUT_ERROR_INVALID,
                                                format, args));
  va_end (args);

  return FALSE;
}

static gboolean
check_text (const char  *field,
            const char  *text,
            int          max_chars,
            GError     **error)
{
  if (text == NULL)
    return TRUE;

  if (!g_utf8_validate (text, -1, NULL))
    return invalid (error, "%s is not valid UTF-8", field);

  if (g_utf8_strlen (text, -1) > max_chars)
    return invalid (error, "%s is longer than %d characters", field, max_chars);

  return TRUE;
}

gboolean
cdl_task_input_validate (CdlTaskInput  *input,
                         gboolean       for_create,
                         GError       **error)
{
  g_return_val_if_fail (input != NULL, FALSE);

  if (for_create)
    {
      if (!(input->set & CDL_TASK_FIELD_WORKFLOW_ID))
        return invalid (error, "workflow_id is required");
      if (!(input->set & CDL_TASK_FIELD_POOL_IDS))
        return invalid (error, "variable_pool_ids is required: an array of pool ids "
                               "(may be empty)");
      if (!(input->set & CDL_TASK_FIELD_TARGET_PROMPTS))
        return invalid (error, "target_prompts is required");
      if (!(input->set & CDL_TASK_FIELD_SEEDS_PER_PROMPT))
        return invalid (error, "seeds_per_prompt is required");
    }
  else if (input->set == 0)
    {
      return invalid (error, "Nothing to update: give name, notes, target_prompts, "
                             "seeds_per_prompt, variable_pool_ids, prompt_template, "
                             "workflow_id or rng_seed");
    }

  if (input->set & CDL_TASK_FIELD_WORKFLOW_ID)
    {
      if (input->workflow_id == NULL || !g_uuid_string_is_valid (input->workflow_id))
        return invalid (error, "workflow_id \"%s\" is not a workflow id (a UUID)",
                        input->workflow_id ? input->workflow_id : "");
    }

  if (input->set & CDL_TASK_FIELD_POOL_IDS)
    {
      guint n = input->pool_ids ? g_strv_length (input->pool_ids) : 0;

      if (n > CDL_TASK_POOLS_MAX)
        return invalid (error, "variable_pool_ids has %u entries; at most %d are allowed",
                        n, CDL_TASK_POOLS_MAX);

      for (guint i = 0; i < n; i++)
        {
          if (*input->pool_ids[i] == '\0')
            return invalid (error, "variable_pool_ids[%u] is empty", i);
          for (guint j = 0; j < i; j++)
            if (strcmp (input->pool_ids[i], input->pool_ids[j]) == 0)
              return invalid (error, "variable_pool_ids lists %s twice", input->pool_ids[i]);
        }
    }

  if ((input->set & CDL_TASK_FIELD_TARGET_PROMPTS)
      && (input->target_prompts < 1 || input->target_prompts > CDL_TASK_PROMPTS_MAX))
    return invalid (error, "target_prompts must be between 1 and %d, not %d",
                    CDL_TASK_PROMPTS_MAX, input->target_prompts);

  if ((input->set & CDL_TASK_FIELD_SEEDS_PER_PROMPT) && input->seeds_per_prompt < 1)
    return invalid (error, "seeds_per_prompt must be at least 1, not %d",
                    input->seeds_per_prompt);

  if ((input->set & CDL_TASK_FIELD_RNG_SEED) && input->rng_seed > CDL_SEED_MAX)
    return invalid (error, "rng_seed must be between 0 and 2^53 - 1 (%" G_GUINT64_FORMAT ")",
                    CDL_SEED_MAX);

  if ((input->set & CDL_TASK_FIELD_NAME) && input->name != NULL)
    {
      g_strstrip (input->name);
      if (*input->name == '\0')
        g_clear_pointer (&input->name, g_free);
      if (!check_text ("name", input->name, CDL_TASK_NAME_MAX, error))
        return FALSE;
    }

  if ((input->set & CDL_TASK_FIELD_NOTES)
      && !check_text ("notes", input->notes, CDL_TASK_NOTES_MAX, error))
    return FALSE;

  if (input->set & CDL_TASK_FIELD_PROMPT_TEMPLATE)
    {
      if (!check_text ("prompt_template", input->prompt_template, CDL_TASK_TEMPLATE_MAX, error))
        return FALSE;
      if (input->prompt_template != NULL)
        {
          g_strstrip (input->prompt_template);
          if (*input->prompt_template == '\0')
            return invalid (error, "prompt_template is empty; leave it out (or null) to use "
                                   "the workflow's positive prompt");
        }
    }

  return TRUE;
}

static gboolean
get_int (JsonNode    *node,
         const char  *field,
         gint64       min,
         gint64       max,
         gint64      *out,
         GError     **error)
{
  gint64 v;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return invalid (error, "%s must be a whole number", field);

  v = json_node_get_int (node);
  if (v < min || v > max)
    return invalid (error, "%s must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
                    ", not %" G_GINT64_FORMAT, field, min, max, v);

  *out = v;
  return TRUE;
}

static gboolean
get_string (JsonNode    *node,
            const char  *field,
            gboolean     nullable,
            char       **out,
            GError     **error)
{
  g_clear_pointer (out, g_free);

  if (nullable && JSON_NODE_HOLDS_NULL (node))
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return invalid (error, nullable ? "%s must be a string or null" : "%s must be a string",
                    field);

  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

CdlTaskInput *
cdl_task_input_from_json (JsonNode  *node,
                          gboolean   for_create,
                          GError   **error)
{
  g_autoptr(CdlTaskInput) input = cdl_task_input_new ();
  g_autoptr(GList) members = NULL;
  JsonObject *obj;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      invalid (error, "The body must be a JSON object");
      return NULL;
    }

  obj = json_node_get_object (node);
  members = json_object_get_members (obj);

  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *member = l->data;
      JsonNode *value = json_object_get_member (obj, member);
      CdlTaskFields field = 0;
      gint64 v = 0;

      for (guint i = 0; i < G_N_ELEMENTS (task_fields); i++)
        if (strcmp (task_fields[i].name, member) == 0)
          field = task_fields[i].field;

      switch (field)
        {
        case CDL_TASK_FIELD_WORKFLOW_ID:
          if (!get_string (value, member, FALSE, &input->workflow_id, error))
            return NULL;
          break;
        case CDL_TASK_FIELD_NOTES:
          if (!get_string (value, member, TRUE, &input->notes, error))
            return NULL;
          break;
        case CDL_TASK_FIELD_PROMPT_TEMPLATE:
          if (!get_string (value, member, TRUE, &input->prompt_template, error))
            return NULL;
          break;
        case CDL_TASK_FIELD_NAME:
          if (!get_string (value, member, TRUE, &input->name, error))
            return NULL;
          break;
        case CDL_TASK_FIELD_TARGET_PROMPTS:
          if (!get_int (value, member, G_MININT, G_MAXINT, &v, error))
            return NULL;
          input->target_prompts = (int) v;
          break;
        case CDL_TASK_FIELD_SEEDS_PER_PROMPT:
          if (!get_int (value, member, G_MININT, G_MAXINT, &v, error))
            return NULL;
          input->seeds_per_prompt = (int) v;
          break;
        case CDL_TASK_FIELD_RNG_SEED:
          if (!get_int (value, member, 0, (gint64) CDL_SEED_MAX, &v, error))
            return NULL;
          input->rng_seed = (guint64) v;
          break;
        case CDL_TASK_FIELD_POOL_IDS:
          {
            JsonArray *array;
            guint n;

            if (!JSON_NODE_HOLDS_ARRAY (value))
              {
                invalid (error, "variable_pool_ids must be an array of pool ids");
                return NULL;
              }
            array = json_node_get_array (value);
            n = json_array_get_length (array);
            g_strfreev (input->pool_ids);
            input->pool_ids = g_new0 (char *, n + 1);
            for (guint i = 0; i < n; i++)
              {
                JsonNode *id = json_array_get_element (array, i);

                if (!JSON_NODE_HOLDS_VALUE (id)
                    || json_node_get_value_type (id) != G_TYPE_STRING)
                  {
                    invalid (error, "variable_pool_ids[%u] must be a string", i);
                    return NULL;
                  }
                input->pool_ids[i] = g_strdup (json_node_get_string (id));
              }
          }
          break;
        default:
          invalid (error, "%s is not a task field; known fields are workflow_id, "
                          "variable_pool_ids, target_prompts, seeds_per_prompt, notes, "
                          "prompt_template, name and rng_seed", member);
          return NULL;
        }

      input->set |= field;
    }

  if (!cdl_task_input_validate (input, for_create, error))
    return NULL;

  return g_steal_pointer (&input);
}
