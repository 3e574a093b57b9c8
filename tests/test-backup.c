/* test-backup.c: a graceful stop mid-run, and a backup round trip
 *
 * SIGTERM to a server while it generates, then a new server finishes the
 * run: one done image per (prompt, seed), no prompt sent twice. Then the
 * documented backup (pg_dump -Fc and a copy of the storage tree) restored
 * into a new database gives the same DPO export.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#include "cdl-test-server.h"
#include "db/cdl-pq.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"

static CdlTestPg *pg;

typedef CdlTestCluster Fixture;
typedef CdlTestProc Proc;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  cdl_test_cluster_set_up (f, pg, "cdl-backup-XXXXXX");
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  cdl_test_cluster_tear_down (f);
}

static void
assert_one_image_per_slot (Fixture    *f,
                           const char *task,
                           gint64      slots)
{
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM generations"
                                     " WHERE task_id = $1 AND state = 'done'", task), ==, slots);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (DISTINCT (prompt_id, seed_id))"
                                     " FROM generations WHERE task_id = $1 AND state = 'done'",
                                     task), ==, slots);
}

/* SIGTERM mid-run, then a new server: the run completes cleanly. */
static void
test_sigterm_resume (Fixture       *f,
                     gconstpointer  data)
{
  static const char * const slow[] = { "--ms-per-image", "250", NULL };
  Proc *server = cdl_test_start_server (f);
  Proc *sims[2];
  g_autofree char *task = NULL;
  g_autofree char *state = NULL;
  g_autoptr(JsonNode) run = NULL;
  gint64 deadline;
  gint64 stopped;

  for (int i = 0; i < 2; i++)
    {
      g_autofree char *name = g_strdup_printf ("sim-%d", i);

      sims[i] = cdl_test_start_sim (f, slow);
      g_free (cdl_test_add_worker (f, server, sims[i], name, 2));
    }

  task = cdl_test_add_frozen_task (f, server, 6, 3);
  run = cdl_test_task_call (f, server, "POST", task, "run", 200);

  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (cdl_test_progress_done (f, server, task) < 3 && g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  g_assert_cmpint (cdl_test_progress_done (f, server, task), >=, 3);

  /* A clean stop (status 0) well within the unit's TimeoutStopSec. */
  stopped = g_get_monotonic_time ();
  cdl_test_server_stop (server->proc);
  g_assert_cmpint (g_get_monotonic_time () - stopped, <, 30 * G_USEC_PER_SEC);

  /* Nothing stays claimed by the stopped orchestrator. */
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM worker_leases", NULL), ==, 0);

  server = cdl_test_start_server (f);
  state = cdl_test_wait_end (f, server, task, 90);
  g_assert_cmpstr (state, ==, "DONE");
  assert_one_image_per_slot (f, task, 18);

  for (int i = 0; i < 2; i++)
    {
      g_autoptr(JsonObject) st = cdl_test_sim_state (f, sims[i]);

      g_assert_cmpint (json_object_get_int_member (st, "duplicate_prompt_ids"), ==, 0);
    }
}

static void
run_ok (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[0], err);
}

/* comfy-datalabel-server export-dpo on @conninfo and @storage_dir. */
static char *
export_dpo (Fixture    *f,
            const char *conninfo,
            const char *storage_dir,
            const char *task)
{
  g_autoptr(GSubprocessLauncher) launcher =
    cdl_test_launcher_new (conninfo, f->tmpdir, "", SIGKILL);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  const char *argv[] = { cdl_test_build_path ("src/app/comfy-datalabel-server"),
                         "--data-dir", f->data_dir, "--storage-dir", storage_dir,
                         "export-dpo", task, NULL };

  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (proc));

  return g_steal_pointer (&out);
}

/* Annotations, pg_dump -Fc, pg_restore into a new database, a copy of the
 * storage tree: the same DPO lines. */
static void
test_backup_round_trip (Fixture       *f,
                        gconstpointer  data)
{
  Proc *server = cdl_test_start_server (f);
  Proc *sim = cdl_test_start_sim (f, NULL);
  g_autofree char *task = NULL;
  g_autofree char *state = NULL;
  g_autofree char *dump = g_build_filename (f->tmpdir, "datalabel.dump", NULL);
  g_autofree char *storage_copy = g_build_filename (f->tmpdir, "storage-restored", NULL);
  g_autofree char *restored = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(JsonNode) run = NULL;
  g_autoptr(GError) error = NULL;
  const char *params[1];

  g_free (cdl_test_add_worker (f, server, sim, "sim", 2));
  task = cdl_test_add_frozen_task (f, server, 3, 3);
  run = cdl_test_task_call (f, server, "POST", task, "run", 200);
  state = cdl_test_wait_end (f, server, task, 60);
  g_assert_cmpstr (state, ==, "DONE");

  /* One annotation per prompt, by the admin: image 0 chosen over 1. */
  params[0] = task;
  PQclear (cdl_test_sql (f->conninfo,
                         "INSERT INTO annotations (task_id, batch_id, prompt_id, user_id,"
                         "  chosen_index, rejected_index)"
                         " SELECT $1, p.id, p.id, (SELECT id FROM users LIMIT 1), 0, 1"
                         " FROM prompts p WHERE p.task_id = $1", 1, params));
  before = export_dpo (f, f->conninfo, f->storage_dir, task);
  /* One line per annotated prompt. */
  {
    guint lines = 0;

    for (const char *p = before; *p; p++)
      lines += *p == '\n';
    g_assert_cmpuint (lines, ==, 3);
  }
  g_assert_nonnull (strstr (before, "chosen"));

  /* The backup, as docs/operations.md says: the database, then the
   * storage tree. */
  {
    const char *argv[] = { PG_BIN "/pg_dump", "-Fc", "-f", dump, "-d", f->conninfo, NULL };

    run_ok (argv);
  }
  {
    const char *argv[] = { "cp", "-a", f->storage_dir, storage_copy, NULL };

    run_ok (argv);
  }

  /* The restore: a new, empty database first, then the storage. */
  restored = cdl_test_pg_new_database (pg, &error);
  g_assert_no_error (error);
  {
    const char *argv[] = { PG_BIN "/pg_restore", "--no-owner", "--exit-on-error",
                           "-d", restored, dump, NULL };

    run_ok (argv);
  }

  after = export_dpo (f, restored, storage_copy, task);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpint (cdl_test_sql_int (restored, "SELECT count (*) FROM generations"
                                     " WHERE task_id = $1 AND state = 'done'", task), ==, 9);
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

  ADD ("/backup/sigterm-resume", test_sigterm_resume);
  ADD ("/backup/round-trip", test_backup_round_trip);

#undef ADD

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
