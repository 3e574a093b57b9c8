/* test-api-workflows.c: /api/workflows and /api/settings over real HTTP
 *
 * The real server binary runs against a real PostgreSQL database and real
 * cdl-simworker processes, whose /object_info tells the server which node
 * types the workers have; nothing is mocked.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cdl-test-server.h"
#include "core/cdl-auth.h"
#include "core/cdl-json.h"
#include "db/cdl-pq.h"
#include "services/cdl-auth-service.h"

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
           const char *exclude)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  Sim *sim = g_new0 (Sim, 1);
  const char *prefix = "listening on http://127.0.0.1:";
  const char *p;

  g_autoptr(GSubprocessLauncher) launcher = new_launcher ();
  const char *argv[] = { cdl_test_build_path ("src/app/cdl-simworker"), "--port", "0",
                         exclude ? "--nodes-exclude" : NULL, exclude, NULL };

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
  f->tmpdir = g_dir_make_tmp ("cdl-api-wf-XXXXXX", &error);
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

/* Uploads */

static char *
corpus_text (const char *name,
             gsize      *length)
{
  g_autofree char *path = g_build_filename (g_getenv ("CDL_TEST_DATA"),
                                            "workflows", name, NULL);
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_file_get_contents (path, &text, length, &error);
  g_assert_no_error (error);

  return text;
}

/* POST /api/workflows as multipart/form-data. @file_field NULL leaves the
 * file out, @name NULL leaves the name out. */
static JsonNode *
upload_full (Fixture    *f,
             const char *token,
             const char *file_field,
             const char *name,
             const char *description,
             const char *data,
             gsize       length,
             guint      *status)
{
  g_autofree char *url = g_strconcat (f->base_url, "/api/workflows", NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr(SoupMultipart) multipart = soup_multipart_new ("multipart/form-data");
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
  const char *reply_data;
  gsize reply_len;

  if (name != NULL)
    soup_multipart_append_form_string (multipart, "name", name);
  if (description != NULL)
    soup_multipart_append_form_string (multipart, "description", description);
  if (file_field != NULL)
    {
      g_autoptr(GBytes) file = g_bytes_new (data, length);

      soup_multipart_append_form_file (multipart, file_field, "workflow_api.json",
                                       "application/json", file);
    }

  soup_multipart_to_message (multipart, headers, &body);
  soup_message_set_request_body_from_bytes (msg, NULL, body);

  if (token != NULL)
    {
      g_autofree char *value = g_strconcat ("Bearer ", token, NULL);

      soup_message_headers_replace (headers, "Authorization", value);
    }

  reply = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (msg);

  reply_data = g_bytes_get_data (reply, &reply_len);
  return reply_len > 0 ? cdl_json_parse (reply_data, reply_len, NULL) : NULL;
}

/* Uploads a corpus file and returns the stored workflow (201). */
static JsonNode *
upload_corpus (Fixture    *f,
               const char *file,
               const char *name)
{
  gsize length;
  g_autofree char *text = corpus_text (file, &length);
  g_autoptr(JsonNode) root = NULL;
  guint status;

  root = upload_full (f, f->admin_token, "workflow", name, NULL, text, length, &status);

  return json_node_copy (cdl_test_expect_ok (root, status, 201));
}

/* Problem codes of a workflow object, sorted, comma separated. */
static char *
codes_of (JsonObject *workflow)
{
  JsonArray *problems = json_object_get_array_member (workflow, "problems");
  g_autoptr(GPtrArray) codes = g_ptr_array_new ();

  for (guint i = 0; i < json_array_get_length (problems); i++)
    {
      JsonObject *p = json_array_get_object_element (problems, i);

      g_assert_nonnull (json_object_get_string_member (p, "message"));
      g_ptr_array_add (codes, (gpointer) json_object_get_string_member (p, "code"));
    }

  g_ptr_array_sort (codes, (GCompareFunc) g_strcmp0);
  g_ptr_array_add (codes, NULL);

  return g_strjoinv (",", (char **) codes->pdata);
}

static char *
ids_of (JsonArray *array)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (array); i++)
    g_string_append_printf (out, "%s%s", i > 0 ? "," : "",
                            json_array_get_string_element (array, i));

  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Node types come from /object_info after a worker's first good probe;
 * wait until an upload sees @n runnable workers. */
