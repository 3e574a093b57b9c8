/* cdl-range-input-stream.h: at most N bytes of another stream
 *
 * Reads stop after @length bytes even when the base stream has more; the
 * base stream is closed with this one. Used for byte ranges of objects.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CDL_TYPE_RANGE_INPUT_STREAM (cdl_range_input_stream_get_type ())

G_DECLARE_FINAL_TYPE (CdlRangeInputStream, cdl_range_input_stream,
                      CDL, RANGE_INPUT_STREAM, GFilterInputStream)

/* Takes a reference on @base. */
GInputStream *cdl_range_input_stream_new           (GInputStream        *base,
                                                    goffset              length);

/* Bytes still to be read. */
goffset       cdl_range_input_stream_get_remaining (CdlRangeInputStream *self);

G_END_DECLS
