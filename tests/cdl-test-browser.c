/* cdl-test-browser.c: a headless Chromium driven over the DevTools protocol
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#include "cdl-test-browser.h"

/* Chromium cold-starts in a few seconds on a busy machine. */
#define START_TIMEOUT_S 30
#define CALL_TIMEOUT_S 30

struct _CdlTestBrowser
{
  GSubprocess             *proc;
  char                    *profile;
  SoupSession             *http;
  SoupWebsocketConnection *ws;
  char                    *session_id;
  gint64                   next_id;
  GHashTable              *replies;     /* id -> JsonNode of the whole message */
  GPtrArray               *responses;   /* JsonNode */
  GPtrArray               *requests;    /* char * */
  gboolean                 closed;
};

char *
cdl_test_browser_find (void)
{
  const char *env = g_getenv ("CDL_CHROMIUM");
  char *path;

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  if ((path = g_find_program_in_path ("chromium")) != NULL)
    return path;
  return g_find_program_in_path ("chromium-browser");
}

static void
iterate_for (guint ms)
{
  gint64 until = g_get_monotonic_time () + (gint64)ms * 1000;

  while (g_get_monotonic_time () < until)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
}

static void
on_event (CdlTestBrowser *self,
          const char     *method,
          JsonObject     *params)
{
  if (strcmp (method, "Network.responseReceived") == 0)
    {
      g_ptr_array_add (self->responses,
                       json_node_copy (json_object_get_member (params, "response")));
    }
  else if (strcmp (method, "Network.requestWillBeSent") == 0)
    {
      JsonObject *request = json_object_get_object_member (params, "request");

      g_ptr_array_add (self->requests,
                       g_strdup (json_object_get_string_member (request, "url")));
    }
}

static void
message_cb (SoupWebsocketConnection *ws,
            int                      type,
            GBytes                  *message,
            gpointer                 user_data)
{
  CdlTestBrowser *self = user_data;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  gsize len;
  const char *data = g_bytes_get_data (message, &len);
  JsonObject *obj;

  if (!json_parser_load_from_data (parser, data, (gssize)len, &error))
    g_error ("DevTools sent text that is not JSON: %s", error->message);

  obj = json_node_get_object (json_parser_get_root (parser));
  if (json_object_has_member (obj, "id"))
    {
      g_hash_table_insert (self->replies,
                           GINT_TO_POINTER ((int)json_object_get_int_member (obj, "id")),
                           json_node_copy (json_parser_get_root (parser)));
      return;
    }

  if (json_object_has_member (obj, "method") && json_object_has_member (obj, "params"))
    on_event (self, json_object_get_string_member (obj, "method"),
              json_object_get_object_member (obj, "params"));
}

static void
closed_cb (SoupWebsocketConnection *ws,
           gpointer                 user_data)
{
  CdlTestBrowser *self = user_data;

  self->closed = TRUE;
}

/* Sends one command; @session: NULL for the browser itself. */
static JsonNode *
send_command (CdlTestBrowser *self,
              const char     *session,
              const char     *method,
              const char     *params)
{
  gint64 id = ++self->next_id;
  gint64 deadline = g_get_monotonic_time () + CALL_TIMEOUT_S * G_USEC_PER_SEC;
  g_autofree char *text = NULL;
  g_autofree char *session_part = NULL;
  JsonNode *reply = NULL;
  JsonObject *obj;
  JsonNode *result;

  if (session != NULL)
    session_part = g_strdup_printf (",\"sessionId\":\"%s\"", session);
  text = g_strdup_printf ("{\"id\":%" G_GINT64_FORMAT ",\"method\":\"%s\",\"params\":%s%s}",
                          id, method, params != NULL ? params : "{}",
                          session_part != NULL ? session_part : "");
  soup_websocket_connection_send_text (self->ws, text);

  while (!g_hash_table_steal_extended (self->replies, GINT_TO_POINTER ((int)id), NULL,
                                       (gpointer *)&reply))
    {
      if (self->closed)
        g_error ("%s: the browser closed the DevTools connection", method);
      if (g_get_monotonic_time () > deadline)
        g_error ("%s: no answer from the browser in %d s", method, CALL_TIMEOUT_S);
      g_main_context_iteration (NULL, TRUE);
    }

  obj = json_node_get_object (reply);
  if (json_object_has_member (obj, "error"))
    {
      g_autofree char *err = json_to_string (json_object_get_member (obj, "error"), FALSE);

      g_error ("%s %s: %s", method, params != NULL ? params : "", err);
    }

  result = json_node_copy (json_object_get_member (obj, "result"));
  json_node_unref (reply);
  return result;
}

