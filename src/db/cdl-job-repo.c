/* cdl-job-repo.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include "db/cdl-job-repo.h"
#include "db/cdl-pq.h"

#define JOB_COLUMNS \
  "id, task_id, prompt_id, kind, state, worker_id, client_id, comfy_prompt_id," \
  " seed_ids::text[], native_batch, batch_size, attempt, retry_of, error, seq"

#define CLAIM_UNTIL "now () + make_interval (secs => $%d::double precision / 1000)"

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

static CdlJob *
job_from_row (const PGresult *res,
              int             row)
{
  CdlJob *job = g_new0 (CdlJob, 1);

  job->id = g_strdup (cdl_pq_get_string (res, row, 0));
  job->task_id = g_strdup (cdl_pq_get_string (res, row, 1));
  job->prompt_id = g_strdup (cdl_pq_get_string (res, row, 2));
  job->kind = g_strdup (cdl_pq_get_string (res, row, 3));
  job->state = g_strdup (cdl_pq_get_string (res, row, 4));
  job->worker_id = g_strdup (cdl_pq_get_string (res, row, 5));
  job->client_id = g_strdup (cdl_pq_get_string (res, row, 6));
  job->comfy_prompt_id = g_strdup (cdl_pq_get_string (res, row, 7));
  job->seed_ids = cdl_pq_get_strv (res, row, 8);
  job->native_batch = cdl_pq_get_bool (res, row, 9);
  job->batch_size = cdl_pq_get_int (res, row, 10);
  job->attempt = cdl_pq_get_int (res, row, 11);
  job->retry_of = g_strdup (cdl_pq_get_string (res, row, 12));
  job->error = g_strdup (cdl_pq_get_string (res, row, 13));
  job->seq = cdl_pq_get_int64 (res, row, 14);

  return job;
}

static GPtrArray *
jobs_from_result (const PGresult *res)
{
  GPtrArray *jobs = g_ptr_array_new_with_free_func ((GDestroyNotify)cdl_job_free);

  for (int i = 0; i < PQntuples (res); i++)
    g_ptr_array_add (jobs, job_from_row (res, i));

  return jobs;
}

gint64
cdl_job_repo_plan (PGconn      *conn,
                   const char  *task_id,
                   gboolean     native,
                   GError     **error)
{
  g_autoptr(PGresult) lock = NULL;
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { task_id };

  g_return_val_if_fail (conn != NULL, -1);

  if (!check_uuid (task_id, "task", error))
    return -1;

  lock = cdl_pq_exec (conn, "SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", 1, params, error);
  if (lock == NULL)
    return -1;
  if (PQntuples (lock) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No task with id %s", task_id);
      return -1;
    }

  /* Identity values follow the order rows are produced in, so seq keeps
   * the prompt order of the SELECT. */
  if (native)
    res = cdl_pq_exec (conn,
                       "INSERT INTO jobs (task_id, prompt_id, kind, seed_ids, native_batch,"
                       "                  batch_size)"
                       " SELECT p.task_id, p.id, 'mass', s.ids, true, cardinality (s.ids)"
                       " FROM prompts p"
                       " CROSS JOIN LATERAL (SELECT array_agg (id ORDER BY position) AS ids"
                       "                     FROM seeds WHERE prompt_id = p.id) s"
                       " WHERE p.task_id = $1 AND s.ids IS NOT NULL"
                       "   AND NOT EXISTS (SELECT 1 FROM jobs"
                       "                   WHERE task_id = $1 AND kind = 'mass')"
                       " ORDER BY p.position",
                       1, params, error);
  else
    res = cdl_pq_exec (conn,
                       "INSERT INTO jobs (task_id, prompt_id, kind, seed_ids, native_batch,"
                       "                  batch_size)"
                       " SELECT s.task_id, s.prompt_id, 'mass', ARRAY[s.id], false, 1"
                       " FROM seeds s JOIN prompts p ON p.id = s.prompt_id"
                       " WHERE s.task_id = $1"
                       "   AND NOT EXISTS (SELECT 1 FROM jobs"
                       "                   WHERE task_id = $1 AND kind = 'mass')"
                       " ORDER BY p.position, s.position",
                       1, params, error);
  if (res == NULL)
    return -1;

  return g_ascii_strtoll (PQcmdTuples (res), NULL, 10);
}

