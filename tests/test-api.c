/* test-api.c: the REST API of comfy-datalabel-server, over real HTTP
 *
 * Every test runs the real server binary against a real PostgreSQL
 * database and real cdl-simworker processes; nothing is mocked.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdl-test-server.h"
#include "core/cdl-auth.h"
#include "core/cdl-json.h"
#include "db/cdl-pq.h"
#include "services/cdl-auth-service.h"
#include "services/cdl-service-error.h"
#include "services/cdl-worker-service.h"

/* Short enough that the flap tests take seconds, long enough that a pass
 * finishes before the next one on a loaded machine. */
#define HEALTH_INTERVAL_S 0.4
#define WAIT_MS 15000

static CdlTestPg *pg;

typedef struct
{
  GSubprocess *proc;
  guint        port;
  char        *url;
} Sim;

typedef struct
{
  char        *conninfo;
  char        *tmpdir;
  char        *log_path;
  GSubprocess *server;
  char        *base_url;
  char        *admin_token;
  SoupSession *session;
  GPtrArray   *sims;
} Fixture;

/* Servers and workers must not outlive a test that aborts. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocessLauncher *
new_launcher (void)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  return launcher;
}

static void
sim_free (gpointer data)
{
  Sim *sim = data;

  if (sim->proc != NULL)
    {
      g_subprocess_force_exit (sim->proc);
      g_subprocess_wait (sim->proc, NULL, NULL);
    }
  g_clear_object (&sim->proc);
  g_free (sim->url);
  g_free (sim);
}

static Sim *
sim_spawn (Fixture    *f,
           const char *api_key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  Sim *sim = g_new0 (Sim, 1);
  const char *prefix = "listening on http://127.0.0.1:";
  const char *p;

  g_autoptr(GSubprocessLauncher) launcher = new_launcher ();
  const char *argv[] = { cdl_test_build_path ("src/app/cdl-simworker"), "--port", "0",
                         api_key ? "--api-key" : NULL, api_key, NULL };

  sim->proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);

  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (sim->proc));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);

  p = strstr (line, prefix);
  g_assert_nonnull (p);
  sim->port = (guint)g_ascii_strtoull (p + strlen (prefix), NULL, 10);
  g_assert_cmpuint (sim->port, >, 0);
  sim->url = g_strdup_printf ("http://127.0.0.1:%u", sim->port);

  g_ptr_array_add (f->sims, sim);
  return sim;
}

static JsonNode *
api (Fixture    *f,
     const char *method,
     const char *path,
     const char *token,
     const char *body,
     guint      *status)
{
  g_autofree char *url = g_strconcat (f->base_url, path, NULL);

  return cdl_test_http (f->session, method, url, token, body, status);
}

static char *
read_log (Fixture *f)
{
  g_autofree char *text = NULL;

  g_file_get_contents (f->log_path, &text, NULL, NULL);
  return g_steal_pointer (&text);
}

static GSubprocessLauncher *
server_launcher (Fixture *f)
{
  return cdl_test_launcher_new (f->conninfo, f->tmpdir, "all", SIGTERM);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *interval = g_strdup_printf ("%.2f", HEALTH_INTERVAL_S);

  f->conninfo = cdl_test_pg_new_database (pg, &error);
  g_assert_no_error (error);
  f->tmpdir = g_dir_make_tmp ("cdl-api-XXXXXX", &error);
  g_assert_no_error (error);
  f->log_path = g_build_filename (f->tmpdir, "server.log", NULL);
  data_dir = g_build_filename (f->tmpdir, "data", NULL);
  f->sims = g_ptr_array_new_with_free_func (sim_free);
  f->session = soup_session_new_with_options ("timeout", 20, NULL);

  launcher = server_launcher (f);
  {
    const char *argv[] = { cdl_test_build_path ("src/app/comfy-datalabel-server"),
                           "--data-dir", data_dir, "--create-admin", "root", NULL };
    f->admin_token = cdl_test_run_create_admin (launcher, argv);
    g_assert_cmpuint (strlen (f->admin_token), ==, 43);
  }
  {
    const char *argv[] = { cdl_test_build_path ("src/app/comfy-datalabel-server"),
                           "--port", "0", "--data-dir", data_dir,
                           "--health-interval", interval, NULL };
    f->server = cdl_test_server_spawn (launcher, argv, f->log_path, &f->base_url);
  }
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->server != NULL)
    {
      g_subprocess_send_signal (f->server, SIGTERM);
      g_subprocess_wait (f->server, NULL, NULL);
      /* A clean SIGTERM exit is part of the contract. */
      g_assert_true (g_subprocess_get_if_exited (f->server));
      g_assert_cmpint (g_subprocess_get_exit_status (f->server), ==, 0);
    }
  g_clear_object (&f->server);
  g_clear_pointer (&f->sims, g_ptr_array_unref);
  g_clear_object (&f->session);

  if (f->tmpdir != NULL)
    {
      g_autoptr(GFile) dir = g_file_new_for_path (f->tmpdir);
      g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->tmpdir);
      g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
    }

  g_free (f->tmpdir);
  g_free (f->log_path);
  g_free (f->conninfo);
  g_free (f->base_url);
  g_free (f->admin_token);
}

