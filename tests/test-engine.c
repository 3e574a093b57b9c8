/* test-engine.c: mass generation over the real server and simulated workers
 *
 * Real comfy-datalabel-server processes, real cdl-simworker processes and a
 * real PostgreSQL database; everything goes through HTTP, and the results
 * are checked in the database, in the image store and on the workers.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "cdl-test-server.h"
#include "db/cdl-pq.h"
#include "db/cdl-job-repo.h"
#include "db/cdl-lease-repo.h"

static CdlTestPg *pg;

/* The fixture is the shared cluster of servers and simulated workers. */
typedef CdlTestCluster Fixture;
typedef CdlTestProc Proc;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  cdl_test_cluster_set_up (f, pg, "cdl-engine-XXXXXX");
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  cdl_test_cluster_tear_down (f);
}

/* Setting up a task -------------------------------------------------------- */

/* Creates and freezes a task of @k prompts × @n seeds. */
static char *
add_task (Fixture    *f,
          Proc       *server,
          const char *workflow_id,
          int         k,
          int         n,
          gboolean    freeze)
{
  g_autoptr(GString) body = g_string_new (NULL);
  g_autoptr(JsonNode) pool = NULL;
  g_autoptr(JsonNode) task = NULL;
  g_autofree char *pool_name = g_strdup_printf ("pool_%u", g_random_int ());
  g_autofree char *task_body = NULL;
  char *id;

  g_string_append_printf (body, "{\"name\": \"%s\", \"mode\": \"no_replacement\", \"items\": [",
                          pool_name);
  for (int i = 0; i < k; i++)
    g_string_append_printf (body, "%s\"a red fox number %d\"", i ? ", " : "", i);
  g_string_append (body, "]}");
  pool = cdl_test_call (f, server, "POST", "/api/variable-pools", body->str, 201);

  task_body = g_strdup_printf ("{\"workflow_id\": \"%s\", \"variable_pool_ids\": [\"%s\"],"
                               " \"target_prompts\": %d, \"seeds_per_prompt\": %d}",
                               workflow_id,
                               json_object_get_string_member (cdl_test_data_of (pool), "id"), k, n);
  task = cdl_test_call (f, server, "POST", "/api/tasks", task_body, 201);
  id = g_strdup (json_object_get_string_member (cdl_test_data_of (task), "id"));

  if (freeze)
    {
      g_autofree char *path = g_strconcat ("/api/tasks/", id, "/freeze", NULL);
      g_autoptr(JsonNode) frozen = cdl_test_call (f, server, "POST", path, NULL, 200);
    }
  return id;
}

/* Every seed has one done image, whose file hashes to its checksum and
 * whose thumbnail exists; no seed has two. */
static void
assert_complete (Fixture    *f,
                 const char *task_id,
                 gint64      expected)
{
  const char *params[1] = { task_id };
  g_autoptr(PGresult) res = NULL;

  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM seeds s WHERE s.task_id = $1"
                                     " AND (SELECT count (*) FROM generations g"
                                     "      WHERE g.seed_id = s.id AND g.state = 'done') <> 1",
                                     task_id), ==, 0);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM generations WHERE task_id = $1",
                                     task_id), ==, expected);

  res = cdl_test_sql (f->conninfo, "SELECT image_uri, thumb_uri, checksum, metadata ->> 'seed',"
                                   "       seed_value::text, metadata ->> 'worker_id'"
                                   " FROM generations WHERE task_id = $1", 1, params);
  g_assert_cmpint (PQntuples (res), ==, expected);
  for (int i = 0; i < PQntuples (res); i++)
    {
      g_autofree char *image = g_build_filename (f->storage_dir, cdl_pq_get_string (res, i, 0),
                                                 NULL);
      g_autofree char *thumb = g_build_filename (f->storage_dir, cdl_pq_get_string (res, i, 1),
                                                 NULL);
      g_autofree char *bytes = NULL;
      g_autofree char *sum = NULL;
      gsize len;

      g_assert_true (g_file_get_contents (image, &bytes, &len, NULL));
      sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) bytes, len);
      g_assert_cmpstr (sum, ==, cdl_pq_get_string (res, i, 2));
      g_assert_true (g_file_test (thumb, G_FILE_TEST_IS_REGULAR));
      g_assert_cmpstr (cdl_pq_get_string (res, i, 3), ==, cdl_pq_get_string (res, i, 4));
      g_assert_nonnull (cdl_pq_get_string (res, i, 5));
    }
}

