/* cdl-embedded-pg.c: a private PostgreSQL cluster in the data directory
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "db/cdl-embedded-pg.h"
#include "db/cdl-pq.h"

#define CDL_EMBEDDED_PG_PORT      "5432"
#define CDL_EMBEDDED_PG_USER      "datalabel"
#define CDL_EMBEDDED_PG_DATABASE  "datalabel"
#define CDL_EMBEDDED_PG_LOG_LINES 20
#define CDL_EMBEDDED_PG_LOG_MAX   (8 * 1024 * 1024)
#define CDL_EMBEDDED_PG_WAIT_S    60

struct _CdlEmbeddedPg
{
  GObject   parent_instance;

  char     *data_dir;
  char     *cluster_dir;
  char     *socket_dir;
  char     *log_path;
  char     *bindir;
  char     *conninfo;
  /* Where the running server listens (ours, or one we reuse). */
  char     *host;
  char     *port;

  guint     running : 1;
  /* FALSE when we found the server already running (another instance of
   * ours on the same data dir) and must leave it running. */
  guint     owned : 1;
};

G_DEFINE_FINAL_TYPE (CdlEmbeddedPg, cdl_embedded_pg, G_TYPE_OBJECT)

static gboolean
cdl_pg_bindir_is_complete (const char *dir)
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

/* The newest /usr/lib/postgresql/N/bin, as Debian and Ubuntu lay them
 * out. */
static char *
cdl_pg_find_versioned_bindir (void)
{
  g_autoptr(GDir) dir = NULL;
  g_autofree char *best = NULL;
  gint64 best_version = -1;
  const char *name;

  dir = g_dir_open ("/usr/lib/postgresql", 0, NULL);
  if (dir == NULL)
    return NULL;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *bin = NULL;
      gint64 version;
      char *end = NULL;

      version = g_ascii_strtoll (name, &end, 10);
      if (end == name || *end != '\0' || version <= best_version)
        continue;

      bin = g_build_filename ("/usr/lib/postgresql", name, "bin", NULL);
      if (!cdl_pg_bindir_is_complete (bin))
        continue;

      best_version = version;
      g_free (best);
      best = g_steal_pointer (&bin);
    }

  return g_steal_pointer (&best);
}

char *
cdl_pg_find_bindir (GError **error)
{
  g_autofree char *pg_ctl = NULL;

  if (PG_BINDIR_DEFAULT[0] != '\0')
    {
      if (cdl_pg_bindir_is_complete (PG_BINDIR_DEFAULT))
        return g_strdup (PG_BINDIR_DEFAULT);

      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED,
                   "initdb, pg_ctl and postgres were not found in %s, the "
                   "PostgreSQL directory this program was built for",
                   PG_BINDIR_DEFAULT);
      return NULL;
    }

  pg_ctl = g_find_program_in_path ("pg_ctl");
  if (pg_ctl != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (pg_ctl);

      if (cdl_pg_bindir_is_complete (dir))
        return g_steal_pointer (&dir);
    }

  {
    char *versioned = cdl_pg_find_versioned_bindir ();

    if (versioned != NULL)
      return versioned;
  }

  g_set_error_literal (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED,
                       "The PostgreSQL server programs (initdb, pg_ctl, "
                       "postgres) were not found; install the PostgreSQL "
                       "server package or set DATABASE_URL");
  return NULL;
}

/* A value for a libpq connection string, quoted when it needs to be. */
static char *
cdl_conninfo_value (const char *value)
{
  GString *quoted;

  if (*value != '\0' && strpbrk (value, " \t\n\r\f\v'\\") == NULL)
    return g_strdup (value);

  quoted = g_string_new ("'");
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '\'' || *p == '\\')
        g_string_append_c (quoted, '\\');
      g_string_append_c (quoted, *p);
    }
  g_string_append_c (quoted, '\'');

  return g_string_free (quoted, FALSE);
}

static void
cdl_embedded_pg_dispose (GObject *object)
{
  CdlEmbeddedPg *self = (CdlEmbeddedPg *) object;

  if (self->running && self->owned)
    {
      g_autoptr(GError) error = NULL;

      if (!cdl_embedded_pg_stop (self, &error))
        g_warning ("%s", error->message);
    }

  G_OBJECT_CLASS (cdl_embedded_pg_parent_class)->dispose (object);
}

