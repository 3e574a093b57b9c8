/* test-workflow.c: workflow validation and inspection, settings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "core/cdl-json.h"
#include "core/cdl-settings.h"
#include "core/cdl-worker-input.h"
#include "core/cdl-workflow.h"
#include "sim/cdl-sim-nodes.h"

static char *
corpus_path (const char *name)
{
  const char *data = g_getenv ("CDL_TEST_DATA");

  g_assert_nonnull (data);

  return g_build_filename (data, "workflows", name, NULL);
}

static char *
load_corpus (const char *name,
             gsize      *length)
{
  g_autofree char *path = corpus_path (name);
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_file_get_contents (path, &text, length, &error);
  g_assert_no_error (error);

  return text;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The problem codes of a report, sorted and joined with commas. */
static char *
codes_of (const CdlWorkflowReport *report)
{
  g_autoptr(GPtrArray) codes = g_ptr_array_new ();

  for (guint i = 0; i < report->problems->len; i++)
    {
      CdlWorkflowProblem *p = g_ptr_array_index (report->problems, i);

      g_assert_nonnull (p->code);
      g_assert_nonnull (p->message);
      g_assert_cmpstr (p->message, !=, "");
      g_ptr_array_add (codes, p->code);
    }

  g_ptr_array_sort (codes, compare_strings);
  g_ptr_array_add (codes, NULL);

  return g_strjoinv (",", (char **) codes->pdata);
}

static const CdlWorkflowProblem *
find_problem (const CdlWorkflowReport *report,
              const char              *code)
{
  for (guint i = 0; i < report->problems->len; i++)
    {
      CdlWorkflowProblem *p = g_ptr_array_index (report->problems, i);

      if (p != NULL && g_strcmp0 (p->code, code) == 0)
        return p;
    }

  g_error ("No %s problem in the report", code);
}

static JsonObject *
sim_object_info (const char * const *exclude,
                 JsonNode          **keep)
{
  g_autofree char *text = cdl_sim_nodes_object_info (exclude);
  g_autoptr(GError) error = NULL;

  *keep = cdl_json_parse (text, -1, &error);
  g_assert_no_error (error);

  return json_node_get_object (*keep);
}

/* worker id → set of node types, from the simulated worker's catalog. */
static GHashTable *
sim_catalog (const char * const *exclude)
{
  GHashTable *catalog = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) g_hash_table_unref);
  GHashTable *types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const CdlSimNode *nodes;
  guint n;

  nodes = cdl_sim_nodes_get_all (&n);
  for (guint i = 0; i < n; i++)
    if (exclude == NULL || !g_strv_contains (exclude, nodes[i].name))
      g_hash_table_add (types, g_strdup (nodes[i].name));

  g_hash_table_insert (catalog, g_strdup ("11111111-1111-4111-8111-111111111111"), types);

  return catalog;
}

static CdlWorkflowReport *
validate_corpus (const char        *name,
                 const CdlSettings *settings,
                 GHashTable        *catalog,
                 JsonObject        *object_info)
{
  gsize length;
  g_autofree char *text = load_corpus (name, &length);

  return cdl_workflow_validate (text, length, settings, catalog, object_info);
}

typedef struct
{
  const char *file;
  const char *codes;     /* with the sim's catalog and object_info */
} CorpusCase;

static const CorpusCase corpus_cases[] = {
  { "sd15.json", "" },
  { "sdxl-base-refiner.json", "" },
  { "flux-randomnoise.json", "" },
  { "latent-batch-seed.json", "" },
  { "ui-format.json", "ui_format" },
  { "forbidden-api-node.json", "api_node" },
  { "missing-custom-node.json", "missing_node_type" },
  { "cycle.json", "cycle" },
  { "dangling-link.json", "dangling_link" },
  { "batch-too-large.json", "batch_too_large" },
};