/* The batch sizes of the jobs of @task_id that @sim ran, from its history. */
static void
count_batches (Fixture    *f,
               Proc       *sim,
               const char *task_id,
               GHashTable *sizes)
{
  g_autofree char *url = g_strconcat (sim->url, "/history?max_items=10000", NULL);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GList) ids = NULL;
  guint status;

  root = cdl_test_http (f->http, "GET", url, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  ids = json_object_get_members (json_node_get_object (root));
  for (GList *l = ids; l != NULL; l = l->next)
    {
      const char *params[2] = { l->data, task_id };
      g_autoptr(PGresult) res = cdl_test_sql (f->conninfo, "SELECT 1 FROM jobs WHERE id::text = $1"
                                                           " AND task_id = $2", 2, params);
      JsonObject *entry;
      JsonArray *prompt;
      JsonObject *graph;
      g_autoptr(GList) nodes = NULL;

      if (PQntuples (res) == 0)
        continue;  /* a warm-up */

      entry = json_object_get_object_member (json_node_get_object (root), l->data);
      prompt = json_object_get_array_member (entry, "prompt");
      graph = json_array_get_object_element (prompt, 2);
      nodes = json_object_get_values (graph);
      for (GList *n = nodes; n != NULL; n = n->next)
        {
          JsonObject *node = json_node_get_object (n->data);

          if (g_strcmp0 (json_object_get_string_member (node, "class_type"),
                         "EmptyLatentImage") == 0)
            {
              gint64 size = json_object_get_int_member (
                json_object_get_object_member (node, "inputs"), "batch_size");
              guint count = GPOINTER_TO_UINT (g_hash_table_lookup (sizes,
                                                                   GINT_TO_POINTER (size)));

              g_hash_table_insert (sizes, GINT_TO_POINTER (size),
                                   GUINT_TO_POINTER (count + 1));
            }
        }
    }
}

/* Tests -------------------------------------------------------------------- */

/* Three workers, one of which starts failing every job mid-run. */
static void
test_three_workers (Fixture       *f,
                    gconstpointer  data)
{
  Proc *server = cdl_test_start_server (f);
  Proc *sims[3];
  g_autofree char *workflow = NULL;
  g_autofree char *task = NULL;
  g_autofree char *state = NULL;
  g_autoptr(JsonNode) run = NULL;
  gint64 deadline;
  gint64 executed = 0;

  for (int i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("sim-%d", i);

      sims[i] = cdl_test_start_sim (f, NULL);
      g_free (cdl_test_add_worker (f, server, sims[i], name, 1));
    }

  workflow = cdl_test_add_workflow (f, "sd15.json");
  task = add_task (f, server, workflow, 12, 4, TRUE);

  run = cdl_test_task_call (f, server, "POST", task, "run", 200);
  g_assert_cmpstr (json_object_get_string_member (cdl_test_data_of (run), "state"), ==, "RUNNING");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (cdl_test_data_of (run),
                                                                         "worker_ids")), ==, 3);

  /* Let some images land, then break the first worker. */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (cdl_test_progress_done (f, server, task) < 8 && g_get_monotonic_time () < deadline)
    g_usleep (100 * 1000);
  g_assert_cmpint (cdl_test_progress_done (f, server, task), >=, 8);
  cdl_test_sim_config (f, sims[0], "{\"error_rate\": 1}");

  state = cdl_test_wait_end (f, server, task, 120);
  g_assert_cmpstr (state, ==, "DONE");
  assert_complete (f, task, 48);

  /* Every worker took part, and the broken one did fail jobs. */
  for (int i = 0; i < 3; i++)
    {
      g_autoptr(JsonObject) st = cdl_test_sim_state (f, sims[i]);

      g_assert_cmpint (json_object_get_int_member (st, "executed"), >, 0);
      g_assert_cmpint (json_object_get_int_member (st, "duplicate_prompt_ids"), ==, 0);
      executed += json_object_get_int_member (st, "executed");
    }
  g_assert_cmpint (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM jobs WHERE task_id = $1"
                                                  " AND state = 'failed'", task), >, 0);
  g_assert_cmpint (executed, >=, 48);
}

/* A native batch per prompt with LatentBatchSeedBehavior; one job per seed
 * without it. */
