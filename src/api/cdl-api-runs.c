/* cdl-api-runs.c: running a frozen task and following its progress
 *
 * POST /api/tasks/{id}/run, /pause, /resume, /cancel and
 * GET /api/tasks/{id}/progress?after=POSITION&limit=N (spec 2.4).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include <stdlib.h>

#include "api/cdl-api-server.h"
#include "core/cdl-task.h"
#include "services/cdl-service-error.h"

static CdlRunService *
runs_of (CdlApiRequest *request)
{
  return cdl_instance_get_run_service (cdl_api_request_get_instance (request));
}

static void
done_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *data;

  data = cdl_run_service_finish (CDL_RUN_SERVICE (source), result, &error);
  if (data == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, 200, data);
}

static void
handle_run (CdlApiRequest *request)
{
  cdl_run_service_run_async (runs_of (request), cdl_api_request_get_param (request, "id"),
                             cdl_api_request_get_cancellable (request), done_cb,
                             cdl_api_request_ref (request));
}

static void
handle_pause (CdlApiRequest *request)
{
  cdl_run_service_pause_async (runs_of (request), cdl_api_request_get_param (request, "id"),
                               cdl_api_request_get_cancellable (request), done_cb,
                               cdl_api_request_ref (request));
}

static void
handle_resume (CdlApiRequest *request)
{
  cdl_run_service_resume_async (runs_of (request), cdl_api_request_get_param (request, "id"),
                                cdl_api_request_get_cancellable (request), done_cb,
                                cdl_api_request_ref (request));
}

static void
handle_cancel (CdlApiRequest *request)
{
  cdl_run_service_cancel_async (runs_of (request), cdl_api_request_get_param (request, "id"),
                                cdl_api_request_get_cancellable (request), done_cb,
                                cdl_api_request_ref (request));
}

/* A query integer in [min, max]; @value keeps its default when absent. */
static gboolean
query_int (CdlApiRequest *request,
           const char    *name,
           gint64         min,
           gint64         max,
           gint64        *value)
{
  const char *text = cdl_api_request_get_query (request, name);
  g_autofree char *message = NULL;
  gint64 parsed;

  if (text == NULL)
    return TRUE;

  if (!g_ascii_string_to_signed (text, 10, min, max, &parsed, NULL))
    {
      message = g_strdup_printf ("%s must be a whole number from %" G_GINT64_FORMAT
                                 " to %" G_GINT64_FORMAT, name, min, max);
      cdl_api_request_reply_error (request, 400, message);
      return FALSE;
    }

  *value = parsed;
  return TRUE;
}

static void
handle_progress (CdlApiRequest *request)
{
  gint64 after = -1;
  gint64 limit = CDL_TASK_PAGE_DEFAULT;

  if (!query_int (request, "after", -1, G_MAXINT, &after)
      || !query_int (request, "limit", 1, CDL_TASK_PAGE_MAX, &limit))
    return;

  cdl_run_service_progress_async (runs_of (request), cdl_api_request_get_param (request, "id"),
                                  (int) after, (guint) limit,
                                  cdl_api_request_get_cancellable (request), done_cb,
                                  cdl_api_request_ref (request));
}

void
cdl_api_runs_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "POST", "/api/tasks/{id}/run", CDL_ROLE_OPERATOR,
                            handle_run);
  cdl_api_server_add_route (self, "POST", "/api/tasks/{id}/pause", CDL_ROLE_OPERATOR,
                            handle_pause);
  cdl_api_server_add_route (self, "POST", "/api/tasks/{id}/resume", CDL_ROLE_OPERATOR,
                            handle_resume);
  cdl_api_server_add_route (self, "POST", "/api/tasks/{id}/cancel", CDL_ROLE_OPERATOR,
                            handle_cancel);
  cdl_api_server_add_route (self, "GET", "/api/tasks/{id}/progress", CDL_ROLE_OPERATOR,
                            handle_progress);
}
