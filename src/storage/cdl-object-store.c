/* cdl-object-store.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-storage"

#include "config.h"

#include <string.h>

#include "storage/cdl-object-store.h"
#include "storage/cdl-storage-error.h"
#include "storage/cdl-storage-key.h"

#define READ_CHUNK (64 * 1024)

G_DEFINE_BOXED_TYPE (CdlObjectInfo, cdl_object_info,
                     cdl_object_info_copy, cdl_object_info_free)

CdlObjectInfo *
cdl_object_info_copy (const CdlObjectInfo *info)
{
  CdlObjectInfo *copy;

  g_return_val_if_fail (info != NULL, NULL);

  copy = g_new0 (CdlObjectInfo, 1);
  copy->key = g_strdup (info->key);
  copy->size = info->size;
  copy->mtime = info->mtime;
  copy->sha256 = g_strdup (info->sha256);

  return copy;
}

void
cdl_object_info_free (CdlObjectInfo *info)
{
  if (info == NULL)
    return;

  g_free (info->key);
  g_free (info->sha256);
  g_free (info);
}

G_DEFINE_INTERFACE (CdlObjectStore, cdl_object_store, G_TYPE_OBJECT)

static void
cdl_object_store_default_init (CdlObjectStoreInterface *iface)
{
}

CdlObjectInfo *
cdl_object_store_put_stream (CdlObjectStore  *self,
                             const char      *key,
                             GInputStream    *stream,
                             GCancellable    *cancellable,
                             GError         **error)
{
  g_return_val_if_fail (CDL_IS_OBJECT_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), NULL);

  if (!cdl_storage_key_validate (key, -1, error))
    return NULL;

  return CDL_OBJECT_STORE_GET_IFACE (self)->put (self, key, stream,
                                                 cancellable, error);
}

CdlObjectInfo *
cdl_object_store_put_bytes (CdlObjectStore  *self,
                            const char      *key,
                            GBytes          *bytes,
                            GCancellable    *cancellable,
                            GError         **error)
{
  g_autoptr(GInputStream) stream = NULL;

  g_return_val_if_fail (CDL_IS_OBJECT_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (bytes != NULL, NULL);

  stream = g_memory_input_stream_new_from_bytes (bytes);

  return cdl_object_store_put_stream (self, key, stream, cancellable, error);
}

GInputStream *
cdl_object_store_open_range (CdlObjectStore  *self,
                             const char      *key,
                             goffset          offset,
                             goffset          length,
                             CdlObjectInfo  **info,
                             GCancellable    *cancellable,
                             GError         **error)
{
  CdlObjectStoreInterface *iface;
  g_autoptr(CdlObjectInfo) found = NULL;
  g_autoptr(GInputStream) stream = NULL;

  g_return_val_if_fail (CDL_IS_OBJECT_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (info == NULL || *info == NULL, NULL);

  if (!cdl_storage_key_validate (key, -1, error))
    return NULL;

  if (offset < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Range of “%s” starts at a negative offset", key);
      return NULL;
    }

  iface = CDL_OBJECT_STORE_GET_IFACE (self);
  stream = iface->open_range (self, key, offset, length, &found,
                              cancellable, error);
  if (stream == NULL)
    return NULL;

  if (info != NULL)
    *info = g_steal_pointer (&found);

  return g_steal_pointer (&stream);
}

GInputStream *
cdl_object_store_open (CdlObjectStore  *self,
                       const char      *key,
                       CdlObjectInfo  **info,
                       GCancellable    *cancellable,
                       GError         **error)
{
  return cdl_object_store_open_range (self, key, 0, -1, info,
                                      cancellable, error);
}

GBytes *
cdl_object_store_get_bytes (CdlObjectStore  *self,
                            const char      *key,
                            CdlObjectInfo  **info,
                            GCancellable    *cancellable,
                            GError         **error)
{
  g_autoptr(CdlObjectInfo) found = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GByteArray) data = NULL;
  gsize filled = 0;

  g_return_val_if_fail (info == NULL || *info == NULL, NULL);

  stream = cdl_object_store_open_range (self, key, 0, -1, &found,
                                        cancellable, error);
  if (stream == NULL)
    return NULL;

  if (found->size > G_MAXUINT32)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Object “%s” is too large to read into memory; open it as a stream",
                   key);
      return NULL;
    }

  /* The stream reads the version that was opened, whose size is known. */
  data = g_byte_array_sized_new (MAX (found->size, 1));
  g_byte_array_set_size (data, found->size);

  if (!g_input_stream_read_all (stream, data->data, data->len, &filled,
                                cancellable, error))
    return NULL;

  if ((goffset)filled != found->size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                   "Object “%s” ended after %" G_GSIZE_FORMAT
                   " of %" G_GOFFSET_FORMAT " bytes", key, filled, found->size);
      return NULL;
    }

  if (!g_input_stream_close (stream, cancellable, error))
    return NULL;

  if (info != NULL)
    *info = g_steal_pointer (&found);

  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

