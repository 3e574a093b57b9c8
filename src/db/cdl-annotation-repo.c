/* cdl-annotation-repo.c: batches, leases and annotations
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include "core/cdl-dpo.h"
#include "core/cdl-json.h"
#include "db/cdl-annotation-repo.h"
#include "db/cdl-pq.h"

/* The stored order of a batch's images, which indexes refer to. */
#define IMAGE_ORDER "ORDER BY s.position, g.batch_index"

/* The export's server-side cursor; one per connection at a time. */
#define EXPORT_CURSOR "cdl_dpo_export"

void
cdl_batch_free (CdlBatch *batch)
{
  if (batch == NULL)
    return;

  g_free (batch->batch_id);
  g_free (batch->prompt);
  g_strfreev (batch->image_ids);
  g_strfreev (batch->image_keys);
  g_strfreev (batch->thumb_keys);
  g_strfreev (batch->checksums);
  g_free (batch->seeds);
  g_free (batch->batch_indexes);
  g_free (batch);
}

static gboolean
check_uuid (const char  *id,
            const char  *what,
            GError     **error)
{
  if (id != NULL && g_uuid_string_is_valid (id))
    return TRUE;

  g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No %s with id %s", what,
               id ? id : "(none)");
  return FALSE;
}

gboolean
cdl_annotation_repo_check_task (PGconn      *conn,
                                const char  *task_id,
                                gboolean    *no_images,
                                int         *overlap,
                                GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { task_id };

  if (!check_uuid (task_id, "task", error))
    return FALSE;

  res = cdl_pq_exec (conn,
                     "SELECT CASE WHEN settings ->> 'overlap' ~ '^[0-9]{1,6}$'"
                     "            THEN greatest (1, (settings ->> 'overlap')::int) ELSE 1 END,"
                     "       EXISTS (SELECT 1 FROM annotation_batches WHERE task_id = $1)"
                     " FROM tasks WHERE id = $1",
                     1, params, error);
  if (res == NULL)
    return FALSE;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No task with id %s", task_id);
      return FALSE;
    }

  if (overlap != NULL)
    *overlap = cdl_pq_get_int (res, 0, 0);
  if (no_images != NULL)
    *no_images = !cdl_pq_get_bool (res, 0, 1);

  return TRUE;
}

/* Reads the batch rows of @res (prompt_id, text, first_at µs) and fills in
 * their images with one query. */
static GPtrArray *
batches_from_rows (PGconn          *conn,
                   const char      *task_id,
                   const PGresult  *res,
                   GError         **error)
{
  g_autoptr(GPtrArray) batches = g_ptr_array_new_with_free_func ((GDestroyNotify)cdl_batch_free);
  g_autoptr(GHashTable) by_id = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GStrvBuilder) ids = g_strv_builder_new ();
  g_autoptr(PGresult) images = NULL;
  g_auto(GStrv) id_list = NULL;
  g_autofree char *id_literal = NULL;
  const char *params[2];
  int n_rows = PQntuples (res);

  for (int i = 0; i < n_rows; i++)
    {
      CdlBatch *batch = g_new0 (CdlBatch, 1);

      batch->batch_id = g_strdup (cdl_pq_get_string (res, i, 0));
      batch->prompt = g_strdup (cdl_pq_get_string (res, i, 1));
      batch->first_at_us = cdl_pq_get_int64 (res, i, 2);
      g_ptr_array_add (batches, batch);
      g_hash_table_insert (by_id, batch->batch_id, batch);
      g_strv_builder_add (ids, batch->batch_id);
    }

  if (n_rows == 0)
    return g_steal_pointer (&batches);

  id_list = g_strv_builder_end (ids);
  id_literal = cdl_pq_strv_literal ((const char * const *)id_list);
  params[0] = task_id;
  params[1] = id_literal;

  images = cdl_pq_exec (conn,
                        "SELECT g.prompt_id,"
                        "  array_agg (g.id::text " IMAGE_ORDER "),"
                        "  array_agg (g.image_uri " IMAGE_ORDER "),"
                        "  array_agg (coalesce (g.thumb_uri, '') " IMAGE_ORDER "),"
                        "  array_agg (coalesce (g.checksum, '') " IMAGE_ORDER "),"
                        "  array_agg (g.seed_value::text " IMAGE_ORDER "),"
                        "  array_agg (g.batch_index::text " IMAGE_ORDER ")"
                        " FROM generations g JOIN seeds s ON s.id = g.seed_id"
                        " WHERE g.task_id = $1 AND g.prompt_id = ANY ($2::uuid[])"
                        "   AND g.state = 'done' AND g.image_uri IS NOT NULL"
                        " GROUP BY g.prompt_id",
                        2, params, error);
  if (images == NULL)
    return NULL;

  for (int i = 0; i < PQntuples (images); i++)
    {
      CdlBatch *batch = g_hash_table_lookup (by_id, cdl_pq_get_string (images, i, 0));
      g_auto(GStrv) seeds = NULL;
      g_auto(GStrv) indexes = NULL;

      if (batch == NULL)
        continue;

      batch->image_ids = cdl_pq_get_strv (images, i, 1);
      batch->image_keys = cdl_pq_get_strv (images, i, 2);
      batch->thumb_keys = cdl_pq_get_strv (images, i, 3);
      batch->checksums = cdl_pq_get_strv (images, i, 4);
      seeds = cdl_pq_get_strv (images, i, 5);
      indexes = cdl_pq_get_strv (images, i, 6);
      batch->n = g_strv_length (batch->image_ids);
      batch->seeds = g_new0 (gint64, batch->n + 1);
      batch->batch_indexes = g_new0 (int, batch->n + 1);
      for (guint j = 0; j < batch->n; j++)
        {
          batch->seeds[j] = g_ascii_strtoll (seeds[j], NULL, 10);
          batch->batch_indexes[j] = (int)g_ascii_strtoll (indexes[j], NULL, 10);
        }
    }

  /* A batch always has images; keep the vectors non-NULL regardless. */
  for (guint i = 0; i < batches->len; i++)
    {
      CdlBatch *batch = g_ptr_array_index (batches, i);

      if (batch->image_ids == NULL)
        {
          batch->image_ids = g_new0 (char *, 1);
          batch->image_keys = g_new0 (char *, 1);
          batch->thumb_keys = g_new0 (char *, 1);
          batch->checksums = g_new0 (char *, 1);
          batch->seeds = g_new0 (gint64, 1);
          batch->batch_indexes = g_new0 (int, 1);
        }
    }

  return g_steal_pointer (&batches);
}

