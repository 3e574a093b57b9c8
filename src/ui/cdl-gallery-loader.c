/* cdl-gallery-loader.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include "ui/cdl-gallery-loader.h"

/* Textures kept; a batch of full-resolution images and the thumbnails of
 * a few batches around it fit well within this. */
#define CACHE_MAX 160

struct _CdlGalleryLoader
{
  GObject         parent_instance;
  CdlObjectStore *store;
  CdlThumbnailer *thumbnailer;
  GHashTable     *cache;     /* key -> GdkTexture */
  GQueue          order;     /* keys, oldest first (owned by cache) */
};

G_DEFINE_FINAL_TYPE (CdlGalleryLoader, cdl_gallery_loader, G_TYPE_OBJECT)

static void
cdl_gallery_loader_finalize (GObject *object)
{
  CdlGalleryLoader *self = CDL_GALLERY_LOADER (object);

  g_queue_clear (&self->order);
  g_clear_pointer (&self->cache, g_hash_table_unref);
  g_clear_object (&self->store);
  g_clear_object (&self->thumbnailer);

  G_OBJECT_CLASS (cdl_gallery_loader_parent_class)->finalize (object);
}

static void
cdl_gallery_loader_class_init (CdlGalleryLoaderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdl_gallery_loader_finalize;
}

static void
cdl_gallery_loader_init (CdlGalleryLoader *self)
{
  self->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  g_queue_init (&self->order);
}

CdlGalleryLoader *
cdl_gallery_loader_new (CdlObjectStore *store)
{
  CdlGalleryLoader *self;

  g_return_val_if_fail (CDL_IS_OBJECT_STORE (store), NULL);

  self = g_object_new (CDL_TYPE_GALLERY_LOADER, NULL);
  self->store = g_object_ref (store);
  self->thumbnailer = cdl_thumbnailer_new (2);

  return self;
}

GdkTexture *
cdl_gallery_loader_lookup (CdlGalleryLoader *self,
                           const char       *key)
{
  g_return_val_if_fail (CDL_IS_GALLERY_LOADER (self), NULL);

  return key != NULL ? g_hash_table_lookup (self->cache, key) : NULL;
}

static void
cdl_gallery_loader_remember (CdlGalleryLoader *self,
                             const char       *key,
                             GdkTexture       *texture)
{
  char *owned;

  if (g_hash_table_contains (self->cache, key))
    return;

  while (g_queue_get_length (&self->order) >= CACHE_MAX)
    g_hash_table_remove (self->cache, g_queue_pop_head (&self->order));

  owned = g_strdup (key);
  g_hash_table_insert (self->cache, owned, g_object_ref (texture));
  g_queue_push_tail (&self->order, owned);
}

static void
decoded_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlGalleryLoader *self = g_task_get_source_object (task);
  g_autoptr(CdlDecodedImage) image = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  GError *error = NULL;

  image = cdl_thumbnailer_decode_finish (CDL_THUMBNAILER (source), result, &error);
  if (image == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  texture = gdk_memory_texture_new (image->width, image->height, GDK_MEMORY_R8G8B8A8,
                                    image->pixels, image->stride);
  cdl_gallery_loader_remember (self, g_task_get_task_data (task), texture);
  g_task_return_pointer (task, g_steal_pointer (&texture), g_object_unref);
}

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CdlGalleryLoader *self = g_task_get_source_object (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(GBytes) bytes = NULL;
  GError *error = NULL;

  bytes = cdl_object_store_get_bytes_finish (CDL_OBJECT_STORE (source), result, NULL, &error);
  if (bytes == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  cdl_thumbnailer_decode_async (self->thumbnailer, bytes, cancellable, decoded_cb,
                                g_steal_pointer (&task));
}

void
cdl_gallery_loader_load_async (CdlGalleryLoader    *self,
                               const char          *key,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GdkTexture *cached;

  g_return_if_fail (CDL_IS_GALLERY_LOADER (self));
  g_return_if_fail (key != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_gallery_loader_load_async);
  g_task_set_task_data (task, g_strdup (key), g_free);

  cached = g_hash_table_lookup (self->cache, key);
  if (cached != NULL)
    {
      g_task_return_pointer (task, g_object_ref (cached), g_object_unref);
      return;
    }

  cdl_object_store_get_bytes_async (self->store, key, cancellable, read_cb,
                                    g_steal_pointer (&task));
}

GdkTexture *
cdl_gallery_loader_load_finish (CdlGalleryLoader  *self,
                                GAsyncResult      *result,
                                GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
preloaded_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;

  texture = cdl_gallery_loader_load_finish (CDL_GALLERY_LOADER (source), result, &error);
  if (texture == NULL)
    g_debug ("Could not preload an image: %s", error->message);
}

void
cdl_gallery_loader_preload (CdlGalleryLoader *self,
                            const char       *key)
{
  g_return_if_fail (CDL_IS_GALLERY_LOADER (self));

  if (key == NULL || g_hash_table_contains (self->cache, key))
    return;

  cdl_gallery_loader_load_async (self, key, NULL, preloaded_cb, NULL);
}
