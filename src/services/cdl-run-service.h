/* cdl-run-service.h: running a frozen task's mass generation
 *
 * Run, pause, resume and cancel a task, and read its progress. The
 * scheduler does the generation; these use cases move the task between
 * FROZEN, RUNNING, PAUSED and CANCELLED (DONE and FAILED are reached by
 * the scheduler when no job is left) and plan its jobs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "db/cdl-db.h"
#include "db/cdl-db-listener.h"
#include "engine/cdl-scheduler.h"
#include "services/cdl-worker-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_RUN_SERVICE (cdl_run_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlRunService, cdl_run_service, CDL, RUN_SERVICE, GObject)

/* @scheduler may be NULL (no generation in this process; the run is
 * still recorded and another instance drives it). */
CdlRunService *cdl_run_service_new          (CdlDb             *db,
                                             CdlWorkerService  *workers,
                                             CdlScheduler      *scheduler);

/* FROZEN → RUNNING, planning the jobs (one native batch per prompt when
 * the workflow has LatentBatchSeedBehavior and the seeds fit the batch
 * limit, else one job per seed); PAUSED → RUNNING too. 409 in any other
 * state, and 409 when no enabled HEALTHY worker can run the workflow.
 * Returns {state, worker_ids}. */
void      cdl_run_service_run_async         (CdlRunService       *self,
                                             const char          *task_id,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
/* RUNNING → PAUSED: no new jobs; those on workers finish and are stored. */
void      cdl_run_service_pause_async       (CdlRunService       *self,
                                             const char          *task_id,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
/* PAUSED → RUNNING (409 without a healthy worker). */
void      cdl_run_service_resume_async      (CdlRunService       *self,
                                             const char          *task_id,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
/* RUNNING or PAUSED → CANCELLED: queued jobs are cancelled; jobs on a
 * worker that runs nothing else are interrupted, others drain and their
 * images are discarded (FAQ 7). Returns {state, cancelled_jobs,
 * interrupted_jobs}. */
void      cdl_run_service_cancel_async      (CdlRunService       *self,
                                             const char          *task_id,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
/* Spec 2.4: {total, done, running, pending, failed, per_prompt, state,
 * next_after}; per_prompt holds the prompts after position @after (-1:
 * from the start), at most @limit. */
void      cdl_run_service_progress_async    (CdlRunService       *self,
                                             const char          *task_id,
                                             int                  after,
                                             guint                limit,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);

/* The answer of any of the calls above. */
JsonNode *cdl_run_service_finish            (CdlRunService       *self,
                                             GAsyncResult        *result,
                                             GError             **error);

/* Re-emits what @listener hears on CDL_PROGRESS_CHANNEL. */
void      cdl_run_service_watch             (CdlRunService       *self,
                                             CdlDbListener       *listener);

/* Signals (emitted on the main context of the listener):
 *   "progress-changed" (const char *task_id): a task's images were
 *   stored or its run changed state, in any instance; %NULL when the
 *   notifications may have been missed and every task may have changed.
 */

G_END_DECLS
