/* cdl-test-pg.c: a throw-away PostgreSQL cluster for the tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-test-pg"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "cdl-test-pg.h"

#define CDL_TEST_PG_PORT "5432"
/* The system account Debian's postgresql package creates; the server runs
 * as it when the tests run as root. */
#define CDL_TEST_PG_SYSTEM_USER "postgres"

struct _CdlTestPg
{
  char     *dir;
  char     *data_dir;
  char     *socket_dir;
  char     *log_path;
  char     *bindir;

  gboolean  as_system_user;
  char     *runuser;
  uid_t     uid;
  gid_t     gid;

  /* Write end of the watchdog's stdin; see cdl_test_pg_start_watchdog(). */
  int       watchdog_fd;
  int       n_databases;
};

G_LOCK_DEFINE_STATIC (live);
static GPtrArray *live;

static gboolean
cdl_test_pg_bindir_is_complete (const char *dir)
{
  static const char * const programs[] = { "initdb", "pg_ctl", "postgres" };

  for (guint i = 0; i < G_N_ELEMENTS (programs); i++)
    {
      g_autofree char *path = g_build_filename (dir, programs[i], NULL);

      if (!g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
        return FALSE;
    }

  return TRUE;
}

/* pg_ctl on PATH, else the newest /usr/lib/postgresql/N/bin. */
static char *
cdl_test_pg_find_bindir (void)
{
  g_autofree char *pg_ctl = g_find_program_in_path ("pg_ctl");
  g_autoptr(GDir) dir = NULL;
  g_autofree char *best = NULL;
  gint64 best_version = -1;
  const char *name;

  if (pg_ctl != NULL)
    {
      g_autofree char *bin = g_path_get_dirname (pg_ctl);

      if (cdl_test_pg_bindir_is_complete (bin))
        return g_steal_pointer (&bin);
    }

  dir = g_dir_open ("/usr/lib/postgresql", 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *bin = NULL;
      gint64 version = g_ascii_strtoll (name, NULL, 10);

      bin = g_build_filename ("/usr/lib/postgresql", name, "bin", NULL);
      if (version > best_version && cdl_test_pg_bindir_is_complete (bin))
        {
          best_version = version;
          g_free (best);
          best = g_steal_pointer (&bin);
        }
    }

  return g_steal_pointer (&best);
}

static void
cdl_test_pg_free (CdlTestPg *pg)
{
  if (pg->watchdog_fd >= 0)
    close (pg->watchdog_fd);

  g_free (pg->dir);
  g_free (pg->data_dir);
  g_free (pg->socket_dir);
  g_free (pg->log_path);
  g_free (pg->bindir);
  g_free (pg->runuser);
  g_free (pg);
}

/* The command line of a server program, run as the system user when we
 * are root. Returns a NULL-terminated array. */
static GPtrArray *
cdl_test_pg_argv (CdlTestPg  *pg,
                  const char *program)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  if (pg->as_system_user)
    {
      g_ptr_array_add (argv, g_strdup (pg->runuser));
      g_ptr_array_add (argv, g_strdup ("-u"));
      g_ptr_array_add (argv, g_strdup (CDL_TEST_PG_SYSTEM_USER));
      g_ptr_array_add (argv, g_strdup ("--"));
    }

  g_ptr_array_add (argv, g_build_filename (pg->bindir, program, NULL));

  return argv;
}

static void
cdl_test_pg_add (GPtrArray  *argv,
                 const char *arg)
{
  g_ptr_array_add (argv, g_strdup (arg));
}

static gboolean
cdl_test_pg_run (CdlTestPg  *pg,
                 GPtrArray  *argv,
                 GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int wait_status = 0;

  g_ptr_array_add (argv, NULL);

  if (g_spawn_sync (pg->dir, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH,
                    NULL, NULL, &out, &err, &wait_status, &local_error) &&
      g_spawn_check_wait_status (wait_status, &local_error))
    return TRUE;

  {
    g_autofree char *log = NULL;

    g_file_get_contents (pg->log_path, &log, NULL, NULL);
    g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                 "%s: %s\n%s%s\n%s", (char *) argv->pdata[0],
                 local_error->message, out != NULL ? out : "",
                 err != NULL ? err : "", log != NULL ? log : "");
  }

  return FALSE;
}