#define BATCH_COLUMNS \
  "b.prompt_id, p.text, (extract (epoch FROM b.first_at) * 1000000)::bigint"

GPtrArray *
cdl_annotation_repo_list_batches (PGconn      *conn,
                                  const char  *task_id,
                                  gint64       after_us,
                                  const char  *after_id,
                                  guint        limit,
                                  GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *after = g_strdup_printf ("%" G_GINT64_FORMAT, after_us);
  g_autofree char *limit_text = g_strdup_printf ("%u", limit);
  const char *params[4] = { task_id, after, after_id, limit_text };

  if (!check_uuid (task_id, "task", error))
    return NULL;

  /* Rows compare as (first_at, prompt_id), the order of the partial
   * index, so a page is one index range scan wherever it starts. */
  if (after_id != NULL)
    res = cdl_pq_exec (conn,
                       "SELECT " BATCH_COLUMNS
                       " FROM annotation_batches b JOIN prompts p ON p.id = b.prompt_id"
                       " WHERE b.task_id = $1 AND b.images >= b.expected"
                       "   AND (b.first_at, b.prompt_id)"
                       "       > ('epoch'::timestamptz + $2::bigint * interval '1 microsecond',"
                       "          $3::uuid)"
                       " ORDER BY b.first_at, b.prompt_id LIMIT $4::int",
                       4, params, error);
  else
    {
      params[1] = limit_text;
      res = cdl_pq_exec (conn,
                         "SELECT " BATCH_COLUMNS
                         " FROM annotation_batches b JOIN prompts p ON p.id = b.prompt_id"
                         " WHERE b.task_id = $1 AND b.images >= b.expected"
                         " ORDER BY b.first_at, b.prompt_id LIMIT $2::int",
                         2, params, error);
    }
  if (res == NULL)
    return NULL;

  return batches_from_rows (conn, task_id, res, error);
}

/* The queue's condition: complete, not labelled by the user, fewer labels
 * and live leases of others than the overlap asks for. $1 task, $2 user,
 * $3 overlap. */
#define QUEUE_WHERE \
  " WHERE b.task_id = $1 AND b.images >= b.expected AND b.labels < $3::int" \
  "   AND NOT EXISTS (SELECT 1 FROM annotations a" \
  "                   WHERE a.task_id = $1 AND a.batch_id = b.prompt_id" \
  "                     AND a.user_id = $2)" \
  "   AND b.labels + (SELECT count (*) FROM batch_leases l" \
  "                   WHERE l.task_id = $1 AND l.batch_id = b.prompt_id" \
  "                     AND l.user_id <> $2 AND l.leased_until > now ()) < $3::int"

static CdlBatch *
single_batch (PGconn      *conn,
              const char  *task_id,
              PGresult    *res,
              GError     **error)
{
  g_autoptr(GPtrArray) batches = batches_from_rows (conn, task_id, res, error);

  if (batches == NULL || batches->len == 0)
    return NULL;

  return g_ptr_array_steal_index (batches, 0);
}

