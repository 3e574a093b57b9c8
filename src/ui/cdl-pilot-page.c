/* cdl-pilot-page.c: the pilot review of a task before its freeze
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "services/cdl-service-error.h"
#include "storage/cdl-thumbnailer.h"
#include "ui/cdl-pilot-page.h"

/* The side of a sample on screen, in pixels. */
#define SAMPLE_SIDE 160

struct _CdlPilotPage
{
  AdwWindow         parent_instance;

  CdlPilotService  *pilots;
  CdlTaskService   *tasks;
  CdlWorkerService *workers;
  CdlObjectStore   *store;
  CdlThumbnailer   *thumbnailer;
  char             *task_id;
  GCancellable     *cancellable;   /* everything, until the window goes */
  GCancellable     *loads;         /* the thumbnails of the samples shown */
  JsonNode         *record;
  guint             n_samples;
  guint             n_loaded;
  gboolean          running;
  gboolean          freezing;

  /* template */
  AdwWindowTitle   *window_title;
  GtkWidget        *run_button;
  AdwButtonContent *run_content;
  GtkWidget        *freeze_button;
  AdwToastOverlay  *toasts;
  GtkStack         *stack;
  GtkSpinner       *spinner;
  AdwStatusPage    *error_page;
  AdwActionRow     *worker_row;
  AdwActionRow     *retries_row;
  AdwActionRow     *settings_row;
  GtkLabel         *note_label;
  GtkFlowBox       *samples_box;
};

G_DEFINE_FINAL_TYPE (CdlPilotPage, cdl_pilot_page, ADW_TYPE_WINDOW)

static void
cdl_pilot_page_update_buttons (CdlPilotPage *self)
{
  gboolean result = g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "result") == 0;

  gtk_widget_set_sensitive (self->run_button, !self->running && !self->freezing);
  gtk_widget_set_sensitive (self->freeze_button,
                            result && !self->running && !self->freezing);
  adw_button_content_set_label (self->run_content,
                                self->record != NULL ? _("_Run Again") : _("_Run Pilot"));
}

static void
cdl_pilot_page_show_view (CdlPilotPage *self,
                          const char   *view)
{
  gtk_stack_set_visible_child_name (self->stack, view);
  if (g_strcmp0 (view, "running") == 0)
    gtk_spinner_start (self->spinner);
  else
    gtk_spinner_stop (self->spinner);
  cdl_pilot_page_update_buttons (self);
}

/* What went wrong, in words a task user can act on. */
static void
cdl_pilot_page_show_error (CdlPilotPage *self,
                           const GError *error)
{
  g_autofree char *text = NULL;
  const char *title;

  if (g_error_matches (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NO_HEALTHY_WORKER))
    {
      title = _("No Worker Is Ready");
      text = g_strdup (_("No enabled worker passes its health check, so the pilot was not "
                         "sent anywhere. Check the Workers page, then run the pilot again."));
    }
  else if (g_error_matches (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_RATE_LIMITED))
    {
      title = _("Too Many Pilots");
      /* TRANSLATORS: %s says how long to wait */
      text = g_strdup_printf (_("A pilot was started moments ago, and pilots are limited per "
                                "person. Wait a little, then run it again. (%s)"),
                              error->message);
    }
  else if (g_error_matches (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND))
    {
      title = _("Task Not Found");
      text = g_strdup (_("This task no longer exists; it may have been deleted elsewhere."));
    }
  else
    {
      title = _("The Pilot Failed");
      /* TRANSLATORS: %s is the reason the pilot failed */
      text = g_strdup_printf (_("The pilot could not make its samples: %s"), error->message);
    }

  adw_status_page_set_title (self->error_page, title);
  adw_status_page_set_description (self->error_page, text);
  cdl_pilot_page_show_view (self, "error");
}

/* A sample: read from the store, decoded on the thumbnailer's threads. */

typedef struct
{
  CdlPilotPage *self;
  GtkImage     *image;
} SampleLoad;

static void
sample_load_free (SampleLoad *load)
{
  g_object_unref (load->self);
  g_object_unref (load->image);
  g_free (load);
}

static void
cdl_pilot_page_decoded_cb (GObject      *object,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  SampleLoad *load = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlDecodedImage) image = NULL;
  g_autoptr(GdkTexture) texture = NULL;

  image = cdl_thumbnailer_decode_finish (CDL_THUMBNAILER (object), result, &error);
  if (image == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("Cannot decode a pilot sample: %s", error->message);
      sample_load_free (load);
      return;
    }

  texture = gdk_memory_texture_new ((int) image->width, (int) image->height,
                                    GDK_MEMORY_R8G8B8A8, image->pixels, image->stride);
  gtk_image_set_from_paintable (load->image, GDK_PAINTABLE (texture));
  load->self->n_loaded++;
  sample_load_free (load);
}

