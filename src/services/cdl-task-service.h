/* cdl-task-service.h: the task lifecycle's use cases up to the freeze
 *
 * Shared by the REST handlers and the desktop task wizard: list, show with
 * a page of prompts, create (prompts and seeds generated at once), edit a
 * draft (regenerating when the sampling inputs change) and freeze. Results
 * are delivered on the thread-default main context of the caller.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "core/cdl-task.h"
#include "db/cdl-db.h"

G_BEGIN_DECLS

#define CDL_TYPE_TASK_SERVICE (cdl_task_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlTaskService, cdl_task_service, CDL, TASK_SERVICE, GObject)

CdlTaskService *cdl_task_service_new (CdlDb *db);

/* GPtrArray of CdlTask, newest first, with counts, without prompts. */
void       cdl_task_service_list_async    (CdlTaskService       *self,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
GPtrArray *cdl_task_service_list_finish   (CdlTaskService       *self,
                                           GAsyncResult         *result,
                                           GError              **error);

/* The task with one page of prompts and seeds: positions after @after
 * (-1: from the start), at most @limit (0: CDL_TASK_PAGE_DEFAULT; capped
 * at CDL_TASK_PAGE_MAX). NOT_FOUND for an unknown id. */
void       cdl_task_service_get_async     (CdlTaskService       *self,
                                           const char           *id,
                                           int                   after,
                                           guint                 limit,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
CdlTask   *cdl_task_service_get_finish    (CdlTaskService       *self,
                                           GAsyncResult         *result,
                                           GError              **error);

/* Validates @input against the workflow, the pools and the settings,
 * pins the pools' current versions, generates the prompts and seeds from
 * the rng seed (given, or drawn and stored) and stores everything in one
 * transaction. Errors: INVALID naming the field (unknown workflow_id or
 * pool, K above what the pools give, N of 0 or above
 * max_workflow_batch_size, a bad template); CONFLICT for an invalid
 * workflow, with its problems summarised. Returns the task with its first
 * page. Takes ownership of @input, as does _update_async. */
void       cdl_task_service_create_async  (CdlTaskService       *self,
                                           CdlTaskInput         *input,
                                           const char           *created_by,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
CdlTask   *cdl_task_service_create_finish (CdlTaskService       *self,
                                           GAsyncResult         *result,
                                           GError              **error);

/* Edits a DRAFT task (CONFLICT otherwise). name and notes change in
 * place; a change of workflow, pools, K, N, template or rng seed
 * regenerates the prompts and seeds (pools re-pinned at their current
 * versions only when variable_pool_ids is given). */
void       cdl_task_service_update_async  (CdlTaskService       *self,
                                           const char           *id,
                                           CdlTaskInput         *input,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
CdlTask   *cdl_task_service_update_finish (CdlTaskService       *self,
                                           GAsyncResult         *result,
                                           GError              **error);

/* Freezes a DRAFT task: records the snapshot (workflow raw definition and
 * version, pool ids and versions, the settings used, counts and the
 * SHA-256 of the prompts and seeds) and sets frozen_at. From then on the
 * database refuses any change to its prompts, seeds and snapshot.
 * CONFLICT when already frozen or when the workflow is invalid. */
void       cdl_task_service_freeze_async  (CdlTaskService       *self,
                                           const char           *id,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
CdlTask   *cdl_task_service_freeze_finish (CdlTaskService       *self,
                                           GAsyncResult         *result,
                                           GError              **error);

/* Signals (emitted on the main context the service was created in):
 *   "task-changed" (CdlTask *task): after a create, edit or freeze by
 *   this instance.
 */

G_END_DECLS
