/* cdl-image-tile.h: one image of a batch in the annotation gallery
 *
 * A button showing the image with its number (the key that chooses it)
 * and how it is marked. Activating it chooses it; a right click or a long
 * press asks to reject it ("reject"), its magnifier to zoom ("zoom").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum
{
  CDL_IMAGE_TILE_PLAIN,
  CDL_IMAGE_TILE_CHOSEN,
  CDL_IMAGE_TILE_REJECTED,
} CdlImageTileMark;

#define CDL_TYPE_IMAGE_TILE (cdl_image_tile_get_type ())

G_DECLARE_FINAL_TYPE (CdlImageTile, cdl_image_tile, CDL, IMAGE_TILE, GtkButton)

/* @number: the 1-based position shown; @caption: e.g. the seed. */
GtkWidget  *cdl_image_tile_new         (guint             number,
                                        const char       *caption);
guint       cdl_image_tile_get_number  (CdlImageTile     *self);
void        cdl_image_tile_set_texture (CdlImageTile     *self,
                                        GdkTexture       *texture,
                                        gboolean          full);
GdkTexture *cdl_image_tile_get_texture (CdlImageTile     *self);
/* Whether the full-resolution image has arrived. */
gboolean    cdl_image_tile_is_full     (CdlImageTile     *self);
void        cdl_image_tile_set_mark    (CdlImageTile     *self,
                                        CdlImageTileMark  mark);

G_END_DECLS