CdlObjectInfo *
cdl_object_store_query_info (CdlObjectStore  *self,
                             const char      *key,
                             GCancellable    *cancellable,
                             GError         **error)
{
  g_return_val_if_fail (CDL_IS_OBJECT_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  if (!cdl_storage_key_validate (key, -1, error))
    return NULL;

  return CDL_OBJECT_STORE_GET_IFACE (self)->query_info (self, key,
                                                        cancellable, error);
}

gboolean
cdl_object_store_exists (CdlObjectStore  *self,
                         const char      *key,
                         GCancellable    *cancellable,
                         GError         **error)
{
  g_autoptr(CdlObjectInfo) info = NULL;
  g_autoptr(GError) local_error = NULL;

  info = cdl_object_store_query_info (self, key, cancellable, &local_error);

  if (info != NULL)
    return TRUE;

  if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    g_propagate_error (error, g_steal_pointer (&local_error));

  return FALSE;
}

gboolean
cdl_object_store_delete (CdlObjectStore  *self,
                         const char      *key,
                         GCancellable    *cancellable,
                         GError         **error)
{
  g_return_val_if_fail (CDL_IS_OBJECT_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  if (!cdl_storage_key_validate (key, -1, error))
    return FALSE;

  return CDL_OBJECT_STORE_GET_IFACE (self)->remove (self, key,
                                                    cancellable, error);
}

static gboolean
is_sha256_hex (const char *s)
{
  if (strlen (s) != 64)
    return FALSE;

  for (const char *p = s; *p != '\0'; p++)
    {
      if (!g_ascii_isxdigit (*p))
        return FALSE;
    }

  return TRUE;
}

gboolean
cdl_object_store_verify (CdlObjectStore  *self,
                         const char      *key,
                         const char      *expected_sha256,
                         char           **actual_sha256,
                         GCancellable    *cancellable,
                         GError         **error)
{
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GChecksum) checksum = NULL;
  g_autofree guchar *buffer = NULL;
  g_autofree char *actual = NULL;
  gboolean same;

  g_return_val_if_fail (expected_sha256 != NULL, FALSE);
  g_return_val_if_fail (actual_sha256 == NULL || *actual_sha256 == NULL, FALSE);

  if (!is_sha256_hex (expected_sha256))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Expected checksum of “%s” is not a SHA-256 in hex", key);
      return FALSE;
    }

  stream = cdl_object_store_open (self, key, NULL, cancellable, error);
  if (stream == NULL)
    return FALSE;

  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  buffer = g_malloc (READ_CHUNK);

  for (;;)
    {
      gssize n = g_input_stream_read (stream, buffer, READ_CHUNK,
                                      cancellable, error);

      if (n < 0)
        return FALSE;
      if (n == 0)
        break;

      g_checksum_update (checksum, buffer, n);
    }

  actual = g_strdup (g_checksum_get_string (checksum));
  same = g_ascii_strcasecmp (actual, expected_sha256) == 0;

  if (!same)
    g_set_error (error, CDL_STORAGE_ERROR, CDL_STORAGE_ERROR_CHECKSUM_MISMATCH,
                 "Object “%s” is corrupt: its SHA-256 is %s, expected %s",
                 key, actual, expected_sha256);

  if (actual_sha256 != NULL)
    *actual_sha256 = g_steal_pointer (&actual);

  return same;
}

/* Async: each call runs its blocking twin in a GTask thread. */