static void
cdl_embedded_pg_finalize (GObject *object)
{
  CdlEmbeddedPg *self = (CdlEmbeddedPg *) object;

  g_clear_pointer (&self->data_dir, g_free);
  g_clear_pointer (&self->cluster_dir, g_free);
  g_clear_pointer (&self->socket_dir, g_free);
  g_clear_pointer (&self->log_path, g_free);
  g_clear_pointer (&self->bindir, g_free);
  g_clear_pointer (&self->conninfo, g_free);
  g_clear_pointer (&self->host, g_free);
  g_clear_pointer (&self->port, g_free);

  G_OBJECT_CLASS (cdl_embedded_pg_parent_class)->finalize (object);
}

static void
cdl_embedded_pg_class_init (CdlEmbeddedPgClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_embedded_pg_dispose;
  object_class->finalize = cdl_embedded_pg_finalize;
}

static void
cdl_embedded_pg_init (CdlEmbeddedPg *self)
{
}

CdlEmbeddedPg *
cdl_embedded_pg_new (const char *data_dir)
{
  CdlEmbeddedPg *self;

  g_return_val_if_fail (data_dir != NULL, NULL);

  self = g_object_new (CDL_TYPE_EMBEDDED_PG, NULL);
  self->data_dir = g_canonicalize_filename (data_dir, NULL);
  self->cluster_dir = g_build_filename (self->data_dir, "postgres", NULL);
  self->socket_dir = g_build_filename (self->data_dir, "run", NULL);
  self->log_path = g_build_filename (self->data_dir, "postgres.log", NULL);

  return self;
}

/* The last lines of the server log, for error messages. */
static char *
cdl_embedded_pg_log_tail (CdlEmbeddedPg *self)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  const char *start;
  guint lines = 0;

  if (!g_file_get_contents (self->log_path, &contents, &length, NULL) ||
      length == 0)
    return g_strdup ("");

  while (length > 0 && contents[length - 1] == '\n')
    contents[--length] = '\0';

  start = contents + length;
  while (start > contents)
    {
      if (start[-1] == '\n' && ++lines == CDL_EMBEDDED_PG_LOG_LINES)
        break;
      start--;
    }

  return g_strdup_printf ("\n\nLast lines of %s:\n%s", self->log_path, start);
}

static void
cdl_embedded_pg_set_error (CdlEmbeddedPg  *self,
                           GError        **error,
                           const char     *what,
                           const char     *detail)
{
  g_autofree char *tail = cdl_embedded_pg_log_tail (self);
  g_autofree char *clean = g_strstrip (g_strdup (detail != NULL ? detail : ""));

  g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED,
               "%s%s%s%s", what, *clean != '\0' ? ": " : "", clean, tail);
}

/* Runs a PostgreSQL program of the bindir, no shell involved. Errors of
 * programs that work on a running server quote its log. */
static gboolean
cdl_embedded_pg_spawn (CdlEmbeddedPg  *self,
                       const char     *what,
                       GPtrArray      *argv,
                       gboolean        quote_log,
                       GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int wait_status = 0;

  g_ptr_array_add (argv, NULL);

  if (!g_spawn_sync (self->data_dir, (char **) argv->pdata, NULL,
                     G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &wait_status,
                     &local_error) ||
      !g_spawn_check_wait_status (wait_status, &local_error))
    {
      g_autofree char *detail = NULL;

      detail = g_strdup_printf ("%s%s%s",
                                err != NULL ? err : "",
                                err != NULL && *err != '\0' ? "\n" : "",
                                local_error->message);
      if (quote_log)
        cdl_embedded_pg_set_error (self, error, what, detail);
      else
        g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED, "%s: %s",
                     what, g_strstrip (detail));
      return FALSE;
    }

  return TRUE;
}

static GPtrArray *
cdl_embedded_pg_argv (CdlEmbeddedPg *self,
                      const char    *program)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (argv, g_build_filename (self->bindir, program, NULL));

  return argv;
}

static void
cdl_argv_add (GPtrArray  *argv,
              const char *arg)
{
  g_ptr_array_add (argv, g_strdup (arg));
}

static void
cdl_remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", "--", path, NULL };

  g_spawn_sync (NULL, (char **) argv, NULL,
                G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, NULL, NULL, NULL, NULL);
}

