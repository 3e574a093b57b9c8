/* test-api-pairing.c: pairing a phone, the annotator's task list and
 * progress, and the phone's next-batch options, over the real REST server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "cdl-test-server.h"
#include "core/cdl-auth.h"
#include "db/cdl-pq.h"
#include "services/cdl-auth-service.h"

static CdlTestPg *pg;

typedef CdlTestApi Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  cdl_test_api_set_up (f, pg, "cdl-api-pairing-XXXXXX", TRUE);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  cdl_test_api_tear_down (f);
}

static JsonObject *
obj (JsonNode *node)
{
  return json_node_get_object (node);
}

/* A new code, as the admin unless @token is given; returns the data. */
static JsonNode *
new_code (Fixture    *f,
          const char *token,
          const char *body)
{
  return cdl_test_api_ok_as (f, token != NULL ? token : f->admin_token, "POST", "/api/pairing",
                             body, 201);
}

/* Redeems @code; returns the data of the 200 answer. */
static JsonNode *
pair (Fixture    *f,
      const char *code)
{
  g_autofree char *body = g_strdup_printf ("{\"code\": \"%s\", \"device\": \"Pixel 7\"}",
                                           code);

  return cdl_test_api_ok_as (f, NULL, "POST", "/api/pair", body, 200);
}

static void
test_pairing (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(JsonNode) code = new_code (f, NULL, "{\"name\": \"Alice phone\"}");
  const char *secret = json_object_get_string_member (obj (code), "code");
  const char *url = json_object_get_string_member (obj (code), "url");
  g_autofree char *want_url = g_strdup_printf ("%s/#pair=%s", f->base_url, secret);
  g_autoptr(GDateTime) expires = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(JsonNode) paired = NULL;
  g_autoptr(JsonNode) me = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autoptr(JsonNode) code2 = NULL;
  g_autoptr(JsonNode) paired2 = NULL;
  g_autofree char *hash = cdl_auth_token_hash (secret);
  g_autofree char *body = NULL;
  g_autofree char *annotator = NULL;
  g_autofree char *operator = NULL;
  const char *token, *token2;
  JsonObject *user;
  GTimeSpan left;

  /* A URL-safe secret of at least 128 bits, in a link to this server. */
  g_assert_cmpuint (strlen (secret), >=, 22);
  for (const char *p = secret; *p; p++)
    g_assert_true (g_ascii_isalnum (*p) || *p == '-' || *p == '_');
  g_assert_cmpstr (url, ==, want_url);
  expires = g_date_time_new_from_iso8601 (json_object_get_string_member (obj (code),
                                                                         "expires_at"), NULL);
  g_assert_nonnull (expires);
  left = g_date_time_difference (expires, now);
  g_assert_cmpint (left, >, 590 * G_TIME_SPAN_SECOND);
  g_assert_cmpint (left, <=, 601 * G_TIME_SPAN_SECOND);

  /* Only the hash is stored. */
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM pairing_codes WHERE code_hash = $1",
                                     hash), ==, 1);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM pairing_codes"
                                     " WHERE code_hash = $1 OR label = $1", secret), ==, 0);

  /* The phone trades it for an annotator's token. */
  paired = pair (f, secret);
  token = json_object_get_string_member (obj (paired), "token");
  user = json_object_get_object_member (obj (paired), "user");
  g_assert_cmpstr (json_object_get_string_member (user, "role"), ==, "annotator");
  g_assert_cmpstr (json_object_get_string_member (user, "name"), ==, "Alice phone");

  me = cdl_test_api_ok_as (f, token, "GET", "/api/me", NULL, 200);
  g_assert_cmpstr (json_object_get_string_member (obj (me), "id"), ==,
                   json_object_get_string_member (user, "id"));
  g_assert_cmpstr (json_object_get_string_member (obj (me), "role"), ==, "annotator");
  g_assert_cmpstr (json_object_get_string_member (obj (me), "name"), ==, "Alice phone");

  /* Single use. */
  body = g_strdup_printf ("{\"code\": \"%s\"}", secret);
  cdl_test_api_error (f, "POST", "/api/pair", NULL, body, 403, "not valid");
  cdl_test_api_error (f, "POST", "/api/pair", NULL, "{\"code\": \"nonsense\"}", 403,
                      "ask for a new QR code");
  cdl_test_api_error (f, "POST", "/api/pair", NULL, "{}", 400, "code");
  cdl_test_api_error (f, "POST", "/api/pair", NULL, "{\"code\": 5}", 400, "code");

  /* The same name pairs a second phone to the same annotator. */
  code2 = new_code (f, NULL, "{\"name\": \"Alice phone\"}");
  paired2 = pair (f, json_object_get_string_member (obj (code2), "code"));
  token2 = json_object_get_string_member (obj (paired2), "token");
  g_assert_cmpstr (token2, !=, token);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj (paired2),
                                                                                 "user"), "id"),
                   ==, json_object_get_string_member (user, "id"));

  /* Annotators cannot make codes; operators can. */
  annotator = g_strdup (token);
  cdl_test_api_error (f, "POST", "/api/pairing", annotator, "{}", 403, "operator");
  operator = cdl_test_api_token_for_role (f, "olga", CDL_ROLE_OPERATOR);
  g_clear_pointer (&code2, json_node_unref);
  code2 = new_code (f, operator, NULL);
  cdl_test_api_error (f, "POST", "/api/pairing", NULL, NULL, 401, NULL);

  /* Signing out revokes that token at once, not the other phone's. */
  g_clear_pointer (&again, json_node_unref);
  again = cdl_test_api_ok_as (f, token, "POST", "/api/logout", NULL, 200);
  cdl_test_api_error (f, "GET", "/api/me", token, NULL, 401, NULL);
  g_clear_pointer (&again, json_node_unref);
  again = cdl_test_api_ok_as (f, token2, "GET", "/api/me", NULL, 200);
}

