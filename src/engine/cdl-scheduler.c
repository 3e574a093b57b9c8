/* cdl-scheduler.c
 *
 * Everything here runs on the main loop, except the functions named
 * *_in_thread, which cdl_db_run_async() runs with a pooled connection.
 *
 * A job is marked submitted (with its worker) before its POST /prompt, so
 * that a crash between the two leaves a job that recovery looks up on the
 * worker and, not finding it, retries under a new id: no prompt_id is ever
 * sent twice.
 *
 * The warm-up (FAQ 19) is a plain submission that is not recorded: the
 * task's first prompt and seed, batch 1, under a random prompt_id, sent
 * once per (worker, task) in this process before the task's first job on
 * that worker. It takes its place behind the queue gate like any job, and
 * its image is never fetched, so it is in no output and no progress.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-engine"

#include "config.h"

#include <unistd.h>

#include "comfy/cdl-comfy-jobs.h"
#include "core/cdl-graph.h"
#include "core/cdl-job.h"
#include "core/cdl-metrics.h"
#include "core/cdl-schedule.h"
#include "core/cdl-settings.h"
#include "core/cdl-workflow.h"
#include "db/cdl-job-repo.h"
#include "db/cdl-lease-repo.h"
#include "db/cdl-settings-repo.h"
#include "db/cdl-worker-repo.h"
#include "engine/cdl-job-runner.h"
#include "engine/cdl-pilot.h"
#include "engine/cdl-scheduler.h"
#include "storage/cdl-storage-key.h"

#define DEFAULT_TICK_MS      500
#define LEASE_MS             15000
#define CLAIM_MS             15000
#define HOUSEKEEPING_US      (3 * G_USEC_PER_SEC)
#define NOTIFY_INTERVAL_US   (G_USEC_PER_SEC / 2)
/* Times in a row a job is neither queued nor in history before it is
 * taken as lost (the first may race with its end, FAQ 1). */
#define ABSENT_LIMIT         2
/* Failed polls of a worker the registry calls unhealthy before its jobs
 * are taken as lost. */
#define UNREACHABLE_LIMIT    3
/* A worker whose jobs fail this many times in a row gets no new job for a
 * while (doubling each time, at most 16 times the first), so that one
 * broken GPU does not spend every prompt's retries. */
#define ERRORS_BEFORE_COOLDOWN  3
#define COOLDOWN_US             (30 * G_USEC_PER_SEC)
/* While a worker runs jobs of this process and its gate is closed, its
 * queue is read again this often: the answer both opens the gate for the
 * next job the moment one ends and tells which jobs to fetch.
 * FIXME: ComfyUI's /ws reports a prompt's end as it happens; following it
 * would save this polling and, at max_concurrent_jobs 1, up to WATCH_MS of
 * idle worker per job. */
#define WATCH_MS                100

typedef struct
{
  char      *id;
  char      *base_url;
  char      *api_key;
  int        max_concurrent;
  gboolean   usable;        /* enabled and HEALTHY */
  gboolean   leased;        /* by this process */
  gboolean   dispatching;
  gboolean   dispatch_again; /* a job ended while dispatching */
  guint      finished_jobs;
  GHashTable *warmed;       /* task ids */
  char       *warmup_id;    /* prompt_id of the last warm-up sent to it */
  guint      errors_in_row; /* jobs that failed on it, one after another */
  guint      cooldowns;
  gint64     cool_until_us; /* no new jobs before this */
} Worker;

/* What dispatching and ingesting a task needs from its frozen snapshot. */
typedef struct
{
  char       *id;
  JsonNode   *graph;
  GPtrArray  *prompt_nodes;
  GPtrArray  *seed_nodes;
  char       *workflow_id;
  int         workflow_version;
  char       *model;
  char      **runnable;
  int         width;       /* > 0: the pilot's, lower than the graph's */
  int         height;
  char       *first_prompt;
  gint64      first_seed;
  gint64      last_notify_us;
} TaskCtx;

typedef struct _Flight Flight;

struct _CdlScheduler
{
  GObject          parent_instance;

  CdlDb           *db;
  CdlComfyClient  *client;
  CdlObjectStore  *store;
  CdlThumbnailer  *thumbnailer;
  CdlApiKeyFunc    api_key_func;
  gpointer         api_key_data;
  char            *holder;
  guint            tick_ms;

  GCancellable    *cancellable;
  guint            tick_id;
  gboolean         running;
  gboolean         stopping;
  gboolean         ticking;
  gboolean         tick_again;
  gint64           last_housekeeping_us;
  guint            rr;
  int              free_every_n;

  GHashTable      *workers;   /* id → Worker */
  GHashTable      *tasks;     /* id → TaskCtx (cache) */
  GPtrArray       *running_tasks;  /* ids of RUNNING tasks, plan order */
  GHashTable      *flights;   /* job id → Flight */
  GHashTable      *held;      /* ids of jobs claimed ahead, not sent yet */
  guint            ingesting;
};

G_DEFINE_FINAL_TYPE (CdlScheduler, cdl_scheduler, G_TYPE_OBJECT)

struct _Flight
{
  CdlScheduler    *self;
  CdlJob          *job;
  guint            poll_attempt;
  guint            absent;
  guint            unreachable;
  guint            timeout_id;
  gboolean         ingesting;
  CdlJobInputs    *inputs;
  TaskCtx         *task;
  CdlComfyHistory *history;
  GPtrArray       *outputs;   /* CdlComfyOutput of type output, borrowed */
  guint            index;
  guint            stored;
  CdlStoredImage  *image;
};

static void poll_flight (Flight *flight);
static void unclaim (CdlScheduler *self, const char *job_id);
static void refill (CdlScheduler *self, Worker *worker);
static void conclude (Flight *flight, CdlJobOutcome outcome, const char *error_text);
static void dispatch_worker (CdlScheduler *self, Worker *worker);
static void ingest_next (Flight *flight);

/* Records ------------------------------------------------------------------- */

static void
worker_free (Worker *w)
{
  g_free (w->id);
  g_free (w->base_url);
  g_free (w->api_key);
  g_free (w->warmup_id);
  g_clear_pointer (&w->warmed, g_hash_table_unref);
  g_free (w);
}

static void
task_ctx_clear (TaskCtx *t)
{
  g_free (t->id);
  g_clear_pointer (&t->graph, json_node_unref);
  g_clear_pointer (&t->prompt_nodes, g_ptr_array_unref);
  g_clear_pointer (&t->seed_nodes, g_ptr_array_unref);
  g_free (t->workflow_id);
  g_free (t->model);
  g_strfreev (t->runnable);
  g_free (t->first_prompt);
}

static TaskCtx *
task_ctx_ref (TaskCtx *t)
{
  return g_atomic_rc_box_acquire (t);
}

static void
task_ctx_unref (TaskCtx *t)
{
  g_atomic_rc_box_release_full (t, (GDestroyNotify) task_ctx_clear);
}

static void
flight_free (Flight *f)
{
  g_clear_handle_id (&f->timeout_id, g_source_remove);
  g_clear_pointer (&f->job, cdl_job_free);
  g_clear_pointer (&f->inputs, cdl_job_inputs_free);
  g_clear_pointer (&f->task, task_ctx_unref);
  g_clear_pointer (&f->history, cdl_comfy_history_free);
  g_clear_pointer (&f->outputs, g_ptr_array_unref);
  g_clear_pointer (&f->image, cdl_stored_image_free);
  g_free (f);
}

static Worker *
worker_of (CdlScheduler *self,
           const char   *worker_id)
{
  return worker_id ? g_hash_table_lookup (self->workers, worker_id) : NULL;
}

