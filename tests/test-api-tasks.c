/* test-api-tasks.c: variable pools and tasks over the real REST server
 *
 * The server binary runs against a real PostgreSQL database; workflows are
 * stored straight into the database, so these tests do not depend on the
 * upload route.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "cdl-test-server.h"
#include "core/cdl-auth.h"
#include "core/cdl-json.h"
#include "core/cdl-sampling.h"
#include "db/cdl-pq.h"
#include "services/cdl-auth-service.h"

static CdlTestPg *pg;

/* The fixture is the shared one of a single server. */
typedef CdlTestApi Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  cdl_test_api_set_up (f, pg, "cdl-api-tasks-XXXXXX", FALSE);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  cdl_test_api_tear_down (f);
}

/* HTTP and SQL ---------------------------------------------------------------- */

/* Runs @query, which must fail with the freeze triggers' error. */
static void
sql_frozen (Fixture            *f,
            const char         *query,
            int                 n_params,
            const char * const *params)
{
  PGconn *conn = cdl_test_api_connect (f);
  g_autoptr(GError) error = NULL;
  PGresult *res;

  res = cdl_pq_exec (conn, query, n_params, params, &error);
  if (res != NULL)
    g_error ("expected \"%s\" to be refused on a frozen task; %s rows changed",
             query, PQcmdTuples (res));
  g_assert_error (error, CDL_DB_ERROR, CDL_DB_ERROR_FROZEN);
  PQfinish (conn);
}

/* Every prompt of a task, through keyset pages of @limit. */
static GPtrArray *
all_prompts (Fixture    *f,
             const char *task_id,
             guint       limit)
{
  GPtrArray *prompts = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  gint64 after = -1;
  guint pages = 0;

  do
    {
      g_autofree char *path = g_strdup_printf ("/api/tasks/%s?limit=%u&after=%" G_GINT64_FORMAT,
                                               task_id, limit, after);
      g_autoptr(JsonNode) data = cdl_test_api_ok (f, "GET", path, NULL, 200);
      JsonObject *obj = json_node_get_object (data);
      JsonArray *page = json_object_get_array_member (obj, "prompts");
      JsonArray *seeds = json_object_get_array_member (obj, "seeds");

      g_assert_cmpuint (json_array_get_length (page), <=, limit);
      g_assert_cmpuint (json_array_get_length (seeds), ==, json_array_get_length (page));
      for (guint i = 0; i < json_array_get_length (page); i++)
        g_ptr_array_add (prompts, json_node_copy (json_array_get_element (page, i)));

      after = json_object_get_null_member (obj, "next_after")
        ? -1 : json_object_get_int_member (obj, "next_after");
      pages++;
    }
  while (after >= 0);

  g_assert_cmpuint (pages, >=, 1);
  return prompts;
}

/* Tests ---------------------------------------------------------------------- */

