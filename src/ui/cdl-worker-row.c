/* cdl-worker-row.c: one worker in the registry list
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <glib/gi18n.h>

#include "ui/cdl-worker-row.h"

struct _CdlWorkerRow
{
  GtkWidget         parent_instance;

  CdlWorkerService *service;
  CdlWorker        *worker;
  guint             tick_id;
  /* Set while the switch is being moved to match the worker, so that the
   * change is not taken for the user's. */
  gboolean          syncing;
  gboolean          toggling;
  gboolean          testing;

  /* template */
  GtkWidget        *box;
  GtkLabel         *name_label;
  GtkLabel         *health_badge;
  GtkLabel         *url_label;
  GtkLabel         *details_label;
  GtkWidget        *tags_box;
  GtkLabel         *error_label;
  GtkLabel         *queue_label;
  GtkLabel         *checked_label;
  GtkSwitch        *enabled_switch;
  GtkButton        *test_button;
  GtkWidget        *edit_button;
};

G_DEFINE_FINAL_TYPE (CdlWorkerRow, cdl_worker_row, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_SERVICE,
  PROP_WORKER,
  N_PROPS
};

enum {
  WORKER_UPDATED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static const char * const badge_classes[] = {
  "healthy", "unhealthy", "checking", "disabled",
};

static void
cdl_worker_row_toast (CdlWorkerRow *self,
                      const char   *text)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);
  AdwToast *toast;

  if (overlay == NULL)
    {
      /* The row left the window while the request ran. */
      g_message ("%s", text);
      return;
    }

  toast = adw_toast_new (text);
  adw_toast_set_timeout (toast, 5);
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
}

static char *
cdl_format_checked (GDateTime *checked_at)
{
  g_autoptr(GDateTime) now = NULL;
  GTimeSpan span;
  gint64 seconds;

  if (checked_at == NULL)
    return g_strdup (_("not checked yet"));

  now = g_date_time_new_now_utc ();
  span = g_date_time_difference (now, checked_at);
  seconds = MAX (0, span / G_TIME_SPAN_SECOND);

  if (seconds < 2)
    return g_strdup (_("checked just now"));
  if (seconds < 60)
    /* TRANSLATORS: the age of the last health check, in seconds */
    return g_strdup_printf (_("checked %d s ago"), (int) seconds);
  if (seconds < 3600)
    /* TRANSLATORS: the age of the last health check, in minutes */
    return g_strdup_printf (_("checked %d min ago"), (int) (seconds / 60));
  if (seconds < 86400)
    /* TRANSLATORS: the age of the last health check, in hours */
    return g_strdup_printf (_("checked %d h ago"), (int) (seconds / 3600));

  {
    g_autoptr(GDateTime) local = g_date_time_to_local (checked_at);
    g_autofree char *date = g_date_time_format (local, "%x");

    /* TRANSLATORS: %s is a date */
    return g_strdup_printf (_("checked on %s"), date);
  }
}

static void
cdl_worker_row_update_checked (CdlWorkerRow *self)
{
  g_autofree char *text = NULL;
  GDateTime *checked_at;

  if (self->worker == NULL)
    return;

  checked_at = cdl_worker_get_last_checked_at (self->worker);
  text = cdl_format_checked (checked_at);
  gtk_label_set_label (self->checked_label, text);

  if (checked_at != NULL)
    {
      g_autoptr(GDateTime) local = g_date_time_to_local (checked_at);
      g_autofree char *exact = g_date_time_format (local, "%c");

      gtk_widget_set_tooltip_text (GTK_WIDGET (self->checked_label), exact);
    }
  else
    {
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->checked_label), NULL);
    }
}

static gboolean
cdl_worker_row_tick_cb (gpointer user_data)
{
  CdlWorkerRow *self = user_data;

  cdl_worker_row_update_checked (self);

  return G_SOURCE_CONTINUE;
}

static void
cdl_worker_row_set_badge (CdlWorkerRow *self,
                          const char   *text,
                          const char   *css_class)
{
  gtk_label_set_label (self->health_badge, text);

  for (guint i = 0; i < G_N_ELEMENTS (badge_classes); i++)
    {
      if (g_str_equal (badge_classes[i], css_class))
        gtk_widget_add_css_class (GTK_WIDGET (self->health_badge), badge_classes[i]);
      else
        gtk_widget_remove_css_class (GTK_WIDGET (self->health_badge), badge_classes[i]);
    }
}

