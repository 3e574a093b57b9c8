/* cdl-application.c: the desktop program's GtkApplication
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "api/cdl-api-server.h"
#include "cdl-ui-resources.h"
#include "ui/cdl-application.h"
#include "ui/cdl-pairing-dialog.h"
#include "ui/cdl-preferences-window.h"
#include "ui/cdl-window.h"

struct _CdlApplication
{
  AdwApplication       parent_instance;

  GSettings           *settings;
  CdlSecretStore      *secrets;
  CdlInstance         *instance;
  CdlApiServer        *api_server;
  CdlDemoService      *demo;
  GCancellable        *cancellable;
  GError              *start_error;
  char                *database_label;
  GtkWindow           *preferences;

  CdlApplicationState  state;
  gboolean             embedded;
  /* A password lookup or an instance start is in flight. */
  gboolean             start_pending;
};

G_DEFINE_ENUM_TYPE (CdlApplicationState, cdl_application_state,
                    G_DEFINE_ENUM_VALUE (CDL_APPLICATION_STATE_STARTING, "starting"),
                    G_DEFINE_ENUM_VALUE (CDL_APPLICATION_STATE_READY, "ready"),
                    G_DEFINE_ENUM_VALUE (CDL_APPLICATION_STATE_FAILED, "failed"))

G_DEFINE_FINAL_TYPE (CdlApplication, cdl_application, ADW_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_STATE,
  PROP_DATABASE_LABEL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
cdl_application_set_state (CdlApplication      *self,
                           CdlApplicationState  state)
{
  g_assert (CDL_IS_APPLICATION (self));

  if (self->state == state)
    return;

  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
cdl_application_set_database_label (CdlApplication *self,
                                    const char     *label)
{
  g_assert (CDL_IS_APPLICATION (self));

  if (g_strcmp0 (self->database_label, label) == 0)
    return;

  g_free (self->database_label);
  self->database_label = g_strdup (label);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DATABASE_LABEL]);
}

/* Frees a string that may hold a password, wiping it first. */
static void
cdl_clear_secret (char **secret)
{
  if (*secret == NULL)
    return;

  explicit_bzero (*secret, strlen (*secret));
  g_clear_pointer (secret, g_free);
}

/* libpq's key=value syntax: values quoted, quotes and backslashes escaped. */
static void
cdl_append_conninfo (GString    *str,
                     const char *key,
                     const char *value)
{
  if (value == NULL || *value == '\0')
    return;

  if (str->len > 0)
    g_string_append_c (str, ' ');

  g_string_append_printf (str, "%s='", key);
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '\'' || *p == '\\')
        g_string_append_c (str, '\\');
      g_string_append_c (str, *p);
    }
  g_string_append_c (str, '\'');
}

static char *
cdl_application_build_conninfo (CdlApplication *self,
                                const char     *password)
{
  g_autoptr(GString) str = g_string_new (NULL);
  g_autofree char *host = g_settings_get_string (self->settings, "database-host");
  g_autofree char *name = g_settings_get_string (self->settings, "database-name");
  g_autofree char *user = g_settings_get_string (self->settings, "database-user");
  g_autofree char *port = NULL;

  port = g_strdup_printf ("%d", g_settings_get_int (self->settings, "database-port"));

  cdl_append_conninfo (str, "host", host);
  cdl_append_conninfo (str, "port", port);
  cdl_append_conninfo (str, "dbname", name);
  cdl_append_conninfo (str, "user", user);
  cdl_append_conninfo (str, "password", password);
  cdl_append_conninfo (str, "application_name", "comfy-datalabel");

  return g_string_free (g_steal_pointer (&str), FALSE);
}

/* Reads one key=value pair of a libpq connection string; returns the
 * position after it, or NULL at the end. */
