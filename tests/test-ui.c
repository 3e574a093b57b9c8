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
#include <glib/gstdio.h>
#include <adwaita.h>

#include "cdl-test-pg.h"
#include "sim/cdl-sim-server.h"
#include "ui/cdl-application.h"
#include "ui/cdl-window.h"
#include "ui/cdl-worker-dialog.h"
#include "ui/cdl-worker-row.h"
#include "ui/cdl-workers-page.h"

/* Generous: a loaded CI machine may take seconds to apply the migrations.
 * Waits end as soon as their condition holds. */
#define START_TIMEOUT_MS 60000
#define WAIT_TIMEOUT_MS  15000

static CdlTestPg *pg;
static guint unexpected_warnings;

typedef struct _Fixture
{
  char           *tmpdir;
  CdlSimServer   *sim;
  char           *sim_url;
  CdlApplication *app;
  CdlWindow      *window;
  void          (*body) (struct _Fixture *f);
  gboolean        ran;
} Fixture;

typedef gboolean (*Condition) (gpointer data);

static gboolean
wake_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until @condition holds or @timeout_ms pass. A short
 * timer keeps the loop from sleeping past the deadline. */
static gboolean
iterate_until (Condition condition,
               gpointer  data,
               guint     timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint wake = g_timeout_add (20, wake_cb, NULL);
  gboolean met;

  while (!(met = condition (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);

  g_source_remove (wake);

  return met;
}

static gboolean
always_false (gpointer data)
{
  return FALSE;
}

/* Lets pending work (layout, idle callbacks) run for a moment. */
static void
iterate_for (guint ms)
{
  iterate_until (always_false, NULL, ms);
}

static GtkWidget *
find_named (GtkWidget  *root,
            const char *name)
{
  if (g_strcmp0 (gtk_widget_get_name (root), name) == 0)
    return root;

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_named (child, name);

      if (found != NULL)
        return found;
    }

  return NULL;
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

static gboolean
app_started (gpointer data)
{
  Fixture *f = data;

  return cdl_application_get_state (f->app) != CDL_APPLICATION_STATE_STARTING;
}

static CdlWorkerService *
fixture_service (Fixture *f)
{
  return cdl_instance_get_worker_service (cdl_application_get_instance (f->app));
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *conninfo = NULL;
  g_autofree char *secrets = NULL;

  conninfo = cdl_test_pg_new_database (pg, &error);
  g_assert_no_error (error);

  f->tmpdir = g_dir_make_tmp ("cdl-test-ui-XXXXXX", &error);
  g_assert_no_error (error);
  secrets = g_build_filename (f->tmpdir, "secrets.json", NULL);

  g_setenv ("DATABASE_URL", conninfo, TRUE);
  g_setenv ("CDL_DATA_DIR", f->tmpdir, TRUE);
  g_setenv ("CDL_SECRETS_FILE", secrets, TRUE);
  g_setenv ("CDL_HEALTH_INTERVAL_MS", "500", TRUE);
  g_setenv ("CDL_SERVER_PORT", "0", TRUE);

  f->sim = cdl_sim_server_new ();
  cdl_sim_server_listen (f->sim, 0, &error);
  g_assert_no_error (error);
  f->sim_url = g_strdup_printf ("http://127.0.0.1:%u", cdl_sim_server_get_port (f->sim));

  f->app = cdl_application_new ();
  g_application_set_flags (G_APPLICATION (f->app), G_APPLICATION_NON_UNIQUE);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_object_add_weak_pointer (G_OBJECT (f->app), (gpointer *) &f->app);
  g_object_unref (f->app);
  g_assert_null (f->app);

  g_assert_cmpuint (unexpected_warnings, ==, 0);

  g_clear_object (&f->sim);
  g_clear_pointer (&f->sim_url, g_free);

  if (f->tmpdir != NULL)
    {
      g_autoptr(GFile) dir = g_file_new_for_path (f->tmpdir);
      g_autoptr(GFileEnumerator) children = NULL;
      GFileInfo *info;

      children = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                            G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
      while (children != NULL &&
             (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
        {
          g_autoptr(GFile) child = g_file_get_child (dir, g_file_info_get_name (info));

          g_file_delete (child, NULL, NULL);
          g_object_unref (info);
        }
      g_rmdir (f->tmpdir);
      g_clear_pointer (&f->tmpdir, g_free);
    }
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
  g_assert_true (iterate_until (dialog_shown, NULL, WAIT_TIMEOUT_MS));

  return find_dialog ();
}

static void
dialog_type (CdlWorkerDialog *dialog,
             const char      *field,
             const char      *text)
{
  GtkWidget *row = find_named (GTK_WIDGET (dialog), field);

  g_assert_nonnull (row);
  gtk_editable_set_text (GTK_EDITABLE (row), text);
}

static GtkWidget *
dialog_widget (CdlWorkerDialog *dialog,
               const char      *name)
{
  GtkWidget *widget = find_named (GTK_WIDGET (dialog), name);

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
  g_assert_true (iterate_until (dialog_gone, NULL, WAIT_TIMEOUT_MS));
  g_assert_true (iterate_until (row_shown, &wait, WAIT_TIMEOUT_MS));

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
  g_assert_true (iterate_until (list_done, &wait, WAIT_TIMEOUT_MS));
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

/* The application runs for real, g_application_run () and all, so that
 * startup and shutdown happen as they do for a person; the test body runs
 * from the loop once the window is there. */

static gboolean
run_body_cb (gpointer data)
{
  Fixture *f = data;
  GtkWindow *window;

  f->window = CDL_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (f->app)));
  g_assert_true (CDL_IS_WINDOW (f->window));

  g_assert_true (iterate_until (app_started, f, START_TIMEOUT_MS));
  if (cdl_application_get_state (f->app) == CDL_APPLICATION_STATE_FAILED)
    g_error ("The application did not start: %s",
             cdl_application_get_start_error (f->app)->message);

  f->body (f);
  f->ran = TRUE;

  f->window = NULL;
  while ((window = gtk_application_get_active_window (GTK_APPLICATION (f->app))) != NULL)
    gtk_window_destroy (window);
  g_application_quit (G_APPLICATION (f->app));

  return G_SOURCE_REMOVE;
}

static void
activate_cb (GApplication *app,
             Fixture      *f)
{
  if (f->window == NULL && !f->ran)
    g_idle_add (run_body_cb, f);
}

static void
run_in_app (Fixture       *f,
            gconstpointer  data)
{
  char *argv[] = { (char *) "test-ui", NULL };

  f->body = (void (*) (Fixture *)) data;
  g_signal_connect_after (f->app, "activate", G_CALLBACK (activate_cb), f);

  g_assert_cmpint (g_application_run (G_APPLICATION (f->app), 1, argv), ==, 0);
  g_assert_true (f->ran);
}

/* Tests */

static gboolean
empty_state_shown (gpointer data)
{
  Fixture *f = data;
  GtkWidget *empty = find_named (GTK_WIDGET (f->window), "workers-empty");

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
  g_assert_true (iterate_until (empty_state_shown, f, WAIT_TIMEOUT_MS));

  /* Where the data lives, without credentials. */
  label = find_named (GTK_WIDGET (f->window), "database-label");
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
  g_assert_true (iterate_until (dialog_gone, NULL, WAIT_TIMEOUT_MS));
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

  url = find_named (GTK_WIDGET (row), "worker-url");
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (url)), ==, f->sim_url);

  /* The service probes a new worker at once; the row follows its signal. */
  g_assert_true (iterate_until (row_healthy, &wait, WAIT_TIMEOUT_MS));

  row = find_row (GTK_WIDGET (f->window), "worker-1");
  g_assert_true (gtk_widget_has_css_class (find_named (GTK_WIDGET (row), "health-badge"),
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
  g_assert_true (iterate_until (row_healthy, &wait, WAIT_TIMEOUT_MS));

  before = service_find_worker (f, "worker-1");
  g_assert_nonnull (before);
  g_assert_true (cdl_worker_get_enabled (before));

  row = find_row (GTK_WIDGET (f->window), "worker-1");
  sw = find_named (GTK_WIDGET (row), "enabled-switch");
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
  sw = find_named (GTK_WIDGET (row), "enabled-switch");
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
  g_assert_true (iterate_until (error_label_shown, error_label, WAIT_TIMEOUT_MS));

  /* The refusal is shown in place, the dialog stays, Save comes back. */
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (error_label)), "already exists"));
  g_assert_true (find_dialog () == dialog);
  g_assert_true (gtk_widget_get_sensitive (save));

  /* Changing the name clears it. */
  dialog_type (dialog, "name-row", "worker-2");
  g_assert_false (gtk_widget_get_visible (error_label));

  gtk_window_destroy (GTK_WINDOW (dialog));
}

/* Warnings fail the test that logged them (checked at tear-down). */

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

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_log_set_writer_func (log_writer_cb, NULL, NULL);
  gtk_disable_setlocale ();

  pg = cdl_test_pg_start (&error);
  g_assert_no_error (error);

#define ADD(path, fn) \
  g_test_add (path, Fixture, (gconstpointer) fn, fixture_set_up, run_in_app, fixture_tear_down)

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
