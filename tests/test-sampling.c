/* test-sampling.c: the generator, pool sampling, templates and seeds
 *
 * The known answers below were computed once and are pinned: a change in
 * any of them means tasks made before the change can no longer be rebuilt
 * from their rng seed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "core/cdl-pool.h"
#include "core/cdl-sampling.h"
#include "core/cdl-task.h"
#include "core/cdl-worker-input.h"

static void
test_splitmix_seeding (void)
{
  CdlRng rng;

  /* splitmix64 from 0: its published first four outputs. */
  cdl_rng_init (&rng, 0, 0);
  g_assert_cmphex (rng.s[0], ==, G_GUINT64_CONSTANT (0xe220a8397b1dcdaf));
  g_assert_cmphex (rng.s[1], ==, G_GUINT64_CONSTANT (0x6e789e6aa1b965f4));
  g_assert_cmphex (rng.s[2], ==, G_GUINT64_CONSTANT (0x06c45d188009454f));
  g_assert_cmphex (rng.s[3], ==, G_GUINT64_CONSTANT (0xf88bb8a8724c81ec));
}

static void
test_known_answers (void)
{
  static const guint64 seed0[] = {
    G_GUINT64_CONSTANT (11091344671253066420),
    G_GUINT64_CONSTANT (13793997310169335082),
    G_GUINT64_CONSTANT (1900383378846508768),
    G_GUINT64_CONSTANT (7684712102626143532),
  };
  static const guint64 seed42[] = {
    G_GUINT64_CONSTANT (1546998764402558742),
    G_GUINT64_CONSTANT (6990951692964543102),
    G_GUINT64_CONSTANT (12544586762248559009),
  };
  static const guint64 seed42_stream1[] = {
    G_GUINT64_CONSTANT (6361458328680127711),
    G_GUINT64_CONSTANT (2631838692071214148),
    G_GUINT64_CONSTANT (13221152241774850206),
  };
  static const guint64 below10[] = { 7, 2, 8, 9, 9 };
  CdlRng rng;

  cdl_rng_init (&rng, 0, 0);
  for (guint i = 0; i < G_N_ELEMENTS (seed0); i++)
    g_assert_cmpuint (cdl_rng_next (&rng), ==, seed0[i]);

  cdl_rng_init (&rng, 42, 0);
  for (guint i = 0; i < G_N_ELEMENTS (seed42); i++)
    g_assert_cmpuint (cdl_rng_next (&rng), ==, seed42[i]);

  cdl_rng_init (&rng, 42, 1);
  for (guint i = 0; i < G_N_ELEMENTS (seed42_stream1); i++)
    g_assert_cmpuint (cdl_rng_next (&rng), ==, seed42_stream1[i]);

  cdl_rng_init (&rng, 7, 0);
  for (guint i = 0; i < G_N_ELEMENTS (below10); i++)
    g_assert_cmpuint (cdl_rng_below (&rng, 10), ==, below10[i]);
}

