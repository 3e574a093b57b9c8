/* cdl-api-workers.c: /api/workers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include "api/cdl-api-server.h"
#include "services/cdl-service-error.h"

static CdlWorkerService *
workers_of (CdlApiRequest *request)
{
  return cdl_instance_get_worker_service (cdl_api_request_get_instance (request));
}

static void
list_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GPtrArray) workers = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *array;

  workers = cdl_worker_service_list_finish (CDL_WORKER_SERVICE (source), result, &error);
  if (workers == NULL)
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  array = json_array_sized_new (workers->len);
  for (guint i = 0; i < workers->len; i++)
    json_array_add_element (array, cdl_worker_to_json (g_ptr_array_index (workers, i)));

  cdl_api_request_reply_data (request, 200, json_node_init_array (json_node_alloc (), array));
  json_array_unref (array);
}

static void
handle_list (CdlApiRequest *request)
{
  cdl_worker_service_list_async (workers_of (request),
                                 cdl_api_request_get_cancellable (request),
                                 list_done_cb, cdl_api_request_ref (request));
}

/* Shared by get, create and update: answer with one worker. */
static void
reply_worker (CdlApiRequest *request,
              guint          status,
              CdlWorker     *worker,
              GError        *error)
{
  if (worker == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, status, cdl_worker_to_json (worker));
}

static void
get_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorker) worker = NULL;

  worker = cdl_worker_service_get_finish (CDL_WORKER_SERVICE (source), result, &error);
  reply_worker (request, 200, worker, error);
}

static void
handle_get (CdlApiRequest *request)
{
  cdl_worker_service_get_async (workers_of (request),
                                cdl_api_request_get_param (request, "id"),
                                cdl_api_request_get_cancellable (request),
                                get_done_cb, cdl_api_request_ref (request));
}

static void
create_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorker) worker = NULL;

  worker = cdl_worker_service_create_finish (CDL_WORKER_SERVICE (source), result, &error);
  reply_worker (request, 201, worker, error);
}

static CdlWorkerInput *
parse_input (CdlApiRequest *request,
             gboolean       for_create)
{
  g_autoptr(GError) error = NULL;
  CdlWorkerInput *input;

  input = cdl_worker_input_from_json (cdl_api_request_get_body (request), for_create, &error);
  if (input == NULL)
    {
      cdl_service_error_translate (&error);
      cdl_api_request_reply_gerror (request, error);
    }

  return input;
}

static void
handle_create (CdlApiRequest *request)
{
  CdlWorkerInput *input = parse_input (request, TRUE);

  if (input == NULL)
    return;

  cdl_worker_service_create_async (workers_of (request), input,
                                   cdl_api_request_get_cancellable (request),
                                   create_done_cb, cdl_api_request_ref (request));
}

static void
update_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorker) worker = NULL;

  worker = cdl_worker_service_update_finish (CDL_WORKER_SERVICE (source), result, &error);
  reply_worker (request, 200, worker, error);
}

static void
handle_update (CdlApiRequest *request)
{
  CdlWorkerInput *input = parse_input (request, FALSE);

  if (input == NULL)
    return;

  cdl_worker_service_update_async (workers_of (request),
                                   cdl_api_request_get_param (request, "id"), input,
                                   cdl_api_request_get_cancellable (request),
                                   update_done_cb, cdl_api_request_ref (request));
}

static void
test_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorkerTestResult) outcome = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();

  outcome = cdl_worker_service_test_finish (CDL_WORKER_SERVICE (source), result, &error);
  if (outcome == NULL)
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  /* Spec 2.1: { healthy, queue: { pending, running } }, plus why a probe
   * failed and the worker as now recorded. */
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "healthy");
  json_builder_add_boolean_value (b, outcome->healthy);
  json_builder_set_member_name (b, "queue");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "pending");
  json_builder_add_int_value (b, outcome->pending);
  json_builder_set_member_name (b, "running");
  json_builder_add_int_value (b, outcome->running);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "message");
  if (outcome->message != NULL)
    json_builder_add_string_value (b, outcome->message);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "worker");
  json_builder_add_value (b, cdl_worker_to_json (outcome->worker));
  json_builder_end_object (b);

  cdl_api_request_reply_data (request, 200, json_builder_get_root (b));
}

static void
handle_test (CdlApiRequest *request)
{
  cdl_worker_service_test_async (workers_of (request),
                                 cdl_api_request_get_param (request, "id"),
                                 cdl_api_request_get_cancellable (request),
                                 test_done_cb, cdl_api_request_ref (request));
}

void
cdl_api_workers_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "GET", "/api/workers", CDL_ROLE_OPERATOR, handle_list);
  cdl_api_server_add_route (self, "POST", "/api/workers", CDL_ROLE_ADMIN, handle_create);
  cdl_api_server_add_route (self, "GET", "/api/workers/{id}", CDL_ROLE_OPERATOR, handle_get);
  cdl_api_server_add_route (self, "PATCH", "/api/workers/{id}", CDL_ROLE_ADMIN, handle_update);
  cdl_api_server_add_route (self, "POST", "/api/workers/{id}/test", CDL_ROLE_OPERATOR,
                            handle_test);
}