static void
test_pools (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) patched = NULL;
  g_autoptr(JsonNode) old = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(JsonNode) one = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autofree char *path = NULL;
  g_autofree char *sample_path = NULL;
  JsonObject *obj;
  JsonArray *items;
  const char *id;

  created = cdl_test_api_ok (f, "POST", "/api/variable-pools",
                             "{\"name\": \"lighting\", \"mode\": \"no_replacement\","
                             " \"items\": [\" soft light \", \"soft light\", \"\","
                             " \"neon\", \"dusk\", \"noon\", \"candle\"]}", 201);
  obj = json_node_get_object (created);
  id = json_object_get_string_member (obj, "id");
  g_assert_cmpint (json_object_get_int_member (obj, "version"), ==, 1);
  items = json_object_get_array_member (obj, "items");
  g_assert_cmpuint (json_array_get_length (items), ==, 5);
  g_assert_cmpstr (json_array_get_string_element (items, 0), ==, "soft light");

  cdl_test_api_error (f, "POST", "/api/variable-pools", f->admin_token,
                      "{\"name\": \"lighting\", \"mode\": \"permutation\", \"items\": [\"a\"]}",
                      409, "lighting");
  cdl_test_api_error (f, "POST", "/api/variable-pools", f->admin_token,
                      "{\"name\": \"2nd-pool\", \"mode\": \"permutation\", \"items\": [\"a\"]}",
                      400, "name");
  cdl_test_api_error (f, "POST", "/api/variable-pools", f->admin_token,
                      "{\"name\": \"p\", \"mode\": \"random\", \"items\": [\"a\"]}", 400, "mode");
  cdl_test_api_error (f, "POST", "/api/variable-pools", f->admin_token,
                      "{\"name\": \"p\", \"mode\": \"permutation\", \"items\": [\"\"]}",
                      400, "items");

  list = cdl_test_api_ok (f, "GET", "/api/variable-pools", NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (list)), ==, 1);

  /* An edit makes version 2; version 1 stays readable. */
  path = g_strdup_printf ("/api/variable-pools/%s", id);
  patched = cdl_test_api_ok (f, "PATCH", path,
                             "{\"items\": [\"rim light\", \"fog\"], \"mode\": \"permutation\"}",
                             200);
  obj = json_node_get_object (patched);
  g_assert_cmpint (json_object_get_int_member (obj, "version"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (obj, "mode"), ==, "permutation");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "items")), ==, 2);

  {
    g_autofree char *v1 = g_strdup_printf ("%s?version=1", path);

    old = cdl_test_api_ok (f, "GET", v1, NULL, 200);
    obj = json_node_get_object (old);
    g_assert_cmpint (json_object_get_int_member (obj, "version"), ==, 1);
    g_assert_cmpint (json_object_get_int_member (obj, "current_version"), ==, 2);
    g_assert_cmpstr (json_object_get_string_member (obj, "mode"), ==, "no_replacement");
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "items")), ==, 5);
  }
  {
    g_autofree char *v9 = g_strdup_printf ("%s?version=9", path);

    cdl_test_api_error (f, "GET", v9, f->admin_token, NULL, 404, "version 9");
  }
  cdl_test_api_error (f, "PATCH", path, f->admin_token, "{\"name\": \"other\"}", 400, "name");
  cdl_test_api_error (f, "GET", "/api/variable-pools/8d1f3c2e-0000-4000-8000-000000000000",
                      f->admin_token, NULL, 404, NULL);

  /* Sampling: distinct, deterministic from the seed, bounded by the pool. */
  sample_path = g_strdup_printf ("%s/sample?count=4&seed=7&version=1", path);
  one = cdl_test_api_ok (f, "GET", sample_path, NULL, 200);
  again = cdl_test_api_ok (f, "GET", sample_path, NULL, 200);
  items = json_object_get_array_member (json_node_get_object (one), "items");
  g_assert_cmpuint (json_array_get_length (items), ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      JsonArray *other = json_object_get_array_member (json_node_get_object (again), "items");

      g_assert_cmpstr (json_array_get_string_element (items, i), ==,
                       json_array_get_string_element (other, i));
      for (guint j = 0; j < i; j++)
        g_assert_cmpstr (json_array_get_string_element (items, i), !=,
                         json_array_get_string_element (items, j));
    }
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (one), "rng_seed"), ==, 7);

  {
    g_autofree char *too_many = g_strdup_printf ("%s/sample?count=3", path);
    g_autofree char *zero = g_strdup_printf ("%s/sample?count=0", path);
    g_autofree char *none = g_strdup_printf ("%s/sample", path);

    cdl_test_api_error (f, "GET", too_many, f->admin_token, NULL, 400, "only 2");
    cdl_test_api_error (f, "GET", zero, f->admin_token, NULL, 400, "count");
    cdl_test_api_error (f, "GET", none, f->admin_token, NULL, 400, "count");
  }
}

