/* cdl-demo-service.c: a local simulated worker and a ready-made task
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-demo"

#include "config.h"

#include <signal.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <json-glib/json-glib.h>

#include "services/cdl-demo-service.h"
#include "services/cdl-service-error.h"

#define DEMO_WORKFLOW_RESOURCE RESOURCE_BASE "/demo/demo-workflow.json"
#define DEMO_WORKFLOW_NAME     "demo-watercolour"
#define DEMO_POOL_NAME         "demo_subjects"
#define DEMO_POOL_ATTEMPTS     20
#define LISTEN_PREFIX          "cdl-simworker listening on "

struct _CdlDemoService
{
  GObject           parent_instance;

  CdlInstance      *instance;
  GSubprocess      *process;
  GDataInputStream *output;
  char             *url;
  char             *worker_id;
};

G_DEFINE_FINAL_TYPE (CdlDemoService, cdl_demo_service, G_TYPE_OBJECT)

/* A few subjects that read well as watercolours; six are sampled. */
static const char * const demo_subjects[] = {
  "a lighthouse on a rocky coast at dusk",
  "a red fox asleep in fresh snow",
  "a tea house in a bamboo forest",
  "a hot air balloon over lavender fields",
  "an old tram climbing a narrow street",
  "a heron standing in morning mist",
  "a market stall piled with oranges",
  "a sailing boat in a summer storm",
};

typedef struct
{
  char    *resume_id;    /* a resume: the registered worker to point here */
  char    *workflow_id;
  char    *pool_id;
  char    *pool_name;
  guint    pool_attempt;
} StartData;

static void
start_data_free (gpointer data)
{
  StartData *start = data;

  g_free (start->resume_id);
  g_free (start->workflow_id);
  g_free (start->pool_id);
  g_free (start->pool_name);
  g_free (start);
}

static gboolean
cdl_is_executable (const char *path)
{
  return path != NULL && g_file_test (path, G_FILE_TEST_IS_EXECUTABLE) &&
         !g_file_test (path, G_FILE_TEST_IS_DIR);
}

char *
cdl_demo_service_find_simworker (void)
{
  const char *env = g_getenv ("CDL_SIMWORKER");
  g_autofree char *self_exe = NULL;
  g_autofree char *candidate = NULL;

  if (env != NULL && *env != '\0')
    return cdl_is_executable (env) ? g_strdup (env) : NULL;

  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  if (self_exe != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (self_exe);

      candidate = g_build_filename (dir, "cdl-simworker", NULL);
      if (cdl_is_executable (candidate))
        return g_steal_pointer (&candidate);
      g_clear_pointer (&candidate, g_free);
    }

  env = g_getenv ("CDL_BUILD_DIR");
  if (env != NULL && *env != '\0')
    {
      candidate = g_build_filename (env, "src", "app", "cdl-simworker", NULL);
      if (cdl_is_executable (candidate))
        return g_steal_pointer (&candidate);
      g_clear_pointer (&candidate, g_free);
    }

  candidate = g_build_filename (LIBEXECDIR, "cdl-simworker", NULL);
  if (cdl_is_executable (candidate))
    return g_steal_pointer (&candidate);

  return NULL;
}

#ifdef __linux__
/* The worker must not outlive the app, even when the app crashes. */
static void
cdl_demo_child_setup (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}
#endif

static void
cdl_demo_fail (GTask      *task,
               GError     *error)
{
  cdl_service_error_translate (&error);
  g_task_return_error (task, error);
  g_object_unref (task);
}

/* Step 6: the draft task */

static void
task_created_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(CdlTask) created = NULL;
  GError *error = NULL;

  created = cdl_task_service_create_finish (CDL_TASK_SERVICE (object), result, &error);
  if (created == NULL)
    {
      cdl_demo_fail (task, error);
      return;
    }

  g_task_return_pointer (task, g_strdup (cdl_task_get_id (created)), g_free);
  g_object_unref (task);
}

