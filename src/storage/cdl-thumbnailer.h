/* cdl-thumbnailer.h: thumbnails and decoded pixels of PNG and JPEG images
 *
 * Each image runs through its own GStreamer pipeline,
 *   appsrc ! pngdec|jpegdec ! videoscale ! videoconvert ! jpegenc ! appsink
 * (or ! videoconvert ! RGBA ! appsink to decode). The format is told by
 * the file's signature and the size by its header, and a PNG's chunks are
 * checked (lengths, checksums, end chunk), so input that is empty,
 * neither PNG nor JPEG, truncated, damaged or larger than max-pixels is
 * refused before any decoder runs; input that still fails to decode ends
 * in an error, and a pipeline that outlives timeout-ms is stopped.
 *
 * Thumbnails are JPEG (quality 85 by default) whose longest side is
 * `size` pixels (256 by default), aspect kept, never enlarged. An alpha
 * channel is dropped, as JPEG has none.
 *
 * The plain calls block the calling thread (any thread). The _async ones
 * queue on the thumbnailer's own thread pool, which runs at most
 * max-threads pipelines at a time, and complete on the caller's
 * thread-default main context.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CDL_TYPE_THUMBNAIL (cdl_thumbnail_get_type ())

typedef struct
{
  GBytes *data;            /* JPEG */
  guint   source_width;
  guint   source_height;
  guint   width;
  guint   height;
} CdlThumbnail;

GType         cdl_thumbnail_get_type (void) G_GNUC_CONST;
CdlThumbnail *cdl_thumbnail_copy     (const CdlThumbnail *thumbnail);
void          cdl_thumbnail_free     (CdlThumbnail       *thumbnail);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlThumbnail, cdl_thumbnail_free)

#define CDL_TYPE_DECODED_IMAGE (cdl_decoded_image_get_type ())

/* Straight (not premultiplied) RGBA, 8 bits a channel, rows of
 * width * 4 bytes without padding: what gdk_memory_texture_new() takes
 * as GDK_MEMORY_R8G8B8A8. */
typedef struct
{
  GBytes *pixels;
  guint   width;
  guint   height;
  gsize   stride;
} CdlDecodedImage;

GType            cdl_decoded_image_get_type (void) G_GNUC_CONST;
CdlDecodedImage *cdl_decoded_image_copy     (const CdlDecodedImage *image);
void             cdl_decoded_image_free     (CdlDecodedImage       *image);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlDecodedImage, cdl_decoded_image_free)

#define CDL_TYPE_THUMBNAILER (cdl_thumbnailer_get_type ())

G_DECLARE_FINAL_TYPE (CdlThumbnailer, cdl_thumbnailer, CDL, THUMBNAILER, GObject)

/* Initialises GStreamer once per process; safe from any thread and
 * called by everything below. CDL_STORAGE_ERROR_MEDIA_UNAVAILABLE when
 * GStreamer cannot start. */
gboolean         cdl_thumbnailer_ensure_gstreamer (GError **error);

/* The size of the thumbnail of a @width × @height image whose longest
 * side may be at most @max_side: scaled down keeping the aspect (rounded,
 * at least 1 px), or unchanged when it already fits. */
void             cdl_thumbnailer_fit_size (guint   width,
                                           guint   height,
                                           guint   max_side,
                                           guint  *fit_width,
                                           guint  *fit_height);

/* @max_threads: pipelines run at once by the _async calls (0 means 2). */
CdlThumbnailer  *cdl_thumbnailer_new                (guint            max_threads);

/* Blocking. */
CdlThumbnail    *cdl_thumbnailer_make_thumbnail     (CdlThumbnailer  *self,
                                                     GBytes          *image,
                                                     GCancellable    *cancellable,
                                                     GError         **error);
void             cdl_thumbnailer_make_thumbnail_async  (CdlThumbnailer      *self,
                                                        GBytes              *image,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
CdlThumbnail    *cdl_thumbnailer_make_thumbnail_finish (CdlThumbnailer      *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);

/* Blocking. */
CdlDecodedImage *cdl_thumbnailer_decode             (CdlThumbnailer  *self,
                                                     GBytes          *image,
                                                     GCancellable    *cancellable,
                                                     GError         **error);
void             cdl_thumbnailer_decode_async       (CdlThumbnailer      *self,
                                                     GBytes              *image,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
CdlDecodedImage *cdl_thumbnailer_decode_finish      (CdlThumbnailer      *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);

guint            cdl_thumbnailer_get_size           (CdlThumbnailer  *self);
void             cdl_thumbnailer_set_size           (CdlThumbnailer  *self,
                                                     guint            size);
guint            cdl_thumbnailer_get_quality        (CdlThumbnailer  *self);
void             cdl_thumbnailer_set_quality        (CdlThumbnailer  *self,
                                                     guint            quality);
guint            cdl_thumbnailer_get_timeout_ms     (CdlThumbnailer  *self);
void             cdl_thumbnailer_set_timeout_ms     (CdlThumbnailer  *self,
                                                     guint            timeout_ms);
guint64          cdl_thumbnailer_get_max_pixels     (CdlThumbnailer  *self);
void             cdl_thumbnailer_set_max_pixels     (CdlThumbnailer  *self,
                                                     guint64          max_pixels);
guint            cdl_thumbnailer_get_max_threads    (CdlThumbnailer  *self);

G_END_DECLS
