/* cdl-task-service.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-tasks"

#include "config.h"

#include "core/cdl-sampling.h"
#include "core/cdl-settings.h"
#include "core/cdl-workflow.h"
#include "db/cdl-pool-repo.h"
#include "db/cdl-settings-repo.h"
#include "db/cdl-task-repo.h"
#include "db/cdl-workflow-repo.h"
#include "services/cdl-service-error.h"
#include "services/cdl-task-service.h"

/* How many problems of an invalid workflow a message lists. */
#define PROBLEMS_SHOWN 3

struct _CdlTaskService
{
  GObject  parent_instance;
  CdlDb   *db;
};

G_DEFINE_FINAL_TYPE (CdlTaskService, cdl_task_service, G_TYPE_OBJECT)

enum {
  TASK_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
cdl_task_service_dispose (GObject *object)
{
  CdlTaskService *self = (CdlTaskService *)object;

  g_clear_object (&self->db);

  G_OBJECT_CLASS (cdl_task_service_parent_class)->dispose (object);
}

static void
cdl_task_service_class_init (CdlTaskServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_task_service_dispose;

  signals[TASK_CHANGED] =
    g_signal_new ("task-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CDL_TYPE_TASK);
}

static void
cdl_task_service_init (CdlTaskService *self)
{
}

CdlTaskService *
cdl_task_service_new (CdlDb *db)
{
  CdlTaskService *self;

  g_return_val_if_fail (CDL_IS_DB (db), NULL);

  self = g_object_new (CDL_TYPE_TASK_SERVICE, NULL);
  self->db = g_object_ref (db);

  return self;
}

/* The database work of each use case, run by cdl_db_run_async(). */

typedef struct
{
  char         *id;
  CdlTaskInput *input;
  char         *created_by;
  int           after;
  guint         limit;
} Op;

static void
op_free (gpointer data)
{
  Op *op = data;

  g_free (op->id);
  cdl_task_input_free (op->input);
  g_free (op->created_by);
  g_free (op);
}

static Op *
op_new (const char *id)
{
  Op *op = g_new0 (Op, 1);

  op->id = g_strdup (id);
  op->after = -1;
  op->limit = CDL_TASK_PAGE_DEFAULT;

  return op;
}

static gboolean
invalid (GError     **error,
         const char  *format,
         ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError     **error,
         const char  *format,
         ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (CDL_SERVICE_ERROR,
                                                CDL_SERVICE_ERROR_INVALID,
                                                format, args));
  va_end (args);

  return FALSE;
}

/* The workflow a task is built from; an unknown one is bad input, an
 * invalid one a conflict that lists its problems. */
static CdlWorkflow *
load_workflow (PGconn      *conn,
               const char  *id,
               GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CdlWorkflow) workflow = NULL;
  const CdlWorkflowData *data;

  workflow = cdl_workflow_repo_get (conn, id, &local_error);
  if (workflow == NULL)
    {
      if (g_error_matches (local_error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND))
        invalid (error, "workflow_id: no workflow has the id %s", id);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  data = cdl_workflow_get_data (workflow);
  if (!data->valid)
    {
      g_autoptr(GString) summary = g_string_new (NULL);

      for (guint i = 0; i < data->problems->len && i < PROBLEMS_SHOWN; i++)
        {
          const CdlWorkflowProblem *problem = g_ptr_array_index (data->problems, i);

          g_string_append_printf (summary, "%s%s", i > 0 ? "; " : "", problem->message);
        }
      if (data->problems->len > PROBLEMS_SHOWN)
        g_string_append_printf (summary, "; and %u more", data->problems->len - PROBLEMS_SHOWN);

      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT,
                   "workflow_id: workflow %s version %d is not valid: %s",
                   data->name, data->version,
                   summary->len > 0 ? summary->str : "it failed validation");
      return NULL;
    }

  return g_steal_pointer (&workflow);
}

