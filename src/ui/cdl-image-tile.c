/* cdl-image-tile.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <glib/gi18n.h>

#include "ui/cdl-image-tile.h"

struct _CdlImageTile
{
  GtkButton   parent_instance;

  guint       number;
  gboolean    full;
  GdkTexture *texture;
  GtkWidget  *overlay;
  GtkWidget  *frame;
  GtkWidget  *picture;
  GtkWidget  *spinner;
  GtkWidget  *mark_label;
};

G_DEFINE_FINAL_TYPE (CdlImageTile, cdl_image_tile, GTK_TYPE_BUTTON)

enum {
  SIGNAL_REJECT,
  SIGNAL_ZOOM,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
cdl_image_tile_dispose (GObject *object)
{
  CdlImageTile *self = CDL_IMAGE_TILE (object);

  g_clear_object (&self->texture);

  G_OBJECT_CLASS (cdl_image_tile_parent_class)->dispose (object);
}

static void
cdl_image_tile_class_init (CdlImageTileClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cdl_image_tile_dispose;

  signals[SIGNAL_REJECT] = g_signal_new ("reject", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 0);
  signals[SIGNAL_ZOOM] = g_signal_new ("zoom", G_TYPE_FROM_CLASS (klass),
                                       G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                       G_TYPE_NONE, 0);
}

static void
cdl_image_tile_secondary_cb (CdlImageTile *self,
                             int           n_press,
                             double        x,
                             double        y,
                             GtkGesture   *gesture)
{
  gtk_gesture_set_state (gesture, GTK_EVENT_SEQUENCE_CLAIMED);
  g_signal_emit (self, signals[SIGNAL_REJECT], 0);
}

static void
cdl_image_tile_long_press_cb (CdlImageTile *self,
                              double        x,
                              double        y,
                              GtkGesture   *gesture)
{
  gtk_gesture_set_state (gesture, GTK_EVENT_SEQUENCE_CLAIMED);
  g_signal_emit (self, signals[SIGNAL_REJECT], 0);
}

static void
cdl_image_tile_zoom_cb (CdlImageTile *self,
                        GtkButton    *button)
{
  g_signal_emit (self, signals[SIGNAL_ZOOM], 0);
}

static void
cdl_image_tile_init (CdlImageTile *self)
{
  GtkWidget *overlay;
  GtkGesture *secondary = gtk_gesture_click_new ();
  GtkGesture *long_press = gtk_gesture_long_press_new ();

  gtk_widget_add_css_class (GTK_WIDGET (self), "image-tile");
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);

  /* The frame keeps the image's shape, so that the badges sit on its
   * corners whatever the size of the cell. */
  self->frame = gtk_aspect_frame_new (0.5, 0.5, 1.0, FALSE);
  overlay = self->overlay = gtk_overlay_new ();
  gtk_aspect_frame_set_child (GTK_ASPECT_FRAME (self->frame), overlay);
  gtk_widget_set_overflow (overlay, GTK_OVERFLOW_HIDDEN);

  self->picture = gtk_picture_new ();
  gtk_picture_set_can_shrink (GTK_PICTURE (self->picture), TRUE);
  gtk_picture_set_content_fit (GTK_PICTURE (self->picture), GTK_CONTENT_FIT_CONTAIN);
  gtk_widget_set_size_request (self->picture, 120, 120);
  gtk_overlay_set_child (GTK_OVERLAY (overlay), self->picture);

  self->spinner = gtk_spinner_new ();
  gtk_spinner_set_spinning (GTK_SPINNER (self->spinner), TRUE);
  gtk_widget_set_halign (self->spinner, GTK_ALIGN_CENTER);
  gtk_widget_set_valign (self->spinner, GTK_ALIGN_CENTER);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), self->spinner);

  self->mark_label = gtk_label_new (NULL);
  gtk_widget_add_css_class (self->mark_label, "tile-mark");
  gtk_widget_set_halign (self->mark_label, GTK_ALIGN_END);
  gtk_widget_set_valign (self->mark_label, GTK_ALIGN_START);
  gtk_widget_set_visible (self->mark_label, FALSE);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), self->mark_label);

  gtk_button_set_child (GTK_BUTTON (self), self->frame);

  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (secondary), GDK_BUTTON_SECONDARY);
  g_signal_connect_swapped (secondary, "pressed",
                            G_CALLBACK (cdl_image_tile_secondary_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (secondary));

  gtk_gesture_single_set_touch_only (GTK_GESTURE_SINGLE (long_press), TRUE);
  g_signal_connect_swapped (long_press, "pressed",
                            G_CALLBACK (cdl_image_tile_long_press_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (long_press));
}

GtkWidget *
cdl_image_tile_new (guint       number,
                    const char *caption)
{
  CdlImageTile *self = g_object_new (CDL_TYPE_IMAGE_TILE, NULL);
  GtkWidget *overlay = self->overlay;
  g_autofree char *text = g_strdup_printf ("%u", number);
  g_autofree char *tooltip = NULL;
  GtkWidget *badge;
  GtkWidget *zoom;

  self->number = number;

  badge = gtk_label_new (text);
  gtk_widget_add_css_class (badge, "tile-number");
  gtk_widget_set_halign (badge, GTK_ALIGN_START);
  gtk_widget_set_valign (badge, GTK_ALIGN_START);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), badge);

  if (caption != NULL)
    {
      GtkWidget *label = gtk_label_new (caption);

      gtk_widget_add_css_class (label, "tile-caption");
      gtk_widget_set_halign (label, GTK_ALIGN_START);
      gtk_widget_set_valign (label, GTK_ALIGN_END);
      gtk_overlay_add_overlay (GTK_OVERLAY (overlay), label);
    }

  zoom = gtk_button_new_from_icon_name ("zoom-in-symbolic");
  gtk_widget_add_css_class (zoom, "osd");
  gtk_widget_add_css_class (zoom, "circular");
  gtk_widget_set_focusable (zoom, FALSE);
  gtk_widget_set_halign (zoom, GTK_ALIGN_END);
  gtk_widget_set_valign (zoom, GTK_ALIGN_END);
  gtk_widget_set_tooltip_text (zoom, _("Zoom (Space)"));
  g_signal_connect_swapped (zoom, "clicked", G_CALLBACK (cdl_image_tile_zoom_cb), self);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), zoom);

  /* TRANSLATORS: the tooltip of an image of a batch; %u is its key */
  tooltip = g_strdup_printf (_("Choose (%u) · Reject (Shift+%u or right click)"),
                             number, number);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self), tooltip);

  return GTK_WIDGET (self);
}

