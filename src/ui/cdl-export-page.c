/* cdl-export-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>
#include <string.h>

#include "ui/cdl-export-page.h"
#include "ui/cdl-gallery-tasks.h"
#include "ui/cdl-window.h"

/* Lines the preview shows. */
#define PREVIEW_LINES 8
/* Problems of a verification listed one by one; the summary counts all. */
#define PROBLEMS_SHOWN 50

struct _CdlExportPage
{
  GtkWidget             parent_instance;

  CdlAnnotationService *service;
  GCancellable         *cancellable;   /* task list */
  GCancellable         *preview_cancellable;
  GCancellable         *save_cancellable;
  GCancellable         *verify_cancellable;
  gboolean              listing;
  gboolean              previewing;
  gboolean              saving;
  gboolean              verifying;
  gint64                saved_lines;
  char                 *verify_result;
  GPtrArray            *problem_rows;
  GtkFileChooserNative *chooser;

  /* template */
  GtkStack             *stack;
  AdwComboRow          *task_row;
  AdwComboRow          *format_row;
  GtkTextView          *preview_view;
  GtkWidget            *save_button;
  GtkWidget            *progress_box;
  GtkProgressBar       *progress_bar;
  AdwPreferencesGroup  *verify_group;
  AdwActionRow         *verify_row;
  GtkImage             *verify_icon;
  GtkSpinner           *verify_spinner;
};

G_DEFINE_FINAL_TYPE (CdlExportPage, cdl_export_page, GTK_TYPE_WIDGET)

static void
cdl_export_page_update_actions (CdlExportPage *self)
{
  gboolean picked = cdl_gallery_tasks_selected (self->task_row) != NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "export.save", picked && !self->saving);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "export.cancel", self->saving);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "export.verify",
                                 picked && !self->verifying);
}

static CdlExportFormat
cdl_export_page_get_format (CdlExportPage *self)
{
  return adw_combo_row_get_selected (self->format_row) == 1 ? CDL_EXPORT_PAIRS : CDL_EXPORT_DPO;
}

static void
cdl_export_page_toast (CdlExportPage *self,
                       const char    *title)
{
  GtkWidget *window = gtk_widget_get_ancestor (GTK_WIDGET (self), CDL_TYPE_WINDOW);

  if (window != NULL)
    cdl_window_add_toast (CDL_WINDOW (window), adw_toast_new (title));
}

static void
cdl_export_page_set_preview (CdlExportPage *self,
                             const char    *text)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->preview_view);
  GtkTextIter start;

  /* Keys and paths wrap where they must, without made-up hyphens. */
  gtk_text_buffer_set_text (buffer, "", 0);
  gtk_text_buffer_get_start_iter (buffer, &start);
  gtk_text_buffer_insert_with_tags_by_name (buffer, &start, text, -1, "raw", NULL);
}

/* Running an export ---------------------------------------------------------- */

typedef enum
{
  RUN_PREVIEW,
  RUN_SAVE,
  RUN_VERIFY,
} RunKind;

/* One pass over an export: its lines are read chunk by chunk on the
 * service's threads and handled here; the export is freed only once no
 * read is in flight. */
typedef struct
{
  CdlExportPage *self;
  RunKind        kind;
  CdlDpoExport  *export;
  GCancellable  *cancellable;
  GOutputStream *stream;
  GFile         *file;
  GBytes        *pending;
  GString       *preview;
  guint          preview_lines;
  gint64         lines;
  gint64         expected;    /* -1: unknown */
  guint          problems;
  gint64         checked, missing, mismatched, unreadable;
} Run;

static void
run_free (Run *run)
{
  g_clear_pointer (&run->export, cdl_dpo_export_free);
  g_clear_object (&run->stream);
  g_clear_object (&run->file);
  g_clear_pointer (&run->pending, g_bytes_unref);
  if (run->preview != NULL)
    g_string_free (run->preview, TRUE);
  g_clear_object (&run->cancellable);
  g_clear_object (&run->self);
  g_free (run);
}

static void
cdl_export_page_set_verify (CdlExportPage *self,
                            const char    *icon,
                            const char    *title,
                            const char    *subtitle)
{
  g_free (self->verify_result);
  self->verify_result = g_strdup (title);
  gtk_image_set_from_icon_name (self->verify_icon, icon);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->verify_row), title);
  adw_action_row_set_subtitle (self->verify_row, subtitle);
}

