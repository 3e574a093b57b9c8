/* test-ui-demo.c: the first run's "Start a Demo Worker"
 *
 * Starts the real application on an empty database of its own, so the
 * Workers page offers the demo. Pressing it must start a real
 * cdl-simworker subprocess, register it as a healthy worker and leave a
 * demo task of 6 prompts × 4 seeds open on the Tasks page; the test then
 * pilots, freezes and runs that task with the pages' own buttons until the
 * dashboard says DONE, labels every batch and exports the DPO JSONL, and
 * checks that quitting the app stops the worker
 * and that the next start comes back at the saved size on the same task.
 * Runs under Xvfb.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <adwaita.h>
#include <json-glib/json-glib.h>

#include "cdl-test-pg.h"
#include "cdl-test-ui.h"
#include "ui/cdl-annotate-page.h"
#include "ui/cdl-export-page.h"
#include "ui/cdl-pilot-page.h"

#define RUN_TIMEOUT_MS 120000

static CdlTestPg *pg;

typedef struct
{
  CdlApplication *app;
  CdlWindow      *window;
  char           *worker_url;
  char           *task_id;
  char           *last_task_id;
  const char     *tmpdir;
  char           *worker_id;
  char           *resumed_url;
} Demo;

static gboolean
demo_button_shown (gpointer data)
{
  Demo *demo = data;
  GtkWidget *page = GTK_WIDGET (cdl_window_get_workers_page (demo->window));
  GtkWidget *button = cdl_test_ui_find_named (page, "empty-demo-button");

  return button != NULL && gtk_widget_get_mapped (button) && gtk_widget_is_sensitive (button);
}

/* A demo task other than the one seen so far is open on the Tasks page. */
static gboolean
demo_task_shown (gpointer data)
{
  Demo *demo = data;
  CdlTask *task = cdl_tasks_page_get_shown (cdl_window_get_tasks_page (demo->window));

  return task != NULL && g_str_has_prefix (cdl_task_get_name (task), "Demo ") &&
         g_strcmp0 (cdl_task_get_id (task), demo->task_id) != 0 &&
         g_strcmp0 (cdl_window_get_visible_page (demo->window), "tasks") == 0;
}

typedef struct
{
  CdlWorker *worker;
  GError    *error;
  gboolean   done;
} WorkerWait;

static void
worker_got_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  WorkerWait *wait = user_data;

  wait->worker = cdl_worker_service_get_finish (CDL_WORKER_SERVICE (object), result,
                                                &wait->error);
  wait->done = TRUE;
}

static gboolean
worker_wait_done (gpointer data)
{
  return ((WorkerWait *) data)->done;
}

static gboolean
dashboard_says (gpointer data)
{
  gpointer *args = data;
  CdlRunDashboard *dashboard = args[0];

  return g_strcmp0 (cdl_run_dashboard_get_task (dashboard), args[1]) == 0 &&
         g_strcmp0 (cdl_run_dashboard_get_state (dashboard), args[2]) == 0;
}

static void
wait_dashboard (CdlRunDashboard *dashboard,
                const char      *task_id,
                const char      *state,
                guint            timeout_ms)
{
  gpointer args[] = { dashboard, (gpointer) task_id, (gpointer) state };

  if (!cdl_test_ui_iterate_until (dashboard_says, args, timeout_ms))
    g_error ("The dashboard shows %s, not %s", cdl_run_dashboard_get_state (dashboard), state);
}

static gboolean
pilot_done (gpointer data)
{
  return g_strcmp0 (cdl_pilot_page_get_view (data), "result") == 0;
}

typedef struct
{
  CdlAnnotatePage *page;
  const char      *view;
  char            *not_batch;
} LabelWait;

static gboolean
annotate_settled (gpointer data)
{
  LabelWait *wait = data;

  return !cdl_annotate_page_is_busy (wait->page) &&
         g_strcmp0 (cdl_annotate_page_get_view (wait->page), wait->view) == 0 &&
         (wait->not_batch == NULL ||
          g_strcmp0 (cdl_annotate_page_get_batch_id (wait->page), wait->not_batch) != 0);
}

