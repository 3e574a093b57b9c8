/* test-web.c: the phone annotation page in a real headless Chromium
 *
 * The real server runs against a real PostgreSQL database and a file
 * store holding real PNG images (drawn by the simulated worker's
 * renderer). Chromium emulates a 390×844 touch phone and is driven over
 * the DevTools protocol: it signs in through a pairing link, swipes,
 * zooms, chooses, labels offline and comes back online, while the test
 * checks the database and the requests the page made.
 *
 * Set CDL_WEB_SCREENSHOT=path.png to save the workbench as a PNG.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "cdl-test-browser.h"
#include "cdl-test-server.h"
#include "core/cdl-json.h"
#include "db/cdl-job-repo.h"
#include "db/cdl-pq.h"
#include "sim/cdl-sim-image.h"
#include "storage/cdl-storage-key.h"
#include "storage/cdl-thumbnailer.h"

#define N_PROMPTS 24
#define N_SEEDS 4
#define FULL_SIDE 512
#define PHONE_W 390
#define PHONE_H 844

static CdlTestPg *pg;

typedef CdlTestApi Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  cdl_test_api_set_up (f, pg, "cdl-web-XXXXXX", TRUE);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  cdl_test_api_tear_down (f);
}

/* The task ------------------------------------------------------------------ */

static GBytes *
render_png (gint64      seed,
            guint       index,
            const char *prompt,
            guint       side)
{
  g_autofree guint8 *rgb = cdl_sim_image_render ((guint64)seed, index,
                                                 cdl_sim_text_hash (prompt), side, side);
  g_autoptr(GError) error = NULL;
  GBytes *png = cdl_sim_png_encode (rgb, side, side, NULL, NULL, &error);

  g_assert_no_error (error);
  return png;
}

/* Stores every image of every prompt of @task_id, as ingestion does. */
static void
store_images (Fixture    *f,
              const char *task_id,
              int         n_prompts)
{
  const char *params[1] = { task_id };
  g_autoptr(PGresult) seeds = cdl_test_sql (f->conninfo,
                                            "SELECT s.id, s.seed_value, s.position, p.id,"
                                            "       p.text"
                                            " FROM seeds s JOIN prompts p ON p.id = s.prompt_id"
                                            " WHERE p.task_id = $1"
                                            " ORDER BY p.position, s.position",
                                            1, params);
  PGconn *conn = cdl_test_api_connect (f);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (2);

  g_assert_cmpint (PQntuples (seeds), ==, n_prompts * N_SEEDS);
  for (int i = 0; i < PQntuples (seeds); i++)
    {
      gint64 seed = cdl_pq_get_int64 (seeds, i, 1);
      int index = cdl_pq_get_int (seeds, i, 2);
      const char *prompt_id = cdl_pq_get_string (seeds, i, 3);
      const char *prompt = cdl_pq_get_string (seeds, i, 4);
      g_autoptr(GError) error = NULL;
      g_autofree char *key = cdl_storage_key_for_image (task_id, prompt_id, seed, index, now,
                                                        &error);
      g_autofree char *thumb = cdl_storage_key_thumbnail_for_image (key, &error);
      g_autoptr(GBytes) full = render_png (seed, (guint)index, prompt, FULL_SIDE);
      g_autoptr(CdlThumbnail) small = NULL;
      g_autoptr(CdlObjectInfo) info = NULL;
      g_autoptr(CdlObjectInfo) thumb_info = NULL;
      g_autofree char *gen_id = NULL;
      CdlGenerationInput in = { 0 };
      gboolean inserted = FALSE;

      g_assert_no_error (error);
      /* The JPEG thumbnail ingestion makes. */
      small = cdl_thumbnailer_make_thumbnail (thumbnailer, full, NULL, &error);
      g_assert_no_error (error);
      info = cdl_object_store_put_bytes (f->store, key, full, NULL, &error);
      g_assert_no_error (error);
      thumb_info = cdl_object_store_put_bytes (f->store, thumb, small->data, NULL, &error);
      g_assert_no_error (error);

      in.task_id = task_id;
      in.prompt_id = prompt_id;
      in.seed_id = cdl_pq_get_string (seeds, i, 0);
      in.seed_value = seed;
      in.batch_index = index;
      in.image_uri = key;
      in.thumb_uri = thumb;
      in.checksum = info->sha256;
      in.bytes = (gint64)g_bytes_get_size (full);
      in.width = FULL_SIDE;
      in.height = FULL_SIDE;
      gen_id = cdl_generation_repo_insert (conn, &in, &inserted, &error);
      g_assert_no_error (error);
      g_assert_true (inserted);
    }

  PQfinish (conn);
}

/* A frozen task of @n_prompts batches, every one stored. */
static char *
make_task (Fixture *f,
           int      n_prompts)
{
  g_autofree char *workflow =
    cdl_test_api_insert_workflow (f, "web", "a lighthouse on a cliff at dusk, {light}", TRUE);
  g_autofree char *pool = cdl_test_api_create_pool (f, "light", "permutation",
                                                    "watercolour study", n_prompts);
  g_autofree char *body = cdl_test_task_body (workflow, pool, NULL, n_prompts, N_SEEDS,
                                              "\"name\": \"Lighthouses\"");
  g_autofree char *freeze = NULL;
  g_autoptr(JsonNode) task = NULL;
  g_autoptr(JsonNode) frozen = NULL;
  char *id;

  task = cdl_test_api_ok (f, "POST", "/api/tasks", body, 201);
  id = g_strdup (json_object_get_string_member (json_node_get_object (task), "id"));
  freeze = g_strdup_printf ("/api/tasks/%s/freeze", id);
  frozen = cdl_test_api_ok (f, "POST", freeze, NULL, 200);
  store_images (f, id, n_prompts);
  return id;
}

static gint64
annotation_count (Fixture    *f,
                  const char *batch_id)
{
  return cdl_test_sql_int (f->conninfo,
                           "SELECT count (*) FROM annotations WHERE batch_id = $1::uuid",
                           batch_id);
}

/* The browser --------------------------------------------------------------- */

