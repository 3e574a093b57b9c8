/* cdl-abtest-repo.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include <math.h>

#include "db/cdl-abtest-repo.h"
#include "db/cdl-pq.h"

#define TEST_COLUMNS \
  "id, name, variants::text, coalesce (extract (epoch FROM expires_at)::bigint, 0)," \
  " extract (epoch FROM created_at)::bigint, coalesce (expires_at <= now (), false)"

void
cdl_ab_test_row_free (CdlAbTestRow *row)
{
  if (row == NULL)
    return;

  g_free (row->id);
  g_free (row->name);
  g_free (row->variants);
  g_free (row);
}

static CdlAbTestRow *
row_from (const PGresult *res,
          int             i)
{
  CdlAbTestRow *row = g_new0 (CdlAbTestRow, 1);

  row->id = g_strdup (cdl_pq_get_string (res, i, 0));
  row->name = g_strdup (cdl_pq_get_string (res, i, 1));
  row->variants = g_strdup (cdl_pq_get_string (res, i, 2));
  row->expires_at = cdl_pq_get_int64 (res, i, 3);
  row->created_at = cdl_pq_get_int64 (res, i, 4);
  row->expired = cdl_pq_get_bool (res, i, 5);

  return row;
}

CdlAbTestRow *
cdl_abtest_repo_insert (PGconn      *conn,
                        const char  *name,
                        const char  *variants,
                        gint64       expires_at,
                        GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *expires = expires_at > 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, expires_at)
                                            : NULL;
  const char *params[3] = { name, variants, expires };

  res = cdl_pq_exec (conn,
                     "INSERT INTO ab_tests (name, variants, expires_at)"
                     " VALUES ($1, $2::jsonb, to_timestamp ($3::bigint))"
                     " RETURNING " TEST_COLUMNS,
                     3, params, error);
  if (res == NULL)
    return NULL;

  return row_from (res, 0);
}

CdlAbTestRow *
cdl_abtest_repo_find (PGconn      *conn,
                      const char  *name,
                      const char  *id,
                      GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { name != NULL ? name : id };

  if (name == NULL && (id == NULL || !g_uuid_string_is_valid (id)))
    return NULL;

  res = cdl_pq_exec (conn,
                     name != NULL
                     ? "SELECT " TEST_COLUMNS " FROM ab_tests WHERE name = $1"
                     : "SELECT " TEST_COLUMNS " FROM ab_tests WHERE id = $1::uuid",
                     1, params, error);
  if (res == NULL || PQntuples (res) == 0)
    return NULL;

  return row_from (res, 0);
}

GPtrArray *
cdl_abtest_repo_list (PGconn  *conn,
                      GError **error)
{
  g_autoptr(PGresult) res = NULL;
  GPtrArray *rows;

  res = cdl_pq_exec (conn,
                     "SELECT " TEST_COLUMNS " FROM ab_tests ORDER BY created_at DESC, name",
                     0, NULL, error);
  if (res == NULL)
    return NULL;

  rows = g_ptr_array_new_with_free_func ((GDestroyNotify)cdl_ab_test_row_free);
  for (int i = 0; i < PQntuples (res); i++)
    g_ptr_array_add (rows, row_from (res, i));

  return rows;
}

char *
cdl_abtest_repo_assignment (PGconn      *conn,
                            const char  *test_id,
                            const char  *user_id,
                            gboolean    *user_exists,
                            GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[2] = { test_id, user_id };

  *user_exists = FALSE;
  if (!g_uuid_string_is_valid (user_id))
    return NULL;

  res = cdl_pq_exec (conn,
                     "SELECT EXISTS (SELECT 1 FROM users WHERE id = $2::uuid),"
                     "  (SELECT variant_key FROM ab_assignments"
                     "   WHERE test_id = $1::uuid AND user_id = $2::uuid)",
                     2, params, error);
  if (res == NULL)
    return NULL;

  *user_exists = cdl_pq_get_bool (res, 0, 0);
  return g_strdup (cdl_pq_get_string (res, 0, 1));
}

char *
cdl_abtest_repo_assign (PGconn      *conn,
                        const char  *test_id,
                        const char  *user_id,
                        const char  *variant_key,
                        GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[3] = { test_id, user_id, variant_key };

  /* The statement's own insert is invisible to its second SELECT, so one
   * row comes back: the new one or the one that was there. */
  res = cdl_pq_exec (conn,
                     "WITH ins AS ("
                     "  INSERT INTO ab_assignments (test_id, user_id, variant_key)"
                     "  VALUES ($1::uuid, $2::uuid, $3)"
                     "  ON CONFLICT (test_id, user_id) DO NOTHING RETURNING variant_key)"
                     " SELECT variant_key FROM ins"
                     " UNION ALL SELECT variant_key FROM ab_assignments"
                     " WHERE test_id = $1::uuid AND user_id = $2::uuid",
                     3, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      /* A racing insert committed after this statement's snapshot was
       * taken: it is visible to the next one. */
      g_clear_pointer (&res, PQclear);
      res = cdl_pq_exec (conn,
                         "SELECT variant_key FROM ab_assignments"
                         " WHERE test_id = $1::uuid AND user_id = $2::uuid",
                         2, params, error);
      if (res == NULL)
        return NULL;
      if (PQntuples (res) == 0)
        {
          g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_FAILED,
                       "The assignment of user %s vanished while it was made", user_id);
          return NULL;
        }
    }

  return g_strdup (cdl_pq_get_string (res, 0, 0));
}

