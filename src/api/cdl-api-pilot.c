/* cdl-api-pilot.c: piloting a task
 *
 * POST /api/tasks/{id}/pilot runs the pilot and answers when it is done
 * (the message stays paused meanwhile); GET /api/tasks/{id}/pilot shows
 * the last one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include "api/cdl-api-server.h"
#include "core/cdl-auth.h"
#include "services/cdl-pilot-service.h"

static CdlPilotService *
pilots_of (CdlApiRequest *request)
{
  return cdl_instance_get_pilot_service (cdl_api_request_get_instance (request));
}

static void
done_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *data;

  data = cdl_pilot_service_finish (CDL_PILOT_SERVICE (source), result, &error);
  if (data == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, 200, data);
}

static void
handle_pilot (CdlApiRequest *request)
{
  cdl_pilot_service_pilot_async (pilots_of (request), cdl_api_request_get_param (request, "id"),
                                 cdl_api_request_get_user (request)->id,
                                 cdl_api_request_get_cancellable (request), done_cb,
                                 cdl_api_request_ref (request));
}

static void
handle_get (CdlApiRequest *request)
{
  cdl_pilot_service_get_async (pilots_of (request), cdl_api_request_get_param (request, "id"),
                               cdl_api_request_get_cancellable (request), done_cb,
                               cdl_api_request_ref (request));
}

void
cdl_api_pilot_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "POST", "/api/tasks/{id}/pilot", CDL_ROLE_OPERATOR,
                            handle_pilot);
  cdl_api_server_add_route (self, "GET", "/api/tasks/{id}/pilot", CDL_ROLE_OPERATOR,
                            handle_get);
}
