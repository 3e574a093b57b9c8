/* cdl-user-repo.c: users and their bearer tokens
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include <string.h>

#include "db/cdl-pq.h"
#include "db/cdl-user-repo.h"

static CdlUser *
cdl_user_repo_from_row (const PGresult  *res,
                        int              row,
                        GError         **error)
{
  const char *role_name = cdl_pq_get_string (res, row, 2);
  CdlRole role;

  if (!cdl_role_from_string (role_name, &role))
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_FAILED,
                   "Unknown role \"%s\" in the users table",
                   role_name != NULL ? role_name : "");
      return NULL;
    }

  return cdl_user_new (cdl_pq_get_string (res, row, 0),
                       cdl_pq_get_string (res, row, 1),
                       role);
}

CdlUser *
cdl_user_repo_ensure (PGconn      *conn,
                      const char  *name,
                      CdlRole      role,
                      GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[2];

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  params[0] = name;
  params[1] = cdl_role_to_string (role);

  if (params[1] == NULL)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_CONSTRAINT,
                   "Unknown role %d", (int) role);
      return NULL;
    }

  res = cdl_pq_exec (conn,
                     "INSERT INTO users (name, role) VALUES ($1, $2)"
                     " ON CONFLICT (name) DO UPDATE SET role = excluded.role"
                     " RETURNING id, name, role",
                     2, params, error);
  if (res == NULL)
    return NULL;

  return cdl_user_repo_from_row (res, 0, error);
}

gboolean
cdl_user_repo_add_token (PGconn      *conn,
                         const char  *user_id,
                         const char  *token_hash,
                         const char  *label,
                         GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[3] = { token_hash, user_id, label };

  g_return_val_if_fail (conn != NULL, FALSE);
  g_return_val_if_fail (user_id != NULL, FALSE);
  g_return_val_if_fail (token_hash != NULL, FALSE);

  if (!g_uuid_string_is_valid (user_id))
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                   "No user with id %s", user_id);
      return FALSE;
    }

  /* Selecting the user rather than relying on the foreign key tells an
   * unknown user apart from other constraint failures. */
  res = cdl_pq_exec (conn,
                     "INSERT INTO api_tokens (token_hash, user_id, label)"
                     " SELECT $1, id, $3 FROM users WHERE id = $2",
                     3, params, error);
  if (res == NULL)
    return FALSE;

  if (strcmp (PQcmdTuples (res), "1") != 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                   "No user with id %s", user_id);
      return FALSE;
    }

  return TRUE;
}

CdlUser *
cdl_user_repo_find_by_token (PGconn      *conn,
                             const char  *token_hash,
                             GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { token_hash };

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (token_hash != NULL, NULL);

  /* One round trip: the data-modifying part runs whether or not the outer
   * query reads it, and only writes when the last touch is stale. */
  res = cdl_pq_exec (conn,
                     "WITH touch AS ("
                     "  UPDATE api_tokens SET last_used_at = now ()"
                     "  WHERE token_hash = $1 AND revoked_at IS NULL"
                     "    AND (last_used_at IS NULL"
                     "         OR last_used_at < now () - interval '1 minute'))"
                     " SELECT u.id, u.name, u.role"
                     " FROM api_tokens t JOIN users u ON u.id = t.user_id"
                     " WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
                     1, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    return NULL;

  return cdl_user_repo_from_row (res, 0, error);
}

gboolean
cdl_user_repo_revoke_token (PGconn      *conn,
                            const char  *token_hash,
                            GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { token_hash };

  g_return_val_if_fail (conn != NULL, FALSE);
  g_return_val_if_fail (token_hash != NULL, FALSE);

  /* Revoking twice keeps the first time. */
  res = cdl_pq_exec (conn,
                     "UPDATE api_tokens"
                     " SET revoked_at = coalesce (revoked_at, now ())"
                     " WHERE token_hash = $1",
                     1, params, error);
  if (res == NULL)
    return FALSE;

  if (strcmp (PQcmdTuples (res), "0") == 0)
    {
      g_set_error_literal (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                           "No such token");
      return FALSE;
    }

  return TRUE;
}
