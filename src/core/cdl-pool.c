/* cdl-pool.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-core"

#include "config.h"

#include <string.h>

#include "core/cdl-json.h"
#include "core/cdl-pool.h"
#include "core/cdl-worker-input.h"

const char *
cdl_pool_mode_to_string (CdlPoolMode mode)
{
  switch (mode)
    {
    case CDL_POOL_MODE_NO_REPLACEMENT:
      return "no_replacement";
    case CDL_POOL_MODE_PERMUTATION:
      return "permutation";
    default:
      g_return_val_if_reached ("no_replacement");
    }
}

gboolean
cdl_pool_mode_from_string (const char  *text,
                           CdlPoolMode *mode)
{
  if (g_strcmp0 (text, "no_replacement") == 0)
    *mode = CDL_POOL_MODE_NO_REPLACEMENT;
  else if (g_strcmp0 (text, "permutation") == 0)
    *mode = CDL_POOL_MODE_PERMUTATION;
  else
    return FALSE;

  return TRUE;
}

gboolean
cdl_pool_name_is_valid (const char *name)
{
  gsize len;

  if (name == NULL || *name == '\0')
    return FALSE;

  len = strlen (name);
  if (len > CDL_POOL_NAME_MAX)
    return FALSE;

  if (!g_ascii_isalpha (name[0]) && name[0] != '_')
    return FALSE;

  for (gsize i = 1; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_')
      return FALSE;

  return TRUE;
}

/* The record ---------------------------------------------------------------- */

struct _CdlPool
{
  GObject      parent_instance;
  CdlPoolData  data;
};

G_DEFINE_FINAL_TYPE (CdlPool, cdl_pool, G_TYPE_OBJECT)

void
cdl_pool_data_clear (CdlPoolData *data)
{
  g_clear_pointer (&data->id, g_free);
  g_clear_pointer (&data->name, g_free);
  g_clear_pointer (&data->items, g_strfreev);
  g_clear_pointer (&data->version_created_at, g_date_time_unref);
  g_clear_pointer (&data->created_at, g_date_time_unref);
  g_clear_pointer (&data->updated_at, g_date_time_unref);
}

static void
cdl_pool_finalize (GObject *object)
{
  CdlPool *self = (CdlPool *)object;

  cdl_pool_data_clear (&self->data);

  G_OBJECT_CLASS (cdl_pool_parent_class)->finalize (object);
}

static void
cdl_pool_class_init (CdlPoolClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdl_pool_finalize;
}

static void
cdl_pool_init (CdlPool *self)
{
}

CdlPool *
cdl_pool_new (CdlPoolData *data)
{
  CdlPool *self;

  g_return_val_if_fail (data != NULL, NULL);

  self = g_object_new (CDL_TYPE_POOL, NULL);
  self->data = *data;
  memset (data, 0, sizeof *data);

  if (self->data.items == NULL)
    self->data.items = g_new0 (char *, 1);

  return self;
}

const CdlPoolData *
cdl_pool_get_data (CdlPool *self)
{
  g_return_val_if_fail (CDL_IS_POOL (self), NULL);

  return &self->data;
}

const char *
cdl_pool_get_id (CdlPool *self)
{
  g_return_val_if_fail (CDL_IS_POOL (self), NULL);

  return self->data.id;
}

const char *
cdl_pool_get_name (CdlPool *self)
{
  g_return_val_if_fail (CDL_IS_POOL (self), NULL);

  return self->data.name;
}

CdlPoolMode
cdl_pool_get_mode (CdlPool *self)
{
  g_return_val_if_fail (CDL_IS_POOL (self), CDL_POOL_MODE_NO_REPLACEMENT);

  return self->data.mode;
}

int
cdl_pool_get_version (CdlPool *self)
{
  g_return_val_if_fail (CDL_IS_POOL (self), 0);

  return self->data.version;
}

int
cdl_pool_get_current_version (CdlPool *self)
{
  g_return_val_if_fail (CDL_IS_POOL (self), 0);

  return self->data.current_version;
}

const char * const *
cdl_pool_get_items (CdlPool *self)
{
  g_return_val_if_fail (CDL_IS_POOL (self), NULL);

  return (const char * const *) self->data.items;
}

guint
cdl_pool_get_n_items (CdlPool *self)
{
  g_return_val_if_fail (CDL_IS_POOL (self), 0);

  return g_strv_length (self->data.items);
}

JsonNode *
cdl_pool_to_json (CdlPool  *self,
                  gboolean  with_items)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();

  g_return_val_if_fail (CDL_IS_POOL (self), NULL);

  json_builder_begin_object (b);
  cdl_json_add_string_or_null (b, "id", self->data.id);
  cdl_json_add_string_or_null (b, "name", self->data.name);
  cdl_json_add_string_or_null (b, "mode", cdl_pool_mode_to_string (self->data.mode));
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, self->data.version);
  json_builder_set_member_name (b, "current_version");
  json_builder_add_int_value (b, self->data.current_version);
  json_builder_set_member_name (b, "item_count");
  json_builder_add_int_value (b, g_strv_length (self->data.items));
  if (with_items)
    cdl_json_add_strv (b, "items", (const char * const *) self->data.items);
  cdl_json_add_datetime (b, "version_created_at", self->data.version_created_at);
  cdl_json_add_datetime (b, "created_at", self->data.created_at);
  cdl_json_add_datetime (b, "updated_at", self->data.updated_at);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

