/* cdl-annotation-service.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-annotate"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/cdl-json.h"
#include "core/cdl-media-sign.h"
#include "core/cdl-shuffle.h"
#include "db/cdl-annotation-repo.h"
#include "db/cdl-annotator-repo.h"
#include "services/cdl-annotation-service.h"
#include "services/cdl-service-error.h"
#include "storage/cdl-storage-error.h"

/* Export rows per FETCH, and so per chunk of the response. */
#define EXPORT_FETCH_ROWS 500
/* Exports running at once on one instance: each holds a database
 * connection for as long as its client takes to download. */
#define EXPORTS_MAX 2
/* Remembered SHA-256 sums of media objects (they never change). */
#define SHA_CACHE_MAX 20000

struct _CdlAnnotationService
{
  GObject         parent_instance;
  CdlDb          *db;
  CdlObjectStore *store;
  GBytes         *secret;
  char           *media_base;
  char           *export_uri_base;

  GMutex          sha_lock;
  GHashTable     *sha_cache;   /* key -> sha256 */

  /* Shared with the exports, which may outlive the service. */
  gint           *exports_running;
};

G_DEFINE_FINAL_TYPE (CdlAnnotationService, cdl_annotation_service, G_TYPE_OBJECT)

static void
cdl_annotation_service_dispose (GObject *object)
{
  CdlAnnotationService *self = (CdlAnnotationService *)object;

  g_clear_object (&self->db);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (cdl_annotation_service_parent_class)->dispose (object);
}

static void
cdl_annotation_service_finalize (GObject *object)
{
  CdlAnnotationService *self = (CdlAnnotationService *)object;

  g_clear_pointer (&self->secret, g_bytes_unref);
  g_clear_pointer (&self->media_base, g_free);
  g_clear_pointer (&self->export_uri_base, g_free);
  g_clear_pointer (&self->sha_cache, g_hash_table_unref);
  g_mutex_clear (&self->sha_lock);
  g_clear_pointer (&self->exports_running, g_atomic_rc_box_release);

  G_OBJECT_CLASS (cdl_annotation_service_parent_class)->finalize (object);
}

static void
cdl_annotation_service_class_init (CdlAnnotationServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_annotation_service_dispose;
  object_class->finalize = cdl_annotation_service_finalize;
}

static void
cdl_annotation_service_init (CdlAnnotationService *self)
{
  g_mutex_init (&self->sha_lock);
  self->sha_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->exports_running = g_atomic_rc_box_new0 (gint);
}

GBytes *
cdl_annotation_service_load_media_secret (const char  *data_dir,
                                          GError     **error)
{
  const char *env = g_getenv ("CDL_MEDIA_KEY");
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;

  if (env != NULL && *env != '\0')
    {
      if (strlen (env) < CDL_MEDIA_KEY_MIN_LENGTH)
        {
          g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                       "CDL_MEDIA_KEY must be at least %d characters long",
                       CDL_MEDIA_KEY_MIN_LENGTH);
          return NULL;
        }
      return g_bytes_new (env, strlen (env));
    }

  g_return_val_if_fail (data_dir != NULL, NULL);

  path = g_build_filename (data_dir, "media.key", NULL);

  if (!g_file_get_contents (path, &contents, &len, NULL))
    {
      guint8 raw[32];
      g_autofree char *hex = NULL;
      g_autofree char *tmp = NULL;
      gssize written;
      int saved;
      int fd;

      /* The kernel's generator: GRand is not meant for secrets. */
      if (getrandom (raw, sizeof raw, 0) != sizeof raw)
        {
          g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_UNAVAILABLE,
                       "Cannot read random bytes for the media key: %s", g_strerror (errno));
          return NULL;
        }
      hex = g_malloc0 (2 * sizeof raw + 1);
      for (guint i = 0; i < sizeof raw; i++)
        g_snprintf (hex + 2 * i, 3, "%02x", raw[i]);
      explicit_bzero (raw, sizeof raw);

      g_mkdir_with_parents (data_dir, 0700);

      /* Written whole to a temporary file, then linked into place: when
       * two processes start at once, one key wins, and neither can read a
       * half-written one. */
      tmp = g_strconcat (path, ".XXXXXX", NULL);
      fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
      if (fd < 0)
        {
          g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_UNAVAILABLE,
                       "Cannot create the media key in %s: %s", data_dir, g_strerror (errno));
          return NULL;
        }
      written = write (fd, hex, strlen (hex));
      saved = errno;
      if (written != (gssize)strlen (hex) || fsync (fd) != 0
          || (link (tmp, path) != 0 && errno != EEXIST))
        {
          if (written == (gssize)strlen (hex))
            saved = errno;
          close (fd);
          g_unlink (tmp);
          g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_UNAVAILABLE,
                       "Cannot write the media key %s: %s", path, g_strerror (saved));
          return NULL;
        }
      close (fd);
      g_unlink (tmp);

      if (!g_file_get_contents (path, &contents, &len, error))
        {
          cdl_service_error_translate (error);
          return NULL;
        }
    }

  g_strstrip (contents);
  len = strlen (contents);
  if (len < CDL_MEDIA_KEY_MIN_LENGTH)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   "The media key in %s is too short; delete the file to make a new one",
                   path);
      return NULL;
    }

  return g_bytes_new_take (g_steal_pointer (&contents), len);
}

CdlAnnotationService *
cdl_annotation_service_new (CdlDb          *db,
                            CdlObjectStore *store,
                            GBytes         *media_secret)
{
  CdlAnnotationService *self;
  const char *base = g_getenv ("CDL_MEDIA_BASE_URL");
  const char *uri_base = g_getenv ("CDL_EXPORT_URI_BASE");

  g_return_val_if_fail (CDL_IS_DB (db), NULL);
  g_return_val_if_fail (CDL_IS_OBJECT_STORE (store), NULL);
  g_return_val_if_fail (media_secret != NULL, NULL);

  self = g_object_new (CDL_TYPE_ANNOTATION_SERVICE, NULL);
  self->db = g_object_ref (db);
  self->store = g_object_ref (store);
  self->secret = g_bytes_ref (media_secret);

  if (base != NULL && *base != '\0')
    self->media_base = g_str_has_suffix (base, "/") ? g_strdup (base)
                                                    : g_strconcat (base, "/", NULL);
  else
    self->media_base = g_strdup ("/media/");

  if (uri_base != NULL && *uri_base != '\0')
    self->export_uri_base = g_strdup (uri_base);

  return self;
}