static void
test_native_batches (Fixture       *f,
                     gconstpointer  data)
{
  Proc *server = cdl_test_start_server (f);
  Proc *sim = cdl_test_start_sim (f, NULL);
  g_autofree char *native_wf = cdl_test_add_workflow (f, "latent-batch-seed.json");
  g_autofree char *loop_wf = cdl_test_add_workflow (f, "sd15.json");
  g_autofree char *native = NULL;
  g_autofree char *loop = NULL;
  g_autofree char *state = NULL;
  g_autofree char *state2 = NULL;
  g_autoptr(JsonNode) r1 = NULL;
  g_autoptr(JsonNode) r2 = NULL;
  g_autoptr(GHashTable) native_sizes = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) loop_sizes = g_hash_table_new (NULL, NULL);
  const char *params[1];
  g_autoptr(PGresult) res = NULL;

  g_autoptr(JsonNode) settings = NULL;
  g_autoptr(JsonObject) st = NULL;
  PGconn *listener;
  guint notified_native = 0;
  guint notified_loop = 0;

  /* POST /free after every second job a worker finished (FAQ 8). */
  settings = cdl_test_call (f, server, "PATCH", "/api/settings", "{\"free_every_n_jobs\": 2}", 200);
  g_free (cdl_test_add_worker (f, server, sim, "sim", 2));
  native = add_task (f, server, native_wf, 3, 4, TRUE);
  loop = add_task (f, server, loop_wf, 3, 4, TRUE);

  listener = PQconnectdb (f->conninfo);
  g_assert_cmpint (PQstatus (listener), ==, CONNECTION_OK);
  PQclear (PQexec (listener, "LISTEN cdl_progress"));

  r1 = cdl_test_task_call (f, server, "POST", native, "run", 200);
  r2 = cdl_test_task_call (f, server, "POST", loop, "run", 200);
  state = cdl_test_wait_end (f, server, native, 90);
  state2 = cdl_test_wait_end (f, server, loop, 90);
  g_assert_cmpstr (state, ==, "DONE");
  g_assert_cmpstr (state2, ==, "DONE");
  assert_complete (f, native, 12);
  assert_complete (f, loop, 12);

  count_batches (f, sim, native, native_sizes);
  count_batches (f, sim, loop, loop_sizes);
  g_assert_cmpuint (g_hash_table_size (native_sizes), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (native_sizes, GINT_TO_POINTER (4))),
                    ==, 3);
  g_assert_cmpuint (g_hash_table_size (loop_sizes), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (loop_sizes, GINT_TO_POINTER (1))),
                    ==, 12);

  /* Open windows hear about both tasks' progress. */
  g_assert_true (PQconsumeInput (listener));
  for (PGnotify *n; (n = PQnotifies (listener)) != NULL; PQfreemem (n))
    {
      g_assert_cmpstr (n->relname, ==, "cdl_progress");
      if (g_strcmp0 (n->extra, native) == 0)
        notified_native++;
      else if (g_strcmp0 (n->extra, loop) == 0)
        notified_loop++;
    }
  PQfinish (listener);
  g_assert_cmpuint (notified_native, >=, 2);
  g_assert_cmpuint (notified_loop, >=, 2);

  /* One warm-up per task on the worker, outside the jobs (FAQ 19), and a
   * free every second job: 15 jobs, so at least 7 frees (the settings
   * reach the scheduler within a tick). */
  st = cdl_test_sim_state (f, sim);
  g_assert_cmpint (json_object_get_int_member (st, "accepted"), ==, 15 + 2);
  g_assert_cmpint (json_object_get_int_member (st, "frees"), >=, 6);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM jobs WHERE kind <> 'mass'", NULL),
                   ==, 0);

  /* A native batch's images carry the seed sent and their batch index. */
  params[0] = native;
  res = cdl_test_sql (f->conninfo,
                      "SELECT count (DISTINCT seed_value), count (DISTINCT batch_index)"
                      " FROM generations WHERE task_id = $1 GROUP BY prompt_id", 1, params);
  g_assert_cmpint (PQntuples (res), ==, 3);
  for (int i = 0; i < 3; i++)
    {
      g_assert_cmpint (cdl_pq_get_int64 (res, i, 0), ==, 1);
      g_assert_cmpint (cdl_pq_get_int64 (res, i, 1), ==, 4);
    }
}

/* Batches that come back with half their images are sent again, and only
 * the missing images are stored. */
