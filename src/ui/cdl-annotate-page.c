/* cdl-annotate-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "core/cdl-json.h"
#include "ui/cdl-annotate-page.h"
#include "ui/cdl-gallery-loader.h"
#include "ui/cdl-image-tile.h"
#include "ui/cdl-window.h"
#include "ui/cdl-zoom-view.h"

/* Labels that Z can take back, newest last. */
#define UNDO_MAX 50
/* Batches after the current one whose thumbnails are loaded ahead. */
#define PRELOAD_BATCHES 2
/* Keys 1 … 9 choose; larger batches are chosen by click or Enter. */
#define KEYED_MAX 9

struct _CdlAnnotatePage
{
  GtkWidget             parent_instance;

  CdlAnnotationService *annotations;
  CdlAuthService       *auth;
  CdlGalleryLoader     *loader;
  GCancellable         *cancellable;     /* the page's queries */
  GCancellable         *images;          /* the current batch's image loads */

  char                 *user_id;
  char                 *summary;
  gboolean              open_when_ready;

  char                 *task_id;
  char                 *task_name;
  gint64                task_batches;
  gint64                task_mine;

  JsonNode             *batch;           /* the batch object on screen */
  guint                 n;
  guint                *shown;           /* position shown -> stored index */
  GPtrArray            *tiles;           /* CdlImageTile, in shown order */
  int                   rejected;        /* position shown, or -1 */
  gint64                shown_at_us;
  gboolean              busy;
  GPtrArray            *undo;            /* UndoEntry of the labels, newest last */

  /* template */
  GtkStack             *stack;
  AdwStatusPage        *error_page;
  AdwStatusPage        *done_page;
  GtkListBox           *task_list;
  GtkLabel             *prompt_label;
  GtkLabel             *detail_label;
  GtkLabel             *progress_label;
  GtkProgressBar       *progress_bar;
  GtkGrid              *tile_grid;
  GtkWidget            *zoom_box;
  GtkLabel             *zoom_label;
  CdlZoomView          *zoom_view;
};

G_DEFINE_FINAL_TYPE (CdlAnnotatePage, cdl_annotate_page, GTK_TYPE_WIDGET)

/* A label to take back: the batch it was given to and the label it
 * replaced (NULL when there was none). */
typedef struct
{
  JsonNode *batch;
  JsonNode *previous;
} UndoEntry;

static void
undo_entry_free (UndoEntry *entry)
{
  g_clear_pointer (&entry->batch, json_node_unref);
  g_clear_pointer (&entry->previous, json_node_unref);
  g_free (entry);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UndoEntry, undo_entry_free)

enum {
  PROP_0,
  PROP_SUMMARY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void cdl_annotate_page_fetch_next (CdlAnnotatePage *self);

/* Helpers ------------------------------------------------------------------- */

static void
cdl_annotate_page_toast (CdlAnnotatePage *self,
                         const char      *title)
{
  GtkWidget *window = gtk_widget_get_ancestor (GTK_WIDGET (self), CDL_TYPE_WINDOW);

  if (window != NULL)
    cdl_window_add_toast (CDL_WINDOW (window), adw_toast_new (title));
}

static void
cdl_annotate_page_show_error (CdlAnnotatePage *self,
                              const GError    *error)
{
  adw_status_page_set_description (self->error_page, error->message);
  gtk_stack_set_visible_child_name (self->stack, "error");
}

static void
cdl_annotate_page_set_summary (CdlAnnotatePage *self,
                               char            *summary)
{
  if (g_strcmp0 (summary, self->summary) == 0)
    {
      g_free (summary);
      return;
    }

  g_free (self->summary);
  self->summary = summary;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUMMARY]);
}

static void
cdl_annotate_page_update_progress (CdlAnnotatePage *self)
{
  g_autofree char *label = NULL;
  double fraction;

  if (self->task_id == NULL)
    {
      cdl_annotate_page_set_summary (self, NULL);
      return;
    }

  fraction = self->task_batches > 0 ? (double) self->task_mine / self->task_batches : 0;
  /* TRANSLATORS: batches labelled by this user, of all complete batches */
  label = g_strdup_printf (_("%" PRId64 " of %" PRId64 " labelled"),
                           self->task_mine, self->task_batches);
  gtk_label_set_label (self->progress_label, label);
  gtk_progress_bar_set_fraction (self->progress_bar, CLAMP (fraction, 0, 1));

  cdl_annotate_page_set_summary (self, g_strdup_printf ("%s · %s", self->task_name, label));
}

static void
cdl_annotate_page_set_busy (CdlAnnotatePage *self,
                            gboolean         busy)
{
  self->busy = busy;
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "annotate.spam",
                                 !busy && self->batch != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "annotate.undo",
                                 !busy && self->undo->len > 0);
}

/* The task list ------------------------------------------------------------- */

