/* cdl-api-tasks.c: /api/tasks up to the freeze
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include "api/cdl-api-server.h"
#include "services/cdl-service-error.h"

static CdlTaskService *
tasks_of (CdlApiRequest *request)
{
  return cdl_instance_get_task_service (cdl_api_request_get_instance (request));
}

static void
list_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GPtrArray) tasks = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *array;

  tasks = cdl_task_service_list_finish (CDL_TASK_SERVICE (source), result, &error);
  if (tasks == NULL)
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  array = json_array_sized_new (tasks->len);
  for (guint i = 0; i < tasks->len; i++)
    json_array_add_element (array, cdl_task_to_json (g_ptr_array_index (tasks, i)));

  cdl_api_request_reply_data (request, 200, json_node_init_array (json_node_alloc (), array));
  json_array_unref (array);
}

static void
handle_list (CdlApiRequest *request)
{
  cdl_task_service_list_async (tasks_of (request),
                               cdl_api_request_get_cancellable (request),
                               list_done_cb, cdl_api_request_ref (request));
}

/* Shared by every route that answers with one task. */
static void
task_done (CdlApiRequest *request,
           guint          status,
           CdlTask       *task,
           GError        *error)
{
  if (task == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, status, cdl_task_to_json (task));
}

static void
get_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlTask) task = NULL;

  task = cdl_task_service_get_finish (CDL_TASK_SERVICE (source), result, &error);
  task_done (request, 200, task, error);
}

static gboolean
query_int (CdlApiRequest *request,
           const char    *name,
           gint64         min,
           gint64         max,
           gint64         fallback,
           gint64        *out)
{
  const char *text = cdl_api_request_get_query (request, name);
  g_autoptr(GError) error = NULL;

  *out = fallback;
  if (text == NULL)
    return TRUE;

  if (!g_ascii_string_to_signed (text, 10, min, max, out, &error))
    {
      g_autofree char *message =
        g_strdup_printf ("%s must be a whole number between %" G_GINT64_FORMAT
                         " and %" G_GINT64_FORMAT ", not \"%s\"", name, min, max, text);

      cdl_api_request_reply_error (request, 400, message);
      return FALSE;
    }

  return TRUE;
}

static void
handle_get (CdlApiRequest *request)
{
  gint64 limit;
  gint64 after;

  /* Keyset paging: ?after= is the last position of the previous page. */
  if (!query_int (request, "limit", 1, CDL_TASK_PAGE_MAX, CDL_TASK_PAGE_DEFAULT, &limit)
      || !query_int (request, "after", -1, G_MAXINT, -1, &after))
    return;

  cdl_task_service_get_async (tasks_of (request),
                              cdl_api_request_get_param (request, "id"),
                              (int) after, (guint) limit,
                              cdl_api_request_get_cancellable (request),
                              get_done_cb, cdl_api_request_ref (request));
}

static CdlTaskInput *
parse_input (CdlApiRequest *request,
             gboolean       for_create)
{
  g_autoptr(GError) error = NULL;
  CdlTaskInput *input;

  input = cdl_task_input_from_json (cdl_api_request_get_body (request), for_create, &error);
  if (input == NULL)
    {
      cdl_service_error_translate (&error);
      cdl_api_request_reply_gerror (request, error);
    }

  return input;
}

static void
create_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlTask) task = NULL;

  task = cdl_task_service_create_finish (CDL_TASK_SERVICE (source), result, &error);
  task_done (request, 201, task, error);
}

static void
handle_create (CdlApiRequest *request)
{
  CdlTaskInput *input = parse_input (request, TRUE);
  const CdlUser *user = cdl_api_request_get_user (request);

  if (input == NULL)
    return;

  cdl_task_service_create_async (tasks_of (request), input, user ? user->id : NULL,
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
  g_autoptr(CdlTask) task = NULL;

  task = cdl_task_service_update_finish (CDL_TASK_SERVICE (source), result, &error);
  task_done (request, 200, task, error);
}

static void
handle_update (CdlApiRequest *request)
{
  CdlTaskInput *input = parse_input (request, FALSE);

  if (input == NULL)
    return;

  cdl_task_service_update_async (tasks_of (request),
                                 cdl_api_request_get_param (request, "id"), input,
                                 cdl_api_request_get_cancellable (request),
                                 update_done_cb, cdl_api_request_ref (request));
}

static void
freeze_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlTask) task = NULL;

  task = cdl_task_service_freeze_finish (CDL_TASK_SERVICE (source), result, &error);
  task_done (request, 200, task, error);
}

static void
handle_freeze (CdlApiRequest *request)
{
  cdl_task_service_freeze_async (tasks_of (request),
                                 cdl_api_request_get_param (request, "id"),
                                 cdl_api_request_get_cancellable (request),
                                 freeze_done_cb, cdl_api_request_ref (request));
}

void
cdl_api_tasks_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "GET", "/api/tasks", CDL_ROLE_OPERATOR, handle_list);
  cdl_api_server_add_route (self, "POST", "/api/tasks", CDL_ROLE_OPERATOR, handle_create);
  cdl_api_server_add_route (self, "GET", "/api/tasks/{id}", CDL_ROLE_OPERATOR, handle_get);
  cdl_api_server_add_route (self, "PATCH", "/api/tasks/{id}", CDL_ROLE_OPERATOR, handle_update);
  cdl_api_server_add_route (self, "POST", "/api/tasks/{id}/freeze", CDL_ROLE_OPERATOR,
                            handle_freeze);
}