/* A token of another role, issued through the service on the same
 * database. */
static char *
issue_token (Fixture    *f,
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

static char *
register_worker (Fixture    *f,
                 const char *name,
                 const char *url,
                 const char *api_key)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  JsonNode *data;
  guint status;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "base_url");
  json_builder_add_string_value (b, url);
  json_builder_set_member_name (b, "priority");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "max_concurrent_jobs");
  json_builder_add_int_value (b, 2);
  if (api_key != NULL)
    {
      json_builder_set_member_name (b, "api_key");
      json_builder_add_string_value (b, api_key);
    }
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  text = cdl_json_to_string (body, FALSE);

  root = api (f, "POST", "/api/workers", f->admin_token, text, &status);
  data = cdl_test_expect_ok (root, status, 201);
  return g_strdup (json_object_get_string_member (json_node_get_object (data), "id"));
}

/* Polls GET /api/workers/{id} until @pred holds; returns the worker. */
typedef gboolean (*WorkerPred) (JsonObject *worker, gconstpointer arg);

static JsonNode *
wait_for_worker (Fixture       *f,
                 const char    *id,
                 WorkerPred     pred,
                 gconstpointer  arg,
                 const char    *what)
{
  g_autofree char *path = g_strconcat ("/api/workers/", id, NULL);
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(JsonNode) root = NULL;
      JsonNode *data;
      guint status;

      root = api (f, "GET", path, f->admin_token, NULL, &status);
      data = cdl_test_expect_ok (root, status, 200);
      if (pred (json_node_get_object (data), arg))
        return json_node_copy (data);
      g_usleep (50 * 1000);
    }

  g_error ("worker %s never became %s", id, what);
  return NULL;
}

static gboolean
is_status (JsonObject    *w,
           gconstpointer  arg)
{
  return g_strcmp0 (json_object_get_string_member (w, "status"), arg) == 0;
}

static gboolean
has_failures (JsonObject    *w,
              gconstpointer  arg)
{
  return json_object_get_int_member (w, "consecutive_failures") == GPOINTER_TO_INT (arg);
}

static gboolean
has_queue_len (JsonObject    *w,
               gconstpointer  arg)
{
  return json_object_get_int_member (w, "current_queue_len") == GPOINTER_TO_INT (arg);
}

static void
sim_post (Fixture    *f,
          Sim        *sim,
          const char *path,
          const char *body)
{
  g_autofree char *url = g_strconcat (sim->url, path, NULL);
  g_autoptr(JsonNode) root = NULL;
  guint status;

  root = cdl_test_http_full (f->session, "POST", url, NULL, body, strlen (body), &status, NULL);
  g_assert_cmpuint (status, ==, 200);
}

/* Tests */

