/* cdl-annotate-page.h: the annotation gallery
 *
 * Lists the tasks that have batches to label, then shows one batch at a
 * time as a grid of its images in the order the annotator is shown
 * (thumbnails first, full resolution as it arrives), the prompt and the
 * seeds. Keys 1–9 choose the image at that position, Shift+1–9 reject
 * one first, S marks the batch spam, Z undoes the last label, Space
 * zooms. Labels go through the annotation service as the REST API's do,
 * with the indexes of the stored order, the shown order and the time
 * taken. The desktop labels as its own user (cdl_auth_service_desktop_user_name()).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-annotation-service.h"
#include "services/cdl-auth-service.h"
#include "storage/cdl-object-store.h"

G_BEGIN_DECLS

#define CDL_TYPE_ANNOTATE_PAGE (cdl_annotate_page_get_type ())

G_DECLARE_FINAL_TYPE (CdlAnnotatePage, cdl_annotate_page, CDL, ANNOTATE_PAGE, GtkWidget)

void        cdl_annotate_page_set_services (CdlAnnotatePage      *self,
                                            CdlAnnotationService *annotations,
                                            CdlAuthService       *auth,
                                            CdlObjectStore       *store);

void        cdl_annotate_page_reload       (CdlAnnotatePage      *self);
void        cdl_annotate_page_open_task    (CdlAnnotatePage      *self,
                                            const char           *task_id);

/* The desktop user's id, once known; NULL before. */
const char *cdl_annotate_page_get_user_id  (CdlAnnotatePage      *self);
/* The batch on screen, or NULL. */
const char *cdl_annotate_page_get_batch_id (CdlAnnotatePage      *self);
/* Whether a label, an undo or the next batch is on its way. */
gboolean    cdl_annotate_page_is_busy      (CdlAnnotatePage      *self);
/* "loading", "empty", "error", "tasks", "done" or "gallery". */
const char *cdl_annotate_page_get_view     (CdlAnnotatePage      *self);

G_END_DECLS
