/* test-ui-alerts.c: the Alerts page hears alerts from any instance
 *
 * The real application on a database of its own; an alert that another
 * instance decided (a row written straight into the table) reaches the
 * page through LISTEN/NOTIFY, as a firing row, then as a cleared one.
 * Runs under Xvfb.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <adwaita.h>
#include <libpq-fe.h>

#include "cdl-test-pg.h"
#include "cdl-test-ui.h"
#include "ui/cdl-alerts-page.h"

static CdlTestPg *pg;

typedef struct
{
  char          *conninfo;
  CdlAlertsPage *page;
  guint          want;
  GPtrArray     *notified;   /* "summary: body" of each notification */
} Alerts;

/* A notification server on the test's session bus, so that the
 * application's GNotification arrives somewhere the test can read. */
static const char notifications_xml[] =
  "<node><interface name='org.freedesktop.Notifications'>"
  "  <method name='Notify'>"
  "    <arg type='s' direction='in'/><arg type='u' direction='in'/>"
  "    <arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "    <arg type='s' direction='in'/><arg type='as' direction='in'/>"
  "    <arg type='a{sv}' direction='in'/><arg type='i' direction='in'/>"
  "    <arg type='u' direction='out'/>"
  "  </method>"
  "  <method name='CloseNotification'><arg type='u' direction='in'/></method>"
  "</interface></node>";

static void
notifications_call_cb (GDBusConnection       *connection,
                       const char            *sender,
                       const char            *path,
                       const char            *interface,
                       const char            *method,
                       GVariant              *parameters,
                       GDBusMethodInvocation *invocation,
                       gpointer               user_data)
{
  Alerts *a = user_data;
  const char *summary = NULL;
  const char *body = NULL;

  if (g_strcmp0 (method, "Notify") != 0)
    {
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }

  g_variant_get_child (parameters, 3, "&s", &summary);
  g_variant_get_child (parameters, 4, "&s", &body);
  g_ptr_array_add (a->notified, g_strdup_printf ("%s: %s", summary, body));
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", a->notified->len));
}

static guint
serve_notifications (Alerts *a)
{
  static const GDBusInterfaceVTable vtable = { notifications_call_cb, NULL, NULL, { 0 } };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (notifications_xml, NULL);
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (bus);
  g_dbus_connection_register_object (bus, "/org/freedesktop/Notifications",
                                     info->interfaces[0], &vtable, a, NULL, &error);
  g_assert_no_error (error);

  return g_bus_own_name_on_connection (bus, "org.freedesktop.Notifications",
                                       G_BUS_NAME_OWNER_FLAGS_NONE, NULL, NULL, NULL, NULL);
}

static gboolean
notified (gpointer data)
{
  Alerts *a = data;

  return a->notified->len >= a->want;
}

static void
sql (const char *conninfo,
     const char *query)
{
  PGconn *conn = PQconnectdb (conninfo);
  PGresult *res;

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  res = PQexec (conn, query);
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_COMMAND_OK);
  PQclear (res);
  PQfinish (conn);
}

static gboolean
rows_shown (gpointer data)
{
  Alerts *a = data;

  return cdl_alerts_page_get_n_rows (a->page) == a->want;
}

static gboolean
cleared_shown (gpointer data)
{
  return cdl_test_ui_find_named (data, "alert-cleared") != NULL;
}

static void
alerts_body (CdlApplication *app,
             CdlWindow      *window,
             gpointer        data)
{
  Alerts *a = data;
  GtkWidget *root = GTK_WIDGET (window);

  a->page = CDL_ALERTS_PAGE (cdl_test_ui_named (root, "alerts-page"));
  cdl_window_set_visible_page (window, "alerts");
  g_assert_true (gtk_widget_get_mapped (cdl_test_ui_named (root, "alerts-empty")));

  sql (a->conninfo, "INSERT INTO alerts (kind, subject, state, message)"
                    " VALUES ('storage_low', '/srv/images', 'firing',"
                    "         'The storage root /srv/images has 2 GB free')");
  a->want = 1;
  g_assert_true (cdl_test_ui_iterate_until (rows_shown, a, CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_assert_nonnull (cdl_test_ui_find_named (root, "alert-firing"));
  g_assert_true (gtk_widget_get_mapped (cdl_test_ui_named (root, "alerts-list")));
  g_assert_true (cdl_test_ui_iterate_until (notified, a, CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_assert_cmpstr (a->notified->pdata[0], ==,
                   "Alert: The storage root /srv/images has 2 GB free");

  sql (a->conninfo, "UPDATE alerts SET state = 'cleared', cleared_at = now ()");
  g_assert_true (cdl_test_ui_iterate_until (cleared_shown, root,
                                            CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_assert_null (cdl_test_ui_find_named (root, "alert-firing"));
  g_assert_cmpuint (cdl_alerts_page_get_n_rows (a->page), ==, 1);
  a->want = 2;
  g_assert_true (cdl_test_ui_iterate_until (notified, a, CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_assert_cmpstr (a->notified->pdata[1], ==,
                   "Alert Cleared: The storage root /srv/images has 2 GB free");
}

static void
test_alerts_page (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmpdir = g_dir_make_tmp ("cdl-ui-alerts-XXXXXX", &error);
  g_autoptr(CdlApplication) app = NULL;
  Alerts a = { 0 };
  guint owner;

  g_assert_no_error (error);
  a.notified = g_ptr_array_new_with_free_func (g_free);
  owner = serve_notifications (&a);
  a.conninfo = cdl_test_pg_new_database (pg, &error);
  g_assert_no_error (error);

  app = cdl_test_ui_new_app (a.conninfo, tmpdir);
  cdl_test_ui_run (app, alerts_body, &a);

  g_bus_unown_name (owner);
  cdl_test_ui_remove_tree (tmpdir);
  g_ptr_array_unref (a.notified);
  g_free (a.conninfo);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  pg = cdl_test_ui_init (&argc, &argv);

  g_test_add_func ("/ui/alerts/page", test_alerts_page);

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
