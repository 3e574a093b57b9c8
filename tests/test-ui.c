/* test-ui.c: the desktop window, driven through its widgets
 *
 * Each test starts the real application against a database of its own
 * and an in-process simulated ComfyUI worker, then works the window the
 * way a person would: opens the dialog, types, clicks, flips the switch,
 * and reads what the widgets show. Runs under Xvfb.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <adwaita.h>

#include "cdl-test-ui.h"
#include "sim/cdl-sim-server.h"
#include "ui/cdl-application.h"
#include "ui/cdl-window.h"
#include "ui/cdl-worker-dialog.h"
#include "ui/cdl-worker-row.h"
#include "ui/cdl-workers-page.h"

#define WAIT_TIMEOUT_MS  CDL_TEST_UI_WAIT_TIMEOUT_MS

static CdlTestPg *pg;

typedef CdlTestUiFixture Fixture;

static gboolean
always_false (gpointer data)
{
  return FALSE;
}

/* Lets pending work (layout, idle callbacks) run for a moment. */
static void
iterate_for (guint ms)
{
  cdl_test_ui_iterate_until (always_false, NULL, ms);
}

static CdlWorkerRow *
find_row (GtkWidget  *root,
          const char *worker_name)
{
  if (CDL_IS_WORKER_ROW (root))
    {
      CdlWorker *worker = cdl_worker_row_get_worker (CDL_WORKER_ROW (root));

      if (worker != NULL && g_strcmp0 (cdl_worker_get_name (worker), worker_name) == 0)
        return CDL_WORKER_ROW (root);
    }

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      CdlWorkerRow *found = find_row (child, worker_name);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static CdlWorkerDialog *
find_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();
  guint n = g_list_model_get_n_items (toplevels);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (CDL_IS_WORKER_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return CDL_WORKER_DIALOG (window);
    }

  return NULL;
}

static CdlWorkerService *
fixture_service (Fixture *f)
{
  return cdl_instance_get_worker_service (cdl_application_get_instance (f->app));
}

/* Working the dialog */

typedef struct
{
  Fixture    *f;
  const char *name;
} RowWait;

static gboolean
dialog_shown (gpointer data)
{
  return find_dialog () != NULL;
}

static gboolean
dialog_gone (gpointer data)
{
  return find_dialog () == NULL;
}

static CdlWorkerDialog *
open_add_dialog (Fixture *f)
{
  gtk_widget_activate_action (GTK_WIDGET (f->window), "win.add-worker", NULL);
  g_assert_true (cdl_test_ui_iterate_until (dialog_shown, NULL, WAIT_TIMEOUT_MS));

  return find_dialog ();
}

static void
dialog_type (CdlWorkerDialog *dialog,
             const char      *field,
             const char      *text)
{
  GtkWidget *row = cdl_test_ui_find_named (GTK_WIDGET (dialog), field);

  g_assert_nonnull (row);
  gtk_editable_set_text (GTK_EDITABLE (row), text);
}

static GtkWidget *
dialog_widget (CdlWorkerDialog *dialog,
               const char      *name)
{
  GtkWidget *widget = cdl_test_ui_find_named (GTK_WIDGET (dialog), name);

  g_assert_nonnull (widget);

  return widget;
}

static gboolean
row_shown (gpointer data)
{
  RowWait *wait = data;

  return find_row (GTK_WIDGET (wait->f->window), wait->name) != NULL;
}

static gboolean
row_healthy (gpointer data)
{
  RowWait *wait = data;
  CdlWorkerRow *row = find_row (GTK_WIDGET (wait->f->window), wait->name);

  return row != NULL && g_strcmp0 (cdl_worker_row_get_health_text (row), "Healthy") == 0;
}

/* Registers a worker through the dialog, as a person would. */
static CdlWorkerRow *
add_worker_through_dialog (Fixture    *f,
                           const char *name)
{
  CdlWorkerDialog *dialog = open_add_dialog (f);
  GtkWidget *save = dialog_widget (dialog, "save-button");
  RowWait wait = { f, name };

  dialog_type (dialog, "name-row", name);
  dialog_type (dialog, "base-url-row", f->sim_url);
  dialog_type (dialog, "tags-row", "sim, test");
  g_assert_true (gtk_widget_get_sensitive (save));

  g_signal_emit_by_name (save, "clicked");
  g_assert_true (cdl_test_ui_iterate_until (dialog_gone, NULL, WAIT_TIMEOUT_MS));
  g_assert_true (cdl_test_ui_iterate_until (row_shown, &wait, WAIT_TIMEOUT_MS));

  return find_row (GTK_WIDGET (f->window), name);
}

