/* cdl-export-page.h: the DPO export of a task
 *
 * Pick a task and a format (DPO JSONL or pairs), see the first lines,
 * save the whole export to a file (streamed, with a progress bar, the UI
 * free meanwhile) and re-hash the stored images it refers to.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-annotation-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_EXPORT_PAGE (cdl_export_page_get_type ())

G_DECLARE_FINAL_TYPE (CdlExportPage, cdl_export_page, CDL, EXPORT_PAGE, GtkWidget)

void        cdl_export_page_set_service   (CdlExportPage        *self,
                                           CdlAnnotationService *service);
void        cdl_export_page_reload        (CdlExportPage        *self);

/* FALSE when the task is not listed (no stored images). */
gboolean    cdl_export_page_select_task   (CdlExportPage        *self,
                                           const char           *task_id);
void        cdl_export_page_set_format    (CdlExportPage        *self,
                                           CdlExportFormat       format);

/* What Save… does once a file is picked. */
void        cdl_export_page_save_to_file  (CdlExportPage        *self,
                                           GFile                *file);
void        cdl_export_page_verify        (CdlExportPage        *self);

/* Whether a preview, save or verification is running. */
gboolean    cdl_export_page_is_busy       (CdlExportPage        *self);
/* Lines of the last save, or -1 when it failed. */
gint64      cdl_export_page_get_saved_lines (CdlExportPage      *self);
/* The text of the preview and of the verification's result. */
char       *cdl_export_page_get_preview   (CdlExportPage        *self);
const char *cdl_export_page_get_verify_result (CdlExportPage    *self);

G_END_DECLS