const char *
cdl_annotation_service_get_media_base (CdlAnnotationService *self)
{
  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);

  return self->media_base;
}

char *
cdl_annotation_service_sign_media (CdlAnnotationService *self,
                                   const char           *key)
{
  gint64 expires;

  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  expires = cdl_media_sign_expiry_for (g_get_real_time () / G_USEC_PER_SEC);
  return cdl_media_sign_url (self->secret, self->media_base, key, expires);
}

gboolean
cdl_annotation_service_verify_media (CdlAnnotationService  *self,
                                     const char            *key,
                                     const char            *exp,
                                     const char            *sig,
                                     GError               **error)
{
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), FALSE);

  if (!cdl_media_verify (self->secret, key, exp, sig,
                         g_get_real_time () / G_USEC_PER_SEC, &local_error))
    {
      g_set_error_literal (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_FORBIDDEN,
                           local_error->message);
      return FALSE;
    }

  return TRUE;
}

/* JSON --------------------------------------------------------------------- */

static void
add_signed_list (CdlAnnotationService *self,
                 JsonBuilder          *b,
                 const char           *member,
                 char                **keys)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      if (*keys[i] == '\0')
        {
          json_builder_add_null_value (b);
        }
      else
        {
          g_autofree char *url = cdl_annotation_service_sign_media (self, keys[i]);

          json_builder_add_string_value (b, url);
        }
    }
  json_builder_end_array (b);
}

/* What a page needs to show @batch; with @shown_for_user, the order that
 * user sees it in; with @checksums, the images' SHA-256 too. */
static void
add_batch_members (CdlAnnotationService *self,
                   JsonBuilder          *b,
                   const CdlBatch       *batch,
                   const char           *shown_for_user,
                   gboolean              checksums)
{
  json_builder_set_member_name (b, "batch_id");
  json_builder_add_string_value (b, batch->batch_id);
  json_builder_set_member_name (b, "prompt");
  json_builder_add_string_value (b, batch->prompt);
  json_builder_set_member_name (b, "seeds");
  json_builder_begin_array (b);
  for (guint i = 0; i < batch->n; i++)
    json_builder_add_int_value (b, batch->seeds[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "batch_indexes");
  json_builder_begin_array (b);
  for (guint i = 0; i < batch->n; i++)
    json_builder_add_int_value (b, batch->batch_indexes[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "image_ids");
  json_builder_begin_array (b);
  for (guint i = 0; i < batch->n; i++)
    json_builder_add_string_value (b, batch->image_ids[i]);
  json_builder_end_array (b);
  if (checksums)
    {
      json_builder_set_member_name (b, "checksums");
      json_builder_begin_array (b);
      for (guint i = 0; i < batch->n; i++)
        json_builder_add_string_value (b, batch->checksums[i]);
      json_builder_end_array (b);
    }
  add_signed_list (self, b, "thumbnails", batch->thumb_keys);
  add_signed_list (self, b, "fullres", batch->image_keys);

  if (shown_for_user != NULL)
    {
      g_autofree guint *order = g_new0 (guint, MAX (batch->n, 1));

      cdl_shuffle_order (shown_for_user, batch->batch_id, batch->n, order);
      json_builder_set_member_name (b, "shown_order");
      json_builder_begin_array (b);
      for (guint i = 0; i < batch->n; i++)
        json_builder_add_int_value (b, order[i]);
      json_builder_end_array (b);
    }
}

static void
add_batch (CdlAnnotationService *self,
           JsonBuilder          *b,
           const CdlBatch       *batch,
           const char           *shown_for_user)
{
  json_builder_begin_object (b);
  add_batch_members (self, b, batch, shown_for_user, TRUE);
  json_builder_end_object (b);
}

/* Cursors ------------------------------------------------------------------ */

static char *
cursor_encode (const CdlBatch *batch)
{
  g_autofree char *raw = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", batch->first_at_us,
                                          batch->batch_id);
  char *b64 = g_base64_encode ((const guchar *)raw, strlen (raw));

  /* base64url without padding: safe in a query string as it is. */
  for (char *p = b64; *p; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
      else if (*p == '=')
        {
          *p = '\0';
          break;
        }
    }

  return b64;
}

static gboolean
cursor_decode (const char  *cursor,
               gint64      *after_us,
               char       **after_id,
               GError     **error)
{
  g_autoptr(GString) b64 = g_string_new (cursor);
  g_autofree guchar *raw = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  const char *colon;
  gint64 us = 0;

  for (gsize i = 0; i < b64->len; i++)
    {
      char c = b64->str[i];

      if (c == '-')
        b64->str[i] = '+';
      else if (c == '_')
        b64->str[i] = '/';
      else if (!g_ascii_isalnum (c))
        goto bad;
    }
  while (b64->len % 4 != 0)
    g_string_append_c (b64, '=');

  raw = g_base64_decode (b64->str, &len);
  if (raw == NULL || len == 0 || len > 128)
    goto bad;
  text = g_strndup ((const char *)raw, len);
  colon = strchr (text, ':');
  if (colon == NULL || !g_uuid_string_is_valid (colon + 1))
    goto bad;
  {
    g_autofree char *num = g_strndup (text, colon - text);

    if (!g_ascii_string_to_signed (num, 10, G_MININT64, G_MAXINT64, &us, NULL))
      goto bad;
  }

  *after_us = us;
  *after_id = g_strdup (colon + 1);
  return TRUE;

bad:
  g_set_error_literal (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                       "cursor is not one this server handed out; start without it");
  return FALSE;
}

/* Use cases ---------------------------------------------------------------- */

typedef struct
{
  CdlAnnotationService *self;
  char                 *task_id;
  char                 *user_id;
  char                 *after_id;
  gint64                after_us;
  guint                 limit;
  JsonNode             *body;
  gboolean              created;
  CdlExportFormat       format;
  char                 *key;
  gint64                first, last, suffix;
  double                rate;
} Op;

static void
op_free (gpointer data)
{
  Op *op = data;

  g_clear_object (&op->self);
  g_free (op->task_id);
  g_free (op->user_id);
  g_free (op->after_id);
  g_free (op->key);
  g_clear_pointer (&op->body, json_node_unref);
  g_free (op);
}

static Op *
op_new (CdlAnnotationService *self,
        const char           *task_id)
{
  Op *op = g_new0 (Op, 1);

  op->self = g_object_ref (self);
  op->task_id = g_strdup (task_id);

  return op;
}

/* Unknown task: 404; a task without images: 409. */
static gboolean
require_images (PGconn      *conn,
                const char  *task_id,
                int         *overlap,
                GError     **error)
{
  gboolean no_images = FALSE;

  if (!cdl_annotation_repo_check_task (conn, task_id, &no_images, overlap, error))
    return FALSE;

  if (no_images)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT,
                   "Task %s has no generated images yet; run it first", task_id);
      return FALSE;
    }

  return TRUE;
}

