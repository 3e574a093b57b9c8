/* cdl-settings-repo.c: the settings table
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include "core/cdl-json.h"
#include "db/cdl-pq.h"
#include "db/cdl-settings-repo.h"

/* Reads the rows of @res (key, value as text) into @settings. */
static void
cdl_settings_repo_fill (CdlSettings    *settings,
                        const PGresult *res)
{
  for (int row = 0; row < PQntuples (res); row++)
    {
      const char *key = cdl_pq_get_string (res, row, 0);
      const char *text = cdl_pq_get_string (res, row, 1);
      g_autoptr(JsonNode) value = NULL;
      g_autoptr(GError) error = NULL;

      if (key == NULL || text == NULL)
        continue;

      /* Rows for keys this version does not know are left alone. */
      if (!g_strv_contains (cdl_settings_get_keys (), key))
        continue;

      /* A value is only taken when it passes, so a bad row leaves the
       * default in place. */
      value = cdl_json_parse (text, -1, &error);
      if (value == NULL
          || !cdl_settings_set_member (settings, key, value, &error))
        g_warning ("Setting %s has a stored value that is not valid; "
                   "using the default: %s", key, error->message);
    }

  if (!cdl_settings_validate (settings, NULL))
    {
      g_autoptr(CdlSettings) defaults = cdl_settings_new ();

      g_warning ("The stored resolution settings contradict each other; "
                 "using the default resolution limits");
      settings->resolution_min_side = defaults->resolution_min_side;
      settings->resolution_max_side = defaults->resolution_max_side;
      settings->resolution_max_pixels = defaults->resolution_max_pixels;
    }
}

CdlSettings *
cdl_settings_repo_load (PGconn  *conn,
                        GError **error)
{
  g_autoptr(PGresult) res = NULL;
  CdlSettings *settings;

  g_return_val_if_fail (conn != NULL, NULL);

  res = cdl_pq_exec (conn, "SELECT key, value::text FROM settings",
                     0, NULL, error);
  if (res == NULL)
    return NULL;

  settings = cdl_settings_new ();
  cdl_settings_repo_fill (settings, res);

  return settings;
}

CdlSettings *
cdl_settings_repo_update (PGconn    *conn,
                          JsonNode  *patch,
                          GError   **error)
{
  g_autoptr(PGresult) current = NULL;
  g_autoptr(CdlSettings) base = NULL;
  g_autoptr(CdlSettings) updated = NULL;
  g_autoptr(GList) keys = NULL;

  g_return_val_if_fail (conn != NULL, NULL);

  if (!cdl_pq_begin (conn, error))
    return NULL;

  /* Locking the rows serialises two admins saving at once, so that
   * neither overwrites a key the other changed with a stale value. */
  current = cdl_pq_exec (conn, "SELECT key, value::text FROM settings FOR UPDATE",
                         0, NULL, error);
  if (current == NULL)
    goto fail;

  base = cdl_settings_new ();
  cdl_settings_repo_fill (base, current);

  updated = cdl_settings_apply_patch (base, patch, error);
  if (updated == NULL)
    goto fail;

  keys = json_object_get_members (json_node_get_object (patch));
  for (const GList *l = keys; l != NULL; l = l->next)
    {
      g_autoptr(JsonNode) value = cdl_settings_get_member (updated, l->data);
      g_autofree char *text = cdl_json_to_string (value, FALSE);
      const char *params[2] = { l->data, text };

      if (!cdl_pq_command (conn,
                           "INSERT INTO settings (key, value, updated_at)"
                           " VALUES ($1, $2::jsonb, now ())"
                           " ON CONFLICT (key) DO UPDATE"
                           " SET value = EXCLUDED.value, updated_at = now ()",
                           2, params, error))
        goto fail;
    }

  if (!cdl_pq_commit (conn, error))
    goto fail;

  return g_steal_pointer (&updated);

fail:
  cdl_pq_rollback (conn);

  return NULL;
}
