/* test-ops.c: alerts, metrics, health and partition upkeep
 *
 * Real servers and simulated workers on a real PostgreSQL; the webhook
 * receiver is a SoupServer of the test on a thread of its own.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <glib/gstdio.h>
#include <string.h>

#include "cdl-test-server.h"
#include "core/cdl-metrics.h"
#include "db/cdl-alert-repo.h"
#include "db/cdl-pq.h"

static CdlTestPg *pg;

typedef CdlTestCluster Fixture;
typedef CdlTestProc Proc;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  cdl_test_cluster_set_up (f, pg, "cdl-ops-XXXXXX");
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  cdl_test_cluster_tear_down (f);
}

/* Waits up to @seconds for @query (with @param) to count at least @want. */
static gint64
wait_count (Fixture    *f,
            const char *query,
            const char *param,
            gint64      want,
            guint       seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;
  gint64 n = 0;

  while (g_get_monotonic_time () < deadline)
    {
      n = cdl_test_sql_int (f->conninfo, query, param);
      if (n >= want)
        break;
      g_usleep (100 * 1000);
    }

  return n;
}

/* Starts a server with a configuration file holding @conf; kept until
 * tear-down. */
static Proc *
start_notifying_server (Fixture    *f,
                        const char *conf,
                        const char *extra_arg,
                        const char *notify_socket)
{
  g_autoptr(GSubprocessLauncher) launcher =
    cdl_test_launcher_new (f->conninfo, f->tmpdir, "cdl-alerts", SIGKILL);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_strdup_printf ("%s/server-%u.conf", f->tmpdir, f->n_logs);
  g_autofree char *log = g_strdup_printf ("%s/server-%u.log", f->tmpdir, f->n_logs++);
  const char *argv[] = { cdl_test_build_path ("src/app/comfy-datalabel-server"),
                         "--port", "0", "--data-dir", f->data_dir,
                         "--storage-dir", f->storage_dir,
                         "--health-interval", "1", "--config", path, extra_arg, NULL };
  Proc *p = g_new0 (Proc, 1);

  g_file_set_contents (path, conf, -1, &error);
  g_assert_no_error (error);
  if (notify_socket != NULL)
    g_subprocess_launcher_setenv (launcher, "NOTIFY_SOCKET", notify_socket, TRUE);
  p->proc = cdl_test_server_spawn (launcher, argv, log, &p->url);
  g_ptr_array_add (f->servers, p);

  return p;
}

static Proc *
start_configured_server (Fixture    *f,
                         const char *conf,
                         const char *extra_arg)
{
  return start_notifying_server (f, conf, extra_arg, NULL);
}

/* systemd's side of sd_notify: a datagram socket at @path. */
static GSocket *
notify_socket_new (const char *path)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GError) error = NULL;
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
                                  G_SOCKET_PROTOCOL_DEFAULT, &error);

  g_assert_no_error (error);
  g_socket_bind (socket, address, TRUE, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (socket, 30);

  return socket;
}

static char *
notify_receive (GSocket *socket)
{
  g_autoptr(GError) error = NULL;
  char buf[256];
  gssize n = g_socket_receive (socket, buf, sizeof buf - 1, NULL, &error);

  g_assert_no_error (error);
  buf[n] = '\0';

  return g_strdup (buf);
}

/* The webhook receiver ------------------------------------------------------ */

typedef struct
{
  GMutex        lock;
  GCond         ready;
  GPtrArray    *deliveries;   /* "kind firing|cleared", one per POST */
  GPtrArray    *headers;      /* X-Cdl-Alert-Delivery */
  guint         refuse;       /* answer that many first POSTs with 503 */
  GPtrArray    *refused;      /* their X-Cdl-Alert-Delivery */
  GMainContext *context;
  GMainLoop    *loop;
  GThread      *thread;
  char         *url;
} Hook;

