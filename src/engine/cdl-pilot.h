/* cdl-pilot.h: trying a task's heaviest prompt before the mass run
 *
 * Runs the samples of a pilot one after another on one worker, batch 1,
 * behind its queue gate. When the worker runs out of memory the sample is
 * sent again, lighter (cdl_schedule_downshift: the batch first, then the
 * resolution down to the guardrail), at most CDL_SCHEDULE_MAX_RETRIES
 * times for the whole pilot; the size that worked is kept for the samples
 * after it. Images go to tasks/{task_id}/pilot/ in the object store, never
 * into generations.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "core/cdl-schedule.h"
#include "core/cdl-settings.h"
#include "engine/cdl-job-runner.h"

G_BEGIN_DECLS

#define CDL_PILOT_ERROR (cdl_pilot_error_quark ())

typedef enum
{
  CDL_PILOT_ERROR_OUT_OF_MEMORY,  /* nothing left to lower, or retries spent */
  CDL_PILOT_ERROR_FAILED,         /* the worker failed otherwise */
} CdlPilotError;

GQuark cdl_pilot_error_quark (void);

typedef struct
{
  char         *task_id;
  char         *worker_id;
  CdlJobTarget  target;
  JsonNode     *graph;          /* API format, as frozen or as uploaded */
  GPtrArray    *prompt_nodes;   /* CdlPromptNode */
  GPtrArray    *seed_nodes;     /* CdlSeedNode */
  char         *text;           /* the positive prompt */
  GArray       *seeds;          /* gint64, one per sample */
  CdlSettings  *settings;       /* guardrails for the downshift */
} CdlPilotPlan;

void cdl_pilot_plan_free (CdlPilotPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlPilotPlan, cdl_pilot_plan_free)

typedef struct
{
  gint64  seed;
  char   *key;
  char   *thumb_key;
  char   *sha256;
  guint   width;
  guint   height;
} CdlPilotSample;

typedef struct
{
  char       *worker_id;
  GPtrArray  *samples;       /* CdlPilotSample */
  int         retries_used;
  CdlGenSize  size;          /* the settings that worked */
  gboolean    size_changed;  /* lower than the workflow's own */
} CdlPilotResult;

void cdl_pilot_result_free (CdlPilotResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlPilotResult, cdl_pilot_result_free)

/* The latent size of @graph (its first empty latent image); zeros for
 * what it does not say as a plain number. */
CdlGenSize      cdl_pilot_graph_size  (JsonNode             *graph);

/* The object keys of sample @index; pure. */
char           *cdl_pilot_image_key   (const char           *task_id,
                                       guint                 index,
                                       gint64                seed);
char           *cdl_pilot_thumb_key   (const char           *task_id,
                                       guint                 index,
                                       gint64                seed);

/* Takes @plan. @retries_used, when not NULL, is set on failure too. */
void            cdl_pilot_run_async   (CdlComfyClient       *client,
                                       CdlObjectStore       *store,
                                       CdlThumbnailer       *thumbnailer,
                                       CdlPilotPlan         *plan,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
CdlPilotResult *cdl_pilot_run_finish  (GAsyncResult         *result,
                                       int                  *retries_used,
                                       GError              **error);

G_END_DECLS
