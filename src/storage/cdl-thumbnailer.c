/* cdl-thumbnailer.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-storage"

#include "config.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <string.h>
#include <zlib.h>

#include "storage/cdl-storage-error.h"
#include "storage/cdl-storage-key.h"
#include "storage/cdl-thumbnailer.h"

#define DEFAULT_THREADS     2
#define DEFAULT_QUALITY     85
#define DEFAULT_TIMEOUT_MS  10000
/* 8192 × 8192: four times a 4K × 4K render, a 256 MiB RGBA frame. */
#define DEFAULT_MAX_PIXELS  (G_GUINT64_CONSTANT (8192) * 8192)

/* Boxed results */

G_DEFINE_BOXED_TYPE (CdlThumbnail, cdl_thumbnail,
                     cdl_thumbnail_copy, cdl_thumbnail_free)

CdlThumbnail *
cdl_thumbnail_copy (const CdlThumbnail *thumbnail)
{
  CdlThumbnail *copy;

  g_return_val_if_fail (thumbnail != NULL, NULL);

  copy = g_memdup2 (thumbnail, sizeof *thumbnail);
  if (copy->data != NULL)
    g_bytes_ref (copy->data);

  return copy;
}

void
cdl_thumbnail_free (CdlThumbnail *thumbnail)
{
  if (thumbnail == NULL)
    return;

  g_clear_pointer (&thumbnail->data, g_bytes_unref);
  g_free (thumbnail);
}

G_DEFINE_BOXED_TYPE (CdlDecodedImage, cdl_decoded_image,
                     cdl_decoded_image_copy, cdl_decoded_image_free)

CdlDecodedImage *
cdl_decoded_image_copy (const CdlDecodedImage *image)
{
  CdlDecodedImage *copy;

  g_return_val_if_fail (image != NULL, NULL);

  copy = g_memdup2 (image, sizeof *image);
  if (copy->pixels != NULL)
    g_bytes_ref (copy->pixels);

  return copy;
}

void
cdl_decoded_image_free (CdlDecodedImage *image)
{
  if (image == NULL)
    return;

  g_clear_pointer (&image->pixels, g_bytes_unref);
  g_free (image);
}

/* The thumbnailer */

struct _CdlThumbnailer
{
  GObject      parent_instance;
  GThreadPool *pool;
  guint        max_threads;
  guint        size;
  guint        quality;
  guint        timeout_ms;
  guint64      max_pixels;
};

enum {
  PROP_0,
  PROP_MAX_THREADS,
  PROP_SIZE,
  PROP_QUALITY,
  PROP_TIMEOUT_MS,
  PROP_MAX_PIXELS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (CdlThumbnailer, cdl_thumbnailer, G_TYPE_OBJECT)

typedef enum
{
  FORMAT_PNG,
  FORMAT_JPEG,
} ImageFormat;

typedef enum
{
  JOB_THUMBNAIL,
  JOB_DECODE,
} JobKind;

/* One image and the settings as they were when it was asked for, so a
 * pool thread never reads the object's fields. */
typedef struct
{
  JobKind  kind;
  GBytes  *image;
  guint    size;
  guint    quality;
  guint    timeout_ms;
  guint64  max_pixels;
} Job;

static void
job_free (Job *job)
{
  g_clear_pointer (&job->image, g_bytes_unref);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Job, job_free)

static Job *
job_new (CdlThumbnailer *self,
         JobKind         kind,
         GBytes         *image)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  job->image = g_bytes_ref (image);
  job->size = self->size;
  job->quality = self->quality;
  job->timeout_ms = self->timeout_ms;
  job->max_pixels = self->max_pixels;

  return job;
}

