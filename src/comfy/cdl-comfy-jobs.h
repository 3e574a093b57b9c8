/* cdl-comfy-jobs.h: running prompts on a ComfyUI worker
 *
 * Submit a graph, watch the queue, read the history, fetch the images,
 * interrupt and free: asynchronous calls on a CdlComfyClient, each built
 * from the worker's base_url, with its API key as a bearer token and the
 * client's time-out (30 s unless changed).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cdl-comfy-client.h"

G_BEGIN_DECLS

/* ComfyUI refused the prompt with HTTP 400; the message says why, node by
 * node. Not worth retrying with the same graph. */
#define CDL_COMFY_PROMPT_ERROR (cdl_comfy_prompt_error_quark ())

typedef enum
{
  CDL_COMFY_PROMPT_ERROR_INVALID,     /* invalid_prompt: unknown node type,
                                         node without class_type */
  CDL_COMFY_PROMPT_ERROR_NO_OUTPUTS,  /* prompt_no_outputs */
  CDL_COMFY_PROMPT_ERROR_VALIDATION,  /* prompt_outputs_failed_validation */
  CDL_COMFY_PROMPT_ERROR_OTHER,       /* any other 400 (no_prompt …) */
} CdlComfyPromptError;

GQuark cdl_comfy_prompt_error_quark (void);

/* Images larger than this are refused by cdl_comfy_jobs_view_async (). */
#define CDL_COMFY_VIEW_MAX_BYTES (64 * 1024 * 1024)

/* POST /prompt */

typedef struct
{
  char     *prompt_id;
  gint64    number;
  JsonNode *node_errors;  /* object; non-empty when some outputs were
                             left out and the rest accepted */
} CdlComfySubmitted;

void               cdl_comfy_submitted_free (CdlComfySubmitted *submitted);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlComfySubmitted, cdl_comfy_submitted_free)

/* @client_id and @prompt_id may be NULL; a given @prompt_id is the one the
 * worker uses, so that a resubmission after a time-out can be recognised.
 * Errors: CDL_COMFY_PROMPT_ERROR_* on a 400, CDL_COMFY_ERROR_* else. */
void               cdl_comfy_jobs_submit_async  (CdlComfyClient      *client,
                                                 const char          *base_url,
                                                 const char          *api_key,
                                                 JsonNode            *graph,
                                                 const char          *client_id,
                                                 const char          *prompt_id,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
CdlComfySubmitted *cdl_comfy_jobs_submit_finish (CdlComfyClient      *client,
                                                 GAsyncResult        *result,
                                                 GError             **error);

/* GET /queue */

typedef struct
{
  int   n_running;
  int   n_pending;
  GStrv running;   /* prompt ids */
  GStrv pending;
} CdlComfyQueue;

void               cdl_comfy_queue_free         (CdlComfyQueue       *queue);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlComfyQueue, cdl_comfy_queue_free)
gboolean           cdl_comfy_queue_contains     (const CdlComfyQueue *queue,
                                                 const char          *prompt_id);
/* Parses a GET /queue body; missing lists count as empty. */
CdlComfyQueue     *cdl_comfy_parse_queue_items  (JsonNode            *node,
                                                 GError             **error);

void               cdl_comfy_jobs_queue_async   (CdlComfyClient      *client,
                                                 const char          *base_url,
                                                 const char          *api_key,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
CdlComfyQueue     *cdl_comfy_jobs_queue_finish  (CdlComfyClient      *client,
                                                 GAsyncResult        *result,
                                                 GError             **error);

/* GET /history/{prompt_id} */

typedef enum
{
  CDL_COMFY_JOB_PENDING,      /* no entry yet: queued, running or unknown */
  CDL_COMFY_JOB_SUCCESS,
  CDL_COMFY_JOB_ERROR,
  CDL_COMFY_JOB_INTERRUPTED,
} CdlComfyJobStatus;

typedef struct
{
  char *node_id;
  char *filename;
  char *subfolder;
  char *type;       /* "output", "temp" or "input" */
} CdlComfyOutput;

typedef struct
{
  CdlComfyJobStatus status;
  gboolean          is_oom;          /* the error was running out of
                                        GPU memory */
  char             *error_type;      /* exception_type, may be NULL */
  char             *error_message;   /* exception_message, may be NULL */
  char             *error_node_id;   /* where it failed, may be NULL */
  GPtrArray        *outputs;         /* CdlComfyOutput, in the order the
                                        worker lists them: for one node,
                                        batch index order */
} CdlComfyHistory;

void               cdl_comfy_history_free       (CdlComfyHistory     *history);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlComfyHistory, cdl_comfy_history_free)

/* TRUE for ComfyUI's out-of-memory errors: an exception type ending in
 * "OutOfMemoryError", or a message with "out of memory" or "Allocation on
 * device" (torch 2.4+ with cudaMallocAsync). */
gboolean           cdl_comfy_is_oom             (const char          *exception_type,
                                                 const char          *message);

/* Parses a GET /history/{prompt_id} body ({} while pending). */
CdlComfyHistory   *cdl_comfy_parse_history      (JsonNode            *node,
                                                 const char          *prompt_id,
                                                 GError             **error);

void               cdl_comfy_jobs_history_async (CdlComfyClient      *client,
                                                 const char          *base_url,
                                                 const char          *api_key,
                                                 const char          *prompt_id,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
CdlComfyHistory   *cdl_comfy_jobs_history_finish (CdlComfyClient     *client,
                                                  GAsyncResult       *result,
                                                  GError            **error);

/* GET /view: the image's bytes (at most CDL_COMFY_VIEW_MAX_BYTES) and its
 * Content-Type, which may be NULL. */
void               cdl_comfy_jobs_view_async    (CdlComfyClient      *client,
                                                 const char          *base_url,
                                                 const char          *api_key,
                                                 const char          *filename,
                                                 const char          *subfolder,
                                                 const char          *type,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
GBytes            *cdl_comfy_jobs_view_finish   (CdlComfyClient      *client,
                                                 GAsyncResult        *result,
                                                 char               **content_type,
                                                 GError             **error);

/* POST /interrupt, for @prompt_id only when not NULL. ComfyUI's interrupt
 * without a prompt id stops whatever runs. */
void               cdl_comfy_jobs_interrupt_async  (CdlComfyClient      *client,
                                                    const char          *base_url,
                                                    const char          *api_key,
                                                    const char          *prompt_id,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gboolean           cdl_comfy_jobs_interrupt_finish (CdlComfyClient      *client,
                                                    GAsyncResult        *result,
                                                    GError             **error);

/* POST /free {"unload_models": false, "free_memory": true}. */
void               cdl_comfy_jobs_free_async    (CdlComfyClient      *client,
                                                 const char          *base_url,
                                                 const char          *api_key,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
gboolean           cdl_comfy_jobs_free_finish   (CdlComfyClient      *client,
                                                 GAsyncResult        *result,
                                                 GError             **error);

G_END_DECLS
