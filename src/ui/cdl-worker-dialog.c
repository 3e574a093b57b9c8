/* cdl-worker-dialog.c: add or edit a ComfyUI worker
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "ui/cdl-worker-dialog.h"

struct _CdlWorkerDialog
{
  AdwWindow            parent_instance;

  CdlWorkerService    *service;
  CdlWorker           *worker;
  GCancellable        *cancellable;
  /* Fields the person has typed in; errors about the others wait until
   * they have had a chance to fill them. */
  CdlWorkerFields      touched;
  gboolean             loading;
  gboolean             saving;
  gboolean             remove_key;
  /* The service's last refusal, shown until a field changes. */
  char                *service_error;

  /* template */
  AdwWindowTitle      *window_title;
  GtkButton           *save_button;
  GtkWidget           *cancel_button;
  AdwEntryRow         *name_row;
  AdwEntryRow         *base_url_row;
  AdwEntryRow         *api_key_row;
  GtkWidget           *remove_key_button;
  GtkLabel            *error_label;
  GtkSpinButton       *priority_spin;
  GtkSpinButton       *max_jobs_spin;
  AdwEntryRow         *tags_row;
  GtkSwitch           *enabled_switch;
  GtkWidget           *page;
};

G_DEFINE_FINAL_TYPE (CdlWorkerDialog, cdl_worker_dialog, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_SERVICE,
  PROP_WORKER,
  N_PROPS
};

enum {
  SAVED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* How the validator names each field (its messages start with the name),
 * longest first so that "name" does not match "base_url"'s cousins. */
static const struct {
  const char      *key;
  CdlWorkerFields  field;
} field_keys[] = {
  { "max_concurrent_jobs", CDL_WORKER_FIELD_MAX_CONCURRENT_JOBS },
  { "base_url", CDL_WORKER_FIELD_BASE_URL },
  { "api_key", CDL_WORKER_FIELD_API_KEY },
  { "priority", CDL_WORKER_FIELD_PRIORITY },
  { "enabled", CDL_WORKER_FIELD_ENABLED },
  { "tags", CDL_WORKER_FIELD_TAGS },
  { "name", CDL_WORKER_FIELD_NAME },
};

static CdlWorkerFields
cdl_field_for_message (const char  *message,
                       const char **rest)
{
  for (guint i = 0; i < G_N_ELEMENTS (field_keys); i++)
    {
      if (g_str_has_prefix (message, field_keys[i].key))
        {
          *rest = message + strlen (field_keys[i].key);
          return field_keys[i].field;
        }
    }

  *rest = message;
  return 0;
}

static GtkWidget *
cdl_worker_dialog_row_for_field (CdlWorkerDialog *self,
                                 CdlWorkerFields  field)
{
  switch ((int) field)
    {
    case CDL_WORKER_FIELD_NAME:
      return GTK_WIDGET (self->name_row);
    case CDL_WORKER_FIELD_BASE_URL:
      return GTK_WIDGET (self->base_url_row);
    case CDL_WORKER_FIELD_API_KEY:
      return GTK_WIDGET (self->api_key_row);
    case CDL_WORKER_FIELD_TAGS:
      return GTK_WIDGET (self->tags_row);
    case CDL_WORKER_FIELD_PRIORITY:
      return GTK_WIDGET (self->priority_spin);
    case CDL_WORKER_FIELD_MAX_CONCURRENT_JOBS:
      return GTK_WIDGET (self->max_jobs_spin);
    case CDL_WORKER_FIELD_ENABLED:
      return GTK_WIDGET (self->enabled_switch);
    default:
      return NULL;
    }
}

static const char *
cdl_worker_dialog_field_title (CdlWorkerFields field)
{
  switch ((int) field)
    {
    case CDL_WORKER_FIELD_NAME:
      return _("Name");
    case CDL_WORKER_FIELD_BASE_URL:
      return _("Base URL");
    case CDL_WORKER_FIELD_API_KEY:
      return _("API key");
    case CDL_WORKER_FIELD_TAGS:
      return _("Tags");
    case CDL_WORKER_FIELD_PRIORITY:
      return _("Priority");
    case CDL_WORKER_FIELD_MAX_CONCURRENT_JOBS:
      return _("Concurrent jobs");
    case CDL_WORKER_FIELD_ENABLED:
      return _("Enabled");
    default:
      return NULL;
    }
}

static char **
cdl_parse_tags (const char *text)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; parts[i] != NULL; i++)
    {
      char *tag = g_strstrip (parts[i]);

      if (*tag != '\0')
        g_strv_builder_add (builder, tag);
    }

  return g_strv_builder_end (builder);
}