static void
cdl_export_page_clear_problems (CdlExportPage *self)
{
  for (guint i = 0; i < self->problem_rows->len; i++)
    adw_preferences_group_remove (self->verify_group, g_ptr_array_index (self->problem_rows, i));
  g_ptr_array_set_size (self->problem_rows, 0);
}

static void
stream_closed_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  gboolean closed = g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &error);

  if (run->self->service == NULL)
    {
      run_free (run);
      return;
    }

  if (!closed)
    {
      g_autofree char *title = g_strdup_printf (_("Could not save the export: %s"),
                                                error->message);

      run->self->saved_lines = -1;
      cdl_export_page_toast (run->self, title);
    }
  else
    {
      g_autofree char *title = NULL;

      run->self->saved_lines = run->lines;
      title = g_strdup_printf (ngettext ("Saved %" PRId64 " line",
                                         "Saved %" PRId64 " lines", run->lines),
                               run->lines);
      cdl_export_page_toast (run->self, title);
    }

  run->self->saving = FALSE;
  gtk_widget_set_visible (run->self->progress_box, FALSE);
  cdl_export_page_update_actions (run->self);
  run_free (run);
}

static void
run_finish (Run    *run,
            GError *error)
{
  CdlExportPage *self = run->self;
  gboolean cancelled = g_cancellable_is_cancelled (run->cancellable);

  /* The connection goes back to the pool before anything else. */
  g_clear_pointer (&run->export, cdl_dpo_export_free);

  /* A half-written file is no export: drop it. */
  if (run->kind == RUN_SAVE && error != NULL && run->stream != NULL)
    {
      g_output_stream_close (run->stream, NULL, NULL);
      g_file_delete (run->file, NULL, NULL);
    }

  /* The page went away meanwhile. */
  if (self->service == NULL)
    {
      run_free (run);
      return;
    }

  switch (run->kind)
    {
    case RUN_PREVIEW:
      if (cancelled)
        break;
      self->previewing = FALSE;
      if (error != NULL)
        cdl_export_page_set_preview (self, error->message);
      else if (run->preview->len == 0)
        cdl_export_page_set_preview (self, _("Nothing to export yet: label some batches of"
                                             " this task on the Annotate page."));
      else
        cdl_export_page_set_preview (self, run->preview->str);
      break;

    case RUN_SAVE:
      if (error == NULL)
        {
          g_output_stream_close_async (run->stream, G_PRIORITY_DEFAULT, NULL, stream_closed_cb,
                                       run);
          return;
        }
      self->saving = FALSE;
      self->saved_lines = -1;
      gtk_widget_set_visible (self->progress_box, FALSE);
      if (!cancelled)
        {
          g_autofree char *title = g_strdup_printf (_("Could not save the export: %s"),
                                                    error->message);

          cdl_export_page_toast (self, title);
        }
      break;

    case RUN_VERIFY:
      self->verifying = FALSE;
      gtk_widget_set_visible (GTK_WIDGET (self->verify_spinner), FALSE);
      if (error != NULL)
        {
          if (!cancelled)
            cdl_export_page_set_verify (self, "dialog-error-symbolic",
                                        _("Could not verify the checksums"), error->message);
        }
      else if (run->missing + run->mismatched + run->unreadable == 0)
        {
          g_autofree char *title = NULL;

          title = g_strdup_printf (ngettext ("The image matches its checksum",
                                             "All %" PRId64 " images match their"
                                             " checksums", run->checked),
                                   run->checked);
          cdl_export_page_set_verify (self, "emblem-ok-symbolic", title, NULL);
        }
      else
        {
          g_autofree char *title = NULL;
          g_autofree char *subtitle = NULL;

          title = g_strdup_printf (_("%" PRId64 " missing, %" PRId64
                                     " mismatched, %" PRId64 " unreadable"),
                                   run->missing, run->mismatched, run->unreadable);
          subtitle = g_strdup_printf (ngettext ("of %" PRId64 " image checked",
                                                "of %" PRId64 " images checked",
                                                run->checked),
                                      run->checked);
          cdl_export_page_set_verify (self, "dialog-warning-symbolic", title, subtitle);
        }
      break;

    default:
      g_assert_not_reached ();
    }

  cdl_export_page_update_actions (self);
  run_free (run);
}