static void
cdl_demo_create_task (GTask *task)
{
  CdlDemoService *self = g_task_get_source_object (task);
  StartData *start = g_task_get_task_data (task);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *name = NULL;
  g_autofree char *template = NULL;
  GError *error = NULL;
  CdlTaskInput *input;

  name = g_date_time_format (now, "Demo %Y-%m-%d %H:%M:%S");
  template = g_strdup_printf ("a watercolour painting of {%s}, soft evening light",
                              start->pool_name);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "workflow_id");
  json_builder_add_string_value (builder, start->workflow_id);
  json_builder_set_member_name (builder, "variable_pool_ids");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, start->pool_id);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "prompt_template");
  json_builder_add_string_value (builder, template);
  json_builder_set_member_name (builder, "target_prompts");
  json_builder_add_int_value (builder, CDL_DEMO_PROMPTS);
  json_builder_set_member_name (builder, "seeds_per_prompt");
  json_builder_add_int_value (builder, CDL_DEMO_SEEDS);
  json_builder_set_member_name (builder, "notes");
  json_builder_add_string_value (builder, "Made by Start a Demo Worker: a simulated worker "
                                          "draws the images, no GPU involved.");
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);

  input = cdl_task_input_from_json (node, TRUE, &error);
  if (input == NULL)
    {
      cdl_demo_fail (task, error);
      return;
    }

  cdl_task_service_create_async (cdl_instance_get_task_service (self->instance), input, NULL,
                                 g_task_get_cancellable (task), task_created_cb, task);
}

/* Step 5: the pool, under a free name */

static void cdl_demo_create_pool (GTask *task);

static void
pool_created_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GTask *task = user_data;
  StartData *start = g_task_get_task_data (task);
  g_autoptr(CdlPool) pool = NULL;
  GError *error = NULL;

  pool = cdl_pool_service_create_finish (CDL_POOL_SERVICE (object), result, &error);
  if (pool == NULL)
    {
      if (g_error_matches (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT) &&
          start->pool_attempt < DEMO_POOL_ATTEMPTS)
        {
          g_error_free (error);
          start->pool_attempt++;
          cdl_demo_create_pool (task);
          return;
        }

      cdl_demo_fail (task, error);
      return;
    }

  start->pool_id = g_strdup (cdl_pool_get_id (pool));
  start->pool_name = g_strdup (cdl_pool_get_name (pool));
  cdl_demo_create_task (task);
}

static void
cdl_demo_create_pool (GTask *task)
{
  CdlDemoService *self = g_task_get_source_object (task);
  StartData *start = g_task_get_task_data (task);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *name = NULL;
  GError *error = NULL;
  CdlPoolInput *input;

  if (start->pool_attempt == 0)
    name = g_strdup (DEMO_POOL_NAME);
  else
    name = g_strdup_printf ("%s_%u", DEMO_POOL_NAME, start->pool_attempt + 1);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "mode");
  json_builder_add_string_value (builder, "no_replacement");
  json_builder_set_member_name (builder, "items");
  json_builder_begin_array (builder);
  for (gsize i = 0; i < G_N_ELEMENTS (demo_subjects); i++)
    json_builder_add_string_value (builder, demo_subjects[i]);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);

  input = cdl_pool_input_from_json (node, TRUE, &error);
  if (input == NULL)
    {
      cdl_demo_fail (task, error);
      return;
    }

  cdl_pool_service_create_async (cdl_instance_get_pool_service (self->instance), input,
                                 g_task_get_cancellable (task), pool_created_cb, task);
}

/* Step 4: the workflow */

static void
workflow_uploaded_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  GTask *task = user_data;
  StartData *start = g_task_get_task_data (task);
  g_autoptr(CdlWorkflow) workflow = NULL;
  GError *error = NULL;

  workflow = cdl_workflow_service_upload_finish (CDL_WORKFLOW_SERVICE (object), result, &error);
  if (workflow == NULL)
    {
      cdl_demo_fail (task, error);
      return;
    }

  start->workflow_id = g_strdup (cdl_workflow_get_id (workflow));
  cdl_demo_create_pool (task);
}