gboolean
cdl_thumbnailer_ensure_gstreamer (GError **error)
{
  static gsize initialised = 0;
  static GError *init_error = NULL;

  if (g_once_init_enter (&initialised))
    {
      GError *local_error = NULL;

      if (!gst_init_check (NULL, NULL, &local_error))
        {
          init_error = g_error_new (CDL_STORAGE_ERROR,
                                    CDL_STORAGE_ERROR_MEDIA_UNAVAILABLE,
                                    "GStreamer could not start: %s",
                                    local_error->message);
          g_error_free (local_error);
        }

      g_once_init_leave (&initialised, 1);
    }

  if (init_error != NULL)
    {
      g_propagate_error (error, g_error_copy (init_error));
      return FALSE;
    }

  return TRUE;
}

void
cdl_thumbnailer_fit_size (guint  width,
                          guint  height,
                          guint  max_side,
                          guint *fit_width,
                          guint *fit_height)
{
  guint64 w = width;
  guint64 h = height;

  g_return_if_fail (fit_width != NULL && fit_height != NULL);
  g_return_if_fail (max_side > 0);

  if (w <= max_side && h <= max_side)
    {
      *fit_width = width;
      *fit_height = height;
    }
  else if (w >= h)
    {
      *fit_width = max_side;
      *fit_height = MAX (1, (h * max_side + w / 2) / w);
    }
  else
    {
      *fit_width = MAX (1, (w * max_side + h / 2) / h);
      *fit_height = max_side;
    }
}

/* Header probing */

static guint
read_be16 (const guchar *p)
{
  return ((guint)p[0] << 8) | p[1];
}

static guint32
read_be32 (const guchar *p)
{
  return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

/* Walks every chunk: lengths inside the file, checksums right, IHDR
 * first and IEND present. Truncated or damaged files stop here with a
 * clear message instead of inside the decoder.
 *
 * FIXME: a PNG whose chunks are intact but whose compressed data is
 * not (only a crafted file) still reaches pngdec, which in GStreamer
 * 1.22 keeps the frame it failed to decode: the call fails as it
 * should but leaks that frame. */
static gboolean
probe_png (const guchar  *data,
           gsize          len,
           guint         *width,
           guint         *height,
           GError       **error)
{
  gsize pos = 8;
  gboolean have_header = FALSE;

  for (;;)
    {
      guint32 chunk_len, stored_crc;
      const guchar *type;

      if (len - pos < 12)
        break;

      chunk_len = read_be32 (data + pos);
      type = data + pos + 4;

      if (chunk_len > G_MAXINT32 || len - pos - 12 < chunk_len)
        break;

      stored_crc = read_be32 (data + pos + 8 + chunk_len);
      if (crc32 (0, type, chunk_len + 4) != stored_crc)
        {
          char name[5];

          for (guint i = 0; i < 4; i++)
            name[i] = g_ascii_isalpha (type[i]) ? type[i] : '?';
          name[4] = '\0';

          g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_DECODE_FAILED,
                       "The PNG image is damaged: its %s chunk fails its checksum",
                       name);
          return FALSE;
        }

      if (!have_header)
        {
          if (memcmp (type, "IHDR", 4) != 0 || chunk_len != 13)
            break;

          *width = read_be32 (data + pos + 8);
          *height = read_be32 (data + pos + 12);

          if (*width == 0 || *height == 0 || *width > G_MAXINT32 || *height > G_MAXINT32)
            {
              g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_DECODE_FAILED,
                           "The PNG image claims an impossible size");
              return FALSE;
            }

          have_header = TRUE;
        }
      else if (memcmp (type, "IEND", 4) == 0)
        {
          return TRUE;
        }

      pos += 12 + (gsize)chunk_len;
    }

  g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_DECODE_FAILED,
               have_header ? "The PNG image is truncated: it has no end chunk"
                           : "The PNG image is truncated or corrupt: no header");
  return FALSE;
}

static gboolean
is_jpeg_frame_marker (guint marker)
{
  /* SOF0…SOF15, less DHT (C4), JPG (C8) and DAC (CC). */
  return marker >= 0xc0 && marker <= 0xcf &&
         marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
}

