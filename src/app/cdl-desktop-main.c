/* cdl-desktop-main.c: main () of the desktop program
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <glib/gi18n.h>

#include "ui/cdl-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(CdlApplication) app = NULL;

  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = cdl_application_new ();

  return g_application_run (G_APPLICATION (app), argc, argv);
}