static void
hook_cb (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  Hook *hook = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *obj;

  g_assert_cmpstr (soup_server_message_get_method (msg), ==, "POST");
  g_assert_cmpstr (g_hash_table_lookup (query, "token"), ==, "s3cret");
  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (bytes, NULL),
                                             g_bytes_get_size (bytes), NULL));
  obj = json_node_get_object (json_parser_get_root (parser));

  g_mutex_lock (&hook->lock);
  if (hook->refused->len < hook->refuse)
    {
      g_ptr_array_add (hook->refused,
                       g_strdup (soup_message_headers_get_one (
                         soup_server_message_get_request_headers (msg),
                         "X-Cdl-Alert-Delivery")));
      g_mutex_unlock (&hook->lock);
      soup_server_message_set_status (msg, 503, NULL);
      return;
    }
  g_ptr_array_add (hook->deliveries,
                   g_strdup_printf ("%s %s", json_object_get_string_member (obj, "kind"),
                                    json_object_get_string_member (obj, "state")));
  g_ptr_array_add (hook->headers,
                   g_strdup (soup_message_headers_get_one (
                     soup_server_message_get_request_headers (msg), "X-Cdl-Alert-Delivery")));
  g_mutex_unlock (&hook->lock);

  soup_server_message_set_status (msg, 204, NULL);
}

static gpointer
hook_thread (gpointer data)
{
  Hook *hook = data;
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GError) error = NULL;
  GSList *uris;

  g_main_context_push_thread_default (hook->context);
  server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, "/hook", hook_cb, hook, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);

  g_mutex_lock (&hook->lock);
  hook->url = g_strdup_printf ("http://127.0.0.1:%d/hook?token=s3cret",
                               g_uri_get_port (uris->data));
  g_cond_signal (&hook->ready);
  g_mutex_unlock (&hook->lock);
  g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);

  g_main_loop_run (hook->loop);
  soup_server_disconnect (server);
  g_main_context_pop_thread_default (hook->context);

  return NULL;
}

static void
hook_start (Hook *hook)
{
  g_mutex_init (&hook->lock);
  g_cond_init (&hook->ready);
  hook->deliveries = g_ptr_array_new_with_free_func (g_free);
  hook->headers = g_ptr_array_new_with_free_func (g_free);
  hook->refused = g_ptr_array_new_with_free_func (g_free);
  hook->context = g_main_context_new ();
  hook->loop = g_main_loop_new (hook->context, FALSE);
  hook->thread = g_thread_new ("hook", hook_thread, hook);

  g_mutex_lock (&hook->lock);
  while (hook->url == NULL)
    g_cond_wait (&hook->ready, &hook->lock);
  g_mutex_unlock (&hook->lock);
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);

  return G_SOURCE_REMOVE;
}

static void
hook_stop (Hook *hook)
{
  g_main_context_invoke (hook->context, quit_cb, hook->loop);
  g_thread_join (hook->thread);
  g_main_loop_unref (hook->loop);
  g_main_context_unref (hook->context);
  g_ptr_array_unref (hook->deliveries);
  g_ptr_array_unref (hook->headers);
  g_ptr_array_unref (hook->refused);
  g_free (hook->url);
}

static guint
hook_count (Hook       *hook,
            const char *delivery)
{
  guint n = 0;

  g_mutex_lock (&hook->lock);
  for (guint i = 0; i < hook->deliveries->len; i++)
    if (g_strcmp0 (hook->deliveries->pdata[i], delivery) == 0)
      n++;
  g_mutex_unlock (&hook->lock);

  return n;
}

static void
hook_wait (Hook       *hook,
           const char *delivery,
           guint       seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;

  while (hook_count (hook, delivery) == 0 && g_get_monotonic_time () < deadline)
    g_usleep (100 * 1000);
  g_assert_cmpuint (hook_count (hook, delivery), ==, 1);
}

