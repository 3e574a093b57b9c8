/* cdl-api-pools.c: /api/variable-pools
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include "api/cdl-api-server.h"
#include "core/cdl-sampling.h"
#include "services/cdl-service-error.h"

static CdlPoolService *
pools_of (CdlApiRequest *request)
{
  return cdl_instance_get_pool_service (cdl_api_request_get_instance (request));
}

/* A query value that must be a whole number in [min, max]; absent gives
 * @fallback. Replies 400 naming @name and returns FALSE when it is not. */
static gboolean
query_number (CdlApiRequest *request,
              const char    *name,
              guint64        min,
              guint64        max,
              guint64        fallback,
              guint64       *out)
{
  const char *text = cdl_api_request_get_query (request, name);
  g_autoptr(GError) error = NULL;
  guint64 value;

  if (text == NULL)
    {
      *out = fallback;
      return TRUE;
    }

  if (!g_ascii_string_to_unsigned (text, 10, min, max, &value, &error))
    {
      g_autofree char *message =
        g_strdup_printf ("%s must be a whole number between %" G_GUINT64_FORMAT
                         " and %" G_GUINT64_FORMAT ", not \"%s\"", name, min, max, text);

      cdl_api_request_reply_error (request, 400, message);
      return FALSE;
    }

  *out = value;
  return TRUE;
}

static void
list_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GPtrArray) pools = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *array;

  pools = cdl_pool_service_list_finish (CDL_POOL_SERVICE (source), result, &error);
  if (pools == NULL)
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  array = json_array_sized_new (pools->len);
  for (guint i = 0; i < pools->len; i++)
    json_array_add_element (array, cdl_pool_to_json (g_ptr_array_index (pools, i), FALSE));

  cdl_api_request_reply_data (request, 200, json_node_init_array (json_node_alloc (), array));
  json_array_unref (array);
}

static void
handle_list (CdlApiRequest *request)
{
  cdl_pool_service_list_async (pools_of (request),
                               cdl_api_request_get_cancellable (request),
                               list_done_cb, cdl_api_request_ref (request));
}

static void
reply_pool (CdlApiRequest *request,
            guint          status,
            CdlPool       *pool,
            GError        *error)
{
  if (pool == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, status, cdl_pool_to_json (pool, TRUE));
}

static void
get_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlPool) pool = NULL;

  pool = cdl_pool_service_get_finish (CDL_POOL_SERVICE (source), result, &error);
  reply_pool (request, 200, pool, error);
}

static void
handle_get (CdlApiRequest *request)
{
  guint64 version;

  if (!query_number (request, "version", 1, G_MAXINT, 0, &version))
    return;

  cdl_pool_service_get_async (pools_of (request),
                              cdl_api_request_get_param (request, "id"), (int) version,
                              cdl_api_request_get_cancellable (request),
                              get_done_cb, cdl_api_request_ref (request));
}

static CdlPoolInput *
parse_input (CdlApiRequest *request,
             gboolean       for_create)
{
  g_autoptr(GError) error = NULL;
  CdlPoolInput *input;

  input = cdl_pool_input_from_json (cdl_api_request_get_body (request), for_create, &error);
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
  g_autoptr(CdlPool) pool = NULL;

  pool = cdl_pool_service_create_finish (CDL_POOL_SERVICE (source), result, &error);
  reply_pool (request, 201, pool, error);
}

static void
handle_create (CdlApiRequest *request)
{
  CdlPoolInput *input = parse_input (request, TRUE);

  if (input == NULL)
    return;

  cdl_pool_service_create_async (pools_of (request), input,
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
  g_autoptr(CdlPool) pool = NULL;

  pool = cdl_pool_service_update_finish (CDL_POOL_SERVICE (source), result, &error);
  reply_pool (request, 200, pool, error);
}

static void
handle_update (CdlApiRequest *request)
{
  CdlPoolInput *input = parse_input (request, FALSE);

  if (input == NULL)
    return;

  cdl_pool_service_update_async (pools_of (request),
                                 cdl_api_request_get_param (request, "id"), input,
                                 cdl_api_request_get_cancellable (request),
                                 update_done_cb, cdl_api_request_ref (request));
}

static void
sample_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlPoolSample) sample = NULL;

  sample = cdl_pool_service_sample_finish (CDL_POOL_SERVICE (source), result, &error);
  if (sample == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, 200, cdl_pool_sample_to_json (sample));
}

static void
handle_sample (CdlApiRequest *request)
{
  guint64 count;
  guint64 version;
  guint64 seed;

  if (cdl_api_request_get_query (request, "count") == NULL)
    {
      cdl_api_request_reply_error (request, 400, "count is required, e.g. ?count=10");
      return;
    }

  if (!query_number (request, "count", 1, CDL_POOL_ITEMS_MAX, 0, &count)
      || !query_number (request, "version", 1, G_MAXINT, 0, &version)
      || !query_number (request, "seed", 0, CDL_SEED_MAX, 0, &seed))
    return;

  cdl_pool_service_sample_async (pools_of (request),
                                 cdl_api_request_get_param (request, "id"),
                                 (int) version, (guint) count,
                                 cdl_api_request_get_query (request, "seed") != NULL, seed,
                                 cdl_api_request_get_cancellable (request),
                                 sample_done_cb, cdl_api_request_ref (request));
}

void
cdl_api_pools_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "GET", "/api/variable-pools", CDL_ROLE_OPERATOR, handle_list);
  cdl_api_server_add_route (self, "POST", "/api/variable-pools", CDL_ROLE_OPERATOR,
                            handle_create);
  cdl_api_server_add_route (self, "GET", "/api/variable-pools/{id}", CDL_ROLE_OPERATOR,
                            handle_get);
  cdl_api_server_add_route (self, "PATCH", "/api/variable-pools/{id}", CDL_ROLE_OPERATOR,
                            handle_update);
  cdl_api_server_add_route (self, "GET", "/api/variable-pools/{id}/sample", CDL_ROLE_OPERATOR,
                            handle_sample);
}
