/* cdl-worker-input.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "core/cdl-worker-input.h"

#define TAG_MAX_LEN 64

G_DEFINE_QUARK (cdl-input-error-quark, cdl_input_error)

static const struct
{
  const char      *name;
  CdlWorkerFields  field;
} worker_fields[] = {
  { "name", CDL_WORKER_FIELD_NAME },
  { "base_url", CDL_WORKER_FIELD_BASE_URL },
  { "api_key", CDL_WORKER_FIELD_API_KEY },
  { "priority", CDL_WORKER_FIELD_PRIORITY },
  { "max_concurrent_jobs", CDL_WORKER_FIELD_MAX_CONCURRENT_JOBS },
  { "tags", CDL_WORKER_FIELD_TAGS },
  { "enabled", CDL_WORKER_FIELD_ENABLED },
};

CdlWorkerInput *
cdl_worker_input_new (void)
{
  CdlWorkerInput *input = g_new0 (CdlWorkerInput, 1);

  input->enabled = TRUE;
  input->max_concurrent_jobs = 1;

  return input;
}

void
cdl_worker_input_free (CdlWorkerInput *input)
{
  if (input == NULL)
    return;

  g_free (input->name);
  g_free (input->base_url);
  if (input->api_key != NULL)
    {
      /* Do not leave a key lying around in freed memory. */
      memset (input->api_key, 0, strlen (input->api_key));
      g_free (input->api_key);
    }
  g_strfreev (input->tags);
  g_free (input);
}

static gboolean
invalid (GError     **error,
         const char  *format,
         ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError     **error,
         const char  *format,
         ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (CDL_INPUT_ERROR,
                                                CDL_INPUT_ERROR_INVALID,
                                                format, args));
  va_end (args);

  return FALSE;
}

char *
cdl_worker_normalize_base_url (const char  *url,
                               GError     **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *scheme = NULL;
  g_autofree char *host = NULL;
  g_autofree char *path = NULL;
  gsize len;

  if (url == NULL || *url == '\0')
    {
      invalid (error, "base_url is required, e.g. http://gpu-01:8188");
      return NULL;
    }

  uri = g_uri_parse (url, G_URI_FLAGS_NONE, &local_error);
  if (uri == NULL)
    {
      invalid (error, "base_url \"%s\" is not a URL: %s", url, local_error->message);
      return NULL;
    }

  scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  if (strcmp (scheme, "http") != 0 && strcmp (scheme, "https") != 0)
    {
      invalid (error, "base_url must start with http:// or https://, not %s://", scheme);
      return NULL;
    }

  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      invalid (error, "base_url \"%s\" has no host name", url);
      return NULL;
    }

  if (g_uri_get_userinfo (uri) != NULL)
    {
      invalid (error, "base_url must not carry a user name or password; "
                      "give the worker's API key in api_key instead");
      return NULL;
    }

  if (g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      invalid (error, "base_url must not have a query (?…) or fragment (#…)");
      return NULL;
    }

  host = g_ascii_strdown (g_uri_get_host (uri), -1);
  path = g_strdup (g_uri_get_path (uri));
  len = strlen (path);
  while (len > 0 && path[len - 1] == '/')
    path[--len] = '\0';

  return g_uri_join (G_URI_FLAGS_NONE, scheme, NULL, host,
                     g_uri_get_port (uri), path, NULL, NULL);
}

static gboolean
check_name (const char  *name,
            GError     **error)
{
  if (name == NULL || *name == '\0')
    return invalid (error, "name must not be empty");

  if (!g_utf8_validate (name, -1, NULL))
    return invalid (error, "name is not valid UTF-8");

  if (g_utf8_strlen (name, -1) > CDL_WORKER_NAME_MAX)
    return invalid (error, "name is longer than %d characters", CDL_WORKER_NAME_MAX);

  for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return invalid (error, "name must not contain control characters");

  return TRUE;
}

