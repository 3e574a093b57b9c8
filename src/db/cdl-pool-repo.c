/* cdl-pool-repo.c: the variable_pools and variable_pool_versions tables
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include "db/cdl-pool-repo.h"
#include "db/cdl-pq.h"

/* The columns cdl_pool_repo_from_row() reads, in its order; the query
 * joins variable_pools p with variable_pool_versions v. */
#define POOL_COLUMNS \
  "p.id, p.name, v.mode, v.version, p.current_version, v.items," \
  " extract (epoch FROM v.created_at), extract (epoch FROM p.created_at)," \
  " extract (epoch FROM p.updated_at)"

#define POOL_FROM \
  " FROM variable_pools p JOIN variable_pool_versions v ON v.pool_id = p.id"

enum
{
  COL_ID,
  COL_NAME,
  COL_MODE,
  COL_VERSION,
  COL_CURRENT_VERSION,
  COL_ITEMS,
  COL_VERSION_CREATED_AT,
  COL_CREATED_AT,
  COL_UPDATED_AT,
};

static CdlPool *
cdl_pool_repo_from_row (const PGresult *res,
                        int             row)
{
  CdlPoolData data = { 0 };

  data.id = g_strdup (cdl_pq_get_string (res, row, COL_ID));
  data.name = g_strdup (cdl_pq_get_string (res, row, COL_NAME));
  if (!cdl_pool_mode_from_string (cdl_pq_get_string (res, row, COL_MODE), &data.mode))
    data.mode = CDL_POOL_MODE_NO_REPLACEMENT;
  data.version = cdl_pq_get_int (res, row, COL_VERSION);
  data.current_version = cdl_pq_get_int (res, row, COL_CURRENT_VERSION);
  data.items = cdl_pq_get_strv (res, row, COL_ITEMS);
  data.version_created_at = cdl_pq_get_epoch (res, row, COL_VERSION_CREATED_AT);
  data.created_at = cdl_pq_get_epoch (res, row, COL_CREATED_AT);
  data.updated_at = cdl_pq_get_epoch (res, row, COL_UPDATED_AT);

  return cdl_pool_new (&data);
}

GPtrArray *
cdl_pool_repo_list (PGconn  *conn,
                    GError **error)
{
  g_autoptr(PGresult) res = NULL;
  GPtrArray *pools;

  g_return_val_if_fail (conn != NULL, NULL);

  res = cdl_pq_exec (conn,
                     "SELECT " POOL_COLUMNS POOL_FROM
                     " AND v.version = p.current_version ORDER BY p.name",
                     0, NULL, error);
  if (res == NULL)
    return NULL;

  pools = g_ptr_array_new_with_free_func (g_object_unref);
  for (int row = 0; row < PQntuples (res); row++)
    g_ptr_array_add (pools, cdl_pool_repo_from_row (res, row));

  return pools;
}

/* One pool by id or name at @version (0: current); @lock takes a share
 * lock on the pool row, which an edit waits for. */
static CdlPool *
get_one (PGconn      *conn,
         const char  *id,
         int          version,
         gboolean     lock,
         GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *version_text = g_strdup_printf ("%d", version);
  const char *params[2] = { id, version_text };
  gboolean by_id = g_uuid_string_is_valid (id);
  const char *sql;

  if (by_id)
    sql = lock
      ? "SELECT " POOL_COLUMNS POOL_FROM
        " AND v.version = CASE WHEN $2::int > 0 THEN $2::int ELSE p.current_version END"
        " WHERE p.id = $1::uuid FOR SHARE OF p"
      : "SELECT " POOL_COLUMNS POOL_FROM
        " AND v.version = CASE WHEN $2::int > 0 THEN $2::int ELSE p.current_version END"
        " WHERE p.id = $1::uuid";
  else
    sql = lock
      ? "SELECT " POOL_COLUMNS POOL_FROM
        " AND v.version = CASE WHEN $2::int > 0 THEN $2::int ELSE p.current_version END"
        " WHERE p.name = $1 FOR SHARE OF p"
      : "SELECT " POOL_COLUMNS POOL_FROM
        " AND v.version = CASE WHEN $2::int > 0 THEN $2::int ELSE p.current_version END"
        " WHERE p.name = $1";

  res = cdl_pq_exec (conn, sql, 2, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      if (version > 0)
        g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                     "No variable pool %s with a version %d", id, version);
      else
        g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                     "No variable pool with id %s", id);
      return NULL;
    }

  return cdl_pool_repo_from_row (res, 0);
}

CdlPool *
cdl_pool_repo_get (PGconn      *conn,
                   const char  *id,
                   int          version,
                   GError     **error)
{
  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  return get_one (conn, id, version, FALSE, error);
}

GPtrArray *
cdl_pool_repo_get_many (PGconn              *conn,
                        const char * const  *ids,
                        GError             **error)
{
  g_autoptr(GPtrArray) pools = g_ptr_array_new_with_free_func (g_object_unref);

  g_return_val_if_fail (conn != NULL, NULL);

  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      CdlPool *pool = get_one (conn, ids[i], 0, TRUE, error);

      if (pool == NULL)
        return NULL;
      g_ptr_array_add (pools, pool);
    }

  return g_steal_pointer (&pools);
}

