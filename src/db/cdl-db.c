/* cdl-db.c: a pool of PostgreSQL connections and the thread that runs work
 * on them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include <poll.h>
#include <string.h>

#include "db/cdl-db.h"
#include "db/cdl-migrations.h"

#define CDL_DB_DEFAULT_POOL_SIZE 8
#define CDL_DB_MIGRATIONS_DIR    RESOURCE_BASE "/sql"

/* Defined by the compiled data bundle (resources/cdl-data.gresource.xml). */
GResource *cdl_data_get_resource (void);

/* The pool has pool_size slots. A slot is taken by a borrower (a pool
 * thread or a caller of cdl_db_acquire()) and holds one connection, or none
 * yet while it connects. Async work waits in a queue, not in a thread: a
 * task is handed to a thread only with a slot, so that waiting for the
 * database never occupies the threads GIO shares with the rest of the
 * program. */
struct _CdlDb
{
  GObject  parent_instance;

  char    *conninfo;
  guint    pool_size;

  /* Guards everything below. */
  GMutex   mutex;
  GCond    cond;
  GQueue   idle;       /* PGconn, connected and outside any transaction */
  GQueue   pending;    /* GTask, waiting for a slot */
  guint    n_open;     /* connections, idle or in a slot */
  guint    in_use;     /* slots taken */
  guint    n_waiting;  /* threads blocked in cdl_db_acquire() */
};

G_DEFINE_FINAL_TYPE (CdlDb, cdl_db, G_TYPE_OBJECT)

typedef struct
{
  CdlDbFunc       func;
  gpointer        data;
  GDestroyNotify  data_free;
  GDestroyNotify  result_free;
  /* The slot's connection handed to the thread; NULL to open one. */
  PGconn         *conn;
} CdlDbWork;

static void cdl_db_run_thread (GTask        *task,
                               gpointer      source_object,
                               gpointer      task_data,
                               GCancellable *cancellable);

static void
cdl_db_work_free (gpointer user_data)
{
  CdlDbWork *work = user_data;

  g_assert (work->conn == NULL);

  if (work->data_free != NULL && work->data != NULL)
    work->data_free (work->data);

  g_free (work);
}

static void
cdl_db_finalize (GObject *object)
{
  CdlDb *self = (CdlDb *) object;
  PGconn *conn;

  /* Borrowers and queued tasks hold a reference. */
  g_assert (self->in_use == 0);
  g_assert (g_queue_is_empty (&self->pending));

  while ((conn = g_queue_pop_head (&self->idle)) != NULL)
    PQfinish (conn);

  g_clear_pointer (&self->conninfo, g_free);
  g_mutex_clear (&self->mutex);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (cdl_db_parent_class)->finalize (object);
}

static void
cdl_db_class_init (CdlDbClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cdl_db_finalize;
}

static void
cdl_db_init (CdlDb *self)
{
  g_mutex_init (&self->mutex);
  g_cond_init (&self->cond);
  g_queue_init (&self->idle);
  g_queue_init (&self->pending);
}

CdlDb *
cdl_db_new (const char *conninfo,
            guint       pool_size)
{
  CdlDb *self;

  g_return_val_if_fail (conninfo != NULL, NULL);

  self = g_object_new (CDL_TYPE_DB, NULL);
  self->conninfo = g_strdup (conninfo);
  self->pool_size = pool_size > 0 ? pool_size : CDL_DB_DEFAULT_POOL_SIZE;

  return self;
}

/* libpq prints server notices on stderr by default. */
static void
cdl_db_notice_cb (void       *user_data,
                  const char *message)
{
  gsize len = strlen (message);

  while (len > 0 && message[len - 1] == '\n')
    len--;

  g_debug ("Server notice: %.*s", (int) len, message);
}

static PGconn *
cdl_db_connect (CdlDb   *self,
                GError **error)
{
  /* Entries before "dbname" are defaults that the expanded connection
   * string may override. */
  static const char * const keywords[] = {
    "application_name",
    "connect_timeout",
    "dbname",
    NULL
  };
  const char *values[] = {
    "comfy-datalabel",
    "10",
    self->conninfo,
    NULL
  };
  PGconn *conn;

  conn = PQconnectdbParams (keywords, values, 1);

  if (conn == NULL)
    {
      g_set_error_literal (error, CDL_DB_ERROR, CDL_DB_ERROR_CONNECTION,
                           "Out of memory while connecting to the database");
      return NULL;
    }

  if (PQstatus (conn) != CONNECTION_OK)
    {
      g_auto(GStrv) lines = g_strsplit (PQerrorMessage (conn), "\n", 2);
      const char *reason = lines[0] != NULL && *lines[0] != '\0'
                           ? lines[0] : "unknown reason";

      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_CONNECTION,
                   "Could not connect to the database: %s", reason);
      PQfinish (conn);
      return NULL;
    }

  PQsetNoticeProcessor (conn, cdl_db_notice_cb, NULL);

  g_debug ("Opened a database connection (server version %d)",
           PQserverVersion (conn));

  return conn;
}

