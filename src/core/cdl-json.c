/* cdl-json.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "core/cdl-json.h"

void
cdl_json_add_datetime (JsonBuilder *builder,
                       const char  *member,
                       GDateTime   *dt)
{
  json_builder_set_member_name (builder, member);

  if (dt == NULL)
    {
      json_builder_add_null_value (builder);
    }
  else
    {
      g_autoptr(GDateTime) utc = g_date_time_to_utc (dt);
      g_autofree char *text = g_date_time_format (utc, "%Y-%m-%dT%H:%M:%S");

      /* g_date_time_format's %f gives microseconds; clients want millis. */
      g_autofree char *full = g_strdup_printf ("%s.%03dZ", text,
                                               g_date_time_get_microsecond (utc) / 1000);
      json_builder_add_string_value (builder, full);
    }
}

void
cdl_json_add_string_or_null (JsonBuilder *builder,
                             const char  *member,
                             const char  *value)
{
  json_builder_set_member_name (builder, member);

  if (value == NULL)
    json_builder_add_null_value (builder);
  else
    json_builder_add_string_value (builder, value);
}

void
cdl_json_add_strv (JsonBuilder        *builder,
                   const char         *member,
                   const char * const *strv)
{
  json_builder_set_member_name (builder, member);
  json_builder_begin_array (builder);

  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    json_builder_add_string_value (builder, strv[i]);

  json_builder_end_array (builder);
}

JsonNode *
cdl_json_parse (const char  *data,
                gssize       length,
                GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  if (data == NULL || length == 0)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                           "The body is empty; a JSON value was expected");
      return NULL;
    }

  if (!json_parser_load_from_data (parser, data, length, error))
    return NULL;

  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                           "The body holds no JSON value");
      return NULL;
    }

  return json_node_ref (root);
}

char *
cdl_json_to_string (JsonNode *node,
                    gboolean  pretty)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  json_generator_set_pretty (gen, pretty);
  json_generator_set_root (gen, node);

  return json_generator_to_data (gen, NULL);
}

JsonNode *
cdl_json_deep_copy (JsonNode *node)
{
  g_return_val_if_fail (node != NULL, NULL);

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *src = json_node_get_object (node);
        JsonObject *dst = json_object_new ();
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        JsonNode *copy;

        json_object_iter_init (&iter, src);
        while (json_object_iter_next (&iter, &name, &member))
          json_object_set_member (dst, name, cdl_json_deep_copy (member));

        copy = json_node_init_object (json_node_alloc (), dst);
        json_object_unref (dst);
        return copy;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *src = json_node_get_array (node);
        guint n = json_array_get_length (src);
        JsonArray *dst = json_array_sized_new (n);
        JsonNode *copy;

        for (guint i = 0; i < n; i++)
          json_array_add_element (dst, cdl_json_deep_copy (json_array_get_element (src, i)));

        copy = json_node_init_array (json_node_alloc (), dst);
        json_array_unref (dst);
        return copy;
      }
    case JSON_NODE_VALUE:
    case JSON_NODE_NULL:
    default:
      return json_node_copy (node);
    }
}