/* The positive prompt text of the workflow, or NULL. */
static const char *
positive_prompt (CdlWorkflow *workflow)
{
  const CdlWorkflowData *data = cdl_workflow_get_data (workflow);

  for (guint i = 0; i < data->prompt_nodes->len; i++)
    {
      const CdlPromptNode *node = g_ptr_array_index (data->prompt_nodes, i);

      if (node->role == CDL_PROMPT_ROLE_POSITIVE && node->text != NULL)
        return node->text;
    }

  return NULL;
}

static GPtrArray *
load_current_pools (PGconn             *conn,
                    const char * const *ids,
                    GError            **error)
{
  g_autoptr(GError) local_error = NULL;
  GPtrArray *pools;

  pools = cdl_pool_repo_get_many (conn, ids, &local_error);
  if (pools == NULL)
    {
      if (g_error_matches (local_error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND))
        invalid (error, "variable_pool_ids: %s", local_error->message);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
    }

  return pools;
}

/* The pools a task pinned, at their pinned versions. */
static GPtrArray *
load_pinned_pools (PGconn   *conn,
                   CdlTask  *task,
                   GError  **error)
{
  const CdlTaskData *data = cdl_task_get_data (task);
  g_autofree const char **ids = g_new0 (const char *, data->pools->len + 1);
  g_autofree int *versions = g_new0 (int, data->pools->len + 1);

  for (guint i = 0; i < data->pools->len; i++)
    {
      const CdlTaskPool *pool = g_ptr_array_index (data->pools, i);

      ids[i] = pool->pool_id;
      versions[i] = pool->version;
    }

  return cdl_pool_repo_get_pinned (conn, ids, versions, error);
}

/* Checks the sampling inputs against the database's limits and generates
 * the prompts and seeds. @data carries the task's fields. */
static CdlPromptSet *
generate (CdlTaskData        *data,
          CdlWorkflow        *workflow,
          GPtrArray          *pools,
          const CdlSettings  *settings,
          GError            **error)
{
  g_autofree CdlSamplePool *specs = g_new0 (CdlSamplePool, pools->len + 1);
  g_autoptr(GError) local_error = NULL;
  CdlPromptSet *set;
  const char *template_text;
  const char *template_field;
  guint64 capacity;

  if (data->seeds_per_prompt > settings->max_workflow_batch_size)
    {
      invalid (error, "seeds_per_prompt: %d is above the workflow batch limit of %d "
                      "(max_workflow_batch_size in the admin settings)",
               data->seeds_per_prompt, settings->max_workflow_batch_size);
      return NULL;
    }

  for (guint i = 0; i < pools->len; i++)
    {
      CdlPool *pool = g_ptr_array_index (pools, i);

      specs[i].name = cdl_pool_get_name (pool);
      specs[i].mode = cdl_pool_get_mode (pool);
      specs[i].items = cdl_pool_get_items (pool);
      specs[i].n_items = cdl_pool_get_n_items (pool);

      for (guint j = 0; j < i; j++)
        if (g_strcmp0 (specs[j].name, specs[i].name) == 0)
          {
            invalid (error, "variable_pool_ids lists pool %s twice", specs[i].name);
            return NULL;
          }
    }

  capacity = cdl_sampling_capacity (specs, pools->len);
  if ((guint64) data->target_prompts > capacity)
    {
      invalid (error, "target_prompts: %d prompts were asked for, but the pools give only %"
                      G_GUINT64_FORMAT " distinct ones", data->target_prompts, capacity);
      return NULL;
    }

  if (data->prompt_template != NULL)
    {
      template_text = data->prompt_template;
      template_field = "prompt_template";
    }
  else
    {
      template_text = positive_prompt (workflow);
      template_field = "the workflow's positive prompt";
      if (template_text == NULL && pools->len == 0)
        {
          invalid (error, "prompt_template is required: workflow %s has no positive "
                          "prompt text and the task has no pools",
                   cdl_workflow_get_name (workflow));
          return NULL;
        }
    }

  set = cdl_sampling_generate (template_text, specs, pools->len,
                               (guint) data->target_prompts,
                               (guint) data->seeds_per_prompt,
                               data->rng_seed, &local_error);
  if (set == NULL)
    {
      if (g_error_matches (local_error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TOO_MANY))
        invalid (error, "target_prompts: %s", local_error->message);
      else
        invalid (error, "%s: %s", template_field, local_error->message);
      return NULL;
    }

  return set;
}