static void
sim_fault (Fixture    *f,
           Proc       *sim,
           const char *mode)
{
  g_autofree char *url = g_strconcat (sim->url, "/_sim/fault", NULL);
  g_autofree char *body = g_strdup_printf ("{\"mode\": \"%s\"}", mode);
  guint status = 0;
  g_autoptr(JsonNode) root = cdl_test_http (f->http, "POST", url, NULL, body, &status);

  g_assert_cmpuint (status, ==, 200);
}

/* A worker goes down and comes back while two servers watch: the alert
 * fires once and clears once, in the table and on the webhook. */
static void
test_alert_once (Fixture       *f,
                 gconstpointer  data)
{
  Hook hook = { .refuse = 1 };
  g_autofree char *conf = NULL;
  g_autofree char *worker = NULL;
  g_autofree char *alerts_url = NULL;
  g_autoptr(JsonNode) list = NULL;
  Proc *servers[2];
  Proc *sim;
  JsonArray *array;
  guint status;

  hook_start (&hook);
  conf = g_strdup_printf ("[alerts]\nwebhook_url = %s\ninterval = 1\n", hook.url);
  servers[0] = start_configured_server (f, conf, NULL);
  servers[1] = start_configured_server (f, conf, NULL);
  sim = cdl_test_start_sim (f, NULL);
  worker = cdl_test_add_worker (f, servers[0], sim, "sim-alert", 1);

  sim_fault (f, sim, "fail");
  g_assert_cmpint (wait_count (f, "SELECT count (*) FROM alerts WHERE kind = 'worker_unhealthy'"
                               " AND subject = $1", worker, 1, 30), ==, 1);
  hook_wait (&hook, "worker_unhealthy firing", 15);

  sim_fault (f, sim, "none");
  g_assert_cmpint (wait_count (f, "SELECT count (*) FROM alerts WHERE kind = 'worker_unhealthy'"
                               " AND subject = $1 AND state = 'cleared'", worker, 1, 30), ==, 1);
  hook_wait (&hook, "worker_unhealthy cleared", 15);

  /* Several more evaluations by both servers change nothing. */
  g_usleep (3 * G_USEC_PER_SEC);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM alerts"
                                     " WHERE kind = 'worker_unhealthy'", NULL), ==, 1);
  g_assert_cmpuint (hook_count (&hook, "worker_unhealthy firing"), ==, 1);
  g_assert_cmpuint (hook_count (&hook, "worker_unhealthy cleared"), ==, 1);
  g_assert_cmpuint (hook.deliveries->len, ==, 2);
  g_assert_true (g_str_has_suffix (hook.headers->pdata[0], "-firing"));
  /* The first POST got a 503 and was sent again, with the same delivery id. */
  g_assert_cmpuint (hook.refused->len, ==, 1);
  g_assert_cmpstr (hook.refused->pdata[0], ==, hook.headers->pdata[0]);

  /* The operator's list; the webhook's secret never reached a log. */
  list = cdl_test_call (f, servers[1], "GET", "/api/alerts?limit=10", NULL, 200);
  array = json_node_get_array (json_object_get_member (json_node_get_object (list), "data"));
  g_assert_cmpuint (json_array_get_length (array), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 0),
                                                  "state"), ==, "cleared");
  alerts_url = g_strconcat (servers[1]->url, "/api/alerts", NULL);
  g_clear_pointer (&list, json_node_unref);
  list = cdl_test_http (f->http, "GET", alerts_url, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 401);
  g_clear_pointer (&list, json_node_unref);
  list = cdl_test_call (f, servers[1], "GET", "/api/alerts?limit=0", NULL, 400);

  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *log = g_strdup_printf ("%s/server-%u.log", f->tmpdir, i);
      g_autofree char *text = NULL;

      g_assert_true (g_file_get_contents (log, &text, NULL, NULL));
      g_assert_null (strstr (text, "s3cret"));
    }

  hook_stop (&hook);
}

/* A worker that fails every job while another does them: worker_failing.
 * A task whose only worker hangs: task_stalled, cleared once it ends. */
