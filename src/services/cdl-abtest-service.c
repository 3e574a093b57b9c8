/* cdl-abtest-service.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-abtest"

#include "config.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "core/cdl-json.h"
#include "db/cdl-abtest-repo.h"
#include "services/cdl-abtest-service.h"
#include "services/cdl-service-error.h"

#define NAME_MAX_CHARS 128

struct _CdlAbtestService
{
  GObject  parent_instance;
  CdlDb   *db;
};

G_DEFINE_FINAL_TYPE (CdlAbtestService, cdl_abtest_service, G_TYPE_OBJECT)

static void
cdl_abtest_service_dispose (GObject *object)
{
  CdlAbtestService *self = (CdlAbtestService *)object;

  g_clear_object (&self->db);

  G_OBJECT_CLASS (cdl_abtest_service_parent_class)->dispose (object);
}

static void
cdl_abtest_service_class_init (CdlAbtestServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cdl_abtest_service_dispose;
}

static void
cdl_abtest_service_init (CdlAbtestService *self)
{
}

CdlAbtestService *
cdl_abtest_service_new (CdlDb *db)
{
  CdlAbtestService *self;

  g_return_val_if_fail (CDL_IS_DB (db), NULL);

  self = g_object_new (CDL_TYPE_ABTEST_SERVICE, NULL);
  self->db = g_object_ref (db);

  return self;
}

void
cdl_ab_assignment_free (CdlAbAssignment *assignment)
{
  if (assignment == NULL)
    return;

  g_free (assignment->test_id);
  g_free (assignment->test_name);
  cdl_ab_variant_free (assignment->variant);
  g_free (assignment);
}

JsonNode *
cdl_ab_assignment_to_json (const CdlAbAssignment *assignment)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "test_id");
  json_builder_add_string_value (b, assignment->test_id);
  json_builder_set_member_name (b, "test_name");
  json_builder_add_string_value (b, assignment->test_name);
  json_builder_set_member_name (b, "variant");
  json_builder_add_string_value (b, assignment->variant->key);
  cdl_abtest_add_config (b, assignment->variant);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

/* Helpers ------------------------------------------------------------------ */

typedef struct
{
  char     *name;
  char     *user_id;
  char     *test_id;
  JsonNode *body;
  gboolean  place;
} Op;

static void
op_free (gpointer data)
{
  Op *op = data;

  g_free (op->name);
  g_free (op->user_id);
  g_free (op->test_id);
  g_clear_pointer (&op->body, json_node_unref);
  g_free (op);
}

static Op *
op_new (const char *name,
        const char *user_id,
        JsonNode   *body)
{
  Op *op = g_new0 (Op, 1);

  op->name = g_strdup (name);
  op->user_id = g_strdup (user_id);
  op->body = body != NULL ? json_node_ref (body) : NULL;

  return op;
}

static GPtrArray *
variants_of (const CdlAbTestRow  *row,
             GError             **error)
{
  g_autoptr(JsonNode) node = cdl_json_parse (row->variants, -1, error);

  if (node == NULL)
    return NULL;

  return cdl_abtest_parse_variants (node, error);
}

static void
add_epoch (JsonBuilder *b,
           const char  *member,
           gint64       epoch)
{
  g_autoptr(GDateTime) dt = epoch > 0 ? g_date_time_new_from_unix_utc (epoch) : NULL;

  cdl_json_add_datetime (b, member, dt);
}

static void
add_test (JsonBuilder        *b,
          const CdlAbTestRow *row)
{
  g_autoptr(JsonNode) variants = cdl_json_parse (row->variants, -1, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, row->id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, row->name);
  json_builder_set_member_name (b, "variants");
  if (variants != NULL)
    json_builder_add_value (b, g_steal_pointer (&variants));
  else
    json_builder_add_null_value (b);
  add_epoch (b, "expires_at", row->expires_at);
  add_epoch (b, "created_at", row->created_at);
  json_builder_set_member_name (b, "expired");
  json_builder_add_boolean_value (b, row->expired);
  json_builder_end_object (b);
}