/* Reads the task back with one page of prompts. */
static CdlTask *
read_task (PGconn      *conn,
           const char  *id,
           int          after,
           guint        limit,
           GError     **error)
{
  g_autoptr(CdlTask) task = NULL;
  CdlTaskData *data;
  int next_after = -1;
  GPtrArray *prompts;

  task = cdl_task_repo_get (conn, id, FALSE, error);
  if (task == NULL)
    return NULL;

  if (limit == 0)
    return g_steal_pointer (&task);

  prompts = cdl_task_repo_get_prompts (conn, id, after, limit, &next_after, error);
  if (prompts == NULL)
    return NULL;

  /* The record is ours alone until it is returned. */
  data = (CdlTaskData *) cdl_task_get_data (task);
  g_clear_pointer (&data->prompts, g_ptr_array_unref);
  data->prompts = prompts;
  data->next_after = next_after;

  return g_steal_pointer (&task);
}

static gpointer
list_in_thread (PGconn        *conn,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  return cdl_task_repo_list (conn, error);
}

static gpointer
get_in_thread (PGconn        *conn,
               gpointer       data,
               GCancellable  *cancellable,
               GError       **error)
{
  Op *op = data;

  return read_task (conn, op->id, op->after, op->limit, error);
}

static gpointer
create_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  CdlTaskInput *input = op->input;
  g_autoptr(CdlSettings) settings = NULL;
  g_autoptr(CdlWorkflow) workflow = NULL;
  g_autoptr(GPtrArray) pools = NULL;
  g_autoptr(CdlPromptSet) set = NULL;
  g_autoptr(JsonNode) settings_json = NULL;
  g_autofree char *id = NULL;
  CdlTaskData task = { 0 };
  gint64 started;
  gint64 generated;

  if (!cdl_pq_begin (conn, error))
    return NULL;

  settings = cdl_settings_repo_load (conn, error);
  if (settings == NULL)
    goto out;

  workflow = load_workflow (conn, input->workflow_id, error);
  if (workflow == NULL)
    goto out;

  pools = load_current_pools (conn, (const char * const *) input->pool_ids, error);
  if (pools == NULL)
    goto out;

  task.workflow_id = input->workflow_id;
  task.name = input->name;
  task.notes = input->notes;
  task.prompt_template = input->prompt_template;
  task.target_prompts = input->target_prompts;
  task.seeds_per_prompt = input->seeds_per_prompt;
  task.rng_seed = (input->set & CDL_TASK_FIELD_RNG_SEED)
    ? input->rng_seed : cdl_sampling_random_seed ();
  task.created_by = op->created_by;

  started = g_get_monotonic_time ();
  set = generate (&task, workflow, pools, settings, error);
  if (set == NULL)
    goto out;
  generated = g_get_monotonic_time ();

  settings_json = cdl_settings_to_json (settings);
  id = cdl_task_repo_insert (conn, &task, settings_json, error);
  if (id == NULL
      || !cdl_task_repo_set_pools (conn, id, pools, error)
      || !cdl_task_repo_replace_prompts (conn, id, set, error)
      || !cdl_pq_commit (conn, error))
    goto out;

  g_debug ("Task %s: %u prompts × %u seeds from rng seed %" G_GUINT64_FORMAT
           ", generated in %.3f s, stored in %.3f s",
           id, set->n_prompts, set->seeds_per_prompt, task.rng_seed,
           (generated - started) / (double) G_USEC_PER_SEC,
           (g_get_monotonic_time () - generated) / (double) G_USEC_PER_SEC);

  return read_task (conn, id, -1, op->limit, error);