static gboolean
probe_jpeg (const guchar  *data,
            gsize          len,
            guint         *width,
            guint         *height,
            GError       **error)
{
  gsize pos = 2;

  while (pos < len)
    {
      guint marker;
      guint seg_len;

      if (data[pos] != 0xff)
        break;

      while (pos < len && data[pos] == 0xff)
        pos++;
      if (pos >= len)
        break;

      marker = data[pos++];

      /* Markers without a length. */
      if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8))
        continue;

      /* Scan data or the end before any frame header. */
      if (marker == 0xd9 || marker == 0xda)
        break;

      if (pos + 2 > len)
        break;

      seg_len = read_be16 (data + pos);
      if (seg_len < 2)
        break;

      if (is_jpeg_frame_marker (marker))
        {
          guint w, h;

          /* Length (2), precision (1), height (2), width (2). */
          if (pos + 7 > len)
            break;

          h = read_be16 (data + pos + 3);
          w = read_be16 (data + pos + 5);

          if (w == 0 || h == 0)
            {
              g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_DECODE_FAILED,
                           "The JPEG image has no size in its frame header");
              return FALSE;
            }

          *width = w;
          *height = h;
          return TRUE;
        }

      pos += seg_len;
    }

  g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_DECODE_FAILED,
               "The JPEG image is truncated or corrupt: no frame header");
  return FALSE;
}

static gboolean
probe_image (GBytes       *image,
             guint64       max_pixels,
             ImageFormat  *format,
             guint        *width,
             guint        *height,
             GError      **error)
{
  static const guchar png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  gsize len;
  const guchar *data = g_bytes_get_data (image, &len);

  if (len == 0)
    {
      g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_UNSUPPORTED_FORMAT,
                   "The image is empty (0 bytes)");
      return FALSE;
    }

  if (len >= sizeof png_signature && memcmp (data, png_signature, sizeof png_signature) == 0)
    {
      *format = FORMAT_PNG;
      if (!probe_png (data, len, width, height, error))
        return FALSE;
    }
  else if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    {
      *format = FORMAT_JPEG;
      if (!probe_jpeg (data, len, width, height, error))
        return FALSE;
    }
  else
    {
      g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_UNSUPPORTED_FORMAT,
                   "The file is neither a PNG nor a JPEG image");
      return FALSE;
    }

  if ((guint64)*width * *height > max_pixels)
    {
      g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_IMAGE_TOO_LARGE,
                   "The image is %u × %u pixels, more than the %" G_GUINT64_FORMAT
                   " pixels allowed", *width, *height, max_pixels);
      return FALSE;
    }

  return TRUE;
}

/* Pipelines */

static GstElement *
add_element (GstElement  *pipeline,
             const char  *factory,
             GError     **error)
{
  GstElement *element = gst_element_factory_make (factory, NULL);

  if (element == NULL)
    {
      g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_MEDIA_UNAVAILABLE,
                   "The GStreamer element “%s” is missing; install the GStreamer "
                   "base and good plugins", factory);
      return NULL;
    }

  gst_bin_add (GST_BIN (pipeline), element);

  return element;
}