static void
cdl_worker_row_sync_switch (CdlWorkerRow *self)
{
  gboolean enabled = self->worker != NULL && cdl_worker_get_enabled (self->worker);

  self->syncing = TRUE;
  gtk_switch_set_active (self->enabled_switch, enabled);
  gtk_switch_set_state (self->enabled_switch, enabled);
  self->syncing = FALSE;

  gtk_widget_set_sensitive (GTK_WIDGET (self->enabled_switch), !self->toggling);
}

static void
cdl_worker_row_sync (CdlWorkerRow *self)
{
  CdlWorker *worker = self->worker;
  GtkWidget *child;
  const char * const *tags;
  const char *last_error;
  g_autofree char *queue = NULL;
  g_autofree char *details = NULL;
  gboolean enabled;
  gboolean show_error;

  if (worker == NULL)
    return;

  enabled = cdl_worker_get_enabled (worker);

  gtk_label_set_label (self->name_label, cdl_worker_get_name (worker));
  gtk_label_set_label (self->url_label, cdl_worker_get_base_url (worker));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->url_label), cdl_worker_get_base_url (worker));

  if (!enabled)
    cdl_worker_row_set_badge (self, _("Disabled"), "disabled");
  else if (cdl_worker_get_last_checked_at (worker) == NULL)
    cdl_worker_row_set_badge (self, _("Checking…"), "checking");
  else if (cdl_worker_get_status (worker) == CDL_WORKER_STATUS_HEALTHY)
    cdl_worker_row_set_badge (self, _("Healthy"), "healthy");
  else
    cdl_worker_row_set_badge (self, _("Unhealthy"), "unhealthy");

  /* TRANSLATORS: jobs waiting or running on the worker now */
  queue = g_strdup_printf (_("Queue %d"), cdl_worker_get_current_queue_len (worker));
  gtk_label_set_label (self->queue_label, queue);

  details = g_strdup_printf (ngettext ("Priority %d · %d job at a time",
                                       "Priority %d · %d jobs at a time",
                                       cdl_worker_get_max_concurrent_jobs (worker)),
                             cdl_worker_get_priority (worker),
                             cdl_worker_get_max_concurrent_jobs (worker));
  gtk_label_set_label (self->details_label, details);

  while ((child = gtk_widget_get_first_child (self->tags_box)) != NULL)
    gtk_box_remove (GTK_BOX (self->tags_box), child);

  tags = cdl_worker_get_tags (worker);
  for (guint i = 0; tags != NULL && tags[i] != NULL; i++)
    {
      GtkWidget *tag = gtk_label_new (tags[i]);

      gtk_widget_add_css_class (tag, "tag");
      gtk_label_set_ellipsize (GTK_LABEL (tag), PANGO_ELLIPSIZE_END);
      gtk_label_set_max_width_chars (GTK_LABEL (tag), 20);
      gtk_box_append (GTK_BOX (self->tags_box), tag);
    }
  gtk_widget_set_visible (self->tags_box, tags != NULL && tags[0] != NULL);

  last_error = cdl_worker_get_last_error (worker);
  show_error = enabled &&
               cdl_worker_get_status (worker) == CDL_WORKER_STATUS_UNHEALTHY &&
               last_error != NULL && *last_error != '\0';
  gtk_label_set_label (self->error_label, show_error ? last_error : "");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->error_label), show_error ? last_error : NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), show_error);

  if (enabled)
    gtk_widget_remove_css_class (self->box, "disabled-worker");
  else
    gtk_widget_add_css_class (self->box, "disabled-worker");

  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->edit_button), "s",
                                    cdl_worker_get_id (worker));

  cdl_worker_row_sync_switch (self);
  cdl_worker_row_update_checked (self);
}

static gboolean
cdl_worker_row_shows (CdlWorkerRow *self,
                      const char   *id)
{
  return self->worker != NULL && g_strcmp0 (cdl_worker_get_id (self->worker), id) == 0;
}

typedef struct
{
  CdlWorkerRow *row;
  char         *id;
  char         *name;
  gboolean      enabled;
} RowRequest;

static void
row_request_free (RowRequest *request)
{
  g_clear_object (&request->row);
  g_clear_pointer (&request->id, g_free);
  g_clear_pointer (&request->name, g_free);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RowRequest, row_request_free)

static RowRequest *
row_request_new (CdlWorkerRow *self)
{
  RowRequest *request = g_new0 (RowRequest, 1);

  request->row = g_object_ref (self);
  request->id = g_strdup (cdl_worker_get_id (self->worker));
  request->name = g_strdup (cdl_worker_get_name (self->worker));

  return request;
}