CdlBatch *
cdl_annotation_repo_lease_next (PGconn      *conn,
                                const char  *task_id,
                                const char  *user_id,
                                int          overlap,
                                guint        lease_s,
                                GError     **error)
{
  g_autoptr(PGresult) own = NULL;
  g_autoptr(PGresult) pick = NULL;
  g_autoptr(CdlBatch) batch = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *overlap_text = g_strdup_printf ("%d", overlap);
  g_autofree char *lease_text = g_strdup_printf ("%u", lease_s);
  const char *params[3] = { task_id, user_id, overlap_text };
  PGresult *chosen;

  if (!check_uuid (task_id, "task", error) || !check_uuid (user_id, "user", error))
    return NULL;

  if (!cdl_pq_begin (conn, error))
    return NULL;

  /* One hand-out at a time per task: each statement below then sees the
   * leases every earlier hand-out committed, so two annotators never get
   * the same batch beyond the overlap. */
  if (!cdl_pq_command (conn,
                       "SELECT pg_advisory_xact_lock (hashtext ('cdl_next_batch'),"
                       "                              hashtext ($1))",
                       1, params, &local_error))
    goto fail;

  /* Lapsed leases of this user go; others' lapse on their own. */
  if (!cdl_pq_command (conn,
                       "DELETE FROM batch_leases"
                       " WHERE task_id = $1 AND user_id = $2 AND leased_until <= now ()",
                       2, params, &local_error))
    goto fail;

  own = cdl_pq_exec (conn,
                     "SELECT " BATCH_COLUMNS
                     " FROM batch_leases l"
                     " JOIN annotation_batches b ON b.prompt_id = l.batch_id"
                     " JOIN prompts p ON p.id = b.prompt_id"
                     " WHERE l.task_id = $1 AND l.user_id = $2 AND l.leased_until > now ()"
                     "   AND NOT EXISTS (SELECT 1 FROM annotations a"
                     "                   WHERE a.task_id = $1 AND a.batch_id = l.batch_id"
                     "                     AND a.user_id = $2)"
                     " ORDER BY b.first_at, b.prompt_id LIMIT 1",
                     2, params, &local_error);
  if (own == NULL)
    goto fail;

  chosen = own;
  if (PQntuples (own) == 0)
    {
      pick = cdl_pq_exec (conn,
                          "SELECT " BATCH_COLUMNS
                          " FROM annotation_batches b JOIN prompts p ON p.id = b.prompt_id"
                          QUEUE_WHERE
                          " ORDER BY b.labels, b.first_at, b.prompt_id LIMIT 1",
                          3, params, &local_error);
      if (pick == NULL)
        goto fail;
      chosen = pick;
    }

  if (PQntuples (chosen) == 0)
    {
      cdl_pq_rollback (conn);
      return NULL;
    }

  {
    const char *lease_params[4] = { task_id, cdl_pq_get_string (chosen, 0, 0), user_id,
                                    lease_text };

    if (!cdl_pq_command (conn,
                         "INSERT INTO batch_leases (task_id, batch_id, user_id, leased_until)"
                         " VALUES ($1, $2, $3, now () + $4::int * interval '1 second')"
                         " ON CONFLICT (task_id, batch_id, user_id)"
                         " DO UPDATE SET leased_until = EXCLUDED.leased_until",
                         4, lease_params, &local_error))
      goto fail;
  }

  batch = single_batch (conn, task_id, chosen, &local_error);
  if (batch == NULL)
    goto fail;

  if (!cdl_pq_commit (conn, error))
    return NULL;

  return g_steal_pointer (&batch);

fail:
  cdl_pq_rollback (conn);
  if (local_error != NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

GPtrArray *
cdl_annotation_repo_peek_queue (PGconn      *conn,
                                const char  *task_id,
                                const char  *user_id,
                                const char  *batch_id,
                                int          overlap,
                                guint        limit,
                                GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *overlap_text = g_strdup_printf ("%d", overlap);
  g_autofree char *limit_text = g_strdup_printf ("%u", limit);
  const char *params[5] = { task_id, user_id, overlap_text, batch_id, limit_text };

  if (!check_uuid (task_id, "task", error) || !check_uuid (user_id, "user", error))
    return NULL;

  res = cdl_pq_exec (conn,
                     "SELECT " BATCH_COLUMNS
                     " FROM annotation_batches b JOIN prompts p ON p.id = b.prompt_id"
                     QUEUE_WHERE
                     "   AND b.prompt_id IS DISTINCT FROM $4::uuid"
                     " ORDER BY b.labels, b.first_at, b.prompt_id LIMIT $5::int",
                     5, params, error);
  if (res == NULL)
    return NULL;

  return batches_from_rows (conn, task_id, res, error);
}

guint
cdl_annotation_repo_batch_size (PGconn      *conn,
                                const char  *task_id,
                                const char  *batch_id,
                                gboolean    *complete,
                                GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[2] = { task_id, batch_id };

  if (!check_uuid (task_id, "task", error) || !check_uuid (batch_id, "batch", error))
    return 0;

  res = cdl_pq_exec (conn,
                     "SELECT images, images >= expected FROM annotation_batches"
                     " WHERE prompt_id = $2 AND task_id = $1",
                     2, params, error);
  if (res == NULL)
    return 0;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                   "No batch with id %s in task %s", batch_id, task_id);
      return 0;
    }

  if (complete != NULL)
    *complete = cdl_pq_get_bool (res, 0, 1);

  return (guint)cdl_pq_get_int (res, 0, 0);
}

static char *
int_or_null (int value)
{
  return value < 0 ? NULL : g_strdup_printf ("%d", value);
}

static char *
int_array_literal (const gint64 *values,
                   guint         n)
{
  GString *s = g_string_new ("{");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "", values[i]);
  g_string_append_c (s, '}');

  return g_string_free (s, FALSE);
}