CdlJob *
cdl_job_repo_claim_next (PGconn      *conn,
                         const char  *task_id,
                         const char  *holder,
                         guint        claim_ms,
                         GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *ms = g_strdup_printf ("%u", claim_ms);
  g_autofree char *sql = NULL;
  const char *params[3] = { task_id, holder, ms };

  g_return_val_if_fail (conn != NULL && holder != NULL, NULL);

  if (!check_uuid (task_id, "task", error))
    return NULL;

  sql = g_strdup_printf ("UPDATE jobs SET claimed_by = $2, claimed_until = " CLAIM_UNTIL ","
                         "  updated_at = now ()"
                         " WHERE id = (SELECT id FROM jobs"
                         "             WHERE task_id = $1 AND state = 'queued'"
                         "               AND (claimed_until IS NULL OR claimed_until < now ())"
                         "             ORDER BY seq LIMIT 1"
                         "             FOR UPDATE SKIP LOCKED)"
                         " RETURNING " JOB_COLUMNS, 3);
  res = cdl_pq_exec (conn, sql, 3, params, error);
  if (res == NULL || PQntuples (res) == 0)
    return NULL;

  return job_from_row (res, 0);
}

GPtrArray *
cdl_job_repo_claim_orphans (PGconn      *conn,
                            const char  *holder,
                            guint        claim_ms,
                            GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *ms = g_strdup_printf ("%u", claim_ms);
  g_autofree char *sql = NULL;
  const char *params[2] = { holder, ms };

  g_return_val_if_fail (conn != NULL && holder != NULL, NULL);

  sql = g_strdup_printf ("UPDATE jobs SET claimed_by = $1, claimed_until = " CLAIM_UNTIL ","
                         "  updated_at = now ()"
                         " WHERE id IN (SELECT id FROM jobs"
                         "              WHERE state IN ('submitted', 'running')"
                         "                AND (claimed_until IS NULL OR claimed_until < now ())"
                         "              ORDER BY seq"
                         "              FOR UPDATE SKIP LOCKED)"
                         " RETURNING " JOB_COLUMNS, 2);
  res = cdl_pq_exec (conn, sql, 2, params, error);
  if (res == NULL)
    return NULL;

  return jobs_from_result (res);
}

gint64
cdl_job_repo_renew_claims (PGconn      *conn,
                           const char  *holder,
                           guint        claim_ms,
                           GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *ms = g_strdup_printf ("%u", claim_ms);
  g_autofree char *sql = NULL;
  const char *params[2] = { holder, ms };

  g_return_val_if_fail (conn != NULL && holder != NULL, -1);

  sql = g_strdup_printf ("UPDATE jobs SET claimed_until = " CLAIM_UNTIL
                         " WHERE claimed_by = $1"
                         "   AND state IN ('queued', 'submitted', 'running')", 2);
  res = cdl_pq_exec (conn, sql, 2, params, error);
  if (res == NULL)
    return -1;

  return g_ascii_strtoll (PQcmdTuples (res), NULL, 10);
}

gboolean
cdl_job_repo_mark_submitted (PGconn      *conn,
                             const char  *job_id,
                             const char  *holder,
                             const char  *worker_id,
                             const char  *client_id,
                             GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[4] = { job_id, holder, worker_id, client_id };

  g_return_val_if_fail (conn != NULL, FALSE);

  if (!check_uuid (job_id, "job", error) || !check_uuid (worker_id, "worker", error))
    return FALSE;

  /* The job's own id is the prompt_id ComfyUI gets (cdl_job_comfy_prompt_id). */
  res = cdl_pq_exec (conn,
                     "UPDATE jobs SET state = 'submitted', worker_id = $3, client_id = $4,"
                     "  comfy_prompt_id = id::text, submitted_at = now (), updated_at = now ()"
                     " WHERE id = $1 AND claimed_by = $2 AND state = 'queued'",
                     4, params, error);
  if (res == NULL)
    return FALSE;

  return g_strcmp0 (PQcmdTuples (res), "1") == 0;
}

