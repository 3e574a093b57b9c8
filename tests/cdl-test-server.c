/* cdl-test-server.c: the real programs behind the integration tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-test-server"

#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cdl-test-server.h"
#include "core/cdl-json.h"
#include "core/cdl-settings.h"
#include "core/cdl-workflow.h"
#include "db/cdl-pq.h"
#include "db/cdl-workflow-repo.h"
#include "services/cdl-auth-service.h"
#include "storage/cdl-fs-store.h"
#include "storage/cdl-storage-key.h"

const char *
cdl_test_build_path (const char *rel)
{
  static char buf[4096];
  const char *dir = g_getenv ("CDL_BUILD_DIR");

  g_assert_nonnull (dir);
  g_snprintf (buf, sizeof buf, "%s/%s", dir, rel);
  return buf;
}

/* Children must not outlive a test that aborts. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, GPOINTER_TO_INT (user_data));
}

GSubprocessLauncher *
cdl_test_launcher_new (const char *conninfo,
                       const char *tmpdir,
                       const char *debug,
                       int         death_signal)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autofree char *secrets = g_build_filename (tmpdir, "secrets.json", NULL);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent,
                                         GINT_TO_POINTER (death_signal), NULL);
  g_subprocess_launcher_setenv (launcher, "DATABASE_URL", conninfo, TRUE);
  g_subprocess_launcher_setenv (launcher, "CDL_SECRETS_FILE", secrets, TRUE);
  g_subprocess_launcher_setenv (launcher, "G_MESSAGES_DEBUG", debug, TRUE);
  return launcher;
}

char *
cdl_test_run_create_admin (GSubprocessLauncher *launcher,
                           const char * const  *argv)
{
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  guint n;

  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (proc));

  /* The token is the last line of stdout. */
  g_strchomp (out);
  lines = g_strsplit (out, "\n", -1);
  n = g_strv_length (lines);
  g_assert_cmpuint (n, >=, 1);
  return g_strdup (lines[n - 1]);
}

char *
cdl_test_create_admin (GSubprocessLauncher *launcher,
                       const char          *data_dir)
{
  const char *argv[] = { cdl_test_build_path ("src/app/comfy-datalabel-server"),
                         "--data-dir", data_dir, "--create-admin", "root", NULL };

  return cdl_test_run_create_admin (launcher, argv);
}

/* When an assertion aborts a test, the server logs would go with its
 * temporary directory; print their last lines first. Only async-signal-safe
 * calls in the handler. */
#define LOG_TAIL_BYTES (24 * 1024)
static char *server_logs[8];
static guint n_server_logs;

static void
write_str (const char *s)
{
  if (write (STDERR_FILENO, s, strlen (s)) < 0)
    return;
}

static void
dump_logs_on_abort (int sig)
{
  char buf[4096];

  for (guint i = 0; i < n_server_logs; i++)
    {
      int fd = open (server_logs[i], O_RDONLY);
      off_t end;
      ssize_t n;

      if (fd < 0)
        continue;
      write_str ("\n---- tail of ");
      write_str (server_logs[i]);
      write_str (" ----\n");
      end = lseek (fd, 0, SEEK_END);
      lseek (fd, end > LOG_TAIL_BYTES ? end - LOG_TAIL_BYTES : 0, SEEK_SET);
      while ((n = read (fd, buf, sizeof buf)) > 0)
        if (write (STDERR_FILENO, buf, n) < 0)
          break;
      close (fd);
    }
  signal (sig, SIG_DFL);
  raise (sig);
}

static void
remember_log (const char *log_path)
{
  guint slot = n_server_logs < G_N_ELEMENTS (server_logs)
               ? n_server_logs++ : G_N_ELEMENTS (server_logs) - 1;

  if (n_server_logs == 1 && server_logs[0] == NULL)
    signal (SIGABRT, dump_logs_on_abort);
  /* Kept for the handler: never freed while it may run. */
  server_logs[slot] = g_strdup (log_path);
}