static void
cdl_worker_row_update_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(RowRequest) request = user_data;
  CdlWorkerRow *self = request->row;
  g_autoptr(CdlWorker) worker = NULL;
  g_autoptr(GError) error = NULL;

  worker = cdl_worker_service_update_finish (CDL_WORKER_SERVICE (object), result, &error);

  if (cdl_worker_row_shows (self, request->id))
    self->toggling = FALSE;

  if (worker == NULL)
    {
      g_autofree char *text = NULL;

      if (request->enabled)
        /* TRANSLATORS: the first %s is a worker name, the second the reason */
        text = g_strdup_printf (_("Could not enable %s: %s"), request->name, error->message);
      else
        /* TRANSLATORS: the first %s is a worker name, the second the reason */
        text = g_strdup_printf (_("Could not disable %s: %s"), request->name, error->message);

      g_warning ("%s", text);
      cdl_worker_row_toast (self, text);

      /* Back to what the worker really is. */
      if (cdl_worker_row_shows (self, request->id))
        cdl_worker_row_sync_switch (self);
      return;
    }

  g_signal_emit (self, signals[WORKER_UPDATED], 0, worker);

  if (cdl_worker_row_shows (self, request->id))
    cdl_worker_row_set_worker (self, worker);
}

static gboolean
cdl_worker_row_state_set_cb (CdlWorkerRow *self,
                             gboolean      state,
                             GtkSwitch    *button)
{
  g_autoptr(CdlWorkerInput) input = NULL;
  RowRequest *request;

  if (self->syncing || self->worker == NULL || self->service == NULL)
    return FALSE;

  if (state == cdl_worker_get_enabled (self->worker))
    return FALSE;

  input = cdl_worker_input_new ();
  input->set = CDL_WORKER_FIELD_ENABLED;
  input->enabled = state;

  request = row_request_new (self);
  request->enabled = state;

  /* The switch stays in between until the service answers, which takes
   * the input. */
  self->toggling = TRUE;
  gtk_widget_set_sensitive (GTK_WIDGET (self->enabled_switch), FALSE);

  cdl_worker_service_update_async (self->service,
                                   request->id,
                                   g_steal_pointer (&input),
                                   NULL,
                                   cdl_worker_row_update_cb,
                                   request);

  return TRUE;
}

static void
cdl_worker_row_set_testing (CdlWorkerRow *self,
                            gboolean      testing)
{
  self->testing = testing;
  gtk_widget_set_sensitive (GTK_WIDGET (self->test_button), !testing);
  gtk_button_set_label (self->test_button, testing ? _("Testing…") : _("_Test"));
}

static void
cdl_worker_row_test_done_cb (GObject      *object,
                             GAsyncResult *result,
                             gpointer      user_data)
{
  g_autoptr(RowRequest) request = user_data;
  CdlWorkerRow *self = request->row;
  g_autoptr(CdlWorkerTestResult) outcome = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  outcome = cdl_worker_service_test_finish (CDL_WORKER_SERVICE (object), result, &error);

  if (cdl_worker_row_shows (self, request->id))
    cdl_worker_row_set_testing (self, FALSE);

  if (outcome == NULL)
    {
      /* TRANSLATORS: the first %s is a worker name, the second the reason */
      text = g_strdup_printf (_("Could not test %s: %s"), request->name, error->message);
      g_warning ("%s", text);
      cdl_worker_row_toast (self, text);
      return;
    }

  if (outcome->healthy)
    /* TRANSLATORS: %s is a worker name; then the jobs running and waiting on it */
    text = g_strdup_printf (_("%s is healthy — %d running, %d pending"),
                            request->name, outcome->running, outcome->pending);
  else
    /* TRANSLATORS: the first %s is a worker name, the second the reason */
    text = g_strdup_printf (_("%s failed: %s"), request->name,
                            outcome->message != NULL ? outcome->message : _("no answer"));

  cdl_worker_row_toast (self, text);

  if (outcome->worker != NULL)
    {
      g_signal_emit (self, signals[WORKER_UPDATED], 0, outcome->worker);

      if (cdl_worker_row_shows (self, request->id))
        cdl_worker_row_set_worker (self, outcome->worker);
    }
}

static void
cdl_worker_row_test_cb (CdlWorkerRow *self,
                        GtkButton    *button)
{
  RowRequest *request;

  if (self->worker == NULL || self->service == NULL || self->testing)
    return;

  request = row_request_new (self);
  cdl_worker_row_set_testing (self, TRUE);

  cdl_worker_service_test_async (self->service,
                                 request->id,
                                 NULL,
                                 cdl_worker_row_test_done_cb,
                                 request);
}