JsonNode *
cdl_test_browser_call (CdlTestBrowser *self,
                       const char     *method,
                       const char     *params)
{
  return send_command (self, self->session_id, method, params);
}

static void
connect_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  SoupWebsocketConnection *ws;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (ws == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, ws, g_object_unref);
  g_object_unref (task);
}

/* "PORT\n/devtools/browser/ID\n" once Chromium listens. */
static char *
wait_for_endpoint (CdlTestBrowser  *self,
                   GError         **error)
{
  g_autofree char *path = g_build_filename (self->profile, "DevToolsActivePort", NULL);
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_S * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *text = NULL;
      g_auto(GStrv) lines = NULL;

      if (g_file_get_contents (path, &text, NULL, NULL)
          && (lines = g_strsplit (text, "\n", 3)) != NULL
          && g_strv_length (lines) >= 2 && *lines[1] == '/')
        return g_strdup_printf ("ws://127.0.0.1:%s%s", g_strstrip (lines[0]), lines[1]);

      /* No identifier once the process has exited. */
      if (g_subprocess_get_identifier (self->proc) == NULL)
        break;
      iterate_for (50);
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               "Chromium did not open its DevTools port within %d s", START_TIMEOUT_S);
  return NULL;
}

CdlTestBrowser *
cdl_test_browser_new (const char  *program,
                      GError     **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonNode) target = NULL;
  g_autoptr(JsonNode) attached = NULL;
  g_autofree char *endpoint = NULL;
  g_autofree char *profile_arg = NULL;
  g_autofree char *params = NULL;
  CdlTestBrowser *self;

  self = g_new0 (CdlTestBrowser, 1);
  self->replies = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)json_node_unref);
  self->responses = g_ptr_array_new_with_free_func ((GDestroyNotify)json_node_unref);
  self->requests = g_ptr_array_new_with_free_func (g_free);
  self->profile = g_dir_make_tmp ("cdl-chromium-XXXXXX", error);
  if (self->profile == NULL)
    goto fail;

  profile_arg = g_strdup_printf ("--user-data-dir=%s", self->profile);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                        | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  self->proc = g_subprocess_launcher_spawn (launcher, error, program,
                                            "--headless=new",
                                            "--remote-debugging-port=0",
                                            profile_arg,
                                            /* Root in CI containers. */
                                            "--no-sandbox",
                                            "--no-first-run",
                                            "--no-default-browser-check",
                                            "--disable-gpu",
                                            "--disable-dev-shm-usage",
                                            "--disable-extensions",
                                            "--disable-background-networking",
                                            "--disable-component-update",
                                            "--disable-sync",
                                            "--metrics-recording-only",
                                            "--mute-audio",
                                            "--hide-scrollbars",
                                            "about:blank",
                                            NULL);
  if (self->proc == NULL)
    goto fail;

  endpoint = wait_for_endpoint (self, error);
  if (endpoint == NULL)
    goto fail;

  self->http = soup_session_new ();
  msg = soup_message_new ("GET", endpoint);
  task = g_task_new (NULL, NULL, NULL, NULL);
  soup_session_websocket_connect_async (self->http, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        connect_done_cb, g_object_ref (task));
  while (!g_task_get_completed (task))
    g_main_context_iteration (NULL, TRUE);
  self->ws = g_task_propagate_pointer (task, error);
  if (self->ws == NULL)
    goto fail;

  /* Screenshots and large evaluations exceed the default 128 KiB. */
  soup_websocket_connection_set_max_incoming_payload_size (self->ws, 0);
  soup_websocket_connection_set_keepalive_interval (self->ws, 0);
  g_signal_connect (self->ws, "message", G_CALLBACK (message_cb), self);
  g_signal_connect (self->ws, "closed", G_CALLBACK (closed_cb), self);

  target = send_command (self, NULL, "Target.createTarget", "{\"url\":\"about:blank\"}");
  params = g_strdup_printf ("{\"targetId\":\"%s\",\"flatten\":true}",
                            json_object_get_string_member (json_node_get_object (target),
                                                           "targetId"));
  attached = send_command (self, NULL, "Target.attachToTarget", params);
  self->session_id = g_strdup (json_object_get_string_member (json_node_get_object (attached),
                                                              "sessionId"));

  json_node_unref (cdl_test_browser_call (self, "Page.enable", NULL));
  json_node_unref (cdl_test_browser_call (self, "Runtime.enable", NULL));
  json_node_unref (cdl_test_browser_call (self, "Network.enable", NULL));

  return self;

