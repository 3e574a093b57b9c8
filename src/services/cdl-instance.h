/* cdl-instance.h: one running instance of the product
 *
 * Owns the database (embedded or configured), the ComfyUI client, the
 * secret store, the services and the health monitor. Both programs, the
 * desktop app and the headless server, build one of these and put their
 * front ends (GTK, REST) on top.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "db/cdl-db.h"
#include "db/cdl-embedded-pg.h"
#include "engine/cdl-scheduler.h"
#include "storage/cdl-object-store.h"
#include "services/cdl-alert-service.h"
#include "services/cdl-abtest-service.h"
#include "services/cdl-auth-service.h"
#include "services/cdl-annotation-service.h"
#include "services/cdl-health-monitor.h"
#include "services/cdl-pilot-service.h"
#include "services/cdl-pool-service.h"
#include "services/cdl-run-service.h"
#include "services/cdl-secret-store.h"
#include "services/cdl-task-service.h"
#include "services/cdl-settings-service.h"
#include "services/cdl-worker-service.h"
#include "services/cdl-workflow-service.h"

G_BEGIN_DECLS

typedef struct
{
  char           *data_dir;           /* embedded cluster and files */
  char           *conninfo;           /* NULL: use the embedded cluster */
  guint           health_interval_ms; /* 0: CDL_HEALTH_DEFAULT_INTERVAL_MS */
  guint           db_pool_size;       /* 0: default (8) */
  CdlSecretStore *secrets;            /* NULL: a file store in data_dir */
  char           *storage_dir;        /* NULL: data_dir/storage */
  gboolean        no_scheduler;       /* do not drive any generation */
  CdlAlertOptions alerts;             /* storage_dir NULL: the storage root */
  guint           drain_ms;           /* 0: 5 s for downloads on shutdown */
} CdlInstanceOptions;

#define CDL_TYPE_INSTANCE (cdl_instance_get_type ())

G_DECLARE_FINAL_TYPE (CdlInstance, cdl_instance, CDL, INSTANCE, GObject)

CdlInstance      *cdl_instance_new                (const CdlInstanceOptions *options);

/* Starts the embedded cluster when no conninfo was given, opens the pool
 * and applies the migrations. Runs in a thread; completes on the caller's
 * main context. Call _start_services afterwards on the main thread. */
void              cdl_instance_start_async        (CdlInstance          *self,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
gboolean          cdl_instance_start_finish       (CdlInstance          *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);
gboolean          cdl_instance_start_sync         (CdlInstance          *self,
                                                   GError              **error);

/* Starts the health monitor and the scheduler. */
void              cdl_instance_start_services     (CdlInstance          *self);

/* Stops the scheduler (jobs left resumable), the monitor, and an
 * embedded cluster. */
void              cdl_instance_shutdown           (CdlInstance          *self);

gboolean          cdl_instance_is_embedded        (CdlInstance          *self);
const char       *cdl_instance_get_data_dir       (CdlInstance          *self);
CdlDb            *cdl_instance_get_db             (CdlInstance          *self);
CdlWorkerService *cdl_instance_get_worker_service (CdlInstance          *self);
CdlAuthService   *cdl_instance_get_auth_service   (CdlInstance          *self);
CdlPoolService   *cdl_instance_get_pool_service   (CdlInstance          *self);
CdlTaskService   *cdl_instance_get_task_service   (CdlInstance          *self);
CdlSettingsService *cdl_instance_get_settings_service (CdlInstance        *self);
CdlWorkflowService *cdl_instance_get_workflow_service (CdlInstance        *self);
CdlAnnotationService *cdl_instance_get_annotation_service (CdlInstance    *self);
CdlRunService    *cdl_instance_get_run_service    (CdlInstance          *self);
CdlPilotService  *cdl_instance_get_pilot_service  (CdlInstance          *self);
/* NULL when the instance was made with no_scheduler. */
CdlScheduler     *cdl_instance_get_scheduler      (CdlInstance          *self);
CdlObjectStore   *cdl_instance_get_object_store   (CdlInstance          *self);
CdlAbtestService *cdl_instance_get_abtest_service (CdlInstance          *self);
CdlAlertService  *cdl_instance_get_alert_service  (CdlInstance          *self);

/* The default data dir: $XDG_DATA_HOME/comfy-datalabel. */
char             *cdl_instance_default_data_dir   (void);

G_END_DECLS
