/* test-api-annotate.c: batches, the annotation queue, media and export
 * over the real REST server
 *
 * The server binary runs against a real PostgreSQL database and a file
 * store in the test's directory; the test stores images in that store and
 * records them with cdl_generation_repo_insert(), as ingestion does, so
 * these tests do not need a worker.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "cdl-test-server.h"
#include "core/cdl-auth.h"
#include "core/cdl-json.h"
#include "core/cdl-media-sign.h"
#include "core/cdl-shuffle.h"
#include "db/cdl-job-repo.h"
#include "db/cdl-pq.h"
#include "services/cdl-auth-service.h"
#include "storage/cdl-fs-store.h"
#include "storage/cdl-storage-key.h"

static CdlTestPg *pg;

/* The fixture is the shared one of a single server. */
typedef CdlTestApi Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  cdl_test_api_set_up (f, pg, "cdl-api-annotate-XXXXXX", TRUE);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  cdl_test_api_tear_down (f);
}

/* HTTP and SQL ---------------------------------------------------------------- */

/* Annotation helpers ---------------------------------------------------------- */

/* Asserts a successful envelope with @want for @token; returns its data. */
static JsonNode *
call_as (Fixture    *f,
         const char *token,
         const char *method,
         const char *path,
         const char *body,
         guint       want)
{
  g_autoptr(JsonNode) root = NULL;
  JsonObject *obj;
  guint status;

  root = cdl_test_api (f, method, path, token, body, &status);
  g_assert_nonnull (root);
  obj = json_node_get_object (root);
  if (status != want)
    g_error ("%s %s: expected %u, got %u: %s", method, path, want, status,
             json_object_get_string_member_with_default (obj, "error", "(none)"));
  g_assert_true (json_object_get_boolean_member (obj, "success"));
  return json_node_copy (json_object_get_member (obj, "data"));
}

/* A frozen task of @k prompts × @n seeds, made over HTTP. */
static char *
make_task (Fixture    *f,
           const char *name,
           int         k,
           int         n)
{
  g_autofree char *template = g_strdup_printf ("a {%s}", name);
  g_autofree char *workflow = cdl_test_api_insert_workflow (f, name, template, TRUE);
  g_autofree char *pool = cdl_test_api_create_pool (f, name, "permutation", name, k);
  g_autofree char *body = cdl_test_task_body (workflow, pool, NULL, k, n, NULL);
  g_autofree char *freeze = NULL;
  g_autoptr(JsonNode) task = NULL;
  g_autoptr(JsonNode) frozen = NULL;
  char *id;

  task = cdl_test_api_ok (f, "POST", "/api/tasks", body, 201);
  id = g_strdup (json_object_get_string_member (json_node_get_object (task), "id"));
  freeze = g_strdup_printf ("/api/tasks/%s/freeze", id);
  frozen = cdl_test_api_ok (f, "POST", freeze, NULL, 200);
  return id;
}

/* The task's prompt ids in prompt order. */
static GStrv
prompt_ids (Fixture    *f,
            const char *task_id)
{
  const char *params[1] = { task_id };
  g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                          "SELECT id FROM prompts WHERE task_id = $1"
                                          " ORDER BY position",
                                          1, params);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  for (int i = 0; i < PQntuples (res); i++)
    g_strv_builder_add (b, cdl_pq_get_string (res, i, 0));
  return g_strv_builder_end (b);
}

static GBytes *
fake_png (const char *prompt_id,
          guint       i)
{
  g_autoptr(GString) s = g_string_new ("\x89PNG\r\n\x1a\n");

  /* Distinct bytes per image, long enough for range tests. */
  for (guint r = 0; r < 8; r++)
    g_string_append_printf (s, "%s/%u/%u;", prompt_id, i, r);
  return g_string_free_to_bytes (g_steal_pointer (&s));
}

/* Stores the first @max images of a prompt's batch (seed order), as
 * ingestion does: files in the store when @files, then the rows. */
static void
store_batch (Fixture    *f,
             const char *task_id,
             const char *prompt_id,
             guint       max,
             gboolean    files)
{
  const char *params[1] = { prompt_id };
  g_autoptr(PGresult) seeds = cdl_test_sql (f->conninfo,
                                            "SELECT id, seed_value, position FROM seeds"
                                            " WHERE prompt_id = $1 ORDER BY position",
                                            1, params);
  PGconn *conn = cdl_test_api_connect (f);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  for (int i = 0; i < PQntuples (seeds) && (guint)i < max; i++)
    {
      gint64 seed = cdl_pq_get_int64 (seeds, i, 1);
      int index = cdl_pq_get_int (seeds, i, 2);
      g_autoptr(GError) error = NULL;
      g_autofree char *key = cdl_storage_key_for_image (task_id, prompt_id, seed, index, now,
                                                        &error);
      g_autofree char *thumb = cdl_storage_key_thumbnail_for_image (key, &error);
      g_autofree char *checksum = NULL;
      g_autofree char *gen_id = NULL;
      CdlGenerationInput in = { 0 };
      gboolean inserted = FALSE;

      g_assert_no_error (error);
      if (files)
        {
          g_autoptr(GBytes) bytes = fake_png (prompt_id, index);
          g_autoptr(GBytes) small = g_bytes_new_static ("thumbnail", 9);
          g_autoptr(CdlObjectInfo) info = NULL;
          g_autoptr(CdlObjectInfo) thumb_info = NULL;

          info = cdl_object_store_put_bytes (f->store, key, bytes, NULL, &error);
          g_assert_no_error (error);
          thumb_info = cdl_object_store_put_bytes (f->store, thumb, small, NULL, &error);
          g_assert_no_error (error);
          checksum = g_strdup (info->sha256);
        }
      else
        {
          checksum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
        }

      in.task_id = task_id;
      in.prompt_id = prompt_id;
      in.seed_id = cdl_pq_get_string (seeds, i, 0);
      in.seed_value = seed;
      in.batch_index = index;
      in.image_uri = key;
      in.thumb_uri = thumb;
      in.checksum = checksum;
      in.bytes = 100;
      in.width = 512;
      in.height = 512;
      gen_id = cdl_generation_repo_insert (conn, &in, &inserted, &error);
      g_assert_no_error (error);
      /* Storing the rest of a batch passes over its stored images. */
      g_assert_true (inserted == (gen_id != NULL));
    }

  PQfinish (conn);
}

static char *
user_id_of (Fixture    *f,
            const char *name)
{
  const char *params[1] = { name };
  g_autoptr(PGresult) res = cdl_test_sql (f->conninfo, "SELECT id FROM users WHERE name = $1", 1,
                                          params);

  g_assert_cmpint (PQntuples (res), ==, 1);
  return g_strdup (cdl_pq_get_string (res, 0, 0));
}

/* Raw GET of @path (or a full URL); one optional request header. */
static GBytes *
fetch (Fixture      *f,
       const char   *path,
       const char   *token,
       const char   *header,
       const char   *value,
       SoupMessage **out_msg)
{
  g_autofree char *url = g_str_has_prefix (path, "http") ? g_strdup (path)
                                                          : g_strconcat (f->base_url, path, NULL);
  SoupMessage *msg = soup_message_new ("GET", url);
  g_autoptr(GError) error = NULL;
  GBytes *reply;

  g_assert_nonnull (msg);
  if (token != NULL)
    {
      g_autofree char *bearer = g_strconcat ("Bearer ", token, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                    bearer);
    }
  if (header != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), header, value);

  reply = soup_session_send_and_read (f->http, msg, NULL, &error);
  g_assert_no_error (error);
  *out_msg = msg;
  return reply;
}

static guint
fetch_status (Fixture    *f,
              const char *path)
{
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) body = fetch (f, path, NULL, NULL, NULL, &msg);

  return soup_message_get_status (msg);
}

