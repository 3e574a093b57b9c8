/* cdl-sim-image.c: the pictures the simulated worker "generates"
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-sim"

#include "config.h"

#include <string.h>

#include "cdl-sim-image.h"

/* Fast zlib: the gradients compress well at any level. */
#define ZLIB_LEVEL 3

guint32
cdl_sim_text_hash (const char *text)
{
  guint32 h = 2166136261u;

  for (const guchar *p = (const guchar *) (text ? text : ""); *p; p++)
    {
      h ^= *p;
      h *= 16777619u;
    }

  return h;
}

/* splitmix64: a well-mixed stream of numbers from one 64-bit state. */
static guint64
mix_next (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);

  return z ^ (z >> 31);
}

typedef struct
{
  int r, g, b;
} Colour;

static Colour
random_colour (guint64 *state)
{
  guint64 v = mix_next (state);
  Colour c = { (int) (v & 0xff), (int) ((v >> 8) & 0xff),
               (int) ((v >> 16) & 0xff) };

  return c;
}

guint8 *
cdl_sim_image_render (guint64 seed,
                      guint   batch_index,
                      guint32 text_hash,
                      guint   width,
                      guint   height)
{
  guint64 state;
  guint8 *rgb;
  Colour from, to, disc, ring;
  gint64 cx, cy, r2, inner2;
  int dx, dy, stripe;
  gint64 span;

  g_return_val_if_fail (width > 0 && height > 0, NULL);

  state = seed ^ ((guint64) text_hash << 32) ^
          ((guint64) batch_index * G_GUINT64_CONSTANT (0x2545f4914f6cdd1d));
  mix_next (&state);

  from = random_colour (&state);
  to = random_colour (&state);
  disc = random_colour (&state);
  ring = random_colour (&state);

  /* The gradient runs along (dx, dy); a disc and a ring sit on top of it,
   * and faint diagonal stripes make every seed's texture its own. */
  dx = (int) (mix_next (&state) % 17) - 8;
  dy = (int) (mix_next (&state) % 17) - 8;
  if (dx == 0 && dy == 0)
    dx = 5;
  cx = (gint64) (mix_next (&state) % width);
  cy = (gint64) (mix_next (&state) % height);
  r2 = (gint64) (MIN (width, height) / 8 + mix_next (&state) % (MIN (width, height) / 3 + 1));
  inner2 = r2 * 2 / 3;
  r2 *= r2;
  inner2 *= inner2;
  stripe = 4 + (int) (mix_next (&state) % 28);

  span = (gint64) ABS (dx) * width + (gint64) ABS (dy) * height;
  if (span == 0)
    span = 1;

  rgb = g_malloc ((gsize) width * height * 3);

  for (guint y = 0; y < height; y++)
    {
      guint8 *row = rgb + (gsize) y * width * 3;

      for (guint x = 0; x < width; x++)
        {
          gint64 t = (gint64) x * dx + (gint64) y * dy;
          gint64 ddx = (gint64) x - cx;
          gint64 ddy = (gint64) y - cy;
          gint64 d2 = ddx * ddx + ddy * ddy;
          int r, g, b, shade;

          if (dx < 0)
            t -= (gint64) dx * width;
          if (dy < 0)
            t -= (gint64) dy * height;

          r = from.r + (int) ((to.r - from.r) * t / span);
          g = from.g + (int) ((to.g - from.g) * t / span);
          b = from.b + (int) ((to.b - from.b) * t / span);

          if (d2 <= inner2)
            {
              r = (r + 3 * disc.r) / 4;
              g = (g + 3 * disc.g) / 4;
              b = (b + 3 * disc.b) / 4;
            }
          else if (d2 <= r2)
            {
              r = (r + ring.r) / 2;
              g = (g + ring.g) / 2;
              b = (b + ring.b) / 2;
            }

          shade = ((x + y) / stripe) % 2 ? 10 : -10;
          row[x * 3 + 0] = (guint8) CLAMP (r + shade, 0, 255);
          row[x * 3 + 1] = (guint8) CLAMP (g + shade, 0, 255);
          row[x * 3 + 2] = (guint8) CLAMP (b + shade, 0, 255);
        }
    }

  return rgb;
}

guint32
cdl_sim_crc32 (guint32       crc,
               const guint8 *data,
               gsize         len)
{
  static guint32 table[256];
  static gsize table_done = 0;

  if (g_once_init_enter (&table_done))
    {
      for (guint32 n = 0; n < 256; n++)
        {
          guint32 c = n;

          for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
          table[n] = c;
        }
      g_once_init_leave (&table_done, 1);
    }

  crc ^= 0xffffffffu;
  for (gsize i = 0; i < len; i++)
    crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);

  return crc ^ 0xffffffffu;
}

