/* cdl-worker-row.h: one worker in the registry list
 *
 * Name, address, tags, a health badge, queue length and the age of the
 * last check, with the switch that enables the worker and buttons to test
 * or edit it. The row talks to the worker service for the switch and the
 * test; editing goes through the "workers.edit" action of the page.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-worker-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_WORKER_ROW (cdl_worker_row_get_type ())

G_DECLARE_FINAL_TYPE (CdlWorkerRow, cdl_worker_row, CDL, WORKER_ROW, GtkWidget)

CdlWorkerRow *cdl_worker_row_new         (CdlWorkerService *service);

CdlWorker    *cdl_worker_row_get_worker  (CdlWorkerRow     *self);
void          cdl_worker_row_set_worker  (CdlWorkerRow     *self,
                                          CdlWorker        *worker);

/* "Healthy", "Unhealthy", "Checking…" or "Disabled", as shown. */
const char   *cdl_worker_row_get_health_text (CdlWorkerRow *self);

G_END_DECLS
