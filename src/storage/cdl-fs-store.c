/* cdl-fs-store.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-storage"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/cdl-fs-store.h"
#include "storage/cdl-range-input-stream.h"
#include "storage/cdl-storage-error.h"
#include "storage/cdl-storage-key.h"

#define WRITE_CHUNK (64 * 1024)
#define TMP_DIR     ".tmp"

struct _CdlFsStore
{
  GObject  parent_instance;
  char    *root;
  char    *tmp_dir;
  GMutex   sweep_lock;
  gint64   last_sweep_us;  /* monotonic, under sweep_lock */
};

enum {
  PROP_0,
  PROP_ROOT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void cdl_fs_store_iface_init (CdlObjectStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CdlFsStore, cdl_fs_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CDL_TYPE_OBJECT_STORE,
                                                      cdl_fs_store_iface_init))

static gboolean
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *what,
                 const char  *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "Could not %s “%s”: %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

static gboolean
fsync_dir (const char  *dir,
           GError     **error)
{
  int fd;

  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return set_errno_error (error, errno, "open directory", dir);

  /* Some network file systems refuse fsync on a directory; the rename
   * is then as durable as the server makes it. */
  if (fsync (fd) != 0 && errno != EINVAL && errno != ENOTSUP)
    {
      int saved_errno = errno;

      close (fd);
      return set_errno_error (error, saved_errno, "sync directory", dir);
    }

  close (fd);
  return TRUE;
}

/* Creates the directories of @key below the root, each new one made
 * durable in its parent. Another process creating the same directory at
 * the same moment is fine. */
static gboolean
ensure_parent_dirs (CdlFsStore  *self,
                    const char  *key,
                    GError     **error)
{
  g_autoptr(GString) path = g_string_new (self->root);
  const char *seg = key;
  const char *slash;

  while ((slash = strchr (seg, '/')) != NULL)
    {
      g_autofree char *parent = g_strdup (path->str);

      g_string_append_c (path, G_DIR_SEPARATOR);
      g_string_append_len (path, seg, slash - seg);
      seg = slash + 1;

      if (mkdir (path->str, 0755) == 0)
        {
          if (!fsync_dir (parent, error))
            return FALSE;
          continue;
        }

      if (errno == EEXIST)
        {
          if (g_file_test (path->str, G_FILE_TEST_IS_DIR))
            continue;

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                       "Could not store “%s”: “%s” is not a directory",
                       key, path->str);
          return FALSE;
        }

      return set_errno_error (error, errno, "create directory", path->str);
    }

  return TRUE;
}

static gboolean
write_all (int            fd,
           const guchar  *data,
           gsize          len,
           const char    *path,
           GError       **error)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return set_errno_error (error, errno, "write", path);
        }

      data += n;
      len -= n;
    }

  return TRUE;
}

static gboolean
ensure_tmp_dir (CdlFsStore  *self,
                GError     **error)
{
  if (mkdir (self->tmp_dir, 0755) == 0)
    return fsync_dir (self->root, error);
  if (errno == EEXIST && g_file_test (self->tmp_dir, G_FILE_TEST_IS_DIR))
    return TRUE;
  if (errno == EEXIST)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                   "“%s” is not a directory", self->tmp_dir);
      return FALSE;
    }

  return set_errno_error (error, errno, "create directory", self->tmp_dir);
}