static const char *
cdl_conninfo_next (const char  *p,
                   char       **key,
                   char       **value)
{
  g_autoptr(GString) k = g_string_new (NULL);
  g_autoptr(GString) v = g_string_new (NULL);

  while (g_ascii_isspace (*p))
    p++;
  if (*p == '\0')
    return NULL;

  while (*p != '\0' && *p != '=' && !g_ascii_isspace (*p))
    g_string_append_c (k, *p++);
  while (g_ascii_isspace (*p))
    p++;
  if (*p == '=')
    p++;
  while (g_ascii_isspace (*p))
    p++;

  if (*p == '\'')
    {
      for (p++; *p != '\0' && *p != '\''; p++)
        {
          if (*p == '\\' && p[1] != '\0')
            p++;
          g_string_append_c (v, *p);
        }
      if (*p == '\'')
        p++;
    }
  else
    {
      while (*p != '\0' && !g_ascii_isspace (*p))
        g_string_append_c (v, *p++);
    }

  *key = g_string_free (g_steal_pointer (&k), FALSE);
  *value = g_string_free (g_steal_pointer (&v), FALSE);

  return p;
}

/* "Database: host/name" for a URI or key=value connection string, with
 * no user name or password. */
static char *
cdl_describe_conninfo (const char *conninfo)
{
  g_autofree char *host = NULL;
  g_autofree char *name = NULL;

  if (g_str_has_prefix (conninfo, "postgresql://") ||
      g_str_has_prefix (conninfo, "postgres://"))
    {
      g_autoptr(GUri) uri = g_uri_parse (conninfo, G_URI_FLAGS_NON_DNS, NULL);

      if (uri != NULL)
        {
          const char *path = g_uri_get_path (uri);

          host = g_strdup (g_uri_get_host (uri));
          if (path != NULL && path[0] == '/' && path[1] != '\0')
            name = g_uri_unescape_string (path + 1, NULL);
        }
    }
  else
    {
      const char *p = conninfo;
      char *key;
      char *value;

      while ((p = cdl_conninfo_next (p, &key, &value)) != NULL)
        {
          if (g_str_equal (key, "host"))
            {
              g_free (host);
              host = g_steal_pointer (&value);
            }
          else if (g_str_equal (key, "dbname"))
            {
              g_free (name);
              name = g_steal_pointer (&value);
            }

          cdl_clear_secret (&value);
          g_free (key);
        }
    }

  if (host == NULL || *host == '\0')
    {
      g_free (host);
      host = g_strdup ("localhost");
    }

  if (name == NULL || *name == '\0')
    /* TRANSLATORS: %s is a host name or a socket directory */
    return g_strdup_printf (_("Database: %s"), host);

  /* TRANSLATORS: the first %s is a host name, the second a database name */
  return g_strdup_printf (_("Database: %s/%s"), host, name);
}

static char *
cdl_describe_embedded (const char *data_dir)
{
  const char *home = g_get_home_dir ();
  g_autofree char *shown = NULL;

  if (home != NULL && g_str_has_prefix (data_dir, home) &&
      (data_dir[strlen (home)] == '/' || data_dir[strlen (home)] == '\0'))
    shown = g_strconcat ("~", data_dir + strlen (home), NULL);
  else
    shown = g_strdup (data_dir);

  /* TRANSLATORS: %s is a folder, such as ~/.local/share/comfy-datalabel */
  return g_strdup_printf (_("Embedded database in %s"), shown);
}

/* The REST and web server that phones and scripts use; it shares the
 * instance with the windows. @reuse_port: the port to keep when listening
 * anew, or 0. */
