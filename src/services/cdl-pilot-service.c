/* cdl-pilot-service.c
 *
 * Everything here runs on the main loop, except the functions named
 * *_in_thread, which cdl_db_run_async() runs with a pooled connection.
 *
 * The per-user rate limit lives in the pilot_requests table: one row per
 * user, moved forward by a conditional upsert, so that two instances (or
 * two requests racing) cannot both start a pilot inside the limit.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-engine"

#include "config.h"

#include "core/cdl-json.h"
#include "core/cdl-schedule.h"
#include "core/cdl-workflow.h"
#include "db/cdl-pq.h"
#include "db/cdl-settings-repo.h"
#include "db/cdl-worker-repo.h"
#include "db/cdl-workflow-repo.h"
#include "engine/cdl-pilot.h"
#include "services/cdl-pilot-service.h"
#include "services/cdl-service-error.h"

/* Seeds are drawn in [0, 2^53), like the task's own. */
#define SEED_LIMIT (G_GINT64_CONSTANT (1) << 53)

struct _CdlPilotService
{
  GObject               parent_instance;

  CdlDb                *db;
  CdlWorkerService     *workers;
  CdlComfyClient       *client;
  CdlObjectStore       *store;
  CdlAnnotationService *media;
  CdlThumbnailer       *thumbnailer;
  CdlApiKeyFunc         api_key_func;
  gpointer              api_key_data;
  guint                 timeout_s;
};

G_DEFINE_FINAL_TYPE (CdlPilotService, cdl_pilot_service, G_TYPE_OBJECT)

static void
cdl_pilot_service_dispose (GObject *object)
{
  CdlPilotService *self = (CdlPilotService *) object;

  g_clear_object (&self->db);
  g_clear_object (&self->workers);
  g_clear_object (&self->client);
  g_clear_object (&self->store);
  g_clear_object (&self->media);
  g_clear_object (&self->thumbnailer);

  G_OBJECT_CLASS (cdl_pilot_service_parent_class)->dispose (object);
}

static void
cdl_pilot_service_class_init (CdlPilotServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cdl_pilot_service_dispose;
}

static void
cdl_pilot_service_init (CdlPilotService *self)
{
  self->timeout_s = CDL_PILOT_TIMEOUT_SECONDS;
}

CdlPilotService *
cdl_pilot_service_new (CdlDb                *db,
                       CdlWorkerService     *workers,
                       CdlComfyClient       *client,
                       CdlObjectStore       *store,
                       CdlAnnotationService *media,
                       CdlApiKeyFunc         api_key_func,
                       gpointer              api_key_data)
{
  CdlPilotService *self;

  g_return_val_if_fail (CDL_IS_DB (db), NULL);
  g_return_val_if_fail (CDL_IS_WORKER_SERVICE (workers), NULL);
  g_return_val_if_fail (CDL_IS_COMFY_CLIENT (client), NULL);
  g_return_val_if_fail (CDL_IS_OBJECT_STORE (store), NULL);
  g_return_val_if_fail (media == NULL || CDL_IS_ANNOTATION_SERVICE (media), NULL);

  self = g_object_new (CDL_TYPE_PILOT_SERVICE, NULL);
  self->db = g_object_ref (db);
  self->workers = g_object_ref (workers);
  self->client = g_object_ref (client);
  self->store = g_object_ref (store);
  self->media = media ? g_object_ref (media) : NULL;
  self->thumbnailer = cdl_thumbnailer_new (0);
  self->api_key_func = api_key_func;
  self->api_key_data = api_key_data;

  return self;
}

void
cdl_pilot_service_set_timeout (CdlPilotService *self,
                               guint            seconds)
{
  g_return_if_fail (CDL_IS_PILOT_SERVICE (self));

  self->timeout_s = MAX (seconds, 1);
}

/* Getting ready: checks, rate limit, the plan ------------------------------ */

typedef struct
{
  CdlPilotService *self;
  char            *task_id;
  char            *user_id;
} PrepareIn;