static void
test_envelope (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *url = g_strconcat (f->base_url, "/api/workers", NULL);
  JsonNode *list;
  guint status;

  root = cdl_test_http_full (f->session, "GET", url, f->admin_token, NULL, 0, &status, &msg);
  list = cdl_test_expect_ok (root, status, 200);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (list));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (list)), ==, 0);
  g_assert_cmpstr (soup_message_headers_get_content_type (
                     soup_message_get_response_headers (msg), NULL), ==, "application/json");
}

static void
test_auth (Fixture       *f,
           gconstpointer  data)
{
  g_autofree char *annotator = issue_token (f, "anna", CDL_ROLE_ANNOTATOR);
  g_autofree char *operator = issue_token (f, "otto", CDL_ROLE_OPERATOR);
  g_autofree char *hash = cdl_auth_token_hash (f->admin_token);
  const char *body = "{\"name\": \"w\", \"base_url\": \"http://127.0.0.1:9\"}";
  JsonNode *root;
  guint status;

  root = api (f, "GET", "/api/workers", NULL, NULL, &status);
  cdl_test_expect_error (root, status, 401, "Bearer");
  json_node_unref (root);

  root = api (f, "GET", "/api/workers", "not-a-token", NULL, &status);
  cdl_test_expect_error (root, status, 401, "unknown");
  json_node_unref (root);

  root = api (f, "GET", "/api/workers", annotator, NULL, &status);
  cdl_test_expect_error (root, status, 403, "operator");
  json_node_unref (root);

  root = api (f, "GET", "/api/workers", operator, NULL, &status);
  cdl_test_expect_ok (root, status, 200);
  json_node_unref (root);

  root = api (f, "POST", "/api/workers", operator, body, &status);
  cdl_test_expect_error (root, status, 403, "admin");
  json_node_unref (root);

  root = api (f, "POST", "/api/workers", f->admin_token, body, &status);
  cdl_test_expect_ok (root, status, 201);
  json_node_unref (root);

  /* Only the hash of a token is stored. */
  {
    const char *plain[] = { f->admin_token };
    const char *hashed[] = { hash };
    g_autoptr(PGresult) a = cdl_test_sql (f->conninfo,
                                          "SELECT count(*) FROM api_tokens WHERE token_hash = $1",
                                          1, plain);
    g_autoptr(PGresult) b = cdl_test_sql (f->conninfo,
                                          "SELECT count(*) FROM api_tokens WHERE token_hash = $1",
                                          1, hashed);
    g_assert_cmpint (cdl_pq_get_int (a, 0, 0), ==, 0);
    g_assert_cmpint (cdl_pq_get_int (b, 0, 0), ==, 1);
  }
}

