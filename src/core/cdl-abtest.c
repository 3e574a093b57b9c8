/* cdl-abtest.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "core/cdl-abtest.h"
#include "core/cdl-worker-input.h"

#define KEY_MAX 64

void
cdl_ab_variant_free (CdlAbVariant *variant)
{
  if (variant == NULL)
    return;

  g_free (variant->key);
  g_free (variant->media_base_url);
  g_free (variant);
}

static gboolean
invalid (GError    **error,
         guint       i,
         const char *field,
         const char *what)
{
  g_set_error (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID,
               "variants[%u]%s%s %s", i, *field ? "." : "", field, what);
  return FALSE;
}

static gboolean
parse_config (JsonNode     *node,
              guint         i,
              CdlAbVariant *v,
              GError      **error)
{
  JsonObject *obj;
  g_autoptr(GList) members = NULL;

  v->prefetch_batches = CDL_ABTEST_PREFETCH_DEFAULT;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return invalid (error, i, "config", "must be an object");

  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *m = json_object_get_member (obj, name);
      GType type = JSON_NODE_HOLDS_VALUE (m) ? json_node_get_value_type (m) : G_TYPE_INVALID;

      if (strcmp (name, "prefetch_batches") == 0)
        {
          if (type != G_TYPE_INT64 || json_node_get_int (m) < 0
              || json_node_get_int (m) > CDL_ABTEST_PREFETCH_MAX)
            return invalid (error, i, "config.prefetch_batches",
                            "must be a whole number from 0 to 50");
          v->prefetch_batches = (int)json_node_get_int (m);
        }
      else if (strcmp (name, "prefetch_full") == 0)
        {
          if (type != G_TYPE_BOOLEAN)
            return invalid (error, i, "config.prefetch_full", "must be true or false");
          v->prefetch_full = json_node_get_boolean (m);
        }
      else if (strcmp (name, "media_base_url") == 0)
        {
          const char *url;

          if (JSON_NODE_HOLDS_NULL (m))
            continue;
          if (type != G_TYPE_STRING)
            return invalid (error, i, "config.media_base_url", "must be a URL or null");
          url = json_node_get_string (m);
          if (!(g_str_has_prefix (url, "https://") || g_str_has_prefix (url, "http://")
                || (url[0] == '/' && url[1] != '/'))
              || strlen (url) > 2000 || strpbrk (url, " ?#\"") != NULL)
            return invalid (error, i, "config.media_base_url",
                            "must be an http(s):// URL or a path starting with /,"
                            " without query or fragment");
          v->media_base_url = g_str_has_suffix (url, "/") ? g_strdup (url)
                                                          : g_strconcat (url, "/", NULL);
        }
      else
        {
          g_set_error (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID,
                       "variants[%u].config.%s is not a known setting (prefetch_batches,"
                       " prefetch_full, media_base_url)", i, name);
          return FALSE;
        }
    }

  return TRUE;
}

GPtrArray *
cdl_abtest_parse_variants (JsonNode  *node,
                           GError   **error)
{
  g_autoptr(GPtrArray) variants = NULL;
  JsonArray *array;
  double sum = 0;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node)
      || json_array_get_length (json_node_get_array (node)) < 2)
    {
      g_set_error_literal (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID,
                           "variants must be an array of at least two {key, weight, config}");
      return NULL;
    }

  array = json_node_get_array (node);
  variants = g_ptr_array_new_with_free_func ((GDestroyNotify)cdl_ab_variant_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *e = json_array_get_element (array, i);
      g_autoptr(CdlAbVariant) v = g_new0 (CdlAbVariant, 1);
      JsonObject *obj;
      JsonNode *m;
      const char *key;

      if (!JSON_NODE_HOLDS_OBJECT (e))
        {
          invalid (error, i, "", "must be an object {key, weight, config}");
          return NULL;
        }
      obj = json_node_get_object (e);

      m = json_object_get_member (obj, "key");
      if (m == NULL || !JSON_NODE_HOLDS_VALUE (m)
          || json_node_get_value_type (m) != G_TYPE_STRING)
        {
          invalid (error, i, "key", "is required and must be a string");
          return NULL;
        }
      key = json_node_get_string (m);
      if (*key == '\0' || strlen (key) > KEY_MAX || !g_utf8_validate (key, -1, NULL))
        {
          invalid (error, i, "key", "must be 1 to 64 characters");
          return NULL;
        }
      if (cdl_abtest_find (variants, key) != NULL)
        {
          g_set_error (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID,
                       "variants[%u].key \"%s\" is used twice; keys must be unique", i, key);
          return NULL;
        }
      v->key = g_strdup (key);

      m = json_object_get_member (obj, "weight");
      if (m == NULL || !JSON_NODE_HOLDS_VALUE (m)
          || (json_node_get_value_type (m) != G_TYPE_DOUBLE
              && json_node_get_value_type (m) != G_TYPE_INT64)
          || !(json_node_get_double (m) > 0) || !isfinite (json_node_get_double (m)))
        {
          invalid (error, i, "weight", "must be a number above 0");
          return NULL;
        }
      v->weight = json_node_get_double (m);
      sum += v->weight;

      if (!parse_config (json_object_get_member (obj, "config"), i, v, error))
        return NULL;

      g_ptr_array_add (variants, g_steal_pointer (&v));
    }

  if (fabs (sum - 1.0) > CDL_ABTEST_WEIGHT_TOLERANCE)
    {
      g_set_error (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID,
                   "variants: the weights sum to %g; they must sum to 1 (±%g)", sum,
                   CDL_ABTEST_WEIGHT_TOLERANCE);
      return NULL;
    }

  return g_steal_pointer (&variants);
}

void
cdl_abtest_add_config (JsonBuilder        *b,
                       const CdlAbVariant *v)
{
  json_builder_set_member_name (b, "config");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "prefetch_batches");
  json_builder_add_int_value (b, v->prefetch_batches);
  json_builder_set_member_name (b, "prefetch_full");
  json_builder_add_boolean_value (b, v->prefetch_full);
  json_builder_set_member_name (b, "media_base_url");
  if (v->media_base_url != NULL)
    json_builder_add_string_value (b, v->media_base_url);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
}

JsonNode *
cdl_abtest_variants_to_json (GPtrArray *variants)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();

  json_builder_begin_array (b);
  for (guint i = 0; i < variants->len; i++)
    {
      const CdlAbVariant *v = g_ptr_array_index (variants, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "key");
      json_builder_add_string_value (b, v->key);
      json_builder_set_member_name (b, "weight");
      json_builder_add_double_value (b, v->weight);
      cdl_abtest_add_config (b, v);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  return json_builder_get_root (b);
}

const CdlAbVariant *
cdl_abtest_find (GPtrArray  *variants,
                 const char *key)
{
  for (guint i = 0; key != NULL && i < variants->len; i++)
    {
      const CdlAbVariant *v = g_ptr_array_index (variants, i);

      if (strcmp (v->key, key) == 0)
        return v;
    }

  return NULL;
}

double
cdl_abtest_unit (const char *test_id,
                 const char *user_id)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize len = sizeof digest;
  guint64 x = 0;

  g_return_val_if_fail (test_id != NULL && user_id != NULL, 0);

  g_checksum_update (checksum, (const guchar *)test_id, strlen (test_id));
  g_checksum_update (checksum, (const guchar *)"/", 1);
  g_checksum_update (checksum, (const guchar *)user_id, strlen (user_id));
  g_checksum_get_digest (checksum, digest, &len);

  for (guint i = 0; i < 8; i++)
    x = (x << 8) | digest[i];

  /* The top 53 bits: exact in a double, and strictly below 1. */
  return (double)(x >> 11) / 9007199254740992.0;
}

guint
cdl_abtest_pick (GPtrArray *variants,
                 double     u)
{
  double sum = 0, acc = 0, target;

  g_return_val_if_fail (variants != NULL && variants->len > 0, 0);

  for (guint i = 0; i < variants->len; i++)
    sum += ((CdlAbVariant *)g_ptr_array_index (variants, i))->weight;

  target = u * sum;
  for (guint i = 0; i + 1 < variants->len; i++)
    {
      acc += ((CdlAbVariant *)g_ptr_array_index (variants, i))->weight;
      if (target < acc)
        return i;
    }

  return variants->len - 1;
}
