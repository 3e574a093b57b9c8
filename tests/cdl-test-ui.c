/* cdl-test-ui.c: driving the real desktop application in a test
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "cdl-test-ui.h"

static CdlTestPg *test_pg;
static guint unexpected_warnings;

CdlTestPg *
cdl_test_ui_init (int    *argc,
                  char ***argv)
{
  g_autoptr(GError) error = NULL;

  g_test_init (argc, argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  gtk_disable_setlocale ();

  test_pg = cdl_test_pg_start (&error);
  g_assert_no_error (error);

  return test_pg;
}

static GLogWriterOutput
log_writer_cb (GLogLevelFlags   log_level,
               const GLogField *fields,
               gsize            n_fields,
               gpointer         user_data)
{
  if ((log_level & G_LOG_LEVEL_WARNING) != 0)
    unexpected_warnings++;

  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

CdlTestPg *
cdl_test_ui_init_counting_warnings (int    *argc,
                                    char ***argv)
{
  CdlTestPg *pg = cdl_test_ui_init (argc, argv);

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_log_set_writer_func (log_writer_cb, NULL, NULL);

  return pg;
}

static gboolean
wake_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

gboolean
cdl_test_ui_iterate_until (CdlTestUiCondition condition,
                           gpointer           data,
                           guint              timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  /* A short timer keeps the loop from sleeping past the deadline. */
  guint wake = g_timeout_add (20, wake_cb, NULL);
  gboolean met;

  while (!(met = condition (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);

  g_source_remove (wake);

  return met;
}

GtkWidget *
cdl_test_ui_find_named (GtkWidget  *root,
                        const char *name)
{
  if (g_strcmp0 (gtk_widget_get_name (root), name) == 0)
    return root;

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = cdl_test_ui_find_named (child, name);

      if (found != NULL)
        return found;
    }

  return NULL;
}

void
cdl_test_ui_collect_named (GtkWidget  *root,
                           const char *name,
                           GPtrArray  *found)
{
  if (g_strcmp0 (gtk_widget_get_name (root), name) == 0)
    g_ptr_array_add (found, root);

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    cdl_test_ui_collect_named (child, name, found);
}

GtkWidget *
cdl_test_ui_named (GtkWidget  *root,
                   const char *name)
{
  GtkWidget *widget = cdl_test_ui_find_named (root, name);

  if (widget == NULL)
    g_error ("No widget named %s", name);

  return widget;
}

typedef struct
{
  GType       type;
  const char *name;
} WindowWait;

static GtkWindow *
find_toplevel (WindowWait *wait)
{
  GListModel *toplevels = gtk_window_get_toplevels ();
  guint n = g_list_model_get_n_items (toplevels);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (!gtk_widget_get_visible (GTK_WIDGET (window)) ||
          !g_type_is_a (G_OBJECT_TYPE (window), wait->type))
        continue;

      if (wait->name == NULL ||
          g_strcmp0 (gtk_widget_get_name (GTK_WIDGET (window)), wait->name) == 0)
        return window;
    }

  return NULL;
}

static gboolean
window_shown (gpointer data)
{
  return find_toplevel (data) != NULL;
}

static gboolean
window_gone (gpointer data)
{
  return find_toplevel (data) == NULL;
}

GtkWindow *
cdl_test_ui_wait_for_window (GType       type,
                             const char *name)
{
  WindowWait wait = { type, name };

  g_assert_true (cdl_test_ui_iterate_until (window_shown, &wait,
                                            CDL_TEST_UI_WAIT_TIMEOUT_MS));

  return find_toplevel (&wait);
}

void
cdl_test_ui_wait_window_gone (GType       type,
                              const char *name)
{
  WindowWait wait = { type, name };

  g_assert_true (cdl_test_ui_iterate_until (window_gone, &wait, CDL_TEST_UI_WAIT_TIMEOUT_MS));
}

void
cdl_test_ui_respond (GtkWindow  *dialog,
                     const char *response)
{
  g_autofree char *name = g_strdup (gtk_widget_get_name (GTK_WIDGET (dialog)));

  g_assert_true (adw_message_dialog_get_response_enabled (ADW_MESSAGE_DIALOG (dialog),
                                                          response));
  g_object_ref (dialog);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), response);
  /* A button closes the dialog after its response; the call alone may not. */
  if (gtk_widget_get_visible (GTK_WIDGET (dialog)))
    gtk_window_destroy (dialog);
  g_object_unref (dialog);

  cdl_test_ui_wait_window_gone (ADW_TYPE_MESSAGE_DIALOG, name);
}

