/* cdl-worker-service.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-workers"

#include "config.h"

#include "db/cdl-worker-repo.h"
#include "services/cdl-service-error.h"
#include "services/cdl-worker-service.h"

/* How long a claimed health check may take before another instance may
 * claim the worker again: the client time-out for two requests plus slack. */
#define HEALTH_CLAIM_MS ((2 * CDL_COMFY_DEFAULT_TIMEOUT_S + 15) * 1000)

struct _CdlWorkerService
{
  GObject          parent_instance;
  CdlDb           *db;
  CdlComfyClient  *client;
  CdlSecretStore  *secrets;
};

G_DEFINE_FINAL_TYPE (CdlWorkerService, cdl_worker_service, G_TYPE_OBJECT)

enum {
  WORKER_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
cdl_worker_service_dispose (GObject *object)
{
  CdlWorkerService *self = (CdlWorkerService *)object;

  g_clear_object (&self->db);
  g_clear_object (&self->client);
  g_clear_object (&self->secrets);

  G_OBJECT_CLASS (cdl_worker_service_parent_class)->dispose (object);
}

static void
cdl_worker_service_class_init (CdlWorkerServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_worker_service_dispose;

  signals[WORKER_CHANGED] =
    g_signal_new ("worker-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CDL_TYPE_WORKER);
}

static void
cdl_worker_service_init (CdlWorkerService *self)
{
}

CdlWorkerService *
cdl_worker_service_new (CdlDb          *db,
                        CdlComfyClient *client,
                        CdlSecretStore *secrets)
{
  CdlWorkerService *self;

  g_return_val_if_fail (CDL_IS_DB (db), NULL);
  g_return_val_if_fail (CDL_IS_COMFY_CLIENT (client), NULL);
  g_return_val_if_fail (CDL_IS_SECRET_STORE (secrets), NULL);

  self = g_object_new (CDL_TYPE_WORKER_SERVICE, NULL);
  self->db = g_object_ref (db);
  self->client = g_object_ref (client);
  self->secrets = g_object_ref (secrets);

  return self;
}

void
cdl_worker_test_result_free (CdlWorkerTestResult *result)
{
  if (result == NULL)
    return;

  g_free (result->message);
  g_clear_object (&result->worker);
  g_free (result);
}

static char *
secret_name_for (const char *worker_id)
{
  return g_strconcat ("worker:", worker_id, NULL);
}

/* Fills in has_api_key; runs in a pool thread. A keyring that cannot be
 * reached is not fatal for listing: the flag is then FALSE. */
static void
mark_api_key (CdlWorkerService *self,
              CdlWorker        *worker)
{
  g_autofree char *name = secret_name_for (cdl_worker_get_id (worker));
  g_autoptr(GError) error = NULL;
  g_autofree char *key = cdl_secret_store_lookup (self->secrets, name, &error);

  if (error != NULL)
    g_warning ("Cannot read the API key of worker %s: %s",
               cdl_worker_get_name (worker), error->message);

  cdl_worker_set_has_api_key (worker, key != NULL);
}

/* The database work of each use case, run by cdl_db_run_async(). */

typedef struct
{
  CdlWorkerService *self;
  char             *id;
  CdlWorkerInput   *input;
  gboolean          probe_ok;
  int               queue_len;
  char             *error_text;
  guint             interval_ms;
} Op;

static void
op_free (gpointer data)
{
  Op *op = data;

  g_clear_object (&op->self);
  g_free (op->id);
  cdl_worker_input_free (op->input);
  g_free (op->error_text);
  g_free (op);
}

static Op *
op_new (CdlWorkerService *self,
        const char       *id)
{
  Op *op = g_new0 (Op, 1);

  op->self = g_object_ref (self);
  op->id = g_strdup (id);

  return op;
}

static gpointer
list_in_thread (PGconn        *conn,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  Op *op = data;
  GPtrArray *workers = cdl_worker_repo_list (conn, error);

  for (guint i = 0; workers != NULL && i < workers->len; i++)
    mark_api_key (op->self, g_ptr_array_index (workers, i));

  return workers;
}

static gpointer
get_in_thread (PGconn        *conn,
               gpointer       data,
               GCancellable  *cancellable,
               GError       **error)
{
  Op *op = data;
  CdlWorker *worker = cdl_worker_repo_get (conn, op->id, error);

  if (worker != NULL)
    mark_api_key (op->self, worker);

  return worker;
}

static gpointer
create_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  g_autoptr(CdlWorker) worker = NULL;

  if (!cdl_pq_begin (conn, error))
    return NULL;

  worker = cdl_worker_repo_insert (conn, op->input, error);
  if (worker == NULL)
    goto fail;

  /* The key goes to the secret store while the row is still uncommitted,
   * so that a keyring failure leaves no worker without its key. */
  if ((op->input->set & CDL_WORKER_FIELD_API_KEY)
      && op->input->api_key != NULL && *op->input->api_key != '\0')
    {
      g_autofree char *name = secret_name_for (cdl_worker_get_id (worker));

      if (!cdl_secret_store_store (op->self->secrets, name, op->input->api_key, error))
        goto fail;
      cdl_worker_set_has_api_key (worker, TRUE);
    }

  if (!cdl_pq_commit (conn, error))
    return NULL;

  return g_steal_pointer (&worker);

fail:
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
  g_autoptr(CdlWorker) worker = NULL;
  CdlWorkerFields row_fields = op->input->set & ~CDL_WORKER_FIELD_API_KEY;

  if (!cdl_pq_begin (conn, error))
    return NULL;

  if (row_fields != 0)
    worker = cdl_worker_repo_update (conn, op->id, op->input, error);
  else
    worker = cdl_worker_repo_get (conn, op->id, error);

  if (worker == NULL)
    goto fail;

  if (op->input->set & CDL_WORKER_FIELD_API_KEY)
    {
      g_autofree char *name = secret_name_for (cdl_worker_get_id (worker));

      if (!cdl_secret_store_store (op->self->secrets, name, op->input->api_key, error))
        goto fail;
    }

  if (!cdl_pq_commit (conn, error))
    return NULL;

  mark_api_key (op->self, worker);

  return g_steal_pointer (&worker);

fail:
  cdl_pq_rollback (conn);
  return NULL;
}

static gpointer
count_healthy_in_thread (PGconn        *conn,
                         gpointer       data,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  int n = cdl_worker_repo_count_healthy (conn, &local_error);

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  return GINT_TO_POINTER (n + 1);
}

/* Worker and its API key, for probing. */
typedef struct
{
  CdlWorker *worker;
  char      *api_key;
} Target;

static void
target_free (gpointer data)
{
  Target *target = data;

  if (target == NULL)
    return;

  g_clear_object (&target->worker);
  g_free (target->api_key);
  g_free (target);
}

static Target *
target_new (CdlWorkerService  *self,
            CdlWorker         *worker,
            GError           **error)
{
  g_autofree char *name = secret_name_for (cdl_worker_get_id (worker));
  Target *target = g_new0 (Target, 1);

  target->worker = g_object_ref (worker);
  target->api_key = cdl_secret_store_lookup (self->secrets, name, error);
  cdl_worker_set_has_api_key (worker, target->api_key != NULL);

  return target;
}

static gpointer
target_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  g_autoptr(CdlWorker) worker = cdl_worker_repo_get (conn, op->id, error);
  g_autoptr(GError) key_error = NULL;

