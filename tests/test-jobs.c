/* test-jobs.c: jobs and generations on a real PostgreSQL
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "cdl-test-pg.h"
#include "db/cdl-db.h"
#include "db/cdl-job-repo.h"
#include "db/cdl-pq.h"

#define N_PROMPTS 5
#define N_SEEDS   3

static CdlTestPg *test_pg;

typedef struct
{
  CdlDb   *db;
  PGconn  *conn;
  char    *task_id;
} Fixture;

static PGresult *
must (PGconn             *conn,
      const char         *sql,
      int                 n,
      const char * const *params)
{
  g_autoptr(GError) error = NULL;
  PGresult *res = cdl_pq_exec (conn, sql, n, params, &error);

  g_assert_no_error (error);
  return res;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *conninfo = cdl_test_pg_new_database (test_pg, &error);
  g_autoptr(PGresult) wf = NULL;
  g_autoptr(PGresult) task = NULL;

  g_assert_no_error (error);
  f->db = cdl_db_new (conninfo, 4);
  g_assert_true (cdl_db_migrate (f->db, &error));
  g_assert_no_error (error);
  f->conn = cdl_db_acquire (f->db, &error);
  g_assert_no_error (error);

  wf = must (f->conn,
             "INSERT INTO workflows (name, version, raw_text, raw_definition, valid)"
             " VALUES ('w', 1, '{}', '{}', true) RETURNING id", 0, NULL);
  {
    const char *p[1] = { cdl_pq_get_string (wf, 0, 0) };
    g_autofree char *n_prompts = g_strdup_printf ("%d", N_PROMPTS);
    g_autofree char *n_seeds = g_strdup_printf ("%d", N_SEEDS);
    const char *q[2] = { NULL, n_prompts };

    task = must (f->conn,
                 "INSERT INTO tasks (workflow_id, target_prompts, seeds_per_prompt, rng_seed)"
                 " VALUES ($1, 5, 3, 7) RETURNING id", 1, p);
    f->task_id = g_strdup (cdl_pq_get_string (task, 0, 0));
    q[0] = f->task_id;
    PQclear (must (f->conn,
                   "INSERT INTO prompts (task_id, position, text)"
                   " SELECT $1, i, 'prompt ' || i FROM generate_series (0, $2::int - 1) i",
                   2, q));
    q[1] = n_seeds;
    PQclear (must (f->conn,
                   "INSERT INTO seeds (task_id, prompt_id, position, seed_value)"
                   " SELECT $1, p.id, j, p.position * 100 + j"
                   " FROM prompts p, generate_series (0, $2::int - 1) j WHERE p.task_id = $1",
                   2, q));
  }
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  cdl_db_release (f->db, f->conn);
  g_clear_object (&f->db);
  g_free (f->task_id);
}

static gint64
plan (Fixture  *f,
      gboolean  native)
{
  g_autoptr(GError) error = NULL;
  gint64 n;

  g_assert_true (cdl_pq_begin (f->conn, &error));
  n = cdl_job_repo_plan (f->conn, f->task_id, native, &error);
  g_assert_no_error (error);
  g_assert_true (cdl_pq_commit (f->conn, &error));
  return n;
}

static void
test_plan_native (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlJob) first = NULL;

  g_assert_cmpint (plan (f, TRUE), ==, N_PROMPTS);
  /* Planning again makes nothing. */
  g_assert_cmpint (plan (f, TRUE), ==, 0);
  g_assert_cmpint (plan (f, FALSE), ==, 0);

  first = cdl_job_repo_claim_next (f->conn, f->task_id, "me", 60000, &error);
  g_assert_no_error (error);
  g_assert_true (first->native_batch);
  g_assert_cmpint (first->batch_size, ==, N_SEEDS);
  g_assert_cmpuint (g_strv_length (first->seed_ids), ==, N_SEEDS);
  g_assert_cmpstr (first->state, ==, "queued");
  g_assert_cmpint (first->attempt, ==, 0);

  /* Its seeds are the first prompt's, in position order. */
  {
    const char *p[1] = { first->seed_ids[0] };
    g_autoptr(PGresult) res =
      must (f->conn, "SELECT s.position, p.position FROM seeds s"
                     " JOIN prompts p ON p.id = s.prompt_id WHERE s.id = $1", 1, p);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 0), ==, 0);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 1), ==, 0);
  }
}