/* Builds appsrc ! decoder ! … ! appsink; *sink is owned by the pipeline. */
static GstElement *
build_pipeline (const Job     *job,
                ImageFormat    format,
                guint          thumb_width,
                guint          thumb_height,
                GstElement   **src,
                GstElement   **sink,
                GError       **error)
{
  g_autoptr(GstElement) pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  g_autoptr(GstCaps) src_caps = NULL;
  g_autoptr(GstCaps) sink_caps = NULL;
  GstElement *chain[6];
  guint n = 0;
  guint filter_at;

  if ((chain[n++] = *src = add_element (pipeline, "appsrc", error)) == NULL)
    return NULL;
  if ((chain[n++] = add_element (pipeline, format == FORMAT_PNG ? "pngdec" : "jpegdec",
                                 error)) == NULL)
    return NULL;

  if (job->kind == JOB_THUMBNAIL)
    {
      GstElement *enc;

      /* Scale first: converting the small frame is cheaper. */
      if ((chain[n++] = add_element (pipeline, "videoscale", error)) == NULL ||
          (chain[n++] = add_element (pipeline, "videoconvert", error)) == NULL ||
          (chain[n++] = enc = add_element (pipeline, "jpegenc", error)) == NULL)
        return NULL;

      g_object_set (enc, "quality", (int)job->quality, NULL);
      sink_caps = gst_caps_new_simple ("video/x-raw",
                                       "width", G_TYPE_INT, (int)thumb_width,
                                       "height", G_TYPE_INT, (int)thumb_height,
                                       "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1,
                                       NULL);
    }
  else
    {
      if ((chain[n++] = add_element (pipeline, "videoconvert", error)) == NULL)
        return NULL;

      sink_caps = gst_caps_new_simple ("video/x-raw",
                                       "format", G_TYPE_STRING, "RGBA",
                                       NULL);
    }

  if ((chain[n++] = *sink = add_element (pipeline, "appsink", error)) == NULL)
    return NULL;

  src_caps = gst_caps_new_empty_simple (format == FORMAT_PNG ? "image/png" : "image/jpeg");
  /* A byte stream, not timed packets: it keeps the decoders in their
   * parsing mode, where a frame reaches the decoder only once its end
   * marker arrived. Handed a truncated PNG as a packet, pngdec 1.22
   * keeps the frame and never frees it. */
  g_object_set (*src, "caps", src_caps, "format", GST_FORMAT_BYTES, NULL);
  /* The sample is pulled after EOS reaches the bus, so the sink must not
   * hold EOS back until its queue is drained. */
  g_object_set (*sink,
                "sync", FALSE,
                "enable-last-sample", FALSE,
                "wait-on-eos", FALSE,
                NULL);

  /* The caps go right before the encoder, or before the sink. */
  filter_at = job->kind == JOB_THUMBNAIL ? n - 3 : n - 2;

  for (guint i = 0; i + 1 < n; i++)
    {
      gboolean linked;

      if (i == filter_at)
        linked = gst_element_link_filtered (chain[i], chain[i + 1], sink_caps);
      else
        linked = gst_element_link (chain[i], chain[i + 1]);

      if (!linked)
        {
          g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_MEDIA_UNAVAILABLE,
                       "Could not link %s to %s in the image pipeline",
                       GST_ELEMENT_NAME (chain[i]), GST_ELEMENT_NAME (chain[i + 1]));
          return NULL;
        }
    }

  return g_steal_pointer (&pipeline);
}

static void
cancelled_cb (GCancellable *cancellable,
              GstBus       *bus)
{
  gst_bus_post (bus, gst_message_new_application (NULL,
                                                  gst_structure_new_empty ("cdl-cancelled")));
}

/* Feeds the image, waits for the end of the stream, an error, the
 * deadline or cancellation, then stops the pipeline (joining its
 * threads). Returns the one sample the sink got. */
