/* test-pilot.c: piloting a task over the real server and simulated workers
 *
 * Real comfy-datalabel-server processes, real cdl-simworker processes and a
 * real PostgreSQL database; everything goes through HTTP. The pilot's
 * samples, retries and settings are checked in the answer, in the
 * database, in the image store and in what the simulated worker ran.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "cdl-test-server.h"
#include "db/cdl-pq.h"

static CdlTestPg *pg;

/* Makes the pool's second item the one longest prompt: the heaviest. */
#define LONG_TAIL " in deep snow under a pale winter moon"

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
    g_string_append_printf (body, "%s\"a red fox number %d%s\"", i ? ", " : "", i,
                            i == 1 ? LONG_TAIL : "");
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

/* The pilot ------------------------------------------------------------- */

typedef struct
{
  char *text;
  int   width;
  int   height;
  int   batch;
} Ran;

static void
ran_free (gpointer data)
{
  Ran *r = data;

  g_free (r->text);
  g_free (r);
}

/* What @sim ran, from its history: the positive text (node 6) and the
 * latent size (node 5) of sd15.json; for the jobs of @task_id only when
 * it is not NULL (warm-ups excluded), else everything. */
static GPtrArray *
sim_ran (Fixture    *f,
         Proc       *sim,
         const char *task_id)
{
  g_autofree char *url = g_strconcat (sim->url, "/history?max_items=10000", NULL);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GList) ids = NULL;
  GPtrArray *ran = g_ptr_array_new_with_free_func (ran_free);
  guint status;

  root = cdl_test_http (f->http, "GET", url, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  ids = json_object_get_members (json_node_get_object (root));
  for (GList *l = ids; l != NULL; l = l->next)
    {
      JsonObject *entry = json_object_get_object_member (json_node_get_object (root), l->data);
      JsonObject *graph = json_array_get_object_element (json_object_get_array_member (entry,
                                                                                        "prompt"),
                                                         2);
      JsonObject *latent = json_object_get_object_member (
        json_object_get_object_member (graph, "5"), "inputs");
      JsonObject *text = json_object_get_object_member (
        json_object_get_object_member (graph, "6"), "inputs");
      Ran *r;

      if (task_id != NULL)
        {
          const char *params[2] = { l->data, task_id };
          g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                                  "SELECT 1 FROM jobs WHERE id::text = $1"
                                                  " AND task_id = $2", 2, params);

          if (PQntuples (res) == 0)
            continue;
        }

      r = g_new0 (Ran, 1);
      r->text = g_strdup (json_object_get_string_member (text, "text"));
      r->width = (int) json_object_get_int_member (latent, "width");
      r->height = (int) json_object_get_int_member (latent, "height");
      r->batch = (int) json_object_get_int_member (latent, "batch_size");
      g_ptr_array_add (ran, r);
    }

  return ran;
}

static gint64
sim_accepted (Fixture *f,
              Proc    *sim)
{
  g_autoptr(JsonObject) state = cdl_test_sim_state (f, sim);

  return json_object_get_int_member (state, "accepted");
}

static void
set_rate_limit (Fixture *f,
                Proc    *server,
                int      seconds)
{
  g_autofree char *body = g_strdup_printf ("{\"pilot_rate_limit_seconds\": %d}", seconds);
  g_autoptr(JsonNode) root = cdl_test_call (f, server, "PATCH", "/api/settings", body, 200);
}

/* Each sample's image hashes to its checksum, its thumbnail exists, and
 * both live under the task's pilot prefix; the seeds are distinct. */
