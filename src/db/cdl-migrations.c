/* cdl-migrations.c: ordered SQL files applied once per database
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db/cdl-migrations.h"
#include "db/cdl-pq.h"

/* The advisory lock that serialises migration runs of every instance on a
 * database: "CDLMIGR1" read as a big-endian 64-bit integer. */
#define CDL_MIGRATIONS_LOCK_KEY "4847082993783099953"

static int
cdl_migrations_compare_names (const void *a,
                              const void *b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The *.sql names under @resource_dir, sorted. */
static char **
cdl_migrations_list (const char  *resource_dir,
                     GError     **error)
{
  g_auto(GStrv) children = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  char **names;

  children = g_resources_enumerate_children (resource_dir,
                                             G_RESOURCE_LOOKUP_FLAGS_NONE,
                                             error);
  if (children == NULL)
    {
      g_prefix_error (error, "Could not list the database migrations: ");
      return NULL;
    }

  for (guint i = 0; children[i] != NULL; i++)
    {
      if (g_str_has_suffix (children[i], ".sql"))
        g_strv_builder_add (builder, children[i]);
    }

  names = g_strv_builder_end (builder);
  qsort (names, g_strv_length (names), sizeof (char *),
         cdl_migrations_compare_names);

  return names;
}

static GHashTable *
cdl_migrations_applied (PGconn  *conn,
                        GError **error)
{
  g_autoptr(PGresult) res = NULL;
  GHashTable *applied;

  res = cdl_pq_exec (conn, "SELECT name FROM schema_migrations", 0, NULL,
                     error);
  if (res == NULL)
    return NULL;

  applied = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (int row = 0; row < PQntuples (res); row++)
    g_hash_table_add (applied, g_strdup (cdl_pq_get_string (res, row, 0)));

  return applied;
}

static gboolean
cdl_migrations_apply_one (PGconn      *conn,
                          const char  *resource_dir,
                          const char  *name,
                          GError     **error)
{
  g_autofree char *path = NULL;
  g_autofree char *script = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const char *params[1] = { name };
  gsize size;
  const char *data;

  path = g_build_path ("/", resource_dir, name, NULL);
  bytes = g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (bytes == NULL)
    return FALSE;

  data = g_bytes_get_data (bytes, &size);
  script = g_strndup (data, size);

  g_debug ("Applying database migration %s", name);

  if (!cdl_pq_exec_script (conn, script, error))
    {
      g_prefix_error (error, "Database migration %s failed: ", name);
      return FALSE;
    }

  /* A script must not end the transaction it runs in: that would release
   * the lock and leave the run half recorded. */
  if (PQtransactionStatus (conn) != PQTRANS_INTRANS)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_FAILED,
                   "Database migration %s ended the migration transaction",
                   name);
      return FALSE;
    }

  return cdl_pq_command (conn,
                         "INSERT INTO schema_migrations (name) VALUES ($1)",
                         1, params, error);
}

static gboolean
cdl_migrations_ensure_table (PGconn  *conn,
                             GError **error)
{
  g_autoptr(PGresult) res = NULL;

  /* Looked up first rather than CREATE ... IF NOT EXISTS, whose notice
   * would be printed on every start. The lock makes this race-free. */
  res = cdl_pq_exec (conn, "SELECT to_regclass ('schema_migrations')",
                     0, NULL, error);
  if (res == NULL)
    return FALSE;

  if (cdl_pq_get_string (res, 0, 0) != NULL)
    return TRUE;

  return cdl_pq_command (conn,
                         "CREATE TABLE schema_migrations ("
                         " name text PRIMARY KEY,"
                         " applied_at timestamptz NOT NULL DEFAULT now ())",
                         0, NULL, error);
}

gboolean
cdl_migrations_apply (PGconn      *conn,
                      const char  *resource_dir,
                      guint       *n_applied,
                      GError     **error)
{
  static const char * const lock_params[1] = { CDL_MIGRATIONS_LOCK_KEY };
  g_auto(GStrv) names = NULL;
  g_autoptr(GHashTable) applied = NULL;
  guint count = 0;

  g_return_val_if_fail (conn != NULL, FALSE);
  g_return_val_if_fail (resource_dir != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n_applied != NULL)
    *n_applied = 0;

  names = cdl_migrations_list (resource_dir, error);
  if (names == NULL)
    return FALSE;

  if (!cdl_pq_begin (conn, error))
    return FALSE;

  /* Held until COMMIT or ROLLBACK: a second instance waits here and then
   * finds every file recorded. */
  if (!cdl_pq_command (conn, "SELECT pg_advisory_xact_lock ($1::bigint)",
                       1, lock_params, error))
    goto fail;

  if (!cdl_migrations_ensure_table (conn, error))
    goto fail;

  applied = cdl_migrations_applied (conn, error);
  if (applied == NULL)
    goto fail;

  for (guint i = 0; names[i] != NULL; i++)
    {
      if (g_hash_table_contains (applied, names[i]))
        continue;

      if (!cdl_migrations_apply_one (conn, resource_dir, names[i], error))
        goto fail;

      count++;
    }

  if (!cdl_pq_commit (conn, error))
    goto fail;

  if (n_applied != NULL)
    *n_applied = count;

  return TRUE;

fail:
  cdl_pq_rollback (conn);

  return FALSE;
}