static void
test_generate_known_answer (void)
{
  const char *colors[] = { "red", "green", "blue", NULL };
  const char *times[] = { "day", "night", NULL };
  CdlSamplePool pools[] = {
    { "color", CDL_POOL_MODE_PERMUTATION, colors, 3 },
    { "time", CDL_POOL_MODE_PERMUTATION, times, 2 },
  };
  static const char *texts[] = {
    "a blue car at day", "a red car at night", "a blue car at night", "a green car at night",
  };
  static const guint64 seeds[] = {
    G_GUINT64_CONSTANT (3068587518129176), G_GUINT64_CONSTANT (8590193856753210),
    G_GUINT64_CONSTANT (1437336151929113), G_GUINT64_CONSTANT (5819988684489039),
    G_GUINT64_CONSTANT (4095785557161511), G_GUINT64_CONSTANT (8303813962861991),
    G_GUINT64_CONSTANT (5509012717363280), G_GUINT64_CONSTANT (8160173202718792),
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlPromptSet) set = NULL;

  set = cdl_sampling_generate ("a {color} car at {time}", pools, 2, 4, 2, 12345, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (set->n_prompts, ==, 4);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpstr (set->texts[i], ==, texts[i]);
  for (guint i = 0; i < 8; i++)
    g_assert_cmpuint (set->seeds[i], ==, seeds[i]);
  g_assert_cmpstr (set->variables[0], ==, "{\"color\": \"blue\", \"time\": \"day\"}");
}

static void
test_below_unbiased (void)
{
  CdlRng rng;
  guint counts[6] = { 0 };
  const guint n = 60000;

  cdl_rng_init (&rng, 99, 0);
  for (guint i = 0; i < n; i++)
    {
      guint64 v = cdl_rng_below (&rng, 6);

      g_assert_cmpuint (v, <, 6);
      counts[v]++;
    }

  /* Each face within 5 % of its share: a modulo bias of this size would be
   * invisible, but a broken bound (always 0, off by one) is not. */
  for (guint i = 0; i < 6; i++)
    {
      g_assert_cmpuint (counts[i], >, n / 6 * 95 / 100);
      g_assert_cmpuint (counts[i], <, n / 6 * 105 / 100);
    }

  /* A bound just above 2^63 rejects almost half the raw values; the
   * results must still stay below it. */
  for (guint i = 0; i < 1000; i++)
    g_assert_cmpuint (cdl_rng_below (&rng, (G_GUINT64_CONSTANT (1) << 63) + 1), <=,
                      G_GUINT64_CONSTANT (1) << 63);
  g_assert_cmpuint (cdl_rng_below (&rng, 1), ==, 0);
}

static void
test_shuffle_is_permutation (void)
{
  guint32 items[100];
  gboolean seen[100] = { FALSE };
  gboolean moved = FALSE;
  CdlRng rng;

  for (guint i = 0; i < 100; i++)
    items[i] = i;

  cdl_rng_init (&rng, 5, 0);
  cdl_rng_shuffle (&rng, items, 100);

  for (guint i = 0; i < 100; i++)
    {
      g_assert_false (seen[items[i]]);
      seen[items[i]] = TRUE;
      moved |= items[i] != i;
    }
  g_assert_true (moved);
}

/* n items named "<prefix><i>". */
static char **
make_items (const char *prefix,
            guint       n)
{
  char **items = g_new0 (char *, n + 1);

  for (guint i = 0; i < n; i++)
    items[i] = g_strdup_printf ("%s%u", prefix, i);
  return items;
}

static void
test_no_replacement (void)
{
  g_auto(GStrv) a = make_items ("a", 10);
  g_auto(GStrv) b = make_items ("b", 7);
  CdlSamplePool pools[] = {
    { "a", CDL_POOL_MODE_NO_REPLACEMENT, (const char * const *) a, 10 },
    { "b", CDL_POOL_MODE_NO_REPLACEMENT, (const char * const *) b, 7 },
  };
  g_autoptr(GError) error = NULL;
  g_autofree guint32 *rows = NULL;
  CdlRng rng;

  g_assert_cmpuint (cdl_sampling_capacity (pools, 2), ==, 7);

  cdl_rng_init (&rng, 1, 0);
  rows = cdl_sampling_draw (pools, 2, 7, &rng, &error);
  g_assert_no_error (error);

  /* Every item of b once, and no item of a twice. */
  for (guint p = 0; p < 2; p++)
    for (guint i = 0; i < 7; i++)
      for (guint j = 0; j < i; j++)
        g_assert_cmpuint (rows[i * 2 + p], !=, rows[j * 2 + p]);

  g_clear_pointer (&rows, g_free);
  cdl_rng_init (&rng, 1, 0);
  rows = cdl_sampling_draw (pools, 2, 8, &rng, &error);
  g_assert_null (rows);
  g_assert_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TOO_MANY);
  g_assert_nonnull (strstr (error->message, "only 7"));
}

static gboolean
rows_distinct (const guint32 *rows,
               guint          count,
               guint          width)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < count; i++)
    {
      GString *key = g_string_new (NULL);

      for (guint p = 0; p < width; p++)
        g_string_append_printf (key, "%u,", rows[i * width + p]);
      if (!g_hash_table_add (seen, g_string_free (key, FALSE)))
        return FALSE;
    }
  return TRUE;
}

