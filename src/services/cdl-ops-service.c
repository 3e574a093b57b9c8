/* cdl-ops-service.c: the database side of /healthz and /metrics
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ops"

#include "config.h"

#include "core/cdl-metrics.h"
#include "db/cdl-pq.h"
#include "services/cdl-ops-service.h"

static gpointer
ping_func (PGconn        *conn,
           gpointer       data,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(GError) stale = NULL;

  /* A pooled connection that the server ended (a restart, a failover)
   * says so only when used: reconnect once, so that the answer is about
   * the database, not about an old socket. */
  if (!cdl_pq_command (conn, "SET statement_timeout = 2000", 0, NULL, &stale))
    {
      if (PQstatus (conn) != CONNECTION_BAD)
        {
          g_propagate_error (error, g_steal_pointer (&stale));
          return NULL;
        }
      PQreset (conn);
      if (!cdl_pq_command (conn, "SET statement_timeout = 2000", 0, NULL, error))
        return NULL;
    }
  res = cdl_pq_exec (conn, "SELECT 1", 0, NULL, error);
  cdl_pq_command (conn, "RESET statement_timeout", 0, NULL, NULL);

  return res != NULL ? GINT_TO_POINTER (TRUE) : NULL;
}

void
cdl_ops_service_ping_async (CdlDb               *db,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  cdl_db_run_async (db, ping_func, NULL, NULL, NULL, NULL, callback, user_data);
}

gboolean
cdl_ops_service_ping_finish (CdlDb         *db,
                             GAsyncResult  *result,
                             GError       **error)
{
  return cdl_db_run_finish (db, result, error) != NULL;
}

/* Sets the gauges that come from the database, then renders.
 * FIXME: counts the done generations and the annotations on every scrape,
 * tens of milliseconds at a million rows; far beyond, use pg_class
 * estimates or a counter table. */
static gpointer
collect_func (PGconn        *conn,
              gpointer       data,
              GCancellable  *cancellable,
              GError       **error)
{
  CdlMetrics *metrics = cdl_metrics_get_default ();
  g_autoptr(PGresult) res = NULL;

  res = cdl_pq_exec (conn,
                     "SELECT 'w', s, (SELECT count (*) FROM workers"
                     "                WHERE enabled AND status = s)"
                     " FROM unnest (ARRAY['HEALTHY', 'UNHEALTHY']) AS s"
                     " UNION ALL SELECT 'q', name, current_queue_len FROM workers"
                     "  WHERE enabled"
                     " UNION ALL SELECT 'i', '', count (*) FROM generations"
                     "  WHERE state = 'done'"
                     " UNION ALL SELECT 'a', '', count (*) FROM annotations"
                     " UNION ALL SELECT 'f', kind, count (*) FROM alerts"
                     "  WHERE state = 'firing' GROUP BY kind",
                     0, NULL, error);
  if (res == NULL)
    return NULL;

  cdl_metrics_reset (metrics, "cdl_worker_queue_depth");
  cdl_metrics_reset (metrics, "cdl_alerts_firing");
  for (int i = 0; i < PQntuples (res); i++)
    {
      const char *what = cdl_pq_get_string (res, i, 0);
      const char *label = cdl_pq_get_string (res, i, 1);
      double value = (double)cdl_pq_get_int64 (res, i, 2);
      g_autofree char *labels = NULL;

      switch (what[0])
        {
        case 'w':
          labels = cdl_metrics_labels ("status", label, NULL);
          cdl_metrics_set (metrics, "cdl_workers", labels, value);
          break;
        case 'q':
          labels = cdl_metrics_labels ("worker", label, NULL);
          cdl_metrics_set (metrics, "cdl_worker_queue_depth", labels, value);
          break;
        case 'i':
          cdl_metrics_set (metrics, "cdl_images_done", NULL, value);
          break;
        case 'a':
          cdl_metrics_set (metrics, "cdl_annotations", NULL, value);
          break;
        default:
          labels = cdl_metrics_labels ("kind", label, NULL);
          cdl_metrics_set (metrics, "cdl_alerts_firing", labels, value);
          break;
        }
    }

  return cdl_metrics_render (metrics);
}

void
cdl_ops_service_collect_metrics_async (CdlDb               *db,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  cdl_db_run_async (db, collect_func, NULL, NULL, g_free, NULL, callback, user_data);
}

char *
cdl_ops_service_collect_metrics_finish (CdlDb         *db,
                                        GAsyncResult  *result,
                                        GError       **error)
{
  return cdl_db_run_finish (db, result, error);
}