/* Loads the parts of the frozen snapshot the engine needs. */
static TaskCtx *
load_task_ctx (PGconn      *conn,
               const char  *task_id,
               GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(JsonNode) workflow = NULL;
  const char *params[1] = { task_id };
  JsonObject *obj;
  JsonNode *member;
  TaskCtx *t;

  res = cdl_pq_exec (conn,
                     "SELECT (frozen_snapshot -> 'workflow')::text,"
                     "  (SELECT text FROM prompts WHERE task_id = t.id"
                     "   ORDER BY position LIMIT 1),"
                     "  (SELECT s.seed_value FROM seeds s JOIN prompts p ON p.id = s.prompt_id"
                     "   WHERE s.task_id = t.id ORDER BY p.position, s.position LIMIT 1),"
                     "  (frozen_snapshot -> 'pilot' -> 'settings' ->> 'width')::integer,"
                     "  (frozen_snapshot -> 'pilot' -> 'settings' ->> 'height')::integer"
                     " FROM tasks t WHERE id = $1 AND frozen_snapshot IS NOT NULL",
                     1, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                   "Task %s has no frozen snapshot", task_id);
      return NULL;
    }

  if (PQgetisnull (res, 0, 0))
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_FAILED,
                   "The frozen snapshot of task %s has no workflow graph", task_id);
      return NULL;
    }

  workflow = json_from_string (cdl_pq_get_string (res, 0, 0), error);
  if (workflow == NULL)
    return NULL;

  if (!JSON_NODE_HOLDS_OBJECT (workflow)
      || (member = json_object_get_member (json_node_get_object (workflow),
                                           "raw_definition")) == NULL
      || !JSON_NODE_HOLDS_OBJECT (member))
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_FAILED,
                   "The frozen snapshot of task %s has no workflow graph", task_id);
      return NULL;
    }

  obj = json_node_get_object (workflow);
  t = g_atomic_rc_box_new0 (TaskCtx);
  t->id = g_strdup (task_id);
  t->graph = json_node_copy (member);
  t->prompt_nodes = cdl_prompt_nodes_from_json (json_object_get_member (obj, "prompt_nodes"));
  t->seed_nodes = cdl_seed_nodes_from_json (json_object_get_member (obj, "seed_nodes"));
  t->workflow_id = g_strdup (json_object_get_string_member_with_default (obj, "id", NULL));
  t->workflow_version = (int) json_object_get_int_member_with_default (obj, "version", 0);
  t->model = g_strdup (json_object_get_string_member_with_default (obj, "model", NULL));
  t->first_prompt = g_strdup (cdl_pq_get_string (res, 0, 1));
  t->first_seed = cdl_pq_get_int64 (res, 0, 2);

  /* The size the pilot settled on, when it had to lower the graph's. */
  if (cdl_pq_get_string (res, 0, 3) != NULL && cdl_pq_get_string (res, 0, 4) != NULL)
    {
      CdlGenSize size = cdl_pilot_graph_size (t->graph);
      int width = cdl_pq_get_int (res, 0, 3);
      int height = cdl_pq_get_int (res, 0, 4);

      if (width > 0 && height > 0 && (width != size.width || height != size.height))
        {
          t->width = width;
          t->height = height;
        }
    }

  member = json_object_get_member (obj, "runnable_worker_ids");
  if (member != NULL && JSON_NODE_HOLDS_ARRAY (member))
    {
      JsonArray *array = json_node_get_array (member);
      GStrvBuilder *b = g_strv_builder_new ();

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          const char *id = json_node_get_string (json_array_get_element (array, i));

          if (id != NULL)
            g_strv_builder_add (b, id);
        }
      t->runnable = g_strv_builder_end (b);
      g_strv_builder_unref (b);
    }
  else
    {
      t->runnable = g_new0 (char *, 1);
    }

  return t;
}

static gboolean
task_runs_on (TaskCtx    *t,
              const char *worker_id)
{
  return t->runnable[0] == NULL
         || g_strv_contains ((const char * const *) t->runnable, worker_id);
}

/* The tick ---------------------------------------------------------------- */

typedef struct
{
  char      *id;
  char      *base_url;
  char      *api_key;
  int        max_concurrent;
  gboolean   usable;
  gboolean   leased;
} WorkerInfo;

static void
worker_info_free (WorkerInfo *w)
{
  g_free (w->id);
  g_free (w->base_url);
  g_free (w->api_key);
  g_free (w);
}

typedef struct
{
  char          *holder;
  char         **cached;       /* task ids already loaded */
  gboolean       housekeeping;
  CdlApiKeyFunc  api_key_func;
  gpointer       api_key_data;
} TickIn;

typedef struct
{
  GPtrArray *workers;    /* WorkerInfo */
  GPtrArray *registry;   /* CdlWorker, as listed */
  GPtrArray *running;    /* task ids */
  GPtrArray *loaded;     /* TaskCtx */
  GPtrArray *orphans;    /* CdlJob */
  int        free_every_n;
} TickOut;

static void
tick_in_free (TickIn *in)
{
  g_free (in->holder);
  g_strfreev (in->cached);
  g_free (in);
}

static void
tick_out_free (TickOut *out)
{
  g_clear_pointer (&out->workers, g_ptr_array_unref);
  g_clear_pointer (&out->registry, g_ptr_array_unref);
  g_clear_pointer (&out->running, g_ptr_array_unref);
  g_clear_pointer (&out->loaded, g_ptr_array_unref);
  g_clear_pointer (&out->orphans, g_ptr_array_unref);
  g_free (out);
}

static gpointer
tick_in_thread (PGconn        *conn,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  TickIn *in = data;
  g_autoptr(GPtrArray) workers = NULL;
  g_autoptr(PGresult) res = NULL;
  g_autoptr(CdlSettings) settings = NULL;
  TickOut *out;

  workers = cdl_worker_repo_list (conn, error);
  if (workers == NULL)
    return NULL;

  out = g_new0 (TickOut, 1);
  out->workers = g_ptr_array_new_with_free_func ((GDestroyNotify) worker_info_free);
  out->registry = g_ptr_array_ref (workers);
  out->running = g_ptr_array_new_with_free_func (g_free);
  out->loaded = g_ptr_array_new_with_free_func ((GDestroyNotify) task_ctx_unref);
  out->free_every_n = -1;

  for (guint i = 0; i < workers->len; i++)
    {
      CdlWorker *worker = g_ptr_array_index (workers, i);
      WorkerInfo *w = g_new0 (WorkerInfo, 1);
      g_autoptr(GError) local_error = NULL;

      w->id = g_strdup (cdl_worker_get_id (worker));
      w->base_url = g_strdup (cdl_worker_get_base_url (worker));
      w->max_concurrent = cdl_worker_get_max_concurrent_jobs (worker);
      w->usable = cdl_worker_get_enabled (worker)
                  && cdl_worker_get_status (worker) == CDL_WORKER_STATUS_HEALTHY;
      if (in->api_key_func != NULL)
        w->api_key = in->api_key_func (w->id, in->api_key_data);

      if (w->usable)
        w->leased = cdl_lease_repo_acquire (conn, w->id, in->holder, LEASE_MS, &local_error);
      else
        cdl_lease_repo_release (conn, w->id, in->holder, &local_error);
      if (local_error != NULL)
        g_warning ("Cannot lease worker %s: %s", cdl_worker_get_name (worker),
                   local_error->message);

      g_ptr_array_add (out->workers, w);
    }

  /* Tasks whose jobs are all over end here, whoever ran them. */
  if (cdl_job_repo_end_tasks (conn, error) < 0)
    goto fail;

  res = cdl_pq_exec (conn, "SELECT id FROM tasks WHERE state = 'RUNNING' ORDER BY frozen_at, id",
                     0, NULL, error);
  if (res == NULL)
    goto fail;

  for (int i = 0; i < PQntuples (res); i++)
    {
      const char *id = cdl_pq_get_string (res, i, 0);

      g_ptr_array_add (out->running, g_strdup (id));
      if (!g_strv_contains ((const char * const *) in->cached, id))
        {
          g_autoptr(GError) local_error = NULL;
          TaskCtx *t = load_task_ctx (conn, id, &local_error);

          if (t == NULL)
            g_warning ("Cannot read the snapshot of task %s: %s", id, local_error->message);
          else
            g_ptr_array_add (out->loaded, t);
        }
    }

  settings = cdl_settings_repo_load (conn, NULL);
  if (settings != NULL)
    out->free_every_n = settings->free_every_n_jobs;

  if (in->housekeeping)
    {
      if (cdl_job_repo_renew_claims (conn, in->holder, CLAIM_MS, error) < 0)
        goto fail;
      out->orphans = cdl_job_repo_claim_orphans (conn, in->holder, CLAIM_MS, error);
      if (out->orphans == NULL)
        goto fail;
    }

  return out;

fail:
  tick_out_free (out);
  return NULL;
}