/* Every batch of a task through pages of @limit; asserts page sizes. */
static GPtrArray *
all_batches (Fixture    *f,
             const char *token,
             const char *task_id,
             guint       limit,
             guint      *pages)
{
  GPtrArray *batches = g_ptr_array_new_with_free_func ((GDestroyNotify)json_node_unref);
  g_autofree char *cursor = NULL;

  *pages = 0;
  do
    {
      g_autofree char *path = cursor
        ? g_strdup_printf ("/api/tasks/%s/batches?limit=%u&cursor=%s", task_id, limit, cursor)
        : g_strdup_printf ("/api/tasks/%s/batches?limit=%u", task_id, limit);
      g_autoptr(JsonNode) data = call_as (f, token, "GET", path, NULL, 200);
      JsonObject *obj = json_node_get_object (data);
      JsonArray *page = json_object_get_array_member (obj, "batches");

      g_assert_cmpuint (json_array_get_length (page), <=, limit);
      for (guint i = 0; i < json_array_get_length (page); i++)
        g_ptr_array_add (batches, json_node_copy (json_array_get_element (page, i)));

      g_clear_pointer (&cursor, g_free);
      if (!json_object_get_null_member (obj, "next_cursor"))
        {
          cursor = g_strdup (json_object_get_string_member (obj, "next_cursor"));
          /* Another page follows only when this one was full. */
          g_assert_cmpuint (json_array_get_length (page), ==, limit);
        }
      (*pages)++;
    }
  while (cursor != NULL);

  return batches;
}

static const char *
batch_id (JsonNode *batch)
{
  return json_object_get_string_member (json_node_get_object (batch), "batch_id");
}

static char *
submit_body (const char *task_id,
             const char *batch,
             const char *rest)
{
  return g_strdup_printf ("{\"task_id\": \"%s\", \"batch_id\": \"%s\"%s%s}", task_id, batch,
                          rest ? ", " : "", rest ? rest : "");
}

/* Tests ---------------------------------------------------------------------- */

static void
test_batches_paging (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *task = make_task (f, "dress", 7, 3);
  g_autofree char *annotator = cdl_test_api_token_for_role (f, "ann", CDL_ROLE_ANNOTATOR);
  g_auto(GStrv) prompts = prompt_ids (f, task);
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/batches", task);
  g_autofree char *unknown = g_strdup_printf ("/api/tasks/%s/batches",
                                              "00000000-0000-4000-8000-000000000000");
  g_autoptr(GPtrArray) batches = NULL;
  g_autoptr(GPtrArray) again = NULL;
  g_autoptr(GPtrArray) later = NULL;
  guint pages = 0;
  /* Stored in this order, so the batches come in this order. */
  const guint order[] = { 3, 0, 5, 1, 6, 2 };

  cdl_test_api_error (f, "GET", path, annotator, NULL, 409, "no generated images");
  cdl_test_api_error (f, "GET", unknown, annotator, NULL, 404, NULL);
  cdl_test_api_error (f, "GET", path, NULL, NULL, 401, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      store_batch (f, task, prompts[order[i]], 3, TRUE);
      g_usleep (2000);
    }
  /* Prompt 4 is still being generated: two of its three images. */
  store_batch (f, task, prompts[4], 2, TRUE);

  batches = all_batches (f, annotator, task, 2, &pages);
  g_assert_cmpuint (pages, ==, 3);
  g_assert_cmpuint (batches->len, ==, G_N_ELEMENTS (order));
  for (guint i = 0; i < batches->len; i++)
    {
      JsonNode *node = g_ptr_array_index (batches, i);
      JsonObject *obj = json_node_get_object (node);
      const char *params[1] = { batch_id (node) };
      g_autoptr(PGresult) seeds = cdl_test_sql (f->conninfo,
                                                "SELECT g.seed_value, g.batch_index, g.id,"
                                                " g.image_uri"
                                                " FROM generations g JOIN seeds s ON s.id ="
                                                " g.seed_id"
                                                " WHERE g.prompt_id = $1 ORDER BY s.position",
                                                1, params);
      JsonArray *seed_list = json_object_get_array_member (obj, "seeds");
      JsonArray *thumbs = json_object_get_array_member (obj, "thumbnails");
      JsonArray *full = json_object_get_array_member (obj, "fullres");

      g_assert_cmpstr (batch_id (node), ==, prompts[order[i]]);
      g_assert_true (g_str_has_prefix (json_object_get_string_member (obj, "prompt"), "a dress "));
      g_assert_cmpuint (json_array_get_length (seed_list), ==, 3);
      g_assert_cmpuint (json_array_get_length (thumbs), ==, 3);
      g_assert_cmpuint (json_array_get_length (full), ==, 3);
      for (guint j = 0; j < 3; j++)
        {
          g_autofree char *escaped = NULL;

          g_assert_cmpint (json_array_get_int_element (seed_list, j), ==,
                           cdl_pq_get_int64 (seeds, j, 0));
          g_assert_cmpint (json_array_get_int_element (
                             json_object_get_array_member (obj, "batch_indexes"), j), ==,
                           cdl_pq_get_int (seeds, j, 1));
          g_assert_cmpstr (json_array_get_string_element (
                             json_object_get_array_member (obj, "image_ids"), j), ==,
                           cdl_pq_get_string (seeds, j, 2));
          escaped = g_strconcat ("/media/", cdl_pq_get_string (seeds, j, 3), "?exp=", NULL);
          g_assert_true (g_str_has_prefix (json_array_get_string_element (full, j), escaped));
          g_assert_nonnull (strstr (json_array_get_string_element (full, j), "&sig="));
          g_assert_true (g_str_has_prefix (json_array_get_string_element (thumbs, j),
                                           "/media/thumbs/"));
        }
    }

  /* Stable: the same walk with other page sizes gives the same order. */
  again = all_batches (f, annotator, task, 4, &pages);
  g_assert_cmpuint (pages, ==, 2);
  g_assert_cmpuint (again->len, ==, batches->len);
  for (guint i = 0; i < again->len; i++)
    g_assert_cmpstr (batch_id (g_ptr_array_index (again, i)), ==,
                     batch_id (g_ptr_array_index (batches, i)));

  /* The last image of prompt 4 arrives: it is offered, after the others
   * whose first image came earlier... its first image came last but one. */
  store_batch (f, task, prompts[4], 3, TRUE);
  later = all_batches (f, annotator, task, 3, &pages);
  g_assert_cmpuint (later->len, ==, 7);
  g_assert_cmpstr (batch_id (g_ptr_array_index (later, 6)), ==, prompts[4]);

  /* Cursors are opaque but checked. */
  {
    g_autofree char *bad = g_strdup_printf ("%s?cursor=bm90LWEtY3Vyc29y", path);
    g_autofree char *bad_limit = g_strdup_printf ("%s?limit=0", path);

    cdl_test_api_error (f, "GET", bad, annotator, NULL, 400, "cursor");
    cdl_test_api_error (f, "GET", bad_limit, annotator, NULL, 400, "limit");
  }
}

