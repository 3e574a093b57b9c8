/* cdl-settings.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-core"

#include "config.h"

#include <string.h>

#include "core/cdl-settings.h"
#include "core/cdl-worker-input.h"

#define NODE_TYPE_NAME_MAX 256

static const char * const setting_keys[] = {
  CDL_SETTING_MAX_WORKFLOW_BATCH_SIZE,
  CDL_SETTING_RESOLUTION_MIN_SIDE,
  CDL_SETTING_RESOLUTION_MAX_SIDE,
  CDL_SETTING_RESOLUTION_MAX_PIXELS,
  CDL_SETTING_FORBIDDEN_NODE_TYPES,
  CDL_SETTING_CONTROLNET_ALLOWED,
  CDL_SETTING_QUEUE_DEPTH_THRESHOLD,
  CDL_SETTING_PILOT_RATE_LIMIT_SECONDS,
  CDL_SETTING_FREE_EVERY_N_JOBS,
  NULL
};

G_DEFINE_BOXED_TYPE (CdlSettings, cdl_settings, cdl_settings_copy, cdl_settings_free)

CdlSettings *
cdl_settings_new (void)
{
  CdlSettings *settings = g_new0 (CdlSettings, 1);

  settings->max_workflow_batch_size = 8;
  settings->resolution_min_side = 256;
  settings->resolution_max_side = 2048;
  settings->resolution_max_pixels = 2048 * 2048;
  settings->forbidden_node_types = g_new0 (char *, 1);
  settings->controlnet_allowed = TRUE;
  settings->queue_depth_threshold = 1;
  settings->pilot_rate_limit_seconds = 30;
  settings->free_every_n_jobs = 50;

  return settings;
}

CdlSettings *
cdl_settings_copy (const CdlSettings *settings)
{
  CdlSettings *copy;

  g_return_val_if_fail (settings != NULL, NULL);

  copy = g_memdup2 (settings, sizeof *settings);
  copy->forbidden_node_types = g_strdupv (settings->forbidden_node_types);
  if (copy->forbidden_node_types == NULL)
    copy->forbidden_node_types = g_new0 (char *, 1);

  return copy;
}

void
cdl_settings_free (CdlSettings *settings)
{
  if (settings == NULL)
    return;

  g_strfreev (settings->forbidden_node_types);
  g_free (settings);
}

const char * const *
cdl_settings_get_keys (void)
{
  return setting_keys;
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
read_int (JsonNode    *value,
          const char  *key,
          int          min,
          int          max,
          int         *out,
          GError     **error)
{
  gint64 v;

  if (value == NULL || !JSON_NODE_HOLDS_VALUE (value)
      || json_node_get_value_type (value) != G_TYPE_INT64)
    return invalid (error, "%s must be a whole number between %d and %d",
                    key, min, max);

  v = json_node_get_int (value);
  if (v < min || v > max)
    return invalid (error, "%s must be between %d and %d, not %" G_GINT64_FORMAT,
                    key, min, max, v);

  *out = (int) v;

  return TRUE;
}

static gboolean
read_node_types (JsonNode     *value,
                 const char   *key,
                 char       ***out,
                 GError      **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);
  JsonArray *array;
  guint n;

  if (value == NULL || !JSON_NODE_HOLDS_ARRAY (value))
    return invalid (error, "%s must be an array of node class names, "
                           "e.g. [\"OpenAIDalle3\"]", key);

  array = json_node_get_array (value);
  n = json_array_get_length (array);
  if (n > CDL_SETTINGS_FORBIDDEN_MAX)
    return invalid (error, "%s has %u entries; at most %d are allowed",
                    key, n, CDL_SETTINGS_FORBIDDEN_MAX);

  for (guint i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      g_autofree char *name = NULL;

      if (!JSON_NODE_HOLDS_VALUE (element)
          || json_node_get_value_type (element) != G_TYPE_STRING)
        return invalid (error, "%s[%u] must be a string", key, i);

      name = g_strstrip (g_strdup (json_node_get_string (element)));
      if (*name == '\0')
        return invalid (error, "%s[%u] is empty", key, i);
      if (strlen (name) > NODE_TYPE_NAME_MAX)
        return invalid (error, "%s[%u] is longer than %d characters",
                        key, i, NODE_TYPE_NAME_MAX);
      for (const char *p = name; *p != '\0'; p++)
        if ((guchar) *p < 0x20 || (guchar) *p == 0x7f)
          return invalid (error, "%s[%u] must not contain control characters",
                          key, i);

      if (g_hash_table_contains (seen, name))
        continue;

      g_strv_builder_add (builder, name);
      g_hash_table_add (seen, g_steal_pointer (&name));
    }

  g_strfreev (*out);
  *out = g_strv_builder_end (builder);

  return TRUE;
}

gboolean
cdl_settings_set_member (CdlSettings  *settings,
                         const char   *key,
                         JsonNode     *value,
                         GError      **error)
{
  g_return_val_if_fail (settings != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  if (strcmp (key, CDL_SETTING_MAX_WORKFLOW_BATCH_SIZE) == 0)
    return read_int (value, key, 1, CDL_SETTINGS_BATCH_SIZE_LIMIT,
                     &settings->max_workflow_batch_size, error);

  if (strcmp (key, CDL_SETTING_RESOLUTION_MIN_SIDE) == 0)
    return read_int (value, key, 1, CDL_SETTINGS_SIDE_LIMIT,
                     &settings->resolution_min_side, error);

  if (strcmp (key, CDL_SETTING_RESOLUTION_MAX_SIDE) == 0)
    return read_int (value, key, 1, CDL_SETTINGS_SIDE_LIMIT,
                     &settings->resolution_max_side, error);

  if (strcmp (key, CDL_SETTING_RESOLUTION_MAX_PIXELS) == 0)
    return read_int (value, key, 1, G_MAXINT,
                     &settings->resolution_max_pixels, error);

  if (strcmp (key, CDL_SETTING_FORBIDDEN_NODE_TYPES) == 0)
    return read_node_types (value, key, &settings->forbidden_node_types, error);

  if (strcmp (key, CDL_SETTING_CONTROLNET_ALLOWED) == 0)
    {
      if (value == NULL || !JSON_NODE_HOLDS_VALUE (value)
          || json_node_get_value_type (value) != G_TYPE_BOOLEAN)
        return invalid (error, "%s must be true or false", key);

      settings->controlnet_allowed = json_node_get_boolean (value);
      return TRUE;
    }

  if (strcmp (key, CDL_SETTING_QUEUE_DEPTH_THRESHOLD) == 0)
    return read_int (value, key, 1, 1024,
                     &settings->queue_depth_threshold, error);

  if (strcmp (key, CDL_SETTING_PILOT_RATE_LIMIT_SECONDS) == 0)
    return read_int (value, key, 0, 86400,
                     &settings->pilot_rate_limit_seconds, error);

  if (strcmp (key, CDL_SETTING_FREE_EVERY_N_JOBS) == 0)
    return read_int (value, key, 0, 1000000,
                     &settings->free_every_n_jobs, error);

  {
    g_autofree char *known = g_strjoinv (", ", (char **) setting_keys);

    return invalid (error, "%s is not a setting; known settings are %s",
                    key, known);
  }
}

gboolean
cdl_settings_validate (const CdlSettings  *settings,
                       GError            **error)
{
  g_return_val_if_fail (settings != NULL, FALSE);

  if (settings->resolution_min_side > settings->resolution_max_side)
    return invalid (error, "%s (%d) must not be larger than %s (%d)",
                    CDL_SETTING_RESOLUTION_MIN_SIDE,
                    settings->resolution_min_side,
                    CDL_SETTING_RESOLUTION_MAX_SIDE,
                    settings->resolution_max_side);

  if ((gint64) settings->resolution_min_side * settings->resolution_min_side
      > settings->resolution_max_pixels)
    return invalid (error, "%s (%d) is below the smallest image that "
                           "%s allows (%d × %d)",
                    CDL_SETTING_RESOLUTION_MAX_PIXELS,
                    settings->resolution_max_pixels,
                    CDL_SETTING_RESOLUTION_MIN_SIDE,
                    settings->resolution_min_side,
                    settings->resolution_min_side);

  return TRUE;
}

CdlSettings *
cdl_settings_apply_patch (const CdlSettings  *base,
                          JsonNode           *patch,
                          GError            **error)
{
  g_autoptr(CdlSettings) settings = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *obj;

  g_return_val_if_fail (base != NULL, NULL);

  if (patch == NULL || !JSON_NODE_HOLDS_OBJECT (patch))
    {
      invalid (error, "The body must be a JSON object of settings, "
                      "e.g. {\"max_workflow_batch_size\": 8}");
      return NULL;
    }

  obj = json_node_get_object (patch);
  if (json_object_get_size (obj) == 0)
    {
      invalid (error, "Nothing to update: give at least one setting");
      return NULL;
    }

  settings = cdl_settings_copy (base);
  members = json_object_get_members (obj);

  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;

      if (!cdl_settings_set_member (settings, key,
                                    json_object_get_member (obj, key), error))
        return NULL;
    }

  if (!cdl_settings_validate (settings, error))
    return NULL;

  return g_steal_pointer (&settings);
}

JsonNode *
cdl_settings_get_member (const CdlSettings *settings,
                         const char        *key)
{
  int v;

  g_return_val_if_fail (settings != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  if (strcmp (key, CDL_SETTING_FORBIDDEN_NODE_TYPES) == 0)
    {
      JsonArray *array = json_array_new ();
      JsonNode *node;

      for (guint i = 0; settings->forbidden_node_types != NULL
                        && settings->forbidden_node_types[i] != NULL; i++)
        json_array_add_string_element (array, settings->forbidden_node_types[i]);

      node = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (node, array);
      return node;
    }

  if (strcmp (key, CDL_SETTING_CONTROLNET_ALLOWED) == 0)
    return json_node_init_boolean (json_node_alloc (),
                                   settings->controlnet_allowed);

  if (strcmp (key, CDL_SETTING_MAX_WORKFLOW_BATCH_SIZE) == 0)
    v = settings->max_workflow_batch_size;
  else if (strcmp (key, CDL_SETTING_RESOLUTION_MIN_SIDE) == 0)
    v = settings->resolution_min_side;
  else if (strcmp (key, CDL_SETTING_RESOLUTION_MAX_SIDE) == 0)
    v = settings->resolution_max_side;
  else if (strcmp (key, CDL_SETTING_RESOLUTION_MAX_PIXELS) == 0)
    v = settings->resolution_max_pixels;
  else if (strcmp (key, CDL_SETTING_QUEUE_DEPTH_THRESHOLD) == 0)
    v = settings->queue_depth_threshold;
  else if (strcmp (key, CDL_SETTING_PILOT_RATE_LIMIT_SECONDS) == 0)
    v = settings->pilot_rate_limit_seconds;
  else if (strcmp (key, CDL_SETTING_FREE_EVERY_N_JOBS) == 0)
    v = settings->free_every_n_jobs;
  else
    return NULL;

  return json_node_init_int (json_node_alloc (), v);
}

JsonNode *
cdl_settings_to_json (const CdlSettings *settings)
{
  JsonObject *obj;
  JsonNode *node;

  g_return_val_if_fail (settings != NULL, NULL);

  obj = json_object_new ();
  for (guint i = 0; setting_keys[i] != NULL; i++)
    json_object_set_member (obj, setting_keys[i],
                            cdl_settings_get_member (settings, setting_keys[i]));

  node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, obj);

  return node;
}

gboolean
cdl_settings_forbids_node (const CdlSettings *settings,
                           const char        *class_type)
{
  g_return_val_if_fail (settings != NULL, FALSE);

  if (class_type == NULL)
    return FALSE;

  if (settings->forbidden_node_types != NULL
      && g_strv_contains ((const char * const *) settings->forbidden_node_types,
                          class_type))
    return TRUE;

  if (!settings->controlnet_allowed && strstr (class_type, "ControlNet") != NULL)
    return TRUE;

  return FALSE;
}