static gpointer
list_in_thread (PGconn        *conn,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  Op *op = data;
  g_autoptr(GPtrArray) batches = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  guint shown;

  /* op->key holds the cursor here. */
  if (op->key != NULL && !cursor_decode (op->key, &op->after_us, &op->after_id, error))
    return NULL;

  if (!require_images (conn, op->task_id, NULL, error))
    return NULL;

  /* One extra row says whether another page follows. */
  batches = cdl_annotation_repo_list_batches (conn, op->task_id, op->after_us, op->after_id,
                                              op->limit + 1, error);
  if (batches == NULL)
    return NULL;

  shown = MIN (batches->len, op->limit);

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "batches");
  json_builder_begin_array (b);
  for (guint i = 0; i < shown; i++)
    add_batch (op->self, b, g_ptr_array_index (batches, i), NULL);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "next_cursor");
  if (batches->len > op->limit)
    {
      g_autofree char *cursor = cursor_encode (g_ptr_array_index (batches, shown - 1));

      json_builder_add_string_value (b, cursor);
    }
  else
    {
      json_builder_add_null_value (b);
    }
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

static JsonNode *
node_finish (CdlAnnotationService  *self,
             GAsyncResult          *result,
             GError               **error)
{
  JsonNode *node = cdl_db_run_finish (self->db, result, error);

  if (node == NULL)
    cdl_service_error_translate (error);

  return node;
}

void
cdl_annotation_service_list_batches_async (CdlAnnotationService *self,
                                           const char           *task_id,
                                           const char           *cursor,
                                           guint                 limit,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data)
{
  Op *op;

  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (self));

  op = op_new (self, task_id);
  op->limit = CLAMP (limit == 0 ? CDL_BATCHES_PAGE_DEFAULT : limit, 1, CDL_BATCHES_PAGE_MAX);
  op->key = g_strdup (cursor);

  cdl_db_run_async (self->db, list_in_thread, op, op_free,
                    (GDestroyNotify)json_node_unref, cancellable, callback, user_data);
}

JsonNode *
cdl_annotation_service_list_batches_finish (CdlAnnotationService  *self,
                                            GAsyncResult          *result,
                                            GError               **error)
{
  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);

  return node_finish (self, result, error);
}

static gpointer
next_in_thread (PGconn        *conn,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  Op *op = data;
  g_autoptr(CdlBatch) batch = NULL;
  g_autoptr(GPtrArray) prefetch = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(GError) local_error = NULL;
  int overlap = 1;

  if (!require_images (conn, op->task_id, &overlap, error))
    return NULL;

  batch = cdl_annotation_repo_lease_next (conn, op->task_id, op->user_id, overlap,
                                          CDL_BATCH_LEASE_S, &local_error);
  if (batch == NULL && local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  if (batch != NULL)
    {
      prefetch = cdl_annotation_repo_peek_queue (conn, op->task_id, op->user_id,
                                                 batch->batch_id, overlap,
                                                 op->limit, error);
      if (prefetch == NULL)
        return NULL;
    }

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "batch");
  if (batch != NULL)
    add_batch (op->self, b, batch, op->user_id);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "lease_seconds");
  json_builder_add_int_value (b, batch != NULL ? CDL_BATCH_LEASE_S : 0);
  json_builder_set_member_name (b, "prefetch");
  json_builder_begin_array (b);
  for (guint i = 0; prefetch != NULL && i < prefetch->len; i++)
    {
      CdlBatch *next = g_ptr_array_index (prefetch, i);

      /* All the page needs to show it before its lease comes back. */
      json_builder_begin_object (b);
      add_batch_members (op->self, b, next, op->user_id, FALSE);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

void
cdl_annotation_service_next_batch_async (CdlAnnotationService *self,
                                         const char           *task_id,
                                         const char           *user_id,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data)
{
  Op *op;

  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (self));
  g_return_if_fail (user_id != NULL);

  op = op_new (self, task_id);
  op->user_id = g_strdup (user_id);
  op->limit = CDL_PREFETCH_BATCHES;
  cdl_db_run_async (self->db, next_in_thread, op, op_free,
                    (GDestroyNotify)json_node_unref, cancellable, callback, user_data);
}

JsonNode *
cdl_annotation_service_next_batch_finish (CdlAnnotationService  *self,
                                          GAsyncResult          *result,
                                          GError               **error)
{
  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);

  return node_finish (self, result, error);
}

/* Submit ------------------------------------------------------------------- */

static gboolean
invalid (GError     **error,
         const char  *message)
{
  g_set_error_literal (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID, message);
  return FALSE;
}

/* An integer member: absent or null gives @absent (-1), a non-integer or
 * negative value fails. */
static gboolean
get_index (JsonObject  *obj,
           const char  *member,
           gint64      *value,
           GError     **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  *value = -1;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) < 0 || json_node_get_int (node) > G_MAXINT32)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   "%s must be a whole number of 0 or more", member);
      return FALSE;
    }

  *value = json_node_get_int (node);
  return TRUE;
}

static const char *
get_id (JsonObject  *obj,
        const char  *member,
        GError     **error)
{
  JsonNode *node = json_object_get_member (obj, member);
  const char *value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   "%s is required and must be an id (a UUID string)", member);
      return NULL;
    }

  value = json_node_get_string (node);
  if (!g_uuid_string_is_valid (value))
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   "%s \"%s\" is not an id (a UUID string)", member, value);
      return NULL;
    }

  return value;
}

typedef struct
{
  JsonNode *row;
  JsonNode *previous;  /* the label this one replaced, or NULL */
  gboolean  created;
} Submitted;

static void
submitted_free (gpointer data)
{
  Submitted *submitted = data;

  g_clear_pointer (&submitted->row, json_node_unref);
  g_clear_pointer (&submitted->previous, json_node_unref);
  g_free (submitted);
}