GSubprocess *
cdl_test_server_spawn (GSubprocessLauncher *launcher,
                       const char * const  *argv,
                       const char          *log_path,
                       char               **base_url)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  GSubprocess *proc;
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  const char *prefix = "Listening on http://";

  remember_log (log_path);
  g_subprocess_launcher_set_flags (launcher, G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, log_path);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_subprocess_launcher_set_stdout_file_path (launcher, NULL);
  g_subprocess_launcher_set_flags (launcher, G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_assert_no_error (error);

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *log = NULL;
      const char *p;

      if (g_file_get_contents (log_path, &log, NULL, NULL)
          && (p = strstr (log, prefix)) != NULL)
        {
          const char *end = strchr (p + strlen (prefix), '/');

          g_assert_nonnull (end);
          *base_url = g_strndup (p + strlen ("Listening on "),
                                 end - p - strlen ("Listening on "));
          return proc;
        }

      if (g_subprocess_get_identifier (proc) == NULL)
        break;
      g_usleep (20 * 1000);
    }

  g_file_get_contents (log_path, &text, NULL, NULL);
  g_error ("The server did not start; its log (%s):\n%s", log_path,
           text ? text : "(empty)");
  return NULL;
}

void
cdl_test_server_stop (GSubprocess *proc)
{
  if (g_subprocess_get_identifier (proc) == NULL)
    return;

  g_subprocess_send_signal (proc, SIGTERM);
  g_subprocess_wait (proc, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
}

void
cdl_test_remove_tree (const char *dir)
{
  g_autofree char *cmd = NULL;

  if (dir == NULL || g_getenv ("CDL_TEST_KEEP") != NULL)
    return;

  cmd = g_strdup_printf ("rm -rf '%s'", dir);
  g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
}

JsonNode *
cdl_test_http_full (SoupSession  *http,
                    const char   *method,
                    const char   *url,
                    const char   *token,
                    const char   *body,
                    gsize         body_len,
                    guint        *status,
                    SoupMessage **out_msg)
{
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const char *data;

  g_assert_nonnull (msg);

  if (token != NULL)
    {
      g_autofree char *value = g_strconcat ("Bearer ", token, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (msg),
                                    "Authorization", value);
    }

  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, body_len);

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }

  reply = soup_session_send_and_read (http, msg, NULL, &error);
  g_assert_no_error (error);

  *status = soup_message_get_status (msg);
  if (out_msg != NULL)
    *out_msg = g_object_ref (msg);

  data = g_bytes_get_data (reply, &len);
  return len > 0 ? cdl_json_parse (data, len, NULL) : NULL;
}

JsonNode *
cdl_test_http (SoupSession *http,
               const char  *method,
               const char  *url,
               const char  *token,
               const char  *body,
               guint       *status)
{
  return cdl_test_http_full (http, method, url, token, body, body ? strlen (body) : 0,
                             status, NULL);
}

JsonNode *
cdl_test_expect_ok (JsonNode *root,
                    guint     status,
                    guint     want)
{
  JsonObject *obj;

  g_assert_nonnull (root);
  g_assert_cmpuint (status, ==, want);
  obj = json_node_get_object (root);
  g_assert_true (json_object_get_boolean_member (obj, "success"));
  g_assert_true (json_object_get_null_member (obj, "error"));
  return json_object_get_member (obj, "data");
}

void
cdl_test_expect_error (JsonNode   *root,
                       guint       status,
                       guint       want,
                       const char *needle)
{
  JsonObject *obj;
  const char *message;

  g_assert_nonnull (root);
  g_assert_cmpuint (status, ==, want);
  obj = json_node_get_object (root);
  g_assert_false (json_object_get_boolean_member (obj, "success"));
  g_assert_true (json_object_get_null_member (obj, "data"));
  message = json_object_get_string_member (obj, "error");
  g_assert_nonnull (message);
  if (needle != NULL && strstr (message, needle) == NULL)
    g_error ("expected the error to mention \"%s\", got: %s", needle, message);
}

