/* cdl-job-runner.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-engine"

#include "config.h"

#include "core/cdl-metrics.h"
#include "core/cdl-schedule.h"
#include "engine/cdl-job-runner.h"

#define GATE_POLL_MS       500
/* Times in a row a job is neither queued nor in history before it is
 * taken as lost (the first may race with its end, FAQ 1). */
#define ABSENT_LIMIT       2
#define UNREACHABLE_LIMIT  5

typedef struct
{
  CdlComfyClient *client;
  char           *base_url;
  char           *api_key;
  int             max_concurrent;
  JsonNode       *graph;
  char           *client_id;
  char           *prompt_id;
  guint           attempt;
  guint           absent;
  guint           unreachable;
} RunState;

static void
run_state_free (RunState *s)
{
  g_clear_object (&s->client);
  g_free (s->base_url);
  g_free (s->api_key);
  g_clear_pointer (&s->graph, json_node_unref);
  g_free (s->client_id);
  g_free (s->prompt_id);
  g_free (s);
}

static void ask_queue_for_gate (GTask *task);
static void ask_history (GTask *task);

static void
later (GTask       *task,
       guint        delay_ms,
       void       (*step) (GTask *task))
{
  /* The timeout holds the task's only reference until it fires. */
  g_timeout_add_once (delay_ms, (GSourceOnceFunc) step, task);
}

static gboolean
stop_if_cancelled (GTask *task)
{
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return TRUE;
    }
  return FALSE;
}

/* A poll that could not reach the worker: try again a little later, a
 * few times, before giving up. */
static void
poll_failed (GTask   *task,
             GError  *error,
             void   (*step) (GTask *task))
{
  RunState *s = g_task_get_task_data (task);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      || ++s->unreachable >= UNREACHABLE_LIMIT)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  g_debug ("Cannot reach %s for prompt %s: %s", s->base_url, s->prompt_id, error->message);
  g_error_free (error);
  later (task, cdl_schedule_history_delay_ms (MIN (s->unreachable, 4)), step);
}

static void
queue_check_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  RunState *s = g_task_get_task_data (task);
  g_autoptr(CdlComfyQueue) queue = NULL;
  GError *error = NULL;

  queue = cdl_comfy_jobs_queue_finish (CDL_COMFY_CLIENT (source), result, &error);
  if (queue == NULL)
    {
      poll_failed (task, error, ask_history);
      return;
    }

  s->unreachable = 0;
  if (cdl_comfy_queue_contains (queue, s->prompt_id))
    {
      s->absent = 0;
      later (task, cdl_schedule_history_delay_ms (s->attempt++), ask_history);
      return;
    }

  /* Neither queued nor in history: it may have ended between the two
   * calls, so look once more before calling it lost. */
  if (++s->absent >= ABSENT_LIMIT)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               "The worker at %s has no trace of prompt %s",
                               s->base_url, s->prompt_id);
      g_object_unref (task);
      return;
    }
  later (task, cdl_schedule_history_delay_ms (0), ask_history);
}

static void
history_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GTask *task = user_data;
  RunState *s = g_task_get_task_data (task);
  CdlComfyHistory *history;
  GError *error = NULL;

  history = cdl_comfy_jobs_history_finish (CDL_COMFY_CLIENT (source), result, &error);
  if (history == NULL)
    {
      poll_failed (task, error, ask_history);
      return;
    }

  s->unreachable = 0;
  if (history->status == CDL_COMFY_JOB_PENDING)
    {
      cdl_comfy_history_free (history);
      cdl_comfy_jobs_queue_async (s->client, s->base_url, s->api_key,
                                  g_task_get_cancellable (task), queue_check_cb, task);
      return;
    }

  g_task_return_pointer (task, history, (GDestroyNotify) cdl_comfy_history_free);
  g_object_unref (task);
}

static void
ask_history (GTask *task)
{
  RunState *s = g_task_get_task_data (task);

  if (stop_if_cancelled (task))
    return;

  cdl_comfy_jobs_history_async (s->client, s->base_url, s->api_key, s->prompt_id,
                                g_task_get_cancellable (task), history_cb, task);
}

