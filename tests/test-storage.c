/* test-storage.c: keys, the file system object store and thumbnails
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "storage/cdl-fs-store.h"
#include "storage/cdl-object-store.h"
#include "storage/cdl-storage-error.h"
#include "storage/cdl-storage-key.h"
#include "storage/cdl-thumbnailer.h"

/* Fixtures made on the fly */

static void
rm_rf (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_unlink (path);
      return;
    }

  dir = g_dir_open (path, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      rm_rf (child);
    }

  g_rmdir (path);
}

/* Every file below @path whose name starts with a dot or that lies in the
 * store's directory of temporaries (files of interrupted or failed puts). */
static guint
count_dot_files_in (const char *path,
                    gboolean    in_tmp)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  guint count = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        count += count_dot_files_in (child, g_str_equal (name, ".tmp"));
      else if (in_tmp || name[0] == '.')
        count++;
    }

  return count;
}

static guint
count_dot_files (const char *path)
{
  return count_dot_files_in (path, FALSE);
}

static GBytes *
pattern_bytes (gsize  size,
               guint  seed)
{
  guchar *data = g_malloc (MAX (size, 1));
  GRand *rand = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < size; i++)
    data[i] = g_rand_int (rand) & 0xff;

  g_rand_free (rand);

  return g_bytes_new_take (data, size);
}

static GBytes *
encode_test_image (const char *encoder,
                   const char *pattern,
                   guint       width,
                   guint       height)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GstElement) pipeline = NULL;
  g_autoptr(GstElement) sink = NULL;
  g_autoptr(GstSample) sample = NULL;
  g_autofree char *desc = NULL;
  GstBuffer *buffer;
  GstMapInfo map;
  GBytes *bytes;

  desc = g_strdup_printf ("videotestsrc num-buffers=1 pattern=%s ! "
                          "video/x-raw,format=RGB,width=%u,height=%u,framerate=1/1 ! "
                          "%s ! appsink name=sink sync=false",
                          pattern, width, height, encoder);
  pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  gst_object_ref_sink (pipeline);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");

  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 10 * GST_SECOND);
  g_assert_nonnull (sample);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  buffer = gst_sample_get_buffer (sample);
  g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
  bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (buffer, &map);

  return bytes;
}

static GBytes *
make_png (const char *pattern,
          guint       width,
          guint       height)
{
  g_autoptr(GBytes) png = encode_test_image ("pngenc", pattern, width, height);
  const guchar *data = g_bytes_get_data (png, NULL);

  g_assert_cmpuint (g_bytes_get_size (png), >, 33);
  g_assert_cmpint (memcmp (data, "\x89PNG\r\n\x1a\n", 8), ==, 0);

  return g_steal_pointer (&png);
}

static GBytes *
make_jpeg (const char *pattern,
           guint       width,
           guint       height)
{
  return encode_test_image ("jpegenc", pattern, width, height);
}

/* Keys */

static void
test_key_validate (void)
{
  static const char *good[] = {
    "a",
    "tasks/t1/2026/12/03/75/p1-42-0.png",
    "thumbs/x/y.jpg",
    "a/b..c/d",
    "名前/画像.png",
  };
  static const struct {
    const char *key;
    gssize      length;
  } bad[] = {
    { "", -1 },
    { "/etc/passwd", -1 },
    { "..", -1 },
    { "../escape", -1 },
    { "a/../../b", -1 },
    { "a/..", -1 },
    { ".", -1 },
    { "a/./b", -1 },
    { ".hidden", -1 },
    { "a/.x.tmp", -1 },
    { "a//b", -1 },
    { "a/", -1 },
    { "a\\..\\b", -1 },
    { "a\\b", -1 },
    { "a\0b", 3 },
    { "a\tb", -1 },
    { "a\nb", -1 },
    { "a\x7f" "b", -1 },
    { "\xff\xfe", -1 },
  };
  g_autofree char *long_key = g_strnfill (1025, 'k');
  g_autofree char *long_segment = g_strnfill (201, 's');

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (cdl_storage_key_validate (good[i], -1, &error));
      g_assert_no_error (error);
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("key %u", i);
      g_assert_false (cdl_storage_key_validate (bad[i].key, bad[i].length, &error));
      g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY);
      g_assert_nonnull (strstr (error->message, "invalid"));
    }

  g_assert_false (cdl_storage_key_validate (long_key, -1, NULL));
  g_assert_false (cdl_storage_key_validate (long_segment, -1, NULL));
  /* The length counts: the NUL ends a shorter, valid key. */
  g_assert_true (cdl_storage_key_validate ("a\0b", 1, NULL));
}

static void
test_key_layout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTimeZone) plus2 = g_time_zone_new_offset (2 * 3600);
  g_autoptr(GTimeZone) plus3 = g_time_zone_new_offset (3 * 3600);
  g_autoptr(GDateTime) evening = g_date_time_new (plus2, 2026, 12, 3, 23, 30, 0);
  g_autoptr(GDateTime) new_year = g_date_time_new (plus3, 2027, 1, 1, 1, 0, 0);
  g_autofree char *shard = NULL;
  g_autofree char *image = NULL;
  g_autofree char *thumb = NULL;
  g_autofree char *derived = NULL;
  g_autofree char *uuid_image = NULL;
  g_autofree char *uuid_thumb = NULL;
  const char *task = "3f2c9a4e-0000-4000-8000-000000000001";
  const char *prompt = "9b1d2e3f-1111-4111-8111-111111111111";

  /* Shards computed independently: sha256("t1/p1/42/0") starts with 75. */
  shard = cdl_storage_key_shard ("t1", "p1", 42, 0);
  g_assert_cmpstr (shard, ==, "75");

  image = cdl_storage_key_for_image ("t1", "p1", 42, 0, evening, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (image, ==, "tasks/t1/2026/12/03/75/p1-42-0.png");

  thumb = cdl_storage_key_for_thumbnail ("t1", "p1", 42, 0, evening, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (thumb, ==, "thumbs/t1/2026/12/03/75/p1-42-0-256.jpg");

  derived = cdl_storage_key_thumbnail_for_image (image, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (derived, ==, thumb);

  /* 01:00 at +03:00 on New Year's Day is still the last day of the year
   * in UTC; the largest seed stays exact. */
  uuid_image = cdl_storage_key_for_image (task, prompt, G_GUINT64_CONSTANT (9007199254740991),
                                          3, new_year, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (uuid_image, ==,
                   "tasks/3f2c9a4e-0000-4000-8000-000000000001/2026/12/31/a0/"
                   "9b1d2e3f-1111-4111-8111-111111111111-9007199254740991-3.png");

  uuid_thumb = cdl_storage_key_thumbnail_for_image (uuid_image, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (uuid_thumb, ==,
                   "thumbs/3f2c9a4e-0000-4000-8000-000000000001/2026/12/31/a0/"
                   "9b1d2e3f-1111-4111-8111-111111111111-9007199254740991-3-256.jpg");

  /* Every field of the identity moves the shard somewhere. */
  {
    g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < 64; i++)
      g_hash_table_add (seen, cdl_storage_key_shard ("t1", "p1", 42, i));

    g_assert_cmpuint (g_hash_table_size (seen), >, 32);
  }
}

static void
test_key_rejects_bad_ids (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  static const char *ids[] = { "", "a/b", "..", ".x" };

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) error2 = NULL;
      g_autofree char *a = cdl_storage_key_for_image (ids[i], "p", 1, 0, now, &error);
      g_autofree char *b = cdl_storage_key_for_thumbnail ("t", ids[i], 1, 0, now, &error2);

      g_assert_null (a);
      g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY);
      g_assert_null (b);
      g_assert_error (error2, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY);
    }

  {
    g_autoptr(GError) error = NULL;
    g_autofree char *t = cdl_storage_key_thumbnail_for_image ("thumbs/a/b-256.jpg", &error);

    g_assert_null (t);
    g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY);
  }
}