static void
add_int_or_null (JsonBuilder    *b,
                 const char     *member,
                 const PGresult *res,
                 int             col)
{
  json_builder_set_member_name (b, member);
  if (PQgetisnull (res, 0, col))
    json_builder_add_null_value (b);
  else
    json_builder_add_int_value (b, cdl_pq_get_int64 (res, 0, col));
}

/* The row of an annotation from @res: columns id, (unused), chosen_index,
 * rejected_index, spam, shown_order::text[], decision_ms, epochs of
 * created_at and updated_at. */
static JsonNode *
annotation_row (const PGresult           *res,
                const CdlAnnotationInput *in)
{
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(GDateTime) created_at = NULL;
  g_autoptr(GDateTime) updated_at = NULL;

  created_at = cdl_pq_get_epoch (res, 0, 7);
  updated_at = cdl_pq_get_epoch (res, 0, 8);

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, cdl_pq_get_string (res, 0, 0));
  json_builder_set_member_name (b, "task_id");
  json_builder_add_string_value (b, in->task_id);
  json_builder_set_member_name (b, "batch_id");
  json_builder_add_string_value (b, in->batch_id);
  json_builder_set_member_name (b, "user_id");
  json_builder_add_string_value (b, in->user_id);
  add_int_or_null (b, "chosen_index", res, 2);
  add_int_or_null (b, "rejected_index", res, 3);
  json_builder_set_member_name (b, "spam");
  json_builder_add_boolean_value (b, cdl_pq_get_bool (res, 0, 4));
  json_builder_set_member_name (b, "shown_order");
  if (PQgetisnull (res, 0, 5))
    json_builder_add_null_value (b);
  else
    {
      g_auto(GStrv) order = cdl_pq_get_strv (res, 0, 5);

      json_builder_begin_array (b);
      for (guint i = 0; order[i] != NULL; i++)
        json_builder_add_int_value (b, g_ascii_strtoll (order[i], NULL, 10));
      json_builder_end_array (b);
    }
  add_int_or_null (b, "decision_ms", res, 6);
  cdl_json_add_datetime (b, "created_at", created_at);
  cdl_json_add_datetime (b, "updated_at", updated_at);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}


JsonNode *
cdl_annotation_repo_upsert (PGconn                    *conn,
                            const CdlAnnotationInput  *in,
                            gboolean                  *created,
                            GError                   **error)
{
  return cdl_annotation_repo_upsert_full (conn, in, created, NULL, error);
}

JsonNode *
cdl_annotation_repo_upsert_full (PGconn                    *conn,
                                 const CdlAnnotationInput  *in,
                                 gboolean                  *created,
                                 JsonNode                 **previous,
                                 GError                   **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(PGresult) old = NULL;
  g_autofree char *chosen = int_or_null (in->chosen_index);
  g_autofree char *rejected = int_or_null (in->rejected_index);
  g_autofree char *decision = int_or_null (in->decision_ms);
  g_autofree char *shown = in->shown_order ? int_array_literal (in->shown_order, in->n_shown)
                                           : NULL;
  const char *params[9] = { in->task_id, in->batch_id, in->user_id, chosen, rejected,
                            in->spam ? "true" : "false", shown, decision, in->variant_key };

  if (!check_uuid (in->task_id, "task", error) || !check_uuid (in->batch_id, "batch", error)
      || !check_uuid (in->user_id, "user", error))
    return NULL;

  if (!cdl_pq_begin (conn, error))
    return NULL;

  /* The row as it was, locked until the update replaces it. */
  if (previous != NULL)
    {
      old = cdl_pq_exec (conn,
                         "SELECT id, false, chosen_index, rejected_index, spam,"
                         "  shown_order::text[], decision_ms,"
                         "  extract (epoch FROM created_at), extract (epoch FROM updated_at)"
                         " FROM annotations"
                         " WHERE task_id = $1 AND batch_id = $2 AND user_id = $3"
                         " FOR UPDATE",
                         3, params, error);
      if (old == NULL)
        {
          cdl_pq_rollback (conn);
          return NULL;
        }
    }

  /* A re-submit updates the row (unique task, batch, user); xmax is 0 only
   * on a row this statement inserted. */
  res = cdl_pq_exec (conn,
                     "INSERT INTO annotations AS a (task_id, batch_id, prompt_id, user_id,"
                     "  chosen_index, rejected_index, spam, shown_order, decision_ms, variant_key)"
                     " VALUES ($1, $2, $2, $3, $4::int, $5::int, $6::boolean, $7::int[], $8::int,"
                     "         $9)"
                     " ON CONFLICT (task_id, batch_id, user_id) DO UPDATE SET"
                     "   chosen_index = EXCLUDED.chosen_index,"
                     "   rejected_index = EXCLUDED.rejected_index,"
                     "   spam = EXCLUDED.spam,"
                     "   shown_order = coalesce (EXCLUDED.shown_order, a.shown_order),"
                     "   decision_ms = coalesce (EXCLUDED.decision_ms, a.decision_ms),"
                     "   variant_key = coalesce (EXCLUDED.variant_key, a.variant_key),"
                     "   updated_at = now ()"
                     " RETURNING id, a.xmax = 0, chosen_index, rejected_index, spam,"
                     "   shown_order::text[], decision_ms,"
                     "   extract (epoch FROM created_at), extract (epoch FROM updated_at)",
                     9, params, error);
  if (res == NULL)
    {
      cdl_pq_rollback (conn);
      return NULL;
    }

  if (!cdl_pq_command (conn,
                       "DELETE FROM batch_leases"
                       " WHERE task_id = $1 AND batch_id = $2 AND user_id = $3",
                       3, params, error))
    {
      cdl_pq_rollback (conn);
      return NULL;
    }

  if (!cdl_pq_commit (conn, error))
    return NULL;

  if (created != NULL)
    *created = cdl_pq_get_bool (res, 0, 1);
  if (previous != NULL)
    *previous = PQntuples (old) > 0 ? annotation_row (old, in) : NULL;

  return annotation_row (res, in);
}