fail:
  cdl_test_browser_free (self);
  return NULL;
}

static void
remove_tree (const char *dir)
{
  g_autoptr(GSubprocess) rm = NULL;

  /* Chromium leaves a deep profile behind; rm knows how to remove it. */
  rm = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, NULL, "rm", "-rf", dir, NULL);
  if (rm != NULL)
    g_subprocess_wait (rm, NULL, NULL);
}

void
cdl_test_browser_free (CdlTestBrowser *self)
{
  if (self == NULL)
    return;

  if (self->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->ws, self);
      if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_clear_object (&self->ws);
    }
  if (self->proc != NULL)
    {
      g_subprocess_send_signal (self->proc, SIGTERM);
      g_subprocess_wait (self->proc, NULL, NULL);
      g_clear_object (&self->proc);
    }
  if (self->profile != NULL)
    remove_tree (self->profile);

  g_clear_object (&self->http);
  g_clear_pointer (&self->profile, g_free);
  g_clear_pointer (&self->session_id, g_free);
  g_clear_pointer (&self->replies, g_hash_table_unref);
  g_clear_pointer (&self->responses, g_ptr_array_unref);
  g_clear_pointer (&self->requests, g_ptr_array_unref);
  g_free (self);
}

static char *
json_string (const char *text)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);

  json_node_set_string (node, text);
  return json_to_string (node, FALSE);
}

static void
call_ignore (CdlTestBrowser *self,
             const char     *method,
             const char     *params)
{
  json_node_unref (cdl_test_browser_call (self, method, params));
}