guint
cdl_image_tile_get_number (CdlImageTile *self)
{
  g_return_val_if_fail (CDL_IS_IMAGE_TILE (self), 0);

  return self->number;
}

void
cdl_image_tile_set_texture (CdlImageTile *self,
                            GdkTexture   *texture,
                            gboolean      full)
{
  g_return_if_fail (CDL_IS_IMAGE_TILE (self));

  /* A late thumbnail never replaces the full image. */
  if (self->full && !full)
    return;

  g_set_object (&self->texture, texture);
  self->full = full;
  if (texture != NULL)
    gtk_aspect_frame_set_ratio (GTK_ASPECT_FRAME (self->frame),
                                (float) gdk_texture_get_width (texture)
                                / MAX (gdk_texture_get_height (texture), 1));
  gtk_picture_set_paintable (GTK_PICTURE (self->picture), GDK_PAINTABLE (texture));
  gtk_widget_set_visible (self->spinner, texture == NULL);
}

GdkTexture *
cdl_image_tile_get_texture (CdlImageTile *self)
{
  g_return_val_if_fail (CDL_IS_IMAGE_TILE (self), NULL);

  return self->texture;
}

gboolean
cdl_image_tile_is_full (CdlImageTile *self)
{
  g_return_val_if_fail (CDL_IS_IMAGE_TILE (self), FALSE);

  return self->full;
}

void
cdl_image_tile_set_mark (CdlImageTile     *self,
                         CdlImageTileMark  mark)
{
  GtkWidget *widget = GTK_WIDGET (self);

  g_return_if_fail (CDL_IS_IMAGE_TILE (self));

  gtk_widget_remove_css_class (widget, "chosen");
  gtk_widget_remove_css_class (widget, "rejected");
  gtk_widget_set_visible (self->mark_label, mark != CDL_IMAGE_TILE_PLAIN);

  if (mark == CDL_IMAGE_TILE_CHOSEN)
    {
      gtk_widget_add_css_class (widget, "chosen");
      gtk_label_set_label (GTK_LABEL (self->mark_label), _("Chosen"));
    }
  else if (mark == CDL_IMAGE_TILE_REJECTED)
    {
      gtk_widget_add_css_class (widget, "rejected");
      gtk_label_set_label (GTK_LABEL (self->mark_label), _("Rejected"));
    }
}