static void
wait_annotate (CdlAnnotatePage *page,
               const char      *view,
               char            *not_batch)
{
  LabelWait wait = { page, view, not_batch };

  if (!cdl_test_ui_iterate_until (annotate_settled, &wait, CDL_TEST_UI_WAIT_TIMEOUT_MS))
    g_error ("The Annotate page shows %s, not %s", cdl_annotate_page_get_view (page), view);
}

/* Labels every batch of the demo task the way the keyboard does: 1
 * chooses the first image shown, Shift+2 rejects the second. */
static void
label_demo_task (CdlWindow  *window,
                 const char *task_id)
{
  CdlAnnotatePage *page;
  guint labelled = 0;

  page = CDL_ANNOTATE_PAGE (cdl_test_ui_named (GTK_WIDGET (window), "annotate-page"));
  cdl_window_set_visible_page (window, "annotate");
  cdl_annotate_page_open_task (page, task_id);
  wait_annotate (page, "gallery", NULL);

  while (g_strcmp0 (cdl_annotate_page_get_view (page), "gallery") == 0)
    {
      g_autofree char *batch = g_strdup (cdl_annotate_page_get_batch_id (page));

      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "annotate.reject",
                                                 "i", 1));
      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "annotate.choose",
                                                 "i", 0));
      labelled++;
      if (labelled == CDL_DEMO_PROMPTS)
        wait_annotate (page, "done", NULL);
      else
        wait_annotate (page, "gallery", batch);
    }

  g_assert_cmpuint (labelled, ==, CDL_DEMO_PROMPTS);
}

static gboolean
export_idle (gpointer data)
{
  return !cdl_export_page_is_busy (data);
}