void
cdl_test_ui_click (GtkWidget *button)
{
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

CdlApplication *
cdl_test_ui_new_app (const char *conninfo,
                     const char *tmpdir)
{
  g_autofree char *secrets = g_build_filename (tmpdir, "secrets.json", NULL);
  CdlApplication *app;

  g_setenv ("DATABASE_URL", conninfo, TRUE);
  g_setenv ("CDL_DATA_DIR", tmpdir, TRUE);
  g_setenv ("CDL_SECRETS_FILE", secrets, TRUE);
  g_setenv ("CDL_HEALTH_INTERVAL_MS", "500", TRUE);
  g_setenv ("CDL_SERVER_PORT", "0", TRUE);

  app = cdl_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);

  return app;
}

typedef struct
{
  CdlTestUiBody  body;
  gpointer       data;
  gboolean       scheduled;
  gboolean       ran;
} Run;

static gboolean
app_started (gpointer data)
{
  return cdl_application_get_state (data) != CDL_APPLICATION_STATE_STARTING;
}

static gboolean
run_body_cb (gpointer data)
{
  GtkApplication *app = g_object_get_data (data, "cdl-test-ui-app");
  Run *run = g_object_get_data (data, "cdl-test-ui-run");
  GtkWindow *window = gtk_application_get_active_window (app);

  g_assert_true (CDL_IS_WINDOW (window));
  g_assert_true (cdl_test_ui_iterate_until (app_started, app,
                                            CDL_TEST_UI_START_TIMEOUT_MS));
  if (cdl_application_get_state (CDL_APPLICATION (app)) == CDL_APPLICATION_STATE_FAILED)
    g_error ("The application did not start: %s",
             cdl_application_get_start_error (CDL_APPLICATION (app))->message);

  run->body (CDL_APPLICATION (app), CDL_WINDOW (window), run->data);
  run->ran = TRUE;

  while ((window = gtk_application_get_active_window (app)) != NULL)
    gtk_window_destroy (window);
  g_application_quit (G_APPLICATION (app));

  return G_SOURCE_REMOVE;
}

static void
activate_cb (GApplication *app,
             GObject      *holder)
{
  Run *run = g_object_get_data (holder, "cdl-test-ui-run");

  if (!run->scheduled)
    {
      run->scheduled = TRUE;
      g_idle_add (run_body_cb, holder);
    }
}

void
cdl_test_ui_run (CdlApplication *app,
                 CdlTestUiBody   body,
                 gpointer        data)
{
  char *argv[] = { (char *) "test-ui", NULL };
  g_autoptr(GObject) holder = g_object_new (G_TYPE_OBJECT, NULL);
  Run run = { body, data, FALSE, FALSE };

  g_object_set_data (holder, "cdl-test-ui-app", app);
  g_object_set_data (holder, "cdl-test-ui-run", &run);
  g_signal_connect_object (app, "activate", G_CALLBACK (activate_cb), holder,
                           G_CONNECT_AFTER);

  g_assert_cmpint (g_application_run (G_APPLICATION (app), 1, argv), ==, 0);
  g_assert_true (run.ran);
}

void
cdl_test_ui_remove_tree (const char *path)
{
  g_autoptr(GFile) dir = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children != NULL &&
         (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autoptr(GFile) child = g_file_get_child (dir, g_file_info_get_name (info));
      g_autofree char *child_path = g_file_get_path (child);

      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        cdl_test_ui_remove_tree (child_path);
      else
        g_file_delete (child, NULL, NULL);
      g_object_unref (info);
    }
  g_rmdir (path);
}

void
cdl_test_ui_save_screenshot (GtkWidget  *widget,
                             int         width,
                             int         height,
                             const char *path)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, path));
}

typedef struct
{
  GObject  *object;
  GError   *error;
  gboolean  done;
} Wait;

static gboolean
wait_done (gpointer data)
{
  return ((Wait *) data)->done;
}