static void
assert_samples (Fixture    *f,
                const char *task_id,
                JsonObject *data,
                int         width,
                int         height)
{
  JsonArray *samples = json_object_get_array_member (data, "samples");
  g_autoptr(GHashTable) seeds = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autofree char *prefix = g_strconcat ("tasks/", task_id, "/pilot/", NULL);
  g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (gint64));

  g_assert_cmpuint (json_array_get_length (samples), ==, 10);
  for (guint i = 0; i < 10; i++)
    {
      JsonObject *s = json_array_get_object_element (samples, i);
      const char *key = json_object_get_string_member (s, "key");
      g_autofree char *image = g_build_filename (f->storage_dir, key, NULL);
      g_autofree char *thumb = g_build_filename (f->storage_dir,
                                                 json_object_get_string_member (s, "thumb_key"),
                                                 NULL);
      g_autofree char *bytes = NULL;
      g_autofree char *sum = NULL;
      gsize len;
      gint64 seed = json_object_get_int_member (s, "seed");

      g_assert_true (g_str_has_prefix (key, prefix));
      g_assert_true (g_file_get_contents (image, &bytes, &len, NULL));
      sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) bytes, len);
      g_assert_cmpstr (sum, ==, json_object_get_string_member (s, "checksum"));
      g_assert_true (g_file_test (thumb, G_FILE_TEST_IS_REGULAR));
      g_assert_cmpint (json_object_get_int_member (s, "width"), ==, width);
      g_assert_cmpint (json_object_get_int_member (s, "height"), ==, height);
      /* A signed media link, not the bare key. */
      g_assert_true (strstr (json_object_get_string_member (s, "uri"), "sig=") != NULL);
      g_assert_false (g_hash_table_contains (seeds, &seed));
      g_array_append_val (values, seed);
      g_hash_table_add (seeds, &g_array_index (values, gint64, values->len - 1));
    }
}

static JsonObject *
settings_of (JsonObject *data)
{
  return json_object_get_object_member (data, "settings");
}

static void
test_samples (Fixture       *f,
              gconstpointer  data)
{
  Proc *server = cdl_test_start_server (f);
  Proc *sim = cdl_test_start_sim (f, NULL);
  g_autofree char *worker = cdl_test_add_worker (f, server, sim, "gpu-a", 1);
  g_autofree char *wf = cdl_test_add_workflow (f, "sd15.json");
  /* 3 seeds per prompt: the pilot draws 7 more. */
  g_autofree char *task = add_task (f, server, wf, 4, 3, FALSE);
  g_autoptr(JsonNode) root = cdl_test_task_call (f, server, "POST", task, "pilot", 200);
  g_autoptr(JsonNode) again = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(GPtrArray) ran = NULL;
  g_autoptr(PGresult) res = NULL;
  JsonObject *d = cdl_test_data_of (root);
  JsonArray *samples = json_object_get_array_member (d, "samples");
  const char *params[1] = { task };

  assert_samples (f, task, d, 512, 512);
  g_assert_cmpint (json_object_get_int_member (d, "retries_used"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (d, "worker_id"), ==, worker);
  g_assert_cmpint (json_object_get_int_member (settings_of (d), "width"), ==, 512);
  g_assert_cmpint (json_object_get_int_member (settings_of (d), "height"), ==, 512);
  g_assert_cmpint (json_object_get_int_member (settings_of (d), "batch_size"), ==, 1);

  /* Ten batch-1 jobs of the longest prompt, nothing else. */
  ran = sim_ran (f, sim, NULL);
  g_assert_cmpuint (ran->len, ==, 10);
  for (guint i = 0; i < ran->len; i++)
    {
      Ran *r = g_ptr_array_index (ran, i);

      g_assert_true (g_str_has_suffix (r->text, LONG_TAIL));
      g_assert_cmpint (r->batch, ==, 1);
      g_assert_cmpint (r->width, ==, 512);
    }

  /* The prompt's own three seeds come first, in order. */
  res = cdl_test_sql (f->conninfo,
                      "SELECT s.seed_value FROM seeds s JOIN prompts p ON p.id = s.prompt_id"
                      " WHERE p.task_id = $1 AND p.text LIKE '%winter moon' ORDER BY s.position",
                      1, params);
  g_assert_cmpint (PQntuples (res), ==, 3);
  for (int i = 0; i < 3; i++)
    g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (samples, i),
                                                 "seed"), ==, cdl_pq_get_int64 (res, i, 0));

  /* Never generations, never annotation batches; kept in tasks.pilot. */
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM generations WHERE task_id = $1", task),
                   ==, 0);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM jobs WHERE task_id = $1", task), ==, 0);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT jsonb_array_length (pilot -> 'samples') FROM tasks"
                                     " WHERE id = $1", task), ==, 10);
  shown = cdl_test_task_call (f, server, "GET", task, "pilot", 200);
  g_assert_cmpint (json_array_get_length (json_object_get_array_member (cdl_test_data_of (shown),
                                                                        "samples")), ==, 10);

  /* A second pilot inside the limit is refused and sends nothing. */
  again = cdl_test_task_call (f, server, "POST", task, "pilot", 429);
  g_assert_cmpint (sim_accepted (f, sim), ==, 10);
}