static GstSample *
run_pipeline (const Job     *job,
              GstElement    *pipeline,
              GstElement    *src,
              GstElement    *sink,
              GCancellable  *cancellable,
              GError       **error)
{
  g_autoptr(GstBus) bus = gst_element_get_bus (pipeline);
  GstSample *sample = NULL;
  gulong cancel_id = 0;
  gint64 deadline;
  gboolean done = FALSE;

  if (cancellable != NULL)
    cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_cb),
                                       gst_object_ref (bus), gst_object_unref);

  deadline = g_get_monotonic_time () + (gint64)job->timeout_ms * 1000;

  /* appsrc takes buffers once it has started, which PAUSED does. */
  if (gst_element_set_state (pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE)
    {
      g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_MEDIA_UNAVAILABLE,
                   "Could not start the image pipeline");
      done = TRUE;
    }
  else
    {
      gst_app_src_push_buffer (GST_APP_SRC (src),
                               gst_buffer_new_wrapped_bytes (job->image));
      gst_app_src_end_of_stream (GST_APP_SRC (src));
      gst_element_set_state (pipeline, GST_STATE_PLAYING);
    }

  while (!done)
    {
      g_autoptr(GstMessage) msg = NULL;
      gint64 remaining = deadline - g_get_monotonic_time ();

      if (remaining > 0)
        msg = gst_bus_timed_pop_filtered (bus, remaining * GST_USECOND,
                                          GST_MESSAGE_EOS |
                                          GST_MESSAGE_ERROR |
                                          GST_MESSAGE_APPLICATION);

      if (msg == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "Decoding the image took longer than %u ms", job->timeout_ms);
          break;
        }

      switch (GST_MESSAGE_TYPE (msg))
        {
        case GST_MESSAGE_EOS:
          sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 0);
          if (sample == NULL)
            g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_DECODE_FAILED,
                         "The image is truncated or corrupt: nothing could be decoded");
          done = TRUE;
          break;

        case GST_MESSAGE_ERROR:
          {
            g_autoptr(GError) gst_error = NULL;
            g_autofree char *debug = NULL;

            gst_message_parse_error (msg, &gst_error, &debug);
            g_debug ("Image pipeline failed: %s (%s)", gst_error->message,
                     debug != NULL ? debug : "no details");
            g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_DECODE_FAILED,
                         "The image is truncated or corrupt: %s", gst_error->message);
            done = TRUE;
          }
          break;

        case GST_MESSAGE_APPLICATION:
          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            done = TRUE;
          break;

        default:
          break;
        }
    }

  gst_element_set_state (pipeline, GST_STATE_NULL);

  if (cancel_id != 0)
    g_cancellable_disconnect (cancellable, cancel_id);

  return sample;
}

typedef struct
{
  GstBuffer  *buffer;
  GstMapInfo  map;
} MappedBuffer;

static void
mapped_buffer_free (gpointer data)
{
  MappedBuffer *mapped = data;

  gst_buffer_unmap (mapped->buffer, &mapped->map);
  gst_buffer_unref (mapped->buffer);
  g_free (mapped);
}

/* The buffer's bytes without a copy; NULL if it cannot be mapped. */
static GBytes *
bytes_from_buffer (GstBuffer *buffer)
{
  MappedBuffer *mapped = g_new0 (MappedBuffer, 1);

  if (!gst_buffer_map (buffer, &mapped->map, GST_MAP_READ))
    {
      g_free (mapped);
      return NULL;
    }

  mapped->buffer = gst_buffer_ref (buffer);

  return g_bytes_new_with_free_func (mapped->map.data, mapped->map.size,
                                     mapped_buffer_free, mapped);
}

