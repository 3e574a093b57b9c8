/* test-ui-i18n.c: the desktop app in Simplified Chinese
 *
 * Runs the real application with LANGUAGE=zh_CN on top of the C.UTF-8
 * locale (which every glibc has, so no locale needs generating) and the
 * catalogue built from po/zh_CN.po, and checks that strings from each
 * source reach the screen translated: a .ui template (the page title, the
 * empty Workers page and its buttons), a C string with a format (the
 * database line of the sidebar) and a plural. Runs under Xvfb.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <locale.h>
#include <glib/gi18n.h>
#include <adwaita.h>

#include "cdl-test-pg.h"
#include "cdl-test-ui.h"

static CdlTestPg *pg;

static gboolean
empty_page_shown (gpointer data)
{
  GtkWidget *page = data;
  GtkWidget *button = cdl_test_ui_find_named (page, "empty-demo-button");

  return button != NULL && gtk_widget_get_mapped (button);
}

static GtkWidget *
find_label (GtkWidget  *root,
            const char *text)
{
  if (GTK_IS_LABEL (root) && g_strcmp0 (gtk_label_get_label (GTK_LABEL (root)), text) == 0)
    return root;

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_label (child, text);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static void
test_zh_cn (CdlTestUiFixture *f)
{
  CdlApplication *app = f->app;
  CdlWindow *window = f->window;
  GtkWidget *workers = GTK_WIDGET (cdl_window_get_workers_page (window));
  GtkWidget *empty;
  const char *label;

  cdl_window_set_visible_page (window, "workers");
  g_assert_true (cdl_test_ui_iterate_until (empty_page_shown, workers,
                                            CDL_TEST_UI_WAIT_TIMEOUT_MS));

  /* From the .ui templates. */
  empty = cdl_test_ui_named (workers, "workers-empty");
  g_assert_cmpstr (adw_status_page_get_title (ADW_STATUS_PAGE (empty)), ==,
                   "还没有工作节点");
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (cdl_test_ui_named (workers,
                                                       "empty-demo-button"))),
                   ==, "启动演示工作节点(_D)");
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (cdl_test_ui_named (workers,
                                                       "empty-add-worker-button"))),
                   ==, "添加工作节点(_A)…");
  g_assert_nonnull (find_label (GTK_WIDGET (window), "工作节点"));

  /* From C, with a format: "Database: host/name". */
  label = cdl_application_get_database_label (app);
  g_assert_true (g_str_has_prefix (label, "数据库："));
  g_assert_nonnull (find_label (GTK_WIDGET (window), label));

  /* A plural form. */
  g_assert_cmpstr (g_dngettext (GETTEXT_PACKAGE, "%u worker", "%u workers", 3), ==,
                   "%u 个工作节点");
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *localedir = NULL;
  int ret;

  /* What the desktop program's main () does, with the catalogue of the
   * build tree. */
  g_setenv ("LANGUAGE", "zh_CN", TRUE);
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  g_assert_nonnull (setlocale (LC_ALL, ""));
  localedir = g_build_filename (g_getenv ("CDL_BUILD_DIR"), "po", NULL);
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  pg = cdl_test_ui_init (&argc, &argv);

  /* Fails early, and clearly, when the catalogue was not built. */
  g_assert_cmpstr (_("No Workers Yet"), ==, "还没有工作节点");

  cdl_test_ui_add ("/ui/i18n/zh-cn", test_zh_cn, -1);

  ret = g_test_run ();

  cdl_test_pg_stop (pg);

  return ret;
}
