/* cdl-limits-page.c: the generation limits, a page of the preferences
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "ui/cdl-limits-page.h"

struct _CdlLimitsPage
{
  AdwPreferencesPage  parent_instance;

  CdlSettingsService *service;
  GCancellable       *cancellable;
  CdlSettings        *settings;
  gboolean            loading;
  gboolean            saving;

  /* template */
  GtkWidget          *save_button;
  GtkWidget          *batch_row;
  GtkSpinButton      *batch_spin;
  GtkWidget          *min_side_row;
  GtkSpinButton      *min_side_spin;
  GtkWidget          *max_side_row;
  GtkSpinButton      *max_side_spin;
  GtkWidget          *max_pixels_row;
  GtkSpinButton      *max_pixels_spin;
  GtkWidget          *controlnet_row;
  GtkSwitch          *controlnet_switch;
  GtkWidget          *forbidden_scroller;
  GtkTextView        *forbidden_view;
  GtkWidget          *queue_row;
  GtkSpinButton      *queue_spin;
  GtkWidget          *pilot_row;
  GtkSpinButton      *pilot_spin;
  GtkWidget          *free_row;
  GtkSpinButton      *free_spin;
  GtkLabel           *error_label;
};

G_DEFINE_FINAL_TYPE (CdlLimitsPage, cdl_limits_page, ADW_TYPE_PREFERENCES_PAGE)

enum {
  PROP_0,
  PROP_SERVICE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GtkWidget *
cdl_limits_page_row_for_key (CdlLimitsPage  *self,
                             const char     *message,
                             const char    **rest)
{
  const struct {
    const char *key;
    GtkWidget  *row;
  } rows[] = {
    { CDL_SETTING_MAX_WORKFLOW_BATCH_SIZE, self->batch_row },
    { CDL_SETTING_RESOLUTION_MIN_SIDE, self->min_side_row },
    { CDL_SETTING_RESOLUTION_MAX_SIDE, self->max_side_row },
    { CDL_SETTING_RESOLUTION_MAX_PIXELS, self->max_pixels_row },
    { CDL_SETTING_FORBIDDEN_NODE_TYPES, self->forbidden_scroller },
    { CDL_SETTING_CONTROLNET_ALLOWED, self->controlnet_row },
    { CDL_SETTING_QUEUE_DEPTH_THRESHOLD, self->queue_row },
    { CDL_SETTING_PILOT_RATE_LIMIT_SECONDS, self->pilot_row },
    { CDL_SETTING_FREE_EVERY_N_JOBS, self->free_row },
  };

  for (guint i = 0; message != NULL && i < G_N_ELEMENTS (rows); i++)
    {
      if (g_str_has_prefix (message, rows[i].key))
        {
          if (rest != NULL)
            *rest = message + strlen (rows[i].key);
          return rows[i].row;
        }
    }

  return NULL;
}

/* The refusal goes in place of the subtitle of the row at fault, so that
 * it is read where the value is; anything else under the last group. */
static void
cdl_limits_page_show_error (CdlLimitsPage *self,
                            const char    *message)
{
  GtkWidget *rows[] = {
    self->batch_row, self->min_side_row, self->max_side_row, self->max_pixels_row,
    self->forbidden_scroller, self->controlnet_row, self->queue_row, self->pilot_row,
    self->free_row,
  };
  const char *rest = NULL;
  GtkWidget *at_fault = cdl_limits_page_row_for_key (self, message, &rest);
  g_autofree char *on_row = NULL;
  gboolean shown_on_row = FALSE;

  /* Under its own title, "max_workflow_batch_size must be …" reads
   * "Must be …". */
  if (rest != NULL)
    {
      while (*rest == ' ' || *rest == ':')
        rest++;
      on_row = g_strdup (rest);
      if (on_row[0] != '\0')
        on_row[0] = g_ascii_toupper (on_row[0]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      const char *subtitle = NULL;

      if (ADW_IS_ACTION_ROW (rows[i]))
        {
          /* The template's subtitle, kept the first time it is replaced. */
          if (g_object_get_data (G_OBJECT (rows[i]), "subtitle") == NULL)
            {
              AdwActionRow *action_row = ADW_ACTION_ROW (rows[i]);

              g_object_set_data_full (G_OBJECT (rows[i]), "subtitle",
                                      g_strdup (adw_action_row_get_subtitle (action_row)),
                                      g_free);
            }
          subtitle = g_object_get_data (G_OBJECT (rows[i]), "subtitle");
        }

      if (rows[i] == at_fault)
        {
          gtk_widget_add_css_class (rows[i], "error");
          if (ADW_IS_ACTION_ROW (rows[i]))
            {
              adw_action_row_set_subtitle (ADW_ACTION_ROW (rows[i]), on_row);
              shown_on_row = TRUE;
            }
        }
      else
        {
          gtk_widget_remove_css_class (rows[i], "error");
          if (ADW_IS_ACTION_ROW (rows[i]))
            adw_action_row_set_subtitle (ADW_ACTION_ROW (rows[i]), subtitle);
        }
    }

  gtk_label_set_label (self->error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL && !shown_on_row);
}

static char *
cdl_limits_page_get_forbidden_text (CdlLimitsPage *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->forbidden_view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);

  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

/* One class type per line or separated by commas; blanks and repeats go. */
static JsonNode *
cdl_parse_forbidden (const char *text)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_auto(GStrv) parts = g_strsplit_set (text, ",\n", -1);

  json_builder_begin_array (builder);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      char *type = g_strstrip (parts[i]);

      if (*type == '\0' || !g_hash_table_add (seen, type))
        continue;
      json_builder_add_string_value (builder, type);
    }
  json_builder_end_array (builder);