  if (worker == NULL)
    return NULL;

  /* Probe without the key rather than not at all: the worker may not
   * need one, and if it does the probe says so. */
  return target_new (op->self, worker, &key_error);
}

static gpointer
claim_in_thread (PGconn        *conn,
                 gpointer       data,
                 GCancellable  *cancellable,
                 GError       **error)
{
  Op *op = data;
  g_autoptr(GPtrArray) workers = NULL;
  GPtrArray *targets;

  workers = cdl_worker_repo_claim_due (conn, op->interval_ms, HEALTH_CLAIM_MS, error);
  if (workers == NULL)
    return NULL;

  targets = g_ptr_array_new_with_free_func (target_free);
  for (guint i = 0; i < workers->len; i++)
    {
      g_autoptr(GError) key_error = NULL;

      g_ptr_array_add (targets, target_new (op->self, g_ptr_array_index (workers, i),
                                            &key_error));
    }

  return targets;
}

static gpointer
record_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  gboolean changed = FALSE;
  CdlWorker *worker;

  worker = cdl_worker_repo_record_probe (conn, op->id, op->probe_ok, op->queue_len,
                                         op->error_text, &changed, error);
  if (worker == NULL)
    return NULL;

  mark_api_key (op->self, worker);

  if (changed)
    g_message ("Worker %s is now %s%s%s", cdl_worker_get_name (worker),
               cdl_worker_status_to_string (cdl_worker_get_status (worker)),
               op->probe_ok ? "" : ": ",
               op->probe_ok ? "" : op->error_text);

  return worker;
}