static void
apply_workers (CdlScheduler *self,
               GPtrArray    *infos)
{
  for (guint i = 0; i < infos->len; i++)
    {
      WorkerInfo *info = g_ptr_array_index (infos, i);
      Worker *w = worker_of (self, info->id);

      if (w == NULL)
        {
          w = g_new0 (Worker, 1);
          w->id = g_strdup (info->id);
          w->warmed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          g_hash_table_insert (self->workers, w->id, w);
        }

      g_free (w->base_url);
      w->base_url = g_strdup (info->base_url);
      g_free (w->api_key);
      w->api_key = g_strdup (info->api_key);
      w->max_concurrent = info->max_concurrent;
      w->usable = info->usable;
      if (w->leased != info->leased)
        g_debug ("%s the lease of worker %s", info->leased ? "Took" : "Lost", w->id);
      w->leased = info->leased;
    }
}

static void
track (CdlScheduler *self,
       CdlJob       *job,
       guint         delay_ms)
{
  Flight *f;

  if (g_hash_table_contains (self->flights, job->id))
    {
      cdl_job_free (job);
      return;
    }

  f = g_new0 (Flight, 1);
  f->self = self;
  f->job = job;
  g_hash_table_insert (self->flights, job->id, f);

  if (delay_ms == 0)
    poll_flight (f);
  else
    f->timeout_id = g_timeout_add_once (delay_ms, (GSourceOnceFunc) poll_flight, f);
}

static gboolean tick_cb (gpointer user_data);

static void
tick_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlScheduler) self = user_data;
  g_autoptr(GError) error = NULL;
  TickOut *out;
  Worker *w;

  out = cdl_db_run_finish (CDL_DB (source), result, &error);
  self->ticking = FALSE;

  if (out == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Scheduler pass failed: %s", error->message);
      return;
    }

  if (self->stopping)
    {
      tick_out_free (out);
      return;
    }

  apply_workers (self, out->workers);
  if (out->free_every_n >= 0)
    self->free_every_n = out->free_every_n;

  for (guint i = 0; i < out->loaded->len; i++)
    {
      TaskCtx *t = g_ptr_array_index (out->loaded, i);

      g_hash_table_replace (self->tasks, t->id, task_ctx_ref (t));
    }

  g_ptr_array_unref (self->running_tasks);
  self->running_tasks = g_ptr_array_ref (out->running);

  if (out->orphans != NULL)
    {
      for (guint i = 0; i < out->orphans->len; i++)
        {
          CdlJob *job = g_ptr_array_index (out->orphans, i);

          if (g_hash_table_contains (self->flights, job->id))
            continue;
          g_message ("Looking for job %s on its worker again", job->id);
          track (self, cdl_job_copy (job), 0);
        }
    }

  /* Workers in the order of the selection rule (priority, then the
   * shortest queue), so that the preferred ones get the jobs first when
   * there are fewer jobs than room. */
  if (self->running_tasks->len > 0)
    {
      g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
      CdlWorker *next;

      while ((next = cdl_schedule_pick_worker (out->registry, NULL, seen)) != NULL)
        {
          g_hash_table_add (seen, (gpointer) cdl_worker_get_id (next));
          w = worker_of (self, cdl_worker_get_id (next));
          if (w != NULL && w->leased && w->usable && !w->dispatching)
            dispatch_worker (self, w);
        }
    }

  tick_out_free (out);

  if (self->tick_again)
    {
      self->tick_again = FALSE;
      tick_cb (self);
    }
}

static gboolean
tick_cb (gpointer user_data)
{
  CdlScheduler *self = user_data;
  TickIn *in;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer key;
  GStrvBuilder *b;

  if (self->stopping)
    return G_SOURCE_CONTINUE;

  if (self->ticking)
    {
      self->tick_again = TRUE;
      return G_SOURCE_CONTINUE;
    }

  in = g_new0 (TickIn, 1);
  in->holder = g_strdup (self->holder);
  in->api_key_func = self->api_key_func;
  in->api_key_data = self->api_key_data;
  in->housekeeping = now - self->last_housekeeping_us >= HOUSEKEEPING_US;
  if (in->housekeeping)
    self->last_housekeeping_us = now;

  b = g_strv_builder_new ();
  g_hash_table_iter_init (&iter, self->tasks);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_strv_builder_add (b, key);
  in->cached = g_strv_builder_end (b);
  g_strv_builder_unref (b);

  self->ticking = TRUE;
  cdl_db_run_async (self->db, tick_in_thread, in, (GDestroyNotify) tick_in_free,
                    (GDestroyNotify) tick_out_free, self->cancellable,
                    tick_done_cb, g_object_ref (self));

  return G_SOURCE_CONTINUE;
}

/* Dispatch ---------------------------------------------------------------- */

typedef struct
{
  CdlScheduler *self;
  Worker       *worker;
  char         *worker_id;
  char        **task_ids;    /* RUNNING tasks this worker can run, in turn */
  CdlJob       *job;
  CdlJobInputs *inputs;
  TaskCtx      *task;
  gboolean      warmup;
  gboolean      ahead;       /* claiming while the gate is closed */
} Dispatch;

static void
dispatch_free (Dispatch *d)
{
  g_autoptr(CdlScheduler) self = d->self;
  Worker *w = worker_of (self, d->worker_id);
  gboolean again = FALSE;

  /* A job claimed ahead that never went out goes back to the queue. */
  if (d->job != NULL && g_hash_table_remove (self->held, d->job->id))
    unclaim (self, d->job->id);

  if (w != NULL)
    {
      w->dispatching = FALSE;
      again = w->dispatch_again;
      w->dispatch_again = FALSE;
    }
  g_free (d->worker_id);
  g_strfreev (d->task_ids);
  g_clear_pointer (&d->job, cdl_job_free);
  g_clear_pointer (&d->inputs, cdl_job_inputs_free);
  g_clear_pointer (&d->task, task_ctx_unref);
  g_free (d);

  if (again)
    refill (self, w);
}

typedef struct
{
  char   **task_ids;
  char    *holder;
  char    *worker_id;
  guint    min_queued;  /* claim only from a task with this many queued */
} ClaimIn;

typedef struct
{
  CdlJob       *job;
  CdlJobInputs *inputs;
  gboolean      deferred;  /* jobs are left, but too few to claim ahead */
} ClaimOut;

static void
claim_in_free (ClaimIn *in)
{
  g_strfreev (in->task_ids);
  g_free (in->holder);
  g_free (in->worker_id);
  g_free (in);
}

static void
claim_out_free (ClaimOut *out)
{
  g_clear_pointer (&out->job, cdl_job_free);
  g_clear_pointer (&out->inputs, cdl_job_inputs_free);
  g_free (out);
}

static gpointer
claim_in_thread (PGconn        *conn,
                 gpointer       data,
                 GCancellable  *cancellable,
                 GError       **error)
{
  ClaimIn *in = data;
  ClaimOut *out = g_new0 (ClaimOut, 1);

  for (guint i = 0; in->task_ids[i] != NULL; i++)
    {
      g_autoptr(PGresult) state = NULL;
      g_autoptr(CdlJob) job = NULL;
      const char *params[1] = { in->task_ids[i] };

      /* Paused or cancelled since the last tick: no new claims. */
      state = cdl_pq_exec (conn, "SELECT 1 FROM tasks WHERE id = $1 AND state = 'RUNNING'",
                           1, params, error);
      if (state == NULL)
        goto fail;
      if (PQntuples (state) == 0)
        continue;

      /* A claim ahead leaves a task's last jobs to the idle workers. */
      if (in->min_queued > 0)
        {
          g_autoptr(PGresult) left = NULL;
          g_autofree char *limit = g_strdup_printf ("%u", in->min_queued);
          const char *left_params[2] = { in->task_ids[i], limit };

          left = cdl_pq_exec (conn,
                              "SELECT count (*) FROM (SELECT 1 FROM jobs"
                              "  WHERE task_id = $1 AND state = 'queued'"
                              "  LIMIT $2::integer) q",
                              2, left_params, error);
          if (left == NULL)
            goto fail;
          if (cdl_pq_get_int64 (left, 0, 0) < in->min_queued)
            {
              out->deferred |= cdl_pq_get_int64 (left, 0, 0) > 0;
              continue;
            }
        }

      job = cdl_job_repo_claim_next (conn, in->task_ids[i], in->holder, CLAIM_MS, error);
      if (job == NULL)
        {
          if (error != NULL && *error != NULL)
            goto fail;
          continue;
        }

      if (!cdl_job_repo_mark_submitted (conn, job->id, in->holder, in->worker_id,
                                        in->holder, error))
        {
          if (error != NULL && *error != NULL)
            goto fail;
          continue;
        }

      g_free (job->state);
      job->state = g_strdup (CDL_JOB_SUBMITTED);
      g_free (job->worker_id);
      job->worker_id = g_strdup (in->worker_id);
      g_free (job->comfy_prompt_id);
      job->comfy_prompt_id = cdl_job_comfy_prompt_id (job);

      out->inputs = cdl_job_repo_get_inputs (conn, job, error);
      if (out->inputs == NULL)
        goto fail;
      out->job = g_steal_pointer (&job);
      return out;
    }

  return out;

fail:
  claim_out_free (out);
  return NULL;
}