static void
test_permutation_full_space (void)
{
  g_auto(GStrv) a = make_items ("a", 5);
  g_auto(GStrv) b = make_items ("b", 4);
  CdlSamplePool pools[] = {
    { "a", CDL_POOL_MODE_PERMUTATION, (const char * const *) a, 5 },
    { "b", CDL_POOL_MODE_PERMUTATION, (const char * const *) b, 4 },
  };
  g_autoptr(GError) error = NULL;
  g_autofree guint32 *rows = NULL;
  CdlRng rng;

  g_assert_cmpuint (cdl_sampling_capacity (pools, 2), ==, 20);

  /* All 20 combinations: the dense path must give each exactly once. */
  cdl_rng_init (&rng, 3, 0);
  rows = cdl_sampling_draw (pools, 2, 20, &rng, &error);
  g_assert_no_error (error);
  g_assert_true (rows_distinct (rows, 20, 2));
  for (guint i = 0; i < 20; i++)
    {
      g_assert_cmpuint (rows[i * 2], <, 5);
      g_assert_cmpuint (rows[i * 2 + 1], <, 4);
    }

  g_clear_pointer (&rows, g_free);
  rows = cdl_sampling_draw (pools, 2, 21, &rng, &error);
  g_assert_null (rows);
  g_assert_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TOO_MANY);
  g_assert_nonnull (strstr (error->message, "only 20"));
}

static void
test_permutation_sparse (void)
{
  g_auto(GStrv) a = make_items ("a", 300);
  g_auto(GStrv) b = make_items ("b", 300);
  CdlSamplePool pools[] = {
    { "a", CDL_POOL_MODE_PERMUTATION, (const char * const *) a, 300 },
    { "b", CDL_POOL_MODE_PERMUTATION, (const char * const *) b, 300 },
  };
  g_autoptr(GError) error = NULL;
  g_autofree guint32 *rows = NULL;
  CdlRng rng;

  /* 40,000 of 90,000: rejection with many collisions along the way. */
  cdl_rng_init (&rng, 11, 0);
  rows = cdl_sampling_draw (pools, 2, 40000, &rng, &error);
  g_assert_no_error (error);
  g_assert_true (rows_distinct (rows, 40000, 2));
}

static void
test_huge_product_space (void)
{
  g_auto(GStrv) items = make_items ("x", 100000);
  CdlSamplePool pools[8];
  g_autoptr(GError) error = NULL;
  g_autofree guint32 *rows = NULL;
  gint64 start;
  CdlRng rng;

  /* 100,000^8 = 10^40 combinations: far beyond 64 bits, never listed. */
  for (guint p = 0; p < 8; p++)
    pools[p] = (CdlSamplePool) { "x", CDL_POOL_MODE_PERMUTATION,
                                 (const char * const *) items, 100000 };

  g_assert_cmpuint (cdl_sampling_capacity (pools, 8), ==, G_MAXUINT64);

  start = g_get_monotonic_time ();
  cdl_rng_init (&rng, 8, 0);
  rows = cdl_sampling_draw (pools, 8, 50000, &rng, &error);
  g_assert_no_error (error);
  g_assert_true (rows_distinct (rows, 50000, 8));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

static void
test_mixed_modes (void)
{
  g_auto(GStrv) a = make_items ("a", 4);
  g_auto(GStrv) b = make_items ("b", 2);
  CdlSamplePool pools[] = {
    { "a", CDL_POOL_MODE_NO_REPLACEMENT, (const char * const *) a, 4 },
    { "b", CDL_POOL_MODE_PERMUTATION, (const char * const *) b, 2 },
  };
  g_autoptr(GError) error = NULL;
  g_autofree guint32 *rows = NULL;
  CdlRng rng;

  /* The no_replacement pool bounds K even though 8 combinations exist. */
  g_assert_cmpuint (cdl_sampling_capacity (pools, 2), ==, 4);

  cdl_rng_init (&rng, 2, 0);
  rows = cdl_sampling_draw (pools, 2, 4, &rng, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 4; i++)
    for (guint j = 0; j < i; j++)
      g_assert_cmpuint (rows[i * 2], !=, rows[j * 2]);
}

static void
test_empty_pool_and_zero_count (void)
{
  const char *none[] = { NULL };
  CdlSamplePool pools[] = { { "empty", CDL_POOL_MODE_PERMUTATION, none, 0 } };
  g_autoptr(GError) error = NULL;
  CdlRng rng;

  cdl_rng_init (&rng, 0, 0);
  g_assert_null (cdl_sampling_draw (pools, 1, 1, &rng, &error));
  g_assert_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TOO_MANY);
  g_assert_nonnull (strstr (error->message, "empty"));
  g_clear_error (&error);

  g_assert_null (cdl_sampling_draw (NULL, 0, 0, &rng, &error));
  g_assert_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_INVALID);
}

