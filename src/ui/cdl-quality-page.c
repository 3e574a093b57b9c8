/* cdl-quality-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "ui/cdl-gallery-tasks.h"
#include "ui/cdl-quality-page.h"

struct _CdlQualityPage
{
  GtkWidget             parent_instance;

  CdlAnnotationService *service;
  GCancellable         *cancellable;
  GCancellable         *stats_cancellable;
  GPtrArray            *annotator_rows;
  gboolean              busy;
  gboolean              listing;

  /* template */
  GtkStack             *stack;
  AdwComboRow          *task_row;
  GtkLabel             *shared_label;
  GtkLabel             *agreement_label;
  AdwPreferencesGroup  *annotators_group;
};

G_DEFINE_FINAL_TYPE (CdlQualityPage, cdl_quality_page, GTK_TYPE_WIDGET)

static GtkWidget *
figure_row (const char *title,
            const char *value)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *label = gtk_label_new (value);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  gtk_widget_add_css_class (label, "numeric");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);

  return row;
}

static char *
format_ms (JsonObject *user)
{
  JsonNode *node = json_object_get_member (user, "median_decision_ms");

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return g_strdup (_("not measured"));

  /* TRANSLATORS: a time in seconds, e.g. "2.4 s" */
  return g_strdup_printf (_("%.1f s"), json_node_get_double (node) / 1000.0);
}

static GtkWidget *
annotator_row (JsonObject *user)
{
  gint64 labels = json_object_get_int_member (user, "labels");
  gint64 spam = json_object_get_int_member (user, "spam");
  double spam_rate = json_object_get_double_member (user, "spam_rate");
  JsonArray *positions = json_object_get_array_member (user, "chosen_by_position");
  g_autofree char *median = format_ms (user);
  g_autofree char *subtitle = NULL;
  g_autofree char *labels_text = g_strdup_printf ("%" PRId64, labels);
  g_autofree char *spam_text = NULL;
  GtkWidget *row = adw_expander_row_new ();
  gint64 chosen = 0;

  gtk_widget_set_name (row, "quality-annotator");
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row),
                                 json_object_get_string_member (user, "name"));
  /* TRANSLATORS: labels, median decision time and spam share of an annotator */
  subtitle = g_strdup_printf (ngettext ("%" PRId64 " label · median %s · %.0f %% spam",
                                        "%" PRId64 " labels · median %s · %.0f %% spam",
                                        labels),
                              labels, median, 100 * spam_rate);
  adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (row), subtitle);

  spam_text = g_strdup_printf ("%" PRId64 " (%.0f %%)", spam, 100 * spam_rate);
  adw_expander_row_add_row (ADW_EXPANDER_ROW (row), figure_row (_("Labels"), labels_text));
  adw_expander_row_add_row (ADW_EXPANDER_ROW (row), figure_row (_("Spam"), spam_text));
  adw_expander_row_add_row (ADW_EXPANDER_ROW (row),
                            figure_row (_("Median decision time"), median));

  for (guint i = 0; positions != NULL && i < json_array_get_length (positions); i++)
    chosen += json_array_get_int_element (positions, i);

  for (guint i = 0; positions != NULL && i < json_array_get_length (positions); i++)
    {
      gint64 count = json_array_get_int_element (positions, i);
      g_autofree char *title = NULL;
      g_autofree char *value = NULL;
      GtkWidget *position_row;
      GtkWidget *bar;

      /* TRANSLATORS: %u is a position in the order the images were shown */
      title = g_strdup_printf (_("Chosen at position %u"), i + 1);
      value = g_strdup_printf ("%" PRId64, count);
      position_row = figure_row (title, value);
      bar = gtk_level_bar_new_for_interval (0, MAX (chosen, 1));
      gtk_level_bar_set_value (GTK_LEVEL_BAR (bar), count);
      gtk_widget_set_size_request (bar, 160, -1);
      gtk_widget_set_valign (bar, GTK_ALIGN_CENTER);
      adw_action_row_add_suffix (ADW_ACTION_ROW (position_row), bar);
      adw_expander_row_add_row (ADW_EXPANDER_ROW (row), position_row);
    }

  return row;
}