static void dispatch_step (Dispatch *d);
static void submit_claimed (Dispatch *d);

static guint
count_usable_workers (CdlScheduler *self)
{
  GHashTableIter iter;
  Worker *w;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->workers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &w))
    if (w->usable)
      n++;

  return n;
}

static void
submit_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Dispatch *d = user_data;
  CdlScheduler *self = d->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfySubmitted) submitted = NULL;
  Worker *w = worker_of (self, d->worker_id);

  submitted = cdl_comfy_jobs_submit_finish (CDL_COMFY_CLIENT (source), result, &error);

  if (d->warmup)
    {
      if (submitted == NULL)
        {
          /* Stopping cancels it; that is no failure of the worker. */
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_warning ("The warm-up prompt on worker %s failed: %s", d->worker_id,
                       error->message);
          dispatch_free (d);
          return;
        }
      g_debug ("Warm-up %s sent to worker %s", submitted->prompt_id, d->worker_id);
      if (w != NULL)
        {
          g_hash_table_add (w->warmed, g_strdup (d->task->id));
          g_free (w->warmup_id);
          w->warmup_id = g_strdup (submitted->prompt_id);
        }
      /* The next job takes its turn behind the warm-up. */
      d->warmup = FALSE;
      g_clear_pointer (&d->task, task_ctx_unref);
      dispatch_step (d);
      return;
    }

  if (submitted == NULL && error->domain == CDL_COMFY_PROMPT_ERROR)
    {
      Flight *f = g_new0 (Flight, 1);

      g_warning ("Worker %s refused job %s: %s", d->worker_id, d->job->id, error->message);
      f->self = self;
      f->job = g_steal_pointer (&d->job);
      g_hash_table_insert (self->flights, f->job->id, f);
      conclude (f, CDL_JOB_OUTCOME_REJECTED, error->message);
      dispatch_free (d);
      return;
    }

  if (submitted == NULL)
    {
      /* The answer was lost, not necessarily the prompt (FAQ 5, 6): the
       * flight looks for it in /queue and /history before anything is
       * sent again. */
      g_warning ("Submitting job %s to worker %s failed: %s", d->job->id, d->worker_id,
                 error->message);
      track (self, g_steal_pointer (&d->job), 0);
      dispatch_free (d);
      return;
    }

  g_debug ("Job %s accepted by worker %s", d->job->id, d->worker_id);
  cdl_metrics_inc (cdl_metrics_get_default (), "cdl_jobs_submitted_total", NULL);
  track (self, g_steal_pointer (&d->job),
         cdl_schedule_history_delay_ms (0));
  g_clear_pointer (&d->inputs, cdl_job_inputs_free);
  g_clear_pointer (&d->task, task_ctx_unref);

  /* Room for more when max_concurrent_jobs > 1: check the gate again. */
  dispatch_step (d);
}

static void
submit (Dispatch   *d,
        const char *text,
        gint64      seed,
        int         batch_size,
        const char *prompt_id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) graph = NULL;
  Worker *w = worker_of (d->self, d->worker_id);
  CdlGraphPatch patch = {
    .prompt_nodes = d->task->prompt_nodes,
    .positive_text = text,
    .seed_nodes = d->task->seed_nodes,
    .seed = seed,
    .batch_size = batch_size,
    .width = d->task->width,
    .height = d->task->height,
  };

  graph = cdl_graph_patch (d->task->graph, &patch, &error);
  if (graph == NULL)
    {
      if (d->warmup)
        {
          g_warning ("Cannot build the warm-up of task %s: %s", d->task->id, error->message);
          dispatch_free (d);
          return;
        }
      else
        {
          Flight *f = g_new0 (Flight, 1);

          f->self = d->self;
          f->job = g_steal_pointer (&d->job);
          g_hash_table_insert (d->self->flights, f->job->id, f);
          conclude (f, CDL_JOB_OUTCOME_REJECTED, error->message);
          dispatch_free (d);
          return;
        }
    }

  cdl_comfy_jobs_submit_async (d->self->client, w->base_url, w->api_key, graph,
                               d->self->holder, prompt_id, d->self->cancellable,
                               submit_done_cb, d);
}

static void
claim_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Dispatch *d = user_data;
  g_autoptr(GError) error = NULL;
  ClaimOut *out;

  out = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (out == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Cannot claim a job: %s", error->message);
      dispatch_free (d);
      return;
    }

  if (out->job == NULL)
    {
      /* Those few go to whichever worker is free first; keep watching. */
      if (d->ahead && out->deferred)
        {
          d->ahead = FALSE;
          g_timeout_add_once (WATCH_MS, (GSourceOnceFunc) dispatch_step, d);
        }
      else
        {
          dispatch_free (d);
        }
      claim_out_free (out);
      return;
    }

  d->job = g_steal_pointer (&out->job);
  d->inputs = g_steal_pointer (&out->inputs);
  claim_out_free (out);

  if (d->ahead)
    {
      /* Held until the gate opens; look at the queue again now. */
      d->ahead = FALSE;
      g_hash_table_add (d->self->held, g_strdup (d->job->id));
      dispatch_step (d);
      return;
    }

  submit_claimed (d);
}

/* Sends the job in hand, the gate being open. */
static void
submit_claimed (Dispatch *d)
{
  g_hash_table_remove (d->self->held, d->job->id);
  d->task = g_hash_table_lookup (d->self->tasks, d->job->task_id);
  if (d->task == NULL || worker_of (d->self, d->worker_id) == NULL
      || d->inputs->n_images == 0)
    {
      Flight *f = g_new0 (Flight, 1);

      f->self = d->self;
      f->job = g_steal_pointer (&d->job);
      g_hash_table_insert (d->self->flights, f->job->id, f);
      conclude (f, CDL_JOB_OUTCOME_LOST, "The job lost its task or worker");
      dispatch_free (d);
      return;
    }
  task_ctx_ref (d->task);

  /* Seed of the first image: the only seed a native batch sends. */
  submit (d, d->inputs->prompt_text, d->inputs->seed_values[0], d->job->batch_size,
          d->job->comfy_prompt_id);
}

/* The gate's GET /queue also tells which followed jobs of this worker have
 * left its queue: ask their history now instead of after their back-off.
 * Returns whether jobs of this process are still in the queue. */
static gboolean
wake_finished (CdlScheduler  *self,
               const char    *worker_id,
               CdlComfyQueue *queue)
{
  GHashTableIter iter;
  Flight *f;
  gboolean queued = FALSE;

  g_hash_table_iter_init (&iter, self->flights);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &f))
    {
      if (g_strcmp0 (f->job->worker_id, worker_id) != 0)
        continue;

      if (cdl_comfy_queue_contains (queue, f->job->comfy_prompt_id))
        {
          queued = TRUE;
          continue;
        }

      if (f->timeout_id == 0 || f->ingesting)
        continue;

      g_clear_handle_id (&f->timeout_id, g_source_remove);
      f->timeout_id = g_idle_add_once ((GSourceOnceFunc) poll_flight, f);
    }

  return queued;
}

