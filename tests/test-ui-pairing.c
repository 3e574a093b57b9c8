/* test-ui-pairing.c: Pair a Phone… in the real desktop application
 *
 * The app runs on a database of its own with its embedded REST server.
 * The dialog must show a QR code of a working pairing link: the test
 * redeems the code over HTTP against that server, as a phone would, then
 * asks for a new code and turns on listening on the local network, after
 * which the server answers again on the same port. Runs under Xvfb.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <adwaita.h>
#include <libsoup/soup.h>

#include "cdl-test-pg.h"
#include "cdl-test-ui.h"
#include "ui/cdl-pairing-dialog.h"

static CdlTestPg *pg;

typedef struct
{
  SoupMessage *msg;
  GBytes      *body;
  gboolean     done;
} Http;

static void
http_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Http *http = user_data;

  http->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  http->done = TRUE;
}

static gboolean
http_done (gpointer data)
{
  return ((Http *) data)->done;
}

/* The REST server runs on this main loop: ask without blocking it. */
static guint
http_status (const char *method,
             const char *url,
             const char *body)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  Http http = { 0 };
  guint status;

  http.msg = soup_message_new (method, url);
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (http.msg, "application/json", bytes);
    }
  soup_session_send_and_read_async (session, http.msg, G_PRIORITY_DEFAULT, NULL,
                                    http_done_cb, &http);
  g_assert_true (cdl_test_ui_iterate_until (http_done, &http, CDL_TEST_UI_WAIT_TIMEOUT_MS));

  status = soup_message_get_status (http.msg);
  g_clear_pointer (&http.body, g_bytes_unref);
  g_clear_object (&http.msg);
  return status;
}

typedef struct
{
  CdlPairingDialog *dialog;
  char             *old_url;
} UrlWait;

static gboolean
url_shown (gpointer data)
{
  UrlWait *wait = data;
  const char *url = cdl_pairing_dialog_get_url (wait->dialog);

  return url != NULL && g_strcmp0 (url, wait->old_url) != 0;
}

static char *
wait_for_new_url (CdlPairingDialog *dialog,
                  const char       *old_url)
{
  UrlWait wait = { dialog, (char *)old_url };

  g_assert_true (cdl_test_ui_iterate_until (url_shown, &wait, CDL_TEST_UI_WAIT_TIMEOUT_MS));
  return g_strdup (cdl_pairing_dialog_get_url (dialog));
}

static gboolean
drawn (gpointer data)
{
  GtkWidget *widget = data;

  return gtk_widget_get_mapped (widget) && gtk_widget_get_width (widget) > 0;
}

static gboolean
later_cb (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *)data;
}