static CdlTestBrowser *
start_browser (void)
{
  g_autofree char *program = cdl_test_browser_find ();
  g_autoptr(GError) error = NULL;
  CdlTestBrowser *browser;

  if (program == NULL)
    {
      /* CI installs chromium (build-aux/debian-packages.txt): never skip there. */
      if (g_getenv ("CI") != NULL)
        g_error ("chromium is not installed; the web tests need it in CI");
      g_test_skip ("chromium is not installed");
      return NULL;
    }

  browser = cdl_test_browser_new (program, &error);
  g_assert_no_error (error);
  cdl_test_browser_phone (browser, PHONE_W, PHONE_H, 2);
  return browser;
}

/* Taps the middle of the element @selector. */
static void
tap_on (CdlTestBrowser *browser,
        const char     *selector)
{
  g_autofree char *js =
    g_strdup_printf ("(() => { const r = document.querySelector('%s')"
                     ".getBoundingClientRect(); return [r.x + r.width / 2,"
                     " r.y + r.height / 2]; })()", selector);
  g_autoptr(JsonNode) xy = cdl_test_browser_eval (browser, js);
  JsonArray *a = json_node_get_array (xy);

  cdl_test_browser_tap (browser, json_array_get_double_element (a, 0),
                        json_array_get_double_element (a, 1));
}

/* Taps @task_id in the task picker and waits for its first batch. */
static void
open_task (CdlTestBrowser *browser,
           const char     *task_id)
{
  g_autofree char *button = g_strdup_printf ("button[data-task=\"%s\"]", task_id);
  g_autofree char *exists = g_strdup_printf ("document.querySelector('%s')", button);

  cdl_test_browser_wait (browser, exists, 10000);
  tap_on (browser, button);
  cdl_test_browser_wait (browser, "document.body.dataset.view === 'work'"
                                  " && document.body.dataset.shown", 15000);
}

/* Signs in through a fresh pairing link, with @hash_extra ("&ab=…")
 * appended unless NULL, and opens @task_id; returns the page's token. */
static char *
open_workbench (Fixture        *f,
                CdlTestBrowser *browser,
                const char     *task_id,
                const char     *hash_extra)
{
  g_autoptr(JsonNode) pairing = NULL;
  g_autofree char *url = NULL;
  char *token;

  pairing = cdl_test_api_ok (f, "POST", "/api/pairing", "{\"name\": \"Ada's phone\"}", 201);
  url = g_strconcat (json_object_get_string_member (json_node_get_object (pairing), "url"),
                     hash_extra, NULL);

  cdl_test_browser_navigate (browser, url);
  cdl_test_browser_wait (browser, "document.body.dataset.view === 'tasks'", 15000);
  token = cdl_test_browser_eval_string (browser, "localStorage.getItem('cdl.token')");
  g_assert_nonnull (token);

  open_task (browser, task_id);
  return token;
}

/* Waits until a batch other than @batch_id is fully shown. */
static void
wait_for_next (CdlTestBrowser *browser,
               const char     *batch_id)
{
  g_autofree char *next = g_strdup_printf ("document.body.dataset.shown &&"
                                           " document.body.dataset.shown !== '%s'", batch_id);

  cdl_test_browser_wait (browser, next, 10000);
}

static const char *
header_of (JsonObject *response,
           const char *name)
{
  JsonObject *headers = json_object_get_object_member (response, "headers");
  g_autoptr(GList) names = json_object_get_members (headers);

  for (GList *l = names; l != NULL; l = l->next)
    if (g_ascii_strcasecmp (l->data, name) == 0)
      return json_object_get_string_member (headers, l->data);
  return NULL;
}

static JsonObject *
response_for (CdlTestBrowser *browser,
              const char     *url)
{
  GPtrArray *responses = cdl_test_browser_responses (browser);

  for (guint i = 0; i < responses->len; i++)
    {
      JsonObject *r = json_node_get_object (g_ptr_array_index (responses, i));

      if (strcmp (json_object_get_string_member (r, "url"), url) == 0)
        return r;
    }
  return NULL;
}

/* The response to @url, which may still be on its way. */
static JsonObject *
wait_for_response (CdlTestBrowser *browser,
                   const char     *url)
{
  JsonObject *r;

  for (guint tries = 0; (r = response_for (browser, url)) == NULL && tries < 200; tries++)
    cdl_test_browser_sleep (browser, 25);
  if (r == NULL)
    g_error ("the page never fetched %s", url);

  return r;
}

static char *
absolute (Fixture    *f,
          const char *url)
{
  return g_str_has_prefix (url, "http") ? g_strdup (url) : g_strconcat (f->base_url, url, NULL);
}

/* Every prefetch thumbnail of the page's batch was fetched, signed and
 * cacheable; the next batch's full images too. */