/* The file system store */

typedef struct
{
  char       *root;
  CdlFsStore *store;
} StoreFixture;

static void
store_setup (StoreFixture  *fixture,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_dir_make_tmp ("cdl-storage-XXXXXX", &error);

  g_assert_no_error (error);
  /* A root that does not exist yet: the store creates it. */
  fixture->root = g_build_filename (base, "objects", NULL);
  fixture->store = cdl_fs_store_new (fixture->root, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (fixture->root, G_FILE_TEST_IS_DIR));
}

static void
store_teardown (StoreFixture  *fixture,
                gconstpointer  data)
{
  g_autofree char *base = g_path_get_dirname (fixture->root);

  g_clear_object (&fixture->store);
  rm_rf (base);
  g_free (fixture->root);
}

static void
test_store_round_trip (StoreFixture  *fixture,
                       gconstpointer  data)
{
  CdlObjectStore *store = CDL_OBJECT_STORE (fixture->store);
  const char *key = "tasks/t1/2026/12/03/75/p1-42-0.png";
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = pattern_bytes (300 * 1024 + 7, 1);
  g_autoptr(GBytes) other = pattern_bytes (1000, 2);
  g_autoptr(GBytes) back = NULL;
  g_autoptr(GBytes) on_disk = NULL;
  g_autoptr(CdlObjectInfo) info = NULL;
  g_autoptr(CdlObjectInfo) got_info = NULL;
  g_autoptr(CdlObjectInfo) stat_info = NULL;
  g_autoptr(CdlObjectInfo) replaced = NULL;
  g_autofree char *expected = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  gsize contents_len = 0;

  g_assert_false (cdl_object_store_exists (store, key, NULL, &error));
  g_assert_no_error (error);

  info = cdl_object_store_put_bytes (store, key, bytes, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->key, ==, key);
  g_assert_cmpint (info->size, ==, g_bytes_get_size (bytes));
  g_assert_cmpstr (info->sha256, ==, expected);
  g_assert_cmpint (info->mtime, >, 0);

  /* The object is the file at {root}/{key}, byte for byte. */
  path = cdl_fs_store_get_path (fixture->store, key, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (path, fixture->root));
  g_assert_true (g_file_get_contents (path, &contents, &contents_len, NULL));
  on_disk = g_bytes_new_take (g_steal_pointer (&contents), contents_len);
  g_assert_true (g_bytes_equal (on_disk, bytes));
  g_assert_cmpuint (count_dot_files (fixture->root), ==, 0);

  back = cdl_object_store_get_bytes (store, key, &got_info, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, bytes));
  g_assert_cmpint (got_info->size, ==, info->size);
  g_assert_cmpint (got_info->mtime, ==, info->mtime);

  stat_info = cdl_object_store_query_info (store, key, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stat_info->size, ==, info->size);
  g_assert_null (stat_info->sha256);

  g_assert_true (cdl_object_store_exists (store, key, NULL, &error));
  g_assert_no_error (error);

  /* A "directory" of keys is not an object. */
  g_assert_false (cdl_object_store_exists (store, "tasks/t1", NULL, &error));
  g_assert_no_error (error);

  /* Verify in any case; a wrong checksum is a mismatch. */
  {
    g_autofree char *upper = g_ascii_strup (expected, -1);
    g_autofree char *actual = NULL;
    g_autofree char *wrong = g_strdup (expected);

    g_assert_true (cdl_object_store_verify (store, key, upper, &actual, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (actual, ==, expected);

    wrong[0] = wrong[0] == '0' ? '1' : '0';
    g_assert_false (cdl_object_store_verify (store, key, wrong, NULL, NULL, &error));
    g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_CHECKSUM_MISMATCH);
    g_clear_error (&error);

    g_assert_false (cdl_object_store_verify (store, key, "abc", NULL, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
  }

  /* One flipped bit on disk is caught, and the actual checksum told. */
  {
    g_autofree char *actual = NULL;
    FILE *f = fopen (path, "r+b");
    int c;

    g_assert_nonnull (f);
    fseek (f, 1234, SEEK_SET);
    c = fgetc (f);
    fseek (f, 1234, SEEK_SET);
    fputc (c ^ 1, f);
    fclose (f);

    g_assert_false (cdl_object_store_verify (store, key, expected, &actual, NULL, &error));
    g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_CHECKSUM_MISMATCH);
    g_clear_error (&error);
    g_assert_nonnull (actual);
    g_assert_cmpstr (actual, !=, expected);
  }

  /* A put replaces the object. */
  replaced = cdl_object_store_put_bytes (store, key, other, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (replaced->size, ==, 1000);
  g_clear_pointer (&back, g_bytes_unref);
  back = cdl_object_store_get_bytes (store, key, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, other));

  /* An empty object is an object. */
  {
    g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
    g_autoptr(CdlObjectInfo) e = cdl_object_store_put_bytes (store, "empty", empty,
                                                             NULL, &error);
    g_autoptr(GBytes) e_back = NULL;

    g_assert_no_error (error);
    g_assert_cmpint (e->size, ==, 0);
    g_assert_cmpstr (e->sha256, ==,
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    e_back = cdl_object_store_get_bytes (store, "empty", NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_bytes_get_size (e_back), ==, 0);
  }

  g_assert_true (cdl_object_store_delete (store, key, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_false (cdl_object_store_exists (store, key, NULL, &error));
  g_assert_no_error (error);

  g_assert_false (cdl_object_store_delete (store, key, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_clear_pointer (&back, g_bytes_unref);
  back = cdl_object_store_get_bytes (store, key, NULL, NULL, &error);
  g_assert_null (back);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_false (cdl_object_store_verify (store, key, expected, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
test_store_rejects_bad_keys (StoreFixture  *fixture,
                             gconstpointer  data)
{
  CdlObjectStore *store = CDL_OBJECT_STORE (fixture->store);
  g_autoptr(GBytes) bytes = pattern_bytes (10, 3);
  g_autofree char *base = g_path_get_dirname (fixture->root);
  g_autofree char *escaped = g_build_filename (base, "escape", NULL);
  static const char *keys[] = { "../escape", "/tmp/escape", "a//b", "a\\..\\..\\b", "" };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CdlObjectInfo) info = NULL;
      g_autoptr(GBytes) back = NULL;
      g_autoptr(GInputStream) stream = NULL;

      info = cdl_object_store_put_bytes (store, keys[i], bytes, NULL, &error);
      g_assert_null (info);
      g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY);
      g_clear_error (&error);

      back = cdl_object_store_get_bytes (store, keys[i], NULL, NULL, &error);
      g_assert_null (back);
      g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY);
      g_clear_error (&error);

      stream = cdl_object_store_open_range (store, keys[i], 0, 1, NULL, NULL, &error);
      g_assert_null (stream);
      g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY);
      g_clear_error (&error);

      g_assert_false (cdl_object_store_exists (store, keys[i], NULL, &error));
      g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY);
      g_clear_error (&error);

      g_assert_false (cdl_object_store_delete (store, keys[i], NULL, &error));
      g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY);
    }

  g_assert_false (g_file_test (escaped, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test ("/tmp/escape", G_FILE_TEST_EXISTS));
}

static GBytes *
read_stream (GInputStream *stream)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  guchar buf[333];
  gssize n;

  while ((n = g_input_stream_read (stream, buf, sizeof buf, NULL, &error)) > 0)
    g_byte_array_append (out, buf, n);

  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);

  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static void
test_store_range (StoreFixture  *fixture,
                  gconstpointer  data)
{
  CdlObjectStore *store = CDL_OBJECT_STORE (fixture->store);
  g_autoptr(GBytes) bytes = pattern_bytes (10000, 4);
  g_autoptr(CdlObjectInfo) put = NULL;
  g_autoptr(GError) error = NULL;
  const guchar *all = g_bytes_get_data (bytes, NULL);
  static const struct {
    goffset offset;
    goffset length;
    gsize   expect_len;
  } ranges[] = {
    { 0, -1, 10000 },
    { 0, 1, 1 },
    { 100, 50, 50 },
    { 9990, 100, 10 },
    { 9999, -1, 1 },
    { 10000, 10, 0 },
    { 10000, -1, 0 },
    { 5000, 0, 0 },
  };

  put = cdl_object_store_put_bytes (store, "r/obj", bytes, NULL, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (ranges); i++)
    {
      g_autoptr(CdlObjectInfo) info = NULL;
      g_autoptr(GInputStream) stream = NULL;
      g_autoptr(GBytes) got = NULL;

      stream = cdl_object_store_open_range (store, "r/obj", ranges[i].offset,
                                            ranges[i].length, &info, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (info->size, ==, 10000);

      got = read_stream (stream);
      g_assert_cmpuint (g_bytes_get_size (got), ==, ranges[i].expect_len);
      if (ranges[i].expect_len > 0)
        g_assert_cmpmem (g_bytes_get_data (got, NULL), ranges[i].expect_len,
                         all + ranges[i].offset, ranges[i].expect_len);
      g_assert_true (g_input_stream_close (stream, NULL, NULL));
    }

  /* Skipping stays inside the range too. */
  {
    g_autoptr(GInputStream) stream = NULL;
    g_autoptr(GBytes) got = NULL;

    stream = cdl_object_store_open_range (store, "r/obj", 200, 100, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_input_stream_skip (stream, 60, NULL, &error), ==, 60);
    g_assert_cmpint (g_input_stream_skip (stream, 1000, NULL, &error), ==, 40);
    got = read_stream (stream);
    g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  }

  {
    g_autoptr(GInputStream) stream = NULL;

    stream = cdl_object_store_open_range (store, "r/obj", 10001, 1, NULL, NULL, &error);
    g_assert_null (stream);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);

    stream = cdl_object_store_open_range (store, "r/obj", -1, 1, NULL, NULL, &error);
    g_assert_null (stream);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);

    stream = cdl_object_store_open_range (store, "r/missing", 0, 1, NULL, NULL, &error);
    g_assert_null (stream);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);    g_clear_error (&error);
  }

  /* A reader keeps the version it opened while a put replaces it. */
  {
    g_autoptr(GInputStream) stream = NULL;
    g_autoptr(GBytes) other = pattern_bytes (500, 5);
    g_autoptr(CdlObjectInfo) info = NULL;
    g_autoptr(CdlObjectInfo) info2 = NULL;
    g_autoptr(GBytes) got = NULL;

    stream = cdl_object_store_open_range (store, "r/obj", 0, -1, &info, NULL, &error);
    g_assert_no_error (error);
    info2 = cdl_object_store_put_bytes (store, "r/obj", other, NULL, &error);
    g_assert_no_error (error);
    got = read_stream (stream);
    g_assert_true (g_bytes_equal (got, bytes));
  }
}

