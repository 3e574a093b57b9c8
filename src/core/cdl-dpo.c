/* cdl-dpo.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-core"

#include "config.h"

#include <json-glib/json-glib.h>

#include "core/cdl-dpo.h"
#include "core/cdl-json.h"

G_DEFINE_QUARK (cdl-dpo-error-quark, cdl_dpo_error)

static void
add_image (JsonBuilder       *b,
           const CdlDpoImage *image,
           const char        *uri_base)
{
  g_autofree char *uri = g_strconcat (uri_base ? uri_base : "", image->uri, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "uri");
  json_builder_add_string_value (b, uri);
  json_builder_set_member_name (b, "seed");
  json_builder_add_int_value (b, image->seed);
  json_builder_set_member_name (b, "batch_index");
  json_builder_add_int_value (b, image->batch_index);
  cdl_json_add_string_or_null (b, "checksum", image->checksum);
  json_builder_end_object (b);
}

static gboolean
check_record (const CdlDpoRecord  *r,
              GError             **error)
{
  int n = (int)r->n_images;

  if (n < 2)
    {
      g_set_error (error, CDL_DPO_ERROR, CDL_DPO_ERROR_INVALID,
                   "Batch %s has %d image(s); a preference needs two", r->batch_id, n);
      return FALSE;
    }
  if (r->chosen_index < 0 || r->chosen_index >= n)
    {
      g_set_error (error, CDL_DPO_ERROR, CDL_DPO_ERROR_INVALID,
                   "chosen_index %d is outside batch %s of %d images",
                   r->chosen_index, r->batch_id, n);
      return FALSE;
    }
  if (r->rejected_index >= n || r->rejected_index == r->chosen_index
      || r->rejected_index < -1)
    {
      g_set_error (error, CDL_DPO_ERROR, CDL_DPO_ERROR_INVALID,
                   "rejected_index %d is not another image of batch %s",
                   r->rejected_index, r->batch_id);
      return FALSE;
    }

  return TRUE;
}

static void
add_ids (JsonBuilder        *b,
         const CdlDpoRecord *r)
{
  cdl_json_add_string_or_null (b, "workflow_id", r->workflow_id);
  cdl_json_add_string_or_null (b, "model", r->model);
  cdl_json_add_string_or_null (b, "variable_pool_version", r->variable_pool_version);
  cdl_json_add_string_or_null (b, "created_at", r->created_at);
  cdl_json_add_string_or_null (b, "task_id", r->task_id);
  cdl_json_add_string_or_null (b, "batch_id", r->batch_id);
  cdl_json_add_string_or_null (b, "annotator_id", r->annotator_id);
}

static void
add_pair_side (JsonBuilder       *b,
               const char        *suffix,
               const CdlDpoImage *image,
               const char        *uri_base)
{
  g_autofree char *uri = g_strconcat (uri_base ? uri_base : "", image->uri, NULL);
  g_autofree char *jpg = g_strconcat ("jpg", suffix, NULL);
  g_autofree char *seed = g_strconcat ("seed", suffix, NULL);
  g_autofree char *index = g_strconcat ("batch_index", suffix, NULL);
  g_autofree char *checksum = g_strconcat ("checksum", suffix, NULL);

  json_builder_set_member_name (b, jpg);
  json_builder_add_string_value (b, uri);
  json_builder_set_member_name (b, seed);
  json_builder_add_int_value (b, image->seed);
  json_builder_set_member_name (b, index);
  json_builder_add_int_value (b, image->batch_index);
  cdl_json_add_string_or_null (b, checksum, image->checksum);
}

int
cdl_dpo_pairs_build (const CdlDpoRecord  *r,
                     GString             *out,
                     GError             **error)
{
  int lines = 0;

  g_return_val_if_fail (r != NULL && out != NULL, -1);

  if (!check_record (r, error))
    return -1;

  for (int i = 0; i < (int)r->n_images; i++)
    {
      g_autoptr(JsonBuilder) b = NULL;
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;
      gboolean chosen_first;

      if (i == r->chosen_index || (r->rejected_index >= 0 && i != r->rejected_index))
        continue;

      chosen_first = (r->chosen_index + i + lines) % 2 == 0;

      b = json_builder_new_immutable ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "caption");
      json_builder_add_string_value (b, r->prompt);
      add_pair_side (b, "_0", &r->images[chosen_first ? r->chosen_index : i], r->uri_base);
      add_pair_side (b, "_1", &r->images[chosen_first ? i : r->chosen_index], r->uri_base);
      json_builder_set_member_name (b, "label_0");
      json_builder_add_int_value (b, chosen_first ? 1 : 0);
      add_ids (b, r);
      json_builder_end_object (b);

      root = json_builder_get_root (b);
      text = cdl_json_to_string (root, FALSE);
      g_string_append (out, text);
      g_string_append_c (out, '\n');
      lines++;
    }

  return lines;
}

char *
cdl_dpo_line_build (const CdlDpoRecord  *r,
                    GError             **error)
{
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(JsonNode) root = NULL;
  int n;

  g_return_val_if_fail (r != NULL, NULL);
  g_return_val_if_fail (r->n_images == 0 || r->images != NULL, NULL);

  if (!check_record (r, error))
    return NULL;
  n = (int)r->n_images;

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "prompt");
  json_builder_add_string_value (b, r->prompt);
  json_builder_set_member_name (b, "chosen");
  add_image (b, &r->images[r->chosen_index], r->uri_base);
  json_builder_set_member_name (b, "rejected");
  json_builder_begin_array (b);
  for (int i = 0; i < n; i++)
    {
      if (i == r->chosen_index)
        continue;
      if (r->rejected_index >= 0 && i != r->rejected_index)
        continue;
      add_image (b, &r->images[i], r->uri_base);
    }
  json_builder_end_array (b);
  add_ids (b, r);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  return cdl_json_to_string (root, FALSE);
}