static void
test_pairing_names (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(JsonNode) code = new_code (f, NULL, "{}");
  g_autoptr(JsonNode) paired = pair (f, json_object_get_string_member (obj (code), "code"));
  g_autoptr(JsonNode) root_code = new_code (f, NULL, "{\"name\": \"root\"}");
  g_autoptr(JsonNode) root_paired = NULL;
  JsonObject *user = json_object_get_object_member (obj (paired), "user");
  JsonObject *root_user;

  /* Without a name, a new annotator of its own. */
  g_assert_true (g_str_has_prefix (json_object_get_string_member (user, "name"), "phone-"));

  /* A name taken by the admin never demotes the admin. */
  root_paired = pair (f, json_object_get_string_member (obj (root_code), "code"));
  root_user = json_object_get_object_member (obj (root_paired), "user");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (root_user, "name"), "root ("));
  g_assert_cmpstr (json_object_get_string_member (root_user, "role"), ==, "annotator");
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM users"
                                     " WHERE name = $1 AND role = 'admin'", "root"), ==, 1);

  cdl_test_api_error (f, "POST", "/api/pairing", NULL, NULL, 401, NULL);
  cdl_test_api_error (f, "POST", "/api/pairing", f->admin_token, "{\"name\": 3}", 400, "name");
}

static void
test_pairing_expired (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(JsonNode) code = new_code (f, NULL, NULL);
  g_autofree char *body = g_strdup_printf ("{\"code\": \"%s\"}",
                                           json_object_get_string_member (obj (code), "code"));

  PQclear (cdl_test_sql (f->conninfo,
                         "UPDATE pairing_codes SET expires_at = now () - interval '1 second'",
                         0, NULL));
  cdl_test_api_error (f, "POST", "/api/pair", NULL, body, 403, "expired");
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM users WHERE role = 'annotator'",
                                     NULL), ==, 0);
}

static void
test_pairing_rate_limit (Fixture       *f,
                         gconstpointer  data)
{
  for (guint i = 0; i < CDL_PAIR_ATTEMPTS_MAX; i++)
    cdl_test_api_error (f, "POST", "/api/pair", NULL, "{\"code\": \"guess\"}", 403, NULL);

  cdl_test_api_error (f, "POST", "/api/pair", NULL, "{\"code\": \"guess\"}", 429,
                      "Too many pairing attempts");
}

/* Tasks and progress --------------------------------------------------------- */

