/* test-api-abtests.c: A/B tests over the real REST server, and the
 * assignment code path under load and concurrency
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "cdl-test-server.h"
#include "core/cdl-auth.h"
#include "db/cdl-pq.h"
#include "services/cdl-abtest-service.h"

static CdlTestPg *pg;

typedef CdlTestApi Fixture;

#define TWO_VARIANTS \
  "\"variants\": [{\"key\": \"A\", \"weight\": 0.5}, {\"key\": \"B\", \"weight\": 0.5," \
  " \"config\": {\"prefetch_batches\": 5, \"prefetch_full\": true}}]"

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  cdl_test_api_set_up (f, pg, "cdl-api-abtests-XXXXXX", TRUE);
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

static char *
user_id (Fixture    *f,
         const char *name)
{
  const char *params[1] = { name };
  g_autoptr(PGresult) res = cdl_test_sql (f->conninfo, "SELECT id FROM users WHERE name = $1",
                                          1, params);

  return g_strdup (cdl_pq_get_string (res, 0, 0));
}

/* POST /api/ab-tests/assign as @token; returns the variant key. */
static char *
assign (Fixture    *f,
        const char *token,
        const char *body)
{
  g_autoptr(JsonNode) data = cdl_test_api_ok_as (f, token, "POST", "/api/ab-tests/assign", body,
                                                 200);

  g_assert_nonnull (json_object_get_object_member (obj (data), "config"));
  return g_strdup (json_object_get_string_member (obj (data), "variant"));
}

static void
set_variant (Fixture    *f,
             const char *user,
             const char *key)
{
  const char *params[2] = { user, key };

  PQclear (cdl_test_sql (f->conninfo,
                         "UPDATE ab_assignments SET variant_key = $2 WHERE user_id = $1",
                         2, params));
}

static void
test_create (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *operator = cdl_test_api_token_for_role (f, "olga", CDL_ROLE_OPERATOR);
  g_autoptr(JsonNode) test = NULL;
  g_autoptr(JsonNode) list = NULL;
  JsonArray *variants;
  JsonObject *b;

  cdl_test_api_error (f, "POST", "/api/ab-tests", f->admin_token,
                      "{\"name\": \"t\", \"variants\": [{\"key\": \"A\", \"weight\": 0.7},"
                      " {\"key\": \"B\", \"weight\": 0.2}]}", 400, "weights sum to 0.9");
  cdl_test_api_error (f, "POST", "/api/ab-tests", f->admin_token,
                      "{\"name\": \"t\", \"variants\": [{\"key\": \"A\", \"weight\": 1.5},"
                      " {\"key\": \"B\", \"weight\": -0.5}]}", 400, "variants[1].weight");
  cdl_test_api_error (f, "POST", "/api/ab-tests", f->admin_token,
                      "{\"name\": \"t\", \"variants\": [{\"key\": \"A\", \"weight\": 0.5},"
                      " {\"key\": \"A\", \"weight\": 0.5}]}", 400, "unique");
  cdl_test_api_error (f, "POST", "/api/ab-tests", f->admin_token,
                      "{\"name\": \"t\", \"variants\": [{\"key\": \"A\", \"weight\": 0.5,"
                      " \"config\": {\"prefetch_batches\": 99}}, {\"key\": \"B\","
                      " \"weight\": 0.5}]}", 400, "variants[0].config.prefetch_batches");
  cdl_test_api_error (f, "POST", "/api/ab-tests", f->admin_token,
                      "{" TWO_VARIANTS "}", 400, "name");
  cdl_test_api_error (f, "POST", "/api/ab-tests", f->admin_token,
                      "{\"name\": \"t\", \"expires_at\": \"2001-01-01T00:00:00Z\","
                      TWO_VARIANTS "}", 400, "expires_at");
  cdl_test_api_error (f, "POST", "/api/ab-tests", f->admin_token,
                      "{\"name\": \"t\", \"expires_at\": \"soon\"," TWO_VARIANTS "}", 400,
                      "expires_at");
  cdl_test_api_error (f, "POST", "/api/ab-tests", operator, "{\"name\": \"t\"," TWO_VARIANTS "}",
                      403, "admin");

  test = cdl_test_api_ok (f, "POST", "/api/ab-tests",
                          "{\"name\": \"prefetch\", \"expires_at\": \"2099-01-01T00:00:00Z\","
                          TWO_VARIANTS "}", 201);
  g_assert_true (g_uuid_string_is_valid (json_object_get_string_member (obj (test), "id")));
  g_assert_cmpstr (json_object_get_string_member (obj (test), "name"), ==, "prefetch");
  {
    g_autoptr(GDateTime) expires =
      g_date_time_new_from_iso8601 (json_object_get_string_member (obj (test), "expires_at"),
                                    NULL);

    g_assert_cmpint (g_date_time_to_unix (expires), ==, 4070908800);
  }
  g_assert_false (json_object_get_boolean_member (obj (test), "expired"));
  variants = json_object_get_array_member (obj (test), "variants");
  g_assert_cmpuint (json_array_get_length (variants), ==, 2);
  b = json_object_get_object_member (json_array_get_object_element (variants, 1), "config");
  g_assert_cmpint (json_object_get_int_member (b, "prefetch_batches"), ==, 5);
  g_assert_true (json_object_get_boolean_member (b, "prefetch_full"));
  g_assert_true (json_object_get_null_member (b, "media_base_url"));

  cdl_test_api_error (f, "POST", "/api/ab-tests", f->admin_token,
                      "{\"name\": \"prefetch\"," TWO_VARIANTS "}", 409, "exists already");

  list = cdl_test_api_ok_as (f, operator, "GET", "/api/ab-tests", NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj (list), "tests")),
                    ==, 1);
}