static void
test_determinism (void)
{
  g_auto(GStrv) a = make_items ("subject ", 50);
  g_auto(GStrv) b = make_items ("style ", 40);
  CdlSamplePool pools[] = {
    { "subject", CDL_POOL_MODE_PERMUTATION, (const char * const *) a, 50 },
    { "style", CDL_POOL_MODE_PERMUTATION, (const char * const *) b, 40 },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlPromptSet) one = NULL;
  g_autoptr(CdlPromptSet) two = NULL;
  g_autoptr(CdlPromptSet) other = NULL;
  g_autoptr(CdlPromptSet) more_seeds = NULL;
  const char *tmpl = "{subject}, in {style}";
  gboolean differs = FALSE;

  one = cdl_sampling_generate (tmpl, pools, 2, 1000, 4, 777, &error);
  g_assert_no_error (error);
  two = cdl_sampling_generate (tmpl, pools, 2, 1000, 4, 777, &error);
  g_assert_no_error (error);
  other = cdl_sampling_generate (tmpl, pools, 2, 1000, 4, 778, &error);
  g_assert_no_error (error);
  more_seeds = cdl_sampling_generate (tmpl, pools, 2, 1000, 5, 777, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < 1000; i++)
    {
      g_assert_cmpstr (one->texts[i], ==, two->texts[i]);
      g_assert_cmpstr (one->variables[i], ==, two->variables[i]);
      /* Seeds come from their own stream: N does not move the prompts. */
      g_assert_cmpstr (one->texts[i], ==, more_seeds->texts[i]);
      differs |= strcmp (one->texts[i], other->texts[i]) != 0;
    }
  g_assert_cmpmem (one->seeds, 4000 * sizeof (guint64), two->seeds, 4000 * sizeof (guint64));
  g_assert_true (differs);
  g_assert_cmpuint (one->seeds[0], !=, other->seeds[0]);
}

static void
test_seeds_distinct_and_bounded (void)
{
  guint64 seeds[5000];
  g_autoptr(GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
  CdlRng rng;

  cdl_rng_init (&rng, 4, 1);
  cdl_sampling_seeds (&rng, G_N_ELEMENTS (seeds), seeds);
  for (guint i = 0; i < G_N_ELEMENTS (seeds); i++)
    {
      g_assert_cmpuint (seeds[i], <, CDL_SEED_LIMIT);
      g_assert_true (g_hash_table_add (seen, &seeds[i]));
    }

  cdl_rng_init (&rng, 4, 1);
  cdl_sampling_seeds (&rng, 8, seeds);
  for (guint i = 0; i < 8; i++)
    for (guint j = 0; j < i; j++)
      g_assert_cmpuint (seeds[i], !=, seeds[j]);

  for (guint i = 0; i < 100; i++)
    g_assert_cmpuint (cdl_sampling_random_seed (), <, CDL_SEED_LIMIT);
}

static void
test_template_slots_and_escapes (void)
{
  const char *names[] = { "color", "time" };
  const char *values[] = { "red", "dusk" };
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlTemplate) tmpl = NULL;
  g_autofree char *text = NULL;

  tmpl = cdl_template_parse ("{{literal}} a {color} sky at {time}, {color}!}}", names, 2, &error);
  g_assert_no_error (error);
  g_assert_true (cdl_template_has_slots (tmpl));
  text = cdl_template_expand (tmpl, values);
  g_assert_cmpstr (text, ==, "{literal} a red sky at dusk, red!}");
}

static void
test_template_errors (void)
{
  const char *names[] = { "color", "time" };
  g_autoptr(GError) error = NULL;

  g_assert_null (cdl_template_parse ("a {colour} sky at {time}", names, 2, &error));
  g_assert_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_UNKNOWN_SLOT);
  g_assert_nonnull (strstr (error->message, "{colour}"));
  g_assert_nonnull (strstr (error->message, "color, time"));
  g_clear_error (&error);

  g_assert_null (cdl_template_parse ("a {color sky", names, 2, &error));
  g_assert_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TEMPLATE);
  g_clear_error (&error);

  g_assert_null (cdl_template_parse ("a color} sky", names, 2, &error));
  g_assert_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TEMPLATE);
  g_assert_nonnull (strstr (error->message, "}}"));
  g_clear_error (&error);

  /* With slots, every pool must have one. */
  g_assert_null (cdl_template_parse ("a {color} sky", names, 2, &error));
  g_assert_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TEMPLATE);
  g_assert_nonnull (strstr (error->message, "{time}"));
}

