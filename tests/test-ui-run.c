/* test-ui-run.c: running a frozen task from the Tasks page
 *
 * Starts the real application against a database of its own and a
 * simulated worker in this process, makes a small frozen task through
 * the services, then presses Run on the page and watches the generation
 * dashboard: the progress bar moves and ends at Done with every image,
 * the worker shows up with its health, Pause and Resume move the run
 * back and forth, and a Cancel asks first. Runs under Xvfb.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <adwaita.h>

#include "cdl-test-ui.h"
#include "sim/cdl-sim-server.h"
#include "ui/cdl-application.h"
#include "ui/cdl-run-dashboard.h"
#include "ui/cdl-window.h"

#define WAIT_TIMEOUT_MS  CDL_TEST_UI_WAIT_TIMEOUT_MS
#define RUN_TIMEOUT_MS   90000

static CdlTestPg *pg;

typedef CdlTestUiFixture Fixture;

static gboolean
label_is (GtkWidget  *label,
          const char *text)
{
  return g_strcmp0 (gtk_label_get_label (GTK_LABEL (label)), text) == 0;
}

/* Making a frozen task through the services, as the other pages would */

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
  g_assert_true (cdl_test_ui_iterate_until (wait_done, wait, WAIT_TIMEOUT_MS));
  g_assert_no_error (wait->error);
  g_assert_nonnull (wait->object);

  return wait->object;
}

static void
worker_created_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Wait *wait = user_data;

  wait->object = (GObject *) cdl_worker_service_create_finish (CDL_WORKER_SERVICE (object),
                                                               result, &wait->error);
  wait->done = TRUE;
}

static void
worker_got_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Wait *wait = user_data;

  wait->object = (GObject *) cdl_worker_service_get_finish (CDL_WORKER_SERVICE (object),
                                                            result, &wait->error);
  wait->done = TRUE;
}

static void
workflow_uploaded_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Wait *wait = user_data;

  wait->object = (GObject *) cdl_workflow_service_upload_finish (CDL_WORKFLOW_SERVICE (object),
                                                                 result, &wait->error);
  wait->done = TRUE;
}

static void
pool_created_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Wait *wait = user_data;

  wait->object = (GObject *) cdl_pool_service_create_finish (CDL_POOL_SERVICE (object),
                                                             result, &wait->error);
  wait->done = TRUE;
}

static void
task_created_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Wait *wait = user_data;

  wait->object = (GObject *) cdl_task_service_create_finish (CDL_TASK_SERVICE (object),
                                                             result, &wait->error);
  wait->done = TRUE;
}

static void
task_frozen_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Wait *wait = user_data;

  wait->object = (GObject *) cdl_task_service_freeze_finish (CDL_TASK_SERVICE (object),
                                                             result, &wait->error);
  wait->done = TRUE;
}

static JsonNode *
parse (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (json, &error);

  g_assert_no_error (error);
  return node;
}

typedef struct
{
  Fixture    *f;
  const char *id;
} HealthyWait;

static gboolean
worker_healthy (gpointer data)
{
  HealthyWait *hw = data;
  CdlInstance *instance = cdl_application_get_instance (hw->f->app);
  Wait wait = { 0 };
  g_autoptr(CdlWorker) worker = NULL;

  cdl_worker_service_get_async (cdl_instance_get_worker_service (instance), hw->id, NULL,
                                worker_got_cb, &wait);
  worker = wait_result (&wait);

  return cdl_worker_get_last_checked_at (worker) != NULL &&
         cdl_worker_get_status (worker) == CDL_WORKER_STATUS_HEALTHY;
}

/* Registers the simulated worker once and waits for its first health
 * check. */