gboolean
cdl_worker_input_validate (CdlWorkerInput  *input,
                           gboolean         for_create,
                           GError         **error)
{
  g_return_val_if_fail (input != NULL, FALSE);

  if (for_create && !(input->set & CDL_WORKER_FIELD_NAME))
    return invalid (error, "name is required");
  if (for_create && !(input->set & CDL_WORKER_FIELD_BASE_URL))
    return invalid (error, "base_url is required, e.g. http://gpu-01:8188");
  if (!for_create && input->set == 0)
    return invalid (error, "Nothing to update: give at least one of enabled, priority, "
                           "max_concurrent_jobs, tags, name, base_url or api_key");

  if (input->set & CDL_WORKER_FIELD_NAME)
    {
      g_autofree char *trimmed = g_strstrip (g_strdup (input->name ? input->name : ""));

      if (!check_name (trimmed, error))
        return FALSE;
      g_free (input->name);
      input->name = g_steal_pointer (&trimmed);
    }

  if (input->set & CDL_WORKER_FIELD_BASE_URL)
    {
      g_autofree char *trimmed = g_strstrip (g_strdup (input->base_url ? input->base_url : ""));
      char *normal = cdl_worker_normalize_base_url (trimmed, error);

      if (normal == NULL)
        return FALSE;
      g_free (input->base_url);
      input->base_url = normal;
    }

  if ((input->set & CDL_WORKER_FIELD_API_KEY) && input->api_key != NULL)
    {
      for (const char *p = input->api_key; *p != '\0'; p++)
        if ((guchar)*p < 0x20 || (guchar)*p == 0x7f)
          return invalid (error, "api_key must not contain control characters or line breaks");
    }

  if ((input->set & CDL_WORKER_FIELD_PRIORITY)
      && (input->priority < -CDL_WORKER_PRIORITY_LIMIT
          || input->priority > CDL_WORKER_PRIORITY_LIMIT))
    return invalid (error, "priority must be between %d and %d",
                    -CDL_WORKER_PRIORITY_LIMIT, CDL_WORKER_PRIORITY_LIMIT);

  if ((input->set & CDL_WORKER_FIELD_MAX_CONCURRENT_JOBS)
      && (input->max_concurrent_jobs < 1
          || input->max_concurrent_jobs > CDL_WORKER_MAX_CONCURRENT_LIMIT))
    return invalid (error, "max_concurrent_jobs must be between 1 and %d, not %d",
                    CDL_WORKER_MAX_CONCURRENT_LIMIT, input->max_concurrent_jobs);

  if (input->set & CDL_WORKER_FIELD_TAGS)
    {
      g_autoptr(GPtrArray) clean = g_ptr_array_new_with_free_func (g_free);

      for (guint i = 0; input->tags != NULL && input->tags[i] != NULL; i++)
        {
          g_autofree char *tag = g_strstrip (g_strdup (input->tags[i]));
          gboolean seen = FALSE;

          if (*tag == '\0')
            return invalid (error, "tags[%u] is empty", i);
          if (!g_utf8_validate (tag, -1, NULL) || g_utf8_strlen (tag, -1) > TAG_MAX_LEN)
            return invalid (error, "tags[%u] must be UTF-8 text of at most %d characters",
                            i, TAG_MAX_LEN);

          for (guint j = 0; j < clean->len && !seen; j++)
            seen = strcmp (g_ptr_array_index (clean, j), tag) == 0;
          if (!seen)
            g_ptr_array_add (clean, g_steal_pointer (&tag));
        }

      if (clean->len > CDL_WORKER_TAGS_MAX)
        return invalid (error, "tags has %u entries; at most %d are allowed",
                        clean->len, CDL_WORKER_TAGS_MAX);

      g_ptr_array_add (clean, NULL);
      g_strfreev (input->tags);
      input->tags = (char **)g_ptr_array_free (g_steal_pointer (&clean), FALSE);
    }

  return TRUE;
}