/* "self_consistency": {repeats, same, rate} of @user_id from rows of
 * (user_id, repeats, same); rate is null without repeats. */
static void
add_self_consistency (JsonBuilder    *b,
                      const PGresult *repeats,
                      const char     *user_id)
{
  gint64 n = 0, same = 0;

  for (int j = 0; j < PQntuples (repeats); j++)
    if (g_strcmp0 (cdl_pq_get_string (repeats, j, 0), user_id) == 0)
      {
        n = cdl_pq_get_int64 (repeats, j, 1);
        same = cdl_pq_get_int64 (repeats, j, 2);
      }

  json_builder_set_member_name (b, "self_consistency");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "repeats");
  json_builder_add_int_value (b, n);
  json_builder_set_member_name (b, "same");
  json_builder_add_int_value (b, same);
  json_builder_set_member_name (b, "rate");
  if (n > 0)
    json_builder_add_double_value (b, (double)same / n);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
}

JsonNode *
cdl_annotation_repo_stats (PGconn      *conn,
                           const char  *task_id,
                           GError     **error)
{
  g_autoptr(PGresult) users = NULL;
  g_autoptr(PGresult) positions = NULL;
  g_autoptr(PGresult) agreement = NULL;
  g_autoptr(PGresult) repeats = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  const char *params[1] = { task_id };
  gint64 batches, identical;

  if (!check_uuid (task_id, "task", error))
    return NULL;

  users = cdl_pq_exec (conn,
                       "SELECT a.user_id, u.name, count (*),"
                       "  percentile_cont (0.5) WITHIN GROUP (ORDER BY a.decision_ms),"
                       "  count (*) FILTER (WHERE a.spam),"
                       "  count (a.decision_ms)"
                       " FROM annotations a JOIN users u ON u.id = a.user_id"
                       " WHERE a.task_id = $1"
                       " GROUP BY a.user_id, u.name ORDER BY u.name",
                       1, params, error);
  if (users == NULL)
    return NULL;

  /* Where the chosen image was shown: its position in the shown order. */
  positions = cdl_pq_exec (conn,
                           "SELECT user_id, array_position (shown_order, chosen_index) - 1 AS pos,"
                           "  count (*)"
                           " FROM annotations"
                           " WHERE task_id = $1 AND NOT spam AND chosen_index IS NOT NULL"
                           "   AND shown_order IS NOT NULL"
                           "   AND array_position (shown_order, chosen_index) IS NOT NULL"
                           " GROUP BY 1, 2 ORDER BY 1, 2",
                           1, params, error);
  if (positions == NULL)
    return NULL;

  agreement = cdl_pq_exec (conn,
                           "SELECT count (*), count (*) FILTER (WHERE choices = 1)"
                           " FROM (SELECT count (DISTINCT chosen_index) AS choices"
                           "       FROM annotations"
                           "       WHERE task_id = $1 AND NOT spam AND chosen_index IS NOT NULL"
                           "       GROUP BY batch_id HAVING count (*) > 1) m",
                           1, params, error);
  if (agreement == NULL)
    return NULL;

  /* Self-consistency: repeats answered like the original label. */
  repeats = cdl_pq_exec (conn,
                         "SELECT r.user_id, count (*),"
                         "  count (*) FILTER (WHERE r.chosen_index IS NOT DISTINCT FROM"
                         "                          a.chosen_index AND r.spam = a.spam)"
                         " FROM annotation_repeats r JOIN annotations a ON a.id = r.annotation_id"
                         " WHERE r.task_id = $1 GROUP BY r.user_id",
                         1, params, error);
  if (repeats == NULL)
    return NULL;

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "annotators");
  json_builder_begin_array (b);
  for (int i = 0; i < PQntuples (users); i++)
    {
      const char *user_id = cdl_pq_get_string (users, i, 0);
      gint64 labels = cdl_pq_get_int64 (users, i, 2);
      gint64 spam = cdl_pq_get_int64 (users, i, 4);
      int max_pos = -1;
      g_autofree gint64 *counts = NULL;

      for (int j = 0; j < PQntuples (positions); j++)
        if (g_strcmp0 (cdl_pq_get_string (positions, j, 0), user_id) == 0)
          max_pos = MAX (max_pos, cdl_pq_get_int (positions, j, 1));
      counts = g_new0 (gint64, max_pos + 2);
      for (int j = 0; j < PQntuples (positions); j++)
        if (g_strcmp0 (cdl_pq_get_string (positions, j, 0), user_id) == 0)
          counts[cdl_pq_get_int (positions, j, 1)] = cdl_pq_get_int64 (positions, j, 2);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "user_id");
      json_builder_add_string_value (b, user_id);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, cdl_pq_get_string (users, i, 1));
      json_builder_set_member_name (b, "labels");
      json_builder_add_int_value (b, labels);
      json_builder_set_member_name (b, "spam");
      json_builder_add_int_value (b, spam);
      json_builder_set_member_name (b, "spam_rate");
      json_builder_add_double_value (b, labels > 0 ? (double)spam / labels : 0.0);
      json_builder_set_member_name (b, "median_decision_ms");
      if (cdl_pq_get_int64 (users, i, 5) == 0)
        json_builder_add_null_value (b);
      else
        json_builder_add_double_value (b, g_ascii_strtod (cdl_pq_get_string (users, i, 3), NULL));
      json_builder_set_member_name (b, "chosen_by_position");
      json_builder_begin_array (b);
      for (int p = 0; p <= max_pos; p++)
        json_builder_add_int_value (b, counts[p]);
      json_builder_end_array (b);
      add_self_consistency (b, repeats, user_id);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  batches = cdl_pq_get_int64 (agreement, 0, 0);
  identical = cdl_pq_get_int64 (agreement, 0, 1);
  json_builder_set_member_name (b, "agreement");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "batches");
  json_builder_add_int_value (b, batches);
  json_builder_set_member_name (b, "identical");
  json_builder_add_int_value (b, identical);
  json_builder_set_member_name (b, "rate");
  if (batches > 0)
    json_builder_add_double_value (b, (double)identical / batches);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