static void
test_corpus_codes (void)
{
  g_autoptr(CdlSettings) settings = cdl_settings_new ();
  g_autoptr(GHashTable) catalog = sim_catalog (NULL);
  g_autoptr(JsonNode) info_root = NULL;
  JsonObject *info = sim_object_info (NULL, &info_root);

  for (guint i = 0; i < G_N_ELEMENTS (corpus_cases); i++)
    {
      g_autoptr(CdlWorkflowReport) with = NULL;
      g_autoptr(CdlWorkflowReport) without = NULL;
      g_autofree char *codes = NULL;

      with = validate_corpus (corpus_cases[i].file, settings, catalog, info);
      codes = codes_of (with);
      g_test_message ("%s: %s", corpus_cases[i].file, codes);
      g_assert_cmpstr (codes, ==, corpus_cases[i].codes);
      g_assert_true (with->valid == (*corpus_cases[i].codes == '\0'));

      /* Without the workers' catalog and object_info, the built-in list
       * still flags the partner node; only the missing type goes
       * unnoticed. */
      without = validate_corpus (corpus_cases[i].file, settings, NULL, NULL);
      g_clear_pointer (&codes, g_free);
      codes = codes_of (without);
      if (strcmp (corpus_cases[i].file, "missing-custom-node.json") == 0)
        g_assert_cmpstr (codes, ==, "");
      else
        g_assert_cmpstr (codes, ==, corpus_cases[i].codes);
      g_assert_null (without->runnable_worker_ids);
    }
}

static void
test_corpus_sd15 (void)
{
  g_autoptr(CdlWorkflowReport) r = validate_corpus ("sd15.json", NULL, NULL, NULL);
  CdlPromptNode *p;
  CdlSeedNode *s;

  g_assert_true (r->valid);
  g_assert_cmpuint (r->prompt_nodes->len, ==, 2);
  p = g_ptr_array_index (r->prompt_nodes, 0);
  g_assert_cmpstr (p->node_id, ==, "6");
  g_assert_cmpstr (p->class_type, ==, "CLIPTextEncode");
  g_assert_cmpint (p->role, ==, CDL_PROMPT_ROLE_POSITIVE);
  g_assert_cmpstr (p->input, ==, "text");
  g_assert_true (g_str_has_prefix (p->text, "beautiful scenery"));
  p = g_ptr_array_index (r->prompt_nodes, 1);
  g_assert_cmpstr (p->node_id, ==, "7");
  g_assert_cmpint (p->role, ==, CDL_PROMPT_ROLE_NEGATIVE);
  g_assert_cmpstr (p->text, ==, "text, watermark");

  g_assert_cmpuint (r->seed_nodes->len, ==, 1);
  s = g_ptr_array_index (r->seed_nodes, 0);
  g_assert_cmpstr (s->node_id, ==, "3");
  g_assert_cmpstr (s->class_type, ==, "KSampler");
  g_assert_cmpstr (s->input, ==, "seed");

  g_assert_false (r->has_latent_batch_seed);
  g_assert_cmpstr (r->model, ==, "sd15.safetensors");
  g_assert_cmpint (r->width, ==, 512);
  g_assert_cmpint (r->height, ==, 512);
  g_assert_cmpint (r->batch_size, ==, 1);
  g_assert_cmpint (r->max_batch_size, ==, 8);
  g_assert_cmpuint (g_strv_length (r->node_types), ==, 6);
  g_assert_cmpstr (r->node_types[0], ==, "CLIPTextEncode");
  g_assert_nonnull (r->definition);
}

static void
test_corpus_sdxl (void)
{
  g_autoptr(CdlWorkflowReport) r = validate_corpus ("sdxl-base-refiner.json",
                                                    NULL, NULL, NULL);
  g_autoptr(GString) prompts = g_string_new (NULL);
  g_autoptr(GString) seeds = g_string_new (NULL);

  for (guint i = 0; i < r->prompt_nodes->len; i++)
    {
      CdlPromptNode *p = g_ptr_array_index (r->prompt_nodes, i);

      g_string_append_printf (prompts, "%s:%s ", p->node_id,
                              cdl_prompt_role_to_string (p->role));
    }
  for (guint i = 0; i < r->seed_nodes->len; i++)
    {
      CdlSeedNode *s = g_ptr_array_index (r->seed_nodes, i);

      g_string_append_printf (seeds, "%s:%s ", s->node_id, s->input);
    }

  /* Both samplers' encoders, base first, each with its role. */
  g_assert_cmpstr (prompts->str, ==, "6:positive 7:negative 15:positive 16:negative ");
  g_assert_cmpstr (seeds->str, ==, "10:noise_seed 11:noise_seed ");
  g_assert_cmpstr (r->model, ==, "sdxl.safetensors");
  g_assert_cmpint (r->width, ==, 1024);
  g_assert_cmpint (r->batch_size, ==, 4);
}