static GtkWidget *
cdl_annotate_page_task_row (JsonObject *task)
{
  const char *name = json_object_get_string_member (task, "name");
  gint64 batches = json_object_get_int_member (task, "batches");
  gint64 labelled = json_object_get_int_member (task, "labelled");
  gint64 mine = json_object_get_int_member (task, "mine");
  g_autofree char *subtitle = NULL;
  g_autofree char *percent = NULL;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *bar = gtk_level_bar_new_for_interval (0, MAX (batches, 1));
  GtkWidget *label;

  gtk_widget_set_name (row, "annotate-task-row");
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row),
                                 name != NULL && *name != '\0' ? name : _("Untitled Task"));
  subtitle = g_strdup_printf (_("%" PRId64 " batches · %" PRId64
                                " labelled by you · %" PRId64 " with a label"),
                              batches, mine, labelled);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_object_set_data_full (G_OBJECT (row), "task-id",
                          g_strdup (json_object_get_string_member (task, "task_id")), g_free);
  g_object_set_data_full (G_OBJECT (row), "task-name",
                          g_strdup (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row))),
                          g_free);

  gtk_level_bar_set_value (GTK_LEVEL_BAR (bar), MIN (mine, MAX (batches, 1)));
  gtk_widget_set_size_request (bar, 96, -1);
  gtk_widget_set_valign (bar, GTK_ALIGN_CENTER);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), bar);

  percent = g_strdup_printf ("%d %%", batches > 0 ? (int) (100 * mine / batches) : 0);
  label = gtk_label_new (percent);
  gtk_widget_add_css_class (label, "numeric");
  gtk_widget_add_css_class (label, "dim-label");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             gtk_image_new_from_icon_name ("go-next-symbolic"));

  return row;
}

static void
tasks_listed_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(CdlAnnotatePage) self = user_data;
  g_autoptr(JsonNode) tasks = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *child;
  JsonArray *array;

  tasks = cdl_annotation_service_list_tasks_finish (self->annotations, result,
                                                    &error);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  if (tasks == NULL)
    {
      cdl_annotate_page_show_error (self, error);
      return;
    }

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->task_list))) != NULL)
    gtk_list_box_remove (self->task_list, child);

  array = json_node_get_array (tasks);
  for (guint i = 0; i < json_array_get_length (array); i++)
    gtk_list_box_append (self->task_list,
                         cdl_annotate_page_task_row (json_array_get_object_element (array, i)));

  gtk_stack_set_visible_child_name (self->stack,
                                    json_array_get_length (array) > 0 ? "tasks" : "empty");
}

static void
cdl_annotate_page_list_tasks (CdlAnnotatePage *self)
{
  g_clear_pointer (&self->task_id, g_free);
  cdl_annotate_page_update_progress (self);
  gtk_stack_set_visible_child_name (self->stack, "loading");
  cdl_annotation_service_list_tasks_async (self->annotations, self->user_id, self->cancellable,
                                           tasks_listed_cb, g_object_ref (self));
}

static void
user_ensured_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(CdlAnnotatePage) self = user_data;
  g_autoptr(CdlUser) user = NULL;
  g_autoptr(GError) error = NULL;

  user = cdl_auth_service_ensure_user_finish (self->auth, result, &error);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  if (user == NULL)
    {
      cdl_annotate_page_show_error (self, error);
      return;
    }

  g_free (self->user_id);
  self->user_id = g_strdup (user->id);

  if (self->task_id != NULL && self->open_when_ready)
    {
      self->open_when_ready = FALSE;
      cdl_annotate_page_open_task (self, self->task_id);
    }
  else
    cdl_annotate_page_list_tasks (self);
}

void
cdl_annotate_page_reload (CdlAnnotatePage *self)
{
  g_autofree char *name = NULL;

  g_return_if_fail (CDL_IS_ANNOTATE_PAGE (self));

  if (self->annotations == NULL)
    return;

  if (self->user_id != NULL)
    {
      cdl_annotate_page_list_tasks (self);
      return;
    }

  /* The desktop labels as a user of its own, made on first use. */
  name = cdl_auth_service_desktop_user_name ();
  gtk_stack_set_visible_child_name (self->stack, "loading");
  cdl_auth_service_ensure_user_async (self->auth, name, CDL_ROLE_ADMIN, self->cancellable,
                                      user_ensured_cb, g_object_ref (self));
}

static void
cdl_annotate_page_task_activated_cb (CdlAnnotatePage *self,
                                     GtkListBoxRow   *row,
                                     GtkListBox      *list)
{
  cdl_annotate_page_open_task (self, g_object_get_data (G_OBJECT (row), "task-id"));
  g_free (self->task_name);
  self->task_name = g_strdup (g_object_get_data (G_OBJECT (row), "task-name"));
}