static void
check_prefetch (Fixture        *f,
                CdlTestBrowser *browser,
                const char     *token,
                const char     *task_id)
{
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/next-batch?prefetch=20", task_id);
  g_autoptr(JsonNode) root = NULL;
  JsonArray *prefetch;
  guint status;
  guint n_thumbs = 0;

  /* The same annotator gets the same leased batch and the same list. */
  root = cdl_test_api (f, "GET", path, token, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  prefetch = json_object_get_array_member (cdl_test_data_of (root), "prefetch");
  g_assert_cmpuint (json_array_get_length (prefetch), ==, 20);

  for (guint i = 0; i < json_array_get_length (prefetch); i++)
    {
      JsonObject *entry = json_array_get_object_element (prefetch, i);
      JsonArray *thumbs = json_object_get_array_member (entry, "thumbnails");

      for (guint j = 0; j < json_array_get_length (thumbs); j++)
        {
          g_autofree char *url = absolute (f, json_array_get_string_element (thumbs, j));
          JsonObject *r = wait_for_response (browser, url);

          g_assert_true (strstr (url, "sig=") != NULL && strstr (url, "exp=") != NULL);
          g_assert_cmpint (json_object_get_int_member (r, "status"), ==, 200);
          g_assert_cmpstr (header_of (r, "Content-Type"), ==, "image/jpeg");
          g_assert_nonnull (header_of (r, "ETag"));
          g_assert_true (g_str_has_prefix (header_of (r, "Cache-Control"), "public, max-age="));
          n_thumbs++;
        }

      if (i == 0)
        {
          JsonArray *full = json_object_get_array_member (entry, "fullres");

          for (guint j = 0; j < json_array_get_length (full); j++)
            {
              g_autofree char *url = absolute (f, json_array_get_string_element (full, j));
              JsonObject *r = wait_for_response (browser, url);

              g_assert_cmpint (json_object_get_int_member (r, "status"), ==, 200);
            }
        }
    }

  g_assert_cmpuint (n_thumbs, ==, 20 * N_SEEDS);
}

/* Tests --------------------------------------------------------------------- */

static void
test_page_files (Fixture       *f,
                 gconstpointer  data)
{
  const char *files[] = { "/", "/web/app.js", "/web/style.css" };
  const char *types[] = { "text/html", "text/javascript", "text/css" };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *url = g_strconcat (f->base_url, files[i], NULL);
      g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
      g_autoptr(SoupMessage) again = soup_message_new ("GET", url);
      g_autoptr(GBytes) body = NULL;
      g_autoptr(GBytes) empty = NULL;
      g_autoptr(GError) error = NULL;
      SoupMessageHeaders *headers;
      const char *etag;

      body = soup_session_send_and_read (f->http, msg, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
      g_assert_cmpuint (g_bytes_get_size (body), >, 100);
      headers = soup_message_get_response_headers (msg);
      g_assert_true (g_str_has_prefix (soup_message_headers_get_content_type (headers, NULL),
                                       types[i]));
      g_assert_cmpstr (soup_message_headers_get_one (headers, "Cache-Control"), ==, "no-cache");
      etag = soup_message_headers_get_one (headers, "ETag");
      g_assert_nonnull (etag);

      /* A phone that has the file revalidates without a body. */
      soup_message_headers_replace (soup_message_get_request_headers (again), "If-None-Match",
                                    etag);
      empty = soup_session_send_and_read (f->http, again, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (soup_message_get_status (again), ==, 304);
      g_assert_cmpuint (g_bytes_get_size (empty), ==, 0);
    }

  /* Nothing but the page's own files. */
  {
    const char *bad[] = { "/web/missing.js", "/web/.hidden" };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autofree char *url = g_strconcat (f->base_url, bad[i], NULL);
        g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
        g_autoptr(GBytes) body = NULL;

        body = soup_session_send_and_read (f->http, msg, NULL, NULL);
        g_assert_cmpuint (soup_message_get_status (msg), ==, 404);
      }
  }
}

/* GETs @path; the body as text, with its status and response headers. */
static char *
fetch (Fixture             *f,
       const char          *path,
       const char          *if_none_match,
       guint               *status,
       SoupMessageHeaders **headers)
{
  g_autofree char *url = g_strconcat (f->base_url, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;

  if (if_none_match != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "If-None-Match",
                                  if_none_match);
  body = soup_session_send_and_read (f->http, msg, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (msg);
  if (headers != NULL)
    *headers = soup_message_headers_ref (soup_message_get_response_headers (msg));

  if (g_bytes_get_size (body) == 0)
    return g_strdup ("");

  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static void
test_i18n (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(SoupMessageHeaders) headers = NULL;
  g_autofree char *body = NULL;
  g_autofree char *etag = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *messages;
  guint status;

  /* The page's messages from the build tree's compiled catalogue. */
  body = fetch (f, "/web/i18n/zh-CN.json", NULL, &status, &headers);
  g_assert_cmpuint (status, ==, 200);
  g_assert_true (g_str_has_prefix (soup_message_headers_get_content_type (headers, NULL),
                                   "application/json"));
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Content-Language"), ==, "zh-CN");
  root = cdl_json_parse (body, -1, NULL);
  g_assert_nonnull (root);
  messages = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (messages, "Best"), ==, "最佳");
  g_assert_cmpstr (json_object_get_string_member (messages, "Image {0} of {1}"), ==,
                   "第 {0} 张，共 {1} 张");
  /* Concatenated in the script, one message in the catalogue. */
  g_assert_true (json_object_has_member (messages,
                   "To label images on this phone, open “Pair a Phone…” in the desktop app "
                   "and scan its QR code with the camera."));
  /* Only the page's: none of the desktop's. */
  g_assert_false (json_object_has_member (messages, "No Workers Yet"));
  g_assert_cmpuint (json_object_get_size (messages), <, 60);

  /* Revalidated without a body. */
  etag = g_strdup (soup_message_headers_get_one (headers, "ETag"));
  g_assert_nonnull (etag);
  g_clear_pointer (&body, g_free);
  body = fetch (f, "/web/i18n/zh-CN.json", etag, &status, NULL);
  g_assert_cmpuint (status, ==, 304);
  g_assert_cmpstr (body, ==, "");

  /* Other Chinese tags fall back on the Chinese catalogue. */
  {
    const char *tags[] = { "zh", "zh-Hans-CN", "zh_CN", "zh-TW" };

    for (guint i = 0; i < G_N_ELEMENTS (tags); i++)
      {
        g_autofree char *path = g_strdup_printf ("/web/i18n/%s.json", tags[i]);
        g_autofree char *other = fetch (f, path, NULL, &status, NULL);

        g_assert_cmpuint (status, ==, 200);
        g_assert_nonnull (strstr (other, "\"最佳\""));
      }
  }

  /* English is the page's own language. */
  g_clear_pointer (&body, g_free);
  body = fetch (f, "/web/i18n/en-GB.json", NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (body, ==, "{}");

  g_clear_pointer (&body, g_free);
  body = fetch (f, "/web/i18n/fr-FR.json", NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 404);
  g_assert_nonnull (strstr (body, "not translated into fr-FR"));

  g_clear_pointer (&body, g_free);
  body = fetch (f, "/web/i18n/zh%20CN.json", NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 400);
  g_assert_nonnull (strstr (body, "Not a language tag"));

  /* No way out of the catalogues' directory. */
  g_clear_pointer (&body, g_free);
  body = fetch (f, "/web/i18n/..%2F..%2Fzh_CN.json", NULL, &status, NULL);
  g_assert_cmpuint (status, >=, 400);

  g_clear_pointer (&body, g_free);
  body = fetch (f, "/web/i18n/zh-CN", NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 404);
}

static void
test_annotate (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(CdlTestBrowser) browser = start_browser ();
  g_autofree char *task_id = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  g_autofree char *fourth = NULL;
  g_autofree char *token = NULL;
  g_autofree char *prompt = NULL;
  const char *screenshot = g_getenv ("CDL_WEB_SCREENSHOT");
  gint64 chosen;
  gint64 width;

  if (browser == NULL)
    return;

  task_id = make_task (f, N_PROMPTS);
  token = open_workbench (f, browser, task_id, NULL);
  first = cdl_test_browser_eval_string (browser, "document.body.dataset.batch");
  g_assert_cmpint (cdl_test_browser_eval_int (browser, "location.hash.length"), ==, 0);
  g_assert_cmpint (cdl_test_browser_eval_int (browser, "window.innerWidth"), ==, PHONE_W);
  g_assert_cmpint (cdl_test_browser_eval_int (browser, "navigator.maxTouchPoints"), >, 0);
  g_assert_cmpint (cdl_test_browser_eval_int (browser, "document.querySelectorAll("
                                                       "'#track img').length"), ==, N_SEEDS);
  g_assert_cmpint (cdl_test_browser_eval_int (browser, "document.querySelectorAll("
                                                       "'#rail .thumb').length"), ==, N_SEEDS);
  prompt = cdl_test_browser_eval_string (browser,
                                         "document.getElementById('prompt').textContent");
  g_assert_true (g_str_has_prefix (prompt, "a lighthouse on a cliff at dusk"));

  /* Nothing overflows the phone's width. */
  width = cdl_test_browser_eval_int (browser, "document.documentElement.scrollWidth");
  g_assert_cmpint (width, <=, PHONE_W);

  /* Swipe left: the second image; swipe right: back; swipe left again. */
  cdl_test_browser_swipe (browser, 320, 300, 60, 300, 8);
  cdl_test_browser_wait (browser, "window.cdl.state.pos === 1", 3000);
  cdl_test_browser_swipe (browser, 60, 300, 330, 300, 8);
  cdl_test_browser_wait (browser, "window.cdl.state.pos === 0", 3000);
  cdl_test_browser_swipe (browser, 320, 300, 60, 300, 8);
  cdl_test_browser_wait (browser, "window.cdl.state.pos === 1", 3000);
  g_assert_cmpstr (cdl_test_browser_eval_string (browser,
                     "document.getElementById('counter').textContent"), ==, "2 / 4");

  /* The rail jumps straight to an image, and back. */
  tap_on (browser, "#rail .thumb:nth-child(4)");
  cdl_test_browser_wait (browser, "window.cdl.state.pos === 3", 3000);
  tap_on (browser, "#rail .thumb:nth-child(2)");
  cdl_test_browser_wait (browser, "window.cdl.state.pos === 1", 3000);

  /* A pinch zooms; a double tap zooms back out. */
  cdl_test_browser_pinch (browser, 195, 300, 60, 200);
  cdl_test_browser_wait (browser, "document.getElementById('stage')"
                                  ".classList.contains('zoomed')", 3000);
  cdl_test_browser_tap (browser, 195, 300);
  cdl_test_browser_tap (browser, 195, 300);
  cdl_test_browser_wait (browser, "!document.getElementById('stage')"
                                  ".classList.contains('zoomed')", 3000);
  /* Let the double tap's window pass before the next tap. */
  cdl_test_browser_sleep (browser, 400);

  /* The following batches' thumbnails came in already. */
  check_prefetch (f, browser, token, task_id);

  if (screenshot != NULL)
    {
      g_autoptr(GBytes) png = NULL;
      g_autoptr(GError) error = NULL;

      /* The first image, without the swipe's traces. */
      cdl_test_browser_eval (browser, "window.cdl.goTo(0, false)");
      cdl_test_browser_sleep (browser, 300);
      png = cdl_test_browser_screenshot (browser);
      g_file_set_contents (screenshot, g_bytes_get_data (png, NULL),
                           (gssize)g_bytes_get_size (png), &error);
      g_assert_no_error (error);
      cdl_test_browser_eval (browser, "window.cdl.goTo(1, false)");
    }

  /* Tap to choose the second image shown: the label lands in the database. */
  chosen = cdl_test_browser_eval_int (browser, "window.cdl.state.order[1]");
  cdl_test_browser_tap (browser, 195, 300);
  wait_for_next (browser, first);
  cdl_test_browser_wait (browser, "window.cdl.readOutbox().length === 0", 5000);
  g_assert_cmpint (annotation_count (f, first), ==, 1);
  {
    const char *params[1] = { first };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT chosen_index, spam, decision_ms"
                                            " FROM annotations WHERE batch_id = $1::uuid",
                                            1, params);

    g_assert_cmpint (cdl_pq_get_int (res, 0, 0), ==, chosen);
    g_assert_cmpstr (PQgetvalue (res, 0, 1), ==, "f");
    g_assert_cmpint (cdl_pq_get_int (res, 0, 2), >, 0);
  }
  second = cdl_test_browser_eval_string (browser, "document.body.dataset.batch");
  g_assert_cmpstr (second, !=, first);
  g_assert_cmpint (cdl_test_browser_eval_int (browser, "window.cdl.readOutbox().length"), ==, 0);

  /* Offline: the label waits on the phone, then is replayed once. */
  cdl_test_browser_set_offline (browser, TRUE);
  cdl_test_browser_wait (browser, "navigator.onLine === false", 3000);
  tap_on (browser, "#choose");
  cdl_test_browser_wait (browser, "window.cdl.readOutbox().length === 1", 3000);
  cdl_test_browser_wait (browser, "!document.getElementById('offline').hidden", 3000);
  cdl_test_browser_sleep (browser, 300);
  g_assert_cmpint (annotation_count (f, second), ==, 0);

  cdl_test_browser_set_offline (browser, FALSE);
  cdl_test_browser_wait (browser, "window.cdl.readOutbox().length === 0", 10000);
  wait_for_next (browser, second);
  g_assert_cmpint (annotation_count (f, second), ==, 1);
  third = cdl_test_browser_eval_string (browser, "document.body.dataset.batch");
  g_assert_cmpstr (third, !=, second);

  /* A replay of the same label (a reload that sent it twice) adds no row. */
  {
    g_autofree char *js =
      g_strdup_printf ("(async () => { const l = { task_id: '%s', batch_id: '%s',"
                       " chosen_index: 0, spam: false, queued_at: 1 };"
                       " localStorage.setItem('cdl.outbox', JSON.stringify([l]));"
                       " return await window.cdl.sendOutbox(); })()", task_id, second);
    g_autoptr(JsonNode) sent = cdl_test_browser_eval (browser, js);

    g_assert_true (json_node_get_boolean (sent));
  }
  g_assert_cmpint (annotation_count (f, second), ==, 1);

  /* Spam from the button. */
  tap_on (browser, "#spam");
  wait_for_next (browser, third);
  cdl_test_browser_wait (browser, "window.cdl.readOutbox().length === 0", 5000);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM annotations"
                                                  " WHERE batch_id = $1::uuid AND spam",
                                     third), ==, 1);

  /* Keyboard: 1 chooses the first image shown while the label cannot be
   * sent; the label waits in the outbox through a reload, then goes. */
  fourth = cdl_test_browser_eval_string (browser, "document.body.dataset.batch");
  chosen = cdl_test_browser_eval_int (browser, "window.cdl.state.order[0]");
  cdl_test_browser_block (browser, "*/api/annotations");
  cdl_test_browser_key (browser, "1", "Digit1", 49);
  cdl_test_browser_wait (browser, "window.cdl.readOutbox().length === 1", 5000);
  cdl_test_browser_sleep (browser, 200);
  g_assert_cmpint (annotation_count (f, fourth), ==, 0);
  cdl_test_browser_block (browser, NULL);
  cdl_test_browser_reload (browser);
  cdl_test_browser_wait (browser, "document.body.dataset.view === 'tasks'", 15000);
  cdl_test_browser_wait (browser, "window.cdl.readOutbox().length === 0", 10000);
  {
    const char *params[1] = { fourth };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT chosen_index FROM annotations"
                                            " WHERE batch_id = $1::uuid", 1, params);

    g_assert_cmpint (PQntuples (res), ==, 1);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 0), ==, chosen);
  }

  /* Progress comes from the server. */
  open_task (browser, task_id);
  cdl_test_browser_wait (browser, "document.getElementById('progress').textContent"
                                  ".includes('4 by you')", 8000);

  /* Signing out forgets the token here and revokes it on the server. */
  tap_on (browser, "#back");
  cdl_test_browser_wait (browser, "document.body.dataset.view === 'tasks'", 5000);
  tap_on (browser, "#logout");
  cdl_test_browser_wait (browser, "document.body.dataset.view === 'login'", 5000);
  g_assert_null (cdl_test_browser_eval_string (browser, "localStorage.getItem('cdl.token')"));
  cdl_test_api_error (f, "GET", "/api/me", token, NULL, 401, NULL);
}