static CdlAbTestRow *
find_test (PGconn      *conn,
           const char  *name,
           const char  *id,
           GError     **error)
{
  GError *local_error = NULL;
  CdlAbTestRow *row = cdl_abtest_repo_find (conn, name, id, &local_error);

  if (row == NULL && local_error == NULL)
    g_set_error (&local_error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND,
                 _("There is no A/B test %s"), name != NULL ? name : id);
  if (local_error != NULL)
    g_propagate_error (error, local_error);

  return row;
}

static JsonNode *
node_finish (CdlAbtestService  *self,
             GAsyncResult      *result,
             GError           **error)
{
  JsonNode *node = cdl_db_run_finish (self->db, result, error);

  if (node == NULL)
    cdl_service_error_translate (error);

  return node;
}

/* A string member of @obj; NULL when absent, null, or not a string (then
 * @error is set unless @optional and it is absent or null). */
static const char *
get_string (JsonObject  *obj,
            const char  *member,
            gboolean     optional,
            GError     **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  if ((node == NULL || JSON_NODE_HOLDS_NULL (node)) && optional)
    return NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   _("%s is required and must be a string"), member);
      return NULL;
    }

  return json_node_get_string (node);
}

static JsonObject *
body_object (JsonNode  *body,
             GError   **error)
{
  if (body == NULL || !JSON_NODE_HOLDS_OBJECT (body))
    {
      g_set_error_literal (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                           _("The body must be a JSON object"));
      return NULL;
    }

  return json_node_get_object (body);
}

/* Create ------------------------------------------------------------------- */

static gpointer
create_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  JsonObject *obj;
  const char *name, *expires_text;
  g_autofree char *trimmed = NULL;
  g_autoptr(GPtrArray) variants = NULL;
  g_autoptr(JsonNode) normal = NULL;
  g_autofree char *variants_text = NULL;
  g_autoptr(CdlAbTestRow) row = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(GError) local_error = NULL;
  gint64 expires_at = 0;

  if ((obj = body_object (op->body, error)) == NULL
      || (name = get_string (obj, "name", FALSE, error)) == NULL)
    return NULL;

  trimmed = g_strstrip (g_strdup (name));
  if (*trimmed == '\0' || g_utf8_strlen (trimmed, -1) > NAME_MAX_CHARS)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   _("name must be 1 to %d characters"), NAME_MAX_CHARS);
      return NULL;
    }

  variants = cdl_abtest_parse_variants (json_object_get_member (obj, "variants"), error);
  if (variants == NULL)
    return NULL;

  expires_text = get_string (obj, "expires_at", TRUE, error);
  if (expires_text == NULL && error != NULL && *error != NULL)
    return NULL;
  if (expires_text != NULL)
    {
      g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
      g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (expires_text, utc);

      if (dt == NULL)
        {
          g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                       _("expires_at \"%s\" is not an ISO 8601 date and time"), expires_text);
          return NULL;
        }
      expires_at = g_date_time_to_unix (dt);
      if (expires_at <= g_get_real_time () / G_USEC_PER_SEC)
        {
          g_set_error_literal (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                               _("expires_at must be in the future"));
          return NULL;
        }
    }

  normal = cdl_abtest_variants_to_json (variants);
  variants_text = cdl_json_to_string (normal, FALSE);

  row = cdl_abtest_repo_insert (conn, trimmed, variants_text, expires_at, &local_error);
  if (row == NULL)
    {
      if (g_error_matches (local_error, CDL_DB_ERROR, CDL_DB_ERROR_UNIQUE))
        g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT,
                     _("An A/B test named %s exists already; pick another name"), trimmed);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  b = json_builder_new_immutable ();
  add_test (b, row);
  return json_builder_get_root (b);
}