static void
test_corpus_flux (void)
{
  g_autoptr(CdlWorkflowReport) r = validate_corpus ("flux-randomnoise.json",
                                                    NULL, NULL, NULL);
  CdlPromptNode *p;
  CdlSeedNode *s;

  g_assert_true (r->valid);

  /* Through BasicGuider and FluxGuidance to the encoder. */
  g_assert_cmpuint (r->prompt_nodes->len, ==, 1);
  p = g_ptr_array_index (r->prompt_nodes, 0);
  g_assert_cmpstr (p->node_id, ==, "6");
  g_assert_cmpint (p->role, ==, CDL_PROMPT_ROLE_POSITIVE);
  g_assert_true (g_str_has_prefix (p->text, "cute anime girl"));

  g_assert_cmpuint (r->seed_nodes->len, ==, 1);
  s = g_ptr_array_index (r->seed_nodes, 0);
  g_assert_cmpstr (s->node_id, ==, "25");
  g_assert_cmpstr (s->class_type, ==, "RandomNoise");
  g_assert_cmpstr (s->input, ==, "noise_seed");

  g_assert_cmpstr (r->model, ==, "flux1-dev.safetensors");
  g_assert_cmpint (r->width, ==, 1024);
  g_assert_cmpint (r->height, ==, 1024);
}

static void
test_corpus_latent_batch_seed (void)
{
  g_autoptr(CdlWorkflowReport) r = validate_corpus ("latent-batch-seed.json",
                                                    NULL, NULL, NULL);

  g_assert_true (r->valid);
  g_assert_true (r->has_latent_batch_seed);
  g_assert_cmpint (r->batch_size, ==, 8);
  g_assert_cmpint (r->width, ==, 768);
  g_assert_cmpint (r->height, ==, 512);
  g_assert_cmpuint (r->prompt_nodes->len, ==, 2);
}

static void
test_corpus_problem_details (void)
{
  g_autoptr(GHashTable) catalog = sim_catalog (NULL);
  g_autoptr(CdlWorkflowReport) ui = validate_corpus ("ui-format.json", NULL, NULL, NULL);
  g_autoptr(CdlWorkflowReport) api = validate_corpus ("forbidden-api-node.json", NULL, NULL, NULL);
  g_autoptr(CdlWorkflowReport) missing = validate_corpus ("missing-custom-node.json",
                                                          NULL, catalog, NULL);
  g_autoptr(CdlWorkflowReport) cycle = validate_corpus ("cycle.json", NULL, NULL, NULL);
  g_autoptr(CdlWorkflowReport) dangling = validate_corpus ("dangling-link.json", NULL, NULL, NULL);
  g_autoptr(CdlWorkflowReport) batch = validate_corpus ("batch-too-large.json", NULL, NULL, NULL);
  const CdlWorkflowProblem *p;

  p = find_problem (ui, CDL_WORKFLOW_UI_FORMAT);
  g_assert_null (p->node_id);
  g_assert_cmpstr (p->message, ==, "This is a UI-format export; in ComfyUI use "
                                   "Save (API) / Export (API) and upload that file");

  p = find_problem (api, CDL_WORKFLOW_API_NODE);
  g_assert_cmpstr (p->node_id, ==, "10");
  g_assert_cmpstr (p->class_type, ==, "OpenAIDalle3");
  g_assert_cmpstr (api->forbidden_nodes[0], ==, "10");

  p = find_problem (missing, CDL_WORKFLOW_MISSING_NODE_TYPE);
  g_assert_cmpstr (p->node_id, ==, "10");
  g_assert_cmpstr (p->class_type, ==, "Image Film Grain");
  g_assert_nonnull (missing->runnable_worker_ids);
  g_assert_cmpuint (g_strv_length (missing->runnable_worker_ids), ==, 0);

  p = find_problem (cycle, CDL_WORKFLOW_CYCLE);
  g_assert_nonnull (strstr (p->message, "3, 10"));

  p = find_problem (dangling, CDL_WORKFLOW_DANGLING_LINK);
  g_assert_cmpstr (p->node_id, ==, "8");
  g_assert_nonnull (strstr (p->message, "\"vae\""));
  g_assert_nonnull (strstr (p->message, "node 14"));

  p = find_problem (batch, CDL_WORKFLOW_BATCH_TOO_LARGE);
  g_assert_cmpstr (p->node_id, ==, "5");
  g_assert_nonnull (strstr (p->message, "64"));
  g_assert_cmpint (batch->batch_size, ==, 64);
}