/* Saves the demo task's DPO JSONL from the Export page: a line a batch. */
static void
export_demo_task (CdlWindow  *window,
                  const char *task_id,
                  const char *dir)
{
  CdlExportPage *page;
  g_autofree char *path = g_build_filename (dir, "demo.jsonl", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(JsonNode) line = NULL;
  g_autoptr(GError) error = NULL;

  page = CDL_EXPORT_PAGE (cdl_test_ui_named (GTK_WIDGET (window), "export-page"));
  cdl_window_set_visible_page (window, "export");
  g_assert_true (cdl_test_ui_iterate_until (export_idle, page, CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_assert_true (cdl_export_page_select_task (page, task_id));
  g_assert_true (cdl_test_ui_iterate_until (export_idle, page, CDL_TEST_UI_WAIT_TIMEOUT_MS));
  cdl_export_page_save_to_file (page, file);
  g_assert_true (cdl_test_ui_iterate_until (export_idle, page, CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_assert_cmpint (cdl_export_page_get_saved_lines (page), ==, CDL_DEMO_PROMPTS);

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, CDL_DEMO_PROMPTS + 1);
  line = json_from_string (lines[0], &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (json_node_get_object (line),
                                                                  "prompt"),
                                   "a watercolour painting of "));
}

static gboolean
button_ready (gpointer data)
{
  return gtk_widget_get_mapped (data) && gtk_widget_is_sensitive (data);
}

static void
demo_body (CdlApplication *app,
           CdlWindow      *window,
           gpointer        data)
{
  Demo *demo = data;
  CdlInstance *instance = cdl_application_get_instance (app);
  CdlTasksPage *page = cdl_window_get_tasks_page (window);
  CdlRunDashboard *dashboard = cdl_tasks_page_get_dashboard (page);
  CdlDemoService *service;
  CdlTask *task;
  WorkerWait wait = { 0 };
  GtkWindow *dialog;
  GtkWindow *pilot;

  demo->app = app;
  demo->window = window;

  /* An empty registry offers the demo beside "Add a Worker…". */
  cdl_window_set_visible_page (window, "workers");
  g_assert_true (cdl_test_ui_iterate_until (demo_button_shown, demo,
                                            CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_assert_true (gtk_widget_get_mapped (
    cdl_test_ui_named (GTK_WIDGET (window), "empty-add-worker-button")));

  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (window), "empty-demo-button"));
  g_assert_true (cdl_test_ui_iterate_until (demo_task_shown, demo, RUN_TIMEOUT_MS));

  /* The demo task: 6 prompts of 4 seeds, a draft on the demo workflow. */
  task = cdl_tasks_page_get_shown (page);
  demo->task_id = g_strdup (cdl_task_get_id (task));
  g_assert_cmpuint (cdl_task_get_prompts (task)->len, ==, CDL_DEMO_PROMPTS);
  g_assert_cmpint (cdl_task_get_data (task)->seeds_per_prompt, ==, CDL_DEMO_SEEDS);
  g_assert_cmpstr (cdl_task_get_state (task), ==, CDL_TASK_STATE_DRAFT);
  g_assert_cmpstr (cdl_task_get_data (task)->prompt_template, ==,
                   "a watercolour painting of {demo_subjects}, soft evening light");

  /* A real subprocess, registered and found healthy. */
  service = cdl_application_get_demo_service (app);
  g_assert_nonnull (service);
  g_assert_nonnull (cdl_demo_service_get_url (service));
  g_assert_true (g_str_has_prefix (cdl_demo_service_get_url (service), "http://127.0.0.1:"));
  demo->worker_url = g_strdup (cdl_demo_service_get_url (service));

  cdl_worker_service_get_async (cdl_instance_get_worker_service (instance),
                                cdl_demo_service_get_worker_id (service), NULL,
                                worker_got_cb, &wait);
  g_assert_true (cdl_test_ui_iterate_until (worker_wait_done, &wait,
                                            CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_assert_no_error (wait.error);
  g_assert_cmpstr (cdl_worker_get_name (wait.worker), ==, CDL_DEMO_WORKER_NAME);
  g_assert_cmpstr (cdl_worker_get_base_url (wait.worker), ==, demo->worker_url);
  g_assert_true (cdl_worker_get_status (wait.worker) == CDL_WORKER_STATUS_HEALTHY);
  demo->worker_id = g_strdup (cdl_worker_get_id (wait.worker));
  g_clear_object (&wait.worker);

  /* Pilot it, and freeze it with the settings that worked… */
  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (page), "pilot-button"));
  pilot = cdl_test_ui_wait_for_window (CDL_TYPE_PILOT_PAGE, NULL);
  g_assert_cmpstr (cdl_pilot_page_get_task_id (CDL_PILOT_PAGE (pilot)), ==, demo->task_id);
  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (pilot), "pilot-run-button"));
  g_assert_true (cdl_test_ui_iterate_until (pilot_done, pilot, RUN_TIMEOUT_MS));
  g_assert_cmpuint (cdl_pilot_page_get_n_samples (CDL_PILOT_PAGE (pilot)), ==, 10);
  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (pilot), "pilot-freeze-button"));
  wait_dashboard (dashboard, demo->task_id, "FROZEN", CDL_TEST_UI_WAIT_TIMEOUT_MS);

  /* …and run it to the end on the demo worker. */
  g_assert_true (cdl_test_ui_iterate_until (button_ready,
                                            cdl_test_ui_named (GTK_WIDGET (page), "run-button"),
                                            CDL_TEST_UI_WAIT_TIMEOUT_MS));
  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (page), "run-button"));
  wait_dashboard (dashboard, demo->task_id, "DONE", RUN_TIMEOUT_MS);

  /* Label every batch, and export the labels. */
  label_demo_task (window, demo->task_id);
  export_demo_task (window, demo->task_id, demo->tmpdir);

  /* Again, from the primary menu: the running worker and its registration
   * serve a second demo task, frozen here with the page's confirmation. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.start-demo", NULL));
  g_assert_true (cdl_test_ui_iterate_until (demo_task_shown, demo, RUN_TIMEOUT_MS));
  demo->last_task_id = g_strdup (cdl_task_get_id (cdl_tasks_page_get_shown (page)));
  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (page), "freeze-button"));
  dialog = cdl_test_ui_wait_for_window (ADW_TYPE_MESSAGE_DIALOG, "freeze-dialog");
  cdl_test_ui_respond (dialog, "freeze");
  wait_dashboard (dashboard, demo->last_task_id, "FROZEN", CDL_TEST_UI_WAIT_TIMEOUT_MS);
  g_assert_cmpstr (cdl_demo_service_get_url (service), ==, demo->worker_url);
  g_assert_cmpuint (g_list_model_get_n_items (
    cdl_workers_page_get_model (cdl_window_get_workers_page (window))), ==, 1);
}

static gboolean
last_task_shown (gpointer data)
{
  Demo *demo = data;
  CdlTask *task = cdl_tasks_page_get_shown (cdl_window_get_tasks_page (demo->window));

  return task != NULL && g_strcmp0 (cdl_task_get_id (task), demo->last_task_id) == 0;
}

static void
collect_shortcuts (GtkWidget *root,
                   GPtrArray *found)
{
  if (GTK_IS_SHORTCUTS_SHORTCUT (root))
    g_ptr_array_add (found, root);

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_shortcuts (child, found);
}

/* Every shortcut the shortcuts window lists for an action is bound to it,
 * and each Alt+N it lists opens a page of the sidebar. */
