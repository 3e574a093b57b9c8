/* cdl-quality-page.h: how a task's annotators label
 *
 * Per annotator: labels, spam rate, median decision time and where in
 * the shown order the chosen image sat (a position bias shows as a
 * lopsided histogram); for the task, how often people who labelled the
 * same batch agree. The figures come from cdl_annotation_service_stats_async().
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-annotation-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_QUALITY_PAGE (cdl_quality_page_get_type ())

G_DECLARE_FINAL_TYPE (CdlQualityPage, cdl_quality_page, CDL, QUALITY_PAGE, GtkWidget)

void     cdl_quality_page_set_service (CdlQualityPage       *self,
                                       CdlAnnotationService *service);
void     cdl_quality_page_reload      (CdlQualityPage       *self);
gboolean cdl_quality_page_select_task (CdlQualityPage       *self,
                                       const char           *task_id);
/* Whether the figures are being fetched. */
gboolean cdl_quality_page_is_busy     (CdlQualityPage       *self);

G_END_DECLS
