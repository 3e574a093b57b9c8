/* cdl-run-dashboard.h: the generation dashboard of one task
 *
 * Shows how far a frozen task's mass generation has come: the images
 * stored out of all, the images per minute and the time left, the
 * workers with their health and queue depth, and each prompt's done,
 * failed and retried images, a page at a time. Pauses, resumes and
 * cancels the run (the cancel after a confirmation). Refreshes when the
 * run service hears of progress, at most twice a second, and every five
 * seconds in any case.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-run-service.h"
#include "services/cdl-task-service.h"
#include "services/cdl-worker-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_RUN_DASHBOARD (cdl_run_dashboard_get_type ())

G_DECLARE_FINAL_TYPE (CdlRunDashboard, cdl_run_dashboard, CDL, RUN_DASHBOARD, GtkWidget)

CdlRunDashboard *cdl_run_dashboard_new          (void);
void             cdl_run_dashboard_set_services (CdlRunDashboard  *self,
                                                 CdlRunService    *runs,
                                                 CdlTaskService   *tasks,
                                                 CdlWorkerService *workers);
/* The task shown; %NULL shows none and stops refreshing. */
void             cdl_run_dashboard_set_task     (CdlRunDashboard  *self,
                                                 const char       *task_id);
const char      *cdl_run_dashboard_get_task     (CdlRunDashboard  *self);
/* The run state last read (FROZEN, RUNNING, PAUSED, DONE, FAILED,
 * CANCELLED), or %NULL before the first read. */
const char      *cdl_run_dashboard_get_state    (CdlRunDashboard  *self);
/* Images stored and planned, as last read. */
gint64           cdl_run_dashboard_get_done     (CdlRunDashboard  *self);
gint64           cdl_run_dashboard_get_total    (CdlRunDashboard  *self);

/* Start (FROZEN) or go on (PAUSED); a refusal is shown as a toast. */
void             cdl_run_dashboard_run          (CdlRunDashboard  *self);
void             cdl_run_dashboard_pause        (CdlRunDashboard  *self);
/* Asks first. */
void             cdl_run_dashboard_cancel       (CdlRunDashboard  *self);
/* Reads the progress again now. */
void             cdl_run_dashboard_refresh      (CdlRunDashboard  *self);

G_END_DECLS