static void
check_shortcuts (CdlApplication *app)
{
  g_autoptr(GtkBuilder) builder = NULL;
  g_autoptr(GPtrArray) shortcuts = g_ptr_array_new ();
  /* The window keeps a second copy of each shortcut for its search. */
  g_autoptr(GHashTable) pages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GtkWidget *overlay;

  builder = gtk_builder_new_from_resource (RESOURCE_BASE "/gtk/help-overlay.ui");
  overlay = GTK_WIDGET (gtk_builder_get_object (builder, "help_overlay"));
  collect_shortcuts (overlay, shortcuts);
  g_assert_cmpuint (shortcuts->len, >, 10);

  for (guint i = 0; i < shortcuts->len; i++)
    {
      g_autofree char *action = NULL;
      g_autofree char *accelerator = NULL;

      g_object_get (shortcuts->pdata[i], "action-name", &action,
                    "accelerator", &accelerator, NULL);

      if (action != NULL)
        {
          g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app),
                                                                       action);

          if (accels == NULL || accels[0] == NULL)
            g_error ("The shortcuts window lists %s, which has no shortcut", action);
        }
      else if (accelerator != NULL && g_str_has_prefix (accelerator, "<Alt>"))
        {
          guint n = (guint) g_ascii_strtoull (accelerator + strlen ("<Alt>"), NULL, 10);
          g_autofree char *page = g_strdup_printf ("win.show-page(%u)", n - 1);
          g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app),
                                                                       page);

          g_assert_nonnull (accels);
          g_assert_cmpstr (accels[0], ==, accelerator);
          g_hash_table_add (pages, g_steal_pointer (&accelerator));
        }
    }

  /* One Alt+N for each page of the sidebar. */
  g_assert_cmpuint (g_hash_table_size (pages), ==, 8);

  gtk_window_destroy (GTK_WINDOW (overlay));
}

static gboolean
port_answers (const char *url)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;

  connection = g_socket_client_connect_to_uri (client, url, 80, NULL, NULL);

  return connection != NULL;
}

/* The demo worker, registered in the last session, answers again: the app
 * started a new subprocess on start-up and pointed the worker at it. */
static gboolean
demo_worker_resumed (gpointer data)
{
  Demo *demo = data;
  CdlInstance *instance = cdl_application_get_instance (demo->app);
  WorkerWait wait = { 0 };
  gboolean resumed;

  cdl_worker_service_get_async (cdl_instance_get_worker_service (instance), demo->worker_id,
                                NULL, worker_got_cb, &wait);
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (wait.error);

  resumed = cdl_worker_get_status (wait.worker) == CDL_WORKER_STATUS_HEALTHY &&
            g_strcmp0 (cdl_worker_get_base_url (wait.worker), demo->worker_url) != 0;
  if (resumed)
    {
      g_free (demo->resumed_url);
      demo->resumed_url = g_strdup (cdl_worker_get_base_url (wait.worker));
    }
  g_clear_object (&wait.worker);

  return resumed;
}