static void
gate_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Dispatch *d = user_data;
  CdlScheduler *self = d->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfyQueue) queue = NULL;
  g_autoptr(GStrvBuilder) b = NULL;
  Worker *w = worker_of (self, d->worker_id);
  gboolean queued;
  gboolean open;
  guint n;

  queue = cdl_comfy_jobs_queue_finish (CDL_COMFY_CLIENT (source), result, &error);
  if (queue == NULL || w == NULL || self->stopping || !w->leased || !w->usable)
    {
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("No queue from worker %s: %s", d->worker_id, error->message);
      dispatch_free (d);
      return;
    }

  queued = wake_finished (self, w->id, queue)
           || (w->warmup_id != NULL && cdl_comfy_queue_contains (queue, w->warmup_id));
  open = cdl_schedule_gate_open (queue->n_pending, queue->n_running, w->max_concurrent);

  /* Full. While our own jobs run there, watch the queue, the next job
   * claimed ahead: it goes out as soon as one ends, not when that one's
   * images are stored. */
  if (!open && !queued)
    {
      dispatch_free (d);
      return;
    }

  /* A prompt pending behind the running one keeps the worker busy when
   * that one ends: the queue need not be read as often, nor a job claimed
   * ahead. */
  if (!open && queue->n_pending > 0)
    {
      g_timeout_add_once (MIN (WATCH_MS * (1 + 2 * queue->n_pending), DEFAULT_TICK_MS),
                          (GSourceOnceFunc) dispatch_step, d);
      return;
    }

  if (d->job != NULL)
    {
      if (!open)
        g_timeout_add_once (WATCH_MS, (GSourceOnceFunc) dispatch_step, d);
      else if (g_ptr_array_find_with_equal_func (self->running_tasks, d->job->task_id,
                                                 g_str_equal, NULL))
        submit_claimed (d);
      else
        dispatch_free (d);  /* paused or cancelled meanwhile: back it goes */
      return;
    }

  /* Round-robin: each dispatch starts one task further along. */
  b = g_strv_builder_new ();
  n = self->running_tasks->len;
  for (guint i = 0; i < n; i++)
    {
      const char *id = g_ptr_array_index (self->running_tasks, (self->rr + i) % n);
      TaskCtx *t = g_hash_table_lookup (self->tasks, id);

      if (t != NULL && task_runs_on (t, w->id))
        {
          if (!g_hash_table_contains (w->warmed, id) && t->first_prompt != NULL)
            {
              if (!open)
                continue;  /* its warm-up waits for the gate */

              /* This task's first work on this worker: warm it up first. */
              d->warmup = TRUE;
              d->task = task_ctx_ref (t);
              self->rr++;
              {
                g_autofree char *warm_id = g_uuid_string_random ();

                submit (d, t->first_prompt, t->first_seed, 1, warm_id);
              }
              return;
            }
          g_strv_builder_add (b, id);
        }
    }
  self->rr++;

  g_strfreev (d->task_ids);
  d->task_ids = g_strv_builder_end (b);
  if (d->task_ids[0] == NULL)
    {
      if (open)
        dispatch_free (d);
      else
        g_timeout_add_once (WATCH_MS, (GSourceOnceFunc) dispatch_step, d);
      return;
    }

  {
    ClaimIn *in = g_new0 (ClaimIn, 1);

    d->ahead = !open;

    in->task_ids = g_strdupv (d->task_ids);
    in->holder = g_strdup (self->holder);
    in->worker_id = g_strdup (d->worker_id);
    if (d->ahead)
      in->min_queued = count_usable_workers (self);
    cdl_db_run_async (self->db, claim_in_thread, in, (GDestroyNotify) claim_in_free,
                      (GDestroyNotify) claim_out_free, self->cancellable,
                      claim_done_cb, d);
  }
}

/* Checks the gate with a live GET /queue, right before a POST /prompt. */
static void
dispatch_step (Dispatch *d)
{
  /* The claim lies between this GET /queue and the POST /prompt, and the
   * worker's lease keeps other instances from filling it meanwhile. */
  Worker *w = worker_of (d->self, d->worker_id);

  if (w == NULL || d->self->stopping || !w->leased || !w->usable
      || d->self->running_tasks->len == 0 || g_get_monotonic_time () < w->cool_until_us)
    {
      dispatch_free (d);
      return;
    }

  cdl_comfy_jobs_queue_async (d->self->client, w->base_url, w->api_key,
                              d->self->cancellable, gate_done_cb, d);
}

static void
dispatch_worker (CdlScheduler *self,
                 Worker       *worker)
{
  Dispatch *d = g_new0 (Dispatch, 1);

  d->self = g_object_ref (self);
  d->worker_id = g_strdup (worker->id);
  d->task_ids = g_new0 (char *, 1);
  worker->dispatching = TRUE;
  dispatch_step (d);
}

static gpointer
unclaim_in_thread (PGconn        *conn,
                   gpointer       data,
                   GCancellable  *cancellable,
                   GError       **error)
{
  char **job_and_holder = data;

  if (!cdl_job_repo_unclaim (conn, job_and_holder[0], job_and_holder[1], error)
      && error != NULL && *error != NULL)
    return NULL;

  return GINT_TO_POINTER (TRUE);
}

/* Puts a job that was claimed ahead, and never sent, back in the queue. */
static void
unclaim (CdlScheduler *self,
         const char   *job_id)
{
  char **job_and_holder = g_new0 (char *, 3);

  g_debug ("Job %s goes back to the queue unsent", job_id);
  job_and_holder[0] = g_strdup (job_id);
  job_and_holder[1] = g_strdup (self->holder);
  cdl_db_run_async (self->db, unclaim_in_thread, job_and_holder, (GDestroyNotify) g_strfreev,
                    NULL, NULL, NULL, NULL);
}

/* Dispatches to @worker now, or once the dispatch under way ends (that one
 * may have found nothing to claim before a retry was queued). */
static void
refill (CdlScheduler *self,
        Worker       *worker)
{
  if (worker == NULL || self->stopping || !worker->leased || !worker->usable
      || self->running_tasks->len == 0)
    return;

  if (worker->dispatching)
    worker->dispatch_again = TRUE;
  else
    dispatch_worker (self, worker);
}

/* Following a job ----------------------------------------------------------- */

typedef struct
{
  CdlJob        *job;
  CdlJobOutcome  outcome;
  char          *error_text;
} ConcludeIn;

static void
conclude_in_free (ConcludeIn *in)
{
  cdl_job_free (in->job);
  g_free (in->error_text);
  g_free (in);
}

static gpointer
conclude_in_thread (PGconn        *conn,
                    gpointer       data,
                    GCancellable  *cancellable,
                    GError       **error)
{
  ConcludeIn *in = data;
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { in->job->task_id };
  const char *state;
  gboolean cancelled;

  res = cdl_pq_exec (conn, "SELECT state FROM tasks WHERE id = $1", 1, params, error);
  if (res == NULL)
    return NULL;
  cancelled = PQntuples (res) == 0
              || g_strcmp0 (cdl_pq_get_string (res, 0, 0), "CANCELLED") == 0;

  if (cancelled)
    state = CDL_JOB_CANCELLED;
  else if (in->outcome == CDL_JOB_OUTCOME_SUCCESS)
    state = CDL_JOB_DONE;
  else if (in->outcome == CDL_JOB_OUTCOME_PARTIAL)
    state = CDL_JOB_PARTIAL_FAILED;
  else
    state = CDL_JOB_FAILED;

  /* A native batch that ran out of memory comes back as the batch_size=1
   * loop over its seeds: the same graph, only the batch input lower. */
  if (!cancelled && in->outcome == CDL_JOB_OUTCOME_OOM
      && in->job->native_batch && in->job->batch_size > 1
      && cdl_schedule_should_retry (in->job->attempt, in->outcome))
    {
      gint64 queued = cdl_job_repo_retry_singly (conn, in->job->id, state, in->error_text,
                                                 error);

      if (queued < 0)
        return NULL;
      g_message ("Job %s ran out of memory with a batch of %d; its seeds go one by one"
                 " (%" G_GINT64_FORMAT " jobs)", in->job->id, in->job->batch_size, queued);
      cdl_metrics_inc (cdl_metrics_get_default (), "cdl_jobs_retried_total", NULL);
      return GINT_TO_POINTER (TRUE);
    }

  if (!cancelled && in->outcome != CDL_JOB_OUTCOME_SUCCESS
      && cdl_schedule_should_retry (in->job->attempt, in->outcome))
    {
      g_autoptr(CdlJob) next = cdl_job_repo_retry (conn, in->job->id, state,
                                                   in->error_text, error);
      if (next == NULL)
        return NULL;
      g_debug ("Job %s ended %s; attempt %d is job %s", in->job->id,
               cdl_job_outcome_to_string (in->outcome), next->attempt, next->id);
      cdl_metrics_inc (cdl_metrics_get_default (), "cdl_jobs_retried_total", NULL);
      return GINT_TO_POINTER (TRUE);
    }

  if (!cdl_job_repo_finish (conn, in->job->id, state, in->error_text, error)
      && error != NULL && *error != NULL)
    return NULL;

  if (g_strcmp0 (state, CDL_JOB_DONE) == 0)
    cdl_metrics_inc (cdl_metrics_get_default (), "cdl_jobs_succeeded_total", NULL);
  else if (g_strcmp0 (state, CDL_JOB_CANCELLED) != 0)
    cdl_metrics_inc (cdl_metrics_get_default (), "cdl_jobs_failed_total", NULL);

  return GINT_TO_POINTER (TRUE);
}