static void
test_next_batch (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *task = make_task (f, "hat", 3, 2);
  g_autofree char *ann_a = cdl_test_api_token_for_role (f, "alice", CDL_ROLE_ANNOTATOR);
  g_autofree char *ann_b = cdl_test_api_token_for_role (f, "bob", CDL_ROLE_ANNOTATOR);
  g_autofree char *ann_c = cdl_test_api_token_for_role (f, "carol", CDL_ROLE_ANNOTATOR);
  g_autofree char *ann_d = cdl_test_api_token_for_role (f, "dave", CDL_ROLE_ANNOTATOR);
  g_autofree char *alice = user_id_of (f, "alice");
  g_auto(GStrv) prompts = prompt_ids (f, task);
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/next-batch", task);
  g_autoptr(JsonNode) a1 = NULL;
  g_autoptr(JsonNode) a2 = NULL;
  g_autoptr(JsonNode) b1 = NULL;
  g_autoptr(JsonNode) c1 = NULL;
  g_autoptr(JsonNode) d1 = NULL;
  g_autoptr(JsonNode) d2 = NULL;
  g_autoptr(JsonNode) d3 = NULL;
  g_autoptr(JsonNode) saved = NULL;
  g_autoptr(GHashTable) handed = g_hash_table_new (g_str_hash, g_str_equal);
  JsonObject *batch;
  JsonArray *shown;
  const char *x;
  guint want[2];

  cdl_test_api_error (f, "GET", path, ann_a, NULL, 409, NULL);

  for (guint i = 0; i < 3; i++)
    store_batch (f, task, prompts[i], 2, TRUE);

  a1 = call_as (f, ann_a, "GET", path, NULL, 200);
  batch = json_object_get_object_member (json_node_get_object (a1), "batch");
  g_assert_nonnull (batch);
  x = json_object_get_string_member (batch, "batch_id");
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (a1), "lease_seconds"),
                   ==, 300);
  /* The shown order is the per-user shuffle, a permutation of the batch. */
  shown = json_object_get_array_member (batch, "shown_order");
  g_assert_cmpuint (json_array_get_length (shown), ==, 2);
  cdl_shuffle_order (alice, x, 2, want);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpint (json_array_get_int_element (shown, i), ==, want[i]);
  /* Prefetch: the other batches' thumbnails, signed and cacheable. */
  {
    JsonArray *prefetch = json_object_get_array_member (json_node_get_object (a1), "prefetch");

    g_assert_cmpuint (json_array_get_length (prefetch), ==, 2);
    for (guint i = 0; i < 2; i++)
      {
        JsonObject *next = json_array_get_object_element (prefetch, i);
        JsonArray *thumbs = json_object_get_array_member (next, "thumbnails");

        JsonArray *next_shown = json_object_get_array_member (next, "shown_order");
        guint next_want[2];

        g_assert_cmpstr (json_object_get_string_member (next, "batch_id"), !=, x);
        g_assert_cmpuint (json_array_get_length (thumbs), ==, 2);
        /* Enough to show it before its lease: the order a lease gives. */
        g_assert_nonnull (json_object_get_string_member (next, "prompt"));
        g_assert_cmpuint (json_array_get_length (json_object_get_array_member (next, "seeds")),
                          ==, 2);
        g_assert_cmpuint (json_array_get_length (json_object_get_array_member (next,
                                                                               "image_ids")),
                          ==, 2);
        g_assert_false (json_object_has_member (next, "checksums"));
        cdl_shuffle_order (alice, json_object_get_string_member (next, "batch_id"), 2,
                           next_want);
        for (guint j = 0; j < 2; j++)
          g_assert_cmpint (json_array_get_int_element (next_shown, j), ==, next_want[j]);
        for (guint j = 0; j < 2; j++)
          {
            g_autoptr(SoupMessage) msg = NULL;
            g_autoptr(GBytes) thumb = fetch (f, json_array_get_string_element (thumbs, j),
                                             NULL, NULL, NULL, &msg);

            g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
            g_assert_true (g_str_has_prefix (soup_message_headers_get_one (
                                               soup_message_get_response_headers (msg),
                                               "Cache-Control"), "public, max-age="));
            g_assert_cmpstr (soup_message_headers_get_content_type (
                               soup_message_get_response_headers (msg), NULL), ==,
                             "image/jpeg");
          }
      }
  }
  g_hash_table_add (handed, (gpointer)x);

  /* Asking again returns the same leased batch. */
  a2 = call_as (f, ann_a, "GET", path, NULL, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (json_node_get_object (a2), "batch"),
                     "batch_id"), ==, x);

  /* Others get other batches while the lease holds. */
  b1 = call_as (f, ann_b, "GET", path, NULL, 200);
  c1 = call_as (f, ann_c, "GET", path, NULL, 200);
  for (JsonNode **n = (JsonNode *[]){ b1, c1, NULL }; *n != NULL; n++)
    {
      const char *id = json_object_get_string_member (
        json_object_get_object_member (json_node_get_object (*n), "batch"), "batch_id");

      g_assert_false (g_hash_table_contains (handed, id));
      g_hash_table_add (handed, (gpointer)id);
    }

  /* Nothing left for a fourth annotator: data.batch is null. */
  d1 = call_as (f, ann_d, "GET", path, NULL, 200);
  g_assert_true (json_object_get_null_member (json_node_get_object (d1), "batch"));

  /* Alice labels her batch: with overlap 1 it is done, still nothing for
   * Dave. */
  {
    g_autofree char *body = submit_body (task, x, "\"chosen_index\": 1, \"spam\": false");

    saved = call_as (f, ann_a, "POST", "/api/annotations", body, 201);
  }
  d2 = call_as (f, ann_d, "GET", path, NULL, 200);
  g_assert_true (json_object_get_null_member (json_node_get_object (d2), "batch"));

  /* Overlap 2: Alice's batch needs a second label, and Dave gets it. */
  {
    const char *params[1] = { task };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "UPDATE tasks SET settings = settings ||"
                                            " '{\"overlap\": 2}'"
                                            " WHERE id = $1", 1, params);
  }
  /* Dave now gets every batch once, those with fewer labels first, so
   * Alice's labelled one comes last. */
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(JsonNode) next = call_as (f, ann_d, "GET", path, NULL, 200);
      g_autofree char *body = NULL;
      g_autoptr(JsonNode) label = NULL;
      const char *id;

      batch = json_object_get_object_member (json_node_get_object (next), "batch");
      g_assert_nonnull (batch);
      id = json_object_get_string_member (batch, "batch_id");
      if (i < 2)
        g_assert_cmpstr (id, !=, x);
      else
        g_assert_cmpstr (id, ==, x);
      body = submit_body (task, id, "\"chosen_index\": 0");
      label = call_as (f, ann_d, "POST", "/api/annotations", body, 201);
    }
  d3 = call_as (f, ann_d, "GET", path, NULL, 200);
  g_assert_true (json_object_get_null_member (json_node_get_object (d3), "batch"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (d3), "prefetch")), ==, 0);

  /* Alice never gets her own labelled batch back. */
  {
    g_autoptr(JsonNode) a3 = call_as (f, ann_a, "GET", path, NULL, 200);
    JsonObject *b = json_object_get_object_member (json_node_get_object (a3), "batch");

    g_assert_true (b == NULL || g_strcmp0 (json_object_get_string_member (b, "batch_id"), x) != 0);
  }
}

typedef struct
{
  GPtrArray *ids;
  guint      pending;
} Race;

static void
race_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Race *race = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
                                                              &error);
  g_autoptr(JsonNode) root = NULL;
  JsonObject *batch;

  g_assert_no_error (error);
  root = cdl_json_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  batch = json_object_get_object_member (
    json_object_get_object_member (json_node_get_object (root), "data"), "batch");
  g_ptr_array_add (race->ids, g_strdup (batch ? json_object_get_string_member (batch, "batch_id")
                                              : "none"));
  race->pending--;
}

static void
test_next_batch_race (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *task = make_task (f, "glove", 6, 2);
  g_auto(GStrv) prompts = prompt_ids (f, task);
  g_autofree char *url = g_strdup_printf ("%s/api/tasks/%s/next-batch", f->base_url, task);
  g_autoptr(GPtrArray) msgs = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(SoupSession) session = soup_session_new_with_options ("max-conns-per-host", 16,
                                                                   "timeout", 60, NULL);
  Race race = { g_ptr_array_new_with_free_func (g_free), 0 };
  guint none = 0;

  for (guint i = 0; prompts[i] != NULL; i++)
    store_batch (f, task, prompts[i], 2, FALSE);

  /* Eight annotators ask at once for six batches: six distinct batches and
   * two empty answers, never one batch twice. */
  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *name = g_strdup_printf ("racer%u", i);
      g_autofree char *token = cdl_test_api_token_for_role (f, name, CDL_ROLE_ANNOTATOR);
      g_autofree char *bearer = g_strconcat ("Bearer ", token, NULL);
      SoupMessage *msg = soup_message_new ("GET", url);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                    bearer);
      g_ptr_array_add (msgs, msg);
    }
  for (guint i = 0; i < msgs->len; i++)
    {
      race.pending++;
      soup_session_send_and_read_async (session, g_ptr_array_index (msgs, i), G_PRIORITY_DEFAULT,
                                        NULL, race_done_cb, &race);
    }
  while (race.pending > 0)
    g_main_context_iteration (NULL, TRUE);

  for (guint i = 0; i < race.ids->len; i++)
    {
      const char *id = g_ptr_array_index (race.ids, i);

      g_assert_cmpuint (soup_message_get_status (g_ptr_array_index (msgs, i)), ==, 200);
      if (strcmp (id, "none") == 0)
        {
          none++;
          continue;
        }
      if (g_hash_table_contains (seen, id))
        g_error ("Batch %s was handed to two annotators at once", id);
      g_hash_table_add (seen, (gpointer)id);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 6);
  g_assert_cmpuint (none, ==, 2);
  g_ptr_array_unref (race.ids);
}