static void run_read (Run *run);

static void
run_add_problem (Run        *run,
                 JsonObject *problem)
{
  const char *kind = json_object_get_string_member_with_default (problem, "problem", "");
  const char *uri = json_object_get_string_member_with_default (problem, "uri", "");
  g_autofree char *subtitle = NULL;
  GtkWidget *row;

  if (run->problems++ >= PROBLEMS_SHOWN)
    return;

  if (g_strcmp0 (kind, "missing") == 0)
    subtitle = g_strdup (_("The file is missing"));
  else if (g_strcmp0 (kind, "mismatch") == 0)
    subtitle = g_strdup_printf (_("Checksum %s, expected %s"),
                                json_object_get_string_member_with_default (problem, "actual",
                                                                            "?"),
                                json_object_get_string_member_with_default (problem,
                                                                            "expected", "?"));
  else
    subtitle = g_strdup (json_object_get_string_member_with_default (problem, "message",
                                                                     kind));

  row = adw_action_row_new ();
  gtk_widget_set_name (row, "export-problem");
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), uri);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row),
                             gtk_image_new_from_icon_name ("dialog-warning-symbolic"));
  adw_preferences_group_add (run->self->verify_group, row);
  g_ptr_array_add (run->self->problem_rows, row);
}

static void
run_verify_lines (Run          *run,
                  const char   *data,
                  gsize         len)
{
  g_auto(GStrv) lines = NULL;
  g_autofree char *text = g_strndup (data, len);

  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonNode) node = NULL;
      JsonObject *obj;

      if (*lines[i] == '\0' || (node = json_from_string (lines[i], NULL)) == NULL
          || !JSON_NODE_HOLDS_OBJECT (node))
        continue;

      obj = json_node_get_object (node);
      if (json_object_get_boolean_member_with_default (obj, "summary", FALSE))
        {
          run->checked = json_object_get_int_member_with_default (obj, "checked", 0);
          run->missing = json_object_get_int_member_with_default (obj, "missing", 0);
          run->mismatched = json_object_get_int_member_with_default (obj, "mismatched", 0);
          run->unreadable = json_object_get_int_member_with_default (obj, "unreadable", 0);
        }
      else
        {
          run_add_problem (run, obj);
        }
    }
}

/* Ends @run when its page went away while a chunk was on its way. */
static gboolean
run_page_gone (Run *run)
{
  g_autoptr(GError) error = NULL;

  if (run->self->service != NULL)
    return FALSE;

  error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The page was closed");
  run_finish (run, error);
  return TRUE;
}

static gint64
count_lines (const char *data,
             gsize       len)
{
  gint64 n = 0;

  for (const char *p = data; (p = memchr (p, '\n', len - (p - data))) != NULL; p++)
    n++;

  return n;
}

static void
run_written_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Run *run = user_data;
  GError *error = NULL;
  g_autofree char *text = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      run_finish (run, error);
      g_error_free (error);
      return;
    }

  if (run_page_gone (run))
    return;

  run->lines += count_lines (g_bytes_get_data (run->pending, NULL),
                             g_bytes_get_size (run->pending));
  g_clear_pointer (&run->pending, g_bytes_unref);

  text = g_strdup_printf (ngettext ("%" PRId64 " line written",
                                    "%" PRId64 " lines written", run->lines),
                          run->lines);
  gtk_progress_bar_set_text (run->self->progress_bar, text);
  if (run->expected > 0)
    gtk_progress_bar_set_fraction (run->self->progress_bar,
                                   MIN (1.0, (double) run->lines / run->expected));
  else
    gtk_progress_bar_pulse (run->self->progress_bar);

  run_read (run);
}