static void
wait_for_node_types (Fixture *f,
                     guint    n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(JsonNode) data = upload_corpus (f, "sd15.json", "node types probe");
      JsonObject *w = json_node_get_object (data);

      if (json_array_get_length (json_object_get_array_member (w, "runnable_worker_ids")) == n)
        return;
      g_usleep (100 * 1000);
    }

  g_error ("the workers' node types never reached the server");
}

/* Tests */

typedef struct
{
  const char *file;
  const char *codes;
  guint       n_prompts;
  guint       n_seeds;
} CorpusCase;

static const CorpusCase corpus_cases[] = {
  { "sd15.json", "", 2, 1 },
  { "sdxl-base-refiner.json", "", 4, 2 },
  { "flux-randomnoise.json", "", 1, 1 },
  { "latent-batch-seed.json", "", 2, 1 },
  { "ui-format.json", "ui_format", 0, 0 },
  { "forbidden-api-node.json", "api_node", 2, 2 },
  { "missing-custom-node.json", "missing_node_type", 2, 1 },
  { "cycle.json", "cycle", 2, 1 },
  { "dangling-link.json", "dangling_link", 2, 1 },
  { "batch-too-large.json", "batch_too_large", 2, 1 },
};

static void
test_corpus (Fixture       *f,
             gconstpointer  data)
{
  Sim *full = sim_spawn (f, NULL);
  Sim *partial = sim_spawn (f, "LatentBatchSeedBehavior");
  g_autofree char *full_id = register_worker (f, "full", full->url, NULL);
  g_autofree char *partial_id = register_worker (f, "partial", partial->url, NULL);
  g_autofree char *both = g_strcmp0 (full_id, partial_id) < 0
                            ? g_strconcat (full_id, ",", partial_id, NULL)
                            : g_strconcat (partial_id, ",", full_id, NULL);

  wait_for_node_types (f, 2);

  for (guint i = 0; i < G_N_ELEMENTS (corpus_cases); i++)
    {
      const CorpusCase *c = &corpus_cases[i];
      g_autoptr(JsonNode) node = upload_corpus (f, c->file, c->file);
      JsonObject *w = json_node_get_object (node);
      g_autofree char *codes = codes_of (w);
      g_autofree char *runnable = ids_of (json_object_get_array_member (w, "runnable_worker_ids"));

      g_test_message ("%s: [%s] runnable on %s", c->file, codes, runnable);
      g_assert_cmpstr (codes, ==, c->codes);
      g_assert_true (json_object_get_boolean_member (w, "valid") == (*c->codes == '\0'));
      g_assert_cmpstr (json_object_get_string_member (w, "name"), ==, c->file);
      g_assert_cmpint (json_object_get_int_member (w, "version"), ==, 1);
      g_assert_cmpint (json_object_get_int_member (w, "max_batch_size"), ==, 8);
      g_assert_cmpuint (json_array_get_length (json_object_get_array_member (w, "prompt_nodes")),
                        ==, c->n_prompts);
      g_assert_cmpuint (json_array_get_length (json_object_get_array_member (w, "seed_nodes")),
                        ==, c->n_seeds);
      g_assert_false (json_object_has_member (w, "raw_definition"));
      g_assert_nonnull (json_object_get_string_member (w, "created_at"));

      /* Only the worker with every node type can run the graph. */
      if (strcmp (c->file, "latent-batch-seed.json") == 0)
        {
          g_assert_cmpstr (runnable, ==, full_id);
          g_assert_true (json_object_get_boolean_member (w, "has_latent_batch_seed"));
          g_assert_cmpint (json_object_get_int_member (w, "batch_size"), ==, 8);
        }
      else if (strcmp (c->file, "missing-custom-node.json") == 0)
        {
          JsonObject *p = json_array_get_object_element (
            json_object_get_array_member (w, "problems"), 0);

          g_assert_cmpstr (runnable, ==, "");
          g_assert_cmpstr (json_object_get_string_member (p, "class_type"), ==, "Image Film Grain");
          g_assert_cmpstr (json_object_get_string_member (p, "node_id"), ==, "10");
        }
      else if (strcmp (c->file, "ui-format.json") == 0)
        {
          JsonObject *p = json_array_get_object_element (
            json_object_get_array_member (w, "problems"), 0);

          g_assert_nonnull (strstr (json_object_get_string_member (p, "message"),
                                    "Save (API)"));
        }
      else
        {
          g_assert_cmpstr (runnable, ==, both);
        }
    }

  /* The details of one upload. */
  {
    g_autoptr(JsonNode) node = upload_corpus (f, "flux-randomnoise.json", "flux");
    JsonObject *w = json_node_get_object (node);
    JsonObject *prompt = json_array_get_object_element (
      json_object_get_array_member (w, "prompt_nodes"), 0);
    JsonObject *seed = json_array_get_object_element (
      json_object_get_array_member (w, "seed_nodes"), 0);

    g_assert_cmpstr (json_object_get_string_member (prompt, "node_id"), ==, "6");
    g_assert_cmpstr (json_object_get_string_member (prompt, "role"), ==, "positive");
    g_assert_cmpstr (json_object_get_string_member (prompt, "input"), ==, "text");
    g_assert_cmpstr (json_object_get_string_member (seed, "node_id"), ==, "25");
    g_assert_cmpstr (json_object_get_string_member (seed, "class_type"), ==, "RandomNoise");
    g_assert_cmpstr (json_object_get_string_member (seed, "input"), ==, "noise_seed");
    g_assert_cmpstr (json_object_get_string_member (w, "model"), ==, "flux1-dev.safetensors");
    g_assert_cmpint (json_object_get_int_member (w, "width"), ==, 1024);
    g_assert_cmpint (json_object_get_int_member (w, "height"), ==, 1024);
    g_assert_cmpint (json_object_get_int_member (w, "batch_size"), ==, 1);
  }

  /* The workers' /object_info names their partner API nodes … */
  {
    const char *params[1] = { full_id };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT 'OpenAIDalle3' = ANY (api_node_types),"
                                                         "   'KSampler' = ANY (api_node_types)"
                                                         " FROM workers WHERE id = $1", 1, params);

    g_assert_cmpstr (PQgetvalue (res, 0, 0), ==, "t");
    g_assert_cmpstr (PQgetvalue (res, 0, 1), ==, "f");
  }

  /* … and uploads are checked against what the workers say, not only
   * against the names the validator knows. */
  {
    const char *params[1] = { full_id };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo, "UPDATE workers SET api_node_types ="
                                                         " '{LatentBatchSeedBehavior}' WHERE id ="
                                                         " $1",
                                            1, params);
    g_autoptr(JsonNode) node = upload_corpus (f, "latent-batch-seed.json", "paid latent");
    g_autofree char *codes = codes_of (json_node_get_object (node));

    g_assert_cmpstr (codes, ==, "api_node");
  }
}