static void
test_template_without_slots (void)
{
  const char *names[] = { "subject", "style" };
  const char *values[] = { "a cat", "oil painting" };
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlTemplate) tmpl = NULL;
  g_autoptr(CdlTemplate) alone = NULL;
  g_autofree char *text = NULL;
  g_autofree char *plain = NULL;

  /* Items are the whole prompt, joined in pool order. */
  tmpl = cdl_template_parse ("masterpiece", names, 2, &error);
  g_assert_no_error (error);
  g_assert_false (cdl_template_has_slots (tmpl));
  text = cdl_template_expand (tmpl, values);
  g_assert_cmpstr (text, ==, "a cat, oil painting");

  /* No pools: the template alone, braces unescaped. */
  alone = cdl_template_parse ("a {{fixed}} prompt", NULL, 0, &error);
  g_assert_no_error (error);
  plain = cdl_template_expand (alone, NULL);
  g_assert_cmpstr (plain, ==, "a {fixed} prompt");
}

static void
test_variables_are_json (void)
{
  const char *items[] = { "say \"hi\"\\\n", NULL };
  CdlSamplePool pools[] = { { "q", CDL_POOL_MODE_NO_REPLACEMENT, items, 1 } };
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlPromptSet) set = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();

  set = cdl_sampling_generate ("{q}", pools, 1, 1, 1, 0, &error);
  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_data (parser, set->variables[0], -1, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)), "q"),
                   ==, items[0]);
}

static void
test_pool_input (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(CdlPoolInput) input = NULL;

  body = json_from_string ("{\"name\": \"light\", \"mode\": \"permutation\","
                           " \"items\": [\" soft \", \"soft\", \"\", \"  \", \"hard\"]}", &error);
  g_assert_no_error (error);
  input = cdl_pool_input_from_json (body, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (input->items), ==, 2);
  g_assert_cmpstr (input->items[0], ==, "soft");
  g_assert_cmpstr (input->items[1], ==, "hard");
  g_assert_cmpint (input->mode, ==, CDL_POOL_MODE_PERMUTATION);

  g_assert_true (cdl_pool_name_is_valid ("_a1"));
  g_assert_false (cdl_pool_name_is_valid ("1a"));
  g_assert_false (cdl_pool_name_is_valid ("a-b"));
  g_assert_false (cdl_pool_name_is_valid (""));
  {
    g_autofree char *long_name = g_strnfill (65, 'a');
    g_assert_false (cdl_pool_name_is_valid (long_name));
    long_name[64] = '\0';
    g_assert_true (cdl_pool_name_is_valid (long_name));
  }
}

typedef struct
{
  const char *json;
  gboolean    for_create;
  const char *field;
} BadInput;

static void
test_pool_input_errors (void)
{
  static const BadInput cases[] = {
    { "[]", TRUE, "body" },
    { "{\"mode\": \"permutation\", \"items\": [\"a\"]}", TRUE, "name" },
    { "{\"name\": \"9x\", \"mode\": \"permutation\", \"items\": [\"a\"]}", TRUE, "name" },
    { "{\"name\": \"x\", \"mode\": \"shuffle\", \"items\": [\"a\"]}", TRUE, "mode" },
    { "{\"name\": \"x\", \"mode\": \"permutation\", \"items\": [\"\", \" \"]}", TRUE, "items" },
    { "{\"name\": \"x\", \"mode\": \"permutation\", \"items\": [1]}", TRUE, "items[0]" },
    { "{\"name\": \"x\", \"mode\": \"permutation\", \"items\": \"a\"}", TRUE, "items" },
    { "{\"name\": \"x\", \"mode\": \"permutation\", \"items\": [\"a\"], \"x\": 1}", TRUE, "x is not" },
    { "{\"name\": \"y\"}", FALSE, "name cannot change" },
    { "{}", FALSE, "Nothing to update" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) body = json_from_string (cases[i].json, NULL);
      g_autoptr(CdlPoolInput) input = cdl_pool_input_from_json (body, cases[i].for_create, &error);

      g_assert_null (input);
      g_assert_error (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID);
      if (strstr (error->message, cases[i].field) == NULL)
        g_error ("%s: expected \"%s\" in: %s", cases[i].json, cases[i].field, error->message);
    }
}