static void
test_create_1000x4 (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *workflow = cdl_test_api_insert_workflow (f, "portrait",
                                                            "a photo of {subject}, {style}", TRUE);
  g_autofree char *subject = cdl_test_api_create_pool (f, "subject", "permutation", "person", 50);
  g_autofree char *style = cdl_test_api_create_pool (f, "style", "permutation", "style", 40);
  g_autofree char *body = cdl_test_task_body (workflow, subject, style, 1000, 4,
                                              "\"rng_seed\": 42, \"notes\": \"summer\"");
  g_autoptr(JsonNode) first = NULL;
  g_autoptr(JsonNode) second = NULL;
  g_autoptr(GPtrArray) prompts = NULL;
  g_autoptr(GPtrArray) prompts2 = NULL;
  g_autoptr(GHashTable) texts = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(JsonNode) list = NULL;
  JsonObject *obj;
  JsonObject *counts;
  const char *id;

  first = cdl_test_api_ok (f, "POST", "/api/tasks", body, 201);
  obj = json_node_get_object (first);
  id = json_object_get_string_member (obj, "id");
  g_assert_cmpstr (json_object_get_string_member (obj, "state"), ==, "DRAFT");
  g_assert_cmpint (json_object_get_int_member (obj, "rng_seed"), ==, 42);
  counts = json_object_get_object_member (obj, "counts");
  g_assert_cmpint (json_object_get_int_member (counts, "prompts"), ==, 1000);
  g_assert_cmpint (json_object_get_int_member (counts, "seeds"), ==, 4000);
  /* The first page and its seeds as number[][]. */
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "prompts")), ==, 100);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "seeds")), ==, 100);
  g_assert_cmpuint (json_array_get_length (json_array_get_array_element (
                      json_object_get_array_member (obj, "seeds"), 0)), ==, 4);
  g_assert_cmpint (json_object_get_int_member (obj, "next_after"), ==, 99);

  prompts = all_prompts (f, id, 300);
  g_assert_cmpuint (prompts->len, ==, 1000);

  for (guint i = 0; i < prompts->len; i++)
    {
      JsonObject *p = json_node_get_object (g_ptr_array_index (prompts, i));
      JsonArray *seeds = json_object_get_array_member (p, "seeds");
      JsonObject *vars = json_object_get_object_member (p, "variables");
      const char *text = json_object_get_string_member (p, "text");
      g_autofree char *expected = NULL;

      g_assert_cmpint (json_object_get_int_member (p, "position"), ==, i);
      g_assert_true (g_hash_table_add (texts, (gpointer) text));
      expected = g_strdup_printf ("a photo of %s, %s",
                                  json_object_get_string_member (vars, "subject"),
                                  json_object_get_string_member (vars, "style"));
      g_assert_cmpstr (json_object_get_string_member (p, "text"), ==, expected);

      g_assert_cmpuint (json_array_get_length (seeds), ==, 4);
      for (guint a = 0; a < 4; a++)
        {
          gint64 s = json_array_get_int_element (seeds, a);

          g_assert_cmpint (s, >=, 0);
          g_assert_cmpint (s, <, (gint64) CDL_SEED_LIMIT);
          for (guint b = 0; b < a; b++)
            g_assert_cmpint (s, !=, json_array_get_int_element (seeds, b));
        }
    }
  g_assert_cmpuint (g_hash_table_size (texts), ==, 1000);

  /* The same rng seed gives the same prompts and seeds. */
  second = cdl_test_api_ok (f, "POST", "/api/tasks", body, 201);
  prompts2 = all_prompts (f, json_object_get_string_member (json_node_get_object (second), "id"),
                          1000);
  g_assert_cmpuint (prompts2->len, ==, 1000);
  for (guint i = 0; i < 1000; i++)
    {
      JsonObject *a = json_node_get_object (g_ptr_array_index (prompts, i));
      JsonObject *b = json_node_get_object (g_ptr_array_index (prompts2, i));
      JsonArray *sa = json_object_get_array_member (a, "seeds");
      JsonArray *sb = json_object_get_array_member (b, "seeds");

      g_assert_cmpstr (json_object_get_string_member (a, "text"), ==,
                       json_object_get_string_member (b, "text"));
      g_assert_cmpstr (json_object_get_string_member (a, "id"), !=,
                       json_object_get_string_member (b, "id"));
      for (guint s = 0; s < 4; s++)
        g_assert_cmpint (json_array_get_int_element (sa, s), ==,
                         json_array_get_int_element (sb, s));
    }

  /* Stored rows, not just the answer. */
  {
    const char *params[1] = { id };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT (SELECT count(*) FROM prompts WHERE task_id ="
                                            " $1),"
                                            " (SELECT count(DISTINCT text) FROM prompts WHERE"
                                            " task_id = $1),"
                                            " (SELECT count(*) FROM seeds WHERE task_id = $1),"
                                            " (SELECT count(*) FROM task_pools WHERE task_id = $1)",
                                            1, params);

    g_assert_cmpint (cdl_pq_get_int (res, 0, 0), ==, 1000);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 1), ==, 1000);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 2), ==, 4000);
    g_assert_cmpint (cdl_pq_get_int (res, 0, 3), ==, 2);
  }

  /* Newest first. */
  list = cdl_test_api_ok (f, "GET", "/api/tasks", NULL, 200);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (list)), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (
                     json_node_get_array (list), 0), "id"), ==,
                   json_object_get_string_member (json_node_get_object (second), "id"));
}

