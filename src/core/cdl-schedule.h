/* cdl-schedule.h: the orchestrator's decisions, without the I/O
 *
 * Which worker gets the next job, whether its queue has room, how a
 * prompt's seeds become jobs, what to try after an out-of-memory error,
 * and whether a failed job is tried again. The engine does the talking;
 * these functions decide, so that tests can pin every rule down.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "core/cdl-settings.h"
#include "core/cdl-worker.h"

G_BEGIN_DECLS

/* Attempts after the first, per prompt (spec 7) and per pilot. */
#define CDL_SCHEDULE_MAX_RETRIES 3

/* Picks the worker for the next job: enabled and HEALTHY, able to run the
 * workflow (its id in @runnable_ids; NULL means any), not in @exclude (a
 * set of ids, may be NULL); then the highest priority, then the shortest
 * current queue, then the name, so that the choice is stable. Returns a
 * borrowed element of @workers (CdlWorker), or NULL when none qualifies. */
CdlWorker *cdl_schedule_pick_worker   (GPtrArray           *workers,
                                       const char * const  *runnable_ids,
                                       GHashTable          *exclude);

/* Queue gating, checked right before each POST /prompt: the worker takes
 * a job only while pending + running < max_concurrent_jobs. Negative
 * counts (a malformed /queue) count as zero. */
gboolean   cdl_schedule_gate_open     (int                  pending,
                                       int                  running,
                                       int                  max_concurrent_jobs);

/* One POST /prompt of a prompt's seeds. */
typedef struct
{
  int      first_seed;  /* index into the prompt's seeds */
  int      n_seeds;     /* images the job makes */
  gboolean native;      /* one graph with batch_size = n_seeds */
} CdlJobSlice;

/* The inner loop for one prompt of @n_seeds seeds: a single native batch
 * when the workflow has LatentBatchSeedBehavior and the batch fits
 * @max_batch_size; otherwise one batch_size=1 job per seed. Never a batch
 * above the limit. Returns a GArray of CdlJobSlice. */
GArray    *cdl_schedule_plan_prompt   (int                  n_seeds,
                                       gboolean             has_latent_batch_seed,
                                       int                  max_batch_size);

typedef struct
{
  int width;
  int height;
  int batch_size;
} CdlGenSize;

/* After an out-of-memory error, the next, lighter attempt: halve the batch
 * first; at batch 1, shrink both sides by a quarter (to a multiple of 8,
 * keeping the aspect) but never below the guardrail's minimum side.
 * Returns FALSE when nothing can be lowered any more. */
gboolean   cdl_schedule_downshift     (const CdlSettings   *settings,
                                       const CdlGenSize    *current,
                                       CdlGenSize          *next);

typedef enum
{
  CDL_JOB_OUTCOME_SUCCESS,
  CDL_JOB_OUTCOME_PARTIAL,      /* history lacks some of the images */
  CDL_JOB_OUTCOME_ERROR,        /* execution_error other than OOM */
  CDL_JOB_OUTCOME_OOM,          /* out of memory */
  CDL_JOB_OUTCOME_INTERRUPTED,  /* someone pressed stop */
  CDL_JOB_OUTCOME_LOST,         /* neither queued nor in history */
  CDL_JOB_OUTCOME_REJECTED,     /* POST /prompt answered 400: the graph is wrong */
} CdlJobOutcome;

const char *cdl_job_outcome_to_string (CdlJobOutcome outcome);

/* Whether a prompt whose latest job ended with @outcome gets another
 * attempt, @retries_used having been spent already. A rejected graph or an
 * interruption is not retried: the first cannot succeed, the second was
 * asked for. */
gboolean   cdl_schedule_should_retry  (int                  retries_used,
                                       CdlJobOutcome        outcome);

/* How long to wait before asking /history again (FAQ 1): 500 ms, then
 * doubling, at most 8 s. @attempt counts from 0. */
guint      cdl_schedule_history_delay_ms (guint             attempt);

G_END_DECLS