static void
stats_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GCancellable) cancellable = user_data;
  g_autoptr(CdlQualityPage) self = g_object_steal_data (G_OBJECT (cancellable), "cdl-page");
  g_autoptr(JsonNode) stats = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *shared = NULL;
  g_autofree char *agreement = NULL;
  JsonObject *obj;
  JsonObject *agree;
  JsonArray *users;

  stats = cdl_annotation_service_stats_finish (self->service, result, &error);
  /* A newer request replaced this one. */
  if (g_cancellable_is_cancelled (cancellable))
    return;

  self->busy = FALSE;
  for (guint i = 0; i < self->annotator_rows->len; i++)
    adw_preferences_group_remove (self->annotators_group,
                                  g_ptr_array_index (self->annotator_rows, i));
  g_ptr_array_set_size (self->annotator_rows, 0);

  if (stats == NULL)
    {
      GtkWidget *row = figure_row (error->message, "");

      adw_preferences_group_add (self->annotators_group, row);
      g_ptr_array_add (self->annotator_rows, row);
      return;
    }

  obj = json_node_get_object (stats);
  agree = json_object_get_object_member (obj, "agreement");
  shared = g_strdup_printf ("%" PRId64, json_object_get_int_member (agree, "batches"));
  gtk_label_set_label (self->shared_label, shared);
  if (json_object_get_null_member (agree, "rate"))
    agreement = g_strdup (_("no shared batches"));
  else
    agreement = g_strdup_printf ("%" PRId64 " (%.0f %%)",
                                 json_object_get_int_member (agree, "identical"),
                                 100 * json_object_get_double_member (agree, "rate"));
  gtk_label_set_label (self->agreement_label, agreement);

  users = json_object_get_array_member (obj, "annotators");
  for (guint i = 0; i < json_array_get_length (users); i++)
    {
      GtkWidget *row = annotator_row (json_array_get_object_element (users, i));

      adw_preferences_group_add (self->annotators_group, row);
      g_ptr_array_add (self->annotator_rows, row);
    }

  if (json_array_get_length (users) == 0)
    {
      GtkWidget *row = figure_row (_("Nobody has labelled this task yet"), "");

      adw_preferences_group_add (self->annotators_group, row);
      g_ptr_array_add (self->annotator_rows, row);
    }
}

static void
cdl_quality_page_task_changed_cb (CdlQualityPage *self,
                                  GParamSpec     *pspec,
                                  AdwComboRow    *row)
{
  const char *task_id = cdl_gallery_tasks_selected (self->task_row);

  g_cancellable_cancel (self->stats_cancellable);
  g_clear_object (&self->stats_cancellable);
  self->busy = FALSE;

  if (task_id == NULL || self->service == NULL)
    return;

  self->stats_cancellable = g_cancellable_new ();
  self->busy = TRUE;
  g_object_set_data_full (G_OBJECT (self->stats_cancellable), "cdl-page", g_object_ref (self),
                          g_object_unref);
  cdl_annotation_service_stats_async (self->service, task_id, self->stats_cancellable,
                                      stats_cb, g_object_ref (self->stats_cancellable));
}

static void
tasks_listed_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(CdlQualityPage) self = user_data;
  g_autoptr(JsonNode) tasks = NULL;
  g_autoptr(GError) error = NULL;

  tasks = cdl_annotation_service_list_tasks_finish (self->service, result, &error);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;

  self->listing = FALSE;
  if (cdl_gallery_tasks_show (self->task_row, self->stack, "stats", tasks, error))
    cdl_quality_page_task_changed_cb (self, NULL, self->task_row);
}

void
cdl_quality_page_reload (CdlQualityPage *self)
{
  g_return_if_fail (CDL_IS_QUALITY_PAGE (self));

  if (self->service == NULL)
    return;

  self->listing = TRUE;
  cdl_annotation_service_list_tasks_async (self->service, NULL, self->cancellable,
                                           tasks_listed_cb, g_object_ref (self));
}

static void
reload_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  cdl_quality_page_reload (CDL_QUALITY_PAGE (widget));
}

static void
cdl_quality_page_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (cdl_quality_page_parent_class)->map (widget);

  cdl_quality_page_reload (CDL_QUALITY_PAGE (widget));
}

static void
cdl_quality_page_dispose (GObject *object)
{
  CdlQualityPage *self = CDL_QUALITY_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_cancellable_cancel (self->stats_cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_QUALITY_PAGE);
  g_clear_object (&self->service);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->stats_cancellable);
  g_clear_pointer (&self->annotator_rows, g_ptr_array_unref);

  G_OBJECT_CLASS (cdl_quality_page_parent_class)->dispose (object);
}

static void
cdl_quality_page_class_init (CdlQualityPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_quality_page_dispose;
  widget_class->map = cdl_quality_page_map;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-quality-page.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlQualityPage, stack);
  gtk_widget_class_bind_template_child (widget_class, CdlQualityPage, task_row);
  gtk_widget_class_bind_template_child (widget_class, CdlQualityPage, shared_label);
  gtk_widget_class_bind_template_child (widget_class, CdlQualityPage, agreement_label);
  gtk_widget_class_bind_template_child (widget_class, CdlQualityPage, annotators_group);
  gtk_widget_class_bind_template_callback (widget_class, cdl_quality_page_task_changed_cb);

  gtk_widget_class_install_action (widget_class, "quality.reload", NULL, reload_action);
}

static void
cdl_quality_page_init (CdlQualityPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();
  self->annotator_rows = g_ptr_array_new ();
}

void
cdl_quality_page_set_service (CdlQualityPage       *self,
                              CdlAnnotationService *service)
{
  g_return_if_fail (CDL_IS_QUALITY_PAGE (self));
  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (service));

  if (g_set_object (&self->service, service))
    cdl_quality_page_reload (self);
}

gboolean
cdl_quality_page_select_task (CdlQualityPage *self,
                              const char     *task_id)
{
  g_return_val_if_fail (CDL_IS_QUALITY_PAGE (self), FALSE);

  return cdl_gallery_tasks_select (self->task_row, task_id);
}

gboolean
cdl_quality_page_is_busy (CdlQualityPage *self)
{
  g_return_val_if_fail (CDL_IS_QUALITY_PAGE (self), FALSE);

  return self->busy || self->listing;
}