/* Many threads put the same key, each with its own content, while a
 * reader keeps reading it: every read and the final object must be one
 * complete version, never a mix or a prefix. */

#define RACE_WRITERS 12
#define RACE_ROUNDS 8

typedef struct
{
  CdlObjectStore *store;
  GBytes         *versions[RACE_WRITERS];
  char           *sha256[RACE_WRITERS];
  gint            writers_left;
  gint            torn_reads;
  gint            good_reads;
} Race;

static int
version_of (Race   *race,
            GBytes *bytes)
{
  for (int i = 0; i < RACE_WRITERS; i++)
    {
      if (g_bytes_equal (bytes, race->versions[i]))
        return i;
    }

  return -1;
}

static gpointer
race_writer (gpointer data)
{
  Race *race = ((gpointer *)data)[0];
  int id = GPOINTER_TO_INT (((gpointer *)data)[1]);

  for (int round = 0; round < RACE_ROUNDS; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CdlObjectInfo) info = NULL;

      info = cdl_object_store_put_bytes (race->store, "race/same-key.png",
                                         race->versions[id], NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (info->sha256, ==, race->sha256[id]);
    }

  g_atomic_int_add (&race->writers_left, -1);
  g_free (data);

  return NULL;
}

static gpointer
race_reader (gpointer data)
{
  Race *race = data;

  while (g_atomic_int_get (&race->writers_left) > 0)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) got = NULL;

      got = cdl_object_store_get_bytes (race->store, "race/same-key.png", NULL, NULL, &error);
      if (got == NULL)
        {
          /* Only before the first put lands. */
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
          continue;
        }

      if (version_of (race, got) < 0)
        g_atomic_int_inc (&race->torn_reads);
      else
        g_atomic_int_inc (&race->good_reads);
    }

  return NULL;
}

