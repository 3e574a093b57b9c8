/* cdl-auth-service.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-auth"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "db/cdl-pairing-repo.h"
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
  GHashTable *attempts; /* remote address -> Attempts, for pairing */
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
  g_clear_pointer (&self->attempts, g_hash_table_unref);
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
  self->attempts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
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

/* The desktop's own user ---------------------------------------------------- */

typedef struct
{
  char    *name;
  CdlRole  role;
} EnsureData;

static void
ensure_data_free (gpointer data)
{
  EnsureData *d = data;

  g_free (d->name);
  g_free (d);
}

static gpointer
ensure_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  EnsureData *d = data;

  return cdl_user_repo_ensure (conn, d->name, d->role, error);
}

void
cdl_auth_service_ensure_user_async (CdlAuthService      *self,
                                    const char          *name,
                                    CdlRole              role,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  EnsureData *d;

  g_return_if_fail (CDL_IS_AUTH_SERVICE (self));
  g_return_if_fail (name != NULL);

  d = g_new0 (EnsureData, 1);
  d->name = g_strdup (name);
  d->role = role;
  cdl_db_run_async (self->db, ensure_in_thread, d, ensure_data_free,
                    (GDestroyNotify)cdl_user_free, cancellable, callback, user_data);
}

CdlUser *
cdl_auth_service_ensure_user_finish (CdlAuthService  *self,
                                     GAsyncResult    *result,
                                     GError         **error)
{
  g_return_val_if_fail (CDL_IS_AUTH_SERVICE (self), NULL);

  return cdl_db_run_finish (self->db, result, error);
}

char *
cdl_auth_service_desktop_user_name (void)
{
  return g_strdup_printf ("desktop:%s", g_get_user_name ());
}

/* Pairing ------------------------------------------------------------------ */

typedef struct
{
  gint64 window_start;
  guint  count;
} Attempts;

void
cdl_pairing_code_free (CdlPairingCode *code)
{
  if (code == NULL)
    return;

  if (code->code != NULL)
    explicit_bzero (code->code, strlen (code->code));
  g_free (code->code);
  g_free (code->url);
  g_clear_pointer (&code->expires_at, g_date_time_unref);
  g_free (code);
}

typedef struct
{
  char    *hash;
  char    *label;
  char    *created_by;
  char    *device;
  char    *token_hash;
  gint64   expires_at;
} PairOp;

static void
pair_op_free (gpointer data)
{
  PairOp *op = data;

  g_free (op->hash);
  g_free (op->label);
  g_free (op->created_by);
  g_free (op->device);
  g_free (op->token_hash);
  g_free (op);
}

static gpointer
create_pairing_in_thread (PGconn        *conn,
                          gpointer       data,
                          GCancellable  *cancellable,
                          GError       **error)
{
  PairOp *op = data;

  if (!cdl_pairing_repo_insert (conn, op->hash, op->label, op->created_by, CDL_PAIRING_TTL_S,
                                &op->expires_at, error))
    return NULL;

  return op;
}

static void
create_pairing_done_cb (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlPairingCode *code;
  g_autoptr(GError) error = NULL;
  PairOp *op;

  op = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (op == NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  code = g_new0 (CdlPairingCode, 1);
  code->code = g_strdup (g_task_get_task_data (task));
  code->url = g_strdup_printf ("%s/#pair=%s", op->device, code->code);
  code->expires_at = g_date_time_new_from_unix_utc (op->expires_at);
  pair_op_free (op);
  g_task_return_pointer (task, code, (GDestroyNotify)cdl_pairing_code_free);
}

static char *
clean_label (const char  *label,
             const char  *field,
             GError     **error)
{
  g_autofree char *trimmed = NULL;

  if (label == NULL)
    return NULL;

  trimmed = g_strstrip (g_strdup (label));
  if (*trimmed == '\0')
    return NULL;
  if (!g_utf8_validate (trimmed, -1, NULL) || g_utf8_strlen (trimmed, -1) > 128)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   "%s must be at most 128 characters", field);
      return NULL;
    }

  return g_steal_pointer (&trimmed);
}

void
cdl_auth_service_create_pairing_async (CdlAuthService      *self,
                                       const char          *created_by,
                                       const char          *label,
                                       const char          *public_base,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  char *code;
  PairOp *op;

  g_return_if_fail (CDL_IS_AUTH_SERVICE (self));
  g_return_if_fail (public_base != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_auth_service_create_pairing_async);

  op = g_new0 (PairOp, 1);
  op->label = clean_label (label, "name", &error);
  if (error != NULL)
    {
      pair_op_free (op);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  code = cdl_auth_token_generate ();
  op->hash = cdl_auth_token_hash (code);
  op->created_by = g_strdup (created_by);
  /* The base rides along in the op to build the url afterwards. */
  op->device = g_str_has_suffix (public_base, "/") ? g_strndup (public_base,
                                                                strlen (public_base) - 1)
                                                    : g_strdup (public_base);
  g_task_set_task_data (task, code, g_free);

  cdl_db_run_async (self->db, create_pairing_in_thread, op, NULL, pair_op_free, cancellable,
                    create_pairing_done_cb, g_steal_pointer (&task));
}

CdlPairingCode *
cdl_auth_service_create_pairing_finish (CdlAuthService  *self,
                                        GAsyncResult    *result,
                                        GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Counts an attempt from @address; FALSE when over the limit.
 * FIXME: the count lives in this instance's memory, so behind a load
 * balancer each instance allows CDL_PAIR_ATTEMPTS_MAX on its own, and the
 * address is the peer's (a proxy's, behind one). 256-bit codes make
 * guessing hopeless anyway; the limit only curbs noise. */
static gboolean
attempt_allowed (CdlAuthService *self,
                 const char     *address)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->mutex);
  gint64 now = g_get_monotonic_time ();
  Attempts *a;

  if (address == NULL)
    address = "";

  /* Crude but bounded, like the token cache. */
  if (g_hash_table_size (self->attempts) >= CACHE_MAX)
    g_hash_table_remove_all (self->attempts);

  a = g_hash_table_lookup (self->attempts, address);
  if (a == NULL || now - a->window_start > CDL_PAIR_WINDOW_S * G_USEC_PER_SEC)
    {
      a = g_new0 (Attempts, 1);
      a->window_start = now;
      g_hash_table_replace (self->attempts, g_strdup (address), a);
    }

  return ++a->count <= CDL_PAIR_ATTEMPTS_MAX;
}