out:
  cdl_pq_rollback (conn);
  return NULL;
}

static gpointer
update_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  CdlTaskInput *input = op->input;
  g_autoptr(CdlTask) current = NULL;
  g_autoptr(CdlSettings) settings = NULL;
  g_autoptr(CdlWorkflow) workflow = NULL;
  g_autoptr(GPtrArray) pools = NULL;
  g_autoptr(CdlPromptSet) set = NULL;
  g_autoptr(JsonNode) settings_json = NULL;
  const CdlTaskData *cur;
  CdlTaskData task = { 0 };

  if (!cdl_pq_begin (conn, error))
    return NULL;

  current = cdl_task_repo_get (conn, op->id, TRUE, error);
  if (current == NULL)
    goto out;

  cur = cdl_task_get_data (current);
  if (!cdl_task_is_draft (current))
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT,
                   "Task %s is %s; only a DRAFT task can change", op->id, cur->state);
      goto out;
    }

  /* The row as it will be: the fields given, else the current ones. */
  task.workflow_id = (input->set & CDL_TASK_FIELD_WORKFLOW_ID) ? input->workflow_id
                                                                : cur->workflow_id;
  task.name = (input->set & CDL_TASK_FIELD_NAME) ? input->name : cur->name;
  task.notes = (input->set & CDL_TASK_FIELD_NOTES) ? input->notes : cur->notes;
  task.prompt_template = (input->set & CDL_TASK_FIELD_PROMPT_TEMPLATE)
    ? input->prompt_template : cur->prompt_template;
  task.target_prompts = (input->set & CDL_TASK_FIELD_TARGET_PROMPTS)
    ? input->target_prompts : cur->target_prompts;
  task.seeds_per_prompt = (input->set & CDL_TASK_FIELD_SEEDS_PER_PROMPT)
    ? input->seeds_per_prompt : cur->seeds_per_prompt;
  task.rng_seed = (input->set & CDL_TASK_FIELD_RNG_SEED) ? input->rng_seed : cur->rng_seed;

  if (input->set & CDL_TASK_FIELDS_REGENERATE)
    {
      settings = cdl_settings_repo_load (conn, error);
      if (settings == NULL)
        goto out;

      workflow = load_workflow (conn, task.workflow_id, error);
      if (workflow == NULL)
        goto out;

      if (input->set & CDL_TASK_FIELD_POOL_IDS)
        pools = load_current_pools (conn, (const char * const *) input->pool_ids, error);
      else
        pools = load_pinned_pools (conn, current, error);
      if (pools == NULL)
        goto out;

      set = generate (&task, workflow, pools, settings, error);
      if (set == NULL)
        goto out;

      settings_json = cdl_settings_to_json (settings);
    }

  if (!cdl_task_repo_update (conn, op->id, &task, settings_json, error))
    goto out;

  if (set != NULL
      && (!cdl_task_repo_set_pools (conn, op->id, pools, error)
          || !cdl_task_repo_replace_prompts (conn, op->id, set, error)))
    goto out;

  if (!cdl_pq_commit (conn, error))
    goto out;

  return read_task (conn, op->id, -1, op->limit, error);

out:
  cdl_pq_rollback (conn);
  return NULL;
}

