/* cdl-workers-page.h: the worker registry, live
 *
 * Lists the registered ComfyUI workers with their health, queue and last
 * check; keeps the list current from the service's "worker-changed"
 * signal; opens the dialog to add or edit one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-worker-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_WORKERS_PAGE (cdl_workers_page_get_type ())

G_DECLARE_FINAL_TYPE (CdlWorkersPage, cdl_workers_page, CDL, WORKERS_PAGE, GtkWidget)

CdlWorkersPage   *cdl_workers_page_new          (void);

/* Starts listing the workers of @service and following its changes. */
void              cdl_workers_page_set_service  (CdlWorkersPage   *self,
                                                 CdlWorkerService *service);
CdlWorkerService *cdl_workers_page_get_service  (CdlWorkersPage   *self);

/* The workers shown, sorted by name (a GListModel of CdlWorker). */
GListModel       *cdl_workers_page_get_model    (CdlWorkersPage   *self);

void              cdl_workers_page_reload       (CdlWorkersPage   *self);
void              cdl_workers_page_add_worker   (CdlWorkersPage   *self);
void              cdl_workers_page_edit_worker  (CdlWorkersPage   *self,
                                                 CdlWorker        *worker);

G_END_DECLS