gboolean
cdl_job_repo_unclaim (PGconn      *conn,
                      const char  *job_id,
                      const char  *holder,
                      GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[2] = { job_id, holder };

  g_return_val_if_fail (conn != NULL && holder != NULL, FALSE);

  if (!check_uuid (job_id, "job", error))
    return FALSE;

  res = cdl_pq_exec (conn,
                     "UPDATE jobs j SET state = CASE WHEN t.state = 'CANCELLED'"
                     "                                 THEN 'cancelled' ELSE 'queued' END,"
                     "  finished_at = CASE WHEN t.state = 'CANCELLED' THEN now () END,"
                     "  worker_id = NULL, client_id = NULL, comfy_prompt_id = NULL,"
                     "  submitted_at = NULL, claimed_by = NULL, claimed_until = NULL,"
                     "  updated_at = now ()"
                     " FROM tasks t"
                     " WHERE j.id = $1 AND t.id = j.task_id AND j.claimed_by = $2"
                     "   AND j.state = 'submitted'",
                     2, params, error);
  if (res == NULL)
    return FALSE;

  return g_strcmp0 (PQcmdTuples (res), "1") == 0;
}

gboolean
cdl_job_repo_mark_running (PGconn      *conn,
                           const char  *job_id,
                           GError     **error)
{
  const char *params[1] = { job_id };

  if (!check_uuid (job_id, "job", error))
    return FALSE;

  return cdl_pq_command (conn,
                         "UPDATE jobs SET state = 'running', updated_at = now ()"
                         " WHERE id = $1 AND state = 'submitted'",
                         1, params, error);
}

gboolean
cdl_job_repo_finish (PGconn      *conn,
                     const char  *job_id,
                     const char  *state,
                     const char  *error_text,
                     GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[3] = { job_id, state, error_text };

  g_return_val_if_fail (conn != NULL && state != NULL, FALSE);

  if (!check_uuid (job_id, "job", error))
    return FALSE;

  res = cdl_pq_exec (conn,
                     "UPDATE jobs SET state = $2, error = $3, finished_at = now (),"
                     "  claimed_by = NULL, claimed_until = NULL, updated_at = now ()"
                     " WHERE id = $1 AND state IN ('queued', 'submitted', 'running')",
                     3, params, error);
  if (res == NULL)
    return FALSE;

  return g_strcmp0 (PQcmdTuples (res), "1") == 0;
}

CdlJob *
cdl_job_repo_retry (PGconn      *conn,
                    const char  *job_id,
                    const char  *state,
                    const char  *error_text,
                    GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[3] = { job_id, state, error_text };

  g_return_val_if_fail (conn != NULL && state != NULL, NULL);

  if (!check_uuid (job_id, "job", error))
    return NULL;

  res = cdl_pq_exec (conn,
                     "WITH old AS ("
                     "  UPDATE jobs SET state = $2, error = $3, finished_at = now (),"
                     "    claimed_by = NULL, claimed_until = NULL, updated_at = now ()"
                     "  WHERE id = $1 AND state IN ('queued', 'submitted', 'running')"
                     "  RETURNING *)"
                     " INSERT INTO jobs (task_id, prompt_id, kind, seed_ids, native_batch,"
                     "                   batch_size, attempt, settings, retry_of)"
                     " SELECT task_id, prompt_id, kind, seed_ids, native_batch, batch_size,"
                     "        attempt + 1, settings, id FROM old"
                     " RETURNING " JOB_COLUMNS,
                     3, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                   "Job %s is not running, so it cannot be retried", job_id);
      return NULL;
    }

  return job_from_row (res, 0);
}