/* The next start opens the window at its saved size, on the page and the
 * task shown last. */
static void
restore_body (CdlApplication *app,
              CdlWindow      *window,
              gpointer        data)
{
  Demo *demo = data;
  GtkWindow *about;
  const char *debug_info;
  int width, height;

  demo->app = app;
  demo->window = window;

  /* Without a click, the demo worker is back. */
  g_assert_true (cdl_test_ui_iterate_until (demo_worker_resumed, demo,
                                            CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_assert_cmpstr (demo->resumed_url, ==,
                   cdl_demo_service_get_url (cdl_application_get_demo_service (app)));
  g_assert_true (g_str_has_prefix (demo->resumed_url, "http://127.0.0.1:"));
  g_assert_true (port_answers (demo->resumed_url));

  gtk_window_get_default_size (GTK_WINDOW (window), &width, &height);
  g_assert_cmpint (width, ==, 900);
  g_assert_cmpint (height, ==, 640);
  g_assert_cmpstr (cdl_window_get_visible_page (window), ==, "tasks");
  g_assert_true (cdl_test_ui_iterate_until (last_task_shown, demo,
                                            CDL_TEST_UI_WAIT_TIMEOUT_MS));

  /* The About window, from the primary menu, says what a bug report needs. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  about = cdl_test_ui_wait_for_window (ADW_TYPE_ABOUT_WINDOW, NULL);
  debug_info = adw_about_window_get_debug_info (ADW_ABOUT_WINDOW (about));
  g_assert_nonnull (strstr (debug_info, cdl_application_get_database_label (app)));
  g_assert_nonnull (strstr (debug_info, "REST server: http://127.0.0.1:"));
  g_assert_cmpstr (adw_about_window_get_version (ADW_ABOUT_WINDOW (about)), ==,
                   PACKAGE_VERSION);
  gtk_window_destroy (about);

  check_shortcuts (app);
}

static void
test_demo_worker (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *conninfo = NULL;
  g_autofree char *tmpdir = NULL;
  g_autoptr(CdlApplication) app = NULL;
  g_autoptr(CdlApplication) again = NULL;
  g_autoptr(GSettings) settings = NULL;
  g_autofree char *saved = NULL;
  Demo demo = { 0 };

  conninfo = cdl_test_pg_new_database (pg, &error);
  g_assert_no_error (error);
  tmpdir = g_dir_make_tmp ("cdl-test-ui-demo-XXXXXX", &error);
  g_assert_no_error (error);

  demo.tmpdir = tmpdir;
  app = cdl_test_ui_new_app (conninfo, tmpdir);
  cdl_test_ui_run (app, demo_body, &demo);

  /* Quitting the app stopped the worker it started. */
  g_assert_nonnull (demo.worker_url);
  g_assert_false (port_answers (demo.worker_url));

  /* It remembered the task shown last; a resize is remembered too. */
  settings = g_settings_new (APP_ID);
  saved = g_settings_get_string (settings, "last-task");
  g_assert_cmpstr (saved, ==, demo.last_task_id);
  g_settings_set_int (settings, "window-width", 900);
  g_settings_set_int (settings, "window-height", 640);

  again = cdl_test_ui_new_app (conninfo, tmpdir);
  cdl_test_ui_run (again, restore_body, &demo);

  /* Quitting stopped the worker started again too. */
  g_assert_nonnull (demo.resumed_url);
  g_assert_false (port_answers (demo.resumed_url));

  g_clear_pointer (&demo.worker_url, g_free);
  g_clear_pointer (&demo.task_id, g_free);
  g_clear_pointer (&demo.last_task_id, g_free);
  g_clear_pointer (&demo.worker_id, g_free);
  g_clear_pointer (&demo.resumed_url, g_free);
  cdl_test_ui_remove_tree (tmpdir);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  pg = cdl_test_ui_init (&argc, &argv);
  g_test_add_func ("/ui/demo/start-freeze-run", test_demo_worker);

  ret = g_test_run ();

  cdl_test_pg_stop (pg);

  return ret;
}