static void
cdl_application_start_api_server (CdlApplication *self,
                                  guint           reuse_port)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  const char *env = g_getenv ("CDL_SERVER_PORT");
  int port = g_settings_get_int (self->settings, "server-port");
  const char *address = g_settings_get_boolean (self->settings, "server-listen-lan")
                        ? "0.0.0.0" : "127.0.0.1";

  if (env != NULL && *env != '\0')
    port = (int)g_ascii_strtoll (env, NULL, 10);
  if (reuse_port != 0)
    port = (int)reuse_port;

  g_clear_object (&self->api_server);
  self->api_server = cdl_api_server_new (self->instance);

  /* Loopback unless asked: listening on every interface exposes the API to
   * the network, which only pairing a phone needs (Pair a Phone… says so). */
  if (!cdl_api_server_listen (self->api_server, address, (guint)port, &error))
    {
      g_warning ("The REST server cannot listen on port %d: %s", port, error->message);
      g_clear_object (&self->api_server);
      return;
    }

  url = cdl_api_server_get_url (self->api_server);
  g_message ("REST server listening on %s/", url);
}

static void
cdl_application_stop_api_server (CdlApplication *self)
{
  if (self->api_server != NULL)
    cdl_api_server_disconnect (self->api_server);
  g_clear_object (&self->api_server);
}

/* Any instance's alert, firing or cleared, as a desktop notification;
 * one per condition (the id), so a clear replaces its firing. */
static void
cdl_application_alert_cb (CdlAlertService *service,
                          const char      *kind,
                          const char      *subject,
                          const char      *state,
                          const char      *message,
                          CdlApplication  *self)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *id = g_strconcat ("alert-", kind, "-", subject, NULL);
  gboolean firing = g_strcmp0 (state, "firing") == 0;

  notification = g_notification_new (firing ? _("Alert") : _("Alert Cleared"));
  g_notification_set_body (notification, message);
  g_notification_set_priority (notification, firing ? G_NOTIFICATION_PRIORITY_HIGH
                                                    : G_NOTIFICATION_PRIORITY_NORMAL);
  g_application_send_notification (G_APPLICATION (self), id, notification);
}

static void
cdl_application_demo_resumed_cb (GObject      *object,
                                 GAsyncResult *result,
                                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *worker_id = NULL;

  worker_id = cdl_demo_service_resume_finish (CDL_DEMO_SERVICE (object), result, &error);
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_message ("The demo worker was not started again: %s", error->message);
}

static void
cdl_application_start_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(CdlApplication) self = user_data;
  g_autoptr(GError) error = NULL;
  CdlInstance *instance = CDL_INSTANCE (object);

  if (instance != self->instance)
    return;

  self->start_pending = FALSE;

  if (!cdl_instance_start_finish (instance, result, &error))
    {
      g_warning ("The instance did not start: %s", error->message);
      g_clear_error (&self->start_error);
      self->start_error = g_steal_pointer (&error);
      cdl_application_set_state (self, CDL_APPLICATION_STATE_FAILED);
      return;
    }

  cdl_instance_start_services (instance);
  g_signal_connect_object (cdl_instance_get_alert_service (instance), "alert",
                           G_CALLBACK (cdl_application_alert_cb), self, 0);
  cdl_application_start_api_server (self, 0);

  cdl_application_set_state (self, CDL_APPLICATION_STATE_READY);

  /* A demo worker registered in an earlier session works again. */
  cdl_demo_service_resume_async (cdl_application_get_demo_service (self), self->cancellable,
                                 cdl_application_demo_resumed_cb, NULL);
}

