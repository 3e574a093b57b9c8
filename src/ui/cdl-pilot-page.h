/* cdl-pilot-page.h: the pilot review of a task before its freeze
 *
 * A window over the task page: it runs the task's pilot (ten samples of
 * its heaviest prompt on one worker), shows the samples as thumbnails read
 * from the image store and decoded off the main thread, the retries the
 * worker's memory cost and the settings that worked, says in plain words
 * why a pilot could not run, and freezes the task with those settings.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-pilot-service.h"
#include "services/cdl-task-service.h"
#include "services/cdl-worker-service.h"
#include "storage/cdl-object-store.h"

G_BEGIN_DECLS

#define CDL_TYPE_PILOT_PAGE (cdl_pilot_page_get_type ())

G_DECLARE_FINAL_TYPE (CdlPilotPage, cdl_pilot_page, CDL, PILOT_PAGE, AdwWindow)

/* Shows the last pilot of @task_id, if any. @workers may be NULL (the
 * worker is then named by its id). */
CdlPilotPage *cdl_pilot_page_new            (CdlPilotService  *pilots,
                                             CdlTaskService   *tasks,
                                             CdlWorkerService *workers,
                                             CdlObjectStore   *store,
                                             const char       *task_id,
                                             const char       *task_title);

const char   *cdl_pilot_page_get_task_id    (CdlPilotPage     *self);

/* Runs the pilot again (the Run button). */
void          cdl_pilot_page_run            (CdlPilotPage     *self);

/* Freezes the task with the pilot's settings (the Freeze button); the
 * window closes once the task is frozen. */
void          cdl_pilot_page_freeze         (CdlPilotPage     *self);

/* "empty", "running", "error" or "result". */
const char   *cdl_pilot_page_get_view       (CdlPilotPage     *self);

/* Samples shown, and how many of their thumbnails are on screen. */
guint         cdl_pilot_page_get_n_samples  (CdlPilotPage     *self);
guint         cdl_pilot_page_get_n_loaded   (CdlPilotPage     *self);

/* The last pilot's record ({samples, worker_id, retries_used, settings}
 * or {error, ...}), or NULL. */
JsonNode     *cdl_pilot_page_get_record     (CdlPilotPage     *self);

G_END_DECLS