static void
test_store_concurrent_puts (StoreFixture  *fixture,
                            gconstpointer  data)
{
  Race race = { 0 };
  GThread *writers[RACE_WRITERS];
  GThread *reader;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) final = NULL;
  g_autoptr(CdlObjectInfo) info = NULL;
  int final_version;

  race.store = CDL_OBJECT_STORE (fixture->store);
  race.writers_left = RACE_WRITERS;

  /* Sizes from 64 KiB to ~1 MiB, so writes take several chunks. */
  for (int i = 0; i < RACE_WRITERS; i++)
    {
      race.versions[i] = pattern_bytes (64 * 1024 + i * 80 * 1024 + i, 100 + i);
      race.sha256[i] = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, race.versions[i]);
    }

  reader = g_thread_new ("race-reader", race_reader, &race);
  for (int i = 0; i < RACE_WRITERS; i++)
    {
      gpointer *args = g_new (gpointer, 2);

      args[0] = &race;
      args[1] = GINT_TO_POINTER (i);
      writers[i] = g_thread_new ("race-writer", race_writer, args);
    }

  for (int i = 0; i < RACE_WRITERS; i++)
    g_thread_join (writers[i]);
  g_thread_join (reader);

  g_test_message ("%d complete reads while writing", race.good_reads);
  g_assert_cmpint (race.torn_reads, ==, 0);

  final = cdl_object_store_get_bytes (race.store, "race/same-key.png", &info, NULL, &error);
  g_assert_no_error (error);
  final_version = version_of (&race, final);
  g_assert_cmpint (final_version, >=, 0);
  g_assert_cmpint (info->size, ==, g_bytes_get_size (race.versions[final_version]));
  g_assert_true (cdl_object_store_verify (race.store, "race/same-key.png",
                                          race.sha256[final_version], NULL, NULL, &error));
  g_assert_no_error (error);

  /* No temporary file is left behind. */
  g_assert_cmpuint (count_dot_files (fixture->root), ==, 0);

  for (int i = 0; i < RACE_WRITERS; i++)
    {
      g_bytes_unref (race.versions[i]);
      g_free (race.sha256[i]);
    }
}

/* The same race between processes, as between instances sharing a NAS
 * mount: the test binary runs itself as the writers. */

#define PROCESS_WRITERS 4
#define PROCESS_ROUNDS 10
#define WRITER_ENV "CDL_TEST_STORAGE_WRITER"

static GBytes *
process_version (int id)
{
  return pattern_bytes (200 * 1024 + id * 150 * 1024 + id, 500 + id);
}

/* In a child: "{root}|{id}" in WRITER_ENV. */
static int
run_writer_process (const char *spec)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) parts = g_strsplit (spec, "|", 2);
  g_autoptr(CdlFsStore) store = NULL;
  g_autoptr(GBytes) bytes = NULL;

  if (g_strv_length (parts) != 2)
    return 2;

  store = cdl_fs_store_new (parts[0], &error);
  if (store == NULL)
    return 3;

  bytes = process_version (atoi (parts[1]));

  for (int round = 0; round < PROCESS_ROUNDS; round++)
    {
      g_autoptr(CdlObjectInfo) info = NULL;

      info = cdl_object_store_put_bytes (CDL_OBJECT_STORE (store), "race/processes.png",
                                         bytes, NULL, &error);
      if (info == NULL)
        {
          g_printerr ("%s\n", error->message);
          return 4;
        }
    }

  return 0;
}

static void
test_store_concurrent_processes (StoreFixture  *fixture,
                                 gconstpointer  data)
{
  CdlObjectStore *store = CDL_OBJECT_STORE (fixture->store);
  g_autoptr(GError) error = NULL;
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", &error);
  GSubprocess *writers[PROCESS_WRITERS];
  GBytes *versions[PROCESS_WRITERS];
  g_autoptr(GBytes) final = NULL;
  gboolean running = TRUE;
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  guint torn = 0, complete = 0;
  int final_version = -1;

  g_assert_no_error (error);

  for (int i = 0; i < PROCESS_WRITERS; i++)
    {
      g_autoptr(GSubprocessLauncher) launcher = NULL;
      g_autofree char *spec = g_strdup_printf ("%s|%d", fixture->root, i);

      versions[i] = process_version (i);
      launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
      g_subprocess_launcher_setenv (launcher, WRITER_ENV, spec, TRUE);
      writers[i] = g_subprocess_launcher_spawn (launcher, &error, self_exe, NULL);
      g_assert_no_error (error);
    }

  /* Read while they write: only whole versions may ever show. */
  while (running)
    {
      g_autoptr(GBytes) got = NULL;

      /* A writer's identifier goes once GLib has reaped it. */
      running = FALSE;
      for (int i = 0; i < PROCESS_WRITERS && !running; i++)
        running = g_subprocess_get_identifier (writers[i]) != NULL;

      g_assert_cmpint (g_get_monotonic_time (), <, deadline);

      got = cdl_object_store_get_bytes (store, "race/processes.png", NULL, NULL, NULL);
      if (got == NULL)
        continue;

      for (int i = 0; i < PROCESS_WRITERS; i++)
        {
          if (g_bytes_equal (got, versions[i]))
            {
              complete++;
              g_clear_pointer (&got, g_bytes_unref);
              break;
            }
        }

      if (got != NULL)
        torn++;
    }

  g_test_message ("%u complete reads while writing", complete);
  g_assert_cmpuint (torn, ==, 0);

  for (int i = 0; i < PROCESS_WRITERS; i++)
    {
      g_subprocess_wait_check (writers[i], NULL, &error);
      g_assert_no_error (error);
      g_object_unref (writers[i]);
    }

  final = cdl_object_store_get_bytes (store, "race/processes.png", NULL, NULL, &error);
  g_assert_no_error (error);
  for (int i = 0; i < PROCESS_WRITERS; i++)
    {
      if (g_bytes_equal (final, versions[i]))
        final_version = i;
    }
  g_assert_cmpint (final_version, >=, 0);
  g_assert_cmpuint (count_dot_files (fixture->root), ==, 0);

  for (int i = 0; i < PROCESS_WRITERS; i++)
    g_bytes_unref (versions[i]);
}

/* A stream that fails after some bytes, as a dropped download would. */
static void
test_store_failed_put_leaves_nothing (StoreFixture  *fixture,
                                      gconstpointer  data)
{
  CdlObjectStore *store = CDL_OBJECT_STORE (fixture->store);
  g_autoptr(GBytes) old = pattern_bytes (4000, 6);
  g_autoptr(GBytes) big = pattern_bytes (1024 * 1024, 7);
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(CdlObjectInfo) info = NULL;
  g_autoptr(CdlObjectInfo) failed = NULL;
  g_autoptr(GBytes) back = NULL;
  g_autoptr(GError) error = NULL;

  info = cdl_object_store_put_bytes (store, "f/obj", old, NULL, &error);
  g_assert_no_error (error);

  g_cancellable_cancel (cancellable);
  stream = g_memory_input_stream_new_from_bytes (big);
  failed = cdl_object_store_put_stream (store, "f/obj", stream, cancellable, &error);
  g_assert_null (failed);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* The old object is intact and no temporary file remains. */
  back = cdl_object_store_get_bytes (store, "f/obj", NULL, NULL, NULL);
  g_assert_true (g_bytes_equal (back, old));
  g_assert_cmpuint (count_dot_files (fixture->root), ==, 0);
}