static gboolean
cdl_test_pg_chown (CdlTestPg   *pg,
                   const char  *path,
                   GError     **error)
{
  if (!pg->as_system_user)
    return TRUE;

  if (chown (path, pg->uid, pg->gid) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "chown %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }

  return TRUE;
}

static gboolean
cdl_test_pg_make_dirs (CdlTestPg  *pg,
                       GError    **error)
{
  pg->dir = g_dir_make_tmp ("cdl-test-pg-XXXXXX", error);
  if (pg->dir == NULL)
    return FALSE;

  pg->data_dir = g_build_filename (pg->dir, "data", NULL);
  pg->socket_dir = g_build_filename (pg->dir, "run", NULL);
  pg->log_path = g_build_filename (pg->dir, "server.log", NULL);

  if (g_mkdir (pg->socket_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "mkdir %s: %s", pg->socket_dir, g_strerror (saved_errno));
      return FALSE;
    }

  if (pg->as_system_user && g_chmod (pg->dir, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "chmod %s: %s", pg->dir, g_strerror (saved_errno));
      return FALSE;
    }

  return cdl_test_pg_chown (pg, pg->dir, error) &&
         cdl_test_pg_chown (pg, pg->socket_dir, error);
}

static void
cdl_test_pg_watchdog_setup (gpointer user_data)
{
  /* Out of the test's process group, so that a runner killing the group
   * on a timeout leaves the watchdog to clean up. */
  setsid ();
}

/* A small shell that waits for EOF on its stdin, which comes when this
 * process exits however it exits (an abort from a failed assertion
 * included), then stops the server and removes the directory. */
static gboolean
cdl_test_pg_start_watchdog (CdlTestPg  *pg,
                            GError    **error)
{
  static const char script[] =
    "dir=$1; shift; cat >/dev/null; \"$@\" >/dev/null 2>&1; rm -rf -- \"$dir\"";
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) stop = NULL;
  int fd = -1;

  cdl_test_pg_add (argv, "/bin/sh");
  cdl_test_pg_add (argv, "-c");
  cdl_test_pg_add (argv, script);
  cdl_test_pg_add (argv, "cdl-test-pg-watchdog");
  cdl_test_pg_add (argv, pg->dir);

  stop = cdl_test_pg_argv (pg, "pg_ctl");
  cdl_test_pg_add (stop, "stop");
  cdl_test_pg_add (stop, "-m");
  cdl_test_pg_add (stop, "immediate");
  cdl_test_pg_add (stop, "-D");
  cdl_test_pg_add (stop, pg->data_dir);
  for (guint i = 0; i < stop->len; i++)
    cdl_test_pg_add (argv, stop->pdata[i]);
  g_ptr_array_add (argv, NULL);

  if (!g_spawn_async_with_pipes ("/", (char **) argv->pdata, NULL,
                                 G_SPAWN_SEARCH_PATH |
                                 G_SPAWN_STDOUT_TO_DEV_NULL |
                                 G_SPAWN_STDERR_TO_DEV_NULL,
                                 cdl_test_pg_watchdog_setup, NULL, NULL,
                                 &fd, NULL, NULL, error))
    return FALSE;

  /* Other children must not hold the pipe open. */
  fcntl (fd, F_SETFD, FD_CLOEXEC);
  pg->watchdog_fd = fd;

  return TRUE;
}

static void
cdl_test_pg_stop_live (void)
{
  g_autoptr(GPtrArray) left = NULL;

  G_LOCK (live);
  left = g_steal_pointer (&live);
  G_UNLOCK (live);

  for (guint i = 0; left != NULL && i < left->len; i++)
    cdl_test_pg_stop (left->pdata[i]);
}