  return json_builder_get_root (builder);
}

static JsonNode *
cdl_limits_page_build_patch (CdlLimitsPage *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *forbidden = cdl_limits_page_get_forbidden_text (self);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, CDL_SETTING_MAX_WORKFLOW_BATCH_SIZE);
  json_builder_add_int_value (builder, gtk_spin_button_get_value_as_int (self->batch_spin));
  json_builder_set_member_name (builder, CDL_SETTING_RESOLUTION_MIN_SIDE);
  json_builder_add_int_value (builder, gtk_spin_button_get_value_as_int (self->min_side_spin));
  json_builder_set_member_name (builder, CDL_SETTING_RESOLUTION_MAX_SIDE);
  json_builder_add_int_value (builder, gtk_spin_button_get_value_as_int (self->max_side_spin));
  json_builder_set_member_name (builder, CDL_SETTING_RESOLUTION_MAX_PIXELS);
  json_builder_add_int_value (builder, (gint64) gtk_spin_button_get_value (self->max_pixels_spin));
  json_builder_set_member_name (builder, CDL_SETTING_FORBIDDEN_NODE_TYPES);
  json_builder_add_value (builder, cdl_parse_forbidden (forbidden));
  json_builder_set_member_name (builder, CDL_SETTING_CONTROLNET_ALLOWED);
  json_builder_add_boolean_value (builder, gtk_switch_get_active (self->controlnet_switch));
  json_builder_set_member_name (builder, CDL_SETTING_QUEUE_DEPTH_THRESHOLD);
  json_builder_add_int_value (builder, gtk_spin_button_get_value_as_int (self->queue_spin));
  json_builder_set_member_name (builder, CDL_SETTING_PILOT_RATE_LIMIT_SECONDS);
  json_builder_add_int_value (builder, gtk_spin_button_get_value_as_int (self->pilot_spin));
  json_builder_set_member_name (builder, CDL_SETTING_FREE_EVERY_N_JOBS);
  json_builder_add_int_value (builder, gtk_spin_button_get_value_as_int (self->free_spin));
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/* Checks the fields the way the service will, so that a mistake shows
 * while typing; the service stays the judge when saving. */
static void
cdl_limits_page_validate (CdlLimitsPage *self)
{
  g_autoptr(JsonNode) patch = NULL;
  g_autoptr(CdlSettings) checked = NULL;
  g_autoptr(GError) error = NULL;

  if (self->loading || self->settings == NULL)
    return;

  patch = cdl_limits_page_build_patch (self);
  checked = cdl_settings_apply_patch (self->settings, patch, &error);

  gtk_widget_set_sensitive (self->save_button, checked != NULL && !self->saving);
  cdl_limits_page_show_error (self, checked != NULL ? NULL : error->message);
}

static void
cdl_limits_page_changed_cb (CdlLimitsPage *self)
{
  cdl_limits_page_validate (self);
}

static void
cdl_limits_page_load (CdlLimitsPage     *self,
                      const CdlSettings *settings)
{
  g_autofree char *forbidden = NULL;

  self->loading = TRUE;

  if (self->settings != settings)
    {
      g_clear_pointer (&self->settings, cdl_settings_free);
      self->settings = cdl_settings_copy (settings);
    }

  gtk_spin_button_set_value (self->batch_spin, settings->max_workflow_batch_size);
  gtk_spin_button_set_value (self->min_side_spin, settings->resolution_min_side);
  gtk_spin_button_set_value (self->max_side_spin, settings->resolution_max_side);
  gtk_spin_button_set_value (self->max_pixels_spin, settings->resolution_max_pixels);
  gtk_switch_set_active (self->controlnet_switch, settings->controlnet_allowed);
  gtk_spin_button_set_value (self->queue_spin, settings->queue_depth_threshold);
  gtk_spin_button_set_value (self->pilot_spin, settings->pilot_rate_limit_seconds);
  gtk_spin_button_set_value (self->free_spin, settings->free_every_n_jobs);

  forbidden = g_strjoinv ("\n", settings->forbidden_node_types);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->forbidden_view), forbidden, -1);

  self->loading = FALSE;
  cdl_limits_page_validate (self);
}