static void
cdl_application_start_with_conninfo (CdlApplication *self,
                                      const char     *conninfo)
{
  CdlInstanceOptions options = { 0 };
  g_autofree char *data_dir = NULL;
  const char *env;

  g_assert (CDL_IS_APPLICATION (self));

  env = g_getenv ("CDL_DATA_DIR");
  if (env != NULL && *env != '\0')
    data_dir = g_strdup (env);
  else
    data_dir = cdl_instance_default_data_dir ();

  options.data_dir = data_dir;
  options.conninfo = (char *) conninfo;
  options.secrets = self->secrets;
  /* An optional webhook for alerts, as the server's [alerts] webhook_url. */
  options.alerts.webhook_url = (char *) g_getenv ("CDL_ALERT_WEBHOOK");

  env = g_getenv ("CDL_HEALTH_INTERVAL_MS");
  if (env != NULL && *env != '\0')
    options.health_interval_ms = (guint) g_ascii_strtoull (env, NULL, 10);
  else
    options.health_interval_ms =
      (guint) MAX (1, g_settings_get_int (self->settings, "health-interval-seconds")) * 1000;

  self->embedded = conninfo == NULL;

  if (conninfo == NULL)
    {
      g_autofree char *label = cdl_describe_embedded (data_dir);

      cdl_application_set_database_label (self, label);
    }
  else
    {
      g_autofree char *label = cdl_describe_conninfo (conninfo);

      cdl_application_set_database_label (self, label);
    }

  g_clear_object (&self->instance);
  self->instance = cdl_instance_new (&options);
  self->start_pending = TRUE;

  cdl_instance_start_async (self->instance,
                            self->cancellable,
                            cdl_application_start_cb,
                            g_object_ref (self));
}

static void
cdl_lookup_password_thread (GTask        *task,
                            gpointer      source_object,
                            gpointer      task_data,
                            GCancellable *cancellable)
{
  CdlSecretStore *secrets = task_data;
  g_autoptr(GError) error = NULL;
  char *password;

  password = cdl_secret_store_lookup (secrets, "database", &error);

  if (error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, password, g_free);
}

static void
cdl_lookup_password_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  CdlApplication *self = CDL_APPLICATION (object);
  g_autoptr(GError) error = NULL;
  char *password;
  char *conninfo;

  password = g_task_propagate_pointer (G_TASK (result), &error);

  if (g_cancellable_is_cancelled (self->cancellable))
    {
      cdl_clear_secret (&password);
      self->start_pending = FALSE;
      return;
    }

  /* A locked or missing keyring is not fatal: the server may not want a
   * password at all, and when it does, its own error says so. */
  if (error != NULL)
    g_warning ("Could not read the database password from the keyring: %s",
               error->message);

  conninfo = cdl_application_build_conninfo (self, password);
  cdl_clear_secret (&password);

  cdl_application_start_with_conninfo (self, conninfo);
  cdl_clear_secret (&conninfo);
}

static void
cdl_application_start_instance (CdlApplication *self)
{
  const char *database_url;

  g_assert (CDL_IS_APPLICATION (self));

  g_clear_error (&self->start_error);
  cdl_application_set_state (self, CDL_APPLICATION_STATE_STARTING);

  database_url = g_getenv ("DATABASE_URL");

  if (database_url != NULL && *database_url != '\0')
    {
      cdl_application_start_with_conninfo (self, database_url);
    }
  else if (g_settings_get_boolean (self->settings, "database-use-embedded"))
    {
      cdl_application_start_with_conninfo (self, NULL);
    }
  else
    {
      g_autoptr(GTask) task = NULL;

      g_autofree char *conninfo = cdl_application_build_conninfo (self, NULL);
      g_autofree char *label = cdl_describe_conninfo (conninfo);

      self->embedded = FALSE;
      cdl_application_set_database_label (self, label);

      /* libsecret blocks on D-Bus, so the password is read in a thread. */
      self->start_pending = TRUE;
      task = g_task_new (self, self->cancellable, cdl_lookup_password_cb, NULL);
      g_task_set_source_tag (task, cdl_application_start_instance);
      g_task_set_task_data (task, g_object_ref (self->secrets), g_object_unref);
      g_task_run_in_thread (task, cdl_lookup_password_thread);
    }
}

void
cdl_application_restart_instance (CdlApplication *self)
{
  g_return_if_fail (CDL_IS_APPLICATION (self));

  if (self->start_pending || self->state == CDL_APPLICATION_STATE_READY)
    return;

  cdl_application_stop_api_server (self);
  if (self->instance != NULL)
    cdl_instance_shutdown (self->instance);
  g_clear_object (&self->instance);

  cdl_application_start_instance (self);
}