static void
cdl_pilot_page_read_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  SampleLoad *load = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;

  bytes = cdl_object_store_get_bytes_finish (CDL_OBJECT_STORE (object), result, NULL, &error);
  if (bytes == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("Cannot read a pilot sample: %s", error->message);
      sample_load_free (load);
      return;
    }

  cdl_thumbnailer_decode_async (load->self->thumbnailer, bytes, load->self->loads,
                                cdl_pilot_page_decoded_cb, load);
}

static void
cdl_pilot_page_add_sample (CdlPilotPage *self,
                           JsonObject   *sample)
{
  const char *key = json_object_get_string_member_with_default (sample, "thumb_key", NULL);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *frame = gtk_frame_new (NULL);
  GtkWidget *image = gtk_image_new ();
  GtkWidget *label;
  g_autofree char *seed = NULL;

  /* TRANSLATORS: the seed of a sample image */
  seed = g_strdup_printf (_("Seed %" PRId64),
                          json_object_get_int_member_with_default (sample, "seed", 0));

  gtk_widget_set_name (box, "pilot-sample");
  gtk_widget_set_name (image, "pilot-sample-image");
  /* A square of SAMPLE_SIDE, the thumbnail fitted inside, aspect kept. */
  gtk_image_set_pixel_size (GTK_IMAGE (image), SAMPLE_SIDE);
  gtk_widget_set_halign (frame, GTK_ALIGN_CENTER);
  gtk_frame_set_child (GTK_FRAME (frame), image);
  label = gtk_label_new (seed);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_widget_add_css_class (label, "caption");
  gtk_widget_add_css_class (label, "dim-label");
  gtk_box_append (GTK_BOX (box), frame);
  gtk_box_append (GTK_BOX (box), label);
  gtk_flow_box_append (self->samples_box, box);
  self->n_samples++;

  if (key != NULL && self->store != NULL)
    {
      SampleLoad *load = g_new0 (SampleLoad, 1);

      load->self = g_object_ref (self);
      load->image = g_object_ref (GTK_IMAGE (image));
      cdl_object_store_get_bytes_async (self->store, key, self->loads,
                                        cdl_pilot_page_read_cb, load);
    }
}

static void
cdl_pilot_page_worker_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(CdlPilotPage) self = user_data;
  g_autoptr(CdlWorker) worker = NULL;

  worker = cdl_worker_service_get_finish (CDL_WORKER_SERVICE (object), result, NULL);
  if (worker != NULL)
    adw_action_row_set_subtitle (self->worker_row, cdl_worker_get_name (worker));
}

static void
cdl_pilot_page_clear_samples (CdlPilotPage *self)
{
  GtkWidget *child;

  g_cancellable_cancel (self->loads);
  g_clear_object (&self->loads);
  self->loads = g_cancellable_new ();
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->samples_box))) != NULL)
    gtk_flow_box_remove (self->samples_box, child);
  self->n_samples = 0;
  self->n_loaded = 0;
}

