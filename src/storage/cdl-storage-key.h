/* cdl-storage-key.h: where an image and its thumbnail live in an object store
 *
 * Images:     tasks/{task_id}/{yyyy}/{mm}/{dd}/{shard}/{prompt_id}-{seed}-{i}.png
 * Thumbnails: thumbs/{task_id}/{yyyy}/{mm}/{dd}/{shard}/{prompt_id}-{seed}-{i}-256.jpg
 *
 * The date is the generation's creation date in UTC. The shard is the first
 * byte, as two lower-case hex digits, of the SHA-256 of
 * "{task_id}/{prompt_id}/{seed}/{i}": it spreads a day of one task over 256
 * prefixes so that no directory (or S3 prefix) becomes hot, and it is
 * computed from the identity of the image alone, so every instance derives
 * the same key. Thumbnails are JPEG: they are photos seen at a glance,
 * where JPEG is several times smaller than PNG.
 *
 * Everything here is pure and thread-safe.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Longest side of a thumbnail, in pixels. */
#define CDL_STORAGE_THUMBNAIL_SIZE 256

/* The longest key accepted, in bytes, and the longest segment: short enough
 * that a temporary name next to it still fits the file systems' 255. */
#define CDL_STORAGE_KEY_MAX_LENGTH 1024
#define CDL_STORAGE_KEY_MAX_SEGMENT 200

/* Checks that @key (of @length bytes, or NUL-terminated when -1) is a
 * relative, '/'-separated path that cannot leave the store's root: not
 * empty, valid UTF-8 without control characters or backslashes, no NUL
 * byte, no empty segment (leading, trailing or doubled '/') and no segment
 * that starts with a dot (so neither "." nor ".."; temporary files use
 * such names). Sets CDL_STORAGE_ERROR_INVALID_KEY otherwise. */
gboolean  cdl_storage_key_validate            (const char  *key,
                                               gssize       length,
                                               GError     **error);

/* Two lower-case hex digits; see above. */
char     *cdl_storage_key_shard               (const char  *task_id,
                                               const char  *prompt_id,
                                               guint64      seed,
                                               guint        index);

/* @created_at: any time zone, converted to UTC. The ids must be non-empty
 * and free of '/'; NULL with CDL_STORAGE_ERROR_INVALID_KEY otherwise. */
char     *cdl_storage_key_for_image           (const char  *task_id,
                                               const char  *prompt_id,
                                               guint64      seed,
                                               guint        index,
                                               GDateTime   *created_at,
                                               GError     **error);
char     *cdl_storage_key_for_thumbnail       (const char  *task_id,
                                               const char  *prompt_id,
                                               guint64      seed,
                                               guint        index,
                                               GDateTime   *created_at,
                                               GError     **error);

/* The thumbnail key of an image key made by cdl_storage_key_for_image(). */
char     *cdl_storage_key_thumbnail_for_image (const char  *image_key,
                                               GError     **error);

G_END_DECLS