static void
cdl_demo_upload_workflow (GTask *task)
{
  CdlDemoService *self = g_task_get_source_object (task);
  g_autoptr(GBytes) raw = NULL;
  GError *error = NULL;

  raw = g_resources_lookup_data (DEMO_WORKFLOW_RESOURCE, G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
  if (raw == NULL)
    {
      cdl_demo_fail (task, error);
      return;
    }

  cdl_workflow_service_upload_async (cdl_instance_get_workflow_service (self->instance),
                                     DEMO_WORKFLOW_NAME,
                                     "A small SD 1.5 text-to-image graph (256 × 256) "
                                     "for the demo worker.",
                                     raw, NULL, g_task_get_cancellable (task),
                                     workflow_uploaded_cb, task);
}

/* Step 3: a probe now, so the worker is HEALTHY before the first use */

static void
worker_tested_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  GTask *task = user_data;
  StartData *start = g_task_get_task_data (task);
  g_autoptr(CdlWorkerTestResult) tested = NULL;
  GError *error = NULL;

  tested = cdl_worker_service_test_finish (CDL_WORKER_SERVICE (object), result, &error);
  if (tested == NULL)
    {
      cdl_demo_fail (task, error);
      return;
    }

  if (!tested->healthy)
    {
      cdl_demo_fail (task, g_error_new (CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_FAILED,
                                        "The demo worker does not answer: %s",
                                        tested->message != NULL ? tested->message : ""));
      return;
    }

  if (start->resume_id != NULL)
    {
      g_task_return_pointer (task, g_strdup (start->resume_id), g_free);
      g_object_unref (task);
      return;
    }

  cdl_demo_upload_workflow (task);
}

static void
worker_saved_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GTask *task = user_data;
  CdlDemoService *self = g_task_get_source_object (task);
  CdlWorkerService *workers = CDL_WORKER_SERVICE (object);
  g_autoptr(CdlWorker) worker = NULL;
  GError *error = NULL;

  if (g_async_result_is_tagged (result, cdl_worker_service_create_async))
    worker = cdl_worker_service_create_finish (workers, result, &error);
  else
    worker = cdl_worker_service_update_finish (workers, result, &error);

  if (worker == NULL)
    {
      cdl_demo_fail (task, error);
      return;
    }

  g_free (self->worker_id);
  self->worker_id = g_strdup (cdl_worker_get_id (worker));

  cdl_worker_service_test_async (workers, self->worker_id, g_task_get_cancellable (task),
                                 worker_tested_cb, task);
}

/* Step 2: register the worker, or point an earlier registration at the
 * new port */

/* The registration the demo made: its name and its "demo" tag. */
static gboolean
cdl_demo_is_demo_worker (CdlWorker *worker)
{
  const char * const *tags = cdl_worker_get_tags (worker);

  return g_strcmp0 (cdl_worker_get_name (worker), CDL_DEMO_WORKER_NAME) == 0 &&
         tags != NULL && g_strv_contains (tags, "demo");
}

/* A resume changes the address only: the rest may have been edited. */
static void
cdl_demo_point (GTask *task)
{
  CdlDemoService *self = g_task_get_source_object (task);
  StartData *start = g_task_get_task_data (task);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  GError *error = NULL;
  CdlWorkerInput *input;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "base_url");
  json_builder_add_string_value (builder, self->url);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);

  input = cdl_worker_input_from_json (node, FALSE, &error);
  if (input == NULL)
    {
      cdl_demo_fail (task, error);
      return;
    }

  cdl_worker_service_update_async (cdl_instance_get_worker_service (self->instance),
                                   start->resume_id, input, g_task_get_cancellable (task),
                                   worker_saved_cb, task);
}