static gpointer
submit_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  JsonObject *obj;
  JsonNode *node;
  const char *task_id, *batch_id;
  gint64 chosen, rejected, decision;
  gboolean spam = FALSE;
  gboolean complete = FALSE;
  gboolean is_repeat = FALSE;
  g_autofree gint64 *shown = NULL;
  guint n_shown = 0;
  guint n;
  CdlAnnotationInput input = { 0 };
  Submitted *submitted;
  JsonNode *row;
  JsonNode *previous = NULL;

  if (op->body == NULL || !JSON_NODE_HOLDS_OBJECT (op->body))
    {
      invalid (error, "The body must be a JSON object with task_id, batch_id, chosen_index"
                      " and spam");
      return NULL;
    }
  obj = json_node_get_object (op->body);

  /* The shape first, so that every bad value is named before any lookup. */
  if ((task_id = get_id (obj, "task_id", error)) == NULL
      || (batch_id = get_id (obj, "batch_id", error)) == NULL)
    return NULL;

  node = json_object_get_member (obj, "spam");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        {
          invalid (error, "spam must be true or false");
          return NULL;
        }
      spam = json_node_get_boolean (node);
    }

  if (!get_index (obj, "chosen_index", &chosen, error)
      || !get_index (obj, "rejected_index", &rejected, error)
      || !get_index (obj, "decision_ms", &decision, error))
    return NULL;

  if (chosen < 0 && !spam)
    {
      invalid (error, "chosen_index is required unless the batch is marked spam");
      return NULL;
    }
  if (rejected >= 0 && chosen < 0)
    {
      invalid (error, "rejected_index needs a chosen_index");
      return NULL;
    }
  if (rejected >= 0 && rejected == chosen)
    {
      invalid (error, "rejected_index must differ from chosen_index");
      return NULL;
    }

  node = json_object_get_member (obj, "shown_order");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      JsonArray *array;

      if (!JSON_NODE_HOLDS_ARRAY (node))
        {
          invalid (error, "shown_order must be an array of the batch's indexes");
          return NULL;
        }
      array = json_node_get_array (node);
      n_shown = json_array_get_length (array);
      shown = g_new0 (gint64, MAX (n_shown, 1));
      for (guint i = 0; i < n_shown; i++)
        {
          JsonNode *e = json_array_get_element (array, i);

          if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64)
            {
              invalid (error, "shown_order must be an array of the batch's indexes");
              return NULL;
            }
          shown[i] = json_node_get_int (e);
        }
    }

  node = json_object_get_member (obj, "variant_key");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING
          || *json_node_get_string (node) == '\0' || strlen (json_node_get_string (node)) > 64)
        {
          invalid (error, "variant_key must be the key (1 to 64 characters) of the A/B"
                          " variant the page ran, or null");
          return NULL;
        }
      input.variant_key = json_node_get_string (node);
    }

  node = json_object_get_member (obj, "is_repeat");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node)
      && (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN))
    {
      invalid (error, "is_repeat must be true or false");
      return NULL;
    }
  is_repeat = node != NULL && !JSON_NODE_HOLDS_NULL (node) && json_node_get_boolean (node);

  if (!require_images (conn, task_id, NULL, error))
    return NULL;

  n = cdl_annotation_repo_batch_size (conn, task_id, batch_id, &complete, error);
  if (n == 0)
    return NULL;

  if (!complete)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT,
                   "Batch %s is still being generated; label it once all its images are"
                   " stored", batch_id);
      return NULL;
    }

  if (chosen >= (gint64)n)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   "chosen_index %" G_GINT64_FORMAT " is outside the batch of %u images"
                   " (0 to %u)", chosen, n, n - 1);
      return NULL;
    }
  if (rejected >= (gint64)n)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   "rejected_index %" G_GINT64_FORMAT " is outside the batch of %u images"
                   " (0 to %u)", rejected, n, n - 1);
      return NULL;
    }
  if (shown != NULL && (n_shown != n || !cdl_shuffle_is_permutation (shown, n_shown)))
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   "shown_order must list each index from 0 to %u exactly once", n - 1);
      return NULL;
    }

  input.task_id = task_id;
  input.batch_id = batch_id;
  input.user_id = op->user_id;
  input.chosen_index = (int)chosen;
  input.rejected_index = (int)rejected;
  input.spam = spam;
  input.shown_order = shown;
  input.n_shown = n_shown;
  input.decision_ms = (int)decision;

  /* No lease is asked for. A phone shows the next batch from its prefetch
   * list before the lease comes back, and labels made offline outlive
   * their lease; the label is still what the person chose among the
   * images of @batch_id. If another annotator took that batch meanwhile,
   * it gets one label more than the overlap asks for, and their lease
   * stays theirs: only this user's lease of the batch ends here. */

  /* The answer to a repeat is kept apart: the label stays as it is. */
  if (is_repeat)
    row = cdl_annotation_repo_add_repeat (conn, &input, &op->created, error);
  else
    row = cdl_annotation_repo_upsert_full (conn, &input, &op->created, &previous, error);
  if (row == NULL)
    return NULL;

  submitted = g_new0 (Submitted, 1);
  submitted->row = row;
  submitted->previous = previous;
  submitted->created = op->created;
  return submitted;
}

void
cdl_annotation_service_submit_async (CdlAnnotationService *self,
                                     const char           *user_id,
                                     JsonNode             *body,
                                     GCancellable         *cancellable,
                                     GAsyncReadyCallback   callback,
                                     gpointer              user_data)
{
  Op *op;

  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (self));
  g_return_if_fail (user_id != NULL);

  op = op_new (self, NULL);
  op->user_id = g_strdup (user_id);
  op->body = body ? json_node_ref (body) : NULL;
  cdl_db_run_async (self->db, submit_in_thread, op, op_free,
                    submitted_free, cancellable, callback, user_data);
}

JsonNode *
cdl_annotation_service_submit_finish (CdlAnnotationService  *self,
                                      GAsyncResult          *result,
                                      gboolean              *created,
                                      GError               **error)
{
  return cdl_annotation_service_submit_finish_full (self, result, created, NULL, error);
}