static void
test_alert_conditions (Fixture       *f,
                       gconstpointer  data)
{
  static const char * const slow[] = { "--ms-per-image", "100", NULL };
  Proc *server = start_configured_server (f, "[alerts]\ninterval = 1\nstall_seconds = 10\n",
                                          NULL);
  Proc *bad = cdl_test_start_sim (f, slow);
  Proc *good = cdl_test_start_sim (f, slow);
  g_autofree char *bad_id = NULL;
  g_autofree char *good_id = NULL;
  g_autofree char *task = NULL;
  g_autofree char *state = NULL;
  g_autoptr(JsonNode) run = NULL;

  cdl_test_sim_config (f, bad, "{\"error_rate\": 1}");
  bad_id = cdl_test_add_worker (f, server, bad, "sim-bad", 1);
  good_id = cdl_test_add_worker (f, server, good, "sim-good", 1);

  task = cdl_test_add_frozen_task (f, server, 8, 1);
  run = cdl_test_task_call (f, server, "POST", task, "run", 200);
  state = cdl_test_wait_end (f, server, task, 60);
  g_assert_cmpstr (state, ==, "DONE");
  g_assert_cmpint (wait_count (f, "SELECT count (*) FROM alerts WHERE kind = 'worker_failing'"
                               " AND subject = $1 AND state = 'firing'", bad_id, 1, 15), ==, 1);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM alerts"
                                     " WHERE kind = 'worker_failing' AND subject = $1",
                                     good_id), ==, 0);

  /* The good worker hangs and the bad one is switched off: nothing moves. */
  {
    g_autofree char *path = g_strconcat ("/api/workers/", bad_id, NULL);
    g_autoptr(JsonNode) off = cdl_test_call (f, server, "PATCH", path,
                                             "{\"enabled\": false}", 200);
  }
  g_clear_pointer (&task, g_free);
  g_clear_pointer (&state, g_free);
  g_clear_pointer (&run, json_node_unref);
  sim_fault (f, good, "hang");
  task = cdl_test_add_frozen_task (f, server, 2, 1);
  run = cdl_test_task_call (f, server, "POST", task, "run", 200);
  g_assert_cmpint (wait_count (f, "SELECT count (*) FROM alerts WHERE kind = 'task_stalled'"
                               " AND subject = $1 AND state = 'firing'", task, 1, 40), ==, 1);

  sim_fault (f, good, "none");
  state = cdl_test_wait_end (f, server, task, 60);
  g_assert_cmpstr (state, ==, "DONE");
  g_assert_cmpint (wait_count (f, "SELECT count (*) FROM alerts WHERE kind = 'task_stalled'"
                               " AND subject = $1 AND state = 'cleared'", task, 1, 15), ==, 1);
}

/* Metrics and health -------------------------------------------------------- */

static char *
get_text (Fixture    *f,
          const char *url,
          const char *token,
          guint      *status)
{
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  if (token != NULL)
    {
      g_autofree char *auth = g_strconcat ("Bearer ", token, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                    auth);
    }
  bytes = soup_session_send_and_read (f->http, msg, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (msg);

  return g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* The value of the sample line that starts with @prefix (name and labels),
 * -1 when absent. */
static double
sample (const char *text,
        const char *prefix)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix) && lines[i][strlen (prefix)] == ' ')
      return g_ascii_strtod (lines[i] + strlen (prefix) + 1, NULL);

  return -1;
}

static char *
scrape (Fixture *f,
        Proc    *server)
{
  g_autofree char *url = g_strconcat (server->url, "/metrics", NULL);
  g_autoptr(GError) error = NULL;
  guint status = 0;
  char *text = get_text (f, url, f->admin_token, &status);

  g_assert_cmpuint (status, ==, 200);
  if (!cdl_metrics_check_text (text, &error))
    g_error ("%s", error->message);

  return text;
}

/* A free local port, for --metrics-bind. */
static guint
free_port (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GError) error = NULL;
  guint port = g_socket_listener_add_any_inet_port (listener, NULL, &error);

  g_assert_no_error (error);
  g_socket_listener_close (listener);

  return port;
}