static gpointer
freeze_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  g_autoptr(CdlTask) task = NULL;
  g_autoptr(CdlWorkflow) workflow = NULL;
  g_autoptr(JsonNode) settings = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) snapshot = NULL;
  g_autofree char *checksum = NULL;
  const CdlTaskData *d;

  if (!cdl_pq_begin (conn, error))
    return NULL;

  task = cdl_task_repo_get (conn, op->id, TRUE, error);
  if (task == NULL)
    goto out;

  d = cdl_task_get_data (task);
  if (!cdl_task_is_draft (task))
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT,
                   "Task %s is already %s; only a DRAFT task can be frozen", op->id, d->state);
      goto out;
    }

  workflow = load_workflow (conn, d->workflow_id, error);
  if (workflow == NULL)
    goto out;

  settings = cdl_task_repo_get_settings (conn, op->id, error);
  if (settings == NULL)
    goto out;

  checksum = cdl_task_repo_checksum (conn, op->id, error);
  if (checksum == NULL)
    goto out;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "workflow");
  json_builder_add_value (b, cdl_workflow_to_json (workflow, TRUE));
  json_builder_set_member_name (b, "pools");
  json_builder_begin_array (b);
  for (guint i = 0; i < d->pools->len; i++)
    {
      const CdlTaskPool *pool = g_ptr_array_index (d->pools, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_string_value (b, pool->pool_id);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, pool->name);
      json_builder_set_member_name (b, "mode");
      json_builder_add_string_value (b, pool->mode);
      json_builder_set_member_name (b, "version");
      json_builder_add_int_value (b, pool->version);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "settings");
  json_builder_add_value (b, json_node_copy (settings));
  json_builder_set_member_name (b, "prompt_template");
  if (d->prompt_template != NULL)
    json_builder_add_string_value (b, d->prompt_template);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "target_prompts");
  json_builder_add_int_value (b, d->target_prompts);
  json_builder_set_member_name (b, "seeds_per_prompt");
  json_builder_add_int_value (b, d->seeds_per_prompt);
  json_builder_set_member_name (b, "rng_seed");
  json_builder_add_int_value (b, (gint64) d->rng_seed);
  json_builder_set_member_name (b, "counts");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "prompts");
  json_builder_add_int_value (b, d->prompt_count);
  json_builder_set_member_name (b, "seeds");
  json_builder_add_int_value (b, d->seed_count);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "checksum");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "algorithm");
  json_builder_add_string_value (b, "sha256");
  json_builder_set_member_name (b, "prompts_and_seeds");
  json_builder_add_string_value (b, checksum);
  json_builder_end_object (b);
  json_builder_end_object (b);
  snapshot = json_builder_get_root (b);

  if (!cdl_task_repo_freeze (conn, op->id, snapshot, error)
      || !cdl_pq_commit (conn, error))
    goto out;

  return read_task (conn, op->id, -1, 0, error);

out:
  cdl_pq_rollback (conn);
  return NULL;
}

/* Plumbing: run a thread function and complete @task with its result. */

static void
db_done_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlTaskService *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  gpointer tag = g_task_get_source_tag (task);
  gpointer value;

  value = cdl_db_run_finish (CDL_DB (source), result, &error);

  if (error != NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (tag == cdl_task_service_create_async
      || tag == cdl_task_service_update_async
      || tag == cdl_task_service_freeze_async)
    g_signal_emit (self, signals[TASK_CHANGED], 0, value);

  g_task_return_pointer (task, value, g_task_get_task_data (task));
}

/* @result_free is stashed as the task data so db_done_cb can hand it on. */
static void
run_op (CdlTaskService *self,
        CdlDbFunc       func,
        Op             *op,
        GDestroyNotify  result_free,
        GTask          *task)
{
  g_task_set_task_data (task, result_free, NULL);
  cdl_db_run_async (self->db, func, op, op_free, result_free,
                    g_task_get_cancellable (task), db_done_cb, task);
}

