/* cdl-mo.h: reading compiled gettext catalogues (.mo files)
 *
 * A .mo file is a header of seven 32-bit words (magic, revision, count N,
 * offset of the original strings' table, offset of the translations'
 * table, hash table size and offset) in the byte order its magic shows,
 * then two tables of N (length, offset) pairs pointing at NUL-terminated
 * strings. Every length and offset is checked against the size of the
 * data before it is used, so a truncated or hostile file is refused with
 * an error and never read out of bounds.
 *
 * Pure and thread-safe.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CDL_MO_ERROR (cdl_mo_error_quark ())

typedef enum
{
  CDL_MO_ERROR_INVALID,  /* not a .mo file, or one that is damaged */
} CdlMoError;

GQuark      cdl_mo_error_quark (void);

/* The messages of the catalogue @data: msgid → msgstr, both UTF-8, owned
 * by the table. The header entry (empty msgid) is left out. A message
 * with a context is keyed "context\004msgid"; one with plural forms by
 * its singular msgid, and maps to its first form. */
GHashTable *cdl_mo_parse       (const guint8 *data,
                                gsize         length,
                                GError      **error);

G_END_DECLS