static void
test_bad_input (Fixture       *f,
                gconstpointer  data)
{
  static const struct
  {
    const char *method, *path, *body;
    guint status;
    const char *needle;
  } cases[] = {
    { "POST", "/api/workers", "{\"name\": ", 400, "not valid JSON" },
    { "POST", "/api/workers", "[]", 400, "JSON object" },
    { "POST", "/api/workers", "{\"name\": \"w\", \"base_url\": \"http://x\", \"colour\": 1}",
      400, "colour" },
    { "POST", "/api/workers", "{\"name\": \"w\", \"base_url\": \"gopher://x\"}", 400, "base_url" },
    { "POST", "/api/workers",
      "{\"name\": \"w\", \"base_url\": \"http://x\", \"max_concurrent_jobs\": -2}",
      400, "max_concurrent_jobs" },
    { "POST", "/api/workers", "{\"base_url\": \"http://x\"}", 400, "name" },
    { "POST", "/api/workers", NULL, 400, "JSON object" },
    { "PATCH", "/api/workers/3f1d8c36-0d7e-4a37-9a2e-7d9f7c1c0a11", "{\"enabled\": false}",
      404, NULL },
    { "PATCH", "/api/workers/not-a-uuid", "{\"enabled\": false}", 404, NULL },
    { "GET", "/api/workers/not-a-uuid", NULL, 404, NULL },
    { "POST", "/api/workers/3f1d8c36-0d7e-4a37-9a2e-7d9f7c1c0a11/test", NULL, 404, NULL },
    { "GET", "/api/nothing-here", NULL, 404, "route" },
    { "DELETE", "/api/workers", NULL, 405, "method" },
  };
  g_autofree char *big = NULL;
  g_autofree char *id = NULL;
  g_autofree char *patch_path = NULL;
  JsonNode *root;
  guint status;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s %s %s", cases[i].method, cases[i].path,
                      cases[i].body ? cases[i].body : "");
      root = api (f, cases[i].method, cases[i].path, f->admin_token, cases[i].body, &status);
      cdl_test_expect_error (root, status, cases[i].status, cases[i].needle);
      json_node_unref (root);
    }

  /* A body over the limit is refused from its headers, before it is read. */
  big = g_malloc (9 * 1024 * 1024 + 1);
  memset (big, ' ', 9 * 1024 * 1024);
  big[0] = '{';
  big[9 * 1024 * 1024 - 1] = '}';
  big[9 * 1024 * 1024] = '\0';
  root = api (f, "POST", "/api/workers", f->admin_token, big, &status);
  cdl_test_expect_error (root, status, 413, "larger");
  json_node_unref (root);

  /* Duplicate names and bad patches name what is wrong. */
  id = register_worker (f, "dup", "http://127.0.0.1:9", NULL);
  root = api (f, "POST", "/api/workers", f->admin_token,
              "{\"name\": \"dup\", \"base_url\": \"http://127.0.0.1:9\"}", &status);
  cdl_test_expect_error (root, status, 409, "dup");
  json_node_unref (root);

  patch_path = g_strconcat ("/api/workers/", id, NULL);
  root = api (f, "PATCH", patch_path, f->admin_token, "{\"priority\": \"high\"}", &status);
  cdl_test_expect_error (root, status, 400, "priority");
  json_node_unref (root);
  root = api (f, "PATCH", patch_path, f->admin_token, "{}", &status);
  cdl_test_expect_error (root, status, 400, "Nothing to update");
  json_node_unref (root);

  /* Nothing of the refused requests was stored. */
  {
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT count(*), max(priority) FROM workers", 0, NULL);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 0), ==, 1);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 1), ==, 1);
  }
}

static void
test_patch (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *id = register_worker (f, "gpu-a", "http://127.0.0.1:9", NULL);
  g_autofree char *path = g_strconcat ("/api/workers/", id, NULL);
  g_autoptr(JsonNode) root = NULL;
  JsonObject *w;
  guint status;

  root = api (f, "PATCH", path, f->admin_token,
              "{\"enabled\": false, \"priority\": 7, \"max_concurrent_jobs\": 3,"
              " \"tags\": [\"a100\", \"sdxl\"]}", &status);
  w = json_node_get_object (cdl_test_expect_ok (root, status, 200));
  g_assert_false (json_object_get_boolean_member (w, "enabled"));
  g_assert_cmpint (json_object_get_int_member (w, "priority"), ==, 7);
  g_assert_cmpint (json_object_get_int_member (w, "max_concurrent_jobs"), ==, 3);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (w, "tags")), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (w, "name"), ==, "gpu-a");
}