/* A temporary file as a put killed @age_s seconds ago leaves it. */
static char *
make_temporary (const char *root,
                const char *name,
                gint64      age_s)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (root, ".tmp", name, NULL);
  struct timespec times[2] = { { 0, 0 }, { 0, 0 } };

  g_file_set_contents (path, "partial", -1, &error);
  g_assert_no_error (error);
  times[0].tv_sec = times[1].tv_sec = g_get_real_time () / G_USEC_PER_SEC - age_s;
  g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);

  return path;
}

static void
test_store_sweep (StoreFixture  *fixture,
                  gconstpointer  data)
{
  CdlObjectStore *store = CDL_OBJECT_STORE (fixture->store);
  g_autoptr(GBytes) bytes = pattern_bytes (3000, 7);
  g_autoptr(GBytes) back = NULL;
  g_autoptr(CdlObjectInfo) info = NULL;
  g_autoptr(CdlFsStore) reopened = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *stale = NULL;
  g_autofree char *fresh = NULL;
  g_autofree char *stale2 = NULL;
  gint64 deadline;

  /* The temporaries live in one directory: nothing else to walk. */
  info = cdl_object_store_put_bytes (store, "s/obj.png", bytes, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count_dot_files (fixture->root), ==, 0);

  stale = make_temporary (fixture->root, "obj.png.ABC123", CDL_FS_STORE_TMP_MAX_AGE_S + 60);
  fresh = make_temporary (fixture->root, "obj.png.DEF456", 5);
  g_assert_cmpuint (count_dot_files (fixture->root), ==, 2);

  /* At most one: the sweep of the store's opening may have run last. */
  g_assert_cmpuint (cdl_fs_store_sweep (fixture->store, CDL_FS_STORE_TMP_MAX_AGE_S, &error),
                    <=, 1);
  g_assert_no_error (error);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  /* A put of another instance may still be writing this one. */
  g_assert_true (g_file_test (fresh, G_FILE_TEST_EXISTS));

  /* Objects are untouched and puts still replace them whole. */
  back = cdl_object_store_get_bytes (store, "s/obj.png", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, bytes));
  g_clear_pointer (&info, cdl_object_info_free);
  info = cdl_object_store_put_bytes (store, "s/obj.png", bytes, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->size, ==, 3000);
  g_assert_cmpuint (count_dot_files (fixture->root), ==, 1);

  /* Opening the store sweeps in the background. */
  stale2 = make_temporary (fixture->root, "x.GHI789", 2 * CDL_FS_STORE_TMP_MAX_AGE_S);
  reopened = cdl_fs_store_new (fixture->root, &error);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_file_test (stale2, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
  g_assert_false (g_file_test (stale2, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fresh, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_dot_files (fixture->root), ==, 1);
}

typedef struct
{
  GMainLoop    *loop;
  GAsyncResult *result;
} Waiter;

static void
waiter_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Waiter *w = user_data;

  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  w->result = g_object_ref (result);
  g_main_loop_quit (w->loop);
}

static GAsyncResult *
wait_for (Waiter *w)
{
  g_main_loop_run (w->loop);
  g_assert_nonnull (w->result);

  return g_steal_pointer (&w->result);
}

