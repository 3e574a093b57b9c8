/* cdl-object-store.h: where image bytes live, behind one interface
 *
 * A store maps keys (see cdl-storage-key.h; validated on every call) to
 * immutable byte objects. The file system store (CdlFsStore) comes first;
 * an S3-compatible one will implement the same interface.
 *
 * Every instance of the product may share one store, so a store promises:
 *   - a put is atomic: readers see the old object or the new one, complete;
 *     two puts of the same key from two processes leave one of the two;
 *   - a put reports the size and SHA-256 of what it wrote, computed while
 *     writing (callers record them, e.g. generations.checksum);
 *   - a reader that opened an object keeps reading that version even if a
 *     put replaces it meanwhile.
 *
 * The plain calls block on I/O: use them from a thread (ingestion workers,
 * tools, tests). The _async variants run the same work in a GTask thread
 * and complete on the caller's thread-default main context; they are what
 * the REST server and the orchestrator call.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CDL_TYPE_OBJECT_INFO (cdl_object_info_get_type ())

typedef struct
{
  char    *key;
  goffset  size;        /* of the whole object, in bytes */
  gint64   mtime;       /* microseconds since the Unix epoch */
  char    *sha256;      /* lower-case hex; NULL when not computed */
} CdlObjectInfo;

GType          cdl_object_info_get_type (void) G_GNUC_CONST;
CdlObjectInfo *cdl_object_info_copy     (const CdlObjectInfo *info);
void           cdl_object_info_free     (CdlObjectInfo       *info);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlObjectInfo, cdl_object_info_free)

#define CDL_TYPE_OBJECT_STORE (cdl_object_store_get_type ())

G_DECLARE_INTERFACE (CdlObjectStore, cdl_object_store, CDL, OBJECT_STORE, GObject)

/* What a backend implements. Keys reach these already validated; all of
 * them block and must be safe to call from several threads at once. */
struct _CdlObjectStoreInterface
{
  GTypeInterface parent_iface;

  /* Reads @stream to its end into the object; info with size and sha256. */
  CdlObjectInfo *(*put)        (CdlObjectStore  *self,
                                const char      *key,
                                GInputStream    *stream,
                                GCancellable    *cancellable,
                                GError         **error);
  /* G_IO_ERROR_NOT_FOUND when there is no object (a "directory" is none). */
  CdlObjectInfo *(*query_info) (CdlObjectStore  *self,
                                const char      *key,
                                GCancellable    *cancellable,
                                GError         **error);
  /* A stream of @length bytes from @offset (already clamped to the
   * object), and the object's info. */
  GInputStream  *(*open_range) (CdlObjectStore  *self,
                                const char      *key,
                                goffset          offset,
                                goffset          length,
                                CdlObjectInfo  **info,
                                GCancellable    *cancellable,
                                GError         **error);
  gboolean       (*remove)     (CdlObjectStore  *self,
                                const char      *key,
                                GCancellable    *cancellable,
                                GError         **error);
};

/* Blocking. */
CdlObjectInfo *cdl_object_store_put_bytes   (CdlObjectStore       *self,
                                             const char           *key,
                                             GBytes               *bytes,
                                             GCancellable         *cancellable,
                                             GError              **error);
/* Blocking; reads @stream to its end (it is not closed). */
CdlObjectInfo *cdl_object_store_put_stream  (CdlObjectStore       *self,
                                             const char           *key,
                                             GInputStream         *stream,
                                             GCancellable         *cancellable,
                                             GError              **error);
/* Blocking; the whole object in memory. @info (optional) gets its info. */
GBytes        *cdl_object_store_get_bytes   (CdlObjectStore       *self,
                                             const char           *key,
                                             CdlObjectInfo       **info,
                                             GCancellable         *cancellable,
                                             GError              **error);
/* Blocking; the whole object as a stream. */
GInputStream  *cdl_object_store_open        (CdlObjectStore       *self,
                                             const char           *key,
                                             CdlObjectInfo       **info,
                                             GCancellable         *cancellable,
                                             GError              **error);