static void
test_health_flaps (Fixture       *f,
                   gconstpointer  data)
{
  Sim *sim = sim_spawn (f, NULL);
  g_autofree char *id = NULL;
  g_autoptr(JsonNode) w = NULL;
  gint64 t0, elapsed_ms;

  t0 = g_get_monotonic_time ();
  id = register_worker (f, "sim-1", sim->url, NULL);

  /* A new worker turns HEALTHY within one check interval. */
  json_node_unref (wait_for_worker (f, id, is_status, "HEALTHY", "HEALTHY"));
  elapsed_ms = (g_get_monotonic_time () - t0) / 1000;
  g_test_message ("HEALTHY after %" G_GINT64_FORMAT " ms", elapsed_ms);
  g_assert_cmpint (elapsed_ms, <, HEALTH_INTERVAL_S * 1000 + 1000);

  /* The queue length follows the worker's /queue. */
  sim_post (f, sim, "/_sim/queue", "{\"pending\": 2, \"running\": 1}");
  json_node_unref (wait_for_worker (f, id, has_queue_len, GINT_TO_POINTER (3), "queue 3"));

  /* One failed check is a flap: still HEALTHY. */
  sim_post (f, sim, "/_sim/fault", "{\"mode\": \"fail\"}");
  w = wait_for_worker (f, id, has_failures, GINT_TO_POINTER (1), "failed once");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (w), "status"), ==,
                   "HEALTHY");
  g_assert_nonnull (json_object_get_string_member (json_node_get_object (w), "last_error"));
  g_clear_pointer (&w, json_node_unref);

  /* The second consecutive failure turns it UNHEALTHY. */
  w = wait_for_worker (f, id, has_failures, GINT_TO_POINTER (2), "failed twice");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (w), "status"), ==,
                   "UNHEALTHY");
  g_clear_pointer (&w, json_node_unref);

  /* One clean pass brings it back. */
  sim_post (f, sim, "/_sim/fault", "{\"mode\": \"none\"}");
  w = wait_for_worker (f, id, is_status, "HEALTHY", "HEALTHY again");
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (w), "consecutive_failures"),
                   ==, 0);
  g_assert_true (json_object_get_null_member (json_node_get_object (w), "last_error"));
  g_clear_pointer (&w, json_node_unref);

  /* A worker that stops answering goes UNHEALTHY after two checks. */
  g_subprocess_send_signal (sim->proc, SIGTERM);
  g_subprocess_wait (sim->proc, NULL, NULL);
  w = wait_for_worker (f, id, is_status, "UNHEALTHY", "UNHEALTHY once stopped");
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (w), "consecutive_failures"),
                   >=, 2);
}

static void
test_test_route (Fixture       *f,
                 gconstpointer  data)
{
  Sim *sim = sim_spawn (f, NULL);
  g_autofree char *id = register_worker (f, "sim-t", sim->url, NULL);
  g_autofree char *path = g_strconcat ("/api/workers/", id, "/test", NULL);
  g_autoptr(JsonNode) root = NULL;
  JsonObject *d, *q;
  guint status;

  sim_post (f, sim, "/_sim/queue", "{\"pending\": 4, \"running\": 1}");
  root = api (f, "POST", path, f->admin_token, NULL, &status);
  d = json_node_get_object (cdl_test_expect_ok (root, status, 200));
  g_assert_true (json_object_get_boolean_member (d, "healthy"));
  q = json_object_get_object_member (d, "queue");
  g_assert_cmpint (json_object_get_int_member (q, "pending"), ==, 4);
  g_assert_cmpint (json_object_get_int_member (q, "running"), ==, 1);
  g_clear_pointer (&root, json_node_unref);

  sim_post (f, sim, "/_sim/fault", "{\"mode\": \"fail\"}");
  root = api (f, "POST", path, f->admin_token, NULL, &status);
  d = json_node_get_object (cdl_test_expect_ok (root, status, 200));
  g_assert_false (json_object_get_boolean_member (d, "healthy"));
  g_assert_nonnull (strstr (json_object_get_string_member (d, "message"), "500"));
}