static gboolean
cdl_embedded_pg_initdb (CdlEmbeddedPg  *self,
                        GError        **error)
{
  g_autoptr(GPtrArray) argv = NULL;
  g_autofree char *fresh = NULL;

  g_message ("Creating the embedded PostgreSQL cluster in %s",
             self->cluster_dir);

  /* initdb works in a directory of its own that is renamed into place
   * once complete, so that an interrupted run leaves no half cluster and
   * two instances starting together do not collide. */
  fresh = g_strdup_printf ("%s.new-XXXXXX", self->cluster_dir);
  if (g_mkdtemp_full (fresh, 0700) == NULL)
    {
      int saved_errno = errno;

      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED,
                   "Could not create a directory in %s: %s",
                   self->data_dir, g_strerror (saved_errno));
      return FALSE;
    }

  argv = cdl_embedded_pg_argv (self, "initdb");
  cdl_argv_add (argv, "-D");
  cdl_argv_add (argv, fresh);
  cdl_argv_add (argv, "--auth=trust");
  cdl_argv_add (argv, "--username=" CDL_EMBEDDED_PG_USER);
  cdl_argv_add (argv, "--encoding=UTF8");
  /* The C locale exists everywhere; the environment's may not be
   * installed, or may not be a UTF-8 one. */
  cdl_argv_add (argv, "--no-locale");
  cdl_argv_add (argv, "--no-instructions");
  if (g_strcmp0 (g_getenv ("CDL_PG_NO_SYNC"), "1") == 0)
    cdl_argv_add (argv, "--no-sync");

  if (!cdl_embedded_pg_spawn (self, "initdb failed", argv, FALSE, error))
    {
      cdl_remove_tree (fresh);
      return FALSE;
    }

  if (g_rename (fresh, self->cluster_dir) != 0)
    {
      int saved_errno = errno;
      g_autofree char *pg_version = NULL;

      pg_version = g_build_filename (self->cluster_dir, "PG_VERSION", NULL);
      if (g_file_test (pg_version, G_FILE_TEST_EXISTS))
        {
          /* Another instance got there first; use its cluster. */
          cdl_remove_tree (fresh);
          return TRUE;
        }

      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED,
                   "Could not move the new cluster to %s: %s",
                   self->cluster_dir, g_strerror (saved_errno));
      return FALSE;
    }

  return TRUE;
}

typedef struct
{
  pid_t  pid;
  char  *socket_dir;
  char  *port;
} CdlPidFile;

static void
cdl_pid_file_clear (CdlPidFile *pid_file)
{
  g_clear_pointer (&pid_file->socket_dir, g_free);
  g_clear_pointer (&pid_file->port, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CdlPidFile, cdl_pid_file_clear)

/* postmaster.pid holds, one per line: the PID, the data dir, the start
 * time, the port, the first socket dir, the listen address, ... */
static gboolean
cdl_pid_file_read (const char *path,
                   CdlPidFile *pid_file)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  gint64 pid;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;

  lines = g_strsplit (contents, "\n", 0);
  pid = lines[0] != NULL ? g_ascii_strtoll (lines[0], NULL, 10) : 0;
  /* A negative PID marks a single-user backend. */
  pid_file->pid = (pid_t) ABS (pid);

  if (g_strv_length (lines) >= 5)
    {
      pid_file->port = g_strstrip (g_strdup (lines[3]));
      pid_file->socket_dir = g_strstrip (g_strdup (lines[4]));
    }

  return TRUE;
}

/* Whether @pid is a live server of @cluster_dir: a postmaster runs with
 * its data dir as working directory, which tells it apart from whatever
 * process reused the PID of one that died. */
static gboolean
cdl_embedded_pg_pid_is_ours (pid_t       pid,
                             const char *cluster_dir)
{
  g_autofree char *cwd_link = NULL;
  g_autofree char *cwd = NULL;
  char *real_dir;
  gboolean same;

  if (pid <= 0 || pid == getpid ())
    return FALSE;

  /* EPERM: someone else's process, so not a server we could have started
   * on this directory. */
  if (kill (pid, 0) != 0)
    return FALSE;

  if (!g_file_test ("/proc/self/cwd", G_FILE_TEST_EXISTS))
    return TRUE;

  cwd_link = g_strdup_printf ("/proc/%d/cwd", (int) pid);
  cwd = g_file_read_link (cwd_link, NULL);
  if (cwd == NULL)
    return FALSE;

  real_dir = realpath (cluster_dir, NULL);
  same = real_dir != NULL && strcmp (real_dir, cwd) == 0;
  free (real_dir);

  return same;
}