static void
test_annotation_validation (Fixture       *f,
                            gconstpointer  data)
{
  g_autofree char *task = make_task (f, "shoe", 2, 3);
  g_autofree char *empty_task = make_task (f, "boot", 1, 2);
  g_autofree char *ann = cdl_test_api_token_for_role (f, "ann", CDL_ROLE_ANNOTATOR);
  g_autofree char *ann_id = user_id_of (f, "ann");
  g_auto(GStrv) prompts = prompt_ids (f, task);
  g_auto(GStrv) empty_prompts = prompt_ids (f, empty_task);
  const char *b = prompts[0];
  const char *unknown = "00000000-0000-4000-8000-000000000000";
  g_autoptr(JsonNode) first = NULL;
  g_autoptr(JsonNode) second = NULL;
  g_autoptr(JsonNode) spam = NULL;
  struct { const char *rest; const char *field; } bad[] = {
    { NULL, "chosen_index" },
    { "\"chosen_index\": 3", "chosen_index" },
    { "\"chosen_index\": -1", "chosen_index" },
    { "\"chosen_index\": \"1\"", "chosen_index" },
    { "\"chosen_index\": 1.5", "chosen_index" },
    { "\"chosen_index\": 1, \"rejected_index\": 1", "rejected_index" },
    { "\"chosen_index\": 1, \"rejected_index\": 3", "rejected_index" },
    { "\"chosen_index\": 1, \"spam\": \"yes\"", "spam" },
    { "\"chosen_index\": 1, \"shown_order\": [0, 0, 1]", "shown_order" },
    { "\"chosen_index\": 1, \"shown_order\": [0, 1]", "shown_order" },
    { "\"chosen_index\": 1, \"shown_order\": \"012\"", "shown_order" },
    { "\"chosen_index\": 1, \"decision_ms\": -5", "decision_ms" },
  };

  /* No images at all yet in the task: 409. */
  {
    g_autofree char *body = submit_body (empty_task, empty_prompts[0], "\"chosen_index\": 0");

    cdl_test_api_error (f, "POST", "/api/annotations", ann, body, 409, NULL);
  }

  store_batch (f, task, prompts[0], 3, FALSE);
  store_batch (f, task, prompts[1], 1, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *body = submit_body (task, b, bad[i].rest);

      cdl_test_api_error (f, "POST", "/api/annotations", ann, body, 400, bad[i].field);
    }
  cdl_test_api_error (f, "POST", "/api/annotations", ann, "{\"batch_id\": \"x\"}", 400, "task_id");
  {
    g_autofree char *body = submit_body (task, "not-a-uuid", "\"chosen_index\": 0");

    cdl_test_api_error (f, "POST", "/api/annotations", ann, body, 400, "batch_id");
  }
  cdl_test_api_error (f, "POST", "/api/annotations", ann, "[1, 2]", 400, NULL);
  {
    g_autofree char *body = submit_body (task, unknown, "\"chosen_index\": 0");

    cdl_test_api_error (f, "POST", "/api/annotations", ann, body, 404, unknown);
  }
  {
    g_autofree char *body = submit_body (unknown, b, "\"chosen_index\": 0");

    cdl_test_api_error (f, "POST", "/api/annotations", ann, body, 404, unknown);
  }
  /* A batch still being generated cannot be labelled yet. */
  {
    g_autofree char *body = submit_body (task, prompts[1], "\"chosen_index\": 0");

    cdl_test_api_error (f, "POST", "/api/annotations", ann, body, 409, NULL);
  }

  /* A first submit creates; a re-submit updates the same row. The user is
   * the token's, whatever the body says. */
  {
    g_autofree char *body = submit_body (task, b,
                                         "\"chosen_index\": 2, \"rejected_index\": 0,"
                                         " \"spam\": false, \"shown_order\": [2, 0, 1],"
                                         " \"decision_ms\": 1500,"
                                         " \"user_id\": \"00000000-0000-4000-8000-000000000001\"");

    first = call_as (f, ann, "POST", "/api/annotations", body, 201);
  }
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (first), "user_id"), ==,
                   ann_id);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (first), "chosen_index"), ==,
                   2);
  {
    g_autofree char *body = submit_body (task, b, "\"chosen_index\": 1, \"spam\": false");

    second = call_as (f, ann, "POST", "/api/annotations", body, 200);
  }
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (first), "id"), ==,
                   json_object_get_string_member (json_node_get_object (second), "id"));
  g_assert_true (json_object_get_null_member (json_node_get_object (second), "rejected_index"));
  {
    const char *params[2] = { task, b };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT count (*), min (chosen_index), min"
                                            " (user_id::text),"
                                            "  min (decision_ms), min (shown_order::text)"
                                            " FROM annotations WHERE task_id = $1 AND batch_id ="
                                            " $2",
                                            2, params);

    g_assert_cmpint (cdl_pq_get_int (res, 0, 0), ==, 1);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 1), ==, 1);
    g_assert_cmpstr (cdl_pq_get_string (res, 0, 2), ==, ann_id);
    /* Fields the re-submit left out keep their values. */
    g_assert_cmpint (cdl_pq_get_int (res, 0, 3), ==, 1500);
    g_assert_cmpstr (cdl_pq_get_string (res, 0, 4), ==, "{2,0,1}");
  }

  /* Spam needs no chosen image. */
  {
    g_autofree char *body = submit_body (task, b, "\"spam\": true");

    spam = call_as (f, ann, "POST", "/api/annotations", body, 200);
  }
  g_assert_true (json_object_get_boolean_member (json_node_get_object (spam), "spam"));
  g_assert_true (json_object_get_null_member (json_node_get_object (spam), "chosen_index"));
}