PGresult *
cdl_test_sql (const char         *conninfo,
              const char         *query,
              int                 n_params,
              const char * const *params)
{
  PGconn *conn = PQconnectdb (conninfo);
  g_autoptr(GError) error = NULL;
  PGresult *res;

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  res = cdl_pq_exec (conn, query, n_params, params, &error);
  g_assert_no_error (error);
  PQfinish (conn);
  return res;
}

gint64
cdl_test_sql_int (const char *conninfo,
                  const char *query,
                  const char *param)
{
  const char *params[1] = { param };
  g_autoptr(PGresult) res = cdl_test_sql (conninfo, query, param ? 1 : 0, params);

  return cdl_pq_get_int64 (res, 0, 0);
}

/* A cluster of servers and simulated workers ------------------------------- */

void
cdl_test_proc_free (gpointer data)
{
  CdlTestProc *p = data;

  if (p->proc != NULL && g_subprocess_get_identifier (p->proc) != NULL)
    {
      g_subprocess_force_exit (p->proc);
      g_subprocess_wait (p->proc, NULL, NULL);
    }
  g_clear_object (&p->proc);
  g_free (p->url);
  g_free (p);
}

static GSubprocessLauncher *
cluster_launcher (CdlTestCluster *f)
{
  return cdl_test_launcher_new (f->conninfo, f->tmpdir, "cdl-engine", SIGKILL);
}

void
cdl_test_cluster_set_up (CdlTestCluster *f,
                         CdlTestPg      *pg,
                         const char     *tmp_template)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;

  f->conninfo = cdl_test_pg_new_database (pg, &error);
  g_assert_no_error (error);
  f->tmpdir = g_dir_make_tmp (tmp_template, &error);
  g_assert_no_error (error);
  f->data_dir = g_build_filename (f->tmpdir, "data", NULL);
  f->storage_dir = g_build_filename (f->tmpdir, "storage", NULL);
  f->servers = g_ptr_array_new_with_free_func (cdl_test_proc_free);
  f->sims = g_ptr_array_new_with_free_func (cdl_test_proc_free);
  f->http = soup_session_new_with_options ("timeout", 60, NULL);

  launcher = cluster_launcher (f);
  f->admin_token = cdl_test_create_admin (launcher, f->data_dir);
}

void
cdl_test_cluster_tear_down (CdlTestCluster *f)
{
  /* A clean stop: SIGTERM must end every server with status 0. */
  for (guint i = 0; i < f->servers->len; i++)
    {
      CdlTestProc *p = g_ptr_array_index (f->servers, i);

      cdl_test_server_stop (p->proc);
    }
  g_clear_pointer (&f->servers, g_ptr_array_unref);
  g_clear_pointer (&f->sims, g_ptr_array_unref);
  g_clear_object (&f->http);

  cdl_test_remove_tree (f->tmpdir);

  g_free (f->tmpdir);
  g_free (f->data_dir);
  g_free (f->storage_dir);
  g_free (f->conninfo);
  g_free (f->admin_token);
}

CdlTestProc *
cdl_test_start_server (CdlTestCluster *f)
{
  g_autoptr(GSubprocessLauncher) launcher = cluster_launcher (f);
  g_autofree char *log = g_strdup_printf ("%s/server-%u.log", f->tmpdir, f->n_logs++);
  const char *argv[] = { cdl_test_build_path ("src/app/comfy-datalabel-server"),
                         "--port", "0", "--data-dir", f->data_dir,
                         "--storage-dir", f->storage_dir,
                         "--health-interval", "1", NULL };
  CdlTestProc *p = g_new0 (CdlTestProc, 1);

  p->proc = cdl_test_server_spawn (launcher, argv, log, &p->url);
  g_ptr_array_add (f->servers, p);
  return p;
}

