/* test-schedule.c: the orchestrator's rules (src/core/cdl-schedule.h and
 * cdl-graph.h), pinned down without any I/O
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "core/cdl-graph.h"
#include "core/cdl-json.h"
#include "core/cdl-schedule.h"
#include "core/cdl-workflow.h"

static CdlWorker *
make_worker (const char      *id,
             const char      *name,
             CdlWorkerStatus  status,
             gboolean         enabled,
             int              priority,
             int              queue_len)
{
  CdlWorkerData data = { 0 };

  data.id = g_strdup (id);
  data.name = g_strdup (name);
  data.base_url = g_strdup ("http://127.0.0.1:1");
  data.status = status;
  data.enabled = enabled;
  data.priority = priority;
  data.max_concurrent_jobs = 1;
  data.current_queue_len = queue_len;

  return cdl_worker_new (&data);
}

static void
test_pick_worker (void)
{
  g_autoptr(GPtrArray) workers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) exclude = g_hash_table_new (g_str_hash, g_str_equal);
  const char * const only_b[] = { "b", NULL };
  CdlWorker *w;

  g_ptr_array_add (workers, make_worker ("a", "a", CDL_WORKER_STATUS_HEALTHY, TRUE, 1, 0));
  g_ptr_array_add (workers, make_worker ("b", "b", CDL_WORKER_STATUS_HEALTHY, TRUE, 5, 3));
  g_ptr_array_add (workers, make_worker ("c", "c", CDL_WORKER_STATUS_HEALTHY, TRUE, 5, 1));
  g_ptr_array_add (workers, make_worker ("d", "d", CDL_WORKER_STATUS_UNHEALTHY, TRUE, 9, 0));
  g_ptr_array_add (workers, make_worker ("e", "e", CDL_WORKER_STATUS_HEALTHY, FALSE, 9, 0));

  /* Priority first, then the shorter queue; unhealthy and disabled never. */
  w = cdl_schedule_pick_worker (workers, NULL, NULL);
  g_assert_cmpstr (cdl_worker_get_id (w), ==, "c");

  /* Only workers that can run the workflow. */
  w = cdl_schedule_pick_worker (workers, only_b, NULL);
  g_assert_cmpstr (cdl_worker_get_id (w), ==, "b");

  g_hash_table_add (exclude, "c");
  w = cdl_schedule_pick_worker (workers, NULL, exclude);
  g_assert_cmpstr (cdl_worker_get_id (w), ==, "b");

  g_hash_table_add (exclude, "b");
  g_hash_table_add (exclude, "a");
  g_assert_null (cdl_schedule_pick_worker (workers, NULL, exclude));
}

static void
test_pick_worker_stable_on_ties (void)
{
  g_autoptr(GPtrArray) workers = g_ptr_array_new_with_free_func (g_object_unref);

  g_ptr_array_add (workers, make_worker ("2", "gpu-b", CDL_WORKER_STATUS_HEALTHY, TRUE, 0, 0));
  g_ptr_array_add (workers, make_worker ("1", "gpu-a", CDL_WORKER_STATUS_HEALTHY, TRUE, 0, 0));

  g_assert_cmpstr (cdl_worker_get_name (cdl_schedule_pick_worker (workers, NULL, NULL)), ==,
                   "gpu-a");
}

static void
test_gate (void)
{
  /* The default threshold of 1: only an idle worker takes a job. */
  g_assert_true (cdl_schedule_gate_open (0, 0, 1));
  g_assert_false (cdl_schedule_gate_open (0, 1, 1));
  g_assert_false (cdl_schedule_gate_open (1, 0, 1));
  g_assert_true (cdl_schedule_gate_open (1, 1, 3));
  g_assert_false (cdl_schedule_gate_open (2, 1, 3));
  /* Missing keys count as zero; nonsense limits as one. */
  g_assert_true (cdl_schedule_gate_open (-1, -5, 1));
  g_assert_false (cdl_schedule_gate_open (0, 1, 0));
  g_assert_false (cdl_schedule_gate_open (G_MAXINT, G_MAXINT, G_MAXINT));
}

static void
test_plan_prompt (void)
{
  g_autoptr(GArray) native = cdl_schedule_plan_prompt (4, TRUE, 8);
  g_autoptr(GArray) loop = cdl_schedule_plan_prompt (4, FALSE, 8);
  g_autoptr(GArray) too_big = cdl_schedule_plan_prompt (9, TRUE, 8);
  g_autoptr(GArray) none = cdl_schedule_plan_prompt (0, TRUE, 8);
  CdlJobSlice *s;

  g_assert_cmpuint (native->len, ==, 1);
  s = &g_array_index (native, CdlJobSlice, 0);
  g_assert_true (s->native);
  g_assert_cmpint (s->first_seed, ==, 0);
  g_assert_cmpint (s->n_seeds, ==, 4);

  /* Without LatentBatchSeedBehavior: one seed per job, in order. */
  g_assert_cmpuint (loop->len, ==, 4);
  for (guint i = 0; i < loop->len; i++)
    {
      s = &g_array_index (loop, CdlJobSlice, i);
      g_assert_false (s->native);
      g_assert_cmpint (s->first_seed, ==, (int)i);
      g_assert_cmpint (s->n_seeds, ==, 1);
    }

  /* Never a batch above the admin limit. */
  g_assert_cmpuint (too_big->len, ==, 9);
  for (guint i = 0; i < too_big->len; i++)
    g_assert_cmpint (g_array_index (too_big, CdlJobSlice, i).n_seeds, <=, 8);

  g_assert_cmpuint (none->len, ==, 0);
}