/* Images -------------------------------------------------------------------- */

typedef struct
{
  CdlImageTile *tile;
  GCancellable *cancellable;
  gboolean      full;
} TileLoad;

static void
tile_loaded_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  TileLoad *load = user_data;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;

  texture = cdl_gallery_loader_load_finish (CDL_GALLERY_LOADER (source), result, &error);
  if (texture != NULL)
    cdl_image_tile_set_texture (load->tile, texture, load->full);
  else if (!g_cancellable_is_cancelled (load->cancellable))
    g_warning ("Could not show an image: %s", error->message);

  g_object_unref (load->tile);
  g_object_unref (load->cancellable);
  g_free (load);
}

static char *
cdl_annotate_page_key_at (CdlAnnotatePage *self,
                          JsonObject      *batch,
                          const char      *member,
                          guint            index)
{
  JsonArray *array = json_object_get_array_member (batch, member);
  JsonNode *node;

  if (array == NULL || index >= json_array_get_length (array))
    return NULL;

  node = json_array_get_element (array, index);
  if (JSON_NODE_HOLDS_NULL (node))
    return NULL;

  return cdl_annotation_service_media_key (self->annotations, json_node_get_string (node));
}

static void
cdl_annotate_page_load_tile (CdlAnnotatePage *self,
                             CdlImageTile    *tile,
                             const char      *key,
                             gboolean         full)
{
  GdkTexture *cached = cdl_gallery_loader_lookup (self->loader, key);
  TileLoad *load;

  if (key == NULL)
    return;

  if (cached != NULL)
    {
      cdl_image_tile_set_texture (tile, cached, full);
      return;
    }

  load = g_new0 (TileLoad, 1);
  load->tile = g_object_ref (tile);
  load->cancellable = g_object_ref (self->images);
  load->full = full;
  cdl_gallery_loader_load_async (self->loader, key, self->images, tile_loaded_cb, load);
}

static void
cdl_annotate_page_preload (CdlAnnotatePage *self,
                           JsonArray       *prefetch)
{
  for (guint i = 0; prefetch != NULL && i < MIN (json_array_get_length (prefetch),
                                                 PRELOAD_BATCHES); i++)
    {
      JsonObject *next = json_array_get_object_element (prefetch, i);
      JsonArray *thumbs = json_object_get_array_member (next, "thumbnails");

      for (guint j = 0; thumbs != NULL && j < json_array_get_length (thumbs); j++)
        {
          g_autofree char *key = cdl_annotate_page_key_at (self, next, "thumbnails", j);

          cdl_gallery_loader_preload (self->loader, key);
        }
    }
}

/* The batch ----------------------------------------------------------------- */

static void
cdl_annotate_page_close_zoom (CdlAnnotatePage *self)
{
  if (!gtk_widget_get_visible (self->zoom_box))
    return;

  gtk_widget_set_visible (self->zoom_box, FALSE);
  cdl_zoom_view_set_texture (self->zoom_view, NULL);
}

static void
cdl_annotate_page_mark (CdlAnnotatePage *self,
                        int              chosen)
{
  for (guint i = 0; i < self->tiles->len; i++)
    {
      CdlImageTileMark mark = CDL_IMAGE_TILE_PLAIN;

      if ((int) i == chosen)
        mark = CDL_IMAGE_TILE_CHOSEN;
      else if ((int) i == self->rejected)
        mark = CDL_IMAGE_TILE_REJECTED;
      cdl_image_tile_set_mark (g_ptr_array_index (self->tiles, i), mark);
    }
}

static void cdl_annotate_page_choose (CdlAnnotatePage *self,
                                      int              position);
static void cdl_annotate_page_reject (CdlAnnotatePage *self,
                                      int              position);
static void cdl_annotate_page_zoom   (CdlAnnotatePage *self,
                                      int              position);

static int
cdl_annotate_page_position_of (CdlAnnotatePage *self,
                               CdlImageTile    *tile)
{
  guint index;

  if (!g_ptr_array_find (self->tiles, tile, &index))
    return -1;

  return (int) index;
}

static void
tile_clicked_cb (CdlAnnotatePage *self,
                 CdlImageTile    *tile)
{
  cdl_annotate_page_choose (self, cdl_annotate_page_position_of (self, tile));
}

static void
tile_reject_cb (CdlAnnotatePage *self,
                CdlImageTile    *tile)
{
  cdl_annotate_page_reject (self, cdl_annotate_page_position_of (self, tile));
}

static void
tile_zoom_cb (CdlAnnotatePage *self,
              CdlImageTile    *tile)
{
  cdl_annotate_page_zoom (self, cdl_annotate_page_position_of (self, tile));
}