static void
run_next_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GBytes) bytes = NULL;
  GError *error = NULL;
  const char *data;
  gsize len;

  bytes = cdl_dpo_export_next_finish (run->export, result, &error);
  if (bytes == NULL)
    {
      run_finish (run, error);
      g_error_free (error);
      return;
    }

  if (run_page_gone (run))
    return;

  data = g_bytes_get_data (bytes, &len);
  if (len == 0)
    {
      run_finish (run, NULL);
      return;
    }

  switch (run->kind)
    {
    case RUN_PREVIEW:
      for (gsize i = 0; i < len && run->preview_lines < PREVIEW_LINES; i++)
        {
          g_string_append_c (run->preview, data[i]);
          if (data[i] == '\n')
            run->preview_lines++;
        }
      if (run->preview_lines >= PREVIEW_LINES)
        run_finish (run, NULL);
      else
        run_read (run);
      break;

    case RUN_SAVE:
      run->pending = g_bytes_ref (bytes);
      g_output_stream_write_all_async (run->stream, data, len, G_PRIORITY_DEFAULT,
                                       run->cancellable, run_written_cb, run);
      break;

    case RUN_VERIFY:
      run_verify_lines (run, data, len);
      run_read (run);
      break;

    default:
      g_assert_not_reached ();
    }
}

static void
run_read (Run *run)
{
  cdl_dpo_export_next_async (run->export, run->cancellable, run_next_cb, run);
}

static void
run_opened_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Run *run = user_data;
  GError *error = NULL;

  run->export = cdl_annotation_service_export_open_finish (run->self->service,
                                                           result, &error);
  if (run->export == NULL)
    {
      run_finish (run, error);
      g_error_free (error);
      return;
    }

  run_read (run);
}

static Run *
run_new (CdlExportPage *self,
         RunKind        kind,
         GCancellable  *cancellable)
{
  Run *run = g_new0 (Run, 1);

  run->self = g_object_ref (self);
  run->kind = kind;
  run->cancellable = g_object_ref (cancellable);
  run->expected = -1;

  return run;
}

static void
run_start (Run             *run,
           CdlExportFormat  format)
{
  cdl_annotation_service_export_open_async (run->self->service,
                                            cdl_gallery_tasks_selected (run->self->task_row),
                                            format, run->cancellable, run_opened_cb, run);
}

/* Preview ------------------------------------------------------------------- */

static void
cdl_export_page_preview (CdlExportPage *self)
{
  Run *run;

  g_cancellable_cancel (self->preview_cancellable);
  g_clear_object (&self->preview_cancellable);
  self->previewing = FALSE;
  cdl_export_page_update_actions (self);

  if (cdl_gallery_tasks_selected (self->task_row) == NULL)
    {
      cdl_export_page_set_preview (self, "");
      return;
    }

  self->preview_cancellable = g_cancellable_new ();
  self->previewing = TRUE;
  cdl_export_page_set_preview (self, _("Loading…"));
  run = run_new (self, RUN_PREVIEW, self->preview_cancellable);
  run->preview = g_string_new (NULL);
  run_start (run, cdl_export_page_get_format (self));
}

static void
cdl_export_page_changed_cb (CdlExportPage *self,
                            GParamSpec    *pspec,
                            AdwComboRow   *row)
{
  if (row == self->task_row)
    {
      cdl_export_page_clear_problems (self);
      cdl_export_page_set_verify (self, "dialog-question-symbolic", _("Not checked yet"), NULL);
    }
  cdl_export_page_preview (self);
}

/* Save ---------------------------------------------------------------------- */

static void
save_counted_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(JsonNode) stats = NULL;

  /* Only for the progress: without it the bar pulses. */
  stats = cdl_annotation_service_stats_finish (run->self->service, result, NULL);
  if (stats != NULL)
    {
      JsonArray *users = json_object_get_array_member (json_node_get_object (stats),
                                                       "annotators");

      run->expected = 0;
      for (guint i = 0; users != NULL && i < json_array_get_length (users); i++)
        {
          JsonObject *user = json_array_get_object_element (users, i);

          run->expected += json_object_get_int_member (user, "labels")
                           - json_object_get_int_member (user, "spam");
        }
    }

  run_start (run, CDL_EXPORT_DPO);
}

static void
file_replaced_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Run *run = user_data;
  GError *error = NULL;
  GFileOutputStream *stream;

  stream = g_file_replace_finish (G_FILE (source), result, &error);
  if (stream == NULL)
    {
      run_finish (run, error);
      g_error_free (error);
      return;
    }

  run->stream = G_OUTPUT_STREAM (stream);

  if (cdl_export_page_get_format (run->self) == CDL_EXPORT_PAIRS)
    run_start (run, CDL_EXPORT_PAIRS);
  else
    cdl_annotation_service_stats_async (run->self->service,
                                        cdl_gallery_tasks_selected (run->self->task_row),
                                        run->cancellable, save_counted_cb, run);
}