gint64
cdl_job_repo_retry_singly (PGconn      *conn,
                           const char  *job_id,
                           const char  *state,
                           const char  *error_text,
                           GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[3] = { job_id, state, error_text };
  gint64 queued;

  g_return_val_if_fail (conn != NULL && state != NULL, -1);

  if (!check_uuid (job_id, "job", error))
    return -1;

  /* A seed that has an image at any batch index is done: it must not get
   * a second one at index 0. */
  res = cdl_pq_exec (conn,
                     "WITH old AS ("
                     "  UPDATE jobs SET state = $2, error = $3, finished_at = now (),"
                     "    claimed_by = NULL, claimed_until = NULL, updated_at = now ()"
                     "  WHERE id = $1 AND state IN ('queued', 'submitted', 'running')"
                     "  RETURNING *),"
                     " new AS ("
                     "  INSERT INTO jobs (task_id, prompt_id, kind, seed_ids, native_batch,"
                     "                    batch_size, attempt, settings, retry_of)"
                     "  SELECT o.task_id, o.prompt_id, o.kind, ARRAY[u.sid], false, 1,"
                     "         o.attempt + 1, o.settings, o.id"
                     "  FROM old o CROSS JOIN LATERAL unnest (o.seed_ids)"
                     "    WITH ORDINALITY AS u (sid, ord)"
                     "  WHERE NOT EXISTS (SELECT 1 FROM generation_slots g WHERE g.seed_id = u.sid)"
                     "  ORDER BY u.ord"
                     "  RETURNING id)"
                     " SELECT (SELECT count (*) FROM old), (SELECT count (*) FROM new)",
                     3, params, error);
  if (res == NULL)
    return -1;

  if (cdl_pq_get_int64 (res, 0, 0) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                   "Job %s is not running, so it cannot be retried", job_id);
      return -1;
    }

  queued = cdl_pq_get_int64 (res, 0, 1);
  if (queued == 0
      && !cdl_pq_command (conn, "UPDATE jobs SET state = 'done' WHERE id = $1",
                          1, params, error))
    return -1;

  return queued;
}

gint64
cdl_job_repo_cancel_queued (PGconn      *conn,
                            const char  *task_id,
                            GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { task_id };

  if (!check_uuid (task_id, "task", error))
    return -1;

  res = cdl_pq_exec (conn,
                     "UPDATE jobs SET state = 'cancelled', finished_at = now (),"
                     "  claimed_by = NULL, claimed_until = NULL, updated_at = now ()"
                     " WHERE task_id = $1 AND state = 'queued'",
                     1, params, error);
  if (res == NULL)
    return -1;

  return g_ascii_strtoll (PQcmdTuples (res), NULL, 10);
}

CdlJob *
cdl_job_repo_get (PGconn      *conn,
                  const char  *job_id,
                  GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { job_id };

  if (!check_uuid (job_id, "job", error))
    return NULL;

  res = cdl_pq_exec (conn, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = $1", 1, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No job with id %s", job_id);
      return NULL;
    }

  return job_from_row (res, 0);
}

gboolean
cdl_job_repo_progress (PGconn           *conn,
                       const char       *task_id,
                       CdlTaskProgress  *progress,
                       GError          **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { task_id };

  g_return_val_if_fail (progress != NULL, FALSE);

  if (!check_uuid (task_id, "task", error))
    return FALSE;

  res = cdl_pq_exec (conn,
                     "SELECT (SELECT count (*) FROM seeds WHERE task_id = $1),"
                     "       (SELECT count (*) FROM generations"
                     "        WHERE task_id = $1 AND state = 'done'),"
                     "       count (*) FILTER (WHERE state IN ('submitted', 'running')),"
                     "       count (*) FILTER (WHERE state = 'queued'),"
                     "       count (*) FILTER (WHERE state = 'failed'"
                     "                         AND NOT EXISTS (SELECT 1 FROM jobs r"
                     "                                         WHERE r.retry_of = j.id))"
                     " FROM jobs j WHERE task_id = $1 AND kind = 'mass'",
                     1, params, error);
  if (res == NULL)
    return FALSE;

  progress->total = cdl_pq_get_int64 (res, 0, 0);
  progress->done = cdl_pq_get_int64 (res, 0, 1);
  progress->running = cdl_pq_get_int64 (res, 0, 2);
  progress->pending = cdl_pq_get_int64 (res, 0, 3);
  progress->failed = cdl_pq_get_int64 (res, 0, 4);

  return TRUE;
}

