/* cdl-db-listener.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include <glib-unix.h>
#include <string.h>
#include <libpq-fe.h>

#include "db/cdl-db-listener.h"

#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 30000

struct _CdlDbListener
{
  GObject        parent_instance;
  char          *conninfo;
  char         **channels;
  PGconn        *conn;
  GMainContext  *context;
  GSource       *watch;
  GSource       *retry;
  GCancellable  *cancellable;
  guint          retry_ms;
  gboolean       running;
  gboolean       connecting;
  gboolean       had_connection;
};

G_DEFINE_FINAL_TYPE (CdlDbListener, cdl_db_listener, G_TYPE_OBJECT)

enum {
  NOTIFICATION,
  RESYNC,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void connect_now (CdlDbListener *self);

static void
drop_connection (CdlDbListener *self)
{
  if (self->watch != NULL)
    {
      g_source_destroy (self->watch);
      g_clear_pointer (&self->watch, g_source_unref);
    }
  g_clear_pointer (&self->conn, PQfinish);
}

static void
cdl_db_listener_finalize (GObject *object)
{
  CdlDbListener *self = (CdlDbListener *)object;

  cdl_db_listener_stop (self);
  g_clear_pointer (&self->conninfo, g_free);
  g_clear_pointer (&self->channels, g_strfreev);

  G_OBJECT_CLASS (cdl_db_listener_parent_class)->finalize (object);
}

static void
cdl_db_listener_class_init (CdlDbListenerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cdl_db_listener_finalize;

  signals[NOTIFICATION] =
    g_signal_new ("notification",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  signals[RESYNC] =
    g_signal_new ("resync",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
cdl_db_listener_init (CdlDbListener *self)
{
  self->retry_ms = RETRY_MIN_MS;
}

CdlDbListener *
cdl_db_listener_new (const char         *conninfo,
                     const char * const *channels)
{
  CdlDbListener *self;

  g_return_val_if_fail (conninfo != NULL, NULL);
  g_return_val_if_fail (channels != NULL && channels[0] != NULL, NULL);

  self = g_object_new (CDL_TYPE_DB_LISTENER, NULL);
  self->conninfo = g_strdup (conninfo);
  self->channels = g_strdupv ((char **)channels);

  return self;
}

static gboolean
retry_cb (gpointer user_data)
{
  CdlDbListener *self = user_data;

  g_clear_pointer (&self->retry, g_source_unref);
  connect_now (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_retry (CdlDbListener *self)
{
  if (!self->running || self->retry != NULL)
    return;

  self->retry = g_timeout_source_new (self->retry_ms);
  g_source_set_callback (self->retry, retry_cb, self, NULL);
  g_source_attach (self->retry, self->context);
  self->retry_ms = MIN (self->retry_ms * 2, RETRY_MAX_MS);
}

static gboolean
readable_cb (int           fd,
             GIOCondition  condition,
             gpointer      user_data)
{
  CdlDbListener *self = user_data;
  PGnotify *note;

  if (!PQconsumeInput (self->conn))
    {
      g_warning ("Lost the notification connection: %s", PQerrorMessage (self->conn));
      g_clear_pointer (&self->watch, g_source_unref);
      g_clear_pointer (&self->conn, PQfinish);
      schedule_retry (self);
      return G_SOURCE_REMOVE;
    }

  /* Keep a reference: a handler may drop the last one elsewhere. */
  g_object_ref (self);
  while (self->conn != NULL && (note = PQnotifies (self->conn)) != NULL)
    {
      g_signal_emit (self, signals[NOTIFICATION], 0, note->relname, note->extra);
      PQfreemem (note);
    }
  g_object_unref (self);

  return G_SOURCE_CONTINUE;
}

/* Runs in a thread: a blocking connect and the LISTEN statements. */
static void
connect_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  CdlDbListener *self = source_object;
  PGconn *conn = PQconnectdb (self->conninfo);

  if (PQstatus (conn) != CONNECTION_OK)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                               "%s", PQerrorMessage (conn));
      PQfinish (conn);
      return;
    }

  for (guint i = 0; self->channels[i] != NULL; i++)
    {
      char *ident = PQescapeIdentifier (conn, self->channels[i], strlen (self->channels[i]));
      g_autofree char *sql = g_strconcat ("LISTEN ", ident, NULL);
      PGresult *res;

      PQfreemem (ident);
      res = PQexec (conn, sql);
      if (PQresultStatus (res) != PGRES_COMMAND_OK)
        {
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED,
                                   "%s", PQerrorMessage (conn));
          PQclear (res);
          PQfinish (conn);
          return;
        }
      PQclear (res);
    }

  PQsetnonblocking (conn, 1);
  g_task_return_pointer (task, conn, (GDestroyNotify)PQfinish);
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlDbListener) self = user_data;
  g_autoptr(GError) error = NULL;
  PGconn *conn;

  self->connecting = FALSE;
  conn = g_task_propagate_pointer (G_TASK (result), &error);

  if (!self->running)
    {
      g_clear_pointer (&conn, PQfinish);
      return;
    }

  if (conn == NULL)
    {
      g_debug ("The notification connection could not open: %s", error->message);
      schedule_retry (self);
      return;
    }

  self->conn = conn;
  self->retry_ms = RETRY_MIN_MS;
  self->watch = g_unix_fd_source_new (PQsocket (conn), G_IO_IN | G_IO_ERR | G_IO_HUP);
  g_source_set_callback (self->watch, (GSourceFunc)(void (*) (void))readable_cb, self, NULL);
  g_source_attach (self->watch, self->context);

  /* Whatever happened while we were away went unheard. */
  if (self->had_connection)
    g_signal_emit (self, signals[RESYNC], 0);
  self->had_connection = TRUE;
}

static void
connect_now (CdlDbListener *self)
{
  g_autoptr(GTask) task = NULL;

  if (!self->running || self->connecting || self->conn != NULL)
    return;

  self->connecting = TRUE;
  task = g_task_new (self, self->cancellable, connected_cb, g_object_ref (self));
  g_task_run_in_thread (task, connect_thread);
}

void
cdl_db_listener_start (CdlDbListener *self)
{
  g_return_if_fail (CDL_IS_DB_LISTENER (self));

  if (self->running)
    return;

  self->running = TRUE;
  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref_thread_default ();
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  connect_now (self);
}

void
cdl_db_listener_stop (CdlDbListener *self)
{
  g_return_if_fail (CDL_IS_DB_LISTENER (self));

  self->running = FALSE;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (self->retry != NULL)
    {
      g_source_destroy (self->retry);
      g_clear_pointer (&self->retry, g_source_unref);
    }
  drop_connection (self);
  g_clear_pointer (&self->context, g_main_context_unref);
}

gboolean
cdl_db_listener_is_connected (CdlDbListener *self)
{
  g_return_val_if_fail (CDL_IS_DB_LISTENER (self), FALSE);

  return self->conn != NULL;
}