static void
test_sticky (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *ann = cdl_test_api_token_for_role (f, "ann", CDL_ROLE_ANNOTATOR);
  g_autofree char *bob = cdl_test_api_token_for_role (f, "bob", CDL_ROLE_ANNOTATOR);
  g_autofree char *operator = cdl_test_api_token_for_role (f, "olga", CDL_ROLE_OPERATOR);
  g_autofree char *ann_id = user_id (f, "ann");
  g_autofree char *bob_id = user_id (f, "bob");
  g_autofree char *first = NULL;
  g_autofree char *for_bob = NULL;
  g_autofree char *for_ann = NULL;
  g_autofree char *ann_body = g_strdup_printf ("{\"test_name\": \"s\", \"user_id\": \"%s\"}",
                                               ann_id);
  g_autofree char *bob_body = g_strdup_printf ("{\"test_name\": \"s\", \"user_id\": \"%s\"}",
                                               bob_id);
  g_autoptr(JsonNode) test = cdl_test_api_ok (f, "POST", "/api/ab-tests",
                                              "{\"name\": \"s\"," TWO_VARIANTS "}", 201);

  first = assign (f, ann, "{\"test_name\": \"s\"}");
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *again = assign (f, ann, "{\"test_name\": \"s\"}");

      g_assert_cmpstr (again, ==, first);
    }

  /* Whatever the weights become, a placed user stays. */
  PQclear (cdl_test_sql (f->conninfo,
                         strcmp (first, "A") == 0
                         ? "UPDATE ab_tests SET variants = jsonb_set (jsonb_set (variants,"
                           " '{0,weight}', '0.0001'), '{1,weight}', '0.9999')"
                         : "UPDATE ab_tests SET variants = jsonb_set (jsonb_set (variants,"
                           " '{0,weight}', '0.9999'), '{1,weight}', '0.0001')",
                         0, NULL));
  for_ann = assign (f, operator, ann_body);
  g_assert_cmpstr (for_ann, ==, first);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM ab_assignments WHERE user_id = $1",
                                     ann_id), ==, 1);

  /* Only operators may place someone else. */
  cdl_test_api_error (f, "POST", "/api/ab-tests/assign", ann, bob_body, 403, "operator");
  for_bob = assign (f, operator, bob_body);
  g_assert_nonnull (for_bob);
  g_clear_pointer (&for_bob, g_free);
  for_bob = assign (f, bob, "{\"test_name\": \"s\"}");
  g_assert_nonnull (for_bob);

  cdl_test_api_error (f, "POST", "/api/ab-tests/assign", ann, "{\"test_name\": \"nope\"}", 404,
                      "nope");
  cdl_test_api_error (f, "POST", "/api/ab-tests/assign", ann, "{}", 400, "test_name");
  cdl_test_api_error (f, "POST", "/api/ab-tests/assign", operator,
                      "{\"test_name\": \"s\","
                      " \"user_id\": \"00000000-0000-4000-8000-000000000000\"}", 404, "user");
  cdl_test_api_error (f, "POST", "/api/ab-tests/assign", operator,
                      "{\"test_name\": \"s\", \"user_id\": \"me\"}", 400, "user_id");
}