static void
cdl_remove_if_exists (const char *path)
{
  if (g_unlink (path) != 0 && errno != ENOENT)
    g_warning ("Could not remove %s: %s", path, g_strerror (errno));
}

static void
cdl_embedded_pg_remove_stale (CdlEmbeddedPg *self,
                              const char    *pid_path,
                              pid_t          pid)
{
  g_autofree char *lock = NULL;
  g_autofree char *socket = NULL;

  g_message ("Removing the stale lock file of the embedded PostgreSQL: "
             "process %d is not its server", (int) pid);

  cdl_remove_if_exists (pid_path);

  socket = g_build_filename (self->socket_dir, ".s.PGSQL." CDL_EMBEDDED_PG_PORT,
                             NULL);
  lock = g_strconcat (socket, ".lock", NULL);
  cdl_remove_if_exists (lock);
  cdl_remove_if_exists (socket);
}

static void
cdl_embedded_pg_set_conninfo (CdlEmbeddedPg *self,
                              const char    *socket_dir,
                              const char    *port)
{
  g_autofree char *host = cdl_conninfo_value (socket_dir);
  g_autofree char *quoted_port = cdl_conninfo_value (port);

  g_free (self->host);
  self->host = g_strdup (socket_dir);
  g_free (self->port);
  self->port = g_strdup (port);

  g_free (self->conninfo);
  self->conninfo = g_strdup_printf ("host=%s port=%s dbname="
                                    CDL_EMBEDDED_PG_DATABASE
                                    " user=" CDL_EMBEDDED_PG_USER,
                                    host, quoted_port);
}

/* Looks at postmaster.pid: removes it when stale, and returns TRUE with
 * the connection settings filled in when a server of ours already runs on
 * this cluster. */
static gboolean
cdl_embedded_pg_find_running (CdlEmbeddedPg  *self,
                              GError        **error)
{
  g_autofree char *pid_path = NULL;
  g_auto(CdlPidFile) pid_file = { 0 };

  pid_path = g_build_filename (self->cluster_dir, "postmaster.pid", NULL);
  if (!cdl_pid_file_read (pid_path, &pid_file))
    return FALSE;

  if (!cdl_embedded_pg_pid_is_ours (pid_file.pid, self->cluster_dir))
    {
      cdl_embedded_pg_remove_stale (self, pid_path, pid_file.pid);
      return FALSE;
    }

  if (pid_file.socket_dir == NULL || *pid_file.socket_dir == '\0' ||
      pid_file.port == NULL || *pid_file.port == '\0')
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED,
                   "A PostgreSQL server (process %d) is already running on "
                   "%s without a Unix socket; stop it and start again",
                   (int) pid_file.pid, self->cluster_dir);
      return FALSE;
    }

  g_message ("Using the embedded PostgreSQL that is already running "
             "(process %d)", (int) pid_file.pid);
  cdl_embedded_pg_set_conninfo (self, pid_file.socket_dir, pid_file.port);

  return TRUE;
}

/* Keyword/value connection to the maintenance database; no string to
 * parse or quote. */
static PGconn *
cdl_embedded_pg_connect_maintenance (CdlEmbeddedPg *self)
{
  const char * const keywords[] = {
    "host", "port", "dbname", "user", "application_name", "connect_timeout",
    NULL
  };
  const char * const values[] = {
    self->host, self->port, "postgres", CDL_EMBEDDED_PG_USER, "comfy-datalabel",
    "10", NULL
  };

  return PQconnectdbParams (keywords, values, 0);
}

static gboolean
cdl_embedded_pg_wait_ready (CdlEmbeddedPg  *self,
                            GError        **error)
{
  const char * const keywords[] = {
    "host", "port", "dbname", "user", "connect_timeout", NULL
  };
  const char * const values[] = {
    self->host, self->port, "postgres", CDL_EMBEDDED_PG_USER, "5", NULL
  };
  gint64 deadline;

  deadline = g_get_monotonic_time () + CDL_EMBEDDED_PG_WAIT_S * G_USEC_PER_SEC;

  while (PQpingParams (keywords, values, 0) != PQPING_OK)
    {
      if (g_get_monotonic_time () > deadline)
        {
          cdl_embedded_pg_set_error (self, error,
                                     "The embedded PostgreSQL did not accept "
                                     "connections in time", NULL);
          return FALSE;
        }

      g_usleep (G_USEC_PER_SEC / 10);
    }

  return TRUE;
}