/* Plumbing: run a thread function and complete @task with its result. */

static void
db_done_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  gpointer value;

  value = cdl_db_run_finish (CDL_DB (source), result, &error);

  if (error != NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_pointer (task, value, g_task_get_task_data (task));
}

/* @result_free is stashed as the task data so db_done_cb can hand it on. */
static void
run_op (CdlWorkerService *self,
        CdlDbFunc         func,
        Op               *op,
        GDestroyNotify    result_free,
        GTask            *task)
{
  g_task_set_task_data (task, result_free, NULL);
  cdl_db_run_async (self->db, func, op, op_free, result_free,
                    g_task_get_cancellable (task), db_done_cb, task);
}

static gpointer
finish_pointer (CdlWorkerService  *self,
                GAsyncResult      *result,
                gpointer           tag,
                GError           **error)
{
  g_return_val_if_fail (CDL_IS_WORKER_SERVICE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
cdl_worker_service_list_async (CdlWorkerService    *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CDL_IS_WORKER_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_worker_service_list_async);
  run_op (self, list_in_thread, op_new (self, NULL),
          (GDestroyNotify)g_ptr_array_unref, task);
}

GPtrArray *
cdl_worker_service_list_finish (CdlWorkerService  *self,
                                GAsyncResult      *result,
                                GError           **error)
{
  return finish_pointer (self, result, cdl_worker_service_list_async, error);
}

void
cdl_worker_service_get_async (CdlWorkerService    *self,
                              const char          *id,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CDL_IS_WORKER_SERVICE (self));
  g_return_if_fail (id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_worker_service_get_async);
  run_op (self, get_in_thread, op_new (self, id), g_object_unref, task);
}

CdlWorker *
cdl_worker_service_get_finish (CdlWorkerService  *self,
                               GAsyncResult      *result,
                               GError           **error)
{
  return finish_pointer (self, result, cdl_worker_service_get_async, error);
}

/* Probe one worker and record the outcome: the heart of both the Test
 * button and the health pass. Completes with a CdlWorkerTestResult. */

typedef struct
{
  Target        *target;
  CdlComfyProbe *probe;
  char          *message;
} ProbeState;

static void
probe_state_free (gpointer data)
{
  ProbeState *state = data;

  target_free (state->target);
  g_clear_pointer (&state->probe, cdl_comfy_probe_free);
  g_free (state->message);
  g_free (state);
}

static void
record_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlWorkerService *self = g_task_get_source_object (task);
  ProbeState *state = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  CdlWorker *worker;
  CdlWorkerTestResult *outcome;

  worker = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (worker == NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_signal_emit (self, signals[WORKER_CHANGED], 0, worker);

  outcome = g_new0 (CdlWorkerTestResult, 1);
  outcome->healthy = state->probe != NULL;
  outcome->pending = state->probe ? state->probe->pending : 0;
  outcome->running = state->probe ? state->probe->running : 0;
  outcome->message = g_strdup (state->message);
  outcome->worker = worker;

  g_task_return_pointer (task, outcome, (GDestroyNotify)cdl_worker_test_result_free);
}

/* The node types cache: after a good probe, GET /object_info when the
 * stored list is missing or older than NODE_TYPES_MAX_AGE_S, so that
 * workflow uploads can tell which workers run which graphs. It runs beside
 * the health pass and never changes its outcome. */

#define NODE_TYPES_MAX_AGE_S 600

typedef struct
{
  CdlWorkerService *self;
  char             *id;
  char             *base_url;
  char             *api_key;
  char            **node_types;
  char            **api_node_types;
} NodeTypesOp;

static void
node_types_op_free (gpointer data)
{
  NodeTypesOp *op = data;

  g_clear_object (&op->self);
  g_free (op->id);
  g_free (op->base_url);
  g_free (op->api_key);
  g_strfreev (op->node_types);
  g_strfreev (op->api_node_types);
  g_free (op);
}

static gpointer
node_types_due_in_thread (PGconn        *conn,
                          gpointer       data,
                          GCancellable  *cancellable,
                          GError       **error)
{
  NodeTypesOp *op = data;

  if (!cdl_worker_repo_node_types_due (conn, op->id, NODE_TYPES_MAX_AGE_S, error))
    return NULL;

  return GINT_TO_POINTER (TRUE);
}

