/* cdl-pq.c: libpq calls that report failures as GErrors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include <string.h>

#include "db/cdl-pq.h"

G_DEFINE_QUARK (cdl-db-error-quark, cdl_db_error)

static int
cdl_pq_code_for_sqlstate (const char *sqlstate)
{
  if (sqlstate == NULL || strlen (sqlstate) != 5)
    return CDL_DB_ERROR_FAILED;

  if (strcmp (sqlstate, "23505") == 0)
    return CDL_DB_ERROR_UNIQUE;

  if (g_str_has_prefix (sqlstate, "23"))
    return CDL_DB_ERROR_CONSTRAINT;

  if (strcmp (sqlstate, "CDL01") == 0)
    return CDL_DB_ERROR_FROZEN;

  if (g_str_has_prefix (sqlstate, "08"))
    return CDL_DB_ERROR_CONNECTION;

  return CDL_DB_ERROR_FAILED;
}

/* libpq messages end with a newline and may span lines; keep the first. */
static char *
cdl_pq_first_line (const char *message)
{
  const char *end;

  if (message == NULL || *message == '\0')
    return g_strdup ("Unknown database error");

  end = strchr (message, '\n');
  if (end == NULL)
    return g_strdup (message);

  return g_strndup (message, end - message);
}

static void
cdl_pq_set_connection_error (PGconn  *conn,
                             GError **error)
{
  g_autofree char *message = NULL;

  message = cdl_pq_first_line (PQerrorMessage (conn));
  g_set_error_literal (error, CDL_DB_ERROR, CDL_DB_ERROR_CONNECTION,
                       message);
}

/* Takes @res. The message is the server's primary message only: never the
 * statement or its parameters, which may hold user data. */
static gboolean
cdl_pq_check (PGconn    *conn,
              PGresult  *res,
              GError   **error)
{
  g_autoptr(PGresult) owned = res;
  const char *primary;
  const char *sqlstate;
  g_autofree char *message = NULL;
  int code;

  if (res == NULL)
    {
      cdl_pq_set_connection_error (conn, error);
      return FALSE;
    }

  switch (PQresultStatus (res))
    {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      g_steal_pointer (&owned);
      return TRUE;

    default:
      break;
    }

  sqlstate = PQresultErrorField (res, PG_DIAG_SQLSTATE);
  primary = PQresultErrorField (res, PG_DIAG_MESSAGE_PRIMARY);

  if (primary != NULL)
    message = g_strdup (primary);
  else
    message = cdl_pq_first_line (PQresultErrorMessage (res));

  code = cdl_pq_code_for_sqlstate (sqlstate);
  if (PQstatus (conn) != CONNECTION_OK)
    code = CDL_DB_ERROR_CONNECTION;

  g_set_error_literal (error, CDL_DB_ERROR, code, message);

  return FALSE;
}