static void
test_media (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *task = make_task (f, "coat", 1, 2);
  g_autofree char *ann = cdl_test_api_token_for_role (f, "ann", CDL_ROLE_ANNOTATOR);
  g_auto(GStrv) prompts = prompt_ids (f, task);
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/batches", task);
  g_autoptr(JsonNode) page = NULL;
  g_autoptr(GBytes) stored = NULL;
  g_autoptr(SoupMessage) ok = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *key_path = g_build_filename (f->data_dir, "media.key", NULL);
  g_autofree char *secret_text = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *url = NULL;
  JsonObject *batch;
  const char *full;
  const char *checksum;
  const char *key;
  SoupMessageHeaders *h;
  GStatBuf st;
  gsize size;

  store_batch (f, task, prompts[0], 2, TRUE);
  page = call_as (f, ann, "GET", path, NULL, 200);
  batch = json_array_get_object_element (json_object_get_array_member (json_node_get_object (page),
                                                                       "batches"), 0);
  full = json_array_get_string_element (json_object_get_array_member (batch, "fullres"), 1);
  checksum = json_array_get_string_element (json_object_get_array_member (batch, "checksums"), 1);
  {
    const char *params[1] = { json_array_get_string_element (
                                json_object_get_array_member (batch, "image_ids"), 1) };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT image_uri FROM generations WHERE id = $1",
                                            1, params);

    key = g_intern_string (cdl_pq_get_string (res, 0, 0));
  }
  stored = cdl_object_store_get_bytes (f->store, key, NULL, NULL, NULL);
  size = g_bytes_get_size (stored);

  /* The key is made on first use, private to the owner. */
  g_assert_cmpint (g_stat (key_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* A valid link: no token needed. */
  body = fetch (f, full, NULL, NULL, NULL, &ok);
  g_assert_cmpuint (soup_message_get_status (ok), ==, 200);
  g_assert_true (g_bytes_equal (body, stored));
  h = soup_message_get_response_headers (ok);
  g_assert_cmpstr (soup_message_headers_get_content_type (h, NULL), ==, "image/png");
  g_assert_cmpint (soup_message_headers_get_content_length (h), ==, size);
  etag = g_strdup_printf ("\"%s\"", checksum);
  g_assert_cmpstr (soup_message_headers_get_one (h, "ETag"), ==, etag);
  g_assert_true (g_str_has_prefix (soup_message_headers_get_one (h, "Cache-Control"),
                                   "public, max-age="));
  g_assert_nonnull (strstr (soup_message_headers_get_one (h, "Cache-Control"), "immutable"));
  {
    const char *max_age = strstr (soup_message_headers_get_one (h, "Cache-Control"), "=") + 1;

    g_assert_cmpint (g_ascii_strtoll (max_age, NULL, 10), >=, CDL_MEDIA_URL_LIFETIME_S - 5);
  }

  /* Thumbnails are signed too. */
  g_assert_cmpuint (fetch_status (f, json_array_get_string_element (
                                    json_object_get_array_member (batch, "thumbnails"), 0)),
                    ==, 200);

  /* Forged: another key with this signature, a changed signature, a later
   * expiry, no signature. */
  {
    g_autofree char *other = g_strdup (full);
    g_autofree char *flipped = g_strdup (full);
    char *sig = strstr (flipped, "sig=") + 4;
    char *exp = strstr (other, "exp=") + 4;
    g_autofree char *unsigned_url = g_strndup (full, strchr (full, '?') - full);
    g_autofree char *other_key = NULL;

    sig[0] = sig[0] == 'a' ? 'b' : 'a';
    exp[0] = exp[0] == '9' ? '8' : exp[0] + 1;
    other_key = g_strdup (full);
    /* The other image of the batch, with this image's query string. */
    {
      const char *other_full = json_array_get_string_element (
        json_object_get_array_member (batch, "fullres"), 0);
      g_autofree char *base = g_strndup (other_full, strchr (other_full, '?') - other_full);

      g_free (other_key);
      other_key = g_strconcat (base, strchr (full, '?'), NULL);
    }

    g_assert_cmpuint (fetch_status (f, flipped), ==, 403);
    g_assert_cmpuint (fetch_status (f, other), ==, 403);
    g_assert_cmpuint (fetch_status (f, unsigned_url), ==, 403);
    g_assert_cmpuint (fetch_status (f, other_key), ==, 403);
  }

  /* Expired: properly signed with the installation's key, in the past. */
  g_assert_true (g_file_get_contents (key_path, &secret_text, NULL, NULL));
  g_strstrip (secret_text);
  {
    g_autoptr(GBytes) secret = g_bytes_new (secret_text, strlen (secret_text));
    gint64 now = g_get_real_time () / G_USEC_PER_SEC;
    g_autofree char *expired = cdl_media_sign_url (secret, "/media/", key, now - 10);
    g_autofree char *fresh = cdl_media_sign_url (secret, "/media/", key, now + 60);

    g_assert_cmpuint (fetch_status (f, expired), ==, 403);
    /* The same key signs a valid link: the refusal was the expiry. */
    g_assert_cmpuint (fetch_status (f, fresh), ==, 200);
  }

  /* If-None-Match with the ETag: 304 without a body. */
  {
    g_autoptr(SoupMessage) msg = NULL;
    g_autoptr(GBytes) empty = fetch (f, full, NULL, "If-None-Match", etag, &msg);

    g_assert_cmpuint (soup_message_get_status (msg), ==, 304);
    g_assert_cmpuint (g_bytes_get_size (empty), ==, 0);
  }
  {
    g_autoptr(SoupMessage) msg = NULL;
    g_autoptr(GBytes) again = fetch (f, full, NULL, "If-None-Match", "\"0000\"", &msg);

    g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  }

  /* Ranges. */
  {
    g_autoptr(SoupMessage) msg = NULL;
    g_autoptr(GBytes) part = fetch (f, full, NULL, "Range", "bytes=2-9", &msg);
    g_autofree char *want_range = g_strdup_printf ("bytes 2-9/%" G_GSIZE_FORMAT, size);

    g_assert_cmpuint (soup_message_get_status (msg), ==, 206);
    g_assert_cmpmem (g_bytes_get_data (part, NULL), g_bytes_get_size (part),
                     (const char *)g_bytes_get_data (stored, NULL) + 2, 8);
    g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                   "Content-Range"), ==, want_range);
  }
  {
    g_autoptr(SoupMessage) msg = NULL;
    g_autoptr(GBytes) part = fetch (f, full, NULL, "Range", "bytes=-5", &msg);

    g_assert_cmpuint (soup_message_get_status (msg), ==, 206);
    g_assert_cmpmem (g_bytes_get_data (part, NULL), g_bytes_get_size (part),
                     (const char *)g_bytes_get_data (stored, NULL) + size - 5, 5);
  }
  {
    g_autoptr(SoupMessage) msg = NULL;
    g_autofree char *past = g_strdup_printf ("bytes=%" G_GSIZE_FORMAT "-", size);
    g_autofree char *want_range = g_strdup_printf ("bytes */%" G_GSIZE_FORMAT, size);
    g_autoptr(GBytes) part = fetch (f, full, NULL, "Range", past, &msg);

    g_assert_cmpuint (soup_message_get_status (msg), ==, 416);
    g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                   "Content-Range"), ==, want_range);
  }

  /* HEAD: the same headers, no body. */
  {
    g_autofree char *head_url = g_strconcat (f->base_url, full, NULL);
    g_autoptr(SoupMessage) msg = soup_message_new ("HEAD", head_url);
    g_autoptr(GBytes) none = soup_session_send_and_read (f->http, msg, NULL, NULL);

    g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
    g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                   "ETag"), ==, etag);
    g_assert_cmpint (soup_message_headers_get_content_length (
                       soup_message_get_response_headers (msg)), ==, size);
    g_assert_cmpuint (g_bytes_get_size (none), ==, 0);
  }

  /* The media route takes the rest of the path, but at least one
   * segment of it. */
  g_assert_cmpuint (fetch_status (f, "/media/"), ==, 404);
  g_assert_cmpuint (fetch_status (f, "/media"), ==, 404);

  /* A signed link to an object that is not there: 404. */
  {
    g_autoptr(GBytes) secret = g_bytes_new (secret_text, strlen (secret_text));
    g_autofree char *missing = cdl_media_sign_url (secret, "/media/", "tasks/none.png",
                                                   g_get_real_time () / G_USEC_PER_SEC + 60);

    g_assert_cmpuint (fetch_status (f, missing), ==, 404);
  }
}

static GSubprocess *
start_keyed_server (Fixture    *f,
                    const char *name,
                    const char *media_key,
                    char      **base_url)
{
  g_autoptr(GSubprocessLauncher) launcher = cdl_test_api_launcher (f);
  g_autofree char *data_dir = g_build_filename (f->tmpdir, name, NULL);
  g_autofree char *log_path = g_strconcat (data_dir, ".log", NULL);
  const char *argv[] = { cdl_test_build_path ("src/app/comfy-datalabel-server"),
                         "--port", "0", "--data-dir", data_dir, NULL };

  g_subprocess_launcher_setenv (launcher, "CDL_MEDIA_KEY", media_key, TRUE);
  return cdl_test_server_spawn (launcher, argv, log_path, base_url);
}

static void
stop_server (GSubprocess *server)
{
  g_subprocess_send_signal (server, SIGTERM);
  g_subprocess_wait (server, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (server));
  g_assert_cmpint (g_subprocess_get_exit_status (server), ==, 0);
}

static void
test_media_shared_key (Fixture       *f,
                       gconstpointer  data)
{
  const char *key = "a shared media key for every instance";
  g_autofree char *task = make_task (f, "veil", 1, 2);
  g_auto(GStrv) prompts = prompt_ids (f, task);
  g_autofree char *url_a = NULL;
  g_autofree char *url_b = NULL;
  g_autoptr(GSubprocess) a = NULL;
  g_autoptr(GSubprocess) b = NULL;
  g_autofree char *page_url = NULL;
  g_autofree char *on_b = NULL;
  g_autofree char *on_own = NULL;
  g_autofree char *key_file = g_build_filename (f->tmpdir, "a", "media.key", NULL);
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *batch;
  const char *full;

  store_batch (f, task, prompts[0], 2, TRUE);
  a = start_keyed_server (f, "a", key, &url_a);
  b = start_keyed_server (f, "b", key, &url_b);

  /* A link made by instance A ... */
  page_url = g_strdup_printf ("%s/api/tasks/%s/batches", url_a, task);
  body = fetch (f, page_url, f->admin_token, NULL, NULL, &msg);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  root = cdl_json_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), NULL);
  batch = json_array_get_object_element (json_object_get_array_member (
    json_object_get_object_member (json_node_get_object (root), "data"), "batches"), 0);
  full = json_array_get_string_element (json_object_get_array_member (batch, "fullres"), 0);

  /* ... works on instance B, which shares the key, and not on the
   * fixture's server, which made a key of its own. */
  on_b = g_strconcat (url_b, full, NULL);
  g_assert_cmpuint (fetch_status (f, on_b), ==, 200);
  on_own = g_strconcat (f->base_url, full, NULL);
  g_assert_cmpuint (fetch_status (f, on_own), ==, 403);

  /* With the key in the environment no key file is written. */
  g_assert_false (g_file_test (key_file, G_FILE_TEST_EXISTS));

  stop_server (a);
  stop_server (b);
}

