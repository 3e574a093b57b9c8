/* cdl-ops-service.h: the database side of /healthz and /metrics
 *
 * Both run on the database pool's threads; the callback's source object
 * is the CdlDb.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "db/cdl-db.h"

G_BEGIN_DECLS

/* SELECT 1 within two seconds, reconnecting once a pooled connection the
 * server ended. */
void      cdl_ops_service_ping_async              (CdlDb                *db,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
gboolean  cdl_ops_service_ping_finish             (CdlDb                *db,
                                                   GAsyncResult         *result,
                                                   GError              **error);

/* Sets the gauges that come from the database on the default metrics
 * registry, then renders it in the Prometheus text format. */
void      cdl_ops_service_collect_metrics_async   (CdlDb                *db,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
char     *cdl_ops_service_collect_metrics_finish  (CdlDb                *db,
                                                   GAsyncResult         *result,
                                                   GError              **error);

G_END_DECLS