/* Shows a pilot record: its samples and what worked, or its failure. */
static void
cdl_pilot_page_show_record (CdlPilotPage *self,
                            JsonNode     *record)
{
  JsonObject *obj = json_node_get_object (record);
  const char *worker_id = json_object_get_string_member_with_default (obj, "worker_id", NULL);
  gint64 retries = json_object_get_int_member_with_default (obj, "retries_used", 0);
  JsonObject *settings = NULL;
  JsonArray *samples;
  g_autofree char *retries_text = NULL;
  g_autofree char *settings_text = NULL;
  gint64 width = 0, height = 0, batch = 1;

  g_clear_pointer (&self->record, json_node_unref);
  self->record = json_node_ref (record);
  cdl_pilot_page_clear_samples (self);

  if (json_object_has_member (obj, "error"))
    {
      g_autoptr(GError) error = NULL;
      const char *message = json_object_get_string_member_with_default (obj, "error", "");

      error = g_error_new (CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_FAILED, "%s", message);
      cdl_pilot_page_show_error (self, error);
      return;
    }

  if (json_object_has_member (obj, "settings"))
    settings = json_object_get_object_member (obj, "settings");
  if (settings != NULL)
    {
      width = json_object_get_int_member_with_default (settings, "width", 0);
      height = json_object_get_int_member_with_default (settings, "height", 0);
      batch = json_object_get_int_member_with_default (settings, "batch_size", 1);
    }

  adw_action_row_set_subtitle (self->worker_row, worker_id != NULL ? worker_id : "—");
  if (worker_id != NULL && self->workers != NULL)
    cdl_worker_service_get_async (self->workers, worker_id, self->cancellable,
                                  cdl_pilot_page_worker_cb, g_object_ref (self));

  retries_text = g_strdup_printf (ngettext ("%" PRId64 " of 3 (out of memory once)",
                                            "%" PRId64 " of 3 (out of memory)",
                                            retries), retries);
  adw_action_row_set_subtitle (self->retries_row,
                               retries > 0 ? retries_text : _("None: the first try worked"));

  /* TRANSLATORS: a width × height in pixels, then the batch size */
  settings_text = g_strdup_printf (_("%" PRId64 " × %" PRId64
                                     " px, batch %" PRId64),
                                   width, height, batch);
  adw_action_row_set_subtitle (self->settings_row, settings_text);

  if (retries > 0)
    {
      g_autofree char *note = NULL;

      note = g_strdup_printf (ngettext ("The worker ran out of memory; after %" PRId64
                                        " retry the pilot worked at %" PRId64 " × %"
                                        PRId64 " px, batch %" PRId64 ". "
                                        "Freezing from here keeps these settings for the "
                                        "whole run.",
                                        "The worker ran out of memory; after %" PRId64
                                        " retries the pilot worked at %" PRId64 " × %"
                                        PRId64 " px, batch %" PRId64 ". "
                                        "Freezing from here keeps these settings for the "
                                        "whole run.",
                                        retries),
                              retries, width, height, batch);
      gtk_label_set_label (self->note_label, note);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->note_label), retries > 0);

  samples = json_object_get_array_member (obj, "samples");
  for (guint i = 0; samples != NULL && i < json_array_get_length (samples); i++)
    cdl_pilot_page_add_sample (self, json_array_get_object_element (samples, i));

  cdl_pilot_page_show_view (self, "result");
}

static void
cdl_pilot_page_loaded_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(CdlPilotPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) record = NULL;

  record = cdl_pilot_service_finish (CDL_PILOT_SERVICE (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->running)
    return;

  if (record != NULL)
    cdl_pilot_page_show_record (self, record);
  else if (g_error_matches (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND)
           && self->record == NULL)
    cdl_pilot_page_show_view (self, "empty");
  else
    cdl_pilot_page_show_error (self, error);
}

static void
cdl_pilot_page_ran_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(CdlPilotPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) record = NULL;

  record = cdl_pilot_service_finish (CDL_PILOT_SERVICE (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self->running = FALSE;
  if (record != NULL)
    cdl_pilot_page_show_record (self, record);
  else
    cdl_pilot_page_show_error (self, error);
}

void
cdl_pilot_page_run (CdlPilotPage *self)
{
  g_return_if_fail (CDL_IS_PILOT_PAGE (self));

  if (self->running || self->freezing)
    return;

  self->running = TRUE;
  cdl_pilot_page_clear_samples (self);
  cdl_pilot_page_show_view (self, "running");
  /* FIXME: the desktop pilots as the process itself, outside the per-user
   * rate limit, as it has no signed-in user yet; the 429 sentence shows
   * for the REST callers' errors passed through. */
  cdl_pilot_service_pilot_async (self->pilots, self->task_id, NULL, self->cancellable,
                                 cdl_pilot_page_ran_cb, g_object_ref (self));
}

static void
cdl_pilot_page_frozen_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(CdlPilotPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlTask) task = NULL;

  task = cdl_task_service_freeze_finish (CDL_TASK_SERVICE (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self->freezing = FALSE;
  if (task == NULL)
    {
      g_autofree char *text = NULL;

      /* TRANSLATORS: %s is the reason */
      text = g_strdup_printf (_("Could not freeze the task: %s"), error->message);
      adw_toast_overlay_add_toast (self->toasts, adw_toast_new (text));
      cdl_pilot_page_update_buttons (self);
      return;
    }

  gtk_window_close (GTK_WINDOW (self));
}

void
cdl_pilot_page_freeze (CdlPilotPage *self)
{
  g_return_if_fail (CDL_IS_PILOT_PAGE (self));

  if (self->running || self->freezing || self->record == NULL)
    return;

  /* The freeze copies the stored pilot's settings into the snapshot. */
  self->freezing = TRUE;
  cdl_pilot_page_update_buttons (self);
  cdl_task_service_freeze_async (self->tasks, self->task_id, self->cancellable,
                                 cdl_pilot_page_frozen_cb, g_object_ref (self));
}

static gboolean
cdl_pilot_page_close_request (GtkWindow *window)
{
  CdlPilotPage *self = CDL_PILOT_PAGE (window);

  g_cancellable_cancel (self->loads);
  g_cancellable_cancel (self->cancellable);

  return GTK_WINDOW_CLASS (cdl_pilot_page_parent_class)->close_request (window);
}

static void
cdl_pilot_page_dispose (GObject *object)
{
  CdlPilotPage *self = CDL_PILOT_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_cancellable_cancel (self->loads);
  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_PILOT_PAGE);

  G_OBJECT_CLASS (cdl_pilot_page_parent_class)->dispose (object);
}

static void
cdl_pilot_page_finalize (GObject *object)
{
  CdlPilotPage *self = CDL_PILOT_PAGE (object);

  g_clear_object (&self->pilots);
  g_clear_object (&self->tasks);
  g_clear_object (&self->workers);
  g_clear_object (&self->store);
  g_clear_object (&self->thumbnailer);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->loads);
  g_clear_pointer (&self->record, json_node_unref);
  g_free (self->task_id);

  G_OBJECT_CLASS (cdl_pilot_page_parent_class)->finalize (object);
}

