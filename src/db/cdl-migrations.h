/* cdl-migrations.h: ordered SQL files applied once per database
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

/* Applies, in name order, every *.sql under @resource_dir (a GResource
 * path such as "/io/github/ComfyDataLabel/sql") that is not yet recorded in
 * schema_migrations. All of it runs in one transaction under a
 * transaction-scoped advisory lock, so that two instances starting together
 * apply each file once. Returns the number applied in @n_applied. */
gboolean cdl_migrations_apply (PGconn      *conn,
                               const char  *resource_dir,
                               guint       *n_applied,
                               GError     **error);

G_END_DECLS