static void
test_api_key_kept_secret (Fixture       *f,
                          gconstpointer  data)
{
  const char *key = "sk-live-7f3a9c1e5b";
  Sim *sim = sim_spawn (f, key);
  g_autofree char *good = register_worker (f, "keyed", sim->url, key);
  g_autofree char *bad = register_worker (f, "wrong-key", sim->url, "sk-wrong");
  g_autofree char *secrets_path = g_build_filename (f->tmpdir, "secrets.json", NULL);
  g_autofree char *secrets = NULL;
  g_autofree char *log = NULL;
  g_autoptr(JsonNode) w = NULL;
  GStatBuf st;

  w = wait_for_worker (f, good, is_status, "HEALTHY", "HEALTHY with its key");
  g_assert_true (json_object_get_boolean_member (json_node_get_object (w), "has_api_key"));
  g_assert_false (json_object_has_member (json_node_get_object (w), "api_key"));
  g_clear_pointer (&w, json_node_unref);

  w = wait_for_worker (f, bad, has_failures, GINT_TO_POINTER (2), "refused");
  g_assert_nonnull (strstr (json_object_get_string_member (json_node_get_object (w),
                                                            "last_error"), "401"));

  /* Not in PostgreSQL, in any column of any worker. */
  {
    const char *params[] = { key };
    g_autoptr(PGresult) res =
      cdl_test_sql (f->conninfo,
                    "SELECT count(*) FROM workers w WHERE strpos (row_to_json (w)::text, $1) > 0",
                    1, params);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 0), ==, 0);
  }

  /* In the owner-only secrets file. */
  g_assert_cmpint (g_stat (secrets_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (secrets_path, &secrets, NULL, NULL));
  g_assert_nonnull (strstr (secrets, key));

  /* Not in the log, even at debug level; nor is the admin token. */
  log = read_log (f);
  g_assert_nonnull (strstr (log, "GET /api/workers/"));
  g_assert_null (strstr (log, key));
  g_assert_null (strstr (log, f->admin_token));
}

typedef struct
{
  gboolean  done;
  GError   *error;
} Wait;

static void
require_healthy_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Wait *wait = user_data;

  cdl_worker_service_require_healthy_finish (CDL_WORKER_SERVICE (source), result,
                                             &wait->error);
  wait->done = TRUE;
}

static void
check_require_healthy (CdlWorkerService *service,
                       GError          **error)
{
  Wait wait = { 0 };

  cdl_worker_service_require_healthy_async (service, NULL, require_healthy_cb, &wait);
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);
  if (wait.error != NULL)
    g_propagate_error (error, wait.error);
}

static void
test_require_healthy (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(CdlDb) db = cdl_db_new (f->conninfo, 2);
  g_autoptr(CdlComfyClient) client = cdl_comfy_client_new ();
  g_autofree char *secrets_path = g_build_filename (f->tmpdir, "other-secrets.json", NULL);
  g_autoptr(CdlSecretStore) secrets = cdl_secret_store_new_for_file (secrets_path);
  g_autoptr(CdlWorkerService) service = cdl_worker_service_new (db, client, secrets);
  g_autoptr(GError) error = NULL;
  g_autofree char *down = NULL;
  g_autofree char *id = NULL;
  Sim *sim;

  /* No worker at all. */
  check_require_healthy (service, &error);
  g_assert_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NO_HEALTHY_WORKER);
  g_assert_cmpuint (cdl_service_error_http_status (error), ==, 409);
  g_assert_nonnull (strstr (error->message, "healthy"));
  g_clear_error (&error);

  /* Only a worker that is down. */
  down = register_worker (f, "down", "http://127.0.0.1:9", NULL);
  json_node_unref (wait_for_worker (f, down, has_failures, GINT_TO_POINTER (2), "down"));
  check_require_healthy (service, &error);
  g_assert_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NO_HEALTHY_WORKER);
  g_clear_error (&error);

  /* A healthy one, but disabled, does not count either. */
  sim = sim_spawn (f, NULL);
  id = register_worker (f, "up", sim->url, NULL);
  json_node_unref (wait_for_worker (f, id, is_status, "HEALTHY", "HEALTHY"));
  {
    g_autofree char *path = g_strconcat ("/api/workers/", id, NULL);
    g_autoptr(JsonNode) root = NULL;
    guint status;

    root = api (f, "PATCH", path, f->admin_token, "{\"enabled\": false}", &status);
    cdl_test_expect_ok (root, status, 200);
    check_require_healthy (service, &error);
    g_assert_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NO_HEALTHY_WORKER);
    g_clear_error (&error);

    g_clear_pointer (&root, json_node_unref);
    root = api (f, "PATCH", path, f->admin_token, "{\"enabled\": true}", &status);
    cdl_test_expect_ok (root, status, 200);
  }

  check_require_healthy (service, &error);
  g_assert_no_error (error);
}