static JsonObject *
find_task (JsonNode   *list,
           const char *id)
{
  JsonArray *tasks = json_object_get_array_member (obj (list), "tasks");

  for (guint i = 0; i < json_array_get_length (tasks); i++)
    {
      JsonObject *t = json_array_get_object_element (tasks, i);

      if (g_strcmp0 (json_object_get_string_member (t, "id"), id) == 0)
        return t;
    }

  return NULL;
}

static void
assert_counts (JsonObject *o,
               gint64      ready,
               gint64      labelled,
               gint64      mine)
{
  g_assert_cmpint (json_object_get_int_member (o, "batches_ready"), ==, ready);
  g_assert_cmpint (json_object_get_int_member (o, "batches_labelled"), ==, labelled);
  g_assert_cmpint (json_object_get_int_member (o, "my_labels"), ==, mine);
}

/* Leases the next batch to @token and labels it. */
static void
label_next (Fixture    *f,
            const char *token,
            const char *task_id)
{
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/next-batch", task_id);
  g_autoptr(JsonNode) next = cdl_test_api_ok_as (f, token, "GET", path, NULL, 200);
  JsonObject *batch = json_object_get_object_member (obj (next), "batch");
  g_autofree char *body = g_strdup_printf ("{\"task_id\": \"%s\", \"batch_id\": \"%s\","
                                           " \"chosen_index\": 1, \"spam\": false}", task_id,
                                           json_object_get_string_member (batch, "batch_id"));
  g_autoptr(JsonNode) saved = cdl_test_api_ok_as (f, token, "POST", "/api/annotations", body,
                                                  201);
}

static void
test_annotate_tasks (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *task = cdl_test_api_seed_task (f, "kites", 3, 2, 2, FALSE);
  g_autofree char *empty = cdl_test_api_seed_task (f, "empty", 2, 2, 0, FALSE);
  g_autofree char *ann = cdl_test_api_token_for_role (f, "ann", CDL_ROLE_ANNOTATOR);
  g_autofree char *bob = cdl_test_api_token_for_role (f, "bob", CDL_ROLE_ANNOTATOR);
  g_autofree char *progress = g_strdup_printf ("/api/tasks/%s/annotation-progress", task);
  g_autofree char *unknown = g_strdup_printf ("/api/tasks/%s/annotation-progress",
                                              "00000000-0000-4000-8000-000000000000");
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(JsonNode) p = NULL;
  JsonObject *t;

  /* Two complete batches; the third has one image of two. The other task
   * has a single image, so no complete batch. */
  list = cdl_test_api_ok_as (f, ann, "GET", "/api/annotate/tasks", NULL, 200);
  t = find_task (list, task);
  g_assert_nonnull (t);
  g_assert_null (find_task (list, empty));
  g_assert_cmpstr (json_object_get_string_member (t, "name"), ==, "kites");
  g_assert_cmpstr (json_object_get_string_member (t, "status"), ==, "DONE");
  g_assert_cmpint (json_object_get_int_member (t, "seeds_per_prompt"), ==, 2);
  assert_counts (t, 2, 0, 0);

  p = cdl_test_api_ok_as (f, ann, "GET", progress, NULL, 200);
  assert_counts (obj (p), 2, 0, 0);
  g_assert_cmpint (json_object_get_int_member (obj (p), "batches_total"), ==, 3);

  label_next (f, ann, task);

  g_clear_pointer (&p, json_node_unref);
  p = cdl_test_api_ok_as (f, ann, "GET", progress, NULL, 200);
  assert_counts (obj (p), 2, 1, 1);
  g_clear_pointer (&p, json_node_unref);
  p = cdl_test_api_ok_as (f, bob, "GET", progress, NULL, 200);
  assert_counts (obj (p), 2, 1, 0);

  label_next (f, bob, task);
  g_clear_pointer (&list, json_node_unref);
  list = cdl_test_api_ok_as (f, bob, "GET", "/api/annotate/tasks", NULL, 200);
  assert_counts (find_task (list, task), 2, 2, 1);

  cdl_test_api_error (f, "GET", unknown, ann, NULL, 404, "No task");
  cdl_test_api_error (f, "GET", "/api/tasks/nope/annotation-progress", ann, NULL, 404, NULL);
  cdl_test_api_error (f, "GET", "/api/annotate/tasks", NULL, NULL, 401, NULL);
}