char *
cdl_generation_repo_insert (PGconn                    *conn,
                            const CdlGenerationInput  *in,
                            gboolean                  *inserted,
                            GError                   **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *seed = g_strdup_printf ("%" G_GINT64_FORMAT, in->seed_value);
  g_autofree char *index = g_strdup_printf ("%d", in->batch_index);
  g_autofree char *bytes = g_strdup_printf ("%" G_GINT64_FORMAT, in->bytes);
  g_autofree char *width = g_strdup_printf ("%d", in->width);
  g_autofree char *height = g_strdup_printf ("%d", in->height);
  g_autofree char *metadata = NULL;
  const char *params[14];

  g_return_val_if_fail (conn != NULL && in != NULL, NULL);

  if (inserted != NULL)
    *inserted = FALSE;

  if (in->metadata != NULL)
    {
      g_autoptr(JsonGenerator) gen = json_generator_new ();

      json_generator_set_root (gen, in->metadata);
      metadata = json_generator_to_data (gen, NULL);
    }

  params[0] = in->task_id;
  params[1] = in->prompt_id;
  params[2] = in->seed_id;
  params[3] = in->job_id;
  params[4] = in->worker_id;
  params[5] = seed;
  params[6] = index;
  params[7] = in->image_uri;
  params[8] = in->thumb_uri;
  params[9] = in->checksum;
  params[10] = bytes;
  params[11] = width;
  params[12] = height;
  params[13] = metadata ? metadata : "{}";

  /* The slot row makes "one image per seed and index" hold across
   * partitions, where a unique index on generations cannot. */
  res = cdl_pq_exec (conn,
                     "WITH slot AS ("
                     "  INSERT INTO generation_slots (seed_id, batch_index, generation_id,"
                     "                                created_at)"
                     "  VALUES ($3, $7, gen_random_uuid (), now ())"
                     "  ON CONFLICT DO NOTHING"
                     "  RETURNING generation_id, created_at)"
                     " INSERT INTO generations (id, created_at, task_id, prompt_id, seed_id,"
                     "   job_id, worker_id, seed_value, batch_index, state, image_uri,"
                     "   thumb_uri, checksum, bytes, width, height, metadata)"
                     " SELECT generation_id, created_at, $1, $2, $3, $4, $5, $6, $7, 'done',"
                     "   $8, $9, $10, $11, $12, $13, $14::jsonb FROM slot"
                     " RETURNING id",
                     14, params, error);
  if (res == NULL || PQntuples (res) == 0)
    return NULL;

  if (inserted != NULL)
    *inserted = TRUE;

  return g_strdup (cdl_pq_get_string (res, 0, 0));
}

void
cdl_job_inputs_free (CdlJobInputs *inputs)
{
  if (inputs == NULL)
    return;

  g_free (inputs->task_state);
  g_free (inputs->prompt_text);
  g_strfreev (inputs->seed_ids);
  g_free (inputs->seed_values);
  g_free (inputs->filled);
  g_free (inputs);
}

