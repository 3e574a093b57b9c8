/* cdl-api-ops.c: what operators and their monitoring read
 *
 * GET /api/alerts?limit=N&firing=true (operator): the newest alerts.
 * GET /metrics (operator): the Prometheus text format.
 * GET /healthz (public): 200 "ok" when the database answers SELECT 1
 * within two seconds, 503 otherwise.
 *
 * A scraper that cannot send a bearer token reads /metrics and /healthz
 * without one on the separate address of cdl_api_ops_listen_metrics()
 * (the server's --metrics-bind), which should stay on a private network.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include <string.h>

#include "api/cdl-api-private.h"
#include "api/cdl-api-server.h"
#include "core/cdl-metrics.h"
#include "services/cdl-ops-service.h"

#define HEALTH_DEADLINE_MS 2000
#define ALERTS_DEFAULT_LIMIT 100
#define ALERTS_MAX_LIMIT 1000

/* Replies without an envelope; @request may be NULL on the metrics
 * address, where @msg is paused by hand. */
typedef struct
{
  gatomicrefcount    ref_count;
  SoupServerMessage *msg;
  CdlApiRequest     *request;
  guint              deadline_id;
  gboolean           done;
} RawReply;

static RawReply *
raw_reply_new (SoupServerMessage *msg,
               CdlApiRequest     *request)
{
  RawReply *raw = g_new0 (RawReply, 1);

  g_atomic_ref_count_init (&raw->ref_count);
  raw->msg = g_object_ref (msg);
  raw->request = request ? cdl_api_request_ref (request) : NULL;
  if (request == NULL)
    soup_server_message_pause (msg);

  return raw;
}

static void
raw_reply_unref (RawReply *raw)
{
  if (!g_atomic_ref_count_dec (&raw->ref_count))
    return;

  g_clear_handle_id (&raw->deadline_id, g_source_remove);
  g_clear_pointer (&raw->request, cdl_api_request_unref);
  g_object_unref (raw->msg);
  g_free (raw);
}

static RawReply *
raw_reply_ref (RawReply *raw)
{
  g_atomic_ref_count_inc (&raw->ref_count);

  return raw;
}

/* Takes @body. */
static void
raw_reply_send (RawReply   *raw,
                guint       status,
                const char *content_type,
                char       *body)
{
  if (raw->done)
    {
      g_free (body);
      return;
    }

  raw->done = TRUE;
  soup_message_headers_replace (soup_server_message_get_response_headers (raw->msg),
                                "Cache-Control", "no-store");
  soup_server_message_set_status (raw->msg, status, NULL);
  soup_server_message_set_response (raw->msg, content_type, SOUP_MEMORY_TAKE, body,
                                    strlen (body));

  if (raw->request != NULL)
    {
      raw->request->replied = TRUE;
      if (!raw->request->paused)
        return;
      raw->request->paused = FALSE;
    }
  soup_server_message_unpause (raw->msg);
}

/* /healthz ------------------------------------------------------------------ */

static void
ping_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  RawReply *raw = user_data;
  g_autoptr(GError) error = NULL;

  if (cdl_ops_service_ping_finish (CDL_DB (source), result, &error))
    raw_reply_send (raw, 200, "text/plain; charset=utf-8", g_strdup ("ok\n"));
  else
    raw_reply_send (raw, 503, "text/plain; charset=utf-8",
                    g_strdup_printf ("database unavailable: %s\n", error->message));
  raw_reply_unref (raw);
}

static gboolean
ping_deadline_cb (gpointer user_data)
{
  RawReply *raw = user_data;

  raw->deadline_id = 0;
  raw_reply_send (raw, 503, "text/plain; charset=utf-8",
                  g_strdup ("database did not answer in time\n"));

  return G_SOURCE_REMOVE;
}

static void
serve_health (CdlInstance *instance,
              RawReply    *raw)
{
  raw->deadline_id = g_timeout_add_full (G_PRIORITY_DEFAULT, HEALTH_DEADLINE_MS,
                                         ping_deadline_cb, raw_reply_ref (raw),
                                         (GDestroyNotify)raw_reply_unref);
  cdl_ops_service_ping_async (cdl_instance_get_db (instance), ping_done_cb, raw);
}

static void
handle_healthz (CdlApiRequest *request)
{
  serve_health (request->instance, raw_reply_new (request->msg, request));
}

/* /metrics ------------------------------------------------------------------ */