/* Reads an export into lines. */
static GPtrArray *
export_lines_as (Fixture      *f,
                 const char   *task_id,
                 const char   *query,
                 SoupMessage **out_msg)
{
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/export/dpo%s", task_id, query);
  g_autoptr(GBytes) body = fetch (f, path, f->admin_token, NULL, NULL, out_msg);
  g_autofree char *text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GPtrArray *parsed = g_ptr_array_new_with_free_func ((GDestroyNotify)json_node_unref);
  guint n = g_strv_length (lines);

  g_assert_cmpuint (soup_message_get_status (*out_msg), ==, 200);
  /* Every line ends with a newline: the last piece is empty. */
  g_assert_cmpuint (n, >=, 1);
  g_assert_cmpstr (lines[n - 1], ==, "");
  for (guint i = 0; i + 1 < n; i++)
    {
      g_autoptr(GError) error = NULL;
      JsonNode *node = cdl_json_parse (lines[i], -1, &error);

      g_assert_no_error (error);
      g_ptr_array_add (parsed, node);
    }
  return parsed;
}

static GPtrArray *
export_lines (Fixture      *f,
              const char   *task_id,
              SoupMessage **out_msg)
{
  return export_lines_as (f, task_id, "", out_msg);
}

static void
check_image (JsonObject *image,
             PGresult   *rows,
             int         index)
{
  g_assert_cmpstr (json_object_get_string_member (image, "uri"), ==,
                   cdl_pq_get_string (rows, index, 0));
  g_assert_cmpint (json_object_get_int_member (image, "seed"), ==,
                   cdl_pq_get_int64 (rows, index, 1));
  g_assert_cmpint (json_object_get_int_member (image, "batch_index"), ==,
                   cdl_pq_get_int (rows, index, 2));
  g_assert_cmpstr (json_object_get_string_member (image, "checksum"), ==,
                   cdl_pq_get_string (rows, index, 3));
}

static void
test_export (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *task = make_task (f, "scarf", 4, 3);
  g_autofree char *ann_a = cdl_test_api_token_for_role (f, "alice", CDL_ROLE_ANNOTATOR);
  g_autofree char *ann_b = cdl_test_api_token_for_role (f, "bob", CDL_ROLE_ANNOTATOR);
  g_autofree char *alice = user_id_of (f, "alice");
  g_autofree char *bob = user_id_of (f, "bob");
  g_auto(GStrv) prompts = prompt_ids (f, task);
  g_autoptr(GPtrArray) lines = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(JsonNode) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL;
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/export/dpo", task);
  guint explicit_lines = 0, implicit_lines = 0;

  for (guint i = 0; i < 4; i++)
    store_batch (f, task, prompts[i], 3, FALSE);

  /* Explicit pair, implicit rejected, spam (left out), and a second
   * annotator on the first batch. */
  {
    g_autofree char *b1 = submit_body (task, prompts[0],
                                       "\"chosen_index\": 2, \"rejected_index\": 0");
    g_autofree char *b2 = submit_body (task, prompts[1], "\"chosen_index\": 1");
    g_autofree char *b3 = submit_body (task, prompts[2], "\"spam\": true");
    g_autofree char *b4 = submit_body (task, prompts[0], "\"chosen_index\": 0");

    r1 = call_as (f, ann_a, "POST", "/api/annotations", b1, 201);
    r2 = call_as (f, ann_a, "POST", "/api/annotations", b2, 201);
    r3 = call_as (f, ann_a, "POST", "/api/annotations", b3, 201);
    r4 = call_as (f, ann_b, "POST", "/api/annotations", b4, 201);
  }

  lines = export_lines (f, task, &msg);
  g_assert_cmpuint (lines->len, ==, 3);
  g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (msg),
                                                          NULL), ==, "application/jsonl");

  for (guint i = 0; i < lines->len; i++)
    {
      JsonObject *obj = json_node_get_object (g_ptr_array_index (lines, i));
      const char *batch = json_object_get_string_member (obj, "batch_id");
      const char *annotator = json_object_get_string_member (obj, "annotator_id");
      const char *params[2] = { batch, annotator };
      g_autoptr(PGresult) images = cdl_test_sql (f->conninfo,
                                                 "SELECT g.image_uri, g.seed_value, g.batch_index,"
                                                 "  g.checksum"
                                                 " FROM generations g JOIN seeds s ON s.id ="
                                                 " g.seed_id"
                                                 " WHERE g.prompt_id = $1 ORDER BY s.position",
                                                 1, params);
      g_autoptr(PGresult) ann = cdl_test_sql (f->conninfo,
                                              "SELECT a.chosen_index, a.rejected_index, p.text,"
                                              "  t.workflow_id, w.model"
                                              " FROM annotations a JOIN prompts p ON p.id ="
                                              " a.prompt_id"
                                              " JOIN tasks t ON t.id = a.task_id"
                                              " JOIN workflows w ON w.id = t.workflow_id"
                                              " WHERE a.batch_id = $1 AND a.user_id = $2",
                                              2, params);
      JsonArray *rejected = json_object_get_array_member (obj, "rejected");
      int chosen = cdl_pq_get_int (ann, 0, 0);

      g_assert_cmpint (PQntuples (ann), ==, 1);
      g_assert_cmpstr (json_object_get_string_member (obj, "task_id"), ==, task);
      g_assert_true (g_strcmp0 (annotator, alice) == 0 || g_strcmp0 (annotator, bob) == 0);
      g_assert_cmpstr (json_object_get_string_member (obj, "prompt"), ==,
                       cdl_pq_get_string (ann, 0, 2));
      g_assert_cmpstr (json_object_get_string_member (obj, "workflow_id"), ==,
                       cdl_pq_get_string (ann, 0, 3));
      g_assert_cmpstr (json_object_get_string_member (obj, "model"), ==, "sd15.safetensors");
      g_assert_cmpstr (json_object_get_string_member (obj, "variable_pool_version"), ==,
                       "scarf@v1");
      g_assert_true (g_str_has_suffix (json_object_get_string_member (obj, "created_at"), "Z"));
      check_image (json_object_get_object_member (obj, "chosen"), images, chosen);

      if (PQgetisnull (ann, 0, 1))
        {
          guint k = 0;

          g_assert_cmpuint (json_array_get_length (rejected), ==, 2);
          for (int j = 0; j < 3; j++)
            if (j != chosen)
              check_image (json_array_get_object_element (rejected, k++), images, j);
          implicit_lines++;
        }
      else
        {
          g_assert_cmpuint (json_array_get_length (rejected), ==, 1);
          check_image (json_array_get_object_element (rejected, 0), images,
                       cdl_pq_get_int (ann, 0, 1));
          explicit_lines++;
        }
      g_assert_cmpstr (batch, !=, prompts[2]);
    }
  g_assert_cmpuint (explicit_lines, ==, 1);
  g_assert_cmpuint (implicit_lines, ==, 2);

  /* Pairs: 1 for the explicit pair, 2 for each implicit one. */
  {
    g_autoptr(SoupMessage) pairs_msg = NULL;
    g_autoptr(GPtrArray) pairs = export_lines_as (f, task, "?format=pairs", &pairs_msg);
    g_autofree char *bad = g_strdup_printf ("%s?format=csv", path);

    g_assert_cmpuint (pairs->len, ==, 5);
    for (guint i = 0; i < pairs->len; i++)
      {
        JsonObject *obj = json_node_get_object (g_ptr_array_index (pairs, i));
        const char *params[2] = { json_object_get_string_member (obj, "batch_id"),
                                  json_object_get_string_member (obj, "annotator_id") };
        g_autoptr(PGresult) ann = cdl_test_sql (f->conninfo,
                                                "SELECT g.image_uri, g.seed_value"
                                                " FROM annotations a"
                                                " JOIN generations g ON g.prompt_id = a.batch_id"
                                                " JOIN seeds s ON s.id = g.seed_id"
                                                " WHERE a.batch_id = $1 AND a.user_id = $2"
                                                "   AND s.position = a.chosen_index",
                                                2, params);
        const char *chosen = json_object_get_int_member (obj, "label_0") == 1 ? "jpg_0" : "jpg_1";
        const char *other = json_object_get_int_member (obj, "label_0") == 1 ? "jpg_1" : "jpg_0";

        g_assert_cmpstr (json_object_get_string_member (obj, chosen), ==,
                         cdl_pq_get_string (ann, 0, 0));
        g_assert_cmpstr (json_object_get_string_member (obj, other), !=,
                         cdl_pq_get_string (ann, 0, 0));
        g_assert_true (g_str_has_prefix (json_object_get_string_member (obj, "caption"),
                                         "a scarf "));
      }
    cdl_test_api_error (f, "GET", bad, f->admin_token, NULL, 400, "format");
  }

  /* The command line writes the same file. */
  {
    g_autoptr(GSubprocessLauncher) launcher = cdl_test_api_launcher (f);
    g_autofree char *out_path = g_build_filename (f->tmpdir, "export.jsonl", NULL);
    g_autofree char *from_cli = NULL;
    g_autoptr(SoupMessage) again_msg = NULL;
    g_autoptr(GBytes) over_http = fetch (f, path, f->admin_token, NULL, NULL, &again_msg);
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GError) error = NULL;
    gsize len = 0;
    const char *argv[] = { cdl_test_build_path ("src/app/comfy-datalabel-server"),
                           "--data-dir", f->data_dir, "export-dpo", task,
                           "--output", out_path, NULL };

    g_subprocess_launcher_set_flags (launcher, G_SUBPROCESS_FLAGS_STDERR_SILENCE);
    proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
    g_assert_no_error (error);
    g_subprocess_wait_check (proc, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (g_file_get_contents (out_path, &from_cli, &len, NULL));
    g_assert_cmpmem (from_cli, len, g_bytes_get_data (over_http, NULL),
                     g_bytes_get_size (over_http));
    g_assert_cmpuint (len, >, 0);
  }

  /* Only operators export; unknown tasks are 404 envelopes. */
  cdl_test_api_error (f, "GET", path, ann_a, NULL, 403, NULL);
  {
    g_autofree char *unknown = g_strdup_printf ("/api/tasks/%s/export/dpo",
                                                "00000000-0000-4000-8000-000000000000");

    cdl_test_api_error (f, "GET", unknown, f->admin_token, NULL, 404, NULL);
  }
}