static void
cdl_annotate_page_clear_batch (CdlAnnotatePage *self)
{
  GtkWidget *child;

  g_cancellable_cancel (self->images);
  g_clear_object (&self->images);
  cdl_annotate_page_close_zoom (self);

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->tile_grid))) != NULL)
    gtk_grid_remove (self->tile_grid, child);
  g_ptr_array_set_size (self->tiles, 0);

  g_clear_pointer (&self->batch, json_node_unref);
  g_clear_pointer (&self->shown, g_free);
  self->n = 0;
  self->rejected = -1;
}

static guint
columns_for (guint n)
{
  if (n <= 4)
    return MAX (n, 1);
  if (n <= 6 || n == 9)
    return 3;
  return 4;
}

static void
cdl_annotate_page_show_batch (CdlAnnotatePage *self,
                              JsonNode        *batch)
{
  JsonObject *obj = json_node_get_object (batch);
  JsonArray *ids = json_object_get_array_member (obj, "image_ids");
  JsonArray *order = json_object_get_array_member (obj, "shown_order");
  JsonArray *seeds = json_object_get_array_member (obj, "seeds");
  g_autoptr(GString) detail = g_string_new (NULL);
  guint columns;

  cdl_annotate_page_clear_batch (self);
  self->images = g_cancellable_new ();
  self->batch = json_node_ref (batch);
  self->n = json_array_get_length (ids);
  self->shown = g_new0 (guint, MAX (self->n, 1));
  for (guint i = 0; i < self->n; i++)
    self->shown[i] = order != NULL ? (guint) json_array_get_int_element (order, i) : i;

  gtk_label_set_label (self->prompt_label, json_object_get_string_member (obj, "prompt"));

  /* TRANSLATORS: followed by the seeds of the batch's images */
  g_string_append (detail, _("Seeds"));
  g_string_append (detail, " ");
  columns = columns_for (self->n);
  for (guint pos = 0; pos < self->n; pos++)
    {
      guint stored = self->shown[pos];
      gint64 seed = json_array_get_int_element (seeds, stored);
      g_autofree char *caption = g_strdup_printf ("%" PRId64, seed);
      g_autofree char *thumb = cdl_annotate_page_key_at (self, obj, "thumbnails", stored);
      g_autofree char *full = cdl_annotate_page_key_at (self, obj, "fullres", stored);
      GtkWidget *tile = cdl_image_tile_new (pos + 1, caption);

      g_string_append_printf (detail, "%s%u: %s", pos > 0 ? " · " : "", pos + 1, caption);
      gtk_widget_set_name (tile, "annotate-tile");
      g_signal_connect_swapped (tile, "clicked", G_CALLBACK (tile_clicked_cb), self);
      g_signal_connect_swapped (tile, "reject", G_CALLBACK (tile_reject_cb), self);
      g_signal_connect_swapped (tile, "zoom", G_CALLBACK (tile_zoom_cb), self);
      gtk_grid_attach (self->tile_grid, tile, pos % columns, pos / columns, 1, 1);
      g_ptr_array_add (self->tiles, tile);

      /* The thumbnail first, unless the full image is at hand. */
      if (cdl_gallery_loader_lookup (self->loader, full) == NULL)
        cdl_annotate_page_load_tile (self, CDL_IMAGE_TILE (tile), thumb, FALSE);
      cdl_annotate_page_load_tile (self, CDL_IMAGE_TILE (tile), full, TRUE);
    }
  gtk_label_set_label (self->detail_label, detail->str);

  gtk_stack_set_visible_child_name (self->stack, "gallery");
  cdl_annotate_page_update_progress (self);
  cdl_annotate_page_set_busy (self, FALSE);
  self->shown_at_us = g_get_monotonic_time ();

  if (self->tiles->len > 0)
    gtk_widget_grab_focus (g_ptr_array_index (self->tiles, 0));
}

static void
next_batch_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(CdlAnnotatePage) self = user_data;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *obj;
  JsonNode *batch;

  node = cdl_annotation_service_next_batch_finish (self->annotations, result,
                                                   &error);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  if (node == NULL)
    {
      cdl_annotate_page_set_busy (self, FALSE);
      cdl_annotate_page_show_error (self, error);
      return;
    }

  obj = json_node_get_object (node);
  batch = json_object_get_member (obj, "batch");
  if (batch == NULL || JSON_NODE_HOLDS_NULL (batch))
    {
      g_autofree char *description = NULL;

      cdl_annotate_page_clear_batch (self);
      /* TRANSLATORS: %s is the task's name */
      description = g_strdup_printf (_("Every complete batch of “%s” has its labels. New"
                                       " batches show up here as the task generates them."),
                                     self->task_name);
      adw_status_page_set_description (self->done_page, description);
      gtk_stack_set_visible_child_name (self->stack, "done");
      cdl_annotate_page_update_progress (self);
      cdl_annotate_page_set_busy (self, FALSE);
      return;
    }

  cdl_annotate_page_show_batch (self, batch);
  cdl_annotate_page_preload (self, json_object_get_array_member (obj, "prefetch"));
}

