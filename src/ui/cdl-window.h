/* cdl-window.h: the main window
 *
 * A sidebar of the product's areas beside their content. While the
 * instance starts the window shows a spinner; if it fails, the reason and
 * a way to fix it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "ui/cdl-application.h"
#include "ui/cdl-pools-page.h"
#include "ui/cdl-tasks-page.h"
#include "ui/cdl-workers-page.h"
#include "ui/cdl-workflows-page.h"

G_BEGIN_DECLS

#define CDL_TYPE_WINDOW (cdl_window_get_type ())

G_DECLARE_FINAL_TYPE (CdlWindow, cdl_window, CDL, WINDOW, AdwApplicationWindow)

CdlWindow      *cdl_window_new              (CdlApplication *application);

void            cdl_window_add_toast        (CdlWindow      *self,
                                             AdwToast       *toast);

/* "workers", "workflows", "pools", "tasks", "annotate" or "export". */
const char     *cdl_window_get_visible_page (CdlWindow      *self);
void            cdl_window_set_visible_page (CdlWindow      *self,
                                             const char     *name);

CdlWorkersPage   *cdl_window_get_workers_page   (CdlWindow *self);
CdlWorkflowsPage *cdl_window_get_workflows_page (CdlWindow *self);
CdlPoolsPage     *cdl_window_get_pools_page     (CdlWindow *self);
CdlTasksPage     *cdl_window_get_tasks_page     (CdlWindow *self);

G_END_DECLS