static void
test_store_async (StoreFixture  *fixture,
                  gconstpointer  data)
{
  CdlObjectStore *store = CDL_OBJECT_STORE (fixture->store);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Waiter w = { loop, NULL };
  g_autoptr(GBytes) bytes = pattern_bytes (70000, 8);
  g_autofree char *expected = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(GAsyncResult) r = NULL;
    g_autoptr(CdlObjectInfo) info = NULL;

    cdl_object_store_put_bytes_async (store, "a/b.png", bytes, NULL, waiter_cb, &w);
    r = wait_for (&w);
    info = cdl_object_store_put_finish (store, r, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (info->sha256, ==, expected);
  }

  {
    g_autoptr(GAsyncResult) r = NULL;
    g_autoptr(CdlObjectInfo) info = NULL;
    g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes (bytes);

    cdl_object_store_put_stream_async (store, "a/c.png", stream, NULL, waiter_cb, &w);
    r = wait_for (&w);
    info = cdl_object_store_put_finish (store, r, &error);
    g_assert_no_error (error);
    g_assert_cmpint (info->size, ==, 70000);
    g_assert_cmpstr (info->sha256, ==, expected);
  }

  {
    g_autoptr(GAsyncResult) r = NULL;
    g_autoptr(CdlObjectInfo) info = NULL;
    g_autoptr(GBytes) got = NULL;

    cdl_object_store_get_bytes_async (store, "a/b.png", NULL, waiter_cb, &w);
    r = wait_for (&w);
    got = cdl_object_store_get_bytes_finish (store, r, &info, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (got, bytes));
    g_assert_cmpint (info->size, ==, 70000);
  }

  {
    g_autoptr(GAsyncResult) r = NULL;
    g_autoptr(CdlObjectInfo) info = NULL;
    g_autoptr(GInputStream) stream = NULL;
    g_autoptr(GBytes) got = NULL;

    cdl_object_store_open_range_async (store, "a/b.png", 69990, 100, NULL, waiter_cb, &w);
    r = wait_for (&w);
    stream = cdl_object_store_open_range_finish (store, r, &info, &error);
    g_assert_no_error (error);
    got = read_stream (stream);
    g_assert_cmpuint (g_bytes_get_size (got), ==, 10);
    g_assert_cmpmem (g_bytes_get_data (got, NULL), 10,
                     (const guchar *)g_bytes_get_data (bytes, NULL) + 69990, 10);
  }

  {
    g_autoptr(GAsyncResult) r = NULL;
    g_autofree char *actual = NULL;

    cdl_object_store_verify_async (store, "a/b.png", expected, NULL, waiter_cb, &w);
    r = wait_for (&w);
    g_assert_true (cdl_object_store_verify_finish (store, r, &actual, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (actual, ==, expected);
  }

  {
    g_autoptr(GAsyncResult) r1 = NULL;
    g_autoptr(GAsyncResult) r2 = NULL;
    g_autoptr(GAsyncResult) r3 = NULL;
    g_autoptr(GAsyncResult) r4 = NULL;

    cdl_object_store_exists_async (store, "a/b.png", NULL, waiter_cb, &w);
    r1 = wait_for (&w);
    g_assert_true (cdl_object_store_exists_finish (store, r1, &error));
    g_assert_no_error (error);

    cdl_object_store_delete_async (store, "a/b.png", NULL, waiter_cb, &w);
    r2 = wait_for (&w);
    g_assert_true (cdl_object_store_delete_finish (store, r2, &error));
    g_assert_no_error (error);

    cdl_object_store_exists_async (store, "a/b.png", NULL, waiter_cb, &w);
    r3 = wait_for (&w);
    g_assert_false (cdl_object_store_exists_finish (store, r3, &error));
    g_assert_no_error (error);

    cdl_object_store_get_bytes_async (store, "../x", NULL, waiter_cb, &w);
    r4 = wait_for (&w);
    g_assert_null (cdl_object_store_get_bytes_finish (store, r4, NULL, &error));
    g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_INVALID_KEY);
  }
}

/* Thumbnails */

static void
test_fit_size (void)
{
  static const guint vectors[][5] = {
    /* w, h, max, expected w, expected h */
    { 1024, 1024, 256, 256, 256 },
    { 4000, 300, 256, 256, 19 },
    { 300, 4000, 256, 19, 256 },
    { 100, 100, 256, 100, 100 },
    { 256, 256, 256, 256, 256 },
    { 257, 256, 256, 256, 255 },
    { 1024, 768, 256, 256, 192 },
    { 1000, 1, 256, 256, 1 },
    { 1, 1000, 256, 1, 256 },
    { 1, 1, 256, 1, 1 },
    { 1280, 720, 256, 256, 144 },
    { 65535, 65535, 256, 256, 256 },
    { 3, 2, 2, 2, 1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      guint w = 0, h = 0;

      cdl_thumbnailer_fit_size (vectors[i][0], vectors[i][1], vectors[i][2], &w, &h);
      g_test_message ("%u×%u → %u×%u", vectors[i][0], vectors[i][1], w, h);
      g_assert_cmpuint (w, ==, vectors[i][3]);
      g_assert_cmpuint (h, ==, vectors[i][4]);
    }
}

static void
assert_red_center (CdlDecodedImage *image)
{
  const guchar *px = g_bytes_get_data (image->pixels, NULL);
  gsize offset = (image->height / 2) * image->stride + (image->width / 2) * 4;

  /* JPEG moves colours a little, never far. */
  g_assert_cmpuint (px[offset + 0], >, 200);
  g_assert_cmpuint (px[offset + 1], <, 60);
  g_assert_cmpuint (px[offset + 2], <, 60);
  g_assert_cmpuint (px[offset + 3], ==, 255);
}

static void
check_thumbnail (CdlThumbnailer *thumbnailer,
                 CdlThumbnail   *thumb,
                 guint           src_w,
                 guint           src_h,
                 guint           want_w,
                 guint           want_h)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlDecodedImage) decoded = NULL;
  const guchar *data = g_bytes_get_data (thumb->data, NULL);

  g_assert_cmpuint (thumb->source_width, ==, src_w);
  g_assert_cmpuint (thumb->source_height, ==, src_h);
  g_assert_cmpuint (thumb->width, ==, want_w);
  g_assert_cmpuint (thumb->height, ==, want_h);

  /* It is a JPEG of that size, as a decoder sees it. */
  g_assert_cmpuint (g_bytes_get_size (thumb->data), >, 100);
  g_assert_cmpuint (data[0], ==, 0xff);
  g_assert_cmpuint (data[1], ==, 0xd8);

  decoded = cdl_thumbnailer_decode (thumbnailer, thumb->data, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (decoded->width, ==, want_w);
  g_assert_cmpuint (decoded->height, ==, want_h);
  assert_red_center (decoded);
}

static const guint thumb_cases[][4] = {
  /* source w, h; thumbnail w, h */
  { 1024, 1024, 256, 256 },
  { 4000, 300, 256, 19 },
  { 300, 4000, 19, 256 },
  { 100, 100, 100, 100 },
  { 1024, 768, 256, 192 },
  { 257, 3, 256, 3 },
  { 1, 1, 1, 1 },
};

static void
test_thumbnail_png_sizes (void)
{
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (0);

  g_assert_cmpuint (cdl_thumbnailer_get_size (thumbnailer), ==, 256);
  g_assert_cmpuint (cdl_thumbnailer_get_max_threads (thumbnailer), ==, 2);

  for (guint i = 0; i < G_N_ELEMENTS (thumb_cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) png = make_png ("red", thumb_cases[i][0], thumb_cases[i][1]);
      g_autoptr(CdlThumbnail) thumb = NULL;

      g_test_message ("%u×%u", thumb_cases[i][0], thumb_cases[i][1]);
      thumb = cdl_thumbnailer_make_thumbnail (thumbnailer, png, NULL, &error);
      g_assert_no_error (error);
      check_thumbnail (thumbnailer, thumb, thumb_cases[i][0], thumb_cases[i][1],
                       thumb_cases[i][2], thumb_cases[i][3]);
    }
}

static void
test_thumbnail_jpeg_input (void)
{
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (1);
  g_autoptr(GBytes) jpeg = make_jpeg ("red", 640, 481);
  g_autoptr(CdlThumbnail) thumb = NULL;
  g_autoptr(GError) error = NULL;

  thumb = cdl_thumbnailer_make_thumbnail (thumbnailer, jpeg, NULL, &error);
  g_assert_no_error (error);
  check_thumbnail (thumbnailer, thumb, 640, 481, 256, 192);

  /* A smaller size and another quality are honoured. */
  cdl_thumbnailer_set_size (thumbnailer, 64);
  cdl_thumbnailer_set_quality (thumbnailer, 50);
  g_clear_pointer (&thumb, cdl_thumbnail_free);
  thumb = cdl_thumbnailer_make_thumbnail (thumbnailer, jpeg, NULL, &error);
  g_assert_no_error (error);
  check_thumbnail (thumbnailer, thumb, 640, 481, 64, 48);
}

static void
test_decode_rgba (void)
{
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (1);
  g_autoptr(GBytes) png = make_png ("red", 37, 21);
  g_autoptr(CdlDecodedImage) image = NULL;
  g_autoptr(GError) error = NULL;
  const guchar *px;

  image = cdl_thumbnailer_decode (thumbnailer, png, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (image->width, ==, 37);
  g_assert_cmpuint (image->height, ==, 21);
  g_assert_cmpuint (image->stride, ==, 37 * 4);
  g_assert_cmpuint (g_bytes_get_size (image->pixels), ==, 37 * 4 * 21);

  /* PNG is lossless: every pixel is exactly opaque red. */
  px = g_bytes_get_data (image->pixels, NULL);
  for (gsize i = 0; i < 37 * 21; i++)
    {
      g_assert_cmpuint (px[i * 4 + 0], ==, 255);
      g_assert_cmpuint (px[i * 4 + 1], ==, 0);
      g_assert_cmpuint (px[i * 4 + 2], ==, 0);
      g_assert_cmpuint (px[i * 4 + 3], ==, 255);
    }
}

static void
assert_fails_quickly (CdlThumbnailer *thumbnailer,
                      GBytes         *input,
                      int             code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) decode_error = NULL;
  g_autoptr(CdlThumbnail) thumb = NULL;
  g_autoptr(CdlDecodedImage) image = NULL;
  gint64 start = g_get_monotonic_time ();

  thumb = cdl_thumbnailer_make_thumbnail (thumbnailer, input, NULL, &error);
  image = cdl_thumbnailer_decode (thumbnailer, input, NULL, &decode_error);

  g_assert_null (thumb);
  g_assert_null (image);
  g_assert_error (error, CDL_STORAGE_ERROR, code);
  g_assert_error (decode_error, CDL_STORAGE_ERROR, code);
  g_test_message ("%s", error->message);
  /* Well inside the 10 s pipeline time-out: failures are noticed, not
   * waited out. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

static void
test_thumbnail_bad_input (void)
{
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (1);
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GBytes) noise = pattern_bytes (5000, 9);
  g_autoptr(GBytes) png = make_png ("snow", 200, 150);
  g_autoptr(GBytes) jpeg = make_jpeg ("snow", 200, 150);
  gsize png_len = g_bytes_get_size (png);
  g_autofree guchar *fake_png = NULL;
  g_autoptr(GBytes) fake = NULL;

  assert_fails_quickly (thumbnailer, empty, CDL_STORAGE_ERROR_UNSUPPORTED_FORMAT);
  assert_fails_quickly (thumbnailer, noise, CDL_STORAGE_ERROR_UNSUPPORTED_FORMAT);

  /* A PNG signature followed by noise. */
  fake_png = g_malloc (5000);
  memcpy (fake_png, g_bytes_get_data (noise, NULL), 5000);
  memcpy (fake_png, "\x89PNG\r\n\x1a\n", 8);
  fake = g_bytes_new_take (g_steal_pointer (&fake_png), 5000);
  assert_fails_quickly (thumbnailer, fake, CDL_STORAGE_ERROR_DECODE_FAILED);

  /* A valid PNG header followed by noise. */
  {
    g_autofree guchar *mixed = g_malloc (5000);
    g_autoptr(GBytes) mixed_bytes = NULL;

    memcpy (mixed, g_bytes_get_data (noise, NULL), 5000);
    memcpy (mixed, g_bytes_get_data (png, NULL), 33);
    mixed_bytes = g_bytes_new_take (g_steal_pointer (&mixed), 5000);
    assert_fails_quickly (thumbnailer, mixed_bytes, CDL_STORAGE_ERROR_DECODE_FAILED);
  }

  /* A complete PNG whose image data is damaged (its chunk checksum no
   * longer matches). */
  {
    g_autofree guchar *damaged = g_memdup2 (g_bytes_get_data (png, NULL), png_len);
    g_autoptr(GBytes) damaged_bytes = NULL;

    for (gsize i = png_len / 2; i < png_len / 2 + 64; i++)
      damaged[i] ^= 0x5a;
    damaged_bytes = g_bytes_new_take (g_steal_pointer (&damaged), png_len);
    assert_fails_quickly (thumbnailer, damaged_bytes, CDL_STORAGE_ERROR_DECODE_FAILED);
  }

  /* A real PNG cut short: in its header, and in the middle of its data. */
  {
    const gsize cuts[] = { 8, 20, 33, 60, png_len / 3, png_len / 2, png_len * 9 / 10 };

    for (guint i = 0; i < G_N_ELEMENTS (cuts); i++)
      {
        g_autoptr(GBytes) cut = g_bytes_new_from_bytes (png, 0, cuts[i]);

        g_test_message ("PNG cut at %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT, cuts[i], png_len);
        assert_fails_quickly (thumbnailer, cut, CDL_STORAGE_ERROR_DECODE_FAILED);
      }
  }

  /* A complete JPEG with an impossible Huffman table gets past the
   * header check and fails inside the pipeline. */
  {
    gsize jpeg_len = g_bytes_get_size (jpeg);
    g_autofree guchar *bogus = g_memdup2 (g_bytes_get_data (jpeg, NULL), jpeg_len);
    g_autoptr(GBytes) bogus_bytes = NULL;
    gsize dht = 0;

    for (gsize i = 2; i + 1 < jpeg_len && dht == 0; i++)
      {
        if (bogus[i] == 0xff && bogus[i + 1] == 0xc4)
          dht = i;
      }
    g_assert_cmpuint (dht, >, 0);

    /* Code counts (after marker, length and class) far above 256. */
    memset (bogus + dht + 5, 0xff, 16);
    bogus_bytes = g_bytes_new_take (g_steal_pointer (&bogus), jpeg_len);
    assert_fails_quickly (thumbnailer, bogus_bytes, CDL_STORAGE_ERROR_DECODE_FAILED);
  }

  /* A JPEG cut before its frame header. */
  {
    g_autoptr(GBytes) cut = g_bytes_new_from_bytes (jpeg, 0, 4);

    assert_fails_quickly (thumbnailer, cut, CDL_STORAGE_ERROR_DECODE_FAILED);
  }
}

static void
test_thumbnail_truncated_jpeg_ends (void)
{
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (1);
  g_autoptr(GBytes) jpeg = make_jpeg ("snow", 320, 240);
  g_autoptr(GBytes) cut = g_bytes_new_from_bytes (jpeg, 0, g_bytes_get_size (jpeg) / 2);
  g_autoptr(CdlThumbnail) thumb = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  /* libjpeg may pad a cut scan with grey and call it a picture; either
   * way the call ends promptly, and a picture has the right size. */
  thumb = cdl_thumbnailer_make_thumbnail (thumbnailer, cut, NULL, &error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);

  if (thumb == NULL)
    {
      g_test_message ("%s", error->message);
      g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_DECODE_FAILED);
    }
  else
    {
      g_assert_cmpuint (thumb->width, ==, 256);
      g_assert_cmpuint (thumb->height, ==, 192);
    }
}

static void
test_thumbnail_too_large (void)
{
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (1);
  g_autoptr(GBytes) png = make_png ("red", 100, 100);
  g_autoptr(GBytes) bomb = NULL;
  guchar *data;
  guint32 crc;

  /* A header claiming 100000 × 100000 pixels is refused before any
   * decoder allocates a frame for it. */
  data = g_memdup2 (g_bytes_get_data (png, NULL), g_bytes_get_size (png));
  data[16] = 0x00; data[17] = 0x01; data[18] = 0x86; data[19] = 0xa0;
  data[20] = 0x00; data[21] = 0x01; data[22] = 0x86; data[23] = 0xa0;
  /* With its checksum fixed up, so that only the size is wrong. */
  crc = crc32 (0, data + 12, 17);
  data[29] = crc >> 24; data[30] = crc >> 16; data[31] = crc >> 8; data[32] = crc;
  bomb = g_bytes_new_take (data, g_bytes_get_size (png));
  assert_fails_quickly (thumbnailer, bomb, CDL_STORAGE_ERROR_IMAGE_TOO_LARGE);

  cdl_thumbnailer_set_max_pixels (thumbnailer, 9999);
  assert_fails_quickly (thumbnailer, png, CDL_STORAGE_ERROR_IMAGE_TOO_LARGE);
  cdl_thumbnailer_set_max_pixels (thumbnailer, 10000);
  {
    g_autoptr(CdlThumbnail) thumb = cdl_thumbnailer_make_thumbnail (thumbnailer, png,
                                                                    NULL, NULL);
    g_assert_nonnull (thumb);
  }
}

static void
test_thumbnail_timeout_and_cancel (void)
{
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (1);
  g_autoptr(GBytes) png = make_png ("snow", 1600, 1600);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlThumbnail) thumb = NULL;

  /* Decoding 2.5 megapixels of noise takes far longer than 1 ms. */
  cdl_thumbnailer_set_timeout_ms (thumbnailer, 1);
  thumb = cdl_thumbnailer_make_thumbnail (thumbnailer, png, NULL, &error);
  g_assert_null (thumb);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  cdl_thumbnailer_set_timeout_ms (thumbnailer, 10000);
  g_cancellable_cancel (cancellable);
  thumb = cdl_thumbnailer_make_thumbnail (thumbnailer, png, cancellable, &error);
  g_assert_null (thumb);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* Still usable afterwards. */
  thumb = cdl_thumbnailer_make_thumbnail (thumbnailer, png, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (thumb->width, ==, 256);
}

typedef struct
{
  GMainLoop      *loop;
  CdlThumbnailer *thumbnailer;
  guint           pending;
  guint           succeeded;
  guint           failed;
} Batch;

typedef struct
{
  Batch *batch;
  guint  want_w;
  guint  want_h;
  gboolean garbage;
} BatchItem;

static void
batch_item_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autofree BatchItem *item = user_data;
  Batch *batch = item->batch;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlThumbnail) thumb = NULL;

  g_assert_true (g_main_context_is_owner (g_main_context_default ()));

  thumb = cdl_thumbnailer_make_thumbnail_finish (CDL_THUMBNAILER (source), result, &error);

  if (item->garbage)
    {
      g_assert_null (thumb);
      g_assert_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_DECODE_FAILED);
      batch->failed++;
    }
  else
    {
      g_assert_no_error (error);
      g_assert_cmpuint (thumb->width, ==, item->want_w);
      g_assert_cmpuint (thumb->height, ==, item->want_h);
      batch->succeeded++;
    }

  if (--batch->pending == 0)
    g_main_loop_quit (batch->loop);
}