static void
submit_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  RunState *s = g_task_get_task_data (task);
  g_autoptr(CdlComfySubmitted) submitted = NULL;
  GError *error = NULL;

  submitted = cdl_comfy_jobs_submit_finish (CDL_COMFY_CLIENT (source), result, &error);
  if (submitted == NULL
      && (error->domain == CDL_COMFY_PROMPT_ERROR
          || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  if (submitted == NULL)
    {
      /* The answer was lost, not necessarily the prompt (FAQ 5, 6): look
       * for it in /history and /queue; nothing is sent again. */
      g_debug ("No answer to prompt %s from %s: %s", s->prompt_id, s->base_url,
               error->message);
      g_error_free (error);
      ask_history (task);
      return;
    }

  later (task, cdl_schedule_history_delay_ms (0), ask_history);
}

static void
gate_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GTask *task = user_data;
  RunState *s = g_task_get_task_data (task);
  g_autoptr(CdlComfyQueue) queue = NULL;
  GError *error = NULL;

  queue = cdl_comfy_jobs_queue_finish (CDL_COMFY_CLIENT (source), result, &error);
  if (queue == NULL)
    {
      poll_failed (task, error, ask_queue_for_gate);
      return;
    }

  s->unreachable = 0;
  if (!cdl_schedule_gate_open (queue->n_pending, queue->n_running, s->max_concurrent))
    {
      later (task, GATE_POLL_MS, ask_queue_for_gate);
      return;
    }

  cdl_comfy_jobs_submit_async (s->client, s->base_url, s->api_key, s->graph, s->client_id,
                               s->prompt_id, g_task_get_cancellable (task), submit_cb, task);
}

static void
ask_queue_for_gate (GTask *task)
{
  RunState *s = g_task_get_task_data (task);

  if (stop_if_cancelled (task))
    return;

  cdl_comfy_jobs_queue_async (s->client, s->base_url, s->api_key,
                              g_task_get_cancellable (task), gate_cb, task);
}

void
cdl_job_runner_run_async (CdlComfyClient      *client,
                          const CdlJobTarget  *target,
                          JsonNode            *graph,
                          const char          *client_id,
                          const char          *prompt_id,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task;
  RunState *s;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (client));
  g_return_if_fail (target != NULL && target->base_url != NULL);
  g_return_if_fail (graph != NULL);
  g_return_if_fail (prompt_id != NULL);

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_job_runner_run_async);

  s = g_new0 (RunState, 1);
  s->client = g_object_ref (client);
  s->base_url = g_strdup (target->base_url);
  s->api_key = g_strdup (target->api_key);
  s->max_concurrent = target->max_concurrent;
  s->graph = json_node_ref (graph);
  s->client_id = g_strdup (client_id);
  s->prompt_id = g_strdup (prompt_id);
  g_task_set_task_data (task, s, (GDestroyNotify) run_state_free);

  if (s->max_concurrent > 0)
    ask_queue_for_gate (task);
  else
    cdl_comfy_jobs_submit_async (client, s->base_url, s->api_key, s->graph, s->client_id,
                                 s->prompt_id, cancellable, submit_cb, task);
}

