/* cdl-tasks-page.h: the tasks, their prompts and seeds, and the freeze
 *
 * Lists the tasks with their state; shows the selected one with its
 * prompts and seeds a page at a time; opens the wizard that builds a new
 * task and freezes a draft after a confirmation that shows what is locked.
 * A frozen task is run from here, and its generation dashboard shown.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-pool-service.h"
#include "services/cdl-run-service.h"
#include "services/cdl-settings-service.h"
#include "services/cdl-task-service.h"
#include "services/cdl-worker-service.h"
#include "services/cdl-workflow-service.h"
#include "ui/cdl-pilot-page.h"
#include "ui/cdl-run-dashboard.h"

G_BEGIN_DECLS

#define CDL_TYPE_TASKS_PAGE (cdl_tasks_page_get_type ())

G_DECLARE_FINAL_TYPE (CdlTasksPage, cdl_tasks_page, CDL, TASKS_PAGE, GtkWidget)

CdlTasksPage *cdl_tasks_page_new          (void);

/* The wizard also needs the workflows, pools and limits. */
void          cdl_tasks_page_set_services (CdlTasksPage       *self,
                                           CdlTaskService     *tasks,
                                           CdlWorkflowService *workflows,
                                           CdlPoolService     *pools,
                                           CdlSettingsService *settings);

/* The tasks shown, newest first (a GListModel of CdlTask). */
GListModel   *cdl_tasks_page_get_model    (CdlTasksPage       *self);
/* The task shown on the right, as last read with its prompts, or NULL. */
CdlTask      *cdl_tasks_page_get_shown    (CdlTasksPage       *self);

void          cdl_tasks_page_reload       (CdlTasksPage       *self);
/* Opens the wizard. */
void          cdl_tasks_page_new_task     (CdlTasksPage       *self);
void          cdl_tasks_page_select_task  (CdlTasksPage       *self,
                                           const char         *id);
/* Asks to freeze the task shown; the confirmation does the rest. */
void          cdl_tasks_page_freeze       (CdlTasksPage       *self);

/* The services of the generation dashboard (set after the others). */
void          cdl_tasks_page_set_run_services (CdlTasksPage     *self,
                                               CdlRunService    *runs,
                                               CdlWorkerService *workers);
CdlRunDashboard *cdl_tasks_page_get_dashboard (CdlTasksPage     *self);
/* Starts the generation of the shown task when it is frozen. */
void          cdl_tasks_page_run              (CdlTasksPage     *self);

/* The services of the pilot review (set after the others). */
void          cdl_tasks_page_set_pilot_services (CdlTasksPage     *self,
                                                 CdlPilotService  *pilots,
                                                 CdlWorkerService *workers,
                                                 CdlObjectStore   *images);
/* Opens the pilot review of the shown task when it is a draft; returns
 * its window (owned by GTK), or NULL. */
CdlPilotPage *cdl_tasks_page_pilot              (CdlTasksPage     *self);

G_END_DECLS
