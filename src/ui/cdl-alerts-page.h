/* cdl-alerts-page.h: the recent operational alerts
 *
 * Lists what cdl_alert_service_list_async() returns, newest first, and
 * reloads whenever any instance fires or clears an alert.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-alert-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_ALERTS_PAGE (cdl_alerts_page_get_type ())

G_DECLARE_FINAL_TYPE (CdlAlertsPage, cdl_alerts_page, CDL, ALERTS_PAGE, GtkWidget)

void  cdl_alerts_page_set_service (CdlAlertsPage   *self,
                                   CdlAlertService *service);
void  cdl_alerts_page_reload      (CdlAlertsPage   *self);
/* Rows shown (tests). */
guint cdl_alerts_page_get_n_rows  (CdlAlertsPage   *self);

G_END_DECLS
