/* cdl-pool-repo.h: the variable_pools and variable_pool_versions tables
 *
 * Plain blocking functions, to be called from a cdl_db_run_async() function
 * with the connection it was given.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libpq-fe.h>

#include "core/cdl-pool.h"

G_BEGIN_DECLS

/* Every pool at its current version, items included, by name. Elements
 * are CdlPool, owned by the array. */
GPtrArray *cdl_pool_repo_list      (PGconn              *conn,
                                    GError             **error);

/* One pool at @version (0: the current one). @id may also be the pool's
 * name. CDL_DB_ERROR_NOT_FOUND for an unknown pool or version. */
CdlPool   *cdl_pool_repo_get       (PGconn              *conn,
                                    const char          *id,
                                    int                  version,
                                    GError             **error);

/* Pools at their current versions, in the order of @ids (ids or names),
 * locked against edits until the end of the caller's transaction.
 * CDL_DB_ERROR_NOT_FOUND naming the first unknown one. */
GPtrArray *cdl_pool_repo_get_many  (PGconn              *conn,
                                    const char * const  *ids,
                                    GError             **error);

/* Pools at the pinned @versions (one per id). */
GPtrArray *cdl_pool_repo_get_pinned (PGconn             *conn,
                                     const char * const *ids,
                                     const int          *versions,
                                     GError            **error);

/* Inserts the pool and its version 1 in one transaction. @input must be
 * validated for create. CDL_DB_ERROR_UNIQUE on a name in use. */
CdlPool   *cdl_pool_repo_insert    (PGconn              *conn,
                                    const CdlPoolInput  *input,
                                    GError             **error);

/* Makes version current + 1 from the current one with the fields set in
 * @input, in one transaction. */
CdlPool   *cdl_pool_repo_update    (PGconn              *conn,
                                    const char          *id,
                                    const CdlPoolInput  *input,
                                    GError             **error);

G_END_DECLS