static void
free_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autofree char *worker_id = user_data;
  g_autoptr(GError) error = NULL;

  if (!cdl_comfy_jobs_free_finish (CDL_COMFY_CLIENT (source), result, &error))
    g_debug ("POST /free to worker %s failed: %s", worker_id, error->message);
}

static void
conclude_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Flight *f = user_data;
  CdlScheduler *self = f->self;
  g_autoptr(GError) error = NULL;
  Worker *w;

  if (cdl_db_run_finish (CDL_DB (source), result, &error) == NULL
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    /* The claim lapses and recovery takes the job up again. */
    g_warning ("Cannot record the end of job %s: %s", f->job->id, error->message);

  w = worker_of (self, f->job->worker_id);
  g_hash_table_remove (self->flights, f->job->id);

  if (w != NULL && !self->stopping)
    {
      w->finished_jobs++;
      /* FAQ 8: free the worker's memory every N jobs it finished. */
      if (self->free_every_n > 0 && w->finished_jobs % self->free_every_n == 0)
        cdl_comfy_jobs_free_async (self->client, w->base_url, w->api_key,
                                   self->cancellable, free_done_cb, g_strdup (w->id));
      refill (self, w);
    }

  /* The last job out: end its task now rather than on the next tick. */
  if (g_hash_table_size (self->flights) == 0 && self->running && !self->stopping)
    tick_cb (self);

  g_object_unref (self);
}

static void
note_outcome (CdlScheduler  *self,
              const char    *worker_id,
              CdlJobOutcome  outcome)
{
  Worker *w = worker_of (self, worker_id);

  if (w == NULL)
    return;

  if (outcome == CDL_JOB_OUTCOME_SUCCESS)
    {
      w->errors_in_row = 0;
      w->cooldowns = 0;
      return;
    }

  if (outcome != CDL_JOB_OUTCOME_ERROR && outcome != CDL_JOB_OUTCOME_PARTIAL
      && outcome != CDL_JOB_OUTCOME_REJECTED)
    return;

  if (++w->errors_in_row >= ERRORS_BEFORE_COOLDOWN)
    {
      gint64 pause = COOLDOWN_US << MIN (w->cooldowns, 4);

      g_warning ("Jobs failed %u times in a row on worker %s; no new jobs for it for %"
                 G_GINT64_FORMAT " s", w->errors_in_row, w->id, pause / G_USEC_PER_SEC);
      w->cool_until_us = g_get_monotonic_time () + pause;
      w->cooldowns++;
      w->errors_in_row = 0;
    }
}

static void
conclude (Flight        *f,
          CdlJobOutcome  outcome,
          const char    *error_text)
{
  ConcludeIn *in = g_new0 (ConcludeIn, 1);

  g_debug ("Job %s: %s", f->job->id, cdl_job_outcome_to_string (outcome));
  note_outcome (f->self, f->job->worker_id, outcome);
  in->job = cdl_job_copy (f->job);
  in->outcome = outcome;
  in->error_text = g_strdup (error_text);
  g_object_ref (f->self);
  cdl_db_run_async (f->self->db, conclude_in_thread, in, (GDestroyNotify) conclude_in_free,
                    NULL, NULL, conclude_done_cb, f);
}

static void
poll_later (Flight *f,
            guint   delay_ms)
{
  g_clear_handle_id (&f->timeout_id, g_source_remove);
  if (f->self->stopping)
    return;
  f->timeout_id = g_timeout_add_once (delay_ms, (GSourceOnceFunc) poll_flight, f);
}

/* A poll that could not reach the worker. */
static void
poll_failed (Flight       *f,
             const GError *error)
{
  Worker *w = worker_of (f->self, f->job->worker_id);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  f->unreachable++;
  g_debug ("Cannot follow job %s: %s", f->job->id, error->message);
  if ((w == NULL || !w->usable) && f->unreachable >= UNREACHABLE_LIMIT)
    {
      conclude (f, CDL_JOB_OUTCOME_LOST, "The worker went away with the job");
      return;
    }

  poll_later (f, cdl_schedule_history_delay_ms (MIN (f->unreachable, 4)));
}

static void
queue_check_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Flight *f = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfyQueue) queue = NULL;

  queue = cdl_comfy_jobs_queue_finish (CDL_COMFY_CLIENT (source), result, &error);
  if (queue == NULL)
    {
      poll_failed (f, error);
      return;
    }

  f->unreachable = 0;
  if (cdl_comfy_queue_contains (queue, f->job->comfy_prompt_id))
    {
      /* Alive: ask the history again, a little later each time. */
      f->absent = 0;
      poll_later (f, cdl_schedule_history_delay_ms (f->poll_attempt++));
      return;
    }

  /* Neither queued nor in history: it may have ended between the two
   * calls (FAQ 1), so look once more before calling it lost. */
  if (++f->absent >= ABSENT_LIMIT)
    {
      conclude (f, CDL_JOB_OUTCOME_LOST, "The worker has no trace of the job");
      return;
    }
  poll_later (f, cdl_schedule_history_delay_ms (0));
}

typedef struct
{
  CdlJob       *job;
  gboolean      need_task;
} InputsIn;

typedef struct
{
  CdlJobInputs *inputs;
  TaskCtx      *task;
} InputsOut;

static void
inputs_in_free (InputsIn *in)
{
  cdl_job_free (in->job);
  g_free (in);
}

static void
inputs_out_free (InputsOut *out)
{
  g_clear_pointer (&out->inputs, cdl_job_inputs_free);
  g_clear_pointer (&out->task, task_ctx_unref);
  g_free (out);
}

static gpointer
inputs_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  InputsIn *in = data;
  InputsOut *out = g_new0 (InputsOut, 1);

  out->inputs = cdl_job_repo_get_inputs (conn, in->job, error);
  if (out->inputs == NULL)
    goto fail;

  if (in->need_task)
    {
      out->task = load_task_ctx (conn, in->job->task_id, error);
      if (out->task == NULL)
        goto fail;
    }

  return out;

fail:
  inputs_out_free (out);
  return NULL;
}

static void
finish_ingest (Flight *f)
{
  guint expected = f->inputs->n_images;
  guint have = f->stored;

  for (guint i = 0; i < expected; i++)
    if (f->inputs->filled[i])
      have++;

  f->ingesting = FALSE;
  f->self->ingesting--;

  if (have >= expected)
    {
      conclude (f, CDL_JOB_OUTCOME_SUCCESS, NULL);
    }
  else
    {
      g_autofree char *text = g_strdup_printf ("%u of %u images came back", have, expected);

      conclude (f, CDL_JOB_OUTCOME_PARTIAL, text);
    }
}

static void
inputs_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Flight *f = user_data;
  g_autoptr(GError) error = NULL;
  InputsOut *out;

  out = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (out == NULL)
    {
      f->ingesting = FALSE;
      f->self->ingesting--;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_warning ("Cannot read the seeds of job %s: %s", f->job->id, error->message);
      poll_later (f, cdl_schedule_history_delay_ms (2));
      return;
    }

  f->inputs = g_steal_pointer (&out->inputs);
  if (out->task != NULL)
    {
      g_hash_table_replace (f->self->tasks, out->task->id, task_ctx_ref (out->task));
      f->task = g_steal_pointer (&out->task);
    }
  else
    {
      f->task = task_ctx_ref (g_hash_table_lookup (f->self->tasks, f->job->task_id));
    }
  inputs_out_free (out);

  /* A cancelled task's results are discarded (FAQ 7). */
  if (g_strcmp0 (f->inputs->task_state, "CANCELLED") == 0)
    {
      f->ingesting = FALSE;
      f->self->ingesting--;
      conclude (f, CDL_JOB_OUTCOME_INTERRUPTED, "The task was cancelled");
      return;
    }

  f->outputs = g_ptr_array_new ();
  for (guint i = 0; i < f->history->outputs->len; i++)
    {
      CdlComfyOutput *o = g_ptr_array_index (f->history->outputs, i);

      if (g_strcmp0 (o->type, "output") == 0)
        g_ptr_array_add (f->outputs, o);
    }

  f->index = 0;
  ingest_next (f);
}