static void
add_worker (Fixture *f)
{
  CdlInstance *instance = cdl_application_get_instance (f->app);
  g_autofree char *json = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorker) worker = NULL;
  CdlWorkerInput *input;
  Wait wait = { 0 };
  HealthyWait hw = { f, NULL };

  json = g_strdup_printf ("{\"name\": \"sim-one\", \"base_url\": \"%s\","
                          " \"max_concurrent_jobs\": 2}", f->sim_url);
  node = parse (json);
  input = cdl_worker_input_from_json (node, TRUE, &error);
  g_assert_no_error (error);

  cdl_worker_service_create_async (cdl_instance_get_worker_service (instance), input, NULL,
                                   worker_created_cb, &wait);
  worker = wait_result (&wait);
  hw.id = cdl_worker_get_id (worker);
  g_assert_true (cdl_test_ui_iterate_until (worker_healthy, &hw, WAIT_TIMEOUT_MS));
}

/* A frozen task of @k prompts × @n seeds. */
static char *
add_frozen_task (Fixture    *f,
                 const char *name,
                 int         k,
                 int         n)
{
  CdlInstance *instance = cdl_application_get_instance (f->app);
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorkflow) workflow = NULL;
  g_autoptr(CdlPool) pool = NULL;
  g_autoptr(CdlTask) draft = NULL;
  g_autoptr(CdlTask) frozen = NULL;
  g_autoptr(GString) items = g_string_new (NULL);
  g_autoptr(JsonNode) pool_node = NULL;
  g_autoptr(JsonNode) task_node = NULL;
  g_autofree char *pool_json = NULL;
  g_autofree char *task_json = NULL;
  g_autofree char *pool_name = g_strdup_printf ("subject_%s", name);
  CdlPoolInput *pool_input;
  CdlTaskInput *task_input;
  gsize len;
  Wait wait1 = { 0 };
  Wait wait2 = { 0 };
  Wait wait3 = { 0 };
  Wait wait4 = { 0 };

  path = g_build_filename (g_getenv ("CDL_TEST_DATA"), "workflows", "sd15.json", NULL);
  g_assert_true (g_file_get_contents (path, &text, &len, &error));
  raw = g_bytes_new_take (g_steal_pointer (&text), len);
  cdl_workflow_service_upload_async (cdl_instance_get_workflow_service (instance), name, NULL,
                                     raw, NULL, NULL, workflow_uploaded_cb, &wait1);
  workflow = wait_result (&wait1);

  for (int i = 0; i < k; i++)
    g_string_append_printf (items, "%s\"a watercolour of a lighthouse at dusk, number %d\"",
                            i > 0 ? ", " : "", i + 1);
  pool_json = g_strdup_printf ("{\"name\": \"%s\", \"mode\": \"no_replacement\","
                               " \"items\": [%s]}", pool_name, items->str);
  pool_node = parse (pool_json);
  pool_input = cdl_pool_input_from_json (pool_node, TRUE, &error);
  g_assert_no_error (error);
  cdl_pool_service_create_async (cdl_instance_get_pool_service (instance), pool_input,
                                 NULL, pool_created_cb, &wait2);
  pool = wait_result (&wait2);

  task_json = g_strdup_printf ("{\"name\": \"%s\", \"workflow_id\": \"%s\","
                               " \"variable_pool_ids\": [\"%s\"],"
                               " \"target_prompts\": %d, \"seeds_per_prompt\": %d}",
                               name, cdl_workflow_get_id (workflow), cdl_pool_get_id (pool),
                               k, n);
  task_node = parse (task_json);
  task_input = cdl_task_input_from_json (task_node, TRUE, &error);
  g_assert_no_error (error);
  cdl_task_service_create_async (cdl_instance_get_task_service (instance), task_input, NULL,
                                 NULL, task_created_cb, &wait3);
  draft = wait_result (&wait3);

  cdl_task_service_freeze_async (cdl_instance_get_task_service (instance),
                                 cdl_task_get_id (draft), NULL, task_frozen_cb, &wait4);
  frozen = wait_result (&wait4);

  return g_strdup (cdl_task_get_id (frozen));
}

/* Watching the page */

typedef struct
{
  CdlRunDashboard *dashboard;
  const char      *task_id;
  const char      *state;
} StateWait;