static gpointer
node_types_store_in_thread (PGconn        *conn,
                            gpointer       data,
                            GCancellable  *cancellable,
                            GError       **error)
{
  NodeTypesOp *op = data;

  if (!cdl_worker_repo_set_node_types (conn, op->id,
                                       (const char * const *) op->node_types,
                                       (const char * const *) op->api_node_types,
                                       error))
    return NULL;

  return GINT_TO_POINTER (TRUE);
}

static void
node_types_stored_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (cdl_db_run_finish (CDL_DB (source), result, &error) == NULL && error != NULL)
    g_warning ("Cannot store a worker's node types: %s", error->message);
}

static void
object_info_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  NodeTypesOp *op = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) info = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) api_builder = g_strv_builder_new ();
  g_autoptr(GList) names = NULL;
  JsonObject *classes;

  info = cdl_comfy_client_get_json_finish (CDL_COMFY_CLIENT (source), result, &error);
  if (info == NULL || !JSON_NODE_HOLDS_OBJECT (info))
    {
      g_debug ("No node types from a worker: %s",
               error != NULL ? error->message : "not a JSON object");
      node_types_op_free (op);
      return;
    }

  classes = json_node_get_object (info);
  names = json_object_get_members (classes);
  for (const GList *l = names; l != NULL; l = l->next)
    {
      JsonNode *details = json_object_get_member (classes, l->data);
      JsonNode *flag = NULL;
      JsonNode *module = NULL;

      g_strv_builder_add (builder, l->data);

      if (details == NULL || !JSON_NODE_HOLDS_OBJECT (details))
        continue;

      /* Partner nodes say so, or live in ComfyUI's comfy_api_nodes. */
      flag = json_object_get_member (json_node_get_object (details), "api_node");
      module = json_object_get_member (json_node_get_object (details), "python_module");
      if ((flag != NULL && JSON_NODE_HOLDS_VALUE (flag)
           && json_node_get_value_type (flag) == G_TYPE_BOOLEAN
           && json_node_get_boolean (flag))
          || (module != NULL && JSON_NODE_HOLDS_VALUE (module)
              && json_node_get_value_type (module) == G_TYPE_STRING
              && g_str_has_prefix (json_node_get_string (module), "comfy_api_nodes")))
        g_strv_builder_add (api_builder, l->data);
    }
  op->node_types = g_strv_builder_end (builder);
  op->api_node_types = g_strv_builder_end (api_builder);

  cdl_db_run_async (op->self->db, node_types_store_in_thread, op,
                    node_types_op_free, NULL, NULL, node_types_stored_cb, NULL);
}

static void
node_types_due_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  NodeTypesOp *op = user_data;
  g_autoptr(GError) error = NULL;

  if (cdl_db_run_finish (CDL_DB (source), result, &error) == NULL)
    {
      if (error != NULL)
        g_warning ("Cannot check a worker's node types: %s", error->message);
      node_types_op_free (op);
      return;
    }

  cdl_comfy_client_get_json_async (op->self->client, op->base_url, op->api_key,
                                   "/object_info", NULL, object_info_cb, op);
}

static void
refresh_node_types (CdlWorkerService *self,
                    Target           *target)
{
  NodeTypesOp *op = g_new0 (NodeTypesOp, 1);

  op->self = g_object_ref (self);
  op->id = g_strdup (cdl_worker_get_id (target->worker));
  op->base_url = g_strdup (cdl_worker_get_base_url (target->worker));
  op->api_key = g_strdup (target->api_key);

  /* The op is passed as plain user data: the thread function only reads
   * it and the callback owns it afterwards. */
  cdl_db_run_async (self->db, node_types_due_in_thread, op, NULL, NULL,
                    NULL, node_types_due_cb, op);
}

static void
probe_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GTask *task = user_data;
  CdlWorkerService *self = g_task_get_source_object (task);
  ProbeState *state = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  Op *op;

  state->probe = cdl_comfy_client_probe_finish (CDL_COMFY_CLIENT (source), result, &error);

  /* A probe cut short by shutdown says nothing about the worker. Its claim
   * lapses by itself (HEALTH_CLAIM_MS). */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  if (state->probe == NULL)
    state->message = g_strdup (error->message);
  else
    refresh_node_types (self, state->target);

  op = op_new (self, cdl_worker_get_id (state->target->worker));
  op->probe_ok = state->probe != NULL;
  op->queue_len = state->probe ? state->probe->pending + state->probe->running : 0;
  op->error_text = g_strdup (state->message);

  /* Recording is not cancelled with the probe: a finished probe is always
   * written down, or the claim would hold the worker until it expires. */
  cdl_db_run_async (self->db, record_in_thread, op, op_free, g_object_unref,
                    NULL, record_done_cb, task);
}

