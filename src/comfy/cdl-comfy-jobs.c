/* cdl-comfy-jobs.c: running prompts on a ComfyUI worker
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-comfy"

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "cdl-comfy-client-private.h"
#include "cdl-comfy-jobs.h"

/* Answers to POST /prompt, /queue and /history are small; a worker that
 * sends more is not a ComfyUI we understand. */
#define MAX_JSON_BYTES (32 * 1024 * 1024)

G_DEFINE_QUARK (cdl-comfy-prompt-error-quark, cdl_comfy_prompt_error)

/* JSON */

static const char *
get_string (JsonObject *obj,
            const char *name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

static JsonObject *
get_object (JsonObject *obj,
            const char *name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  return json_node_get_object (node);
}

static JsonArray *
get_array (JsonObject *obj,
           const char *name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;

  return json_node_get_array (node);
}

static JsonNode *
parse_json (GBytes  *bytes,
            GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  if (len == 0 || !json_parser_load_from_data (parser, data, len, error) ||
      json_parser_get_root (parser) == NULL)
    return NULL;

  return json_parser_steal_root (parser);
}

static GBytes *
node_to_bytes (JsonNode *node)
{
  gsize len;
  char *text;
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, &len);

  return g_bytes_new_take (text, len);
}

/* Sends @obj (taken) as the JSON body of a POST. */
static void
post_object (CdlComfyClient      *client,
             const char          *base_url,
             const char          *api_key,
             const char          *path,
             JsonObject          *obj,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             GTask               *task)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), obj);
  g_autoptr(GBytes) body = node_to_bytes (node);

  json_object_unref (obj);
  cdl_comfy_client_send_async (client, base_url, api_key, "POST", path, body,
                               MAX_JSON_BYTES, cancellable, callback, task);
}

/* POST /prompt */

void
cdl_comfy_submitted_free (CdlComfySubmitted *submitted)
{
  if (submitted == NULL)
    return;

  g_free (submitted->prompt_id);
  g_clear_pointer (&submitted->node_errors, json_node_unref);
  g_free (submitted);
}

static CdlComfyPromptError
prompt_error_code (const char *type)
{
  if (g_strcmp0 (type, "invalid_prompt") == 0)
    return CDL_COMFY_PROMPT_ERROR_INVALID;
  if (g_strcmp0 (type, "prompt_no_outputs") == 0)
    return CDL_COMFY_PROMPT_ERROR_NO_OUTPUTS;
  if (g_strcmp0 (type, "prompt_outputs_failed_validation") == 0)
    return CDL_COMFY_PROMPT_ERROR_VALIDATION;

  return CDL_COMFY_PROMPT_ERROR_OTHER;
}

/* "Prompt outputs failed validation: node 4 (CheckpointLoaderSimple):
 * Value not in list: ckpt_name: 'x' not in […]; node 3 …" */
static GError *
rejection_error (CdlComfyResponse *response,
                 JsonObject       *root)
{
  JsonObject *error = get_object (root, "error");
  JsonObject *node_errors = get_object (root, "node_errors");
  const char *type = get_string (error, "type");
  const char *message = get_string (error, "message");
  const char *details = get_string (error, "details");
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GList) ids = NULL;
  gboolean first = TRUE;

  /* Old servers sent "error" as a plain string. */
  if (error == NULL)
    message = get_string (root, "error");

  g_string_append_printf (text, "%s refused the prompt: %s", response->url,
                          message ? message : "no reason given");
  if (type != NULL)
    g_string_append_printf (text, " (%s)", type);

  ids = node_errors ? json_object_get_members (node_errors) : NULL;
  for (GList *l = ids; l != NULL; l = l->next)
    {
      JsonObject *entry = get_object (node_errors, l->data);
      JsonArray *errors = get_array (entry, "errors");
      const char *class_type = get_string (entry, "class_type");

      for (guint i = 0; errors && i < json_array_get_length (errors); i++)
        {
          JsonNode *e = json_array_get_element (errors, i);
          JsonObject *eo = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
          const char *m = get_string (eo, "message");
          const char *d = get_string (eo, "details");

          g_string_append_printf (text, "%s node %s (%s): %s%s%s",
                                  first ? ":" : ";",
                                  (char *) l->data,
                                  class_type ? class_type : "?",
                                  m ? m : "invalid",
                                  d && *d ? ": " : "", d && *d ? d : "");
          first = FALSE;
        }
    }

  if (ids == NULL && details != NULL && details[0] != '\0')
    g_string_append_printf (text, ": %s", details);

  return g_error_new_literal (CDL_COMFY_PROMPT_ERROR, prompt_error_code (type),
                              text->str);
}