GPtrArray *
cdl_pool_repo_get_pinned (PGconn             *conn,
                          const char * const *ids,
                          const int          *versions,
                          GError            **error)
{
  g_autoptr(GPtrArray) pools = g_ptr_array_new_with_free_func (g_object_unref);

  g_return_val_if_fail (conn != NULL, NULL);

  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      CdlPool *pool = get_one (conn, ids[i], MAX (versions[i], 1), FALSE, error);

      if (pool == NULL)
        return NULL;
      g_ptr_array_add (pools, pool);
    }

  return g_steal_pointer (&pools);
}

CdlPool *
cdl_pool_repo_insert (PGconn              *conn,
                      const CdlPoolInput  *input,
                      GError             **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *items = NULL;
  g_autofree char *id = NULL;
  const char *mode;
  GError *local_error = NULL;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (input != NULL && input->name != NULL, NULL);

  mode = cdl_pool_mode_to_string (input->mode);
  items = cdl_pq_strv_literal ((const char * const *) input->items);

  if (!cdl_pq_begin (conn, error))
    return NULL;

  {
    const char *params[2] = { input->name, mode };

    res = cdl_pq_exec (conn,
                       "INSERT INTO variable_pools (name, mode) VALUES ($1, $2) RETURNING id",
                       2, params, &local_error);
  }
  if (res == NULL)
    {
      if (g_error_matches (local_error, CDL_DB_ERROR, CDL_DB_ERROR_UNIQUE))
        {
          g_clear_error (&local_error);
          g_set_error (&local_error, CDL_DB_ERROR, CDL_DB_ERROR_UNIQUE,
                       "A pool named \"%s\" already exists", input->name);
        }
      g_propagate_error (error, local_error);
      goto fail;
    }
  id = g_strdup (cdl_pq_get_string (res, 0, 0));

  {
    const char *params[3] = { id, items, mode };

    if (!cdl_pq_command (conn,
                         "INSERT INTO variable_pool_versions (pool_id, version, items, mode)"
                         " VALUES ($1, 1, $2::text[], $3)",
                         3, params, error))
      goto fail;
  }

  if (!cdl_pq_commit (conn, error))
    return NULL;

  return get_one (conn, id, 0, FALSE, error);

fail:
  cdl_pq_rollback (conn);
  return NULL;
}

CdlPool *
cdl_pool_repo_update (PGconn              *conn,
                      const char          *id,
                      const CdlPoolInput  *input,
                      GError             **error)
{
  g_autoptr(CdlPool) current = NULL;
  g_autoptr(PGresult) res = NULL;
  g_autofree char *items = NULL;
  g_autofree char *next = NULL;
  const char *mode;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (input != NULL, NULL);

  if (!cdl_pq_begin (conn, error))
    return NULL;

  /* Lock the pool row for the whole edit first, so that two edits of one
   * pool make versions n+1 and n+2, one after the other. */
  {
    const char *params[1] = { id };

    res = cdl_pq_exec (conn,
                       g_uuid_string_is_valid (id)
                         ? "SELECT id FROM variable_pools WHERE id = $1::uuid FOR UPDATE"
                         : "SELECT id FROM variable_pools WHERE name = $1 FOR UPDATE",
                       1, params, error);
    if (res == NULL)
      goto fail;
  }

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                   "No variable pool with id %s", id);
      goto fail;
    }

  current = get_one (conn, cdl_pq_get_string (res, 0, 0), 0, FALSE, error);
  if (current == NULL)
    goto fail;

  mode = cdl_pool_mode_to_string ((input->set & CDL_POOL_FIELD_MODE)
                                  ? input->mode : cdl_pool_get_mode (current));
  items = cdl_pq_strv_literal ((input->set & CDL_POOL_FIELD_ITEMS)
                               ? (const char * const *) input->items
                               : cdl_pool_get_items (current));
  next = g_strdup_printf ("%d", cdl_pool_get_version (current) + 1);

  {
    const char *params[4] = { cdl_pool_get_id (current), next, items, mode };

    if (!cdl_pq_command (conn,
                         "INSERT INTO variable_pool_versions (pool_id, version, items, mode)"
                         " VALUES ($1, $2::int, $3::text[], $4)",
                         4, params, error))
      goto fail;
  }

  {
    const char *params[3] = { cdl_pool_get_id (current), next, mode };

    if (!cdl_pq_command (conn,
                         "UPDATE variable_pools SET current_version = $2::int, mode = $3,"
                         " updated_at = now () WHERE id = $1",
                         3, params, error))
      goto fail;
  }

  if (!cdl_pq_commit (conn, error))
    return NULL;

  return get_one (conn, cdl_pool_get_id (current), 0, FALSE, error);

fail:
  cdl_pq_rollback (conn);
  return NULL;
}
