/* cdl-task-repo.c: the tasks, task_pools, prompts and seeds tables
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include <string.h>

#include "core/cdl-json.h"
#include "db/cdl-pool-repo.h"
#include "db/cdl-pq.h"
#include "db/cdl-task-repo.h"

/* Bytes gathered before each PQputCopyData. */
#define COPY_CHUNK (1024 * 1024)

/* The columns cdl_task_repo_from_row() reads, in its order. */
#define TASK_COLUMNS \
  "t.id, t.name, t.workflow_id, w.name, w.version, t.state, t.notes," \
  " t.prompt_template, t.target_prompts, t.seeds_per_prompt, t.rng_seed," \
  " t.frozen_snapshot::text, extract (epoch FROM t.frozen_at), t.created_by," \
  " extract (epoch FROM t.created_at), extract (epoch FROM t.updated_at)"

#define TASK_FROM " FROM tasks t JOIN workflows w ON w.id = t.workflow_id"

enum
{
  COL_ID,
  COL_NAME,
  COL_WORKFLOW_ID,
  COL_WORKFLOW_NAME,
  COL_WORKFLOW_VERSION,
  COL_STATE,
  COL_NOTES,
  COL_PROMPT_TEMPLATE,
  COL_TARGET_PROMPTS,
  COL_SEEDS_PER_PROMPT,
  COL_RNG_SEED,
  COL_FROZEN_SNAPSHOT,
  COL_FROZEN_AT,
  COL_CREATED_BY,
  COL_CREATED_AT,
  COL_UPDATED_AT,
};

static void
cdl_task_repo_fill (CdlTaskData    *data,
                    const PGresult *res,
                    int             row)
{
  const char *snapshot = cdl_pq_get_string (res, row, COL_FROZEN_SNAPSHOT);

  data->id = g_strdup (cdl_pq_get_string (res, row, COL_ID));
  data->name = g_strdup (cdl_pq_get_string (res, row, COL_NAME));
  data->workflow_id = g_strdup (cdl_pq_get_string (res, row, COL_WORKFLOW_ID));
  data->workflow_name = g_strdup (cdl_pq_get_string (res, row, COL_WORKFLOW_NAME));
  data->workflow_version = cdl_pq_get_int (res, row, COL_WORKFLOW_VERSION);
  data->state = g_strdup (cdl_pq_get_string (res, row, COL_STATE));
  data->notes = g_strdup (cdl_pq_get_string (res, row, COL_NOTES));
  data->prompt_template = g_strdup (cdl_pq_get_string (res, row, COL_PROMPT_TEMPLATE));
  data->target_prompts = cdl_pq_get_int (res, row, COL_TARGET_PROMPTS);
  data->seeds_per_prompt = cdl_pq_get_int (res, row, COL_SEEDS_PER_PROMPT);
  data->rng_seed = (guint64) cdl_pq_get_int64 (res, row, COL_RNG_SEED);
  if (snapshot != NULL)
    data->frozen_snapshot = cdl_json_parse (snapshot, -1, NULL);
  data->frozen_at = cdl_pq_get_epoch (res, row, COL_FROZEN_AT);
  data->created_by = g_strdup (cdl_pq_get_string (res, row, COL_CREATED_BY));
  data->created_at = cdl_pq_get_epoch (res, row, COL_CREATED_AT);
  data->updated_at = cdl_pq_get_epoch (res, row, COL_UPDATED_AT);

  /* Prompts and seeds are written all at once with the task, so the
   * counts follow from K and N; the single-task read checks them. */
  data->prompt_count = data->target_prompts;
  data->seed_count = (gint64) data->target_prompts * data->seeds_per_prompt;
  data->pools = g_ptr_array_new_with_free_func ((GDestroyNotify) cdl_task_pool_free);
  data->next_after = -1;
}

