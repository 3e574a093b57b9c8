/* test-core.c: the pure logic of src/core
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "core/cdl-auth.h"
#include "core/cdl-health-policy.h"
#include "core/cdl-json.h"
#include "core/cdl-worker.h"
#include "core/cdl-worker-input.h"

static void
test_health_flap_rule (void)
{
  CdlHealthState s = { CDL_WORKER_STATUS_UNHEALTHY, 0 };

  /* One clean pass is enough to become healthy. */
  s = cdl_health_policy_apply (s, TRUE);
  g_assert_cmpint (s.status, ==, CDL_WORKER_STATUS_HEALTHY);
  g_assert_cmpint (s.consecutive_failures, ==, 0);

  /* One failure is a flap, not an outage. */
  s = cdl_health_policy_apply (s, FALSE);
  g_assert_cmpint (s.status, ==, CDL_WORKER_STATUS_HEALTHY);
  g_assert_cmpint (s.consecutive_failures, ==, 1);

  /* A success in between resets the count. */
  s = cdl_health_policy_apply (s, TRUE);
  s = cdl_health_policy_apply (s, FALSE);
  g_assert_cmpint (s.status, ==, CDL_WORKER_STATUS_HEALTHY);

  /* The second consecutive failure turns it unhealthy. */
  s = cdl_health_policy_apply (s, FALSE);
  g_assert_cmpint (s.status, ==, CDL_WORKER_STATUS_UNHEALTHY);
  g_assert_cmpint (s.consecutive_failures, ==, 2);

  s = cdl_health_policy_apply (s, FALSE);
  g_assert_cmpint (s.status, ==, CDL_WORKER_STATUS_UNHEALTHY);

  s = cdl_health_policy_apply (s, TRUE);
  g_assert_cmpint (s.status, ==, CDL_WORKER_STATUS_HEALTHY);
  g_assert_cmpint (s.consecutive_failures, ==, 0);
}

static void
test_health_failures_saturate (void)
{
  CdlHealthState s = { CDL_WORKER_STATUS_UNHEALTHY, G_MAXINT };

  s = cdl_health_policy_apply (s, FALSE);
  g_assert_cmpint (s.consecutive_failures, ==, G_MAXINT);
}

static CdlWorkerInput *
parse (const char  *json,
       gboolean     for_create,
       GError     **error)
{
  g_autoptr(JsonNode) node = cdl_json_parse (json, -1, NULL);

  g_assert_nonnull (node);
  return cdl_worker_input_from_json (node, for_create, error);
}

static void
assert_rejected (const char *json,
                 gboolean    for_create,
                 const char *field)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorkerInput) input = parse (json, for_create, &error);

  g_assert_null (input);
  g_assert_error (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID);
  if (!g_str_has_prefix (error->message, field))
    g_error ("%s: expected the message to name %s, got: %s", json, field, error->message);
}

static void
test_worker_input_create (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorkerInput) input = NULL;

  input = parse ("{\"name\": \" gpu-01 \", \"base_url\": \"HTTP://GPU-01:8188/\","
                 " \"priority\": 5, \"max_concurrent_jobs\": 2,"
                 " \"tags\": [\"a100\", \"a100\", \" sdxl \"], \"api_key\": \"k\"}",
                 TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (input->name, ==, "gpu-01");
  g_assert_cmpstr (input->base_url, ==, "http://gpu-01:8188");
  g_assert_cmpint (input->priority, ==, 5);
  g_assert_cmpint (input->max_concurrent_jobs, ==, 2);
  g_assert_cmpuint (g_strv_length (input->tags), ==, 2);
  g_assert_cmpstr (input->tags[1], ==, "sdxl");
  g_assert_cmpstr (input->api_key, ==, "k");
  g_assert_true (input->set & CDL_WORKER_FIELD_API_KEY);
  g_assert_false (input->set & CDL_WORKER_FIELD_ENABLED);
}

static void
test_worker_input_errors_name_field (void)
{
  assert_rejected ("{\"base_url\": \"http://x:1\"}", TRUE, "name");
  assert_rejected ("{\"name\": \"w\"}", TRUE, "base_url");
  assert_rejected ("{\"name\": \"  \", \"base_url\": \"http://x:1\"}", TRUE, "name");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"ftp://x\"}", TRUE, "base_url");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"not a url\"}", TRUE, "base_url");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://u:p@x\"}", TRUE, "base_url");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x/?a=1\"}", TRUE, "base_url");
  assert_rejected ("{\"name\": \"w\", \"base_url\": 5}", TRUE, "base_url");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x\", \"max_concurrent_jobs\": -1}",
                   TRUE, "max_concurrent_jobs");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x\", \"max_concurrent_jobs\": 0}",
                   TRUE, "max_concurrent_jobs");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x\", \"max_concurrent_jobs\": 1.5}",
                   TRUE, "max_concurrent_jobs");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x\", \"priority\": \"high\"}",
                   TRUE, "priority");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x\", \"priority\": 99999999}",
                   TRUE, "priority");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x\", \"tags\": \"a\"}", TRUE, "tags");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x\", \"tags\": [1]}", TRUE, "tags[0]");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x\", \"tags\": [\"\"]}", TRUE, "tags[0]");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x\", \"enabled\": 1}", TRUE, "enabled");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x\", \"colour\": \"red\"}",
                   TRUE, "colour");
  assert_rejected ("{\"name\": \"w\", \"base_url\": \"http://x\", \"api_key\": \"a\\nb\"}",
                   TRUE, "api_key");
  assert_rejected ("[1, 2]", TRUE, "The body");
}