gboolean
cdl_annotation_repo_export_open (PGconn      *conn,
                                 const char  *task_id,
                                 GError     **error)
{
  const char *params[1] = { task_id };

  if (!check_uuid (task_id, "task", error))
    return FALSE;

  /* One snapshot for the whole file, however long the client takes. */
  if (!cdl_pq_command (conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, error))
    return FALSE;

  if (!cdl_pq_command (conn,
                       "DECLARE " EXPORT_CURSOR " NO SCROLL CURSOR FOR"
                       " SELECT a.task_id, a.batch_id, a.user_id, p.text,"
                       "   coalesce (a.chosen_index, -1), coalesce (a.rejected_index, -1),"
                       "   t.workflow_id, w.model,"
                       "   (SELECT string_agg (vp.name || '@v' || tp.pool_version, ','"
                       "                       ORDER BY tp.position)"
                       "    FROM task_pools tp JOIN variable_pools vp ON vp.id = tp.pool_id"
                       "    WHERE tp.task_id = a.task_id),"
                       "   to_char (a.created_at AT TIME ZONE 'UTC',"
                       "            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
                       "   i.uris, i.seeds, i.indexes, i.checksums"
                       " FROM annotations a"
                       " JOIN prompts p ON p.id = a.prompt_id"
                       " JOIN tasks t ON t.id = a.task_id"
                       " JOIN workflows w ON w.id = t.workflow_id"
                       " CROSS JOIN LATERAL ("
                       "   SELECT array_agg (g.image_uri " IMAGE_ORDER ") AS uris,"
                       "     array_agg (g.seed_value::text " IMAGE_ORDER ") AS seeds,"
                       "     array_agg (g.batch_index::text " IMAGE_ORDER ") AS indexes,"
                       "     array_agg (coalesce (g.checksum, '') " IMAGE_ORDER ") AS checksums"
                       "   FROM generations g JOIN seeds s ON s.id = g.seed_id"
                       "   WHERE g.task_id = a.task_id AND g.prompt_id = a.batch_id"
                       "     AND g.state = 'done' AND g.image_uri IS NOT NULL) i"
                       " WHERE a.task_id = $1 AND NOT a.spam AND a.chosen_index IS NOT NULL"
                       " ORDER BY a.created_at, a.id",
                       1, params, error))
    {
      cdl_pq_rollback (conn);
      return FALSE;
    }

  return TRUE;
}