static void
prepare_in_free (PrepareIn *in)
{
  g_free (in->task_id);
  g_free (in->user_id);
  g_free (in);
}

static gboolean
not_found (const char  *task_id,
           GError     **error)
{
  g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND,
               "No task with id %s", task_id);
  return FALSE;
}

/* The workflow as the freeze records it: the snapshot of a frozen task,
 * the stored workflow of a draft. */
static JsonNode *
workflow_of (PGconn      *conn,
             PGresult    *task,
             GError     **error)
{
  g_autoptr(CdlWorkflow) workflow = NULL;
  const char *snapshot = cdl_pq_get_string (task, 0, 2);

  if (snapshot != NULL)
    return cdl_json_parse (snapshot, -1, error);

  workflow = cdl_workflow_repo_get (conn, cdl_pq_get_string (task, 0, 3), error);
  if (workflow == NULL)
    return NULL;
  return cdl_workflow_to_json (workflow, TRUE);
}

/* Up to CDL_PILOT_SAMPLES seeds: the prompt's own first, then distinct
 * ones drawn from the task's rng seed, so that a pilot run twice sends
 * the same seeds. */
static GArray *
pilot_seeds (PGconn      *conn,
             const char  *prompt_id,
             gint64       rng_seed,
             GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  const char *params[2] = { prompt_id, G_STRINGIFY (CDL_PILOT_SAMPLES) };
  GArray *seeds = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint32 key[3];
  GRand *rand;

  res = cdl_pq_exec (conn,
                     "SELECT seed_value FROM seeds WHERE prompt_id = $1"
                     " ORDER BY position LIMIT $2::integer",
                     2, params, error);
  if (res == NULL)
    {
      g_array_unref (seeds);
      return NULL;
    }

  for (int i = 0; i < PQntuples (res); i++)
    {
      gint64 seed = cdl_pq_get_int64 (res, i, 0);

      g_array_append_val (seeds, seed);
      g_hash_table_add (seen, g_memdup2 (&seed, sizeof seed));
    }

  /* A stream of its own: the task's rng seed and a tag for the pilot. */
  key[0] = (guint32) ((guint64) rng_seed >> 32);
  key[1] = (guint32) rng_seed;
  key[2] = 0x70696c74;
  rand = g_rand_new_with_seed_array (key, G_N_ELEMENTS (key));
  while (seeds->len < CDL_PILOT_SAMPLES)
    {
      gint64 seed = (gint64) ((((guint64) g_rand_int (rand) << 32) | g_rand_int (rand))
                              % (guint64) SEED_LIMIT);

      if (g_hash_table_contains (seen, &seed))
        continue;
      g_array_append_val (seeds, seed);
      g_hash_table_add (seen, g_memdup2 (&seed, sizeof seed));
    }
  g_rand_free (rand);

  return seeds;
}

static gboolean
take_rate_limit (PGconn       *conn,
                 const char   *user_id,
                 int           seconds,
                 GError      **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *limit = g_strdup_printf ("%d", seconds);
  const char *params[2] = { user_id, limit };

  res = cdl_pq_exec (conn,
                     "INSERT INTO pilot_requests AS r (user_id, last_at)"
                     " VALUES ($1, clock_timestamp ())"
                     " ON CONFLICT (user_id) DO UPDATE SET last_at = clock_timestamp ()"
                     "  WHERE r.last_at <= clock_timestamp ()"
                     "        - make_interval (secs => $2::integer)"
                     " RETURNING 1",
                     2, params, error);
  if (res == NULL)
    return FALSE;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_RATE_LIMITED,
                   "Only one pilot per %d seconds is allowed; try again shortly", seconds);
      return FALSE;
    }

  return TRUE;
}