JsonNode *
cdl_annotation_service_submit_finish_full (CdlAnnotationService  *self,
                                           GAsyncResult          *result,
                                           gboolean              *created,
                                           JsonNode             **previous,
                                           GError               **error)
{
  Submitted *submitted;
  JsonNode *row;

  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);

  submitted = cdl_db_run_finish (self->db, result, error);
  if (submitted == NULL)
    {
      cdl_service_error_translate (error);
      return NULL;
    }

  if (created != NULL)
    *created = submitted->created;
  if (previous != NULL)
    *previous = g_steal_pointer (&submitted->previous);
  row = g_steal_pointer (&submitted->row);
  submitted_free (submitted);

  return row;
}

static gpointer
stats_in_thread (PGconn        *conn,
                 gpointer       data,
                 GCancellable  *cancellable,
                 GError       **error)
{
  Op *op = data;

  if (!cdl_annotation_repo_check_task (conn, op->task_id, NULL, NULL, error))
    return NULL;

  return cdl_annotation_repo_stats (conn, op->task_id, error);
}

void
cdl_annotation_service_stats_async (CdlAnnotationService *self,
                                    const char           *task_id,
                                    GCancellable         *cancellable,
                                    GAsyncReadyCallback   callback,
                                    gpointer              user_data)
{
  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (self));

  cdl_db_run_async (self->db, stats_in_thread, op_new (self, task_id), op_free,
                    (GDestroyNotify)json_node_unref, cancellable, callback, user_data);
}

JsonNode *
cdl_annotation_service_stats_finish (CdlAnnotationService  *self,
                                     GAsyncResult          *result,
                                     GError               **error)
{
  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);

  return node_finish (self, result, error);
}

/* The annotator's phone ---------------------------------------------------- */

static gpointer
annotator_tasks_in_thread (PGconn        *conn,
                           gpointer       data,
                           GCancellable  *cancellable,
                           GError       **error)
{
  Op *op = data;

  return cdl_annotator_repo_tasks (conn, op->user_id, error);
}

/* Runs @func for (@task_id, @user_id); the result is a JsonNode. */
static void
run_for_user (CdlAnnotationService *self,
              CdlDbFunc             func,
              const char           *task_id,
              const char           *user_id,
              GCancellable         *cancellable,
              GAsyncReadyCallback   callback,
              gpointer              user_data)
{
  Op *op;

  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (self));
  g_return_if_fail (user_id != NULL);

  op = op_new (self, task_id);
  op->user_id = g_strdup (user_id);
  cdl_db_run_async (self->db, func, op, op_free, (GDestroyNotify)json_node_unref, cancellable,
                    callback, user_data);
}

void
cdl_annotation_service_annotator_tasks_async (CdlAnnotationService *self,
                                              const char           *user_id,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data)
{
  run_for_user (self, annotator_tasks_in_thread, NULL, user_id, cancellable, callback,
                user_data);
}

JsonNode *
cdl_annotation_service_annotator_tasks_finish (CdlAnnotationService  *self,
                                               GAsyncResult          *result,
                                               GError               **error)
{
  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);

  return node_finish (self, result, error);
}

static gpointer
progress_in_thread (PGconn        *conn,
                    gpointer       data,
                    GCancellable  *cancellable,
                    GError       **error)
{
  Op *op = data;

  return cdl_annotator_repo_progress (conn, op->task_id, op->user_id, error);
}

void
cdl_annotation_service_progress_async (CdlAnnotationService *self,
                                       const char           *task_id,
                                       const char           *user_id,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data)
{
  run_for_user (self, progress_in_thread, task_id, user_id, cancellable, callback, user_data);
}

JsonNode *
cdl_annotation_service_progress_finish (CdlAnnotationService  *self,
                                        GAsyncResult          *result,
                                        GError               **error)
{
  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);

  return node_finish (self, result, error);
}

/* A copy of @node whose strings that start with @from start with @to. */
static JsonNode *
rebased_copy (JsonNode   *node,
              const char *from,
              const char *to)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autoptr(JsonObject) copy = json_object_new ();
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, &name, &member))
        json_object_set_member (copy, name, rebased_copy (member, from, to));
      return json_node_init_object (json_node_alloc (), copy);
    }

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      g_autoptr(JsonArray) copy = json_array_sized_new (json_array_get_length (array));

      for (guint i = 0; i < json_array_get_length (array); i++)
        json_array_add_element (copy, rebased_copy (json_array_get_element (array, i), from,
                                                    to));
      return json_node_init_array (json_node_alloc (), copy);
    }

  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
      && g_str_has_prefix (json_node_get_string (node), from))
    {
      g_autofree char *rebased = g_strconcat (to, json_node_get_string (node) + strlen (from),
                                              NULL);

      return json_node_init_string (json_node_alloc (), rebased);
    }

  return json_node_copy (node);
}

/* With the task's repeat rate, the answer of next-batch is a batch the
 * user labelled before, with "is_repeat": true, no lease and no prefetch;
 * NULL (and no error) otherwise. */
static JsonNode *
maybe_repeat (PGconn  *conn,
              Op      *op,
              GError **error)
{
  double rate = cdl_annotator_repo_repeat_rate (conn, op->task_id, error);
  g_autoptr(CdlBatch) batch = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autofree char *order_seed = NULL;

  if (rate <= 0 || g_random_double () >= rate)
    return NULL;

  batch = cdl_annotation_repo_pick_repeat (conn, op->task_id, op->user_id, error);
  if (batch == NULL)
    return NULL;

  /* Another order than the first time, so that the position of an image
   * does not carry the first answer over. */
  order_seed = g_strconcat (op->user_id, "/repeat", NULL);

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "batch");
  add_batch (op->self, b, batch, order_seed);
  json_builder_set_member_name (b, "is_repeat");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "lease_seconds");
  json_builder_add_int_value (b, 0);
  json_builder_set_member_name (b, "prefetch");
  json_builder_begin_array (b);
  json_builder_end_array (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

static gpointer
next_for_in_thread (PGconn        *conn,
                    gpointer       data,
                    GCancellable  *cancellable,
                    GError       **error)
{
  Op *op = data;
  g_autoptr(JsonNode) node = NULL;
  GError *local_error = NULL;

  node = maybe_repeat (conn, op, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  if (node == NULL)
    node = next_in_thread (conn, data, cancellable, error);

  /* op->key holds the variant's media base here. */
  if (node == NULL || op->key == NULL)
    return g_steal_pointer (&node);

  /* The signature covers the key and expiry, not the base, so a link
   * stays valid on another host that forwards /media/ here. */
  return rebased_copy (node, op->self->media_base, op->key);
}

void
cdl_annotation_service_next_batch_for_async (CdlAnnotationService *self,
                                             const char           *task_id,
                                             const char           *user_id,
                                             guint                 prefetch,
                                             const char           *media_base,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data)
{
  Op *op;

  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (self));
  g_return_if_fail (user_id != NULL);

  op = op_new (self, task_id);
  op->user_id = g_strdup (user_id);
  op->limit = MIN (prefetch, CDL_PREFETCH_MAX);
  if (media_base != NULL && strcmp (media_base, self->media_base) != 0)
    op->key = g_strdup (media_base);
  cdl_db_run_async (self->db, next_for_in_thread, op, op_free,
                    (GDestroyNotify)json_node_unref, cancellable, callback, user_data);
}

JsonNode *
cdl_annotation_service_next_batch_for_finish (CdlAnnotationService  *self,
                                              GAsyncResult          *result,
                                              GError               **error)
{
  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);

  return node_finish (self, result, error);
}