static void
test_pinned_version (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *workflow = cdl_test_api_insert_workflow (f, "plain", "ignored without slots",
                                                            TRUE);
  g_autofree char *pool = cdl_test_api_create_pool (f, "dress", "no_replacement", "dress", 6);
  g_autofree char *body = cdl_test_task_body (workflow, pool, NULL, 5, 2, "\"rng_seed\": 1");
  g_autofree char *pool_path = g_strdup_printf ("/api/variable-pools/%s", pool);
  g_autofree char *task_path = NULL;
  g_autoptr(JsonNode) task = NULL;
  g_autoptr(JsonNode) edited = NULL;
  g_autoptr(JsonNode) repinned = NULL;
  g_autoptr(JsonNode) pool_v2 = NULL;
  JsonArray *prompts;
  JsonObject *pinned;

  task = cdl_test_api_ok (f, "POST", "/api/tasks", body, 201);
  task_path = g_strdup_printf ("/api/tasks/%s",
                               json_object_get_string_member (json_node_get_object (task), "id"));

  pool_v2 = cdl_test_api_ok (f, "PATCH", pool_path, "{\"items\": [\"gown\", \"suit\"]}", 200);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (pool_v2), "version"), ==, 2);

  /* A change of K regenerates from the pinned version 1, which still has
   * the six items that five prompts need. */
  edited = cdl_test_api_ok (f, "PATCH", task_path, "{\"target_prompts\": 6, \"name\": \"dresses\"}",
                            200);
  pinned = json_array_get_object_element (
             json_object_get_array_member (json_node_get_object (edited), "pools"), 0);
  g_assert_cmpint (json_object_get_int_member (pinned, "version"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (edited), "name"), ==,
                   "dresses");
  prompts = json_object_get_array_member (json_node_get_object (edited), "prompts");
  g_assert_cmpuint (json_array_get_length (prompts), ==, 6);
  for (guint i = 0; i < 6; i++)
    {
      const char *text = json_object_get_string_member (json_array_get_object_element (prompts, i),
                                                        "text");

      /* No slots: the item is the whole prompt. */
      g_assert_true (g_str_has_prefix (text, "dress "));
    }

  /* Naming the pools again re-pins the current version, whose two items
   * cannot give six prompts. */
  {
    g_autofree char *repin = g_strdup_printf ("{\"variable_pool_ids\": [\"%s\"]}", pool);
    g_autofree char *repin_two = g_strdup_printf ("{\"variable_pool_ids\": [\"%s\"],"
                                                  " \"target_prompts\": 2}", pool);

    cdl_test_api_error (f, "PATCH", task_path, f->admin_token, repin, 400, "only 2");
    repinned = cdl_test_api_ok (f, "PATCH", task_path, repin_two, 200);
    pinned = json_array_get_object_element (
               json_object_get_array_member (json_node_get_object (repinned), "pools"), 0);
    g_assert_cmpint (json_object_get_int_member (pinned, "version"), ==, 2);
  }
}