static void
cdl_worker_row_map (GtkWidget *widget)
{
  CdlWorkerRow *self = CDL_WORKER_ROW (widget);

  GTK_WIDGET_CLASS (cdl_worker_row_parent_class)->map (widget);

  cdl_worker_row_update_checked (self);
  if (self->tick_id == 0)
    self->tick_id = g_timeout_add_seconds (1, cdl_worker_row_tick_cb, self);
}

static void
cdl_worker_row_unmap (GtkWidget *widget)
{
  CdlWorkerRow *self = CDL_WORKER_ROW (widget);

  g_clear_handle_id (&self->tick_id, g_source_remove);

  GTK_WIDGET_CLASS (cdl_worker_row_parent_class)->unmap (widget);
}

static void
cdl_worker_row_dispose (GObject *object)
{
  CdlWorkerRow *self = CDL_WORKER_ROW (object);

  g_clear_handle_id (&self->tick_id, g_source_remove);
  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_WORKER_ROW);
  g_clear_object (&self->worker);
  g_clear_object (&self->service);

  G_OBJECT_CLASS (cdl_worker_row_parent_class)->dispose (object);
}

static void
cdl_worker_row_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  CdlWorkerRow *self = CDL_WORKER_ROW (object);

  switch (prop_id)
    {
    case PROP_SERVICE:
      g_value_set_object (value, self->service);
      break;

    case PROP_WORKER:
      g_value_set_object (value, self->worker);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_worker_row_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  CdlWorkerRow *self = CDL_WORKER_ROW (object);

  switch (prop_id)
    {
    case PROP_SERVICE:
      self->service = g_value_dup_object (value);
      break;

    case PROP_WORKER:
      cdl_worker_row_set_worker (self, g_value_get_object (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_worker_row_class_init (CdlWorkerRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_worker_row_dispose;
  object_class->get_property = cdl_worker_row_get_property;
  object_class->set_property = cdl_worker_row_set_property;

  widget_class->map = cdl_worker_row_map;
  widget_class->unmap = cdl_worker_row_unmap;

  properties[PROP_SERVICE] =
    g_param_spec_object ("service", NULL, NULL,
                         CDL_TYPE_WORKER_SERVICE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_WORKER] =
    g_param_spec_object ("worker", NULL, NULL,
                         CDL_TYPE_WORKER,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CdlWorkerRow::worker-updated:
   * @worker: the worker as the service now has it
   *
   * Emitted when a switch change or a test returned a newer copy of the
   * worker, so that the list holding it can replace its item.
   */
  signals[WORKER_UPDATED] =
    g_signal_new ("worker-updated",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CDL_TYPE_WORKER);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-worker-row.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, box);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, health_badge);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, url_label);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, details_label);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, tags_box);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, error_label);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, queue_label);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, checked_label);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, enabled_switch);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, test_button);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerRow, edit_button);
  gtk_widget_class_bind_template_callback (widget_class, cdl_worker_row_state_set_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_worker_row_test_cb);
}

static void
cdl_worker_row_init (CdlWorkerRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  /* The target first: the action takes the worker's id. */
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->edit_button), "s", "");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->edit_button), "workers.edit");
}

CdlWorkerRow *
cdl_worker_row_new (CdlWorkerService *service)
{
  g_return_val_if_fail (service == NULL || CDL_IS_WORKER_SERVICE (service), NULL);

  return g_object_new (CDL_TYPE_WORKER_ROW,
                       "service", service,
                       NULL);
}

CdlWorker *
cdl_worker_row_get_worker (CdlWorkerRow *self)
{
  g_return_val_if_fail (CDL_IS_WORKER_ROW (self), NULL);

  return self->worker;
}

void
cdl_worker_row_set_worker (CdlWorkerRow *self,
                           CdlWorker    *worker)
{
  g_return_if_fail (CDL_IS_WORKER_ROW (self));
  g_return_if_fail (worker == NULL || CDL_IS_WORKER (worker));

  if (self->worker == worker)
    return;

  /* A recycled row drops the state of the worker it showed before. */
  if (worker == NULL || !cdl_worker_row_shows (self, cdl_worker_get_id (worker)))
    {
      self->toggling = FALSE;
      if (self->testing)
        cdl_worker_row_set_testing (self, FALSE);
    }

  g_set_object (&self->worker, worker);
  cdl_worker_row_sync (self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WORKER]);
}

const char *
cdl_worker_row_get_health_text (CdlWorkerRow *self)
{
  g_return_val_if_fail (CDL_IS_WORKER_ROW (self), NULL);

  return gtk_label_get_label (self->health_badge);
}