/* The first prefetch entry once the page could show it without the
 * network (its full images loaded, no lease on its way): its batch id. */
static char *
wait_for_prefetched (CdlTestBrowser *browser)
{
  cdl_test_browser_wait (browser,
                         "(() => { const s = window.cdl.state; const n = s.upcoming[0];"
                         " return n && !s.pending && !s.leasing && n.fullres.every((u) => {"
                         " const i = s.preloaded.get(u);"
                         " return i && i.complete && i.naturalWidth > 0; }); })()", 10000);
  return cdl_test_browser_eval_string (browser, "window.cdl.state.upcoming[0].batch_id");
}

static gboolean
next_batch_answered (CdlTestBrowser *browser)
{
  GPtrArray *responses = cdl_test_browser_responses (browser);

  for (guint i = 0; i < responses->len; i++)
    {
      JsonObject *r = json_node_get_object (g_ptr_array_index (responses, i));

      if (strstr (json_object_get_string_member (r, "url"), "/next-batch") != NULL)
        return TRUE;
    }
  return FALSE;
}

/* Chooses on the page with every request @latency_ms late, and asserts
 * that the prefetched batch @next is on screen before next-batch
 * answers. */
static void
choose_shows_prefetched (CdlTestBrowser *browser,
                         const char     *next,
                         guint           latency_ms)
{
  g_autofree char *shown = g_strdup_printf ("document.body.dataset.shown === '%s'", next);
  gint64 start, elapsed;

  cdl_test_browser_throttle (browser, FALSE, latency_ms, -1, -1);
  cdl_test_browser_clear_responses (browser);
  start = g_get_monotonic_time ();
  tap_on (browser, "#choose");
  cdl_test_browser_wait (browser, shown, latency_ms);
  elapsed = (g_get_monotonic_time () - start) / 1000;
  g_assert_false (next_batch_answered (browser));
  g_assert_cmpint (elapsed, <, latency_ms);
  g_assert_cmpstr (cdl_test_browser_eval_string (browser, "document.body.dataset.batch"), ==,
                   next);
}

