/* cdl-api-web.c: the phone annotation page, served from the GResource
 *
 *   GET /               web/index.html
 *   GET /web/{name}     web/{name}: app.js, style.css, …
 *
 * Public: the page itself holds no data; it signs in with a pairing code.
 * Every answer carries an ETag (a hash of the file, which only changes
 * with the program) and Cache-Control: no-cache, so a phone revalidates
 * with If-None-Match and gets a 304 without a body until the app is
 * updated.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include <string.h>

#include "api/cdl-api-private.h"
#include "api/cdl-api-server.h"

static const struct
{
  const char *suffix;
  const char *type;
} content_types[] = {
  { ".html", "text/html; charset=utf-8" },
  { ".js", "text/javascript; charset=utf-8" },
  { ".css", "text/css; charset=utf-8" },
  { ".json", "application/json" },
  { ".svg", "image/svg+xml" },
  { ".png", "image/png" },
  { ".webmanifest", "application/manifest+json" },
};

static const char *
content_type_for (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (content_types); i++)
    if (g_str_has_suffix (name, content_types[i].suffix))
      return content_types[i].type;

  return "application/octet-stream";
}

/* ETags of the compiled-in files; they never change while running. */
static char *
etag_for (const char *name,
          GBytes     *bytes)
{
  static GHashTable *etags;
  G_LOCK_DEFINE_STATIC (etags);
  char *etag;

  G_LOCK (etags);
  if (etags == NULL)
    etags = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  etag = g_hash_table_lookup (etags, name);
  if (etag == NULL)
    {
      g_autofree char *sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);

      etag = g_strdup_printf ("\"%.32s\"", sum);
      g_hash_table_insert (etags, g_strdup (name), etag);
    }
  etag = g_strdup (etag);
  G_UNLOCK (etags);

  return etag;
}

gboolean
cdl_api_etag_matches (const char *if_none_match,
                      const char *etag)
{
  g_auto(GStrv) tags = NULL;

  if (if_none_match == NULL)
    return FALSE;

  tags = g_strsplit (if_none_match, ",", -1);
  for (guint i = 0; tags[i] != NULL; i++)
    {
      const char *tag = g_strstrip (tags[i]);

      if (g_str_has_prefix (tag, "W/"))
        tag += 2;
      if (strcmp (tag, "*") == 0 || strcmp (tag, etag) == 0)
        return TRUE;
    }

  return FALSE;
}

void
cdl_api_web_serve (SoupServerMessage *msg,
                   const char        *name)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  SoupMessageHeaders *req_headers = soup_server_message_get_request_headers (msg);
  g_autofree char *path = NULL;
  g_autofree char *etag = NULL;
  g_autoptr(GBytes) bytes = NULL;

  /* One path segment, no hidden files and no way up. */
  if (name[0] == '\0' || name[0] == '.' || strchr (name, '/') != NULL)
    {
      soup_server_message_set_status (msg, 404, NULL);
      return;
    }

  path = g_strconcat (RESOURCE_BASE "/web/", name, NULL);
  bytes = g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  if (bytes == NULL)
    {
      soup_server_message_set_status (msg, 404, NULL);
      soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC,
                                        "No such file\n", 13);
      return;
    }

  etag = etag_for (name, bytes);
  soup_message_headers_replace (headers, "ETag", etag);
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  if (g_str_has_suffix (name, ".html"))
    soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");

  if (cdl_api_etag_matches (soup_message_headers_get_list (req_headers, "If-None-Match"),
                            etag))
    {
      soup_server_message_set_status (msg, 304, NULL);
      return;
    }

  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, content_type_for (name), SOUP_MEMORY_COPY,
                                    g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static void
handle_web (CdlApiRequest *request)
{
  cdl_api_web_serve (request->msg, cdl_api_request_get_param (request, "name"));

  /* The answer is not an envelope: take over from the request. */
  request->replied = TRUE;
  if (request->paused)
    {
      request->paused = FALSE;
      soup_server_message_unpause (request->msg);
    }
}

void
cdl_api_web_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "GET", "/web/{name}", CDL_API_PUBLIC, handle_web);
  cdl_api_server_add_route (self, "HEAD", "/web/{name}", CDL_API_PUBLIC, handle_web);
}