static void
test_settings_change_outcome (void)
{
  g_autoptr(CdlSettings) settings = cdl_settings_new ();
  g_autoptr(CdlWorkflowReport) r = NULL;
  g_autoptr(GHashTable) catalog = sim_catalog (NULL);

  /* A lower batch limit makes the 4-image SDXL batch too large. */
  settings->max_workflow_batch_size = 2;
  r = validate_corpus ("sdxl-base-refiner.json", settings, NULL, NULL);
  g_assert_true (cdl_workflow_report_has (r, CDL_WORKFLOW_BATCH_TOO_LARGE));
  g_assert_cmpint (r->max_batch_size, ==, 2);
  g_clear_pointer (&r, cdl_workflow_report_free);

  /* Resolution guardrails. */
  settings->max_workflow_batch_size = 8;
  settings->resolution_max_side = 768;
  r = validate_corpus ("sdxl-base-refiner.json", settings, NULL, NULL);
  g_assert_true (cdl_workflow_report_has (r, CDL_WORKFLOW_RESOLUTION));
  g_clear_pointer (&r, cdl_workflow_report_free);

  settings->resolution_max_side = 2048;
  settings->resolution_max_pixels = 512 * 512;
  r = validate_corpus ("latent-batch-seed.json", settings, NULL, NULL);
  g_assert_true (cdl_workflow_report_has (r, CDL_WORKFLOW_RESOLUTION));
  g_clear_pointer (&r, cdl_workflow_report_free);

  settings->resolution_max_pixels = 2048 * 2048;
  settings->resolution_min_side = 600;
  r = validate_corpus ("sd15.json", settings, NULL, NULL);
  g_assert_true (cdl_workflow_report_has (r, CDL_WORKFLOW_RESOLUTION));
  g_clear_pointer (&r, cdl_workflow_report_free);
  settings->resolution_min_side = 256;

  /* The admin list. */
  g_strfreev (settings->forbidden_node_types);
  settings->forbidden_node_types = g_strsplit ("LatentBatchSeedBehavior", ",", -1);
  r = validate_corpus ("latent-batch-seed.json", settings, NULL, NULL);
  g_assert_cmpstr (find_problem (r, CDL_WORKFLOW_FORBIDDEN_NODE)->node_id, ==, "10");
  g_clear_pointer (&r, cdl_workflow_report_free);

  /* A worker without a node type is left out of the runnable list. */
  {
    GHashTable *types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

    g_hash_table_add (types, g_strdup ("KSampler"));
    g_hash_table_insert (catalog, g_strdup ("22222222-2222-4222-8222-222222222222"), types);
  }
  r = validate_corpus ("sd15.json", NULL, catalog, NULL);
  g_assert_true (r->valid);
  g_assert_cmpuint (g_strv_length (r->runnable_worker_ids), ==, 1);
  g_assert_cmpstr (r->runnable_worker_ids[0], ==, "11111111-1111-4111-8111-111111111111");
}