static void
test_metrics (Fixture       *f,
              gconstpointer  data)
{
  guint metrics_port = free_port ();
  g_autofree char *bind = g_strdup_printf ("--metrics-bind=127.0.0.1:%u", metrics_port);
  g_autofree char *notify_path = g_build_filename (f->tmpdir, "notify", NULL);
  g_autoptr(GSocket) notify = notify_socket_new (notify_path);
  Proc *server = start_notifying_server (f, "[server]\nshutdown_timeout = 20\n", bind,
                                         notify_path);
  g_autofree char *ready = notify_receive (notify);
  g_autofree char *stopping = NULL;
  Proc *sim = cdl_test_start_sim (f, NULL);
  g_autofree char *task = NULL;
  g_autofree char *state = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *text = NULL;
  g_autofree char *url = NULL;
  g_autoptr(JsonNode) run = NULL;
  guint status = 0;

  g_free (cdl_test_add_worker (f, server, sim, "sim-metrics", 2));
  task = cdl_test_add_frozen_task (f, server, 3, 2);
  before = scrape (f, server);
  g_assert_cmpfloat (sample (before, "cdl_jobs_submitted_total"), ==, 0);
  g_assert_cmpfloat (sample (before, "cdl_images_stored_total"), ==, 0);
  g_assert_cmpfloat (sample (before, "cdl_jobs_failed_total"), ==, 0);

  run = cdl_test_task_call (f, server, "POST", task, "run", 200);
  state = cdl_test_wait_end (f, server, task, 60);
  g_assert_cmpstr (state, ==, "DONE");

  after = scrape (f, server);
  g_assert_cmpfloat (sample (after, "cdl_jobs_submitted_total"), >=, 3);
  g_assert_cmpfloat (sample (after, "cdl_jobs_succeeded_total"), >=, 3);
  g_assert_cmpfloat (sample (after, "cdl_images_stored_total"), ==, 6);
  g_assert_cmpfloat (sample (after, "cdl_images_done"), ==, 6);
  g_assert_cmpfloat (sample (after, "cdl_ingest_seconds_count"), ==, 6);
  g_assert_cmpfloat (sample (after, "cdl_thumbnail_seconds_count"), ==, 6);
  g_assert_cmpfloat (sample (after, "cdl_workers{status=\"HEALTHY\"}"), ==, 1);
  g_assert_cmpfloat (sample (after, "cdl_worker_queue_depth{worker=\"sim-metrics\"}"), >=, 0);
  g_assert_cmpfloat (sample (after, "cdl_db_pool_connections{state=\"size\"}"), >, 0);
  /* Requests count by route pattern, not by the raw path. */
  g_assert_cmpfloat (sample (after, "cdl_http_requests_total{route=\"/api/tasks/{id}/progress\","
                                    "method=\"GET\",status=\"200\"}"), >=, 1);
  g_assert_null (strstr (after, task));

  /* A bearer token is needed on the main address... */
  url = g_strconcat (server->url, "/metrics", NULL);
  text = get_text (f, url, NULL, &status);
  g_assert_cmpuint (status, ==, 401);
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&url, g_free);

  /* ...but not on the metrics address; /healthz is public on both. */
  url = g_strdup_printf ("http://127.0.0.1:%u/metrics", metrics_port);
  text = get_text (f, url, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_true (cdl_metrics_check_text (text, NULL));
  g_assert_cmpfloat (sample (text, "cdl_images_stored_total"), ==, 6);
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&url, g_free);

  url = g_strdup_printf ("http://127.0.0.1:%u/healthz", metrics_port);
  text = get_text (f, url, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&url, g_free);

  url = g_strconcat (server->url, "/healthz", NULL);
  text = get_text (f, url, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (text, ==, "ok\n");

  /* systemd heard of the start and the stop (Type=notify). */
  g_assert_cmpstr (ready, ==, "READY=1");
  cdl_test_server_stop (server->proc);
  stopping = notify_receive (notify);
  g_assert_cmpstr (stopping, ==, "STOPPING=1");
}