/* Appends the pinned pools of the tasks in @by_id (id → CdlTaskData). */
static gboolean
load_pools (PGconn      *conn,
            GHashTable  *by_id,
            GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  g_autofree char *literal = NULL;
  const char *params[1];
  GHashTableIter iter;
  gpointer key;

  if (g_hash_table_size (by_id) == 0)
    return TRUE;

  g_hash_table_iter_init (&iter, by_id);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (ids, key);
  g_ptr_array_add (ids, NULL);

  literal = cdl_pq_strv_literal ((const char * const *) ids->pdata);
  params[0] = literal;

  res = cdl_pq_exec (conn,
                     "SELECT tp.task_id, tp.pool_id, p.name, v.mode, tp.pool_version"
                     " FROM task_pools tp"
                     " JOIN variable_pools p ON p.id = tp.pool_id"
                     " JOIN variable_pool_versions v"
                     "   ON v.pool_id = tp.pool_id AND v.version = tp.pool_version"
                     " WHERE tp.task_id = ANY ($1::uuid[])"
                     " ORDER BY tp.task_id, tp.position",
                     1, params, error);
  if (res == NULL)
    return FALSE;

  for (int row = 0; row < PQntuples (res); row++)
    {
      CdlTaskData *data = g_hash_table_lookup (by_id, cdl_pq_get_string (res, row, 0));
      CdlTaskPool *pool;

      if (data == NULL)
        continue;

      pool = g_new0 (CdlTaskPool, 1);
      pool->pool_id = g_strdup (cdl_pq_get_string (res, row, 1));
      pool->name = g_strdup (cdl_pq_get_string (res, row, 2));
      pool->mode = g_strdup (cdl_pq_get_string (res, row, 3));
      pool->version = cdl_pq_get_int (res, row, 4);
      g_ptr_array_add (data->pools, pool);
    }

  return TRUE;
}

GPtrArray *
cdl_task_repo_list (PGconn  *conn,
                    GError **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(GHashTable) by_id = NULL;
  g_autofree CdlTaskData *rows = NULL;
  GPtrArray *tasks;
  int n;

  g_return_val_if_fail (conn != NULL, NULL);

  res = cdl_pq_exec (conn,
                     "SELECT " TASK_COLUMNS TASK_FROM
                     " ORDER BY t.created_at DESC, t.id DESC",
                     0, NULL, error);
  if (res == NULL)
    return NULL;

  n = PQntuples (res);
  rows = g_new0 (CdlTaskData, n + 1);
  by_id = g_hash_table_new (g_str_hash, g_str_equal);

  for (int row = 0; row < n; row++)
    {
      cdl_task_repo_fill (&rows[row], res, row);
      g_hash_table_insert (by_id, rows[row].id, &rows[row]);
    }

  if (!load_pools (conn, by_id, error))
    {
      for (int row = 0; row < n; row++)
        cdl_task_data_clear (&rows[row]);
      return NULL;
    }

  g_hash_table_remove_all (by_id);

  tasks = g_ptr_array_new_with_free_func (g_object_unref);
  for (int row = 0; row < n; row++)
    g_ptr_array_add (tasks, cdl_task_new (&rows[row]));

  return tasks;
}

CdlTask *
cdl_task_repo_get (PGconn      *conn,
                   const char  *id,
                   gboolean     lock,
                   GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(PGresult) counts = NULL;
  g_autoptr(GHashTable) by_id = NULL;
  CdlTaskData data = { 0 };
  const char *params[1] = { id };

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  if (!g_uuid_string_is_valid (id))
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No task with id %s", id);
      return NULL;
    }

  res = cdl_pq_exec (conn,
                     lock ? "SELECT " TASK_COLUMNS TASK_FROM " WHERE t.id = $1 FOR UPDATE OF t"
                          : "SELECT " TASK_COLUMNS TASK_FROM " WHERE t.id = $1",
                     1, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No task with id %s", id);
      return NULL;
    }

  cdl_task_repo_fill (&data, res, 0);

  counts = cdl_pq_exec (conn,
                        "SELECT (SELECT count(*) FROM prompts WHERE task_id = $1),"
                        " (SELECT count(*) FROM seeds WHERE task_id = $1)",
                        1, params, error);
  if (counts == NULL)
    goto fail;
  data.prompt_count = cdl_pq_get_int64 (counts, 0, 0);
  data.seed_count = cdl_pq_get_int64 (counts, 0, 1);

  by_id = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (by_id, data.id, &data);
  if (!load_pools (conn, by_id, error))
    goto fail;

  return cdl_task_new (&data);

fail:
  cdl_task_data_clear (&data);
  return NULL;
}

/* A bigint[] in text form ("{1,2,3}"). */
static guint64 *
parse_bigint_array (const char *text,
                    guint      *n_out)
{
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (guint64));
  const char *p = text;

  *n_out = 0;
  if (p == NULL || *p != '{')
    return NULL;

  for (p++; *p != '\0' && *p != '}'; )
    {
      char *end = NULL;
      guint64 v = g_ascii_strtoull (p, &end, 10);

      if (end == p)
        break;
      g_array_append_val (values, v);
      p = end;
      if (*p == ',')
        p++;
    }

  *n_out = values->len;
  return (guint64 *) g_array_free (g_steal_pointer (&values), FALSE);
}