CdlTestProc *
cdl_test_start_sim (CdlTestCluster     *f,
                    const char * const *extra)
{
  g_autoptr(GSubprocessLauncher) launcher = cluster_launcher (f);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *line = NULL;
  const char *s;
  CdlTestProc *p = g_new0 (CdlTestProc, 1);

  g_ptr_array_add (argv, (gpointer) cdl_test_build_path ("src/app/cdl-simworker"));
  g_ptr_array_add (argv, (gpointer) "--port");
  g_ptr_array_add (argv, (gpointer) "0");
  g_ptr_array_add (argv, (gpointer) "--ms-per-image");
  g_ptr_array_add (argv, (gpointer) "20");
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);

  p->proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata,
                                          &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p->proc));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  s = strstr (line, "http://");
  g_assert_nonnull (s);
  p->url = g_strdup (s);
  g_ptr_array_add (f->sims, p);
  return p;
}

JsonNode *
cdl_test_call (CdlTestCluster *f,
               CdlTestProc    *server,
               const char     *method,
               const char     *path,
               const char     *body,
               guint           want)
{
  g_autofree char *url = g_strconcat (server->url, path, NULL);
  JsonNode *root;
  guint status;

  root = cdl_test_http (f->http, method, url, f->admin_token, body, &status);
  g_assert_nonnull (root);
  if (status != want)
    g_error ("%s %s: expected %u, got %u: %s", method, path, want, status,
             json_object_get_string_member_with_default (json_node_get_object (root),
                                                         "error", "(none)"));
  return root;
}

JsonObject *
cdl_test_data_of (JsonNode *root)
{
  return json_object_get_object_member (json_node_get_object (root), "data");
}

/* Workers, workflows and tasks --------------------------------------------- */

char *
cdl_test_add_worker (CdlTestCluster *f,
                     CdlTestProc    *server,
                     CdlTestProc    *sim,
                     const char     *name,
                     int             max_concurrent)
{
  g_autofree char *body = g_strdup_printf ("{\"name\": \"%s\", \"base_url\": \"%s\","
                                           " \"priority\": 0, \"max_concurrent_jobs\": %d}",
                                           name, sim->url, max_concurrent);
  g_autoptr(JsonNode) root = cdl_test_call (f, server, "POST", "/api/workers", body, 201);
  char *id = g_strdup (json_object_get_string_member (cdl_test_data_of (root), "id"));
  g_autofree char *test = g_strconcat ("/api/workers/", id, "/test", NULL);
  g_autoptr(JsonNode) probe = cdl_test_call (f, server, "POST", test, NULL, 200);

  g_assert_true (json_object_get_boolean_member (cdl_test_data_of (probe), "healthy"));
  return id;
}

char *
cdl_test_add_workflow (CdlTestCluster *f,
                       const char     *file)
{
  g_autofree char *path = g_build_filename (g_getenv ("CDL_TEST_DATA"), "workflows", file, NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlSettings) settings = cdl_settings_new ();
  g_autoptr(CdlWorkflowReport) report = NULL;
  g_autoptr(CdlWorkflow) workflow = NULL;
  PGconn *conn;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  report = cdl_workflow_validate (text, -1, settings, NULL, NULL);
  g_assert_true (report->valid);

  conn = PQconnectdb (f->conninfo);
  workflow = cdl_workflow_repo_insert (conn, file, NULL, text, report, NULL, &error);
  g_assert_no_error (error);
  PQfinish (conn);
  return g_strdup (cdl_workflow_get_id (workflow));
}

char *
cdl_test_add_frozen_task (CdlTestCluster *f,
                          CdlTestProc    *server,
                          int             k,
                          int             n)
{
  g_autofree char *workflow = cdl_test_add_workflow (f, "sd15.json");
  g_autoptr(GString) pool = g_string_new (NULL);
  g_autofree char *body = NULL;
  g_autofree char *freeze = NULL;
  g_autoptr(JsonNode) pool_root = NULL;
  g_autoptr(JsonNode) task_root = NULL;
  g_autoptr(JsonNode) frozen = NULL;
  char *id;

  g_string_append_printf (pool, "{\"name\": \"pool_%u\", \"mode\": \"no_replacement\","
                          " \"items\": [", g_random_int ());
  for (int i = 0; i < k; i++)
    g_string_append_printf (pool, "%s\"a heron number %d\"", i ? ", " : "", i);
  g_string_append (pool, "]}");
  pool_root = cdl_test_call (f, server, "POST", "/api/variable-pools", pool->str, 201);
  body = g_strdup_printf ("{\"workflow_id\": \"%s\", \"variable_pool_ids\": [\"%s\"],"
                          " \"target_prompts\": %d, \"seeds_per_prompt\": %d}", workflow,
                          json_object_get_string_member (cdl_test_data_of (pool_root), "id"),
                          k, n);
  task_root = cdl_test_call (f, server, "POST", "/api/tasks", body, 201);
  id = g_strdup (json_object_get_string_member (cdl_test_data_of (task_root), "id"));
  freeze = g_strconcat ("/api/tasks/", id, "/freeze", NULL);
  frozen = cdl_test_call (f, server, "POST", freeze, NULL, 200);

  return id;
}

