/* cdl-gallery-loader.h: stored images as textures, decoded off the main thread
 *
 * Reads an object from the store and decodes it on the thumbnailer's
 * threads; only the GdkTexture is made on the caller's thread. Textures
 * are kept by object key, so that a preloaded batch shows at once.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "storage/cdl-object-store.h"
#include "storage/cdl-thumbnailer.h"

G_BEGIN_DECLS

#define CDL_TYPE_GALLERY_LOADER (cdl_gallery_loader_get_type ())

G_DECLARE_FINAL_TYPE (CdlGalleryLoader, cdl_gallery_loader, CDL, GALLERY_LOADER, GObject)

CdlGalleryLoader *cdl_gallery_loader_new         (CdlObjectStore      *store);

/* The texture of @key when it was loaded already, else NULL. */
GdkTexture       *cdl_gallery_loader_lookup      (CdlGalleryLoader    *self,
                                                  const char          *key);

void              cdl_gallery_loader_load_async  (CdlGalleryLoader    *self,
                                                  const char          *key,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
GdkTexture       *cdl_gallery_loader_load_finish (CdlGalleryLoader    *self,
                                                  GAsyncResult        *result,
                                                  GError             **error);

/* Loads @key into the cache, if it is not there, and forgets errors. */
void              cdl_gallery_loader_preload     (CdlGalleryLoader    *self,
                                                  const char          *key);

G_END_DECLS