static gboolean
get_int (JsonNode    *node,
         const char  *field,
         int         *out,
         GError     **error)
{
  gint64 v;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return invalid (error, "%s must be a whole number", field);

  v = json_node_get_int (node);
  if (v < G_MININT || v > G_MAXINT)
    return invalid (error, "%s is out of range", field);

  *out = (int)v;
  return TRUE;
}

static gboolean
get_string (JsonNode    *node,
            const char  *field,
            gboolean     nullable,
            char       **out,
            GError     **error)
{
  if (nullable && JSON_NODE_HOLDS_NULL (node))
    {
      *out = NULL;
      return TRUE;
    }

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return invalid (error, "%s must be a string", field);

  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

CdlWorkerInput *
cdl_worker_input_from_json (JsonNode  *node,
                            gboolean   for_create,
                            GError   **error)
{
  g_autoptr(CdlWorkerInput) input = cdl_worker_input_new ();
  g_autoptr(GList) members = NULL;
  JsonObject *obj;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      invalid (error, "The body must be a JSON object");
      return NULL;
    }

  obj = json_node_get_object (node);
  members = json_object_get_members (obj);

  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *member = l->data;
      JsonNode *value = json_object_get_member (obj, member);
      CdlWorkerFields field = 0;

      for (guint i = 0; i < G_N_ELEMENTS (worker_fields); i++)
        if (strcmp (worker_fields[i].name, member) == 0)
          field = worker_fields[i].field;

      if (field == 0)
        {
          invalid (error, "%s is not a worker field; known fields are name, base_url, "
                          "api_key, priority, max_concurrent_jobs, tags and enabled", member);
          return NULL;
        }

      switch (field)
        {
        case CDL_WORKER_FIELD_NAME:
          if (!get_string (value, member, FALSE, &input->name, error))
            return NULL;
          break;
        case CDL_WORKER_FIELD_BASE_URL:
          if (!get_string (value, member, FALSE, &input->base_url, error))
            return NULL;
          break;
        case CDL_WORKER_FIELD_API_KEY:
          if (!get_string (value, member, TRUE, &input->api_key, error))
            return NULL;
          break;
        case CDL_WORKER_FIELD_PRIORITY:
          if (!get_int (value, member, &input->priority, error))
            return NULL;
          break;
        case CDL_WORKER_FIELD_MAX_CONCURRENT_JOBS:
          if (!get_int (value, member, &input->max_concurrent_jobs, error))
            return NULL;
          break;
        case CDL_WORKER_FIELD_ENABLED:
          if (!JSON_NODE_HOLDS_VALUE (value)
              || json_node_get_value_type (value) != G_TYPE_BOOLEAN)
            {
              invalid (error, "enabled must be true or false");
              return NULL;
            }
          input->enabled = json_node_get_boolean (value);
          break;
        case CDL_WORKER_FIELD_TAGS:
          {
            JsonArray *array;
            guint n;

            if (!JSON_NODE_HOLDS_ARRAY (value))
              {
                invalid (error, "tags must be an array of strings");
                return NULL;
              }
            array = json_node_get_array (value);
            n = json_array_get_length (array);
            g_strfreev (input->tags);
            input->tags = g_new0 (char *, n + 1);
            for (guint i = 0; i < n; i++)
              {
                JsonNode *tag = json_array_get_element (array, i);

                if (!JSON_NODE_HOLDS_VALUE (tag)
                    || json_node_get_value_type (tag) != G_TYPE_STRING)
                  {
                    invalid (error, "tags[%u] must be a string", i);
                    return NULL;
                  }
                input->tags[i] = g_strdup (json_node_get_string (tag));
              }
          }
          break;
        default:
          g_assert_not_reached ();
        }

      input->set |= field;
    }

  if (!cdl_worker_input_validate (input, for_create, error))
    return NULL;

  return g_steal_pointer (&input);
}