static void
exec_ok (PGconn     *conn,
         const char *query)
{
  PGresult *res = PQexec (conn, query);

  if (PQresultStatus (res) != PGRES_TUPLES_OK && PQresultStatus (res) != PGRES_COMMAND_OK)
    g_error ("%s: %s", query, PQerrorMessage (conn));
  PQclear (res);
}

/* Lets connections to @db in, or not (from another database: a database
 * cannot turn away its own sessions). */
static void
allow_connections (PGconn     *admin,
                   const char *db,
                   gboolean    allow)
{
  char *ident = PQescapeIdentifier (admin, db, strlen (db));
  g_autofree char *alter = g_strdup_printf ("ALTER DATABASE %s ALLOW_CONNECTIONS %s", ident,
                                            allow ? "true" : "false");

  PQfreemem (ident);
  exec_ok (admin, alter);
}

/* /healthz says 503 while the database refuses the server, 200 after. */
static void
test_healthz_down (Fixture       *f,
                   gconstpointer  data)
{
  Proc *server = cdl_test_start_server (f);
  g_autofree char *url = g_strconcat (server->url, "/healthz", NULL);
  g_autofree char *admin_info = g_strconcat (f->conninfo, " dbname=postgres", NULL);
  g_autofree char *text = NULL;
  g_autofree char *db = NULL;
  PGconn *conn = PQconnectdb (f->conninfo);
  PGconn *admin = PQconnectdb (admin_info);
  const char *params[1];
  PGresult *res;
  guint status = 0;

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  g_assert_cmpint (PQstatus (admin), ==, CONNECTION_OK);
  db = g_strdup (PQdb (conn));
  PQfinish (conn);

  text = get_text (f, url, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&text, g_free);

  /* No new connection to the database, and the server's ones ended. */
  allow_connections (admin, db, FALSE);
  params[0] = db;
  res = PQexecParams (admin, "SELECT pg_terminate_backend (pid) FROM pg_stat_activity"
                             " WHERE datname = $1", 1, NULL, params, NULL, NULL, 0);
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
  PQclear (res);
  for (guint i = 0; i < 100; i++)
    {
      gboolean gone;

      res = PQexecParams (admin, "SELECT count (*) = 0 FROM pg_stat_activity"
                                 " WHERE datname = $1", 1, NULL, params, NULL, NULL, 0);
      gone = g_strcmp0 (PQgetvalue (res, 0, 0), "t") == 0;
      PQclear (res);
      if (gone)
        break;
      g_usleep (50 * 1000);
    }

  text = get_text (f, url, NULL, &status);
  g_assert_cmpuint (status, ==, 503);
  g_assert_true (g_str_has_prefix (text, "database"));
  g_clear_pointer (&text, g_free);

  /* Back: the first check already answers from a new connection. */
  allow_connections (admin, db, TRUE);
  PQfinish (admin);
  text = get_text (f, url, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (text, ==, "ok\n");
}

/* --check-config reads the file and tries the database. */
static int
check_config (Fixture    *f,
              const char *conf,
              gboolean    with_database_url,
              char      **out)
{
  g_autoptr(GSubprocessLauncher) launcher =
    cdl_test_launcher_new (f->conninfo, f->tmpdir, "", SIGKILL);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->tmpdir, "check.conf", NULL);
  const char *argv[] = { cdl_test_build_path ("src/app/comfy-datalabel-server"),
                         "--config", path, "--check-config", NULL };

  g_file_set_contents (path, conf, -1, &error);
  g_assert_no_error (error);
  if (!with_database_url)
    g_subprocess_launcher_unsetenv (launcher, "DATABASE_URL");
  g_subprocess_launcher_set_flags (launcher, G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                             | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, out, NULL, &error);
  g_assert_no_error (error);

  return g_subprocess_get_exit_status (proc);
}