static gpointer
run_job (const Job     *job,
         GCancellable  *cancellable,
         GError       **error)
{
  g_autoptr(GstElement) pipeline = NULL;
  g_autoptr(GstSample) sample = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GstElement *src = NULL;
  GstElement *sink = NULL;
  GstBuffer *buffer;
  ImageFormat format;
  guint width, height;
  guint thumb_width = 0, thumb_height = 0;

  if (!cdl_thumbnailer_ensure_gstreamer (error))
    return NULL;

  if (!probe_image (job->image, job->max_pixels, &format, &width, &height, error))
    return NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  if (job->kind == JOB_THUMBNAIL)
    cdl_thumbnailer_fit_size (width, height, job->size, &thumb_width, &thumb_height);

  pipeline = build_pipeline (job, format, thumb_width, thumb_height, &src, &sink, error);
  if (pipeline == NULL)
    return NULL;

  sample = run_pipeline (job, pipeline, src, sink, cancellable, error);
  if (sample == NULL)
    return NULL;

  buffer = gst_sample_get_buffer (sample);
  if (buffer == NULL || (bytes = bytes_from_buffer (buffer)) == NULL)
    {
      g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_DECODE_FAILED,
                   "The image pipeline produced no data");
      return NULL;
    }

  if (job->kind == JOB_THUMBNAIL)
    {
      CdlThumbnail *thumbnail = g_new0 (CdlThumbnail, 1);

      /* Copied, so that the result holds no GStreamer memory; it is small. */
      thumbnail->data = g_bytes_new (g_bytes_get_data (bytes, NULL),
                                     g_bytes_get_size (bytes));
      thumbnail->source_width = width;
      thumbnail->source_height = height;
      thumbnail->width = thumb_width;
      thumbnail->height = thumb_height;

      return thumbnail;
    }
  else
    {
      GstStructure *s = gst_caps_get_structure (gst_sample_get_caps (sample), 0);
      CdlDecodedImage *decoded;
      int out_width = 0, out_height = 0;

      /* RGBA rows need no padding, and appsink takes no video meta, so
       * the frame is tightly packed. */
      if (!gst_structure_get_int (s, "width", &out_width) ||
          !gst_structure_get_int (s, "height", &out_height) ||
          out_width <= 0 || out_height <= 0 ||
          g_bytes_get_size (bytes) != (gsize)out_width * 4 * out_height)
        {
          g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_DECODE_FAILED,
                       "The decoder produced a frame of an unexpected layout");
          return NULL;
        }

      decoded = g_new0 (CdlDecodedImage, 1);
      decoded->pixels = g_steal_pointer (&bytes);
      decoded->width = out_width;
      decoded->height = out_height;
      decoded->stride = (gsize)out_width * 4;

      return decoded;
    }
}

static void
pool_func (gpointer data,
           gpointer user_data)
{
  g_autoptr(GTask) task = data;
  const Job *job = g_task_get_task_data (task);
  GError *error = NULL;
  gpointer result;

  result = run_job (job, g_task_get_cancellable (task), &error);

  if (result == NULL)
    g_task_return_error (task, error);
  else if (job->kind == JOB_THUMBNAIL)
    g_task_return_pointer (task, result, (GDestroyNotify)cdl_thumbnail_free);
  else
    g_task_return_pointer (task, result, (GDestroyNotify)cdl_decoded_image_free);
}

static void
start_job (CdlThumbnailer      *self,
           JobKind              kind,
           GBytes              *image,
           gpointer             source_tag,
           GCancellable        *cancellable,
           GAsyncReadyCallback  callback,
           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, job_new (self, kind, image), (GDestroyNotify)job_free);

  /* The pool owns the pushed reference; it drops it once the job ran. */
  if (!g_thread_pool_push (self->pool, g_object_ref (task), &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
    }
}

static void
cdl_thumbnailer_constructed (GObject *object)
{
  CdlThumbnailer *self = (CdlThumbnailer *)object;

  G_OBJECT_CLASS (cdl_thumbnailer_parent_class)->constructed (object);

  self->pool = g_thread_pool_new (pool_func, NULL, self->max_threads, FALSE, NULL);
}

static void
cdl_thumbnailer_finalize (GObject *object)
{
  CdlThumbnailer *self = (CdlThumbnailer *)object;

  /* Every queued job holds a reference, so none is left here; but this
   * may run in a pool thread (a job dropping the last reference), which
   * must not wait for itself. */
  if (self->pool != NULL)
    g_thread_pool_free (self->pool, FALSE, FALSE);

  G_OBJECT_CLASS (cdl_thumbnailer_parent_class)->finalize (object);
}