static CdlWorkerInput *
cdl_worker_dialog_build_input (CdlWorkerDialog *self)
{
  CdlWorkerInput *input = cdl_worker_input_new ();
  const char *api_key = gtk_editable_get_text (GTK_EDITABLE (self->api_key_row));
  g_autofree char *name = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row)));
  g_autofree char *url = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->base_url_row)));

  input->set = (CDL_WORKER_FIELD_NAME |
                CDL_WORKER_FIELD_BASE_URL |
                CDL_WORKER_FIELD_PRIORITY |
                CDL_WORKER_FIELD_MAX_CONCURRENT_JOBS |
                CDL_WORKER_FIELD_TAGS |
                CDL_WORKER_FIELD_ENABLED);
  input->name = g_strdup (g_strstrip (name));
  input->base_url = g_strdup (g_strstrip (url));
  input->priority = gtk_spin_button_get_value_as_int (self->priority_spin);
  input->max_concurrent_jobs = gtk_spin_button_get_value_as_int (self->max_jobs_spin);
  input->tags = cdl_parse_tags (gtk_editable_get_text (GTK_EDITABLE (self->tags_row)));
  input->enabled = gtk_switch_get_active (self->enabled_switch);

  /* An empty key field keeps the stored key; only the trash button
   * removes it. */
  if (*api_key != '\0')
    {
      input->set |= CDL_WORKER_FIELD_API_KEY;
      input->api_key = g_strdup (api_key);
    }
  else if (self->worker != NULL && self->remove_key)
    {
      input->set |= CDL_WORKER_FIELD_API_KEY;
      input->api_key = NULL;
    }

  return input;
}

static void
cdl_worker_dialog_show_error (CdlWorkerDialog *self,
                              const char      *message,
                              gboolean         only_if_touched)
{
  GtkWidget *rows[] = {
    GTK_WIDGET (self->name_row), GTK_WIDGET (self->base_url_row),
    GTK_WIDGET (self->api_key_row), GTK_WIDGET (self->tags_row),
    GTK_WIDGET (self->priority_spin), GTK_WIDGET (self->max_jobs_spin),
  };
  g_autofree char *text = NULL;
  CdlWorkerFields field = 0;
  GtkWidget *row = NULL;
  const char *rest = NULL;

  if (message != NULL)
    {
      field = cdl_field_for_message (message, &rest);
      row = cdl_worker_dialog_row_for_field (self, field);

      /* A field left untouched in a new worker is not wrong yet, only
       * empty; Save stays off but nothing turns red. */
      if (only_if_touched && field != 0 && (self->touched & field) == 0)
        message = NULL;
    }

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      if (message != NULL && rows[i] == row)
        gtk_widget_add_css_class (rows[i], "error");
      else
        gtk_widget_remove_css_class (rows[i], "error");
    }

  if (message == NULL)
    {
      gtk_label_set_label (self->error_label, "");
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
      return;
    }

  /* "base_url must …" reads "Base URL must …" here, and "tags[2] is …"
   * reads "A tag is …". */
  if (field == CDL_WORKER_FIELD_TAGS && rest[0] == '[' && strchr (rest, ']') != NULL)
    text = g_strconcat (_("A tag"), strchr (rest, ']') + 1, NULL);
  else if (field != 0)
    text = g_strconcat (cdl_worker_dialog_field_title (field), rest, NULL);
  else
    text = g_strdup (message);

  gtk_label_set_label (self->error_label, text);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
}

static void
cdl_worker_dialog_validate (CdlWorkerDialog *self)
{
  g_autoptr(CdlWorkerInput) input = NULL;
  g_autoptr(GError) error = NULL;
  gboolean valid;

  if (self->loading)
    return;

  input = cdl_worker_dialog_build_input (self);
  valid = cdl_worker_input_validate (input, self->worker == NULL, &error);

  gtk_widget_set_sensitive (GTK_WIDGET (self->save_button), valid && !self->saving);

  if (!valid)
    cdl_worker_dialog_show_error (self, error->message, self->worker == NULL);
  else
    cdl_worker_dialog_show_error (self, self->service_error, FALSE);
}

static void
cdl_worker_dialog_field_changed_cb (CdlWorkerDialog *self,
                                    GtkWidget       *widget)
{
  if (self->loading)
    return;

  if (widget == GTK_WIDGET (self->name_row))
    self->touched |= CDL_WORKER_FIELD_NAME;
  else if (widget == GTK_WIDGET (self->base_url_row))
    self->touched |= CDL_WORKER_FIELD_BASE_URL;
  else if (widget == GTK_WIDGET (self->api_key_row))
    self->touched |= CDL_WORKER_FIELD_API_KEY;
  else if (widget == GTK_WIDGET (self->tags_row))
    self->touched |= CDL_WORKER_FIELD_TAGS;
  else if (widget == GTK_WIDGET (self->priority_spin))
    self->touched |= CDL_WORKER_FIELD_PRIORITY;
  else if (widget == GTK_WIDGET (self->max_jobs_spin))
    self->touched |= CDL_WORKER_FIELD_MAX_CONCURRENT_JOBS;

  g_clear_pointer (&self->service_error, g_free);
  cdl_worker_dialog_validate (self);
}