static void
collect_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  RawReply *raw = user_data;
  g_autoptr(GError) error = NULL;
  char *text;

  text = cdl_ops_service_collect_metrics_finish (CDL_DB (source), result, &error);
  if (text != NULL)
    raw_reply_send (raw, 200, "text/plain; version=0.0.4; charset=utf-8", text);
  else
    raw_reply_send (raw, 503, "text/plain; charset=utf-8",
                    g_strdup_printf ("metrics unavailable: %s\n", error->message));
  raw_reply_unref (raw);
}

static void
serve_metrics (CdlInstance *instance,
               RawReply    *raw)
{
  CdlMetrics *metrics = cdl_metrics_get_default ();
  CdlDb *db = cdl_instance_get_db (instance);
  g_autofree char *size = cdl_metrics_labels ("state", "size", NULL);
  g_autofree char *in_use = cdl_metrics_labels ("state", "in_use", NULL);

  /* Read before the collection takes a connection of its own. */
  cdl_metrics_set (metrics, "cdl_db_pool_connections", size, cdl_db_get_pool_size (db));
  cdl_metrics_set (metrics, "cdl_db_pool_connections", in_use, cdl_db_get_in_use (db));

  cdl_ops_service_collect_metrics_async (db, collect_done_cb, raw);
}

static void
handle_metrics (CdlApiRequest *request)
{
  serve_metrics (request->instance, raw_reply_new (request->msg, request));
}

/* /api/alerts --------------------------------------------------------------- */

static void
alerts_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *data;

  data = cdl_alert_service_list_finish (cdl_instance_get_alert_service (request->instance),
                                        result, &error);
  if (data == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, 200, data);
}

static void
handle_alerts (CdlApiRequest *request)
{
  const char *limit_text = cdl_api_request_get_query (request, "limit");
  const char *firing = cdl_api_request_get_query (request, "firing");
  guint64 limit = ALERTS_DEFAULT_LIMIT;

  if (limit_text != NULL
      && !g_ascii_string_to_unsigned (limit_text, 10, 1, ALERTS_MAX_LIMIT, &limit, NULL))
    {
      cdl_api_request_reply_error (request, 400,
                                   "limit must be a whole number from 1 to 1000");
      return;
    }

  if (firing != NULL && g_strcmp0 (firing, "true") != 0 && g_strcmp0 (firing, "false") != 0)
    {
      cdl_api_request_reply_error (request, 400, "firing must be true or false");
      return;
    }

  cdl_alert_service_list_async (cdl_instance_get_alert_service (request->instance),
                                (guint)limit, g_strcmp0 (firing, "true") == 0,
                                cdl_api_request_get_cancellable (request), alerts_done_cb,
                                cdl_api_request_ref (request));
}

void
cdl_api_ops_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "GET", "/api/alerts", CDL_ROLE_OPERATOR, handle_alerts);
  cdl_api_server_add_route (self, "GET", "/metrics", CDL_ROLE_OPERATOR, handle_metrics);
  cdl_api_server_add_route (self, "GET", "/healthz", CDL_API_PUBLIC, handle_healthz);
}

/* The metrics address --------------------------------------------------------- */

static void
metrics_handler_cb (SoupServer        *server,
                    SoupServerMessage *msg,
                    const char        *path,
                    GHashTable        *query,
                    gpointer           user_data)
{
  CdlInstance *instance = user_data;
  const char *method = soup_server_message_get_method (msg);

  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    {
      soup_server_message_set_status (msg, 405, NULL);
      return;
    }

  if (strcmp (path, "/metrics") == 0)
    serve_metrics (instance, raw_reply_new (msg, NULL));
  else if (strcmp (path, "/healthz") == 0)
    serve_health (instance, raw_reply_new (msg, NULL));
  else
    soup_server_message_set_status (msg, 404, NULL);
}

SoupServer *
cdl_api_ops_listen_metrics (CdlInstance  *instance,
                            const char   *address,
                            guint         port,
                            GError      **error)
{
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) sockaddr = NULL;

  g_return_val_if_fail (CDL_IS_INSTANCE (instance), NULL);

  inet = g_inet_address_new_from_string (address);
  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s is not an IP address to serve metrics on", address);
      return NULL;
    }

  server = soup_server_new ("server-header", "comfy-datalabel/" PACKAGE_VERSION " ", NULL);
  soup_server_add_handler (server, NULL, metrics_handler_cb, g_object_ref (instance),
                           g_object_unref);

  sockaddr = g_inet_socket_address_new (inet, port);
  if (!soup_server_listen (server, sockaddr, 0, error))
    return NULL;

  return g_steal_pointer (&server);
}