typedef struct
{
  const char *id;
  gboolean    healthy_seen;
} Watch;

static void
watched_change_cb (CdlWorkerService *service,
                   CdlWorker        *worker,
                   Watch            *watch)
{
  if (g_strcmp0 (cdl_worker_get_id (worker), watch->id) == 0
      && cdl_worker_get_status (worker) == CDL_WORKER_STATUS_HEALTHY)
    watch->healthy_seen = TRUE;
}

/* A second instance (this process) hears, through LISTEN/NOTIFY, what the
 * server process does to a worker: the desktop stays live even when
 * another instance runs the health checks. */
static void
test_other_instance_hears (Fixture       *f,
                           gconstpointer  data)
{
  static const char * const channels[] = { "cdl_workers", NULL };
  g_autoptr(CdlDb) db = cdl_db_new (f->conninfo, 2);
  g_autoptr(CdlComfyClient) client = cdl_comfy_client_new ();
  g_autofree char *secrets_path = g_build_filename (f->tmpdir, "watch-secrets.json", NULL);
  g_autoptr(CdlSecretStore) secrets = cdl_secret_store_new_for_file (secrets_path);
  g_autoptr(CdlWorkerService) service = cdl_worker_service_new (db, client, secrets);
  g_autoptr(CdlDbListener) listener = cdl_db_listener_new (f->conninfo, channels);
  g_autofree char *id = NULL;
  Watch watch = { 0 };
  gint64 deadline;
  Sim *sim;

  cdl_worker_service_watch (service, listener);
  cdl_db_listener_start (listener);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!cdl_db_listener_is_connected (listener) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (5000);
  g_assert_true (cdl_db_listener_is_connected (listener));

  g_signal_connect (service, "worker-changed", G_CALLBACK (watched_change_cb), &watch);

  sim = sim_spawn (f, NULL);
  id = register_worker (f, "heard", sim->url, NULL);
  watch.id = id;

  deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  while (!watch.healthy_seen && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (5000);
  g_assert_true (watch.healthy_seen);

  cdl_db_listener_stop (listener);
}

typedef struct
{
  uid_t uid;
  gid_t gid;
} DropTo;

/* Runs in the child between fork and exec. */
static void
become_user (gpointer user_data)
{
  const DropTo *to = user_data;

  prctl (PR_SET_PDEATHSIG, SIGTERM);
  if (setgroups (0, NULL) != 0 || setgid (to->gid) != 0 || setuid (to->uid) != 0)
    _exit (127);
}

/* The embedded default: no database configured at all. PostgreSQL refuses
 * to run as root, so as root the server runs as the postgres user. */
static void
test_embedded_default (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmpdir = g_dir_make_tmp ("cdl-embedded-XXXXXX", &error);
  g_autofree char *data_dir = g_build_filename (tmpdir, "data", NULL);
  g_autofree char *log1 = g_build_filename (tmpdir, "server1.log", NULL);
  g_autofree char *log2 = g_build_filename (tmpdir, "server2.log", NULL);
  g_autofree char *pid_path = g_build_filename (data_dir, "postgres", "postmaster.pid", NULL);
  g_autofree char *token = NULL;
  g_autofree char *base_url = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(SoupSession) session = soup_session_new_with_options ("timeout", 20, NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  gboolean as_root = geteuid () == 0;
  static DropTo drop_to;
  static const char * const pg_vars[] = {
    "DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE",
  };

  g_assert_no_error (error);

  launcher = new_launcher ();
  if (as_root)
    {
      g_autofree char *cmd = g_strdup_printf ("chown postgres '%s'", tmpdir);
      struct passwd *pw = getpwnam ("postgres");

      g_assert_nonnull (pw);
      g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
      drop_to.uid = pw->pw_uid;
      drop_to.gid = pw->pw_gid;
      g_subprocess_launcher_set_child_setup (launcher, become_user, &drop_to, NULL);
    }
  g_ptr_array_add (argv, (char *)cdl_test_build_path ("src/app/comfy-datalabel-server"));
  g_ptr_array_add (argv, "--data-dir");
  g_ptr_array_add (argv, data_dir);

  for (guint i = 0; i < G_N_ELEMENTS (pg_vars); i++)
    g_subprocess_launcher_unsetenv (launcher, pg_vars[i]);
  g_subprocess_launcher_setenv (launcher, "CDL_PG_NO_SYNC", "1", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "CDL_SECRETS_FILE");

  /* First start: initdb, migrate, make an admin, stop. */
  g_ptr_array_add (argv, "--create-admin");
  g_ptr_array_add (argv, "first-admin");
  g_ptr_array_add (argv, NULL);
  token = cdl_test_run_create_admin (launcher, (const char * const *)argv->pdata);
  g_assert_cmpuint (strlen (token), ==, 43);
  g_assert_false (g_file_test (pid_path, G_FILE_TEST_EXISTS));

  /* Second start: serve. */
  g_ptr_array_set_size (argv, argv->len - 3);
  g_ptr_array_add (argv, "--port");
  g_ptr_array_add (argv, "0");
  g_ptr_array_add (argv, NULL);
  server = cdl_test_server_spawn (launcher, (const char * const *)argv->pdata, log1, &base_url);

  {
    g_autofree char *url = g_strconcat (base_url, "/api/workers", NULL);
    g_autoptr(JsonNode) root = NULL;
    guint status;

    root = cdl_test_http_full (session, "GET", url, token, NULL, 0, &status, NULL);
    cdl_test_expect_ok (root, status, 200);
  }

  /* A crash of ours and of PostgreSQL leaves a stale postmaster.pid. */
  {
    g_autofree char *pid_text = NULL;
    GPid pid;

    g_subprocess_force_exit (server);
    g_subprocess_wait (server, NULL, NULL);
    g_clear_object (&server);

    g_assert_true (g_file_get_contents (pid_path, &pid_text, NULL, NULL));
    pid = (GPid)g_ascii_strtoll (pid_text, NULL, 10);
    g_assert_cmpint (pid, >, 1);
    g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
    while (kill (pid, 0) == 0)
      g_usleep (20 * 1000);
    g_assert_true (g_file_test (pid_path, G_FILE_TEST_EXISTS));
  }

  g_clear_pointer (&base_url, g_free);
  server = cdl_test_server_spawn (launcher, (const char * const *)argv->pdata, log2, &base_url);
  {
    g_autofree char *url = g_strconcat (base_url, "/api/workers", NULL);
    g_autoptr(JsonNode) root = NULL;
    guint status;

    root = cdl_test_http_full (session, "GET", url, token, NULL, 0, &status, NULL);
    cdl_test_expect_ok (root, status, 200);
  }

  /* SIGTERM stops the cluster cleanly. */
  g_subprocess_send_signal (server, SIGTERM);
  g_subprocess_wait (server, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (server));
  g_assert_cmpint (g_subprocess_get_exit_status (server), ==, 0);
  g_assert_false (g_file_test (pid_path, G_FILE_TEST_EXISTS));

  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
    g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
  }
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

  ADD ("/api/envelope", test_envelope);
  ADD ("/api/auth", test_auth);
  ADD ("/api/bad-input", test_bad_input);
  ADD ("/api/patch", test_patch);
  ADD ("/api/health-flaps", test_health_flaps);
  ADD ("/api/test-route", test_test_route);
  ADD ("/api/api-key-kept-secret", test_api_key_kept_secret);
  ADD ("/api/require-healthy", test_require_healthy);
  ADD ("/api/other-instance-hears", test_other_instance_hears);
  g_test_add_func ("/api/embedded-default", test_embedded_default);

#undef ADD

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