/* Assignment through the service ----------------------------------------------- */

typedef struct
{
  CdlAbtestService *service;
  const char       *test;
  GPtrArray        *keys;    /* per work item: the keys it got, per user */
  GMutex            lock;
} Race;

/* Assigns each user of @data (a GStrv) in turn, through the service. */
static void
race_worker (gpointer data,
             gpointer user_data)
{
  Race *race = user_data;
  GStrv users = data;
  GStrvBuilder *builder = g_strv_builder_new ();

  for (guint i = 0; users[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CdlAbAssignment) a = cdl_abtest_service_assign_sync (race->service, race->test,
                                                                     users[i], NULL, &error);

      g_assert_no_error (error);
      g_strv_builder_add (builder, a->variant->key);
    }

  g_mutex_lock (&race->lock);
  g_ptr_array_add (race->keys, g_strv_builder_end (builder));
  g_mutex_unlock (&race->lock);
  g_strv_builder_unref (builder);
}

static GStrv
seed_users (Fixture    *f,
            const char *prefix,
            guint       n)
{
  g_autofree char *n_text = g_strdup_printf ("%u", n);
  const char *params[2] = { prefix, n_text };
  g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                          "INSERT INTO users (name, role)"
                                          " SELECT $1 || g, 'annotator'"
                                          " FROM generate_series (1, $2::int) g RETURNING id",
                                          2, params);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  for (int i = 0; i < PQntuples (res); i++)
    g_strv_builder_add (b, cdl_pq_get_string (res, i, 0));
  return g_strv_builder_end (b);
}

/* Runs @n_items lists of users on @threads threads; returns the keys
 * each list got, in no particular order. */
static GPtrArray *
race_run (Fixture    *f,
          const char *test,
          GStrv      *items,
          guint       n_items,
          guint       threads)
{
  g_autoptr(CdlDb) db = cdl_db_new (f->conninfo, threads);
  g_autoptr(GError) error = NULL;
  GThreadPool *pool;
  Race race = { 0 };

  race.service = cdl_abtest_service_new (db);
  race.test = test;
  race.keys = g_ptr_array_new_with_free_func ((GDestroyNotify)g_strfreev);
  g_mutex_init (&race.lock);

  pool = g_thread_pool_new (race_worker, &race, threads, TRUE, &error);
  g_assert_no_error (error);
  for (guint t = 0; t < n_items; t++)
    g_thread_pool_push (pool, items[t], NULL);
  g_thread_pool_free (pool, FALSE, TRUE);

  g_mutex_clear (&race.lock);
  g_object_unref (race.service);
  return race.keys;
}

static void
test_concurrent (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(JsonNode) test = cdl_test_api_ok (f, "POST", "/api/ab-tests",
                                              "{\"name\": \"race\"," TWO_VARIANTS "}", 201);
  g_auto(GStrv) users = seed_users (f, "racer", 40);
  GStrv items[8];
  g_autoptr(GPtrArray) keys = NULL;

  /* Eight threads place the same new users at once: all must agree. */
  for (guint t = 0; t < G_N_ELEMENTS (items); t++)
    items[t] = users;
  keys = race_run (f, "race", items, G_N_ELEMENTS (items), 8);

  g_assert_cmpuint (keys->len, ==, 8);
  for (guint t = 1; t < keys->len; t++)
    {
      GStrv a = g_ptr_array_index (keys, 0);
      GStrv b = g_ptr_array_index (keys, t);

      g_assert_true (g_strv_equal ((const char * const *)a, (const char * const *)b));
    }
  g_assert_cmpint (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM ab_assignments", NULL),
                   ==, 40);
}