static gpointer
finish_pointer (CdlTaskService  *self,
                GAsyncResult    *result,
                gpointer         tag,
                GError         **error)
{
  g_return_val_if_fail (CDL_IS_TASK_SERVICE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static GTask *
new_task (CdlTaskService      *self,
          gpointer             tag,
          GCancellable        *cancellable,
          GAsyncReadyCallback  callback,
          gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  return task;
}

/* Validation is cheap and pure: done before touching the database.
 * Returns FALSE (and completes @task) when @input is bad. */
static gboolean
check_input (CdlTaskInput *input,
             gboolean      for_create,
             GTask        *task)
{
  g_autoptr(GError) error = NULL;

  if (cdl_task_input_validate (input, for_create, &error))
    return TRUE;

  cdl_service_error_translate (&error);
  g_task_return_error (task, g_steal_pointer (&error));
  g_object_unref (task);
  cdl_task_input_free (input);
  return FALSE;
}

void
cdl_task_service_list_async (CdlTaskService      *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (CDL_IS_TASK_SERVICE (self));

  run_op (self, list_in_thread, op_new (NULL), (GDestroyNotify) g_ptr_array_unref,
          new_task (self, cdl_task_service_list_async, cancellable, callback, user_data));
}

GPtrArray *
cdl_task_service_list_finish (CdlTaskService  *self,
                              GAsyncResult    *result,
                              GError         **error)
{
  return finish_pointer (self, result, cdl_task_service_list_async, error);
}

void
cdl_task_service_get_async (CdlTaskService      *self,
                            const char          *id,
                            int                  after,
                            guint                limit,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  Op *op;

  g_return_if_fail (CDL_IS_TASK_SERVICE (self));
  g_return_if_fail (id != NULL);

  op = op_new (id);
  op->after = MAX (after, -1);
  op->limit = limit == 0 ? CDL_TASK_PAGE_DEFAULT : MIN (limit, CDL_TASK_PAGE_MAX);
  run_op (self, get_in_thread, op, g_object_unref,
          new_task (self, cdl_task_service_get_async, cancellable, callback, user_data));
}

CdlTask *
cdl_task_service_get_finish (CdlTaskService  *self,
                             GAsyncResult    *result,
                             GError         **error)
{
  return finish_pointer (self, result, cdl_task_service_get_async, error);
}

void
cdl_task_service_create_async (CdlTaskService      *self,
                               CdlTaskInput        *input,
                               const char          *created_by,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task;
  Op *op;

  g_return_if_fail (CDL_IS_TASK_SERVICE (self));
  g_return_if_fail (input != NULL);

  task = new_task (self, cdl_task_service_create_async, cancellable, callback, user_data);
  if (!check_input (input, TRUE, task))
    return;

  op = op_new (NULL);
  op->input = input;
  op->created_by = g_strdup (created_by);
  run_op (self, create_in_thread, op, g_object_unref, task);
}

CdlTask *
cdl_task_service_create_finish (CdlTaskService  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  return finish_pointer (self, result, cdl_task_service_create_async, error);
}

void
cdl_task_service_update_async (CdlTaskService      *self,
                               const char          *id,
                               CdlTaskInput        *input,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task;
  Op *op;

  g_return_if_fail (CDL_IS_TASK_SERVICE (self));
  g_return_if_fail (id != NULL);
  g_return_if_fail (input != NULL);

  task = new_task (self, cdl_task_service_update_async, cancellable, callback, user_data);
  if (!check_input (input, FALSE, task))
    return;

  op = op_new (id);
  op->input = input;
  run_op (self, update_in_thread, op, g_object_unref, task);
}

CdlTask *
cdl_task_service_update_finish (CdlTaskService  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  return finish_pointer (self, result, cdl_task_service_update_async, error);
}

void
cdl_task_service_freeze_async (CdlTaskService      *self,
                               const char          *id,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (CDL_IS_TASK_SERVICE (self));
  g_return_if_fail (id != NULL);

  run_op (self, freeze_in_thread, op_new (id), g_object_unref,
          new_task (self, cdl_task_service_freeze_async, cancellable, callback, user_data));
}

CdlTask *
cdl_task_service_freeze_finish (CdlTaskService  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  return finish_pointer (self, result, cdl_task_service_freeze_async, error);
}