int
cdl_annotation_repo_export_fetch (PGconn      *conn,
                                  int          rows,
                                  const char  *uri_base,
                                  gboolean     pairs,
                                  GString     *out,
                                  GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *sql = g_strdup_printf ("FETCH %d FROM " EXPORT_CURSOR, MAX (rows, 1));
  int n;

  res = cdl_pq_exec (conn, sql, 0, NULL, error);
  if (res == NULL)
    return -1;

  n = PQntuples (res);
  for (int i = 0; i < n; i++)
    {
      g_auto(GStrv) uris = cdl_pq_get_strv (res, i, 10);
      g_auto(GStrv) seeds = cdl_pq_get_strv (res, i, 11);
      g_auto(GStrv) indexes = cdl_pq_get_strv (res, i, 12);
      g_auto(GStrv) checksums = cdl_pq_get_strv (res, i, 13);
      guint n_images = g_strv_length (uris);
      g_autofree CdlDpoImage *images = g_new0 (CdlDpoImage, MAX (n_images, 1));
      g_autoptr(GError) line_error = NULL;
      g_autofree char *line = NULL;
      CdlDpoRecord record = { 0 };

      for (guint j = 0; j < n_images; j++)
        {
          images[j].uri = uris[j];
          images[j].seed = g_ascii_strtoll (seeds[j], NULL, 10);
          images[j].batch_index = (int)g_ascii_strtoll (indexes[j], NULL, 10);
          images[j].checksum = *checksums[j] ? checksums[j] : NULL;
        }

      record.task_id = cdl_pq_get_string (res, i, 0);
      record.batch_id = cdl_pq_get_string (res, i, 1);
      record.annotator_id = cdl_pq_get_string (res, i, 2);
      record.prompt = cdl_pq_get_string (res, i, 3);
      record.chosen_index = cdl_pq_get_int (res, i, 4);
      record.rejected_index = cdl_pq_get_int (res, i, 5);
      record.workflow_id = cdl_pq_get_string (res, i, 6);
      record.model = cdl_pq_get_string (res, i, 7);
      record.variable_pool_version = cdl_pq_get_string (res, i, 8);
      record.created_at = cdl_pq_get_string (res, i, 9);
      record.images = images;
      record.n_images = n_images;
      record.uri_base = uri_base;

      if (pairs)
        {
          if (cdl_dpo_pairs_build (&record, out, &line_error) < 0)
            g_warning ("Export of task %s skips an annotation: %s",
                       record.task_id, line_error->message);
          continue;
        }

      line = cdl_dpo_line_build (&record, &line_error);
      if (line == NULL)
        {
          /* Annotations are checked against the batch when stored; a line
           * that cannot be built means the batch changed since. */
          g_warning ("Export of task %s skips an annotation: %s",
                     record.task_id, line_error->message);
          continue;
        }

      g_string_append (out, line);
      g_string_append_c (out, '\n');
    }

  return n;
}

void
cdl_annotation_repo_export_close (PGconn *conn)
{
  cdl_pq_rollback (conn);
}

gboolean
cdl_annotation_repo_verify_open (PGconn      *conn,
                                 const char  *task_id,
                                 GError     **error)
{
  const char *params[1] = { task_id };

  if (!check_uuid (task_id, "task", error))
    return FALSE;

  if (!cdl_pq_command (conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, error))
    return FALSE;

  if (!cdl_pq_command (conn,
                       "DECLARE " EXPORT_CURSOR " NO SCROLL CURSOR FOR"
                       " SELECT g.id, g.image_uri, coalesce (g.checksum, '')"
                       " FROM annotation_batches b"
                       " JOIN generations g ON g.task_id = b.task_id AND g.prompt_id = b.prompt_id"
                       " WHERE b.task_id = $1 AND g.state = 'done' AND g.image_uri IS NOT NULL"
                       "   AND EXISTS (SELECT 1 FROM annotations a"
                       "               WHERE a.task_id = $1 AND a.batch_id = b.prompt_id"
                       "                 AND NOT a.spam AND a.chosen_index IS NOT NULL)"
                       " ORDER BY b.first_at, b.prompt_id, g.id",
                       1, params, error))
    {
      cdl_pq_rollback (conn);
      return FALSE;
    }

  return TRUE;
}

GPtrArray *
cdl_annotation_repo_verify_fetch (PGconn  *conn,
                                  int      rows,
                                  GError **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *sql = g_strdup_printf ("FETCH %d FROM " EXPORT_CURSOR, MAX (rows, 1));
  GPtrArray *items;

  res = cdl_pq_exec (conn, sql, 0, NULL, error);
  if (res == NULL)
    return NULL;

  items = g_ptr_array_new_with_free_func ((GDestroyNotify)g_strfreev);
  for (int i = 0; i < PQntuples (res); i++)
    {
      char **item = g_new0 (char *, 4);

      for (int c = 0; c < 3; c++)
        item[c] = g_strdup (cdl_pq_get_string (res, i, c));
      g_ptr_array_add (items, item);
    }

  return items;
}

/* Desktop gallery ---------------------------------------------------------- */

JsonNode *
cdl_annotation_repo_list_tasks (PGconn      *conn,
                                const char  *user_id,
                                GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  const char *params[1] = { user_id };

  if (user_id != NULL && !check_uuid (user_id, "user", error))
    return NULL;

  res = cdl_pq_exec (conn,
                     "SELECT t.id, coalesce (t.name, ''), count (*),"
                     "  count (*) FILTER (WHERE b.labels > 0),"
                     "  (SELECT count (*) FROM annotations a"
                     "   WHERE a.task_id = t.id AND a.user_id = $1)"
                     " FROM tasks t JOIN annotation_batches b ON b.task_id = t.id"
                     " WHERE b.images >= b.expected"
                     " GROUP BY t.id ORDER BY max (t.created_at) DESC, t.id",
                     1, params, error);
  if (res == NULL)
    return NULL;

  b = json_builder_new_immutable ();
  json_builder_begin_array (b);
  for (int i = 0; i < PQntuples (res); i++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "task_id");
      json_builder_add_string_value (b, cdl_pq_get_string (res, i, 0));
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, cdl_pq_get_string (res, i, 1));
      json_builder_set_member_name (b, "batches");
      json_builder_add_int_value (b, cdl_pq_get_int64 (res, i, 2));
      json_builder_set_member_name (b, "labelled");
      json_builder_add_int_value (b, cdl_pq_get_int64 (res, i, 3));
      json_builder_set_member_name (b, "mine");
      json_builder_add_int_value (b, cdl_pq_get_int64 (res, i, 4));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  return json_builder_get_root (b);
}