static void
cdl_annotate_page_fetch_next (CdlAnnotatePage *self)
{
  cdl_annotate_page_set_busy (self, TRUE);
  cdl_annotation_service_next_batch_async (self->annotations, self->task_id, self->user_id,
                                           self->cancellable, next_batch_cb,
                                           g_object_ref (self));
}

static void
task_counts_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlAnnotatePage) self = user_data;
  g_autoptr(JsonNode) tasks = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *array;

  tasks = cdl_annotation_service_list_tasks_finish (self->annotations, result,
                                                    &error);
  if (tasks == NULL)
    {
      if (!g_cancellable_is_cancelled (self->cancellable))
        cdl_annotate_page_show_error (self, error);
      return;
    }

  array = json_node_get_array (tasks);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *task = json_array_get_object_element (array, i);
      const char *name = json_object_get_string_member (task, "name");

      if (g_strcmp0 (json_object_get_string_member (task, "task_id"), self->task_id) != 0)
        continue;

      self->task_batches = json_object_get_int_member (task, "batches");
      self->task_mine = json_object_get_int_member (task, "mine");
      if (self->task_name == NULL)
        self->task_name = g_strdup (name != NULL && *name != '\0' ? name : _("Untitled Task"));
    }

  if (self->task_name == NULL)
    self->task_name = g_strdup (_("Untitled Task"));

  cdl_annotate_page_fetch_next (self);
}

void
cdl_annotate_page_open_task (CdlAnnotatePage *self,
                             const char      *task_id)
{
  g_return_if_fail (CDL_IS_ANNOTATE_PAGE (self));
  g_return_if_fail (task_id != NULL);

  if (g_strcmp0 (task_id, self->task_id) != 0)
    {
      g_free (self->task_id);
      self->task_id = g_strdup (task_id);
      g_clear_pointer (&self->task_name, g_free);
      g_ptr_array_set_size (self->undo, 0);
    }

  cdl_annotate_page_clear_batch (self);
  gtk_stack_set_visible_child_name (self->stack, "loading");
  cdl_annotate_page_set_busy (self, TRUE);

  if (self->user_id == NULL)
    {
      self->open_when_ready = TRUE;
      cdl_annotate_page_reload (self);
      return;
    }

  /* The counts for the progress, then the first batch. */
  cdl_annotation_service_list_tasks_async (self->annotations, self->user_id, self->cancellable,
                                           task_counts_cb, g_object_ref (self));
}

/* Labelling ----------------------------------------------------------------- */

static void
submitted_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlAnnotatePage) self = user_data;
  g_autoptr(JsonNode) row = NULL;
  g_autoptr(JsonNode) previous = NULL;
  g_autoptr(GError) error = NULL;
  UndoEntry *entry;
  gboolean created = FALSE;

  row = cdl_annotation_service_submit_finish_full (self->annotations, result,
                                                   &created, &previous, &error);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  if (row == NULL)
    {
      g_autofree char *title = g_strdup_printf (_("Could not save the label: %s"),
                                                error->message);

      cdl_annotate_page_toast (self, title);
      cdl_annotate_page_mark (self, -1);
      cdl_annotate_page_set_busy (self, FALSE);
      return;
    }

  /* A re-label (of a batch labelled elsewhere meanwhile) is undone by
   * restoring the label it replaced. */
  if (self->undo->len >= UNDO_MAX)
    g_ptr_array_remove_index (self->undo, 0);
  entry = g_new0 (UndoEntry, 1);
  entry->batch = json_node_ref (self->batch);
  entry->previous = g_steal_pointer (&previous);
  g_ptr_array_add (self->undo, entry);
  if (created)
    self->task_mine++;

  cdl_annotate_page_fetch_next (self);
}

static void
cdl_annotate_page_submit (CdlAnnotatePage *self,
                          int              chosen,
                          gboolean         spam)
{
  JsonObject *obj = json_node_get_object (self->batch);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  gint64 elapsed_ms = (g_get_monotonic_time () - self->shown_at_us) / 1000;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "task_id");
  json_builder_add_string_value (b, self->task_id);
  json_builder_set_member_name (b, "batch_id");
  json_builder_add_string_value (b, json_object_get_string_member (obj, "batch_id"));
  /* The service takes the stored order's indexes. */
  json_builder_set_member_name (b, "chosen_index");
  if (chosen >= 0)
    json_builder_add_int_value (b, self->shown[chosen]);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "rejected_index");
  if (!spam && self->rejected >= 0 && self->rejected != chosen)
    json_builder_add_int_value (b, self->shown[self->rejected]);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "spam");
  json_builder_add_boolean_value (b, spam);
  json_builder_set_member_name (b, "shown_order");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->n; i++)
    json_builder_add_int_value (b, self->shown[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "decision_ms");
  json_builder_add_int_value (b, CLAMP (elapsed_ms, 0, G_MAXINT32));
  json_builder_end_object (b);
  body = json_builder_get_root (b);

  cdl_annotate_page_close_zoom (self);
  cdl_annotate_page_mark (self, chosen);
  cdl_annotate_page_set_busy (self, TRUE);
  cdl_annotation_service_submit_async (self->annotations, self->user_id, body,
                                       self->cancellable, submitted_cb, g_object_ref (self));
}