typedef enum
{
  OP_PUT,
  OP_GET,
  OP_OPEN_RANGE,
  OP_EXISTS,
  OP_DELETE,
  OP_VERIFY,
} Op;

typedef struct
{
  Op             op;
  char          *key;
  GBytes        *bytes;
  GInputStream  *stream;
  goffset        offset;
  goffset        length;
  char          *expected;
} OpData;

typedef struct
{
  CdlObjectInfo *info;
  GBytes        *bytes;
  GInputStream  *stream;
  char          *sha256;
  gboolean       ok;
} OpResult;

static void
op_data_free (OpData *data)
{
  g_free (data->key);
  g_clear_pointer (&data->bytes, g_bytes_unref);
  g_clear_object (&data->stream);
  g_free (data->expected);
  g_free (data);
}

static void
op_result_free (OpResult *result)
{
  g_clear_pointer (&result->info, cdl_object_info_free);
  g_clear_pointer (&result->bytes, g_bytes_unref);
  g_clear_object (&result->stream);
  g_free (result->sha256);
  g_free (result);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (OpResult, op_result_free)

static void
op_thread (GTask        *task,
           gpointer      source_object,
           gpointer      task_data,
           GCancellable *cancellable)
{
  CdlObjectStore *self = source_object;
  OpData *data = task_data;
  g_autoptr(OpResult) result = g_new0 (OpResult, 1);
  GError *error = NULL;

  switch (data->op)
    {
    case OP_PUT:
      if (data->bytes != NULL)
        result->info = cdl_object_store_put_bytes (self, data->key, data->bytes,
                                                   cancellable, &error);
      else
        result->info = cdl_object_store_put_stream (self, data->key, data->stream,
                                                    cancellable, &error);
      result->ok = result->info != NULL;
      break;

    case OP_GET:
      result->bytes = cdl_object_store_get_bytes (self, data->key, &result->info,
                                                  cancellable, &error);
      result->ok = result->bytes != NULL;
      break;

    case OP_OPEN_RANGE:
      result->stream = cdl_object_store_open_range (self, data->key, data->offset,
                                                    data->length, &result->info,
                                                    cancellable, &error);
      result->ok = result->stream != NULL;
      break;

    case OP_EXISTS:
      result->ok = cdl_object_store_exists (self, data->key, cancellable, &error);
      break;

    case OP_DELETE:
      result->ok = cdl_object_store_delete (self, data->key, cancellable, &error);
      break;

    case OP_VERIFY:
      result->ok = cdl_object_store_verify (self, data->key, data->expected,
                                            &result->sha256, cancellable, &error);
      break;

    default:
      g_assert_not_reached ();
    }

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_steal_pointer (&result),
                           (GDestroyNotify)op_result_free);
}

static void
op_start (CdlObjectStore      *self,
          OpData              *data,
          gpointer             source_tag,
          GCancellable        *cancellable,
          GAsyncReadyCallback  callback,
          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, data, (GDestroyNotify)op_data_free);
  g_task_run_in_thread (task, op_thread);
}

static OpData *
op_data_new (Op          op,
             const char *key)
{
  OpData *data = g_new0 (OpData, 1);

  data->op = op;
  data->key = g_strdup (key);

  return data;
}

