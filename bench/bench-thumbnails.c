/* bench-thumbnails.c: how fast 1024 × 1024 PNGs become 256 px thumbnails
 *
 * Usage: bench-thumbnails [COUNT [SIDE]]
 *
 * Encodes two test PNGs with GStreamer (a flat test card, which compresses
 * well, and noise, which does not: a generated picture lies in between),
 * then runs COUNT thumbnails of each through CdlThumbnailer with one and
 * with two pipelines at a time, the way ingestion calls it (the _async
 * calls, completed on the main loop).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <stdlib.h>

#include "storage/cdl-thumbnailer.h"

static GBytes *
encode_png (const char *pattern,
            guint       side)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GstElement) pipeline = NULL;
  g_autoptr(GstElement) sink = NULL;
  g_autoptr(GstSample) sample = NULL;
  g_autofree char *desc = NULL;
  GstBuffer *buffer;
  GstMapInfo map;
  GBytes *bytes;

  desc = g_strdup_printf ("videotestsrc num-buffers=1 pattern=%s ! "
                          "video/x-raw,format=RGB,width=%u,height=%u ! "
                          "pngenc ! appsink name=sink sync=false",
                          pattern, side, side);
  pipeline = gst_parse_launch (desc, &error);
  if (pipeline == NULL)
    g_error ("Could not build the encoder: %s", error->message);
  gst_object_ref_sink (pipeline);

  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 30 * GST_SECOND);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (sample == NULL)
    g_error ("Could not encode a %s test PNG", pattern);

  buffer = gst_sample_get_buffer (sample);
  gst_buffer_map (buffer, &map, GST_MAP_READ);
  bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (buffer, &map);

  return bytes;
}

typedef struct
{
  GMainLoop *loop;
  guint      pending;
  guint      failed;
} Run;

static void
done_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlThumbnail) thumb = NULL;

  thumb = cdl_thumbnailer_make_thumbnail_finish (CDL_THUMBNAILER (source), result, &error);
  if (thumb == NULL)
    {
      g_printerr ("Thumbnail failed: %s\n", error->message);
      run->failed++;
    }

  if (--run->pending == 0)
    g_main_loop_quit (run->loop);
}

static void
bench (const char *label,
       GBytes     *png,
       guint       threads,
       guint       count)
{
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (threads);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Run run = { loop, count, 0 };
  gint64 start, elapsed;
  double seconds;

  start = g_get_monotonic_time ();

  for (guint i = 0; i < count; i++)
    cdl_thumbnailer_make_thumbnail_async (thumbnailer, png, NULL, done_cb, &run);

  g_main_loop_run (loop);
  elapsed = g_get_monotonic_time () - start;
  seconds = elapsed / (double)G_USEC_PER_SEC;

  if (run.failed > 0)
    g_error ("%u thumbnails failed", run.failed);

  if (label == NULL)
    return;

  g_print ("| %-6s | %7.0f KiB | %u | %5u | %7.1f | %6.1f ms |\n",
           label, g_bytes_get_size (png) / 1024.0, threads, count,
           count / seconds, elapsed / 1000.0 / count);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) card = NULL;
  g_autoptr(GBytes) noise = NULL;
  guint count = argc > 1 ? (guint)atoi (argv[1]) : 40;
  guint side = argc > 2 ? (guint)atoi (argv[2]) : 1024;

  if (count == 0 || side == 0)
    {
      g_printerr ("Usage: %s [COUNT [SIDE]]\n", argv[0]);
      return 2;
    }

  if (!cdl_thumbnailer_ensure_gstreamer (&error))
    g_error ("%s", error->message);

  card = encode_png ("smpte", side);
  noise = encode_png ("snow", side);

  g_print ("%u × %u PNG → 256 px JPEG, %u thumbnails per row, %u CPUs\n\n",
           side, side, count, g_get_num_processors ());
  g_print ("| input  | PNG size    | threads | count | thumbs/s | wall time / thumbnail |\n");
  g_print ("| --- | --- | --- | --- | --- | --- |\n");

  /* One untimed pass loads the plugins. */
  bench (NULL, card, 1, 2);

  bench ("card", card, 1, count);
  bench ("card", card, 2, count);
  bench ("noise", noise, 1, count);
  bench ("noise", noise, 2, count);

  return 0;
}
