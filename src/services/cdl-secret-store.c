/* cdl-secret-store.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-secrets"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsecret/secret.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cdl-json.h"
#include "services/cdl-secret-store.h"

struct _CdlSecretStore
{
  GObject  parent_instance;
  char       *path;      /* NULL: keyring */
  GMutex      mutex;     /* serialises read-modify-write of the file */
  /* The file as last read, reused while its mtime and size stay put:
   * listing workers looks up one key per worker. */
  JsonObject *cached;
  gint64      cached_mtime;
  goffset     cached_size;
};

G_DEFINE_FINAL_TYPE (CdlSecretStore, cdl_secret_store, G_TYPE_OBJECT)

static const SecretSchema *
keyring_schema (void)
{
  static const SecretSchema schema = {
    APP_ID ".Secret", SECRET_SCHEMA_NONE,
    {
      { "name", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
    0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  };

  return &schema;
}

static void
cdl_secret_store_finalize (GObject *object)
{
  CdlSecretStore *self = (CdlSecretStore *)object;

  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->cached, json_object_unref);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (cdl_secret_store_parent_class)->finalize (object);
}

static void
cdl_secret_store_class_init (CdlSecretStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdl_secret_store_finalize;
}

static void
cdl_secret_store_init (CdlSecretStore *self)
{
  g_mutex_init (&self->mutex);
}

CdlSecretStore *
cdl_secret_store_new_for_file (const char *path)
{
  CdlSecretStore *self;

  g_return_val_if_fail (path != NULL, NULL);

  self = g_object_new (CDL_TYPE_SECRET_STORE, NULL);
  self->path = g_strdup (path);

  return self;
}

CdlSecretStore *
cdl_secret_store_new_for_keyring (void)
{
  return g_object_new (CDL_TYPE_SECRET_STORE, NULL);
}

static gint64
mtime_us (const GStatBuf *st)
{
  return (gint64)st->st_mtim.tv_sec * G_USEC_PER_SEC + st->st_mtim.tv_nsec / 1000;
}

/* Reads the file into an object; a missing file is an empty store. */
static JsonObject *
file_load (CdlSecretStore  *self,
           GError         **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(JsonNode) root = NULL;
  gsize len = 0;
  GStatBuf st;

  if (g_stat (self->path, &st) != 0)
    {
      if (errno == ENOENT)
        return json_object_new ();

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "Cannot read the secrets file %s: %s", self->path, g_strerror (errno));
      return NULL;
    }

  if ((st.st_mode & 077) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "The secrets file %s can be read by other users; "
                   "run chmod 600 on it", self->path);
      return NULL;
    }

  if (self->cached != NULL
      && self->cached_mtime == mtime_us (&st)
      && self->cached_size == st.st_size)
    return json_object_ref (self->cached);

  if (!g_file_get_contents (self->path, &contents, &len, error))
    return NULL;

  if (len == 0)
    return json_object_new ();

  root = cdl_json_parse (contents, len, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The secrets file %s is not a JSON object", self->path);
      return NULL;
    }

  g_clear_pointer (&self->cached, json_object_unref);
  self->cached = json_object_ref (json_node_get_object (root));
  self->cached_mtime = mtime_us (&st);
  self->cached_size = st.st_size;

  return json_object_ref (self->cached);
}

static gboolean
file_save (CdlSecretStore  *self,
           JsonObject      *object,
           GError         **error)
{
  g_autoptr(JsonNode) root = json_node_init_object (json_node_alloc (), object);
  g_autofree char *text = cdl_json_to_string (root, TRUE);
  g_autofree char *dir = g_path_get_dirname (self->path);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "Cannot create %s: %s", dir, g_strerror (errno));
      return FALSE;
    }

  return g_file_set_contents_full (self->path, text, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

char *
cdl_secret_store_lookup (CdlSecretStore  *self,
                         const char      *name,
                         GError         **error)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GMutexLocker) locker = NULL;
  const char *value;

  g_return_val_if_fail (CDL_IS_SECRET_STORE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (self->path == NULL)
    return secret_password_lookup_sync (keyring_schema (), NULL, error,
                                        "name", name, NULL);

  locker = g_mutex_locker_new (&self->mutex);
  object = file_load (self, error);
  if (object == NULL)
    return NULL;

  value = json_object_get_string_member_with_default (object, name, NULL);

  return g_strdup (value);
}

gboolean
cdl_secret_store_store (CdlSecretStore  *self,
                        const char      *name,
                        const char      *secret,
                        GError         **error)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GMutexLocker) locker = NULL;
  gboolean clear = secret == NULL || *secret == '\0';

  g_return_val_if_fail (CDL_IS_SECRET_STORE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (self->path == NULL)
    {
      g_autofree char *label = g_strdup_printf ("ComfyUI DataLabel: %s", name);
      g_autoptr(GError) local_error = NULL;

      if (!clear)
        return secret_password_store_sync (keyring_schema (), SECRET_COLLECTION_DEFAULT,
                                           label, secret, NULL, error, "name", name, NULL);

      secret_password_clear_sync (keyring_schema (), NULL, &local_error, "name", name, NULL);
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      return TRUE;
    }

  locker = g_mutex_locker_new (&self->mutex);
  object = file_load (self, error);
  if (object == NULL)
    return FALSE;

  /* Edit a copy: the loaded object may be the cache. */
  {
    g_autoptr(JsonNode) wrap = json_node_init_object (json_node_alloc (), object);
    g_autoptr(JsonNode) copy = cdl_json_deep_copy (wrap);

    json_object_unref (object);
    object = json_object_ref (json_node_get_object (copy));
  }

  if (clear)
    {
      if (!json_object_has_member (object, name))
        return TRUE;
      json_object_remove_member (object, name);
    }
  else
    {
      json_object_set_string_member (object, name, secret);
    }

  return file_save (self, object, error);
}
