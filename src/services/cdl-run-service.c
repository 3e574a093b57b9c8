/* cdl-run-service.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-engine"

#include "config.h"

#include "core/cdl-schedule.h"
#include "core/cdl-task.h"
#include "db/cdl-db-listener.h"
#include "db/cdl-job-repo.h"
#include "db/cdl-settings-repo.h"
#include "services/cdl-run-service.h"
#include "services/cdl-service-error.h"

struct _CdlRunService
{
  GObject            parent_instance;

  CdlDb             *db;
  CdlWorkerService  *workers;
  CdlScheduler      *scheduler;
};

G_DEFINE_FINAL_TYPE (CdlRunService, cdl_run_service, G_TYPE_OBJECT)

enum {
  PROGRESS_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef enum
{
  OP_RUN,
  OP_PAUSE,
  OP_RESUME,
  OP_CANCEL,
  OP_PROGRESS,
} OpKind;

typedef struct
{
  OpKind     kind;
  char      *task_id;
  int        after;
  guint      limit;
  GPtrArray *interrupt;  /* CdlJob, filled by a cancel */
} Op;

static void
op_free (Op *op)
{
  g_free (op->task_id);
  g_clear_pointer (&op->interrupt, g_ptr_array_unref);
  g_free (op);
}

static void
cdl_run_service_dispose (GObject *object)
{
  CdlRunService *self = (CdlRunService *) object;

  g_clear_object (&self->db);
  g_clear_object (&self->workers);
  g_clear_object (&self->scheduler);

  G_OBJECT_CLASS (cdl_run_service_parent_class)->dispose (object);
}

static void
cdl_run_service_class_init (CdlRunServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cdl_run_service_dispose;

  signals[PROGRESS_CHANGED] =
    g_signal_new ("progress-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
cdl_run_service_init (CdlRunService *self)
{
}

CdlRunService *
cdl_run_service_new (CdlDb            *db,
                     CdlWorkerService *workers,
                     CdlScheduler     *scheduler)
{
  CdlRunService *self;

  g_return_val_if_fail (CDL_IS_DB (db), NULL);
  g_return_val_if_fail (CDL_IS_WORKER_SERVICE (workers), NULL);
  g_return_val_if_fail (scheduler == NULL || CDL_IS_SCHEDULER (scheduler), NULL);

  self = g_object_new (CDL_TYPE_RUN_SERVICE, NULL);
  self->db = g_object_ref (db);
  self->workers = g_object_ref (workers);
  self->scheduler = scheduler ? g_object_ref (scheduler) : NULL;

  return self;
}

/* The database work ------------------------------------------------------- */

static JsonNode *
state_node (const char *state)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, state);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

static void
set_conflict (GError     **error,
              const char  *task_id,
              const char  *state,
              const char  *action,
              const char  *allowed)
{
  g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT,
               "Task %s is %s; only a %s task can be %s", task_id, state, allowed, action);
}

/* Enabled HEALTHY workers able to run the task's frozen workflow. */
static GPtrArray *
runnable_workers (PGconn      *conn,
                  const char  *task_id,
                  GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { task_id };
  GPtrArray *ids;

  res = cdl_pq_exec (conn,
                     "SELECT w.id FROM workers w, tasks t"
                     " WHERE t.id = $1 AND w.enabled AND w.status = 'HEALTHY'"
                     "   AND (jsonb_array_length (coalesce (t.frozen_snapshot -> 'workflow'"
                     "                                      -> 'runnable_worker_ids', '[]')) = 0"
                     "        OR (t.frozen_snapshot -> 'workflow' -> 'runnable_worker_ids')"
                     "           ? w.id::text)"
                     " ORDER BY w.priority DESC, w.current_queue_len, w.name",
                     1, params, error);
  if (res == NULL)
    return NULL;

  ids = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < PQntuples (res); i++)
    g_ptr_array_add (ids, g_strdup (cdl_pq_get_string (res, i, 0)));

  return ids;
}