static void
test_downshift (void)
{
  g_autoptr(CdlSettings) settings = cdl_settings_new ();
  CdlGenSize size = { 1024, 768, 4 };
  CdlGenSize next;
  int steps = 0;

  /* Batch first. */
  g_assert_true (cdl_schedule_downshift (settings, &size, &next));
  g_assert_cmpint (next.batch_size, ==, 2);
  g_assert_cmpint (next.width, ==, 1024);
  size = next;
  g_assert_true (cdl_schedule_downshift (settings, &size, &next));
  g_assert_cmpint (next.batch_size, ==, 1);
  size = next;

  /* Then the resolution, by a quarter, multiples of 8. */
  g_assert_true (cdl_schedule_downshift (settings, &size, &next));
  g_assert_cmpint (next.width, ==, 768);
  g_assert_cmpint (next.height, ==, 576);
  g_assert_cmpint (next.width % 8, ==, 0);

  /* And never below the guardrail; it ends. */
  while (cdl_schedule_downshift (settings, &size, &next))
    {
      g_assert_cmpint (next.width, >=, settings->resolution_min_side);
      g_assert_cmpint (next.height, >=, settings->resolution_min_side);
      g_assert_true (next.width < size.width || next.height < size.height);
      size = next;
      g_assert_cmpint (++steps, <, 20);
    }
  g_assert_cmpint (MIN (size.width, size.height), ==, settings->resolution_min_side);
}

static void
test_retry (void)
{
  g_assert_true (cdl_schedule_should_retry (0, CDL_JOB_OUTCOME_ERROR));
  g_assert_true (cdl_schedule_should_retry (2, CDL_JOB_OUTCOME_OOM));
  g_assert_true (cdl_schedule_should_retry (1, CDL_JOB_OUTCOME_PARTIAL));
  g_assert_true (cdl_schedule_should_retry (1, CDL_JOB_OUTCOME_LOST));
  /* At most three retries. */
  g_assert_false (cdl_schedule_should_retry (3, CDL_JOB_OUTCOME_ERROR));
  g_assert_false (cdl_schedule_should_retry (0, CDL_JOB_OUTCOME_SUCCESS));
  g_assert_false (cdl_schedule_should_retry (0, CDL_JOB_OUTCOME_REJECTED));
  g_assert_false (cdl_schedule_should_retry (0, CDL_JOB_OUTCOME_INTERRUPTED));
  g_assert_cmpstr (cdl_job_outcome_to_string (CDL_JOB_OUTCOME_PARTIAL), ==, "partial_failed");

  g_assert_cmpuint (cdl_schedule_history_delay_ms (0), ==, 500);
  g_assert_cmpuint (cdl_schedule_history_delay_ms (1), ==, 1000);
  g_assert_cmpuint (cdl_schedule_history_delay_ms (3), ==, 4000);
  g_assert_cmpuint (cdl_schedule_history_delay_ms (50), ==, 8000);
}

static const char graph_text[] =
  "{\"3\": {\"class_type\": \"KSampler\", \"inputs\": {\"seed\": 1, \"steps\": 20,"
  "   \"model\": [\"4\", 0], \"positive\": [\"6\", 0], \"negative\": [\"7\", 0],"
  "   \"latent_image\": [\"5\", 0]}},"
  " \"4\": {\"class_type\": \"CheckpointLoaderSimple\", \"inputs\": {\"ckpt_name\": \"sd15.safetensors\"}},"
  " \"5\": {\"class_type\": \"EmptyLatentImage\", \"inputs\": {\"width\": 512, \"height\": 512, \"batch_size\": 1}},"
  " \"6\": {\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\": \"a cat\", \"clip\": [\"4\", 1]}},"
  " \"7\": {\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\": \"blurry\", \"clip\": [\"4\", 1]}},"
  " \"9\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"8\", 0], \"filename_prefix\": \"x\"}}}";

static CdlPromptNode *
prompt_node (const char    *id,
             CdlPromptRole  role)
{
  CdlPromptNode *p = g_new0 (CdlPromptNode, 1);

  p->node_id = g_strdup (id);
  p->class_type = g_strdup ("CLIPTextEncode");
  p->role = role;
  p->input = g_strdup ("text");
  return p;
}