/* The dialog as it looks, for the documentation. */
static void
save_screenshot (GtkWidget  *widget,
                 const char *path)
{
  gboolean waited = FALSE;

  /* Mapped, laid out, and a few frames later painted. */
  g_assert_true (cdl_test_ui_iterate_until (drawn, widget, CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_timeout_add (300, later_cb, &waited);
  g_assert_true (cdl_test_ui_iterate_until (flag_set, &waited, CDL_TEST_UI_WAIT_TIMEOUT_MS));
  cdl_test_ui_save_screenshot (widget, gtk_widget_get_width (widget),
                               gtk_widget_get_height (widget), path);
}

static char *
code_of (const char *url)
{
  const char *at = strstr (url, "#pair=");

  g_assert_nonnull (at);
  return g_strdup (at + strlen ("#pair="));
}

static char *
server_of (const char *url)
{
  const char *at = strstr (url, "/#pair=");

  return g_strndup (url, (gsize)(at - url));
}

static void
test_pairing (CdlTestUiFixture *f)
{
  CdlApplication *app = f->app;
  CdlPairingDialog *dialog;
  GtkPicture *picture;
  GdkPaintable *qr;
  g_autofree char *url = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  g_autofree char *code = NULL;
  g_autofree char *server = NULL;
  g_autofree char *pair_url = NULL;
  g_autofree char *body = NULL;
  g_autofree char *lan = cdl_lan_address ();
  GSettings *settings = cdl_application_get_settings (app);
  const char *expiry;

  g_assert_false (g_settings_get_boolean (settings, "server-listen-lan"));

  g_action_group_activate_action (G_ACTION_GROUP (app), "pair-phone", NULL);
  dialog = CDL_PAIRING_DIALOG (cdl_test_ui_wait_for_window (CDL_TYPE_PAIRING_DIALOG, NULL));
  url = wait_for_new_url (dialog, NULL);

  /* Off the network by default: the link names this computer. */
  g_assert_true (g_str_has_prefix (url, "http://127.0.0.1:"));
  g_assert_true (gtk_widget_get_visible (cdl_test_ui_named (GTK_WIDGET (dialog),
                                                            "pairing-warning")));
  picture = GTK_PICTURE (cdl_test_ui_named (GTK_WIDGET (dialog), "pairing-qr"));
  qr = gtk_picture_get_paintable (picture);
  g_assert_nonnull (qr);
  g_assert_cmpint (gdk_paintable_get_intrinsic_width (qr), >=, 200);
  g_assert_cmpint (gdk_paintable_get_intrinsic_width (qr), ==,
                   gdk_paintable_get_intrinsic_height (qr));
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (cdl_test_ui_named (GTK_WIDGET (dialog),
                                                                      "pairing-url"))),
                   ==, url);
  expiry = gtk_label_get_label (GTK_LABEL (cdl_test_ui_named (GTK_WIDGET (dialog),
                                                              "pairing-expiry")));
  g_assert_true (g_str_has_prefix (expiry, "Works once; expires in "));
  if (g_getenv ("CDL_PAIRING_SCREENSHOT") != NULL)
    save_screenshot (GTK_WIDGET (dialog), g_getenv ("CDL_PAIRING_SCREENSHOT"));

  /* The phone's side: the code signs in once. */
  code = code_of (url);
  server = server_of (url);
  pair_url = g_strconcat (server, "/api/pair", NULL);
  body = g_strdup_printf ("{\"code\": \"%s\", \"device\": \"test phone\"}", code);
  g_assert_cmpuint (http_status ("POST", pair_url, body), ==, 200);
  g_assert_cmpuint (http_status ("POST", pair_url, body), ==, 403);

  /* New Code gives another link. */
  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (dialog), "pairing-new-code"));
  second = wait_for_new_url (dialog, url);
  g_assert_cmpstr (second, !=, url);

  /* On the network: the server listens anew on the same port, and the
   * link names this computer's network address when it has one. */
  gtk_switch_set_active (GTK_SWITCH (cdl_test_ui_named (GTK_WIDGET (dialog),
                                                        "pairing-lan-switch")), TRUE);
  g_assert_true (g_settings_get_boolean (settings, "server-listen-lan"));
  third = wait_for_new_url (dialog, second);
  if (lan != NULL)
    {
      g_autofree char *prefix = g_strdup_printf ("http://%s:", lan);

      g_assert_true (g_str_has_prefix (third, prefix));
      g_assert_false (gtk_widget_get_visible (cdl_test_ui_named (GTK_WIDGET (dialog),
                                                                 "pairing-warning")));
    }
  {
    g_autofree char *page = g_strconcat (server, "/", NULL);

    g_assert_cmpuint (http_status ("GET", page, NULL), ==, 200);
  }

  g_settings_set_boolean (settings, "server-listen-lan", FALSE);
  gtk_window_close (GTK_WINDOW (dialog));
}

static void
test_qr_texture (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *huge = g_strnfill (8000, 'x');

  texture = cdl_qr_texture_new ("http://192.168.1.5:8470/#pair=abc", 4, &error);
  g_assert_no_error (error);
  /* Version 3 (29 modules) plus the quiet zone, 4 pixels each. */
  g_assert_cmpint (gdk_texture_get_width (texture), ==, (29 + 8) * 4);

  g_clear_object (&texture);
  texture = cdl_qr_texture_new (huge, 4, &error);
  g_assert_null (texture);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  pg = cdl_test_ui_init (&argc, &argv);

  g_test_add_func ("/ui/pairing/qr-texture", test_qr_texture);
  cdl_test_ui_add ("/ui/pairing/dialog", test_pairing, -1);

  ret = g_test_run ();

  cdl_test_pg_stop (pg);

  return ret;
}