void
cdl_export_page_save_to_file (CdlExportPage *self,
                              GFile         *file)
{
  Run *run;

  g_return_if_fail (CDL_IS_EXPORT_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  if (self->saving || cdl_gallery_tasks_selected (self->task_row) == NULL)
    return;

  g_clear_object (&self->save_cancellable);
  self->save_cancellable = g_cancellable_new ();
  self->saving = TRUE;
  self->saved_lines = 0;
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_progress_bar_set_text (self->progress_bar, _("Starting…"));
  gtk_widget_set_visible (self->progress_box, TRUE);
  cdl_export_page_update_actions (self);

  run = run_new (self, RUN_SAVE, self->save_cancellable);
  run->file = g_object_ref (file);
  g_file_replace_async (file, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION,
                        G_PRIORITY_DEFAULT, run->cancellable, file_replaced_cb, run);
}

static void
chooser_response_cb (CdlExportPage        *self,
                     int                   response,
                     GtkFileChooserNative *chooser)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));

      cdl_export_page_save_to_file (self, file);
    }

  g_clear_object (&self->chooser);
}

static void
save_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  CdlExportPage *self = CDL_EXPORT_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  g_autofree char *name = NULL;
  const char *task_id = cdl_gallery_tasks_selected (self->task_row);

  if (task_id == NULL || self->chooser != NULL)
    return;

  self->chooser = gtk_file_chooser_native_new (_("Save the Export"),
                                               GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                               GTK_FILE_CHOOSER_ACTION_SAVE,
                                               _("_Save"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  name = g_strdup_printf ("%s-%.8s.jsonl",
                          cdl_export_page_get_format (self) == CDL_EXPORT_PAIRS ? "pairs" : "dpo",
                          task_id);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->chooser), name);
  g_signal_connect_swapped (self->chooser, "response", G_CALLBACK (chooser_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  g_cancellable_cancel (CDL_EXPORT_PAGE (widget)->save_cancellable);
}

/* Verify -------------------------------------------------------------------- */

void
cdl_export_page_verify (CdlExportPage *self)
{
  Run *run;

  g_return_if_fail (CDL_IS_EXPORT_PAGE (self));

  if (self->verifying || cdl_gallery_tasks_selected (self->task_row) == NULL)
    return;

  g_clear_object (&self->verify_cancellable);
  self->verify_cancellable = g_cancellable_new ();
  self->verifying = TRUE;
  cdl_export_page_clear_problems (self);
  cdl_export_page_set_verify (self, "content-loading-symbolic", _("Checking…"), NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->verify_spinner), TRUE);
  gtk_spinner_set_spinning (self->verify_spinner, TRUE);
  cdl_export_page_update_actions (self);

  run = run_new (self, RUN_VERIFY, self->verify_cancellable);
  run_start (run, CDL_EXPORT_VERIFY);
}

static void
verify_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  cdl_export_page_verify (CDL_EXPORT_PAGE (widget));
}

/* Tasks --------------------------------------------------------------------- */

static void
tasks_listed_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(CdlExportPage) self = user_data;
  g_autoptr(JsonNode) tasks = NULL;
  g_autoptr(GError) error = NULL;

  tasks = cdl_annotation_service_list_tasks_finish (self->service, result, &error);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;

  self->listing = FALSE;
  if (cdl_gallery_tasks_show (self->task_row, self->stack, "export", tasks, error))
    cdl_export_page_preview (self);
}

void
cdl_export_page_reload (CdlExportPage *self)
{
  g_return_if_fail (CDL_IS_EXPORT_PAGE (self));

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
  cdl_export_page_reload (CDL_EXPORT_PAGE (widget));
}

/* GObject ------------------------------------------------------------------- */

static void
cdl_export_page_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (cdl_export_page_parent_class)->map (widget);

  /* Labels may have been added since: refresh the list and the preview. */
  cdl_export_page_reload (CDL_EXPORT_PAGE (widget));
}

static void
cdl_export_page_dispose (GObject *object)
{
  CdlExportPage *self = CDL_EXPORT_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_cancellable_cancel (self->preview_cancellable);
  g_cancellable_cancel (self->save_cancellable);
  g_cancellable_cancel (self->verify_cancellable);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_EXPORT_PAGE);
  g_clear_object (&self->service);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->preview_cancellable);
  g_clear_object (&self->save_cancellable);
  g_clear_object (&self->verify_cancellable);
  g_clear_pointer (&self->problem_rows, g_ptr_array_unref);

  G_OBJECT_CLASS (cdl_export_page_parent_class)->dispose (object);
}

