/* cdl-job-runner.h: one prompt on one worker, and storing one of its images
 *
 * The engine's building blocks for a job that is not tracked in the jobs
 * table (the pilot): wait for room behind the worker's queue gate, POST
 * /prompt under a chosen prompt_id, follow it through /history (asking
 * /queue while it is pending) until it ends, then fetch an output through
 * /view and store it with its thumbnail.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "comfy/cdl-comfy-jobs.h"
#include "storage/cdl-object-store.h"
#include "storage/cdl-thumbnailer.h"

G_BEGIN_DECLS

typedef struct
{
  char *base_url;
  char *api_key;          /* may be NULL */
  int   max_concurrent;   /* the queue gate; <= 0: no gate */
} CdlJobTarget;

/* Submits @graph under @prompt_id once the gate is open, then follows the
 * job until its history says it ended. Returns the history (SUCCESS, ERROR
 * with is_oom, or INTERRUPTED). Fails with CDL_COMFY_PROMPT_ERROR_* when
 * the worker refused the graph, G_IO_ERROR_NOT_FOUND when the worker lost
 * the job, and with the transport error when it cannot be reached. */
void             cdl_job_runner_run_async    (CdlComfyClient       *client,
                                              const CdlJobTarget   *target,
                                              JsonNode             *graph,
                                              const char           *client_id,
                                              const char           *prompt_id,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
CdlComfyHistory *cdl_job_runner_run_finish   (CdlComfyClient       *client,
                                              GAsyncResult         *result,
                                              GError              **error);

typedef struct
{
  char   *key;
  char   *sha256;
  goffset size;
  char   *thumb_key;
  guint   width;    /* of the image */
  guint   height;
} CdlStoredImage;

void            cdl_stored_image_free        (CdlStoredImage *image);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlStoredImage, cdl_stored_image_free)

/* Fetches @output through /view, stores it under @key and a thumbnail
 * under @thumb_key. @cancellable stops the fetch only: an image that
 * arrived is stored, so that nothing a worker made is lost on a stop. */
void            cdl_job_runner_store_async   (CdlComfyClient       *client,
                                              const CdlJobTarget   *target,
                                              const CdlComfyOutput *output,
                                              CdlObjectStore       *store,
                                              CdlThumbnailer       *thumbnailer,
                                              const char           *key,
                                              const char           *thumb_key,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
CdlStoredImage *cdl_job_runner_store_finish  (CdlComfyClient       *client,
                                              GAsyncResult         *result,
                                              GError              **error);

G_END_DECLS
