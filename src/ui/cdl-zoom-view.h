/* cdl-zoom-view.h: one image, zoomed and panned
 *
 * Fits the image at first; pinch (GtkGestureZoom), Ctrl or plain scroll
 * and +/- zoom around the pointer, dragging pans, 0 fits again.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CDL_TYPE_ZOOM_VIEW (cdl_zoom_view_get_type ())

G_DECLARE_FINAL_TYPE (CdlZoomView, cdl_zoom_view, CDL, ZOOM_VIEW, GtkWidget)

GtkWidget *cdl_zoom_view_new         (void);
void       cdl_zoom_view_set_texture (CdlZoomView *self,
                                      GdkTexture  *texture);
/* 1.0 is the image fitted to the view. */
double     cdl_zoom_view_get_zoom    (CdlZoomView *self);
void       cdl_zoom_view_set_zoom    (CdlZoomView *self,
                                      double       zoom,
                                      double       x,
                                      double       y);

G_END_DECLS