GPtrArray *
cdl_task_repo_get_prompts (PGconn      *conn,
                           const char  *task_id,
                           int          after,
                           guint        limit,
                           int         *next_after,
                           GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *after_text = g_strdup_printf ("%d", after);
  g_autofree char *limit_text = g_strdup_printf ("%u", limit + 1);
  const char *params[3] = { task_id, after_text, limit_text };
  GPtrArray *prompts;
  guint n;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (task_id != NULL, NULL);
  g_return_val_if_fail (limit > 0, NULL);

  /* Keyset paging on (task_id, position), which the unique index serves;
   * one row more than asked tells whether another page follows. */
  res = cdl_pq_exec (conn,
                     "SELECT p.id, p.position, p.text, p.variables::text,"
                     " (SELECT array_agg (s.seed_value ORDER BY s.position)"
                     "    FROM seeds s WHERE s.prompt_id = p.id)"
                     " FROM prompts p"
                     " WHERE p.task_id = $1 AND p.position > $2::int"
                     " ORDER BY p.position LIMIT $3::int",
                     3, params, error);
  if (res == NULL)
    return NULL;

  n = MIN ((guint) PQntuples (res), limit);
  prompts = g_ptr_array_new_with_free_func ((GDestroyNotify) cdl_prompt_free);

  for (guint row = 0; row < n; row++)
    {
      CdlPrompt *prompt = g_new0 (CdlPrompt, 1);

      prompt->id = g_strdup (cdl_pq_get_string (res, row, 0));
      prompt->position = (guint) cdl_pq_get_int (res, row, 1);
      prompt->text = g_strdup (cdl_pq_get_string (res, row, 2));
      prompt->variables = cdl_json_parse (cdl_pq_get_string (res, row, 3), -1, NULL);
      prompt->seeds = parse_bigint_array (cdl_pq_get_string (res, row, 4), &prompt->n_seeds);
      g_ptr_array_add (prompts, prompt);
    }

  if ((guint) PQntuples (res) > limit && n > 0)
    *next_after = (int) ((CdlPrompt *) g_ptr_array_index (prompts, n - 1))->position;
  else
    *next_after = -1;

  return prompts;
}

static char *
int_text (gint64 v)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, v);
}

char *
cdl_task_repo_insert (PGconn             *conn,
                      const CdlTaskData  *data,
                      JsonNode           *settings,
                      GError            **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *k = int_text (data->target_prompts);
  g_autofree char *n = int_text (data->seeds_per_prompt);
  g_autofree char *seed = int_text ((gint64) data->rng_seed);
  g_autofree char *settings_text = settings ? cdl_json_to_string (settings, FALSE)
                                            : g_strdup ("{}");
  const char *params[9] = { data->workflow_id, data->name, data->notes,
                            data->prompt_template, k, n, seed, settings_text,
                            data->created_by };

  g_return_val_if_fail (conn != NULL, NULL);

  res = cdl_pq_exec (conn,
                     "INSERT INTO tasks (workflow_id, name, notes, prompt_template,"
                     " target_prompts, seeds_per_prompt, rng_seed, settings, created_by)"
                     " VALUES ($1, $2, $3, $4, $5::int, $6::int, $7::bigint, $8::jsonb, $9)"
                     " RETURNING id",
                     9, params, error);
  if (res == NULL)
    return NULL;

  return g_strdup (cdl_pq_get_string (res, 0, 0));
}

gboolean
cdl_task_repo_update (PGconn             *conn,
                      const char         *id,
                      const CdlTaskData  *data,
                      JsonNode           *settings,
                      GError            **error)
{
  g_autofree char *k = int_text (data->target_prompts);
  g_autofree char *n = int_text (data->seeds_per_prompt);
  g_autofree char *seed = int_text ((gint64) data->rng_seed);
  g_autofree char *settings_text = settings ? cdl_json_to_string (settings, FALSE) : NULL;
  const char *params[9] = { id, data->workflow_id, data->name, data->notes,
                            data->prompt_template, k, n, seed, settings_text };

  g_return_val_if_fail (conn != NULL, FALSE);

  return cdl_pq_command (conn,
                         "UPDATE tasks SET workflow_id = $2, name = $3, notes = $4,"
                         " prompt_template = $5, target_prompts = $6::int,"
                         " seeds_per_prompt = $7::int, rng_seed = $8::bigint,"
                         " settings = COALESCE ($9::jsonb, settings) WHERE id = $1",
                         9, params, error);
}