void
cdl_abtest_service_create_async (CdlAbtestService    *self,
                                 JsonNode            *body,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (CDL_IS_ABTEST_SERVICE (self));

  cdl_db_run_async (self->db, create_in_thread, op_new (NULL, NULL, body), op_free,
                    (GDestroyNotify)json_node_unref, cancellable, callback, user_data);
}

JsonNode *
cdl_abtest_service_create_finish (CdlAbtestService  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (CDL_IS_ABTEST_SERVICE (self), NULL);

  return node_finish (self, result, error);
}

/* List --------------------------------------------------------------------- */

static gpointer
list_in_thread (PGconn        *conn,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GPtrArray) rows = cdl_abtest_repo_list (conn, error);
  g_autoptr(JsonBuilder) b = NULL;

  if (rows == NULL)
    return NULL;

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "tests");
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++)
    add_test (b, g_ptr_array_index (rows, i));
  json_builder_end_array (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

void
cdl_abtest_service_list_async (CdlAbtestService    *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (CDL_IS_ABTEST_SERVICE (self));

  cdl_db_run_async (self->db, list_in_thread, NULL, NULL, (GDestroyNotify)json_node_unref,
                    cancellable, callback, user_data);
}

JsonNode *
cdl_abtest_service_list_finish (CdlAbtestService  *self,
                                GAsyncResult      *result,
                                GError           **error)
{
  g_return_val_if_fail (CDL_IS_ABTEST_SERVICE (self), NULL);

  return node_finish (self, result, error);
}

/* Assign ------------------------------------------------------------------- */

static CdlAbAssignment *
assignment_new (const CdlAbTestRow *row,
                GPtrArray          *variants,
                const char         *key)
{
  CdlAbAssignment *assignment = g_new0 (CdlAbAssignment, 1);
  const CdlAbVariant *v = cdl_abtest_find (variants, key);

  assignment->test_id = g_strdup (row->id);
  assignment->test_name = g_strdup (row->name);
  assignment->variant = g_new0 (CdlAbVariant, 1);
  assignment->variant->key = g_strdup (key);
  if (v != NULL)
    {
      assignment->variant->weight = v->weight;
      assignment->variant->prefetch_batches = v->prefetch_batches;
      assignment->variant->prefetch_full = v->prefetch_full;
      assignment->variant->media_base_url = g_strdup (v->media_base_url);
    }
  else
    {
      /* FIXME: a stored key no longer among the variants (edited in SQL)
       * gets the default config rather than an error. */
      assignment->variant->prefetch_batches = CDL_ABTEST_PREFETCH_DEFAULT;
    }

  return assignment;
}

static gpointer
assign_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  g_autoptr(CdlAbTestRow) row = NULL;
  g_autoptr(GPtrArray) variants = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *key = NULL;
  gboolean user_exists = FALSE;
  const CdlAbVariant *pick;

  if (op->name == NULL || *op->name == '\0')
    {
      g_set_error_literal (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                           _("test_name is required and must be a string"));
      return NULL;
    }

  row = find_test (conn, op->name, NULL, error);
  if (row == NULL)
    return NULL;

  variants = variants_of (row, error);
  if (variants == NULL)
    return NULL;

  key = cdl_abtest_repo_assignment (conn, row->id, op->user_id, &user_exists, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (!user_exists)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_NOT_FOUND,
                   _("There is no user with id %s"), op->user_id);
      return NULL;
    }
  if (key != NULL)
    return assignment_new (row, variants, key);
  if (!op->place)
    return NULL;

  if (row->expired)
    {
      g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc (row->expires_at);
      g_autofree char *date = g_date_time_format_iso8601 (when);

      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_GONE,
                   _("A/B test %s expired on %s; no new users are assigned"), row->name, date);
      return NULL;
    }

  pick = g_ptr_array_index (variants,
                            cdl_abtest_pick (variants, cdl_abtest_unit (row->id, op->user_id)));
  key = cdl_abtest_repo_assign (conn, row->id, op->user_id, pick->key, error);
  if (key == NULL)
    return NULL;

  return assignment_new (row, variants, key);
}