/* Listing through the service, for checks that do not trust the widgets. */

typedef struct
{
  GPtrArray *workers;
  GError    *error;
  gboolean   done;
} ListWait;

static void
list_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  ListWait *wait = user_data;

  wait->workers = cdl_worker_service_list_finish (CDL_WORKER_SERVICE (object), result,
                                                  &wait->error);
  wait->done = TRUE;
}

static gboolean
list_done (gpointer data)
{
  return ((ListWait *) data)->done;
}

static CdlWorker *
service_find_worker (Fixture    *f,
                     const char *name)
{
  ListWait wait = { 0 };
  CdlWorker *found = NULL;

  cdl_worker_service_list_async (fixture_service (f), NULL, list_cb, &wait);
  g_assert_true (cdl_test_ui_iterate_until (list_done, &wait, WAIT_TIMEOUT_MS));
  g_assert_no_error (wait.error);

  for (guint i = 0; i < wait.workers->len; i++)
    {
      CdlWorker *worker = g_ptr_array_index (wait.workers, i);

      if (g_strcmp0 (cdl_worker_get_name (worker), name) == 0)
        found = g_object_ref (worker);
    }

  g_ptr_array_unref (wait.workers);

  return found;
}

/* Tests */

static gboolean
empty_state_shown (gpointer data)
{
  Fixture *f = data;
  GtkWidget *empty = cdl_test_ui_find_named (GTK_WIDGET (f->window), "workers-empty");

  return empty != NULL && gtk_widget_get_mapped (empty);
}

static void
test_window_opens_on_workers (Fixture *f)
{
  CdlWorkersPage *page = cdl_window_get_workers_page (f->window);
  GtkWidget *label;

  g_assert_cmpint (cdl_application_get_state (f->app), ==, CDL_APPLICATION_STATE_READY);
  g_assert_cmpstr (cdl_window_get_visible_page (f->window), ==, "workers");

  /* A fresh database has no workers: the empty state invites adding one. */
  g_assert_cmpuint (g_list_model_get_n_items (cdl_workers_page_get_model (page)), ==, 0);
  g_assert_true (cdl_test_ui_iterate_until (empty_state_shown, f, WAIT_TIMEOUT_MS));

  /* Where the data lives, without credentials. */
  label = cdl_test_ui_find_named (GTK_WIDGET (f->window), "database-label");
  g_assert_nonnull (label);
  g_assert_true (g_str_has_prefix (gtk_label_get_label (GTK_LABEL (label)), "Database: "));
  g_assert_null (strstr (gtk_label_get_label (GTK_LABEL (label)), "password"));
}

static void
test_dialog_rejects_bad_url (Fixture *f)
{
  CdlWorkerDialog *dialog = open_add_dialog (f);
  GtkWidget *save = dialog_widget (dialog, "save-button");
  GtkWidget *error_label = dialog_widget (dialog, "error-label");
  GtkWidget *url_row = dialog_widget (dialog, "base-url-row");

  /* Nothing typed yet: Save is off, but nothing is flagged as wrong. */
  g_assert_false (gtk_widget_get_sensitive (save));
  g_assert_false (gtk_widget_get_visible (error_label));

  dialog_type (dialog, "name-row", "worker-1");
  dialog_type (dialog, "base-url-row", "ftp://x");

  g_assert_false (gtk_widget_get_sensitive (save));
  g_assert_true (gtk_widget_get_visible (error_label));
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (error_label)), "http://"));
  g_assert_true (gtk_widget_has_css_class (url_row, "error"));

  dialog_type (dialog, "base-url-row", f->sim_url);

  g_assert_true (gtk_widget_get_sensitive (save));
  g_assert_false (gtk_widget_get_visible (error_label));
  g_assert_false (gtk_widget_has_css_class (url_row, "error"));

  /* Escape cancels without saving. */
  gtk_widget_activate_action (GTK_WIDGET (dialog), "window.close", NULL);
  g_assert_true (cdl_test_ui_iterate_until (dialog_gone, NULL, WAIT_TIMEOUT_MS));
  g_assert_null (service_find_worker (f, "worker-1"));
}