static void
submit_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfyResponse) response = NULL;
  g_autoptr(JsonNode) root = NULL;
  CdlComfySubmitted *submitted;
  JsonObject *obj;
  JsonNode *number;
  JsonObject *node_errors;

  response = cdl_comfy_client_send_finish (CDL_COMFY_CLIENT (object), result,
                                           &error);
  if (response == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  root = parse_json (response->body, NULL);
  obj = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;

  if (response->status == SOUP_STATUS_BAD_REQUEST && obj != NULL &&
      json_object_has_member (obj, "error"))
    {
      GError *rejected = rejection_error (response, obj);

      g_debug ("%s", rejected->message);
      g_task_return_error (task, rejected);
      return;
    }

  if (!SOUP_STATUS_IS_SUCCESSFUL (response->status))
    {
      g_task_return_new_error (task, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP,
                               "HTTP %u from %s", response->status,
                               response->url);
      return;
    }

  number = obj ? json_object_get_member (obj, "number") : NULL;
  if (get_string (obj, "prompt_id") == NULL)
    {
      g_task_return_new_error (task, CDL_COMFY_ERROR,
                               CDL_COMFY_ERROR_BAD_RESPONSE,
                               "The answer from %s has no prompt_id",
                               response->url);
      return;
    }

  submitted = g_new0 (CdlComfySubmitted, 1);
  submitted->prompt_id = g_strdup (get_string (obj, "prompt_id"));
  submitted->number = number && json_node_get_value_type (number) == G_TYPE_INT64
                      ? json_node_get_int (number) : 0;
  node_errors = get_object (obj, "node_errors");
  submitted->node_errors = node_errors
    ? json_node_copy (json_object_get_member (obj, "node_errors"))
    : json_node_init_object (json_node_alloc (), json_object_new ());

  g_task_return_pointer (task, submitted,
                         (GDestroyNotify) cdl_comfy_submitted_free);
}

void
cdl_comfy_jobs_submit_async (CdlComfyClient      *client,
                             const char          *base_url,
                             const char          *api_key,
                             JsonNode            *graph,
                             const char          *client_id,
                             const char          *prompt_id,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  JsonObject *body;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (client));
  g_return_if_fail (base_url != NULL);
  g_return_if_fail (graph != NULL);

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_comfy_jobs_submit_async);

  body = json_object_new ();
  json_object_set_member (body, "prompt", json_node_copy (graph));
  if (client_id != NULL)
    json_object_set_string_member (body, "client_id", client_id);
  if (prompt_id != NULL)
    json_object_set_string_member (body, "prompt_id", prompt_id);

  post_object (client, base_url, api_key, "/prompt", body, cancellable,
               submit_cb, g_steal_pointer (&task));
}

CdlComfySubmitted *
cdl_comfy_jobs_submit_finish (CdlComfyClient  *client,
                              GAsyncResult    *result,
                              GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* GET /queue */

void
cdl_comfy_queue_free (CdlComfyQueue *queue)
{
  if (queue == NULL)
    return;

  g_strfreev (queue->running);
  g_strfreev (queue->pending);
  g_free (queue);
}

gboolean
cdl_comfy_queue_contains (const CdlComfyQueue *queue,
                          const char          *prompt_id)
{
  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (prompt_id != NULL, FALSE);

  return g_strv_contains ((const char * const *) queue->running, prompt_id) ||
         g_strv_contains ((const char * const *) queue->pending, prompt_id);
}

static gboolean
read_items (JsonObject  *obj,
            const char  *name,
            GStrv       *ids,
            int         *count,
            GError     **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *items;

  *count = 0;
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node) && !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_BAD_RESPONSE,
                   "“%s” in the /queue answer is not a list", name);
      return FALSE;
    }

  items = node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  for (guint i = 0; items && i < json_array_get_length (items); i++)
    {
      JsonNode *item = json_array_get_element (items, i);
      JsonArray *fields = JSON_NODE_HOLDS_ARRAY (item) ? json_node_get_array (item) : NULL;
      JsonNode *id = fields && json_array_get_length (fields) > 1
                     ? json_array_get_element (fields, 1) : NULL;

      if (id != NULL && json_node_get_value_type (id) == G_TYPE_STRING)
        g_strv_builder_add (builder, json_node_get_string (id));
      (*count)++;
    }

  *ids = g_strv_builder_end (builder);

  return TRUE;
}