/* An idle connection the server closed (restart, idle timeout) is only
 * noticed on the next read; reading what is pending finds out without
 * blocking, since libpq keeps its socket non-blocking. */
static gboolean
cdl_db_conn_is_alive (PGconn *conn)
{
  PGnotify *notify;

  /* A terminated backend sends its last message and then closes; libpq
   * sees the close only on the read after the one that got the message. */
  for (guint i = 0; i < 4; i++)
    {
      struct pollfd pfd = { .fd = PQsocket (conn), .events = POLLIN };

      if (pfd.fd < 0 || poll (&pfd, 1, 0) <= 0)
        break;

      if (!PQconsumeInput (conn) || PQstatus (conn) != CONNECTION_OK)
        return FALSE;
    }

  while ((notify = PQnotifies (conn)) != NULL)
    PQfreemem (notify);

  return PQstatus (conn) == CONNECTION_OK;
}

/* Takes a free slot, with an idle connection when there is one. */
static gboolean
cdl_db_take_slot_locked (CdlDb   *self,
                         PGconn **conn)
{
  *conn = g_queue_pop_head (&self->idle);

  if (*conn != NULL)
    {
      self->in_use++;
      return TRUE;
    }

  if (self->n_open < self->pool_size)
    {
      /* Counted now: the slot's connection is opened outside the lock. */
      self->n_open++;
      self->in_use++;
      return TRUE;
    }

  return FALSE;
}

static void
cdl_db_start_task (CdlDb  *self,
                   GTask  *task,
                   PGconn *conn)
{
  CdlDbWork *work = g_task_get_task_data (task);

  work->conn = conn;
  g_task_run_in_thread (task, cdl_db_run_thread);
  g_object_unref (task);
}

/* Gives up a slot and its connection (NULL when it has none): to the next
 * queued task unless a thread waits in cdl_db_acquire(), which goes first
 * since it holds a thread already. */
static void
cdl_db_put_slot (CdlDb  *self,
                 PGconn *conn)
{
  GTask *next = NULL;

  g_mutex_lock (&self->mutex);

  g_assert (self->in_use > 0);

  if (self->n_waiting == 0)
    next = g_queue_pop_head (&self->pending);

  if (next == NULL)
    {
      self->in_use--;

      if (conn != NULL)
        g_queue_push_head (&self->idle, conn);
      else
        self->n_open--;

      g_cond_signal (&self->cond);
    }

  g_mutex_unlock (&self->mutex);

  if (next != NULL)
    cdl_db_start_task (self, next, conn);
}

/* Makes the connection of a slot usable: checks an idle one, or opens
 * one. On failure the slot is still held, without a connection. */
static PGconn *
cdl_db_ready_conn (CdlDb   *self,
                   PGconn  *conn,
                   GError **error)
{
  if (conn != NULL && !cdl_db_conn_is_alive (conn))
    {
      g_debug ("Dropped a database connection that the server closed");
      g_clear_pointer (&conn, PQfinish);
    }

  if (conn == NULL)
    conn = cdl_db_connect (self, error);

  return conn;
}

/* Leaves @conn idle and outside any transaction, or closes it. Returns
 * what is left to keep. */
static PGconn *
cdl_db_clean_conn (PGconn *conn)
{
  if (PQstatus (conn) == CONNECTION_OK)
    {
      switch (PQtransactionStatus (conn))
        {
        case PQTRANS_INTRANS:
        case PQTRANS_INERROR:
          g_debug ("Rolling back a transaction left open on release");
          cdl_pq_rollback (conn);
          break;

        case PQTRANS_IDLE:
        case PQTRANS_ACTIVE:
        case PQTRANS_UNKNOWN:
        default:
          break;
        }
    }

  if (PQstatus (conn) != CONNECTION_OK ||
      PQtransactionStatus (conn) != PQTRANS_IDLE)
    {
      g_debug ("Dropped a database connection in a bad state");
      PQfinish (conn);
      return NULL;
    }

  return conn;
}

