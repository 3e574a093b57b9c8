/* cdl-auth-service.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-auth"

#include "config.h"

#include "db/cdl-user-repo.h"
#include "services/cdl-auth-service.h"
#include "services/cdl-service-error.h"

/* How long a resolved token is trusted without asking the database. */
#define CACHE_TTL_US (10 * G_USEC_PER_SEC)
#define CACHE_MAX    4096

typedef struct
{
  CdlUser *user;
  gint64   expires_at;
} CacheEntry;

struct _CdlAuthService
{
  GObject     parent_instance;
  CdlDb      *db;
  GMutex      mutex;
  GHashTable *cache;    /* token hash -> CacheEntry */
};

G_DEFINE_FINAL_TYPE (CdlAuthService, cdl_auth_service, G_TYPE_OBJECT)

static void
cache_entry_free (gpointer data)
{
  CacheEntry *entry = data;

  cdl_user_free (entry->user);
  g_free (entry);
}

static void
cdl_auth_service_finalize (GObject *object)
{
  CdlAuthService *self = (CdlAuthService *)object;

  g_clear_object (&self->db);
  g_clear_pointer (&self->cache, g_hash_table_unref);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (cdl_auth_service_parent_class)->finalize (object);
}

static void
cdl_auth_service_class_init (CdlAuthServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdl_auth_service_finalize;
}

static void
cdl_auth_service_init (CdlAuthService *self)
{
  g_mutex_init (&self->mutex);
  self->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, cache_entry_free);
}

CdlAuthService *
cdl_auth_service_new (CdlDb *db)
{
  CdlAuthService *self;

  g_return_val_if_fail (CDL_IS_DB (db), NULL);

  self = g_object_new (CDL_TYPE_AUTH_SERVICE, NULL);
  self->db = g_object_ref (db);

  return self;
}

typedef struct
{
  char    *name;
  char    *label;
  char    *hash;
  CdlRole  role;
} IssueData;

static gpointer
issue_in_thread (PGconn        *conn,
                 gpointer       data,
                 GCancellable  *cancellable,
                 GError       **error)
{
  IssueData *d = data;
  g_autoptr(CdlUser) user = NULL;

  if (!cdl_pq_begin (conn, error))
    return NULL;

  user = cdl_user_repo_ensure (conn, d->name, d->role, error);
  if (user == NULL || !cdl_user_repo_add_token (conn, user->id, d->hash, d->label, error))
    {
      cdl_pq_rollback (conn);
      return NULL;
    }

  if (!cdl_pq_commit (conn, error))
    return NULL;

  return g_steal_pointer (&user);
}

char *
cdl_auth_service_issue_token_sync (CdlAuthService  *self,
                                   const char      *name,
                                   CdlRole          role,
                                   const char      *label,
                                   GError         **error)
{
  g_autofree char *token = NULL;
  g_autofree char *trimmed = NULL;
  g_autoptr(CdlUser) user = NULL;
  IssueData d = { 0 };

  g_return_val_if_fail (CDL_IS_AUTH_SERVICE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  trimmed = g_strstrip (g_strdup (name));
  if (*trimmed == '\0' || g_utf8_strlen (trimmed, -1) > 128)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   "name must be 1 to 128 characters");
      return NULL;
    }

  token = cdl_auth_token_generate ();
  d.name = trimmed;
  d.role = role;
  d.label = (char *)label;
  d.hash = cdl_auth_token_hash (token);

  user = cdl_db_run_sync (self->db, issue_in_thread, &d, NULL, error);
  g_free (d.hash);

  if (user == NULL)
    {
      cdl_service_error_translate (error);
      return NULL;
    }

  return g_steal_pointer (&token);
}

static CdlUser *
cache_lookup (CdlAuthService *self,
              const char     *hash)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->mutex);
  CacheEntry *entry = g_hash_table_lookup (self->cache, hash);

  if (entry == NULL)
    return NULL;

  if (entry->expires_at < g_get_monotonic_time ())
    {
      g_hash_table_remove (self->cache, hash);
      return NULL;
    }

  return cdl_user_copy (entry->user);
}

static void
cache_store (CdlAuthService *self,
             const char     *hash,
             const CdlUser  *user)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->mutex);
  CacheEntry *entry;

  /* A crude bound: forget everything rather than grow without limit. */
  if (g_hash_table_size (self->cache) >= CACHE_MAX)
    g_hash_table_remove_all (self->cache);

  entry = g_new0 (CacheEntry, 1);
  entry->user = cdl_user_copy (user);
  entry->expires_at = g_get_monotonic_time () + CACHE_TTL_US;
  g_hash_table_replace (self->cache, g_strdup (hash), entry);
}

static gpointer
find_in_thread (PGconn        *conn,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  return cdl_user_repo_find_by_token (conn, data, error);
}

static void
find_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlAuthService *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  CdlUser *user;

  user = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (error != NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (user == NULL)
    {
      g_task_return_new_error (task, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_UNAUTHORIZED,
                               "The token is unknown or was revoked; sign in again");
      return;
    }

  cache_store (self, g_task_get_task_data (task), user);
  g_task_return_pointer (task, user, (GDestroyNotify)cdl_user_free);
}

void
cdl_auth_service_authenticate_async (CdlAuthService      *self,
                                     const char          *token,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *hash = NULL;
  CdlUser *user;

  g_return_if_fail (CDL_IS_AUTH_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_auth_service_authenticate_async);

  if (token == NULL || *token == '\0')
    {
      g_task_return_new_error (task, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_UNAUTHORIZED,
                               "A bearer token is required (Authorization: Bearer …)");
      return;
    }

  hash = cdl_auth_token_hash (token);
  user = cache_lookup (self, hash);
  if (user != NULL)
    {
      g_task_return_pointer (task, user, (GDestroyNotify)cdl_user_free);
      return;
    }

  g_task_set_task_data (task, g_strdup (hash), g_free);
  cdl_db_run_async (self->db, find_in_thread, g_steal_pointer (&hash), g_free,
                    (GDestroyNotify)cdl_user_free, cancellable, find_done_cb,
                    g_steal_pointer (&task));
}

CdlUser *
cdl_auth_service_authenticate_finish (CdlAuthService  *self,
                                      GAsyncResult    *result,
                                      GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