JsonNode *
cdl_test_task_call (CdlTestCluster *f,
                    CdlTestProc    *server,
                    const char     *method,
                    const char     *task_id,
                    const char     *action,
                    guint           want)
{
  g_autofree char *path = g_strconcat ("/api/tasks/", task_id, "/", action, NULL);

  return cdl_test_call (f, server, method, path, NULL, want);
}

gint64
cdl_test_progress_done (CdlTestCluster *f,
                        CdlTestProc    *server,
                        const char     *task_id)
{
  g_autoptr(JsonNode) root = cdl_test_task_call (f, server, "GET", task_id, "progress", 200);

  return json_object_get_int_member (cdl_test_data_of (root), "done");
}

/* Polls the progress until the task leaves RUNNING; returns its state. */
char *
cdl_test_wait_end (CdlTestCluster *f,
                   CdlTestProc    *server,
                   const char     *task_id,
                   guint           seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(JsonNode) root = cdl_test_task_call (f, server, "GET", task_id, "progress", 200);
      const char *state = json_object_get_string_member (cdl_test_data_of (root), "state");

      if (g_strcmp0 (state, "RUNNING") != 0)
        return g_strdup (state);
      g_usleep (200 * 1000);
    }

  g_error ("Task %s still RUNNING after %u s (done %" G_GINT64_FORMAT ")", task_id, seconds,
           cdl_test_progress_done (f, server, task_id));
  return NULL;
}

