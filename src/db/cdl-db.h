/* cdl-db.h: a pool of PostgreSQL connections and the thread that runs work
 * on them
 *
 * Work never runs on the main loop: cdl_db_run_async() takes a connection
 * from the pool in a GTask thread, calls the function with it, returns the
 * connection and completes the task on the caller's main context.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libpq-fe.h>

#include "db/cdl-pq.h"

G_BEGIN_DECLS

#define CDL_TYPE_DB (cdl_db_get_type ())

G_DECLARE_FINAL_TYPE (CdlDb, cdl_db, CDL, DB, GObject)

/* Runs in a pool thread with a connection that is idle and outside any
 * transaction. Returns the result (owned by the caller of _finish) or NULL
 * with @error set. A function that returns NULL without an error yields
 * NULL from _finish with no error. */
typedef gpointer (*CdlDbFunc) (PGconn        *conn,
                               gpointer       data,
                               GCancellable  *cancellable,
                               GError       **error);

/* @conninfo: a libpq connection string or URI. It is kept in memory only
 * and never logged. */
CdlDb    *cdl_db_new            (const char           *conninfo,
                                 guint                 pool_size);

/* Connects one connection to check the settings; blocking, for startup and
 * command-line tools. */
gboolean  cdl_db_open           (CdlDb                *self,
                                 GError              **error);

/* Applies the migrations in the resources (blocking). */
gboolean  cdl_db_migrate        (CdlDb                *self,
                                 GError              **error);

void      cdl_db_run_async      (CdlDb                *self,
                                 CdlDbFunc             func,
                                 gpointer              data,
                                 GDestroyNotify        data_free,
                                 GDestroyNotify        result_free,
                                 GCancellable         *cancellable,
                                 GAsyncReadyCallback   callback,
                                 gpointer              user_data);
gpointer  cdl_db_run_finish     (CdlDb                *self,
                                 GAsyncResult         *result,
                                 GError              **error);

/* The same work, blocking the calling thread (startup, tools, tests). */
gpointer  cdl_db_run_sync       (CdlDb                *self,
                                 CdlDbFunc             func,
                                 gpointer              data,
                                 GCancellable         *cancellable,
                                 GError              **error);

/* Low level: borrow a connection for code that already runs in a thread.
 * Blocks while all are in use. Release returns it; a broken connection is
 * dropped and re-opened on the next acquire. */
PGconn   *cdl_db_acquire        (CdlDb                *self,
                                 GError              **error);
void      cdl_db_release        (CdlDb                *self,
                                 PGconn               *conn);

/* Pool figures for metrics and benchmarks. */
guint     cdl_db_get_pool_size  (CdlDb                *self);
guint     cdl_db_get_in_use     (CdlDb                *self);

G_END_DECLS
