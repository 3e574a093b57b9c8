/* cdl-workflow-service.h: uploading and reading workflows
 *
 * Shared by the REST handlers and the desktop. An upload is validated
 * against the current settings and the node types of the enabled HEALTHY
 * workers, and stored as a new version even when it has problems (valid
 * is then FALSE and the report says why), so that the admin sees it.
 * Results are delivered on the thread-default main context of the caller.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "core/cdl-auth.h"
#include "core/cdl-workflow.h"
#include "db/cdl-db.h"

G_BEGIN_DECLS

#define CDL_TYPE_WORKFLOW_SERVICE (cdl_workflow_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlWorkflowService, cdl_workflow_service, CDL, WORKFLOW_SERVICE, GObject)

/* The largest upload accepted, as the REST server's 413 limit. */
#define CDL_WORKFLOW_MAX_BYTES (8 * 1024 * 1024)

CdlWorkflowService *cdl_workflow_service_new (CdlDb *db);

/* @name: required, 1–200 characters after trimming. @description: may be
 * NULL. @raw: the workflow_api.json file as uploaded. @user: the uploader
 * (may be NULL). Errors: CDL_SERVICE_ERROR_INVALID (400) for a missing
 * name, or a body that is not JSON at all (nothing is stored then);
 * CDL_SERVICE_ERROR_TOO_LARGE (413) above CDL_WORKFLOW_MAX_BYTES. Any
 * other problem is in the returned record (valid FALSE, problems). */
void         cdl_workflow_service_upload_async  (CdlWorkflowService   *self,
                                                 const char           *name,
                                                 const char           *description,
                                                 GBytes               *raw,
                                                 const CdlUser        *user,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
CdlWorkflow *cdl_workflow_service_upload_finish (CdlWorkflowService   *self,
                                                 GAsyncResult         *result,
                                                 GError              **error);

/* GPtrArray of CdlWorkflow, newest first, without the raw graph. */
void         cdl_workflow_service_list_async    (CdlWorkflowService   *self,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
GPtrArray   *cdl_workflow_service_list_finish   (CdlWorkflowService   *self,
                                                 GAsyncResult         *result,
                                                 GError              **error);

/* One version with its raw graph; CDL_SERVICE_ERROR_NOT_FOUND (404). */
void         cdl_workflow_service_get_async     (CdlWorkflowService   *self,
                                                 const char           *id,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
CdlWorkflow *cdl_workflow_service_get_finish    (CdlWorkflowService   *self,
                                                 GAsyncResult         *result,
                                                 GError              **error);

/* Signals (emitted on the main context the service was created in):
 *   "workflow-added" (CdlWorkflow *workflow): after an upload through
 *   this instance.
 */

G_END_DECLS