static void
cdl_pilot_page_class_init (CdlPilotPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = cdl_pilot_page_dispose;
  object_class->finalize = cdl_pilot_page_finalize;
  window_class->close_request = cdl_pilot_page_close_request;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-pilot-page.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, window_title);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, run_button);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, run_content);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, freeze_button);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, toasts);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, stack);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, spinner);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, error_page);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, worker_row);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, retries_row);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, settings_row);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, note_label);
  gtk_widget_class_bind_template_child (widget_class, CdlPilotPage, samples_box);
  gtk_widget_class_bind_template_callback (widget_class, cdl_pilot_page_run);
  gtk_widget_class_bind_template_callback (widget_class, cdl_pilot_page_freeze);
}

static void
cdl_pilot_page_init (CdlPilotPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();
  self->loads = g_cancellable_new ();
  self->thumbnailer = cdl_thumbnailer_new (2);
  cdl_pilot_page_show_view (self, "empty");
}

CdlPilotPage *
cdl_pilot_page_new (CdlPilotService  *pilots,
                    CdlTaskService   *tasks,
                    CdlWorkerService *workers,
                    CdlObjectStore   *store,
                    const char       *task_id,
                    const char       *task_title)
{
  CdlPilotPage *self;

  g_return_val_if_fail (CDL_IS_PILOT_SERVICE (pilots), NULL);
  g_return_val_if_fail (CDL_IS_TASK_SERVICE (tasks), NULL);
  g_return_val_if_fail (workers == NULL || CDL_IS_WORKER_SERVICE (workers), NULL);
  g_return_val_if_fail (store == NULL || CDL_IS_OBJECT_STORE (store), NULL);
  g_return_val_if_fail (task_id != NULL, NULL);

  self = g_object_new (CDL_TYPE_PILOT_PAGE, NULL);
  self->pilots = g_object_ref (pilots);
  self->tasks = g_object_ref (tasks);
  self->workers = workers != NULL ? g_object_ref (workers) : NULL;
  self->store = store != NULL ? g_object_ref (store) : NULL;
  self->task_id = g_strdup (task_id);
  adw_window_title_set_subtitle (self->window_title, task_title != NULL ? task_title : "");

  cdl_pilot_service_get_async (self->pilots, task_id, self->cancellable,
                               cdl_pilot_page_loaded_cb, g_object_ref (self));

  return self;
}

const char *
cdl_pilot_page_get_task_id (CdlPilotPage *self)
{
  g_return_val_if_fail (CDL_IS_PILOT_PAGE (self), NULL);

  return self->task_id;
}

const char *
cdl_pilot_page_get_view (CdlPilotPage *self)
{
  g_return_val_if_fail (CDL_IS_PILOT_PAGE (self), NULL);

  return gtk_stack_get_visible_child_name (self->stack);
}

guint
cdl_pilot_page_get_n_samples (CdlPilotPage *self)
{
  g_return_val_if_fail (CDL_IS_PILOT_PAGE (self), 0);

  return self->n_samples;
}

guint
cdl_pilot_page_get_n_loaded (CdlPilotPage *self)
{
  g_return_val_if_fail (CDL_IS_PILOT_PAGE (self), 0);

  return self->n_loaded;
}

JsonNode *
cdl_pilot_page_get_record (CdlPilotPage *self)
{
  g_return_val_if_fail (CDL_IS_PILOT_PAGE (self), NULL);

  return self->record;
}