static void
test_export_verify (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *task = make_task (f, "sash", 3, 2);
  g_autofree char *ann = cdl_test_api_token_for_role (f, "ann", CDL_ROLE_ANNOTATOR);
  g_auto(GStrv) prompts = prompt_ids (f, task);
  g_autoptr(GPtrArray) lines = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autofree char *changed_key = NULL;
  g_autofree char *removed_key = NULL;
  JsonObject *summary;
  guint missing = 0, mismatch = 0;

  for (guint i = 0; i < 3; i++)
    store_batch (f, task, prompts[i], 2, TRUE);

  /* Batches 0 and 1 are exported; batch 2 is spam, so its images are
   * not checked even though one of them is damaged too. */
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *body = submit_body (task, prompts[i],
                                           i < 2 ? "\"chosen_index\": 0" : "\"spam\": true");
      g_autoptr(JsonNode) saved = call_as (f, ann, "POST", "/api/annotations", body, 201);
    }

  {
    const char *params[3] = { prompts[0], prompts[1], prompts[2] };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT (SELECT image_uri FROM generations WHERE"
                                            " prompt_id = $1"
                                            "        AND batch_index = 1),"
                                            "       (SELECT image_uri FROM generations WHERE"
                                            " prompt_id = $2"
                                            "        AND batch_index = 0),"
                                            "       (SELECT image_uri FROM generations WHERE"
                                            " prompt_id = $3"
                                            "        AND batch_index = 0)",
                                            3, params);
    g_autoptr(GBytes) other = g_bytes_new_static ("not the image", 13);
    g_autoptr(CdlObjectInfo) info = NULL;
    g_autoptr(GError) error = NULL;

    changed_key = g_strdup (cdl_pq_get_string (res, 0, 0));
    removed_key = g_strdup (cdl_pq_get_string (res, 0, 1));
    info = cdl_object_store_put_bytes (f->store, changed_key, other, NULL, &error);
    g_assert_no_error (error);
    cdl_object_store_delete (f->store, removed_key, NULL, &error);
    g_assert_no_error (error);
    cdl_object_store_delete (f->store, cdl_pq_get_string (res, 0, 2), NULL, &error);
    g_assert_no_error (error);
  }

  {
    g_autofree char *path = g_strdup_printf ("/api/tasks/%s/export/verify", task);
    g_autoptr(GBytes) body = fetch (f, path, f->admin_token, NULL, NULL, &msg);
    g_autofree char *text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
    g_auto(GStrv) parts = g_strsplit (text, "\n", -1);

    g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
    lines = g_ptr_array_new_with_free_func ((GDestroyNotify)json_node_unref);
    for (guint i = 0; parts[i] != NULL && *parts[i] != '\0'; i++)
      g_ptr_array_add (lines, cdl_json_parse (parts[i], -1, NULL));
  }

  g_assert_cmpuint (lines->len, ==, 3);
  for (guint i = 0; i + 1 < lines->len; i++)
    {
      JsonObject *obj = json_node_get_object (g_ptr_array_index (lines, i));
      const char *problem = json_object_get_string_member (obj, "problem");

      if (g_strcmp0 (problem, "missing") == 0)
        {
          g_assert_cmpstr (json_object_get_string_member (obj, "uri"), ==, removed_key);
          missing++;
        }
      else
        {
          g_assert_cmpstr (problem, ==, "mismatch");
          g_assert_cmpstr (json_object_get_string_member (obj, "uri"), ==, changed_key);
          g_assert_cmpstr (json_object_get_string_member (obj, "actual"), !=,
                           json_object_get_string_member (obj, "expected"));
          mismatch++;
        }
    }
  g_assert_cmpuint (missing, ==, 1);
  g_assert_cmpuint (mismatch, ==, 1);

  summary = json_node_get_object (g_ptr_array_index (lines, lines->len - 1));
  g_assert_true (json_object_get_boolean_member (summary, "summary"));
  g_assert_cmpint (json_object_get_int_member (summary, "checked"), ==, 4);
  g_assert_cmpint (json_object_get_int_member (summary, "missing"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (summary, "mismatched"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (summary, "unreadable"), ==, 0);
}

static void
test_export_streams (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *task = make_task (f, "gown", 1200, 2);
  g_autofree char *ann = cdl_test_api_token_for_role (f, "ann", CDL_ROLE_ANNOTATOR);
  g_auto(GStrv) prompts = prompt_ids (f, task);
  g_autoptr(GPtrArray) lines = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; prompts[i] != NULL; i++)
    store_batch (f, task, prompts[i], 2, FALSE);

  {
    const char *params[2] = { task, NULL };
    g_autofree char *user = user_id_of (f, "ann");
    g_autoptr(PGresult) res = NULL;

    params[1] = user;
    res = cdl_test_sql (f->conninfo,
                        "INSERT INTO annotations (task_id, batch_id, prompt_id, user_id,"
                        " chosen_index)"
                        " SELECT task_id, id, id, $2, position % 2 FROM prompts WHERE task_id = $1",
                        2, params);
    g_assert_cmpstr (PQcmdTuples (res), ==, "1200");
  }

  lines = export_lines (f, task, &msg);
  g_assert_cmpuint (lines->len, ==, 1200);
  g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                 "Transfer-Encoding"), ==, "chunked");
  g_assert_cmpint (soup_message_headers_get_content_length (
                     soup_message_get_response_headers (msg)), ==, 0);
  for (guint i = 0; i < lines->len; i++)
    {
      JsonObject *obj = json_node_get_object (g_ptr_array_index (lines, i));
      const char *batch = json_object_get_string_member (obj, "batch_id");

      g_assert_false (g_hash_table_contains (seen, batch));
      g_hash_table_add (seen, (gpointer)batch);
      g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "rejected")),
                        ==, 1);
    }
}