static void
test_split (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(JsonNode) test = cdl_test_api_ok (f, "POST", "/api/ab-tests",
                                              "{\"name\": \"split\", \"variants\": ["
                                              "{\"key\": \"big\", \"weight\": 0.7},"
                                              " {\"key\": \"small\", \"weight\": 0.3}]}", 201);
  g_auto(GStrv) users = seed_users (f, "user", 10000);
  gint64 started = g_get_monotonic_time ();
  g_autoptr(GPtrArray) keys = NULL;
  GStrv items[4];
  guint big = 0;
  double share;

  /* Four connections at once, a quarter of the users each. */
  for (guint t = 0; t < G_N_ELEMENTS (items); t++)
    {
      items[t] = g_new0 (char *, 2501);
      for (guint i = 0; i < 2500; i++)
        items[t][i] = users[t * 2500 + i];
    }
  keys = race_run (f, "split", items, G_N_ELEMENTS (items), 4);
  for (guint t = 0; t < G_N_ELEMENTS (items); t++)
    {
      GStrv got = g_ptr_array_index (keys, t);

      g_free (items[t]);
      for (guint i = 0; got[i] != NULL; i++)
        if (strcmp (got[i], "big") == 0)
          big++;
    }

  share = big / 10000.0;
  g_test_message ("10000 assignments in %.1f s; %.2f %% big",
                  (g_get_monotonic_time () - started) / 1e6, 100 * share);
  g_assert_cmpfloat (share, >, 0.68);
  g_assert_cmpfloat (share, <, 0.72);
  g_assert_cmpint (cdl_test_sql_int (f->conninfo,
                                     "SELECT count (*) FROM ab_assignments"
                                     " WHERE variant_key = $1", "big"), ==, big);
}

static void
test_expiry (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *ann = cdl_test_api_token_for_role (f, "ann", CDL_ROLE_ANNOTATOR);
  g_autofree char *bob = cdl_test_api_token_for_role (f, "bob", CDL_ROLE_ANNOTATOR);
  g_autoptr(JsonNode) test = cdl_test_api_ok (f, "POST", "/api/ab-tests",
                                              "{\"name\": \"old\", \"expires_at\":"
                                              " \"2099-01-01T00:00:00Z\"," TWO_VARIANTS "}",
                                              201);
  g_autoptr(JsonNode) list = NULL;
  g_autofree char *before = assign (f, ann, "{\"test_name\": \"old\"}");
  g_autofree char *after = NULL;
  JsonObject *listed;

  PQclear (cdl_test_sql (f->conninfo,
                         "UPDATE ab_tests SET expires_at = now () - interval '1 second'",
                         0, NULL));

  after = assign (f, ann, "{\"test_name\": \"old\"}");
  g_assert_cmpstr (after, ==, before);
  cdl_test_api_error (f, "POST", "/api/ab-tests/assign", bob, "{\"test_name\": \"old\"}", 410,
                      "no new users are assigned");
  cdl_test_api_error (f, "POST", "/api/ab-tests/assign", bob, "{\"test_name\": \"old\"}", 410,
                      "A/B test old expired on ");

  list = cdl_test_api_ok (f, "GET", "/api/ab-tests", NULL, 200);
  listed = json_array_get_object_element (json_object_get_array_member (obj (list), "tests"), 0);
  g_assert_true (json_object_get_boolean_member (listed, "expired"));
}

/* Events and results --------------------------------------------------------------- */

