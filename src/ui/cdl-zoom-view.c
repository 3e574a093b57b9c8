/* cdl-zoom-view.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <math.h>

#include "ui/cdl-zoom-view.h"

#define ZOOM_MIN 1.0
#define ZOOM_MAX 16.0
#define ZOOM_STEP 1.25

struct _CdlZoomView
{
  GtkWidget   parent_instance;

  GdkTexture *texture;
  double      zoom;
  /* The image point at the view's centre, in fitted-image pixels from
   * the fitted image's centre. */
  double      cx, cy;
  double      pinch_start;
  double      drag_cx, drag_cy;
  double      pointer_x, pointer_y;
};

G_DEFINE_FINAL_TYPE (CdlZoomView, cdl_zoom_view, GTK_TYPE_WIDGET)

/* The image's size fitted in the view, at zoom 1. */
static void
cdl_zoom_view_fitted (CdlZoomView *self,
                      double      *w,
                      double      *h)
{
  double vw = gtk_widget_get_width (GTK_WIDGET (self));
  double vh = gtk_widget_get_height (GTK_WIDGET (self));
  double iw = gdk_texture_get_width (self->texture);
  double ih = gdk_texture_get_height (self->texture);
  double scale = MIN (vw / MAX (iw, 1), vh / MAX (ih, 1));

  *w = iw * scale;
  *h = ih * scale;
}

static void
cdl_zoom_view_clamp (CdlZoomView *self)
{
  double w, h, mx, my;

  if (self->texture == NULL)
    return;

  cdl_zoom_view_fitted (self, &w, &h);
  /* Half the zoomed image beyond the view, in fitted pixels. */
  mx = MAX (0, (w * self->zoom - gtk_widget_get_width (GTK_WIDGET (self))) / 2 / self->zoom);
  my = MAX (0, (h * self->zoom - gtk_widget_get_height (GTK_WIDGET (self))) / 2 / self->zoom);
  self->cx = CLAMP (self->cx, -mx, mx);
  self->cy = CLAMP (self->cy, -my, my);
}

static void
cdl_zoom_view_snapshot (GtkWidget   *widget,
                        GtkSnapshot *snapshot)
{
  CdlZoomView *self = CDL_ZOOM_VIEW (widget);
  double vw = gtk_widget_get_width (widget);
  double vh = gtk_widget_get_height (widget);
  double w, h;

  if (self->texture == NULL)
    return;

  cdl_zoom_view_fitted (self, &w, &h);
  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (0, 0, vw, vh));
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (vw / 2, vh / 2));
  gtk_snapshot_scale (snapshot, self->zoom, self->zoom);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (-self->cx - w / 2, -self->cy - h / 2));
  gdk_paintable_snapshot (GDK_PAINTABLE (self->texture), snapshot, w, h);
  gtk_snapshot_restore (snapshot);
  gtk_snapshot_pop (snapshot);
}

void
cdl_zoom_view_set_zoom (CdlZoomView *self,
                        double       zoom,
                        double       x,
                        double       y)
{
  double vw, vh, px, py;

  g_return_if_fail (CDL_IS_ZOOM_VIEW (self));

  zoom = CLAMP (zoom, ZOOM_MIN, ZOOM_MAX);
  vw = gtk_widget_get_width (GTK_WIDGET (self));
  vh = gtk_widget_get_height (GTK_WIDGET (self));

  /* Keep the image point under (@x, @y) where it is. */
  px = self->cx + (x - vw / 2) / self->zoom;
  py = self->cy + (y - vh / 2) / self->zoom;
  self->zoom = zoom;
  self->cx = px - (x - vw / 2) / zoom;
  self->cy = py - (y - vh / 2) / zoom;
  cdl_zoom_view_clamp (self);

  gtk_widget_queue_draw (GTK_WIDGET (self));
}

double
cdl_zoom_view_get_zoom (CdlZoomView *self)
{
  g_return_val_if_fail (CDL_IS_ZOOM_VIEW (self), 1.0);

  return self->zoom;
}

static gboolean
cdl_zoom_view_scroll_cb (CdlZoomView              *self,
                         double                    dx,
                         double                    dy,
                         GtkEventControllerScroll *scroll)
{
  cdl_zoom_view_set_zoom (self, self->zoom * pow (ZOOM_STEP, -dy),
                          self->pointer_x, self->pointer_y);

  return GDK_EVENT_STOP;
}

static void
cdl_zoom_view_motion_cb (CdlZoomView              *self,
                         double                    x,
                         double                    y,
                         GtkEventControllerMotion *motion)
{
  self->pointer_x = x;
  self->pointer_y = y;
}

static void
cdl_zoom_view_pinch_begin_cb (CdlZoomView      *self,
                              GdkEventSequence *sequence,
                              GtkGestureZoom   *gesture)
{
  self->pinch_start = self->zoom;
}

