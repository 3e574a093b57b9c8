/* cdl-api-abtests.c: A/B tests of the annotation page
 *
 *   POST /api/ab-tests                 admin      {name, variants: [{key, weight,
 *                                                 config}], expires_at} -> 201 the test
 *                                                 (409 for a taken name)
 *   GET  /api/ab-tests                 operator   {"tests": [...]}
 *   POST /api/ab-tests/assign          annotator  {test_name, user_id?} -> {test_id,
 *                                                 test_name, variant, config}; only an
 *                                                 operator may name another user;
 *                                                 410 for a new user of an expired test
 *   POST /api/ab-events                annotator  {test_name, events: [{kind, value}]}
 *                                                 -> 202 {"accepted": n}
 *   GET  /api/ab-tests/{id}/results    operator   {test, variants: [...]}
 *
 * A test is {id, name, variants, expires_at, created_at, expired}.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include "api/cdl-api-server.h"
#include "services/cdl-abtest-service.h"

static CdlAbtestService *
abtests_of (CdlApiRequest *request)
{
  return cdl_instance_get_abtest_service (cdl_api_request_get_instance (request));
}

static void
reply_node (CdlApiRequest *request,
            guint          status,
            JsonNode      *node,
            GError        *error)
{
  if (node == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, status, node);
}

static void
create_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = cdl_abtest_service_create_finish (abtests_of (request), result, &error);
  reply_node (request, 201, node, error);
}

static void
handle_create (CdlApiRequest *request)
{
  cdl_abtest_service_create_async (abtests_of (request), cdl_api_request_get_body (request),
                                   cdl_api_request_get_cancellable (request), create_done_cb,
                                   cdl_api_request_ref (request));
}

static void
list_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = cdl_abtest_service_list_finish (abtests_of (request), result, &error);
  reply_node (request, 200, node, error);
}

static void
handle_list (CdlApiRequest *request)
{
  cdl_abtest_service_list_async (abtests_of (request), cdl_api_request_get_cancellable (request),
                                 list_done_cb, cdl_api_request_ref (request));
}

static void
assign_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(CdlAbAssignment) assignment = NULL;
  g_autoptr(GError) error = NULL;

  assignment = cdl_abtest_service_assign_finish (abtests_of (request), result, &error);
  if (assignment == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, 200, cdl_ab_assignment_to_json (assignment));
}

static void
handle_assign (CdlApiRequest *request)
{
  JsonNode *body = cdl_api_request_get_body (request);
  const CdlUser *caller = cdl_api_request_get_user (request);
  const char *test_name = NULL;
  const char *user_id = caller->id;
  JsonObject *obj;

  if (body == NULL || !JSON_NODE_HOLDS_OBJECT (body))
    {
      cdl_api_request_reply_error (request, 400,
                                   "The body must be a JSON object {test_name, user_id?}");
      return;
    }
  obj = json_node_get_object (body);

  if (json_object_has_member (obj, "test_name"))
    {
      JsonNode *node = json_object_get_member (obj, "test_name");

      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        test_name = json_node_get_string (node);
    }
  if (test_name == NULL)
    {
      cdl_api_request_reply_error (request, 400, "test_name is required and must be a string");
      return;
    }

  if (json_object_has_member (obj, "user_id")
      && !json_object_get_null_member (obj, "user_id"))
    {
      JsonNode *node = json_object_get_member (obj, "user_id");

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING
          || !g_uuid_string_is_valid (json_node_get_string (node)))
        {
          cdl_api_request_reply_error (request, 400, "user_id must be a user id (a UUID)");
          return;
        }
      user_id = json_node_get_string (node);
      if (g_ascii_strcasecmp (user_id, caller->id) != 0
          && !cdl_role_allows (caller->role, CDL_ROLE_OPERATOR))
        {
          cdl_api_request_reply_error (request, 403,
                                       "Only an operator or admin may assign another user;"
                                       " leave user_id out to assign yourself");
          return;
        }
    }

  cdl_abtest_service_assign_async (abtests_of (request), test_name, user_id,
                                   cdl_api_request_get_cancellable (request), assign_done_cb,
                                   cdl_api_request_ref (request));
}

static void
events_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  gint64 n;

  n = cdl_abtest_service_record_finish (abtests_of (request), result, &error);
  if (n < 0)
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "accepted");
  json_builder_add_int_value (b, n);
  json_builder_end_object (b);
  cdl_api_request_reply_data (request, 202, json_builder_get_root (b));
}

static void
handle_events (CdlApiRequest *request)
{
  cdl_abtest_service_record_async (abtests_of (request), cdl_api_request_get_user (request)->id,
                                   cdl_api_request_get_body (request),
                                   cdl_api_request_get_cancellable (request), events_done_cb,
                                   cdl_api_request_ref (request));
}

static void
results_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = cdl_abtest_service_results_finish (abtests_of (request), result, &error);
  reply_node (request, 200, node, error);
}

static void
handle_results (CdlApiRequest *request)
{
  cdl_abtest_service_results_async (abtests_of (request),
                                    cdl_api_request_get_param (request, "id"),
                                    cdl_api_request_get_cancellable (request), results_done_cb,
                                    cdl_api_request_ref (request));
}

void
cdl_api_abtests_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "POST", "/api/ab-tests", CDL_ROLE_ADMIN, handle_create);
  cdl_api_server_add_route (self, "GET", "/api/ab-tests", CDL_ROLE_OPERATOR, handle_list);
  cdl_api_server_add_route (self, "POST", "/api/ab-tests/assign", CDL_ROLE_ANNOTATOR,
                            handle_assign);
  cdl_api_server_add_route (self, "POST", "/api/ab-events", CDL_ROLE_ANNOTATOR, handle_events);
  cdl_api_server_add_route (self, "GET", "/api/ab-tests/{id}/results", CDL_ROLE_OPERATOR,
                            handle_results);
}