static gboolean
cdl_annotate_page_can_label (CdlAnnotatePage *self,
                             int              position)
{
  return !self->busy && self->batch != NULL && position >= 0 && (guint) position < self->n;
}

static void
cdl_annotate_page_choose (CdlAnnotatePage *self,
                          int              position)
{
  if (cdl_annotate_page_can_label (self, position))
    cdl_annotate_page_submit (self, position, FALSE);
}

static void
cdl_annotate_page_reject (CdlAnnotatePage *self,
                          int              position)
{
  if (!cdl_annotate_page_can_label (self, position))
    return;

  self->rejected = self->rejected == position ? -1 : position;
  cdl_annotate_page_mark (self, -1);
}

static void
full_for_zoom_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(CdlAnnotatePage) self = user_data;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;

  texture = cdl_gallery_loader_load_finish (CDL_GALLERY_LOADER (source), result, &error);
  if (texture != NULL && gtk_widget_get_visible (self->zoom_box))
    cdl_zoom_view_set_texture (self->zoom_view, texture);
}

static void
cdl_annotate_page_zoom (CdlAnnotatePage *self,
                        int              position)
{
  CdlImageTile *tile;
  g_autofree char *title = NULL;
  g_autofree char *full = NULL;

  if (self->batch == NULL || position < 0 || (guint) position >= self->n)
    return;

  tile = g_ptr_array_index (self->tiles, position);
  /* TRANSLATORS: %u is the image's position in the batch */
  title = g_strdup_printf (_("Image %u"), position + 1);
  gtk_label_set_label (self->zoom_label, title);
  cdl_zoom_view_set_texture (self->zoom_view, cdl_image_tile_get_texture (tile));
  gtk_widget_set_visible (self->zoom_box, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->zoom_view));

  if (!cdl_image_tile_is_full (tile))
    {
      full = cdl_annotate_page_key_at (self, json_node_get_object (self->batch), "fullres",
                                       self->shown[position]);
      if (full != NULL)
        cdl_gallery_loader_load_async (self->loader, full, self->images, full_for_zoom_cb,
                                       g_object_ref (self));
    }
}

/* Shows the batch of the label taken back, or tells why it could not be. */
static void
cdl_annotate_page_undone (CdlAnnotatePage *self,
                          const GError    *error)
{
  g_autoptr(UndoEntry) entry = NULL;

  entry = g_ptr_array_steal_index (self->undo, self->undo->len - 1);

  if (error != NULL)
    {
      g_autofree char *title = NULL;

      if (g_cancellable_is_cancelled (self->cancellable))
        return;
      title = g_strdup_printf (_("Could not undo the label: %s"), error->message);
      cdl_annotate_page_toast (self, title);
      cdl_annotate_page_set_busy (self, FALSE);
      return;
    }

  cdl_annotate_page_show_batch (self, entry->batch);
  cdl_annotate_page_toast (self, _("Label undone"));
}

static void
deleted_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(CdlAnnotatePage) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean done;

  done = cdl_annotation_service_delete_finish (self->annotations, result, &error);
  if (done)
    self->task_mine = MAX (self->task_mine - 1, 0);
  cdl_annotate_page_undone (self, error);
}

static void
restored_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(CdlAnnotatePage) self = user_data;
  g_autoptr(JsonNode) row = NULL;
  g_autoptr(GError) error = NULL;

  row = cdl_annotation_service_submit_finish (self->annotations, result, NULL, &error);
  cdl_annotate_page_undone (self, error);
}

static void
cdl_annotate_page_undo (CdlAnnotatePage *self)
{
  UndoEntry *last;

  if (self->busy || self->task_id == NULL)
    return;

  if (self->undo->len == 0)
    {
      cdl_annotate_page_toast (self, _("Nothing to undo"));
      return;
    }

  last = g_ptr_array_index (self->undo, self->undo->len - 1);
  cdl_annotate_page_set_busy (self, TRUE);
  /* The replaced row is a valid body: it names the task and the batch. */
  if (last->previous != NULL)
    cdl_annotation_service_submit_async (self->annotations, self->user_id, last->previous,
                                         self->cancellable, restored_cb, g_object_ref (self));
  else
    cdl_annotation_service_delete_async (self->annotations, self->task_id,
                                         json_object_get_string_member (
                                           json_node_get_object (last->batch), "batch_id"),
                                         self->user_id, self->cancellable, deleted_cb,
                                         g_object_ref (self));
}