void
cdl_test_browser_phone (CdlTestBrowser *self,
                        guint           width,
                        guint           height,
                        double          scale)
{
  g_autofree char *metrics = NULL;
  char scale_text[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_dtostr (scale_text, sizeof scale_text, scale);
  metrics = g_strdup_printf ("{\"width\":%u,\"height\":%u,\"deviceScaleFactor\":%s,"
                             "\"mobile\":true,\"screenWidth\":%u,\"screenHeight\":%u}",
                             width, height, scale_text, width, height);
  call_ignore (self, "Emulation.setDeviceMetricsOverride", metrics);
  call_ignore (self, "Emulation.setTouchEmulationEnabled",
               "{\"enabled\":true,\"maxTouchPoints\":5}");
  call_ignore (self, "Emulation.setEmitTouchEventsForMouse",
               "{\"enabled\":true,\"configuration\":\"mobile\"}");
}

void
cdl_test_browser_navigate (CdlTestBrowser *self,
                           const char     *url)
{
  g_autofree char *quoted = json_string (url);
  g_autofree char *params = g_strdup_printf ("{\"url\":%s}", quoted);

  call_ignore (self, "Page.navigate", params);
  cdl_test_browser_wait (self, "document.readyState === 'complete'", 20000);
}

void
cdl_test_browser_throttle (CdlTestBrowser *self,
                           gboolean        offline,
                           guint           latency_ms,
                           gint64          down_bytes_per_s,
                           gint64          up_bytes_per_s)
{
  g_autofree char *params =
    g_strdup_printf ("{\"offline\":%s,\"latency\":%u,\"downloadThroughput\":%" G_GINT64_FORMAT
                     ",\"uploadThroughput\":%" G_GINT64_FORMAT "}", offline ? "true" : "false",
                     latency_ms, down_bytes_per_s, up_bytes_per_s);

  call_ignore (self, "Network.emulateNetworkConditions", params);
}

void
cdl_test_browser_set_offline (CdlTestBrowser *self,
                              gboolean        offline)
{
  cdl_test_browser_throttle (self, offline, 0, -1, -1);
}

JsonNode *
cdl_test_browser_eval (CdlTestBrowser *self,
                       const char     *expression)
{
  g_autofree char *quoted = json_string (expression);
  g_autofree char *params =
    g_strdup_printf ("{\"expression\":%s,\"awaitPromise\":true,\"returnByValue\":true}",
                     quoted);
  g_autoptr(JsonNode) result = cdl_test_browser_call (self, "Runtime.evaluate", params);
  JsonObject *obj = json_node_get_object (result);
  JsonObject *value;

  if (json_object_has_member (obj, "exceptionDetails"))
    {
      g_autofree char *details =
        json_to_string (json_object_get_member (obj, "exceptionDetails"), FALSE);

      g_error ("%s threw: %s", expression, details);
    }

  value = json_object_get_object_member (obj, "result");
  if (!json_object_has_member (value, "value"))
    return json_node_new (JSON_NODE_NULL);
  return json_node_copy (json_object_get_member (value, "value"));
}

char *
cdl_test_browser_eval_string (CdlTestBrowser *self,
                              const char     *expression)
{
  g_autoptr(JsonNode) node = cdl_test_browser_eval (self, expression);

  if (JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    return json_to_string (node, FALSE);
  return g_strdup (json_node_get_string (node));
}

gint64
cdl_test_browser_eval_int (CdlTestBrowser *self,
                           const char     *expression)
{
  g_autoptr(JsonNode) node = cdl_test_browser_eval (self, expression);

  if (!JSON_NODE_HOLDS_VALUE (node))
    g_error ("%s gave no number", expression);
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    return (gint64)json_node_get_double (node);
  return json_node_get_int (node);
}

void
cdl_test_browser_wait (CdlTestBrowser *self,
                       const char     *expression,
                       guint           timeout_ms)
{
  /* A page still loading may have no body yet: false, not an error. */
  g_autofree char *truthy =
    g_strdup_printf ("(() => { try { return !!(%s); } catch (e) { return false; } })()",
                     expression);
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  for (;;)
    {
      g_autoptr(JsonNode) node = cdl_test_browser_eval (self, truthy);

      if (json_node_get_boolean (node))
        return;
      if (g_get_monotonic_time () > deadline)
        {
          g_autofree char *view =
            cdl_test_browser_eval_string (self, "document.body ? document.body.dataset.view"
                                                " + ' ' + document.body.innerText.slice(0, 300)"
                                                " : 'no body'");

          g_error ("waited %u ms for %s; the page shows: %s", timeout_ms, expression, view);
        }
      iterate_for (25);
    }
}

void
cdl_test_browser_sleep (CdlTestBrowser *self,
                        guint           ms)
{
  iterate_for (ms);
}

static void
touch (CdlTestBrowser *self,
       const char     *type,
       const double   *xy,
       guint           n_points)
{
  g_autoptr(GString) params = g_string_new (NULL);

  g_string_append_printf (params, "{\"type\":\"%s\",\"touchPoints\":[", type);
  for (guint i = 0; i < n_points; i++)
    {
      char x[G_ASCII_DTOSTR_BUF_SIZE], y[G_ASCII_DTOSTR_BUF_SIZE];

      g_string_append_printf (params, "%s{\"x\":%s,\"y\":%s,\"id\":%u}", i > 0 ? "," : "",
                              g_ascii_dtostr (x, sizeof x, xy[2 * i]),
                              g_ascii_dtostr (y, sizeof y, xy[2 * i + 1]), i);
    }
  g_string_append (params, "]}");
  call_ignore (self, "Input.dispatchTouchEvent", params->str);
}

void
cdl_test_browser_tap (CdlTestBrowser *self,
                      double          x,
                      double          y)
{
  double xy[2] = { x, y };

  touch (self, "touchStart", xy, 1);
  touch (self, "touchEnd", NULL, 0);
}

void
cdl_test_browser_swipe (CdlTestBrowser *self,
                        double          x0,
                        double          y0,
                        double          x1,
                        double          y1,
                        guint           steps)
{
  double xy[2] = { x0, y0 };

  touch (self, "touchStart", xy, 1);
  for (guint i = 1; i <= steps; i++)
    {
      xy[0] = x0 + (x1 - x0) * i / steps;
      xy[1] = y0 + (y1 - y0) * i / steps;
      touch (self, "touchMove", xy, 1);
    }
  touch (self, "touchEnd", NULL, 0);
}

void
cdl_test_browser_pinch (CdlTestBrowser *self,
                        double          x,
                        double          y,
                        double          d0,
                        double          d1)
{
  double xy[4] = { x - d0 / 2, y, x + d0 / 2, y };

  touch (self, "touchStart", xy, 2);
  for (guint i = 1; i <= 8; i++)
    {
      double d = d0 + (d1 - d0) * i / 8;

      xy[0] = x - d / 2;
      xy[2] = x + d / 2;
      touch (self, "touchMove", xy, 2);
    }
  touch (self, "touchEnd", NULL, 0);
}

void
cdl_test_browser_key (CdlTestBrowser *self,
                      const char     *key,
                      const char     *code,
                      guint           key_code)
{
  g_autofree char *quoted_key = json_string (key);
  g_autofree char *quoted_code = json_string (code);
  g_autofree char *down =
    g_strdup_printf ("{\"type\":\"keyDown\",\"key\":%s,\"code\":%s,\"text\":%s,"
                     "\"windowsVirtualKeyCode\":%u}", quoted_key, quoted_code,
                     g_utf8_strlen (key, -1) == 1 ? quoted_key : "\"\"", key_code);
  g_autofree char *up =
    g_strdup_printf ("{\"type\":\"keyUp\",\"key\":%s,\"code\":%s,"
                     "\"windowsVirtualKeyCode\":%u}", quoted_key, quoted_code, key_code);

  call_ignore (self, "Input.dispatchKeyEvent", down);
  call_ignore (self, "Input.dispatchKeyEvent", up);
}

void
cdl_test_browser_block (CdlTestBrowser *self,
                        const char     *pattern)
{
  g_autofree char *quoted = pattern != NULL ? json_string (pattern) : NULL;
  g_autofree char *params = g_strdup_printf ("{\"urls\":[%s]}", quoted != NULL ? quoted : "");

  call_ignore (self, "Network.setBlockedURLs", params);
}

void
cdl_test_browser_reload (CdlTestBrowser *self)
{
  call_ignore (self, "Page.reload", "{\"ignoreCache\":false}");
}

GPtrArray *
cdl_test_browser_responses (CdlTestBrowser *self)
{
  return self->responses;
}

void
cdl_test_browser_clear_responses (CdlTestBrowser *self)
{
  g_ptr_array_set_size (self->responses, 0);
  g_ptr_array_set_size (self->requests, 0);
}

GPtrArray *
cdl_test_browser_requests (CdlTestBrowser *self)
{
  return self->requests;
}

GBytes *
cdl_test_browser_screenshot (CdlTestBrowser *self)
{
  g_autoptr(JsonNode) result =
    cdl_test_browser_call (self, "Page.captureScreenshot", "{\"format\":\"png\"}");
  const char *data = json_object_get_string_member (json_node_get_object (result), "data");
  gsize len = 0;
  guchar *png = g_base64_decode (data, &len);

  return g_bytes_new_take (png, len);
}