PGresult *
cdl_pq_exec (PGconn             *conn,
             const char         *sql,
             int                 n_params,
             const char * const *params,
             GError            **error)
{
  PGresult *res;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (sql != NULL, NULL);
  g_return_val_if_fail (n_params == 0 || params != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  res = PQexecParams (conn, sql, n_params, NULL, params, NULL, NULL, 0);

  if (!cdl_pq_check (conn, res, error))
    return NULL;

  return res;
}

gboolean
cdl_pq_command (PGconn             *conn,
                const char         *sql,
                int                 n_params,
                const char * const *params,
                GError            **error)
{
  g_autoptr(PGresult) res = NULL;

  res = cdl_pq_exec (conn, sql, n_params, params, error);

  return res != NULL;
}

gboolean
cdl_pq_exec_script (PGconn      *conn,
                    const char  *script,
                    GError     **error)
{
  PGresult *res;

  g_return_val_if_fail (conn != NULL, FALSE);
  g_return_val_if_fail (script != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* PQexec is the only libpq call that runs several statements at once;
   * it is used for the SQL shipped in our resources, never for values. */
  res = PQexec (conn, script);
  if (!cdl_pq_check (conn, res, error))
    return FALSE;

  PQclear (res);

  return TRUE;
}

gboolean
cdl_pq_begin (PGconn  *conn,
              GError **error)
{
  return cdl_pq_command (conn, "BEGIN", 0, NULL, error);
}

gboolean
cdl_pq_commit (PGconn  *conn,
               GError **error)
{
  return cdl_pq_command (conn, "COMMIT", 0, NULL, error);
}

void
cdl_pq_rollback (PGconn *conn)
{
  g_autoptr(PGresult) res = NULL;

  g_return_if_fail (conn != NULL);

  if (PQstatus (conn) != CONNECTION_OK)
    return;

  res = PQexec (conn, "ROLLBACK");
}

const char *
cdl_pq_get_string (const PGresult *res,
                   int             row,
                   int             col)
{
  g_return_val_if_fail (res != NULL, NULL);

  if (PQgetisnull (res, row, col))
    return NULL;

  return PQgetvalue (res, row, col);
}

gint64
cdl_pq_get_int64 (const PGresult *res,
                  int             row,
                  int             col)
{
  const char *value = cdl_pq_get_string (res, row, col);

  if (value == NULL)
    return 0;

  return g_ascii_strtoll (value, NULL, 10);
}

int
cdl_pq_get_int (const PGresult *res,
                int             row,
                int             col)
{
  return (int) CLAMP (cdl_pq_get_int64 (res, row, col), G_MININT, G_MAXINT);
}

gboolean
cdl_pq_get_bool (const PGresult *res,
                 int             row,
                 int             col)
{
  const char *value = cdl_pq_get_string (res, row, col);

  return value != NULL && value[0] == 't';
}

GDateTime *
cdl_pq_get_epoch (const PGresult *res,
                  int             row,
                  int             col)
{
  const char *value = cdl_pq_get_string (res, row, col);
  g_autoptr(GDateTime) whole = NULL;
  const char *p;
  gboolean negative = FALSE;
  gint64 seconds = 0;
  gint64 usec = 0;
  int digits = 0;

  if (value == NULL)
    return NULL;

  /* extract(epoch ...) is a numeric such as "1700000000.123456". It is
   * read digit by digit because a double cannot hold the microseconds of
   * a present-day time exactly. */
  p = value;
  if (*p == '-')
    {
      negative = TRUE;
      p++;
    }

  if (!g_ascii_isdigit (*p))
    return NULL;  /* "Infinity" and the like */

  for (; g_ascii_isdigit (*p); p++)
    {
      if (seconds > G_MAXINT64 / 10 - 10)
        return NULL;
      seconds = seconds * 10 + (*p - '0');
    }

  if (*p == '.')
    {
      for (p++; g_ascii_isdigit (*p); p++)
        {
          if (digits < 6)
            {
              usec = usec * 10 + (*p - '0');
              digits++;
            }
        }
    }

  for (; digits < 6; digits++)
    usec *= 10;

  if (negative)
    {
      seconds = -seconds;
      usec = -usec;
    }

  whole = g_date_time_new_from_unix_utc (seconds);
  if (whole == NULL)
    return NULL;

  return g_date_time_add (whole, usec);
}

char **
cdl_pq_get_strv (const PGresult *res,
                 int             row,
                 int             col)
{
  const char *value = cdl_pq_get_string (res, row, col);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  const char *p;

  if (value == NULL)
    return g_strv_builder_end (builder);

  /* A lower bound other than 1 is written as "[0:1]={...}". */
  p = value;
  if (*p == '[')
    {
      p = strchr (p, '=');
      if (p == NULL)
        return g_strv_builder_end (builder);
      p++;
    }

  if (*p != '{')
    return g_strv_builder_end (builder);
  p++;

  while (*p != '\0' && *p != '}')
    {
      g_autoptr(GString) item = g_string_new (NULL);
      gboolean quoted = FALSE;

      if (*p == '"')
        {
          quoted = TRUE;
          for (p++; *p != '\0' && *p != '"'; p++)
            {
              if (*p == '\\' && p[1] != '\0')
                p++;
              g_string_append_c (item, *p);
            }
          if (*p == '"')
            p++;
        }
      else
        {
          for (; *p != '\0' && *p != ',' && *p != '}'; p++)
            {
              if (*p == '\\' && p[1] != '\0')
                p++;
              g_string_append_c (item, *p);
            }
        }

      /* An unquoted NULL is an SQL NULL element, which a string vector
       * cannot hold; it is left out. */
      if (quoted || strcmp (item->str, "NULL") != 0)
        g_strv_builder_add (builder, item->str);

      if (*p == ',')
        p++;
    }

  return g_strv_builder_end (builder);
}

char *
cdl_pq_strv_literal (const char * const *strv)
{
  GString *literal = g_string_new ("{");

  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (literal, ',');

      g_string_append_c (literal, '"');
      for (const char *p = strv[i]; *p != '\0'; p++)
        {
          if (*p == '"' || *p == '\\')
            g_string_append_c (literal, '\\');
          g_string_append_c (literal, *p);
        }
      g_string_append_c (literal, '"');
    }

  g_string_append_c (literal, '}');

  return g_string_free (literal, FALSE);
}