static OpResult *
op_finish (CdlObjectStore  *self,
           GAsyncResult    *result,
           gpointer         source_tag,
           GError         **error)
{
  g_return_val_if_fail (CDL_IS_OBJECT_STORE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
cdl_object_store_put_bytes_async (CdlObjectStore      *self,
                                  const char          *key,
                                  GBytes              *bytes,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  OpData *data;

  g_return_if_fail (CDL_IS_OBJECT_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (bytes != NULL);

  data = op_data_new (OP_PUT, key);
  data->bytes = g_bytes_ref (bytes);
  op_start (self, data, cdl_object_store_put_bytes_async, cancellable,
            callback, user_data);
}

void
cdl_object_store_put_stream_async (CdlObjectStore      *self,
                                   const char          *key,
                                   GInputStream        *stream,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  OpData *data;

  g_return_if_fail (CDL_IS_OBJECT_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (G_IS_INPUT_STREAM (stream));

  data = op_data_new (OP_PUT, key);
  data->stream = g_object_ref (stream);
  /* Both puts share one finish function, so one tag. */
  op_start (self, data, cdl_object_store_put_bytes_async, cancellable,
            callback, user_data);
}

CdlObjectInfo *
cdl_object_store_put_finish (CdlObjectStore  *self,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_autoptr(OpResult) r = op_finish (self, result,
                                     cdl_object_store_put_bytes_async, error);

  return r != NULL ? g_steal_pointer (&r->info) : NULL;
}

void
cdl_object_store_get_bytes_async (CdlObjectStore      *self,
                                  const char          *key,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (CDL_IS_OBJECT_STORE (self));
  g_return_if_fail (key != NULL);

  op_start (self, op_data_new (OP_GET, key), cdl_object_store_get_bytes_async,
            cancellable, callback, user_data);
}

GBytes *
cdl_object_store_get_bytes_finish (CdlObjectStore  *self,
                                   GAsyncResult    *result,
                                   CdlObjectInfo  **info,
                                   GError         **error)
{
  g_autoptr(OpResult) r = op_finish (self, result,
                                     cdl_object_store_get_bytes_async, error);

  if (r == NULL)
    return NULL;

  if (info != NULL)
    *info = g_steal_pointer (&r->info);

  return g_steal_pointer (&r->bytes);
}

void
cdl_object_store_open_range_async (CdlObjectStore      *self,
                                   const char          *key,
                                   goffset              offset,
                                   goffset              length,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  OpData *data;

  g_return_if_fail (CDL_IS_OBJECT_STORE (self));
  g_return_if_fail (key != NULL);

  data = op_data_new (OP_OPEN_RANGE, key);
  data->offset = offset;
  data->length = length;
  op_start (self, data, cdl_object_store_open_range_async, cancellable,
            callback, user_data);
}

GInputStream *
cdl_object_store_open_range_finish (CdlObjectStore  *self,
                                    GAsyncResult    *result,
                                    CdlObjectInfo  **info,
                                    GError         **error)
{
  g_autoptr(OpResult) r = op_finish (self, result,
                                     cdl_object_store_open_range_async, error);

  if (r == NULL)
    return NULL;

  if (info != NULL)
    *info = g_steal_pointer (&r->info);

  return g_steal_pointer (&r->stream);
}

void
cdl_object_store_exists_async (CdlObjectStore      *self,
                               const char          *key,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (CDL_IS_OBJECT_STORE (self));
  g_return_if_fail (key != NULL);

  op_start (self, op_data_new (OP_EXISTS, key), cdl_object_store_exists_async,
            cancellable, callback, user_data);
}

gboolean
cdl_object_store_exists_finish (CdlObjectStore  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  g_autoptr(OpResult) r = op_finish (self, result,
                                     cdl_object_store_exists_async, error);

  return r != NULL && r->ok;
}

void
cdl_object_store_delete_async (CdlObjectStore      *self,
                               const char          *key,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (CDL_IS_OBJECT_STORE (self));
  g_return_if_fail (key != NULL);

  op_start (self, op_data_new (OP_DELETE, key), cdl_object_store_delete_async,
            cancellable, callback, user_data);
}

gboolean
cdl_object_store_delete_finish (CdlObjectStore  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  g_autoptr(OpResult) r = op_finish (self, result,
                                     cdl_object_store_delete_async, error);

  return r != NULL && r->ok;
}

void
cdl_object_store_verify_async (CdlObjectStore      *self,
                               const char          *key,
                               const char          *expected_sha256,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  OpData *data;

  g_return_if_fail (CDL_IS_OBJECT_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (expected_sha256 != NULL);

  data = op_data_new (OP_VERIFY, key);
  data->expected = g_strdup (expected_sha256);
  op_start (self, data, cdl_object_store_verify_async, cancellable,
            callback, user_data);
}

gboolean
cdl_object_store_verify_finish (CdlObjectStore  *self,
                                GAsyncResult    *result,
                                char           **actual_sha256,
                                GError         **error)
{
  g_autoptr(OpResult) r = op_finish (self, result,
                                     cdl_object_store_verify_async, error);

  if (r == NULL)
    return FALSE;

  if (actual_sha256 != NULL)
    *actual_sha256 = g_steal_pointer (&r->sha256);

  return r->ok;
}
