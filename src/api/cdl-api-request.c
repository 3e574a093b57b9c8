/* cdl-api-request.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include <string.h>

#include "api/cdl-api-private.h"
#include "core/cdl-json.h"
#include "services/cdl-service-error.h"

static void
disconnected_cb (SoupServerMessage *msg,
                 gpointer           user_data)
{
  CdlApiRequest *self = user_data;

  g_cancellable_cancel (self->cancellable);
}

CdlApiRequest *
cdl_api_request_new (CdlInstance       *instance,
                     SoupServerMessage *msg,
                     GHashTable        *params,
                     GHashTable        *query)
{
  CdlApiRequest *self = g_new0 (CdlApiRequest, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->instance = g_object_ref (instance);
  self->msg = g_object_ref (msg);
  self->params = params;
  self->query = query ? g_hash_table_ref (query) : NULL;
  self->cancellable = g_cancellable_new ();
  self->disconnected_id = g_signal_connect (msg, "disconnected",
                                            G_CALLBACK (disconnected_cb), self);

  return self;
}

CdlApiRequest *
cdl_api_request_ref (CdlApiRequest *self)
{
  g_atomic_ref_count_inc (&self->ref_count);

  return self;
}

void
cdl_api_request_unref (CdlApiRequest *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  /* A handler that forgot to answer would leave the client hanging. */
  if (!self->replied)
    {
      g_critical ("%s %s was never answered",
                  soup_server_message_get_method (self->msg),
                  g_uri_get_path (soup_server_message_get_uri (self->msg)));
      cdl_api_request_reply_error (self, 500, "The server did not answer this request");
    }

  g_clear_signal_handler (&self->disconnected_id, self->msg);
  g_clear_object (&self->msg);
  g_clear_object (&self->instance);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->params, g_hash_table_unref);
  g_clear_pointer (&self->query, g_hash_table_unref);
  g_clear_pointer (&self->body, json_node_unref);
  g_clear_pointer (&self->user, cdl_user_free);
  g_free (self);
}

CdlInstance *
cdl_api_request_get_instance (CdlApiRequest *self)
{
  return self->instance;
}

SoupServerMessage *
cdl_api_request_get_message (CdlApiRequest *self)
{
  return self->msg;
}

const CdlUser *
cdl_api_request_get_user (CdlApiRequest *self)
{
  return self->user;
}

const char *
cdl_api_request_get_param (CdlApiRequest *self,
                           const char    *name)
{
  return self->params ? g_hash_table_lookup (self->params, name) : NULL;
}

const char *
cdl_api_request_get_query (CdlApiRequest *self,
                           const char    *name)
{
  return self->query ? g_hash_table_lookup (self->query, name) : NULL;
}

JsonNode *
cdl_api_request_get_body (CdlApiRequest *self)
{
  return self->body;
}

GCancellable *
cdl_api_request_get_cancellable (CdlApiRequest *self)
{
  return self->cancellable;
}

void
cdl_api_request_pause (CdlApiRequest *self)
{
  if (self->paused || self->replied)
    return;

  soup_server_message_pause (self->msg);
  self->paused = TRUE;
}

static void
reply (CdlApiRequest *self,
       guint          status,
       JsonNode      *data,
       const char    *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  gsize len;

  g_return_if_fail (!self->replied);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "success");
  json_builder_add_boolean_value (b, message == NULL);
  json_builder_set_member_name (b, "data");
  if (data != NULL)
    json_builder_add_value (b, data);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "error");
  if (message != NULL)
    json_builder_add_string_value (b, message);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  text = cdl_json_to_string (root, FALSE);
  len = strlen (text);

  soup_message_headers_replace (soup_server_message_get_response_headers (self->msg),
                                "Cache-Control", "no-store");
  soup_server_message_set_status (self->msg, status, NULL);
  soup_server_message_set_response (self->msg, "application/json; charset=utf-8",
                                    SOUP_MEMORY_TAKE, g_steal_pointer (&text), len);
  self->replied = TRUE;

  if (self->paused)
    {
      self->paused = FALSE;
      soup_server_message_unpause (self->msg);
    }
}

void
cdl_api_request_reply_data (CdlApiRequest *self,
                            guint          status,
                            JsonNode      *data)
{
  reply (self, status, data, NULL);
}

void
cdl_api_request_reply_error (CdlApiRequest *self,
                             guint          status,
                             const char    *message)
{
  g_return_if_fail (message != NULL);

  reply (self, status, NULL, message);
}

void
cdl_api_request_reply_gerror (CdlApiRequest *self,
                              const GError  *error)
{
  guint status = cdl_service_error_http_status (error);

  /* Internal failures are logged in full and shown in brief. */
  if (status >= 500)
    g_warning ("%s %s failed: %s",
               soup_server_message_get_method (self->msg),
               g_uri_get_path (soup_server_message_get_uri (self->msg)),
               error->message);

  reply (self, status, NULL, error->message);
}
