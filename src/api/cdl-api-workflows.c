/* cdl-api-workflows.c: /api/workflows
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include <string.h>

#include "api/cdl-api-server.h"
#include "services/cdl-service-error.h"

#define FORM_HINT \
  "send multipart/form-data with the workflow_api.json file in a part " \
  "named \"workflow\" (or \"file\"), a \"name\" and an optional \"description\""

static CdlWorkflowService *
workflows_of (CdlApiRequest *request)
{
  return cdl_instance_get_workflow_service (cdl_api_request_get_instance (request));
}

static void
reply_workflow (CdlApiRequest *request,
                guint          status,
                CdlWorkflow   *workflow,
                GError        *error)
{
  if (workflow == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, status,
                                cdl_workflow_to_json (workflow, status != 201));
}

static void
upload_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorkflow) workflow = NULL;

  workflow = cdl_workflow_service_upload_finish (CDL_WORKFLOW_SERVICE (source), result,
                                                 &error);
  reply_workflow (request, 201, workflow, error);
}

/* The form-data name of a part, or NULL. */
static char *
part_name (SoupMessageHeaders *headers)
{
  g_autofree char *disposition = NULL;
  g_autoptr(GHashTable) params = NULL;
  const char *name;

  if (!soup_message_headers_get_content_disposition (headers, &disposition, &params))
    return NULL;

  if (g_ascii_strcasecmp (disposition, "form-data") != 0 || params == NULL)
    return NULL;

  name = g_hash_table_lookup (params, "name");

  return g_strdup (name);
}

/* A text part as a string; NULL when it is not UTF-8 or holds NUL. */
static char *
part_text (GBytes *body)
{
  gsize size;
  const char *data = g_bytes_get_data (body, &size);

  if (size > 0 && (memchr (data, '\0', size) != NULL
                   || !g_utf8_validate (data, size, NULL)))
    return NULL;

  return g_strndup (data, size);
}

static void
handle_upload (CdlApiRequest *request)
{
  SoupServerMessage *msg = cdl_api_request_get_message (request);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(SoupMultipart) multipart = NULL;
  g_autoptr(GBytes) workflow = NULL;
  g_autofree char *name = NULL;
  g_autofree char *description = NULL;
  const char *content_type;

  content_type = soup_message_headers_get_content_type (headers, NULL);
  if (content_type == NULL || g_ascii_strcasecmp (content_type, "multipart/form-data") != 0)
    {
      cdl_api_request_reply_error (request, 400,
                                   "The upload is not a form: " FORM_HINT);
      return;
    }

  body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  multipart = soup_multipart_new_from_message (headers, body);
  if (multipart == NULL)
    {
      cdl_api_request_reply_error (request, 400,
                                   "The form could not be read (bad multipart "
                                   "boundary or parts): " FORM_HINT);
      return;
    }

  for (int i = 0; i < soup_multipart_get_length (multipart); i++)
    {
      SoupMessageHeaders *part_headers;
      GBytes *part_body;
      g_autofree char *field = NULL;

      if (!soup_multipart_get_part (multipart, i, &part_headers, &part_body))
        continue;

      field = part_name (part_headers);
      if (field == NULL)
        continue;

      if ((strcmp (field, "workflow") == 0 || strcmp (field, "file") == 0)
          && workflow == NULL)
        {
          workflow = g_bytes_ref (part_body);
        }
      else if (strcmp (field, "name") == 0 && name == NULL)
        {
          name = part_text (part_body);
          if (name == NULL)
            {
              cdl_api_request_reply_error (request, 400, "name must be UTF-8 text");
              return;
            }
        }
      else if (strcmp (field, "description") == 0 && description == NULL)
        {
          description = part_text (part_body);
          if (description == NULL)
            {
              cdl_api_request_reply_error (request, 400,
                                           "description must be UTF-8 text");
              return;
            }
        }
    }

  if (workflow == NULL)
    {
      cdl_api_request_reply_error (request, 400,
                                   "workflow is missing: " FORM_HINT);
      return;
    }

  cdl_workflow_service_upload_async (workflows_of (request), name, description, workflow,
                                     cdl_api_request_get_user (request),
                                     cdl_api_request_get_cancellable (request),
                                     upload_done_cb, cdl_api_request_ref (request));
}

static void
list_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GPtrArray) workflows = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *array;

  workflows = cdl_workflow_service_list_finish (CDL_WORKFLOW_SERVICE (source), result,
                                                &error);
  if (workflows == NULL)
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  array = json_array_sized_new (workflows->len);
  for (guint i = 0; i < workflows->len; i++)
    json_array_add_element (array, cdl_workflow_to_json (g_ptr_array_index (workflows, i),
                                                         FALSE));

  cdl_api_request_reply_data (request, 200,
                              json_node_init_array (json_node_alloc (), array));
  json_array_unref (array);
}

static void
handle_list (CdlApiRequest *request)
{
  cdl_workflow_service_list_async (workflows_of (request),
                                   cdl_api_request_get_cancellable (request),
                                   list_done_cb, cdl_api_request_ref (request));
}

static void
get_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorkflow) workflow = NULL;

  workflow = cdl_workflow_service_get_finish (CDL_WORKFLOW_SERVICE (source), result, &error);
  reply_workflow (request, 200, workflow, error);
}

static void
handle_get (CdlApiRequest *request)
{
  cdl_workflow_service_get_async (workflows_of (request),
                                  cdl_api_request_get_param (request, "id"),
                                  cdl_api_request_get_cancellable (request),
                                  get_done_cb, cdl_api_request_ref (request));
}

void
cdl_api_workflows_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "POST", "/api/workflows", CDL_ROLE_ADMIN, handle_upload);
  cdl_api_server_add_route (self, "GET", "/api/workflows", CDL_ROLE_OPERATOR, handle_list);
  cdl_api_server_add_route (self, "GET", "/api/workflows/{id}", CDL_ROLE_OPERATOR,
                            handle_get);
}