JsonObject *
cdl_test_sim_state (CdlTestCluster *f,
                    CdlTestProc    *sim)
{
  g_autofree char *url = g_strconcat (sim->url, "/_sim/state", NULL);
  g_autoptr(JsonNode) root = NULL;
  guint status;

  root = cdl_test_http (f->http, "GET", url, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  return json_object_ref (json_node_get_object (root));
}

void
cdl_test_sim_config (CdlTestCluster *f,
                     CdlTestProc    *sim,
                     const char     *body)
{
  g_autofree char *url = g_strconcat (sim->url, "/_sim/config", NULL);
  g_autoptr(JsonNode) root = NULL;
  guint status;

  root = cdl_test_http (f->http, "POST", url, NULL, body, &status);
  g_assert_cmpuint (status, ==, 200);
}

/* One server and its REST API ---------------------------------------------- */

GSubprocessLauncher *
cdl_test_api_launcher (CdlTestApi *f)
{
  GSubprocessLauncher *launcher;

  launcher = cdl_test_launcher_new (f->conninfo, f->tmpdir, "all", SIGTERM);
  if (f->storage_dir != NULL)
    {
      g_subprocess_launcher_setenv (launcher, "CDL_STORAGE_DIR", f->storage_dir, TRUE);
      g_subprocess_launcher_unsetenv (launcher, "CDL_MEDIA_KEY");
      g_subprocess_launcher_unsetenv (launcher, "CDL_MEDIA_BASE_URL");
      g_subprocess_launcher_unsetenv (launcher, "CDL_EXPORT_URI_BASE");
    }
  return launcher;
}

void
cdl_test_api_set_up (CdlTestApi *f,
                     CdlTestPg  *pg,
                     const char *tmp_template,
                     gboolean    with_store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  const char *argv[] = { cdl_test_build_path ("src/app/comfy-datalabel-server"),
                         "--port", "0", "--data-dir", NULL, NULL };

  f->conninfo = cdl_test_pg_new_database (pg, &error);
  g_assert_no_error (error);
  f->tmpdir = g_dir_make_tmp (tmp_template, &error);
  g_assert_no_error (error);
  f->log_path = g_build_filename (f->tmpdir, "server.log", NULL);
  f->data_dir = g_build_filename (f->tmpdir, "data", NULL);
  f->http = soup_session_new_with_options ("timeout", 60, NULL);

  if (with_store)
    {
      f->storage_dir = g_build_filename (f->tmpdir, "store", NULL);
      f->store = CDL_OBJECT_STORE (cdl_fs_store_new (f->storage_dir, &error));
      g_assert_no_error (error);
    }

  launcher = cdl_test_api_launcher (f);
  f->admin_token = cdl_test_create_admin (launcher, f->data_dir);
  argv[4] = f->data_dir;
  f->server = cdl_test_server_spawn (launcher, argv, f->log_path, &f->base_url);
}

void
cdl_test_api_tear_down (CdlTestApi *f)
{
  if (f->server != NULL)
    cdl_test_server_stop (f->server);
  g_clear_object (&f->server);
  g_clear_object (&f->http);
  g_clear_object (&f->store);

  cdl_test_remove_tree (f->tmpdir);

  g_free (f->tmpdir);
  g_free (f->log_path);
  g_free (f->data_dir);
  g_free (f->storage_dir);
  g_free (f->conninfo);
  g_free (f->base_url);
  g_free (f->admin_token);
}

JsonNode *
cdl_test_api (CdlTestApi *f,
              const char *method,
              const char *path,
              const char *token,
              const char *body,
              guint      *status)
{
  g_autofree char *url = g_strconcat (f->base_url, path, NULL);

  return cdl_test_http (f->http, method, url, token, body, status);
}

JsonNode *
cdl_test_api_ok (CdlTestApi *f,
                 const char *method,
                 const char *path,
                 const char *body,
                 guint       want)
{
  return cdl_test_api_ok_as (f, f->admin_token, method, path, body, want);
}

JsonNode *
cdl_test_api_ok_as (CdlTestApi *f,
                    const char *token,
                    const char *method,
                    const char *path,
                    const char *body,
                    guint       want)
{
  g_autoptr(JsonNode) root = NULL;
  JsonObject *obj;
  guint status;

  root = cdl_test_api (f, method, path, token, body, &status);
  g_assert_nonnull (root);
  obj = json_node_get_object (root);
  if (status != want)
    g_error ("%s %s: expected %u, got %u: %s", method, path, want, status,
             json_object_get_string_member_with_default (obj, "error", "(none)"));
  g_assert_true (json_object_get_boolean_member (obj, "success"));
  return json_node_copy (json_object_get_member (obj, "data"));
}

void
cdl_test_api_error (CdlTestApi *f,
                    const char *method,
                    const char *path,
                    const char *token,
                    const char *body,
                    guint       want,
                    const char *needle)
{
  g_autoptr(JsonNode) root = NULL;
  JsonObject *obj;
  const char *message;
  guint status;

  root = cdl_test_api (f, method, path, token, body, &status);
  g_assert_nonnull (root);
  obj = json_node_get_object (root);
  message = json_object_get_string_member_with_default (obj, "error", NULL);
  if (status != want)
    g_error ("%s %s: expected %u, got %u: %s", method, path, want, status,
             message ? message : "(none)");
  g_assert_false (json_object_get_boolean_member (obj, "success"));
  g_assert_true (json_object_get_null_member (obj, "data"));
  g_assert_nonnull (message);
  if (needle != NULL && strstr (message, needle) == NULL)
    g_error ("%s %s: expected the error to mention \"%s\", got: %s", method, path,
             needle, message);
}

PGconn *
cdl_test_api_connect (CdlTestApi *f)
{
  PGconn *conn = PQconnectdb (f->conninfo);

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  return conn;
}

char *
cdl_test_api_token_for_role (CdlTestApi *f,
                             const char *name,
                             CdlRole     role)
{
  g_autoptr(CdlDb) db = cdl_db_new (f->conninfo, 1);
  g_autoptr(CdlAuthService) auth = cdl_auth_service_new (db);
  g_autoptr(GError) error = NULL;
  char *token;

  token = cdl_auth_service_issue_token_sync (auth, name, role, "test", &error);
  g_assert_no_error (error);
  return token;
}

/* A stored workflow version whose positive prompt is @positive. */
char *
cdl_test_api_insert_workflow (CdlTestApi *f,
                              const char *name,
                              const char *positive,
                              gboolean    valid)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) nodes = NULL;
  g_autoptr(PGresult) res = NULL;
  g_autofree char *nodes_text = NULL;
  const char *raw = "{\"3\": {\"class_type\": \"KSampler\", \"inputs\": {\"seed\": 1}},"
                    " \"6\": {\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\": \"x\"}}}";
  const char *problems = valid ? "[]"
    : "[{\"code\": \"forbidden_node\", \"node_id\": \"9\","
      " \"message\": \"Node 9 (ControlNetApply) is forbidden by the admin\"}]";

  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "node_id");
  json_builder_add_string_value (b, "6");
  json_builder_set_member_name (b, "class_type");
  json_builder_add_string_value (b, "CLIPTextEncode");
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, "positive");
  json_builder_set_member_name (b, "input");
  json_builder_add_string_value (b, "text");
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, positive);
  json_builder_end_object (b);
  json_builder_end_array (b);
  nodes = json_builder_get_root (b);
  nodes_text = cdl_json_to_string (nodes, FALSE);

  {
    const char *params[5] = { name, raw, valid ? "true" : "false", nodes_text, problems };

    res = cdl_test_sql (f->conninfo,
                        "INSERT INTO workflows (name, version, raw_text, raw_definition,"
                        " valid, prompt_nodes, seed_nodes, problems, batch_size, width,"
                        " height, model)"
                        " VALUES ($1, 1, $2::text, $2::jsonb, $3::boolean, $4::jsonb,"
                        " '[{\"node_id\": \"3\", \"class_type\": \"KSampler\","
                        " \"input\": \"seed\"}]',"
                        " $5::jsonb, 1, 512, 512, 'sd15.safetensors') RETURNING id",
                        5, params);
  }
  return g_strdup (cdl_pq_get_string (res, 0, 0));
}

