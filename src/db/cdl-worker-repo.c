/* cdl-worker-repo.c: the workers table
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include "core/cdl-health-policy.h"
#include "db/cdl-pq.h"
#include "db/cdl-worker-repo.h"

/* The columns cdl_worker_repo_from_row() reads, in its order. */
#define WORKER_COLUMNS \
  "id, name, base_url, enabled, status, priority, max_concurrent_jobs," \
  " current_queue_len, consecutive_failures, last_error," \
  " extract (epoch FROM last_checked_at), tags," \
  " extract (epoch FROM created_at), extract (epoch FROM updated_at)"

enum
{
  COL_ID,
  COL_NAME,
  COL_BASE_URL,
  COL_ENABLED,
  COL_STATUS,
  COL_PRIORITY,
  COL_MAX_CONCURRENT_JOBS,
  COL_CURRENT_QUEUE_LEN,
  COL_CONSECUTIVE_FAILURES,
  COL_LAST_ERROR,
  COL_LAST_CHECKED_AT,
  COL_TAGS,
  COL_CREATED_AT,
  COL_UPDATED_AT,
};

static CdlWorker *
cdl_worker_repo_from_row (const PGresult *res,
                          int             row)
{
  CdlWorkerData data = { 0 };

  data.id = g_strdup (cdl_pq_get_string (res, row, COL_ID));
  data.name = g_strdup (cdl_pq_get_string (res, row, COL_NAME));
  data.base_url = g_strdup (cdl_pq_get_string (res, row, COL_BASE_URL));
  data.enabled = cdl_pq_get_bool (res, row, COL_ENABLED);

  if (!cdl_worker_status_from_string (cdl_pq_get_string (res, row, COL_STATUS),
                                      &data.status))
    data.status = CDL_WORKER_STATUS_UNHEALTHY;

  data.priority = cdl_pq_get_int (res, row, COL_PRIORITY);
  data.max_concurrent_jobs = cdl_pq_get_int (res, row, COL_MAX_CONCURRENT_JOBS);
  data.current_queue_len = cdl_pq_get_int (res, row, COL_CURRENT_QUEUE_LEN);
  data.consecutive_failures = cdl_pq_get_int (res, row, COL_CONSECUTIVE_FAILURES);
  data.last_error = g_strdup (cdl_pq_get_string (res, row, COL_LAST_ERROR));
  data.last_checked_at = cdl_pq_get_epoch (res, row, COL_LAST_CHECKED_AT);
  data.tags = cdl_pq_get_strv (res, row, COL_TAGS);
  data.created_at = cdl_pq_get_epoch (res, row, COL_CREATED_AT);
  data.updated_at = cdl_pq_get_epoch (res, row, COL_UPDATED_AT);

  return cdl_worker_new (&data);
}

static GPtrArray *
cdl_worker_repo_from_result (const PGresult *res)
{
  GPtrArray *workers = g_ptr_array_new_with_free_func (g_object_unref);

  for (int row = 0; row < PQntuples (res); row++)
    g_ptr_array_add (workers, cdl_worker_repo_from_row (res, row));

  return workers;
}

static void
cdl_worker_repo_set_not_found (const char  *id,
                               GError     **error)
{
  g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
               "No worker with id %s", id);
}

/* The table has one unique column besides the id, so a UNIQUE error is a
 * name taken by another worker. */
static void
cdl_worker_repo_explain_unique (GError     **error,
                                const char  *name)
{
  if (error == NULL || *error == NULL || name == NULL)
    return;

  if (g_error_matches (*error, CDL_DB_ERROR, CDL_DB_ERROR_UNIQUE))
    {
      g_clear_error (error);
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_UNIQUE,
                   "A worker named \"%s\" already exists", name);
    }
}

GPtrArray *
cdl_worker_repo_list (PGconn  *conn,
                      GError **error)
{
  g_autoptr(PGresult) res = NULL;

  g_return_val_if_fail (conn != NULL, NULL);

  res = cdl_pq_exec (conn,
                     "SELECT " WORKER_COLUMNS " FROM workers"
                     " ORDER BY priority DESC, name",
                     0, NULL, error);
  if (res == NULL)
    return NULL;

  return cdl_worker_repo_from_result (res);
}

CdlWorker *
cdl_worker_repo_get (PGconn      *conn,
                     const char  *id,
                     GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { id };

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  /* A malformed id names no worker; the server would call it bad input. */
  if (!g_uuid_string_is_valid (id))
    {
      cdl_worker_repo_set_not_found (id, error);
      return NULL;
    }

  res = cdl_pq_exec (conn,
                     "SELECT " WORKER_COLUMNS " FROM workers WHERE id = $1",
                     1, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      cdl_worker_repo_set_not_found (id, error);
      return NULL;
    }

  return cdl_worker_repo_from_row (res, 0);
}