static void
test_freeze (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *workflow = cdl_test_api_insert_workflow (f, "frozen", "a {thing}", TRUE);
  g_autofree char *pool = cdl_test_api_create_pool (f, "thing", "permutation", "thing", 10);
  g_autofree char *body = cdl_test_task_body (workflow, pool, NULL, 8, 3, NULL);
  g_autofree char *task_path = NULL;
  g_autofree char *freeze_path = NULL;
  g_autoptr(JsonNode) task = NULL;
  g_autoptr(JsonNode) frozen = NULL;
  g_autoptr(JsonNode) after = NULL;
  JsonObject *obj;
  JsonObject *snapshot;
  const char *id;

  task = cdl_test_api_ok (f, "POST", "/api/tasks", body, 201);
  id = json_object_get_string_member (json_node_get_object (task), "id");
  task_path = g_strdup_printf ("/api/tasks/%s", id);
  freeze_path = g_strdup_printf ("/api/tasks/%s/freeze", id);

  frozen = cdl_test_api_ok (f, "POST", freeze_path, NULL, 200);
  obj = json_node_get_object (frozen);
  g_assert_cmpstr (json_object_get_string_member (obj, "state"), ==, "FROZEN");
  g_assert_false (json_object_get_null_member (obj, "frozen_at"));
  snapshot = json_object_get_object_member (obj, "snapshot");
  g_assert_nonnull (snapshot);
  g_assert_cmpuint (strlen (json_object_get_string_member (
                      json_object_get_object_member (snapshot, "checksum"), "prompts_and_seeds")),
                    ==, 64);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (snapshot, "counts"),
                                               "seeds"), ==, 24);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (snapshot, "workflow"),
                                               "version"), ==, 1);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (snapshot, "pools")),
                    ==, 1);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (snapshot, "settings"),
                                               "max_workflow_batch_size"), ==, 8);
  /* The summary leaves the raw graph out; the stored snapshot keeps it. */
  g_assert_false (json_object_has_member (json_object_get_object_member (snapshot, "workflow"),
                                          "raw_definition"));
  {
    const char *params[1] = { id };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "SELECT frozen_snapshot -> 'workflow' ->"
                                            " 'raw_definition'"
                                            " -> '3' ->> 'class_type' FROM tasks WHERE id = $1",
                                            1, params);

    g_assert_cmpstr (cdl_pq_get_string (res, 0, 0), ==, "KSampler");
  }

  cdl_test_api_error (f, "POST", freeze_path, f->admin_token, NULL, 409, "already");
  cdl_test_api_error (f, "PATCH", task_path, f->admin_token, "{\"notes\": \"late\"}", 409, "DRAFT");
  cdl_test_api_error (f, "PATCH", task_path, f->admin_token, "{\"target_prompts\": 2}", 409,
                      "DRAFT");

  /* The database itself refuses, whatever the code path. */
  {
    const char *params[1] = { id };

    sql_frozen (f, "UPDATE prompts SET text = 'changed' WHERE task_id = $1", 1, params);
    sql_frozen (f, "DELETE FROM prompts WHERE task_id = $1", 1, params);
    sql_frozen (f, "UPDATE seeds SET seed_value = seed_value + 1 WHERE task_id = $1", 1, params);
    sql_frozen (f, "DELETE FROM seeds WHERE task_id = $1", 1, params);
    sql_frozen (f, "UPDATE tasks SET rng_seed = rng_seed + 1 WHERE id = $1", 1, params);
    sql_frozen (f, "INSERT INTO prompts (task_id, position, text) VALUES ($1, 99, 'extra')",
                1, params);
    sql_frozen (f, "INSERT INTO seeds (task_id, prompt_id, position, seed_value)"
                " SELECT task_id, id, 99, 12345 FROM prompts WHERE task_id = $1 LIMIT 1",
                1, params);
  }

  after = cdl_test_api_ok (f, "GET", task_path, NULL, 200);
  obj = json_node_get_object (after);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (obj, "counts"),
                                               "seeds"), ==, 24);
  g_assert_cmpstr (json_object_get_string_member (obj, "state"), ==, "FROZEN");
}

static void
test_invalid_workflow (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *bad = cdl_test_api_insert_workflow (f, "broken", "x {thing}", FALSE);
  g_autofree char *good = cdl_test_api_insert_workflow (f, "fine", "x {thing}", TRUE);
  g_autofree char *pool = cdl_test_api_create_pool (f, "thing", "permutation", "thing", 10);
  g_autofree char *bad_body = cdl_test_task_body (bad, pool, NULL, 2, 1, NULL);
  g_autofree char *good_body = cdl_test_task_body (good, pool, NULL, 2, 1, NULL);
  g_autofree char *freeze_path = NULL;
  g_autoptr(JsonNode) task = NULL;

  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, bad_body, 409, "ControlNetApply");

  /* A workflow found invalid after the task was made blocks the freeze. */
  task = cdl_test_api_ok (f, "POST", "/api/tasks", good_body, 201);
  freeze_path = g_strdup_printf ("/api/tasks/%s/freeze",
                                 json_object_get_string_member (json_node_get_object (task), "id"));
  {
    const char *params[1] = { good };
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo,
                                            "UPDATE workflows SET valid = false, problems ="
                                            " '[{\"code\": \"missing_node_type\", \"message\":"
                                            " \"No healthy worker has node type FancySampler\"}]'"
                                            " WHERE id = $1",
                                            1, params);
  }
  cdl_test_api_error (f, "POST", freeze_path, f->admin_token, NULL, 409, "FancySampler");
}

