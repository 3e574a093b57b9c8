/* cdl-alert-service.h: operational alerts and the maintenance tick
 *
 * Every interval the service evaluates the conditions (worker unhealthy,
 * worker failing jobs that succeed elsewhere, running task not moving,
 * storage space low, rows in the default partition of generations) and
 * lets the database decide what changed (cdl-alert-repo.h), so several
 * instances never deliver one change twice. The instance whose statement
 * changed an alert logs it at warning level and posts it to the webhook,
 * when one is set; every instance hears it through LISTEN/NOTIFY and emits
 * "alert" (the desktop app shows a notification).
 *
 * The maintenance tick (at start, then hourly) creates the monthly
 * partitions of generations ahead of time under an advisory lock.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "db/cdl-alert-repo.h"
#include "db/cdl-db.h"
#include "db/cdl-db-listener.h"

G_BEGIN_DECLS

typedef struct
{
  guint    interval_ms;          /* 0: 30 s */
  guint    maintenance_s;        /* 0: 3600 */
  int      partition_months;     /* 0: 3 months ahead */
  char    *storage_dir;          /* NULL: no storage check */
  guint64  storage_min_free;     /* bytes; 0: 1 GiB */
  guint    stall_s;              /* 0: 600 */
  guint    failing_window_s;     /* 0: 900 */
  guint    failing_min_jobs;     /* 0: 3 */
  /* FIXME: set per instance (server configuration file, or
   * CDL_ALERT_WEBHOOK for the desktop), not in the shared settings, so
   * every instance should be given the same URL. */
  char    *webhook_url;          /* NULL or "": no webhook */
  guint    webhook_timeout_s;    /* 0: 10 */
  gboolean log_warnings;         /* log changes with g_warning (the server),
                                  * else g_message (the desktop notifies) */
} CdlAlertOptions;

#define CDL_TYPE_ALERT_SERVICE (cdl_alert_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlAlertService, cdl_alert_service, CDL, ALERT_SERVICE, GObject)

CdlAlertService *cdl_alert_service_new          (CdlDb                 *db,
                                                 const CdlAlertOptions *options);
void             cdl_alert_service_start        (CdlAlertService       *self);
void             cdl_alert_service_stop         (CdlAlertService       *self);
/* Emits "alert" for what @listener hears on CDL_ALERTS_CHANNEL. */
void             cdl_alert_service_watch        (CdlAlertService       *self,
                                                 CdlDbListener         *listener);

/* GET /api/alerts: the newest @limit alerts as a JSON array. */
void             cdl_alert_service_list_async   (CdlAlertService       *self,
                                                 guint                  limit,
                                                 gboolean               firing_only,
                                                 GCancellable          *cancellable,
                                                 GAsyncReadyCallback    callback,
                                                 gpointer               user_data);
JsonNode        *cdl_alert_service_list_finish  (CdlAlertService       *self,
                                                 GAsyncResult          *result,
                                                 GError               **error);

JsonNode        *cdl_alert_to_json              (const CdlAlert        *alert);

/* Signals:
 *   "alert" (const char *kind, const char *subject, const char *state,
 *            const char *message): an alert fired or cleared, decided by
 *            any instance.
 */

G_END_DECLS
