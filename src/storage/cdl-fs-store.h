/* cdl-fs-store.h: an object store in a directory tree
 *
 * The root is a local disk or a NAS mount (NFS, SMB) that every instance
 * may write at the same time; nothing here assumes it is alone. An object
 * is the file {root}/{key}. A put writes a temporary file in {root}/.tmp
 * ("{name}.XXXXXX", on the same file system), fsyncs it, renames it over
 * the target and fsyncs the directory, so a crash or a concurrent put
 * never leaves a torn object. Directories are created on demand and never
 * removed: another instance may be about to write into one.
 *
 * A process killed in the middle of a put leaves its temporary file
 * behind. {root}/.tmp never shadows an object (keys may not start a
 * segment with a dot); the store sweeps it in a thread when it opens and
 * then at most hourly (from a put), deleting only files older than
 * CDL_FS_STORE_TMP_MAX_AGE_S: no put of another instance sharing the root
 * takes that long, so a live put's file is never removed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "storage/cdl-object-store.h"

G_BEGIN_DECLS

/* Longer than any put may take (a put that does is cut short by the
 * sweep and fails on its rename). */
#define CDL_FS_STORE_TMP_MAX_AGE_S (60 * 60)

#define CDL_TYPE_FS_STORE (cdl_fs_store_get_type ())

G_DECLARE_FINAL_TYPE (CdlFsStore, cdl_fs_store, CDL, FS_STORE, GObject)

/* Blocking: creates @root (and its parents) when missing and fails unless
 * it ends up a directory. */
CdlFsStore *cdl_fs_store_new      (const char  *root,
                                   GError     **error);

const char *cdl_fs_store_get_root (CdlFsStore  *self);

/* The file an object lives in, for callers that serve files directly.
 * NULL with CDL_STORAGE_ERROR_INVALID_KEY for an invalid key. */
char       *cdl_fs_store_get_path (CdlFsStore  *self,
                                   const char  *key,
                                   GError     **error);

/* Blocking: deletes the temporary files older than @max_age_s seconds
 * left by interrupted puts; returns how many it deleted. */
guint       cdl_fs_store_sweep    (CdlFsStore  *self,
                                   gint64       max_age_s,
                                   GError     **error);

G_END_DECLS