CdlComfyQueue *
cdl_comfy_parse_queue_items (JsonNode  *node,
                             GError   **error)
{
  g_autoptr(CdlComfyQueue) queue = g_new0 (CdlComfyQueue, 1);
  JsonObject *obj;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_BAD_RESPONSE,
                           "The /queue answer is not a JSON object");
      return NULL;
    }

  obj = json_node_get_object (node);
  if (!read_items (obj, "queue_running", &queue->running, &queue->n_running, error) ||
      !read_items (obj, "queue_pending", &queue->pending, &queue->n_pending, error))
    return NULL;

  return g_steal_pointer (&queue);
}

static void
queue_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  CdlComfyQueue *queue;

  node = cdl_comfy_client_get_json_finish (CDL_COMFY_CLIENT (object), result,
                                           &error);
  if (node == NULL || (queue = cdl_comfy_parse_queue_items (node, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_pointer (task, queue, (GDestroyNotify) cdl_comfy_queue_free);
}

void
cdl_comfy_jobs_queue_async (CdlComfyClient      *client,
                            const char          *base_url,
                            const char          *api_key,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (client));
  g_return_if_fail (base_url != NULL);

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_comfy_jobs_queue_async);

  cdl_comfy_client_get_json_async (client, base_url, api_key, "/queue",
                                   cancellable, queue_cb, g_steal_pointer (&task));
}

