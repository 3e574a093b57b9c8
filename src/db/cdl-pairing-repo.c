/* cdl-pairing-repo.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include "db/cdl-pairing-repo.h"
#include "db/cdl-pq.h"

gboolean
cdl_pairing_repo_insert (PGconn      *conn,
                         const char  *code_hash,
                         const char  *label,
                         const char  *created_by,
                         guint        ttl_s,
                         gint64      *expires_at,
                         GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *ttl = g_strdup_printf ("%u", ttl_s);
  const char *params[4] = { code_hash, label, created_by, ttl };

  if (created_by != NULL && !g_uuid_string_is_valid (created_by))
    params[2] = NULL;

  res = cdl_pq_exec (conn,
                     "INSERT INTO pairing_codes (code_hash, label, created_by, expires_at)"
                     " VALUES ($1, $2, $3, now () + make_interval (secs => $4::int))"
                     " RETURNING extract (epoch FROM expires_at)::bigint",
                     4, params, error);
  if (res == NULL)
    return FALSE;

  if (expires_at != NULL)
    *expires_at = cdl_pq_get_int64 (res, 0, 0);

  return TRUE;
}

CdlPairingOutcome
cdl_pairing_repo_redeem (PGconn      *conn,
                         const char  *code_hash,
                         char       **label,
                         GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autoptr(PGresult) why = NULL;
  const char *params[1] = { code_hash };

  /* The row lock of the UPDATE lets only one of racing redeems through. */
  res = cdl_pq_exec (conn,
                     "UPDATE pairing_codes SET used_at = now ()"
                     " WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now ()"
                     " RETURNING label",
                     1, params, error);
  if (res == NULL)
    return CDL_PAIRING_ERROR;

  if (PQntuples (res) == 1)
    {
      *label = g_strdup (cdl_pq_get_string (res, 0, 0));
      return CDL_PAIRING_REDEEMED;
    }

  why = cdl_pq_exec (conn,
                     "SELECT used_at IS NULL AND expires_at <= now ()"
                     " FROM pairing_codes WHERE code_hash = $1",
                     1, params, error);
  if (why == NULL)
    return CDL_PAIRING_ERROR;

  if (PQntuples (why) == 1 && cdl_pq_get_bool (why, 0, 0))
    return CDL_PAIRING_EXPIRED;

  return CDL_PAIRING_UNKNOWN;
}

gboolean
cdl_pairing_repo_set_user (PGconn      *conn,
                           const char  *code_hash,
                           const char  *user_id,
                           GError     **error)
{
  const char *params[2] = { code_hash, user_id };

  return cdl_pq_command (conn, "UPDATE pairing_codes SET user_id = $2 WHERE code_hash = $1",
                         2, params, error);
}

static CdlUser *
ensure_named (PGconn      *conn,
              const char  *name,
              GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { name };
  CdlRole role;

  /* The inserted row is invisible to the second SELECT of the same
   * statement, so exactly one row comes back unless a racing insert
   * committed in between; then the plain SELECT below finds it. */
  res = cdl_pq_exec (conn,
                     "WITH ins AS ("
                     "  INSERT INTO users (name, role) VALUES ($1, 'annotator')"
                     "  ON CONFLICT (name) DO NOTHING RETURNING id, name, role)"
                     " SELECT id, name, role FROM ins"
                     " UNION ALL SELECT id, name, role FROM users WHERE name = $1",
                     1, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      g_clear_pointer (&res, PQclear);
      res = cdl_pq_exec (conn, "SELECT id, name, role FROM users WHERE name = $1",
                         1, params, error);
      if (res == NULL)
        return NULL;
      if (PQntuples (res) == 0)
        {
          g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_FAILED,
                       "The user %s vanished while it was being paired", name);
          return NULL;
        }
    }

  if (!cdl_role_from_string (cdl_pq_get_string (res, 0, 2), &role))
    role = CDL_ROLE_ANNOTATOR;

  return cdl_user_new (cdl_pq_get_string (res, 0, 0), cdl_pq_get_string (res, 0, 1), role);
}

CdlUser *
cdl_pairing_repo_ensure_annotator (PGconn      *conn,
                                   const char  *name,
                                   const char  *suffix,
                                   GError     **error)
{
  g_autoptr(CdlUser) user = ensure_named (conn, name, error);
  g_autofree char *other = NULL;

  if (user == NULL || user->role == CDL_ROLE_ANNOTATOR)
    return g_steal_pointer (&user);

  /* Never demote an operator or admin who happens to share the name. */
  other = g_strdup_printf ("%s (%s)", name, suffix);
  g_clear_pointer (&user, cdl_user_free);
  user = ensure_named (conn, other, error);
  if (user != NULL && user->role != CDL_ROLE_ANNOTATOR)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_CONSTRAINT,
                   "The names %s and %s belong to users who are not annotators", name, other);
      return NULL;
    }

  return g_steal_pointer (&user);
}