static void
oom_freed_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Flight *f = user_data;
  g_autoptr(GError) error = NULL;

  if (!cdl_comfy_jobs_free_finish (CDL_COMFY_CLIENT (source), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_warning ("Cannot free the memory of worker %s after job %s ran out of it: %s",
                 f->job->worker_id, f->job->id, error->message);
    }

  conclude (f, CDL_JOB_OUTCOME_OOM,
            f->history->error_message ? f->history->error_message : "Out of memory");
}

static void
history_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Flight *f = user_data;
  CdlScheduler *self = f->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfyHistory) history = NULL;
  Worker *w = worker_of (self, f->job->worker_id);

  history = cdl_comfy_jobs_history_finish (CDL_COMFY_CLIENT (source), result, &error);
  if (history == NULL)
    {
      poll_failed (f, error);
      return;
    }

  f->unreachable = 0;
  switch (history->status)
    {
    case CDL_COMFY_JOB_PENDING:
      cdl_comfy_jobs_queue_async (self->client, w->base_url, w->api_key, self->cancellable,
                                  queue_check_cb, f);
      return;

    case CDL_COMFY_JOB_ERROR:
      if (history->is_oom)
        {
          /* Let the worker give its memory back before the retry. */
          f->history = g_steal_pointer (&history);
          cdl_comfy_jobs_free_async (self->client, w->base_url, w->api_key,
                                     self->cancellable, oom_freed_cb, f);
          return;
        }
      conclude (f, CDL_JOB_OUTCOME_ERROR,
                history->error_message ? history->error_message : "execution_error");
      return;

    case CDL_COMFY_JOB_INTERRUPTED:
      conclude (f, CDL_JOB_OUTCOME_INTERRUPTED, "The job was interrupted");
      return;

    case CDL_COMFY_JOB_SUCCESS:
    default:
      break;
    }

  {
    InputsIn *in = g_new0 (InputsIn, 1);

    f->history = g_steal_pointer (&history);
    f->ingesting = TRUE;
    self->ingesting++;
    in->job = cdl_job_copy (f->job);
    in->need_task = !g_hash_table_contains (self->tasks, f->job->task_id);
    cdl_db_run_async (self->db, inputs_in_thread, in, (GDestroyNotify) inputs_in_free,
                      (GDestroyNotify) inputs_out_free, self->cancellable,
                      inputs_done_cb, f);
  }
}

static void
poll_flight (Flight *f)
{
  CdlScheduler *self = f->self;
  Worker *w = worker_of (self, f->job->worker_id);

  f->timeout_id = 0;
  if (self->stopping)
    return;

  if (w == NULL)
    {
      /* A worker this process has not listed yet: wait for a tick. */
      if (f->job->worker_id == NULL || ++f->unreachable > 20)
        conclude (f, CDL_JOB_OUTCOME_LOST, "The job has no known worker");
      else
        poll_later (f, DEFAULT_TICK_MS);
      return;
    }

  cdl_comfy_jobs_history_async (self->client, w->base_url, w->api_key,
                                f->job->comfy_prompt_id, self->cancellable,
                                history_done_cb, f);
}

/* Ingestion: /view → store → thumbnail → store → generations ---------------- */

typedef struct
{
  CdlGenerationInput  input;
  char               *task_id;
  char               *prompt_id;
  char               *seed_id;
  char               *job_id;
  char               *worker_id;
  char               *image_uri;
  char               *thumb_uri;
  char               *checksum;
  JsonNode           *metadata;
  gboolean            notify;
} InsertIn;

static void
insert_in_free (InsertIn *in)
{
  g_free (in->task_id);
  g_free (in->prompt_id);
  g_free (in->seed_id);
  g_free (in->job_id);
  g_free (in->worker_id);
  g_free (in->image_uri);
  g_free (in->thumb_uri);
  g_free (in->checksum);
  g_clear_pointer (&in->metadata, json_node_unref);
  g_free (in);
}

static gpointer
insert_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  InsertIn *in = data;
  g_autofree char *id = NULL;
  gboolean inserted = FALSE;

  in->input.task_id = in->task_id;
  in->input.prompt_id = in->prompt_id;
  in->input.seed_id = in->seed_id;
  in->input.job_id = in->job_id;
  in->input.worker_id = in->worker_id;
  in->input.image_uri = in->image_uri;
  in->input.thumb_uri = in->thumb_uri;
  in->input.checksum = in->checksum;
  in->input.metadata = in->metadata;

  id = cdl_generation_repo_insert (conn, &in->input, &inserted, error);
  if (id == NULL && error != NULL && *error != NULL)
    return NULL;

  if (in->notify)
    {
      const char *params[2] = { CDL_PROGRESS_CHANNEL, in->task_id };

      cdl_pq_command (conn, "SELECT pg_notify ($1, $2)", 2, params, NULL);
    }

  return GINT_TO_POINTER (inserted ? 2 : 1);
}

static void
image_failed (Flight       *f,
              const char   *what,
              const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      f->ingesting = FALSE;
      f->self->ingesting--;
      return;
    }

  /* The image counts as missing: the job ends partial and is retried. */
  g_warning ("Cannot %s image %u of job %s: %s", what, f->index, f->job->id,
             error->message);
  g_clear_pointer (&f->image, cdl_stored_image_free);
  f->index++;
  ingest_next (f);
}

static void
insert_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Flight *f = user_data;
  g_autoptr(GError) error = NULL;
  gpointer ret;

  ret = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (ret == NULL)
    {
      image_failed (f, "record", error);
      return;
    }

  /* A slot that was taken meanwhile also has its image. */
  f->stored++;
  g_clear_pointer (&f->image, cdl_stored_image_free);
  f->index++;
  ingest_next (f);
}

static void
stored_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Flight *f = user_data;
  CdlScheduler *self = f->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  InsertIn *in;
  gboolean native = f->job->native_batch;
  guint i = f->index;
  gint64 now = g_get_monotonic_time ();

  f->image = cdl_job_runner_store_finish (CDL_COMFY_CLIENT (source), result, &error);
  if (f->image == NULL)
    {
      image_failed (f, "fetch and store", error);
      return;
    }

  in = g_new0 (InsertIn, 1);
  in->task_id = g_strdup (f->job->task_id);
  in->prompt_id = g_strdup (f->job->prompt_id);
  in->seed_id = g_strdup (f->inputs->seed_ids[native ? i : 0]);
  in->job_id = g_strdup (f->job->id);
  in->worker_id = g_strdup (f->job->worker_id);
  in->image_uri = g_strdup (f->image->key);
  in->thumb_uri = g_strdup (f->image->thumb_key);
  in->checksum = g_strdup (f->image->sha256);
  in->input.seed_value = f->inputs->seed_values[0];
  in->input.batch_index = native ? (int) i : 0;
  in->input.bytes = f->image->size;
  in->input.width = (int) f->image->width;
  in->input.height = (int) f->image->height;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "workflow_id");
  json_builder_add_string_value (b, f->task->workflow_id);
  json_builder_set_member_name (b, "workflow_version");
  json_builder_add_int_value (b, f->task->workflow_version);
  json_builder_set_member_name (b, "model");
  if (f->task->model != NULL)
    json_builder_add_string_value (b, f->task->model);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, in->input.width);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, in->input.height);
  json_builder_set_member_name (b, "seed");
  json_builder_add_int_value (b, in->input.seed_value);
  json_builder_set_member_name (b, "batch_index");
  json_builder_add_int_value (b, in->input.batch_index);
  json_builder_set_member_name (b, "worker_id");
  json_builder_add_string_value (b, f->job->worker_id);
  json_builder_end_object (b);
  in->metadata = json_builder_get_root (b);

  /* At most two notifications a second per task. */
  if (now - f->task->last_notify_us >= NOTIFY_INTERVAL_US)
    {
      in->notify = TRUE;
      f->task->last_notify_us = now;
    }

  cdl_db_run_async (self->db, insert_in_thread, in, (GDestroyNotify) insert_in_free,
                    NULL, NULL, insert_done_cb, f);
}

