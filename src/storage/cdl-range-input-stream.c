/* cdl-range-input-stream.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-storage"

#include "config.h"

#include "storage/cdl-range-input-stream.h"

struct _CdlRangeInputStream
{
  GFilterInputStream  parent_instance;
  goffset             remaining;
};

G_DEFINE_FINAL_TYPE (CdlRangeInputStream, cdl_range_input_stream,
                     G_TYPE_FILTER_INPUT_STREAM)

static gssize
cdl_range_input_stream_read (GInputStream  *stream,
                             void          *buffer,
                             gsize          count,
                             GCancellable  *cancellable,
                             GError       **error)
{
  CdlRangeInputStream *self = CDL_RANGE_INPUT_STREAM (stream);
  GInputStream *base = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (stream));
  gssize n;

  if (self->remaining <= 0)
    return 0;

  count = MIN ((goffset)count, self->remaining);
  n = g_input_stream_read (base, buffer, count, cancellable, error);

  if (n > 0)
    self->remaining -= n;

  return n;
}

static gssize
cdl_range_input_stream_skip (GInputStream  *stream,
                             gsize          count,
                             GCancellable  *cancellable,
                             GError       **error)
{
  CdlRangeInputStream *self = CDL_RANGE_INPUT_STREAM (stream);
  GInputStream *base = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (stream));
  gssize n;

  if (self->remaining <= 0)
    return 0;

  count = MIN ((goffset)count, self->remaining);
  n = g_input_stream_skip (base, count, cancellable, error);

  if (n > 0)
    self->remaining -= n;

  return n;
}

static void
cdl_range_input_stream_class_init (CdlRangeInputStreamClass *klass)
{
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  stream_class->read_fn = cdl_range_input_stream_read;
  stream_class->skip = cdl_range_input_stream_skip;
}

static void
cdl_range_input_stream_init (CdlRangeInputStream *self)
{
}

GInputStream *
cdl_range_input_stream_new (GInputStream *base,
                            goffset       length)
{
  CdlRangeInputStream *self;

  g_return_val_if_fail (G_IS_INPUT_STREAM (base), NULL);
  g_return_val_if_fail (length >= 0, NULL);

  self = g_object_new (CDL_TYPE_RANGE_INPUT_STREAM,
                       "base-stream", base,
                       "close-base-stream", TRUE,
                       NULL);
  self->remaining = length;

  return G_INPUT_STREAM (self);
}

goffset
cdl_range_input_stream_get_remaining (CdlRangeInputStream *self)
{
  g_return_val_if_fail (CDL_IS_RANGE_INPUT_STREAM (self), 0);

  return self->remaining;
}
