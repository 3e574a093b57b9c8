/* cdl-test-pg.h: a throw-away PostgreSQL cluster for the tests
 *
 * One cluster per test program, initialised without fsync in a fresh
 * temporary directory, listening on a private Unix socket only. Each test
 * takes a database of its own from it. The cluster is stopped and its
 * directory removed when the program exits, however it exits.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _CdlTestPg CdlTestPg;

/* Runs initdb and starts the server. When running as root (CI), the
 * server runs as the "postgres" system user, since PostgreSQL refuses
 * root; the tests connect as role "postgres" either way. */
CdlTestPg  *cdl_test_pg_start          (GError     **error);

/* Creates a database with a name not used before and returns a libpq
 * connection string for it. */
char       *cdl_test_pg_new_database   (CdlTestPg   *pg,
                                        GError     **error);

const char *cdl_test_pg_get_socket_dir (CdlTestPg   *pg);

/* Stops the server at once (no checkpoint) and removes its directory. */
void        cdl_test_pg_stop           (CdlTestPg   *pg);

G_END_DECLS
