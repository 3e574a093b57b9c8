/* test-db.c: the database layer against a real PostgreSQL
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-test-db"

#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cdl-test-pg.h"
#include "core/cdl-auth.h"
#include "core/cdl-worker-input.h"
#include "db/cdl-db.h"
#include "db/cdl-db-listener.h"
#include "db/cdl-embedded-pg.h"
#include "db/cdl-migrations.h"
#include "db/cdl-pq.h"
#include "db/cdl-user-repo.h"
#include "db/cdl-worker-repo.h"

#define MIGRATIONS_DIR RESOURCE_BASE "/sql"
#define TEST_POOL_SIZE 4

/* One cluster for the whole program; a database per test. */
static CdlTestPg *test_pg;

typedef struct
{
  char   *conninfo;
  CdlDb  *db;
  PGconn *conn;
} DbFixture;

static void
db_fixture_set_up (DbFixture     *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  gboolean migrate = GPOINTER_TO_INT (user_data);

  fixture->conninfo = cdl_test_pg_new_database (test_pg, &error);
  g_assert_no_error (error);

  fixture->db = cdl_db_new (fixture->conninfo, TEST_POOL_SIZE);

  if (migrate)
    {
      cdl_db_migrate (fixture->db, &error);
      g_assert_no_error (error);
    }

  fixture->conn = cdl_db_acquire (fixture->db, &error);
  g_assert_no_error (error);
}

static void
db_fixture_tear_down (DbFixture     *fixture,
                      gconstpointer  user_data)
{
  if (fixture->conn != NULL)
    cdl_db_release (fixture->db, fixture->conn);

  g_assert_cmpuint (cdl_db_get_in_use (fixture->db), ==, 0);
  g_clear_object (&fixture->db);
  g_clear_pointer (&fixture->conninfo, g_free);
}

static guint
count_migration_files (void)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) children = NULL;
  guint n = 0;

  children = g_resources_enumerate_children (MIGRATIONS_DIR, 0, &error);
  g_assert_no_error (error);

  for (guint i = 0; children[i] != NULL; i++)
    if (g_str_has_suffix (children[i], ".sql"))
      n++;

  return n;
}

static gint64
query_int (PGconn     *conn,
           const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PGresult) res = NULL;

  res = cdl_pq_exec (conn, sql, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (PQntuples (res), ==, 1);

  return cdl_pq_get_int64 (res, 0, 0);
}

/* Migrations ----------------------------------------------------------- */

static void
test_migrations_apply (DbFixture     *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  guint n_files = count_migration_files ();
  guint n_applied = G_MAXUINT;

  g_assert_cmpuint (n_files, >=, 1);

  g_assert_true (cdl_migrations_apply (fixture->conn, MIGRATIONS_DIR,
                                       &n_applied, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_applied, ==, n_files);

  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(*) FROM schema_migrations"),
                   ==, n_files);
  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(*) FROM schema_migrations"
                              " WHERE name = '0001_schema.sql'"), ==, 1);
  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(*) FROM workers"), ==, 0);

  /* A second run finds everything recorded. */
  g_assert_true (cdl_migrations_apply (fixture->conn, MIGRATIONS_DIR,
                                       &n_applied, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_applied, ==, 0);

  /* And so does the pool's entry point. */
  g_assert_true (cdl_db_migrate (fixture->db, &error));
  g_assert_no_error (error);
  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(*) FROM schema_migrations"),
                   ==, n_files);
}

static void
test_migrations_missing_dir (DbFixture     *fixture,
                             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  guint n_applied = G_MAXUINT;

  g_assert_false (cdl_migrations_apply (fixture->conn,
                                        RESOURCE_BASE "/no-such-dir",
                                        &n_applied, &error));
  g_assert_nonnull (error);
  g_assert_cmpuint (n_applied, ==, 0);
  g_assert_cmpint (PQtransactionStatus (fixture->conn), ==, PQTRANS_IDLE);
}

typedef struct
{
  const char *conninfo;
  GMutex     *mutex;
  GCond      *cond;
  gboolean   *go;
  guint       n_applied;
  GError     *error;
} MigrateRun;

static gpointer
migrate_thread (gpointer user_data)
{
  MigrateRun *run = user_data;
  PGconn *conn;

  conn = PQconnectdb (run->conninfo);
  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);

  g_mutex_lock (run->mutex);
  while (!*run->go)
    g_cond_wait (run->cond, run->mutex);
  g_mutex_unlock (run->mutex);

  cdl_migrations_apply (conn, MIGRATIONS_DIR, &run->n_applied, &run->error);
  PQfinish (conn);

  return NULL;
}

static void
test_migrations_concurrent (DbFixture     *fixture,
                            gconstpointer  user_data)
{
  GMutex mutex;
  GCond cond;
  gboolean go = FALSE;
  MigrateRun runs[2];
  GThread *threads[2];
  guint n_files = count_migration_files ();

  g_mutex_init (&mutex);
  g_cond_init (&cond);

  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      runs[i] = (MigrateRun) {
        .conninfo = fixture->conninfo,
        .mutex = &mutex,
        .cond = &cond,
        .go = &go,
      };
      threads[i] = g_thread_new ("migrate", migrate_thread, &runs[i]);
    }

  /* Both are connected and waiting: release them together. */
  g_usleep (G_USEC_PER_SEC / 10);
  g_mutex_lock (&mutex);
  go = TRUE;
  g_cond_broadcast (&cond);
  g_mutex_unlock (&mutex);

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  g_assert_no_error (runs[0].error);
  g_assert_no_error (runs[1].error);
  g_assert_cmpuint (runs[0].n_applied + runs[1].n_applied, ==, n_files);
  g_assert_true (runs[0].n_applied == 0 || runs[1].n_applied == 0);

  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(*) FROM schema_migrations"),
                   ==, n_files);
  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(DISTINCT name)"
                              " FROM schema_migrations"), ==, n_files);

  g_mutex_clear (&mutex);
  g_cond_clear (&cond);
}

/* libpq wrappers ------------------------------------------------------- */

