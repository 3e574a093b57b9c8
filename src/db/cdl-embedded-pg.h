/* cdl-embedded-pg.h: a private PostgreSQL cluster in the data directory
 *
 * Used when no database is configured. The cluster listens on a Unix socket
 * in a private directory only (no TCP), is created with initdb on first
 * use, survives a crash of ours (a stale postmaster.pid is detected and
 * removed), and is stopped with a fast shutdown.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CDL_TYPE_EMBEDDED_PG (cdl_embedded_pg_get_type ())

G_DECLARE_FINAL_TYPE (CdlEmbeddedPg, cdl_embedded_pg, CDL, EMBEDDED_PG, GObject)

/* @data_dir: the product's data dir; the cluster lives in
 * @data_dir/postgres and its socket in @data_dir/run. */
CdlEmbeddedPg *cdl_embedded_pg_new          (const char     *data_dir);

/* Finds initdb/pg_ctl, runs initdb when needed, starts the server and
 * waits until it accepts connections. Blocking (seconds on first run).
 * Fails with a clear message when run as root, which PostgreSQL refuses. */
gboolean       cdl_embedded_pg_start        (CdlEmbeddedPg  *self,
                                             GError        **error);
gboolean       cdl_embedded_pg_stop         (CdlEmbeddedPg  *self,
                                             GError        **error);
gboolean       cdl_embedded_pg_is_running   (CdlEmbeddedPg  *self);

/* Connection string for the running cluster (socket dir, port, database
 * "datalabel"); contains no password. */
const char    *cdl_embedded_pg_get_conninfo (CdlEmbeddedPg  *self);
const char    *cdl_embedded_pg_get_cluster_dir (CdlEmbeddedPg *self);

/* Directory holding initdb, pg_ctl and postgres: the build-time default if
 * set, else PATH, else the newest /usr/lib/postgresql/N/bin. */
char          *cdl_pg_find_bindir           (GError        **error);

G_END_DECLS