static gint64
lease_count (Fixture    *f,
             const char *batch_id,
             const char *user_id)
{
  const char *params[2] = { batch_id, user_id };
  g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                          "SELECT count (*) FROM batch_leases"
                                          " WHERE batch_id = $1::uuid AND user_id = $2::uuid"
                                          "   AND leased_until > now ()", 2, params);

  return cdl_pq_get_int64 (res, 0, 0);
}

static void
wait_for_lease (CdlTestBrowser *browser)
{
  cdl_test_browser_wait (browser, "!window.cdl.state.pending && !window.cdl.state.leasing"
                                  " && window.cdl.readOutbox().length === 0", 15000);
}

/* Another annotator leases their next batch, which must be @want. */
static void
take_batch (Fixture    *f,
            const char *other,
            const char *task_id,
            const char *want)
{
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/next-batch?prefetch=0", task_id);
  g_autoptr(JsonNode) data = cdl_test_api_ok_as (f, other, "GET", path, NULL, 200);
  JsonObject *batch = json_object_get_object_member (json_node_get_object (data), "batch");

  g_assert_cmpstr (json_object_get_string_member (batch, "batch_id"), ==, want);
}

static void
test_prefetched (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(CdlTestBrowser) browser = start_browser ();
  g_autofree char *task_id = NULL;
  g_autofree char *token = NULL;
  g_autofree char *other = NULL;
  g_autofree char *other_id = NULL;
  g_autofree char *user_id = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *taken = NULL;
  g_autofree char *leased = NULL;
  g_autofree char *tapped = NULL;
  g_autofree char *after = NULL;
  g_autofree char *prompt = NULL;
  gint64 chosen;

  if (browser == NULL)
    return;

  task_id = make_task (f, N_PROMPTS);
  token = open_workbench (f, browser, task_id, NULL);
  user_id = cdl_test_browser_eval_string (browser,
                                          "JSON.parse(localStorage.getItem('cdl.user')).id");
  first = cdl_test_browser_eval_string (browser, "document.body.dataset.batch");

  /* A prefetch entry carries what showing it takes, and no checksums. */
  second = wait_for_prefetched (browser);
  g_assert_cmpint (cdl_test_browser_eval_int (browser,
                     "(() => { const n = window.cdl.state.upcoming[0];"
                     " return n.seeds.length + n.batch_indexes.length + n.image_ids.length +"
                     " n.thumbnails.length + n.fullres.length +"
                     " new Set(n.shown_order).size; })()"), ==, 6 * N_SEEDS);
  g_assert_cmpint (cdl_test_browser_eval_int (browser,
                     "'checksums' in window.cdl.state.upcoming[0] ? 1 : 0"), ==, 0);
  prompt = cdl_test_browser_eval_string (browser, "window.cdl.state.upcoming[0].prompt");
  g_assert_true (g_str_has_prefix (prompt, "a lighthouse on a cliff at dusk"));

  /* A choice shows the prefetched batch before next-batch answers: each
   * request is 1.5 s late here, and the label and the lease take two. */
  choose_shows_prefetched (browser, second, 1500);
  g_assert_cmpstr (cdl_test_browser_eval_string (browser,
                     "document.getElementById('prompt').textContent"), ==, prompt);
  g_assert_cmpint (cdl_test_browser_eval_int (browser,
                     "window.cdl.state.pending !== null ? 1 : 0"), ==, 1);
  wait_for_lease (browser);
  g_assert_cmpstr (cdl_test_browser_eval_string (browser, "document.body.dataset.batch"), ==,
                   second);
  g_assert_cmpint (annotation_count (f, first), ==, 1);
  g_assert_cmpint (lease_count (f, second, user_id), ==, 1);
  /* The order shown from the prefetch entry is the one the lease gives. */
  {
    g_autofree char *path = g_strdup_printf ("/api/tasks/%s/next-batch?prefetch=0", task_id);
    g_autoptr(JsonNode) lease = cdl_test_api_ok_as (f, token, "GET", path, NULL, 200);
    JsonObject *batch = json_object_get_object_member (json_node_get_object (lease), "batch");
    JsonArray *order = json_object_get_array_member (batch, "shown_order");
    g_autoptr(GString) want = g_string_new (NULL);
    g_autofree char *shown = cdl_test_browser_eval_string (browser,
                                                           "window.cdl.state.order.join()");

    g_assert_cmpstr (json_object_get_string_member (batch, "batch_id"), ==, second);
    for (guint i = 0; i < json_array_get_length (order); i++)
      g_string_append_printf (want, "%s%" G_GINT64_FORMAT, i ? "," : "",
                              json_array_get_int_element (order, i));
    g_assert_cmpstr (shown, ==, want->str);
  }

  /* Another annotator takes the batch the page would show next: the page
   * shows it, then moves to the batch its lease names. */
  other = cdl_test_api_token_for_role (f, "Grace", CDL_ROLE_ANNOTATOR);
  {
    g_autoptr(JsonNode) me = cdl_test_api_ok_as (f, other, "GET", "/api/me", NULL, 200);

    other_id = g_strdup (json_object_get_string_member (json_node_get_object (me), "id"));
  }
  cdl_test_browser_throttle (browser, FALSE, 0, -1, -1);
  taken = wait_for_prefetched (browser);
  take_batch (f, other, task_id, taken);
  choose_shows_prefetched (browser, taken, 1500);
  wait_for_lease (browser);
  leased = cdl_test_browser_eval_string (browser, "document.body.dataset.batch");
  g_assert_cmpstr (leased, !=, taken);
  g_assert_cmpstr (leased, !=, second);
  cdl_test_browser_wait (browser, "document.getElementById('toast')"
                                  ".classList.contains('visible')", 3000);
  g_assert_cmpint (annotation_count (f, second), ==, 1);
  g_assert_cmpint (annotation_count (f, taken), ==, 0);
  g_assert_cmpint (lease_count (f, leased, user_id), ==, 1);
  g_assert_cmpint (lease_count (f, taken, other_id), ==, 1);

  /* The other annotator labels theirs and takes the next one; this time
   * the page's annotator chooses in the taken batch before the lease
   * comes back: the label goes to the batch on screen, which is not
   * leased to them, and the other's lease of it stays. */
  {
    g_autofree char *body =
      g_strdup_printf ("{\"task_id\": \"%s\", \"batch_id\": \"%s\", \"chosen_index\": 0,"
                       " \"spam\": false}", task_id, taken);
    g_autoptr(JsonNode) label = cdl_test_api_ok_as (f, other, "POST", "/api/annotations",
                                                    body, 201);
  }
  cdl_test_browser_throttle (browser, FALSE, 0, -1, -1);
  tapped = wait_for_prefetched (browser);
  take_batch (f, other, task_id, tapped);
  choose_shows_prefetched (browser, tapped, 1500);
  chosen = cdl_test_browser_eval_int (browser, "window.cdl.state.order[1]");
  cdl_test_browser_key (browser, "2", "Digit2", 50);
  wait_for_lease (browser);
  cdl_test_browser_throttle (browser, FALSE, 0, -1, -1);
  wait_for_next (browser, tapped);
  after = cdl_test_browser_eval_string (browser, "document.body.dataset.batch");
  g_assert_cmpstr (after, !=, leased);
  g_assert_cmpint (annotation_count (f, leased), ==, 1);
  {
    const char *params[2] = { tapped, user_id };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT chosen_index FROM annotations"
                                            " WHERE batch_id = $1::uuid AND user_id = $2::uuid",
                                            2, params);

    g_assert_cmpint (PQntuples (res), ==, 1);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 0), ==, chosen);
  }
  g_assert_cmpint (lease_count (f, tapped, other_id), ==, 1);
  g_assert_cmpint (lease_count (f, tapped, user_id), ==, 0);
  g_assert_cmpint (annotation_count (f, after), ==, 0);
  g_assert_cmpint (lease_count (f, after, user_id), ==, 1);
}

