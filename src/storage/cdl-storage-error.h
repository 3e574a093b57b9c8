/* cdl-storage-error.h: the errors of the object stores and the thumbnailer
 *
 * A missing object is G_IO_ERROR_NOT_FOUND, a range that starts past the
 * end is G_IO_ERROR_INVALID_ARGUMENT and a pipeline that runs out of time
 * is G_IO_ERROR_TIMED_OUT; file system failures keep their G_IO_ERROR
 * code. The codes below cover what G_IO_ERROR has no word for.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CDL_STORAGE_ERROR (cdl_storage_error_quark ())

typedef enum
{
  CDL_STORAGE_ERROR_INVALID_KEY,         /* the key could escape the root or is malformed */
  CDL_STORAGE_ERROR_CHECKSUM_MISMATCH,   /* stored bytes differ from the recorded SHA-256 */
  CDL_STORAGE_ERROR_UNSUPPORTED_FORMAT,  /* neither PNG nor JPEG, or empty */
  CDL_STORAGE_ERROR_DECODE_FAILED,       /* looked like an image but did not decode */
  CDL_STORAGE_ERROR_IMAGE_TOO_LARGE,     /* more pixels than the decoder may allocate */
  CDL_STORAGE_ERROR_MEDIA_UNAVAILABLE,   /* GStreamer or one of its plugins is missing */
} CdlStorageError;

GQuark   cdl_storage_error_quark   (void);

G_END_DECLS