static gpointer
set_repeat_rate_in_thread (PGconn        *conn,
                           gpointer       data,
                           GCancellable  *cancellable,
                           GError       **error)
{
  Op *op = data;
  g_autoptr(JsonBuilder) b = NULL;

  if (!cdl_annotator_repo_set_repeat_rate (conn, op->task_id, op->rate, error))
    return NULL;

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "task_id");
  json_builder_add_string_value (b, op->task_id);
  json_builder_set_member_name (b, "repeat_rate");
  json_builder_add_double_value (b, op->rate);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

void
cdl_annotation_service_set_repeat_rate_async (CdlAnnotationService *self,
                                              const char           *task_id,
                                              double                rate,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  Op *op;

  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (self));

  if (!(rate >= 0 && rate <= CDL_REPEAT_RATE_MAX))
    {
      task = g_task_new (self, cancellable, callback, user_data);
      g_task_set_source_tag (task, cdl_annotation_service_set_repeat_rate_async);
      g_task_return_new_error (task, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                               "repeat_rate must be a number from 0 to %g",
                               CDL_REPEAT_RATE_MAX);
      return;
    }

  op = op_new (self, task_id);
  op->rate = rate;
  cdl_db_run_async (self->db, set_repeat_rate_in_thread, op, op_free,
                    (GDestroyNotify)json_node_unref, cancellable, callback, user_data);
}

JsonNode *
cdl_annotation_service_set_repeat_rate_finish (CdlAnnotationService  *self,
                                               GAsyncResult          *result,
                                               GError               **error)
{
  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);

  if (g_task_is_valid (result, self))
    return g_task_propagate_pointer (G_TASK (result), error);

  return node_finish (self, result, error);
}

/* Media -------------------------------------------------------------------- */

void
cdl_media_read_free (CdlMediaRead *read)
{
  if (read == NULL)
    return;

  g_free (read->sha256);
  g_clear_pointer (&read->bytes, g_bytes_unref);
  g_free (read);
}

static char *
cached_sha (CdlAnnotationService *self,
            const char           *key)
{
  char *sha;

  g_mutex_lock (&self->sha_lock);
  sha = g_strdup (g_hash_table_lookup (self->sha_cache, key));
  g_mutex_unlock (&self->sha_lock);

  return sha;
}

static void
remember_sha (CdlAnnotationService *self,
              const char           *key,
              const char           *sha)
{
  g_mutex_lock (&self->sha_lock);
  /* Crude but bounded: start over when full. */
  if (g_hash_table_size (self->sha_cache) >= SHA_CACHE_MAX)
    g_hash_table_remove_all (self->sha_cache);
  g_hash_table_insert (self->sha_cache, g_strdup (key), g_strdup (sha));
  g_mutex_unlock (&self->sha_lock);
}

static void
read_media_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  CdlAnnotationService *self = source_object;
  Op *op = task_data;
  g_autoptr(CdlMediaRead) read = g_new0 (CdlMediaRead, 1);
  g_autoptr(CdlObjectInfo) info = NULL;
  g_autoptr(GBytes) whole = NULL;
  g_autofree char *sha = cached_sha (self, op->key);
  GError *error = NULL;
  gint64 first = op->first, last = op->last;

  /* The ETag is the SHA-256 of the object: hashed once per key, and the
   * whole object is read then anyway. */
  if (sha == NULL)
    {
      g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
      gsize len = 0;
      const guchar *data;

      whole = cdl_object_store_get_bytes (self->store, op->key, &info, cancellable, &error);
      if (whole == NULL)
        goto fail;
      data = g_bytes_get_data (whole, &len);
      g_checksum_update (checksum, data, len);
      sha = g_strdup (g_checksum_get_string (checksum));
      remember_sha (self, op->key, sha);
    }
  else
    {
      info = cdl_object_store_query_info (self->store, op->key, cancellable, &error);
      if (info == NULL)
        goto fail;
    }

  read->size = info->size;
  read->sha256 = g_steal_pointer (&sha);

  if (op->suffix > 0)
    {
      first = MAX (0, read->size - op->suffix);
      last = read->size - 1;
    }

  if (first < 0 && op->suffix <= 0)
    {
      /* The whole object. */
      if (whole == NULL)
        {
          whole = cdl_object_store_get_bytes (self->store, op->key, NULL, cancellable, &error);
          if (whole == NULL)
            goto fail;
        }
      read->offset = 0;
      read->bytes = g_steal_pointer (&whole);
      g_task_return_pointer (task, g_steal_pointer (&read), (GDestroyNotify)cdl_media_read_free);
      return;
    }

  if (first >= read->size || read->size == 0 || (last >= 0 && last < first))
    {
      /* Unsatisfiable: 416 with the size. */
      g_task_return_pointer (task, g_steal_pointer (&read), (GDestroyNotify)cdl_media_read_free);
      return;
    }

  if (last < 0 || last >= read->size)
    last = read->size - 1;

  read->partial = TRUE;
  read->offset = first;
  if (whole != NULL)
    {
      read->bytes = g_bytes_new_from_bytes (whole, first, last - first + 1);
    }
  else
    {
      g_autoptr(GInputStream) stream = NULL;
      g_autoptr(GBytes) part = NULL;

      stream = cdl_object_store_open_range (self->store, op->key, first, last - first + 1,
                                            NULL, cancellable, &error);
      if (stream == NULL)
        goto fail;
      part = g_input_stream_read_bytes (stream, last - first + 1, cancellable, &error);
      if (part == NULL)
        goto fail;
      read->bytes = g_steal_pointer (&part);
    }

  g_task_return_pointer (task, g_steal_pointer (&read), (GDestroyNotify)cdl_media_read_free);
  return;

