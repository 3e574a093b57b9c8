/* test-ui-pilot.c: the pilot review of a draft task
 *
 * Starts the real application against a database of its own and a
 * simulated worker in this process, makes a draft task through the
 * services, opens its pilot review from the Tasks page and presses Run:
 * the ten samples show as images decoded from the store; a worker that
 * runs out of memory at the workflow's size shows the retry and the
 * smaller size that worked, and Freeze locks the task with that size in
 * its snapshot. Without a healthy worker the page says so in words.
 * Runs under Xvfb; with CDL_PILOT_SCREENSHOT set, saves the review there
 * as a PNG.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <adwaita.h>
#include <libpq-fe.h>

#include "cdl-test-pg.h"
#include "cdl-test-ui.h"
#include "sim/cdl-sim-server.h"
#include "ui/cdl-application.h"
#include "ui/cdl-pilot-page.h"
#include "ui/cdl-window.h"

#define WAIT_TIMEOUT_MS  CDL_TEST_UI_WAIT_TIMEOUT_MS
#define PILOT_TIMEOUT_MS 90000

static CdlTestPg *pg;

typedef CdlTestUiFixture Fixture;

/* Watching the page */

static gboolean
shown_is (gpointer data)
{
  gpointer *args = data;
  CdlTask *shown = cdl_tasks_page_get_shown (args[0]);

  return shown != NULL && g_strcmp0 (cdl_task_get_id (shown), args[1]) == 0;
}

/* Shows @task_id on the Tasks page and opens its pilot review with the
 * page's Pilot button. */
static CdlPilotPage *
open_pilot (Fixture    *f,
            const char *task_id)
{
  CdlTasksPage *page = cdl_window_get_tasks_page (f->window);
  gpointer args[2] = { page, (gpointer) task_id };
  GtkWidget *button;
  GtkWindow *window = NULL;
  GListModel *toplevels;

  cdl_window_set_visible_page (f->window, "tasks");
  cdl_tasks_page_reload (page);
  cdl_tasks_page_select_task (page, task_id);
  g_assert_true (cdl_test_ui_iterate_until (shown_is, args, WAIT_TIMEOUT_MS));

  button = cdl_test_ui_named (GTK_WIDGET (page), "pilot-button");
  g_assert_true (gtk_widget_get_visible (button));
  cdl_test_ui_click (button);

  toplevels = gtk_window_get_toplevels ();
  for (guint i = 0; i < g_list_model_get_n_items (toplevels) && window == NULL; i++)
    {
      g_autoptr(GtkWindow) w = g_list_model_get_item (toplevels, i);

      if (CDL_IS_PILOT_PAGE (w))
        window = w;
    }
  g_assert_nonnull (window);
  g_assert_cmpstr (cdl_pilot_page_get_task_id (CDL_PILOT_PAGE (window)), ==, task_id);
  g_assert_true (gtk_window_get_transient_for (window) == GTK_WINDOW (f->window));

  return CDL_PILOT_PAGE (window);
}

typedef struct
{
  CdlPilotPage *page;
  const char   *view;
} ViewWait;

static gboolean
view_is (gpointer data)
{
  ViewWait *wait = data;

  return g_strcmp0 (cdl_pilot_page_get_view (wait->page), wait->view) == 0;
}

static void
wait_view (CdlPilotPage *page,
           const char   *view,
           guint         timeout_ms)
{
  ViewWait wait = { page, view };

  if (!cdl_test_ui_iterate_until (view_is, &wait, timeout_ms))
    g_error ("The pilot review shows %s, not %s", cdl_pilot_page_get_view (page), view);
}

static gboolean
all_loaded (gpointer data)
{
  CdlPilotPage *page = data;

  return cdl_pilot_page_get_n_samples (page) > 0
         && cdl_pilot_page_get_n_loaded (page) == cdl_pilot_page_get_n_samples (page);
}

static gboolean
page_gone (gpointer data)
{
  return *(gpointer *) data == NULL;
}

static gboolean
hidden (gpointer data)
{
  return !gtk_widget_get_visible (data);
}

static gboolean
shown (gpointer data)
{
  return gtk_widget_get_visible (data);
}

static gboolean
mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static const char *
subtitle_of (GtkWidget *root,
             const char *name)
{
  return adw_action_row_get_subtitle (ADW_ACTION_ROW (cdl_test_ui_named (root, name)));
}

static gint64
sql_int (Fixture    *f,
         const char *sql,
         const char *param)
{
  PGconn *conn = PQconnectdb (f->conninfo);
  const char *params[1] = { param };
  PGresult *res;
  gint64 value;

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  res = PQexecParams (conn, sql, 1, NULL, params, NULL, NULL, 0);
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
  g_assert_cmpint (PQntuples (res), ==, 1);
  value = g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
  PQclear (res);
  PQfinish (conn);

  return value;
}

/* Tests */

static void
test_no_worker (Fixture *f)
{
  g_autofree char *task_id = cdl_test_ui_add_task (f->app, "Harbours", 2, 2, FALSE);
  CdlPilotPage *page = open_pilot (f, task_id);
  GtkWidget *error_page;

  wait_view (page, "empty", WAIT_TIMEOUT_MS);
  g_assert_false (gtk_widget_is_sensitive (cdl_test_ui_named (GTK_WIDGET (page),
                                                              "pilot-freeze-button")));

  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (page), "pilot-run-button"));
  wait_view (page, "error", WAIT_TIMEOUT_MS);
  error_page = cdl_test_ui_named (GTK_WIDGET (page), "pilot-error");
  g_assert_cmpstr (adw_status_page_get_title (ADW_STATUS_PAGE (error_page)), ==,
                   "No Worker Is Ready");
  g_assert_nonnull (strstr (adw_status_page_get_description (ADW_STATUS_PAGE (error_page)),
                            "Workers page"));
  g_assert_false (gtk_widget_is_sensitive (cdl_test_ui_named (GTK_WIDGET (page),
                                                              "pilot-freeze-button")));
  g_assert_true (gtk_widget_is_sensitive (cdl_test_ui_named (GTK_WIDGET (page),
                                                             "pilot-run-button")));
  g_assert_null (cdl_pilot_page_get_record (page));
  gtk_window_destroy (GTK_WINDOW (page));
}