/* next-batch options ----------------------------------------------------------- */

static JsonNode *
next_batch (Fixture    *f,
            const char *token,
            const char *task_id,
            const char *query)
{
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/next-batch%s", task_id, query);

  return cdl_test_api_ok_as (f, token, "GET", path, NULL, 200);
}

static JsonArray *
member_array (JsonObject *o,
              const char *member)
{
  return json_object_get_array_member (o, member);
}

/* The path of a media link, without its host and query. */
static char *
link_key (const char *url,
          const char *base)
{
  const char *q = strchr (url, '?');

  if (!g_str_has_prefix (url, base))
    g_error ("%s does not start with %s", url, base);
  g_assert_nonnull (q);
  return g_strndup (url + strlen (base), q - url - strlen (base));
}

static void
test_next_batch_options (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *task = cdl_test_api_seed_task (f, "boats", 4, 2, 4, TRUE);
  g_autofree char *ann = cdl_test_api_token_for_role (f, "ann", CDL_ROLE_ANNOTATOR);
  g_autofree char *bob = cdl_test_api_token_for_role (f, "bob", CDL_ROLE_ANNOTATOR);
  g_autofree char *bad = g_strdup_printf ("/api/tasks/%s/next-batch?prefetch=51", task);
  g_autofree char *bad2 = g_strdup_printf ("/api/tasks/%s/next-batch?prefetch=x", task);
  g_autofree char *unknown = g_strdup_printf ("/api/tasks/%s/next-batch?ab_test=nope", task);
  g_autoptr(JsonNode) none = next_batch (f, ann, task, "?prefetch=0");
  g_autoptr(JsonNode) one = next_batch (f, ann, task, "?prefetch=1");
  g_autoptr(JsonNode) all = next_batch (f, ann, task, "");
  g_autoptr(JsonNode) test = NULL;
  g_autoptr(JsonNode) assigned = NULL;
  g_autoptr(JsonNode) cdn = NULL;
  g_autoptr(JsonNode) plain = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *media_url = NULL;
  JsonObject *entry, *batch, *cdn_batch;
  JsonArray *thumbs;
  const char *headers;

  g_assert_cmpuint (json_array_get_length (member_array (obj (none), "prefetch")), ==, 0);
  g_assert_cmpuint (json_array_get_length (member_array (obj (one), "prefetch")), ==, 1);
  g_assert_cmpuint (json_array_get_length (member_array (obj (all), "prefetch")), ==, 3);
  entry = json_array_get_object_element (member_array (obj (one), "prefetch"), 0);
  g_assert_cmpuint (json_array_get_length (member_array (entry, "thumbnails")), ==, 2);
  g_assert_cmpuint (json_array_get_length (member_array (entry, "fullres")), ==, 2);
  g_assert_true (g_str_has_prefix (json_array_get_string_element (member_array (entry,
                                                                                "fullres"), 0),
                                   "/media/"));
  cdl_test_api_error (f, "GET", bad, ann, NULL, 400, "prefetch");
  cdl_test_api_error (f, "GET", bad2, ann, NULL, 400, "prefetch");
  cdl_test_api_error (f, "GET", unknown, ann, NULL, 404, "nope");

  /* Media answers may be read by pages of other origins. */
  batch = json_object_get_object_member (obj (all), "batch");
  media_url = g_strconcat (f->base_url,
                           json_array_get_string_element (member_array (batch, "fullres"), 0),
                           NULL);
  msg = soup_message_new ("GET", media_url);
  bytes = soup_session_send_and_read (f->http, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  headers = soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                          "Access-Control-Allow-Origin");
  g_assert_cmpstr (headers, ==, "*");

  /* A variant with a CDN base rewrites every link, and nothing else. */
  test = cdl_test_api_ok (f, "POST", "/api/ab-tests",
                          "{\"name\": \"cdn\", \"variants\": ["
                          "{\"key\": \"cdn\", \"weight\": 0.5,"
                          " \"config\": {\"media_base_url\": \"https://cdn.example/m\"}},"
                          "{\"key\": \"plain\", \"weight\": 0.5}]}", 201);
  assigned = cdl_test_api_ok_as (f, ann, "POST", "/api/ab-tests/assign",
                                 "{\"test_name\": \"cdn\"}", 200);
  {
    g_autoptr(JsonNode) me = cdl_test_api_ok_as (f, ann, "GET", "/api/me", NULL, 200);
    const char *params[1] = { json_object_get_string_member (obj (me), "id") };

    PQclear (cdl_test_sql (f->conninfo,
                           "UPDATE ab_assignments SET variant_key = 'cdn' WHERE user_id = $1",
                           1, params));
  }

  cdn = next_batch (f, ann, task, "?ab_test=cdn&prefetch=2");
  plain = next_batch (f, ann, task, "?prefetch=2");
  batch = json_object_get_object_member (obj (plain), "batch");
  cdn_batch = json_object_get_object_member (obj (cdn), "batch");
  g_assert_cmpstr (json_object_get_string_member (cdn_batch, "batch_id"), ==,
                   json_object_get_string_member (batch, "batch_id"));
  g_assert_cmpstr (json_object_get_string_member (cdn_batch, "prompt"), ==,
                   json_object_get_string_member (batch, "prompt"));
  g_assert_true (json_node_equal (json_object_get_member (cdn_batch, "seeds"),
                                  json_object_get_member (batch, "seeds")));
  g_assert_true (json_node_equal (json_object_get_member (cdn_batch, "shown_order"),
                                  json_object_get_member (batch, "shown_order")));
  thumbs = member_array (cdn_batch, "thumbnails");
  for (guint i = 0; i < json_array_get_length (thumbs); i++)
    {
      g_autofree char *a = link_key (json_array_get_string_element (thumbs, i),
                                     "https://cdn.example/m/");
      g_autofree char *b = link_key (json_array_get_string_element (member_array (batch,
                                                                                   "thumbnails"),
                                                                    i), "/media/");

      g_assert_cmpstr (a, ==, b);
    }
  entry = json_array_get_object_element (member_array (obj (cdn), "prefetch"), 1);
  g_assert_true (g_str_has_prefix (json_array_get_string_element (member_array (entry,
                                                                                "fullres"), 1),
                                   "https://cdn.example/m/"));

  /* Someone not in the test gets the server's own links. */
  g_clear_pointer (&plain, json_node_unref);
  plain = next_batch (f, bob, task, "?ab_test=cdn");
  batch = json_object_get_object_member (obj (plain), "batch");
  g_assert_true (g_str_has_prefix (json_array_get_string_element (member_array (batch,
                                                                                "thumbnails"),
                                                                  0), "/media/"));
}

