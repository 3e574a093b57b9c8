/* cdl-pools-page.h: the variable pools
 *
 * Lists the pools at their current versions, shows the items of the
 * selected one and a sample drawn by the service, and opens the dialog to
 * create a pool or save a new version of one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-pool-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_POOLS_PAGE (cdl_pools_page_get_type ())

G_DECLARE_FINAL_TYPE (CdlPoolsPage, cdl_pools_page, CDL, POOLS_PAGE, GtkWidget)

CdlPoolsPage   *cdl_pools_page_new          (void);

void            cdl_pools_page_set_service  (CdlPoolsPage   *self,
                                             CdlPoolService *service);

/* The pools shown, sorted by name (a GListModel of CdlPool). */
GListModel     *cdl_pools_page_get_model    (CdlPoolsPage   *self);
CdlPool        *cdl_pools_page_get_selected (CdlPoolsPage   *self);

void            cdl_pools_page_reload       (CdlPoolsPage   *self);
void            cdl_pools_page_new_pool     (CdlPoolsPage   *self);
void            cdl_pools_page_edit_pool    (CdlPoolsPage   *self,
                                             CdlPool        *pool);

G_END_DECLS
