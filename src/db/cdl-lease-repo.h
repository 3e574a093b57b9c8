/* cdl-lease-repo.h: the worker_leases table
 *
 * A worker is driven by one orchestrator at a time, so that its queue
 * gate is checked by a single instance. The holder renews its lease on
 * every pass; a lease that is not renewed lapses and another instance
 * takes the worker over. Plain blocking functions for cdl_db_run_async().
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libpq-fe.h>
#include <glib.h>

G_BEGIN_DECLS

/* Takes the lease of @worker_id for @holder when it is free, expired or
 * already @holder's, for @lease_ms from now. Returns TRUE when @holder
 * holds it afterwards; FALSE without an error when another holder does. */
gboolean cdl_lease_repo_acquire     (PGconn      *conn,
                                     const char  *worker_id,
                                     const char  *holder,
                                     guint        lease_ms,
                                     GError     **error);

/* Gives up @holder's lease of @worker_id, or of every worker when
 * @worker_id is NULL. */
gboolean cdl_lease_repo_release     (PGconn      *conn,
                                     const char  *worker_id,
                                     const char  *holder,
                                     GError     **error);

/* The holder of @worker_id's live lease, or NULL. */
char    *cdl_lease_repo_get_holder  (PGconn      *conn,
                                     const char  *worker_id,
                                     GError     **error);

G_END_DECLS