static gpointer
prepare_in_thread (PGconn        *conn,
                   gpointer       data,
                   GCancellable  *cancellable,
                   GError       **error)
{
  PrepareIn *in = data;
  g_autoptr(PGresult) task = NULL;
  g_autoptr(PGresult) prompt = NULL;
  g_autoptr(CdlSettings) settings = NULL;
  g_autoptr(GPtrArray) workers = NULL;
  g_autoptr(JsonNode) workflow = NULL;
  g_autoptr(CdlPilotPlan) plan = NULL;
  g_auto(GStrv) runnable = NULL;
  const char *params[1] = { in->task_id };
  const char *state;
  JsonObject *wf;
  JsonNode *member;
  CdlWorker *worker;

  if (!g_uuid_string_is_valid (in->task_id))
    {
      not_found (in->task_id, error);
      return NULL;
    }

  if (!cdl_pq_begin (conn, error))
    return NULL;

  task = cdl_pq_exec (conn,
                      "SELECT state, rng_seed, (frozen_snapshot -> 'workflow')::text,"
                      "  workflow_id FROM tasks WHERE id = $1 FOR UPDATE",
                      1, params, error);
  if (task == NULL)
    goto out;
  if (PQntuples (task) == 0)
    {
      not_found (in->task_id, error);
      goto out;
    }

  state = cdl_pq_get_string (task, 0, 0);
  if (g_strcmp0 (state, "DRAFT") != 0 && g_strcmp0 (state, "FROZEN") != 0)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT,
                   "Task %s is %s; only a DRAFT or FROZEN task can be piloted",
                   in->task_id, state);
      goto out;
    }

  workflow = workflow_of (conn, task, error);
  if (workflow == NULL)
    goto out;
  wf = json_node_get_object (workflow);
  member = json_object_get_member (wf, "raw_definition");
  if (member == NULL || !JSON_NODE_HOLDS_OBJECT (member))
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT,
                   "The workflow of task %s has no graph to pilot", in->task_id);
      goto out;
    }

  settings = cdl_settings_repo_load (conn, error);
  if (settings == NULL)
    goto out;

  /* The selection rule, among the workers able to run the workflow. */
  workers = cdl_worker_repo_list (conn, error);
  if (workers == NULL)
    goto out;
  member = json_object_get_member (wf, "runnable_worker_ids");
  if (member != NULL && JSON_NODE_HOLDS_ARRAY (member)
      && json_array_get_length (json_node_get_array (member)) > 0)
    {
      JsonArray *ids = json_node_get_array (member);
      GStrvBuilder *b = g_strv_builder_new ();

      for (guint i = 0; i < json_array_get_length (ids); i++)
        if (json_node_get_string (json_array_get_element (ids, i)) != NULL)
          g_strv_builder_add (b, json_node_get_string (json_array_get_element (ids, i)));
      runnable = g_strv_builder_end (b);
      g_strv_builder_unref (b);
    }
  worker = cdl_schedule_pick_worker (workers, (const char * const *) runnable, NULL);
  if (worker == NULL)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NO_HEALTHY_WORKER,
                   "No enabled HEALTHY worker can run the workflow of task %s; "
                   "check the workers before piloting it", in->task_id);
      goto out;
    }

  prompt = cdl_pq_exec (conn,
                        "SELECT id, text FROM prompts WHERE task_id = $1"
                        " ORDER BY char_length (text) DESC, position LIMIT 1",
                        1, params, error);
  if (prompt == NULL)
    goto out;
  if (PQntuples (prompt) == 0)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT,
                   "Task %s has no prompts to pilot", in->task_id);
      goto out;
    }

  /* Last, so that a refused pilot does not count against the limit. */
  if (in->user_id != NULL && settings->pilot_rate_limit_seconds > 0
      && !take_rate_limit (conn, in->user_id, settings->pilot_rate_limit_seconds, error))
    goto out;

  plan = g_new0 (CdlPilotPlan, 1);
  plan->task_id = g_strdup (in->task_id);
  plan->worker_id = g_strdup (cdl_worker_get_id (worker));
  plan->target.base_url = g_strdup (cdl_worker_get_base_url (worker));
  plan->target.max_concurrent = cdl_worker_get_max_concurrent_jobs (worker);
  plan->graph = json_node_copy (json_object_get_member (wf, "raw_definition"));
  plan->prompt_nodes = cdl_prompt_nodes_from_json (json_object_get_member (wf, "prompt_nodes"));
  plan->seed_nodes = cdl_seed_nodes_from_json (json_object_get_member (wf, "seed_nodes"));
  plan->text = g_strdup (cdl_pq_get_string (prompt, 0, 1));
  plan->seeds = pilot_seeds (conn, cdl_pq_get_string (prompt, 0, 0),
                             cdl_pq_get_int64 (task, 0, 1), error);
  if (plan->seeds == NULL)
    goto out;
  plan->settings = g_steal_pointer (&settings);

  if (!cdl_pq_commit (conn, error))
    goto out;

  if (in->self->api_key_func != NULL)
    plan->target.api_key = in->self->api_key_func (plan->worker_id, in->self->api_key_data);

  return g_steal_pointer (&plan);