static void
test_thumbnail_concurrent (void)
{
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (2);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Batch batch = { loop, thumbnailer, 0, 0, 0 };
  GBytes *images[G_N_ELEMENTS (thumb_cases)];
  g_autoptr(GBytes) png = make_png ("snow", 300, 200);
  g_autoptr(GBytes) broken = g_bytes_new_from_bytes (png, 0, g_bytes_get_size (png) / 2);

  for (guint i = 0; i < G_N_ELEMENTS (thumb_cases); i++)
    images[i] = make_png ("red", thumb_cases[i][0], thumb_cases[i][1]);

  /* 20 good images of every shape, and 4 broken ones among them. */
  for (guint i = 0; i < 24; i++)
    {
      BatchItem *item = g_new0 (BatchItem, 1);
      guint c = i % G_N_ELEMENTS (thumb_cases);

      item->batch = &batch;
      item->garbage = i % 6 == 5;
      item->want_w = thumb_cases[c][2];
      item->want_h = thumb_cases[c][3];
      batch.pending++;
      cdl_thumbnailer_make_thumbnail_async (thumbnailer, item->garbage ? broken : images[c],
                                            NULL, batch_item_cb, item);
    }

  g_main_loop_run (loop);

  g_assert_cmpuint (batch.succeeded, ==, 20);
  g_assert_cmpuint (batch.failed, ==, 4);

  for (guint i = 0; i < G_N_ELEMENTS (thumb_cases); i++)
    g_bytes_unref (images[i]);
}