JsonNode *
cdl_task_repo_get_settings (PGconn      *conn,
                            const char  *task_id,
                            GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { task_id };

  g_return_val_if_fail (conn != NULL, NULL);

  res = cdl_pq_exec (conn, "SELECT settings::text FROM tasks WHERE id = $1",
                     1, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No task with id %s", task_id);
      return NULL;
    }

  return cdl_json_parse (cdl_pq_get_string (res, 0, 0), -1, error);
}

gboolean
cdl_task_repo_set_pools (PGconn      *conn,
                         const char  *task_id,
                         GPtrArray   *pools,
                         GError     **error)
{
  const char *params[1] = { task_id };

  g_return_val_if_fail (conn != NULL, FALSE);

  if (!cdl_pq_command (conn, "DELETE FROM task_pools WHERE task_id = $1", 1, params, error))
    return FALSE;

  for (guint i = 0; pools != NULL && i < pools->len; i++)
    {
      CdlPool *pool = g_ptr_array_index (pools, i);
      g_autofree char *version = int_text (cdl_pool_get_version (pool));
      g_autofree char *position = int_text (i);
      const char *row[4] = { task_id, cdl_pool_get_id (pool), version, position };

      if (!cdl_pq_command (conn,
                           "INSERT INTO task_pools (task_id, pool_id, pool_version, position)"
                           " VALUES ($1, $2, $3::int, $4::int)",
                           4, row, error))
        return FALSE;
    }

  return TRUE;
}

/* COPY ---------------------------------------------------------------------- */

/* Appends @text escaped for COPY's text format. */
static void
copy_escape (GString    *out,
             const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          g_string_append_c (out, *p);
        }
    }
}

static void
set_result_error (PGconn    *conn,
                  PGresult  *res,
                  GError   **error)
{
  const char *sqlstate = res ? PQresultErrorField (res, PG_DIAG_SQLSTATE) : NULL;
  const char *primary = res ? PQresultErrorField (res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  int code = CDL_DB_ERROR_FAILED;

  if (g_strcmp0 (sqlstate, "CDL01") == 0)
    code = CDL_DB_ERROR_FROZEN;
  else if (sqlstate != NULL && g_str_has_prefix (sqlstate, "23"))
    code = g_str_equal (sqlstate, "23505") ? CDL_DB_ERROR_UNIQUE : CDL_DB_ERROR_CONSTRAINT;
  else if (PQstatus (conn) != CONNECTION_OK)
    code = CDL_DB_ERROR_CONNECTION;

  g_set_error_literal (error, CDL_DB_ERROR, code,
                       primary ? primary : "The COPY into the database failed");
}

typedef struct
{
  PGconn  *conn;
  GString *buf;
  gboolean failed;
} Copy;

static gboolean
copy_start (Copy        *copy,
            PGconn      *conn,
            const char  *sql,
            GError     **error)
{
  g_autoptr(PGresult) res = NULL;

  copy->conn = conn;
  copy->buf = g_string_sized_new (COPY_CHUNK + 4096);
  copy->failed = FALSE;

  /* The statement is fixed text; the rows go through the COPY stream. */
  res = PQexecParams (conn, sql, 0, NULL, NULL, NULL, NULL, 0);
  if (res == NULL || PQresultStatus (res) != PGRES_COPY_IN)
    {
      set_result_error (conn, res, error);
      g_string_free (copy->buf, TRUE);
      copy->buf = NULL;
      return FALSE;
    }

  return TRUE;
}

static void
copy_flush (Copy *copy)
{
  if (copy->buf->len == 0 || copy->failed)
    return;

  if (PQputCopyData (copy->conn, copy->buf->str, (int) copy->buf->len) != 1)
    copy->failed = TRUE;
  g_string_truncate (copy->buf, 0);
}

static void
copy_row_done (Copy *copy)
{
  g_string_append_c (copy->buf, '\n');
  if (copy->buf->len >= COPY_CHUNK)
    copy_flush (copy);
}

static gboolean
copy_end (Copy    *copy,
          GError **error)
{
  PGresult *res;
  gboolean ok = TRUE;

  copy_flush (copy);
  g_string_free (copy->buf, TRUE);
  copy->buf = NULL;

  if (PQputCopyEnd (copy->conn, copy->failed ? "the client failed to send rows" : NULL) != 1)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_CONNECTION, "%s",
                   PQerrorMessage (copy->conn));
      ok = FALSE;
    }

  while ((res = PQgetResult (copy->conn)) != NULL)
    {
      if (ok && PQresultStatus (res) != PGRES_COMMAND_OK)
        {
          set_result_error (copy->conn, res, error);
          ok = FALSE;
        }
      PQclear (res);
    }

  return ok;
}