/* Starts an export on a session of its own and leaves its body unread. */
static GInputStream *
hold_export (const char   *url,
             const char   *token,
             SoupSession **session,
             SoupMessage **msg)
{
  g_autofree char *bearer = g_strconcat ("Bearer ", token, NULL);
  g_autoptr(GError) error = NULL;
  GInputStream *stream;

  *session = soup_session_new_with_options ("timeout", 60, NULL);
  *msg = soup_message_new ("GET", url);
  soup_message_headers_replace (soup_message_get_request_headers (*msg), "Authorization",
                                bearer);
  stream = soup_session_send (*session, *msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (*msg), ==, 200);
  return stream;
}

static void
test_export_limit (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *task = make_task (f, "cape", 20000, 2);
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/export/dpo", task);
  g_autofree char *url = g_strconcat (f->base_url, path, NULL);
  g_autofree char *user = user_id_of (f, "root");
  g_autoptr(SoupSession) s1 = NULL, s2 = NULL;
  g_autoptr(SoupMessage) m1 = NULL, m2 = NULL;
  g_autoptr(GInputStream) e1 = NULL, e2 = NULL;
  guint status = 0;

  /* Rows straight in: 20,000 lines, far more than socket buffers hold, so
   * an export whose client does not read stays open. */
  {
    const char *params[2] = { task, user };
    g_autoptr(PGresult) gens = cdl_test_sql (f->conninfo,
                                             "INSERT INTO generations (task_id, prompt_id, seed_id,"
                                             "  seed_value, batch_index, state, image_uri,"
                                             " checksum)"
                                             " SELECT task_id, prompt_id, id, seed_value,"
                                             " position, 'done',"
                                             "  'tasks/' || prompt_id || '-' || position || '.png',"
                                             "  encode (sha256 (id::text::bytea), 'hex')"
                                             " FROM seeds WHERE task_id = $1", 1, params);
    g_autoptr(PGresult) labels = cdl_test_sql (f->conninfo,
                                               "INSERT INTO annotations (task_id, batch_id,"
                                               " prompt_id,"
                                               "  user_id, chosen_index)"
                                               " SELECT task_id, id, id, $2, 0 FROM prompts"
                                               " WHERE task_id = $1", 2, params);
  }

  e1 = hold_export (url, f->admin_token, &s1, &m1);
  e2 = hold_export (url, f->admin_token, &s2, &m2);

  /* Each holds a database connection: a third waits its turn. */
  cdl_test_api_error (f, "GET", path, f->admin_token, NULL, 429, "exports");

  /* A client that goes away frees its slot. */
  g_input_stream_close (e1, NULL, NULL);
  g_clear_object (&e1);
  g_clear_object (&s1);
  for (guint i = 0; i < 100 && status != 200; i++)
    {
      g_autoptr(SoupMessage) msg = NULL;
      g_autoptr(GBytes) body = NULL;

      g_usleep (50 * 1000);
      body = fetch (f, path, f->admin_token, NULL, NULL, &msg);
      status = soup_message_get_status (msg);
      g_assert_true (status == 200 || status == 429);
      if (status == 200)
        g_assert_cmpuint (g_bytes_get_size (body), >, 20000 * 100);
    }
  g_assert_cmpuint (status, ==, 200);
}

static void
test_stats (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *task = make_task (f, "belt", 3, 3);
  g_autofree char *ann_a = cdl_test_api_token_for_role (f, "alice", CDL_ROLE_ANNOTATOR);
  g_autofree char *ann_b = cdl_test_api_token_for_role (f, "bob", CDL_ROLE_ANNOTATOR);
  g_auto(GStrv) prompts = prompt_ids (f, task);
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/annotation-stats", task);
  g_autoptr(JsonNode) stats = NULL;
  JsonArray *annotators;
  JsonObject *a, *b, *agreement;
  struct { const char *token; guint batch; const char *rest; } labels[] = {
    /* Alice: chose what she saw at positions 0, 1, 1; decisions 100, 300, 200 ms. */
    { ann_a, 0, "\"chosen_index\": 2, \"shown_order\": [2, 0, 1], \"decision_ms\": 100" },
    { ann_a, 1, "\"chosen_index\": 0, \"shown_order\": [1, 0, 2], \"decision_ms\": 300" },
    { ann_a, 2, "\"chosen_index\": 1, \"shown_order\": [0, 1, 2], \"decision_ms\": 200" },
    /* Bob: agrees on batch 0, differs on batch 1, spam on batch 2. */
    { ann_b, 0, "\"chosen_index\": 2, \"shown_order\": [0, 1, 2], \"decision_ms\": 1000" },
    { ann_b, 1, "\"chosen_index\": 1, \"shown_order\": [0, 1, 2], \"decision_ms\": 3000" },
    { ann_b, 2, "\"spam\": true, \"decision_ms\": 500" },
  };

  for (guint i = 0; i < 3; i++)
    store_batch (f, task, prompts[i], 3, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    {
      g_autofree char *body = submit_body (task, prompts[labels[i].batch], labels[i].rest);
      g_autoptr(JsonNode) saved = call_as (f, labels[i].token, "POST", "/api/annotations", body,
                                           201);
    }

  cdl_test_api_error (f, "GET", path, ann_a, NULL, 403, NULL);
  stats = cdl_test_api_ok (f, "GET", path, NULL, 200);
  annotators = json_object_get_array_member (json_node_get_object (stats), "annotators");
  g_assert_cmpuint (json_array_get_length (annotators), ==, 2);
  a = json_array_get_object_element (annotators, 0);
  b = json_array_get_object_element (annotators, 1);
  g_assert_cmpstr (json_object_get_string_member (a, "name"), ==, "alice");
  g_assert_cmpint (json_object_get_int_member (a, "labels"), ==, 3);
  g_assert_cmpfloat (json_object_get_double_member (a, "median_decision_ms"), ==, 200.0);
  g_assert_cmpfloat (json_object_get_double_member (a, "spam_rate"), ==, 0.0);
  {
    JsonArray *pos = json_object_get_array_member (a, "chosen_by_position");

    g_assert_cmpuint (json_array_get_length (pos), ==, 2);
    g_assert_cmpint (json_array_get_int_element (pos, 0), ==, 1);
    g_assert_cmpint (json_array_get_int_element (pos, 1), ==, 2);
  }
  g_assert_cmpstr (json_object_get_string_member (b, "name"), ==, "bob");
  g_assert_cmpint (json_object_get_int_member (b, "labels"), ==, 3);
  g_assert_cmpfloat (json_object_get_double_member (b, "median_decision_ms"), ==, 1000.0);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (b, "spam_rate"), 1.0 / 3, 1e-9);
  {
    JsonArray *pos = json_object_get_array_member (b, "chosen_by_position");

    g_assert_cmpuint (json_array_get_length (pos), ==, 3);
    g_assert_cmpint (json_array_get_int_element (pos, 0), ==, 0);
    g_assert_cmpint (json_array_get_int_element (pos, 1), ==, 1);
    g_assert_cmpint (json_array_get_int_element (pos, 2), ==, 1);
  }
  /* Batches 0 and 1 have two non-spam labels; they agree on batch 0. */
  agreement = json_object_get_object_member (json_node_get_object (stats), "agreement");
  g_assert_cmpint (json_object_get_int_member (agreement, "batches"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (agreement, "identical"), ==, 1);
  g_assert_cmpfloat (json_object_get_double_member (agreement, "rate"), ==, 0.5);
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

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)

  ADD ("/api-annotate/batches-paging", test_batches_paging);
  ADD ("/api-annotate/next-batch", test_next_batch);
  ADD ("/api-annotate/next-batch-race", test_next_batch_race);
  ADD ("/api-annotate/annotation-validation", test_annotation_validation);
  ADD ("/api-annotate/media", test_media);
  ADD ("/api-annotate/media-shared-key", test_media_shared_key);
  ADD ("/api-annotate/export", test_export);
  ADD ("/api-annotate/export-verify", test_export_verify);
  ADD ("/api-annotate/export-streams", test_export_streams);
  ADD ("/api-annotate/export-limit", test_export_limit);
  ADD ("/api-annotate/stats", test_stats);

#undef ADD

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
