/* cdl-job.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "core/cdl-job.h"

G_DEFINE_BOXED_TYPE (CdlJob, cdl_job, cdl_job_copy, cdl_job_free)

CdlJob *
cdl_job_copy (const CdlJob *job)
{
  CdlJob *copy;

  g_return_val_if_fail (job != NULL, NULL);

  copy = g_new0 (CdlJob, 1);
  copy->id = g_strdup (job->id);
  copy->task_id = g_strdup (job->task_id);
  copy->prompt_id = g_strdup (job->prompt_id);
  copy->kind = g_strdup (job->kind);
  copy->state = g_strdup (job->state);
  copy->worker_id = g_strdup (job->worker_id);
  copy->client_id = g_strdup (job->client_id);
  copy->comfy_prompt_id = g_strdup (job->comfy_prompt_id);
  copy->seed_ids = g_strdupv (job->seed_ids);
  copy->native_batch = job->native_batch;
  copy->batch_size = job->batch_size;
  copy->attempt = job->attempt;
  copy->retry_of = g_strdup (job->retry_of);
  copy->error = g_strdup (job->error);
  copy->seq = job->seq;

  return copy;
}

void
cdl_job_free (CdlJob *job)
{
  if (job == NULL)
    return;

  g_free (job->id);
  g_free (job->task_id);
  g_free (job->prompt_id);
  g_free (job->kind);
  g_free (job->state);
  g_free (job->worker_id);
  g_free (job->client_id);
  g_free (job->comfy_prompt_id);
  g_strfreev (job->seed_ids);
  g_free (job->retry_of);
  g_free (job->error);
  g_free (job);
}

char *
cdl_job_comfy_prompt_id (const CdlJob *job)
{
  g_return_val_if_fail (job != NULL && job->id != NULL, NULL);

  return g_strdup (job->id);
}