static void
run_assign (CdlAbtestService    *self,
            const char          *test_name,
            const char          *user_id,
            gboolean             place,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  Op *op;

  g_return_if_fail (CDL_IS_ABTEST_SERVICE (self));
  g_return_if_fail (user_id != NULL);

  op = op_new (test_name, user_id, NULL);
  op->place = place;
  cdl_db_run_async (self->db, assign_in_thread, op, op_free,
                    (GDestroyNotify)cdl_ab_assignment_free, cancellable, callback, user_data);
}

static CdlAbAssignment *
assignment_finish (CdlAbtestService  *self,
                   GAsyncResult      *result,
                   GError           **error)
{
  CdlAbAssignment *assignment = cdl_db_run_finish (self->db, result, error);

  if (assignment == NULL && error != NULL && *error != NULL)
    cdl_service_error_translate (error);

  return assignment;
}

void
cdl_abtest_service_assign_async (CdlAbtestService    *self,
                                 const char          *test_name,
                                 const char          *user_id,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  run_assign (self, test_name, user_id, TRUE, cancellable, callback, user_data);
}

CdlAbAssignment *
cdl_abtest_service_assign_finish (CdlAbtestService  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (CDL_IS_ABTEST_SERVICE (self), NULL);

  return assignment_finish (self, result, error);
}

CdlAbAssignment *
cdl_abtest_service_assign_sync (CdlAbtestService  *self,
                                const char        *test_name,
                                const char        *user_id,
                                GCancellable      *cancellable,
                                GError           **error)
{
  Op *op;
  CdlAbAssignment *assignment;

  g_return_val_if_fail (CDL_IS_ABTEST_SERVICE (self), NULL);
  g_return_val_if_fail (user_id != NULL, NULL);

  op = op_new (test_name, user_id, NULL);
  op->place = TRUE;
  assignment = cdl_db_run_sync (self->db, assign_in_thread, op, cancellable, error);
  op_free (op);
  if (assignment == NULL)
    cdl_service_error_translate (error);

  return assignment;
}

void
cdl_abtest_service_lookup_async (CdlAbtestService    *self,
                                 const char          *test_name,
                                 const char          *user_id,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  run_assign (self, test_name, user_id, FALSE, cancellable, callback, user_data);
}

CdlAbAssignment *
cdl_abtest_service_lookup_finish (CdlAbtestService  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (CDL_IS_ABTEST_SERVICE (self), NULL);

  return assignment_finish (self, result, error);
}

/* Events ------------------------------------------------------------------- */

/* A whole number of milliseconds, 0 to a day. */
static gboolean
event_ms (JsonObject *value,
          guint       i,
          gint64     *ms,
          GError    **error)
{
  JsonNode *node = json_object_get_member (value, "ms");

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || (json_node_get_value_type (node) != G_TYPE_INT64
          && json_node_get_value_type (node) != G_TYPE_DOUBLE)
      || !(json_node_get_double (node) >= 0) || json_node_get_double (node) > 86400000.0)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   _("events[%u].value.ms must be a number of milliseconds from 0 to"
                     " 86400000"), i);
      return FALSE;
    }

  *ms = (gint64)llround (json_node_get_double (node));
  return TRUE;
}