static JsonNode *
run_locked (PGconn      *conn,
            Op          *op,
            GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(GPtrArray) workers = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *old = NULL;
  const char *params[1] = { op->task_id };
  const char *from[] = { "FROZEN", "PAUSED", NULL };
  const char *state;
  gboolean changed;

  res = cdl_pq_exec (conn,
                     "SELECT state, seeds_per_prompt,"
                     "  coalesce ((frozen_snapshot -> 'workflow' ->> 'has_latent_batch_seed')"
                     "            ::boolean, false)"
                     " FROM tasks WHERE id = $1 FOR UPDATE",
                     1, params, error);
  if (res == NULL)
    return NULL;
  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND,
                   "No task with id %s", op->task_id);
      return NULL;
    }

  state = cdl_pq_get_string (res, 0, 0);
  if (g_strcmp0 (state, "FROZEN") != 0 && g_strcmp0 (state, "PAUSED") != 0)
    {
      set_conflict (error, op->task_id, state, "run", "FROZEN or PAUSED");
      return NULL;
    }

  workers = runnable_workers (conn, op->task_id, error);
  if (workers == NULL)
    return NULL;
  if (workers->len == 0)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NO_HEALTHY_WORKER,
                   "No enabled HEALTHY worker can run the workflow of task %s; "
                   "check the workers before running it", op->task_id);
      return NULL;
    }

  if (g_strcmp0 (state, "FROZEN") == 0)
    {
      g_autoptr(CdlSettings) settings = cdl_settings_repo_load (conn, error);
      g_autoptr(GArray) slices = NULL;
      gboolean native;

      if (settings == NULL)
        return NULL;

      slices = cdl_schedule_plan_prompt (cdl_pq_get_int (res, 0, 1),
                                         cdl_pq_get_bool (res, 0, 2),
                                         settings->max_workflow_batch_size);
      native = slices->len > 0 && g_array_index (slices, CdlJobSlice, 0).native;
      if (cdl_job_repo_plan (conn, op->task_id, native, error) < 0)
        return NULL;
    }

  old = cdl_job_repo_set_task_state (conn, op->task_id, from, "RUNNING", &changed, error);
  if (old == NULL)
    return NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, "RUNNING");
  json_builder_set_member_name (b, "worker_ids");
  json_builder_begin_array (b);
  for (guint i = 0; i < workers->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (workers, i));
  json_builder_end_array (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

static JsonNode *
move (PGconn             *conn,
      Op                 *op,
      const char * const *from,
      const char         *to,
      const char         *action,
      GError            **error)
{
  g_autofree char *old = NULL;
  g_autofree char *allowed = NULL;
  gboolean changed;

  old = cdl_job_repo_set_task_state (conn, op->task_id, from, to, &changed, error);
  if (old == NULL)
    return NULL;

  if (!changed)
    {
      allowed = g_strjoinv (" or ", (char **) from);
      set_conflict (error, op->task_id, old, action, allowed);
      return NULL;
    }

  return state_node (to);
}

static JsonNode *
cancel_locked (PGconn  *conn,
               Op      *op,
               GError **error)
{
  static const char * const from[] = { "RUNNING", "PAUSED", NULL };
  g_autoptr(JsonNode) moved = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  gint64 cancelled;

  moved = move (conn, op, from, "CANCELLED", "cancelled", error);
  if (moved == NULL)
    return NULL;

  cancelled = cdl_job_repo_cancel_queued (conn, op->task_id, error);
  if (cancelled < 0)
    return NULL;

  op->interrupt = cdl_job_repo_dedicated_in_flight (conn, op->task_id, error);
  if (op->interrupt == NULL)
    return NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, "CANCELLED");
  json_builder_set_member_name (b, "cancelled_jobs");
  json_builder_add_int_value (b, cancelled);
  json_builder_set_member_name (b, "interrupted_jobs");
  json_builder_add_int_value (b, op->interrupt->len);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

static JsonNode *
progress (PGconn  *conn,
          Op      *op,
          GError **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  const char *params[1] = { op->task_id };
  CdlTaskProgress p = { 0 };
  int next_after = -1;

  if (!g_uuid_string_is_valid (op->task_id))
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND,
                   "No task with id %s", op->task_id);
      return NULL;
    }

  res = cdl_pq_exec (conn, "SELECT state FROM tasks WHERE id = $1", 1, params, error);
  if (res == NULL)
    return NULL;
  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND,
                   "No task with id %s", op->task_id);
      return NULL;
    }

  if (!cdl_job_repo_progress (conn, op->task_id, &p, error))
    return NULL;

  page = cdl_job_repo_prompt_progress (conn, op->task_id, op->after, op->limit,
                                       &next_after, error);
  if (page == NULL)
    return NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, cdl_pq_get_string (res, 0, 0));
  json_builder_set_member_name (b, "total");
  json_builder_add_int_value (b, p.total);
  json_builder_set_member_name (b, "done");
  json_builder_add_int_value (b, p.done);
  json_builder_set_member_name (b, "running");
  json_builder_add_int_value (b, p.running);
  json_builder_set_member_name (b, "pending");
  json_builder_add_int_value (b, p.pending);
  json_builder_set_member_name (b, "failed");
  json_builder_add_int_value (b, p.failed);
  json_builder_set_member_name (b, "per_prompt");
  json_builder_begin_array (b);
  for (guint i = 0; i < page->len; i++)
    {
      const CdlPromptProgress *pp = g_ptr_array_index (page, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "prompt_id");
      json_builder_add_string_value (b, pp->prompt_id);
      json_builder_set_member_name (b, "position");
      json_builder_add_int_value (b, pp->position);
      json_builder_set_member_name (b, "done");
      json_builder_add_int_value (b, pp->done);
      json_builder_set_member_name (b, "failed");
      json_builder_add_int_value (b, pp->failed);
      json_builder_set_member_name (b, "retries_used");
      json_builder_add_int_value (b, pp->retries_used);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "next_after");
  if (next_after >= 0)
    json_builder_add_int_value (b, next_after);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

