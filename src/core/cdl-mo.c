/* cdl-mo.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-core"

#include "config.h"

#include <string.h>

#include "core/cdl-mo.h"

G_DEFINE_QUARK (cdl-mo-error-quark, cdl_mo_error)

#define MO_MAGIC 0x950412deu
#define MO_HEADER_SIZE 28

static guint32
read_word (const guint8 *data,
           gsize         at,
           gboolean      swap)
{
  guint32 word;

  memcpy (&word, data + at, sizeof word);
  word = GUINT32_FROM_LE (word);

  return swap ? GUINT32_SWAP_LE_BE (word) : word;
}

/* The string of table entry @index at @table, checked to lie within the
 * data with its terminating NUL, and to be UTF-8 up to its first NUL (the
 * singular of a plural message, or the first of its translations). */
static const char *
read_string (const guint8 *data,
             gsize         length,
             guint32       table,
             guint32       index,
             gboolean      swap,
             GError      **error)
{
  guint64 at = (guint64)table + (guint64)index * 8;
  guint32 len, offset;
  const char *str;

  if (at + 8 > length)
    goto truncated;

  len = read_word (data, at, swap);
  offset = read_word (data, at + 4, swap);
  if ((guint64)offset + len + 1 > length || data[offset + len] != '\0')
    goto truncated;

  str = (const char *)data + offset;
  if (!g_utf8_validate (str, -1, NULL))
    {
      g_set_error (error, CDL_MO_ERROR, CDL_MO_ERROR_INVALID,
                   "Message %u of the catalogue is not UTF-8", index);
      return NULL;
    }

  return str;

truncated:
  g_set_error (error, CDL_MO_ERROR, CDL_MO_ERROR_INVALID,
               "Message %u of the catalogue lies outside the file; it is truncated or damaged",
               index);
  return NULL;
}

GHashTable *
cdl_mo_parse (const guint8 *data,
              gsize         length,
              GError      **error)
{
  g_autoptr(GHashTable) messages = NULL;
  guint32 magic, revision, count, originals, translations;
  gboolean swap;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (length < MO_HEADER_SIZE)
    {
      g_set_error (error, CDL_MO_ERROR, CDL_MO_ERROR_INVALID,
                   "Not a compiled catalogue: %" G_GSIZE_FORMAT " bytes is shorter than "
                   "its header", length);
      return NULL;
    }

  magic = read_word (data, 0, FALSE);
  if (magic == MO_MAGIC)
    swap = FALSE;
  else if (magic == GUINT32_SWAP_LE_BE (MO_MAGIC))
    swap = TRUE;
  else
    {
      g_set_error (error, CDL_MO_ERROR, CDL_MO_ERROR_INVALID,
                   "Not a compiled catalogue: wrong magic number 0x%08x", magic);
      return NULL;
    }

  /* Major revisions 0 and 1 share this layout. */
  revision = read_word (data, 4, swap);
  if ((revision >> 16) > 1)
    {
      g_set_error (error, CDL_MO_ERROR, CDL_MO_ERROR_INVALID,
                   "Unknown catalogue revision %u.%u", revision >> 16, revision & 0xffff);
      return NULL;
    }

  count = read_word (data, 8, swap);
  originals = read_word (data, 12, swap);
  translations = read_word (data, 16, swap);
  if ((guint64)originals + (guint64)count * 8 > length
      || (guint64)translations + (guint64)count * 8 > length)
    {
      g_set_error (error, CDL_MO_ERROR, CDL_MO_ERROR_INVALID,
                   "The catalogue's tables of %u messages lie outside the file; it is "
                   "truncated or damaged", count);
      return NULL;
    }

  messages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint32 i = 0; i < count; i++)
    {
      const char *msgid = read_string (data, length, originals, i, swap, error);
      const char *msgstr;

      if (msgid == NULL)
        return NULL;
      msgstr = read_string (data, length, translations, i, swap, error);
      if (msgstr == NULL)
        return NULL;
      if (msgid[0] != '\0')
        g_hash_table_replace (messages, g_strdup (msgid), g_strdup (msgstr));
    }

  return g_steal_pointer (&messages);
}