/* Polls the results of A/B test @test_id until its variant @key has at
 * least @decisions decisions, image waits and prefetch reports. */
static JsonObject *
wait_for_results (Fixture    *f,
                  const char *test_id,
                  const char *key,
                  gint64      decisions,
                  JsonNode  **keep)
{
  g_autofree char *path = g_strdup_printf ("/api/ab-tests/%s/results", test_id);

  for (guint tries = 0; tries < 200; tries++)
    {
      g_autoptr(JsonNode) results = cdl_test_api_ok (f, "GET", path, NULL, 200);
      JsonArray *variants = json_object_get_array_member (json_node_get_object (results),
                                                          "variants");
      JsonObject *v = json_array_get_object_element (variants, 0);
      JsonObject *prefetch;

      if (g_strcmp0 (json_object_get_string_member (v, "key"), key) != 0)
        v = json_array_get_object_element (variants, 1);
      g_assert_cmpstr (json_object_get_string_member (v, "key"), ==, key);
      prefetch = json_object_get_object_member (v, "prefetch");

      if (json_object_get_int_member (json_object_get_object_member (v, "decision_ms"), "n")
          >= decisions
          && json_object_get_int_member (json_object_get_object_member (v, "image_wait_ms"),
                                         "n") >= decisions
          && json_object_get_int_member (prefetch, "hits")
             + json_object_get_int_member (prefetch, "misses") >= decisions)
        {
          *keep = g_steal_pointer (&results);
          return v;
        }
      g_usleep (50 * 1000);
    }

  g_error ("the page never reported its A/B events");
}

