/* cdl-workflows-page.h: uploaded workflows and their validation reports
 *
 * Lists every stored workflow version grouped by name, shows the report
 * of the selected one, and uploads new versions from the file chooser or
 * from a file dropped on the page.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-workflow-service.h"
#include "services/cdl-worker-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_WORKFLOWS_PAGE (cdl_workflows_page_get_type ())

G_DECLARE_FINAL_TYPE (CdlWorkflowsPage, cdl_workflows_page, CDL, WORKFLOWS_PAGE, GtkWidget)

CdlWorkflowsPage *cdl_workflows_page_new          (void);

/* @workers only names the workers a workflow runs on; it may be NULL. */
void              cdl_workflows_page_set_services (CdlWorkflowsPage   *self,
                                                   CdlWorkflowService *service,
                                                   CdlWorkerService   *workers);

/* The workflows shown, grouped by name (a GListModel of CdlWorkflow). */
GListModel       *cdl_workflows_page_get_model    (CdlWorkflowsPage   *self);
/* The one whose report is shown, or NULL. */
CdlWorkflow      *cdl_workflows_page_get_selected (CdlWorkflowsPage   *self);

void              cdl_workflows_page_reload       (CdlWorkflowsPage   *self);
/* Opens the file chooser. */
void              cdl_workflows_page_upload       (CdlWorkflowsPage   *self);
/* Reads @file and asks for the name to upload it under; what the file
 * chooser and a drop both end in. */
void              cdl_workflows_page_open_file    (CdlWorkflowsPage   *self,
                                                   GFile              *file);

G_END_DECLS
