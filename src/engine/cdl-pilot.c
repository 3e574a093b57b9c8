/* cdl-pilot.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-engine"

#include "config.h"

#include "core/cdl-graph.h"
#include "core/cdl-workflow.h"
#include "engine/cdl-pilot.h"

G_DEFINE_QUARK (cdl-pilot-error-quark, cdl_pilot_error)

typedef struct
{
  CdlComfyClient *client;
  CdlObjectStore *store;
  CdlThumbnailer *thumbnailer;
  CdlPilotPlan   *plan;
  CdlGenSize      original;
  CdlPilotResult *result;
  guint           index;
} PilotState;

static void
sample_free (CdlPilotSample *sample)
{
  g_free (sample->key);
  g_free (sample->thumb_key);
  g_free (sample->sha256);
  g_free (sample);
}

void
cdl_pilot_plan_free (CdlPilotPlan *plan)
{
  if (plan == NULL)
    return;

  g_free (plan->task_id);
  g_free (plan->worker_id);
  g_free (plan->target.base_url);
  g_free (plan->target.api_key);
  g_clear_pointer (&plan->graph, json_node_unref);
  g_clear_pointer (&plan->prompt_nodes, g_ptr_array_unref);
  g_clear_pointer (&plan->seed_nodes, g_ptr_array_unref);
  g_free (plan->text);
  g_clear_pointer (&plan->seeds, g_array_unref);
  g_clear_pointer (&plan->settings, cdl_settings_free);
  g_free (plan);
}

void
cdl_pilot_result_free (CdlPilotResult *result)
{
  if (result == NULL)
    return;

  g_free (result->worker_id);
  g_clear_pointer (&result->samples, g_ptr_array_unref);
  g_free (result);
}

static void
pilot_state_free (PilotState *s)
{
  g_clear_object (&s->client);
  g_clear_object (&s->store);
  g_clear_object (&s->thumbnailer);
  g_clear_pointer (&s->plan, cdl_pilot_plan_free);
  g_clear_pointer (&s->result, cdl_pilot_result_free);
  g_free (s);
}

CdlGenSize
cdl_pilot_graph_size (JsonNode *graph)
{
  g_autoptr(GPtrArray) latents = cdl_graph_latent_nodes (graph);
  CdlGenSize size = { 0, 0, 0 };
  JsonObject *node;
  JsonObject *inputs;

  if (latents->len == 0)
    return size;

  node = json_object_get_object_member (json_node_get_object (graph),
                                        g_ptr_array_index (latents, 0));
  inputs = json_object_get_object_member (node, "inputs");

  for (guint i = 0; i < 3; i++)
    {
      const char *names[] = { "width", "height", "batch_size" };
      int *values[] = { &size.width, &size.height, &size.batch_size };
      JsonNode *value = json_object_get_member (inputs, names[i]);

      if (value != NULL && JSON_NODE_HOLDS_VALUE (value)
          && json_node_get_value_type (value) == G_TYPE_INT64)
        *values[i] = (int) json_node_get_int (value);
    }

  return size;
}

char *
cdl_pilot_image_key (const char *task_id,
                     guint       index,
                     gint64      seed)
{
  return g_strdup_printf ("tasks/%s/pilot/%02u-%" G_GINT64_FORMAT ".png", task_id, index, seed);
}

char *
cdl_pilot_thumb_key (const char *task_id,
                     guint       index,
                     gint64      seed)
{
  return g_strdup_printf ("tasks/%s/pilot/%02u-%" G_GINT64_FORMAT "-256.jpg",
                          task_id, index, seed);
}

static void send_sample (GTask *task);

static void
fail (GTask      *task,
      GError     *error)
{
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
stored_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  PilotState *s = g_task_get_task_data (task);
  g_autoptr(CdlStoredImage) image = NULL;
  CdlPilotSample *sample;
  GError *error = NULL;

  image = cdl_job_runner_store_finish (CDL_COMFY_CLIENT (source), result, &error);
  if (image == NULL)
    {
      g_prefix_error (&error, "Cannot store pilot sample %u: ", s->index + 1);
      fail (task, error);
      return;
    }

  sample = g_new0 (CdlPilotSample, 1);
  sample->seed = g_array_index (s->plan->seeds, gint64, s->index);
  sample->key = g_steal_pointer (&image->key);
  sample->thumb_key = g_steal_pointer (&image->thumb_key);
  sample->sha256 = g_steal_pointer (&image->sha256);
  sample->width = image->width;
  sample->height = image->height;
  g_ptr_array_add (s->result->samples, sample);

  s->index++;
  if (s->index < s->plan->seeds->len)
    {
      send_sample (task);
      return;
    }

  g_task_return_pointer (task, g_steal_pointer (&s->result),
                         (GDestroyNotify) cdl_pilot_result_free);
  g_object_unref (task);
}

/* After an out-of-memory error: the next, lighter size, or the end. */
static gboolean
lower (PilotState  *s,
       GError     **error)
{
  CdlGenSize *size = &s->result->size;
  CdlGenSize next;

  if (s->result->retries_used >= CDL_SCHEDULE_MAX_RETRIES)
    {
      g_set_error (error, CDL_PILOT_ERROR, CDL_PILOT_ERROR_OUT_OF_MEMORY,
                   "The worker still ran out of memory at %d×%d, batch %d, after %d "
                   "retries; lower the workflow's resolution or use a larger GPU",
                   size->width, size->height, size->batch_size, s->result->retries_used);
      return FALSE;
    }

  if (size->width <= 0 || size->height <= 0
      || !cdl_schedule_downshift (s->plan->settings, size, &next))
    {
      g_set_error (error, CDL_PILOT_ERROR, CDL_PILOT_ERROR_OUT_OF_MEMORY,
                   "The worker ran out of memory at %d×%d, batch %d, and the guardrails "
                   "(smallest side %d) allow nothing lower; retries used: %d",
                   size->width, size->height, size->batch_size,
                   s->plan->settings->resolution_min_side, s->result->retries_used);
      return FALSE;
    }

  g_debug ("Pilot of task %s out of memory at %d×%d; trying %d×%d", s->plan->task_id,
           size->width, size->height, next.width, next.height);
  *size = next;
  s->result->retries_used++;
  s->result->size_changed = TRUE;
  return TRUE;
}