gboolean
cdl_task_repo_replace_prompts (PGconn             *conn,
                               const char         *task_id,
                               const CdlPromptSet *set,
                               GError            **error)
{
  g_auto(GStrv) ids = NULL;
  const char *params[1] = { task_id };
  Copy copy = { 0 };

  g_return_val_if_fail (conn != NULL, FALSE);
  g_return_val_if_fail (task_id != NULL, FALSE);
  g_return_val_if_fail (set != NULL, FALSE);

  /* Seeds go with their prompts (ON DELETE CASCADE). */
  if (!cdl_pq_command (conn, "DELETE FROM seeds WHERE task_id = $1", 1, params, error)
      || !cdl_pq_command (conn, "DELETE FROM prompts WHERE task_id = $1", 1, params, error))
    return FALSE;

  /* Prompt ids are made here so that the seeds can name them in the
   * same stream of rows, without reading anything back. */
  ids = g_new0 (char *, set->n_prompts + 1);
  for (guint i = 0; i < set->n_prompts; i++)
    ids[i] = g_uuid_string_random ();

  if (!copy_start (&copy, conn,
                   "COPY prompts (id, task_id, position, text, variables) FROM STDIN",
                   error))
    return FALSE;

  for (guint i = 0; i < set->n_prompts; i++)
    {
      g_string_append_printf (copy.buf, "%s\t%s\t%u\t", ids[i], task_id, i);
      copy_escape (copy.buf, set->texts[i]);
      g_string_append_c (copy.buf, '\t');
      copy_escape (copy.buf, set->variables[i]);
      copy_row_done (&copy);
    }

  if (!copy_end (&copy, error))
    return FALSE;

  if (!copy_start (&copy, conn,
                   "COPY seeds (task_id, prompt_id, position, seed_value) FROM STDIN",
                   error))
    return FALSE;

  for (guint i = 0; i < set->n_prompts; i++)
    for (guint j = 0; j < set->seeds_per_prompt; j++)
      {
        g_string_append_printf (copy.buf, "%s\t%s\t%u\t%" G_GUINT64_FORMAT,
                                task_id, ids[i], j,
                                set->seeds[(gsize) i * set->seeds_per_prompt + j]);
        copy_row_done (&copy);
      }

  return copy_end (&copy, error);
}

char *
cdl_task_repo_checksum (PGconn      *conn,
                        const char  *task_id,
                        GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  const char *params[1] = { task_id };

  g_return_val_if_fail (conn != NULL, NULL);

  res = cdl_pq_exec (conn,
                     "SELECT p.position, p.text, p.variables::text,"
                     " (SELECT array_agg (s.seed_value ORDER BY s.position)"
                     "    FROM seeds s WHERE s.prompt_id = p.id)"
                     " FROM prompts p WHERE p.task_id = $1 ORDER BY p.position",
                     1, params, error);
  if (res == NULL)
    return NULL;

  for (int row = 0; row < PQntuples (res); row++)
    {
      g_autofree guint64 *seeds = NULL;
      guint n_seeds = 0;

      seeds = parse_bigint_array (cdl_pq_get_string (res, row, 3), &n_seeds);
      cdl_sampling_checksum_add (checksum, (guint) cdl_pq_get_int (res, row, 0),
                                 cdl_pq_get_string (res, row, 1),
                                 cdl_pq_get_string (res, row, 2),
                                 seeds, n_seeds);
    }

  return g_strdup (g_checksum_get_string (checksum));
}

gboolean
cdl_task_repo_freeze (PGconn      *conn,
                      const char  *task_id,
                      JsonNode    *snapshot,
                      GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *text = cdl_json_to_string (snapshot, FALSE);
  const char *params[2] = { task_id, text };

  g_return_val_if_fail (conn != NULL, FALSE);

  res = cdl_pq_exec (conn,
                     "UPDATE tasks SET state = 'FROZEN', frozen_at = now (),"
                     " frozen_snapshot = $2::jsonb"
                     /* A pilot that worked hands its settings to the mass run. */
                     "  || CASE WHEN pilot ? 'settings' THEN jsonb_build_object ('pilot',"
                     "       jsonb_build_object ('settings', pilot -> 'settings',"
                     "                           'retries_used', pilot -> 'retries_used',"
                     "                           'worker_id', pilot -> 'worker_id'))"
                     "     ELSE '{}'::jsonb END"
                     " WHERE id = $1 AND state = 'DRAFT' RETURNING id",
                     2, params, error);
  if (res == NULL)
    return FALSE;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_FROZEN,
                   "Task %s is already frozen", task_id);
      return FALSE;
    }

  return TRUE;
}