PGconn *
cdl_db_acquire (CdlDb   *self,
                GError **error)
{
  PGconn *conn = NULL;

  g_return_val_if_fail (CDL_IS_DB (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_mutex_lock (&self->mutex);

  self->n_waiting++;
  while (!cdl_db_take_slot_locked (self, &conn))
    g_cond_wait (&self->cond, &self->mutex);
  self->n_waiting--;

  g_mutex_unlock (&self->mutex);

  conn = cdl_db_ready_conn (self, conn, error);
  if (conn == NULL)
    cdl_db_put_slot (self, NULL);

  return conn;
}

void
cdl_db_release (CdlDb  *self,
                PGconn *conn)
{
  g_return_if_fail (CDL_IS_DB (self));
  g_return_if_fail (conn != NULL);

  cdl_db_put_slot (self, cdl_db_clean_conn (conn));
}

gboolean
cdl_db_open (CdlDb   *self,
             GError **error)
{
  PGconn *conn;

  g_return_val_if_fail (CDL_IS_DB (self), FALSE);

  conn = cdl_db_acquire (self, error);
  if (conn == NULL)
    return FALSE;

  cdl_db_release (self, conn);

  return TRUE;
}

gboolean
cdl_db_migrate (CdlDb   *self,
                GError **error)
{
  PGconn *conn;
  guint n_applied = 0;
  gboolean ret;

  g_return_val_if_fail (CDL_IS_DB (self), FALSE);

  /* Referencing the bundle keeps its object file, and with it the
   * constructor that registers the resources, in programs that link this
   * library statically. */
  (void) cdl_data_get_resource ();

  conn = cdl_db_acquire (self, error);
  if (conn == NULL)
    return FALSE;

  ret = cdl_migrations_apply (conn, CDL_DB_MIGRATIONS_DIR, &n_applied, error);
  cdl_db_release (self, conn);

  if (ret)
    g_debug ("Applied %u database migrations", n_applied);

  return ret;
}

/* Runs @work on @conn, the connection of a slot the caller holds (NULL to
 * open one), and gives the slot up. */
static gpointer
cdl_db_run_in_slot (CdlDb         *self,
                    CdlDbWork     *work,
                    PGconn        *conn,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  gpointer result = NULL;

  /* Waiting for a slot may have taken a while. */
  if (!g_cancellable_set_error_if_cancelled (cancellable, &local_error))
    {
      conn = cdl_db_ready_conn (self, conn, &local_error);
      if (conn != NULL)
        result = work->func (conn, work->data, cancellable, &local_error);
    }

  if (conn != NULL)
    conn = cdl_db_clean_conn (conn);
  cdl_db_put_slot (self, conn);

  if (local_error != NULL)
    {
      if (result != NULL && work->result_free != NULL)
        work->result_free (result);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  return result;
}

static void
cdl_db_run_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  CdlDb *self = source_object;
  CdlDbWork *work = task_data;
  PGconn *conn = g_steal_pointer (&work->conn);
  GError *error = NULL;
  gpointer result;

  result = cdl_db_run_in_slot (self, work, conn, cancellable, &error);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, work->result_free);
}

void
cdl_db_run_async (CdlDb               *self,
                  CdlDbFunc            func,
                  gpointer             data,
                  GDestroyNotify       data_free,
                  GDestroyNotify       result_free,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  CdlDbWork *work;
  PGconn *conn = NULL;
  gboolean start;

  g_return_if_fail (CDL_IS_DB (self));
  g_return_if_fail (func != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  work = g_new0 (CdlDbWork, 1);
  work->func = func;
  work->data = data;
  work->data_free = data_free;
  work->result_free = result_free;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_db_run_async);
  g_task_set_task_data (task, work, cdl_db_work_free);

  if (g_task_return_error_if_cancelled (task))
    return;

  g_mutex_lock (&self->mutex);
  start = g_queue_is_empty (&self->pending) &&
          cdl_db_take_slot_locked (self, &conn);
  if (!start)
    g_queue_push_tail (&self->pending, g_object_ref (task));
  g_mutex_unlock (&self->mutex);

  if (start)
    cdl_db_start_task (self, g_steal_pointer (&task), conn);
}

gpointer
cdl_db_run_finish (CdlDb         *self,
                   GAsyncResult  *result,
                   GError       **error)
{
  g_return_val_if_fail (CDL_IS_DB (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        cdl_db_run_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

gpointer
cdl_db_run_sync (CdlDb         *self,
                 CdlDbFunc      func,
                 gpointer       data,
                 GCancellable  *cancellable,
                 GError       **error)
{
  CdlDbWork work = { 0 };
  PGconn *conn = NULL;

  g_return_val_if_fail (CDL_IS_DB (self), NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  work.func = func;
  work.data = data;

  g_mutex_lock (&self->mutex);
  self->n_waiting++;
  while (!cdl_db_take_slot_locked (self, &conn))
    g_cond_wait (&self->cond, &self->mutex);
  self->n_waiting--;
  g_mutex_unlock (&self->mutex);

  return cdl_db_run_in_slot (self, &work, conn, cancellable, error);
}

guint
cdl_db_get_pool_size (CdlDb *self)
{
  g_return_val_if_fail (CDL_IS_DB (self), 0);

  return self->pool_size;
}

guint
cdl_db_get_in_use (CdlDb *self)
{
  guint in_use;

  g_return_val_if_fail (CDL_IS_DB (self), 0);

  g_mutex_lock (&self->mutex);
  in_use = self->in_use;
  g_mutex_unlock (&self->mutex);

  return in_use;
}