static gpointer
redeem_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  PairOp *op = data;
  g_autoptr(CdlUser) user = NULL;
  g_autofree char *label = NULL;
  g_autofree char *name = NULL;
  g_autofree char *token_label = NULL;
  CdlPairingOutcome outcome;

  if (!cdl_pq_begin (conn, error))
    return NULL;

  outcome = cdl_pairing_repo_redeem (conn, op->hash, &label, error);
  if (outcome != CDL_PAIRING_REDEEMED)
    {
      cdl_pq_rollback (conn);
      if (outcome == CDL_PAIRING_EXPIRED)
        g_set_error_literal (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_FORBIDDEN,
                             _("This pairing code expired; ask for a new QR code"));
      else if (outcome == CDL_PAIRING_UNKNOWN)
        g_set_error_literal (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_FORBIDDEN,
                             _("This pairing code is not valid; ask for a new QR code"));
      return NULL;
    }

  name = label != NULL ? g_strdup (label) : g_strdup_printf ("phone-%.8s", op->hash);
  token_label = g_strdup_printf ("paired: %s", op->device != NULL ? op->device : "phone");
  user = cdl_pairing_repo_ensure_annotator (conn, name, op->hash + 56, error);
  if (user == NULL
      || !cdl_user_repo_add_token (conn, user->id, op->token_hash, token_label, error)
      || !cdl_pairing_repo_set_user (conn, op->hash, user->id, error))
    {
      cdl_pq_rollback (conn);
      return NULL;
    }

  if (!cdl_pq_commit (conn, error))
    return NULL;

  return g_steal_pointer (&user);
}

static void
redeem_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  CdlUser *user;

  user = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (user == NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_pointer (task, user, (GDestroyNotify)cdl_user_free);
}

void
cdl_auth_service_redeem_pairing_async (CdlAuthService      *self,
                                       const char          *code,
                                       const char          *device,
                                       const char          *remote_address,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  char *token;
  PairOp *op;

  g_return_if_fail (CDL_IS_AUTH_SERVICE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_auth_service_redeem_pairing_async);

  if (!attempt_allowed (self, remote_address))
    {
      g_task_return_new_error (task, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_RATE_LIMITED,
                               _("Too many pairing attempts from this address; wait a"
                                 " minute and scan the QR code again"));
      return;
    }

  if (code == NULL || *code == '\0' || strlen (code) > 256)
    {
      g_task_return_new_error (task, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                               _("code is required: the pairing code of the QR code"));
      return;
    }

  op = g_new0 (PairOp, 1);
  op->device = clean_label (device, "device", &error);
  if (error != NULL)
    {
      pair_op_free (op);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  token = cdl_auth_token_generate ();
  op->hash = cdl_auth_token_hash (code);
  op->token_hash = cdl_auth_token_hash (token);
  g_task_set_task_data (task, token, g_free);

  cdl_db_run_async (self->db, redeem_in_thread, op, pair_op_free,
                    (GDestroyNotify)cdl_user_free, cancellable, redeem_done_cb,
                    g_steal_pointer (&task));
}

char *
cdl_auth_service_redeem_pairing_finish (CdlAuthService  *self,
                                        GAsyncResult    *result,
                                        CdlUser        **user,
                                        GError         **error)
{
  g_autoptr(CdlUser) paired = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  paired = g_task_propagate_pointer (G_TASK (result), error);
  if (paired == NULL)
    return NULL;

  if (user != NULL)
    *user = g_steal_pointer (&paired);

  return g_strdup (g_task_get_task_data (G_TASK (result)));
}

static gpointer
revoke_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  if (!cdl_user_repo_revoke_token (conn, data, error))
    return NULL;

  return GINT_TO_POINTER (TRUE);
}

static void
revoke_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (cdl_db_run_finish (CDL_DB (source), result, &error) == NULL)
    {
      cdl_service_error_translate (&error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_boolean (task, TRUE);
}

void
cdl_auth_service_revoke_token_async (CdlAuthService      *self,
                                     const char          *token,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  char *hash;

  g_return_if_fail (CDL_IS_AUTH_SERVICE (self));
  g_return_if_fail (token != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_auth_service_revoke_token_async);

  hash = cdl_auth_token_hash (token);
  g_mutex_lock (&self->mutex);
  g_hash_table_remove (self->cache, hash);
  g_mutex_unlock (&self->mutex);

  cdl_db_run_async (self->db, revoke_in_thread, hash, g_free, NULL, cancellable,
                    revoke_done_cb, g_steal_pointer (&task));
}

gboolean
cdl_auth_service_revoke_token_finish (CdlAuthService  *self,
                                      GAsyncResult    *result,
                                      GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