static void
test_bad_input (Fixture       *f,
                gconstpointer  data)
{
  g_autofree char *workflow = cdl_test_api_insert_workflow (f, "wf", "a {thing} in {place}", TRUE);
  g_autofree char *thing = cdl_test_api_create_pool (f, "thing", "permutation", "thing", 5);
  g_autofree char *place = cdl_test_api_create_pool (f, "place", "permutation", "place", 4);
  g_autofree char *too_many = cdl_test_task_body (workflow, thing, place, 21, 2, NULL);
  g_autofree char *no_seeds = cdl_test_task_body (workflow, thing, place, 2, 0, NULL);
  g_autofree char *over_batch = cdl_test_task_body (workflow, thing, place, 2, 9, NULL);
  g_autofree char *unknown_slot = cdl_test_task_body (workflow, thing, place, 2, 2,
                                                      "\"prompt_template\": \"{thing} at"
                                                      " {plaice}\"");
  g_autofree char *missing_slot = cdl_test_task_body (workflow, thing, NULL, 2, 2, NULL);
  g_autofree char *unknown_pool = cdl_test_task_body (workflow, thing,
                                                      "5b0e1d4c-0000-4000-8000-000000000000", 2, 2,
                                                      NULL);
  g_autofree char *unknown_workflow = cdl_test_task_body ("5b0e1d4c-0000-4000-8000-000000000001",
                                                          thing, place, 2, 2, NULL);
  g_autofree char *by_name = cdl_test_task_body (workflow, "thing", "place", 20, 1, NULL);
  g_autoptr(JsonNode) named = NULL;

  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, "{\"workflow_id\": ", 400, "JSON");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, "[1]", 400, "object");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token,
                      "{\"workflow_id\": 5, \"variable_pool_ids\": [], \"target_prompts\": 1,"
                      " \"seeds_per_prompt\": 1}", 400, "workflow_id");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token,
                      "{\"variable_pool_ids\": [], \"target_prompts\": 1, \"seeds_per_prompt\": 1}",
                      400, "workflow_id");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, too_many, 400, "only 20");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, too_many, 400, "target_prompts");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, no_seeds, 400, "seeds_per_prompt");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, over_batch, 400,
                      "max_workflow_batch_size");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, unknown_slot, 400, "{plaice}");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, unknown_slot, 400,
                      "prompt_template");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, missing_slot, 400, "{place}");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, unknown_pool, 400,
                      "variable_pool_ids");
  cdl_test_api_error (f, "POST", "/api/tasks", f->admin_token, unknown_workflow, 400,
                      "workflow_id");
  cdl_test_api_error (f, "GET", "/api/tasks/not-a-task", f->admin_token, NULL, 404, NULL);
  cdl_test_api_error (f, "GET", "/api/tasks/5b0e1d4c-0000-4000-8000-000000000002?limit=0",
                      f->admin_token, NULL, 400, "limit");

  /* Nothing half-made is left behind by the failures. */
  {
    g_autoptr(PGresult) res = cdl_test_sql (f->conninfo, "SELECT count(*) FROM tasks", 0, NULL);

    g_assert_cmpint (cdl_pq_get_int (res, 0, 0), ==, 0);
  }

  /* Pools may be named by name too; 20 is exactly what 5 × 4 gives. */
  named = cdl_test_api_ok (f, "POST", "/api/tasks", by_name, 201);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (
                     json_node_get_object (named), "counts"), "prompts"), ==, 20);
}

