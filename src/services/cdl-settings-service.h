/* cdl-settings-service.h: reading and changing the admin settings
 *
 * Shared by the REST handlers and the desktop preferences. Results are
 * delivered on the thread-default main context of the caller.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "core/cdl-settings.h"
#include "db/cdl-db.h"

G_BEGIN_DECLS

#define CDL_TYPE_SETTINGS_SERVICE (cdl_settings_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlSettingsService, cdl_settings_service, CDL, SETTINGS_SERVICE, GObject)

CdlSettingsService *cdl_settings_service_new (CdlDb *db);

/* The current settings (a new CdlSettings, owned by the caller). */
void         cdl_settings_service_get_async     (CdlSettingsService   *self,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
CdlSettings *cdl_settings_service_get_finish    (CdlSettingsService   *self,
                                                 GAsyncResult         *result,
                                                 GError              **error);

/* Applies @patch, a JSON object of some keys (e.g. {"controlnet_allowed":
 * false}, or the whole cdl_settings_to_json() of edited settings), and
 * returns the full settings after the change. A bad key or value is
 * CDL_SERVICE_ERROR_INVALID (400) with a message that starts with the
 * key name. Callers check the admin role; the service does not. */
void         cdl_settings_service_update_async  (CdlSettingsService   *self,
                                                 JsonNode             *patch,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
CdlSettings *cdl_settings_service_update_finish (CdlSettingsService   *self,
                                                 GAsyncResult         *result,
                                                 GError              **error);

/* Signals (emitted on the main context the service was created in):
 *   "changed" (CdlSettings *settings): after an update through this
 *   instance. Other instances' changes are seen on the next get.
 */

G_END_DECLS
