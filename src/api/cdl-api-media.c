/* cdl-api-media.c: GET /media/{key…}?exp=…&sig=…
 *
 * Public (no token): the HMAC signature in the link is the permission. A
 * forged, unsigned or expired link is 403. Objects never change once
 * stored, so answers carry ETag (the quoted SHA-256 of the object),
 * Cache-Control: public, max-age (until the link expires), immutable, and
 * honour If-None-Match (304) and single byte ranges (206, 416), so that a
 * CDN or a browser cache can front them. Access-Control-Allow-Origin: *
 * lets pages on other origins use them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include <string.h>

#include "api/cdl-api-private.h"
#include "api/cdl-api-server.h"
#include "services/cdl-service-error.h"

static const char *
content_type_for (const char *key)
{
  if (g_str_has_suffix (key, ".png"))
    return "image/png";
  if (g_str_has_suffix (key, ".jpg") || g_str_has_suffix (key, ".jpeg"))
    return "image/jpeg";
  if (g_str_has_suffix (key, ".webp"))
    return "image/webp";

  return "application/octet-stream";
}

/* A single "bytes=first-last", "bytes=first-" or "bytes=-suffix". Anything
 * else (several ranges, other units, garbage) is ignored, which HTTP
 * allows: the whole object is sent. */
static gboolean
parse_range (const char *value,
             gint64     *first,
             gint64     *last,
             gint64     *suffix)
{
  g_auto(GStrv) parts = NULL;
  guint64 a = 0, b = 0;

  *first = *last = -1;
  *suffix = 0;

  if (value == NULL || !g_str_has_prefix (value, "bytes=") || strchr (value, ',') != NULL)
    return FALSE;

  parts = g_strsplit (value + 6, "-", 2);
  if (g_strv_length (parts) != 2)
    return FALSE;
  g_strstrip (parts[0]);
  g_strstrip (parts[1]);

  if (*parts[0] == '\0')
    {
      if (!g_ascii_string_to_unsigned (parts[1], 10, 1, G_MAXINT64, &b, NULL))
        return FALSE;
      *suffix = (gint64)b;
      return TRUE;
    }

  if (!g_ascii_string_to_unsigned (parts[0], 10, 0, G_MAXINT64, &a, NULL))
    return FALSE;
  if (*parts[1] != '\0')
    {
      if (!g_ascii_string_to_unsigned (parts[1], 10, 0, G_MAXINT64, &b, NULL) || b < a)
        return FALSE;
      *last = (gint64)b;
    }
  *first = (gint64)a;

  return TRUE;
}

/* The answer is not an envelope: take over from the request. */
static void
finish_raw (CdlApiRequest *request)
{
  request->replied = TRUE;
  if (request->paused)
    {
      request->paused = FALSE;
      soup_server_message_unpause (request->msg);
    }
}

static void
read_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(CdlMediaRead) read = NULL;
  g_autoptr(GError) error = NULL;
  SoupServerMessage *msg = cdl_api_request_get_message (request);
  SoupMessageHeaders *req_headers = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  const char *key = cdl_api_request_get_param (request, "key");
  const char *exp = cdl_api_request_get_query (request, "exp");
  g_autofree char *etag = NULL;
  g_autofree char *cache = NULL;
  gint64 max_age;

  read = cdl_annotation_service_read_media_finish (CDL_ANNOTATION_SERVICE (source), result,
                                                   &error);
  if (read == NULL)
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  /* The link was verified, so exp is a number. */
  max_age = g_ascii_strtoll (exp, NULL, 10) - g_get_real_time () / G_USEC_PER_SEC;
  etag = g_strdup_printf ("\"%s\"", read->sha256);
  cache = g_strdup_printf ("public, max-age=%" G_GINT64_FORMAT ", immutable", MAX (max_age, 0));

  soup_message_headers_replace (headers, "ETag", etag);
  soup_message_headers_replace (headers, "Cache-Control", cache);
  soup_message_headers_replace (headers, "Accept-Ranges", "bytes");

  if (cdl_api_etag_matches (soup_message_headers_get_list (req_headers, "If-None-Match"),
                            etag))
    {
      soup_server_message_set_status (msg, 304, NULL);
      finish_raw (request);
      return;
    }

  if (read->bytes == NULL)
    {
      g_autofree char *range = g_strdup_printf ("bytes */%" G_GOFFSET_FORMAT, read->size);

      soup_message_headers_replace (headers, "Content-Range", range);
      cdl_api_request_reply_error (request, 416, "The range asked for starts past the end");
      return;
    }

  if (read->partial)
    {
      gsize len = g_bytes_get_size (read->bytes);
      g_autofree char *range =
        g_strdup_printf ("bytes %" G_GOFFSET_FORMAT "-%" G_GOFFSET_FORMAT "/%" G_GOFFSET_FORMAT,
                         read->offset, read->offset + (goffset)len - 1, read->size);

      soup_message_headers_replace (headers, "Content-Range", range);
      soup_server_message_set_status (msg, 206, NULL);
    }
  else
    {
      soup_server_message_set_status (msg, 200, NULL);
    }

  soup_message_headers_set_content_type (headers, content_type_for (key), NULL);
  soup_message_headers_set_content_length (headers, g_bytes_get_size (read->bytes));
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), read->bytes);
  finish_raw (request);
}

static void
handle_media (CdlApiRequest *request)
{
  CdlAnnotationService *service =
    cdl_instance_get_annotation_service (cdl_api_request_get_instance (request));
  SoupMessageHeaders *req_headers =
    soup_server_message_get_request_headers (cdl_api_request_get_message (request));
  const char *key = cdl_api_request_get_param (request, "key");
  g_autoptr(GError) error = NULL;
  gint64 first, last, suffix;

  /* Pages on other hosts (a CDN in front, an A/B variant) may read the
   * images and their headers; the signature is the permission. */
  soup_message_headers_replace (
    soup_server_message_get_response_headers (cdl_api_request_get_message (request)),
    "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace (
    soup_server_message_get_response_headers (cdl_api_request_get_message (request)),
    "Access-Control-Expose-Headers", "ETag, Content-Range, Content-Length");

  if (!cdl_annotation_service_verify_media (service, key,
                                            cdl_api_request_get_query (request, "exp"),
                                            cdl_api_request_get_query (request, "sig"),
                                            &error))
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  parse_range (soup_message_headers_get_one (req_headers, "Range"), &first, &last, &suffix);

  cdl_annotation_service_read_media_async (service, key, first, last, suffix,
                                           cdl_api_request_get_cancellable (request),
                                           read_done_cb, cdl_api_request_ref (request));
}

void
cdl_api_media_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "GET", "/media/{key*}", CDL_API_PUBLIC, handle_media);
  cdl_api_server_add_route (self, "HEAD", "/media/{key*}", CDL_API_PUBLIC, handle_media);
}