static void
post_events (Fixture    *f,
             const char *token,
             const char *events,
             gint64      want)
{
  g_autofree char *body = g_strdup_printf ("{\"test_name\": \"speed\", \"events\": [%s]}",
                                           events);
  g_autoptr(JsonNode) data = cdl_test_api_ok_as (f, token, "POST", "/api/ab-events", body, 202);

  g_assert_cmpint (json_object_get_int_member (obj (data), "accepted"), ==, want);
}

/* Leases the next batch and labels it, sending @variant unless NULL. */
static void
label_next (Fixture    *f,
            const char *token,
            const char *task_id,
            const char *variant)
{
  g_autofree char *path = g_strdup_printf ("/api/tasks/%s/next-batch?ab_test=speed", task_id);
  g_autoptr(JsonNode) next = cdl_test_api_ok_as (f, token, "GET", path, NULL, 200);
  JsonObject *batch = json_object_get_object_member (obj (next), "batch");
  g_autofree char *extra = variant ? g_strdup_printf (", \"variant_key\": \"%s\"", variant)
                                   : g_strdup ("");
  g_autofree char *body = g_strdup_printf ("{\"task_id\": \"%s\", \"batch_id\": \"%s\","
                                           " \"chosen_index\": 0, \"decision_ms\": 900%s}",
                                           task_id,
                                           json_object_get_string_member (batch, "batch_id"),
                                           extra);
  g_autoptr(JsonNode) saved = cdl_test_api_ok_as (f, token, "POST", "/api/annotations", body,
                                                  201);
}

static JsonObject *
variant_result (JsonNode   *results,
                const char *key)
{
  JsonArray *variants = json_object_get_array_member (obj (results), "variants");

  for (guint i = 0; i < json_array_get_length (variants); i++)
    {
      JsonObject *v = json_array_get_object_element (variants, i);

      if (g_strcmp0 (json_object_get_string_member (v, "key"), key) == 0)
        return v;
    }

  g_assert_not_reached ();
}

static void
assert_median (JsonObject *v,
               const char *member,
               double      median,
               gint64      n)
{
  JsonObject *m = json_object_get_object_member (v, member);

  g_assert_cmpint (json_object_get_int_member (m, "n"), ==, n);
  if (n == 0)
    g_assert_true (json_object_get_null_member (m, "median"));
  else
    g_assert_cmpfloat_with_epsilon (json_object_get_double_member (m, "median"), median, 1e-9);
}

