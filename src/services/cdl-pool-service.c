/* cdl-pool-service.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-pools"

#include "config.h"

#include "core/cdl-sampling.h"
#include "db/cdl-pool-repo.h"
#include "services/cdl-pool-service.h"
#include "services/cdl-service-error.h"

struct _CdlPoolService
{
  GObject  parent_instance;
  CdlDb   *db;
};

G_DEFINE_FINAL_TYPE (CdlPoolService, cdl_pool_service, G_TYPE_OBJECT)

enum {
  POOL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
cdl_pool_service_dispose (GObject *object)
{
  CdlPoolService *self = (CdlPoolService *)object;

  g_clear_object (&self->db);

  G_OBJECT_CLASS (cdl_pool_service_parent_class)->dispose (object);
}

static void
cdl_pool_service_class_init (CdlPoolServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_pool_service_dispose;

  signals[POOL_CHANGED] =
    g_signal_new ("pool-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CDL_TYPE_POOL);
}

static void
cdl_pool_service_init (CdlPoolService *self)
{
}

CdlPoolService *
cdl_pool_service_new (CdlDb *db)
{
  CdlPoolService *self;

  g_return_val_if_fail (CDL_IS_DB (db), NULL);

  self = g_object_new (CDL_TYPE_POOL_SERVICE, NULL);
  self->db = g_object_ref (db);

  return self;
}

void
cdl_pool_sample_free (CdlPoolSample *sample)
{
  if (sample == NULL)
    return;

  g_clear_object (&sample->pool);
  g_strfreev (sample->items);
  g_free (sample);
}

JsonNode *
cdl_pool_sample_to_json (const CdlPoolSample *sample)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();

  g_return_val_if_fail (sample != NULL, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "pool_id");
  json_builder_add_string_value (b, cdl_pool_get_id (sample->pool));
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, cdl_pool_get_name (sample->pool));
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, cdl_pool_mode_to_string (cdl_pool_get_mode (sample->pool)));
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, cdl_pool_get_version (sample->pool));
  json_builder_set_member_name (b, "rng_seed");
  json_builder_add_int_value (b, (gint64) sample->rng_seed);
  json_builder_set_member_name (b, "available");
  json_builder_add_int_value (b, (gint64) sample->available);
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, g_strv_length (sample->items));
  json_builder_set_member_name (b, "items");
  json_builder_begin_array (b);
  for (guint i = 0; sample->items[i] != NULL; i++)
    json_builder_add_string_value (b, sample->items[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

/* The database work of each use case, run by cdl_db_run_async(). */

typedef struct
{
  char         *id;
  int           version;
  CdlPoolInput *input;
  guint         count;
  guint64       rng_seed;
} Op;

static void
op_free (gpointer data)
{
  Op *op = data;

  g_free (op->id);
  cdl_pool_input_free (op->input);
  g_free (op);
}

static Op *
op_new (const char *id)
{
  Op *op = g_new0 (Op, 1);

  op->id = g_strdup (id);

  return op;
}

static gpointer
list_in_thread (PGconn        *conn,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  return cdl_pool_repo_list (conn, error);
}

static gpointer
get_in_thread (PGconn        *conn,
               gpointer       data,
               GCancellable  *cancellable,
               GError       **error)
{
  Op *op = data;

  return cdl_pool_repo_get (conn, op->id, op->version, error);
}

static gpointer
create_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;

  return cdl_pool_repo_insert (conn, op->input, error);
}

static gpointer
update_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;

  return cdl_pool_repo_update (conn, op->id, op->input, error);
}

static gpointer
sample_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  g_autoptr(CdlPool) pool = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree guint32 *rows = NULL;
  CdlPoolSample *sample;
  CdlSamplePool spec;
  CdlRng rng;

  pool = cdl_pool_repo_get (conn, op->id, op->version, error);
  if (pool == NULL)
    return NULL;

  spec.name = cdl_pool_get_name (pool);
  spec.mode = cdl_pool_get_mode (pool);
  spec.items = cdl_pool_get_items (pool);
  spec.n_items = cdl_pool_get_n_items (pool);

  if (op->count > spec.n_items)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   "count: %u were asked for, but pool %s (version %d) has only %u items",
                   op->count, spec.name, cdl_pool_get_version (pool), spec.n_items);
      return NULL;
    }

  cdl_rng_init (&rng, op->rng_seed, 0);
  rows = cdl_sampling_draw (&spec, 1, op->count, &rng, &local_error);
  if (rows == NULL)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   "count: %s", local_error->message);
      return NULL;
    }

  sample = g_new0 (CdlPoolSample, 1);
  sample->rng_seed = op->rng_seed;
  sample->available = spec.n_items;
  sample->items = g_new0 (char *, op->count + 1);
  for (guint i = 0; i < op->count; i++)
    sample->items[i] = g_strdup (spec.items[rows[i]]);
  sample->pool = g_steal_pointer (&pool);

  return sample;
}

/* Plumbing: run a thread function and complete @task with its result. */