static void
test_pq_errors (DbFixture     *fixture,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  const char *params[1] = { "not a number" };

  g_assert_false (cdl_pq_command (fixture->conn, "SELECT 1/0", 0, NULL,
                                  &error));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "division by zero");
  g_clear_error (&error);

  /* The message never quotes the statement or its parameters. */
  g_assert_false (cdl_pq_command (fixture->conn, "SELECT $1::integer", 1,
                                  params, &error));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_FAILED);
  g_assert_null (strstr (error->message, "SELECT"));
  g_clear_error (&error);

  g_assert_false (cdl_pq_command (fixture->conn,
                                  "DO $$ BEGIN RAISE EXCEPTION 'frozen here'"
                                  " USING ERRCODE = 'CDL01'; END $$",
                                  0, NULL, &error));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_FROZEN);
  g_assert_cmpstr (error->message, ==, "frozen here");
  g_clear_error (&error);

  g_assert_false (cdl_pq_command (fixture->conn,
                                  "INSERT INTO workers (name, base_url,"
                                  " max_concurrent_jobs)"
                                  " VALUES ('w', 'http://h', 0)",
                                  0, NULL, &error));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_CONSTRAINT);
  g_clear_error (&error);

  /* A failed transaction is rolled back by the pool on release. */
  g_assert_true (cdl_pq_begin (fixture->conn, &error));
  g_assert_false (cdl_pq_command (fixture->conn, "SELECT 1/0", 0, NULL,
                                  NULL));
  g_assert_cmpint (PQtransactionStatus (fixture->conn), ==, PQTRANS_INERROR);
  cdl_db_release (fixture->db, fixture->conn);
  fixture->conn = cdl_db_acquire (fixture->db, &error);
  g_assert_no_error (error);
  g_assert_cmpint (PQtransactionStatus (fixture->conn), ==, PQTRANS_IDLE);
  g_assert_cmpint (query_int (fixture->conn, "SELECT 7"), ==, 7);
}

static void
test_pq_values (DbFixture     *fixture,
                gconstpointer  user_data)
{
  static const char * const tags[] = {
    "plain", "with space", "comma,inside", "quote\"inside", "back\\slash",
    "{braces}", "NULL", "", "日本語", NULL
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(PGresult) res = NULL;
  g_autoptr(GDateTime) when = NULL;
  g_autoptr(GDateTime) before = NULL;
  g_autofree char *literal = NULL;
  g_auto(GStrv) back = NULL;
  g_auto(GStrv) empty = NULL;
  const char *params[1];

  literal = cdl_pq_strv_literal (tags);
  params[0] = literal;
  res = cdl_pq_exec (fixture->conn,
                     "SELECT $1::text[], '{}'::text[],"
                     " extract (epoch FROM timestamptz"
                     "          '2024-02-29 23:59:58.123456+00'),"
                     " extract (epoch FROM timestamptz"
                     "          '1969-12-31 23:59:59.5+00'),"
                     " NULL::text, true, 9007199254740991::bigint",
                     1, params, &error);
  g_assert_no_error (error);

  back = cdl_pq_get_strv (res, 0, 0);
  g_assert_cmpstrv (back, tags);
  empty = cdl_pq_get_strv (res, 0, 1);
  g_assert_cmpuint (g_strv_length (empty), ==, 0);

  when = cdl_pq_get_epoch (res, 0, 2);
  g_assert_nonnull (when);
  g_assert_cmpint (g_date_time_get_year (when), ==, 2024);
  g_assert_cmpint (g_date_time_get_month (when), ==, 2);
  g_assert_cmpint (g_date_time_get_day_of_month (when), ==, 29);
  g_assert_cmpint (g_date_time_get_hour (when), ==, 23);
  g_assert_cmpint (g_date_time_get_second (when), ==, 58);
  g_assert_cmpint (g_date_time_get_microsecond (when), ==, 123456);

  before = cdl_pq_get_epoch (res, 0, 3);
  g_assert_cmpint (g_date_time_to_unix (before), ==, -1);
  g_assert_cmpint (g_date_time_get_microsecond (before), ==, 500000);

  g_assert_null (cdl_pq_get_string (res, 0, 4));
  g_assert_null (cdl_pq_get_epoch (res, 0, 4));
  g_assert_true (cdl_pq_get_bool (res, 0, 5));
  g_assert_cmpint (cdl_pq_get_int64 (res, 0, 6), ==,
                   G_GINT64_CONSTANT (9007199254740991));
}

/* Workers -------------------------------------------------------------- */

static CdlWorker *
insert_worker (PGconn     *conn,
               const char *name,
               int         priority)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorkerInput) input = cdl_worker_input_new ();
  CdlWorker *worker;

  input->set = CDL_WORKER_FIELD_NAME | CDL_WORKER_FIELD_BASE_URL |
               CDL_WORKER_FIELD_PRIORITY;
  input->name = g_strdup (name);
  input->base_url = g_strdup_printf ("http://%s.local:8188", name);
  input->priority = priority;

  worker = cdl_worker_repo_insert (conn, input, &error);
  g_assert_no_error (error);
  g_assert_nonnull (worker);

  return worker;
}

