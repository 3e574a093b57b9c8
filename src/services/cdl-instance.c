/* cdl-instance.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-instance"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "services/cdl-instance.h"
#include "services/cdl-service-error.h"
#include "storage/cdl-fs-store.h"
#include "storage/cdl-thumbnailer.h"

#define DEFAULT_POOL_SIZE 8
/* How long a stopping scheduler waits for images on their way to storage. */
#define DRAIN_MS 5000

struct _CdlInstance
{
  GObject            parent_instance;

  char              *data_dir;
  char              *conninfo;
  guint              health_interval_ms;
  guint              pool_size;
  char              *storage_dir;
  gboolean           no_scheduler;

  CdlEmbeddedPg     *embedded;
  CdlDb             *db;
  CdlSecretStore    *secrets;
  CdlComfyClient    *client;
  CdlWorkerService  *workers;
  CdlAuthService    *auth;
  CdlPoolService    *pools;
  CdlTaskService    *tasks;
  CdlSettingsService *settings;
  CdlWorkflowService *workflows;
  CdlHealthMonitor  *monitor;
  CdlDbListener     *listener;
  CdlAnnotationService *annotations;
  GBytes            *media_secret;
  CdlObjectStore    *store;
  CdlThumbnailer    *thumbnailer;
  CdlScheduler      *scheduler;
  CdlRunService     *runs;
  CdlPilotService   *pilots;
  CdlAbtestService  *abtests;
  CdlAlertOptions    alert_options;
  CdlAlertService   *alerts;
  guint              drain_ms;
};

G_DEFINE_FINAL_TYPE (CdlInstance, cdl_instance, G_TYPE_OBJECT)

static void
cdl_instance_dispose (GObject *object)
{
  CdlInstance *self = (CdlInstance *)object;

  cdl_instance_shutdown (self);

  g_clear_object (&self->monitor);
  g_clear_object (&self->alerts);
  g_clear_object (&self->annotations);
  g_clear_object (&self->runs);
  g_clear_object (&self->pilots);
  g_clear_object (&self->abtests);
  g_clear_object (&self->scheduler);
  g_clear_object (&self->thumbnailer);
  g_clear_object (&self->store);
  g_clear_object (&self->listener);
  g_clear_object (&self->workers);
  g_clear_object (&self->auth);
  g_clear_object (&self->pools);
  g_clear_object (&self->tasks);
  g_clear_object (&self->settings);
  g_clear_object (&self->workflows);
  g_clear_object (&self->client);
  g_clear_object (&self->secrets);
  g_clear_object (&self->db);
  g_clear_object (&self->embedded);

  G_OBJECT_CLASS (cdl_instance_parent_class)->dispose (object);
}

static void
cdl_instance_finalize (GObject *object)
{
  CdlInstance *self = (CdlInstance *)object;

  g_clear_pointer (&self->data_dir, g_free);
  g_clear_pointer (&self->conninfo, g_free);
  g_clear_pointer (&self->media_secret, g_bytes_unref);
  g_clear_pointer (&self->storage_dir, g_free);
  g_clear_pointer (&self->alert_options.storage_dir, g_free);
  g_clear_pointer (&self->alert_options.webhook_url, g_free);

  G_OBJECT_CLASS (cdl_instance_parent_class)->finalize (object);
}

static void
cdl_instance_class_init (CdlInstanceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_instance_dispose;
  object_class->finalize = cdl_instance_finalize;
}

static void
cdl_instance_init (CdlInstance *self)
{
}

char *
cdl_instance_default_data_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "comfy-datalabel", NULL);
}

