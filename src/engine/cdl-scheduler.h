/* cdl-scheduler.h: mass generation across the workers, and ingestion
 *
 * One scheduler per process drives every RUNNING task in the database,
 * whichever instance started it. Each tick it leases the healthy workers
 * no other instance drives, checks each one's queue gate right before a
 * POST /prompt, claims the next job (plan order, round-robin across the
 * running tasks) and submits the frozen graph with only its text, seed and
 * batch changed, under the job id as ComfyUI prompt_id. It then follows
 * each job through /history, stores the images and their thumbnails and
 * records one generation per (seed, batch index). Jobs that another
 * instance left behind (it crashed) are found on their worker again
 * before anything is sent twice.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "comfy/cdl-comfy-client.h"
#include "db/cdl-db.h"
#include "storage/cdl-object-store.h"
#include "storage/cdl-thumbnailer.h"

G_BEGIN_DECLS

/* The NOTIFY channel that carries a task id when its images or state
 * changed (rate-limited per task). */
#define CDL_PROGRESS_CHANNEL "cdl_progress"

/* Returns the API key of a worker (NULL when it has none). Called from a
 * database thread; never logs the key. */
typedef char *(*CdlApiKeyFunc) (const char *worker_id,
                                gpointer    user_data);

#define CDL_TYPE_SCHEDULER (cdl_scheduler_get_type ())

G_DECLARE_FINAL_TYPE (CdlScheduler, cdl_scheduler, CDL, SCHEDULER, GObject)

CdlScheduler *cdl_scheduler_new         (CdlDb           *db,
                                         CdlComfyClient  *client,
                                         CdlObjectStore  *store,
                                         CdlThumbnailer  *thumbnailer,
                                         CdlApiKeyFunc    api_key_func,
                                         gpointer         api_key_data);

/* "hostname:pid:random", unique to this process. */
const char   *cdl_scheduler_get_holder  (CdlScheduler    *self);

/* Milliseconds between dispatch ticks (default 500). */
void          cdl_scheduler_set_tick_ms (CdlScheduler    *self,
                                         guint            tick_ms);

void          cdl_scheduler_start       (CdlScheduler    *self);

/* Runs a tick soon (a task started, paused or resumed). */
void          cdl_scheduler_kick        (CdlScheduler    *self);

/* Asks the workers of @jobs (CdlJob, submitted) to stop them: POST
 * /interrupt with the job's prompt_id. */
void          cdl_scheduler_interrupt   (CdlScheduler    *self,
                                         GPtrArray       *jobs);

/* Stops taking work: no claims, no submissions. Images being stored get
 * up to @drain_ms to finish; then this process's job claims and worker
 * leases are let go, so that a restart or another instance resumes the
 * rest at once. Blocks (it is for shutdown). */
void          cdl_scheduler_stop        (CdlScheduler    *self,
                                         guint            drain_ms);

gboolean      cdl_scheduler_is_running  (CdlScheduler    *self);

G_END_DECLS
