/* cdl-lease-repo.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include "db/cdl-lease-repo.h"
#include "db/cdl-pq.h"

gboolean
cdl_lease_repo_acquire (PGconn      *conn,
                        const char  *worker_id,
                        const char  *holder,
                        guint        lease_ms,
                        GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *ms = g_strdup_printf ("%u", lease_ms);
  const char *params[3] = { worker_id, holder, ms };

  g_return_val_if_fail (conn != NULL && holder != NULL, FALSE);

  if (worker_id == NULL || !g_uuid_string_is_valid (worker_id))
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No worker with id %s",
                   worker_id ? worker_id : "(none)");
      return FALSE;
    }

  /* The conflict arm only updates a row that is ours or has lapsed; any
   * other row stays, and no row comes back. */
  res = cdl_pq_exec (conn,
                     "INSERT INTO worker_leases (worker_id, holder, expires_at)"
                     " VALUES ($1, $2,"
                     "         now () + make_interval (secs => $3::double precision / 1000))"
                     " ON CONFLICT (worker_id) DO UPDATE"
                     "   SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at"
                     "   WHERE worker_leases.holder = EXCLUDED.holder"
                     "      OR worker_leases.expires_at < now ()"
                     " RETURNING holder",
                     3, params, error);
  if (res == NULL)
    return FALSE;

  return PQntuples (res) == 1;
}

gboolean
cdl_lease_repo_release (PGconn      *conn,
                        const char  *worker_id,
                        const char  *holder,
                        GError     **error)
{
  const char *params[2] = { holder, worker_id };

  g_return_val_if_fail (conn != NULL && holder != NULL, FALSE);

  if (worker_id == NULL)
    return cdl_pq_command (conn, "DELETE FROM worker_leases WHERE holder = $1",
                           1, params, error);

  return cdl_pq_command (conn,
                         "DELETE FROM worker_leases WHERE holder = $1 AND worker_id = $2::uuid",
                         2, params, error);
}

char *
cdl_lease_repo_get_holder (PGconn      *conn,
                           const char  *worker_id,
                           GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { worker_id };

  res = cdl_pq_exec (conn,
                     "SELECT holder FROM worker_leases"
                     " WHERE worker_id = $1::uuid AND expires_at > now ()",
                     1, params, error);
  if (res == NULL || PQntuples (res) == 0)
    return NULL;

  return g_strdup (cdl_pq_get_string (res, 0, 0));
}