static void
test_workers_crud (DbFixture     *fixture,
                   gconstpointer  user_data)
{
  static const char * const tags[] = { "sdxl", "a100", NULL };
  static const char * const new_tags[] = { "flux", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorkerInput) input = cdl_worker_input_new ();
  g_autoptr(CdlWorkerInput) patch = cdl_worker_input_new ();
  g_autoptr(CdlWorker) worker = NULL;
  g_autoptr(CdlWorker) fetched = NULL;
  g_autoptr(CdlWorker) updated = NULL;
  g_autoptr(CdlWorker) low = NULL;
  g_autoptr(CdlWorker) high = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  const CdlWorkerData *data;

  input->set = CDL_WORKER_FIELD_NAME | CDL_WORKER_FIELD_BASE_URL |
               CDL_WORKER_FIELD_TAGS | CDL_WORKER_FIELD_API_KEY;
  input->name = g_strdup ("gpu-1");
  input->base_url = g_strdup ("http://gpu-1.local:8188");
  input->tags = g_strdupv ((char **) tags);
  input->api_key = g_strdup ("never stored");

  worker = cdl_worker_repo_insert (fixture->conn, input, &error);
  g_assert_no_error (error);

  /* Schema defaults for what was not given. */
  data = cdl_worker_get_data (worker);
  g_assert_true (g_uuid_string_is_valid (data->id));
  g_assert_cmpstr (data->name, ==, "gpu-1");
  g_assert_cmpstr (data->base_url, ==, "http://gpu-1.local:8188");
  g_assert_cmpstrv (data->tags, tags);
  g_assert_true (data->enabled);
  g_assert_cmpint (data->status, ==, CDL_WORKER_STATUS_UNHEALTHY);
  g_assert_cmpint (data->priority, ==, 0);
  g_assert_cmpint (data->max_concurrent_jobs, ==, 1);
  g_assert_cmpint (data->current_queue_len, ==, 0);
  g_assert_null (data->last_error);
  g_assert_null (data->last_checked_at);
  g_assert_nonnull (data->created_at);
  g_assert_nonnull (data->updated_at);
  g_assert_cmpint (ABS (g_date_time_difference (data->created_at, now)),
                   <, 60 * G_USEC_PER_SEC);

  fetched = cdl_worker_repo_get (fixture->conn, data->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cdl_worker_get_name (fetched), ==, "gpu-1");
  g_assert_cmpstrv (cdl_worker_get_tags (fetched), tags);
  g_assert_true (g_date_time_equal (cdl_worker_get_data (fetched)->created_at,
                                    data->created_at));

  /* Only the fields set change. */
  patch->set = CDL_WORKER_FIELD_PRIORITY | CDL_WORKER_FIELD_ENABLED |
               CDL_WORKER_FIELD_TAGS | CDL_WORKER_FIELD_MAX_CONCURRENT_JOBS;
  patch->priority = 5;
  patch->enabled = FALSE;
  patch->tags = g_strdupv ((char **) new_tags);
  patch->max_concurrent_jobs = 3;

  g_usleep (10000);
  updated = cdl_worker_repo_update (fixture->conn, data->id, patch, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cdl_worker_get_name (updated), ==, "gpu-1");
  g_assert_cmpstr (cdl_worker_get_base_url (updated), ==,
                   "http://gpu-1.local:8188");
  g_assert_cmpint (cdl_worker_get_priority (updated), ==, 5);
  g_assert_false (cdl_worker_get_enabled (updated));
  g_assert_cmpint (cdl_worker_get_max_concurrent_jobs (updated), ==, 3);
  g_assert_cmpstrv (cdl_worker_get_tags (updated), new_tags);
  g_assert_cmpint (g_date_time_compare (cdl_worker_get_data (updated)->updated_at,
                                        data->updated_at), >, 0);

  /* By priority, highest first, then by name. */
  low = insert_worker (fixture->conn, "a-low", -1);
  high = insert_worker (fixture->conn, "z-high", 10);
  all = cdl_worker_repo_list (fixture->conn, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 3);
  g_assert_cmpstr (cdl_worker_get_name (all->pdata[0]), ==, "z-high");
  g_assert_cmpstr (cdl_worker_get_name (all->pdata[1]), ==, "gpu-1");
  g_assert_cmpstr (cdl_worker_get_name (all->pdata[2]), ==, "a-low");

  /* Keys never reach the database. */
  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(*) FROM information_schema.columns"
                              " WHERE table_name = 'workers'"
                              "   AND column_name LIKE '%key%'"), ==, 0);
}

static void
test_workers_duplicate_name (DbFixture     *fixture,
                             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorkerInput) input = cdl_worker_input_new ();
  g_autoptr(CdlWorkerInput) rename = cdl_worker_input_new ();
  g_autoptr(CdlWorker) first = NULL;
  g_autoptr(CdlWorker) other = NULL;
  g_autoptr(CdlWorker) second = NULL;

  first = insert_worker (fixture->conn, "twin", 0);
  other = insert_worker (fixture->conn, "other", 0);

  input->set = CDL_WORKER_FIELD_NAME | CDL_WORKER_FIELD_BASE_URL;
  input->name = g_strdup ("twin");
  input->base_url = g_strdup ("http://elsewhere:8188");
  second = cdl_worker_repo_insert (fixture->conn, input, &error);
  g_assert_null (second);
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_UNIQUE);
  g_assert_cmpstr (error->message, ==, "A worker named \"twin\" already exists");
  g_clear_error (&error);

  rename->set = CDL_WORKER_FIELD_NAME;
  rename->name = g_strdup ("twin");
  second = cdl_worker_repo_update (fixture->conn, cdl_worker_get_id (other),
                                   rename, &error);
  g_assert_null (second);
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_UNIQUE);
  g_assert_cmpstr (error->message, ==, "A worker named \"twin\" already exists");
}

static void
test_workers_not_found (DbFixture     *fixture,
                        gconstpointer  user_data)
{
  static const char * const ids[] = {
    "not-a-uuid", "", "'; DROP TABLE workers; --",
    "00000000-0000-0000-0000-000000000000",
  };
  g_autoptr(CdlWorkerInput) patch = cdl_worker_input_new ();

  patch->set = CDL_WORKER_FIELD_PRIORITY;
  patch->priority = 1;

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CdlWorker) worker = NULL;
      gboolean changed = TRUE;

      worker = cdl_worker_repo_get (fixture->conn, ids[i], &error);
      g_assert_null (worker);
      g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND);
      g_clear_error (&error);

      worker = cdl_worker_repo_update (fixture->conn, ids[i], patch, &error);
      g_assert_null (worker);
      g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND);
      g_clear_error (&error);

      worker = cdl_worker_repo_record_probe (fixture->conn, ids[i], TRUE, 0,
                                             NULL, &changed, &error);
      g_assert_null (worker);
      g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND);
      g_assert_false (changed);
      g_assert_cmpint (PQtransactionStatus (fixture->conn), ==, PQTRANS_IDLE);
    }

  g_assert_cmpint (query_int (fixture->conn, "SELECT count(*) FROM workers"),
                   ==, 0);
}