/* Repeats ------------------------------------------------------------------------ */

/* Asks next-batch until it hands out a repeat, at most @tries times;
 * returns the repeat's batch id (NULL if none came) and counts them. */
static char *
next_repeat (Fixture    *f,
             const char *token,
             const char *task_id,
             guint       tries,
             guint      *repeats)
{
  for (guint i = 0; i < tries; i++)
    {
      g_autoptr(JsonNode) next = next_batch (f, token, task_id, "?prefetch=1");
      JsonObject *batch = json_object_get_object_member (obj (next), "batch");

      if (!json_object_get_boolean_member_with_default (obj (next), "is_repeat", FALSE))
        continue;

      g_assert_cmpint (json_object_get_int_member (obj (next), "lease_seconds"), ==, 0);
      g_assert_cmpuint (json_array_get_length (member_array (obj (next), "prefetch")), ==, 0);
      g_assert_cmpuint (json_array_get_length (member_array (batch, "shown_order")), ==, 2);
      (*repeats)++;
      return g_strdup (json_object_get_string_member (batch, "batch_id"));
    }

  return NULL;
}

static void
answer_repeat (Fixture    *f,
               const char *token,
               const char *task_id,
               const char *batch_id,
               int         chosen,
               guint       want,
               gboolean    same)
{
  g_autofree char *body = g_strdup_printf ("{\"task_id\": \"%s\", \"batch_id\": \"%s\","
                                           " \"chosen_index\": %d, \"is_repeat\": true}",
                                           task_id, batch_id, chosen);
  g_autoptr(JsonNode) row = cdl_test_api_ok_as (f, token, "POST", "/api/annotations", body,
                                                want);

  g_assert_true (json_object_get_boolean_member (obj (row), "is_repeat"));
  g_assert_true (json_object_get_boolean_member (obj (row), "same") == same);
}

