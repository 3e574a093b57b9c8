/* cdl-desktop-main.c: main () of the desktop program
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "ui/cdl-application.h"

/* A session logout or a kill sends SIGTERM: quit the normal way, so that
 * the embedded database is stopped rather than left running. */
static gboolean
quit_cb (gpointer user_data)
{
  g_application_quit (G_APPLICATION (user_data));

  return G_SOURCE_CONTINUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(CdlApplication) app = NULL;
  /* Uninstalled, the catalogues are in the build tree (build-aux/run.sh). */
  const char *localedir = g_getenv ("CDL_LOCALEDIR");

  if (localedir == NULL || *localedir == '\0')
    localedir = LOCALEDIR;

  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = cdl_application_new ();
  g_unix_signal_add (SIGTERM, quit_cb, app);
  g_unix_signal_add (SIGINT, quit_cb, app);

  return g_application_run (G_APPLICATION (app), argc, argv);
}