fail:
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    {
      g_clear_error (&error);
      g_set_error (&error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND,
                   "No stored object %s", op->key);
    }
  cdl_service_error_translate (&error);
  g_task_return_error (task, error);
}

void
cdl_annotation_service_read_media_async (CdlAnnotationService *self,
                                         const char           *key,
                                         gint64                first,
                                         gint64                last,
                                         gint64                suffix,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  Op *op;

  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (self));
  g_return_if_fail (key != NULL);

  op = op_new (self, NULL);
  op->key = g_strdup (key);
  op->first = first;
  op->last = last;
  op->suffix = suffix;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_annotation_service_read_media_async);
  g_task_set_task_data (task, op, op_free);
  g_task_run_in_thread (task, read_media_thread);
}

CdlMediaRead *
cdl_annotation_service_read_media_finish (CdlAnnotationService  *self,
                                          GAsyncResult          *result,
                                          GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Export ------------------------------------------------------------------- */

struct _CdlDpoExport
{
  CdlDb   *db;
  PGconn  *conn;
  char    *uri_base;
  gint    *running;   /* the service's count, released on free */
  CdlExportFormat format;
  CdlObjectStore *store;
  gint64   checked, missing, mismatched, unreadable;
  gboolean done;
};

void
cdl_dpo_export_free (CdlDpoExport *export)
{
  if (export == NULL)
    return;

  if (export->conn != NULL)
    {
      cdl_annotation_repo_export_close (export->conn);
      cdl_db_release (export->db, export->conn);
    }
  g_clear_object (&export->db);
  g_clear_object (&export->store);
  g_free (export->uri_base);
  if (export->running != NULL)
    {
      (void) g_atomic_int_add (export->running, -1);
      g_atomic_rc_box_release (export->running);
    }
  g_free (export);
}

/* Blocking: the export's connection, cursor and slot. */
static CdlDpoExport *
export_open (CdlAnnotationService  *self,
             const char            *task_id,
             CdlExportFormat        format,
             GError               **error)
{
  g_autoptr(CdlDpoExport) export = g_new0 (CdlDpoExport, 1);

  export->db = g_object_ref (self->db);
  export->uri_base = g_strdup (self->export_uri_base);
  export->format = format;
  export->store = g_object_ref (self->store);

  if (g_atomic_int_add (self->exports_running, 1) >= EXPORTS_MAX)
    {
      (void) g_atomic_int_add (self->exports_running, -1);
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_RATE_LIMITED,
                   "%d exports are running on this instance; try again when one is done",
                   EXPORTS_MAX);
      return NULL;
    }
  export->running = g_atomic_rc_box_acquire (self->exports_running);

  /* The connection stays with the export for the cursor's sake. */
  export->conn = cdl_db_acquire (self->db, error);
  if (export->conn == NULL)
    goto fail;

  if (!cdl_annotation_repo_check_task (export->conn, task_id, NULL, NULL, error))
    goto fail;

  if (format == CDL_EXPORT_VERIFY
      ? !cdl_annotation_repo_verify_open (export->conn, task_id, error)
      : !cdl_annotation_repo_export_open (export->conn, task_id, error))
    goto fail;

  return g_steal_pointer (&export);

fail:
  cdl_service_error_translate (error);
  return NULL;
}

static void
export_open_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  Op *op = task_data;
  CdlDpoExport *export;
  GError *error = NULL;

  export = export_open (source_object, op->task_id, op->format, &error);
  if (export == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, export, (GDestroyNotify)cdl_dpo_export_free);
}

void
cdl_annotation_service_export_open_async (CdlAnnotationService *self,
                                          const char           *task_id,
                                          CdlExportFormat       format,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  Op *op;

  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (self));

  op = op_new (self, task_id);
  op->format = format;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_annotation_service_export_open_async);
  g_task_set_task_data (task, op, op_free);
  g_task_run_in_thread (task, export_open_thread);
}

CdlDpoExport *
cdl_annotation_service_export_open_finish (CdlAnnotationService  *self,
                                           GAsyncResult          *result,
                                           GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
add_problem (GString    *out,
             char      **item,
             const char *problem,
             const char *actual,
             const char *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "image_id");
  json_builder_add_string_value (b, item[0]);
  json_builder_set_member_name (b, "uri");
  json_builder_add_string_value (b, item[1]);
  json_builder_set_member_name (b, "problem");
  json_builder_add_string_value (b, problem);
  json_builder_set_member_name (b, "expected");
  json_builder_add_string_value (b, item[2]);
  json_builder_set_member_name (b, "actual");
  if (actual != NULL)
    json_builder_add_string_value (b, actual);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  text = cdl_json_to_string (root, FALSE);
  g_string_append (out, text);
  g_string_append_c (out, '\n');
}

/* Verifies the next rows; at the end, appends the summary. */
static gboolean
verify_some (CdlDpoExport  *export,
             GString       *out,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autoptr(GPtrArray) items = cdl_annotation_repo_verify_fetch (export->conn,
                                                                 EXPORT_FETCH_ROWS, error);

  if (items == NULL)
    return FALSE;

  for (guint i = 0; i < items->len; i++)
    {
      char **item = g_ptr_array_index (items, i);
      g_autoptr(GError) local_error = NULL;
      g_autofree char *actual = NULL;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;

      export->checked++;
      if (cdl_object_store_verify (export->store, item[1], item[2], &actual, cancellable,
                                   &local_error))
        continue;

      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          export->missing++;
          add_problem (out, item, "missing", NULL, local_error->message);
        }
      else if (g_error_matches (local_error, CDL_STORAGE_ERROR,
                                CDL_STORAGE_ERROR_CHECKSUM_MISMATCH))
        {
          export->mismatched++;
          add_problem (out, item, "mismatch", actual, local_error->message);
        }
      else
        {
          export->unreadable++;
          add_problem (out, item, "unreadable", NULL, local_error->message);
        }
    }

  if (items->len == 0)
    {
      g_string_append_printf (out,
                              "{\"summary\":true,\"checked\":%" G_GINT64_FORMAT
                              ",\"missing\":%" G_GINT64_FORMAT
                              ",\"mismatched\":%" G_GINT64_FORMAT
                              ",\"unreadable\":%" G_GINT64_FORMAT "}\n",
                              export->checked, export->missing, export->mismatched,
                              export->unreadable);
      export->done = TRUE;
    }

  return TRUE;
}