static void
ingest_next (Flight *f)
{
  CdlScheduler *self = f->self;
  Worker *w = worker_of (self, f->job->worker_id);
  guint expected = f->inputs->n_images;
  g_autoptr(GDateTime) now = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  g_autofree char *thumb_key = NULL;
  CdlJobTarget target = { NULL, NULL, 0 };

  /* Image i of the outputs (batch order) belongs to seed i. */
  while (f->index < expected && f->index < f->outputs->len && f->inputs->filled[f->index])
    f->index++;

  if (f->index >= expected || f->index >= f->outputs->len || w == NULL)
    {
      finish_ingest (f);
      return;
    }

  now = g_date_time_new_now_utc ();
  key = cdl_storage_key_for_image (f->job->task_id, f->job->prompt_id,
                                   (guint64) f->inputs->seed_values[0],
                                   f->job->native_batch ? f->index : 0, now, &error);
  if (key != NULL)
    thumb_key = cdl_storage_key_thumbnail_for_image (key, &error);
  if (thumb_key == NULL)
    {
      image_failed (f, "name", error);
      return;
    }

  target.base_url = w->base_url;
  target.api_key = w->api_key;
  cdl_job_runner_store_async (self->client, &target, g_ptr_array_index (f->outputs, f->index),
                              self->store, self->thumbnailer, key, thumb_key,
                              self->cancellable, stored_cb, f);
}

/* GObject ------------------------------------------------------------------- */

static void
cdl_scheduler_dispose (GObject *object)
{
  CdlScheduler *self = (CdlScheduler *) object;

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_object (&self->db);
  g_clear_object (&self->client);
  g_clear_object (&self->store);
  g_clear_object (&self->thumbnailer);

  G_OBJECT_CLASS (cdl_scheduler_parent_class)->dispose (object);
}

static void
cdl_scheduler_finalize (GObject *object)
{
  CdlScheduler *self = (CdlScheduler *) object;

  g_clear_pointer (&self->flights, g_hash_table_unref);
  g_clear_pointer (&self->held, g_hash_table_unref);
  g_clear_pointer (&self->workers, g_hash_table_unref);
  g_clear_pointer (&self->tasks, g_hash_table_unref);
  g_clear_pointer (&self->running_tasks, g_ptr_array_unref);
  g_clear_object (&self->cancellable);
  g_free (self->holder);

  G_OBJECT_CLASS (cdl_scheduler_parent_class)->finalize (object);
}

static void
cdl_scheduler_class_init (CdlSchedulerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_scheduler_dispose;
  object_class->finalize = cdl_scheduler_finalize;
}

static void
cdl_scheduler_init (CdlScheduler *self)
{
  g_autofree char *random = g_uuid_string_random ();

  self->tick_ms = DEFAULT_TICK_MS;
  self->free_every_n = 0;
  self->cancellable = g_cancellable_new ();
  self->holder = g_strdup_printf ("%s:%d:%.8s", g_get_host_name (), (int) getpid (), random);
  self->workers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) worker_free);
  self->tasks = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) task_ctx_unref);
  self->flights = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) flight_free);
  self->running_tasks = g_ptr_array_new_with_free_func (g_free);
  self->held = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

CdlScheduler *
cdl_scheduler_new (CdlDb           *db,
                   CdlComfyClient  *client,
                   CdlObjectStore  *store,
                   CdlThumbnailer  *thumbnailer,
                   CdlApiKeyFunc    api_key_func,
                   gpointer         api_key_data)
{
  CdlScheduler *self;

  g_return_val_if_fail (CDL_IS_DB (db), NULL);
  g_return_val_if_fail (CDL_IS_COMFY_CLIENT (client), NULL);
  g_return_val_if_fail (CDL_IS_OBJECT_STORE (store), NULL);
  g_return_val_if_fail (CDL_IS_THUMBNAILER (thumbnailer), NULL);

  self = g_object_new (CDL_TYPE_SCHEDULER, NULL);
  self->db = g_object_ref (db);
  self->client = g_object_ref (client);
  self->store = g_object_ref (store);
  self->thumbnailer = g_object_ref (thumbnailer);
  self->api_key_func = api_key_func;
  self->api_key_data = api_key_data;

  return self;
}

const char *
cdl_scheduler_get_holder (CdlScheduler *self)
{
  g_return_val_if_fail (CDL_IS_SCHEDULER (self), NULL);

  return self->holder;
}

void
cdl_scheduler_set_tick_ms (CdlScheduler *self,
                           guint         tick_ms)
{
  g_return_if_fail (CDL_IS_SCHEDULER (self));

  self->tick_ms = tick_ms > 0 ? tick_ms : DEFAULT_TICK_MS;
}

void
cdl_scheduler_start (CdlScheduler *self)
{
  g_return_if_fail (CDL_IS_SCHEDULER (self));

  if (self->running)
    return;

  self->running = TRUE;
  self->stopping = FALSE;
  g_message ("Orchestrator %s started", self->holder);
  self->tick_id = g_timeout_add (self->tick_ms, tick_cb, self);
  tick_cb (self);
}

void
cdl_scheduler_kick (CdlScheduler *self)
{
  g_return_if_fail (CDL_IS_SCHEDULER (self));

  if (self->running && !self->stopping)
    tick_cb (self);
}

gboolean
cdl_scheduler_is_running (CdlScheduler *self)
{
  g_return_val_if_fail (CDL_IS_SCHEDULER (self), FALSE);

  return self->running && !self->stopping;
}

static void
interrupt_done_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autofree char *job_id = user_data;
  g_autoptr(GError) error = NULL;

  if (!cdl_comfy_jobs_interrupt_finish (CDL_COMFY_CLIENT (source), result, &error))
    g_debug ("Cannot interrupt job %s: %s", job_id, error->message);
}

void
cdl_scheduler_interrupt (CdlScheduler *self,
                         GPtrArray    *jobs)
{
  g_return_if_fail (CDL_IS_SCHEDULER (self));

  for (guint i = 0; jobs != NULL && i < jobs->len; i++)
    {
      CdlJob *job = g_ptr_array_index (jobs, i);
      Worker *w = worker_of (self, job->worker_id);

      if (w == NULL || job->comfy_prompt_id == NULL)
        continue;

      g_debug ("Interrupting job %s on worker %s", job->id, w->id);
      cdl_comfy_jobs_interrupt_async (self->client, w->base_url, w->api_key,
                                      job->comfy_prompt_id, NULL, interrupt_done_cb,
                                      g_strdup (job->id));
    }
}

static gpointer
release_in_thread (PGconn        *conn,
                   gpointer       data,
                   GCancellable  *cancellable,
                   GError       **error)
{
  const char *holder = data;

  if (!cdl_job_repo_release_claims (conn, holder, error)
      || !cdl_lease_repo_release (conn, NULL, holder, error))
    return NULL;

  return GINT_TO_POINTER (TRUE);
}

void
cdl_scheduler_stop (CdlScheduler *self,
                    guint         drain_ms)
{
  g_autoptr(GError) error = NULL;
  gint64 deadline;

  g_return_if_fail (CDL_IS_SCHEDULER (self));

  if (!self->running)
    return;

  self->stopping = TRUE;
  g_clear_handle_id (&self->tick_id, g_source_remove);

  /* Images on their way to storage may land; nothing new starts. */
  deadline = g_get_monotonic_time () + (gint64) drain_ms * 1000;
  while (self->ingesting > 0 && g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }

  g_cancellable_cancel (self->cancellable);
  while (g_main_context_iteration (NULL, FALSE))
    ;

  /* Jobs claimed ahead were never sent: they go back to the queue rather
   * than to recovery, which would count a retry for them. */
  {
    GHashTableIter iter;
    gpointer job_id;

    g_hash_table_iter_init (&iter, self->held);
    while (g_hash_table_iter_next (&iter, &job_id, NULL))
      {
        char *job_and_holder[3] = { job_id, self->holder, NULL };
        g_autoptr(GError) local_error = NULL;

        if (cdl_db_run_sync (self->db, unclaim_in_thread, job_and_holder, NULL,
                             &local_error) == NULL)
          g_debug ("Cannot put job %s back: %s", (char *) job_id, local_error->message);
        g_hash_table_iter_remove (&iter);
      }
  }

  if (cdl_db_run_sync (self->db, release_in_thread, self->holder, NULL, &error) == NULL)
    g_warning ("Cannot hand the jobs of %s over: %s", self->holder, error->message);

  self->running = FALSE;
  g_message ("Orchestrator %s stopped; %u jobs left to recovery", self->holder,
             g_hash_table_size (self->flights));
}