static gpointer
op_in_thread (PGconn        *conn,
              gpointer       data,
              GCancellable  *cancellable,
              GError       **error)
{
  static const char * const running[] = { "RUNNING", NULL };
  static const char * const paused[] = { "PAUSED", NULL };
  Op *op = data;
  JsonNode *node = NULL;

  if (op->kind == OP_PROGRESS)
    return progress (conn, op, error);

  if (!cdl_pq_begin (conn, error))
    return NULL;

  switch (op->kind)
    {
    case OP_RUN:
      node = run_locked (conn, op, error);
      break;
    case OP_PAUSE:
      node = move (conn, op, running, "PAUSED", "paused", error);
      break;
    case OP_RESUME:
      node = move (conn, op, paused, "RUNNING", "resumed", error);
      break;
    case OP_CANCEL:
      node = cancel_locked (conn, op, error);
      break;
    case OP_PROGRESS:
    default:
      g_assert_not_reached ();
    }

  if (node == NULL || !cdl_pq_commit (conn, error))
    {
      g_clear_pointer (&node, json_node_unref);
      cdl_pq_rollback (conn);
      return NULL;
    }

  if (op->kind != OP_PROGRESS)
    {
      const char *params[2] = { CDL_PROGRESS_CHANNEL, op->task_id };

      cdl_pq_command (conn, "SELECT pg_notify ($1, $2)", 2, params, NULL);
    }

  return node;
}

/* Plumbing ------------------------------------------------------------------ */

static void
op_done_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlRunService *self = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (node == NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (self->scheduler != NULL)
    {
      if (op->interrupt != NULL)
        cdl_scheduler_interrupt (self->scheduler, op->interrupt);
      cdl_scheduler_kick (self->scheduler);
    }

  g_task_return_pointer (task, node, (GDestroyNotify) json_node_unref);
}

static void
start_op (GTask *task)
{
  CdlRunService *self = g_task_get_source_object (task);

  /* The op stays the task's data; the thread borrows it. */
  cdl_db_run_async (self->db, op_in_thread, g_task_get_task_data (task), NULL,
                    (GDestroyNotify) json_node_unref, g_task_get_cancellable (task),
                    op_done_cb, task);
}

