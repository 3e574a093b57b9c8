/* cdl-job-repo.h: the jobs and generations tables
 *
 * Plain blocking functions, to be called from a cdl_db_run_async()
 * function with the connection it was given. Jobs are shared by every
 * instance: each is claimed by one orchestrator at a time (claimed_by,
 * claimed_until, FOR UPDATE SKIP LOCKED), and a claim that is not renewed
 * lapses so another instance can pick the job up after a crash.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libpq-fe.h>

#include "core/cdl-job.h"

G_BEGIN_DECLS

/* Plans the mass-generation jobs of a task, in prompt order: with
 * @native, one job per prompt carrying all its seeds as a native batch;
 * otherwise one job per seed. Locks the task row, so that two instances
 * planning at once make one set of jobs; does nothing when the task has
 * mass jobs already. Call inside a transaction. Returns the number of jobs
 * made, or -1 with @error set. */
gint64     cdl_job_repo_plan          (PGconn        *conn,
                                       const char    *task_id,
                                       gboolean       native,
                                       GError       **error);

/* Claims the next queued job of @task_id for @holder for @claim_ms, in
 * plan order. NULL without an error when none is left. */
CdlJob    *cdl_job_repo_claim_next    (PGconn        *conn,
                                       const char    *task_id,
                                       const char    *holder,
                                       guint          claim_ms,
                                       GError       **error);

/* Claims, for @holder, jobs that were submitted by an instance whose claim
 * lapsed (it crashed or lost the database): their fate must be looked up
 * in the worker's /queue and /history before anything is sent again. */
GPtrArray *cdl_job_repo_claim_orphans (PGconn        *conn,
                                       const char    *holder,
                                       guint          claim_ms,
                                       GError       **error);

/* Extends every claim @holder has on unfinished jobs. Returns how many. */
gint64     cdl_job_repo_renew_claims  (PGconn        *conn,
                                       const char    *holder,
                                       guint          claim_ms,
                                       GError       **error);

/* A claimed queued job was sent to @worker_id. FALSE without an error when
 * @holder no longer holds the claim (nothing is changed then). */
gboolean   cdl_job_repo_mark_submitted (PGconn       *conn,
                                        const char   *job_id,
                                        const char   *holder,
                                        const char   *worker_id,
                                        const char   *client_id,
                                        GError      **error);

gboolean   cdl_job_repo_mark_running  (PGconn        *conn,
                                       const char    *job_id,
                                       GError       **error);

/* Puts a job marked submitted by @holder, but never sent, back in the
 * queue (or ends it cancelled with its task). FALSE without an error when
 * it is no longer such a job. */
gboolean   cdl_job_repo_unclaim       (PGconn        *conn,
                                       const char    *job_id,
                                       const char    *holder,
                                       GError       **error);

/* Ends an unfinished job with @state (done, partial_failed, failed or
 * cancelled) and @error_text (may be NULL). FALSE without an error when
 * the job had already ended. */
gboolean   cdl_job_repo_finish        (PGconn        *conn,
                                       const char    *job_id,
                                       const char    *state,
                                       const char    *error_text,
                                       GError       **error);

/* Ends the job with @state and queues its next attempt: the same prompt,
 * seeds and batch, attempt + 1, retry_of set. A native batch is sent again
 * whole (ComfyUI cannot make one index of a batch alone); the images
 * already stored are kept and not stored twice. Returns the new job. */
CdlJob    *cdl_job_repo_retry         (PGconn        *conn,
                                       const char    *job_id,
                                       const char    *state,
                                       const char    *error_text,
                                       GError       **error);

/* Ends the job with @state and queues its next attempt as one batch-1 job
 * per seed that has no image yet (the batch_size=1 loop of a native batch
 * that ran out of memory), attempt + 1, retry_of set. Returns how many
 * jobs were queued (0: every seed had its image, and the job counts as
 * done), or -1. */
gint64     cdl_job_repo_retry_singly  (PGconn        *conn,
                                       const char    *job_id,
                                       const char    *state,
                                       const char    *error_text,
                                       GError       **error);

/* Cancels the queued jobs of a task; submitted ones drain. Returns how
 * many were cancelled. */
gint64     cdl_job_repo_cancel_queued (PGconn        *conn,
                                       const char    *task_id,
                                       GError       **error);