static void
cdl_worker_dialog_update_key_row (CdlWorkerDialog *self)
{
  gboolean has_key = self->worker != NULL && cdl_worker_get_has_api_key (self->worker);

  if (has_key && self->remove_key)
    adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->api_key_row),
                                   _("API Key (removed when you save)"));
  else if (has_key)
    adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->api_key_row),
                                   _("API Key (empty keeps the stored one)"));
  else
    adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->api_key_row),
                                   _("API Key (optional)"));

  gtk_widget_set_visible (self->remove_key_button, has_key && !self->remove_key);
}

static void
cdl_worker_dialog_remove_key_cb (CdlWorkerDialog *self,
                                 GtkButton       *button)
{
  self->remove_key = TRUE;
  gtk_editable_set_text (GTK_EDITABLE (self->api_key_row), "");
  cdl_worker_dialog_update_key_row (self);
  cdl_worker_dialog_validate (self);
}

static void
cdl_worker_dialog_set_saving (CdlWorkerDialog *self,
                              gboolean         saving)
{
  self->saving = saving;

  /* Focus leaves the fields before they turn insensitive: GTK 4.8 warns
   * when a focused text field is made insensitive under it. */
  if (saving)
    gtk_widget_grab_focus (self->cancel_button);

  gtk_widget_set_sensitive (self->page, !saving);
  cdl_worker_dialog_validate (self);

  if (!saving)
    gtk_widget_grab_focus (GTK_WIDGET (self->name_row));
}

