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
  g_assert_true (cdl_test_ui_iterate_until (run_button_ready,
                                            cdl_test_ui_named (GTK_WIDGET (page), "run-button"),
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
  task_id = cdl_test_ui_add_task (f->app, "Dunes", 2, 2, TRUE);
  dashboard = show_task (f, task_id);

  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (page), "run-button"));
  g_assert_true (cdl_test_ui_iterate_until (toast_shown, &toast, WAIT_TIMEOUT_MS));
  label = find_label_prefix (GTK_WIDGET (f->window), toast.label);
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (label)), "healthy"));

  g_assert_cmpstr (cdl_run_dashboard_get_state (dashboard), ==, "FROZEN");
  g_assert_true (cdl_test_ui_iterate_until (run_button_ready,
                                            cdl_test_ui_named (GTK_WIDGET (page), "run-button"),
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

  cdl_test_ui_add_worker (f->app, "sim-one", f->sim_url, 2);
  task_id = cdl_test_ui_add_task (f->app, "Lighthouses", 4, 4, TRUE);
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

  cdl_test_ui_add_worker (f->app, "sim-one", f->sim_url, 2);
  first_id = cdl_test_ui_add_task (f->app, "Harbours", 2, 2, TRUE);
  task_id = cdl_test_ui_add_task (f->app, "Cliffs", 12, 4, TRUE);

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