static void
test_workers_claim_due (DbFixture     *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorker) worker = NULL;
  g_autoptr(CdlWorker) probed = NULL;
  g_autoptr(GPtrArray) claimed = NULL;
  PGconn *other;

  worker = insert_worker (fixture->conn, "due", 0);

  /* Never checked: due, and claimed once. */
  claimed = cdl_worker_repo_claim_due (fixture->conn, 60000, 60000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (claimed->len, ==, 1);
  g_assert_cmpstr (cdl_worker_get_id (claimed->pdata[0]), ==,
                   cdl_worker_get_id (worker));
  g_clear_pointer (&claimed, g_ptr_array_unref);

  /* Another instance finds it claimed. */
  other = cdl_db_acquire (fixture->db, &error);
  g_assert_no_error (error);
  claimed = cdl_worker_repo_claim_due (other, 60000, 60000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (claimed->len, ==, 0);
  g_clear_pointer (&claimed, g_ptr_array_unref);
  cdl_db_release (fixture->db, other);

  /* Checked just now: not due until the interval passes. */
  probed = cdl_worker_repo_record_probe (fixture->conn,
                                         cdl_worker_get_id (worker), TRUE, 0,
                                         NULL, NULL, &error);
  g_assert_no_error (error);

  claimed = cdl_worker_repo_claim_due (fixture->conn, 300, 60000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (claimed->len, ==, 0);
  g_clear_pointer (&claimed, g_ptr_array_unref);

  g_usleep (400 * 1000);
  claimed = cdl_worker_repo_claim_due (fixture->conn, 300, 60000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (claimed->len, ==, 1);
  g_clear_pointer (&claimed, g_ptr_array_unref);

  claimed = cdl_worker_repo_claim_due (fixture->conn, 300, 60000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (claimed->len, ==, 0);
  g_clear_pointer (&claimed, g_ptr_array_unref);

  /* A claim that was never answered expires. */
  g_assert_true (cdl_pq_command (fixture->conn,
                                 "UPDATE workers SET health_claimed_until ="
                                 " now () - interval '1 second'",
                                 0, NULL, &error));
  claimed = cdl_worker_repo_claim_due (fixture->conn, 300, 60000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (claimed->len, ==, 1);
  g_clear_pointer (&claimed, g_ptr_array_unref);

  /* A disabled worker is never due, however stale its last check. */
  g_assert_true (cdl_pq_command (fixture->conn,
                                 "UPDATE workers SET enabled = false,"
                                 " last_checked_at = NULL, health_claimed_until = NULL",
                                 0, NULL, &error));
  claimed = cdl_worker_repo_claim_due (fixture->conn, 300, 60000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (claimed->len, ==, 0);
}

static CdlWorker *
probe (PGconn      *conn,
       const char  *id,
       gboolean     ok,
       gboolean    *changed)
{
  g_autoptr(GError) error = NULL;
  CdlWorker *worker;

  worker = cdl_worker_repo_record_probe (conn, id, ok, ok ? 2 : 0,
                                         ok ? NULL : "connection refused",
                                         changed, &error);
  g_assert_no_error (error);
  g_assert_nonnull (worker);
  g_assert_cmpint (PQtransactionStatus (conn), ==, PQTRANS_IDLE);

  return worker;
}

static void
test_workers_record_probe (DbFixture     *fixture,
                           gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorker) worker = NULL;
  g_autofree char *id = NULL;
  gboolean changed = FALSE;

  worker = insert_worker (fixture->conn, "flappy", 0);
  id = g_strdup (cdl_worker_get_id (worker));
  g_assert_cmpint (cdl_worker_repo_count_healthy (fixture->conn, &error), ==, 0);
  g_clear_object (&worker);

  /* One clean probe: healthy. */
  worker = probe (fixture->conn, id, TRUE, &changed);
  g_assert_true (changed);
  g_assert_cmpint (cdl_worker_get_status (worker), ==, CDL_WORKER_STATUS_HEALTHY);
  g_assert_cmpint (cdl_worker_get_current_queue_len (worker), ==, 2);
  g_assert_null (cdl_worker_get_last_error (worker));
  g_assert_nonnull (cdl_worker_get_last_checked_at (worker));
  g_assert_cmpint (cdl_worker_repo_count_healthy (fixture->conn, &error), ==, 1);
  g_clear_object (&worker);

  /* One failure is tolerated. */
  worker = probe (fixture->conn, id, FALSE, &changed);
  g_assert_false (changed);
  g_assert_cmpint (cdl_worker_get_status (worker), ==, CDL_WORKER_STATUS_HEALTHY);
  g_assert_cmpstr (cdl_worker_get_last_error (worker), ==, "connection refused");
  /* A failed probe says nothing about the queue. */
  g_assert_cmpint (cdl_worker_get_current_queue_len (worker), ==, 2);
  g_clear_object (&worker);

  /* The second in a row is not. */
  worker = probe (fixture->conn, id, FALSE, &changed);
  g_assert_true (changed);
  g_assert_cmpint (cdl_worker_get_status (worker), ==, CDL_WORKER_STATUS_UNHEALTHY);
  g_assert_cmpint (cdl_worker_get_data (worker)->consecutive_failures, ==, 2);
  g_assert_cmpint (cdl_worker_repo_count_healthy (fixture->conn, &error), ==, 0);
  g_clear_object (&worker);

  worker = probe (fixture->conn, id, FALSE, &changed);
  g_assert_false (changed);
  g_assert_cmpint (cdl_worker_get_status (worker), ==, CDL_WORKER_STATUS_UNHEALTHY);
  g_clear_object (&worker);

  /* One clean probe brings it back. */
  worker = probe (fixture->conn, id, TRUE, &changed);
  g_assert_true (changed);
  g_assert_cmpint (cdl_worker_get_status (worker), ==, CDL_WORKER_STATUS_HEALTHY);
  g_assert_cmpint (cdl_worker_get_data (worker)->consecutive_failures, ==, 0);
  g_assert_null (cdl_worker_get_last_error (worker));
  g_clear_object (&worker);

  /* The probe released the claim. */
  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(*) FROM workers"
                              " WHERE health_claimed_until IS NOT NULL"), ==, 0);

  /* Disabled workers do not count as healthy ones. */
  {
    g_autoptr(CdlWorkerInput) patch = cdl_worker_input_new ();
    g_autoptr(CdlWorker) disabled = NULL;

    patch->set = CDL_WORKER_FIELD_ENABLED;
    patch->enabled = FALSE;
    disabled = cdl_worker_repo_update (fixture->conn, id, patch, &error);
    g_assert_no_error (error);
    g_assert_cmpint (cdl_worker_repo_count_healthy (fixture->conn, &error),
                     ==, 0);
  }
}

/* Users and tokens ----------------------------------------------------- */

static void
test_users_tokens (DbFixture     *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlUser) user = NULL;
  g_autoptr(CdlUser) again = NULL;
  g_autoptr(CdlUser) found = NULL;
  g_autofree char *token = cdl_auth_token_generate ();
  g_autofree char *hash = cdl_auth_token_hash (token);
  g_autofree char *other_hash = cdl_auth_token_hash ("unknown");

  user = cdl_user_repo_ensure (fixture->conn, "alice", CDL_ROLE_ANNOTATOR,
                               &error);
  g_assert_no_error (error);
  g_assert_true (g_uuid_string_is_valid (user->id));
  g_assert_cmpstr (user->name, ==, "alice");
  g_assert_cmpint (user->role, ==, CDL_ROLE_ANNOTATOR);

  /* Same user, new role. */
  again = cdl_user_repo_ensure (fixture->conn, "alice", CDL_ROLE_ADMIN, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->id, ==, user->id);
  g_assert_cmpint (again->role, ==, CDL_ROLE_ADMIN);

  g_assert_true (cdl_user_repo_add_token (fixture->conn, user->id, hash,
                                          "laptop", &error));
  g_assert_no_error (error);

  g_assert_false (cdl_user_repo_add_token (fixture->conn,
                                           "00000000-0000-0000-0000-000000000000",
                                           other_hash, NULL, &error));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND);
  g_clear_error (&error);

  found = cdl_user_repo_find_by_token (fixture->conn, hash, &error);
  g_assert_no_error (error);
  g_assert_nonnull (found);
  g_assert_cmpstr (found->id, ==, user->id);
  g_assert_cmpint (found->role, ==, CDL_ROLE_ADMIN);
  g_clear_pointer (&found, cdl_user_free);

  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(*) FROM api_tokens"
                              " WHERE last_used_at IS NOT NULL"), ==, 1);

  /* Touched at most once a minute. */
  g_assert_true (cdl_pq_command (fixture->conn,
                                 "UPDATE api_tokens SET last_used_at ="
                                 " now () - interval '30 seconds'",
                                 0, NULL, &error));
  found = cdl_user_repo_find_by_token (fixture->conn, hash, &error);
  g_assert_nonnull (found);
  g_clear_pointer (&found, cdl_user_free);
  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(*) FROM api_tokens"
                              " WHERE last_used_at < now () - interval '20 seconds'"),
                   ==, 1);

  g_assert_true (cdl_pq_command (fixture->conn,
                                 "UPDATE api_tokens SET last_used_at ="
                                 " now () - interval '2 minutes'",
                                 0, NULL, &error));
  found = cdl_user_repo_find_by_token (fixture->conn, hash, &error);
  g_assert_nonnull (found);
  g_clear_pointer (&found, cdl_user_free);
  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(*) FROM api_tokens"
                              " WHERE last_used_at > now () - interval '20 seconds'"),
                   ==, 1);

  found = cdl_user_repo_find_by_token (fixture->conn, other_hash, &error);
  g_assert_no_error (error);
  g_assert_null (found);

  g_assert_true (cdl_user_repo_revoke_token (fixture->conn, hash, &error));
  g_assert_no_error (error);
  found = cdl_user_repo_find_by_token (fixture->conn, hash, &error);
  g_assert_no_error (error);
  g_assert_null (found);

  g_assert_false (cdl_user_repo_revoke_token (fixture->conn, other_hash,
                                              &error));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND);
}