static void
cdl_worker_dialog_saved_cb (GObject      *object,
                            GAsyncResult *result,
                            gpointer      user_data)
{
  g_autoptr(CdlWorkerDialog) self = user_data;
  g_autoptr(CdlWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  gboolean created = self->worker == NULL;

  if (created)
    worker = cdl_worker_service_create_finish (CDL_WORKER_SERVICE (object), result, &error);
  else
    worker = cdl_worker_service_update_finish (CDL_WORKER_SERVICE (object), result, &error);

  if (worker == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      g_free (self->service_error);
      self->service_error = g_strdup (error->message);
      cdl_worker_dialog_set_saving (self, FALSE);
      /* The refusal may name a field the person never touched. */
      cdl_worker_dialog_show_error (self, self->service_error, FALSE);
      return;
    }

  self->saving = FALSE;
  g_signal_emit (self, signals[SAVED], 0, worker, created);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
cdl_worker_dialog_save_cb (CdlWorkerDialog *self,
                           GtkButton       *button)
{
  g_autoptr(CdlWorkerInput) input = NULL;
  g_autoptr(GError) error = NULL;

  if (self->saving || self->service == NULL)
    return;

  input = cdl_worker_dialog_build_input (self);
  if (!cdl_worker_input_validate (input, self->worker == NULL, &error))
    {
      cdl_worker_dialog_show_error (self, error->message, FALSE);
      return;
    }

  g_clear_pointer (&self->service_error, g_free);
  cdl_worker_dialog_set_saving (self, TRUE);

  /* The service takes the input. */
  if (self->worker == NULL)
    cdl_worker_service_create_async (self->service, g_steal_pointer (&input),
                                     self->cancellable,
                                     cdl_worker_dialog_saved_cb, g_object_ref (self));
  else
    cdl_worker_service_update_async (self->service, cdl_worker_get_id (self->worker),
                                     g_steal_pointer (&input), self->cancellable,
                                     cdl_worker_dialog_saved_cb, g_object_ref (self));
}

static void
cdl_worker_dialog_load (CdlWorkerDialog *self)
{
  CdlWorker *worker = self->worker;

  self->loading = TRUE;

  gtk_spin_button_set_range (self->priority_spin,
                             -CDL_WORKER_PRIORITY_LIMIT, CDL_WORKER_PRIORITY_LIMIT);
  gtk_spin_button_set_increments (self->priority_spin, 1, 10);
  gtk_spin_button_set_range (self->max_jobs_spin, 1, CDL_WORKER_MAX_CONCURRENT_LIMIT);
  gtk_spin_button_set_increments (self->max_jobs_spin, 1, 4);

  if (worker == NULL)
    {
      adw_window_title_set_title (self->window_title, _("Add Worker"));
      gtk_button_set_label (self->save_button, _("_Add"));
      gtk_window_set_title (GTK_WINDOW (self), _("Add Worker"));
      gtk_spin_button_set_value (self->priority_spin, 0);
      gtk_spin_button_set_value (self->max_jobs_spin, 1);
      gtk_switch_set_active (self->enabled_switch, TRUE);
    }
  else
    {
      const char * const *tags = cdl_worker_get_tags (worker);
      g_autofree char *joined = NULL;

      adw_window_title_set_title (self->window_title, _("Edit Worker"));
      adw_window_title_set_subtitle (self->window_title, cdl_worker_get_name (worker));
      gtk_button_set_label (self->save_button, _("_Save"));
      gtk_window_set_title (GTK_WINDOW (self), _("Edit Worker"));

      joined = tags != NULL ? g_strjoinv (", ", (char **) tags) : g_strdup ("");

      gtk_editable_set_text (GTK_EDITABLE (self->name_row), cdl_worker_get_name (worker));
      gtk_editable_set_text (GTK_EDITABLE (self->base_url_row), cdl_worker_get_base_url (worker));
      gtk_editable_set_text (GTK_EDITABLE (self->tags_row), joined);
      gtk_spin_button_set_value (self->priority_spin, cdl_worker_get_priority (worker));
      gtk_spin_button_set_value (self->max_jobs_spin,
                                 cdl_worker_get_max_concurrent_jobs (worker));
      gtk_switch_set_active (self->enabled_switch, cdl_worker_get_enabled (worker));
    }

  cdl_worker_dialog_update_key_row (self);

  self->loading = FALSE;
  cdl_worker_dialog_validate (self);
}

static void
cdl_worker_dialog_constructed (GObject *object)
{
  CdlWorkerDialog *self = CDL_WORKER_DIALOG (object);

  G_OBJECT_CLASS (cdl_worker_dialog_parent_class)->constructed (object);

  cdl_worker_dialog_load (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->name_row));
}

static void
cdl_worker_dialog_dispose (GObject *object)
{
  CdlWorkerDialog *self = CDL_WORKER_DIALOG (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_WORKER_DIALOG);
  g_clear_object (&self->service);
  g_clear_object (&self->worker);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (cdl_worker_dialog_parent_class)->dispose (object);
}

static void
cdl_worker_dialog_finalize (GObject *object)
{
  CdlWorkerDialog *self = CDL_WORKER_DIALOG (object);

  g_clear_pointer (&self->service_error, g_free);

  G_OBJECT_CLASS (cdl_worker_dialog_parent_class)->finalize (object);
}

static void
cdl_worker_dialog_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  CdlWorkerDialog *self = CDL_WORKER_DIALOG (object);

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
cdl_worker_dialog_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  CdlWorkerDialog *self = CDL_WORKER_DIALOG (object);

  switch (prop_id)
    {
    case PROP_SERVICE:
      self->service = g_value_dup_object (value);
      break;

    case PROP_WORKER:
      self->worker = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_worker_dialog_class_init (CdlWorkerDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = cdl_worker_dialog_constructed;
  object_class->dispose = cdl_worker_dialog_dispose;
  object_class->finalize = cdl_worker_dialog_finalize;
  object_class->get_property = cdl_worker_dialog_get_property;
  object_class->set_property = cdl_worker_dialog_set_property;

  properties[PROP_SERVICE] =
    g_param_spec_object ("service", NULL, NULL,
                         CDL_TYPE_WORKER_SERVICE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_WORKER] =
    g_param_spec_object ("worker", NULL, NULL,
                         CDL_TYPE_WORKER,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SAVED] =
    g_signal_new ("saved",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, CDL_TYPE_WORKER, G_TYPE_BOOLEAN);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-worker-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, window_title);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, save_button);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, base_url_row);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, api_key_row);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, remove_key_button);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, error_label);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, priority_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, max_jobs_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, tags_row);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, enabled_switch);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkerDialog, page);
  gtk_widget_class_bind_template_callback (widget_class, cdl_worker_dialog_field_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_worker_dialog_remove_key_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_worker_dialog_save_cb);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
cdl_worker_dialog_init (CdlWorkerDialog *self)
{
  self->cancellable = g_cancellable_new ();

  gtk_widget_init_template (GTK_WIDGET (self));
}

CdlWorkerDialog *
cdl_worker_dialog_new (GtkWindow        *parent,
                       CdlWorkerService *service,
                       CdlWorker        *worker)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (CDL_IS_WORKER_SERVICE (service), NULL);
  g_return_val_if_fail (worker == NULL || CDL_IS_WORKER (worker), NULL);

  return g_object_new (CDL_TYPE_WORKER_DIALOG,
                       "transient-for", parent,
                       "service", service,
                       "worker", worker,
                       NULL);
}

CdlWorker *
cdl_worker_dialog_get_worker (CdlWorkerDialog *self)
{
  g_return_val_if_fail (CDL_IS_WORKER_DIALOG (self), NULL);

  return self->worker;
}