static void
healthy_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;

  /* Never queued without a healthy worker: 409 at once. */
  if (!cdl_worker_service_require_healthy_finish (CDL_WORKER_SERVICE (source), result,
                                                  &error))
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  start_op (task);
}

static void
begin (CdlRunService       *self,
       Op                  *op,
       gpointer             tag,
       GCancellable        *cancellable,
       GAsyncReadyCallback  callback,
       gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);

  if (op->task_id == NULL || !g_uuid_string_is_valid (op->task_id))
    {
      g_task_return_new_error (task, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND,
                               "No task with id %s", op->task_id ? op->task_id : "(none)");
      g_object_unref (task);
      return;
    }

  if (op->kind == OP_RUN || op->kind == OP_RESUME)
    cdl_worker_service_require_healthy_async (self->workers, cancellable,
                                              healthy_done_cb, task);
  else
    start_op (task);
}

static Op *
op_new (OpKind      kind,
        const char *task_id)
{
  Op *op = g_new0 (Op, 1);

  op->kind = kind;
  op->task_id = g_strdup (task_id);
  return op;
}

void
cdl_run_service_run_async (CdlRunService       *self,
                           const char          *task_id,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (CDL_IS_RUN_SERVICE (self));

  begin (self, op_new (OP_RUN, task_id), cdl_run_service_run_async,
         cancellable, callback, user_data);
}

void
cdl_run_service_pause_async (CdlRunService       *self,
                             const char          *task_id,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (CDL_IS_RUN_SERVICE (self));

  begin (self, op_new (OP_PAUSE, task_id), cdl_run_service_pause_async,
         cancellable, callback, user_data);
}

void
cdl_run_service_resume_async (CdlRunService       *self,
                              const char          *task_id,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_return_if_fail (CDL_IS_RUN_SERVICE (self));

  begin (self, op_new (OP_RESUME, task_id), cdl_run_service_resume_async,
         cancellable, callback, user_data);
}

void
cdl_run_service_cancel_async (CdlRunService       *self,
                              const char          *task_id,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_return_if_fail (CDL_IS_RUN_SERVICE (self));

  begin (self, op_new (OP_CANCEL, task_id), cdl_run_service_cancel_async,
         cancellable, callback, user_data);
}

void
cdl_run_service_progress_async (CdlRunService       *self,
                                const char          *task_id,
                                int                  after,
                                guint                limit,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  Op *op;

  g_return_if_fail (CDL_IS_RUN_SERVICE (self));

  op = op_new (OP_PROGRESS, task_id);
  op->after = after;
  op->limit = CLAMP (limit, 1, CDL_TASK_PAGE_MAX);
  begin (self, op, cdl_run_service_progress_async, cancellable, callback, user_data);
}

JsonNode *
cdl_run_service_finish (CdlRunService  *self,
                        GAsyncResult   *result,
                        GError        **error)
{
  g_return_val_if_fail (CDL_IS_RUN_SERVICE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Changes announced by the database ---------------------------------------- */

static void
notification_cb (CdlDbListener *listener,
                 const char    *channel,
                 const char    *payload,
                 CdlRunService *self)
{
  if (g_strcmp0 (channel, CDL_PROGRESS_CHANNEL) != 0)
    return;

  g_signal_emit (self, signals[PROGRESS_CHANGED], 0,
                 payload != NULL && *payload != '\0' ? payload : NULL);
}

static void
resync_cb (CdlDbListener *listener,
           CdlRunService *self)
{
  g_signal_emit (self, signals[PROGRESS_CHANGED], 0, NULL);
}

void
cdl_run_service_watch (CdlRunService *self,
                       CdlDbListener *listener)
{
  g_return_if_fail (CDL_IS_RUN_SERVICE (self));
  g_return_if_fail (CDL_IS_DB_LISTENER (listener));

  g_signal_connect_object (listener, "notification", G_CALLBACK (notification_cb), self, 0);
  g_signal_connect_object (listener, "resync", G_CALLBACK (resync_cb), self, 0);
}
