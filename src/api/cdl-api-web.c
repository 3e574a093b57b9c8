/* cdl-api-web.c: the phone annotation page, served from the GResource
 *
 *   GET /               web/index.html
 *   GET /web/{name}     web/{name}: app.js, style.css, …
 *   GET /web/i18n/{lang}.json
 *                       the page's messages in a language (zh-CN, zh…):
 *                       {"English text": "translation", …}
 *
 * Public: the page itself holds no data; it signs in with a pairing code.
 * Every answer carries an ETag (a hash of the file, which only changes
 * with the program) and Cache-Control: no-cache, so a phone revalidates
 * with If-None-Match and gets a 304 without a body until the app is
 * updated.
 *
 * The page's strings live in the program's gettext catalogue (po/), marked
 * with t() and N_() in web/app.js; the translations come from the compiled
 * catalogue installed for the desktop (or the build tree's, when
 * CDL_LOCALEDIR points there), so the page and the app never disagree.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "api/cdl-api-private.h"
#include "api/cdl-api-server.h"
#include "core/cdl-json.h"
#include "core/cdl-mo.h"

/* Bigger compiled catalogues than this are refused unread. */
#define MO_MAX_SIZE (16 * 1024 * 1024)

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

static void
reply_text (SoupServerMessage *msg,
            guint              status,
            const char        *text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY,
                                    text, strlen (text));
}

/* Answers with @data, or 304 when the client holds @etag already. */
static void
reply_cached (SoupServerMessage *msg,
              const char        *content_type,
              const char        *etag,
              GBytes            *data)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  SoupMessageHeaders *req_headers = soup_server_message_get_request_headers (msg);

  soup_message_headers_replace (headers, "ETag", etag);
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");

  if (cdl_api_etag_matches (soup_message_headers_get_list (req_headers, "If-None-Match"),
                            etag))
    {
      soup_server_message_set_status (msg, 304, NULL);
      return;
    }

  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY,
                                    g_bytes_get_data (data, NULL), g_bytes_get_size (data));
}

void
cdl_api_web_serve (SoupServerMessage *msg,
                   const char        *name)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
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
      reply_text (msg, 404, "No such file\n");
      return;
    }

  etag = etag_for (name, bytes);
  if (g_str_has_suffix (name, ".html"))
    soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  reply_cached (msg, content_type_for (name), etag, bytes);
}

/* Translations of the page ---------------------------------------------- */

static const char *
locale_dir (void)
{
  const char *dir = g_getenv ("CDL_LOCALEDIR");

  return dir != NULL && dir[0] != '\0' ? dir : LOCALEDIR;
}

/* A BCP 47 tag as browsers send them (zh, zh-CN, zh-Hans-CN), or a POSIX
 * locale name (zh_CN): letters, then parts of letters and digits. */
static gboolean
language_tag_valid (const char *tag)
{
  gsize n = 0;

  while (g_ascii_isalpha (tag[n]))
    n++;
  if (n < 2 || n > 3)
    return FALSE;

  while (tag[n] != '\0')
    {
      gsize part = 0;

      if (tag[n] != '-' && tag[n] != '_')
        return FALSE;
      n++;
      while (g_ascii_isalnum (tag[n + part]))
        part++;
      if (part < 1 || part > 8)
        return FALSE;
      n += part;
    }

  return n <= 35;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *)a, *(const char * const *)b);
}

/* The compiled catalogue closest to @tag: its region's (zh-CN, zh-Hans-CN:
 * zh_CN), the language's (zh), then any region's of the language, so that
 * zh-TW reads Chinese rather than English. NULL when there is none. */
