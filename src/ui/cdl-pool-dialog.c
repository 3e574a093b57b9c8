/* cdl-pool-dialog.c: create a variable pool, or save a new version of one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "ui/cdl-pool-dialog.h"

struct _CdlPoolDialog
{
  AdwWindow        parent_instance;

  CdlPoolService  *service;
  CdlPool         *pool;
  GCancellable    *cancellable;
  GtkNativeDialog *chooser;
  char            *service_error;
  gboolean         loading;
  gboolean         saving;
  gboolean         name_touched;

  /* template */
  AdwWindowTitle  *window_title;
  GtkButton       *save_button;
  GtkWidget       *cancel_button;
  GtkWidget       *page;
  AdwEntryRow     *name_row;
  AdwComboRow     *mode_row;
  GtkTextView     *items_view;
  GtkLabel        *count_label;
  GtkLabel        *error_label;
};

G_DEFINE_FINAL_TYPE (CdlPoolDialog, cdl_pool_dialog, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_SERVICE,
  PROP_POOL,
  N_PROPS
};

enum {
  SAVED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static char *
cdl_pool_dialog_get_text (CdlPoolDialog *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->items_view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);

  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

/* The items as the service will keep them: trimmed, without blanks, the
 * first of each repeat kept. */
static char **
cdl_clean_items (const char *text,
                 guint      *n_duplicates)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  guint duplicates = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *item = g_strstrip (lines[i]);

      if (*item == '\0')
        continue;

      if (!g_hash_table_add (seen, item))
        {
          duplicates++;
          continue;
        }

      g_strv_builder_add (builder, item);
    }

  if (n_duplicates != NULL)
    *n_duplicates = duplicates;

  return g_strv_builder_end (builder);
}

static CdlPoolInput *
cdl_pool_dialog_build_input (CdlPoolDialog *self)
{
  CdlPoolInput *input = cdl_pool_input_new ();
  g_autofree char *text = cdl_pool_dialog_get_text (self);
  g_autofree char *name = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row)));

  input->set = CDL_POOL_FIELD_MODE | CDL_POOL_FIELD_ITEMS;
  if (self->pool == NULL)
    {
      input->set |= CDL_POOL_FIELD_NAME;
      input->name = g_strdup (g_strstrip (name));
    }
  input->mode = adw_combo_row_get_selected (self->mode_row) == 1
                  ? CDL_POOL_MODE_PERMUTATION
                  : CDL_POOL_MODE_NO_REPLACEMENT;
  input->items = cdl_clean_items (text, NULL);

  return input;
}