static void
test_repeats (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *task = cdl_test_api_seed_task (f, "repeat", 6, 2, 6, FALSE);
  g_autofree char *ann = cdl_test_api_token_for_role (f, "ann", CDL_ROLE_ANNOTATOR);
  g_autofree char *rate_path = g_strdup_printf ("/api/tasks/%s/repeat-rate", task);
  g_autofree char *stats_path = g_strdup_printf ("/api/tasks/%s/annotation-stats", task);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *none = NULL;
  g_autofree char *never = NULL;
  g_autoptr(JsonNode) set = NULL;
  g_autoptr(JsonNode) stats = NULL;
  JsonObject *me, *consistency;
  guint repeats = 0;

  for (guint i = 0; i < 4; i++)
    label_next (f, ann, task);

  /* Off by default. */
  none = next_repeat (f, ann, task, 40, &repeats);
  g_assert_null (none);

  cdl_test_api_error (f, "PUT", rate_path, f->admin_token, "{\"repeat_rate\": 0.3}", 400,
                      "0.2");
  cdl_test_api_error (f, "PUT", rate_path, f->admin_token, "{\"repeat_rate\": \"x\"}", 400,
                      "repeat_rate");
  cdl_test_api_error (f, "PUT", rate_path, ann, "{\"repeat_rate\": 0.1}", 403, NULL);
  set = cdl_test_api_ok (f, "PUT", rate_path, "{\"repeat_rate\": 0.2}", 200);
  g_assert_cmpfloat (json_object_get_double_member (obj (set), "repeat_rate"), ==, 0.2);

  /* About one answer in five is a repeat (0.8^150: never none). */
  first = next_repeat (f, ann, task, 150, &repeats);
  g_assert_nonnull (first);
  answer_repeat (f, ann, task, first, 1, 201, TRUE);
  /* A replay updates the repeat. */
  answer_repeat (f, ann, task, first, 1, 200, TRUE);

  second = next_repeat (f, ann, task, 150, &repeats);
  g_assert_nonnull (second);
  g_assert_cmpstr (second, !=, first);
  answer_repeat (f, ann, task, second, 0, 201, FALSE);

  /* The labels stay as they were. */
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM annotations"
                                     " WHERE task_id = $1 AND chosen_index = 1", task), ==, 4);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM annotation_repeats"
                                     " WHERE task_id = $1", task), ==, 2);

  /* A batch never labelled cannot be repeated. */
  {
    const char *params[1] = { task };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT prompt_id FROM annotation_batches"
                                            " WHERE task_id = $1 AND labels = 0 LIMIT 1",
                                            1, params);

    never = g_strdup (cdl_pq_get_string (res, 0, 0));
  }
  {
    g_autofree char *body = g_strdup_printf ("{\"task_id\": \"%s\", \"batch_id\": \"%s\","
                                             " \"chosen_index\": 0, \"is_repeat\": true}",
                                             task, never);

    cdl_test_api_error (f, "POST", "/api/annotations", ann, body, 404, "no label");
  }

  stats = cdl_test_api_ok (f, "GET", stats_path, NULL, 200);
  me = json_array_get_object_element (json_object_get_array_member (obj (stats), "annotators"),
                                      0);
  consistency = json_object_get_object_member (me, "self_consistency");
  g_assert_cmpint (json_object_get_int_member (consistency, "repeats"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (consistency, "same"), ==, 1);
  g_assert_cmpfloat (json_object_get_double_member (consistency, "rate"), ==, 0.5);
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

  ADD ("/api-pairing/pair", test_pairing);
  ADD ("/api-pairing/names", test_pairing_names);
  ADD ("/api-pairing/expired", test_pairing_expired);
  ADD ("/api-pairing/rate-limit", test_pairing_rate_limit);
  ADD ("/api-pairing/annotate-tasks", test_annotate_tasks);
  ADD ("/api-pairing/next-batch-options", test_next_batch_options);
  ADD ("/api-pairing/repeats", test_repeats);

#undef ADD

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