static void
test_task_input_errors (void)
{
  static const BadInput cases[] = {
    { "{\"variable_pool_ids\": [], \"target_prompts\": 1, \"seeds_per_prompt\": 1}", TRUE,
      "workflow_id" },
    { "{\"workflow_id\": \"nope\", \"variable_pool_ids\": [], \"target_prompts\": 1,"
      " \"seeds_per_prompt\": 1}", TRUE, "workflow_id" },
    { "{\"workflow_id\": \"2c3f0b8e-0000-4000-8000-000000000000\", \"variable_pool_ids\": \"a\","
      " \"target_prompts\": 1, \"seeds_per_prompt\": 1}", TRUE, "variable_pool_ids" },
    { "{\"workflow_id\": \"2c3f0b8e-0000-4000-8000-000000000000\", \"variable_pool_ids\": [],"
      " \"target_prompts\": \"10\", \"seeds_per_prompt\": 1}", TRUE, "target_prompts" },
    { "{\"workflow_id\": \"2c3f0b8e-0000-4000-8000-000000000000\", \"variable_pool_ids\": [],"
      " \"target_prompts\": 0, \"seeds_per_prompt\": 1}", TRUE, "target_prompts" },
    { "{\"workflow_id\": \"2c3f0b8e-0000-4000-8000-000000000000\", \"variable_pool_ids\": [],"
      " \"target_prompts\": 1, \"seeds_per_prompt\": 0}", TRUE, "seeds_per_prompt" },
    { "{\"workflow_id\": \"2c3f0b8e-0000-4000-8000-000000000000\", \"variable_pool_ids\": [],"
      " \"target_prompts\": 1, \"seeds_per_prompt\": 1.5}", TRUE, "seeds_per_prompt" },
    { "{\"workflow_id\": \"2c3f0b8e-0000-4000-8000-000000000000\", \"variable_pool_ids\": [\"a\", \"a\"],"
      " \"target_prompts\": 1, \"seeds_per_prompt\": 1}", TRUE, "variable_pool_ids" },
    { "{\"rng_seed\": 9007199254740992}", FALSE, "rng_seed" },
    { "{\"rng_seed\": -1}", FALSE, "rng_seed" },
    { "{\"colour\": 1}", FALSE, "colour is not" },
    { "{}", FALSE, "Nothing to update" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) body = json_from_string (cases[i].json, NULL);
      g_autoptr(CdlTaskInput) input = cdl_task_input_from_json (body, cases[i].for_create, &error);

      g_assert_null (input);
      g_assert_error (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID);
      if (strstr (error->message, cases[i].field) == NULL)
        g_error ("%s: expected \"%s\" in: %s", cases[i].json, cases[i].field, error->message);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sampling/rng/splitmix-seeding", test_splitmix_seeding);
  g_test_add_func ("/sampling/rng/known-answers", test_known_answers);
  g_test_add_func ("/sampling/rng/below-unbiased", test_below_unbiased);
  g_test_add_func ("/sampling/rng/shuffle", test_shuffle_is_permutation);
  g_test_add_func ("/sampling/draw/no-replacement", test_no_replacement);
  g_test_add_func ("/sampling/draw/permutation-full-space", test_permutation_full_space);
  g_test_add_func ("/sampling/draw/permutation-sparse", test_permutation_sparse);
  g_test_add_func ("/sampling/draw/huge-product-space", test_huge_product_space);
  g_test_add_func ("/sampling/draw/mixed-modes", test_mixed_modes);
  g_test_add_func ("/sampling/draw/empty-pool-and-zero-count", test_empty_pool_and_zero_count);
  g_test_add_func ("/sampling/generate/known-answer", test_generate_known_answer);
  g_test_add_func ("/sampling/generate/determinism", test_determinism);
  g_test_add_func ("/sampling/generate/variables-are-json", test_variables_are_json);
  g_test_add_func ("/sampling/seeds/distinct-and-bounded", test_seeds_distinct_and_bounded);
  g_test_add_func ("/sampling/template/slots-and-escapes", test_template_slots_and_escapes);
  g_test_add_func ("/sampling/template/errors", test_template_errors);
  g_test_add_func ("/sampling/template/without-slots", test_template_without_slots);
  g_test_add_func ("/sampling/input/pool", test_pool_input);
  g_test_add_func ("/sampling/input/pool-errors", test_pool_input_errors);
  g_test_add_func ("/sampling/input/task-errors", test_task_input_errors);

  return g_test_run ();
}