static void
test_versions (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(JsonNode) v1 = upload_corpus (f, "sd15.json", "portraits");
  g_autoptr(JsonNode) v2 = upload_corpus (f, "batch-too-large.json", "portraits");
  g_autoptr(JsonNode) other = upload_corpus (f, "flux-randomnoise.json", "landscapes");
  g_autoptr(JsonNode) v3 = upload_corpus (f, "sdxl-base-refiner.json", "portraits");
  g_autoptr(JsonNode) list_root = NULL;
  g_autoptr(JsonNode) get_root = NULL;
  g_autoptr(PGresult) res = NULL;
  g_autofree char *path = NULL;
  g_autofree char *original = NULL;
  const char *id2 = json_object_get_string_member (json_node_get_object (v2), "id");
  const char *params[1] = { id2 };
  JsonArray *list;
  JsonObject *got;
  JsonObject *raw;
  guint status;
  gsize length;

  g_assert_cmpint (json_object_get_int_member (json_node_get_object (v1), "version"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (v2), "version"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (other), "version"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (v3), "version"), ==, 3);

  /* Newest first, with the status and without the graph. */
  list_root = api (f, "GET", "/api/workflows", f->admin_token, NULL, &status);
  list = json_node_get_array (cdl_test_expect_ok (list_root, status, 200));
  g_assert_cmpuint (json_array_get_length (list), ==, 4);
  got = json_array_get_object_element (list, 0);
  g_assert_cmpstr (json_object_get_string_member (got, "name"), ==, "portraits");
  g_assert_cmpint (json_object_get_int_member (got, "version"), ==, 3);
  g_assert_true (json_object_get_boolean_member (got, "valid"));
  g_assert_false (json_object_has_member (got, "raw_definition"));
  got = json_array_get_object_element (list, 2);
  g_assert_cmpint (json_object_get_int_member (got, "version"), ==, 2);
  g_assert_false (json_object_get_boolean_member (got, "valid"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (got, "problems")), ==, 1);

  /* One version with its graph. */
  path = g_strconcat ("/api/workflows/", id2, NULL);
  get_root = api (f, "GET", path, f->admin_token, NULL, &status);
  got = json_node_get_object (cdl_test_expect_ok (get_root, status, 200));
  g_assert_cmpstr (json_object_get_string_member (got, "id"), ==, id2);
  raw = json_object_get_object_member (got, "raw_definition");
  g_assert_nonnull (raw);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (
                     json_object_get_object_member (raw, "5"), "inputs"), "batch_size"), ==, 64);

  /* The upload is kept byte for byte. */
  original = corpus_text ("batch-too-large.json", &length);
  res = cdl_test_sql (f->conninfo, "SELECT raw_text FROM workflows WHERE id = $1", 1, params);
  g_assert_cmpstr (PQgetvalue (res, 0, 0), ==, original);
}

