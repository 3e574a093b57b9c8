/* cdl-schedule.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "core/cdl-schedule.h"

#define DOWNSHIFT_NUM 3
#define DOWNSHIFT_DEN 4
#define SIDE_MULTIPLE 8

static gboolean
strv_has (const char * const *strv,
          const char         *s)
{
  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    if (g_strcmp0 (strv[i], s) == 0)
      return TRUE;

  return FALSE;
}

/* < 0 when @a should be chosen before @b. */
static int
compare_workers (CdlWorker *a,
                 CdlWorker *b)
{
  int pa = cdl_worker_get_priority (a);
  int pb = cdl_worker_get_priority (b);
  int qa = cdl_worker_get_current_queue_len (a);
  int qb = cdl_worker_get_current_queue_len (b);

  if (pa != pb)
    return pa > pb ? -1 : 1;
  if (qa != qb)
    return qa < qb ? -1 : 1;

  return g_strcmp0 (cdl_worker_get_name (a), cdl_worker_get_name (b));
}

CdlWorker *
cdl_schedule_pick_worker (GPtrArray          *workers,
                          const char * const *runnable_ids,
                          GHashTable         *exclude)
{
  CdlWorker *best = NULL;

  g_return_val_if_fail (workers != NULL, NULL);

  for (guint i = 0; i < workers->len; i++)
    {
      CdlWorker *w = g_ptr_array_index (workers, i);
      const char *id = cdl_worker_get_id (w);

      if (!cdl_worker_get_enabled (w)
          || cdl_worker_get_status (w) != CDL_WORKER_STATUS_HEALTHY)
        continue;
      if (runnable_ids != NULL && !strv_has (runnable_ids, id))
        continue;
      if (exclude != NULL && g_hash_table_contains (exclude, id))
        continue;

      if (best == NULL || compare_workers (w, best) < 0)
        best = w;
    }

  return best;
}

gboolean
cdl_schedule_gate_open (int pending,
                        int running,
                        int max_concurrent_jobs)
{
  gint64 busy = (gint64)MAX (pending, 0) + MAX (running, 0);

  return busy < MAX (max_concurrent_jobs, 1);
}

GArray *
cdl_schedule_plan_prompt (int      n_seeds,
                          gboolean has_latent_batch_seed,
                          int      max_batch_size)
{
  GArray *slices = g_array_new (FALSE, FALSE, sizeof (CdlJobSlice));

  g_return_val_if_fail (n_seeds >= 0, slices);

  if (n_seeds == 0)
    return slices;

  if (has_latent_batch_seed && n_seeds > 1 && n_seeds <= max_batch_size)
    {
      CdlJobSlice slice = { 0, n_seeds, TRUE };

      g_array_append_val (slices, slice);
      return slices;
    }

  for (int i = 0; i < n_seeds; i++)
    {
      CdlJobSlice slice = { i, 1, FALSE };

      g_array_append_val (slices, slice);
    }

  return slices;
}

static int
shrink_side (int side,
             int min_side)
{
  int next = (int)((gint64)side * DOWNSHIFT_NUM / DOWNSHIFT_DEN);

  next -= next % SIDE_MULTIPLE;
  return MAX (next, min_side);
}

gboolean
cdl_schedule_downshift (const CdlSettings *settings,
                        const CdlGenSize  *current,
                        CdlGenSize        *next)
{
  int min_side;

  g_return_val_if_fail (settings != NULL, FALSE);
  g_return_val_if_fail (current != NULL && next != NULL, FALSE);

  *next = *current;

  if (current->batch_size > 1)
    {
      next->batch_size = current->batch_size / 2;
      return TRUE;
    }

  min_side = MAX (settings->resolution_min_side, SIDE_MULTIPLE);

  /* Both sides shrink by the same factor, which keeps the aspect; once
   * either side sits at the guardrail's minimum, nothing is left to lower. */
  if (current->width <= min_side || current->height <= min_side)
    return FALSE;

  next->width = shrink_side (current->width, min_side);
  next->height = shrink_side (current->height, min_side);

  return next->width < current->width || next->height < current->height;
}

const char *
cdl_job_outcome_to_string (CdlJobOutcome outcome)
{
  switch (outcome)
    {
    case CDL_JOB_OUTCOME_SUCCESS:
      return "success";
    case CDL_JOB_OUTCOME_PARTIAL:
      return "partial_failed";
    case CDL_JOB_OUTCOME_ERROR:
      return "error";
    case CDL_JOB_OUTCOME_OOM:
      return "out_of_memory";
    case CDL_JOB_OUTCOME_INTERRUPTED:
      return "interrupted";
    case CDL_JOB_OUTCOME_LOST:
      return "lost";
    case CDL_JOB_OUTCOME_REJECTED:
      return "rejected";
    default:
      return "unknown";
    }
}

gboolean
cdl_schedule_should_retry (int           retries_used,
                           CdlJobOutcome outcome)
{
  if (retries_used >= CDL_SCHEDULE_MAX_RETRIES)
    return FALSE;

  switch (outcome)
    {
    case CDL_JOB_OUTCOME_PARTIAL:
    case CDL_JOB_OUTCOME_ERROR:
    case CDL_JOB_OUTCOME_OOM:
    case CDL_JOB_OUTCOME_LOST:
      return TRUE;
    case CDL_JOB_OUTCOME_SUCCESS:
    case CDL_JOB_OUTCOME_INTERRUPTED:
    case CDL_JOB_OUTCOME_REJECTED:
    default:
      return FALSE;
    }
}

guint
cdl_schedule_history_delay_ms (guint attempt)
{
  guint delay = 500;

  for (guint i = 0; i < attempt && delay < 8000; i++)
    delay *= 2;

  return MIN (delay, 8000);
}