static void
test_regenerate (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *workflow = cdl_test_api_insert_workflow (f, "wf", "a {thing} at {time}", TRUE);
  g_autofree char *thing = cdl_test_api_create_pool (f, "thing", "permutation", "thing", 20);
  g_autofree char *time = cdl_test_api_create_pool (f, "time", "no_replacement", "hour", 12);
  g_autofree char *body = cdl_test_task_body (workflow, thing, time, 10, 2, "\"rng_seed\": 5");
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) task = NULL;
  g_autoptr(JsonNode) more_seeds = NULL;
  g_autoptr(JsonNode) other_seed = NULL;
  g_autoptr(JsonNode) templated = NULL;
  g_autoptr(JsonNode) notes = NULL;
  JsonArray *before;
  JsonArray *after;
  gboolean moved = FALSE;

  task = cdl_test_api_ok (f, "POST", "/api/tasks", body, 201);
  path = g_strdup_printf ("/api/tasks/%s",
                          json_object_get_string_member (json_node_get_object (task), "id"));
  before = json_object_get_array_member (json_node_get_object (task), "prompts");

  /* N changes the seeds only: the prompts come from their own stream. */
  more_seeds = cdl_test_api_ok (f, "PATCH", path, "{\"seeds_per_prompt\": 3}", 200);
  after = json_object_get_array_member (json_node_get_object (more_seeds), "prompts");
  g_assert_cmpuint (json_array_get_length (after), ==, 10);
  for (guint i = 0; i < 10; i++)
    {
      JsonObject *a = json_array_get_object_element (before, i);
      JsonObject *b = json_array_get_object_element (after, i);

      g_assert_cmpstr (json_object_get_string_member (a, "text"), ==,
                       json_object_get_string_member (b, "text"));
      g_assert_cmpuint (json_array_get_length (json_object_get_array_member (b, "seeds")), ==, 3);
    }
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (
                     json_node_get_object (more_seeds), "counts"), "seeds"), ==, 30);

  /* Another rng seed draws other prompts. */
  other_seed = cdl_test_api_ok (f, "PATCH", path, "{\"rng_seed\": 6}", 200);
  after = json_object_get_array_member (json_node_get_object (other_seed), "prompts");
  for (guint i = 0; i < 10; i++)
    moved |= g_strcmp0 (json_object_get_string_member (json_array_get_object_element (before, i),
                                                       "text"),
                        json_object_get_string_member (json_array_get_object_element (after, i),
                                                       "text")) != 0;
  g_assert_true (moved);

  /* A template of the task's own replaces the workflow's prompt. */
  templated = cdl_test_api_ok (f, "PATCH", path,
                               "{\"prompt_template\": \"{{draft}} {time}: {thing}\"}", 200);
  after = json_object_get_array_member (json_node_get_object (templated), "prompts");
  for (guint i = 0; i < 10; i++)
    g_assert_true (g_str_has_prefix (json_object_get_string_member (
                                       json_array_get_object_element (after, i), "text"),
                                     "{draft} hour "));

  /* Notes alone keep every prompt and seed, ids included. */
  notes = cdl_test_api_ok (f, "PATCH", path, "{\"notes\": \"checked\"}", 200);
  before = after;
  after = json_object_get_array_member (json_node_get_object (notes), "prompts");
  for (guint i = 0; i < 10; i++)
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (before, i),
                                                    "id"),
                     ==,
                     json_object_get_string_member (json_array_get_object_element (after, i),
                                                    "id"));
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (notes), "notes"), ==,
                   "checked");

  /* A draft that cannot be regenerated is left as it was. */
  cdl_test_api_error (f, "PATCH", path, f->admin_token, "{\"target_prompts\": 13}", 400, "only 12");
  {
    g_autoptr(JsonNode) still = cdl_test_api_ok (f, "GET", path, NULL, 200);

    g_assert_cmpint (json_object_get_int_member (json_node_get_object (still), "target_prompts"),
                     ==, 10);
  }
}

typedef struct
{
  Fixture    *f;
  const char *path;
  const char *body;
  guint       status;
} Edit;