CdlInstance *
cdl_instance_new (const CdlInstanceOptions *options)
{
  CdlInstance *self;

  g_return_val_if_fail (options != NULL, NULL);

  self = g_object_new (CDL_TYPE_INSTANCE, NULL);
  self->data_dir = options->data_dir ? g_strdup (options->data_dir)
                                     : cdl_instance_default_data_dir ();
  self->conninfo = g_strdup (options->conninfo);
  self->health_interval_ms = options->health_interval_ms;
  self->pool_size = options->db_pool_size ? options->db_pool_size : DEFAULT_POOL_SIZE;
  /* CDL_STORAGE_DIR lets the desktop app put images on a NAS mount. */
  if (options->storage_dir != NULL)
    self->storage_dir = g_strdup (options->storage_dir);
  else if (g_getenv ("CDL_STORAGE_DIR") != NULL && *g_getenv ("CDL_STORAGE_DIR") != '\0')
    self->storage_dir = g_strdup (g_getenv ("CDL_STORAGE_DIR"));
  else
    self->storage_dir = g_build_filename (self->data_dir, "storage", NULL);
  self->no_scheduler = options->no_scheduler;
  self->drain_ms = options->drain_ms ? options->drain_ms : DRAIN_MS;
  self->alert_options = options->alerts;
  self->alert_options.storage_dir = g_strdup (options->alerts.storage_dir
                                              ? options->alerts.storage_dir
                                              : self->storage_dir);
  self->alert_options.webhook_url = g_strdup (options->alerts.webhook_url);

  if (options->secrets != NULL)
    {
      self->secrets = g_object_ref (options->secrets);
    }
  else
    {
      g_autofree char *path = g_build_filename (self->data_dir, "secrets.json", NULL);
      self->secrets = cdl_secret_store_new_for_file (path);
    }

  return self;
}

/* What the instance hears about through LISTEN/NOTIFY. */
static const char * const listen_channels[] = {
  CDL_WORKERS_CHANNEL, CDL_PROGRESS_CHANNEL, CDL_ALERTS_CHANNEL, NULL
};

/* The blocking part of the start: runs in a thread. */
static gboolean
start_database (CdlInstance  *self,
                GError      **error)
{
  const char *conninfo = self->conninfo;

  if (g_mkdir_with_parents (self->data_dir, 0700) != 0)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_UNAVAILABLE,
                   "Cannot create the data directory %s: %s",
                   self->data_dir, g_strerror (errno));
      return FALSE;
    }

  if (conninfo == NULL)
    {
      self->embedded = cdl_embedded_pg_new (self->data_dir);
      if (!cdl_embedded_pg_start (self->embedded, error))
        return FALSE;
      conninfo = cdl_embedded_pg_get_conninfo (self->embedded);
      g_message ("Using the embedded database in %s",
                 cdl_embedded_pg_get_cluster_dir (self->embedded));
    }

  self->store = CDL_OBJECT_STORE (cdl_fs_store_new (self->storage_dir, error));
  if (self->store == NULL)
    return FALSE;

  /* Media links are signed with a key of the installation (never stored
   * in the database); see cdl-annotation-service.h. */
  self->media_secret = cdl_annotation_service_load_media_secret (self->data_dir, error);
  if (self->media_secret == NULL)
    return FALSE;

  self->db = cdl_db_new (conninfo, self->pool_size);
  self->listener = cdl_db_listener_new (conninfo, listen_channels);

  return cdl_db_open (self->db, error) && cdl_db_migrate (self->db, error);
}

/* Runs in a database thread for the scheduler; the key is never logged. */
static char *
lookup_api_key (const char *worker_id,
                gpointer    user_data)
{
  CdlInstance *self = user_data;
  g_autofree char *name = g_strconcat ("worker:", worker_id, NULL);
  g_autoptr(GError) error = NULL;
  char *key;

  key = cdl_secret_store_lookup (self->secrets, name, &error);
  if (error != NULL)
    g_warning ("Cannot read the API key of worker %s: %s", worker_id, error->message);

  return key;
}

static void
create_services (CdlInstance *self)
{
  self->client = cdl_comfy_client_new ();
  self->workers = cdl_worker_service_new (self->db, self->client, self->secrets);
  self->auth = cdl_auth_service_new (self->db);
  self->pools = cdl_pool_service_new (self->db);
  self->tasks = cdl_task_service_new (self->db);
  self->settings = cdl_settings_service_new (self->db);
  self->workflows = cdl_workflow_service_new (self->db);
  self->annotations = cdl_annotation_service_new (self->db, self->store, self->media_secret);
  self->abtests = cdl_abtest_service_new (self->db);

  if (!self->no_scheduler)
    {
      self->thumbnailer = cdl_thumbnailer_new (0);
      self->scheduler = cdl_scheduler_new (self->db, self->client, self->store,
                                           self->thumbnailer, lookup_api_key, self);
    }
  self->runs = cdl_run_service_new (self->db, self->workers, self->scheduler);
  self->alerts = cdl_alert_service_new (self->db, &self->alert_options);
  self->pilots = cdl_pilot_service_new (self->db, self->workers, self->client, self->store,
                                        self->annotations, lookup_api_key, self);
}