static void
test_check_config (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autofree char *password = g_build_filename (f->tmpdir, "password", NULL);
  g_autofree char *conf = NULL;

  g_assert_cmpint (check_config (f, "[server]\nport = 8470\nmetrics_bind = 127.0.0.1:9470\n"
                                 "[alerts]\nwebhook_url = https://example.invalid/h\n",
                                 TRUE, &out), ==, 0);
  g_assert_nonnull (strstr (out, "Configuration OK; the database answers"));
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (check_config (f, "[server]\nprot = 1\n", TRUE, &out), ==, 1);
  g_assert_nonnull (strstr (out, "unknown key [server] prot"));
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (check_config (f, "[server]\nport = 70000\n", TRUE, &out), ==, 1);
  g_assert_nonnull (strstr (out, "[server] port must be a whole number from 0 to 65535"));
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (check_config (f, "[database]\nurl = postgresql://u:pw@localhost/db\n",
                                 FALSE, &out), ==, 1);
  g_assert_nonnull (strstr (out, "must not carry the password"));
  g_clear_pointer (&out, g_free);

  /* A password file that others can read is refused. */
  g_file_set_contents (password, "secret\n", -1, NULL);
  g_chmod (password, 0644);
  conf = g_strdup_printf ("[database]\npassword_file = %s\n", password);
  g_assert_cmpint (check_config (f, conf, TRUE, &out), ==, 1);
  g_assert_nonnull (strstr (out, "chmod 600"));
  g_clear_pointer (&out, g_free);

  g_assert_cmpint (check_config (f, "[database]\nurl = postgresql://u@127.0.0.1:1/db\n",
                                 FALSE, &out), ==, 1);
  g_assert_nonnull (strstr (out, "the database does not answer"));
}

