/* cdl-annotator-repo.h: what an annotator's phone asks about tasks
 *
 * Counts come from annotation_batches (0007), so they cost an index scan
 * per task, not a pass over the images. A batch is ready when all its
 * images are stored, labelled when it has as many labels as the task's
 * overlap setting asks for.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

/* {"tasks": [{id, name, status, batches_ready, batches_labelled,
 * my_labels, seeds_per_prompt}]}: the tasks with a ready batch, newest
 * first; my_labels counts @user_id's annotations. */
JsonNode *cdl_annotator_repo_tasks    (PGconn      *conn,
                                       const char  *user_id,
                                       GError     **error);

/* {batches_ready, batches_total, batches_labelled, my_labels} of a task;
 * batches_total is its number of prompts. CDL_DB_ERROR_NOT_FOUND for an
 * unknown task. */
JsonNode *cdl_annotator_repo_progress (PGconn      *conn,
                                       const char  *task_id,
                                       const char  *user_id,
                                       GError     **error);

/* The task's repeat rate (tasks.repeat_rate, 0 to 0.2); -1 with
 * CDL_DB_ERROR_NOT_FOUND for an unknown task. */
double    cdl_annotator_repo_repeat_rate     (PGconn      *conn,
                                              const char  *task_id,
                                              GError     **error);

/* Sets it; CDL_DB_ERROR_NOT_FOUND for an unknown task. */
gboolean  cdl_annotator_repo_set_repeat_rate (PGconn      *conn,
                                              const char  *task_id,
                                              double       rate,
                                              GError     **error);

G_END_DECLS