CdlJobInputs *
cdl_job_repo_get_inputs (PGconn        *conn,
                         const CdlJob  *job,
                         GError       **error)
{
  g_autoptr(PGresult) head = NULL;
  g_autoptr(PGresult) res = NULL;
  g_autoptr(CdlJobInputs) inputs = NULL;
  const char *params[2] = { job->id, job->native_batch ? "true" : "false" };
  guint n;

  g_return_val_if_fail (conn != NULL && job != NULL, NULL);

  if (!check_uuid (job->id, "job", error))
    return NULL;

  head = cdl_pq_exec (conn,
                      "SELECT t.state, p.text FROM jobs j"
                      " JOIN tasks t ON t.id = j.task_id"
                      " LEFT JOIN prompts p ON p.id = j.prompt_id"
                      " WHERE j.id = $1",
                      1, params, error);
  if (head == NULL)
    return NULL;
  if (PQntuples (head) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No job with id %s", job->id);
      return NULL;
    }

  /* A native batch makes image i of seed i at batch index i; a batch-1
   * job makes one image of its seed at index 0. */
  res = cdl_pq_exec (conn,
                     "SELECT u.sid, s.seed_value,"
                     "       EXISTS (SELECT 1 FROM generation_slots g"
                     "               WHERE g.seed_id = u.sid"
                     "                 AND g.batch_index = CASE WHEN $2::boolean"
                     "                                          THEN u.ord - 1 ELSE 0 END)"
                     " FROM jobs j"
                     " CROSS JOIN LATERAL unnest (j.seed_ids) WITH ORDINALITY AS u (sid, ord)"
                     " JOIN seeds s ON s.id = u.sid"
                     " WHERE j.id = $1 ORDER BY u.ord",
                     2, params, error);
  if (res == NULL)
    return NULL;

  n = (guint) PQntuples (res);
  inputs = g_new0 (CdlJobInputs, 1);
  inputs->task_state = g_strdup (cdl_pq_get_string (head, 0, 0));
  inputs->prompt_text = g_strdup (cdl_pq_get_string (head, 0, 1));
  inputs->n_images = n;
  inputs->seed_ids = g_new0 (char *, n + 1);
  inputs->seed_values = g_new0 (gint64, MAX (n, 1));
  inputs->filled = g_new0 (gboolean, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      inputs->seed_ids[i] = g_strdup (cdl_pq_get_string (res, i, 0));
      inputs->seed_values[i] = cdl_pq_get_int64 (res, i, 1);
      inputs->filled[i] = cdl_pq_get_bool (res, i, 2);
    }

  return g_steal_pointer (&inputs);
}

char *
cdl_job_repo_set_task_state (PGconn              *conn,
                             const char          *task_id,
                             const char * const  *from,
                             const char          *to,
                             gboolean            *changed,
                             GError             **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *from_literal = NULL;
  const char *params[3];

  g_return_val_if_fail (conn != NULL && from != NULL && to != NULL, NULL);

  if (changed != NULL)
    *changed = FALSE;

  if (!check_uuid (task_id, "task", error))
    return NULL;

  from_literal = cdl_pq_strv_literal (from);
  params[0] = task_id;
  params[1] = from_literal;
  params[2] = to;

  /* The old state comes from a locked read in the same statement, so the
   * answer says what the change was made from. */
  res = cdl_pq_exec (conn,
                     "WITH old AS (SELECT id, state FROM tasks WHERE id = $1 FOR UPDATE),"
                     " upd AS (UPDATE tasks t SET state = $3 FROM old"
                     "         WHERE t.id = old.id AND old.state = ANY ($2::text[])"
                     "         RETURNING t.id)"
                     " SELECT old.state, (SELECT count (*) FROM upd) FROM old",
                     3, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No task with id %s", task_id);
      return NULL;
    }

  if (changed != NULL)
    *changed = cdl_pq_get_int64 (res, 0, 1) > 0;

  return g_strdup (cdl_pq_get_string (res, 0, 0));
}

gint64
cdl_job_repo_end_tasks (PGconn  *conn,
                        GError **error)
{
  g_autoptr(PGresult) res = NULL;

  res = cdl_pq_exec (conn,
                     "UPDATE tasks t SET state ="
                     "  CASE WHEN EXISTS (SELECT 1 FROM jobs j"
                     "                    WHERE j.task_id = t.id AND j.kind = 'mass'"
                     "                      AND j.state IN ('failed', 'partial_failed')"
                     "                      AND NOT EXISTS (SELECT 1 FROM jobs r"
                     "                                      WHERE r.retry_of = j.id))"
                     "       THEN 'FAILED' ELSE 'DONE' END"
                     " WHERE t.state = 'RUNNING'"
                     "   AND NOT EXISTS (SELECT 1 FROM jobs j"
                     "                   WHERE j.task_id = t.id AND j.kind = 'mass'"
                     "                     AND j.state IN ('queued', 'submitted', 'running'))"
                     " RETURNING pg_notify ('cdl_progress', t.id::text)",
                     0, NULL, error);
  if (res == NULL)
    return -1;

  return PQntuples (res);
}