static void
test_worker_input_patch (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlWorkerInput) input = NULL;

  input = parse ("{\"enabled\": false}", FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (input->set, ==, CDL_WORKER_FIELD_ENABLED);
  g_assert_false (input->enabled);

  /* An empty patch is a mistake worth telling. */
  assert_rejected ("{}", FALSE, "Nothing to update");
  assert_rejected ("{\"max_concurrent_jobs\": -3}", FALSE, "max_concurrent_jobs");

  g_clear_pointer (&input, cdl_worker_input_free);
  input = parse ("{\"api_key\": null}", FALSE, &error);
  g_assert_no_error (error);
  g_assert_null (input->api_key);
  g_assert_true (input->set & CDL_WORKER_FIELD_API_KEY);
}

static void
test_base_url_normalization (void)
{
  static const struct { const char *in, *out; } cases[] = {
    { "http://GPU-01:8188", "http://gpu-01:8188" },
    { "https://comfy.example.org/proxy/gpu1///", "https://comfy.example.org/proxy/gpu1" },
    { "http://[::1]:8188/", "http://[::1]:8188" },
    { "http://10.0.0.5", "http://10.0.0.5" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *url = cdl_worker_normalize_base_url (cases[i].in, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (url, ==, cases[i].out);
    }
}

static void
test_token_generate (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 1000; i++)
    {
      char *token = cdl_auth_token_generate ();

      /* 256 bits in unpadded base64url */
      g_assert_cmpuint (strlen (token), ==, 43);
      for (const char *p = token; *p; p++)
        g_assert_true (g_ascii_isalnum (*p) || *p == '-' || *p == '_');
      g_assert_false (g_hash_table_contains (seen, token));
      g_hash_table_add (seen, token);
    }
}

static void
test_token_hash (void)
{
  g_autofree char *h1 = cdl_auth_token_hash ("abc");
  g_autofree char *h2 = cdl_auth_token_hash ("abd");

  g_assert_cmpstr (h1, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  g_assert_cmpstr (h1, !=, h2);

  g_assert_true (cdl_auth_secure_equal (h1, h1));
  g_assert_false (cdl_auth_secure_equal (h1, h2));
  g_assert_false (cdl_auth_secure_equal ("abc", "abcd"));
  g_assert_false (cdl_auth_secure_equal ("", "a"));
  g_assert_false (cdl_auth_secure_equal (NULL, "a"));
}

static void
test_roles (void)
{
  CdlRole role = 0;

  g_assert_true (cdl_role_allows (CDL_ROLE_ADMIN, CDL_ROLE_OPERATOR));
  g_assert_true (cdl_role_allows (CDL_ROLE_OPERATOR, CDL_ROLE_OPERATOR));
  g_assert_false (cdl_role_allows (CDL_ROLE_ANNOTATOR, CDL_ROLE_OPERATOR));
  g_assert_false (cdl_role_allows (CDL_ROLE_OPERATOR, CDL_ROLE_ADMIN));

  g_assert_true (cdl_role_from_string ("annotator", &role));
  g_assert_cmpint (role, ==, CDL_ROLE_ANNOTATOR);
  g_assert_false (cdl_role_from_string ("root", &role));
  g_assert_cmpstr (cdl_role_to_string (CDL_ROLE_ADMIN), ==, "admin");
}

static void
test_worker_json (void)
{
  CdlWorkerData data = { 0 };
  g_autoptr(CdlWorker) worker = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;
  JsonObject *obj;

  data.id = g_strdup ("4b1c2f4e-0000-4000-8000-000000000001");
  data.name = g_strdup ("gpu-01");
  data.base_url = g_strdup ("http://gpu-01:8188");
  data.status = CDL_WORKER_STATUS_HEALTHY;
  data.enabled = TRUE;
  data.priority = 3;
  data.max_concurrent_jobs = 2;
  data.current_queue_len = 1;
  data.last_checked_at = g_date_time_new_utc (2026, 12, 3, 13, 0, 1.25);

  worker = cdl_worker_new (&data);
  g_assert_null (data.name);
  cdl_worker_set_has_api_key (worker, TRUE);

  node = cdl_worker_to_json (worker);
  obj = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (obj, "status"), ==, "HEALTHY");
  g_assert_cmpint (json_object_get_int_member (obj, "max_concurrent_jobs"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (obj, "current_queue_len"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (obj, "last_checked_at"), ==,
                   "2026-12-03T13:00:01.250Z");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "tags")), ==, 0);
  g_assert_true (json_object_get_boolean_member (obj, "has_api_key"));
  g_assert_false (json_object_has_member (obj, "api_key"));

  text = cdl_json_to_string (node, FALSE);
  g_assert_null (strstr (text, "\"api_key\""));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/health/flap-rule", test_health_flap_rule);
  g_test_add_func ("/health/failures-saturate", test_health_failures_saturate);
  g_test_add_func ("/worker-input/create", test_worker_input_create);
  g_test_add_func ("/worker-input/errors-name-the-field", test_worker_input_errors_name_field);
  g_test_add_func ("/worker-input/patch", test_worker_input_patch);
  g_test_add_func ("/worker-input/base-url", test_base_url_normalization);
  g_test_add_func ("/auth/token-generate", test_token_generate);
  g_test_add_func ("/auth/token-hash", test_token_hash);
  g_test_add_func ("/auth/roles", test_roles);
  g_test_add_func ("/worker/json", test_worker_json);

  return g_test_run ();
}