CdlTestPg *
cdl_test_pg_start (GError **error)
{
  static gsize at_exit_set = 0;
  CdlTestPg *pg;
  g_autoptr(GPtrArray) initdb = NULL;
  g_autoptr(GPtrArray) pg_ctl = NULL;
  g_autofree char *socket_dir = NULL;
  g_autofree char *options = NULL;

  pg = g_new0 (CdlTestPg, 1);
  pg->watchdog_fd = -1;

  pg->bindir = cdl_test_pg_find_bindir ();
  if (pg->bindir == NULL)
    {
      g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                           "initdb and pg_ctl were not found on PATH nor in "
                           "/usr/lib/postgresql/*/bin");
      cdl_test_pg_free (pg);
      return NULL;
    }

  if (geteuid () == 0)
    {
      struct passwd *pw = getpwnam (CDL_TEST_PG_SYSTEM_USER);

      if (pw == NULL)
        {
          g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                               "Running as root, and there is no \""
                               CDL_TEST_PG_SYSTEM_USER "\" user to run "
                               "PostgreSQL as");
          cdl_test_pg_free (pg);
          return NULL;
        }

      /* root's PATH may lack the sbin directories. */
      pg->runuser = g_find_program_in_path ("runuser");
      if (pg->runuser == NULL)
        pg->runuser = g_strdup (g_file_test ("/usr/sbin/runuser",
                                             G_FILE_TEST_IS_EXECUTABLE)
                                ? "/usr/sbin/runuser" : "/sbin/runuser");

      pg->as_system_user = TRUE;
      pg->uid = pw->pw_uid;
      pg->gid = pw->pw_gid;
    }

  if (!cdl_test_pg_make_dirs (pg, error))
    goto fail;

  initdb = cdl_test_pg_argv (pg, "initdb");
  cdl_test_pg_add (initdb, "-D");
  cdl_test_pg_add (initdb, pg->data_dir);
  cdl_test_pg_add (initdb, "--auth=trust");
  cdl_test_pg_add (initdb, "--username=postgres");
  cdl_test_pg_add (initdb, "--encoding=UTF8");
  cdl_test_pg_add (initdb, "--no-locale");
  cdl_test_pg_add (initdb, "--no-sync");
  cdl_test_pg_add (initdb, "--no-instructions");
  if (!cdl_test_pg_run (pg, initdb, error))
    goto fail;

  /* pg_ctl passes -o to the server through a shell. */
  socket_dir = g_shell_quote (pg->socket_dir);
  options = g_strdup_printf ("-k %s -p " CDL_TEST_PG_PORT
                             " -c listen_addresses=''"
                             " -c fsync=off -c synchronous_commit=off"
                             " -c full_page_writes=off",
                             socket_dir);

  pg_ctl = cdl_test_pg_argv (pg, "pg_ctl");
  cdl_test_pg_add (pg_ctl, "start");
  cdl_test_pg_add (pg_ctl, "-w");
  cdl_test_pg_add (pg_ctl, "-t");
  cdl_test_pg_add (pg_ctl, "60");
  cdl_test_pg_add (pg_ctl, "-D");
  cdl_test_pg_add (pg_ctl, pg->data_dir);
  cdl_test_pg_add (pg_ctl, "-l");
  cdl_test_pg_add (pg_ctl, pg->log_path);
  cdl_test_pg_add (pg_ctl, "-o");
  cdl_test_pg_add (pg_ctl, options);

  /* Watching before starting: a crash from here on still cleans up. */
  if (!cdl_test_pg_start_watchdog (pg, error))
    goto fail;

  if (!cdl_test_pg_run (pg, pg_ctl, error))
    goto fail;

  G_LOCK (live);
  if (live == NULL)
    live = g_ptr_array_new ();
  g_ptr_array_add (live, pg);
  G_UNLOCK (live);

  if (g_once_init_enter (&at_exit_set))
    {
      atexit (cdl_test_pg_stop_live);
      g_once_init_leave (&at_exit_set, 1);
    }

  return pg;