static void
probe_and_record_async (CdlWorkerService    *self,
                        Target              *target,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  ProbeState *state = g_new0 (ProbeState, 1);

  state->target = target;
  g_task_set_task_data (task, state, probe_state_free);

  cdl_comfy_client_probe_async (self->client,
                                cdl_worker_get_base_url (target->worker),
                                target->api_key,
                                cancellable, probe_done_cb, task);
}

static CdlWorkerTestResult *
probe_and_record_finish (CdlWorkerService  *self,
                         GAsyncResult      *result,
                         GError           **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Create and update */

static void
first_probe_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlWorkerTestResult) outcome = NULL;
  g_autoptr(GError) error = NULL;

  outcome = cdl_worker_service_test_finish (CDL_WORKER_SERVICE (source), result, &error);
  if (outcome == NULL)
    g_debug ("The first check of a new worker could not run: %s", error->message);
}

static void
changed_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlWorkerService *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  CdlWorker *worker;

  worker = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (worker == NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_signal_emit (self, signals[WORKER_CHANGED], 0, worker);

  /* A new worker is checked at once rather than at the next pass, so that
   * it turns HEALTHY within one interval at most. */
  if (g_task_get_source_tag (task) == cdl_worker_service_create_async)
    cdl_worker_service_test_async (self, cdl_worker_get_id (worker), NULL,
                                   first_probe_cb, NULL);

  g_task_return_pointer (task, worker, g_object_unref);
}

static void
start_change (CdlWorkerService *self,
              CdlDbFunc         func,
              const char       *id,
              CdlWorkerInput   *input,
              gboolean          for_create,
              GTask            *task)
{
  g_autoptr(GError) error = NULL;
  Op *op;

  /* Validation is cheap and pure: do it before touching the database. */
  if (!cdl_worker_input_validate (input, for_create, &error))
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      cdl_worker_input_free (input);
      return;
    }

  op = op_new (self, id);
  op->input = input;
  cdl_db_run_async (self->db, func, op, op_free, g_object_unref,
                    g_task_get_cancellable (task), changed_cb, task);
}

void
cdl_worker_service_create_async (CdlWorkerService    *self,
                                 CdlWorkerInput      *input,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CDL_IS_WORKER_SERVICE (self));
  g_return_if_fail (input != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_worker_service_create_async);
  start_change (self, create_in_thread, NULL, input, TRUE, task);
}

CdlWorker *
cdl_worker_service_create_finish (CdlWorkerService  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  return finish_pointer (self, result, cdl_worker_service_create_async, error);
}

void
cdl_worker_service_update_async (CdlWorkerService    *self,
                                 const char          *id,
                                 CdlWorkerInput      *input,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CDL_IS_WORKER_SERVICE (self));
  g_return_if_fail (id != NULL);
  g_return_if_fail (input != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_worker_service_update_async);
  start_change (self, update_in_thread, id, input, FALSE, task);
}

CdlWorker *
cdl_worker_service_update_finish (CdlWorkerService  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  return finish_pointer (self, result, cdl_worker_service_update_async, error);
}

/* Test */

static void
test_probe_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  CdlWorkerTestResult *outcome;

  outcome = probe_and_record_finish (CDL_WORKER_SERVICE (source), result, &error);
  if (outcome == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, outcome, (GDestroyNotify)cdl_worker_test_result_free);
}

static void
test_target_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;
  Target *target;

  target = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (target == NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  probe_and_record_async (g_task_get_source_object (task), target,
                          g_task_get_cancellable (task), test_probe_cb, task);
}

void
cdl_worker_service_test_async (CdlWorkerService    *self,
                               const char          *id,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CDL_IS_WORKER_SERVICE (self));
  g_return_if_fail (id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_worker_service_test_async);
  cdl_db_run_async (self->db, target_in_thread, op_new (self, id), op_free, target_free,
                    cancellable, test_target_cb, task);
}

CdlWorkerTestResult *
cdl_worker_service_test_finish (CdlWorkerService  *self,
                                GAsyncResult      *result,
                                GError           **error)
{
  return finish_pointer (self, result, cdl_worker_service_test_async, error);
}

