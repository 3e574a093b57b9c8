/* cdl-worker.h: one registered ComfyUI worker, as the registry knows it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum
{
  CDL_WORKER_STATUS_UNHEALTHY,
  CDL_WORKER_STATUS_HEALTHY,
} CdlWorkerStatus;

const char      *cdl_worker_status_to_string   (CdlWorkerStatus status);
gboolean         cdl_worker_status_from_string (const char      *str,
                                                CdlWorkerStatus *status);

#define CDL_TYPE_WORKER (cdl_worker_get_type ())

G_DECLARE_FINAL_TYPE (CdlWorker, cdl_worker, CDL, WORKER, GObject)

/* Plain data, filled in by the repository; read through the accessors or
 * the read-only properties of the same names (for list bindings). */
typedef struct
{
  char            *id;
  char            *name;
  char            *base_url;
  char           **tags;
  CdlWorkerStatus  status;
  gboolean         enabled;
  int              priority;
  int              max_concurrent_jobs;
  int              current_queue_len;
  int              consecutive_failures;
  char            *last_error;
  GDateTime       *last_checked_at;
  GDateTime       *created_at;
  GDateTime       *updated_at;
} CdlWorkerData;

CdlWorker           *cdl_worker_new                  (CdlWorkerData *data);
const CdlWorkerData *cdl_worker_get_data             (CdlWorker     *self);
const char          *cdl_worker_get_id               (CdlWorker     *self);
const char          *cdl_worker_get_name             (CdlWorker     *self);
const char          *cdl_worker_get_base_url         (CdlWorker     *self);
const char * const  *cdl_worker_get_tags             (CdlWorker     *self);
CdlWorkerStatus      cdl_worker_get_status           (CdlWorker     *self);
gboolean             cdl_worker_get_enabled          (CdlWorker     *self);
int                  cdl_worker_get_priority         (CdlWorker     *self);
int                  cdl_worker_get_max_concurrent_jobs (CdlWorker  *self);
int                  cdl_worker_get_current_queue_len (CdlWorker    *self);
const char          *cdl_worker_get_last_error       (CdlWorker     *self);
GDateTime           *cdl_worker_get_last_checked_at  (CdlWorker     *self);
gboolean             cdl_worker_get_has_api_key      (CdlWorker     *self);
void                 cdl_worker_set_has_api_key      (CdlWorker     *self,
                                                      gboolean       has_api_key);

/* Spec 2.1's worker object: id, name, base_url, tags, status, enabled,
 * priority, max_concurrent_jobs, current_queue_len, last_checked_at, plus
 * consecutive_failures, last_error and has_api_key. The key itself never appears. */
JsonNode            *cdl_worker_to_json              (CdlWorker     *self);

void                 cdl_worker_data_clear           (CdlWorkerData *data);

G_END_DECLS