gboolean
cdl_annotation_repo_delete (PGconn      *conn,
                            const char  *task_id,
                            const char  *batch_id,
                            const char  *user_id,
                            gboolean    *deleted,
                            GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[3] = { task_id, batch_id, user_id };

  if (!check_uuid (task_id, "task", error) || !check_uuid (batch_id, "batch", error)
      || !check_uuid (user_id, "user", error))
    return FALSE;

  res = cdl_pq_exec (conn,
                     "DELETE FROM annotations"
                     " WHERE task_id = $1 AND batch_id = $2 AND user_id = $3",
                     3, params, error);
  if (res == NULL)
    return FALSE;

  if (deleted != NULL)
    *deleted = g_strcmp0 (PQcmdTuples (res), "0") != 0;

  return TRUE;
}

/* Repeats ------------------------------------------------------------------- */

CdlBatch *
cdl_annotation_repo_pick_repeat (PGconn      *conn,
                                 const char  *task_id,
                                 const char  *user_id,
                                 GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[2] = { task_id, user_id };

  if (!check_uuid (task_id, "task", error) || !check_uuid (user_id, "user", error))
    return NULL;

  res = cdl_pq_exec (conn,
                     "SELECT " BATCH_COLUMNS
                     " FROM annotations a"
                     " JOIN annotation_batches b ON b.prompt_id = a.batch_id"
                     " JOIN prompts p ON p.id = b.prompt_id"
                     " WHERE a.task_id = $1 AND a.user_id = $2"
                     "   AND NOT a.spam AND a.chosen_index IS NOT NULL"
                     "   AND NOT EXISTS (SELECT 1 FROM annotation_repeats r"
                     "                   WHERE r.annotation_id = a.id)"
                     "   AND a.id <> (SELECT id FROM annotations"
                     "                WHERE task_id = $1 AND user_id = $2"
                     "                ORDER BY created_at DESC, id LIMIT 1)"
                     " ORDER BY random () LIMIT 1",
                     2, params, error);
  if (res == NULL)
    return NULL;

  return single_batch (conn, task_id, res, error);
}

JsonNode *
cdl_annotation_repo_add_repeat (PGconn                    *conn,
                                const CdlAnnotationInput  *in,
                                gboolean                  *created,
                                GError                   **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autofree char *chosen = int_or_null (in->chosen_index);
  g_autofree char *decision = int_or_null (in->decision_ms);
  const char *params[6] = { in->task_id, in->batch_id, in->user_id, chosen,
                            in->spam ? "true" : "false", decision };

  if (!check_uuid (in->task_id, "task", error) || !check_uuid (in->batch_id, "batch", error)
      || !check_uuid (in->user_id, "user", error))
    return NULL;

  res = cdl_pq_exec (conn,
                     "INSERT INTO annotation_repeats AS r (annotation_id, task_id, user_id,"
                     "  chosen_index, spam, decision_ms)"
                     " SELECT a.id, a.task_id, a.user_id, $4::int, $5::boolean, $6::int"
                     " FROM annotations a"
                     " WHERE a.task_id = $1 AND a.batch_id = $2 AND a.user_id = $3"
                     " ON CONFLICT (annotation_id) DO UPDATE SET"
                     "   chosen_index = EXCLUDED.chosen_index, spam = EXCLUDED.spam,"
                     "   decision_ms = coalesce (EXCLUDED.decision_ms, r.decision_ms)"
                     " RETURNING r.id, r.annotation_id, r.xmax = 0, r.chosen_index, r.spam,"
                     "   r.decision_ms,"
                     "   (SELECT a.chosen_index IS NOT DISTINCT FROM r.chosen_index"
                     "           AND a.spam = r.spam"
                     "    FROM annotations a WHERE a.id = r.annotation_id)",
                     6, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                   "You have no label of batch %s to repeat", in->batch_id);
      return NULL;
    }

  if (created != NULL)
    *created = cdl_pq_get_bool (res, 0, 2);

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, cdl_pq_get_string (res, 0, 0));
  json_builder_set_member_name (b, "annotation_id");
  json_builder_add_string_value (b, cdl_pq_get_string (res, 0, 1));
  json_builder_set_member_name (b, "is_repeat");
  json_builder_add_boolean_value (b, TRUE);
  add_int_or_null (b, "chosen_index", res, 3);
  json_builder_set_member_name (b, "spam");
  json_builder_add_boolean_value (b, cdl_pq_get_bool (res, 0, 4));
  add_int_or_null (b, "decision_ms", res, 5);
  json_builder_set_member_name (b, "same");
  json_builder_add_boolean_value (b, cdl_pq_get_bool (res, 0, 6));
  json_builder_end_object (b);

  return json_builder_get_root (b);
}