static void
cdl_pool_dialog_show_error (CdlPoolDialog *self,
                            const char    *message)
{
  gboolean on_name = message != NULL && g_str_has_prefix (message, "name");

  if (on_name)
    gtk_widget_add_css_class (GTK_WIDGET (self->name_row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->name_row), "error");

  gtk_label_set_label (self->error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
}

static void
cdl_pool_dialog_update_count (CdlPoolDialog *self)
{
  g_autofree char *text = cdl_pool_dialog_get_text (self);
  g_autofree char *count = NULL;
  g_autofree char *summary = NULL;
  g_auto(GStrv) items = NULL;
  guint duplicates = 0;
  guint n;

  items = cdl_clean_items (text, &duplicates);
  n = g_strv_length (items);

  count = g_strdup_printf (ngettext ("%u item", "%u items", n), n);
  if (duplicates > 0)
    {
      g_autofree char *dropped = NULL;

      dropped = g_strdup_printf (ngettext ("%u duplicate dropped", "%u duplicates dropped",
                                           duplicates),
                                 duplicates);
      /* TRANSLATORS: "812 items (37 duplicates dropped)" */
      summary = g_strdup_printf (_("%s (%s)"), count, dropped);
    }
  else
    {
      summary = g_steal_pointer (&count);
    }

  gtk_label_set_label (self->count_label, summary);
}

static void
cdl_pool_dialog_validate (CdlPoolDialog *self)
{
  g_autoptr(CdlPoolInput) input = NULL;
  g_autoptr(GError) error = NULL;
  gboolean valid;

  if (self->loading)
    return;

  cdl_pool_dialog_update_count (self);

  input = cdl_pool_dialog_build_input (self);
  valid = cdl_pool_input_validate (input, self->pool == NULL, &error);

  gtk_widget_set_sensitive (GTK_WIDGET (self->save_button), valid && !self->saving);

  if (self->service_error != NULL)
    cdl_pool_dialog_show_error (self, self->service_error);
  else if (!valid && (self->name_touched || self->pool != NULL ||
                      !g_str_has_prefix (error->message, "name")))
    {
      /* A new pool's empty item list is not wrong yet, only empty. */
      g_autofree char *text = cdl_pool_dialog_get_text (self);
      g_auto(GStrv) items = cdl_clean_items (text, NULL);

      cdl_pool_dialog_show_error (self, items[0] != NULL || self->pool != NULL
                                          ? error->message : NULL);
    }
  else
    cdl_pool_dialog_show_error (self, NULL);
}

static void
cdl_pool_dialog_changed_cb (CdlPoolDialog *self)
{
  if (self->loading)
    return;

  if (gtk_widget_has_focus (GTK_WIDGET (self->name_row)) ||
      *gtk_editable_get_text (GTK_EDITABLE (self->name_row)) != '\0')
    self->name_touched = TRUE;

  g_clear_pointer (&self->service_error, g_free);
  cdl_pool_dialog_validate (self);
}

static void
cdl_pool_dialog_set_saving (CdlPoolDialog *self,
                            gboolean       saving)
{
  self->saving = saving;

  /* Focus leaves the fields before they turn insensitive. */
  if (saving)
    gtk_widget_grab_focus (self->cancel_button);

  gtk_widget_set_sensitive (self->page, !saving);
  cdl_pool_dialog_validate (self);
}

static void
cdl_pool_dialog_saved_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(CdlPoolDialog) self = user_data;
  g_autoptr(CdlPool) pool = NULL;
  g_autoptr(GError) error = NULL;
  gboolean created = self->pool == NULL;

  if (created)
    pool = cdl_pool_service_create_finish (CDL_POOL_SERVICE (object), result, &error);
  else
    pool = cdl_pool_service_update_finish (CDL_POOL_SERVICE (object), result, &error);

  if (pool == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      g_free (self->service_error);
      self->service_error = g_strdup (error->message);
      cdl_pool_dialog_set_saving (self, FALSE);
      return;
    }

  self->saving = FALSE;
  g_signal_emit (self, signals[SAVED], 0, pool, created);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
cdl_pool_dialog_save_cb (CdlPoolDialog *self,
                         GtkButton     *button)
{
  g_autoptr(CdlPoolInput) input = NULL;
  g_autoptr(GError) error = NULL;

  if (self->saving || self->service == NULL)
    return;

  input = cdl_pool_dialog_build_input (self);
  if (!cdl_pool_input_validate (input, self->pool == NULL, &error))
    {
      cdl_pool_dialog_show_error (self, error->message);
      return;
    }

  g_clear_pointer (&self->service_error, g_free);
  cdl_pool_dialog_set_saving (self, TRUE);

  if (self->pool == NULL)
    cdl_pool_service_create_async (self->service, g_steal_pointer (&input),
                                   self->cancellable,
                                   cdl_pool_dialog_saved_cb, g_object_ref (self));
  else
    cdl_pool_service_update_async (self->service, cdl_pool_get_id (self->pool),
                                   g_steal_pointer (&input), self->cancellable,
                                   cdl_pool_dialog_saved_cb, g_object_ref (self));
}

/* The first field of a CSV line, unquoted ("a, b",x → a, b). */
static char *
cdl_csv_first_field (const char *line)
{
  GString *field = g_string_new (NULL);
  const char *p = line;

  while (*p == ' ' || *p == '\t')
    p++;

  if (*p != '"')
    {
      const char *comma = strchr (p, ',');

      g_string_append_len (field, p, comma != NULL ? comma - p : (gssize) strlen (p));
      return g_string_free (field, FALSE);
    }

  for (p++; *p != '\0'; p++)
    {
      if (*p == '"' && p[1] == '"')
        {
          g_string_append_c (field, '"');
          p++;
        }
      else if (*p == '"')
        break;
      else
        g_string_append_c (field, *p);
    }

  return g_string_free (field, FALSE);
}

static void
cdl_pool_dialog_loaded_cb (GObject      *object,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  g_autoptr(CdlPoolDialog) self = user_data;
  g_autofree char *contents = NULL;
  g_autofree char *base = NULL;
  g_autofree char *lower = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  GString *text;
  gboolean csv;
  gsize length;

  if (!g_file_load_contents_finish (G_FILE (object), result, &contents, &length, NULL, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      cdl_pool_dialog_show_error (self, error->message);
      return;
    }

  if (!g_utf8_validate_len (contents, length, NULL))
    {
      cdl_pool_dialog_show_error (self, _("The file is not UTF-8 text"));
      return;
    }

  base = g_file_get_basename (G_FILE (object));
  lower = g_ascii_strdown (base != NULL ? base : "", -1);
  csv = g_str_has_suffix (lower, ".csv");

  /* Windows line ends become plain ones; CSV keeps its first column. */
  lines = g_strsplit (contents, "\n", -1);
  text = g_string_new (NULL);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *item = NULL;

      g_strchomp (lines[i]);
      item = csv ? cdl_csv_first_field (lines[i]) : g_strdup (lines[i]);
      g_string_append (text, item);
      g_string_append_c (text, '\n');
    }

  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->items_view), text->str, -1);
  g_string_free (text, TRUE);

  /* The text keeps what the file had; the count says what is dropped. */
  cdl_pool_dialog_validate (self);
}