/* The focused tile's position, or -1. */
static int
cdl_annotate_page_focused (CdlAnnotatePage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *focus = root != NULL ? gtk_root_get_focus (root) : NULL;

  while (focus != NULL && !CDL_IS_IMAGE_TILE (focus))
    focus = gtk_widget_get_parent (focus);

  return focus != NULL ? cdl_annotate_page_position_of (self, CDL_IMAGE_TILE (focus)) : -1;
}

/* Actions ------------------------------------------------------------------- */

static void
choose_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  cdl_annotate_page_choose (CDL_ANNOTATE_PAGE (widget), g_variant_get_int32 (parameter));
}

static void
reject_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  cdl_annotate_page_reject (CDL_ANNOTATE_PAGE (widget), g_variant_get_int32 (parameter));
}

static void
confirm_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  CdlAnnotatePage *self = CDL_ANNOTATE_PAGE (widget);

  cdl_annotate_page_choose (self, cdl_annotate_page_focused (self));
}

static void
spam_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  CdlAnnotatePage *self = CDL_ANNOTATE_PAGE (widget);

  if (!self->busy && self->batch != NULL)
    cdl_annotate_page_submit (self, -1, TRUE);
}

static void
undo_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  cdl_annotate_page_undo (CDL_ANNOTATE_PAGE (widget));
}

static void
zoom_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  CdlAnnotatePage *self = CDL_ANNOTATE_PAGE (widget);
  int position = cdl_annotate_page_focused (self);

  if (gtk_widget_get_visible (self->zoom_box))
    cdl_annotate_page_close_zoom (self);
  else
    cdl_annotate_page_zoom (self, position >= 0 ? position : 0);
}

static void
close_zoom_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  CdlAnnotatePage *self = CDL_ANNOTATE_PAGE (widget);

  cdl_annotate_page_close_zoom (self);
  if (self->tiles->len > 0)
    gtk_widget_grab_focus (g_ptr_array_index (self->tiles, 0));
}

static void
tasks_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  CdlAnnotatePage *self = CDL_ANNOTATE_PAGE (widget);

  cdl_annotate_page_clear_batch (self);
  cdl_annotate_page_reload (self);
}

static void
reload_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  cdl_annotate_page_reload (CDL_ANNOTATE_PAGE (widget));
}

/* GObject ------------------------------------------------------------------- */

static void
cdl_annotate_page_map (GtkWidget *widget)
{
  CdlAnnotatePage *self = CDL_ANNOTATE_PAGE (widget);
  const char *view = gtk_stack_get_visible_child_name (self->stack);

  GTK_WIDGET_CLASS (cdl_annotate_page_parent_class)->map (widget);

  /* Coming back to the list: new images may have arrived meanwhile. */
  if (g_strcmp0 (view, "tasks") == 0 || g_strcmp0 (view, "empty") == 0)
    cdl_annotate_page_reload (self);
  /* Back to a batch: its keys work at once, wherever the focus was. */
  else if (g_strcmp0 (view, "gallery") == 0 && self->tiles->len > 0)
    gtk_widget_grab_focus (g_ptr_array_index (self->tiles, 0));
}

static void
cdl_annotate_page_dispose (GObject *object)
{
  CdlAnnotatePage *self = CDL_ANNOTATE_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_cancellable_cancel (self->images);
  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_ANNOTATE_PAGE);
  g_clear_pointer (&self->tiles, g_ptr_array_unref);
  g_clear_pointer (&self->undo, g_ptr_array_unref);
  g_clear_pointer (&self->batch, json_node_unref);
  g_clear_object (&self->annotations);
  g_clear_object (&self->auth);
  g_clear_object (&self->loader);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->images);

  G_OBJECT_CLASS (cdl_annotate_page_parent_class)->dispose (object);
}

static void
cdl_annotate_page_finalize (GObject *object)
{
  CdlAnnotatePage *self = CDL_ANNOTATE_PAGE (object);

  g_free (self->user_id);
  g_free (self->summary);
  g_free (self->task_id);
  g_free (self->task_name);
  g_free (self->shown);

  G_OBJECT_CLASS (cdl_annotate_page_parent_class)->finalize (object);
}

