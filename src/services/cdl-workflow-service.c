/* cdl-workflow-service.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-workflows"

#include "config.h"

#include <string.h>

#include "db/cdl-settings-repo.h"
#include "db/cdl-worker-repo.h"
#include "db/cdl-workflow-repo.h"
#include "services/cdl-service-error.h"
#include "services/cdl-workflow-service.h"

#define NAME_MAX_CHARS        200
#define DESCRIPTION_MAX_CHARS 4000

struct _CdlWorkflowService
{
  GObject  parent_instance;
  CdlDb   *db;
};

G_DEFINE_FINAL_TYPE (CdlWorkflowService, cdl_workflow_service, G_TYPE_OBJECT)

enum {
  WORKFLOW_ADDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
cdl_workflow_service_dispose (GObject *object)
{
  CdlWorkflowService *self = (CdlWorkflowService *)object;

  g_clear_object (&self->db);

  G_OBJECT_CLASS (cdl_workflow_service_parent_class)->dispose (object);
}

static void
cdl_workflow_service_class_init (CdlWorkflowServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_workflow_service_dispose;

  signals[WORKFLOW_ADDED] =
    g_signal_new ("workflow-added",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CDL_TYPE_WORKFLOW);
}

static void
cdl_workflow_service_init (CdlWorkflowService *self)
{
}

CdlWorkflowService *
cdl_workflow_service_new (CdlDb *db)
{
  CdlWorkflowService *self;

  g_return_val_if_fail (CDL_IS_DB (db), NULL);

  self = g_object_new (CDL_TYPE_WORKFLOW_SERVICE, NULL);
  self->db = g_object_ref (db);

  return self;
}

typedef struct
{
  char   *id;
  char   *name;
  char   *description;
  GBytes *raw;
  char   *user_id;
} Op;

static void
op_free (gpointer data)
{
  Op *op = data;

  g_free (op->id);
  g_free (op->name);
  g_free (op->description);
  g_clear_pointer (&op->raw, g_bytes_unref);
  g_free (op->user_id);
  g_free (op);
}

static gboolean
text_ok (const char *text,
         gboolean    allow_newlines)
{
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (allow_newlines && (c == '\n' || c == '\t' || c == '\r'))
        continue;
      if (g_unichar_iscntrl (c))
        return FALSE;
    }

  return TRUE;
}

static gpointer
upload_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  g_autoptr(CdlSettings) settings = NULL;
  g_autoptr(GHashTable) catalog = NULL;
  g_autoptr(GHashTable) api_nodes = NULL;
  g_autoptr(JsonObject) object_info = NULL;
  g_autoptr(CdlWorkflowReport) report = NULL;
  g_autofree char *text = NULL;
  gsize size;
  const char *bytes = g_bytes_get_data (op->raw, &size);

  settings = cdl_settings_repo_load (conn, error);
  if (settings == NULL)
    return NULL;

  catalog = cdl_worker_repo_healthy_node_types (conn, error);
  if (catalog == NULL)
    return NULL;

  api_nodes = cdl_worker_repo_healthy_api_node_types (conn, error);
  if (api_nodes == NULL)
    return NULL;

  /* The workers' own word on partner nodes, in the shape of /object_info;
   * the validator still knows the common ones by name. */
  object_info = json_object_new ();
  {
    GHashTableIter iter;
    gpointer name;

    g_hash_table_iter_init (&iter, api_nodes);
    while (g_hash_table_iter_next (&iter, &name, NULL))
      {
        JsonObject *details = json_object_new ();

        json_object_set_boolean_member (details, "api_node", TRUE);
        json_object_set_object_member (object_info, name, details);
      }
  }

  report = cdl_workflow_validate (bytes, size, settings, catalog, object_info);

  /* Not JSON at all: there is nothing to show the admin later. */
  if (report->definition == NULL)
    {
      const CdlWorkflowProblem *problem = g_ptr_array_index (report->problems, 0);

      g_set_error_literal (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                           problem->message);
      return NULL;
    }

  /* The validator refused NUL bytes, so this is the whole text. */
  text = g_strndup (bytes, size);

  return cdl_workflow_repo_insert (conn, op->name, op->description, text,
                                   report, op->user_id, error);
}

static gpointer
list_in_thread (PGconn        *conn,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  return cdl_workflow_repo_list (conn, error);
}

static gpointer
get_in_thread (PGconn        *conn,
               gpointer       data,
               GCancellable  *cancellable,
               GError       **error)
{
  Op *op = data;

  return cdl_workflow_repo_get (conn, op->id, error);
}

