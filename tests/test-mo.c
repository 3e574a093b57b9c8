/* test-mo.c: reading compiled catalogues made by msgfmt, and refusing
 * damaged ones
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "core/cdl-mo.h"

static const char po_text[] =
  "msgid \"\"\n"
  "msgstr \"Content-Type: text/plain; charset=UTF-8\\n\"\n"
  "\"Plural-Forms: nplurals=1; plural=0;\\n\"\n"
  "\n"
  "msgid \"Best\"\n"
  "msgstr \"最佳\"\n"
  "\n"
  "msgid \"Image {0} of {1}\"\n"
  "msgstr \"第 {0} 张，共 {1} 张\"\n"
  "\n"
  "msgctxt \"menu\"\n"
  "msgid \"Open\"\n"
  "msgstr \"打开\"\n"
  "\n"
  "msgid \"%d label\"\n"
  "msgid_plural \"%d labels\"\n"
  "msgstr[0] \"%d 个标注\"\n"
  "\n"
  "msgid \"Untranslated\"\n"
  "msgstr \"\"\n";

/* The catalogue above compiled by msgfmt, in @endianness ("little" or
 * "big"); NULL (and the test skipped) without msgfmt. */
static GBytes *
compile (const char *endianness)
{
  g_autofree char *msgfmt = g_find_program_in_path ("msgfmt");
  g_autofree char *dir = NULL;
  g_autofree char *po = NULL;
  g_autofree char *mo = NULL;
  g_autofree char *option = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  int status = 0;

  if (msgfmt == NULL)
    {
      g_test_skip ("msgfmt is not installed");
      return NULL;
    }

  dir = g_dir_make_tmp ("cdl-mo-XXXXXX", &error);
  g_assert_no_error (error);
  po = g_build_filename (dir, "zh_CN.po", NULL);
  mo = g_build_filename (dir, "zh_CN.mo", NULL);
  option = g_strconcat ("--endianness=", endianness, NULL);
  g_file_set_contents (po, po_text, -1, &error);
  g_assert_no_error (error);

  {
    const char *argv[] = { msgfmt, option, "-o", mo, po, NULL };

    g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
                  &status, &error);
    g_assert_no_error (error);
    g_spawn_check_wait_status (status, &error);
    g_assert_no_error (error);
  }

  g_file_get_contents (mo, &contents, &length, &error);
  g_assert_no_error (error);
  g_unlink (po);
  g_unlink (mo);
  g_rmdir (dir);

  return g_bytes_new_take (g_steal_pointer (&contents), length);
}

static void
assert_messages (GHashTable *messages)
{
  g_assert_nonnull (messages);
  g_assert_cmpstr (g_hash_table_lookup (messages, "Best"), ==, "最佳");
  g_assert_cmpstr (g_hash_table_lookup (messages, "Image {0} of {1}"), ==,
                   "第 {0} 张，共 {1} 张");
  g_assert_cmpstr (g_hash_table_lookup (messages, "menu\004Open"), ==, "打开");
  g_assert_cmpstr (g_hash_table_lookup (messages, "%d label"), ==, "%d 个标注");
  /* Neither the header nor untranslated messages are in a .mo. */
  g_assert_null (g_hash_table_lookup (messages, ""));
  g_assert_null (g_hash_table_lookup (messages, "Untranslated"));
  g_assert_cmpuint (g_hash_table_size (messages), ==, 4);
}

static void
test_parse (void)
{
  const char *orders[] = { "little", "big" };

  for (guint i = 0; i < G_N_ELEMENTS (orders); i++)
    {
      g_autoptr(GBytes) mo = compile (orders[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(GHashTable) messages = NULL;
      gsize length = 0;
      const guint8 *data;

      if (mo == NULL)
        return;
      data = g_bytes_get_data (mo, &length);
      messages = cdl_mo_parse (data, length, &error);
      g_assert_no_error (error);
      assert_messages (messages);
    }
}

/* Parses a copy of exactly @length bytes, so that a read past the end
 * is one past an allocation (and caught by valgrind or ASan). */
static GHashTable *
parse_copy (const guint8  *data,
            gsize          length,
            GError       **error)
{
  g_autofree guint8 *copy = g_memdup2 (data, length);

  return cdl_mo_parse (copy, length, error);
}

static void
assert_invalid (const guint8 *data,
                gsize         length,
                const char   *needle)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) messages = parse_copy (data, length, &error);

  g_assert_null (messages);
  g_assert_error (error, CDL_MO_ERROR, CDL_MO_ERROR_INVALID);
  if (strstr (error->message, needle) == NULL)
    g_error ("expected \"%s\" in: %s", needle, error->message);
}

static void
put_word (guint8  *data,
          gsize    at,
          guint32  word)
{
  word = GUINT32_TO_LE (word);
  memcpy (data + at, &word, sizeof word);
}

static guint32
get_word (const guint8 *data,
          gsize         at)
{
  guint32 word;

  memcpy (&word, data + at, sizeof word);
  return GUINT32_FROM_LE (word);
}

static void
test_damaged (void)
{
  g_autoptr(GBytes) mo = compile ("little");
  g_autofree guint8 *bad = NULL;
  const guint8 *data;
  gsize length = 0;
  guint32 originals, translations;

  if (mo == NULL)
    return;
  data = g_bytes_get_data (mo, &length);
  originals = get_word (data, 12);
  translations = get_word (data, 16);

  /* Every truncation is refused, or (when it only cuts padding) reads
   * the same messages; none reads out of bounds. */
  for (gsize cut = 0; cut < length; cut++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GHashTable) messages = parse_copy (data, cut, &error);

      if (messages != NULL)
        assert_messages (messages);
      else
        g_assert_error (error, CDL_MO_ERROR, CDL_MO_ERROR_INVALID);
    }
  assert_invalid (data, 0, "shorter than its header");
  assert_invalid (data, 27, "shorter than its header");
  assert_invalid (data, length - 1, "outside the file");

  bad = g_memdup2 (data, length);
  put_word (bad, 0, 0x12345678);
  assert_invalid (bad, length, "wrong magic number");

  memcpy (bad, data, length);
  put_word (bad, 4, 2 << 16);
  assert_invalid (bad, length, "Unknown catalogue revision 2.0");

  /* A count whose tables would run past the end, and one that would
   * overflow 32-bit arithmetic. */
  memcpy (bad, data, length);
  put_word (bad, 8, 1000);
  assert_invalid (bad, length, "tables of 1000 messages");
  memcpy (bad, data, length);
  put_word (bad, 8, G_MAXUINT32);
  assert_invalid (bad, length, "outside the file");
  memcpy (bad, data, length);
  put_word (bad, 16, G_MAXUINT32 - 4);
  assert_invalid (bad, length, "outside the file");

  /* A string's offset or length pointing past the end, or wrapping. */
  memcpy (bad, data, length);
  put_word (bad, translations + 8 + 4, G_MAXUINT32);
  assert_invalid (bad, length, "Message 1");
  memcpy (bad, data, length);
  put_word (bad, originals + 8, G_MAXUINT32);
  assert_invalid (bad, length, "Message 1");
  memcpy (bad, data, length);
  put_word (bad, originals + 8, get_word (data, originals + 8) + 1);
  assert_invalid (bad, length, "Message 1");

  /* A translation that is not UTF-8. */
  memcpy (bad, data, length);
  bad[get_word (data, translations + 8 + 4)] = 0xff;
  assert_invalid (bad, length, "not UTF-8");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mo/parse", test_parse);
  g_test_add_func ("/mo/damaged", test_damaged);

  return g_test_run ();
}
