/* cdl-fs-store.h: an object store in a directory tree
 *
 * The root is a local disk or a NAS mount (NFS, SMB) that every instance
 * may write at the same time; nothing here assumes it is alone. An object
 * is the file {root}/{key}. A put writes a temporary file next to the
 * target (".{name}.XXXXXX"), fsyncs it, renames it over the target and
 * fsyncs the directory, so a crash or a concurrent put never leaves a torn
 * object. Directories are created on demand and never removed: another
 * instance may be about to write into one.
 *
 * FIXME: a process killed in the middle of a put leaves its temporary
 * file behind; nothing sweeps them yet. They never shadow an object
 * (keys may not start a segment with a dot) and are safe to delete once
 * older than any put could take.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "storage/cdl-object-store.h"

G_BEGIN_DECLS

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

G_END_DECLS