static void
cdl_export_page_finalize (GObject *object)
{
  g_free (CDL_EXPORT_PAGE (object)->verify_result);

  G_OBJECT_CLASS (cdl_export_page_parent_class)->finalize (object);
}

static void
cdl_export_page_class_init (CdlExportPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_export_page_dispose;
  object_class->finalize = cdl_export_page_finalize;
  widget_class->map = cdl_export_page_map;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-export-page.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlExportPage, stack);
  gtk_widget_class_bind_template_child (widget_class, CdlExportPage, task_row);
  gtk_widget_class_bind_template_child (widget_class, CdlExportPage, format_row);
  gtk_widget_class_bind_template_child (widget_class, CdlExportPage, preview_view);
  gtk_widget_class_bind_template_child (widget_class, CdlExportPage, save_button);
  gtk_widget_class_bind_template_child (widget_class, CdlExportPage, progress_box);
  gtk_widget_class_bind_template_child (widget_class, CdlExportPage, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, CdlExportPage, verify_group);
  gtk_widget_class_bind_template_child (widget_class, CdlExportPage, verify_row);
  gtk_widget_class_bind_template_child (widget_class, CdlExportPage, verify_icon);
  gtk_widget_class_bind_template_child (widget_class, CdlExportPage, verify_spinner);
  gtk_widget_class_bind_template_callback (widget_class, cdl_export_page_changed_cb);

  gtk_widget_class_install_action (widget_class, "export.save", NULL, save_action);
  gtk_widget_class_install_action (widget_class, "export.cancel", NULL, cancel_action);
  gtk_widget_class_install_action (widget_class, "export.verify", NULL, verify_action);
  gtk_widget_class_install_action (widget_class, "export.reload", NULL, reload_action);
}

static void
cdl_export_page_init (CdlExportPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();
  self->problem_rows = g_ptr_array_new ();
  gtk_text_buffer_create_tag (gtk_text_view_get_buffer (self->preview_view), "raw",
                              "insert-hyphens", FALSE, NULL);
  cdl_export_page_update_actions (self);
}

void
cdl_export_page_set_service (CdlExportPage        *self,
                             CdlAnnotationService *service)
{
  g_return_if_fail (CDL_IS_EXPORT_PAGE (self));
  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (service));

  if (g_set_object (&self->service, service))
    cdl_export_page_reload (self);
}

gboolean
cdl_export_page_select_task (CdlExportPage *self,
                             const char    *task_id)
{
  g_return_val_if_fail (CDL_IS_EXPORT_PAGE (self), FALSE);

  return cdl_gallery_tasks_select (self->task_row, task_id);
}

void
cdl_export_page_set_format (CdlExportPage   *self,
                            CdlExportFormat  format)
{
  g_return_if_fail (CDL_IS_EXPORT_PAGE (self));
  g_return_if_fail (format == CDL_EXPORT_DPO || format == CDL_EXPORT_PAIRS);

  adw_combo_row_set_selected (self->format_row, format == CDL_EXPORT_PAIRS ? 1 : 0);
}

gboolean
cdl_export_page_is_busy (CdlExportPage *self)
{
  g_return_val_if_fail (CDL_IS_EXPORT_PAGE (self), FALSE);

  return self->listing || self->previewing || self->saving || self->verifying;
}

gint64
cdl_export_page_get_saved_lines (CdlExportPage *self)
{
  g_return_val_if_fail (CDL_IS_EXPORT_PAGE (self), -1);

  return self->saved_lines;
}

char *
cdl_export_page_get_preview (CdlExportPage *self)
{
  GtkTextBuffer *buffer;
  GtkTextIter start, end;

  g_return_val_if_fail (CDL_IS_EXPORT_PAGE (self), NULL);

  buffer = gtk_text_view_get_buffer (self->preview_view);
  gtk_text_buffer_get_bounds (buffer, &start, &end);

  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

const char *
cdl_export_page_get_verify_result (CdlExportPage *self)
{
  g_return_val_if_fail (CDL_IS_EXPORT_PAGE (self), NULL);

  return self->verify_result;
}