guint
cdl_fs_store_sweep (CdlFsStore  *self,
                    gint64       max_age_s,
                    GError     **error)
{
  g_autoptr(GDir) dir = NULL;
  gint64 now_s = g_get_real_time () / G_USEC_PER_SEC;
  const char *name;
  guint removed = 0;

  g_return_val_if_fail (CDL_IS_FS_STORE (self), 0);
  g_return_val_if_fail (max_age_s >= 0, 0);

  dir = g_dir_open (self->tmp_dir, 0, error);
  if (dir == NULL)
    return 0;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (self->tmp_dir, name, NULL);
      struct stat st;

      /* The age comes from the file server's clock, as the mtime does,
       * up to the skew between the clocks of the instances. */
      if (lstat (path, &st) != 0 || !S_ISREG (st.st_mode))
        continue;
      if (now_s - (gint64) st.st_mtim.tv_sec <= max_age_s)
        continue;
      if (g_unlink (path) == 0)
        removed++;
      else if (errno != ENOENT)
        g_warning ("Could not remove the stale temporary file “%s”: %s",
                   path, g_strerror (errno));
    }

  if (removed > 0)
    g_message ("Removed %u stale temporary files from %s", removed, self->tmp_dir);

  return removed;
}

static void
sweep_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;

  cdl_fs_store_sweep (source_object, CDL_FS_STORE_TMP_MAX_AGE_S, &error);
  if (error != NULL && !g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    g_warning ("Could not sweep the temporary files: %s", error->message);
  g_task_return_boolean (task, TRUE);
}

/* At most once per CDL_FS_STORE_TMP_MAX_AGE_S of this process, in a
 * thread of its own so neither start-up nor a put waits for it. */
static void
cdl_fs_store_maybe_sweep (CdlFsStore *self)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr(GTask) task = NULL;

  g_mutex_lock (&self->sweep_lock);
  if (self->last_sweep_us != 0 &&
      now - self->last_sweep_us < (gint64) CDL_FS_STORE_TMP_MAX_AGE_S * G_USEC_PER_SEC)
    {
      g_mutex_unlock (&self->sweep_lock);
      return;
    }
  self->last_sweep_us = now;
  g_mutex_unlock (&self->sweep_lock);

  task = g_task_new (self, NULL, NULL, NULL);
  g_task_set_source_tag (task, cdl_fs_store_maybe_sweep);
  g_task_run_in_thread (task, sweep_thread);
}

static CdlObjectInfo *
cdl_fs_store_put (CdlObjectStore  *store,
                  const char      *key,
                  GInputStream    *stream,
                  GCancellable    *cancellable,
                  GError         **error)
{
  CdlFsStore *self = CDL_FS_STORE (store);
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  g_autofree char *tmp_path = NULL;
  g_autofree guchar *buffer = NULL;
  g_autoptr(GChecksum) checksum = NULL;
  CdlObjectInfo *info;
  struct stat st;
  goffset size = 0;
  int fd;

  path = g_build_filename (self->root, key, NULL);
  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);

  if (!ensure_parent_dirs (self, key, error))
    return NULL;

  cdl_fs_store_maybe_sweep (self);

  tmp_path = g_strdup_printf ("%s" G_DIR_SEPARATOR_S "%s.XXXXXX", self->tmp_dir, base);
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0644);
  /* Someone removed the directory of temporaries: make it again. */
  if (fd < 0 && errno == ENOENT && ensure_tmp_dir (self, NULL))
    {
      g_free (tmp_path);
      tmp_path = g_strdup_printf ("%s" G_DIR_SEPARATOR_S "%s.XXXXXX", self->tmp_dir, base);
      fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0644);
    }
  if (fd < 0)
    {
      set_errno_error (error, errno, "create a temporary file for", path);
      return NULL;
    }

  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  buffer = g_malloc (WRITE_CHUNK);

  for (;;)
    {
      gssize n = g_input_stream_read (stream, buffer, WRITE_CHUNK,
                                      cancellable, error);

      if (n < 0)
        goto fail;
      if (n == 0)
        break;

      g_checksum_update (checksum, buffer, n);

      if (!write_all (fd, buffer, n, tmp_path, error))
        goto fail;

      size += n;
    }

  if (fsync (fd) != 0)
    {
      set_errno_error (error, errno, "sync", tmp_path);
      goto fail;
    }

  if (fstat (fd, &st) != 0)
    {
      set_errno_error (error, errno, "stat", tmp_path);
      goto fail;
    }

  /* NFS reports some write errors only on close. */
  if (close (fd) != 0)
    {
      fd = -1;
      set_errno_error (error, errno, "close", tmp_path);
      goto fail;
    }
  fd = -1;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    goto fail;

  if (g_rename (tmp_path, path) != 0)
    {
      set_errno_error (error, errno, "rename a temporary file to", path);
      goto fail;
    }

  if (!fsync_dir (dir, error))
    return NULL;

  info = g_new0 (CdlObjectInfo, 1);
  info->key = g_strdup (key);
  info->size = size;
  info->mtime = (gint64)st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
  info->sha256 = g_strdup (g_checksum_get_string (checksum));

  g_debug ("Stored %s (%" G_GOFFSET_FORMAT " bytes)", key, size);

  return info;