/* The pool ------------------------------------------------------------- */

static gpointer
select_answer (PGconn        *conn,
               gpointer       data,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autoptr(PGresult) res = NULL;

  res = cdl_pq_exec (conn, "SELECT 'forty' || 'two'", 0, NULL, error);
  if (res == NULL)
    return NULL;

  return g_strdup (cdl_pq_get_string (res, 0, 0));
}

static gpointer
fail_with_constraint (PGconn        *conn,
                      gpointer       data,
                      GCancellable  *cancellable,
                      GError       **error)
{
  cdl_pq_command (conn, "INSERT INTO workers (name, base_url)"
                  " VALUES (NULL, 'http://x')", 0, NULL, error);
  return NULL;
}

typedef struct
{
  GMainLoop *loop;
  GThread   *main_thread;
  char      *answer;
  GError    *error;
  guint      pending;
} AsyncRun;

static void
run_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AsyncRun *run = user_data;

  g_assert_true (g_thread_self () == run->main_thread);

  run->answer = cdl_db_run_finish (CDL_DB (source), result, &run->error);
  g_main_loop_quit (run->loop);
}

static void
test_pool_run_async (DbFixture     *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AsyncRun run = { 0 };

  run.loop = g_main_loop_new (NULL, FALSE);
  run.main_thread = g_thread_self ();

  cdl_db_run_async (fixture->db, select_answer, NULL, NULL, g_free, NULL,
                    run_done_cb, &run);
  g_main_loop_run (run.loop);
  g_assert_no_error (run.error);
  g_assert_cmpstr (run.answer, ==, "fortytwo");
  g_clear_pointer (&run.answer, g_free);

  cdl_db_run_async (fixture->db, fail_with_constraint, NULL, NULL, NULL, NULL,
                    run_done_cb, &run);
  g_main_loop_run (run.loop);
  g_assert_error (run.error, CDL_DB_ERROR, CDL_DB_ERROR_CONSTRAINT);
  g_assert_null (run.answer);
  g_clear_error (&run.error);

  g_cancellable_cancel (cancellable);
  cdl_db_run_async (fixture->db, select_answer, NULL, NULL, g_free,
                    cancellable, run_done_cb, &run);
  g_main_loop_run (run.loop);
  g_assert_error (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&run.error);

  g_main_loop_unref (run.loop);
}