static void
test_metrics_text (void)
{
  CdlMetrics *m = cdl_metrics_new ();
  static const double buckets[] = { 0.1, 1 };
  g_autofree char *labels = cdl_metrics_labels ("route", "/a \"b\"\\", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  cdl_metrics_declare (m, "t_seconds", CDL_METRIC_HISTOGRAM, "Time\nspent", buckets, 2);
  cdl_metrics_inc (m, "t_total", labels);
  cdl_metrics_add (m, "t_total", labels, 2);
  cdl_metrics_add (m, "t_total", labels, -5);
  cdl_metrics_set (m, "t_gauge", NULL, 1.5);
  cdl_metrics_observe (m, "t_seconds", NULL, 0.05);
  cdl_metrics_observe (m, "t_seconds", NULL, 0.5);
  cdl_metrics_observe (m, "t_seconds", NULL, 5);

  g_assert_cmpfloat (cdl_metrics_get (m, "t_total", labels), ==, 3);
  text = cdl_metrics_render (m);
  g_assert_true (cdl_metrics_check_text (text, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (text, "t_total{route=\"/a \\\"b\\\"\\\\\"} 3\n"));
  g_assert_nonnull (strstr (text, "t_gauge 1.5\n"));
  g_assert_nonnull (strstr (text, "# HELP t_seconds Time\\nspent\n"));
  g_assert_nonnull (strstr (text, "t_seconds_bucket{le=\"0.1\"} 1\n"));
  g_assert_nonnull (strstr (text, "t_seconds_bucket{le=\"1\"} 2\n"));
  g_assert_nonnull (strstr (text, "t_seconds_bucket{le=\"+Inf\"} 3\n"));
  g_assert_nonnull (strstr (text, "t_seconds_count 3\n"));

  g_assert_false (cdl_metrics_check_text ("ok 1\nbad line here\n", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_false (cdl_metrics_check_text ("x{a=\"1} 2\n", NULL));
  g_assert_false (cdl_metrics_check_text ("x 1z\n", NULL));
  cdl_metrics_free (m);
}

/* Partitions ---------------------------------------------------------------- */

static const char *count_parts_sql =
  "SELECT count (*) FROM generate_series (0, 3) AS i"
  " WHERE to_regclass (format ('generations_%s', to_char (date_trunc ('month', now ())"
  "                            + make_interval (months => i), 'YYYY_MM'))) IS NOT NULL";

static void
drop_future_partitions (Fixture *f)
{
  g_autoptr(PGresult) res =
    cdl_test_sql (f->conninfo,
                  "DO $$ DECLARE i integer; BEGIN FOR i IN 1 .. 3 LOOP"
                  " EXECUTE format ('DROP TABLE IF EXISTS %I', format ('generations_%s',"
                  "   to_char (date_trunc ('month', now ()) + make_interval (months => i),"
                  "            'YYYY_MM'))); END LOOP; END $$", 0, NULL);
}

typedef struct
{
  const char *conninfo;
  GMutex     *start;
  int         created;
  gboolean    locked;
} Tick;

static gpointer
tick_thread (gpointer data)
{
  Tick *t = data;
  PGconn *conn = PQconnectdb (t->conninfo);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  g_mutex_lock (t->start);
  g_mutex_unlock (t->start);
  t->created = cdl_alert_repo_ensure_partitions (conn, 3, &t->locked, &error);
  g_assert_no_error (error);
  PQfinish (conn);

  return NULL;
}

static void
test_partitions (Fixture       *f,
                 gconstpointer  data)
{
  GMutex start;
  Tick ticks[2] = { { 0 } };
  GThread *threads[2];
  Proc *server;

  /* Two ticks at once create each partition once. */
  drop_future_partitions (f);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo, count_parts_sql, NULL), ==, 1);
  g_mutex_init (&start);
  g_mutex_lock (&start);
  for (guint i = 0; i < 2; i++)
    {
      ticks[i].conninfo = f->conninfo;
      ticks[i].start = &start;
      threads[i] = g_thread_new ("tick", tick_thread, &ticks[i]);
    }
  g_usleep (200 * 1000);
  g_mutex_unlock (&start);
  for (guint i = 0; i < 2; i++)
    g_thread_join (threads[i]);
  g_mutex_clear (&start);
  g_assert_cmpint (ticks[0].created + ticks[1].created, ==, 3);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo, count_parts_sql, NULL), ==, 4);

  /* A server's tick at start does it by itself; a row that lands in the
   * default partition raises an alert. */
  drop_future_partitions (f);
  server = start_configured_server (f, "[alerts]\ninterval = 1\n"
                                   "storage_min_free_mb = 1000000000\n", NULL);
  g_assert_cmpint (wait_count (f, count_parts_sql, NULL, 4, 20), ==, 4);

  {
    g_autoptr(PGresult) res =
      cdl_test_sql (f->conninfo,
                    "INSERT INTO generations (task_id, prompt_id, seed_id, seed_value,"
                    "  created_at) VALUES (gen_random_uuid (), gen_random_uuid (),"
                    "  gen_random_uuid (), 1, '2999-01-01')", 0, NULL);
  }
  g_assert_cmpint (wait_count (f, "SELECT count (*) FROM alerts"
                               " WHERE kind = 'default_partition_rows' AND state = 'firing'",
                               NULL, 1, 20), ==, 1);
  g_assert_nonnull (server);

  /* No disk has a petabyte free: the storage root is low on space. */
  g_assert_cmpint (wait_count (f, "SELECT count (*) FROM alerts WHERE kind = 'storage_low'"
                               " AND subject = $1 AND state = 'firing'", f->storage_dir, 1, 20),
                   ==, 1);
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

  g_test_add_func ("/ops/metrics-text", test_metrics_text);
  ADD ("/ops/alert-once", test_alert_once);
  ADD ("/ops/alert-conditions", test_alert_conditions);
  ADD ("/ops/metrics", test_metrics);
  ADD ("/ops/check-config", test_check_config);
  ADD ("/ops/healthz-down", test_healthz_down);
  ADD ("/ops/partitions", test_partitions);

#undef ADD

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
