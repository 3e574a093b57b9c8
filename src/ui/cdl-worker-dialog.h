/* cdl-worker-dialog.h: add or edit a ComfyUI worker
 *
 * Validates the fields as they are typed (the rules the REST API applies)
 * and keeps Save insensitive until they pass; a refusal from the service,
 * such as a name already taken, is shown in place without closing.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-worker-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_WORKER_DIALOG (cdl_worker_dialog_get_type ())

G_DECLARE_FINAL_TYPE (CdlWorkerDialog, cdl_worker_dialog, CDL, WORKER_DIALOG, AdwWindow)

/* @worker: the worker to edit, or NULL to register a new one.
 *
 * Signals:
 *   "saved" (CdlWorker *worker, gboolean created): the service accepted
 *   the worker; the dialog closes right after. */
CdlWorkerDialog *cdl_worker_dialog_new        (GtkWindow        *parent,
                                               CdlWorkerService *service,
                                               CdlWorker        *worker);

/* The worker being edited; NULL when adding. */
CdlWorker       *cdl_worker_dialog_get_worker (CdlWorkerDialog  *self);

G_END_DECLS
