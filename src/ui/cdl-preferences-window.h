/* cdl-preferences-window.h: the database connection and server settings
 *
 * Everything but the password lives in GSettings; the password goes to
 * the secret store and never into the settings.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-secret-store.h"
#include "services/cdl-settings-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_PREFERENCES_WINDOW (cdl_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (CdlPreferencesWindow, cdl_preferences_window, CDL, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

GtkWindow *cdl_preferences_window_new (GtkWindow      *parent,
                                       GSettings      *settings,
                                       CdlSecretStore *secrets);

/* Adds the Generation Limits page, which edits the settings shared through
 * the database; once the instance runs. */
void       cdl_preferences_window_add_limits (CdlPreferencesWindow *self,
                                              CdlSettingsService   *service);

G_END_DECLS