static void
test_partial_outputs (Fixture       *f,
                      gconstpointer  data)
{
  static const char * const extra[] = { "--partial-rate", "1", NULL };
  Proc *server = cdl_test_start_server (f);
  Proc *sim = cdl_test_start_sim (f, extra);
  g_autofree char *workflow = cdl_test_add_workflow (f, "latent-batch-seed.json");
  g_autofree char *task = NULL;
  g_autofree char *state = NULL;
  g_autoptr(JsonNode) run = NULL;
  g_autoptr(JsonNode) progress = NULL;
  gint64 deadline;

  g_free (cdl_test_add_worker (f, server, sim, "sim", 1));
  task = add_task (f, server, workflow, 4, 4, TRUE);
  run = cdl_test_task_call (f, server, "POST", task, "run", 200);

  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM jobs WHERE task_id = $1"
                                        " AND state = 'partial_failed'", task) == 0
         && g_get_monotonic_time () < deadline)
    g_usleep (50 * 1000);
  cdl_test_sim_config (f, sim, "{\"partial_rate\": 0}");

  state = cdl_test_wait_end (f, server, task, 90);
  g_assert_cmpstr (state, ==, "DONE");
  assert_complete (f, task, 16);

  /* The retry points at the partial job and both made images. */
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM jobs r JOIN jobs p ON p.id = r.retry_of"
                                     " WHERE p.task_id = $1 AND p.state = 'partial_failed'"
                                     "   AND r.state = 'done'", task), >=, 1);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (DISTINCT g.job_id) FROM generations g"
                                     " JOIN jobs j ON j.id = g.job_id"
                                     " WHERE g.task_id = $1 AND j.state = 'partial_failed'", task),
                   >=, 1);

  progress = cdl_test_task_call (f, server, "GET", task, "progress?limit=2", 200);
  {
    JsonObject *d = cdl_test_data_of (progress);
    JsonArray *per = json_object_get_array_member (d, "per_prompt");
    gint64 retries = 0;

    g_assert_cmpint (json_object_get_int_member (d, "total"), ==, 16);
    g_assert_cmpint (json_object_get_int_member (d, "done"), ==, 16);
    g_assert_cmpuint (json_array_get_length (per), ==, 2);
    g_assert_cmpint (json_object_get_int_member (d, "next_after"), ==, 1);
    for (guint i = 0; i < 2; i++)
      retries += json_object_get_int_member (json_array_get_object_element (per, i),
                                             "retries_used");
    (void) retries;
  }
  {
    g_autoptr(JsonNode) page2 = cdl_test_task_call (f, server, "GET", task,
                                                    "progress?after=1&limit=10", 200);
    JsonObject *d = cdl_test_data_of (page2);

    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (d, "per_prompt")),
                      ==, 2);
    g_assert_true (json_object_get_null_member (d, "next_after"));
  }
}

/* A native batch that runs out of memory: the worker is told to free its
 * memory, and the prompt's seeds go one by one at batch_size=1, each image
 * stored once. */
static void
test_oom_fallback (Fixture       *f,
                   gconstpointer  data)
{
  Proc *server = cdl_test_start_server (f);
  Proc *sim = cdl_test_start_sim (f, NULL);
  g_autofree char *workflow = cdl_test_add_workflow (f, "latent-batch-seed.json");
  g_autofree char *task = NULL;
  g_autofree char *state = NULL;
  g_autoptr(JsonNode) settings = NULL;
  g_autoptr(JsonNode) run = NULL;
  g_autoptr(JsonObject) st = NULL;
  g_autoptr(GHashTable) sizes = g_hash_table_new (NULL, NULL);

  /* 768 × 512 fits twice: batches of 4 fail, single images pass. */
  settings = cdl_test_call (f, server, "PATCH", "/api/settings", "{\"free_every_n_jobs\": 0}",
                            200);
  cdl_test_sim_config (f, sim, "{\"oom_pixels\": 786432}");
  g_free (cdl_test_add_worker (f, server, sim, "sim", 2));
  task = add_task (f, server, workflow, 3, 4, TRUE);

  run = cdl_test_task_call (f, server, "POST", task, "run", 200);
  state = cdl_test_wait_end (f, server, task, 90);
  g_assert_cmpstr (state, ==, "DONE");
  assert_complete (f, task, 12);

  /* Each prompt's batch failed once; its four seeds came back as four
   * batch-1 retries of it. */
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM jobs WHERE task_id = $1"
                                     " AND state = 'failed' AND native_batch AND batch_size = 4"
                                     " AND error ILIKE '%out of memory%'", task), ==, 3);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM jobs r JOIN jobs p ON p.id = r.retry_of"
                                     " WHERE r.task_id = $1 AND r.state = 'done'"
                                     "   AND NOT r.native_batch AND r.batch_size = 1"
                                     "   AND r.attempt = 1 AND cardinality (r.seed_ids) = 1"
                                     "   AND r.seed_ids[1] = ANY (p.seed_ids)", task), ==, 12);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM generations g JOIN seeds s"
                                     " ON s.id = g.seed_id WHERE g.task_id = $1"
                                     " AND g.seed_value = s.seed_value AND g.batch_index = 0",
                                     task), ==, 12);

  /* The worker ran three batches of 4 (all out of memory) and twelve of 1,
   * and was asked to free its memory after each failure. */
  count_batches (f, sim, task, sizes);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (sizes, GINT_TO_POINTER (4))), ==, 3);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (sizes, GINT_TO_POINTER (1))), ==, 12);
  st = cdl_test_sim_state (f, sim);
  g_assert_cmpint (json_object_get_int_member (st, "frees"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (st, "duplicate_prompt_ids"), ==, 0);
}