CdlJob    *cdl_job_repo_get           (PGconn        *conn,
                                       const char    *job_id,
                                       GError       **error);

typedef struct
{
  gint64 total;    /* images the task should have */
  gint64 done;     /* images stored */
  gint64 running;  /* jobs submitted or running */
  gint64 pending;  /* jobs queued */
  gint64 failed;   /* jobs failed for good (no retry follows) */
} CdlTaskProgress;

gboolean   cdl_job_repo_progress      (PGconn          *conn,
                                       const char      *task_id,
                                       CdlTaskProgress *progress,
                                       GError         **error);

/* One stored image. */
typedef struct
{
  const char *task_id;
  const char *prompt_id;
  const char *seed_id;
  const char *job_id;
  const char *worker_id;
  gint64      seed_value;   /* the seed that was sent */
  int         batch_index;  /* its index in a native batch, else 0 */
  const char *image_uri;
  const char *thumb_uri;
  const char *checksum;     /* SHA-256, hex */
  gint64      bytes;
  int         width;
  int         height;
  JsonNode   *metadata;     /* may be NULL */
} CdlGenerationInput;

/* Records an image unless its seed and batch index already have one (a
 * retried native batch, or a job ingested twice after a crash). Returns the
 * generation id, or NULL without an error when the slot was taken; then
 * *@inserted is FALSE. */
char      *cdl_generation_repo_insert (PGconn                   *conn,
                                       const CdlGenerationInput *input,
                                       gboolean                 *inserted,
                                       GError                  **error);

/* What ingesting a job needs besides the job: the state of its task, the
 * prompt text, and per image of the job (batch order) the seed it is
 * for, that seed's value and whether its slot already holds an image. */
typedef struct
{
  char      *task_state;
  char      *prompt_text;
  guint      n_images;
  char     **seed_ids;      /* per image */
  gint64    *seed_values;   /* per image: the seed of that seed id */
  gboolean  *filled;        /* per image */
} CdlJobInputs;

void          cdl_job_inputs_free         (CdlJobInputs  *inputs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlJobInputs, cdl_job_inputs_free)

CdlJobInputs *cdl_job_repo_get_inputs     (PGconn        *conn,
                                           const CdlJob  *job,
                                           GError       **error);

/* Moves a task from one of @from (NULL-terminated) to @to. Returns the
 * state it had (also when it was not one of @from: then nothing changed
 * and *@changed is FALSE). CDL_DB_ERROR_NOT_FOUND for no such task. */
char         *cdl_job_repo_set_task_state (PGconn              *conn,
                                           const char          *task_id,
                                           const char * const  *from,
                                           const char          *to,
                                           gboolean            *changed,
                                           GError             **error);

/* Ends the RUNNING tasks that have no queued or unfinished mass job left:
 * FAILED when a job failed for good (no retry follows it), else DONE.
 * Each ended task is announced on the cdl_progress channel. Returns how
 * many tasks ended. */
gint64        cdl_job_repo_end_tasks      (PGconn        *conn,
                                           GError       **error);

/* Lets the claims of @holder lapse at once, so that another instance
 * (or a restart) picks its jobs up without waiting. */
gboolean      cdl_job_repo_release_claims (PGconn        *conn,
                                           const char    *holder,
                                           GError       **error);

/* The submitted or running jobs of @task_id on workers where no other
 * task has unfinished jobs: those may be interrupted (FAQ 7). */
GPtrArray    *cdl_job_repo_dedicated_in_flight (PGconn      *conn,
                                                const char  *task_id,
                                                GError     **error);

typedef struct
{
  char   *prompt_id;
  int     position;
  gint64  done;          /* images stored */
  gint64  failed;        /* jobs failed for good */
  int     retries_used;  /* highest attempt */
} CdlPromptProgress;

void       cdl_prompt_progress_free       (CdlPromptProgress *progress);

/* One page of per-prompt progress: positions greater than @after, at most
 * @limit, by position. *@next_after is the last position, or -1 at the
 * end. */
GPtrArray *cdl_job_repo_prompt_progress   (PGconn        *conn,
                                           const char    *task_id,
                                           int            after,
                                           guint          limit,
                                           int           *next_after,
                                           GError       **error);

G_END_DECLS