static char *
find_catalogue (const char  *tag,
                char       **found_language)
{
  g_auto(GStrv) parts = g_strsplit_set (tag, "-_", -1);
  g_autofree char *language = g_ascii_strdown (parts[0], -1);
  g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) others = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *prefix = g_strconcat (language, "_", NULL);
  g_autoptr(GDir) dir = NULL;
  const char *entry;

  for (guint i = 1; parts[i] != NULL; i++)
    if (strlen (parts[i]) == 2)
      {
        g_autofree char *region = g_ascii_strup (parts[i], -1);

        g_ptr_array_add (candidates, g_strconcat (language, "_", region, NULL));
        break;
      }
  g_ptr_array_add (candidates, g_strdup (language));

  dir = g_dir_open (locale_dir (), 0, NULL);
  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (entry, prefix))
      g_ptr_array_add (others, g_strdup (entry));
  g_ptr_array_sort (others, compare_names);
  g_ptr_array_extend_and_steal (candidates, g_steal_pointer (&others));

  for (guint i = 0; i < candidates->len; i++)
    {
      const char *name = g_ptr_array_index (candidates, i);
      g_autofree char *path = g_build_filename (locale_dir (), name, "LC_MESSAGES",
                                                GETTEXT_PACKAGE ".mo", NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          *found_language = g_strdelimit (g_strdup (name), "_", '-');
          return g_steal_pointer (&path);
        }
    }

  return NULL;
}

/* The page's script with its concatenated string literals joined ('a ' +
 * 'b' reads 'a b'), as xgettext reads them. */
static const char *
page_source (void)
{
  static gsize once;
  static char *flat;

  if (g_once_init_enter (&once))
    {
      g_autoptr(GBytes) bytes = g_resources_lookup_data (RESOURCE_BASE "/web/app.js",
                                                          G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
      gsize len = 0;
      const char *src = bytes != NULL ? g_bytes_get_data (bytes, &len) : "";
      GString *out = g_string_sized_new (len);

      for (gsize i = 0; i < len; i++)
        {
          gsize j = i + 1;

          if (src[i] == '\'')
            {
              while (j < len && g_ascii_isspace (src[j]))
                j++;
              if (j < len && src[j] == '+')
                {
                  j++;
                  while (j < len && g_ascii_isspace (src[j]))
                    j++;
                  if (j < len && src[j] == '\'')
                    {
                      i = j;
                      continue;
                    }
                }
            }
          g_string_append_c (out, src[i]);
        }
      flat = g_string_free (out, FALSE);
      g_once_init_leave (&once, 1);
    }

  return flat;
}

/* Whether @msgid is a string literal of the page's script.
 *
 * A .mo file keeps no source references, and the catalogue holds the
 * desktop's messages too; rather than a list made at build time that
 * could fall out of step, the server keeps the messages the page's own
 * script (compiled in next to it) spells out: exact, small, and right
 * for whichever version of the page it serves. */
static gboolean
is_page_message (const char *msgid)
{
  g_autoptr(GString) needle = g_string_new ("'");

  for (const char *p = msgid; *p != '\0'; p++)
    {
      if (*p == '\'' || *p == '\\')
        g_string_append_c (needle, '\\');
      g_string_append_c (needle, *p);
    }
  g_string_append_c (needle, '\'');

  return strstr (page_source (), needle->str) != NULL;
}

/* The page's messages of the catalogue @path as JSON, sorted. */
static GBytes *
page_catalogue (const char  *path,
                GError     **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GHashTable) messages = NULL;
  g_autoptr(GList) keys = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  char *text;

  if (!g_file_get_contents (path, &data, &len, error))
    return NULL;
  messages = cdl_mo_parse ((const guint8 *)data, len, error);
  if (messages == NULL)
    return NULL;

  keys = g_list_sort (g_hash_table_get_keys (messages), (GCompareFunc)strcmp);
  json_builder_begin_object (b);
  for (GList *l = keys; l != NULL; l = l->next)
    if (is_page_message (l->data))
      {
        json_builder_set_member_name (b, l->data);
        json_builder_add_string_value (b, g_hash_table_lookup (messages, l->data));
      }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = cdl_json_to_string (root, FALSE);

  return g_bytes_new_take (text, strlen (text));
}

typedef struct
{
  gint64  mtime;
  goffset size;
  GBytes *json;
  char   *etag;
} CachedCatalogue;

static void
cached_catalogue_free (gpointer data)
{
  CachedCatalogue *c = data;

  g_bytes_unref (c->json);
  g_free (c->etag);
  g_free (c);
}

