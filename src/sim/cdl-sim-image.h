/* cdl-sim-image.h: the pictures the simulated worker "generates"
 *
 * An image is drawn from (seed, batch index, prompt hash) alone: the same
 * three values always give the same pixels, and changing any of them
 * changes the colours and shapes visibly. Images are written as real PNG
 * files (8-bit RGB, zlib from GIO, tEXt chunks for the graph).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The largest side the simulator draws; bigger latents are clamped so that
 * a benchmark asking for 8K images does not spend its time in zlib. */
#define CDL_SIM_IMAGE_MAX_SIDE 2048

/* A 32-bit FNV-1a hash of @text, the "prompt hash" of an image. */
guint32  cdl_sim_text_hash    (const char   *text);

/* Returns width × height × 3 bytes of RGB, rows top to bottom. */
guint8  *cdl_sim_image_render (guint64       seed,
                               guint         batch_index,
                               guint32       text_hash,
                               guint         width,
                               guint         height);

/* CRC-32 as PNG uses it; start with @crc 0. */
guint32  cdl_sim_crc32        (guint32       crc,
                               const guint8 *data,
                               gsize         len);

/* Encodes @rgb as a PNG with one tEXt chunk per key/value pair (the values
 * must be Latin-1; JSON from cdl_sim_json_to_ascii () is). */
GBytes  *cdl_sim_png_encode   (const guint8       *rgb,
                               guint               width,
                               guint               height,
                               const char * const *text_keys,
                               const char * const *text_values,
                               GError            **error);

/* JSON text of @node with every non-ASCII character written as \uXXXX,
 * as Python's json.dumps does by default. */
char    *cdl_sim_json_to_ascii (JsonNode     *node);

G_END_DECLS