static CdlSeedNode *
seed_node (const char *id,
           const char *input)
{
  CdlSeedNode *s = g_new0 (CdlSeedNode, 1);

  s->node_id = g_strdup (id);
  s->class_type = g_strdup ("KSampler");
  s->input = g_strdup (input);
  return s;
}

static const char *
input_string (JsonNode   *graph,
              const char *node,
              const char *input)
{
  JsonObject *n = json_object_get_object_member (json_node_get_object (graph), node);

  return json_object_get_string_member (json_object_get_object_member (n, "inputs"), input);
}

static gint64
input_int (JsonNode   *graph,
           const char *node,
           const char *input)
{
  JsonObject *n = json_object_get_object_member (json_node_get_object (graph), node);

  return json_object_get_int_member (json_object_get_object_member (n, "inputs"), input);
}

static void
test_graph_patch (void)
{
  g_autoptr(JsonNode) graph = cdl_json_parse (graph_text, -1, NULL);
  g_autoptr(JsonNode) patched = NULL;
  g_autoptr(GPtrArray) prompts = g_ptr_array_new_with_free_func ((GDestroyNotify)cdl_prompt_node_free);
  g_autoptr(GPtrArray) seeds = g_ptr_array_new_with_free_func ((GDestroyNotify)cdl_seed_node_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  CdlGraphPatch patch = { 0 };

  g_assert_nonnull (graph);
  g_ptr_array_add (prompts, prompt_node ("6", CDL_PROMPT_ROLE_POSITIVE));
  g_ptr_array_add (prompts, prompt_node ("7", CDL_PROMPT_ROLE_NEGATIVE));
  g_ptr_array_add (seeds, seed_node ("3", "seed"));

  patch.prompt_nodes = prompts;
  patch.positive_text = "a red dress, soft light";
  patch.seed_nodes = seeds;
  patch.seed = 9007199254740991;  /* 2^53 - 1 stays exact */
  patch.batch_size = 4;

  patched = cdl_graph_patch (graph, &patch, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (input_string (patched, "6", "text"), ==, "a red dress, soft light");
  g_assert_cmpstr (input_string (patched, "7", "text"), ==, "blurry");
  g_assert_cmpint (input_int (patched, "3", "seed"), ==, 9007199254740991);
  g_assert_cmpint (input_int (patched, "5", "batch_size"), ==, 4);
  g_assert_cmpint (input_int (patched, "5", "width"), ==, 512);

  /* The original is untouched, and nothing else changed in the copy. */
  g_assert_cmpstr (input_string (graph, "6", "text"), ==, "a cat");
  g_assert_cmpint (input_int (graph, "3", "seed"), ==, 1);
  json_object_remove_member (json_object_get_object_member (
    json_object_get_object_member (json_node_get_object (patched), "6"), "inputs"), "text");
  json_object_remove_member (json_object_get_object_member (
    json_object_get_object_member (json_node_get_object (graph), "6"), "inputs"), "text");
  json_object_set_int_member (json_object_get_object_member (
    json_object_get_object_member (json_node_get_object (patched), "3"), "inputs"), "seed", 1);
  json_object_set_int_member (json_object_get_object_member (
    json_object_get_object_member (json_node_get_object (patched), "5"), "inputs"), "batch_size", 1);
  g_assert_true (json_node_equal (graph, patched));
}

static void
test_graph_patch_refuses_links (void)
{
  g_autoptr(JsonNode) graph = cdl_json_parse (graph_text, -1, NULL);
  g_autoptr(JsonNode) patched = NULL;
  g_autoptr(GPtrArray) seeds = g_ptr_array_new_with_free_func ((GDestroyNotify)cdl_seed_node_free);
  g_autoptr(GError) error = NULL;
  CdlGraphPatch patch = { 0 };

  /* "model" is a link: a seed cannot be written there. */
  g_ptr_array_add (seeds, seed_node ("3", "model"));
  patch.seed_nodes = seeds;
  patch.seed = 5;

  patched = cdl_graph_patch (graph, &patch, &error);
  g_assert_null (patched);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "Node 3"));
  g_clear_error (&error);

  /* A node that is not there. */
  g_ptr_array_set_size (seeds, 0);
  g_ptr_array_add (seeds, seed_node ("42", "seed"));
  patched = cdl_graph_patch (graph, &patch, &error);
  g_assert_null (patched);
  g_assert_nonnull (strstr (error->message, "42"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/schedule/pick-worker", test_pick_worker);
  g_test_add_func ("/schedule/pick-worker-stable-on-ties", test_pick_worker_stable_on_ties);
  g_test_add_func ("/schedule/gate", test_gate);
  g_test_add_func ("/schedule/plan-prompt", test_plan_prompt);
  g_test_add_func ("/schedule/downshift", test_downshift);
  g_test_add_func ("/schedule/retry", test_retry);
  g_test_add_func ("/graph/patch", test_graph_patch);
  g_test_add_func ("/graph/patch-refuses-links", test_graph_patch_refuses_links);

  return g_test_run ();
}