CdlComfyQueue *
cdl_comfy_jobs_queue_finish (CdlComfyClient  *client,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* GET /history/{prompt_id} */

static void
output_free (CdlComfyOutput *output)
{
  g_free (output->node_id);
  g_free (output->filename);
  g_free (output->subfolder);
  g_free (output->type);
  g_free (output);
}

void
cdl_comfy_history_free (CdlComfyHistory *history)
{
  if (history == NULL)
    return;

  g_free (history->error_type);
  g_free (history->error_message);
  g_free (history->error_node_id);
  g_clear_pointer (&history->outputs, g_ptr_array_unref);
  g_free (history);
}

gboolean
cdl_comfy_is_oom (const char *exception_type,
                  const char *message)
{
  if (exception_type != NULL &&
      g_str_has_suffix (exception_type, "OutOfMemoryError"))
    return TRUE;

  if (message != NULL)
    {
      g_autofree char *lower = g_ascii_strdown (message, -1);

      if (strstr (lower, "out of memory") != NULL ||
          strstr (lower, "allocation on device") != NULL)
        return TRUE;
    }

  return FALSE;
}

static void
read_outputs (CdlComfyHistory *history,
              JsonObject      *outputs)
{
  g_autoptr(GList) ids = outputs ? json_object_get_members (outputs) : NULL;

  for (GList *l = ids; l != NULL; l = l->next)
    {
      JsonArray *images = get_array (get_object (outputs, l->data), "images");

      for (guint i = 0; images && i < json_array_get_length (images); i++)
        {
          JsonNode *e = json_array_get_element (images, i);
          JsonObject *image = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
          const char *filename = get_string (image, "filename");
          const char *subfolder = get_string (image, "subfolder");
          const char *type = get_string (image, "type");
          CdlComfyOutput *output;

          if (filename == NULL)
            continue;

          output = g_new0 (CdlComfyOutput, 1);
          output->node_id = g_strdup (l->data);
          output->filename = g_strdup (filename);
          output->subfolder = g_strdup (subfolder ? subfolder : "");
          output->type = g_strdup (type ? type : "output");
          g_ptr_array_add (history->outputs, output);
        }
    }
}

/* The last [type, data] message of the status. */
static const char *
last_message (JsonObject  *status,
              JsonObject **data)
{
  JsonArray *messages = get_array (status, "messages");
  guint n = messages ? json_array_get_length (messages) : 0;
  JsonNode *last;
  JsonArray *pair;

  *data = NULL;
  if (n == 0)
    return NULL;

  last = json_array_get_element (messages, n - 1);
  if (!JSON_NODE_HOLDS_ARRAY (last))
    return NULL;

  pair = json_node_get_array (last);
  if (json_array_get_length (pair) < 2 ||
      json_node_get_value_type (json_array_get_element (pair, 0)) != G_TYPE_STRING)
    return NULL;

  if (JSON_NODE_HOLDS_OBJECT (json_array_get_element (pair, 1)))
    *data = json_array_get_object_element (pair, 1);

  return json_array_get_string_element (pair, 0);
}

CdlComfyHistory *
cdl_comfy_parse_history (JsonNode    *node,
                         const char  *prompt_id,
                         GError     **error)
{
  g_autoptr(CdlComfyHistory) history = NULL;
  JsonObject *entry;
  JsonObject *status;
  JsonObject *data;
  const char *status_str;
  const char *last;

  g_return_val_if_fail (prompt_id != NULL, NULL);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, CDL_COMFY_ERROR, CDL_COMFY_ERROR_BAD_RESPONSE,
                           "The /history answer is not a JSON object");
      return NULL;
    }

  history = g_new0 (CdlComfyHistory, 1);
  history->outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) output_free);
  history->status = CDL_COMFY_JOB_PENDING;

  entry = get_object (json_node_get_object (node), prompt_id);
  if (entry == NULL)
    return g_steal_pointer (&history);

  status = get_object (entry, "status");
  status_str = get_string (status, "status_str");
  last = last_message (status, &data);

  if (g_strcmp0 (last, "execution_interrupted") == 0)
    history->status = CDL_COMFY_JOB_INTERRUPTED;
  else if (g_strcmp0 (status_str, "error") == 0 ||
           g_strcmp0 (last, "execution_error") == 0)
    history->status = CDL_COMFY_JOB_ERROR;
  else
    history->status = CDL_COMFY_JOB_SUCCESS;

  if (history->status != CDL_COMFY_JOB_SUCCESS && data != NULL)
    {
      history->error_type = g_strdup (get_string (data, "exception_type"));
      history->error_message = g_strdup (get_string (data, "exception_message"));
      history->error_node_id = g_strdup (get_string (data, "node_id"));
    }

  if (history->status == CDL_COMFY_JOB_ERROR)
    {
      if (history->error_message == NULL)
        history->error_message = g_strdup ("The worker reported an error "
                                           "without details");
      history->is_oom = cdl_comfy_is_oom (history->error_type,
                                          history->error_message);
    }

  read_outputs (history, get_object (entry, "outputs"));

  return g_steal_pointer (&history);
}

static void
history_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  CdlComfyHistory *history;

  node = cdl_comfy_client_get_json_finish (CDL_COMFY_CLIENT (object), result,
                                           &error);
  if (node == NULL ||
      !(history = cdl_comfy_parse_history (node, g_task_get_task_data (task),
                                           &error)))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_pointer (task, history, (GDestroyNotify) cdl_comfy_history_free);
}

void
cdl_comfy_jobs_history_async (CdlComfyClient      *client,
                              const char          *base_url,
                              const char          *api_key,
                              const char          *prompt_id,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *path = NULL;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (client));
  g_return_if_fail (base_url != NULL);
  g_return_if_fail (prompt_id != NULL && prompt_id[0] != '\0');

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_comfy_jobs_history_async);
  g_task_set_task_data (task, g_strdup (prompt_id), g_free);

  escaped = g_uri_escape_string (prompt_id, NULL, FALSE);
  path = g_strconcat ("/history/", escaped, NULL);
  cdl_comfy_client_get_json_async (client, base_url, api_key, path,
                                   cancellable, history_cb,
                                   g_steal_pointer (&task));
}

