/* cdl-settings-service.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-settings"

#include "config.h"

#include "db/cdl-settings-repo.h"
#include "services/cdl-service-error.h"
#include "services/cdl-settings-service.h"

struct _CdlSettingsService
{
  GObject  parent_instance;
  CdlDb   *db;
};

G_DEFINE_FINAL_TYPE (CdlSettingsService, cdl_settings_service, G_TYPE_OBJECT)

enum {
  CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
cdl_settings_service_dispose (GObject *object)
{
  CdlSettingsService *self = (CdlSettingsService *)object;

  g_clear_object (&self->db);

  G_OBJECT_CLASS (cdl_settings_service_parent_class)->dispose (object);
}

static void
cdl_settings_service_class_init (CdlSettingsServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_settings_service_dispose;

  signals[CHANGED] =
    g_signal_new ("changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CDL_TYPE_SETTINGS);
}

static void
cdl_settings_service_init (CdlSettingsService *self)
{
}

CdlSettingsService *
cdl_settings_service_new (CdlDb *db)
{
  CdlSettingsService *self;

  g_return_val_if_fail (CDL_IS_DB (db), NULL);

  self = g_object_new (CDL_TYPE_SETTINGS_SERVICE, NULL);
  self->db = g_object_ref (db);

  return self;
}

static gpointer
get_in_thread (PGconn        *conn,
               gpointer       data,
               GCancellable  *cancellable,
               GError       **error)
{
  return cdl_settings_repo_load (conn, error);
}

static gpointer
update_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  return cdl_settings_repo_update (conn, data, error);
}

static void
db_done_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  CdlSettings *settings;

  settings = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (settings == NULL)
    {
      if (error == NULL)
        g_set_error_literal (&error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_FAILED,
                             "The settings could not be read");
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (g_task_get_source_tag (task) == cdl_settings_service_update_async)
    g_signal_emit (g_task_get_source_object (task), signals[CHANGED], 0, settings);

  g_task_return_pointer (task, settings, (GDestroyNotify) cdl_settings_free);
}

void
cdl_settings_service_get_async (CdlSettingsService  *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CDL_IS_SETTINGS_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_settings_service_get_async);

  cdl_db_run_async (self->db, get_in_thread, NULL, NULL,
                    (GDestroyNotify) cdl_settings_free,
                    cancellable, db_done_cb, task);
}

CdlSettings *
cdl_settings_service_get_finish (CdlSettingsService  *self,
                                 GAsyncResult        *result,
                                 GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
cdl_settings_service_update_async (CdlSettingsService  *self,
                                   JsonNode            *patch,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (CDL_IS_SETTINGS_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_settings_service_update_async);

  /* Checked here too, so a bad body costs no database round trip. */
  if (patch == NULL || !JSON_NODE_HOLDS_OBJECT (patch))
    {
      g_task_return_new_error (task, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                               "The body must be a JSON object of settings, "
                               "e.g. {\"max_workflow_batch_size\": 8}");
      g_object_unref (task);
      return;
    }

  cdl_db_run_async (self->db, update_in_thread, json_node_copy (patch),
                    (GDestroyNotify) json_node_unref,
                    (GDestroyNotify) cdl_settings_free,
                    cancellable, db_done_cb, task);
}

CdlSettings *
cdl_settings_service_update_finish (CdlSettingsService  *self,
                                    GAsyncResult        *result,
                                    GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