static const char controlnet_graph[] =
  "{\"1\": {\"class_type\": \"CheckpointLoaderSimple\", \"inputs\": {\"ckpt_name\": \"sd15.safetensors\"}},"
  " \"2\": {\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\": \"pos\", \"clip\": [\"1\", 1]}},"
  " \"3\": {\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\": \"neg\", \"clip\": [\"1\", 1]}},"
  " \"4\": {\"class_type\": \"ControlNetLoader\", \"inputs\": {\"control_net_name\": \"canny.safetensors\"}},"
  " \"5\": {\"class_type\": \"LoadImage\", \"inputs\": {\"image\": \"edges.png\"}},"
  " \"6\": {\"class_type\": \"ControlNetApplyAdvanced\", \"inputs\": {\"positive\": [\"2\", 0],"
  "        \"negative\": [\"3\", 0], \"control_net\": [\"4\", 0], \"image\": [\"5\", 0],"
  "        \"strength\": 1.0, \"start_percent\": 0, \"end_percent\": 1}},"
  " \"7\": {\"class_type\": \"EmptyLatentImage\", \"inputs\": {\"width\": 512, \"height\": 512, \"batch_size\": 1}},"
  " \"8\": {\"class_type\": \"KSampler\", \"inputs\": {\"seed\": 18446744073709551615, \"steps\": 20,"
  "        \"cfg\": 7, \"sampler_name\": \"euler\", \"scheduler\": \"normal\", \"denoise\": 1,"
  "        \"model\": [\"1\", 0], \"positive\": [\"6\", 0], \"negative\": [\"6\", 1],"
  "        \"latent_image\": [\"7\", 0]}},"
  " \"9\": {\"class_type\": \"VAEDecode\", \"inputs\": {\"samples\": [\"8\", 0], \"vae\": [\"1\", 2]}},"
  " \"10\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"9\", 0], \"filename_prefix\": \"cn\"}}}";

static void
test_controlnet (void)
{
  g_autoptr(CdlSettings) settings = cdl_settings_new ();
  g_autoptr(CdlWorkflowReport) r = NULL;
  CdlPromptNode *p;

  r = cdl_workflow_validate (controlnet_graph, -1, settings, NULL, NULL);
  g_assert_true (r->valid);

  /* Output 0 of the ControlNet node carries positive, output 1 negative. */
  g_assert_cmpuint (r->prompt_nodes->len, ==, 2);
  p = g_ptr_array_index (r->prompt_nodes, 0);
  g_assert_cmpstr (p->node_id, ==, "2");
  g_assert_cmpint (p->role, ==, CDL_PROMPT_ROLE_POSITIVE);
  p = g_ptr_array_index (r->prompt_nodes, 1);
  g_assert_cmpstr (p->node_id, ==, "3");
  g_assert_cmpint (p->role, ==, CDL_PROMPT_ROLE_NEGATIVE);

  /* The seed maximum parses as -1; it is still a seed input. */
  g_assert_cmpuint (r->seed_nodes->len, ==, 1);
  g_clear_pointer (&r, cdl_workflow_report_free);

  settings->controlnet_allowed = FALSE;
  r = cdl_workflow_validate (controlnet_graph, -1, settings, NULL, NULL);
  g_assert_false (r->valid);
  g_assert_cmpuint (g_strv_length (r->forbidden_nodes), ==, 2);
  g_assert_cmpstr (r->forbidden_nodes[0], ==, "4");
  g_assert_cmpstr (r->forbidden_nodes[1], ==, "6");
}

static void
test_object_info_checks (void)
{
  g_autoptr(JsonNode) info_root = NULL;
  JsonObject *info = sim_object_info (NULL, &info_root);
  g_autoptr(CdlWorkflowReport) r = NULL;
  g_autofree char *text = NULL;
  gsize length;
  g_autoptr(GString) edited = NULL;

  /* VAEDecode has one output; asking for its second is a missing output. */
  text = load_corpus ("sd15.json", &length);
  edited = g_string_new (text);
  g_assert_cmpuint (g_string_replace (edited, "\"images\": [\"8\", 0]",
                                      "\"images\": [\"8\", 1]", 1), ==, 1);

  r = cdl_workflow_validate (edited->str, edited->len, NULL, NULL, info);
  g_assert_cmpstr (find_problem (r, CDL_WORKFLOW_MISSING_OUTPUT)->node_id, ==, "9");
  g_clear_pointer (&r, cdl_workflow_report_free);

  /* Without object_info that cannot be known. */
  r = cdl_workflow_validate (edited->str, edited->len, NULL, NULL, NULL);
  g_assert_true (r->valid);
}