static void
test_oom_then_freeze (Fixture *f)
{
  g_autofree char *task_id = NULL;
  CdlPilotPage *page;
  GtkWidget *root;
  GtkWidget *note;
  GtkWidget *tasks;
  const char *screenshot = g_getenv ("CDL_PILOT_SCREENSHOT");
  gpointer watch;

  /* 512 × 512 runs out of memory; 384 × 384, a quarter less per side,
   * fits. */
  cdl_sim_server_set_oom_pixels (f->sim, 200000);
  cdl_test_ui_add_worker (f->app, "gpu-lab-01", f->sim_url, 1);
  task_id = cdl_test_ui_add_task (f->app, "Lighthouses", 3, 4, FALSE);
  page = open_pilot (f, task_id);
  root = GTK_WIDGET (page);
  gtk_window_set_default_size (GTK_WINDOW (page), 1040, 760);

  wait_view (page, "empty", WAIT_TIMEOUT_MS);
  cdl_test_ui_click (cdl_test_ui_named (root, "pilot-run-button"));
  wait_view (page, "running", WAIT_TIMEOUT_MS);
  g_assert_false (gtk_widget_is_sensitive (cdl_test_ui_named (root, "pilot-run-button")));
  wait_view (page, "result", PILOT_TIMEOUT_MS);

  /* Ten samples, each decoded from the store onto the screen. */
  g_assert_cmpuint (cdl_pilot_page_get_n_samples (page), ==, 10);
  g_assert_true (cdl_test_ui_iterate_until (all_loaded, page, WAIT_TIMEOUT_MS));
  {
    GtkWidget *image = cdl_test_ui_named (root, "pilot-sample-image");
    GdkPaintable *texture = gtk_image_get_paintable (GTK_IMAGE (image));

    g_assert_true (GDK_IS_TEXTURE (texture));
    g_assert_cmpint (gdk_texture_get_width (GDK_TEXTURE (texture)), ==, 256);
  }

  /* The retry and the settings that worked, in words. */
  g_assert_cmpstr (subtitle_of (root, "pilot-retries-row"), ==, "1 of 3 (out of memory once)");
  g_assert_cmpstr (subtitle_of (root, "pilot-settings-row"), ==, "384 × 384 px, batch 1");
  note = cdl_test_ui_named (root, "pilot-retry-note");
  g_assert_true (cdl_test_ui_iterate_until (shown, note, WAIT_TIMEOUT_MS));
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (note)), "384 × 384"));
  g_assert_cmpstr (subtitle_of (root, "pilot-worker-row"), ==, "gpu-lab-01");
  g_assert_true (gtk_widget_is_sensitive (cdl_test_ui_named (root, "pilot-freeze-button")));

  if (screenshot != NULL)
    {
      /* Let the window lay out at its size and draw once. */
      g_assert_true (cdl_test_ui_iterate_until (mapped, root, WAIT_TIMEOUT_MS));
      for (int i = 0; i < 20; i++)
        g_main_context_iteration (NULL, FALSE);
      g_usleep (200 * 1000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
      cdl_test_ui_save_screenshot (root, gtk_widget_get_width (root),
                                   gtk_widget_get_height (root), screenshot);
    }

  /* Freeze closes the review; the snapshot keeps the smaller size. */
  watch = page;
  g_object_add_weak_pointer (G_OBJECT (page), &watch);
  cdl_test_ui_click (cdl_test_ui_named (root, "pilot-freeze-button"));
  g_assert_true (cdl_test_ui_iterate_until (page_gone, &watch, WAIT_TIMEOUT_MS));

  g_assert_cmpint (sql_int (f, "SELECT count (*) FROM tasks WHERE id = $1"
                               " AND state = 'FROZEN'", task_id), ==, 1);
  g_assert_cmpint (sql_int (f, "SELECT (frozen_snapshot -> 'pilot' -> 'settings' ->> 'width')"
                               "::integer FROM tasks WHERE id = $1", task_id), ==, 384);
  g_assert_cmpint (sql_int (f, "SELECT (frozen_snapshot -> 'pilot' -> 'settings' ->> 'height')"
                               "::integer FROM tasks WHERE id = $1", task_id), ==, 384);
  g_assert_cmpint (sql_int (f, "SELECT (frozen_snapshot -> 'pilot' ->> 'retries_used')"
                               "::integer FROM tasks WHERE id = $1", task_id), ==, 1);

  /* The Tasks page follows: no more Pilot for a frozen task. */
  tasks = GTK_WIDGET (cdl_window_get_tasks_page (f->window));
  g_assert_true (cdl_test_ui_iterate_until (hidden, cdl_test_ui_named (tasks, "pilot-button"),
                                            WAIT_TIMEOUT_MS));
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  pg = cdl_test_ui_init (&argc, &argv);

  cdl_test_ui_add ("/ui/pilot/no-worker", test_no_worker, 20);
  cdl_test_ui_add ("/ui/pilot/oom-then-freeze", test_oom_then_freeze, 20);

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