static gpointer
wait_result (Wait *wait)
{
  g_assert_true (cdl_test_ui_iterate_until (wait_done, wait, CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_assert_no_error (wait->error);
  g_assert_nonnull (wait->object);

  return wait->object;
}

/* A callback that keeps the result of @finish in its Wait. */
#define FINISH_CB(name, finish, Type) \
  static void \
  name (GObject *object, GAsyncResult *result, gpointer user_data) \
  { \
    Wait *wait = user_data; \
    wait->object = (GObject *) finish (Type (object), result, &wait->error); \
    wait->done = TRUE; \
  }

FINISH_CB (worker_created_cb, cdl_worker_service_create_finish, CDL_WORKER_SERVICE)
FINISH_CB (worker_got_cb, cdl_worker_service_get_finish, CDL_WORKER_SERVICE)
FINISH_CB (workflow_uploaded_cb, cdl_workflow_service_upload_finish, CDL_WORKFLOW_SERVICE)
FINISH_CB (pool_created_cb, cdl_pool_service_create_finish, CDL_POOL_SERVICE)
FINISH_CB (task_created_cb, cdl_task_service_create_finish, CDL_TASK_SERVICE)
FINISH_CB (task_frozen_cb, cdl_task_service_freeze_finish, CDL_TASK_SERVICE)

JsonNode *
cdl_test_ui_parse_json (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (json, &error);

  g_assert_no_error (error);
  return node;
}

typedef struct
{
  CdlWorkerService *service;
  const char       *id;
} HealthyWait;

static gboolean
worker_healthy (gpointer data)
{
  HealthyWait *hw = data;
  Wait wait = { 0 };
  g_autoptr(CdlWorker) worker = NULL;

  cdl_worker_service_get_async (hw->service, hw->id, NULL, worker_got_cb, &wait);
  worker = wait_result (&wait);

  return cdl_worker_get_last_checked_at (worker) != NULL &&
         cdl_worker_get_status (worker) == CDL_WORKER_STATUS_HEALTHY;
}

void
cdl_test_ui_add_worker (CdlApplication *app,
                        const char     *name,
                        const char     *base_url,
                        int             max_concurrent_jobs)
{
  CdlInstance *instance = cdl_application_get_instance (app);
  g_autofree char *json = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorker) worker = NULL;
  CdlWorkerInput *input;
  Wait wait = { 0 };
  HealthyWait hw = { cdl_instance_get_worker_service (instance), NULL };

  json = g_strdup_printf ("{\"name\": \"%s\", \"base_url\": \"%s\","
                          " \"max_concurrent_jobs\": %d}", name, base_url, max_concurrent_jobs);
  node = cdl_test_ui_parse_json (json);
  input = cdl_worker_input_from_json (node, TRUE, &error);
  g_assert_no_error (error);

  cdl_worker_service_create_async (hw.service, input, NULL, worker_created_cb, &wait);
  worker = wait_result (&wait);
  hw.id = cdl_worker_get_id (worker);
  g_assert_true (cdl_test_ui_iterate_until (worker_healthy, &hw, CDL_TEST_UI_WAIT_TIMEOUT_MS));
}

char *
cdl_test_ui_add_task_full (CdlApplication     *app,
                           const char         *workflow_name,
                           const char         *pool_name,
                           const char         *task_name,
                           const char * const *items,
                           int                 seeds,
                           gboolean            freeze)
{
  CdlInstance *instance = cdl_application_get_instance (app);
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorkflow) workflow = NULL;
  g_autoptr(CdlPool) pool = NULL;
  g_autoptr(CdlTask) draft = NULL;
  g_autoptr(CdlTask) frozen = NULL;
  g_autoptr(GString) quoted = g_string_new (NULL);
  g_autoptr(JsonNode) pool_node = NULL;
  g_autoptr(JsonNode) task_node = NULL;
  g_autofree char *pool_json = NULL;
  g_autofree char *task_json = NULL;
  guint n_items = g_strv_length ((char **) items);
  CdlPoolInput *pool_input;
  CdlTaskInput *task_input;
  gsize len;
  Wait wait1 = { 0 }, wait2 = { 0 }, wait3 = { 0 }, wait4 = { 0 };

  path = g_build_filename (g_getenv ("CDL_TEST_DATA"), "workflows", "sd15.json", NULL);
  g_assert_true (g_file_get_contents (path, &text, &len, &error));
  raw = g_bytes_new_take (g_steal_pointer (&text), len);
  cdl_workflow_service_upload_async (cdl_instance_get_workflow_service (instance),
                                     workflow_name, NULL, raw, NULL, NULL,
                                     workflow_uploaded_cb, &wait1);
  workflow = wait_result (&wait1);

  for (guint i = 0; i < n_items; i++)
    g_string_append_printf (quoted, "%s\"%s\"", i > 0 ? ", " : "", items[i]);
  pool_json = g_strdup_printf ("{\"name\": \"%s\", \"mode\": \"no_replacement\","
                               " \"items\": [%s]}", pool_name, quoted->str);
  pool_node = cdl_test_ui_parse_json (pool_json);
  pool_input = cdl_pool_input_from_json (pool_node, TRUE, &error);
  g_assert_no_error (error);
  cdl_pool_service_create_async (cdl_instance_get_pool_service (instance), pool_input,
                                 NULL, pool_created_cb, &wait2);
  pool = wait_result (&wait2);

  task_json = g_strdup_printf ("{\"name\": \"%s\", \"workflow_id\": \"%s\","
                               " \"variable_pool_ids\": [\"%s\"],"
                               " \"target_prompts\": %u, \"seeds_per_prompt\": %d}",
                               task_name, cdl_workflow_get_id (workflow),
                               cdl_pool_get_id (pool), n_items, seeds);
  task_node = cdl_test_ui_parse_json (task_json);
  task_input = cdl_task_input_from_json (task_node, TRUE, &error);
  g_assert_no_error (error);
  cdl_task_service_create_async (cdl_instance_get_task_service (instance), task_input, NULL,
                                 NULL, task_created_cb, &wait3);
  draft = wait_result (&wait3);
  if (!freeze)
    return g_strdup (cdl_task_get_id (draft));

  cdl_task_service_freeze_async (cdl_instance_get_task_service (instance),
                                 cdl_task_get_id (draft), NULL, task_frozen_cb, &wait4);
  frozen = wait_result (&wait4);

  return g_strdup (cdl_task_get_id (frozen));
}