gboolean
cdl_job_repo_release_claims (PGconn      *conn,
                             const char  *holder,
                             GError     **error)
{
  const char *params[1] = { holder };

  g_return_val_if_fail (conn != NULL && holder != NULL, FALSE);

  return cdl_pq_command (conn,
                         "UPDATE jobs SET claimed_until = now () - interval '1 second'"
                         " WHERE claimed_by = $1"
                         "   AND state IN ('queued', 'submitted', 'running')",
                         1, params, error);
}

GPtrArray *
cdl_job_repo_dedicated_in_flight (PGconn      *conn,
                                  const char  *task_id,
                                  GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { task_id };

  if (!check_uuid (task_id, "task", error))
    return NULL;

  res = cdl_pq_exec (conn,
                     "SELECT " JOB_COLUMNS " FROM jobs j"
                     " WHERE j.task_id = $1 AND j.state IN ('submitted', 'running')"
                     "   AND j.worker_id IS NOT NULL"
                     "   AND NOT EXISTS (SELECT 1 FROM jobs o"
                     "                   WHERE o.worker_id = j.worker_id"
                     "                     AND o.task_id <> j.task_id"
                     "                     AND o.state IN ('submitted', 'running'))"
                     " ORDER BY j.seq",
                     1, params, error);
  if (res == NULL)
    return NULL;

  return jobs_from_result (res);
}

void
cdl_prompt_progress_free (CdlPromptProgress *progress)
{
  if (progress == NULL)
    return;

  g_free (progress->prompt_id);
  g_free (progress);
}

GPtrArray *
cdl_job_repo_prompt_progress (PGconn      *conn,
                              const char  *task_id,
                              int          after,
                              guint        limit,
                              int         *next_after,
                              GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *after_text = g_strdup_printf ("%d", after);
  g_autofree char *limit_text = g_strdup_printf ("%u", limit);
  const char *params[3] = { task_id, after_text, limit_text };
  GPtrArray *page;
  int n;

  g_return_val_if_fail (next_after != NULL, NULL);

  if (!check_uuid (task_id, "task", error))
    return NULL;

  /* Keyset on (task_id, position): the unique index serves the page. */
  res = cdl_pq_exec (conn,
                     "SELECT p.id, p.position,"
                     "  (SELECT count (*) FROM generations g"
                     "   WHERE g.task_id = p.task_id AND g.prompt_id = p.id"
                     "     AND g.state = 'done'),"
                     "  (SELECT count (*) FROM jobs j"
                     "   WHERE j.prompt_id = p.id AND j.kind = 'mass'"
                     "     AND j.state IN ('failed', 'partial_failed')"
                     "     AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.retry_of = j.id)),"
                     "  (SELECT coalesce (max (j.attempt), 0) FROM jobs j"
                     "   WHERE j.prompt_id = p.id AND j.kind = 'mass')"
                     " FROM prompts p"
                     " WHERE p.task_id = $1 AND p.position > $2::integer"
                     " ORDER BY p.position LIMIT $3::integer",
                     3, params, error);
  if (res == NULL)
    return NULL;

  n = PQntuples (res);
  page = g_ptr_array_new_with_free_func ((GDestroyNotify) cdl_prompt_progress_free);
  for (int i = 0; i < n; i++)
    {
      CdlPromptProgress *p = g_new0 (CdlPromptProgress, 1);

      p->prompt_id = g_strdup (cdl_pq_get_string (res, i, 0));
      p->position = cdl_pq_get_int (res, i, 1);
      p->done = cdl_pq_get_int64 (res, i, 2);
      p->failed = cdl_pq_get_int64 (res, i, 3);
      p->retries_used = cdl_pq_get_int (res, i, 4);
      g_ptr_array_add (page, p);
    }

  *next_after = (n > 0 && (guint) n == limit) ? cdl_pq_get_int (res, n - 1, 1) : -1;

  return page;
}
