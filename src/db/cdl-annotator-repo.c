/* cdl-annotator-repo.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include "db/cdl-annotator-repo.h"
#include "db/cdl-pq.h"

/* The overlap setting of task t, as cdl_annotation_repo_check_task()
 * reads it. */
#define OVERLAP_SQL \
  "CASE WHEN t.settings ->> 'overlap' ~ '^[0-9]{1,6}$'" \
  " THEN greatest (1, (t.settings ->> 'overlap')::int) ELSE 1 END"

/* Columns 0-2 of a row: ready, labelled, mine. */
static void
add_counts (JsonBuilder    *b,
            const PGresult *res,
            int             row,
            int             col)
{
  json_builder_set_member_name (b, "batches_ready");
  json_builder_add_int_value (b, cdl_pq_get_int64 (res, row, col));
  json_builder_set_member_name (b, "batches_labelled");
  json_builder_add_int_value (b, cdl_pq_get_int64 (res, row, col + 1));
  json_builder_set_member_name (b, "my_labels");
  json_builder_add_int_value (b, cdl_pq_get_int64 (res, row, col + 2));
}

#define COUNTS_SQL \
  "  (SELECT count (*) FROM annotation_batches b" \
  "   WHERE b.task_id = t.id AND b.images >= b.expected)," \
  "  (SELECT count (*) FROM annotation_batches b" \
  "   WHERE b.task_id = t.id AND b.images >= b.expected AND b.labels >= " OVERLAP_SQL ")," \
  "  (SELECT count (*) FROM annotations a WHERE a.task_id = t.id AND a.user_id = $1)"

JsonNode *
cdl_annotator_repo_tasks (PGconn      *conn,
                          const char  *user_id,
                          GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  const char *params[1] = { user_id };

  res = cdl_pq_exec (conn,
                     "SELECT t.id, t.name, t.state, t.seeds_per_prompt," COUNTS_SQL
                     " FROM tasks t"
                     " WHERE EXISTS (SELECT 1 FROM annotation_batches b"
                     "               WHERE b.task_id = t.id AND b.images >= b.expected)"
                     " ORDER BY t.created_at DESC, t.id",
                     1, params, error);
  if (res == NULL)
    return NULL;

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "tasks");
  json_builder_begin_array (b);
  for (int i = 0; i < PQntuples (res); i++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_string_value (b, cdl_pq_get_string (res, i, 0));
      json_builder_set_member_name (b, "name");
      if (PQgetisnull (res, i, 1))
        json_builder_add_null_value (b);
      else
        json_builder_add_string_value (b, cdl_pq_get_string (res, i, 1));
      json_builder_set_member_name (b, "status");
      json_builder_add_string_value (b, cdl_pq_get_string (res, i, 2));
      json_builder_set_member_name (b, "seeds_per_prompt");
      json_builder_add_int_value (b, cdl_pq_get_int (res, i, 3));
      add_counts (b, res, i, 4);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

JsonNode *
cdl_annotator_repo_progress (PGconn      *conn,
                             const char  *task_id,
                             const char  *user_id,
                             GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  const char *params[2] = { user_id, task_id };

  if (!g_uuid_string_is_valid (task_id))
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                   "No task with id %s", task_id);
      return NULL;
    }

  res = cdl_pq_exec (conn,
                     "SELECT" COUNTS_SQL ","
                     "  (SELECT count (*) FROM prompts p WHERE p.task_id = t.id)"
                     " FROM tasks t WHERE t.id = $2",
                     2, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No task with id %s", task_id);
      return NULL;
    }

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  add_counts (b, res, 0, 0);
  json_builder_set_member_name (b, "batches_total");
  json_builder_add_int_value (b, cdl_pq_get_int64 (res, 0, 3));
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

double
cdl_annotator_repo_repeat_rate (PGconn      *conn,
                                const char  *task_id,
                                GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { task_id };

  if (!g_uuid_string_is_valid (task_id))
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No task with id %s", task_id);
      return -1;
    }

  res = cdl_pq_exec (conn, "SELECT repeat_rate::float8 FROM tasks WHERE id = $1",
                     1, params, error);
  if (res == NULL)
    return -1;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No task with id %s", task_id);
      return -1;
    }

  return g_ascii_strtod (cdl_pq_get_string (res, 0, 0), NULL);
}

gboolean
cdl_annotator_repo_set_repeat_rate (PGconn      *conn,
                                    const char  *task_id,
                                    double       rate,
                                    GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  char rate_text[G_ASCII_DTOSTR_BUF_SIZE];
  /* Six decimals: 0.2 must not become 0.20000000000000001, above the limit. */
  const char *params[2] = { task_id, g_ascii_formatd (rate_text, sizeof rate_text, "%.6f", rate) };

  if (!g_uuid_string_is_valid (task_id))
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No task with id %s", task_id);
      return FALSE;
    }

  /* repeat_rate is not part of the frozen snapshot, so the freeze
   * trigger lets it change. */
  res = cdl_pq_exec (conn, "UPDATE tasks SET repeat_rate = $2::numeric WHERE id = $1",
                     2, params, error);
  if (res == NULL)
    return FALSE;

  if (g_strcmp0 (PQcmdTuples (res), "0") == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No task with id %s", task_id);
      return FALSE;
    }

  return TRUE;
}