char *
cdl_test_ui_add_task (CdlApplication *app,
                      const char     *name,
                      int             prompts,
                      int             seeds,
                      gboolean        freeze)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *pool_name = g_strdup_printf ("subject_%s", name);

  for (int i = 0; i < prompts; i++)
    g_ptr_array_add (items, g_strdup_printf ("a watercolour of a lighthouse at dusk, number %d",
                                             i + 1));
  g_ptr_array_add (items, NULL);

  return cdl_test_ui_add_task_full (app, name, pool_name, name,
                                    (const char * const *) items->pdata, seeds, freeze);
}

typedef struct
{
  CdlTestUiFixtureBody body;
  int                  ms_per_image;
} Case;

static void
fixture_set_up (CdlTestUiFixture *f,
                gconstpointer     data)
{
  const Case *test = data;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (test_pg);
  f->conninfo = cdl_test_pg_new_database (test_pg, &error);
  g_assert_no_error (error);

  f->tmpdir = g_dir_make_tmp ("cdl-test-ui-XXXXXX", &error);
  g_assert_no_error (error);

  if (test->ms_per_image >= 0)
    {
      f->sim = cdl_sim_server_new ();
      if (test->ms_per_image > 0)
        cdl_sim_server_set_ms_per_image (f->sim, test->ms_per_image);
      cdl_sim_server_listen (f->sim, 0, &error);
      g_assert_no_error (error);
      f->sim_url = g_strdup_printf ("http://127.0.0.1:%u", cdl_sim_server_get_port (f->sim));
    }

  f->app = cdl_test_ui_new_app (f->conninfo, f->tmpdir);
}

static void
fixture_body (CdlApplication *app,
              CdlWindow      *window,
              gpointer        data)
{
  CdlTestUiFixture *f = g_object_get_data (G_OBJECT (app), "cdl-test-ui-fixture");
  const Case *test = data;

  f->window = window;
  test->body (f);
  f->window = NULL;
}

static void
fixture_run (CdlTestUiFixture *f,
             gconstpointer     data)
{
  g_object_set_data (G_OBJECT (f->app), "cdl-test-ui-fixture", f);
  cdl_test_ui_run (f->app, fixture_body, (gpointer) data);
}

static void
fixture_tear_down (CdlTestUiFixture *f,
                   gconstpointer     data)
{
  g_object_add_weak_pointer (G_OBJECT (f->app), (gpointer *) &f->app);
  g_object_unref (f->app);
  g_assert_null (f->app);

  g_assert_cmpuint (unexpected_warnings, ==, 0);

  g_clear_object (&f->sim);
  g_clear_pointer (&f->sim_url, g_free);
  g_clear_pointer (&f->conninfo, g_free);

  if (f->tmpdir != NULL)
    {
      cdl_test_ui_remove_tree (f->tmpdir);
      g_clear_pointer (&f->tmpdir, g_free);
    }
}

void
cdl_test_ui_add (const char           *path,
                 CdlTestUiFixtureBody  body,
                 int                   ms_per_image)
{
  /* Lives as long as the test program. */
  Case *test = g_new0 (Case, 1);

  test->body = body;
  test->ms_per_image = ms_per_image;
  g_test_add_vtable (path, sizeof (CdlTestUiFixture), test,
                     (GTestFixtureFunc) fixture_set_up,
                     (GTestFixtureFunc) fixture_run,
                     (GTestFixtureFunc) fixture_tear_down);
}