out:
  cdl_pq_rollback (conn);
  return NULL;
}

/* Recording the result --------------------------------------------------- */

static JsonNode *
result_record (CdlPilotResult *result)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "samples");
  json_builder_begin_array (b);
  for (guint i = 0; i < result->samples->len; i++)
    {
      CdlPilotSample *s = g_ptr_array_index (result->samples, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "key");
      json_builder_add_string_value (b, s->key);
      json_builder_set_member_name (b, "thumb_key");
      json_builder_add_string_value (b, s->thumb_key);
      json_builder_set_member_name (b, "seed");
      json_builder_add_int_value (b, s->seed);
      json_builder_set_member_name (b, "checksum");
      json_builder_add_string_value (b, s->sha256);
      json_builder_set_member_name (b, "width");
      json_builder_add_int_value (b, s->width);
      json_builder_set_member_name (b, "height");
      json_builder_add_int_value (b, s->height);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "worker_id");
  json_builder_add_string_value (b, result->worker_id);
  json_builder_set_member_name (b, "retries_used");
  json_builder_add_int_value (b, result->retries_used);
  json_builder_set_member_name (b, "settings");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, result->size.width);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, result->size.height);
  json_builder_set_member_name (b, "batch_size");
  json_builder_add_int_value (b, result->size.batch_size);
  json_builder_end_object (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

static JsonNode *
failure_record (const char   *worker_id,
                int           retries_used,
                const GError *error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, error->message);
  json_builder_set_member_name (b, "worker_id");
  json_builder_add_string_value (b, worker_id);
  json_builder_set_member_name (b, "retries_used");
  json_builder_add_int_value (b, retries_used);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

typedef struct
{
  char     *task_id;
  JsonNode *record;
} SaveIn;

static void
save_in_free (SaveIn *in)
{
  g_free (in->task_id);
  g_clear_pointer (&in->record, json_node_unref);
  g_free (in);
}

static gpointer
save_in_thread (PGconn        *conn,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  SaveIn *in = data;
  g_autoptr(PGresult) res = NULL;
  g_autofree char *text = cdl_json_to_string (in->record, FALSE);
  const char *params[2] = { in->task_id, text };

  res = cdl_pq_exec (conn, "UPDATE tasks SET pilot = $2::jsonb WHERE id = $1",
                     2, params, error);
  return res != NULL ? GINT_TO_POINTER (TRUE) : NULL;
}

static gpointer
load_in_thread (PGconn        *conn,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  const char *task_id = data;
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { task_id };

  if (!g_uuid_string_is_valid (task_id))
    {
      not_found (task_id, error);
      return NULL;
    }

  res = cdl_pq_exec (conn, "SELECT pilot::text FROM tasks WHERE id = $1", 1, params, error);
  if (res == NULL)
    return NULL;
  if (PQntuples (res) == 0)
    {
      not_found (task_id, error);
      return NULL;
    }
  if (cdl_pq_get_string (res, 0, 0) == NULL)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND,
                   "Task %s has not been piloted yet", task_id);
      return NULL;
    }

  return cdl_json_parse (cdl_pq_get_string (res, 0, 0), -1, error);
}

