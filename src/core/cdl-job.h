/* cdl-job.h: one POST /prompt of the orchestrator, as stored
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* jobs.state */
#define CDL_JOB_QUEUED          "queued"
#define CDL_JOB_SUBMITTED       "submitted"
#define CDL_JOB_RUNNING         "running"
#define CDL_JOB_DONE            "done"
#define CDL_JOB_PARTIAL_FAILED  "partial_failed"
#define CDL_JOB_FAILED          "failed"
#define CDL_JOB_CANCELLED       "cancelled"

typedef struct
{
  char      *id;
  char      *task_id;
  char      *prompt_id;
  char      *kind;             /* "warmup", "pilot" or "mass" */
  char      *state;            /* CDL_JOB_… */
  char      *worker_id;        /* NULL until submitted */
  char      *client_id;
  char      *comfy_prompt_id;  /* the prompt_id we chose for ComfyUI */
  char     **seed_ids;         /* the seeds this job makes, in batch order */
  gboolean   native_batch;
  int        batch_size;
  int        attempt;          /* 0 for the first, +1 per retry */
  char      *retry_of;         /* the job this one replaces, or NULL */
  char      *error;
  gint64     seq;
} CdlJob;

#define CDL_TYPE_JOB (cdl_job_get_type ())

GType   cdl_job_get_type (void) G_GNUC_CONST;
CdlJob *cdl_job_copy     (const CdlJob *job);
void    cdl_job_free     (CdlJob       *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlJob, cdl_job_free)

/* The ComfyUI prompt_id of an attempt: the job id, which is unique, so a
 * submission whose answer was lost can be found again in /queue or
 * /history instead of being sent twice (FAQ 5, 6). */
char   *cdl_job_comfy_prompt_id (const CdlJob *job);

G_END_DECLS