static void
cdl_thumbnailer_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  CdlThumbnailer *self = CDL_THUMBNAILER (object);

  switch (prop_id)
    {
    case PROP_MAX_THREADS:
      g_value_set_uint (value, self->max_threads);
      break;

    case PROP_SIZE:
      g_value_set_uint (value, self->size);
      break;

    case PROP_QUALITY:
      g_value_set_uint (value, self->quality);
      break;

    case PROP_TIMEOUT_MS:
      g_value_set_uint (value, self->timeout_ms);
      break;

    case PROP_MAX_PIXELS:
      g_value_set_uint64 (value, self->max_pixels);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_thumbnailer_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  CdlThumbnailer *self = CDL_THUMBNAILER (object);

  switch (prop_id)
    {
    case PROP_MAX_THREADS:
      self->max_threads = g_value_get_uint (value);
      break;

    case PROP_SIZE:
      cdl_thumbnailer_set_size (self, g_value_get_uint (value));
      break;

    case PROP_QUALITY:
      cdl_thumbnailer_set_quality (self, g_value_get_uint (value));
      break;

    case PROP_TIMEOUT_MS:
      cdl_thumbnailer_set_timeout_ms (self, g_value_get_uint (value));
      break;

    case PROP_MAX_PIXELS:
      cdl_thumbnailer_set_max_pixels (self, g_value_get_uint64 (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_thumbnailer_class_init (CdlThumbnailerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = cdl_thumbnailer_constructed;
  object_class->finalize = cdl_thumbnailer_finalize;
  object_class->get_property = cdl_thumbnailer_get_property;
  object_class->set_property = cdl_thumbnailer_set_property;

  properties[PROP_MAX_THREADS] =
    g_param_spec_uint ("max-threads", NULL, NULL,
                       1, 64, DEFAULT_THREADS,
                       (G_PARAM_READWRITE |
                        G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_STATIC_STRINGS));

  properties[PROP_SIZE] =
    g_param_spec_uint ("size", NULL, NULL,
                       1, 4096, CDL_STORAGE_THUMBNAIL_SIZE,
                       (G_PARAM_READWRITE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  properties[PROP_QUALITY] =
    g_param_spec_uint ("quality", NULL, NULL,
                       1, 100, DEFAULT_QUALITY,
                       (G_PARAM_READWRITE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  properties[PROP_TIMEOUT_MS] =
    g_param_spec_uint ("timeout-ms", NULL, NULL,
                       1, G_MAXUINT, DEFAULT_TIMEOUT_MS,
                       (G_PARAM_READWRITE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  properties[PROP_MAX_PIXELS] =
    g_param_spec_uint64 ("max-pixels", NULL, NULL,
                         1, G_MAXUINT64, DEFAULT_MAX_PIXELS,
                         (G_PARAM_READWRITE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdl_thumbnailer_init (CdlThumbnailer *self)
{
  self->max_threads = DEFAULT_THREADS;
  self->size = CDL_STORAGE_THUMBNAIL_SIZE;
  self->quality = DEFAULT_QUALITY;
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->max_pixels = DEFAULT_MAX_PIXELS;
}

CdlThumbnailer *
cdl_thumbnailer_new (guint max_threads)
{
  return g_object_new (CDL_TYPE_THUMBNAILER,
                       "max-threads", max_threads > 0 ? max_threads : DEFAULT_THREADS,
                       NULL);
}

CdlThumbnail *
cdl_thumbnailer_make_thumbnail (CdlThumbnailer  *self,
                                GBytes          *image,
                                GCancellable    *cancellable,
                                GError         **error)
{
  g_autoptr(Job) job = NULL;

  g_return_val_if_fail (CDL_IS_THUMBNAILER (self), NULL);
  g_return_val_if_fail (image != NULL, NULL);

  job = job_new (self, JOB_THUMBNAIL, image);

  return run_job (job, cancellable, error);
}

void
cdl_thumbnailer_make_thumbnail_async (CdlThumbnailer      *self,
                                      GBytes              *image,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_return_if_fail (CDL_IS_THUMBNAILER (self));
  g_return_if_fail (image != NULL);

  start_job (self, JOB_THUMBNAIL, image, cdl_thumbnailer_make_thumbnail_async,
             cancellable, callback, user_data);
}

CdlThumbnail *
cdl_thumbnailer_make_thumbnail_finish (CdlThumbnailer  *self,
                                       GAsyncResult    *result,
                                       GError         **error)
{
  g_return_val_if_fail (CDL_IS_THUMBNAILER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        cdl_thumbnailer_make_thumbnail_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

CdlDecodedImage *
cdl_thumbnailer_decode (CdlThumbnailer  *self,
                        GBytes          *image,
                        GCancellable    *cancellable,
                        GError         **error)
{
  g_autoptr(Job) job = NULL;

  g_return_val_if_fail (CDL_IS_THUMBNAILER (self), NULL);
  g_return_val_if_fail (image != NULL, NULL);

  job = job_new (self, JOB_DECODE, image);

  return run_job (job, cancellable, error);
}

void
cdl_thumbnailer_decode_async (CdlThumbnailer      *self,
                              GBytes              *image,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_return_if_fail (CDL_IS_THUMBNAILER (self));
  g_return_if_fail (image != NULL);

  start_job (self, JOB_DECODE, image, cdl_thumbnailer_decode_async,
             cancellable, callback, user_data);
}

CdlDecodedImage *
cdl_thumbnailer_decode_finish (CdlThumbnailer  *self,
                               GAsyncResult    *result,
                               GError         **error)
{
  g_return_val_if_fail (CDL_IS_THUMBNAILER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        cdl_thumbnailer_decode_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

guint
cdl_thumbnailer_get_size (CdlThumbnailer *self)
{
  g_return_val_if_fail (CDL_IS_THUMBNAILER (self), 0);

  return self->size;
}

void
cdl_thumbnailer_set_size (CdlThumbnailer *self,
                          guint           size)
{
  g_return_if_fail (CDL_IS_THUMBNAILER (self));
  g_return_if_fail (size > 0);

  if (self->size == size)
    return;

  self->size = size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE]);
}

guint
cdl_thumbnailer_get_quality (CdlThumbnailer *self)
{
  g_return_val_if_fail (CDL_IS_THUMBNAILER (self), 0);

  return self->quality;
}

void
cdl_thumbnailer_set_quality (CdlThumbnailer *self,
                             guint           quality)
{
  g_return_if_fail (CDL_IS_THUMBNAILER (self));
  g_return_if_fail (quality >= 1 && quality <= 100);

  if (self->quality == quality)
    return;

  self->quality = quality;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QUALITY]);
}

guint
cdl_thumbnailer_get_timeout_ms (CdlThumbnailer *self)
{
  g_return_val_if_fail (CDL_IS_THUMBNAILER (self), 0);

  return self->timeout_ms;
}

void
cdl_thumbnailer_set_timeout_ms (CdlThumbnailer *self,
                                guint           timeout_ms)
{
  g_return_if_fail (CDL_IS_THUMBNAILER (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->timeout_ms == timeout_ms)
    return;

  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT_MS]);
}

guint64
cdl_thumbnailer_get_max_pixels (CdlThumbnailer *self)
{
  g_return_val_if_fail (CDL_IS_THUMBNAILER (self), 0);

  return self->max_pixels;
}

void
cdl_thumbnailer_set_max_pixels (CdlThumbnailer *self,
                                guint64         max_pixels)
{
  g_return_if_fail (CDL_IS_THUMBNAILER (self));
  g_return_if_fail (max_pixels > 0);

  if (self->max_pixels == max_pixels)
    return;

  self->max_pixels = max_pixels;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_PIXELS]);
}

guint
cdl_thumbnailer_get_max_threads (CdlThumbnailer *self)
{
  g_return_val_if_fail (CDL_IS_THUMBNAILER (self), 0);

  return self->max_threads;
}
