/* cdl-pq.h: libpq calls that report failures as GErrors
 *
 * Every statement goes through PQexecParams with text parameters; no SQL is
 * ever built from values.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

#define CDL_DB_ERROR (cdl_db_error_quark ())

typedef enum
{
  CDL_DB_ERROR_FAILED,        /* any other server error */
  CDL_DB_ERROR_CONNECTION,    /* could not connect, or the connection broke */
  CDL_DB_ERROR_NOT_FOUND,     /* a row asked for by id does not exist */
  CDL_DB_ERROR_UNIQUE,        /* SQLSTATE 23505 */
  CDL_DB_ERROR_CONSTRAINT,    /* SQLSTATE 23xxx other than 23505 */
  CDL_DB_ERROR_FROZEN,        /* raised by the freeze triggers (SQLSTATE CDL01) */
  CDL_DB_ERROR_EMBEDDED,      /* the embedded cluster could not start or stop */
} CdlDbError;

GQuark    cdl_db_error_quark   (void);

/* Runs @sql with @n_params text parameters (NULL entries are SQL NULL).
 * Returns the result when its status is COMMAND_OK or TUPLES_OK, else NULL
 * with an error carrying the server's message and a code from its SQLSTATE. */
PGresult *cdl_pq_exec          (PGconn             *conn,
                                const char         *sql,
                                int                 n_params,
                                const char * const *params,
                                GError            **error);

/* Same, for statements whose result is not needed. */
gboolean  cdl_pq_command       (PGconn             *conn,
                                const char         *sql,
                                int                 n_params,
                                const char * const *params,
                                GError            **error);

/* Runs the statements of @script, a file of our own resources (the
 * migrations): PQexec without parameters, the one exception to the rule
 * above, since several statements cannot go through PQexecParams. */
gboolean  cdl_pq_exec_script   (PGconn             *conn,
                                const char         *script,
                                GError            **error);

gboolean  cdl_pq_begin         (PGconn             *conn,
                                GError            **error);
gboolean  cdl_pq_commit        (PGconn             *conn,
                                GError            **error);
/* Never fails from the caller's point of view; a broken connection is
 * noticed by the pool on release. */
void      cdl_pq_rollback      (PGconn             *conn);

/* Accessors for a cell; NULL or 0/FALSE for SQL NULL. */
const char *cdl_pq_get_string  (const PGresult *res, int row, int col);
gint64      cdl_pq_get_int64   (const PGresult *res, int row, int col);
int         cdl_pq_get_int     (const PGresult *res, int row, int col);
gboolean    cdl_pq_get_bool    (const PGresult *res, int row, int col);
/* timestamptz columns; the query must select them as
 * extract(epoch from col) so that no text format is parsed. */
GDateTime  *cdl_pq_get_epoch   (const PGresult *res, int row, int col);
/* text[] columns; returns a NULL-terminated vector (empty for NULL). */
char      **cdl_pq_get_strv    (const PGresult *res, int row, int col);
/* A text[] literal for a parameter: {"a","b"} with quoting. */
char       *cdl_pq_strv_literal (const char * const *strv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PGresult, PQclear)

G_END_DECLS