fail:
  if (fd >= 0)
    close (fd);
  g_unlink (tmp_path);

  return NULL;
}

static CdlObjectInfo *
info_from_file_info (const char *key,
                     GFileInfo  *file_info)
{
  CdlObjectInfo *info = g_new0 (CdlObjectInfo, 1);
  g_autoptr(GDateTime) mtime = NULL;

  info->key = g_strdup (key);
  info->size = g_file_info_get_size (file_info);

  mtime = g_file_info_get_modification_date_time (file_info);
  if (mtime != NULL)
    info->mtime = g_date_time_to_unix (mtime) * G_USEC_PER_SEC +
                  g_date_time_get_microsecond (mtime);

  return info;
}

#define INFO_ATTRIBUTES \
  G_FILE_ATTRIBUTE_STANDARD_TYPE "," \
  G_FILE_ATTRIBUTE_STANDARD_SIZE "," \
  G_FILE_ATTRIBUTE_TIME_MODIFIED "," \
  G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC

static gboolean
not_found (GError     **error,
           const char  *key)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               "No object is stored under “%s”", key);
  return FALSE;
}

static CdlObjectInfo *
cdl_fs_store_query_info (CdlObjectStore  *store,
                         const char      *key,
                         GCancellable    *cancellable,
                         GError         **error)
{
  CdlFsStore *self = CDL_FS_STORE (store);
  g_autofree char *path = g_build_filename (self->root, key, NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInfo) file_info = NULL;
  g_autoptr(GError) local_error = NULL;

  file_info = g_file_query_info (file, INFO_ATTRIBUTES, G_FILE_QUERY_INFO_NONE,
                                 cancellable, &local_error);

  if (file_info == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
          g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY))
        not_found (error, key);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  if (g_file_info_get_file_type (file_info) != G_FILE_TYPE_REGULAR)
    {
      not_found (error, key);
      return NULL;
    }

  return info_from_file_info (key, file_info);
}

static GInputStream *
cdl_fs_store_open_range (CdlObjectStore  *store,
                         const char      *key,
                         goffset          offset,
                         goffset          length,
                         CdlObjectInfo  **info,
                         GCancellable    *cancellable,
                         GError         **error)
{
  CdlFsStore *self = CDL_FS_STORE (store);
  g_autofree char *path = g_build_filename (self->root, key, NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GFileInfo) file_info = NULL;
  g_autoptr(GError) local_error = NULL;
  goffset size;
  goffset available;

  stream = g_file_read (file, cancellable, &local_error);

  if (stream == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
          g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY) ||
          g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY))
        not_found (error, key);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  /* Asked of the open file, so size and mtime belong to the version this
   * stream reads even if a put replaces the object meanwhile. */
  file_info = g_file_input_stream_query_info (stream, INFO_ATTRIBUTES,
                                              cancellable, error);
  if (file_info == NULL)
    return NULL;

  size = g_file_info_get_size (file_info);

  if (offset > size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Range of “%s” starts at %" G_GOFFSET_FORMAT
                   ", past its end (%" G_GOFFSET_FORMAT " bytes)",
                   key, offset, size);
      return NULL;
    }

  if (offset > 0 &&
      !g_seekable_seek (G_SEEKABLE (stream), offset, G_SEEK_SET,
                        cancellable, error))
    return NULL;

  available = size - offset;
  if (length < 0 || length > available)
    length = available;

  *info = info_from_file_info (key, file_info);

  return cdl_range_input_stream_new (G_INPUT_STREAM (stream), length);
}

