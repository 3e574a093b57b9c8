/* cdl-api-export.c: GET /api/tasks/{id}/export/dpo and …/export/verify
 *
 * Streams the task's DPO JSONL (one line per non-spam annotation: a batch
 * labelled by two annotators gives two lines, each with its annotator_id;
 * with ?format=pairs, one line per (chosen, rejected) pair instead)
 * with chunked encoding. Lines come from a server-side cursor 500 rows at
 * a time; the next rows are fetched only once the previous chunk was
 * written to the client, so memory stays flat however large the task and
 * however slow the client. Errors before the first byte are envelopes as
 * usual; the status line cannot change once streaming started.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include "api/cdl-api-private.h"
#include "api/cdl-api-server.h"
#include "services/cdl-service-error.h"

typedef struct
{
  CdlApiRequest *request;
  CdlDpoExport  *export;
  gulong         wrote_id;
  gulong         finished_id;
  gboolean       in_flight;
  gboolean       done;
  gboolean       finished;
} Stream;

static void
stream_free (Stream *s)
{
  SoupServerMessage *msg = s->request->msg;

  g_clear_signal_handler (&s->wrote_id, msg);
  g_clear_signal_handler (&s->finished_id, msg);
  g_clear_pointer (&s->export, cdl_dpo_export_free);
  cdl_api_request_unref (s->request);
  g_free (s);
}

static void fetch_next (Stream *s);

static void
end_body (Stream *s)
{
  SoupServerMessage *msg = s->request->msg;

  s->done = TRUE;
  soup_message_body_complete (soup_server_message_get_response_body (msg));
  soup_server_message_unpause (msg);
}

static void
next_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Stream *s = user_data;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  s->in_flight = FALSE;
  bytes = cdl_dpo_export_next_finish (s->export, result, &error);

  if (s->finished)
    {
      /* The client went away meanwhile. */
      stream_free (s);
      return;
    }

  if (bytes == NULL)
    {
      /* FIXME: a failure mid-stream can only end the body early; the client
       * sees a file shorter than the task. A trailer or a last error line
       * would let it tell. */
      g_warning ("The DPO export stopped early: %s", error->message);
      end_body (s);
      return;
    }

  if (g_bytes_get_size (bytes) == 0)
    {
      end_body (s);
      return;
    }

  soup_message_body_append_bytes (soup_server_message_get_response_body (s->request->msg),
                                  bytes);
  soup_server_message_unpause (s->request->msg);
}

static void
fetch_next (Stream *s)
{
  s->in_flight = TRUE;
  cdl_dpo_export_next_async (s->export, cdl_api_request_get_cancellable (s->request),
                             next_done_cb, s);
}

static void
wrote_chunk_cb (SoupServerMessage *msg,
                gpointer           user_data)
{
  Stream *s = user_data;

  if (!s->in_flight && !s->done)
    fetch_next (s);
}

static void
finished_cb (SoupServerMessage *msg,
             gpointer           user_data)
{
  Stream *s = user_data;

  s->finished = TRUE;
  g_clear_signal_handler (&s->wrote_id, msg);
  g_clear_signal_handler (&s->finished_id, msg);
  if (!s->in_flight)
    stream_free (s);
}

/* For the file name: dpo, pairs or verify. */
static const char *
format_name (CdlApiRequest *request)
{
  const char *path = g_uri_get_path (soup_server_message_get_uri (request->msg));

  if (g_str_has_suffix (path, "/verify"))
    return "verify";
  if (g_strcmp0 (cdl_api_request_get_query (request, "format"), "pairs") == 0)
    return "pairs";
  return "dpo";
}

static void
open_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *disposition = NULL;
  CdlDpoExport *export;
  SoupServerMessage *msg = request->msg;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  Stream *s;

  export = cdl_annotation_service_export_open_finish (CDL_ANNOTATION_SERVICE (source), result,
                                                      &error);
  if (export == NULL)
    {
      cdl_api_request_reply_gerror (request, error);
      return;
    }

  disposition = g_strdup_printf ("attachment; filename=\"task-%s-%s.jsonl\"",
                                 cdl_api_request_get_param (request, "id"),
                                 format_name (request));
  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type (headers, "application/jsonl; charset=utf-8", NULL);
  soup_message_headers_replace (headers, "Content-Disposition", disposition);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  /* Written chunks are dropped at once: memory stays flat. */
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);

  /* From here the answer is the stream, not an envelope; the message stays
   * paused until the first chunk is ready. */
  request->replied = TRUE;
  request->paused = FALSE;

  s = g_new0 (Stream, 1);
  s->request = cdl_api_request_ref (request);
  s->export = export;
  s->wrote_id = g_signal_connect (msg, "wrote-chunk", G_CALLBACK (wrote_chunk_cb), s);
  s->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (finished_cb), s);
  fetch_next (s);
}

static void
start (CdlApiRequest   *request,
       CdlExportFormat  format)
{
  cdl_annotation_service_export_open_async (
    cdl_instance_get_annotation_service (cdl_api_request_get_instance (request)),
    cdl_api_request_get_param (request, "id"),
    format,
    cdl_api_request_get_cancellable (request),
    open_done_cb, cdl_api_request_ref (request));
}

static void
handle_export (CdlApiRequest *request)
{
  const char *format = cdl_api_request_get_query (request, "format");

  if (format != NULL && g_strcmp0 (format, "dpo") != 0 && g_strcmp0 (format, "pairs") != 0)
    {
      cdl_api_request_reply_error (request, 400, "format must be dpo (the default) or pairs");
      return;
    }

  start (request, g_strcmp0 (format, "pairs") == 0 ? CDL_EXPORT_PAIRS : CDL_EXPORT_DPO);
}

static void
handle_verify (CdlApiRequest *request)
{
  start (request, CDL_EXPORT_VERIFY);
}

void
cdl_api_export_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "GET", "/api/tasks/{id}/export/dpo", CDL_ROLE_OPERATOR,
                            handle_export);
  cdl_api_server_add_route (self, "GET", "/api/tasks/{id}/export/verify", CDL_ROLE_OPERATOR,
                            handle_verify);
}
