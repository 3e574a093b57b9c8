/* cdl-alerts-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <glib/gi18n.h>

#include "ui/cdl-alerts-page.h"

#define ALERTS_SHOWN 200

struct _CdlAlertsPage
{
  GtkWidget        parent_instance;

  CdlAlertService *service;
  GCancellable    *cancellable;
  guint            n_rows;

  /* template */
  GtkStack        *stack;
  GtkListBox      *list;
};

G_DEFINE_FINAL_TYPE (CdlAlertsPage, cdl_alerts_page, GTK_TYPE_WIDGET)

static const char *
kind_title (const char *kind)
{
  if (g_strcmp0 (kind, CDL_ALERT_WORKER_UNHEALTHY) == 0)
    return _("Worker unhealthy");
  if (g_strcmp0 (kind, CDL_ALERT_WORKER_FAILING) == 0)
    return _("Worker failing jobs");
  if (g_strcmp0 (kind, CDL_ALERT_TASK_STALLED) == 0)
    return _("Task not moving");
  if (g_strcmp0 (kind, CDL_ALERT_STORAGE_LOW) == 0)
    return _("Storage space low");
  if (g_strcmp0 (kind, CDL_ALERT_DEFAULT_PARTITION) == 0)
    return _("Images in the default partition");

  return kind;
}

static GtkWidget *
alert_row (JsonObject *alert)
{
  const char *state = json_object_get_string_member (alert, "state");
  const char *created = json_object_get_string_member (alert, "created_at");
  gboolean firing = g_strcmp0 (state, "firing") == 0;
  g_autoptr(GDateTime) when = created ? g_date_time_new_from_iso8601 (created, NULL) : NULL;
  g_autoptr(GDateTime) local = when ? g_date_time_to_local (when) : NULL;
  g_autofree char *time_text = local ? g_date_time_format (local, "%x %X") : g_strdup ("");
  g_autofree char *subtitle = NULL;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *icon;

  gtk_widget_set_name (row, firing ? "alert-firing" : "alert-cleared");
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row),
                                 kind_title (json_object_get_string_member (alert, "kind")));
  /* TRANSLATORS: an alert's message, then "firing since <time>" or
   * "cleared, raised <time>" */
  subtitle = g_strdup_printf (firing ? _("%s — firing since %s")
                                     : _("%s — cleared, raised %s"),
                              json_object_get_string_member (alert, "message"), time_text);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);

  icon = gtk_image_new_from_icon_name (firing ? "dialog-warning-symbolic"
                                              : "emblem-ok-symbolic");
  if (firing)
    gtk_widget_add_css_class (icon, "warning");
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);

  return row;
}

static void
list_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  CdlAlertsPage *self = user_data;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *alerts;
  GtkWidget *child;

  node = cdl_alert_service_list_finish (self->service, result, &error);
  if (node == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Cannot list the alerts: %s", error->message);
      return;
    }

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != NULL)
    gtk_list_box_remove (self->list, child);

  alerts = json_node_get_array (node);
  self->n_rows = json_array_get_length (alerts);
  for (guint i = 0; i < self->n_rows; i++)
    gtk_list_box_append (self->list, alert_row (json_array_get_object_element (alerts, i)));

  gtk_stack_set_visible_child_name (self->stack, self->n_rows > 0 ? "list" : "empty");
}

void
cdl_alerts_page_reload (CdlAlertsPage *self)
{
  g_return_if_fail (CDL_IS_ALERTS_PAGE (self));

  if (self->service == NULL)
    return;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  cdl_alert_service_list_async (self->service, ALERTS_SHOWN, FALSE, self->cancellable,
                                list_done_cb, self);
}

static void
alert_cb (CdlAlertService *service,
          const char      *kind,
          const char      *subject,
          const char      *state,
          const char      *message,
          CdlAlertsPage   *self)
{
  cdl_alerts_page_reload (self);
}

void
cdl_alerts_page_set_service (CdlAlertsPage   *self,
                             CdlAlertService *service)
{
  g_return_if_fail (CDL_IS_ALERTS_PAGE (self));
  g_return_if_fail (CDL_IS_ALERT_SERVICE (service));

  if (self->service == service)
    return;

  if (self->service != NULL)
    g_signal_handlers_disconnect_by_data (self->service, self);
  g_set_object (&self->service, service);
  g_signal_connect_object (service, "alert", G_CALLBACK (alert_cb), self, 0);
  cdl_alerts_page_reload (self);
}

guint
cdl_alerts_page_get_n_rows (CdlAlertsPage *self)
{
  g_return_val_if_fail (CDL_IS_ALERTS_PAGE (self), 0);

  return self->n_rows;
}

static void
reload_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  cdl_alerts_page_reload (CDL_ALERTS_PAGE (widget));
}

static void
cdl_alerts_page_dispose (GObject *object)
{
  CdlAlertsPage *self = (CdlAlertsPage *)object;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->service != NULL)
    g_signal_handlers_disconnect_by_data (self->service, self);
  g_clear_object (&self->service);
  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_ALERTS_PAGE);

  G_OBJECT_CLASS (cdl_alerts_page_parent_class)->dispose (object);
}

static void
cdl_alerts_page_class_init (CdlAlertsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_alerts_page_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_BASE
                                               "/ui/cdl-alerts-page.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlAlertsPage, stack);
  gtk_widget_class_bind_template_child (widget_class, CdlAlertsPage, list);
  gtk_widget_class_install_action (widget_class, "alerts.reload", NULL, reload_action);
}

static void
cdl_alerts_page_init (CdlAlertsPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