static void
test_ab_test (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(CdlTestBrowser) browser = start_browser ();
  g_autofree char *task_id = NULL;
  g_autofree char *token = NULL;
  g_autofree char *first = NULL;
  g_autofree char *test_id = NULL;
  g_autofree char *next_request = NULL;
  g_autofree char *key = NULL;
  g_autoptr(JsonNode) test = NULL;
  g_autoptr(JsonNode) results = NULL;
  GPtrArray *requests;
  JsonObject *variant;
  gboolean asked = FALSE;

  if (browser == NULL)
    return;

  task_id = make_task (f, N_PROMPTS);
  test = cdl_test_api_ok (f, "POST", "/api/ab-tests",
                          "{\"name\": \"small-prefetch\", \"expires_at\": \"2099-01-01T00:00:00Z\","
                          " \"variants\": [{\"key\": \"five-a\", \"weight\": 0.5, \"config\":"
                          " {\"prefetch_batches\": 5, \"prefetch_full\": false}},"
                          " {\"key\": \"five-b\", \"weight\": 0.5, \"config\":"
                          " {\"prefetch_batches\": 5, \"prefetch_full\": false}}]}", 201);
  test_id = g_strdup (json_object_get_string_member (json_node_get_object (test), "id"));

  /* This annotator's phone speaks Chinese. */
  {
    g_autoptr(JsonNode) ua = cdl_test_browser_eval (browser, "navigator.userAgent");
    g_autofree char *ua_text = json_to_string (ua, FALSE);
    g_autofree char *params = g_strdup_printf ("{\"userAgent\":%s,\"acceptLanguage\":\"zh-CN\"}",
                                               ua_text);

    json_node_unref (cdl_test_browser_call (browser, "Emulation.setUserAgentOverride", params));
  }

  token = open_workbench (f, browser, task_id, "&ab=small-prefetch");
  first = cdl_test_browser_eval_string (browser, "document.body.dataset.batch");
  g_assert_cmpstr (cdl_test_browser_eval_string (browser, "document.documentElement.lang"), ==,
                   "zh-CN");
  g_assert_cmpstr (cdl_test_browser_eval_string (browser,
                     "document.querySelector('#choose span').textContent"), ==, "最佳");
  /* From the server's catalogue: the progress line, its numbers filled in, and every text
   * of index.html. */
  cdl_test_browser_wait (browser,
                         "document.getElementById('progress').textContent.startsWith('已标注 ')",
                         5000);
  g_assert_cmpstr (cdl_test_browser_eval_string (browser,
                     "window.cdl.PAGE_TEXTS.filter((s) => t(s) === s).join('|')"), ==, "");
  g_assert_cmpstr (cdl_test_browser_eval_string (browser,
                     "document.getElementById('back').getAttribute('aria-label')"), ==,
                   "返回任务列表");

  /* The variant's configuration decides what the page asks for and loads. */
  key = cdl_test_browser_eval_string (browser, "window.cdl.state.ab.variant");
  g_assert_true (g_str_has_prefix (key, "five-"));
  next_request = g_strdup_printf ("/api/tasks/%s/next-batch?prefetch=5&ab_test=small-prefetch",
                                  task_id);
  requests = cdl_test_browser_requests (browser);
  for (guint i = 0; i < requests->len; i++)
    asked |= g_str_has_suffix (g_ptr_array_index (requests, i), next_request);
  g_assert_true (asked);
  cdl_test_browser_wait (browser, "window.cdl.state.preloaded.size === 20", 5000);

  /* The label carries the variant; the events follow it. */
  tap_on (browser, "#choose");
  wait_for_next (browser, first);
  {
    const char *params[1] = { first };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT variant_key FROM annotations"
                                            " WHERE batch_id = $1::uuid", 1, params);

    g_assert_cmpint (PQntuples (res), ==, 1);
    g_assert_cmpstr (PQgetvalue (res, 0, 0), ==, key);
  }

  variant = wait_for_results (f, test_id, key, 1, &results);
  g_assert_cmpint (json_object_get_int_member (variant, "labels"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (variant, "users"), ==, 1);
}