/* The stored record as the API shows it: media links for the keys. */
static JsonNode *
present (CdlPilotService *self,
         JsonNode        *record)
{
  JsonNode *copy = json_node_copy (record);
  JsonObject *obj = json_node_get_object (copy);
  JsonArray *samples;

  if (!json_object_has_member (obj, "samples"))
    return copy;

  samples = json_object_get_array_member (obj, "samples");
  for (guint i = 0; i < json_array_get_length (samples); i++)
    {
      JsonObject *s = json_array_get_object_element (samples, i);
      const char *key = json_object_get_string_member (s, "key");
      const char *thumb = json_object_get_string_member (s, "thumb_key");

      if (self->media != NULL)
        {
          g_autofree char *uri = cdl_annotation_service_sign_media (self->media, key);
          g_autofree char *thumb_uri = cdl_annotation_service_sign_media (self->media, thumb);

          json_object_set_string_member (s, "uri", uri);
          json_object_set_string_member (s, "thumbnail", thumb_uri);
        }
      else
        {
          json_object_set_string_member (s, "uri", key);
          json_object_set_string_member (s, "thumbnail", thumb);
        }
    }

  return copy;
}

/* The pilot itself --------------------------------------------------------- */

typedef struct
{
  char         *task_id;
  char         *user_id;
  char         *worker_id;
  GCancellable *cancellable;   /* the caller's and the time-out's */
  gulong        cancelled_id;
  guint         timeout_id;
  gboolean      timed_out;
  JsonNode     *record;
  GError       *failure;
} Run;

static void
run_free (Run *run)
{
  g_clear_handle_id (&run->timeout_id, g_source_remove);
  g_free (run->task_id);
  g_free (run->user_id);
  g_free (run->worker_id);
  g_clear_object (&run->cancellable);
  g_clear_pointer (&run->record, json_node_unref);
  g_clear_error (&run->failure);
  g_free (run);
}

static void
time_out (gpointer user_data)
{
  Run *run = user_data;

  run->timeout_id = 0;
  run->timed_out = TRUE;
  g_cancellable_cancel (run->cancellable);
}

static void
outer_cancelled (GCancellable *outer,
                 GCancellable *inner)
{
  g_cancellable_cancel (inner);
}

static void
saved_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlPilotService *self = g_task_get_source_object (task);
  Run *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (cdl_db_run_finish (CDL_DB (source), result, &error) == NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (run->failure != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&run->failure));
      return;
    }

  g_task_return_pointer (task, present (self, run->record), (GDestroyNotify) json_node_unref);
}

static void
piloted_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GTask *task = user_data;
  CdlPilotService *self = g_task_get_source_object (task);
  Run *run = g_task_get_task_data (task);
  g_autoptr(CdlPilotResult) piloted = NULL;
  g_autoptr(GError) error = NULL;
  SaveIn *in;
  int retries = 0;

  g_clear_handle_id (&run->timeout_id, g_source_remove);
  piloted = cdl_pilot_run_finish (result, &retries, &error);

  if (piloted != NULL)
    {
      run->record = result_record (piloted);
    }
  else
    {
      if (run->timed_out)
        {
          g_clear_error (&error);
          g_set_error (&error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_UNAVAILABLE,
                       "The pilot of task %s did not finish within %u seconds",
                       run->task_id, self->timeout_s);
        }
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          g_object_unref (task);
          return;
        }
      else if (g_error_matches (error, CDL_PILOT_ERROR, CDL_PILOT_ERROR_OUT_OF_MEMORY))
        {
          error->domain = CDL_SERVICE_ERROR;
          error->code = CDL_SERVICE_ERROR_CONFLICT;
        }
      else if (error->domain != CDL_SERVICE_ERROR)
        {
          error->domain = CDL_SERVICE_ERROR;
          error->code = CDL_SERVICE_ERROR_UNAVAILABLE;
        }
      g_warning ("The pilot of task %s failed: %s", run->task_id, error->message);
      run->record = failure_record (run->worker_id, retries, error);
      run->failure = g_steal_pointer (&error);
    }

  in = g_new0 (SaveIn, 1);
  in->task_id = g_strdup (run->task_id);
  in->record = json_node_ref (run->record);
  cdl_db_run_async (self->db, save_in_thread, in, (GDestroyNotify) save_in_free, NULL,
                    NULL, saved_cb, task);
}