CdlComfyHistory *
cdl_job_runner_run_finish (CdlComfyClient  *client,
                           GAsyncResult    *result,
                           GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Storing one image ---------------------------------------------------------- */

typedef struct
{
  CdlObjectStore *store;
  CdlThumbnailer *thumbnailer;
  GBytes         *bytes;
  CdlStoredImage *image;
  gint64          started;        /* for the metrics, in µs */
  gint64          thumb_started;
} StoreState;

static void
store_state_free (StoreState *s)
{
  g_clear_object (&s->store);
  g_clear_object (&s->thumbnailer);
  g_clear_pointer (&s->bytes, g_bytes_unref);
  g_clear_pointer (&s->image, cdl_stored_image_free);
  g_free (s);
}

void
cdl_stored_image_free (CdlStoredImage *image)
{
  if (image == NULL)
    return;

  g_free (image->key);
  g_free (image->sha256);
  g_free (image->thumb_key);
  g_free (image);
}

static void
thumb_put_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  StoreState *s = g_task_get_task_data (task);
  g_autoptr(CdlObjectInfo) info = NULL;
  GError *error = NULL;

  info = cdl_object_store_put_finish (CDL_OBJECT_STORE (source), result, &error);
  if (info == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  cdl_metrics_inc (cdl_metrics_get_default (), "cdl_images_stored_total", NULL);
  cdl_metrics_observe (cdl_metrics_get_default (), "cdl_ingest_seconds", NULL,
                       (g_get_monotonic_time () - s->started) / 1e6);
  g_task_return_pointer (task, g_steal_pointer (&s->image),
                         (GDestroyNotify) cdl_stored_image_free);
}

static void
thumbnail_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  StoreState *s = g_task_get_task_data (task);
  g_autoptr(CdlThumbnail) thumb = NULL;
  GError *error = NULL;

  thumb = cdl_thumbnailer_make_thumbnail_finish (CDL_THUMBNAILER (source), result, &error);
  if (thumb == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  cdl_metrics_observe (cdl_metrics_get_default (), "cdl_thumbnail_seconds", NULL,
                       (g_get_monotonic_time () - s->thumb_started) / 1e6);
  s->image->width = thumb->source_width;
  s->image->height = thumb->source_height;
  cdl_object_store_put_bytes_async (s->store, s->image->thumb_key, thumb->data, NULL,
                                    thumb_put_cb, task);
}

static void
image_put_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  StoreState *s = g_task_get_task_data (task);
  g_autoptr(CdlObjectInfo) info = NULL;
  GError *error = NULL;

  info = cdl_object_store_put_finish (CDL_OBJECT_STORE (source), result, &error);
  if (info == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  s->image->sha256 = g_strdup (info->sha256);
  s->image->size = info->size;
  s->thumb_started = g_get_monotonic_time ();
  cdl_thumbnailer_make_thumbnail_async (s->thumbnailer, s->bytes, NULL, thumbnail_cb, task);
}

static void
view_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GTask *task = user_data;
  StoreState *s = g_task_get_task_data (task);
  GError *error = NULL;

  s->bytes = cdl_comfy_jobs_view_finish (CDL_COMFY_CLIENT (source), result, NULL, &error);
  if (s->bytes == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  /* Fetched is kept: from here on @cancellable no longer stops it, so
   * that a stopping engine does not drop an image it already has. */
  cdl_object_store_put_bytes_async (s->store, s->image->key, s->bytes, NULL,
                                    image_put_cb, task);
}

void
cdl_job_runner_store_async (CdlComfyClient       *client,
                            const CdlJobTarget   *target,
                            const CdlComfyOutput *output,
                            CdlObjectStore       *store,
                            CdlThumbnailer       *thumbnailer,
                            const char           *key,
                            const char           *thumb_key,
                            GCancellable         *cancellable,
                            GAsyncReadyCallback   callback,
                            gpointer              user_data)
{
  GTask *task;
  StoreState *s;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (client));
  g_return_if_fail (target != NULL && output != NULL);
  g_return_if_fail (CDL_IS_OBJECT_STORE (store));
  g_return_if_fail (CDL_IS_THUMBNAILER (thumbnailer));
  g_return_if_fail (key != NULL && thumb_key != NULL);

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_job_runner_store_async);

  s = g_new0 (StoreState, 1);
  s->store = g_object_ref (store);
  s->thumbnailer = g_object_ref (thumbnailer);
  s->image = g_new0 (CdlStoredImage, 1);
  s->image->key = g_strdup (key);
  s->image->thumb_key = g_strdup (thumb_key);
  s->started = g_get_monotonic_time ();
  g_task_set_task_data (task, s, (GDestroyNotify) store_state_free);

  cdl_comfy_jobs_view_async (client, target->base_url, target->api_key, output->filename,
                             output->subfolder, output->type, cancellable, view_cb, task);
}

CdlStoredImage *
cdl_job_runner_store_finish (CdlComfyClient  *client,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