static void
test_oom_then_freeze (Fixture       *f,
                      gconstpointer  data)
{
  Proc *server = cdl_test_start_server (f);
  /* 512² = 262144 runs out; 384² = 147456 fits. */
  const char *extra[] = { "--oom-pixels", "200000", NULL };
  Proc *sim = cdl_test_start_sim (f, extra);
  g_autofree char *worker = cdl_test_add_worker (f, server, sim, "gpu-a", 1);
  g_autofree char *wf = cdl_test_add_workflow (f, "sd15.json");
  g_autofree char *task = add_task (f, server, wf, 3, 2, FALSE);
  g_autofree char *other = add_task (f, server, wf, 3, 2, FALSE);
  g_autofree char *state = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) second = NULL;
  g_autoptr(JsonNode) frozen = NULL;
  g_autoptr(JsonNode) run = NULL;
  g_autoptr(GPtrArray) ran = NULL;
  JsonObject *d;

  set_rate_limit (f, server, 0);

  root = cdl_test_task_call (f, server, "POST", task, "pilot", 200);
  d = cdl_test_data_of (root);
  g_assert_cmpint (json_object_get_int_member (d, "retries_used"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (settings_of (d), "width"), ==, 384);
  g_assert_cmpint (json_object_get_int_member (settings_of (d), "height"), ==, 384);
  assert_samples (f, task, d, 384, 384);
  /* One out-of-memory attempt, then ten that worked. */
  g_assert_cmpint (sim_accepted (f, sim), ==, 11);

  /* 384² runs out too, 288² = 82944 fits: exactly two retries. */
  cdl_test_sim_config (f, sim, "{\"oom_pixels\": 100000}");
  second = cdl_test_task_call (f, server, "POST", other, "pilot", 200);
  g_assert_cmpint (json_object_get_int_member (cdl_test_data_of (second), "retries_used"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (settings_of (cdl_test_data_of (second)), "width"),
                   ==, 288);
  assert_samples (f, other, cdl_test_data_of (second), 288, 288);
  g_assert_cmpint (sim_accepted (f, sim), ==, 11 + 12);

  /* The freeze carries the settings that worked, and the run uses them. */
  frozen = cdl_test_task_call (f, server, "POST", other, "freeze", 200);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT (frozen_snapshot -> 'pilot' -> 'settings' ->> 'width')"
                                     "::integer FROM tasks WHERE id = $1", other), ==, 288);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT (frozen_snapshot -> 'pilot' ->> 'retries_used')"
                                     "::integer FROM tasks WHERE id = $1", other), ==, 2);
  run = cdl_test_task_call (f, server, "POST", other, "run", 200);
  state = cdl_test_wait_end (f, server, other, 120);
  g_assert_cmpstr (state, ==, "DONE");
  ran = sim_ran (f, sim, other);
  g_assert_cmpuint (ran->len, ==, 6);
  for (guint i = 0; i < ran->len; i++)
    {
      Ran *r = g_ptr_array_index (ran, i);

      g_assert_cmpint (r->width, ==, 288);
      g_assert_cmpint (r->height, ==, 288);
    }
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM generations WHERE task_id = $1"
                                     " AND state = 'done'"
                                     " AND (metadata ->> 'width')::integer = 288",
                                     other), ==, 6);
}

