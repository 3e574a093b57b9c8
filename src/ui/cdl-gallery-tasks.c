/* cdl-gallery-tasks.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "ui/cdl-gallery-tasks.h"

/* The ids ride along with the row, in the model's order. */
#define IDS_KEY "cdl-gallery-task-ids"

guint
cdl_gallery_tasks_fill (AdwComboRow *row,
                        JsonNode    *tasks,
                        const char  *keep_id)
{
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);
  g_autoptr(GStrvBuilder) ids = g_strv_builder_new ();
  JsonArray *array = json_node_get_array (tasks);
  guint n = json_array_get_length (array);

  for (guint i = 0; i < n; i++)
    {
      JsonObject *task = json_array_get_object_element (array, i);
      const char *name = json_object_get_string_member (task, "name");
      g_autofree char *label = NULL;

      /* TRANSLATORS: a task in a list: its name and its number of batches */
      label = g_strdup_printf (_("%s (%" PRId64 " batches)"),
                               name != NULL && *name != '\0' ? name : _("Untitled Task"),
                               json_object_get_int_member (task, "batches"));
      gtk_string_list_append (names, label);
      g_strv_builder_add (ids, json_object_get_string_member (task, "task_id"));
    }

  g_object_set_data_full (G_OBJECT (row), IDS_KEY, g_strv_builder_end (ids),
                          (GDestroyNotify) g_strfreev);
  adw_combo_row_set_model (row, G_LIST_MODEL (names));

  if (keep_id == NULL || !cdl_gallery_tasks_select (row, keep_id))
    adw_combo_row_set_selected (row, n > 0 ? 0 : GTK_INVALID_LIST_POSITION);

  return n;
}

gboolean
cdl_gallery_tasks_show (AdwComboRow  *row,
                        GtkStack     *stack,
                        const char   *shown,
                        JsonNode     *tasks,
                        const GError *error)
{
  g_autofree char *keep = NULL;

  if (tasks == NULL)
    {
      GtkWidget *empty = gtk_stack_get_child_by_name (stack, "empty");

      adw_status_page_set_description (ADW_STATUS_PAGE (empty), error->message);
      gtk_stack_set_visible_child_name (stack, "empty");
      return FALSE;
    }

  keep = g_strdup (cdl_gallery_tasks_selected (row));
  if (cdl_gallery_tasks_fill (row, tasks, keep) == 0)
    {
      gtk_stack_set_visible_child_name (stack, "empty");
      return FALSE;
    }

  gtk_stack_set_visible_child_name (stack, shown);
  return TRUE;
}

const char *
cdl_gallery_tasks_selected (AdwComboRow *row)
{
  char **ids = g_object_get_data (G_OBJECT (row), IDS_KEY);
  guint selected = adw_combo_row_get_selected (row);

  if (ids == NULL || selected == GTK_INVALID_LIST_POSITION || selected >= g_strv_length (ids))
    return NULL;

  return ids[selected];
}

gboolean
cdl_gallery_tasks_select (AdwComboRow *row,
                          const char  *task_id)
{
  char **ids = g_object_get_data (G_OBJECT (row), IDS_KEY);

  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      if (g_strcmp0 (ids[i], task_id) == 0)
        {
          adw_combo_row_set_selected (row, i);
          return TRUE;
        }
    }

  return FALSE;
}