/* Blocking; bytes [@offset, @offset + @length) as a stream, for HTTP Range
 * requests. @length -1 reads to the end; a range that runs past the end is
 * cut at the end (the stream then yields MIN (length, size - offset)
 * bytes; info->size says the object's size). An @offset past the end is
 * G_IO_ERROR_INVALID_ARGUMENT (HTTP 416); @offset == size gives an empty
 * stream. */
GInputStream  *cdl_object_store_open_range  (CdlObjectStore       *self,
                                             const char           *key,
                                             goffset               offset,
                                             goffset               length,
                                             CdlObjectInfo       **info,
                                             GCancellable         *cancellable,
                                             GError              **error);
/* Blocking; size and mtime, sha256 NULL. G_IO_ERROR_NOT_FOUND if absent. */
CdlObjectInfo *cdl_object_store_query_info  (CdlObjectStore       *self,
                                             const char           *key,
                                             GCancellable         *cancellable,
                                             GError              **error);
/* Blocking; FALSE without @error set when the object does not exist. */
gboolean       cdl_object_store_exists      (CdlObjectStore       *self,
                                             const char           *key,
                                             GCancellable         *cancellable,
                                             GError              **error);
/* Blocking; G_IO_ERROR_NOT_FOUND when there was nothing to delete. */
gboolean       cdl_object_store_delete      (CdlObjectStore       *self,
                                             const char           *key,
                                             GCancellable         *cancellable,
                                             GError              **error);
/* Blocking; reads the whole object and compares its SHA-256 with
 * @expected_sha256 (hex, any case): CDL_STORAGE_ERROR_CHECKSUM_MISMATCH
 * when they differ. @actual_sha256 (optional) gets what was computed, also
 * on a mismatch. */
gboolean       cdl_object_store_verify      (CdlObjectStore       *self,
                                             const char           *key,
                                             const char           *expected_sha256,
                                             char                **actual_sha256,
                                             GCancellable         *cancellable,
                                             GError              **error);

/* The same in a GTask thread. @bytes and @stream are referenced until the
 * task completes; the caller must not use @stream meanwhile. */
void           cdl_object_store_put_bytes_async  (CdlObjectStore       *self,
                                                  const char           *key,
                                                  GBytes               *bytes,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
void           cdl_object_store_put_stream_async (CdlObjectStore       *self,
                                                  const char           *key,
                                                  GInputStream         *stream,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
/* Finishes both puts. */
CdlObjectInfo *cdl_object_store_put_finish       (CdlObjectStore       *self,
                                                  GAsyncResult         *result,
                                                  GError              **error);

void           cdl_object_store_get_bytes_async  (CdlObjectStore       *self,
                                                  const char           *key,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
GBytes        *cdl_object_store_get_bytes_finish (CdlObjectStore       *self,
                                                  GAsyncResult         *result,
                                                  CdlObjectInfo       **info,
                                                  GError              **error);

/* Opening happens in the thread; reading the stream is up to the caller
 * (g_input_stream_read_bytes_async() and friends). */
void           cdl_object_store_open_range_async  (CdlObjectStore       *self,
                                                   const char           *key,
                                                   goffset               offset,
                                                   goffset               length,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
GInputStream  *cdl_object_store_open_range_finish (CdlObjectStore       *self,
                                                   GAsyncResult         *result,
                                                   CdlObjectInfo       **info,
                                                   GError              **error);

void           cdl_object_store_exists_async  (CdlObjectStore       *self,
                                               const char           *key,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean       cdl_object_store_exists_finish (CdlObjectStore       *self,
                                               GAsyncResult         *result,
                                               GError              **error);

void           cdl_object_store_delete_async  (CdlObjectStore       *self,
                                               const char           *key,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean       cdl_object_store_delete_finish (CdlObjectStore       *self,
                                               GAsyncResult         *result,
                                               GError              **error);

void           cdl_object_store_verify_async  (CdlObjectStore       *self,
                                               const char           *key,
                                               const char           *expected_sha256,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
/* @actual_sha256 is set on success only; a mismatch's message names both. */
gboolean       cdl_object_store_verify_finish (CdlObjectStore       *self,
                                               GAsyncResult         *result,
                                               char                **actual_sha256,
                                               GError              **error);

G_END_DECLS
