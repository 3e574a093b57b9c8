/* cdl-demo-service.h: a local simulated worker and a ready-made task
 *
 * Lets a first-time user see the whole flow without a GPU: starts a
 * cdl-simworker subprocess on a free loopback port, registers it as the
 * "Demo Worker", uploads the bundled demo workflow, creates a small pool
 * of subjects and a draft task on it. The subprocess is stopped with the
 * service (or with cdl_demo_service_stop ()).
 *
 * The worker a demo registered (named "Demo Worker", tagged "demo")
 * outlives the session; cdl_demo_service_resume_async (), run when the
 * app starts, starts a new subprocess for it and points its base_url at
 * it, so the demo keeps working across restarts.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "services/cdl-instance.h"

G_BEGIN_DECLS

#define CDL_DEMO_WORKER_NAME    "Demo Worker"
#define CDL_DEMO_PROMPTS        6
#define CDL_DEMO_SEEDS          4

#define CDL_TYPE_DEMO_SERVICE (cdl_demo_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlDemoService, cdl_demo_service, CDL, DEMO_SERVICE, GObject)

CdlDemoService *cdl_demo_service_new            (CdlInstance     *instance);

/* Where cdl-simworker is: $CDL_SIMWORKER, next to the running program,
 * in the build tree ($CDL_BUILD_DIR/src/app), then the installed
 * libexecdir. NULL when none exists. */
char           *cdl_demo_service_find_simworker (void);

/* Starts the worker (or reuses the running one), registers it and waits
 * for a healthy probe, then creates the demo workflow, pool and a draft
 * task. Returns the new task's id. */
void            cdl_demo_service_start_async    (CdlDemoService  *self,
                                                 GCancellable    *cancellable,
                                                 GAsyncReadyCallback callback,
                                                 gpointer         user_data);
char           *cdl_demo_service_start_finish   (CdlDemoService  *self,
                                                 GAsyncResult    *result,
                                                 GError         **error);

/* When an enabled demo worker is registered, starts a subprocess for it
 * (unless one runs), updates the worker's base_url through the worker
 * service and waits for a healthy probe. Returns the worker's id, or
 * NULL without an error when there is no demo worker. */
void            cdl_demo_service_resume_async   (CdlDemoService  *self,
                                                 GCancellable    *cancellable,
                                                 GAsyncReadyCallback callback,
                                                 gpointer         user_data);
char           *cdl_demo_service_resume_finish  (CdlDemoService  *self,
                                                 GAsyncResult    *result,
                                                 GError         **error);

/* The base URL of the running demo worker, or NULL. */
const char     *cdl_demo_service_get_url        (CdlDemoService  *self);
/* The id of the registered demo worker, or NULL before a start. */
const char     *cdl_demo_service_get_worker_id  (CdlDemoService  *self);

/* Stops the subprocess and waits for it; the registration stays. */
void            cdl_demo_service_stop           (CdlDemoService  *self);

G_END_DECLS