/* The page catalogue of @path, made once per version of the file. */
static GBytes *
cached_page_catalogue (const char  *path,
                       char       **etag,
                       GError     **error)
{
  static GHashTable *cache;
  G_LOCK_DEFINE_STATIC (cache);
  CachedCatalogue *c;
  GStatBuf st;
  g_autoptr(GBytes) json = NULL;
  g_autofree char *sum = NULL;

  if (g_stat (path, &st) != 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", path,
                   g_strerror (saved));
      return NULL;
    }

  G_LOCK (cache);
  if (cache == NULL)
    cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, cached_catalogue_free);
  c = g_hash_table_lookup (cache, path);
  if (c != NULL && c->mtime == (gint64)st.st_mtime && c->size == (goffset)st.st_size)
    {
      *etag = g_strdup (c->etag);
      json = g_bytes_ref (c->json);
    }
  G_UNLOCK (cache);
  if (json != NULL)
    return g_steal_pointer (&json);

  if (st.st_size > MO_MAX_SIZE)
    {
      g_set_error (error, CDL_MO_ERROR, CDL_MO_ERROR_INVALID,
                   "%s is bigger than a catalogue can be", path);
      return NULL;
    }
  json = page_catalogue (path, error);
  if (json == NULL)
    return NULL;

  sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, json);
  c = g_new0 (CachedCatalogue, 1);
  c->mtime = st.st_mtime;
  c->size = st.st_size;
  c->json = g_bytes_ref (json);
  c->etag = g_strdup_printf ("\"%.32s\"", sum);
  *etag = g_strdup (c->etag);
  G_LOCK (cache);
  g_hash_table_replace (cache, g_strdup (path), c);
  G_UNLOCK (cache);

  return g_steal_pointer (&json);
}

static void
serve_catalogue (SoupServerMessage *msg,
                 const char        *name)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  g_autofree char *tag = NULL;
  g_autofree char *path = NULL;
  g_autofree char *found = NULL;
  g_autofree char *etag = NULL;
  g_autoptr(GBytes) json = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_str_has_suffix (name, ".json"))
    {
      reply_text (msg, 404, "No such file: ask for web/i18n/LANGUAGE.json\n");
      return;
    }
  tag = g_strndup (name, strlen (name) - strlen (".json"));
  if (!language_tag_valid (tag))
    {
      reply_text (msg, 400, "Not a language tag: ask for one like zh-CN, zh or en\n");
      return;
    }

  /* The page is written in English: nothing to translate. */
  if (g_ascii_strncasecmp (tag, "en", 2) == 0 && (tag[2] == '\0' || !g_ascii_isalpha (tag[2])))
    {
      g_autoptr(GBytes) empty = g_bytes_new_static ("{}", 2);

      soup_message_headers_replace (headers, "Content-Language", "en");
      reply_cached (msg, "application/json", "\"en\"", empty);
      return;
    }

  path = find_catalogue (tag, &found);
  if (path == NULL)
    {
      g_autofree char *text = g_strdup_printf ("The page is not translated into %s; "
                                               "it shows in English\n", tag);

      reply_text (msg, 404, text);
      return;
    }

  json = cached_page_catalogue (path, &etag, &error);
  if (json == NULL)
    {
      g_autofree char *text = g_strdup_printf ("The %s catalogue cannot be read: %s\n",
                                               found, error->message);

      g_warning ("%s", text);
      reply_text (msg, 500, text);
      return;
    }

  soup_message_headers_replace (headers, "Content-Language", found);
  reply_cached (msg, "application/json", etag, json);
}

/* The answer is not an envelope: take over from the request. */
static void
take_over (CdlApiRequest *request)
{
  request->replied = TRUE;
  if (request->paused)
    {
      request->paused = FALSE;
      soup_server_message_unpause (request->msg);
    }
}

static void
handle_web (CdlApiRequest *request)
{
  cdl_api_web_serve (request->msg, cdl_api_request_get_param (request, "name"));
  take_over (request);
}

static void
handle_i18n (CdlApiRequest *request)
{
  serve_catalogue (request->msg, cdl_api_request_get_param (request, "lang"));
  take_over (request);
}

void
cdl_api_web_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "GET", "/web/{name}", CDL_API_PUBLIC, handle_web);
  cdl_api_server_add_route (self, "HEAD", "/web/{name}", CDL_API_PUBLIC, handle_web);
  cdl_api_server_add_route (self, "GET", "/web/i18n/{lang}", CDL_API_PUBLIC, handle_i18n);
  cdl_api_server_add_route (self, "HEAD", "/web/i18n/{lang}", CDL_API_PUBLIC, handle_i18n);
}