typedef struct
{
  GMainLoop *loop;
  guint      pending;
  GPtrArray *versions;
} Concurrent;

static void
concurrent_done_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Concurrent *c = user_data;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *data;

  reply = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
  root = cdl_json_parse (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply), NULL);
  g_assert_nonnull (root);
  data = json_object_get_object_member (json_node_get_object (root), "data");
  g_assert_nonnull (data);
  g_ptr_array_add (c->versions,
                   GINT_TO_POINTER ((int) json_object_get_int_member (data, "version")));

  if (--c->pending == 0)
    g_main_loop_quit (c->loop);
}

static int
compare_ints (gconstpointer a,
              gconstpointer b)
{
  return GPOINTER_TO_INT (*(gpointer *) a) - GPOINTER_TO_INT (*(gpointer *) b);
}

static void
test_concurrent_versions (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *url = g_strconcat (f->base_url, "/api/workflows", NULL);
  g_autofree char *auth = g_strconcat ("Bearer ", f->admin_token, NULL);
  gsize length;
  g_autofree char *text = corpus_text ("sd15.json", &length);
  Concurrent c = { 0 };
  const guint n = 6;

  g_main_context_push_thread_default (context);
  session = soup_session_new_with_options ("max-conns-per-host", 8, "timeout", 20, NULL);
  c.loop = g_main_loop_new (context, FALSE);
  c.versions = g_ptr_array_new ();
  c.pending = n;

  for (guint i = 0; i < n; i++)
    {
      SoupMessage *msg = soup_message_new ("POST", url);
      g_autoptr(SoupMultipart) multipart = soup_multipart_new ("multipart/form-data");
      g_autoptr(GBytes) file = g_bytes_new (text, length);
      g_autoptr(GBytes) body = NULL;

      soup_multipart_append_form_string (multipart, "name", "raced");
      soup_multipart_append_form_file (multipart, "file", "workflow_api.json",
                                       "application/json", file);
      soup_multipart_to_message (multipart, soup_message_get_request_headers (msg), &body);
      soup_message_set_request_body_from_bytes (msg, NULL, body);
      soup_message_headers_replace (soup_message_get_request_headers (msg),
                                    "Authorization", auth);
      g_ptr_array_add (messages, msg);
      soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL,
                                        concurrent_done_cb, &c);
    }

  g_main_loop_run (c.loop);

  /* Every upload got its own number, 1 … n. */
  g_ptr_array_sort (c.versions, compare_ints);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (c.versions, i)), ==, i + 1);

  g_ptr_array_unref (c.versions);
  g_main_loop_unref (c.loop);
  g_clear_object (&session);
  g_main_context_pop_thread_default (context);
}