/* Input ---------------------------------------------------------------------- */

CdlPoolInput *
cdl_pool_input_new (void)
{
  return g_new0 (CdlPoolInput, 1);
}

void
cdl_pool_input_free (CdlPoolInput *input)
{
  if (input == NULL)
    return;

  g_free (input->name);
  g_strfreev (input->items);
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

gboolean
cdl_pool_input_validate (CdlPoolInput  *input,
                         gboolean       for_create,
                         GError       **error)
{
  g_return_val_if_fail (input != NULL, FALSE);

  if (for_create && !(input->set & CDL_POOL_FIELD_NAME))
    return invalid (error, "name is required, e.g. \"lighting\"");
  if (for_create && !(input->set & CDL_POOL_FIELD_MODE))
    return invalid (error, "mode is required: \"no_replacement\" or \"permutation\"");
  if (for_create && !(input->set & CDL_POOL_FIELD_ITEMS))
    return invalid (error, "items is required: an array of strings");
  if (!for_create && (input->set & CDL_POOL_FIELD_NAME))
    return invalid (error, "name cannot change: templates use it as their {slot}; "
                           "create a new pool instead");
  if (!for_create && input->set == 0)
    return invalid (error, "Nothing to update: give items, mode or both");

  if (input->set & CDL_POOL_FIELD_NAME)
    {
      g_autofree char *trimmed = g_strstrip (g_strdup (input->name ? input->name : ""));

      if (!cdl_pool_name_is_valid (trimmed))
        return invalid (error, "name \"%s\" is not a valid slot name: use letters, digits "
                               "and _, not starting with a digit, at most %d characters",
                        trimmed, CDL_POOL_NAME_MAX);
      g_free (input->name);
      input->name = g_steal_pointer (&trimmed);
    }

  if (input->set & CDL_POOL_FIELD_ITEMS)
    {
      g_autoptr(GPtrArray) clean = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

      for (guint i = 0; input->items != NULL && input->items[i] != NULL; i++)
        {
          g_autofree char *item = g_strstrip (g_strdup (input->items[i]));

          if (*item == '\0')
            continue;
          if (!g_utf8_validate (item, -1, NULL))
            return invalid (error, "items[%u] is not valid UTF-8", i);
          if (g_utf8_strlen (item, -1) > CDL_POOL_ITEM_MAX_CHARS)
            return invalid (error, "items[%u] is longer than %d characters",
                            i, CDL_POOL_ITEM_MAX_CHARS);
          if (g_hash_table_contains (seen, item))
            continue;

          g_hash_table_add (seen, item);
          g_ptr_array_add (clean, g_steal_pointer (&item));
        }

      if (clean->len == 0)
        return invalid (error, "items must hold at least one non-empty string");
      if (clean->len > CDL_POOL_ITEMS_MAX)
        return invalid (error, "items has %u distinct entries; at most %d are allowed",
                        clean->len, CDL_POOL_ITEMS_MAX);

      g_ptr_array_add (clean, NULL);
      g_strfreev (input->items);
      input->items = (char **) g_ptr_array_free (g_steal_pointer (&clean), FALSE);
    }

  return TRUE;
}

CdlPoolInput *
cdl_pool_input_from_json (JsonNode  *node,
                          gboolean   for_create,
                          GError   **error)
{
  g_autoptr(CdlPoolInput) input = cdl_pool_input_new ();
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

      if (strcmp (member, "name") == 0)
        {
          if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
            {
              invalid (error, "name must be a string");
              return NULL;
            }
          g_free (input->name);
          input->name = g_strdup (json_node_get_string (value));
          input->set |= CDL_POOL_FIELD_NAME;
        }
      else if (strcmp (member, "mode") == 0)
        {
          if (!JSON_NODE_HOLDS_VALUE (value)
              || json_node_get_value_type (value) != G_TYPE_STRING
              || !cdl_pool_mode_from_string (json_node_get_string (value), &input->mode))
            {
              invalid (error, "mode must be \"no_replacement\" or \"permutation\"");
              return NULL;
            }
          input->set |= CDL_POOL_FIELD_MODE;
        }
      else if (strcmp (member, "items") == 0)
        {
          JsonArray *array;
          guint n;

          if (!JSON_NODE_HOLDS_ARRAY (value))
            {
              invalid (error, "items must be an array of strings");
              return NULL;
            }
          array = json_node_get_array (value);
          n = json_array_get_length (array);
          g_strfreev (input->items);
          input->items = g_new0 (char *, n + 1);
          for (guint i = 0; i < n; i++)
            {
              JsonNode *item = json_array_get_element (array, i);

              if (!JSON_NODE_HOLDS_VALUE (item)
                  || json_node_get_value_type (item) != G_TYPE_STRING)
                {
                  invalid (error, "items[%u] must be a string", i);
                  return NULL;
                }
              input->items[i] = g_strdup (json_node_get_string (item));
            }
          input->set |= CDL_POOL_FIELD_ITEMS;
        }
      else
        {
          invalid (error, "%s is not a pool field; known fields are name, mode and items",
                   member);
          return NULL;
        }
    }

  if (!cdl_pool_input_validate (input, for_create, error))
    return NULL;

  return g_steal_pointer (&input);
}