static void
test_results (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *task = cdl_test_api_seed_task (f, "speed", 5, 2, 5, FALSE);
  g_autofree char *ann = cdl_test_api_token_for_role (f, "ann", CDL_ROLE_ANNOTATOR);
  g_autofree char *bob = cdl_test_api_token_for_role (f, "bob", CDL_ROLE_ANNOTATOR);
  g_autofree char *carl = cdl_test_api_token_for_role (f, "carl", CDL_ROLE_ANNOTATOR);
  g_autofree char *ann_id = user_id (f, "ann");
  g_autofree char *bob_id = user_id (f, "bob");
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) test = cdl_test_api_ok (f, "POST", "/api/ab-tests",
                                              "{\"name\": \"speed\"," TWO_VARIANTS "}", 201);
  g_autoptr(JsonNode) results = NULL;
  g_autoptr(GString) many = g_string_new (NULL);
  JsonObject *va, *vb;

  a = assign (f, ann, "{\"test_name\": \"speed\"}");
  b = assign (f, bob, "{\"test_name\": \"speed\"}");
  set_variant (f, ann_id, "A");
  set_variant (f, bob_id, "B");

  post_events (f, ann,
               "{\"kind\": \"decision\", \"value\": {\"ms\": 100, \"batch_id\": null}},"
               "{\"kind\": \"decision\", \"value\": {\"ms\": 500}},"
               "{\"kind\": \"decision\", \"value\": {\"ms\": 300.4}},"
               "{\"kind\": \"image_wait\", \"value\": {\"ms\": 50}},"
               "{\"kind\": \"prefetch\", \"value\": {\"hit\": true}},"
               "{\"kind\": \"prefetch\", \"value\": {\"hit\": true}},"
               "{\"kind\": \"prefetch\", \"value\": {\"hit\": false}}", 7);
  post_events (f, bob,
               "{\"kind\": \"decision\", \"value\": {\"ms\": 1000}},"
               "{\"kind\": \"decision\", \"value\": {\"ms\": 2000}},"
               "{\"kind\": \"prefetch\", \"value\": {\"hit\": false}}", 3);

  label_next (f, ann, task, "A");
  label_next (f, ann, task, "A");
  label_next (f, bob, task, "B");
  /* Without a variant_key the label is not the test's. */
  label_next (f, bob, task, NULL);

  path = g_strdup_printf ("/api/ab-tests/%s/results",
                          json_object_get_string_member (obj (test), "id"));
  results = cdl_test_api_ok (f, "GET", path, NULL, 200);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj (results),
                                                                                 "test"),
                                                  "name"), ==, "speed");
  va = variant_result (results, "A");
  vb = variant_result (results, "B");
  g_assert_cmpint (json_object_get_int_member (va, "users"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (vb, "users"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (va, "labels"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (vb, "labels"), ==, 1);
  assert_median (va, "decision_ms", 300, 3);
  assert_median (vb, "decision_ms", 1500, 2);
  assert_median (va, "image_wait_ms", 50, 1);
  assert_median (vb, "image_wait_ms", 0, 0);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (va, "prefetch"),
                                               "hits"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (va, "prefetch"),
                                               "misses"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (vb, "prefetch"),
                                               "hits"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (vb, "prefetch"),
                                               "misses"), ==, 1);

  /* Bad events are refused whole, naming what is wrong. */
  cdl_test_api_error (f, "POST", "/api/ab-events", ann,
                      "{\"test_name\": \"speed\", \"events\": [{\"kind\": \"click\","
                      " \"value\": {}}]}", 400, "events[0].kind");
  cdl_test_api_error (f, "POST", "/api/ab-events", ann,
                      "{\"test_name\": \"speed\", \"events\": [{\"kind\": \"decision\","
                      " \"value\": {\"ms\": -1}}]}", 400, "events[0].value.ms");
  cdl_test_api_error (f, "POST", "/api/ab-events", ann,
                      "{\"test_name\": \"speed\", \"events\": [{\"kind\": \"prefetch\","
                      " \"value\": {\"hit\": 1}}]}", 400, "events[0].value.hit");
  for (guint i = 0; i < 101; i++)
    g_string_append_printf (many, "%s{\"kind\": \"prefetch\", \"value\": {\"hit\": true}}",
                            i ? "," : "");
  {
    g_autofree char *body = g_strdup_printf ("{\"test_name\": \"speed\", \"events\": [%s]}",
                                             many->str);

    cdl_test_api_error (f, "POST", "/api/ab-events", ann, body, 400, "1 to 100");
  }
  cdl_test_api_error (f, "POST", "/api/ab-events", carl,
                      "{\"test_name\": \"speed\", \"events\": [{\"kind\": \"prefetch\","
                      " \"value\": {\"hit\": true}}]}", 409, "assign");
  cdl_test_api_error (f, "POST", "/api/ab-events", ann,
                      "{\"test_name\": \"nope\", \"events\": [{\"kind\": \"prefetch\","
                      " \"value\": {\"hit\": true}}]}", 404, "nope");
  g_assert_cmpint (cdl_test_sql_int (f->conninfo, "SELECT count (*) FROM ab_events", NULL), ==,
                   10);

  cdl_test_api_error (f, "GET", path, ann, NULL, 403, "operator");
  cdl_test_api_error (f, "GET", "/api/ab-tests/00000000-0000-4000-8000-000000000000/results",
                      f->admin_token, NULL, 404, NULL);
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

  ADD ("/api-abtests/create", test_create);
  ADD ("/api-abtests/sticky", test_sticky);
  ADD ("/api-abtests/concurrent", test_concurrent);
  ADD ("/api-abtests/split", test_split);
  ADD ("/api-abtests/expiry", test_expiry);
  ADD ("/api-abtests/results", test_results);

#undef ADD

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