/* Blocking: the next lines, an empty GBytes at the end. */
static GBytes *
export_next (CdlDpoExport  *export,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autoptr(GString) out = g_string_new (NULL);
  GError *local_error = NULL;

  /* Rows whose line cannot be built are skipped, so keep fetching until
   * something is written or the cursor ends. */
  while (!export->done && out->len == 0)
    {
      int n;

      if (g_cancellable_set_error_if_cancelled (cancellable, &local_error))
        break;

      if (export->format == CDL_EXPORT_VERIFY)
        {
          if (!verify_some (export, out, cancellable, &local_error))
            break;
          continue;
        }

      n = cdl_annotation_repo_export_fetch (export->conn, EXPORT_FETCH_ROWS, export->uri_base,
                                            export->format == CDL_EXPORT_PAIRS, out,
                                            &local_error);
      if (n < 0)
        break;
      if (n == 0)
        export->done = TRUE;
    }

  if (local_error != NULL)
    {
      cdl_service_error_translate (&local_error);
      g_propagate_error (error, local_error);
      return NULL;
    }

  return g_string_free_to_bytes (g_steal_pointer (&out));
}

static void
export_next_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  GError *error = NULL;
  GBytes *bytes = export_next (task_data, cancellable, &error);

  if (bytes == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, bytes, (GDestroyNotify)g_bytes_unref);
}

void
cdl_dpo_export_next_async (CdlDpoExport        *export,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (export != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_dpo_export_next_async);
  g_task_set_task_data (task, export, NULL);
  g_task_run_in_thread (task, export_next_thread);
}

GBytes *
cdl_dpo_export_next_finish (CdlDpoExport  *export,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

gint64
cdl_annotation_service_export_to_stream (CdlAnnotationService  *self,
                                         const char            *task_id,
                                         CdlExportFormat        format,
                                         GOutputStream         *stream,
                                         GCancellable          *cancellable,
                                         GError               **error)
{
  g_autoptr(CdlDpoExport) export = NULL;
  gint64 lines = 0;

  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), -1);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (stream), -1);

  export = export_open (self, task_id, format, error);
  if (export == NULL)
    return -1;

  for (;;)
    {
      g_autoptr(GBytes) bytes = export_next (export, cancellable, error);
      gsize len = 0;
      const char *data;

      if (bytes == NULL)
        return -1;

      data = g_bytes_get_data (bytes, &len);
      if (len == 0)
        break;

      for (gsize i = 0; i < len; i++)
        if (data[i] == '\n')
          lines++;

      if (!g_output_stream_write_all (stream, data, len, NULL, cancellable, error))
        return -1;
    }

  return lines;
}

/* Desktop gallery ---------------------------------------------------------- */

typedef struct
{
  char *task_id;
  char *batch_id;
  char *user_id;
} GalleryOp;

static void
gallery_op_free (gpointer data)
{
  GalleryOp *op = data;

  g_free (op->task_id);
  g_free (op->batch_id);
  g_free (op->user_id);
  g_free (op);
}

static GalleryOp *
gallery_op_new (const char *task_id,
                const char *batch_id,
                const char *user_id)
{
  GalleryOp *op = g_new0 (GalleryOp, 1);

  op->task_id = g_strdup (task_id);
  op->batch_id = g_strdup (batch_id);
  op->user_id = g_strdup (user_id);

  return op;
}

static gpointer
list_tasks_in_thread (PGconn        *conn,
                      gpointer       data,
                      GCancellable  *cancellable,
                      GError       **error)
{
  GalleryOp *op = data;

  return cdl_annotation_repo_list_tasks (conn, op->user_id, error);
}

void
cdl_annotation_service_list_tasks_async (CdlAnnotationService *self,
                                         const char           *user_id,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data)
{
  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (self));

  cdl_db_run_async (self->db, list_tasks_in_thread, gallery_op_new (NULL, NULL, user_id),
                    gallery_op_free, (GDestroyNotify)json_node_unref, cancellable, callback,
                    user_data);
}

JsonNode *
cdl_annotation_service_list_tasks_finish (CdlAnnotationService  *self,
                                          GAsyncResult          *result,
                                          GError               **error)
{
  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);

  return node_finish (self, result, error);
}

static gpointer
delete_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  GalleryOp *op = data;
  gboolean deleted = FALSE;

  if (!cdl_annotation_repo_delete (conn, op->task_id, op->batch_id, op->user_id, &deleted,
                                   error))
    return NULL;

  if (!deleted)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND,
                   "There is no label of batch %s to undo", op->batch_id);
      return NULL;
    }

  return GINT_TO_POINTER (TRUE);
}

void
cdl_annotation_service_delete_async (CdlAnnotationService *self,
                                     const char           *task_id,
                                     const char           *batch_id,
                                     const char           *user_id,
                                     GCancellable         *cancellable,
                                     GAsyncReadyCallback   callback,
                                     gpointer              user_data)
{
  g_return_if_fail (CDL_IS_ANNOTATION_SERVICE (self));
  g_return_if_fail (user_id != NULL);

  cdl_db_run_async (self->db, delete_in_thread, gallery_op_new (task_id, batch_id, user_id),
                    gallery_op_free, NULL, cancellable, callback, user_data);
}

gboolean
cdl_annotation_service_delete_finish (CdlAnnotationService  *self,
                                      GAsyncResult          *result,
                                      GError               **error)
{
  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), FALSE);

  if (cdl_db_run_finish (self->db, result, error) == NULL)
    {
      cdl_service_error_translate (error);
      return FALSE;
    }

  return TRUE;
}

char *
cdl_annotation_service_media_key (CdlAnnotationService *self,
                                  const char           *url)
{
  const char *rest;
  const char *query;
  g_autofree char *escaped = NULL;

  g_return_val_if_fail (CDL_IS_ANNOTATION_SERVICE (self), NULL);

  if (url == NULL || !g_str_has_prefix (url, self->media_base))
    return NULL;

  rest = url + strlen (self->media_base);
  query = strchr (rest, '?');
  escaped = query != NULL ? g_strndup (rest, query - rest) : g_strdup (rest);

  return g_uri_unescape_string (escaped, NULL);
}
