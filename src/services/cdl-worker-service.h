/* cdl-worker-service.h: the worker registry's use cases
 *
 * Shared by the REST handlers and the desktop: list, register, edit, test,
 * and the "a healthy worker is required" check of the pilot and run
 * routes. Results are delivered on the thread-default main context of the
 * caller.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "comfy/cdl-comfy-client.h"
#include "core/cdl-worker.h"
#include "core/cdl-worker-input.h"
#include "db/cdl-db.h"
#include "db/cdl-db-listener.h"
#include "services/cdl-secret-store.h"

G_BEGIN_DECLS

#define CDL_TYPE_WORKER_SERVICE (cdl_worker_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlWorkerService, cdl_worker_service, CDL, WORKER_SERVICE, GObject)

typedef struct
{
  gboolean  healthy;
  int       pending;
  int       running;
  char     *message;      /* why the probe failed; NULL when healthy */
  CdlWorker *worker;      /* the worker as recorded after the probe */
} CdlWorkerTestResult;

void cdl_worker_test_result_free (CdlWorkerTestResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlWorkerTestResult, cdl_worker_test_result_free)

CdlWorkerService *cdl_worker_service_new (CdlDb          *db,
                                          CdlComfyClient *client,
                                          CdlSecretStore *secrets);

/* GPtrArray of CdlWorker */
void       cdl_worker_service_list_async     (CdlWorkerService     *self,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
GPtrArray *cdl_worker_service_list_finish    (CdlWorkerService     *self,
                                              GAsyncResult         *result,
                                              GError              **error);

void       cdl_worker_service_get_async      (CdlWorkerService     *self,
                                              const char           *id,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
CdlWorker *cdl_worker_service_get_finish     (CdlWorkerService     *self,
                                              GAsyncResult         *result,
                                              GError              **error);

/* Validates @input (400-class errors name the field), stores the key in the
 * secret store, inserts the row and starts a first probe at once. Takes
 * ownership of @input, as does _update_async. */
void       cdl_worker_service_create_async   (CdlWorkerService     *self,
                                              CdlWorkerInput       *input,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
CdlWorker *cdl_worker_service_create_finish  (CdlWorkerService     *self,
                                              GAsyncResult         *result,
                                              GError              **error);

void       cdl_worker_service_update_async   (CdlWorkerService     *self,
                                              const char           *id,
                                              CdlWorkerInput       *input,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
CdlWorker *cdl_worker_service_update_finish  (CdlWorkerService     *self,
                                              GAsyncResult         *result,
                                              GError              **error);

/* Probes the worker now (GET /system_stats and GET /queue) and records the
 * outcome like a health pass does. */
void       cdl_worker_service_test_async     (CdlWorkerService     *self,
                                              const char           *id,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
CdlWorkerTestResult *cdl_worker_service_test_finish (CdlWorkerService *self,
                                                     GAsyncResult     *result,
                                                     GError          **error);

/* Succeeds when at least one enabled worker is HEALTHY; otherwise fails
 * with CDL_SERVICE_ERROR_NO_HEALTHY_WORKER (409). */
void       cdl_worker_service_require_healthy_async  (CdlWorkerService    *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
gboolean   cdl_worker_service_require_healthy_finish (CdlWorkerService    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);

/* One health pass over the workers that are due; used by the monitor. */
void       cdl_worker_service_health_pass_async  (CdlWorkerService    *self,
                                                  guint                interval_ms,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
gboolean   cdl_worker_service_health_pass_finish (CdlWorkerService    *self,
                                                  GAsyncResult        *result,
                                                  GError             **error);

/* The NOTIFY channel of resources/sql/0004_worker_notify.sql. */
#define CDL_WORKERS_CHANNEL "cdl_workers"

/* Re-emits "worker-changed" for changes that other instances make, as the
 * database announces them on @listener's "cdl_workers" channel. */
void       cdl_worker_service_watch (CdlWorkerService    *self,
                                     CdlDbListener       *listener);

/* Signals (emitted on the main context the service was created in):
 *   "worker-changed" (CdlWorker *worker): after a create, edit or probe,
 *   by this instance or, once watched, any other.
 */

G_END_DECLS
