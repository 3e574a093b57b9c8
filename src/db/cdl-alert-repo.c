/* cdl-alert-repo.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include "db/cdl-alert-repo.h"
#include "db/cdl-pq.h"

#define ALERT_COLUMNS \
  "id, kind, subject, state, message, extract (epoch FROM created_at)," \
  " extract (epoch FROM cleared_at)"

void
cdl_alert_free (CdlAlert *alert)
{
  if (alert == NULL)
    return;

  g_free (alert->kind);
  g_free (alert->subject);
  g_free (alert->state);
  g_free (alert->message);
  g_clear_pointer (&alert->created_at, g_date_time_unref);
  g_clear_pointer (&alert->cleared_at, g_date_time_unref);
  g_free (alert);
}

static CdlAlert *
alert_from_row (const PGresult *res,
                int             row)
{
  CdlAlert *alert = g_new0 (CdlAlert, 1);

  alert->id = cdl_pq_get_int64 (res, row, 0);
  alert->kind = g_strdup (cdl_pq_get_string (res, row, 1));
  alert->subject = g_strdup (cdl_pq_get_string (res, row, 2));
  alert->state = g_strdup (cdl_pq_get_string (res, row, 3));
  alert->message = g_strdup (cdl_pq_get_string (res, row, 4));
  alert->created_at = cdl_pq_get_epoch (res, row, 5);
  alert->cleared_at = cdl_pq_get_epoch (res, row, 6);

  return alert;
}

static GPtrArray *
alerts_from_result (const PGresult *res)
{
  GPtrArray *alerts = g_ptr_array_new_with_free_func ((GDestroyNotify)cdl_alert_free);

  for (int i = 0; i < PQntuples (res); i++)
    g_ptr_array_add (alerts, alert_from_row (res, i));

  return alerts;
}

CdlAlertSet *
cdl_alert_set_new (void)
{
  CdlAlertSet *set = g_new0 (CdlAlertSet, 1);

  set->subjects = g_ptr_array_new_with_free_func (g_free);
  set->messages = g_ptr_array_new_with_free_func (g_free);

  return set;
}

void
cdl_alert_set_add (CdlAlertSet *set,
                   const char  *subject,
                   const char  *message)
{
  g_return_if_fail (set != NULL && subject != NULL && message != NULL);

  g_ptr_array_add (set->subjects, g_strdup (subject));
  g_ptr_array_add (set->messages, g_strdup (message));
}

void
cdl_alert_set_free (CdlAlertSet *set)
{
  if (set == NULL)
    return;

  g_ptr_array_unref (set->subjects);
  g_ptr_array_unref (set->messages);
  g_free (set);
}

static char *
array_literal (GPtrArray *strings)
{
  g_ptr_array_add (strings, NULL);
  g_autofree char *literal = cdl_pq_strv_literal ((const char * const *)strings->pdata);
  g_ptr_array_remove_index (strings, strings->len - 1);

  return g_steal_pointer (&literal);
}

GPtrArray *
cdl_alert_repo_apply (PGconn             *conn,
                      const char         *kind,
                      const CdlAlertSet  *firing,
                      const char * const *scope,
                      GError            **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *subjects = NULL;
  g_autofree char *messages = NULL;
  g_autofree char *scope_literal = NULL;
  const char *params[4];

  g_return_val_if_fail (conn != NULL && kind != NULL && firing != NULL, NULL);

  subjects = array_literal (firing->subjects);
  messages = array_literal (firing->messages);
  if (scope != NULL)
    scope_literal = cdl_pq_strv_literal (scope);

  params[0] = kind;
  params[1] = subjects;
  params[2] = messages;
  params[3] = scope_literal;

  /* The conflict arm makes a second instance's insert a no-op; the
   * update re-checks state = 'firing' after waiting for the row lock, so
   * a clear is made once too. */
  res = cdl_pq_exec (conn,
                     "WITH cur AS ("
                     "  SELECT s, m FROM unnest ($2::text[], $3::text[]) AS c (s, m)),"
                     " ins AS ("
                     "  INSERT INTO alerts (kind, subject, state, message)"
                     "  SELECT $1, s, 'firing', m FROM cur"
                     "  ON CONFLICT (kind, subject) WHERE state = 'firing' DO NOTHING"
                     "  RETURNING *),"
                     " clr AS ("
                     "  UPDATE alerts SET state = 'cleared', cleared_at = now ()"
                     "  WHERE kind = $1 AND state = 'firing'"
                     "    AND NOT (subject = ANY ($2::text[]))"
                     "    AND ($4::text[] IS NULL OR subject = ANY ($4::text[]))"
                     "  RETURNING *)"
                     " SELECT " ALERT_COLUMNS " FROM ins"
                     " UNION ALL SELECT " ALERT_COLUMNS " FROM clr"
                     " ORDER BY 1",
                     4, params, error);
  if (res == NULL)
    return NULL;

  return alerts_from_result (res);
}

GPtrArray *
cdl_alert_repo_list (PGconn    *conn,
                     guint      limit,
                     gboolean   firing_only,
                     GError   **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *limit_text = g_strdup_printf ("%u", limit);
  const char *params[2] = { limit_text, firing_only ? "t" : "f" };

  res = cdl_pq_exec (conn,
                     "SELECT " ALERT_COLUMNS " FROM alerts"
                     " WHERE NOT $2::boolean OR state = 'firing'"
                     " ORDER BY created_at DESC, id DESC LIMIT $1::integer",
                     2, params, error);
  if (res == NULL)
    return NULL;

  return alerts_from_result (res);
}