char *
cdl_test_api_create_pool (CdlTestApi *f,
                          const char *name,
                          const char *mode,
                          const char *prefix,
                          guint       n)
{
  g_autoptr(GString) body = g_string_new (NULL);
  g_autoptr(JsonNode) data = NULL;

  g_string_append_printf (body, "{\"name\": \"%s\", \"mode\": \"%s\", \"items\": [",
                          name, mode);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (body, "%s\"%s %u\"", i > 0 ? ", " : "", prefix, i);
  g_string_append (body, "]}");

  data = cdl_test_api_ok (f, "POST", "/api/variable-pools", body->str, 201);
  return g_strdup (json_object_get_string_member (json_node_get_object (data), "id"));
}

char *
cdl_test_task_body (const char *workflow_id,
                    const char *pool_a,
                    const char *pool_b,
                    int         k,
                    int         n,
                    const char *extra)
{
  g_autoptr(GString) pools = g_string_new (NULL);

  if (pool_a != NULL)
    g_string_append_printf (pools, "\"%s\"", pool_a);
  if (pool_b != NULL)
    g_string_append_printf (pools, ", \"%s\"", pool_b);

  return g_strdup_printf ("{\"workflow_id\": \"%s\", \"variable_pool_ids\": [%s],"
                          " \"target_prompts\": %d, \"seeds_per_prompt\": %d%s%s}",
                          workflow_id, pools->str, k, n, extra ? ", " : "",
                          extra ? extra : "");
}