/* Benchmark ----------------------------------------------------------------- */

#define BENCH_BATCHES 10
#define BENCH_THINK_MS 1000

/* Labels BENCH_BATCHES batches as a new annotator, pausing as a person
 * would, and prints the time from each choice to the next batch fully
 * shown and the media bytes transferred per batch. */
static void
bench_run (Fixture    *f,
           const char *task_id,
           const char *what,
           const char *hash_extra,
           guint       latency_ms,
           gint64      down_bytes_per_s,
           gint64      up_bytes_per_s)
{
  g_autoptr(CdlTestBrowser) browser = start_browser ();
  g_autofree char *token = NULL;
  g_autofree char *stats = NULL;

  if (browser == NULL)
    return;

  cdl_test_browser_throttle (browser, FALSE, latency_ms, down_bytes_per_s, up_bytes_per_s);
  token = open_workbench (f, browser, task_id, hash_extra);
  cdl_test_browser_eval (browser, "performance.setResourceTimingBufferSize(5000)");

  for (guint i = 0; i < BENCH_BATCHES; i++)
    {
      g_autofree char *batch = NULL;

      cdl_test_browser_sleep (browser, BENCH_THINK_MS);
      batch = cdl_test_browser_eval_string (browser, "document.body.dataset.batch");
      tap_on (browser, "#choose");
      wait_for_next (browser, batch);
    }

  stats = cdl_test_browser_eval_string (browser,
    "(() => {"
    "  const t = window.cdl.state.timings;"
    "  const waits = [];"
    "  let hits = 0;"
    "  t.forEach((e, i) => {"
    "    if (e.choice === undefined) return;"
    "    const next = t.slice(i + 1).find((n) => n.shown !== undefined);"
    "    if (!next) return;"
    "    waits.push(next.shown - e.choice);"
    "    if (next.hit) hits++;"
    "  });"
    "  waits.sort((a, b) => a - b);"
    "  const q = (p) => waits[Math.min(waits.length - 1, Math.floor(p * waits.length))];"
    "  const entries = performance.getEntriesByType('resource');"
    "  const bytes = entries.filter((e) => e.name.includes('/media/'))"
    "    .reduce((n, e) => n + e.transferSize, 0);"
    "  const median = (re) => {"
    "    const d = entries.filter((e) => re.test(e.name)).map((e) => e.duration)"
    "      .sort((a, b) => a - b);"
    "    return d.length ? d[Math.floor(d.length / 2)].toFixed(0) : '-';"
    "  };"
    "  return `${waits.length} | ${q(0.5).toFixed(0)} ms | ${q(0.9).toFixed(0)} ms | ` +"
    "         `${waits[waits.length - 1].toFixed(0)} ms | ${hits}/${waits.length} | ` +"
    "         `${median(/\\/api\\/annotations$/)} + ${median(/next-batch/)} ms | ` +"
    "         `${(bytes / waits.length / 1024).toFixed(0)} KiB`;"
    "})()");

  g_printerr ("| %s | %s |\n", what, stats);
}

static void
test_bench (Fixture       *f,
            gconstpointer  data)
{
  /* Four runs of BENCH_BATCHES, and room for the last prefetch list. */
  g_autofree char *task_id = make_task (f, 4 * BENCH_BATCHES + 20);
  g_autoptr(JsonNode) test = NULL;

  test = cdl_test_api_ok (f, "POST", "/api/ab-tests",
                          "{\"name\": \"no-prefetch\", \"expires_at\": \"2099-01-01T00:00:00Z\","
                          " \"variants\": [{\"key\": \"none-a\", \"weight\": 0.5, \"config\":"
                          " {\"prefetch_batches\": 0, \"prefetch_full\": false}},"
                          " {\"key\": \"none-b\", \"weight\": 0.5, \"config\":"
                          " {\"prefetch_batches\": 0, \"prefetch_full\": false}}]}", 201);

  g_printerr ("| network | prefetch | batches | median | p90 | max | prefetch hits"
              " | label + next-batch (median) | media per batch |\n");
  bench_run (f, task_id, "loopback | next batch full + 20 thumbnails", NULL, 0, -1, -1);
  bench_run (f, task_id, "loopback | none", "&ab=no-prefetch", 0, -1, -1);
  /* A phone on good 4G: 30 ms added per request, 20 Mbit/s down, 5 up. */
  bench_run (f, task_id, "4G-like | next batch full + 20 thumbnails", NULL,
             30, 2500000, 625000);
  bench_run (f, task_id, "4G-like | none", "&ab=no-prefetch", 30, 2500000, 625000);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  pg = cdl_test_pg_start (&error);
  g_assert_no_error (error);

  g_test_add ("/web/page-files", Fixture, NULL, fixture_set_up, test_page_files,
              fixture_tear_down);
  g_test_add ("/web/i18n", Fixture, NULL, fixture_set_up, test_i18n, fixture_tear_down);
  g_test_add ("/web/annotate", Fixture, NULL, fixture_set_up, test_annotate,
              fixture_tear_down);
  g_test_add ("/web/ab-test", Fixture, NULL, fixture_set_up, test_ab_test,
              fixture_tear_down);
  g_test_add ("/web/prefetched", Fixture, NULL, fixture_set_up, test_prefetched,
              fixture_tear_down);
  /* bench/bench-web.sh: test-web -m perf -p /web/bench */
  if (g_test_perf ())
    g_test_add ("/web/bench", Fixture, NULL, fixture_set_up, test_bench, fixture_tear_down);

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