static void
test_claims_in_order_and_exclusive (Fixture       *f,
                                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gint64 last_seq = 0;
  CdlJob *job;
  guint n = 0;

  g_assert_cmpint (plan (f, FALSE), ==, N_PROMPTS * N_SEEDS);

  /* Two holders alternate; nobody gets a job twice, order is kept. */
  while ((job = cdl_job_repo_claim_next (f->conn, f->task_id, n % 2 ? "a" : "b",
                                         60000, &error)) != NULL)
    {
      g_assert_false (g_hash_table_contains (seen, job->id));
      g_assert_cmpint (job->seq, >, last_seq);
      g_assert_cmpint (job->batch_size, ==, 1);
      last_seq = job->seq;
      g_hash_table_add (seen, g_strdup (job->id));
      cdl_job_free (job);
      n++;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, N_PROMPTS * N_SEEDS);
}

static void
test_submit_finish_retry (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlJob) job = NULL;
  g_autoptr(CdlJob) again = NULL;
  g_autoptr(CdlJob) stored = NULL;
  g_autoptr(PGresult) worker = NULL;
  CdlTaskProgress progress;

  worker = must (f->conn, "INSERT INTO workers (name, base_url) VALUES ('w', 'http://127.0.0.1:9')"
                          " RETURNING id", 0, NULL);
  g_assert_cmpint (plan (f, TRUE), ==, N_PROMPTS);
  job = cdl_job_repo_claim_next (f->conn, f->task_id, "me", 60000, &error);

  /* Only the holder may submit it. */
  g_assert_false (cdl_job_repo_mark_submitted (f->conn, job->id, "someone-else",
                                               cdl_pq_get_string (worker, 0, 0), "c", &error));
  g_assert_no_error (error);
  g_assert_true (cdl_job_repo_mark_submitted (f->conn, job->id, "me",
                                              cdl_pq_get_string (worker, 0, 0), "c", &error));
  g_assert_true (cdl_job_repo_mark_running (f->conn, job->id, &error));

  stored = cdl_job_repo_get (f->conn, job->id, &error);
  g_assert_cmpstr (stored->state, ==, "running");
  g_assert_cmpstr (stored->comfy_prompt_id, ==, job->id);
  g_assert_cmpstr (stored->worker_id, ==, cdl_pq_get_string (worker, 0, 0));

  g_assert_true (cdl_job_repo_progress (f->conn, f->task_id, &progress, &error));
  g_assert_cmpint (progress.total, ==, N_PROMPTS * N_SEEDS);
  g_assert_cmpint (progress.running, ==, 1);
  g_assert_cmpint (progress.pending, ==, N_PROMPTS - 1);

  /* A partial batch is retried whole, as attempt 1 of the same prompt. */
  again = cdl_job_repo_retry (f->conn, job->id, "partial_failed", "2 of 3 images", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->prompt_id, ==, job->prompt_id);
  g_assert_cmpint (again->attempt, ==, 1);
  g_assert_cmpstr (again->retry_of, ==, job->id);
  g_assert_cmpstr (again->state, ==, "queued");
  g_assert_true (g_strv_equal ((const char * const *)again->seed_ids,
                               (const char * const *)job->seed_ids));

  /* Retrying an ended job is refused; finishing it twice does nothing. */
  g_assert_null (cdl_job_repo_retry (f->conn, job->id, "failed", NULL, &error));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (cdl_job_repo_finish (f->conn, job->id, "done", NULL, &error));
  g_assert_no_error (error);

  /* A failure with no retry after it counts as failed. */
  g_assert_true (cdl_job_repo_finish (f->conn, again->id, "failed", "boom", &error));
  g_assert_true (cdl_job_repo_progress (f->conn, f->task_id, &progress, &error));
  g_assert_cmpint (progress.failed, ==, 1);
  g_assert_cmpint (progress.running, ==, 0);

  g_assert_cmpint (cdl_job_repo_cancel_queued (f->conn, f->task_id, &error), ==, N_PROMPTS - 1);
  g_assert_true (cdl_job_repo_progress (f->conn, f->task_id, &progress, &error));
  g_assert_cmpint (progress.pending, ==, 0);
}