static void
test_settings (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) before = NULL;
  g_autoptr(JsonNode) after = NULL;
  g_autofree char *text = NULL;
  JsonObject *s;
  guint status;

  root = api (f, "GET", "/api/settings", f->admin_token, NULL, &status);
  text = cdl_json_to_string (cdl_test_expect_ok (root, status, 200), FALSE);
  g_assert_cmpstr (text, ==,
                   "{\"max_workflow_batch_size\":8,\"resolution_min_side\":256,"
                   "\"resolution_max_side\":2048,\"resolution_max_pixels\":4194304,"
                   "\"forbidden_node_types\":[],\"controlnet_allowed\":true,"
                   "\"queue_depth_threshold\":1,\"pilot_rate_limit_seconds\":30,"
                   "\"free_every_n_jobs\":50}");
  g_clear_pointer (&root, json_node_unref);

  /* The SDXL graph makes batches of 4: fine under the default limit … */
  before = upload_corpus (f, "sdxl-base-refiner.json", "sdxl");
  g_assert_true (json_object_get_boolean_member (json_node_get_object (before), "valid"));

  /* … too large once the admin lowers it. */
  root = api (f, "PATCH", "/api/settings", f->admin_token,
              "{\"max_workflow_batch_size\": 2, \"forbidden_node_types\": [\"LoraLoader\"]}",
              &status);
  s = json_node_get_object (cdl_test_expect_ok (root, status, 200));
  g_assert_cmpint (json_object_get_int_member (s, "max_workflow_batch_size"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (s, "resolution_max_side"), ==, 2048);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (s,
                                                                       "forbidden_node_types")),
                    ==, 1);
  g_clear_pointer (&root, json_node_unref);

  after = upload_corpus (f, "sdxl-base-refiner.json", "sdxl");
  {
    JsonObject *w = json_node_get_object (after);
    g_autofree char *codes = codes_of (w);

    g_assert_cmpstr (codes, ==, "batch_too_large");
    g_assert_false (json_object_get_boolean_member (w, "valid"));
    g_assert_cmpint (json_object_get_int_member (w, "version"), ==, 2);
    g_assert_cmpint (json_object_get_int_member (w, "max_batch_size"), ==, 2);
  }

  /* The change is stored: a fresh read shows it. */
  root = api (f, "GET", "/api/settings", f->admin_token, NULL, &status);
  s = json_node_get_object (cdl_test_expect_ok (root, status, 200));
  g_assert_cmpint (json_object_get_int_member (s, "max_workflow_batch_size"), ==, 2);
  g_clear_pointer (&root, json_node_unref);

  /* Bad patches name the field and change nothing. */
  root = api (f, "PATCH", "/api/settings", f->admin_token,
              "{\"queue_depth_threshold\": 0}", &status);
  cdl_test_expect_error (root, status, 400, "queue_depth_threshold");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (json_node_get_object (root),
                                                                 "error"),
                                   "queue_depth_threshold"));
  g_clear_pointer (&root, json_node_unref);

  root = api (f, "PATCH", "/api/settings", f->admin_token,
              "{\"max_workflow_batch_size\": 4, \"colour\": \"blue\"}", &status);
  cdl_test_expect_error (root, status, 400, "colour is not a setting");
  g_clear_pointer (&root, json_node_unref);

  root = api (f, "PATCH", "/api/settings", f->admin_token,
              "{\"controlnet_allowed\": \"no\"}", &status);
  cdl_test_expect_error (root, status, 400, "controlnet_allowed");
  g_clear_pointer (&root, json_node_unref);

  root = api (f, "PATCH", "/api/settings", f->admin_token, "[]", &status);
  cdl_test_expect_error (root, status, 400, NULL);
  g_clear_pointer (&root, json_node_unref);

  root = api (f, "GET", "/api/settings", f->admin_token, NULL, &status);
  s = json_node_get_object (cdl_test_expect_ok (root, status, 200));
  g_assert_cmpint (json_object_get_int_member (s, "max_workflow_batch_size"), ==, 2);
  g_assert_true (json_object_get_boolean_member (s, "controlnet_allowed"));
  g_clear_pointer (&root, json_node_unref);

  /* A row spoiled behind the product's back reads as the default. */
  {
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo, "UPDATE settings SET value = '\"many\"'"
                                                         " WHERE key ="
                                                         " 'max_workflow_batch_size'", 0, NULL);
  }
  root = api (f, "GET", "/api/settings", f->admin_token, NULL, &status);
  s = json_node_get_object (cdl_test_expect_ok (root, status, 200));
  g_assert_cmpint (json_object_get_int_member (s, "max_workflow_batch_size"), ==, 8);
}