/* The prompt ids the simworkers have seen: queued, running or finished. */
static GHashTable *
sims_known_ids (Fixture  *f,
                Proc    **sims,
                int       n_sims)
{
  GHashTable *ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (int i = 0; i < n_sims; i++)
    {
      g_autofree char *queue_url = g_strconcat (sims[i]->url, "/queue", NULL);
      g_autofree char *history_url = g_strconcat (sims[i]->url, "/history?max_items=10000",
                                                  NULL);
      g_autoptr(JsonNode) queue = NULL;
      g_autoptr(JsonNode) history = NULL;
      g_autoptr(GList) members = NULL;
      const char *lists[] = { "queue_running", "queue_pending" };
      guint status;

      queue = cdl_test_http (f->http, "GET", queue_url, NULL, NULL, &status);
      g_assert_cmpuint (status, ==, 200);
      for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
        {
          JsonArray *items = json_object_get_array_member (json_node_get_object (queue),
                                                           lists[l]);

          for (guint j = 0; j < json_array_get_length (items); j++)
            g_hash_table_add (ids, g_strdup (json_array_get_string_element (
                                json_array_get_array_element (items, j), 1)));
        }

      history = cdl_test_http (f->http, "GET", history_url, NULL, NULL, &status);
      g_assert_cmpuint (status, ==, 200);
      members = json_object_get_members (json_node_get_object (history));
      for (const GList *m = members; m != NULL; m = m->next)
        g_hash_table_add (ids, g_strdup (m->data));
    }

  return ids;
}

static GPtrArray *
submitted_job_ids (Fixture    *f,
                   const char *task)
{
  const char *params[1] = { task };
  PGresult *res = cdl_test_sql (f->conninfo, "SELECT id FROM jobs WHERE task_id = $1"
                                             " AND state IN ('submitted', 'running')", 1, params);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);

  for (int i = 0; i < PQntuples (res); i++)
    g_ptr_array_add (ids, g_strdup (PQgetvalue (res, i, 0)));
  PQclear (res);
  return ids;
}

static gboolean
any_known (GPtrArray  *job_ids,
           GHashTable *known)
{
  for (guint i = 0; i < job_ids->len; i++)
    if (g_hash_table_contains (known, job_ids->pdata[i]))
      return TRUE;

  return FALSE;
}

/* kill -9 of the server mid-run; a new one finishes the run, sending no
 * prompt_id twice and storing one image per slot. */