/* Require healthy */

static void
count_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  int n;

  n = GPOINTER_TO_INT (cdl_db_run_finish (CDL_DB (source), result, &error)) - 1;
  if (error != NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
    }
  else if (n <= 0)
    {
      g_task_return_new_error (task, CDL_SERVICE_ERROR,
                               CDL_SERVICE_ERROR_NO_HEALTHY_WORKER,
                               "No healthy ComfyUI worker is available. Register a worker "
                               "or bring one back up, then try again; nothing was queued.");
    }
  else
    {
      g_task_return_boolean (task, TRUE);
    }
}

void
cdl_worker_service_require_healthy_async (CdlWorkerService    *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CDL_IS_WORKER_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_worker_service_require_healthy_async);
  cdl_db_run_async (self->db, count_healthy_in_thread, NULL, NULL, NULL,
                    cancellable, count_done_cb, task);
}

gboolean
cdl_worker_service_require_healthy_finish (CdlWorkerService  *self,
                                           GAsyncResult      *result,
                                           GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Health pass */

typedef struct
{
  guint outstanding;
} PassState;

static void
pass_probe_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PassState *state = g_task_get_task_data (task);
  g_autoptr(CdlWorkerTestResult) outcome = NULL;
  g_autoptr(GError) error = NULL;

  outcome = probe_and_record_finish (CDL_WORKER_SERVICE (source), result, &error);
  if (outcome == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("A health check could not be recorded: %s", error->message);

  if (--state->outstanding == 0)
    g_task_return_boolean (task, TRUE);
}

static void
pass_claim_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlWorkerService *self = g_task_get_source_object (task);
  PassState *state = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) targets = NULL;

  targets = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (targets == NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (targets->len == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  /* The probes run side by side; each holds a reference on the task. */
  state->outstanding = targets->len;
  while (targets->len > 0)
    probe_and_record_async (self, g_ptr_array_steal_index_fast (targets, 0),
                            g_task_get_cancellable (task), pass_probe_cb,
                            g_object_ref (task));
}

void
cdl_worker_service_health_pass_async (CdlWorkerService    *self,
                                      guint                interval_ms,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  GTask *task;
  Op *op;

  g_return_if_fail (CDL_IS_WORKER_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_worker_service_health_pass_async);
  g_task_set_task_data (task, g_new0 (PassState, 1), g_free);

  op = op_new (self, NULL);
  op->interval_ms = interval_ms;
  cdl_db_run_async (self->db, claim_in_thread, op, op_free,
                    (GDestroyNotify)g_ptr_array_unref,
                    cancellable, pass_claim_cb, task);
}

gboolean
cdl_worker_service_health_pass_finish (CdlWorkerService  *self,
                                       GAsyncResult      *result,
                                       GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Changes announced by the database */

static void
announced_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorker) worker = NULL;

  worker = cdl_worker_service_get_finish (CDL_WORKER_SERVICE (source), result, &error);
  if (worker != NULL)
    g_signal_emit (source, signals[WORKER_CHANGED], 0, worker);
  else
    g_debug ("An announced worker could not be read: %s", error->message);
}

static void
notification_cb (CdlDbListener    *listener,
                 const char       *channel,
                 const char       *payload,
                 CdlWorkerService *self)
{
  if (g_strcmp0 (channel, CDL_WORKERS_CHANNEL) != 0 || payload == NULL)
    return;

  cdl_worker_service_get_async (self, payload, NULL, announced_cb, NULL);
}

static void
resync_list_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) workers = NULL;

  workers = cdl_worker_service_list_finish (CDL_WORKER_SERVICE (source), result, &error);
  for (guint i = 0; workers != NULL && i < workers->len; i++)
    g_signal_emit (source, signals[WORKER_CHANGED], 0, g_ptr_array_index (workers, i));
}

static void
resync_cb (CdlDbListener    *listener,
           CdlWorkerService *self)
{
  cdl_worker_service_list_async (self, NULL, resync_list_cb, NULL);
}

void
cdl_worker_service_watch (CdlWorkerService *self,
                          CdlDbListener    *listener)
{
  g_return_if_fail (CDL_IS_WORKER_SERVICE (self));
  g_return_if_fail (CDL_IS_DB_LISTENER (listener));

  g_signal_connect_object (listener, "notification", G_CALLBACK (notification_cb), self, 0);
  g_signal_connect_object (listener, "resync", G_CALLBACK (resync_cb), self, 0);
}