static void
test_orphans_after_a_crash (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlJob) job = NULL;
  g_autoptr(GPtrArray) orphans = NULL;
  g_autoptr(PGresult) worker = NULL;

  worker = must (f->conn, "INSERT INTO workers (name, base_url) VALUES ('w', 'http://127.0.0.1:9')"
                          " RETURNING id", 0, NULL);
  g_assert_cmpint (plan (f, TRUE), ==, N_PROMPTS);
  job = cdl_job_repo_claim_next (f->conn, f->task_id, "crashed", 60000, &error);
  g_assert_true (cdl_job_repo_mark_submitted (f->conn, job->id, "crashed",
                                              cdl_pq_get_string (worker, 0, 0), "c", &error));

  /* While the claim is live, nobody else takes the job. */
  orphans = cdl_job_repo_claim_orphans (f->conn, "rescuer", 60000, &error);
  g_assert_cmpuint (orphans->len, ==, 0);
  g_clear_pointer (&orphans, g_ptr_array_unref);

  /* The holder renews; then it dies and the claim lapses. */
  g_assert_cmpint (cdl_job_repo_renew_claims (f->conn, "crashed", 60000, &error), ==, 1);
  PQclear (must (f->conn, "UPDATE jobs SET claimed_until = now () - interval '1 s'"
                          " WHERE claimed_by = 'crashed'", 0, NULL));

  orphans = cdl_job_repo_claim_orphans (f->conn, "rescuer", 60000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (orphans->len, ==, 1);
  g_assert_cmpstr (((CdlJob *)orphans->pdata[0])->id, ==, job->id);
  g_assert_cmpstr (((CdlJob *)orphans->pdata[0])->state, ==, "submitted");
  g_clear_pointer (&orphans, g_ptr_array_unref);

  /* Now it is the rescuer's. */
  orphans = cdl_job_repo_claim_orphans (f->conn, "third", 60000, &error);
  g_assert_cmpuint (orphans->len, ==, 0);
}

static void
test_generation_once_per_slot (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlJob) job = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  CdlGenerationInput in = { 0 };
  CdlTaskProgress progress;
  gboolean inserted = TRUE;

  g_assert_cmpint (plan (f, TRUE), ==, N_PROMPTS);
  job = cdl_job_repo_claim_next (f->conn, f->task_id, "me", 60000, &error);

  in.task_id = f->task_id;
  in.prompt_id = job->prompt_id;
  in.seed_id = job->seed_ids[1];
  in.job_id = job->id;
  in.seed_value = 9007199254740991;
  in.batch_index = 1;
  in.image_uri = "tasks/x/1.png";
  in.checksum = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  in.bytes = 1234;
  in.width = 512;
  in.height = 512;

  first = cdl_generation_repo_insert (f->conn, &in, &inserted, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);
  g_assert_true (inserted);

  /* The same slot again (a retried batch) is not stored twice. */
  second = cdl_generation_repo_insert (f->conn, &in, &inserted, &error);
  g_assert_no_error (error);
  g_assert_null (second);
  g_assert_false (inserted);

  g_assert_true (cdl_job_repo_progress (f->conn, f->task_id, &progress, &error));
  g_assert_cmpint (progress.done, ==, 1);

  /* The seed survives exactly, as bigint. */
  {
    const char *p[1] = { first };
    g_autoptr(PGresult) res =
      must (f->conn, "SELECT seed_value, batch_index FROM generations WHERE id = $1", 1, p);
    g_assert_cmpint (cdl_pq_get_int64 (res, 0, 0), ==, 9007199254740991);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 1), ==, 1);
  }
}

typedef struct
{
  CdlDb      *db;
  const char *task_id;
  gint64      made;
  GError     *error;
} PlanRun;

static gpointer
plan_thread (gpointer data)
{
  PlanRun *run = data;
  PGconn *conn = cdl_db_acquire (run->db, &run->error);

  if (conn == NULL)
    return NULL;

  if (cdl_pq_begin (conn, &run->error))
    {
      run->made = cdl_job_repo_plan (conn, run->task_id, FALSE, &run->error);
      if (run->made >= 0)
        cdl_pq_commit (conn, &run->error);
      else
        cdl_pq_rollback (conn);
    }

  cdl_db_release (run->db, conn);
  return NULL;
}

static void
test_plan_concurrently_once (Fixture       *f,
                             gconstpointer  data)
{
  PlanRun runs[3] = { 0 };
  GThread *threads[3];
  gint64 total = 0;

  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      runs[i].db = f->db;
      runs[i].task_id = f->task_id;
      threads[i] = g_thread_new ("plan", plan_thread, &runs[i]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      g_thread_join (threads[i]);
      g_assert_no_error (runs[i].error);
      total += runs[i].made;
    }

  g_assert_cmpint (total, ==, N_PROMPTS * N_SEEDS);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  g_setenv ("CDL_PG_NO_SYNC", "1", TRUE);

  test_pg = cdl_test_pg_start (&error);
  g_assert_no_error (error);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/jobs/plan-native", test_plan_native);
  ADD ("/jobs/claims-in-order-and-exclusive", test_claims_in_order_and_exclusive);
  ADD ("/jobs/submit-finish-retry", test_submit_finish_retry);
  ADD ("/jobs/orphans-after-a-crash", test_orphans_after_a_crash);
  ADD ("/jobs/generation-once-per-slot", test_generation_once_per_slot);
  ADD ("/jobs/plan-concurrently-once", test_plan_concurrently_once);
#undef ADD

  ret = g_test_run ();
  cdl_test_pg_stop (test_pg);
  return ret;
}
