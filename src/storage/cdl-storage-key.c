/* cdl-storage-key.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-storage"

#include "config.h"

#include <string.h>

#include "storage/cdl-storage-error.h"
#include "storage/cdl-storage-key.h"

#define IMAGE_PREFIX "tasks/"
#define IMAGE_SUFFIX ".png"
#define THUMB_PREFIX "thumbs/"
#define THUMB_SUFFIX "-256.jpg"

G_STATIC_ASSERT (CDL_STORAGE_THUMBNAIL_SIZE == 256);

static gboolean
invalid (GError     **error,
         const char  *why)
{
  g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY,
               "Storage key is invalid: %s", why);
  return FALSE;
}

gboolean
cdl_storage_key_validate (const char  *key,
                          gssize       length,
                          GError     **error)
{
  gsize len;
  gsize seg_start = 0;

  g_return_val_if_fail (key != NULL, FALSE);

  len = length < 0 ? strlen (key) : (gsize)length;

  if (len == 0)
    return invalid (error, "it is empty");
  if (memchr (key, '\0', len) != NULL)
    return invalid (error, "it contains a NUL byte");
  if (len > CDL_STORAGE_KEY_MAX_LENGTH)
    return invalid (error, "it is longer than 1024 bytes");
  if (key[0] == '/')
    return invalid (error, "it is an absolute path");
  if (memchr (key, '\\', len) != NULL)
    return invalid (error, "it contains a backslash");
  if (!g_utf8_validate (key, len, NULL))
    return invalid (error, "it is not valid UTF-8");

  for (gsize i = 0; i < len; i++)
    {
      guchar c = key[i];

      if (c < 0x20 || c == 0x7f)
        return invalid (error, "it contains a control character");
    }

  for (gsize i = 0; i <= len; i++)
    {
      gsize seg_len;

      if (i < len && key[i] != '/')
        continue;

      seg_len = i - seg_start;

      if (seg_len == 0)
        return invalid (error, "it has an empty path segment");
      if (seg_len == 2 && key[seg_start] == '.' && key[seg_start + 1] == '.')
        return invalid (error, "it refers to a parent directory (\"..\")");
      if (key[seg_start] == '.')
        return invalid (error, "a path segment starts with a dot");
      if (seg_len > CDL_STORAGE_KEY_MAX_SEGMENT)
        return invalid (error, "a path segment is longer than 200 bytes");

      seg_start = i + 1;
    }

  return TRUE;
}

char *
cdl_storage_key_shard (const char *task_id,
                       const char *prompt_id,
                       guint64     seed,
                       guint       index)
{
  g_autofree char *identity = NULL;
  g_autofree char *digest = NULL;

  g_return_val_if_fail (task_id != NULL, NULL);
  g_return_val_if_fail (prompt_id != NULL, NULL);

  identity = g_strdup_printf ("%s/%s/%" G_GUINT64_FORMAT "/%u",
                              task_id, prompt_id, seed, index);
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, identity, -1);

  return g_strndup (digest, 2);
}

static gboolean
check_id (const char  *id,
          const char  *what,
          GError     **error)
{
  if (id[0] == '\0' || strchr (id, '/') != NULL)
    {
      g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY,
                   "Storage key is invalid: the %s is empty or contains '/'",
                   what);
      return FALSE;
    }

  return TRUE;
}

static char *
build_key (const char  *prefix,
           const char  *suffix,
           const char  *task_id,
           const char  *prompt_id,
           guint64      seed,
           guint        index,
           GDateTime   *created_at,
           GError     **error)
{
  g_autoptr(GDateTime) utc = NULL;
  g_autofree char *shard = NULL;
  g_autofree char *key = NULL;

  if (!check_id (task_id, "task id", error) ||
      !check_id (prompt_id, "prompt id", error))
    return NULL;

  utc = g_date_time_to_utc (created_at);
  shard = cdl_storage_key_shard (task_id, prompt_id, seed, index);
  key = g_strdup_printf ("%s%s/%04d/%02d/%02d/%s/%s-%" G_GUINT64_FORMAT "-%u%s",
                         prefix, task_id,
                         g_date_time_get_year (utc),
                         g_date_time_get_month (utc),
                         g_date_time_get_day_of_month (utc),
                         shard, prompt_id, seed, index, suffix);

  if (!cdl_storage_key_validate (key, -1, error))
    return NULL;

  return g_steal_pointer (&key);
}

char *
cdl_storage_key_for_image (const char  *task_id,
                           const char  *prompt_id,
                           guint64      seed,
                           guint        index,
                           GDateTime   *created_at,
                           GError     **error)
{
  g_return_val_if_fail (task_id != NULL, NULL);
  g_return_val_if_fail (prompt_id != NULL, NULL);
  g_return_val_if_fail (created_at != NULL, NULL);

  return build_key (IMAGE_PREFIX, IMAGE_SUFFIX, task_id, prompt_id, seed,
                    index, created_at, error);
}

char *
cdl_storage_key_for_thumbnail (const char  *task_id,
                               const char  *prompt_id,
                               guint64      seed,
                               guint        index,
                               GDateTime   *created_at,
                               GError     **error)
{
  g_return_val_if_fail (task_id != NULL, NULL);
  g_return_val_if_fail (prompt_id != NULL, NULL);
  g_return_val_if_fail (created_at != NULL, NULL);

  return build_key (THUMB_PREFIX, THUMB_SUFFIX, task_id, prompt_id, seed,
                    index, created_at, error);
}

char *
cdl_storage_key_thumbnail_for_image (const char  *image_key,
                                     GError     **error)
{
  gsize len;
  gsize prefix_len = strlen (IMAGE_PREFIX);
  gsize suffix_len = strlen (IMAGE_SUFFIX);
  g_autofree char *key = NULL;

  g_return_val_if_fail (image_key != NULL, NULL);

  if (!cdl_storage_key_validate (image_key, -1, error))
    return NULL;

  len = strlen (image_key);

  if (len <= prefix_len + suffix_len ||
      !g_str_has_prefix (image_key, IMAGE_PREFIX) ||
      !g_str_has_suffix (image_key, IMAGE_SUFFIX))
    {
      g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY,
                   "Storage key is invalid: “%s” is not an image key", image_key);
      return NULL;
    }

  key = g_strdup_printf ("%s%.*s%s", THUMB_PREFIX,
                         (int)(len - prefix_len - suffix_len),
                         image_key + prefix_len, THUMB_SUFFIX);

  if (!cdl_storage_key_validate (key, -1, error))
    return NULL;

  return g_steal_pointer (&key);
}
