/* cdl-task-wizard.h: the steps that build a new task
 *
 * Workflow → pools and prompt template → K and N → a preview of the first
 * prompts and seeds. Reaching the preview stores the task as a DRAFT (the
 * service generates the prompts and seeds there); going back and changing
 * a step edits that draft. Create closes the wizard and emits "created";
 * so does closing it once the draft exists, since the draft stays.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-pool-service.h"
#include "services/cdl-settings-service.h"
#include "services/cdl-task-service.h"
#include "services/cdl-workflow-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_TASK_WIZARD (cdl_task_wizard_get_type ())

G_DECLARE_FINAL_TYPE (CdlTaskWizard, cdl_task_wizard, CDL, TASK_WIZARD, AdwWindow)

CdlTaskWizard *cdl_task_wizard_new      (GtkWindow          *parent,
                                         CdlTaskService     *tasks,
                                         CdlWorkflowService *workflows,
                                         CdlPoolService     *pools,
                                         CdlSettingsService *settings);

/* "workflow", "pools", "counts" or "preview". */
const char    *cdl_task_wizard_get_step (CdlTaskWizard      *self);
/* The draft stored on reaching the preview, or NULL. */
CdlTask       *cdl_task_wizard_get_task (CdlTaskWizard      *self);

G_END_DECLS
