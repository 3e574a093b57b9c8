/* cdl-pilot-service.h: piloting a task before it is frozen (spec 2.4)
 *
 * The pilot takes the task's heaviest prompt — the longest text in
 * characters, the first by position among equals — and makes ten samples
 * of it at batch 1 on the worker the selection rule picks, with the
 * prompt's first ten seeds (more drawn from the task's rng seed when it
 * has fewer). The result is kept in tasks.pilot, and a later freeze copies
 * its settings into the snapshot so that the mass run uses the size that
 * worked.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "comfy/cdl-comfy-client.h"
#include "db/cdl-db.h"
#include "engine/cdl-scheduler.h"
#include "services/cdl-annotation-service.h"
#include "services/cdl-worker-service.h"
#include "storage/cdl-object-store.h"

G_BEGIN_DECLS

/* Samples per pilot. */
#define CDL_PILOT_SAMPLES 10

/* The longest a pilot may take, all retries included. */
#define CDL_PILOT_TIMEOUT_SECONDS 600

#define CDL_TYPE_PILOT_SERVICE (cdl_pilot_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlPilotService, cdl_pilot_service, CDL, PILOT_SERVICE, GObject)

/* @media may be NULL: samples then carry their storage key as uri. */
CdlPilotService *cdl_pilot_service_new (CdlDb                *db,
                                        CdlWorkerService     *workers,
                                        CdlComfyClient       *client,
                                        CdlObjectStore       *store,
                                        CdlAnnotationService *media,
                                        CdlApiKeyFunc         api_key_func,
                                        gpointer              api_key_data);

/* Pilots a DRAFT or FROZEN task for @user_id (NULL: no rate limit, for
 * callers inside the process). 404 unknown task, 409 in another state or
 * with no enabled HEALTHY worker (nothing is sent), 429 when @user_id
 * started a pilot less than pilot_rate_limit_seconds ago, on any
 * instance; 409 too when the worker runs out of memory whatever the
 * retries do. Returns {samples: [{uri, thumbnail, key, seed, checksum}],
 * worker_id, retries_used, settings: {width, height, batch_size}}. */
void      cdl_pilot_service_pilot_async (CdlPilotService     *self,
                                         const char          *task_id,
                                         const char          *user_id,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
/* The last pilot's result (or its error); 404 when none ran. */
void      cdl_pilot_service_get_async   (CdlPilotService     *self,
                                         const char          *task_id,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
JsonNode *cdl_pilot_service_finish      (CdlPilotService     *self,
                                         GAsyncResult        *result,
                                         GError             **error);

/* Test hook: the overall time-out in seconds (default
 * CDL_PILOT_TIMEOUT_SECONDS). */
void      cdl_pilot_service_set_timeout (CdlPilotService     *self,
                                         guint                seconds);

G_END_DECLS