static void
cdl_pool_dialog_chooser_cb (CdlPoolDialog        *self,
                            int                   response,
                            GtkFileChooserNative *chooser)
{
  g_autoptr(GFile) file = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));

  g_clear_object (&self->chooser);

  if (file != NULL)
    cdl_pool_dialog_import_file (self, file);
}

static void
cdl_pool_dialog_import_cb (CdlPoolDialog *self,
                           GtkButton     *button)
{
  g_autoptr(GtkFileFilter) text = NULL;
  GtkFileChooserNative *chooser;

  if (self->chooser != NULL)
    return;

  chooser = gtk_file_chooser_native_new (_("Import Items"), GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_OPEN,
                                         _("_Import"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);

  text = gtk_file_filter_new ();
  gtk_file_filter_set_name (text, _("Text and CSV Files"));
  gtk_file_filter_add_mime_type (text, "text/plain");
  gtk_file_filter_add_mime_type (text, "text/csv");
  gtk_file_filter_add_suffix (text, "txt");
  gtk_file_filter_add_suffix (text, "csv");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), text);

  g_signal_connect_object (chooser, "response",
                           G_CALLBACK (cdl_pool_dialog_chooser_cb), self,
                           G_CONNECT_SWAPPED);

  self->chooser = GTK_NATIVE_DIALOG (chooser);
  gtk_native_dialog_show (self->chooser);
}

static void
cdl_pool_dialog_load (CdlPoolDialog *self)
{
  self->loading = TRUE;

  if (self->pool == NULL)
    {
      adw_window_title_set_title (self->window_title, _("New Pool"));
      gtk_window_set_title (GTK_WINDOW (self), _("New Pool"));
      gtk_button_set_label (self->save_button, _("C_reate"));
    }
  else
    {
      g_autofree char *subtitle = NULL;
      g_autofree char *items = NULL;

      /* TRANSLATORS: a pool name and the version that an edit makes */
      subtitle = g_strdup_printf (_("%s · saves version %d"), cdl_pool_get_name (self->pool),
                                  cdl_pool_get_current_version (self->pool) + 1);
      adw_window_title_set_title (self->window_title, _("Edit Pool"));
      adw_window_title_set_subtitle (self->window_title, subtitle);
      gtk_window_set_title (GTK_WINDOW (self), _("Edit Pool"));
      gtk_button_set_label (self->save_button, _("_Save"));

      gtk_editable_set_text (GTK_EDITABLE (self->name_row), cdl_pool_get_name (self->pool));
      gtk_editable_set_editable (GTK_EDITABLE (self->name_row), FALSE);
      adw_combo_row_set_selected (self->mode_row,
                                  cdl_pool_get_mode (self->pool) == CDL_POOL_MODE_PERMUTATION);

      items = g_strjoinv ("\n", (char **) cdl_pool_get_items (self->pool));
      gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->items_view), items, -1);
    }

  self->loading = FALSE;
  cdl_pool_dialog_validate (self);
}