static void
prepared_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GTask *task = user_data;
  CdlPilotService *self = g_task_get_source_object (task);
  Run *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  CdlPilotPlan *plan;

  plan = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (plan == NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  g_debug ("Pilot of task %s on worker %s", run->task_id, plan->worker_id);
  run->worker_id = g_strdup (plan->worker_id);
  run->timeout_id = g_timeout_add_once (self->timeout_s * 1000, time_out, run);
  cdl_pilot_run_async (self->client, self->store, self->thumbnailer, plan, run->cancellable,
                       piloted_cb, task);
}

static void
healthy_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GTask *task = user_data;
  CdlPilotService *self = g_task_get_source_object (task);
  Run *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  PrepareIn *in;

  if (!cdl_worker_service_require_healthy_finish (CDL_WORKER_SERVICE (source), result,
                                                  &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  in = g_new0 (PrepareIn, 1);
  in->self = self;
  in->task_id = g_strdup (run->task_id);
  in->user_id = g_strdup (run->user_id);
  cdl_db_run_async (self->db, prepare_in_thread, in, (GDestroyNotify) prepare_in_free,
                    (GDestroyNotify) cdl_pilot_plan_free, g_task_get_cancellable (task),
                    prepared_cb, task);
}

static void
run_disconnect (Run          *run,
                GCancellable *outer)
{
  if (outer != NULL && run->cancelled_id != 0)
    g_cancellable_disconnect (outer, run->cancelled_id);
  run->cancelled_id = 0;
}

static void
task_done_cb (GObject    *task,
              GParamSpec *pspec,
              gpointer    user_data)
{
  run_disconnect (g_task_get_task_data (G_TASK (task)),
                  g_task_get_cancellable (G_TASK (task)));
}

void
cdl_pilot_service_pilot_async (CdlPilotService     *self,
                               const char          *task_id,
                               const char          *user_id,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task;
  Run *run;

  g_return_if_fail (CDL_IS_PILOT_SERVICE (self));
  g_return_if_fail (task_id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_pilot_service_pilot_async);

  run = g_new0 (Run, 1);
  run->task_id = g_strdup (task_id);
  run->user_id = g_strdup (user_id);
  run->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    run->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (outer_cancelled),
                                               g_object_ref (run->cancellable),
                                               g_object_unref);
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);
  g_signal_connect (task, "notify::completed", G_CALLBACK (task_done_cb), NULL);

  cdl_worker_service_require_healthy_async (self->workers, cancellable, healthy_cb, task);
}

static void
loaded_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlPilotService *self = g_task_get_source_object (task);
  g_autoptr(JsonNode) record = NULL;
  g_autoptr(GError) error = NULL;

  record = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (record == NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_pointer (task, present (self, record), (GDestroyNotify) json_node_unref);
}

void
cdl_pilot_service_get_async (CdlPilotService     *self,
                             const char          *task_id,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CDL_IS_PILOT_SERVICE (self));
  g_return_if_fail (task_id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_pilot_service_get_async);
  cdl_db_run_async (self->db, load_in_thread, g_strdup (task_id), g_free,
                    (GDestroyNotify) json_node_unref, cancellable, loaded_cb, task);
}

JsonNode *
cdl_pilot_service_finish (CdlPilotService  *self,
                          GAsyncResult     *result,
                          GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