static void
test_refusals (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *operator = issue_token (f, "olga", CDL_ROLE_OPERATOR);
  g_autofree char *annotator = issue_token (f, "anna", CDL_ROLE_ANNOTATOR);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) stored = NULL;
  g_autofree char *path = NULL;
  gsize length;
  g_autofree char *text = corpus_text ("sd15.json", &length);
  guint status;

  /* 401 without a token. */
  root = upload_full (f, NULL, "workflow", "x", NULL, text, length, &status);
  cdl_test_expect_error (root, status, 401, NULL);
  g_clear_pointer (&root, json_node_unref);
  root = api (f, "GET", "/api/workflows", NULL, NULL, &status);
  cdl_test_expect_error (root, status, 401, NULL);
  g_clear_pointer (&root, json_node_unref);
  root = api (f, "GET", "/api/settings", NULL, NULL, &status);
  cdl_test_expect_error (root, status, 401, NULL);
  g_clear_pointer (&root, json_node_unref);

  /* 403: uploads and settings are for admins, reading for operators. */
  root = upload_full (f, operator, "workflow", "x", NULL, text, length, &status);
  cdl_test_expect_error (root, status, 403, NULL);
  g_clear_pointer (&root, json_node_unref);
  root = api (f, "GET", "/api/settings", operator, NULL, &status);
  cdl_test_expect_error (root, status, 403, NULL);
  g_clear_pointer (&root, json_node_unref);
  root = api (f, "PATCH", "/api/settings", operator, "{\"free_every_n_jobs\": 5}", &status);
  cdl_test_expect_error (root, status, 403, NULL);
  g_clear_pointer (&root, json_node_unref);
  root = api (f, "GET", "/api/workflows", annotator, NULL, &status);
  cdl_test_expect_error (root, status, 403, NULL);
  g_clear_pointer (&root, json_node_unref);

  /* 400: not a form, no file, no name, not JSON; nothing is stored. */
  root = api (f, "POST", "/api/workflows", f->admin_token, text, &status);
  cdl_test_expect_error (root, status, 400, "multipart/form-data");
  g_clear_pointer (&root, json_node_unref);
  root = upload_full (f, f->admin_token, NULL, "x", NULL, NULL, 0, &status);
  cdl_test_expect_error (root, status, 400, "workflow is missing");
  g_clear_pointer (&root, json_node_unref);
  root = upload_full (f, f->admin_token, "workflow", NULL, NULL, text, length, &status);
  cdl_test_expect_error (root, status, 400, "name is required");
  g_clear_pointer (&root, json_node_unref);
  root = upload_full (f, f->admin_token, "workflow", "  ", NULL, text, length, &status);
  cdl_test_expect_error (root, status, 400, "name is required");
  g_clear_pointer (&root, json_node_unref);
  root = upload_full (f, f->admin_token, "workflow", "x", NULL,
                      "this is not JSON", strlen ("this is not JSON"), &status);
  cdl_test_expect_error (root, status, 400, "not valid JSON");
  g_clear_pointer (&root, json_node_unref);
  root = upload_full (f, f->admin_token, "workflow", "x", NULL, text, length / 2, &status);
  cdl_test_expect_error (root, status, 400, "not valid JSON");
  g_clear_pointer (&root, json_node_unref);

  /* 413 above 8 MiB, before the body is read. */
  {
    gsize big_length = 9 * 1024 * 1024;
    g_autofree char *big = g_malloc (big_length);

    memset (big, ' ', big_length);
    root = upload_full (f, f->admin_token, "workflow", "huge", NULL, big, big_length,
                        &status);
    g_assert_cmpuint (status, ==, 413);
    g_clear_pointer (&root, json_node_unref);
  }

  root = api (f, "GET", "/api/workflows", operator, NULL, &status);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (cdl_test_expect_ok (root, status,
                                                                                    200))),
                    ==, 0);
  g_clear_pointer (&root, json_node_unref);

  /* The "file" field name works too, with a description; operators read. */
  root = upload_full (f, f->admin_token, "file", "portraits", "Studio portraits, SD 1.5",
                      text, length, &status);
  stored = json_node_copy (cdl_test_expect_ok (root, status, 201));
  g_clear_pointer (&root, json_node_unref);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (stored), "description"),
                   ==, "Studio portraits, SD 1.5");
  path = g_strconcat ("/api/workflows/",
                      json_object_get_string_member (json_node_get_object (stored), "id"), NULL);
  root = api (f, "GET", path, operator, NULL, &status);
  cdl_test_expect_ok (root, status, 200);
  g_clear_pointer (&root, json_node_unref);

  /* 404 for unknown and malformed ids. */
  root = api (f, "GET", "/api/workflows/00000000-0000-4000-8000-000000000000",
              operator, NULL, &status);
  cdl_test_expect_error (root, status, 404, NULL);
  g_clear_pointer (&root, json_node_unref);
  root = api (f, "GET", "/api/workflows/not-an-id", operator, NULL, &status);
  cdl_test_expect_error (root, status, 404, NULL);
  g_clear_pointer (&root, json_node_unref);
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

  ADD ("/api-workflows/corpus", test_corpus);
  ADD ("/api-workflows/versions", test_versions);
  ADD ("/api-workflows/concurrent-versions", test_concurrent_versions);
  ADD ("/api-workflows/settings", test_settings);
  ADD ("/api-workflows/refusals", test_refusals);

#undef ADD

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