typedef struct
{
  CdlDb  *db;
  gint    max_in_use;
  gint    calls;
} PoolLoad;

static gpointer
watch_pool (PGconn        *conn,
            gpointer       data,
            GCancellable  *cancellable,
            GError       **error)
{
  PoolLoad *load = data;
  gint in_use = (gint) cdl_db_get_in_use (load->db);
  gint seen;

  do
    seen = g_atomic_int_get (&load->max_in_use);
  while (in_use > seen &&
         !g_atomic_int_compare_and_exchange (&load->max_in_use, seen, in_use));

  g_atomic_int_inc (&load->calls);

  if (!cdl_pq_command (conn, "SELECT pg_sleep (0.02)", 0, NULL, error))
    return NULL;

  return GINT_TO_POINTER (1);
}

static void
load_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AsyncRun *run = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (cdl_db_run_finish (CDL_DB (source), result, &error));
  g_assert_no_error (error);

  if (--run->pending == 0)
    g_main_loop_quit (run->loop);
}

static void
test_pool_bounded (DbFixture     *fixture,
                   gconstpointer  user_data)
{
  PoolLoad load = { 0 };
  AsyncRun run = { 0 };

  /* The fixture holds one connection; give it back so that all of the
   * pool is there to share. */
  cdl_db_release (fixture->db, g_steal_pointer (&fixture->conn));

  load.db = fixture->db;
  run.loop = g_main_loop_new (NULL, FALSE);
  run.pending = 50;

  for (guint i = 0; i < 50; i++)
    cdl_db_run_async (fixture->db, watch_pool, &load, NULL, NULL, NULL,
                      load_done_cb, &run);

  g_main_loop_run (run.loop);
  g_main_loop_unref (run.loop);

  g_assert_cmpint (load.calls, ==, 50);
  g_assert_cmpint (load.max_in_use, <=, TEST_POOL_SIZE);
  g_assert_cmpint (load.max_in_use, >=, 2);
  g_assert_cmpuint (cdl_db_get_in_use (fixture->db), ==, 0);
  g_assert_cmpuint (cdl_db_get_pool_size (fixture->db), ==, TEST_POOL_SIZE);

  /* Never more server connections than the pool size either. */
  fixture->conn = cdl_db_acquire (fixture->db, NULL);
  g_assert_cmpint (query_int (fixture->conn,
                              "SELECT count(*) FROM pg_stat_activity"
                              " WHERE datname = current_database ()"
                              "   AND application_name = 'comfy-datalabel'"),
                   <=, TEST_POOL_SIZE);
}

typedef struct
{
  guint   pending;
  guint   n_ok;
  guint   n_cancelled;
  GError *error;
} QueuedRuns;

static void
queued_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  QueuedRuns *runs = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *answer = NULL;

  answer = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    runs->n_cancelled++;
  else if (error != NULL && runs->error == NULL)
    runs->error = g_steal_pointer (&error);
  else if (g_strcmp0 (answer, "fortytwo") == 0)
    runs->n_ok++;

  runs->pending--;
}

static void
test_pool_queued_while_busy (DbFixture     *fixture,
                             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  PGconn *held[TEST_POOL_SIZE - 1];
  QueuedRuns runs = { 0 };
  gint64 until;

  /* Every slot taken: the fixture's plus these. */
  for (guint i = 0; i < G_N_ELEMENTS (held); i++)
    {
      held[i] = cdl_db_acquire (fixture->db, &error);
      g_assert_no_error (error);
    }
  g_assert_cmpuint (cdl_db_get_in_use (fixture->db), ==, TEST_POOL_SIZE);

  for (guint i = 0; i < 6; i++)
    cdl_db_run_async (fixture->db, select_answer, NULL, NULL, g_free,
                      i == 2 ? cancellable : NULL, queued_done_cb, &runs);
  runs.pending = 6;

  /* They wait in the queue, not in threads holding connections. */
  until = g_get_monotonic_time () + G_USEC_PER_SEC / 5;
  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (runs.pending, ==, 6);
  g_assert_cmpuint (cdl_db_get_in_use (fixture->db), ==, TEST_POOL_SIZE);

  g_cancellable_cancel (cancellable);

  /* Giving a connection back starts the queued work. */
  for (guint i = 0; i < G_N_ELEMENTS (held); i++)
    cdl_db_release (fixture->db, held[i]);

  while (runs.pending > 0)
    g_main_context_iteration (NULL, TRUE);

  g_assert_no_error (runs.error);
  g_assert_cmpuint (runs.n_ok, ==, 5);
  g_assert_cmpuint (runs.n_cancelled, ==, 1);
  g_assert_cmpuint (cdl_db_get_in_use (fixture->db), ==, 1);
}

static void
test_pool_broken_connection (DbFixture     *fixture,
                             gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PGresult) res = NULL;
  g_autofree char *pid = NULL;
  PGconn *killer;
  const char *params[1];

  pid = g_strdup_printf ("%d", PQbackendPID (fixture->conn));
  cdl_db_release (fixture->db, g_steal_pointer (&fixture->conn));

  /* The server ends the idle pooled connection behind the pool's back. */
  killer = PQconnectdb (fixture->conninfo);
  params[0] = pid;
  res = cdl_pq_exec (killer, "SELECT pg_terminate_backend ($1::integer)",
                     1, params, &error);
  g_assert_no_error (error);
  g_assert_true (cdl_pq_get_bool (res, 0, 0));
  PQfinish (killer);
  g_usleep (G_USEC_PER_SEC / 10);

  /* The next borrower gets a working connection all the same. */
  fixture->conn = cdl_db_acquire (fixture->db, &error);
  g_assert_no_error (error);
  g_assert_cmpint (query_int (fixture->conn, "SELECT 1"), ==, 1);
  g_assert_cmpint (PQbackendPID (fixture->conn), !=, atoi (pid));
}