fail:
  /* Closing the watchdog's pipe has it remove the directory. */
  if (pg->watchdog_fd < 0 && pg->dir != NULL)
    {
      const char *rm[] = { "rm", "-rf", "--", pg->dir, NULL };

      g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH,
                    NULL, NULL, NULL, NULL, NULL, NULL);
    }
  cdl_test_pg_free (pg);

  return NULL;
}

/* A value for a libpq connection string. */
static void
cdl_test_pg_append_value (GString    *conninfo,
                          const char *value)
{
  g_string_append_c (conninfo, '\'');
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '\'' || *p == '\\')
        g_string_append_c (conninfo, '\\');
      g_string_append_c (conninfo, *p);
    }
  g_string_append_c (conninfo, '\'');
}

char *
cdl_test_pg_new_database (CdlTestPg  *pg,
                          GError    **error)
{
  const char * const keywords[] = { "host", "port", "dbname", "user", NULL };
  const char * const values[] = {
    pg->socket_dir, CDL_TEST_PG_PORT, "postgres", "postgres", NULL
  };
  g_autofree char *name = NULL;
  g_autofree char *sql = NULL;
  GString *conninfo;
  PGconn *conn;
  PGresult *res;
  gboolean ok;

  g_return_val_if_fail (pg != NULL, NULL);

  name = g_strdup_printf ("cdl_test_%d",
                          g_atomic_int_add (&pg->n_databases, 1));

  conn = PQconnectdbParams (keywords, values, 0);
  if (PQstatus (conn) != CONNECTION_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Could not connect to the test cluster: %s",
                   PQerrorMessage (conn));
      PQfinish (conn);
      return NULL;
    }

  /* The name is made of digits here, and CREATE DATABASE takes no
   * parameters. */
  sql = g_strdup_printf ("CREATE DATABASE %s", name);
  res = PQexec (conn, sql);
  ok = PQresultStatus (res) == PGRES_COMMAND_OK;
  if (!ok)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "Could not create a test database: %s",
                 PQresultErrorMessage (res));
  PQclear (res);
  PQfinish (conn);

  if (!ok)
    return NULL;

  conninfo = g_string_new ("host=");
  cdl_test_pg_append_value (conninfo, pg->socket_dir);
  g_string_append_printf (conninfo, " port=" CDL_TEST_PG_PORT
                          " dbname=%s user=postgres", name);

  return g_string_free (conninfo, FALSE);
}

const char *
cdl_test_pg_get_socket_dir (CdlTestPg *pg)
{
  g_return_val_if_fail (pg != NULL, NULL);

  return pg->socket_dir;
}

void
cdl_test_pg_stop (CdlTestPg *pg)
{
  g_autoptr(GPtrArray) pg_ctl = NULL;
  g_autoptr(GError) error = NULL;
  const char *rm[] = { "rm", "-rf", "--", NULL, NULL };

  if (pg == NULL)
    return;

  G_LOCK (live);
  if (live != NULL)
    g_ptr_array_remove (live, pg);
  G_UNLOCK (live);

  pg_ctl = cdl_test_pg_argv (pg, "pg_ctl");
  cdl_test_pg_add (pg_ctl, "stop");
  cdl_test_pg_add (pg_ctl, "-m");
  cdl_test_pg_add (pg_ctl, "immediate");
  cdl_test_pg_add (pg_ctl, "-w");
  cdl_test_pg_add (pg_ctl, "-D");
  cdl_test_pg_add (pg_ctl, pg->data_dir);
  if (!cdl_test_pg_run (pg, pg_ctl, &error))
    g_printerr ("Stopping the test cluster: %s\n", error->message);

  rm[3] = pg->dir;
  g_spawn_sync (NULL, (char **) rm, NULL,
                G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, NULL, NULL, NULL, NULL);

  /* The watchdog now finds nothing left to do. */
  cdl_test_pg_free (pg);
}