static void
cdl_limits_page_get_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(CdlLimitsPage) self = user_data;
  g_autoptr(CdlSettings) settings = NULL;
  g_autoptr(GError) error = NULL;

  settings = cdl_settings_service_get_finish (CDL_SETTINGS_SERVICE (object), result, &error);
  if (settings == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      g_warning ("Could not read the generation limits: %s", error->message);
      cdl_limits_page_show_error (self, error->message);
      return;
    }

  cdl_limits_page_load (self, settings);
}

static void
cdl_limits_page_update_cb (GObject      *object,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  g_autoptr(CdlLimitsPage) self = user_data;
  g_autoptr(CdlSettings) settings = NULL;
  g_autoptr(GError) error = NULL;
  GtkRoot *root;

  settings = cdl_settings_service_update_finish (CDL_SETTINGS_SERVICE (object), result, &error);
  self->saving = FALSE;

  if (settings == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      gtk_widget_set_sensitive (self->save_button, TRUE);
      cdl_limits_page_show_error (self, error->message);
      return;
    }

  cdl_limits_page_load (self, settings);

  root = gtk_widget_get_root (GTK_WIDGET (self));
  if (ADW_IS_PREFERENCES_WINDOW (root))
    adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (root),
                                      adw_toast_new (_("Generation limits saved")));
}

static void
cdl_limits_page_save_cb (CdlLimitsPage *self,
                         GtkButton     *button)
{
  cdl_limits_page_save (self);
}

static void
cdl_limits_page_constructed (GObject *object)
{
  CdlLimitsPage *self = CDL_LIMITS_PAGE (object);

  G_OBJECT_CLASS (cdl_limits_page_parent_class)->constructed (object);

  if (self->service != NULL)
    cdl_settings_service_get_async (self->service, self->cancellable,
                                    cdl_limits_page_get_cb, g_object_ref (self));
}

static void
cdl_limits_page_dispose (GObject *object)
{
  CdlLimitsPage *self = CDL_LIMITS_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_LIMITS_PAGE);
  g_clear_object (&self->service);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (cdl_limits_page_parent_class)->dispose (object);
}

static void
cdl_limits_page_finalize (GObject *object)
{
  CdlLimitsPage *self = CDL_LIMITS_PAGE (object);

  g_clear_pointer (&self->settings, cdl_settings_free);

  G_OBJECT_CLASS (cdl_limits_page_parent_class)->finalize (object);
}

static void
cdl_limits_page_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  CdlLimitsPage *self = CDL_LIMITS_PAGE (object);

  switch (prop_id)
    {
    case PROP_SERVICE:
      self->service = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_limits_page_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  CdlLimitsPage *self = CDL_LIMITS_PAGE (object);

  switch (prop_id)
    {
    case PROP_SERVICE:
      g_value_set_object (value, self->service);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_limits_page_class_init (CdlLimitsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = cdl_limits_page_constructed;
  object_class->dispose = cdl_limits_page_dispose;
  object_class->finalize = cdl_limits_page_finalize;
  object_class->get_property = cdl_limits_page_get_property;
  object_class->set_property = cdl_limits_page_set_property;

  properties[PROP_SERVICE] =
    g_param_spec_object ("service", NULL, NULL,
                         CDL_TYPE_SETTINGS_SERVICE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-limits-page.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, save_button);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, batch_row);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, batch_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, min_side_row);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, min_side_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, max_side_row);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, max_side_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, max_pixels_row);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, max_pixels_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, controlnet_row);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, controlnet_switch);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, forbidden_scroller);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, forbidden_view);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, queue_row);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, queue_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, pilot_row);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, pilot_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, free_row);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, free_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlLimitsPage, error_label);
  gtk_widget_class_bind_template_callback (widget_class, cdl_limits_page_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_limits_page_save_cb);
}

static void
cdl_limits_page_init (CdlLimitsPage *self)
{
  self->cancellable = g_cancellable_new ();

  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect_object (gtk_text_view_get_buffer (self->forbidden_view), "changed",
                           G_CALLBACK (cdl_limits_page_changed_cb), self,
                           G_CONNECT_SWAPPED);
}

CdlLimitsPage *
cdl_limits_page_new (CdlSettingsService *service)
{
  g_return_val_if_fail (CDL_IS_SETTINGS_SERVICE (service), NULL);

  return g_object_new (CDL_TYPE_LIMITS_PAGE,
                       "service", service,
                       NULL);
}

void
cdl_limits_page_save (CdlLimitsPage *self)
{
  g_autoptr(JsonNode) patch = NULL;

  g_return_if_fail (CDL_IS_LIMITS_PAGE (self));

  if (self->saving || self->service == NULL)
    return;

  self->saving = TRUE;
  gtk_widget_set_sensitive (self->save_button, FALSE);

  patch = cdl_limits_page_build_patch (self);
  cdl_settings_service_update_async (self->service, patch, self->cancellable,
                                     cdl_limits_page_update_cb, g_object_ref (self));
}
