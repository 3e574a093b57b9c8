/* cdl-api-settings.c: /api/settings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include "api/cdl-api-server.h"
#include "services/cdl-service-error.h"

static CdlSettingsService *
settings_of (CdlApiRequest *request)
{
  return cdl_instance_get_settings_service (cdl_api_request_get_instance (request));
}

static void
get_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlSettings) settings = NULL;

  settings = cdl_settings_service_get_finish (CDL_SETTINGS_SERVICE (source), result, &error);
  if (settings == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, 200, cdl_settings_to_json (settings));
}

static void
handle_get (CdlApiRequest *request)
{
  cdl_settings_service_get_async (settings_of (request),
                                  cdl_api_request_get_cancellable (request),
                                  get_done_cb, cdl_api_request_ref (request));
}

static void
update_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlSettings) settings = NULL;

  settings = cdl_settings_service_update_finish (CDL_SETTINGS_SERVICE (source), result,
                                                 &error);
  if (settings == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, 200, cdl_settings_to_json (settings));
}

static void
handle_update (CdlApiRequest *request)
{
  cdl_settings_service_update_async (settings_of (request),
                                     cdl_api_request_get_body (request),
                                     cdl_api_request_get_cancellable (request),
                                     update_done_cb, cdl_api_request_ref (request));
}

void
cdl_api_settings_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "GET", "/api/settings", CDL_ROLE_ADMIN, handle_get);
  cdl_api_server_add_route (self, "PATCH", "/api/settings", CDL_ROLE_ADMIN, handle_update);
}