static gboolean
dashboard_in_state (gpointer data)
{
  StateWait *wait = data;

  return g_strcmp0 (cdl_run_dashboard_get_task (wait->dashboard), wait->task_id) == 0 &&
         g_strcmp0 (cdl_run_dashboard_get_state (wait->dashboard), wait->state) == 0;
}

static void
wait_state (CdlRunDashboard *dashboard,
            const char      *task_id,
            const char      *state,
            guint            timeout_ms)
{
  StateWait wait = { dashboard, task_id, state };

  if (!cdl_test_ui_iterate_until (dashboard_in_state, &wait, timeout_ms))
    g_error ("The dashboard shows %s, not %s",
             cdl_run_dashboard_get_state (dashboard), state);
}

static gboolean
progress_started (gpointer data)
{
  CdlRunDashboard *dashboard = data;
  GtkWidget *bar = cdl_test_ui_named (GTK_WIDGET (dashboard), "run-progress");

  return gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (bar)) > 0;
}

static gboolean
run_button_ready (gpointer data)
{
  GtkWidget *button = data;

  return gtk_widget_get_mapped (button) && gtk_widget_is_sensitive (button);
}

typedef struct
{
  GtkWidget  *root;
  const char *name;
  const char *label;
} LabelWait;

/* A worker row that names @label and says it is healthy. */
static gboolean
worker_row_shown (gpointer data)
{
  LabelWait *wait = data;
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();

  cdl_test_ui_collect_named (wait->root, "run-worker-row", rows);
  for (guint i = 0; i < rows->len; i++)
    {
      GtkWidget *row = g_ptr_array_index (rows, i);
      GtkWidget *badge = cdl_test_ui_named (row, "run-worker-badge");

      if (g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), wait->label) == 0 &&
          label_is (badge, "Healthy"))
        return TRUE;
    }

  return FALSE;
}

static gboolean
badge_says (gpointer data)
{
  LabelWait *wait = data;

  return label_is (cdl_test_ui_named (wait->root, wait->name), wait->label);
}

static void
wait_label (GtkWidget  *root,
            const char *name,
            const char *label)
{
  LabelWait wait = { root, name, label };

  if (!cdl_test_ui_iterate_until (badge_says, &wait, WAIT_TIMEOUT_MS))
    g_error ("%s says “%s”, not “%s”", name,
             gtk_label_get_label (GTK_LABEL (cdl_test_ui_named (root, name))), label);
}

static CdlRunDashboard *
show_task (Fixture    *f,
           const char *task_id)
{
  CdlTasksPage *page = cdl_window_get_tasks_page (f->window);
  CdlRunDashboard *dashboard = cdl_tasks_page_get_dashboard (page);

  cdl_window_set_visible_page (f->window, "tasks");
  cdl_tasks_page_reload (page);
  cdl_tasks_page_select_task (page, task_id);
  wait_state (dashboard, task_id, "FROZEN", WAIT_TIMEOUT_MS);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (dashboard)));
  g_assert_true (cdl_test_ui_iterate_until (run_button_ready, cdl_test_ui_named (GTK_WIDGET (page), "run-button"),
                                WAIT_TIMEOUT_MS));

  return dashboard;
}

static void
count_cb (CdlRunService *runs,
          const char    *task_id,
          guint         *count)
{
  (*count)++;
}

static gboolean
rows_counted (gpointer data)
{
  LabelWait *wait = data;
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();

  cdl_test_ui_collect_named (wait->root, wait->name, rows);
  return rows->len == (guint) GPOINTER_TO_UINT (wait->label);
}