/* Statement text and parameters built from the fields set in an input.
 * Only fixed column names go into the text; every value is a parameter. */
typedef struct
{
  GString   *columns;
  GString   *values;
  GString   *assignments;
  GPtrArray *params;
} CdlWorkerFieldList;

static void
cdl_worker_field_list_clear (CdlWorkerFieldList *list)
{
  if (list->columns != NULL)
    g_string_free (list->columns, TRUE);
  if (list->values != NULL)
    g_string_free (list->values, TRUE);
  if (list->assignments != NULL)
    g_string_free (list->assignments, TRUE);
  g_clear_pointer (&list->params, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CdlWorkerFieldList, cdl_worker_field_list_clear)

static void
cdl_worker_field_list_init (CdlWorkerFieldList *list,
                            guint               n_leading)
{
  list->columns = g_string_new (NULL);
  list->values = g_string_new (NULL);
  list->assignments = g_string_new (NULL);
  list->params = g_ptr_array_new_with_free_func (g_free);

  /* Placeholders for parameters the caller puts first (the id). */
  for (guint i = 0; i < n_leading; i++)
    g_ptr_array_add (list->params, NULL);
}

/* Takes @value. */
static void
cdl_worker_field_list_add (CdlWorkerFieldList *list,
                           const char         *column,
                           const char         *cast,
                           char               *value)
{
  guint n;

  g_ptr_array_add (list->params, value);
  n = list->params->len;

  if (list->columns->len > 0)
    {
      g_string_append (list->columns, ", ");
      g_string_append (list->values, ", ");
      g_string_append (list->assignments, ", ");
    }

  g_string_append (list->columns, column);
  g_string_append_printf (list->values, "$%u::%s", n, cast);
  g_string_append_printf (list->assignments, "%s = $%u::%s", column, n, cast);
}

static void
cdl_worker_field_list_fill (CdlWorkerFieldList   *list,
                            const CdlWorkerInput *input)
{
  if (input->set & CDL_WORKER_FIELD_NAME)
    cdl_worker_field_list_add (list, "name", "text", g_strdup (input->name));

  if (input->set & CDL_WORKER_FIELD_BASE_URL)
    cdl_worker_field_list_add (list, "base_url", "text",
                               g_strdup (input->base_url));

  if (input->set & CDL_WORKER_FIELD_PRIORITY)
    cdl_worker_field_list_add (list, "priority", "integer",
                               g_strdup_printf ("%d", input->priority));

  if (input->set & CDL_WORKER_FIELD_MAX_CONCURRENT_JOBS)
    cdl_worker_field_list_add (list, "max_concurrent_jobs", "integer",
                               g_strdup_printf ("%d",
                                                input->max_concurrent_jobs));

  if (input->set & CDL_WORKER_FIELD_TAGS)
    cdl_worker_field_list_add (list, "tags", "text[]",
                               cdl_pq_strv_literal ((const char * const *)
                                                    input->tags));

  if (input->set & CDL_WORKER_FIELD_ENABLED)
    cdl_worker_field_list_add (list, "enabled", "boolean",
                               g_strdup (input->enabled ? "true" : "false"));
}

CdlWorker *
cdl_worker_repo_insert (PGconn                *conn,
                        const CdlWorkerInput  *input,
                        GError               **error)
{
  g_auto(CdlWorkerFieldList) list = { 0 };
  g_autoptr(PGresult) res = NULL;
  g_autofree char *sql = NULL;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (input != NULL, NULL);

  cdl_worker_field_list_init (&list, 0);
  cdl_worker_field_list_fill (&list, input);

  if (list.params->len == 0)
    sql = g_strdup ("INSERT INTO workers DEFAULT VALUES"
                    " RETURNING " WORKER_COLUMNS);
  else
    sql = g_strdup_printf ("INSERT INTO workers (%s) VALUES (%s)"
                           " RETURNING " WORKER_COLUMNS,
                           list.columns->str, list.values->str);

  res = cdl_pq_exec (conn, sql, list.params->len,
                     (const char * const *) list.params->pdata, error);
  if (res == NULL)
    {
      cdl_worker_repo_explain_unique (error, input->name);
      return NULL;
    }

  return cdl_worker_repo_from_row (res, 0);
}

CdlWorker *
cdl_worker_repo_update (PGconn                *conn,
                        const char            *id,
                        const CdlWorkerInput  *input,
                        GError               **error)
{
  g_auto(CdlWorkerFieldList) list = { 0 };
  g_autoptr(PGresult) res = NULL;
  g_autofree char *sql = NULL;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (input != NULL, NULL);

  if (!g_uuid_string_is_valid (id))
    {
      cdl_worker_repo_set_not_found (id, error);
      return NULL;
    }

  cdl_worker_field_list_init (&list, 1);
  list.params->pdata[0] = g_strdup (id);
  cdl_worker_field_list_fill (&list, input);

  /* Nothing to change still answers with the row, and NOT_FOUND for an
   * unknown id. */
  if (list.assignments->len == 0)
    return cdl_worker_repo_get (conn, id, error);

  sql = g_strdup_printf ("UPDATE workers SET %s, updated_at = now ()"
                         " WHERE id = $1 RETURNING " WORKER_COLUMNS,
                         list.assignments->str);

  res = cdl_pq_exec (conn, sql, list.params->len,
                     (const char * const *) list.params->pdata, error);
  if (res == NULL)
    {
      cdl_worker_repo_explain_unique (error, input->name);
      return NULL;
    }

  if (PQntuples (res) == 0)
    {
      cdl_worker_repo_set_not_found (id, error);
      return NULL;
    }

  return cdl_worker_repo_from_row (res, 0);
}

GPtrArray *
cdl_worker_repo_claim_due (PGconn  *conn,
                           guint    interval_ms,
                           guint    claim_ms,
                           GError **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *interval = g_strdup_printf ("%u", interval_ms);
  g_autofree char *claim = g_strdup_printf ("%u", claim_ms);
  const char *params[2] = { interval, claim };

  g_return_val_if_fail (conn != NULL, NULL);

  res = cdl_pq_exec (conn,
                     "UPDATE workers"
                     " SET health_claimed_until = now ()"
                     "   + make_interval (secs => $2::double precision / 1000)"
                     " WHERE id IN ("
                     "   SELECT id FROM workers"
                     "   WHERE enabled"
                     "     AND (last_checked_at IS NULL"
                     "          OR last_checked_at <= now ()"
                     "             - make_interval (secs => $1::double precision / 1000))"
                     "     AND (health_claimed_until IS NULL"
                     "          OR health_claimed_until < now ())"
                     "   FOR UPDATE SKIP LOCKED)"
                     " RETURNING " WORKER_COLUMNS,
                     2, params, error);
  if (res == NULL)
    return NULL;

  return cdl_worker_repo_from_result (res);
}

CdlWorker *
cdl_worker_repo_record_probe (PGconn      *conn,
                              const char  *id,
                              gboolean     probe_ok,
                              int          queue_len,
                              const char  *error_text,
                              gboolean    *status_changed,
                              GError     **error)
{
  g_autoptr(PGresult) current = NULL;
  g_autoptr(PGresult) updated = NULL;
  g_autofree char *failures = NULL;
  g_autofree char *queue = NULL;
  const char *lock_params[1] = { id };
  const char *params[6];
  CdlHealthState before;
  CdlHealthState after;
  CdlWorker *worker;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  if (status_changed != NULL)
    *status_changed = FALSE;

  if (!g_uuid_string_is_valid (id))
    {
      cdl_worker_repo_set_not_found (id, error);
      return NULL;
    }

  if (!cdl_pq_begin (conn, error))
    return NULL;

  current = cdl_pq_exec (conn,
                         "SELECT status, consecutive_failures FROM workers"
                         " WHERE id = $1 FOR UPDATE",
                         1, lock_params, error);
  if (current == NULL)
    goto fail;

  if (PQntuples (current) == 0)
    {
      cdl_worker_repo_set_not_found (id, error);
      goto fail;
    }

  if (!cdl_worker_status_from_string (cdl_pq_get_string (current, 0, 0),
                                      &before.status))
    before.status = CDL_WORKER_STATUS_UNHEALTHY;
  before.consecutive_failures = cdl_pq_get_int (current, 0, 1);

  after = cdl_health_policy_apply (before, probe_ok);

  failures = g_strdup_printf ("%d", after.consecutive_failures);
  queue = g_strdup_printf ("%d", MAX (queue_len, 0));

  params[0] = id;
  params[1] = cdl_worker_status_to_string (after.status);
  params[2] = failures;
  params[3] = probe_ok ? "true" : "false";
  params[4] = queue;
  params[5] = error_text;

  /* updated_at follows the registry and the status, not every probe. */
  updated = cdl_pq_exec (conn,
                         "UPDATE workers"
                         " SET updated_at = CASE WHEN status <> $2"
                         "                  THEN now () ELSE updated_at END,"
                         "     status = $2,"
                         "     consecutive_failures = $3::integer,"
                         "     current_queue_len = CASE WHEN $4::boolean"
                         "       THEN $5::integer ELSE current_queue_len END,"
                         "     last_error = $6,"
                         "     last_checked_at = now (),"
                         "     health_claimed_until = NULL"
                         " WHERE id = $1 RETURNING " WORKER_COLUMNS,
                         6, params, error);
  if (updated == NULL)
    goto fail;

  if (!cdl_pq_commit (conn, error))
    goto fail;

  worker = cdl_worker_repo_from_row (updated, 0);

  if (status_changed != NULL)
    *status_changed = before.status != after.status;

  return worker;

fail:
  cdl_pq_rollback (conn);

  return NULL;
}

int
cdl_worker_repo_count_healthy (PGconn  *conn,
                               GError **error)
{
  g_autoptr(PGresult) res = NULL;

  g_return_val_if_fail (conn != NULL, -1);

  res = cdl_pq_exec (conn,
                     "SELECT count(*) FROM workers"
                     " WHERE enabled AND status = 'HEALTHY'",
                     0, NULL, error);
  if (res == NULL)
    return -1;

  return cdl_pq_get_int (res, 0, 0);
}

gboolean
cdl_worker_repo_node_types_due (PGconn      *conn,
                                const char  *id,
                                guint        max_age_s,
                                GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  g_autofree char *age = g_strdup_printf ("%u", max_age_s);
  const char *params[2] = { id, age };

  g_return_val_if_fail (conn != NULL, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  if (!g_uuid_string_is_valid (id))
    return FALSE;

  res = cdl_pq_exec (conn,
                     "SELECT node_types IS NULL OR node_types_checked_at IS NULL"
                     "   OR node_types_checked_at <= now ()"
                     "      - make_interval (secs => $2::double precision)"
                     " FROM workers WHERE id = $1",
                     2, params, error);
  if (res == NULL || PQntuples (res) == 0)
    return FALSE;

  return cdl_pq_get_bool (res, 0, 0);
}

gboolean
cdl_worker_repo_set_node_types (PGconn             *conn,
                                const char         *id,
                                const char * const *node_types,
                                const char * const *api_node_types,
                                GError            **error)
{
  g_autofree char *literal = NULL;
  g_autofree char *api_literal = NULL;
  const char *params[3];

  g_return_val_if_fail (conn != NULL, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  if (!g_uuid_string_is_valid (id))
    {
      cdl_worker_repo_set_not_found (id, error);
      return FALSE;
    }

  literal = cdl_pq_strv_literal (node_types);
  api_literal = cdl_pq_strv_literal (api_node_types);
  params[0] = id;
  params[1] = literal;
  params[2] = api_literal;

  return cdl_pq_command (conn,
                         "UPDATE workers SET node_types = $2::text[],"
                         "   api_node_types = $3::text[],"
                         "   node_types_checked_at = now ()"
                         " WHERE id = $1",
                         3, params, error);
}

GHashTable *
cdl_worker_repo_healthy_node_types (PGconn  *conn,
                                    GError **error)
{
  g_autoptr(PGresult) res = NULL;
  GHashTable *catalog;

  g_return_val_if_fail (conn != NULL, NULL);

  res = cdl_pq_exec (conn,
                     "SELECT id, node_types FROM workers"
                     " WHERE enabled AND status = 'HEALTHY'"
                     "   AND node_types IS NOT NULL",
                     0, NULL, error);
  if (res == NULL)
    return NULL;

  catalog = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                   (GDestroyNotify) g_hash_table_unref);

  for (int row = 0; row < PQntuples (res); row++)
    {
      g_auto(GStrv) types = cdl_pq_get_strv (res, row, 1);
      GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

      for (guint i = 0; types[i] != NULL; i++)
        g_hash_table_add (set, g_steal_pointer (&types[i]));

      g_hash_table_insert (catalog, g_strdup (cdl_pq_get_string (res, row, 0)), set);
    }

  return catalog;
}

GHashTable *
cdl_worker_repo_healthy_api_node_types (PGconn  *conn,
                                        GError **error)
{
  g_autoptr(PGresult) res = NULL;
  GHashTable *set;

  g_return_val_if_fail (conn != NULL, NULL);

  res = cdl_pq_exec (conn,
                     "SELECT DISTINCT unnest (api_node_types) FROM workers"
                     " WHERE enabled AND status = 'HEALTHY'",
                     0, NULL, error);
  if (res == NULL)
    return NULL;

  set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (int row = 0; row < PQntuples (res); row++)
    if (cdl_pq_get_string (res, row, 0) != NULL)
      g_hash_table_add (set, g_strdup (cdl_pq_get_string (res, row, 0)));

  return set;
}