static void
cdl_pool_dialog_constructed (GObject *object)
{
  CdlPoolDialog *self = CDL_POOL_DIALOG (object);

  G_OBJECT_CLASS (cdl_pool_dialog_parent_class)->constructed (object);

  cdl_pool_dialog_load (self);
  if (self->pool == NULL)
    gtk_widget_grab_focus (GTK_WIDGET (self->name_row));
  else
    gtk_widget_grab_focus (GTK_WIDGET (self->items_view));
}

static void
cdl_pool_dialog_dispose (GObject *object)
{
  CdlPoolDialog *self = CDL_POOL_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (self->chooser);
  g_clear_object (&self->chooser);

  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_POOL_DIALOG);
  g_clear_object (&self->service);
  g_clear_object (&self->pool);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (cdl_pool_dialog_parent_class)->dispose (object);
}

static void
cdl_pool_dialog_finalize (GObject *object)
{
  CdlPoolDialog *self = CDL_POOL_DIALOG (object);

  g_clear_pointer (&self->service_error, g_free);

  G_OBJECT_CLASS (cdl_pool_dialog_parent_class)->finalize (object);
}

static void
cdl_pool_dialog_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  CdlPoolDialog *self = CDL_POOL_DIALOG (object);

  switch (prop_id)
    {
    case PROP_SERVICE:
      g_value_set_object (value, self->service);
      break;

    case PROP_POOL:
      g_value_set_object (value, self->pool);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_pool_dialog_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  CdlPoolDialog *self = CDL_POOL_DIALOG (object);

  switch (prop_id)
    {
    case PROP_SERVICE:
      self->service = g_value_dup_object (value);
      break;

    case PROP_POOL:
      self->pool = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_pool_dialog_class_init (CdlPoolDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = cdl_pool_dialog_constructed;
  object_class->dispose = cdl_pool_dialog_dispose;
  object_class->finalize = cdl_pool_dialog_finalize;
  object_class->get_property = cdl_pool_dialog_get_property;
  object_class->set_property = cdl_pool_dialog_set_property;

  properties[PROP_SERVICE] =
    g_param_spec_object ("service", NULL, NULL,
                         CDL_TYPE_POOL_SERVICE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_POOL] =
    g_param_spec_object ("pool", NULL, NULL,
                         CDL_TYPE_POOL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CdlPoolDialog::saved:
   * @pool: the pool as stored, at its new version
   * @created: whether the pool is new
   */
  signals[SAVED] =
    g_signal_new ("saved",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, CDL_TYPE_POOL, G_TYPE_BOOLEAN);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-pool-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlPoolDialog, window_title);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolDialog, save_button);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolDialog, page);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolDialog, mode_row);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolDialog, items_view);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolDialog, count_label);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolDialog, error_label);
  gtk_widget_class_bind_template_callback (widget_class, cdl_pool_dialog_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_pool_dialog_save_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_pool_dialog_import_cb);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
cdl_pool_dialog_init (CdlPoolDialog *self)
{
  self->cancellable = g_cancellable_new ();

  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect_object (gtk_text_view_get_buffer (self->items_view), "changed",
                           G_CALLBACK (cdl_pool_dialog_changed_cb), self,
                           G_CONNECT_SWAPPED);
}

CdlPoolDialog *
cdl_pool_dialog_new (GtkWindow      *parent,
                     CdlPoolService *service,
                     CdlPool        *pool)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (CDL_IS_POOL_SERVICE (service), NULL);
  g_return_val_if_fail (pool == NULL || CDL_IS_POOL (pool), NULL);

  return g_object_new (CDL_TYPE_POOL_DIALOG,
                       "transient-for", parent,
                       "service", service,
                       "pool", pool,
                       NULL);
}

void
cdl_pool_dialog_import_file (CdlPoolDialog *self,
                             GFile         *file)
{
  g_return_if_fail (CDL_IS_POOL_DIALOG (self));
  g_return_if_fail (G_IS_FILE (file));

  g_file_load_contents_async (file, self->cancellable,
                              cdl_pool_dialog_loaded_cb, g_object_ref (self));
}

const char *
cdl_pool_dialog_get_summary (CdlPoolDialog *self)
{
  g_return_val_if_fail (CDL_IS_POOL_DIALOG (self), NULL);

  return gtk_label_get_label (self->count_label);
}