static void
test_pool_bad_conninfo (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlDb) db = NULL;
  g_autofree char *conninfo = NULL;

  conninfo = g_strdup_printf ("host=%s port=5432 dbname=no_such_database"
                              " user=postgres password=hunter2",
                              cdl_test_pg_get_socket_dir (test_pg));
  db = cdl_db_new (conninfo, 2);

  g_assert_false (cdl_db_open (db, &error));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_CONNECTION);
  g_assert_null (strstr (error->message, "hunter2"));
  g_assert_cmpuint (cdl_db_get_in_use (db), ==, 0);
  g_clear_error (&error);

  /* The same from a pool thread; the slot is given back. */
  {
    AsyncRun run = { 0 };

    run.loop = g_main_loop_new (NULL, FALSE);
    run.main_thread = g_thread_self ();
    cdl_db_run_async (db, select_answer, NULL, NULL, g_free, NULL,
                      run_done_cb, &run);
    g_main_loop_run (run.loop);
    g_main_loop_unref (run.loop);

    g_assert_error (run.error, CDL_DB_ERROR, CDL_DB_ERROR_CONNECTION);
    g_assert_null (run.answer);
    g_clear_error (&run.error);
    g_assert_cmpuint (cdl_db_get_in_use (db), ==, 0);
  }
}

/* The embedded cluster ------------------------------------------------- */

static void
assert_embedded_answers (CdlEmbeddedPg *pg)
{
  PGconn *conn;

  g_assert_true (cdl_embedded_pg_is_running (pg));
  conn = PQconnectdb (cdl_embedded_pg_get_conninfo (pg));
  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  g_assert_cmpint (query_int (conn, "SELECT 1"), ==, 1);
  g_assert_cmpstr (PQdb (conn), ==, "datalabel");
  PQfinish (conn);
}

static void
write_pid_file (const char *cluster_dir,
                pid_t       pid)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (cluster_dir, "postmaster.pid",
                                            NULL);
  g_autofree char *contents = NULL;

  contents = g_strdup_printf ("%d\n%s\n1700000000\n5432\n/tmp\n\n"
                              "  1234567   1\nready   \n",
                              (int) pid, cluster_dir);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static pid_t
dead_pid (void)
{
  pid_t pid = fork ();

  if (pid == 0)
    _exit (0);

  g_assert_cmpint (pid, >, 0);
  waitpid (pid, NULL, 0);

  return pid;
}

static void
test_embedded_pg (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlEmbeddedPg) pg = NULL;
  g_autoptr(CdlEmbeddedPg) second = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *cluster_dir = NULL;
  g_autofree char *auto_conf = NULL;
  g_autofree char *saved_conf = NULL;
  const char *rm[] = { "rm", "-rf", "--", NULL, NULL };

  if (geteuid () == 0)
    {
      g_test_skip ("PostgreSQL refuses to run as root; the server test "
                   "covers the embedded cluster as an unprivileged user");
      return;
    }

  dir = g_dir_make_tmp ("cdl-test-embedded-XXXXXX", &error);
  g_assert_no_error (error);

  pg = cdl_embedded_pg_new (dir);
  cluster_dir = g_strdup (cdl_embedded_pg_get_cluster_dir (pg));

  /* First start: initdb, start, create the database. */
  g_assert_true (cdl_embedded_pg_start (pg, &error));
  g_assert_no_error (error);
  assert_embedded_answers (pg);

  /* A second instance on the same data dir uses the running server and
   * leaves it running when it stops. */
  second = cdl_embedded_pg_new (dir);
  g_assert_true (cdl_embedded_pg_start (second, &error));
  g_assert_no_error (error);
  assert_embedded_answers (second);
  g_assert_true (cdl_embedded_pg_stop (second, &error));
  g_assert_no_error (error);
  g_clear_object (&second);
  assert_embedded_answers (pg);

  g_assert_true (cdl_embedded_pg_stop (pg, &error));
  g_assert_no_error (error);
  g_assert_false (cdl_embedded_pg_is_running (pg));

  /* A crash leaves postmaster.pid behind, naming a process that is gone. */
  write_pid_file (cluster_dir, dead_pid ());
  g_assert_true (cdl_embedded_pg_start (pg, &error));
  g_assert_no_error (error);
  assert_embedded_answers (pg);
  g_assert_true (cdl_embedded_pg_stop (pg, &error));
  g_assert_no_error (error);

  /* ... or one whose PID now belongs to some other program. */
  write_pid_file (cluster_dir, getppid ());
  g_assert_true (cdl_embedded_pg_start (pg, &error));
  g_assert_no_error (error);
  assert_embedded_answers (pg);
  g_assert_true (cdl_embedded_pg_stop (pg, &error));
  g_assert_no_error (error);

  /* A server that cannot start says why, from its log. */
  auto_conf = g_build_filename (cluster_dir, "postgresql.auto.conf", NULL);
  g_assert_true (g_file_get_contents (auto_conf, &saved_conf, NULL, NULL));
  g_file_set_contents (auto_conf, "shared_buffers = 'plenty'\n", -1, &error);
  g_assert_no_error (error);
  g_assert_false (cdl_embedded_pg_start (pg, &error));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED);
  g_assert_nonnull (strstr (error->message, "shared_buffers"));
  g_assert_false (cdl_embedded_pg_is_running (pg));
  g_clear_error (&error);

  g_file_set_contents (auto_conf, saved_conf, -1, &error);
  g_assert_no_error (error);
  g_assert_true (cdl_embedded_pg_start (pg, &error));
  g_assert_no_error (error);
  assert_embedded_answers (pg);
  g_assert_true (cdl_embedded_pg_stop (pg, &error));
  g_assert_no_error (error);

  g_clear_object (&pg);

  rm[3] = dir;
  g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH,
                NULL, NULL, NULL, NULL, NULL, NULL);
}

static void
test_embedded_pg_root (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlEmbeddedPg) pg = NULL;

  if (geteuid () != 0)
    {
      g_test_skip ("Only meaningful as root");
      return;
    }

  pg = cdl_embedded_pg_new ("/nonexistent/cdl-test");
  g_assert_false (cdl_embedded_pg_start (pg, &error));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED);
  g_assert_nonnull (strstr (error->message, "DATABASE_URL"));
  g_assert_false (cdl_embedded_pg_is_running (pg));
}