CdlComfyHistory *
cdl_comfy_jobs_history_finish (CdlComfyClient  *client,
                               GAsyncResult    *result,
                               GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* GET /view */

static void
view_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  CdlComfyResponse *response;

  response = cdl_comfy_client_send_finish (CDL_COMFY_CLIENT (object), result,
                                           &error);
  if (response == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!SOUP_STATUS_IS_SUCCESSFUL (response->status))
    {
      g_task_return_new_error (task, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP,
                               "HTTP %u from %s", response->status,
                               response->url);
      cdl_comfy_response_free (response);
      return;
    }

  g_task_return_pointer (task, response, (GDestroyNotify) cdl_comfy_response_free);
}

void
cdl_comfy_jobs_view_async (CdlComfyClient      *client,
                           const char          *base_url,
                           const char          *api_key,
                           const char          *filename,
                           const char          *subfolder,
                           const char          *type,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *f = NULL;
  g_autofree char *s = NULL;
  g_autofree char *t = NULL;
  g_autofree char *path = NULL;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (client));
  g_return_if_fail (base_url != NULL);
  g_return_if_fail (filename != NULL);

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_comfy_jobs_view_async);

  f = g_uri_escape_string (filename, NULL, FALSE);
  s = g_uri_escape_string (subfolder ? subfolder : "", NULL, FALSE);
  t = g_uri_escape_string (type ? type : "output", NULL, FALSE);
  path = g_strdup_printf ("/view?filename=%s&subfolder=%s&type=%s", f, s, t);

  cdl_comfy_client_send_async (client, base_url, api_key, "GET", path, NULL,
                               CDL_COMFY_VIEW_MAX_BYTES, cancellable, view_cb,
                               g_steal_pointer (&task));
}

GBytes *
cdl_comfy_jobs_view_finish (CdlComfyClient  *client,
                            GAsyncResult    *result,
                            char           **content_type,
                            GError         **error)
{
  g_autoptr(CdlComfyResponse) response = NULL;

  g_return_val_if_fail (g_task_is_valid (result, client), NULL);

  response = g_task_propagate_pointer (G_TASK (result), error);
  if (response == NULL)
    return NULL;

  if (content_type != NULL)
    *content_type = g_steal_pointer (&response->content_type);

  return g_steal_pointer (&response->body);
}

/* POST /interrupt and /free: 200 with an empty body */

static void
empty_answer_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlComfyResponse) response = NULL;

  response = cdl_comfy_client_send_finish (CDL_COMFY_CLIENT (object), result,
                                           &error);
  if (response == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!SOUP_STATUS_IS_SUCCESSFUL (response->status))
    {
      g_task_return_new_error (task, CDL_COMFY_ERROR, CDL_COMFY_ERROR_HTTP,
                               "HTTP %u from %s", response->status,
                               response->url);
      return;
    }

  g_task_return_boolean (task, TRUE);
}

void
cdl_comfy_jobs_interrupt_async (CdlComfyClient      *client,
                                const char          *base_url,
                                const char          *api_key,
                                const char          *prompt_id,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  JsonObject *body;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (client));
  g_return_if_fail (base_url != NULL);

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_comfy_jobs_interrupt_async);

  body = json_object_new ();
  if (prompt_id != NULL)
    json_object_set_string_member (body, "prompt_id", prompt_id);

  post_object (client, base_url, api_key, "/interrupt", body, cancellable,
               empty_answer_cb, g_steal_pointer (&task));
}

gboolean
cdl_comfy_jobs_interrupt_finish (CdlComfyClient  *client,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
cdl_comfy_jobs_free_async (CdlComfyClient      *client,
                           const char          *base_url,
                           const char          *api_key,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  JsonObject *body;

  g_return_if_fail (CDL_IS_COMFY_CLIENT (client));
  g_return_if_fail (base_url != NULL);

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, cdl_comfy_jobs_free_async);

  /* Dropping cached outputs and memory is what helps between batches;
   * unloading the models would make the next prompt load them again. */
  body = json_object_new ();
  json_object_set_boolean_member (body, "unload_models", FALSE);
  json_object_set_boolean_member (body, "free_memory", TRUE);

  post_object (client, base_url, api_key, "/free", body, cancellable,
               empty_answer_cb, g_steal_pointer (&task));
}

gboolean
cdl_comfy_jobs_free_finish (CdlComfyClient  *client,
                            GAsyncResult    *result,
                            GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