CdlAlert *
cdl_alert_repo_get (PGconn  *conn,
                    gint64   id,
                    GError **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  const char *params[1] = { id_text };

  res = cdl_pq_exec (conn, "SELECT " ALERT_COLUMNS " FROM alerts WHERE id = $1::bigint",
                     1, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND, "No alert with id %s", id_text);
      return NULL;
    }

  return alert_from_row (res, 0);
}

/* Two columns, subject and message, into a set. */
static CdlAlertSet *
set_from_query (PGconn              *conn,
                const char          *sql,
                int                  n_params,
                const char * const  *params,
                GError             **error)
{
  g_autoptr(PGresult) res = cdl_pq_exec (conn, sql, n_params, params, error);
  CdlAlertSet *set;

  if (res == NULL)
    return NULL;

  set = cdl_alert_set_new ();
  for (int i = 0; i < PQntuples (res); i++)
    cdl_alert_set_add (set, cdl_pq_get_string (res, i, 0), cdl_pq_get_string (res, i, 1));

  return set;
}

CdlAlertSet *
cdl_alert_repo_unhealthy_workers (PGconn  *conn,
                                  GError **error)
{
  return set_from_query (conn,
                         "SELECT id::text, format ('Worker %s is unhealthy%s', name,"
                         "       coalesce (': ' || last_error, ''))"
                         " FROM workers WHERE enabled AND status = 'UNHEALTHY'"
                         "   AND last_checked_at IS NOT NULL",
                         0, NULL, error);
}

CdlAlertSet *
cdl_alert_repo_failing_workers (PGconn  *conn,
                                guint    window_s,
                                guint    min_failures,
                                GError **error)
{
  g_autofree char *window = g_strdup_printf ("%u", window_s);
  g_autofree char *minimum = g_strdup_printf ("%u", min_failures);
  const char *params[2] = { window, minimum };

  return set_from_query (conn,
                         "WITH recent AS ("
                         "  SELECT j.worker_id,"
                         "    count (*) FILTER (WHERE j.state IN ('failed', 'partial_failed')"
                         "      AND EXISTS (SELECT 1 FROM jobs o"
                         "                  WHERE o.prompt_id = j.prompt_id"
                         "                    AND o.state = 'done'"
                         "                    AND o.worker_id <> j.worker_id)) AS bad,"
                         "    count (*) FILTER (WHERE j.state = 'done') AS good"
                         "  FROM jobs j"
                         "  WHERE j.worker_id IS NOT NULL"
                         "    AND j.finished_at > now () - make_interval (secs => $1::integer)"
                         "  GROUP BY j.worker_id)"
                         " SELECT w.id::text,"
                         "   format ('Worker %s failed %s jobs in the last %s minutes that"
                         " succeeded on other workers', w.name, r.bad,"
                         "           round ($1::integer / 60.0))"
                         " FROM recent r JOIN workers w ON w.id = r.worker_id"
                         " WHERE r.bad >= $2::integer AND r.bad > r.good",
                         2, params, error);
}

CdlAlertSet *
cdl_alert_repo_stalled_tasks (PGconn  *conn,
                              guint    stall_s,
                              GError **error)
{
  g_autofree char *stall = g_strdup_printf ("%u", stall_s);
  const char *params[1] = { stall };

  return set_from_query (conn,
                         "SELECT t.id::text,"
                         "  format ('Task %s has %s jobs waiting and none finished for %s s',"
                         "          coalesce (t.name, t.id::text), a.waiting,"
                         "          round (extract (epoch FROM now () - a.moved)))"
                         " FROM tasks t"
                         " CROSS JOIN LATERAL ("
                         "   SELECT count (*) FILTER (WHERE j.state IN"
                         "            ('queued', 'submitted', 'running')) AS waiting,"
                         "          greatest (max (j.finished_at), max (j.created_at)) AS moved"
                         "   FROM jobs j WHERE j.task_id = t.id AND j.kind = 'mass') a"
                         " WHERE t.state = 'RUNNING' AND a.waiting > 0"
                         "   AND a.moved < now () - make_interval (secs => $1::integer)",
                         1, params, error);
}

CdlAlertSet *
cdl_alert_repo_default_partition (PGconn  *conn,
                                  GError **error)
{
  return set_from_query (conn,
                         "SELECT 'generations_default',"
                         "  format ('The default partition of generations holds %s rows: a"
                         " monthly partition is missing', count (*))"
                         " FROM generations_default HAVING count (*) > 0",
                         0, NULL, error);
}

int
cdl_alert_repo_ensure_partitions (PGconn    *conn,
                                  int        months_ahead,
                                  gboolean  *locked,
                                  GError   **error)
{
  g_autoptr(PGresult) lock = NULL;
  g_autoptr(PGresult) res = NULL;
  g_autofree char *months = g_strdup_printf ("%d", months_ahead);
  const char *params[1] = { months };
  int created;

  *locked = FALSE;

  lock = cdl_pq_exec (conn,
                      "SELECT pg_try_advisory_lock (hashtext ('cdl_maintenance_tick'))",
                      0, NULL, error);
  if (lock == NULL)
    return -1;
  if (!cdl_pq_get_bool (lock, 0, 0))
    return 0;

  *locked = TRUE;
  res = cdl_pq_exec (conn, "SELECT cdl_ensure_generation_partitions ($1::integer)",
                     1, params, error);
  created = res != NULL ? cdl_pq_get_int (res, 0, 0) : -1;

  /* A session lock: give it back whatever happened. */
  cdl_pq_command (conn, "SELECT pg_advisory_unlock (hashtext ('cdl_maintenance_tick'))",
                  0, NULL, NULL);

  return created;
}