static void
ran_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  GTask *task = user_data;
  PilotState *s = g_task_get_task_data (task);
  g_autoptr(CdlComfyHistory) history = NULL;
  g_autofree char *key = NULL;
  g_autofree char *thumb_key = NULL;
  CdlComfyOutput *output = NULL;
  GError *error = NULL;
  gint64 seed = g_array_index (s->plan->seeds, gint64, s->index);

  history = cdl_job_runner_run_finish (CDL_COMFY_CLIENT (source), result, &error);
  if (history == NULL)
    {
      g_prefix_error (&error, "Pilot sample %u failed: ", s->index + 1);
      fail (task, error);
      return;
    }

  if (history->status == CDL_COMFY_JOB_ERROR && history->is_oom)
    {
      if (!lower (s, &error))
        {
          fail (task, error);
          return;
        }
      send_sample (task);
      return;
    }

  if (history->status != CDL_COMFY_JOB_SUCCESS)
    {
      fail (task, g_error_new (CDL_PILOT_ERROR, CDL_PILOT_ERROR_FAILED,
                               "Pilot sample %u failed on the worker: %s", s->index + 1,
                               history->error_message ? history->error_message
                                                      : "it was interrupted"));
      return;
    }

  for (guint i = 0; i < history->outputs->len && output == NULL; i++)
    {
      CdlComfyOutput *o = g_ptr_array_index (history->outputs, i);

      if (g_strcmp0 (o->type, "output") == 0)
        output = o;
    }

  if (output == NULL)
    {
      fail (task, g_error_new (CDL_PILOT_ERROR, CDL_PILOT_ERROR_FAILED,
                               "Pilot sample %u came back without an image", s->index + 1));
      return;
    }

  key = cdl_pilot_image_key (s->plan->task_id, s->index, seed);
  thumb_key = cdl_pilot_thumb_key (s->plan->task_id, s->index, seed);
  cdl_job_runner_store_async (s->client, &s->plan->target, output, s->store, s->thumbnailer,
                              key, thumb_key, g_task_get_cancellable (task), stored_cb, task);
}

static void
send_sample (GTask *task)
{
  PilotState *s = g_task_get_task_data (task);
  g_autoptr(JsonNode) graph = NULL;
  g_autofree char *prompt_id = g_uuid_string_random ();
  GError *error = NULL;
  CdlGraphPatch patch = {
    .prompt_nodes = s->plan->prompt_nodes,
    .positive_text = s->plan->text,
    .seed_nodes = s->plan->seed_nodes,
    .seed = g_array_index (s->plan->seeds, gint64, s->index),
    .batch_size = 1,
  };

  /* The graph keeps its own resolution until a downshift lowered it. */
  if (s->result->size_changed)
    {
      patch.width = s->result->size.width;
      patch.height = s->result->size.height;
    }

  graph = cdl_graph_patch (s->plan->graph, &patch, &error);
  if (graph == NULL)
    {
      fail (task, error);
      return;
    }

  cdl_job_runner_run_async (s->client, &s->plan->target, graph, NULL, prompt_id,
                            g_task_get_cancellable (task), ran_cb, task);
}

void
cdl_pilot_run_async (CdlComfyClient      *client,
                     CdlObjectStore      *store,
                     CdlThumbnailer      *thumbnailer,
                     CdlPilotPlan        *plan,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  GTask *task;
  PilotState *s;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (client));
  g_return_if_fail (CDL_IS_OBJECT_STORE (store));
  g_return_if_fail (CDL_IS_THUMBNAILER (thumbnailer));
  g_return_if_fail (plan != NULL && plan->seeds != NULL && plan->seeds->len > 0);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_pilot_run_async);

  s = g_new0 (PilotState, 1);
  s->client = g_object_ref (client);
  s->store = g_object_ref (store);
  s->thumbnailer = g_object_ref (thumbnailer);
  s->plan = plan;
  s->original = cdl_pilot_graph_size (plan->graph);
  s->result = g_new0 (CdlPilotResult, 1);
  s->result->worker_id = g_strdup (plan->worker_id);
  s->result->samples = g_ptr_array_new_with_free_func ((GDestroyNotify) sample_free);
  s->result->size = s->original;
  s->result->size.batch_size = 1;
  g_task_set_task_data (task, s, (GDestroyNotify) pilot_state_free);

  send_sample (task);
}

CdlPilotResult *
cdl_pilot_run_finish (GAsyncResult  *result,
                      int           *retries_used,
                      GError       **error)
{
  PilotState *s;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  s = g_task_get_task_data (G_TASK (result));
  if (retries_used != NULL)
    *retries_used = s->result != NULL ? s->result->retries_used : 0;

  return g_task_propagate_pointer (G_TASK (result), error);
}