static void
test_shapes (void)
{
  static const struct { const char *text; const char *codes; } cases[] = {
    { "", "not_json" },
    { "{", "not_json" },
    { "not json at all", "not_json" },
    { "[1, 2, 3]", "not_api_format" },
    { "42", "not_api_format" },
    { "null", "not_api_format" },
    { "{}", "not_api_format" },
    { "{\"prompt\": {\"3\": {}}}", "not_api_format" },
    { "{\"nodes\": [], \"links\": []}", "ui_format" },
    { "{\"1\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"1\", 0]}}}",
      "cycle,no_sampler" },
    { "{\"1\": {\"class_type\": \"KSampler\", \"inputs\": {}},"
      " \"2\": {\"class_type\": \"PreviewImage\", \"inputs\": {\"images\": [\"1\", 0]}}}",
      "no_output_node,seed_missing" },
    { "{\"1\": {\"class_type\": \"KSampler\"}, \"2\": 5}",
      "bad_node,bad_node,no_output_node,seed_missing" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(CdlWorkflowReport) r = cdl_workflow_validate (cases[i].text, -1,
                                                              NULL, NULL, NULL);
      g_autofree char *codes = codes_of (r);

      g_test_message ("%s → %s", cases[i].text, codes);
      g_assert_cmpstr (codes, ==, cases[i].codes);
      g_assert_false (r->valid);
    }

  {
    /* Bytes that are not UTF-8, and an embedded NUL. */
    static const char bad[] = "{\"1\": \xff}";
    static const char nul[] = "{\"1\"\0: {}}";
    g_autoptr(CdlWorkflowReport) a = cdl_workflow_validate (bad, sizeof bad - 1,
                                                            NULL, NULL, NULL);
    g_autoptr(CdlWorkflowReport) b = cdl_workflow_validate (nul, sizeof nul - 1,
                                                            NULL, NULL, NULL);

    g_assert_true (cdl_workflow_report_has (a, CDL_WORKFLOW_NOT_JSON));
    g_assert_true (cdl_workflow_report_has (b, CDL_WORKFLOW_NOT_JSON));
    g_assert_null (a->definition);
  }

  {
    /* Deep nesting is refused before the parser sees it. */
    g_autoptr(GString) deep = g_string_new (NULL);
    g_autoptr(CdlWorkflowReport) r = NULL;

    for (int i = 0; i < 100000; i++)
      g_string_append_c (deep, '[');
    r = cdl_workflow_validate (deep->str, deep->len, NULL, NULL, NULL);
    g_assert_true (cdl_workflow_report_has (r, CDL_WORKFLOW_NOT_JSON));
  }
}

/* Random JSON values of a bounded depth, shaped now and then like nodes
 * and links so that the graph code is reached. */
static void
random_value (GRand   *rand,
              GString *out,
              int      depth)
{
  static const char * const words[] = {
    "class_type", "inputs", "KSampler", "SaveImage", "CLIPTextEncode",
    "positive", "negative", "seed", "noise_seed", "text", "batch_size",
    "width", "height", "guider", "conditioning", "1", "2", "3", "nodes",
    "links", "EmptyLatentImage", "FluxGuidance", "CFGGuider", "clip",
  };
  int kind = g_rand_int_range (rand, 0, depth > 4 ? 5 : 9);

  switch (kind)
    {
    case 0:
      g_string_append_printf (out, "%d", g_rand_int_range (rand, -5, 5000));
      break;
    case 1:
      g_string_append_printf (out, "\"%s\"", words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
      break;
    case 2:
      g_string_append (out, g_rand_boolean (rand) ? "true" : "null");
      break;
    case 3:
      g_string_append (out, g_rand_boolean (rand) ? "1e308" : "18446744073709551615");
      break;
    case 4:
      g_string_append_printf (out, "[\"%d\", %d]", g_rand_int_range (rand, 0, 6),
                              g_rand_int_range (rand, -1, 3));
      break;
    case 5:
    case 6:
      {
        int n = g_rand_int_range (rand, 0, 6);

        g_string_append_c (out, '{');
        for (int i = 0; i < n; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            if (depth == 0)
              g_string_append_printf (out, "\"%d\":", i);
            else
              g_string_append_printf (out, "\"%s\":",
                                      words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
            random_value (rand, out, depth + 1);
          }
        g_string_append_c (out, '}');
      }
      break;
    case 7:
      {
        int n = g_rand_int_range (rand, 0, 4);

        g_string_append_c (out, '[');
        for (int i = 0; i < n; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            random_value (rand, out, depth + 1);
          }
        g_string_append_c (out, ']');
      }
      break;
    default:
      /* A node-shaped object. */
      g_string_append_printf (out, "{\"class_type\": \"%s\", \"inputs\": ",
                              words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
      random_value (rand, out, depth + 1);
      g_string_append_c (out, '}');
      break;
    }
}

static void
test_robustness (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261203);
  g_autoptr(CdlSettings) settings = cdl_settings_new ();
  g_autoptr(GHashTable) catalog = sim_catalog (NULL);
  g_autoptr(JsonNode) info_root = NULL;
  JsonObject *info = sim_object_info (NULL, &info_root);
  guint runs = g_test_thorough () ? 20000 : 2000;

  /* Every corpus file cut at many lengths and with bytes changed. */
  for (guint i = 0; i < G_N_ELEMENTS (corpus_cases); i++)
    {
      gsize length;
      g_autofree char *text = load_corpus (corpus_cases[i].file, &length);

      for (gsize cut = 0; cut < length; cut += 1 + length / 97)
        {
          g_autoptr(CdlWorkflowReport) r = cdl_workflow_validate (text, cut, settings,
                                                                  catalog, info);
          g_assert_nonnull (r->problems);
        }

      for (guint m = 0; m < 200; m++)
        {
          g_autofree char *copy = g_memdup2 (text, length);
          g_autoptr(CdlWorkflowReport) r = NULL;

          for (int k = 0; k < 3; k++)
            copy[g_rand_int_range (rand, 0, length)] =
              "{}[],:\"0a \\"[g_rand_int_range (rand, 0, 12)];
          r = cdl_workflow_validate (copy, length, settings,
                                     g_rand_boolean (rand) ? catalog : NULL,
                                     g_rand_boolean (rand) ? info : NULL);
          g_assert_nonnull (r->problems);
          g_assert_true (r->valid == (r->problems->len == 0));
        }
    }

  for (guint i = 0; i < runs; i++)
    {
      g_autoptr(GString) text = g_string_new (NULL);
      g_autoptr(CdlWorkflowReport) r = NULL;

      random_value (rand, text, 0);
      r = cdl_workflow_validate (text->str, text->len, settings, catalog, info);
      g_assert_nonnull (r->problems);
      g_assert_nonnull (r->node_types);
      for (guint k = 0; k < r->problems->len; k++)
        g_assert_nonnull (((CdlWorkflowProblem *) g_ptr_array_index (r->problems, k))->message);
    }
}

static void
test_settings_defaults_and_json (void)
{
  g_autoptr(CdlSettings) s = cdl_settings_new ();
  g_autoptr(JsonNode) json = cdl_settings_to_json (s);
  g_autofree char *text = cdl_json_to_string (json, FALSE);
  g_autoptr(CdlSettings) copy = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (text, ==,
                   "{\"max_workflow_batch_size\":8,\"resolution_min_side\":256,"
                   "\"resolution_max_side\":2048,\"resolution_max_pixels\":4194304,"
                   "\"forbidden_node_types\":[],\"controlnet_allowed\":true,"
                   "\"queue_depth_threshold\":1,\"pilot_rate_limit_seconds\":30,"
                   "\"free_every_n_jobs\":50}");

  /* The whole object is a valid patch that changes nothing. */
  copy = cdl_settings_apply_patch (s, json, &error);
  g_assert_no_error (error);
  g_assert_cmpint (copy->max_workflow_batch_size, ==, 8);
  g_assert_true (copy->controlnet_allowed);
}

static void
test_settings_patch (void)
{
  static const struct { const char *patch; const char *error_prefix; } bad[] = {
    { "{\"max_workflow_batch_size\": 0}", "max_workflow_batch_size " },
    { "{\"max_workflow_batch_size\": \"8\"}", "max_workflow_batch_size " },
    { "{\"max_workflow_batch_size\": 2.5}", "max_workflow_batch_size " },
    { "{\"queue_depth_threshold\": 0}", "queue_depth_threshold " },
    { "{\"controlnet_allowed\": 1}", "controlnet_allowed " },
    { "{\"forbidden_node_types\": \"OpenAIDalle3\"}", "forbidden_node_types " },
    { "{\"forbidden_node_types\": [\"A\", 3]}", "forbidden_node_types[1] " },
    { "{\"forbidden_node_types\": [\" \"]}", "forbidden_node_types[0] " },
    { "{\"resolution_min_side\": 4096}", "resolution_min_side " },
    { "{\"resolution_max_pixels\": 1000}", "resolution_max_pixels " },
    { "{\"pilot_rate_limit_seconds\": -1}", "pilot_rate_limit_seconds " },
    { "{\"free_every_n_jobs\": null}", "free_every_n_jobs " },
    { "{\"max_batch\": 3}", "max_batch " },
    { "{}", "Nothing to update" },
    { "[1]", "The body must be a JSON object" },
  };
  g_autoptr(CdlSettings) base = cdl_settings_new ();
  g_autoptr(CdlSettings) changed = NULL;
  g_autoptr(JsonNode) good = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonNode) patch = cdl_json_parse (bad[i].patch, -1, NULL);
      g_autoptr(CdlSettings) result = NULL;
      g_autoptr(GError) local = NULL;

      result = cdl_settings_apply_patch (base, patch, &local);
      g_assert_null (result);
      g_assert_error (local, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID);
      g_test_message ("%s → %s", bad[i].patch, local->message);
      g_assert_true (g_str_has_prefix (local->message, bad[i].error_prefix));
    }

  good = cdl_json_parse ("{\"max_workflow_batch_size\": 2, \"controlnet_allowed\": false,"
                         " \"forbidden_node_types\": [\"OpenAIDalle3\", \"OpenAIDalle3\", \"X\"]}",
                         -1, NULL);
  changed = cdl_settings_apply_patch (base, good, &error);
  g_assert_no_error (error);
  g_assert_cmpint (changed->max_workflow_batch_size, ==, 2);
  g_assert_false (changed->controlnet_allowed);
  g_assert_cmpuint (g_strv_length (changed->forbidden_node_types), ==, 2);
  g_assert_true (cdl_settings_forbids_node (changed, "X"));
  g_assert_true (cdl_settings_forbids_node (changed, "ControlNetLoader"));
  g_assert_false (cdl_settings_forbids_node (changed, "KSampler"));
  /* The base is untouched. */
  g_assert_cmpint (base->max_workflow_batch_size, ==, 8);
  g_assert_false (cdl_settings_forbids_node (base, "ControlNetLoader"));
}

static void
test_record_json_round_trip (void)
{
  g_autoptr(CdlWorkflowReport) r = validate_corpus ("sd15.json", NULL, NULL, NULL);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) prompts = NULL;
  g_autoptr(GPtrArray) back = NULL;
  CdlPromptNode *p;

  json_builder_begin_array (builder);
  for (guint i = 0; i < r->prompt_nodes->len; i++)
    json_builder_add_value (builder,
                            cdl_prompt_node_to_json (g_ptr_array_index (r->prompt_nodes, i)));
  json_builder_end_array (builder);
  prompts = json_builder_get_root (builder);

  back = cdl_prompt_nodes_from_json (prompts);
  g_assert_cmpuint (back->len, ==, 2);
  p = g_ptr_array_index (back, 1);
  g_assert_cmpstr (p->node_id, ==, "7");
  g_assert_cmpint (p->role, ==, CDL_PROMPT_ROLE_NEGATIVE);
  g_assert_cmpstr (p->text, ==, "text, watermark");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/workflow/corpus/codes", test_corpus_codes);
  g_test_add_func ("/workflow/corpus/sd15", test_corpus_sd15);
  g_test_add_func ("/workflow/corpus/sdxl-base-refiner", test_corpus_sdxl);
  g_test_add_func ("/workflow/corpus/flux-randomnoise", test_corpus_flux);
  g_test_add_func ("/workflow/corpus/latent-batch-seed", test_corpus_latent_batch_seed);
  g_test_add_func ("/workflow/corpus/problem-details", test_corpus_problem_details);
  g_test_add_func ("/workflow/settings-change-outcome", test_settings_change_outcome);
  g_test_add_func ("/workflow/controlnet", test_controlnet);
  g_test_add_func ("/workflow/object-info", test_object_info_checks);
  g_test_add_func ("/workflow/shapes", test_shapes);
  g_test_add_func ("/workflow/robustness", test_robustness);
  g_test_add_func ("/workflow/record-json", test_record_json_round_trip);
  g_test_add_func ("/settings/defaults-and-json", test_settings_defaults_and_json);
  g_test_add_func ("/settings/patch", test_settings_patch);

  return g_test_run ();
}