/* A label anywhere in @root that starts with @prefix: a toast's, say. */
static GtkWidget *
find_label_prefix (GtkWidget  *root,
                   const char *prefix)
{
  if (GTK_IS_LABEL (root) &&
      g_str_has_prefix (gtk_label_get_label (GTK_LABEL (root)), prefix))
    return root;

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_label_prefix (child, prefix);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static gboolean
toast_shown (gpointer data)
{
  LabelWait *wait = data;

  return find_label_prefix (wait->root, wait->label) != NULL;
}

/* Tests */

static void
test_refused_without_worker (Fixture *f)
{
  CdlTasksPage *page = cdl_window_get_tasks_page (f->window);
  CdlRunDashboard *dashboard;
  g_autofree char *task_id = NULL;
  LabelWait toast = { GTK_WIDGET (f->window), NULL, "Could not start the run: " };
  GtkWidget *label;

  /* No worker at all: the run service answers 409, and the page says
   * why in a toast; the task stays frozen and can be run later. */
  task_id = add_frozen_task (f, "Dunes", 2, 2);
  dashboard = show_task (f, task_id);

  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (page), "run-button"));
  g_assert_true (cdl_test_ui_iterate_until (toast_shown, &toast, WAIT_TIMEOUT_MS));
  label = find_label_prefix (GTK_WIDGET (f->window), toast.label);
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (label)), "healthy"));

  g_assert_cmpstr (cdl_run_dashboard_get_state (dashboard), ==, "FROZEN");
  g_assert_true (cdl_test_ui_iterate_until (run_button_ready, cdl_test_ui_named (GTK_WIDGET (page), "run-button"),
                                WAIT_TIMEOUT_MS));
}

static void
test_run_pause_resume_done (Fixture *f)
{
  CdlInstance *instance = cdl_application_get_instance (f->app);
  CdlTasksPage *page = cdl_window_get_tasks_page (f->window);
  CdlRunDashboard *dashboard;
  g_autofree char *task_id = NULL;
  GtkWidget *root;
  GtkWidget *bar;
  LabelWait worker = { NULL, NULL, "sim-one" };
  LabelWait prompts = { NULL, "run-prompt-row", GUINT_TO_POINTER (4) };
  guint heard = 0;
  gulong handler;
  gint64 paused_at;

  add_worker (f);
  task_id = add_frozen_task (f, "Lighthouses", 4, 4);
  handler = g_signal_connect (cdl_instance_get_run_service (instance), "progress-changed",
                              G_CALLBACK (count_cb), &heard);

  dashboard = show_task (f, task_id);
  root = GTK_WIDGET (dashboard);
  bar = cdl_test_ui_named (root, "run-progress");
  wait_label (root, "run-count-label", "0 of 16 images");
  wait_label (root, "run-state-badge", "Not Started");
  prompts.root = root;
  g_assert_true (cdl_test_ui_iterate_until (rows_counted, &prompts, WAIT_TIMEOUT_MS));

  /* The worker is listed with its health. */
  worker.root = root;
  g_assert_true (cdl_test_ui_iterate_until (worker_row_shown, &worker, WAIT_TIMEOUT_MS));

  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (page), "run-button"));
  wait_state (dashboard, task_id, "RUNNING", WAIT_TIMEOUT_MS);
  wait_label (GTK_WIDGET (page), "task-state-badge", "Running");
  g_assert_false (gtk_widget_get_visible (cdl_test_ui_named (GTK_WIDGET (page), "run-button")));
  g_assert_true (cdl_test_ui_iterate_until (progress_started, dashboard, RUN_TIMEOUT_MS));

  /* Pause: no new jobs; the page says so and offers Resume. */
  cdl_test_ui_click (cdl_test_ui_named (root, "run-pause-button"));
  wait_state (dashboard, task_id, "PAUSED", WAIT_TIMEOUT_MS);
  wait_label (root, "run-state-badge", "Paused");
  g_assert_true (gtk_widget_get_visible (cdl_test_ui_named (root, "run-resume-button")));
  g_assert_false (gtk_widget_get_visible (cdl_test_ui_named (root, "run-pause-button")));
  paused_at = cdl_run_dashboard_get_done (dashboard);
  g_assert_cmpint (paused_at, <, 16);

  /* Resume, and the run goes on to the end with every image. */
  cdl_test_ui_click (cdl_test_ui_named (root, "run-resume-button"));
  wait_state (dashboard, task_id, "DONE", RUN_TIMEOUT_MS);
  wait_label (root, "run-state-badge", "Done");
  wait_label (root, "run-count-label", "16 of 16 images");
  g_assert_cmpint (cdl_run_dashboard_get_done (dashboard), ==, 16);
  g_assert_cmpfloat (gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (bar)), ==, 1.0);
  wait_label (root, "run-percent-label", "100 %");
  wait_label (GTK_WIDGET (page), "task-state-badge", "Done");
  g_assert_false (gtk_widget_get_visible (cdl_test_ui_named (root, "run-cancel-button")));

  /* Each prompt has its seeds done. */
  {
    g_autoptr(GPtrArray) counts = g_ptr_array_new ();

    cdl_test_ui_collect_named (root, "run-prompt-counts", counts);
    g_assert_cmpuint (counts->len, ==, 4);
    for (guint i = 0; i < counts->len; i++)
      g_assert_true (g_str_has_prefix (gtk_label_get_label (g_ptr_array_index (counts, i)),
                                       "4/4 done"));
  }

  /* The page heard the run through the database's notifications. */
  g_assert_cmpuint (heard, >, 0);
  g_signal_handler_disconnect (cdl_instance_get_run_service (instance), handler);
}