static void
test_find_bindir (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *bindir = NULL;
  g_autofree char *initdb = NULL;

  bindir = cdl_pg_find_bindir (&error);
  g_assert_no_error (error);
  initdb = g_build_filename (bindir, "initdb", NULL);
  g_assert_true (g_file_test (initdb, G_FILE_TEST_IS_EXECUTABLE));
}

#define ADD_DB_TEST(path, func, migrate) \
  g_test_add (path, DbFixture, GINT_TO_POINTER (migrate), \
              db_fixture_set_up, func, db_fixture_tear_down)

/* LISTEN/NOTIFY */

typedef struct
{
  GPtrArray *payloads;
  guint      resyncs;
} Heard;

static void
heard_notification_cb (CdlDbListener *listener,
                       const char    *channel,
                       const char    *payload,
                       Heard         *heard)
{
  g_assert_cmpstr (channel, ==, "cdl_workers");
  g_ptr_array_add (heard->payloads, g_strdup (payload));
}

static void
heard_resync_cb (CdlDbListener *listener,
                 Heard         *heard)
{
  heard->resyncs++;
}

static gboolean
iterate_until (gboolean (*done) (gpointer), gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (!done (data) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (5000);

  return done (data);
}

static gboolean
heard_two (gpointer data)
{
  return ((Heard *)data)->payloads->len >= 2;
}

static gboolean
heard_resync (gpointer data)
{
  return ((Heard *)data)->resyncs >= 1;
}

static gboolean
listener_connected (gpointer data)
{
  return cdl_db_listener_is_connected (data);
}

static void
test_listener_notifies (DbFixture     *fixture,
                        gconstpointer  user_data)
{
  static const char * const channels[] = { "cdl_workers", NULL };
  g_autoptr(CdlDbListener) listener = cdl_db_listener_new (fixture->conninfo, channels);
  g_autoptr(CdlWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  Heard heard = { g_ptr_array_new_with_free_func (g_free), 0 };

  g_signal_connect (listener, "notification", G_CALLBACK (heard_notification_cb), &heard);
  g_signal_connect (listener, "resync", G_CALLBACK (heard_resync_cb), &heard);
  cdl_db_listener_start (listener);
  g_assert_true (iterate_until (listener_connected, listener));

  /* An insert and a visible change notify; a health-check claim does not. */
  worker = insert_worker (fixture->conn, "heard", 0);
  g_assert_true (cdl_pq_command (fixture->conn,
                                 "UPDATE workers SET health_claimed_until = now ()",
                                 0, NULL, &error));
  g_assert_true (cdl_pq_command (fixture->conn, "UPDATE workers SET priority = 4",
                                 0, NULL, &error));
  g_assert_true (iterate_until (heard_two, &heard));
  g_usleep (100 * 1000);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (heard.payloads->len, ==, 2);
  g_assert_cmpstr (heard.payloads->pdata[0], ==, cdl_worker_get_id (worker));
  g_assert_cmpstr (heard.payloads->pdata[1], ==, cdl_worker_get_id (worker));

  /* A broken connection comes back and says that it missed things. */
  g_test_expect_message ("cdl-db", G_LOG_LEVEL_WARNING, "Lost the notification connection*");
  g_assert_true (cdl_pq_command (fixture->conn,
                                 "SELECT pg_terminate_backend (pid) FROM pg_stat_activity"
                                 " WHERE query LIKE 'LISTEN%'",
                                 0, NULL, &error));
  g_assert_true (iterate_until (heard_resync, &heard));
  g_test_assert_expected_messages ();
  g_assert_true (cdl_db_listener_is_connected (listener));

  cdl_db_listener_stop (listener);
  g_assert_false (cdl_db_listener_is_connected (listener));
  g_ptr_array_unref (heard.payloads);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  /* Before any thread exists: setenv is not thread-safe. */
  g_setenv ("CDL_PG_NO_SYNC", "1", TRUE);

  test_pg = cdl_test_pg_start (&error);
  g_assert_no_error (error);

  ADD_DB_TEST ("/db/migrations/apply", test_migrations_apply, FALSE);
  ADD_DB_TEST ("/db/migrations/missing-dir", test_migrations_missing_dir, FALSE);
  ADD_DB_TEST ("/db/migrations/concurrent", test_migrations_concurrent, FALSE);
  ADD_DB_TEST ("/db/pq/errors", test_pq_errors, TRUE);
  ADD_DB_TEST ("/db/pq/values", test_pq_values, TRUE);
  ADD_DB_TEST ("/db/workers/crud", test_workers_crud, TRUE);
  ADD_DB_TEST ("/db/workers/duplicate-name", test_workers_duplicate_name, TRUE);
  ADD_DB_TEST ("/db/workers/not-found", test_workers_not_found, TRUE);
  ADD_DB_TEST ("/db/workers/claim-due", test_workers_claim_due, TRUE);
  ADD_DB_TEST ("/db/workers/record-probe", test_workers_record_probe, TRUE);
  ADD_DB_TEST ("/db/users/tokens", test_users_tokens, TRUE);
  ADD_DB_TEST ("/db/listener/notifies", test_listener_notifies, TRUE);
  ADD_DB_TEST ("/db/pool/run-async", test_pool_run_async, TRUE);
  ADD_DB_TEST ("/db/pool/bounded", test_pool_bounded, TRUE);
  ADD_DB_TEST ("/db/pool/queued-while-busy", test_pool_queued_while_busy, TRUE);
  ADD_DB_TEST ("/db/pool/broken-connection", test_pool_broken_connection, TRUE);
  g_test_add_func ("/db/pool/bad-conninfo", test_pool_bad_conninfo);
  g_test_add_func ("/db/embedded/find-bindir", test_find_bindir);
  g_test_add_func ("/db/embedded/start-stop-recover", test_embedded_pg);
  g_test_add_func ("/db/embedded/refuses-root", test_embedded_pg_root);

  ret = g_test_run ();

  cdl_test_pg_stop (test_pg);

  return ret;
}