static void
decode_async_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  CdlDecodedImage **out = user_data;
  g_autoptr(GError) error = NULL;

  *out = cdl_thumbnailer_decode_finish (CDL_THUMBNAILER (source), result, &error);
  g_assert_no_error (error);
}

static void
test_decode_async (void)
{
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (1);
  g_autoptr(GBytes) png = make_png ("red", 64, 48);
  g_autoptr(CdlDecodedImage) image = NULL;

  cdl_thumbnailer_decode_async (thumbnailer, png, NULL, decode_async_cb, &image);

  /* The thumbnailer may go while the job runs; the job keeps it. */
  g_clear_object (&thumbnailer);

  while (image == NULL)
    g_main_context_iteration (NULL, TRUE);

  g_assert_cmpuint (image->width, ==, 64);
  g_assert_cmpuint (image->height, ==, 48);
  assert_red_center (image);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  if (g_getenv (WRITER_ENV) != NULL)
    return run_writer_process (g_getenv (WRITER_ENV));

  g_test_init (&argc, &argv, NULL);

  g_assert_true (cdl_thumbnailer_ensure_gstreamer (&error));
  g_assert_no_error (error);

  g_test_add_func ("/storage/key/validate", test_key_validate);
  g_test_add_func ("/storage/key/layout", test_key_layout);
  g_test_add_func ("/storage/key/bad-ids", test_key_rejects_bad_ids);

  g_test_add ("/storage/fs/round-trip", StoreFixture, NULL,
              store_setup, test_store_round_trip, store_teardown);
  g_test_add ("/storage/fs/bad-keys", StoreFixture, NULL,
              store_setup, test_store_rejects_bad_keys, store_teardown);
  g_test_add ("/storage/fs/range", StoreFixture, NULL,
              store_setup, test_store_range, store_teardown);
  g_test_add ("/storage/fs/concurrent-puts", StoreFixture, NULL,
              store_setup, test_store_concurrent_puts, store_teardown);
  g_test_add ("/storage/fs/concurrent-processes", StoreFixture, NULL,
              store_setup, test_store_concurrent_processes, store_teardown);
  g_test_add ("/storage/fs/failed-put-leaves-nothing", StoreFixture, NULL,
              store_setup, test_store_failed_put_leaves_nothing, store_teardown);
  g_test_add ("/storage/fs/sweep", StoreFixture, NULL,
              store_setup, test_store_sweep, store_teardown);
  g_test_add ("/storage/fs/async", StoreFixture, NULL,
              store_setup, test_store_async, store_teardown);

  g_test_add_func ("/storage/thumbnail/fit-size", test_fit_size);
  g_test_add_func ("/storage/thumbnail/png-sizes", test_thumbnail_png_sizes);
  g_test_add_func ("/storage/thumbnail/jpeg-input", test_thumbnail_jpeg_input);
  g_test_add_func ("/storage/thumbnail/decode-rgba", test_decode_rgba);
  g_test_add_func ("/storage/thumbnail/bad-input", test_thumbnail_bad_input);
  g_test_add_func ("/storage/thumbnail/truncated-jpeg-ends", test_thumbnail_truncated_jpeg_ends);
  g_test_add_func ("/storage/thumbnail/too-large", test_thumbnail_too_large);
  g_test_add_func ("/storage/thumbnail/timeout-and-cancel", test_thumbnail_timeout_and_cancel);
  g_test_add_func ("/storage/thumbnail/concurrent", test_thumbnail_concurrent);
  g_test_add_func ("/storage/thumbnail/decode-async", test_decode_async);

  ret = g_test_run ();

  gst_deinit ();

  return ret;
}