static void
test_kill_resume (Fixture       *f,
                  gconstpointer  data)
{
  Proc *server = cdl_test_start_server (f);
  Proc *sims[2];
  g_autofree char *workflow = cdl_test_add_workflow (f, "sd15.json");
  g_autofree char *task = NULL;
  g_autofree char *state = NULL;
  g_autoptr(JsonNode) run = NULL;
  g_autoptr(GPtrArray) on_workers = NULL;
  g_autoptr(GHashTable) known = NULL;
  gint64 deadline;

  for (int i = 0; i < 2; i++)
    {
      static const char * const slow[] = { "--ms-per-image", "300", NULL };
      g_autofree char *name = g_strdup_printf ("sim-%d", i);

      sims[i] = cdl_test_start_sim (f, slow);
      g_free (cdl_test_add_worker (f, server, sims[i], name, 2));
    }

  task = add_task (f, server, workflow, 6, 3, TRUE);
  run = cdl_test_task_call (f, server, "POST", task, "run", 200);

  /* Some images stored and some jobs on the workers, then kill -9. A job
   * is marked submitted just before its POST, so a kill can land between
   * the two; wait until the workers hold at least one submitted job, so
   * that recovery has something to find. */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(GPtrArray) ids = NULL;
      g_autoptr(GHashTable) seen = NULL;

      if (cdl_test_progress_done (f, server, task) < 3)
        {
          g_usleep (20 * 1000);
          continue;
        }
      ids = submitted_job_ids (f, task);
      seen = sims_known_ids (f, sims, 2);
      if (any_known (ids, seen))
        break;
      g_usleep (20 * 1000);
    }
  g_subprocess_force_exit (server->proc);
  g_subprocess_wait (server->proc, NULL, NULL);

  on_workers = submitted_job_ids (f, task);
  known = sims_known_ids (f, sims, 2);
  g_assert_true (any_known (on_workers, known));

  server = cdl_test_start_server (f);
  state = cdl_test_wait_end (f, server, task, 120);
  g_assert_cmpstr (state, ==, "DONE");
  assert_complete (f, task, 18);

  for (int i = 0; i < 2; i++)
    {
      g_autoptr(JsonObject) st = cdl_test_sim_state (f, sims[i]);

      g_assert_cmpint (json_object_get_int_member (st, "duplicate_prompt_ids"), ==, 0);
    }

  /* What the workers held at the kill was found there and finished, not
   * sent again; only a job killed between its mark and its POST may have
   * left no trace, and it was retried under a new id. */
  for (guint i = 0; i < on_workers->len; i++)
    {
      const char *params[1] = { on_workers->pdata[i] };
      gboolean on_a_worker = g_hash_table_contains (known, on_workers->pdata[i]);
      PGresult *res = cdl_test_sql (f->conninfo,
                                    "SELECT state, coalesce (error, ''),"
                                    "  EXISTS (SELECT 1 FROM jobs r WHERE r.retry_of = j.id)"
                                    " FROM jobs j WHERE id = $1", 1, params);

      if (on_a_worker)
        {
          g_assert_cmpstr (PQgetvalue (res, 0, 0), ==, "done");
          g_assert_cmpstr (PQgetvalue (res, 0, 2), ==, "f");
        }
      else
        {
          g_assert_nonnull (strstr (PQgetvalue (res, 0, 1), "no trace"));
        }
      PQclear (res);
    }
}

/* A worker that dies mid-run: its jobs are found lost and run elsewhere. */
static void
test_worker_crash (Fixture       *f,
                   gconstpointer  data)
{
  static const char * const crashing[] = { "--crash-after", "3", NULL };
  Proc *server = cdl_test_start_server (f);
  Proc *good = cdl_test_start_sim (f, NULL);
  Proc *bad = cdl_test_start_sim (f, crashing);
  g_autofree char *workflow = cdl_test_add_workflow (f, "sd15.json");
  g_autofree char *task = NULL;
  g_autofree char *state = NULL;
  g_autoptr(JsonNode) run = NULL;
  g_autoptr(JsonObject) st = NULL;

  g_free (cdl_test_add_worker (f, server, good, "good", 1));
  g_free (cdl_test_add_worker (f, server, bad, "bad", 2));
  task = add_task (f, server, workflow, 5, 2, TRUE);
  run = cdl_test_task_call (f, server, "POST", task, "run", 200);

  state = cdl_test_wait_end (f, server, task, 120);
  g_assert_cmpstr (state, ==, "DONE");
  assert_complete (f, task, 10);

  /* The bad worker is gone, and what it held was retried. */
  g_subprocess_wait (bad->proc, NULL, NULL);
  g_assert_false (g_subprocess_get_successful (bad->proc));
  g_assert_cmpint (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM jobs WHERE task_id = $1"
                                                  " AND retry_of IS NOT NULL", task), >=, 1);
  st = cdl_test_sim_state (f, good);
  g_assert_cmpint (json_object_get_int_member (st, "duplicate_prompt_ids"), ==, 0);
}

/* Two servers on one database share one worker that takes one job at a
 * time: it never sees more than one. */