gboolean
cdl_abtest_repo_add_events (PGconn              *conn,
                            const char          *test_id,
                            const char          *user_id,
                            const char          *variant_key,
                            const char * const  *kinds,
                            const char * const  *values,
                            GError             **error)
{
  g_autofree char *kinds_text = cdl_pq_strv_literal (kinds);
  g_autofree char *values_text = cdl_pq_strv_literal (values);
  const char *params[5] = { test_id, user_id, variant_key, kinds_text, values_text };

  return cdl_pq_command (conn,
                         "INSERT INTO ab_events (test_id, user_id, variant_key, kind, value)"
                         " SELECT $1::uuid, $2::uuid, $3, e.kind, e.value::jsonb"
                         " FROM unnest ($4::text[], $5::text[]) AS e (kind, value)",
                         5, params, error);
}

CdlAbVariantResult *
cdl_abtest_repo_results (PGconn              *conn,
                         const char          *test_id,
                         const char * const  *keys,
                         GError             **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *keys_text = cdl_pq_strv_literal (keys);
  const char *params[2] = { test_id, keys_text };
  guint n = g_strv_length ((char **)keys);
  CdlAbVariantResult *out;

#define EVENTS(kind) \
  " FROM ab_events e WHERE e.test_id = $1::uuid AND e.variant_key = v.k AND e.kind = '" kind "'"

  res = cdl_pq_exec (conn,
                     "SELECT"
                     "  (SELECT count (*) FROM ab_assignments s"
                     "   WHERE s.test_id = $1::uuid AND s.variant_key = v.k),"
                     "  (SELECT count (*) FROM ab_assignments s"
                     "   JOIN annotations a ON a.user_id = s.user_id"
                     "                     AND a.variant_key = s.variant_key"
                     "   WHERE s.test_id = $1::uuid AND s.variant_key = v.k),"
                     "  (SELECT percentile_cont (0.5) WITHIN GROUP"
                     "     (ORDER BY (e.value ->> 'ms')::float8)" EVENTS ("decision") "),"
                     "  (SELECT count (*)" EVENTS ("decision") "),"
                     "  (SELECT percentile_cont (0.5) WITHIN GROUP"
                     "     (ORDER BY (e.value ->> 'ms')::float8)" EVENTS ("image_wait") "),"
                     "  (SELECT count (*)" EVENTS ("image_wait") "),"
                     "  (SELECT count (*)" EVENTS ("prefetch")
                     "     AND (e.value ->> 'hit')::boolean),"
                     "  (SELECT count (*)" EVENTS ("prefetch")
                     "     AND NOT (e.value ->> 'hit')::boolean)"
                     " FROM unnest ($2::text[]) WITH ORDINALITY AS v (k, i) ORDER BY v.i",
                     2, params, error);
#undef EVENTS
  if (res == NULL)
    return NULL;

  out = g_new0 (CdlAbVariantResult, MAX (n, 1));
  for (guint i = 0; i < n && (int)i < PQntuples (res); i++)
    {
      out[i].users = cdl_pq_get_int64 (res, i, 0);
      out[i].labels = cdl_pq_get_int64 (res, i, 1);
      out[i].decision_n = cdl_pq_get_int64 (res, i, 3);
      out[i].decision_median = out[i].decision_n > 0
                               ? g_ascii_strtod (cdl_pq_get_string (res, i, 2), NULL) : NAN;
      out[i].wait_n = cdl_pq_get_int64 (res, i, 5);
      out[i].wait_median = out[i].wait_n > 0
                           ? g_ascii_strtod (cdl_pq_get_string (res, i, 4), NULL) : NAN;
      out[i].prefetch_hits = cdl_pq_get_int64 (res, i, 6);
      out[i].prefetch_misses = cdl_pq_get_int64 (res, i, 7);
    }

  return out;
}
