/* cdl-health-monitor.h: the periodic health pass over all workers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "services/cdl-worker-service.h"

G_BEGIN_DECLS

#define CDL_HEALTH_DEFAULT_INTERVAL_MS 30000

#define CDL_TYPE_HEALTH_MONITOR (cdl_health_monitor_get_type ())

G_DECLARE_FINAL_TYPE (CdlHealthMonitor, cdl_health_monitor, CDL, HEALTH_MONITOR, GObject)

CdlHealthMonitor *cdl_health_monitor_new   (CdlWorkerService *workers,
                                            guint             interval_ms);
void              cdl_health_monitor_start (CdlHealthMonitor *self);
void              cdl_health_monitor_stop  (CdlHealthMonitor *self);

G_END_DECLS