static void
test_two_servers (Fixture       *f,
                  gconstpointer  data)
{
  Proc *a = cdl_test_start_server (f);
  Proc *b = cdl_test_start_server (f);
  Proc *sim = cdl_test_start_sim (f, NULL);
  g_autofree char *workflow = cdl_test_add_workflow (f, "sd15.json");
  g_autofree char *t1 = NULL;
  g_autofree char *t2 = NULL;
  g_autofree char *s1 = NULL;
  g_autofree char *s2 = NULL;
  g_autoptr(JsonNode) r1 = NULL;
  g_autoptr(JsonNode) r2 = NULL;
  g_autoptr(JsonObject) st = NULL;

  g_free (cdl_test_add_worker (f, a, sim, "sim", 1));
  t1 = add_task (f, a, workflow, 4, 2, TRUE);
  t2 = add_task (f, b, workflow, 4, 2, TRUE);
  r1 = cdl_test_task_call (f, a, "POST", t1, "run", 200);
  r2 = cdl_test_task_call (f, b, "POST", t2, "run", 200);

  s1 = cdl_test_wait_end (f, b, t1, 90);
  s2 = cdl_test_wait_end (f, a, t2, 90);
  g_assert_cmpstr (s1, ==, "DONE");
  g_assert_cmpstr (s2, ==, "DONE");
  assert_complete (f, t1, 8);
  assert_complete (f, t2, 8);

  st = cdl_test_sim_state (f, sim);
  g_assert_cmpint (json_object_get_int_member (st, "max_queue_depth"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (st, "duplicate_prompt_ids"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (st, "accepted"), >=, 16);
}

/* The state rules of run, pause, resume and cancel. */
static void
test_states (Fixture       *f,
             gconstpointer  data)
{
  static const char * const slow[] = { "--ms-per-image", "400", NULL };
  Proc *server = cdl_test_start_server (f);
  g_autofree char *workflow = cdl_test_add_workflow (f, "sd15.json");
  g_autofree char *draft = add_task (f, server, workflow, 2, 2, FALSE);
  g_autofree char *task = add_task (f, server, workflow, 8, 2, TRUE);
  g_autoptr(JsonNode) e1 = NULL;
  g_autoptr(JsonNode) e2 = NULL;
  g_autoptr(JsonNode) e3 = NULL;
  g_autoptr(JsonNode) e4 = NULL;
  g_autoptr(JsonNode) e5 = NULL;
  g_autoptr(JsonNode) e6 = NULL;
  g_autoptr(JsonNode) ok = NULL;
  g_autoptr(JsonNode) paused = NULL;
  g_autoptr(JsonNode) resumed = NULL;
  g_autoptr(JsonNode) cancelled = NULL;
  g_autoptr(JsonNode) missing = NULL;
  Proc *sim;
  gint64 done_at_pause;
  gint64 deadline;

  /* No healthy worker: 409, and nothing is planned. */
  e1 = cdl_test_task_call (f, server, "POST", task, "run", 409);
  g_assert_nonnull (strstr (json_object_get_string_member (json_node_get_object (e1), "error"),
                            "healthy"));
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM jobs WHERE task_id = $1", task), ==, 0);

  sim = cdl_test_start_sim (f, slow);
  g_free (cdl_test_add_worker (f, server, sim, "sim", 1));

  /* Not frozen: 409. Unknown: 404. */
  e2 = cdl_test_task_call (f, server, "POST", draft, "run", 409);
  missing = cdl_test_task_call (f, server, "POST", "00000000-0000-0000-0000-000000000000",
                                "run", 404);
  e3 = cdl_test_task_call (f, server, "POST", task, "pause", 409);
  e4 = cdl_test_task_call (f, server, "POST", task, "resume", 409);

  ok = cdl_test_task_call (f, server, "POST", task, "run", 200);
  e5 = cdl_test_task_call (f, server, "POST", task, "run", 409);

  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (cdl_test_progress_done (f, server, task) < 1 && g_get_monotonic_time () < deadline)
    g_usleep (50 * 1000);
  paused = cdl_test_task_call (f, server, "POST", task, "pause", 200);
  g_assert_cmpstr (json_object_get_string_member (cdl_test_data_of (paused), "state"),
                   ==, "PAUSED");

  /* In-flight jobs drain; nothing new is claimed while paused. */
  g_usleep (2500 * 1000);
  done_at_pause = cdl_test_progress_done (f, server, task);
  g_usleep (1500 * 1000);
  g_assert_cmpint (cdl_test_progress_done (f, server, task), ==, done_at_pause);
  g_assert_cmpint (done_at_pause, <, 16);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM jobs WHERE task_id = $1"
                                     " AND state IN ('submitted', 'running')", task), ==, 0);

  resumed = cdl_test_task_call (f, server, "POST", task, "resume", 200);
  g_assert_cmpstr (json_object_get_string_member (cdl_test_data_of (resumed), "state"),
                   ==, "RUNNING");
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (cdl_test_progress_done (f, server, task) <= done_at_pause
         && g_get_monotonic_time () < deadline)
    g_usleep (50 * 1000);
  g_assert_cmpint (cdl_test_progress_done (f, server, task), >, done_at_pause);

  cancelled = cdl_test_task_call (f, server, "POST", task, "cancel", 200);
  g_assert_cmpstr (json_object_get_string_member (cdl_test_data_of (cancelled), "state"), ==,
                   "CANCELLED");
  g_assert_cmpint (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM jobs WHERE task_id = $1"
                                                  " AND state = 'queued'", task), ==, 0);
  e6 = cdl_test_task_call (f, server, "POST", task, "cancel", 409);
  {
    g_autoptr(JsonNode) again = cdl_test_task_call (f, server, "POST", task, "resume", 409);
    g_autoptr(JsonNode) rerun = cdl_test_task_call (f, server, "POST", task, "run", 409);
  }

  /* In-flight jobs end (interrupted on this dedicated worker) and the
   * task stays CANCELLED. */
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM jobs WHERE task_id = $1"
                                        " AND state IN ('submitted', 'running')", task) > 0
         && g_get_monotonic_time () < deadline)
    g_usleep (100 * 1000);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM jobs WHERE task_id = $1"
                                     " AND state IN ('submitted', 'running')", task), ==, 0);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM tasks WHERE id = $1"
                                                  " AND state = 'CANCELLED'", task), ==, 1);
}