static void
test_cancel_asks (Fixture *f)
{
  CdlTasksPage *page = cdl_window_get_tasks_page (f->window);
  CdlRunDashboard *dashboard;
  g_autofree char *first_id = NULL;
  g_autofree char *task_id = NULL;
  GtkWindow *dialog;
  GtkWidget *root;

  add_worker (f);
  first_id = add_frozen_task (f, "Harbours", 2, 2);
  task_id = add_frozen_task (f, "Cliffs", 12, 4);

  /* Another task is shown first; the page follows the selection. */
  show_task (f, first_id);
  dashboard = show_task (f, task_id);
  root = GTK_WIDGET (dashboard);

  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (page), "run-button"));
  wait_state (dashboard, task_id, "RUNNING", WAIT_TIMEOUT_MS);
  /* Past the worker's warm-up: the first images are in. */
  g_assert_true (cdl_test_ui_iterate_until (progress_started, dashboard, RUN_TIMEOUT_MS));

  /* Keeping it running changes nothing. */
  cdl_test_ui_click (cdl_test_ui_named (root, "run-cancel-button"));
  dialog = cdl_test_ui_wait_for_window (ADW_TYPE_MESSAGE_DIALOG, "cancel-run-dialog");
  cdl_test_ui_respond (dialog, "keep");
  g_assert_cmpstr (cdl_run_dashboard_get_state (dashboard), ==, "RUNNING");

  cdl_test_ui_click (cdl_test_ui_named (root, "run-cancel-button"));
  dialog = cdl_test_ui_wait_for_window (ADW_TYPE_MESSAGE_DIALOG, "cancel-run-dialog");
  cdl_test_ui_respond (dialog, "cancel-run");
  wait_state (dashboard, task_id, "CANCELLED", WAIT_TIMEOUT_MS);
  wait_label (root, "run-state-badge", "Cancelled");
  wait_label (GTK_WIDGET (page), "task-state-badge", "Cancelled");
  g_assert_false (gtk_widget_get_visible (cdl_test_ui_named (root, "run-cancel-button")));
  g_assert_false (gtk_widget_get_visible (cdl_test_ui_named (root, "run-pause-button")));
  g_assert_false (gtk_widget_get_visible (cdl_test_ui_named (GTK_WIDGET (page), "run-button")));
  g_assert_cmpint (cdl_run_dashboard_get_done (dashboard), <, 48);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  /* Warnings fail the test that logged them (checked at tear-down). */
  pg = cdl_test_ui_init_counting_warnings (&argc, &argv);

  cdl_test_ui_add ("/ui/run/run-pause-resume-done", test_run_pause_resume_done, 150);
  cdl_test_ui_add ("/ui/run/refused-without-worker", test_refused_without_worker, 150);
  cdl_test_ui_add ("/ui/run/cancel-asks", test_cancel_asks, 150);

  ret = g_test_run ();

  cdl_test_pg_stop (pg);

  return ret;
}