char *
cdl_test_api_seed_task (CdlTestApi *f,
                        const char *name,
                        int         k,
                        int         n,
                        int         complete,
                        gboolean    files)
{
  g_autofree char *template = g_strdup_printf ("a {%s}", name);
  g_autofree char *workflow = cdl_test_api_insert_workflow (f, name, template, TRUE);
  g_autofree char *k_text = g_strdup_printf ("%d", k);
  g_autofree char *n_text = g_strdup_printf ("%d", n);
  const char *params[4] = { name, workflow, k_text, n_text };
  g_autoptr(PGresult) task = NULL;
  g_autoptr(PGresult) seeds = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  char *task_id;

  task = cdl_test_sql (f->conninfo,
                       "WITH t AS (INSERT INTO tasks (name, workflow_id, target_prompts,"
                       "             seeds_per_prompt, rng_seed)"
                       "           VALUES ($1, $2, $3::int, $4::int, 1) RETURNING id),"
                       " p AS (INSERT INTO prompts (task_id, position, text)"
                       "       SELECT t.id, g, $1 || ' ' || g"
                       "       FROM t, generate_series (0, $3::int - 1) g"
                       "       RETURNING id, task_id, position)"
                       " INSERT INTO seeds (task_id, prompt_id, position, seed_value)"
                       " SELECT p.task_id, p.id, s, 1000 * p.position + s"
                       " FROM p, generate_series (0, $4::int - 1) s RETURNING task_id",
                       4, params);
  task_id = g_strdup (cdl_pq_get_string (task, 0, 0));
  params[0] = task_id;
  PQclear (cdl_test_sql (f->conninfo,
                         "UPDATE tasks SET state = 'DONE', frozen_at = now (),"
                         " frozen_snapshot = '{}' WHERE id = $1",
                         1, params));

  seeds = cdl_test_sql (f->conninfo,
                        "SELECT s.prompt_id, s.id, s.seed_value, s.position, p.position"
                        " FROM seeds s JOIN prompts p ON p.id = s.prompt_id"
                        " WHERE s.task_id = $1 ORDER BY p.position, s.position",
                        1, params);
  for (int i = 0; i < PQntuples (seeds); i++)
    {
      const char *prompt_id = cdl_pq_get_string (seeds, i, 0);
      gint64 seed = cdl_pq_get_int64 (seeds, i, 2);
      int index = cdl_pq_get_int (seeds, i, 3);
      int prompt = cdl_pq_get_int (seeds, i, 4);
      g_autoptr(GError) error = NULL;
      g_autofree char *key = NULL;
      g_autofree char *thumb = NULL;
      g_autofree char *checksum = NULL;
      const char *row[7];

      if (prompt > complete || (prompt == complete && index > 0))
        continue;

      key = cdl_storage_key_for_image (task_id, prompt_id, seed, index, now, &error);
      g_assert_no_error (error);
      thumb = cdl_storage_key_thumbnail_for_image (key, &error);
      g_assert_no_error (error);
      checksum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
      if (files)
        {
          g_autoptr(GBytes) bytes = g_bytes_new (key, strlen (key));
          g_autoptr(CdlObjectInfo) info = NULL;
          g_autoptr(CdlObjectInfo) thumb_info = NULL;

          info = cdl_object_store_put_bytes (f->store, key, bytes, NULL, &error);
          g_assert_no_error (error);
          thumb_info = cdl_object_store_put_bytes (f->store, thumb, bytes, NULL, &error);
          g_assert_no_error (error);
        }

      row[0] = task_id;
      row[1] = prompt_id;
      row[2] = cdl_pq_get_string (seeds, i, 1);
      row[3] = cdl_pq_get_string (seeds, i, 3);
      row[4] = key;
      row[5] = thumb;
      row[6] = checksum;
      PQclear (cdl_test_sql (f->conninfo,
                             "INSERT INTO generations (task_id, prompt_id, seed_id,"
                             "  seed_value, batch_index, state, image_uri, thumb_uri, checksum)"
                             " SELECT $1, $2, id, seed_value, $4::int, 'done', $5, $6, $7"
                             " FROM seeds WHERE id = $3",
                             7, row));
    }

  return task_id;
}