static gboolean
cdl_embedded_pg_database_exists (PGconn    *conn,
                                 gboolean  *exists,
                                 GError   **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { CDL_EMBEDDED_PG_DATABASE };

  res = cdl_pq_exec (conn, "SELECT 1 FROM pg_database WHERE datname = $1",
                     1, params, error);
  if (res == NULL)
    return FALSE;

  *exists = PQntuples (res) > 0;

  return TRUE;
}

static gboolean
cdl_embedded_pg_ensure_database (CdlEmbeddedPg  *self,
                                 GError        **error)
{
  g_autoptr(GError) create_error = NULL;
  PGconn *conn;
  gboolean exists = FALSE;
  gboolean ret = FALSE;

  conn = cdl_embedded_pg_connect_maintenance (self);
  if (PQstatus (conn) != CONNECTION_OK)
    {
      cdl_embedded_pg_set_error (self, error,
                                 "Could not connect to the embedded PostgreSQL",
                                 PQerrorMessage (conn));
      goto out;
    }

  if (!cdl_embedded_pg_database_exists (conn, &exists, error))
    goto out;

  if (exists)
    {
      ret = TRUE;
      goto out;
    }

  /* CREATE DATABASE takes no parameters; the name is a constant. */
  if (cdl_pq_command (conn, "CREATE DATABASE " CDL_EMBEDDED_PG_DATABASE,
                      0, NULL, &create_error))
    {
      ret = TRUE;
      goto out;
    }

  /* Another instance may have created it in the meantime. */
  if (cdl_embedded_pg_database_exists (conn, &exists, NULL) && exists)
    {
      ret = TRUE;
      goto out;
    }

  g_propagate_prefixed_error (error, g_steal_pointer (&create_error),
                              "Could not create the database: ");

out:
  PQfinish (conn);

  return ret;
}

static gboolean
cdl_embedded_pg_prepare_dirs (CdlEmbeddedPg  *self,
                              GError        **error)
{
  const char * const dirs[] = { self->data_dir, self->socket_dir };
  GStatBuf st;

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      if (g_mkdir_with_parents (dirs[i], 0700) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED,
                       "Could not create %s: %s", dirs[i],
                       g_strerror (saved_errno));
          return FALSE;
        }
    }

  /* The socket directory is what keeps other local users out. */
  if (g_chmod (self->socket_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED,
                   "Could not restrict %s: %s", self->socket_dir,
                   g_strerror (saved_errno));
      return FALSE;
    }

  /* pg_ctl only ever appends to its log. */
  if (g_stat (self->log_path, &st) == 0 && st.st_size > CDL_EMBEDDED_PG_LOG_MAX)
    {
      g_autofree char *old = g_strconcat (self->log_path, ".old", NULL);

      g_rename (self->log_path, old);
    }

  return TRUE;
}

static gboolean
cdl_embedded_pg_pg_ctl_start (CdlEmbeddedPg  *self,
                              GError        **error)
{
  g_autoptr(GPtrArray) argv = NULL;
  g_autofree char *quoted_socket_dir = NULL;
  g_autofree char *options = NULL;
  g_autofree char *timeout = NULL;

  /* pg_ctl hands -o to the server through a shell. */
  quoted_socket_dir = g_shell_quote (self->socket_dir);
  options = g_strdup_printf ("-k %s -p " CDL_EMBEDDED_PG_PORT
                             " -c listen_addresses=''"
                             " -c unix_socket_permissions=0700",
                             quoted_socket_dir);
  timeout = g_strdup_printf ("%d", CDL_EMBEDDED_PG_WAIT_S);

  argv = cdl_embedded_pg_argv (self, "pg_ctl");
  cdl_argv_add (argv, "start");
  cdl_argv_add (argv, "-w");
  cdl_argv_add (argv, "-t");
  cdl_argv_add (argv, timeout);
  cdl_argv_add (argv, "-D");
  cdl_argv_add (argv, self->cluster_dir);
  cdl_argv_add (argv, "-l");
  cdl_argv_add (argv, self->log_path);
  cdl_argv_add (argv, "-o");
  cdl_argv_add (argv, options);

  return cdl_embedded_pg_spawn (self, "The embedded PostgreSQL could not start",
                                argv, TRUE, error);
}