static void
workers_listed_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  CdlDemoService *self = g_task_get_source_object (task);
  CdlWorkerService *workers = CDL_WORKER_SERVICE (object);
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  const char *existing = NULL;
  GError *error = NULL;
  CdlWorkerInput *input;

  list = cdl_worker_service_list_finish (workers, result, &error);
  if (list == NULL)
    {
      cdl_demo_fail (task, error);
      return;
    }

  for (guint i = 0; i < list->len; i++)
    {
      CdlWorker *worker = g_ptr_array_index (list, i);

      if (g_strcmp0 (cdl_worker_get_name (worker), CDL_DEMO_WORKER_NAME) == 0)
        existing = cdl_worker_get_id (worker);
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, CDL_DEMO_WORKER_NAME);
  json_builder_set_member_name (builder, "base_url");
  json_builder_add_string_value (builder, self->url);
  json_builder_set_member_name (builder, "max_concurrent_jobs");
  json_builder_add_int_value (builder, 2);
  json_builder_set_member_name (builder, "enabled");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "tags");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, "demo");
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);

  input = cdl_worker_input_from_json (node, existing == NULL, &error);
  if (input == NULL)
    {
      cdl_demo_fail (task, error);
      return;
    }

  if (existing != NULL)
    cdl_worker_service_update_async (workers, existing, input, g_task_get_cancellable (task),
                                     worker_saved_cb, task);
  else
    cdl_worker_service_create_async (workers, input, g_task_get_cancellable (task),
                                     worker_saved_cb, task);
}

static void
cdl_demo_register (GTask *task)
{
  CdlDemoService *self = g_task_get_source_object (task);

  cdl_worker_service_list_async (cdl_instance_get_worker_service (self->instance),
                                 g_task_get_cancellable (task), workers_listed_cb, task);
}

/* Step 1: the subprocess, and the line that says where it listens */

static void
listen_line_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  CdlDemoService *self = g_task_get_source_object (task);
  g_autofree char *line = NULL;
  GError *error = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object), result,
                                                   NULL, &error);
  if (line == NULL || !g_str_has_prefix (line, LISTEN_PREFIX))
    {
      cdl_demo_service_stop (self);
      if (error == NULL)
        error = g_error_new (CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_FAILED,
                             "The demo worker stopped before it listened: %s",
                             line != NULL ? line : "no output");
      cdl_demo_fail (task, error);
      return;
    }

  self->url = g_strdup (line + strlen (LISTEN_PREFIX));
  g_strstrip (self->url);
  g_message ("Demo worker listening on %s", self->url);

  if (((StartData *) g_task_get_task_data (task))->resume_id != NULL)
    cdl_demo_point (task);
  else
    cdl_demo_register (task);
}

static gboolean
cdl_demo_spawn (CdlDemoService  *self,
                GError         **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *path = cdl_demo_service_find_simworker ();
  GInputStream *out;

  if (path == NULL)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_FAILED,
                   "cdl-simworker is not installed next to the app nor in %s; "
                   "set CDL_SIMWORKER to its path", LIBEXECDIR);
      return FALSE;
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
#ifdef __linux__
  g_subprocess_launcher_set_child_setup (launcher, cdl_demo_child_setup, NULL, NULL);
#endif

  /* A few hundred milliseconds an image: fast enough for a demo, slow
   * enough to watch the dashboard move. */
  self->process = g_subprocess_launcher_spawn (launcher, error, path,
                                               "--port", "0",
                                               "--bind", "127.0.0.1",
                                               "--ms-per-image", "250",
                                               NULL);
  if (self->process == NULL)
    return FALSE;

  out = g_subprocess_get_stdout_pipe (self->process);
  self->output = g_data_input_stream_new (out);

  return TRUE;
}

void
cdl_demo_service_start_async (CdlDemoService      *self,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  GTask *task;
  GError *error = NULL;

  g_return_if_fail (CDL_IS_DEMO_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_demo_service_start_async);
  g_task_set_task_data (task, g_new0 (StartData, 1), start_data_free);

  if (self->process != NULL && self->url != NULL)
    {
      cdl_demo_register (task);
      return;
    }

  cdl_demo_service_stop (self);
  if (!cdl_demo_spawn (self, &error))
    {
      cdl_demo_fail (task, error);
      return;
    }

  g_data_input_stream_read_line_async (self->output, G_PRIORITY_DEFAULT, cancellable,
                                       listen_line_cb, task);
}