/* Checks the events and turns them into the stored kinds and values. */
static gboolean
parse_events (JsonObject     *obj,
              GStrvBuilder   *kinds,
              GStrvBuilder   *values,
              GError        **error)
{
  JsonNode *node = json_object_get_member (obj, "events");
  JsonArray *events;
  guint n;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error_literal (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                           _("events must be an array of {kind, value}"));
      return FALSE;
    }
  events = json_node_get_array (node);
  n = json_array_get_length (events);
  if (n == 0 || n > CDL_ABTEST_EVENTS_MAX)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   _("events must hold 1 to %d events; this call has %u"),
                   CDL_ABTEST_EVENTS_MAX, n);
      return FALSE;
    }

  for (guint i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (events, i);
      g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
      g_autoptr(JsonNode) stored = NULL;
      g_autofree char *text = NULL;
      JsonObject *event, *value;
      JsonNode *v;
      const char *kind;

      if (!JSON_NODE_HOLDS_OBJECT (e))
        goto bad_event;
      event = json_node_get_object (e);
      kind = json_object_get_string_member_with_default (event, "kind", NULL);
      v = json_object_get_member (event, "value");
      if (kind == NULL || v == NULL || !JSON_NODE_HOLDS_OBJECT (v))
        goto bad_event;
      value = json_node_get_object (v);

      json_builder_begin_object (b);
      if (strcmp (kind, "decision") == 0 || strcmp (kind, "image_wait") == 0)
        {
          const char *batch_id = json_object_get_string_member_with_default (value, "batch_id",
                                                                             NULL);
          gint64 ms = 0;

          if (!event_ms (value, i, &ms, error))
            return FALSE;
          if (batch_id != NULL && !g_uuid_string_is_valid (batch_id))
            {
              g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                           _("events[%u].value.batch_id must be a batch id (a UUID)"), i);
              return FALSE;
            }
          json_builder_set_member_name (b, "ms");
          json_builder_add_int_value (b, ms);
          cdl_json_add_string_or_null (b, "batch_id", batch_id);
        }
      else if (strcmp (kind, "prefetch") == 0)
        {
          JsonNode *hit = json_object_get_member (value, "hit");

          if (hit == NULL || !JSON_NODE_HOLDS_VALUE (hit)
              || json_node_get_value_type (hit) != G_TYPE_BOOLEAN)
            {
              g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                           _("events[%u].value.hit must be true or false"), i);
              return FALSE;
            }
          json_builder_set_member_name (b, "hit");
          json_builder_add_boolean_value (b, json_node_get_boolean (hit));
        }
      else
        {
          g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                       _("events[%u].kind \"%s\" is not one of decision, image_wait,"
                         " prefetch"), i, kind);
          return FALSE;
        }
      json_builder_end_object (b);

      stored = json_builder_get_root (b);
      text = cdl_json_to_string (stored, FALSE);
      g_strv_builder_add (kinds, kind);
      g_strv_builder_add (values, text);
      continue;

    bad_event:
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_INVALID,
                   _("events[%u] must be an object {kind, value} with a string kind and an"
                     " object value"), i);
      return FALSE;
    }

  return TRUE;
}

static gpointer
record_in_thread (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Op *op = data;
  g_autoptr(GStrvBuilder) kinds_builder = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) values_builder = g_strv_builder_new ();
  g_auto(GStrv) kinds = NULL;
  g_auto(GStrv) values = NULL;
  g_autoptr(CdlAbTestRow) row = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *key = NULL;
  gboolean user_exists = FALSE;
  JsonObject *obj;
  const char *name;

  if ((obj = body_object (op->body, error)) == NULL
      || (name = get_string (obj, "test_name", FALSE, error)) == NULL
      || !parse_events (obj, kinds_builder, values_builder, error))
    return NULL;

  kinds = g_strv_builder_end (kinds_builder);
  values = g_strv_builder_end (values_builder);

  row = find_test (conn, name, NULL, error);
  if (row == NULL)
    return NULL;

  key = cdl_abtest_repo_assignment (conn, row->id, op->user_id, &user_exists, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (key == NULL)
    {
      g_set_error (error, CDL_SERVICE_ERROR, CDL_SERVICE_ERROR_CONFLICT,
                   _("You are not in A/B test %s; call POST /api/ab-tests/assign first"),
                   row->name);
      return NULL;
    }

  if (!cdl_abtest_repo_add_events (conn, row->id, op->user_id, key,
                                   (const char * const *)kinds, (const char * const *)values,
                                   error))
    return NULL;

  return GSIZE_TO_POINTER (g_strv_length (kinds));
}