gboolean
cdl_embedded_pg_start (CdlEmbeddedPg  *self,
                       GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *pg_version = NULL;

  g_return_val_if_fail (CDL_IS_EMBEDDED_PG (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->running)
    return TRUE;

  if (geteuid () == 0)
    {
      g_set_error_literal (error, CDL_DB_ERROR, CDL_DB_ERROR_EMBEDDED,
                           "PostgreSQL refuses to run as root; run as an "
                           "ordinary user or set DATABASE_URL");
      return FALSE;
    }

  if (self->bindir == NULL)
    {
      self->bindir = cdl_pg_find_bindir (error);
      if (self->bindir == NULL)
        return FALSE;
    }

  if (!cdl_embedded_pg_prepare_dirs (self, error))
    return FALSE;

  pg_version = g_build_filename (self->cluster_dir, "PG_VERSION", NULL);
  if (!g_file_test (pg_version, G_FILE_TEST_EXISTS) &&
      !cdl_embedded_pg_initdb (self, error))
    return FALSE;

  if (cdl_embedded_pg_find_running (self, &local_error))
    {
      self->owned = FALSE;
    }
  else if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  else if (cdl_embedded_pg_pg_ctl_start (self, &local_error))
    {
      self->owned = TRUE;
      cdl_embedded_pg_set_conninfo (self, self->socket_dir,
                                    CDL_EMBEDDED_PG_PORT);
    }
  else
    {
      g_autoptr(GError) again_error = NULL;

      /* Another instance may have started it a moment before us. */
      if (!cdl_embedded_pg_find_running (self, &again_error))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }

      self->owned = FALSE;
    }

  self->running = TRUE;

  if (!cdl_embedded_pg_wait_ready (self, error) ||
      !cdl_embedded_pg_ensure_database (self, error))
    {
      cdl_embedded_pg_stop (self, NULL);
      return FALSE;
    }

  g_debug ("The embedded PostgreSQL is ready (%s)",
           self->owned ? "started" : "reused");

  return TRUE;
}

gboolean
cdl_embedded_pg_stop (CdlEmbeddedPg  *self,
                      GError        **error)
{
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *pid_path = NULL;

  g_return_val_if_fail (CDL_IS_EMBEDDED_PG (self), FALSE);

  if (!self->running)
    return TRUE;

  self->running = FALSE;

  if (!self->owned)
    return TRUE;

  argv = cdl_embedded_pg_argv (self, "pg_ctl");
  cdl_argv_add (argv, "stop");
  cdl_argv_add (argv, "-m");
  cdl_argv_add (argv, "fast");
  cdl_argv_add (argv, "-w");
  cdl_argv_add (argv, "-D");
  cdl_argv_add (argv, self->cluster_dir);

  if (cdl_embedded_pg_spawn (self, "The embedded PostgreSQL could not stop",
                             argv, TRUE, &local_error))
    return TRUE;

  /* Already gone (killed, or stopped by hand) is what we wanted. */
  pid_path = g_build_filename (self->cluster_dir, "postmaster.pid", NULL);
  if (!g_file_test (pid_path, G_FILE_TEST_EXISTS))
    return TRUE;

  g_propagate_error (error, g_steal_pointer (&local_error));

  return FALSE;
}

gboolean
cdl_embedded_pg_is_running (CdlEmbeddedPg *self)
{
  g_return_val_if_fail (CDL_IS_EMBEDDED_PG (self), FALSE);

  return self->running;
}

const char *
cdl_embedded_pg_get_conninfo (CdlEmbeddedPg *self)
{
  g_return_val_if_fail (CDL_IS_EMBEDDED_PG (self), NULL);

  return self->conninfo;
}

const char *
cdl_embedded_pg_get_cluster_dir (CdlEmbeddedPg *self)
{
  g_return_val_if_fail (CDL_IS_EMBEDDED_PG (self), NULL);

  return self->cluster_dir;
}
