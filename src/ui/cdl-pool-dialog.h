/* cdl-pool-dialog.h: create a variable pool, or save a new version of one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-pool-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_POOL_DIALOG (cdl_pool_dialog_get_type ())

G_DECLARE_FINAL_TYPE (CdlPoolDialog, cdl_pool_dialog, CDL, POOL_DIALOG, AdwWindow)

/* @pool: NULL to create one; else its edits are saved as a new version.
 * Emits "saved" (CdlPool *pool, gboolean created) and closes. */
CdlPoolDialog *cdl_pool_dialog_new         (GtkWindow      *parent,
                                            CdlPoolService *service,
                                            CdlPool        *pool);

/* Replaces the items with those of a .txt or .csv file (one a line):
 * what the Import… button ends in. */
void           cdl_pool_dialog_import_file (CdlPoolDialog  *self,
                                            GFile          *file);

/* "812 items (37 duplicates dropped)" */
const char    *cdl_pool_dialog_get_summary (CdlPoolDialog  *self);

G_END_DECLS