void
cdl_abtest_service_record_async (CdlAbtestService    *self,
                                 const char          *user_id,
                                 JsonNode            *body,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (CDL_IS_ABTEST_SERVICE (self));
  g_return_if_fail (user_id != NULL);

  cdl_db_run_async (self->db, record_in_thread, op_new (NULL, user_id, body), op_free, NULL,
                    cancellable, callback, user_data);
}

gint64
cdl_abtest_service_record_finish (CdlAbtestService  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  gpointer n;

  g_return_val_if_fail (CDL_IS_ABTEST_SERVICE (self), -1);

  n = cdl_db_run_finish (self->db, result, error);
  if (n == NULL)
    {
      cdl_service_error_translate (error);
      return -1;
    }

  return (gint64)GPOINTER_TO_SIZE (n);
}

/* Results ------------------------------------------------------------------ */

static void
add_median (JsonBuilder *b,
            const char  *member,
            double       median,
            gint64       n)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "median");
  if (n > 0)
    json_builder_add_double_value (b, median);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "n");
  json_builder_add_int_value (b, n);
  json_builder_end_object (b);
}

static gpointer
results_in_thread (PGconn        *conn,
                   gpointer       data,
                   GCancellable  *cancellable,
                   GError       **error)
{
  Op *op = data;
  g_autoptr(CdlAbTestRow) row = NULL;
  g_autoptr(GPtrArray) variants = NULL;
  g_autoptr(GStrvBuilder) keys_builder = g_strv_builder_new ();
  g_auto(GStrv) keys = NULL;
  g_autofree CdlAbVariantResult *results = NULL;
  g_autoptr(JsonBuilder) b = NULL;

  row = find_test (conn, NULL, op->test_id, error);
  if (row == NULL)
    return NULL;

  variants = variants_of (row, error);
  if (variants == NULL)
    return NULL;

  for (guint i = 0; i < variants->len; i++)
    g_strv_builder_add (keys_builder, ((CdlAbVariant *)g_ptr_array_index (variants, i))->key);
  keys = g_strv_builder_end (keys_builder);

  results = cdl_abtest_repo_results (conn, row->id, (const char * const *)keys, error);
  if (results == NULL)
    return NULL;

  b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "test");
  add_test (b, row);
  json_builder_set_member_name (b, "variants");
  json_builder_begin_array (b);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      const CdlAbVariantResult *r = &results[i];

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "key");
      json_builder_add_string_value (b, keys[i]);
      json_builder_set_member_name (b, "users");
      json_builder_add_int_value (b, r->users);
      json_builder_set_member_name (b, "labels");
      json_builder_add_int_value (b, r->labels);
      add_median (b, "decision_ms", r->decision_median, r->decision_n);
      add_median (b, "image_wait_ms", r->wait_median, r->wait_n);
      json_builder_set_member_name (b, "prefetch");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "hits");
      json_builder_add_int_value (b, r->prefetch_hits);
      json_builder_set_member_name (b, "misses");
      json_builder_add_int_value (b, r->prefetch_misses);
      json_builder_end_object (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}

void
cdl_abtest_service_results_async (CdlAbtestService    *self,
                                  const char          *test_id,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  Op *op;

  g_return_if_fail (CDL_IS_ABTEST_SERVICE (self));

  op = op_new (NULL, NULL, NULL);
  op->test_id = g_strdup (test_id);
  cdl_db_run_async (self->db, results_in_thread, op, op_free,
                    (GDestroyNotify)json_node_unref, cancellable, callback, user_data);
}

JsonNode *
cdl_abtest_service_results_finish (CdlAbtestService  *self,
                                   GAsyncResult      *result,
                                   GError           **error)
{
  g_return_val_if_fail (CDL_IS_ABTEST_SERVICE (self), NULL);

  return node_finish (self, result, error);
}