char *
cdl_demo_service_start_finish (CdlDemoService  *self,
                               GAsyncResult    *result,
                               GError         **error)
{
  g_return_val_if_fail (CDL_IS_DEMO_SERVICE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
resume_listed_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  GTask *task = user_data;
  CdlDemoService *self = g_task_get_source_object (task);
  StartData *start = g_task_get_task_data (task);
  g_autoptr(GPtrArray) list = NULL;
  GError *error = NULL;

  list = cdl_worker_service_list_finish (CDL_WORKER_SERVICE (object), result, &error);
  if (list == NULL)
    {
      cdl_demo_fail (task, error);
      return;
    }

  for (guint i = 0; i < list->len && start->resume_id == NULL; i++)
    {
      CdlWorker *worker = g_ptr_array_index (list, i);

      if (cdl_demo_is_demo_worker (worker) && cdl_worker_get_enabled (worker))
        start->resume_id = g_strdup (cdl_worker_get_id (worker));
    }

  /* Nothing to bring back, or a start got there first. */
  if (start->resume_id == NULL || self->process != NULL)
    {
      g_task_return_pointer (task, g_strdup (start->resume_id), g_free);
      g_object_unref (task);
      return;
    }

  if (!cdl_demo_spawn (self, &error))
    {
      cdl_demo_fail (task, error);
      return;
    }

  g_data_input_stream_read_line_async (self->output, G_PRIORITY_DEFAULT,
                                       g_task_get_cancellable (task), listen_line_cb, task);
}

void
cdl_demo_service_resume_async (CdlDemoService      *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CDL_IS_DEMO_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_demo_service_resume_async);
  g_task_set_task_data (task, g_new0 (StartData, 1), start_data_free);

  cdl_worker_service_list_async (cdl_instance_get_worker_service (self->instance),
                                 cancellable, resume_listed_cb, task);
}

char *
cdl_demo_service_resume_finish (CdlDemoService  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  g_return_val_if_fail (CDL_IS_DEMO_SERVICE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

const char *
cdl_demo_service_get_url (CdlDemoService *self)
{
  g_return_val_if_fail (CDL_IS_DEMO_SERVICE (self), NULL);

  return self->url;
}

const char *
cdl_demo_service_get_worker_id (CdlDemoService *self)
{
  g_return_val_if_fail (CDL_IS_DEMO_SERVICE (self), NULL);

  return self->worker_id;
}

void
cdl_demo_service_stop (CdlDemoService *self)
{
  g_return_if_fail (CDL_IS_DEMO_SERVICE (self));

  if (self->process != NULL)
    {
      g_subprocess_send_signal (self->process, SIGTERM);
      g_subprocess_wait (self->process, NULL, NULL);
      g_message ("Demo worker stopped");
    }

  g_clear_object (&self->output);
  g_clear_object (&self->process);
  g_clear_pointer (&self->url, g_free);
}

static void
cdl_demo_service_dispose (GObject *object)
{
  CdlDemoService *self = CDL_DEMO_SERVICE (object);

  cdl_demo_service_stop (self);
  g_clear_object (&self->instance);

  G_OBJECT_CLASS (cdl_demo_service_parent_class)->dispose (object);
}

static void
cdl_demo_service_finalize (GObject *object)
{
  CdlDemoService *self = CDL_DEMO_SERVICE (object);

  g_clear_pointer (&self->worker_id, g_free);

  G_OBJECT_CLASS (cdl_demo_service_parent_class)->finalize (object);
}

static void
cdl_demo_service_class_init (CdlDemoServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_demo_service_dispose;
  object_class->finalize = cdl_demo_service_finalize;
}

static void
cdl_demo_service_init (CdlDemoService *self)
{
}

CdlDemoService *
cdl_demo_service_new (CdlInstance *instance)
{
  CdlDemoService *self;

  g_return_val_if_fail (CDL_IS_INSTANCE (instance), NULL);

  self = g_object_new (CDL_TYPE_DEMO_SERVICE, NULL);
  self->instance = g_object_ref (instance);

  return self;
}