static void
test_row_turns_healthy (Fixture *f)
{
  RowWait wait = { f, "worker-1" };
  CdlWorkerRow *row;
  GtkWidget *url;

  row = add_worker_through_dialog (f, "worker-1");
  g_assert_nonnull (row);

  url = cdl_test_ui_find_named (GTK_WIDGET (row), "worker-url");
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (url)), ==, f->sim_url);

  /* The service probes a new worker at once; the row follows its signal. */
  g_assert_true (cdl_test_ui_iterate_until (row_healthy, &wait, WAIT_TIMEOUT_MS));

  row = find_row (GTK_WIDGET (f->window), "worker-1");
  g_assert_true (gtk_widget_has_css_class (cdl_test_ui_find_named (GTK_WIDGET (row),
                                                                   "health-badge"),
                                           "healthy"));
}

static void
test_switch_disables_worker (Fixture *f)
{
  RowWait wait = { f, "worker-1" };
  g_autoptr(CdlWorker) before = NULL;
  CdlWorkerRow *row;
  GtkWidget *sw;
  gint64 deadline;
  gboolean disabled = FALSE;

  row = add_worker_through_dialog (f, "worker-1");
  g_assert_true (cdl_test_ui_iterate_until (row_healthy, &wait, WAIT_TIMEOUT_MS));

  before = service_find_worker (f, "worker-1");
  g_assert_nonnull (before);
  g_assert_true (cdl_worker_get_enabled (before));

  row = find_row (GTK_WIDGET (f->window), "worker-1");
  sw = cdl_test_ui_find_named (GTK_WIDGET (row), "enabled-switch");
  g_assert_true (gtk_switch_get_active (GTK_SWITCH (sw)));
  gtk_switch_set_active (GTK_SWITCH (sw), FALSE);

  /* Poll the service rather than the widget: the database must agree. */
  deadline = g_get_monotonic_time () + (gint64) WAIT_TIMEOUT_MS * 1000;
  while (!disabled && g_get_monotonic_time () < deadline)
    {
      g_autoptr(CdlWorker) now = service_find_worker (f, "worker-1");

      disabled = now != NULL && !cdl_worker_get_enabled (now);
      if (!disabled)
        iterate_for (50);
    }
  g_assert_true (disabled);

  /* And the row shows it. */
  iterate_for (100);
  row = find_row (GTK_WIDGET (f->window), "worker-1");
  g_assert_cmpstr (cdl_worker_row_get_health_text (row), ==, "Disabled");
  sw = cdl_test_ui_find_named (GTK_WIDGET (row), "enabled-switch");
  g_assert_false (gtk_switch_get_active (GTK_SWITCH (sw)));
  g_assert_true (gtk_widget_get_sensitive (sw));
}

static gboolean
error_label_shown (gpointer data)
{
  return gtk_widget_get_visible (GTK_WIDGET (data)) &&
         *gtk_label_get_label (GTK_LABEL (data)) != '\0';
}

static void
test_duplicate_name_stays_open (Fixture *f)
{
  CdlWorkerDialog *dialog;
  GtkWidget *save;
  GtkWidget *error_label;

  add_worker_through_dialog (f, "worker-1");

  dialog = open_add_dialog (f);
  save = dialog_widget (dialog, "save-button");
  error_label = dialog_widget (dialog, "error-label");

  dialog_type (dialog, "name-row", "worker-1");
  dialog_type (dialog, "base-url-row", f->sim_url);
  g_assert_true (gtk_widget_get_sensitive (save));

  g_signal_emit_by_name (save, "clicked");
  g_assert_true (cdl_test_ui_iterate_until (error_label_shown, error_label, WAIT_TIMEOUT_MS));

  /* The refusal is shown in place, the dialog stays, Save comes back. */
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (error_label)), "already exists"));
  g_assert_true (find_dialog () == dialog);
  g_assert_true (gtk_widget_get_sensitive (save));

  /* Changing the name clears it. */
  dialog_type (dialog, "name-row", "worker-2");
  g_assert_false (gtk_widget_get_visible (error_label));

  gtk_window_destroy (GTK_WINDOW (dialog));
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  /* Warnings fail the test that logged them (checked at tear-down). */
  pg = cdl_test_ui_init_counting_warnings (&argc, &argv);

#define ADD(path, fn) cdl_test_ui_add (path, fn, 0)

  ADD ("/ui/window/opens-on-workers", test_window_opens_on_workers);
  ADD ("/ui/dialog/rejects-bad-url", test_dialog_rejects_bad_url);
  ADD ("/ui/workers/row-turns-healthy", test_row_turns_healthy);
  ADD ("/ui/workers/switch-disables-worker", test_switch_disables_worker);
  ADD ("/ui/dialog/duplicate-name-stays-open", test_duplicate_name_stays_open);

#undef ADD

  ret = g_test_run ();

  cdl_test_pg_stop (pg);

  return ret;
}