static void
db_done_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlPoolService *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  gpointer value;

  value = cdl_db_run_finish (CDL_DB (source), result, &error);

  if (error != NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (g_task_get_source_tag (task) == cdl_pool_service_create_async
      || g_task_get_source_tag (task) == cdl_pool_service_update_async)
    g_signal_emit (self, signals[POOL_CHANGED], 0, value);

  g_task_return_pointer (task, value, g_task_get_task_data (task));
}

/* @result_free is stashed as the task data so db_done_cb can hand it on. */
static void
run_op (CdlPoolService *self,
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
finish_pointer (CdlPoolService  *self,
                GAsyncResult    *result,
                gpointer         tag,
                GError         **error)
{
  g_return_val_if_fail (CDL_IS_POOL_SERVICE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static GTask *
new_task (CdlPoolService      *self,
          gpointer             tag,
          GCancellable        *cancellable,
          GAsyncReadyCallback  callback,
          gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  return task;
}

void
cdl_pool_service_list_async (CdlPoolService      *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (CDL_IS_POOL_SERVICE (self));

  run_op (self, list_in_thread, op_new (NULL), (GDestroyNotify) g_ptr_array_unref,
          new_task (self, cdl_pool_service_list_async, cancellable, callback, user_data));
}

GPtrArray *
cdl_pool_service_list_finish (CdlPoolService  *self,
                              GAsyncResult    *result,
                              GError         **error)
{
  return finish_pointer (self, result, cdl_pool_service_list_async, error);
}

void
cdl_pool_service_get_async (CdlPoolService      *self,
                            const char          *id,
                            int                  version,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  Op *op;

  g_return_if_fail (CDL_IS_POOL_SERVICE (self));
  g_return_if_fail (id != NULL);

  op = op_new (id);
  op->version = version;
  run_op (self, get_in_thread, op, g_object_unref,
          new_task (self, cdl_pool_service_get_async, cancellable, callback, user_data));
}

CdlPool *
cdl_pool_service_get_finish (CdlPoolService  *self,
                             GAsyncResult    *result,
                             GError         **error)
{
  return finish_pointer (self, result, cdl_pool_service_get_async, error);
}

static void
start_change (CdlPoolService *self,
              CdlDbFunc       func,
              const char     *id,
              CdlPoolInput   *input,
              gboolean        for_create,
              GTask          *task)
{
  g_autoptr(GError) error = NULL;
  Op *op;

  /* Validation is cheap and pure: do it before touching the database. */
  if (!cdl_pool_input_validate (input, for_create, &error))
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      cdl_pool_input_free (input);
      return;
    }

  op = op_new (id);
  op->input = input;
  run_op (self, func, op, g_object_unref, task);
}

void
cdl_pool_service_create_async (CdlPoolService      *self,
                               CdlPoolInput        *input,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (CDL_IS_POOL_SERVICE (self));
  g_return_if_fail (input != NULL);

  start_change (self, create_in_thread, NULL, input, TRUE,
                new_task (self, cdl_pool_service_create_async, cancellable, callback, user_data));
}

CdlPool *
cdl_pool_service_create_finish (CdlPoolService  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  return finish_pointer (self, result, cdl_pool_service_create_async, error);
}

void
cdl_pool_service_update_async (CdlPoolService      *self,
                               const char          *id,
                               CdlPoolInput        *input,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (CDL_IS_POOL_SERVICE (self));
  g_return_if_fail (id != NULL);
  g_return_if_fail (input != NULL);

  start_change (self, update_in_thread, id, input, FALSE,
                new_task (self, cdl_pool_service_update_async, cancellable, callback, user_data));
}

CdlPool *
cdl_pool_service_update_finish (CdlPoolService  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  return finish_pointer (self, result, cdl_pool_service_update_async, error);
}

void
cdl_pool_service_sample_async (CdlPoolService      *self,
                               const char          *id,
                               int                  version,
                               guint                count,
                               gboolean             has_seed,
                               guint64              rng_seed,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task;
  Op *op;

  g_return_if_fail (CDL_IS_POOL_SERVICE (self));
  g_return_if_fail (id != NULL);

  task = new_task (self, cdl_pool_service_sample_async, cancellable, callback, user_data);

  if (count == 0)
    {
      g_task_return_new_error (task, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                               "count must be at least 1");
      g_object_unref (task);
      return;
    }

  if (has_seed && rng_seed > CDL_SEED_MAX)
    {
      g_task_return_new_error (task, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                               "seed must be between 0 and 2^53 - 1");
      g_object_unref (task);
      return;
    }

  op = op_new (id);
  op->version = version;
  op->count = count;
  op->rng_seed = has_seed ? rng_seed : cdl_sampling_random_seed ();
  run_op (self, sample_in_thread, op, (GDestroyNotify) cdl_pool_sample_free, task);
}

CdlPoolSample *
cdl_pool_service_sample_finish (CdlPoolService  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  return finish_pointer (self, result, cdl_pool_service_sample_async, error);
}