static void
cdl_application_quit_action (GSimpleAction *action,
                             GVariant      *parameter,
                             gpointer       user_data)
{
  CdlApplication *self = user_data;
  GList *windows;

  /* Closing the windows first lets each one save its state. */
  while ((windows = gtk_application_get_windows (GTK_APPLICATION (self))) != NULL)
    gtk_window_destroy (windows->data);

  g_application_quit (G_APPLICATION (self));
}

static void
cdl_application_about_action (GSimpleAction *action,
                              GVariant      *parameter,
                              gpointer       user_data)
{
  CdlApplication *self = user_data;
  static const char *developers[] = {
    "The ComfyUI DataLabel developers",
    NULL
  };
  g_autofree char *url = self->api_server != NULL ? cdl_api_server_get_url (self->api_server)
                                                  : NULL;
  g_autofree char *debug_info = NULL;
  GtkWidget *about;

  /* What a bug report needs, and no secret: the database line names no
   * user or password. */
  debug_info = g_strdup_printf ("ComfyUI DataLabel %s\n%s\nREST server: %s\n"
                                "GLib %u.%u.%u, GTK %u.%u.%u, libadwaita %u.%u.%u\n",
                                PACKAGE_VERSION,
                                self->database_label != NULL ? self->database_label : "",
                                url != NULL ? url : "not running",
                                glib_major_version, glib_minor_version, glib_micro_version,
                                gtk_get_major_version (), gtk_get_minor_version (),
                                gtk_get_micro_version (),
                                adw_get_major_version (), adw_get_minor_version (),
                                adw_get_micro_version ());

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", gtk_application_get_active_window (GTK_APPLICATION (self)),
                        "modal", TRUE,
                        "application-icon", APP_ID,
                        "application-name", _("ComfyUI DataLabel"),
                        "developer-name", _("The ComfyUI DataLabel developers"),
                        "version", PACKAGE_VERSION,
                        "comments", _("Turn ComfyUI workflows into preference data sets: "
                                      "generate across GPU workers, label, export."),
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "developers", developers,
                        /* TRANSLATORS: your names, one a line */
                        "translator-credits", _("translator-credits"),
                        "debug-info", debug_info,
                        "release-notes-version", PACKAGE_VERSION,
                        "release-notes", _("<p>The first release.</p><ul>"
                                           "<li>Worker registry with health checks and live "
                                           "queues</li>"
                                           "<li>Workflow validation, prompt pools and "
                                           "reproducible tasks</li>"
                                           "<li>Pilot, freeze and mass generation across "
                                           "workers</li>"
                                           "<li>Annotation on the desktop and on phones, DPO "
                                           "export</li>"
                                           "<li>A demo worker for a first run without a "
                                           "GPU</li></ul>"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
cdl_application_preferences_action (GSimpleAction *action,
                                    GVariant      *parameter,
                                    gpointer       user_data)
{
  CdlApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (self->preferences == NULL)
    {
      self->preferences = cdl_preferences_window_new (parent, self->settings, self->secrets);
      g_object_add_weak_pointer (G_OBJECT (self->preferences),
                                 (gpointer *) &self->preferences);
    }

  if (self->state == CDL_APPLICATION_STATE_READY)
    cdl_preferences_window_add_limits (CDL_PREFERENCES_WINDOW (self->preferences),
                                       cdl_instance_get_settings_service (self->instance));

  gtk_window_present (self->preferences);
}

static void
cdl_application_retry_action (GSimpleAction *action,
                              GVariant      *parameter,
                              gpointer       user_data)
{
  cdl_application_restart_instance (CDL_APPLICATION (user_data));
}

/* Listening on the network or not takes a new socket: restart the server. */
static void
cdl_application_listen_changed_cb (CdlApplication *self)
{
  guint port;

  if (self->state != CDL_APPLICATION_STATE_READY || self->api_server == NULL)
    return;

  /* Same port, so that links already shown keep working. */
  port = cdl_api_server_get_port (self->api_server);
  cdl_application_stop_api_server (self);
  cdl_application_start_api_server (self, port);
}

static void
cdl_application_pair_phone_action (GSimpleAction *action,
                                   GVariant      *parameter,
                                   gpointer       user_data)
{
  CdlApplication *self = CDL_APPLICATION (user_data);
  CdlPairingDialog *dialog;

  if (self->state != CDL_APPLICATION_STATE_READY || self->api_server == NULL)
    {
      g_warning ("Pair a Phone needs the database and the REST server to run");
      return;
    }

  dialog = cdl_pairing_dialog_new (gtk_application_get_active_window (GTK_APPLICATION (self)),
                                   cdl_instance_get_auth_service (self->instance),
                                   self->settings,
                                   cdl_api_server_get_port (self->api_server));
  gtk_window_present (GTK_WINDOW (dialog));
}

static const GActionEntry app_actions[] = {
  { "quit", cdl_application_quit_action },
  { "pair-phone", cdl_application_pair_phone_action },
  { "about", cdl_application_about_action },
  { "preferences", cdl_application_preferences_action },
  { "retry-start", cdl_application_retry_action },
};

static void
cdl_application_startup (GApplication *app)
{
  CdlApplication *self = CDL_APPLICATION (app);
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *preferences_accels[] = { "<Control>comma", NULL };
  static const char *help_accels[] = { "<Control>question", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };
  static const char *add_worker_accels[] = { "<Control>n", NULL };
  static const char *reload_accels[] = { "<Control>r", "F5", NULL };
  static const char *upload_workflow_accels[] = { "<Control>o", NULL };
  static const char *new_task_accels[] = { "<Control><Shift>n", NULL };
  const char *secrets_file;

  G_APPLICATION_CLASS (cdl_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);

  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences",
                                         preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.show-help-overlay",
                                         help_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.add-worker",
                                         add_worker_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.reload", reload_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.upload-workflow",
                                         upload_workflow_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.new-task",
                                         new_task_accels);

  /* One for each page of the sidebar, in its order (cdl-window.c). */
  for (guint i = 1; i <= 8; i++)
    {
      g_autofree char *detailed = g_strdup_printf ("win.show-page(%u)", i - 1);
      g_autofree char *accel = g_strdup_printf ("<Alt>%u", i);
      const char *accels[] = { accel, NULL };

      gtk_application_set_accels_for_action (GTK_APPLICATION (self), detailed, accels);
    }

  self->settings = g_settings_new (APP_ID);
  g_signal_connect_swapped (self->settings, "changed::server-listen-lan",
                            G_CALLBACK (cdl_application_listen_changed_cb), self);

  /* Tests and headless desktops have no keyring. */
  secrets_file = g_getenv ("CDL_SECRETS_FILE");
  if (secrets_file != NULL && *secrets_file != '\0')
    self->secrets = cdl_secret_store_new_for_file (secrets_file);
  else
    self->secrets = cdl_secret_store_new_for_keyring ();

  cdl_application_start_instance (self);
}

static void
cdl_application_activate (GApplication *app)
{
  CdlApplication *self = CDL_APPLICATION (app);
  GtkWindow *window;

  window = gtk_application_get_active_window (GTK_APPLICATION (self));
  if (window == NULL)
    window = GTK_WINDOW (cdl_window_new (self));

  gtk_window_present (window);
}

static void
cdl_application_shutdown (GApplication *app)
{
  CdlApplication *self = CDL_APPLICATION (app);

  g_cancellable_cancel (self->cancellable);

  /* A start in flight may be launching the embedded cluster; let it finish
   * so that the cluster is stopped below rather than left running. A
   * connection to a server is not waited for: it may hang for minutes,
   * and ending the process ends it. */
  while (self->start_pending && self->embedded)
    g_main_context_iteration (NULL, TRUE);

  if (self->demo != NULL)
    cdl_demo_service_stop (self->demo);
  cdl_application_stop_api_server (self);
  if (self->instance != NULL)
    cdl_instance_shutdown (self->instance);

  G_APPLICATION_CLASS (cdl_application_parent_class)->shutdown (app);
}

static void
cdl_application_dispose (GObject *object)
{
  CdlApplication *self = CDL_APPLICATION (object);

  g_clear_object (&self->demo);
  g_clear_object (&self->api_server);
  g_clear_object (&self->instance);
  g_clear_object (&self->secrets);
  g_clear_object (&self->settings);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (cdl_application_parent_class)->dispose (object);
}

static void
cdl_application_finalize (GObject *object)
{
  CdlApplication *self = CDL_APPLICATION (object);

  g_clear_error (&self->start_error);
  g_clear_pointer (&self->database_label, g_free);

  G_OBJECT_CLASS (cdl_application_parent_class)->finalize (object);
}

static void
cdl_application_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  CdlApplication *self = CDL_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_DATABASE_LABEL:
      g_value_set_string (value, self->database_label);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_application_class_init (CdlApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = cdl_application_dispose;
  object_class->finalize = cdl_application_finalize;
  object_class->get_property = cdl_application_get_property;

  app_class->startup = cdl_application_startup;
  app_class->activate = cdl_application_activate;
  app_class->shutdown = cdl_application_shutdown;

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       CDL_TYPE_APPLICATION_STATE,
                       CDL_APPLICATION_STATE_STARTING,
                       (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  properties[PROP_DATABASE_LABEL] =
    g_param_spec_string ("database-label", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The templates live in a resource bundle inside a static library; using
   * it pulls in the object file whose constructor registers the bundle. */
  (void) cdl_ui_get_resource ();
}

static void
cdl_application_init (CdlApplication *self)
{
  self->state = CDL_APPLICATION_STATE_STARTING;
  self->cancellable = g_cancellable_new ();
}

CdlApplication *
cdl_application_new (void)
{
  return g_object_new (CDL_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "resource-base-path", RESOURCE_BASE,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       NULL);
}

CdlApplicationState
cdl_application_get_state (CdlApplication *self)
{
  g_return_val_if_fail (CDL_IS_APPLICATION (self), CDL_APPLICATION_STATE_FAILED);

  return self->state;
}

const GError *
cdl_application_get_start_error (CdlApplication *self)
{
  g_return_val_if_fail (CDL_IS_APPLICATION (self), NULL);

  return self->start_error;
}

CdlInstance *
cdl_application_get_instance (CdlApplication *self)
{
  g_return_val_if_fail (CDL_IS_APPLICATION (self), NULL);

  return self->instance;
}

GSettings *
cdl_application_get_settings (CdlApplication *self)
{
  g_return_val_if_fail (CDL_IS_APPLICATION (self), NULL);

  return self->settings;
}

CdlSecretStore *
cdl_application_get_secret_store (CdlApplication *self)
{
  g_return_val_if_fail (CDL_IS_APPLICATION (self), NULL);

  return self->secrets;
}

gboolean
cdl_application_uses_embedded_database (CdlApplication *self)
{
  g_return_val_if_fail (CDL_IS_APPLICATION (self), FALSE);

  return self->embedded;
}

const char *
cdl_application_get_database_label (CdlApplication *self)
{
  g_return_val_if_fail (CDL_IS_APPLICATION (self), NULL);

  return self->database_label;
}

CdlDemoService *
cdl_application_get_demo_service (CdlApplication *self)
{
  g_return_val_if_fail (CDL_IS_APPLICATION (self), NULL);

  if (self->demo == NULL && self->state == CDL_APPLICATION_STATE_READY)
    self->demo = cdl_demo_service_new (self->instance);

  return self->demo;
}