/* A worker lease belongs to one holder until it lapses. */
static void
test_leases (Fixture       *f,
             gconstpointer  data)
{
  PGconn *conn = PQconnectdb (f->conninfo);
  g_autoptr(GError) error = NULL;
  g_autoptr(PGresult) res = NULL;
  g_autofree char *holder = NULL;
  const char *worker;

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  res = cdl_pq_exec (conn, "INSERT INTO workers (name, base_url)"
                           " VALUES ('w', 'http://127.0.0.1:9') RETURNING id", 0, NULL, &error);
  g_assert_no_error (error);
  worker = cdl_pq_get_string (res, 0, 0);

  g_assert_true (cdl_lease_repo_acquire (conn, worker, "a", 60000, &error));
  g_assert_no_error (error);
  g_assert_false (cdl_lease_repo_acquire (conn, worker, "b", 60000, &error));
  g_assert_no_error (error);
  g_assert_true (cdl_lease_repo_acquire (conn, worker, "a", 200, &error));
  holder = cdl_lease_repo_get_holder (conn, worker, &error);
  g_assert_cmpstr (holder, ==, "a");

  /* Not renewed: it lapses and another holder takes it. */
  g_usleep (400 * 1000);
  g_assert_true (cdl_lease_repo_acquire (conn, worker, "b", 60000, &error));
  g_assert_false (cdl_lease_repo_acquire (conn, worker, "a", 60000, &error));

  /* Letting go frees it at once. */
  g_assert_true (cdl_lease_repo_release (conn, NULL, "b", &error));
  g_assert_true (cdl_lease_repo_acquire (conn, worker, "a", 60000, &error));
  g_assert_no_error (error);

  g_assert_false (cdl_lease_repo_acquire (conn, "nope", "a", 1000, &error));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND);
  PQfinish (conn);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  pg = cdl_test_pg_start (&error);
  g_assert_no_error (error);

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)

  ADD ("/engine/leases", test_leases);
  ADD ("/engine/states", test_states);
  ADD ("/engine/three-workers", test_three_workers);
  ADD ("/engine/native-batches", test_native_batches);
  ADD ("/engine/partial-outputs", test_partial_outputs);
  ADD ("/engine/oom-fallback", test_oom_fallback);
  ADD ("/engine/kill-resume", test_kill_resume);
  ADD ("/engine/two-servers", test_two_servers);
  ADD ("/engine/worker-crash", test_worker_crash);

#undef ADD

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