static void
cdl_annotate_page_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  CdlAnnotatePage *self = CDL_ANNOTATE_PAGE (object);

  switch (prop_id)
    {
    case PROP_SUMMARY:
      g_value_set_string (value, self->summary);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_annotate_page_class_init (CdlAnnotatePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  /* Shift+1 … Shift+9 on layouts that shift digits to symbols (US). */
  static const guint shifted[KEYED_MAX] = {
    GDK_KEY_exclam, GDK_KEY_at, GDK_KEY_numbersign, GDK_KEY_dollar, GDK_KEY_percent,
    GDK_KEY_asciicircum, GDK_KEY_ampersand, GDK_KEY_asterisk, GDK_KEY_parenleft,
  };

  object_class->dispose = cdl_annotate_page_dispose;
  object_class->finalize = cdl_annotate_page_finalize;
  object_class->get_property = cdl_annotate_page_get_property;
  widget_class->map = cdl_annotate_page_map;

  /* What the window's header shows under the title: the task and progress. */
  properties[PROP_SUMMARY] = g_param_spec_string ("summary", NULL, NULL, NULL,
                                                  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (CDL_TYPE_ZOOM_VIEW);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-annotate-page.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, stack);
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, error_page);
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, done_page);
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, task_list);
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, prompt_label);
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, detail_label);
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, progress_label);
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, tile_grid);
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, zoom_box);
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, zoom_label);
  gtk_widget_class_bind_template_child (widget_class, CdlAnnotatePage, zoom_view);
  gtk_widget_class_bind_template_callback (widget_class, cdl_annotate_page_task_activated_cb);

  gtk_widget_class_install_action (widget_class, "annotate.choose", "i", choose_action);
  gtk_widget_class_install_action (widget_class, "annotate.reject", "i", reject_action);
  gtk_widget_class_install_action (widget_class, "annotate.confirm", NULL, confirm_action);
  gtk_widget_class_install_action (widget_class, "annotate.spam", NULL, spam_action);
  gtk_widget_class_install_action (widget_class, "annotate.undo", NULL, undo_action);
  gtk_widget_class_install_action (widget_class, "annotate.zoom", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "annotate.close-zoom", NULL,
                                   close_zoom_action);
  gtk_widget_class_install_action (widget_class, "annotate.tasks", NULL, tasks_action);
  gtk_widget_class_install_action (widget_class, "annotate.reload", NULL, reload_action);

  for (int i = 0; i < KEYED_MAX; i++)
    {
      gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1 + i, 0,
                                           "annotate.choose", "i", i);
      gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_1 + i, 0,
                                           "annotate.choose", "i", i);
      gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1 + i, GDK_SHIFT_MASK,
                                           "annotate.reject", "i", i);
      gtk_widget_class_add_binding_action (widget_class, shifted[i], GDK_SHIFT_MASK,
                                           "annotate.reject", "i", i);
    }
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_s, 0, "annotate.spam", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, 0, "annotate.undo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, GDK_CONTROL_MASK,
                                       "annotate.undo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_space, 0, "annotate.zoom", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Enter, 0,
                                       "annotate.confirm", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0,
                                       "annotate.close-zoom", NULL);
}

static void
cdl_annotate_page_init (CdlAnnotatePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();
  self->tiles = g_ptr_array_new ();
  self->undo = g_ptr_array_new_with_free_func ((GDestroyNotify) undo_entry_free);
  self->rejected = -1;
  cdl_annotate_page_set_busy (self, FALSE);
}

void
cdl_annotate_page_set_services (CdlAnnotatePage      *self,
                                CdlAnnotationService *annotations,
                                CdlAuthService       *auth,
                                CdlObjectStore       *store)
{
  g_return_if_fail (CDL_IS_ANNOTATE_PAGE (self));
  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (annotations));
  g_return_if_fail (CDL_IS_AUTH_SERVICE (auth));
  g_return_if_fail (CDL_IS_OBJECT_STORE (store));

  if (self->annotations == annotations)
    return;

  g_set_object (&self->annotations, annotations);
  g_set_object (&self->auth, auth);
  g_clear_object (&self->loader);
  self->loader = cdl_gallery_loader_new (store);
  g_clear_pointer (&self->user_id, g_free);

  cdl_annotate_page_reload (self);
}

const char *
cdl_annotate_page_get_user_id (CdlAnnotatePage *self)
{
  g_return_val_if_fail (CDL_IS_ANNOTATE_PAGE (self), NULL);

  return self->user_id;
}

const char *
cdl_annotate_page_get_batch_id (CdlAnnotatePage *self)
{
  g_return_val_if_fail (CDL_IS_ANNOTATE_PAGE (self), NULL);

  if (self->batch == NULL)
    return NULL;

  return json_object_get_string_member (json_node_get_object (self->batch), "batch_id");
}

gboolean
cdl_annotate_page_is_busy (CdlAnnotatePage *self)
{
  g_return_val_if_fail (CDL_IS_ANNOTATE_PAGE (self), FALSE);

  return self->busy;
}

const char *
cdl_annotate_page_get_view (CdlAnnotatePage *self)
{
  g_return_val_if_fail (CDL_IS_ANNOTATE_PAGE (self), NULL);

  return gtk_stack_get_visible_child_name (self->stack);
}