static void
append_u32 (GByteArray *out,
            guint32     v)
{
  guint8 be[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };

  g_byte_array_append (out, be, 4);
}

static void
append_chunk (GByteArray   *out,
              const char   *type,
              const guint8 *data,
              gsize         len)
{
  guint32 crc;

  g_assert (len <= G_MAXINT32);

  append_u32 (out, (guint32) len);
  g_byte_array_append (out, (const guint8 *) type, 4);
  if (len > 0)
    g_byte_array_append (out, data, (guint) len);

  crc = cdl_sim_crc32 (0, (const guint8 *) type, 4);
  crc = cdl_sim_crc32 (crc, data, len);
  append_u32 (out, crc);
}

static GBytes *
deflate_rows (const guint8  *rgb,
              guint          width,
              guint          height,
              GError       **error)
{
  g_autoptr(GZlibCompressor) zlib = NULL;
  g_autoptr(GOutputStream) mem = NULL;
  g_autoptr(GOutputStream) out = NULL;
  gsize stride = (gsize) width * 3;
  const guint8 filter = 0;

  zlib = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, ZLIB_LEVEL);
  mem = g_memory_output_stream_new_resizable ();
  out = g_converter_output_stream_new (mem, G_CONVERTER (zlib));

  for (guint y = 0; y < height; y++)
    {
      if (!g_output_stream_write_all (out, &filter, 1, NULL, NULL, error) ||
          !g_output_stream_write_all (out, rgb + y * stride, stride, NULL,
                                      NULL, error))
        return NULL;
    }

  if (!g_output_stream_close (out, NULL, error))
    return NULL;

  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
}

GBytes *
cdl_sim_png_encode (const guint8       *rgb,
                    guint               width,
                    guint               height,
                    const char * const *text_keys,
                    const char * const *text_values,
                    GError            **error)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  g_autoptr(GByteArray) out = NULL;
  g_autoptr(GBytes) idat = NULL;
  guint8 ihdr[13];

  g_return_val_if_fail (rgb != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);

  idat = deflate_rows (rgb, width, height, error);
  if (idat == NULL)
    return NULL;

  out = g_byte_array_sized_new (g_bytes_get_size (idat) + 1024);
  g_byte_array_append (out, signature, sizeof signature);

  ihdr[0] = width >> 24;
  ihdr[1] = (width >> 16) & 0xff;
  ihdr[2] = (width >> 8) & 0xff;
  ihdr[3] = width & 0xff;
  ihdr[4] = height >> 24;
  ihdr[5] = (height >> 16) & 0xff;
  ihdr[6] = (height >> 8) & 0xff;
  ihdr[7] = height & 0xff;
  ihdr[8] = 8;    /* bit depth */
  ihdr[9] = 2;    /* truecolour */
  ihdr[10] = 0;   /* deflate */
  ihdr[11] = 0;   /* adaptive filtering */
  ihdr[12] = 0;   /* no interlace */
  append_chunk (out, "IHDR", ihdr, sizeof ihdr);

  for (guint i = 0; text_keys != NULL && text_keys[i] != NULL; i++)
    {
      g_autoptr(GByteArray) text = g_byte_array_new ();

      g_byte_array_append (text, (const guint8 *) text_keys[i],
                           strlen (text_keys[i]) + 1);
      g_byte_array_append (text, (const guint8 *) text_values[i],
                           strlen (text_values[i]));
      append_chunk (out, "tEXt", text->data, text->len);
    }

  append_chunk (out, "IDAT", g_bytes_get_data (idat, NULL),
                g_bytes_get_size (idat));
  append_chunk (out, "IEND", NULL, 0);

  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

char *
cdl_sim_json_to_ascii (JsonNode *node)
{
  g_autofree char *text = NULL;
  GString *out;

  g_return_val_if_fail (node != NULL, NULL);

  text = json_to_string (node, FALSE);
  out = g_string_sized_new (strlen (text) + 16);

  /* Non-ASCII only ever appears inside strings, where \uXXXX means the
   * same character. */
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x80)
        g_string_append_c (out, (char) c);
      else if (c < 0x10000)
        g_string_append_printf (out, "\\u%04x", c);
      else
        {
          c -= 0x10000;
          g_string_append_printf (out, "\\u%04x\\u%04x",
                                  0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
        }
    }

  return g_string_free (out, FALSE);
}