static void
cdl_zoom_view_pinch_cb (CdlZoomView    *self,
                        double          scale,
                        GtkGestureZoom *gesture)
{
  double x, y;

  if (!gtk_gesture_get_bounding_box_center (GTK_GESTURE (gesture), &x, &y))
    {
      x = gtk_widget_get_width (GTK_WIDGET (self)) / 2.0;
      y = gtk_widget_get_height (GTK_WIDGET (self)) / 2.0;
    }

  cdl_zoom_view_set_zoom (self, self->pinch_start * scale, x, y);
}

static void
cdl_zoom_view_drag_begin_cb (CdlZoomView    *self,
                             double          x,
                             double          y,
                             GtkGestureDrag *drag)
{
  self->drag_cx = self->cx;
  self->drag_cy = self->cy;
}

static void
cdl_zoom_view_drag_update_cb (CdlZoomView    *self,
                              double          dx,
                              double          dy,
                              GtkGestureDrag *drag)
{
  self->cx = self->drag_cx - dx / self->zoom;
  self->cy = self->drag_cy - dy / self->zoom;
  cdl_zoom_view_clamp (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
cdl_zoom_view_step (CdlZoomView *self,
                    double       factor)
{
  double x = gtk_widget_get_width (GTK_WIDGET (self)) / 2.0;
  double y = gtk_widget_get_height (GTK_WIDGET (self)) / 2.0;

  if (factor == 0)
    cdl_zoom_view_set_zoom (self, ZOOM_MIN, x, y);
  else
    cdl_zoom_view_set_zoom (self, self->zoom * factor, x, y);
}

static void
cdl_zoom_view_in_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  cdl_zoom_view_step (CDL_ZOOM_VIEW (widget), ZOOM_STEP);
}

static void
cdl_zoom_view_out_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  cdl_zoom_view_step (CDL_ZOOM_VIEW (widget), 1 / ZOOM_STEP);
}

static void
cdl_zoom_view_fit_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  cdl_zoom_view_step (CDL_ZOOM_VIEW (widget), 0);
}

static void
cdl_zoom_view_dispose (GObject *object)
{
  CdlZoomView *self = CDL_ZOOM_VIEW (object);

  g_clear_object (&self->texture);

  G_OBJECT_CLASS (cdl_zoom_view_parent_class)->dispose (object);
}

static void
cdl_zoom_view_class_init (CdlZoomViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_zoom_view_dispose;
  widget_class->snapshot = cdl_zoom_view_snapshot;

  gtk_widget_class_set_css_name (widget_class, "zoomview");

  gtk_widget_class_install_action (widget_class, "zoom.in", NULL, cdl_zoom_view_in_action);
  gtk_widget_class_install_action (widget_class, "zoom.out", NULL, cdl_zoom_view_out_action);
  gtk_widget_class_install_action (widget_class, "zoom.fit", NULL, cdl_zoom_view_fit_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_plus, 0, "zoom.in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_equal, 0, "zoom.in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Add, 0, "zoom.in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_minus, 0, "zoom.out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Subtract, 0, "zoom.out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0, 0, "zoom.fit", NULL);
}

static void
cdl_zoom_view_init (CdlZoomView *self)
{
  GtkEventController *scroll;
  GtkEventController *motion;
  GtkGesture *pinch;
  GtkGesture *drag;

  self->zoom = 1.0;
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);

  scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect_swapped (scroll, "scroll", G_CALLBACK (cdl_zoom_view_scroll_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);

  motion = gtk_event_controller_motion_new ();
  g_signal_connect_swapped (motion, "motion", G_CALLBACK (cdl_zoom_view_motion_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  pinch = gtk_gesture_zoom_new ();
  g_signal_connect_swapped (pinch, "begin", G_CALLBACK (cdl_zoom_view_pinch_begin_cb), self);
  g_signal_connect_swapped (pinch, "scale-changed", G_CALLBACK (cdl_zoom_view_pinch_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (pinch));

  drag = gtk_gesture_drag_new ();
  g_signal_connect_swapped (drag, "drag-begin", G_CALLBACK (cdl_zoom_view_drag_begin_cb), self);
  g_signal_connect_swapped (drag, "drag-update", G_CALLBACK (cdl_zoom_view_drag_update_cb),
                            self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));
  gtk_gesture_group (pinch, drag);
}

GtkWidget *
cdl_zoom_view_new (void)
{
  return g_object_new (CDL_TYPE_ZOOM_VIEW, NULL);
}

void
cdl_zoom_view_set_texture (CdlZoomView *self,
                           GdkTexture  *texture)
{
  g_return_if_fail (CDL_IS_ZOOM_VIEW (self));

  g_set_object (&self->texture, texture);
  self->zoom = 1.0;
  self->cx = self->cy = 0;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}