static gpointer
edit_thread (gpointer data)
{
  Edit *edit = data;
  g_autoptr(SoupSession) http = soup_session_new ();
  g_autofree char *url = g_strconcat (edit->f->base_url, edit->path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("PATCH", url);
  g_autofree char *auth = g_strconcat ("Bearer ", edit->f->admin_token, NULL);
  g_autoptr(GBytes) bytes = g_bytes_new_static (edit->body, strlen (edit->body));
  g_autoptr(GBytes) reply = NULL;

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
  soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  reply = soup_session_send_and_read (http, msg, NULL, NULL);
  edit->status = soup_message_get_status (msg);

  return NULL;
}

static void
test_concurrent_pool_edits (Fixture       *f,
                            gconstpointer  data)
{
  g_autofree char *pool = cdl_test_api_create_pool (f, "light", "permutation", "light", 3);
  g_autofree char *path = g_strdup_printf ("/api/variable-pools/%s", pool);
  g_autoptr(JsonNode) current = NULL;
  Edit edits[6];
  GThread *threads[6];

  /* Edits that meet queue on the pool's row: versions 2 … 7, none lost. */
  for (guint i = 0; i < G_N_ELEMENTS (edits); i++)
    {
      edits[i] = (Edit) { f, path, NULL, 0 };
      edits[i].body = i % 2 ? "{\"items\": [\"a\", \"b\"]}"
                            : "{\"mode\": \"no_replacement\"}";
      threads[i] = g_thread_new ("edit", edit_thread, &edits[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (edits); i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpuint (edits[i].status, ==, 200);
    }

  current = cdl_test_api_ok (f, "GET", path, NULL, 200);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (current), "version"), ==, 7);
}

static void
test_auth (Fixture       *f,
           gconstpointer  data)
{
  g_autofree char *annotator = cdl_test_api_token_for_role (f, "anna", CDL_ROLE_ANNOTATOR);
  g_autofree char *operator = cdl_test_api_token_for_role (f, "otto", CDL_ROLE_OPERATOR);
  g_autofree char *workflow = cdl_test_api_insert_workflow (f, "wf", "a {thing}", TRUE);
  g_autofree char *pool = NULL;
  g_autofree char *body = NULL;
  g_autoptr(JsonNode) root = NULL;
  guint status;

  cdl_test_api_error (f, "GET", "/api/tasks", NULL, NULL, 401, NULL);
  cdl_test_api_error (f, "GET", "/api/variable-pools", NULL, NULL, 401, NULL);
  cdl_test_api_error (f, "GET", "/api/tasks", annotator, NULL, 403, "operator");
  cdl_test_api_error (f, "POST", "/api/variable-pools", annotator,
                      "{\"name\": \"thing\", \"mode\": \"permutation\", \"items\": [\"a\"]}", 403,
                      "operator");

  /* An operator builds tasks and pools. */
  root = cdl_test_api (f, "POST", "/api/variable-pools", operator,
                       "{\"name\": \"thing\", \"mode\": \"permutation\","
                       " \"items\": [\"a\", \"b\"]}",
                       &status);
  g_assert_cmpuint (status, ==, 201);
  pool = g_strdup (json_object_get_string_member (json_object_get_object_member (
                     json_node_get_object (root), "data"), "id"));
  g_clear_pointer (&root, json_node_unref);

  body = cdl_test_task_body (workflow, pool, NULL, 2, 1, NULL);
  cdl_test_api_error (f, "POST", "/api/tasks", annotator, body, 403, "operator");
  root = cdl_test_api (f, "POST", "/api/tasks", operator, body, &status);
  g_assert_cmpuint (status, ==, 201);
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

  ADD ("/api-tasks/pools", test_pools);
  ADD ("/api-tasks/create-1000x4", test_create_1000x4);
  ADD ("/api-tasks/pinned-version", test_pinned_version);
  ADD ("/api-tasks/regenerate", test_regenerate);
  ADD ("/api-tasks/concurrent-pool-edits", test_concurrent_pool_edits);
  ADD ("/api-tasks/freeze", test_freeze);
  ADD ("/api-tasks/invalid-workflow", test_invalid_workflow);
  ADD ("/api-tasks/bad-input", test_bad_input);
  ADD ("/api-tasks/auth", test_auth);

#undef ADD

  ret = g_test_run ();
  cdl_test_pg_stop (pg);

  return ret;
}
