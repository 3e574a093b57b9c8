/* cdl-gallery-tasks.h: a task picker of the tasks that have stored images
 *
 * Fills an AdwComboRow from cdl_annotation_service_list_tasks_finish()
 * and tells which task is picked, for the Export and Quality pages.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Shows @tasks in @row, keeping @keep_id picked when it is listed.
 * Returns the number of tasks. */
guint       cdl_gallery_tasks_fill     (AdwComboRow *row,
                                        JsonNode    *tasks,
                                        const char  *keep_id);
/* After cdl_annotation_service_list_tasks_finish(): fills @row from
 * @tasks, keeping the task picked, and shows @stack's child @shown; or,
 * with no task or with @error, its "empty" child (an AdwStatusPage, which
 * then tells the error). Returns whether any task is listed. */
gboolean    cdl_gallery_tasks_show     (AdwComboRow  *row,
                                        GtkStack     *stack,
                                        const char   *shown,
                                        JsonNode     *tasks,
                                        const GError *error);
/* The id of the task picked in @row, or NULL. */
const char *cdl_gallery_tasks_selected (AdwComboRow *row);
/* Picks the task @task_id; FALSE when @row does not list it. */
gboolean    cdl_gallery_tasks_select   (AdwComboRow *row,
                                        const char  *task_id);

G_END_DECLS