static gboolean
cdl_fs_store_remove (CdlObjectStore  *store,
                     const char      *key,
                     GCancellable    *cancellable,
                     GError         **error)
{
  CdlFsStore *self = CDL_FS_STORE (store);
  g_autofree char *path = g_build_filename (self->root, key, NULL);
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  if (g_unlink (path) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT || saved_errno == ENOTDIR || saved_errno == EISDIR)
        return not_found (error, key);

      return set_errno_error (error, saved_errno, "delete", path);
    }

  g_debug ("Deleted %s", key);

  return fsync_dir (dir, error);
}

static void
cdl_fs_store_iface_init (CdlObjectStoreInterface *iface)
{
  iface->put = cdl_fs_store_put;
  iface->query_info = cdl_fs_store_query_info;
  iface->open_range = cdl_fs_store_open_range;
  iface->remove = cdl_fs_store_remove;
}

static void
cdl_fs_store_finalize (GObject *object)
{
  CdlFsStore *self = (CdlFsStore *)object;

  g_clear_pointer (&self->root, g_free);
  g_clear_pointer (&self->tmp_dir, g_free);
  g_mutex_clear (&self->sweep_lock);

  G_OBJECT_CLASS (cdl_fs_store_parent_class)->finalize (object);
}

static void
cdl_fs_store_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  CdlFsStore *self = CDL_FS_STORE (object);

  switch (prop_id)
    {
    case PROP_ROOT:
      g_value_set_string (value, self->root);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_fs_store_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  CdlFsStore *self = CDL_FS_STORE (object);

  switch (prop_id)
    {
    case PROP_ROOT:
      /* Kept canonical so that paths built from it compare cleanly. */
      self->root = g_canonicalize_filename (g_value_get_string (value), NULL);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_fs_store_class_init (CdlFsStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cdl_fs_store_finalize;
  object_class->get_property = cdl_fs_store_get_property;
  object_class->set_property = cdl_fs_store_set_property;

  properties[PROP_ROOT] =
    g_param_spec_string ("root", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdl_fs_store_init (CdlFsStore *self)
{
  g_mutex_init (&self->sweep_lock);
}

CdlFsStore *
cdl_fs_store_new (const char  *root,
                  GError     **error)
{
  g_autoptr(CdlFsStore) self = NULL;

  g_return_val_if_fail (root != NULL && root[0] != '\0', NULL);

  self = g_object_new (CDL_TYPE_FS_STORE, "root", root, NULL);

  if (g_mkdir_with_parents (self->root, 0755) != 0)
    {
      set_errno_error (error, errno, "create the storage directory", self->root);
      return NULL;
    }

  if (!g_file_test (self->root, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                   "Storage root “%s” is not a directory", self->root);
      return NULL;
    }

  self->tmp_dir = g_build_filename (self->root, TMP_DIR, NULL);
  if (!ensure_tmp_dir (self, error))
    return NULL;
  cdl_fs_store_maybe_sweep (self);

  return g_steal_pointer (&self);
}

const char *
cdl_fs_store_get_root (CdlFsStore *self)
{
  g_return_val_if_fail (CDL_IS_FS_STORE (self), NULL);

  return self->root;
}

char *
cdl_fs_store_get_path (CdlFsStore  *self,
                       const char  *key,
                       GError     **error)
{
  g_return_val_if_fail (CDL_IS_FS_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  if (!cdl_storage_key_validate (key, -1, error))
    return NULL;

  return g_build_filename (self->root, key, NULL);
}