static void
db_done_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  gpointer value;

  value = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (value == NULL)
    {
      if (error == NULL)
        g_set_error_literal (&error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_FAILED,
                             "The workflows could not be read");
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (g_task_get_source_tag (task) == cdl_workflow_service_upload_async)
    {
      CdlWorkflow *workflow = value;

      g_debug ("Stored workflow %s version %d (%s)",
               cdl_workflow_get_name (workflow), cdl_workflow_get_version (workflow),
               cdl_workflow_get_valid (workflow) ? "valid" : "with problems");
      g_signal_emit (g_task_get_source_object (task), signals[WORKFLOW_ADDED], 0,
                     workflow);
    }

  g_task_return_pointer (task, value, g_task_get_task_data (task));
}

static void
run (CdlWorkflowService *self,
     CdlDbFunc           func,
     Op                 *op,
     GDestroyNotify      result_free,
     GTask              *task)
{
  /* @result_free rides along as the task data for db_done_cb. */
  g_task_set_task_data (task, result_free, NULL);
  cdl_db_run_async (self->db, func, op, op_free, result_free,
                    g_task_get_cancellable (task), db_done_cb, task);
}

static void
return_invalid (GTask      *task,
                guint       code,
                const char *message)
{
  g_task_return_new_error (task, CDL_SERVICE_ERROR, code, "%s", message);
  g_object_unref (task);
}

void
cdl_workflow_service_upload_async (CdlWorkflowService  *self,
                                   const char          *name,
                                   const char          *description,
                                   GBytes              *raw,
                                   const CdlUser       *user,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autofree char *clean_name = NULL;
  g_autofree char *clean_description = NULL;
  GTask *task;
  Op *op;

  g_return_if_fail (CDL_IS_WORKFLOW_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_workflow_service_upload_async);

  clean_name = g_strstrip (g_strdup (name != NULL ? name : ""));
  if (*clean_name == '\0')
    {
      return_invalid (task, CDL_SERVICE_ERROR_INVALID,
                      "name is required: give the workflow a name");
      return;
    }
  if (!text_ok (clean_name, FALSE))
    {
      return_invalid (task, CDL_SERVICE_ERROR_INVALID,
                      "name must be UTF-8 text without control characters");
      return;
    }
  if (g_utf8_strlen (clean_name, -1) > NAME_MAX_CHARS)
    {
      return_invalid (task, CDL_SERVICE_ERROR_INVALID,
                      "name is longer than 200 characters");
      return;
    }

  if (description != NULL)
    {
      clean_description = g_strstrip (g_strdup (description));
      if (*clean_description == '\0')
        g_clear_pointer (&clean_description, g_free);
      else if (!text_ok (clean_description, TRUE))
        {
          return_invalid (task, CDL_SERVICE_ERROR_INVALID,
                          "description must be UTF-8 text without "
                          "control characters");
          return;
        }
      else if (g_utf8_strlen (clean_description, -1) > DESCRIPTION_MAX_CHARS)
        {
          return_invalid (task, CDL_SERVICE_ERROR_INVALID,
                          "description is longer than 4000 characters");
          return;
        }
    }

  if (raw == NULL || g_bytes_get_size (raw) == 0)
    {
      return_invalid (task, CDL_SERVICE_ERROR_INVALID,
                      "workflow is empty: attach the workflow_api.json "
                      "file that ComfyUI's Save (API) writes");
      return;
    }
  if (g_bytes_get_size (raw) > CDL_WORKFLOW_MAX_BYTES)
    {
      return_invalid (task, CDL_SERVICE_ERROR_TOO_LARGE,
                      "workflow is larger than 8 MiB");
      return;
    }

  op = g_new0 (Op, 1);
  op->name = g_steal_pointer (&clean_name);
  op->description = g_steal_pointer (&clean_description);
  op->raw = g_bytes_ref (raw);
  op->user_id = user != NULL ? g_strdup (user->id) : NULL;

  run (self, upload_in_thread, op, g_object_unref, task);
}

CdlWorkflow *
cdl_workflow_service_upload_finish (CdlWorkflowService  *self,
                                    GAsyncResult        *result,
                                    GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
cdl_workflow_service_list_async (CdlWorkflowService  *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CDL_IS_WORKFLOW_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_workflow_service_list_async);

  run (self, list_in_thread, g_new0 (Op, 1),
       (GDestroyNotify) g_ptr_array_unref, task);
}

GPtrArray *
cdl_workflow_service_list_finish (CdlWorkflowService  *self,
                                  GAsyncResult        *result,
                                  GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
cdl_workflow_service_get_async (CdlWorkflowService  *self,
                                const char          *id,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task;
  Op *op;

  g_return_if_fail (CDL_IS_WORKFLOW_SERVICE (self));
  g_return_if_fail (id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_workflow_service_get_async);

  op = g_new0 (Op, 1);
  op->id = g_strdup (id);
  run (self, get_in_thread, op, g_object_unref, task);
}

CdlWorkflow *
cdl_workflow_service_get_finish (CdlWorkflowService  *self,
                                 GAsyncResult        *result,
                                 GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
