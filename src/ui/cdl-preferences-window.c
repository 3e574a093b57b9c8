/* cdl-preferences-window.c: the database connection and server settings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "ui/cdl-limits-page.h"
#include "ui/cdl-preferences-window.h"

struct _CdlPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  GSettings            *settings;
  CdlSecretStore       *secrets;

  /* template */
  AdwPreferencesGroup  *connection_group;
  GtkWidget            *server_group;
  GtkSwitch            *embedded_switch;
  AdwEntryRow          *host_row;
  GtkSpinButton        *port_spin;
  AdwEntryRow          *name_row;
  AdwEntryRow          *user_row;
  AdwEntryRow          *password_row;
  GtkSpinButton        *server_port_spin;
  GtkSpinButton        *health_interval_spin;
  CdlLimitsPage        *limits_page;
};

G_DEFINE_FINAL_TYPE (CdlPreferencesWindow, cdl_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

enum {
  PROP_0,
  PROP_SETTINGS,
  PROP_SECRETS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
cdl_preferences_window_toast (CdlPreferencesWindow *self,
                              const char           *text)
{
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (text));
}

static void
cdl_store_password_thread (GTask        *task,
                           gpointer      source_object,
                           gpointer      task_data,
                           GCancellable *cancellable)
{
  CdlPreferencesWindow *self = source_object;
  const char *password = task_data;
  g_autoptr(GError) error = NULL;

  if (!cdl_secret_store_store (self->secrets, "database", password, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
cdl_wipe_free (gpointer data)
{
  char *secret = data;

  explicit_bzero (secret, strlen (secret));
  g_free (secret);
}

static void
cdl_store_password_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  CdlPreferencesWindow *self = CDL_PREFERENCES_WINDOW (object);
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_autofree char *text = NULL;

      g_warning ("Could not store the database password: %s", error->message);
      /* TRANSLATORS: %s is the reason */
      text = g_strdup_printf (_("Could not store the password: %s"), error->message);
      cdl_preferences_window_toast (self, text);
      return;
    }

  gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
  cdl_preferences_window_toast (self, _("Password saved; it is used from the next start"));
}

static void
cdl_preferences_window_password_apply_cb (CdlPreferencesWindow *self,
                                          AdwEntryRow          *row)
{
  g_autoptr(GTask) task = NULL;

  /* The keyring answers over D-Bus, which may block. */
  task = g_task_new (self, NULL, cdl_store_password_cb, NULL);
  g_task_set_source_tag (task, cdl_preferences_window_password_apply_cb);
  g_task_set_task_data (task, g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))),
                        cdl_wipe_free);
  g_task_run_in_thread (task, cdl_store_password_thread);
}

static gboolean
cdl_invert_boolean (GValue   *value,
                    GVariant *variant,
                    gpointer  user_data)
{
  g_value_set_boolean (value, !g_variant_get_boolean (variant));

  return TRUE;
}

static void
cdl_preferences_window_constructed (GObject *object)
{
  CdlPreferencesWindow *self = CDL_PREFERENCES_WINDOW (object);
  const char *database_url = g_getenv ("DATABASE_URL");

  G_OBJECT_CLASS (cdl_preferences_window_parent_class)->constructed (object);

  g_return_if_fail (self->settings != NULL);

  g_settings_bind (self->settings, "database-use-embedded",
                   self->embedded_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "database-use-embedded",
                                self->server_group, "sensitive", G_SETTINGS_BIND_GET,
                                cdl_invert_boolean, NULL, NULL, NULL);
  g_settings_bind (self->settings, "database-host",
                   self->host_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "database-port",
                   self->port_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "database-name",
                   self->name_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "database-user",
                   self->user_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "server-port",
                   self->server_port_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "health-interval-seconds",
                   self->health_interval_spin, "value", G_SETTINGS_BIND_DEFAULT);

  if (database_url != NULL && *database_url != '\0')
    adw_preferences_group_set_description (self->connection_group,
                                           _("DATABASE_URL is set in the environment and "
                                             "takes precedence over these settings. Changes "
                                             "apply the next time ComfyUI DataLabel starts."));
}

static void
cdl_preferences_window_dispose (GObject *object)
{
  CdlPreferencesWindow *self = CDL_PREFERENCES_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->settings);
  g_clear_object (&self->secrets);

  G_OBJECT_CLASS (cdl_preferences_window_parent_class)->dispose (object);
}

static void
cdl_preferences_window_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  CdlPreferencesWindow *self = CDL_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;

    case PROP_SECRETS:
      g_value_set_object (value, self->secrets);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_preferences_window_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  CdlPreferencesWindow *self = CDL_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;

    case PROP_SECRETS:
      self->secrets = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_preferences_window_class_init (CdlPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = cdl_preferences_window_constructed;
  object_class->dispose = cdl_preferences_window_dispose;
  object_class->get_property = cdl_preferences_window_get_property;
  object_class->set_property = cdl_preferences_window_set_property;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL,
                         G_TYPE_SETTINGS,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_SECRETS] =
    g_param_spec_object ("secrets", NULL, NULL,
                         CDL_TYPE_SECRET_STORE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlPreferencesWindow, connection_group);
  gtk_widget_class_bind_template_child (widget_class, CdlPreferencesWindow, server_group);
  gtk_widget_class_bind_template_child (widget_class, CdlPreferencesWindow, embedded_switch);
  gtk_widget_class_bind_template_child (widget_class, CdlPreferencesWindow, host_row);
  gtk_widget_class_bind_template_child (widget_class, CdlPreferencesWindow, port_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlPreferencesWindow, name_row);
  gtk_widget_class_bind_template_child (widget_class, CdlPreferencesWindow, user_row);
  gtk_widget_class_bind_template_child (widget_class, CdlPreferencesWindow, password_row);
  gtk_widget_class_bind_template_child (widget_class, CdlPreferencesWindow, server_port_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlPreferencesWindow,
                                        health_interval_spin);
  gtk_widget_class_bind_template_callback (widget_class,
                                           cdl_preferences_window_password_apply_cb);
}

static void
cdl_preferences_window_init (CdlPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWindow *
cdl_preferences_window_new (GtkWindow      *parent,
                            GSettings      *settings,
                            CdlSecretStore *secrets)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);
  g_return_val_if_fail (CDL_IS_SECRET_STORE (secrets), NULL);

  return g_object_new (CDL_TYPE_PREFERENCES_WINDOW,
                       "transient-for", parent,
                       "settings", settings,
                       "secrets", secrets,
                       NULL);
}

void
cdl_preferences_window_add_limits (CdlPreferencesWindow *self,
                                   CdlSettingsService   *service)
{
  g_return_if_fail (CDL_IS_PREFERENCES_WINDOW (self));
  g_return_if_fail (CDL_IS_SETTINGS_SERVICE (service));

  if (self->limits_page != NULL)
    return;

  self->limits_page = cdl_limits_page_new (service);
  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (self),
                              ADW_PREFERENCES_PAGE (self->limits_page));
}