static void
start_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  CdlInstance *self = source_object;
  GError *error = NULL;

  if (!start_database (self, &error))
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, error);
      return;
    }

  g_task_return_boolean (task, TRUE);
}

static void
start_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  CdlInstance *self = CDL_INSTANCE (source);
  g_autoptr(GTask) outer = user_data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (outer, error);
      return;
    }

  /* Services live on the main context so that their signals do too. */
  create_services (self);
  g_task_return_boolean (outer, TRUE);
}

void
cdl_instance_start_async (CdlInstance         *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) inner = NULL;
  GTask *outer;

  g_return_if_fail (CDL_IS_INSTANCE (self));
  g_return_if_fail (self->db == NULL);

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, cdl_instance_start_async);

  inner = g_task_new (self, cancellable, start_done_cb, outer);
  g_task_run_in_thread (inner, start_thread);
}

gboolean
cdl_instance_start_finish (CdlInstance   *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
cdl_instance_start_sync (CdlInstance  *self,
                         GError      **error)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), FALSE);
  g_return_val_if_fail (self->db == NULL, FALSE);

  if (!start_database (self, error))
    {
      cdl_service_error_translate (error);
      return FALSE;
    }

  create_services (self);
  return TRUE;
}

void
cdl_instance_start_services (CdlInstance *self)
{
  g_return_if_fail (CDL_IS_INSTANCE (self));
  g_return_if_fail (self->workers != NULL);

  if (self->monitor == NULL)
    self->monitor = cdl_health_monitor_new (self->workers, self->health_interval_ms);
  cdl_health_monitor_start (self->monitor);

  cdl_worker_service_watch (self->workers, self->listener);
  cdl_run_service_watch (self->runs, self->listener);
  cdl_alert_service_watch (self->alerts, self->listener);
  cdl_alert_service_start (self->alerts);
  cdl_db_listener_start (self->listener);

  if (self->scheduler != NULL)
    cdl_scheduler_start (self->scheduler);
}

void
cdl_instance_shutdown (CdlInstance *self)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (CDL_IS_INSTANCE (self));

  if (self->scheduler != NULL)
    cdl_scheduler_stop (self->scheduler, self->drain_ms);
  if (self->monitor != NULL)
    cdl_health_monitor_stop (self->monitor);
  if (self->alerts != NULL)
    cdl_alert_service_stop (self->alerts);
  if (self->listener != NULL)
    cdl_db_listener_stop (self->listener);

  /* A fast shutdown ends whatever connections the pool still holds. */
  if (self->embedded != NULL && cdl_embedded_pg_is_running (self->embedded))
    {
      if (!cdl_embedded_pg_stop (self->embedded, &error))
        g_warning ("The embedded database did not stop cleanly: %s", error->message);
    }
}

gboolean
cdl_instance_is_embedded (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), FALSE);

  return self->conninfo == NULL;
}

const char *
cdl_instance_get_data_dir (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->data_dir;
}

CdlDb *
cdl_instance_get_db (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->db;
}

CdlWorkerService *
cdl_instance_get_worker_service (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->workers;
}

CdlAuthService *
cdl_instance_get_auth_service (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->auth;
}

CdlPoolService *
cdl_instance_get_pool_service (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->pools;
}

CdlTaskService *
cdl_instance_get_task_service (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->tasks;
}

CdlSettingsService *
cdl_instance_get_settings_service (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->settings;
}

CdlWorkflowService *
cdl_instance_get_workflow_service (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->workflows;
}

CdlRunService *
cdl_instance_get_run_service (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->runs;
}

CdlPilotService *
cdl_instance_get_pilot_service (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->pilots;
}

CdlScheduler *
cdl_instance_get_scheduler (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->scheduler;
}

CdlObjectStore *
cdl_instance_get_object_store (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->store;
}

CdlAnnotationService *
cdl_instance_get_annotation_service (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->annotations;
}

CdlAlertService *
cdl_instance_get_alert_service (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->alerts;
}

CdlAbtestService *
cdl_instance_get_abtest_service (CdlInstance *self)
{
  g_return_val_if_fail (CDL_IS_INSTANCE (self), NULL);

  return self->abtests;
}