static void
test_impossible (Fixture       *f,
                 gconstpointer  data)
{
  Proc *server = cdl_test_start_server (f);
  /* Even 256², the guardrail's smallest, runs out. */
  const char *extra[] = { "--oom-pixels", "1000", NULL };
  Proc *sim = cdl_test_start_sim (f, extra);
  g_autofree char *worker = cdl_test_add_worker (f, server, sim, "gpu-a", 1);
  g_autofree char *wf = cdl_test_add_workflow (f, "sd15.json");
  g_autofree char *task = add_task (f, server, wf, 2, 2, FALSE);
  g_autofree char *small = add_task (f, server, wf, 2, 2, FALSE);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) guard = NULL;
  g_autoptr(JsonNode) second = NULL;
  JsonObject *obj;

  set_rate_limit (f, server, 0);

  /* 512, 384, 288, 256: the first try and exactly three retries. */
  root = cdl_test_task_call (f, server, "POST", task, "pilot", 409);
  obj = json_node_get_object (root);
  g_assert_false (json_object_get_boolean_member (obj, "success"));
  g_assert_nonnull (strstr (json_object_get_string_member (obj, "error"), "3 retries"));
  g_assert_cmpint (sim_accepted (f, sim), ==, 4);
  shown = cdl_test_task_call (f, server, "GET", task, "pilot", 200);
  g_assert_cmpint (json_object_get_int_member (cdl_test_data_of (shown), "retries_used"), ==, 3);
  g_assert_true (json_object_has_member (cdl_test_data_of (shown), "error"));

  /* With a guardrail at 384 the downshift stops after one retry. */
  guard = cdl_test_call (f, server, "PATCH", "/api/settings",
                         "{\"resolution_min_side\": 384}", 200);
  second = cdl_test_task_call (f, server, "POST", small, "pilot", 409);
  g_assert_cmpint (sim_accepted (f, sim), ==, 4 + 2);

  /* A failed pilot hands nothing to the freeze. */
  {
    g_autoptr(JsonNode) frozen = cdl_test_task_call (f, server, "POST", task, "freeze", 200);

    g_assert_cmpint (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM tasks WHERE id = $1"
                                                    " AND frozen_snapshot ? 'pilot'", task), ==, 0);
  }
}

static void
task_expect (Fixture    *f,
             Proc       *server,
             const char *method,
             const char *task_id,
             const char *action,
             guint       want)
{
  g_autoptr(JsonNode) root = cdl_test_task_call (f, server, method, task_id, action, want);
}

static void
test_refusals (Fixture       *f,
               gconstpointer  data)
{
  Proc *server = cdl_test_start_server (f);
  Proc *sim = cdl_test_start_sim (f, NULL);
  g_autofree char *wf = cdl_test_add_workflow (f, "sd15.json");
  g_autofree char *task = add_task (f, server, wf, 2, 2, FALSE);
  g_autofree char *done = add_task (f, server, wf, 2, 2, TRUE);
  g_autofree char *worker = NULL;
  const char *params[1] = { done };

  /* No worker at all: 409, and nothing counts against the limit. */
  task_expect (f, server, "POST", task, "pilot", 409);

  worker = cdl_test_add_worker (f, server, sim, "gpu-a", 1);
  task_expect (f, server, "POST", "00000000-0000-0000-0000-000000000000", "pilot", 404);
  task_expect (f, server, "POST", "not-a-task", "pilot", 404);
  task_expect (f, server, "GET", task, "pilot", 404);

  PQclear (cdl_test_sql (f->conninfo, "UPDATE tasks SET state = 'DONE' WHERE id = $1", 1, params));
  task_expect (f, server, "POST", done, "pilot", 409);

  /* The worker goes away: 409 again, never queued. */
  g_ptr_array_remove_index (f->sims, 0);
  {
    gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

    while (cdl_test_sql_int (f->conninfo,
                             "SELECT count (*) FROM workers WHERE status = 'HEALTHY'", NULL) > 0)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (200 * 1000);
      }
  }
  task_expect (f, server, "POST", task, "pilot", 409);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM pilot_requests", NULL), ==, 0);
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

  ADD ("/pilot/samples", test_samples);
  ADD ("/pilot/oom-then-freeze", test_oom_then_freeze);
  ADD ("/pilot/impossible", test_impossible);
  ADD ("/pilot/refusals", test_refusals);

#undef ADD

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
